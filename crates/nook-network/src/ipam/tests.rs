//! IPAM unit tests: parsing, subnets, gateways, ranges, allocation,
//! exhaustion, pools and overlap, for IPv4 and IPv6.

use super::*;

fn c(s: &str) -> Cidr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn set(ips: &[&str]) -> HashSet<IpAddr> {
    ips.iter().map(|s| ip(s)).collect()
}

#[test]
fn parse_valid() {
    let v4 = c("10.88.0.0/16");
    assert_eq!(v4.addr(), ip("10.88.0.0"));
    assert_eq!(v4.prefix(), 16);
    assert_eq!(v4.to_string(), "10.88.0.0/16");
    assert_eq!(c("0.0.0.0/0").last(), ip("255.255.255.255"));
    assert_eq!(c("fd00:1:2::/64").to_string(), "fd00:1:2::/64");
    assert_eq!(
        c("fd00:1:2::/64").last(),
        ip("fd00:1:2:0:ffff:ffff:ffff:ffff")
    );
    assert_eq!(
        c("::/0").last(),
        ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    );
    assert_eq!(c("10.1.2.3/32").last(), ip("10.1.2.3"));
}

#[test]
fn parse_host_bits_set_names_the_network() {
    let e = "10.88.0.1/16".parse::<Cidr>().unwrap_err();
    assert_eq!(
        e,
        IpamError::HostBitsSet {
            value: "10.88.0.1/16".into(),
            network: c("10.88.0.0/16")
        }
    );
    assert_eq!(
        e.to_string(),
        "invalid subnet 10.88.0.1/16: host bits set (the network is 10.88.0.0/16)"
    );
    let e = "fd00::1/64".parse::<Cidr>().unwrap_err();
    assert!(e.to_string().contains("the network is fd00::/64"), "{e}");
}

#[test]
fn parse_malformed() {
    for bad in [
        "10.88.0.0",
        "10.88.0.0/",
        "10.88.0.0/33",
        "10.88.0/16",
        "fd00::/129",
        "x/8",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/1000",
        "",
        "/8",
    ] {
        let e = bad.parse::<Cidr>().unwrap_err();
        assert!(matches!(e, IpamError::Malformed { .. }), "{bad}: {e:?}");
        assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
    }
}

#[test]
fn truncating_and_contains() {
    let n = Cidr::new_truncating(ip("10.88.7.9"), 16);
    assert_eq!(n, c("10.88.0.0/16"));
    assert!(n.contains(ip("10.88.255.255")));
    assert!(!n.contains(ip("10.89.0.0")));
    assert!(!n.contains(ip("::ffff:10.88.0.1")), "families never mix");
    assert_eq!(Cidr::new_truncating(ip("fd00::1"), 200).prefix(), 128);
    assert!(c("10.0.0.0/8").contains_cidr(&c("10.88.0.0/16")));
    assert!(!c("10.88.0.0/16").contains_cidr(&c("10.0.0.0/8")));
    assert!(c("10.0.0.0/8").overlaps(&c("10.88.0.0/16")));
    assert!(c("10.88.0.0/16").overlaps(&c("10.0.0.0/8")));
    assert!(!c("10.88.0.0/16").overlaps(&c("10.89.0.0/16")));
    assert!(!c("10.0.0.0/8").overlaps(&c("fd00::/8")));
    assert!(c("fd00::/8").overlaps(&c("fd12:3456::/32")));
}

#[test]
fn gateway_defaults_to_first_host() {
    let s = Subnet::new(c("10.88.0.0/16"), None, None).unwrap();
    assert_eq!(s.gateway, ip("10.88.0.1"));
    assert_eq!(s.range, c("10.88.0.0/16"));
    let s = Subnet::new(c("fd00:a::/64"), None, None).unwrap();
    assert_eq!(s.gateway, ip("fd00:a::1"));
    // /31: both addresses are hosts (RFC 3021)
    let s = Subnet::new(c("10.0.0.0/31"), None, None).unwrap();
    assert_eq!(s.gateway, ip("10.0.0.0"));
    assert_eq!(s.allocate(&set(&[])).unwrap(), ip("10.0.0.1"));
}

#[test]
fn gateway_checked() {
    let sub = c("10.88.0.0/16");
    let s = Subnet::new(sub, Some(ip("10.88.255.254")), None).unwrap();
    assert_eq!(s.gateway, ip("10.88.255.254"));
    let e = Subnet::new(sub, Some(ip("10.89.0.1")), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "gateway 10.89.0.1 is not in subnet 10.88.0.0/16"
    );
    let e = Subnet::new(sub, Some(ip("10.88.0.0")), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "gateway 10.88.0.0 is the network address of subnet 10.88.0.0/16"
    );
    let e = Subnet::new(sub, Some(ip("10.88.255.255")), None).unwrap_err();
    assert!(e.to_string().contains("broadcast"), "{e}");
    let e = Subnet::new(sub, Some(ip("fd00::1")), None).unwrap_err();
    assert!(matches!(e, IpamError::OutsideSubnet { .. }));
    // IPv6 has no broadcast: the last address is a host
    let v6 = c("fd00:a::/120");
    assert!(Subnet::new(v6, Some(ip("fd00:a::ff")), None).is_ok());
    assert!(Subnet::new(v6, Some(ip("fd00:a::")), None).is_err());
}

#[test]
fn too_small() {
    for s in ["10.0.0.5/32", "fd00::5/128"] {
        let e = Subnet::new(c(s), None, None).unwrap_err();
        assert_eq!(e, IpamError::TooSmall { subnet: c(s) });
    }
}

#[test]
fn ip_range_inside_subnet() {
    let sub = c("10.88.0.0/16");
    let s = Subnet::new(sub, None, Some(c("10.88.5.0/24"))).unwrap();
    assert_eq!(s.range, c("10.88.5.0/24"));
    assert_eq!(s.allocate(&set(&[])).unwrap(), ip("10.88.5.0"));
    let e = Subnet::new(sub, None, Some(c("10.89.0.0/24"))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ip range 10.89.0.0/24 is not inside subnet 10.88.0.0/16"
    );
    let e = Subnet::new(sub, None, Some(c("10.0.0.0/8"))).unwrap_err();
    assert!(matches!(e, IpamError::RangeOutsideSubnet { .. }));
    let e = Subnet::new(sub, None, Some(c("fd00::/64"))).unwrap_err();
    assert!(matches!(e, IpamError::RangeOutsideSubnet { .. }));
}

#[test]
fn allocation_skips_network_gateway_and_used() {
    let s = Subnet::new(c("10.88.0.0/16"), None, None).unwrap();
    assert_eq!(s.allocate(&set(&[])).unwrap(), ip("10.88.0.2"));
    assert_eq!(
        s.allocate(&set(&["10.88.0.2", "10.88.0.3"])).unwrap(),
        ip("10.88.0.4")
    );
    // a gateway in the middle is skipped too
    let s = Subnet::new(c("10.1.0.0/29"), Some(ip("10.1.0.3")), None).unwrap();
    let used = set(&["10.1.0.1", "10.1.0.2"]);
    assert_eq!(s.allocate(&used).unwrap(), ip("10.1.0.4"));
    // a range at the start of the subnet never yields the network address
    let s = Subnet::new(c("10.2.0.0/24"), None, Some(c("10.2.0.0/30"))).unwrap();
    assert_eq!(s.allocate(&set(&[])).unwrap(), ip("10.2.0.2"));
    assert_eq!(s.allocate(&set(&["10.2.0.2"])).unwrap(), ip("10.2.0.3"));
    // ... and a range at its end never the broadcast address
    let s = Subnet::new(c("10.2.0.0/24"), None, Some(c("10.2.0.252/30"))).unwrap();
    let e = s
        .allocate(&set(&["10.2.0.252", "10.2.0.253", "10.2.0.254"]))
        .unwrap_err();
    assert_eq!(e.to_string(), "no free address left in 10.2.0.252/30");
}

#[test]
fn allocation_ipv6() {
    let s = Subnet::new(c("fd00:a::/64"), None, None).unwrap();
    assert_eq!(s.allocate(&set(&[])).unwrap(), ip("fd00:a::2"));
    assert_eq!(s.allocate(&set(&["fd00:a::2"])).unwrap(), ip("fd00:a::3"));
    // the last address is usable in IPv6
    let s = Subnet::new(c("fd00:a::/126"), None, None).unwrap();
    let used = set(&["fd00:a::2"]);
    assert_eq!(s.allocate(&used).unwrap(), ip("fd00:a::3"));
    let used = set(&["fd00:a::2", "fd00:a::3"]);
    assert_eq!(
        s.allocate(&used).unwrap_err(),
        IpamError::Exhausted {
            range: c("fd00:a::/126")
        }
    );
    // the top of the address space does not overflow
    let s = Subnet::new(c("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc/126"), None, None).unwrap();
    let used = set(&[
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ]);
    assert!(matches!(
        s.allocate(&used),
        Err(IpamError::Exhausted { .. })
    ));
}

#[test]
fn exhaustion_v4() {
    let s = Subnet::new(c("10.3.0.0/30"), None, None).unwrap();
    assert_eq!(s.allocate(&set(&[])).unwrap(), ip("10.3.0.2"));
    let e = s.allocate(&set(&["10.3.0.2"])).unwrap_err();
    assert_eq!(
        e,
        IpamError::Exhausted {
            range: c("10.3.0.0/30")
        }
    );
    // 254 hosts of a /24: gateway + 253 containers
    let s = Subnet::new(c("10.4.0.0/24"), None, None).unwrap();
    let mut used = HashSet::new();
    for _ in 0..253 {
        let a = s.allocate(&used).unwrap();
        assert!(used.insert(a), "{a} handed out twice");
    }
    assert!(!used.contains(&ip("10.4.0.255")) && !used.contains(&ip("10.4.0.0")));
    assert!(matches!(
        s.allocate(&used),
        Err(IpamError::Exhausted { .. })
    ));
}

#[test]
fn requested_address() {
    let s = Subnet::new(c("10.88.0.0/16"), None, Some(c("10.88.1.0/24"))).unwrap();
    let used = set(&["10.88.0.7"]);
    assert!(
        s.check_requested(ip("10.88.0.9"), &used).is_ok(),
        "outside --ip-range is allowed"
    );
    let e = s.check_requested(ip("10.88.0.7"), &used).unwrap_err();
    assert_eq!(
        e.to_string(),
        "address 10.88.0.7 is already in use on subnet 10.88.0.0/16"
    );
    assert!(matches!(
        s.check_requested(ip("10.88.0.1"), &used),
        Err(IpamError::InUse { .. })
    ));
    let e = s.check_requested(ip("10.99.0.1"), &used).unwrap_err();
    assert_eq!(
        e.to_string(),
        "address 10.99.0.1 is not in subnet 10.88.0.0/16"
    );
    assert!(matches!(
        s.check_requested(ip("10.88.255.255"), &used),
        Err(IpamError::Reserved {
            which: "broadcast",
            ..
        })
    ));
    let v6 = Subnet::new(c("fd00:b::/64"), None, None).unwrap();
    assert!(v6.check_requested(ip("fd00:b::99"), &set(&[])).is_ok());
    assert!(v6.check_requested(ip("fd00:c::99"), &set(&[])).is_err());
}

#[test]
fn pools_in_order() {
    let p = pool("192.168.0.0/16", 20);
    let subs: Vec<_> = p.subnets().collect();
    assert_eq!(subs.len(), 16);
    assert_eq!(subs[0], c("192.168.0.0/20"));
    assert_eq!(subs[1], c("192.168.16.0/20"));
    assert_eq!(subs[15], c("192.168.240.0/20"));
    let v6 = Pool {
        base: c("fd00:1234::/48"),
        size: 64,
    };
    let mut it = v6.subnets();
    assert_eq!(it.next(), Some(c("fd00:1234::/64")));
    assert_eq!(it.next(), Some(c("fd00:1234:0:1::/64")));
    assert_eq!(v6.subnets().count(), 65536);
    let bad = Pool {
        base: c("10.0.0.0/16"),
        size: 8,
    };
    assert_eq!(bad.subnets().count(), 0);
    let whole = Pool {
        base: c("::/0"),
        size: 0,
    };
    assert_eq!(whole.subnets().collect::<Vec<_>>(), vec![c("::/0")]);
}

#[test]
fn docker_pools() {
    let pools = docker_default_pools();
    assert_eq!(choose_subnet(&pools, &[]).unwrap(), c("172.17.0.0/16"));
    assert_eq!(
        choose_subnet(&pools, &[c("172.17.0.0/16")]).unwrap(),
        c("172.18.0.0/16")
    );
    // every 172.x taken → 192.168.0.0/20 steps
    let taken: Vec<Cidr> = (17..=31).map(|b| c(&format!("172.{b}.0.0/16"))).collect();
    assert_eq!(choose_subnet(&pools, &taken).unwrap(), c("192.168.0.0/20"));
    let podman = podman_default_pools();
    assert_eq!(choose_subnet(&podman, &[]).unwrap(), c("10.89.0.0/24"));
    assert_eq!(
        PODMAN_DEFAULT_SUBNET.parse::<Cidr>().unwrap(),
        c("10.88.0.0/16")
    );
}

#[test]
fn choose_avoids_routes_and_networks() {
    let pools = docker_default_pools();
    // a host route inside a pool subnet (a /24 inside 172.17/16), and a
    // wide one covering 172.18-19
    let avoid = [c("172.17.3.0/24"), c("172.18.0.0/15")];
    assert_eq!(choose_subnet(&pools, &avoid).unwrap(), c("172.20.0.0/16"));
    // a route covering the whole 172.16/12 and the first 192.168 block
    let avoid = [c("172.16.0.0/12"), c("192.168.1.0/24")];
    assert_eq!(choose_subnet(&pools, &avoid).unwrap(), c("192.168.16.0/20"));
    // everything taken
    let avoid = [c("172.16.0.0/12"), c("192.168.0.0/16")];
    assert_eq!(choose_subnet(&pools, &avoid), Err(IpamError::NoFreeSubnet));
    // a default route (/0) would block everything: callers pass routed
    // networks without it (route::routed_networks), IPv6 never blocks IPv4
    let avoid = [c("fd00::/8")];
    assert_eq!(choose_subnet(&pools, &avoid).unwrap(), c("172.17.0.0/16"));
}

#[test]
fn overlap_checks_name_what() {
    let nets = [("nook", c("172.17.0.0/16")), ("web", c("10.89.0.0/24"))];
    let e = check_overlap(c("10.89.0.0/16"), &nets, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "subnet 10.89.0.0/16 overlaps network web (10.89.0.0/24)"
    );
    let e = check_overlap(c("192.168.1.0/24"), &nets, &[c("192.168.0.0/16")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "subnet 192.168.1.0/24 overlaps host route 192.168.0.0/16"
    );
    assert!(check_overlap(c("10.90.0.0/24"), &nets, &[c("192.168.0.0/16")]).is_ok());
}

#[test]
fn ula_pool_for_ipv6() {
    let pool = ula_pool([0x12, 0x34, 0x56, 0x78, 0x9a]);
    assert_eq!(pool.base, c("fd12:3456:789a::/48"));
    assert_eq!(
        choose_subnet(&[pool], &[]).unwrap(),
        c("fd12:3456:789a::/64")
    );
    let avoid = [c("fd12:3456:789a::/64"), c("fd12:3456:789a:2::/63")];
    assert_eq!(
        choose_subnet(&[pool], &avoid).unwrap(),
        c("fd12:3456:789a:1::/64")
    );
    let avoid = [c("fd12:3456:789a::/63")];
    assert_eq!(
        choose_subnet(&[pool], &avoid).unwrap(),
        c("fd12:3456:789a:2::/64")
    );
    let s = Subnet::new(c("fd12:3456:789a:2::/64"), None, None).unwrap();
    assert_eq!(s.gateway, ip("fd12:3456:789a:2::1"));
}
