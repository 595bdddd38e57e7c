//! Forking the process that becomes a container's (or an exec'd one), in a
//! way that is sound for any caller, threads or not.
//!
//! The set-up code of a container process allocates memory, formats
//! errors, opens files: in a process forked from a multi-threaded program
//! that can deadlock on a lock (malloc's, a logger's) that another thread
//! held at the moment of the fork and that no thread will ever release in
//! the copy.  So:
//!
//! - a single-threaded caller (nook-runtime, the engine's monitor) forks
//!   with one `clone3` — namespaces, `CLONE_INTO_CGROUP` — as always: the
//!   fast path;
//! - a multi-threaded caller first forks a *helper* with glibc's `fork()`,
//!   which takes malloc's locks around the fork, so the helper's heap is
//!   sound.  The helper is single-threaded; it makes the `clone3` with
//!   `CLONE_PARENT`, so that the new process is the caller's own child,
//!   writes its pid to a pipe and exits.
//!
//! Namespaces that take effect for children only (pid, time: an exec'd
//! process must be born in the container's) are entered just for that one
//! clone: by the helper, or by a single-threaded caller that returns to its
//! own right after.  The caller's namespaces never change.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nook_namespaces::{NsKind, OpenNs};
use nook_sys::clone::{fork_with, CloneOpts, Forked};
use nook_sys::Errno;

use crate::error::{Error, Result};

/// How to fork.
pub(crate) struct Spawn<'a> {
    /// `CLONE_*` flags: namespaces, `CLONE_PARENT`.
    pub flags: u64,
    /// Start the child in this cgroup v2 directory.
    pub cgroup: Option<BorrowedFd<'a>>,
    /// Pid and time namespaces the child is born in.
    pub born_in: &'a [OpenNs],
}

/// What the child is told of its birth.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Born {
    /// It was born in the cgroup asked for.
    pub in_cgroup: bool,
}

/// What came of it.
pub(crate) struct Spawned {
    /// The child's pid.
    pub pid: i32,
    /// Whether it was born in the cgroup (`CLONE_INTO_CGROUP` worked).
    pub in_cgroup: bool,
}

/// Fork a child that runs `child` (which must not return: it executes a
/// program or exits); the child is the caller's own in every case.
pub(crate) fn spawn(s: &Spawn<'_>, child: &mut dyn FnMut(Born)) -> Result<Spawned> {
    if single_threaded() {
        direct(s, child)
    } else {
        via_helper(s, child)
    }
}

/// Whether the calling process has one thread (`/proc/self/task` has two
/// links plus one per thread).  When in doubt: no.
fn single_threaded() -> bool {
    let Ok(c) = nook_sys::fd::cstr(Path::new("/proc/self/task")) else {
        return false;
    };
    // SAFETY: stat into a zeroed buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and buffer.
    unsafe { libc::stat(c.as_ptr(), &mut st) == 0 && st.st_nlink == 3 }
}

fn clone_once(s: &Spawn<'_>, flags: u64, child: &mut dyn FnMut(Born)) -> Result<Spawned> {
    let mut opts = CloneOpts {
        flags,
        pidfd: false,
        cgroup: s.cgroup,
    };
    // SAFETY: the calling process is single-threaded here (the caller
    // checked, or this is the helper), so the child's copy is sound.
    let mut r = unsafe { fork_with(&opts) };
    if let Err(e) = r {
        if opts.cgroup.is_some() && nook_sys::clone::is_clone_into_cgroup_unsupported(e) {
            // An older kernel: the child joins its cgroup later, and a
            // cgroup namespace made now would be rooted in the wrong one.
            opts.cgroup = None;
            opts.flags &= !(libc::CLONE_NEWCGROUP as u64);
            // SAFETY: as above.
            r = unsafe { fork_with(&opts) };
        }
    }
    let in_cgroup = opts.cgroup.is_some();
    match r.map_err(Error::sys("clone the container's process"))? {
        Forked::Child => {
            child(Born { in_cgroup });
            // SAFETY: `child` never returns; should it, leave at once.
            unsafe { libc::_exit(127) }
        }
        Forked::Parent { pid, .. } => Ok(Spawned { pid, in_cgroup }),
    }
}

/// The caller's own pid and time namespaces for children, to return to.
fn own_for_children(kinds: impl Iterator<Item = NsKind>) -> Result<Vec<OpenNs>> {
    kinds
        .map(|k| {
            let p = format!("/proc/thread-self/ns/{}_for_children", k.proc_name());
            Ok(nook_namespaces::open_ns(k, Path::new(&p))?)
        })
        .collect()
}

fn direct(s: &Spawn<'_>, child: &mut dyn FnMut(Born)) -> Result<Spawned> {
    if s.born_in.is_empty() {
        return clone_once(s, s.flags, child);
    }
    let back = own_for_children(s.born_in.iter().map(|n| n.kind))?;
    nook_namespaces::enter(s.born_in, |_| true)?;
    let r = clone_once(s, s.flags, child);
    // Return before anything else can fork; failing to is fatal for a
    // caller that would otherwise fork into a container's namespace later.
    if let Err(e) = nook_namespaces::enter(&back, |_| true) {
        return Err(Error::Setup(format!(
            "return to the caller's own namespaces after an exec: {e}"
        )));
    }
    r
}

fn via_helper(s: &Spawn<'_>, child: &mut dyn FnMut(Born)) -> Result<Spawned> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 into a two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(Error::sys("pipe")(Errno::last()));
    }
    // SAFETY: fresh descriptors from pipe2, owned here.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: glibc's fork(): malloc's locks are taken around it, so the
    // helper (single-threaded) may allocate; everything else it uses is
    // its own.
    let helper = unsafe { libc::fork() };
    if helper < 0 {
        return Err(Error::sys("fork a helper")(Errno::last()));
    }
    if helper == 0 {
        drop(rd);
        let r = nook_namespaces::enter(s.born_in, |_| true)
            .map_err(Error::from)
            .and_then(|_| clone_once(s, s.flags | libc::CLONE_PARENT as u64, child));
        let report: [i64; 2] = match r {
            Ok(sp) => [sp.pid as i64, sp.in_cgroup as i64],
            Err(Error::Sys { errno, .. }) => [-(errno as i64), 0],
            Err(_) => [-(libc::EINVAL as i64), 0],
        };
        // SAFETY: raw write of 16 bytes, then leave without exit handlers.
        unsafe {
            libc::write(wr.as_raw_fd(), report.as_ptr().cast(), 16);
            libc::_exit(0)
        }
    }
    drop(wr);
    let mut report = [0i64; 2];
    let n = nook_sys::retry_eintr(|| {
        // SAFETY: read into a 16-byte buffer.
        let n = unsafe { libc::read(rd.as_raw_fd(), report.as_mut_ptr().cast(), 16) };
        if n < 0 {
            Err(Errno::last())
        } else {
            Ok(n)
        }
    });
    // SAFETY: reap our helper, which exits right after writing.
    unsafe { libc::waitpid(helper, std::ptr::null_mut(), 0) };
    match n {
        Ok(16) if report[0] > 0 => Ok(Spawned {
            pid: report[0] as i32,
            in_cgroup: report[1] != 0,
        }),
        Ok(16) => Err(Error::sys("clone the container's process (helper)")(
            Errno::from_raw(-report[0] as i32),
        )),
        _ => Err(Error::Setup(
            "the helper that forks the container's process died".into(),
        )),
    }
}

/// Make the current process (a child just forked by [`spawn`]) safe to run
/// set-up code in: log nothing through the caller's subscriber, whose
/// locks it may have copied held.
pub(crate) fn in_child() {
    let guard = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
    // The child never returns to where the guard would be dropped.
    std::mem::forget(guard);
}
