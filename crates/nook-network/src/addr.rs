//! Interface addresses over rtnetlink: add (idempotent), list, delete; IPv4
//! and IPv6 (IPv6 ones without duplicate address detection, usable at once:
//! IPAM already guarantees uniqueness on the network).

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Errno, Error, Result};
use crate::netlink::Netlink;

/// An address on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddress {
    /// Interface index.
    pub index: u32,
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
}

/// Adds `addr/prefix` to interface `index` (named `name` in errors); adding
/// an address already there succeeds.
pub fn add(nl: &mut Netlink, index: u32, addr: IpAddr, prefix: u8, name: &str) -> Result<()> {
    let msg = message(index, addr, prefix)?;
    let object = format!("{addr}/{prefix} on {name}");
    match nl.request(
        RouteNetlinkMessage::NewAddress(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        "add address",
        &object,
    ) {
        Err(e) if e.errno() == Some(Errno::EEXIST) => Ok(()),
        other => other,
    }
}

/// Removes `addr/prefix` from interface `index`; false when it was not there.
pub fn delete(nl: &mut Netlink, index: u32, addr: IpAddr, prefix: u8, name: &str) -> Result<bool> {
    let msg = message(index, addr, prefix)?;
    let object = format!("{addr}/{prefix} on {name}");
    match nl.request(
        RouteNetlinkMessage::DelAddress(msg),
        0,
        "delete address",
        &object,
    ) {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == Some(Errno::EADDRNOTAVAIL) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The addresses in the socket's namespace, of interface `index` only when
/// given.
pub fn list(nl: &mut Netlink, index: Option<u32>) -> Result<Vec<IfAddress>> {
    let replies = nl.dump(
        RouteNetlinkMessage::GetAddress(AddressMessage::default()),
        "list addresses",
        "",
    )?;
    let mut out = Vec::new();
    for reply in replies {
        let RouteNetlinkMessage::NewAddress(m) = reply else {
            continue;
        };
        if index.is_some_and(|i| i != m.header.index) {
            continue;
        }
        // IFA_LOCAL is the interface's own address on point-to-point links;
        // IFA_ADDRESS otherwise (and the only one for IPv6).
        let mut addr = None;
        for attr in &m.attributes {
            match attr {
                AddressAttribute::Local(a) => addr = Some(*a),
                AddressAttribute::Address(a) if addr.is_none() => addr = Some(*a),
                _ => {}
            }
        }
        if let Some(addr) = addr {
            out.push(IfAddress {
                index: m.header.index,
                addr,
                prefix: m.header.prefix_len,
            });
        }
    }
    Ok(out)
}

fn message(index: u32, addr: IpAddr, prefix: u8) -> Result<AddressMessage> {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(Error::Invalid {
            what: "prefix length",
            value: format!("{addr}/{prefix}"),
            reason: "longer than the address",
        });
    }
    let mut msg = AddressMessage::default();
    msg.header.index = index;
    msg.header.prefix_len = prefix;
    msg.header.scope = AddressScope::Universe;
    match addr {
        IpAddr::V4(v4) => {
            msg.header.family = AddressFamily::Inet;
            msg.attributes.push(AddressAttribute::Local(addr));
            msg.attributes.push(AddressAttribute::Address(addr));
            if prefix < 31 {
                let host_mask = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
                let brd = u32::from(v4) | host_mask;
                msg.attributes.push(AddressAttribute::Broadcast(brd.into()));
            }
        }
        IpAddr::V6(_) => {
            msg.header.family = AddressFamily::Inet6;
            msg.header.flags = AddressHeaderFlags::Nodad;
            msg.attributes.push(AddressAttribute::Address(addr));
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
    }
    Ok(msg)
}
