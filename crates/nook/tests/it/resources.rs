//! Resource flags: each limit read back from inside the container (its
//! cgroup files, /proc/self/oom_score_adj, `df /dev/shm`) and from its
//! cgroup on the host; a memory hog OOM-killed, a fork bomb stopped by the
//! pids limit, `update` of a running container, `inspect`'s HostConfig,
//! and bad values refused (one line, 125, nothing left).  Files are looked
//! up on the cgroup version the host has for each controller (v1 here,
//! v2 in the lead's VM).

use super::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// A store with busybox imported as `bb:1`; its containers (and any mount
/// left) are removed when it is dropped.
struct Store {
    n: Nook,
}

impl Store {
    fn new() -> Store {
        let n = Nook::new();
        let tar = n.dir.path().join("busybox.tar");
        std::fs::write(&tar, busybox_layer()).unwrap();
        n.ok(&["import", tar.to_str().unwrap(), "bb:1"]);
        Store { n }
    }

    /// `nook run -d ... bb:1 sh -c 'sleep 600'`: the full id.
    fn sleeper(&self, flags: &[&str]) -> String {
        let mut args = vec!["run", "-d"];
        args.extend(flags);
        args.extend(["bb:1", "sh", "-c", "sleep 600"]);
        self.n.ok(&args).trim().to_string()
    }

    /// A shell command's stdout in running container `id`.
    fn inside(&self, id: &str, script: &str) -> String {
        self.n.ok(&["exec", id, "sh", "-c", script])
    }

    /// One cgroup file as the container sees it.
    fn inside_cg(&self, id: &str, ctl: &str, v1: &str, v2: &str) -> String {
        let path = match v1_has(ctl) {
            true => format!("/sys/fs/cgroup/{ctl}/{v1}"),
            false => format!("/sys/fs/cgroup/{v2}"),
        };
        self.inside(id, &format!("cat {path}")).trim().to_string()
    }

    /// One file of the container's cgroup on the host (the runtime's
    /// state says where it is).
    fn host_cg(&self, id: &str, ctl: &str, v1: &str, v2: &str) -> String {
        let st: Value = serde_json::from_slice(
            &std::fs::read(self.n.root.join("run").join(id).join("state.json")).unwrap(),
        )
        .unwrap();
        let cg = &st["cgroup"];
        let v1_dir = cg["v1"].as_object().and_then(|m| {
            m.iter()
                .find(|(k, _)| k.split(',').any(|c| c == ctl))
                .map(|(_, d)| Path::new(d.as_str().unwrap()).join(v1))
        });
        let file = v1_dir.unwrap_or_else(|| Path::new(cg["v2"].as_str().unwrap()).join(v2));
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .trim()
            .to_string()
    }

    /// The same file inside and on the host, checked to be equal.
    fn cg(&self, id: &str, ctl: &str, v1: &str, v2: &str) -> String {
        let inside = self.inside_cg(id, ctl, v1, v2);
        assert_eq!(inside, self.host_cg(id, ctl, v1, v2), "{ctl}: {v1}/{v2}");
        inside
    }

    fn host_config(&self, id: &str) -> Value {
        let v: Value =
            serde_json::from_str(&self.n.ok(&["inspect", "-f", "{{json .HostConfig}}", id]))
                .unwrap();
        v
    }

    /// Nothing of any container is left: no record, no root file system,
    /// no cgroup below the store's cgroup parent, no mount.
    fn assert_empty(&self) {
        assert!(self.n.ids().is_empty(), "{:?}", self.n.ids());
        assert!(entries(&self.n.root.join("storage/containers")).is_empty());
        assert!(entries(&self.n.root.join("containers")).is_empty());
        for d in cgroup_dirs_named(&self.n.cgroup_parent) {
            let subdirs: Vec<_> = std::fs::read_dir(&d)
                .unwrap()
                .flatten()
                .filter(|e| e.file_type().unwrap().is_dir())
                .map(|e| e.path())
                .collect();
            assert!(subdirs.is_empty(), "{subdirs:?}");
        }
        let root = self.n.root.to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(&root), "a mount is left below {root}");
    }
}

/// Whether controller `ctl` is on a v1 hierarchy here (else it is on v2).
fn v1_has(ctl: &str) -> bool {
    nook_cgroups::Layout::detect()
        .unwrap()
        .v1_for(ctl)
        .is_some()
}

/// The host's CPUs this process may use, as the engine reads them.
fn host() -> nook_engine::container::resources::HostLimits {
    nook_engine::container::resources::HostLimits::probe()
}

/// A shell that doubles a string until it is `2^n` bytes (for ever
/// without `n`): memory touched by the program itself, which waits at the
/// limit when the OOM killer is off (a `read` into a buffer would fail
/// with ENOMEM instead).
fn hog(n: Option<u32>) -> String {
    match n {
        Some(n) => {
            format!("x=a; i=0; while [ $i -lt {n} ]; do x=$x$x; i=$((i+1)); done; echo ${{#x}}")
        }
        None => "x=a; while :; do x=$x$x; done".into(),
    }
}

/// A block device of this machine (`/dev/vda`) and its `major:minor`
/// (none in the v2 VM, whose root is shared over 9p).
fn block_device() -> Option<(String, String)> {
    let mut names: Vec<String> = entries(Path::new("/sys/block")).into_iter().collect();
    // a disk before loop and RAM devices
    names.sort_by_key(|n| ["loop", "ram", "zram"].iter().any(|p| n.starts_with(p)));
    for n in names {
        let dev = format!("/dev/{n}");
        let Ok(numbers) = std::fs::read_to_string(format!("/sys/block/{n}/dev")) else {
            continue;
        };
        if std::fs::metadata(&dev).is_ok() {
            return Some((dev, numbers.trim().to_string()));
        }
    }
    None
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn each_limit_is_in_effect_inside_and_on_the_host_and_inspect_shows_it() {
    let s = Store::new();
    let cpu = host().cpus;
    let last_cpu = nook_engine::container::resources::parse_list(&cpu)
        .unwrap()
        .into_iter()
        .next_back()
        .unwrap()
        .to_string();
    let disk = block_device();
    let throttles: Vec<String> = match &disk {
        Some((dev, _)) => vec![
            "--device-read-bps".into(),
            format!("{dev}:1mb"),
            "--device-write-iops".into(),
            format!("{dev}:200"),
        ],
        None => Vec::new(),
    };
    // 1.5 CPUs where the host has two (the quota per 100ms period)
    let (cpus, quota) = match host().ncpu {
        1 => ("0.5", 50_000),
        _ => ("1.5", 150_000),
    };
    let mut flags = vec![
        "-m",
        "64m",
        "--memory-reservation",
        "32m",
        "--cpus",
        cpus,
        "-c",
        "512",
        "--cpuset-cpus",
        &last_cpu,
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "50",
        "--oom-score-adj",
        "300",
        "--memory-swappiness",
        "10",
        "--shm-size",
        "16m",
    ];
    flags.extend(throttles.iter().map(String::as_str));
    let id = s.sleeper(&flags);
    let mem = |v1: &str, v2: &str| s.cg(&id, "memory", v1, v2);
    assert_eq!(mem("memory.limit_in_bytes", "memory.max"), "67108864");
    assert_eq!(mem("memory.soft_limit_in_bytes", "memory.low"), "33554432");
    if v1_has("memory") {
        assert_eq!(mem("memory.swappiness", ""), "10");
        assert_eq!(s.host_config(&id)["MemorySwappiness"], json!(10));
    }
    if v1_has("memory") && host().swap_limit {
        // Docker's default: memory+swap twice the memory
        assert_eq!(mem("memory.memsw.limit_in_bytes", ""), "134217728");
    }
    let cpu_file = |v1: &str| s.cg(&id, "cpu", v1, "cpu.max");
    match v1_has("cpu") {
        true => {
            assert_eq!(cpu_file("cpu.cfs_quota_us"), quota.to_string());
            assert_eq!(cpu_file("cpu.cfs_period_us"), "100000");
            assert_eq!(cpu_file("cpu.shares"), "512");
        }
        false => {
            assert_eq!(cpu_file(""), format!("{quota} 100000"));
            let w = nook_cgroups::resources::shares_to_weight(512).to_string();
            assert_eq!(s.cg(&id, "cpu", "", "cpu.weight"), w);
        }
    }
    assert_eq!(s.cg(&id, "cpuset", "cpuset.cpus", "cpuset.cpus"), last_cpu);
    assert_eq!(s.cg(&id, "cpuset", "cpuset.mems", "cpuset.mems"), "0");
    assert_eq!(s.cg(&id, "pids", "pids.max", "pids.max"), "50");
    match (&disk, v1_has("blkio")) {
        (None, _) => {}
        (Some((_, numbers)), true) => {
            let f = |name: &str| s.cg(&id, "blkio", name, "");
            assert_eq!(
                f("blkio.throttle.read_bps_device"),
                format!("{numbers} 1048576")
            );
            assert_eq!(
                f("blkio.throttle.write_iops_device"),
                format!("{numbers} 200")
            );
        }
        (Some((_, numbers)), false) => {
            let io = s.cg(&id, "io", "", "io.max");
            let line = io
                .lines()
                .find(|l| l.starts_with(numbers.as_str()))
                .unwrap_or("");
            assert!(
                line.contains("rbps=1048576") && line.contains("wiops=200"),
                "{io}"
            );
        }
    }
    assert_eq!(s.inside(&id, "cat /proc/1/oom_score_adj"), "300\n");
    assert_eq!(s.inside(&id, "cat /proc/self/oom_score_adj"), "300\n");
    let df = s.inside(&id, "df -k /dev/shm");
    let blocks = df
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap();
    assert_eq!(blocks, "16384", "{df}");

    let hc = s.host_config(&id);
    for (k, want) in [
        ("Memory", json!(64 << 20)),
        ("MemoryReservation", json!(32 << 20)),
        ("NanoCpus", json!(quota * 10_000)),
        ("CpuShares", json!(512)),
        ("CpusetCpus", json!(last_cpu)),
        ("CpusetMems", json!("0")),
        ("PidsLimit", json!(50)),
        ("OomScoreAdj", json!(300)),
        ("ShmSize", json!(16 << 20)),
        ("CpuQuota", json!(0)),
    ] {
        assert_eq!(hc[k], want, "HostConfig.{k}: {hc}");
    }
    if let Some((dev, _)) = &disk {
        let read = json!([{"Path": dev, "Rate": 1 << 20}]);
        assert_eq!(hc["BlkioDeviceReadBps"], read);
        let write = json!([{"Path": dev, "Rate": 200}]);
        assert_eq!(hc["BlkioDeviceWriteIOps"], write);
    }
    s.n.ok(&["rm", "-f", &id]);

    // Docker's defaults: /dev/shm of 64m, no limit, no pids limit
    let id = s.sleeper(&[]);
    let df = s.inside(&id, "df -k /dev/shm");
    assert_eq!(
        df.lines().nth(1).unwrap().split_whitespace().nth(1),
        Some("65536")
    );
    let hc = s.host_config(&id);
    assert_eq!(
        (
            &hc["Memory"],
            &hc["PidsLimit"],
            &hc["ShmSize"],
            &hc["NanoCpus"]
        ),
        (&json!(0), &Value::Null, &json!(64 << 20), &json!(0))
    );
    s.n.ok(&["rm", "-f", &id]);
    s.assert_empty();
}

#[test]
fn a_memory_hog_is_oom_killed_and_a_fork_bomb_meets_the_pids_limit() {
    let s = Store::new();
    let t = Instant::now();
    let out =
        s.n.run(&["run", "--rm", "-m", "16m", "bb:1", "sh", "-c", &hog(None)]);
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    assert!(t.elapsed() < Duration::from_secs(30));
    // the same program with a bound stays below the limit and runs
    let out = s.n.run(&[
        "run",
        "--rm",
        "-m",
        "16m",
        "bb:1",
        "sh",
        "-c",
        &hog(Some(20)),
    ]);
    assert_eq!(
        (out.status.code(), text(&out.stdout).trim()),
        (Some(0), "1048576"),
        "{}",
        text(&out.stderr)
    );

    let bomb = "i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); done; echo started";
    let out =
        s.n.run(&["run", "--rm", "--pids-limit", "8", "bb:1", "sh", "-c", bomb]);
    let err = text(&out.stderr);
    assert!(err.contains("can't fork"), "{err}");
    // without the limit all 20 start
    let out = s.n.run(&["run", "--rm", "bb:1", "sh", "-c", bomb]);
    assert_eq!(text(&out.stdout), "started\n", "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("can't fork"));
    s.assert_empty();
}

#[test]
fn update_changes_a_running_containers_limits_and_saves_them() {
    let s = Store::new();
    let id = s.sleeper(&["--name", "limited", "-m", "64m", "--pids-limit", "10"]);
    let mem = || s.cg(&id, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(mem(), "67108864");
    assert_eq!(
        s.n.ok(&[
            "update",
            "-m",
            "128m",
            "--memory-swap",
            "256m",
            "--pids-limit",
            "20",
            "limited"
        ]),
        "limited\n"
    );
    assert_eq!(mem(), "134217728");
    assert_eq!(s.cg(&id, "pids", "pids.max", "pids.max"), "20");
    if v1_has("memory") && host().swap_limit {
        assert_eq!(
            s.cg(&id, "memory", "memory.memsw.limit_in_bytes", ""),
            "268435456"
        );
    }
    let hc = s.host_config("limited");
    assert_eq!(
        (&hc["Memory"], &hc["MemorySwap"], &hc["PidsLimit"]),
        (&json!(128 << 20), &json!(256 << 20), &json!(20))
    );
    // a CPU limit the container had no cgroup for yet lands on the host
    s.n.ok(&["update", "--cpus", "0.5", &id[..12]]);
    let quota = match v1_has("cpu") {
        true => s.host_cg(&id, "cpu", "cpu.cfs_quota_us", ""),
        false => s.host_cg(&id, "cpu", "", "cpu.max"),
    };
    assert!(quota.starts_with("50000"), "{quota}");
    assert_eq!(s.host_config(&id)["NanoCpus"], json!(500_000_000));

    // `create` takes the same flags, `container update` is `update`
    let made =
        s.n.ok(&["create", "-m", "32m", "--pids-limit", "7", "bb:1", "sh"]);
    let made = made.trim();
    assert_eq!(s.host_config(made)["Memory"], json!(32 << 20));
    s.n.ok(&["container", "update", "--pids-limit", "9", made]);
    assert_eq!(s.host_config(made)["PidsLimit"], json!(9));
    s.n.ok(&["rm", made]);

    // refused updates change nothing
    let err = s.n.fails(&["update", "-m", "4m", "limited"]);
    assert_eq!(err, "Error: Minimum memory limit allowed is 6MB\n");
    let err = s.n.fails(&["update", "-m", "512m", "limited"]);
    assert!(
        err.contains("Memory limit should be smaller than already set memoryswap limit"),
        "{err}"
    );
    let err = s.n.fails(&["update", "--cpu-quota", "20000", "limited"]);
    assert!(err.contains("NanoCPUs has already been set"), "{err}");
    let err = s.n.fails(&["update", "--pids-limit", "x", "limited"]);
    assert!(
        err.contains(r#"invalid argument "x" for "--pids-limit" flag"#),
        "{err}"
    );
    let err = s.n.fails(&["update", "-m", "64m", "nosuchbox"]);
    assert!(err.contains("nosuchbox"), "{err}");
    assert_eq!(mem(), "134217728");
    assert_eq!(s.host_config(&id)["Memory"], json!(128 << 20));

    // a stopped container keeps its new limits for its next start
    s.n.ok(&["kill", "limited"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.n.ok(&["ps", "-q"]).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    s.n.ok(&["update", "-m", "96m", "limited"]);
    assert_eq!(s.host_config(&id)["Memory"], json!(96 << 20));
    s.n.ok(&["rm", "limited"]);
    s.assert_empty();
}

/// Impossible values (flags) and Docker's messages, the same on any host.
const BAD: &[(&[&str], &str)] = &[
    (
        &["-m", "abc"],
        r#"invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'"#,
    ),
    (&["-m", "4m"], "Minimum memory limit allowed is 6MB"),
    (
        &["-m", "10m", "--memory-swap", "5m"],
        "Minimum memoryswap limit should be larger than memory limit, see usage",
    ),
    (
        &["--memory-swap", "1g"],
        "You should always set the Memory limit when using Memoryswap limit, see usage",
    ),
    (
        &["--memory-reservation", "1m"],
        "Minimum memory reservation allowed is 6MB",
    ),
    (
        &["-m", "10m", "--memory-reservation", "20m"],
        "Minimum memory limit can not be less than memory reservation limit, see usage",
    ),
    (
        &["--cpus", "x"],
        r#"invalid argument "x" for "--cpus" flag: failed to parse x as a rational number"#,
    ),
    (
        &["--cpus", "1", "--cpu-quota", "50000"],
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
    ),
    (
        &["--cpu-period", "100"],
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
    ),
    (
        &["--cpu-quota", "10"],
        "CPU cfs quota can not be less than 1ms (i.e. 1000)",
    ),
    (
        &["--cpuset-cpus", "0-x"],
        "Invalid value 0-x for cpuset cpus: invalid format: 0-x",
    ),
    (
        &["--blkio-weight", "5"],
        "Range of blkio weight is from 10 to 1000",
    ),
    (
        &["--device-read-bps", "/dev/nook-no-such-disk:1mb"],
        "stat /dev/nook-no-such-disk: no such file or directory",
    ),
    (
        &["--device-write-bps", "/dev/null:1mb"],
        "/dev/null is not a block device",
    ),
    (
        &["--device-read-iops", "/dev/null:fast"],
        r#"invalid argument "/dev/null:fast" for "--device-read-iops" flag: invalid rate for device: /dev/null:fast. The correct format is <device-path>:<number>. Number must be a positive integer"#,
    ),
    (
        &["--oom-score-adj", "1001"],
        "Invalid value 1001, range for oom score adj is [-1000, 1000]",
    ),
    (
        &["--pids-limit", "many"],
        r#"invalid argument "many" for "--pids-limit" flag: strconv.ParseInt: parsing "many": invalid syntax"#,
    ),
    (
        &["--shm-size", "-1"],
        r#"invalid argument "-1" for "--shm-size" flag: invalid size: '-1'"#,
    ),
    (
        &["--kernel-memory", "1m"],
        "Minimum kernel memory limit allowed is 4MB",
    ),
    (
        &["--memory-swappiness", "101"],
        "Invalid value: 101, valid memory swappiness range is 0-100",
    ),
];

/// Impossible values (flags) with Docker's messages for this host.
fn bad_values() -> Vec<(Vec<String>, String)> {
    let h = host();
    let n = h.ncpu;
    let mut out: Vec<(Vec<String>, String)> =
        BAD.iter().map(|(f, m)| (svec(f), m.to_string())).collect();
    let cpus =
        format!("Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available");
    out.push((svec(&["--cpus", &(n + 1).to_string()]), cpus));
    let cpuset = format!(
        "Requested CPUs are not available - requested 64-65, available: {}",
        h.cpus
    );
    out.push((svec(&["--cpuset-cpus", "64-65"]), cpuset));
    let mems = format!(
        "Requested memory nodes are not available - requested 64, available: {}",
        h.mems
    );
    out.push((svec(&["--cpuset-mems", "64"]), mems));
    out
}

fn svec(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn impossible_values_are_one_line_125_and_leave_nothing() {
    let s = Store::new();
    for (flags, want) in bad_values() {
        let mut args = vec!["run", "--rm", "--name", "bad"];
        args.extend(flags.iter().map(String::as_str));
        args.extend(["bb:1", "sh", "-c", "true"]);
        let err = s.n.fails(&args);
        assert_eq!(err, format!("Error: {want}\n"), "{flags:?}");
        s.assert_empty();
    }
}

#[test]
fn oom_kill_disable_keeps_a_hog_waiting_on_cgroup_v1() {
    let s = Store::new();
    let mut args = vec![
        "run",
        "-d",
        "--oom-kill-disable",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
    ];
    let hog = hog(None);
    args.extend(["bb:1", "sh", "-c", &hog]);
    let out = s.n.run(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_string();
    if !v1_has("memory") {
        // v2 has no switch: Docker's warning, and the hog is killed
        assert!(text(&out.stderr).contains("OomKillDisable discarded"));
        return;
    }
    let control = || s.host_cg(&id, "memory", "memory.oom_control", "");
    assert!(control().contains("oom_kill_disable 1"), "{}", control());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !control().contains("under_oom 1") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(control().contains("under_oom 1"), "{}", control());
    // it waits at its limit instead of being killed
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.n.ok(&["ps", "-q", "--no-trunc"]).trim(), id);
    s.n.ok(&["rm", "-f", &id]);
    s.assert_empty();
}
