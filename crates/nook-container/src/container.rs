//! The lifecycle operations, run by the runtime process: create, start,
//! state, kill, delete, list, pause, resume, ps.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nook_cgroups::{Cgroup, CgroupSpec, FreezerState, Layout};
use nook_namespaces::{NsKind, NsPlan};
use nook_sys::channel::{self, Channel, ChannelError};
use nook_sys::clone::{fork_with, CloneOpts, Forked};
use nook_sys::proc::{is_same_alive, ProcStat};
use nook_sys::Errno;
use serde::Serialize;

use crate::config::{self, Bundle};
use crate::error::{Error, Result};
use crate::hooks::{self, HookState};
use crate::init::{self, InitPlan, Msg};
use crate::state::{self, ContainerDir, Root, State, Status, OCI_VERSION};

/// A runtime instance: where state lives and who we are.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// State root.
    pub root: Root,
}

/// Options of `create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOpts {
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Write the container's pid here.
    pub pid_file: Option<PathBuf>,
    /// Send the pty master to this unix socket.
    pub console_socket: Option<PathBuf>,
    /// `MS_MOVE` + `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// Keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// Pass descriptors 3..3+N to the container.
    pub preserve_fds: u32,
    /// The caller will wait for the container (`run` without `--detach`):
    /// a pty master comes back to it instead of a console socket.
    pub foreground: bool,
}

/// What `create` hands back.
#[derive(Debug)]
pub struct Created {
    /// Pid of the container's first process.
    pub pid: i32,
    /// The pty master, for a foreground terminal.
    pub pty_master: Option<OwnedFd>,
}

/// The state of a container as `state` and `list` print it (runc's shape).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Spec version.
    pub oci_version: String,
    /// Id.
    pub id: String,
    /// Pid (0 when stopped).
    pub pid: i32,
    /// Status.
    pub status: String,
    /// Bundle.
    pub bundle: PathBuf,
    /// Rootfs.
    pub rootfs: PathBuf,
    /// Creation time.
    pub created: String,
    /// Owner of the state.
    pub owner: String,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Cleans up a half-created container unless disarmed.
struct Guard<'a> {
    dir: Option<&'a ContainerDir>,
    cgroup: Option<Cgroup>,
    pids: Vec<i32>,
    poststop: Option<(Vec<oci_spec::runtime::Hook>, Vec<u8>)>,
    host_rootfs: Option<PathBuf>,
}

impl Guard<'_> {
    fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.pids.clear();
        self.poststop = None;
        self.host_rootfs = None;
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        for &pid in &self.pids {
            // SAFETY: our own children, killed and reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.kill_all(libc::SIGKILL);
            if let Err(e) = cg.destroy() {
                tracing::warn!("cleanup after a failed create: {e}");
            }
        }
        if let Some((h, st)) = self.poststop.take() {
            hooks::run_all("poststop", &h, &st);
        }
        if let Some(r) = self.host_rootfs.take() {
            nook_rootfs::unbind_rootfs(&r);
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(&d.dir);
        }
    }
}

fn status_of(cd: &ContainerDir, st: &State) -> Status {
    if st.pid <= 0 || !is_same_alive(st.pid, st.init_start_time) {
        return Status::Stopped;
    }
    if cd.fifo_path().exists() {
        return Status::Created;
    }
    if st.cgroup.freezer_state() == FreezerState::Frozen {
        return Status::Paused;
    }
    Status::Running
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

fn mkfifo(p: &Path) -> Result<()> {
    let c = nook_sys::fd::cstr(p).map_err(Error::sys("exec fifo path"))?;
    // SAFETY: mkfifo/chmod on a path we own.
    unsafe {
        if libc::mkfifo(c.as_ptr(), 0o622) < 0 {
            return Err(Error::sys(format!("create exec fifo {}", p.display()))(
                Errno::last(),
            ));
        }
        libc::chmod(c.as_ptr(), 0o622);
    }
    Ok(())
}

fn recv(ch: &Channel, pid: i32) -> Result<(Msg, Vec<OwnedFd>)> {
    match ch.recv::<Msg>() {
        Ok((Msg::Error(m), _)) => Err(Error::Init(m)),
        Ok(x) => Ok(x),
        Err(ChannelError::Closed) => {
            let mut st = 0;
            // SAFETY: reaping our child.
            let r = unsafe { libc::waitpid(pid, &mut st, 0) };
            let how = if r == pid && libc::WIFSIGNALED(st) {
                format!("killed by {}", nook_sys::signal::name(libc::WTERMSIG(st)))
            } else if r == pid && libc::WIFEXITED(st) {
                format!("exit status {}", libc::WEXITSTATUS(st))
            } else {
                "unknown status".into()
            };
            Err(Error::Init(format!(
                "the container's process exited during setup ({how})"
            )))
        }
        Err(e) => Err(Error::Init(format!(
            "talking to the container's process: {e}"
        ))),
    }
}

fn send(ch: &Channel, m: &Msg) -> Result<()> {
    ch.send(m, &[])
        .map_err(|e| Error::Init(format!("talking to the container's process: {e}")))
}

impl Runtime {
    /// A runtime keeping state under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime {
            root: Root::new(root),
        }
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

    /// Create a container: everything of its config is set up and its
    /// process waits for `start`.
    pub fn create(&self, opts: &CreateOpts) -> Result<Created> {
        config::validate_id(&opts.id)?;
        let bundle = config::load_bundle(&opts.bundle)?;
        let terminal = bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
        if terminal && opts.console_socket.is_none() && !opts.foreground {
            return Err(Error::Config(
                "process.terminal is true but no --console-socket was given: the pty master would have nowhere to go".into(),
            ));
        }
        let cd = self.root.create(&opts.id)?;
        let mut guard = Guard {
            dir: Some(&cd),
            cgroup: None,
            pids: Vec::new(),
            poststop: None,
            host_rootfs: None,
        };
        let r = self.create_in(&cd, &bundle, opts, &mut guard);
        if r.is_ok() {
            guard.disarm();
        }
        r
    }

    fn create_in(
        &self,
        cd: &ContainerDir,
        b: &Bundle,
        opts: &CreateOpts,
        guard: &mut Guard<'_>,
    ) -> Result<Created> {
        let spec = &b.spec;
        let linux = spec.linux().clone().unwrap_or_default();
        let process = spec.process().as_ref();
        std::fs::write(cd.config_path(), &b.raw).map_err(Error::io("write", cd.config_path()))?;
        mkfifo(&cd.fifo_path())?;
        let ns = NsPlan::from_spec(linux.namespaces().as_deref().unwrap_or(&[]))?;
        let joins = nook_namespaces::open_joins(&ns)?;
        if !ns.contains(NsKind::Mount) {
            guard.host_rootfs = Some(b.rootfs.clone());
        }
        // cgroups
        let cg = self.make_cgroup(&opts.id, &linux, guard)?;
        let seccomp = self.seccomp_filter(&linux)?;
        let caps = process
            .and_then(|p| p.capabilities().as_ref())
            .map(nook_security::caps::CapSets::from_spec)
            .transpose()?;
        let console_socket = match &opts.console_socket {
            Some(p) => Some(OwnedFd::from(UnixStream::connect(p).map_err(|e| {
                Error::Config(format!("connect to --console-socket {}: {e}", p.display()))
            })?)),
            None => None,
        };
        let fifo = nook_sys::fd::openat(None, &cd.fifo_path(), libc::O_PATH, 0)
            .map_err(Error::sys("open exec fifo"))?;
        let host_proc = nook_sys::fd::openat(
            None,
            Path::new("/proc"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
        .map_err(Error::sys("open /proc"))?;
        let single = ns.single_clone();
        let cg_fd = if single || !ns.contains(NsKind::User) {
            cg.v2_fd()
        } else {
            None
        };
        // The container sees the cgroup its processes are in (the leaf),
        // never the one that holds its limits.
        let procs_cg = cg.procs_cgroup();
        let cgroups = nook_rootfs::CgroupMounts {
            v1: procs_cg.v1.into_iter().collect(),
            v2: procs_cg.v2,
            pure_v2: cg.pure_v2,
        };
        let sigmask = init::original_sigmask();
        // The process joins its v1 cgroups itself: no pid written to
        // cgroup.procs, no wait for an RCU grace period (see SelfJoin).
        let cgroup_join = cg.self_join()?;
        let (parent_ch, child_ch) = channel::pair().map_err(Error::sys("socketpair"))?;
        let late_cgroupns = ns.is_new(NsKind::Cgroup) && !(cg.pure_v2 && cg_fd.is_some());
        let mut plan = InitPlan {
            id: &opts.id,
            spec,
            bundle: &b.dir,
            rootfs: &b.rootfs,
            ns: &ns,
            joins: &joins,
            late_cgroupns,
            cgroups,
            cgroup_join: &cgroup_join,
            seccomp,
            caps,
            console_socket,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: opts.preserve_fds,
            fifo,
            host_proc,
            close_in_child: vec![cd.lock.as_raw_fd(), parent_ch.as_raw_fd()],
            sigmask,
        };
        let mut flags = 0u64;
        if single {
            flags = ns.flags_of(|k| k != NsKind::Cgroup || !late_cgroupns);
        }
        let mut clone_opts = CloneOpts {
            flags,
            pidfd: false,
            cgroup: cg_fd.as_ref().map(|f| f.as_fd()),
        };
        // SAFETY: the runtime is single-threaded here.
        let mut forked = unsafe { fork_with(&clone_opts) };
        if let Err(e) = forked {
            if clone_opts.cgroup.is_some() && nook_sys::clone::is_clone_into_cgroup_unsupported(e) {
                clone_opts.cgroup = None;
                // SAFETY: as above.
                forked = unsafe { fork_with(&clone_opts) };
            }
        }
        let used_clone_into = clone_opts.cgroup.is_some();
        if !used_clone_into && late_cgroupns != (ns.is_new(NsKind::Cgroup)) {
            plan.late_cgroupns = ns.is_new(NsKind::Cgroup);
        }
        let first = match forked.map_err(Error::sys("clone the container's process"))? {
            Forked::Child => {
                drop(parent_ch);
                init::child_main(&plan, child_ch, !single);
            }
            Forked::Parent { pid, .. } => pid,
        };
        drop(child_ch);
        guard.pids.push(first);
        let (uids, gids) = config::id_maps(spec);
        if single && ns.is_new(NsKind::User) {
            nook_namespaces::idmap::write(first, &uids, &gids)?;
        }
        if !used_clone_into {
            cg.add_pid_v2(first)?;
        }
        if let Some(v) = process.and_then(|p| p.oom_score_adj()) {
            nook_process::set_oom_score_adj(first, v)?;
        }
        send(&parent_ch, &Msg::Go)?;
        let pid = if single {
            first
        } else {
            loop {
                match recv(&parent_ch, first)?.0 {
                    Msg::MapIds => {
                        nook_namespaces::idmap::write(first, &uids, &gids)?;
                        send(&parent_ch, &Msg::Go)?;
                    }
                    Msg::Pid(p) => {
                        guard.pids.push(p);
                        // SAFETY: reap the first stage, which exits now.
                        unsafe { libc::waitpid(first, std::ptr::null_mut(), 0) };
                        guard.pids.retain(|x| *x != first);
                        break p;
                    }
                    m => {
                        return Err(Error::Init(format!(
                            "internal: unexpected {m:?} from the first stage"
                        )))
                    }
                }
            }
        };
        let annotations: BTreeMap<String, String> = spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let hooks_cfg = spec.hooks().clone().unwrap_or_default();
        let state_for = |status: &str| {
            serde_json::to_vec(&HookState {
                oci_version: OCI_VERSION,
                id: &opts.id,
                status,
                pid,
                bundle: &b.dir,
                annotations: annotations.clone(),
            })
            .unwrap_or_default()
        };
        // From here a failure (a failing prestart, createRuntime or
        // createContainer hook among them) stops the container and ends
        // the lifecycle with the poststop hooks.
        if let Some(h) = hooks_cfg.poststop().as_ref().filter(|h| !h.is_empty()) {
            guard.poststop = Some((h.clone(), state_for("stopped")));
        }
        let mut pty_master = None;
        loop {
            let (m, mut fds) = recv(&parent_ch, pid)?;
            match m {
                Msg::Hooks => {
                    // Lifecycle steps 3-4 come after step 2 (creating):
                    // the state hooks see is "created".
                    let st = state_for("created");
                    if let Some(h) = hooks_cfg.prestart() {
                        hooks::run("prestart", h, &st)?;
                    }
                    if let Some(h) = hooks_cfg.create_runtime() {
                        hooks::run("createRuntime", h, &st)?;
                    }
                    send(&parent_ch, &Msg::HooksDone)?;
                }
                Msg::Console => pty_master = fds.pop(),
                Msg::Seccomp => {
                    let fd = fds
                        .pop()
                        .ok_or_else(|| Error::Init("seccomp notify fd missing".into()))?;
                    let sc = linux.seccomp().as_ref().expect("notify implies seccomp");
                    let st: serde_json::Value =
                        serde_json::from_slice(&state_for("creating")).unwrap_or_default();
                    nook_security::seccomp::send_to_listener(sc, &fd, pid, &st)?;
                }
                Msg::Ready => break,
                m => {
                    return Err(Error::Init(format!(
                        "internal: unexpected {m:?} from the container's process"
                    )))
                }
            }
        }
        let start = ProcStat::read(pid).map(|s| s.start_time).unwrap_or(0);
        let st = State {
            oci_version: OCI_VERSION.into(),
            id: opts.id.clone(),
            pid,
            init_start_time: start,
            bundle: b.dir.clone(),
            rootfs: b.rootfs.clone(),
            created: state::rfc3339_now(),
            annotations,
            cgroup: cg,
            own_pid_ns: ns.is_new(NsKind::Pid),
            has_process: process.is_some(),
            rootfs_in_host_ns: !ns.contains(NsKind::Mount),
            // SAFETY: trivial getter.
            rootless: unsafe { libc::geteuid() } != 0,
        };
        cd.write_state(&st)?;
        if let Some(p) = &opts.pid_file {
            state::write_atomic(p, pid.to_string().as_bytes())?;
        }
        Ok(Created { pid, pty_master })
    }

    /// Create the container's cgroup.  An unprivileged user usually may not
    /// write cgroups at all: then a container that asks for no limits runs
    /// without a cgroup of its own (as runc's rootless mode), and one that
    /// asks for limits fails with the reason.
    fn make_cgroup(
        &self,
        id: &str,
        linux: &oci_spec::runtime::Linux,
        guard: &mut Guard<'_>,
    ) -> Result<Cgroup> {
        let res = linux.resources().as_ref();
        let plan = Layout::detect().and_then(|layout| {
            let cg = Cgroup::plan(
                &layout,
                &CgroupSpec {
                    path: linux.cgroups_path().as_deref(),
                    default_name: id,
                    resources: res,
                },
            )?;
            Ok((layout, cg))
        });
        // SAFETY: trivial getter.
        let rootless = unsafe { libc::geteuid() } != 0;
        let limits = res.is_some_and(|r| {
            nook_cgroups::cgroup::controllers_of(r)
                .iter()
                .any(|c| *c != "devices")
        });
        let (layout, mut cg) = match plan {
            Ok(x) => x,
            Err(e) if rootless && !limits => {
                tracing::debug!("rootless: no cgroup for the container ({e})");
                return Ok(Cgroup::default());
            }
            Err(e) => return Err(e.into()),
        };
        guard.cgroup = Some(cg.clone());
        let r = if rootless && !limits {
            // Device rules need privileges an ordinary user lacks; without
            // other limits they are the only thing asked for.
            cg.create(&layout, None)
        } else {
            cg.create(&layout, res)
        };
        match r {
            Ok(()) => {
                guard.cgroup = Some(cg.clone());
                Ok(cg)
            }
            Err(e) if rootless && !limits => {
                tracing::debug!("rootless: no cgroup for the container ({e})");
                guard.cgroup = None;
                Ok(Cgroup::default())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Start a created container: run its program.
    pub fn start(&self, id: &str) -> Result<()> {
        let cd = self.root.open(id, true)?;
        let st = cd.read_state()?.ok_or_else(|| {
            Error::Status(format!(
                "cannot start container {id:?}: it is still being created"
            ))
        })?;
        let status = status_of(&cd, &st);
        if status != Status::Created {
            return Err(Error::Status(format!(
                "cannot start container {id:?}: it is {status}, not created"
            )));
        }
        if !st.has_process {
            return Err(Error::Status(format!(
                "cannot start container {id:?}: its config.json has no process to run"
            )));
        }
        // Check the process before opening the FIFO: opening it releases the
        // process, and a quick program may be gone a moment later.
        let pidfd = nook_sys::pidfd::open(st.pid)
            .map_err(Error::sys("open a pidfd for the container's process"))?;
        if !is_same_alive(st.pid, st.init_start_time) {
            return Err(Error::Status(format!(
                "cannot start container {id:?}: its process has exited{}",
                exit_detail(st.pid)
            )));
        }
        let fifo =
            nook_sys::fd::openat(None, &cd.fifo_path(), libc::O_RDONLY | libc::O_NONBLOCK, 0)
                .map_err(Error::sys("open the exec fifo"))?;
        // The init writes "0" once it is released, then keeps the FIFO open
        // until execve closes it; "F<reason>" instead means a
        // startContainer hook failed.
        let mut got = Vec::new();
        loop {
            let mut pfds = [
                libc::pollfd {
                    fd: fifo.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: pidfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfds.
            let r = unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) };
            if r < 0 {
                let e = Errno::last();
                if e == Errno::EINTR {
                    continue;
                }
                return Err(Error::sys("wait for the container's process")(e));
            }
            if pfds[0].revents != 0 {
                let mut b = [0u8; 4096];
                // SAFETY: read into our buffer.
                let n = unsafe { libc::read(fifo.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
                if n > 0 {
                    got.extend_from_slice(&b[..n as usize]);
                    continue;
                }
                if n < 0 && Errno::last() == Errno::EAGAIN {
                    continue;
                }
                // End of file: every writer is gone (the program runs).
                if !got.is_empty() {
                    break;
                }
            }
            if pfds[1].revents != 0 && got.is_empty() {
                return Err(Error::Status(format!(
                    "cannot start container {id:?}: its process exited before it started{}",
                    exit_detail(st.pid)
                )));
            }
            if pfds[1].revents != 0 {
                // Exited after release: drain what it wrote.
                let mut b = [0u8; 4096];
                // SAFETY: read into our buffer.
                let n = unsafe { libc::read(fifo.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
                if n > 0 {
                    got.extend_from_slice(&b[..n as usize]);
                }
                break;
            }
        }
        if let Some(reason) = got.strip_prefix(b"0F") {
            let _ = std::fs::remove_file(cd.fifo_path());
            return Err(Error::Hook(String::from_utf8_lossy(reason).into_owned()));
        }
        let _ = std::fs::remove_file(cd.fifo_path());
        let config_hooks = if st_has_hooks(&cd) {
            cd.read_config()?.hooks().clone()
        } else {
            None
        };
        if let Some(h) = config_hooks
            .as_ref()
            .and_then(|h| h.poststart().clone())
            .filter(|h| !h.is_empty())
        {
            // A failing poststart hook is a warning: the container runs on.
            let s = self.hook_state_json(&st, "running", st.pid);
            hooks::run_all("poststart", &h, &s);
        }
        Ok(())
    }

    fn hook_state_json(&self, st: &State, status: &str, pid: i32) -> Vec<u8> {
        serde_json::to_vec(&HookState {
            oci_version: OCI_VERSION,
            id: &st.id,
            status,
            pid,
            bundle: &st.bundle,
            annotations: st.annotations.clone(),
        })
        .unwrap_or_default()
    }

    fn report(&self, cd: &ContainerDir, st: &State) -> Report {
        let status = status_of(cd, st);
        let owner = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&cd.dir)
                .map(|m| owner_name(m.uid()))
                .unwrap_or_default()
        };
        Report {
            oci_version: st.oci_version.clone(),
            id: st.id.clone(),
            pid: if status == Status::Stopped { 0 } else { st.pid },
            status: status.as_str().into(),
            bundle: st.bundle.clone(),
            rootfs: st.rootfs.clone(),
            created: st.created.clone(),
            owner,
            annotations: st.annotations.clone(),
        }
    }

    fn creating_report(&self, id: &str) -> Report {
        Report {
            oci_version: OCI_VERSION.into(),
            id: id.into(),
            pid: 0,
            status: Status::Creating.as_str().into(),
            bundle: PathBuf::new(),
            rootfs: PathBuf::new(),
            created: String::new(),
            owner: String::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// The state of one container.
    pub fn state(&self, id: &str) -> Result<Report> {
        let Some(cd) = self.root.peek(id)? else {
            return Ok(self.creating_report(id));
        };
        match cd.read_state()? {
            Some(st) => Ok(self.report(&cd, &st)),
            // No state and no create holding the lock: a create that died.
            None => {
                let mut r = self.creating_report(id);
                r.status = Status::Stopped.as_str().into();
                Ok(r)
            }
        }
    }

    /// The state of every container.
    pub fn list(&self) -> Result<Vec<Report>> {
        let mut out = Vec::new();
        for id in self.root.ids() {
            match self.state(&id) {
                Ok(r) => out.push(r),
                Err(Error::NotFound(_)) => {}
                Err(e) => tracing::warn!("container {id}: {e}"),
            }
        }
        Ok(out)
    }

    fn load(&self, id: &str, exclusive: bool) -> Result<(ContainerDir, State)> {
        let cd = self.root.open(id, exclusive)?;
        let st = cd
            .read_state()?
            .ok_or_else(|| Error::Status(format!("container {id:?} is still being created")))?;
        Ok((cd, st))
    }

    /// Send a signal to the container's first process (or, with `all`, to
    /// every process of it).
    pub fn kill(&self, id: &str, sig: i32, all: bool) -> Result<()> {
        let (cd, st) = self.load(id, false)?;
        let status = status_of(&cd, &st);
        if all {
            st.cgroup.kill_all(sig)?;
            return Ok(());
        }
        if !matches!(status, Status::Created | Status::Running | Status::Paused) {
            return Err(Error::Status(format!(
                "cannot signal container {id:?}: it is {status}"
            )));
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
            Err(Error::NotFound(_)) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(st) = cd.read_state()? else {
            // create died before writing state: rebuild what it may have
            // left from the saved config.
            self.delete_partial(cd)?;
            return Ok(());
        };
        let status = status_of(&cd, &st);
        match status {
            Status::Stopped => {}
            Status::Created => kill_and_wait(&st)?,
            _ if force => kill_and_wait(&st)?,
            _ => {
                return Err(Error::Status(format!(
                "cannot delete container {id:?}: it is {status} (stop it first, or use --force)"
            )))
            }
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
        let cg_result = st.cgroup.destroy();
        if st.rootfs_in_host_ns {
            nook_rootfs::unbind_rootfs(&st.rootfs);
        }
        let config_hooks = if st_has_hooks(&cd) {
            cd.read_config().ok().and_then(|c| c.hooks().clone())
        } else {
            None
        };
        if let Some(h) = config_hooks
            .and_then(|h| h.poststop().clone())
            .filter(|h| !h.is_empty())
        {
            hooks::run_all("poststop", &h, &self.hook_state_json(st, "stopped", 0));
        }
        cd.remove()?;
        cg_result.map_err(Error::from)
    }

    fn delete_partial(&self, cd: ContainerDir) -> Result<()> {
        if let Ok(spec) = cd.read_config() {
            let linux = spec.linux().clone().unwrap_or_default();
            if let Ok(layout) = Layout::detect() {
                if let Ok(cg) = Cgroup::plan(
                    &layout,
                    &CgroupSpec {
                        path: linux.cgroups_path().as_deref(),
                        default_name: &cd.id,
                        resources: linux.resources().as_ref(),
                    },
                ) {
                    let _ = cg.kill_all(libc::SIGKILL);
                    let _ = cg.destroy();
                }
            }
        }
        cd.remove()
    }

    /// Freeze every process of a running container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let (cd, st) = self.load(id, true)?;
        let status = status_of(&cd, &st);
        if status != Status::Running {
            return Err(Error::Status(format!(
                "cannot pause container {id:?}: it is {status}, not running"
            )));
        }
        st.cgroup.freeze(true)?;
        Ok(())
    }

    /// Thaw a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        let (cd, st) = self.load(id, true)?;
        let status = status_of(&cd, &st);
        if status != Status::Paused {
            return Err(Error::Status(format!(
                "cannot resume container {id:?}: it is {status}, not paused"
            )));
        }
        st.cgroup.freeze(false)?;
        Ok(())
    }

    /// Pids (host view) of every process of the container.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let (_, st) = self.load(id, false)?;
        Ok(st.cgroup.pids()?)
    }

    /// The saved state of a container (for callers that need the cgroup).
    pub fn load_state(&self, id: &str) -> Result<State> {
        Ok(self.load(id, false)?.1)
    }

    /// Status of a container whose directory the caller holds.
    pub fn status_unlocked(&self, cd: &ContainerDir, st: &State) -> Status {
        status_of(cd, st)
    }

    /// Status of a container.
    pub fn status(&self, id: &str) -> Result<Status> {
        let (cd, st) = self.load(id, false)?;
        Ok(status_of(&cd, &st))
    }
}

/// How a process that is our child ended, for error messages (empty when
/// it is not our child or still running).
fn exit_detail(pid: i32) -> String {
    let mut st = 0;
    // SAFETY: non-blocking wait for a possible child.
    if unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG | libc::__WALL) } == pid {
        if libc::WIFSIGNALED(st) {
            return format!(
                " (killed by {})",
                nook_sys::signal::name(libc::WTERMSIG(st))
            );
        }
        if libc::WIFEXITED(st) {
            return format!(" (exit status {})", libc::WEXITSTATUS(st));
        }
    }
    String::new()
}

fn st_has_hooks(cd: &ContainerDir) -> bool {
    // Parsing the whole config only pays off when it has hooks; a cheap scan
    // of the saved bytes decides.
    std::fs::read(cd.config_path()).is_ok_and(|b| b.windows(7).any(|w| w == b"\"hooks\""))
}

fn signal_init(st: &State, sig: i32) -> Result<()> {
    let pidfd = nook_sys::pidfd::open(st.pid)
        .map_err(Error::sys("open a pidfd for the container's process"))?;
    // The pidfd now pins the process; make sure it is still ours.
    if !is_same_alive(st.pid, st.init_start_time) {
        return Err(Error::Status(format!(
            "cannot signal container {:?}: it is stopped",
            st.id
        )));
    }
    nook_sys::pidfd::send_signal(pidfd.as_fd(), sig).map_err(Error::sys(format!(
        "send {} to the container",
        nook_sys::signal::name(sig)
    )))
}

fn kill_and_wait(st: &State) -> Result<()> {
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
        return Err(Error::Status(format!(
            "container {:?}: its process did not die within 10s of SIGKILL",
            st.id
        )));
    }
    Ok(())
}

/// A raw fd as an owned one (for fds received from children).
pub fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller transfers ownership.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
