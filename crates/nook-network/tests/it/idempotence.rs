//! Repeating a step changes nothing: a bridge ensured twice, an attach
//! repeated (the earlier host end replaced), detach, bridge and namespace
//! file removal twice.

use std::net::IpAddr;

use nook_network::{addr, attach, link, netns, sysctl};

use crate::fixture::*;

#[test]
fn ensure_bridge_twice() {
    let mut host = Host::new();
    let first = host.bridge("nk-idem", &["10.79.0.1/24", "fd79::1/64"]);
    let second = host.bridge("nk-idem", &["10.79.0.1/24", "fd79::1/64"]);
    assert_eq!(first, second);
    let br = link::get(&mut host.nl, "nk-idem").unwrap().unwrap();
    assert!(br.up);
    assert_eq!(br.kind.as_deref(), Some("bridge"));
    let addrs = addr::list(&mut host.nl, Some(first)).unwrap();
    let v4: Vec<_> = addrs.iter().filter(|a| a.addr.is_ipv4()).collect();
    assert_eq!(v4.len(), 1, "{addrs:?}");
    assert!(addrs
        .iter()
        .any(|a| a.addr == "fd79::1".parse::<IpAddr>().unwrap()));
    attach::configure_bridge(&host.ns, "nk-idem").unwrap();
    attach::configure_bridge(&host.ns, "nk-idem").unwrap();
    for (key, value) in attach::bridge_sysctls("nk-idem") {
        assert_eq!(sysctl::read(&host.ns, &key).unwrap(), value, "{key}");
    }
    assert!(attach::remove_bridge(&mut host.nl, "nk-idem").unwrap());
    assert!(!attach::remove_bridge(&mut host.nl, "nk-idem").unwrap());
    assert!(link::get(&mut host.nl, "nk-idem").unwrap().is_none());
}

#[test]
fn attach_twice_detach_twice() {
    let mut host = Host::new();
    host.bridge("nk-idem2", &["10.80.0.1/24"]);
    let c = host.container("c");
    let peer = host.container("peer");
    host.attach(
        &peer,
        "nk-idem2",
        "nkpeer",
        &["10.80.0.9/24"],
        &["10.80.0.1"],
    )
    .unwrap();
    let first = host
        .attach(&c, "nk-idem2", "nkc", &["10.80.0.2/24"], &["10.80.0.1"])
        .unwrap();
    // An attach repeated after a crash: the old pair is replaced.
    let second = host
        .attach(&c, "nk-idem2", "nkc", &["10.80.0.2/24"], &["10.80.0.1"])
        .unwrap();
    assert_ne!(first.host_index, second.host_index);
    let names: Vec<String> = link::list(&mut c.netlink())
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(
        names.iter().filter(|n| *n == "eth0").count(),
        1,
        "{names:?}"
    );
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    udp_echo(
        peer.ns(),
        (ip("10.80.0.9"), 0).into(),
        c.ns(),
        ip("10.80.0.2"),
    )
    .unwrap();
    assert!(attach::detach(&mut host.nl, "nkc").unwrap());
    assert!(!attach::detach(&mut host.nl, "nkc").unwrap());
    let hosts: Vec<String> = link::list(&mut host.nl)
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(!hosts.contains(&"nkc".to_string()), "{hosts:?}");
    assert!(hosts.contains(&"nkpeer".to_string()), "{hosts:?}");
}

#[test]
fn remove_namespace_file_twice() {
    let host = Host::new();
    let mut c = host.container("twice");
    c.ns.take();
    assert!(netns::remove_file(&c.path).unwrap());
    assert!(!netns::remove_file(&c.path).unwrap());
    assert!(!mounted(&c.path));
}
