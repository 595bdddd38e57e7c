use super::*;

fn d(n: u8) -> Digest {
    Digest::try_from(format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap()
}

fn tag(repo: &str, t: &str) -> Tag {
    Tag {
        repository: format!("docker.io/library/{repo}"),
        tag: t.into(),
    }
}

/// An image with config `id` whose layers are (chain, blob) pairs.
fn image(id: u8, layers: &[(u8, u8)]) -> NewImage {
    let mut blobs: Vec<BlobRef> = layers
        .iter()
        .map(|&(_, b)| BlobRef {
            digest: d(b),
            size: 10,
        })
        .collect();
    blobs.push(BlobRef {
        digest: d(id),
        size: 1,
    });
    blobs.push(BlobRef {
        digest: d(id + 100),
        size: 2,
    });
    NewImage {
        id: d(id),
        manifest_digest: d(id + 100),
        manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: 123,
        created: Some(1_700_000_000),
        os: "linux".into(),
        architecture: "amd64".into(),
        layers: layers
            .iter()
            .enumerate()
            .map(|(i, &(c, b))| LayerRecord {
                chain_id: d(c),
                diff_id: d(c),
                parent: (i > 0).then(|| d(layers[i - 1].0)),
                size: 1000,
                blob: d(b),
            })
            .collect(),
        blobs,
    }
}

fn open() -> (tempfile::TempDir, State) {
    let dir = tempfile::tempdir().unwrap();
    let s = State::open(dir.path().join("nook.db")).unwrap();
    (dir, s)
}

#[test]
fn an_image_is_recorded_whole_and_read_back() {
    let (_d, s) = open();
    let img = image(1, &[(10, 20), (11, 21)]);
    let digests = [RepoDigest {
        repository: "docker.io/library/busybox".into(),
        digest: d(101),
    }];
    let r = s
        .record_image(&img, &[tag("busybox", "latest")], &digests)
        .unwrap();
    assert!(r.new && r.moved.is_empty());
    assert_eq!(r.tagged, vec![tag("busybox", "latest")]);
    let got = s.image(&d(1)).unwrap().unwrap();
    assert_eq!(got.manifest_digest, d(101));
    assert_eq!(got.layers, img.layers);
    assert_eq!(got.blobs.len(), 4);
    assert_eq!(got.tags, vec![tag("busybox", "latest")]);
    assert_eq!(
        got.repo_digests[0].to_string(),
        format!("docker.io/library/busybox@{}", d(101))
    );
    assert_eq!(got.created, Some(1_700_000_000));
    // again: not new, nothing doubled
    let r = s
        .record_image(&img, &[tag("busybox", "latest")], &[])
        .unwrap();
    assert!(!r.new);
    assert_eq!(s.image(&d(1)).unwrap().unwrap().blobs.len(), 4);
    assert_eq!(s.images().unwrap().len(), 1);
    assert_eq!(
        s.image_by_tag(&tag("busybox", "latest")).unwrap(),
        Some(d(1))
    );
    assert_eq!(s.image_by_repo_digest(&digests[0]).unwrap(), Some(d(1)));
    assert_eq!(s.image_by_tag(&tag("busybox", "1")).unwrap(), None);
}

#[test]
fn ids_are_found_by_prefix() {
    let (_d, s) = open();
    s.record_image(&image(1, &[(10, 20)]), &[], &[]).unwrap();
    s.record_image(&image(2, &[(10, 20)]), &[], &[]).unwrap();
    assert_eq!(s.images_by_id_prefix("0101").unwrap(), vec![d(1)]);
    assert_eq!(s.images_by_id_prefix("sha256:0202").unwrap(), vec![d(2)]);
    assert_eq!(s.images_by_id_prefix("0").unwrap().len(), 2);
    assert!(s.images_by_id_prefix("").unwrap().is_empty());
    // LIKE wildcards are not hex: no match, no injection
    assert!(s.images_by_id_prefix("%").unwrap().is_empty());
    assert!(s.images_by_id_prefix("_1").unwrap().is_empty());
}

#[test]
fn a_tag_moves_and_the_old_image_stays() {
    let (_d, s) = open();
    s.record_image(&image(1, &[(10, 20)]), &[tag("app", "v1")], &[])
        .unwrap();
    let r = s
        .record_image(&image(2, &[(11, 21)]), &[tag("app", "v1")], &[])
        .unwrap();
    assert_eq!(r.moved, vec![(tag("app", "v1"), d(1))]);
    assert_eq!(r.tagged, vec![tag("app", "v1")]);
    assert!(s.image(&d(1)).unwrap().unwrap().tags.is_empty());
    assert_eq!(s.set_tag(&tag("app", "v2"), &d(1)).unwrap(), None);
    assert_eq!(s.set_tag(&tag("app", "v2"), &d(2)).unwrap(), Some(d(1)));
    assert_eq!(s.set_tag(&tag("app", "v2"), &d(2)).unwrap(), None);
    assert!(matches!(
        s.set_tag(&tag("app", "v3"), &d(9)),
        Err(Error::ImageNotFound(_))
    ));
    assert!(s.remove_tag(&tag("app", "v2")).unwrap());
    assert!(!s.remove_tag(&tag("app", "v2")).unwrap());
}

#[test]
fn removing_an_image_frees_only_what_no_other_uses() {
    let (_d, s) = open();
    // a and b share their bottom layer (chain 10, blob 20)
    s.record_image(&image(1, &[(10, 20), (11, 21)]), &[tag("a", "1")], &[])
        .unwrap();
    s.record_image(&image(2, &[(10, 20), (12, 22)]), &[tag("b", "1")], &[])
        .unwrap();
    let freed = s.remove_image(&d(1)).unwrap();
    let mut blobs: Vec<_> = freed.blobs.iter().map(|b| b.digest.clone()).collect();
    blobs.sort_by_key(|a| a.to_string());
    assert_eq!(blobs, vec![d(1), d(21), d(101)]);
    assert_eq!(freed.layers, vec![d(11)]);
    assert_eq!(s.image_by_tag(&tag("a", "1")).unwrap(), None);
    assert_eq!(s.referenced_layers().unwrap(), vec![d(10), d(12)]);
    assert!(matches!(
        s.remove_image(&d(1)),
        Err(Error::ImageNotFound(_))
    ));
    let freed = s.remove_image(&d(2)).unwrap();
    assert_eq!(freed.layers, vec![d(10), d(12)]);
    assert!(s.referenced_blobs().unwrap().is_empty());
    assert!(s.images().unwrap().is_empty());
}

#[test]
fn two_handles_write_at_once_and_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nook.db");
    std::thread::scope(|sc| {
        for t in 0..4u8 {
            let path = &path;
            sc.spawn(move || {
                let s = State::open(path).unwrap();
                for i in 0..10u8 {
                    let img = image(t * 10 + i + 1, &[(200, 201), (t * 10 + i + 1, 202)]);
                    s.record_image(&img, &[tag("x", &format!("{t}-{i}"))], &[])
                        .unwrap();
                }
            });
        }
    });
    let s = State::open(&path).unwrap();
    assert_eq!(s.images().unwrap().len(), 40);
}

#[test]
fn the_schema_is_versioned() {
    let (dir, s) = open();
    let path = s.path().to_path_buf();
    drop(s);
    let c = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, crate::schema::current_version());
    // opening again migrates nothing; a newer database is refused
    State::open(&path).unwrap();
    c.pragma_update(None, "user_version", v + 1).unwrap();
    drop(c);
    let e = State::open(&path).unwrap_err();
    assert!(matches!(e, Error::TooNew { .. }), "{e}");
    assert!(e.to_string().contains("is newer than"), "{e}");
    drop(dir);
}
