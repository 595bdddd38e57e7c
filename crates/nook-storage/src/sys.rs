//! The `*at` syscalls the unpacker and the store use, on a directory
//! descriptor and one NUL-terminated name (no path walking of their own:
//! every parent directory is resolved with `openat2` first), plus `flock`,
//! `syncfs`, `renameat2` and the new mount API.  Crate-private.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nook_sys::path::openat2;
use nook_sys::{retry_eintr, Errno, Result};

/// `RESOLVE_NO_MAGICLINKS`: no `/proc/self/fd`-style jumps.
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// `RESOLVE_NO_SYMLINKS`: a symlink anywhere in the path is `ELOOP`.
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
/// `RESOLVE_IN_ROOT`: the directory is `/` for the lookup.
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Resolve flags for every path inside a layer: in the layer's root, and
/// through no symlink at all (a symlink on the way is refused, never
/// followed).
pub(crate) const IN_LAYER: u64 = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;

/// Map a libc return value to `Result`.
fn check(r: libc::c_int) -> Result<()> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Wrap a fresh descriptor returned by the kernel.
fn owned(r: libc::c_long) -> Result<OwnedFd> {
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a descriptor the kernel just returned and nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// `openat2(dir, p, flags, mode)` inside the layer (see [`IN_LAYER`]).
pub(crate) fn open_in_layer(
    dir: BorrowedFd<'_>,
    p: &Path,
    flags: i32,
    mode: u32,
) -> Result<OwnedFd> {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    openat2(dir, p, flags, mode, IN_LAYER)
}

/// `openat(dir, name)` of one name (never a path: the caller resolved the
/// parent), with `O_NOFOLLOW | O_CLOEXEC` added.
pub(crate) fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd> {
    retry_eintr(|| {
        // SAFETY: valid dirfd and NUL-terminated name.
        let r = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                mode,
            )
        };
        owned(r as libc::c_long)
    })
}

/// `mkdirat(dir, name, mode)`.
pub(crate) fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<()> {
    // SAFETY: valid dirfd and NUL-terminated name.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) })
}

/// `symlinkat(target, dir, name)`.
pub(crate) fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> Result<()> {
    // SAFETY: valid C strings and dirfd.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
}

/// `linkat(odir, oname, ndir, nname, 0)`: a hard link to `oname` itself
/// (a symlink there is linked, not followed).
pub(crate) fn linkat(
    odir: BorrowedFd<'_>,
    oname: &CStr,
    ndir: BorrowedFd<'_>,
    nname: &CStr,
) -> Result<()> {
    // SAFETY: valid C strings and dirfds.
    check(unsafe {
        libc::linkat(
            odir.as_raw_fd(),
            oname.as_ptr(),
            ndir.as_raw_fd(),
            nname.as_ptr(),
            0,
        )
    })
}

/// `mknodat(dir, name, mode, dev)`.
pub(crate) fn mknodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32, dev: libc::dev_t) -> Result<()> {
    // SAFETY: valid dirfd and NUL-terminated name.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) })
}

/// `unlinkat(dir, name, flags)`.
pub(crate) fn unlinkat(dir: BorrowedFd<'_>, name: &CStr, flags: i32) -> Result<()> {
    // SAFETY: valid dirfd and NUL-terminated name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
pub(crate) fn lstatat(dir: BorrowedFd<'_>, name: &CStr) -> Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstatat fills the buffer on success.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: initialised by a successful fstatat.
    Ok(unsafe { st.assume_init() })
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`; an empty name
/// with `AT_EMPTY_PATH` changes `dir` itself.
pub(crate) fn lchownat(dir: BorrowedFd<'_>, name: &CStr, uid: u32, gid: u32) -> Result<()> {
    let flags = if name.is_empty() {
        libc::AT_EMPTY_PATH
    } else {
        libc::AT_SYMLINK_NOFOLLOW
    };
    // SAFETY: valid dirfd and NUL-terminated name.
    check(unsafe { libc::fchownat(dir.as_raw_fd(), name.as_ptr(), uid, gid, flags) })
}

/// `fchmod(fd, mode)`.
pub(crate) fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> Result<()> {
    // SAFETY: valid descriptor.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })
}

/// `fchmodat(dir, name, mode)` of a name that is not a symlink.
pub(crate) fn fchmodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<()> {
    // SAFETY: valid dirfd and NUL-terminated name.
    check(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) })
}

/// Set atime and mtime of `name` in `dir` (not following a symlink; an
/// empty name means `dir` itself, which must then be a real descriptor).
pub(crate) fn set_times(dir: BorrowedFd<'_>, name: &CStr, t: libc::timespec) -> Result<()> {
    let times = [t, t];
    if name.is_empty() {
        // SAFETY: valid descriptor and two timespecs.
        return check(unsafe { libc::futimens(dir.as_raw_fd(), times.as_ptr()) });
    }
    // SAFETY: valid dirfd, name and two timespecs.
    check(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            name.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// `fsetxattr(fd, name, value)`.
pub(crate) fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> Result<()> {
    // SAFETY: valid descriptor, name and value buffer.
    check(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// `lsetxattr(path, name, value)`: for symlinks, named through their
/// parent's `/proc/self/fd` entry so that no path is walked again.
pub(crate) fn lsetxattr(path: &Path, name: &CStr, value: &[u8]) -> Result<()> {
    let p = nook_sys::fd::cstr(path)?;
    // SAFETY: valid C strings and value buffer.
    check(unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// `renameat2(odir, oname, ndir, nname, RENAME_NOREPLACE)`.
pub(crate) fn rename_noreplace(
    odir: BorrowedFd<'_>,
    oname: &CStr,
    ndir: BorrowedFd<'_>,
    nname: &CStr,
) -> Result<()> {
    // SAFETY: valid dirfds and C strings.
    check(unsafe {
        libc::renameat2(
            odir.as_raw_fd(),
            oname.as_ptr(),
            ndir.as_raw_fd(),
            nname.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    })
}

/// `syncfs(fd)`: flush the whole file system `fd` is on, once.
pub(crate) fn syncfs(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: valid descriptor.
    check(unsafe { libc::syncfs(fd.as_raw_fd()) })
}

/// `flock(fd, op)`, retrying on `EINTR`.
pub(crate) fn flock(fd: BorrowedFd<'_>, op: i32) -> Result<()> {
    // SAFETY: valid descriptor.
    retry_eintr(|| check(unsafe { libc::flock(fd.as_raw_fd(), op) }))
}

/// `fstat(fd)`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat> {
    nook_sys::path::fstat(fd)
}

/// Random hex for temporary names (`getrandom(2)`, no process state).
pub(crate) fn random_hex() -> String {
    let mut b = [0u8; 8];
    // SAFETY: writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        // Fall back on the clock and pid: unique enough with EEXIST retries.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b = (t ^ ((std::process::id() as u64) << 32)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `fsopen(fstype)`.
pub(crate) fn fsopen(fstype: &CStr) -> Result<OwnedFd> {
    // SAFETY: valid C string; returns a new descriptor or -1.
    owned(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) })
}

/// `fsconfig(fd, FSCONFIG_SET_STRING or FSCONFIG_SET_FLAG, key, value)`.
pub(crate) fn fsconfig(fd: BorrowedFd<'_>, key: &CStr, value: Option<&CStr>) -> Result<()> {
    let (cmd, v) = match value {
        Some(v) => (libc::FSCONFIG_SET_STRING, v.as_ptr()),
        None => (libc::FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: valid descriptor and C strings (or NULL for a flag).
    let r = unsafe { libc::syscall(libc::SYS_fsconfig, fd.as_raw_fd(), cmd, key.as_ptr(), v, 0) };
    check(r as libc::c_int)
}

/// `fsconfig(fd, FSCONFIG_CMD_CREATE)` then `fsmount`: a detached mount.
pub(crate) fn fs_create_mount(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    // SAFETY: valid descriptor; no pointers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fd.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    check(r as libc::c_int)?;
    // SAFETY: valid descriptor; returns a new descriptor or -1.
    owned(unsafe { libc::syscall(libc::SYS_fsmount, fd.as_raw_fd(), libc::FSMOUNT_CLOEXEC, 0) })
}

/// `move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH)`.
pub(crate) fn move_mount(mnt: BorrowedFd<'_>, target: &Path) -> Result<()> {
    let t = nook_sys::fd::cstr(target)?;
    let empty = CString::default();
    // SAFETY: valid descriptor and C strings.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    check(r as libc::c_int)
}

/// `mount("overlay", target, "overlay", 0, data)`: the classic API.
pub(crate) fn mount_overlay_legacy(target: &Path, data: &CStr) -> Result<()> {
    let t = nook_sys::fd::cstr(target)?;
    let ov = c"overlay";
    // SAFETY: valid C strings.
    check(unsafe {
        libc::mount(
            ov.as_ptr(),
            t.as_ptr(),
            ov.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    })
}

/// `umount2(target, flags)`.
pub(crate) fn umount2(target: &Path, flags: i32) -> Result<()> {
    let t = nook_sys::fd::cstr(target)?;
    // SAFETY: valid C string.
    check(unsafe { libc::umount2(t.as_ptr(), flags) })
}
