//! The `ps --filter` keys beyond names, ids, labels, states and images:
//! `health=`, `volume=`, `network=`, `publish=`, `expose=`, `is-task=`,
//! checked as Docker checks them and matched against what the engine
//! records of a container; and the row fields from the same records
//! (`Mounts`, `LocalVolumes`, `Networks`).

use crate::Failure;
use nook_engine::{Container, Engine};
use serde_json::Value;

/// The keys this module handles.
pub const KEYS: [&str; 6] = [
    "health", "volume", "network", "publish", "expose", "is-task",
];

/// Check `value` of filter `key` (one of [`KEYS`]): Docker's error for a
/// bad one.
pub fn check(key: &str, value: &str) -> Result<(), Failure> {
    let ok = match key {
        "health" => ["starting", "healthy", "unhealthy", "none"].contains(&value),
        "is-task" => ["true", "false", "1", "0"].contains(&value),
        "publish" | "expose" => port_range(value).is_some(),
        _ => true,
    };
    match (ok, key) {
        (true, _) => Ok(()),
        (false, "health") => Err(Failure(format!(
            "Unrecognised filter value for health: {value}"
        ))),
        (false, _) => Err(Failure(format!("invalid filter '{key}={value}'"))),
    }
}

/// `80`, `80/tcp`, `8000-8080/udp`: the first and last port, the
/// protocol.
fn port_range(v: &str) -> Option<(u16, u16, &str)> {
    let (ports, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    if !["tcp", "udp", "sctp"].contains(&proto) {
        return None;
    }
    let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
    let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some((a, b, proto))
}

/// Whether container `c` (its spec `spec`) has what `key=value` asks.
pub fn matches(engine: &Engine, c: &Container, spec: &Value, key: &str, value: &str) -> bool {
    match key {
        "health" => {
            let status = engine.health_of(&c.record).map(|h| h.status);
            status.as_deref().unwrap_or("none") == value
        }
        "volume" => has_volume(spec, value),
        "network" => network(spec) == value,
        "publish" | "expose" => crate::ports_flags::filter_matches(engine, c, spec, key, value),
        // no container is a Swarm task
        "is-task" => matches!(value, "false" | "0"),
        _ => false,
    }
}

/// Set a `ps` row's `Mounts` (each mount's volume name or source, cut to
/// 12 characters when `trunc`, as Docker's), `LocalVolumes` (its volumes)
/// and `Networks` from the container's spec `config` (JSON text).
pub fn row_fields(row: &mut Value, config: &str, trunc: bool) {
    let spec: Value = serde_json::from_str(config).unwrap_or_default();
    let mounts = mounts(&spec);
    let names: Vec<String> = mounts
        .iter()
        .map(|m| {
            let name = m["Name"].as_str().filter(|n| !n.is_empty());
            let name = name.or(m["Source"].as_str()).unwrap_or("");
            match trunc {
                true => name.chars().take(12).collect(),
                false => name.to_string(),
            }
        })
        .collect();
    let local = mounts.iter().filter(|m| m["Driver"] == "local").count();
    row["Mounts"] = Value::String(names.join(","));
    row["LocalVolumes"] = Value::String(local.to_string());
    row["Networks"] = Value::String(network(&spec).to_string());
}

/// Whether a container mounts `v` (a volume's name, a bind's source) or
/// has a mount at `v`.
fn has_volume(spec: &Value, v: &str) -> bool {
    mounts(spec).iter().any(|m| {
        let name = m["Name"].as_str().filter(|n| !n.is_empty());
        let source = name.or(m["Source"].as_str());
        m["Destination"].as_str() == Some(v) || source == Some(v)
    })
}

/// `inspect`'s Mounts of a container (the `io.nook.mounts` annotation).
fn mounts(spec: &Value) -> Vec<Value> {
    spec["annotations"]["io.nook.mounts"]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// The network a container is on, as the engine records it: the
/// `io.nook.network` annotation when there is one, else `host` without a
/// network namespace of its own, else `none`.
fn network(spec: &Value) -> &str {
    if let Some(n) = spec["annotations"]["io.nook.network"].as_str() {
        return n;
    }
    let own = spec["linux"]["namespaces"]
        .as_array()
        .is_some_and(|ns| ns.iter().any(|n| n["type"] == "network"));
    match own {
        true => "none",
        false => "host",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_checked_as_docker_checks_them() {
        assert!(check("health", "healthy").is_ok());
        assert!(check("health", "none").is_ok());
        let e = check("health", "sick").unwrap_err().0;
        assert_eq!(e, "Unrecognised filter value for health: sick");
        assert!(check("publish", "80").is_ok());
        assert!(check("expose", "8000-8080/udp").is_ok());
        assert!(check("publish", "80/xyz").is_err());
        assert!(check("expose", "90-80").is_err());
        assert!(check("is-task", "maybe").is_err());
    }

    #[test]
    fn volumes_by_name_source_or_destination_and_the_network() {
        let mounts = json!([{"Type": "volume", "Name": "data", "Source": "/x/data/_data",
            "Destination": "/srv"}, {"Type": "bind", "Source": "/host", "Destination": "/in"}]);
        let spec = json!({"annotations": {"io.nook.mounts": mounts.to_string()},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}]}});
        let vols: Vec<bool> = ["data", "/srv", "/host", "/in", "/x/data/_data", "other"]
            .iter()
            .map(|v| has_volume(&spec, v))
            .collect();
        assert_eq!(vols, [true, true, true, true, false, false]);
        let mut row = serde_json::json!({});
        row_fields(&mut row, &spec.to_string(), true);
        assert_eq!(
            row,
            json!({"Mounts": "data,/host", "LocalVolumes": "0", "Networks": "none"})
        );
        assert_eq!(network(&spec), "none");
        assert_eq!(
            network(&json!({"linux": {"namespaces": [{"type": "pid"}]}})),
            "host"
        );
        let named = json!({"annotations": {"io.nook.network": "nook"}});
        assert_eq!(network(&named), "nook");
    }
}
