//! The crate's error type: each variant renders as one line naming the
//! operation, the object and, where the kernel refused, its errno.

use std::path::PathBuf;

pub use nix::errno::Errno;

/// Result of this crate's operations.
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, with the operation and the object it was applied to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel refused a netlink request.
    #[error("{op} {object}: {}", errno.desc())]
    Netlink {
        /// The operation, e.g. "create bridge".
        op: &'static str,
        /// The object, e.g. the link's name.
        object: String,
        /// The kernel's errno.
        errno: Errno,
    },
    /// A netlink reply could not be decoded.
    #[error("{op} {object}: malformed netlink reply: {reason}")]
    Decode {
        /// The operation whose reply was malformed.
        op: &'static str,
        /// The object of that operation.
        object: String,
        /// What the decoder said.
        reason: String,
    },
    /// A system call on a file (namespace file, sysctl) failed.
    #[error("{op} {}: {}", path.display(), errno.desc())]
    Path {
        /// The operation, e.g. "open network namespace".
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The errno.
        errno: Errno,
    },
    /// A system call not tied to a file failed.
    #[error("{op}: {}", errno.desc())]
    Sys {
        /// The operation, e.g. "unshare network namespace".
        op: &'static str,
        /// The errno.
        errno: Errno,
    },
    /// A file that should be a network namespace is something else.
    #[error("{}: not a network namespace", path.display())]
    NotNetns {
        /// The file.
        path: PathBuf,
    },
    /// An interface name the kernel would not accept.
    #[error("invalid interface name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A link exists under the name but is of another kind.
    #[error("{name}: exists and is not a {expected}")]
    WrongKind {
        /// The link's name.
        name: String,
        /// The kind it should have been.
        expected: &'static str,
    },
    /// A link that must exist does not.
    #[error("no interface {name} in {place}")]
    NoSuchLink {
        /// The link's name.
        name: String,
        /// Which namespace ("the host namespace", "the container").
        place: &'static str,
    },
    /// A value that cannot be used (a bad sysctl key, an address/prefix).
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// IPAM refused a subnet, an address or an allocation.
    #[error(transparent)]
    Ipam(#[from] crate::ipam::IpamError),
    /// A thread of ours that entered a namespace panicked or could not start.
    #[error("{op}: the namespace thread failed")]
    Thread {
        /// The operation run on the thread.
        op: &'static str,
    },
}

impl Error {
    /// The kernel's errno when that is what failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Netlink { errno, .. } | Error::Path { errno, .. } | Error::Sys { errno, .. } => {
                Some(*errno)
            }
            _ => None,
        }
    }

    pub(crate) fn netlink(op: &'static str, object: impl Into<String>, errno: Errno) -> Self {
        Error::Netlink {
            op,
            object: object.into(),
            errno,
        }
    }
}
