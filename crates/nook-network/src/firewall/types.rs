//! The firewall's typed requests (a network's rules, a container's published ports) and their
//! validation: every name that ends up in a chain name or an nft string is checked here.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::FirewallError;

/// An IP subnet: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length (0..=32 for IPv4, 0..=128 for IPv6).
    pub prefix_len: u8,
}

impl Subnet {
    /// A subnet; the prefix length is checked by [`NetworkRules::validate`].
    pub fn new(addr: IpAddr, prefix_len: u8) -> Subnet {
        Subnet { addr, prefix_len }
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// What the firewall needs to know of a bridge network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    /// The network's name (its chains are named after it: `n-NAME-fwd`, ...).
    pub name: String,
    /// The bridge interface on the host.
    pub bridge: String,
    /// Its subnets (IPv4 and/or IPv6).
    pub subnets: Vec<Subnet>,
    /// `--internal`: bridge-local traffic only, no NAT, no published ports.
    pub internal: bool,
}

impl NetworkRules {
    /// Checks the name, the bridge name and the subnets.
    pub fn validate(&self) -> Result<(), FirewallError> {
        check_network_name(&self.name)?;
        check_ifname(&self.bridge)?;
        for s in &self.subnets {
            let max = if s.addr.is_ipv4() { 32 } else { 128 };
            if s.prefix_len > max {
                return Err(FirewallError::InvalidSubnet(s.to_string()));
            }
        }
        Ok(())
    }

    /// Whether the network has an IPv6 subnet.
    pub fn has_ipv6(&self) -> bool {
        self.subnets.iter().any(|s| s.addr.is_ipv6())
    }
}

/// A transport protocol a port is published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// nft's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One `-p [HOST_IP:]HOST_PORT[-END]:CONTAINER_PORT[-END][/PROTO]` mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    /// The host address it is published on: `None` = every address of both families,
    /// `0.0.0.0` = every IPv4 address, `::` = every IPv6 address.
    pub host_ip: Option<IpAddr>,
    /// The first host port.
    pub host_port: u16,
    /// The first container port.
    pub container_port: u16,
    /// How many consecutive ports (1 for a single port).
    pub count: u16,
    /// The protocol.
    pub protocol: Protocol,
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(a)) => write!(f, "[{a}]:")?,
            Some(a) => write!(f, "{a}:")?,
            None => {}
        }
        let end = |p: u16| u32::from(p) + u32::from(self.count) - 1;
        if self.count > 1 {
            write!(f, "{}-{}:", self.host_port, end(self.host_port))?;
            write!(f, "{}-{}", self.container_port, end(self.container_port))?;
        } else {
            write!(f, "{}:{}", self.host_port, self.container_port)?;
        }
        write!(f, "/{}", self.protocol.name())
    }
}

/// A container's published ports, and the addresses they lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPorts {
    /// The container's id (its chains are named after it: `c-ID-dnat`, ...).
    pub container_id: String,
    /// Its IPv4 address on the network its ports lead to.
    pub ipv4: Option<Ipv4Addr>,
    /// Its IPv6 address there, when the network has IPv6.
    pub ipv6: Option<Ipv6Addr>,
    /// The mappings.
    pub ports: Vec<PortMapping>,
}

impl ContainerPorts {
    /// Checks the id and every mapping against the container's addresses.
    pub fn validate(&self) -> Result<(), FirewallError> {
        check_container_id(&self.container_id)?;
        for p in &self.ports {
            self.check_mapping(p)?;
        }
        Ok(())
    }

    fn check_mapping(&self, p: &PortMapping) -> Result<(), FirewallError> {
        let bad = |reason: &str| FirewallError::InvalidPort {
            mapping: p.to_string(),
            reason: reason.to_string(),
        };
        if p.count == 0 {
            return Err(bad("an empty port range"));
        }
        let last = |start: u16| u32::from(start) + u32::from(p.count) - 1;
        if p.host_port == 0 || p.container_port == 0 {
            return Err(bad("port 0"));
        }
        if last(p.host_port) > 65535 || last(p.container_port) > 65535 {
            return Err(bad("the range ends past port 65535"));
        }
        match p.host_ip {
            Some(IpAddr::V6(a)) if a.is_loopback() => Err(bad(
                "IPv6 loopback cannot be forwarded (IPv6 has no route_localnet); publish on 127.0.0.1",
            )),
            Some(IpAddr::V4(_)) if self.ipv4.is_none() => {
                Err(bad("an IPv4 host address for a container without IPv4"))
            }
            Some(IpAddr::V6(_)) if self.ipv6.is_none() => {
                Err(bad("an IPv6 host address for a container without IPv6"))
            }
            None if self.ipv4.is_none() && self.ipv6.is_none() => {
                Err(bad("a container without an address"))
            }
            _ => Ok(()),
        }
    }
}

fn name_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A network name as Docker allows it (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), short enough for a chain
/// name.
pub(crate) fn check_network_name(name: &str) -> Result<(), FirewallError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name_chars_ok(name);
    if ok {
        Ok(())
    } else {
        Err(FirewallError::InvalidName(name.to_string()))
    }
}

/// A container id: 1 to 128 of `[a-zA-Z0-9_.-]`.
pub(crate) fn check_container_id(id: &str) -> Result<(), FirewallError> {
    if !id.is_empty() && id.len() <= 128 && name_chars_ok(id) {
        Ok(())
    } else {
        Err(FirewallError::InvalidContainerId(id.to_string()))
    }
}

/// An interface name: 1 to 15 of `[a-zA-Z0-9_.-]`, not `.` or `..`.
pub(crate) fn check_ifname(name: &str) -> Result<(), FirewallError> {
    if !name.is_empty() && name.len() <= 15 && name_chars_ok(name) && name != "." && name != ".." {
        Ok(())
    } else {
        Err(FirewallError::InvalidInterface(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(p: PortMapping) -> ContainerPorts {
        ContainerPorts {
            container_id: "abc".into(),
            ipv4: Some(Ipv4Addr::new(10, 0, 0, 2)),
            ipv6: None,
            ports: vec![p],
        }
    }

    fn tcp(host_ip: Option<IpAddr>, host: u16, ctr: u16, count: u16) -> PortMapping {
        PortMapping {
            host_ip,
            host_port: host,
            container_port: ctr,
            count,
            protocol: Protocol::Tcp,
        }
    }

    #[test]
    fn names() {
        assert!(check_network_name("my-net_1.x").is_ok());
        for bad in ["", "-x", "a b", "a\"b", "a/b", &"x".repeat(201)] {
            assert!(check_network_name(bad).is_err(), "{bad}");
        }
        assert!(check_ifname("nook0").is_ok());
        for bad in ["", "0123456789abcdef", "a b", "..", "a/b"] {
            assert!(check_ifname(bad).is_err(), "{bad}");
        }
        assert!(check_container_id(&"a".repeat(64)).is_ok());
        assert!(check_container_id("a;b").is_err());
    }

    #[test]
    fn mappings() {
        assert!(ports(tcp(None, 8080, 80, 1)).validate().is_ok());
        assert!(ports(tcp(None, 65530, 80, 6)).validate().is_ok());
        let e = ports(tcp(None, 65530, 80, 7)).validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "port mapping 65530-65536:80-86/tcp: the range ends past port 65535"
        );
        assert!(ports(tcp(None, 0, 80, 1)).validate().is_err());
        assert!(ports(tcp(None, 1, 80, 0)).validate().is_err());
        assert!(ports(tcp(Some("::1".parse().unwrap()), 1, 80, 1))
            .validate()
            .is_err());
        assert!(ports(tcp(Some("fd00::1".parse().unwrap()), 1, 80, 1))
            .validate()
            .is_err());
        assert!(ports(tcp(Some("127.0.0.1".parse().unwrap()), 1, 80, 1))
            .validate()
            .is_ok());
    }

    #[test]
    fn bad_subnet() {
        let n = NetworkRules {
            name: "n".into(),
            bridge: "br".into(),
            subnets: vec![Subnet::new("10.0.0.0".parse().unwrap(), 33)],
            internal: false,
        };
        assert_eq!(
            n.validate().unwrap_err().to_string(),
            "invalid subnet 10.0.0.0/33"
        );
    }
}
