//! A process that copied the mount table (its own mount namespace) after a
//! container's namespace file was made does not keep that namespace alive
//! once the file is removed, so its veth goes with it.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sched::{unshare, CloneFlags};
use nook_network::link;
use nook_network::netns::{self, Netns};

use crate::fixture::*;

#[test]
fn removal_reaches_copies_of_the_mount_table() {
    let mut host = Host::new();
    let dir = host.dir.path().join("netns");
    std::fs::create_dir(&dir).unwrap();
    host.bridge("nk-prop", &["10.84.0.1/24"]);
    let path = dir.join("c");
    let c = NsFile {
        ns: Some(Netns::create_file(&path).unwrap()),
        path: path.clone(),
    };
    host.attach(&c, "nk-prop", "nkprop", &["10.84.0.2/24"], &[])
        .unwrap();

    let (ready_tx, ready_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let path = path.as_path();
    let copy_left = std::thread::scope(|s| {
        let copier = s.spawn(move || {
            // another mount namespace: a copy of the mount table
            unshare(CloneFlags::CLONE_NEWNS).unwrap();
            let me = "/proc/thread-self/mountinfo";
            ready_tx.send(mounts_at(path, me)).unwrap();
            go_rx.recv().unwrap();
            mounts_at(path, me)
        });
        assert_eq!(
            ready_rx.recv().unwrap(),
            1,
            "the copy has the namespace file"
        );
        let mut c = c;
        c.ns.take();
        assert!(netns::remove_file(&c.path).unwrap());
        go_tx.send(()).unwrap();
        copier.join().unwrap()
    });
    assert_eq!(copy_left, 0, "the removal reached the copy");
    // Nothing holds the namespace now: the kernel deletes the pair.
    let start = Instant::now();
    while link::get(&mut host.nl, "nkprop").unwrap().is_some() {
        assert!(start.elapsed() < Duration::from_secs(5), "veth still there");
        std::thread::sleep(Duration::from_millis(5));
    }
}
