//! The firewall against real traffic: each test builds its own "host" namespace (never the
//! machine's), bridges, "container" namespaces on veths and an "outside" peer, applies nook's
//! rules there with `nft`, and checks who reaches what over TCP and UDP.

mod firewall_support;

use firewall_support::{
    tcp_ask, tcp_server, udp_ask, udp_server, Lab, Ns, HOST4, HOST6, OUT4, OUT6,
};
use nook_network::firewall::{
    ContainerPorts, Firewall, FirewallError, NetworkRules, PortMapping, Protocol, Subnet,
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
    // ... while the host itself still gets there.
    assert!(tcp_ask(&lab.host, "127.0.0.1:9090").is_some());
    assert!(tcp_ask(&lab.host, "127.0.0.1:7070").is_some());
}
