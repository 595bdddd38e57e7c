//! The responder's life: read the records directory, bind UDP and TCP on
//! every network's listen addresses, then one poll loop: queries over UDP
//! answered at once from the records or forwarded (the resolvers' sockets
//! polled in the same loop, see [`crate::relay`]), TCP connections handed
//! to threads ([`crate::forward`]), the records
//! read again on inotify (and SIGHUP), and the end when no records file
//! is left (or SIGTERM).
//!
//! Ending without losing a network: the engine writes a records file and
//! then calls [`crate::spawn::Responder::ensure`], which starts a
//! responder unless it cannot take the pid file's lock.  A responder
//! that finds no records left lets go of the lock, then looks again: a
//! file written meanwhile is seen, and it goes on serving if it can take
//! the lock back (else the responder `ensure` started serves it).

use crate::forward::{self, Shared};
use crate::lookup::{Decision, Zone};
use crate::records::{self, Network};
use crate::relay::Relay;
use crate::resolv::Resolvers;
use crate::sys::{self, PidLock};
use crate::wire;
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How a responder runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The records directory (one file per network).
    pub records_dir: PathBuf,
    /// The port served on every listen address (53).
    pub port: u16,
    /// The host's resolv.conf.
    pub resolv_conf: PathBuf,
    /// How long one resolver is waited for before the next is tried (and
    /// SERVFAIL after the last).
    pub timeout: Duration,
}

impl Options {
    /// Defaults for a records directory: port 53, /etc/resolv.conf, 2 s.
    pub fn new(records_dir: PathBuf) -> Options {
        Options {
            records_dir,
            port: 53,
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            timeout: Duration::from_secs(2),
        }
    }
}

/// One listen address of one network: its sockets.
struct Listener {
    addr: SocketAddr,
    network: String,
    udp: Arc<UdpSocket>,
    tcp: TcpListener,
}

/// A responder.
pub struct Server {
    opts: Options,
    shared: Arc<Shared>,
    listeners: Vec<Listener>,
    inotify: OwnedFd,
    /// Problems of the last reload (bad files, addresses not bound).
    pub warnings: Vec<String>,
    /// Some address could not be bound: try again soon.
    unbound: bool,
    /// Called after each reload (the program gives back freed memory).
    pub after_reload: Option<fn()>,
    relay: Relay,
}

/// The largest UDP query read whole.
const QUERY_MAX: usize = 4096;

/// How often binding an address that failed is tried again.
const REBIND_MS: i32 = 500;

impl Server {
    /// Watch the records directory and read it (binding what it names).
    pub fn new(opts: Options) -> io::Result<Server> {
        let inotify = sys::watch_dir(&opts.records_dir)?;
        let shared = Arc::new(Shared {
            resolvers: Mutex::new(Resolvers::new(opts.resolv_conf.clone())),
            timeout: opts.timeout,
            zones: RwLock::new(HashMap::new()),
            tcp: AtomicUsize::new(0),
        });
        let mut s = Server {
            opts,
            shared,
            listeners: Vec::new(),
            inotify,
            warnings: Vec::new(),
            unbound: false,
            after_reload: None,
            relay: Relay::default(),
        };
        s.reload();
        Ok(s)
    }

    /// How many networks are served.
    pub fn networks(&self) -> usize {
        self.zones().len()
    }

    fn zones(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Zone>>> {
        self.shared.zones.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Read the records directory again: networks added, changed and
    /// removed; a file that cannot be read keeps its network's last
    /// records; sockets bound and closed to match.
    pub fn reload(&mut self) {
        self.warnings.clear();
        self.unbound = false;
        let files = records::list_files(&self.opts.records_dir).unwrap_or_default();
        let mut zones = HashMap::new();
        for name in files {
            match Network::read(&self.opts.records_dir, &name) {
                Ok(n) => {
                    zones.insert(name, Arc::new(Zone::new(n)));
                }
                Err(e) => {
                    self.warnings.push(e.to_string());
                    if let Some(z) = self.zones().get(&name) {
                        zones.insert(name, z.clone());
                    }
                }
            }
        }
        let mut wanted: Vec<(SocketAddr, String)> = Vec::new();
        for (name, z) in &zones {
            for ip in &z.network.listen {
                let a = SocketAddr::new(*ip, self.opts.port);
                match wanted.iter().find(|(w, _)| *w == a) {
                    Some((_, other)) => self.warnings.push(format!(
                        "{a} of network {name} is network {other}'s already"
                    )),
                    None => wanted.push((a, name.clone())),
                }
            }
        }
        *self.shared.zones.write().unwrap_or_else(|p| p.into_inner()) = zones;
        self.listeners
            .retain(|l| wanted.iter().any(|(a, _)| *a == l.addr));
        for (addr, network) in wanted {
            match self.listeners.iter_mut().find(|l| l.addr == addr) {
                Some(l) => l.network = network,
                None => match bind(addr, network) {
                    Ok(l) => self.listeners.push(l),
                    Err(e) => {
                        self.warnings.push(e);
                        self.unbound = true;
                    }
                },
            }
        }
        for w in &self.warnings {
            eprintln!("nook-dns: {w}");
        }
        if let Some(f) = self.after_reload {
            f();
        }
    }

    /// Serve until no records file is left or a signal from `signals`
    /// (a signalfd) says SIGTERM or SIGINT; SIGHUP reads the records
    /// again.  `lock` is let go and taken back around the end (see the
    /// module's comment).
    pub fn run(&mut self, lock: &PidLock, signals: Option<&OwnedFd>) -> io::Result<()> {
        // queries are small (a name, a question, an OPT record); a
        // larger datagram is cut and answered FORMERR
        let mut buf = vec![0u8; QUERY_MAX];
        loop {
            if self.networks() == 0 && !self.may_end(lock)? {
                return Ok(());
            }
            let mut fds: Vec<RawFd> = vec![self.inotify.as_raw_fd()];
            fds.extend(signals.map(|s| s.as_raw_fd()));
            let base = fds.len();
            for l in &self.listeners {
                fds.push(l.udp.as_raw_fd());
                fds.push(l.tcp.as_raw_fd());
            }
            let relayed = fds.len();
            fds.extend(self.relay.fds());
            let ready = sys::poll_read(&fds, self.wait_ms())?;
            if ready[0] || (self.unbound && !ready.contains(&true)) {
                sys::drain(&self.inotify);
                self.reload();
            }
            if base == 2 && ready[1] && self.signalled(signals) {
                return Ok(());
            }
            self.relay.ready(&ready[relayed..], self.opts.timeout);
            for i in 0..(relayed - base) / 2 {
                if ready[base + 2 * i] {
                    self.udp_ready(i, &mut buf);
                }
                if ready[base + 2 * i + 1] {
                    self.tcp_ready(i);
                }
            }
        }
    }

    /// How long the loop may wait: until a forward's deadline, or the
    /// next try at binding.
    fn wait_ms(&self) -> i32 {
        let relay = self.relay.wait_ms();
        match (self.unbound, relay) {
            (false, r) => r,
            (true, -1) => REBIND_MS,
            (true, r) => r.min(REBIND_MS),
        }
    }

    /// Read the signals: true for SIGTERM/SIGINT; SIGHUP reloads.
    fn signalled(&mut self, signals: Option<&OwnedFd>) -> bool {
        let Some(fd) = signals else { return false };
        let recs = sys::drain(fd);
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        let mut end = false;
        for rec in recs.chunks_exact(size) {
            let signo = u32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]) as i32;
            match signo {
                libc::SIGHUP => self.reload(),
                libc::SIGTERM | libc::SIGINT => end = true,
                _ => {}
            }
        }
        end
    }

    /// No records left: let go of the lock and look again.  True when
    /// records came meanwhile and the lock is ours again (serve on).
    fn may_end(&mut self, lock: &PidLock) -> io::Result<bool> {
        lock.release()?;
        self.reload();
        if self.networks() > 0 && lock.retake()? {
            lock.write_pid()?;
            return Ok(true);
        }
        self.listeners.clear();
        self.shared
            .zones
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(false)
    }

    /// Answer what came over UDP to listener `i` (a reload may have
    /// changed the listeners since the poll: then nothing).
    fn udp_ready(&mut self, i: usize, buf: &mut [u8]) {
        let Some(l) = self.listeners.get(i) else {
            return;
        };
        let (sock, network) = (l.udp.clone(), l.network.clone());
        // a burst at most, then the others get their turn
        for _ in 0..64 {
            let Ok((n, client)) = sock.recv_from(buf) else {
                return;
            };
            self.udp_query(&sock, &network, client, &buf[..n]);
        }
    }

    fn udp_query(&mut self, sock: &Arc<UdpSocket>, network: &str, client: SocketAddr, msg: &[u8]) {
        let Some(zone) = self.zones().get(network).cloned() else {
            return;
        };
        let q = match wire::parse_query(msg) {
            Ok(q) => q,
            Err(_) => {
                if let Some(q) = forward::header_only(msg) {
                    let r = wire::response(&q, wire::FORMERR, &[], false, true, true);
                    let _ = sock.send_to(&r, client);
                }
                return;
            }
        };
        match zone.decide(client.ip(), &q) {
            Decision::Ignore => {}
            Decision::Answer {
                rcode,
                answers,
                authoritative,
            } => {
                let ra = !zone.network.internal;
                let r = wire::response(&q, rcode, &answers, authoritative, ra, true);
                let _ = sock.send_to(&r, client);
            }
            Decision::Forward(chosen) => {
                let upstreams = self.shared.upstreams(chosen);
                let timeout = self.opts.timeout;
                self.relay.start(sock, client, msg, &q, upstreams, timeout)
            }
        }
    }

    fn tcp_ready(&self, i: usize) {
        let Some(l) = self.listeners.get(i) else {
            return;
        };
        while let Ok((s, _)) = l.tcp.accept() {
            forward::serve_tcp(&self.shared, l.network.clone(), s);
        }
    }
}

/// Bind UDP and TCP on `addr` for `network`; an error names the address.
fn bind(addr: SocketAddr, network: String) -> Result<Listener, String> {
    let what = |e: io::Error| format!("bind {addr} (network {network}): {e}");
    let udp = sys::bind_udp(addr).map_err(what)?;
    let tcp = sys::bind_tcp(addr).map_err(what)?;
    Ok(Listener {
        addr,
        network: network.clone(),
        udp: Arc::new(udp),
        tcp,
    })
}

/// Report to whoever started the responder (the `--ready-fd` pipe): one
/// line, then the pipe is closed.
pub fn report(fd: Option<OwnedFd>, line: &str) {
    if let Some(fd) = fd {
        let mut f = std::fs::File::from(fd);
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}
