//! `nook pull` killed (SIGKILL) mid-download, after its first blob, and
//! mid-unpack: no image is visible, and the next pull completes it and
//! leaves no orphan (no half layer, no partial download, no row without
//! its layers, nothing unused).

use super::*;
use nook_testkit::proxy::{Proxy, Reply};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A child killed on drop (a test that fails leaves no process behind).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `nook pull name`, wait until `ready` holds, SIGKILL it; false
/// when it finished first.
fn kill_when(n: &Nook, name: &str, ready: impl Fn() -> bool) -> bool {
    let child = n
        .cmd(&["pull", "-q", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if ready() {
            child.0.kill().unwrap();
            let st = child.0.wait().unwrap();
            assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
            return true;
        }
        if child.0.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(Instant::now() < deadline, "the pull never got there");
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Pull after the kill: nothing was visible, now all is, consistently.
fn completes(n: &Nook, name: &str) {
    assert!(n.images().is_empty(), "a killed pull left an image");
    n.ok(&["pull", "-q", name]);
    assert_eq!(n.images().len(), 1);
    n.assert_consistent();
}

/// A proxy whose blobs come slowly while `slow` is set.
fn slow_proxy(reg: &Registry, slow: Arc<AtomicBool>) -> Proxy {
    Proxy::start(reg.port, move |r| {
        match r.path.contains("/blobs/") && slow.load(Ordering::SeqCst) {
            true => Reply::Slow(64 << 10, Duration::from_millis(30)),
            false => Reply::Forward,
        }
    })
}

#[test]
fn killed_mid_download_and_after_the_first_blob() {
    let reg = Registry::start();
    let p = push_two(&reg);
    let slow = Arc::new(AtomicBool::new(true));
    let proxy = slow_proxy(&reg, slow.clone());

    // mid-download: a partial blob in ingest/
    let n = Nook::new();
    let name = format!("{}/test/a:v1", proxy.host());
    let partial = || {
        let dir = n.root.join("ingest");
        entries(&dir).iter().any(|e| {
            e.ends_with(".partial") && std::fs::metadata(dir.join(e)).is_ok_and(|m| m.len() > 0)
        })
    };
    assert!(kill_when(&n, &name, partial));
    slow.store(false, Ordering::SeqCst);
    completes(&n, &name);

    // after its first layer blob is whole
    slow.store(true, Ordering::SeqCst);
    let n = Nook::new();
    let layer_blobs: Vec<String> =
        p.a.layers
            .iter()
            .map(|l| l.digest[7..].to_string())
            .collect();
    let first_blob = || n.blobs().iter().any(|b| layer_blobs.contains(b));
    assert!(kill_when(&n, &name, first_blob));
    slow.store(false, Ordering::SeqCst);
    completes(&n, &name);
}

#[test]
fn killed_mid_unpack() {
    let reg = Registry::start();
    // a layer of many small files: its unpack takes a while
    let dir = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..1500 {
        let mut h = layout::header();
        h.set_mode(0o644);
        h.set_size(64);
        b.append_data(&mut h, format!("d{}/f{i}", i % 30), &[b'x'; 64][..])
            .unwrap();
    }
    let many = b.into_inner().unwrap();
    let mut l = Layout::new(&dir.path().join("layout"));
    let img = l.image(
        "amd64",
        &[(busybox_layer(), Comp::Gzip), (many, Comp::Gzip)],
    );
    l.tag("m", &img.manifest);
    push(&l, "m", &reg.host(), "test/many", false);
    let name = format!("{}/test/many:m", reg.host());

    // the kill lands while a layer is in storage/tmp; a fast machine may
    // finish first: then again with a fresh store
    for _ in 0..10 {
        let n = Nook::new();
        let tmp = n.root.join("storage/tmp");
        if kill_when(&n, &name, || !entries(&tmp).is_empty()) {
            completes(&n, &name);
            return;
        }
    }
    panic!("no pull was caught unpacking");
}
