//! Handles of the processes the library starts for its caller: a
//! container's first process and `exec`'d ones.  Each is the caller's own
//! child, held by a pidfd, and waited for through it — never with
//! `waitpid(-1)`, which could reap a child that belongs to someone else in
//! the caller.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::error::{Error, Result};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl ExitStatus {
    /// The status as a shell reports it: the code, or 128+N for signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }

    /// From a `waitpid` status word.
    pub fn from_wait_status(st: i32) -> ExitStatus {
        if libc::WIFSIGNALED(st) {
            ExitStatus::Signaled(libc::WTERMSIG(st))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(st))
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exit status {c}"),
            ExitStatus::Signaled(s) => write!(f, "killed by {}", nook_sys::signal::name(*s)),
        }
    }
}

/// A process the library started, a child of the caller.
#[derive(Debug)]
pub struct Child {
    /// Its pid, in the caller's pid namespace.
    pub pid: i32,
    /// A pidfd of it: poll it for its exit, signal it without pid reuse.
    pub pidfd: OwnedFd,
    /// The pty master, when it has a terminal and the caller asked for the
    /// master back.
    pub pty_master: Option<OwnedFd>,
}

impl Child {
    /// Wait until it exits and reap it.
    pub fn wait(&self) -> Result<ExitStatus> {
        wait(self.pidfd.as_fd())
    }

    /// Whether it has exited (without reaping it), waiting up to `timeout`.
    pub fn has_exited(&self, timeout: Option<Duration>) -> bool {
        nook_sys::pidfd::wait_exit(self.pidfd.as_fd(), timeout).unwrap_or(true)
    }

    /// Send it `sig`.
    pub fn signal(&self, sig: i32) -> Result<()> {
        nook_sys::pidfd::send_signal(self.pidfd.as_fd(), sig).map_err(Error::sys(format!(
            "send {} to process {}",
            nook_sys::signal::name(sig),
            self.pid
        )))
    }
}

/// Wait for the child held by `pidfd` to exit, and reap it.
pub fn wait(pidfd: BorrowedFd<'_>) -> Result<ExitStatus> {
    loop {
        // SAFETY: a zeroed siginfo for waitid to fill in.
        let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid(P_PIDFD) on a pidfd we were lent, into `si`.
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut si,
                libc::WEXITED | libc::__WALL,
            )
        };
        if r < 0 {
            let e = nook_sys::Errno::last();
            if e == nook_sys::Errno::EINTR {
                continue;
            }
            return Err(Error::sys("wait for the process")(e));
        }
        // SAFETY: waitid filled in a CLD_* siginfo; its status field is
        // valid for these codes.
        let status = unsafe { si.si_status() };
        return Ok(match si.si_code {
            libc::CLD_KILLED | libc::CLD_DUMPED => ExitStatus::Signaled(status),
            _ => ExitStatus::Exited(status),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_shell_style() {
        assert_eq!(ExitStatus::Exited(3).code(), 3);
        assert_eq!(ExitStatus::Signaled(9).code(), 137);
        assert_eq!(ExitStatus::Signaled(9).to_string(), "killed by SIGKILL");
        assert_eq!(ExitStatus::from_wait_status(0x0100), ExitStatus::Exited(1));
    }
}
