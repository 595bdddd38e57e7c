//! Lifecycle hooks: each gets the container's state on stdin, runs with its
//! own args and env, and is killed when its timeout passes.  A failure
//! carries the hook's stderr.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use oci_spec::runtime::Hook;
use serde::Serialize;

use crate::error::{Error, Result};

/// The state document hooks receive (runtime-spec "State").
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookState<'a> {
    /// Spec version.
    pub oci_version: &'a str,
    /// Container id.
    pub id: &'a str,
    /// Status name.
    pub status: &'a str,
    /// Pid, as seen from where the hook runs.
    pub pid: i32,
    /// Bundle.
    pub bundle: &'a std::path::Path,
    /// Annotations.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// Run every hook of a phase in order; the first failure stops them.
pub fn run(phase: &str, hooks: &[Hook], state: &[u8]) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state)
            .map_err(|e| Error::Hook(format!("{phase} hook #{i} ({}): {e}", h.path().display())))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &[u8]) -> std::result::Result<(), String> {
    if !h.path().is_absolute() {
        return Err("path must be absolute".into());
    }
    if let Some(t) = h.timeout() {
        if t <= 0 {
            return Err(format!("timeout must be greater than zero, got {t}"));
        }
    }
    let mut cmd = Command::new(h.path());
    let args = h.args().clone().unwrap_or_default();
    if let Some((first, rest)) = args.split_first() {
        cmd.arg0(first).args(rest);
    }
    if let Some(env) = h.env() {
        cmd.env_clear();
        for kv in env {
            match kv.split_once('=') {
                Some((k, v)) => cmd.env(k, v),
                None => cmd.env(kv, ""),
            };
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Hooks start with default signal handling and an empty mask.
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| format!("start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state is fine.
        let _ = stdin.write_all(state);
    }
    let pidfd = nook_sys::pidfd::open(child.id() as i32).ok();
    if let (Some(t), Some(pfd)) = (h.timeout(), pidfd.as_ref()) {
        let exited = nook_sys::pidfd::wait_exit(pfd.as_fd(), Some(Duration::from_secs(t as u64)))
            .unwrap_or(true);
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {t}s"));
        }
    }
    let mut out = String::new();
    let mut errs = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut errs);
    }
    let st = child.wait().map_err(|e| format!("wait: {e}"))?;
    if st.success() {
        return Ok(());
    }
    let detail = errs
        .trim()
        .lines()
        .last()
        .or_else(|| out.trim().lines().last())
        .unwrap_or("")
        .to_string();
    let code = match (
        st.code(),
        std::os::unix::process::ExitStatusExt::signal(&st),
    ) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by {}", nook_sys::signal::name(s)),
        _ => "failed".into(),
    };
    Err(if detail.is_empty() {
        code
    } else {
        format!("{code}: {detail}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(j: &str) -> Hook {
        serde_json::from_str(j).unwrap()
    }

    #[test]
    fn state_on_stdin_args_env() {
        let d = std::env::temp_dir().join(format!("nook-hook-{}", std::process::id()));
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {}; echo $A >> {}","x"],"env":["A=hello"]}}"#,
            d.display(),
            d.display()
        ));
        run("prestart", &[h], b"{\"id\":\"c\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&d).unwrap(),
            "{\"id\":\"c\"}hello\n"
        );
        std::fs::remove_file(&d).unwrap();
    }

    #[test]
    fn failure_and_timeout() {
        let e = run(
            "poststart",
            &[hook(
                r#"{"path":"/bin/sh","args":["sh","-c","echo boom >&2; exit 3"]}"#,
            )],
            b"{}",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "poststart hook #0 (/bin/sh): exit status 3: boom");
        let t = std::time::Instant::now();
        let e = run(
            "prestart",
            &[hook(
                r#"{"path":"/bin/sleep","args":["sleep","10"],"timeout":1}"#,
            )],
            b"{}",
        )
        .unwrap_err();
        assert!(e.to_string().contains("timed out after 1s"));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(run("x", &[hook(r#"{"path":"bin/true"}"#)], b"").is_err());
        assert!(run("x", &[hook(r#"{"path":"/bin/true","timeout":0}"#)], b"").is_err());
    }
}
