//! The lifecycle of nook containers, as a library.
//!
//! `nook-runtime` (the OCI runtime CLI) is a thin shell over this crate, and
//! the `nook` engine drives it in-process.  [`Runtime`] is the entry point:
//! [`Runtime::create`] prepares a container and leaves its process waiting,
//! [`Runtime::start`] runs the program, [`Runtime::state`], [`Runtime::kill`],
//! [`Runtime::delete`] and friends do what the runtime-spec says.  The
//! container's own process is driven by [`init`]; the rest of the work is
//! delegated to the `nook-namespaces`, `nook-cgroups`, `nook-rootfs`,
//! `nook-security` and `nook-process` crates.

pub mod config;
pub mod container;
pub mod error;
pub mod exec;
pub mod features;
pub mod hooks;
pub mod init;
pub mod resources;
pub mod run;
pub mod spec;
pub mod state;

pub use container::{CreateOpts, Created, Report, Runtime};
pub use error::{Error, Result};
pub use exec::{ExecArgs, ExecOpts, ExecProcess};
pub use run::RunOpts;
pub use state::Status;
