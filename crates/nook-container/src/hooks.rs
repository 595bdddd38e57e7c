//! Lifecycle hooks: each gets the container's state on stdin, runs with its
//! own args and env, and is killed when its timeout passes.  A failure
//! carries the hook's stderr.
//!
//! The runtime-spec gives two rules: a failing prestart, createRuntime,
//! createContainer or startContainer hook is an error that stops the
//! lifecycle ([`run`]); a failing poststart or poststop hook is a warning,
//! and the remaining hooks and the lifecycle go on ([`run_all`]).
//!
//! Beside these command hooks, a caller of the library can give
//! [`LifecycleHooks`]: code run in-process at createRuntime and poststop
//! time (the engine sets up and tears down a container's network there).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use oci_spec::runtime::Hook;
use serde::Serialize;

use crate::error::{Error, Result};

/// The state document hooks receive (runtime-spec "State").
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct HookState<'a> {
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

/// The state a hook gets on stdin, for container `id` in `status` whose
/// first process is `pid` (as the hook sees it).
pub(crate) fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &std::path::Path,
    spec: &oci_spec::runtime::Spec,
) -> Vec<u8> {
    let annotations = spec
        .annotations()
        .as_ref()
        .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    serde_json::to_vec(&HookState {
        oci_version: crate::state::OCI_VERSION,
        id,
        status,
        pid,
        bundle,
        annotations,
    })
    .unwrap_or_default()
}

/// What an in-process hook is told about the container.
#[derive(Debug, Clone, Copy)]
pub struct HookContext<'a> {
    /// Container id.
    pub id: &'a str,
    /// Pid of its first process in the caller's pid namespace (0 once it
    /// is gone, at poststop).
    pub pid: i32,
    /// Its configuration.
    pub spec: &'a oci_spec::runtime::Spec,
}

impl HookContext<'_> {
    /// The container's network namespace, as a path to open or bind-mount
    /// (only while its first process lives).
    pub fn netns_path(&self) -> Option<std::path::PathBuf> {
        (self.pid > 0).then(|| format!("/proc/{}/ns/net", self.pid).into())
    }
}

/// The error an in-process hook returns.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// Code the caller runs in-process at points of every container's life,
/// beside the OCI command hooks of its configuration.
pub trait LifecycleHooks: Send + Sync + std::fmt::Debug {
    /// A short name for messages.
    fn name(&self) -> &str;

    /// The container's namespaces exist and its process waits, before its
    /// root is pivoted (createRuntime time, after the command hooks of that
    /// phase).  An error fails `create`.
    fn create_runtime(&self, ctx: &HookContext<'_>) -> std::result::Result<(), HookError> {
        let _ = ctx;
        Ok(())
    }

    /// The container was deleted, or its `create` failed (poststop time).
    /// An error is a warning.
    fn poststop(&self, ctx: &HookContext<'_>) -> std::result::Result<(), HookError> {
        let _ = ctx;
        Ok(())
    }
}

/// Run every hook of a phase in order; the first failure stops them and is
/// the error (prestart, createRuntime, createContainer, startContainer).
pub fn run(phase: &str, hooks: &[Hook], state: &[u8]) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state).map_err(|e| failed(phase, i, h, e))?;
    }
    Ok(())
}

/// Run every hook of a phase in order, each whatever the ones before did;
/// each failure is logged as a warning and returned (poststart, poststop).
pub fn run_all(phase: &str, hooks: &[Hook], state: &[u8]) -> Vec<Error> {
    let mut errors = Vec::new();
    for (i, h) in hooks.iter().enumerate() {
        if let Err(e) = run_one(h, state) {
            let e = failed(phase, i, h, e);
            tracing::warn!("{e}");
            errors.push(e);
        }
    }
    errors
}

fn failed(phase: &str, i: usize, h: &Hook, reason: String) -> Error {
    Error::Hook {
        phase: phase.to_string(),
        which: format!("#{i} ({})", h.path().display()),
        reason,
    }
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
    let timeout = h.timeout().map(|t| Duration::from_secs(t as u64));
    let (out, errs, exited) = collect_output(&mut child, timeout);
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("timed out after {}s", h.timeout().unwrap_or(0)));
    }
    let (out, errs) = (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&errs).into_owned(),
    );
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

/// The last bytes of each output that the failure message may quote.
const KEEP: usize = 16 << 10;

/// Read the hook's stdout and stderr while it runs (a hook that writes more
/// than a pipe holds must not block on a runtime waiting for it to exit),
/// until it exits or `timeout` passes.  Returns the last bytes of both
/// outputs and whether it exited in time.  Output still buffered when it
/// exits is read; a descendant that keeps the pipes open is not waited for.
fn collect_output(
    child: &mut std::process::Child,
    timeout: Option<Duration>,
) -> (Vec<u8>, Vec<u8>, bool) {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let pidfd = nook_sys::pidfd::open(child.id() as i32).ok();
    let file = |fd: std::os::fd::OwnedFd| std::fs::File::from(fd);
    let mut pipes: [Option<std::fs::File>; 2] = [
        child.stdout.take().map(|p| file(p.into())),
        child.stderr.take().map(|p| file(p.into())),
    ];
    let mut outputs = [Vec::new(), Vec::new()];
    let mut exited = pidfd.is_none();
    let raw = |f: &Option<std::fs::File>| f.as_ref().map_or(-1, |f| f.as_raw_fd());
    while pipes.iter().any(Option::is_some) || !exited {
        let pid_raw = pidfd
            .as_ref()
            .filter(|_| !exited)
            .map_or(-1, |p| p.as_raw_fd());
        let mut fds = [raw(&pipes[0]), raw(&pipes[1]), pid_raw].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        let wait_ms = match deadline {
            _ if exited => 0,
            Some(d) => d
                .saturating_duration_since(std::time::Instant::now())
                .as_millis()
                .min(i32::MAX as u128) as i32,
            None => -1,
        };
        // SAFETY: poll on pollfds we own; -1 entries are ignored.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, wait_ms) };
        if n < 0 && nook_sys::Errno::last() == nook_sys::Errno::EINTR {
            continue;
        }
        if n <= 0 {
            // n == 0: drained after the exit, or the timeout passed
            let [out, errs] = outputs;
            return (out, errs, exited || n < 0);
        }
        for (i, pipe) in pipes.iter_mut().enumerate() {
            if fds[i].revents == 0 {
                continue;
            }
            let mut buf = [0u8; 8192];
            match pipe.as_mut().map(|f| f.read(&mut buf)) {
                Some(Ok(k)) if k > 0 => {
                    let sink = &mut outputs[i];
                    sink.extend_from_slice(&buf[..k]);
                    if sink.len() > KEEP {
                        sink.drain(..sink.len() - KEEP);
                    }
                }
                _ => *pipe = None,
            }
        }
        if fds[2].revents != 0 {
            exited = true;
        }
    }
    let [out, errs] = outputs;
    (out, errs, true)
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
    fn run_all_goes_on_after_a_failure() {
        let d = std::env::temp_dir().join(format!("nook-hook-all-{}", std::process::id()));
        let log = format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","echo second >> {}"]}}"#,
            d.display()
        );
        let errs = run_all(
            "poststop",
            &[
                hook(r#"{"path":"/bin/sh","args":["sh","-c","exit 4"]}"#),
                hook(&log),
            ],
            b"{}",
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            "poststop hook #0 (/bin/sh): exit status 4"
        );
        assert_eq!(std::fs::read_to_string(&d).unwrap(), "second\n");
        std::fs::remove_file(&d).unwrap();
        // run stops at the first failure
        let e = run(
            "prestart",
            &[
                hook(r#"{"path":"/bin/sh","args":["sh","-c","exit 1"]}"#),
                hook(&log),
            ],
            b"{}",
        );
        assert!(e.is_err() && !d.exists());
    }

    #[test]
    fn a_hook_that_writes_more_than_a_pipe_holds_does_not_hang() {
        // 1 MiB on stdout and stderr, then a failure: its last line is quoted
        let h = hook(
            r#"{"path":"/bin/sh","args":["sh","-c","yes out | head -c 1048576; yes err | head -c 1048576 >&2; echo last words >&2; exit 1"],"timeout":20}"#,
        );
        let e = run("prestart", &[h], b"{}").unwrap_err().to_string();
        assert_eq!(e, "prestart hook #0 (/bin/sh): exit status 1: last words");
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
