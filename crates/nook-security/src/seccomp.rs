//! seccomp filters from `linux.seccomp`.
//!
//! The profile is compiled to classic BPF with libseccomp in the runtime
//! process (so that a hostile container never influences compilation), the
//! result is cached on disk by a hash of the profile, and the container's
//! init loads the bytes with `seccomp(2)` right before it execs.

use std::hash::{Hash, Hasher};
use std::io::{Read, Seek};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nook_sys::Errno;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use serde::{Deserialize, Serialize};

use crate::{Result, SecurityError};

const SECCOMP_SET_MODE_FILTER: u32 = 1;
const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 2;
const FLAG_SPEC_ALLOW: u32 = 4;
const FLAG_NEW_LISTENER: u32 = 8;
const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// A compiled filter, ready to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compiled {
    /// `struct sock_filter` array.
    pub bpf: Vec<u8>,
    /// `SECCOMP_FILTER_FLAG_*` for `seccomp(2)`.
    pub flags: u32,
    /// The filter has `SCMP_ACT_NOTIFY` rules (a listener fd is created).
    pub notify: bool,
}

fn err(msg: impl Into<String>) -> SecurityError {
    SecurityError::Seccomp(msg.into())
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> ScmpAction {
    match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32)
        }
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16)
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    }
}

fn arch(a: Arch) -> Option<ScmpArch> {
    Some(match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    })
}

fn op(o: LinuxSeccompOperator, two: u64) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(two),
    }
}

/// Does the profile use `SCMP_ACT_NOTIFY`?
pub fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.syscalls()
        .iter()
        .flatten()
        .any(|r| r.action() == LinuxSeccompAction::ScmpActNotify)
}

/// Compile a profile to BPF with libseccomp.  Unknown syscall names are
/// skipped with a warning, as runc does, so profiles written for other
/// kernels and libseccomp versions load unchanged.
pub fn compile(s: &LinuxSeccomp) -> Result<Compiled> {
    let default = action(s.default_action(), s.default_errno_ret());
    if default == ScmpAction::Notify {
        return Err(err("defaultAction cannot be SCMP_ACT_NOTIFY"));
    }
    let mut ctx =
        ScmpFilterContext::new(default).map_err(|e| err(format!("create filter: {e}")))?;
    for a in s.architectures().iter().flatten() {
        let Some(sa) = arch(*a) else { continue };
        if ctx.is_arch_present(sa).unwrap_or(false) {
            continue;
        }
        ctx.add_arch(sa)
            .map_err(|e| err(format!("add architecture {a:?}: {e}")))?;
    }
    let mut flags = 0;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
        };
    }
    let notify = uses_notify(s);
    if notify && s.listener_path().is_none() {
        return Err(err(
            "SCMP_ACT_NOTIFY is used but linux.seccomp.listenerPath is not set",
        ));
    }
    let mut unknown = Vec::new();
    for rule in s.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret());
        if act == default {
            continue;
        }
        // Comparisons on the same argument cannot be ANDed in one libseccomp
        // rule; each becomes a rule of its own (OR), as runc does.
        let args: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| {
                if a.index() > 5 {
                    return Err(err(format!(
                        "syscall argument index {} is above 5",
                        a.index()
                    )));
                }
                let (o, datum) = match a.op() {
                    LinuxSeccompOperator::ScmpCmpMaskedEq => {
                        (op(a.op(), a.value()), a.value_two().unwrap_or(0))
                    }
                    _ => (op(a.op(), 0), a.value()),
                };
                Ok(ScmpArgCompare::new(a.index() as u32, o, datum))
            })
            .collect::<Result<_>>()?;
        let mut per_index = [0usize; 6];
        for a in rule.args().iter().flatten() {
            per_index[a.index().min(5)] += 1;
        }
        let split = per_index.iter().any(|n| *n > 1);
        for name in rule.names() {
            let sys = match ScmpSyscall::from_name(name) {
                Ok(s) => s,
                Err(_) => {
                    unknown.push(name.clone());
                    continue;
                }
            };
            let r = if args.is_empty() {
                ctx.add_rule(act, sys)
            } else if split {
                args.iter()
                    .try_for_each(|a| ctx.add_rule_conditional(act, sys, &[*a]).map(|_| ()))
                    .map(|_| &mut ctx)
            } else {
                ctx.add_rule_conditional(act, sys, &args)
            };
            r.map_err(|e| err(format!("add rule for {name}: {e}")))?;
        }
    }
    if !unknown.is_empty() {
        tracing::warn!(
            "seccomp: syscalls unknown to this libseccomp are ignored: {}",
            unknown.join(" ")
        );
    }
    let mut mem = memfd("nook-seccomp").map_err(|e| err(format!("memfd: {e}")))?;
    ctx.export_bpf(&mem)
        .map_err(|e| err(format!("export BPF: {e}")))?;
    let mut bpf = Vec::new();
    mem.rewind().map_err(|e| err(e.to_string()))?;
    mem.read_to_end(&mut bpf).map_err(|e| err(e.to_string()))?;
    if bpf.is_empty() || bpf.len() % 8 != 0 {
        return Err(err("libseccomp produced an empty or malformed program"));
    }
    Ok(Compiled { bpf, flags, notify })
}

fn memfd(name: &str) -> std::result::Result<std::fs::File, Errno> {
    let n = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: memfd_create with a valid name.
    let fd = unsafe { libc::memfd_create(n.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// A stable key for a profile: same profile, same libseccomp, same binary →
/// same compiled program.
pub fn cache_key(s: &LinuxSeccomp) -> String {
    let json = serde_json::to_vec(s).unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    json.hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    let v = libseccomp::ScmpVersion::current()
        .map(|v| (v.major, v.minor, v.micro))
        .unwrap_or((0, 0, 0));
    v.hash(&mut h);
    format!("{:016x}-{}", h.finish(), json.len())
}

/// [`compile`], through a cache directory of compiled programs.  A cache
/// that cannot be read or written only costs a compilation.
pub fn compile_cached(s: &LinuxSeccomp, cache_dir: Option<&Path>) -> Result<Compiled> {
    let Some(dir) = cache_dir else {
        return compile(s);
    };
    let file = dir.join(cache_key(s));
    if let Ok(bytes) = std::fs::read(&file) {
        if let Ok(c) = serde_json::from_slice::<Compiled>(&bytes) {
            return Ok(c);
        }
    }
    let c = compile(s)?;
    if std::fs::create_dir_all(dir).is_ok() {
        let tmp = dir.join(format!(".{}.{}", cache_key(s), std::process::id()));
        if std::fs::write(&tmp, serde_json::to_vec(&c).unwrap_or_default()).is_ok() {
            let _ = std::fs::rename(&tmp, &file);
        }
    }
    Ok(c)
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const u8,
}

/// Load a compiled filter into the calling thread.  Returns the notify
/// listener when the filter has `SCMP_ACT_NOTIFY` rules.
pub fn load(c: &Compiled) -> Result<Option<OwnedFd>> {
    let prog = SockFprog {
        len: (c.bpf.len() / 8) as u16,
        filter: c.bpf.as_ptr(),
    };
    let mut flags = c.flags;
    if c.notify {
        flags |= FLAG_NEW_LISTENER;
    }
    // SAFETY: seccomp(2) with a valid program.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const SockFprog,
        )
    };
    if r < 0 {
        return Err(err(format!("load filter: {}", Errno::last())));
    }
    if c.notify {
        // SAFETY: with NEW_LISTENER the return value is a new fd.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as RawFd) }));
    }
    Ok(None)
}

/// Hand the notify fd to the profile's `listenerPath` (nothing to do without
/// one), with the container process state the runtime-spec defines
/// (`ociVersion`, `fds`, `pid`, `metadata` = `listenerMetadata`, `state`).
pub fn send_to_listener(
    profile: &LinuxSeccomp,
    fd: &OwnedFd,
    pid: i32,
    state: &serde_json::Value,
) -> Result<()> {
    let Some(path) = profile.listener_path() else {
        return Ok(());
    };
    let msg = serde_json::json!({
        "ociVersion": "1.2.0",
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": profile.listener_metadata().as_deref().unwrap_or(""),
        "state": state,
    });
    let sock = UnixStream::connect(path)
        .map_err(|e| err(format!("connect to listener {}: {e}", path.display())))?;
    let data = serde_json::to_vec(&msg).unwrap_or_default();
    nook_sys::fd::send_with_fds(sock.as_fd(), &data, &[fd.as_raw_fd()])
        .map_err(|e| err(format!("send the notify fd to {}: {e}", path.display())))
}

/// The version of the libseccomp nook is linked with (`2.5.4`), or empty.
pub fn libseccomp_version() -> String {
    libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(j: &str) -> LinuxSeccomp {
        serde_json::from_str(j).unwrap()
    }

    #[test]
    fn compiles_and_skips_unknown() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "syscalls":[{"names":["mkdirat","no_such_syscall_xyz"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
                            {"names":["personality"],"action":"SCMP_ACT_ERRNO",
                             "args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"},{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let c = compile(&p).unwrap();
        assert!(c.bpf.len() > 8 * 10);
        assert!(!c.notify);
    }

    #[test]
    fn notify_needs_listener() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(compile(&p).is_err());
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(compile(&p).unwrap().notify);
    }

    #[test]
    fn cache_roundtrip() {
        let dir = std::env::temp_dir().join(format!("nook-seccomp-cache-{}", std::process::id()));
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let a = compile_cached(&p, Some(&dir)).unwrap();
        let b = compile_cached(&p, Some(&dir)).unwrap();
        assert_eq!(a, b);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn filter_takes_effect_in_a_child() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":77}]}"#,
        );
        let c = compile(&p).unwrap();
        // SAFETY: fork in a test; the child only makes syscalls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            if load(&c).is_err() {
                unsafe { libc::_exit(1) };
            }
            // SAFETY: a plain syscall without arguments.
            let r = unsafe { libc::syscall(libc::SYS_getppid) };
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            // SAFETY: the forked test child leaves without running the parent's destructors.
            unsafe { libc::_exit(if r == -1 && e == 77 { 0 } else { 2 }) };
        }
        let mut st = 0;
        // SAFETY: waits for our own child; `st` is a valid out-pointer.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
            "status {st:#x}"
        );
    }
}
