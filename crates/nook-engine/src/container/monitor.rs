//! A running container's monitor: the process whose child the container
//! is.  It creates and starts the container with its stdout and stderr on
//! pipes, writes what comes out of them to the container's log, waits for
//! the exit through the container's pidfd, reaps it, records the exit code
//! and time, unmounts its root (or removes it all with `--rm`).
//!
//! An attached `nook run` is its own container's monitor (and also copies
//! the output to its own stdout and stderr).  A detached one spawns the
//! monitor program (`nook-monitor ROOT ID CGROUP_PARENT`, in its own session) and reads
//! one line from it, `ok`, `exit CODE MESSAGE` or `error MESSAGE`, once the
//! container has started or failed to; the monitor then closes that pipe
//! and lives on alone.
//!
//! The log is Docker's json-file format: one JSON object a line,
//! `{"log":"text\n","stream":"stdout"|"stderr","time":"<RFC 3339, ns>"}`;
//! a line longer than 16 KiB is cut into several objects, the last piece
//! of output without a newline is written when the stream ends.

use super::{cannot_run, now_nanos, ContainerLock};
use crate::{Engine, Error, Result};
use nook_container::{Child, CreateRequest, Stdio};
use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufRead, Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The longest log entry; longer lines are cut.
const MAX_LINE: usize = 16 * 1024;

/// A started container: its first process and the read ends of its
/// stdout and stderr.
#[derive(Debug)]
pub struct Launched {
    /// The container's first process (a child of the caller).
    pub child: Child,
    out: OwnedFd,
    err: OwnedFd,
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
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
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
        let rec = self
            .state
            .container(id)?
            .ok_or_else(|| nook_state::Error::NoSuchContainer(id.to_string()))?;
        let spec: oci_spec::runtime::Spec = serde_json::from_str(&rec.config)
            .map_err(|e| Error::invalid("container config", id, e))?;
        let rootfs = self.layers.rootfs(id)?;
        if !rootfs.is_mounted()? {
            rootfs.mount(&nook_storage::MountOptions::default())?;
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let null = File::open("/dev/null").map_err(Error::io("open", "/dev/null"))?;
        let mut req = CreateRequest::new(id, spec, rootfs.merged());
        req.bundle = self.container_dir(id);
        req.stdio = Stdio {
            stdin: Some(null.into()),
            stdout: Some(out_w),
            stderr: Some(err_w),
        };
        let rt = self.runtime();
        let started = rt.create(req).and_then(|child| {
            self.state
                .set_container_running(id, child.pid, std::process::id() as i32, now_nanos())
                .map_err(|e| nook_container::Error::Setup(e.to_string()))?;
            rt.start(id)?;
            Ok(child)
        });
        match started {
            Ok(child) => Ok(Launched {
                child,
                out: out_r,
                err: err_r,
            }),
            Err(e) => {
                let e = cannot_run(e);
                let code = match &e {
                    Error::CannotRun { code, .. } => *code,
                    _ => 125,
                };
                let _ = rt.delete(id, true);
                self.finish(id, code);
                Err(e)
            }
        }
    }

    /// Copy the container's output to its log (and to `echo`'s stdout and
    /// stderr), wait for its exit, record it; the exit code.
    pub fn watch(
        &self,
        id: &str,
        l: Launched,
        echo: Option<(BorrowedFd, BorrowedFd)>,
    ) -> Result<i32> {
        let path = self.container_dir(id).join("container.log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(Error::io("open", &path));
        let mut sink = LogSink {
            log: log.ok(),
            echo,
            partial: [Vec::new(), Vec::new()],
        };
        relay(&l, &mut sink);
        let code = l.child.wait().map(|s| s.code()).unwrap_or(255);
        self.finish(id, code);
        Ok(code)
    }

    /// Record the exit `code` of container `id`, delete its runtime state
    /// and unmount its root; with `--rm`, remove it all.  Nothing when it
    /// was removed meanwhile.
    pub(crate) fn finish(&self, id: &str, code: i32) {
        let _lock = ContainerLock::take(&self.container_dir(id));
        let Ok(Some(rec)) = self.state.container(id) else {
            return;
        };
        let _ = self.runtime().delete(id, true);
        if let Ok(r) = self.layers.rootfs(id) {
            let _ = r.unmount();
        }
        let _ = self.state.set_container_exited(id, code, now_nanos());
        if rec.auto_remove {
            let volumes = self.state.container_volumes(id).unwrap_or_default();
            self.teardown(id);
            let _ = self.state.remove_container(id);
            let _ = self.remove_anonymous_volumes(&volumes);
        }
    }

    /// Be container `id`'s monitor: launch it, `report` how that went (one
    /// line), then watch it to its end.
    pub fn serve_monitor(&self, id: &str, report: &mut dyn FnMut(&str)) -> Result<i32> {
        match self.launch(id) {
            Ok(l) => {
                report("ok");
                self.watch(id, l, None)
            }
            Err(Error::CannotRun { code, message }) => {
                report(&format!("exit {code} {message}"));
                Ok(code)
            }
            Err(e) => {
                report(&format!("error {e}"));
                Err(e)
            }
        }
    }

    /// Start container `id` detached: spawn `monitor` (in a session of its
    /// own, so it outlives the caller and its terminal) and wait for its
    /// report.
    pub fn start_detached(&self, id: &str, monitor: &Path) -> Result<()> {
        let mut cmd = Command::new(monitor);
        cmd.arg(&self.root)
            .arg(id)
            .arg(self.cgroup_parent())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        // SAFETY: setsid is async-signal-safe; nothing else runs between
        // fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(Error::io("run", monitor))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        let line = line.trim_end();
        match line.split_once(' ').unwrap_or((line, "")) {
            ("ok", _) => Ok(()),
            ("exit", rest) => {
                let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
                Err(Error::CannotRun {
                    code: code.parse().unwrap_or(125),
                    message: message.to_string(),
                })
            }
            ("error", message) => Err(Error::Monitor(message.to_string())),
            _ => {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                Err(Error::Monitor(format!(
                    "the monitor ended before it reported ({status})"
                )))
            }
        }
    }

    /// The log of container `word`: its last `tail` entries (all when
    /// `None`), then, with `follow`, what comes until it stops; each entry
    /// given to `out`.
    pub fn logs(
        &self,
        word: &str,
        tail: Option<usize>,
        follow: bool,
        out: &mut dyn FnMut(&LogEntry),
    ) -> Result<()> {
        let c = self.container(word)?;
        let path = c.record.log_path.clone();
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !follow => return Ok(()),
            Err(e) => return Err(Error::io("open", &path)(e)),
        };
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(Error::io("read", &path))?;
        // only whole lines: a line being written is read when it is complete
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        let entries: Vec<LogEntry> = text[..whole].lines().filter_map(parse_entry).collect();
        let skip = tail.map_or(0, |n| entries.len().saturating_sub(n));
        entries[skip..].iter().for_each(&mut *out);
        if !follow {
            return Ok(());
        }
        let mut pos = whole as u64;
        loop {
            let running = matches!(
                self.state
                    .container(&c.record.id)?
                    .map(|r| self.with_status(r).status),
                Some(super::LiveStatus::Running)
            );
            file.seek(std::io::SeekFrom::Start(pos))
                .map_err(Error::io("read", &path))?;
            let mut more = String::new();
            file.read_to_string(&mut more)
                .map_err(Error::io("read", &path))?;
            let whole = more.rfind('\n').map_or(0, |i| i + 1);
            more[..whole]
                .lines()
                .filter_map(parse_entry)
                .for_each(|e| out(&e));
            pos += whole as u64;
            if !running {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn parse_entry(line: &str) -> Option<LogEntry> {
    let v: Value = serde_json::from_str(line).ok()?;
    Some(LogEntry {
        stream: match v["stream"].as_str()? {
            "stderr" => Stream::Stderr,
            _ => Stream::Stdout,
        },
        time: v["time"].as_str().unwrap_or("").to_string(),
        text: v["log"].as_str()?.to_string(),
    })
}

/// Where output goes: the log file and, when attached, the caller's own
/// streams.
struct LogSink<'a> {
    log: Option<File>,
    echo: Option<(BorrowedFd<'a>, BorrowedFd<'a>)>,
    partial: [Vec<u8>; 2],
}

impl LogSink<'_> {
    fn data(&mut self, stream: Stream, data: &[u8]) {
        if let Some((o, e)) = &self.echo {
            let fd = if stream == Stream::Stdout { o } else { e };
            let _ = nook_sys::fd::write_all(fd.as_raw_fd(), data);
        }
        let i = stream as usize;
        self.partial[i].extend_from_slice(data);
        while let Some(n) = self.partial[i].iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial[i].drain(..=n).collect();
            self.entry(stream, &line);
        }
        while self.partial[i].len() >= MAX_LINE {
            let piece: Vec<u8> = self.partial[i].drain(..MAX_LINE).collect();
            self.entry(stream, &piece);
        }
    }

    fn end(&mut self, stream: Stream) {
        let rest = std::mem::take(&mut self.partial[stream as usize]);
        if !rest.is_empty() {
            self.entry(stream, &rest);
        }
    }

    fn entry(&mut self, stream: Stream, text: &[u8]) {
        let Some(log) = &mut self.log else { return };
        let v = json!({
            "log": String::from_utf8_lossy(text),
            "stream": stream.as_str(),
            "time": jiff::Timestamp::now().to_string(),
        });
        let _ = writeln!(log, "{v}");
    }
}

/// Copy both pipes into `sink` until both end, or the container has
/// exited and they stay quiet.
fn relay(l: &Launched, sink: &mut LogSink<'_>) {
    let mut open = [true, true];
    let mut exited = false;
    let mut buf = vec![0u8; 64 * 1024];
    while open[0] || open[1] {
        let fds = [l.out.as_fd(), l.err.as_fd(), l.child.pidfd.as_fd()];
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
