//! Reading containers without changing them: `state`, `list`, `pids`, the
//! saved configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runtime::{status_of, Runtime};
use crate::state::{ContainerDir, State, Status, OCI_VERSION};

/// The state of a container (runtime-spec "State", with runc's extra
/// `rootfs`, `created` and `owner`; serialises in runc's shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Spec version.
    pub oci_version: String,
    /// Id.
    pub id: String,
    /// Pid of its first process (0 when stopped).
    pub pid: i32,
    /// Status.
    pub status: Status,
    /// Bundle.
    pub bundle: PathBuf,
    /// Rootfs.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Owner of the state (user name).
    pub owner: String,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

fn owner_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

fn report(cd: &ContainerDir, st: &State) -> ContainerState {
    let status = status_of(cd, st);
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&cd.dir)
            .map(|m| owner_name(m.uid()))
            .unwrap_or_default()
    };
    ContainerState {
        oci_version: st.oci_version.clone(),
        id: st.id.clone(),
        pid: if status == Status::Stopped { 0 } else { st.pid },
        status,
        bundle: st.bundle.clone(),
        rootfs: st.rootfs.clone(),
        created: st.created.clone(),
        owner,
        annotations: st.annotations.clone(),
    }
}

fn bare(id: &str, status: Status) -> ContainerState {
    ContainerState {
        oci_version: OCI_VERSION.into(),
        id: id.into(),
        pid: 0,
        status,
        bundle: PathBuf::new(),
        rootfs: PathBuf::new(),
        created: String::new(),
        owner: String::new(),
        annotations: BTreeMap::new(),
    }
}

impl Runtime {
    /// The state of one container (`creating` while its `create` runs).
    pub fn state(&self, id: &str) -> Result<ContainerState> {
        let (cd, busy) = self.root.peek(id)?;
        // state.json is written atomically once create is done: it is read
        // whoever holds the lock (an operation on the container, or a
        // process forked while a create held it).
        match cd.read_state()? {
            Some(st) => Ok(report(&cd, &st)),
            // No state yet: create is running, or it died (no lock left).
            None if busy => Ok(bare(id, Status::Creating)),
            None => Ok(bare(id, Status::Stopped)),
        }
    }

    /// The state of every container, sorted by id.
    pub fn list(&self) -> Result<Vec<ContainerState>> {
        let mut out = Vec::new();
        for id in self.root.ids() {
            match self.state(&id) {
                Ok(r) => out.push(r),
                Err(Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!("container {id}: {e}"),
            }
        }
        Ok(out)
    }

    /// Status of a container.
    pub fn status(&self, id: &str) -> Result<Status> {
        let (cd, st) = self.load(id, false)?;
        Ok(status_of(&cd, &st))
    }

    /// Pids (host view) of every process of the container.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let (_, st) = self.load(id, false)?;
        Ok(st.cgroup.pids()?)
    }

    /// The configuration the container was created with.
    pub fn config(&self, id: &str) -> Result<oci_spec::runtime::Spec> {
        let cd = self.root.open(id, false)?;
        cd.read_config()
    }

    /// The container's cgroup (its directories, to read or to place
    /// something beside).
    pub fn cgroup(&self, id: &str) -> Result<nook_cgroups::Cgroup> {
        Ok(self.load(id, false)?.1.cgroup)
    }
}
