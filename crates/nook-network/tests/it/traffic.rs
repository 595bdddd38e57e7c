//! Containers attached to one bridge talk to each other and to the
//! gateway, over IPv4 and IPv6; eth0 and the routes inside are as asked;
//! detach and namespace removal leave nothing.

use std::net::{IpAddr, SocketAddr};

use nook_network::attach::Attachment;
use nook_network::route::{self, Route};
use nook_network::{addr, attach, ipam, link, netns, sysctl};

use crate::fixture::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sa(s: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip(s), port)
}

/// What c1 (attached as nkc1 to nk-br0 with 10.77.0.2/24, fd77::2/64)
/// has inside, and its host end.
fn check_inside(host: &mut Host, c1: &NsFile, a1: &Attachment) {
    // Inside: eth0 with the addresses, lo up, default routes via the gateway.
    let mut inner = c1.netlink();
    let eth0 = link::get(&mut inner, "eth0")
        .unwrap()
        .expect("eth0 in the container");
    assert!(eth0.up);
    assert_eq!(eth0.index, a1.container_index);
    assert_eq!(Some(a1.mac), eth0.mac);
    assert!(link::get(&mut inner, "lo").unwrap().unwrap().up);
    let addrs: Vec<(IpAddr, u8)> = addr::list(&mut inner, Some(eth0.index))
        .unwrap()
        .iter()
        .map(|a| (a.addr, a.prefix))
        .collect();
    assert!(addrs.contains(&(ip("10.77.0.2"), 24)), "{addrs:?}");
    assert!(addrs.contains(&(ip("fd77::2"), 64)), "{addrs:?}");
    let routes = route::list(&mut inner).unwrap();
    for gw in ["10.77.0.1", "fd77::1"] {
        let want = Route::default_via(ip(gw), Some(eth0.index));
        assert!(routes.contains(&want), "no default via {gw}: {routes:?}");
    }
    // Container defaults: gratuitous ARP on up, no RA autoconfiguration.
    assert_eq!(
        sysctl::read(c1.ns(), "net.ipv4.conf.eth0.arp_notify").unwrap(),
        "1"
    );
    assert_eq!(
        sysctl::read(c1.ns(), "net.ipv6.conf.eth0.autoconf").unwrap(),
        "0"
    );
    // The host end is on the bridge.
    let bridge = link::get(&mut host.nl, "nk-br0").unwrap().unwrap();
    let veth = link::get(&mut host.nl, "nkc1").unwrap().unwrap();
    assert_eq!(veth.master, Some(bridge.index));
    assert_eq!(veth.index, a1.host_index);
    // The bridge's (the gateway's) MAC stays when a port with a lower one
    // comes: containers' ARP caches stay right.
    let low = [0x02, 0, 0, 0, 0, 1];
    link::set_mac(&mut host.nl, veth.index, low, "nkc1").unwrap();
    let after = link::get(&mut host.nl, "nk-br0").unwrap().unwrap();
    assert_eq!(after.mac, bridge.mac);
}

#[test]
fn two_containers_talk_through_the_bridge() {
    let before = thread_netns_inode();
    let mut host = Host::new();
    host.bridge("nk-br0", &["10.77.0.1/24", "fd77::1/64"]);
    let c1 = host.container("c1");
    let c2 = host.container("c2");
    let a1 = host
        .attach(
            &c1,
            "nk-br0",
            "nkc1",
            &["10.77.0.2/24", "fd77::2/64"],
            &["10.77.0.1", "fd77::1"],
        )
        .unwrap();
    host.attach(
        &c2,
        "nk-br0",
        "nkc2",
        &["10.77.0.3/24", "fd77::3/64"],
        &["10.77.0.1", "fd77::1"],
    )
    .unwrap();

    check_inside(&mut host, &c1, &a1);

    // Container to container: UDP and TCP, IPv4 and IPv6; ICMP echo.
    let (n1, n2) = (c1.ns(), c2.ns());
    assert_eq!(
        udp_echo(n2, sa("10.77.0.3", 0), n1, ip("10.77.0.2")).unwrap(),
        ip("10.77.0.2")
    );
    assert_eq!(
        udp_echo(n1, sa("fd77::2", 0), n2, ip("fd77::3")).unwrap(),
        ip("fd77::3")
    );
    assert_eq!(
        tcp_echo(n2, sa("10.77.0.3", 0), n1).unwrap(),
        ip("10.77.0.2")
    );
    assert_eq!(tcp_echo(n1, sa("fd77::2", 0), n2).unwrap(), ip("fd77::3"));
    ping(n1, ip("10.77.0.3")).unwrap();
    ping(n2, ip("fd77::2")).unwrap();
    // Container to the gateway (the host side), and back.
    assert_eq!(
        udp_echo(&host.ns, sa("10.77.0.1", 0), n1, ip("10.77.0.2")).unwrap(),
        ip("10.77.0.2")
    );
    assert_eq!(
        tcp_echo(n1, sa("10.77.0.2", 0), &host.ns).unwrap(),
        ip("10.77.0.1")
    );
    ping(n2, ip("10.77.0.1")).unwrap();
    ping(n2, ip("fd77::1")).unwrap();

    // Detach: the host end and eth0 inside are gone, traffic stops.
    let mut inner = c1.netlink();
    assert!(attach::detach(&mut host.nl, "nkc1").unwrap());
    assert!(link::get(&mut host.nl, "nkc1").unwrap().is_none());
    assert!(link::get(&mut inner, "eth0").unwrap().is_none());
    assert!(udp_echo_within(n2, sa("10.77.0.3", 0), n1, ip("10.77.0.2"), SHORT).is_err());
    drop(inner);

    // Removing the namespace file unmounts and deletes it.
    let mut c1 = c1;
    c1.ns.take();
    assert!(mounted(&c1.path));
    assert!(netns::remove_file(&c1.path).unwrap());
    assert!(!mounted(&c1.path) && !c1.path.exists());
    // The caller's thread never left its namespace.
    assert_eq!(thread_netns_inode(), before);
}

#[test]
fn forwarding_between_bridges_follows_the_namespace_sysctl() {
    let mut host = Host::new();
    host.bridge("nk-bra", &["10.78.1.1/24"]);
    host.bridge("nk-brb", &["10.78.2.1/24"]);
    let a = host.container("a");
    let b = host.container("b");
    host.attach(&a, "nk-bra", "nka", &["10.78.1.2/24"], &["10.78.1.1"])
        .unwrap();
    host.attach(&b, "nk-brb", "nkb", &["10.78.2.2/24"], &["10.78.2.1"])
        .unwrap();
    // A new namespace does not forward: the two networks are apart.
    assert_eq!(sysctl::read(&host.ns, "net.ipv4.ip_forward").unwrap(), "0");
    assert!(udp_echo_within(b.ns(), sa("10.78.2.2", 0), a.ns(), ip("10.78.1.2"), SHORT).is_err());
    // Forwarding on in the test's host namespace (only there) routes them.
    sysctl::write(&host.ns, "net.ipv4.ip_forward", "1").unwrap();
    assert_eq!(sysctl::read(&host.ns, "net.ipv4.ip_forward").unwrap(), "1");
    assert_eq!(sysctl::read(a.ns(), "net.ipv4.ip_forward").unwrap(), "0");
    assert_eq!(
        udp_echo(b.ns(), sa("10.78.2.2", 0), a.ns(), ip("10.78.1.2")).unwrap(),
        ip("10.78.1.2")
    );
}

#[test]
fn a_free_subnet_avoids_the_host_routes() {
    let mut host = Host::new();
    // The "host" already routes 172.17/16 (a bridge of someone else's)
    // and 172.18.5.0/24 through a gateway on it.
    host.bridge("nk-other", &["172.17.0.1/16"]);
    let gw = Route {
        destination: "172.18.5.0/24".parse().unwrap(),
        gateway: Some(ip("172.17.0.254")),
        oif: None,
        table: route::TABLE_MAIN,
        unicast: true,
    };
    route::add(&mut host.nl, &gw).unwrap();
    route::add(&mut host.nl, &gw).unwrap();
    let routes = route::list(&mut host.nl).unwrap();
    let listed = routes
        .iter()
        .find(|r| r.destination == gw.destination)
        .unwrap_or_else(|| panic!("{routes:?}"));
    assert_eq!(listed.gateway, gw.gateway);
    let avoid = route::routed_networks(&routes);
    let subnet = ipam::choose_subnet(&ipam::docker_default_pools(), &avoid).unwrap();
    assert_eq!(subnet.to_string(), "172.19.0.0/16");
    assert!(route::delete(&mut host.nl, &gw).unwrap());
    assert!(!route::delete(&mut host.nl, &gw).unwrap());
    let avoid = route::routed_networks(&route::list(&mut host.nl).unwrap());
    let subnet = ipam::choose_subnet(&ipam::docker_default_pools(), &avoid).unwrap();
    assert_eq!(subnet.to_string(), "172.18.0.0/16");
}

#[test]
fn one_container_on_two_networks() {
    let mut host = Host::new();
    host.bridge("nk-n1", &["10.85.1.1/24"]);
    host.bridge("nk-n2", &["10.85.2.1/24"]);
    let c = host.container("c");
    let p1 = host.container("p1");
    let p2 = host.container("p2");
    host.attach(&p1, "nk-n1", "nkp1", &["10.85.1.9/24"], &["10.85.1.1"])
        .unwrap();
    host.attach(&p2, "nk-n2", "nkp2", &["10.85.2.9/24"], &["10.85.2.1"])
        .unwrap();
    host.attach(&c, "nk-n1", "nkc0", &["10.85.1.2/24"], &["10.85.1.1"])
        .unwrap();
    // the second network: eth1, no second default route, its own MAC and MTU
    let mac = [0x02, 0x42, 0x0a, 0x55, 0x02, 0x02];
    let a = attach::attach(
        &mut host.nl,
        &attach::AttachRequest {
            container: c.ns(),
            bridge: "nk-n2",
            host_ifname: "nkc1",
            ifname: "eth1",
            addresses: &[(ip("10.85.2.2"), 24)],
            gateways: &[],
            mac: Some(mac),
            mtu: Some(1400),
        },
    )
    .unwrap();
    assert_eq!(a.mac, mac);
    let mut inner = c.netlink();
    let eth1 = link::get(&mut inner, "eth1").unwrap().unwrap();
    assert_eq!((eth1.mac, eth1.mtu), (Some(mac), Some(1400)));
    let host_end = link::get(&mut host.nl, "nkc1").unwrap().unwrap();
    assert_eq!(host_end.mtu, Some(1400));
    let defaults = route::list(&mut inner)
        .unwrap()
        .into_iter()
        .filter(|r| r.destination.prefix() == 0 && r.destination.is_ipv4())
        .count();
    assert_eq!(defaults, 1);
    // c reaches both networks directly; they do not reach each other
    udp_echo(p1.ns(), sa("10.85.1.9", 0), c.ns(), ip("10.85.1.2")).unwrap();
    udp_echo(p2.ns(), sa("10.85.2.9", 0), c.ns(), ip("10.85.2.2")).unwrap();
    let apart = udp_echo_within(p2.ns(), sa("10.85.2.9", 0), p1.ns(), ip("10.85.1.9"), SHORT);
    assert!(apart.is_err());
    // leaving one network keeps the other
    assert!(attach::detach(&mut host.nl, "nkc1").unwrap());
    assert!(link::get(&mut inner, "eth1").unwrap().is_none());
    udp_echo(p1.ns(), sa("10.85.1.9", 0), c.ns(), ip("10.85.1.2")).unwrap();
}
