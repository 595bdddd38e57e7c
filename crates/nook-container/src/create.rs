//! `create`: every part of a container's configuration set up and its
//! process waiting for `start`.
//!
//! ```text
//! prepare    state dir, config, exec FIFO, namespaces to join, cgroup,
//!            seccomp filter, capabilities
//! fork       one clone3 (namespaces, CLONE_INTO_CGROUP) → init.rs
//! bring up   uid/gid maps, v2 cgroup, oom score, Go (two-stage: maps
//!            and the init's pid from the first stage)
//! serve      hooks, console, seccomp listener until the process is Ready
//! record     state.json
//! ```
//! A failure anywhere kills what was forked, removes the cgroup and the
//! state directory, and runs the poststop hooks once the process existed.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nook_cgroups::{Cgroup, CgroupSpec, SelfJoin};
use nook_namespaces::{NsKind, NsPlan, OpenNs};
use nook_sys::channel::{self, Channel, ChannelError};
use nook_sys::proc::ProcStat;

use crate::config;
use crate::error::{Error, Result};
use crate::hooks::{self, HookContext};
use crate::init::{self, InitPlan, Msg};
use crate::process::Child;
use crate::request::{Console, CreateRequest};
use crate::runtime::Runtime;
use crate::spawn::{spawn, Spawn};
use crate::state::{self, ContainerDir, State, OCI_VERSION};

/// What `prepare` opened and made for the fork.
struct Prepared {
    ns: NsPlan,
    joins: Vec<OpenNs>,
    cg: Cgroup,
    cgroup_join: SelfJoin,
    seccomp: Option<nook_security::seccomp::Compiled>,
    caps: Option<nook_security::caps::CapSets>,
    fifo: OwnedFd,
    host_proc: OwnedFd,
}

/// Cleans up a half-created container unless disarmed.
struct Guard<'a> {
    rt: &'a Runtime,
    req: &'a CreateRequest,
    dir: Option<&'a ContainerDir>,
    cgroup: Option<Cgroup>,
    pids: Vec<i32>,
    /// The process exists: the poststop hooks run on failure.
    poststop: bool,
    host_rootfs: Option<PathBuf>,
}

impl Guard<'_> {
    fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.pids.clear();
        self.poststop = false;
        self.host_rootfs = None;
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        for &pid in &self.pids {
            // SAFETY: our own children, killed and reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
            }
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.kill_all(libc::SIGKILL);
            if let Err(e) = self.rt.cgroups.destroy(&cg) {
                tracing::warn!("cleanup after a failed create: {e}");
            }
        }
        if self.poststop {
            let (id, spec) = (&self.req.id, &self.req.spec);
            if let Some(h) = spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()) {
                let st = hooks::state_json(id, "stopped", 0, &self.req.bundle, spec);
                hooks::run_all("poststop", h, &st);
            }
            self.rt.poststop_in_process(id, spec);
        }
        if let Some(r) = self.host_rootfs.take() {
            nook_rootfs::unbind_rootfs(&r);
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(&d.dir);
        }
    }
}

impl Runtime {
    /// Create a container: every part of its configuration is set up and
    /// its process waits for [`Runtime::start`].  The process is the
    /// caller's child; the caller may wait for it with [`Child::wait`].
    pub fn create(&self, req: CreateRequest) -> Result<Child> {
        config::validate_id(&req.id)?;
        config::validate(&req.spec)?;
        if req.terminal() && matches!(req.console, Console::None) {
            return Err(Error::config(
                "process.terminal is true but no --console-socket was given: the pty master would have nowhere to go",
            ));
        }
        let cd = self.root.create(&req.id)?;
        let mut guard = Guard {
            rt: self,
            req: &req,
            dir: Some(&cd),
            cgroup: None,
            pids: Vec::new(),
            poststop: false,
            host_rootfs: None,
        };
        let r = self.create_in(&cd, &req, &mut guard);
        if r.is_ok() {
            guard.disarm();
        }
        r
    }

    fn create_in(
        &self,
        cd: &ContainerDir,
        req: &CreateRequest,
        guard: &mut Guard<'_>,
    ) -> Result<Child> {
        let p = self.prepare(cd, req, guard)?;
        let (parent_ch, child_ch) = channel::pair().map_err(Error::sys("socketpair"))?;
        let (first, in_cgroup) = self.fork_init(cd, req, &p, &parent_ch, &child_ch)?;
        drop(child_ch);
        guard.pids.push(first);
        let pid = self.bring_up(req, &p, &parent_ch, first, in_cgroup, guard)?;
        guard.poststop = true;
        let pty_master = self.serve_setup(req, &parent_ch, pid)?;
        let start = ProcStat::read(pid).map(|s| s.start_time).unwrap_or(0);
        let st = State {
            oci_version: OCI_VERSION.into(),
            id: req.id.clone(),
            pid,
            init_start_time: start,
            bundle: req.bundle.clone(),
            rootfs: req.rootfs.clone(),
            created: state::rfc3339_now(),
            annotations: req
                .spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            cgroup: p.cg,
            own_pid_ns: p.ns.is_new(NsKind::Pid),
            has_process: req.spec.process().is_some(),
            rootfs_in_host_ns: !p.ns.contains(NsKind::Mount),
            // SAFETY: trivial getter.
            rootless: unsafe { libc::geteuid() } != 0,
        };
        cd.write_state(&st)?;
        let pidfd = nook_sys::pidfd::open(pid)
            .map_err(Error::sys("open a pidfd for the container's process"))?;
        Ok(Child {
            pid,
            pidfd,
            pty_master,
        })
    }

    /// The state directory's files, what the process will join, its cgroup,
    /// filters and capabilities.
    fn prepare(
        &self,
        cd: &ContainerDir,
        req: &CreateRequest,
        guard: &mut Guard<'_>,
    ) -> Result<Prepared> {
        let json = match &req.config_json {
            Some(b) => b.clone(),
            None => serde_json::to_vec(&req.spec).map_err(|e| Error::config(e.to_string()))?,
        };
        std::fs::write(cd.config_path(), json).map_err(Error::io("write", cd.config_path()))?;
        mkfifo(&cd.fifo_path())?;
        let linux = req.spec.linux().clone().unwrap_or_default();
        let ns = NsPlan::from_spec(linux.namespaces().as_deref().unwrap_or(&[]))?;
        let joins = nook_namespaces::open_joins(&ns)?;
        if !ns.contains(NsKind::Mount) {
            guard.host_rootfs = Some(req.rootfs.clone());
        }
        let cg = self.make_cgroup(&req.id, &linux, guard)?;
        // The process joins its v1 cgroups itself: no pid written to
        // cgroup.procs, no wait for an RCU grace period (see SelfJoin).
        let cgroup_join = cg.self_join()?;
        let seccomp = self.seccomp_filter(&linux)?;
        let caps = req
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.capabilities().as_ref())
            .map(nook_security::caps::CapSets::from_spec)
            .transpose()?;
        let fifo = nook_sys::fd::openat(None, &cd.fifo_path(), libc::O_PATH, 0)
            .map_err(Error::sys("open exec fifo"))?;
        let host_proc = nook_sys::fd::openat(
            None,
            Path::new("/proc"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
        .map_err(Error::sys("open /proc"))?;
        Ok(Prepared {
            ns,
            joins,
            cg,
            cgroup_join,
            seccomp,
            caps,
            fifo,
            host_proc,
        })
    }

    /// Fork the container's process (or its first stage): the plan it runs
    /// from, and one clone.  Returns its pid and whether it was born in its
    /// cgroup v2.
    fn fork_init(
        &self,
        cd: &ContainerDir,
        req: &CreateRequest,
        p: &Prepared,
        parent_ch: &Channel,
        child_ch: &Channel,
    ) -> Result<(i32, bool)> {
        let single = p.ns.single_clone();
        let cg_fd = if single || !p.ns.contains(NsKind::User) {
            p.cg.v2_fd()
        } else {
            None
        };
        // The container sees the cgroup its processes are in (the leaf),
        // never the one that holds its limits.
        let procs_cg = p.cg.procs_cgroup();
        let fd = |f: &Option<OwnedFd>| f.as_ref().map(|f| f.as_raw_fd());
        let mut plan = InitPlan {
            id: &req.id,
            spec: &req.spec,
            bundle: &req.bundle,
            rootfs: &req.rootfs,
            ns: &p.ns,
            joins: &p.joins,
            late_cgroupns: p.ns.is_new(NsKind::Cgroup) && !(p.cg.pure_v2 && cg_fd.is_some()),
            cgroups: nook_rootfs::CgroupMounts {
                v1: procs_cg.v1.into_iter().collect(),
                v2: procs_cg.v2,
                pure_v2: p.cg.pure_v2,
            },
            cgroup_join: &p.cgroup_join,
            seccomp: p.seccomp.clone(),
            caps: p.caps,
            console_socket: match &req.console {
                Console::Socket(s) => Some(s.as_fd()),
                _ => None,
            },
            stdio: [
                fd(&req.stdio.stdin),
                fd(&req.stdio.stdout),
                fd(&req.stdio.stderr),
            ],
            no_pivot: req.no_pivot,
            no_new_keyring: req.no_new_keyring,
            preserve_fds: req.preserve_fds,
            fifo: dup(&p.fifo)?,
            host_proc: dup(&p.host_proc)?,
            close_in_child: vec![cd.lock.as_raw_fd(), parent_ch.as_raw_fd()],
            sigmask: req.sigmask.unwrap_or_else(crate::request::current_sigmask),
            pause_for_hooks: self.hooks.is_some() || has_runtime_hooks(&req.spec),
        };
        let flags = if single {
            p.ns.flags_of(|k| k != NsKind::Cgroup || !plan.late_cgroupns)
        } else {
            0
        };
        let how = Spawn {
            flags,
            cgroup: cg_fd.as_ref().map(|f| f.as_fd()),
            born_in: &[],
        };
        let new_cgroupns = p.ns.is_new(NsKind::Cgroup);
        let spawned = spawn(&how, &mut |born| {
            // Not born in its cgroup: the cgroup namespace is made once
            // the process has joined it.
            if !born.in_cgroup && new_cgroupns {
                plan.late_cgroupns = true;
            }
            init::child_main(&plan, child_ch, !single)
        })?;
        Ok((spawned.pid, spawned.in_cgroup))
    }
}

/// A duplicate of `fd` for the plan (the child closes what it does not
/// need, the caller keeps its own).
fn dup(fd: &OwnedFd) -> Result<OwnedFd> {
    fd.try_clone()
        .map_err(|e| Error::io("duplicate a descriptor", "(fd)")(e))
}

fn has_runtime_hooks(spec: &oci_spec::runtime::Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    })
}

fn mkfifo(p: &Path) -> Result<()> {
    let c = nook_sys::fd::cstr(p).map_err(Error::sys("exec fifo path"))?;
    // SAFETY: mkfifo/chmod on a path we own.
    unsafe {
        if libc::mkfifo(c.as_ptr(), 0o622) < 0 {
            return Err(Error::sys(format!("create exec fifo {}", p.display()))(
                nook_sys::Errno::last(),
            ));
        }
        libc::chmod(c.as_ptr(), 0o622);
    }
    Ok(())
}

/// Receive a message from the container's process; its end or an error
/// from it becomes ours.
pub(crate) fn recv(ch: &Channel, pid: i32) -> Result<(Msg, Vec<OwnedFd>)> {
    match ch.recv::<Msg>() {
        Ok((Msg::Error(m), _)) => Err(Error::Setup(m)),
        Ok(x) => Ok(x),
        Err(ChannelError::Closed) => {
            let mut st = 0;
            // SAFETY: reaping our child.
            let r = unsafe { libc::waitpid(pid, &mut st, libc::__WALL) };
            let how = if r == pid {
                crate::ExitStatus::from_wait_status(st).to_string()
            } else {
                "unknown status".into()
            };
            Err(Error::Setup(format!(
                "the container's process exited during setup ({how})"
            )))
        }
        Err(e) => Err(Error::Setup(format!(
            "talking to the container's process: {e}"
        ))),
    }
}

pub(crate) fn send(ch: &Channel, m: &Msg) -> Result<()> {
    ch.send(m, &[])
        .map_err(|e| Error::Setup(format!("talking to the container's process: {e}")))
}

impl Runtime {
    /// After the fork: id maps, the v2 cgroup when the clone could not
    /// place it, the oom score, Go; with two stages, the first stage's
    /// requests until it names the init.  Returns the init's pid.
    fn bring_up(
        &self,
        req: &CreateRequest,
        p: &Prepared,
        ch: &Channel,
        first: i32,
        in_cgroup: bool,
        guard: &mut Guard<'_>,
    ) -> Result<i32> {
        let single = p.ns.single_clone();
        let (uids, gids) = config::id_maps(&req.spec);
        if single && p.ns.is_new(NsKind::User) {
            nook_namespaces::idmap::write(first, &uids, &gids)?;
        }
        if !in_cgroup {
            p.cg.add_pid_v2(first)?;
        }
        if let Some(v) = req.spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
            nook_process::set_oom_score_adj(first, v)?;
        }
        send(ch, &Msg::Go)?;
        if single {
            return Ok(first);
        }
        loop {
            match recv(ch, first)?.0 {
                Msg::MapIds => {
                    nook_namespaces::idmap::write(first, &uids, &gids)?;
                    send(ch, &Msg::Go)?;
                }
                Msg::Pid(pid) => {
                    guard.pids.push(pid);
                    // SAFETY: reap the first stage, which exits now.
                    unsafe { libc::waitpid(first, std::ptr::null_mut(), libc::__WALL) };
                    guard.pids.retain(|x| *x != first);
                    return Ok(pid);
                }
                m => {
                    return Err(Error::Setup(format!(
                        "internal: unexpected {m:?} from the first stage"
                    )))
                }
            }
        }
    }

    /// Answer the container's process until it is Ready: run the hooks it
    /// stops for, take its pty master and its seccomp notify descriptor.
    fn serve_setup(&self, req: &CreateRequest, ch: &Channel, pid: i32) -> Result<Option<OwnedFd>> {
        let mut pty_master = None;
        loop {
            let (m, mut fds) = recv(ch, pid)?;
            match m {
                Msg::Hooks => {
                    self.run_create_hooks(req, pid)?;
                    send(ch, &Msg::HooksDone)?;
                }
                Msg::Console => pty_master = fds.pop(),
                Msg::Seccomp => {
                    let fd = fds
                        .pop()
                        .ok_or_else(|| Error::Setup("seccomp notify fd missing".into()))?;
                    let linux = req.spec.linux().as_ref();
                    let sc = linux
                        .and_then(|l| l.seccomp().as_ref())
                        .ok_or_else(|| Error::Setup("seccomp notify fd without seccomp".into()))?;
                    let st = hooks::state_json(&req.id, "creating", pid, &req.bundle, &req.spec);
                    let st: serde_json::Value = serde_json::from_slice(&st).unwrap_or_default();
                    nook_security::seccomp::send_to_listener(sc, &fd, pid, &st)?;
                }
                Msg::Ready => return Ok(pty_master),
                m => {
                    return Err(Error::Setup(format!(
                        "internal: unexpected {m:?} from the container's process"
                    )))
                }
            }
        }
    }

    /// prestart and createRuntime command hooks, then the in-process one.
    /// Lifecycle steps 3-4 come after step 2 (creating): the state hooks
    /// see is "created".
    fn run_create_hooks(&self, req: &CreateRequest, pid: i32) -> Result<()> {
        let st = hooks::state_json(&req.id, "created", pid, &req.bundle, &req.spec);
        if let Some(h) = req.spec.hooks().as_ref() {
            if let Some(h) = h.prestart() {
                hooks::run("prestart", h, &st)?;
            }
            if let Some(h) = h.create_runtime() {
                hooks::run("createRuntime", h, &st)?;
            }
        }
        if let Some(h) = &self.hooks {
            let ctx = HookContext {
                id: &req.id,
                pid,
                spec: &req.spec,
            };
            h.create_runtime(&ctx).map_err(|e| Error::Hook {
                phase: "createRuntime".into(),
                which: h.name().to_string(),
                reason: e.to_string(),
            })?;
        }
        Ok(())
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
        // SAFETY: trivial getter.
        let rootless = unsafe { libc::geteuid() } != 0;
        let limits = res.is_some_and(|r| {
            nook_cgroups::cgroup::controllers_of(r)
                .iter()
                .any(|c| *c != "devices")
        });
        let spec = CgroupSpec {
            path: linux.cgroups_path().as_deref(),
            default_name: id,
            resources: res,
        };
        let mut cg = match self.cgroups.plan(&spec) {
            Ok(cg) => cg,
            Err(e) if rootless && !limits => {
                tracing::debug!("rootless: no cgroup for the container ({e})");
                return Ok(Cgroup::default());
            }
            Err(e) => return Err(e.into()),
        };
        guard.cgroup = Some(cg.clone());
        // Device rules need privileges an ordinary user lacks; without
        // other limits they are the only thing asked for.
        let r = self
            .cgroups
            .create(&mut cg, if rootless && !limits { None } else { res });
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
}
