//! Unpacking single layers: what a good layer becomes on disk, and one
//! test per hostile layer.  Each hostile test unpacks into `T/a/b/layer`,
//! where `../../..` lands on `T`, and with a decoy `/etc` at `T/decoy/etc`
//! that absolute symlinks point at; it asserts the exact one-line error,
//! that the layer directory is gone, and that nothing outside it changed.
//! Runs as root.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{Layer, TestDir};
use nook_storage::{
    unpack, Compression, DevicePolicy, Digest, UnpackOptions, UnpackRequest, Warning,
};
use tar::EntryType;

/// A scene for a hostile layer: canaries where an escape would land.
struct Scene {
    t: TestDir,
    dest: PathBuf,
}

impl Scene {
    fn new(tag: &str) -> Scene {
        let t = TestDir::new(tag);
        std::fs::create_dir_all(t.join("a/b")).unwrap();
        std::fs::create_dir_all(t.join("decoy/etc")).unwrap();
        std::fs::write(t.join("decoy/etc/passwd"), "root:x:0:0:decoy\n").unwrap();
        std::fs::set_permissions(t.join("decoy"), std::fs::Permissions::from_mode(0o751)).unwrap();
        std::fs::write(t.join("canary"), "ORIGINAL").unwrap();
        let dest = t.join("a/b/layer");
        Scene { t, dest }
    }

    fn decoy(&self) -> String {
        self.t.join("decoy").display().to_string()
    }

    /// Unpack `tar` and return the error's text, asserting that it failed,
    /// that the layer directory is gone and that nothing else changed.
    fn refused(&self, tar: &[u8], opts: &UnpackOptions) -> String {
        let before = common::snapshot(&self.t.path);
        let diff = Digest::of(tar);
        let req = UnpackRequest {
            expected_diff_id: Some(&diff),
            ..Default::default()
        };
        let r = unpack(tar, &self.dest, &req, opts);
        let e = r.expect_err("hostile layer unpacked").to_string();
        assert!(!self.dest.exists(), "partial layer left behind");
        assert_eq!(
            common::snapshot(&self.t.path),
            before,
            "something outside the layer changed"
        );
        e.replace(&diff.to_string(), "L")
    }

    /// Unpack `tar` (which must succeed) and assert nothing outside the
    /// layer changed.
    fn accepted(&self, tar: &[u8]) -> nook_storage::Unpacked {
        let outside = |s: &std::collections::BTreeMap<PathBuf, _>| {
            // (the layer's parent directories gain a link: not a change)
            s.keys()
                .filter(|p| !p.starts_with(&self.dest) && !self.dest.starts_with(p))
                .cloned()
                .collect::<Vec<_>>()
        };
        let before = common::snapshot(&self.t.path);
        let up = unpack(
            tar,
            &self.dest,
            &UnpackRequest::default(),
            &UnpackOptions::default(),
        )
        .unwrap();
        let after = common::snapshot(&self.t.path);
        assert_eq!(outside(&after), outside(&before));
        for p in outside(&before) {
            assert_eq!(after[&p], before[&p], "{} changed", p.display());
        }
        up
    }
}

/// Every kind of entry, with set-user-ID and set-group-ID bits, owners,
/// xattrs (a file capability), a read-only directory filled after it is
/// made, and a path that `..` normalises.
fn plain_layer() -> Vec<u8> {
    let mut l = Layer::new();
    l.dir("./", 0o755)
        .dir("ro/", 0o555)
        .file(
            "ro/inside",
            b"filled although the directory is read-only",
            0o444,
        )
        .dir("bin/", 0o755)
        .file("bin/tool", b"#!/bin/sh\n", 0o4755)
        .file("bin/sgid", b"x", 0o2711)
        .symlink("bin/abs", "/etc/passwd")
        .symlink("bin/up", "../../../..")
        .hardlink("bin/tool2", "bin/tool")
        .file("a/../b/implicit", b"normalised", 0o600)
        .device("dev/null", EntryType::Char, 1, 3)
        .device("fifo", EntryType::Fifo, 0, 0)
        .owned(EntryType::Regular, "owned", 0o640, 1234, 5678)
        .owned(EntryType::Directory, "odir/", 0o750, 42, 43)
        .raw(
            EntryType::Regular,
            b"cap",
            b"",
            b"bin",
            0o755,
            &[
                (
                    "security.capability",
                    &[1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                ),
                ("user.nook", b"hello"),
            ],
        );
    l.finish()
}

#[test]
fn a_plain_layer_unpacks_as_it_says() {
    let t = TestDir::new("plain");
    let tar = plain_layer();
    let d = t.join("layer");
    let up = unpack(
        &tar[..],
        &d,
        &UnpackRequest::default(),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(up.diff_id, Digest::of(&tar));
    assert_eq!(up.tar_size, tar.len() as u64);
    assert_eq!(up.compression, Compression::Uncompressed);
    assert!(up.warnings.is_empty(), "{:?}", up.warnings);
    let mode = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap().mode();
    assert_eq!(mode("") & 0o7777, 0o755);
    assert_eq!(mode("ro") & 0o7777, 0o555);
    assert_eq!(
        std::fs::read(d.join("ro/inside")).unwrap(),
        b"filled although the directory is read-only"
    );
    assert_eq!(mode("ro/inside") & 0o7777, 0o444);
    assert_eq!(mode("bin/tool") & 0o7777, 0o4755, "setuid kept");
    assert_eq!(mode("bin/sgid") & 0o7777, 0o2711, "setgid kept");
    assert_eq!(
        std::fs::read_link(d.join("bin/abs")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        std::fs::read_link(d.join("bin/up")).unwrap(),
        Path::new("../../../..")
    );
    let ino = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap().ino();
    assert_eq!(ino("bin/tool"), ino("bin/tool2"));
    assert_eq!(std::fs::read(d.join("b/implicit")).unwrap(), b"normalised");
    assert!(!d.join("a").exists(), "a/../b must not make a/");
    let m = std::fs::symlink_metadata(d.join("dev/null")).unwrap();
    assert!(m.file_type().is_char_device() && m.rdev() == libc::makedev(1, 3));
    assert!(std::fs::symlink_metadata(d.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let o = std::fs::symlink_metadata(d.join("owned")).unwrap();
    assert_eq!((o.uid(), o.gid(), o.mode() & 0o7777), (1234, 5678, 0o640));
    let o = std::fs::symlink_metadata(d.join("odir")).unwrap();
    assert_eq!((o.uid(), o.gid(), o.mode() & 0o7777), (42, 43, 0o750));
    assert_eq!(
        o.mtime(),
        1_600_000_000,
        "directory mtime set after its content"
    );
    assert_eq!(
        std::fs::symlink_metadata(d.join("bin/tool"))
            .unwrap()
            .mtime(),
        1_600_000_000
    );
    assert_eq!(
        common::xattr(&d.join("cap"), "user.nook").unwrap(),
        b"hello"
    );
    assert!(common::xattr(&d.join("cap"), "security.capability").is_some());
}

#[test]
fn blank_numeric_fields_are_zero_and_pax_ids_count() {
    let t = TestDir::new("numeric");
    let mut l = Layer::new();
    // Mode, uid, gid and mtime left blank (NULs, spaces), as some layer
    // writers do: read as 0, as Docker's unpacker reads them.
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..5].copy_from_slice(b"blank");
    h.set_entry_type(EntryType::Regular);
    h.set_size(1);
    let o = h.as_old_mut();
    o.mode = [0; 8];
    o.uid = [b' '; 8];
    o.gid = *b"      \0 ";
    o.mtime = [0; 12];
    h.set_cksum();
    l.header(&h, b"x");
    // Ids over the 21 bits of ustar's octal fields come in PAX records.
    l.pax(&[("uid", b"3000000"), ("gid", b"3000001")])
        .file("big-ids", b"y", 0o640);
    let tar = l.finish();
    let d = t.join("layer");
    let up = unpack(
        &tar[..],
        &d,
        &UnpackRequest::default(),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(up.entries, 2);
    let m = std::fs::symlink_metadata(d.join("blank")).unwrap();
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid(), m.mtime()),
        (0, 0, 0, 0)
    );
    assert_eq!(std::fs::read(d.join("blank")).unwrap(), b"x");
    let m = std::fs::symlink_metadata(d.join("big-ids")).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (3_000_000, 3_000_001, 0o640)
    );
    // A field that is not blank and not a number is still refused.
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..3].copy_from_slice(b"bad");
    h.set_entry_type(EntryType::Regular);
    h.set_size(0);
    h.as_old_mut().uid = *b"12x4567\0";
    h.set_cksum();
    let mut l = Layer::new();
    l.header(&h, b"");
    let e = unpack(
        &l.finish()[..],
        &t.join("bad"),
        &UnpackRequest::default(),
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"layer (unnamed): entry "bad": bad header: numeric field was not a number: 12x4567 when getting uid for bad"#
    );
}

#[test]
fn compressed_layers_and_the_diff_id() {
    let t = TestDir::new("compressed");
    let mut l = Layer::new();
    l.file("f", &vec![7u8; 300_000], 0o644);
    let tar = l.finish();
    let diff = Digest::of(&tar);
    for (i, (data, mt, want)) in [
        (
            common::gzip(&tar),
            Some("application/vnd.oci.image.layer.v1.tar+gzip"),
            Compression::Gzip,
        ),
        (
            common::zstd(&tar),
            Some("application/vnd.oci.image.layer.v1.tar+zstd"),
            Compression::Zstd,
        ),
        // Sniffed without a media type, and despite a wrong one.
        (common::gzip(&tar), None, Compression::Gzip),
        (
            common::zstd(&tar),
            Some("application/vnd.oci.image.layer.v1.tar"),
            Compression::Zstd,
        ),
        (
            tar.clone(),
            Some("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Compression::Uncompressed,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let d = t.join(&format!("l{i}"));
        let req = UnpackRequest {
            media_type: mt,
            expected_diff_id: Some(&diff),
            name: None,
        };
        let up = unpack(&data[..], &d, &req, &UnpackOptions::default()).unwrap();
        assert_eq!((up.diff_id, up.compression), (diff, want), "case {i}");
        assert_eq!(std::fs::read(d.join("f")).unwrap().len(), 300_000);
    }
    // A wrong expected diff id: refused, nothing left.
    let other = Digest::of(b"other");
    let req = UnpackRequest {
        expected_diff_id: Some(&other),
        name: Some("blob-x"),
        ..Default::default()
    };
    let e = unpack(&tar[..], &t.join("bad"), &req, &UnpackOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("layer blob-x: diff id is {diff}, expected {other}")
    );
    assert!(!t.join("bad").exists());
    // Padding after the end-of-archive blocks counts in the diff id.
    let mut padded = tar.clone();
    padded.extend_from_slice(&[0u8; 8192]);
    let up = unpack(
        &padded[..],
        &t.join("padded"),
        &UnpackRequest::default(),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(up.diff_id, Digest::of(&padded));
    // Garbage: neither tar nor a known compression.
    let e = unpack(
        &b"hello world"[..],
        &t.join("junk"),
        &UnpackRequest::default(),
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "layer (unnamed): not a tar, gzip or zstd stream (media type none)"
    );
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let t = TestDir::new("whiteouts");
    let mut l = Layer::new();
    l.dir("etc/", 0o755)
        .file("etc/.wh.passwd", b"", 0o644)
        .dir("usr/share/", 0o755)
        .file("usr/share/.wh..wh..opq", b"", 0o644)
        .file("usr/share/new", b"n", 0o644)
        .file(".wh..wh.plnk", b"", 0o644)
        // A whiteout of something this same layer has: the entry stays.
        .file("keep", b"k", 0o644)
        .file(".wh.keep", b"", 0o644);
    let tar = l.finish();
    let d = t.join("layer");
    unpack(
        &tar[..],
        &d,
        &UnpackRequest::default(),
        &UnpackOptions::default(),
    )
    .unwrap();
    let m = std::fs::symlink_metadata(d.join("etc/passwd")).unwrap();
    assert!(
        m.file_type().is_char_device() && m.rdev() == 0,
        "whiteout is a 0:0 char device"
    );
    assert!(!d.join("etc/.wh.passwd").exists());
    assert_eq!(
        common::xattr(&d.join("usr/share"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(!d.join("usr/share/.wh..wh..opq").exists());
    assert!(!d.join(".wh..wh.plnk").exists());
    assert_eq!(std::fs::read(d.join("keep")).unwrap(), b"k");
    // The userxattr variant.
    let opts = UnpackOptions {
        overlay_xattrs: nook_storage::OverlayXattrs::User,
        ..Default::default()
    };
    let d2 = t.join("user");
    unpack(&tar[..], &d2, &UnpackRequest::default(), &opts).unwrap();
    assert_eq!(
        common::xattr(&d2.join("usr/share"), "user.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(common::xattr(&d2.join("usr/share"), "trusted.overlay.opaque").is_none());
}

#[test]
fn overlay_xattrs_from_the_image_are_dropped() {
    let t = TestDir::new("ovlxattr");
    let mut l = Layer::new();
    l.raw(
        EntryType::Directory,
        b"d/",
        b"",
        b"",
        0o755,
        &[("trusted.overlay.redirect", b"/etc")],
    );
    let tar = l.finish();
    let up = unpack(
        &tar[..],
        &t.join("l"),
        &UnpackRequest::default(),
        &UnpackOptions::default(),
    )
    .unwrap();
    assert!(common::xattr(&t.join("l/d"), "trusted.overlay.redirect").is_none());
    assert_eq!(
        up.warnings,
        vec![Warning::OverlayXattrIgnored {
            entry: "d".into(),
            name: "trusted.overlay.redirect".into()
        }]
    );
}

#[test]
fn dotdot_path_is_refused() {
    let s = Scene::new("dotdot");
    let mut l = Layer::new();
    l.file("ok", b"fine", 0o644)
        .file("../../../canary", b"PWNED", 0o644);
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        r#"layer L: entry "../../../canary": path leaves the layer"#
    );
    assert_eq!(std::fs::read(s.t.join("canary")).unwrap(), b"ORIGINAL");
}

/// Counts what is read through it.
struct Counted<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

#[test]
fn a_refused_layer_is_not_read_to_its_end() {
    // A hostile entry, then a 4 GiB file: the refusal stops the reading
    // (the stream is read on the caller's thread, the entries made on
    // another) within a few MiB.
    use std::io::Read;
    let s = Scene::new("stop");
    let mut l = Layer::new();
    l.file("../../../canary", b"PWNED", 0o644);
    let mut head = l.finish();
    head.truncate(head.len() - 1024); // no end-of-archive blocks
    let mut h = tar::Header::new_ustar();
    h.set_path("big").unwrap();
    h.set_size(4 << 30);
    h.set_mode(0o644);
    h.set_cksum();
    head.extend_from_slice(h.as_bytes());
    let read = std::rc::Rc::new(std::cell::Cell::new(0));
    let src = Counted {
        inner: std::io::Cursor::new(head).chain(std::io::repeat(0).take(4 << 30)),
        read: read.clone(),
    };
    let e = unpack(
        src,
        &s.dest,
        &UnpackRequest::default(),
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"layer (unnamed): entry "../../../canary": path leaves the layer"#
    );
    assert!(read.get() < 16 << 20, "{} bytes read", read.get());
    assert!(!s.dest.exists());
}

#[test]
fn absolute_path_is_refused() {
    let s = Scene::new("abs");
    let target = format!("{}/etc/passwd", s.decoy());
    let mut l = Layer::new();
    l.file(&target, b"PWNED", 0o644);
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(e, format!(r#"layer L: entry "{target}": absolute path"#));
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let s = Scene::new("through");
    let mut l = Layer::new();
    l.symlink("a", &format!("{}/etc", s.decoy()))
        .file("a/passwd", b"PWNED", 0o644);
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        r#"layer L: entry "a/passwd": path goes through a symlink"#
    );
    // The same with a new file in a directory below the link.
    let mut l = Layer::new();
    l.symlink("a", &format!("{}/etc", s.decoy()))
        .file("a/sub/new", b"PWNED", 0o644);
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        r#"layer L: entry "a/sub/new": path goes through a symlink"#
    );
}

#[test]
fn symlink_to_dotdot_is_not_followed() {
    let s = Scene::new("updir");
    let mut l = Layer::new();
    l.symlink("up", "..").file("up/up/escaped", b"PWNED", 0o644);
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        r#"layer L: entry "up/up/escaped": path goes through a symlink"#
    );
    let mut l = Layer::new();
    l.symlink("up", "../../..").dir("up/made/", 0o755);
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        r#"layer L: entry "up/made/": path goes through a symlink"#
    );
}

#[test]
fn hardlink_out_of_the_layer_is_refused() {
    let s = Scene::new("hardout");
    let mut l = Layer::new();
    l.hardlink("h", "../../../canary");
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        r#"layer L: entry "h": hard link target "../../../canary" leaves the layer"#
    );
    let target = format!("{}/etc/passwd", s.decoy());
    let mut l = Layer::new();
    l.hardlink("h", &target);
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        format!(r#"layer L: entry "h": hard link target "{target}" leaves the layer"#)
    );
    // snapshot() compares link counts: no new link to the decoy appeared.
}

#[test]
fn hardlink_through_a_symlink_is_refused() {
    let s = Scene::new("hardsym");
    let mut l = Layer::new();
    l.symlink("s", &format!("{}/etc", s.decoy()))
        .hardlink("h", "s/passwd");
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        r#"layer L: entry "h": hard link target "s/passwd" goes through a symlink"#
    );
    let mut l = Layer::new();
    l.symlink("up", "../../..").hardlink("h", "up/canary");
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        r#"layer L: entry "h": hard link target "up/canary" goes through a symlink"#
    );
}

#[test]
fn duplicate_entries_replace_and_never_write_through() {
    // A later entry replaces an earlier one (tar semantics), and the old
    // one is unlinked, not opened: a symlink to the decoy's passwd, then a
    // regular file of the same name, must not touch the decoy.
    let s = Scene::new("dup");
    let mut l = Layer::new();
    l.symlink("f", &format!("{}/etc/passwd", s.decoy()))
        .file("f", b"NEW", 0o644)
        .file("g", b"first", 0o644)
        .file("g", b"second", 0o600)
        .dir("d/", 0o700)
        .file("d/x", b"x", 0o644)
        .dir("d/", 0o750)
        .file("h", b"data", 0o644)
        .hardlink("h2", "h")
        .file("h", b"replaced", 0o644);
    s.accepted(&l.finish());
    let d = &s.dest;
    assert!(std::fs::symlink_metadata(d.join("f")).unwrap().is_file());
    assert_eq!(std::fs::read(d.join("f")).unwrap(), b"NEW");
    assert_eq!(std::fs::read(d.join("g")).unwrap(), b"second");
    assert_eq!(
        std::fs::metadata(d.join("g")).unwrap().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read(d.join("d/x")).unwrap(),
        b"x",
        "a directory over a directory merges"
    );
    assert_eq!(
        std::fs::metadata(d.join("d")).unwrap().mode() & 0o777,
        0o750
    );
    assert_eq!(
        std::fs::read(d.join("h2")).unwrap(),
        b"data",
        "a replaced file's hard link keeps its data"
    );
    assert_eq!(std::fs::read(d.join("h")).unwrap(), b"replaced");
}

#[test]
fn file_replacing_directory_and_back() {
    // A directory replaced by a symlink to the decoy: its delayed
    // chmod/utime must not reach the decoy (it would turn 0751 into 0777).
    let s = Scene::new("replace");
    let mut l = Layer::new();
    l.dir("d/", 0o777)
        .file("d/x", b"x", 0o644)
        .symlink("d", &s.decoy())
        .dir("e/", 0o755)
        .dir("e/sub/", 0o755)
        .file("e", b"now a file", 0o644)
        .file("f", b"a file", 0o644)
        .dir("f/", 0o711)
        .file("f/inside", b"in", 0o644);
    s.accepted(&l.finish());
    let d = &s.dest;
    assert_eq!(std::fs::read_link(d.join("d")).unwrap(), s.t.join("decoy"));
    assert_eq!(
        std::fs::symlink_metadata(s.t.join("decoy")).unwrap().mode() & 0o7777,
        0o751
    );
    assert_eq!(std::fs::read(d.join("e")).unwrap(), b"now a file");
    assert_eq!(
        std::fs::symlink_metadata(d.join("f")).unwrap().mode() & 0o7777,
        0o711
    );
    assert_eq!(std::fs::read(d.join("f/inside")).unwrap(), b"in");
}

#[test]
fn extremely_long_names_are_refused() {
    let s = Scene::new("long");
    let long = "x".repeat(5000);
    let mut l = Layer::new();
    l.file(&long, b"data", 0o644);
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        format!(
            r#"layer L: entry "{}…(5000 bytes)": name too long"#,
            "x".repeat(200)
        )
    );
    let comp = format!("d/{}", "y".repeat(256));
    let mut l = Layer::new();
    l.file(&comp, b"data", 0o644);
    let e = s.refused(&l.finish(), &UnpackOptions::default());
    assert_eq!(
        e,
        format!(
            r#"layer L: entry "{}…(258 bytes)": name too long"#,
            &comp[..200]
        )
    );
    // Deep but within PATH_MAX: fine.
    let deep = "d/".repeat(1000) + "f";
    let mut l = Layer::new();
    l.file(&deep, b"deep", 0o644);
    s.accepted(&l.finish());
    assert_eq!(std::fs::read(s.dest.join(&deep)).unwrap(), b"deep");
}

#[test]
fn device_nodes_follow_the_policy() {
    let s = Scene::new("devices");
    let mut l = Layer::new();
    l.device("dev/sda", EntryType::Block, 8, 0)
        .device("dev/mem", EntryType::Char, 1, 1);
    let tar = l.finish();
    let refuse = UnpackOptions {
        devices: DevicePolicy::Refuse,
        ..Default::default()
    };
    let e = s.refused(&tar, &refuse);
    assert_eq!(e, r#"layer L: entry "dev/sda": device node refused"#);
    let skip = UnpackOptions {
        devices: DevicePolicy::Skip,
        ..Default::default()
    };
    let up = unpack(&tar[..], &s.dest, &UnpackRequest::default(), &skip).unwrap();
    assert!(!s.dest.join("dev/sda").exists() && !s.dest.join("dev/mem").exists());
    assert_eq!(up.warnings.len(), 2);
    assert_eq!(
        up.warnings[0].to_string(),
        r#"entry "dev/sda": device node skipped (devices: skip)"#
    );
}

/// Run only as the child of `rootless_device_nodes_are_skipped`, inside a
/// user namespace where the kernel refuses device nodes.
#[test]
fn rootless_child() {
    let Ok(dest) = std::env::var("NOOK_STORAGE_ROOTLESS_DEST") else {
        return;
    };
    let mut l = Layer::new();
    l.device("dev/null", EntryType::Char, 1, 3)
        .device("dev/zero", EntryType::Char, 1, 5)
        .file("etc/.wh.gone", b"", 0o644)
        .file("etc/ok", b"ok", 0o644);
    let tar = l.finish();
    let up = unpack(
        &tar[..],
        Path::new(&dest),
        &UnpackRequest::default(),
        &UnpackOptions::default(),
    )
    .unwrap();
    for w in &up.warnings {
        println!("WARNING {w}");
    }
}

#[test]
fn rootless_device_nodes_are_skipped() {
    let t = TestDir::new("rootless");
    let dest = t.join("layer");
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "rootless_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("NOOK_STORAGE_ROOTLESS_DEST", &dest)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(r#"WARNING entry "dev/null": device node skipped (not permitted)"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"WARNING entry "dev/zero": device node skipped (not permitted)"#),
        "{stdout}"
    );
    assert!(!dest.join("dev/null").exists());
    let m = std::fs::symlink_metadata(dest.join("etc/gone")).unwrap();
    assert!(
        m.file_type().is_char_device() && m.rdev() == 0,
        "whiteouts are allowed rootless"
    );
    assert_eq!(std::fs::read(dest.join("etc/ok")).unwrap(), b"ok");
}
