//! Networking: the engine's network namespace (where nook's bridges, the
//! host ends of containers' veths, its nftables table and `--network host`
//! containers live: [`crate::EngineOptions::netns`], else the caller's),
//! and everything done in it.  Every host-side operation goes through
//! [`Engine::host_netlink`] or [`Engine::in_host_netns`], never through the
//! caller's own namespace implicitly.
//!
//! - [`networks`]: bridge networks: create (the default one on first use),
//!   list, inspect, remove, prune; a network's bridge and firewall rules
//!   made ready.
//! - [`endpoints`]: a container's side: its mode (`--network`), its
//!   endpoints and addresses recorded at create, its namespace file and
//!   veths made at start and removed at exit, connect and disconnect.
//! - `dns`: the names of running containers on each network, served by
//!   the `nook-dns` responder.
//! - [`ports`]: published ports (`-p`, `-P`, `--expose`): parsed, host
//!   ports chosen and held in the store, mapped by the firewall.

mod dns;
pub mod endpoints;
pub mod networks;
pub mod ports;

/// The metadata store's errors (`network rm -f` tells a missing network).
pub use nook_state::Error as StateError;

use crate::{Engine, Error, Result};
use nook_network::link::Mac;
use nook_network::netlink::Netlink;
use nook_network::netns::Netns;
use std::net::IpAddr;
use std::path::Path;

/// The default network's name (its bridge: [`DEFAULT_BRIDGE`]).
pub const DEFAULT_NETWORK: &str = "nook";

/// The default network's bridge.
pub const DEFAULT_BRIDGE: &str = "nook0";

/// `run`'s network flags as given.
#[derive(Clone, Debug, Default)]
pub struct NetworkOptions {
    /// `--network` (repeated, or comma-separated): `none`, `host`,
    /// `container:NAME`, or networks (the default network when empty).
    pub networks: Vec<String>,
    /// `--ip` on the first network.
    pub ip: Option<String>,
    /// `--ip6` on the first network.
    pub ip6: Option<String>,
    /// `--mac-address` of the first network's interface.
    pub mac_address: Option<String>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
}

/// Where a container's network namespace comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Its own, with only `lo`.
    None,
    /// The engine's.
    Host,
    /// Another container's (a name or id).
    Container(String),
    /// Its own, joined to these networks (eth0, eth1, ... in this order).
    Bridge(Vec<String>),
}

impl Mode {
    /// As `HostConfig.NetworkMode` shows it.
    pub fn name(&self) -> String {
        match self {
            Mode::None => "none".into(),
            Mode::Host => "host".into(),
            Mode::Container(c) => format!("container:{c}"),
            Mode::Bridge(n) => n.first().cloned().unwrap_or_default(),
        }
    }
}

impl NetworkOptions {
    /// The flags checked (every value, before anything is made).
    pub fn mode(&self) -> Result<Mode> {
        let words: Vec<&str> = self
            .networks
            .iter()
            .flat_map(|n| n.split(','))
            .map(str::trim)
            .collect();
        let special = |w: &str| matches!(w, "none" | "host") || w.starts_with("container:");
        let mode = match words.as_slice() {
            [] => Mode::Bridge(vec![DEFAULT_NETWORK.into()]),
            ["none"] => Mode::None,
            ["host"] => Mode::Host,
            [w] if w.starts_with("container:") => match &w["container:".len()..] {
                "" => return Err(Error::invalid("--network", w, "use container:NAME")),
                c => Mode::Container(c.to_string()),
            },
            ws => {
                if let Some(w) = ws.iter().find(|w| special(w) || w.is_empty()) {
                    return Err(Error::invalid(
                        "--network",
                        w,
                        "none, host and container:NAME cannot be combined with other networks",
                    ));
                }
                let mut names: Vec<String> = Vec::new();
                for w in ws {
                    let n = if *w == "bridge" { DEFAULT_NETWORK } else { w };
                    if !names.iter().any(|x| x == n) {
                        names.push(n.to_string());
                    }
                }
                Mode::Bridge(names)
            }
        };
        self.check(&mode)?;
        Ok(mode)
    }

    fn check(&self, mode: &Mode) -> Result<()> {
        let bridged = matches!(mode, Mode::Bridge(_));
        for (flag, v, v4) in [("--ip", &self.ip, true), ("--ip6", &self.ip6, false)] {
            let Some(v) = v else { continue };
            let ip: IpAddr = v
                .parse()
                .map_err(|_| Error::invalid(flag, v, "not an IP address"))?;
            if ip.is_ipv4() != v4 {
                let want = if v4 { "an IPv4" } else { "an IPv6" };
                return Err(Error::invalid(flag, v, format!("not {want} address")));
            }
            if !bridged {
                return Err(Error::invalid(flag, v, "needs a bridge network"));
            }
        }
        if let Some(m) = &self.mac_address {
            parse_mac(m)?;
            if !bridged {
                return Err(Error::invalid("--mac-address", m, "needs a bridge network"));
            }
        }
        if let Some(a) = self.aliases.iter().find(|a| !valid_alias(a)) {
            return Err(Error::invalid("--network-alias", a, "not a host name"));
        }
        if let (Some(a), false) = (self.aliases.first(), bridged) {
            return Err(Error::invalid(
                "--network-alias",
                a,
                "needs a bridge network",
            ));
        }
        Ok(())
    }
}

fn valid_alias(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 253
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A MAC address as `--mac-address` takes it (`02:42:ac:11:00:02`):
/// unicast only.
pub fn parse_mac(s: &str) -> Result<Mac> {
    let bad = |why: &str| Error::invalid("--mac-address", s, why);
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad("use six hex bytes, e.g. 02:42:ac:11:00:02"));
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return Err(bad("use six hex bytes, e.g. 02:42:ac:11:00:02"));
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad("not hex"))?;
    }
    if mac[0] & 1 == 1 {
        return Err(bad("a multicast address"));
    }
    if mac == [0; 6] {
        return Err(bad("the zero address"));
    }
    Ok(mac)
}

/// A MAC address as Docker writes it.
pub fn format_mac(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A held `<root>/network.lock` (released when dropped).
pub(crate) struct NetworkLock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

impl Engine {
    /// Take `<root>/network.lock`: networks' bridges and firewall rules are
    /// made and removed under it, one process at a time.
    pub(crate) fn network_lock(&self) -> Result<NetworkLock> {
        let path = self.root.join("network.lock");
        let mut file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        loop {
            match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive) {
                Ok(l) => return Ok(NetworkLock(l)),
                Err((f, nix::errno::Errno::EINTR)) => file = f,
                Err((_, e)) => return Err(Error::io("lock", &path)(e.into())),
            }
        }
    }

    /// The engine's network namespace file, when one was given.
    pub fn netns_path(&self) -> Option<&Path> {
        self.options.netns.as_deref()
    }

    /// The engine's network namespace, open.
    pub fn host_netns(&self) -> Result<Netns> {
        Ok(match self.netns_path() {
            Some(p) => Netns::open(p)?,
            None => Netns::current()?,
        })
    }

    /// A rtnetlink socket in the engine's network namespace.
    pub fn host_netlink(&self) -> Result<Netlink> {
        Ok(match self.netns_path() {
            Some(p) => Netlink::open_in(&Netns::open(p)?)?,
            None => Netlink::open()?,
        })
    }

    /// Runs `f` on a short-lived thread inside the engine's network
    /// namespace (processes it spawns, such as `nft`, start there).
    pub fn in_host_netns<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let ns = self.host_netns()?;
        let mut out = None;
        ns.run("enter the engine's network namespace", || {
            out = Some(f());
            Ok(())
        })?;
        out.unwrap_or_else(|| Err(crate::Error::Monitor("network thread ended early".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(nets: &[&str]) -> NetworkOptions {
        NetworkOptions {
            networks: nets.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn modes_parse_as_dockers() {
        assert_eq!(opts(&[]).mode().unwrap(), Mode::Bridge(vec!["nook".into()]));
        assert_eq!(opts(&["none"]).mode().unwrap(), Mode::None);
        assert_eq!(opts(&["host"]).mode().unwrap(), Mode::Host);
        assert_eq!(
            opts(&["container:web"]).mode().unwrap(),
            Mode::Container("web".into())
        );
        assert_eq!(
            opts(&["a,b", "bridge", "a"]).mode().unwrap(),
            Mode::Bridge(vec!["a".into(), "b".into(), "nook".into()])
        );
        for bad in [&["none", "a"][..], &["host,a"], &["container:"], &["a,,b"]] {
            assert!(opts(bad).mode().is_err(), "{bad:?}");
        }
        let mut o = opts(&["none"]);
        o.ip = Some("10.0.0.2".into());
        assert!(o.mode().unwrap_err().to_string().contains("10.0.0.2"));
        let mut o = opts(&[]);
        o.ip = Some("fd00::2".into());
        assert!(o.mode().unwrap_err().to_string().contains("IPv4"));
        o.ip = None;
        o.ip6 = Some("fd00::2".into());
        o.aliases = vec!["db".into()];
        assert!(o.mode().is_ok());
        o.aliases = vec!["a b".into()];
        assert!(o.mode().is_err());
    }

    #[test]
    fn macs() {
        let m = parse_mac("02:42:AC:11:00:02").unwrap();
        assert_eq!(format_mac(&m), "02:42:ac:11:00:02");
        for bad in [
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
            "02:42:ac:11:00",
            "zz:42:ac:11:00:02",
        ] {
            let e = parse_mac(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
