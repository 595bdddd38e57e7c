//! The container commands after `run`, on real containers of a busybox
//! image imported into the test's own store: create/start/wait,
//! start -a, pause/unpause (a counter in the container stops), rename,
//! top, ps filters and formats, logs --tail/--since/--until/-t, inspect,
//! container and system prune, `nook container <cmd>`, and bad input.
//! Every container (and mount) is removed however a test ends.

use super::*;
use std::time::{Duration, Instant};

/// A store with `bb:1` (busybox, imported), whose containers and mounts
/// are removed when it is dropped.
pub struct Bb {
    pub n: Nook,
}

impl Bb {
    pub fn new() -> Bb {
        let n = Nook::new();
        let tar = n.dir.path().join("busybox.tar");
        std::fs::write(&tar, layout::busybox_layer()).unwrap();
        n.ok(&["import", tar.to_str().unwrap(), "bb:1"]);
        Bb { n }
    }

    /// `nook ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.n.ok(args)
    }

    /// A detached container running `script`, by name.
    pub fn detached(&self, name: &str, script: &str) {
        self.ok(&["run", "-d", "--name", name, "bb:1", "sh", "-c", script]);
    }

    /// One `inspect` template of container `c`, trimmed.
    pub fn field(&self, c: &str, template: &str) -> String {
        self.ok(&["inspect", "-f", template, c]).trim().to_string()
    }
}

/// Stdout as text.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Wait until `f` holds (10 s at most).
pub fn until(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn create_then_start_then_wait_returns_the_code() {
    let b = Bb::new();
    let id = b.ok(&[
        "create",
        "--name",
        "c1",
        "bb:1",
        "sh",
        "-c",
        "echo hi; exit 3",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(b.field("c1", "{{.State.Status}}"), "created");
    assert_eq!(b.ok(&["ps", "-a", "--format", "{{.Status}}"]), "Created\n");
    assert_eq!(b.ok(&["ps", "-q"]), "", "a created container does not run");
    assert_eq!(b.ok(&["logs", "c1"]), "", "nothing ran yet");

    assert_eq!(b.ok(&["start", "c1"]), "c1\n");
    assert_eq!(b.ok(&["wait", "c1"]), "3\n");
    assert_eq!(
        b.field("c1", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 3"
    );
    assert_eq!(b.ok(&["logs", "c1"]), "hi\n");

    // start -a: this run's output only, and its code
    let out = b.n.run(&["start", "-a", "c1"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    assert_eq!(b.ok(&["logs", "c1"]), "hi\nhi\n");

    // wait on several, each printed as it exits
    b.ok(&[
        "create",
        "--name",
        "d1",
        "bb:1",
        "sh",
        "-c",
        "sleep 1; exit 7",
    ]);
    b.ok(&["start", "d1"]);
    let t = Instant::now();
    assert_eq!(b.ok(&["wait", "d1", "c1"]), "7\n3\n");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "wait returned early"
    );

    // restart: runs again
    b.detached("r1", "echo started; sleep 1000");
    let first = b.field("r1", "{{.State.StartedAt}}");
    b.ok(&["restart", "-t", "1", "r1"]);
    assert_eq!(b.field("r1", "{{.State.Status}}"), "running");
    assert_ne!(b.field("r1", "{{.State.StartedAt}}"), first);
    until("the restarted container's output", || {
        b.ok(&["logs", "r1"]) == "started\nstarted\n"
    });
}

/// The counter the container writes (read from its upper layer).
fn counter(b: &Bb, c: &str) -> u64 {
    let upper = b.field(c, "{{.GraphDriver.Data.UpperDir}}");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        // the file is replaced (rename) each time: a read sees a whole one
        let s = std::fs::read_to_string(format!("{upper}/n")).unwrap_or_default();
        if let Ok(v) = s.trim().parse() {
            return v;
        }
        assert!(Instant::now() < end, "no counter in {upper}/n");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pause_freezes_and_unpause_resumes() {
    let b = Bb::new();
    b.detached(
        "p1",
        "i=0; while :; do i=$((i+1)); echo $i > /n.new; mv /n.new /n; sleep 0.05; done",
    );
    until("the counter to start", || counter(&b, "p1") > 2);
    assert_eq!(b.ok(&["pause", "p1"]), "p1\n");
    let state = b.ok(&["ps", "--format", "{{.State}}|{{.Status}}"]);
    assert!(state.starts_with("paused|Up "), "{state}");
    assert!(state.trim_end().ends_with("(Paused)"), "{state}");
    assert_eq!(
        b.field("p1", "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    let frozen = counter(&b, "p1");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        counter(&b, "p1"),
        frozen,
        "the counter advanced while paused"
    );
    let err = b.n.fails(&["pause", "p1"]);
    assert!(err.contains("already paused"), "{err}");

    assert_eq!(b.ok(&["unpause", "p1"]), "p1\n");
    until("the counter to advance", || counter(&b, "p1") > frozen + 2);
    assert_eq!(
        b.field("p1", "{{.State.Status}} {{.State.Paused}}"),
        "running false"
    );
    let err = b.n.fails(&["unpause", "p1"]);
    assert!(err.contains("not paused"), "{err}");

    // a paused container stops
    b.ok(&["pause", "p1"]);
    let t = Instant::now();
    b.ok(&["stop", "-t", "1", "p1"]);
    assert!(t.elapsed() < Duration::from_secs(8));
    assert_eq!(b.field("p1", "{{.State.Status}}"), "exited");
    let err = b.n.fails(&["pause", "p1"]);
    assert!(err.contains("not running"), "{err}");
    // and a paused one is removed by rm -f, its cgroup too
    b.detached("p2", "sleep 1000");
    let id = b.field("p2", "{{.Id}}");
    b.ok(&["pause", "p2"]);
    b.ok(&["rm", "-f", "p2"]);
    assert!(b.n.run(&["inspect", "p2"]).status.code() == Some(125));
    assert!(cgroup_dirs_named(&id).is_empty(), "cgroup of {id} left");
}

#[test]
fn rename_changes_the_lookup() {
    let b = Bb::new();
    b.ok(&["create", "--name", "old", "bb:1", "sh", "-c", "true"]);
    b.ok(&["create", "--name", "other", "bb:1", "sh", "-c", "true"]);
    let id = b.field("old", "{{.Id}}");
    b.ok(&["rename", "old", "new"]);
    assert_eq!(b.field("new", "{{.Id}}"), id);
    assert_eq!(b.field("new", "{{.Name}}"), "/new");
    let err = b.n.fails(&["inspect", "old"]);
    assert!(err.contains("old"), "{err}");
    // a name in use, the same name, a bad name, an unknown container
    let err = b.n.fails(&["rename", "new", "other"]);
    assert!(err.contains("other"), "{err}");
    let err = b.n.fails(&["rename", "new", "new"]);
    assert!(err.contains("new"), "{err}");
    let err = b.n.fails(&["rename", "new", "bad name!"]);
    assert!(err.contains("bad name!"), "{err}");
    let err = b.n.fails(&["rename", "nosuch", "xy"]);
    assert!(err.contains("nosuch"), "{err}");
    let mut names: Vec<String> = b
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    assert_eq!(names, ["new", "other"]);
}

#[test]
fn top_lists_the_containers_processes_only() {
    let b = Bb::new();
    b.detached("t1", "sleep 1000 & sleep 1001 & wait");
    let pid = b.field("t1", "{{.State.Pid}}");
    until("both sleeps", || {
        let out = b.ok(&["top", "t1"]);
        out.lines().filter(|l| l.contains("   sleep 100")).count() == 2
    });
    let out = b.ok(&["top", "t1"]);
    let mut lines = out.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 3, "{out}");
    for r in &rows {
        assert_eq!(r[0], "root", "{out}");
        // each one is in the container's cgroup: its pid 1 or a child of it
        assert!(r[1] == pid || r[2] == pid, "{out}");
        assert_eq!(r[5], "?");
    }
    let cmds: Vec<String> = rows.iter().map(|r| r[7..].join(" ")).collect();
    assert!(cmds.contains(&"sleep 1000".to_string()), "{out}");
    assert!(cmds.contains(&"sleep 1001".to_string()), "{out}");
    // with ps options: the host's ps, cut to the container's processes
    let out = b.ok(&["top", "t1", "-eo", "pid,comm"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    let comms: Vec<String> = lines
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect();
    assert_eq!(comms.len(), 3, "{out}");
    b.ok(&["kill", "t1"]);
    b.ok(&["wait", "t1"]);
    let err = b.n.fails(&["top", "t1"]);
    assert!(err.contains("not running"), "{err}");
}

#[test]
fn ps_filters_and_formats() {
    let b = Bb::new();
    b.detached("run1", "sleep 1000");
    b.ok(&["run", "--name", "ok0", "bb:1", "sh", "-c", "true"]);
    let out =
        b.n.run(&["run", "--name", "bad1", "bb:1", "sh", "-c", "exit 1"]);
    assert_eq!(out.status.code(), Some(1));
    b.ok(&["create", "--name", "made", "bb:1", "sh", "-c", "true"]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        b.ok(&a).lines().map(String::from).collect()
    };
    assert_eq!(names(&[]), ["run1"]);
    assert_eq!(names(&["-a"]), ["made", "bad1", "ok0", "run1"]);
    assert_eq!(names(&["--filter", "status=exited"]), ["bad1", "ok0"]);
    assert_eq!(names(&["-a", "--filter", "exited=1"]), ["bad1"]);
    assert_eq!(names(&["-a", "-f", "status=created"]), ["made"]);
    assert_eq!(
        names(&["-a", "-f", "status=created", "-f", "status=running"]),
        ["made", "run1"]
    );
    assert_eq!(names(&["-a", "--filter", "name=ok"]), ["ok0"]);
    assert_eq!(names(&["-a", "-f", "name=^b"]), ["bad1"]);
    let id = b.field("ok0", "{{.Id}}");
    assert_eq!(
        names(&["-a", "--filter", &format!("id={}", &id[..8])]),
        ["ok0"]
    );
    assert_eq!(names(&["-a", "-f", "ancestor=bb:1"]).len(), 4);
    assert!(names(&["-a", "-f", "ancestor=other:1"]).is_empty());
    assert!(names(&["-a", "-f", "label=x"]).is_empty());
    assert_eq!(names(&["-a", "-f", "before=bad1"]), ["ok0", "run1"]);
    assert_eq!(names(&["-a", "-f", "since=bad1"]), ["made"]);
    assert_eq!(names(&["-n", "2"]), ["made", "bad1"]);
    assert_eq!(names(&["-l"]), ["made"]);

    // the table, -q, --no-trunc, json, templates, -s
    let table = b.ok(&["ps"]);
    let head: Vec<&str> = table.lines().next().unwrap().split("   ").collect();
    let head: Vec<&str> = head
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        head,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    let row = table.lines().nth(1).unwrap();
    assert!(
        row.contains("\"sh -c sleep 1000\"") && row.contains("Up "),
        "{row}"
    );
    let run_id = b.field("run1", "{{.Id}}");
    let t = b.ok(&[
        "ps",
        "--format",
        "table {{.ID}}\\t{{.Names}}\\t{{.RunningFor}}",
    ]);
    // aligned as Docker's tabwriter aligns (at least 10 wide, padding 3)
    let want = format!(
        "CONTAINER ID   NAMES     CREATED\n{}   run1      ",
        &run_id[..12]
    );
    assert!(t.starts_with(&want), "{t:?}");
    assert_eq!(b.ok(&["ps", "-q"]), format!("{}\n", &run_id[..12]));
    assert_eq!(b.ok(&["ps", "-q", "--no-trunc"]), format!("{run_id}\n"));
    let json: serde_json::Value =
        serde_json::from_str(b.ok(&["ps", "--format", "json"]).trim()).unwrap();
    assert_eq!(json["Names"], "run1");
    assert_eq!(json["State"], "running");
    assert_eq!(json["Image"], "bb:1");
    assert_eq!(json["Ports"], "");
    let bad = b.ok(&[
        "ps",
        "-a",
        "-f",
        "name=bad1",
        "--format",
        "{{.ID}} {{.State}} {{.Status}}",
    ]);
    let want = format!("{} exited Exited (1) ", &b.field("bad1", "{{.Id}}")[..12]);
    assert!(bad.starts_with(&want) && bad.ends_with(" ago\n"), "{bad}");
    let dd = "dd if=/dev/zero of=/big bs=1000 count=300";
    b.ok(&["exec", "run1", "sh", "-c", dd]);
    let sized = b.ok(&["ps", "-s"]);
    assert!(sized.lines().next().unwrap().ends_with("SIZE"), "{sized}");
    let size = b.ok(&["ps", "--format", "{{.Size}}"]);
    assert!(size.contains("(virtual ") && size.contains("kB"), "{size}");

    // bad filters and formats
    let err = b.n.fails(&["ps", "--filter", "status=sleepy"]);
    assert!(err.contains("status=sleepy"), "{err}");
    let err = b.n.fails(&["ps", "--filter", "colour=red"]);
    assert!(err.contains("colour"), "{err}");
    let err = b.n.fails(&["ps", "--filter", "exited=x"]);
    assert!(err.contains("exited=x"), "{err}");
    let err = b.n.fails(&["ps", "--format", "{{.Nope}}"]);
    assert!(err.contains("Nope"), "{err}");
}

#[test]
fn logs_tail_since_until_and_timestamps() {
    let b = Bb::new();
    let out = b.n.run(&[
        "run",
        "--name",
        "l1",
        "bb:1",
        "sh",
        "-c",
        "echo one; echo two; echo three >&2",
    ]);
    assert!(out.status.success());
    let stamped = b.n.run(&["logs", "-t", "l1"]);
    let lines: Vec<String> = text(&stamped.stdout)
        .lines()
        .chain(text(&stamped.stderr).lines())
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let times: Vec<&str> = lines.iter().map(|l| l.split_once(' ').unwrap().0).collect();
    for t in &times {
        // RFC 3339, UTC, nine fraction digits
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
        t.parse::<jiff::Timestamp>().unwrap();
    }
    assert!(lines[0].ends_with(" one") && lines[2].ends_with(" three"));

    // the tail counts both streams: the last entry is on stderr
    assert_eq!(b.ok(&["logs", "--tail", "1", "l1"]), "");
    let out = b.n.run(&["logs", "--tail", "1", "l1"]);
    assert_eq!(text(&out.stderr), "three\n");
    assert_eq!(b.ok(&["logs", "-n", "0", "l1"]), "");
    assert_eq!(b.ok(&["logs", "--since", times[1], "l1"]), "two\n");
    assert_eq!(b.ok(&["logs", "--until", times[0], "l1"]), "one\n");
    assert_eq!(b.ok(&["logs", "--since", "1h", "l1"]), "one\ntwo\n");
    assert_eq!(b.ok(&["logs", "--until", "1h", "l1"]), "");
    let later = (jiff::Timestamp::now().as_second() + 3600).to_string();
    assert_eq!(b.ok(&["logs", "--since", &later, "l1"]), "");
    assert_eq!(b.ok(&["logs", "--since", "0", "l1"]), "one\ntwo\n");
    assert_eq!(b.ok(&["logs", "--details", "l1"]), "one\ntwo\n");
    // -f ends at --until (a running container: it would follow forever)
    b.detached("f1", "echo up; sleep 1000");
    let t = Instant::now();
    until("its output", || b.ok(&["logs", "f1"]) == "up\n");
    assert_eq!(b.ok(&["logs", "-f", "--until=-1s", "f1"]), "up\n");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(b.ok(&["logs", "-f", "--until", "1h", "f1"]), "");

    let err = b.n.fails(&["logs", "--since", "yesterday", "l1"]);
    assert!(err.contains("\"yesterday\""), "{err}");
    let err = b.n.fails(&["logs", "--until", "5x", "l1"]);
    assert!(err.contains("\"5x\""), "{err}");
    let err = b.n.fails(&["logs", "--tail", "lots", "l1"]);
    assert!(err.contains("lots"), "{err}");
    let err = b.n.fails(&["logs", "nosuch"]);
    assert!(err.contains("nosuch"), "{err}");
}

#[test]
fn inspect_shows_dockers_fields() {
    let b = Bb::new();
    b.detached(
        "i1",
        "dd if=/dev/zero of=/blob bs=1000 count=200; sleep 1000",
    );
    let v: serde_json::Value = serde_json::from_str(&b.ok(&["inspect", "-s", "i1"])).unwrap();
    let c = &v[0];
    assert_eq!(c["Id"].as_str().unwrap().len(), 64);
    assert_eq!(c["Name"], "/i1");
    assert_eq!(c["Path"], "sh");
    assert_eq!(c["Args"][0], "-c");
    assert_eq!(c["RestartCount"], 0);
    let s = &c["State"];
    assert_eq!(
        (
            s["Status"].as_str(),
            s["Running"].as_bool(),
            s["Paused"].as_bool()
        ),
        (Some("running"), Some(true), Some(false))
    );
    let pid = s["Pid"].as_i64().unwrap();
    assert!(pid > 1);
    // the pid is the container's first process (sh, or the sleep it
    // became), in the container's cgroup
    let cmdline = text(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap());
    assert!(
        cmdline.starts_with("sh\0-c\0dd ") || cmdline == "sleep\x001000\x00",
        "{cmdline:?}"
    );
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroup.contains(c["Id"].as_str().unwrap()), "{cgroup}");
    assert!(s["StartedAt"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .is_ok());
    assert_eq!(s["FinishedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(c["Config"]["Image"], "bb:1");
    assert_eq!(c["Config"]["Cmd"][0], "sh");
    assert!(c["Config"]["Entrypoint"].is_null());
    assert!(c["Config"]["Labels"].is_object());
    assert!(c["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e.as_str().unwrap().starts_with("PATH=")));
    assert_eq!(c["HostConfig"]["NetworkMode"], "nook");
    assert_eq!(c["GraphDriver"]["Name"], "overlay");
    let data = &c["GraphDriver"]["Data"];
    let merged = data["MergedDir"].as_str().unwrap();
    assert!(Path::new(merged).join("bin/busybox").is_file(), "{merged}");
    let lower = data["LowerDir"].as_str().unwrap();
    assert!(Path::new(lower).join("bin/busybox").is_file(), "{lower}");
    until("the blob", || {
        Path::new(data["UpperDir"].as_str().unwrap())
            .join("blob")
            .metadata()
            .is_ok_and(|m| m.len() == 200_000)
    });
    let v: serde_json::Value = serde_json::from_str(&b.ok(&["inspect", "-s", "i1"])).unwrap();
    assert!(
        v[0]["SizeRw"].as_u64().unwrap() >= 200_000,
        "{}",
        v[0]["SizeRw"]
    );
    assert!(v[0]["SizeRootFs"].as_u64().unwrap() > v[0]["SizeRw"].as_u64().unwrap());
    assert!(c["Mounts"].is_array());
    assert!(c["NetworkSettings"]["Networks"]["nook"]["IPAddress"]
        .as_str()
        .unwrap()
        .starts_with("10.88."));

    // templates, --type
    assert_eq!(b.field("i1", "{{.State.Status}}"), "running");
    assert_eq!(
        b.field("i1", "{{json .Config.Cmd}}"),
        "[\"sh\",\"-c\",\"dd if=/dev/zero of=/blob bs=1000 count=200; sleep 1000\"]"
    );
    assert_eq!(
        b.ok(&["inspect", "--type", "container", "-f", "{{.Name}}", "i1"]),
        "/i1\n"
    );
    assert_eq!(
        b.ok(&["container", "inspect", "-f", "{{.Name}}", "i1"]),
        "/i1\n"
    );
    assert!(b
        .ok(&["inspect", "--type", "image", "-f", "{{.Id}}", "bb:1"])
        .starts_with("sha256:"));
    let err = b.n.fails(&["inspect", "--type", "image", "i1"]);
    assert!(err.contains("i1"), "{err}");
    let err = b.n.fails(&["inspect", "--type", "container", "bb:1"]);
    assert!(err.contains("bb:1"), "{err}");
    // what exists is shown, then the error for what does not
    let out =
        b.n.run(&["inspect", "-f", "{{.Id}}", "i1", "nosuch", "bb:1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stdout).starts_with(&b.field("i1", "{{.Id}}")),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(text(&out.stdout).lines().count(), 2);
    assert_eq!(text(&out.stderr), "Error: no such object: nosuch\n");
    let err = b.n.fails(&["inspect", "--type", "volume", "i1"]);
    assert!(err.contains("volume"), "{err}");
    let err = b.n.fails(&["inspect", "-f", "{{.Nope}}", "i1"]);
    assert!(err.contains("Nope"), "{err}");
    // port: nothing is published (no networking yet)
    assert_eq!(b.ok(&["port", "i1"]), "");
    let err = b.n.fails(&["port", "i1", "80/tcp"]);
    assert!(err.contains("80/tcp"), "{err}");
}

#[test]
fn prune_removes_only_stopped_containers() {
    let b = Bb::new();
    b.detached("up", "sleep 1000");
    b.ok(&[
        "run",
        "--name",
        "done",
        "bb:1",
        "sh",
        "-c",
        "echo x > /file",
    ]);
    b.ok(&["create", "--name", "made", "bb:1", "sh", "-c", "true"]);
    let gone: Vec<String> = ["done", "made"]
        .iter()
        .map(|n| b.field(n, "{{.Id}}"))
        .collect();
    let upper = b.field("done", "{{.GraphDriver.Data.UpperDir}}");
    assert!(Path::new(&upper).join("file").is_file());
    let out = b.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    for id in &gone {
        assert!(out.contains(id), "{out}");
    }
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(b.ok(&["ps", "-a", "--format", "{{.Names}}"]), "up\n");
    assert!(!Path::new(&upper).exists(), "the upper dir is left");
    // nothing more to prune
    assert_eq!(
        b.ok(&["container", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );

    // system prune: stopped containers and dangling images
    let tar = b.n.dir.path().join("busybox.tar");
    let dangling = b.ok(&["import", tar.to_str().unwrap()]);
    b.ok(&["run", "--name", "done2", "bb:1", "sh", "-c", "true"]);
    let out = b.ok(&["system", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains("Deleted Images:"), "{out}");
    assert!(out.contains(&dangling.trim()["sha256:".len()..]), "{out}");
    assert_eq!(
        b.ok(&["container", "ls", "-a", "--format", "{{.Names}}"]),
        "up\n"
    );
    assert_eq!(
        b.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "bb:1\n"
    );
    b.ok(&["container", "rm", "-f", "up"]);
    assert_eq!(b.ok(&["container", "list", "-aq"]), "");
}

#[test]
fn unknown_containers_are_one_line_errors() {
    let b = Bb::new();
    for args in [
        vec!["start", "nosuch"],
        vec!["restart", "nosuch"],
        vec!["pause", "nosuch"],
        vec!["unpause", "nosuch"],
        vec!["top", "nosuch"],
        vec!["port", "nosuch"],
        vec!["stats", "--no-stream", "nosuch"],
        vec!["container", "inspect", "nosuch"],
        vec!["start", "-a", "nosuch"],
    ] {
        let err = b.n.fails(&args);
        assert!(err.contains("nosuch"), "{args:?}: {err}");
    }
    // wait reports the error and exits 1, as Docker's
    let out = b.n.run(&["wait", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nosuch"));
    // create with an image nowhere (a closed loopback port) leaves nothing
    let out = b.n.run(&["create", "--name", "xy", "127.0.0.1:1/nosuch:1"]);
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("Unable to find image '127.0.0.1:1/nosuch:1' locally\n"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    assert_eq!(b.ok(&["ps", "-aq"]), "");
}

#[test]
fn stop_and_restart_take_a_signal_and_a_timeout() {
    let b = Bb::new();
    // the container says which signal ended it
    let script = "trap 'echo got-usr1; exit 5' USR1; trap 'echo got-term; exit 6' TERM; \
                  echo ready; while :; do sleep 0.1; done";
    b.detached("sig", script);
    until("ready", || b.ok(&["logs", "sig"]).contains("ready"));
    b.ok(&["stop", "--signal", "USR1", "--timeout", "30", "sig"]);
    assert_eq!(b.field("sig", "{{.State.ExitCode}}"), "5");
    assert!(b.ok(&["logs", "sig"]).contains("got-usr1"));
    b.ok(&["start", "sig"]);
    until("a second run", || {
        b.ok(&["logs", "sig"]).matches("ready").count() == 2
    });
    b.ok(&["restart", "-s", "SIGUSR1", "sig"]);
    until("a third run", || {
        b.ok(&["logs", "sig"]).matches("ready").count() == 3
    });
    b.ok(&["restart", "--time", "5", "sig"]);
    until("a fourth run", || {
        b.ok(&["logs", "sig"]).matches("ready").count() == 4
    });
    let logs = b.ok(&["logs", "sig"]);
    assert_eq!(logs.matches("got-usr1").count(), 2, "{logs}");
    assert_eq!(logs.matches("got-term").count(), 1, "{logs}");
    let err = b.n.fails(&["stop", "--signal", "SIGNOPE", "sig"]);
    assert!(err.contains("SIGNOPE"), "{err}");
    b.ok(&["rm", "-f", "sig"]);
}

#[test]
fn exec_reads_env_files_before_env_flags() {
    let b = Bb::new();
    b.detached("envs", "sleep 1000");
    let f = b.n.dir.path().join("exec.env");
    std::fs::write(&f, "# a comment\nFROM_FILE=1\nBOTH=file\n").unwrap();
    let out = b.ok(&[
        "exec",
        "--env-file",
        f.to_str().unwrap(),
        "-e",
        "BOTH=flag",
        "envs",
        "sh",
        "-c",
        "echo $FROM_FILE $BOTH",
    ]);
    assert_eq!(out, "1 flag\n");
    let missing = b.n.dir.path().join("nope.env");
    let err = b.n.fails(&[
        "exec",
        "--env-file",
        missing.to_str().unwrap(),
        "envs",
        "true",
    ]);
    assert!(err.contains("nope.env"), "{err}");
    b.ok(&["rm", "-f", "envs"]);
}

#[test]
fn update_restart_changes_the_policy_the_monitor_follows() {
    let b = Bb::new();
    b.ok(&[
        "create",
        "--name",
        "pol",
        "bb:1",
        "sh",
        "-c",
        "echo ran; exit 3",
    ]);
    b.ok(&["update", "--restart", "on-failure:2", "pol"]);
    assert_eq!(
        b.field("pol", "{{.HostConfig.RestartPolicy.Name}}"),
        "on-failure"
    );
    b.ok(&["start", "pol"]);
    // the first run and two restarts, then it stays exited
    until("three runs", || {
        b.ok(&["logs", "pol"]).matches("ran").count() == 3
    });
    until("exited", || b.field("pol", "{{.State.Status}}") == "exited");
    assert_eq!(b.field("pol", "{{.RestartCount}}"), "2");
    let err = b.n.fails(&["update", "--restart", "sometimes", "pol"]);
    assert!(err.contains("sometimes"), "{err}");
    b.ok(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "gone",
        "bb:1",
        "sh",
        "-c",
        "sleep 1000",
    ]);
    let err = b.n.fails(&["update", "--restart", "always", "gone"]);
    assert!(err.contains("AutoRemove"), "{err}");
    b.ok(&["rm", "-f", "pol", "gone"]);
}

#[test]
fn prune_filters_pick_by_label_and_age() {
    let b = Bb::new();
    for (name, label) in [
        ("old-web", "tier=web"),
        ("old-db", "tier=db"),
        ("keep", "keep=1"),
    ] {
        b.ok(&[
            "run", "--name", name, "-l", label, "bb:1", "sh", "-c", "true",
        ]);
    }
    // made after the cut: kept by until
    std::thread::sleep(Duration::from_millis(1100));
    let cut = unix_now();
    std::thread::sleep(Duration::from_millis(1100));
    b.ok(&[
        "run", "--name", "new-web", "-l", "tier=web", "bb:1", "sh", "-c", "true",
    ]);
    let out = b.ok(&[
        "container",
        "prune",
        "-f",
        "--filter",
        "label=tier=web",
        "--filter",
        &format!("until={cut}"),
    ]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    let names = b.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["keep", "new-web", "old-db"]);
    b.ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
    assert_eq!(b.ok(&["ps", "-a", "--format", "{{.Names}}"]), "keep\n");
    // volumes: by label
    b.ok(&["volume", "create", "--label", "scratch", "v1"]);
    b.ok(&["volume", "create", "v2"]);
    b.ok(&["volume", "prune", "-a", "-f", "--filter", "label=scratch"]);
    assert_eq!(b.ok(&["volume", "ls", "-q"]), "v2\n");
    let err =
        b.n.fails(&["container", "prune", "-f", "--filter", "name=x"]);
    assert!(err.contains("name=x"), "{err}");
    let err =
        b.n.fails(&["volume", "prune", "-f", "--filter", "until=1h"]);
    assert!(err.contains("until=1h"), "{err}");
    b.ok(&["rm", "keep"]);
    b.ok(&["volume", "rm", "v2"]);
}

/// Unix seconds now.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
