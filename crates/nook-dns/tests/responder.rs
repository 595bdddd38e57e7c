//! The real nook-dns program, started as the engine starts it
//! (`Responder::ensure`), in a network namespace each test makes (a
//! thread's `unshare(CLONE_NEWNET)`, loopback up with the "networks'"
//! addresses on it): nothing reaches the machine's network.  The fake
//! upstream resolver is the test's own socket in that namespace.
//!
//! Addresses (on lo, so each /24 is local as a whole): networks `front`
//! 10.11.0.0/24 (listen .1, fd11::1), `back` 10.12.0.0/24 (listen .1),
//! `sealed` 10.13.0.0/24 (internal); the upstream 10.99.0.53, a silent
//! one 10.99.0.55.

use nook_dns::wire::{self, Rdata, Response, TYPE_A, TYPE_AAAA, TYPE_PTR};
use nook_dns::{Container, Ensured, Network, Responder};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WEB: &str = "aaaaaaaaaaaa11112222333344445555666677778888999900001111222233";
const DB: &str = "bbbbbbbbbbbb11112222333344445555666677778888999900001111222233";

/// Run `f` on a thread of its own in a new network namespace with lo up
/// and the test's addresses on it.
fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let t = std::thread::spawn(move || {
        // SAFETY: unshare affects this thread only (its network
        // namespace); the thread ends with the test.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
        ip(&["link", "set", "lo", "up"]);
        for a in [
            "10.11.0.1/24",
            "10.12.0.1/24",
            "10.13.0.1/24",
            "10.99.0.53/24",
        ] {
            ip(&["addr", "add", a, "dev", "lo"]);
        }
        for a in ["fd11::1/128", "fd11::5/128"] {
            ip(&["-6", "addr", "add", a, "dev", "lo", "nodad"]);
        }
        f()
    });
    t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn container(id: &str, name: &str, addrs: &[&str], aliases: &[&str]) -> Container {
    Container {
        id: id.into(),
        name: name.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        upstreams: vec![],
    }
}

fn network(name: &str, n: u8, internal: bool, containers: Vec<Container>) -> Network {
    let mut listen = vec![format!("10.{n}.0.1").parse().unwrap()];
    let mut subnets = vec![(format!("10.{n}.0.0").parse().unwrap(), 24)];
    if n == 11 {
        listen.push("fd11::1".parse().unwrap());
        subnets.push(("fd11::".parse().unwrap(), 64));
    }
    Network {
        name: name.into(),
        internal,
        listen,
        subnets,
        upstreams: vec![],
        containers,
    }
}

/// A records directory, a resolv.conf naming the fake upstream, and the
/// responder: stopped (and waited for) when dropped.
struct Dns {
    dir: tempfile::TempDir,
    responder: Responder,
}

impl Dns {
    fn new() -> Dns {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dns")).unwrap();
        let resolv = dir.path().join("resolv.conf");
        std::fs::write(&resolv, "nameserver 10.99.0.53\n").unwrap();
        let program = env!("CARGO_BIN_EXE_nook-dns").into();
        let mut responder = Responder::new(program, dir.path().join("dns"));
        responder.options.resolv_conf = resolv;
        responder.options.timeout = Duration::from_millis(300);
        Dns { dir, responder }
    }

    fn records(&self) -> &Path {
        &self.responder.options.records_dir
    }

    fn write(&self, n: &Network) {
        n.write(self.records()).unwrap();
    }

    fn ensure(&self) -> Ensured {
        self.responder.ensure().unwrap()
    }

    fn start(&self, nets: &[Network]) -> i32 {
        for n in nets {
            self.write(n);
        }
        match self.ensure() {
            Ensured::Started(pid) => pid,
            e => panic!("{e:?}"),
        }
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        if let Some(pid) = self.responder.pid() {
            // SAFETY: the pid is the responder's (checked by pid()).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            wait_gone(pid);
        }
        let _ = &self.dir;
    }
}

/// Wait (at most 5 s) until process `pid` is gone (or a zombie).
fn wait_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.trim().chars().next());
        if stat.is_empty() || state == Some('Z') {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

static ID: AtomicUsize = AtomicUsize::new(1);

/// Ask `server` over UDP from address `from`.
fn ask(server: &str, from: &str, name: &str, qtype: u16) -> Response {
    ask_with(server, from, name, qtype, None)
}

fn ask_with(server: &str, from: &str, name: &str, qtype: u16, edns: Option<u16>) -> Response {
    let s = UdpSocket::bind(SocketAddr::new(from.parse().unwrap(), 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let id = ID.fetch_add(1, Ordering::Relaxed) as u16;
    s.send_to(&wire::build_query(id, name, qtype, edns), sa(server))
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, peer) = s
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("{name} at {server}: {e}"));
    assert_eq!(peer, sa(server), "answered from another address");
    let r = wire::parse_response(&buf[..n]).unwrap();
    assert_eq!(r.id, id);
    r
}

/// Ask `server` over TCP (the kernel picks the source address: the
/// server's own, in its network's subnet).
fn ask_tcp(server: &str, name: &str, qtype: u16) -> Response {
    let mut s = TcpStream::connect_timeout(&sa(server), Duration::from_secs(3)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let q = wire::build_query(77, name, qtype, None);
    let mut out = wire::tcp_prefix(q.len()).to_vec();
    out.extend_from_slice(&q);
    s.write_all(&out).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut m).unwrap();
    wire::parse_response(&m).unwrap()
}

fn a(r: &Response) -> Vec<String> {
    r.answers
        .iter()
        .map(|x| match x {
            Rdata::A(i) => i.to_string(),
            Rdata::Aaaa(i) => i.to_string(),
            Rdata::Ptr(n) => n.clone(),
        })
        .collect()
}

/// The fake upstream resolver on 10.99.0.53:53 (UDP and TCP): answers
/// `outside.example` A 192.0.2.7, NXDOMAIN to all else, and counts
/// what it gets.  A silent one on 10.99.0.55 never answers.
struct Upstream {
    seen: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn upstream_answer(msg: &[u8], udp: bool) -> Option<Vec<u8>> {
    let q = wire::parse_query(msg).ok()?;
    Some(if q.qname == "outside.example" && q.qtype == TYPE_A {
        let ip = Rdata::A("192.0.2.7".parse().unwrap());
        wire::response(&q, wire::NOERROR, &[ip], false, true, udp)
    } else {
        wire::response(&q, wire::NXDOMAIN, &[], false, true, udp)
    })
}

/// Answer one query on a TCP connection.
fn upstream_tcp(mut s: TcpStream) {
    let _ = s.set_nonblocking(false);
    let mut len = [0u8; 2];
    if s.read_exact(&mut len).is_ok() {
        let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
        if s.read_exact(&mut m).is_ok() {
            if let Some(r) = upstream_answer(&m, false) {
                let mut out = wire::tcp_prefix(r.len()).to_vec();
                out.extend_from_slice(&r);
                let _ = s.write_all(&out);
            }
        }
    }
}

impl Upstream {
    fn start() -> Upstream {
        let (seen, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let udp = UdpSocket::bind(sa("10.99.0.53:53")).unwrap();
        let silent = UdpSocket::bind(sa("10.99.0.55:53")).unwrap();
        let tcp = std::net::TcpListener::bind(sa("10.99.0.53:53")).unwrap();
        for s in [&udp, &silent] {
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        }
        tcp.set_nonblocking(true).unwrap();
        let (seen1, stop1) = (seen.clone(), stop.clone());
        let t1 = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop1.load(Ordering::Relaxed) {
                if let Ok((n, peer)) = udp.recv_from(&mut buf) {
                    seen1.fetch_add(1, Ordering::SeqCst);
                    if let Some(r) = upstream_answer(&buf[..n], true) {
                        let _ = udp.send_to(&r, peer);
                    }
                }
            }
        });
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let t2 = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop2.load(Ordering::Relaxed) {
                if silent.recv_from(&mut buf).is_ok() {
                    seen2.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let (seen3, stop3) = (seen.clone(), stop.clone());
        let t3 = std::thread::spawn(move || {
            while !stop3.load(Ordering::Relaxed) {
                match tcp.accept() {
                    Ok((s, _)) => {
                        seen3.fetch_add(1, Ordering::SeqCst);
                        upstream_tcp(s);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Upstream {
            seen,
            stop,
            threads: vec![t1, t2, t3],
        }
    }

    fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn two_networks() -> Vec<Network> {
    let web = container(WEB, "web", &["10.11.0.2", "fd11::2"], &["www"]);
    let db = container(DB, "db", &["10.12.0.3"], &["store"]);
    vec![
        network("front", 11, false, vec![web]),
        network("back", 12, false, vec![db]),
    ]
}

#[test]
fn names_resolve_on_their_own_network_only() {
    in_netns(|| {
        let _up = Upstream::start();
        let dns = Dns::new();
        dns.start(&two_networks());
        let (front, back) = ("10.11.0.1:53", "10.12.0.1:53");
        for name in [
            "web",
            "WEB",
            "www",
            "web.dns.nook",
            "Web.Dns.Nook",
            "aaaaaaaaaaaa",
        ] {
            let r = ask(front, "10.11.0.9", name, TYPE_A);
            assert_eq!(
                (r.rcode, a(&r)),
                (0, vec!["10.11.0.2".to_string()]),
                "{name}"
            );
            assert!(r.authoritative);
            assert_eq!(r.qname, name, "the question's case is kept");
        }
        assert_eq!(a(&ask(front, "10.11.0.9", "web", TYPE_AAAA)), ["fd11::2"]);
        // over IPv6 to the network's v6 address
        assert_eq!(
            a(&ask("[fd11::1]:53", "fd11::5", "www", TYPE_A)),
            ["10.11.0.2"]
        );
        let r = ask(front, "10.11.0.9", "2.0.11.10.in-addr.arpa", TYPE_PTR);
        assert_eq!(a(&r), ["web.dns.nook"]);
        assert_eq!(a(&ask(back, "10.12.0.9", "store", TYPE_A)), ["10.12.0.3"]);
        // the other network's names: not ours (the upstream says NXDOMAIN)
        for (server, from, name) in [(front, "10.11.0.9", "db"), (back, "10.12.0.9", "web")] {
            let r = ask(server, from, name, TYPE_A);
            assert_eq!((r.rcode, r.answers.len()), (wire::NXDOMAIN, 0), "{name}");
            let r = ask(server, from, &format!("{name}.dns.nook"), TYPE_A);
            assert_eq!((r.rcode, r.authoritative), (wire::NXDOMAIN, true), "{name}");
        }
        let r = ask(back, "10.12.0.9", "2.0.11.10.in-addr.arpa", TYPE_PTR);
        assert!(r.answers.is_empty());
        // a query from outside the network's subnet to its address
        assert_eq!(ask(front, "10.12.0.9", "web", TYPE_A).rcode, wire::REFUSED);
        // TCP
        assert_eq!(a(&ask_tcp(front, "web", TYPE_A)), ["10.11.0.2"]);
    })
}

#[test]
fn many_answers_are_truncated_over_udp_and_whole_over_tcp() {
    in_netns(|| {
        let dns = Dns::new();
        let many: Vec<Container> = (0..40)
            .map(|i| {
                let id = format!("{i:02x}").repeat(32);
                let addr = format!("10.11.0.{}", 10 + i);
                container(&id, &format!("c{i}"), &[&addr], &["pool"])
            })
            .collect();
        dns.start(&[network("front", 11, false, many)]);
        let r = ask("10.11.0.1:53", "10.11.0.9", "pool", TYPE_A);
        assert!(r.truncated && r.answers.is_empty());
        let r = ask_with("10.11.0.1:53", "10.11.0.9", "pool", TYPE_A, Some(1232));
        assert!(!r.truncated && r.answers.len() == 40 && r.edns.is_some());
        let r = ask_tcp("10.11.0.1:53", "pool", TYPE_A);
        assert!(!r.truncated && r.answers.len() == 40);
    })
}

#[test]
fn records_changes_apply_without_restart() {
    in_netns(|| {
        let _up = Upstream::start();
        let dns = Dns::new();
        let mut nets = two_networks();
        let pid = dns.start(&nets);
        let poll = |name: &str, want: u16| {
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                let r = ask("10.11.0.1:53", "10.11.0.9", name, TYPE_A);
                if r.rcode == want || Instant::now() > deadline {
                    return r;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let later = container(&"c".repeat(64), "later", &["10.11.0.7"], &["late"]);
        nets[0].containers.push(later);
        let t = Instant::now();
        dns.write(&nets[0]);
        assert_eq!(a(&poll("late.dns.nook", 0)), ["10.11.0.7"]);
        eprintln!("a new container resolved after {:?}", t.elapsed());
        assert_eq!(
            a(&ask("10.11.0.1:53", "10.11.0.9", "cccccccccccc", TYPE_A)),
            ["10.11.0.7"]
        );
        // removed: no longer ours
        nets[0].containers.retain(|c| c.name != "web");
        dns.write(&nets[0]);
        assert_eq!(poll("web.dns.nook", wire::NXDOMAIN).rcode, wire::NXDOMAIN);
        assert_eq!(
            ask("10.11.0.1:53", "10.11.0.9", "www", TYPE_A).rcode,
            wire::NXDOMAIN
        );
        // a bad file keeps the network's last records
        std::fs::write(dns.records().join("front"), "network front\nlisten x\n").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            a(&ask("10.11.0.1:53", "10.11.0.9", "later", TYPE_A)),
            ["10.11.0.7"]
        );
        // SIGHUP reads them too; the same process throughout
        assert!(dns.responder.notify().unwrap());
        assert_eq!(dns.responder.pid(), Some(pid));
    })
}

#[test]
fn forwards_outside_names_and_never_from_an_internal_network() {
    in_netns(|| {
        let up = Upstream::start();
        let dns = Dns::new();
        let mut nets = two_networks();
        let secret = container(&"d".repeat(64), "vault", &["10.13.0.2"], &[]);
        nets.push(network("sealed", 13, true, vec![secret]));
        dns.start(&nets);
        let sealed = "10.13.0.1:53";
        for (name, qtype) in [
            ("outside.example", TYPE_A),
            ("nothing", TYPE_A),
            ("7.2.0.192.in-addr.arpa", TYPE_PTR),
        ] {
            let r = ask(sealed, "10.13.0.9", name, qtype);
            assert_eq!(r.rcode, wire::REFUSED, "{name}");
            assert!(!r.recursion_available);
        }
        let r = ask_tcp(sealed, "outside.example", TYPE_A);
        assert_eq!(r.rcode, wire::REFUSED);
        assert_eq!(a(&ask(sealed, "10.13.0.9", "vault", TYPE_A)), ["10.13.0.2"]);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            up.seen(),
            0,
            "the upstream saw a query from an internal network"
        );
        // the same names from an ordinary network are forwarded, relayed
        let r = ask("10.11.0.1:53", "10.11.0.9", "outside.example", TYPE_A);
        assert_eq!((r.rcode, a(&r)), (0, vec!["192.0.2.7".to_string()]));
        assert!(!r.authoritative, "the upstream's reply is relayed as it is");
        let r = ask_tcp("10.11.0.1:53", "outside.example", TYPE_A);
        assert_eq!(a(&r), ["192.0.2.7"]);
        assert_eq!(up.seen(), 2);
        // a resolver that does not answer: SERVFAIL after the timeout
        nets[1].upstreams = vec![sa("10.99.0.55:53")];
        dns.write(&nets[1]);
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        let r = ask("10.12.0.1:53", "10.12.0.9", "outside.example", TYPE_A);
        assert_eq!(r.rcode, wire::SERVFAIL);
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "{:?}",
            t.elapsed()
        );
    })
}

#[test]
fn busybox_nslookup_resolves_names() {
    in_netns(|| {
        let _up = Upstream::start();
        let dns = Dns::new();
        dns.start(&two_networks());
        let out = Command::new("/bin/busybox")
            .args(["nslookup", "-type=a", "www", "10.11.0.1"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Address: 10.11.0.2"), "{text}");
        let out = Command::new("/bin/busybox")
            .args(["nslookup", "10.11.0.2", "10.11.0.1"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("name = web.dns.nook"), "{text}");
    })
}

#[test]
fn one_responder_per_root_ending_with_its_last_file() {
    in_netns(|| {
        let dns = Dns::new();
        assert_eq!(dns.ensure(), Ensured::Idle, "no records: none started");
        let pid = dns.start(&two_networks());
        assert_eq!(dns.ensure(), Ensured::Running(pid));
        // a second one refuses to start
        let out = Command::new(env!("CARGO_BIN_EXE_nook-dns"))
            .arg("--records")
            .arg(dns.records())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("already serves") && err.contains(&pid.to_string()),
            "{err}"
        );
        // the last file removed: it ends
        nook_dns::records::remove(dns.records(), "front").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(dns.responder.pid().is_some(), "ended with a network left");
        nook_dns::records::remove(dns.records(), "back").unwrap();
        assert!(wait_gone(pid), "still running without records");
        assert_eq!(dns.responder.pid(), None);
        assert!(!dns.responder.notify().unwrap());
    })
}

#[test]
fn a_killed_responder_is_started_again() {
    in_netns(|| {
        let dns = Dns::new();
        let pid = dns.start(&two_networks());
        // SAFETY: the responder's pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        assert!(wait_gone(pid));
        assert_eq!(dns.responder.pid(), None);
        let Ensured::Started(again) = dns.ensure() else {
            panic!("not started again")
        };
        assert_ne!(again, pid);
        assert_eq!(
            a(&ask("10.12.0.1:53", "10.12.0.9", "db", TYPE_A)),
            ["10.12.0.3"]
        );
    })
}

#[test]
fn concurrent_ensures_start_one_responder() {
    in_netns(|| {
        let dns = Arc::new(Dns::new());
        for n in two_networks() {
            dns.write(&n);
        }
        let results: Vec<Ensured> = (0..6)
            .map(|_| {
                let d = dns.clone();
                std::thread::spawn(move || d.ensure())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let started = results
            .iter()
            .filter(|e| matches!(e, Ensured::Started(_)))
            .count();
        assert_eq!(started, 1, "{results:?}");
        let pid = dns.responder.pid().unwrap();
        for e in results {
            assert!(
                e == Ensured::Started(pid) || e == Ensured::Running(pid),
                "{e:?}"
            );
        }
    })
}

/// Rss and Pss (KiB) of process `pid`.
fn memory(pid: i32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let field = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .unwrap()
    };
    (field("Rss:"), field("Pss:"))
}

/// 50 containers of network `n` (10.n.0.0/24), with an alias each.
fn fifty(n: u8) -> Vec<Container> {
    (0..50u8)
        .map(|i| {
            let id = format!("{n:02x}{i:02x}").repeat(16);
            let addr = format!("10.{n}.0.{}", 10 + i);
            container(&id, &format!("c{n}-{i}"), &[&addr], &[&format!("a{n}-{i}")])
        })
        .collect()
}

/// The median time of `count` sequential UDP queries for names of
/// network front (`c11-N`, or `name` when given) to `server` (µs; the
/// median, as the machine is shared and a mean measures its load).
fn latency(server: &str, name: Option<&str>, count: usize) -> f64 {
    let s = UdpSocket::bind(sa("10.11.0.9:0")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 1500];
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let n = name.map_or_else(|| format!("c11-{}", i % 50), String::from);
        let q = wire::build_query(i as u16, &n, TYPE_A, None);
        let t = Instant::now();
        s.send_to(&q, sa(server)).unwrap();
        let len = s.recv(&mut buf).unwrap();
        times.push(t.elapsed());
        let r = wire::parse_response(&buf[..len]).unwrap();
        assert_eq!((r.id, r.answers.len()), (i as u16, 1), "{n}");
    }
    times.sort();
    times[count / 2].as_secs_f64() * 1e6
}

/// aardvark-dns (podman's) serving the same records on port 5353,
/// killed when dropped.
struct Aardvark(i32);

impl Drop for Aardvark {
    fn drop(&mut self) {
        // SAFETY: aardvark-dns's pid, from its pid file.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
        wait_gone(self.0);
    }
}

fn start_aardvark(dir: &Path, nets: &[Network]) -> Option<Aardvark> {
    let program = "/usr/lib/podman/aardvark-dns";
    if !Path::new(program).exists() {
        eprintln!("no {program}: not compared");
        return None;
    }
    for n in nets {
        let listen: Vec<String> = n
            .listen
            .iter()
            .filter(|i| i.is_ipv4())
            .map(|i| i.to_string())
            .collect();
        let mut text = listen.join(",") + "\n";
        for c in &n.containers {
            let names = std::iter::once(c.name.clone()).chain(c.aliases.iter().cloned());
            let names: Vec<String> = names.collect();
            text += &format!("{} {}  {}\n", c.id, c.addrs[0], names.join(","));
        }
        std::fs::write(dir.join(&n.name), text).unwrap();
    }
    let out = Command::new(program)
        .arg("--config")
        .arg(dir)
        .args(["-p", "5353", "run"])
        .output()
        .unwrap();
    let pid = std::fs::read_to_string(dir.join("aardvark.pid")).ok()?;
    let a = Aardvark(pid.trim().parse().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(a)
}

/// Wait (3 s at most) until port `port` of 10.11.0.1 answers.
fn wait_answering(port: u16) {
    let s = UdpSocket::bind(sa("10.11.0.9:0")).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        let q = wire::build_query(1, "c11-0", TYPE_A, None);
        s.send_to(&q, SocketAddr::new("10.11.0.1".parse().unwrap(), port))
            .unwrap();
        if s.recv(&mut buf).is_ok() {
            return;
        }
    }
    panic!("port {port} does not answer");
}

#[test]
fn memory_and_latency_beside_aardvark_dns() {
    in_netns(|| {
        let dns = Dns::new();
        let nets = [
            network("front", 11, false, fifty(11)),
            network("back", 12, false, fifty(12)),
        ];
        let pid = dns.start(&nets);
        let up = Upstream::start();
        let forwarded = latency("10.11.0.1:53", Some("outside.example"), 300);
        let direct = latency("10.99.0.53:53", Some("outside.example"), 300);
        eprintln!(
            "forwarded: {forwarded:.1} µs a query, median (asking the upstream directly: {direct:.1} µs)"
        );
        drop(up);
        let ours = latency("10.11.0.1:53", None, 2000);
        let (rss, pss) = memory(pid);
        eprintln!("nook-dns, 2 networks x 50 containers: RSS {rss} KiB, PSS {pss} KiB, {ours:.1} µs a query (median)");
        // a debug build; the release build is about a fifth of this
        assert!(rss < 4096, "RSS {rss} KiB");
        let adir = tempfile::tempdir().unwrap();
        if let Some(a) = start_aardvark(adir.path(), &nets) {
            wait_answering(5353);
            let theirs = latency("10.11.0.1:5353", None, 2000);
            let (arss, apss) = memory(a.0);
            eprintln!(
                "aardvark-dns, the same: RSS {arss} KiB, PSS {apss} KiB, {theirs:.1} µs a query (median)"
            );
        }
    })
}
