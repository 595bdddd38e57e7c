//! The process and lifecycle flags of `run` kept with a container: labels
//! (`-l`, `--label-file`, merged over the image's), the stop signal
//! (`--stop-signal`, else the image's StopSignal) and timeout
//! (`--stop-timeout`), `--init` (nook-init bound read-only into the
//! container and run as its first process), `--domainname`; and the
//! files of `--env-file` and `--label-file` in Docker's format.

use crate::{Error, Result};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Where `--init`'s program is bound inside the container.
pub const INIT_PATH: &str = "/sbin/nook-init";

/// Annotation: the stop signal's name.
pub const STOP_SIGNAL: &str = "io.nook.stop-signal";
/// Annotation: the stop timeout in seconds.
pub const STOP_TIMEOUT: &str = "io.nook.stop-timeout";
/// Annotation: the labels, a JSON object.
pub const LABELS: &str = "io.nook.labels";
/// Annotation: `--init` was given.
pub const INIT: &str = "io.nook.init";

/// The flags as given.
#[derive(Clone, Debug, Default)]
pub struct LifecycleOptions {
    /// `-l K=V` (and the lines of `--label-file`, read by the caller).
    pub labels: Vec<String>,
    /// `--stop-signal` (name or number).
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds.
    pub stop_timeout: Option<i64>,
    /// `--init`: the init program on this host (bound into the container).
    pub init: Option<PathBuf>,
    /// `--domainname`.
    pub domainname: Option<String>,
    /// `--annotation K=V`: OCI annotations the runtime sees.
    pub annotations: Vec<String>,
}

/// A signal by name (`TERM`, `SIGTERM`, case-insensitive) or number.
pub fn signal_number(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    nix::sys::signal::Signal::iterator()
        .find(|sig| sig.as_str().strip_prefix("SIG") == Some(name))
        .map(|sig| sig as i32)
}

/// `K=V` labels (a bare `K` is an empty value), later ones winning, over
/// the image's `Labels`.
pub fn labels(image_config: &Value, given: &[String]) -> serde_json::Map<String, Value> {
    let mut m = image_config["config"]["Labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for l in given {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        m.insert(k.to_string(), json!(v));
    }
    m
}

/// The lines of an `--env-file`/`--label-file` (Docker's format: `K=V`;
/// blank lines and `#` comments skipped; a bare `K` takes `lookup(K)`,
/// and is dropped when that is `None`).
pub fn parse_kv_file(
    path: &std::path::Path,
    flag: &'static str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let text = std::fs::read(path).map_err(Error::io("open", path))?;
    let text = String::from_utf8(text)
        .map_err(|_| Error::invalid(flag, path.display(), "not UTF-8 text"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(Error::invalid(
                flag,
                format!("{}:{}", path.display(), i + 1),
                format!("variable {k:?} contains whitespaces"),
            ));
        }
        match v {
            Some(v) => out.push(format!("{k}={v}")),
            None => out.extend(lookup(k).map(|v| format!("{k}={v}"))),
        }
    }
    Ok(out)
}

/// The flags checked (the stop signal known).
pub fn check(o: &LifecycleOptions) -> Result<()> {
    if let Some(s) = &o.stop_signal {
        signal_number(s).ok_or_else(|| Error::invalid("--stop-signal", s, "invalid signal"))?;
    }
    for a in &o.annotations {
        match a.split_once('=') {
            Some((k, _)) if !k.is_empty() && !k.starts_with("io.nook.") => {}
            _ => {
                return Err(Error::invalid(
                    "--annotation",
                    a,
                    "use KEY=VALUE (keys io.nook.* are nook's own)",
                ))
            }
        }
    }
    if let Some(init) = &o.init {
        if !init.is_file() {
            return Err(Error::invalid(
                "--init",
                init.display(),
                "the init program is missing",
            ));
        }
    }
    Ok(())
}

/// Apply to `spec`: annotations, the init's mount and arguments, the
/// domain name.
pub fn apply(o: &LifecycleOptions, image_config: &Value, spec: &mut Value) {
    let image_signal = image_config["config"]["StopSignal"].as_str();
    let signal = o.stop_signal.as_deref().or(image_signal);
    let ann = &mut spec["annotations"];
    for (k, v) in o.annotations.iter().filter_map(|a| a.split_once('=')) {
        ann[k] = json!(v);
    }
    if let Some(s) = signal.filter(|s| signal_number(s).is_some()) {
        ann[STOP_SIGNAL] = json!(s);
    }
    if let Some(t) = o.stop_timeout {
        ann[STOP_TIMEOUT] = json!(t.to_string());
    }
    let labels = labels(image_config, &o.labels);
    ann[LABELS] = json!(Value::Object(labels).to_string());
    if let Some(init) = &o.init {
        ann[INIT] = json!("true");
        if let Some(args) = spec["process"]["args"].as_array_mut() {
            args.splice(0..0, [json!(INIT_PATH), json!("--")]);
        }
        if let Some(m) = spec["mounts"].as_array_mut() {
            m.push(
                json!({"destination": INIT_PATH, "type": "bind", "source": init,
                          "options": ["rbind", "ro", "nosuid", "nodev", "rprivate"]}),
            );
        }
    }
    if let Some(d) = o.domainname.as_deref().filter(|d| !d.is_empty()) {
        spec["domainname"] = json!(d);
    }
}

/// The signal `stop` sends a container whose spec has `annotations`
/// (SIGTERM unless it says otherwise).
pub fn stop_signal(annotations: &Value) -> i32 {
    annotations[STOP_SIGNAL]
        .as_str()
        .and_then(signal_number)
        .unwrap_or(libc::SIGTERM)
}

/// The seconds `stop` waits for a container by default (10 unless
/// `--stop-timeout` said otherwise).
pub fn stop_timeout(annotations: &Value) -> u64 {
    annotations[STOP_TIMEOUT]
        .as_str()
        .and_then(|t| t.parse::<i64>().ok())
        .map_or(10, timeout_secs)
}

/// A stop timeout in seconds as Docker takes it: a negative one is no
/// timeout (waits as long as a wait can).
pub fn timeout_secs(t: i64) -> u64 {
    match t {
        t if t < 0 => u32::MAX as u64,
        t => t as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(signal_number("TERM"), Some(15));
        assert_eq!(signal_number("sigusr1"), Some(10));
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("NOPE"), None);
        assert_eq!(signal_number("0"), None);
    }

    #[test]
    fn kv_files_in_dockers_format() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("env");
        std::fs::write(&f, "# comment\n\nA=1\n  B=two words\nHOME\nUNSET\nC=\n").unwrap();
        let lookup = |k: &str| (k == "HOME").then(|| "/root".to_string());
        let got = parse_kv_file(&f, "--env-file", &lookup).unwrap();
        assert_eq!(got, vec!["A=1", "B=two words", "HOME=/root", "C="]);
        std::fs::write(&f, "BAD KEY=1\n").unwrap();
        let e = parse_kv_file(&f, "--env-file", &lookup)
            .unwrap_err()
            .to_string();
        assert!(e.contains(":1") && e.contains("whitespaces"), "{e}");
        let e = parse_kv_file(&dir.path().join("none"), "--env-file", &lookup)
            .unwrap_err()
            .to_string();
        assert!(e.contains("none"), "{e}");
    }

    #[test]
    fn apply_keeps_stop_settings_labels_and_init() {
        let image = json!({"config": {"StopSignal": "SIGQUIT", "Labels": {"a": "1", "b": "2"}}});
        let mut spec = json!({"process": {"args": ["sh"]}, "mounts": [], "annotations": {}});
        let o = LifecycleOptions {
            labels: vec!["b=3".into(), "c".into()],
            stop_timeout: Some(3),
            init: Some("/x/nook-init".into()),
            domainname: Some("example.org".into()),
            ..Default::default()
        };
        apply(&o, &image, &mut spec);
        let ann = &spec["annotations"];
        assert_eq!(stop_signal(ann), libc::SIGQUIT);
        assert_eq!(stop_timeout(ann), 3);
        let labels: Value = serde_json::from_str(ann[LABELS].as_str().unwrap()).unwrap();
        assert_eq!(labels, json!({"a": "1", "b": "3", "c": ""}));
        assert_eq!(spec["process"]["args"], json!([INIT_PATH, "--", "sh"]));
        assert_eq!(spec["mounts"][0]["source"], "/x/nook-init");
        assert_eq!(spec["domainname"], "example.org");
        assert_eq!(stop_signal(&json!({})), libc::SIGTERM);
        assert_eq!(stop_timeout(&json!({})), 10);
        assert_eq!(timeout_secs(-1), u32::MAX as u64);
    }
}
