//! Containers: made from an image (record, overlay root, spec, /etc files),
//! run (attached in the caller, or detached under a monitor process),
//! listed with their true status, stopped, killed, exec'd into, removed.
//!
//! ```text
//! <root>/containers/<id>/        hosts, hostname, resolv.conf, container.log (JSON lines)
//! <root>/storage/containers/<id> the overlay root (nook-storage)
//! <root>/run/<id>/               nook-container's state
//! cgroup /nook/<id>              its cgroup (CgroupFs::with_root)
//! ```
//!
//! The record (nook-state) is written last when a container is made, and
//! removed last when it is removed; `<root>/containers/<id>/` is flocked
//! while an exit is recorded or the container removed, so a monitor and an
//! `rm -f` never undo each other's work.
//!
//! - [`spec`]: the OCI spec from the image config and the flags.
//! - [`monitor`]: what holds a running container's stdio, writes its log
//!   and records its exit.
//! - [`names`]: generated names.
//! - [`manage`]: start, restart, wait, pause, rename, prune, sizes.
//! - [`top`]: the processes of a container.
//! - [`stats`]: usage samples.
//! - [`mounts`]: `-v`, `--mount`, `--tmpfs` and the image's Volumes.
//! - [`copy`]: `cp`, in and out, resolved inside the container's root.
//! - [`tree`]: file trees copied by descriptor (volumes filled, `cp`).

pub mod copy;
pub mod manage;
pub mod monitor;
pub mod mounts;
pub mod names;
pub mod spec;
pub mod stats;
pub mod top;
pub mod tree;

use crate::{Engine, Error, Result};
use nook_container::{ExecRequest, Runtime};
use nook_state::{ContainerRecord, ContainerStatus, NewContainer};
use serde_json::{json, Value};
use spec::ProcessConfig;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The cgroup every container's cgroup is made under.
pub const CGROUP_PARENT: &str = "/nook";

/// What `run`/`create` is asked for.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The image, as the user names it.
    pub image: String,
    /// The name (generated when `None`).
    pub name: Option<String>,
    /// `-e K=V` (already expanded: `K` alone is the caller's job).
    pub env: Vec<String>,
    /// `-w DIR`.
    pub workdir: Option<String>,
    /// `-u USER[:GROUP]`.
    pub user: Option<String>,
    /// `--entrypoint` (replaces the image's Entrypoint and its Cmd).
    pub entrypoint: Option<String>,
    /// The command after the image name (replaces the image's Cmd).
    pub cmd: Vec<String>,
    /// `-h HOST` (the short id when `None`).
    pub hostname: Option<String>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `-v/--volume` (`SRC:DST[:OPTS]`, `DST`).
    pub volumes: Vec<String>,
    /// `--mount` (`type=...,source=...,target=...`).
    pub mounts: Vec<String>,
    /// `--tmpfs DST[:OPTS]`.
    pub tmpfs: Vec<String>,
}

/// A container's status as it truly is: the record, checked against the
/// runtime (a container whose monitor died is still seen as it is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveStatus {
    /// Made, never started.
    Created,
    /// Its process runs.
    Running,
    /// Exited with this code (`None`: it died with nobody to record it).
    Exited(Option<i32>),
}

/// A container with its live status.
#[derive(Clone, Debug)]
pub struct Container {
    /// What the store has.
    pub record: ContainerRecord,
    /// What is true now.
    pub status: LiveStatus,
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

/// 32 random bytes as 64 hex digits.
pub(crate) fn random_id() -> Result<String> {
    let mut b = [0u8; 32];
    let mut got = 0;
    while got < b.len() {
        // SAFETY: getrandom writes at most the given length into `b`.
        let n = unsafe { libc::getrandom(b[got..].as_mut_ptr().cast(), b.len() - got, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::io("read", "getrandom")(e));
            }
            continue;
        }
        got += n as usize;
    }
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl Engine {
    /// The lifecycle library on this store (state under `<root>/run`,
    /// cgroups under [`Engine::cgroup_parent`]).
    pub fn runtime(&self) -> Runtime {
        Runtime::new(self.root.join("run")).with_cgroup_driver(Arc::new(
            nook_cgroups::CgroupFs::with_root(self.cgroup_parent()),
        ))
    }

    /// The cgroup containers' cgroups go under: the option, else
    /// [`CGROUP_PARENT`].
    pub fn cgroup_parent(&self) -> &str {
        self.options
            .cgroup_parent
            .as_deref()
            .unwrap_or(CGROUP_PARENT)
    }

    /// The engine's directory of container `id`.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// Make a container from `opts.image` (which must be in the store):
    /// its root mounted, its spec built, its record written (last).
    pub fn create_container(&self, opts: &RunOptions) -> Result<ContainerRecord> {
        let _lock = self.lock(false)?;
        let image = self.inspect(&opts.image)?;
        let id = random_id()?;
        let lowers: Vec<nook_storage::Digest> = image
            .record
            .layers
            .iter()
            .rev()
            .map(|l| crate::to_storage_digest(&l.chain_id))
            .collect::<Result<_>>()?;
        let mount_requests =
            mounts::requests(&opts.volumes, &opts.mounts, &opts.tmpfs, &image.config)?;
        let mut planned = mounts::Planned::default();
        let dir = self.container_dir(&id);
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let made = self
            .layers
            .prepare_rootfs(&id, &lowers)
            .map_err(Error::from);
        let result = made.and_then(|rootfs| {
            rootfs.mount(&nook_storage::MountOptions::default())?;
            self.plan_mounts(mount_requests, &rootfs.merged(), &mut planned)?;
            let mut rec =
                self.new_record(&id, opts, &image.config, &rootfs.merged(), &image.record.id)?;
            rec.config = mounts::apply(&rec.config, &planned)?;
            self.state.insert_container(&rec)?;
            self.state.add_container_volumes(&id, &planned.volumes)?;
            Ok(())
        });
        if let Err(e) = result {
            let _ = self.state.remove_container(&id);
            self.teardown(&id);
            self.unplan_mounts(&planned);
            return Err(e);
        }
        self.state
            .container(&id)?
            .ok_or_else(|| nook_state::Error::NoSuchContainer(id.clone()).into())
    }

    /// The record of a new container: its spec built, /etc files written.
    fn new_record(
        &self,
        id: &str,
        opts: &RunOptions,
        image_config: &Value,
        rootfs: &std::path::Path,
        image_id: &crate::Digest,
    ) -> Result<NewContainer> {
        let (entrypoint, cmd, env, workdir, user) = spec::image_process(image_config);
        let (entrypoint, cmd) = match &opts.entrypoint {
            Some(e) => (vec![e.clone()], opts.cmd.clone()),
            None if !opts.cmd.is_empty() => (entrypoint, opts.cmd.clone()),
            None => (entrypoint, cmd),
        };
        let args: Vec<String> = entrypoint.iter().chain(&cmd).cloned().collect();
        if args.is_empty() || args[0].is_empty() {
            return Err(Error::invalid("command", "", "no command specified"));
        }
        let hostname = opts
            .hostname
            .clone()
            .unwrap_or_else(|| id[..12].to_string());
        let mut env = spec::merge_env(&env, &opts.env);
        if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
            env.insert(1, format!("HOSTNAME={hostname}"));
        }
        let cwd = opts
            .workdir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or(workdir);
        let cwd = if cwd.is_empty() { "/".to_string() } else { cwd };
        if !cwd.starts_with('/') {
            return Err(Error::invalid(
                "working directory",
                cwd,
                "must be an absolute path",
            ));
        }
        spec::ensure_cwd(rootfs, &cwd)?;
        let user = opts.user.clone().unwrap_or(user);
        let ids = spec::resolve_user(rootfs, &user)?;
        let process = ProcessConfig {
            args,
            env,
            cwd,
            user: user.clone(),
        };
        let etc_dir = self.container_dir(id);
        spec::write_etc(&etc_dir, &hostname)?;
        let annotations = json!({
            "io.nook.image": opts.image,
            "io.nook.user": user,
            "io.nook.entrypoint": serde_json::to_string(&entrypoint).unwrap_or_default(),
            "io.nook.cmd": serde_json::to_string(&cmd).unwrap_or_default(),
        });
        let built = spec::build(&spec::SpecInput {
            process: &process,
            ids,
            hostname: &hostname,
            etc_dir: &etc_dir,
            annotations,
        })?;
        let config = serde_json::to_string(&built).map_err(|e| Error::invalid("spec", id, e))?;
        let name = match &opts.name {
            Some(n) => {
                names::check(n)?;
                n.clone()
            }
            None => self.free_name()?,
        };
        Ok(NewContainer {
            id: id.to_string(),
            name,
            image_id: image_id.clone(),
            image_name: opts.image.clone(),
            config,
            created: now_nanos(),
            log_path: etc_dir.join("container.log"),
            auto_remove: opts.auto_remove,
        })
    }

    /// A generated name no container has.
    fn free_name(&self) -> Result<String> {
        let taken: std::collections::HashSet<String> = self
            .state
            .containers()?
            .into_iter()
            .map(|c| c.name)
            .collect();
        for _ in 0..64 {
            let n = names::generate(&random_id()?);
            if !taken.contains(&n) {
                return Ok(n);
            }
        }
        Ok(names::generate(&random_id()?) + &random_id()?[..4])
    }

    /// The container `word` (full id, name or id prefix) names, with its
    /// live status.
    pub fn container(&self, word: &str) -> Result<Container> {
        let record = self.state.find_container(word)?;
        Ok(self.with_status(record))
    }

    /// Every container, newest first, with its live status.
    pub fn containers(&self) -> Result<Vec<Container>> {
        let recs = self.state.containers()?;
        Ok(recs.into_iter().map(|r| self.with_status(r)).collect())
    }

    fn with_status(&self, record: ContainerRecord) -> Container {
        let status = match record.status {
            ContainerStatus::Created => LiveStatus::Created,
            ContainerStatus::Exited => LiveStatus::Exited(record.exit_code),
            ContainerStatus::Running => match self.runtime().status(&record.id) {
                Ok(nook_container::Status::Stopped) | Err(_) => LiveStatus::Exited(None),
                Ok(_) => LiveStatus::Running,
            },
        };
        Container { record, status }
    }

    /// Send `sig` to a running container's first process.
    pub fn kill_container(&self, word: &str, sig: i32) -> Result<Container> {
        let c = self.container(word)?;
        if c.status != LiveStatus::Running {
            return Err(Error::NotRunning(c.record.id.clone()));
        }
        self.runtime().kill(&c.record.id, sig, false)?;
        Ok(c)
    }

    /// Stop a running container: `SIGTERM`, then `SIGKILL` after `timeout`;
    /// returns once its exit is recorded (or it is removed, with `--rm`).
    pub fn stop_container(&self, word: &str, timeout: Duration) -> Result<Container> {
        let c = self.container(word)?;
        if c.status != LiveStatus::Running {
            return Ok(c);
        }
        let id = c.record.id.clone();
        let pidfd = c.record.pid.and_then(|p| nook_sys::pidfd::open(p).ok());
        let rt = self.runtime();
        let _ = rt.kill(&id, libc::SIGTERM, false);
        let _ = rt.resume(&id); // a paused container gets the signal once thawed
        let exited = |t| match &pidfd {
            Some(fd) => {
                nook_sys::pidfd::wait_exit(std::os::fd::AsFd::as_fd(fd), Some(t)).unwrap_or(true)
            }
            None => true,
        };
        if !exited(timeout) {
            let _ = rt.kill(&id, libc::SIGKILL, false);
            exited(Duration::from_secs(10));
        }
        // the monitor records the exit; wait for it (not for a dead one)
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.state.container(&id)? {
                None => break,
                Some(r) if r.status != ContainerStatus::Running => break,
                Some(r) if !r.monitor_pid.is_some_and(process_alive) => break,
                Some(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        Ok(match self.state.container(&id)? {
            Some(r) => self.with_status(r),
            None => c,
        })
    }

    /// Remove a container: its process (killed with `force`), runtime
    /// state, cgroup, root file system, files and record.
    pub fn remove_container(&self, word: &str, force: bool) -> Result<ContainerRecord> {
        let c = self.container(word)?;
        let id = c.record.id.clone();
        if matches!(c.status, LiveStatus::Running) && !force {
            return Err(Error::Running(id));
        }
        let _guard = ContainerLock::take(&self.container_dir(&id));
        let rt = self.runtime();
        let _ = rt.kill(&id, libc::SIGKILL, false);
        let _ = rt.resume(&id); // a paused container gets the signal once thawed
        match rt.delete(&id, true) {
            Ok(()) | Err(nook_container::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.teardown(&id);
        self.state.remove_container(&id)?;
        Ok(c.record)
    }

    /// Remove what a container has on disk (best effort: each part may be
    /// gone already).
    pub(crate) fn teardown(&self, id: &str) {
        if let Ok(r) = self.layers.rootfs(id) {
            let _ = r.remove(&self.layers);
        }
        let _ = std::fs::remove_dir_all(self.container_dir(id));
    }

    /// Run `exec` in a running container, its stdio the caller's; the
    /// command's exit code.
    pub fn exec_container(&self, word: &str, opts: &ExecOptions) -> Result<i32> {
        let c = self.container(word)?;
        if c.status != LiveStatus::Running {
            return Err(Error::NotRunning(c.record.id.clone()));
        }
        let id = &c.record.id;
        let saved: oci_spec::runtime::Spec = serde_json::from_str(&c.record.config)
            .map_err(|e| Error::invalid("container config", id, e))?;
        let base = saved.process().clone().unwrap_or_default();
        let env = spec::merge_env(base.env().as_deref().unwrap_or(&[]), &opts.env);
        let user = opts.user.clone().unwrap_or_default();
        let rootfs = self.layers.rootfs(id)?.merged();
        let ids = match opts.user {
            Some(_) => spec::resolve_user(&rootfs, &user)?,
            None => {
                let u = base.user();
                (
                    u.uid(),
                    u.gid(),
                    u.additional_gids().clone().unwrap_or_default(),
                )
            }
        };
        let p = ProcessConfig {
            args: opts.cmd.clone(),
            env,
            cwd: opts
                .workdir
                .clone()
                .unwrap_or_else(|| base.cwd().to_string_lossy().into()),
            user,
        };
        let process = serde_json::from_value(spec::process_json(&p, &ids))
            .map_err(|e| Error::invalid("exec process", id, e))?;
        let child = match self.runtime().exec(ExecRequest::new(id.clone(), process)) {
            Ok(c) => c,
            Err(e) => return Err(cannot_run(e)),
        };
        Ok(child.wait()?.code())
    }
}

/// What `exec` runs.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    /// The command.
    pub cmd: Vec<String>,
    /// `-e K=V`.
    pub env: Vec<String>,
    /// `-w DIR`.
    pub workdir: Option<String>,
    /// `-u USER[:GROUP]`.
    pub user: Option<String>,
}

/// A failure to start a program: 127 when it is not found, 126 when it
/// cannot be executed, the error otherwise.
pub(crate) fn cannot_run(e: nook_container::Error) -> Error {
    let msg = e.to_string();
    let code = if msg.contains("executable file not found")
        || msg.contains("does not exist in the container")
    {
        127
    } else if msg.contains("is not an executable file") || msg.contains("ermission denied") {
        126
    } else {
        return e.into();
    };
    Error::CannotRun { code, message: msg }
}

/// Whether process `pid` exists.
pub(crate) fn process_alive(pid: i32) -> bool {
    nook_sys::pidfd::open(pid).is_ok()
}

/// An exclusive flock on a container's directory (nothing when the
/// directory is gone: then there is nothing left to guard).
pub(crate) struct ContainerLock(#[allow(dead_code)] Option<std::fs::File>);

impl ContainerLock {
    pub(crate) fn take(dir: &std::path::Path) -> ContainerLock {
        let Ok(f) = std::fs::File::open(dir) else {
            return ContainerLock(None);
        };
        loop {
            // SAFETY: flock on a descriptor we own.
            let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return ContainerLock(Some(f));
            }
        }
    }
}
