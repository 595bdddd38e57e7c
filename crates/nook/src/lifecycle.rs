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
            let signal = a
                .signal
                .as_deref()
                .map(crate::containers::signal_arg)
                .transpose()?;
            each(&a.containers, |n| {
                let t = crate::containers::stop_time(engine, n, a.time)?;
                engine
                    .restart_container(n, t, signal, &monitor_of(engine))
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

/// `start`: each container started detached; with `-a` or `-i` (one
/// container) its output copied here until it exits, and its exit code
/// returned; with `-i` this process's input goes to it (and the detach
/// keys, with a terminal, leave it running: 0).
fn start(engine: &Engine, a: cli::Start) -> Result<i32> {
    if !a.attach && !a.interactive {
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
    let keys = crate::terminal::DetachKeys::parse(a.session.detach_keys.as_deref())?;
    let c = engine.container(&a.containers[0])?;
    let id = c.record.id.clone();
    // what the log holds already is not this run's output
    let mut before = 0;
    engine.logs(&id, None, false, &mut |_| before += 1)?;
    let started = match engine.start_container(&id, &monitor_of(engine)) {
        Ok(c) => c,
        Err(e) => return report(e),
    };
    follow_terminal(engine, &started.record, a.session.sig_proxy)?;
    let _input = match a.interactive {
        true => Some(crate::containers::send_input(engine, &id, &keys)?),
        false => None,
    };
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

/// `start -a`: the size of a started container's terminal follows this
/// one's; without a terminal, `--sig-proxy` forwards signals to it.
fn follow_terminal(engine: &Engine, rec: &nook_engine::ContainerRecord, sig_proxy: bool) -> Result {
    use crate::terminal::{handle_signals, size, SignalPlan};
    let (tty, _) = nook_engine::container::detach::terminal(rec);
    let ctl = engine.control_socket(&rec.id);
    if let Some((rows, cols)) = size().filter(|_| tty) {
        // the monitor binds it once exec'd: a moment's retry
        for _ in 0..100 {
            match nook_monitor::attach::send_resize(&ctl, rows, cols) {
                Ok(()) => break,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
    handle_signals(SignalPlan {
        resize: (tty && size().is_some()).then_some(ctl),
        proxy_to: rec.pid.filter(|_| sig_proxy && !tty),
        ..Default::default()
    })
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
pub(crate) fn confirm(question: &str) -> Result<bool> {
    eprint!("{question}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y"))
}

/// `container prune`.
pub fn container_prune(engine: &Engine, a: cli::ContainerPrune) -> Result {
    let filter = prune_filter(&a.filter, true)?;
    if !a.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(());
    }
    let r = engine.prune_containers(&filter)?;
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
    let filter = prune_filter(&a.filter, true)?;
    if !a.force {
        let images = match a.all {
            true => "all images without at least one container associated to them",
            false => "all dangling images",
        };
        let volumes = match a.volumes {
            true => "  - all anonymous volumes not used by at least one container\n",
            false => "",
        };
        let q = format!(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n{volumes}  - {images}\n"
        );
        if !confirm(&q)? {
            return Ok(());
        }
    }
    let c = engine.prune_containers(&filter)?;
    if !c.removed.is_empty() {
        println!("Deleted Containers:");
        c.removed.iter().for_each(|id| println!("{id}"));
        println!();
    }
    let n = engine.prune_networks()?;
    if !n.is_empty() {
        println!("Deleted Networks:");
        n.iter().for_each(|name| println!("{name}"));
        println!();
    }
    let i = engine.prune_images(a.all, &filter)?;
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
    let mut total = c.reclaimed + i.reclaimed;
    if a.volumes {
        let (removed, freed) = engine.prune_volumes(false, &filter)?;
        if !removed.is_empty() {
            println!("Deleted Volumes:");
            removed.iter().for_each(|v| println!("{v}"));
            println!();
        }
        total += freed;
    }
    println!("Total reclaimed space: {}", render::size(total));
    Ok(())
}

/// The `--filter`s of a prune (`until` only where `until` is allowed),
/// with Docker's messages.
pub(crate) fn prune_filter(list: &[String], until: bool) -> Result<nook_engine::PruneFilter> {
    let mut f = nook_engine::PruneFilter::default();
    for item in list {
        match item
            .split_once('=')
            .map(|(k, v)| (k.trim_end_matches('!'), v))
        {
            Some(("until", v)) if until && !item.starts_with("until!") => {
                let now = jiff::Timestamp::now();
                let t = crate::listing::parse_time("until", v, now)?;
                f.until = Some(i64::try_from(t).unwrap_or(i64::MAX));
            }
            Some(("label", _)) => f.add_label(item)?,
            _ => return Err(Failure(format!("invalid filter '{item}'"))),
        }
    }
    Ok(f)
}
