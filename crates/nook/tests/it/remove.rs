//! `tag`, `rmi` and `image prune`: a tag of an image with other tags is
//! only untagged; removing an image frees what no other image uses and
//! nothing else; an id tagged in two repositories wants `-f`; prune
//! removes untagged images and what interrupted work left.

use super::*;

#[test]
fn rmi_frees_only_what_no_other_image_uses() {
    let reg = Registry::start();
    let p = push_two(&reg);
    let n = Nook::new();
    let (a, b) = (
        format!("{}/test/a:v1", reg.host()),
        format!("{}/test/b:v1", reg.host()),
    );
    n.ok(&["pull", "-q", &a]);
    n.ok(&["pull", "-q", &b]);
    n.ok(&["tag", &a, "mine:1"]);
    assert!(n.names().contains("mine:1"));

    // a has another tag: only untagged
    assert_eq!(n.ok(&["rmi", &a]), format!("Untagged: {a}\n"));
    assert_eq!(n.layers().len(), 3);

    // its last tag: deleted, with its own layer and blobs, not the shared ones
    let out = n.ok(&["rmi", "mine:1"]);
    assert!(out.starts_with("Untagged: mine:1\n"), "{out}");
    assert!(
        out.contains(&format!("Deleted: {}", p.a.config.digest)),
        "{out}"
    );
    assert_eq!(n.layers().len(), 2, "busybox and b's layer stay");
    assert!(n.layers().contains(&p.b.diff_ids[0][7..]));
    assert_eq!(n.blobs().len(), 4, "b's manifest, config and layers stay");
    n.assert_consistent();
    let out = String::from_utf8(n.run(&["pull", &b]).stdout).unwrap();
    assert!(out.contains("Image is up to date"), "{out}");

    // an id tagged in two repositories: refused without -f
    n.ok(&["tag", &b, "other/b:2"]);
    let id = short(&p.b.config.digest);
    let err = n.fails(&["rmi", &id]);
    assert!(err.contains("must be forced"), "{err}");
    let out = n.ok(&["rmi", "-f", &id[..6]]);
    assert!(
        out.contains(&format!("Deleted: {}", p.b.config.digest)),
        "{out}"
    );
    assert!(n.images().is_empty());
    assert!(n.layers().is_empty() && n.blobs().is_empty());
    n.assert_consistent();

    // nothing left to remove
    let err = n.fails(&["rmi", &b]);
    assert!(err.contains("no such image"), "{err}");
}

/// A root file system tarball holding one file, in `dir`.
fn rootfs_tar(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, file_layer("etc/content", content)).unwrap();
    path
}

#[test]
fn prune_removes_untagged_images_and_leftovers() {
    let n = Nook::new();
    let one = rootfs_tar(n.dir.path(), "one.tar", b"one");
    let two = rootfs_tar(n.dir.path(), "two.tar", b"two");
    let first = n.ok(&["import", one.to_str().unwrap(), "app:1"]);
    let second = n.ok(&["import", two.to_str().unwrap(), "app:1"]);
    // the tag moved: the first image is left untagged
    let rows = n.images();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .any(|r| r["Tag"] == "<none>" && r["ID"] == short(first.trim())));
    // a partial download some killed pull left
    std::fs::write(n.root.join("ingest/sha256-00.partial"), b"x").unwrap();

    let out = n.ok(&["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {}", first.trim())), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    let rows = n.images();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["ID"], short(second.trim()));
    n.assert_consistent();

    // -a: every image no container uses
    n.ok(&["image", "prune", "-a", "-f"]);
    assert!(n.images().is_empty());
    assert!(n.layers().is_empty() && n.blobs().is_empty());
}

#[test]
fn rmi_refuses_an_image_a_container_uses_unless_forced_and_the_container_keeps_it() {
    let b = super::lifecycle::Bb::new();
    let n = &b.n;
    b.ok(&["create", "--name", "user", "bb:1", "true"]);
    b.detached("runner", "sleep 100");
    let err = n.fails(&["rmi", "bb:1"]);
    assert!(err.contains("in use by container"), "{err}");
    assert_eq!(n.names(), BTreeSet::from(["bb:1".to_string()]));
    // forced: the name goes, the image's layers stay for its containers
    n.ok(&["rmi", "-f", "bb:1"]);
    assert!(n.names().iter().all(|r| r != "bb:1"));
    let layers = n.layers();
    assert!(!layers.is_empty(), "the containers' layers were freed");
    assert_eq!(
        n.ok(&["exec", "runner", "sh", "-c", "echo still"]).trim(),
        "still"
    );
    n.ok(&["image", "prune", "-f"]);
    assert_eq!(
        n.layers(),
        layers,
        "prune freed a layer a container stands on"
    );
    n.ok(&["rm", "-f", "user", "runner"]);
    n.ok(&["image", "prune", "-a", "-f"]);
    assert!(
        n.layers().is_empty() && n.blobs().is_empty(),
        "left after the containers went"
    );
    n.assert_consistent();
}
