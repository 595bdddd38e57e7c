//! Archives: what nook writes loads in podman and skopeo reads it, what
//! skopeo writes (docker-archive) nook reads, and nook reads back what it
//! wrote and OCI layout directories.

use nook_testkit as common;

use common::layout::{self, busybox_layer, file_layer, Built, Comp, Layout};
use common::*;
use nook_image::{
    load_archive, pull, write_docker_archive, write_oci_archive, Compression, NoProgress, Platform,
    PullOptions, Pulled, Reference, SaveImage, Store,
};
use std::process::Command;

fn amd64() -> Platform {
    Platform::parse("linux/amd64").unwrap()
}

/// A registry with the two-layer image (gzip busybox, zstd file) pulled
/// into a fresh store.
struct Pulled1 {
    _reg: Registry,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    store: Store,
    built: Built,
    pulled: Pulled,
    name: String,
}

fn pulled() -> Pulled1 {
    pulled_with(Comp::Zstd)
}

/// ... with the second layer compressed as `second`.
fn pulled_with(second: Comp) -> Pulled1 {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&dir.path().join("layout"));
    let built = l.image(
        "amd64",
        &[
            (busybox_layer(), Comp::Gzip),
            (file_layer("etc/hello", b"hello\n"), second),
        ],
    );
    l.tag("v1", &built.manifest);
    layout::push(&l, "v1", &reg.host(), "test/busybox", false);
    let (sdir, store) = store();
    let name = format!("{}/test/busybox:v1", reg.host());
    let r = Reference::parse(&name).unwrap();
    let pulled = pull(
        &client(),
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
    Pulled1 {
        _reg: reg,
        _dirs: (dir, sdir),
        store,
        built,
        pulled,
        name,
    }
}

fn skopeo_inspect(args: &[&str], image: &str) -> serde_json::Value {
    need("skopeo", "skopeo");
    let out = run(Command::new("skopeo").arg("inspect").args(args).arg(image));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo inspect {image}: {e}: {out}"))
}

/// podman loads `file`, and then has the image by its id and name.
fn check_podman_loads(file: &std::path::Path, id: &str, name: &str) {
    let pdir = tempfile::tempdir().unwrap();
    run(podman(&pdir).args(["load", "-q", "-i"]).arg(file));
    let out = run(podman(&pdir).args([
        "images",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
    ]));
    let want = format!("sha256:{id} {name}");
    assert!(
        out.lines().any(|l| l == want),
        "podman images: {out:?}, want {want}"
    );
}

#[test]
fn an_oci_archive_nook_writes_loads_in_podman_and_skopeo() {
    let p = pulled();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.oci.tar");
    let names = [p.name.clone()];
    let save = SaveImage {
        image: &p.pulled.image,
        names: &names,
    };
    write_oci_archive(&p.store, &[save], std::fs::File::create(&file).unwrap()).unwrap();

    let raw = skopeo_inspect(&["--raw"], &format!("oci-archive:{}", file.display()));
    assert_eq!(raw["config"]["digest"], p.built.config.digest);
    let info = skopeo_inspect(&[], &format!("oci-archive:{}", file.display()));
    let layers: Vec<String> = p.built.layers.iter().map(|l| l.digest.clone()).collect();
    assert_eq!(info["Layers"], serde_json::json!(layers));
    assert_eq!(info["Digest"], p.built.manifest.digest);

    check_podman_loads(&file, p.pulled.image.id().digest(), &p.name);
}

#[test]
fn a_docker_archive_nook_writes_loads_in_podman_and_skopeo() {
    let p = pulled();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.docker.tar");
    let names = [p.name.clone()];
    let save = SaveImage {
        image: &p.pulled.image,
        names: &names,
    };
    write_docker_archive(&p.store, &[save], std::fs::File::create(&file).unwrap()).unwrap();

    let image = format!("docker-archive:{}", file.display());
    let config = skopeo_inspect(&["--config", "--raw"], &image);
    let ours: serde_json::Value = serde_json::from_slice(&p.pulled.image.config_raw).unwrap();
    assert_eq!(config, ours);
    // skopeo serves a docker archive's layers uncompressed: their digests
    // are the diff_ids
    let info = skopeo_inspect(&[], &image);
    assert_eq!(info["Layers"], serde_json::json!(p.built.diff_ids));
    assert_eq!(
        info["RepoTags"],
        serde_json::json!([]),
        "(a name is not a tag list to inspect)"
    );

    check_podman_loads(&file, p.pulled.image.id().digest(), &p.name);
}

#[test]
fn a_docker_archive_skopeo_writes_loads_into_the_store() {
    // (skopeo puts no zstd layer in a docker archive)
    let p = pulled_with(Comp::Gzip);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skopeo.docker.tar");
    skopeo_copy(
        &format!("docker://{}", p.name),
        &format!("docker-archive:{}:{}", file.display(), "test/busybox:v1"),
        &[],
    );
    let (_s, store) = store();
    let loaded = load_archive(&store, &file, &amd64()).unwrap();
    assert_eq!(loaded.len(), 1);
    let l = &loaded[0];
    assert!(
        l.repo_tags.iter().any(|t| t.ends_with("test/busybox:v1")),
        "{:?}",
        l.repo_tags
    );
    assert_eq!(l.image.id().to_string(), p.built.config.digest);
    let got: Vec<_> = l
        .image
        .layers
        .iter()
        .map(|x| x.digest.to_string())
        .collect();
    assert_eq!(got, p.built.diff_ids, "skopeo writes layers uncompressed");
    for x in &l.image.layers {
        assert_eq!(x.compression, Compression::None);
        assert_eq!(store.size(&x.digest).unwrap(), x.size);
    }
    // the image's own description is in the store too
    let again = nook_image::Image::from_store(&store, &l.image.manifest_digest).unwrap();
    assert_eq!(again.layers, l.image.layers);
    assert!(
        ingest_files(&store).is_empty(),
        "{:?}",
        ingest_files(&store)
    );
}

#[test]
fn nook_reads_back_what_it_wrote() {
    let p = pulled();
    let dir = tempfile::tempdir().unwrap();
    let names = [p.name.clone()];
    let save = [SaveImage {
        image: &p.pulled.image,
        names: &names,
    }];
    let oci = dir.path().join("a.oci.tar");
    write_oci_archive(&p.store, &save, std::fs::File::create(&oci).unwrap()).unwrap();
    let docker = dir.path().join("a.docker.tar");
    write_docker_archive(&p.store, &save, std::fs::File::create(&docker).unwrap()).unwrap();

    let (_s, store) = store();
    let l = load_archive(&store, &oci, &amd64()).unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].repo_tags, names);
    assert_eq!(l[0].image.manifest_digest, p.pulled.image.manifest_digest);
    assert_eq!(l[0].image.layers, p.pulled.image.layers);

    let l = load_archive(&store, &docker, &amd64()).unwrap();
    assert_eq!(
        l[0].repo_tags,
        vec![format!("{}", Reference::parse(&p.name).unwrap().familiar())]
    );
    assert_eq!(l[0].image.config_digest, p.pulled.image.config_digest);
    let comp: Vec<_> = l[0].image.layers.iter().map(|x| x.compression).collect();
    assert_eq!(
        comp,
        vec![Compression::Gzip, Compression::Zstd],
        "sniffed from the blobs"
    );
    assert_eq!(
        l[0].image
            .layers
            .iter()
            .map(|x| &x.digest)
            .collect::<Vec<_>>(),
        p.pulled
            .image
            .layers
            .iter()
            .map(|x| &x.digest)
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_oci_layout_directory_loads_for_the_wanted_platform() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&dir.path().join("layout"));
    let amd = l.image("amd64", &[(file_layer("etc/a", b"amd64"), Comp::Gzip)]);
    let arm = l.image("arm64", &[(file_layer("etc/a", b"arm64"), Comp::Zstd)]);
    let index = l.index(&[(&amd, "amd64"), (&arm, "arm64")]);
    l.tag("example.com/multi:1", &index);
    let (_s, store) = store();
    let got = load_archive(&store, &l.dir, &Platform::parse("linux/arm64").unwrap()).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].repo_tags, vec!["example.com/multi:1".to_string()]);
    assert_eq!(
        got[0].image.manifest_digest.to_string(),
        arm.manifest.digest
    );
    // only the wanted platform's blobs were imported
    let amd_layer = nook_image::Digest::try_from(amd.layers[0].digest.as_str()).unwrap();
    assert!(!store.has(&amd_layer).unwrap());
    let e = load_archive(&store, &l.dir, &Platform::parse("linux/ppc64le").unwrap()).unwrap_err();
    assert!(matches!(e, nook_image::Error::NoPlatform { .. }), "{e}");
}
