//! Resources of a living container: `update` (change its limits), its
//! usage statistics and OOM kills, read from its cgroup.

use nook_cgroups::stats::Stats;
use nook_cgroups::{Cgroup, CgroupSpec};
use oci_spec::runtime::LinuxResources;

use crate::error::{Error, Op, Result};
use crate::runtime::{status_of, Runtime};
use crate::state::Status;

impl Runtime {
    /// Change the resource limits of a container.  Controllers the container
    /// did not use yet (a CPU limit added later) are joined now: the
    /// container is frozen while its processes move, so none escapes.
    pub fn update(&self, id: &str, res: &LinuxResources) -> Result<()> {
        let (cd, mut st) = self.load(id, true)?;
        let status = status_of(&cd, &st);
        if status == Status::Stopped {
            return Err(Error::status(id, Op::Update, status));
        }
        let spec = cd.read_config()?;
        let cg_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
        let grown = self.extend_cgroup(&st.cgroup, res, cg_path.as_deref(), id)?;
        if grown != st.cgroup {
            let old = st.cgroup.clone();
            let was_paused = old.freezer_state() == nook_cgroups::FreezerState::Frozen;
            let frozen = !was_paused && old.freeze(true).is_ok();
            let r = (|| -> Result<()> {
                let mut fresh = grown.clone();
                fresh.v1.retain(|k, _| !old.v1.contains_key(k));
                for pid in old.pids()? {
                    fresh.add_pid(pid, true)?;
                }
                Ok(())
            })();
            if frozen {
                let _ = old.freeze(false);
            }
            if let Err(e) = r {
                // Remove the directories this update made.
                let mut made = grown.clone();
                made.v1.retain(|k, _| !old.v1.contains_key(k));
                made.v2 = None;
                made.created.retain(|d| !old.created.contains(d));
                let _ = made.destroy();
                return Err(e);
            }
            st.cgroup = grown;
            cd.write_state(&st)?;
        }
        st.cgroup.update(res)?;
        Ok(())
    }

    /// Usage statistics of a container's cgroup (runc's `events --stats`
    /// data; serialise it for that JSON).
    pub fn stats(&self, id: &str) -> Result<Stats> {
        Ok(self.load(id, false)?.1.cgroup.stats())
    }

    /// How many processes of the container the OOM killer has killed.
    pub fn oom_kills(&self, id: &str) -> Result<u64> {
        Ok(self.load(id, false)?.1.cgroup.oom_kills())
    }

    /// The container's cgroup with the hierarchies `res` needs added (v1),
    /// placed where `create` would have placed them.
    fn extend_cgroup(
        &self,
        cg: &Cgroup,
        res: &LinuxResources,
        path: Option<&std::path::Path>,
        id: &str,
    ) -> Result<Cgroup> {
        let mut out = cg.clone();
        if cg.pure_v2 {
            return Ok(out);
        }
        let planned = self.cgroups.plan(&CgroupSpec {
            path,
            default_name: id,
            resources: Some(res),
        })?;
        for (k, d) in &planned.v1 {
            out.v1.entry(k.clone()).or_insert_with(|| d.clone());
        }
        if out != *cg {
            out.create_missing(cg)?;
        }
        Ok(out)
    }
}
