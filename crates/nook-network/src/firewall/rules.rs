//! nook's rule layout: which chains a network and a container get, what is in them, and the
//! batches that create, replace and remove them.  Pure: builds [`Batch`]es, runs nothing.
//!
//! Every chain's name derives from the network's name or the container's id, and every
//! per-network and per-container chain is a base chain of its own (or a chain only those jump
//! to), so removing one needs no listing and no state: flush and delete the chains named after
//! it.  `add chain X; flush chain X; delete chain X` deletes X whether it exists or not, in the
//! same transaction as everything else.

use std::net::IpAddr;

use super::nft::{Batch, Cmd, Expr, Family, Hook, Obj, Stmt};
use super::types::{ContainerPorts, NetworkRules, PortMapping, Subnet};

const INET: Family = Family::Inet;

/// The loopback guard: a base chain before conntrack and DNAT.
pub(crate) const GUARD_CHAIN: &str = "guard";
const GUARD_HOOK: Hook = Hook {
    kind: "filter",
    hook: "prerouting",
    prio: -300,
};
const FORWARD_HOOK: Hook = Hook {
    kind: "filter",
    hook: "forward",
    prio: 0,
};
const INPUT_HOOK: Hook = Hook {
    kind: "filter",
    hook: "input",
    prio: 0,
};
const SNAT_HOOK: Hook = Hook {
    kind: "nat",
    hook: "postrouting",
    prio: 100,
};
const DNAT_PRE_HOOK: Hook = Hook {
    kind: "nat",
    hook: "prerouting",
    prio: -100,
};
const DNAT_OUT_HOOK: Hook = Hook {
    kind: "nat",
    hook: "output",
    prio: -100,
};

/// Prefix of every per-network chain.
pub(crate) const NETWORK_PREFIX: &str = "n-";
/// Prefix of every per-container chain.
pub(crate) const CONTAINER_PREFIX: &str = "c-";

/// A network's chains: forward filter, input filter (internal networks only), postrouting NAT.
pub(crate) fn network_chains(name: &str) -> [String; 3] {
    ["fwd", "in", "post"].map(|s| format!("{NETWORK_PREFIX}{name}-{s}"))
}

/// A container's chains: the hooks first (they jump to the last), then its DNAT rules.
pub(crate) fn container_chains(id: &str) -> [String; 3] {
    ["pre", "out", "dnat"].map(|s| format!("{CONTAINER_PREFIX}{id}-{s}"))
}

/// Creates `name` (hooked when `hook` is given) or empties it, then fills it with `rules`.
fn replace_chain(b: &mut Batch, name: &str, hook: Option<Hook>, rules: Vec<Vec<Stmt>>) {
    b.push(Cmd::Add(Obj::Chain(INET, name.to_string(), hook)));
    b.push(Cmd::Flush(Obj::Chain(INET, name.to_string(), None)));
    for r in rules {
        b.push(Cmd::Add(Obj::Rule(INET, name.to_string(), r)));
    }
}

/// Deletes `name` whether it exists or not (the table must).
fn drop_chain(b: &mut Batch, name: &str) {
    b.push(Cmd::Add(Obj::Chain(INET, name.to_string(), None)));
    b.push(Cmd::Flush(Obj::Chain(INET, name.to_string(), None)));
    b.push(Cmd::Delete(Obj::Chain(INET, name.to_string(), None)));
}

fn iif(op_eq: bool, ifname: &str) -> Stmt {
    ifname_match("iifname", op_eq, ifname)
}

fn oif(op_eq: bool, ifname: &str) -> Stmt {
    ifname_match("oifname", op_eq, ifname)
}

fn ifname_match(key: &'static str, op_eq: bool, ifname: &str) -> Stmt {
    if op_eq {
        Stmt::eq(Expr::Meta(key), Expr::s(ifname))
    } else {
        Stmt::ne(Expr::Meta(key), Expr::s(ifname))
    }
}

fn addr_proto(a: &IpAddr) -> &'static str {
    if a.is_ipv4() {
        "ip"
    } else {
        "ip6"
    }
}

fn saddr_in(proto: &'static str, nets: Vec<Expr>) -> Stmt {
    let right = if nets.len() == 1 {
        nets.into_iter().next().expect("one element")
    } else {
        Expr::Set(nets)
    };
    Stmt::eq(Expr::Payload(proto, "saddr"), right)
}

fn prefix(s: &Subnet) -> Expr {
    Expr::Prefix(s.addr, s.prefix_len)
}

/// The guard against CVE-2020-8558: nothing addressed to loopback enters from another
/// interface (the bridges have route_localnet on, which would let a container reach the host's
/// 127.0.0.1 and ports published there only).
fn guard_rules() -> Vec<Vec<Stmt>> {
    let lo4 = Expr::Prefix(IpAddr::from([127, 0, 0, 0]), 8);
    let lo6 = Expr::Addr(IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
    vec![
        vec![
            iif(false, "lo"),
            Stmt::eq(Expr::Payload("ip", "daddr"), lo4),
            Stmt::Drop,
        ],
        vec![
            iif(false, "lo"),
            Stmt::eq(Expr::Payload("ip6", "daddr"), lo6),
            Stmt::Drop,
        ],
    ]
}

/// Forward filter of a network.  Open: out freely; in only replies, published (DNAT-ed)
/// connections and bridge-local traffic; so other nook bridges (isolation) and a peer routing
/// the subnet through the host reach nothing unpublished.  Internal: bridge-local only.
fn forward_rules(n: &NetworkRules) -> Vec<Vec<Stmt>> {
    let br = n.bridge.as_str();
    if n.internal {
        return vec![
            vec![oif(true, br), iif(false, br), Stmt::Drop],
            vec![iif(true, br), oif(false, br), Stmt::Drop],
        ];
    }
    let state = Expr::Flags(vec!["established", "related"]);
    vec![
        vec![
            oif(true, br),
            Stmt::Match(Expr::Ct("state"), super::nft::Op::In, state),
            Stmt::Accept,
        ],
        vec![oif(true, br), iif(true, br), Stmt::Accept],
        vec![
            oif(true, br),
            Stmt::Match(Expr::Ct("status"), super::nft::Op::In, Expr::Sym("dnat")),
            Stmt::Accept,
        ],
        vec![oif(true, br), Stmt::Drop],
        vec![iif(true, br), Stmt::Accept],
    ]
}

/// Input filter of an internal network: its containers reach the host only at addresses of the
/// bridge itself (gateway, DNS), and broadcast/multicast there (ARP is not IP; IPv6 neighbour
/// discovery is multicast).
fn internal_input_rules(n: &NetworkRules) -> Vec<Vec<Stmt>> {
    let types = Expr::Set(vec![
        Expr::Sym("local"),
        Expr::Sym("broadcast"),
        Expr::Sym("multicast"),
    ]);
    vec![
        vec![
            iif(true, &n.bridge),
            Stmt::eq(Expr::FibType(&["daddr", "iif"]), types),
            Stmt::Accept,
        ],
        vec![iif(true, &n.bridge), Stmt::Drop],
    ]
}

/// Source NAT of an open network: masquerade of its subnets leaving other than through its
/// bridge; and of DNAT-ed connections into the bridge from the host's loopback (127.0.0.1
/// mappings) or from the subnet itself (hairpin: a container reaching a sibling's published
/// port through the host's address, whose reply must come back through the host).
fn postrouting_rules(n: &NetworkRules) -> Vec<Vec<Stmt>> {
    let br = n.bridge.as_str();
    let mut rules = Vec::new();
    for s in &n.subnets {
        let proto = addr_proto(&s.addr);
        rules.push(vec![
            iif(true, br),
            oif(false, br),
            saddr_in(proto, vec![prefix(s)]),
            Stmt::Masquerade,
        ]);
    }
    for proto in ["ip", "ip6"] {
        let mut nets: Vec<Expr> = n
            .subnets
            .iter()
            .filter(|s| addr_proto(&s.addr) == proto)
            .map(prefix)
            .collect();
        if proto == "ip" {
            nets.push(Expr::Prefix(IpAddr::from([127, 0, 0, 0]), 8));
        }
        if nets.is_empty() {
            continue;
        }
        rules.push(vec![
            oif(true, br),
            Stmt::Match(Expr::Ct("status"), super::nft::Op::In, Expr::Sym("dnat")),
            saddr_in(proto, nets),
            Stmt::Masquerade,
        ]);
    }
    rules
}

/// The batch that creates or replaces a network's rules (and the table and guard).
pub(crate) fn ensure_network(n: &NetworkRules) -> Batch {
    let mut b = Batch::default();
    b.push(Cmd::Add(Obj::Table(INET)));
    replace_chain(&mut b, GUARD_CHAIN, Some(GUARD_HOOK), guard_rules());
    let [fwd, input, post] = network_chains(&n.name);
    replace_chain(&mut b, &fwd, Some(FORWARD_HOOK), forward_rules(n));
    if n.internal {
        replace_chain(&mut b, &input, Some(INPUT_HOOK), internal_input_rules(n));
        drop_chain(&mut b, &post);
    } else {
        drop_chain(&mut b, &input);
        replace_chain(&mut b, &post, Some(SNAT_HOOK), postrouting_rules(n));
    }
    b
}

/// The batch that removes a network's chains (the table stays).
pub(crate) fn remove_network(name: &str) -> Batch {
    let mut b = Batch::default();
    for c in network_chains(name) {
        drop_chain(&mut b, &c);
    }
    b
}

/// The batch that deletes nook's tables.
pub(crate) fn remove_tables() -> Batch {
    let mut b = Batch::default();
    for fam in [Family::Inet, Family::Bridge] {
        b.push(Cmd::Add(Obj::Table(fam)));
        b.push(Cmd::Delete(Obj::Table(fam)));
    }
    b
}

/// The container addresses a mapping leads to (one per family it is published for).
fn targets(c: &ContainerPorts, p: &PortMapping) -> Vec<IpAddr> {
    let v4 = c.ipv4.map(IpAddr::V4);
    let v6 = c.ipv6.map(IpAddr::V6);
    match p.host_ip {
        None => [v4, v6].into_iter().flatten().collect(),
        Some(IpAddr::V4(_)) => v4.into_iter().collect(),
        Some(IpAddr::V6(_)) => v6.into_iter().collect(),
    }
}

/// The DNAT rule of one mapping towards one container address.
fn dnat_rule(p: &PortMapping, target: IpAddr) -> Vec<Stmt> {
    let proto = p.protocol.name();
    let mut r = Vec::with_capacity(3);
    match p.host_ip {
        Some(h) if !h.is_unspecified() => r.push(Stmt::eq(
            Expr::Payload(addr_proto(&h), "daddr"),
            Expr::Addr(h),
        )),
        _ => {
            let fam = if target.is_ipv4() { "ipv4" } else { "ipv6" };
            r.push(Stmt::eq(Expr::Meta("nfproto"), Expr::Sym(fam)));
        }
    }
    let span = u32::from(p.count) - 1;
    let (host, ctr) = (u32::from(p.host_port), u32::from(p.container_port));
    let dport = if span == 0 {
        Expr::Num(host)
    } else {
        Expr::Range(host, host + span)
    };
    r.push(Stmt::eq(Expr::Payload(proto, "dport"), dport));
    let to_port = if span == 0 {
        Some(Expr::Num(ctr))
    } else if host == ctr {
        None
    } else {
        let pairs = (0..=span).map(|i| (host + i, ctr + i)).collect();
        Some(Expr::NumMap(Box::new(Expr::Payload(proto, "dport")), pairs))
    };
    r.push(Stmt::Dnat(target, to_port));
    r
}

/// The batch that creates or replaces a container's published ports.
pub(crate) fn add_ports(c: &ContainerPorts) -> Batch {
    let [pre, out, dnat] = container_chains(&c.container_id);
    let rules = c
        .ports
        .iter()
        .flat_map(|p| targets(c, p).into_iter().map(move |t| dnat_rule(p, t)))
        .collect();
    let local = || {
        vec![vec![
            Stmt::eq(Expr::FibType(&["daddr"]), Expr::Sym("local")),
            Stmt::Jump(dnat.clone()),
        ]]
    };
    let mut b = Batch::default();
    replace_chain(&mut b, &dnat, None, rules);
    replace_chain(&mut b, &pre, Some(DNAT_PRE_HOOK), local());
    replace_chain(&mut b, &out, Some(DNAT_OUT_HOOK), local());
    b
}

/// The batch that removes a container's published ports.
pub(crate) fn remove_ports(id: &str) -> Batch {
    let mut b = Batch::default();
    for c in container_chains(id) {
        drop_chain(&mut b, &c);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::super::types::Protocol;
    use super::*;

    fn net(internal: bool) -> NetworkRules {
        NetworkRules {
            name: "net1".into(),
            bridge: "nook1".into(),
            subnets: vec![
                Subnet::new("10.1.0.0".parse().unwrap(), 24),
                Subnet::new("fd00:1::".parse().unwrap(), 64),
            ],
            internal,
        }
    }

    fn lines(b: &Batch) -> Vec<String> {
        b.to_text().lines().map(str::to_string).collect()
    }

    #[test]
    fn open_network_layout() {
        let l = lines(&ensure_network(&net(false)));
        assert_eq!(l[0], "add table inet nook");
        assert!(l.contains(
            &"add rule inet nook n-net1-fwd meta oifname \"nook1\" meta iifname \"nook1\" accept"
                .into()
        ));
        assert!(l.contains(&"add rule inet nook n-net1-fwd meta oifname \"nook1\" drop".into()));
        assert!(l.contains(&"add rule inet nook n-net1-post meta iifname \"nook1\" meta oifname != \"nook1\" ip saddr 10.1.0.0/24 masquerade".into()));
        assert!(l.contains(&"add rule inet nook n-net1-post meta oifname \"nook1\" ct status dnat ip saddr { 10.1.0.0/24, 127.0.0.0/8 } masquerade".into()));
        assert!(l.contains(&"add rule inet nook n-net1-post meta oifname \"nook1\" ct status dnat ip6 saddr fd00:1::/64 masquerade".into()));
        assert!(l.contains(&"delete chain inet nook n-net1-in".into()));
        assert!(l.contains(
            &"add rule inet nook guard meta iifname != \"lo\" ip daddr 127.0.0.0/8 drop".into()
        ));
    }

    #[test]
    fn internal_network_has_no_nat() {
        let l = lines(&ensure_network(&net(true)));
        assert!(!l.iter().any(|r| r.contains("masquerade")));
        assert!(l.contains(&"delete chain inet nook n-net1-post".into()));
        assert!(l
            .iter()
            .any(|r| r.starts_with("add rule inet nook n-net1-in")));
    }

    #[test]
    fn ports_layout() {
        let c = ContainerPorts {
            container_id: "abc".into(),
            ipv4: Some("10.1.0.2".parse().unwrap()),
            ipv6: Some("fd00:1::2".parse().unwrap()),
            ports: vec![
                PortMapping {
                    host_ip: None,
                    host_port: 8080,
                    container_port: 80,
                    count: 1,
                    protocol: Protocol::Tcp,
                },
                PortMapping {
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    host_port: 5000,
                    container_port: 5000,
                    count: 3,
                    protocol: Protocol::Udp,
                },
                PortMapping {
                    host_ip: Some("0.0.0.0".parse().unwrap()),
                    host_port: 7000,
                    container_port: 9000,
                    count: 2,
                    protocol: Protocol::Tcp,
                },
            ],
        };
        let l = lines(&add_ports(&c));
        let rules: Vec<&String> = l.iter().filter(|r| r.starts_with("add rule")).collect();
        assert_eq!(
            rules,
            [
                "add rule inet nook c-abc-dnat meta nfproto ipv4 tcp dport 8080 dnat ip to 10.1.0.2:80",
                "add rule inet nook c-abc-dnat meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00:1::2]:80",
                "add rule inet nook c-abc-dnat ip daddr 127.0.0.1 udp dport 5000-5002 dnat ip to 10.1.0.2",
                "add rule inet nook c-abc-dnat meta nfproto ipv4 tcp dport 7000-7001 dnat ip to 10.1.0.2:tcp dport map { 7000 : 9000, 7001 : 9001 }",
                "add rule inet nook c-abc-pre fib daddr type local jump c-abc-dnat",
                "add rule inet nook c-abc-out fib daddr type local jump c-abc-dnat",
            ]
        );
        let r = lines(&remove_ports("abc"));
        assert_eq!(r.last().unwrap(), "delete chain inet nook c-abc-dnat");
    }
}
