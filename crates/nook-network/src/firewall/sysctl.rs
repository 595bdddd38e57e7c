//! The few sysctls the firewall's rules rely on, written in the calling thread's network
//! namespace: IPv4/IPv6 forwarding, and route_localnet on a bridge (127.0.0.1 mappings).
//! Private and small; the crate's netlink side owns the general sysctl helper.

use std::fs;
use std::io::ErrorKind;

use super::FirewallError;

/// Sets `/proc/sys/<key>` to `value` unless it already is.
fn set(key: &str, value: &str) -> Result<(), FirewallError> {
    let path = format!("/proc/sys/{key}");
    let err = |source| FirewallError::Sysctl {
        path: path.clone(),
        source,
    };
    match fs::read_to_string(&path) {
        Ok(cur) if cur.trim() == value => return Ok(()),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(err(e)),
        Err(_) => {}
    }
    fs::write(&path, value).map_err(err)
}

/// Whether `ifname` exists in the calling thread's network namespace (its sysctl directory).
pub(crate) fn check_interface(ifname: &str) -> Result<(), FirewallError> {
    let path = format!("/proc/sys/net/ipv4/conf/{ifname}");
    if std::path::Path::new(&path).is_dir() {
        Ok(())
    } else {
        Err(FirewallError::NoBridge(ifname.to_string()))
    }
}

/// IPv4 forwarding on.
pub(crate) fn ipv4_forwarding() -> Result<(), FirewallError> {
    set("net/ipv4/ip_forward", "1")
}

/// IPv6 forwarding on (all interfaces).
pub(crate) fn ipv6_forwarding() -> Result<(), FirewallError> {
    set("net/ipv6/conf/all/forwarding", "1")
}

/// Lets `ifname` route packets with 127.0.0.0/8 addresses: DNAT of the host's connections to
/// 127.0.0.1 towards a container on that bridge (the guard chain keeps it one-way).
pub(crate) fn route_localnet(ifname: &str) -> Result<(), FirewallError> {
    set(&format!("net/ipv4/conf/{ifname}/route_localnet"), "1")
}
