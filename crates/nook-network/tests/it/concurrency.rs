//! Twenty containers attached at once, each thread with its own rtnetlink
//! socket, all ensuring the same bridge: every one gets its own working
//! eth0.

use std::net::{IpAddr, SocketAddr};

use nook_network::attach::{self, AttachRequest, BridgeSpec};
use nook_network::netlink::Netlink;
use nook_network::{link, netns::Netns};

use crate::fixture::*;

#[test]
fn twenty_attach_at_once() {
    let host = Host::new();
    let gw: IpAddr = "10.86.0.1".parse().unwrap();
    let containers: Vec<NsFile> = (0..20).map(|i| host.container(&format!("c{i}"))).collect();
    let host_ns: &Netns = &host.ns;
    std::thread::scope(|s| {
        let handles: Vec<_> = containers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                s.spawn(move || {
                    let mut nl = Netlink::open_in(host_ns).unwrap();
                    let bridge = BridgeSpec {
                        name: "nk-many",
                        addresses: &[(gw, 24)],
                        mtu: None,
                    };
                    attach::ensure_bridge(&mut nl, &bridge).unwrap();
                    let ip: IpAddr = format!("10.86.0.{}", i + 2).parse().unwrap();
                    attach::attach(
                        &mut nl,
                        &AttachRequest {
                            container: c.ns(),
                            bridge: "nk-many",
                            host_ifname: &format!("nkmany{i}"),
                            ifname: "eth0",
                            addresses: &[(ip, 24)],
                            gateways: &[gw],
                            mac: None,
                            mtu: None,
                        },
                    )
                    .unwrap()
                })
            })
            .collect();
        let macs: std::collections::HashSet<_> =
            handles.into_iter().map(|h| h.join().unwrap().mac).collect();
        assert_eq!(macs.len(), 20);
    });
    let mut nl = Netlink::open_in(&host.ns).unwrap();
    let bridge = link::get(&mut nl, "nk-many").unwrap().unwrap();
    let ports = link::list(&mut nl)
        .unwrap()
        .into_iter()
        .filter(|l| l.master == Some(bridge.index))
        .count();
    assert_eq!(ports, 20);
    for (i, c) in containers.iter().enumerate() {
        let ip: IpAddr = format!("10.86.0.{}", i + 2).parse().unwrap();
        let seen = udp_echo(&host.ns, SocketAddr::new(gw, 0), c.ns(), ip).unwrap();
        assert_eq!(seen, ip);
    }
}
