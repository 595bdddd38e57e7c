//! The container commands after `run`: `create`, `start [-a]`, `restart`,
//! `wait`, `pause`, `unpause`, `rename`, `top`, `port`, `container prune`,
//! `system prune`, and `nook container <cmd>` (the same commands under
//! one name), with Docker's output and exit codes.

use crate::cli::{self, Command, ContainerCommand};
use crate::containers::{each, report};
use crate::render;
use crate::Failure;
use nook_engine::container::monitor::{LogEntry, Stream};
use nook_engine::Engine;
use std::io::Write;
use std::time::Duration;

type Result<T = ()> = std::result::Result<T, Failure>;

/// The top-level command a `nook container <cmd>` is; `Err` for `prune`,
/// which only exists under `container`.
pub fn command_of(c: ContainerCommand) -> std::result::Result<Command, cli::ContainerPrune> {
    Ok(match c {
        ContainerCommand::Ls(a) => Command::Ps(a),
        ContainerCommand::Create(a) => Command::Create(a),
        ContainerCommand::Run(a) => Command::Run(a),
        ContainerCommand::Start(a) => Command::Start(a),
        ContainerCommand::Stop(a) => Command::Stop(a),
        ContainerCommand::Restart(a) => Command::Restart(a),
        ContainerCommand::Kill(a) => Command::Kill(a),
        ContainerCommand::Rm(a) => Command::Rm(a),
        ContainerCommand::Logs(a) => Command::Logs(a),
        ContainerCommand::Inspect(mut a) => {
            a.kind = Some("container".into());
            Command::Inspect(a)
        }
        ContainerCommand::Exec(a) => Command::Exec(a),
        ContainerCommand::Wait(a) => Command::Wait(a),
        ContainerCommand::Pause(a) => Command::Pause(a),
        ContainerCommand::Unpause(a) => Command::Unpause(a),
        ContainerCommand::Rename(a) => Command::Rename(a),
        ContainerCommand::Top(a) => Command::Top(a),
        ContainerCommand::Port(a) => Command::Port(a),
        ContainerCommand::Stats(a) => Command::Stats(a),
        ContainerCommand::Update(a) => Command::Update(a),
        ContainerCommand::Prune(a) => return Err(a),
        ContainerCommand::Cleanup(_) => unreachable!("commands::run runs cleanup"),
    })
}

/// What the monitor of a container started here runs (nook-monitor
/// beside this program, its exit and health commands).
fn monitor_of(
    engine: &Engine,
) -> impl Fn(&str) -> nook_engine::Result<nook_engine::container::detach::MonitorCommands> + '_ {
    move |id| {
        crate::containers::monitor_commands(engine, id)
            .map_err(|e| nook_engine::Error::Monitor(e.0))
    }
}

/// Run one of this module's commands; the exit status.
pub fn run(engine: &Engine, command: Command) -> Result<i32> {
    match command {
        Command::Create(mut a) => {
            a.create_only = true;
            return crate::containers::run(engine, *a);
        }
        Command::Start(a) => return start(engine, a),
        Command::Wait(a) => return wait(engine, a),
        Command::Restart(a) => {
            let t = Duration::from_secs(a.time);
            each(&a.containers, |n| {
                engine
                    .restart_container(n, t, &monitor_of(engine))
                    .map(drop)
            })?
        }
        Command::Pause(a) => each(&a.containers, |n| engine.pause_container(n).map(drop))?,
        Command::Unpause(a) => each(&a.containers, |n| engine.unpause_container(n).map(drop))?,
        Command::Rename(a) => drop(engine.rename_container(&a.container, &a.new_name)?),
        Command::Top(a) => top(engine, a)?,
        Command::Port(a) => crate::ports_flags::port(engine, a)?,
        Command::Stats(a) => crate::stats::stats(engine, a)?,
        _ => unreachable!("not a lifecycle command"),
    }
    Ok(0)
}

/// `start`: each container started detached; with `-a` (one container)
/// its output copied here until it exits, and its exit code returned.
fn start(engine: &Engine, a: cli::Start) -> Result<i32> {
    if !a.attach {
        each(&a.containers, |n| {
            engine.start_container(n, &monitor_of(engine)).map(drop)
        })?;
        return Ok(0);
    }
    if a.containers.len() > 1 {
        return Err(Failure(
            "you cannot start and attach multiple containers at once".into(),
        ));
    }
    let c = engine.container(&a.containers[0])?;
    let id = c.record.id.clone();
    // what the log holds already is not this run's output
    let mut before = 0;
    engine.logs(&id, None, false, &mut |_| before += 1)?;
    if let Err(e) = engine.start_container(&id, &monitor_of(engine)) {
        return report(e);
    }
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let mut seen = 0;
    engine.logs(&id, None, true, &mut |e: &LogEntry| {
        seen += 1;
        if seen <= before {
            return;
        }
        let w: &mut dyn Write = match e.stream {
            Stream::Stdout => &mut out,
            Stream::Stderr => &mut err,
        };
        let _ = w.write_all(e.text.as_bytes());
        let _ = w.flush();
    })?;
    Ok(engine.wait_container(&id)?)
}

/// `wait`: each container's exit code, as each exits.
fn wait(engine: &Engine, a: cli::Containers) -> Result<i32> {
    let mut failed = false;
    for n in &a.containers {
        match engine.wait_container(n) {
            Ok(code) => println!("{code}"),
            Err(e) => {
                eprintln!("Error: {}", e.to_string().replace('\n', " "));
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// `top`.
fn top(engine: &Engine, a: cli::Top) -> Result {
    let t = engine.top_container(&a.container, &a.ps_options)?;
    let mut rows = vec![t.titles];
    rows.extend(t.processes);
    write!(std::io::stdout().lock(), "{}", render::table(&rows))?;
    Ok(())
}

/// Ask `question`; whether the answer is yes.
fn confirm(question: &str) -> Result<bool> {
    eprint!("{question}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y"))
}

/// `container prune`.
pub fn container_prune(engine: &Engine, a: cli::ContainerPrune) -> Result {
    if let Some(f) = a.filter.first() {
        return Err(Failure(format!("invalid filter '{f}': not supported")));
    }
    if !a.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(());
    }
    let r = engine.prune_containers()?;
    if !r.removed.is_empty() {
        println!("Deleted Containers:");
        for id in &r.removed {
            println!("{id}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", render::size(r.reclaimed));
    Ok(())
}

/// `system prune`: stopped containers, then dangling (with `-a`, unused)
/// images.
pub fn system_prune(engine: &Engine, a: cli::SystemPrune) -> Result {
    if !a.force {
        let images = match a.all {
            true => "all images without at least one container associated to them",
            false => "all dangling images",
        };
        let q = format!("WARNING! This will remove:\n  - all stopped containers\n  - {images}\n");
        if !confirm(&q)? {
            return Ok(());
        }
    }
    let c = engine.prune_containers()?;
    if !c.removed.is_empty() {
        println!("Deleted Containers:");
        c.removed.iter().for_each(|id| println!("{id}"));
        println!();
    }
    let i = engine.prune_images(a.all)?;
    if !i.removed.is_empty() {
        println!("Deleted Images:");
        for r in &i.removed {
            match r {
                nook_engine::Removal::Untagged(n) => println!("untagged: {n}"),
                nook_engine::Removal::Deleted(d) => println!("deleted: {d}"),
            }
        }
        println!();
    }
    let total = c.reclaimed + i.reclaimed;
    println!("Total reclaimed space: {}", render::size(total));
    Ok(())
}
