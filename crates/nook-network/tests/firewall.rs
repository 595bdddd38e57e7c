//! The firewall against real traffic: each test builds its own "host" namespace (never the
//! machine's), bridges, "container" namespaces on veths and an "outside" peer, applies nook's
//! rules there with `nft`, and checks who reaches what over TCP and UDP.

mod firewall_support;

use firewall_support::{
    tcp_ask, tcp_server, udp_ask, udp_server, Lab, Ns, HOST4, HOST6, OUT4, OUT6,
};
use nook_network::firewall::{
    ContainerPorts, Firewall, FirewallError, NetworkRules, PortMapping, Protocol, Subnet, Syntax,
};

const ID1: &str = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";

fn network(name: &str, bridge: &str, v4: &str, v6: Option<&str>, internal: bool) -> NetworkRules {
    let mut subnets = vec![Subnet::new(v4.parse().unwrap(), 24)];
    if let Some(v6) = v6 {
        subnets.push(Subnet::new(v6.parse().unwrap(), 64));
    }
    NetworkRules {
        name: name.into(),
        bridge: bridge.into(),
        subnets,
        internal,
    }
}

fn map(host_ip: Option<&str>, host: u16, ctr: u16, count: u16, protocol: Protocol) -> PortMapping {
    PortMapping {
        host_ip: host_ip.map(|h| h.parse().unwrap()),
        host_port: host,
        container_port: ctr,
        count,
        protocol,
    }
}

/// Runs a firewall call on the host namespace's thread.
fn on_host<R: Send + 'static>(
    lab: &Lab,
    f: impl FnOnce(&Firewall) -> Result<R, FirewallError> + Send + 'static,
) -> R {
    lab.host.run(move || f(&Firewall::new())).unwrap()
}

/// One open network `net1` (10.77.1.0/24, fd77:1::/64) with containers c1 (.2) and c2 (.3),
/// c1 publishing ports.
struct OneNet {
    lab: Lab,
    c1: Ns,
    c2: Ns,
}

fn one_net() -> OneNet {
    let lab = Lab::new();
    lab.bridge("nk1", "10.77.1.1", Some("fd77:1::1"));
    let v6 = |a| Some((a, "fd77:1::1"));
    let c1 = lab.container("nk1", "veth1", ("10.77.1.2", "10.77.1.1"), v6("fd77:1::2"));
    let c2 = lab.container("nk1", "veth2", ("10.77.1.3", "10.77.1.1"), v6("fd77:1::3"));
    on_host(&lab, |fw| {
        fw.ensure_network(&network(
            "net1",
            "nk1",
            "10.77.1.0",
            Some("fd77:1::"),
            false,
        ))
    });
    let ports = ContainerPorts {
        container_id: ID1.into(),
        ipv4: Some("10.77.1.2".parse().unwrap()),
        ipv6: Some("fd77:1::2".parse().unwrap()),
        ports: vec![
            map(None, 8080, 80, 1, Protocol::Tcp),
            map(None, 5353, 53, 1, Protocol::Udp),
            map(Some("127.0.0.1"), 9090, 90, 1, Protocol::Tcp),
            map(Some("0.0.0.0"), 7000, 7100, 2, Protocol::Tcp),
            map(Some(HOST6), 8443, 80, 1, Protocol::Tcp),
        ],
    };
    on_host(&lab, move |fw| fw.add_ports(&ports));
    OneNet { lab, c1, c2 }
}

#[test]
fn published_ports_reach_the_container_from_outside_and_from_the_host() {
    let OneNet { lab, c1, c2 } = one_net();
    let _s: Vec<_> = ["[::]:80", "[::]:90", "[::]:81", "[::]:7100", "[::]:7101"]
        .iter()
        .map(|a| tcp_server(&c1, a))
        .collect();
    let _u = udp_server(&c1, "[::]:53");
    let at = |a: &str, p: u16| format!("{a}:{p}");
    let at6 = |a: &str, p: u16| format!("[{a}]:{p}");

    // From another namespace through the host's address: the client's own address is seen.
    assert_eq!(
        tcp_ask(&lab.outside, &at(HOST4, 8080)).as_deref(),
        Some(OUT4)
    );
    assert_eq!(
        tcp_ask(&lab.outside, &at6(HOST6, 8080)).as_deref(),
        Some(OUT6)
    );
    assert_eq!(
        udp_ask(&lab.outside, &at(HOST4, 5353)).as_deref(),
        Some(OUT4)
    );
    assert_eq!(
        udp_ask(&lab.outside, &at6(HOST6, 5353)).as_deref(),
        Some(OUT6)
    );
    // A range, shifted: 7000-7001 -> 7100-7101, IPv4 only (0.0.0.0).
    assert_eq!(
        tcp_ask(&lab.outside, &at(HOST4, 7001)).as_deref(),
        Some(OUT4)
    );
    assert_eq!(tcp_ask(&lab.outside, &at6(HOST6, 7001)), None);
    // On one host address only.
    assert_eq!(
        tcp_ask(&lab.outside, &at6(HOST6, 8443)).as_deref(),
        Some(OUT6)
    );
    assert_eq!(tcp_ask(&lab.outside, &at(HOST4, 8443)), None);

    // From the host: its own address, and 127.0.0.1 (masqueraded into the bridge).
    assert_eq!(tcp_ask(&lab.host, &at(HOST4, 8080)).as_deref(), Some(HOST4));
    assert_eq!(
        tcp_ask(&lab.host, "127.0.0.1:8080").as_deref(),
        Some("10.77.1.1")
    );
    assert_eq!(
        udp_ask(&lab.host, "127.0.0.1:5353").as_deref(),
        Some("10.77.1.1")
    );
    assert_eq!(
        tcp_ask(&lab.host, "127.0.0.1:9090").as_deref(),
        Some("10.77.1.1")
    );

    // From a sibling through the host's address (hairpin, masqueraded so replies return).
    assert!(tcp_ask(&c2, &at(HOST4, 8080)).is_some());

    // A port published on 127.0.0.1 only: not from outside through the host's address.
    assert_eq!(tcp_ask(&lab.outside, &at(HOST4, 9090)), None);
    // Nothing unpublished, even for a peer routing the subnet through the host (issue 19):
    // neither an unpublished port nor the published one at the container's own address.
    assert_eq!(tcp_ask(&lab.outside, "10.77.1.2:81"), None);
    assert_eq!(tcp_ask(&lab.outside, "10.77.1.2:80"), None);
    assert_eq!(tcp_ask(&lab.outside, "[fd77:1::2]:81"), None);
    // Containers of one network reach each other directly.
    assert_eq!(tcp_ask(&c2, "10.77.1.2:81").as_deref(), Some("10.77.1.3"));
}

/// CVE-2020-8558: with route_localnet on the bridge, a container that routes 127.0.0.1
/// through its gateway would reach the host's loopback services and 127.0.0.1-only ports.
#[test]
fn containers_reach_nothing_on_the_hosts_loopback() {
    let OneNet { lab, c1, c2 } = one_net();
    let _s = tcp_server(&c1, "[::]:90");
    let _h = tcp_server(&lab.host, "127.0.0.1:7070");
    // c2 sends what is addressed to 127.0.0.1 to its gateway, as an attacker with
    // CAP_NET_ADMIN in its namespace can.
    c2.sysctl("net/ipv4/conf/eth0/route_localnet", "1");
    c2.ip("rule add pref 100 lookup local");
    c2.ip("rule del pref 0");
    c2.ip("route add 127.0.0.1/32 via 10.77.1.1 dev eth0 table 50");
    c2.ip("rule add pref 10 to 127.0.0.1 lookup 50");
    assert_eq!(tcp_ask(&c2, "127.0.0.1:7070"), None);
    assert_eq!(tcp_ask(&c2, "127.0.0.1:9090"), None);
    // The same from the outside peer through the host's address (no route_localnet on that
    // side: the kernel's martian check stops it, and the guard would).
    let out = &lab.outside;
    out.sysctl("net/ipv4/conf/eth0/route_localnet", "1");
    out.ip("rule add pref 100 lookup local");
    out.ip("rule del pref 0");
    out.ip(&format!(
        "route add 127.0.0.1/32 via {HOST4} dev eth0 table 50"
    ));
    out.ip("rule add pref 10 to 127.0.0.1 lookup 50");
    assert_eq!(tcp_ask(out, "127.0.0.1:7070"), None);
    assert_eq!(tcp_ask(out, "127.0.0.1:9090"), None);
    // ... while the host itself still gets there.
    assert!(tcp_ask(&lab.host, "127.0.0.1:9090").is_some());
    assert!(tcp_ask(&lab.host, "127.0.0.1:7070").is_some());
}

/// Three networks: open net1 (c1) and net2 (c2), internal net3 (c3, c4); a server outside
/// and one on the host.
#[test]
fn masquerade_isolation_and_internal_networks() {
    let lab = Lab::new();
    lab.bridge("nk1", "10.77.1.1", None);
    lab.bridge("nk2", "10.77.2.1", None);
    lab.bridge("nk3", "10.77.3.1", None);
    let c1 = lab.container("nk1", "veth1", ("10.77.1.2", "10.77.1.1"), None);
    let c2 = lab.container("nk2", "veth2", ("10.77.2.2", "10.77.2.1"), None);
    let c3 = lab.container("nk3", "veth3", ("10.77.3.2", "10.77.3.1"), None);
    let c4 = lab.container("nk3", "veth4", ("10.77.3.3", "10.77.3.1"), None);
    on_host(&lab, |fw| {
        fw.ensure_network(&network("net1", "nk1", "10.77.1.0", None, false))?;
        fw.ensure_network(&network("net2", "nk2", "10.77.2.0", None, false))?;
        fw.ensure_network(&network("net3", "nk3", "10.77.3.0", None, true))
    });
    let _servers = [
        tcp_server(&lab.outside, "0.0.0.0:5000"),
        tcp_server(&lab.host, "0.0.0.0:6000"),
        tcp_server(&c1, "0.0.0.0:80"),
        tcp_server(&c2, "0.0.0.0:80"),
        tcp_server(&c3, "0.0.0.0:80"),
        tcp_server(&c4, "0.0.0.0:80"),
    ];
    let _udp = udp_server(&lab.outside, "0.0.0.0:5001");
    let out = format!("{OUT4}:5000");

    // Egress of an open network is masqueraded: the outside sees the host's address.
    assert_eq!(tcp_ask(&c1, &out).as_deref(), Some(HOST4));
    assert_eq!(
        udp_ask(&c1, &format!("{OUT4}:5001")).as_deref(),
        Some(HOST4)
    );
    assert_eq!(tcp_ask(&c2, &out).as_deref(), Some(HOST4));
    // Open networks reach the host.
    assert_eq!(
        tcp_ask(&c1, &format!("{HOST4}:6000")).as_deref(),
        Some("10.77.1.2")
    );
    // Isolation: no network reaches another one's containers, both ways.
    assert_eq!(tcp_ask(&c1, "10.77.2.2:80"), None);
    assert_eq!(tcp_ask(&c2, "10.77.1.2:80"), None);
    assert_eq!(tcp_ask(&c1, "10.77.3.2:80"), None);
    // The host reaches every container.
    assert_eq!(
        tcp_ask(&lab.host, "10.77.2.2:80").as_deref(),
        Some("10.77.2.1")
    );

    // Internal: nothing out, no NAT, the host only at the bridge's own address.
    assert_eq!(tcp_ask(&c3, &out), None);
    assert_eq!(udp_ask(&c3, &format!("{OUT4}:5001")), None);
    assert_eq!(tcp_ask(&c3, "10.77.1.2:80"), None);
    assert_eq!(tcp_ask(&c3, &format!("{HOST4}:6000")), None);
    assert_eq!(tcp_ask(&c3, "10.77.3.1:6000").as_deref(), Some("10.77.3.2"));
    // ... bridge-local traffic flows, and nothing comes in.
    assert_eq!(tcp_ask(&c3, "10.77.3.3:80").as_deref(), Some("10.77.3.2"));
    assert_eq!(tcp_ask(&c1, "10.77.3.3:80"), None);
    assert_eq!(tcp_ask(&lab.outside, "10.77.3.3:80"), None);
}

/// nook's rules go as they came: the machine's other tables are never touched, removal
/// restores the ruleset byte for byte, and the table goes with the last network.
#[test]
fn removal_restores_the_ruleset_and_leaves_other_tables_alone() {
    let lab = Lab::new();
    lab.bridge("nk1", "10.77.1.1", Some("fd77:1::1"));
    lab.bridge("nk2", "10.77.2.1", None);
    // Another firewall's tables, in the families nook uses.
    lab.host.nft_script(
        "table inet foreign {\n\
         \tchain filt { type filter hook forward priority 0; policy accept; counter; }\n\
         \tchain nook { }\n\
         }\n\
         table ip nat {\n\
         \tchain POSTROUTING { type nat hook postrouting priority 100; ip saddr 10.9.0.0/16 masquerade; }\n\
         }\n\
         table bridge filter {\n\tchain forward { type filter hook forward priority 0; }\n}\n",
    );
    let before = lab.host.ruleset();
    let foreign = || lab.host.nft("list table inet foreign");
    let foreign_before = foreign();

    let ports = ContainerPorts {
        container_id: ID1.into(),
        ipv4: Some("10.77.1.2".parse().unwrap()),
        ipv6: Some("fd77:1::2".parse().unwrap()),
        ports: vec![map(None, 8080, 80, 1, Protocol::Tcp)],
    };
    let p2 = ports.clone();
    on_host(&lab, move |fw| {
        fw.ensure_network(&network(
            "net1",
            "nk1",
            "10.77.1.0",
            Some("fd77:1::"),
            false,
        ))?;
        // ensure is idempotent: again, no duplicate rules.
        fw.ensure_network(&network(
            "net1",
            "nk1",
            "10.77.1.0",
            Some("fd77:1::"),
            false,
        ))?;
        fw.ensure_network(&network("net2", "nk2", "10.77.2.0", None, true))?;
        fw.add_ports(&p2)?;
        fw.add_ports(&p2)
    });
    let table = lab.host.nft("list table inet nook");
    assert_eq!(
        table.matches("dnat ip to 10.77.1.2:80").count(),
        1,
        "{table}"
    );
    assert_eq!(table.matches("oifname \"nk1\" drop").count(), 1, "{table}");
    assert_eq!(foreign(), foreign_before);
    let (nets, ctrs) = on_host(&lab, |fw| Ok((fw.networks()?, fw.containers_with_ports()?)));
    assert_eq!(nets, ["net1", "net2"]);
    assert_eq!(ctrs, [ID1]);

    on_host(&lab, |fw| {
        fw.remove_ports(ID1)?;
        fw.remove_ports(ID1)?;
        fw.remove_network("net1")
    });
    let table = lab.host.nft("list table inet nook");
    assert!(!table.contains("c-") && !table.contains("net1"), "{table}");
    assert!(table.contains("n-net2-fwd"), "{table}");
    assert_eq!(foreign(), foreign_before);

    // The last network takes the table with it; removing again is a no-op.
    on_host(&lab, |fw| {
        fw.remove_network("net2")?;
        fw.remove_network("net2")?;
        fw.remove_ports(ID1)?;
        fw.remove_all()
    });
    assert_eq!(lab.host.ruleset(), before);

    // Ports without their network's table: a one-line error, nothing made.
    let err = lab
        .host
        .run(move || Firewall::new().add_ports(&ports))
        .unwrap_err();
    assert!(
        matches!(err, FirewallError::Nft { .. }) && !err.to_string().contains('\n'),
        "{err}"
    );
    assert_eq!(lab.host.ruleset(), before);
}

#[test]
fn bad_input_is_refused_before_nft_runs() {
    let fw = Firewall::new().with_nft("/nonexistent/nft");
    let e = fw
        .ensure_network(&network("bad name", "nk1", "10.0.0.0", None, false))
        .unwrap_err();
    assert_eq!(e.to_string(), "invalid network name \"bad name\"");
    let e = fw.remove_ports("x\"; flush ruleset").unwrap_err();
    assert!(matches!(e, FirewallError::InvalidContainerId(_)), "{e}");
    let e = fw
        .ensure_network(&network(
            "n",
            "name-too-long-for-linux",
            "10.0.0.0",
            None,
            false,
        ))
        .unwrap_err();
    assert!(matches!(e, FirewallError::InvalidInterface(_)), "{e}");
    let e = Ns::new()
        .run(|| Firewall::new().ensure_network(&network("n", "nk9", "10.0.0.0", None, false)))
        .unwrap_err();
    assert_eq!(e.to_string(), "network bridge nk9: no such interface");
    let e = fw.remove_all().unwrap_err();
    assert!(e.to_string().starts_with("run /nonexistent/nft: "), "{e}");
}

/// The text syntax (measured as the alternative) makes exactly the table JSON makes.
#[test]
fn json_and_text_batches_make_the_same_table() {
    let tables: Vec<String> = [Syntax::Json, Syntax::Text]
        .into_iter()
        .map(|syntax| {
            let host = Ns::new();
            host.ip("link add nk1 type bridge");
            host.ip("link add nk2 type bridge");
            host.run(move || {
                let fw = Firewall::new().with_syntax(syntax);
                fw.ensure_network(&network(
                    "net1",
                    "nk1",
                    "10.77.1.0",
                    Some("fd77:1::"),
                    false,
                ))?;
                fw.ensure_network(&network("net2", "nk2", "10.77.2.0", None, true))?;
                fw.add_ports(&ContainerPorts {
                    container_id: ID1.into(),
                    ipv4: Some("10.77.1.2".parse().unwrap()),
                    ipv6: Some("fd77:1::2".parse().unwrap()),
                    ports: vec![
                        map(None, 8080, 80, 1, Protocol::Tcp),
                        map(Some("127.0.0.1"), 5000, 5000, 3, Protocol::Udp),
                        map(Some("::"), 7000, 7100, 2, Protocol::Sctp),
                    ],
                })
            })
            .unwrap();
            host.nft("list table inet nook")
        })
        .collect();
    assert_eq!(tables[0], tables[1]);
    assert!(tables[0].contains("sctp dport 7000-7001"), "{}", tables[0]);
}
