//! One small synchronous rtnetlink socket: a request answered by an ack, a
//! get answered by messages, a dump. A socket works in the network namespace
//! it was opened in, whichever thread then uses it, so [`Netlink::open_in`]
//! opens it on a short-lived thread inside the target namespace and the
//! caller keeps its own.

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::{Errno, Error, Result};
use crate::netns::{io_errno, Netns};

/// NLMSG_DONE: message types up to it are netlink's own (noop, error,
/// done, overrun), above it the protocol's.
const NLMSG_DONE_TYPE: u16 = 3;

/// Receive buffer size: the kernel sends dump parts of up to 32 KiB.
const RECV_BUF: usize = 64 * 1024;

/// A synchronous rtnetlink socket bound to one network namespace.
pub struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink").field("seq", &self.seq).finish()
    }
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        let sys = |op| {
            move |e: std::io::Error| Error::Sys {
                op,
                errno: io_errno(&e),
            }
        };
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(sys("open rtnetlink socket"))?;
        socket.bind_auto().map_err(sys("bind rtnetlink socket"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(sys("connect rtnetlink socket"))?;
        // Extended acks are only a nicety; old kernels lack them.
        let _ = socket.set_ext_ack(true);
        Ok(Netlink {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// Opens a socket in `ns` (on a short-lived thread inside it).
    pub fn open_in(ns: &Netns) -> Result<Netlink> {
        ns.run("open rtnetlink socket", Netlink::open)
    }

    /// Sends a request that changes something and waits for its ack;
    /// `flags` are added to NLM_F_REQUEST|NLM_F_ACK (e.g. NLM_F_CREATE).
    pub(crate) fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: &'static str,
        object: &str,
    ) -> Result<()> {
        self.exchange(msg, NLM_F_ACK | flags, op, object).map(drop)
    }

    /// Sends a get request (not a dump) and returns the replies.
    pub(crate) fn get(
        &mut self,
        msg: RouteNetlinkMessage,
        op: &'static str,
        object: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.exchange(msg, NLM_F_ACK, op, object)
    }

    /// Sends a dump request and returns every message of the dump.
    pub(crate) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
        op: &'static str,
        object: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.exchange(msg, NLM_F_DUMP, op, object)
    }

    fn exchange(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: &'static str,
        object: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket
            .send(&out, 0)
            .map_err(|e| Error::netlink(op, object, io_errno(&e)))?;
        let mut replies = Vec::new();
        loop {
            if self.receive(
                seq,
                flags & NLM_F_DUMP == NLM_F_DUMP,
                op,
                object,
                &mut replies,
            )? {
                return Ok(replies);
            }
        }
    }

    /// Reads one datagram; true when the exchange `seq` is complete (done,
    /// ack, or an error, which is returned). In a dump, a message this
    /// crate cannot decode (an attribute of a newer kernel, an exotic
    /// route) is skipped rather than failing the whole listing.
    fn receive(
        &mut self,
        seq: u32,
        dump: bool,
        op: &'static str,
        object: &str,
        replies: &mut Vec<RouteNetlinkMessage>,
    ) -> Result<bool> {
        let decode = |reason: String| Error::Decode {
            op,
            object: object.to_string(),
            reason,
        };
        self.buf.clear();
        let n = self
            .socket
            .recv(&mut self.buf, 0)
            .map_err(|e| Error::netlink(op, object, io_errno(&e)))?;
        let data = &self.buf[..n.min(self.buf.len())];
        let mut offset = 0;
        while offset < data.len() {
            let raw =
                NetlinkBuffer::new_checked(&data[offset..]).map_err(|e| decode(e.to_string()))?;
            let len = raw.length() as usize;
            let this = &data[offset..offset + len];
            // messages are padded to 4 bytes
            offset += (len + 3) & !3;
            if raw.sequence_number() != seq {
                continue;
            }
            let msg = match NetlinkMessage::<RouteNetlinkMessage>::deserialize(this) {
                Ok(msg) => msg,
                Err(_) if dump && raw.message_type() > NLMSG_DONE_TYPE => continue,
                Err(e) => return Err(decode(e.to_string())),
            };
            match msg.payload {
                NetlinkPayload::Done(d) if d.code < 0 => {
                    return Err(Error::netlink(op, object, Errno::from_raw(-d.code)))
                }
                NetlinkPayload::Done(_) => return Ok(true),
                NetlinkPayload::Error(e) => {
                    return match e.code {
                        None => Ok(true),
                        Some(code) => Err(Error::netlink(op, object, Errno::from_raw(-code.get()))),
                    };
                }
                NetlinkPayload::InnerMessage(m) => replies.push(m),
                _ => {}
            }
        }
        Ok(false)
    }
}
