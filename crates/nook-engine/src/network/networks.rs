//! Bridge networks: created (`network create`, and the default network
//! `nook` on first use), listed, inspected (Docker's shape), removed and
//! pruned; a network's bridge and firewall rules are made when a container
//! first needs them ([`Engine::network_ready`]) and removed with it.
//!
//! A network is ready when its bridge is up with its gateway addresses:
//! those are added last, after the firewall's rules, so a process killed
//! half-way leaves a network that the next start completes.

use super::{DEFAULT_BRIDGE, DEFAULT_NETWORK};
use crate::{Engine, Error, Result};
use nook_network::firewall::{self, Firewall, NetworkRules};
use nook_network::ipam::{self, Cidr, IpamError, Subnet};
use nook_network::netlink::Netlink;
use nook_network::{addr, attach, link, route};
use nook_state::{NetworkRecord, NewNetwork, SubnetConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What `network create` asks for.
#[derive(Clone, Debug, Default)]
pub struct NetworkCreate {
    /// The name.
    pub name: String,
    /// `-d` (only `bridge`).
    pub driver: Option<String>,
    /// `--subnet` (IPv4 and/or IPv6).
    pub subnets: Vec<String>,
    /// `--gateway`, one per subnet, in order.
    pub gateways: Vec<String>,
    /// `--ip-range`, one per subnet, in order.
    pub ip_ranges: Vec<String>,
    /// `--internal`.
    pub internal: bool,
    /// `--ipv6`.
    pub ipv6: bool,
    /// `--label K=V`.
    pub labels: Vec<String>,
    /// `-o K=V` (`com.docker.network.bridge.name`).
    pub options: Vec<String>,
}

/// The option naming a network's bridge.
const BRIDGE_NAME: &str = "com.docker.network.bridge.name";

/// The option setting the MTU of a network's bridge and veths.
const MTU: &str = "com.docker.network.driver.mtu";

/// The MTU network `rec` asks for (`-o com.docker.network.driver.mtu`).
pub fn mtu(options: &BTreeMap<String, String>) -> Result<Option<u32>> {
    match options.get(MTU) {
        None => Ok(None),
        Some(v) => match v.parse::<u32>() {
            Ok(m) if (68..=65535).contains(&m) => Ok(Some(m)),
            _ => Err(Error::invalid(MTU, v, "an MTU from 68 to 65535")),
        },
    }
}

/// The subnets of a recorded network.
pub fn subnets(rec: &NetworkRecord) -> Result<Vec<Subnet>> {
    rec.network
        .subnets
        .iter()
        .map(|s| {
            let cidr: Cidr = s.subnet.parse()?;
            let gw: IpAddr = s
                .gateway
                .parse()
                .map_err(|_| Error::invalid("gateway", &s.gateway, "not an IP address"))?;
            let range = match s.ip_range.as_str() {
                "" => None,
                r => Some(r.parse()?),
            };
            Ok(Subnet::new(cidr, Some(gw), range)?)
        })
        .collect()
}

fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 200
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(Error::invalid(
            "network name",
            name,
            "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        )),
    }
}

fn key_values(flag: &'static str, list: &[String]) -> Result<BTreeMap<String, String>> {
    list.iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k.is_empty() {
                true => Err(Error::invalid(flag, kv, "use KEY=VALUE")),
                false => Ok((k.to_string(), v.to_string())),
            }
        })
        .collect()
}

/// The subnets asked for, checked (gateway and range inside each).
fn requested_subnets(req: &NetworkCreate) -> Result<Vec<Subnet>> {
    if req.gateways.len() > req.subnets.len() || req.ip_ranges.len() > req.subnets.len() {
        return Err(Error::invalid(
            "--gateway",
            req.gateways.join(","),
            "every --gateway and --ip-range needs its --subnet",
        ));
    }
    let mut out: Vec<Subnet> = Vec::new();
    for (i, s) in req.subnets.iter().enumerate() {
        let cidr: Cidr = s.parse()?;
        let gw = match req.gateways.get(i) {
            Some(g) => Some(
                g.parse::<IpAddr>()
                    .map_err(|_| Error::invalid("--gateway", g, "not an IP address"))?,
            ),
            None => None,
        };
        let range = req.ip_ranges.get(i).map(|r| r.parse()).transpose()?;
        let sub = Subnet::new(cidr, gw, range)?;
        if let Some(o) = out.iter().find(|o| o.cidr.overlaps(&cidr)) {
            return Err(IpamError::Overlap {
                subnet: cidr,
                other: format!("subnet {}", o.cidr),
            }
            .into());
        }
        out.push(sub);
    }
    Ok(out)
}

/// Subnets taken: (network, subnet) of every network, and the routed ones.
type Taken = (Vec<(String, Cidr)>, Vec<Cidr>);

fn random_global_id() -> Result<[u8; 5]> {
    let id = crate::container::random_id()?;
    let mut g = [0u8; 5];
    for (i, b) in g.iter_mut().enumerate() {
        *b = u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    Ok(g)
}

impl Engine {
    /// The subnets a new network must not overlap: every network's and
    /// every route's in the engine's namespace.
    fn taken_subnets(&self) -> Result<Taken> {
        let mut nets = Vec::new();
        for n in self.state.networks()? {
            for s in subnets(&n)? {
                nets.push((n.network.name.clone(), s.cidr));
            }
        }
        let routes = route::list(&mut self.host_netlink()?)?;
        Ok((nets, route::routed_networks(&routes)))
    }

    /// Record network `req.name` (checked; subnets chosen when not given).
    pub fn create_network(&self, req: &NetworkCreate) -> Result<NetworkRecord> {
        check_name(&req.name)?;
        match req.driver.as_deref() {
            None | Some("bridge") => {}
            Some(d) => return Err(Error::invalid("driver", d, "only bridge is supported")),
        }
        let labels = key_values("--label", &req.labels)?;
        let options = key_values("--opt", &req.options)?;
        mtu(&options)?;
        let mut given = requested_subnets(req)?;
        let id = crate::container::random_id()?;
        let bridge = match options.get(BRIDGE_NAME) {
            Some(b) => b.clone(),
            None => format!("br-{}", &id[..12]),
        };
        link::validate_name(&bridge)?;
        let _lock = self.network_lock()?;
        let (nets, routes) = self.taken_subnets()?;
        let named: Vec<(&str, Cidr)> = nets.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        for s in &given {
            ipam::check_overlap(s.cidr, &named, &routes)?;
        }
        let avoid: Vec<Cidr> = nets.iter().map(|(_, c)| *c).chain(routes).collect();
        if !given.iter().any(|s| s.cidr.is_ipv4()) {
            let cidr = ipam::choose_subnet(&ipam::docker_default_pools(), &avoid)?;
            given.insert(0, Subnet::new(cidr, None, None)?);
        }
        let ipv6 = req.ipv6 || given.iter().any(|s| !s.cidr.is_ipv4());
        if ipv6 && given.iter().all(|s| s.cidr.is_ipv4()) {
            let pool = ipam::ula_pool(random_global_id()?);
            given.push(Subnet::new(
                ipam::choose_subnet(&[pool], &avoid)?,
                None,
                None,
            )?);
        }
        given.sort_by_key(|s| !s.cidr.is_ipv4());
        let new = NewNetwork {
            name: req.name.clone(),
            id,
            driver: "bridge".into(),
            bridge,
            subnets: given.iter().map(subnet_config).collect(),
            internal: req.internal,
            ipv6,
            labels,
            options,
        };
        self.state
            .insert_network(&new, crate::container::now_nanos())?;
        Ok(self.state.network(&new.name)?)
    }

    /// The default network, recorded on first use: 10.88.0.0/16 unless a
    /// route or another network overlaps it (then a free one of Podman's
    /// pools).
    pub(crate) fn ensure_default_network(&self) -> Result<NetworkRecord> {
        match self.state.network(DEFAULT_NETWORK) {
            Ok(n) => return Ok(n),
            Err(nook_state::Error::NoSuchNetwork(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let _lock = self.network_lock()?;
        if let Ok(n) = self.state.network(DEFAULT_NETWORK) {
            return Ok(n);
        }
        let (nets, routes) = self.taken_subnets()?;
        let avoid: Vec<Cidr> = nets.iter().map(|(_, c)| *c).chain(routes).collect();
        let first: Cidr = ipam::PODMAN_DEFAULT_SUBNET.parse()?;
        let cidr = match avoid.iter().any(|a| a.overlaps(&first)) {
            false => first,
            true => ipam::choose_subnet(&ipam::podman_default_pools(), &avoid)?,
        };
        let new = NewNetwork {
            name: DEFAULT_NETWORK.into(),
            id: crate::container::random_id()?,
            driver: "bridge".into(),
            bridge: DEFAULT_BRIDGE.into(),
            subnets: vec![subnet_config(&Subnet::new(cidr, None, None)?)],
            ..Default::default()
        };
        self.state
            .insert_network(&new, crate::container::now_nanos())?;
        Ok(self.state.network(DEFAULT_NETWORK)?)
    }

    /// The network `word` names (name, id or id prefix); the default one
    /// is made when named.
    pub fn network(&self, word: &str) -> Result<NetworkRecord> {
        match word {
            DEFAULT_NETWORK | "bridge" => self.ensure_default_network(),
            w => Ok(self.state.network(w)?),
        }
    }

    /// Every network, by name.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>> {
        Ok(self.state.networks()?)
    }

    /// Make network `rec`'s bridge (up, with its gateway addresses) and its
    /// firewall rules, unless they are there already.
    pub(crate) fn network_ready(&self, rec: &NetworkRecord) -> Result<()> {
        let n = &rec.network;
        let gateways: Vec<(IpAddr, u8)> = subnets(rec)?
            .iter()
            .map(|s| (s.gateway, s.cidr.prefix()))
            .collect();
        let mut nl = self.host_netlink()?;
        if bridge_ready(&mut nl, &n.bridge, &gateways)? {
            return Ok(());
        }
        let _lock = self.network_lock()?;
        // another process may have made it meanwhile
        if bridge_ready(&mut nl, &n.bridge, &gateways)? {
            return Ok(());
        }
        let mtu = mtu(&n.options)?;
        link::ensure_bridge(&mut nl, &n.bridge, mtu)?;
        attach::configure_bridge(&self.host_netns()?, &n.bridge)?;
        let rules = NetworkRules {
            name: n.name.clone(),
            bridge: n.bridge.clone(),
            subnets: subnets(rec)?
                .iter()
                .map(|s| firewall::Subnet::new(s.cidr.addr(), s.cidr.prefix()))
                .collect(),
            internal: n.internal,
        };
        self.in_host_netns(|| Ok(Firewall::new().ensure_network(&rules)?))?;
        let spec = attach::BridgeSpec {
            name: &n.bridge,
            addresses: &gateways,
            mtu,
        };
        attach::ensure_bridge(&mut nl, &spec)?;
        Ok(())
    }

    /// Remove network `word`: refused while containers are on it (Docker's
    /// message); its bridge and firewall rules go.
    pub fn remove_network(&self, word: &str) -> Result<NetworkRecord> {
        let rec = self.state.network(word)?;
        if rec.network.name == DEFAULT_NETWORK {
            return Err(Error::invalid(
                "network",
                DEFAULT_NETWORK,
                "the default network is pre-defined and cannot be removed",
            ));
        }
        let _lock = self.network_lock()?;
        self.state.remove_network(&rec.network.name)?;
        self.bridge_down(&rec)?;
        Ok(rec)
    }

    /// Remove network `rec`'s bridge and firewall rules (idempotent).
    fn bridge_down(&self, rec: &NetworkRecord) -> Result<()> {
        let mut nl = self.host_netlink()?;
        attach::remove_bridge(&mut nl, &rec.network.bridge)?;
        let name = rec.network.name.clone();
        self.in_host_netns(|| Ok(Firewall::new().remove_network(&name)?))
    }

    /// Remove every network no container is on (the default one stays);
    /// their names.  Namespace files of containers the store no longer
    /// has (a removal killed half-way) go too.
    pub fn prune_networks(&self) -> Result<Vec<String>> {
        self.remove_orphan_netns()?;
        let mut removed = Vec::new();
        for n in self.state.networks()? {
            let name = &n.network.name;
            if name == DEFAULT_NETWORK || !self.state.network_endpoints(name)?.is_empty() {
                continue;
            }
            match self.remove_network(name) {
                Ok(_) => removed.push(name.clone()),
                Err(Error::State(nook_state::Error::NetworkInUse { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Remove the namespace files of containers the store does not have.
    fn remove_orphan_netns(&self) -> Result<()> {
        let dir = self.root.join("netns");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("read", &dir)(e)),
        };
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if self.state.container(&id)?.is_none() {
                nook_network::netns::remove_file(e.path())?;
            }
        }
        Ok(())
    }

    /// `network inspect`: Docker's shape.
    pub fn network_json(&self, rec: &NetworkRecord) -> Result<Value> {
        let n = &rec.network;
        let mut containers = serde_json::Map::new();
        let subs = subnets(rec)?;
        for e in self.state.network_endpoints(&n.name)? {
            let name = self
                .state
                .container(&e.container_id)?
                .map(|c| c.name)
                .unwrap_or_default();
            let with_prefix = |v4: bool| {
                e.addresses
                    .iter()
                    .filter_map(|a| a.parse::<IpAddr>().ok())
                    .filter(|a| a.is_ipv4() == v4)
                    .find_map(|a| {
                        let s = subs.iter().find(|s| s.cidr.contains(a))?;
                        Some(format!("{a}/{}", s.cidr.prefix()))
                    })
                    .unwrap_or_default()
            };
            containers.insert(
                e.container_id.clone(),
                json!({
                    "Name": name,
                    "EndpointID": endpoint_id(&e.container_id, &n.id),
                    "MacAddress": e.mac,
                    "IPv4Address": with_prefix(true),
                    "IPv6Address": with_prefix(false),
                }),
            );
        }
        let config: Vec<Value> = n
            .subnets
            .iter()
            .map(|s| {
                let mut c = json!({"Subnet": s.subnet, "Gateway": s.gateway});
                if !s.ip_range.is_empty() {
                    c["IPRange"] = json!(s.ip_range);
                }
                c
            })
            .collect();
        let mut options = n.options.clone();
        options.insert(BRIDGE_NAME.into(), n.bridge.clone());
        Ok(json!({
            "Name": n.name,
            "Id": n.id,
            "Created": jiff::Timestamp::from_nanosecond(rec.created as i128)
                .map(|t| t.to_string()).unwrap_or_default(),
            "Scope": "local",
            "Driver": n.driver,
            "EnableIPv6": n.ipv6,
            "IPAM": {"Driver": "default", "Options": {}, "Config": config},
            "Internal": n.internal,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": containers,
            "Options": options,
            "Labels": n.labels,
        }))
    }
}

/// Whether `bridge` is up with every gateway address (added last, so its
/// firewall rules are there too).
fn bridge_ready(nl: &mut Netlink, bridge: &str, gateways: &[(IpAddr, u8)]) -> Result<bool> {
    let Some(l) = link::get(nl, bridge)?.filter(|l| l.up) else {
        return Ok(false);
    };
    let have = addr::list(nl, Some(l.index))?;
    Ok(gateways
        .iter()
        .all(|(ip, p)| have.iter().any(|a| a.addr == *ip && a.prefix == *p)))
}

/// A stable endpoint id: the container's id and the network's, mixed.
pub(crate) fn endpoint_id(container: &str, network: &str) -> String {
    container
        .bytes()
        .zip(network.bytes())
        .map(|(a, b)| {
            let v = (a as char).to_digit(16).unwrap_or(0) ^ (b as char).to_digit(16).unwrap_or(0);
            char::from_digit(v, 16).unwrap_or('0')
        })
        .collect()
}

fn subnet_config(s: &Subnet) -> SubnetConfig {
    SubnetConfig {
        subnet: s.cidr.to_string(),
        gateway: s.gateway.to_string(),
        ip_range: match s.range == s.cidr {
            true => String::new(),
            false => s.range.to_string(),
        },
    }
}
