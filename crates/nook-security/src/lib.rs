//! Confinement of the container's processes.
//!
//! - [`caps`]: the five capability sets (bounding, effective, permitted,
//!   inheritable, ambient) and `no_new_privs`;
//! - [`seccomp`]: `linux.seccomp` compiled with libseccomp, cached as BPF by
//!   profile hash, loaded with `seccomp(2)` as late as possible, and the
//!   `SCMP_ACT_NOTIFY` listener hand-off;
//! - [`exe`]: the sealed, in-memory exec trampoline: the container's program
//!   is started from it, so `/proc/self/exe` at that moment is never the
//!   runtime's (writable) binary (CVE-2019-5736);
//! - [`lsm`]: AppArmor profiles and SELinux labels.

#![warn(missing_docs)]

pub mod caps;
pub mod exe;
pub mod lsm;
pub mod seccomp;

/// Security errors.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A capability name is not known.
    #[error("unknown capabilities: {0}")]
    UnknownCapability(String),
    /// A capability syscall failed.
    #[error("{op}: {errno}")]
    Caps {
        /// What we were doing.
        op: String,
        /// Why.
        errno: nook_sys::Errno,
    },
    /// The seccomp profile is invalid or cannot be loaded.
    #[error("seccomp: {0}")]
    Seccomp(String),
    /// An LSM label cannot be applied.
    #[error("{0}")]
    Lsm(String),
    /// The exec trampoline failed.
    #[error("exec: {0}")]
    Exec(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, SecurityError>;

/// Set `no_new_privs`.
pub fn set_no_new_privs() -> Result<()> {
    // SAFETY: plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        return Err(SecurityError::Caps {
            op: "set no_new_privs".into(),
            errno: nook_sys::Errno::last(),
        });
    }
    Ok(())
}
