//! Network namespaces: a namespace kept alive by a file (a bind mount of the
//! nsfs inode, as `ip netns` and Podman do), anonymous namespaces kept alive
//! by a file descriptor, and running a closure inside a namespace on a
//! short-lived thread of ours (the caller's thread never changes namespace).

use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::statfs::fstatfs;

use crate::error::{Errno, Error, Result};

/// The nsfs file system's magic number (`NSFS_MAGIC` in linux/magic.h).
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// `NS_GET_NSTYPE` (linux/nsfs.h: `_IO(0xb7, 0x3)`).
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// The calling thread's own network namespace file.
const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

/// An open network namespace: it lives at least as long as this value.
#[derive(Debug)]
pub struct Netns {
    fd: OwnedFd,
    path: PathBuf,
}

impl Netns {
    /// Opens the network namespace at `path` (a namespace file or
    /// `/proc/PID/ns/net`); errors when it is missing or not a network
    /// namespace.
    pub fn open(path: impl AsRef<Path>) -> Result<Netns> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Error::Path {
                op: "open network namespace",
                path: path.to_path_buf(),
                errno: io_errno(&e),
            })?;
        let fd = OwnedFd::from(file);
        check_netns(&fd, path)?;
        Ok(Netns {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The calling thread's current network namespace.
    pub fn current() -> Result<Netns> {
        Netns::open(THREAD_NETNS)
    }

    /// A new network namespace with nothing in it but a down `lo`, alive as
    /// long as the returned value (or anything it is bound to) lives.
    pub fn new_anonymous() -> Result<Netns> {
        on_thread("create network namespace", || {
            unshare(CloneFlags::CLONE_NEWNET).map_err(|errno| Error::Sys {
                op: "unshare network namespace",
                errno,
            })?;
            Netns::current()
        })
    }

    /// Creates a new network namespace bound to a new file at `path` (which
    /// must not exist; its directory must): the namespace outlives every
    /// process in it until [`remove_file`] is called.
    pub fn create_file(path: impl AsRef<Path>) -> Result<Netns> {
        let path = path.as_ref();
        let ns = Netns::new_anonymous()?;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Error::Path {
                op: "create network namespace file",
                path: path.to_path_buf(),
                errno: io_errno(&e),
            })?;
        let source = format!("/proc/self/fd/{}", ns.fd.as_raw_fd());
        if let Err(errno) = mount(
            Some(source.as_str()),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        ) {
            let _ = std::fs::remove_file(path);
            return Err(Error::Path {
                op: "bind network namespace to",
                path: path.to_path_buf(),
                errno,
            });
        }
        Ok(Netns {
            fd: ns.fd,
            path: path.to_path_buf(),
        })
    }

    /// The path this namespace was opened from (or bound to).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a short-lived thread that has entered this namespace;
    /// `op` names the work in the error if the thread cannot.
    pub fn run<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send,
        F: FnOnce() -> Result<T> + Send,
    {
        let fd = self.fd.as_fd();
        on_thread(op, move || {
            setns(fd, CloneFlags::CLONE_NEWNET).map_err(|errno| Error::Path {
                op: "enter network namespace",
                path: self.path.clone(),
                errno,
            })?;
            f()
        })
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Runs `f` inside `ns` on a short-lived thread (see [`Netns::run`]).
pub fn in_netns<T, F>(ns: &Netns, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    ns.run("run in network namespace", f)
}

/// Unmounts and removes a namespace file made by [`Netns::create_file`]; the
/// namespace itself ends when nothing else holds it. Copies of the mount in
/// other mount namespaces (a process that unshared its mounts after the
/// file was made) go too: the kernel detaches mounts on an unlinked file
/// everywhere (Linux 3.18+), so no shared mount point is needed. Returns false when there
/// was no such file (so it can be called again).
pub fn remove_file(path: impl AsRef<Path>) -> Result<bool> {
    let path = path.as_ref();
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(errno) => {
            return Err(Error::Path {
                op: "unmount network namespace",
                path: path.to_path_buf(),
                errno,
            })
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::Path {
            op: "remove network namespace file",
            path: path.to_path_buf(),
            errno: io_errno(&e),
        }),
    }
}

/// Runs `f` on a new scoped thread and returns its result: whatever the
/// thread does to its own namespaces dies with it.
pub(crate) fn on_thread<T, F>(op: &'static str, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("nook-netns".into())
            .spawn_scoped(s, f)
            .map_err(|_| Error::Thread { op })?;
        handle.join().map_err(|_| Error::Thread { op })?
    })
}

/// Checks that `fd` is a network namespace (nsfs, type CLONE_NEWNET).
fn check_netns(fd: &OwnedFd, path: &Path) -> Result<()> {
    let not = || Error::NotNetns {
        path: path.to_path_buf(),
    };
    let fs = fstatfs(fd).map_err(|errno| Error::Path {
        op: "statfs network namespace",
        path: path.to_path_buf(),
        errno,
    })?;
    if fs.filesystem_type().0 as i64 != NSFS_MAGIC {
        return Err(not());
    }
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd, which
    // is open for the duration of the call.
    let kind = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
    if kind != libc::CLONE_NEWNET {
        return Err(not());
    }
    Ok(())
}

/// The errno of an I/O error (EIO when it carries none).
pub(crate) fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}
