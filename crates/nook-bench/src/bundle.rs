//! What every runtime runs: one shared read-only busybox rootfs, and one
//! tiny bundle (config.json only) per container with `runc spec`'s defaults.

use crate::syscalls::ALLOWED;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

/// Where busybox-static installs its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Applets the scenarios call.
const APPLETS: &[&str] = &["true", "sleep", "sh"];

/// Makes the shared rootfs at `dir` from the host's static busybox.
pub fn make_rootfs(dir: &Path) -> Result<()> {
    let bb = Path::new(BUSYBOX);
    let elf = fs::read(bb).with_context(|| format!("{BUSYBOX} (install busybox-static)"))?;
    if has_interpreter(&elf) {
        bail!("{BUSYBOX} is dynamically linked: install busybox-static");
    }
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
        fs::create_dir_all(dir.join(d))?;
    }
    fs::write(dir.join("bin/busybox"), &elf)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o755))?;
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(a))?;
    }
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")?;
    Ok(())
}

/// Whether an ELF image asks for a dynamic loader (a PT_INTERP header).
pub fn has_interpreter(elf: &[u8]) -> bool {
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        o + 4 <= elf.len() && u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == 3
    })
}

/// runc's default capabilities.
const CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The seccomp section of the seccomp scenario: the 302 syscalls of
/// [`ALLOWED`] allowed, everything else `EPERM`.
pub fn seccomp_profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ALLOWED, "action": "SCMP_ACT_ALLOW"}]
    })
}

/// The config.json of one container: `runc spec`'s defaults with the given
/// process `args`, the shared read-only `rootfs`, an absolute `cgroups_path`
/// and, when `seccomp`, [`seccomp_profile`].
pub fn config(rootfs: &Path, args: &[&str], cgroups_path: &str, seccomp: bool) -> Value {
    let mut c = json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS, "ambient": CAPS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": rootfs, "readonly": true},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "cgroupsPath": cgroups_path,
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    if seccomp {
        c["linux"]["seccomp"] = seccomp_profile();
    }
    c
}

/// Writes the bundle of container `id` under `bundles` and returns its dir.
pub fn write_bundle(bundles: &Path, id: &str, config: &Value) -> Result<PathBuf> {
    let dir = bundles.join(id);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("config.json"), serde_json::to_vec(config)?)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_has_302_syscalls_and_no_duplicates() {
        let mut v = ALLOWED.to_vec();
        assert_eq!(v.len(), 302);
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 302);
        for must in ["execve", "read", "write", "exit_group", "clone", "wait4"] {
            assert!(ALLOWED.contains(&must), "{must}");
        }
        for never in ["reboot", "kexec_load", "mount", "ptrace"] {
            assert!(!ALLOWED.contains(&never), "{never}");
        }
    }

    #[test]
    fn config_shape() {
        let c = config(Path::new("/r"), &["/bin/true"], "/x/y", false);
        assert_eq!(c["root"]["readonly"], true);
        assert_eq!(c["root"]["path"], "/r");
        assert_eq!(c["linux"]["cgroupsPath"], "/x/y");
        assert!(c["linux"].get("seccomp").is_none());
        let c = config(Path::new("/r"), &["/bin/true"], "/x/y", true);
        assert_eq!(
            c["linux"]["seccomp"]["syscalls"][0]["names"]
                .as_array()
                .unwrap()
                .len(),
            302
        );
    }

    #[test]
    fn static_and_dynamic_elves() {
        // a 64-bit ELF header with one program header at 64, of type `t`
        let elf = |t: u32| {
            let mut e = vec![0u8; 64 + 56];
            e[..5].copy_from_slice(b"\x7fELF\x02");
            e[32..40].copy_from_slice(&64u64.to_le_bytes());
            e[54..56].copy_from_slice(&56u16.to_le_bytes());
            e[56..58].copy_from_slice(&1u16.to_le_bytes());
            e[64..68].copy_from_slice(&t.to_le_bytes());
            e
        };
        assert!(has_interpreter(&elf(3)));
        assert!(!has_interpreter(&elf(1)));
        assert!(!has_interpreter(b"#!/bin/sh\n"));
    }
}
