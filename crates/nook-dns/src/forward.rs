//! TCP, the slow path: each connection on a short-lived thread of its
//! own (so that the responder holds no thread, buffer or state for it
//! when idle, and its one loop never waits on a client): length-prefixed
//! queries, answered from the records or forwarded over TCP.

use crate::lookup::{Decision, Zone};
use crate::resolv::Resolvers;
use crate::wire::{self, Query};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// At most this many TCP connections are served at once (more: closed).
pub const MAX_TCP: usize = 32;
/// An idle TCP connection is closed after this long.
pub const TCP_IDLE: Duration = Duration::from_secs(10);
/// The stack of a connection's thread (its buffers are on the heap).
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
    /// TCP connections served.
    pub tcp: AtomicUsize,
}

impl Shared {
    /// Resolvers to try: the decision's, or the host's.
    pub fn upstreams(&self, chosen: Vec<SocketAddr>) -> Vec<SocketAddr> {
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
