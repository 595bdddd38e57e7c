//! `nook stats` on real containers: a busy loop's CPU %, memory growing
//! under a tmpfs writer (exec'd into the container, so charged to its
//! cgroup), no network, PIDs; the table, JSON and templates; the live
//! table redrawn in place on a terminal; bad input.

use super::lifecycle::Bb;
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

/// `stats --no-stream --format json` rows, by name.
fn sample(b: &Bb, names: &[&str]) -> Vec<Value> {
    let mut args = vec!["stats", "--no-stream", "--format", "json"];
    args.extend_from_slice(names);
    b.ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn percent(v: &Value) -> f64 {
    v.as_str().unwrap().trim_end_matches('%').parse().unwrap()
}

/// A `1.953MiB`-style size, in bytes.
fn bytes(s: &str) -> f64 {
    let units = [
        ("GiB", 1u64 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ];
    for (u, m) in units {
        if let Some(n) = s.strip_suffix(u) {
            return n.parse::<f64>().unwrap() * m as f64;
        }
    }
    panic!("not a size: {s}");
}

fn memory_usage(row: &Value) -> f64 {
    let (usage, _limit) = row["MemUsage"].as_str().unwrap().split_once(" / ").unwrap();
    bytes(usage)
}

#[test]
fn cpu_follows_a_busy_loop_and_an_idle_one_stays_low() {
    let b = Bb::new();
    for (name, script) in [("spin", "while :; do :; done"), ("idle", "sleep 1000")] {
        let args = [
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            "bb:1",
            "sh",
            "-c",
        ];
        b.ok(&[&args[..], &[script]].concat());
    }
    // one busy CPU is 100 %; on a loaded 2-core machine (load ~10 while
    // other builds run) the loop gets a fraction of a CPU, but always far
    // more than an idle one: the best of a few samples is compared
    let mut rows = sample(&b, &["spin", "idle"]);
    for _ in 0..4 {
        if percent(&rows[0]["CPUPerc"]) > 20.0 {
            break;
        }
        rows = sample(&b, &["spin", "idle"]);
    }
    assert_eq!(rows.len(), 2);
    let (spin, idle) = (&rows[0], &rows[1]);
    assert_eq!(spin["Name"], "spin");
    let busy = percent(&spin["CPUPerc"]);
    let calm = percent(&idle["CPUPerc"]);
    assert!(
        busy > 8.0 && busy > 10.0 * calm,
        "busy loop at {busy}%, idle at {calm}%"
    );
    assert!(calm < 5.0, "sleeping container at {calm}%");
    assert!(busy <= 200.0, "more than the 2 CPUs: {busy}%");
    for r in &rows {
        assert_eq!(r["NetIO"], "0B / 0B", "network none: only loopback");
        assert_eq!(r["PIDs"], "1");
        assert!(percent(&r["MemPerc"]) < 5.0);
        assert!(r["BlockIO"].as_str().unwrap().contains(" / "));
    }
    let id = b.field("spin", "{{.Id}}");
    assert_eq!(spin["ID"], &id[..12]);
    // the table, and a template
    let table = b.ok(&["stats", "--no-stream"]);
    let head: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        head,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    assert_eq!(table.lines().count(), 3, "{table}");
    let t = b.ok(&[
        "stats",
        "--no-stream",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Name}}",
        "spin",
    ]);
    assert_eq!(t, format!("{id} spin\n"));
}

#[test]
fn memory_usage_grows_under_a_writer() {
    let b = Bb::new();
    b.detached("mem", "sleep 1000");
    let before = memory_usage(&sample(&b, &["mem"])[0]);
    // 64 MiB in the container's /dev/shm (tmpfs: memory, not disk cache)
    let dd = "dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=64";
    b.ok(&["exec", "mem", "sh", "-c", dd]);
    let after = memory_usage(&sample(&b, &["mem"])[0]);
    assert!(after - before > 50.0 * 1048576.0, "{before} -> {after}");
    // -a shows a stopped container too, with nothing used
    b.ok(&["run", "--name", "gone", "bb:1", "sh", "-c", "true"]);
    let names: Vec<String> = b
        .ok(&[
            "stats",
            "-a",
            "--no-stream",
            "--format",
            "{{.Name}} {{.CPUPerc}} {{.MemUsage}}",
        ])
        .lines()
        .map(String::from)
        .collect();
    assert!(
        names.contains(&"gone 0.00% 0B / 0B".to_string()),
        "{names:?}"
    );
    assert_eq!(names.len(), 2);
    assert_eq!(
        b.ok(&["stats", "--no-stream", "--format", "{{.Name}}"]),
        "mem\n"
    );
}

#[test]
fn live_table_redraws_in_place_on_a_terminal() {
    let b = Bb::new();
    b.detached("live", "sleep 1000");
    // `script` gives `nook stats` a terminal; its output is the typescript
    let nook = env!("CARGO_BIN_EXE_nook");
    let child = std::process::Command::new("script")
        .args(["-qfec", &format!("{nook} stats live"), "/dev/null"])
        .env("NOOK_ROOT", &b.n.root)
        .env("NOOK_CGROUP_PARENT", &b.n.cgroup_parent)
        .env("NOOK_NETNS", b.n.netns_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let frames = text.matches("\x1b[2J\x1b[H").count();
    assert!(frames >= 2, "{frames} redraws in {text:?}");
    assert!(text.matches("CONTAINER ID").count() >= 2, "{text:?}");
    assert!(text.contains(" live "), "{text:?}");
}

#[test]
fn stats_bad_input() {
    let b = Bb::new();
    b.detached("s1", "sleep 1000");
    let err =
        b.n.fails(&["stats", "--no-stream", "--format", "{{.Nope}}"]);
    assert!(err.contains("Nope"), "{err}");
    let err = b.n.fails(&["stats", "--no-stream", "nosuch"]);
    assert!(err.contains("nosuch"), "{err}");
}
