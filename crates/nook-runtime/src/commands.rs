//! runc's `create`, `run`, `exec` and `events`, on top of the library: the
//! flags become a request, the pid file and the foreground wait are the
//! command line's part.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use nook_container::{Console, CreateRequest, Error, ExecRequest, Runtime, Status};
use serde_json::json;

use crate::opts::{build_process, CreateOpts, ExecOpts};
use crate::run::{become_subreaper, block_signals, wait_loop};

type Result<T> = std::result::Result<T, Error>;

/// Options of `run` beyond those of `create`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOpts {
    /// Return once started.
    pub detach: bool,
    /// Keep the container after it exits.
    pub keep: bool,
    /// Do not become a child subreaper.
    pub no_subreaper: bool,
}

/// Connect to a `--console-socket`.
fn console_socket(p: &Path) -> Result<OwnedFd> {
    UnixStream::connect(p)
        .map(OwnedFd::from)
        .map_err(|e| Error::config(format!("connect to --console-socket {}: {e}", p.display())))
}

/// Write a pid file by writing a temporary sibling and renaming it over.
fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string()).map_err(Error::io("write", tmp.clone()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("rename into place", path.to_path_buf())(e)
    })
}

/// The request `create` flags describe.
fn create_request(o: &CreateOpts, sigmask: Option<libc::sigset_t>) -> Result<CreateRequest> {
    let mut req = CreateRequest::from_bundle(o.id.clone(), &o.bundle)?;
    req.console = match &o.console_socket {
        Some(p) => Console::Socket(console_socket(p)?),
        None if o.foreground => Console::ReturnMaster,
        None => Console::None,
    };
    req.preserve_fds = o.preserve_fds;
    req.no_pivot = o.no_pivot;
    req.no_new_keyring = o.no_new_keyring;
    req.sigmask = sigmask;
    Ok(req)
}

/// `create`.
pub fn create(rt: &Runtime, o: &CreateOpts) -> Result<()> {
    let child = rt.create(create_request(o, None)?)?;
    if let Some(p) = &o.pid_file {
        write_pid_file(p, child.pid)?;
    }
    Ok(())
}

/// `run`: create and start; unless detached, wait for the container,
/// delete it and return its exit code.
pub fn run(rt: &Runtime, o: &CreateOpts, ro: RunOpts) -> Result<i32> {
    if ro.detach {
        create(rt, o)?;
        if let Err(e) = rt.start(&o.id) {
            let _ = rt.delete(&o.id, true);
            return Err(e);
        }
        return Ok(0);
    }
    if !ro.no_subreaper {
        become_subreaper();
    }
    let (sfd, mask) = block_signals()?;
    let child = rt.create(create_request(o, Some(mask))?)?;
    if let Some(p) = &o.pid_file {
        write_pid_file(p, child.pid)?;
    }
    if let Err(e) = rt.start(&o.id) {
        let _ = rt.delete(&o.id, true);
        return Err(e);
    }
    let code = match wait_loop(child.pid, sfd, child.pty_master) {
        Ok(s) => nook_container::ExitStatus::from_wait_status(s).code(),
        Err(e) => {
            let _ = rt.delete(&o.id, true);
            return Err(e);
        }
    };
    if !ro.keep {
        rt.delete(&o.id, true)?;
    }
    Ok(code)
}

/// `exec`: the process from `--process` or the arguments and flags, on
/// top of the container's own; waits for it unless detached.
pub fn exec(rt: &Runtime, o: &ExecOpts) -> Result<i32> {
    let base = rt.config(&o.id)?;
    let process = build_process(base.process().as_ref(), &o.process)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && o.detach && o.console_socket.is_none() {
        return Err(Error::config(
            "a terminal for a detached exec needs --console-socket",
        ));
    }
    let mut req = ExecRequest::new(o.id.clone(), process);
    req.console = match &o.console_socket {
        Some(p) => Console::Socket(console_socket(p)?),
        None if terminal => Console::ReturnMaster,
        None => Console::None,
    };
    req.preserve_fds = o.preserve_fds;
    req.cgroup = o.cgroup.clone();
    req.ignore_paused = o.ignore_paused;
    let signals = if o.detach {
        None
    } else {
        let (sfd, mask) = block_signals()?;
        req.sigmask = Some(mask);
        Some(sfd)
    };
    let child = rt.exec(req)?;
    if let Some(p) = &o.pid_file {
        write_pid_file(p, child.pid)?;
    }
    match signals {
        None => Ok(0),
        Some(sfd) => {
            let s = wait_loop(child.pid, sfd, child.pty_master)?;
            Ok(nook_container::ExitStatus::from_wait_status(s).code())
        }
    }
}

/// `events`: the container's statistics (once with `stats_once`, else every
/// `interval`) and `oom` notices as runc's JSON lines, until it stops.
pub fn events(
    rt: &Runtime,
    id: &str,
    interval: Duration,
    stats_once: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let cg = rt.cgroup(id)?;
    let line = |out: &mut dyn Write, v: serde_json::Value| -> Result<()> {
        let mut s = v.to_string();
        s.push('\n');
        out.write_all(s.as_bytes())
            .and_then(|_| out.flush())
            .map_err(Error::io("write events", "stdout"))
    };
    let stats = || json!({"type": "stats", "id": id, "data": cg.stats()});
    if stats_once {
        return line(out, stats());
    }
    let mut ooms = cg.oom_kills();
    let mut next_stats = Instant::now();
    let tick = interval
        .min(Duration::from_millis(100))
        .max(Duration::from_millis(10));
    loop {
        let status = rt.status(id).unwrap_or(Status::Stopped);
        let now_ooms = cg.oom_kills();
        if now_ooms > ooms {
            ooms = now_ooms;
            line(out, json!({"type": "oom", "id": id}))?;
        }
        if status == Status::Stopped {
            return Ok(());
        }
        if Instant::now() >= next_stats {
            line(out, stats())?;
            next_stats = Instant::now() + interval;
        }
        std::thread::sleep(tick);
    }
}
