//! The `nook` binary against real parts the tests start: Debian's registry
//! on 127.0.0.1 (open, with basic auth, behind a bearer-token server),
//! images built from busybox and pushed with skopeo, podman and skopeo
//! reading what nook saves; each test in its own store root (a temporary
//! directory, removed with everything in it however the test ends).

mod archive;
mod auth;
mod crash;
mod errors;
mod health;
mod isolation;
mod lifecycle;
mod misc;
mod monitor;
mod network;
mod ports;
mod ports_e2e;
mod progress;
mod pull;
mod remove;
mod resources;
mod run;
mod security;
mod stats;
mod terminal;
mod tls;
mod volumes;

use nook_testkit::layout::{self, busybox_layer, file_layer, Built, Comp, Layout};
use nook_testkit::Registry;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A store root and the `nook` binary run on it; its containers' cgroups
/// go below the test's own cgroup (`cgroup_parent`).  On drop its
/// containers, the mounts left below its root and that cgroup are removed.
pub struct Nook {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub cgroup_parent: String,
    /// The network namespace nook's networking lives in (`NOOK_NETNS`):
    /// the test's own, never the host's.
    pub netns: Option<nook_testkit::netns::NetnsFile>,
}

impl Default for Nook {
    fn default() -> Nook {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cgroup_parent = format!("nook-test-{}-{n}", std::process::id());
        let netns = Some(nook_testkit::netns::NetnsFile::create(
            dir.path().join("netns"),
        ));
        Nook {
            dir,
            root,
            cgroup_parent,
            netns,
        }
    }
}

impl Drop for Nook {
    fn drop(&mut self) {
        // every container, then any mount left below the root (deepest
        // first), however the test ended
        if self.root.join("nook.db").exists() {
            self.remove_containers();
        }
        for m in self.mounts().iter().rev() {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        // the (empty by now) parent cgroup in every hierarchy
        for d in cgroup_dirs_named(&self.cgroup_parent) {
            let _ = std::fs::remove_dir(d);
        }
        self.netns.take();
    }
}

/// Every directory named `name` below /sys/fs/cgroup (a few levels deep:
/// the test's own cgroup, the parent, the container).
pub fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, name: &str, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if depth > 0 {
                walk(&p, name, depth - 1, out);
            }
            if e.file_name() == name {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), name, 7, &mut out);
    out
}

impl Nook {
    pub fn new() -> Nook {
        Nook::default()
    }

    /// The test's network namespace file.
    pub fn netns_path(&self) -> &Path {
        self.netns.as_ref().expect("the fixture's netns").path()
    }

    /// `ARGS` (`ip ...`, `nft ...`) run in the test's network namespace.
    pub fn in_netns(&self, args: &[&str]) -> String {
        self.netns.as_ref().expect("the fixture's netns").run(args)
    }

    /// `nook ARGS` on this root, credentials in this test's own file.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nook"));
        c.args(args)
            .env("NOOK_ROOT", &self.root)
            .env("NOOK_CGROUP_PARENT", &self.cgroup_parent)
            .env("NOOK_NETNS", self.netns_path())
            .env("REGISTRY_AUTH_FILE", self.dir.path().join("auth.json"))
            .env("HOME", self.dir.path())
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DOCKER_CONFIG")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// stdout of a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "nook {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// stderr of a command that must fail with 125, checked to be one line.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(125), "nook {args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        assert!(err.starts_with("Error: "), "{err}");
        err
    }

    /// Every container's full id (`ps -aq --no-trunc`, which must succeed).
    pub fn ids(&self) -> Vec<String> {
        self.ok(&["ps", "-aq", "--no-trunc"])
            .lines()
            .map(String::from)
            .collect()
    }

    /// `rm -f` of every container; failures are ignored (for drop guards:
    /// the test may have failed anywhere).
    pub fn remove_containers(&self) {
        let ids = self.run(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.run(&["rm", "-f", id]);
        }
    }

    /// The mount points below this store's root, in mount order.
    pub fn mounts(&self) -> Vec<String> {
        let root = self.root.to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .filter(|m| m.starts_with(&root))
            .collect()
    }

    /// `nook images --format json`, one object per row.
    pub fn images(&self) -> Vec<Value> {
        self.ok(&["images", "--format", "json"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `repository:tag` of every row of `nook images`.
    pub fn names(&self) -> BTreeSet<String> {
        self.images()
            .iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    r["Repository"].as_str().unwrap(),
                    r["Tag"].as_str().unwrap()
                )
            })
            .collect()
    }

    pub fn blobs(&self) -> BTreeSet<String> {
        entries(&self.root.join("blobs/sha256"))
    }

    pub fn layers(&self) -> BTreeSet<String> {
        entries(&self.root.join("storage/layers"))
    }

    /// No orphan: no half-unpacked layer, no partial download, every
    /// unpacked layer and blob used by a recorded image, and every image's
    /// layers and blobs on disk.
    pub fn assert_consistent(&self) {
        assert!(
            entries(&self.root.join("storage/tmp")).is_empty(),
            "storage/tmp left"
        );
        let partial: Vec<_> = entries(&self.root.join("ingest"))
            .into_iter()
            .filter(|e| e.ends_with(".partial") || e.starts_with("tmp-"))
            .collect();
        assert!(partial.is_empty(), "ingest left: {partial:?}");
        let state = nook_state::State::open(self.root.join("nook.db")).unwrap();
        let (mut want_layers, mut want_blobs) = (BTreeSet::new(), BTreeSet::new());
        for image in state.images().unwrap() {
            for l in &image.layers {
                let dir = self.root.join("storage/layers").join(l.chain_id.digest());
                assert!(
                    dir.join("layer.json").is_file(),
                    "{} has no layer {}",
                    image.id,
                    l.chain_id
                );
                want_layers.insert(l.chain_id.digest().to_string());
            }
            for b in &image.blobs {
                want_blobs.insert(b.digest.digest().to_string());
            }
        }
        assert_eq!(self.layers(), want_layers, "unpacked layers no image uses");
        assert_eq!(self.blobs(), want_blobs, "blobs no image uses");
    }
}

/// The names in a directory (none when it is missing).
pub fn entries(dir: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// Two images sharing their busybox layer, pushed to `reg` as
/// `test/a:v1` and `test/b:v1`.
pub struct Pushed {
    pub a: Built,
    pub b: Built,
    _dir: tempfile::TempDir,
}

pub fn push_two(reg: &Registry) -> Pushed {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&dir.path().join("layout"));
    let a = l.image(
        "amd64",
        &[
            (busybox_layer(), Comp::Gzip),
            (file_layer("etc/a", b"a\n"), Comp::Zstd),
        ],
    );
    let b = l.image(
        "amd64",
        &[
            (busybox_layer(), Comp::Gzip),
            (file_layer("etc/b", b"b\n"), Comp::Gzip),
        ],
    );
    l.tag("a", &a.manifest);
    l.tag("b", &b.manifest);
    let src = |t: &str| format!("oci:{}:{t}", l.dir.display());
    nook_testkit::skopeo_copy(
        &src("a"),
        &format!("docker://{}/test/a:v1", reg.host()),
        &[],
    );
    nook_testkit::skopeo_copy(
        &src("b"),
        &format!("docker://{}/test/b:v1", reg.host()),
        &[],
    );
    Pushed { a, b, _dir: dir }
}

/// A short image id from a digest string.
pub fn short(digest: &str) -> String {
    digest.trim_start_matches("sha256:")[..12].to_string()
}

pub use layout::push;
