//! How a container's cgroup is placed, made and removed: the driver.
//!
//! [`CgroupFs`] writes the cgroup file system directly (what nook does
//! today).  A systemd driver would ask systemd for a scope unit and then
//! use the same files; it would implement [`CgroupDriver`] too.  Whatever
//! the driver, the [`Cgroup`] it returns is driven through its files
//! (freeze, kill, stats, update).

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::{Cgroup, CgroupSpec, Layout, Result};

/// Places, makes and removes containers' cgroups.
pub trait CgroupDriver: Send + Sync + std::fmt::Debug {
    /// Where a container's cgroup goes (nothing is changed).
    fn plan(&self, spec: &CgroupSpec<'_>) -> Result<Cgroup>;

    /// Make the planned cgroup and apply `resources`; on failure nothing of
    /// it is left.
    fn create(&self, cg: &mut Cgroup, resources: Option<&LinuxResources>) -> Result<()>;

    /// Remove a cgroup whose processes are gone.
    fn destroy(&self, cg: &Cgroup) -> Result<()>;
}

/// The cgroupfs driver: relative `cgroupsPath`s go below the caller's own
/// cgroup, or below a root given with [`CgroupFs::with_root`].
#[derive(Debug, Clone, Default)]
pub struct CgroupFs {
    root: Option<PathBuf>,
}

impl CgroupFs {
    /// Relative paths below the caller's own cgroup (as runc).
    pub fn new() -> CgroupFs {
        CgroupFs::default()
    }

    /// Relative paths below `root`: a cgroup path from each hierarchy's
    /// root when absolute (`/nook`: where an engine keeps its containers),
    /// else below the caller's own cgroup (see [`Layout::with_root`]).
    pub fn with_root(root: impl AsRef<Path>) -> CgroupFs {
        CgroupFs {
            root: Some(root.as_ref().to_path_buf()),
        }
    }

    /// The host's layout, with the configured root.
    pub fn layout(&self) -> Result<Layout> {
        let l = Layout::detect()?;
        Ok(match &self.root {
            Some(r) => l.with_root(r),
            None => l,
        })
    }
}

impl CgroupDriver for CgroupFs {
    fn plan(&self, spec: &CgroupSpec<'_>) -> Result<Cgroup> {
        Cgroup::plan(&self.layout()?, spec)
    }

    fn create(&self, cg: &mut Cgroup, resources: Option<&LinuxResources>) -> Result<()> {
        cg.create(&self.layout()?, resources)
    }

    fn destroy(&self, cg: &Cgroup) -> Result<()> {
        cg.destroy()
    }
}
