//! nook-image: the image half of the engine's pull path.
//!
//! It owns getting image content onto this machine, verified, and saying
//! what was got: it does not unpack layers (nook-storage does) and keeps
//! no image metadata such as tags (the engine's metadata store does).
//!
//! - [`reference`]: image references parsed and normalised as Docker does.
//! - [`auth`]: registry credentials in the `auth.json` format of Podman and
//!   skopeo (and Docker's `config.json`): read, write, remove.
//! - [`registry`]: a client for the OCI distribution API (manifests, blobs,
//!   bearer-token and basic authentication, HTTPS with the system roots).
//! - [`manifest`]: manifests and indexes parsed and classified by media
//!   type; platforms and their selection.
//! - [`store`]: a content-addressed blob store (`blobs/sha256/<hex>`) with
//!   atomic, locked, resumable ingests.
//! - [`pull`]: a whole image pulled into the store, layers in parallel,
//!   with per-layer progress.
//! - [`archive`]: `docker save` archives and OCI image layouts read into the
//!   store and written from it.
//! - [`progress`]: per-layer progress events for a front end to draw.
//! - [`digest`]: hashing content while it streams.

#![warn(missing_docs)]

pub mod archive;
pub mod auth;
pub mod digest;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod store;

pub use archive::{load_archive, write_docker_archive, write_oci_archive, Loaded, SaveImage};
pub use auth::{AuthConfig, Credentials};
pub use manifest::{Compression, Image, Layer, Platform};
pub use oci_spec::image::Digest;
pub use progress::{NoProgress, Progress, ProgressEvent};
pub use pull::{pull, PullOptions, Pulled};
pub use reference::Reference;
pub use registry::{Client, ClientOptions};
pub use store::Store;

use std::path::PathBuf;

/// Everything that can go wrong getting, checking and keeping image
/// content; each renders as one line naming what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An image reference that does not parse.
    #[error("invalid reference {reference:?}: {reason}")]
    Reference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A registry refused our credentials, or wants credentials we lack.
    #[error("authentication to {registry} failed: {message}")]
    Auth {
        /// The registry host.
        registry: String,
        /// What went wrong.
        message: String,
    },
    /// A credentials file that cannot be read, parsed or written.
    #[error("credentials file {path}: {message}")]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A registry answered with an error status.
    #[error("{url}: HTTP {status}: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error message, or the status text.
        message: String,
    },
    /// No answer from a registry: connection, TLS or a broken transfer.
    #[error("{url}: {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What failed.
        message: String,
    },
    /// Content whose digest is not the one it was asked for by.
    #[error("digest mismatch: content of {digest} hashes to {got}")]
    DigestMismatch {
        /// The digest asked for.
        digest: Digest,
        /// The digest of what came.
        got: Digest,
    },
    /// Content whose size is not the one its descriptor says.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {got}")]
    SizeMismatch {
        /// The content's digest.
        digest: Digest,
        /// The size its descriptor gives.
        expected: u64,
        /// The size that came (or more, when it came too long).
        got: u64,
    },
    /// Content of a kind nook does not handle.
    #[error("unsupported media type {media_type}: {reason}")]
    Unsupported {
        /// Its media type.
        media_type: String,
        /// Why it is refused.
        reason: String,
    },
    /// An index or manifest list with no image for the wanted platform.
    #[error("no image for platform {wanted} in {reference} (available: {})", available.join(", "))]
    NoPlatform {
        /// The reference pulled.
        reference: String,
        /// The platform wanted.
        wanted: String,
        /// The platforms the index has.
        available: Vec<String>,
    },
    /// A document (manifest, index, config, archive entry) that is not
    /// what it claims to be.
    #[error("invalid {what} {name}: {message}")]
    Invalid {
        /// What kind of document.
        what: &'static str,
        /// Which one (digest, path or reference).
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// A blob the store does not have.
    #[error("blob {digest} is not in the store")]
    NotFound {
        /// Its digest.
        digest: Digest,
    },
    /// A file-system operation that failed.
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
        name: impl ToString,
        message: impl ToString,
    ) -> Error {
        Error::Invalid {
            what,
            name: name.to_string(),
            message: message.to_string(),
        }
    }
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
