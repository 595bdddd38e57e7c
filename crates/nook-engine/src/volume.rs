//! Named and anonymous volumes, as Docker's `local` driver keeps them:
//! a directory `<root>/volumes/<name>/_data` that containers bind-mount,
//! and a record in nook-state (made after the directory, removed before
//! it).  `volume create/ls/inspect/rm/prune` and the volumes `run` makes
//! on first use.
//!
//! A volume a container uses (running or not) cannot be removed until the
//! container is: nook-state keeps the uses.  Removing (`volume rm`,
//! `prune`) holds `engine.lock` exclusive, making a container (which
//! records its volumes' uses) holds it shared, so no volume is removed
//! between the moment a container finds it and the moment its use is
//! recorded.

use crate::{Engine, Error, Result};
use nook_state::{NewVolume, VolumeRecord};
use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The one driver there is.
pub const LOCAL_DRIVER: &str = "local";

/// The label Docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// What `volume create` is asked for.
#[derive(Clone, Debug, Default)]
pub struct VolumeOptions {
    /// The name (a generated 64-hex one when `None`).
    pub name: Option<String>,
    /// `--driver` (only `local`).
    pub driver: Option<String>,
    /// `--label k=v`.
    pub labels: BTreeMap<String, String>,
    /// `-o k=v`.
    pub options: BTreeMap<String, String>,
}

/// A volume with where its data is.
#[derive(Clone, Debug)]
pub struct Volume {
    /// What the store has.
    pub record: VolumeRecord,
    /// `<root>/volumes/<name>/_data`.
    pub mountpoint: PathBuf,
}

/// Whether `name` is a valid volume name (Docker's
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

/// An error for a name that is not valid, worded as Docker's.
pub fn check_name(name: &str) -> Result<()> {
    match valid_name(name) {
        true => Ok(()),
        false => Err(Error::invalid(
            "volume name",
            name,
            "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed (if you meant a host directory, use an absolute path)",
        )),
    }
}

/// The host directory a volume made with the local driver's bind options
/// (`-o type=none -o o=bind -o device=/path`) stands for; `None` for a
/// plain volume.  Other device mounts (`type=tmpfs`, `nfs`, ...) are
/// refused, naming the option.
pub fn bind_device(options: &BTreeMap<String, String>) -> Result<Option<PathBuf>> {
    if options.is_empty() {
        return Ok(None);
    }
    let get = |k: &str| options.get(k).map(String::as_str).unwrap_or("");
    if !get("size").is_empty() {
        return Err(Error::invalid(
            "volume option size",
            get("size"),
            "quota size requested but no quota support",
        ));
    }
    let typ = get("type");
    if !matches!(typ, "none" | "bind") {
        return Err(Error::invalid(
            "volume option type",
            typ,
            "only bind devices are supported (-o type=none -o o=bind -o device=PATH)",
        ));
    }
    if !get("o").split(',').any(|o| o == "bind" || o == "rbind") {
        return Err(Error::invalid(
            "volume option o",
            get("o"),
            "must hold bind with type=none",
        ));
    }
    let device = get("device");
    if !device.starts_with('/') || !Path::new(device).is_dir() {
        return Err(Error::invalid(
            "volume option device",
            device,
            "must be an existing absolute directory",
        ));
    }
    Ok(Some(PathBuf::from(device)))
}

/// Options of Docker's local driver.
const LOCAL_OPTIONS: [&str; 4] = ["type", "device", "o", "size"];

impl Engine {
    /// `<root>/volumes`.
    pub fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// The data directory of volume `name`.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    fn volume_of(&self, record: VolumeRecord) -> Volume {
        let mountpoint = self.volume_data(&record.volume.name);
        Volume { record, mountpoint }
    }

    /// Make a volume (or find the one of that name: as Docker, creating an
    /// existing volume is not an error).
    pub fn create_volume(&self, opts: &VolumeOptions) -> Result<Volume> {
        let driver = opts.driver.as_deref().unwrap_or(LOCAL_DRIVER);
        if driver != LOCAL_DRIVER {
            return Err(Error::invalid(
                "volume driver",
                driver,
                "only the local driver exists",
            ));
        }
        if let Some(k) = opts
            .options
            .keys()
            .find(|k| !LOCAL_OPTIONS.contains(&k.as_str()))
        {
            return Err(Error::invalid(
                "volume option",
                k,
                "the local driver takes type, device, o and size",
            ));
        }
        bind_device(&opts.options)?;
        let (name, anonymous) = match &opts.name {
            Some(n) => (n.clone(), false),
            None => (crate::container::random_id()?, true),
        };
        let mut labels = opts.labels.clone();
        if anonymous {
            labels.insert(ANONYMOUS_LABEL.into(), String::new());
        }
        self.make_volume(&NewVolume {
            name,
            driver: LOCAL_DRIVER.into(),
            labels,
            options: opts.options.clone(),
            anonymous,
        })
        .map(|(v, _)| v)
    }

    /// Make volume `v` unless it exists: its directory, then its record;
    /// the volume and whether it was made now.
    pub(crate) fn make_volume(&self, v: &NewVolume) -> Result<(Volume, bool)> {
        check_name(&v.name)?;
        if let Some(r) = self.state.volume(&v.name)? {
            let vol = self.volume_of(r);
            ensure_dir(&vol.mountpoint)?;
            return Ok((vol, false));
        }
        let data = self.volume_data(&v.name);
        ensure_dir(&data)?;
        let made = self.state.insert_volume(v, crate::container::now_nanos())?;
        let r = self
            .state
            .volume(&v.name)?
            .ok_or_else(|| nook_state::Error::NoSuchVolume(v.name.clone()))?;
        Ok((self.volume_of(r), made))
    }

    /// The volume named `name`.
    pub fn volume(&self, name: &str) -> Result<Volume> {
        self.state
            .volume(name)?
            .map(|r| self.volume_of(r))
            .ok_or_else(|| nook_state::Error::NoSuchVolume(name.to_string()).into())
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        Ok(self
            .state
            .volumes()?
            .into_iter()
            .map(|r| self.volume_of(r))
            .collect())
    }

    /// The ids of the containers (running or not) that use volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self.state.volume_users(name)?)
    }

    /// Remove volume `name`: refused while a container uses it; with
    /// `force`, a volume that does not exist is not an error.
    pub fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let _lock = self.lock(true)?;
        self.remove_volume_locked(name, force)
    }

    pub(crate) fn remove_volume_locked(&self, name: &str, force: bool) -> Result<()> {
        match self.state.remove_volume(name) {
            Ok(()) => {}
            Err(nook_state::Error::NoSuchVolume(_)) if force => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let dir = self.volumes_dir().join(name);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", dir)(e)),
            _ => Ok(()),
        }
    }

    /// Remove the volumes no container uses (anonymous ones only, unless
    /// `all`); their names and the bytes freed.
    pub fn prune_volumes(
        &self,
        all: bool,
        filter: &crate::PruneFilter,
    ) -> Result<(Vec<String>, u64)> {
        let _lock = self.lock(true)?;
        let mut removed = Vec::new();
        let mut freed = 0;
        for v in self.volumes()? {
            let name = &v.record.volume.name;
            if (!all && !v.record.volume.anonymous) || !self.volume_users(name)?.is_empty() {
                continue;
            }
            let labels = serde_json::to_value(&v.record.volume.labels).unwrap_or_default();
            if !filter.matches(Some(v.record.created), &labels) {
                continue;
            }
            let size = dir_size(&v.mountpoint);
            if self.remove_volume_locked(name, true).is_ok() {
                freed += size;
                removed.push(name.clone());
            }
        }
        Ok((removed, freed))
    }

    /// The volumes container `id` (full id) uses.
    pub fn container_volumes(&self, id: &str) -> Result<Vec<String>> {
        Ok(self.state.container_volumes(id)?)
    }

    /// Remove the anonymous volumes of a removed container (`rm -v`,
    /// `run --rm`); a volume another container still uses is kept.
    pub fn remove_anonymous_volumes(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let _lock = self.lock(true)?;
        for n in names {
            let Some(r) = self.state.volume(n)? else {
                continue;
            };
            if r.volume.anonymous && self.state.volume_users(n)?.is_empty() {
                self.remove_volume_locked(n, true)?;
            }
        }
        Ok(())
    }
}

/// Disk usage of volumes, as `system df` shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VolumeUsage {
    /// How many volumes.
    pub count: usize,
    /// How many of them containers use.
    pub active: usize,
    /// The bytes of their files.
    pub size: u64,
    /// The bytes of the ones no container uses.
    pub reclaimable: u64,
}

impl Engine {
    /// Disk usage of volumes.
    pub fn volume_usage(&self) -> Result<VolumeUsage> {
        let mut u = VolumeUsage::default();
        for v in self.volumes()? {
            let size = dir_size(&v.mountpoint);
            u.count += 1;
            u.size += size;
            match self.volume_users(&v.record.volume.name)?.is_empty() {
                true => u.reclaimable += size,
                false => u.active += 1,
            }
        }
        Ok(u)
    }
}

/// Make `dir` and its parents (a volume's directory is 0701, its data
/// 0755, as Docker's).
fn ensure_dir(data: &std::path::Path) -> Result<()> {
    if let Some(parent) = data.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o701)
            .create(parent)
            .map_err(Error::io("create", parent))?;
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(data)
        .map_err(Error::io("create", data))
}

/// The bytes of regular files below `dir` (links not followed).
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["ab", "a1", "data", "my_vol.v-2", "0x"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a", "-ab", ".ab", "a/b", "a b", "a:b", "é1", "_x"] {
            assert!(!valid_name(bad), "{bad}");
        }
        let e = check_name("a$b").unwrap_err().to_string();
        assert!(e.contains("\"a$b\"") && e.lines().count() == 1, "{e}");
    }
}
