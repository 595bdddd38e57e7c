//! Attributes of the container's process, applied by its init (or an
//! `exec`ed process) inside the container's namespaces: host and domain
//! name, the loopback interface of a new network namespace, sysctls,
//! resource limits, user and groups, umask, scheduler, I/O
//! priority, personality, and finding the program to run.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use nook_sys::Errno;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, PosixRlimit, PosixRlimitType, Scheduler,
};

/// Process setup errors.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A syscall failed.
    #[error("{op}: {errno}")]
    Sys {
        /// What we were doing.
        op: String,
        /// Why.
        errno: Errno,
    },
    /// The configuration is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The program to run was not found.
    #[error("{0}")]
    NotFound(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, ProcessError>;

fn sys(op: impl Into<String>) -> ProcessError {
    ProcessError::Sys {
        op: op.into(),
        errno: Errno::last(),
    }
}

/// Set the host name (needs a private UTS namespace).
pub fn set_hostname(name: &str) -> Result<()> {
    // SAFETY: buffer and length describe `name`.
    if unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } < 0 {
        return Err(sys(format!("set hostname {name:?}")));
    }
    Ok(())
}

/// Bring up `lo` in this process's network namespace (a new one starts
/// with it down), as runc does for a network namespace it makes.
pub fn loopback_up() -> Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: a plain socket call; the descriptor is owned right below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(sys("socket for lo"));
    }
    // SAFETY: `fd` is a new descriptor nothing else owns.
    let sock = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of `req`,
    // which lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(sys("read the flags of lo"));
    }
    // SAFETY: the union's flags member is what SIOCGIFFLAGS filled.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads `req` (name and flags) during the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(sys("bring lo up"));
    }
    Ok(())
}

/// Set the NIS domain name (needs a private UTS namespace).
pub fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: buffer and length describe `name`.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } < 0 {
        return Err(sys(format!("set domainname {name:?}")));
    }
    Ok(())
}

/// The `/proc/sys` file of a sysctl key (`net.ipv4.ip_forward`), refusing
/// keys that would walk out of `/proc/sys`.
pub fn sysctl_path(key: &str) -> Result<PathBuf> {
    if key.is_empty() || key.contains("..") || key.starts_with('/') || key.starts_with('.') {
        return Err(ProcessError::Invalid(format!(
            "linux.sysctl: invalid key {key:?}"
        )));
    }
    Ok(Path::new("/proc/sys").join(key.replace('.', "/")))
}

/// Write `linux.sysctl` (the values apply to the namespaces of the caller).
pub fn write_sysctls(map: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        let p = sysctl_path(k)?;
        nook_sys::fd::write_file(&p, map[k].as_bytes()).map_err(|errno| ProcessError::Sys {
            op: format!("write sysctl {k}={}", map[k]),
            errno,
        })?;
    }
    Ok(())
}

/// The `RLIMIT_*` resource number.
pub fn rlimit_resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Check rlimits before anything is created (soft above hard, duplicates).
pub fn validate_rlimits(list: &[PosixRlimit]) -> Result<()> {
    let mut seen = Vec::new();
    for r in list {
        if r.soft() > r.hard() {
            return Err(ProcessError::Invalid(format!(
                "process.rlimits: {:?} soft limit {} is above its hard limit {}",
                r.typ(),
                r.soft(),
                r.hard()
            )));
        }
        if seen.contains(&r.typ()) {
            return Err(ProcessError::Invalid(format!(
                "process.rlimits: {:?} is listed twice",
                r.typ()
            )));
        }
        seen.push(r.typ());
    }
    Ok(())
}

/// Apply `process.rlimits`.
pub fn set_rlimits(list: &[PosixRlimit]) -> Result<()> {
    for r in list {
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: setrlimit with a valid struct.
        if unsafe { libc::setrlimit(rlimit_resource(r.typ()), &lim) } < 0 {
            return Err(sys(format!(
                "set rlimit {:?} to {}/{}",
                r.typ(),
                r.soft(),
                r.hard()
            )));
        }
    }
    Ok(())
}

/// Write `/proc/<pid>/oom_score_adj`.
pub fn set_oom_score_adj(pid: i32, v: i32) -> Result<()> {
    if !(-1000..=1000).contains(&v) {
        return Err(ProcessError::Invalid(format!(
            "process.oomScoreAdj {v} is not in -1000..=1000"
        )));
    }
    let p = format!("/proc/{pid}/oom_score_adj");
    nook_sys::fd::write_file(Path::new(&p), v.to_string().as_bytes()).map_err(|errno| {
        ProcessError::Sys {
            op: format!("set oom_score_adj to {v} (lowering it needs CAP_SYS_RESOURCE)"),
            errno,
        }
    })
}

/// Change to the container's user: supplementary groups, gid, uid.
/// `setgroups` may be denied in a rootless user namespace; that is fine when
/// no additional groups were asked for.
pub fn switch_user(uid: u32, gid: u32, groups: &[u32]) -> Result<()> {
    // SAFETY: setgroups with a valid slice.
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } < 0 {
        let e = Errno::last();
        if !(e == Errno::EPERM && groups.is_empty()) {
            return Err(ProcessError::Sys {
                op: format!("set additional groups {groups:?}"),
                errno: e,
            });
        }
    }
    // SAFETY: plain syscalls.
    if unsafe { libc::setresgid(gid, gid, gid) } < 0 {
        return Err(sys(format!("set gid to {gid}")));
    }
    // SAFETY: plain syscall.
    if unsafe { libc::setresuid(uid, uid, uid) } < 0 {
        return Err(sys(format!("set uid to {uid}")));
    }
    Ok(())
}

/// Set the umask.
pub fn set_umask(mask: u32) {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) };
}

/// The value of `PATH` in `env`, or the default of runc.
pub fn path_of(env: &[String]) -> String {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string()
}

fn executable(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: stat/access on a valid C string.
    unsafe {
        let mut st = std::mem::zeroed::<libc::stat>();
        libc::stat(c.as_ptr(), &mut st) == 0
            && st.st_mode & libc::S_IFMT == libc::S_IFREG
            && libc::access(c.as_ptr(), libc::X_OK) == 0
    }
}

/// Find the program `arg0` the way `execvp` would, in the container's view
/// (call after the root has changed).
pub fn find_program(arg0: &str, env: &[String]) -> Result<String> {
    if arg0.is_empty() {
        return Err(ProcessError::Invalid("process.args[0] is empty".into()));
    }
    if arg0.contains('/') {
        if executable(Path::new(arg0)) {
            return Ok(arg0.to_string());
        }
        let why = if Path::new(arg0).exists() {
            "is not an executable file"
        } else {
            "does not exist"
        };
        return Err(ProcessError::NotFound(format!(
            "exec: {arg0:?}: {why} in the container"
        )));
    }
    for dir in path_of(env).split(':') {
        let d = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(d).join(arg0);
        if executable(&cand) {
            return Ok(cand.to_string_lossy().into_owned());
        }
    }
    Err(ProcessError::NotFound(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    )))
}

/// Add `HOME` when the environment lacks it: the user's home directory from
/// the container's `/etc/passwd`, else `/` (as runc does).
pub fn ensure_home(env: &mut Vec<String>, uid: u32) {
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return;
    }
    let home = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
            })
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into());
    env.push(format!("HOME={home}"));
}

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Apply `process.scheduler` with `sched_setattr(2)`.
pub fn set_scheduler(s: &Scheduler) -> Result<()> {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => libc::SCHED_OTHER,
        LinuxSchedulerPolicy::SchedFifo => libc::SCHED_FIFO,
        LinuxSchedulerPolicy::SchedRr => libc::SCHED_RR,
        LinuxSchedulerPolicy::SchedBatch => libc::SCHED_BATCH,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => libc::SCHED_IDLE,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    } as u32;
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    };
    // SAFETY: sched_setattr on ourselves with a valid struct.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } < 0 {
        return Err(sys(format!("set scheduler {:?}", s.policy())));
    }
    Ok(())
}

/// Apply `process.ioPriority` with `ioprio_set(2)`.
pub fn set_io_priority(p: &LinuxIOPriority) -> Result<()> {
    let class: i64 = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&p.priority()) {
        return Err(ProcessError::Invalid(format!(
            "process.ioPriority.priority {} is not in 0..=7",
            p.priority()
        )));
    }
    let v = (class << 13) | p.priority();
    // SAFETY: ioprio_set(IOPRIO_WHO_PROCESS, self).
    if unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, v) } < 0 {
        return Err(sys("set I/O priority"));
    }
    Ok(())
}

/// Apply `linux.personality`.
pub fn set_personality(p: &LinuxPersonality) -> Result<()> {
    let d: libc::c_ulong = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        tracing::warn!("linux.personality.flags are not defined by the runtime-spec; ignored");
    }
    // SAFETY: plain syscall.
    if unsafe { libc::personality(d) } < 0 {
        return Err(sys("set personality"));
    }
    Ok(())
}

/// `linux.intelRdt` needs the resctrl file system; nook does not drive it.
pub fn check_intel_rdt(requested: bool) -> Result<()> {
    if !requested {
        return Ok(());
    }
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .is_ok_and(|m| m.lines().any(|l| l.contains(" - resctrl ")));
    if !mounted {
        return Err(ProcessError::Invalid(
            "linux.intelRdt is set, but this host has no resctrl file system mounted (Intel RDT unavailable)".into(),
        ));
    }
    Err(ProcessError::Invalid(
        "linux.intelRdt: resctrl is mounted, but nook does not manage RDT groups yet".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert!(sysctl_path("../../etc").is_err());
        assert!(sysctl_path("").is_err());
        assert!(sysctl_path("/etc").is_err());
    }

    #[test]
    fn rlimit_checks() {
        let r: Vec<PosixRlimit> =
            serde_json::from_str(r#"[{"type":"RLIMIT_NOFILE","hard":10,"soft":20}]"#).unwrap();
        assert!(validate_rlimits(&r).is_err());
        let r: Vec<PosixRlimit> =
            serde_json::from_str(r#"[{"type":"RLIMIT_NOFILE","hard":10,"soft":5},{"type":"RLIMIT_NOFILE","hard":10,"soft":5}]"#).unwrap();
        assert!(validate_rlimits(&r).is_err());
    }

    #[test]
    fn program_lookup() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(find_program("sh", &env).unwrap(), "/bin/sh");
        assert!(find_program("no-such-program-xyz", &env)
            .unwrap_err()
            .to_string()
            .contains("not found in $PATH"));
        assert!(find_program("/etc/passwd", &env)
            .unwrap_err()
            .to_string()
            .contains("not an executable"));
        assert!(find_program("/nope/x", &env)
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
        assert_eq!(
            path_of(&[]),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        );
    }

    #[test]
    fn home() {
        let mut env = vec![];
        ensure_home(&mut env, 0);
        assert_eq!(env, vec!["HOME=/root".to_string()]);
        let mut env = vec!["HOME=/x".to_string()];
        ensure_home(&mut env, 0);
        assert_eq!(env.len(), 1);
    }

    #[test]
    fn oom_range() {
        assert!(set_oom_score_adj(1, 5000).is_err());
    }
}
