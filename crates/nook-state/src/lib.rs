//! nook-state: the engine's metadata store, one SQLite database
//! (`<root>/nook.db`) shared by every `nook` process.
//!
//! It owns what the engine knows *about* its content, never the content:
//! which images exist (id = config digest, manifest, size, dates, layers'
//! diff ids and chain ids), which names point at them (tags, repository
//! digests), and which blobs and unpacked layers each image uses, so that
//! removing an image frees exactly what no other image uses.  Blobs live in
//! nook-image's store, unpacked layers in nook-storage's; the engine writes
//! a row only once everything it names is on disk, and removes rows before
//! the files they name.
//!
//! - [`schema`]: the versioned schema and its migrations (issue 14 adds
//!   containers as the next migration).
//! - [`images`]: images, tags and repository digests: record, look up,
//!   remove, and what is still referenced.
//!
//! - [`volumes`]: volumes and the containers that use them.
//! - [`networks`]: networks, containers' endpoints, and the addresses each
//!   holds (chosen and taken in one transaction).
//! - [`ports`]: the host ports published containers hold (chosen and taken
//!   in one transaction).
//!
//! Every change is one transaction (`BEGIN IMMEDIATE`, so two writers queue
//! on the database lock instead of failing an upgrade); the database runs
//! in WAL mode with a busy timeout, so readers never block writers and
//! concurrent `nook` processes wait for each other rather than fail.

#![warn(missing_docs)]

pub mod containers;
pub mod images;
pub mod networks;
pub mod ports;
pub mod schema;
pub mod volumes;

pub use containers::{ContainerRecord, ContainerStatus, NewContainer};
pub use images::{BlobRef, Freed, ImageRecord, LayerRecord, NewImage, Recorded, RepoDigest, Tag};
pub use networks::{Endpoint, NetworkRecord, NewNetwork, SubnetConfig};
pub use oci_spec::image::Digest;
pub use ports::PortBinding;
pub use volumes::{NewVolume, VolumeRecord};

use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How long a process waits for another's write transaction.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything that can go wrong with the metadata store; each renders as
/// one line naming what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database file could not be opened or set up.
    #[error("state database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file system does not allow WAL (e.g. no shared memory).
    #[error("state database {path}: journal mode stays {mode}, WAL is needed")]
    NotWal {
        /// The database file.
        path: PathBuf,
        /// The mode SQLite kept.
        mode: String,
    },
    /// The database was made by a newer nook.
    #[error("state database {path}: schema version {found} is newer than this nook's ({known})")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A query or change that failed.
    #[error("state database: {op}: {source}")]
    Sql {
        /// What was being done.
        op: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// An image id that is not recorded.
    #[error("image {0}: not in the state database")]
    ImageNotFound(Digest),
    /// No container has that id, name or id prefix.
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    /// An id prefix that more than one container has.
    #[error("container id prefix {prefix:?} is ambiguous: {count} containers have it")]
    AmbiguousContainer {
        /// The prefix given.
        prefix: String,
        /// How many containers have it.
        count: usize,
    },
    /// A container name another container has.
    #[error("the container name {name:?} is already in use by container {id}")]
    NameInUse {
        /// The name.
        name: String,
        /// The container that has it.
        id: String,
    },
    /// No volume has that name.
    #[error("no such volume: {0}")]
    NoSuchVolume(String),
    /// A volume some container uses.
    #[error("remove {name}: volume is in use - [{containers}]")]
    VolumeInUse {
        /// The volume.
        name: String,
        /// The ids of the containers that use it, comma-separated.
        containers: String,
    },
    /// No network has that name or id prefix.
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// An id prefix that more than one network has.
    #[error("network id prefix {prefix:?} is ambiguous: {count} networks have it")]
    AmbiguousNetwork {
        /// The prefix given.
        prefix: String,
        /// How many networks have it.
        count: usize,
    },
    /// A network name (or bridge name) that another network has.
    #[error("network with name {0} already exists")]
    NetworkExists(String),
    /// A network some container is on.
    #[error("error while removing network: network {name} has active endpoints (containers {containers})")]
    NetworkInUse {
        /// The network.
        name: String,
        /// The ids of the containers on it, comma-separated.
        containers: String,
    },
    /// An address another container on the network has.
    #[error("address {address} is already in use on network {network}")]
    AddressInUse {
        /// The address.
        address: String,
        /// The network.
        network: String,
    },
    /// A container already on the network.
    #[error("container {container} is already connected to network {network}")]
    EndpointExists {
        /// The container's id.
        container: String,
        /// The network.
        network: String,
    },
    /// A host port another container holds (Docker's message).
    #[error("Bind for {address}:{port} failed: port is already allocated")]
    PortAllocated {
        /// The host address, as Docker shows it (`0.0.0.0`, `[::]`).
        address: String,
        /// The port.
        port: u16,
    },
    /// A value in the database that does not parse.
    #[error("state database: bad {what} {value:?}")]
    Corrupt {
        /// What the value is.
        what: &'static str,
        /// The value.
        value: String,
    },
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn sql(op: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |source| Error::Sql { op, source }
}

/// The metadata store: one connection, shared by the caller's threads.
#[derive(Debug)]
pub struct State {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl State {
    /// Open (creating and migrating when needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<State> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        // switching a new database to WAL takes its lock without waiting
        // for it (the busy handler is not called): several processes
        // opening a new store at once retry, up to the busy timeout
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match setup(&mut conn, &path) {
                Err(Error::Open { source, .. } | Error::Sql { source, .. })
                    if is_busy(&source) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                r => break r?,
            }
        }
        Ok(State {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` on the connection (reads: each statement sees a consistent
    /// snapshot; use [`State::write`] for several statements that must).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.unchecked_transaction().map_err(sql("begin a read"))?;
        let out = f(&tx)?;
        tx.finish().map_err(sql("end a read"))?;
        Ok(out)
    }

    /// Run `f` in one write transaction, committed when it returns `Ok`.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("begin a change"))?;
        let out = f(&tx)?;
        tx.commit().map_err(sql("commit"))?;
        Ok(out)
    }
}

/// Busy timeout, WAL, durability and foreign keys set; the schema brought
/// up to date.
fn setup(conn: &mut Connection, path: &Path) -> Result<()> {
    let open_err = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // WAL: readers do not block the writer; NORMAL is durable at every
    // checkpoint and never corrupts (a power cut can only lose the last
    // transactions, which the engine then redoes)
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::NotWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    schema::migrate(conn, path)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn parse_digest(value: String) -> Result<Digest> {
    Digest::try_from(value.as_str()).map_err(|_| Error::Corrupt {
        what: "digest",
        value,
    })
}

/// Fixtures the modules' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::State;

    /// Record container `id` (named `c<id>`) on a placeholder image.
    pub(crate) fn container(s: &State, id: &str) {
        let image = crate::Digest::try_from(format!("sha256:{}", "ab".repeat(32))).unwrap();
        if s.image(&image).ok().flatten().is_none() {
            let new = crate::NewImage {
                id: image.clone(),
                manifest_digest: image.clone(),
                manifest_media_type: "m".into(),
                size: 1,
                created: None,
                os: "linux".into(),
                architecture: "amd64".into(),
                layers: vec![],
                blobs: vec![],
            };
            s.record_image(&new, &[], &[]).unwrap();
        }
        s.insert_container(&crate::NewContainer {
            id: id.into(),
            name: format!("c{id}"),
            image_id: image,
            image_name: "i".into(),
            config: "{}".into(),
            created: 1,
            log_path: "/l".into(),
            auto_remove: false,
        })
        .unwrap();
    }
}
