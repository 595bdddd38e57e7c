//! `--device HOST[:CONTAINER][:PERMS]` and `--device-cgroup-rule`: host
//! devices made in the container and allowed by its device cgroup, in
//! Docker's syntax.

use crate::{Error, Result};
use serde_json::{json, Value};
use std::path::Path;

/// One `--device` parsed: the host path, the path in the container and
/// the cgroup access (`rwm` by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceMapping {
    /// The device (or a directory of devices) on the host.
    pub host: String,
    /// Where it appears in the container.
    pub container: String,
    /// A non-empty subset of `rwm`.
    pub access: String,
}

fn is_access(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| "rwm".contains(c))
}

/// `--device` as Docker reads it.
pub fn parse_device(arg: &str) -> Result<DeviceMapping> {
    let bad = |why: &str| Error::invalid("--device", arg, why);
    let parts: Vec<&str> = arg.split(':').collect();
    let (host, container, access) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, a] if is_access(a) => (*h, *h, *a),
        [h, c] => (*h, *c, "rwm"),
        [h, c, a] => (*h, *c, *a),
        _ => return Err(bad("use HOST[:CONTAINER][:PERMISSIONS]")),
    };
    if !is_access(access) {
        return Err(bad("permissions must be a combination of r, w and m"));
    }
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(bad("device paths must be absolute"));
    }
    Ok(DeviceMapping {
        host: host.to_string(),
        container: container.to_string(),
        access: access.to_string(),
    })
}

/// `--device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS'` (`*` for any number)
/// as a `linux.resources.devices` entry.
pub fn parse_cgroup_rule(arg: &str) -> Result<Value> {
    let bad = || {
        Error::invalid(
            "--device-cgroup-rule",
            arg,
            "use 'TYPE MAJOR:MINOR ACCESS': TYPE a, b or c; numbers or *; ACCESS of r, w, m",
        )
    };
    let f: Vec<&str> = arg.split_whitespace().collect();
    let [typ, nums, access] = f.as_slice() else {
        return Err(bad());
    };
    if !matches!(*typ, "a" | "b" | "c") || !is_access(access) {
        return Err(bad());
    }
    let (major, minor) = nums.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| -> Result<Value> {
        match s {
            "*" => Ok(Value::Null),
            n => n.parse::<i64>().map(|n| json!(n)).map_err(|_| bad()),
        }
    };
    Ok(
        json!({"allow": true, "type": typ, "major": num(major)?, "minor": num(minor)?,
              "access": access}),
    )
}

/// The device nodes `m` names on the host (every one below it, when it
/// is a directory) as `(linux.devices entry, cgroup rule)` pairs.
pub fn resolve(m: &DeviceMapping) -> Result<Vec<(Value, Value)>> {
    let host = Path::new(&m.host);
    let md = std::fs::metadata(host).map_err(|e| {
        Error::invalid(
            "--device",
            &m.host,
            format!("error gathering device information: {e}"),
        )
    })?;
    let nodes = if md.is_dir() {
        super::security::host_devices(host)
    } else {
        let real = std::fs::canonicalize(host).unwrap_or_else(|_| host.to_path_buf());
        let one = super::security::host_device(&real);
        vec![one.ok_or_else(|| Error::invalid("--device", &m.host, "not a device node"))?]
    };
    Ok(nodes
        .into_iter()
        .map(|mut d| {
            let rel = d["path"]
                .as_str()
                .and_then(|p| Path::new(p).strip_prefix(host).ok())
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dest = if rel.is_empty() {
                m.container.clone()
            } else {
                format!("{}/{rel}", m.container.trim_end_matches('/'))
            };
            d["path"] = json!(dest);
            let rule = json!({"allow": true, "type": d["type"], "major": d["major"],
                              "minor": d["minor"], "access": m.access});
            (d, rule)
        })
        .collect())
}

/// The flags applied to `spec`: each device made and allowed, each rule
/// added after the defaults.
pub fn apply(spec: &mut Value, devices: &[String], rules: &[String]) -> Result<()> {
    let mut nodes = Vec::new();
    let mut allow = Vec::new();
    for d in devices {
        for (node, rule) in resolve(&parse_device(d)?)? {
            nodes.push(node);
            allow.push(rule);
        }
    }
    for r in rules {
        allow.push(parse_cgroup_rule(r)?);
    }
    if nodes.is_empty() && allow.is_empty() {
        return Ok(());
    }
    let linux = &mut spec["linux"];
    if !linux["devices"].is_array() {
        linux["devices"] = json!([]);
    }
    if let Some(list) = linux["devices"].as_array_mut() {
        list.retain(|e| !nodes.iter().any(|n| n["path"] == e["path"]));
        list.extend(nodes);
    }
    if !linux["resources"]["devices"].is_array() {
        linux["resources"]["devices"] = json!([]);
    }
    if let Some(list) = linux["resources"]["devices"].as_array_mut() {
        list.extend(allow);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_flags_parse_as_dockers() {
        let d = parse_device("/dev/null").unwrap();
        assert_eq!(
            (d.container.as_str(), d.access.as_str()),
            ("/dev/null", "rwm")
        );
        let d = parse_device("/dev/null:r").unwrap();
        assert_eq!(
            (d.container.as_str(), d.access.as_str()),
            ("/dev/null", "r")
        );
        let d = parse_device("/dev/null:/dev/nothing:rw").unwrap();
        assert_eq!(
            (d.container.as_str(), d.access.as_str()),
            ("/dev/nothing", "rw")
        );
        for bad in ["dev/null", "/dev/null:/x:rx", "/a:/b:r:w", "/dev/null:rel"] {
            let e = parse_device(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn cgroup_rules_parse_as_dockers() {
        let r = parse_cgroup_rule("c 42:* rmw").unwrap();
        assert_eq!(r["major"], 42);
        assert!(r["minor"].is_null());
        assert_eq!(r["type"], "c");
        for bad in ["c 42 rmw", "x 1:2 r", "c 1:2 q", "c a:2 r", ""] {
            assert!(parse_cgroup_rule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_device_is_made_at_its_container_path_and_allowed() {
        let mut spec =
            json!({"linux": {"resources": {"devices": [{"allow": false, "access": "rwm"}]}}});
        apply(
            &mut spec,
            &["/dev/null:/dev/mynull:r".into()],
            &["b 8:* r".into()],
        )
        .unwrap();
        assert_eq!(spec["linux"]["devices"][0]["path"], "/dev/mynull");
        assert_eq!(spec["linux"]["devices"][0]["major"], 1);
        let rules = spec["linux"]["resources"]["devices"].as_array().unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[1]["access"], "r");
        assert_eq!(rules[2]["type"], "b");
        let e = apply(&mut spec, &["/dev/nope-nook".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("/dev/nope-nook"), "{e}");
        let e = apply(&mut spec, &["/etc/hostname".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("not a device"), "{e}");
    }
}
