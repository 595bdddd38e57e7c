//! Volumes, bind mounts and `cp`, checked from inside real containers: a
//! named volume's data outlives its containers, a new volume is filled
//! from the image, binds are writable or read-only, anonymous volumes
//! (from `-v /dst` and the image's Volumes) go with `rm -v`, a volume in
//! use is kept, bad mount flags leave nothing, and `cp` never leaves the
//! container's root.  Every test removes its containers, volumes and
//! mounts however it ends.

use super::*;
use nook_testkit::layout::header;
use serde_json::json;

/// A tar with /data/seed (uid 1000, mode 0640) and /etc/passwd.
fn data_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut d = header();
    d.set_entry_type(tar::EntryType::Directory);
    d.set_mode(0o750);
    d.set_uid(1000);
    d.set_size(0);
    b.append_data(&mut d, "data/", &[][..]).unwrap();
    let mut h = header();
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_mode(0o640);
    h.set_size(5);
    b.append_data(&mut h, "data/seed", &b"seed\n"[..]).unwrap();
    let mut l = header();
    l.set_entry_type(tar::EntryType::Symlink);
    l.set_size(0);
    b.append_link(&mut l, "data/link", "seed").unwrap();
    // a link a mount target goes through: resolved inside the root
    let mut e = header();
    e.set_entry_type(tar::EntryType::Symlink);
    e.set_size(0);
    b.append_link(&mut e, "escape", "../../../../../../../../tmp")
        .unwrap();
    let passwd = b"root:x:0:0::/root:/bin/sh\ncontainer-only:x:7:7::/:/bin/sh\n";
    let mut p = header();
    p.set_size(passwd.len() as u64);
    b.append_data(&mut p, "etc/passwd", &passwd[..]).unwrap();
    b.into_inner().unwrap()
}

/// A host path that must never be made: where a mount target below the
/// image's `/escape` link (to `../../..(...)/tmp`) would be if the link
/// were followed out of the container's root.
fn escape_target() -> String {
    format!("/tmp/nook-escape-{}", std::process::id())
}

/// `test/vol:v1` on `reg`: busybox, /data/seed, and `Volumes: {"/data"}`.
fn push_image(reg: &Registry) -> String {
    reg.push_image(
        "test/vol",
        "v1",
        &[(busybox_layer(), Comp::Gzip), (data_layer(), Comp::Gzip)],
        json!({"Cmd": ["sh"], "Env": ["PATH=/bin"], "Volumes": {"/data": {}}}),
    )
}

/// A store with the image pulled; on drop its containers are removed,
/// then its volumes, then any mount left below its root.
struct Store {
    n: Nook,
    image: String,
    _reg: Registry,
}

impl Store {
    fn new() -> Store {
        let reg = Registry::start();
        let image = push_image(&reg);
        let n = Nook::new();
        n.ok(&["pull", "-q", &image]);
        Store {
            n,
            image,
            _reg: reg,
        }
    }

    fn lines(&self, args: &[&str]) -> Vec<String> {
        self.n.ok(args).lines().map(String::from).collect()
    }

    fn volumes(&self) -> Vec<String> {
        self.lines(&["volume", "ls", "-q"])
    }

    /// `run --rm IMAGE sh -c SCRIPT` with `flags` before the image: its
    /// output, exit code and stderr.
    fn sh(&self, flags: &[&str], script: &str) -> (String, i32, String) {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&self.image, "sh", "-c", script]);
        let out = self.n.run(&args);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn mounts_of(&self, name: &str) -> Vec<Value> {
        let v: Value =
            serde_json::from_str(&self.n.ok(&["inspect", "-f", "{{json .Mounts}}", name])).unwrap();
        v.as_array().unwrap().clone()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // (the mounts go when the store does)
        self.n.remove_containers();
        for v in self.volumes() {
            let _ = self.n.run(&["volume", "rm", "-f", &v]);
        }
    }
}

#[test]
fn a_named_volume_is_filled_from_the_image_and_outlives_its_containers() {
    let s = Store::new();
    let (out, code, err) = s.sh(
        &["-v", "vol1:/data"],
        "cat /data/seed; stat -c '%u %a' /data/seed /data; readlink /data/link; echo kept > /data/new",
    );
    assert_eq!(
        (out.as_str(), code),
        ("seed\n1000 640\n1000 750\nseed\n", 0),
        "{err}"
    );
    let (out, code, _) = s.sh(&["-v", "vol1:/data:ro"], "cat /data/new; touch /data/x");
    assert_eq!(out, "kept\n");
    assert_ne!(code, 0);
    // nocopy: a new volume stays empty
    let (out, _, _) = s.sh(
        &["--mount", "source=vol2,target=/data,volume-nocopy"],
        "ls -A /data",
    );
    assert_eq!(out, "");
    // the image's /data is targeted: no anonymous volume was made
    assert_eq!(s.volumes(), vec!["vol1", "vol2"]);
    let inspect: Value = serde_json::from_str(&s.n.ok(&["volume", "inspect", "vol1"])).unwrap();
    let mountpoint = inspect[0]["Mountpoint"].as_str().unwrap().to_string();
    assert_eq!(
        mountpoint,
        s.n.root.join("volumes/vol1/_data").to_string_lossy()
    );
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/new")).unwrap(),
        "kept\n"
    );
    assert_eq!(inspect[0]["Driver"], "local");
    let df = s.n.ok(&["system", "df", "--format", "json"]);
    let row: Value = df
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["Type"] == "Local Volumes")
        .unwrap();
    assert_eq!(
        (row["TotalCount"].as_str(), row["Active"].as_str()),
        (Some("2"), Some("0")),
        "{df}"
    );

    // create with labels, filters, json
    s.n.ok(&["volume", "create", "--label", "team=a", "vol3"]);
    assert_eq!(s.n.ok(&["volume", "create", "vol3"]), "vol3\n");
    assert_eq!(
        s.lines(&["volume", "ls", "-q", "--filter", "label=team=a"]),
        vec!["vol3"]
    );
    let row: Value = serde_json::from_str(
        s.n.ok(&["volume", "ls", "--format", "json", "-f", "name=vol3"])
            .trim(),
    )
    .unwrap();
    assert_eq!(
        (row["Name"].as_str(), row["Labels"].as_str()),
        (Some("vol3"), Some("team=a"))
    );

    // a stopped container keeps its volume in use
    s.n.ok(&[
        "run",
        "--name",
        "user",
        "-v",
        "vol1:/data",
        &s.image,
        "sh",
        "-c",
        ":",
    ]);
    assert_eq!(
        s.lines(&["volume", "ls", "-q", "--filter", "dangling=true"]),
        vec!["vol2", "vol3"]
    );
    let err = s.n.fails(&["volume", "rm", "vol1"]);
    assert!(err.contains("vol1: volume is in use"), "{err}");
    let err = s.n.fails(&["volume", "rm", "-f", "vol1"]);
    assert!(err.contains("in use"), "{err}");
    assert!(Path::new(&mountpoint).join("new").exists());
    let mounts = s.mounts_of("user");
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    assert_eq!(
        (
            &mounts[0]["Type"],
            &mounts[0]["Name"],
            &mounts[0]["Destination"],
            &mounts[0]["RW"]
        ),
        (
            &json!("volume"),
            &json!("vol1"),
            &json!("/data"),
            &json!(true)
        )
    );
    s.n.ok(&["rm", "-v", "user"]);
    assert_eq!(
        s.volumes(),
        vec!["vol1", "vol2", "vol3"],
        "rm -v keeps named volumes"
    );
    assert_eq!(s.n.ok(&["volume", "rm", "vol1", "vol2"]), "vol1\nvol2\n");
    assert!(!s.n.root.join("volumes/vol1").exists());
    let err = s.n.fails(&["volume", "rm", "vol1"]);
    assert!(err.contains("no such volume: vol1"), "{err}");
    s.n.ok(&["volume", "rm", "-f", "vol1"]);
    let out = s.n.ok(&["volume", "prune", "-f", "-a"]);
    assert!(out.starts_with("Deleted Volumes:\nvol3\n"), "{out}");
    assert!(s.volumes().is_empty());
}

#[test]
fn binds_are_writable_or_read_only_and_a_missing_source_is_made_for_v() {
    let s = Store::new();
    let host = s.n.dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("f"), "from host\n").unwrap();
    let h = host.to_str().unwrap();
    let (out, code, err) = s.sh(&["-v", &format!("{h}:/h:z")], "cat /h/f; echo w > /h/w");
    assert_eq!((out.as_str(), code), ("from host\n", 0), "{err}");
    assert_eq!(std::fs::read_to_string(host.join("w")).unwrap(), "w\n");
    for flags in [
        vec!["-v".to_string(), format!("{h}:/h:ro")],
        vec![
            "--mount".to_string(),
            format!("type=bind,src={h},dst=/h,readonly"),
        ],
    ] {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let (out, code, err) = s.sh(&flags, "cat /h/f; echo x > /h/x");
        assert_eq!(out, "from host\n");
        assert_ne!(code, 0);
        assert!(err.contains("Read-only file system"), "{err}");
        assert!(!host.join("x").exists());
    }
    // a file bound over a file
    let (out, _, err) = s.sh(&["-v", &format!("{h}/f:/etc/motd:ro")], "cat /etc/motd");
    assert_eq!(out, "from host\n", "{err}");
    // -v makes a missing source; --mount refuses it
    let missing = host.join("made/by/v");
    let (_, code, err) = s.sh(&["-v", &format!("{}:/m", missing.display())], "touch /m/y");
    assert_eq!(code, 0, "{err}");
    assert!(missing.join("y").exists());
    assert!(s.volumes().is_empty(), "binds are not volumes");
    // a target through a link out of the root is made inside it
    let name = escape_target();
    let target = format!("vol9:/escape/{}/sub", &name[5..]);
    let script = format!("echo in > /escape/{}/sub/f", &name[5..]);
    let (_, code, err) = s.sh(&["-v", &target], &script);
    let escaped = Path::new(&name).exists();
    let _ = std::fs::remove_dir_all(&name);
    assert!(!escaped, "a mount target was made on the host");
    assert_eq!(code, 0, "{err}");
    let f = s.n.root.join("volumes/vol9/_data/f");
    assert_eq!(std::fs::read_to_string(f).unwrap(), "in\n");
    s.n.ok(&["volume", "rm", "vol9"]);
    // --tmpfs: Docker's defaults, then the options given
    let (out, code, err) = s.sh(
        &["--tmpfs", "/run2:size=2m,mode=1777,exec"],
        "stat -c %a /run2; grep ' /run2 ' /proc/mounts",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("1777\ntmpfs /run2 tmpfs rw,nosuid,nodev"),
        "{out}"
    );
    assert!(
        out.contains("size=2048k") && !out.contains("noexec"),
        "{out}"
    );
    // a volume that is a bind of a host directory (the local driver's
    // -o type=none,o=bind,device=PATH): filled from the image, written through
    let dev = s.n.dir.path().join("device");
    std::fs::create_dir(&dev).unwrap();
    let device = format!("device={}", dev.display());
    s.n.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        "bv",
    ]);
    let (out, code, err) = s.sh(&["-v", "bv:/data"], "cat /data/seed; echo w > /data/w");
    assert_eq!((out.as_str(), code), ("seed\n", 0), "{err}");
    assert_eq!(std::fs::read_to_string(dev.join("w")).unwrap(), "w\n");
    assert_eq!(std::fs::read_to_string(dev.join("seed")).unwrap(), "seed\n");
    s.n.ok(&["volume", "rm", "bv"]);
    assert!(
        dev.join("w").exists(),
        "removing the volume keeps its device"
    );
    for (opts, want) in [
        (["-o", "type=tmpfs"], "\"tmpfs\""),
        (["-o", "color=red"], "\"color\""),
    ] {
        let mut args = vec!["volume", "create"];
        args.extend_from_slice(&opts);
        args.push("nv");
        let err = s.n.fails(&args);
        assert!(err.contains(want), "{err}");
    }
    // inspect's Mounts of a bind
    let ro = format!("{h}:/h:ro");
    s.n.ok(&["run", "--name", "cb", "-v", &ro, &s.image, "sh", "-c", ":"]);
    let m = &s.mounts_of("cb")[0];
    assert_eq!(
        (
            &m["Type"],
            &m["Source"],
            &m["Destination"],
            &m["Mode"],
            &m["RW"],
            &m["Propagation"]
        ),
        (
            &json!("bind"),
            &json!(h),
            &json!("/h"),
            &json!("ro"),
            &json!(false),
            &json!("rprivate")
        )
    );
    s.n.ok(&["rm", "cb"]);
    // a tmpfs with its size and mode
    let (out, code, err) = s.sh(
        &["--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770"],
        "stat -c %a /t; grep ' /t ' /proc/mounts",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("1770\ntmpfs /t tmpfs rw,nosuid,nodev,noexec"),
        "{out}"
    );
    assert!(out.contains("size=1024k"), "{out}");
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_run_rm_and_stay_otherwise() {
    let s = Store::new();
    // the image's Volumes and -v /extra: two anonymous volumes, filled
    s.n.ok(&[
        "run",
        "--name",
        "ca",
        "-v",
        "/extra",
        &s.image,
        "sh",
        "-c",
        "cat /data/seed; echo a > /extra/a",
    ]);
    let vols = s.volumes();
    assert_eq!(vols.len(), 2, "{vols:?}");
    assert!(vols.iter().all(|v| v.len() == 64));
    let mounts = s.mounts_of("ca");
    let dsts: BTreeSet<&str> = mounts
        .iter()
        .map(|m| m["Destination"].as_str().unwrap())
        .collect();
    assert_eq!(dsts, BTreeSet::from(["/data", "/extra"]));
    assert!(mounts
        .iter()
        .all(|m| m["Type"] == "volume" && m["Driver"] == "local"));
    let data = mounts.iter().find(|m| m["Destination"] == "/data").unwrap();
    let seed = Path::new(data["Source"].as_str().unwrap()).join("seed");
    assert_eq!(std::fs::read_to_string(&seed).unwrap(), "seed\n");
    // rm without -v keeps them
    s.n.ok(&["rm", "ca"]);
    assert_eq!(s.volumes(), vols);
    // rm -v removes this container's only
    s.n.ok(&["run", "--name", "cb", &s.image, "sh", "-c", ":"]);
    assert_eq!(s.volumes().len(), 3);
    s.n.ok(&["rm", "-v", "cb"]);
    assert_eq!(s.volumes(), vols);
    // run --rm removes its anonymous volumes, not a named one
    let (_, code, err) = s.sh(&["-v", "/more", "-v", "named:/named"], "true");
    assert_eq!(code, 0, "{err}");
    let mut want = vols.clone();
    want.insert(0, "named".into());
    want.sort();
    assert_eq!(s.volumes(), want);
    // prune: anonymous ones no container uses
    let out = s.n.ok(&["volume", "prune", "-f"]);
    assert!(out.starts_with("Deleted Volumes:"), "{out}");
    assert_eq!(s.volumes(), vec!["named"]);
}

#[test]
fn bad_mount_flags_fail_in_one_line_and_leave_nothing() {
    let s = Store::new();
    let cases: [(&[&str], &str); 9] = [
        (&["-v", "good:/a", "--tmpfs", "/t:bogus"], "\"bogus\""),
        (&["-v", "good:/a", "-v", "vol:/x:bogus"], "\"bogus\""),
        (&["-v", "vol:relative"], "must be absolute"),
        (
            &["--mount", "type=bind,src=/nonexistent-nook-src,dst=/x"],
            "bind source path does not exist: /nonexistent-nook-src",
        ),
        (&["-v", "bad$name:/x"], "\"bad$name\""),
        (&["-v", "good:/proc/x"], "/proc/x"),
        (&["--mount", "type=volume,target=/x,color=red"], "color"),
        (
            &["-v", "good:/a", "-v", "other:/a"],
            "duplicate mount point",
        ),
        (&["-v", "good:/a", "-u", "nosuchuser"], "nosuchuser"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&s.image, "true"]);
        let err = s.n.fails(&args);
        assert!(err.contains(want), "{flags:?}: {err}");
        assert!(s.n.ids().is_empty(), "{flags:?}: a record left");
        assert!(
            s.volumes().is_empty(),
            "{flags:?}: a volume left: {:?}",
            s.volumes()
        );
        assert!(
            entries(&s.n.root.join("volumes")).is_empty(),
            "{flags:?}: a volume directory left"
        );
        assert!(
            entries(&s.n.root.join("storage/containers")).is_empty(),
            "{flags:?}: a root left"
        );
        assert!(s.n.mounts().is_empty(), "{flags:?}: {:?}", s.n.mounts());
    }
    let err = s.n.fails(&["volume", "create", "x"]);
    assert!(err.contains("\"x\""), "{err}");
    let err = s.n.fails(&["volume", "create", "-d", "nfs", "vv"]);
    assert!(err.contains("\"nfs\""), "{err}");
    assert!(s.volumes().is_empty());
}

/// The names and link targets (`name -> target`) of a tar.
fn tar_names(data: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            match e.link_name().unwrap() {
                Some(l) => format!("{p} -> {}", l.display()),
                None => p,
            }
        })
        .collect()
}

#[test]
fn cp_copies_in_and_out_inside_the_containers_root_running_or_stopped() {
    let s = Store::new();
    let h = s.n.dir.path().join("h");
    std::fs::create_dir_all(h.join("tree/sub")).unwrap();
    std::fs::write(h.join("in.txt"), "in\n").unwrap();
    std::fs::write(h.join("tree/a"), "a\n").unwrap();
    std::fs::write(h.join("tree/sub/b"), "b\n").unwrap();
    std::os::unix::fs::symlink("../../../../../..", h.join("tree/up")).unwrap();
    let hs = |p: &str| h.join(p).to_string_lossy().into_owned();
    let script = "mkdir -p /tmp; ln -s /etc /tmp/etclink; ln -s ../../../../../.. /tmp/up; touch /tmp/ready; sleep 600";
    s.n.ok(&[
        "run",
        "-d",
        "--name",
        "cr",
        "-v",
        "vol:/data",
        &s.image,
        "sh",
        "-c",
        script,
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !s
        .n
        .run(&["exec", "cr", "sh", "-c", "test -e /tmp/ready"])
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the container never got ready"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let exec = |cmd: &str| s.n.ok(&["exec", "cr", "sh", "-c", cmd]);
    let unique = format!("nook-cp-{}", std::process::id());

    // out through a link to /etc: the container's passwd, not the host's
    s.n.ok(&["cp", "cr:/tmp/etclink/passwd", &hs("pw")]);
    assert!(std::fs::read_to_string(h.join("pw"))
        .unwrap()
        .contains("container-only"));
    // in through links: the container's /etc, and ../.. stops at its root
    s.n.ok(&["cp", &hs("in.txt"), "cr:/tmp/etclink/"]);
    s.n.ok(&["cp", &hs("in.txt"), &format!("cr:/tmp/up/{unique}")]);
    assert_eq!(exec(&format!("cat /etc/in.txt /{unique}")), "in\nin\n");
    assert!(!Path::new("/etc/in.txt").exists() && !Path::new(&format!("/{unique}")).exists());
    // into a volume
    s.n.ok(&["cp", &hs("in.txt"), "cr:/data/"]);
    let vol = s.n.root.join("volumes/vol/_data");
    assert_eq!(std::fs::read_to_string(vol.join("in.txt")).unwrap(), "in\n");
    // a tree in, its link kept as a link
    s.n.ok(&["cp", &hs("tree"), "cr:/tmp/"]);
    assert_eq!(
        exec("cat /tmp/tree/a /tmp/tree/sub/b; readlink /tmp/tree/up"),
        "a\nb\n../../../../../..\n"
    );
    // and out again into a new directory: the link stays a link
    let out = h.join("out");
    std::fs::create_dir(&out).unwrap();
    s.n.ok(&["cp", "cr:/tmp/tree", &out.join("copy").to_string_lossy()]);
    assert_eq!(
        std::fs::read_to_string(out.join("copy/sub/b")).unwrap(),
        "b\n"
    );
    assert_eq!(
        std::fs::read_link(out.join("copy/up")).unwrap(),
        Path::new("../../../../../..")
    );
    // a device node a container made is not made on the host
    exec("mkdir /tmp/devs; mknod /tmp/devs/sda b 8 0; echo f > /tmp/devs/f");
    s.n.ok(&["cp", "cr:/tmp/devs", &out.join("devs").to_string_lossy()]);
    assert!(out.join("devs/f").exists());
    assert!(
        !out.join("devs/sda").exists(),
        "a block device was made on the host"
    );
    // a tar on stdout
    let tarred = s.n.run(&["cp", "cr:/etc/passwd", "-"]);
    assert!(tarred.status.success());
    assert_eq!(tar_names(&tarred.stdout), vec!["passwd"]);
    // a hostile tar on stdin: a link to / then a file through it
    let mut b = tar::Builder::new(Vec::new());
    let mut l = header();
    l.set_entry_type(tar::EntryType::Symlink);
    l.set_size(0);
    b.append_link(&mut l, "l", "/").unwrap();
    let mut f = header();
    f.set_size(4);
    b.append_data(&mut f, format!("l/tmp/{unique}"), &b"pwn\n"[..])
        .unwrap();
    let evil = b.into_inner().unwrap();
    let mut cmd = s.n.cmd(&["cp", "-", "cr:/tmp"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &evil).unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        !Path::new(&format!("/tmp/{unique}")).exists(),
        "a tar wrote on the host"
    );
    assert_eq!(exec(&format!("cat /tmp/{unique}")), "pwn\n");

    // stopped: the same root, its volume mounted
    s.n.ok(&["kill", "cr"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    // stopped and unmounted by its monitor
    while !s.n.ok(&["ps", "-q"]).is_empty() || !s.n.mounts().is_empty() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    s.n.ok(&["cp", "cr:/tmp/etclink/passwd", &hs("pw2")]);
    assert!(std::fs::read_to_string(h.join("pw2"))
        .unwrap()
        .contains("container-only"));
    s.n.ok(&["cp", "cr:/data/in.txt", &hs("fromvol")]);
    assert_eq!(std::fs::read_to_string(h.join("fromvol")).unwrap(), "in\n");
    s.n.ok(&["cp", &hs("tree/a"), "cr:/data/a2"]);
    assert_eq!(std::fs::read_to_string(vol.join("a2")).unwrap(), "a\n");
    assert!(s.n.mounts().is_empty(), "{:?}", s.n.mounts());

    // bad input
    let err = s.n.fails(&["cp", "cr:/nonexistent", &hs("x")]);
    assert!(err.contains("/nonexistent"), "{err}");
    let err = s.n.fails(&["cp", &hs("in.txt"), &hs("y")]);
    assert!(err.contains("at least one container"), "{err}");
    let err = s.n.fails(&["cp", &hs("tree"), "cr:/etc/passwd"]);
    assert!(err.contains("cannot copy a directory to a file"), "{err}");
}
