//! Test lab for the firewall: network namespaces owned by threads of the test (a thread
//! `unshare(CLONE_NEWNET)`s and then runs what it is sent), wired with `ip`; TCP and UDP
//! servers and clients created inside them.  Everything lives in namespaces that die with their
//! threads and sockets, so nothing is left on the machine whatever a test does.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

/// A network namespace held by a thread of its own.
pub struct Ns {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// The thread's id: `ip link set ... netns TID` names the namespace by it.
    pub tid: i32,
}

impl Ns {
    /// A new, empty network namespace with `lo` up.
    pub fn new() -> Ns {
        let (tx, rx) = mpsc::channel::<Job>();
        let (tid_tx, tid_rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let r = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET);
            let tid = nix::unistd::gettid().as_raw();
            tid_tx.send(r.map(|()| tid)).unwrap();
            while let Ok(job) = rx.recv() {
                job();
            }
        });
        let tid = tid_rx.recv().unwrap().expect("unshare(CLONE_NEWNET)");
        let ns = Ns {
            tx: Some(tx),
            thread: Some(thread),
            tid,
        };
        // No duplicate address detection: addresses usable at once (no tentative link-local
        // addresses for neighbour discovery to trip on).
        ns.sysctl("net/ipv6/conf/all/accept_dad", "0");
        ns.sysctl("net/ipv6/conf/default/accept_dad", "0");
        ns.ip("link set lo up");
        ns
    }

    /// Runs `f` on the namespace's thread and returns what it returns.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        });
        self.tx.as_ref().unwrap().send(job).unwrap();
        match rx.recv().unwrap() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// Runs a program in the namespace; its stdout, or a panic with its stderr.
    pub fn cmd(&self, program: &'static str, args: &str) -> String {
        let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        self.run(move || {
            let out = Command::new(program).args(&args).output().unwrap();
            assert!(
                out.status.success(),
                "{program} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    }

    /// `ip ARGS` in the namespace.
    pub fn ip(&self, args: &str) {
        self.cmd("ip", args);
    }

    /// `nft ARGS` in the namespace.
    pub fn nft(&self, args: &str) -> String {
        self.cmd("nft", args)
    }

    /// `nft -f -` of `script` in the namespace.
    pub fn nft_script(&self, script: &str) {
        let script = script.to_string();
        self.run(move || {
            let mut child = Command::new("nft")
                .args(["-f", "-"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(script.as_bytes())
                .unwrap();
            assert!(child.wait().unwrap().success(), "nft -f - failed");
        });
    }

    /// The whole ruleset as nft lists it.
    pub fn ruleset(&self) -> String {
        self.nft("list ruleset")
    }

    /// Writes a sysctl (`net/ipv4/...`) in the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        let (key, value) = (key.to_string(), value.to_string());
        self.run(move || std::fs::write(format!("/proc/sys/{key}"), value).unwrap());
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A server thread that answers each TCP connection or UDP datagram with the address it came
/// from; stopped and joined on drop.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn peer_text(a: SocketAddr) -> String {
    a.ip().to_canonical().to_string()
}

/// A TCP server bound to `addr` inside `ns`.
pub fn tcp_server(ns: &Ns, addr: &str) -> Server {
    let addr: SocketAddr = addr.parse().unwrap();
    let listener = ns.run(move || TcpListener::bind(addr)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = thread::spawn(move || {
        while !stop2.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut s, peer)) => {
                    let _ = s.write_all(peer_text(peer).as_bytes());
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Server {
        stop,
        thread: Some(thread),
    }
}

/// A UDP server bound to `addr` inside `ns`.
pub fn udp_server(ns: &Ns, addr: &str) -> Server {
    let addr: SocketAddr = addr.parse().unwrap();
    let sock = ns.run(move || UdpSocket::bind(addr)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = thread::spawn(move || {
        let mut buf = [0u8; 64];
        while !stop2.load(Ordering::Relaxed) {
            if let Ok((_, peer)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(peer_text(peer).as_bytes(), peer);
            }
        }
    });
    Server {
        stop,
        thread: Some(thread),
    }
}

/// How long a client waits for an answer that should not come.
const WAIT: Duration = Duration::from_millis(1000);

/// Connects from `ns` to `target` over TCP: the address the server saw, or `None`.
pub fn tcp_ask(ns: &Ns, target: &str) -> Option<String> {
    let target: SocketAddr = target.parse().unwrap();
    ns.run(move || {
        let mut s = TcpStream::connect_timeout(&target, WAIT).ok()?;
        s.set_read_timeout(Some(WAIT)).ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        Some(text)
    })
}

/// Sends a UDP datagram from `ns` to `target`: the address the server saw, or `None`.
pub fn udp_ask(ns: &Ns, target: &str) -> Option<String> {
    let target: SocketAddr = target.parse().unwrap();
    ns.run(move || {
        let local = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let s = UdpSocket::bind(local).ok()?;
        s.set_read_timeout(Some(WAIT)).ok()?;
        s.send_to(b"hi", target).ok()?;
        let mut buf = [0u8; 64];
        let (n, _) = s.recv_from(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    })
}

/// The "host" namespace and an "outside" peer joined to it by a veth: host 198.51.100.1
/// (2001:db8:100::1), outside 198.51.100.2 (2001:db8:100::2), which routes the container
/// subnets 10.77.0.0/16 and fd77::/16 through the host (a LAN peer, issue 19).
pub struct Lab {
    pub host: Ns,
    pub outside: Ns,
}

/// The host's address as the outside sees it.
pub const HOST4: &str = "198.51.100.1";
/// The outside's address.
pub const OUT4: &str = "198.51.100.2";
/// The host's IPv6 address.
pub const HOST6: &str = "2001:db8:100::1";
/// The outside's IPv6 address.
pub const OUT6: &str = "2001:db8:100::2";

impl Lab {
    /// The host and the outside peer.
    pub fn new() -> Lab {
        let host = Ns::new();
        let outside = Ns::new();
        host.ip(&format!(
            "link add vout type veth peer name eth0 netns {}",
            outside.tid
        ));
        host.ip(&format!("addr add {HOST4}/24 dev vout"));
        host.ip(&format!("addr add {HOST6}/64 dev vout nodad"));
        host.ip("link set vout up");
        outside.ip(&format!("addr add {OUT4}/24 dev eth0"));
        outside.ip(&format!("addr add {OUT6}/64 dev eth0 nodad"));
        outside.ip("link set eth0 up");
        outside.ip(&format!("route add 10.77.0.0/16 via {HOST4}"));
        outside.ip(&format!("-6 route add fd77::/16 via {HOST6}"));
        Lab { host, outside }
    }

    /// A bridge on the host with gateway `gw4`/24 (and `gw6`/64).
    pub fn bridge(&self, name: &str, gw4: &str, gw6: Option<&str>) {
        self.host
            .ip(&format!("link add {name} type bridge mcast_snooping 0"));
        self.host.ip(&format!("addr add {gw4}/24 dev {name}"));
        if let Some(gw6) = gw6 {
            self.host.ip(&format!("addr add {gw6}/64 dev {name} nodad"));
        }
        self.host.ip(&format!("link set {name} up"));
    }

    /// A container namespace on `bridge` through host veth `veth`, with `addr4`/24 (and
    /// `addr6`/64) and default routes via `gw4` (`gw6`).
    pub fn container(
        &self,
        bridge: &str,
        veth: &str,
        v4: (&str, &str),
        v6: Option<(&str, &str)>,
    ) -> Ns {
        let ns = Ns::new();
        self.host.ip(&format!(
            "link add {veth} type veth peer name eth0 netns {}",
            ns.tid
        ));
        self.host.ip(&format!("link set {veth} master {bridge} up"));
        ns.ip(&format!("addr add {}/24 dev eth0", v4.0));
        if let Some((a6, _)) = v6 {
            ns.ip(&format!("addr add {a6}/64 dev eth0 nodad"));
        }
        ns.ip("link set eth0 up");
        ns.ip(&format!("route add default via {}", v4.1));
        if let Some((_, gw6)) = v6 {
            ns.ip(&format!("-6 route add default via {gw6}"));
        }
        ns
    }
}

/// Parses an IP address (for comparisons in tests).
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
