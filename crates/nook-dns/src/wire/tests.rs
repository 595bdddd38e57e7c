use super::*;

/// Two questions: `WEB.dns.nook`, then `db` and a pointer to the first
/// one's `dns.nook` (pointers go backwards).
fn two_questions_with_pointer() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0];
    // question 1 at 12: WEB.dns.nook A IN
    m.extend_from_slice(b"\x03WEB\x03dns\x04nook\x00\x00\x01\x00\x01");
    // question 2: db + pointer to "dns.nook" at 12 + 4
    m.extend_from_slice(b"\x02db\xc0\x10\x00\x1c\x00\x01");
    m
}

#[test]
fn a_plain_query_is_read() {
    let m = build_query(7, "Web.Example", TYPE_AAAA, None);
    let q = parse_query(&m).unwrap();
    assert_eq!(
        (q.id, q.qtype, q.qclass, q.qdcount),
        (7, TYPE_AAAA, CLASS_IN, 1)
    );
    assert_eq!(q.qname, "web.example");
    assert_eq!(q.qname_wire, b"\x03Web\x07Example\x00");
    assert!(q.recursion_desired() && !q.is_response() && q.opcode() == 0);
    assert_eq!(q.edns, None);
    assert_eq!(q.udp_limit(), 512);
}

#[test]
fn compression_pointers_are_followed() {
    let m = two_questions_with_pointer();
    let q2 = 12 + 14 + 4;
    let (wire, end) = read_name(&m, q2).unwrap();
    assert_eq!(wire, b"\x02db\x03dns\x04nook\x00");
    assert_eq!(end, q2 + 5, "the name ends after the pointer");
    let q = parse_query(&m).unwrap();
    assert_eq!(q.qname, "web.dns.nook");
    assert_eq!(q.qdcount, 2);
}

#[test]
fn a_question_name_that_is_a_pointer_is_read() {
    // an answer whose name is a pointer to the question's
    let mut m = build_query(1, "a.b", TYPE_A, None);
    m[7] = 1; // ancount 1
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 10, 0, 4, 10, 0, 0, 1]);
    let r = parse_response(&m).unwrap();
    assert_eq!(r.answers, vec![Rdata::A(Ipv4Addr::new(10, 0, 0, 1))]);
}

#[test]
fn pointer_loops_and_forward_pointers_are_refused() {
    let mut m = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]); // points at itself
    assert_eq!(parse_query(&m), Err(WireError::BadName(12)));
    let mut m = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&[1, b'a', 0xc0, 20, 0, 1, 0, 1, 0]); // forward
    assert_eq!(parse_query(&m), Err(WireError::BadName(14)));
    // label type 0x40 (extended, unsupported)
    let mut m = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&[0x41, 0, 0, 1, 0, 1]);
    assert_eq!(parse_query(&m), Err(WireError::BadLabel(12)));
}

#[test]
fn truncated_messages_are_errors_not_panics() {
    let m = build_query(9, "abc.example", TYPE_A, Some(4096));
    for n in 0..m.len() {
        assert!(parse_query(&m[..n]).is_err(), "{n} bytes read as a query");
    }
    assert!(parse_query(&m).is_ok());
    // a label running past the end
    let mut m = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 60, b'a'];
    assert!(matches!(parse_query(&m), Err(WireError::Truncated(_))));
    // a name over 255 bytes
    m.truncate(12);
    for _ in 0..5 {
        m.push(63);
        m.extend_from_slice(&[b'x'; 63]);
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(parse_query(&m), Err(WireError::BadName(12)));
}

#[test]
fn edns_is_read_and_echoed() {
    let m = build_query(3, "x.y", TYPE_A, Some(4096));
    let q = parse_query(&m).unwrap();
    assert_eq!(
        q.edns,
        Some(Edns {
            udp_size: 4096,
            version: 0,
            dnssec_ok: false
        })
    );
    assert_eq!(q.udp_limit(), UDP_EDNS_MAX);
    let r = parse_response(&response(&q, 0, &[], true, true, true)).unwrap();
    assert_eq!(r.edns.map(|e| e.udp_size), Some(UDP_EDNS_MAX as u16));
    // a tiny advertised size still allows 512
    let q = parse_query(&build_query(3, "x.y", TYPE_A, Some(100))).unwrap();
    assert_eq!(q.udp_limit(), 512);
    // no OPT in, no OPT out
    let q = parse_query(&build_query(3, "x.y", TYPE_A, None)).unwrap();
    assert_eq!(
        parse_response(&response(&q, 0, &[], true, true, true))
            .unwrap()
            .edns,
        None
    );
}

#[test]
fn badvers_goes_into_the_opt_record() {
    let mut m = build_query(3, "x.y", TYPE_A, Some(1232));
    let n = m.len();
    m[n - 5] = 1; // version 1 (TTL's second byte)
    let q = parse_query(&m).unwrap();
    assert_eq!(q.edns.unwrap().version, 1);
    let out = response(&q, BADVERS, &[], false, true, true);
    assert_eq!(out[3] & 0xf, 0);
    assert_eq!(parse_response(&out).unwrap().rcode, BADVERS);
}

#[test]
fn answers_point_at_the_question_and_keep_its_case() {
    let q = parse_query(&build_query(0xbeef, "WeB.dns.NOOK", TYPE_A, None)).unwrap();
    let answers = [
        Rdata::A(Ipv4Addr::new(10, 88, 0, 2)),
        Rdata::Aaaa("fd00::2".parse().unwrap()),
        Rdata::Ptr("web.dns.nook".into()),
    ];
    let out = response(&q, NOERROR, &answers, true, true, true);
    let r = parse_response(&out).unwrap();
    assert_eq!(r.id, 0xbeef);
    assert_eq!(r.qname, "WeB.dns.NOOK");
    assert!(r.authoritative && r.recursion_available && !r.truncated);
    assert_eq!(r.answers, answers);
    // RD echoed, QR set
    assert_eq!(out[2] & 0x81, 0x81);
}

#[test]
fn udp_answers_over_512_without_edns_are_truncated() {
    let q = parse_query(&build_query(1, "many", TYPE_A, None)).unwrap();
    let answers: Vec<Rdata> = (0..40)
        .map(|i| Rdata::A(Ipv4Addr::new(10, 0, 0, i)))
        .collect();
    let udp = response(&q, NOERROR, &answers, true, true, true);
    assert!(udp.len() <= 512);
    let r = parse_response(&udp).unwrap();
    assert!(r.truncated && r.answers.is_empty());
    // over TCP all of them
    let tcp = response(&q, NOERROR, &answers, true, true, false);
    assert!(tcp.len() > 512);
    let r = parse_response(&tcp).unwrap();
    assert!(!r.truncated && r.answers.len() == 40);
    // with EDNS 1232 they fit
    let q = parse_query(&build_query(1, "many", TYPE_A, Some(1232))).unwrap();
    let r = parse_response(&response(&q, NOERROR, &answers, true, true, true)).unwrap();
    assert!(!r.truncated && r.answers.len() == 40);
}

#[test]
fn tcp_length_prefix() {
    assert_eq!(tcp_prefix(0x1234), [0x12, 0x34]);
    assert_eq!(tcp_prefix(70000), [0xff, 0xff]);
}

#[test]
fn reverse_names() {
    assert_eq!(
        reverse_addr("2.0.88.10.in-addr.arpa"),
        Some("10.88.0.2".parse().unwrap())
    );
    let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
    assert_eq!(reverse_addr(v6), Some("fd00::2".parse().unwrap()));
    for bad in [
        "0.88.10.in-addr.arpa",
        "256.0.88.10.in-addr.arpa",
        "02.0.88.10.in-addr.arpa",
        "x.0.88.10.in-addr.arpa",
        "1.2.ip6.arpa",
        "example.com",
    ] {
        assert_eq!(reverse_addr(bad), None, "{bad}");
    }
}

#[test]
fn names_with_odd_bytes_do_not_look_like_container_names() {
    let q = parse_query(&build_query(1, "a", TYPE_A, None)).unwrap();
    let mut m = build_query(1, "a", TYPE_A, None);
    m[13] = b'.';
    let odd = parse_query(&m).unwrap();
    assert_eq!(q.qname, "a");
    assert_ne!(odd.qname, ".");
    assert_ne!(odd.qname, "");
}

#[test]
fn random_and_mutated_messages_never_panic() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let valid = build_query(1, "web.dns.nook", TYPE_A, Some(1232));
    for _ in 0..20_000 {
        let mut m = valid.clone();
        for _ in 0..1 + rand() % 4 {
            let i = (rand() as usize) % m.len();
            m[i] = rand() as u8;
        }
        m.truncate(12 + (rand() as usize) % (m.len() - 11));
        if let Ok(q) = parse_query(&m) {
            let out = response(
                &q,
                NOERROR,
                &[Rdata::A(Ipv4Addr::LOCALHOST)],
                true,
                true,
                true,
            );
            assert!(parse_response(&out).is_ok());
        }
        let junk: Vec<u8> = (0..rand() % 64).map(|_| rand() as u8).collect();
        let _ = parse_query(&junk);
        let _ = parse_response(&junk);
    }
}
