//! Low-level Linux plumbing shared by every nook crate.
//!
//! This crate owns the syscalls that `libc`/`nix` do not wrap (or wrap in a way
//! that does not fit a runtime): `clone3` with `CLONE_INTO_CGROUP`, pidfds,
//! `openat2` with `RESOLVE_IN_ROOT`, and the typed message channel that a
//! runtime process and the container process it forked talk over.  Nothing here
//! knows about the OCI spec.

#![warn(missing_docs)]

pub mod channel;
pub mod clone;
pub mod fd;
pub mod path;
pub mod pidfd;
pub mod proc;
pub mod signal;

pub use nix::errno::Errno;

/// Result of a raw syscall wrapper.
pub type Result<T> = std::result::Result<T, Errno>;

/// Retry a syscall-like closure while it fails with `EINTR`.
pub fn retry_eintr<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match f() {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}
