//! What `nook pull` shows: on a terminal, Docker's live lines per layer
//! (a bar, bytes of total, the rate, then `Pull complete`); nothing but the
//! name with `-q`, on a terminal or not.  (One line per finished layer when
//! stderr is not a terminal is checked in pull.rs.)  The layers come through
//! a proxy that slows them, so that the bars are drawn mid-download.

use super::*;
use nook_testkit::proxy::{Proxy, Reply};
use std::time::Duration;

/// `nook ARGS` with a terminal for its stdio (script(1) gives it a pty);
/// everything it wrote there.
fn on_a_terminal(n: &Nook, args: &[&str]) -> String {
    nook_testkit::need("script", "bsdutils");
    let line = std::iter::once(env!("CARGO_BIN_EXE_nook"))
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let base = n.cmd(&[]);
    let out = Command::new("script")
        .args(["-qec", &format!("exec {line}"), "/dev/null"])
        .envs(base.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("SHELL", "/bin/sh")
        .env("TERM", "xterm")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DOCKER_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{line}: {text}");
    text
}

#[test]
fn a_terminal_gets_live_bars_and_quiet_gets_only_the_name() {
    let reg = Registry::start();
    let p = push_two(&reg);
    let proxy = Proxy::start(reg.port, |r| match r.path.contains("/blobs/") {
        true => Reply::Slow(32 << 10, Duration::from_millis(20)),
        false => Reply::Forward,
    });
    let name = format!("{}/test/a:v1", proxy.host());

    let n = Nook::new();
    let screen = on_a_terminal(&n, &["pull", &name]);
    for l in &p.a.layers {
        let short = &l.digest[7..19];
        assert!(
            screen.contains(&format!("{short}: Downloading")),
            "{short}: {screen}"
        );
        assert!(
            screen.contains(&format!("{short}: Pull complete")),
            "{short}: {screen}"
        );
    }
    assert!(screen.contains("] "), "a bar: {screen}");
    assert!(screen.contains("B/s"), "a rate: {screen}");
    assert!(screen.contains("\x1b["), "drawn in place: {screen}");
    assert!(
        screen.contains(&format!("Status: Downloaded newer image for {name}")),
        "{screen}"
    );

    // -q: the name alone, on a terminal or not
    let name = format!("{}/test/a:v1", reg.host());
    let n = Nook::new();
    let screen = on_a_terminal(&n, &["pull", "-q", &name]);
    assert_eq!(screen.trim_end(), name, "{screen:?}");
    let n = Nook::new();
    let out = n.run(&["pull", "-q", &name]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{name}\n"));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
