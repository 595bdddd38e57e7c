//! A content-addressed blob store under a root directory the caller gives
//! (the engine's store root): `blobs/<algorithm>/<hex>` holds verified
//! blobs; `ingest/` holds what is being written.
//!
//! As in containerd's local content store, nothing half-written is ever
//! visible under `blobs/`: an ingest streams into `ingest/<alg>-<hex>.partial`
//! while hashing, checks size and digest, fsyncs, and renames into place
//! (then fsyncs the directory).  One writer per digest at a time, across
//! processes: the writer holds an exclusive `flock` on
//! `ingest/<alg>-<hex>.lock`; a second one waits, then finds the blob there.
//! An interrupted ingest leaves its `.partial`, which the next ingest of
//! that digest resumes (re-hashing what is there) or [`Store::prune_ingest`]
//! removes.  Content that fails its check is removed at once.

use crate::digest::Hasher;
use crate::manifest::MAX_DOCUMENT;
use crate::{Error, Result};
use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::Digest;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The size of the buffers blobs are copied and hashed through.
pub const BUF_SIZE: usize = 1 << 20;

/// The blob store.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// What [`Store::ingest`] found.
pub enum Ingest {
    /// The blob is already in the store; its size.
    Present(u64),
    /// This caller is to write it.
    Writer(Box<Writer>),
}

impl Store {
    /// The store under `root`, its directories made when missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        for d in ["blobs/sha256", "ingest"] {
            let p = root.join(d);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&p)
                .map_err(Error::io("create", &p))?;
        }
        Ok(Store { root })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` lives (whether or not it is there).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_ref())
            .join(digest.digest())
    }

    fn ingest_path(&self, digest: &Digest, ext: &str) -> PathBuf {
        self.root
            .join("ingest")
            .join(format!("{}-{}.{ext}", digest.algorithm(), digest.digest()))
    }

    /// Whether the blob is in the store.
    pub fn has(&self, digest: &Digest) -> Result<bool> {
        let p = self.blob_path(digest);
        match std::fs::symlink_metadata(&p) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("stat", p)(e)),
        }
    }

    /// The blob's size.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        let p = self.blob_path(digest);
        std::fs::metadata(&p)
            .map(|m| m.len())
            .map_err(|e| self.not_found(digest, p, e))
    }

    /// The blob, open for reading.
    pub fn open(&self, digest: &Digest) -> Result<File> {
        let p = self.blob_path(digest);
        File::open(&p).map_err(|e| self.not_found(digest, p, e))
    }

    /// A small blob (a manifest or config) read whole; an error when it is
    /// over `limit` bytes.
    pub fn read_small(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        let p = self.blob_path(digest);
        let f = self.open(digest)?;
        let mut out = Vec::new();
        f.take(limit + 1)
            .read_to_end(&mut out)
            .map_err(Error::io("read", &p))?;
        if out.len() as u64 > limit {
            return Err(Error::invalid(
                "blob",
                digest,
                format!("over {limit} bytes"),
            ));
        }
        Ok(out)
    }

    fn not_found(&self, digest: &Digest, p: PathBuf, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound {
                digest: digest.clone(),
            }
        } else {
            Error::io("open", p)(e)
        }
    }

    /// Remove the blob; false when it was not there.
    pub fn delete(&self, digest: &Digest) -> Result<bool> {
        let p = self.blob_path(digest);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove", p)(e)),
        }
    }

    /// Every blob in the store, with its size.
    pub fn list(&self) -> Result<Vec<(Digest, u64)>> {
        let mut out = Vec::new();
        let blobs = self.root.join("blobs");
        for alg in std::fs::read_dir(&blobs).map_err(Error::io("read", &blobs))? {
            let alg = alg.map_err(Error::io("read", &blobs))?;
            let dir = alg.path();
            for e in std::fs::read_dir(&dir).map_err(Error::io("read", &dir))? {
                let e = e.map_err(Error::io("read", &dir))?;
                let name = format!(
                    "{}:{}",
                    alg.file_name().to_string_lossy(),
                    e.file_name().to_string_lossy()
                );
                let Ok(d) = Digest::try_from(name) else {
                    continue;
                };
                let len = e.metadata().map_err(Error::io("stat", e.path()))?.len();
                out.push((d, len));
            }
        }
        out.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        Ok(out)
    }

    /// Remove ingest files that no one is writing and that have not changed
    /// for `older_than`; how many were removed.
    pub fn prune_ingest(&self, older_than: Duration) -> Result<usize> {
        let dir = self.root.join("ingest");
        let mut removed = 0;
        for e in std::fs::read_dir(&dir).map_err(Error::io("read", &dir))? {
            let p = e.map_err(Error::io("read", &dir))?.path();
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let lock_path = match name.strip_suffix(".partial") {
                Some(stem) => dir.join(format!("{stem}.lock")),
                None if name.starts_with("tmp-") => p.clone(),
                None => continue,
            };
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .unwrap_or_default();
            if age < older_than {
                continue;
            }
            // a writer holds the lock: not an orphan
            let Some(lock) = lock_file(&lock_path, false)? else {
                continue;
            };
            if std::fs::remove_file(&p).is_ok() {
                removed += 1;
            }
            unlock_and_remove(lock, &lock_path);
        }
        Ok(removed)
    }

    /// Start writing `digest` (of `size` bytes, when known): waits while
    /// another writer (thread or process) has it, then answers whether it
    /// is already present or gives this caller the writer, resuming any
    /// partial content left by an interrupted ingest.
    pub fn ingest(&self, digest: &Digest, size: Option<u64>) -> Result<Ingest> {
        let hasher = Hasher::for_digest(digest)?;
        if let Ok(n) = self.size(digest) {
            return Ok(Ingest::Present(n));
        }
        let lock_path = self.ingest_path(digest, "lock");
        let Some(lock) = lock_file(&lock_path, true)? else {
            return Err(Error::invalid(
                "ingest",
                digest,
                "its lock could not be taken",
            ));
        };
        if let Ok(n) = self.size(digest) {
            unlock_and_remove(lock, &lock_path);
            return Ok(Ingest::Present(n));
        }
        let partial = self.ingest_path(digest, "partial");
        let mut w = Writer {
            store: self.clone(),
            digest: digest.clone(),
            size,
            partial,
            file: None,
            offset: 0,
            hasher,
            lock: Some((lock, lock_path)),
        };
        w.resume()?;
        Ok(Ingest::Writer(Box::new(w)))
    }

    /// Put `data` in the store; it must have `digest` when one is given.
    /// Its digest (sha256 when none is given).
    pub fn put_bytes(&self, digest: Option<&Digest>, data: &[u8]) -> Result<Digest> {
        let digest = match digest {
            Some(d) => d.clone(),
            None => crate::digest::sha256(data),
        };
        match self.ingest(&digest, Some(data.len() as u64))? {
            Ingest::Present(_) => {}
            Ingest::Writer(mut w) => {
                w.restart()?;
                w.write(data)?;
                w.commit()?;
            }
        }
        Ok(digest)
    }

    /// Stream `reader` into the store, its digest (sha256) unknown until the
    /// end (archives): the digest, the size and the content's first bytes
    /// (up to 16, to sniff its compression).
    pub fn put_stream(&self, reader: &mut dyn Read) -> Result<(Digest, u64, Vec<u8>)> {
        let tmp = self.root.join("ingest").join(format!(
            "tmp-{}-{}",
            std::process::id(),
            crate::auth::unique()
        ));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(Error::io("create", &tmp))?;
        // held while writing, so that prune_ingest leaves it alone
        let file = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("lock", &tmp)(std::io::Error::from(e)))?;
        let result = self.fill_tmp(&file, &tmp, reader);
        let (digest, size, head) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let dest = self.blob_path(&digest);
        std::fs::rename(&tmp, &dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io("rename", &dest)(e)
        })?;
        sync_dir(dest.parent().unwrap_or(&self.root));
        Ok((digest, size, head))
    }

    fn fill_tmp(
        &self,
        mut file: &File,
        tmp: &Path,
        reader: &mut dyn Read,
    ) -> Result<(Digest, u64, Vec<u8>)> {
        let mut hasher = Hasher::sha256();
        let mut buf = vec![0u8; BUF_SIZE];
        let mut size = 0u64;
        let mut head = Vec::new();
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read", tmp)(e)),
            };
            if head.len() < 16 {
                head.extend_from_slice(&buf[..n.min(16 - head.len())]);
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(Error::io("write", tmp))?;
            size += n as u64;
        }
        file.sync_all().map_err(Error::io("fsync", tmp))?;
        Ok((hasher.finish(), size, head))
    }
}

/// Open (creating) `path` and take an exclusive flock on it, making sure
/// the file locked is still the one at `path` (a holder removes it when
/// done).  `None` when `wait` is false and another holds it.
fn lock_file(path: &Path, wait: bool) -> Result<Option<Flock<File>>> {
    loop {
        let f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path);
        let f = f.map_err(Error::io("open", path))?;
        let arg = if wait {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockExclusiveNonblock
        };
        let locked = match Flock::lock(f, arg) {
            Ok(l) => l,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) if !wait => return Ok(None),
            Err((_, nix::errno::Errno::EINTR)) => continue,
            Err((_, e)) => return Err(Error::io("lock", path)(std::io::Error::from(e))),
        };
        let held = locked.metadata().map_err(Error::io("stat", path))?;
        match std::fs::metadata(path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                return Ok(Some(locked))
            }
            // removed (or replaced) by the holder before we got it: again
            _ => continue,
        }
    }
}

/// Remove a lock file while still holding it, then release it.
fn unlock_and_remove(lock: Flock<File>, path: &Path) {
    let _ = std::fs::remove_file(path);
    drop(lock);
}

fn sync_dir(dir: &Path) {
    // the rename is durable once the directory is; a failure here loses
    // nothing but durability, so it is not an error
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The one writer of a blob: appends verified content, and commits it into
/// the store only when its size and digest are right.  Dropped without
/// [`Writer::commit`], it leaves its partial content to be resumed.
pub struct Writer {
    store: Store,
    digest: Digest,
    size: Option<u64>,
    partial: PathBuf,
    file: Option<File>,
    offset: u64,
    hasher: Hasher,
    lock: Option<(Flock<File>, PathBuf)>,
}

impl Writer {
    /// The digest being written.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// How many bytes are already there (where a resumed download starts).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Open the partial file and hash what it holds; content longer than
    /// the blob is dropped.
    fn resume(&mut self) -> Result<()> {
        let p = &self.partial;
        let mut f = File::options()
            .read(true)
            .append(true)
            .create(true)
            .open(p)
            .map_err(Error::io("open", p))?;
        let len = f.metadata().map_err(Error::io("stat", p))?.len();
        if self.size.is_some_and(|s| len > s) {
            f.set_len(0).map_err(Error::io("truncate", p))?;
        } else if len > 0 {
            let mut buf = vec![0u8; BUF_SIZE];
            loop {
                let n = f.read(&mut buf).map_err(Error::io("read", p))?;
                if n == 0 {
                    break;
                }
                self.hasher.update(&buf[..n]);
                self.offset += n as u64;
            }
        }
        self.file = Some(f);
        Ok(())
    }

    /// Drop whatever is there and start from the beginning.
    pub fn restart(&mut self) -> Result<()> {
        if let Some(f) = &self.file {
            f.set_len(0).map_err(Error::io("truncate", &self.partial))?;
        }
        self.offset = 0;
        self.hasher = Hasher::for_digest(&self.digest)?;
        Ok(())
    }

    /// Append `data`; an error (and nothing kept) when it takes the blob
    /// past its size.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        let got = self.offset + data.len() as u64;
        if let Some(size) = self.size.filter(|&s| got > s) {
            self.discard();
            return Err(Error::SizeMismatch {
                digest: self.digest.clone(),
                expected: size,
                got,
            });
        }
        let Some(f) = self.file.as_mut() else {
            return Err(Error::invalid(
                "ingest",
                &self.digest,
                "written after it was closed",
            ));
        };
        f.write_all(data)
            .map_err(Error::io("write", &self.partial))?;
        self.hasher.update(data);
        self.offset = got;
        Ok(())
    }

    /// Copy all of `reader` in, through `buf`, calling `progress` with the
    /// offset after each chunk.  A read error is returned as the
    /// `io::Error` it was (the content so far stays, to resume).
    pub fn copy_from(
        &mut self,
        reader: &mut dyn Read,
        buf: &mut [u8],
        progress: &mut dyn FnMut(u64),
    ) -> Result<std::result::Result<(), std::io::Error>> {
        loop {
            let n = match reader.read(buf) {
                Ok(0) => return Ok(Ok(())),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Ok(Err(e)),
            };
            self.write(&buf[..n])?;
            progress(self.offset);
        }
    }

    /// Check size and digest; when right, fsync and move the blob into the
    /// store; when wrong, remove it and say what was wrong.
    pub fn commit(mut self) -> Result<u64> {
        if let Some(size) = self.size.filter(|&s| s != self.offset) {
            let got = self.offset;
            self.discard();
            return Err(Error::SizeMismatch {
                digest: self.digest.clone(),
                expected: size,
                got,
            });
        }
        let hasher = std::mem::replace(&mut self.hasher, Hasher::sha256());
        let got = hasher.finish();
        if got != self.digest {
            self.discard();
            return Err(Error::DigestMismatch {
                digest: self.digest.clone(),
                got,
            });
        }
        let Some(f) = self.file.take() else {
            return Err(Error::invalid(
                "ingest",
                &self.digest,
                "committed after it was discarded",
            ));
        };
        f.sync_all().map_err(Error::io("fsync", &self.partial))?;
        drop(f);
        let dest = self.store.blob_path(&self.digest);
        if let Some(dir) = dest.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(Error::io("create", dir))?;
        }
        std::fs::rename(&self.partial, &dest).map_err(Error::io("rename", &dest))?;
        sync_dir(dest.parent().unwrap_or(self.store.root()));
        Ok(self.offset)
    }

    /// Remove the partial content (it is wrong).
    pub fn discard(&mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.partial);
        self.offset = 0;
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some((lock, path)) = self.lock.take() {
            unlock_and_remove(lock, &path);
        }
    }
}

/// Read a small document (manifest, index, config) from `reader`, refusing
/// more than [`MAX_DOCUMENT`] bytes.
pub fn read_document(reader: &mut dyn Read, name: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    reader
        .take(MAX_DOCUMENT + 1)
        .read_to_end(&mut out)
        .map_err(Error::io("read", name))?;
    if out.len() as u64 > MAX_DOCUMENT {
        return Err(Error::invalid(
            "document",
            name,
            format!("over {MAX_DOCUMENT} bytes"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
