//! The command line of `nook-runtime`: runc's commands and flags, mapped onto
//! [`nook_container::Runtime`].  Errors become one line on stderr (and in
//! `--log`, as runc writes it) and exit status 1.

#![warn(missing_docs)]

pub mod args;
pub mod commands;
pub mod features;
pub mod log;
pub mod opts;
pub mod run;
pub mod spec;
pub mod units;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use commands::RunOpts;
use nook_container::{Error, Runtime};
use opts::CreateOpts;

pub use args::{Cli, Cmd, UpdateArgs};

fn default_root() -> PathBuf {
    // SAFETY: trivial getter.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/run/nook-runtime");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d).join("nook-runtime"),
        None => std::env::temp_dir().join(format!("nook-runtime-{}", unsafe { libc::geteuid() })),
    }
}

/// `--preserve-fds N` passes descriptors 3..3+N: each must be open before
/// the runtime opens anything of its own, or one of the runtime's own
/// descriptors could take its number and reach the container.
fn check_preserved(n: u32) -> Result<(), Error> {
    for fd in 3..3 + n as i32 {
        // SAFETY: F_GETFD only queries.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Error::InvalidInput(format!(
                "--preserve-fds {n}: descriptor {fd} is not open"
            )));
        }
    }
    Ok(())
}

/// The command line's create flags, with systemd's sockets preserved too
/// and `foreground` set for a `run` that waits.
fn create_opts(c: &CreateOpts, foreground: bool) -> CreateOpts {
    CreateOpts {
        preserve_fds: c.preserve_fds + listen_fds(),
        foreground,
        ..c.clone()
    }
}

/// Descriptors passed by systemd socket activation are preserved too.
fn listen_fds() -> u32 {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    if !pid_ok {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn print_json(v: &impl serde::Serialize) -> Result<(), Error> {
    let mut s = serde_json::to_string_pretty(v).map_err(|e| Error::InvalidInput(e.to_string()))?;
    s.push('\n');
    let _ = std::io::stdout().write_all(s.as_bytes());
    Ok(())
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, |r| r.len());
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i + 1 == cols {
                    v.clone()
                } else {
                    format!("{v:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// Run one command; the returned code is the process exit status.
pub fn dispatch(cli: &Cli) -> Result<i32, Error> {
    if cli.systemd_cgroup && matches!(cli.cmd, Cmd::Create(_) | Cmd::Run { .. }) {
        return Err(Error::InvalidInput(
            "--systemd-cgroup: nook drives cgroupfs directly and has no systemd cgroup driver; configure your manager for cgroupfs".into(),
        ));
    }
    let rt = Runtime::new(cli.root.clone().unwrap_or_else(default_root));
    match &cli.cmd {
        Cmd::Create(c) => commands::create(&rt, &create_opts(c, false))?,
        Cmd::Start { id } => rt.start(id)?,
        Cmd::Run {
            c,
            detach,
            keep,
            no_subreaper,
        } => {
            let ro = RunOpts {
                detach: *detach,
                keep: *keep,
                no_subreaper: *no_subreaper,
            };
            return commands::run(&rt, &create_opts(c, !detach), ro);
        }
        Cmd::Exec(e) => return commands::exec(&rt, e),
        Cmd::State { id } => print_json(&rt.state(id)?)?,
        Cmd::Kill { all, id, signal } => {
            let sig = match signal {
                Some(s) => nook_sys::signal::parse(s).map_err(Error::InvalidInput)?,
                None => libc::SIGTERM,
            };
            rt.kill(id, sig, *all)?;
        }
        Cmd::Delete { force, id } => rt.delete(id, *force)?,
        Cmd::List { format, quiet } => {
            let list = rt.list()?;
            if *quiet {
                let mut s = String::new();
                for r in &list {
                    s.push_str(&r.id);
                    s.push('\n');
                }
                let _ = std::io::stdout().write_all(s.as_bytes());
            } else if format == "json" {
                print_json(&list)?;
            } else {
                let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                    .map(String::from)
                    .to_vec()];
                for r in &list {
                    rows.push(vec![
                        r.id.clone(),
                        r.pid.to_string(),
                        r.status.to_string(),
                        r.bundle.display().to_string(),
                        r.created.clone(),
                        r.owner.clone(),
                    ]);
                }
                let _ = std::io::stdout().write_all(table(&rows).as_bytes());
            }
        }
        Cmd::Update(u) => rt.update(&u.id, &update_resources(u)?)?,
        Cmd::Events {
            stats,
            interval,
            id,
        } => {
            let iv = units::parse_duration(interval)?;
            if iv.is_zero() {
                return Err(Error::InvalidInput(
                    "--interval must be greater than zero".into(),
                ));
            }
            commands::events(&rt, id, iv, *stats, &mut std::io::stdout())?;
        }
        Cmd::Pause { id } => rt.pause(id)?,
        Cmd::Resume { id } => rt.resume(id)?,
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => ps(&rt, format, id, ps_args)?,
        Cmd::Spec { bundle, rootless } => {
            let p = bundle.join("config.json");
            if p.exists() {
                return Err(Error::InvalidInput(format!(
                    "{} exists already; remove it first",
                    p.display()
                )));
            }
            let mut s =
                serde_json::to_string_pretty(&spec::default_spec(*rootless)).unwrap_or_default();
            s.push('\n');
            std::fs::write(&p, s).map_err(Error::io("write", p.clone()))?;
        }
        Cmd::Features => print_json(&features::features())?,
        Cmd::Checkpoint | Cmd::Restore => {
            return Err(Error::InvalidInput(
                "checkpoint/restore is not supported by nook (no CRIU integration)".into(),
            ))
        }
    }
    Ok(0)
}

fn update_resources(u: &UpdateArgs) -> Result<oci_spec::runtime::LinuxResources, Error> {
    use units::parse_size;
    if u.l3_cache_schema.is_some() || u.mem_bw_schema.is_some() {
        return Err(Error::InvalidInput(
            "Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported by nook".into(),
        ));
    }
    let mut v: serde_json::Value = match &u.resources {
        Some(f) => {
            let data = if f == "-" {
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                    .map_err(Error::io("read", "stdin"))?;
                b
            } else {
                std::fs::read(f).map_err(Error::io("read", f.clone()))?
            };
            nook_container::config::parse_json(&data, std::path::Path::new(f))?
        }
        None => serde_json::json!({}),
    };
    if !v.is_object() {
        return Err(Error::config(
            "--resources: expected a JSON object (linux.resources)",
        ));
    }
    let mut set = |section: &str, key: &str, val: serde_json::Value| {
        if !v[section].is_object() {
            v[section] = serde_json::json!({});
        }
        v[section][key] = val;
    };
    let size = |s: &Option<String>| s.as_deref().map(parse_size).transpose();
    if let Some(x) = size(&u.memory)? {
        set("memory", "limit", x.into());
    }
    if let Some(x) = size(&u.memory_reservation)? {
        set("memory", "reservation", x.into());
    }
    if let Some(x) = size(&u.memory_swap)? {
        set("memory", "swap", x.into());
    }
    if let Some(x) = size(&u.kernel_memory)? {
        set("memory", "kernel", x.into());
    }
    if let Some(x) = size(&u.kernel_memory_tcp)? {
        set("memory", "kernelTCP", x.into());
    }
    if let Some(x) = u.cpu_share {
        set("cpu", "shares", x.into());
    }
    if let Some(x) = u.cpu_quota {
        set("cpu", "quota", x.into());
    }
    if let Some(x) = u.cpu_period {
        set("cpu", "period", x.into());
    }
    if let Some(x) = u.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", x.into());
    }
    if let Some(x) = u.cpu_rt_period {
        set("cpu", "realtimePeriod", x.into());
    }
    if let Some(x) = &u.cpuset_cpus {
        set("cpu", "cpus", x.clone().into());
    }
    if let Some(x) = &u.cpuset_mems {
        set("cpu", "mems", x.clone().into());
    }
    if let Some(x) = u.pids_limit {
        set("pids", "limit", x.into());
    }
    if let Some(x) = u.blkio_weight {
        set("blockIO", "weight", x.into());
    }
    serde_json::from_value(v).map_err(|e| Error::config(format!("resources: {e}")))
}

fn ps(rt: &Runtime, format: &str, id: &str, args: &[String]) -> Result<(), Error> {
    let pids = rt.pids(id)?;
    if format == "json" {
        return print_json(&pids);
    }
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::InvalidInput(format!("run ps: {e}")))?;
    if !out.status.success() {
        return Err(Error::InvalidInput(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(());
    };
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::InvalidInput("ps output has no PID column".into()))?;
    let mut s = format!("{header}\n");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            s.push_str(l);
            s.push('\n');
        }
    }
    let _ = std::io::stdout().write_all(s.as_bytes());
    Ok(())
}

fn describe(cmd: &Cmd) -> String {
    match cmd {
        Cmd::Create(c) => format!("create {}", c.id),
        Cmd::Run { c, .. } => format!("run {}", c.id),
        Cmd::Start { id } => format!("start {id}"),
        Cmd::State { id } => format!("state {id}"),
        Cmd::Exec(e) => format!("exec {}", e.id),
        Cmd::Kill { id, .. } => format!("kill {id}"),
        Cmd::Delete { id, .. } => format!("delete {id}"),
        Cmd::Pause { id } => format!("pause {id}"),
        Cmd::Resume { id } => format!("resume {id}"),
        Cmd::Ps { id, .. } => format!("ps {id}"),
        Cmd::Update(u) => format!("update {}", u.id),
        Cmd::Events { id, .. } => format!("events {id}"),
        Cmd::List { .. } => "list".into(),
        Cmd::Spec { .. } => "spec".into(),
        Cmd::Features => "features".into(),
        Cmd::Checkpoint => "checkpoint".into(),
        Cmd::Restore => "restore".into(),
    }
}

/// Parse the command line, run, report.
pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args().collect();
    let cli = match args::parse(&argv) {
        Ok(args::Parsed::Run(c)) => c,
        Ok(args::Parsed::Help(h)) => {
            let _ = std::io::stdout().write_all(h.as_bytes());
            return 0;
        }
        Ok(args::Parsed::Version) => {
            let _ = writeln!(
                std::io::stdout(),
                "nook-runtime version {}\nspec: {}",
                env!("CARGO_PKG_VERSION"),
                nook_container::OCI_VERSION
            );
            return 0;
        }
        Err(e) => {
            log_parse_error(&argv, &e);
            let _ = writeln!(std::io::stderr(), "nook-runtime: {e}");
            return 1;
        }
    };
    // Before anything opens a descriptor of ours (the log file, too).
    let preserve = match &cli.cmd {
        Cmd::Create(c) | Cmd::Run { c, .. } => Some(c.preserve_fds + listen_fds()),
        Cmd::Exec(e) => Some(e.preserve_fds),
        _ => None,
    };
    if let Some(n) = preserve {
        if let Err(e) = check_preserved(n) {
            let _ = writeln!(
                std::io::stderr(),
                "nook-runtime: {}: {e}",
                describe(&cli.cmd)
            );
            return 1;
        }
    }
    let logger = Arc::new(log::Logger::new(
        cli.log.as_deref(),
        cli.log_format == "json",
        cli.debug,
    ));
    let _ = tracing::subscriber::set_global_default(logger.clone());
    match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{}: {e}", describe(&cli.cmd));
            if cli.log.as_deref().is_some_and(|l| !l.is_empty()) {
                logger.line(&tracing::Level::ERROR, &msg);
            }
            let _ = writeln!(std::io::stderr(), "nook-runtime: {msg}");
            1
        }
    }
}

/// A command line the parser refused never reaches the logger; clients that read
/// only `--log` (containerd) should still see why.  Best effort: find
/// `--log`/`--log-format` among the raw arguments.
fn log_parse_error(args: &[String], msg: &str) {
    let value = |name: &str| -> Option<String> {
        args.iter().enumerate().find_map(|(i, a)| {
            a.strip_prefix(&format!("{name}="))
                .map(str::to_string)
                .or_else(|| (a == name).then(|| args.get(i + 1).cloned()).flatten())
        })
    };
    if let Some(path) = value("--log").filter(|p| !p.is_empty()) {
        let json = value("--log-format").as_deref() == Some("json");
        let first = msg
            .lines()
            .next()
            .unwrap_or(msg)
            .trim_start_matches("error: ");
        log::Logger::new(Some(&path), json, false).line(&tracing::Level::ERROR, first);
    }
}
