//! `run`: create + start, and — unless detached — stay with the container
//! like a shell stays with a job: forward signals to it, relay its terminal,
//! reap it, delete it, and hand back its exit code (128+N for signal N).

use std::os::fd::{AsRawFd, OwnedFd};

use nook_sys::Errno;

use crate::container::{CreateOpts, Runtime};
use crate::error::{Error, Result};

/// Signals blocked while `run` waits: delivered through a signalfd.
fn all_signals() -> libc::sigset_t {
    // SAFETY: initialising a sigset.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut s);
        for sync in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGTRAP,
            libc::SIGSYS,
        ] {
            libc::sigdelset(&mut s, sync);
        }
        s
    }
}

/// Restores the terminal mode of our stdin on drop.
struct RawMode(Option<libc::termios>);

impl RawMode {
    fn enter() -> RawMode {
        // SAFETY: termios calls on stdin.
        unsafe {
            if libc::isatty(0) == 0 {
                return RawMode(None);
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) < 0 {
                return RawMode(None);
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawMode(Some(saved))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restoring the saved mode.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

fn copy_winsize(from: i32, to: i32) {
    // SAFETY: ioctls with a valid winsize buffer.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// The exit code of a wait status, shell style.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

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

impl Runtime {
    /// Create and start a container; unless detached, wait for it, delete
    /// it and return its exit code.
    pub fn run(&self, opts: &CreateOpts, ro: RunOpts) -> Result<i32> {
        if ro.detach {
            self.create(opts)?;
            if let Err(e) = self.start(&opts.id) {
                let _ = self.delete(&opts.id, true);
                return Err(e);
            }
            return Ok(0);
        }
        if !ro.no_subreaper {
            // SAFETY: plain prctl.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        }
        let sfd = block_signals()?;
        let mut fg = opts.clone();
        fg.foreground = true;
        let created = self.create(&fg)?;
        if let Err(e) = self.start(&opts.id) {
            let _ = self.delete(&opts.id, true);
            return Err(e);
        }
        let status = wait_loop(created.pid, sfd, created.pty_master);
        let code = match status {
            Ok(s) => exit_code(s),
            Err(e) => {
                let _ = self.delete(&opts.id, true);
                return Err(e);
            }
        };
        if !ro.keep {
            self.delete(&opts.id, true)?;
        }
        Ok(code)
    }
}

/// Block (nearly) every signal and return a signalfd that receives them;
/// the mask from before is what container processes start with.
pub fn block_signals() -> Result<OwnedFd> {
    let set = all_signals();
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: blocking signals so they queue for the signalfd.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old) };
    crate::init::set_original_sigmask(old);
    // SAFETY: a signalfd for the blocked set.
    let sfd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if sfd < 0 {
        return Err(Error::sys("signalfd")(Errno::last()));
    }
    // SAFETY: fresh fd.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(sfd) })
}

/// Wait for `pid` to exit, forwarding signals to it and relaying its
/// terminal; returns its wait status.
pub fn wait_loop(pid: i32, sfd: OwnedFd, pty: Option<OwnedFd>) -> Result<i32> {
    let _raw = pty.as_ref().map(|_| RawMode::enter());
    if let Some(m) = &pty {
        copy_winsize(0, m.as_raw_fd());
    }
    let mut status = None;
    let mut stdin_open = pty.is_some();
    let mut master_open = pty.is_some();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if status.is_some() && !master_open {
            break;
        }
        let mut pfds = vec![libc::pollfd {
            fd: sfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(m) = &pty {
            if master_open {
                pfds.push(libc::pollfd {
                    fd: m.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            if stdin_open && status.is_none() {
                pfds.push(libc::pollfd {
                    fd: 0,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        // Once the process is gone, drain the pty without blocking forever.
        let timeout = if status.is_some() { 100 } else { -1 };
        // SAFETY: valid pollfd array.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
        if r < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Error::sys("poll")(Errno::last()));
        }
        if r == 0 && status.is_some() {
            break;
        }
        for p in &pfds {
            if p.revents == 0 {
                continue;
            }
            if p.fd == sfd.as_raw_fd() {
                let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
                // SAFETY: reading one siginfo.
                let n = unsafe {
                    libc::read(
                        sfd.as_raw_fd(),
                        (&mut si as *mut libc::signalfd_siginfo).cast(),
                        std::mem::size_of::<libc::signalfd_siginfo>(),
                    )
                };
                if n <= 0 {
                    continue;
                }
                match si.ssi_signo as i32 {
                    libc::SIGCHLD => loop {
                        let mut st = 0;
                        // SAFETY: reaping children (we are a subreaper).
                        let w = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
                        if w <= 0 {
                            break;
                        }
                        if w == pid {
                            status = Some(st);
                        }
                    },
                    libc::SIGWINCH => {
                        if let Some(m) = &pty {
                            copy_winsize(0, m.as_raw_fd());
                        }
                    }
                    libc::SIGPIPE => {}
                    s => {
                        // SAFETY: forwarding to the container's process.
                        unsafe { libc::kill(pid, s) };
                    }
                }
            } else if p.fd == 0 {
                // SAFETY: read from stdin into our buffer.
                let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    stdin_open = false;
                } else if let Some(m) = &pty {
                    let _ = nook_sys::fd::write_all(m.as_raw_fd(), &buf[..n as usize]);
                }
            } else if let Some(m) = &pty {
                // SAFETY: read from the pty master.
                let n = unsafe { libc::read(m.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    master_open = false;
                } else {
                    let _ = nook_sys::fd::write_all(1, &buf[..n as usize]);
                }
            }
        }
    }
    match status {
        Some(s) => Ok(s),
        None => Err(Error::Init("lost track of the container's process".into())),
    }
}
