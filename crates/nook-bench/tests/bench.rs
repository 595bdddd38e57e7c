//! nook-bench end to end, against this build's nook-runtime: one short run
//! of three scenarios measures something and finds nothing left behind;
//! bad input is refused with a clear message.

use std::path::PathBuf;
use std::process::Command;

/// This build's nook-runtime (built by `cargo test --workspace` for its own
/// integration tests), next to the deps/ directory this test runs from.
fn runtime() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let rt = exe.parent().unwrap().parent().unwrap().join("nook-runtime");
    assert!(
        rt.exists(),
        "{} is missing: run `cargo test --workspace`",
        rt.display()
    );
    rt
}

fn bench(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_nook-bench"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_short_run_measures_and_leaves_nothing_behind() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "nook-bench needs root (as the suite does)"
    );
    let rt = format!("nook={}", runtime().display());
    let (rc, out, err) = bench(&[
        "--n",
        "2",
        "--warmup",
        "0",
        "--scenarios",
        "run,exec,rss",
        &rt,
    ]);
    assert_eq!(rc, 0, "stdout:\n{out}\nstderr:\n{err}");
    for s in ["== run:", "== exec:", "== rss:"] {
        assert!(out.contains(s), "{s} missing:\n{out}");
    }
    assert_eq!(out.matches("leaks: none").count(), 3, "{out}");
    // every figure of the nook rows is a positive number
    let rows: Vec<f64> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("nook "))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert_eq!(rows.len(), 2 + 1 + 4, "{out}");
    assert!(rows.iter().all(|v| *v > 0.0), "{out}");
}

#[test]
fn bad_input_is_named_and_nothing_runs() {
    let (rc, _, err) = bench(&["--scenarios", "run,fly"]);
    assert_eq!(rc, 2);
    assert!(err.contains("unknown scenario 'fly'"), "{err}");
    let (rc, _, err) = bench(&["nook=/nonexistent/nook-runtime"]);
    assert_eq!(rc, 2);
    assert!(
        err.contains("/nonexistent/nook-runtime is not an executable file"),
        "{err}"
    );
}
