//! Resource operations on a living container: `update` (change limits),
//! `events` (statistics and OOM notices, in runc's JSON), `stats`.

use std::io::Write;
use std::time::{Duration, Instant};

use nook_cgroups::{Cgroup, Layout};
use oci_spec::runtime::LinuxResources;
use serde_json::json;

use crate::container::Runtime;
use crate::error::{Error, Result};
use crate::state::Status;

/// Parse a size as runc does: bytes, or with a k/m/g/t suffix (powers of
/// 1024, optional trailing `b`/`ib`), or `-1` for unlimited.
pub fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let lower = t.to_ascii_lowercase();
    let lower = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, mul): (&str, i64) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| Error::Input(format!("invalid size {s:?}")))?;
    if v < 0.0 {
        return Err(Error::Input(format!("invalid size {s:?}")));
    }
    Ok((v * mul as f64) as i64)
}

/// Parse a Go-style duration (`5s`, `100ms`, `1m30s`).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || Error::Input(format!("invalid duration {s:?} (like 5s, 500ms, 1m)"));
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let v: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mul = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += v * mul;
        rest = &rest[u..];
    }
    Ok(Duration::from_secs_f64(total))
}

impl Runtime {
    /// Change the resource limits of a container.  Controllers the container
    /// did not use yet (a CPU limit added later) are joined now: the
    /// container is frozen while its processes move, so none escapes.
    pub fn update(&self, id: &str, res: &LinuxResources) -> Result<()> {
        let cd = self.root.open(id, true)?;
        let mut st = cd
            .read_state()?
            .ok_or_else(|| Error::Status(format!("container {id:?} is still being created")))?;
        let status = self.status_unlocked(&cd, &st);
        if status == Status::Stopped {
            return Err(Error::Status(format!(
                "cannot update container {id:?}: it is stopped"
            )));
        }
        let layout = Layout::detect()?;
        let spec = cd.read_config()?;
        let cg_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
        let grown = extend_cgroup(&layout, &st.cgroup, res, cg_path.as_deref(), id)?;
        if grown != st.cgroup {
            let old = st.cgroup.clone();
            let was_paused = old.freezer_state() == nook_cgroups::FreezerState::Frozen;
            let frozen = !was_paused && old.freeze(true).is_ok();
            let r = (|| -> Result<()> {
                let mut fresh = grown.clone();
                fresh.v1.retain(|k, _| !old.v1.contains_key(k));
                for pid in old.pids()? {
                    fresh.add_pid(pid, true)?;
                }
                Ok(())
            })();
            if frozen {
                let _ = old.freeze(false);
            }
            if let Err(e) = r {
                // Remove the directories this update made.
                let mut made = grown.clone();
                made.v1.retain(|k, _| !old.v1.contains_key(k));
                made.v2 = None;
                made.created.retain(|d| !old.created.contains(d));
                let _ = made.destroy();
                return Err(e);
            }
            st.cgroup = grown;
            cd.write_state(&st)?;
        }
        st.cgroup.update(res)?;
        Ok(())
    }

    /// Statistics of a container's cgroup, as runc's `events --stats` data.
    pub fn stats(&self, id: &str) -> Result<serde_json::Value> {
        let st = self.load_state(id)?;
        Ok(serde_json::to_value(st.cgroup.stats()).unwrap_or_default())
    }

    /// Print events of a container to `out` as JSON lines: its statistics
    /// (once with `stats_once`, else every `interval`) and `oom` notices,
    /// until the container stops.
    pub fn events(
        &self,
        id: &str,
        interval: Duration,
        stats_once: bool,
        out: &mut dyn Write,
    ) -> Result<()> {
        let st = self.load_state(id)?;
        let line = |out: &mut dyn Write, v: serde_json::Value| -> Result<()> {
            let mut s = v.to_string();
            s.push('\n');
            out.write_all(s.as_bytes())
                .and_then(|_| out.flush())
                .map_err(Error::io("write events", "stdout"))
        };
        let stats = |st: &crate::state::State| json!({"type": "stats", "id": id, "data": st.cgroup.stats()});
        if stats_once {
            return line(out, stats(&st));
        }
        let mut ooms = st.cgroup.oom_kills();
        let mut next_stats = Instant::now();
        let tick = interval
            .min(Duration::from_millis(100))
            .max(Duration::from_millis(10));
        loop {
            let status = self.status(id).unwrap_or(Status::Stopped);
            let now_ooms = st.cgroup.oom_kills();
            if now_ooms > ooms {
                ooms = now_ooms;
                line(out, json!({"type": "oom", "id": id}))?;
            }
            if status == Status::Stopped {
                return Ok(());
            }
            if Instant::now() >= next_stats {
                line(out, stats(&st))?;
                next_stats = Instant::now() + interval;
            }
            std::thread::sleep(tick);
        }
    }
}

/// The container's cgroup with the hierarchies `res` needs added (v1),
/// placed where `create` would have placed them.
fn extend_cgroup(
    layout: &Layout,
    cg: &Cgroup,
    res: &LinuxResources,
    path: Option<&std::path::Path>,
    id: &str,
) -> Result<Cgroup> {
    let mut out = cg.clone();
    if cg.pure_v2 {
        return Ok(out);
    }
    let planned = Cgroup::plan(
        layout,
        &nook_cgroups::CgroupSpec {
            path,
            default_name: id,
            resources: Some(res),
        },
    )?;
    for (k, d) in &planned.v1 {
        out.v1.entry(k.clone()).or_insert_with(|| d.clone());
    }
    if out != *cg {
        out.create_missing(cg)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("32m").unwrap(), 32 << 20);
        assert_eq!(parse_size("32MB").unwrap(), 32 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("abc").is_err());
        assert!(parse_size("-5").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
    }
}
