//! IPAM, pure logic (no kernel, no store): CIDR parsing and validation, a
//! network's subnet with its gateway and optional allocation range
//! (`--subnet`, `--gateway`, `--ip-range`), the next free address, checking a
//! requested address (`--ip`), and choosing a free subnet for a new network
//! from address pools, away from the host's routes and the other networks.
//! IPv4 and IPv6 alike: addresses are handled as integers of 32 or 128 bits.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why a subnet, an address or an allocation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpamError {
    /// Not `ADDRESS/PREFIX`, or a prefix too long for the address.
    #[error("invalid subnet {value:?}: {reason}")]
    Malformed {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The address has bits set beyond the prefix.
    #[error("invalid subnet {value}: host bits set (the network is {network})")]
    HostBitsSet {
        /// The text given.
        value: String,
        /// The network it was probably meant to be.
        network: Cidr,
    },
    /// The subnet cannot hold a gateway and a container.
    #[error("subnet {subnet} is too small for a gateway and a container")]
    TooSmall {
        /// The subnet.
        subnet: Cidr,
    },
    /// An address (gateway, `--ip`) outside the subnet.
    #[error("{what} {addr} is not in subnet {subnet}")]
    OutsideSubnet {
        /// "gateway" or "address".
        what: &'static str,
        /// The address.
        addr: IpAddr,
        /// The subnet.
        subnet: Cidr,
    },
    /// An address that is the subnet's network or broadcast address.
    #[error("{what} {addr} is the {which} address of subnet {subnet}")]
    Reserved {
        /// "gateway" or "address".
        what: &'static str,
        /// The address.
        addr: IpAddr,
        /// "network" or "broadcast".
        which: &'static str,
        /// The subnet.
        subnet: Cidr,
    },
    /// An `--ip-range` that is not inside the subnet.
    #[error("ip range {range} is not inside subnet {subnet}")]
    RangeOutsideSubnet {
        /// The range.
        range: Cidr,
        /// The subnet.
        subnet: Cidr,
    },
    /// A requested address already in use (or the gateway).
    #[error("address {addr} is already in use on subnet {subnet}")]
    InUse {
        /// The address.
        addr: IpAddr,
        /// The subnet.
        subnet: Cidr,
    },
    /// No address left to hand out.
    #[error("no free address left in {range}")]
    Exhausted {
        /// The range that is full.
        range: Cidr,
    },
    /// A subnet overlapping another network's or a host route.
    #[error("subnet {subnet} overlaps {other}")]
    Overlap {
        /// The subnet asked for.
        subnet: Cidr,
        /// What it overlaps ("network NAME (CIDR)" or "host route CIDR").
        other: String,
    },
    /// Every subnet of every pool collides with something.
    #[error("no free subnet left in the address pools")]
    NoFreeSubnet,
}

/// An IPv4 or IPv6 network: an address with no bits set beyond its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

fn width(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn to_int(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_int(v4: bool, n: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

/// The host-part mask of a `prefix` in a `width`-bit address.
fn host_mask(width: u8, prefix: u8) -> u128 {
    let bits = u32::from(width - prefix);
    if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

impl Cidr {
    /// The network `addr/prefix`; errors when the prefix is too long or host
    /// bits are set.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Cidr, IpamError> {
        if prefix > width(addr) {
            return Err(IpamError::Malformed {
                value: format!("{addr}/{prefix}"),
                reason: "prefix length longer than the address",
            });
        }
        let cidr = Cidr::new_truncating(addr, prefix);
        if cidr.addr != addr {
            return Err(IpamError::HostBitsSet {
                value: format!("{addr}/{prefix}"),
                network: cidr,
            });
        }
        Ok(cidr)
    }

    /// The network containing `addr` with `prefix` (clamped to the
    /// address's width): host bits are cleared.
    pub fn new_truncating(addr: IpAddr, prefix: u8) -> Cidr {
        let w = width(addr);
        let prefix = prefix.min(w);
        let n = to_int(addr) & !host_mask(w, prefix);
        Cidr {
            addr: from_int(addr.is_ipv4(), n),
            prefix,
        }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// An IPv4 network.
    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    fn lo(&self) -> u128 {
        to_int(self.addr)
    }

    fn hi(&self) -> u128 {
        self.lo() | host_mask(width(self.addr), self.prefix)
    }

    /// The last address (IPv4's broadcast address).
    pub fn last(&self) -> IpAddr {
        from_int(self.is_ipv4(), self.hi())
    }

    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.is_ipv4() && (self.lo()..=self.hi()).contains(&to_int(ip))
    }

    /// Whether `other` lies wholly inside this network.
    pub fn contains_cidr(&self, other: &Cidr) -> bool {
        self.contains(other.addr) && other.prefix >= self.prefix
    }

    /// Whether the two networks share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// The usable host addresses, as integers: all but the network address
    /// and (IPv4) the broadcast address, except on /31, /32, /127, /128
    /// where every address is a host (RFC 3021, RFC 6164).
    fn host_bounds(&self) -> (u128, u128) {
        let (lo, hi) = (self.lo(), self.hi());
        if hi - lo < 2 {
            return (lo, hi);
        }
        let hi = if self.is_ipv4() { hi - 1 } else { hi };
        (lo + 1, hi)
    }

    /// The first host address (the default gateway).
    pub fn first_host(&self) -> IpAddr {
        from_int(self.is_ipv4(), self.host_bounds().0)
    }

    /// Why `ip` cannot be a host on this network (`what` names it in the
    /// error), or Ok.
    fn check_host(&self, what: &'static str, ip: IpAddr) -> Result<(), IpamError> {
        if !self.contains(ip) {
            return Err(IpamError::OutsideSubnet {
                what,
                addr: ip,
                subnet: *self,
            });
        }
        let (lo, hi) = self.host_bounds();
        let n = to_int(ip);
        if n < lo || n > hi {
            let which = if n == self.lo() {
                "network"
            } else {
                "broadcast"
            };
            return Err(IpamError::Reserved {
                what,
                addr: ip,
                which,
                subnet: *self,
            });
        }
        Ok(())
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = IpamError;

    /// Parses `ADDRESS/PREFIX` strictly (no host bits set).
    fn from_str(s: &str) -> Result<Cidr, IpamError> {
        let bad = |reason| IpamError::Malformed {
            value: s.to_string(),
            reason,
        };
        let (addr, prefix) = s.split_once('/').ok_or_else(|| bad("missing /PREFIX"))?;
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
            return Err(bad("prefix length is not a number"));
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad("prefix length too long"))?;
        Cidr::new(addr, prefix).map_err(|e| match e {
            IpamError::HostBitsSet { network, .. } => IpamError::HostBitsSet {
                value: s.to_string(),
                network,
            },
            IpamError::Malformed { reason, .. } => bad(reason),
            other => other,
        })
    }
}

/// A network's subnet: its gateway and the range containers get addresses
/// from (the whole subnet unless `--ip-range` narrows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    /// The subnet (`--subnet`).
    pub cidr: Cidr,
    /// The gateway (`--gateway`; default the first host address).
    pub gateway: IpAddr,
    /// Where container addresses come from (`--ip-range`; default `cidr`).
    pub range: Cidr,
}

impl Subnet {
    /// Validates a subnet with its optional gateway and range.
    pub fn new(
        cidr: Cidr,
        gateway: Option<IpAddr>,
        range: Option<Cidr>,
    ) -> Result<Subnet, IpamError> {
        let (lo, hi) = cidr.host_bounds();
        if hi == lo {
            return Err(IpamError::TooSmall { subnet: cidr });
        }
        let gateway = gateway.unwrap_or_else(|| cidr.first_host());
        cidr.check_host("gateway", gateway)?;
        let range = range.unwrap_or(cidr);
        if !cidr.contains_cidr(&range) {
            return Err(IpamError::RangeOutsideSubnet {
                range,
                subnet: cidr,
            });
        }
        Ok(Subnet {
            cidr,
            gateway,
            range,
        })
    }

    /// The lowest free host address of the range: not the gateway, not the
    /// network or broadcast address, not in `used`.
    pub fn allocate(&self, used: &HashSet<IpAddr>) -> Result<IpAddr, IpamError> {
        let (lo, hi) = self.cidr.host_bounds();
        let start = self.range.lo().max(lo);
        let end = self.range.hi().min(hi);
        let v4 = self.cidr.is_ipv4();
        let mut n = start;
        while n <= end {
            let ip = from_int(v4, n);
            if ip != self.gateway && !used.contains(&ip) {
                return Ok(ip);
            }
            if n == u128::MAX {
                break;
            }
            n += 1;
        }
        Err(IpamError::Exhausted { range: self.range })
    }

    /// Checks an address asked for (`--ip`): a host of the subnet (it may be
    /// outside `--ip-range`, as Docker allows), not the gateway, not in `used`.
    pub fn check_requested(&self, ip: IpAddr, used: &HashSet<IpAddr>) -> Result<(), IpamError> {
        self.cidr.check_host("address", ip)?;
        if ip == self.gateway || used.contains(&ip) {
            return Err(IpamError::InUse {
                addr: ip,
                subnet: self.cidr,
            });
        }
        Ok(())
    }
}

/// An address pool: subnets of prefix `size` carved in order out of `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// The pool's range.
    pub base: Cidr,
    /// The prefix length of each subnet handed out.
    pub size: u8,
}

impl Pool {
    /// The pool's subnets, in order (none when `size` is shorter than the
    /// base's prefix or longer than the address).
    pub fn subnets(&self) -> impl Iterator<Item = Cidr> + '_ {
        let w = width(self.base.addr);
        let valid = self.size >= self.base.prefix && self.size <= w;
        let (count, step) = if valid {
            let count = 1u128
                .checked_shl(u32::from(self.size - self.base.prefix))
                .unwrap_or(u128::MAX);
            let step = 1u128.checked_shl(u32::from(w - self.size)).unwrap_or(0);
            (count, step)
        } else {
            (0, 0)
        };
        let v4 = self.base.is_ipv4();
        let lo = self.base.lo();
        let size = self.size;
        (0..count).map(move |i| Cidr {
            addr: from_int(v4, lo + i * step),
            prefix: size,
        })
    }
}

fn pool(base: &str, size: u8) -> Pool {
    Pool {
        base: base.parse().expect("built-in pool is a valid CIDR"),
        size,
    }
}

/// Docker's default local address pools (libnetwork's ipamutils): the /16s
/// 172.17.0.0 to 172.31.0.0 (the default bridge takes the first free one),
/// then 192.168.0.0/16 in /20 steps.
pub fn docker_default_pools() -> Vec<Pool> {
    let mut pools: Vec<Pool> = (17..=31)
        .map(|b| pool(&format!("172.{b}.0.0/16"), 16))
        .collect();
    pools.push(pool("192.168.0.0/16", 20));
    pools
}

/// Podman's default network's subnet (netavark's `podman` network).
pub const PODMAN_DEFAULT_SUBNET: &str = "10.88.0.0/16";

/// Podman's default pools for new networks (containers.conf
/// `default_subnet_pools`): 10.89.0.0/16 and on, in /24 steps.
pub fn podman_default_pools() -> Vec<Pool> {
    vec![
        pool("10.89.0.0/16", 24),
        pool("10.90.0.0/15", 24),
        pool("10.92.0.0/14", 24),
        pool("10.96.0.0/11", 24),
        pool("10.128.0.0/9", 24),
    ]
}

/// An IPv6 pool for networks asked for with IPv6 but no subnet, as Docker
/// does: the RFC 4193 unique local /48 `fdXX:XXXX:XXXX::/48` made of
/// `global_id` (40 random bits the caller draws once and keeps, e.g. per
/// store), in /64 subnets.
pub fn ula_pool(global_id: [u8; 5]) -> Pool {
    let mut bytes = [0u8; 16];
    bytes[0] = 0xfd;
    bytes[1..6].copy_from_slice(&global_id);
    Pool {
        base: Cidr {
            addr: IpAddr::V6(Ipv6Addr::from(bytes)),
            prefix: 48,
        },
        size: 64,
    }
}

/// The first subnet of `pools` (of the family of each pool) that overlaps
/// nothing in `avoid` (the host's routed networks and every existing
/// network's subnets).
pub fn choose_subnet(pools: &[Pool], avoid: &[Cidr]) -> Result<Cidr, IpamError> {
    pools
        .iter()
        .flat_map(|p| p.subnets())
        .find(|c| !avoid.iter().any(|a| a.overlaps(c)))
        .ok_or(IpamError::NoFreeSubnet)
}

/// Checks a subnet asked for (`--subnet`) against the other networks'
/// subnets (named) and the host's routed networks.
pub fn check_overlap(
    subnet: Cidr,
    networks: &[(&str, Cidr)],
    routes: &[Cidr],
) -> Result<(), IpamError> {
    if let Some((name, other)) = networks.iter().find(|(_, c)| c.overlaps(&subnet)) {
        return Err(IpamError::Overlap {
            subnet,
            other: format!("network {name} ({other})"),
        });
    }
    if let Some(route) = routes.iter().find(|c| c.overlaps(&subnet)) {
        return Err(IpamError::Overlap {
            subnet,
            other: format!("host route {route}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
