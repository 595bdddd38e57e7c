//! The container commands: `run`, `ps`, `logs`, `stop`, `kill`, `rm`,
//! `exec`, `inspect`, with Docker's output and exit codes (125 an engine
//! error, 126 a program that cannot be executed, 127 one not found, the
//! container's own code otherwise, 128+N when signal N killed it).

use crate::cli;
use crate::commands::print_template;
use crate::render;
use crate::Failure;
use nook_engine::container::monitor::{LogEntry, Stream};
use nook_engine::{Container, Engine, Error, ExecOptions, LiveStatus, RunOptions};
use serde_json::{json, Value};
use std::io::Write;
use std::os::fd::AsFd;
use std::time::Duration;

type Result<T = ()> = std::result::Result<T, Failure>;

/// The monitor program: `nook-monitor` beside this `nook`.
fn monitor_program() -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.with_file_name("nook-monitor"))
}

/// An engine error as `run`/`exec` report it: the line, and the code.
fn report(e: Error) -> Result<i32> {
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
fn status_text(c: &Container, now: i64) -> String {
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
fn command_of(c: &Container) -> String {
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
fn ps_fields(c: &Container, full: bool, now: i64) -> Value {
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

/// `ps`.
pub fn ps(engine: &Engine, a: cli::Ps) -> Result {
    let now = jiff::Timestamp::now().as_second();
    let list: Vec<Container> = engine
        .containers()?
        .into_iter()
        .filter(|c| a.all || c.status == LiveStatus::Running)
        .collect();
    let rows: Vec<Value> = list.iter().map(|c| ps_fields(c, a.no_trunc, now)).collect();
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for r in &rows {
            writeln!(out, "{}", r["ID"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    match a.format.as_deref() {
        Some("json") => {
            for r in &rows {
                writeln!(out, "{r}")?;
            }
        }
        Some(f) => print_template(&mut out, f, &rows)?,
        None => {
            let mut table = vec![[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ]
            .map(String::from)
            .to_vec()];
            for r in &rows {
                let cols = [
                    "ID",
                    "Image",
                    "Command",
                    "RunningFor",
                    "Status",
                    "Ports",
                    "Names",
                ];
                table.push(
                    cols.iter()
                        .map(|k| r[k].as_str().unwrap_or("").to_string())
                        .collect(),
                );
            }
            write!(out, "{}", render::table(&table))?;
        }
    }
    Ok(())
}

/// `logs`.
pub fn logs(engine: &Engine, a: cli::Logs) -> Result {
    let tail = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse::<usize>()
                .map_err(|_| Failure(format!("invalid --tail {n:?}: a number or \"all\"")))?,
        ),
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    engine.logs(&a.container, tail, a.follow, &mut |e: &LogEntry| {
        let w: &mut dyn Write = match e.stream {
            Stream::Stdout => &mut out,
            Stream::Stderr => &mut err,
        };
        if a.timestamps {
            let _ = write!(w, "{} ", e.time);
        }
        let _ = w.write_all(e.text.as_bytes());
        let _ = w.flush();
    })?;
    Ok(())
}

/// Run `f` on each container named, printing each name given as done;
/// a failure is reported as it happens and the others are still tried.
fn each(names: &[String], mut f: impl FnMut(&str) -> nook_engine::Result<()>) -> Result {
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
fn time(t: Option<i64>) -> String {
    t.and_then(|t| jiff::Timestamp::from_nanosecond(t as i128).ok())
        .map_or("0001-01-01T00:00:00Z".into(), |t| t.to_string())
}

/// A container in Docker's `inspect` shape (the fields nook has).
fn container_json(engine: &Engine, c: &Container) -> Value {
    let r = &c.record;
    let spec: Value = serde_json::from_str(&r.config).unwrap_or_default();
    let p = &spec["process"];
    let ann = &spec["annotations"];
    let list = |k: &str| -> Value {
        serde_json::from_str(ann[k].as_str().unwrap_or("null")).unwrap_or(Value::Null)
    };
    let args = p["args"].as_array().cloned().unwrap_or_default();
    let (running, exit_code) = match c.status {
        LiveStatus::Running => (true, 0),
        LiveStatus::Exited(code) => (false, code.unwrap_or(-1)),
        LiveStatus::Created => (false, 0),
    };
    let status = match c.status {
        LiveStatus::Created => "created",
        LiveStatus::Running => "running",
        LiveStatus::Exited(_) => "exited",
    };
    let dir = engine.container_dir(&r.id);
    let storage = engine.layers().root().join("containers").join(&r.id);
    json!({
        "Id": r.id,
        "Created": time(Some(r.created)),
        "Path": args.first().cloned().unwrap_or(Value::Null),
        "Args": args.get(1..).unwrap_or(&[]),
        "State": {
            "Status": status, "Running": running, "Paused": false, "Restarting": false,
            "OOMKilled": false, "Dead": false,
            "Pid": if running { r.pid.unwrap_or(0) } else { 0 },
            "ExitCode": exit_code, "Error": "",
            "StartedAt": time(r.started), "FinishedAt": time(r.finished),
        },
        "Image": r.image_id.to_string(),
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": r.log_path,
        "Name": format!("/{}", r.name),
        "Driver": "overlay",
        "Mounts": nook_engine::container::mounts::shown(&r.config),
        "HostConfig": {"AutoRemove": r.auto_remove, "NetworkMode": "none", "LogConfig": {"Type": "json-file"}},
        "GraphDriver": {"Name": "overlay", "Data": {
            "MergedDir": storage.join("merged"), "UpperDir": storage.join("upper"),
            "WorkDir": storage.join("work"),
        }},
        "Config": {
            "Hostname": spec["hostname"], "User": ann["io.nook.user"],
            "Env": p["env"], "Cmd": list("io.nook.cmd"), "Entrypoint": list("io.nook.entrypoint"),
            "Image": r.image_name, "WorkingDir": p["cwd"],
        },
    })
}

/// `inspect`: containers, then images, by each name.
pub fn inspect(engine: &Engine, a: cli::Inspect) -> Result {
    let mut all = Vec::new();
    for name in &a.images {
        match engine.container(name) {
            Ok(c) => all.push(container_json(engine, &c)),
            Err(Error::State(nook_state_err))
                if nook_state_err.to_string().starts_with("no such container") =>
            {
                match engine.inspect(name) {
                    Ok(i) => all.push(i.docker_json()),
                    Err(Error::NoSuchImage(_)) => {
                        return Err(Failure(format!("no such object: {name}")))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut out = std::io::stdout().lock();
    match a.format.as_deref() {
        None | Some("json") => writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?,
        Some(f) => print_template(&mut out, f, &all)?,
    }
    Ok(())
}
