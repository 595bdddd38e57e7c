//! Links over rtnetlink: look up and list interfaces, make a bridge (an
//! idempotent ensure), make a veth pair whose peer is born inside another
//! namespace under its final name, set master/up/MAC/MTU, delete by name.

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;
use std::os::fd::{AsFd, AsRawFd};

use crate::error::{Errno, Error, Result};
use crate::netlink::Netlink;
use crate::netns::Netns;

/// The longest interface name the kernel takes (IFNAMSIZ - 1).
pub const MAX_NAME_LEN: usize = 15;

/// A MAC address.
pub type Mac = [u8; 6];

/// What the kernel says about one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Link kind ("bridge", "veth", ...) when it has one.
    pub kind: Option<String>,
    /// Hardware address, when it is an Ethernet one.
    pub mac: Option<Mac>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Administratively up.
    pub up: bool,
    /// Index of the bridge (master) it is attached to.
    pub master: Option<u32>,
}

/// Checks that the kernel would accept `name` as an interface name.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("longer than 15 bytes");
    }
    if name == "." || name == ".." {
        return bad("reserved");
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
    {
        return bad("contains '/', ':', a space or NUL");
    }
    Ok(())
}

/// The interface named `name`, or None when there is none.
pub fn get(nl: &mut Netlink, name: &str) -> Result<Option<Link>> {
    validate_name(name)?;
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    match nl.get(RouteNetlinkMessage::GetLink(msg), "look up interface", name) {
        Ok(replies) => Ok(replies.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(to_link(l)),
            _ => None,
        })),
        Err(e) if e.errno() == Some(Errno::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The index of interface `name`; errors when there is none (`place`
/// names the namespace in the error, e.g. "the container").
pub fn index(nl: &mut Netlink, name: &str, place: &'static str) -> Result<u32> {
    get(nl, name)?
        .map(|l| l.index)
        .ok_or_else(|| Error::NoSuchLink {
            name: name.to_string(),
            place,
        })
}

/// Every interface in the socket's namespace.
pub fn list(nl: &mut Netlink) -> Result<Vec<Link>> {
    let replies = nl.dump(
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        "list interfaces",
        "",
    )?;
    Ok(replies
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(to_link(l)),
            _ => None,
        })
        .collect())
}

/// Makes sure a bridge named `name` exists and is up (created with `mtu`
/// when given, its MAC pinned); errors when `name` is taken by another
/// kind of link.
pub fn ensure_bridge(nl: &mut Netlink, name: &str, mtu: Option<u32>) -> Result<Link> {
    validate_name(name)?;
    let mut msg = LinkMessage::default();
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    if let Some(mtu) = mtu {
        msg.attributes.push(LinkAttribute::Mtu(mtu));
    }
    msg.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    let created = nl.request(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        "create bridge",
        name,
    );
    let new = match created {
        Ok(()) => true,
        Err(e) if e.errno() == Some(Errno::EEXIST) => false,
        Err(e) => return Err(e),
    };
    let link = get(nl, name)?.ok_or_else(|| Error::NoSuchLink {
        name: name.to_string(),
        place: "the host namespace",
    })?;
    if link.kind.as_deref() != Some("bridge") {
        return Err(Error::WrongKind {
            name: name.to_string(),
            expected: "bridge",
        });
    }
    if new {
        // Pin the bridge's MAC: one the kernel chose follows the lowest
        // port's, so the gateway's MAC would change under the containers'
        // ARP caches as they come and go. Setting it (even to itself)
        // makes it fixed.
        if let Some(mac) = link.mac {
            set_mac(nl, link.index, mac, name)?;
        }
    }
    if !link.up {
        set_up(nl, link.index, name)?;
    }
    Ok(link)
}

/// A veth pair to create: the host end in the socket's namespace, the peer
/// created directly inside `peer_netns` under `peer_name`.
#[derive(Debug)]
pub struct VethSpec<'a> {
    /// Name of the end that stays in the socket's namespace.
    pub host_name: &'a str,
    /// Name of the peer inside `peer_netns` (e.g. "eth0").
    pub peer_name: &'a str,
    /// Where the peer is born.
    pub peer_netns: &'a Netns,
    /// Bridge index the host end is attached to.
    pub master: Option<u32>,
    /// MTU of both ends.
    pub mtu: Option<u32>,
    /// The peer's MAC (the kernel picks a random one otherwise).
    pub peer_mac: Option<Mac>,
}

/// Creates a veth pair, the host end up and on its bridge, the peer down
/// (bring it up once it is configured: [`set_up`]).
pub fn create_veth(nl: &mut Netlink, spec: &VethSpec<'_>) -> Result<()> {
    validate_name(spec.host_name)?;
    validate_name(spec.peer_name)?;
    // The peer cannot be created up: the kernel opens it before the pair
    // is joined (veth_open: ENOTCONN). The host end can.
    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(spec.peer_name.to_string()));
    peer.attributes
        .push(LinkAttribute::NetNsFd(spec.peer_netns.as_fd().as_raw_fd()));
    if let Some(mac) = spec.peer_mac {
        peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    let mut msg = LinkMessage::default();
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    msg.attributes
        .push(LinkAttribute::IfName(spec.host_name.to_string()));
    if let Some(mtu) = spec.mtu {
        msg.attributes.push(LinkAttribute::Mtu(mtu));
        peer.attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(master) = spec.master {
        msg.attributes.push(LinkAttribute::Controller(master));
    }
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    nl.request(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        "create veth",
        spec.host_name,
    )
}

/// Brings interface `index` (named `name` in errors) up.
pub fn set_up(nl: &mut Netlink, index: u32, name: &str) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    nl.request(RouteNetlinkMessage::SetLink(msg), 0, "set up", name)
}

/// Attaches interface `index` to the bridge `master`.
pub fn set_master(nl: &mut Netlink, index: u32, master: u32, name: &str) -> Result<()> {
    set_attr(
        nl,
        index,
        LinkAttribute::Controller(master),
        "set master of",
        name,
    )
}

/// Sets the MAC address of interface `index`.
pub fn set_mac(nl: &mut Netlink, index: u32, mac: Mac, name: &str) -> Result<()> {
    set_attr(
        nl,
        index,
        LinkAttribute::Address(mac.to_vec()),
        "set MAC of",
        name,
    )
}

/// Sets the MTU of interface `index`.
pub fn set_mtu(nl: &mut Netlink, index: u32, mtu: u32, name: &str) -> Result<()> {
    set_attr(nl, index, LinkAttribute::Mtu(mtu), "set MTU of", name)
}

/// Deletes the interface `name` (a veth's peer goes with it); false when
/// there was none.
pub fn delete(nl: &mut Netlink, name: &str) -> Result<bool> {
    validate_name(name)?;
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    match nl.request(
        RouteNetlinkMessage::DelLink(msg),
        0,
        "delete interface",
        name,
    ) {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == Some(Errno::ENODEV) => Ok(false),
        Err(e) => Err(e),
    }
}

fn set_attr(
    nl: &mut Netlink,
    index: u32,
    attr: LinkAttribute,
    op: &'static str,
    name: &str,
) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.attributes.push(attr);
    nl.request(RouteNetlinkMessage::SetLink(msg), 0, op, name)
}

fn to_link(msg: LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        kind: None,
        mac: None,
        mtu: None,
        up: msg.header.flags.contains(LinkFlags::Up),
        master: None,
    };
    for attr in msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name = n,
            LinkAttribute::Mtu(m) => link.mtu = Some(m),
            LinkAttribute::Controller(m) => link.master = Some(m),
            LinkAttribute::Address(a) => link.mac = a.try_into().ok(),
            LinkAttribute::LinkInfo(infos) => {
                link.kind = infos.into_iter().find_map(|i| match i {
                    LinkInfo::Kind(k) => Some(k.to_string()),
                    _ => None,
                });
            }
            _ => {}
        }
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("eth0").is_ok());
        assert!(validate_name("nk0123456789ab0").is_ok());
        let e = validate_name("nk0123456789abcd").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid interface name \"nk0123456789abcd\": longer than 15 bytes"
        );
        assert!(validate_name("").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("..").is_err());
    }
}
