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
    s.lines().find(|l| l.starts_with(key)).unwrap_or("").to_string()
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    let env = Env::new("execns");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let out = ok(&env.nook(&["exec", &id, "sh", "-c", "for n in mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done; echo $$"]));
    let lines: Vec<&str> = out.lines().collect();
    for (i, n) in ["mnt", "pid", "net", "ipc", "uts", "cgroup"].iter().enumerate() {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
        assert_eq!(lines[i], theirs.to_str().unwrap(), "{n}");
    }
    assert_ne!(lines[6], "1");
    // a detached exec is listed among the container's processes
    let pf = env.dir.join("exec.pid");
    ok(&env.nook(&["exec", "-d", "--pid-file", pf.to_str().unwrap(), &id, "sleep", "20"]));
    let epid: i64 = std::fs::read_to_string(&pf).unwrap().parse().unwrap();
    let pids: Vec<i64> = serde_json::from_slice(&env.nook(&["ps", "--format", "json", &id]).stdout).unwrap();
    assert!(pids.contains(&epid) && pids.contains(&pid), "{pids:?} should hold {epid} and {pid}");
    ok(&env.nook(&["delete", "--force", &id]));
    assert!(env.leftover_cgroups(&id).is_empty());
}

#[test]
fn exec_exit_code_user_env_cwd() {
    let env = Env::new("execflags");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    assert_eq!(env.nook(&["exec", &id, "sh", "-c", "exit 42"]).status.code(), Some(42));
    let out = ok(&env.nook(&["exec", "-u", "1000:1000", "-e", "FOO=bar", "-e", "PATH=/bin", "--cwd", "/tmp", &id, "sh", "-c", "id -u; id -g; pwd; echo $FOO $PATH"]));
    assert_eq!(out, "1000\n1000\n/tmp\nbar /bin\n");
}

#[test]
fn exec_gets_the_same_confinement_as_the_first_process() {
    let env = Env::new("execconf");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let init = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let out = ok(&env.nook(&["exec", &id, "cat", "/proc/self/status"]));
    for k in ["CapBnd:", "CapEff:", "CapPrm:", "CapAmb:", "NoNewPrivs:", "Seccomp:"] {
        assert_eq!(status_line(&out, k), status_line(&init, k), "{k}");
    }
    assert_eq!(status_line(&out, "Seccomp:"), "Seccomp:\t2");
    // the default profile denies mount(2) with EPERM, in exec'd processes too
    let o = env.nook(&["exec", &id, "sh", "-c", "mkdir -p /tmp/m; mount -t tmpfs t /tmp/m 2>&1; echo rc=$?"]);
    assert!(stdout(&o).contains("rc=") && !stdout(&o).contains("rc=0"), "{}", stdout(&o));
}

#[test]
fn exec_process_file() {
    let env = Env::new("execproc");
    let id = running(&env, "c", &config(&["sleep", "30"]));
    let p = env.dir.join("process.json");
    std::fs::write(&p, serde_json::to_vec(&json!({
        "args": ["sh", "-c", "echo $X; id -u"], "env": ["X=from-file", "PATH=/bin"], "cwd": "/", "user": {"uid": 65534, "gid": 65534}
    })).unwrap()).unwrap();
    assert_eq!(ok(&env.nook(&["exec", "--process", p.to_str().unwrap(), &id])), "from-file\n65534\n");
    std::fs::write(&p, "{ broken").unwrap();
    fails_with(&env.nook(&["exec", "--process", p.to_str().unwrap(), &id]), "process.json: line 1");
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
    fails_with(&env.nook(&["exec", "no-such-container", "true"]), "does not exist");
}
