//! The container commands: `run`, `stop`, `kill`, `rm`, `exec` (`ps`,
//! `logs`, `inspect` are in [`crate::listing`]), with Docker's output and exit codes (125 an engine
//! error, 126 a program that cannot be executed, 127 one not found, the
//! container's own code otherwise, 128+N when signal N killed it).

use crate::cli;
use crate::render;
use crate::Failure;
use nook_engine::container::detach::MonitorCommands;
use nook_engine::{Container, Engine, Error, ExecOptions, LiveStatus, RunOptions};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::time::Duration;

type Result<T = ()> = std::result::Result<T, Failure>;

/// The monitor program: `nook-monitor` beside this `nook`.
pub(crate) fn monitor_program() -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.with_file_name("nook-monitor"))
}

/// What a detached container's monitor runs: nook-monitor beside this
/// program, this program's `container cleanup ID` (once the container
/// has exited) and `healthcheck run ID` (at the health interval), on this
/// store.
pub(crate) fn monitor_commands(engine: &Engine, id: &str) -> Result<MonitorCommands> {
    let mut nook = vec![std::env::current_exe()?.into_os_string(), "--root".into()];
    nook.push(engine.root().into());
    nook.push("--cgroup-parent".into());
    nook.push(engine.cgroup_parent().into());
    let with = |args: [&str; 3]| {
        let mut c = nook.clone();
        c.extend(args.map(Into::into));
        c
    };
    Ok(MonitorCommands {
        monitor: monitor_program()?,
        exit: with(["container", "cleanup", id]),
        health: with(["healthcheck", "run", id]),
        wait_attach: false,
    })
}

/// `attach`: this process's stdin to the container's input, its output
/// to stdout, until it exits (its exit code) or ctrl-p ctrl-q is typed on
/// a terminal (0, the container left running).
pub fn attach(engine: &Engine, a: cli::Attach) -> Result<i32> {
    let c = engine.container(&a.container)?;
    if c.status != LiveStatus::Running {
        return Err(Failure(
            "You cannot attach to a stopped container, start it first".into(),
        ));
    }
    attach_to(engine, &c.record.id)
}

/// Attach to container `id` (running, or its monitor waiting for this
/// first client: `run -t`).
fn attach_to(engine: &Engine, id: &str) -> Result<i32> {
    use std::io::{IsTerminal, Read, Write};
    let id = id.to_string();
    // the monitor listens once it has been exec'd, just after `run -d`
    // returned: a moment's retry
    let path = engine.attach_socket(&id);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let sock = loop {
        match std::os::unix::net::UnixStream::connect(&path) {
            Ok(s) => break s,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(Failure(format!("attach {}: {e}", path.display()))),
        }
    };
    let tty = std::io::stdin().is_terminal();
    let _raw = tty.then(RawMode::enter).flatten();
    let mut to = sock.try_clone()?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let mut prev = 0u8;
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
            if tty
                && buf[..n]
                    .iter()
                    .any(|&b| std::mem::replace(&mut prev, b) == 0x10 && b == 0x11)
            {
                eprintln!("\r\nread escape sequence\r");
                let _ = to.shutdown(std::net::Shutdown::Both);
                std::process::exit(0);
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut from = &sock;
    let _ = std::io::copy(&mut from, &mut std::io::stdout().lock());
    drop(_raw);
    // the monitor closed the socket: the exit is written (or soon recorded)
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match engine.container(&id) {
            Ok(c) => match c.status {
                LiveStatus::Exited(code) => return Ok(code.unwrap_or(0)),
                _ if std::time::Instant::now() > deadline => return Ok(0),
                _ => std::thread::sleep(Duration::from_millis(10)),
            },
            Err(_) => return Ok(0), // removed (--rm)
        }
    }
}

/// The terminal in raw mode, restored on drop.
struct RawMode(nix::sys::termios::Termios);

impl RawMode {
    fn enter() -> Option<RawMode> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&stdin, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin(),
            nix::sys::termios::SetArg::TCSANOW,
            &self.0,
        );
    }
}

/// `healthcheck run ID`: 0 healthy, 1 not.
pub fn healthcheck(engine: &Engine, a: cli::Cleanup) -> Result<i32> {
    let h = engine.run_health_check(&a.id)?;
    match h.status.as_str() {
        "healthy" => Ok(0),
        status => {
            println!("{status}");
            Ok(1)
        }
    }
}

/// `container cleanup ID` (hidden; a monitor's exit command): record the
/// exit, then, when the restart policy says so, wait, start the container
/// again and become its monitor.
pub fn cleanup(engine: Engine, a: cli::Cleanup) -> Result {
    let Some(delay) = engine.cleanup_container(&a.id)? else {
        return Ok(());
    };
    std::thread::sleep(delay);
    let Some(launched) = engine.relaunch_for_restart(&a.id)? else {
        return Ok(());
    };
    let e = engine.exec_monitor(&a.id, &launched, &monitor_commands(&engine, &a.id)?);
    // no monitor: the container must not run unwatched (its exit is
    // then seen as one nobody recorded)
    let _ = launched
        .child
        .signal(nix::sys::signal::Signal::SIGKILL as i32);
    let _ = launched.child.wait();
    Err(Failure(format!("cannot run the monitor: {e}")))
}

/// An engine error as `run`/`exec` report it: the line, and the code.
pub(crate) fn report(e: Error) -> Result<i32> {
    match e {
        Error::CannotRun { code, message } => {
            eprintln!("Error: {}", message.replace('\n', " "));
            Ok(code)
        }
        e => Err(e.into()),
    }
}

/// `-e K` takes this process's value of K (and is dropped when unset).
fn expand_env(env: &[String]) -> Vec<String> {
    env.iter()
        .filter_map(|e| match e.contains('=') {
            true => Some(e.clone()),
            false => std::env::var(e).ok().map(|v| format!("{e}={v}")),
        })
        .collect()
}

/// Create the container of `opts`, pulling its image as `--pull` says
/// (`always`, `missing`, `never`) with Docker's messages.
fn create_pulling(
    engine: &Engine,
    opts: &RunOptions,
    policy: &str,
    quiet: bool,
    platform: Option<&str>,
) -> Result<nook_engine::ContainerRecord> {
    let pull = || -> Result {
        let mut o = nook_engine::PullOptions::default();
        if let Some(p) = platform {
            o.platform = nook_image::Platform::parse(p)?;
        }
        match quiet {
            true => engine.pull(&opts.image, &o, &nook_engine::NoProgress)?,
            false => {
                let mode = match std::io::stderr().is_terminal() {
                    true => crate::progress::Mode::Bars,
                    false => crate::progress::Mode::Lines,
                };
                engine.pull(&opts.image, &o, &crate::progress::Display::new(mode))?
            }
        };
        Ok(())
    };
    match policy {
        "always" => pull()?,
        "missing" | "never" => {}
        other => {
            return Err(Failure(format!(
                "invalid pull option: {other:?}: use always, missing or never"
            )))
        }
    }
    match engine.create_container(opts) {
        Err(Error::NoSuchImage(_)) if policy == "missing" => {
            if !quiet {
                eprintln!("Unable to find image '{}' locally", opts.image);
            }
            pull()?;
            Ok(engine.create_container(opts)?)
        }
        r => Ok(r?),
    }
}

/// `--cidfile`: refused when it exists (Docker's rule: another container
/// may own it), written once the container exists.
struct CidFile(std::fs::File, std::path::PathBuf);

impl CidFile {
    fn claim(path: &std::path::Path) -> Result<CidFile> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Failure(format!(
                    "container ID file found, make sure the other container isn't running or delete {}",
                    path.display()
                )),
                _ => Failure(format!("create the container ID file {}: {e}", path.display())),
            })?;
        Ok(CidFile(f, path.to_path_buf()))
    }

    fn write(mut self, id: &str) -> Result {
        use std::io::Write;
        self.0.write_all(id.as_bytes()).map_err(|e| {
            Failure(format!(
                "write the container ID file {}: {e}",
                self.1.display()
            ))
        })?;
        self.1 = std::path::PathBuf::new();
        Ok(())
    }
}

impl Drop for CidFile {
    /// A container that was not made leaves no ID file.
    fn drop(&mut self) {
        if !self.1.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.1);
        }
    }
}

/// `run`.
pub fn run(engine: &Engine, a: cli::Run) -> Result<i32> {
    let flags = (*a.flags).parse()?;
    let opts = RunOptions {
        image: a.image.clone(),
        name: a.name,
        env: flags.env.into_iter().chain(expand_env(&a.env)).collect(),
        workdir: a.workdir,
        user: a.user,
        entrypoint: a.entrypoint,
        cmd: a.cmd,
        hostname: a.hostname,
        restart: a.restart,
        log_driver: a.log_driver,
        log_opts: a.log_opts,
        health_cmd: a.health_cmd,
        health_interval: a.health_interval,
        health_retries: a.health_retries,
        interactive: a.interactive,
        tty: a.tty,
        // an attached terminal is removed by this process, once it has
        // the exit code
        auto_remove: a.rm && (a.detach || !a.tty),
        security: flags.security,
        lifecycle: flags.lifecycle,
        resources: crate::resources::for_run(&a.resources)?,
        volumes: a.volumes,
        mounts: a.mounts,
        tmpfs: a.tmpfs,
        namespaces: a.isolation.namespaces(),
        devices: a.isolation.devices.clone(),
        device_cgroup_rules: a.isolation.device_cgroup_rules.clone(),
        volumes_from: a.isolation.volumes_from.clone(),
        etc: a.network.etc(),
        ports: a.ports.parse()?,
    };
    if !a.create_only {
        engine.check_ports_free(&opts.ports)?;
    }
    let cidfile = a.cidfile.as_deref().map(CidFile::claim).transpose()?;
    let rec = create_pulling(engine, &opts, &a.pull, a.quiet, a.platform.as_deref())?;
    if let Some(f) = cidfile {
        f.write(&rec.id)?;
    }
    if a.create_only {
        println!("{}", rec.id);
        return Ok(0);
    }
    if a.detach || a.tty {
        let cmds = MonitorCommands {
            wait_attach: !a.detach,
            ..monitor_commands(engine, &rec.id)?
        };
        let (root, cgroup_parent) = (
            engine.root().to_path_buf(),
            engine.cgroup_parent().to_string(),
        );
        if let Err(e) = engine.start_detached(&rec.id, &cmds) {
            return report(e);
        }
        if a.detach {
            println!("{}", rec.id);
            return Ok(0);
        }
        // -t: a terminal served by the monitor, attached to here
        let options = nook_engine::EngineOptions {
            cgroup_parent: Some(cgroup_parent),
            ..Default::default()
        };
        let engine = Engine::open_with(root, options)?;
        let code = attach_to(&engine, &rec.id)?;
        if a.rm {
            engine.remove_container(&rec.id, true)?;
        }
        return Ok(code);
    }
    let launched = match a.interactive {
        true => {
            let stdin = std::io::stdin().as_fd().try_clone_to_owned()?;
            engine.launch_attached(&rec.id, stdin)
        }
        false => engine.launch(&rec.id),
    };
    let launched = match launched {
        Ok(l) => l,
        Err(e) => return report(e),
    };
    let (out, err) = (std::io::stdout(), std::io::stderr());
    Ok(engine.watch(&rec.id, launched, Some((out.as_fd(), err.as_fd())))?)
}

/// `exec`.
pub fn exec(engine: &Engine, a: cli::Exec) -> Result<i32> {
    let opts = ExecOptions {
        cmd: a.cmd,
        env: expand_env(&a.env),
        workdir: a.workdir,
        user: a.user,
        privileged: a.privileged,
    };
    match engine.exec_container(&a.container, &opts) {
        Ok(code) => Ok(code),
        Err(e) => report(e),
    }
}

/// Docker's STATUS column, with the health of a running container that
/// has a health check.
pub(crate) fn status_text(engine: &Engine, c: &Container, now: i64) -> String {
    let text = plain_status(c, now);
    if c.status != LiveStatus::Running {
        return text;
    }
    match engine.health_of(&c.record).map(|h| h.status) {
        Some(s) if s == "starting" => format!("{text} (health: starting)"),
        Some(s) => format!("{text} ({s})"),
        None => text,
    }
}

/// Docker's STATUS column without the health.
fn plain_status(c: &Container, now: i64) -> String {
    let secs = |t: Option<i64>| t.map(|t| t / 1_000_000_000);
    match c.status {
        LiveStatus::Created => "Created".into(),
        LiveStatus::Running => {
            let since = secs(c.record.started).unwrap_or(now);
            format!("Up {}", render::duration(now - since))
        }
        LiveStatus::Restarting => {
            let code = c.record.exit_code.unwrap_or(0);
            format!(
                "Restarting ({code}) {}",
                render::age(secs(c.record.finished), now)
            )
        }
        LiveStatus::Exited(code) => {
            let code = code.map_or("unknown".to_string(), |c| c.to_string());
            match secs(c.record.finished) {
                Some(f) => format!("Exited ({code}) {}", render::age(Some(f), now)),
                None => format!("Exited ({code})"),
            }
        }
    }
}

/// Docker's name of a state (`ps`'s State, `inspect`'s State.Status).
fn state_name(s: LiveStatus) -> &'static str {
    match s {
        LiveStatus::Created => "created",
        LiveStatus::Running => "running",
        LiveStatus::Exited(_) => "exited",
        LiveStatus::Restarting => "restarting",
    }
}

/// The command a container runs, as `ps` shows it.  Only `process.args`
/// is decoded: the rest of the spec (its seccomp profile alone is some
/// 6 KiB) is skipped, which keeps `ps` of many containers fast.
pub(crate) fn command_of(c: &Container) -> String {
    #[derive(serde::Deserialize)]
    struct Spec {
        process: Option<Process>,
    }
    #[derive(serde::Deserialize)]
    struct Process {
        #[serde(default)]
        args: Vec<String>,
    }
    serde_json::from_str::<Spec>(&c.record.config)
        .ok()
        .and_then(|s| s.process)
        .map(|p| p.args.join(" "))
        .unwrap_or_default()
}

/// The fields of one `ps` row, as `--format` sees them.
pub(crate) fn ps_fields(engine: &Engine, c: &Container, full: bool, now: i64) -> Value {
    let id = match full {
        true => c.record.id.clone(),
        false => c.record.short_id().to_string(),
    };
    let mut cmd = command_of(c);
    if !full && cmd.chars().count() > 20 {
        cmd = cmd.chars().take(19).collect::<String>() + "…";
    }
    json!({
        "ID": id,
        "Image": c.record.image_name,
        "Command": format!("\"{cmd}\""),
        "CreatedAt": render::date(c.record.created / 1_000_000_000, &jiff::tz::TimeZone::system()),
        "RunningFor": render::age(Some(c.record.created / 1_000_000_000), now),
        "Status": status_text(engine, c, now),
        "State": state_name(c.status),
        "Ports": "",
        "Names": c.record.name,
    })
}

/// Run `f` on each container named, printing each name given as done;
/// a failure is reported as it happens and the others are still tried.
pub(crate) fn each(names: &[String], mut f: impl FnMut(&str) -> nook_engine::Result<()>) -> Result {
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error: {}", e.to_string().replace('\n', " "));
                failed = true;
            }
        }
    }
    match failed {
        true => Err(Failure(String::new())),
        false => Ok(()),
    }
}

/// `stop`.
pub fn stop(engine: &Engine, a: cli::Stop) -> Result {
    each(&a.containers, |n| {
        let time = match a.time {
            Some(t) => Duration::from_secs(nook_engine::container::lifecycle::timeout_secs(t)),
            None => engine.container(n)?.stop_timeout(),
        };
        engine.stop_container(n, time).map(drop)
    })
}

/// `kill`.
pub fn kill(engine: &Engine, a: cli::Kill) -> Result {
    let sig = nook_sys_signal(&a.signal)?;
    each(&a.containers, |n| engine.kill_container(n, sig).map(drop))
}

/// A signal by name (`TERM`, `SIGTERM`) or number.
fn nook_sys_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    nix::sys::signal::Signal::iterator()
        .find(|sig| sig.as_str().strip_prefix("SIG") == Some(name))
        .map(|sig| sig as i32)
        .ok_or_else(|| Failure(format!("invalid signal: {s}")))
}

/// `rm`.
pub fn rm(engine: &Engine, a: cli::Rm) -> Result {
    each(&a.containers, |n| {
        let volumes = engine.container(n)?.record.id;
        let volumes = engine.container_volumes(&volumes)?;
        engine.remove_container(n, a.force)?;
        match a.volumes {
            true => engine.remove_anonymous_volumes(&volumes),
            false => Ok(()),
        }
    })
}

/// Unix nanoseconds as RFC 3339 (Docker's zero time when absent).
pub(crate) fn time(t: Option<i64>) -> String {
    t.and_then(|t| jiff::Timestamp::from_nanosecond(t as i128).ok())
        .map_or("0001-01-01T00:00:00Z".into(), |t| t.to_string())
}
