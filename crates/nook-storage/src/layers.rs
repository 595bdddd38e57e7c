//! The layer store: unpacked layers under a root directory the engine
//! chooses (e.g. `/var/lib/nook/storage`):
//!
//! ```text
//! ROOT/layers/<chain id hex>/diff         the unpacked layer (read-only by convention)
//! ROOT/layers/<chain id hex>/layer.json   its chain id, diff id, parent chain id, tar size
//! ROOT/locks/<chain id hex>               flock(2)ed: exclusively to unpack or remove that layer,
//!                                         shared while a root file system is put on it
//! ROOT/tmp/<random>/                      work in progress, flock(2)ed by its owner
//! ROOT/containers/<id>/                   root file systems (see `rootfs`)
//! ```
//!
//! A layer is unpacked into `tmp/<random>/diff`, synced once (`syncfs`),
//! and renamed into `layers/` with `RENAME_NOREPLACE` only when complete
//! (containerd's Prepare/Commit): nothing half-unpacked is ever visible.
//! Two processes (or threads) unpacking the same chain id serialise on its
//! lock file and the second finds the first's layer; without a known diff
//! id the loser of the rename discards its copy.  A killed unpack leaves
//! only its `tmp/` directory, unlocked, which [`Store::cleanup`] removes.
//! Layers do not depend on their parent on disk: an image's layers may be
//! unpacked in parallel.  The store does not know images: [`Store::remove`]
//! refuses a layer under a container's root file system, and
//! [`Store::remove_unused`] removes what neither the caller's images nor a
//! container use.  Lock files are kept (removing one while another
//! process waits on it would let two holders in).

use std::ffi::CString;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nook_sys::Errno;
use serde::{Deserialize, Serialize};

use crate::digest::{chain_id, Digest};
use crate::sys;
use crate::unpack::{self, UnpackError, UnpackOptions, UnpackRequest, Warning};

/// An unpacked layer in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Its chain id (its name in the store).
    pub chain_id: Digest,
    /// The digest of its uncompressed tar stream.
    pub diff_id: Digest,
    /// The chain id of the layer below it, if any.
    pub parent: Option<Digest>,
    /// The length of its uncompressed tar stream.
    pub tar_size: u64,
    /// The directory holding its files.
    pub path: PathBuf,
}

/// The outcome of [`Store::unpack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpack {
    /// The layer, new or already there.
    pub layer: Layer,
    /// Whether this call unpacked it (false: it was there, the stream was
    /// not read or was discarded).
    pub created: bool,
    /// What was not unpacked as the layer says.
    pub warnings: Vec<Warning>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file system operation on the store failed.
    #[error("storage {}: {op}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Unpacking failed (nothing was committed).
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// No such layer.
    #[error("layer {0}: not in the store")]
    LayerNotFound(Digest),
    /// The layer is a lower layer of a container's root file system.
    #[error("layer {chain_id}: in use by container {container}")]
    LayerInUse {
        /// The layer.
        chain_id: Digest,
        /// A container using it.
        container: String,
    },
    /// A metadata file does not parse.
    #[error("storage {}: bad metadata: {reason}", path.display())]
    BadMetadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A container id that is not `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`.
    #[error("container id {0:?}: want 1-128 of [A-Za-z0-9_.-], not starting with . _ or -")]
    BadContainerId(String),
    /// `prepare_rootfs` for an id that has one.
    #[error("container {0}: root file system exists")]
    RootfsExists(String),
    /// No root file system for that id.
    #[error("container {0}: no root file system")]
    RootfsNotFound(String),
    /// Mounting or unmounting failed.
    #[error("container {id}: {op} {}: {errno}", path.display())]
    Mount {
        /// The container.
        id: String,
        /// What was being done.
        op: &'static str,
        /// The mount point.
        path: PathBuf,
        /// The kernel's answer.
        errno: Errno,
    },
}

/// `layer.json`.
#[derive(Serialize, Deserialize)]
struct LayerMeta {
    chain_id: String,
    diff_id: String,
    parent: Option<String>,
    tar_size: u64,
}

/// The store under one root directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    opts: UnpackOptions,
}

pub(crate) fn io_err<'p>(
    op: &'static str,
    path: &'p Path,
) -> impl FnOnce(io::Error) -> StoreError + 'p {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn errno_err<'p>(
    op: &'static str,
    path: &'p Path,
) -> impl FnOnce(Errno) -> StoreError + 'p {
    move |e| io_err(op, path)(io::Error::from_raw_os_error(e as i32))
}

/// A directory under `tmp/`, locked by this process while it exists;
/// removed on drop unless kept.
pub(crate) struct TmpDir {
    pub(crate) path: PathBuf,
    fd: OwnedFd,
    keep: bool,
}

impl TmpDir {
    /// Keep the directory (it was renamed away).
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }

    /// The directory's descriptor.
    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A held `flock` on a chain id's lock file.
pub(crate) struct ChainLock(#[allow(dead_code)] OwnedFd);

impl Store {
    /// Open (creating if need be) the store under `root`, unpacking with
    /// the default [`UnpackOptions`].
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        Store::with_options(root, UnpackOptions::default())
    }

    /// Open the store under `root`, unpacking layers with `opts`.
    pub fn with_options(root: &Path, opts: UnpackOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(root).map_err(io_err("create", root))?;
        let root = std::fs::canonicalize(root).map_err(io_err("resolve", root))?;
        for sub in ["layers", "locks", "tmp", "containers"] {
            let p = root.join(sub);
            match std::fs::create_dir(&p) {
                Ok(()) => {
                    use std::os::unix::fs::PermissionsExt;
                    let perm = std::fs::Permissions::from_mode(0o700);
                    std::fs::set_permissions(&p, perm).map_err(io_err("chmod", &p))?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err("create", &p)(e)),
            }
        }
        Ok(Store { root, opts })
    }

    /// The store's root directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The options layers are unpacked with.
    pub fn options(&self) -> &UnpackOptions {
        &self.opts
    }

    fn layer_dir(&self, chain: &Digest) -> PathBuf {
        self.root.join("layers").join(chain.hex())
    }

    /// Where the layer `chain`'s files are (whether or not it exists).
    pub fn diff_path(&self, chain: &Digest) -> PathBuf {
        self.layer_dir(chain).join("diff")
    }

    /// Whether the layer `chain` is in the store.
    pub fn exists(&self, chain: &Digest) -> bool {
        self.layer_dir(chain).join("layer.json").is_file()
    }

    /// The layer `chain`.
    pub fn get(&self, chain: &Digest) -> Result<Layer, StoreError> {
        let p = self.layer_dir(chain).join("layer.json");
        let text = match std::fs::read(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::LayerNotFound(*chain))
            }
            Err(e) => return Err(io_err("read", &p)(e)),
        };
        let bad = |reason: String| StoreError::BadMetadata {
            path: p.clone(),
            reason,
        };
        let m: LayerMeta = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        let parse = |s: &str| s.parse::<Digest>().map_err(|e| bad(e.to_string()));
        let parent = m.parent.as_deref().map(parse).transpose()?;
        Ok(Layer {
            chain_id: *chain,
            diff_id: parse(&m.diff_id)?,
            parent,
            tar_size: m.tar_size,
            path: self.diff_path(chain),
        })
    }

    /// Every layer in the store.
    pub fn list(&self) -> Result<Vec<Layer>, StoreError> {
        let dir = self.root.join("layers");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let e = e.map_err(io_err("list", &dir))?;
            let Some(chain) = e
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            else {
                continue;
            };
            match self.get(&chain) {
                Ok(l) => out.push(l),
                Err(StoreError::LayerNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|l| l.chain_id);
        Ok(out)
    }

    /// The bytes the layer `chain` takes on disk.
    pub fn disk_usage(&self, chain: &Digest) -> Result<u64, StoreError> {
        if !self.exists(chain) {
            return Err(StoreError::LayerNotFound(*chain));
        }
        let d = self.layer_dir(chain);
        crate::usage::disk_usage(&d).map_err(io_err("measure", &d))
    }

    /// Unpack the layer read from `reader` on top of the layer whose chain
    /// id is `parent` (which need not be in the store yet).  With an
    /// expected diff id, a layer already there is returned without reading
    /// the stream.
    pub fn unpack<R: Read>(
        &self,
        parent: Option<&Digest>,
        req: &UnpackRequest<'_>,
        reader: R,
    ) -> Result<Unpack, StoreError> {
        if let Some(diff) = req.expected_diff_id {
            let chain = chain_id(parent, diff);
            let _lock = self.lock(&chain, libc::LOCK_EX)?;
            if self.exists(&chain) {
                return self.existing(&chain);
            }
            let tmp = self.tmp_dir()?;
            let up = unpack::unpack(reader, &tmp.path.join("diff"), req, &self.opts)?;
            return self.commit(tmp, chain, parent, up);
        }
        let tmp = self.tmp_dir()?;
        let up = unpack::unpack(reader, &tmp.path.join("diff"), req, &self.opts)?;
        let chain = chain_id(parent, &up.diff_id);
        let _lock = self.lock(&chain, libc::LOCK_EX)?;
        if self.exists(&chain) {
            return self.existing(&chain);
        }
        self.commit(tmp, chain, parent, up)
    }

    fn existing(&self, chain: &Digest) -> Result<Unpack, StoreError> {
        Ok(Unpack {
            layer: self.get(chain)?,
            created: false,
            warnings: Vec::new(),
        })
    }

    /// Write the metadata, sync, and rename `tmp` to `layers/<chain>`.
    fn commit(
        &self,
        tmp: TmpDir,
        chain: Digest,
        parent: Option<&Digest>,
        up: unpack::Unpacked,
    ) -> Result<Unpack, StoreError> {
        let meta = LayerMeta {
            chain_id: chain.to_string(),
            diff_id: up.diff_id.to_string(),
            parent: parent.map(|p| p.to_string()),
            tar_size: up.tar_size,
        };
        let mp = tmp.path.join("layer.json");
        let text = serde_json::to_vec(&meta).map_err(|e| io_err("write", &mp)(e.into()))?;
        std::fs::write(&mp, text).map_err(io_err("write", &mp))?;
        // One sync for the whole layer instead of one per file.
        sys::syncfs(tmp.fd()).map_err(errno_err("sync", &tmp.path))?;
        let layers = self.root.join("layers");
        let lfd = nook_sys::fd::openat(None, &layers, libc::O_PATH | libc::O_DIRECTORY, 0)
            .map_err(errno_err("open", &layers))?;
        let tdir = self.root.join("tmp");
        let tfd = nook_sys::fd::openat(None, &tdir, libc::O_PATH | libc::O_DIRECTORY, 0)
            .map_err(errno_err("open", &tdir))?;
        let from = CString::new(tmp.path.file_name().unwrap_or_default().as_bytes())
            .map_err(|_| errno_err("rename", &tmp.path)(Errno::EINVAL))?;
        let to =
            CString::new(chain.hex()).map_err(|_| errno_err("rename", &layers)(Errno::EINVAL))?;
        match sys::rename_noreplace(tfd.as_fd(), &from, lfd.as_fd(), &to) {
            Ok(()) => tmp.keep(),
            // Another writer got there first (only without a lock): theirs stands.
            Err(Errno::EEXIST | Errno::ENOTEMPTY) => return self.existing(&chain),
            Err(e) => return Err(errno_err("commit", &self.layer_dir(&chain))(e)),
        }
        let dfd = nook_sys::fd::openat(None, &layers, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(errno_err("open", &layers))?;
        // SAFETY: fsync on a descriptor we own.
        unsafe { libc::fsync(std::os::fd::AsRawFd::as_raw_fd(&dfd)) };
        Ok(Unpack {
            layer: self.get(&chain)?,
            created: true,
            warnings: up.warnings,
        })
    }

    /// Remove the layer `chain` (refused while a container's root file
    /// system uses it or is being put on it).  It disappears at once
    /// (renamed into `tmp/`), then is deleted.
    pub fn remove(&self, chain: &Digest) -> Result<(), StoreError> {
        let _lock = self.lock(chain, libc::LOCK_EX)?;
        if !self.exists(chain) {
            return Err(StoreError::LayerNotFound(*chain));
        }
        if let Some(container) = self.user_of(chain)? {
            return Err(StoreError::LayerInUse {
                chain_id: *chain,
                container,
            });
        }
        let tmp = self.tmp_dir()?;
        let from = self.layer_dir(chain);
        let to = tmp.path.join("removed");
        std::fs::rename(&from, &to).map_err(io_err("remove", &from))?;
        drop(tmp);
        Ok(())
    }

    /// Remove every layer whose chain id is not in `keep` (the chain ids of
    /// every layer of the images the caller keeps, all of them: a layer's
    /// ancestors are separate entries) and that no container's root file
    /// system uses.  The chain ids removed.  A layer unpacked for an image
    /// the caller has not recorded yet (a pull in progress) must be in
    /// `keep` too.
    pub fn remove_unused(&self, keep: &[Digest]) -> Result<Vec<Digest>, StoreError> {
        let keep: std::collections::HashSet<&Digest> = keep.iter().collect();
        let mut removed = Vec::new();
        for layer in self.list()? {
            if keep.contains(&layer.chain_id) {
                continue;
            }
            match self.remove(&layer.chain_id) {
                Ok(()) => removed.push(layer.chain_id),
                // In use, or removed meanwhile by someone else: it stays
                // (or is gone) either way.
                Err(StoreError::LayerInUse { .. } | StoreError::LayerNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Remove what interrupted unpacks and removals left in `tmp/` (what a
    /// live process holds locked stays).  The paths removed.
    pub fn cleanup(&self) -> Result<Vec<PathBuf>, StoreError> {
        let dir = self.root.join("tmp");
        let mut removed = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let p = e.map_err(io_err("list", &dir))?.path();
            let fd = match nook_sys::fd::openat(None, &p, libc::O_RDONLY | libc::O_NOFOLLOW, 0) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(errno_err("open", &p)(e)),
            };
            match sys::flock(fd.as_fd(), libc::LOCK_EX | libc::LOCK_NB) {
                Ok(()) => {}
                Err(Errno::EWOULDBLOCK) => continue,
                Err(e) => return Err(errno_err("lock", &p)(e)),
            }
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            match r {
                Ok(()) => removed.push(p),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &p)(e)),
            }
        }
        Ok(removed)
    }

    /// A fresh, locked directory under `tmp/`.
    pub(crate) fn tmp_dir(&self) -> Result<TmpDir, StoreError> {
        let base = self.root.join("tmp");
        loop {
            let path = base.join(sys::random_hex());
            match std::fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("create", &path)(e)),
            }
            let fd = nook_sys::fd::openat(
                None,
                &path,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )
            .map_err(errno_err("open", &path))?;
            // cleanup() may have taken it between mkdir and flock: then it
            // is, or is about to be, gone; take another.
            if sys::flock(fd.as_fd(), libc::LOCK_EX | libc::LOCK_NB).is_err() {
                continue;
            }
            let st = sys::fstat(fd.as_fd()).map_err(errno_err("stat", &path))?;
            if st.st_nlink == 0 {
                continue;
            }
            return Ok(TmpDir {
                path,
                fd,
                keep: false,
            });
        }
    }

    /// Wait for and hold the lock of `chain`: exclusive (`LOCK_EX`) to
    /// unpack or remove the layer, shared (`LOCK_SH`) while a root file
    /// system is put on it.
    pub(crate) fn lock(&self, chain: &Digest, op: i32) -> Result<ChainLock, StoreError> {
        let p = self.root.join("locks").join(chain.hex());
        let fd = nook_sys::fd::openat(
            None,
            &p,
            libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW,
            0o600,
        )
        .map_err(errno_err("open", &p))?;
        sys::flock(fd.as_fd(), op).map_err(errno_err("lock", &p))?;
        Ok(ChainLock(fd))
    }

    /// A container whose root file system has `chain` as a lower layer.
    fn user_of(&self, chain: &Digest) -> Result<Option<String>, StoreError> {
        for id in self.list_rootfs()? {
            match self.rootfs(&id) {
                Ok(r) if r.chain_ids().contains(chain) => return Ok(Some(id)),
                Ok(_) | Err(StoreError::RootfsNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}
