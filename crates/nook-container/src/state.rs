//! The state directory: one directory per container under the runtime's
//! `--root`, holding `state.json`, the container's `config.json` as it was
//! at create time, and the exec FIFO while the container is `created`.
//!
//! A container directory is locked with `flock` by every command that
//! changes it; `state`/`list` see a container whose `create` still holds
//! the lock as `creating`.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nook_cgroups::Cgroup;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The OCI runtime-spec version nook implements.
pub const OCI_VERSION: &str = "1.2.0";

/// Persisted facts about a container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct State {
    /// Spec version.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Pid of the container's first process, in the runtime's pid namespace.
    pub pid: i32,
    /// Start time of that process (clock ticks since boot), to tell it from
    /// a later process that reuses the pid.
    pub init_start_time: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Annotations of the config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroup.
    pub cgroup: Cgroup,
    /// The container has its own pid namespace (killing its first process
    /// kills all of it).
    #[serde(default)]
    pub own_pid_ns: bool,
    /// Created by a non-root user.
    #[serde(default)]
    pub rootless: bool,
    /// The config has a `process` (without one the container can be
    /// created but not started).
    #[serde(default = "yes")]
    pub has_process: bool,
    /// The rootfs was bind-mounted in the runtime's own mount namespace
    /// (the container has none of its own): `delete` detaches it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rootfs_in_host_ns: bool,
}

fn yes() -> bool {
    true
}

/// A container's status (runtime-spec names, lower-case in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is still running.
    Creating,
    /// Created, its program not started yet.
    Created,
    /// Its program runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// Its first process has exited.
    Stopped,
}

impl Status {
    /// The runtime-spec's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The runtime's state root (`--root`).
#[derive(Debug, Clone)]
pub struct Root {
    /// Directory.
    pub dir: PathBuf,
}

fn flock(fd: &OwnedFd, op: i32) -> std::result::Result<(), nook_sys::Errno> {
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(fd.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = nook_sys::Errno::last();
        if e != nook_sys::Errno::EINTR {
            return Err(e);
        }
    }
}

impl Root {
    /// A root at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    /// Create the root directory (mode 0700) if needed.
    pub fn ensure(&self) -> Result<()> {
        if self.dir.is_dir() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(Error::io("create state root", self.dir.clone()))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        Ok(())
    }

    /// Directory of container `id`.
    pub fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Ids of all containers, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Make the directory of a new container and lock it.
    pub fn create(&self, id: &str) -> Result<ContainerDir> {
        self.ensure()?;
        let dir = self.path_of(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists { id: id.to_string() })
            }
            Err(e) => return Err(Error::io("create state directory", dir)(e)),
        }
        let cd = ContainerDir::open_dir(id, dir)?;
        flock(&cd.lock, libc::LOCK_EX).map_err(Error::sys("lock the container's state"))?;
        Ok(cd)
    }

    /// Open (and lock, exclusively or shared) an existing container.
    pub fn open(&self, id: &str, exclusive: bool) -> Result<ContainerDir> {
        crate::config::validate_id(id)?;
        let cd = ContainerDir::open_existing(id, self.path_of(id))?;
        flock(
            &cd.lock,
            if exclusive {
                libc::LOCK_EX
            } else {
                libc::LOCK_SH
            },
        )
        .map_err(Error::sys("lock the container's state"))?;
        Ok(cd)
    }

    /// Open without waiting for a lock; with `true` when another holds
    /// it exclusively (a `create` that has not finished, or an operation).
    pub fn peek(&self, id: &str) -> Result<(ContainerDir, bool)> {
        crate::config::validate_id(id)?;
        let cd = ContainerDir::open_existing(id, self.path_of(id))?;
        match flock(&cd.lock, libc::LOCK_SH | libc::LOCK_NB) {
            Ok(()) => Ok((cd, false)),
            Err(nook_sys::Errno::EWOULDBLOCK) => Ok((cd, true)),
            Err(e) => Err(Error::sys("lock the container's state")(e)),
        }
    }
}

/// A locked container directory.
#[derive(Debug)]
pub struct ContainerDir {
    /// Container id.
    pub id: String,
    /// Directory.
    pub dir: PathBuf,
    /// The locked directory descriptor (lock released on drop).
    pub lock: OwnedFd,
}

impl ContainerDir {
    fn open_dir(id: &str, dir: PathBuf) -> Result<ContainerDir> {
        let lock = nook_sys::fd::openat(None, &dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| Error::Io {
                op: "open",
                path: dir.clone(),
                source: e.into(),
            })?;
        Ok(ContainerDir {
            id: id.to_string(),
            dir,
            lock,
        })
    }

    /// Open the directory of an existing container: [`Error::NotFound`]
    /// when there is none (no `stat` first: `ps` opens one per container).
    fn open_existing(id: &str, dir: PathBuf) -> Result<ContainerDir> {
        match nook_sys::fd::openat(None, &dir, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
            Ok(lock) => Ok(ContainerDir {
                id: id.to_string(),
                dir,
                lock,
            }),
            Err(nook_sys::Errno::ENOENT | nook_sys::Errno::ENOTDIR) => {
                Err(Error::NotFound { id: id.to_string() })
            }
            Err(e) => Err(Error::Io {
                op: "open",
                path: dir,
                source: e.into(),
            }),
        }
    }

    /// Whether the exec FIFO is there (the container is `created`), looked
    /// up in the open directory.
    pub fn has_fifo(&self) -> bool {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: a valid directory fd, a NUL-terminated name and a stat
        // buffer the kernel fills; follows a symlink as `Path::exists`.
        unsafe {
            libc::fstatat(
                self.lock.as_raw_fd(),
                c"exec.fifo".as_ptr(),
                st.as_mut_ptr(),
                0,
            ) == 0
        }
    }

    /// `state.json`.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The exec FIFO.
    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }

    /// The saved configuration.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Read `state.json` (`None`: not written yet, i.e. create never finished).
    /// It is opened in the locked directory (no path walk, no `stat`: `ps`
    /// reads one per container).
    pub fn read_state(&self) -> Result<Option<State>> {
        use std::io::Read;
        use std::os::fd::AsFd;
        let name = Path::new("state.json");
        let fd = match nook_sys::fd::openat(Some(self.lock.as_fd()), name, libc::O_RDONLY, 0) {
            Ok(fd) => fd,
            Err(nook_sys::Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(Error::io("read", self.state_path())(e.into())),
        };
        let mut b = Vec::with_capacity(8192);
        // (through `Take`: File's own read_to_end would statx and lseek
        // first, for a size hint)
        std::fs::File::from(fd)
            .take(u64::MAX)
            .read_to_end(&mut b)
            .map_err(Error::io("read", self.state_path()))?;
        serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::InvalidConfig {
                path: Some(self.state_path()),
                reason: e.to_string(),
            })
    }

    /// Write `state.json` atomically.
    pub fn write_state(&self, s: &State) -> Result<()> {
        let data = serde_json::to_vec(s).map_err(|e| Error::config(e.to_string()))?;
        write_atomic(&self.state_path(), &data)
    }

    /// Read the saved config.json.
    pub fn read_config(&self) -> Result<oci_spec::runtime::Spec> {
        let p = self.config_path();
        let b = std::fs::read(&p).map_err(Error::io("read", p.clone()))?;
        crate::config::parse_json(&b, &p)
    }

    /// Whether the saved config.json has hooks.  Parsing the whole config
    /// only pays off when it has; a scan of the saved bytes decides.
    pub fn config_has_hooks(&self) -> bool {
        std::fs::read(self.config_path()).is_ok_and(|b| b.windows(7).any(|w| w == b"\"hooks\""))
    }

    /// Remove the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove state directory", self.dir.clone())(e)),
        }
    }
}

/// Write a file by writing a temporary sibling and renaming it over.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, data).map_err(Error::io("write", tmp.clone()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("rename into place", path.to_path_buf())(e)
    })
}

/// Now as RFC 3339 UTC with nanoseconds (`2026-11-29T11:36:46.123456789Z`).
pub fn rfc3339_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// Format seconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_795_952_206, 5), "2026-11-29T11:36:46.000000005Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn create_open_lock() {
        let d = std::env::temp_dir().join(format!("nook-state-test-{}", std::process::id()));
        let root = Root::new(&d);
        let c = root.create("c1").unwrap();
        assert!(matches!(root.create("c1"), Err(Error::Exists { .. })));
        assert!(root.peek("c1").unwrap().1, "create holds the lock");
        drop(c);
        let (c, busy) = root.peek("c1").unwrap();
        assert!(!busy);
        assert!(c.read_state().unwrap().is_none());
        assert_eq!(root.ids(), vec!["c1".to_string()]);
        assert!(matches!(
            root.open("nope", false),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            root.open("../x", false),
            Err(Error::InvalidId { .. })
        ));
        c.remove().unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }
}
