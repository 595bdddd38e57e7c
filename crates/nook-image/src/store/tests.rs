use super::*;
use crate::digest::sha256;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::new(dir.path().join("root")).unwrap();
    (dir, s)
}

fn ingest_dir(s: &Store) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(s.root().join("ingest"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn writer(s: &Store, d: &Digest, size: u64) -> Writer {
    match s.ingest(d, Some(size)).unwrap() {
        Ingest::Writer(w) => *w,
        Ingest::Present(_) => panic!("{d} already present"),
    }
}

#[test]
fn ingest_commit_open_list_delete() {
    let (_t, s) = store();
    let data = b"hello blob".repeat(1000);
    let d = sha256(&data);
    assert!(!s.has(&d).unwrap());
    let mut w = writer(&s, &d, data.len() as u64);
    assert_eq!(w.offset(), 0);
    w.write(&data).unwrap();
    assert_eq!(w.commit().unwrap(), data.len() as u64);
    assert!(s.has(&d).unwrap());
    assert_eq!(s.size(&d).unwrap(), data.len() as u64);
    assert_eq!(s.read_small(&d, 1 << 20).unwrap(), data);
    assert!(s.read_small(&d, 10).is_err());
    assert_eq!(s.list().unwrap(), vec![(d.clone(), data.len() as u64)]);
    assert!(matches!(s.ingest(&d, None).unwrap(), Ingest::Present(n) if n == data.len() as u64));
    assert!(ingest_dir(&s).is_empty(), "{:?}", ingest_dir(&s));
    assert!(s.delete(&d).unwrap());
    assert!(!s.delete(&d).unwrap());
    assert!(matches!(s.open(&d), Err(Error::NotFound { .. })));
}

#[test]
fn wrong_content_is_never_kept() {
    let (_t, s) = store();
    let d = sha256(b"right");
    let mut w = writer(&s, &d, 5);
    w.write(b"wrong").unwrap();
    let e = w.commit().unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains(&d.to_string()));
    // too long
    let mut w = writer(&s, &d, 5);
    assert!(matches!(
        w.write(b"right!"),
        Err(Error::SizeMismatch { .. })
    ));
    drop(w);
    // too short
    let mut w = writer(&s, &d, 5);
    w.write(b"rig").unwrap();
    assert!(matches!(w.commit(), Err(Error::SizeMismatch { .. })));
    assert!(!s.has(&d).unwrap());
    assert!(s.list().unwrap().is_empty());
    assert!(ingest_dir(&s).is_empty(), "{:?}", ingest_dir(&s));
}

#[test]
fn an_interrupted_ingest_resumes() {
    let (_t, s) = store();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let d = sha256(&data);
    let mut w = writer(&s, &d, data.len() as u64);
    w.write(&data[..1_234_567]).unwrap();
    drop(w); // interrupted
    assert_eq!(
        ingest_dir(&s),
        vec![format!("sha256-{}.partial", d.digest())]
    );
    let mut w = writer(&s, &d, data.len() as u64);
    assert_eq!(w.offset(), 1_234_567);
    w.write(&data[1_234_567..]).unwrap();
    w.commit().unwrap();
    assert_eq!(s.read_small(&d, 1 << 30).unwrap(), data);
    assert!(ingest_dir(&s).is_empty());
}

#[test]
fn concurrent_ingests_of_one_digest_leave_one_copy() {
    let (_t, s) = store();
    let data = vec![7u8; 4 << 20];
    let d = sha256(&data);
    let wrote = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| match s.ingest(&d, Some(data.len() as u64)).unwrap() {
                Ingest::Present(n) => assert_eq!(n, data.len() as u64),
                Ingest::Writer(mut w) => {
                    wrote.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    for c in data.chunks(100_000) {
                        w.write(c).unwrap();
                    }
                    w.commit().unwrap();
                }
            });
        }
    });
    assert_eq!(wrote.into_inner(), 1);
    assert_eq!(s.list().unwrap().len(), 1);
    assert!(ingest_dir(&s).is_empty());
}

#[test]
fn prune_removes_only_unlocked_old_ingests() {
    let (_t, s) = store();
    let a = sha256(b"a");
    let b = sha256(b"b");
    let mut wa = writer(&s, &a, 1);
    wa.write(b"a").unwrap();
    drop(wa); // orphan
    let mut wb = writer(&s, &b, 1); // being written
    wb.write(b"b").unwrap();
    assert_eq!(s.prune_ingest(Duration::from_secs(3600)).unwrap(), 0);
    assert_eq!(s.prune_ingest(Duration::ZERO).unwrap(), 1);
    assert_eq!(
        ingest_dir(&s),
        vec![
            format!("sha256-{}.lock", b.digest()),
            format!("sha256-{}.partial", b.digest())
        ]
    );
    wb.commit().unwrap();
    assert!(ingest_dir(&s).is_empty());
}

#[test]
fn put_stream_and_put_bytes() {
    let (_t, s) = store();
    let data = vec![0x1f, 0x8b, 1, 2, 3];
    let (d, n, head) = s.put_stream(&mut &data[..]).unwrap();
    assert_eq!((d.clone(), n, head), (sha256(&data), 5, data.clone()));
    assert!(s.has(&d).unwrap());
    assert_eq!(s.put_bytes(None, b"xyz").unwrap(), sha256(b"xyz"));
    assert!(s.put_bytes(Some(&sha256(b"other")), b"not it").is_err());
    assert!(ingest_dir(&s).is_empty());
}
