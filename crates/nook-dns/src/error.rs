//! The library's errors: each one line naming what was wrong.

use std::path::PathBuf;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call on a file, directory, socket or process failed.
    #[error("{op} {what}: {err}")]
    Io {
        /// What was done.
        op: &'static str,
        /// To what.
        what: String,
        /// The error.
        err: std::io::Error,
    },
    /// A records file is bad.
    #[error(transparent)]
    Records(#[from] crate::records::RecordsError),
    /// Another responder serves this records directory.
    #[error("nook-dns already serves {dir} (pid {pid})")]
    AlreadyRunning {
        /// The records directory.
        dir: PathBuf,
        /// The responder's pid (0: not known yet).
        pid: i32,
    },
    /// The responder could not be started.
    #[error("cannot start {program}: {why}")]
    Start {
        /// The program.
        program: PathBuf,
        /// Why.
        why: String,
    },
    /// A bad command-line argument.
    #[error("{arg}: {why}")]
    Usage {
        /// The argument.
        arg: String,
        /// What is wrong.
        why: &'static str,
    },
}

impl Error {
    /// A closure making an [`Error::Io`] about `what`.
    pub fn io(op: &'static str, what: impl AsDisplay) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.text();
        move |err| Error::Io { op, what, err }
    }
}

/// Something an error can name: a path or a string.
pub trait AsDisplay {
    /// Its text.
    fn text(&self) -> String;
}

impl AsDisplay for &PathBuf {
    fn text(&self) -> String {
        self.display().to_string()
    }
}

impl AsDisplay for &std::path::Path {
    fn text(&self) -> String {
        self.display().to_string()
    }
}

impl AsDisplay for String {
    fn text(&self) -> String {
        self.clone()
    }
}

impl AsDisplay for &str {
    fn text(&self) -> String {
        self.to_string()
    }
}
