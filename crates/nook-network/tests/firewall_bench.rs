//! What publishing a container's ports costs: `add_ports` + `remove_ports` through
//! `nft -j -f -` (the firewall's choice) against nft's text syntax (`nft -f -`), beside an nft
//! run that changes nothing (the process and cache cost an in-process netlink writer would not
//! pay), in an empty table and in one holding 100 other containers' ports.  Prints the medians
//! (`cargo test -p nook-network --test firewall_bench -- --nocapture`); asserts that every
//! change applied and that the ruleset ends as it began.

mod firewall_support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use firewall_support::Lab;
use nook_network::firewall::{
    ContainerPorts, Firewall, NetworkRules, PortMapping, Protocol, Subnet, Syntax,
};

fn ports(i: usize) -> ContainerPorts {
    let tcp = |host, ctr| PortMapping {
        host_ip: None,
        host_port: host,
        container_port: ctr,
        count: 1,
        protocol: Protocol::Tcp,
    };
    ContainerPorts {
        container_id: format!("{i:064x}"),
        ipv4: Some([10, 77, 1, 2 + (i % 250) as u8].into()),
        ipv6: None,
        ports: vec![
            tcp(10000 + 2 * (i % 20000) as u16, 80),
            tcp(10001 + 2 * (i % 20000) as u16, 443),
        ],
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Median (add, remove) over `n` containers numbered from `first`.
fn add_remove(fw: &Firewall, first: usize, n: usize) -> (Duration, Duration) {
    let (mut add, mut rm) = (Vec::new(), Vec::new());
    for i in first..first + n {
        let p = ports(i);
        let t = Instant::now();
        fw.add_ports(&p).unwrap();
        add.push(t.elapsed());
        let t = Instant::now();
        fw.remove_ports(&p.container_id).unwrap();
        rm.push(t.elapsed());
    }
    (median(add), median(rm))
}

/// Median time of an `nft -j -f -` run that changes nothing.
fn nft_noop(n: usize) -> Duration {
    let batch = br#"{"nftables":[{"add":{"table":{"family":"inet","name":"nook"}}}]}"#;
    let runs = (0..n)
        .map(|_| {
            let t = Instant::now();
            let mut c = Command::new("nft")
                .args(["-j", "-f", "-"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(batch).unwrap();
            assert!(c.wait().unwrap().success());
            t.elapsed()
        })
        .collect();
    median(runs)
}

/// `nft -f -` of `script`, timed.
fn nft_text(script: &str) -> Duration {
    let t = Instant::now();
    let mut c = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(c.wait().unwrap().success());
    t.elapsed()
}

/// The same per-container chains as the firewall makes, for `n` containers in one nft run
/// (add, then remove): the per-container cost without a process and a cache fetch each, about
/// what an in-process netlink writer would pay (an upper bound: nft still parses each).
fn batched(n: usize) -> (Duration, Duration) {
    let (mut add, mut rm) = (String::new(), String::new());
    for i in 0..n {
        let p = ports(50_000 + i);
        let c = format!("inet nook c-{}", p.container_id);
        let a = p.ipv4.unwrap();
        add += &format!("add chain {c}-dnat\nflush chain {c}-dnat\n");
        for m in &p.ports {
            add += &format!(
                "add rule {c}-dnat meta nfproto ipv4 tcp dport {} dnat ip to {a}:{}\n",
                m.host_port, m.container_port
            );
        }
        for (s, hook) in [("pre", "prerouting"), ("out", "output")] {
            add += &format!(
                "add chain {c}-{s} {{ type nat hook {hook} priority -100; policy accept; }}\n\
                 flush chain {c}-{s}\n\
                 add rule {c}-{s} fib daddr type local jump c-{}-dnat\n",
                p.container_id
            );
        }
        for s in ["pre", "out", "dnat"] {
            rm += &format!("add chain {c}-{s}\nflush chain {c}-{s}\ndelete chain {c}-{s}\n");
        }
    }
    (nft_text(&add) / n as u32, nft_text(&rm) / n as u32)
}

#[test]
fn per_container_cost_of_published_ports() {
    let lab = Lab::new();
    lab.bridge("nk1", "10.77.1.1", None);
    let before = lab.host.ruleset();
    let report = lab.host.run(|| {
        let json = Firewall::new();
        let text = Firewall::new().with_syntax(Syntax::Text);
        json.ensure_network(&NetworkRules {
            name: "bench".into(),
            bridge: "nk1".into(),
            subnets: vec![Subnet::new([10, 77, 1, 0].into(), 24)],
            internal: false,
        })
        .unwrap();
        add_remove(&json, 0, 3); // warm up
        let mut lines = Vec::new();
        let mut row = |what: &str, (a, r): (Duration, Duration)| {
            lines.push(format!(
                "{what:<40} add {:>9}  remove {:>9}  total {:>9}",
                ms(a),
                ms(r),
                ms(a + r)
            ));
        };
        row(
            "json (nft -j -f -), empty table",
            add_remove(&json, 1000, 30),
        );
        row("text (nft -f -), empty table", add_remove(&text, 2000, 30));
        for i in 0..100 {
            json.add_ports(&ports(i)).unwrap();
        }
        row(
            "json, 100 containers' ports present",
            add_remove(&json, 3000, 20),
        );
        row(
            "text, 100 containers' ports present",
            add_remove(&text, 4000, 20),
        );
        row("100 containers in one nft run, each", batched(100));
        let noop = nft_noop(20);
        lines.push(format!(
            "{:<40} {}",
            "nft -j run changing nothing, 100 present",
            ms(noop)
        ));
        for i in 0..100 {
            json.remove_ports(&ports(i).container_id).unwrap();
        }
        lines.push(format!(
            "{:<40} {}",
            "nft -j run changing nothing, network only",
            ms(nft_noop(20))
        ));
        json.remove_network("bench").unwrap();
        lines.join("\n")
    });
    eprintln!("per-container published ports (2 tcp ports, IPv4):\n{report}");
    assert_eq!(lab.host.ruleset(), before);
}
