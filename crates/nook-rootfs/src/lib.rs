//! The container's file system view.
//!
//! Everything here runs inside the container's new mount namespace, before
//! and at `pivot_root`:
//! - [`prepare`]: stop propagation to the host, bind the rootfs onto itself,
//!   perform every entry of `mounts` (with all spec options, `tmpcopyup`,
//!   cgroup mounts), create `/dev`'s default nodes, links and `linux.devices`;
//! - [`protect`]: `maskedPaths` and `readonlyPaths`;
//! - [`setup_console`]: the pty slave as `/dev/console`;
//! - [`pivot`]: `pivot_root` (or `MS_MOVE` + `chroot`), read-only root,
//!   `rootfsPropagation`.
//!
//! Every destination is resolved inside the rootfs with
//! `openat2(RESOLVE_IN_ROOT)` and mounted through its descriptor, so symlinks
//! planted in an image cannot redirect a mount to the host.

// libc's mount flags are `c_ulong`, 32 bits on 32-bit targets: the casts
// to u64 that are no-ops on x86_64 are not no-ops everywhere.
#![allow(clippy::unnecessary_cast)]

#![warn(missing_docs)]

pub mod copyup;
pub mod devices;
pub mod mount;
pub mod options;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nook_sys::path::{create_file_in_root, mkdir_all_in_root, open_in_root, proc_fd_path};
use nook_sys::Errno;
use oci_spec::runtime::{LinuxDevice, Mount};

use crate::mount::{mount_at, preserved_flags};
use crate::options::MountOptions;

/// Rootfs errors.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A mount failed.
    #[error("{what}: {errno}")]
    Mount {
        /// What was being mounted where.
        what: String,
        /// Why.
        errno: Errno,
    },
    /// A path could not be resolved or created inside the rootfs.
    #[error("{what} {path}: {errno}")]
    Path {
        /// Operation.
        what: &'static str,
        /// Path (inside the container).
        path: PathBuf,
        /// Why.
        errno: Errno,
    },
    /// The configuration asks for something impossible.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, RootfsError>;

/// Where the container's cgroups are, for `type: cgroup` mounts.
#[derive(Debug, Clone, Default)]
pub struct CgroupMounts {
    /// v1 hierarchy key (`cpu,cpuacct`) to the container's host directory.
    pub v1: Vec<(String, PathBuf)>,
    /// The container's v2 directory.
    pub v2: Option<PathBuf>,
    /// Pure v2 host.
    pub pure_v2: bool,
}

/// Everything the rootfs setup needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct RootfsSpec<'a> {
    /// Bundle directory (relative bind sources are relative to it).
    pub bundle: &'a Path,
    /// Absolute path of the rootfs on the host.
    pub rootfs: &'a Path,
    /// `root.readonly`.
    pub readonly: bool,
    /// `linux.rootfsPropagation`.
    pub propagation: Option<&'a str>,
    /// `mounts`.
    pub mounts: &'a [Mount],
    /// `linux.devices`.
    pub devices: &'a [LinuxDevice],
    /// `linux.maskedPaths`.
    pub masked_paths: &'a [String],
    /// `linux.readonlyPaths`.
    pub readonly_paths: &'a [String],
    /// The process is in a new user namespace (device nodes are bound from
    /// the host instead of created).
    pub in_userns: bool,
    /// The container has its own cgroup namespace.
    pub cgroupns: bool,
    /// The container's cgroup directories.
    pub cgroups: &'a CgroupMounts,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// The container shares the runtime's mount namespace (no `mount` entry
    /// in `linux.namespaces`): everything is mounted below the rootfs's own
    /// bind mount, which is private and which `delete` detaches, and the
    /// root changes with `chroot`.
    pub shared_mount_ns: bool,
}

/// The rootfs after [`prepare`]: a descriptor to resolve paths in.
#[derive(Debug)]
pub struct Prepared {
    /// The rootfs directory (an `O_PATH` descriptor of the bind mount).
    pub root: OwnedFd,
}

fn errp<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(Errno) -> RootfsError + 'a {
    move |errno| RootfsError::Path {
        what,
        path: path.to_path_buf(),
        errno,
    }
}

/// Parse `rootfsPropagation` (`shared`, `rslave`, ...).
pub fn propagation_flags(p: &str) -> Result<u64> {
    let rec = libc::MS_REC as u64;
    Ok(match p {
        "shared" => libc::MS_SHARED as u64,
        "rshared" => libc::MS_SHARED as u64 | rec,
        "slave" => libc::MS_SLAVE as u64,
        "rslave" => libc::MS_SLAVE as u64 | rec,
        "private" => libc::MS_PRIVATE as u64,
        "rprivate" => libc::MS_PRIVATE as u64 | rec,
        "unbindable" => libc::MS_UNBINDABLE as u64,
        "runbindable" => libc::MS_UNBINDABLE as u64 | rec,
        other => {
            return Err(RootfsError::Invalid(format!(
                "linux.rootfsPropagation: unknown value {other:?}"
            )))
        }
    })
}

/// Set up the mount tree inside the new mount namespace (before pivot).
pub fn prepare(spec: &RootfsSpec<'_>) -> Result<Prepared> {
    // Nothing we mount may propagate back to the host: the tree becomes a
    // slave (or private) now; a requested shared or unbindable root is
    // applied to the new root after pivot_root (an unbindable tree could
    // not even be bound).
    if !spec.shared_mount_ns {
        let root_prop = match spec.propagation.map(propagation_flags).transpose()? {
            Some(f) if f & libc::MS_PRIVATE as u64 != 0 => {
                libc::MS_PRIVATE as u64 | libc::MS_REC as u64
            }
            _ => libc::MS_SLAVE as u64 | libc::MS_REC as u64,
        };
        mount::mount_path(None, Path::new("/"), None, root_prop, None).map_err(|errno| {
            RootfsError::Mount {
                what: "make / a slave of the host".into(),
                errno,
            }
        })?;
    }
    match std::fs::metadata(spec.rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(RootfsError::Invalid(format!(
                "root.path {} is not a directory",
                spec.rootfs.display()
            )))
        }
        Err(e) => {
            return Err(RootfsError::Invalid(format!(
                "root.path {}: {e}",
                spec.rootfs.display()
            )))
        }
    }
    // The rootfs must be a mount point of its own for pivot_root, and its
    // parent must not be shared.
    mount::mount_path(
        Some(spec.rootfs),
        spec.rootfs,
        None,
        (libc::MS_BIND | libc::MS_REC) as u64,
        None,
    )
    .map_err(|errno| RootfsError::Mount {
        what: format!("bind the rootfs {} onto itself", spec.rootfs.display()),
        errno,
    })?;
    if spec.shared_mount_ns {
        // Keep the container's mounts from propagating to the host's peers.
        mount::mount_path(
            None,
            spec.rootfs,
            None,
            (libc::MS_PRIVATE | libc::MS_REC) as u64,
            None,
        )
        .map_err(|errno| RootfsError::Mount {
            what: "make the rootfs mount private".into(),
            errno,
        })?;
    } else if spec.propagation.is_some_and(|p| p.contains("shared")) {
        mount::make_parent_private(spec.rootfs).map_err(|errno| RootfsError::Mount {
            what: "make the rootfs's parent mount private".into(),
            errno,
        })?;
    }
    let root = nook_sys::fd::openat(None, spec.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(errp("open rootfs", spec.rootfs))?;
    let mut dev_bound = false;
    for m in spec.mounts {
        let opts = options::parse(m.options().as_deref().unwrap_or(&[]));
        let dest = m.destination();
        if dest == Path::new("/dev") && (opts.bind || m.typ().as_deref() == Some("bind")) {
            dev_bound = true;
        }
        mount_entry(spec, root.as_fd(), m, &opts)?;
    }
    if !dev_bound {
        devices::setup_dev(root.as_fd(), spec)?;
    } else {
        devices::create_listed(root.as_fd(), spec.devices, spec.in_userns)?;
    }
    Ok(Prepared { root })
}

fn bind_source(spec: &RootfsSpec<'_>, m: &Mount) -> PathBuf {
    let src = m.source().clone().unwrap_or_default();
    if src.is_absolute() {
        src
    } else {
        spec.bundle.join(src)
    }
}

fn describe(m: &Mount) -> String {
    format!(
        "mount {} on {} (type {}, options {})",
        m.source()
            .as_deref()
            .map(|s| s.display().to_string())
            .unwrap_or_else(|| "none".into()),
        m.destination().display(),
        m.typ().as_deref().unwrap_or("none"),
        m.options()
            .as_deref()
            .map(|o| o.join(","))
            .unwrap_or_default()
    )
}

fn mount_entry(
    spec: &RootfsSpec<'_>,
    root: BorrowedFd<'_>,
    m: &Mount,
    opts: &MountOptions,
) -> Result<()> {
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(spec, root, m, opts);
    }
    let is_bind = opts.bind || typ == "bind";
    let fail = |errno| RootfsError::Mount {
        what: describe(m),
        errno,
    };
    if is_bind {
        if opts.idmap {
            return Err(RootfsError::Invalid(format!(
                "{}: idmapped mounts are not supported by nook yet",
                describe(m)
            )));
        }
        let src = bind_source(spec, m);
        let meta = std::fs::metadata(&src).map_err(|e| RootfsError::Mount {
            what: describe(m),
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)),
        })?;
        let target = if meta.is_dir() {
            mkdir_all_in_root(root, dest, 0o755).map_err(errp("create mount point", dest))?
        } else {
            create_file_in_root(root, dest, 0o644).map_err(errp("create mount point", dest))?
        };
        let target = bind_in_root(root, &src, target.as_fd(), dest, opts.recursive, fail)?;
        let extra = opts.bind_remount_flags();
        if extra != 0 {
            mount::bind_remount(target.as_fd(), extra, opts.cleared).map_err(fail)?;
        }
        return finish_entry(target.as_fd(), opts).map_err(fail);
    }
    let target = mkdir_all_in_root(root, dest, 0o755).map_err(errp("create mount point", dest))?;
    let old = if opts.tmpcopyup {
        Some(
            nook_sys::fd::openat(
                Some(target.as_fd()),
                Path::new("."),
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
            )
            .map_err(fail)?,
        )
    } else {
        None
    };
    let src = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let data = opts.data_string();
    let r = mount_at(
        Some(&src),
        target.as_fd(),
        Some(typ),
        opts.flags & !(libc::MS_REMOUNT as u64),
        Some(&data),
    );
    let target = match r {
        Ok(()) => {
            open_in_root(root, dest, libc::O_PATH, 0).map_err(errp("open mount point", dest))?
        }
        // In a user namespace without its own network (or IPC) namespace the
        // kernel refuses a fresh sysfs (or mqueue): bind the host's instead,
        // as runc does.
        Err(Errno::EPERM) | Err(Errno::EBUSY) if matches!(typ, "sysfs" | "mqueue") => {
            let host = if typ == "sysfs" {
                Path::new("/sys")
            } else {
                Path::new("/dev/mqueue")
            };
            let t = bind_in_root(root, host, target.as_fd(), dest, true, fail)?;
            mount::bind_remount(t.as_fd(), opts.flags, 0).map_err(fail)?;
            t
        }
        Err(e) => return Err(fail(e)),
    };
    if let Some(old) = old {
        let new = nook_sys::fd::openat(
            Some(target.as_fd()),
            Path::new("."),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )
        .map_err(fail)?;
        copyup::copy_tree(old.as_fd(), new.as_fd()).map_err(|errno| RootfsError::Mount {
            what: format!("tmpcopyup into {}", dest.display()),
            errno,
        })?;
    }
    finish_entry(target.as_fd(), opts).map_err(fail)
}

/// Bind `src` (recursively when `recursive`) onto `target`, the mount point
/// `dest` inside `root`, and return `dest` opened again: only the new
/// descriptor names the bind, which remounts and attributes must address.
fn bind_in_root(
    root: BorrowedFd<'_>,
    src: &Path,
    target: BorrowedFd<'_>,
    dest: &Path,
    recursive: bool,
    fail: impl FnOnce(Errno) -> RootfsError,
) -> Result<OwnedFd> {
    let rec = if recursive { libc::MS_REC as u64 } else { 0 };
    mount_at(Some(src), target, None, libc::MS_BIND as u64 | rec, None).map_err(fail)?;
    open_in_root(root, dest, libc::O_PATH, 0).map_err(errp("open mount point", dest))
}

/// Propagation changes and recursive attributes, after the mount exists.
fn finish_entry(target: BorrowedFd<'_>, opts: &MountOptions) -> std::result::Result<(), Errno> {
    for p in &opts.propagation {
        mount_at(None, target, None, *p, None)?;
    }
    if opts.attr_set != 0 || opts.attr_clr != 0 {
        mount::setattr_recursive(target, opts.attr_set, opts.attr_clr)?;
    }
    Ok(())
}

fn mount_cgroup(
    spec: &RootfsSpec<'_>,
    root: BorrowedFd<'_>,
    m: &Mount,
    opts: &MountOptions,
) -> Result<()> {
    let dest = m.destination();
    let fail = |errno| RootfsError::Mount {
        what: describe(m),
        errno,
    };
    let base = mkdir_all_in_root(root, dest, 0o755).map_err(errp("create mount point", dest))?;
    // Flags of the cgroup mount apply to every hierarchy under it.
    let ro = opts.flags & libc::MS_RDONLY as u64 != 0;
    let attrs = {
        let mut a = 0;
        if opts.flags & libc::MS_NOSUID as u64 != 0 {
            a |= options::attr::NOSUID;
        }
        if opts.flags & libc::MS_NODEV as u64 != 0 {
            a |= options::attr::NODEV;
        }
        if opts.flags & libc::MS_NOEXEC as u64 != 0 {
            a |= options::attr::NOEXEC;
        }
        if ro {
            a |= options::attr::RDONLY;
        }
        a
    };
    let fl = opts.flags & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as u64;
    if spec.cgroups.pure_v2 {
        if spec.cgroupns {
            let r = mount_at(
                Some(Path::new("cgroup2")),
                base.as_fd(),
                Some("cgroup2"),
                fl | (ro as u64 * libc::MS_RDONLY as u64),
                None,
            );
            match r {
                Ok(()) => return Ok(()),
                // The kernel refuses a fresh cgroup2 on top of the host's
                // own (a /sys bound from the host in a user namespace, see
                // the sysfs fallback), or outside its user namespace:
                // bind the container's cgroup instead, as runc does.
                Err(Errno::EPERM) | Err(Errno::EBUSY) if spec.cgroups.v2.is_some() => {}
                Err(e) => return Err(fail(e)),
            }
        }
        if let Some(dir) = &spec.cgroups.v2 {
            let t = bind_in_root(root, dir, base.as_fd(), dest, true, fail)?;
            mount::setattr_recursive(t.as_fd(), attrs, 0).map_err(fail)?;
        }
        return Ok(());
    }
    // v1: a tmpfs holding one directory per hierarchy the container joined.
    mount_at(
        Some(Path::new("tmpfs")),
        base.as_fd(),
        Some("tmpfs"),
        fl,
        Some("mode=755"),
    )
    .map_err(fail)?;
    let base_path = dest.to_path_buf();
    for (key, dir) in &spec.cgroups.v1 {
        let sub = base_path.join(key);
        let t = mkdir_all_in_root(root, &sub, 0o755).map_err(errp("create mount point", &sub))?;
        if spec.cgroupns {
            let data = key.clone();
            mount_at(
                Some(Path::new("cgroup")),
                t.as_fd(),
                Some("cgroup"),
                fl,
                Some(&data),
            )
            .map_err(fail)?;
        } else {
            mount_at(Some(dir), t.as_fd(), None, libc::MS_BIND as u64, None).map_err(fail)?;
        }
        // cpu,cpuacct is also reachable as cpu and cpuacct, as on the host.
        if key.contains(',') && !key.starts_with("name=") {
            let dirfd = open_in_root(root, &base_path, libc::O_PATH | libc::O_DIRECTORY, 0)
                .map_err(errp("open", &base_path))?;
            for part in key.split(',') {
                let _ = devices::symlinkat(key, dirfd.as_fd(), part);
            }
        }
    }
    if let Some(dir) = &spec.cgroups.v2 {
        let sub = base_path.join("unified");
        let t = mkdir_all_in_root(root, &sub, 0o755).map_err(errp("create mount point", &sub))?;
        if spec.cgroupns {
            mount_at(
                Some(Path::new("cgroup2")),
                t.as_fd(),
                Some("cgroup2"),
                fl,
                None,
            )
            .map_err(fail)?;
        } else {
            mount_at(Some(dir), t.as_fd(), None, libc::MS_BIND as u64, None).map_err(fail)?;
        }
    }
    let t = open_in_root(root, dest, libc::O_PATH, 0).map_err(errp("open mount point", dest))?;
    mount::setattr_recursive(t.as_fd(), attrs, 0).map_err(fail)
}

/// Undo the bind of the rootfs onto itself that [`prepare`] made, for a
/// container that shares the runtime's mount namespace: everything it
/// mounted hangs below that bind and goes with it.  Best effort.
pub fn unbind_rootfs(rootfs: &Path) {
    let _ = mount::detach(rootfs);
}

/// Apply `maskedPaths` and `readonlyPaths` (resolved inside the rootfs).
pub fn protect(spec: &RootfsSpec<'_>, prep: &Prepared) -> Result<()> {
    let root = prep.root.as_fd();
    for p in spec.readonly_paths {
        let path = Path::new(p);
        let fd = match open_in_root(root, path, libc::O_PATH, 0) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(errp("resolve readonly path", path)(e)),
        };
        let fail = |errno| RootfsError::Mount {
            what: format!("make {p} read-only"),
            errno,
        };
        let fd = bind_in_root(root, &proc_fd_path(&fd), fd.as_fd(), path, true, fail)?;
        mount::bind_remount(fd.as_fd(), libc::MS_RDONLY as u64, 0).map_err(fail)?;
    }
    let devnull = nook_sys::fd::openat(None, Path::new("/dev/null"), libc::O_PATH, 0)
        .map_err(errp("open", Path::new("/dev/null")))?;
    for p in spec.masked_paths {
        let path = Path::new(p);
        let fd = match open_in_root(root, path, libc::O_PATH, 0) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => continue,
            Err(e) => return Err(errp("resolve masked path", path)(e)),
        };
        let st = nook_sys::path::fstat(fd.as_fd()).map_err(errp("stat masked path", path))?;
        let fail = |errno| RootfsError::Mount {
            what: format!("mask {p}"),
            errno,
        };
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            mount_at(
                Some(Path::new("tmpfs")),
                fd.as_fd(),
                Some("tmpfs"),
                libc::MS_RDONLY as u64,
                None,
            )
            .map_err(fail)?;
        } else {
            mount_at(
                Some(&proc_fd_path(&devnull)),
                fd.as_fd(),
                None,
                libc::MS_BIND as u64,
                None,
            )
            .map_err(fail)?;
        }
    }
    Ok(())
}

/// Bind the pty slave `slave` over `/dev/console`.
pub fn setup_console(prep: &Prepared, slave: BorrowedFd<'_>) -> Result<()> {
    let dest = Path::new("/dev/console");
    let t = create_file_in_root(prep.root.as_fd(), dest, 0o600).map_err(errp("create", dest))?;
    mount_at(
        Some(&proc_fd_path(slave)),
        t.as_fd(),
        None,
        libc::MS_BIND as u64,
        None,
    )
    .map_err(|errno| RootfsError::Mount {
        what: "bind the console onto /dev/console".into(),
        errno,
    })
}

/// Switch to the new root: `pivot_root` (or `MS_MOVE` + `chroot` with
/// `--no-pivot`), then make it read-only and set its propagation.
pub fn pivot(spec: &RootfsSpec<'_>, prep: Prepared) -> Result<()> {
    let fail = |what: &str| {
        let what = what.to_string();
        move |errno| RootfsError::Mount { what, errno }
    };
    let newroot = nook_sys::fd::openat(None, spec.rootfs, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .map_err(fail("open rootfs"))?;
    drop(prep);
    // SAFETY: fchdir on a directory fd we own.
    if unsafe { libc::fchdir(newroot.as_raw_fd()) } < 0 {
        return Err(fail("chdir into the rootfs")(Errno::last()));
    }
    if spec.shared_mount_ns {
        // The mount namespace is the runtime's: never move anything onto
        // its "/", only change this process's root.
        let dot = c".";
        // SAFETY: chroot to the cwd.
        if unsafe { libc::chroot(dot.as_ptr()) } < 0 {
            return Err(fail("chroot")(Errno::last()));
        }
    } else if spec.no_pivot {
        mount::mount_path(
            Some(Path::new(".")),
            Path::new("/"),
            None,
            libc::MS_MOVE as u64,
            None,
        )
        .map_err(fail("move the rootfs to /"))?;
        let dot = c".";
        // SAFETY: chroot to the cwd.
        if unsafe { libc::chroot(dot.as_ptr()) } < 0 {
            return Err(fail("chroot")(Errno::last()));
        }
    } else {
        let oldroot =
            nook_sys::fd::openat(None, Path::new("/"), libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .map_err(fail("open /"))?;
        let dot = c".";
        // SAFETY: pivot_root(".", ".") stacks the old root under the new one.
        if unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) } < 0 {
            return Err(fail("pivot_root")(Errno::last()));
        }
        // SAFETY: back to the old root (now stacked on /) to detach it.
        if unsafe { libc::fchdir(oldroot.as_raw_fd()) } < 0 {
            return Err(fail("chdir to the old root")(Errno::last()));
        }
        mount::mount_path(
            None,
            Path::new("."),
            None,
            (libc::MS_SLAVE | libc::MS_REC) as u64,
            None,
        )
        .map_err(fail("make the old root a slave"))?;
        mount::detach(Path::new(".")).map_err(fail("unmount the old root"))?;
    }
    let slash = c"/";
    // SAFETY: chdir to the new root.
    if unsafe { libc::chdir(slash.as_ptr()) } < 0 {
        return Err(fail("chdir /")(Errno::last()));
    }
    if spec.readonly {
        let rootfd =
            nook_sys::fd::openat(None, Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0)
                .map_err(fail("open /"))?;
        let keep = preserved_flags(rootfd.as_fd());
        mount::mount_path(
            None,
            Path::new("/"),
            None,
            (libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY) as u64 | keep,
            None,
        )
        .map_err(fail("make the root file system read-only"))?;
    }
    if let Some(p) = spec.propagation {
        let f = propagation_flags(p)?;
        mount::mount_path(None, Path::new("/"), None, f, None)
            .map_err(fail("set rootfsPropagation"))?;
    }
    Ok(())
}
