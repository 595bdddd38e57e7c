//! The container's first process, from the moment the runtime forks it
//! until it executes the user's program.
//!
//! The runtime and this process talk over one [`Channel`] with [`Msg`]s:
//!
//! ```text
//! runtime                                   container process
//!   clone3(namespaces, CLONE_INTO_CGROUP) ──▶ wait for Go
//!   uid/gid maps, oom score
//!   Go ─────────────────────────────────────▶ join v1 cgroups (itself),
//!                                             join namespaces, sysctl,
//!                                             hostname, mounts, /dev, console
//!   run prestart/createRuntime hooks ◀────── Hooks
//!   HooksDone ──────────────────────────────▶ createContainer hooks,
//!                                             masked/readonly paths, pivot_root,
//!                                             rlimits, user, caps, seccomp
//!   (notify fd to the listener) ◀─────────── Seccomp + fd
//!   write state.json, exit ◀──────────────── Ready
//!                                             block on the exec FIFO
//!   `start` opens the FIFO ─────────────────▶ startContainer hooks, exec
//! ```
//!
//! When a pid or time namespace must be set up before the process enters
//! it (or a user namespace joined), a first child does the namespace work
//! and forks the real init with `CLONE_PARENT` (two stages, as runc's
//! nsexec); otherwise a single `clone3` does everything.  Any failure is
//! sent to the runtime as text, so the user sees the real cause.

use std::cell::Cell;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nook_cgroups::SelfJoin;
use nook_namespaces::{NsKind, NsPlan, OpenNs};
use nook_rootfs::{CgroupMounts, RootfsSpec};
use nook_security::caps::CapSets;
use nook_security::seccomp::Compiled;
use nook_sys::channel::Channel;
use nook_sys::clone::{fork_with, CloneOpts, Forked};
use nook_sys::Errno;
use oci_spec::runtime::{Process, Spec};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hooks;

/// Messages between the runtime and the container process.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Msg {
    /// runtime → child: ids mapped, cgroups joined; go on.
    Go,
    /// first stage → runtime: the user namespace exists, write its maps.
    MapIds,
    /// first stage → runtime: the container's init has this pid.
    Pid(i32),
    /// child → runtime: run prestart and createRuntime hooks now.
    Hooks,
    /// runtime → child: hooks done.
    HooksDone,
    /// child → runtime: here is the seccomp notify fd.
    Seccomp,
    /// child → runtime: here is the pty master.
    Console,
    /// child → runtime: set up, waiting for `start`.
    Ready,
    /// child → runtime: setup failed.
    Error(String),
}

/// Everything the container process needs, prepared by the runtime before
/// the fork (the child sees it through the copied address space).
pub(crate) struct InitPlan<'a> {
    /// Container id.
    pub id: &'a str,
    /// Configuration.
    pub spec: &'a Spec,
    /// Bundle directory.
    pub bundle: &'a Path,
    /// Rootfs (absolute).
    pub rootfs: &'a Path,
    /// Namespaces.
    pub ns: &'a NsPlan,
    /// Opened namespaces to join.
    pub joins: &'a [OpenNs],
    /// Create the cgroup namespace after joining the cgroup (not in clone).
    pub late_cgroupns: bool,
    /// Where the container's cgroups are (for cgroup mounts).
    pub cgroups: CgroupMounts,
    /// The v1 cgroups the process moves itself into once told to go.
    pub cgroup_join: &'a SelfJoin,
    /// Compiled seccomp filter.
    pub seccomp: Option<Compiled>,
    /// Capabilities.
    pub caps: Option<CapSets>,
    /// The connected console socket the pty master goes to (else it goes
    /// to the runtime over the channel).
    pub console_socket: Option<BorrowedFd<'a>>,
    /// Descriptors that become stdin, stdout, stderr.
    pub stdio: [Option<RawFd>; 3],
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// Descriptors 3..3+N survive into the container.
    pub preserve_fds: u32,
    /// `O_PATH` descriptor of the exec FIFO.
    pub fifo: OwnedFd,
    /// The host's `/proc`, to reopen the FIFO after `pivot_root`.
    pub host_proc: OwnedFd,
    /// Descriptors of the runtime the child must close first.
    pub close_in_child: Vec<RawFd>,
    /// The signal mask the program starts with.
    pub sigmask: libc::sigset_t,
    /// Stop for the runtime's hooks (prestart, createRuntime, in-process).
    pub pause_for_hooks: bool,
}

fn ns_err(e: nook_namespaces::NsError) -> Error {
    Error::Ns(e)
}

/// Entry point of the forked process; never returns.
pub(crate) fn child_main(plan: &InitPlan<'_>, ch: &Channel, two_stage: bool) -> ! {
    crate::spawn::in_child();
    // Descriptors the caller had open when it forked us (its other
    // containers' locks, pipes, sockets) are not ours to hold: a lock held
    // here would make another container look "creating".
    let mut keep = vec![
        ch.as_raw_fd(),
        plan.fifo.as_raw_fd(),
        plan.host_proc.as_raw_fd(),
    ];
    keep.extend(plan.console_socket.map(|s| s.as_raw_fd()));
    keep.extend(plan.stdio.iter().flatten());
    keep.extend(plan.joins.iter().map(|n| n.fd.as_raw_fd()));
    keep.extend(plan.cgroup_join.fds());
    keep.extend(3..3 + plan.preserve_fds as RawFd);
    keep.retain(|fd| !plan.close_in_child.contains(fd));
    if let Err(e) = nook_sys::fd::close_all_except(&keep) {
        let r = Err(Error::sys("close the caller's descriptors")(e));
        fail(plan.id, ch, &Cell::new(false), r)
    }
    // If the runtime dies during setup, so do we.
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    let ready = std::cell::Cell::new(false);
    let r = install_stdio(&plan.stdio).and_then(|_| {
        if two_stage {
            first_stage(plan, ch, &ready)
        } else {
            single(plan, ch, &ready)
        }
    });
    fail(plan.id, ch, &ready, r)
}

/// Report why set-up ended — to the runtime while it listens, else where
/// the container's output goes — and leave.
fn fail(id: &str, ch: &Channel, ready: &Cell<bool>, r: Result<()>) -> ! {
    let e = match r {
        Ok(()) => Error::Setup("internal: init returned".into()),
        Err(e) => e,
    };
    if ready.get() {
        // Raw write: std's stderr lock may be a copy of a held one.
        let line = format!("nook: container {id}: {e}\n");
        let _ = nook_sys::fd::write_all(2, line.as_bytes());
    } else {
        let _ = ch.send(&Msg::Error(e.to_string()), &[]);
    }
    // SAFETY: leave without running the runtime's exit handlers.
    unsafe { libc::_exit(1) }
}

/// Make the given descriptors stdin, stdout and stderr.  Each is first
/// moved above 2, so that one of them sitting at another's target number is
/// not overwritten before it is used.
pub(crate) fn install_stdio(stdio: &[Option<RawFd>; 3]) -> Result<()> {
    let mut high = [None; 3];
    for (i, fd) in stdio.iter().enumerate() {
        if let Some(fd) = fd {
            // SAFETY: duplicating a descriptor we hold, to >= 3.
            let d = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 3) };
            if d < 0 {
                return Err(Error::sys("take the stdio descriptors")(Errno::last()));
            }
            high[i] = Some(d);
        }
    }
    for (target, fd) in high.iter().enumerate() {
        if let Some(fd) = fd {
            nook_sys::fd::dup2(*fd, target as RawFd).map_err(Error::sys("install stdio"))?;
            // SAFETY: our temporary duplicate.
            unsafe { libc::close(*fd) };
        }
    }
    Ok(())
}

fn recv_go(ch: &Channel) -> Result<()> {
    match ch.recv::<Msg>() {
        Ok((Msg::Go, _)) => Ok(()),
        Ok((m, _)) => Err(Error::Setup(format!("internal: expected Go, got {m:?}"))),
        Err(e) => Err(Error::Setup(format!("runtime went away: {e}"))),
    }
}

fn become_ns_root() -> Result<()> {
    // SAFETY: plain syscalls; uid/gid 0 must be mapped in the namespace.
    unsafe {
        if libc::setresgid(0, 0, 0) < 0 {
            return Err(Error::sys(
                "become root in the user namespace (is gid 0 mapped?)",
            )(Errno::last()));
        }
        if libc::setresuid(0, 0, 0) < 0 {
            return Err(Error::sys(
                "become root in the user namespace (is uid 0 mapped?)",
            )(Errno::last()));
        }
    }
    Ok(())
}

/// Single `clone3`: namespaces exist already; join the rest and set up.
fn single(plan: &InitPlan<'_>, ch: &Channel, ready: &Cell<bool>) -> Result<()> {
    recv_go(ch)?;
    plan.cgroup_join.join()?;
    if plan.ns.is_new(NsKind::User) {
        become_ns_root()?;
    }
    nook_namespaces::enter(plan.joins, |_| true).map_err(ns_err)?;
    if plan.late_cgroupns {
        nook_namespaces::unshare(&[NsKind::Cgroup]).map_err(ns_err)?;
    }
    setup(plan, ch, ready)
}

/// Two stages: join and create namespaces here, then fork the init.
fn first_stage(plan: &InitPlan<'_>, ch: &Channel, ready: &Cell<bool>) -> Result<()> {
    recv_go(ch)?;
    // The init forked below inherits the cgroups.
    plan.cgroup_join.join()?;
    nook_namespaces::enter(plan.joins, |_| true).map_err(ns_err)?;
    if plan.ns.is_new(NsKind::User) {
        nook_namespaces::unshare(&[NsKind::User]).map_err(ns_err)?;
        tell(ch, &Msg::MapIds, &[])?;
        recv_go(ch)?;
        become_ns_root()?;
    }
    let rest: Vec<NsKind> = plan
        .ns
        .new
        .iter()
        .copied()
        .filter(|k| *k != NsKind::User)
        .collect();
    nook_namespaces::unshare(&rest).map_err(ns_err)?;
    if plan.ns.is_new(NsKind::Time) {
        if let Some(off) = plan
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.time_offsets().as_ref())
        {
            nook_namespaces::timens::write_offsets(off).map_err(ns_err)?;
        }
    }
    let opts = CloneOpts {
        flags: libc::CLONE_PARENT as u64,
        ..Default::default()
    };
    // SAFETY: this process is single-threaded (forked by spawn()).
    match unsafe { fork_with(&opts) }.map_err(Error::sys("fork the container's init"))? {
        Forked::Child => {
            // SAFETY: as in child_main.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            let r = setup(plan, ch, ready);
            fail(plan.id, ch, ready, r)
        }
        Forked::Parent { pid, .. } => {
            tell(ch, &Msg::Pid(pid), &[])?;
            // SAFETY: our work is done; the init carries on.
            unsafe { libc::_exit(0) }
        }
    }
}

const TIOCGPTPEER: libc::c_ulong = 0x5441;

struct Console {
    slave: OwnedFd,
}

fn open_console(
    plan: &InitPlan<'_>,
    prep: &nook_rootfs::Prepared,
    ch: &Channel,
) -> Result<Option<Console>> {
    let Some(process) = plan
        .spec
        .process()
        .as_ref()
        .filter(|p| p.terminal().unwrap_or(false))
    else {
        return Ok(None);
    };
    let master = nook_sys::path::open_in_root(
        prep.root.as_fd(),
        Path::new("/dev/ptmx"),
        libc::O_RDWR | libc::O_NOCTTY,
        0,
    )
    .map_err(|e| {
        Error::Setup(format!(
            "terminal: open /dev/ptmx in the container (is /dev/pts mounted?): {e}"
        ))
    })?;
    let slave = open_pty_peer(&master, process)?;
    nook_rootfs::setup_console(prep, slave.as_fd())?;
    hand_over_master(&master, plan.console_socket, ch)?;
    Ok(Some(Console { slave }))
}

/// The pty of a container process, from the master it opened inside the
/// container: unlocked, its peer opened (close-on-exec), sized from
/// `process.consoleSize` and owned by the process's user.
pub(crate) fn open_pty_peer(master: &OwnedFd, process: &Process) -> Result<OwnedFd> {
    let zero: libc::c_int = 0;
    // SAFETY: ioctls on the pty master we own.
    let slave = unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &zero) < 0 {
            return Err(Error::sys("terminal: unlock pty")(Errno::last()));
        }
        let s = libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER as _,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if s < 0 {
            return Err(Error::sys("terminal: open pty slave")(Errno::last()));
        }
        <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(s)
    };
    if let Some(sz) = process.console_size() {
        let ws = libc::winsize {
            ws_row: sz.height() as u16,
            ws_col: sz.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: ioctl with a valid winsize.
        unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    let u = process.user();
    if u.uid() != 0 {
        // SAFETY: fchown of our pty slave to the container user.
        unsafe { libc::fchown(slave.as_raw_fd(), u.uid(), u.gid()) };
    }
    Ok(slave)
}

/// Hands a pty master to whoever takes it: the client on
/// `--console-socket`, else the runtime over `ch`.
pub(crate) fn hand_over_master(
    master: &OwnedFd,
    console_socket: Option<BorrowedFd<'_>>,
    ch: &Channel,
) -> Result<()> {
    match console_socket {
        Some(sock) => send_pty(sock, master),
        None => tell(ch, &Msg::Console, &[master.as_raw_fd()]),
    }
}

/// Makes the pty `slave` this process's controlling terminal and its
/// stdin, stdout and stderr.
pub(crate) fn attach_terminal(slave: OwnedFd) -> Result<()> {
    // SAFETY: setsid and TIOCSCTTY on our own pty.
    unsafe {
        libc::setsid();
        if libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) < 0 {
            return Err(Error::sys("terminal: set controlling terminal")(
                Errno::last(),
            ));
        }
    }
    let raw = slave.as_raw_fd();
    for fd in 0..3 {
        if fd == raw {
            // already in place: only keep it open across exec
            // SAFETY: F_SETFD on our own descriptor.
            unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        } else {
            nook_sys::fd::dup2(raw, fd).map_err(Error::sys("terminal: attach stdio"))?;
        }
    }
    if raw <= 2 {
        // it is one of the stdio descriptors now: do not close it
        let _ = std::os::fd::IntoRawFd::into_raw_fd(slave);
    }
    Ok(())
}

/// Tell the runtime the container is set up.  From here on the container
/// outlives `create`: it no longer dies with the runtime.
fn report_ready(ch: &Channel, ready: &Cell<bool>) -> Result<()> {
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    tell(ch, &Msg::Ready, &[])?;
    ready.set(true);
    Ok(())
}

/// Send `m` (with `fds` attached) to the runtime.
fn tell(ch: &Channel, m: &Msg, fds: &[std::os::fd::RawFd]) -> Result<()> {
    ch.send(m, fds).map_err(|e| Error::Setup(e.to_string()))
}

/// Send a pty master over a console socket the way runc does: the fd with
/// `SCM_RIGHTS` and the pty's name as the data.
pub(crate) fn send_pty(sock: BorrowedFd<'_>, master: &OwnedFd) -> Result<()> {
    nook_sys::fd::send_with_fds(sock, b"/dev/ptmx", &[master.as_raw_fd()])
        .map_err(Error::sys("send the pty master to the console socket"))
}

fn join_session_keyring(id: &str) {
    let name = std::ffi::CString::new(format!("_ses.{id}")).unwrap_or_default();
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, name).
    let r = unsafe { libc::syscall(libc::SYS_keyctl, 1, name.as_ptr()) };
    if r < 0 {
        // Not available (e.g. inside a nested container's seccomp profile).
        tracing::debug!("new session keyring: {}", Errno::last());
        return;
    }
    // Possessor: all; owner user: view/read/write/search/link; nothing else.
    // SAFETY: keyctl(KEYCTL_SETPERM, key, perm).
    unsafe { libc::syscall(libc::SYS_keyctl, 5, r, 0x3f1f_0000u32) };
}

fn hook_state(plan: &InitPlan<'_>, status: &str) -> Vec<u8> {
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    hooks::state_json(plan.id, status, pid, plan.bundle, plan.spec)
}

/// Everything from the namespaces being in place to `execve`.
fn setup(plan: &InitPlan<'_>, ch: &Channel, ready: &Cell<bool>) -> Result<()> {
    let spec = plan.spec;
    let linux = spec.linux().clone().unwrap_or_default();
    if let Some(s) = linux.sysctl() {
        nook_process::write_sysctls(s)?;
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nook_process::set_hostname(h)?;
    }
    let new_netns =
        linux.namespaces().iter().flatten().any(|n| {
            n.typ() == oci_spec::runtime::LinuxNamespaceType::Network && n.path().is_none()
        });
    if new_netns {
        // best effort, as the namespace works without it
        let _ = nook_process::loopback_up();
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        nook_process::set_domainname(d)?;
    }
    if !plan.no_new_keyring {
        join_session_keyring(plan.id);
    }
    let empty: Vec<String> = Vec::new();
    let rspec = RootfsSpec {
        bundle: plan.bundle,
        rootfs: plan.rootfs,
        readonly: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        propagation: linux.rootfs_propagation().as_deref(),
        mounts: spec.mounts().as_deref().unwrap_or(&[]),
        devices: linux.devices().as_deref().unwrap_or(&[]),
        masked_paths: linux.masked_paths().as_deref().unwrap_or(&empty),
        readonly_paths: linux.readonly_paths().as_deref().unwrap_or(&empty),
        in_userns: plan.ns.contains(NsKind::User),
        cgroupns: plan.ns.contains(NsKind::Cgroup),
        cgroups: &plan.cgroups,
        no_pivot: plan.no_pivot,
        shared_mount_ns: !plan.ns.contains(NsKind::Mount),
    };
    let prep = nook_rootfs::prepare(&rspec)?;
    let console = open_console(plan, &prep, ch)?;
    // The working directory exists after pivot (created like runc does).
    if let Some(process) = spec.process() {
        nook_sys::path::mkdir_all_in_root(prep.root.as_fd(), process.cwd(), 0o755).map_err(
            |e| {
                Error::Setup(format!(
                    "create process.cwd {} in the container: {e}",
                    process.cwd().display()
                ))
            },
        )?;
    }
    run_create_hooks(plan, ch)?;
    nook_rootfs::protect(&rspec, &prep)?;
    nook_rootfs::pivot(&rspec, prep)?;
    let Some(process) = spec.process() else {
        // Nothing to run: the container exists, `start` refuses it, and
        // `delete` ends this process.
        report_ready(ch, ready)?;
        loop {
            // SAFETY: waits for a signal (SIGKILL from delete).
            unsafe { libc::pause() };
        }
    };
    if let Some(c) = console {
        attach_terminal(c.slave)?;
    }
    run_program(plan, ch, ready, process, linux.personality().as_ref())
}

/// The runtime's hooks (prestart, createRuntime, in-process ones: the
/// runtime runs them while this process waits), then createContainer.
fn run_create_hooks(plan: &InitPlan<'_>, ch: &Channel) -> Result<()> {
    if plan.pause_for_hooks {
        tell(ch, &Msg::Hooks, &[])?;
        match ch.recv::<Msg>() {
            Ok((Msg::HooksDone, _)) => {}
            Ok((m, _)) => {
                return Err(Error::Setup(format!(
                    "internal: expected HooksDone, got {m:?}"
                )))
            }
            Err(e) => return Err(Error::Setup(format!("runtime went away: {e}"))),
        }
    }
    let hooks_cfg = plan.spec.hooks().as_ref();
    if let Some(h) = hooks_cfg
        .and_then(|h| h.create_container().as_ref())
        .filter(|h| !h.is_empty())
    {
        hooks::run("createContainer", h, &hook_state(plan, "created"))?;
    }
    Ok(())
}

/// From a pivoted root to `execve`: the working directory, confinement,
/// Ready, the wait for `start`, startContainer hooks.
fn run_program(
    plan: &InitPlan<'_>,
    ch: &Channel,
    ready: &Cell<bool>,
    process: &oci_spec::runtime::Process,
    personality: Option<&oci_spec::runtime::LinuxPersonality>,
) -> Result<()> {
    // Nothing of the host but what the rest of set-up needs (the channel,
    // the exec FIFO and the host's /proc to reopen it) stays open while the
    // working directory is resolved.
    let mut keep = vec![
        ch.as_raw_fd(),
        plan.fifo.as_raw_fd(),
        plan.host_proc.as_raw_fd(),
    ];
    keep.extend(3..3 + plan.preserve_fds as RawFd);
    nook_sys::fd::close_all_except(&keep).map_err(Error::sys("close the runtime's descriptors"))?;
    enter_cwd(process.cwd())?;
    let conf = Confinement {
        process,
        personality,
        caps: plan.caps.as_ref(),
        seccomp: plan.seccomp.as_ref(),
        preserve_fds: plan.preserve_fds,
    };
    let program = confine(&conf, ch)?;
    report_ready(ch, ready)?;
    let fifo = wait_for_start(plan)?;
    if let Some(h) = plan
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
        .filter(|h| !h.is_empty())
    {
        if let Err(e) = hooks::run("startContainer", h, &hook_state(plan, "created")) {
            // `start` is reading the FIFO: it reports this as its error.
            let _ = nook_sys::fd::write_all(fifo.as_raw_fd(), format!("F{e}").as_bytes());
            // SAFETY: the container fails to start.
            unsafe { libc::_exit(1) };
        }
    }
    reset_signals(&plan.sigmask);
    let e = nook_security::exe::exec(
        program.trampoline.as_ref(),
        &program.program,
        &program.args,
        &program.env,
    );
    // After start nobody listens on the channel; say it where the user sees.
    let _ = nook_sys::fd::write_all(2, format!("nook: {e}\n").as_bytes());
    // SAFETY: exec failed; leave.
    unsafe { libc::_exit(127) }
}

/// Make `cwd` the working directory, resolved inside the current root with
/// no magic link followed (`/proc/self/fd/N`, `/proc/PID/cwd` or `root`
/// lead out of a container: CVE-2024-21626), then check with the kernel
/// that it is reachable from the root.
pub(crate) fn enter_cwd(cwd: &Path) -> Result<()> {
    let refused = |why: String| {
        Error::config(format!(
            "process.cwd {}: {why}; a working directory must be inside the container",
            cwd.display()
        ))
    };
    let root = nook_sys::fd::openat(
        None,
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .map_err(Error::sys("open the container's root"))?;
    let dir = nook_sys::path::open_in_root(
        root.as_fd(),
        cwd,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .map_err(|e| match e {
        Errno::ELOOP => refused(format!(
            "{e} (magic links such as /proc/self/fd/N are refused)"
        )),
        e => refused(e.to_string()),
    })?;
    // SAFETY: fchdir to a directory descriptor we own.
    if unsafe { libc::fchdir(dir.as_raw_fd()) } < 0 {
        return Err(refused(format!("fchdir: {}", Errno::last())));
    }
    let mut buf = [0u8; 4096];
    // SAFETY: the raw syscall writes at most buf.len() bytes; unlike glibc's
    // wrapper it reports an unreachable directory as "(unreachable)/...".
    let n = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if n <= 0 || buf[0] != b'/' {
        return Err(refused("it is outside the container's root".into()));
    }
    Ok(())
}

/// What a process needs to be confined the way the configuration says.
pub(crate) struct Confinement<'a> {
    /// The process section (user, rlimits, caps names, LSM labels, ...).
    pub process: &'a oci_spec::runtime::Process,
    /// `linux.personality`.
    pub personality: Option<&'a oci_spec::runtime::LinuxPersonality>,
    /// Capability sets (parsed from `process.capabilities`).
    pub caps: Option<&'a CapSets>,
    /// Compiled seccomp filter.
    pub seccomp: Option<&'a Compiled>,
    /// Descriptors 3..3+N pass to the program.
    pub preserve_fds: u32,
}

/// The program to execute once confined.
pub(crate) struct ReadyToExec {
    /// Resolved path of the program.
    pub program: String,
    /// Its argv.
    pub args: Vec<String>,
    /// Its environment.
    pub env: Vec<String>,
    /// The sealed trampoline to execute it from.
    pub trampoline: Option<OwnedFd>,
}

/// The last steps before `execve`, shared by a container's first process
/// and by processes `exec`ed into it: limits, scheduling, LSM labels, the
/// program lookup, no_new_privs, seccomp (before the capabilities drop when
/// loading it needs CAP_SYS_ADMIN, else as late as possible), user and
/// capabilities, and descriptors.  The seccomp notify fd, if any, goes to
/// the runtime over `ch`.
pub(crate) fn confine(c: &Confinement<'_>, ch: &Channel) -> Result<ReadyToExec> {
    let process = c.process;
    if let Some(r) = process.rlimits() {
        nook_process::set_rlimits(r)?;
    }
    if let Some(p) = c.personality {
        nook_process::set_personality(p)?;
    }
    if let Some(s) = process.scheduler() {
        nook_process::set_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        nook_process::set_io_priority(p)?;
    }
    let lsm = nook_security::lsm::LsmRoots::default();
    if let Some(p) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        lsm.apply_apparmor(p)?;
    }
    if let Some(l) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        lsm.apply_selinux(l)?;
    }
    let mut env = process.env().clone().unwrap_or_default();
    nook_process::ensure_home(&mut env, process.user().uid());
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(Error::config("process.args is empty"));
    }
    let program = nook_process::find_program(&args[0], &env)?;
    let trampoline = nook_security::exe::sealed_trampoline()?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    if nnp {
        nook_security::set_no_new_privs()?;
    }
    let mut notify = None;
    if let (Some(sc), false) = (c.seccomp, nnp) {
        // Without no_new_privs loading a filter needs CAP_SYS_ADMIN, which
        // the process may be about to lose.
        notify = nook_security::seccomp::load(sc)?;
    }
    let user = process.user();
    if let Some(caps) = c.caps {
        nook_security::caps::drop_bounding(caps.bounding)?;
    }
    nook_security::caps::keep_caps(true)?;
    nook_process::switch_user(
        user.uid(),
        user.gid(),
        user.additional_gids().as_deref().unwrap_or(&[]),
    )?;
    nook_security::caps::keep_caps(false)?;
    nook_security::caps::apply(c.caps.unwrap_or(&CapSets::default()))?;
    if let Some(m) = user.umask() {
        nook_process::set_umask(m);
    }
    if let (Some(sc), true) = (c.seccomp, nnp) {
        notify = nook_security::seccomp::load(sc)?;
    }
    if let Some(fd) = notify {
        tell(ch, &Msg::Seccomp, &[fd.as_raw_fd()])?;
    }
    for fd in 3..3 + c.preserve_fds as RawFd {
        let _ = nook_sys::fd::set_cloexec(fd, false);
    }
    nook_sys::fd::cloexec_from(3 + c.preserve_fds)
        .map_err(Error::sys("mark descriptors close-on-exec"))?;
    Ok(ReadyToExec {
        program,
        args,
        env,
        trampoline,
    })
}

/// Block until `start` opens the FIFO for reading, then tell it we go.
/// The returned descriptor stays open until `execve` closes it: `start`
/// sees end-of-file exactly when the program has been executed (so
/// poststart hooks run after it, and after the startContainer hooks).
fn wait_for_start(plan: &InitPlan<'_>) -> Result<OwnedFd> {
    let rel = PathBuf::from(format!("self/fd/{}", plan.fifo.as_raw_fd()));
    let fd = nook_sys::retry_eintr(|| {
        nook_sys::fd::openat(Some(plan.host_proc.as_fd()), &rel, libc::O_WRONLY, 0)
    })
    .map_err(Error::sys("open the exec fifo"))?;
    nook_sys::fd::write_all(fd.as_raw_fd(), b"0").map_err(Error::sys("write the exec fifo"))?;
    Ok(fd)
}

/// Default dispositions and the given mask, as the program should start.
pub(crate) fn reset_signals(mask: &libc::sigset_t) {
    // SAFETY: restoring default dispositions and the caller's mask.
    unsafe {
        for s in 1..32 {
            if s != libc::SIGKILL && s != libc::SIGSTOP {
                libc::signal(s, libc::SIG_DFL);
            }
        }
        libc::sigprocmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
    }
}
