//! `tmpcopyup`: copy what the image has at a mount point into the tmpfs
//! mounted over it (Podman uses it for `--read-only` containers).  Works on
//! descriptors only, never following symlinks.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nook_sys::Errno;

fn check(r: libc::c_int) -> Result<(), Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

fn fstatat(dir: BorrowedFd<'_>, name: &CStr) -> Result<libc::stat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstatat fills st on success.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: initialised.
    Ok(unsafe { st.assume_init() })
}

fn set_meta(dir: BorrowedFd<'_>, name: &CStr, st: &libc::stat, symlink: bool) -> Result<(), Errno> {
    // SAFETY: *at calls on a directory fd we hold.
    unsafe {
        check(libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.st_uid,
            st.st_gid,
            libc::AT_SYMLINK_NOFOLLOW,
        ))?;
        if !symlink {
            check(libc::fchmodat(
                dir.as_raw_fd(),
                name.as_ptr(),
                st.st_mode & 0o7777,
                0,
            ))?;
        }
        let times = [
            libc::timespec {
                tv_sec: st.st_atime,
                tv_nsec: st.st_atime_nsec,
            },
            libc::timespec {
                tv_sec: st.st_mtime,
                tv_nsec: st.st_mtime_nsec,
            },
        ];
        check(libc::utimensat(
            dir.as_raw_fd(),
            name.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        ))
    }
}

fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
    // SAFETY: openat on a dir fd; O_NOFOLLOW so a symlink is never entered.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn entries(dir: BorrowedFd<'_>) -> Result<Vec<CString>, Errno> {
    let dot = c".";
    let d = open_dir(dir, dot)?;
    let mut out = Vec::new();
    // SAFETY: fdopendir takes ownership of the fd.
    let dp = unsafe { libc::fdopendir(d.as_raw_fd()) };
    if dp.is_null() {
        return Err(Errno::last());
    }
    std::mem::forget(d);
    loop {
        // SAFETY: readdir on a valid DIR*.
        let e = unsafe { libc::readdir(dp) };
        if e.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*e).d_name.as_ptr()) };
        if name != c"." && name != c".." {
            out.push(name.to_owned());
        }
    }
    // SAFETY: closes the DIR* and its fd.
    unsafe { libc::closedir(dp) };
    Ok(out)
}

fn copy_file(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    st: &libc::stat,
) -> Result<(), Errno> {
    // SAFETY: openat with O_NOFOLLOW on directory fds we hold.
    let s = unsafe {
        libc::openat(
            src.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd.
    let s = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: as above.
    let d = unsafe {
        libc::openat(
            dst.as_raw_fd(),
            name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600,
        )
    };
    if d < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd.
    let d = unsafe { OwnedFd::from_raw_fd(d) };
    let mut left = st.st_size as usize;
    while left > 0 {
        // SAFETY: sendfile between two fds we own.
        let n = unsafe {
            libc::sendfile(
                d.as_raw_fd(),
                s.as_raw_fd(),
                std::ptr::null_mut(),
                left.min(1 << 30),
            )
        };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        left -= n as usize;
    }
    Ok(())
}

/// Copy the content of directory `src` into directory `dst` (recursively,
/// keeping owners, modes and times), and `src`'s own metadata onto `dst`.
pub fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<(), Errno> {
    let dot = c".";
    for name in entries(src)? {
        let st = fstatat(src, &name)?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                // SAFETY: mkdirat on our dir fd.
                check(unsafe { libc::mkdirat(dst.as_raw_fd(), name.as_ptr(), 0o700) })?;
                let s = open_dir(src, &name)?;
                let d = open_dir(dst, &name)?;
                copy_tree(s.as_fd(), d.as_fd())?;
            }
            libc::S_IFREG => {
                copy_file(src, dst, &name, &st)?;
                set_meta(dst, &name, &st, false)?;
            }
            libc::S_IFLNK => {
                let target = nook_sys::path::readlinkat(src, OsStr::from_bytes(name.to_bytes()))?;
                let target = nook_sys::fd::cstr(&target)?;
                // SAFETY: symlinkat in our dir fd.
                check(unsafe { libc::symlinkat(target.as_ptr(), dst.as_raw_fd(), name.as_ptr()) })?;
                set_meta(dst, &name, &st, true)?;
            }
            _ => {
                // SAFETY: mknodat for fifos, sockets and device nodes.
                check(unsafe {
                    libc::mknodat(dst.as_raw_fd(), name.as_ptr(), st.st_mode, st.st_rdev)
                })?;
                set_meta(dst, &name, &st, false)?;
            }
        }
    }
    let st = fstatat(src, dot)?;
    set_meta(dst, dot, &st, false)
}
