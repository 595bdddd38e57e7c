//! `save`, `load` and `import` round trips: what nook saves (both formats)
//! skopeo reads and podman loads under the same id; what podman saves nook
//! loads; a root file system tarball becomes a one-layer image.

use super::*;
use nook_testkit::{need, podman, run};

fn skopeo_inspect(image: &str) -> Value {
    need("skopeo", "skopeo");
    let out = run(Command::new("skopeo").args(["inspect", image]));
    serde_json::from_str(&out).unwrap()
}

#[test]
fn saved_images_load_in_podman_and_back_in_nook() {
    let reg = Registry::start();
    let p = push_two(&reg);
    let n = Nook::new();
    let name = format!("{}/test/a:v1", reg.host());
    n.ok(&["pull", "-q", &name]);
    let dir = tempfile::tempdir().unwrap();
    for (format, transport) in [
        ("docker-archive", "docker-archive"),
        ("oci-archive", "oci-archive"),
    ] {
        let file = dir.path().join(format!("a.{format}.tar"));
        let f = file.to_str().unwrap();
        n.ok(&["save", "-o", f, "--format", format, &name]);
        // skopeo reads it: the same layers (a docker archive names them
        // by diff id)
        let info = skopeo_inspect(&format!("{transport}:{f}"));
        let layers: Vec<_> = match format {
            "docker-archive" => p.a.diff_ids.clone(),
            _ => p.a.layers.iter().map(|l| l.digest.clone()).collect(),
        };
        assert_eq!(info["Layers"], serde_json::json!(layers), "{format}");
        // podman loads it under the same id
        let pdir = tempfile::tempdir().unwrap();
        run(podman(&pdir).args(["load", "-q", "-i", f]));
        let ids = run(podman(&pdir).args(["images", "--no-trunc", "--format", "{{.ID}}"]));
        assert_eq!(ids.trim(), p.a.config.digest, "{format}");
        // and a fresh nook loads it back: same id, same name
        let m = Nook::new();
        let out = m.ok(&["load", "-i", f]);
        assert_eq!(out, format!("Loaded image: {name}\n"), "{format}");
        let rows = m.images();
        assert_eq!(rows[0]["ID"], short(&p.a.config.digest));
        assert_eq!(rows[0]["Tag"], "v1");
        m.assert_consistent();
    }
    // no half file is left when saving fails
    let bad = dir.path().join("bad.tar");
    n.fails(&["save", "-o", bad.to_str().unwrap(), "nope:1"]);
    assert!(!bad.exists());
    assert_eq!(entries(dir.path()).len(), 2, "{:?}", entries(dir.path()));
}

#[test]
fn an_archive_podman_saves_loads_in_nook() {
    let reg = Registry::start();
    let p = push_two(&reg);
    let pdir = tempfile::tempdir().unwrap();
    let name = format!("{}/test/b:v1", reg.host());
    run(podman(&pdir).args(["pull", "-q", "--tls-verify=false", &name]));
    let file = pdir.path().join("b.tar");
    run(podman(&pdir)
        .args(["save", "-q", "--format", "docker-archive", "-o"])
        .arg(&file)
        .arg(&name));
    let n = Nook::new();
    let out = n.ok(&["load", "-i", file.to_str().unwrap()]);
    assert_eq!(out, format!("Loaded image: {name}\n"));
    assert_eq!(n.images()[0]["ID"], short(&p.b.config.digest));
    n.assert_consistent();
}

#[test]
fn a_root_file_system_tarball_is_imported() {
    let n = Nook::new();
    let tar = busybox_layer();
    let gz = layout::compress(&tar, Comp::Gzip);
    let file = n.dir.path().join("rootfs.tar.gz");
    std::fs::write(&file, &gz).unwrap();
    let id = n.ok(&["import", file.to_str().unwrap(), "mybox:1"]);
    let id = id.trim();
    assert!(id.starts_with("sha256:"), "{id}");
    let rows = n.images();
    assert_eq!(
        (rows[0]["Repository"].as_str(), rows[0]["Tag"].as_str()),
        (Some("mybox"), Some("1"))
    );
    let inspect: Value = serde_json::from_str(&n.ok(&["image", "inspect", "mybox:1"])).unwrap();
    assert_eq!(inspect[0]["Id"], id);
    let diff_id = nook_image::digest::sha256(&tar).to_string();
    assert_eq!(inspect[0]["RootFS"]["Layers"], serde_json::json!([diff_id]));
    // the layer unpacked, busybox in it
    let layer = n
        .root
        .join("storage/layers")
        .join(&diff_id[7..])
        .join("diff/bin/busybox");
    assert_eq!(
        std::fs::read(layer).unwrap(),
        std::fs::read("/bin/busybox").unwrap()
    );
    n.assert_consistent();
}
