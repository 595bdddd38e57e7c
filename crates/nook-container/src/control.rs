//! Acting on an existing container: `kill`, `delete`, `pause`, `resume`.

use nook_cgroups::{Cgroup, CgroupSpec};

use crate::error::{Error, Op, Result};
use crate::hooks;
use crate::runtime::{kill_and_wait, signal_init, status_of, Runtime};
use crate::state::{ContainerDir, State, Status};

impl Runtime {
    /// Send `sig` to the container's first process (or, with `all`, to
    /// every process of it).
    pub fn kill(&self, id: &str, sig: i32, all: bool) -> Result<()> {
        let (cd, st) = self.load(id, false)?;
        if all {
            st.cgroup.kill_all(sig)?;
            return Ok(());
        }
        let status = status_of(&cd, &st);
        if !matches!(status, Status::Created | Status::Running | Status::Paused) {
            return Err(Error::status(id, Op::Signal, status));
        }
        signal_init(&st, sig)
    }

    /// Delete a container and everything it had.  A running container needs
    /// `force` (it is killed first); a created one is killed as runc does.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let cd = match self.root.open(id, true) {
            Ok(cd) => cd,
            // As runc: deleting a container that is already gone is not an
            // error when forced.
            Err(Error::NotFound { .. }) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(st) = cd.read_state()? else {
            // create died before writing state: rebuild what it may have
            // left from the saved config.
            return self.delete_partial(cd);
        };
        match status_of(&cd, &st) {
            Status::Stopped => {}
            Status::Created => kill_and_wait(&st)?,
            _ if force => kill_and_wait(&st)?,
            status => return Err(Error::status(id, Op::Delete, status)),
        }
        self.destroy(cd, &st)
    }

    fn destroy(&self, cd: ContainerDir, st: &State) -> Result<()> {
        // Processes of a container without its own pid namespace may outlive
        // its first process (with one, the kernel killed them all with it,
        // and the cgroup may be shared with another container's).
        if !st.own_pid_ns {
            let _ = st.cgroup.kill_all(libc::SIGKILL);
        }
        let cg_result = self.cgroups.destroy(&st.cgroup);
        if st.rootfs_in_host_ns {
            nook_rootfs::unbind_rootfs(&st.rootfs);
        }
        let spec = (cd.config_has_hooks() || self.hooks.is_some())
            .then(|| cd.read_config().ok())
            .flatten();
        if let Some(spec) = &spec {
            if let Some(h) = spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()) {
                let s = hooks::state_json(&st.id, "stopped", 0, &st.bundle, spec);
                hooks::run_all("poststop", h, &s);
            }
            self.poststop_in_process(&st.id, spec);
        }
        cd.remove()?;
        cg_result.map_err(Error::from)
    }

    fn delete_partial(&self, cd: ContainerDir) -> Result<()> {
        if let Ok(spec) = cd.read_config() {
            let linux = spec.linux().clone().unwrap_or_default();
            if let Ok(cg) = self.cgroups.plan(&CgroupSpec {
                path: linux.cgroups_path().as_deref(),
                default_name: &cd.id,
                resources: linux.resources().as_ref(),
            }) {
                let cg: Cgroup = cg;
                let _ = cg.kill_all(libc::SIGKILL);
                let _ = self.cgroups.destroy(&cg);
            }
        }
        cd.remove()
    }

    /// Freeze every process of a running container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let (cd, st) = self.load(id, true)?;
        let status = status_of(&cd, &st);
        if status != Status::Running {
            return Err(Error::status(id, Op::Pause, status));
        }
        st.cgroup.freeze(true)?;
        Ok(())
    }

    /// Thaw a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        let (cd, st) = self.load(id, true)?;
        let status = status_of(&cd, &st);
        if status != Status::Paused {
            return Err(Error::status(id, Op::Resume, status));
        }
        st.cgroup.freeze(false)?;
        Ok(())
    }
}
