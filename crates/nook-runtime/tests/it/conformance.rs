//! Behaviour the OCI runtime-tools validation suite checks that the other
//! tests did not: each found by running the suite, kept here as our own
//! regression test.

use serde_json::json;

use crate::common::*;

#[test]
fn a_container_may_share_the_runtimes_mount_namespace() {
    // linux_ns_itype: no namespaces listed means every one is shared.
    let env = Env::new("nomntns");
    let mut c = config(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/mnt; ls /bin/busybox; sleep 30",
    ]);
    c["linux"]["namespaces"] = json!([]);
    c.as_object_mut().unwrap().remove("hostname");
    c["linux"]["maskedPaths"] = json!([]);
    c["linux"]["readonlyPaths"] = json!([]);
    c["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
    let b = env.bundle("b", &c);
    let id = env.id("nomntns");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let mine = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(),
        mine
    );
    // the container is confined to its rootfs, exec'd processes too
    assert_eq!(
        ok(&env.nook(&["exec", &id, "ls", "/bin/busybox"])),
        "/bin/busybox\n"
    );
    let rootfs = b.join("rootfs");
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(rootfs.to_str().unwrap())
    };
    assert!(
        mounted(),
        "the rootfs bind lives in the shared namespace while the container runs"
    );
    ok(&env.nook(&["delete", "--force", &id]));
    assert!(
        !mounted(),
        "delete must detach what the container mounted in the runtime's namespace"
    );
}

#[test]
fn unbindable_and_shared_root_propagation() {
    // linux_rootfs_propagation: an unbindable tree cannot be bound, so the
    // mode goes on the new root after pivot_root.
    let env = Env::new("unbind");
    for (mode, tag) in [("unbindable", "unbindable"), ("shared", "shared:")] {
        let mut c = config(&["awk", "$5 == \"/\" {print}", "/proc/self/mountinfo"]);
        c["linux"]["rootfsPropagation"] = mode.into();
        let b = env.bundle(mode, &c);
        let id = env.id(mode);
        let out = ok(&env.run(&id, &b));
        assert!(out.contains(tag), "{mode}: {out}");
    }
}

#[test]
fn a_container_without_process_is_created_but_cannot_start() {
    // start: "This operation MUST generate an error if process was not set."
    let env = Env::new("noproc");
    let mut c = config(&["true"]);
    c.as_object_mut().unwrap().remove("process");
    let b = env.bundle("b", &c);
    let id = env.id("noproc");
    ok(&env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]));
    assert_eq!(env.state(&id)["status"], "created");
    fails_with(&env.nook(&["start", &id]), "no process");
    assert_eq!(env.state(&id)["status"], "created");
    ok(&env.nook(&["delete", &id]));
    assert!(env.leftover_cgroups(&id).is_empty());
}
