//! The engine in-process, without a registry: imported images, the lock
//! between adding and freeing content, and what removal frees.

use nook_engine::{Engine, Removal};
use std::time::Duration;

fn tarball(dir: &std::path::Path, name: &str, content: &[u8]) -> std::path::PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(content.len() as u64);
    b.append_data(&mut h, "etc/content", content).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, b.into_inner().unwrap()).unwrap();
    path
}

#[test]
fn removal_waits_for_a_running_adder() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path().join("root")).unwrap();
    let id = engine
        .import(&tarball(dir.path(), "a.tar", b"a"), Some("a:1"))
        .unwrap();
    // a pull in progress holds the lock shared
    let adding = engine.lock(false).unwrap();
    std::thread::scope(|s| {
        let rmi = s.spawn(|| engine.remove_image("a:1", false));
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !rmi.is_finished(),
            "rmi went ahead while content was being added"
        );
        drop(adding);
        let done = rmi.join().unwrap().unwrap();
        assert!(done.contains(&Removal::Deleted(id.clone())), "{done:?}");
    });
    assert!(engine.images().unwrap().is_empty());
    assert!(engine.blobs().list().unwrap().is_empty());
    assert!(engine.layers().list().unwrap().is_empty());
}

#[test]
fn names_resolve_as_docker_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path().join("root")).unwrap();
    let id = engine
        .import(
            &tarball(dir.path(), "a.tar", b"a"),
            Some("quay.io/org/app:2"),
        )
        .unwrap();
    for name in [
        "quay.io/org/app:2",
        id.as_ref(),
        &id.digest()[..12],
        &format!("sha256:{}", &id.digest()[..8]),
    ] {
        assert_eq!(engine.resolve(name).unwrap().id, id, "{name}");
    }
    assert!(matches!(
        engine.resolve("quay.io/org/app:3"),
        Err(nook_engine::Error::NoSuchImage(_))
    ));
    // a second image: a one-digit prefix may now be ambiguous, the tag is not
    let id2 = engine
        .import(&tarball(dir.path(), "b.tar", b"b"), Some("b"))
        .unwrap();
    assert_eq!(engine.resolve("b").unwrap().id, id2);
    assert_eq!(
        engine.resolve("docker.io/library/b:latest").unwrap().id,
        id2
    );
    assert!(engine.resolve("sha256:").is_err());
    engine.tag("b", "c:1").unwrap();
    assert!(engine.tag("b", "c@sha256:0000").is_err());
    assert_eq!(engine.resolve("c:1").unwrap().id, id2);
}
