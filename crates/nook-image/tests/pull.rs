//! Pulls from Debian's reference registry on 127.0.0.1, with images built
//! here and pushed with skopeo: by tag and by digest, compressed and
//! uncompressed layers, platform selection, a corrupted blob, a transfer
//! cut short and resumed, bearer-token and basic authentication, and
//! concurrent pulls of one image into one store.

use nook_testkit as common;

use common::layout::{self, busybox_layer, file_layer, Built, Comp, Layout};
use common::proxy::{Proxy, Reply, Req};
use common::*;
use nook_image::{
    pull, AuthConfig, Compression, Credentials, Error, NoProgress, Platform, PullOptions, Reference,
};

fn amd64() -> Platform {
    Platform::parse("linux/amd64").unwrap()
}

fn reference(host: &str, rest: &str) -> Reference {
    Reference::parse(&format!("{host}/{rest}")).unwrap()
}

/// A two-layer image (busybox gzip, a file zstd) pushed as `test/busybox:v1`.
fn push_standard(reg: &Registry, dir: &tempfile::TempDir) -> Built {
    let mut l = Layout::new(&dir.path().join("layout"));
    let b = l.image(
        "amd64",
        &[
            (busybox_layer(), Comp::Gzip),
            (file_layer("etc/hello", b"hello\n"), Comp::Zstd),
        ],
    );
    l.tag("v1", &b.manifest);
    layout::push(&l, "v1", &reg.host(), "test/busybox", false);
    b
}

fn blob_requests(p: &Proxy) -> Vec<Req> {
    p.requests()
        .into_iter()
        .filter(|r| r.path.contains("/blobs/"))
        .collect()
}

/// Every blob of `built`, the manifest too, is in the store, verified.
fn all_in_store(store: &nook_image::Store, built: &Built) {
    for d in [&built.manifest, &built.config]
        .into_iter()
        .chain(&built.layers)
    {
        let digest = nook_image::Digest::try_from(d.digest.as_str()).unwrap();
        let data = std::fs::read(store.blob_path(&digest)).unwrap();
        assert_eq!(nook_image::digest::sha256(&data), digest);
    }
}

#[test]
fn pull_by_tag_then_by_digest() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let built = push_standard(&reg, &dir);
    let (_s, store) = store();
    let progress = Recorder::default();
    let r = reference(&reg.host(), "test/busybox:v1");
    let p = pull(
        &client(),
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &progress,
    )
    .unwrap();

    assert_eq!(p.image.manifest_digest.to_string(), built.manifest.digest);
    assert_eq!(
        p.reference.digest.as_ref().unwrap().to_string(),
        built.manifest.digest
    );
    assert_eq!(p.reference.tag.as_deref(), Some("v1"));
    assert_eq!(p.index_digest, None);
    assert_eq!(p.image.id().to_string(), built.config.digest);
    assert_eq!(
        nook_image::digest::sha256(&p.image.config_raw).to_string(),
        built.config.digest
    );
    assert_eq!(p.image.config.rootfs().diff_ids(), &built.diff_ids);
    let got: Vec<_> = p
        .image
        .layers
        .iter()
        .map(|l| (l.digest.to_string(), l.size, l.compression))
        .collect();
    let want: Vec<_> = built
        .layers
        .iter()
        .zip([Compression::Gzip, Compression::Zstd])
        .map(|(d, c)| (d.digest.clone(), d.size, c))
        .collect();
    assert_eq!(got, want);
    all_in_store(&store, &built);
    assert!(
        ingest_files(&store).is_empty(),
        "{:?}",
        ingest_files(&store)
    );
    // per-layer progress: started, bytes, done
    for l in &built.layers {
        assert!(progress
            .of("started")
            .contains(&format!("started {} {} 0", l.digest, l.size)));
        assert!(progress
            .of("progress")
            .contains(&format!("progress {} {} {}", l.digest, l.size, l.size)));
        assert!(progress
            .of("done")
            .contains(&format!("done {} {}", l.digest, l.size)));
    }

    // by digest: nothing fetched again
    let again = Recorder::default();
    let by_digest = reference(
        &reg.host(),
        &format!("test/busybox@{}", built.manifest.digest),
    );
    let p2 = pull(
        &client(),
        &store,
        &by_digest,
        &amd64(),
        &PullOptions::default(),
        &again,
    )
    .unwrap();
    assert_eq!(p2.image.manifest_digest, p.image.manifest_digest);
    assert_eq!(p2.image.layers, p.image.layers);
    assert!(
        again.of("started").is_empty(),
        "{:?}",
        again.events.lock().unwrap()
    );
    assert_eq!(again.of("present").len(), 2);

    // a tag the registry lacks: its own error, with the status
    let missing = reference(&reg.host(), "test/busybox:nope");
    let e = pull(
        &client(),
        &store,
        &missing,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Http { status: 404, .. }), "{e}");
    assert!(e.to_string().contains("MANIFEST_UNKNOWN"), "{e}");
}

#[test]
fn uncompressed_layers_are_pulled_as_they_are() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::new(&dir.path().join("layout"));
    let b = l.image(
        "amd64",
        &[
            (busybox_layer(), Comp::None),
            (file_layer("etc/x", b"x"), Comp::None),
        ],
    );
    layout::push_raw(&l, &b, &reg.host(), "test/plain", "v1");
    let (_s, store) = store();
    let r = reference(&reg.host(), "test/plain:v1");
    let p = pull(
        &client(),
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
    for (got, want) in p.image.layers.iter().zip(&b.layers) {
        assert_eq!(got.compression, Compression::None);
        assert_eq!(got.media_type, "application/vnd.oci.image.layer.v1.tar");
        assert_eq!(got.digest.to_string(), want.digest);
        assert!(store.has(&got.digest).unwrap());
    }
    // an uncompressed layer's digest is its diff_id
    assert_eq!(p.image.layers[0].digest.to_string(), b.diff_ids[0]);
}

#[test]
fn the_platform_is_picked_from_an_index() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&dir.path().join("layout"));
    let amd = l.image("amd64", &[(busybox_layer(), Comp::Gzip)]);
    let arm = l.image(
        "arm64",
        &[(file_layer("etc/arch", b"arm64 placeholder\n"), Comp::Gzip)],
    );
    let index = l.index(&[(&amd, "amd64"), (&arm, "arm64")]);
    l.tag("multi", &index);
    layout::push(&l, "multi", &reg.host(), "test/multi", true);
    let (_s, store) = store();
    let r = reference(&reg.host(), "test/multi:multi");
    let c = client();

    let p = pull(
        &c,
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(p.image.manifest_digest.to_string(), amd.manifest.digest);
    let index_digest = p.index_digest.clone().expect("pulled through an index");
    // the reference resolves to the index (what `repo@digest` pulls again)
    assert_eq!(p.reference.digest, Some(index_digest.clone()));
    assert!(store.has(&index_digest).unwrap());

    let p = pull(
        &c,
        &store,
        &r,
        &Platform::parse("linux/arm64").unwrap(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(p.image.manifest_digest.to_string(), arm.manifest.digest);
    assert_eq!(p.image.config.architecture().to_string(), "arm64");

    let e = pull(
        &c,
        &store,
        &r,
        &Platform::parse("linux/s390x").unwrap(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap_err();
    match &e {
        Error::NoPlatform {
            wanted, available, ..
        } => {
            assert_eq!(wanted, "linux/s390x");
            assert_eq!(
                available,
                &vec!["linux/amd64".to_string(), "linux/arm64".to_string()]
            );
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("linux/amd64, linux/arm64"), "{e}");
}

#[test]
fn a_corrupted_blob_is_refused_and_not_kept() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let built = push_standard(&reg, &dir);
    let bad = built.layers[0].digest.clone();
    let target = bad.clone();
    let proxy = Proxy::start(reg.port, move |r| {
        if r.path.ends_with(&format!("/blobs/{target}")) {
            Reply::Corrupt(1000)
        } else {
            Reply::Forward
        }
    });
    let (_s, store) = store();
    let r = reference(&proxy.host(), "test/busybox:v1");
    let e = pull(
        &client(),
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap_err();
    match &e {
        Error::DigestMismatch { digest, got } => {
            assert_eq!(digest.to_string(), bad);
            assert_ne!(got.to_string(), bad);
        }
        other => panic!("want a digest mismatch, got {other}"),
    }
    assert!(e.to_string().contains(&bad), "{e}");
    let d = nook_image::Digest::try_from(bad.as_str()).unwrap();
    assert!(!store.has(&d).unwrap());
    assert!(store.list().unwrap().iter().all(|(x, _)| *x != d));
    assert!(
        ingest_files(&store).is_empty(),
        "{:?}",
        ingest_files(&store)
    );
}

#[test]
fn an_interrupted_pull_resumes_with_a_range_request() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::new(&dir.path().join("layout"));
    // uncompressed, so that the blob is large (about 2 MB)
    let built = l.image("amd64", &[(busybox_layer(), Comp::None)]);
    layout::push_raw(&l, &built, &reg.host(), "test/resume", "v1");
    let big = built.layers[0].clone();
    const CUT: usize = 700_000;
    let cut_once = std::sync::atomic::AtomicBool::new(true);
    let target = big.digest.clone();
    let proxy = Proxy::start(reg.port, move |r| {
        if r.path.ends_with(&format!("/blobs/{target}"))
            && cut_once.swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            Reply::Cut(CUT)
        } else {
            Reply::Forward
        }
    });
    let (_s, store) = store();
    let r = reference(&proxy.host(), "test/resume:v1");
    let no_retry = PullOptions {
        retries: 0,
        ..Default::default()
    };
    let e = pull(&client(), &store, &r, &amd64(), &no_retry, &NoProgress).unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e}");
    let partial = format!("sha256-{}.partial", &big.digest[7..]);
    assert_eq!(ingest_files(&store), vec![partial.clone()]);
    assert_eq!(
        std::fs::metadata(store.root().join("ingest").join(&partial))
            .unwrap()
            .len(),
        CUT as u64
    );

    let progress = Recorder::default();
    let p = pull(&client(), &store, &r, &amd64(), &no_retry, &progress).unwrap();
    assert_eq!(p.image.layers[0].digest.to_string(), big.digest);
    let ranges: Vec<_> = blob_requests(&proxy)
        .iter()
        .filter(|q| q.path.ends_with(&big.digest))
        .map(|q| q.header("Range").map(str::to_string))
        .collect();
    assert_eq!(ranges, vec![None, Some(format!("bytes={CUT}-"))]);
    assert_eq!(
        progress.of("started"),
        vec![format!("started {} {} {CUT}", big.digest, big.size)]
    );
    assert!(store.has(&p.image.layers[0].digest).unwrap());
    assert!(
        ingest_files(&store).is_empty(),
        "{:?}",
        ingest_files(&store)
    );
}

#[test]
fn a_broken_transfer_is_resumed_within_one_pull() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let built = push_standard(&reg, &dir);
    let target = built.layers[0].digest.clone();
    let cut_once = std::sync::atomic::AtomicBool::new(true);
    let proxy = Proxy::start(reg.port, move |r| {
        if r.path.ends_with(&format!("/blobs/{target}"))
            && cut_once.swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            Reply::Cut(100_000)
        } else {
            Reply::Forward
        }
    });
    let (_s, store) = store();
    let r = reference(&proxy.host(), "test/busybox:v1");
    pull(
        &client(),
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
    let ranges: Vec<_> = blob_requests(&proxy)
        .iter()
        .filter_map(|q| q.header("Range").map(str::to_string))
        .collect();
    assert_eq!(ranges, vec!["bytes=100000-".to_string()]);
}

fn auth_file(dir: &tempfile::TempDir, host: &str, user: &str, pass: &str) -> AuthConfig {
    let cfg = AuthConfig::file(dir.path().join("auth.json"));
    cfg.login(
        host,
        &Credentials {
            username: user.into(),
            password: pass.into(),
        },
    )
    .unwrap();
    cfg
}

/// The token server fixture in front of `reg`, for nook:secret.
fn token_proxy(reg: &Registry) -> Proxy {
    common::proxy::token_proxy(reg.port, "nook", "secret")
}

#[test]
fn bearer_tokens_are_fetched_with_credentials_and_cached_per_scope() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let built = push_standard(&reg, &dir);
    let proxy = token_proxy(&reg);
    let (_s, store) = store();
    let r = reference(&proxy.host(), "test/busybox:v1");

    // without credentials the token server says no
    let e = pull(
        &client(),
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e}");

    let c = client_with(auth_file(&dir, &proxy.host(), "nook", "secret"));
    let p = pull(
        &c,
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(p.image.manifest_digest.to_string(), built.manifest.digest);
    let log = proxy.requests();
    let tokens: Vec<_> = log
        .iter()
        .filter(|q| q.path.starts_with("/token"))
        .skip(1)
        .collect();
    // one token for the repository's pull scope, then cached for every request
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(
        tokens[0]
            .path
            .contains("scope=repository%3Atest%2Fbusybox%3Apull"),
        "{}",
        tokens[0].path
    );
    assert!(tokens[0].path.contains("service=fixture"));
    let authorized = log
        .iter()
        .filter(|q| q.header("Authorization") == Some("Bearer T-repository:test/busybox:pull"))
        .count();
    assert!(authorized >= 4, "manifest, config and two layers: {log:?}");

    // a wrong password: an Auth error naming the registry
    let c = client_with(auth_file(
        &tempfile::tempdir().unwrap(),
        &proxy.host(),
        "nook",
        "wrong",
    ));
    let e = pull(
        &c,
        &store,
        &reference(&proxy.host(), "test/busybox:v1"),
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Auth { registry, .. } if *registry == proxy.host()),
        "{e}"
    );
}

#[test]
fn basic_auth_with_an_htpasswd_registry() {
    let reg = Registry::start_with(Some(("nook", "pw")));
    let dir = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&dir.path().join("layout"));
    let b = l.image("amd64", &[(file_layer("etc/x", b"x"), Comp::Gzip)]);
    l.tag("v1", &b.manifest);
    skopeo_copy(
        &format!("oci:{}:v1", l.dir.display()),
        &format!("docker://{}/test/basic:v1", reg.host()),
        &["--dest-creds", "nook:pw"],
    );
    let (_s, store) = store();
    let r = reference(&reg.host(), "test/basic:v1");
    let e = pull(
        &client(),
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e}");
    assert!(e.to_string().contains("log in"), "{e}");
    let c = client_with(auth_file(&dir, &reg.host(), "nook", "pw"));
    let p = pull(
        &c,
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(p.image.manifest_digest.to_string(), b.manifest.digest);
}

#[test]
fn concurrent_pulls_of_one_image_fetch_each_blob_once() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let built = push_standard(&reg, &dir);
    let proxy = Proxy::start(reg.port, |_| Reply::Forward);
    let (_s, store) = store();
    let r = reference(&proxy.host(), "test/busybox:v1");
    let barrier = std::sync::Barrier::new(2);
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    pull(
                        &client(),
                        &store,
                        &r,
                        &amd64(),
                        &PullOptions::default(),
                        &NoProgress,
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for p in results {
        assert_eq!(
            p.unwrap().image.manifest_digest.to_string(),
            built.manifest.digest
        );
    }
    // config and two layers, each fetched by one of the two pulls only
    let mut fetched: Vec<_> = blob_requests(&proxy)
        .iter()
        .map(|q| q.path.rsplit('/').next().unwrap().to_string())
        .collect();
    fetched.sort();
    let mut want: Vec<_> = built
        .layers
        .iter()
        .chain([&built.config])
        .map(|d| d.digest.clone())
        .collect();
    want.sort();
    assert_eq!(fetched, want);
    assert_eq!(
        store.list().unwrap().len(),
        4,
        "manifest, config, two layers"
    );
    assert!(
        ingest_files(&store).is_empty(),
        "{:?}",
        ingest_files(&store)
    );
}

const CHILD_ENV: &str = "NOOK_IMAGE_TEST_CHILD_PULL";

/// Run by `concurrent_pulls_from_two_processes` in a process of its own.
#[test]
#[ignore = "a helper: concurrent_pulls_from_two_processes runs it as a child process"]
fn child_pull() {
    let spec = std::env::var(CHILD_ENV).expect("run by concurrent_pulls_from_two_processes");
    let (reference, root) = spec.split_once(' ').unwrap();
    let store = nook_image::Store::new(root).unwrap();
    let r = Reference::parse(reference).unwrap();
    pull(
        &client(),
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
}

#[test]
fn concurrent_pulls_from_two_processes() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let built = push_standard(&reg, &dir);
    let proxy = Proxy::start(reg.port, |_| Reply::Forward);
    let (_s, store) = store();
    let r = format!("{}/test/busybox:v1", proxy.host());
    let exe = std::env::current_exe().unwrap();
    // both started before either is waited for
    let spawned: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_pull", "--ignored", "--test-threads=1"])
                .env(CHILD_ENV, format!("{r} {}", store.root().display()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in spawned {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(store.list().unwrap().len(), 4);
    assert!(ingest_files(&store).is_empty());
    // each blob was fetched by one process only
    let mut fetched: Vec<_> = blob_requests(&proxy)
        .iter()
        .map(|q| q.path.rsplit('/').next().unwrap().to_string())
        .collect();
    fetched.sort();
    let mut want: Vec<_> = built
        .layers
        .iter()
        .chain([&built.config])
        .map(|d| d.digest.clone())
        .collect();
    want.sort();
    assert_eq!(fetched, want);
}

#[test]
fn a_complete_partial_blob_is_committed_without_fetching() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let built = push_standard(&reg, &dir);
    let proxy = Proxy::start(reg.port, |_| Reply::Forward);
    let (_s, store) = store();
    // an ingest that wrote everything, then stopped before its commit
    let layer = &built.layers[0];
    let data = std::fs::read(
        dir.path()
            .join("layout/blobs/sha256")
            .join(&layer.digest[7..]),
    )
    .unwrap();
    let digest = nook_image::Digest::try_from(layer.digest.as_str()).unwrap();
    match store.ingest(&digest, Some(layer.size)).unwrap() {
        nook_image::store::Ingest::Writer(mut w) => w.write(&data).unwrap(),
        nook_image::store::Ingest::Present(_) => panic!("present"),
    }
    let r = reference(&proxy.host(), "test/busybox:v1");
    pull(
        &client(),
        &store,
        &r,
        &amd64(),
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert!(store.has(&digest).unwrap());
    assert!(
        blob_requests(&proxy)
            .iter()
            .all(|q| !q.path.ends_with(&layer.digest)),
        "{:?}",
        proxy.requests()
    );
}
