//! Descriptor and small-file helpers used on hot paths (no buffering, no
//! allocation beyond the path).

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::{retry_eintr, Errno, Result};

/// Convert a path to a C string (paths with NUL bytes are `EINVAL`).
pub fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// `open(2)` relative to `dir` (or the cwd when `None`).
pub fn openat(dir: Option<BorrowedFd<'_>>, p: &Path, flags: i32, mode: u32) -> Result<OwnedFd> {
    let c = cstr(p)?;
    let d = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    let fd = retry_eintr(|| {
        // SAFETY: valid C string, valid dirfd.
        let r = unsafe { libc::openat(d, c.as_ptr(), flags | libc::O_CLOEXEC, mode) };
        if r < 0 {
            Err(Errno::last())
        } else {
            Ok(r)
        }
    })?;
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Write `data` to an existing file in one `write(2)` (what cgroup and
/// procfs files need: one value per write).
pub fn write_file_at(dir: Option<BorrowedFd<'_>>, p: &Path, data: &[u8]) -> Result<()> {
    let fd = openat(dir, p, libc::O_WRONLY, 0)?;
    write_all(fd.as_raw_fd(), data)
}

/// Write `data` to an existing file (see [`write_file_at`]).
pub fn write_file(p: &Path, data: &[u8]) -> Result<()> {
    write_file_at(None, p, data)
}

/// Write all of `data` to `fd`.
pub fn write_all(fd: RawFd, mut data: &[u8]) -> Result<()> {
    while !data.is_empty() {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(Errno::EIO);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Mark every descriptor from `first` upwards close-on-exec.
pub fn cloexec_from(first: u32) -> Result<()> {
    // SAFETY: close_range only changes flags of our own fds.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Pre-5.11 kernels: walk /proc/self/fd.
    let dir = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd: &i32| fd >= first as i32)
        .collect();
    for fd in fds {
        set_cloexec(fd, true).ok();
    }
    Ok(())
}

/// Close every descriptor from 3 upwards except those in `keep`: what a
/// process must not hold while it resolves paths inside a container (a
/// directory of the host reached as `/proc/self/fd/N` leads out of it).
pub fn close_all_except(keep: &[RawFd]) -> Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&f| f >= 3)
        .map(|&f| f as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = 3u32;
    for k in keep.iter().copied().chain(std::iter::once(u32::MAX)) {
        if k > from {
            // SAFETY: closing our own descriptors; none of them is in use by
            // a Rust object the caller keeps (they are given in `keep`).
            let r = unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0) };
            if r < 0 {
                return Err(Errno::last());
            }
        }
        if k == u32::MAX {
            break;
        }
        from = k + 1;
    }
    Ok(())
}

/// Set or clear `FD_CLOEXEC`.
pub fn set_cloexec(fd: RawFd, on: bool) -> Result<()> {
    // SAFETY: fcntl on an fd we were given.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(Errno::last());
    }
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    if new != flags && unsafe { libc::fcntl(fd, libc::F_SETFD, new) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// `dup2`, retrying on `EINTR`/`EBUSY`.
pub fn dup2(old: RawFd, new: RawFd) -> Result<()> {
    retry_eintr(|| {
        // SAFETY: dup2 on fds we own.
        if unsafe { libc::dup2(old, new) } < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    })
}

/// Send `data` with `fds` attached (`SCM_RIGHTS`) on the socket `sock`, as one
/// `sendmsg(2)`; `MSG_NOSIGNAL`, so a closed peer is `EPIPE`, not a signal.
pub fn send_with_fds(sock: BorrowedFd<'_>, data: &[u8], fds: &[RawFd]) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(data)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    retry_eintr(|| {
        sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None).map(|_| ())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_and_cloexec() {
        let dir = std::env::temp_dir().join(format!("nook-sys-fd-{}", std::process::id()));
        std::fs::write(&dir, b"x").unwrap();
        write_file(&dir, b"hello").unwrap();
        assert_eq!(std::fs::read(&dir).unwrap(), b"hello");
        let f = openat(None, &dir, libc::O_RDONLY, 0).unwrap();
        set_cloexec(f.as_raw_fd(), false).unwrap();
        cloexec_from(f.as_raw_fd() as u32).unwrap();
        // SAFETY: reading flags of our own fd.
        let fl = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFD) };
        assert!(fl & libc::FD_CLOEXEC != 0);
        std::fs::remove_file(&dir).unwrap();
    }
}
