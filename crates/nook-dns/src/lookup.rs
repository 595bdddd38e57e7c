//! What to do with a query that came to one network's address: answer it
//! from the network's records (names, aliases and short ids of its
//! containers, with or without the search domain, and the reverse names
//! of their addresses), forward it to resolvers, or refuse it.  Pure: no
//! sockets, unit-tested.

use crate::records::{in_subnet, Network};
use crate::wire::{self, Query, Rdata};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// The search domain containers get: `NAME.dns.nook` is `NAME`.
pub const SEARCH_DOMAIN: &str = "dns.nook";

/// What to do with a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answer with this code and these records.
    Answer {
        /// The response code.
        rcode: u16,
        /// The answers.
        answers: Vec<Rdata>,
        /// Whether the answer is ours (AA).
        authoritative: bool,
    },
    /// Forward to these resolvers (empty: the host's).
    Forward(Vec<SocketAddr>),
    /// Not a query (a response): no answer.
    Ignore,
}

impl Decision {
    fn code(rcode: u16) -> Decision {
        Decision::Answer {
            rcode,
            answers: Vec::new(),
            authoritative: false,
        }
    }

    fn ours(rcode: u16, answers: Vec<Rdata>) -> Decision {
        Decision::Answer {
            rcode,
            answers,
            authoritative: true,
        }
    }
}

/// One network's records, indexed for answering.
#[derive(Debug, Default)]
pub struct Zone {
    /// The records.
    pub network: Network,
    names: HashMap<String, Vec<IpAddr>>,
    reverse: HashMap<IpAddr, String>,
    sources: HashMap<IpAddr, usize>,
}

fn push_unique(v: &mut Vec<IpAddr>, ips: &[IpAddr]) {
    for ip in ips {
        if !v.contains(ip) {
            v.push(*ip);
        }
    }
}

impl Zone {
    /// Index a network's records.
    pub fn new(network: Network) -> Zone {
        let mut z = Zone::default();
        for (i, c) in network.containers.iter().enumerate() {
            let short = c.id.get(..12).unwrap_or(&c.id);
            // (a full id is 64 bytes: longer than a DNS label)
            let keys = [c.name.as_str(), short]
                .into_iter()
                .chain(c.aliases.iter().map(String::as_str));
            for k in keys {
                let e = z.names.entry(k.to_ascii_lowercase()).or_default();
                push_unique(e, &c.addrs);
            }
            for ip in &c.addrs {
                z.reverse
                    .entry(*ip)
                    .or_insert_with(|| format!("{}.{SEARCH_DOMAIN}", c.name));
                z.sources.insert(*ip, i);
            }
        }
        z.network = network;
        z
    }

    /// What to do with query `q` that came from `from`.
    pub fn decide(&self, from: IpAddr, q: &Query) -> Decision {
        if q.is_response() {
            return Decision::Ignore;
        }
        if q.opcode() != 0 {
            return Decision::code(wire::NOTIMP);
        }
        if q.qdcount != 1 {
            return Decision::code(wire::FORMERR);
        }
        if q.edns.is_some_and(|e| e.version > 0) {
            return Decision::code(wire::BADVERS);
        }
        let net = &self.network;
        if !net.subnets.is_empty() && !net.subnets.iter().any(|s| in_subnet(from, *s)) {
            return Decision::code(wire::REFUSED);
        }
        if q.qclass == wire::CLASS_IN || q.qclass == wire::CLASS_ANY {
            if let Some(d) = self.local(q) {
                return d;
            }
        }
        if net.internal {
            // issue 19: nothing leaves an internal network
            return Decision::code(wire::REFUSED);
        }
        let container = self.sources.get(&from).map(|i| &net.containers[*i]);
        match container.filter(|c| !c.upstreams.is_empty()) {
            Some(c) => Decision::Forward(c.upstreams.clone()),
            None => Decision::Forward(net.upstreams.clone()),
        }
    }

    /// The answer from this network's records, if the name is ours.
    fn local(&self, q: &Query) -> Option<Decision> {
        let name = q.qname.as_str();
        let (bare, in_domain) = match name.strip_suffix(SEARCH_DOMAIN) {
            Some("") => return Some(Decision::ours(wire::NOERROR, Vec::new())),
            Some(b) if b.ends_with('.') => (&b[..b.len() - 1], true),
            _ => (name, false),
        };
        if let Some(addrs) = self.names.get(bare) {
            let answers = addrs
                .iter()
                .filter(|ip| match q.qtype {
                    wire::TYPE_A => ip.is_ipv4(),
                    wire::TYPE_AAAA => ip.is_ipv6(),
                    wire::TYPE_ANY => true,
                    _ => false,
                })
                .map(|ip| Rdata::addr(*ip))
                .collect();
            return Some(Decision::ours(wire::NOERROR, answers));
        }
        if in_domain {
            return Some(Decision::ours(wire::NXDOMAIN, Vec::new()));
        }
        let ip = wire::reverse_addr(name)?;
        if let Some(n) = self.reverse.get(&ip) {
            let answers = match q.qtype {
                wire::TYPE_PTR | wire::TYPE_ANY => vec![Rdata::Ptr(n.clone())],
                _ => Vec::new(),
            };
            return Some(Decision::ours(wire::NOERROR, answers));
        }
        let net = &self.network;
        let ours = net.listen.contains(&ip) || net.subnets.iter().any(|s| in_subnet(ip, *s));
        // an address of this network with no container: no one else knows
        ours.then(|| Decision::ours(wire::NXDOMAIN, Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{parse_cidr, parse_upstream, Container};
    use crate::wire::{build_query, parse_query, TYPE_A, TYPE_AAAA, TYPE_PTR};

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn zone(internal: bool) -> Zone {
        Zone::new(Network {
            name: "n".into(),
            internal,
            listen: vec!["10.89.0.1".parse().unwrap()],
            subnets: vec![
                parse_cidr("10.89.0.0/24").unwrap(),
                parse_cidr("fd89::/64").unwrap(),
            ],
            upstreams: vec![],
            containers: vec![
                Container {
                    id: ID.into(),
                    name: "Web".into(),
                    aliases: vec!["www".into(), "shared".into()],
                    addrs: vec!["10.89.0.2".parse().unwrap(), "fd89::2".parse().unwrap()],
                    upstreams: vec![],
                },
                Container {
                    id: "ff".repeat(32),
                    name: "db".into(),
                    aliases: vec!["shared".into()],
                    addrs: vec!["10.89.0.3".parse().unwrap()],
                    upstreams: vec![parse_upstream("192.0.2.9").unwrap()],
                },
            ],
        })
    }

    fn ask(z: &Zone, name: &str, qtype: u16) -> Decision {
        let q = parse_query(&build_query(1, name, qtype, None)).unwrap();
        z.decide("10.89.0.3".parse().unwrap(), &q)
    }

    fn addrs(d: &Decision) -> Vec<String> {
        match d {
            Decision::Answer { answers, .. } => answers
                .iter()
                .map(|a| match a {
                    Rdata::A(i) => i.to_string(),
                    Rdata::Aaaa(i) => i.to_string(),
                    Rdata::Ptr(n) => n.clone(),
                })
                .collect(),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn names_aliases_and_short_ids_any_case_with_or_without_the_domain() {
        let z = zone(false);
        for name in [
            "web",
            "WEB",
            "www",
            "web.dns.nook",
            "Web.DNS.Nook",
            "0123456789ab",
        ] {
            assert_eq!(addrs(&ask(&z, name, TYPE_A)), ["10.89.0.2"], "{name}");
        }
        assert_eq!(addrs(&ask(&z, "web", TYPE_AAAA)), ["fd89::2"]);
        assert_eq!(
            addrs(&ask(&z, "shared", TYPE_A)),
            ["10.89.0.2", "10.89.0.3"]
        );
        // a name of ours with no address of that type: NOERROR, no answer
        let d = ask(&z, "db", TYPE_AAAA);
        assert_eq!(d, Decision::ours(wire::NOERROR, vec![]));
        // a prefix of a short id is not one
        assert!(matches!(
            ask(&z, "0123456789a", TYPE_A),
            Decision::Forward(_)
        ));
    }

    #[test]
    fn reverse_names_of_container_addresses() {
        let z = zone(false);
        assert_eq!(
            addrs(&ask(&z, "2.0.89.10.in-addr.arpa", TYPE_PTR)),
            ["Web.dns.nook"]
        );
        let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.8.d.f.ip6.arpa";
        assert_eq!(addrs(&ask(&z, v6, TYPE_PTR)), ["Web.dns.nook"]);
        // an address of the network without a container: ours, NXDOMAIN
        let d = ask(&z, "77.0.89.10.in-addr.arpa", TYPE_PTR);
        assert_eq!(d, Decision::ours(wire::NXDOMAIN, vec![]));
        // another address: the upstream's business
        assert!(matches!(
            ask(&z, "8.8.8.8.in-addr.arpa", TYPE_PTR),
            Decision::Forward(_)
        ));
    }

    #[test]
    fn other_names_are_forwarded_unless_internal() {
        let z = zone(false);
        // db has resolvers of its own (--dns); the query comes from db
        let d = ask(&z, "example.com", TYPE_A);
        assert_eq!(
            d,
            Decision::Forward(vec![parse_upstream("192.0.2.9").unwrap()])
        );
        let q = parse_query(&build_query(1, "example.com", TYPE_A, None)).unwrap();
        assert_eq!(
            z.decide("10.89.0.2".parse().unwrap(), &q),
            Decision::Forward(vec![])
        );
        // unknown names in our domain are ours to deny
        let d = ask(&z, "nobody.dns.nook", TYPE_A);
        assert_eq!(d, Decision::ours(wire::NXDOMAIN, vec![]));
        let z = zone(true);
        for name in ["example.com", "8.8.8.8.in-addr.arpa", "nobody"] {
            assert_eq!(
                ask(&z, name, TYPE_A),
                Decision::code(wire::REFUSED),
                "{name}"
            );
        }
        // its own names still answer
        assert_eq!(addrs(&ask(&z, "web", TYPE_A)), ["10.89.0.2"]);
    }

    #[test]
    fn queries_from_outside_the_subnets_are_refused() {
        let z = zone(false);
        let q = parse_query(&build_query(1, "web", TYPE_A, None)).unwrap();
        let d = z.decide("10.90.0.2".parse().unwrap(), &q);
        assert_eq!(d, Decision::code(wire::REFUSED));
    }

    #[test]
    fn odd_messages() {
        let z = zone(false);
        let from = "10.89.0.3".parse().unwrap();
        let mut m = build_query(1, "web", TYPE_A, None);
        m[2] |= 0x80; // a response
        assert_eq!(z.decide(from, &parse_query(&m).unwrap()), Decision::Ignore);
        let mut m = build_query(1, "web", TYPE_A, None);
        m[2] |= 2 << 3; // opcode STATUS
        assert_eq!(
            z.decide(from, &parse_query(&m).unwrap()),
            Decision::code(wire::NOTIMP)
        );
        let mut m = build_query(1, "web", TYPE_A, None);
        m[5] = 0; // no question
        assert_eq!(
            z.decide(from, &parse_query(&m).unwrap()),
            Decision::code(wire::FORMERR)
        );
        let mut m = build_query(1, "web", TYPE_A, Some(1232));
        let n = m.len();
        m[n - 5] = 1;
        assert_eq!(
            z.decide(from, &parse_query(&m).unwrap()),
            Decision::code(wire::BADVERS)
        );
        // class CH is never ours: forwarded (refused when internal)
        let mut m = build_query(1, "web", TYPE_A, None);
        let n = m.len();
        m[n - 1] = 3;
        assert!(matches!(
            z.decide(from, &parse_query(&m).unwrap()),
            Decision::Forward(_)
        ));
    }
}
