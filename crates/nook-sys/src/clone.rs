//! Process creation: `clone3(2)` used like `fork(2)` (no new stack), so a
//! single call can create every namespace, place the child in its cgroup
//! (`CLONE_INTO_CGROUP`) and hand back a pidfd.  Falls back to `clone(2)` when
//! the kernel or a seccomp filter refuses `clone3`.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::{Errno, Result};

/// `CLONE_INTO_CGROUP` (Linux 5.7); not in every libc.
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// `CLONE_NEWTIME` (Linux 5.6); only valid with `clone3` or `unshare`.
pub const CLONE_NEWTIME: u64 = 0x80;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What a fork-like clone returned.
pub enum Forked {
    /// We are the new process.
    Child,
    /// We are the caller; the child has this pid (and pidfd when requested).
    Parent {
        /// Pid of the child in the caller's pid namespace.
        pid: i32,
        /// A pidfd for the child, when `CLONE_PIDFD` could be used.
        pidfd: Option<OwnedFd>,
    },
}

/// Options for [`fork_with`].
#[derive(Default)]
pub struct CloneOpts<'a> {
    /// `CLONE_*` flags (namespaces, `CLONE_PARENT`, ...); never `CLONE_VM`.
    pub flags: u64,
    /// Ask for a pidfd of the child.
    pub pidfd: bool,
    /// Start the child directly in this cgroup v2 directory.
    pub cgroup: Option<BorrowedFd<'a>>,
}

/// Create a child process the way `fork` does (copy-on-write, same stack),
/// with the namespaces and cgroup given in `opts`.
///
/// # Safety
/// The caller must be single-threaded (as for `fork`): the child only gets a
/// copy of the calling thread, and must only call async-signal-safe code if
/// other threads could hold locks.
pub unsafe fn fork_with(opts: &CloneOpts<'_>) -> Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    // With CLONE_PARENT the child inherits the caller's exit signal, and
    // clone3 insists that none is given.
    let exit_signal = if opts.flags & libc::CLONE_PARENT as u64 != 0 {
        0
    } else {
        libc::SIGCHLD as u64
    };
    let mut args = CloneArgs {
        flags: opts.flags,
        exit_signal,
        ..Default::default()
    };
    if opts.pidfd {
        args.flags |= libc::CLONE_PIDFD as u64;
        args.pidfd = &mut pidfd as *mut libc::c_int as u64;
    }
    if let Some(cg) = opts.cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    let ret = libc::syscall(
        libc::SYS_clone3,
        &mut args as *mut CloneArgs,
        std::mem::size_of::<CloneArgs>(),
    );
    let ret = if ret < 0 {
        let e = Errno::last();
        // ENOSYS: old kernel or a seccomp filter that hides clone3 (as Docker's
        // default profile does).  clone(2) cannot do CLONE_INTO_CGROUP or
        // CLONE_NEWTIME; the caller falls back to joining those itself.
        if e != Errno::ENOSYS || opts.cgroup.is_some() || opts.flags & CLONE_NEWTIME != 0 {
            return Err(e);
        }
        let mut flags = opts.flags | libc::SIGCHLD as u64;
        if opts.pidfd {
            flags |= libc::CLONE_PIDFD as u64;
        }
        // x86_64/aarch64 argument order: flags, stack, parent_tid, child_tid, tls.
        // With CLONE_PIDFD the pidfd is written through parent_tid.
        let r = libc::syscall(
            libc::SYS_clone,
            flags,
            0usize,
            &mut pidfd as *mut libc::c_int,
            0usize,
            0usize,
        );
        if r < 0 {
            return Err(Errno::last());
        }
        r
    } else {
        ret
    };
    if ret == 0 {
        return Ok(Forked::Child);
    }
    let pidfd = (pidfd >= 0).then(|| OwnedFd::from_raw_fd(pidfd));
    Ok(Forked::Parent {
        pid: ret as i32,
        pidfd,
    })
}

/// True when `e` from [`fork_with`] means "this kernel cannot clone into a
/// cgroup" so that the caller should retry without it.
pub fn is_clone_into_cgroup_unsupported(e: Errno) -> bool {
    matches!(e, Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL)
}
