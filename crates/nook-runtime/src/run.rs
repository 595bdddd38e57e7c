//! Staying with a container or an exec'd process in the foreground, as a
//! shell stays with a job (`run` without `--detach`, `exec` without
//! `--detach`): the runtime becomes a child subreaper, blocks signals and
//! takes them from a signalfd to forward them, relays the terminal, reaps,
//! and hands back the exit code (128+N for signal N).  This is the command
//! line's business: the library changes nothing of its caller.

use std::os::fd::{AsRawFd, OwnedFd};

use nook_container::Error;
use nook_sys::Errno;

type Result<T> = std::result::Result<T, Error>;

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

/// Block (nearly) every signal and return a signalfd that receives them,
/// and the mask from before (what container processes start with).
pub fn block_signals() -> Result<(OwnedFd, libc::sigset_t)> {
    let set = all_signals();
    // SAFETY: a zeroed sigset for the old mask.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: blocking signals so they queue for the signalfd.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old) };
    // SAFETY: a signalfd for the blocked set.
    let sfd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if sfd < 0 {
        return Err(Error::sys("signalfd")(Errno::last()));
    }
    // SAFETY: a fresh descriptor from signalfd, owned here.
    Ok((unsafe { std::os::fd::FromRawFd::from_raw_fd(sfd) }, old))
}

/// Become a child subreaper: processes the container leaves behind are
/// reparented to us and reaped in [`wait_loop`].
pub fn become_subreaper() {
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
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
                // SAFETY: signalfd_siginfo is plain data; all-zero is a valid value.
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
        None => Err(Error::Setup("lost track of the container's process".into())),
    }
}
