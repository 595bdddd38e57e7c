//! The eight namespaces, seen from inside.

use serde_json::json;

use crate::common::*;

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn ns_report() -> &'static str {
    "for n in mnt pid net ipc uts cgroup user time; do echo $n=$(readlink /proc/self/ns/$n); done"
}

fn parse_ns(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn default_namespaces_are_new_and_others_shared() {
    let env = Env::new("nsdefault");
    let b = env.bundle("b", &config(&["sh", "-c", ns_report()]));
    let id = env.id("nsdefault");
    let ns = parse_ns(&ok(&env.run(&id, &b)));
    for k in ["mnt", "pid", "net", "ipc", "uts", "cgroup"] {
        assert_ne!(ns[k], host_ns(k), "{k} namespace should be new");
    }
    for k in ["user", "time"] {
        assert_eq!(ns[k], host_ns(k), "{k} namespace should be shared");
    }
}

#[test]
fn pid_one_and_only_own_processes() {
    let env = Env::new("pid1");
    let b = env.bundle(
        "b",
        &config(&["sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"]),
    );
    let id = env.id("pid1");
    let out = ok(&env.run(&id, &b));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "the program is PID 1");
    // sh, ls and grep at most
    let n: usize = lines[1].parse().unwrap();
    assert!(n <= 3, "the container sees {n} processes");
}

#[test]
fn host_sees_the_container_under_its_own_pid() {
    let env = Env::new("hostpid");
    let b = env.bundle("b", &config(&["sleep", "30"]));
    let id = env.id("hostpid");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert!(pid > 1);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap()
        .to_string();
    assert!(nspid.trim_end().ends_with("\t1"), "{nspid}");
    ok(&env.nook(&["delete", "--force", &id]));
}

#[test]
fn hostname_and_domainname() {
    let env = Env::new("uts");
    let mut c = config(&["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"]);
    c["hostname"] = "box1".into();
    c["domainname"] = "example.org".into();
    let b = env.bundle("b", &c);
    let id = env.id("uts");
    assert_eq!(ok(&env.run(&id, &b)), "box1\nexample.org\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "box1");
}

#[test]
fn network_namespace_has_only_loopback() {
    let env = Env::new("net");
    let b = env.bundle(
        "b",
        &config(&[
            "sh",
            "-c",
            "ls /sys/class/net; cat /proc/net/dev | tail -n +3 | cut -d: -f1",
        ]),
    );
    let id = env.id("net");
    let out = ok(&env.run(&id, &b));
    let names: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(names, vec!["lo", "lo"], "{out}");
}

#[test]
fn private_mount_table() {
    let env = Env::new("mnt");
    let b = env.bundle("b", &config(&["cat", "/proc/self/mountinfo"]));
    let id = env.id("mnt");
    let out = ok(&env.run(&id, &b));
    assert!(out.lines().count() > 3);
    for l in out.lines() {
        let mp = l.split(' ').nth(4).unwrap();
        assert!(
            !mp.starts_with("/work") && !mp.starts_with(env.dir.to_str().unwrap()),
            "host mount visible: {l}"
        );
    }
    // and nothing the container mounted shows on the host
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host.contains(b.to_str().unwrap()));
}

fn userns_config(args: &[&str]) -> serde_json::Value {
    let mut c = config(args);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    c
}

#[test]
fn user_namespace_maps_ids() {
    let env = Env::new("userns");
    let b = env.bundle(
        "b",
        &userns_config(&[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; sleep 30",
        ]),
    );
    let id = env.id("userns");
    let mut child = env
        .cmd()
        .args(["run", "--bundle", b.to_str().unwrap(), &id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    env.wait_status(&id, "running");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid.split_whitespace().nth(1) == Some("100000"),
        "host view: {uid}"
    );
    // the three lines it prints before it sleeps (read before the kill: on
    // a loaded machine it may not have printed them yet)
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut s = String::new();
    for _ in 0..3 {
        std::io::BufRead::read_line(&mut out, &mut s).unwrap();
    }
    ok(&env.nook(&["kill", &id, "KILL"]));
    child.wait().unwrap();
    let words: Vec<&str> = s.split_whitespace().collect();
    assert_eq!(
        words,
        vec!["0", "100000", "65536", "0", "100000", "65536", "0"],
        "{s}"
    );
}

#[test]
fn userns_without_netns_sees_the_hosts_sysfs_read_only_and_its_own_cgroup() {
    // In a user namespace that shares the host's network namespace the
    // kernel refuses a fresh sysfs: the runtime binds the host's /sys
    // instead, with the mount's options (ro) in effect.  On cgroup v2 that
    // bind brings the host's cgroup2 mount along, on which the kernel
    // refuses a fresh cgroup2: the container's own cgroup is bound there.
    let env = Env::new("usersys");
    let mut c = userns_config(&[
        "sh",
        "-c",
        "grep ' /sys ' /proc/self/mountinfo; ls /sys/class/net; touch /sys/x 2>&1; \
         cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    ]);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    let b = env.bundle("b", &c);
    let id = env.id("usersys");
    let out = ok(&env.run(&id, &b));
    let mnt = out.lines().next().unwrap_or("");
    assert!(
        mnt.split_whitespace()
            .nth(5)
            .unwrap_or("")
            .split(',')
            .any(|o| o == "ro"),
        "/sys is not read-only: {out}"
    );
    assert!(mnt.contains(" - sysfs "), "/sys is not sysfs: {out}");
    assert!(
        out.lines().any(|l| l == "lo"),
        "no /sys/class/net/lo: {out}"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert_eq!(
        out.lines().last(),
        Some("67108864"),
        "/sys/fs/cgroup is not the container's cgroup: {out}"
    );
}

#[test]
fn time_namespace_offsets() {
    let env = Env::new("timens");
    let mut c = config(&["sh", "-c", "cut -d. -f1 /proc/uptime"]);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    c["linux"]["timeOffsets"] =
        json!({"boottime": {"secs": 864000, "nanosecs": 0}, "monotonic": {"secs": 3600}});
    let b = env.bundle("b", &c);
    let id = env.id("timens");
    let up: u64 = ok(&env.run(&id, &b)).trim().parse().unwrap();
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        up >= 864000 + host as u64 - 5,
        "uptime in the container {up}, host {host}"
    );
}

#[test]
fn join_namespaces_by_path() {
    let env = Env::new("join");
    let mut a = config(&["sleep", "30"]);
    a["hostname"] = "pod-a".into();
    let ba = env.bundle("a", &a);
    let ida = env.id("join-a");
    ok(&env.nook(&["run", "-d", "--bundle", ba.to_str().unwrap(), &ida]));
    let pa = env.state(&ida)["pid"].as_i64().unwrap();
    let mut bcfg = config(&[
        "sh",
        "-c",
        "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc",
    ]);
    bcfg.as_object_mut().unwrap().remove("hostname");
    let ns: Vec<serde_json::Value> = bcfg["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match n["type"].as_str().unwrap() {
            t @ ("network" | "uts" | "ipc") => {
                let short = match t {
                    "network" => "net",
                    x => x,
                };
                json!({"type": t, "path": format!("/proc/{pa}/ns/{short}")})
            }
            _ => n.clone(),
        })
        .collect();
    bcfg["linux"]["namespaces"] = ns.into();
    let bb = env.bundle("b", &bcfg);
    let idb = env.id("join-b");
    let out = ok(&env.run(&idb, &bb));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pod-a");
    assert_eq!(
        lines[1],
        std::fs::read_link(format!("/proc/{pa}/ns/net"))
            .unwrap()
            .to_str()
            .unwrap()
    );
    assert_eq!(
        lines[2],
        std::fs::read_link(format!("/proc/{pa}/ns/ipc"))
            .unwrap()
            .to_str()
            .unwrap()
    );
    ok(&env.nook(&["delete", "--force", &ida]));
}

#[test]
fn joining_a_wrong_namespace_file_is_refused() {
    let env = Env::new("joinbad");
    let mut c = config(&["true"]);
    c.as_object_mut().unwrap().remove("hostname");
    c["linux"]["namespaces"] =
        json!([{"type": "mount"}, {"type": "network", "path": "/proc/self/ns/uts"}]);
    let b = env.bundle("b", &c);
    let id = env.id("joinbad");
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "is not a network namespace",
    );
    assert!(!env.root.join(&id).exists());
}

#[test]
fn cgroup_namespace_shows_own_cgroup_as_root() {
    let env = Env::new("cgns");
    let b = env.bundle("b", &config(&["cat", "/proc/self/cgroup"]));
    let id = env.id("cgns");
    let out = ok(&env.run(&id, &b));
    for l in out.lines() {
        assert!(l.ends_with(":/"), "{l}");
    }
    // without a cgroup namespace the host path shows
    let mut c = config(&["cat", "/proc/self/cgroup"]);
    let ns: Vec<serde_json::Value> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "cgroup")
        .cloned()
        .collect();
    c["linux"]["namespaces"] = ns.into();
    let b2 = env.bundle("b2", &c);
    let id2 = env.id("nocgns");
    let out = ok(&env.run(&id2, &b2));
    assert!(out.lines().any(|l| l.contains(&id2)), "{out}");
}
