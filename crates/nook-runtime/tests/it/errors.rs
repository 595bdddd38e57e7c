//! Bad input: one line naming the problem, exit 1, nothing left behind.

use crate::common::*;

fn nothing_left(env: &Env, id: &str) {
    assert!(
        !env.root.join(id).exists(),
        "state directory left behind for {id}"
    );
    assert!(
        env.leftover_cgroups(id).is_empty(),
        "cgroups left: {:?}",
        env.leftover_cgroups(id)
    );
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mi.contains(env.dir.to_str().unwrap()),
        "mounts left under {}",
        env.dir.display()
    );
}

#[test]
fn malformed_config_says_where() {
    let env = Env::new("badjson");
    let b = env.bundle("b", &config(&["true"]));
    std::fs::write(
        b.join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {\"user\": {\"uid\": \"zero\"}}\n}",
    )
    .unwrap();
    let id = env.id("badjson");
    let o = env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]);
    fails_with(&o, "config.json: line 3");
    assert!(stderr(&o).contains("process.user.uid"), "{}", stderr(&o));
    nothing_left(&env, &id);
}

#[test]
fn bad_ids() {
    let env = Env::new("badid");
    let b = env.bundle("b", &config(&["true"]));
    for bad in ["a/b", "..", "", "x y"] {
        let o = env.nook(&["create", "--bundle", b.to_str().unwrap(), bad]);
        fails_with(&o, "invalid container id");
    }
    assert!(!env.root.exists() || std::fs::read_dir(&env.root).unwrap().count() == 0);
}

#[test]
fn duplicate_id() {
    let env = Env::new("dup");
    let b = env.bundle("b", &config(&["sleep", "30"]));
    let id = env.id("dup");
    ok(&env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]));
    let pid = env.state(&id)["pid"].clone();
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "already exists",
    );
    // the first container is untouched
    assert_eq!(env.state(&id)["pid"], pid);
    assert_eq!(env.state(&id)["status"], "created");
    ok(&env.nook(&["delete", "--force", &id]));
}

#[test]
fn missing_bundle_and_rootfs() {
    let env = Env::new("missing");
    let id = env.id("missing");
    fails_with(
        &env.nook(&["create", "--bundle", "/nonexistent/bundle", &id]),
        "does not exist",
    );
    let b = env.dir.join("norootfs");
    env.write_config(&b, &config(&["true"]));
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "root.path",
    );
    let e = env.dir.join("noconfig");
    std::fs::create_dir_all(&e).unwrap();
    fails_with(
        &env.nook(&["create", "--bundle", e.to_str().unwrap(), &id]),
        "config.json not found",
    );
    nothing_left(&env, &id);
}

#[test]
fn unknown_signal() {
    let env = Env::new("badsig");
    let b = env.bundle("b", &config(&["sleep", "30"]));
    let id = env.id("badsig");
    ok(&env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]));
    fails_with(&env.nook(&["kill", &id, "SIGNOPE"]), "unknown signal");
    fails_with(&env.nook(&["kill", &id, "99"]), "invalid signal");
    assert_eq!(env.state(&id)["status"], "created");
    ok(&env.nook(&["delete", &id]));
}

#[test]
fn missing_program_fails_create_with_reason() {
    let env = Env::new("noprog");
    let b = env.bundle("b", &config(&["/no/such/program"]));
    let id = env.id("noprog");
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "/no/such/program",
    );
    nothing_left(&env, &id);
}

#[test]
fn failure_in_the_middle_undoes_everything() {
    // A mount that cannot work fails after namespaces, cgroups and other
    // mounts exist: all of it must be gone.
    let env = Env::new("midfail");
    let mut c = config(&["true"]);
    c["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"destination": "/mnt", "type": "nosuchfs", "source": "x"}));
    let b = env.bundle("b", &c);
    let id = env.id("midfail");
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "nosuchfs",
    );
    nothing_left(&env, &id);
}

#[test]
fn idmapped_mount_is_refused_before_anything_is_mounted() {
    let env = Env::new("idmap");
    let src = env.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut c = config(&["true"]);
    c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
        {"destination": "/data", "type": "bind", "source": src, "options": ["rbind", "idmap"]}
    ));
    let b = env.bundle("b", &c);
    let id = env.id("idmap");
    let o = env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]);
    fails_with(&o, "idmapped mounts are not supported");
    assert!(
        !b.join("rootfs/data").exists(),
        "a mount point was made for a refused mount"
    );
    nothing_left(&env, &id);
}

#[test]
fn symlink_in_image_cannot_redirect_a_mount() {
    let env = Env::new("symlink");
    let outside = env.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let mut c = config(&["sh", "-c", "ls /evil/inner && mount | grep -c inner"]);
    c["mounts"].as_array_mut().unwrap().push(
        serde_json::json!({"destination": "/evil/inner", "type": "tmpfs", "source": "tmpfs"}),
    );
    let b = env.bundle("b", &c);
    // The image links /evil to a host directory, absolutely and via ../..
    std::os::unix::fs::symlink(&outside, b.join("rootfs/evil")).unwrap();
    let id = env.id("symlink");
    let o = env.run(&id, &b);
    ok(&o);
    // The tmpfs went to <rootfs>/<outside path>/inner, never to the host dir.
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "the host directory was touched"
    );
    assert!(b
        .join("rootfs")
        .join(outside.strip_prefix("/").unwrap())
        .join("inner")
        .is_dir());
    nothing_left(&env, &id);
}

#[test]
fn start_of_missing_and_delete_of_missing() {
    let env = Env::new("nostart");
    fails_with(&env.nook(&["start", "nope"]), "does not exist");
    fails_with(&env.nook(&["delete", "nope"]), "does not exist");
    ok(&env.nook(&["delete", "--force", "nope"]));
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let env = Env::new("tty");
    let mut c = config(&["true"]);
    c["process"]["terminal"] = true.into();
    let b = env.bundle("b", &c);
    let id = env.id("tty");
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "console-socket",
    );
    nothing_left(&env, &id);
}

#[test]
fn hostname_without_uts_namespace_is_refused() {
    let env = Env::new("nouts");
    let mut c = config(&["true"]);
    let ns: Vec<serde_json::Value> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "uts")
        .cloned()
        .collect();
    c["linux"]["namespaces"] = ns.into();
    let b = env.bundle("b", &c);
    let id = env.id("nouts");
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "uts namespace",
    );
    nothing_left(&env, &id);
}
