//! Process attributes, seen from inside.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;

use serde_json::json;

use crate::common::*;

fn status_field(out: &str, key: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(key))
        .map(|l| l[key.len()..].trim().to_string())
        .unwrap_or_default()
}

#[test]
fn user_groups_umask_env() {
    let env = Env::new("user");
    let mut c = config(&[
        "sh",
        "-c",
        "cat /proc/self/status; umask; echo HOME=$HOME FOO=$FOO",
    ]);
    c["process"]["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 100], "umask": 23});
    c["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    let b = env.bundle("b", &c);
    let id = env.id("user");
    let out = ok(&env.run(&id, &b));
    assert_eq!(status_field(&out, "Uid:"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(&out, "Gid:"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(&out, "Groups:"), "5 100");
    assert!(out.contains("\n0027\n"), "{out}");
    assert!(out.contains("HOME=/home/user FOO=bar baz"), "{out}");
}

#[test]
fn capabilities_are_the_five_sets() {
    let env = Env::new("caps");
    let mut c = config(&["cat", "/proc/self/status"]);
    c["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_NET_RAW"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
        "inheritable": ["CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let b = env.bundle("b", &c);
    let id = env.id("caps");
    let out = ok(&env.run(&id, &b));
    // KILL=5 CHOWN=0 NET_BIND_SERVICE=10 NET_RAW=13; a non-root program
    // keeps only the ambient set after exec.
    assert_eq!(
        status_field(&out, "CapBnd:"),
        format!("{:016x}", (1u64 << 5) | 1 | (1 << 10) | (1 << 13))
    );
    assert_eq!(
        status_field(&out, "CapInh:"),
        format!("{:016x}", 1u64 << 10)
    );
    assert_eq!(
        status_field(&out, "CapAmb:"),
        format!("{:016x}", 1u64 << 10)
    );
    assert_eq!(
        status_field(&out, "CapPrm:"),
        format!("{:016x}", 1u64 << 10)
    );
    assert_eq!(
        status_field(&out, "CapEff:"),
        format!("{:016x}", 1u64 << 10)
    );
    assert_eq!(status_field(&out, "NoNewPrivs:"), "1");
}

#[test]
fn unknown_capability_is_named() {
    let env = Env::new("badcap");
    let mut c = config(&["true"]);
    c["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_MAKE_COFFEE"]);
    let b = env.bundle("b", &c);
    let id = env.id("badcap");
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "CAP_MAKE_COFFEE",
    );
}

#[test]
fn rlimits_oom_score_sysctl() {
    let env = Env::new("limits");
    let mut c = config(&["sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni"]);
    c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 512}]);
    c["process"]["oomScoreAdj"] = 500.into();
    c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
    let b = env.bundle("b", &c);
    let id = env.id("limits");
    assert_eq!(ok(&env.run(&id, &b)), "512\n2048\n500\n1\n1234\n");
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni")
            .unwrap()
            .trim(),
        "1234",
        "sysctl leaked to the host"
    );
}

#[test]
fn only_preserved_fds_reach_the_container() {
    let env = Env::new("fds");
    let b = env.bundle("b", &config(&["sh", "-c", "ls /proc/$$/fd; cat <&3"]));
    let id = env.id("fds");
    std::fs::write(env.dir.join("three"), "fd three\n").unwrap();
    let three = std::fs::File::open(env.dir.join("three")).unwrap();
    let four = std::fs::File::open("/etc/hostname").unwrap();
    let (t, f) = (three.as_raw_fd(), four.as_raw_fd());
    let mut cmd = env.cmd();
    cmd.args([
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        b.to_str().unwrap(),
        &id,
    ]);
    unsafe {
        cmd.pre_exec(move || {
            // Move both out of the way first: either may already be 3 or 4.
            let (a, b) = (
                libc::fcntl(t, libc::F_DUPFD, 100),
                libc::fcntl(f, libc::F_DUPFD, 100),
            );
            libc::dup2(a, 3);
            libc::dup2(b, 4);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let out = ok(&o);
    let mut fds: Vec<&str> = out.lines().collect();
    assert_eq!(fds.pop(), Some("fd three"));
    assert!(fds.contains(&"3"), "{fds:?}");
    assert!(
        !fds.contains(&"4"),
        "an unrequested fd leaked into the container: {fds:?}"
    );
}

#[test]
fn terminal_through_console_socket() {
    let env = Env::new("console");
    let mut c = config(&["sh", "-c", "tty; stty size; echo TERM=$TERM"]);
    c["process"]["terminal"] = true.into();
    c["process"]["consoleSize"] = json!({"height": 33, "width": 111});
    let b = env.bundle("b", &c);
    let id = env.id("console");
    let sock = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    ok(&env.nook(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "--bundle",
        b.to_str().unwrap(),
        &id,
    ]));
    let (_, master) = accept_fd(&listener);
    ok(&env.nook(&["start", &id]));
    let s = read_all(master);
    let l: Vec<&str> = s.lines().collect();
    assert!(l[0].starts_with("/dev/pts/"), "{s}");
    assert_eq!(l[1], "33 111");
    assert_eq!(l[2], "TERM=xterm");
    env.wait_status(&id, "stopped");
    ok(&env.nook(&["delete", &id]));
}

#[test]
fn foreground_run_relays_its_terminal() {
    use std::io::Write;
    let env = Env::new("fgtty");
    let mut c = config(&["sh", "-c", "read x; echo got-$x; tty"]);
    c["process"]["terminal"] = true.into();
    let b = env.bundle("b", &c);
    let id = env.id("fgtty");
    let mut child = env.spawn_run(&id, &b);
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("got-hello\n/dev/pts/"), "{s}");
}

#[test]
fn ctrl_c_on_the_terminal_reaches_the_container() {
    use std::io::{BufRead, Write};
    let env = Env::new("ctrlc");
    let mut c = config(&[
        "sh",
        "-c",
        "trap 'echo got-int; exit 0' INT; echo ready; while :; do sleep 0.1; done",
    ]);
    c["process"]["terminal"] = true.into();
    let b = env.bundle("b", &c);
    let id = env.id("ctrlc");
    let mut child = env.spawn_run(&id, &b);
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("ready"), "{line}");
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.contains("got-int"), "{rest}");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
