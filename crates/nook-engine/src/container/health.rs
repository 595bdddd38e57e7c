//! Health checks (`--health-cmd`, `--health-interval`, `--health-retries`):
//! the monitor runs `nook healthcheck run ID` every interval; each run
//! execs `sh -c CMD` in the container and records the outcome in
//! `<container dir>/health.json` (written to a temporary file and
//! renamed): Docker's `State.Health` shape, `starting` until the first
//! check, `healthy` after a check that exits 0, `unhealthy` after
//! `retries` failures in a row.

use super::{ExecOptions, LiveStatus};
use crate::{Engine, Error, Result};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The file's name in the container's directory.
const HEALTH_FILE: &str = "health.json";
/// How many results the log keeps.
const KEEP: usize = 5;

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    /// When it started (RFC 3339).
    pub start: String,
    /// When it ended.
    pub end: String,
    /// The command's exit code.
    pub exit_code: i32,
    /// Its output (not captured: empty).
    pub output: String,
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

    /// The health after a check with `code`, given `retries`.
    pub fn after(mut self, r: HealthResult, retries: u32) -> Health {
        if r.exit_code == 0 {
            self.status = "healthy".into();
            self.failing_streak = 0;
        } else {
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
    pub fn health_of(&self, rec: &nook_state::ContainerRecord) -> Option<Health> {
        if !rec.config.contains("io.nook.health-cmd") {
            return None; // (no JSON parse for the containers without)
        }
        super::detach::health_check(rec)?;
        let path = self.container_dir(&rec.id).join(HEALTH_FILE);
        Some(
            std::fs::read(path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_else(Health::starting),
        )
    }

    /// Run container `word`'s health check once and record the result;
    /// the new health.
    pub fn run_health_check(&self, word: &str) -> Result<Health> {
        let c = self.container(word)?;
        let id = c.record.id.clone();
        let Some((cmd, retries)) = super::detach::health_check(&c.record) else {
            return Err(Error::invalid("container", &id, "has no health check"));
        };
        if c.status != LiveStatus::Running {
            return Err(Error::NotRunning(id));
        }
        let start = jiff::Timestamp::now().to_string();
        let opts = ExecOptions {
            cmd: vec!["sh".into(), "-c".into(), cmd],
            ..Default::default()
        };
        let exit_code = match self.exec_container(&id, &opts) {
            Ok(code) => code,
            Err(Error::CannotRun { code, .. }) => code,
            Err(e) => return Err(e),
        };
        let result = HealthResult {
            start,
            end: jiff::Timestamp::now().to_string(),
            exit_code,
            output: String::new(),
        };
        let health = self
            .health(&id)
            .unwrap_or_else(Health::starting)
            .after(result, retries);
        let dir = self.container_dir(&id);
        let tmp = dir.join(format!("{HEALTH_FILE}.{}", std::process::id()));
        let text = serde_json::to_vec(&health).map_err(|e| Error::invalid("health", &id, e))?;
        std::fs::write(&tmp, text).map_err(Error::io("write", &tmp))?;
        std::fs::rename(&tmp, dir.join(HEALTH_FILE)).map_err(Error::io("rename", &tmp))?;
        Ok(health)
    }
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
        let h = Health::starting().after(result(1), 2);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        let h = h.after(result(1), 2);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        let mut h = h.after(result(0), 2);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            h = h.after(result(0), 2);
        }
        assert_eq!(h.log.len(), KEEP);
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
