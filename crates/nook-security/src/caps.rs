//! Linux capabilities of the container process.

use oci_spec::runtime::LinuxCapabilities;

use crate::{Result, SecurityError};
use nook_sys::Errno;

/// Capability names by number (0..=40, Linux 5.9+).
pub const NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Capability number of a name (`CAP_SYS_ADMIN`, case-insensitive; the
/// `CAP_` prefix is optional).
pub fn number(name: &str) -> Option<u32> {
    let up = name.trim().to_ascii_uppercase();
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// Highest capability the running kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// A set of capabilities as a bit mask.
pub type CapMask = u64;

/// The five sets of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapSets {
    /// Bounding set.
    pub bounding: CapMask,
    /// Effective set.
    pub effective: CapMask,
    /// Permitted set.
    pub permitted: CapMask,
    /// Inheritable set.
    pub inheritable: CapMask,
    /// Ambient set.
    pub ambient: CapMask,
}

/// Turn names into a mask; unknown names are collected into `unknown`.
pub fn mask_of<'a>(names: impl IntoIterator<Item = &'a str>, unknown: &mut Vec<String>) -> CapMask {
    let mut m = 0;
    for n in names {
        match number(n) {
            Some(i) => m |= 1 << i,
            None => unknown.push(n.to_string()),
        }
    }
    m
}

impl CapSets {
    /// From `process.capabilities`.  Unknown names are an error naming them;
    /// capabilities the running kernel does not have are dropped with a
    /// warning (as runc does), so a profile written for a newer kernel works.
    pub fn from_spec(c: &LinuxCapabilities) -> Result<CapSets> {
        let names = |set: &Option<oci_spec::runtime::Capabilities>| -> Vec<String> {
            set.iter().flatten().map(|c| c.to_string()).collect()
        };
        Self::from_names(
            &names(c.bounding()),
            &names(c.effective()),
            &names(c.permitted()),
            &names(c.inheritable()),
            &names(c.ambient()),
        )
    }

    /// From name lists (bounding, effective, permitted, inheritable, ambient).
    pub fn from_names(
        b: &[String],
        e: &[String],
        p: &[String],
        i: &[String],
        a: &[String],
    ) -> Result<CapSets> {
        let mut unknown = Vec::new();
        let mut s = CapSets {
            bounding: mask_of(b.iter().map(String::as_str), &mut unknown),
            effective: mask_of(e.iter().map(String::as_str), &mut unknown),
            permitted: mask_of(p.iter().map(String::as_str), &mut unknown),
            inheritable: mask_of(i.iter().map(String::as_str), &mut unknown),
            ambient: mask_of(a.iter().map(String::as_str), &mut unknown),
        };
        if !unknown.is_empty() {
            unknown.sort();
            unknown.dedup();
            return Err(SecurityError::UnknownCapability(unknown.join(", ")));
        }
        let known: CapMask = (1u64 << (last_cap() + 1)) - 1;
        let all = s.bounding | s.effective | s.permitted | s.inheritable | s.ambient;
        if all & !known != 0 {
            tracing::warn!(
                "capabilities not known to this kernel are ignored: {}",
                names_of(all & !known).join(", ")
            );
        }
        s.bounding &= known;
        s.effective &= known;
        s.permitted &= known;
        s.inheritable &= known;
        s.ambient &= known;
        Ok(s)
    }
}

/// Names of the bits in a mask.
pub fn names_of(m: CapMask) -> Vec<&'static str> {
    (0..64)
        .filter(|i| m & (1 << i) != 0)
        .map(|i| NAMES.get(i).copied().unwrap_or("CAP_UNKNOWN"))
        .collect()
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

fn err(op: &str) -> SecurityError {
    SecurityError::Caps {
        op: op.into(),
        errno: Errno::last(),
    }
}

/// Drop every capability outside `bounding` from the bounding set (needs
/// `CAP_SETPCAP`; done before the uid changes).
pub fn drop_bounding(bounding: CapMask) -> Result<()> {
    for i in 0..=last_cap() {
        if bounding & (1 << i) == 0 {
            // SAFETY: plain prctl.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, i as libc::c_ulong, 0, 0, 0) } < 0 {
                let e = Errno::last();
                // Already outside the bounding set of this host.
                if e == Errno::EINVAL {
                    continue;
                }
                return Err(SecurityError::Caps {
                    op: format!(
                        "drop {} from the bounding set",
                        NAMES.get(i as usize).unwrap_or(&"?")
                    ),
                    errno: e,
                });
            }
        }
    }
    Ok(())
}

/// Read the calling thread's effective, permitted and inheritable sets.
pub fn current() -> Result<(CapMask, CapMask, CapMask)> {
    let mut hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget with a v3 header and two data words.
    if unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) } < 0 {
        return Err(err("capget"));
    }
    let j = |lo: u32, hi: u32| (lo as u64) | ((hi as u64) << 32);
    Ok((
        j(data[0].effective, data[1].effective),
        j(data[0].permitted, data[1].permitted),
        j(data[0].inheritable, data[1].inheritable),
    ))
}

/// Set effective, permitted and inheritable sets, then the ambient set.
/// Capabilities outside the host's bounding set are left out rather than
/// failing (the kernel would refuse them in permitted).
pub fn apply(s: &CapSets) -> Result<()> {
    let (_, cur_perm, cur_inh) = current()?;
    // Inheritable capabilities can only come from what the process holds:
    // name the ones this host does not grant instead of a bare EPERM.
    let missing = s.inheritable & !(cur_perm | cur_inh);
    if missing != 0 {
        return Err(SecurityError::Caps {
            op: format!(
                "inheritable capabilities {} are outside this host's bounding set",
                names_of(missing).join(", ")
            ),
            errno: Errno::EPERM,
        });
    }
    let perm = s.permitted & cur_perm;
    let eff = s.effective & perm;
    let inh = s.inheritable;
    let mut hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: eff as u32,
            permitted: perm as u32,
            inheritable: inh as u32,
        },
        CapData {
            effective: (eff >> 32) as u32,
            permitted: (perm >> 32) as u32,
            inheritable: (inh >> 32) as u32,
        },
    ];
    // SAFETY: capset with a v3 header and two data words.
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) } < 0 {
        // Inheritable bits outside the bounding set need CAP_SETPCAP; retry
        // without the ones that cannot be granted.
        return Err(err("set capabilities (capset)"));
    }
    // SAFETY: plain prctl.
    if unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    } < 0
    {
        let e = Errno::last();
        if e != Errno::EINVAL {
            return Err(SecurityError::Caps {
                op: "clear ambient capabilities".into(),
                errno: e,
            });
        }
    }
    for i in 0..64u32 {
        if s.ambient & (1 << i) == 0 {
            continue;
        }
        // Ambient raise is only allowed for capabilities both permitted and
        // inheritable; others are skipped, as the kernel would refuse them.
        if perm & inh & (1 << i) == 0 {
            tracing::debug!(
                "ambient capability {} is not both permitted and inheritable; not raised",
                NAMES.get(i as usize).unwrap_or(&"?")
            );
            continue;
        }
        // SAFETY: plain prctl.
        if unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                i as libc::c_ulong,
                0,
                0,
            )
        } < 0
        {
            return Err(SecurityError::Caps {
                op: format!("raise ambient {}", NAMES.get(i as usize).unwrap_or(&"?")),
                errno: Errno::last(),
            });
        }
    }
    Ok(())
}

/// Keep permitted capabilities across the uid change (`PR_SET_KEEPCAPS`).
pub fn keep_caps(on: bool) -> Result<()> {
    // SAFETY: plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) } < 0 {
        return Err(err("set keep-caps"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers() {
        assert_eq!(number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number("sys_admin"), Some(21));
        assert_eq!(number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number("CAP_NOPE"), None);
        assert_eq!(NAMES.len(), 41);
    }

    #[test]
    fn unknown_names_are_named() {
        let e = CapSets::from_names(
            &["CAP_KILL".into(), "CAP_FOO".into()],
            &[],
            &["CAP_BAR".into()],
            &[],
            &[],
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "unknown capabilities: CAP_BAR, CAP_FOO");
    }

    #[test]
    fn masks() {
        let s = CapSets::from_names(&["CAP_KILL".into(), "CAP_CHOWN".into()], &[], &[], &[], &[])
            .unwrap();
        assert_eq!(s.bounding, (1 << 5) | 1);
        assert_eq!(names_of(s.bounding), vec!["CAP_CHOWN", "CAP_KILL"]);
    }
}
