//! A running container's monitor when it runs attached: the `nook run`
//! process itself is its container's parent; it creates and starts the
//! container with its stdout and stderr on pipes, writes what comes out
//! of them to the container's log (and to its own stdout and stderr),
//! waits for the exit through the container's pidfd, reaps it, records
//! the exit code and time, unmounts its root (or removes it all with
//! `--rm`).  A detached container has the nook-monitor program instead
//! (see [`super::detach`]); both write the log with nook-monitor's
//! writer (json-file or k8s-file lines, rotated), and [`super::logs`]
//! reads it back.

use super::{cannot_run, now_nanos, ContainerLock};
use crate::{Engine, Error, Result};
use nook_container::{Child, Console, CreateRequest, Stdio};
use nook_monitor::log::LogWriter;
use nook_state::ContainerRecord;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// A started container: its first process, the read ends of its stdout
/// and stderr (with a terminal: its master, and no stderr), and where its
/// input goes (`-i`: its terminal, or the write end of its stdin pipe).
#[derive(Debug)]
pub struct Launched {
    /// The container's first process (a child of the caller).
    pub child: Child,
    out: OwnedFd,
    err: Option<OwnedFd>,
    input: Option<OwnedFd>,
}

/// The caller's ends of a container's stdio, before it is created.
struct Ends {
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    input: Option<OwnedFd>,
}

/// Which stream a log entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    fn log(self) -> nook_monitor::log::Stream {
        match self {
            Stream::Stdout => nook_monitor::log::Stream::Stdout,
            Stream::Stderr => nook_monitor::log::Stream::Stderr,
        }
    }
}

impl Launched {
    /// The read ends of its stdout and stderr (-1: none).
    pub fn fds(&self) -> (RawFd, RawFd) {
        let err = self.err.as_ref().map_or(-1, |e| e.as_raw_fd());
        (self.out.as_raw_fd(), err)
    }

    /// Where its input goes, if anywhere.
    pub fn input_fd(&self) -> Option<RawFd> {
        self.input.as_ref().map(|i| i.as_raw_fd())
    }
}

/// The stdio of a container: `tty` (a terminal, its master returned),
/// `stdin` (its input kept open: `given`, or a pipe).
fn stdio(tty: bool, stdin: bool, given: Option<OwnedFd>) -> Result<(Stdio, Console, Ends)> {
    if tty {
        let ends = Ends {
            out: None,
            err: None,
            input: None,
        };
        return Ok((Stdio::default(), Console::ReturnMaster, ends));
    }
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (container_in, input) = match (given, stdin) {
        (Some(fd), _) => (fd, None),
        (None, true) => {
            let (r, w) = pipe()?;
            (r, Some(w))
        }
        (None, false) => (
            File::open("/dev/null")
                .map_err(Error::io("open", "/dev/null"))?
                .into(),
            None,
        ),
    };
    let io = Stdio {
        stdin: Some(container_in),
        stdout: Some(out_w),
        stderr: Some(err_w),
    };
    let ends = Ends {
        out: Some(out_r),
        err: Some(err_r),
        input,
    };
    Ok((io, Console::None, ends))
}

/// One log entry read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Its stream.
    pub stream: Stream,
    /// When it was written, RFC 3339.
    pub time: String,
    /// The text (with its newline, when it had one).
    pub text: String,
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("create", "a pipe")(e.into()))
}

impl Engine {
    /// Create and start container `id` as a child of the calling process,
    /// recorded running with this process as its monitor.  A failure to
    /// start it is recorded as its exit (127 not found, 126 not
    /// executable, 125 otherwise) and cleaned up.
    pub fn launch(&self, id: &str) -> Result<Launched> {
        self.launch_unlocked(id).map_err(|(e, code)| {
            if let Some(code) = code {
                self.finish(id, code);
            }
            e
        })
    }

    /// [`Engine::launch`] for a caller that holds the container's lock:
    /// a failure comes with the exit code to record (none when the
    /// container was not created).
    pub(crate) fn launch_unlocked(&self, id: &str) -> Result<Launched, (Error, Option<i32>)> {
        self.launch_with(id, None)
    }

    /// [`Engine::launch`] of an attached container whose stdin is
    /// `stdin` (the caller's, for `run -i`).
    pub fn launch_attached(&self, id: &str, stdin: OwnedFd) -> Result<Launched> {
        self.launch_with(id, Some(stdin)).map_err(|(e, code)| {
            if let Some(code) = code {
                self.finish(id, code);
            }
            e
        })
    }

    fn launch_with(
        &self,
        id: &str,
        stdin: Option<OwnedFd>,
    ) -> Result<Launched, (Error, Option<i32>)> {
        let rec = self
            .state
            .container(id)
            .map_err(|e| (e.into(), None))?
            .ok_or_else(|| {
                (
                    nook_state::Error::NoSuchContainer(id.to_string()).into(),
                    None,
                )
            })?;
        let spec = self.spec_to_start(&rec).map_err(|e| (e, Some(125)))?;
        let rootfs = self.layers.rootfs(id).map_err(|e| (e.into(), None))?;
        let mounted = rootfs.is_mounted().map_err(|e| (e.into(), None))?;
        if !mounted {
            rootfs
                .mount(&nook_storage::MountOptions::default())
                .map_err(|e| (e.into(), None))?;
        }
        let (tty, interactive) = super::detach::terminal(&rec);
        let (io, console, mut ends) = stdio(tty, interactive, stdin).map_err(|e| (e, None))?;
        let mut req = CreateRequest::new(id, spec, rootfs.merged());
        req.bundle = self.container_dir(id);
        req.stdio = io;
        req.console = console;
        let rt = self.runtime();
        self.network_up(&rec).map_err(|e| (e, Some(125)))?;
        let started = rt.create(req).and_then(|child| {
            self.state
                .set_container_running(id, child.pid, std::process::id() as i32, now_nanos())
                .map_err(|e| nook_container::Error::Setup(e.to_string()))?;
            rt.start(id)?;
            Ok(child)
        });
        match started {
            Ok(mut child) => {
                if let Some(m) = child.pty_master.take() {
                    if interactive {
                        ends.input = m.try_clone().ok();
                    }
                    ends.out = Some(m);
                }
                let out = ends.out.take().ok_or_else(|| {
                    (Error::Monitor("the terminal was not returned".into()), None)
                })?;
                Ok(Launched {
                    child,
                    out,
                    err: ends.err,
                    input: ends.input,
                })
            }
            Err(e) => {
                let e = cannot_run(e);
                let code = match &e {
                    Error::CannotRun { code, .. } => *code,
                    _ => 125,
                };
                let _ = rt.delete(id, true);
                Err((e, Some(code)))
            }
        }
    }

    /// The spec of `rec` as it starts now: the namespaces it shares with
    /// other containers pointed at their processes (which must run).
    fn spec_to_start(&self, rec: &ContainerRecord) -> Result<oci_spec::runtime::Spec> {
        let mut spec: serde_json::Value = serde_json::from_str(&rec.config)
            .map_err(|e| Error::invalid("container config", &rec.id, e))?;
        for (kind, other) in super::namespaces::shared(&spec) {
            let c = self.container(&other).map_err(|_| {
                Error::invalid(
                    "namespace",
                    &other,
                    format!(
                        "the container whose {kind} namespace {} joins is gone",
                        rec.name
                    ),
                )
            })?;
            match (c.status, c.record.pid) {
                (super::LiveStatus::Running, Some(pid)) => {
                    super::namespaces::join(&mut spec, kind, pid)
                }
                _ => {
                    return Err(Error::invalid(
                        "namespace",
                        &c.record.name,
                        format!(
                            "cannot join the {kind} namespace of a container that is not running"
                        ),
                    ))
                }
            }
        }
        serde_json::from_value(spec).map_err(|e| Error::invalid("container config", &rec.id, e))
    }

    /// Copy the container's output to its log (and to `echo`'s stdout and
    /// stderr), wait for its exit, record it; the exit code.
    pub fn watch(
        &self,
        id: &str,
        l: Launched,
        echo: Option<(BorrowedFd, BorrowedFd)>,
    ) -> Result<i32> {
        self.watch_then(id, l, echo, &[])
    }

    /// [`Engine::watch`], and when the container's restart policy starts
    /// it again, its exit handed over to `exit_command` (see
    /// [`Engine::hand_over_restart`]); the exit code of this run.
    pub fn watch_then(
        &self,
        id: &str,
        l: Launched,
        echo: Option<(BorrowedFd, BorrowedFd)>,
        exit_command: &[std::ffi::OsString],
    ) -> Result<i32> {
        let log = match self.state.container(id)? {
            Some(rec) => super::detach::log_config(&rec),
            None => return Err(nook_state::Error::NoSuchContainer(id.to_string()).into()),
        };
        let mut sink = LogSink {
            log: LogWriter::open(log),
            echo,
        };
        relay(&l, &mut sink);
        let code = l.child.wait().map(|s| s.code()).unwrap_or(255);
        if !matches!(self.hand_over_restart(id, code, exit_command), Ok(true)) {
            self.finish(id, code);
        }
        Ok(code)
    }

    /// Record the exit `code` of container `id`, delete its runtime state
    /// and unmount its root; with `--rm`, remove it all.  Nothing when it
    /// was removed meanwhile.
    pub(crate) fn finish(&self, id: &str, code: i32) {
        let _lock = ContainerLock::take(&self.container_dir(id));
        if let Ok(Some(rec)) = self.state.container(id) {
            self.record_exit(&rec, code, now_nanos());
        }
    }

    /// [`Engine::finish`] under the container's lock (taken by the
    /// caller), with the time of the exit.
    pub(crate) fn record_exit(&self, rec: &nook_state::ContainerRecord, code: i32, time: i64) {
        let id = &rec.id;
        let _ = self.runtime().delete(id, true);
        self.network_down(id);
        if let Ok(r) = self.layers.rootfs(id) {
            let _ = r.unmount();
        }
        let _ = self.state.set_container_exited(id, code, time);
        if rec.auto_remove {
            let volumes = self.state.container_volumes(id).unwrap_or_default();
            self.teardown(id);
            let _ = self.state.remove_container(id);
            let _ = self.remove_anonymous_volumes(&volumes);
        }
    }
}

/// Where output goes: the log file and, when attached, the caller's own
/// streams.
struct LogSink<'a> {
    log: LogWriter,
    echo: Option<(BorrowedFd<'a>, BorrowedFd<'a>)>,
}

impl LogSink<'_> {
    fn data(&mut self, stream: Stream, data: &[u8]) {
        if let Some((o, e)) = &self.echo {
            let fd = if stream == Stream::Stdout { o } else { e };
            let _ = nook_sys::fd::write_all(fd.as_raw_fd(), data);
        }
        self.log.data(stream.log(), data);
    }

    fn end(&mut self, stream: Stream) {
        self.log.end(stream.log());
    }
}

/// Copy both pipes into `sink` until both end, or the container has
/// exited and they stay quiet.
fn relay(l: &Launched, sink: &mut LogSink<'_>) {
    let mut open = [true, l.err.is_some()];
    let mut exited = false;
    let mut buf = vec![0u8; 64 * 1024];
    let err = l.err.as_ref().unwrap_or(&l.out);
    while open[0] || open[1] {
        let fds = [l.out.as_fd(), err.as_fd(), l.child.pidfd.as_fd()];
        let mut pfd: Vec<libc::pollfd> = fds
            .iter()
            .enumerate()
            .map(|(i, fd)| libc::pollfd {
                fd: if i == 2 && exited || i < 2 && !open[i] {
                    -1
                } else {
                    fd.as_raw_fd()
                },
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let timeout = if exited { 200 } else { -1 };
        // SAFETY: poll on descriptors borrowed for the call.
        let n = unsafe { libc::poll(pfd.as_mut_ptr(), pfd.len() as libc::nfds_t, timeout) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if n == 0 {
            break; // exited, and nothing more came
        }
        for (i, stream) in [(0, Stream::Stdout), (1, Stream::Stderr)] {
            if open[i] && pfd[i].revents != 0 {
                match nix::unistd::read(fds[i], &mut buf) {
                    Ok(0) | Err(_) => {
                        open[i] = false;
                        sink.end(stream);
                    }
                    Ok(k) => sink.data(stream, &buf[..k]),
                }
            }
        }
        if pfd[2].revents != 0 {
            exited = true;
        }
    }
    sink.end(Stream::Stdout);
    sink.end(Stream::Stderr);
}
