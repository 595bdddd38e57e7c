//! Bad input: each a one-line error, exit status 125, and nothing left in
//! the store.

use super::*;

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let n = Nook::new();
    let err = n.fails(&["pull", "Not A Reference"]);
    assert!(err.contains("invalid reference"), "{err}");
    let err = n.fails(&["pull", "--platform", "linux", "busybox"]);
    assert!(err.contains("linux"), "{err}");
    let err = n.fails(&["image", "inspect", "nope"]);
    assert!(err.contains("no such image: nope"), "{err}");
    let err = n.fails(&["tag", "nope", "x:1"]);
    assert!(err.contains("no such image"), "{err}");
    let err = n.fails(&["save", "--format", "zip", "-o", "/dev/null", "x"]);
    assert!(err.contains("zip"), "{err}");

    let missing = n.dir.path().join("missing.tar");
    let err = n.fails(&["load", "-i", missing.to_str().unwrap()]);
    assert!(err.contains("missing.tar"), "{err}");
    let err = n.fails(&["import", missing.to_str().unwrap(), "x:1"]);
    assert!(err.contains("missing.tar"), "{err}");

    // a corrupt archive: a docker-archive whose layer is not what its
    // config says, and a file that is no archive at all
    let corrupt = n.dir.path().join("corrupt.tar");
    let mut b = tar::Builder::new(Vec::new());
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", "0".repeat(64))]}})
    .to_string();
    for (path, data) in [
        ("config.json", config.as_bytes().to_vec()),
        ("layer.tar", file_layer("etc/x", b"x")),
        (
            "manifest.json",
            br#"[{"Config":"config.json","RepoTags":["x:1"],"Layers":["layer.tar"]}]"#.to_vec(),
        ),
    ] {
        let mut h = layout::header();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, &data[..]).unwrap();
    }
    std::fs::write(&corrupt, b.into_inner().unwrap()).unwrap();
    let err = n.fails(&["load", "-i", corrupt.to_str().unwrap()]);
    assert!(err.contains("diff id"), "{err}");
    let junk = n.dir.path().join("junk.tar");
    std::fs::write(&junk, vec![7u8; 5000]).unwrap();
    n.fails(&["load", "-i", junk.to_str().unwrap()]);
    let err = n.fails(&["import", junk.to_str().unwrap(), "x:1"]);
    assert!(err.contains("junk.tar"), "{err}");

    // a registry that is not there
    let port = nook_testkit::free_port();
    let err = n.fails(&["pull", &format!("127.0.0.1:{port}/x:1")]);
    assert!(err.contains(&port.to_string()), "{err}");

    assert!(n.images().is_empty());
    assert!(n.blobs().is_empty(), "{:?}", n.blobs());
    assert!(n.layers().is_empty());
    n.assert_consistent();

    // a bad flag: clap's usage, status 125
    let out = n.run(&["images", "--bogus"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
    assert_eq!(n.run(&["--help"]).status.code(), Some(0));
}

#[test]
fn a_missing_tag_is_one_line() {
    let reg = Registry::start();
    let _p = push_two(&reg);
    let n = Nook::new();
    let err = n.fails(&["pull", &format!("{}/test/a:nope", reg.host())]);
    assert!(err.contains("nope"), "{err}");
    assert!(n.images().is_empty());
}
