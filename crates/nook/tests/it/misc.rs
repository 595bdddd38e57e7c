//! `run`'s process flags, checked from inside real containers: `--init`
//! (PID 1 is nook-init, zombies reaped, signals forwarded), `--stop-signal`
//! and the image's StopSignal, `--stop-timeout`, labels in `inspect`,
//! `--env-file`, `--group-add`, numeric users, `--domainname`, `-w`,
//! `--sysctl`.

use super::security::{own_status, Sec};
use std::time::{Duration, Instant};

/// Wait until `nook logs NAME` has `want` (5 s at most); the logs.
fn logs_with(s: &Sec, name: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = s.n.ok(&["logs", name]);
        if logs.contains(want) || Instant::now() > deadline {
            return logs;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn init_is_pid_1_reaps_zombies_and_forwards_signals() {
    let s = Sec::new();
    // an orphan whose parent exits is re-parented to PID 1: nook-init
    // reaps it; the command's exit code is the container's
    let script = "tr '\\0' ' ' < /proc/1/cmdline; echo; (sleep 0.2 & exec true); sleep 0.6; \
                  ps -o stat | grep -c Z; exit 3";
    let out =
        s.n.run(&["run", "--rm", "--init", &s.image, "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("/sbin/nook-init -- sh -c {script} \n0\n")
    );
    // the stop signal (the image's SIGUSR1) reaches the command (sh as PID
    // 1 would ignore it): stop is quick, the exit 128+10
    s.n.ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        "i1",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "KILL",
        &s.image,
        "sh",
        "-c",
        "while true; do sleep 0.1; done",
    ]);
    // exec gets the container's capabilities and seccomp, not the defaults
    let out = s.n.ok(&[
        "exec",
        "i1",
        "sh",
        "-c",
        "grep -E '^(CapEff|Seccomp):' /proc/self/status",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["CapEff:", "0000000000000020", "Seccomp:", "2"]
    );
    let out = s.n.ok(&[
        "exec",
        "--privileged",
        "i1",
        "sh",
        "-c",
        "grep ^CapEff: /proc/self/status",
    ]);
    assert_eq!(
        out.split_whitespace().nth(1),
        Some(own_status("CapBnd").as_str())
    );
    let t = Instant::now();
    s.n.ok(&["stop", "-t", "5", "i1"]);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let state = s.n.ok(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.Path}} {{.HostConfig.Init}}",
        "i1",
    ]);
    assert_eq!(state, "138 sh true\n");
}

#[test]
fn stop_uses_the_stop_signal_and_timeout() {
    let s = Sec::new();
    let wait_trap = |sig: &str, code: u8| {
        format!(
            "trap 'echo got {sig}; exit {code}' {sig}; echo ready; while true; do sleep 0.1; done"
        )
    };
    // the image's StopSignal (SIGUSR1)
    s.n.ok(&[
        "run",
        "-d",
        "--name",
        "img",
        &s.image,
        "sh",
        "-c",
        &wait_trap("USR1", 7),
    ]);
    logs_with(&s, "img", "ready");
    s.n.ok(&["stop", "img"]);
    assert_eq!(
        s.n.ok(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.Config.StopSignal}}",
            "img"
        ]),
        "7 SIGUSR1\n"
    );
    assert_eq!(logs_with(&s, "img", "got"), "ready\ngot USR1\n");
    // --stop-signal overrides it
    s.n.ok(&[
        "run",
        "-d",
        "--name",
        "flag",
        "--stop-signal",
        "USR2",
        &s.image,
        "sh",
        "-c",
        &wait_trap("USR2", 8),
    ]);
    logs_with(&s, "flag", "ready");
    s.n.ok(&["stop", "flag"]);
    assert_eq!(
        s.n.ok(&["inspect", "-f", "{{.State.ExitCode}}", "flag"]),
        "8\n"
    );
    // --stop-timeout: a PID 1 that ignores the signal is killed after it
    s.n.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--stop-signal",
        "TERM",
        "--stop-timeout",
        "1",
        &s.image,
        "sh",
        "-c",
        "echo ready; while true; do sleep 0.1; done",
    ]);
    logs_with(&s, "slow", "ready");
    let t = Instant::now();
    s.n.ok(&["stop", "slow"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(
        s.n.ok(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.Config.StopTimeout}}",
            "slow"
        ]),
        "137 1\n"
    );
}

#[test]
fn labels_env_files_groups_users_and_kernel_settings() {
    let s = Sec::new();
    let labels = s.n.dir.path().join("labels");
    std::fs::write(&labels, "# labels\nb=2\nover=file\nbare\n").unwrap();
    s.n.ok(&[
        "run",
        "--name",
        "l1",
        "-l",
        "a=1",
        "--label",
        "over=flag",
        "--label-file",
        labels.to_str().unwrap(),
        &s.image,
        "sh",
        "-c",
        "exit 0",
    ]);
    let got = s.n.ok(&["inspect", "-f", "{{json .Config.Labels}}", "l1"]);
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(
        got,
        serde_json::json!({"from": "image", "over": "flag", "a": "1", "b": "2", "bare": ""})
    );

    let env = s.n.dir.path().join("env");
    std::fs::write(
        &env,
        "# comment\n\nA=from file\nB=file\nFROM_CALLER\nNOT_SET\n",
    )
    .unwrap();
    let out =
        s.n.cmd(&[
            "run",
            "--rm",
            "--env-file",
            env.to_str().unwrap(),
            "-e",
            "B=flag",
            &s.image,
            "sh",
            "-c",
            "echo \"$A|$B|$FROM_CALLER|${NOT_SET-unset}\"",
        ])
        .env("FROM_CALLER", "yes")
        .env_remove("NOT_SET")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from file|flag|yes|unset\n"
    );

    let out = s.sh(
        &["-u", "1000", "--group-add", "extra", "--group-add", "4242"],
        "id -u; id -G",
    );
    assert_eq!(out, "1000\n1000 2000 4242\n");
    let out = s.sh(&["-u", "4242:4343"], "id -u; id -g");
    assert_eq!(out, "4242\n4343\n");
    let out = s.sh(
        &["--domainname", "example.org", "-w", "/new/dir", "--sysctl", "net.ipv4.ip_forward=1",
          "--sysctl", "kernel.shmmni=1000"],
        "cat /proc/sys/kernel/domainname; pwd; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni \
         /proc/sys/net/ipv4/ip_unprivileged_port_start",
    );
    assert_eq!(out, "example.org\n/new/dir\n1\n1000\n0\n");
    let err = s.n.fails(&[
        "run",
        "--rm",
        "--env-file",
        "/nonexistent/env",
        &s.image,
        "sh",
        "-c",
        "exit 0",
    ]);
    assert!(err.contains("/nonexistent/env"), "{err}");
    s.n.ok(&["rm", "l1"]);
    s.assert_empty();
}
