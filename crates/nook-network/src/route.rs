//! Routes over rtnetlink: add a route (a default route through a gateway),
//! delete one, and dump the namespace's routes (IPAM avoids every
//! destination the host already routes).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Errno, Error, Result};
use crate::ipam::Cidr;
use crate::netlink::Netlink;

/// The main routing table.
pub const TABLE_MAIN: u32 = 254;

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination network (0.0.0.0/0 or ::/0 for a default route).
    pub destination: Cidr,
    /// Next hop, when it goes through one.
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// Routing table.
    pub table: u32,
    /// Unicast (not local, broadcast, unreachable...).
    pub unicast: bool,
}

impl Route {
    /// A default route of `gateway`'s family through `gateway`.
    pub fn default_via(gateway: IpAddr, oif: Option<u32>) -> Route {
        let any = match gateway {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        Route {
            destination: Cidr::new(any, 0).expect("0-length prefix is always valid"),
            gateway: Some(gateway),
            oif,
            table: TABLE_MAIN,
            unicast: true,
        }
    }
}

/// Adds `route` (in the main table unless it says otherwise); adding a route
/// already there succeeds.
pub fn add(nl: &mut Netlink, route: &Route) -> Result<()> {
    let msg = message(route)?;
    match nl.request(
        RouteNetlinkMessage::NewRoute(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        "add route",
        &describe(route),
    ) {
        Err(e) if e.errno() == Some(Errno::EEXIST) => Ok(()),
        other => other,
    }
}

/// Deletes `route`; false when it was not there.
pub fn delete(nl: &mut Netlink, route: &Route) -> Result<bool> {
    let msg = message(route)?;
    match nl.request(
        RouteNetlinkMessage::DelRoute(msg),
        0,
        "delete route",
        &describe(route),
    ) {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == Some(Errno::ESRCH) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Every IPv4 and IPv6 route of the socket's namespace, of every table.
pub fn list(nl: &mut Netlink) -> Result<Vec<Route>> {
    let replies = nl.dump(
        RouteNetlinkMessage::GetRoute(RouteMessage::default()),
        "list routes",
        "",
    )?;
    Ok(replies
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewRoute(r) => to_route(r),
            _ => None,
        })
        .collect())
}

/// The destinations of the main table's unicast routes other than default
/// routes: the networks a new container subnet must not overlap.
pub fn routed_networks(routes: &[Route]) -> Vec<Cidr> {
    routes
        .iter()
        .filter(|r| r.unicast && r.table == TABLE_MAIN && r.destination.prefix() > 0)
        .map(|r| r.destination)
        .collect()
}

fn describe(route: &Route) -> String {
    match route.gateway {
        Some(gw) => format!("{} via {gw}", route.destination),
        None => route.destination.to_string(),
    }
}

fn message(route: &Route) -> Result<RouteMessage> {
    let dest = route.destination;
    let family = if dest.addr().is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    if let Some(gw) = route.gateway {
        if gw.is_ipv4() != dest.addr().is_ipv4() {
            return Err(Error::Invalid {
                what: "route",
                value: describe(route),
                reason: "gateway of another address family",
            });
        }
    }
    let mut msg = RouteMessage::default();
    msg.header = RouteHeader {
        address_family: family,
        destination_prefix_length: dest.prefix(),
        table: if route.table < 256 {
            route.table as u8
        } else {
            0
        },
        protocol: RouteProtocol::Boot,
        scope: if route.gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        },
        kind: RouteType::Unicast,
        ..RouteHeader::default()
    };
    if route.table >= 256 {
        msg.attributes.push(RouteAttribute::Table(route.table));
    }
    if dest.prefix() > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(dest.addr())));
    }
    if let Some(gw) = route.gateway {
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
    }
    if let Some(oif) = route.oif {
        msg.attributes.push(RouteAttribute::Oif(oif));
    }
    Ok(msg)
}

fn to_route(msg: RouteMessage) -> Option<Route> {
    let h = &msg.header;
    let (any, max) = match h.address_family {
        AddressFamily::Inet => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 32),
        AddressFamily::Inet6 => (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 128),
        _ => return None,
    };
    let prefix = h.destination_prefix_length.min(max);
    let mut dest = any;
    let mut gateway = None;
    let mut oif = None;
    let mut table = u32::from(h.table);
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(a) => dest = route_ip(a).unwrap_or(any),
            RouteAttribute::Gateway(a) => gateway = route_ip(a),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Table(t) => table = *t,
            _ => {}
        }
    }
    Some(Route {
        destination: Cidr::new_truncating(dest, prefix),
        gateway,
        oif,
        table,
        unicast: h.kind == RouteType::Unicast,
    })
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}
