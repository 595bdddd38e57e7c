//! One container's cgroup, spread over every hierarchy it joins.
//!
//! The limits hold on a cgroup the container cannot reach.  Its processes
//! live one level down, in the [`LEAF`] sub-cgroup: the container's cgroup
//! namespace and its cgroup mounts are rooted there, so any cgroupfs it
//! mounts (even in a user namespace of its own, where it may own the files)
//! shows the leaf and below, never the parent that holds its limits.  The
//! limits are written on the leaf too, so that programs inside read them
//! where they look (`memory.max`, `cpu.cfs_quota_us`, ...); raising the
//! leaf's copy changes nothing, the parent's still applies.
//!
//! ```text
//! <cgroupsPath>/              limits that hold; freezer, kill, stats, ps
//! └── container/              the processes; a copy of the limits
//!     └── ...                 sub-cgroups the container makes
//! ```

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nook_sys::Errno;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::layout::{Layout, Mode};
use crate::resources::{self, v2_name, Write};
use crate::{devices, io_err, CgroupError, Result};

/// v1 controllers every container joins even without limits: they carry the
/// device rules, pause/resume, the process list and the usage statistics.
const ALWAYS_V1: &[&str] = &["devices", "freezer", "memory", "pids", "cpuacct"];
/// The sub-cgroup of a container's cgroup that holds its processes.
pub const LEAF: &str = "container";

/// v2 controllers enabled for a container's cgroup when the host offers them.
const V2_WANTED: &[&str] = &[
    "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc",
];

/// What the container asks for.
#[derive(Debug, Clone, Copy)]
pub struct CgroupSpec<'a> {
    /// `linux.cgroupsPath`.
    pub path: Option<&'a Path>,
    /// Used as the relative path when `path` is absent (the container id).
    pub default_name: &'a str,
    /// `linux.resources`.
    pub resources: Option<&'a LinuxResources>,
}

/// Freezer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FreezerState {
    /// Running normally.
    Thawed,
    /// Stopped by the freezer.
    Frozen,
    /// No freezer available.
    Unknown,
}

/// A container's cgroup: its directory in each joined hierarchy.  Saved in
/// the container's state so that later commands need not look at the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// v1 hierarchy key (`cpu,cpuacct`) to directory.
    pub v1: BTreeMap<String, PathBuf>,
    /// v2 directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2: Option<PathBuf>,
    /// Controllers usable through `v2` (the v1 ones take precedence).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub v2_controllers: Vec<String>,
    /// Directories this container created, parents first; removed in
    /// reverse order on delete.
    #[serde(default)]
    pub created: Vec<PathBuf>,
    /// Pure v2 host (freezer and kill go through v2).
    #[serde(default)]
    pub pure_v2: bool,
    /// The processes live in the [`LEAF`] sub-cgroup of every directory
    /// (false only in the state of containers made before there was one).
    #[serde(default)]
    pub leaf: bool,
}

fn resolve(mountpoint: &Path, own_dir: &Path, path: &Path) -> Result<PathBuf> {
    let rel = nook_sys::path::clean_relative(path);
    if path.is_absolute() {
        Ok(mountpoint.join(rel))
    } else {
        Ok(own_dir.join(rel))
    }
}

impl Cgroup {
    /// Work out the directories for `spec` on this host (no changes made).
    pub fn plan(layout: &Layout, spec: &CgroupSpec<'_>) -> Result<Cgroup> {
        let path: PathBuf = match spec.path {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from(spec.default_name),
        };
        if path.to_str().is_some_and(|s| s.contains(':')) && !path.is_absolute() {
            return Err(CgroupError::Path(format!(
                "{} looks like a systemd slice:prefix:name path, but nook drives cgroupfs directly",
                path.display()
            )));
        }
        if nook_sys::path::clean_relative(&path).as_os_str().is_empty() {
            return Err(CgroupError::Path(format!(
                "{} names the root of the hierarchy",
                path.display()
            )));
        }
        let wanted = spec.resources.map(controllers_of).unwrap_or_default();
        let mut cg = Cgroup {
            pure_v2: layout.mode() == Mode::V2,
            leaf: true,
            ..Default::default()
        };
        for h in &layout.v1 {
            let join = h
                .controllers
                .iter()
                .any(|c| ALWAYS_V1.contains(&c.as_str()) || wanted.contains(&c.as_str()));
            if !join {
                continue;
            }
            let dir = resolve(&h.mountpoint, &h.own_dir(), &path)?;
            if dir == h.own_dir() {
                return Err(CgroupError::Path(format!(
                    "{} is the runtime's own cgroup ({}); containers are created below it",
                    path.display(),
                    dir.display()
                )));
            }
            cg.v1.insert(h.key(), dir);
        }
        if let Some(m) = &layout.v2 {
            let dir = resolve(&m.mountpoint, &m.own_dir(), &path)?;
            if dir == m.own_dir() {
                return Err(CgroupError::Path(format!(
                    "{} is the runtime's own cgroup ({}); containers are created below it",
                    path.display(),
                    dir.display()
                )));
            }
            cg.v2 = Some(dir);
        }
        Ok(cg)
    }

    /// Every directory of the container (v1 ones, then v2).
    pub fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        self.v1.values().chain(self.v2.iter())
    }

    /// Directory of the v1 hierarchy that carries `controller`.
    pub fn v1_dir(&self, controller: &str) -> Option<&PathBuf> {
        self.v1
            .iter()
            .find(|(k, _)| k.split(',').any(|c| c == controller))
            .map(|(_, d)| d)
    }

    /// Where `controller` (v1 name) is driven: its v1 directory, or the v2
    /// directory when v2 carries it.
    pub(crate) fn dir_for(&self, controller: &str) -> Option<(&PathBuf, bool)> {
        if let Some(d) = self.v1_dir(controller) {
            return Some((d, false));
        }
        let v2 = self.v2.as_ref()?;
        self.v2_controllers
            .iter()
            .any(|c| c == v2_name(controller))
            .then_some((v2, true))
    }

    /// Create the directories, apply `resources`, and create the leaf the
    /// processes go to (with its copy of the limits).  On failure
    /// everything created is removed again.
    pub fn create(&mut self, layout: &Layout, resources: Option<&LinuxResources>) -> Result<()> {
        let r = self
            .create_dirs(layout, resources)
            .and_then(|_| match resources {
                Some(res) => self.apply(res),
                None => Ok(()),
            })
            .and_then(|_| self.create_leaves(self.v1.keys().cloned().collect(), true))
            .map(|_| {
                if let Some(res) = resources {
                    // v1 device rules are inherited when the leaf is made.
                    self.mirror(res, false);
                }
            });
        if r.is_err() {
            let _ = self.destroy();
        }
        r
    }

    /// The cgroup the container's processes are in: the [`LEAF`] of every
    /// directory.  Join it, mount it into the container, root its cgroup
    /// namespace there; write limits, freeze and read statistics on `self`.
    pub fn procs_cgroup(&self) -> Cgroup {
        if !self.leaf {
            return self.clone();
        }
        Cgroup {
            v1: self
                .v1
                .iter()
                .map(|(k, d)| (k.clone(), d.join(LEAF)))
                .collect(),
            v2: self.v2.as_ref().map(|d| d.join(LEAF)),
            v2_controllers: self.v2_controllers.clone(),
            created: Vec::new(),
            pure_v2: self.pure_v2,
            leaf: false,
        }
    }

    /// Make the leaf in the v1 hierarchies `keys` (and in v2 when `v2`).
    /// On v2 the leaf gets the controllers of its parent, so that its copy
    /// of the limits can be written and read.
    fn create_leaves(&mut self, keys: Vec<String>, v2: bool) -> Result<()> {
        if !self.leaf {
            return Ok(());
        }
        for key in keys {
            let leaf = self.v1[&key].join(LEAF);
            mkdir_exist_ok(&leaf, &key)?;
            if key.split(',').any(|c| c == "cpuset") {
                copy_cpuset_from_parent(&leaf)?;
            }
        }
        if let (Some(dir), true) = (self.v2.clone(), v2) {
            let own: Vec<&str> = self.v2_controllers.iter().map(String::as_str).collect();
            if let Err(e) = enable_controllers(&dir, &own) {
                // A joined cgroup that holds processes itself: the limits
                // still hold on it; the leaf shows none.
                tracing::debug!("no controllers for the leaf of {}: {e}", dir.display());
            }
            mkdir_exist_ok(&dir.join(LEAF), "cgroup")?;
        }
        Ok(())
    }

    /// Write the leaf's copy of `r` (`devices` too when asked: v1 rules
    /// changed on the parent do not reach an existing child).  The copy is
    /// for programs inside to read; failing to write it loses no limit.
    fn mirror(&self, r: &LinuxResources, devices: bool) {
        if !self.leaf {
            return;
        }
        let mut r = r.clone();
        if !devices || self.v1_dir("devices").is_none() {
            r.set_devices(None);
        }
        let used = controllers_of(&r).iter().any(|c| *c != "devices")
            || r.devices().is_some()
            || r.unified().as_ref().is_some_and(|u| !u.is_empty());
        if !used {
            return;
        }
        if let Err(e) = self.procs_cgroup().apply(&r) {
            tracing::debug!("the leaf's copy of the limits: {e}");
        }
    }

    /// Change the limits (`update`): on the leaf, which may refuse a value
    /// its parent does not allow yet (a wider cpuset, a higher CPU quota),
    /// on the parent, and on the leaf again.
    pub fn update(&self, r: &LinuxResources) -> Result<()> {
        self.mirror(r, true);
        self.apply(r)?;
        self.mirror(r, true);
        Ok(())
    }

    fn create_dirs(&mut self, layout: &Layout, resources: Option<&LinuxResources>) -> Result<()> {
        let v1: Vec<(String, PathBuf)> = self
            .v1
            .iter()
            .map(|(k, d)| (k.clone(), d.clone()))
            .collect();
        for (key, dir) in v1 {
            let cpuset = key.split(',').any(|c| c == "cpuset");
            self.mkdir_p(&dir, &key, cpuset)?;
        }
        if let Some(dir) = self.v2.clone() {
            let m = layout
                .v2
                .as_ref()
                .expect("v2 dir planned without a v2 mount");
            let wanted: Vec<&str> = match layout.mode() {
                // On a hybrid host only the controllers the config uses are
                // enabled on v2 (v1 carries the rest).
                Mode::Hybrid => resources
                    .map(controllers_of)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| layout.v1_for(c).is_none())
                    .map(v2_name)
                    .collect(),
                _ => V2_WANTED.to_vec(),
            };
            self.mkdir_v2(&m.mountpoint, &m.own_dir(), layout.mode(), &dir, &wanted)?;
            let ctl = read_trim(&dir.join("cgroup.controllers")).unwrap_or_default();
            self.v2_controllers = ctl.split_whitespace().map(str::to_string).collect();
        }
        Ok(())
    }

    /// Create the v1 directories this cgroup has and `old` had not (new
    /// hierarchies joined by `update`).
    pub fn create_missing(&mut self, old: &Cgroup) -> Result<()> {
        let new: Vec<(String, PathBuf)> = self
            .v1
            .iter()
            .filter(|(k, _)| !old.v1.contains_key(*k))
            .map(|(k, d)| (k.clone(), d.clone()))
            .collect();
        let keys = new.iter().map(|(k, _)| k.clone()).collect();
        for (key, dir) in new {
            let cpuset = key.split(',').any(|c| c == "cpuset");
            self.mkdir_p(&dir, &key, cpuset)?;
        }
        self.create_leaves(keys, false)
    }

    fn mkdir_p(&mut self, dir: &Path, controller: &str, cpuset: bool) -> Result<()> {
        let mut missing = Vec::new();
        let mut p = dir;
        while !p.exists() {
            missing.push(p.to_path_buf());
            p = p.parent().ok_or_else(|| {
                CgroupError::Path(format!("{} has no existing parent", dir.display()))
            })?;
        }
        for d in missing.into_iter().rev() {
            match std::fs::create_dir(&d) {
                Ok(()) => self.created.push(d.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(controller, "mkdir", &d, errno_of(&e))),
            }
            if cpuset {
                copy_cpuset_from_parent(&d)?;
            }
        }
        if cpuset && !self.created.iter().any(|c| c == dir) {
            // An existing cgroup (pod parent, joined path) may still be empty.
            copy_cpuset_from_parent(dir)?;
        }
        Ok(())
    }

    fn mkdir_v2(
        &mut self,
        mountpoint: &Path,
        own: &Path,
        mode: Mode,
        dir: &Path,
        wanted: &[&str],
    ) -> Result<()> {
        // Controllers are enabled on every ancestor between the runtime's own
        // cgroup (exclusive) and `dir` (exclusive).  The runtime's own cgroup
        // and those above it are never written — except the root of a pure v2
        // host, which has no processes-vs-controllers conflict.
        // A root given with `Layout::with_root` (an engine's cgroup parent)
        // stands in for the own cgroup: it is written when it holds no
        // process (the kernel refuses controllers to a cgroup with
        // processes), else the engine's containers get none on v2.
        let may_enable = |a: &Path| {
            if !a.starts_with(mountpoint) {
                return false;
            }
            if a == own && a != mountpoint && !has_procs(a) {
                return true;
            }
            if own.starts_with(a) {
                return mode == Mode::V2 && a == mountpoint && own == mountpoint;
            }
            true
        };
        let mut ancestors: Vec<&Path> = dir
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(mountpoint))
            .collect();
        ancestors.reverse();
        for a in ancestors {
            if !a.exists() {
                match std::fs::create_dir(a) {
                    Ok(()) => self.created.push(a.to_path_buf()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err("cgroup", "mkdir", a, errno_of(&e))),
                }
            }
            if !wanted.is_empty() && may_enable(a) {
                enable_controllers(a, wanted)?;
            }
        }
        match std::fs::create_dir(dir) {
            Ok(()) => self.created.push(dir.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("cgroup", "mkdir", dir, errno_of(&e))),
        }
        Ok(())
    }

    /// Apply `resources` (on create, and for `update`).
    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        let mut v1_writes = resources::v1_writes(r)?;
        // As runc: unlimited memory without a swap value means unlimited
        // memory+swap too (else the kernel keeps the old, lower memsw).
        let unlimited_mem = r
            .memory()
            .as_ref()
            .is_some_and(|m| m.limit() == Some(-1) && m.swap().unwrap_or(0) == 0);
        if unlimited_mem
            && self
                .v1_dir("memory")
                .is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists())
        {
            v1_writes.insert(
                0,
                Write {
                    controller: "memory",
                    files: vec!["memory.memsw.limit_in_bytes".into()],
                    value: "-1".into(),
                    best_effort: false,
                },
            );
        }
        // Route each controller first: the v1 hierarchy that has it, else
        // v2 when it offers it, else it is not on this host.  v2 values are
        // computed only when something goes to v2 (a hybrid host lacking
        // net_cls must say so, not that net_cls is a v1 thing).
        let mut controllers: Vec<&'static str> = v1_writes.iter().map(|w| w.controller).collect();
        controllers.extend(controllers_of(r).into_iter().filter(|c| *c != "devices"));
        controllers.sort();
        controllers.dedup();
        let mut routes = Vec::new();
        for c in controllers {
            match self.dir_for(c) {
                Some((dir, on_v2)) => routes.push((c, dir.clone(), on_v2)),
                None => {
                    return Err(CgroupError::Unsupported {
                        controller: c.into(),
                        msg: "the controller is not available on this host".into(),
                    })
                }
            }
        }
        let v2_writes = match (&self.v2, routes.iter().any(|(_, _, v2)| *v2)) {
            (Some(v2), true) => resources::v2_writes(r, v2.join("io.bfq.weight").exists())?,
            _ => Vec::new(),
        };
        let mut plan: Vec<(PathBuf, Write)> = Vec::new();
        for (c, dir, on_v2) in routes {
            let src = if on_v2 { &v2_writes } else { &v1_writes };
            plan.extend(
                src.iter()
                    .filter(|w| w.controller == c)
                    .map(|w| (dir.clone(), w.clone())),
            );
        }
        if self.dir_for("memory").is_some_and(|(_, v2)| v2)
            || (self.pure_v2 && r.memory().is_some())
        {
            for what in resources::v2_ignored(r) {
                tracing::warn!("linux.resources.{what} has no effect on cgroup v2; ignored");
            }
        }
        write_all(&plan)?;
        if let Some(shares) = r
            .cpu()
            .as_ref()
            .and_then(|c| c.shares())
            .filter(|s| *s != 0)
        {
            if let Some(d) = self.v1_dir("cpu") {
                let got: u64 = read_trim(&d.join("cpu.shares"))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(shares);
                if got != shares {
                    return Err(CgroupError::Invalid {
                        controller: "cpu".into(),
                        msg: format!(
                            "cpu.shares {shares} was set to {got} by the kernel (range 2..262144)"
                        ),
                    });
                }
            }
        }
        if let Some(list) = r.devices() {
            self.apply_devices(&devices::effective(list)?)?;
        }
        let unified = resources::unified_writes(r)?;
        if !unified.is_empty() {
            let Some(v2) = &self.v2 else {
                return Err(CgroupError::Unsupported {
                    controller: "unified".into(),
                    msg:
                        "linux.resources.unified needs cgroup v2, and this host has only cgroup v1"
                            .into(),
                });
            };
            for (k, v) in unified {
                let f = v2.join(&k);
                if !f.exists() {
                    return Err(CgroupError::Unsupported {
                        controller: "unified".into(),
                        msg: format!(
                            "{k} does not exist in {} (is its controller enabled?)",
                            v2.display()
                        ),
                    });
                }
                crate::write("unified", &f, v.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Apply device rules (`linux.resources.devices` plus the defaults).
    pub fn apply_devices(&self, rules: &[devices::DeviceRule]) -> Result<()> {
        if let Some(d) = self.v1_dir("devices") {
            for r in rules {
                let file = if r.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                let f = d.join(file);
                match crate::write("devices", &f, r.v1_line().as_bytes()) {
                    // The kernel refuses a deny-all on a cgroup with
                    // children (a parent shared by several containers);
                    // one that already denies by default needs none.
                    Err(CgroupError::Io {
                        errno: Errno::EINVAL,
                        ..
                    }) if r.kind == 'a'
                        && !r.allow
                        && read_trim(&d.join("devices.list")).as_deref() != Some("a *:* rwm") => {}
                    other => other?,
                }
            }
            return Ok(());
        }
        if let Some(v2) = &self.v2 {
            let fd = nook_sys::fd::openat(None, v2, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .map_err(|e| io_err("devices", "open", v2, e))?;
            return devices::attach_v2(fd.as_fd(), rules);
        }
        Err(CgroupError::Unsupported {
            controller: "devices".into(),
            msg: "no devices controller and no cgroup v2 to attach a device program to".into(),
        })
    }

    /// The directory processes go to: the leaf of `d`.
    fn procs_dir_of(&self, d: &Path) -> PathBuf {
        if self.leaf {
            d.join(LEAF)
        } else {
            d.to_path_buf()
        }
    }

    /// A descriptor of the v2 directory processes go to, for
    /// `CLONE_INTO_CGROUP`.
    pub fn v2_fd(&self) -> Option<OwnedFd> {
        let d = self.procs_dir_of(self.v2.as_ref()?);
        nook_sys::fd::openat(None, &d, libc::O_RDONLY | libc::O_DIRECTORY, 0).ok()
    }

    /// Move `pid` into the leaf of every directory (the v2 one too unless
    /// `skip_v2`, for a process already cloned into it).
    ///
    /// Each write of a pid takes the kernel's global threadgroup lock (see
    /// [`SelfJoin`]): a process the runtime has just forked joins its v1
    /// cgroups itself instead, and the runtime calls [`Cgroup::add_pid_v2`].
    pub fn add_pid(&self, pid: i32, skip_v2: bool) -> Result<()> {
        let s = pid.to_string();
        for (k, d) in &self.v1 {
            let f = self.procs_dir_of(d).join("cgroup.procs");
            crate::write(k, &f, s.as_bytes())?;
        }
        if !skip_v2 {
            self.add_pid_v2(pid)?;
        }
        Ok(())
    }

    /// Move `pid` into the leaf of the v2 directory, if there is one.
    pub fn add_pid_v2(&self, pid: i32) -> Result<()> {
        if let Some(d) = &self.v2 {
            let f = self.procs_dir_of(d).join("cgroup.procs");
            crate::write("cgroup", &f, pid.to_string().as_bytes())?;
        }
        Ok(())
    }

    /// Open the v1 `tasks` files of the leaf for a process about to be
    /// forked to move itself into this cgroup (see [`SelfJoin`]).
    pub fn self_join(&self) -> Result<SelfJoin> {
        let mut files = Vec::with_capacity(self.v1.len());
        for (k, d) in &self.v1 {
            let p = self.procs_dir_of(d).join("tasks");
            let fd = nook_sys::fd::openat(None, &p, libc::O_WRONLY, 0)
                .map_err(|e| io_err(k, "open", &p, e))?;
            files.push((k.clone(), p, fd));
        }
        Ok(SelfJoin { files })
    }

    /// The directory used to list processes (and the hierarchy it is in).
    fn procs_dir(&self) -> Option<&PathBuf> {
        if self.pure_v2 {
            return self.v2.as_ref();
        }
        ["freezer", "pids", "memory", "devices", "cpuacct"]
            .iter()
            .find_map(|c| self.v1_dir(c))
            .or_else(|| self.v1.values().next())
            .or(self.v2.as_ref())
    }

    /// Pids of every process in the cgroup and its sub-cgroups.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let Some(d) = self.procs_dir() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        collect_pids(d, &mut out);
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Freeze or thaw every process, waiting until the kernel says it is done.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        if !self.pure_v2 {
            if let Some(d) = self.v1_dir("freezer") {
                return freeze_v1(d, frozen);
            }
        }
        if let Some(d) = &self.v2 {
            if d.join("cgroup.freeze").exists() {
                return freeze_v2(d, frozen);
            }
        }
        Err(CgroupError::Unsupported {
            controller: "freezer".into(),
            msg: "no freezer on this host".into(),
        })
    }

    /// Current freezer state.
    pub fn freezer_state(&self) -> FreezerState {
        if !self.pure_v2 {
            if let Some(d) = self.v1_dir("freezer") {
                return match read_trim(&d.join("freezer.state")).as_deref() {
                    Some("FROZEN") | Some("FREEZING") => FreezerState::Frozen,
                    Some(_) => FreezerState::Thawed,
                    None => FreezerState::Unknown,
                };
            }
        }
        if let Some(d) = &self.v2 {
            return match read_trim(&d.join("cgroup.freeze")).as_deref() {
                Some("1") => FreezerState::Frozen,
                Some(_) => FreezerState::Thawed,
                None => FreezerState::Unknown,
            };
        }
        FreezerState::Unknown
    }

    /// Send `sig` to every process of the cgroup, atomically where the
    /// kernel allows (v2 `cgroup.kill`; otherwise frozen while signalled).
    pub fn kill_all(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL {
            if let Some(d) = self.v2.as_ref().filter(|_| self.pure_v2) {
                let f = d.join("cgroup.kill");
                if f.exists() {
                    return crate::write("cgroup", &f, b"1");
                }
            }
        }
        let frozen = sig == libc::SIGKILL && self.freeze(true).is_ok();
        for pid in self.pids()? {
            // SAFETY: plain kill(2); the process is in our cgroup.
            unsafe { libc::kill(pid, sig) };
        }
        if frozen {
            self.freeze(false)?;
        }
        Ok(())
    }

    /// Remove every directory of the container (sub-cgroups first) and the
    /// parents it created that are now empty.  Waits briefly for processes
    /// that are still exiting.
    pub fn destroy(&self) -> Result<()> {
        let mut first_err = None;
        let mut dirs: Vec<&PathBuf> = self.dirs().collect();
        dirs.sort();
        dirs.dedup();
        for d in dirs {
            if let Err(e) = remove_tree(d) {
                first_err.get_or_insert(e);
            }
        }
        for d in self.created.iter().rev() {
            match std::fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                // Still used by another container (a shared parent): keep it.
                Err(_) => {}
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A cgroup's v1 `tasks` files, opened by the runtime before it forks a
/// container process, which then joins with [`SelfJoin::join`] as its first
/// step.
///
/// Why the process moves itself: the kernel moves a process whose pid is
/// written to `cgroup.procs` (or `tasks`) under the global
/// `cgroup_threadgroup_rwsem` taken for writing, and taking it waits for a
/// full RCU grace period (`rcu_sync_enter` → `synchronize_rcu`, 4-15 ms on
/// a busy host) unless some other cgroup migration on the machine took it a
/// few milliseconds before.  Whether a `create` paid that depended on what
/// ran just before it, not on nook.  A thread that writes "0" to `tasks`
/// moves only itself, and the kernel skips that lock for it
/// (`cgroup_procs_write_start`: locked only for `pid || threadgroup`); for
/// a freshly forked single-threaded process that moves the whole process.
#[derive(Debug)]
pub struct SelfJoin {
    files: Vec<(String, PathBuf, OwnedFd)>,
}

impl SelfJoin {
    /// The descriptors it holds (a forked child keeps them open).
    pub fn fds(&self) -> impl Iterator<Item = std::os::fd::RawFd> + '_ {
        use std::os::fd::AsRawFd;
        self.files.iter().map(|(_, _, fd)| fd.as_raw_fd())
    }

    /// Move the calling thread into every hierarchy.  The caller must be
    /// single-threaded, or only this thread moves.
    pub fn join(&self) -> Result<()> {
        for (k, p, fd) in &self.files {
            nook_sys::fd::write_all(fd.as_raw_fd(), b"0").map_err(|e| io_err(k, "write", p, e))?;
        }
        Ok(())
    }

    /// How many hierarchies it joins.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it joins none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The (v1-named) controllers a resources section uses.
pub fn controllers_of(r: &LinuxResources) -> Vec<&'static str> {
    let mut v = Vec::new();
    if r.memory().is_some() {
        v.push("memory");
    }
    if let Some(c) = r.cpu() {
        let cpu = c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.burst().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some()
            || c.idle().is_some();
        if cpu {
            v.push("cpu");
        }
        if c.cpus().is_some() || c.mems().is_some() {
            v.push("cpuset");
        }
    }
    if r.pids().is_some() {
        v.push("pids");
    }
    if r.block_io().is_some() {
        v.push("blkio");
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        v.push("hugetlb");
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            v.push("net_cls");
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            v.push("net_prio");
        }
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        v.push("rdma");
    }
    if r.devices().is_some() {
        v.push("devices");
    }
    v
}

fn mkdir_exist_ok(d: &Path, controller: &str) -> Result<()> {
    match std::fs::create_dir(d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(controller, "mkdir", d, errno_of(&e))),
    }
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Read a small cgroup file, trimmed.
pub fn read_trim(p: &Path) -> Option<String> {
    use std::io::Read;
    let mut s = String::new();
    // (through `Take`: File's own read_to_string would statx first, for a
    // size hint cgroup files do not give; `ps` reads one per container)
    std::fs::File::open(p)
        .ok()?
        .take(u64::MAX)
        .read_to_string(&mut s)
        .ok()?;
    Some(s.trim().to_string())
}

fn copy_cpuset_from_parent(d: &Path) -> Result<()> {
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let here = d.join(f);
        if read_trim(&here).is_some_and(|s| !s.is_empty()) {
            continue;
        }
        let Some(parent) = d.parent() else { continue };
        let v = read_trim(&parent.join(f)).unwrap_or_default();
        if v.is_empty() {
            continue;
        }
        crate::write("cpuset", &here, v.as_bytes())?;
    }
    Ok(())
}

fn enable_controllers(parent: &Path, wanted: &[&str]) -> Result<()> {
    let avail = read_trim(&parent.join("cgroup.controllers")).unwrap_or_default();
    let enabled = read_trim(&parent.join("cgroup.subtree_control")).unwrap_or_default();
    let add: Vec<String> = wanted
        .iter()
        .filter(|c| {
            avail.split_whitespace().any(|a| a == **c)
                && !enabled.split_whitespace().any(|a| a == **c)
        })
        .map(|c| format!("+{c}"))
        .collect();
    if add.is_empty() {
        return Ok(());
    }
    let f = parent.join("cgroup.subtree_control");
    nook_sys::fd::write_file(&f, add.join(" ").as_bytes()).map_err(|e| {
        if e == Errno::EBUSY {
            CgroupError::Unsupported {
                controller: "cgroup".into(),
                msg: format!(
                    "cannot enable {} in {}: it holds processes (cgroup v2 allows controllers only below cgroups without processes); use a cgroupsPath outside it",
                    add.join(" "),
                    f.display()
                ),
            }
        } else {
            io_err("cgroup", "write", &f, e)
        }
    })
}

fn write_all(plan: &[(PathBuf, Write)]) -> Result<()> {
    // Values that depend on each other (memory limit vs memory+swap, cpu
    // quota vs period) may be refused in one order and accepted in the
    // other: retry those that failed with EINVAL once, after the rest.
    let mut retry = Vec::new();
    for (dir, w) in plan {
        match write_one(dir, w) {
            Ok(()) => {}
            Err(CgroupError::Io {
                errno: Errno::EINVAL,
                ..
            }) => retry.push((dir, w)),
            Err(e) => return Err(e),
        }
    }
    for (dir, w) in retry {
        write_one(dir, w)?;
    }
    Ok(())
}

fn write_one(dir: &Path, w: &Write) -> Result<()> {
    let Some(file) = w.files.iter().map(|f| dir.join(f)).find(|p| p.exists()) else {
        if w.best_effort {
            tracing::warn!(
                "cgroup {}: {} is not available on this kernel; ignored",
                w.controller,
                w.files[0]
            );
            return Ok(());
        }
        return Err(CgroupError::Unsupported {
            controller: w.controller.into(),
            msg: format!(
                "{} does not exist in {} (not supported by this kernel)",
                w.files.join(" or "),
                dir.display()
            ),
        });
    };
    match nook_sys::fd::write_file(&file, w.value.as_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if w.best_effort => {
            tracing::warn!(
                "cgroup {}: write {}={}: {e}; ignored",
                w.controller,
                file.display(),
                w.value
            );
            Ok(())
        }
        Err(errno) => Err(CgroupError::Io {
            controller: w.controller.into(),
            op: "write",
            path: PathBuf::from(format!("{}={}", file.display(), w.value)),
            errno,
        }),
    }
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&e.path(), out);
            }
        }
    }
}

fn has_procs(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|s| !s.trim().is_empty())
}

/// Remove a container's cgroup directory and its sub-cgroups.  Processes
/// that were just killed may need a moment to leave; processes that stay
/// belong to another container sharing the cgroup (a pod-style parent), and
/// then the directory is left to that container.
///
/// Returns whether the directory is gone (false: left to its other users).
fn remove_tree(dir: &Path) -> Result<bool> {
    let mut kept_child = false;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                kept_child |= !remove_tree(&e.path())?;
            }
        }
    }
    if kept_child {
        return Ok(false);
    }
    let start = Instant::now();
    let mut delay = Duration::from_micros(200);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) if errno_of(&e) == Errno::EBUSY => {
                let waited = start.elapsed();
                if has_procs(dir) && waited > Duration::from_secs(1) {
                    tracing::debug!(
                        "cgroup {} is still used by other processes; left in place",
                        dir.display()
                    );
                    return Ok(false);
                }
                if waited > Duration::from_secs(3) {
                    return Err(io_err("cgroup", "rmdir", dir, errno_of(&e)));
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(io_err("cgroup", "rmdir", dir, errno_of(&e))),
        }
    }
}

fn freeze_v1(d: &Path, frozen: bool) -> Result<()> {
    let f = d.join("freezer.state");
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let start = Instant::now();
    loop {
        crate::write("freezer", &f, want.as_bytes())?;
        if read_trim(&f).as_deref() == Some(want) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = nook_sys::fd::write_file(&f, b"THAWED");
            return Err(CgroupError::Other(format!(
                "freezer did not reach {want} within 10s"
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn freeze_v2(d: &Path, frozen: bool) -> Result<()> {
    let f = d.join("cgroup.freeze");
    crate::write("freezer", &f, if frozen { b"1" } else { b"0" })?;
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    let start = Instant::now();
    loop {
        let ev = std::fs::read_to_string(d.join("cgroup.events")).unwrap_or_default();
        if ev.lines().any(|l| l.trim() == want) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(CgroupError::Other(format!(
                "cgroup.events did not show {want:?} within 10s"
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout::parse(
            "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n\
             33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n\
             34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n\
             35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             36 31 0:33 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n\
             40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
            "4:memory:/own\n0::/\n",
        )
    }

    /// Plans a cgroup for `path` (or `default_name`) on layout `l`.
    fn plan(
        l: &Layout,
        path: Option<&str>,
        default_name: &str,
        resources: Option<&LinuxResources>,
    ) -> Result<Cgroup> {
        Cgroup::plan(
            l,
            &CgroupSpec {
                path: path.map(Path::new),
                default_name,
                resources,
            },
        )
    }

    #[test]
    fn plan_relative_absolute_default() {
        let l = layout();
        let cg = plan(&l, Some("pod/c1"), "x", None).unwrap();
        assert_eq!(
            cg.v1["memory"],
            PathBuf::from("/sys/fs/cgroup/memory/own/pod/c1")
        );
        assert_eq!(
            cg.v1["freezer"],
            PathBuf::from("/sys/fs/cgroup/freezer/pod/c1")
        );
        assert!(
            !cg.v1.contains_key("cpu"),
            "cpu is joined only when configured"
        );
        assert!(!cg.v1.contains_key("name=systemd"));
        assert_eq!(cg.v2, Some(PathBuf::from("/sys/fs/cgroup/unified/pod/c1")));
        let cg = plan(&l, Some("/abs/c"), "x", None).unwrap();
        assert_eq!(
            cg.v1["memory"],
            PathBuf::from("/sys/fs/cgroup/memory/abs/c")
        );
        let cg = plan(&l, None, "ctr", None).unwrap();
        assert_eq!(
            cg.v1["memory"],
            PathBuf::from("/sys/fs/cgroup/memory/own/ctr")
        );
    }

    #[test]
    fn plan_joins_configured_controllers() {
        let l = layout();
        let r: LinuxResources =
            serde_json::from_str(r#"{"cpu":{"quota":1000,"cpus":"0"}}"#).unwrap();
        let cg = plan(&l, Some("c"), "x", Some(&r)).unwrap();
        assert!(cg.v1.contains_key("cpu"));
        assert!(cg.v1.contains_key("cpuset"));
    }

    #[test]
    fn plan_refuses_own_and_root() {
        let l = layout();
        assert!(plan(&l, Some("/"), "x", None).is_err());
        assert!(plan(&l, Some("/own"), "x", None).is_err());
        assert!(plan(&l, Some("system.slice:nook:x"), "x", None).is_err());
    }

    #[test]
    fn processes_live_in_the_leaf_below_the_limits() {
        let l = layout();
        let cg = plan(&l, Some("pod/c1"), "x", None).unwrap();
        let p = cg.procs_cgroup();
        assert_eq!(
            p.v1["memory"],
            PathBuf::from("/sys/fs/cgroup/memory/own/pod/c1/container")
        );
        assert_eq!(
            p.v2,
            Some(PathBuf::from("/sys/fs/cgroup/unified/pod/c1/container"))
        );
        assert!(!p.leaf && p.created.is_empty());
        // the state of a container made before leaves: processes in place
        let old: Cgroup =
            serde_json::from_str(r#"{"v1":{"memory":"/sys/fs/cgroup/memory/c"},"created":[]}"#)
                .unwrap();
        assert!(!old.leaf);
        assert_eq!(old.procs_cgroup(), old);
    }

    #[test]
    fn state_roundtrip() {
        let l = layout();
        let cg = plan(&l, Some("c"), "x", None).unwrap();
        let s = serde_json::to_string(&cg).unwrap();
        assert_eq!(serde_json::from_str::<Cgroup>(&s).unwrap(), cg);
    }
}
