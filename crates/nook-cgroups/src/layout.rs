//! What cgroup hierarchies the host has mounted, and where in each of them
//! the runtime itself sits (so that relative paths can be placed below it).

use nook_sys::proc::unescape_mountinfo;
use std::path::{Path, PathBuf};

use crate::{CgroupError, Result};

/// Every v1 controller nook knows how to drive or account.
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// One mounted cgroup v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Controllers bound to it (`["cpu", "cpuacct"]`), or `["name=systemd"]`.
    pub controllers: Vec<String>,
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// Which cgroup of the hierarchy the mount shows as its root.
    pub mount_root: PathBuf,
    /// The runtime's own cgroup in it, as `/proc/self/cgroup` says.
    pub own: PathBuf,
}

/// The mounted cgroup v2 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Mount {
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// Which cgroup the mount shows as its root.
    pub mount_root: PathBuf,
    /// The runtime's own cgroup.
    pub own: PathBuf,
}

/// Which cgroup versions the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only v1 hierarchies.
    V1,
    /// Only the v2 unified hierarchy.
    V2,
    /// v1 controllers plus a v2 hierarchy.
    Hybrid,
}

/// The host's cgroup layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// v1 hierarchies, in mount order.
    pub v1: Vec<V1Hierarchy>,
    /// The v2 hierarchy, if mounted.
    pub v2: Option<V2Mount>,
}

impl V1Hierarchy {
    /// Does this hierarchy carry `controller`?
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// A stable key naming the hierarchy (`cpu,cpuacct`, `name=systemd`).
    pub fn key(&self) -> String {
        self.controllers.join(",")
    }

    /// The directory of the runtime's own cgroup.
    pub fn own_dir(&self) -> PathBuf {
        under(&self.mountpoint, &self.mount_root, &self.own)
    }
}

impl V2Mount {
    /// The directory of the runtime's own cgroup.
    pub fn own_dir(&self) -> PathBuf {
        under(&self.mountpoint, &self.mount_root, &self.own)
    }
}

/// `mountpoint` + (`cg` relative to `root`).  A cgroup outside the mounted
/// subtree (a confused /proc/self/cgroup) maps to the mountpoint itself.
fn under(mountpoint: &Path, root: &Path, cg: &Path) -> PathBuf {
    let rel = cg.strip_prefix(root).unwrap_or(Path::new(""));
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    if rel.as_os_str().is_empty() {
        mountpoint.to_path_buf()
    } else {
        mountpoint.join(rel)
    }
}

impl Layout {
    /// The same layout with `root` in place of the caller's own cgroup:
    /// relative cgroup paths resolve below it.  An absolute `root` (`/nook`)
    /// is a path from each hierarchy's root; a relative one is below the
    /// caller's own cgroup in each hierarchy (what a test or a nested engine
    /// wants: it never leaves its own subtree).
    pub fn with_root(mut self, root: &Path) -> Layout {
        let rel = nook_sys::path::clean_relative(root);
        let place = |own: &Path| {
            if root.is_absolute() {
                Path::new("/").join(&rel)
            } else {
                own.join(&rel)
            }
        };
        for h in &mut self.v1 {
            h.own = place(&h.own);
        }
        if let Some(m) = &mut self.v2 {
            m.own = place(&m.own);
        }
        self
    }

    /// Read the layout of the running system.
    pub fn detect() -> Result<Layout> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| CgroupError::Layout(format!("read /proc/self/mountinfo: {e}")))?;
        let cg = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| CgroupError::Layout(format!("read /proc/self/cgroup: {e}")))?;
        let l = Layout::parse(&mi, &cg);
        if l.v1.is_empty() && l.v2.is_none() {
            return Err(CgroupError::Layout("no cgroup hierarchy is mounted".into()));
        }
        Ok(l)
    }

    /// Build the layout from the text of `/proc/self/mountinfo` and
    /// `/proc/self/cgroup`.
    pub fn parse(mountinfo: &str, proc_cgroup: &str) -> Layout {
        let mut own_v1: Vec<(Vec<String>, PathBuf)> = Vec::new();
        let mut own_v2 = None;
        for line in proc_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if ctrls.is_empty() {
                own_v2 = Some(PathBuf::from(path));
            } else {
                own_v1.push((
                    ctrls.split(',').map(str::to_string).collect(),
                    PathBuf::from(path),
                ));
            }
        }
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let (root, mountpoint) = (
                PathBuf::from(unescape_mountinfo(pre[3])),
                PathBuf::from(unescape_mountinfo(pre[4])),
            );
            match post[0] {
                "cgroup2" if layout.v2.is_none() => {
                    layout.v2 = Some(V2Mount {
                        mountpoint,
                        mount_root: root,
                        own: own_v2.clone().unwrap_or_else(|| PathBuf::from("/")),
                    });
                }
                "cgroup" => {
                    let ctrls: Vec<String> = post[2]
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(str::to_string)
                        .collect();
                    if ctrls.is_empty() || layout.v1.iter().any(|h| h.controllers == ctrls) {
                        continue;
                    }
                    let own = own_v1
                        .iter()
                        .find(|(c, _)| {
                            let mut a = c.clone();
                            let mut b = ctrls.clone();
                            a.sort();
                            b.sort();
                            a == b
                        })
                        .map(|(_, p)| p.clone())
                        .unwrap_or_else(|| PathBuf::from("/"));
                    layout.v1.push(V1Hierarchy {
                        controllers: ctrls,
                        mountpoint,
                        mount_root: root,
                        own,
                    });
                }
                _ => {}
            }
        }
        layout
    }

    /// v1, v2 or hybrid.
    pub fn mode(&self) -> Mode {
        match (
            self.v1
                .iter()
                .any(|h| !h.controllers.iter().all(|c| c.starts_with("name="))),
            &self.v2,
        ) {
            (false, Some(_)) => Mode::V2,
            (true, Some(_)) => Mode::Hybrid,
            _ => Mode::V1,
        }
    }

    /// The v1 hierarchy carrying `controller`.
    pub fn v1_for(&self, controller: &str) -> Option<&V1Hierarchy> {
        self.v1.iter().find(|h| h.has(controller))
    }

    /// Controllers the v2 hierarchy offers at its root (empty without v2).
    pub fn v2_controllers(&self) -> Vec<String> {
        self.v2
            .as_ref()
            .and_then(|m| std::fs::read_to_string(m.mountpoint.join("cgroup.controllers")).ok())
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const CG: &str = "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";

    #[test]
    fn hybrid_host() {
        let l = Layout::parse(MI, CG);
        assert_eq!(l.mode(), Mode::Hybrid);
        assert_eq!(l.v1.len(), 4);
        let mem = l.v1_for("memory").unwrap();
        assert_eq!(
            mem.own_dir(),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/abc")
        );
        assert_eq!(
            l.v1_for("cpu").unwrap().own_dir(),
            PathBuf::from("/sys/fs/cgroup/cpu")
        );
        assert_eq!(l.v1[3].key(), "name=systemd");
        assert_eq!(
            l.v2.as_ref().unwrap().own_dir(),
            PathBuf::from("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn pure_v2_nested() {
        let mi = "25 20 0:22 /ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = Layout::parse(mi, "0::/ctr/sub\n");
        assert_eq!(l.mode(), Mode::V2);
        assert_eq!(l.v2.unwrap().own_dir(), PathBuf::from("/sys/fs/cgroup/sub"));
    }

    #[test]
    fn comounted_and_escapes() {
        let mi = "32 31 0:29 / /sys/fs/cgroup/cpu\\054cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let l = Layout::parse(mi, "3:cpuacct,cpu:/x\n");
        assert_eq!(
            l.v1[0].mountpoint,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(l.v1[0].own, PathBuf::from("/x"));
        assert_eq!(l.mode(), Mode::V1);
    }
}
