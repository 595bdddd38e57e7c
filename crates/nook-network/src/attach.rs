//! The per-network and per-container steps: a network's bridge with its
//! gateway addresses; attaching a container's namespace to a bridge (veth
//! pair, the peer born in the container under its final name with its
//! addresses, default routes and `lo` up, the host end up on the bridge)
//! and detaching it. Attach either completes or leaves nothing; detach and
//! bridge removal may be repeated. Names come from ids ([`host_veth_name`])
//! so teardown after a crash needs no saved state.
//!
//! Cost (examples/attach_bench.rs): attach ≈ 1.5–2.5 ms. Deleting a veth
//! pair makes the kernel wait for RCU grace periods (≈ 20–30 ms here, the
//! same for `ip link del`), so [`detach`] is for leaving a network while
//! the container lives on (`network disconnect`); when the container goes,
//! removing its namespace file ([`crate::netns::remove_file`], ≈ 0.1 ms)
//! is enough: the kernel deletes the pair with the namespace, off the
//! caller's clock.

use std::net::IpAddr;

use crate::error::{Error, Result};
use crate::link::{self, Mac, VethSpec};
use crate::netlink::Netlink;
use crate::netns::Netns;
use crate::route::{self, Route};
use crate::{addr, sysctl};

/// A network's bridge.
#[derive(Debug, Clone, Copy)]
pub struct BridgeSpec<'a> {
    /// Bridge name (at most 15 bytes).
    pub name: &'a str,
    /// Gateway addresses with the subnet's prefix length, e.g. 10.88.0.1/16.
    pub addresses: &'a [(IpAddr, u8)],
    /// MTU (the kernel's default when None).
    pub mtu: Option<u32>,
}

/// Makes sure the bridge exists, is up and has its gateway addresses;
/// returns its interface index. Repeating it changes nothing.
pub fn ensure_bridge(host: &mut Netlink, spec: &BridgeSpec<'_>) -> Result<u32> {
    let bridge = link::ensure_bridge(host, spec.name, spec.mtu)?;
    for &(ip, prefix) in spec.addresses {
        addr::add(host, bridge.index, ip, prefix, spec.name)?;
    }
    Ok(bridge.index)
}

/// The sysctls nook gives a bridge (in the host namespace): no IPv6
/// autoconfiguration from router advertisements a container could send,
/// no DAD for the gateway, loose reverse-path filtering (a container
/// answering through another of its networks is not dropped).
pub fn bridge_sysctls(name: &str) -> Vec<(String, &'static str)> {
    vec![
        (format!("net/ipv6/conf/{name}/accept_ra"), "0"),
        (format!("net/ipv6/conf/{name}/accept_dad"), "0"),
        (format!("net/ipv4/conf/{name}/rp_filter"), "2"),
    ]
}

/// Applies [`bridge_sysctls`] in `host_ns` (IPv6 ones skipped where IPv6
/// is off).
pub fn configure_bridge(host_ns: &Netns, name: &str) -> Result<()> {
    crate::link::validate_name(name)?;
    let values = bridge_sysctls(name);
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    sysctl::write_all(host_ns, &values, true)
}

/// The defaults every interface nook makes in a container starts with
/// (a namespace's `default` values are taken by a device created in it): a
/// gratuitous ARP when it comes up (neighbours forget an address's previous
/// owner at once), no IPv6 autoconfiguration from router advertisements
/// (another container could send them), no DAD (IPAM keeps addresses
/// unique, and the link-local address is usable at once).
pub const CONTAINER_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.conf.default.arp_notify", "1"),
    ("net.ipv6.conf.default.accept_ra", "0"),
    ("net.ipv6.conf.default.autoconf", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
];

/// Sets [`CONTAINER_SYSCTLS`] in the container's namespace and opens a
/// rtnetlink socket there, on one short-lived thread.
fn prepare_container(ns: &Netns) -> Result<Netlink> {
    let paths = CONTAINER_SYSCTLS
        .iter()
        .map(|&(k, v)| Ok((sysctl::path_of(k)?, v)))
        .collect::<Result<Vec<_>>>()?;
    ns.run("prepare container network namespace", move || {
        sysctl::write_paths(&paths, true)?;
        Netlink::open()
    })
}

/// Deletes the bridge `name` (its ports are detached by the kernel); false
/// when there was none. Errors when `name` is not a bridge.
pub fn remove_bridge(host: &mut Netlink, name: &str) -> Result<bool> {
    match link::get(host, name)? {
        None => Ok(false),
        Some(l) if l.kind.as_deref() != Some("bridge") => Err(Error::WrongKind {
            name: name.to_string(),
            expected: "bridge",
        }),
        Some(_) => link::delete(host, name),
    }
}

/// The host-side veth name of a container's `index`th network: `nk`, the
/// first 11 hex digits of its id and one digit or letter for the index
/// (15 bytes, IFNAMSIZ's limit).
pub fn host_veth_name(container_id: &str, index: u8) -> Result<String> {
    let invalid = |value: String, reason| Error::Invalid {
        what: "veth of container",
        value,
        reason,
    };
    let id = container_id.get(..11).unwrap_or(container_id);
    if id.len() < 11 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            container_id.to_string(),
            "container id is not 11 or more hex digits",
        ));
    }
    let suffix = char::from_digit(u32::from(index), 36)
        .ok_or_else(|| invalid(format!("{container_id} #{index}"), "network index over 35"))?;
    Ok(format!("nk{}{suffix}", id.to_ascii_lowercase()))
}

/// One container's attachment to a bridge.
#[derive(Debug, Clone, Copy)]
pub struct AttachRequest<'a> {
    /// The container's network namespace.
    pub container: &'a Netns,
    /// The bridge, in the host socket's namespace.
    pub bridge: &'a str,
    /// The host end's name (see [`host_veth_name`]).
    pub host_ifname: &'a str,
    /// The name inside the container ("eth0", "eth1", ...).
    pub ifname: &'a str,
    /// The container's addresses with the subnets' prefix lengths.
    pub addresses: &'a [(IpAddr, u8)],
    /// Gateways: one default route through each (one per address family).
    pub gateways: &'a [IpAddr],
    /// The container interface's MAC (`--mac-address`), random otherwise.
    pub mac: Option<Mac>,
    /// MTU of both ends (the bridge's usual MTU when None).
    pub mtu: Option<u32>,
}

/// What [`attach`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The host end's name.
    pub host_ifname: String,
    /// The host end's interface index.
    pub host_index: u32,
    /// The container end's interface index (inside the container).
    pub container_index: u32,
    /// The container end's MAC.
    pub mac: Mac,
}

/// Attaches the container to the bridge: on success the container has
/// `ifname` up with its addresses and default routes and `lo` up; on
/// failure nothing is left. A host end of the same name left by an earlier
/// attempt is replaced.
pub fn attach(host: &mut Netlink, req: &AttachRequest<'_>) -> Result<Attachment> {
    for &(ip, prefix) in req.addresses {
        if prefix > if ip.is_ipv4() { 32 } else { 128 } {
            return Err(Error::Invalid {
                what: "address",
                value: format!("{ip}/{prefix}"),
                reason: "prefix length longer than the address",
            });
        }
    }
    let bridge = link::get(host, req.bridge)?.ok_or_else(|| Error::NoSuchLink {
        name: req.bridge.to_string(),
        place: "the host namespace",
    })?;
    if bridge.kind.as_deref() != Some("bridge") {
        return Err(Error::WrongKind {
            name: req.bridge.to_string(),
            expected: "bridge",
        });
    }
    // Open the container's socket first: a bad namespace leaves nothing.
    let mut inner = prepare_container(req.container)?;
    detach(host, req.host_ifname)?;
    link::create_veth(
        host,
        &VethSpec {
            host_name: req.host_ifname,
            peer_name: req.ifname,
            peer_netns: req.container,
            master: Some(bridge.index),
            mtu: req.mtu,
            peer_mac: req.mac,
        },
    )?;
    let made = configure(host, &mut inner, req);
    if made.is_err() {
        let _ = link::delete(host, req.host_ifname);
    }
    made
}

/// The container side after the veth exists: addresses, routes, `lo`.
fn configure(
    host: &mut Netlink,
    inner: &mut Netlink,
    req: &AttachRequest<'_>,
) -> Result<Attachment> {
    let in_container = "the container";
    let missing = |name: &str, place| Error::NoSuchLink {
        name: name.to_string(),
        place,
    };
    let lo = link::get(inner, "lo")?.ok_or_else(|| missing("lo", in_container))?;
    if !lo.up {
        link::set_up(inner, lo.index, "lo")?;
    }
    let eth = link::get(inner, req.ifname)?.ok_or_else(|| missing(req.ifname, in_container))?;
    for &(ip, prefix) in req.addresses {
        addr::add(inner, eth.index, ip, prefix, req.ifname)?;
    }
    link::set_up(inner, eth.index, req.ifname)?;
    for &gw in req.gateways {
        route::add(inner, &Route::default_via(gw, Some(eth.index)))?;
    }
    let host_end = link::get(host, req.host_ifname)?
        .ok_or_else(|| missing(req.host_ifname, "the host namespace"))?;
    Ok(Attachment {
        host_ifname: req.host_ifname.to_string(),
        host_index: host_end.index,
        container_index: eth.index,
        mac: eth.mac.unwrap_or_default(),
    })
}

/// Detaches a container by deleting the host end of its veth (the peer in
/// the container goes with it); false when there was none. Errors when the
/// name is some other kind of link.
pub fn detach(host: &mut Netlink, host_ifname: &str) -> Result<bool> {
    match link::get(host, host_ifname)? {
        None => Ok(false),
        Some(l) if l.kind.as_deref() != Some("veth") => Err(Error::WrongKind {
            name: host_ifname.to_string(),
            expected: "veth",
        }),
        Some(_) => link::delete(host, host_ifname),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names() {
        let id = "0123456789abcdef0123";
        assert_eq!(host_veth_name(id, 0).unwrap(), "nk0123456789a0");
        assert_eq!(host_veth_name(id, 10).unwrap(), "nk0123456789aa");
        assert_eq!(
            host_veth_name("ABCDEF0123456", 1).unwrap(),
            "nkabcdef012341"
        );
        assert!(host_veth_name(id, 36).is_err());
        assert!(host_veth_name("0123", 0).is_err());
        assert!(host_veth_name("0123456789g", 0).is_err());
        assert!(link::validate_name(&host_veth_name(id, 35).unwrap()).is_ok());
    }
}
