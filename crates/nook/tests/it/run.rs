//! Containers: `run` (attached and detached), `ps`, `logs`, `exec`,
//! `stop`, `kill`, `rm`, `inspect` on an image with its own Env,
//! WorkingDir and User, pulled from a registry on 127.0.0.1.  Every test
//! removes its containers (and any mount left) however it ends.

use super::*;
use nook_testkit::layout::header;
use serde_json::json;
use std::time::{Duration, Instant};

/// A tar of the files an image with users needs.
fn etc_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, text) in [
        (
            "etc/passwd",
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        ),
        ("etc/group", "root:x:0:\napp:x:1000:\nextra:x:2000:app\n"),
    ] {
        let mut h = header();
        h.set_size(text.len() as u64);
        b.append_data(&mut h, path, text.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

/// `test/app:v1` on `reg`: busybox, users, and a config with Env,
/// WorkingDir, User and Cmd.
fn push_app(reg: &Registry) -> String {
    reg.push_image(
        "test/app",
        "v1",
        &[(busybox_layer(), Comp::Gzip), (etc_layer(), Comp::Gzip)],
        json!({"Cmd": ["sh", "-c", "echo default"], "Env": ["PATH=/bin", "GREETING=hello"],
               "WorkingDir": "/srv/app", "User": "app"}),
    )
}

/// A store with the app image, whose containers (and mounts) are removed
/// when it is dropped.
struct Box {
    n: Nook,
    image: String,
    _reg: Registry,
}

impl Box {
    fn new(pull: bool) -> Box {
        let reg = Registry::start();
        let image = push_app(&reg);
        let n = Nook::new();
        if pull {
            n.ok(&["pull", "-q", &image]);
        }
        Box {
            n,
            image,
            _reg: reg,
        }
    }
}

/// Every cgroup directory of container `id` (v1: one per hierarchy).
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    crate::cgroup_dirs_named(id)
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_pulls_relays_output_applies_the_config_and_exits_with_the_code() {
    let b = Box::new(false);
    let script = "echo $GREETING; pwd; id; echo pid $$; cat /etc/hostname; echo oops >&2; exit 3";
    let out =
        b.n.run(&["run", "--name", "one", &b.image, "sh", "-c", script]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(code(&out), 3, "{stderr}");
    let id =
        b.n.ok(&["inspect", "-f", "{{.Id}}", "one"])
            .trim()
            .to_string();
    let want = format!(
        "hello\n/srv/app\nuid=1000(app) gid=1000(app) groups=2000(extra)\npid 1\n{}\n",
        &id[..12]
    );
    assert_eq!(stdout, want);
    assert!(stderr.contains("Unable to find image"), "{stderr}");
    assert!(stderr.ends_with("oops\n"), "{stderr}");
    // the log has both streams
    let logs = b.n.run(&["logs", "one"]);
    assert_eq!(text(&logs.stdout), want);
    assert_eq!(text(&logs.stderr), "oops\n");

    // flags override the image
    let out = b.n.ok(&[
        "run",
        "--rm",
        "-e",
        "GREETING=bye",
        "-w",
        "/tmp",
        "-u",
        "root",
        "-h",
        "box",
        &b.image,
        "sh",
        "-c",
        "echo $GREETING $(pwd) $(id -u) $(hostname)",
    ]);
    assert_eq!(out, "bye /tmp 0 box\n");
    // the image's own command, and --entrypoint
    assert_eq!(b.n.ok(&["run", "--rm", &b.image]), "default\n");
    assert_eq!(
        b.n.ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "busybox",
            &b.image,
            "echo",
            "a",
            "b"
        ]),
        "a b\n"
    );
    // 127: no such program; 126: not executable (128+N: see the stop test)
    let out = b.n.run(&["run", "--rm", &b.image, "nosuchprogram"]);
    assert_eq!(code(&out), 127, "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr).lines().count(), 1);
    let out = b.n.run(&["run", "--rm", &b.image, "/etc/passwd"]);
    assert_eq!(code(&out), 126, "{}", text(&out.stderr));
    // --rm left nothing: only "one" is recorded
    assert_eq!(b.n.ids(), vec![id.clone()]);
    let storage = entries(&b.n.root.join("storage/containers"));
    assert_eq!(storage, BTreeSet::from([id.clone()]));
    // an exited container is unmounted
    assert!(b.n.mounts().is_empty(), "{:?}", b.n.mounts());
    // rmi refuses an image a container uses
    let err = b.n.fails(&["rmi", &b.image]);
    assert!(err.contains("in use by container one"), "{err}");
    b.n.ok(&["rm", "one"]);
    assert!(b.n.ids().is_empty());
    assert!(entries(&b.n.root.join("storage/containers")).is_empty());
    assert!(entries(&b.n.root.join("containers")).is_empty());
}

#[test]
fn detached_runs_logs_stops_after_the_timeout_and_is_removed_whole() {
    let b = Box::new(true);
    let script = "echo started; while true; do sleep 0.1; done";
    let id =
        b.n.ok(&["run", "-d", "--name", "bg", &b.image, "sh", "-c", script]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64);
    let ps = b.n.ok(&["ps"]);
    assert!(ps.starts_with("CONTAINER ID   IMAGE"), "{ps}");
    let row = ps.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&id[..12]) && row.contains("Up ") && row.ends_with("bg"),
        "{ps}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.n.ok(&["logs", "bg"]) != "started\n" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(b.n.ok(&["logs", "--tail", "1", "bg"]), "started\n");
    // exec: in the container's namespaces, its exit code
    let out = b.n.run(&["exec", "bg", "sh", "-c", "hostname; exit 4"]);
    assert_eq!(
        (code(&out), text(&out.stdout)),
        (4, format!("{}\n", &id[..12]))
    );
    assert!(
        !cgroup_dirs(&id).is_empty(),
        "its cgroup exists while it runs"
    );
    assert!(!b.n.mounts().is_empty());

    // pid 1 ignores SIGTERM: stop kills it after -t 1
    let t = Instant::now();
    assert_eq!(b.n.ok(&["stop", "-t", "1", "bg"]), "bg\n");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );
    let ps = b.n.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(ps.starts_with("Exited (137)"), "{ps}");
    assert_eq!(b.n.ok(&["ps", "-q"]), "");
    let state = b.n.ok(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.State.Running}}",
        "bg",
    ]);
    assert_eq!(state, "137 false\n");

    b.n.ok(&["rm", &id[..8]]);
    assert!(b.n.ids().is_empty());
    assert!(cgroup_dirs(&id).is_empty());
    assert!(b.n.mounts().is_empty());
    assert!(!b.n.root.join("storage/containers").join(&id).exists());
    // (the runtime's cache of compiled seccomp profiles stays)
    let run_left: Vec<String> = entries(&b.n.root.join("run"))
        .into_iter()
        .filter(|e| e != ".cache")
        .collect();
    assert!(run_left.is_empty(), "{run_left:?}");
}

#[test]
fn names_are_unique_and_two_runs_at_once_get_their_own() {
    let b = Box::new(true);
    let run = || b.n.run(&["run", "-d", &b.image, "sh", "-c", "sleep 30"]);
    let (x, y) = std::thread::scope(|s| {
        let x = s.spawn(run);
        let y = s.spawn(run);
        (x.join().unwrap(), y.join().unwrap())
    });
    assert!(
        x.status.success() && y.status.success(),
        "{}",
        text(&y.stderr)
    );
    assert_ne!(x.stdout, y.stdout);
    let names = b.n.ok(&["ps", "--format", "{{.Names}}"]);
    let names: BTreeSet<&str> = names.lines().collect();
    assert_eq!(names.len(), 2, "{names:?}");

    b.n.ok(&[
        "run", "-d", "--name", "web", &b.image, "sh", "-c", "sleep 30",
    ]);
    let err = b.n.fails(&["run", "-d", "--name", "web", &b.image, "true"]);
    assert!(err.contains("\"web\" is already in use"), "{err}");
    assert_eq!(b.n.ids().len(), 3);
    assert_eq!(entries(&b.n.root.join("storage/containers")).len(), 3);
    let err = b.n.fails(&["rm", "web"]);
    assert!(err.contains("container is running"), "{err}");
    b.n.ok(&["kill", "web"]);
    b.n.ok(&["rm", "-f", "web"]);
    assert_eq!(b.n.ids().len(), 2);
}

#[test]
fn a_killed_monitor_leaves_a_container_ps_shows_and_rm_f_removes() {
    let b = Box::new(true);
    let id =
        b.n.ok(&["run", "-d", &b.image, "sh", "-c", "sleep 30"])
            .trim()
            .to_string();
    let state = nook_state::State::open(b.n.root.join("nook.db")).unwrap();
    let rec = state.container(&id).unwrap().unwrap();
    let monitor = nix::unistd::Pid::from_raw(rec.monitor_pid.unwrap());
    nix::sys::signal::kill(monitor, nix::sys::signal::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let status = || b.n.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(status().starts_with("Up "), "{}", status());
    // its process dies with nobody to record it: ps says so
    // (it may be gone already: reaped at once where PID 1 reaps quickly)
    let pid = nix::unistd::Pid::from_raw(rec.pid.unwrap());
    match nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => panic!("kill {pid}: {e}"),
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !status().starts_with("Exited") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status(), "Exited (unknown)\n");
    b.n.ok(&["rm", "-f", &id]);
    assert!(b.n.ids().is_empty());
    assert!(cgroup_dirs(&id).is_empty());
    assert!(b.n.mounts().is_empty());
    assert!(entries(&b.n.root.join("storage/containers")).is_empty());
}
