//! Containers' root file systems: an overlayfs of the image's layers
//! (read-only lower directories, top first) with a per-container upper and
//! work directory, so that a container's writes land in its own upper
//! directory and the layers never change:
//!
//! ```text
//! ROOT/containers/<id>/lowers   the lower chain ids, top first, one a line
//! ROOT/containers/<id>/upper    the container's changes
//! ROOT/containers/<id>/work     overlayfs's work directory
//! ROOT/containers/<id>/merged   the mount point
//! ROOT/containers/<id>/empty    the only lower directory of an image with no layer
//! ```
//!
//! Mounting uses the new mount API: `fsopen("overlay")` and one
//! `fsconfig("lowerdir+", dir)` per layer (Linux >= 6.8), so the number of
//! layers is not bounded by the one page of classic mount data.  Older
//! kernels get a classic `mount(2)` with each directory named by a short
//! `/proc/self/fd/N` path (about 17 bytes a layer: some 230 layers fit).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nook_sys::Errno;

use crate::digest::Digest;
use crate::layers::{errno_err, io_err, Store, StoreError};
use crate::sys;

/// How to mount a root file system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// Mount with `userxattr` (overlay keeps its bookkeeping in
    /// `user.overlay.*`, for rootless; layers must then be unpacked with
    /// [`crate::OverlayXattrs::User`]).
    pub userxattr: bool,
    /// Use the classic `mount(2)` even where the new mount API works (for
    /// tests of the fallback).
    pub legacy_mount_api: bool,
}

/// A container's root file system in the store.
#[derive(Debug, Clone)]
pub struct Rootfs {
    id: String,
    dir: PathBuf,
    chain_ids: Vec<Digest>,
    lowers: Vec<PathBuf>,
}

/// Whether `id` is a container id this store accepts (it names a directory).
fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

impl Store {
    fn container_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        if !valid_id(id) {
            return Err(StoreError::BadContainerId(id.to_string()));
        }
        Ok(self.root().join("containers").join(id))
    }

    /// Create the root file system of container `id` on the layers `lowers`
    /// (chain ids, top first: the image's last layer first), unmounted.
    pub fn prepare_rootfs(&self, id: &str, lowers: &[Digest]) -> Result<Rootfs, StoreError> {
        let dir = self.container_dir(id)?;
        // Shared locks on the layers until the root file system is in
        // place: a concurrent remove() either goes first (then the layer
        // is missing here) or sees this container using it.
        let mut _locks = Vec::with_capacity(lowers.len());
        for l in lowers {
            _locks.push(self.lock(l, libc::LOCK_SH)?);
            if !self.exists(l) {
                return Err(StoreError::LayerNotFound(*l));
            }
        }
        // Built in tmp/ and renamed in whole: a crash leaves nothing half made.
        let tmp = self.tmp_dir()?;
        for sub in ["upper", "work", "merged", "empty"] {
            let p = tmp.path.join(sub);
            std::fs::create_dir(&p).map_err(io_err("create", &p))?;
        }
        let list: String = lowers.iter().map(|l| format!("{l}\n")).collect();
        let lp = tmp.path.join("lowers");
        std::fs::write(&lp, list).map_err(io_err("write", &lp))?;
        // The upper directory is the container's "/": 0755 like an image's.
        let up = tmp.path.join("upper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&up, std::fs::Permissions::from_mode(0o755))
            .map_err(io_err("chmod", &up))?;
        match std::fs::rename(&tmp.path, &dir) {
            Ok(()) => tmp.keep(),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) => {
                return Err(StoreError::RootfsExists(id.to_string()))
            }
            Err(e) => return Err(io_err("create", &dir)(e)),
        }
        self.rootfs(id)
    }

    /// The root file system of container `id`.
    pub fn rootfs(&self, id: &str) -> Result<Rootfs, StoreError> {
        let dir = self.container_dir(id)?;
        let lp = dir.join("lowers");
        let text = match std::fs::read_to_string(&lp) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::RootfsNotFound(id.to_string()))
            }
            Err(e) => return Err(io_err("read", &lp)(e)),
        };
        let mut chain_ids = Vec::new();
        for l in text.lines().filter(|l| !l.is_empty()) {
            let d = l.parse::<Digest>().map_err(|e| StoreError::BadMetadata {
                path: lp.clone(),
                reason: e.to_string(),
            })?;
            chain_ids.push(d);
        }
        let mut lowers: Vec<PathBuf> = chain_ids.iter().map(|c| self.diff_path(c)).collect();
        if lowers.is_empty() {
            lowers.push(dir.join("empty"));
        }
        Ok(Rootfs {
            id: id.to_string(),
            dir,
            chain_ids,
            lowers,
        })
    }

    /// The ids of every container root file system in the store.
    pub fn list_rootfs(&self) -> Result<Vec<String>, StoreError> {
        let d = self.root().join("containers");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&d).map_err(io_err("list", &d))? {
            let e = e.map_err(io_err("list", &d))?;
            if let Some(n) = e.file_name().to_str() {
                if valid_id(n) {
                    out.push(n.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

impl Rootfs {
    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the root file system is mounted: the container's `/`.
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }

    /// The directory that receives the container's writes.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// overlayfs's work directory.
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// The lower layers' chain ids, top first.
    pub fn chain_ids(&self) -> &[Digest] {
        &self.chain_ids
    }

    /// The lower directories, top first.
    pub fn lowers(&self) -> &[PathBuf] {
        &self.lowers
    }

    /// Whether something is mounted on [`Rootfs::merged`].
    pub fn is_mounted(&self) -> Result<bool, StoreError> {
        let m = self.merged();
        let a = std::fs::symlink_metadata(&m).map_err(io_err("stat", &m))?;
        let b = std::fs::symlink_metadata(&self.dir).map_err(io_err("stat", &self.dir))?;
        Ok(a.dev() != b.dev())
    }

    fn mount_err(&self, op: &'static str) -> impl FnOnce(Errno) -> StoreError + '_ {
        move |errno| StoreError::Mount {
            id: self.id.clone(),
            op,
            path: self.merged(),
            errno,
        }
    }

    /// Mount the overlay on [`Rootfs::merged`] (in the caller's mount
    /// namespace).
    pub fn mount(&self, opts: &MountOptions) -> Result<(), StoreError> {
        if !opts.legacy_mount_api {
            match self.mount_new_api(opts) {
                // before 6.5 overlay takes fsconfig's strings as legacy
                // options and refuses `lowerdir+` only when the mount is made
                Err(StoreError::Mount {
                    errno: Errno::EINVAL | Errno::ENOSYS,
                    op: "fsconfig lowerdir+" | "fsopen" | "create overlay",
                    ..
                }) => {}
                r => return r,
            }
        }
        self.mount_legacy(opts)
    }

    /// fsopen/fsconfig(`lowerdir+` per layer)/fsmount/move_mount.
    fn mount_new_api(&self, opts: &MountOptions) -> Result<(), StoreError> {
        let fs = sys::fsopen(c"overlay").map_err(self.mount_err("fsopen"))?;
        let cfg = |key: &CStr, v: Option<&CStr>, op| {
            sys::fsconfig(fs.as_fd(), key, v).map_err(self.mount_err(op))
        };
        cfg(c"source", Some(c"overlay"), "fsconfig source")?;
        // fsconfig takes strings of at most 256 bytes: a longer path is
        // named by a descriptor's /proc entry.
        let mut held: Vec<OwnedFd> = Vec::new();
        let mut name = |p: &Path| -> Result<CString, StoreError> {
            if p.as_os_str().len() < 256 {
                return nook_sys::fd::cstr(p).map_err(errno_err("mount", p));
            }
            let fd = nook_sys::fd::openat(None, p, libc::O_PATH | libc::O_DIRECTORY, 0)
                .map_err(errno_err("open", p))?;
            let s = nook_sys::path::proc_fd_path(&fd);
            held.push(fd);
            nook_sys::fd::cstr(&s).map_err(errno_err("mount", p))
        };
        for l in &self.lowers {
            let v = name(l)?;
            cfg(c"lowerdir+", Some(&v), "fsconfig lowerdir+")?;
        }
        let v = name(&self.upper())?;
        cfg(c"upperdir", Some(&v), "fsconfig upperdir")?;
        let v = name(&self.work())?;
        cfg(c"workdir", Some(&v), "fsconfig workdir")?;
        if opts.userxattr {
            cfg(c"userxattr", None, "fsconfig userxattr")?;
        }
        let mnt = sys::fs_create_mount(fs.as_fd()).map_err(self.mount_err("create overlay"))?;
        sys::move_mount(mnt.as_fd(), &self.merged()).map_err(self.mount_err("move_mount"))
    }

    /// Classic mount(2), every directory named by a short /proc/self/fd path.
    fn mount_legacy(&self, opts: &MountOptions) -> Result<(), StoreError> {
        let open = |p: &Path| {
            nook_sys::fd::openat(None, p, libc::O_PATH | libc::O_DIRECTORY, 0)
                .map_err(errno_err("open", p))
        };
        let mut fds = Vec::with_capacity(self.lowers.len() + 2);
        let mut data = b"lowerdir=".to_vec();
        for (i, l) in self.lowers.iter().enumerate() {
            let fd = open(l)?;
            if i > 0 {
                data.push(b':');
            }
            data.extend_from_slice(nook_sys::path::proc_fd_path(&fd).as_os_str().as_bytes());
            fds.push(fd);
        }
        for (key, p) in [
            (&b",upperdir="[..], self.upper()),
            (b",workdir=", self.work()),
        ] {
            let fd = open(&p)?;
            data.extend_from_slice(key);
            data.extend_from_slice(nook_sys::path::proc_fd_path(&fd).as_os_str().as_bytes());
            fds.push(fd);
        }
        if opts.userxattr {
            data.extend_from_slice(b",userxattr");
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        if data.len() >= page {
            return Err(self.mount_err("mount (options over one page)")(
                Errno::E2BIG,
            ));
        }
        let data = CString::new(data).map_err(|_| self.mount_err("mount")(Errno::EINVAL))?;
        sys::mount_overlay_legacy(&self.merged(), &data).map_err(self.mount_err("mount"))
    }

    /// Unmount [`Rootfs::merged`]; lazily (`MNT_DETACH`) if it is busy.
    /// Not mounted is fine.
    pub fn unmount(&self) -> Result<(), StoreError> {
        let m = self.merged();
        match sys::umount2(&m, 0) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
            Err(Errno::EBUSY) => {
                sys::umount2(&m, libc::MNT_DETACH).map_err(self.mount_err("umount"))
            }
            Err(e) => Err(self.mount_err("umount")(e)),
        }
    }

    /// Unmount if mounted and delete the container's directories (its
    /// upper and work directories with them); the layers stay.
    pub fn remove(self, store: &Store) -> Result<(), StoreError> {
        while self.is_mounted()? {
            self.unmount()?;
        }
        let tmp = store.tmp_dir()?;
        let to = tmp.path.join("removed");
        std::fs::rename(&self.dir, &to).map_err(io_err("remove", &self.dir))?;
        drop(tmp);
        Ok(())
    }

    /// The bytes the container's upper directory takes on disk (its
    /// changes: what `ps --size` and `system df` show).
    pub fn upper_usage(&self) -> Result<u64, StoreError> {
        let u = self.upper();
        crate::usage::disk_usage(&u).map_err(io_err("measure", &u))
    }
}

#[cfg(test)]
mod tests {
    use super::valid_id;

    #[test]
    fn container_ids() {
        assert!(valid_id("abc123"));
        assert!(valid_id("a.b_c-d"));
        for bad in ["", ".", "..", "-x", "_x", "a/b", "a b", &"x".repeat(129)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
