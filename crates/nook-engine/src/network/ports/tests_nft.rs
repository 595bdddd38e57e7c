//! Published ports against real nftables and real traffic, in network
//! namespaces the test makes (the firewall tests' lab: a "host" namespace
//! playing the engine's, a bridge, a "container" namespace on a veth and an
//! "outside" peer); nothing touches the machine's network.

#[path = "../../../../nook-network/tests/firewall_support/mod.rs"]
mod support;

use super::PortOptions;
use crate::Engine;
use nook_network::firewall::{Firewall, NetworkRules, Subnet};
use nook_state::{ContainerRecord, NewContainer, NewImage};
use std::net::IpAddr;
use std::path::PathBuf;
use support::{tcp_ask, tcp_server, udp_ask, udp_server, Lab, HOST4, HOST6};

/// A container record asking `publish` (its spec keeps only that).
fn record(engine: &Engine, n: u8, publish: &[&str]) -> ContainerRecord {
    let s = engine.state();
    let image = nook_state::Digest::try_from(format!("sha256:{}", "ab".repeat(32))).unwrap();
    if s.image(&image).ok().flatten().is_none() {
        let new = NewImage {
            id: image.clone(),
            manifest_digest: image.clone(),
            manifest_media_type: "m".into(),
            size: 1,
            created: None,
            os: "linux".into(),
            architecture: "amd64".into(),
            layers: vec![],
            blobs: vec![],
        };
        s.record_image(&new, &[], &[]).unwrap();
    }
    let publish: Vec<String> = publish.iter().map(|p| p.to_string()).collect();
    let opts = PortOptions::parse(&publish, &[], false).unwrap();
    let spec = serde_json::json!({"annotations": {super::ANNOTATION: opts.to_annotation()}});
    let id = format!("{n:02x}").repeat(32);
    s.insert_container(&NewContainer {
        id: id.clone(),
        name: format!("c{n}"),
        image_id: image,
        image_name: "i".into(),
        config: spec.to_string(),
        created: 1,
        log_path: "/l".into(),
        auto_remove: false,
    })
    .unwrap();
    s.container(&id).unwrap().unwrap()
}

/// The lab's host namespace, by path (as the engine is given it).
fn host_netns(lab: &Lab) -> PathBuf {
    PathBuf::from(format!(
        "/proc/{}/task/{}/ns/net",
        std::process::id(),
        lab.host.tid
    ))
}

#[test]
fn published_ports_reach_the_container_and_are_gone_after_unpublish() {
    let lab = Lab::new();
    lab.bridge("nkp0", "10.77.9.1", None);
    let ctr = lab.container("nkp0", "vethp1", ("10.77.9.2", "10.77.9.1"), None);
    let rules = NetworkRules {
        name: "ports".into(),
        bridge: "nkp0".into(),
        subnets: vec![Subnet::new("10.77.9.0".parse().unwrap(), 24)],
        internal: false,
    };
    lab.host
        .run(move || Firewall::new().ensure_network(&rules))
        .unwrap();
    // the engine's ephemeral range is read in its namespace
    lab.host
        .sysctl("net/ipv4/ip_local_port_range", "40000 40009");
    let _tcp = tcp_server(&ctr, "0.0.0.0:80");
    let _udp = udp_server(&ctr, "0.0.0.0:53");
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let ns = host_netns(&lab);
    let addrs: Vec<IpAddr> = vec!["10.77.9.2".parse().unwrap()];

    let a = record(&engine, 1, &["8080:80", "5353:53/udp", "80"]);
    engine.publish_ports(&a, &addrs, Some(&ns)).unwrap();
    let published = engine.published_ports(&a.id).unwrap();
    let any = published
        .iter()
        .find(|p| p.host_port != 8080 && p.key.port == 80)
        .expect("a free port for -p 80");
    assert!((40000..=40009).contains(&any.host_port), "{any:?}");
    let any = any.host_port;
    for target in [format!("{HOST4}:8080"), format!("{HOST4}:{any}")] {
        assert!(
            tcp_ask(&lab.outside, &target).is_some(),
            "{target} from outside"
        );
    }
    assert!(
        tcp_ask(&lab.host, "127.0.0.1:8080").is_some(),
        "from 127.0.0.1"
    );
    assert!(udp_ask(&lab.outside, &format!("{HOST4}:5353")).is_some());

    // run's first check sees it too
    let asks = |p: &str| PortOptions::parse(&[p.to_string()], &[], false).unwrap();
    let e = engine
        .check_ports_free(&asks("127.0.0.1:8080:80"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Bind for 127.0.0.1:8080 failed: port is already allocated"
    );
    for free in [
        "8080:80/udp",
        "8081:80",
        "8080-8090:80",
        "80",
        "[::1]:8080:80",
    ] {
        engine.check_ports_free(&asks(free)).unwrap();
    }
    // a second container asking for a taken port: Docker's message, nothing left
    let b = record(&engine, 2, &["9000:80", "8080:80"]);
    let e = engine.publish_ports(&b, &addrs, Some(&ns)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Bind for 0.0.0.0:8080 failed: port is already allocated"
    );
    // a port some process of the host holds
    let held = lab
        .host
        .run(|| std::net::TcpListener::bind("0.0.0.0:8181"))
        .unwrap();
    let c = record(&engine, 3, &["8181:80"]);
    let e = engine.publish_ports(&c, &addrs, Some(&ns)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Bind for 0.0.0.0:8181 failed: address already in use"
    );
    drop(held);
    for id in [&b.id, &c.id] {
        assert!(engine.published_ports(id).unwrap().is_empty());
    }
    let ruleset = lab.host.ruleset();
    assert!(
        ruleset.contains(&a.id) && !ruleset.contains(&b.id),
        "{ruleset}"
    );
    assert!(tcp_ask(&lab.outside, &format!("{HOST4}:9000")).is_none());

    engine.unpublish_ports(&a.id, Some(&ns)).unwrap();
    assert!(tcp_ask(&lab.outside, &format!("{HOST4}:8080")).is_none());
    assert!(tcp_ask(&lab.host, "127.0.0.1:8080").is_none());
    assert!(engine.published_ports(&a.id).unwrap().is_empty());
    assert!(!lab.host.ruleset().contains(&a.id));
    // again: nothing to do; then the port is free for another
    engine.unpublish_ports(&a.id, Some(&ns)).unwrap();
    engine.publish_ports(&b, &addrs, Some(&ns)).unwrap();
    assert!(tcp_ask(&lab.outside, &format!("{HOST4}:8080")).is_some());
    // a crash after the store let go of b's ports but before its rules went
    engine.publish_ports(&b, &addrs, Some(&ns)).unwrap();
    engine.state().unbind_ports(&b.id).unwrap();
    assert!(tcp_ask(&lab.outside, &format!("{HOST4}:8080")).is_some());
    assert_eq!(
        engine.reconcile_ports(Some(&ns)).unwrap(),
        vec![b.id.clone()]
    );
    assert!(tcp_ask(&lab.outside, &format!("{HOST4}:8080")).is_none());
    assert!(!lab.host.ruleset().contains(&b.id));
    assert!(engine.reconcile_ports(Some(&ns)).unwrap().is_empty());
    // rm removed the record (and its hold) before the ports were unpublished
    engine.publish_ports(&b, &addrs, Some(&ns)).unwrap();
    engine.state().remove_container(&b.id).unwrap();
    engine.unpublish_ports(&b.id, Some(&ns)).unwrap();
    assert!(tcp_ask(&lab.outside, &format!("{HOST4}:8080")).is_none());
    assert!(!lab.host.ruleset().contains(&b.id));
}

#[test]
fn a_container_with_ipv6_is_published_on_both_families() {
    let lab = Lab::new();
    lab.bridge("nkr0", "10.77.7.1", Some("fd77:7::1"));
    let ctr = lab.container(
        "nkr0",
        "vethr1",
        ("10.77.7.2", "10.77.7.1"),
        Some(("fd77:7::2", "fd77:7::1")),
    );
    let rules = NetworkRules {
        name: "six".into(),
        bridge: "nkr0".into(),
        subnets: vec![
            Subnet::new("10.77.7.0".parse().unwrap(), 24),
            Subnet::new("fd77:7::".parse().unwrap(), 64),
        ],
        internal: false,
    };
    lab.host
        .run(move || Firewall::new().ensure_network(&rules))
        .unwrap();
    let _tcp = tcp_server(&ctr, "[::]:80");
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let ns = host_netns(&lab);
    let addrs: Vec<IpAddr> = vec!["10.77.7.2".parse().unwrap(), "fd77:7::2".parse().unwrap()];
    let a = record(&engine, 4, &["8082:80", "[::]:8083:80", "80"]);
    engine.publish_ports(&a, &addrs, Some(&ns)).unwrap();
    let got: Vec<String> = engine
        .published_ports(&a.id)
        .unwrap()
        .iter()
        .map(|p| p.host_text())
        .collect();
    // -p 80: one free port for both families
    let free = got
        .iter()
        .find(|t| t.starts_with("0.0.0.0:") && !t.ends_with(":8082"));
    let free = free.unwrap().rsplit(':').next().unwrap().to_string();
    assert_eq!(
        got,
        [
            "0.0.0.0:8082".to_string(),
            format!("0.0.0.0:{free}"),
            "[::]:8082".into(),
            "[::]:8083".into(),
            format!("[::]:{free}"),
        ]
    );
    for t in [
        format!("{HOST4}:8082"),
        format!("[{HOST6}]:8082"),
        format!("[{HOST6}]:8083"),
        format!("[{HOST6}]:{free}"),
    ] {
        assert!(tcp_ask(&lab.outside, &t).is_some(), "{t}");
    }
    assert!(tcp_ask(&lab.outside, &format!("{HOST4}:8083")).is_none());
    engine.unpublish_ports(&a.id, Some(&ns)).unwrap();
    assert!(tcp_ask(&lab.outside, &format!("[{HOST6}]:8082")).is_none());
}

/// A server in `ns` on `addr` that reads each connection to its end and
/// answers with the byte count; one connection at a time, `n` of them.
fn sink(ns: &support::Ns, addr: &str, n: usize) -> std::thread::JoinHandle<()> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let l = ns.run(move || std::net::TcpListener::bind(addr)).unwrap();
    std::thread::spawn(move || {
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0u64;
            loop {
                match s.read(&mut buf).unwrap() {
                    0 => break,
                    k => total += k as u64,
                }
            }
            s.write_all(total.to_string().as_bytes()).unwrap();
        }
    })
}

/// MB/s of `bytes` streamed from `ns` to `target`.
fn stream(ns: &support::Ns, target: &str, bytes: usize) -> f64 {
    use std::io::{Read, Write};
    let target: std::net::SocketAddr = target.parse().unwrap();
    let secs = ns.run(move || {
        let buf = vec![7u8; 1 << 16];
        let t = std::time::Instant::now();
        let wait = std::time::Duration::from_secs(2);
        let mut s = std::net::TcpStream::connect_timeout(&target, wait).unwrap();
        for _ in 0..bytes / buf.len() {
            s.write_all(&buf).unwrap();
        }
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, bytes.to_string());
        t.elapsed().as_secs_f64()
    });
    bytes as f64 / secs / 1e6
}

/// Published-port throughput beside the direct path (`cargo test -p
/// nook-engine --lib published_port_throughput -- --ignored --nocapture`).
#[test]
#[ignore = "a benchmark"]
fn published_port_throughput() {
    let lab = Lab::new();
    lab.bridge("nkq0", "10.77.8.1", None);
    let ctr = lab.container("nkq0", "vethq1", ("10.77.8.2", "10.77.8.1"), None);
    let rules = NetworkRules {
        name: "bench".into(),
        bridge: "nkq0".into(),
        subnets: vec![Subnet::new("10.77.8.0".parse().unwrap(), 24)],
        internal: false,
    };
    lab.host
        .run(move || Firewall::new().ensure_network(&rules))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let a = record(&engine, 9, &["8080:80"]);
    let ns = host_netns(&lab);
    let addrs: Vec<IpAddr> = vec!["10.77.8.2".parse().unwrap()];
    engine.publish_ports(&a, &addrs, Some(&ns)).unwrap();
    // the same path without nook's rules: the outside routes to the
    // container's address through the host (nook's firewall forbids that)
    let plain = Lab::new();
    plain.bridge("nkq0", "10.77.8.1", None);
    let pctr = plain.container("nkq0", "vethq1", ("10.77.8.2", "10.77.8.1"), None);
    plain.host.sysctl("net/ipv4/ip_forward", "1");
    const ROUNDS: usize = 5;
    let server = sink(&ctr, "0.0.0.0:80", 3 * ROUNDS);
    let psink = sink(&pctr, "0.0.0.0:80", ROUNDS);
    let size = 256 << 20;
    // interleaved rounds, the best of each (the machine is shared)
    let (mut direct, mut routed, mut outside, mut local) = (0f64, 0f64, 0f64, 0f64);
    for _ in 0..ROUNDS {
        routed = routed.max(stream(&plain.outside, "10.77.8.2:80", size));
        outside = outside.max(stream(&lab.outside, &format!("{HOST4}:8080"), size));
        direct = direct.max(stream(&lab.host, "10.77.8.2:80", size));
        local = local.max(stream(&lab.host, "127.0.0.1:8080", size));
    }
    server.join().unwrap();
    psink.join().unwrap();
    println!("outside -> container address, routed, no nook rules: {routed:.0} MB/s");
    println!("host -> container address (direct): {direct:.0} MB/s");
    println!(
        "outside -> {HOST4}:8080 (published): {outside:.0} MB/s ({:.2} x routed)",
        outside / routed
    );
    println!(
        "host -> 127.0.0.1:8080 (published): {local:.0} MB/s ({:.2} x direct)",
        local / direct
    );
    engine.unpublish_ports(&a.id, Some(&ns)).unwrap();
}
