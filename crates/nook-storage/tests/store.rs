//! The layer store: one copy per chain id whatever the concurrency, nothing
//! half-unpacked ever visible, and what an interrupted unpack leaves is
//! only a tmp directory that cleanup() removes.  Runs as root.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Layer, TestDir};
use nook_storage::{chain_id, Digest, Store, StoreError, UnpackRequest};

/// A layer of `n` files of 64 KiB, different per `seed`.
fn layer(seed: u8, n: usize) -> Vec<u8> {
    let mut l = Layer::new();
    l.dir("data/", 0o755);
    for i in 0..n {
        l.file(
            &format!("data/f{i}"),
            &vec![seed.wrapping_add(i as u8); 65536],
            0o644,
        );
    }
    l.finish()
}

fn tmp_entries(store: &Store) -> Vec<String> {
    std::fs::read_dir(store.root().join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn req(diff: Option<&Digest>) -> UnpackRequest<'_> {
    UnpackRequest {
        expected_diff_id: diff,
        ..Default::default()
    }
}

#[test]
fn unpack_get_list_remove() {
    let t = TestDir::new("store-basic");
    let store = Store::open(&t.join("store")).unwrap();
    let (a, b) = (layer(1, 3), layer(2, 2));
    let (da, db) = (Digest::of(&a), Digest::of(&b));
    let ua = store.unpack(None, &req(Some(&da)), &a[..]).unwrap();
    assert!(ua.created);
    assert_eq!(ua.layer.chain_id, da);
    let ub = store
        .unpack(Some(&da), &req(None), &common::gzip(&b)[..])
        .unwrap();
    let cb = chain_id(Some(&da), &db);
    assert_eq!(
        (ub.layer.chain_id, ub.layer.diff_id, ub.layer.parent),
        (cb, db, Some(da))
    );
    assert_eq!(
        ub.layer.path,
        store.root().join("layers").join(cb.hex()).join("diff")
    );
    assert_eq!(
        std::fs::read(ub.layer.path.join("data/f1")).unwrap(),
        vec![3u8; 65536]
    );
    assert_eq!(store.get(&cb).unwrap(), ub.layer);
    assert_eq!(store.list().unwrap().len(), 2);
    assert!(store.disk_usage(&cb).unwrap() >= 2 * 65536);
    // Known: not read again (an empty reader would fail to unpack).
    let again = store.unpack(None, &req(Some(&da)), &b""[..]).unwrap();
    assert!(!again.created);
    store.remove(&da).unwrap();
    assert!(!store.exists(&da) && store.exists(&cb));
    let e = store.remove(&da).unwrap_err();
    assert_eq!(e.to_string(), format!("layer {da}: not in the store"));
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn two_threads_unpacking_one_layer_make_one_copy() {
    let t = TestDir::new("store-threads");
    let store = Store::open(&t.join("store")).unwrap();
    let tar = layer(7, 64);
    let diff = Digest::of(&tar);
    // With and without a known diff id (locked up front, or the loser of
    // the final rename discards its copy).
    for known in [true, false] {
        let results: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let d = known.then_some(&diff);
                        store.unpack(None, &req(d), &tar[..]).unwrap()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let created = results.iter().filter(|u| u.created).count();
        assert_eq!(created, 1, "{created} copies made");
        assert_eq!(results[0].layer, results[1].layer);
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(tmp_entries(&store).is_empty(), "{:?}", tmp_entries(&store));
        store.remove(&diff).unwrap();
    }
}

/// The child's part of the multi-process tests: unpack stdin into the
/// store named by the environment, print whether it created the layer.
#[test]
fn store_child() {
    let Ok(root) = std::env::var("NOOK_STORAGE_CHILD_ROOT") else {
        return;
    };
    let store = Store::open(Path::new(&root)).unwrap();
    let diff: Option<Digest> = std::env::var("NOOK_STORAGE_CHILD_DIFF")
        .ok()
        .map(|d| d.parse().unwrap());
    let mut read = 0u64;
    let stdin = Counting {
        inner: std::io::stdin().lock(),
        read: &mut read,
    };
    let up = store.unpack(None, &req(diff.as_ref()), stdin).unwrap();
    println!("CREATED={} READ={read}", up.created);
}

/// Counts the bytes read through it.
struct Counting<'a, R> {
    inner: R,
    read: &'a mut u64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.read += n as u64;
        Ok(n)
    }
}

fn child(root: &Path, diff: Option<&Digest>) -> std::process::Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "store_child", "--nocapture", "--test-threads=1"])
        .env("NOOK_STORAGE_CHILD_ROOT", root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = diff {
        c.env("NOOK_STORAGE_CHILD_DIFF", d.to_string());
    }
    c.spawn().unwrap()
}

#[test]
fn two_processes_unpacking_one_layer_make_one_copy() {
    let t = TestDir::new("store-procs");
    let root = t.join("store");
    let store = Store::open(&root).unwrap();
    let tar = layer(9, 160);
    let diff = Digest::of(&tar);
    for known in [true, false] {
        let kids: Vec<_> = (0..2)
            .map(|_| child(&root, known.then_some(&diff)))
            .collect();
        // Each child is fed by its own thread, so both run at once; the
        // second of a known diff id waits on the lock, then finds the layer
        // and stops reading (its feeder then gets a broken pipe).
        let outs: Vec<String> = std::thread::scope(|s| {
            let hs: Vec<_> = kids
                .into_iter()
                .map(|mut k| {
                    let tar = &tar;
                    s.spawn(move || {
                        let mut stdin = k.stdin.take().unwrap();
                        let _ = stdin.write_all(tar);
                        drop(stdin);
                        k.wait_with_output().unwrap()
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
        .into_iter()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout).into_owned();
            assert!(
                o.status.success(),
                "{s}{}",
                String::from_utf8_lossy(&o.stderr)
            );
            s
        })
        .collect();
        let created = outs.iter().filter(|o| o.contains("CREATED=true")).count();
        assert_eq!(created, 1, "{outs:?}");
        if known {
            // The second waited for the first's lock, found the layer and
            // read nothing.
            let winner = format!("CREATED=true READ={}", tar.len());
            assert!(outs.iter().any(|o| o.contains(&winner)), "{outs:?}");
            assert!(
                outs.iter().any(|o| o.contains("CREATED=false READ=0\n")),
                "{outs:?}"
            );
        }
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(tmp_entries(&store).is_empty());
        store.remove(&diff).unwrap();
    }
}

/// A reader that fails after `left` bytes, like a dropped connection.
struct Broken<'a> {
    data: &'a [u8],
    left: usize,
}

impl Read for Broken<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection dropped",
            ));
        }
        let n = buf.len().min(self.left).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn a_broken_stream_leaves_nothing() {
    let t = TestDir::new("store-broken");
    let store = Store::open(&t.join("store")).unwrap();
    let tar = layer(3, 32);
    let diff = Digest::of(&tar);
    let r = Broken {
        data: &tar,
        left: tar.len() / 2,
    };
    let e = store.unpack(None, &req(Some(&diff)), r).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("layer {diff}: reading the layer stream: connection dropped")
    );
    assert!(!store.exists(&diff));
    assert!(store.list().unwrap().is_empty());
    assert!(tmp_entries(&store).is_empty());
    // A truncated stream (EOF mid-entry) is an error too, not a short layer.
    let e = store
        .unpack(None, &req(None), &tar[..tar.len() / 2])
        .unwrap_err();
    assert!(matches!(e, StoreError::Unpack(_)), "{e}");
    assert!(store.list().unwrap().is_empty() && tmp_entries(&store).is_empty());
}

#[test]
fn a_killed_unpack_leaves_only_tmp_which_cleanup_removes() {
    let t = TestDir::new("store-killed");
    let root = t.join("store");
    let store = Store::open(&root).unwrap();
    let tar = layer(5, 64);
    let diff = Digest::of(&tar);
    let mut k = child(&root, Some(&diff));
    k.stdin
        .as_mut()
        .unwrap()
        .write_all(&tar[..tar.len() / 2])
        .unwrap();
    // Wait until the child is well into the unpack.
    let t0 = Instant::now();
    let files = |s: &Store| -> usize {
        tmp_entries(s)
            .iter()
            .map(|e| {
                std::fs::read_dir(s.root().join("tmp").join(e).join("diff/data"))
                    .map_or(0, |d| d.count())
            })
            .sum()
    };
    while files(&store) < 10 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "child made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Alive: its tmp dir is locked and cleanup leaves it alone.
    assert!(store.cleanup().unwrap().is_empty());
    assert_eq!(tmp_entries(&store).len(), 1);
    k.kill().unwrap();
    k.wait().unwrap();
    assert!(!store.exists(&diff), "a half-unpacked layer is visible");
    assert!(store.list().unwrap().is_empty());
    assert_eq!(tmp_entries(&store).len(), 1);
    assert_eq!(store.cleanup().unwrap().len(), 1);
    assert!(tmp_entries(&store).is_empty());
    // And the layer unpacks fine afterwards.
    assert!(
        store
            .unpack(None, &req(Some(&diff)), &tar[..])
            .unwrap()
            .created
    );
}

#[test]
fn a_layer_in_use_is_not_removed() {
    let t = TestDir::new("store-inuse");
    let store = Store::open(&t.join("store")).unwrap();
    let tar = layer(1, 1);
    let diff = Digest::of(&tar);
    store.unpack(None, &req(Some(&diff)), &tar[..]).unwrap();
    let r = store.prepare_rootfs("user1", &[diff]).unwrap();
    let e = store.remove(&diff).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("layer {diff}: in use by container user1")
    );
    r.remove(&store).unwrap();
    store.remove(&diff).unwrap();
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn layers_no_image_or_container_uses_are_removed() {
    let t = TestDir::new("store-unused");
    let store = Store::open(&t.join("store")).unwrap();
    let (a, b, c) = (layer(1, 1), layer(2, 1), layer(3, 1));
    let ca = store
        .unpack(None, &req(None), &a[..])
        .unwrap()
        .layer
        .chain_id;
    let cb = store
        .unpack(Some(&ca), &req(None), &b[..])
        .unwrap()
        .layer
        .chain_id;
    let cc = store
        .unpack(None, &req(None), &c[..])
        .unwrap()
        .layer
        .chain_id;
    let r = store.prepare_rootfs("uses-ab", &[cb, ca]).unwrap();
    // a and b are a container's, c an image's: all stay.
    assert_eq!(store.remove_unused(&[cc]).unwrap(), vec![]);
    assert_eq!(store.list().unwrap().len(), 3);
    r.remove(&store).unwrap();
    let mut gone = store.remove_unused(&[cc]).unwrap();
    gone.sort();
    let mut want = vec![ca, cb];
    want.sort();
    assert_eq!(gone, want);
    assert!(store.exists(&cc) && !store.exists(&ca) && !store.exists(&cb));
    assert_eq!(store.remove_unused(&[]).unwrap(), vec![cc]);
    assert!(store.list().unwrap().is_empty() && tmp_entries(&store).is_empty());
}

#[test]
fn a_layer_is_never_removed_from_under_a_new_root_file_system() {
    // prepare_rootfs and remove race: either the root file system is made
    // and the layer stays (in use), or the layer goes and prepare_rootfs
    // says it is missing; never both.
    let t = TestDir::new("store-race");
    let store = Store::open(&t.join("store")).unwrap();
    let tar = layer(4, 1);
    let diff = Digest::of(&tar);
    for i in 0..100 {
        if !store.exists(&diff) {
            store.unpack(None, &req(Some(&diff)), &tar[..]).unwrap();
        }
        let id = format!("race{i}");
        let go = std::sync::Barrier::new(2);
        let (made, removed) = std::thread::scope(|s| {
            let p = s.spawn(|| {
                go.wait();
                store.prepare_rootfs(&id, &[diff])
            });
            go.wait();
            let removed = store.remove(&diff);
            (p.join().unwrap(), removed)
        });
        match (made, removed) {
            (Ok(r), Err(StoreError::LayerInUse { .. })) => {
                assert!(store.exists(&diff));
                r.remove(&store).unwrap();
            }
            (Err(StoreError::LayerNotFound(_)), Ok(())) => {}
            (m, r) => panic!("round {i}: prepare_rootfs {m:?}, remove {r:?}"),
        }
    }
}
