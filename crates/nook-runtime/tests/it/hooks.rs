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
