//! exec: a new process inside a running container.

use serde_json::json;

use crate::common::*;

fn running(env: &Env, name: &str, c: &serde_json::Value) -> String {
    let b = env.bundle(name, c);
    let id = env.id(name);
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    id
}

fn status_line(s: &str, key: &str) -> String {
    s.lines()
        .find(|l| l.starts_with(key))
        .unwrap_or("")
        .to_string()
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    let env = Env::new("execns");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let out = ok(&env.nook(&[
        "exec",
        &id,
        "sh",
        "-c",
        "for n in mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done; echo $$",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    for (i, n) in ["mnt", "pid", "net", "ipc", "uts", "cgroup"]
        .iter()
        .enumerate()
    {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
        assert_eq!(lines[i], theirs.to_str().unwrap(), "{n}");
    }
    assert_ne!(lines[6], "1");
    // a detached exec is listed among the container's processes
    let pf = env.dir.join("exec.pid");
    ok(&env.nook(&[
        "exec",
        "-d",
        "--pid-file",
        pf.to_str().unwrap(),
        &id,
        "sleep",
        "20",
    ]));
    let epid: i64 = std::fs::read_to_string(&pf).unwrap().parse().unwrap();
    let pids: Vec<i64> =
        serde_json::from_slice(&env.nook(&["ps", "--format", "json", &id]).stdout).unwrap();
    assert!(
        pids.contains(&epid) && pids.contains(&pid),
        "{pids:?} should hold {epid} and {pid}"
    );
    ok(&env.nook(&["delete", "--force", &id]));
    assert!(env.leftover_cgroups(&id).is_empty());
}

#[test]
fn exec_exit_code_user_env_cwd() {
    let env = Env::new("execflags");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    assert_eq!(
        env.nook(&["exec", &id, "sh", "-c", "exit 42"])
            .status
            .code(),
        Some(42)
    );
    let out = ok(&env.nook(&[
        "exec",
        "-u",
        "1000:1000",
        "-e",
        "FOO=bar",
        "-e",
        "PATH=/bin",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "id -u; id -g; pwd; echo $FOO $PATH",
    ]));
    assert_eq!(out, "1000\n1000\n/tmp\nbar /bin\n");
}

#[test]
fn exec_gets_the_same_confinement_as_the_first_process() {
    let env = Env::new("execconf");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let init = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let out = ok(&env.nook(&["exec", &id, "cat", "/proc/self/status"]));
    for k in [
        "CapBnd:",
        "CapEff:",
        "CapPrm:",
        "CapAmb:",
        "NoNewPrivs:",
        "Seccomp:",
    ] {
        assert_eq!(status_line(&out, k), status_line(&init, k), "{k}");
    }
    assert_eq!(status_line(&out, "Seccomp:"), "Seccomp:\t2");
    // the default profile denies mount(2) with EPERM, in exec'd processes too
    let o = env.nook(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mkdir -p /tmp/m; mount -t tmpfs t /tmp/m 2>&1; echo rc=$?",
    ]);
    assert!(
        stdout(&o).contains("rc=") && !stdout(&o).contains("rc=0"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn exec_process_file() {
    let env = Env::new("execproc");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    let p = env.dir.join("process.json");
    std::fs::write(&p, serde_json::to_vec(&json!({
        "args": ["sh", "-c", "echo $X; id -u"], "env": ["X=from-file", "PATH=/bin"], "cwd": "/", "user": {"uid": 65534, "gid": 65534}
    })).unwrap()).unwrap();
    assert_eq!(
        ok(&env.nook(&["exec", "--process", p.to_str().unwrap(), &id])),
        "from-file\n65534\n"
    );
    std::fs::write(&p, "{ broken").unwrap();
    fails_with(
        &env.nook(&["exec", "--process", p.to_str().unwrap(), &id]),
        "process.json: line 1",
    );
}

#[test]
fn exec_into_stopped_paused_or_missing_containers_fails() {
    let env = Env::new("execbad");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    ok(&env.nook(&["pause", &id]));
    fails_with(&env.nook(&["exec", &id, "true"]), "it is paused");
    ok(&env.nook(&["resume", &id]));
    fails_with(&env.nook(&["exec", &id, "/no/such/prog"]), "/no/such/prog");
    ok(&env.nook(&["kill", &id, "KILL"]));
    env.wait_status(&id, "stopped");
    fails_with(&env.nook(&["exec", &id, "true"]), "it is stopped");
    fails_with(
        &env.nook(&["exec", "no-such-container", "true"]),
        "does not exist",
    );
}

#[test]
fn exec_with_a_terminal_through_the_console_socket() {
    let env = Env::new("exectty");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    let sock = env.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let p = env.dir.join("process.json");
    std::fs::write(&p, serde_json::to_vec(&json!({
        "terminal": true, "consoleSize": {"height": 25, "width": 90},
        "args": ["sh", "-c", "tty; stty size; echo TERM=$TERM"], "env": ["TERM=vt100", "PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}
    })).unwrap()).unwrap();
    let h = std::thread::spawn(move || read_all(accept_fd(&listener).1));
    ok(&env.nook(&[
        "exec",
        "-d",
        "--console-socket",
        sock.to_str().unwrap(),
        "--process",
        p.to_str().unwrap(),
        &id,
    ]));
    let out = h.join().unwrap();
    let l: Vec<&str> = out.lines().collect();
    assert!(l[0].starts_with("/dev/pts/"), "{out}");
    assert_eq!(l[1], "25 90");
    assert_eq!(l[2], "TERM=vt100");
    // a detached terminal needs somewhere to send the pty
    fails_with(
        &env.nook(&["exec", "-d", "-t", &id, "true"]),
        "console-socket",
    );
}

#[test]
fn exec_caps_nnp_and_preserved_fds() {
    let env = Env::new("execcaps");
    let mut c = config(&["sleep", "30"]);
    c["process"]["noNewPrivileges"] = false.into();
    let id = running(&env, "c", &c);
    let out = ok(&env.nook(&[
        "exec",
        "--cap",
        "CAP_SYS_TIME",
        "--no-new-privs",
        &id,
        "grep",
        "-E",
        "CapBnd|NoNewPrivs",
        "/proc/self/status",
    ]));
    let bnd = out.lines().find(|l| l.starts_with("CapBnd")).unwrap();
    let mask = u64::from_str_radix(bnd.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert!(mask & (1 << 25) != 0, "CAP_SYS_TIME (25) not added: {out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    fails_with(
        &env.nook(&["exec", "--cap", "CAP_NOPE", &id, "true"]),
        "CAP_NOPE",
    );
    // --preserve-fds passes 3..3+N and nothing else
    use std::os::unix::process::CommandExt;
    std::fs::write(env.dir.join("f"), "from fd 3\n").unwrap();
    let f = std::fs::File::open(env.dir.join("f")).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&f);
    let mut cmd = env.cmd();
    cmd.args(["exec", "--preserve-fds", "1", &id, "sh", "-c", "cat <&3"]);
    unsafe {
        cmd.pre_exec(move || {
            let a = libc::fcntl(raw, libc::F_DUPFD, 100);
            libc::dup2(a, 3);
            Ok(())
        });
    }
    assert_eq!(ok(&capture(&mut cmd, &env.dir)), "from fd 3\n");
}

#[test]
fn exec_into_a_sub_cgroup() {
    let env = Env::new("execcg");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.root.join(&id).join("state.json")).unwrap())
            .unwrap();
    let pure_v2 = st["cgroup"]["pure_v2"].as_bool().unwrap_or(false);
    let (dir, arg) = if pure_v2 {
        (
            std::path::PathBuf::from(st["cgroup"]["v2"].as_str().unwrap()).join("sub"),
            "sub".to_string(),
        )
    } else {
        (
            std::path::PathBuf::from(st["cgroup"]["v1"]["pids"].as_str().unwrap()).join("sub"),
            "pids:sub".to_string(),
        )
    };
    std::fs::create_dir(&dir).unwrap();
    let out = ok(&env.nook(&["exec", "--cgroup", &arg, &id, "cat", "/proc/self/cgroup"]));
    assert!(out.lines().any(|l| l.ends_with("/sub")), "{out}");
    fails_with(
        &env.nook(&["exec", "--cgroup", "nosuch", &id, "true"]),
        "does not exist",
    );
    ok(&env.nook(&["delete", "--force", &id]));
    assert!(!dir.exists(), "delete must remove sub-cgroups too");
}
