//! Bad input and refusals: one-line errors naming the operation, the
//! object and the kernel's reason, and nothing half-made left behind.

use std::io::Write;
use std::net::IpAddr;

use nook_network::attach::{self, AttachRequest, BridgeSpec};
use nook_network::link::{self, VethSpec};
use nook_network::netns::Netns;
use nook_network::{Errno, Error};

use crate::fixture::*;

#[test]
fn bridge_name_too_long() {
    let mut host = Host::new();
    let e = attach::ensure_bridge(
        &mut host.nl,
        &BridgeSpec {
            name: "nook-bridge-0123",
            addresses: &[],
            mtu: None,
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid interface name \"nook-bridge-0123\": longer than 15 bytes"
    );
    assert!(link::list(&mut host.nl)
        .unwrap()
        .iter()
        .all(|l| l.name == "lo"));
}

#[test]
fn unknown_or_wrong_netns() {
    let host = Host::new();
    let missing = host.dir.path().join("no-such-netns");
    let e = Netns::open(&missing).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT));
    assert_eq!(
        e.to_string(),
        format!(
            "open network namespace {}: No such file or directory",
            missing.display()
        )
    );
    let plain = host.dir.path().join("plain-file");
    std::fs::File::create(&plain)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    let e = Netns::open(&plain).unwrap_err();
    assert!(matches!(e, Error::NotNetns { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("{}: not a network namespace", plain.display())
    );
    // a mount namespace is a namespace, but not a network one
    let e = Netns::open("/proc/self/ns/mnt").unwrap_err();
    assert!(matches!(e, Error::NotNetns { .. }), "{e:?}");
    // creating over an existing file is refused and leaves it alone
    let e = Netns::create_file(&plain).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EEXIST), "{e}");
    assert_eq!(std::fs::read(&plain).unwrap(), b"x");
    assert!(!mounted(&plain));
}

#[test]
fn attach_refusals_leave_nothing() {
    let mut host = Host::new();
    host.bridge("nk-err", &["10.81.0.1/24"]);
    let c = host.container("c");
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    // no such bridge
    let e = host
        .attach(&c, "nk-nobridge", "nkerr", &["10.81.0.2/24"], &[])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no interface nk-nobridge in the host namespace"
    );
    // a gateway the container cannot reach: the route fails, the pair goes
    let e = host
        .attach(&c, "nk-err", "nkerr", &["10.81.0.2/24"], &["10.99.0.1"])
        .unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENETUNREACH), "{e}");
    assert_eq!(
        e.to_string(),
        "add route 0.0.0.0/0 via 10.99.0.1: Network is unreachable"
    );
    assert!(link::get(&mut host.nl, "nkerr").unwrap().is_none());
    assert!(link::get(&mut c.netlink(), "eth0").unwrap().is_none());
    // eth0 taken inside the container: the kernel refuses the pair
    host.attach(&c, "nk-err", "nkerr", &["10.81.0.2/24"], &["10.81.0.1"])
        .unwrap();
    let e = link::create_veth(
        &mut host.nl,
        &VethSpec {
            host_name: "nkerr2",
            peer_name: "eth0",
            peer_netns: c.ns(),
            master: None,
            mtu: None,
            peer_mac: None,
        },
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "create veth nkerr2: File exists");
    assert!(link::get(&mut host.nl, "nkerr2").unwrap().is_none());
    // a prefix longer than the address
    let e = attach::attach(
        &mut host.nl,
        &AttachRequest {
            container: c.ns(),
            bridge: "nk-err",
            host_ifname: "nkerr3",
            ifname: "eth1",
            addresses: &[(ip("10.81.0.3"), 33)],
            gateways: &[],
            mac: None,
            mtu: None,
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid address \"10.81.0.3/33\": prefix length longer than the address"
    );
    assert!(link::get(&mut host.nl, "nkerr3").unwrap().is_none());
}

#[test]
fn wrong_kinds_are_not_touched() {
    let mut host = Host::new();
    host.bridge("nk-kind", &[]);
    let c = host.container("c");
    host.attach(&c, "nk-kind", "nkkind", &["10.82.0.2/24"], &[])
        .unwrap();
    // a bridge name held by a veth, a veth name held by a bridge
    let e = attach::ensure_bridge(
        &mut host.nl,
        &BridgeSpec {
            name: "nkkind",
            addresses: &[],
            mtu: None,
        },
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "nkkind: exists and is not a bridge");
    let e = attach::detach(&mut host.nl, "nk-kind").unwrap_err();
    assert_eq!(e.to_string(), "nk-kind: exists and is not a veth");
    let e = attach::remove_bridge(&mut host.nl, "nkkind").unwrap_err();
    assert!(matches!(e, Error::WrongKind { .. }));
    assert!(link::get(&mut host.nl, "nk-kind").unwrap().is_some());
    assert!(link::get(&mut host.nl, "nkkind").unwrap().is_some());
}
