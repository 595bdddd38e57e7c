//! Loading a bundle: reading `config.json` (errors say where in the file),
//! validating the container id, and the semantic checks that must fail
//! `create` before anything is set up.

use std::path::{Path, PathBuf};

use nook_namespaces::{idmap::IdMap, NsKind, NsPlan};
use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// Check a container id: non-empty, at most 1024 bytes, made of letters,
/// digits, `_`, `+`, `-`, `.` (as runc), and not `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |why| {
        Err(Error::InvalidId {
            id: id.to_string(),
            why,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id == "." || id == ".." {
        return bad("it is a path component (. or ..)");
    }
    if id.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if id.contains('/') {
        return bad("it contains '/'");
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'))
    {
        return bad("only letters, digits, '_', '+', '-' and '.' are allowed");
    }
    Ok(())
}

/// The byte offset of `line`/`column` (1-based, as serde_json reports
/// errors) in `doc`.
fn offset_of(doc: &[u8], line: usize, column: usize) -> usize {
    let mut off = 0;
    for _ in 1..line {
        match doc[off..].iter().position(|&b| b == b'\n') {
            Some(n) => off += n + 1,
            None => break,
        }
    }
    (off + column).min(doc.len())
}

/// The JSON path (`process.user.uid`, `mounts[2].options[0]`) of the value
/// that ends at byte `end` of `doc`.
///
/// A small scanner instead of re-deserializing with path tracking: it runs
/// only when a config is rejected and costs no code on the fast path.
fn json_path_at(doc: &[u8], end: usize) -> String {
    enum Frame {
        Obj { key: Option<String>, value: bool },
        Arr(usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        match doc[i] {
            b'{' => stack.push(Frame::Obj {
                key: None,
                value: false,
            }),
            b'[' => stack.push(Frame::Arr(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b':' => {
                if let Some(Frame::Obj { value, .. }) = stack.last_mut() {
                    *value = true;
                }
            }
            b',' => match stack.last_mut() {
                Some(Frame::Arr(n)) => *n += 1,
                Some(Frame::Obj { key, value }) => {
                    *key = None;
                    *value = false;
                }
                None => {}
            },
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < doc.len() && doc[i] != b'"' {
                    i += if doc[i] == b'\\' { 2 } else { 1 };
                }
                if let Some(Frame::Obj { key, value: false }) = stack.last_mut() {
                    *key =
                        Some(String::from_utf8_lossy(&doc[start..i.min(doc.len())]).into_owned());
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for f in &stack {
        match f {
            Frame::Obj { key: Some(k), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Frame::Obj { key: None, .. } => {}
            Frame::Arr(n) => path.push_str(&format!("[{n}]")),
        }
    }
    path
}

/// A bundle read from disk.
#[derive(Debug, Clone)]
pub(crate) struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    /// The raw bytes of config.json (kept in the container's state).
    pub raw: Vec<u8>,
    /// The parsed configuration.
    pub spec: Spec,
    /// Absolute, symlink-free rootfs path.
    pub rootfs: PathBuf,
}

/// Parse a JSON document the user gave (config.json, `exec --process`,
/// `update --resources`); errors name the file `name`, line, column and the
/// JSON path of the offending value.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], name: &Path) -> Result<T> {
    match serde_json::from_slice::<T>(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            // Slow path, errors only: name the value the error points at.
            let mut end = offset_of(bytes, e.line(), e.column());
            let msg = e.to_string();
            // A value oci-spec converts after reading a whole list (an
            // unknown capability) is reported past the list: point at it.
            if let Some(v) = msg
                .strip_prefix("no variant for ")
                .and_then(|r| r.split(' ').next())
            {
                let quoted = format!("\"{v}\"");
                if let Some(p) = bytes[..end]
                    .windows(quoted.len())
                    .rposition(|w| w == quoted.as_bytes())
                {
                    end = p + quoted.len();
                }
            }
            // Only a wrong value has a path; broken JSON has a position.
            let path = if e.is_data() {
                json_path_at(bytes, end)
            } else {
                String::new()
            };
            // serde_json appends " at line L column C"; we put it in front.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            let msg = msg
                .split(", expected one of")
                .next()
                .unwrap_or(&msg)
                .to_string();
            // oci-spec words an unknown capability as "no variant for X
            // (converted to Y)": say what it is.
            let msg = match msg.strip_prefix("no variant for ") {
                Some(rest) if path.contains("capabilities") => {
                    format!(
                        "unknown capability {}",
                        rest.split(" (").next().unwrap_or(rest)
                    )
                }
                _ => msg,
            };
            let at = if path.is_empty() || path == "." {
                String::new()
            } else {
                format!(" ({path})")
            };
            Err(Error::InvalidConfig {
                path: Some(name.to_path_buf()),
                reason: format!("line {}, column {}{at}: {msg}", e.line(), e.column()),
            })
        }
    }
}

/// Read and check the bundle at `dir` (relative to the current directory).
pub(crate) fn load_bundle(dir: &Path) -> Result<Bundle> {
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(Error::io("get current directory", "."))?
            .join(dir)
    };
    let dir = nook_sys::path::clean_relative(&dir);
    let dir = Path::new("/").join(dir);
    if !dir.is_dir() {
        return Err(Error::config(format!(
            "bundle {} does not exist or is not a directory",
            dir.display()
        )));
    }
    let cfg = dir.join("config.json");
    let raw = std::fs::read(&cfg).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::config(format!("bundle {}: config.json not found", dir.display()))
        } else {
            Error::io("read", cfg.clone())(e)
        }
    })?;
    let spec: Spec = parse_json(&raw, &cfg)?;
    let root = spec.root().as_ref().ok_or_else(|| {
        Error::config(format!(
            "{}: root is missing (root.path names the container's file system)",
            cfg.display()
        ))
    })?;
    let rp = root.path();
    let rootfs = if rp.is_absolute() {
        rp.clone()
    } else {
        dir.join(rp)
    };
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|_| Error::config(format!("root.path {} does not exist", rootfs.display())))?;
    if !rootfs.is_dir() {
        return Err(Error::config(format!(
            "root.path {} is not a directory",
            rootfs.display()
        )));
    }
    Ok(Bundle {
        dir,
        raw,
        spec,
        rootfs,
    })
}

/// Which namespace a sysctl belongs to, if it is namespaced at all.
fn sysctl_ns(key: &str) -> Option<NsKind> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        return Some(NsKind::Ipc);
    }
    if key.starts_with("net.") {
        return Some(NsKind::Net);
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return Some(NsKind::Uts);
    }
    if key.starts_with("user.") {
        return Some(NsKind::User);
    }
    None
}

/// `linux.uidMappings` and `linux.gidMappings` (empty when absent).
pub(crate) fn id_maps(spec: &Spec) -> (Vec<IdMap>, Vec<IdMap>) {
    let l = spec.linux().as_ref();
    let u = l
        .and_then(|l| l.uid_mappings().as_ref())
        .map(|v| v.iter().map(Into::into).collect())
        .unwrap_or_default();
    let g = l
        .and_then(|l| l.gid_mappings().as_ref())
        .map(|v| v.iter().map(Into::into).collect())
        .unwrap_or_default();
    (u, g)
}

/// Semantic checks of a configuration (what the JSON schema cannot say).
pub fn validate(spec: &Spec) -> Result<()> {
    // A container without `process` can be created (everything else is
    // set up), but not started: the runtime-spec makes `start` the error.
    let default_process = oci_spec::runtime::Process::default();
    let process = spec.process().as_ref().unwrap_or(&default_process);
    if spec.process().is_some() {
        if process.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(Error::config("process.args must name the program to run"));
        }
        if !process.cwd().is_absolute() {
            return Err(Error::config(format!(
                "process.cwd {:?} must be an absolute path",
                process.cwd()
            )));
        }
    }
    let linux = spec.linux().clone().unwrap_or_default();
    let plan = NsPlan::from_spec(linux.namespaces().as_deref().unwrap_or(&[]))?;
    validate_namespaces(spec, &linux, &plan)?;
    validate_sysctl(&linux, &plan)?;
    if let Some(p) = linux.rootfs_propagation() {
        nook_rootfs::propagation_flags(p)?;
    }
    for m in spec.mounts().iter().flatten() {
        if m.destination().as_os_str().is_empty() {
            return Err(Error::config("mounts: a mount has an empty destination"));
        }
    }
    validate_process(process)?;
    nook_process::check_intel_rdt(linux.intel_rdt().is_some())?;
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(Error::config(
            "linux.netDevices is not supported by nook yet",
        ));
    }
    Ok(())
}

/// Names, id maps and time offsets against the namespaces the config makes.
fn validate_namespaces(spec: &Spec, linux: &oci_spec::runtime::Linux, plan: &NsPlan) -> Result<()> {
    let cfg = |m: &str| Err(Error::config(m));
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !plan.contains(NsKind::Uts) {
        return cfg(
            "hostname is set but there is no uts namespace: it would change the host's name",
        );
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !plan.contains(NsKind::Uts) {
        return cfg("domainname is set but there is no uts namespace: it would change the host's domain name");
    }
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if plan.is_new(NsKind::User) && !has_maps {
        return cfg("a new user namespace needs linux.uidMappings and linux.gidMappings");
    }
    if has_maps && !plan.is_new(NsKind::User) {
        return cfg("linux.uidMappings/gidMappings are set but no new user namespace is created");
    }
    if plan.is_new(NsKind::User) {
        let (u, g) = id_maps(spec);
        nook_namespaces::idmap::validate("linux.uidMappings", &u)?;
        nook_namespaces::idmap::validate("linux.gidMappings", &g)?;
    }
    if let Some(t) = linux.time_offsets().as_ref().filter(|t| !t.is_empty()) {
        if !plan.is_new(NsKind::Time) {
            return cfg("linux.timeOffsets need a new time namespace");
        }
        nook_namespaces::timens::format(t)?;
    }
    Ok(())
}

/// Every sysctl must be one the container's own namespaces scope.
fn validate_sysctl(linux: &oci_spec::runtime::Linux, plan: &NsPlan) -> Result<()> {
    for k in linux.sysctl().iter().flat_map(|s| s.keys()) {
        nook_process::sysctl_path(k)?;
        match sysctl_ns(k) {
            Some(ns) if plan.contains(ns) => {}
            Some(ns) => {
                return Err(Error::config(format!(
                    "linux.sysctl {k} needs the container's own {ns} namespace, else it would change the host"
                )))
            }
            None => {
                return Err(Error::config(format!(
                    "linux.sysctl {k} is not namespaced: setting it would change the host"
                )))
            }
        }
    }
    Ok(())
}

/// Limits, capabilities and LSM labels of the process.
fn validate_process(process: &oci_spec::runtime::Process) -> Result<()> {
    if let Some(r) = process.rlimits() {
        nook_process::validate_rlimits(r)?;
    }
    if let Some(v) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&v) {
            return Err(Error::config(format!(
                "process.oomScoreAdj {v} is not in -1000..=1000"
            )));
        }
    }
    if let Some(c) = process.capabilities() {
        nook_security::caps::CapSets::from_spec(c)?;
    }
    nook_security::lsm::LsmRoots::default().check(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "ü", &"x".repeat(1025)] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            validate_id("a/b").unwrap_err().to_string(),
            "invalid container id \"a/b\": it contains '/'"
        );
    }

    #[test]
    fn unknown_capability_is_named() {
        let j = br#"{"ociVersion":"1.0.0","process":{"cwd":"/","user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_KILL","CAP_TEST"]}}}"#;
        let e = parse_json::<Spec>(j, Path::new("config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("(process.capabilities.bounding[1]): unknown capability CAP_TEST"),
            "{e}"
        );
    }

    #[test]
    fn parse_errors_say_where() {
        let e = parse_json::<Spec>(
            b"{\n \"ociVersion\": \"1.0.0\",\n \"process\": {\"user\": {\"uid\": \"x\"}}}",
            Path::new("config.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("config.json: line 3, column"), "{e}");
        assert!(e.contains("process.user.uid"), "{e}");
        let e = parse_json::<Spec>(b"{ not json", Path::new("c.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
        // exec --process documents go through the same parser
        let e = parse_json::<oci_spec::runtime::Process>(
            br#"{"cwd": "/", "user": {"uid": 0, "gid": "g"}}"#,
            Path::new("process.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("process.json: line 1, column"), "{e}");
        assert!(e.contains("(user.gid)"), "{e}");
        assert_eq!(e.matches("line 1").count(), 1, "position said once: {e}");
    }

    #[test]
    fn json_path_names_the_value() {
        let doc = b"{\n \"a\": {\"b\": [1, {\"c\": \"x\\\"y\"}]},\n \"d\": 2}";
        // inside "x\"y" (line 2), after the first array element, and at d
        let col = |needle: &str, line: &[u8]| {
            line.windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .unwrap()
                + needle.len()
        };
        let l2 = &doc[2..doc.iter().skip(2).position(|&b| b == b'\n').unwrap() + 2];
        let at = |l, c| json_path_at(doc, offset_of(doc, l, c));
        assert_eq!(at(2, col("y\"", l2)), "a.b[1].c");
        assert_eq!(at(2, col("[1", l2)), "a.b[0]");
        assert_eq!(at(3, 7), "d");
        assert_eq!(at(1, 1), "");
        assert_eq!(json_path_at(b"{ not json", 3), "");
    }

    fn spec(extra: &str) -> Spec {
        let base = format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"process":{{"args":["sh"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
               "linux":{{"namespaces":[{{"type":"mount"}},{{"type":"pid"}}]}}{extra}}}"#
        );
        serde_json::from_str(&base).unwrap()
    }

    #[test]
    fn semantic_checks() {
        assert!(validate(&spec("")).is_ok());
        let e = validate(&spec(r#","hostname":"h""#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no uts namespace"), "{e}");
        let mut s = spec("");
        s.linux_mut().as_mut().unwrap().set_sysctl(Some(
            [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
        ));
        assert!(validate(&s)
            .unwrap_err()
            .to_string()
            .contains("network namespace"));
        let mut s = spec("");
        s.linux_mut().as_mut().unwrap().set_sysctl(Some(
            [("vm.swappiness".to_string(), "1".to_string())].into(),
        ));
        assert!(validate(&s)
            .unwrap_err()
            .to_string()
            .contains("not namespaced"));
        let mut s = spec("");
        s.set_process(None);
        assert!(
            validate(&s).is_ok(),
            "a container without process can be created"
        );
        let mut s = spec("");
        s.linux_mut().as_mut().unwrap().set_namespaces(Some(vec![]));
        assert!(
            validate(&s).is_ok(),
            "sharing the runtime's mount namespace is allowed"
        );
    }
}
