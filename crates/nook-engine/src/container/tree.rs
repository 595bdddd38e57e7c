//! File trees handled by descriptor, never through a path a link could
//! redirect: each entry is opened relative to its parent's descriptor
//! with `O_NOFOLLOW`, links are read and re-made as links.  Filling a new
//! volume from the image's content at its target (owners, modes, times,
//! links, device nodes, as Docker copies it) and the file-level parts of
//! `cp`.

use crate::{Error, Result};
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How deep a tree may go.
const MAX_DEPTH: usize = 512;

pub(crate) fn cname(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(r: libc::c_int) -> io::Result<()> {
    match r {
        0.. => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// `fstatat` of `name` in `dir`, a link itself.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<libc::stat> {
    let c = cname(name)?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: valid descriptor, C string and buffer; filled on success.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH,
        )
    })?;
    // SAFETY: initialised by fstatat.
    Ok(unsafe { st.assume_init() })
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)`.
pub(crate) fn open_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let c = cname(name)?;
    // SAFETY: valid descriptor and C string.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    };
    check(fd)?;
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The names in directory `dir` (not `.`, `..`), read through the
/// descriptor (no /proc path: a process in a container's mount namespace
/// may have none).
pub(crate) fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let own = open_at(dir, OsStr::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let raw = std::os::fd::IntoRawFd::into_raw_fd(own);
    // SAFETY: fdopendir takes the descriptor (closed by closedir).
    let d = unsafe { libc::fdopendir(raw) };
    if d.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed: the descriptor is still ours.
        unsafe { libc::close(raw) };
        return Err(e);
    }
    let mut names = Vec::new();
    loop {
        // SAFETY: a stream from fdopendir; readdir's entry is valid until
        // the next call, and its name is copied before it.
        let ent = unsafe { libc::readdir(d) };
        if ent.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated.
        let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
        let b = name.to_bytes();
        if b != b"." && b != b".." {
            names.push(OsStr::from_bytes(b).to_os_string());
        }
    }
    // SAFETY: the stream from fdopendir, closed once.
    unsafe { libc::closedir(d) };
    names.sort();
    Ok(names)
}

/// Make `name` in `dir` as `st` describes it (a directory, an empty
/// regular file opened for writing, a link to `link`, a node).
pub(crate) fn make_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    st_mode: u32,
    rdev: u64,
    link: Option<&Path>,
) -> io::Result<Option<File>> {
    let c = cname(name)?;
    let raw = dir.as_raw_fd();
    match st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            // SAFETY: valid descriptor and C string.
            match check(unsafe { libc::mkdirat(raw, c.as_ptr(), 0o700) }) {
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    // an existing directory is kept; anything else is not
                    let st = lstat_at(dir, name)?;
                    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                        return Err(e);
                    }
                }
                r => r?,
            }
            Ok(None)
        }
        libc::S_IFREG => {
            let f = open_at(
                dir,
                name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                0o600,
            )?;
            Ok(Some(File::from(f)))
        }
        libc::S_IFLNK => {
            let t = cname(link.unwrap_or(Path::new("")).as_os_str())?;
            // SAFETY: valid descriptor and C strings.
            check(unsafe { libc::symlinkat(t.as_ptr(), raw, c.as_ptr()) })?;
            Ok(None)
        }
        libc::S_IFSOCK => Ok(None),
        kind => {
            // SAFETY: valid descriptor and C string.
            check(unsafe { libc::mknodat(raw, c.as_ptr(), kind | 0o600, rdev) })?;
            Ok(None)
        }
    }
}

/// Give `name` in `dir` the owner, mode and times of `st` (a link: owner
/// and times only).
pub(crate) fn set_attrs(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    st: &libc::stat,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    let c = cname(name)?;
    let raw = dir.as_raw_fd();
    let (uid, gid) = owner.unwrap_or((st.st_uid, st.st_gid));
    // SAFETY: valid descriptor and C string.
    check(unsafe { libc::fchownat(raw, c.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) })?;
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        // SAFETY: valid descriptor and C string.
        check(unsafe { libc::fchmodat(raw, c.as_ptr(), st.st_mode & 0o7777, 0) })?;
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
    // SAFETY: valid descriptor, C string and two timespecs.
    check(unsafe { libc::utimensat(raw, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
}

/// Copy the content of directory `src` into directory `dst`.
fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    for name in list(src)? {
        let st = lstat_at(src, &name)?;
        let kind = st.st_mode & libc::S_IFMT;
        let link = match kind {
            libc::S_IFLNK => Some(nook_sys::path::readlinkat(src, &name).map_err(io::Error::from)?),
            _ => None,
        };
        let out = make_at(dst, &name, st.st_mode, st.st_rdev, link.as_deref())?;
        if let Some(mut out) = out {
            let mut input = File::from(open_at(src, &name, libc::O_RDONLY, 0)?);
            io::copy(&mut input, &mut out)?;
        }
        if kind == libc::S_IFDIR {
            let s = open_at(src, &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            let d = open_at(dst, &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            copy_dir(s.as_fd(), d.as_fd(), depth + 1)?;
        }
        if kind != libc::S_IFSOCK {
            set_attrs(dst, &name, &st, None)?;
        }
    }
    Ok(())
}

/// Fill the volume directory `data`, when it is empty, with the content
/// of `target` in the root `root` (resolved inside it), and give it the
/// owner and mode of `target` (as Docker fills a new volume).
pub fn populate(root: BorrowedFd<'_>, target: &Path, data: &Path) -> Result<()> {
    let io_err = |op| move |e: io::Error| Error::io(op, data)(e);
    let dst = File::open(data).map_err(io_err("open"))?;
    if !list(dst.as_fd()).map_err(io_err("read"))?.is_empty() {
        return Ok(());
    }
    let src =
        match nook_sys::path::open_in_root(root, target, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
            Ok(fd) => fd,
            Err(nook_sys::Errno::ENOENT | nook_sys::Errno::ENOTDIR) => return Ok(()),
            Err(e) => {
                return Err(Error::io("open the image's", target)(io::Error::from(e)));
            }
        };
    copy_dir(src.as_fd(), dst.as_fd(), 0).map_err(io_err("fill the volume"))?;
    let st = nook_sys::path::fstat(src.as_fd()).map_err(|e| io_err("stat")(io::Error::from(e)))?;
    // SAFETY: valid descriptor.
    check(unsafe { libc::fchown(dst.as_raw_fd(), st.st_uid, st.st_gid) })
        .map_err(io_err("set the owner of"))?;
    // SAFETY: valid descriptor.
    check(unsafe { libc::fchmod(dst.as_raw_fd(), st.st_mode & 0o7777) })
        .map_err(io_err("set the mode of"))
}
