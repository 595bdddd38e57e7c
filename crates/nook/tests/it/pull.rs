//! `nook pull` then `nook images`: by tag, again (nothing fetched), by
//! digest; two images sharing a layer keep it once on disk; two `nook
//! pull` processes of one image at once both succeed with one copy.

use super::*;
use nook_testkit::proxy::{Proxy, Reply};
use std::time::Duration;

#[test]
fn pull_by_tag_then_again_then_by_digest() {
    let reg = Registry::start();
    let p = push_two(&reg);
    let n = Nook::new();
    let name = format!("{}/test/a:v1", reg.host());

    let out = n.run(&["pull", &name]);
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{err}");
    // stderr not a terminal: one line per layer
    for l in &p.a.layers {
        let line = format!("{}: Pull complete", &l.digest[7..19]);
        assert!(err.lines().any(|e| e.starts_with(&line)), "{err}");
    }
    assert_eq!(err.lines().count(), 2, "{err}");
    // stdout: Docker's status lines, the name last
    assert!(
        stdout.contains(&format!("Digest: {}", p.a.manifest.digest)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Status: Downloaded newer image for {name}")),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some(name.as_str()));

    let rows = n.images();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["Repository"], format!("{}/test/a", reg.host()));
    assert_eq!(rows[0]["Tag"], "v1");
    assert_eq!(rows[0]["ID"], short(&p.a.config.digest));
    assert_eq!(rows[0]["Digest"], p.a.manifest.digest);
    assert_eq!(
        n.ok(&["images", "-q"]),
        format!("{}\n", short(&p.a.config.digest))
    );
    let table = n.ok(&["images"]);
    assert!(table.starts_with("REPOSITORY"), "{table}");
    assert!(table.contains(&short(&p.a.config.digest)), "{table}");

    // again: up to date, every layer already there
    let out = n.run(&["pull", &name]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Status: Image is up to date for"),
        "{stdout}"
    );
    assert_eq!(err.matches(": Already exists").count(), 2, "{err}");

    // -q: the name only
    assert_eq!(n.ok(&["pull", "-q", &name]), format!("{name}\n"));

    // by digest: no tag, the repository digest recorded
    let by_digest = format!("{}/test/b@{}", reg.host(), p.b.manifest.digest);
    assert_eq!(n.ok(&["pull", "-q", &by_digest]), format!("{by_digest}\n"));
    let b_rows: Vec<_> = n
        .images()
        .into_iter()
        .filter(|r| r["ID"] == short(&p.b.config.digest))
        .collect();
    assert_eq!(b_rows.len(), 1);
    assert_eq!(b_rows[0]["Tag"], "<none>");
    let inspect: Value = serde_json::from_str(&n.ok(&["image", "inspect", &by_digest])).unwrap();
    assert_eq!(inspect[0]["Id"], p.b.config.digest);
    assert_eq!(inspect[0]["RepoDigests"][0], by_digest);
    assert_eq!(
        inspect[0]["RootFS"]["Layers"],
        serde_json::json!(p.b.diff_ids)
    );
    let id = n.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &short(&p.b.config.digest),
    ]);
    assert_eq!(id.trim(), p.b.config.digest);
    n.assert_consistent();
}

#[test]
fn two_images_sharing_a_layer_store_it_once() {
    let reg = Registry::start();
    let p = push_two(&reg);
    let n = Nook::new();
    n.ok(&["pull", "-q", &format!("{}/test/a:v1", reg.host())]);
    let out = n.run(&["pull", &format!("{}/test/b:v1", reg.host())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let busybox = &p.a.layers[0].digest;
    assert_eq!(busybox, &p.b.layers[0].digest);
    assert!(
        err.contains(&format!("{}: Already exists", &busybox[7..19])),
        "{err}"
    );
    // on disk: the shared layer's blob once, and unpacked once
    // (3 layers: busybox, a's file, b's file; 7 blobs: 2 manifests, 2
    // configs, 3 layer blobs)
    assert_eq!(n.layers().len(), 3, "{:?}", n.layers());
    assert_eq!(
        n.layers()
            .iter()
            .filter(|l| **l == p.a.diff_ids[0][7..])
            .count(),
        1
    );
    assert_eq!(n.blobs().len(), 7, "{:?}", n.blobs());
    assert_eq!(n.names().len(), 2);
    let df = n.ok(&["system", "df"]);
    assert!(
        df.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .take(2)
            .eq(["Images", "2"]),
        "{df}"
    );
    n.assert_consistent();
}

#[test]
fn two_pull_processes_of_one_image_both_succeed_with_one_copy() {
    let reg = Registry::start();
    let p = push_two(&reg);
    // blobs come slowly, so that both pulls are fetching at once
    let proxy = Proxy::start(reg.port, |r| match r.path.contains("/blobs/") {
        true => Reply::Slow(256 << 10, Duration::from_millis(20)),
        false => Reply::Forward,
    });
    let n = Nook::new();
    let name = format!("{}/test/a:v1", proxy.host());
    let children: Vec<_> = (0..2)
        .map(|_| {
            n.cmd(&["pull", &name])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(n.images().len(), 1);
    assert_eq!(n.layers().len(), 2);
    assert_eq!(n.blobs().len(), 4);
    let _ = p;
    n.assert_consistent();
}
