//! Containers' root file systems: a 3-layer busybox image with whiteouts
//! and an opaque directory, mounted as overlayfs, checked from the host and
//! from busybox running chrooted inside; and an image of 128 layers.  Runs
//! as root; every mount is detached by the TestDir guard even on failure.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::{Layer, TestDir};
use nook_storage::{chain_ids, Digest, MountOptions, Rootfs, Store, UnpackRequest};

/// Unpack `layers` (bottom first) into `store`; their chain ids, top first.
fn image(store: &Store, layers: &[Vec<u8>]) -> Vec<Digest> {
    let diffs: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let chains = chain_ids(&diffs);
    for (i, l) in layers.iter().enumerate() {
        let parent = i.checked_sub(1).map(|p| &chains[p]);
        let req = UnpackRequest {
            expected_diff_id: Some(&diffs[i]),
            media_type: Some("application/vnd.oci.image.layer.v1.tar+gzip"),
            name: None,
        };
        let up = store.unpack(parent, &req, &common::gzip(l)[..]).unwrap();
        assert_eq!(up.layer.chain_id, chains[i]);
    }
    chains.into_iter().rev().collect()
}

/// busybox's base, then a layer that shadows, deletes and makes a
/// directory opaque, then one that deletes a whole directory.
fn busybox_layers() -> Vec<Vec<u8>> {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    let mut base = Layer::new();
    base.dir("bin/", 0o755).file("bin/busybox", &busybox, 0o755);
    for tool in ["sh", "ls", "cat", "echo", "test"] {
        base.symlink(&format!("bin/{tool}"), "busybox");
    }
    base.dir("etc/", 0o755)
        .file("etc/motd", b"base\n", 0o644)
        .file("etc/removeme", b"x\n", 0o644)
        .dir("usr/share/doc/", 0o755)
        .file("usr/share/doc/a", b"a", 0o644)
        .file("usr/share/doc/b", b"b", 0o644)
        .dir("opt/", 0o755)
        .file("opt/keep", b"k", 0o644)
        .dir("tmp/", 0o1777);
    let mut mid = Layer::new();
    mid.dir("etc/", 0o755)
        .file("etc/motd", b"middle\n", 0o644)
        .file("etc/.wh.removeme", b"", 0o644)
        .dir("usr/share/doc/", 0o755)
        .file("usr/share/doc/.wh..wh..opq", b"", 0o644)
        .file("usr/share/doc/c", b"c", 0o644);
    let mut top = Layer::new();
    top.dir("etc/", 0o755)
        .file("etc/motd", b"top\n", 0o644)
        .file(".wh.opt", b"", 0o644);
    vec![base.finish(), mid.finish(), top.finish()]
}

/// Unmounts on drop, for a rootfs a test mounted (TestDir detaches what
/// is left as well).
struct Mounted(std::path::PathBuf);

impl Mounted {
    fn new(r: &Rootfs) -> Mounted {
        Mounted(r.merged())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        common::detach(&self.0);
    }
}

/// Run busybox's `sh -c script` chrooted into `root`.
fn run_inside(root: &Path, script: &str) -> String {
    let root = std::ffi::CString::new(root.as_os_str().as_encoded_bytes()).unwrap();
    let mut c = Command::new("/bin/busybox");
    c.args(["sh", "-c", script]);
    // SAFETY: chroot and chdir are async-signal-safe; the C string was made
    // before the fork.
    unsafe {
        c.pre_exec(move || {
            if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn a_busybox_image_mounts_as_a_container_sees_it() {
    let t = TestDir::new("rootfs-busybox");
    let store = Store::open(&t.join("store")).unwrap();
    let lowers = image(&store, &busybox_layers());
    let id = format!("bb-{}", std::process::id());
    let r = store.prepare_rootfs(&id, &lowers).unwrap();
    assert_eq!(r.chain_ids(), &lowers[..]);
    r.mount(&MountOptions::default()).unwrap();
    let _guard = Mounted::new(&r);
    assert!(r.is_mounted().unwrap());
    let m = r.merged();
    // From the host: upper layers shadow, whiteouts hide, opaque hides.
    assert_eq!(std::fs::read(m.join("etc/motd")).unwrap(), b"top\n");
    assert!(!m.join("etc/removeme").exists());
    let mut doc: Vec<_> = std::fs::read_dir(m.join("usr/share/doc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    doc.sort();
    assert_eq!(doc, ["c"]);
    assert!(!m.join("opt").exists());
    assert_eq!(
        std::fs::metadata(m.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    // From inside: busybox sees the same, and writes.
    let out = run_inside(
        &m,
        "cat /etc/motd; ls /usr/share/doc; test -e /etc/removeme || echo removed; \
         test -e /opt || echo no-opt; echo hello > /newfile; echo changed > /etc/motd; \
         rm /usr/share/doc/c",
    );
    assert_eq!(out, "top\nc\nremoved\nno-opt\n");
    // Writes land in the upper directory; the layers do not change.
    assert_eq!(
        std::fs::read(r.upper().join("newfile")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        std::fs::read(r.upper().join("etc/motd")).unwrap(),
        b"changed\n"
    );
    let doc_c = std::fs::symlink_metadata(r.upper().join("usr/share/doc/c")).unwrap();
    assert_eq!(
        doc_c.rdev(),
        0,
        "a deletion is a whiteout in the upper directory"
    );
    let diffs: Vec<_> = lowers.iter().map(|c| store.diff_path(c)).collect();
    assert_eq!(std::fs::read(diffs[0].join("etc/motd")).unwrap(), b"top\n");
    assert_eq!(std::fs::read(diffs[2].join("etc/motd")).unwrap(), b"base\n");
    assert_eq!(
        std::fs::read(diffs[1].join("usr/share/doc/c")).unwrap(),
        b"c"
    );
    assert!(diffs.iter().all(|d| !d.join("newfile").exists()));
    assert!(r.upper_usage().unwrap() > 0);
    // Unmount, remount: the changes persist; remove: gone, layers stay.
    r.unmount().unwrap();
    assert!(!r.is_mounted().unwrap());
    r.mount(&MountOptions::default()).unwrap();
    assert_eq!(std::fs::read(m.join("newfile")).unwrap(), b"hello\n");
    let dir = store.root().join("containers").join(&id);
    store.rootfs(&id).unwrap().remove(&store).unwrap();
    assert!(!dir.exists(), "upper and work are removed");
    assert!(common::mounts_below(&t.path).is_empty(), "remove unmounts");
    assert!(lowers.iter().all(|c| store.exists(c)));
    assert!(std::fs::read_dir(store.root().join("tmp"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn a_single_layer_image_still_writes_to_the_upper_directory() {
    let t = TestDir::new("rootfs-single");
    let store = Store::open(&t.join("store")).unwrap();
    let mut l = Layer::new();
    l.file("f", b"layer", 0o644);
    let lowers = image(&store, &[l.finish()]);
    let r = store.prepare_rootfs("single", &lowers).unwrap();
    r.mount(&MountOptions::default()).unwrap();
    let _guard = Mounted::new(&r);
    std::fs::write(r.merged().join("f"), "container").unwrap();
    assert_eq!(
        std::fs::read(store.diff_path(&lowers[0]).join("f")).unwrap(),
        b"layer"
    );
    assert_eq!(std::fs::read(r.upper().join("f")).unwrap(), b"container");
    // No layers at all (an empty image) mounts too.
    let e = store.prepare_rootfs("empty", &[]).unwrap();
    e.mount(&MountOptions::default()).unwrap();
    let _guard2 = Mounted::new(&e);
    assert_eq!(std::fs::read_dir(e.merged()).unwrap().count(), 0);
    std::fs::write(e.merged().join("x"), "y").unwrap();
    assert!(e.upper().join("x").exists());
    // Same id twice: refused.
    let err = store.prepare_rootfs("single", &lowers).unwrap_err();
    assert_eq!(err.to_string(), "container single: root file system exists");
    let err = store.prepare_rootfs("../x", &lowers).unwrap_err();
    assert!(
        err.to_string().starts_with("container id \"../x\""),
        "{err}"
    );
}

#[test]
fn an_image_of_128_layers_mounts() {
    let t = TestDir::new("rootfs-128");
    let store = Store::open(&t.join("store")).unwrap();
    let layers: Vec<Vec<u8>> = (0..128)
        .map(|i| {
            let mut l = Layer::new();
            l.file(&format!("f{i}"), format!("{i}").as_bytes(), 0o644)
                .file("which", format!("{i}").as_bytes(), 0o644);
            l.finish()
        })
        .collect();
    let lowers = image(&store, &layers);
    // The lower directories' paths alone are far over one page of classic
    // mount data.
    let classic: usize = lowers
        .iter()
        .map(|c| store.diff_path(c).as_os_str().len() + 1)
        .sum();
    assert!(classic > 4096, "{classic}");
    for (id, legacy) in [("many-new", false), ("many-legacy", true)] {
        let r = store.prepare_rootfs(id, &lowers).unwrap();
        let opts = MountOptions {
            legacy_mount_api: legacy,
            ..Default::default()
        };
        r.mount(&opts).unwrap();
        let _guard = Mounted::new(&r);
        let m = r.merged();
        assert_eq!(
            std::fs::read(m.join("which")).unwrap(),
            b"127",
            "top layer first"
        );
        for i in 0..128 {
            assert_eq!(
                std::fs::read(m.join(format!("f{i}"))).unwrap(),
                format!("{i}").as_bytes()
            );
        }
        r.remove(&store).unwrap();
    }
}

#[test]
fn a_long_store_path_mounts() {
    // fsconfig strings stop at 256 bytes: longer directories are passed by
    // descriptor.
    let t = TestDir::new("rootfs-longpath");
    let deep = t.path.join("x".repeat(120)).join("y".repeat(120));
    let store = Store::open(&deep).unwrap();
    let mut l = Layer::new();
    l.file("f", b"deep", 0o644);
    let lowers = image(&store, &[l.finish()]);
    assert!(store.diff_path(&lowers[0]).as_os_str().len() > 256);
    let r = store.prepare_rootfs("deep", &lowers).unwrap();
    r.mount(&MountOptions::default()).unwrap();
    let _guard = Mounted::new(&r);
    assert_eq!(std::fs::read(r.merged().join("f")).unwrap(), b"deep");
    std::fs::set_permissions(r.merged().join("f"), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        std::fs::metadata(store.diff_path(&lowers[0]).join("f"))
            .unwrap()
            .mode()
            & 0o777,
        0o644
    );
}
