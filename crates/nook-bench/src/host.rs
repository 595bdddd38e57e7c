//! The machine as the runtimes see it during a run: a private mount
//! namespace (with a hybrid host's cgroup2 mount hidden, so crun runs too),
//! the cgroup hierarchies and the benchmark's own cgroup base below which
//! every container cgroup is made.

use anyhow::{anyhow, bail, Context, Result};
use nook_cgroups::Layout;
use nook_rootfs::mount::{detach, mount_path};
use std::fs;
use std::path::{Path, PathBuf};

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// cgroup2 (else v1).
    pub v2: bool,
    /// v1 controllers (and `name=` options) of the mount.
    pub controllers: Vec<String>,
}

/// The cgroup hierarchies mounted here (as nook-cgroups reads them) and the
/// benchmark's own cgroup, as a path inside them, in the memory hierarchy
/// (else the v2 one, else the first).
pub fn hierarchies() -> Result<(Vec<Hierarchy>, String)> {
    let l = Layout::detect()?;
    let mut hs: Vec<Hierarchy> =
        l.v1.iter()
            .map(|h| Hierarchy {
                mount: h.mountpoint.clone(),
                v2: false,
                controllers: h.controllers.clone(),
            })
            .collect();
    if let Some(v2) = &l.v2 {
        hs.push(Hierarchy {
            mount: v2.mountpoint.clone(),
            v2: true,
            controllers: Vec::new(),
        });
    }
    let (mount, own_dir) = l
        .v1_for("memory")
        .map(|h| (&h.mountpoint, h.own_dir()))
        .or_else(|| l.v2.as_ref().map(|v| (&v.mountpoint, v.own_dir())))
        .or_else(|| l.v1.first().map(|h| (&h.mountpoint, h.own_dir())))
        .expect("Layout::detect found a hierarchy");
    let own = format!(
        "/{}",
        own_dir
            .strip_prefix(mount)
            .unwrap_or(Path::new(""))
            .display()
    );
    Ok((hs, own))
}

/// Moves the process into a private mount namespace (nothing it or the
/// runtimes mount is seen outside, and all of it goes when it exits) and,
/// on a hybrid host, hides /sys/fs/cgroup/unified there unless `keep_unified`.
/// Returns a description of the cgroup layout the runtimes will see.
pub fn isolate(keep_unified: bool) -> Result<String> {
    // SAFETY: unshare(2) on a single-threaded process.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        bail!("unshare(CLONE_NEWNS): {}", std::io::Error::last_os_error());
    }
    mount_path(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
    .map_err(|e| anyhow!("making / private: {e}"))?;
    let (hs, _) = hierarchies()?;
    let v1 = hs.iter().filter(|h| !h.v2).count();
    let unified = Path::new("/sys/fs/cgroup/unified");
    let hybrid = v1 > 0 && hs.iter().any(|h| h.v2 && h.mount == unified);
    if hybrid && !keep_unified {
        detach(unified).map_err(|e| anyhow!("hiding {}: {e}", unified.display()))?;
        return Ok(format!("cgroup v1 ({v1} hierarchies; hybrid host, unified hidden in the benchmark's mount namespace)"));
    }
    Ok(match (v1, hs.iter().any(|h| h.v2)) {
        (0, true) => "cgroup v2".to_string(),
        (_, true) => format!("hybrid: cgroup v1 ({v1} hierarchies) + cgroup2"),
        _ => format!("cgroup v1 ({v1} hierarchies)"),
    })
}

/// The benchmark's cgroups: one base directory per hierarchy, below the
/// benchmark's own cgroup, under which every container cgroup is made.
#[derive(Debug)]
pub struct Cgroups {
    /// Every hierarchy visible to the runtimes.
    pub hierarchies: Vec<Hierarchy>,
    /// The base, as an absolute cgroup path (same in every hierarchy).
    pub base: String,
    /// Directories made for the base, deepest last (removed in reverse).
    made: Vec<PathBuf>,
}

impl Cgroups {
    /// Makes the base `OWN/nook-bench-PID`, where OWN is the benchmark's own
    /// cgroup in the memory hierarchy (or the v2 one).
    pub fn setup() -> Result<Cgroups> {
        let (hs, own) = hierarchies()?;
        let base = format!(
            "{}/nook-bench-{}",
            own.trim_end_matches('/'),
            std::process::id()
        );
        let mut cg = Cgroups {
            hierarchies: hs,
            base,
            made: Vec::new(),
        };
        for h in cg.hierarchies.clone() {
            let mut dir = h.mount.clone();
            for part in cg.base.split('/').filter(|s| !s.is_empty()) {
                let parent = dir.clone();
                dir.push(part);
                if dir.exists() {
                    continue;
                }
                fs::create_dir(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
                cg.made.push(dir.clone());
                if h.controllers.iter().any(|c| c == "cpuset") {
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        let v = fs::read_to_string(parent.join(f)).unwrap_or_default();
                        let _ = fs::write(dir.join(f), v.trim());
                    }
                }
                if h.v2 {
                    // let the runtimes' cgroups below have every controller
                    let ctl =
                        fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
                    for c in ctl.split_whitespace() {
                        let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
                    }
                }
            }
        }
        Ok(cg)
    }

    /// The base directory in hierarchy `h`.
    pub fn dir(&self, h: &Hierarchy) -> PathBuf {
        h.mount.join(self.base.trim_start_matches('/'))
    }

    /// The hierarchy holding the memory controller.
    pub fn memory(&self) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "memory"))
            .or_else(|| self.hierarchies.iter().find(|h| h.v2))
    }

    /// Directories left below the base in any hierarchy.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for h in &self.hierarchies {
            if let Ok(rd) = fs::read_dir(self.dir(h)) {
                for e in rd.flatten() {
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        out.push(e.path());
                    }
                }
            }
        }
        out
    }

    /// Kills whatever is left in the base and removes every directory below
    /// it and the base itself.
    pub fn remove_all(&mut self) {
        for h in self.hierarchies.clone() {
            remove_tree(&self.dir(&h));
        }
        for d in self.made.drain(..).rev() {
            let _ = fs::remove_dir(&d);
        }
    }
}

/// Removes a cgroup directory tree, killing the processes in it first.
pub fn remove_tree(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_tree(&e.path());
        }
    }
    for _ in 0..50 {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        if procs.trim().is_empty() {
            break;
        }
        let _ = fs::write(dir.join("freezer.state"), "THAWED");
        let _ = fs::write(dir.join("cgroup.freeze"), "0");
        for pid in procs
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            // SAFETY: kill(2) of a pid read from the cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for _ in 0..50 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
