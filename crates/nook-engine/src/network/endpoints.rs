//! A container's networking.  At create: its mode (`--network`) in the
//! spec (the namespace file `<root>/netns/<id>`, the engine's namespace
//! for `host`, another container's for `container:`), and its endpoints
//! with their addresses recorded, each in one transaction with the address
//! choice (`--ip`/`--ip6` checked there).  At start: the namespace file
//! made and every endpoint attached (veth `eth0`, `eth1`, ..., the default
//! route through the first network's gateway).  At exit and removal: the
//! namespace file removed (the kernel deletes the veths with it); the
//! endpoints stay with the record (the same addresses after a restart) and
//! go with it.  `network connect`/`disconnect` attach and detach live.

use super::networks::{endpoint_id, subnets};
use super::{format_mac, parse_mac, Mode, NetworkOptions};
use crate::container::{ContainerLock, LiveStatus};
use crate::{Engine, Error, Result};
use nook_network::attach::{self, AttachRequest};
use nook_network::netlink::Netlink;
use nook_network::netns::{self, Netns};
use nook_network::{link, sysctl};
use nook_state::{ContainerRecord, Endpoint, NetworkRecord};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;

/// The annotation keeping a container's `--network` mode.
const MODE: &str = "io.nook.network-mode";

/// The mode recorded in a container's spec.
fn recorded_mode(rec: &ContainerRecord) -> String {
    let spec: Value = serde_json::from_str(&rec.config).unwrap_or_default();
    spec["annotations"][MODE]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A random locally administered unicast MAC.
fn random_mac() -> Result<String> {
    let id = crate::container::random_id()?;
    let mut m = [0u8; 6];
    for (i, b) in m.iter_mut().enumerate() {
        *b = u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    m[0] = (m[0] & 0xfc) | 0x02;
    Ok(format_mac(&m))
}

/// The index of interface `ethN`.
fn if_index(ifname: &str) -> u8 {
    ifname
        .strip_prefix("eth")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Engine {
    /// Container `id`'s network namespace file.
    pub fn container_netns(&self, id: &str) -> PathBuf {
        self.root.join("netns").join(id)
    }

    /// The flags checked and the networks they name found (the default
    /// network recorded on first use), before anything is made.
    pub(crate) fn network_mode(&self, opts: &NetworkOptions) -> Result<Mode> {
        let mode = opts.mode()?;
        match &mode {
            Mode::Bridge(names) => {
                for n in names {
                    self.network(n)?;
                }
            }
            Mode::Container(c) => {
                self.container(c)?;
            }
            Mode::None | Mode::Host => {}
        }
        Ok(mode)
    }

    /// Record container `id`'s endpoints (addresses chosen); its addresses
    /// on its first network (for /etc/hosts).
    pub(crate) fn record_endpoints(
        &self,
        id: &str,
        mode: &Mode,
        opts: &NetworkOptions,
    ) -> Result<Vec<IpAddr>> {
        let Mode::Bridge(names) = mode else {
            return Ok(Vec::new());
        };
        let parse = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<IpAddr>().ok());
        let mut first = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let net = self.network(name)?;
            let mac = match (&opts.mac_address, i) {
                (Some(m), 0) => format_mac(&parse_mac(m)?),
                _ => random_mac()?,
            };
            let ep = Endpoint {
                container_id: id.to_string(),
                network: net.network.name.clone(),
                ifname: format!("eth{i}"),
                mac,
                aliases: opts.aliases.clone(),
                addresses: Vec::new(),
            };
            let (v4, v6) = match i {
                0 => (parse(&opts.ip), parse(&opts.ip6)),
                _ => (None, None),
            };
            let ep = self.take_addresses(&ep, v4, v6)?;
            if i == 0 {
                first = ep.addresses.iter().filter_map(|a| a.parse().ok()).collect();
            }
        }
        Ok(first)
    }

    /// Record endpoint `ep` with an address on each of its network's
    /// subnets (`v4`/`v6` when asked for), in one transaction.
    fn take_addresses(
        &self,
        ep: &Endpoint,
        v4: Option<IpAddr>,
        v6: Option<IpAddr>,
    ) -> Result<Endpoint> {
        let mut why = None;
        let made = self.state.attach_endpoint(ep, |net, used| {
            let choose = || -> Result<Vec<String>> {
                let used: HashSet<IpAddr> = used.iter().filter_map(|a| a.parse().ok()).collect();
                let subs = subnets(net)?;
                for ip in [v4, v6].into_iter().flatten() {
                    if !subs.iter().any(|s| s.cidr.is_ipv4() == ip.is_ipv4()) {
                        let why = format!("network {} has no subnet for it", net.network.name);
                        return Err(Error::invalid("address", ip, why));
                    }
                }
                let mut out = Vec::new();
                for s in &subs {
                    let ip = match if s.cidr.is_ipv4() { v4 } else { v6 } {
                        Some(ip) => {
                            s.check_requested(ip, &used)?;
                            ip
                        }
                        None => s.allocate(&used)?,
                    };
                    out.push(ip.to_string());
                }
                Ok(out)
            };
            choose().map_err(|e| {
                why = Some(e);
                nook_state::Error::NoSuchNetwork(String::new())
            })
        });
        match made {
            Ok(e) => Ok(e),
            Err(e) => Err(why.take().unwrap_or(e.into())),
        }
    }

    /// Point `spec`'s network namespace where `mode` says; record the mode.
    pub(crate) fn network_spec(&self, spec: &mut Value, id: &str, mode: &Mode) -> Result<()> {
        let path = match mode {
            // none: a namespace of its own that the runtime makes (lo up)
            Mode::None => None,
            Mode::Bridge(_) => Some(self.container_netns(id)),
            Mode::Host => self.netns_path().map(PathBuf::from),
            Mode::Container(c) => {
                let other = self.container(c)?.record.id;
                spec["annotations"]["io.nook.ns.network"] = json!(other);
                None
            }
        };
        if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
            match (mode, path) {
                (_, Some(p)) => ns.push(json!({"type": "network", "path": p})),
                (Mode::Container(_) | Mode::None, None) => ns.push(json!({"type": "network"})),
                _ => {}
            }
        }
        spec["annotations"][MODE] = json!(match mode {
            Mode::Bridge(_) => "bridge".to_string(),
            m => m.name(),
        });
        // what `ps --filter network=` matches: the first network, or the mode
        spec["annotations"]["io.nook.network"] = json!(mode.name());
        Ok(())
    }

    /// Before container `rec` starts: its namespace file made (afresh) and
    /// its endpoints attached; on failure nothing is left.
    pub(crate) fn network_up(&self, rec: &ContainerRecord) -> Result<()> {
        let path = self.container_netns(&rec.id);
        let spec: Value = serde_json::from_str(&rec.config).unwrap_or_default();
        let ours = spec["linux"]["namespaces"].as_array().is_some_and(|ns| {
            ns.iter()
                .any(|n| n["type"] == "network" && n["path"].as_str() == path.to_str())
        });
        if !ours {
            return Ok(());
        }
        let dir = self.root.join("netns");
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        netns::remove_file(&path)?;
        let ns = Netns::create_file(&path)?;
        let made = self.attach_all(rec, &ns);
        if made.is_err() {
            let _ = netns::remove_file(&path);
        }
        made
    }

    fn attach_all(&self, rec: &ContainerRecord, ns: &Netns) -> Result<()> {
        sysctl::write(ns, "net.ipv4.ping_group_range", "0 2147483647")?;
        let eps = self.state.container_endpoints(&rec.id)?;
        if eps.is_empty() {
            let mut nl = Netlink::open_in(ns)?;
            let lo = link::index(&mut nl, "lo", "the container")?;
            return Ok(link::set_up(&mut nl, lo, "lo")?);
        }
        let mut nl = self.host_netlink()?;
        let mut addresses = Vec::new();
        for (i, ep) in eps.iter().enumerate() {
            self.attach_endpoint_live(&mut nl, ns, ep, i == 0)?;
            addresses.extend(ep.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()));
        }
        self.publish_ports(rec, &addresses, self.netns_path())?;
        self.refresh_names(&rec.id, true);
        Ok(())
    }

    /// Attach endpoint `ep` to its network in namespace `ns` (its network
    /// made ready first); with `route`, the default routes through its
    /// gateways (not on an internal network).
    fn attach_endpoint_live(
        &self,
        nl: &mut Netlink,
        ns: &Netns,
        ep: &Endpoint,
        route: bool,
    ) -> Result<()> {
        let net: NetworkRecord = self.state.network(&ep.network)?;
        self.network_ready(&net)?;
        let subs = subnets(&net)?;
        let addresses: Vec<(IpAddr, u8)> = ep
            .addresses
            .iter()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .filter_map(|a| Some((a, subs.iter().find(|s| s.cidr.contains(a))?.cidr.prefix())))
            .collect();
        let gateways: Vec<IpAddr> = match route && !net.network.internal {
            true => subs
                .iter()
                .filter(|s| addresses.iter().any(|(a, _)| s.cidr.contains(*a)))
                .map(|s| s.gateway)
                .collect(),
            false => Vec::new(),
        };
        let host_ifname = attach::host_veth_name(&ep.container_id, if_index(&ep.ifname))?;
        let mac = parse_mac(&ep.mac).ok();
        attach::attach(
            nl,
            &AttachRequest {
                container: ns,
                bridge: &net.network.bridge,
                host_ifname: &host_ifname,
                ifname: &ep.ifname,
                addresses: &addresses,
                gateways: &gateways,
                mac,
                mtu: super::networks::mtu(&net.network.options)?,
            },
        )?;
        Ok(())
    }

    /// After container `id` has exited or as it is removed: its namespace
    /// file removed (the kernel deletes its veths).  Best effort.
    pub(crate) fn network_down(&self, id: &str) {
        self.refresh_names(id, false);
        let _ = self.unpublish_ports(id, self.netns_path());
        let _ = netns::remove_file(self.container_netns(id));
    }

    /// `network connect`: container `word` put on network `net` (with
    /// addresses `ips` asked for, `--ip` and `--ip6`, and `aliases`);
    /// attached at once when it runs.
    pub fn connect_network(
        &self,
        net: &str,
        word: &str,
        ips: &[&str],
        aliases: &[String],
    ) -> Result<()> {
        let c = self.container(word)?;
        let id = c.record.id.clone();
        if recorded_mode(&c.record) != "bridge" {
            return Err(Error::invalid(
                "container",
                &c.record.name,
                "a container on network none or host, or sharing another's, cannot be connected to a network",
            ));
        }
        let ips = ips
            .iter()
            .map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|_| Error::invalid("--ip", s, "not an IP address"))
            })
            .collect::<Result<Vec<_>>>()?;
        let net = self.network(net)?;
        let _lock = ContainerLock::take(&self.container_dir(&id));
        let eps = self.state.container_endpoints(&id)?;
        let used: HashSet<u8> = eps.iter().map(|e| if_index(&e.ifname)).collect();
        let index = (0..36u8).find(|i| !used.contains(i)).unwrap_or(35);
        let ep = Endpoint {
            container_id: id.clone(),
            network: net.network.name.clone(),
            ifname: format!("eth{index}"),
            mac: random_mac()?,
            aliases: aliases.to_vec(),
            addresses: Vec::new(),
        };
        let v4 = ips.iter().copied().find(IpAddr::is_ipv4);
        let v6 = ips.iter().copied().find(IpAddr::is_ipv6);
        let ep = self.take_addresses(&ep, v4, v6)?;
        let path = self.container_netns(&id);
        let c = self.container(&id)?;
        if c.status == LiveStatus::Running && path.exists() {
            let attached = Netns::open(&path).map_err(Error::from).and_then(|ns| {
                let mut nl = self.host_netlink()?;
                self.attach_endpoint_live(&mut nl, &ns, &ep, eps.is_empty())
            });
            if let Err(e) = attached {
                let _ = self.state.detach_endpoint(&id, &ep.network);
                return Err(e);
            }
            self.refresh_names(&id, true);
        }
        Ok(())
    }

    /// `network disconnect`: container `word` taken off network `net` (its
    /// interface removed at once when it runs, its addresses freed).
    pub fn disconnect_network(&self, net: &str, word: &str, force: bool) -> Result<()> {
        let c = self.container(word)?;
        let id = c.record.id.clone();
        let net = self.state.network(net)?;
        let _lock = ContainerLock::take(&self.container_dir(&id));
        let eps = self.state.container_endpoints(&id)?;
        let Some(ep) = eps.iter().find(|e| e.network == net.network.name) else {
            if force {
                return Ok(());
            }
            return Err(Error::invalid(
                "network",
                &net.network.name,
                format!("container {} is not connected to it", c.record.name),
            ));
        };
        if c.status == LiveStatus::Running {
            let host_ifname = attach::host_veth_name(&id, if_index(&ep.ifname))?;
            let mut nl = self.host_netlink()?;
            attach::detach(&mut nl, &host_ifname)?;
        }
        self.state.detach_endpoint(&id, &ep.network)?;
        self.forget_name(&net, &id);
        Ok(())
    }

    /// The networks container `rec` is on, as `ps` shows them (its mode
    /// when it has no network of its own).
    pub fn network_names(&self, rec: &ContainerRecord) -> String {
        let eps = self.state.container_endpoints(&rec.id).unwrap_or_default();
        match eps.is_empty() {
            true => recorded_mode(rec),
            false => eps
                .iter()
                .map(|e| e.network.as_str())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The networks of every container that is on one, by container id
    /// (one query: what `ps` shows).
    pub fn networks_by_container(&self) -> Result<std::collections::HashMap<String, Vec<String>>> {
        let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
        for ep in self.state.all_endpoints()? {
            out.entry(ep.container_id).or_default().push(ep.network);
        }
        Ok(out)
    }

    /// `inspect`'s NetworkSettings of container `rec`.
    pub fn network_settings(&self, rec: &ContainerRecord) -> Value {
        let eps = self.state.container_endpoints(&rec.id).unwrap_or_default();
        let mut networks = serde_json::Map::new();
        let mut first: Option<Value> = None;
        for ep in &eps {
            let Ok(net) = self.state.network(&ep.network) else {
                continue;
            };
            let subs = subnets(&net).unwrap_or_default();
            let addr = |v4: bool| {
                ep.addresses
                    .iter()
                    .filter_map(|a| a.parse::<IpAddr>().ok())
                    .find(|a| a.is_ipv4() == v4)
                    .and_then(|a| subs.iter().find(|s| s.cidr.contains(a)).map(|s| (a, s)))
            };
            let (ip, prefix, gw) = addr(true)
                .map(|(a, s)| (a.to_string(), s.cidr.prefix(), s.gateway.to_string()))
                .unwrap_or_default();
            let (ip6, prefix6, gw6) = addr(false)
                .map(|(a, s)| (a.to_string(), s.cidr.prefix(), s.gateway.to_string()))
                .unwrap_or_default();
            let v = json!({
                "IPAMConfig": null, "Links": null, "Aliases": ep.aliases,
                "MacAddress": ep.mac, "NetworkID": net.network.id,
                "EndpointID": endpoint_id(&rec.id, &net.network.id),
                "Gateway": gw, "IPAddress": ip, "IPPrefixLen": prefix,
                "IPv6Gateway": gw6, "GlobalIPv6Address": ip6, "GlobalIPv6PrefixLen": prefix6,
                "DNSNames": null,
            });
            first.get_or_insert_with(|| v.clone());
            networks.insert(ep.network.clone(), v);
        }
        let mode = recorded_mode(rec);
        if eps.is_empty() && (mode == "none" || mode == "host") {
            networks.insert(
                mode.clone(),
                json!({"IPAMConfig": null, "Links": null, "Aliases": null,
                "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                "IPPrefixLen": 0, "MacAddress": ""}),
            );
        }
        let f = first.unwrap_or_else(|| json!({}));
        let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
        let key = self.container_netns(&rec.id);
        json!({
            "Bridge": "", "SandboxID": "", "HairpinMode": false, "Ports": {},
            "SandboxKey": if key.exists() { key.display().to_string() } else { String::new() },
            "IPAddress": s("IPAddress"), "IPPrefixLen": f["IPPrefixLen"].as_u64().unwrap_or(0),
            "Gateway": s("Gateway"), "MacAddress": s("MacAddress"),
            "GlobalIPv6Address": s("GlobalIPv6Address"), "IPv6Gateway": s("IPv6Gateway"),
            "Networks": networks,
        })
    }
}
