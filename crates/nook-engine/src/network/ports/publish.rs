//! Making a container's published ports real at start and undoing it at
//! stop: each asked binding resolved to host addresses (an empty address:
//! `0.0.0.0`, and `::` when the container has IPv6) and a host port (the
//! one given, a free one of a range, or a free one of the ephemeral range
//! `net.ipv4.ip_local_port_range`, as Docker picks), chosen and recorded in
//! the store in one transaction (no two containers hold one), checked free
//! on the host by binding it (in the engine's network namespace), then
//! mapped by nook's firewall.  Any failure leaves nothing: no row, no rule.

use super::{HostBinding, PortError, PortKey, PortOptions, Protocol};
use crate::{Engine, Result};
use nook_network::firewall::{self, ContainerPorts, Firewall, PortMapping};
use nook_network::netns::Netns;
use nook_state::{ContainerRecord, PortBinding};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// A host port published for a container port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PublishedPort {
    /// The container port.
    pub key: PortKey,
    /// The host address (`0.0.0.0` / `::`: every address of its family).
    pub host_ip: IpAddr,
    /// The host port.
    pub host_port: u16,
}

impl PublishedPort {
    /// `0.0.0.0:8080`, `[::]:8080`, as `nook port` writes it.
    pub fn host_text(&self) -> String {
        match self.host_ip {
            IpAddr::V6(a) => format!("[{a}]:{}", self.host_port),
            a => format!("{a}:{}", self.host_port),
        }
    }
}

/// Where a binding's host port may come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    Fixed(u16),
    Range(u16, u16),
    Any,
}

/// One asked binding, resolved to the host addresses it takes.
#[derive(Clone, Debug)]
struct Want {
    key: PortKey,
    addresses: Vec<IpAddr>,
    choice: Choice,
    /// The address as messages name it (`0.0.0.0` for every address).
    shown: String,
}

fn bracketed(a: IpAddr) -> String {
    match a {
        IpAddr::V6(a) => format!("[{a}]"),
        a => a.to_string(),
    }
}

/// `b` resolved for a container with `v4` / `v6` addresses.
fn want(key: PortKey, b: &HostBinding, v4: bool, v6: bool) -> std::result::Result<Want, PortError> {
    let choice = match b.host_port.as_str() {
        "" | "0" => Choice::Any,
        p => match super::parse_range(p) {
            Ok((0, _)) | Err(_) => return Err(super::invalid(format!("invalid hostPort: {p}"))),
            Ok((a, z)) if a == z => Choice::Fixed(a),
            Ok((a, z)) => Choice::Range(a, z),
        },
    };
    let (addresses, shown) = match b.host_ip.as_str() {
        "" => {
            let mut all = Vec::new();
            if v4 {
                all.push(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            }
            if v6 {
                all.push(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
            }
            (all, bracketed(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
        }
        ip => {
            let a: IpAddr = ip
                .parse()
                .map_err(|_| super::invalid(format!("invalid IP address: {ip}")))?;
            if (a.is_ipv4() && !v4) || (a.is_ipv6() && !v6) {
                return Err(super::invalid(format!(
                    "cannot publish {key} on {ip}: the container has no address of that family"
                )));
            }
            (vec![a], bracketed(a))
        }
    };
    Ok(Want {
        key,
        addresses,
        choice,
        shown,
    })
}

/// The kernel's ephemeral port range in the calling thread's namespace.
fn ephemeral_range() -> (u16, u16) {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .filter_map(|w| w.parse::<u16>().ok());
    match (it.next(), it.next()) {
        (Some(a), Some(z)) if a > 0 && a <= z => (a, z),
        _ => (32768, 60999),
    }
}

/// Whether a process could take `b` on this host: bound and let go at
/// once (SCTP is not checked).  The error is the kernel's, in words.
fn bind_test(b: &PortBinding) -> std::result::Result<(), String> {
    let addr = std::net::SocketAddr::new(b.host_ip, b.host_port);
    let r = match b.protocol.as_str() {
        "tcp" => std::net::TcpListener::bind(addr).map(drop),
        "udp" => std::net::UdpSocket::bind(addr).map(drop),
        _ => Ok(()),
    };
    r.map_err(|e| {
        let text = match e.raw_os_error() {
            Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
            None => e.to_string(),
        };
        let mut c = text.chars();
        c.next()
            .map(|f| f.to_lowercase().chain(c).collect())
            .unwrap_or_default()
    })
}

/// The ports `w` may take, in the order tried.
fn candidates(w: &Want, ephemeral: (u16, u16), seed: u32) -> Vec<u16> {
    let (a, z) = match w.choice {
        Choice::Fixed(p) => return vec![p],
        Choice::Range(a, z) => return (a..=z).collect(),
        Choice::Any => ephemeral,
    };
    let n = u32::from(z - a) + 1;
    (0..n).map(|i| a + ((seed + i) % n) as u16).collect()
}

/// The bindings for `wants`, none of which conflicts with `used` or is
/// held on the host.
fn choose(
    wants: &[Want],
    used: &[PortBinding],
    seed: u32,
) -> std::result::Result<Vec<PortBinding>, PortError> {
    let ephemeral = ephemeral_range();
    let mut taken: Vec<PortBinding> = used.to_vec();
    let mut out = Vec::new();
    for w in wants {
        let mut found = false;
        for port in candidates(w, ephemeral, seed) {
            let rows: Vec<PortBinding> = w
                .addresses
                .iter()
                .map(|ip| PortBinding {
                    container_id: String::new(),
                    host_ip: *ip,
                    host_port: port,
                    protocol: w.key.protocol.name().into(),
                    container_port: w.key.port,
                })
                .collect();
            let fixed = matches!(w.choice, Choice::Fixed(_));
            if rows
                .iter()
                .any(|r| taken.iter().any(|t| t.conflicts_with(r)))
            {
                if fixed {
                    return Err(nook_state::Error::PortAllocated {
                        address: w.shown.clone(),
                        port,
                    }
                    .into());
                }
                continue;
            }
            if let Err(reason) = rows.iter().try_for_each(bind_test) {
                if fixed {
                    return Err(PortError::Host {
                        address: w.shown.clone(),
                        port: port.to_string(),
                        reason,
                    });
                }
                continue;
            }
            taken.extend(rows.iter().cloned());
            out.extend(rows);
            found = true;
            break;
        }
        if !found {
            let (a, z) = match w.choice {
                Choice::Range(a, z) => (a, z),
                _ => ephemeral,
            };
            return Err(PortError::Exhausted {
                address: w.shown.clone(),
                range: format!("{a}-{z}"),
            });
        }
    }
    Ok(out)
}

/// `f` run in the network namespace at `netns` (here when `None`).
fn in_ns<T, F>(netns: Option<&Path>, op: &'static str, f: F) -> std::result::Result<T, PortError>
where
    T: Send,
    F: FnOnce() -> std::result::Result<T, PortError> + Send,
{
    match netns {
        None => f(),
        Some(p) => Netns::open(p)?.run(op, || Ok(f()))?,
    }
}

/// The firewall's request for container `id` at `addresses`.
fn firewall_ports(id: &str, addresses: &[IpAddr], rows: &[PortBinding]) -> ContainerPorts {
    let protocol = |p: &str| match p {
        "udp" => firewall::Protocol::Udp,
        "sctp" => firewall::Protocol::Sctp,
        _ => firewall::Protocol::Tcp,
    };
    ContainerPorts {
        container_id: id.to_string(),
        ipv4: addresses.iter().find_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            _ => None,
        }),
        ipv6: addresses.iter().find_map(|a| match a {
            IpAddr::V6(a) => Some(*a),
            _ => None,
        }),
        ports: rows
            .iter()
            .map(|r| PortMapping {
                host_ip: Some(r.host_ip),
                host_port: r.host_port,
                container_port: r.container_port,
                count: 1,
                protocol: protocol(&r.protocol),
            })
            .collect(),
    }
}

impl Engine {
    /// Publishes the ports container `rec` asks for (`-p`, `-P`), leading to
    /// its `addresses`, with the firewall of the network namespace at
    /// `netns` (the caller's own when `None`); replaces what it had.  A
    /// taken port is Docker's "Bind for 0.0.0.0:8080 failed: port is
    /// already allocated"; on any error nothing is left published.
    pub(crate) fn publish_ports(
        &self,
        rec: &ContainerRecord,
        addresses: &[IpAddr],
        netns: Option<&Path>,
    ) -> Result<()> {
        let spec: serde_json::Value = serde_json::from_str(&rec.config).unwrap_or_default();
        let requests = PortOptions::from_spec(&spec).requests();
        if requests.is_empty() || addresses.is_empty() {
            return Ok(());
        }
        let (v4, v6) = (
            addresses.iter().any(IpAddr::is_ipv4),
            addresses.iter().any(IpAddr::is_ipv6),
        );
        let wants = requests
            .iter()
            .map(|(k, b)| want(*k, b, v4, v6))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let seed = crate::container::now_nanos().unsigned_abs() as u32;
        let chosen = self.state().bind_ports(&rec.id, |used| {
            in_ns(netns, "choose host ports", || choose(&wants, used, seed))
        });
        let rows = match chosen {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => return Err(self.unpublish_after(&rec.id, netns, e)),
            Err(e) => return Err(self.unpublish_after(&rec.id, netns, e.into())),
        };
        let ports = firewall_ports(&rec.id, addresses, &rows);
        in_ns(netns, "publish ports", || {
            Ok(Firewall::new().add_ports(&ports)?)
        })
        .map_err(|e| self.unpublish_after(&rec.id, netns, e))
    }

    /// `e`, after whatever container `id` had published is undone.
    fn unpublish_after(&self, id: &str, netns: Option<&Path>, e: PortError) -> crate::Error {
        let _ = in_ns(netns, "unpublish ports", || {
            Ok(Firewall::new().remove_ports(id)?)
        });
        let _ = self.state().unbind_ports(id);
        e.into()
    }

    /// Removes container `id`'s published ports (its firewall mappings in
    /// the network namespace at `netns`, then its hold on the host ports).
    /// Idempotent; costs nothing for a recorded container that holds no
    /// port (mappings go before the hold, so none can be left); once its
    /// record is removed (its hold went with it) the mappings are removed
    /// by its id whatever it had.
    pub(crate) fn unpublish_ports(&self, id: &str, netns: Option<&Path>) -> Result<()> {
        let held = !self.state().port_bindings(id)?.is_empty();
        if !held && self.state().container(id)?.is_some() {
            return Ok(());
        }
        in_ns(netns, "unpublish ports", || {
            Ok(Firewall::new().remove_ports(id)?)
        })?;
        self.state().unbind_ports(id)?;
        Ok(())
    }

    /// Removes the firewall mappings of containers that hold no host port
    /// in the store (a crash between a stop's two steps, or a container
    /// removed meanwhile), in the network namespace at `netns`; their ids.
    #[allow(dead_code)] // until the network wiring's reconcile calls it
    pub(crate) fn reconcile_ports(&self, netns: Option<&Path>) -> Result<Vec<String>> {
        let held: std::collections::BTreeSet<String> = self
            .state()
            .all_port_bindings()?
            .into_iter()
            .map(|b| b.container_id)
            .collect();
        let removed = in_ns(netns, "reconcile published ports", || {
            let fw = Firewall::new();
            let stale: Vec<String> = fw
                .containers_with_ports()?
                .into_iter()
                .filter(|id| !held.contains(id))
                .collect();
            for id in &stale {
                fw.remove_ports(id)?;
            }
            Ok(stale)
        })?;
        Ok(removed)
    }

    /// Fails with Docker's "port is already allocated" when a host port
    /// `opts` names (not a range, not a free one) is held by another
    /// container now: `run` checks before it creates anything.  Only a
    /// first check: the start decides, in one transaction.
    pub fn check_ports_free(&self, opts: &PortOptions) -> Result<()> {
        let held = self.state().all_port_bindings()?;
        for (key, b) in opts.requests() {
            let w = want(key, &b, true, b.host_ip.contains(':'))?;
            let Choice::Fixed(port) = w.choice else {
                continue;
            };
            let taken = w.addresses.iter().any(|ip| {
                let row = PortBinding {
                    container_id: String::new(),
                    host_ip: *ip,
                    host_port: port,
                    protocol: key.protocol.name().into(),
                    container_port: key.port,
                };
                held.iter().any(|h| h.conflicts_with(&row))
            });
            if taken {
                let address = w.shown;
                return Err(
                    PortError::from(nook_state::Error::PortAllocated { address, port }).into(),
                );
            }
        }
        Ok(())
    }

    /// The host ports container `id` holds now, by container port.
    pub fn published_ports(&self, id: &str) -> Result<Vec<PublishedPort>> {
        let mut out: Vec<PublishedPort> = self
            .state()
            .port_bindings(id)?
            .into_iter()
            .filter_map(|b| {
                Some(PublishedPort {
                    key: PortKey {
                        port: b.container_port,
                        protocol: Protocol::parse(&b.protocol)?,
                    },
                    host_ip: b.host_ip,
                    host_port: b.host_port,
                })
            })
            .collect();
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PortKey {
        s.parse().unwrap()
    }

    fn hb(ip: &str, port: &str) -> HostBinding {
        HostBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn wants_resolve_addresses_and_ports() {
        let w = want(key("80/tcp"), &hb("", "8080"), true, true).unwrap();
        assert_eq!(w.addresses.len(), 2);
        assert_eq!(
            (w.choice, w.shown.as_str()),
            (Choice::Fixed(8080), "0.0.0.0")
        );
        let w = want(key("80/tcp"), &hb("", ""), true, false).unwrap();
        assert_eq!((w.addresses.len(), w.choice), (1, Choice::Any));
        let w = want(key("80/tcp"), &hb("::1", "8000-8010"), false, true).unwrap();
        assert_eq!(
            (w.choice, w.shown.as_str()),
            (Choice::Range(8000, 8010), "[::1]")
        );
        let e = want(key("80/tcp"), &hb("::1", "80"), true, false).unwrap_err();
        assert!(e.to_string().contains("no address of that family"), "{e}");
        assert_eq!(candidates(&w, (1, 2), 0), (8000..=8010).collect::<Vec<_>>());
        let any = want(key("80/tcp"), &hb("", "0"), true, false).unwrap();
        assert_eq!(candidates(&any, (10, 14), 3), [13, 14, 10, 11, 12]);
    }

    fn row(ip: &str, port: u16) -> PortBinding {
        PortBinding {
            container_id: "other".into(),
            host_ip: ip.parse().unwrap(),
            host_port: port,
            protocol: "tcp".into(),
            container_port: 80,
        }
    }

    #[test]
    fn choose_skips_held_ports_and_names_a_taken_fixed_one() {
        // ports far from anything a test binds, on loopback only
        let lo = |p: &str| want(key("80/tcp"), &hb("127.0.0.1", p), true, false).unwrap();
        let used = [row("0.0.0.0", 41001), row("127.0.0.1", 41002)];
        let got = choose(&[lo("41001-41003")], &used, 0).unwrap();
        assert_eq!(got[0].host_port, 41003);
        let e = choose(&[lo("41002")], &used, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bind for 127.0.0.1:41002 failed: port is already allocated"
        );
        let e = choose(&[lo("41001-41002")], &used, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bind for 127.0.0.1:41001-41002 failed: all ports are allocated"
        );
        // a port a process on the host holds
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port().to_string();
        let e = choose(&[lo(&p)], &[], 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Bind for 127.0.0.1:{p} failed: address already in use")
        );
        // two container ports asking for one host port
        let e = choose(&[lo("41005"), lo("41005")], &[], 0).unwrap_err();
        assert!(e.to_string().contains("already allocated"), "{e}");
    }
}
