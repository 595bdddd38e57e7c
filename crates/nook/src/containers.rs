//! The container commands: `run`, `stop`, `kill`, `rm`, `exec` (`ps`,
//! `logs`, `inspect` are in [`crate::listing`]), with Docker's output and exit codes (125 an engine
//! error, 126 a program that cannot be executed, 127 one not found, the
//! container's own code otherwise, 128+N when signal N killed it).

use crate::cli;
use crate::render;
use crate::terminal::{self, DetachKeys, SignalPlan, Streams};
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
    if let Some(ns) = engine.netns_path() {
        nook.push("--netns".into());
        nook.push(ns.into());
    }
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
/// to stdout, until it exits (its exit code) or the detach keys are typed
/// on its terminal (Docker's "read escape sequence" error: exit 1, the
/// container left running).
pub fn attach(engine: &Engine, a: cli::Attach) -> Result<i32> {
    let keys = DetachKeys::parse(a.session.detach_keys.as_deref())?;
    let c = engine.container(&a.container)?;
    if c.status != LiveStatus::Running {
        return Err(Failure(
            "You cannot attach to a stopped container, start it first".into(),
        ));
    }
    let session = Session {
        keys,
        stdin: !a.no_stdin,
        stdout: true,
        sig_proxy: a.session.sig_proxy,
    };
    match attach_to(engine, &c.record.id, &session)? {
        Attached::Exited(code) => Ok(code),
        Attached::Detached => {
            eprintln!("read escape sequence");
            Ok(1)
        }
    }
}

/// How an attached session goes.
pub(crate) struct Session {
    /// The detach keys (with a terminal).
    pub keys: DetachKeys,
    /// This process's stdin goes to the container.
    pub stdin: bool,
    /// Its output comes to this process's stdout.
    pub stdout: bool,
    /// Signals this process gets go to the container (without a terminal).
    pub sig_proxy: bool,
}

/// How an attached session ended.
pub(crate) enum Attached {
    /// The container exited with this code.
    Exited(i32),
    /// The detach keys were typed; it runs on.
    Detached,
}

/// Connect to the attach socket of container `id` (its monitor listens
/// once it has been exec'd, just after `run -d` returned: a moment's
/// retry).
fn connect(engine: &Engine, id: &str) -> Result<std::os::unix::net::UnixStream> {
    let path = engine.attach_socket(id);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match std::os::unix::net::UnixStream::connect(&path) {
            Ok(s) => return Ok(s),
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(Failure(format!("attach {}: {e}", path.display()))),
        }
    }
}

/// Attach to container `id` (running, or its monitor waiting for this
/// first client: `run -t`).
pub(crate) fn attach_to(engine: &Engine, id: &str, s: &Session) -> Result<Attached> {
    use std::io::IsTerminal;
    let sock = connect(engine, id)?;
    let rec = engine.container(id)?.record;
    let (tty, _) = nook_engine::container::detach::terminal(&rec);
    let ctl = engine.control_socket(id);
    let winch = tty && terminal::size().is_some();
    if let Some((rows, cols)) = terminal::size().filter(|_| tty) {
        let _ = nook_monitor::attach::send_resize(&ctl, rows, cols);
    }
    // before any thread is made (see crate::terminal)
    terminal::handle_signals(SignalPlan {
        resize: winch.then_some(ctl),
        proxy_to: rec.pid.filter(|_| s.sig_proxy && !tty),
        ..Default::default()
    })?;
    let raw = tty && s.stdin && std::io::stdin().is_terminal();
    let _raw = raw.then(RawMode::enter).flatten();
    let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if s.stdin {
        let escape = tty.then(|| s.keys.scanner());
        let (to, flag) = (sock.try_clone()?, detached.clone());
        std::thread::spawn(move || relay_input(to, escape, &flag));
    }
    let mut from = &sock;
    let _ = match s.stdout {
        true => std::io::copy(&mut from, &mut std::io::stdout().lock()),
        false => std::io::copy(&mut from, &mut std::io::sink()),
    };
    drop(_raw);
    if detached.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(Attached::Detached);
    }
    Ok(Attached::Exited(exit_code_after(
        engine,
        id,
        rec.restart_count,
    )))
}

/// This process's stdin to the attach socket `to`, scanned for the detach
/// keys with a terminal; on them, `detached` is set and the socket shut.
fn relay_input(
    mut to: std::os::unix::net::UnixStream,
    mut escape: Option<terminal::Escape>,
    detached: &std::sync::atomic::AtomicBool,
) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 1024];
    let mut out = Vec::with_capacity(buf.len());
    let mut stdin = std::io::stdin();
    while let Ok(n) = stdin.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.clear();
        let seen = match &mut escape {
            Some(e) => e.feed(&buf[..n], &mut out),
            None => {
                out.extend_from_slice(&buf[..n]);
                false
            }
        };
        if to.write_all(&out).is_err() {
            break;
        }
        if seen {
            detached.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = to.shutdown(std::net::Shutdown::Both);
            break;
        }
    }
}

/// The exit code of container `id`, whose monitor closed the attach
/// socket: the exit is written (or soon recorded); with a restart policy
/// it may be restarting already (`restarts` restarts before).
fn exit_code_after(engine: &Engine, id: &str, restarts: i64) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match engine.container(id) {
            Ok(c) => match c.status {
                LiveStatus::Exited(code) => return code.unwrap_or(0),
                LiveStatus::Restarting => return c.record.exit_code.unwrap_or(0),
                LiveStatus::Running if c.record.restart_count > restarts => return 0,
                _ if std::time::Instant::now() > deadline => return 0,
                _ => std::thread::sleep(Duration::from_millis(10)),
            },
            Err(_) => return 0, // removed (--rm)
        }
    }
}

/// This process's input sent to container `id` through its attach
/// socket (the output that comes back is dropped: `start -i` shows the
/// log), raw and scanned for the detach keys when it has a terminal; on
/// them, the terminal is restored and this process ends with 0 (`start`'s
/// detach).  The terminal is restored when the guard is dropped.
pub(crate) fn send_input(engine: &Engine, id: &str, keys: &DetachKeys) -> Result<InputGuard> {
    use std::io::IsTerminal;
    let sock = connect(engine, id)?;
    let (tty, _) = nook_engine::container::detach::terminal(&engine.container(id)?.record);
    let raw = (tty && std::io::stdin().is_terminal())
        .then(RawMode::enter)
        .flatten();
    let guard = InputGuard(std::sync::Arc::new(std::sync::Mutex::new(raw)));
    let mut drain = sock.try_clone()?;
    std::thread::spawn(move || std::io::copy(&mut drain, &mut std::io::sink()));
    let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (escape, flag, raw) = (
        tty.then(|| keys.scanner()),
        detached.clone(),
        guard.0.clone(),
    );
    std::thread::spawn(move || {
        relay_input(sock, escape, &flag);
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            drop(raw.lock().map(|mut r| r.take()));
            std::process::exit(0);
        }
    });
    Ok(guard)
}

/// Restores the terminal [`send_input`] made raw, when dropped.
pub(crate) struct InputGuard(std::sync::Arc<std::sync::Mutex<Option<RawMode>>>);

impl Drop for InputGuard {
    fn drop(&mut self) {
        drop(self.0.lock().map(|mut r| r.take()));
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
    let streams = Streams::parse(&a.term.attach)?;
    let keys = DetachKeys::parse(a.term.session.detach_keys.as_deref())?;
    if a.detach && !a.term.attach.is_empty() {
        return Err(Failure("Conflicting options: -a and -d".into()));
    }
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
        health: nook_engine::container::health::HealthOptions {
            timeout: a.health_timeout,
            start_period: a.health_start_period,
            start_interval: a.health_start_interval,
            disabled: a.no_healthcheck,
        },
        interactive: a.interactive,
        tty: a.tty,
        console_size: terminal::size(),
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
        network: a.network.network(),
        ports: a.ports.parse()?,
    };
    let mode = opts
        .network
        .networks
        .first()
        .map_or("bridge", String::as_str);
    if let Some(warning) = opts.ports.check_network_mode(mode)? {
        eprintln!("WARNING: {warning}");
    }
    // ports are published on bridge networks only
    if !a.create_only && !matches!(mode, "host" | "none") {
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
        let (root, cgroup_parent, netns) = (
            engine.root().to_path_buf(),
            engine.cgroup_parent().to_string(),
            engine.netns_path().map(Into::into),
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
            netns,
            ..Default::default()
        };
        let engine = Engine::open_with(root, options)?;
        return run_terminal(&engine, &rec.id, keys, streams, a.rm);
    }
    run_attached(
        engine,
        &rec.id,
        a.interactive,
        streams,
        a.term.session.sig_proxy,
    )
}

/// `run -t` without `-d`: attached to its monitor's terminal until it
/// exits (its code; removed then with `--rm`) or is detached from (0).
fn run_terminal(
    engine: &Engine,
    id: &str,
    keys: DetachKeys,
    streams: Streams,
    rm: bool,
) -> Result<i32> {
    let session = Session {
        keys,
        stdin: streams.stdin,
        stdout: streams.stdout,
        sig_proxy: false, // a terminal carries ctrl-c itself
    };
    let code = match attach_to(engine, id, &session)? {
        Attached::Exited(code) => code,
        Attached::Detached => {
            if rm {
                engine.remove_on_exit(id)?;
            }
            return Ok(0);
        }
    };
    if rm {
        engine.remove_container(id, true)?;
    }
    Ok(code)
}

/// `run` without `-d` or `-t`: the container is this process's child, its
/// output relayed here (the streams `-a` chose), signals forwarded to it
/// with `--sig-proxy`; with a restart policy its exit is handed over to a
/// monitor that restarts it (this process ends with its first exit, as
/// Docker's client does).
fn run_attached(
    engine: &Engine,
    id: &str,
    interactive: bool,
    streams: Streams,
    sig_proxy: bool,
) -> Result<i32> {
    let launched = match interactive && streams.stdin {
        true => {
            let stdin = std::io::stdin().as_fd().try_clone_to_owned()?;
            engine.launch_attached(id, stdin)
        }
        false => engine.launch(id),
    };
    let launched = match launched {
        Ok(l) => l,
        Err(e) => return report(e),
    };
    terminal::handle_signals(SignalPlan {
        resize: None,
        proxy_to: sig_proxy.then_some(launched.child.pid),
        ..Default::default()
    })?;
    let null = std::fs::File::options().write(true).open("/dev/null")?;
    let (out, err) = (std::io::stdout(), std::io::stderr());
    let out = if streams.stdout {
        out.as_fd()
    } else {
        null.as_fd()
    };
    let err = if streams.stderr {
        err.as_fd()
    } else {
        null.as_fd()
    };
    let exit = monitor_commands(engine, id)?.exit;
    Ok(engine.watch_then(id, launched, Some((out, err)), &exit)?)
}

/// `exec`.
pub fn exec(engine: &Engine, a: cli::Exec) -> Result<i32> {
    let keys = DetachKeys::parse(a.detach_keys.as_deref())?;
    let tty = a.tty && !a.detach;
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(nook_engine::container::lifecycle::parse_kv_file(
            f,
            "--env-file",
            &lookup,
        )?);
    }
    env.extend(expand_env(&a.env));
    let opts = ExecOptions {
        cmd: a.cmd,
        env,
        workdir: a.workdir,
        user: a.user,
        privileged: a.privileged,
        interactive: a.interactive,
        tty,
        console_size: terminal::size().filter(|_| tty),
        detach: a.detach,
    };
    if a.detach || tty {
        let child = match engine.exec_start(&a.container, &opts) {
            Ok(c) => c,
            Err(e) => return report(e),
        };
        return match a.detach {
            true => Ok(0), // it runs on, reparented when this process ends
            false => exec_terminal(child, keys.scanner(), a.interactive),
        };
    }
    match engine.exec_container(&a.container, &opts) {
        Ok(code) => Ok(code),
        Err(e) => report(e),
    }
}

/// `exec -t`: the process's terminal relayed to this one (raw, its size
/// following this one's; this process's input with `-i`, scanned for the
/// detach keys) until it ends: its exit code.  Detached, this process
/// says so and ends with 1, as Docker's client does (the process loses
/// its terminal: it is this process's, not a monitor's).
fn exec_terminal(
    mut child: nook_engine::container::ExecChild,
    escape: terminal::Escape,
    interactive: bool,
) -> Result<i32> {
    use std::io::{IsTerminal, Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let master = child
        .pty_master
        .take()
        .ok_or_else(|| Failure("exec: the terminal was not returned".into()))?;
    // before any thread is made (see crate::terminal)
    terminal::handle_signals(SignalPlan {
        resize_pty: Some(master.try_clone()?),
        ..Default::default()
    })?;
    let _raw = (interactive && std::io::stdin().is_terminal())
        .then(RawMode::enter)
        .flatten();
    let detached = std::sync::Arc::new(AtomicBool::new(false));
    if interactive {
        let (mut to, flag) = (std::fs::File::from(master.try_clone()?), detached.clone());
        let mut escape = escape;
        std::thread::spawn(move || {
            let (mut buf, mut out) = ([0u8; 1024], Vec::new());
            while let Ok(n @ 1..) = std::io::stdin().read(&mut buf) {
                out.clear();
                let seen = escape.feed(&buf[..n], &mut out);
                if to.write_all(&out).is_err() || seen {
                    flag.store(seen, Ordering::SeqCst);
                    break;
                }
            }
        });
    }
    let mut from = std::fs::File::from(master);
    let mut buf = [0u8; 16 * 1024];
    let mut stdout = std::io::stdout().lock();
    while !detached.load(Ordering::SeqCst) {
        let mut p = [nix::poll::PollFd::new(
            from.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut p, 100u16).unwrap_or(0) == 0 {
            continue;
        }
        match from.read(&mut buf) {
            Ok(n @ 1..) => {
                let _ = stdout.write_all(&buf[..n]);
                let _ = stdout.flush();
            }
            _ => break, // EIO: the process and its children closed it
        }
    }
    drop(_raw);
    if detached.load(Ordering::SeqCst) {
        eprintln!("read escape sequence");
        return Ok(1);
    }
    Ok(child.wait().map_err(nook_engine::Error::from)?.code())
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

/// The fields of one `ps` row, as `--format` sees them: `cmd` is the
/// command it runs; `CreatedAt` (a date in `tz`) is left out without a
/// `tz` (finding the system's time zone reads the zone database).
pub(crate) fn ps_fields(
    engine: &Engine,
    c: &Container,
    mut cmd: String,
    full: bool,
    now: i64,
    tz: Option<&jiff::tz::TimeZone>,
) -> Value {
    let id = match full {
        true => c.record.id.clone(),
        false => c.record.short_id().to_string(),
    };
    if !full && cmd.chars().count() > 20 {
        cmd = cmd.chars().take(19).collect::<String>() + "…";
    }
    json!({
        "ID": id,
        "Image": c.record.image_name,
        "Command": format!("\"{cmd}\""),
        "CreatedAt": tz.map(|tz| render::date(c.record.created / 1_000_000_000, tz)),
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
    let signal = a.signal.as_deref().map(signal_arg).transpose()?;
    each(&a.containers, |n| {
        let time = stop_time(engine, n, a.time)?;
        engine.stop_container_with(n, time, signal).map(drop)
    })
}

/// How long `stop`/`restart` wait for container `n`: `-t`, else its
/// `--stop-timeout`, else 10 s.
pub(crate) fn stop_time(engine: &Engine, n: &str, t: Option<i64>) -> nook_engine::Result<Duration> {
    Ok(match t {
        Some(t) => Duration::from_secs(nook_engine::container::lifecycle::timeout_secs(t)),
        None => engine.container(n)?.stop_timeout(),
    })
}

/// A `--signal` value (name or number), Docker's error otherwise.
pub(crate) fn signal_arg(s: &str) -> Result<i32> {
    nook_sys_signal(s)
}

/// `kill`.
pub fn kill(engine: &Engine, a: cli::Kill) -> Result {
    let sig = nook_sys_signal(&a.signal)?;
    each(&a.containers, |n| engine.kill_container(n, sig).map(drop))
}

/// A signal by name (`TERM`, `SIGTERM`) or number.
fn nook_sys_signal(s: &str) -> Result<i32> {
    nook_engine::container::lifecycle::signal_number(s)
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
