//! The engine's side: start the responder of a store root when none
//! runs ([`Responder::ensure`]), tell it to read its records again
//! ([`Responder::notify`], SIGHUP; it also watches the directory), stop
//! it ([`Responder::stop`]).
//!
//! `ensure` takes the pid file's lock itself and hands it to the
//! responder it starts (the lock is the open file's, shared across fork
//! and exec), so two callers never start two responders.  The responder
//! is detached as the monitor is: fork, `setsid`, fork again, stdio on
//! /dev/null, then exec; it reports over a pipe once it serves.  Only
//! async-signal-safe calls happen between fork and exec (everything is
//! prepared before), so a multi-threaded caller is fine, and nothing of
//! the caller's process is changed.

use crate::records;
use crate::server::Options;
use crate::sys::{self, PidLock};
use crate::Error;
use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long `ensure` waits for a responder to say it serves.
const READY_WAIT: Duration = Duration::from_secs(5);

/// The responder of one store root.
#[derive(Debug, Clone)]
pub struct Responder {
    /// The nook-dns program.
    pub program: PathBuf,
    /// How it runs (records directory, port, resolv.conf, timeout).
    pub options: Options,
    /// Its pid file (and lock).
    pub pid_file: PathBuf,
}

/// What [`Responder::ensure`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// A responder was started: its pid.
    Started(i32),
    /// One runs already: its pid.
    Running(i32),
    /// No records file: nothing to serve, none started.
    Idle,
}

impl Responder {
    /// The responder of records directory `records_dir`, started from
    /// `program`, its pid file `.nook-dns.pid` in that directory (files
    /// starting with `.` are never records).
    pub fn new(program: PathBuf, records_dir: PathBuf) -> Responder {
        Responder {
            program,
            pid_file: records_dir.join(".nook-dns.pid"),
            options: Options::new(records_dir),
        }
    }

    /// The program's arguments (without the descriptors `ensure` adds);
    /// paths made absolute (the responder runs in `/`).
    pub fn args(&self) -> Vec<OsString> {
        let o = &self.options;
        let abs =
            |p: &PathBuf| OsString::from(std::path::absolute(p).unwrap_or_else(|_| p.clone()));
        let mut a: Vec<OsString> = vec!["--records".into(), abs(&o.records_dir)];
        a.extend(["--pid-file".into(), abs(&self.pid_file)]);
        a.extend(["--port".into(), o.port.to_string().into()]);
        a.extend(["--resolv-conf".into(), abs(&o.resolv_conf)]);
        let ms = o.timeout.as_millis().to_string();
        a.extend(["--timeout-ms".into(), ms.into()]);
        a
    }

    /// The pid of the running responder, if one runs.
    pub fn pid(&self) -> Option<i32> {
        sys::running_pid(&self.pid_file)
    }

    /// Make sure a responder serves the records directory (call after
    /// writing a records file): start one unless one runs.
    pub fn ensure(&self) -> Result<Ensured, Error> {
        let dir = &self.options.records_dir;
        let files = records::list_files(dir).map_err(Error::io("read", dir))?;
        if files.is_empty() {
            return Ok(Ensured::Idle);
        }
        match PidLock::take(&self.pid_file).map_err(Error::io("lock", &self.pid_file))? {
            Some(lock) => self.start(lock),
            None => self.wait_running().map(Ensured::Running),
        }
    }

    /// The lock is held: by a responder, or by another `ensure` about to
    /// start one (its pid comes once it serves).
    fn wait_running(&self) -> Result<i32, Error> {
        let deadline = Instant::now() + READY_WAIT;
        loop {
            if let Some(pid) = self.pid() {
                return Ok(pid);
            }
            if Instant::now() > deadline {
                return Err(Error::Start {
                    program: self.program.clone(),
                    why: format!(
                        "{} is locked but names no running process",
                        self.pid_file.display()
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Tell the running responder to read its records again; false when
    /// none runs.
    pub fn notify(&self) -> Result<bool, Error> {
        self.signal(libc::SIGHUP)
    }

    /// Stop the running responder (SIGTERM); false when none runs.
    pub fn stop(&self) -> Result<bool, Error> {
        self.signal(libc::SIGTERM)
    }

    fn signal(&self, sig: libc::c_int) -> Result<bool, Error> {
        let Some(pid) = self.pid() else {
            return Ok(false);
        };
        // SAFETY: kill sends a signal; pid was checked to be the
        // responder (its start time matches the pid file's).
        if unsafe { libc::kill(pid, sig) } < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ESRCH) {
                return Ok(false);
            }
            return Err(Error::io("signal", format!("nook-dns pid {pid}"))(e));
        }
        Ok(true)
    }

    /// Start the responder, handing it `lock`; its pid once it serves
    /// (idle: the records went meanwhile, and so did it).
    fn start(&self, lock: PidLock) -> Result<Ensured, Error> {
        let fail = |why: String| Error::Start {
            program: self.program.clone(),
            why,
        };
        let (r, w) = pipe().map_err(|e| fail(format!("pipe: {e}")))?;
        let mut args = self.args();
        args.extend(["--lock-fd".into(), lock.fd().to_string().into()]);
        args.extend(["--ready-fd".into(), w.as_raw_fd().to_string().into()]);
        let program = std::path::absolute(&self.program).unwrap_or_else(|_| self.program.clone());
        let exec =
            Exec::new(&program, &args).ok_or_else(|| fail("a NUL byte in an argument".into()))?;
        exec.spawn(&[lock.fd(), w.as_raw_fd()])
            .map_err(|e| fail(format!("fork: {e}")))?;
        drop(w);
        drop(lock); // the responder's copy holds the lock now
        let line = read_report(r);
        let mut f = line.split_ascii_whitespace();
        match (f.next(), f.next().and_then(|p| p.parse().ok())) {
            (Some("ok"), Some(pid)) => Ok(Ensured::Started(pid)),
            (Some("idle"), _) => Ok(Ensured::Idle),
            _ if line.is_empty() => Err(fail("it ended before it reported".into())),
            _ => Err(fail(line.trim_start_matches("error ").to_string())),
        }
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors, owned at once.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both were just made and are ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The responder's report: one line (empty when it ended without one or
/// did not report in time).
fn read_report(r: OwnedFd) -> String {
    let deadline = Instant::now() + READY_WAIT;
    let mut f = std::fs::File::from(r);
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i32;
        match sys::poll_read(&[f.as_raw_fd()], left) {
            Ok(v) if v[0] => {}
            _ => break,
        }
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if out.contains(&b'\n') {
            break;
        }
    }
    let s = String::from_utf8_lossy(&out);
    s.lines().next().unwrap_or("").to_string()
}

/// A program and its arguments, ready to exec after fork.
struct Exec {
    argv: Vec<CString>,
    null: OwnedFd,
}

impl Exec {
    fn new(program: &std::path::Path, args: &[OsString]) -> Option<Exec> {
        let mut argv = vec![CString::new(program.as_os_str().as_encoded_bytes()).ok()?];
        for a in args {
            argv.push(CString::new(a.as_encoded_bytes()).ok()?);
        }
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .ok()?;
        Some(Exec {
            argv,
            null: null.into(),
        })
    }

    /// Fork, setsid, fork, exec with stdio on /dev/null and `keep`
    /// inherited; waits for the intermediate child only.
    fn spawn(&self, keep: &[RawFd]) -> std::io::Result<()> {
        let mut ptrs: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        // SAFETY: all zero is a valid sigset_t, then emptied.
        let mut empty: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: sigemptyset on our own set.
        unsafe { libc::sigemptyset(&mut empty) };
        // SAFETY: the child calls only async-signal-safe functions
        // (setsid, fork, dup2, fcntl, sigprocmask, chdir, execv, _exit) on
        // memory prepared before the fork, and never returns.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => Err(std::io::Error::last_os_error()),
            // SAFETY: see above.
            0 => unsafe { self.child(&ptrs, &empty, keep) },
            pid => {
                let mut st = 0;
                // SAFETY: waitpid on our own child, which ends at once.
                while unsafe { libc::waitpid(pid, &mut st, 0) } < 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
                {
                }
                Ok(())
            }
        }
    }

    /// The intermediate child: a session of its own, fork, exec.
    ///
    /// # Safety
    /// Only in a child just forked: it ends in exec or _exit.
    unsafe fn child(
        &self,
        argv: &[*const libc::c_char],
        empty: &libc::sigset_t,
        keep: &[RawFd],
    ) -> ! {
        libc::setsid();
        if libc::fork() != 0 {
            libc::_exit(0);
        }
        let null = self.null.as_raw_fd();
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        for &fd in keep {
            libc::fcntl(fd, libc::F_SETFD, 0);
        }
        libc::sigprocmask(libc::SIG_SETMASK, empty, std::ptr::null_mut());
        // (pin no mount of the caller's working directory)
        libc::chdir(c"/".as_ptr());
        libc::execv(argv[0], argv.as_ptr());
        libc::_exit(127)
    }
}
