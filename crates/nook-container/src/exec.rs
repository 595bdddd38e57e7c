//! `exec`: run another process inside a running container.
//!
//! The runtime joins the container's pid (and time) namespace for its
//! children, then forks the new process with one `clone3` straight into the
//! container's cgroup v2 (v1 cgroups: the child moves itself in, first
//! thing).  The child turns non-dumpable (no process of the
//! container may open its `/proc/PID/exe` while it is still the runtime),
//! enters the other namespaces — user first, mount last — and gets exactly
//! the confinement of the container's first process (capabilities, seccomp,
//! no_new_privs, rlimits, LSM labels) before it executes the program from
//! the sealed trampoline.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nook_namespaces::{NsKind, OpenNs, ENTER_ORDER};
use nook_sys::channel::{self, Channel};
use nook_sys::clone::{fork_with, CloneOpts, Forked};
use nook_sys::Errno;
use oci_spec::runtime::{LinuxCapabilities, Process};

use crate::container::Runtime;
use crate::error::{Error, Result};
use crate::init::{self, Confinement, Msg};
use crate::state::Status;

/// How the process to exec is described.
#[derive(Debug, Clone)]
pub enum ExecProcess {
    /// A runtime-spec `process` JSON file (`--process`).
    File(PathBuf),
    /// Arguments and flags, on top of the container's own process settings.
    Args(ExecArgs),
}

/// `exec ID ARGS...` and its flags.
#[derive(Debug, Clone, Default)]
pub struct ExecArgs {
    /// Program and arguments.
    pub args: Vec<String>,
    /// `KEY=VALUE` added to (or replacing in) the container's environment.
    pub env: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// `uid[:gid]`.
    pub user: Option<(u32, Option<u32>)>,
    /// Additional groups.
    pub additional_gids: Vec<u32>,
    /// Capabilities added to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
    /// Allocate a terminal.
    pub tty: bool,
    /// Set no_new_privs.
    pub no_new_privs: bool,
    /// AppArmor profile.
    pub apparmor: Option<String>,
    /// SELinux label.
    pub label: Option<String>,
}

/// Options of `exec`.
#[derive(Debug, Clone)]
pub struct ExecOpts {
    /// Container id.
    pub id: String,
    /// The process.
    pub process: ExecProcess,
    /// Return once the process runs.
    pub detach: bool,
    /// Write the process's pid here.
    pub pid_file: Option<PathBuf>,
    /// Send the pty master to this socket.
    pub console_socket: Option<PathBuf>,
    /// Pass descriptors 3..3+N.
    pub preserve_fds: u32,
    /// Sub-cgroup (relative to the container's; `controller:path` on v1).
    pub cgroup: Option<String>,
    /// Allow exec into a paused container.
    pub ignore_paused: bool,
}

fn set_env(env: &mut Vec<String>, kv: &str) {
    let key = kv.split('=').next().unwrap_or(kv);
    env.retain(|e| e.split('=').next() != Some(key));
    env.push(kv.to_string());
}

/// Build the process to run from the container's own `process` and the
/// exec flags (as runc does).
pub fn build_process(base: Option<&Process>, p: &ExecProcess) -> Result<Process> {
    match p {
        ExecProcess::File(path) => {
            let b = std::fs::read(path).map_err(Error::io("read --process", path.clone()))?;
            let proc: Process = crate::config::parse_json(&b, path)?;
            if proc.args().as_ref().is_none_or(|a| a.is_empty()) {
                return Err(Error::Config(format!(
                    "{}: args must name the program to run",
                    path.display()
                )));
            }
            Ok(proc)
        }
        ExecProcess::Args(a) => {
            if a.args.is_empty() {
                return Err(Error::Input("exec needs the program to run".into()));
            }
            let mut proc = base.cloned().unwrap_or_default();
            proc.set_args(Some(a.args.clone()));
            let mut env = proc.env().clone().unwrap_or_default();
            for kv in &a.env {
                set_env(&mut env, kv);
            }
            proc.set_env(Some(env));
            if let Some(c) = &a.cwd {
                proc.set_cwd(c.clone());
            }
            proc.set_terminal(Some(a.tty));
            let mut user = proc.user().clone();
            if let Some((uid, gid)) = a.user {
                user.set_uid(uid);
                user.set_gid(gid.unwrap_or(0));
            }
            if !a.additional_gids.is_empty() {
                user.set_additional_gids(Some(a.additional_gids.clone()));
            }
            proc.set_user(user);
            if !a.caps.is_empty() {
                let mut caps = proc
                    .capabilities()
                    .clone()
                    .unwrap_or_else(LinuxCapabilities::default);
                let extra: Vec<oci_spec::runtime::Capability> = a
                    .caps
                    .iter()
                    .map(|c| {
                        let full = if c.to_ascii_uppercase().starts_with("CAP_") {
                            c.to_string()
                        } else {
                            format!("CAP_{c}")
                        };
                        serde_json::from_value(serde_json::Value::String(full.clone()))
                            .map_err(|_| Error::Input(format!("--cap: unknown capability {c}")))
                    })
                    .collect::<Result<_>>()?;
                let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                    let mut s = set.clone().unwrap_or_default();
                    s.extend(extra.iter().copied());
                    Some(s)
                };
                caps.set_bounding(add(caps.bounding()));
                caps.set_effective(add(caps.effective()));
                caps.set_permitted(add(caps.permitted()));
                proc.set_capabilities(Some(caps));
            }
            if a.no_new_privs {
                proc.set_no_new_privileges(Some(true));
            }
            if let Some(p) = &a.apparmor {
                proc.set_apparmor_profile(Some(p.clone()));
            }
            if let Some(l) = &a.label {
                proc.set_selinux_label(Some(l.clone()));
            }
            Ok(proc)
        }
    }
}

fn ns_link(pid: &str, kind: NsKind) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/{}", kind.proc_name())).ok()
}

impl Runtime {
    /// Run a process in a container.  Returns its exit code (0 when
    /// detached).
    pub fn exec(&self, opts: &ExecOpts) -> Result<i32> {
        let (st, spec) = {
            let cd = self.root.open(&opts.id, false)?;
            let st = cd.read_state()?.ok_or_else(|| {
                Error::Status(format!("container {:?} is still being created", opts.id))
            })?;
            let spec = cd.read_config()?;
            let status = self.status(&opts.id)?;
            match status {
                Status::Running | Status::Created => {}
                Status::Paused if opts.ignore_paused => {}
                s => {
                    return Err(Error::Status(format!(
                        "cannot exec in container {:?}: it is {s}",
                        opts.id
                    )))
                }
            }
            (st, spec)
        };
        let process = build_process(spec.process().as_ref(), &opts.process)?;
        if !process.cwd().is_absolute() {
            return Err(Error::Config(format!(
                "process.cwd {:?} must be an absolute path",
                process.cwd()
            )));
        }
        if process.terminal().unwrap_or(false) && opts.detach && opts.console_socket.is_none() {
            return Err(Error::Config(
                "a terminal for a detached exec needs --console-socket".into(),
            ));
        }
        let caps = process
            .capabilities()
            .as_ref()
            .map(nook_security::caps::CapSets::from_spec)
            .transpose()?;
        let linux = spec.linux().clone().unwrap_or_default();
        let seccomp = self.seccomp_filter(&linux)?;
        // The namespaces of the container that differ from ours.
        let pid = st.pid.to_string();
        let mut joins: Vec<OpenNs> = Vec::new();
        for k in ENTER_ORDER {
            let theirs = ns_link(&pid, k);
            if theirs.is_some() && theirs != ns_link("self", k) {
                joins.push(nook_namespaces::open_ns(
                    k,
                    Path::new(&format!("/proc/{pid}/ns/{}", k.proc_name())),
                )?);
            }
        }
        // A container sharing our mount namespace lives in a chroot: enter
        // it through its first process's root.
        let chroot = if joins.iter().any(|n| n.kind == NsKind::Mount) {
            None
        } else {
            Some(
                nook_sys::fd::openat(
                    None,
                    Path::new(&format!("/proc/{pid}/root")),
                    libc::O_PATH | libc::O_DIRECTORY,
                    0,
                )
                .map_err(Error::sys("open the container's root"))?,
            )
        };
        if !nook_sys::proc::is_same_alive(st.pid, st.init_start_time) {
            return Err(Error::Status(format!(
                "cannot exec in container {:?}: it is stopped",
                opts.id
            )));
        }
        // pid and time namespaces apply to our children: enter them here.
        nook_namespaces::enter(&joins, |k| matches!(k, NsKind::Pid | NsKind::Time))?;
        let cgroup = self.exec_cgroup(&st.cgroup, opts.cgroup.as_deref())?;
        let cg_fd = cgroup.v2_fd();
        // The process joins the v1 cgroups itself (see SelfJoin).
        let cgroup_join = cgroup.self_join()?;
        let console_socket = match &opts.console_socket {
            Some(p) => Some(OwnedFd::from(UnixStream::connect(p).map_err(|e| {
                Error::Config(format!("connect to --console-socket {}: {e}", p.display()))
            })?)),
            None => None,
        };
        let foreground = !opts.detach;
        let sfd = if foreground {
            Some(crate::run::block_signals()?)
        } else {
            None
        };
        let sigmask = init::original_sigmask();
        let (parent_ch, child_ch) = channel::pair().map_err(Error::sys("socketpair"))?;
        let mut clone_opts = CloneOpts {
            flags: 0,
            pidfd: false,
            cgroup: cg_fd.as_ref().map(|f| f.as_fd()),
        };
        // SAFETY: the runtime is single-threaded.
        let mut forked = unsafe { fork_with(&clone_opts) };
        if let Err(e) = forked {
            if clone_opts.cgroup.is_some() && nook_sys::clone::is_clone_into_cgroup_unsupported(e) {
                clone_opts.cgroup = None;
                // SAFETY: as above.
                forked = unsafe { fork_with(&clone_opts) };
            }
        }
        let used_clone_into = clone_opts.cgroup.is_some();
        let child = match forked.map_err(Error::sys("clone the exec'd process"))? {
            Forked::Child => {
                drop(parent_ch);
                let conf = Confinement {
                    process: &process,
                    personality: linux.personality().as_ref(),
                    caps: caps.as_ref(),
                    seccomp: seccomp.as_ref(),
                    preserve_fds: opts.preserve_fds,
                };
                let e = match exec_child(
                    &child_ch,
                    &cgroup_join,
                    &joins,
                    chroot.as_ref(),
                    &conf,
                    console_socket.as_ref(),
                    &sigmask,
                ) {
                    Ok(()) => Error::Init("internal: exec returned".into()),
                    Err(e) => e,
                };
                let _ = child_ch.send(&Msg::Error(e.to_string()), &[]);
                // SAFETY: leave without the runtime's exit handlers.
                unsafe { libc::_exit(1) }
            }
            Forked::Parent { pid, .. } => pid,
        };
        drop(child_ch);
        let kill_child = || {
            // SAFETY: our child.
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, std::ptr::null_mut(), 0);
            }
        };
        if !used_clone_into {
            if let Err(e) = cgroup.add_pid_v2(child) {
                kill_child();
                return Err(e.into());
            }
        }
        if let Some(v) = process.oom_score_adj() {
            let _ = nook_process::set_oom_score_adj(child, v);
        }
        if let Err(e) = parent_ch.send(&Msg::Go, &[]) {
            kill_child();
            return Err(Error::Init(e.to_string()));
        }
        let mut pty = None;
        loop {
            match parent_ch.recv::<Msg>() {
                Ok((Msg::Console, mut fds)) => pty = fds.pop(),
                Ok((Msg::Seccomp, mut fds)) => {
                    let (Some(fd), Some(sc)) = (fds.pop(), linux.seccomp().as_ref()) else {
                        continue;
                    };
                    if sc.listener_path().is_some() {
                        let state = serde_json::to_value(self.state(&opts.id)?).unwrap_or_default();
                        nook_security::seccomp::send_to_listener(sc, &fd, child, &state)?;
                    }
                }
                Ok((Msg::Error(m), _)) => {
                    // SAFETY: reap our child.
                    unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
                    return Err(Error::Init(m));
                }
                Ok((m, _)) => {
                    kill_child();
                    return Err(Error::Init(format!(
                        "internal: unexpected {m:?} from the exec'd process"
                    )));
                }
                // The channel closes at execve: the program runs.
                Err(nook_sys::channel::ChannelError::Closed) => break,
                Err(e) => {
                    kill_child();
                    return Err(Error::Init(e.to_string()));
                }
            }
        }
        if let Some(p) = &opts.pid_file {
            crate::state::write_atomic(p, child.to_string().as_bytes())?;
        }
        match sfd {
            None => Ok(0),
            Some(sfd) => Ok(crate::run::exit_code(crate::run::wait_loop(
                child, sfd, pty,
            )?)),
        }
    }

    fn exec_cgroup(
        &self,
        cg: &nook_cgroups::Cgroup,
        sub: Option<&str>,
    ) -> Result<nook_cgroups::Cgroup> {
        // Without --cgroup: where the container's processes are.  A
        // sub-cgroup is named relative to the container's cgroup, as the
        // client made it (still below the limits).
        let Some(sub) = sub.filter(|s| !s.is_empty()) else {
            return Ok(cg.procs_cgroup());
        };
        let mut c = cg.clone();
        c.leaf = false;
        let (controller, path) = match sub.split_once(':') {
            Some((c, p)) => (Some(c), p),
            None => (None, sub),
        };
        let rel = nook_sys::path::clean_relative(Path::new(path));
        let check = |d: &PathBuf| -> Result<PathBuf> {
            let full = d.join(&rel);
            if !full.is_dir() {
                return Err(Error::Input(format!(
                    "--cgroup {sub}: {} does not exist",
                    full.display()
                )));
            }
            Ok(full)
        };
        match controller {
            None => {
                if let Some(v2) = &c.v2 {
                    c.v2 = Some(check(v2)?);
                }
                if c.pure_v2 {
                    return Ok(c);
                }
                for d in c.v1.values_mut() {
                    *d = check(d)?;
                }
            }
            Some(ctl) => {
                let key =
                    c.v1.keys()
                        .find(|k| k.split(',').any(|x| x == ctl))
                        .cloned();
                match key {
                    Some(k) => {
                        let d = c.v1[&k].clone();
                        c.v1.insert(k, check(&d)?);
                    }
                    None => {
                        return Err(Error::Input(format!(
                            "--cgroup {sub}: the container has no {ctl} cgroup"
                        )))
                    }
                }
            }
        }
        Ok(c)
    }
}

fn exec_child(
    ch: &Channel,
    cgroup_join: &nook_cgroups::SelfJoin,
    joins: &[OpenNs],
    chroot: Option<&OwnedFd>,
    conf: &Confinement<'_>,
    console: Option<&OwnedFd>,
    sigmask: &libc::sigset_t,
) -> Result<()> {
    // No process of the container may open our /proc/PID/exe while we are
    // still the runtime's binary.
    // SAFETY: plain prctls.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
    }
    match ch.recv::<Msg>() {
        Ok((Msg::Go, _)) => {}
        Ok((m, _)) => return Err(Error::Init(format!("internal: expected Go, got {m:?}"))),
        Err(e) => return Err(Error::Init(format!("runtime went away: {e}"))),
    }
    cgroup_join.join()?;
    nook_namespaces::enter(joins, |k| !matches!(k, NsKind::Pid | NsKind::Time))?;
    if let Some(root) = chroot {
        let dot = c".";
        // SAFETY: enter the container's root directory and make it ours.
        if unsafe { libc::fchdir(root.as_raw_fd()) } < 0
            || unsafe { libc::chroot(dot.as_ptr()) } < 0
        {
            return Err(Error::sys("enter the container's root")(Errno::last()));
        }
    }
    let process = conf.process;
    // Of the runtime's descriptors only the channel and the console socket
    // stay while the working directory is resolved (a cgroup directory of
    // the host, say, must not be reachable as /proc/self/fd/N).
    let mut keep = vec![ch.as_raw_fd()];
    keep.extend(console.map(|c| c.as_raw_fd()));
    keep.extend(3..3 + conf.preserve_fds as std::os::fd::RawFd);
    nook_sys::fd::close_all_except(&keep).map_err(Error::sys("close the runtime's descriptors"))?;
    init::enter_cwd(process.cwd())?;
    if process.terminal().unwrap_or(false) {
        let master = nook_sys::fd::openat(
            None,
            Path::new("/dev/ptmx"),
            libc::O_RDWR | libc::O_NOCTTY,
            0,
        )
        .map_err(Error::sys("terminal: open /dev/ptmx in the container"))?;
        let slave = init::open_pty_peer(&master, process)?;
        init::hand_over_master(&master, console.map(|s| s.as_fd()), ch)?;
        drop(master);
        init::attach_terminal(slave)?;
    }
    let ready = init::confine(conf, ch)?;
    // The parent-death signal would survive execve and kill a detached
    // process when `exec -d` returns.
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    init::reset_signals(sigmask);
    Err(nook_security::exe::exec(
        ready.trampoline.as_ref(),
        &ready.program,
        &ready.args,
        &ready.env,
    )
    .into())
}
