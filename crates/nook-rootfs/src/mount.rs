//! `mount(2)` through descriptors: the target is `/proc/self/fd/N` of an
//! `O_PATH` descriptor resolved inside the rootfs, so the kernel never
//! re-walks a path an image could have planted symlinks in.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use nook_sys::fd::cstr;
use nook_sys::path::proc_fd_path;
use nook_sys::Errno;

/// `mount(2)` with path arguments.
pub fn mount_path(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) -> Result<(), Errno> {
    let src = source.map(cstr).transpose()?;
    let tgt = cstr(target)?;
    let ty = fstype
        .map(|t| CString::new(t).map_err(|_| Errno::EINVAL))
        .transpose()?;
    let dat = data
        .filter(|d| !d.is_empty())
        .map(|d| CString::new(d).map_err(|_| Errno::EINVAL))
        .transpose()?;
    // SAFETY: valid C strings or null pointers.
    let r = unsafe {
        libc::mount(
            src.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            tgt.as_ptr(),
            ty.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags as libc::c_ulong,
            dat.as_ref().map_or(std::ptr::null(), |s| s.as_ptr().cast()),
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Lazily unmount (`MNT_DETACH`) the mount at `target`, and everything below it.
pub fn detach(target: &Path) -> Result<(), Errno> {
    let c = cstr(target)?;
    // SAFETY: valid C string.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `mount(2)` onto the object behind `target`.
pub fn mount_at(
    source: Option<&Path>,
    target: BorrowedFd<'_>,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) -> Result<(), Errno> {
    mount_path(source, &proc_fd_path(target), fstype, flags, data)
}

/// Bind-remount the mount behind `target` with `flags` (e.g. `MS_RDONLY`),
/// keeping the per-mount flags it already has (see [`preserved_flags`])
/// except those in `cleared`.
pub fn bind_remount(target: BorrowedFd<'_>, flags: u64, cleared: u64) -> Result<(), Errno> {
    let keep = preserved_flags(target) & !cleared;
    mount_at(
        None,
        target,
        None,
        (libc::MS_BIND | libc::MS_REMOUNT) as u64 | flags | keep,
        None,
    )
}

/// Per-mount flags of the mount holding `fd` that a remount must keep
/// (the kernel locks them in user namespaces): nosuid, nodev, noexec and the
/// access-time mode.
pub fn preserved_flags(fd: BorrowedFd<'_>) -> u64 {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: fstatvfs fills st on success.
    if unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) } < 0 {
        return 0;
    }
    // SAFETY: initialised above.
    let f = unsafe { st.assume_init() }.f_flag;
    let mut out = 0u64;
    for (st_flag, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f & st_flag != 0 {
            out |= ms as u64;
        }
    }
    out
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(2)` with `AT_RECURSIVE` on the mount tree at `fd`.
pub fn setattr_recursive(fd: BorrowedFd<'_>, set: u64, clr: u64) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, attr of the right size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Make the mount that contains `path` private (pivot_root refuses a new
/// root whose parent mount is shared).
pub fn make_parent_private(path: &Path) -> Result<(), Errno> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").map_err(|_| Errno::EIO)?;
    let mut best: Option<String> = None;
    for line in mi.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        let mp = nook_sys::proc::unescape_mountinfo(mp);
        if path.starts_with(&mp) && best.as_ref().is_none_or(|b| mp.len() > b.len()) {
            best = Some(mp);
        }
    }
    let mp = best.unwrap_or_else(|| "/".into());
    mount_path(None, Path::new(&mp), None, libc::MS_PRIVATE as u64, None)
}
