//! The rest of a container's life after `create`: start (detached, under
//! its monitor, as `run -d` starts it), restart, wait for the exit, pause
//! and unpause (the cgroup freezer), rename, prune the stopped ones, and
//! the sizes `ps -s` and `inspect -s` show.

use super::{names, Container, LiveStatus};
use crate::{Engine, Error, Result};
use std::path::PathBuf;
use std::time::Duration;

/// What `container prune` removed.
#[derive(Clone, Debug, Default)]
pub struct ContainerPrune {
    /// Full ids of the containers removed.
    pub removed: Vec<String>,
    /// Bytes their writable layers held.
    pub reclaimed: u64,
}

/// A container's sizes: its writable layer, and that plus its image's
/// layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContainerSize {
    /// Bytes in the writable (upper) layer.
    pub rw: u64,
    /// Bytes of the image's layers plus the writable layer.
    pub root_fs: u64,
}

impl Engine {
    /// Start container `word` (created, or exited) detached under a new
    /// monitor, as `run -d` starts it (`cmds`: what the monitor of a
    /// container id runs); nothing when it already runs.  A stop asked
    /// earlier is forgotten: the restart policy applies again.
    pub fn start_container(
        &self,
        word: &str,
        cmds: &dyn Fn(&str) -> Result<super::detach::MonitorCommands>,
    ) -> Result<Container> {
        let c = self.container(word)?;
        if c.status == LiveStatus::Running {
            return Ok(c);
        }
        let id = c.record.id.clone();
        // a container whose monitor died left its runtime state behind
        match self.runtime().delete(&id, true) {
            Ok(()) | Err(nook_container::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.state.set_container_stop_requested(&id, false)?;
        // the exit of its last run is recorded: its exit file must not
        // stand for this run
        let exit = self.container_dir(&id).join(nook_monitor::exit::EXIT_FILE);
        match std::fs::remove_file(&exit) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", &exit)(e)),
        }
        self.start_detached(&id, &cmds(&id)?)?;
        self.container(&id)
    }

    /// `update --restart`: container `word`'s restart policy replaced
    /// (refused for a `--rm` container, as Docker refuses it).
    pub fn set_restart_policy(&self, word: &str, policy: &str) -> Result<()> {
        let p = super::detach::RestartPolicy::parse(policy)?;
        let c = self.container(word)?;
        let _lock = super::ContainerLock::take(&self.container_dir(&c.record.id));
        let rec = self
            .state
            .container(&c.record.id)?
            .ok_or_else(|| nook_state::Error::NoSuchContainer(word.to_string()))?;
        if rec.auto_remove && p != super::detach::RestartPolicy::No {
            return Err(Error::invalid(
                "restart policy",
                policy,
                "restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        let mut spec: serde_json::Value = serde_json::from_str(&rec.config)
            .map_err(|e| Error::invalid("container config", &rec.id, e))?;
        spec["annotations"]["io.nook.restart"] = serde_json::json!(p.name());
        self.state
            .set_container_config(&rec.id, &spec.to_string())?;
        Ok(())
    }

    /// Stop container `word` (SIGKILL after `timeout`), then start it again.
    pub fn restart_container(
        &self,
        word: &str,
        timeout: Duration,
        signal: Option<i32>,
        cmds: &dyn Fn(&str) -> Result<super::detach::MonitorCommands>,
    ) -> Result<Container> {
        let c = self.stop_container_with(word, timeout, signal)?;
        self.start_container(&c.record.id, cmds)
    }

    /// Wait until container `word` is not running; its exit code (0 for a
    /// container never started, as Docker's `wait`; 255 when it died with
    /// nobody to record its code).
    pub fn wait_container(&self, word: &str) -> Result<i32> {
        let id = self.container(word)?.record.id;
        let code = super::poll::poll(Duration::from_millis(20), None, || -> Result<_> {
            let rec = self
                .state
                .container(&id)?
                .ok_or_else(|| nook_state::Error::NoSuchContainer(id.clone()))?;
            // the monitor records the exit shortly after the process ends
            let watched = rec.monitor_pid.is_some_and(super::process_alive);
            if rec.status == nook_state::ContainerStatus::Running && watched {
                return Ok(None);
            }
            let code = rec.exit_code;
            Ok(match self.with_status(rec).status {
                LiveStatus::Created => Some(0),
                LiveStatus::Exited(code) => Some(code.unwrap_or(255)),
                // it exited; its restart policy starts it again
                LiveStatus::Restarting => Some(code.unwrap_or(0)),
                LiveStatus::Running => None,
            })
        })?;
        // (with no limit, the wait ends only with a code)
        Ok(code.unwrap_or(255))
    }

    /// Whether a container's processes are frozen (`pause`), as the
    /// runtime said when its status was read.
    pub fn is_paused(&self, c: &Container) -> bool {
        c.status == LiveStatus::Running && c.paused
    }

    /// Freeze every process of running container `word`.
    pub fn pause_container(&self, word: &str) -> Result<Container> {
        let c = self.container(word)?;
        if c.status != LiveStatus::Running {
            return Err(Error::NotRunning(c.record.id.clone()));
        }
        if self.is_paused(&c) {
            return Err(Error::invalid(
                "container",
                &c.record.name,
                "is already paused",
            ));
        }
        self.runtime().pause(&c.record.id)?;
        Ok(c)
    }

    /// Thaw paused container `word`.
    pub fn unpause_container(&self, word: &str) -> Result<Container> {
        let c = self.container(word)?;
        if !self.is_paused(&c) {
            return Err(Error::invalid("container", &c.record.name, "is not paused"));
        }
        self.runtime().resume(&c.record.id)?;
        Ok(c)
    }

    /// Give container `word` the name `new` (which no other container may
    /// have).
    pub fn rename_container(&self, word: &str, new: &str) -> Result<Container> {
        let new = new.strip_prefix('/').unwrap_or(new);
        names::check(new)?;
        let c = self.container(word)?;
        if c.record.name == new {
            return Err(Error::invalid(
                "name",
                new,
                "renaming a container with the same name as its current name",
            ));
        }
        self.state.rename_container(&c.record.id, new)?;
        self.container(&c.record.id)
    }

    /// Remove every container that is not running (and `filter` picks).
    pub fn prune_containers(&self, filter: &crate::PruneFilter) -> Result<ContainerPrune> {
        let mut report = ContainerPrune::default();
        for c in self.containers()? {
            if c.status == LiveStatus::Running
                || !filter.matches(Some(c.record.created), &c.labels())
            {
                continue;
            }
            let size = self.container_size(&c.record.id).map_or(0, |s| s.rw);
            match self.remove_container(&c.record.id, false) {
                Ok(_) => {
                    report.reclaimed += size;
                    report.removed.push(c.record.id);
                }
                // started or removed meanwhile
                Err(Error::Running(_)) => {}
                Err(Error::State(nook_state::Error::NoSuchContainer(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// The sizes of container `id`'s root file system.
    pub fn container_size(&self, id: &str) -> Result<ContainerSize> {
        let rootfs = self.layers.rootfs(id)?;
        let rw = rootfs.upper_usage()?;
        let mut lower = 0;
        for chain in rootfs.chain_ids() {
            lower += self.layers.disk_usage(chain).unwrap_or(0);
        }
        Ok(ContainerSize {
            rw,
            root_fs: rw + lower,
        })
    }

    /// The directories of container `id`'s overlay root: lower layers
    /// (uppermost first), upper, work and merged.
    pub fn container_dirs(&self, id: &str) -> Result<(Vec<PathBuf>, PathBuf, PathBuf, PathBuf)> {
        let r = self.layers.rootfs(id)?;
        Ok((r.lowers().to_vec(), r.upper(), r.work(), r.merged()))
    }
}
