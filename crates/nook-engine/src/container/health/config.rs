//! A container's health check configuration, Docker's `HealthConfig`: the
//! `--health-*` flags checked, merged field by field over the image
//! config's `Healthcheck`, and the probe it makes (defaults applied).

use crate::container::RunOptions;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// The annotation that keeps a container's merged `Healthcheck`.
pub const ANNOTATION: &str = "io.nook.healthcheck";

/// Docker's defaults: interval, timeout, start interval, retries.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;

/// Docker's `HealthConfig` (durations in nanoseconds, 0: the default;
/// fields at their zero value are left out of the JSON, as Docker does).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["CMD", prog, args...]`, `["CMD-SHELL", cmd]` or `["NONE"]`;
    /// empty: the image's.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_list"
    )]
    pub test: Vec<String>,
    /// Time between checks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// A check running longer is killed and fails.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Failures during it do not count (a success ends it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Time between checks during the start period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Failures in a row that make it unhealthy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn null_list<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// What the monitor and `healthcheck run` do: the command, its timing
/// (Docker's defaults filled in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The program and its arguments (`/bin/sh -c CMD` for `CMD-SHELL`).
    pub argv: Vec<String>,
    /// Time between checks.
    pub interval: Duration,
    /// A check running longer is killed.
    pub timeout: Duration,
    /// Failures during it do not count.
    pub start_period: Duration,
    /// Time between checks during the start period.
    pub start_interval: Duration,
    /// Failures in a row that make it unhealthy.
    pub retries: u32,
}

impl HealthConfig {
    /// The probe it makes; `None` for `NONE`, an empty or unknown test.
    pub fn probe(&self) -> Option<Probe> {
        let argv = match self.test.split_first()? {
            (kind, rest) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
            (kind, rest) if kind == "CMD-SHELL" && !rest.is_empty() => {
                let mut v = vec!["/bin/sh".to_string(), "-c".to_string()];
                v.extend(rest.iter().cloned());
                v
            }
            _ => return None,
        };
        let or = |ns: i64, d: Duration| match ns {
            ns if ns > 0 => Duration::from_nanos(ns as u64),
            _ => d,
        };
        Some(Probe {
            argv,
            interval: or(self.interval, DEFAULT_INTERVAL),
            timeout: or(self.timeout, DEFAULT_TIMEOUT),
            start_period: or(self.start_period, Duration::ZERO),
            start_interval: or(self.start_interval, DEFAULT_START_INTERVAL),
            retries: match self.retries {
                r if r > 0 => r.min(u32::MAX as i64) as u32,
                _ => DEFAULT_RETRIES,
            },
        })
    }

    /// `self` (the user's) over `image`'s, field by field, as Docker
    /// merges them.
    fn over(mut self, image: &HealthConfig) -> HealthConfig {
        if self.test.is_empty() {
            self.test = image.test.clone();
        }
        for (mine, theirs) in [
            (&mut self.interval, image.interval),
            (&mut self.timeout, image.timeout),
            (&mut self.start_period, image.start_period),
            (&mut self.start_interval, image.start_interval),
            (&mut self.retries, image.retries),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
        self
    }
}

/// The health check the flags ask for (`None`: no flag given), checked:
/// a bad duration, or `--no-healthcheck` with a `--health-*` flag, is an
/// error naming it.
pub fn from_flags(opts: &RunOptions) -> Result<Option<HealthConfig>> {
    let h = &opts.health;
    let dur = |flag: &'static str, v: &Option<String>| -> Result<i64> {
        let Some(s) = v else { return Ok(0) };
        if s.starts_with('-') {
            return Err(Error::invalid(flag, s, "cannot be negative"));
        }
        match super::parse_duration(s) {
            Some(d) if d.is_zero() || d >= Duration::from_millis(1) => Ok(d.as_nanos() as i64),
            Some(_) => Err(Error::invalid(flag, s, "cannot be less than 1ms")),
            None => Err(Error::invalid(
                flag,
                s,
                "not a duration (30s, 1m30s, 500ms)",
            )),
        }
    };
    let test = match opts.health_cmd.as_deref() {
        None | Some("") => Vec::new(),
        Some(c) if c.eq_ignore_ascii_case("none") => vec!["NONE".to_string()],
        Some(c) => vec!["CMD-SHELL".to_string(), c.to_string()],
    };
    let config = HealthConfig {
        test,
        interval: dur("--health-interval", &opts.health_interval)?,
        timeout: dur("--health-timeout", &h.timeout)?,
        start_period: dur("--health-start-period", &h.start_period)?,
        start_interval: dur("--health-start-interval", &h.start_interval)?,
        retries: opts.health_retries.unwrap_or(0) as i64,
    };
    let given = config != HealthConfig::default();
    match (h.disabled, given) {
        (true, true) => Err(Error::invalid(
            "--no-healthcheck",
            "true",
            "conflicts with --health-* options",
        )),
        (true, false) => Ok(Some(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        })),
        (false, true) => Ok(Some(config)),
        (false, false) => Ok(None),
    }
}

/// The container's health check: the flags' over the image config's
/// `Healthcheck`; `None` when neither has one.
pub fn merged(opts: &RunOptions, image_config: &Value) -> Result<Option<HealthConfig>> {
    let image: Option<HealthConfig> =
        serde_json::from_value(image_config["config"]["Healthcheck"].clone()).unwrap_or(None);
    Ok(match (from_flags(opts)?, image) {
        (Some(user), Some(image)) => Some(user.over(&image)),
        (user, image) => user.or(image),
    })
}

/// A duration as Go prints it (`%v`: `500ms`, `1s`, `1m30s`, `1h0m0s`).
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let frac = |v: u128, unit: u128| {
        let s = format!("{}.{:0w$}", v / unit, v % unit, w = unit.ilog10() as usize);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    match ns {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", frac(n, 1_000)),
        n if n < 1_000_000_000 => format!("{}ms", frac(n, 1_000_000)),
        n => {
            let secs = frac(n % 60_000_000_000, 1_000_000_000) + "s";
            let (m, h) = ((n / 60_000_000_000) % 60, n / 3_600_000_000_000);
            match (h, m) {
                (0, 0) => secs,
                (0, m) => format!("{m}m{secs}"),
                (h, m) => format!("{h}h{m}m{secs}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(f: impl FnOnce(&mut RunOptions)) -> RunOptions {
        let mut o = RunOptions::default();
        f(&mut o);
        o
    }

    #[test]
    fn flags_override_the_image_field_by_field() {
        let image = json!({"config": {"Healthcheck": {
            "Test": ["CMD", "check"], "Interval": 2_000_000_000i64, "Retries": 7}}});
        let o = opts(|o| o.health.timeout = Some("1s".into()));
        let h = merged(&o, &image).unwrap().unwrap();
        assert_eq!(h.test, ["CMD", "check"]);
        assert_eq!(
            (h.interval, h.timeout, h.retries),
            (2_000_000_000, 1_000_000_000, 7)
        );
        let p = h.probe().unwrap();
        assert_eq!(p.argv, ["check"]);
        assert_eq!(p.start_interval, Duration::from_secs(5));
        let o = opts(|o| o.health_cmd = Some("true".into()));
        let p = merged(&o, &image).unwrap().unwrap().probe().unwrap();
        assert_eq!(p.argv, ["/bin/sh", "-c", "true"]);
        assert_eq!((p.interval, p.retries), (Duration::from_secs(2), 7));
        // none at all, the image's alone, turned off
        assert_eq!(merged(&opts(|_| {}), &json!({})).unwrap(), None);
        assert!(merged(&opts(|_| {}), &image).unwrap().is_some());
        let off = merged(&opts(|o| o.health.disabled = true), &image)
            .unwrap()
            .unwrap();
        assert_eq!(
            (off.test.as_slice(), off.probe()),
            (&["NONE".to_string()][..], None)
        );
        let off = merged(&opts(|o| o.health_cmd = Some("NONE".into())), &image).unwrap();
        assert_eq!(off.unwrap().probe(), None);
        let json = serde_json::to_value(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        });
        assert_eq!(json.unwrap(), json!({"Test": ["NONE"]}));
    }

    #[test]
    fn bad_flags_are_errors_naming_them() {
        let e = from_flags(&opts(|o| o.health.timeout = Some("soon".into()))).unwrap_err();
        assert!(e.to_string().contains("--health-timeout \"soon\""), "{e}");
        let e = from_flags(&opts(|o| o.health.start_interval = Some("-1s".into()))).unwrap_err();
        assert!(e.to_string().contains("cannot be negative"), "{e}");
        let e = from_flags(&opts(|o| o.health.start_period = Some("10us".into()))).unwrap_err();
        assert!(e.to_string().contains("less than 1ms"), "{e}");
        let e = from_flags(&opts(|o| {
            o.health.disabled = true;
            o.health_retries = Some(2);
        }))
        .unwrap_err();
        assert!(e.to_string().contains("conflicts"), "{e}");
    }

    #[test]
    fn durations_as_go_prints_them() {
        let ms = Duration::from_millis;
        assert_eq!(go_duration(ms(500)), "500ms");
        assert_eq!(go_duration(ms(1000)), "1s");
        assert_eq!(go_duration(ms(1500)), "1.5s");
        assert_eq!(go_duration(ms(90_000)), "1m30s");
        assert_eq!(go_duration(ms(3_600_000)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_micros(2)), "2µs");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
