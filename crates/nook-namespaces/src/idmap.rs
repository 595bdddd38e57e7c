//! uid/gid maps of a new user namespace: root of the host writes them
//! directly; an ordinary user may only map its own id itself and needs the
//! setuid helpers `newuidmap`/`newgidmap` (from `/etc/subuid`, `/etc/subgid`)
//! for anything more.

use std::path::Path;
use std::process::Command;

use oci_spec::runtime::LinuxIdMapping;

use crate::{NsError, Result};

/// One line of a uid or gid map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// First id inside the namespace.
    pub container: u32,
    /// First id outside.
    pub host: u32,
    /// Number of ids.
    pub size: u32,
}

impl From<&LinuxIdMapping> for IdMap {
    fn from(m: &LinuxIdMapping) -> Self {
        IdMap {
            container: m.container_id(),
            host: m.host_id(),
            size: m.size(),
        }
    }
}

/// Render maps in the kernel's `uid_map` format.
pub fn format(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container, m.host, m.size))
        .collect()
}

/// Map an id inside the namespace to the host (`None`: unmapped).
pub fn to_host(maps: &[IdMap], id: u32) -> Option<u32> {
    maps.iter()
        .find(|m| id >= m.container && (id - m.container) < m.size)
        .map(|m| m.host + (id - m.container))
}

/// Reject maps the kernel would refuse, with a readable reason.
pub fn validate(what: &str, maps: &[IdMap]) -> Result<()> {
    if maps.len() > 340 {
        return Err(NsError::IdMap(format!("{what}: more than 340 lines")));
    }
    for m in maps {
        if m.size == 0 {
            return Err(NsError::IdMap(format!("{what}: a mapping has size 0")));
        }
        if m.container.checked_add(m.size).is_none() || m.host.checked_add(m.size).is_none() {
            return Err(NsError::IdMap(format!(
                "{what}: mapping {} {} {} overflows",
                m.container, m.host, m.size
            )));
        }
    }
    for (i, a) in maps.iter().enumerate() {
        for b in &maps[i + 1..] {
            if a.container < b.container + b.size && b.container < a.container + a.size {
                return Err(NsError::IdMap(format!("{what}: container ranges overlap")));
            }
        }
    }
    Ok(())
}

/// Write the uid and gid maps of `pid`'s user namespace.
pub fn write(pid: i32, uids: &[IdMap], gids: &[IdMap]) -> Result<()> {
    // SAFETY: trivial getters.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let own = |maps: &[IdMap], id: u32| maps.len() == 1 && maps[0].size == 1 && maps[0].host == id;
    let proc = format!("/proc/{pid}");
    if !gids.is_empty() {
        if euid == 0 {
            write_map(&proc, "gid_map", gids)?;
        } else if own(gids, egid) {
            // An unprivileged gid map is only accepted once setgroups is denied.
            nook_sys::fd::write_file(Path::new(&format!("{proc}/setgroups")), b"deny")
                .map_err(|e| NsError::IdMap(format!("write {proc}/setgroups: {e}")))?;
            write_map(&proc, "gid_map", gids)?;
        } else {
            helper("newgidmap", pid, gids)?;
        }
    }
    if !uids.is_empty() {
        if euid == 0 || own(uids, euid) {
            write_map(&proc, "uid_map", uids)?;
        } else {
            helper("newuidmap", pid, uids)?;
        }
    }
    Ok(())
}

fn write_map(proc: &str, file: &str, maps: &[IdMap]) -> Result<()> {
    let path = format!("{proc}/{file}");
    nook_sys::fd::write_file(Path::new(&path), format(maps).as_bytes())
        .map_err(|e| NsError::IdMap(format!("write {path}: {e}")))
}

fn helper(name: &str, pid: i32, maps: &[IdMap]) -> Result<()> {
    let mut cmd = Command::new(name);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container.to_string(),
            m.host.to_string(),
            m.size.to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| {
        NsError::IdMap(format!(
            "{name} is needed to map more than your own id into a user namespace: {e}"
        ))
    })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(NsError::IdMap(format!("{name} {pid}: {}", msg.trim())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_lookup() {
        let m = [
            IdMap {
                container: 0,
                host: 1000,
                size: 1,
            },
            IdMap {
                container: 1,
                host: 100000,
                size: 65536,
            },
        ];
        assert_eq!(format(&m), "0 1000 1\n1 100000 65536\n");
        assert_eq!(to_host(&m, 0), Some(1000));
        assert_eq!(to_host(&m, 5), Some(100004));
        assert_eq!(to_host(&m, 70000), None);
    }

    #[test]
    fn validation() {
        assert!(validate(
            "uid",
            &[IdMap {
                container: 0,
                host: 0,
                size: 0
            }]
        )
        .is_err());
        assert!(validate(
            "uid",
            &[
                IdMap {
                    container: 0,
                    host: 0,
                    size: 10
                },
                IdMap {
                    container: 5,
                    host: 100,
                    size: 10
                }
            ]
        )
        .is_err());
        assert!(validate(
            "uid",
            &[IdMap {
                container: u32::MAX,
                host: 0,
                size: 2
            }]
        )
        .is_err());
        assert!(validate(
            "uid",
            &[IdMap {
                container: 0,
                host: 1000,
                size: 65536
            }]
        )
        .is_ok());
    }
}
