//! Hooks: order, namespaces and the state on stdin.

use serde_json::json;

use crate::common::*;

fn hook(name: &str, log: &str) -> serde_json::Value {
    // Each hook appends its name and the state it got on stdin.
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} $(cat) >> {log}")]})
}

#[test]
fn all_hooks_in_order_with_state() {
    let env = Env::new("hooks");
    let shared = env.dir.join("hooklog");
    std::fs::create_dir_all(&shared).unwrap();
    let host_log = shared.join("log");
    let hl = host_log.to_str().unwrap();
    let mut c = config(&["sh", "-c", "echo main >> /hooklog/log"]);
    c["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/hooklog", "type": "bind", "source": shared, "options": ["bind"]}),
    );
    c["hooks"] = json!({
        "prestart": [hook("prestart", hl)],
        "createRuntime": [hook("createRuntime", hl)],
        "createContainer": [hook("createContainer", hl)],
        // startContainer runs in the container: its /bin/sh and paths
        "startContainer": [hook("startContainer", "/hooklog/log")],
        "poststart": [hook("poststart", hl)],
        "poststop": [hook("poststop", hl)]
    });
    c["annotations"] = json!({"org.test": "yes"});
    let b = env.bundle("b", &c);
    let id = env.id("hooks");
    ok(&env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    ok(&env.nook(&["start", &id]));
    env.wait_status(&id, "stopped");
    ok(&env.nook(&["delete", &id]));
    let log = std::fs::read_to_string(&host_log).unwrap();
    let entries: Vec<(String, serde_json::Value)> = log
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((n, j)) => (n.to_string(), serde_json::from_str(j).unwrap()),
            None => (l.to_string(), serde_json::Value::Null),
        })
        .collect();
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            "createContainer",
            "createRuntime",
            "main",
            "poststart",
            "poststop",
            "prestart",
            "startContainer"
        ],
        "{log}"
    );
    // poststart may run before or after the program wrote its line
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n} missing in {names:?}"))
    };
    assert!(pos("prestart") < pos("createRuntime"));
    assert!(pos("createRuntime") < pos("createContainer"));
    assert!(pos("createContainer") < pos("startContainer"));
    assert!(pos("startContainer") < pos("main"));
    assert!(pos("startContainer") < pos("poststart"));
    assert!(pos("poststart") < pos("poststop"));
    assert!(pos("main") < pos("poststop"));
    for (n, st) in &entries {
        if n == "main" {
            continue;
        }
        assert_eq!(st["id"], id.as_str(), "{n}");
        assert_eq!(st["bundle"], b.to_str().unwrap(), "{n}");
        assert_eq!(st["annotations"]["org.test"], "yes", "{n}");
        // Lifecycle steps 3-5 come after step 2 ("creating"): the
        // runtime-spec's state for those hooks is "created".
        let want = match n.as_str() {
            "prestart" | "createRuntime" | "createContainer" => "created",
            "startContainer" => "created",
            "poststart" => "running",
            _ => "stopped",
        };
        assert_eq!(st["status"], want, "{n}");
        match n.as_str() {
            "prestart" | "createRuntime" | "poststart" => {
                assert_eq!(st["pid"], pid, "{n} sees the host pid")
            }
            "createContainer" | "startContainer" => {
                assert_eq!(st["pid"], 1, "{n} sees the container pid")
            }
            _ => {}
        }
    }
}

#[test]
fn failing_prestart_hook_fails_create_and_runs_poststop() {
    let env = Env::new("hookfail");
    let log = env.dir.join("log");
    let mut c = config(&["true"]);
    c["hooks"] = json!({
        "prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 2"]}],
        "poststop": [hook("poststop", log.to_str().unwrap())]
    });
    let b = env.bundle("b", &c);
    let id = env.id("hookfail");
    let o = env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]);
    fails_with(&o, "prestart hook #0");
    assert!(stderr(&o).contains("broken"), "{}", stderr(&o));
    assert!(!env.root.join(&id).exists());
    assert!(env.leftover_cgroups(&id).is_empty());
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .starts_with("poststop"));
}

/// A hook that fails with a message on stderr.
fn failing(name: &str) -> serde_json::Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} broke >&2; exit 3")]})
}

/// The hooks a log recorded, in order.
fn logged(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// Runtime-spec: a failing poststart or poststop hook is a warning; the
/// remaining hooks and the lifecycle go on.
#[test]
fn failing_poststart_and_poststop_hooks_warn_and_the_rest_run() {
    let env = Env::new("hookwarn");
    let log = env.dir.join("log");
    let hl = log.to_str().unwrap();
    let mut c = config(&["sleep", "30"]);
    c["hooks"] = json!({
        "poststart": [failing("poststart1"), hook("poststart2", hl)],
        "poststop": [failing("poststop1"), hook("poststop2", hl)]
    });
    let b = env.bundle("b", &c);
    let id = env.id("hookwarn");
    ok(&env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]));
    let o = env.nook(&["start", &id]);
    assert!(o.status.success(), "start failed: {}", stderr(&o));
    assert!(
        stderr(&o).contains("poststart hook #0") && stderr(&o).contains("poststart1 broke"),
        "no warning: {}",
        stderr(&o)
    );
    assert_eq!(env.state(&id)["status"], "running");
    assert_eq!(logged(&log), ["poststart2"]);
    ok(&env.nook(&["kill", &id, "KILL"]));
    env.wait_status(&id, "stopped");
    let o = env.nook(&["delete", &id]);
    assert!(o.status.success(), "delete failed: {}", stderr(&o));
    assert!(stderr(&o).contains("poststop hook #0"), "{}", stderr(&o));
    assert_eq!(logged(&log), ["poststart2", "poststop2"]);
    assert!(!env.root.join(&id).exists());
}

/// Runtime-spec: a failing prestart, createRuntime, createContainer or
/// startContainer hook is an error: the hooks after it do not run and the
/// container does not start (poststop hooks still run).
#[test]
fn a_failing_hook_of_the_other_kinds_stops_the_lifecycle() {
    let env = Env::new("hookstop");
    let shared = env.dir.join("hooklog");
    std::fs::create_dir_all(&shared).unwrap();
    let log = shared.join("log");
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
    ] {
        let _ = std::fs::remove_file(&log);
        // createContainer and startContainer hooks run in the container
        let hl = if kind.starts_with("create") && kind != "createContainer" || kind == "prestart" {
            log.to_str().unwrap().to_string()
        } else {
            "/hooklog/log".to_string()
        };
        let mut c = config(&["sh", "-c", "echo main >> /hooklog/log"]);
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/hooklog", "type": "bind", "source": shared, "options": ["bind"]}),
        );
        c["hooks"] = json!({
            kind: [failing(kind), hook(&format!("{kind}2"), &hl)],
            "poststop": [hook("poststop", log.to_str().unwrap())]
        });
        let b = env.bundle(kind, &c);
        let id = env.id(kind);
        let create = env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]);
        let o = if kind == "startContainer" {
            ok(&create);
            env.nook(&["start", &id])
        } else {
            create
        };
        fails_with(&o, &format!("{kind} hook #0"));
        assert!(
            stderr(&o).contains(&format!("{kind} broke")),
            "{}",
            stderr(&o)
        );
        if kind == "startContainer" {
            env.wait_status(&id, "stopped");
            ok(&env.nook(&["delete", &id]));
        }
        assert_eq!(logged(&log), ["poststop"], "{kind}");
        assert!(!env.root.join(&id).exists(), "{kind}");
        assert!(env.leftover_cgroups(&id).is_empty(), "{kind}");
    }
}
