//! nook-engine: the engine the `nook` command line calls, in-process (no
//! daemon).  It owns one store root and the rules that keep its three
//! parts consistent:
//!
//! ```text
//! <root>/blobs/sha256/<hex>   nook-image's content store (manifests, configs, layer blobs)
//! <root>/ingest/              ... its blobs being written (resumable)
//! <root>/storage/             nook-storage's unpacked layers (by chain id) and rootfs
//! <root>/nook.db              nook-state's metadata (images, tags, containers)
//! <root>/containers/<id>/     a container's /etc files and log
//! <root>/run/                 nook-container's state of running containers
//! <root>/volumes/<name>/_data a volume's content
//! <root>/engine.lock          flock: shared while content is added, exclusive to free it
//! ```
//!
//! The rules: a database row is written only once everything it names is
//! on disk (so an interrupted pull leaves no visible image, and the next
//! pull completes what is there), and rows are removed before the files
//! they name.  Adding content (pull, load, import) holds `engine.lock`
//! shared; freeing content (rmi, prune) holds it exclusive, so content a
//! running pull has fetched but not yet recorded is never freed under it.
//! Concurrent pulls of one image share the blob store's per-digest ingest
//! locks and the layer store's per-chain locks: both succeed, one copy.
//!
//! - [`container`]: containers: create, run (attached, or detached under a
//!   monitor), list, stop, kill, exec, logs, remove.
//! - [`pull`]: pull, unpack, record.
//! - [`network`]: published ports.
//! - [`names`]: what a name given by a user (tag, digest, id prefix) means.
//! - [`remove`]: tag, rmi, image prune.
//! - [`archive`]: load, save, import.
//! - [`info`]: inspect (Docker's JSON) and disk usage.
//! - [`auth`]: login and logout.
//! - [`progress`]: what a pull reports as it goes.
//! - [`units`]: sizes as Docker's command line writes them.
//! - [`lock`]: the lock file between adding and freeing content.
//! - [`network`]: bridge networks, containers' network namespaces and
//!   their endpoints.

#![warn(missing_docs)]

pub mod archive;
pub mod auth;
pub mod container;
pub mod error;
pub mod info;
pub mod lock;
pub mod names;
pub mod network;
pub mod progress;
pub mod prune_filter;
pub mod pull;
pub mod remove;
pub mod units;
mod unpack;
pub mod volume;

pub use archive::{LoadedImage, SaveFormat};
pub use container::manage::{ContainerPrune, ContainerSize};
pub use container::stats::StatsSample;
pub use container::top::ProcessTable;
pub use container::{Container, ExecOptions, LiveStatus, RunOptions};
pub use error::{Error, Result};
pub use info::{DiskUsage, ImageDetails};
pub use names::ImageName;
pub use nook_image::{AuthConfig, Credentials, Digest, Platform, Reference};
pub use nook_state::{ContainerRecord, ImageRecord, NetworkRecord, Tag};
pub use progress::{NoProgress, PullEvent, PullProgress};
pub use prune_filter::PruneFilter;
pub use pull::{PullOptions, PullResult};
pub use remove::{PruneReport, Removal};
pub use volume::{Volume, VolumeOptions, VolumeUsage};

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The store root when none is given (`--root`, `NOOK_ROOT`).
pub const DEFAULT_ROOT: &str = "/var/lib/nook";

/// How the engine reaches registries and unpacks layers.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Where registry credentials are read and `login` writes them.
    pub auth: AuthConfig,
    /// Registries reached over plain HTTP or unverified TLS (loopback ones
    /// always may be).
    pub insecure_registries: Vec<String>,
    /// How layers are unpacked (ownership, devices, overlay xattrs).
    pub unpack: nook_storage::UnpackOptions,
    /// The cgroup containers' cgroups go under (default
    /// [`container::CGROUP_PARENT`]); a relative path is below the
    /// caller's own cgroup.
    pub cgroup_parent: Option<String>,
    /// The network namespace nook's bridges, host veth ends, nftables
    /// table and `--network host` containers live in (a namespace file or
    /// `/proc/PID/ns/net`); `None`: the caller's own.
    pub netns: Option<PathBuf>,
}

/// The engine on one store root.
pub struct Engine {
    root: PathBuf,
    blobs: nook_image::Store,
    layers: nook_storage::Store,
    state: nook_state::State,
    options: EngineOptions,
    client: OnceLock<nook_image::Client>,
}

impl Engine {
    /// The engine on `root` with default options (no credentials).
    pub fn open(root: impl AsRef<Path>) -> Result<Engine> {
        Engine::open_with(root, EngineOptions::default())
    }

    /// The engine on `root` (made when missing, mode 0700).
    pub fn open_with(root: impl AsRef<Path>, options: EngineOptions) -> Result<Engine> {
        let root = root.as_ref();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(Error::io("create", root))?;
        let blobs = nook_image::Store::new(root)?;
        let layers =
            nook_storage::Store::with_options(&root.join("storage"), options.unpack.clone())?;
        let state = nook_state::State::open(root.join("nook.db"))?;
        Ok(Engine {
            root: root.to_path_buf(),
            blobs,
            layers,
            state,
            options,
            client: OnceLock::new(),
        })
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blob store.
    pub fn blobs(&self) -> &nook_image::Store {
        &self.blobs
    }

    /// The layer store.
    pub fn layers(&self) -> &nook_storage::Store {
        &self.layers
    }

    /// The metadata store.
    pub fn state(&self) -> &nook_state::State {
        &self.state
    }

    /// The registry client (made on first use).
    pub(crate) fn client(&self) -> &nook_image::Client {
        self.client.get_or_init(|| {
            nook_image::Client::new(nook_image::ClientOptions {
                auth: self.options.auth.clone(),
                insecure_registries: self.options.insecure_registries.clone(),
                ..Default::default()
            })
        })
    }

    /// Every image, newest first.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        Ok(self.state.images()?)
    }
}

/// A digest of nook-storage's type as nook-image's.
pub(crate) fn to_image_digest(d: &nook_storage::Digest) -> Result<Digest> {
    Ok(Digest::from(*d))
}

/// A digest of nook-image's type as nook-storage's (sha256 only).
pub(crate) fn to_storage_digest(d: &Digest) -> Result<nook_storage::Digest> {
    nook_storage::Digest::try_from(d).map_err(|e| Error::invalid("layer digest", d, e))
}

/// An image id as Docker shows it: 12 hex digits.
pub fn short_id(id: &Digest) -> String {
    id.digest().chars().take(12).collect()
}
