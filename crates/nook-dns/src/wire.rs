//! The DNS wire format, as much as a responder needs (RFC 1035, 6891):
//! reading a query's question (compression pointers followed) and its
//! EDNS OPT record, and writing responses (the question echoed with its
//! case kept, A/AAAA/PTR answers, an OPT record when the query had one,
//! TC when the answer does not fit the client's UDP size).  Forwarded
//! queries and replies are relayed as bytes and never re-encoded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type PTR.
pub const TYPE_PTR: u16 = 12;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// Record type OPT (EDNS).
pub const TYPE_OPT: u16 = 41;
/// Query type ANY.
pub const TYPE_ANY: u16 = 255;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Class ANY.
pub const CLASS_ANY: u16 = 255;

/// Response code NOERROR.
pub const NOERROR: u16 = 0;
/// Response code FORMERR.
pub const FORMERR: u16 = 1;
/// Response code SERVFAIL.
pub const SERVFAIL: u16 = 2;
/// Response code NXDOMAIN.
pub const NXDOMAIN: u16 = 3;
/// Response code NOTIMP.
pub const NOTIMP: u16 = 4;
/// Response code REFUSED.
pub const REFUSED: u16 = 5;
/// Extended response code BADVERS (16: 1 in the OPT record, 0 in the header).
pub const BADVERS: u16 = 16;

/// The largest UDP answer without EDNS.
pub const UDP_PLAIN_MAX: usize = 512;
/// The largest UDP answer this responder sends with EDNS (the DNS flag
/// day's 1232: no fragmentation on any usual path).
pub const UDP_EDNS_MAX: usize = 1232;
/// The TTL of the answers about containers: short, as they come and go.
pub const TTL: u32 = 10;

const HEADER: usize = 12;

/// Why a message could not be read as a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than its header or than a field it announces.
    #[error("message truncated at byte {0}")]
    Truncated(usize),
    /// A name longer than 255 bytes, a label over 63, a pointer loop.
    #[error("bad name at byte {0}")]
    BadName(usize),
    /// A label type other than a length or a pointer.
    #[error("bad label type at byte {0}")]
    BadLabel(usize),
}

/// A query's EDNS OPT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// The requester's UDP payload size.
    pub udp_size: u16,
    /// The EDNS version.
    pub version: u8,
    /// The DO bit.
    pub dnssec_ok: bool,
}

/// A query, as read from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The message ID.
    pub id: u16,
    /// The header's flags word (QR, opcode, RD ...).
    pub flags: u16,
    /// The number of questions (a query this responder answers has 1).
    pub qdcount: u16,
    /// The question's name in wire form, uncompressed, its case kept
    /// (empty when there is no question).
    pub qname_wire: Vec<u8>,
    /// The question's name, lower case, dotted, no trailing dot (the
    /// root is "").
    pub qname: String,
    /// The question's type.
    pub qtype: u16,
    /// The question's class.
    pub qclass: u16,
    /// The OPT record, when there is one.
    pub edns: Option<Edns>,
}

impl Query {
    /// Whether the message is a response (QR set).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The opcode (0 = QUERY).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    /// Whether recursion is desired (RD).
    pub fn recursion_desired(&self) -> bool {
        self.flags & 0x0100 != 0
    }

    /// The largest UDP answer this requester takes.
    pub fn udp_limit(&self) -> usize {
        match self.edns {
            Some(e) => (e.udp_size as usize).clamp(UDP_PLAIN_MAX, UDP_EDNS_MAX),
            None => UDP_PLAIN_MAX,
        }
    }
}

/// The data of an answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdata {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A name (dotted, no trailing dot).
    Ptr(String),
}

impl Rdata {
    /// The A or AAAA record of an address.
    pub fn addr(ip: IpAddr) -> Rdata {
        match ip {
            IpAddr::V4(a) => Rdata::A(a),
            IpAddr::V6(a) => Rdata::Aaaa(a),
        }
    }
}

fn u16_at(m: &[u8], at: usize) -> Result<u16, WireError> {
    m.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(WireError::Truncated(at))
}

/// Read the name at `at` (following pointers): its uncompressed wire
/// form, and where the name ends in the message.
pub fn read_name(m: &[u8], mut at: usize) -> Result<(Vec<u8>, usize), WireError> {
    let start = at;
    let mut out = Vec::with_capacity(32);
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *m.get(at).ok_or(WireError::Truncated(at))?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                out.push(0);
                return Ok((out, end.unwrap_or(at + 1)));
            }
            0x00 => {
                let label = m
                    .get(at + 1..at + 1 + len as usize)
                    .ok_or(WireError::Truncated(at))?;
                out.push(len);
                out.extend_from_slice(label);
                if out.len() > 254 {
                    return Err(WireError::BadName(start));
                }
                at += 1 + len as usize;
            }
            0xc0 => {
                let target = (u16_at(m, at)? & 0x3fff) as usize;
                jumps += 1;
                // a pointer points backwards; at most as many jumps as
                // a 255-byte name has labels
                if target >= at || jumps > 127 {
                    return Err(WireError::BadName(at));
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return Err(WireError::BadLabel(at)),
        }
    }
}

/// A wire-form name as lower-case dotted text (no trailing dot).
pub fn name_text(wire: &[u8]) -> String {
    let mut s = String::with_capacity(wire.len());
    let mut i = 0;
    while let Some(&len) = wire.get(i) {
        if len == 0 {
            break;
        }
        if !s.is_empty() {
            s.push('.');
        }
        for &b in &wire[i + 1..(i + 1 + len as usize).min(wire.len())] {
            let c = b.to_ascii_lowercase();
            // a byte that cannot be in a container's name keeps the name
            // from matching one (a dot inside a label included)
            if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
                s.push(c as char);
            } else {
                s.push('\u{fffd}');
            }
        }
        i += 1 + len as usize;
    }
    s
}

/// Skip a resource record at `at`; its type, class, TTL and where its
/// data starts and ends.
fn read_rr_head(m: &[u8], at: usize) -> Result<(u16, u16, u32, usize, usize), WireError> {
    let (_, at) = read_name(m, at)?;
    let rtype = u16_at(m, at)?;
    let class = u16_at(m, at + 2)?;
    let ttl = (u16_at(m, at + 4)? as u32) << 16 | u16_at(m, at + 6)? as u32;
    let len = u16_at(m, at + 8)? as usize;
    let data = at + 10;
    if m.len() < data + len {
        return Err(WireError::Truncated(data));
    }
    Ok((rtype, class, ttl, data, data + len))
}

/// Read a query: header, first question, and the OPT record of the
/// additional section.
pub fn parse_query(m: &[u8]) -> Result<Query, WireError> {
    if m.len() < HEADER {
        return Err(WireError::Truncated(m.len()));
    }
    let count = |i: usize| u16_at(m, 4 + 2 * i);
    let (qd, an, ns, ar) = (count(0)?, count(1)?, count(2)?, count(3)?);
    let mut q = Query {
        id: u16_at(m, 0)?,
        flags: u16_at(m, 2)?,
        qdcount: qd,
        qname_wire: Vec::new(),
        qname: String::new(),
        qtype: 0,
        qclass: 0,
        edns: None,
    };
    let mut at = HEADER;
    for i in 0..qd {
        let (wire, end) = read_name(m, at)?;
        let (t, c) = (u16_at(m, end)?, u16_at(m, end + 2)?);
        if i == 0 {
            q.qname = name_text(&wire);
            q.qname_wire = wire;
            (q.qtype, q.qclass) = (t, c);
        }
        at = end + 4;
    }
    for i in 0..an as usize + ns as usize + ar as usize {
        let (rtype, class, ttl, _, end) = read_rr_head(m, at)?;
        if rtype == TYPE_OPT && i >= an as usize + ns as usize {
            q.edns = Some(Edns {
                udp_size: class,
                version: (ttl >> 16) as u8,
                dnssec_ok: ttl & 0x8000 != 0,
            });
        }
        at = end;
    }
    Ok(q)
}

/// Encode a dotted name (no trailing dot) in wire form.
pub fn name_wire(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    out
}

/// A response to `q`: rcode (up to 12 bits with EDNS), answers, whether
/// authoritative and whether recursion is available; for UDP, cut to the
/// requester's size with TC set (the answers dropped: it asks again over
/// TCP).
pub fn response(
    q: &Query,
    rcode: u16,
    answers: &[Rdata],
    aa: bool,
    ra: bool,
    udp: bool,
) -> Vec<u8> {
    let mut m = header(q, rcode, aa, ra, answers.len() as u16);
    for a in answers {
        m.extend_from_slice(&[0xc0, HEADER as u8]); // the question's name
        let (rtype, data) = match a {
            Rdata::A(ip) => (TYPE_A, ip.octets().to_vec()),
            Rdata::Aaaa(ip) => (TYPE_AAAA, ip.octets().to_vec()),
            Rdata::Ptr(n) => (TYPE_PTR, name_wire(n)),
        };
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&TTL.to_be_bytes());
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend_from_slice(&data);
    }
    push_opt(&mut m, q, rcode);
    if udp && m.len() > q.udp_limit() {
        let mut t = header(q, rcode, aa, ra, 0);
        t[2] |= 0x02; // TC
        push_opt(&mut t, q, rcode);
        return t;
    }
    m
}

/// The header and the question (none when the query had none).
fn header(q: &Query, rcode: u16, aa: bool, ra: bool, ancount: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(&q.id.to_be_bytes());
    // QR, the query's opcode and RD kept, AA, RA, low 4 bits of rcode
    let mut flags = 0x8000 | (q.flags & 0x7900) | (rcode & 0xf);
    if aa {
        flags |= 0x0400;
    }
    if ra {
        flags |= 0x0080;
    }
    m.extend_from_slice(&flags.to_be_bytes());
    let qd = u16::from(!q.qname_wire.is_empty());
    let ar = u16::from(q.edns.is_some());
    for c in [qd, ancount, 0, ar] {
        m.extend_from_slice(&c.to_be_bytes());
    }
    if qd == 1 {
        m.extend_from_slice(&q.qname_wire);
        m.extend_from_slice(&q.qtype.to_be_bytes());
        m.extend_from_slice(&q.qclass.to_be_bytes());
    }
    m
}

/// The OPT record of a response to a query that had one.
fn push_opt(m: &mut Vec<u8>, q: &Query, rcode: u16) {
    if q.edns.is_none() {
        return;
    }
    m.push(0); // root
    m.extend_from_slice(&TYPE_OPT.to_be_bytes());
    m.extend_from_slice(&(UDP_EDNS_MAX as u16).to_be_bytes());
    // extended rcode (high 8 bits), version 0, no flags
    m.extend_from_slice(&[(rcode >> 4) as u8, 0, 0, 0]);
    m.extend_from_slice(&0u16.to_be_bytes());
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa`, 32 nibbles then
/// `ip6.arpa`) stands for.
pub fn reverse_addr(name: &str) -> Option<IpAddr> {
    if let Some(v4) = name.strip_suffix(".in-addr.arpa") {
        let mut o = [0u8; 4];
        let parts: Vec<&str> = v4.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        for (i, p) in parts.iter().rev().enumerate() {
            if p.is_empty() || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
                return None;
            }
            o[i] = p.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(o)));
    }
    let v6 = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<&str> = v6.split('.').collect();
    if nibbles.len() != 32 {
        return None;
    }
    let mut v = 0u128;
    for n in nibbles.iter().rev() {
        if n.len() != 1 {
            return None;
        }
        v = v << 4 | u128::from_str_radix(n, 16).ok()?;
    }
    Some(IpAddr::V6(Ipv6Addr::from(v)))
}

/// A TCP message's two-byte length prefix.
pub fn tcp_prefix(len: usize) -> [u8; 2] {
    (len.min(u16::MAX as usize) as u16).to_be_bytes()
}

/// A query message for `name` (dotted) of type `qtype`, with an OPT
/// record of this UDP size when given (a client's side: tests, probes).
pub fn build_query(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    for c in [1u16, 0, 0, u16::from(edns.is_some())] {
        m.extend_from_slice(&c.to_be_bytes());
    }
    m.extend_from_slice(&name_wire(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    if let Some(size) = edns {
        m.push(0);
        m.extend_from_slice(&TYPE_OPT.to_be_bytes());
        m.extend_from_slice(&size.to_be_bytes());
        m.extend_from_slice(&[0; 6]);
    }
    m
}

/// A response, as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The message ID.
    pub id: u16,
    /// The response code (with the OPT record's extended bits).
    pub rcode: u16,
    /// Whether TC is set.
    pub truncated: bool,
    /// Whether AA is set.
    pub authoritative: bool,
    /// Whether RA is set.
    pub recursion_available: bool,
    /// The question's name, dotted, its case kept.
    pub qname: String,
    /// The answers of type A, AAAA and PTR.
    pub answers: Vec<Rdata>,
    /// The OPT record, when there is one.
    pub edns: Option<Edns>,
}

/// Read a response (a client's side).
pub fn parse_response(m: &[u8]) -> Result<Response, WireError> {
    let q = parse_query(m)?;
    let an = u16_at(m, 6)? as usize;
    let mut at = HEADER;
    let mut qname = String::new();
    for i in 0..q.qdcount {
        let (wire, end) = read_name(m, at)?;
        if i == 0 {
            qname = raw_text(&wire);
        }
        at = end + 4;
    }
    let mut answers = Vec::new();
    for _ in 0..an {
        let (rtype, _, _, data, end) = read_rr_head(m, at)?;
        let d = &m[data..end];
        match (rtype, d.len()) {
            (TYPE_A, 4) => answers.push(Rdata::A(Ipv4Addr::new(d[0], d[1], d[2], d[3]))),
            (TYPE_AAAA, 16) => {
                let o: [u8; 16] = d.try_into().map_err(|_| WireError::Truncated(data))?;
                answers.push(Rdata::Aaaa(Ipv6Addr::from(o)))
            }
            (TYPE_PTR, _) => answers.push(Rdata::Ptr(raw_text(&read_name(m, data)?.0))),
            _ => {}
        }
        at = end;
    }
    Ok(Response {
        id: q.id,
        rcode: (q.flags & 0xf) | opt_ext_rcode(m, at)? << 4,
        truncated: q.flags & 0x0200 != 0,
        authoritative: q.flags & 0x0400 != 0,
        recursion_available: q.flags & 0x0080 != 0,
        qname,
        answers,
        edns: q.edns,
    })
}

/// The extended rcode bits of the OPT record in the sections from `at`.
fn opt_ext_rcode(m: &[u8], mut at: usize) -> Result<u16, WireError> {
    let rest = u16_at(m, 8)? as usize + u16_at(m, 10)? as usize;
    for _ in 0..rest {
        let (rtype, _, ttl, _, end) = read_rr_head(m, at)?;
        if rtype == TYPE_OPT {
            return Ok((ttl >> 24) as u16);
        }
        at = end;
    }
    Ok(0)
}

/// A wire-form name as dotted text, its case and bytes kept.
fn raw_text(wire: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while let Some(&len) = wire.get(i) {
        if len == 0 {
            break;
        }
        if !s.is_empty() {
            s.push('.');
        }
        s.push_str(&String::from_utf8_lossy(
            &wire[i + 1..(i + 1 + len as usize).min(wire.len())],
        ));
        i += 1 + len as usize;
    }
    s
}

#[cfg(test)]
mod tests;
