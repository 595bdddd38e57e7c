//! The error type of the lifecycle: one variant per thing that can be wrong,
//! each rendering as one line that names it.

use std::path::PathBuf;

/// Lifecycle errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container id is not acceptable.
    #[error("invalid container id {id:?}: {why}")]
    InvalidId {
        /// The id given.
        id: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// No container with this id.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// A container with this id exists already.
    #[error("container {0:?} already exists")]
    Exists(String),
    /// The operation is not valid in the container's current status.
    #[error("{0}")]
    Status(String),
    /// The bundle or its config.json is wrong.
    #[error("{0}")]
    Config(String),
    /// Bad command-line input (signal, flag value, ...).
    #[error("{0}")]
    Input(String),
    /// Namespaces.
    #[error(transparent)]
    Ns(#[from] nook_namespaces::NsError),
    /// cgroups.
    #[error(transparent)]
    Cgroup(#[from] nook_cgroups::CgroupError),
    /// Root file system and mounts.
    #[error(transparent)]
    Rootfs(#[from] nook_rootfs::RootfsError),
    /// Capabilities, seccomp, LSM.
    #[error(transparent)]
    Security(#[from] nook_security::SecurityError),
    /// Process attributes.
    #[error(transparent)]
    Process(#[from] nook_process::ProcessError),
    /// The container's own process reported a failure during setup.
    #[error("{0}")]
    Init(String),
    /// A hook failed.
    #[error("{0}")]
    Hook(String),
    /// A file operation on the runtime's own files failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A syscall failed.
    #[error("{op}: {errno}")]
    Sys {
        /// What we were doing.
        op: String,
        /// Why.
        errno: nook_sys::Errno,
    },
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Build an `Io` error.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    /// Build a `Sys` error.
    pub fn sys(op: impl Into<String>) -> impl FnOnce(nook_sys::Errno) -> Error {
        let op = op.into();
        move |errno| Error::Sys { op, errno }
    }
}
