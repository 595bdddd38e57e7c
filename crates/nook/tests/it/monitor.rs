//! Detached containers under the nook-monitor program: the monitor is
//! small (no engine in it) and the container's parent; the exit is
//! recorded by its exit command; k8s-file logs, rotation and `logs -f`
//! across rotations; `--restart` and `stop`; `--rm`; SIGKILL of
//! `nook run -d` and of the monitor at several points, then `ps -a`
//! truthful and `rm -f` leaving nothing; 20 concurrent `run --rm`.  The
//! image is busybox imported from a tar (no registry).  Every test
//! removes its containers, mounts and cgroups however it ends.

use super::*;
use std::time::{Duration, Instant};

/// A store with busybox imported as `bb`, emptied on drop.
pub(super) struct Store {
    pub(super) n: Nook,
}

impl Store {
    pub(super) fn new() -> Store {
        let n = Nook::new();
        let tar = n.dir.path().join("bb.tar");
        std::fs::write(&tar, layout::busybox_layer_with_dirs(&["etc/", "tmp/"])).unwrap();
        n.ok(&["import", tar.to_str().unwrap(), "bb"]);
        Store { n }
    }

    fn state(&self) -> nook_state::State {
        nook_state::State::open(self.n.root.join("nook.db")).unwrap()
    }

    pub(super) fn record(&self, id: &str) -> Option<nook_state::ContainerRecord> {
        self.state().container(id).unwrap()
    }

    /// `ps -a`'s STATUS of `id`.
    pub(super) fn status(&self, id: &str) -> String {
        self.n
            .ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Status}}"])
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{id} ")).map(String::from))
            .unwrap_or_default()
    }

    /// Wait until `id`'s status starts with `prefix`.
    pub(super) fn wait_status(&self, id: &str, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.status(id);
            if s.starts_with(prefix) {
                return s;
            }
            assert!(Instant::now() < deadline, "{id}: {s:?}, not {prefix:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Nothing of any container left: record, mount, cgroup, directories.
    fn assert_empty(&self) {
        assert!(self.n.ids().is_empty(), "{:?}", self.n.ids());
        assert!(self.n.mounts().is_empty(), "{:?}", self.n.mounts());
        for d in ["containers", "storage/containers", "run"] {
            // (the runtime's cache of compiled seccomp filters stays)
            let mut left = entries(&self.n.root.join(d));
            left.remove(".cache");
            assert!(left.is_empty(), "{d}: {left:?}");
        }
        let parent = cgroup_dirs_named(&self.n.cgroup_parent);
        for p in parent {
            let kids: Vec<_> = std::fs::read_dir(&p)
                .unwrap()
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name())
                .collect();
            assert!(kids.is_empty(), "cgroups left in {}: {kids:?}", p.display());
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether `pid` runs (a zombie does not: an orphan is reaped by
/// whoever adopted it, maybe late).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.get(s.rfind(')')? + 2..).map(|r| !r.starts_with('Z')))
        .unwrap_or(false)
}

fn sigkill(pid: i32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
}

/// Field `n` after the command of /proc/PID/stat (1: the parent pid,
/// 3: the session); 0 when it is gone.
fn stat_field(pid: i32, n: usize) -> i32 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            rest.split(' ').nth(n)?.parse().ok()
        })
        .unwrap_or(0)
}

fn ppid(pid: i32) -> i32 {
    stat_field(pid, 1)
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn the_monitor_is_the_small_program_its_containers_parent_and_records_the_exit() {
    let s = Store::new();
    let script = "echo out; echo err >&2; sleep 4; exit 3";
    let id = s.n.ok(&["run", "-d", "bb", "sh", "-c", script]);
    let id = id.trim();
    let rec = s.record(id).unwrap();
    let (pid, monitor) = (rec.pid.unwrap(), rec.monitor_pid.unwrap());
    assert_eq!(comm(monitor), "nook-monitor");
    assert_eq!(ppid(pid), monitor, "the container is the monitor's child");
    assert_eq!(stat_field(monitor, 3), monitor, "a session of its own");
    // no engine in it: no SQLite linked in, no store open
    let exe = std::fs::read(format!("/proc/{monitor}/exe")).unwrap();
    assert!(
        !exe.windows(15).any(|w| w == b"SQLite format 3"),
        "nook-monitor links SQLite"
    );
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{monitor}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert!(!fds.iter().any(|f| f.contains("nook.db")), "{fds:?}");
    assert!(s.status(id).starts_with("Up "));
    // the exit: the exit file, then the record (by the exit command)
    // (how long ago depends on the machine's speed)
    let status = s.wait_status(id, "Exited");
    assert!(status.starts_with("Exited (3) "), "{status}");
    let exit = std::fs::read_to_string(s.n.root.join("containers").join(id).join("exit"));
    assert!(exit.unwrap().starts_with("3 "));
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.record(id).unwrap().status != nook_state::ContainerStatus::Exited {
        assert!(Instant::now() < deadline, "the exit was never recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(monitor) || comm(monitor) != "nook-monitor");
    assert!(s.n.mounts().is_empty(), "an exited container is unmounted");
    let logs = s.n.run(&["logs", id]);
    assert_eq!(
        (text(&logs.stdout), text(&logs.stderr)),
        ("out\n".into(), "err\n".into())
    );
    let state = s.n.ok(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.HostConfig.LogConfig.Type}}",
        id,
    ]);
    assert_eq!(state, "3 json-file\n");
    s.n.ok(&["rm", id]);
    s.assert_empty();
}

#[test]
fn k8s_file_logs_rotate_and_logs_f_follows_across_rotations() {
    let s = Store::new();
    let script =
        "i=0; while [ $i -lt 150 ]; do echo line $i; i=$((i+1)); sleep 0.01; done; printf end";
    let id = s.n.ok(&[
        "run",
        "-d",
        "--log-driver",
        "k8s-file",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "bb",
        "sh",
        "-c",
        script,
    ]);
    let id = id.trim();
    let follow = s.n.cmd(&["logs", "-f", id]).output().unwrap();
    assert!(follow.status.success(), "{}", text(&follow.stderr));
    // -f saw every line, in order, across the rotations, and ended
    let want: String = (0..150).map(|i| format!("line {i}\n")).collect::<String>() + "end";
    assert_eq!(text(&follow.stdout), want);
    s.wait_status(id, "Exited (0)");
    // three files of at most 1 KiB, k8s-file lines
    let log = s.n.root.join("containers").join(id).join("container.log");
    let name = |n: u32| match n {
        0 => log.clone(),
        n => PathBuf::from(format!("{}.{n}", log.display())),
    };
    assert!(name(1).exists() && name(2).exists() && !name(3).exists());
    for n in 0..3 {
        let t = std::fs::read_to_string(name(n)).unwrap();
        assert!(t.len() <= 1024, "{n}: {} bytes", t.len());
        for l in t.lines() {
            let f: Vec<&str> = l.splitn(4, ' ').collect();
            assert!(f[0].len() == 30 && f[0].ends_with('Z'), "{l}");
            assert!(f[1] == "stdout" && (f[2] == "F" || f[2] == "P"), "{l}");
        }
    }
    // logs reads the rotated files too: a run of the last lines
    let all = s.n.ok(&["logs", id]);
    assert!(all.ends_with("line 148\nline 149\nend"), "{all}");
    let first: usize = all[5..all.find('\n').unwrap()].parse().unwrap();
    let want: String = (first..150)
        .map(|i| format!("line {i}\n"))
        .collect::<String>()
        + "end";
    assert_eq!(all, want);
    assert!(all.lines().count() > 30, "more than the current file");
    assert_eq!(s.n.ok(&["logs", "--tail", "2", id]), "line 149\nend");
    s.n.ok(&["rm", id]);
}

#[test]
fn restart_policies_are_applied_and_stop_prevents_restarts() {
    let s = Store::new();
    // on-failure:2: three runs in all
    let id = s.n.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:2",
        "bb",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    let id = id.trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.record(&id).unwrap().restart_count < 2
        || s.record(&id).unwrap().status != nook_state::ContainerStatus::Exited
    {
        assert!(Instant::now() < deadline, "{:?}", s.record(&id));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(s.n.ok(&["logs", &id]), "run\nrun\nrun\n");
    let got = s.n.ok(&[
        "inspect",
        "-f",
        "{{.RestartCount}} {{.State.ExitCode}} {{.State.Status}}",
        &id,
    ]);
    assert_eq!(got, "2 3 exited\n");
    assert!(s.status(&id).starts_with("Exited (3)"));

    // always: ps shows it restarting; stop ends it for good
    let id = s.n.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "bb",
        "sh",
        "-c",
        "exit 1",
    ]);
    let id = id.trim().to_string();
    assert!(s.wait_status(&id, "Restarting (1)").contains("ago"));
    s.n.ok(&["stop", "-t", "1", &id]);
    let count = s.record(&id).unwrap().restart_count;
    std::thread::sleep(Duration::from_millis(1500));
    let rec = s.record(&id).unwrap();
    assert_eq!(rec.restart_count, count, "restarted after stop");
    assert!(s.status(&id).starts_with("Exited (1)"), "{}", s.status(&id));

    // a long-running one with --restart always: stop, and it stays stopped
    let id = s.n.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "bb",
        "sh",
        "-c",
        "sleep 30",
    ]);
    let id = id.trim().to_string();
    s.n.ok(&["stop", "-t", "0", &id]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s.status(&id).starts_with("Exited (137)"),
        "{}",
        s.status(&id)
    );
    assert_eq!(s.record(&id).unwrap().restart_count, 0);

    assert_eq!(s.n.ids().len(), 3);
    for id in s.n.ids() {
        s.n.ok(&["rm", "-f", &id]);
    }
    s.assert_empty();
}

#[test]
fn bad_restart_and_log_values_are_one_line_and_leave_nothing() {
    let s = Store::new();
    // one line, 125, nothing made
    let e =
        s.n.fails(&["run", "-d", "--restart", "sometimes", "bb", "true"]);
    assert!(e.contains("\"sometimes\""), "{e}");
    let e =
        s.n.fails(&["run", "-d", "--rm", "--restart", "always", "bb", "true"]);
    assert!(e.contains("--restart and --rm"), "{e}");
    let e =
        s.n.fails(&["run", "-d", "--log-opt", "max-size=lots", "bb", "true"]);
    assert!(e.contains("\"lots\""), "{e}");
    let e =
        s.n.fails(&["run", "-d", "--log-driver", "syslog", "bb", "true"]);
    assert!(e.contains("\"syslog\""), "{e}");
    s.assert_empty();
}

#[test]
fn detached_rm_removes_it_all_when_it_exits() {
    let s = Store::new();
    let id = s.n.ok(&["run", "-d", "--rm", "bb", "sh", "-c", "sleep 3"]);
    let id = id.trim();
    assert!(s.status(id).starts_with("Up "));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !s.n.ids().is_empty() {
        assert!(Instant::now() < deadline, "--rm left {id}");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.assert_empty();
}

/// Start `nook run -d` and SIGKILL it (and, with `child`, the process it
/// forked, the monitor to be) after `after`.
fn kill_run_d(s: &Store, after: Duration, child: bool) {
    let mut cli =
        s.n.cmd(&["run", "-d", "bb", "sh", "-c", "sleep 0.5"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    std::thread::sleep(after);
    let pid = cli.id() as i32;
    if child {
        // the forked child: a process whose parent is the CLI
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() {
                if ppid(p) == pid {
                    sigkill(p);
                }
            }
        }
    }
    sigkill(pid);
    let _ = cli.wait();
}

/// Every container `ps -a` shows is shown truthfully: `Up` only while
/// its process lives, or its monitor is still at work on its exit (its
/// output drained, the exit not yet written); then `rm -f` removes each,
/// leaving nothing.
fn truthful_then_removed(s: &Store) {
    std::thread::sleep(Duration::from_millis(700)); // the sleeps are over
    for id in s.n.ids() {
        let rec = s.record(&id).unwrap();
        let exit_written = s.n.root.join("containers").join(&id).join("exit").exists();
        let status = s.status(&id);
        let monitoring = rec.status == nook_state::ContainerStatus::Running
            && !exit_written
            && rec.monitor_pid.is_some_and(alive);
        let running = rec.pid.is_some_and(alive) || monitoring;
        assert_eq!(status.starts_with("Up"), running, "{id}: {status} {rec:?}");
        if let Some(m) = rec.monitor_pid.filter(|p| alive(*p) && !exit_written) {
            assert!(
                status.starts_with("Up"),
                "{id}: {status}, monitor {m} alive"
            );
        }
        s.n.ok(&["rm", "-f", &id]);
    }
    s.assert_empty();
}

#[test]
fn sigkill_of_run_d_or_the_monitor_at_any_point_leaves_the_truth_and_rm_f_cleans() {
    let s = Store::new();
    // the CLI (and the forked child) killed at several points of the start
    for ms in [0, 5, 15, 30, 60, 120] {
        for child in [false, true] {
            kill_run_d(&s, Duration::from_millis(ms), child);
            truthful_then_removed(&s);
        }
    }
    // the monitor killed while the container runs: the exit is not
    // recorded, ps says so once the process is gone
    let id =
        s.n.ok(&["run", "-d", "bb", "sh", "-c", "sleep 0.3; exit 4"]);
    let id = id.trim();
    sigkill(s.record(id).unwrap().monitor_pid.unwrap());
    s.wait_status(id, "Exited (unknown)");
    truthful_then_removed(&s);
    // the monitor killed once the exit file is written (before or during
    // the exit command): ps shows the exit code from the file
    let id =
        s.n.ok(&["run", "-d", "bb", "sh", "-c", "sleep 0.3; exit 5"]);
    let id = id.trim();
    let monitor = s.record(id).unwrap().monitor_pid.unwrap();
    let exit = s.n.root.join("containers").join(id).join("exit");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !exit.exists() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_micros(200));
    }
    sigkill(monitor);
    assert!(s.status(id).starts_with("Exited (5)"), "{}", s.status(id));
    truthful_then_removed(&s);
}

#[test]
fn twenty_concurrent_run_rm_lose_and_leave_nothing() {
    let s = Store::new();
    let outs: Vec<(bool, Output)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let s = &s;
                sc.spawn(move || {
                    let detach = i % 2 == 1;
                    let msg = format!("echo hello {i}");
                    let mut args = vec!["run", "--rm"];
                    if detach {
                        args.push("-d");
                    }
                    args.extend(["bb", "sh", "-c", &msg]);
                    (detach, s.n.run(&args))
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (detach, out)) in outs.iter().enumerate() {
        assert!(out.status.success(), "{i}: {}", text(&out.stderr));
        match detach {
            true => assert_eq!(text(&out.stdout).trim().len(), 64),
            false => assert_eq!(text(&out.stdout), format!("hello {i}\n")),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !s.n.ids().is_empty() {
        assert!(Instant::now() < deadline, "left: {:?}", s.n.ids());
        std::thread::sleep(Duration::from_millis(50));
    }
    s.assert_empty();
}

#[test]
fn the_monitor_runs_health_checks_and_ps_and_inspect_show_the_health() {
    let s = Store::new();
    // unhealthy until the container makes /tmp/ok, healthy after
    let id = s.n.ok(&[
        "run",
        "-d",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "bb",
        "sh",
        "-c",
        "sleep 6; touch /tmp/ok; sleep 60",
    ]);
    let id = id.trim();
    assert!(
        s.status(id).ends_with("(health: starting)"),
        "{}",
        s.status(id)
    );
    s.wait_status(id, "Up");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !s.status(id).ends_with("(unhealthy)") {
        assert!(Instant::now() < deadline, "{}", s.status(id));
        std::thread::sleep(Duration::from_millis(20));
    }
    while !s.status(id).ends_with("(healthy)") {
        assert!(Instant::now() < deadline, "{}", s.status(id));
        std::thread::sleep(Duration::from_millis(20));
    }
    let h = s.n.ok(&["inspect", "-f", "{{json .State.Health}}", id]);
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    assert_eq!(h["Status"], "healthy");
    assert_eq!(h["FailingStreak"], 0);
    let log = h["Log"].as_array().unwrap();
    assert_eq!(log.last().unwrap()["ExitCode"], 0);
    assert!(log.iter().any(|r| r["ExitCode"] == 1), "{h}");
    // by hand too: 0 when healthy
    s.n.ok(&["healthcheck", "run", id]);
    let e = s.n.fails(&[
        "run",
        "-d",
        "--health-cmd",
        "true",
        "--health-interval",
        "soon",
        "bb",
        "true",
    ]);
    assert!(e.contains("\"soon\""), "{e}");
    s.n.ok(&["rm", "-f", id]);
    s.assert_empty();
}

#[test]
fn interactive_and_terminal_containers_attach_and_log() {
    use std::io::Write;
    let s = Store::new();
    // -i attached: the caller's stdin
    let mut c =
        s.n.cmd(&["run", "--rm", "-i", "bb", "sh", "-c", "read x; echo got $x"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
    c.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = c.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), "got hello\n");

    // -d -i, then attach: input through the monitor's socket, the exit
    // code back
    let id = s.n.ok(&[
        "run",
        "-d",
        "-i",
        "bb",
        "sh",
        "-c",
        "read x; echo got $x; exit 7",
    ]);
    let id = id.trim();
    let mut at =
        s.n.cmd(&["attach", id])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    at.stdin.take().unwrap().write_all(b"hi\n").unwrap();
    let out = at.wait_with_output().unwrap();
    assert_eq!(
        (text(&out.stdout).as_str(), out.status.code()),
        ("got hi\n", Some(7))
    );
    assert_eq!(s.n.ok(&["logs", id]), "got hi\n");

    // -d -t: a terminal, its output logged
    let id =
        s.n.ok(&["run", "-d", "-t", "bb", "sh", "-c", "tty; sleep 0.2"]);
    let id = id.trim();
    s.wait_status(id, "Exited (0)");
    let logs = s.n.ok(&["logs", id]);
    assert!(logs.starts_with("/dev/pts/"), "{logs:?}");
    let e = s.n.fails(&["attach", id]);
    assert!(e.contains("stopped container"), "{e}");

    // -t without -d: through the monitor, attached here; --rm after it
    let out =
        s.n.run(&["run", "--rm", "-t", "bb", "sh", "-c", "tty; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("/dev/pts/"),
        "{:?}",
        text(&out.stdout)
    );
    for id in s.n.ids() {
        s.n.ok(&["rm", "-f", &id]);
    }
    s.assert_empty();
}
