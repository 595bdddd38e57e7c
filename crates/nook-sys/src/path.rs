//! Resolving paths *inside* a container's root file system.
//!
//! Every mount destination, masked path and device node is resolved with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: a symlink planted in an
//! image (`/proc -> /host/etc`, `../../..`) is followed as if the rootfs were
//! `/`, so it can never lead outside (the CVE-2021-30465 class of escapes).

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use crate::fd::cstr;
use crate::{retry_eintr, Errno, Result};

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(2)` with the given resolve flags.
pub fn openat2(
    dir: BorrowedFd<'_>,
    p: &Path,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd> {
    let c = cstr(p)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    let fd = retry_eintr(|| {
        // SAFETY: valid pointers and size for openat2.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r < 0 {
            Err(Errno::last())
        } else {
            Ok(r as i32)
        }
    })?;
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Normalise `p` to a relative path without `.`/`..`/root components, the way
/// it would resolve lexically from `/` (`..` at the top stays at the top).
pub fn clean_relative(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Open `p` inside `root` as if `root` were `/`.
pub fn open_in_root(root: BorrowedFd<'_>, p: &Path, flags: i32, mode: u32) -> Result<OwnedFd> {
    let rel = clean_relative(p);
    let rel: &Path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &rel
    };
    openat2(
        root,
        rel,
        flags,
        mode,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// The target of the symlink `name` in `dir`.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &OsStr) -> Result<PathBuf> {
    let c = cstr(Path::new(name))?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: readlinkat into our buffer.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            c.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(Errno::last());
    }
    buf.truncate(n as usize);
    Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
}

/// Make every missing directory of `p` inside `root` and return an `O_PATH`
/// descriptor of the last one.  Existing symlinks are followed within
/// `root`; a dangling one gets its target created, inside `root`.
pub fn mkdir_all_in_root(root: BorrowedFd<'_>, p: &Path, mode: u32) -> Result<OwnedFd> {
    let rel = clean_relative(p);
    // Fast path: it usually exists already.
    match open_in_root(root, &rel, libc::O_PATH | libc::O_DIRECTORY, 0) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let mut todo: std::collections::VecDeque<std::ffi::OsString> = rel
        .components()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut done = PathBuf::new();
    let mut hops = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            done.pop();
            continue;
        }
        if name == "." || name.is_empty() {
            continue;
        }
        let cand = done.join(&name);
        match open_in_root(root, &cand, libc::O_PATH | libc::O_DIRECTORY, 0) {
            Ok(_) => {
                done = cand;
                continue;
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let parent = open_in_root(root, &done, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        match readlinkat(parent.as_fd(), &name) {
            Ok(target) => {
                // A dangling symlink: continue with its target, still
                // inside the root.
                hops += 1;
                if hops > 40 {
                    return Err(Errno::ELOOP);
                }
                if target.is_absolute() {
                    done = PathBuf::new();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => todo.push_front(n.to_os_string()),
                        Component::ParentDir => todo.push_front("..".into()),
                        _ => {}
                    }
                }
            }
            Err(Errno::EINVAL) | Err(Errno::ENOENT) => {
                let c = cstr(Path::new(&name))?;
                // SAFETY: valid dirfd and C string.
                if unsafe { libc::mkdirat(parent.as_raw_fd(), c.as_ptr(), mode) } < 0 {
                    let e = Errno::last();
                    if e != Errno::EEXIST {
                        return Err(e);
                    }
                }
                done = cand;
            }
            Err(e) => return Err(e),
        }
    }
    open_in_root(root, &done, libc::O_PATH | libc::O_DIRECTORY, 0)
}

/// Make sure a regular file exists at `p` inside `root` (creating parents),
/// for use as a bind-mount target; returns an `O_PATH` descriptor of it.
pub fn create_file_in_root(root: BorrowedFd<'_>, p: &Path, mode: u32) -> Result<OwnedFd> {
    let rel = clean_relative(p);
    match open_in_root(root, &rel, libc::O_PATH, 0) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = rel.parent() {
        mkdir_all_in_root(root, parent, 0o755)?;
    }
    match open_in_root(
        root,
        &rel,
        libc::O_CREAT | libc::O_RDONLY | libc::O_NOCTTY,
        mode,
    ) {
        Ok(_) | Err(Errno::EISDIR) => {}
        Err(e) => return Err(e),
    }
    open_in_root(root, &rel, libc::O_PATH, 0)
}

/// The path under `/proc/self/fd` that names `fd`: a mount target that the
/// kernel will not re-resolve through symlinks.
pub fn proc_fd_path(fd: impl AsFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

/// `fstat` of a descriptor.
pub fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills the buffer on success.
    if unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: initialised by fstat.
    Ok(unsafe { st.assume_init() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nook-sys-path-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn clean() {
        assert_eq!(
            clean_relative(Path::new("/a/../../b/./c")),
            PathBuf::from("b/c")
        );
        assert_eq!(clean_relative(Path::new("/")), PathBuf::new());
    }

    #[test]
    fn symlink_escape_stays_inside() {
        let d = tmpdir("escape");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // An absolute link and a dot-dot link that would leave the root.
        symlink("/", root.join("abs")).unwrap();
        symlink("../../../../..", root.join("etc/up")).unwrap();
        let rfd = crate::fd::openat(None, &root, libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        let a = mkdir_all_in_root(rfd.as_fd(), Path::new("/abs/newdir"), 0o755).unwrap();
        let b = mkdir_all_in_root(rfd.as_fd(), Path::new("/etc/up/other"), 0o755).unwrap();
        assert!(
            root.join("newdir").is_dir(),
            "absolute link must resolve inside the root"
        );
        assert!(
            root.join("other").is_dir(),
            "dot-dot link must stop at the root"
        );
        let st = fstat(a.as_fd()).unwrap();
        let want = std::fs::metadata(root.join("newdir")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(st.st_ino, want.ino());
        drop(b);
        // A dangling link gets its target made, inside the root.
        symlink("/made/by/link", root.join("dangling")).unwrap();
        mkdir_all_in_root(rfd.as_fd(), Path::new("/dangling/sub"), 0o755).unwrap();
        assert!(root.join("made/by/link/sub").is_dir());
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            mkdir_all_in_root(rfd.as_fd(), Path::new("/loop/x"), 0o755).unwrap_err(),
            Errno::ELOOP
        );
        let f = create_file_in_root(rfd.as_fd(), Path::new("/abs/x/file"), 0o644).unwrap();
        drop(f);
        assert!(root.join("x/file").is_file());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
