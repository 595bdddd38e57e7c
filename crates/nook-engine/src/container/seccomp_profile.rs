//! seccomp profiles: nook's default profile (written here as data, with
//! the behaviour of Docker's and Podman's default: every syscall fails with
//! `EPERM` unless allowed; an allow-list of the syscalls ordinary programs
//! use; groups unlocked by a capability in the bounding set, e.g.
//! `CAP_SYS_ADMIN` for mount/unshare/setns; `personality` only with its
//! harmless arguments; `clone` without namespace flags unless
//! `CAP_SYS_ADMIN`; `clone3` failing with `ENOSYS` so that libc falls back
//! to `clone`), and profiles in Docker's file format (`--security-opt
//! seccomp=FILE`): both resolved, for a container's capabilities, into the
//! OCI `linux.seccomp` section.

use serde::Deserialize;
use serde_json::{json, Value};

/// `CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
/// CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET`.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;
/// `AF_VSOCK` (host/guest sockets: not for containers).
const AF_VSOCK: u64 = 40;

/// An argument condition (`linux.seccomp.syscalls[].args[]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    /// The argument's index (0..=5).
    pub index: u32,
    /// The value (the mask for `SCMP_CMP_MASKED_EQ`).
    pub value: u64,
    /// The masked value for `SCMP_CMP_MASKED_EQ`.
    #[serde(default)]
    pub value_two: u64,
    /// `SCMP_CMP_EQ`, `SCMP_CMP_NE`, `SCMP_CMP_MASKED_EQ`, ...
    pub op: String,
}

/// When a rule applies (`includes`) or does not (`excludes`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Capabilities (all needed for `includes`, any one for `excludes`).
    #[serde(default)]
    pub caps: Vec<String>,
    /// Architectures (Docker's names: amd64, arm64, ...).
    #[serde(default)]
    pub arches: Vec<String>,
    /// The lowest kernel the rule is for (`4.8`).
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// One rule.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// The syscalls.
    #[serde(default)]
    pub names: Vec<String>,
    /// One syscall (the old spelling of `names`).
    #[serde(default)]
    pub name: Option<String>,
    /// `SCMP_ACT_ALLOW`, `SCMP_ACT_ERRNO`, ...
    pub action: String,
    /// The errno of `SCMP_ACT_ERRNO`.
    #[serde(default)]
    pub errno_ret: Option<u32>,
    /// Argument conditions (ANDed).
    #[serde(default)]
    pub args: Vec<Arg>,
    /// When the rule applies.
    #[serde(default)]
    pub includes: Filter,
    /// When it does not.
    #[serde(default)]
    pub excludes: Filter,
}

/// A profile in Docker's format.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// What a syscall no rule names gets.
    pub default_action: String,
    /// The errno of a `SCMP_ACT_ERRNO` default.
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// OCI architectures (`SCMP_ARCH_X86_64`).
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Docker's per-architecture lists: the native one and its sub-arches.
    #[serde(default)]
    pub arch_map: Vec<ArchMap>,
    /// `SECCOMP_FILTER_FLAG_*` names.
    #[serde(default)]
    pub flags: Vec<String>,
    /// The rules.
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

/// Docker's `archMap` entry.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    /// The native architecture (`SCMP_ARCH_X86_64`).
    pub architecture: String,
    /// Those its programs may also use.
    #[serde(default)]
    pub sub_architectures: Vec<String>,
}

/// The syscalls any container may make.
const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Groups a capability in the bounding set unlocks.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// The `personality(2)` arguments allowed: `PER_LINUX`, `PER_LINUX32`,
/// `UNAME26`, `UNAME26|PER_LINUX32`, and the query `0xffffffff`.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

fn rule(names: &[&str], action: &str) -> Rule {
    Rule {
        names: names.iter().map(|s| s.to_string()).collect(),
        name: None,
        action: action.to_string(),
        errno_ret: None,
        args: Vec::new(),
        includes: Filter::default(),
        excludes: Filter::default(),
    }
}

fn caps(names: &[&str]) -> Filter {
    Filter {
        caps: names.iter().map(|s| s.to_string()).collect(),
        ..Filter::default()
    }
}

fn arg(index: u32, value: u64, value_two: u64, op: &str) -> Arg {
    Arg {
        index,
        value,
        value_two,
        op: op.to_string(),
    }
}

/// nook's default profile.
pub fn default_profile() -> Profile {
    const ALLOW: &str = "SCMP_ACT_ALLOW";
    let mut syscalls = vec![rule(ALLOWED, ALLOW)];
    for p in PERSONALITIES {
        let mut r = rule(&["personality"], ALLOW);
        r.args = vec![arg(0, *p, 0, "SCMP_CMP_EQ")];
        syscalls.push(r);
    }
    // ptrace of one's own children: fine on kernels whose ptrace cannot
    // bypass seccomp (4.8 and later)
    let mut r = rule(&["process_vm_readv", "process_vm_writev", "ptrace"], ALLOW);
    r.includes.min_kernel = Some("4.8".into());
    syscalls.push(r);
    let mut r = rule(&["socket"], ALLOW);
    r.args = vec![arg(0, AF_VSOCK, 0, "SCMP_CMP_NE")];
    syscalls.push(r);
    let mut r = rule(&["arch_prctl", "modify_ldt"], ALLOW);
    r.includes.arches = vec!["amd64".into(), "x32".into(), "x86".into()];
    syscalls.push(r);
    let mut r = rule(
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
        ALLOW,
    );
    r.includes.arches = vec!["arm".into(), "arm64".into()];
    syscalls.push(r);
    for (cap, names) in BY_CAPABILITY {
        let mut r = rule(names, ALLOW);
        r.includes = caps(&[cap]);
        syscalls.push(r);
    }
    // without CAP_SYS_ADMIN: clone without namespace flags, and clone3
    // (whose flags are out of seccomp's reach) fails with ENOSYS
    let mut r = rule(&["clone"], ALLOW);
    r.args = vec![arg(0, CLONE_NAMESPACE_FLAGS, 0, "SCMP_CMP_MASKED_EQ")];
    r.excludes = caps(&["CAP_SYS_ADMIN"]);
    syscalls.push(r);
    let mut r = rule(&["clone3"], "SCMP_ACT_ERRNO");
    r.errno_ret = Some(libc::ENOSYS as u32);
    r.excludes = caps(&["CAP_SYS_ADMIN"]);
    syscalls.push(r);
    Profile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(libc::EPERM as u32),
        architectures: Vec::new(),
        arch_map: arch_map(),
        flags: Vec::new(),
        syscalls,
    }
}

/// Docker's name of this machine's architecture (`amd64`, `arm64`, ...).
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

fn arch_map() -> Vec<ArchMap> {
    let m = |a: &str, subs: &[&str]| ArchMap {
        architecture: a.into(),
        sub_architectures: subs.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        m("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
        m("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"]),
        m("SCMP_ARCH_PPC64LE", &["SCMP_ARCH_PPC64", "SCMP_ARCH_PPC"]),
        m("SCMP_ARCH_S390X", &["SCMP_ARCH_S390"]),
        m("SCMP_ARCH_RISCV64", &[]),
    ]
}

/// The OCI architecture name of Docker's `arch`.
fn oci_arch(arch: &str) -> &'static str {
    match arch {
        "amd64" => "SCMP_ARCH_X86_64",
        "arm64" => "SCMP_ARCH_AARCH64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "arm" => "SCMP_ARCH_ARM",
        "x86" => "SCMP_ARCH_X86",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// `major.minor` of a kernel release (`6.1.0-18-amd64` → (6, 1)).
pub fn kernel_version(release: &str) -> (u32, u32) {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next())
}

/// This machine's kernel version.
pub fn running_kernel() -> (u32, u32) {
    nix::sys::utsname::uname()
        .map(|u| kernel_version(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

/// Where a profile is resolved: the container's bounding capabilities,
/// Docker's name of the architecture, the kernel version.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    /// Capability names (`CAP_SYS_ADMIN`).
    pub caps: &'a [String],
    /// `amd64`, `arm64`, ...
    pub arch: &'a str,
    /// (major, minor).
    pub kernel: (u32, u32),
}

impl Rule {
    fn applies(&self, t: &Target<'_>) -> bool {
        let has = |c: &String| t.caps.iter().any(|x| x == c);
        let i = &self.includes;
        let e = &self.excludes;
        i.caps.iter().all(has)
            && !e.caps.iter().any(has)
            && (i.arches.is_empty() || i.arches.iter().any(|a| a == t.arch))
            && !e.arches.iter().any(|a| a == t.arch)
            && i.min_kernel
                .as_deref()
                .is_none_or(|k| t.kernel >= kernel_version(k))
            && e.min_kernel
                .as_deref()
                .is_none_or(|k| t.kernel < kernel_version(k))
    }
}

impl Profile {
    /// The OCI `linux.seccomp` section of this profile for `t`.
    pub fn to_oci(&self, t: &Target<'_>) -> Value {
        let mut arches: Vec<String> = self.architectures.clone();
        let native = oci_arch(t.arch);
        for m in self.arch_map.iter().filter(|m| m.architecture == native) {
            arches.push(m.architecture.clone());
            arches.extend(m.sub_architectures.iter().cloned());
        }
        let syscalls: Vec<Value> = self
            .syscalls
            .iter()
            .filter(|r| r.applies(t))
            .map(|r| {
                let mut names = r.names.clone();
                names.extend(r.name.clone());
                let mut v = json!({"names": names, "action": r.action});
                if let Some(e) = r.errno_ret {
                    v["errnoRet"] = json!(e);
                }
                if !r.args.is_empty() {
                    v["args"] = r
                        .args
                        .iter()
                        .map(|a| json!({"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}))
                        .collect();
                }
                v
            })
            .collect();
        let mut v = json!({"defaultAction": self.default_action, "syscalls": syscalls});
        if !arches.is_empty() {
            v["architectures"] = json!(arches);
        }
        if let Some(e) = self.default_errno_ret {
            v["defaultErrnoRet"] = json!(e);
        }
        if !self.flags.is_empty() {
            v["flags"] = json!(self.flags);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[&str]) -> Vec<String> {
        caps.iter().map(|c| c.to_string()).collect()
    }

    fn names_of(v: &Value, action: &str) -> Vec<String> {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == action)
            .flat_map(|r| r["names"].as_array().unwrap().clone())
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    }

    fn resolve(caps: &[&str]) -> Value {
        let caps = target(caps);
        let t = Target {
            caps: &caps,
            arch: "amd64",
            kernel: (6, 1),
        };
        default_profile().to_oci(&t)
    }

    #[test]
    fn default_denies_with_eperm_and_allows_the_usual() {
        let v = resolve(&["CAP_CHOWN"]);
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let allowed = names_of(&v, "SCMP_ACT_ALLOW");
        for s in ["read", "execve", "clone", "arch_prctl", "ptrace", "socket"] {
            assert!(allowed.iter().any(|n| n == s), "{s} allowed");
        }
        for s in [
            "mount",
            "unshare",
            "setns",
            "keyctl",
            "add_key",
            "reboot",
            "chroot",
            "io_uring_setup",
        ] {
            assert!(!allowed.iter().any(|n| n == s), "{s} denied");
        }
        assert_eq!(names_of(&v, "SCMP_ACT_ERRNO"), vec!["clone3"]);
        let clone = v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["names"] == json!(["clone"]))
            .unwrap();
        assert_eq!(clone["args"][0]["value"], json!(0x7E02_0000u64));
        assert_eq!(clone["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        let personalities = v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"] == json!(["personality"]))
            .count();
        assert_eq!(personalities, 5);
    }

    #[test]
    fn capabilities_unlock_their_groups() {
        let v = resolve(&["CAP_SYS_ADMIN", "CAP_SYS_CHROOT"]);
        let allowed = names_of(&v, "SCMP_ACT_ALLOW");
        for s in ["mount", "unshare", "setns", "clone3", "chroot"] {
            assert!(allowed.iter().any(|n| n == s), "{s} allowed");
        }
        // no ENOSYS clone3, no restricted clone
        assert!(names_of(&v, "SCMP_ACT_ERRNO").is_empty());
        assert!(!v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["names"] == json!(["clone"]) && r.get("args").is_some()));
    }

    #[test]
    fn old_kernels_and_other_arches_lose_their_rules() {
        let caps = target(&[]);
        let t = Target {
            caps: &caps,
            arch: "arm64",
            kernel: (4, 4),
        };
        let v = default_profile().to_oci(&t);
        let allowed = names_of(&v, "SCMP_ACT_ALLOW");
        assert!(!allowed.iter().any(|n| n == "ptrace"));
        assert!(!allowed.iter().any(|n| n == "arch_prctl"));
        assert!(allowed.iter().any(|n| n == "set_tls"));
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        );
        assert_eq!(kernel_version("6.1.0-18-amd64"), (6, 1));
        assert_eq!(kernel_version("4.8"), (4, 8));
    }

    #[test]
    fn docker_format_files_parse_and_resolve() {
        let text = r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                         {"name": "reboot", "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_BOOT"]}}]}"#;
        let p: Profile = serde_json::from_str(text).unwrap();
        let caps = target(&[]);
        let t = Target {
            caps: &caps,
            arch: "amd64",
            kernel: (6, 1),
        };
        let v = p.to_oci(&t);
        assert_eq!(
            v,
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]})
        );
        let spec: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(v).unwrap();
        assert_eq!(spec.syscalls().as_ref().unwrap().len(), 1);
        let oci: oci_spec::runtime::LinuxSeccomp =
            serde_json::from_value(resolve(&["CAP_SYS_ADMIN"])).unwrap();
        assert!(oci.syscalls().as_ref().unwrap().len() > 5);
    }

    #[test]
    fn the_default_profile_compiles_with_and_without_sys_admin() {
        for caps in [&["CAP_CHOWN"][..], &["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]] {
            let oci: oci_spec::runtime::LinuxSeccomp =
                serde_json::from_value(resolve(caps)).unwrap();
            let c = nook_security::seccomp::compile(&oci).unwrap();
            assert!(c.bpf.len() > 100 * 8, "{} instructions", c.bpf.len() / 8);
        }
    }
}
