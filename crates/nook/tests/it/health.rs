//! Health checks as Docker runs them: `--health-timeout` (a check running
//! longer is killed and fails), `--health-start-period` and
//! `--health-start-interval`, the image config's `Healthcheck` and the
//! flags over it, `--no-healthcheck`, `ps --filter health=`, and
//! `inspect`'s `State.Health` and `Config.Healthcheck`.

use crate::Nook;
use nook_testkit::layout::{busybox_layer_with_dirs, header};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A store with `bb` (busybox, no health check) and `hc` (busybox whose
/// config's health check prints `image-check` and exits 3, every 100ms,
/// unhealthy after one failure); its containers are removed on drop (by
/// the `Nook` fixture).
struct Store {
    n: Nook,
}

/// A docker-archive of `tag`: the rootfs, the image config `config`.
fn docker_archive(tag: &str, config: Value) -> Vec<u8> {
    let layer = busybox_layer_with_dirs(&["etc/", "tmp/"]);
    let diff_id = nook_image::digest::sha256(&layer).to_string();
    let config = json!({
        "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    })
    .to_string();
    let manifest = json!([{"Config": "config.json", "RepoTags": [tag],
        "Layers": ["layer/layer.tar"]}])
    .to_string();
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("config.json", config.as_bytes()),
        ("layer/layer.tar", &layer[..]),
        ("manifest.json", manifest.as_bytes()),
    ] {
        let mut h = header();
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    }
    b.into_inner().unwrap()
}

impl Store {
    fn new() -> Store {
        let n = Nook::new();
        let s = Store { n };
        let plain = json!({"Cmd": ["sh"], "Env": ["PATH=/bin"]});
        let mut checked = plain.clone();
        checked["Healthcheck"] = json!({"Test": ["CMD-SHELL", "echo image-check; exit 3"],
            "Interval": 100_000_000, "Retries": 1});
        for (tag, config) in [("bb:latest", plain), ("hc:latest", checked)] {
            let file = s.n.dir.path().join("image.tar");
            std::fs::write(&file, docker_archive(tag, config)).unwrap();
            s.n.ok(&["load", "-q", "-i", file.to_str().unwrap()]);
        }
        s
    }

    /// `run -d ARGS... IMAGE sh -c 'sleep 60'`: the full id.
    fn start(&self, args: &[&str], image: &str) -> String {
        let mut all = vec!["run", "-d"];
        all.extend(args);
        all.extend([image, "sh", "-c", "sleep 60"]);
        self.n.ok(&all).trim().to_string()
    }

    /// `inspect`'s `.State.Health` of `id`.
    fn health(&self, id: &str) -> Value {
        let h = self.n.ok(&["inspect", "-f", "{{json .State.Health}}", id]);
        serde_json::from_str(&h).unwrap()
    }

    /// Poll `id`'s health until `ok` holds (30 s at most); the health.
    fn wait_health(&self, id: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let h = self.health(id);
            if ok(&h) {
                return h;
            }
            assert!(Instant::now() < deadline, "{id}: {h}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_check_running_past_its_timeout_is_killed_and_fails() {
    let s = Store::new();
    let id = s.start(
        &[
            "--health-cmd",
            "sleep 20",
            "--health-timeout",
            "300ms",
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
        ],
        "bb",
    );
    let h = s.wait_health(&id, |h| h["Status"] == "unhealthy");
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], -1, "{h}");
    assert_eq!(last["Output"], "Health check exceeded timeout (300ms)");
    let t = |k: &str| {
        last[k]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    let took = t("End").duration_since(t("Start"));
    assert!(took < jiff::SignedDuration::from_secs(15), "{h}");
    let cfg =
        s.n.ok(&["inspect", "-f", "{{json .Config.Healthcheck}}", &id]);
    let cfg: Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(
        cfg,
        json!({"Test": ["CMD-SHELL", "sleep 20"], "Interval": 100_000_000,
            "Timeout": 300_000_000, "Retries": 2})
    );
    // a start begins the health again: no result from before it is left
    s.n.ok(&["restart", "-t", "0", &id]);
    let started = s.n.ok(&["inspect", "-f", "{{.State.StartedAt}}", &id]);
    let started: jiff::Timestamp = started.trim().parse().unwrap();
    let h = s.health(&id);
    for r in h["Log"].as_array().unwrap() {
        let t: jiff::Timestamp = r["Start"].as_str().unwrap().parse().unwrap();
        assert!(t >= started, "{h}");
    }
}

#[test]
fn failures_in_the_start_period_do_not_count_and_checks_run_at_the_start_interval() {
    let s = Store::new();
    // one failure would make it unhealthy, but for the start period; the
    // interval is an hour: only the start interval runs checks
    let id = s.start(
        &[
            "--health-cmd",
            "echo checked; test -f /tmp/ok",
            "--health-interval",
            "1h",
            "--health-retries",
            "1",
            "--health-start-period",
            "1h",
            "--health-start-interval",
            "100ms",
        ],
        "bb",
    );
    let h = s.wait_health(&id, |h| h["Log"].as_array().is_some_and(|l| l.len() >= 3));
    assert_eq!(h["Status"], "starting", "{h}");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    let first = &h["Log"][0];
    assert_eq!(
        (&first["ExitCode"], &first["Output"]),
        (&json!(1), &json!("checked\n"))
    );
    s.n.ok(&["exec", &id, "sh", "-c", "touch /tmp/ok"]);
    s.wait_health(&id, |h| h["Status"] == "healthy");
    let ps = s.n.ok(&["ps", "--format", "{{.Status}}"]);
    assert!(ps.trim().ends_with("(healthy)"), "{ps}");
}

#[test]
fn the_image_healthcheck_is_honoured_overridden_and_turned_off() {
    let s = Store::new();
    let sick = s.start(&[], "hc");
    let h = s.wait_health(&sick, |h| h["Status"] == "unhealthy");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["ExitCode"], &last["Output"]),
        (&json!(3), &json!("image-check\n"))
    );
    // a flag replaces its field alone
    let patient = s.start(&["--health-retries", "1000"], "hc");
    let cfg =
        s.n.ok(&["inspect", "-f", "{{json .Config.Healthcheck}}", &patient]);
    let cfg: Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(
        cfg,
        json!({"Test": ["CMD-SHELL", "echo image-check; exit 3"], "Interval": 100_000_000,
            "Retries": 1000})
    );
    // turned off, both ways
    let off = s.start(&["--no-healthcheck"], "hc");
    let none = s.start(&["--health-cmd", "NONE"], "hc");
    for id in [&off, &none] {
        assert_eq!(s.health(id), Value::Null, "{id}");
        let cfg =
            s.n.ok(&["inspect", "-f", "{{json .Config.Healthcheck.Test}}", id]);
        assert_eq!(cfg.trim(), r#"["NONE"]"#);
        let status = s.n.ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("id={id}"),
            "--format",
            "{{.Status}}",
        ]);
        assert!(!status.contains("health"), "{status}");
    }
    let plain = s.start(&[], "bb");
    s.wait_health(&patient, |h| {
        h["Log"].as_array().is_some_and(|l| !l.is_empty())
    });
    let filter = |f: &str| {
        let mut ids: Vec<String> =
            s.n.ok(&["ps", "-q", "--no-trunc", "--filter", f])
                .lines()
                .map(String::from)
                .collect();
        ids.sort();
        ids
    };
    let mut want_none = vec![off.clone(), none.clone(), plain.clone()];
    want_none.sort();
    assert_eq!(filter("health=unhealthy"), [sick]);
    assert_eq!(filter("health=starting"), [patient]);
    assert_eq!(filter("health=none"), want_none);
    assert!(filter("health=healthy").is_empty());
}

#[test]
fn bad_health_flags_are_one_line_errors_and_make_nothing() {
    let s = Store::new();
    for args in [
        &["--health-timeout", "soon"][..],
        &["--health-start-period", "10"],
        &["--health-start-interval", "-1s"],
        &["--health-interval", "10us"],
        &["--no-healthcheck", "--health-cmd", "true"],
    ] {
        let mut all = vec!["run", "-d"];
        all.extend(args);
        all.extend(["bb", "true"]);
        let e = s.n.fails(&all);
        let flag = args[0].split('=').next().unwrap();
        assert!(e.contains(flag), "{e}");
    }
    let e = s.n.fails(&["ps", "--filter", "health=sick"]);
    assert!(e.contains("health: sick"), "{e}");
    assert!(s.n.ids().is_empty(), "{:?}", s.n.ids());
}

#[test]
fn format_templates_and_filters_over_real_containers() {
    let s = Store::new();
    let args = [
        "--name",
        "fmt-1",
        "-v",
        "hvol:/data",
        "--health-cmd",
        "exit 0",
        "--health-interval",
        "100ms",
    ];
    let id = s.start(&args, "bb");
    let other = s.start(&[], "bb");
    s.wait_health(&id, |h| h["Status"] == "healthy");
    let f = "{{range .Mounts}}{{.Destination}} {{end}}|\
        {{if .State.Health}}{{.State.Health.Status | upper}}{{else}}none{{end}}|\
        {{join .Config.Healthcheck.Test \",\"}}|{{index .Config.Healthcheck.Test 0 | lower}}";
    assert_eq!(
        s.n.ok(&["inspect", "-f", f, &id]),
        "/data |HEALTHY|CMD-SHELL,exit 0|cmd-shell\n"
    );
    let f = "{{range .Mounts}}m{{else}}no mounts{{end}}|{{if .State.Health}}h{{else}}none{{end}}";
    assert_eq!(s.n.ok(&["inspect", "-f", f, &other]), "no mounts|none\n");
    for filter in [
        "volume=hvol",
        "volume=/data",
        "network=nook",
        "is-task=false",
    ] {
        let t = s.n.ok(&[
            "ps",
            "--filter",
            "health=healthy",
            "--filter",
            filter,
            "--format",
            "table {{.Names | upper}}\\t{{title .State}}",
        ]);
        assert_eq!(t, "NAMES     STATE\nFMT-1     Running\n", "{filter}");
    }
    for filter in [
        "volume=other",
        "network=host",
        "publish=80",
        "expose=80/tcp",
    ] {
        let t = s.n.ok(&["ps", "-q", "--filter", filter]);
        assert!(t.is_empty(), "{filter}: {t}");
    }
    let e = s.n.fails(&["ps", "--format", "{{.Names | nosuch}}"]);
    assert!(e.contains("function \"nosuch\" not defined"), "{e}");
    let e = s.n.fails(&["inspect", "-f", "{{range .Mounts}}", &id]);
    assert!(e.contains("unexpected EOF"), "{e}");
    let e = s.n.fails(&["ps", "--filter", "colour=red"]);
    assert!(e.contains("invalid filter 'colour'"), "{e}");
}
