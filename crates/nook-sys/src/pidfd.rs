//! pidfds: race-free handles on processes (no pid-reuse window between
//! checking a process and signalling or waiting for it).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::{Errno, Result};

/// Open a pidfd for `pid` (`pidfd_open(2)`, Linux 5.3).
pub fn open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: plain syscall; returns a new fd or -1.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a fresh fd that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// Send `sig` to the process behind `pidfd`.
pub fn send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> Result<()> {
    // SAFETY: plain syscall on a valid fd, no siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Wait until the process behind `pidfd` exits, or `timeout` passes.
/// Returns `true` when it exited.
pub fn wait_exit(pidfd: BorrowedFd<'_>, timeout: Option<Duration>) -> Result<bool> {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        return Ok(r > 0);
    }
}
