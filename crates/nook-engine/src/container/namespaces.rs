//! `--pid`, `--ipc`, `--uts`, `--cgroupns` and `--userns`: whether each of
//! a container's namespaces is its own, the host's, or another container's.
//!
//! A namespace shared with another container is recorded in the spec's
//! annotations (`io.nook.ns.<kind>` = the other container's id) and
//! resolved to `/proc/<pid>/ns/<kind>` each time the container starts, so
//! that it follows the other container across restarts; joining one that
//! is not running is refused with its name.

use crate::{Error, Result};
use serde_json::{json, Value};

/// The flags as given.
#[derive(Clone, Debug, Default)]
pub struct NamespaceOptions {
    /// `--pid host|private|container:NAME`.
    pub pid: Option<String>,
    /// `--ipc none|private|shareable|host|container:NAME`.
    pub ipc: Option<String>,
    /// `--uts host|private`.
    pub uts: Option<String>,
    /// `--cgroupns host|private`.
    pub cgroupns: Option<String>,
    /// `--userns host` (the only mode without a remapping engine).
    pub userns: Option<String>,
}

/// Where one namespace comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A new one of its own.
    Private,
    /// The host's (no namespace of its own).
    Host,
    /// That of another container (a name or id, resolved by the engine).
    Container(String),
    /// `--ipc none`: its own, without a /dev/shm.
    Empty,
}

/// The parsed modes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespaces {
    /// The pid namespace.
    pub pid: Mode,
    /// The IPC namespace.
    pub ipc: Mode,
    /// The UTS namespace.
    pub uts: Mode,
    /// The cgroup namespace (`None`: the engine's default for the host:
    /// private on cgroup v2, the host's on v1, as Docker's).
    pub cgroup: Option<Mode>,
}

fn mode(flag: &'static str, v: Option<&str>, allowed: &[&str], join: bool) -> Result<Mode> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(Mode::Private);
    };
    if let Some(name) = v.strip_prefix("container:") {
        if join && !name.is_empty() {
            return Ok(Mode::Container(name.to_string()));
        }
    } else if allowed.contains(&v) {
        return Ok(match v {
            "host" => Mode::Host,
            "none" => Mode::Empty,
            _ => Mode::Private,
        });
    }
    let mut choices = allowed.join(", ");
    if join {
        choices.push_str(", container:NAME");
    }
    Err(Error::invalid(flag, v, format!("use one of {choices}")))
}

impl Namespaces {
    /// The flags checked; `hostname` is whether `-h` was given (the host's
    /// UTS namespace has the host's name: Docker refuses both).
    pub fn parse(o: &NamespaceOptions, hostname: bool) -> Result<Namespaces> {
        let pid = mode("--pid", o.pid.as_deref(), &["host", "private"], true)?;
        let ipc = mode(
            "--ipc",
            o.ipc.as_deref(),
            &["none", "private", "shareable", "host"],
            true,
        )?;
        let uts = mode("--uts", o.uts.as_deref(), &["host", "private"], false)?;
        let cgroup = match o.cgroupns.as_deref().filter(|v| !v.is_empty()) {
            None => None,
            v => Some(mode("--cgroupns", v, &["host", "private"], false)?),
        };
        if let Some(u) = o
            .userns
            .as_deref()
            .filter(|u| !u.is_empty() && *u != "host")
        {
            return Err(Error::invalid(
                "--userns",
                u,
                "only \"host\" is supported (nook remaps no users for root containers)",
            ));
        }
        if uts == Mode::Host && hostname {
            return Err(Error::invalid(
                "--hostname",
                "",
                "conflicting options: hostname and the UTS mode host",
            ));
        }
        Ok(Namespaces {
            pid,
            ipc,
            uts,
            cgroup,
        })
    }

    /// The modes applied to `spec`: host namespaces left out, shared ones
    /// annotated with the other container's id (`ids` resolves a name).
    pub fn apply(&self, spec: &mut Value, ids: impl Fn(&str) -> Result<String>) -> Result<()> {
        let kinds = [
            ("pid", Some(&self.pid)),
            ("ipc", Some(&self.ipc)),
            ("uts", Some(&self.uts)),
            ("cgroup", self.cgroup.as_ref()),
        ];
        for (kind, m) in kinds {
            match m {
                Some(Mode::Host) => remove_namespace(spec, kind),
                Some(Mode::Container(name)) => {
                    spec["annotations"][format!("io.nook.ns.{kind}")] = json!(ids(name)?);
                }
                Some(Mode::Private | Mode::Empty) => add_namespace(spec, kind),
                None => {}
            }
        }
        if self.uts == Mode::Host {
            if let Some(o) = spec.as_object_mut() {
                o.remove("hostname");
            }
        }
        match self.ipc {
            Mode::Empty => remove_mount(spec, "/dev/shm"),
            Mode::Host => {
                remove_mount(spec, "/dev/shm");
                push_mount(
                    spec,
                    json!({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                           "options": ["rbind", "rprivate", "nosuid", "noexec", "nodev"]}),
                );
            }
            _ => {}
        }
        Ok(())
    }
}

/// The namespaces of `spec` shared with other containers: (kind, id).
pub fn shared(spec: &Value) -> Vec<(&'static str, String)> {
    ["pid", "ipc", "uts", "cgroup", "network"]
        .into_iter()
        .filter_map(|k| {
            let id = spec["annotations"][format!("io.nook.ns.{k}")].as_str()?;
            Some((k, id.to_string()))
        })
        .collect()
}

/// Point `spec`'s namespace `kind` at the namespace of process `pid`.
pub fn join(spec: &mut Value, kind: &str, pid: i32) {
    remove_namespace(spec, kind);
    if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
        let file = if kind == "network" { "net" } else { kind };
        ns.push(json!({"type": kind, "path": format!("/proc/{pid}/ns/{file}")}));
    }
}

fn remove_namespace(spec: &mut Value, kind: &str) {
    if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != kind);
    }
}

fn add_namespace(spec: &mut Value, kind: &str) {
    if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
        if !ns.iter().any(|n| n["type"] == kind) {
            ns.push(json!({"type": kind}));
        }
    }
}

fn remove_mount(spec: &mut Value, dest: &str) {
    if let Some(m) = spec["mounts"].as_array_mut() {
        m.retain(|m| m["destination"] != dest);
    }
}

fn push_mount(spec: &mut Value, mount: Value) {
    if let Some(m) = spec["mounts"].as_array_mut() {
        m.push(mount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pid: &str, ipc: &str, uts: &str) -> NamespaceOptions {
        let s = |v: &str| (!v.is_empty()).then(|| v.to_string());
        NamespaceOptions {
            pid: s(pid),
            ipc: s(ipc),
            uts: s(uts),
            ..Default::default()
        }
    }

    fn spec() -> Value {
        json!({"hostname": "h", "annotations": {},
               "mounts": [{"destination": "/dev/shm", "type": "tmpfs"}],
               "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}})
    }

    #[test]
    fn modes_parse_as_dockers() {
        let n = Namespaces::parse(&opts("host", "container:db", ""), false).unwrap();
        assert_eq!(n.pid, Mode::Host);
        assert_eq!(n.ipc, Mode::Container("db".into()));
        assert_eq!(n.uts, Mode::Private);
        assert_eq!(n.cgroup, None);
        for (o, bad) in [
            (opts("hots", "", ""), "\"hots\""),
            (opts("", "container:", ""), "container:"),
            (opts("", "", "container:x"), "container:x"),
        ] {
            let e = Namespaces::parse(&o, false).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        let e = Namespaces::parse(&opts("", "", "host"), true).unwrap_err();
        assert!(e.to_string().contains("hostname"), "{e}");
        let u = NamespaceOptions {
            userns: Some("keep-id".into()),
            ..Default::default()
        };
        assert!(Namespaces::parse(&u, false)
            .unwrap_err()
            .to_string()
            .contains("--userns"));
    }

    #[test]
    fn host_modes_leave_namespaces_out_and_shared_ones_are_annotated() {
        let n = Namespaces::parse(&opts("container:web", "host", "host"), false).unwrap();
        let mut s = spec();
        n.apply(&mut s, |name| Ok(format!("id-of-{name}"))).unwrap();
        let kinds: Vec<&str> = s["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["pid", "mount"]);
        assert!(s.get("hostname").is_none());
        assert_eq!(s["mounts"][0]["source"], "/dev/shm");
        assert_eq!(shared(&s), [("pid", "id-of-web".to_string())]);
        join(&mut s, "pid", 42);
        assert_eq!(s["linux"]["namespaces"][1]["path"], "/proc/42/ns/pid");
    }

    #[test]
    fn ipc_none_has_no_shm() {
        let n = Namespaces::parse(&opts("", "none", ""), false).unwrap();
        let mut s = spec();
        n.apply(&mut s, |n| Ok(n.to_string())).unwrap();
        assert!(s["mounts"].as_array().unwrap().is_empty());
    }
}
