//! The monitor's life: its arguments, the relay of the container's
//! stdout and stderr into the log until the container has exited and its
//! pipes are drained, the exit file, and the exit command exec'd in its
//! place (`nook ... container cleanup ID`, which records the exit).
//!
//! ```text
//! nook-monitor --pid PID --stdout-fd N [--stderr-fd N] --log-path FILE
//!              [--input-fd N] [--attach-socket PATH]
//!              [--log-driver json-file|k8s-file] [--log-max-size BYTES]
//!              [--log-max-file N] [--health-interval-ms MS --health-arg ARG...
//!              [--health-start-period-ms MS --health-start-interval-ms MS]]
//!              --exit-dir DIR -- EXIT-COMMAND [ARG...]
//! ```
//!
//! With a health interval, the health command (the `--health-arg`s:
//! `nook ... healthcheck run ID`) is run every interval while the
//! container runs, one at a time; it records the health itself.
//!
//! PID must be a child of this process (`nook run -d` made it so before
//! exec'ing the monitor): it is reaped here, so its exit status is known.

use crate::attach::{Attach, CONTROL_SOCKET};
use crate::exit::{self, Exit};
use crate::log::{Driver, LogConfig, LogWriter, Stream};
use crate::time;
use std::ffi::{CString, OsString};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the monitor is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    /// The container's first process (a child of this process).
    pub pid: i32,
    /// The read end of its stdout.
    pub stdout_fd: RawFd,
    /// The read end of its stderr.
    pub stderr_fd: RawFd,
    /// Its log.
    pub log: LogConfig,
    /// The container's directory (for the exit file).
    pub exit_dir: PathBuf,
    /// The program (and its arguments) exec'd once the exit is written.
    pub exit_command: Vec<OsString>,
    /// Where clients' input goes (the terminal, or the write end of the
    /// container's stdin), if anywhere.
    pub input_fd: Option<RawFd>,
    /// The attach socket to listen on, if any.
    pub attach_socket: Option<PathBuf>,
    /// Keep the output for the first client to attach, and wait for it
    /// before ending (`run -t`: the caller attaches once it has started).
    pub wait_attach: bool,
    /// How often the health command runs (0: never).
    pub health_interval_ms: u64,
    /// The health command (a program and its arguments).
    pub health_command: Vec<OsString>,
    /// The start period: until it ends or a check passes, the health
    /// command runs every start interval instead (0: none).
    pub health_start_period_ms: u64,
    /// How often the health command runs during the start period.
    pub health_start_interval_ms: u64,
}

/// Parse the arguments after the program name; the error names the bad
/// one.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Args, String> {
    let mut it = args.into_iter();
    let mut a = Args {
        pid: 0,
        stdout_fd: -1,
        stderr_fd: -1,
        log: LogConfig {
            driver: Driver::JsonFile,
            path: PathBuf::new(),
            max_size: 0,
            max_file: 1,
        },
        exit_dir: PathBuf::new(),
        exit_command: Vec::new(),
        health_interval_ms: 0,
        health_command: Vec::new(),
        health_start_period_ms: 0,
        health_start_interval_ms: 0,
        input_fd: None,
        attach_socket: None,
        wait_attach: false,
    };
    while let Some(flag) = it.next() {
        if flag == "--" {
            a.exit_command = it.collect();
            break;
        }
        let flag = flag.to_string_lossy().into_owned();
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let text = value.to_string_lossy();
        let num = |what: &str| -> Result<u64, String> {
            text.parse::<u64>()
                .map_err(|_| format!("invalid {what} {text:?}: not a number"))
        };
        match flag.as_str() {
            "--pid" => a.pid = num("--pid")? as i32,
            "--stdout-fd" => a.stdout_fd = num("--stdout-fd")? as RawFd,
            "--stderr-fd" => a.stderr_fd = num("--stderr-fd")? as RawFd,
            "--log-path" => a.log.path = value.into(),
            "--log-driver" => {
                a.log.driver =
                    Driver::parse(&text).ok_or_else(|| format!("unknown log driver {text:?}"))?
            }
            "--log-max-size" => a.log.max_size = num("--log-max-size")?,
            "--log-max-file" => a.log.max_file = num("--log-max-file")?.max(1) as u32,
            "--exit-dir" => a.exit_dir = value.into(),
            "--health-interval-ms" => a.health_interval_ms = num("--health-interval-ms")?,
            "--health-arg" => a.health_command.push(value),
            "--health-start-period-ms" => {
                a.health_start_period_ms = num("--health-start-period-ms")?
            }
            "--health-start-interval-ms" => {
                a.health_start_interval_ms = num("--health-start-interval-ms")?
            }
            "--input-fd" => a.input_fd = Some(num("--input-fd")? as RawFd),
            "--attach-socket" => a.attach_socket = Some(value.into()),
            "--wait-attach" => a.wait_attach = num("--wait-attach")? != 0,
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    if a.pid <= 0 || a.stdout_fd < 0 {
        return Err("--pid and --stdout-fd are required".into());
    }
    if a.log.path.as_os_str().is_empty() || a.exit_dir.as_os_str().is_empty() {
        return Err("--log-path and --exit-dir are required".into());
    }
    if a.exit_command.is_empty() {
        return Err("no exit command after --".into());
    }
    if a.health_interval_ms > 0 && a.health_command.is_empty() {
        return Err("--health-interval-ms needs --health-arg".into());
    }
    Ok(a)
}

/// A pidfd of `pid`.
fn pidfd_open(pid: i32) -> RawFd {
    // SAFETY: plain syscall; a new descriptor or -1.
    unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) as RawFd }
}

/// Reap child `pid`: its exit code (128+N for signal N).
fn reap(pid: i32) -> i32 {
    let mut st = 0;
    loop {
        // SAFETY: waitpid on our own child, into `st`.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::__WALL) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 255;
        }
    }
    if libc::WIFSIGNALED(st) {
        128 + libc::WTERMSIG(st)
    } else {
        libc::WEXITSTATUS(st)
    }
}

/// The periodic health command.
#[derive(Debug)]
pub struct Health {
    interval: Duration,
    command: Vec<OsString>,
    next: Instant,
    running: Option<i32>,
    /// The start interval, and when the start period ends (`None`: it
    /// has, or a check passed).
    start: Option<(Duration, Instant)>,
}

impl Health {
    /// Run `command` every `interval` (the first one after an interval).
    pub fn new(interval: Duration, command: Vec<OsString>) -> Health {
        Health {
            interval,
            command,
            next: Instant::now() + interval,
            running: None,
            start: None,
        }
    }

    /// During the first `period`, until a check passes (exits 0), run it
    /// every `every` instead.
    pub fn with_start_period(mut self, period: Duration, every: Duration) -> Health {
        if !period.is_zero() && !every.is_zero() {
            let now = Instant::now();
            self.start = Some((every, now + period));
            self.next = now + self.current_interval(now);
        }
        self
    }

    /// The interval to the next check, as of `now`.
    fn current_interval(&self, now: Instant) -> Duration {
        match self.start {
            Some((every, until)) if now < until => every,
            _ => self.interval,
        }
    }

    /// How long poll may wait before [`Health::tick`] has work.
    fn timeout_ms(&self) -> i32 {
        if self.running.is_some() {
            return 50; // to reap it
        }
        let left = self.next.saturating_duration_since(Instant::now());
        left.as_millis().min(i32::MAX as u128) as i32
    }

    /// Reap a finished check; start one when it is time.
    fn tick(&mut self) {
        if let Some(pid) = self.running {
            let mut st = 0;
            // SAFETY: waitpid on our own child, without blocking.
            if unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } == 0 {
                return;
            }
            self.running = None;
            if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 {
                self.start = None; // healthy: the start period is over
            }
        }
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + self.current_interval(now);
        // (fork + exec by hand: std's process spawning would add ~100 KiB
        // of code, most of it resident)
        // SAFETY: this process has one thread; the child only exec's
        // (its stdio is the monitor's: /dev/null) or _exits.
        match unsafe { libc::fork() } {
            0 => {
                let _ = exec(&self.command);
                // SAFETY: end the child at once.
                unsafe { libc::_exit(127) }
            }
            pid if pid > 0 => self.running = Some(pid),
            _ => {}
        }
    }
}

/// Copy both pipes into `log` until both end, or the container has exited
/// and they stayed quiet for a while (a process it left may hold them);
/// the exit code, reaped.  While the container runs, `health` is run at
/// its interval.
pub fn relay(
    pid: i32,
    fds: [RawFd; 2],
    log: &mut LogWriter,
    mut health: Option<&mut Health>,
    mut attach: Option<&mut Attach>,
) -> i32 {
    let pidfd = pidfd_open(pid);
    let mut open = [fds[0] >= 0, fds[1] >= 0];
    let mut code = None;
    let mut buf = [0u8; 16 * 1024];
    while open[0] || open[1] {
        let extra = attach.as_deref().map(Attach::fds).unwrap_or_default();
        let mut pfd: Vec<libc::pollfd> = [fds[0], fds[1], pidfd]
            .into_iter()
            .chain(extra)
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        for i in 0..2 {
            if !open[i] {
                pfd[i].fd = -1;
            }
        }
        if code.is_some() {
            pfd[2].fd = -1;
        }
        let timeout = match (&code, &health) {
            (Some(_), _) => 200,
            (None, Some(h)) => h.timeout_ms(),
            (None, None) => -1,
        };
        // SAFETY: poll on an array we own.
        let n = unsafe { libc::poll(pfd.as_mut_ptr(), pfd.len() as libc::nfds_t, timeout) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        if n == 0 && code.is_some() {
            break; // exited, and nothing more came
        }
        if code.is_none() {
            if let Some(h) = health.as_deref_mut() {
                h.tick();
            }
        }
        for (i, stream) in [(0, Stream::Stdout), (1, Stream::Stderr)] {
            if open[i] && pfd[i].revents != 0 {
                // SAFETY: read into a buffer we own.
                let k = unsafe { libc::read(fds[i], buf.as_mut_ptr().cast(), buf.len()) };
                match k {
                    k if k > 0 => {
                        log.data(stream, &buf[..k as usize]);
                        if let Some(a) = attach.as_deref_mut() {
                            a.broadcast(&buf[..k as usize]);
                        }
                    }
                    k if k < 0
                        && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
                    _ => {
                        open[i] = false;
                        log.end(stream);
                    }
                }
            }
        }
        if pidfd < 0 || pfd[2].revents != 0 {
            code = Some(reap(pid));
        }
        if let Some(a) = attach.as_deref_mut() {
            let ready: Vec<bool> = pfd[3..].iter().map(|p| p.revents != 0).collect();
            a.handle(&ready);
        }
    }
    log.end(Stream::Stdout);
    log.end(Stream::Stderr);
    code.unwrap_or_else(|| reap(pid))
}

/// Point stdin, stdout and stderr at /dev/null.
fn null_stdio() {
    // SAFETY: open a constant path; dup2 onto the standard descriptors.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

/// Exec `cmd` (a path and its arguments); returns only when that fails.
fn exec(cmd: &[OsString]) -> std::io::Error {
    let args: Vec<CString> = match cmd
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
    {
        Ok(a) => a,
        Err(_) => return std::io::ErrorKind::InvalidInput.into(),
    };
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: a NUL-terminated argv of C strings that outlive the call.
    unsafe { libc::execv(argv[0], argv.as_ptr()) };
    std::io::Error::last_os_error()
}

/// Be the monitor: relay, reap, write the exit file, exec the exit
/// command.  Returns (an exit status) only when that exec fails.
pub fn run(a: Args) -> i32 {
    null_stdio();
    let mut log = LogWriter::open(a.log.clone());
    let mut health = (a.health_interval_ms > 0).then(|| {
        Health::new(
            Duration::from_millis(a.health_interval_ms),
            a.health_command.clone(),
        )
        .with_start_period(
            Duration::from_millis(a.health_start_period_ms),
            Duration::from_millis(a.health_start_interval_ms),
        )
    });
    let mut attach = a
        .attach_socket
        .as_deref()
        .and_then(|p| Attach::bind(p, a.input_fd).ok());
    if let Some(at) = &mut attach {
        if a.wait_attach {
            at.keep_for_first_client();
        }
        // a terminal's size is set through the control socket
        // SAFETY: isatty on a descriptor we hold.
        if unsafe { libc::isatty(a.stdout_fd) } == 1 {
            if let Some(p) = &a.attach_socket {
                let _ = at.control(&p.with_file_name(CONTROL_SOCKET), a.stdout_fd);
            }
        }
    }
    crate::trim::trim();
    let code = relay(
        a.pid,
        [a.stdout_fd, a.stderr_fd],
        &mut log,
        health.as_mut(),
        attach.as_mut(),
    );
    let exit = Exit {
        code,
        time: time::now_nanos(),
    };
    if let Some(at) = &mut attach {
        at.wait_first_client(5000);
    }
    drop(log);
    // SAFETY: the pipes are ours; the exit command needs none of them.
    unsafe {
        libc::close(a.stdout_fd);
        libc::close(a.stderr_fd);
    }
    let _ = exit::write(&a.exit_dir, exit);
    // attached clients see the end once the exit file is there
    drop(attach);
    if let Some(p) = &a.attach_socket {
        let _ = std::fs::remove_file(p);
        let _ = std::fs::remove_file(p.with_file_name(CONTROL_SOCKET));
    }
    let _ = exec(&a.exit_command);
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn arguments() {
        let a = parse_args(args(
            "--pid 7 --stdout-fd 3 --stderr-fd 4 --log-path /c/log --log-driver k8s-file \
             --log-max-size 100 --log-max-file 3 --exit-dir /c -- /bin/nook x",
        ))
        .unwrap();
        assert_eq!((a.pid, a.stdout_fd, a.stderr_fd), (7, 3, 4));
        assert_eq!(a.log.driver, Driver::K8sFile);
        assert_eq!((a.log.max_size, a.log.max_file), (100, 3));
        assert_eq!(a.exit_command, args("/bin/nook x"));
        let e = parse_args(args("--pid 7 --log-driver syslog")).unwrap_err();
        assert!(e.contains("\"syslog\""), "{e}");
        let e = parse_args(args("--pid x")).unwrap_err();
        assert!(e.contains("\"x\""), "{e}");
        assert!(parse_args(args("--pid 7 --stdout-fd 3 --stderr-fd 4")).is_err());
    }

    // the child is reaped by relay(), not by Child::wait
    #[allow(clippy::zombie_processes)]
    #[test]
    fn relays_and_reaps() {
        // a child writing to both pipes, exiting 3
        let d = tempfile::tempdir().unwrap();
        let mut out = [0; 2];
        let mut err = [0; 2];
        // SAFETY: pipes into arrays we own.
        unsafe {
            assert_eq!(libc::pipe2(out.as_mut_ptr(), libc::O_CLOEXEC), 0);
            assert_eq!(libc::pipe2(err.as_mut_ptr(), libc::O_CLOEXEC), 0);
        }
        let child = std::process::Command::new("sh")
            .args([
                "-c",
                "echo out; echo err >&2; printf tail; sleep 1.5; exit 3",
            ])
            .stdout(dup(out[1]))
            .stderr(dup(err[1]))
            .spawn()
            .unwrap();
        // SAFETY: the write ends are the child's now.
        unsafe {
            libc::close(out[1]);
            libc::close(err[1]);
        }
        let mut log = LogWriter::open(LogConfig {
            driver: Driver::K8sFile,
            path: d.path().join("log"),
            max_size: 0,
            max_file: 1,
        });
        let marks = d.path().join("marks");
        let mut health = Health::new(
            Duration::from_millis(100),
            ["/bin/sh", "-c", &format!("echo x >> {}", marks.display())]
                .map(OsString::from)
                .to_vec(),
        );
        let code = relay(
            child.id() as i32,
            [out[0], err[0]],
            &mut log,
            Some(&mut health),
            None,
        );
        assert_eq!(code, 3);
        // the health command ran while it did (a second and a half)
        let n = std::fs::read_to_string(&marks).unwrap().lines().count();
        assert!((5..=16).contains(&n), "{n} checks");
        let text = std::fs::read_to_string(d.path().join("log")).unwrap();
        let lines: Vec<&str> = text.lines().map(|l| &l[31..]).collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines.contains(&"stdout F out") && lines.contains(&"stderr F err"));
        assert!(lines.contains(&"stdout P tail"), "{text}");
    }

    fn dup(fd: RawFd) -> std::process::Stdio {
        use std::os::fd::FromRawFd;
        // SAFETY: a fresh duplicate we hand over to Stdio.
        unsafe { std::process::Stdio::from_raw_fd(libc::dup(fd)) }
    }
}
