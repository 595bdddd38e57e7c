//! The slow paths, each on a short-lived thread of its own (so that the
//! responder holds no thread, buffer or state for them when idle, and
//! its one loop never waits on the network): forwarding a UDP query to
//! the resolvers and relaying their reply, and serving a TCP connection
//! (length-prefixed queries, answered locally or forwarded over TCP).

use crate::lookup::{Decision, Zone};
use crate::resolv::Resolvers;
use crate::wire::{self, Query};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// At most this many queries are forwarded at once (more: SERVFAIL).
pub const MAX_FORWARDS: usize = 128;
/// At most this many TCP connections are served at once (more: closed).
pub const MAX_TCP: usize = 32;
/// An idle TCP connection is closed after this long.
pub const TCP_IDLE: Duration = Duration::from_secs(10);
/// The stack of a forwarding thread (it holds a 64 KiB buffer at most,
/// on the heap).
const STACK: usize = 64 * 1024;

/// What the threads share with the loop.
#[derive(Debug)]
pub struct Shared {
    /// The host's resolvers.
    pub resolvers: Mutex<Resolvers>,
    /// How long one resolver is waited for.
    pub timeout: Duration,
    /// The zones by network name (replaced on reload).
    pub zones: RwLock<std::collections::HashMap<String, Arc<Zone>>>,
    /// Forwards under way.
    pub forwards: AtomicUsize,
    /// TCP connections served.
    pub tcp: AtomicUsize,
}

impl Shared {
    /// Resolvers to try: the decision's, or the host's.
    fn upstreams(&self, chosen: Vec<SocketAddr>) -> Vec<SocketAddr> {
        if !chosen.is_empty() {
            return chosen;
        }
        match self.resolvers.lock() {
            Ok(mut r) => r.get().to_vec(),
            Err(p) => p.into_inner().get().to_vec(),
        }
    }

    fn zone(&self, network: &str) -> Option<Arc<Zone>> {
        let z = self.zones.read().unwrap_or_else(|p| p.into_inner());
        z.get(network).cloned()
    }
}

/// Count one more in `counter` unless it is at `max` already.
fn reserve(counter: &AtomicUsize, max: usize) -> bool {
    if counter.fetch_add(1, Ordering::AcqRel) >= max {
        counter.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    true
}

/// A place reserved in a counter, given back when the thread ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Forward UDP query `msg` (read as `q`) from `client`, on a thread;
/// the reply (or SERVFAIL) goes back through `sock`.
pub fn forward_udp(
    shared: &Arc<Shared>,
    sock: &Arc<UdpSocket>,
    client: SocketAddr,
    msg: &[u8],
    q: &Query,
    chosen: Vec<SocketAddr>,
) {
    let fail = || wire::response(q, wire::SERVFAIL, &[], false, true, true);
    if !reserve(&shared.forwards, MAX_FORWARDS) {
        let _ = sock.send_to(&fail(), client);
        return;
    }
    let (shared2, sock2, msg) = (shared.clone(), sock.clone(), msg.to_vec());
    let servfail = fail();
    let size = q.edns.map_or(wire::UDP_PLAIN_MAX, |e| {
        (e.udp_size as usize).max(wire::UDP_PLAIN_MAX)
    });
    let spawned = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let (shared, sock) = (shared2, sock2);
            let _slot = Slot(&shared.forwards);
            let reply = shared
                .upstreams(chosen)
                .into_iter()
                .find_map(|up| ask_udp(up, &msg, size, shared.timeout).ok());
            let _ = sock.send_to(reply.as_deref().unwrap_or(&servfail), client);
        });
    if spawned.is_err() {
        shared.forwards.fetch_sub(1, Ordering::AcqRel);
        let _ = sock.send_to(&fail(), client);
    }
}

/// An unspecified address of `up`'s family, port 0.
fn any_for(up: SocketAddr) -> SocketAddr {
    match up {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// Ask resolver `up` over UDP; its reply to this message (same ID), of
/// at most `size` bytes (the requester's UDP size: the resolver sends
/// no more).
pub fn ask_udp(up: SocketAddr, msg: &[u8], size: usize, timeout: Duration) -> io::Result<Vec<u8>> {
    let s = UdpSocket::bind(any_for(up))?;
    s.connect(up)?;
    s.send(msg)?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; size];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        s.set_read_timeout(Some(left))?;
        let n = s.recv(&mut buf)?;
        // a reply to this query: its ID, QR set
        if n >= 12 && buf[..2] == msg[..2] && buf[2] & 0x80 != 0 {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

/// Ask resolver `up` over TCP; its reply.
pub fn ask_tcp(up: SocketAddr, msg: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&up, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write_msg(&mut s, msg)?;
    let reply = read_msg(&mut s)?.ok_or(io::ErrorKind::UnexpectedEof)?;
    if reply.len() < 12 || reply[..2] != msg[..2] {
        return Err(io::ErrorKind::InvalidData.into());
    }
    Ok(reply)
}

/// Read one length-prefixed message; `None` at the end of the stream.
pub fn read_msg(s: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match s.read_exact(&mut len) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        r => r?,
    }
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut msg)?;
    Ok(Some(msg))
}

/// Write one length-prefixed message.
pub fn write_msg(s: &mut impl Write, msg: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&wire::tcp_prefix(msg.len()));
    out.extend_from_slice(&msg[..msg.len().min(u16::MAX as usize)]);
    s.write_all(&out)
}

/// Serve TCP connection `s` that came to network `network`'s address,
/// on a thread.
pub fn serve_tcp(shared: &Arc<Shared>, network: String, s: TcpStream) {
    if !reserve(&shared.tcp, MAX_TCP) {
        return; // dropped: closed
    }
    let shared2 = shared.clone();
    let spawned = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let _slot = Slot(&shared2.tcp);
            let _ = tcp_connection(&shared2, &network, s);
        });
    if spawned.is_err() {
        shared.tcp.fetch_sub(1, Ordering::AcqRel);
    }
}

fn tcp_connection(shared: &Shared, network: &str, mut s: TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(TCP_IDLE))?;
    s.set_write_timeout(Some(TCP_IDLE))?;
    let from = s.peer_addr()?.ip();
    while let Some(msg) = read_msg(&mut s)? {
        let Some(zone) = shared.zone(network) else {
            return Ok(());
        };
        let q = match wire::parse_query(&msg) {
            Ok(q) => q,
            Err(_) => match header_only(&msg) {
                Some(q) => {
                    write_msg(
                        &mut s,
                        &wire::response(&q, wire::FORMERR, &[], false, true, false),
                    )?;
                    continue;
                }
                None => return Ok(()),
            },
        };
        let reply = match zone.decide(from, &q) {
            Decision::Ignore => continue,
            Decision::Answer {
                rcode,
                answers,
                authoritative,
            } => {
                let ra = !zone.network.internal;
                wire::response(&q, rcode, &answers, authoritative, ra, false)
            }
            Decision::Forward(chosen) => shared
                .upstreams(chosen)
                .into_iter()
                .find_map(|up| ask_tcp(up, &msg, shared.timeout).ok())
                .unwrap_or_else(|| wire::response(&q, wire::SERVFAIL, &[], false, true, false)),
        };
        write_msg(&mut s, &reply)?;
    }
    Ok(())
}

/// A query that could not be read, as far as its header goes (for a
/// FORMERR answer); `None` when not even that, or a response.
pub fn header_only(msg: &[u8]) -> Option<Query> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 {
        return None;
    }
    Some(Query {
        id: u16::from_be_bytes([msg[0], msg[1]]),
        flags: u16::from_be_bytes([msg[2], msg[3]]),
        qdcount: 0,
        qname_wire: Vec::new(),
        qname: String::new(),
        qtype: 0,
        qclass: 0,
        edns: None,
    })
}
