//! Per-container network set-up cost: attach (veth pair, peer born in the
//! container as eth0, IPv4 + IPv6 address, default routes, lo up, host end
//! on the bridge) and detach, each run N times (default 100) in network
//! namespaces of its own; prints the median and the 10th/90th percentiles.
//! Also the cost of a container's namespace file (create + remove).
//! Needs root. `cargo run --release -p nook-network --example attach_bench [N]`

use std::net::IpAddr;
use std::time::{Duration, Instant};

use nook_network::attach::{self, AttachRequest, BridgeSpec};
use nook_network::netlink::Netlink;
use nook_network::netns::{self, Netns};

fn stats(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: usize| times[(times.len() - 1) * q / 100];
    println!(
        "{name:<28} median {:>9.3?}  p10 {:>9.3?}  p90 {:>9.3?}  (n={})",
        at(50),
        at(10),
        at(90),
        times.len()
    );
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn main() -> nook_network::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let host = Netns::new_anonymous()?;
    let mut nl = Netlink::open_in(&host)?;
    let gw = [(ip("10.88.0.1"), 16), (ip("fd88::1"), 64)];
    attach::ensure_bridge(
        &mut nl,
        &BridgeSpec {
            name: "nook0",
            addresses: &gw,
            mtu: None,
        },
    )?;
    let dir = std::env::temp_dir().join(format!("nook-attach-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join("c");
    let (mut both, mut att, mut det, mut files) = (vec![], vec![], vec![], vec![]);
    let addrs = [(ip("10.88.0.2"), 16), (ip("fd88::2"), 64)];
    let gws = [ip("10.88.0.1"), ip("fd88::1")];
    for _ in 0..n {
        let t = Instant::now();
        let c = Netns::create_file(&path)?;
        let req = AttachRequest {
            container: &c,
            bridge: "nook0",
            host_ifname: "nk0123456789a0",
            ifname: "eth0",
            addresses: &addrs,
            gateways: &gws,
            mac: None,
            mtu: None,
        };
        let t0 = Instant::now();
        attach::attach(&mut nl, &req)?;
        let t1 = Instant::now();
        attach::detach(&mut nl, req.host_ifname)?;
        let t2 = Instant::now();
        drop(c);
        netns::remove_file(&path)?;
        att.push(t1 - t0);
        det.push(t2 - t1);
        both.push(t2 - t0);
        files.push(t.elapsed() - (t2 - t0));
    }
    stats("attach + detach", both);
    stats("  attach", att);
    stats("  detach", det);
    stats("netns file create + remove", files);
    let (caller, gone) = teardown_by_netns(&mut nl, &path, n)?;
    stats("rm netns file (attached)", caller);
    stats("  ... until veth gone", gone);
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}

/// Teardown without detach: removing the namespace file of an attached
/// container (nothing else holds the namespace) lets the kernel delete the
/// pair with the namespace, off the caller's clock. Returns the caller's
/// time and the time until the host end is gone.
fn teardown_by_netns(
    nl: &mut Netlink,
    path: &std::path::Path,
    n: usize,
) -> nook_network::Result<(Vec<Duration>, Vec<Duration>)> {
    let addrs = [(ip("10.88.0.2"), 16)];
    let gws = [ip("10.88.0.1")];
    let (mut caller, mut gone) = (vec![], vec![]);
    for _ in 0..n {
        let c = Netns::create_file(path)?;
        let req = AttachRequest {
            container: &c,
            bridge: "nook0",
            host_ifname: "nk0123456789a1",
            ifname: "eth0",
            addresses: &addrs,
            gateways: &gws,
            mac: None,
            mtu: None,
        };
        attach::attach(nl, &req)?;
        let t0 = Instant::now();
        drop(c);
        netns::remove_file(path)?;
        caller.push(t0.elapsed());
        while nook_network::link::get(nl, "nk0123456789a1")?.is_some() {
            std::thread::sleep(Duration::from_micros(200));
        }
        gone.push(t0.elapsed());
    }
    Ok((caller, gone))
}
