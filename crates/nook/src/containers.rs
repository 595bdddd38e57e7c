//! The container commands: `run`, `stop`, `kill`, `rm`, `exec` (`ps`,
//! `logs`, `inspect` are in [`crate::listing`]), with Docker's output and exit codes (125 an engine
//! error, 126 a program that cannot be executed, 127 one not found, the
//! container's own code otherwise, 128+N when signal N killed it).

use crate::cli;
use crate::render;
use crate::Failure;

use nook_engine::{Container, Engine, Error, ExecOptions, LiveStatus, RunOptions};
use serde_json::{json, Value};
use std::os::fd::AsFd;
use std::time::Duration;

type Result<T = ()> = std::result::Result<T, Failure>;

/// The monitor program: `nook-monitor` beside this `nook`.
pub(crate) fn monitor_program() -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.with_file_name("nook-monitor"))
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

/// `run`.
pub fn run(engine: &Engine, a: cli::Run) -> Result<i32> {
    let opts = RunOptions {
        image: a.image.clone(),
        name: a.name,
        env: expand_env(&a.env),
        workdir: a.workdir,
        user: a.user,
        entrypoint: a.entrypoint,
        cmd: a.cmd,
        hostname: a.hostname,
        auto_remove: a.rm,
        volumes: a.volumes,
        mounts: a.mounts,
        tmpfs: a.tmpfs,
    };
    let rec = match engine.create_container(&opts) {
        Err(Error::NoSuchImage(_)) => {
            eprintln!("Unable to find image '{}' locally", a.image);
            engine.pull(&a.image, &Default::default(), &nook_engine::NoProgress)?;
            engine.create_container(&opts)?
        }
        r => r?,
    };
    if a.create_only {
        println!("{}", rec.id);
        return Ok(0);
    }
    if a.detach {
        if let Err(e) = engine.start_detached(&rec.id, &monitor_program()?) {
            return report(e);
        }
        println!("{}", rec.id);
        return Ok(0);
    }
    let launched = match engine.launch(&rec.id) {
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
    };
    match engine.exec_container(&a.container, &opts) {
        Ok(code) => Ok(code),
        Err(e) => report(e),
    }
}

/// Docker's STATUS column.
pub(crate) fn status_text(c: &Container, now: i64) -> String {
    let secs = |t: Option<i64>| t.map(|t| t / 1_000_000_000);
    match c.status {
        LiveStatus::Created => "Created".into(),
        LiveStatus::Running => {
            let since = secs(c.record.started).unwrap_or(now);
            format!("Up {}", render::duration(now - since))
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

/// The command a container runs, as `ps` shows it.
pub(crate) fn command_of(c: &Container) -> String {
    let spec: Value = serde_json::from_str(&c.record.config).unwrap_or_default();
    let args: Vec<String> = spec["process"]["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    args.join(" ")
}

/// The fields of one `ps` row, as `--format` sees them.
pub(crate) fn ps_fields(c: &Container, full: bool, now: i64) -> Value {
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
        "Status": status_text(c, now),
        "State": match c.status {
            LiveStatus::Created => "created",
            LiveStatus::Running => "running",
            LiveStatus::Exited(_) => "exited",
        },
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
        engine
            .stop_container(n, Duration::from_secs(a.time))
            .map(drop)
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
