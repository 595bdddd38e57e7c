//! The lifecycle of nook containers, as a library.
//!
//! `nook-runtime` (the OCI runtime CLI) is a thin shell over this crate, and
//! the `nook` engine drives it in-process.  [`Runtime`] is the entry point:
//!
//! ```no_run
//! use nook_container::{CreateRequest, Runtime, Stdio};
//! # fn main() -> nook_container::Result<()> {
//! # let spec: oci_spec::runtime::Spec = Default::default();
//! let rt = Runtime::new("/run/my-engine");
//! let mut req = CreateRequest::new("web", spec, "/var/lib/my-engine/web/rootfs");
//! req.stdio = Stdio::default(); // or pipes: Some(OwnedFd) per stream
//! let child = rt.create(req)?;   // set up; the process waits
//! rt.start("web")?;              // the program runs
//! let status = child.wait()?;    // the caller's own child
//! rt.delete("web", false)?;
//! # let _ = status; Ok(()) }
//! ```
//!
//! Requests are in memory ([`CreateRequest`], [`ExecRequest`]: a parsed
//! configuration, stdio descriptors, where a pty master goes); results are
//! typed ([`Child`] with a pidfd, [`ContainerState`], [`Stats`]); errors
//! are an [`Error`] a caller can match.  Nothing here changes the calling
//! process: no signal mask, no subreaper, no namespace entered, no
//! `waitpid(-1)`; it may be called from any thread (see `spawn.rs` for how
//! forking stays sound in a multi-threaded caller).  Extension points: a
//! [`nook_cgroups::CgroupDriver`] and in-process [`LifecycleHooks`].
//!
//! The work is delegated to `nook-namespaces`, `nook-cgroups`,
//! `nook-rootfs`, `nook-security` and `nook-process`; the container's own
//! process, from the fork to `execve`, is `init.rs`.

#![warn(missing_docs)]

pub mod config;
mod control;
mod create;
mod error;
mod exec;
mod hooks;
mod init;
mod process;
mod query;
mod request;
mod resources;
mod runtime;
mod spawn;
mod start;
mod state;

pub use error::{Error, Op, Result};
pub use hooks::{HookContext, HookError, LifecycleHooks};
pub use nook_cgroups::stats::Stats;
pub use process::{wait, Child, ExitStatus};
pub use query::ContainerState;
pub use request::{Console, CreateRequest, ExecRequest, Stdio};
pub use runtime::Runtime;
pub use state::{rfc3339, rfc3339_now, Status, OCI_VERSION};
