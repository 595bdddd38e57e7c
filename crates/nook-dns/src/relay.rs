//! UDP queries forwarded from the responder's loop, without a thread:
//! each forward is a non-blocking UDP socket connected to one resolver,
//! polled with the listeners; the reply (same ID, QR set) is relayed to
//! the client as it is; a resolver that refuses (ICMP) or does not answer
//! in time gives way to the next, and after the last the client gets
//! SERVFAIL.

use crate::wire::{self, Query};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most this many queries are forwarded at once (more: SERVFAIL).
pub const MAX_FORWARDS: usize = 256;

/// One forwarded query.
struct Forward {
    sock: Option<UdpSocket>,
    client: SocketAddr,
    reply_via: Arc<UdpSocket>,
    msg: Vec<u8>,
    servfail: Vec<u8>,
    upstreams: Vec<SocketAddr>,
    next: usize,
    deadline: Instant,
    size: usize,
}

/// The queries being forwarded.
#[derive(Default)]
pub struct Relay {
    list: Vec<Forward>,
}

/// An unspecified address of `up`'s family, port 0.
fn any_for(up: SocketAddr) -> SocketAddr {
    match up {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// A non-blocking socket connected to `up`, the query sent.
fn send_to_upstream(up: SocketAddr, msg: &[u8]) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind(any_for(up))?;
    s.set_nonblocking(true)?;
    s.connect(up)?;
    s.send(msg)?;
    Ok(s)
}

impl Forward {
    /// Send to the next resolver that takes it; false when none is left.
    fn next(&mut self, timeout: Duration) -> bool {
        while let Some(up) = self.upstreams.get(self.next).copied() {
            self.next += 1;
            if let Ok(s) = send_to_upstream(up, &self.msg) {
                self.sock = Some(s);
                self.deadline = Instant::now() + timeout;
                return true;
            }
        }
        false
    }

    /// Read what came; Some(true) when the reply was relayed, Some(false)
    /// when this resolver failed, None to wait on.
    fn read(&mut self) -> Option<bool> {
        let sock = self.sock.as_ref()?;
        let mut buf = vec![0u8; self.size];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) if n >= 12 && buf[..2] == self.msg[..2] && buf[2] & 0x80 != 0 => {
                    let _ = self.reply_via.send_to(&buf[..n], self.client);
                    return Some(true);
                }
                Ok(_) => continue, // not the reply: a late or forged one
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(_) => return Some(false), // refused (ICMP)
            }
        }
    }

    fn fail(&self) {
        let _ = self.reply_via.send_to(&self.servfail, self.client);
    }
}

impl Relay {
    /// Forward query `msg` (read as `q`) from `client`, which came to
    /// `reply_via`, to `upstreams` in turn, each given `timeout`.
    pub fn start(
        &mut self,
        reply_via: &Arc<UdpSocket>,
        client: SocketAddr,
        msg: &[u8],
        q: &Query,
        upstreams: Vec<SocketAddr>,
        timeout: Duration,
    ) {
        let servfail = wire::response(q, wire::SERVFAIL, &[], false, true, true);
        if self.list.len() >= MAX_FORWARDS {
            let _ = reply_via.send_to(&servfail, client);
            return;
        }
        let size = q.edns.map_or(wire::UDP_PLAIN_MAX, |e| {
            (e.udp_size as usize).max(wire::UDP_PLAIN_MAX)
        });
        let mut f = Forward {
            sock: None,
            client,
            reply_via: reply_via.clone(),
            msg: msg.to_vec(),
            servfail,
            upstreams,
            next: 0,
            deadline: Instant::now(),
            size,
        };
        if f.next(timeout) {
            self.list.push(f);
        } else {
            f.fail();
        }
    }

    /// The sockets to poll, one for each forward, in order.
    pub fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.list
            .iter()
            .map(|f| f.sock.as_ref().map_or(-1, |s| s.as_raw_fd()))
    }

    /// How many queries are being forwarded.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Milliseconds until the first deadline (-1: none).
    pub fn wait_ms(&self) -> i32 {
        let now = Instant::now();
        self.list
            .iter()
            .map(|f| f.deadline.saturating_duration_since(now).as_millis() as i32 + 1)
            .min()
            .unwrap_or(-1)
    }

    /// Handle the sockets `ready` flags (in [`Relay::fds`]'s order) and
    /// the deadlines passed.
    pub fn ready(&mut self, ready: &[bool], timeout: Duration) {
        let now = Instant::now();
        let mut keep = Vec::with_capacity(self.list.len());
        for (i, mut f) in self.list.drain(..).enumerate() {
            let r = ready.get(i).copied().unwrap_or(false);
            let outcome = if r { f.read() } else { None };
            let failed = match outcome {
                Some(true) => continue,
                Some(false) => true,
                None => now >= f.deadline,
            };
            if failed && !f.next(timeout) {
                f.fail();
                continue;
            }
            keep.push(f);
        }
        self.list = keep;
    }
}
