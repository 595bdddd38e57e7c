//! A container's /etc/hosts, /etc/hostname and /etc/resolv.conf, written
//! into its directory and bound over the image's: the host's resolvers
//! (less loopback ones: the container's network namespace has its own
//! loopback) unless `--dns`, `--dns-search`, `--dns-option` say otherwise,
//! and `--add-host` entries, checked and written as Docker writes them.

use crate::{Error, Result};
use std::net::IpAddr;
use std::path::Path;

/// The flags that shape the files.
#[derive(Clone, Debug, Default)]
pub struct EtcOptions {
    /// `--dns IP`: the nameservers (the host's when empty).
    pub dns: Vec<String>,
    /// `--dns-search DOMAIN` (`.` for none).
    pub dns_search: Vec<String>,
    /// `--dns-option OPT`.
    pub dns_options: Vec<String>,
    /// `--add-host NAME:IP` (or `NAME=IP`; IPv6 may be in brackets).
    pub add_hosts: Vec<String>,
    /// The container's own addresses (on its first network): its hostname
    /// resolves to them instead of 127.0.0.1.
    pub own_addresses: Vec<IpAddr>,
    /// nook's name server on the container's networks (their gateways):
    /// the nameservers, with the search domain `dns.nook`, unless `--dns`.
    pub name_servers: Vec<IpAddr>,
}

/// One `--add-host` as (name, address).
pub fn parse_add_host(arg: &str) -> Result<(String, IpAddr)> {
    let bad = |why: &str| Error::invalid("--add-host", arg, why);
    let (name, ip) = arg
        .split_once('=')
        .or_else(|| arg.split_once(':'))
        .ok_or_else(|| bad("use NAME:IP"))?;
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '#') {
        return Err(bad("the name is not a host name"));
    }
    if ip == "host-gateway" {
        return Err(bad(
            "host-gateway needs a bridge network (nook runs this container without one)",
        ));
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = ip.parse().map_err(|_| bad("invalid IP address"))?;
    Ok((name.to_string(), ip))
}

impl EtcOptions {
    /// The flags checked (every value, before anything is made).
    pub fn check(&self) -> Result<()> {
        for d in &self.dns {
            d.parse::<IpAddr>()
                .map_err(|_| Error::invalid("--dns", d, "not an IP address"))?;
        }
        for d in &self.dns_search {
            if d.is_empty() || d.chars().any(char::is_whitespace) {
                return Err(Error::invalid("--dns-search", d, "not a domain name"));
            }
        }
        for o in &self.dns_options {
            if o.is_empty() || o.chars().any(char::is_whitespace) {
                return Err(Error::invalid(
                    "--dns-option",
                    o,
                    "one option, without spaces",
                ));
            }
        }
        for h in &self.add_hosts {
            parse_add_host(h)?;
        }
        Ok(())
    }

    /// resolv.conf from the host's (`host`) and the flags.
    pub fn resolv_conf(&self, host: &str) -> String {
        let mut out = String::new();
        let mut search = None;
        let mut options = None;
        for l in host.lines() {
            let mut w = l.split_whitespace();
            match w.next() {
                Some("nameserver") => {
                    let a = w.next().unwrap_or_default();
                    let ours = !self.name_servers.is_empty();
                    if self.dns.is_empty() && !ours && !(a.starts_with("127.") || a == "::1") {
                        out.push_str(&format!("nameserver {a}\n"));
                    }
                }
                Some("search" | "domain") => search = Some(l.to_string()),
                Some("options") => options = Some(l.to_string()),
                _ => {}
            }
        }
        for d in &self.dns {
            out.push_str(&format!("nameserver {d}\n"));
        }
        if self.dns.is_empty() && !self.name_servers.is_empty() {
            for a in self.name_servers.iter().take(3) {
                out.push_str(&format!("nameserver {a}\n"));
            }
            let host_search = search.as_deref().map_or("", |l| {
                l.split_once(char::is_whitespace)
                    .map_or("", |(_, d)| d.trim())
            });
            search = Some(
                format!("search dns.nook {host_search}")
                    .trim_end()
                    .to_string(),
            );
        }
        if !self.dns_search.is_empty() {
            let list: Vec<&str> = self
                .dns_search
                .iter()
                .map(String::as_str)
                .filter(|d| *d != ".")
                .collect();
            search = (!list.is_empty()).then(|| format!("search {}", list.join(" ")));
        }
        if !self.dns_options.is_empty() {
            options = Some(format!("options {}", self.dns_options.join(" ")));
        }
        for l in [search, options].into_iter().flatten() {
            out.push_str(&l);
            out.push('\n');
        }
        out
    }

    /// /etc/hosts for a container named `hostname`.
    pub fn hosts(&self, hostname: &str) -> Result<String> {
        let mut out = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n",
        );
        for h in &self.add_hosts {
            let (name, ip) = parse_add_host(h)?;
            out.push_str(&format!("{ip}\t{name}\n"));
        }
        if self.own_addresses.is_empty() {
            out.push_str(&format!("127.0.0.1\t{hostname}\n"));
        }
        for a in &self.own_addresses {
            out.push_str(&format!("{a}\t{hostname}\n"));
        }
        Ok(out)
    }
}

/// Write `hosts`, `hostname` and `resolv.conf` for a container named
/// `hostname` into `dir`.
pub fn write(dir: &Path, hostname: &str, o: &EtcOptions) -> Result<()> {
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for (name, text) in [
        ("hosts", o.hosts(hostname)?),
        ("hostname", format!("{hostname}\n")),
        ("resolv.conf", o.resolv_conf(&host_resolv)),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(Error::io("write", &p))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example\noptions edns0\n";

    #[test]
    fn the_hosts_resolvers_less_loopback_unless_flags_say() {
        let o = EtcOptions::default();
        assert_eq!(
            o.resolv_conf(HOST),
            "nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n"
        );
        let o = EtcOptions {
            dns: vec!["192.0.2.53".into(), "2001:db8::53".into()],
            dns_search: vec!["a.example".into(), "b.example".into()],
            dns_options: vec!["ndots:2".into(), "timeout:1".into()],
            ..Default::default()
        };
        o.check().unwrap();
        assert_eq!(
            o.resolv_conf(HOST),
            "nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch a.example b.example\noptions ndots:2 timeout:1\n"
        );
        let o = EtcOptions {
            dns_search: vec![".".into()],
            ..Default::default()
        };
        assert!(!o.resolv_conf(HOST).contains("search"));
    }

    #[test]
    fn add_host_entries_as_docker_takes_them() {
        assert_eq!(
            parse_add_host("db:192.0.2.7").unwrap(),
            ("db".into(), "192.0.2.7".parse().unwrap())
        );
        assert_eq!(
            parse_add_host("v6:[2001:db8::1]").unwrap().1,
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            parse_add_host("v6=2001:db8::1").unwrap().1,
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        for bad in ["db", "db:notanip", ":1.2.3.4", "db:host-gateway"] {
            let e = parse_add_host(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        let o = EtcOptions {
            add_hosts: vec!["db:192.0.2.7".into()],
            ..Default::default()
        };
        let h = o.hosts("box").unwrap();
        assert!(
            h.contains("192.0.2.7\tdb\n") && h.ends_with("127.0.0.1\tbox\n"),
            "{h}"
        );
        for bad in [
            EtcOptions {
                dns: vec!["x".into()],
                ..Default::default()
            },
            EtcOptions {
                dns_options: vec!["a b".into()],
                ..Default::default()
            },
        ] {
            assert!(bad.check().is_err());
        }
    }
}
