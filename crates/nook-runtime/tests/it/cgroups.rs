//! Resource limits in effect, on whichever cgroup version the host has.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// A file of the container's cgroup: the v1 file in the hierarchy of
/// `ctl`, or else the v2 file.
fn cgfile(env: &Env, id: &str, ctl: &str, v1: &str, v2: &str) -> PathBuf {
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.root.join(id).join("state.json")).unwrap())
            .unwrap();
    let cg = &st["cgroup"];
    if let Some(m) = cg["v1"].as_object() {
        for (k, d) in m {
            if k.split(',').any(|c| c == ctl) {
                return Path::new(d.as_str().unwrap()).join(v1);
            }
        }
    }
    Path::new(
        cg["v2"]
            .as_str()
            .expect("no v1 hierarchy and no v2 directory"),
    )
    .join(v2)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

fn pure_v2() -> bool {
    nook_cgroups::Layout::detect().unwrap().mode() == nook_cgroups::layout::Mode::V2
}

fn cpu_usage_ns(env: &Env, id: &str) -> u64 {
    let f = cgfile(env, id, "cpuacct", "cpuacct.usage", "cpu.stat");
    let s = read(&f);
    if f.ends_with("cpu.stat") {
        let us: u64 = s
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .unwrap()
            .parse()
            .unwrap();
        us * 1000
    } else {
        s.parse().unwrap()
    }
}

#[test]
fn memory_limit_oom_kills_and_events_report_it() {
    let env = Env::new("oom");
    let mut c = config(&["sh", "-c", "sleep 0.3; dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo dd=$?; sleep 0.5"]);
    c["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432});
    let b = env.bundle("b", &c);
    let id = env.id("oom");
    let out = env.dir.join("out");
    ok(&env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]));
    let events = env
        .cmd()
        .args(["events", "--interval", "1s", &id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let _ = out;
    ok(&env.nook(&["start", &id]));
    env.wait_status(&id, "stopped");
    let ev = events.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&ev.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "oom" && l["id"] == id.as_str()),
        "no oom event in {lines:?}"
    );
    assert!(lines.iter().any(|l| l["type"] == "stats"), "no stats event");
    let stats: serde_json::Value =
        serde_json::from_slice(&ok(&env.nook(&["events", "--stats", &id])).into_bytes()).unwrap();
    let m = &stats["data"]["memory"];
    assert!(
        m["usage"]["max"].as_u64().unwrap() >= 30 << 20,
        "the limit was never reached: {m}"
    );
    ok(&env.nook(&["delete", &id]));
}

#[test]
fn oom_kill_shows_as_137_in_the_container() {
    let env = Env::new("oom137");
    let mut c = config(&[
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo dd=$?",
    ]);
    c["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432});
    let b = env.bundle("b", &c);
    let id = env.id("oom137");
    assert_eq!(ok(&env.run(&id, &b)), "dd=137\n");
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let env = Env::new("pids");
    let mut c = config(&["sleep", "60"]);
    c["linux"]["resources"]["pids"] = json!({"limit": 16});
    let b = env.bundle("b", &c);
    let id = env.id("pids");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    // The bomb forks until the kernel refuses (busybox sh then gives up;
    // the children it made stay).
    let o = env.nook(&["exec", &id, "sh", "-c", "while :; do sleep 30 & done"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("can't fork"), "{}", stderr(&o));
    let n: u32 = read(&cgfile(&env, &id, "pids", "pids.current", "pids.current"))
        .parse()
        .unwrap();
    assert!((10..=16).contains(&n), "pids.current = {n}");
    // the host stays responsive
    let t = Instant::now();
    assert!(std::process::Command::new("true")
        .status()
        .unwrap()
        .success());
    assert!(t.elapsed() < Duration::from_secs(2));
    ok(&env.nook(&["delete", "--force", &id]));
}

#[test]
fn cpu_quota_holds_a_busy_loop_near_20_percent() {
    let env = Env::new("cpu");
    let mut c = config(&["sh", "-c", "while :; do :; done"]);
    c["linux"]["resources"]["cpu"] = json!({"quota": 20000, "period": 100000});
    let b = env.bundle("b", &c);
    let id = env.id("cpu");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    std::thread::sleep(Duration::from_millis(300));
    let (u0, t0) = (cpu_usage_ns(&env, &id), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let (u1, t1) = (cpu_usage_ns(&env, &id), Instant::now());
    let share = (u1 - u0) as f64 / (t1 - t0).as_nanos() as f64;
    ok(&env.nook(&["delete", "--force", &id]));
    assert!(
        (0.12..=0.28).contains(&share),
        "the busy loop got {:.0}% of a CPU",
        share * 100.0
    );
}

#[test]
fn cpuset_pins_to_one_cpu() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    let env = Env::new("cpuset");
    let mut c = config(&["sh", "-c", "grep Cpus_allowed_list /proc/self/status"]);
    c["linux"]["resources"]["cpu"] = json!({"cpus": "1"});
    let b = env.bundle("b", &c);
    let id = env.id("cpuset");
    assert_eq!(ok(&env.run(&id, &b)).split_whitespace().last(), Some("1"));
}

#[test]
fn pause_stops_and_resume_restarts_a_counter() {
    let env = Env::new("freeze");
    let mut c = config(&[
        "sh",
        "-c",
        // written aside and renamed: a reader never sees a half-written file
        "i=0; while :; do i=$((i+1)); echo $i > /tmp/c.t; mv /tmp/c.t /tmp/c; usleep 10000; done",
    ]);
    c["root"]["readonly"] = false.into();
    let b = env.bundle("b", &c);
    let id = env.id("freeze");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    let counter = || -> u64 {
        std::fs::read_to_string(b.join("rootfs/tmp/c"))
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0)
    };
    std::thread::sleep(Duration::from_millis(200));
    ok(&env.nook(&["pause", &id]));
    let a = counter();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(), a, "the counter moved while paused");
    ok(&env.nook(&["resume", &id]));
    // a loaded machine may be slow to schedule it again: allow 5 s
    let t0 = std::time::Instant::now();
    while counter() <= a + 3 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        counter() > a + 3,
        "the counter did not move after resume (still {})",
        counter()
    );
    ok(&env.nook(&["delete", "--force", &id]));
}

#[test]
fn update_raises_and_lowers_limits_of_a_running_container() {
    let env = Env::new("update");
    let mut c = config(&["sleep", "30"]);
    c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    let b = env.bundle("b", &c);
    let id = env.id("update");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    let mem = || {
        read(&cgfile(
            &env,
            &id,
            "memory",
            "memory.limit_in_bytes",
            "memory.max",
        ))
    };
    assert_eq!(mem(), "67108864");
    ok(&env.nook(&["update", "--memory", "128m", &id]));
    assert_eq!(mem(), "134217728");
    ok(&env.nook(&["update", "--memory", "32M", &id]));
    assert_eq!(mem(), "33554432");
    let r = env.dir.join("res.json");
    std::fs::write(&r, r#"{"pids": {"limit": 42}}"#).unwrap();
    ok(&env.nook(&["update", "-r", r.to_str().unwrap(), &id]));
    assert_eq!(
        read(&cgfile(&env, &id, "pids", "pids.max", "pids.max")),
        "42"
    );
    // a CPU limit added later joins the cpu controller
    ok(&env.nook(&[
        "update",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        &id,
    ]));
    let q = read(&cgfile(&env, &id, "cpu", "cpu.cfs_quota_us", "cpu.max"));
    assert!(q == "50000" || q == "50000 100000", "{q}");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let procs = read(&cgfile(
        &env,
        &id,
        "cpu",
        "container/cgroup.procs",
        "container/cgroup.procs",
    ));
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "the container did not join the cpu cgroup: {procs}"
    );
    fails_with(
        &env.nook(&["update", "--memory", "lots", &id]),
        "invalid size",
    );
    ok(&env.nook(&["delete", "--force", &id]));
    assert!(env.leftover_cgroups(&id).is_empty());
}

/// A parent cgroup made by the test under its own cgroup, with a memory
/// limit; removed on drop.
struct Parent {
    dirs: Vec<PathBuf>,
}

impl Parent {
    fn new(name: &str, limit: u64) -> Parent {
        let l = nook_cgroups::Layout::detect().unwrap();
        let mut dirs = Vec::new();
        if let Some(h) = l.v1_for("memory") {
            let d = h.own_dir().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("memory.limit_in_bytes"), limit.to_string()).unwrap();
            let _ = std::fs::write(d.join("memory.memsw.limit_in_bytes"), limit.to_string());
            dirs.push(d);
        } else {
            let m = l.v2.as_ref().unwrap();
            let d = m.own_dir().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("cgroup.subtree_control"), "+memory").unwrap();
            std::fs::write(d.join("memory.max"), limit.to_string()).unwrap();
            let _ = std::fs::write(d.join("memory.swap.max"), "0");
            dirs.push(d);
        }
        Parent { dirs }
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[test]
fn a_limited_parent_bounds_the_containers_below_it() {
    let env = Env::new("parent");
    let pname = format!("nook-it-parent-{}", std::process::id());
    let _parent = Parent::new(&pname, 40 << 20);
    let mut big = config(&[
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd=$?",
    ]);
    big["linux"]["cgroupsPath"] = format!("{pname}/big").into();
    let mut small = config(&[
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=8M count=1 2>/dev/null; echo dd=$?",
    ]);
    small["linux"]["cgroupsPath"] = format!("{pname}/small").into();
    let (bb, bs) = (env.bundle("big", &big), env.bundle("small", &small));
    let (ib, is) = (env.id("big"), env.id("small"));
    // Neither container has a limit of its own: the parent's holds.
    assert_eq!(ok(&env.run(&ib, &bb)), "dd=137\n");
    assert_eq!(ok(&env.run(&is, &bs)), "dd=0\n");
}

#[test]
fn containers_sharing_a_cgroup_path_behave_like_a_pod() {
    let env = Env::new("pod");
    let path = format!("nook-it-pod-{}", std::process::id());
    let mut c = config(&["sleep", "30"]);
    c["linux"]["cgroupsPath"] = path.clone().into();
    let b = env.bundle("b", &c);
    let (a, z) = (env.id("pod-a"), env.id("pod-b"));
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &a]));
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &z]));
    let procs = cgfile(
        &env,
        &a,
        "pids",
        "container/cgroup.procs",
        "container/cgroup.procs",
    );
    assert_eq!(
        procs,
        cgfile(
            &env,
            &z,
            "pids",
            "container/cgroup.procs",
            "container/cgroup.procs"
        )
    );
    assert_eq!(read(&procs).lines().count(), 2);
    ok(&env.nook(&["delete", "--force", &a]));
    assert!(
        procs.exists(),
        "the shared cgroup went away while the other container uses it"
    );
    assert_eq!(env.state(&z)["status"], "running");
    ok(&env.nook(&["delete", "--force", &z]));
    assert!(!procs.exists());
    assert!(
        env.leftover_cgroups(&path).is_empty(),
        "{:?}",
        env.leftover_cgroups(&path)
    );
}

#[test]
fn a_value_the_host_refuses_names_controller_and_file() {
    let env = Env::new("badval");
    let mut c = config(&["true"]);
    c["linux"]["resources"]["cpu"] = json!({"quota": 500, "period": 100000});
    let b = env.bundle("b", &c);
    let id = env.id("badval");
    let o = env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]);
    fails_with(&o, "cgroup cpu");
    assert!(
        stderr(&o).contains("cpu.cfs_quota_us") || stderr(&o).contains("cpu.max"),
        "{}",
        stderr(&o)
    );
    assert!(!env.root.join(&id).exists());
    assert!(env.leftover_cgroups(&id).is_empty());
    c["linux"]["resources"] = json!({"unified": {"memory.high": "100000000"}});
    env.write_config(&b, &c);
    if !pure_v2() {
        fails_with(
            &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
            "unified",
        );
        assert!(env.leftover_cgroups(&id).is_empty());
    }
}

#[test]
fn unified_values_apply_on_v2() {
    if !pure_v2() {
        return;
    }
    let env = Env::new("unified");
    let mut c = config(&["sleep", "30"]);
    c["linux"]["resources"]["unified"] = json!({"memory.high": "104857600", "pids.max": "77"});
    let b = env.bundle("b", &c);
    let id = env.id("unified");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    assert_eq!(
        read(&cgfile(&env, &id, "memory", "", "memory.high")),
        "104857600"
    );
    assert_eq!(read(&cgfile(&env, &id, "pids", "", "pids.max")), "77");
    ok(&env.nook(&["delete", "--force", &id]));
}

#[test]
fn delete_cleans_up_after_the_runtime_was_killed_mid_create() {
    let env = Env::new("midkill");
    let marker = env.dir.join("hook-started");
    let mut c = config(&["true"]);
    c["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("echo $$ > {}; exec sleep 10", marker.display())]}]});
    let b = env.bundle("b", &c);
    let id = env.id("midkill");
    let mut create = env
        .cmd()
        .args(["create", "--bundle", b.to_str().unwrap(), &id])
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !marker.exists() || std::fs::read_to_string(&marker).unwrap().trim().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(10), "the hook never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !env.leftover_cgroups(&id).is_empty(),
        "cgroups should exist mid-create"
    );
    create.kill().unwrap();
    create.wait().unwrap();
    let hook: i32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    unsafe { libc::kill(hook, libc::SIGKILL) };
    ok(&env.nook(&["delete", "--force", &id]));
    assert!(!env.root.join(&id).exists());
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        env.leftover_cgroups(&id).is_empty(),
        "{:?}",
        env.leftover_cgroups(&id)
    );
}

#[test]
fn events_stats_have_runcs_shape() {
    let env = Env::new("stats");
    let b = env.bundle("b", &config(&["sleep", "30"]));
    let id = env.id("stats");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    let v: serde_json::Value =
        serde_json::from_slice(&ok(&env.nook(&["events", "--stats", &id])).into_bytes()).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], id.as_str());
    let d = &v["data"];
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{d}");
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{d}");
    assert!(d["pids"]["current"].as_u64().unwrap() >= 1, "{d}");
    assert!(d["memory"]["raw"].is_object());
    fails_with(&env.nook(&["events", "--interval", "0s", &id]), "interval");
    ok(&env.nook(&["delete", "--force", &id]));
}

fn has_controller(name: &str, v2_name: &str) -> bool {
    let l = nook_cgroups::Layout::detect().unwrap();
    if l.v1_for(name).is_some() {
        return true;
    }
    l.mode() == nook_cgroups::layout::Mode::V2 && l.v2_controllers().iter().any(|c| c == v2_name)
}

#[test]
fn hugetlb_limit_where_the_controller_exists() {
    let env = Env::new("huge");
    let mut c = config(&["sleep", "30"]);
    c["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4194304}]);
    let b = env.bundle("b", &c);
    let id = env.id("huge");
    let o = env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    if !has_controller("hugetlb", "hugetlb") {
        // e.g. this host: hugetlb only on the hybrid v2 mount, not enabled
        fails_with(&o, "hugetlb");
        assert!(env.leftover_cgroups(&id).is_empty());
        return;
    }
    ok(&o);
    assert_eq!(
        read(&cgfile(
            &env,
            &id,
            "hugetlb",
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.2MB.max"
        )),
        "4194304"
    );
    ok(&env.nook(&["delete", "--force", &id]));
}

#[test]
fn block_io_throttle_on_the_root_disk() {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata("/").unwrap().dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let is_block = std::fs::read_link(format!("/sys/dev/block/{major}:{minor}")).is_ok();
    if !is_block || !has_controller("blkio", "io") {
        return;
    }
    // throttling applies to whole disks; use the partition's parent if any
    let sysdev = std::fs::canonicalize(format!("/sys/dev/block/{major}:{minor}")).unwrap();
    let disk = if sysdev.join("partition").exists() {
        sysdev.parent().unwrap().to_path_buf()
    } else {
        sysdev
    };
    let mm = std::fs::read_to_string(disk.join("dev"))
        .unwrap()
        .trim()
        .to_string();
    let (dmaj, dmin) = mm.split_once(':').unwrap();
    let env = Env::new("blkio");
    let mut c = config(&["sleep", "30"]);
    c["linux"]["resources"]["blockIO"] = json!({"throttleReadBpsDevice": [{"major": dmaj.parse::<i64>().unwrap(), "minor": dmin.parse::<i64>().unwrap(), "rate": 1048576}]});
    let b = env.bundle("b", &c);
    let id = env.id("blkio");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    let f = cgfile(
        &env,
        &id,
        "blkio",
        "blkio.throttle.read_bps_device",
        "io.max",
    );
    let v = read(&f);
    assert!(
        v.contains(&format!("{mm} 1048576")) || v.contains(&format!("{mm} rbps=1048576")),
        "{v}"
    );
    ok(&env.nook(&["delete", "--force", &id]));
}

#[test]
fn network_class_id_needs_net_cls() {
    let env = Env::new("netcls");
    let mut c = config(&["true"]);
    c["linux"]["resources"]["network"] = json!({"classID": 1048577});
    let b = env.bundle("b", &c);
    let id = env.id("netcls");
    if has_controller("net_cls", "net_cls") {
        ok(&env.run(&id, &b));
        return;
    }
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "net_cls",
    );
    assert!(env.leftover_cgroups(&id).is_empty());
}

/// A private ftrace instance recording the kernel's cgroup migrations (the
/// `cgroup:cgroup_attach_task` event: which task wrote, which task moved);
/// `None` where tracefs is not mounted.
struct AttachTrace(PathBuf);

impl AttachTrace {
    fn start(tag: &str) -> Option<AttachTrace> {
        let base = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .map(Path::new)
            .find(|p| p.join("instances").is_dir())?;
        let dir = base
            .join("instances")
            .join(format!("nook-it-{tag}-{}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let t = AttachTrace(dir);
        std::fs::write(t.0.join("events/cgroup/cgroup_attach_task/enable"), "1").ok()?;
        Some(t)
    }

    /// (writer pid, moved pid, hierarchy id) of every migration into a
    /// cgroup whose path contains `needle` (hierarchy 0 is cgroup v2).
    fn moves(&self, needle: &str) -> Vec<(i32, i32, i32)> {
        let text = std::fs::read_to_string(self.0.join("trace")).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                // "  comm-PID  [CPU] flags  TIME: cgroup_attach_task: k=v ..."
                let (head, ev) = l.split_once(" cgroup_attach_task: ")?;
                let field = |k: &str| ev.split_whitespace().find_map(|f| f.strip_prefix(k));
                if !field("dst_path=")?.contains(needle) {
                    return None;
                }
                let task = head.trim_start().split(" [").next()?.trim_end();
                Some((
                    task.rsplit_once('-')?.1.parse().ok()?,
                    field("pid=")?.parse().ok()?,
                    field("dst_root=")?.parse().ok()?,
                ))
            })
            .collect()
    }
}

impl Drop for AttachTrace {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("events/cgroup/cgroup_attach_task/enable"), "0");
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The container's process moves itself into its v1 cgroups (its one
/// thread writes "0" to `tasks`); the runtime never writes its pid to
/// `cgroup.procs`.  A pid written there is moved under the kernel's global
/// threadgroup lock, whose write side waits for an RCU grace period unless
/// another migration on the machine happened just before: `run` then cost
/// 5-15 ms more or not depending on what the caller ran before it.
#[test]
fn the_container_process_joins_its_v1_cgroups_itself() {
    if pure_v2() {
        return; // CLONE_INTO_CGROUP: no migration at all
    }
    let Some(trace) = AttachTrace::start("selfjoin") else {
        eprintln!("no tracefs instances: skipped");
        return;
    };
    let env = Env::new("selfjoin");
    let b = env.bundle("b", &config(&["true"]));
    let id = env.id("selfjoin");
    ok(&env.run(&id, &b));
    let moves = trace.moves(&id);
    let v1: Vec<_> = moves.iter().filter(|m| m.2 != 0).collect();
    assert!(
        !v1.is_empty(),
        "no migration into the v1 cgroups of {id} was traced: {moves:?}"
    );
    for (writer, moved, root) in v1 {
        assert_eq!(
            writer, moved,
            "hierarchy {root}: process {moved} was moved by process {writer}, not by itself"
        );
    }
}

/// As for `run`: a process `exec`ed into a running container moves itself
/// into the container's v1 cgroups.
#[test]
fn an_exec_process_joins_the_v1_cgroups_itself() {
    if pure_v2() {
        return;
    }
    let env = Env::new("selfjoinx");
    let b = env.bundle("b", &config(&["sleep", "30"]));
    let id = env.id("selfjoinx");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    let init = env.state(&id)["pid"].as_i64().unwrap() as i32;
    let Some(trace) = AttachTrace::start("selfjoinx") else {
        eprintln!("no tracefs instances: skipped");
        return;
    };
    ok(&env.nook(&["exec", &id, "true"]));
    let moves = trace.moves(&id);
    let v1: Vec<_> = moves.iter().filter(|m| m.2 != 0).collect();
    assert!(
        v1.iter().any(|m| m.1 != init),
        "no migration of the exec'd process into the v1 cgroups of {id} was traced: {moves:?}"
    );
    for (writer, moved, root) in v1 {
        assert_eq!(
            writer, moved,
            "hierarchy {root}: process {moved} was moved by process {writer}, not by itself"
        );
    }
    ok(&env.nook(&["delete", "--force", &id]));
}
