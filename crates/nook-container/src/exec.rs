//! `exec`: run another process inside a running container.
//!
//! The process is forked with one `clone3` straight into the container's
//! cgroup v2 and born in its pid (and time) namespace (see `spawn`: the
//! caller's own namespaces never change); it moves itself into the v1
//! cgroups first thing.  It turns non-dumpable (no process of the container
//! may open its `/proc/PID/exe` while it is still the runtime), enters the
//! other namespaces — user first, mount last — and gets exactly the
//! confinement of the container's first process (capabilities, seccomp,
//! no_new_privs, rlimits, LSM labels) before it executes the program from
//! the sealed trampoline.  It is the caller's child: the caller waits for
//! it through the returned [`Child`].

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nook_namespaces::{NsKind, OpenNs, ENTER_ORDER};
use nook_sys::channel::{self, Channel, ChannelError};
use nook_sys::Errno;
use oci_spec::runtime::Spec;

use crate::error::{Error, Op, Result};
use crate::init::{self, Confinement, Msg};
use crate::process::Child;
use crate::request::{Console, ExecRequest};
use crate::runtime::{status_of, Runtime};
use crate::spawn::{spawn, Spawn};
use crate::state::{State, Status};

/// What the exec'd process enters and joins.
struct Target {
    st: State,
    spec: Spec,
    /// The container's namespaces that differ from the caller's.
    joins: Vec<OpenNs>,
    /// The container's root, when it shares the caller's mount namespace.
    chroot: Option<OwnedFd>,
}

impl Runtime {
    /// Start a process in a created, running (or, with `ignore_paused`,
    /// paused) container.  Returns once the program has been executed; the
    /// process is the caller's child.
    pub fn exec(&self, req: ExecRequest) -> Result<Child> {
        req.check()?;
        let t = self.exec_target(&req)?;
        let linux = t.spec.linux().clone().unwrap_or_default();
        let caps = req
            .process
            .capabilities()
            .as_ref()
            .map(nook_security::caps::CapSets::from_spec)
            .transpose()?;
        let seccomp = self.seccomp_filter(&linux)?;
        let cgroup = exec_cgroup(&t.st.cgroup, req.cgroup.as_deref())?;
        let cg_fd = cgroup.v2_fd();
        // The process joins the v1 cgroups itself (see SelfJoin).
        let cgroup_join = cgroup.self_join()?;
        let (parent_ch, child_ch) = channel::pair().map_err(Error::sys("socketpair"))?;
        let (born_in, rest): (Vec<OpenNs>, Vec<OpenNs>) = t
            .joins
            .into_iter()
            .partition(|n| matches!(n.kind, NsKind::Pid | NsKind::Time));
        let conf = Confinement {
            process: &req.process,
            personality: linux.personality().as_ref(),
            caps: caps.as_ref(),
            seccomp: seccomp.as_ref(),
            preserve_fds: req.preserve_fds,
        };
        let fd = |f: &Option<OwnedFd>| f.as_ref().map(|f| f.as_raw_fd());
        let child = ExecChild {
            ch: &child_ch,
            close_first: parent_ch.as_raw_fd(),
            cgroup_join: &cgroup_join,
            joins: &rest,
            chroot: t.chroot.as_ref(),
            conf: &conf,
            console: match &req.console {
                Console::Socket(s) => Some(s.as_fd()),
                _ => None,
            },
            stdio: [
                fd(&req.stdio.stdin),
                fd(&req.stdio.stdout),
                fd(&req.stdio.stderr),
            ],
            sigmask: req.sigmask.unwrap_or_else(crate::request::current_sigmask),
        };
        let how = Spawn {
            flags: 0,
            cgroup: cg_fd.as_ref().map(|f| f.as_fd()),
            born_in: &born_in,
        };
        let spawned = spawn(&how, &mut |_| child.run())?;
        drop(child_ch);
        let pid = spawned.pid;
        let ready = || {
            if !spawned.in_cgroup {
                cgroup.add_pid_v2(pid)?;
            }
            if let Some(v) = req.process.oom_score_adj() {
                let _ = nook_process::set_oom_score_adj(pid, v);
            }
            parent_ch
                .send(&Msg::Go, &[])
                .map_err(|e| Error::Setup(e.to_string()))?;
            self.serve_exec(&req.id, &linux, &parent_ch, pid)
        };
        let pty_master = ready().inspect_err(|_| kill_and_reap(pid))?;
        let pidfd =
            nook_sys::pidfd::open(pid).map_err(Error::sys("open a pidfd for the process"))?;
        Ok(Child {
            pid,
            pidfd,
            pty_master,
        })
    }

    /// The container, checked to be in a status that takes an exec, and
    /// what of it the process must enter.
    fn exec_target(&self, req: &ExecRequest) -> Result<Target> {
        let (cd, st) = self.load(&req.id, false)?;
        let spec = cd.read_config()?;
        match status_of(&cd, &st) {
            Status::Running | Status::Created => {}
            Status::Paused if req.ignore_paused => {}
            s => return Err(Error::status(&req.id, Op::Exec, s)),
        }
        let pid = st.pid.to_string();
        let mut joins: Vec<OpenNs> = Vec::new();
        for k in ENTER_ORDER {
            let theirs = ns_link(&pid, k);
            if theirs.is_some() && theirs != ns_link("self", k) {
                let path = format!("/proc/{pid}/ns/{}", k.proc_name());
                joins.push(nook_namespaces::open_ns(k, Path::new(&path))?);
            }
        }
        // A container sharing our mount namespace lives in a chroot: enter
        // it through its first process's root.
        let chroot = if joins.iter().any(|n| n.kind == NsKind::Mount) {
            None
        } else {
            let root = format!("/proc/{pid}/root");
            Some(
                nook_sys::fd::openat(None, Path::new(&root), libc::O_PATH | libc::O_DIRECTORY, 0)
                    .map_err(Error::sys("open the container's root"))?,
            )
        };
        // The namespaces are open: make sure they are still the container's.
        if !nook_sys::proc::is_same_alive(st.pid, st.init_start_time) {
            return Err(Error::status(&req.id, Op::Exec, Status::Stopped));
        }
        Ok(Target {
            st,
            spec,
            joins,
            chroot,
        })
    }

    /// Answer the exec'd process until it executes its program (the
    /// channel closes at execve).  Returns the pty master, when it comes
    /// back to us.
    fn serve_exec(
        &self,
        id: &str,
        linux: &oci_spec::runtime::Linux,
        ch: &Channel,
        pid: i32,
    ) -> Result<Option<OwnedFd>> {
        let mut pty = None;
        loop {
            match ch.recv::<Msg>() {
                Ok((Msg::Console, mut fds)) => pty = fds.pop(),
                Ok((Msg::Seccomp, mut fds)) => {
                    let (Some(fd), Some(sc)) = (fds.pop(), linux.seccomp().as_ref()) else {
                        continue;
                    };
                    if sc.listener_path().is_some() {
                        let state = serde_json::to_value(self.state(id)?).unwrap_or_default();
                        nook_security::seccomp::send_to_listener(sc, &fd, pid, &state)?;
                    }
                }
                Ok((Msg::Error(m), _)) => return Err(Error::Setup(m)),
                Ok((m, _)) => {
                    return Err(Error::Setup(format!(
                        "internal: unexpected {m:?} from the exec'd process"
                    )))
                }
                Err(ChannelError::Closed) => return Ok(pty),
                Err(e) => return Err(Error::Setup(e.to_string())),
            }
        }
    }
}

fn ns_link(pid: &str, kind: NsKind) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/{}", kind.proc_name())).ok()
}

/// The cgroup an exec'd process goes to.  Without a sub-cgroup: where the
/// container's processes are.  A sub-cgroup is named relative to the
/// container's cgroup, as the client made it (still below the limits).
fn exec_cgroup(cg: &nook_cgroups::Cgroup, sub: Option<&str>) -> Result<nook_cgroups::Cgroup> {
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
            return Err(Error::InvalidInput(format!(
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
            if !c.pure_v2 {
                for d in c.v1.values_mut() {
                    *d = check(d)?;
                }
            }
        }
        Some(ctl) => {
            let key =
                c.v1.keys()
                    .find(|k| k.split(',').any(|x| x == ctl))
                    .cloned();
            let Some(k) = key else {
                return Err(Error::InvalidInput(format!(
                    "--cgroup {sub}: the container has no {ctl} cgroup"
                )));
            };
            let d = c.v1[&k].clone();
            c.v1.insert(k, check(&d)?);
        }
    }
    Ok(c)
}

/// The exec'd process's side, from the fork to `execve`.
struct ExecChild<'a> {
    ch: &'a Channel,
    close_first: RawFd,
    cgroup_join: &'a nook_cgroups::SelfJoin,
    joins: &'a [OpenNs],
    chroot: Option<&'a OwnedFd>,
    conf: &'a Confinement<'a>,
    console: Option<BorrowedFd<'a>>,
    stdio: [Option<RawFd>; 3],
    sigmask: libc::sigset_t,
}

impl ExecChild<'_> {
    /// Entry point of the forked process; never returns.
    fn run(&self) -> ! {
        crate::spawn::in_child();
        // Only what the process needs stays open: not the runtime's end of
        // the channel, nor the caller's other descriptors (see init.rs).
        let mut keep = vec![self.ch.as_raw_fd()];
        keep.extend(self.console.map(|s| s.as_raw_fd()));
        keep.extend(self.stdio.iter().flatten());
        keep.extend(self.joins.iter().map(|n| n.fd.as_raw_fd()));
        keep.extend(self.cgroup_join.fds());
        keep.extend(self.chroot.map(|f| f.as_raw_fd()));
        keep.extend(3..3 + self.conf.preserve_fds as RawFd);
        keep.retain(|fd| *fd != self.close_first);
        let closed = nook_sys::fd::close_all_except(&keep)
            .map_err(Error::sys("close the caller's descriptors"));
        let e = match closed.and_then(|_| self.setup()) {
            Ok(()) => Error::Setup("internal: exec returned".into()),
            Err(e) => e,
        };
        let _ = self.ch.send(&Msg::Error(e.to_string()), &[]);
        // SAFETY: leave without the runtime's exit handlers.
        unsafe { libc::_exit(1) }
    }

    fn setup(&self) -> Result<()> {
        // No process of the container may open our /proc/PID/exe while we
        // are still the runtime's binary.
        // SAFETY: plain prctls.
        unsafe {
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        }
        init::install_stdio(&self.stdio)?;
        match self.ch.recv::<Msg>() {
            Ok((Msg::Go, _)) => {}
            Ok((m, _)) => return Err(Error::Setup(format!("internal: expected Go, got {m:?}"))),
            Err(e) => return Err(Error::Setup(format!("runtime went away: {e}"))),
        }
        self.cgroup_join.join()?;
        nook_namespaces::enter(self.joins, |_| true)?;
        if let Some(root) = self.chroot {
            let dot = c".";
            // SAFETY: enter the container's root directory and make it ours.
            if unsafe { libc::fchdir(root.as_raw_fd()) } < 0
                || unsafe { libc::chroot(dot.as_ptr()) } < 0
            {
                return Err(Error::sys("enter the container's root")(Errno::last()));
            }
        }
        // Of the runtime's descriptors only the channel and the console
        // socket stay while the working directory is resolved (a cgroup
        // directory of the host, say, must not be reachable as
        // /proc/self/fd/N).
        let mut keep = vec![self.ch.as_raw_fd()];
        keep.extend(self.console.map(|c| c.as_raw_fd()));
        keep.extend(3..3 + self.conf.preserve_fds as RawFd);
        nook_sys::fd::close_all_except(&keep)
            .map_err(Error::sys("close the runtime's descriptors"))?;
        let process = self.conf.process;
        init::enter_cwd(process.cwd())?;
        if process.terminal().unwrap_or(false) {
            self.open_terminal()?;
        }
        self.exec_program()
    }

    fn open_terminal(&self) -> Result<()> {
        let master = nook_sys::fd::openat(
            None,
            Path::new("/dev/ptmx"),
            libc::O_RDWR | libc::O_NOCTTY,
            0,
        )
        .map_err(Error::sys("terminal: open /dev/ptmx in the container"))?;
        let slave = init::open_pty_peer(&master, self.conf.process)?;
        init::hand_over_master(&master, self.console, self.ch)?;
        drop(master);
        init::attach_terminal(slave)
    }

    fn exec_program(&self) -> Result<()> {
        let ready = init::confine(self.conf, self.ch)?;
        // The parent-death signal would survive execve and kill a process
        // that outlives the caller's wait.
        // SAFETY: plain prctl.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
        init::reset_signals(&self.sigmask);
        Err(nook_security::exe::exec(
            ready.trampoline.as_ref(),
            &ready.program,
            &ready.args,
            &ready.env,
        )
        .into())
    }
}

/// Kills and reaps a child whose exec failed half-way.
fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: `pid` is our own unreaped child, so the pid is not reused
    // before waitpid; neither call touches memory.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
    }
}
