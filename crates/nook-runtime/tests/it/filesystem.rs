//! The root file system and mounts, seen from inside.

use serde_json::json;

use crate::common::*;

#[test]
fn read_only_root() {
    let env = Env::new("ro");
    let b = env.bundle("b", &config(&["sh", "-c", "touch /x 2>&1; echo rc=$?"]));
    let id = env.id("ro");
    let out = ok(&env.run(&id, &b));
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
    assert!(!b.join("rootfs/x").exists());
}

#[test]
fn masked_and_readonly_paths() {
    let env = Env::new("mask");
    let script = "cat /proc/timer_list | wc -c; cat /proc/keys | wc -c; ls /sys/firmware | wc -l; \
                  echo 1 > /proc/sys/kernel/domainname 2>/dev/null; echo ro=$?; echo h > /proc/sysrq-trigger 2>/dev/null; echo sysrq=$?";
    let b = env.bundle("b", &config(&["sh", "-c", script]));
    let id = env.id("mask");
    let out = ok(&env.run(&id, &b));
    let v: Vec<&str> = out.lines().collect();
    assert_eq!(v, vec!["0", "0", "0", "ro=1", "sysrq=1"], "{out}");
}

#[test]
fn masked_kcore_when_the_kernel_has_it() {
    if !std::path::Path::new("/proc/kcore").exists() {
        // This kernel has no /proc/kcore; /proc/timer_list and /proc/keys
        // are covered by masked_and_readonly_paths.
        return;
    }
    let env = Env::new("kcore");
    let b = env.bundle("b", &config(&["sh", "-c", "cat /proc/kcore | wc -c"]));
    let id = env.id("kcore");
    assert_eq!(ok(&env.run(&id, &b)).trim(), "0");
}

#[test]
fn bind_mounts_ro_rw_and_files() {
    let env = Env::new("bind");
    let host = env.dir.join("share");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("hello"), "from host\n").unwrap();
    std::fs::write(env.dir.join("single"), "one file\n").unwrap();
    let mut c = config(&[
        "sh",
        "-c",
        "cat /ro/hello /file; touch /ro/x 2>/dev/null; echo ro=$?; echo w > /rw/new; cat /rw/new",
    ]);
    let m = c["mounts"].as_array_mut().unwrap();
    m.push(json!({"destination": "/ro", "type": "bind", "source": host, "options": ["rbind", "ro", "nosuid"]}));
    m.push(json!({"destination": "/rw", "type": "none", "source": host, "options": ["bind", "rprivate"]}));
    m.push(json!({"destination": "/file", "source": env.dir.join("single"), "options": ["bind", "ro"]}));
    let b = env.bundle("b", &c);
    let id = env.id("bind");
    assert_eq!(ok(&env.run(&id, &b)), "from host\none file\nro=1\nw\n");
    assert_eq!(std::fs::read_to_string(host.join("new")).unwrap(), "w\n");
}

#[test]
fn relative_bind_source_is_relative_to_the_bundle() {
    let env = Env::new("relbind");
    let mut c = config(&["cat", "/data/f"]);
    c["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/data", "type": "bind", "source": "data", "options": ["bind"]}),
    );
    let b = env.bundle("b", &c);
    std::fs::create_dir_all(b.join("data")).unwrap();
    std::fs::write(b.join("data/f"), "rel\n").unwrap();
    let id = env.id("relbind");
    assert_eq!(ok(&env.run(&id, &b)), "rel\n");
}

#[test]
fn tmpfs_options_and_tmpcopyup() {
    let env = Env::new("tmpfs");
    let mut c = config(&["sh", "-c", "stat -c %a /scratch; cat /data/keep; echo new > /data/n; cat /data/n; grep ' /scratch ' /proc/self/mountinfo; readlink /data/link"]);
    let m = c["mounts"].as_array_mut().unwrap();
    m.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1700", "size=1m", "noexec", "nosuid"]}));
    m.push(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    let b = env.bundle("b", &c);
    std::fs::create_dir_all(b.join("rootfs/data")).unwrap();
    std::fs::write(b.join("rootfs/data/keep"), "image content\n").unwrap();
    std::os::unix::fs::symlink("keep", b.join("rootfs/data/link")).unwrap();
    let id = env.id("tmpfs");
    let out = ok(&env.run(&id, &b));
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "1700");
    assert_eq!(l[1], "image content");
    assert_eq!(l[2], "new");
    assert!(
        l[3].contains("noexec") && l[3].contains("nosuid") && l[3].contains("size=1024k"),
        "{}",
        l[3]
    );
    assert_eq!(l[4], "keep", "tmpcopyup copies symlinks as symlinks");
    assert!(
        !b.join("rootfs/data/n").exists(),
        "tmpcopyup wrote into the image"
    );
}

#[test]
fn dev_has_default_nodes_links_and_config_devices() {
    let env = Env::new("dev");
    let script = "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done; \
                  for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; stat -c '%n %F %t:%T %a %u:%g' /dev/fuse; \
                  echo x > /dev/null && head -c 4 /dev/zero | wc -c";
    let mut c = config(&["sh", "-c", script]);
    c["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 0, "gid": 5}]);
    c["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]);
    let b = env.bundle("b", &c);
    let id = env.id("dev");
    let out = ok(&env.run(&id, &b));
    let want = "/dev/null character special file 1:3 666\n/dev/zero character special file 1:5 666\n\
                /dev/full character special file 1:7 666\n/dev/random character special file 1:8 666\n\
                /dev/urandom character special file 1:9 666\n/dev/tty character special file 5:0 666\n\
                /proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n\
                /dev/fuse character special file a:e5 640 0:5\n4\n";
    assert_eq!(out, want);
}

#[test]
fn device_cgroup_denies_unlisted_devices() {
    let env = Env::new("devdeny");
    // /dev/fuse is created but not allowed by the rules: opening it fails.
    let mut c = config(&["sh", "-c", "cat /dev/fuse 2>&1; echo rc=$?"]);
    c["linux"]["devices"] =
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}]);
    let b = env.bundle("b", &c);
    let id = env.id("devdeny");
    let out = ok(&env.run(&id, &b));
    assert!(
        out.contains("Operation not permitted") && out.contains("rc=1"),
        "{out}"
    );
}

#[test]
fn no_pivot_works() {
    let env = Env::new("nopivot");
    let b = env.bundle("b", &config(&["sh", "-c", "ls /bin/busybox && echo ok"]));
    let id = env.id("nopivot");
    let o = env.nook(&["run", "--no-pivot", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(ok(&o), "/bin/busybox\nok\n");
}

#[test]
fn cwd_is_created_inside_the_rootfs() {
    let env = Env::new("cwd");
    let mut c = config(&["pwd"]);
    c["process"]["cwd"] = "/work/dir".into();
    let b = env.bundle("b", &c);
    let id = env.id("cwd");
    assert_eq!(ok(&env.run(&id, &b)), "/work/dir\n");
    assert!(b.join("rootfs/work/dir").is_dir());
}

#[test]
fn rootfs_propagation() {
    let env = Env::new("prop");
    let mut c = config(&["awk", "$5 == \"/\"", "/proc/self/mountinfo"]);
    c["linux"]["rootfsPropagation"] = "shared".into();
    let b = env.bundle("b", &c);
    let id = env.id("prop");
    let out = ok(&env.run(&id, &b));
    assert!(out.contains("shared:"), "{out}");
    c["linux"]["rootfsPropagation"] = "private".into();
    env.write_config(&b, &c);
    let id2 = env.id("prop2");
    let out = ok(&env.run(&id2, &b));
    assert!(
        !out.contains("shared:") && !out.contains("master:"),
        "{out}"
    );
}

#[test]
fn sys_fs_cgroup_shows_the_containers_cgroup_read_only() {
    let env = Env::new("cgmount");
    // v1: one directory per hierarchy; v2: the container's own cgroup.
    let script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; \
                  ls /sys/fs/cgroup/memory /sys/fs/cgroup 2>/dev/null | grep -c '^nook'; \
                  echo 1 > /sys/fs/cgroup/pids/pids.max 2>/dev/null || echo 1 > /sys/fs/cgroup/pids.max 2>/dev/null; echo rc=$?";
    let mut c = config(&["sh", "-c", script]);
    c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    let b = env.bundle("b", &c);
    let id = env.id("cgmount");
    let out = ok(&env.run(&id, &b));
    assert_eq!(out, "67108864\n0\nrc=1\n");
}
