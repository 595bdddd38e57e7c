//! Health checks, as Docker runs them: the container's `Healthcheck`
//! (Docker's `HealthConfig`: the image config's, each field overridden by
//! `--health-cmd`, `--health-interval`, `--health-timeout`,
//! `--health-start-period`, `--health-start-interval`, `--health-retries`;
//! `--no-healthcheck` or a `NONE` test turns it off) is kept in the spec's
//! `io.nook.healthcheck` annotation.  The monitor runs
//! `nook healthcheck run ID` every interval (every start interval during
//! the start period, until a check passes); each run execs the test in the
//! container, kills it after the timeout (a failure), and records the
//! outcome in `<container dir>/health.json` (written to a temporary file
//! and renamed): Docker's `State.Health` shape, `starting` until a check
//! passes or `retries` checks in a row fail outside the start period.

mod config;

pub use config::{go_duration, HealthConfig, Probe, ANNOTATION};

use super::{ExecOptions, LiveStatus};
use crate::{Engine, Error, Result};
use nook_state::ContainerRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::Duration;

/// The file's name in the container's directory.
const HEALTH_FILE: &str = "health.json";
/// How many results the log keeps.
const KEEP: usize = 5;
/// How much of a check's output is kept (Docker's limit).
const MAX_OUTPUT: usize = 4096;

/// The health flags `RunOptions` has beyond `--health-cmd`,
/// `--health-interval` and `--health-retries`.
#[derive(Clone, Debug, Default)]
pub struct HealthOptions {
    /// `--health-timeout` (Go's duration spelling; 30s when `None`).
    pub timeout: Option<String>,
    /// `--health-start-period` (0s when `None`).
    pub start_period: Option<String>,
    /// `--health-start-interval` (5s when `None`).
    pub start_interval: Option<String>,
    /// `--no-healthcheck`.
    pub disabled: bool,
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    /// When it started (RFC 3339).
    pub start: String,
    /// When it ended.
    pub end: String,
    /// The command's exit code (-1: killed after the timeout).
    pub exit_code: i32,
    /// Its output (stdout and stderr, the first 4096 bytes).
    pub output: String,
}

impl HealthResult {
    /// When it started, in Unix nanoseconds (0 if unreadable).
    fn started_ns(&self) -> i128 {
        self.start
            .parse::<jiff::Timestamp>()
            .map_or(0, |t| t.as_nanosecond())
    }
}

/// A container's health, as `inspect` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Failed checks in a row.
    pub failing_streak: u32,
    /// The last results, oldest first.
    pub log: Vec<HealthResult>,
}

impl Health {
    fn starting() -> Health {
        Health {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    /// The health after result `r`, given `retries`; a failure while
    /// still `starting` within the start period (`in_start_period`) does
    /// not count.
    pub fn after(mut self, r: HealthResult, retries: u32, in_start_period: bool) -> Health {
        if r.exit_code == 0 {
            self.status = "healthy".into();
            self.failing_streak = 0;
        } else if !(in_start_period && self.status == "starting") {
            self.failing_streak += 1;
            if self.failing_streak >= retries.max(1) {
                self.status = "unhealthy".into();
            }
        }
        self.log.push(r);
        let extra = self.log.len().saturating_sub(KEEP);
        self.log.drain(..extra);
        self
    }
}

/// Checks the health flags (before anything is made): a bad duration, or
/// `--no-healthcheck` with a `--health-*` flag, is an error naming it.
pub(crate) fn check_flags(opts: &super::RunOptions) -> Result<()> {
    config::from_flags(opts).map(drop)
}

/// `annotations` with the container's health check (the flags' over the
/// image config's) added, when it has one.
pub(crate) fn annotate(
    mut annotations: Value,
    opts: &super::RunOptions,
    image_config: &Value,
) -> Result<Value> {
    if let Some(h) = config::merged(opts, image_config)? {
        let text = serde_json::to_string(&h).map_err(|e| Error::invalid("healthcheck", "", e))?;
        annotations[ANNOTATION] = Value::String(text);
    }
    Ok(annotations)
}

/// A container's `Healthcheck` (`NONE` included), as `inspect` shows it
/// under `Config`.
pub fn config_of(rec: &ContainerRecord) -> Option<HealthConfig> {
    if !rec.config.contains(ANNOTATION) {
        return None;
    }
    let spec: Value = serde_json::from_str(&rec.config).ok()?;
    serde_json::from_str(spec["annotations"][ANNOTATION].as_str()?).ok()
}

/// What a container's health check runs, and when; `None` without one.
pub fn probe_of(rec: &ContainerRecord) -> Option<Probe> {
    config_of(rec)?.probe()
}

/// A duration as Docker takes it (Go's spelling: `30s`, `1m30s`, `500ms`,
/// `2h`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += num * scale;
        rest = &rest[u..];
    }
    Some(Duration::from_secs_f64(total))
}

impl Engine {
    /// Container `id`'s recorded health: `None` without a health check.
    pub fn health(&self, id: &str) -> Option<Health> {
        self.health_of(&self.state.container(id).ok()??)
    }

    /// The recorded health of the container `rec` records: `None`
    /// without a health check.
    pub fn health_of(&self, rec: &ContainerRecord) -> Option<Health> {
        probe_of(rec)?;
        let path = self.container_dir(&rec.id).join(HEALTH_FILE);
        let health: Option<Health> = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        // a health from before the container's last start is no more (as
        // Docker's, it starts again at `starting` on each start)
        let started = rec.started.unwrap_or(0) as i128;
        Some(
            health
                .filter(|h| h.log.last().is_some_and(|r| r.started_ns() >= started))
                .unwrap_or_else(Health::starting),
        )
    }

    /// Run container `word`'s health check once and record the result;
    /// the new health.
    pub fn run_health_check(&self, word: &str) -> Result<Health> {
        let c = self.container(word)?;
        let id = c.record.id.clone();
        let Some(probe) = probe_of(&c.record) else {
            return Err(Error::invalid("container", &id, "has no health check"));
        };
        if c.status != LiveStatus::Running {
            return Err(Error::NotRunning(id));
        }
        let start = jiff::Timestamp::now();
        let (exit_code, output) = self.probe(&id, &probe)?;
        let since_start = start.as_nanosecond() - c.record.started.unwrap_or(0) as i128;
        let in_start_period = since_start < probe.start_period.as_nanos() as i128;
        let result = HealthResult {
            start: start.to_string(),
            end: jiff::Timestamp::now().to_string(),
            exit_code,
            output,
        };
        let health = self.health(&id).unwrap_or_else(Health::starting).after(
            result,
            probe.retries,
            in_start_period,
        );
        let dir = self.container_dir(&id);
        let tmp = dir.join(format!("{HEALTH_FILE}.{}", std::process::id()));
        let text = serde_json::to_vec(&health).map_err(|e| Error::invalid("health", &id, e))?;
        std::fs::write(&tmp, text).map_err(Error::io("write", &tmp))?;
        std::fs::rename(&tmp, dir.join(HEALTH_FILE)).map_err(Error::io("rename", &tmp))?;
        Ok(health)
    }

    /// Run `probe` in container `id`: its exit code and output; killed
    /// after its timeout (exit code -1, Docker's message as the output).
    fn probe(&self, id: &str, probe: &Probe) -> Result<(i32, String)> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::invalid("pipe", id, e))?;
        let null = std::fs::File::open("/dev/null").map_err(Error::io("open", "/dev/null"))?;
        let stdio = nook_container::Stdio {
            stdin: Some(OwnedFd::from(null)),
            stdout: Some(w.try_clone().map_err(Error::io("dup", "pipe"))?),
            stderr: Some(w),
        };
        let opts = ExecOptions {
            cmd: probe.argv.clone(),
            ..Default::default()
        };
        let child = match self.spawn_exec(id, &opts, Some(stdio)) {
            Ok(c) => c,
            Err(Error::CannotRun { code, .. }) => return Ok((code, String::new())),
            Err(e) => return Err(e),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read_output(std::fs::File::from(r)));
        });
        if !child.has_exited(Some(probe.timeout)) {
            let _ = child.signal(libc::SIGKILL);
            let _ = child.wait();
            let text = format!(
                "Health check exceeded timeout ({})",
                go_duration(probe.timeout)
            );
            return Ok((-1, text));
        }
        let code = child.wait()?.code();
        // (a process the check left behind may hold the pipe open)
        let output = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
        Ok((code, output))
    }
}

/// What `r` gives until its end: the first 4096 bytes, `...` after them
/// when there was more (as Docker keeps it).
fn read_output(mut r: impl Read) -> String {
    let mut kept = Vec::new();
    let mut more = false;
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT - kept.len();
                kept.extend_from_slice(&buf[..n.min(room)]);
                more |= n > room;
            }
        }
    }
    let mut s = String::from_utf8_lossy(&kept).into_owned();
    if more {
        s += "...";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult {
            start: "a".into(),
            end: "b".into(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn status_follows_the_checks() {
        let h = Health::starting().after(result(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        let h = h.after(result(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        let mut h = h.after(result(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            h = h.after(result(0), 2, false);
        }
        assert_eq!(h.log.len(), KEEP);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_until_a_success() {
        let h = Health::starting().after(result(1), 1, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0));
        let h = h.after(result(0), 1, true).after(result(1), 1, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 1));
    }

    #[test]
    fn output_is_cut_at_4096_bytes() {
        assert_eq!(read_output(&b"ok\n"[..]), "ok\n");
        let long = vec![b'x'; 5000];
        let s = read_output(&long[..]);
        assert_eq!((s.len(), s.ends_with("x...")), (4099, true));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration(""), None);
    }
}
