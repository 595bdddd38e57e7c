//! [`Runtime`]: where containers' state lives, which cgroup driver places
//! them and which in-process hooks run; the lifecycle operations are
//! methods of it, one file per concern (create, start, control, query,
//! exec, resources).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nook_cgroups::{CgroupDriver, CgroupFs, FreezerState};
use nook_sys::proc::is_same_alive;

use crate::error::{Error, Result};
use crate::hooks::{HookContext, LifecycleHooks};
use crate::state::{ContainerDir, Root, State, Status};

/// The library's entry point: containers under one state root.
///
/// A `Runtime` holds no open resources: make one per call or keep one, from
/// any thread.  Every operation locks the container's state directory, so
/// two processes (or threads) working on one container take turns.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub(crate) root: Root,
    pub(crate) cgroups: Arc<dyn CgroupDriver>,
    pub(crate) hooks: Option<Arc<dyn LifecycleHooks>>,
}

impl Runtime {
    /// Containers' state under `state_root` (made on first use, mode 0700);
    /// cgroups through cgroupfs, relative paths below the caller's own
    /// cgroup; no in-process hooks.
    pub fn new(state_root: impl Into<PathBuf>) -> Runtime {
        Runtime {
            root: Root::new(state_root),
            cgroups: Arc::new(CgroupFs::new()),
            hooks: None,
        }
    }

    /// Place cgroups with `driver` (e.g. [`CgroupFs::with_root`]).
    pub fn with_cgroup_driver(mut self, driver: Arc<dyn CgroupDriver>) -> Runtime {
        self.cgroups = driver;
        self
    }

    /// Run `hooks` at createRuntime and poststop time of every container.
    pub fn with_hooks(mut self, hooks: Arc<dyn LifecycleHooks>) -> Runtime {
        self.hooks = Some(hooks);
        self
    }

    /// The state root.
    pub fn state_root(&self) -> &Path {
        &self.root.dir
    }

    /// The container's seccomp filter, if it has one, compiled once per
    /// profile and cached under the state root (for create and exec alike).
    pub(crate) fn seccomp_filter(
        &self,
        linux: &oci_spec::runtime::Linux,
    ) -> Result<Option<nook_security::seccomp::Compiled>> {
        let cache = self.root.dir.join(".cache").join("seccomp");
        Ok(linux
            .seccomp()
            .as_ref()
            .map(|s| nook_security::seccomp::compile_cached(s, Some(&cache)))
            .transpose()?)
    }

    /// Open (and lock) a container whose `create` finished.
    pub(crate) fn load(&self, id: &str, exclusive: bool) -> Result<(ContainerDir, State)> {
        let cd = self.root.open(id, exclusive)?;
        let st = cd
            .read_state()?
            .ok_or_else(|| Error::StillCreating { id: id.to_string() })?;
        Ok((cd, st))
    }

    /// Run the in-process poststop hook, if any (a failure is a warning).
    pub(crate) fn poststop_in_process(&self, id: &str, spec: &oci_spec::runtime::Spec) {
        if let Some(h) = &self.hooks {
            let ctx = HookContext { id, pid: 0, spec };
            if let Err(e) = h.poststop(&ctx) {
                tracing::warn!("poststop hook {}: {e}", h.name());
            }
        }
    }
}

/// The status of a container whose state the caller read.
pub(crate) fn status_of(cd: &ContainerDir, st: &State) -> Status {
    if !is_same_alive(st.pid, st.init_start_time) {
        return Status::Stopped;
    }
    if cd.has_fifo() {
        return Status::Created;
    }
    if st.cgroup.freezer_state() == FreezerState::Frozen {
        return Status::Paused;
    }
    Status::Running
}

/// How a process that is our child ended, for error messages (empty when
/// it is not our child or still running).
pub(crate) fn exit_detail(pid: i32) -> String {
    let mut st = 0;
    // SAFETY: non-blocking wait for a possible child.
    if unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG | libc::__WALL) } == pid {
        return format!(" ({})", crate::ExitStatus::from_wait_status(st));
    }
    String::new()
}

/// Signal a container's first process through a pidfd (no pid reuse).
pub(crate) fn signal_init(st: &State, sig: i32) -> Result<()> {
    let pidfd = nook_sys::pidfd::open(st.pid)
        .map_err(Error::sys("open a pidfd for the container's process"))?;
    // The pidfd now pins the process; make sure it is still ours.
    if !is_same_alive(st.pid, st.init_start_time) {
        return Err(Error::status(
            &st.id,
            crate::error::Op::Signal,
            Status::Stopped,
        ));
    }
    nook_sys::pidfd::send_signal(std::os::fd::AsFd::as_fd(&pidfd), sig).map_err(Error::sys(
        format!("send {} to the container", nook_sys::signal::name(sig)),
    ))
}

/// SIGKILL a container's first process and wait until it is gone.
pub(crate) fn kill_and_wait(st: &State) -> Result<()> {
    use std::os::fd::AsFd;
    let Ok(pidfd) = nook_sys::pidfd::open(st.pid) else {
        return Ok(());
    };
    if !is_same_alive(st.pid, st.init_start_time) {
        return Ok(());
    }
    let _ = nook_sys::pidfd::send_signal(pidfd.as_fd(), libc::SIGKILL);
    // A v1-frozen process cannot die until thawed.
    if st.cgroup.freezer_state() == FreezerState::Frozen {
        let _ = st.cgroup.freeze(false);
    }
    if !nook_sys::pidfd::wait_exit(pidfd.as_fd(), Some(Duration::from_secs(10))).unwrap_or(false) {
        return Err(Error::Setup(format!(
            "container {:?}: its process did not die within 10s of SIGKILL",
            st.id
        )));
    }
    Ok(())
}
