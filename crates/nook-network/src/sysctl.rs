//! sysctls of a network namespace: `/proc/sys/net/...` shows the namespace
//! of the thread that opens it, so values are read and written from a
//! short-lived thread inside the namespace.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::netns::{io_errno, Netns};

/// The file of `key` ("net.ipv4.ip_forward" or "net/ipv4/ip_forward");
/// only `net.` keys are per namespace.
fn key_path(key: &str) -> Result<PathBuf> {
    let rel = key.replace('.', "/");
    let ok = rel.starts_with("net/")
        && rel
            .split('/')
            .all(|p| !p.is_empty() && p != ".." && p.bytes().all(|b| b.is_ascii_graphic()));
    if !ok {
        return Err(Error::Invalid {
            what: "sysctl",
            value: key.to_string(),
            reason: "not a net.* key",
        });
    }
    Ok(PathBuf::from("/proc/sys").join(rel))
}

/// Writes `value` to the sysctl `key` (a `net.*` key) inside `ns`.
pub fn write(ns: &Netns, key: &str, value: &str) -> Result<()> {
    let path = key_path(key)?;
    ns.run("write sysctl", move || {
        std::fs::write(&path, value).map_err(|e| Error::Path {
            op: "write sysctl",
            path: path.clone(),
            errno: io_errno(&e),
        })
    })
}

/// Writes several `net.*` sysctls inside `ns` on one thread, in order;
/// keys whose file does not exist are skipped when `skip_missing` (e.g.
/// IPv6 ones where IPv6 is off).
pub fn write_all(ns: &Netns, values: &[(&str, &str)], skip_missing: bool) -> Result<()> {
    let paths = values
        .iter()
        .map(|&(k, v)| Ok((key_path(k)?, v)))
        .collect::<Result<Vec<_>>>()?;
    ns.run("write sysctls", move || write_paths(&paths, skip_missing))
}

/// Writes sysctl files in the calling thread's namespace.
pub(crate) fn write_paths(paths: &[(PathBuf, &str)], skip_missing: bool) -> Result<()> {
    for (path, value) in paths {
        match std::fs::write(path, value) {
            Ok(()) => {}
            Err(e) if skip_missing && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Path {
                    op: "write sysctl",
                    path: path.clone(),
                    errno: io_errno(&e),
                })
            }
        }
    }
    Ok(())
}

/// The file of a `net.*` sysctl key (checked).
pub(crate) fn path_of(key: &str) -> Result<PathBuf> {
    key_path(key)
}

/// Reads the sysctl `key` (a `net.*` key) inside `ns`, trimmed.
pub fn read(ns: &Netns, key: &str) -> Result<String> {
    let path = key_path(key)?;
    ns.run("read sysctl", move || {
        std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| Error::Path {
                op: "read sysctl",
                path: path.clone(),
                errno: io_errno(&e),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            key_path("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            key_path("net/ipv4/conf/nook0/route_localnet").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/nook0/route_localnet")
        );
        for bad in ["kernel.pid_max", "net..x", "net/../../etc", "net.a b", ""] {
            assert!(key_path(bad).is_err(), "{bad}");
        }
    }
}
