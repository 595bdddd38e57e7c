//! The engine's errors: those of the crates it drives, passed through as
//! they are (each already one line naming what was wrong), and its own.

use std::path::PathBuf;

/// Everything an engine operation can fail with; each renders as one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Getting, checking or keeping image content (references, registries,
    /// blobs, archives).
    #[error(transparent)]
    Image(#[from] nook_image::Error),
    /// Unpacking layers or the layer store.
    #[error(transparent)]
    Storage(#[from] nook_storage::StoreError),
    /// The metadata store.
    #[error(transparent)]
    State(#[from] nook_state::Error),
    /// A file-system operation of the engine's own.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No image by that name or id.
    #[error("no such image: {0}")]
    NoSuchImage(String),
    /// An id prefix that more than one image has.
    #[error("image id prefix {prefix:?} is ambiguous: {count} images have it")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// How many images have it.
        count: usize,
    },
    /// `rmi ID` of an image tagged in several repositories, without force.
    #[error(
        "unable to delete {id} (must be forced): image is referenced in multiple repositories"
    )]
    MultipleRepositories {
        /// The image, short id.
        id: String,
    },
    /// `rmi` of an image a container uses, without force.
    #[error("unable to delete {id} (must be forced): image is in use by container {container}")]
    InUse {
        /// The image, short id.
        id: String,
        /// A container using it.
        container: String,
    },
    /// The container lifecycle library.
    #[error(transparent)]
    Container(#[from] nook_container::Error),
    /// A container's program could not be run: `code` is 127 when it was
    /// not found, 126 when it cannot be executed.
    #[error("{message}")]
    CannotRun {
        /// The exit code to report.
        code: i32,
        /// What went wrong.
        message: String,
    },
    /// An operation that needs a running container.
    #[error("container {0} is not running")]
    NotRunning(String),
    /// `rm` of a running container without force.
    #[error("cannot remove container {0}: container is running: stop the container before removing or force remove")]
    Running(String),
    /// A container's monitor that could not start it.
    #[error("container monitor: {0}")]
    Monitor(String),
    /// A resource limit that cannot be used (Docker's message).
    #[error(transparent)]
    Resources(#[from] crate::container::resources::ResourceError),
    /// `cp` to or from a container that failed.
    #[error("{message}")]
    Copy {
        /// The container, by name.
        container: String,
        /// What went wrong (naming the path).
        message: String,
    },
    /// Network namespaces, links, addresses, routes.
    #[error(transparent)]
    Network(#[from] nook_network::Error),
    /// nook's nftables rules.
    #[error(transparent)]
    Firewall(#[from] nook_network::firewall::FirewallError),
    /// A subnet or an address that cannot be used.
    #[error(transparent)]
    Ipam(#[from] nook_network::ipam::IpamError),
    /// A port that cannot be published (`-p`, `--expose`, a taken port).
    #[error(transparent)]
    Ports(#[from] crate::network::ports::PortError),
    /// A value the caller gave that cannot be used.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// What it is.
        what: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `op` on `path`.
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    /// An [`Error::Invalid`].
    pub(crate) fn invalid(
        what: &'static str,
        value: impl ToString,
        reason: impl ToString,
    ) -> Error {
        Error::Invalid {
            what,
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
