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
//! - [`monitor`]: what holds an attached container's stdio, writes its
//!   log and records its exit.
//! - [`detach`]: detached containers: the nook-monitor program, the exit
//!   file, the exit command's cleanup, `--restart`.
//! - [`health`]: health checks (`--health-cmd`), run by the monitor.
//! - [`logs`]: the log read back (rotated files, both formats, `-f`).
//! - [`names`]: generated names.
//! - [`manage`]: start, restart, wait, pause, rename, prune, sizes.
//! - [`top`]: the processes of a container.
//! - [`stats`]: usage samples.
//! - [`security`]: capabilities, seccomp, privileged, read-only root,
//!   tmpfs, ulimits, sysctls, added groups; [`seccomp_profile`]: nook's
//!   default seccomp profile and Docker-format profile files.
//! - [`lifecycle`]: labels, stop signal and timeout, `--init`, env files.
//! - [`resources`]: resource limits (`--memory`, `--cpus`, ...) and `update`.
//! - [`mounts`]: `-v`, `--mount`, `--tmpfs` and the image's Volumes.
//! - [`namespaces`]: `--pid`, `--ipc`, `--uts`, `--cgroupns`, `--userns`.
//! - [`devices`]: `--device`, `--device-cgroup-rule`.
//! - [`etc`]: /etc/hosts, /etc/hostname, /etc/resolv.conf (`--dns`,
//!   `--add-host`, ...).
//! - [`copy`]: `cp`, in and out, resolved inside the container's root.
//! - [`tree`]: file trees copied by descriptor (volumes filled, `cp`).
//! - `poll`: the polling loop the waits share.

pub mod copy;
pub mod detach;
pub mod devices;
pub mod etc;
mod exec;

/// A process started in a container (`exec`): its pid, pidfd and pty master.
pub use nook_container::Child as ExecChild;
pub mod health;
pub mod lifecycle;
pub mod logs;
pub mod manage;
pub mod monitor;
pub mod mounts;
pub mod names;
pub mod namespaces;
mod poll;
pub mod resources;
pub mod seccomp_profile;
pub mod security;
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
use std::time::Duration;

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
    /// `--restart` (Docker's spelling; `no` when `None`).
    pub restart: Option<String>,
    /// `--log-driver` (`json-file` when `None`, or `k8s-file`).
    pub log_driver: Option<String>,
    /// `--log-opt K=V` (`max-size`, `max-file`).
    pub log_opts: Vec<String>,
    /// `--health-cmd` (run with `sh -c`).
    pub health_cmd: Option<String>,
    /// `--health-interval` (Go's duration spelling; 30s when `None`).
    pub health_interval: Option<String>,
    /// `--health-retries` (3 when `None`).
    pub health_retries: Option<u32>,
    /// `--health-timeout`, `--health-start-period`,
    /// `--health-start-interval`, `--no-healthcheck`.
    pub health: health::HealthOptions,
    /// `-i`: its stdin kept open (for `attach`, or the caller's).
    pub interactive: bool,
    /// `-t`: a terminal.
    pub tty: bool,
    /// The terminal's first size (rows, columns): the caller's own
    /// (`process.consoleSize`, set before the program starts).
    pub console_size: Option<(u16, u16)>,
    /// Capabilities, seccomp, read-only root, tmpfs, ulimits, sysctls.
    pub security: security::SecurityOptions,
    /// Labels, stop signal and timeout, `--init`, domain name.
    pub lifecycle: lifecycle::LifecycleOptions,
    /// `--memory`, `--cpus`, ... (checked again against the host).
    pub resources: resources::Resources,
    /// `-v/--volume` (`SRC:DST[:OPTS]`, `DST`).
    pub volumes: Vec<String>,
    /// `--mount` (`type=...,source=...,target=...`).
    pub mounts: Vec<String>,
    /// `--tmpfs DST[:OPTS]`.
    pub tmpfs: Vec<String>,
    /// `--pid`, `--ipc`, `--uts`, `--cgroupns`, `--userns`.
    pub namespaces: namespaces::NamespaceOptions,
    /// `--device HOST[:CONTAINER][:PERMS]`.
    pub devices: Vec<String>,
    /// `--device-cgroup-rule`.
    pub device_cgroup_rules: Vec<String>,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
    /// `--dns`, `--dns-search`, `--dns-option`, `--add-host`.
    pub etc: etc::EtcOptions,
    /// `--network`, `--ip`, `--ip6`, `--mac-address`, `--network-alias`.
    pub network: crate::network::NetworkOptions,
    /// `-p`, `-P`, `--expose` (parsed; the image's ExposedPorts are added).
    pub ports: crate::network::ports::PortOptions,
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
    /// Exited with the recorded code; its restart policy starts it again.
    Restarting,
}

/// A container with its live status.
#[derive(Clone, Debug)]
pub struct Container {
    /// What the store has.
    pub record: ContainerRecord,
    /// What is true now.
    pub status: LiveStatus,
    /// Its processes are frozen (`pause`), as the runtime said when the
    /// status was read (only ever true when `status` is running).
    pub paused: bool,
}

impl Container {
    fn annotations(&self) -> Value {
        let spec: Value = serde_json::from_str(&self.record.config).unwrap_or_default();
        spec["annotations"].clone()
    }

    /// Its labels (`-l`, and the image's), a JSON object.
    pub fn labels(&self) -> Value {
        let ann = self.annotations();
        ann[lifecycle::LABELS]
            .as_str()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| json!({}))
    }

    /// The signal `stop` sends it (`--stop-signal`, the image's
    /// StopSignal, else SIGTERM).
    pub fn stop_signal(&self) -> i32 {
        lifecycle::stop_signal(&self.annotations())
    }

    /// How long `stop` waits by default (`--stop-timeout`, else 10 s).
    pub fn stop_timeout(&self) -> Duration {
        Duration::from_secs(lifecycle::stop_timeout(&self.annotations()))
    }
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
        let detached = detach::annotations(opts)?;
        let mut limits = opts.resources.clone();
        limits.check(&resources::HostLimits::probe(), false)?;
        namespaces::Namespaces::parse(&opts.namespaces, opts.hostname.is_some())?;
        opts.etc.check()?;
        for d in &opts.devices {
            devices::resolve(&devices::parse_device(d)?)?;
        }
        let net_mode = self.network_mode(&opts.network)?;
        let _lock = self.lock(false)?;
        let image = self.inspect(&opts.image)?;
        let detached = health::annotate(detached, opts, &image.config)?;
        let id = random_id()?;
        let lowers: Vec<nook_storage::Digest> = image
            .record
            .layers
            .iter()
            .rev()
            .map(|l| crate::to_storage_digest(&l.chain_id))
            .collect::<Result<_>>()?;
        // recorded first (its spec filled in below), so that a create
        // killed at any point leaves a container `ps -a` shows and
        // `rm -f` removes
        let mut opts = opts.clone();
        let given = opts.name.take();
        if let Some(n) = &given {
            names::check(n)?;
        }
        let mut mount_requests =
            mounts::requests(&opts.volumes, &opts.mounts, &opts.tmpfs, &image.config)?;
        for from in &opts.volumes_from {
            let (word, mode) = from.split_once(':').unwrap_or((from, ""));
            let other = self.container(word)?;
            let shown = mounts::shown(&other.record.config);
            let more = mounts::volumes_from(&shown, mode, &mount_requests)?;
            mount_requests.extend(more);
        }
        let mut planned = mounts::Planned::default();
        let dir = self.container_dir(&id);
        // a generated name another create took meanwhile: another one
        let mut attempt = 0;
        let name = loop {
            let name = match &given {
                Some(n) => n.clone(),
                None => self.free_name()?,
            };
            let inserted = self.state.insert_container(&NewContainer {
                id: id.clone(),
                name: name.clone(),
                image_id: image.record.id.clone(),
                image_name: opts.image.clone(),
                config: "{}".into(),
                created: now_nanos(),
                log_path: dir.join("container.log"),
                auto_remove: opts.auto_remove,
            });
            match inserted {
                Ok(_) => break name,
                Err(nook_state::Error::NameInUse { .. }) if given.is_none() && attempt < 16 => {
                    attempt += 1
                }
                Err(e) => return Err(e.into()),
            }
        };
        opts.name = Some(name);
        let made = std::fs::create_dir_all(&dir)
            .map_err(Error::io("create", &dir))
            .and_then(|()| Ok(self.layers.prepare_rootfs(&id, &lowers)?));
        let result = made.and_then(|rootfs| {
            rootfs.mount(&nook_storage::MountOptions::default())?;
            let mut opts = RunOptions {
                resources: limits,
                ..opts.clone()
            };
            opts.etc.own_addresses = self.record_endpoints(&id, &net_mode, &opts.network)?;
            opts.etc.name_servers = self.name_servers(&net_mode)?;
            self.plan_mounts(mount_requests, &rootfs.merged(), &mut planned)?;
            let mut rec = self.new_record(
                &id,
                &opts,
                &image.config,
                &rootfs.merged(),
                &image.record.id,
            )?;
            rec.config = mounts::apply(&rec.config, &planned)?;
            let mut spec: Value =
                serde_json::from_str(&rec.config).map_err(|e| Error::invalid("spec", &id, e))?;
            self.network_spec(&mut spec, &id, &net_mode)?;
            rec.config = spec.to_string();
            let config = with_annotations(&rec.config, &detached)?;
            let config = detach::with_console_size(&config, opts.tty, opts.console_size)?;
            self.state.set_container_config(&id, &config)?;
            self.state.add_container_volumes(&id, &planned.volumes)?;
            Ok(())
        });
        if let Err(e) = result {
            let _ = self.state.remove_container(&id);
            self.teardown(&id);
            let _ = self.state.remove_container(&id);
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
        etc::write(&etc_dir, &hostname, &opts.etc)?;
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
        let config = finish_spec(&built, opts, image_config, rootfs)?;
        let mut built: Value =
            serde_json::from_str(&config).map_err(|e| Error::invalid("spec", id, e))?;
        opts.resources.apply(&mut built)?;
        namespaces::Namespaces::parse(&opts.namespaces, opts.hostname.is_some())?
            .apply(&mut built, |word| Ok(self.container(word)?.record.id))?;
        devices::apply(&mut built, &opts.devices, &opts.device_cgroup_rules)?;
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
        let taken = self.state.container_names()?;
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
        let rt = self.runtime();
        Ok(recs.into_iter().map(|r| self.status_with(&rt, r)).collect())
    }

    fn with_status(&self, record: ContainerRecord) -> Container {
        self.status_with(&self.runtime(), record)
    }

    /// The live status of `record`.  A running record asks the runtime
    /// first (one state read, which also tells a paused container): only
    /// when its process is gone are the exit file and the monitor looked
    /// at (a live process has no exit file: a new run removes the last
    /// one before it starts).
    fn status_with(&self, rt: &Runtime, mut record: ContainerRecord) -> Container {
        let mut paused = false;
        let status = match record.status {
            ContainerStatus::Created => LiveStatus::Created,
            ContainerStatus::Exited => LiveStatus::Exited(record.exit_code),
            ContainerStatus::Restarting => self
                .detached_status(&mut record)
                .unwrap_or(LiveStatus::Exited(record.exit_code)),
            ContainerStatus::Running => match rt.status(&record.id) {
                Ok(nook_container::Status::Stopped) | Err(_) => {
                    match self.detached_status(&mut record) {
                        Some(s) => s,
                        // its process is gone but its monitor is still
                        // draining the output and about to write the
                        // exit: not over yet
                        None if record.monitor_pid.is_some_and(process_alive) => {
                            LiveStatus::Running
                        }
                        None => LiveStatus::Exited(None),
                    }
                }
                Ok(s) => {
                    paused = s == nook_container::Status::Paused;
                    LiveStatus::Running
                }
            },
        };
        Container {
            record,
            status,
            paused,
        }
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
        self.stop_container_with(word, timeout, None)
    }

    /// [`Engine::stop_container`] with `signal` instead of the container's
    /// stop signal (`stop --signal`).
    pub fn stop_container_with(
        &self,
        word: &str,
        timeout: Duration,
        signal: Option<i32>,
    ) -> Result<Container> {
        let c = self.container(word)?;
        {
            // no restart after a stop (the exit command reads this under
            // the same lock)
            let _lock = ContainerLock::take(&self.container_dir(&c.record.id));
            self.state
                .set_container_stop_requested(&c.record.id, true)?;
        }
        let c = self.container(&c.record.id)?;
        if c.status != LiveStatus::Running {
            return Ok(c);
        }
        let id = c.record.id.clone();
        let pidfd = c.record.pid.and_then(|p| nook_sys::pidfd::open(p).ok());
        let rt = self.runtime();
        let _ = rt.kill(&id, signal.unwrap_or_else(|| c.stop_signal()), false);
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
        poll::poll(
            Duration::from_millis(10),
            Some(Duration::from_secs(10)),
            || -> Result<_> {
                Ok(match self.state.container(&id)? {
                    None => Some(()),
                    Some(r) if r.status != ContainerStatus::Running => Some(()),
                    Some(r) if !r.monitor_pid.is_some_and(process_alive) => Some(()),
                    Some(_) => None,
                })
            },
        )?;
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
        if matches!(c.status, LiveStatus::Running | LiveStatus::Restarting) && !force {
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
        self.network_down(id);
    }

    /// Run `exec` in a running container, its stdio the caller's; the
    /// command's exit code.
    pub fn exec_container(&self, word: &str, opts: &ExecOptions) -> Result<i32> {
        Ok(self.exec_start(word, opts)?.wait()?.code())
    }

    /// Start `exec` in a running container: the process (a child of the
    /// caller; with `opts.tty`, its terminal's master in `pty_master`,
    /// else its stdio the caller's, its stdin /dev/null unless
    /// `opts.interactive`).
    pub fn exec_start(&self, word: &str, opts: &ExecOptions) -> Result<nook_container::Child> {
        self.spawn_exec(word, opts, None)
    }

    /// [`Engine::exec_start`], the process's standard streams `stdio`
    /// when given (a health check's output pipe).
    pub fn spawn_exec(
        &self,
        word: &str,
        opts: &ExecOptions,
        stdio: Option<nook_container::Stdio>,
    ) -> Result<nook_container::Child> {
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
        let mut process = spec::process_json(&p, &ids);
        inherit_security(&mut process, &saved, ids.0);
        if opts.privileged {
            process["capabilities"] =
                security::capability_sets(&security::all_caps(), ids.0 as u64);
        }
        let mut process: oci_spec::runtime::Process =
            serde_json::from_value(process).map_err(|e| Error::invalid("exec process", id, e))?;
        // as Docker's: an exec'd process has the container's OOM score
        process.set_oom_score_adj(base.oom_score_adj());
        let mut req = ExecRequest::new(id.clone(), process);
        exec::terminal(&mut req, opts)?;
        if let Some(stdio) = stdio {
            req.stdio = stdio;
        }
        self.runtime().exec(req).map_err(cannot_run)
    }
}

/// Spec JSON `config` with `extra` added to its annotations.
fn with_annotations(config: &str, extra: &Value) -> Result<String> {
    let mut spec: Value =
        serde_json::from_str(config).map_err(|e| Error::invalid("spec", "annotations", e))?;
    if let (Some(a), Some(x)) = (spec["annotations"].as_object_mut(), extra.as_object()) {
        a.extend(x.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if extra["io.nook.tty"] == "true" {
        spec["process"]["terminal"] = Value::Bool(true);
    }
    serde_json::to_string(&spec).map_err(|e| Error::invalid("spec", "annotations", e))
}

/// The spec built from the image with the security and lifecycle flags
/// applied, as JSON text.
fn finish_spec(
    built: &oci_spec::runtime::Spec,
    opts: &RunOptions,
    image_config: &Value,
    rootfs: &std::path::Path,
) -> Result<String> {
    let sec = security::Security::parse(&opts.security)?;
    lifecycle::check(&opts.lifecycle)?;
    let mut v = serde_json::to_value(built).map_err(|e| Error::invalid("spec", "built", e))?;
    sec.apply(&mut v, rootfs)?;
    lifecycle::apply(&opts.lifecycle, image_config, &mut v);
    v["annotations"]["io.nook.host-config"] = json!(host_config(opts).to_string());
    let mut ports = opts.ports.clone();
    ports.add_image_exposed(&image_config["config"]["ExposedPorts"]);
    v["annotations"][crate::network::ports::ANNOTATION] = json!(ports.to_annotation());
    // what the runtime will read must be a valid spec
    serde_json::from_value::<oci_spec::runtime::Spec>(v.clone())
        .map_err(|e| Error::invalid("container spec", "built", e))?;
    Ok(v.to_string())
}

/// The flags `inspect` shows in HostConfig, in Docker's names.
fn host_config(opts: &RunOptions) -> Value {
    let s = &opts.security;
    json!({
        "Privileged": s.privileged, "CapAdd": s.cap_add, "CapDrop": s.cap_drop,
        "SecurityOpt": s.security_opt, "ReadonlyRootfs": s.read_only,
        "Tmpfs": opts.tmpfs.iter().map(|t| {
            let (d, o) = t.split_once(':').unwrap_or((t, ""));
            (d.to_string(), json!(o))
        }).collect::<serde_json::Map<_, _>>(),
        "Ulimits": s.ulimits.iter().filter_map(|u| security::parse_ulimit(u).ok().map(|(_, soft, hard)| {
            let name = u.split_once('=').map_or("", |(n, _)| n);
            let n = |v: u64| if v == u64::MAX { -1 } else { v as i64 };
            json!({"Name": name, "Soft": n(soft), "Hard": n(hard)})
        })).collect::<Vec<_>>(),
        "Sysctls": s.sysctls.iter().filter_map(|k| k.split_once('=')).map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<serde_json::Map<_, _>>(),
        "GroupAdd": s.group_add, "Init": opts.lifecycle.init.is_some(),
        "PidMode": opts.namespaces.pid.clone().unwrap_or_default(),
        "IpcMode": opts.namespaces.ipc.clone().unwrap_or_else(|| "private".into()),
        "UTSMode": opts.namespaces.uts.clone().unwrap_or_default(),
        "CgroupnsMode": opts.namespaces.cgroupns.clone().unwrap_or_default(),
        "UsernsMode": opts.namespaces.userns.clone().unwrap_or_default(),
        "Devices": opts.devices.iter().filter_map(|d| devices::parse_device(d).ok()).map(|d| json!({
            "PathOnHost": d.host, "PathInContainer": d.container, "CgroupPermissions": d.access,
        })).collect::<Vec<_>>(),
        "DeviceCgroupRules": opts.device_cgroup_rules,
        "VolumesFrom": opts.volumes_from,
        "NetworkMode": opts.network.mode().map(|m| m.name()).unwrap_or_default(),
        "Annotations": opts.lifecycle.annotations.iter().filter_map(|a| a.split_once('='))
            .map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    })
}

/// An exec'd process gets the container's capabilities (for its uid, as
/// Docker gives them), no_new_privs and rlimits.
fn inherit_security(process: &mut Value, saved: &oci_spec::runtime::Spec, uid: u32) {
    let Some(p) = saved.process() else { return };
    if let Some(b) = p.capabilities().as_ref().and_then(|c| c.bounding().clone()) {
        let caps: Vec<String> = b.iter().map(|c| c.to_string()).collect();
        process["capabilities"] = security::capability_sets(&caps, uid as u64);
    }
    process["noNewPrivileges"] = json!(p.no_new_privileges().unwrap_or(false));
    if let Ok(r) = serde_json::to_value(p.rlimits()) {
        if !r.is_null() {
            process["rlimits"] = r;
        }
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
    /// `--privileged`: every capability.
    pub privileged: bool,
    /// `-i`: its stdin the caller's (else /dev/null).
    pub interactive: bool,
    /// `-t`: a terminal, its master returned.
    pub tty: bool,
    /// The terminal's first size (rows, columns).
    pub console_size: Option<(u16, u16)>,
    /// `-d`: no stdio at all (/dev/null), no terminal.
    pub detach: bool,
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

/// Whether process `pid` exists and is not a zombie (a killed monitor
/// not yet reaped must not keep its container "running").
pub(crate) fn process_alive(pid: i32) -> bool {
    // a zombie (killed, not yet reaped) is not alive: its state is `Z`
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..))
            .is_some_and(|rest| !rest.starts_with(['Z', 'X'])),
        Err(_) => false,
    }
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
