//! The error type of the lifecycle: one variant per thing a caller may want
//! to tell apart, each rendering as one line that names it.

use std::path::PathBuf;

use crate::state::Status;

/// An operation on an existing container, for [`Error::WrongStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `start`: needs a created container.
    Start,
    /// `exec`: needs a created, running (or, when asked, paused) one.
    Exec,
    /// `kill`: needs a created, running or paused one.
    Signal,
    /// `delete`: needs a stopped one (or `force`).
    Delete,
    /// `pause`: needs a running one.
    Pause,
    /// `resume`: needs a paused one.
    Resume,
    /// `update`: needs one that is not stopped.
    Update,
}

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
    #[error("container {id:?} does not exist")]
    NotFound {
        /// The id.
        id: String,
    },
    /// A container with this id exists already.
    #[error("container {id:?} already exists")]
    Exists {
        /// The id.
        id: String,
    },
    /// `create` of this container has not finished.
    #[error("container {id:?} is still being created")]
    StillCreating {
        /// The id.
        id: String,
    },
    /// The operation is not valid in the container's current status.
    #[error("{}", wrong_status(id, *op, *status))]
    WrongStatus {
        /// The id.
        id: String,
        /// What was asked.
        op: Op,
        /// The status it is in.
        status: Status,
    },
    /// `start` of a container whose configuration has no process.
    #[error("cannot start container {id:?}: its config.json has no process to run")]
    NoProcess {
        /// The id.
        id: String,
    },
    /// The container's first process exited before it could be started.
    #[error("cannot start container {id:?}: its process {when}{how}")]
    Exited {
        /// The id.
        id: String,
        /// "has exited" or "exited before it started".
        when: &'static str,
        /// How it ended (" (exit status 1)"), when known.
        how: String,
    },
    /// The configuration (config.json, a process, a request) is wrong.
    #[error("{}{reason}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    InvalidConfig {
        /// The file it came from, when there is one.
        path: Option<PathBuf>,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A value the caller passed (an exec sub-cgroup, a console socket) is
    /// wrong.
    #[error("{0}")]
    InvalidInput(String),
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
    /// The container's own process reported a failure during setup, or went
    /// away; the text is its own.
    #[error("{0}")]
    Setup(String),
    /// A hook failed (an OCI command hook or an in-process one).
    #[error("{phase} hook {which}: {reason}")]
    Hook {
        /// `prestart`, `createRuntime`, ...
        phase: String,
        /// `#0 (/usr/bin/x)` for a command hook, the name of an in-process one.
        which: String,
        /// Why: exit status and last line of stderr, a timeout, an error.
        reason: String,
    },
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

fn wrong_status(id: &str, op: Op, status: Status) -> String {
    match op {
        Op::Start => format!("cannot start container {id:?}: it is {status}, not created"),
        Op::Exec => format!("cannot exec in container {id:?}: it is {status}"),
        Op::Signal => format!("cannot signal container {id:?}: it is {status}"),
        Op::Delete => format!(
            "cannot delete container {id:?}: it is {status} (stop it first, or use --force)"
        ),
        Op::Pause => format!("cannot pause container {id:?}: it is {status}, not running"),
        Op::Resume => format!("cannot resume container {id:?}: it is {status}, not paused"),
        Op::Update => format!("cannot update container {id:?}: it is {status}"),
    }
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

    /// An `InvalidConfig` error without a file.
    pub fn config(reason: impl Into<String>) -> Error {
        Error::InvalidConfig {
            path: None,
            reason: reason.into(),
        }
    }

    /// A `WrongStatus` error.
    pub fn status(id: &str, op: Op, status: Status) -> Error {
        Error::WrongStatus {
            id: id.to_string(),
            op,
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_is_wrong() {
        assert_eq!(
            Error::status("c1", Op::Start, Status::Running).to_string(),
            "cannot start container \"c1\": it is running, not created"
        );
        assert_eq!(
            Error::status("c1", Op::Delete, Status::Running).to_string(),
            "cannot delete container \"c1\": it is running (stop it first, or use --force)"
        );
        assert_eq!(
            Error::InvalidConfig {
                path: Some("/b/config.json".into()),
                reason: "line 1, column 2: oops".into()
            }
            .to_string(),
            "/b/config.json: line 1, column 2: oops"
        );
        assert_eq!(
            Error::Hook {
                phase: "poststop".into(),
                which: "#0 (/bin/sh)".into(),
                reason: "exit status 4".into()
            }
            .to_string(),
            "poststop hook #0 (/bin/sh): exit status 4"
        );
    }
}
