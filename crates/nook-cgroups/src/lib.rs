//! cgroups: grouping, limiting and accounting a container's processes.
//!
//! One interface over the three host layouts: pure cgroup v1 (one hierarchy
//! per controller or group of controllers), pure cgroup v2 (one unified
//! hierarchy) and hybrid (v1 controllers plus a v2 hierarchy that may hold
//! the controllers v1 lacks).  Each controller is driven on whichever
//! hierarchy has it.
//!
//! - [`layout`]: what the host has mounted and where the runtime itself sits.
//! - [`resources`]: `linux.resources` turned into (controller, file, value)
//!   writes for v1 and for v2 — pure functions, unit-tested.
//! - [`devices`]: device access rules; v1 `devices.allow`/`deny`, v2 an eBPF
//!   program attached to the cgroup.
//! - [`cgroup`]: one container's cgroup across hierarchies: create, apply,
//!   join (or `CLONE_INTO_CGROUP`), freeze, list, kill, remove.
//! - [`driver`]: the [`CgroupDriver`] that places and makes cgroups
//!   ([`CgroupFs`]: the cgroup file system directly).
//! - [`stats`]: usage counters in runc's `events --stats` shape.

#![warn(missing_docs)]

pub mod cgroup;
pub mod devices;
pub mod driver;
pub mod layout;
pub mod resources;
pub mod stats;

pub use cgroup::{Cgroup, CgroupSpec, FreezerState, SelfJoin};
pub use driver::{CgroupDriver, CgroupFs};
pub use layout::Layout;

use std::path::{Path, PathBuf};

/// cgroup errors; every one names the controller or file involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Reading the host's layout failed.
    #[error("cgroup layout: {0}")]
    Layout(String),
    /// A configured value cannot be applied on this host.
    #[error("cgroup {controller}: {msg}")]
    Unsupported {
        /// Controller name.
        controller: String,
        /// What is missing.
        msg: String,
    },
    /// A configured value is invalid.
    #[error("cgroup {controller}: {msg}")]
    Invalid {
        /// Controller name.
        controller: String,
        /// What is wrong.
        msg: String,
    },
    /// A cgroup file operation failed.
    #[error("cgroup {controller}: {op} {path}: {errno}")]
    Io {
        /// Controller (or "cgroup" for core files).
        controller: String,
        /// What we were doing (write, mkdir, rmdir, ...).
        op: &'static str,
        /// File or directory.
        path: PathBuf,
        /// Why.
        errno: nook_sys::Errno,
    },
    /// The requested path is not acceptable.
    #[error("linux.cgroupsPath: {0}")]
    Path(String),
    /// Anything else.
    #[error("cgroup: {0}")]
    Other(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, CgroupError>;

/// Write `data` to the cgroup file `path`; an error names `controller`.
pub(crate) fn write(controller: &str, path: &Path, data: &[u8]) -> Result<()> {
    nook_sys::fd::write_file(path, data).map_err(|e| io_err(controller, "write", path, e))
}

pub(crate) fn io_err(
    controller: &str,
    op: &'static str,
    path: impl Into<PathBuf>,
    errno: nook_sys::Errno,
) -> CgroupError {
    CgroupError::Io {
        controller: controller.to_string(),
        op,
        path: path.into(),
        errno,
    }
}
