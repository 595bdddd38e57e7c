//! Published ports on the command line: `run`'s `-p/--publish`,
//! `-P/--publish-all` and `--expose` (flattened into [`crate::cli::Run`]),
//! and how the other commands show them as Docker does: `port`, `ps`'s
//! PORTS column and `--filter publish=/expose=`, `inspect`'s
//! `HostConfig.PortBindings`, `Config.ExposedPorts` and
//! `NetworkSettings.Ports`.

use crate::cli;
use crate::Failure;
use clap::Args;
use nook_engine::network::ports::{self, PortKey, PortOptions, PublishedPort};
use nook_engine::{Container, Engine, LiveStatus};
use serde_json::{json, Map, Value};

type Result<T = ()> = std::result::Result<T, Failure>;

/// The flags.
#[derive(Debug, Args, Default)]
pub struct PortFlags {
    /// Publish a container's port(s) to the host ([IP:][HOSTPORT:]CONTAINERPORT[/PROTO]).
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports (PORT[/PROTO], START-END[/PROTO]).
    #[arg(long = "expose", value_name = "PORT")]
    pub expose: Vec<String>,
}

impl PortFlags {
    /// The engine's options; the first bad value is the error.
    pub fn parse(&self) -> Result<PortOptions> {
        Ok(PortOptions::parse(
            &self.publish,
            &self.expose,
            self.publish_all,
        )?)
    }
}

/// The ports container `c` publishes now (none unless it runs).
fn published(engine: &Engine, c: &Container) -> Vec<PublishedPort> {
    if c.status != LiveStatus::Running {
        return Vec::new();
    }
    engine.published_ports(&c.record.id).unwrap_or_default()
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`, as Docker writes it.
pub fn port(engine: &Engine, a: cli::Port) -> Result {
    let c = engine.container(&a.container)?;
    let all = published(engine, &c);
    let lines: Vec<String> = match &a.private_port {
        None => all
            .iter()
            .map(|p| format!("{} -> {}", p.key, p.host_text()))
            .collect(),
        Some(want) => {
            let (num, proto) = want.split_once('/').unwrap_or((want, "tcp"));
            if num.parse::<u16>().is_err() {
                return Err(Failure(format!("invalid port ({num})")));
            }
            let key: PortKey = format!("{num}/{proto}").parse()?;
            let lines: Vec<String> = all
                .iter()
                .filter(|p| p.key == key)
                .map(PublishedPort::host_text)
                .collect();
            if lines.is_empty() {
                return Err(Failure(format!(
                    "No public port '{key}' published for {}",
                    a.container
                )));
            }
            lines
        }
    };
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

fn host_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(a) => format!("[{a}]"),
        a => a.to_string(),
    }
}

/// Docker's PORTS column: `0.0.0.0:8080->80/tcp`, consecutive ports as one
/// range (`0.0.0.0:8000-8001->80-81/tcp` when host and container ports
/// match one by one), exposed ports without a host port as `80/tcp`.
pub fn ps_ports(published: &[PublishedPort], exposed: &[PortKey]) -> String {
    // (container port, host address, host port, protocol), sorted as Docker's
    let mut items: Vec<(u16, String, u16, &str)> = published
        .iter()
        .map(|p| {
            (
                p.key.port,
                host_text(p.host_ip),
                p.host_port,
                p.key.protocol.name(),
            )
        })
        .collect();
    items.extend(
        exposed
            .iter()
            .filter(|k| !published.iter().any(|p| p.key == **k))
            .map(|k| (k.port, String::new(), 0, k.protocol.name())),
    );
    items.sort();
    // runs of consecutive container ports (each host port its container
    // port plus a fixed offset), by address and protocol
    let mut groups: Vec<(String, &str, u16, u16, u16)> = Vec::new();
    for (port, ip, host, proto) in items {
        let host = if ip.is_empty() { port } else { host };
        let run = groups.iter_mut().rev().find(|g| g.0 == ip && g.1 == proto);
        match run {
            Some(g) if g.3 + 1 == port && g.4.checked_add(1) == Some(host) => {
                g.3 = port;
                g.4 = host;
            }
            _ => groups.push((ip, proto, port, port, host)),
        }
    }
    let range = |a: u16, z: u16| match a == z {
        true => a.to_string(),
        false => format!("{a}-{z}"),
    };
    groups
        .iter()
        .map(|(ip, proto, first, last, host_last)| {
            let ctr = range(*first, *last);
            match ip.is_empty() {
                true => format!("{ctr}/{proto}"),
                false => {
                    let host = range(host_last - (last - first), *host_last);
                    format!("{ip}:{host}->{ctr}/{proto}")
                }
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ps`'s PORTS of container `c` (`ports`: its `io.nook.ports`
/// annotation's text): empty unless it runs, as Docker's; the store is
/// asked only when it publishes something.
pub fn ps_column(engine: &Engine, c: &Container, ports: Option<&str>) -> String {
    let Some(text) = ports.filter(|_| c.status == LiveStatus::Running) else {
        return String::new();
    };
    let spec = serde_json::json!({"annotations": {ports::ANNOTATION: text}});
    let opts = PortOptions::from_spec(&spec);
    let exposed: Vec<PortKey> = opts.exposed.iter().copied().collect();
    let published = match opts.bindings.is_empty() && !opts.publish_all {
        true => Vec::new(),
        false => published(engine, c),
    };
    ps_ports(&published, &exposed)
}

/// Checks a `publish=`/`expose=` filter value (`PORT[/PROTO]`,
/// `START-END[/PROTO]`).
pub fn check_filter(key: &str, value: &str) -> Result {
    match ports::parse_expose(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(Failure(format!("invalid filter '{key}={value}'"))),
    }
}

/// Whether container `c` (spec parsed) passes `publish=value` (one of its
/// published container ports is in it) or `expose=value` (one of its
/// exposed ports).
pub fn filter_matches(
    engine: &Engine,
    c: &Container,
    spec: &Value,
    key: &str,
    value: &str,
) -> bool {
    let Ok(wanted) = ports::parse_expose(value) else {
        return false;
    };
    let opts = PortOptions::from_spec(spec);
    match key {
        "publish" => {
            let now = published(engine, c);
            wanted
                .iter()
                .any(|k| opts.bindings.contains_key(k) || now.iter().any(|p| p.key == *k))
        }
        _ => wanted.iter().any(|k| opts.exposed.contains(k)),
    }
}

/// `inspect`'s port fields of container `c`: `HostConfig.PortBindings` and
/// `PublishAllPorts`, `Config.ExposedPorts`, `NetworkSettings.Ports`
/// (each exposed port: its host bindings while it runs, else null).
pub fn inspect_fields(engine: &Engine, c: &Container, v: &mut Value, spec: &Value) {
    let opts = PortOptions::from_spec(spec);
    v["HostConfig"]["PortBindings"] = opts.port_bindings_json();
    v["HostConfig"]["PublishAllPorts"] = json!(opts.publish_all);
    // a container made before ports were kept shows the image's, as before
    if spec["annotations"][ports::ANNOTATION].is_string() {
        match opts.exposed_json() {
            Value::Null => drop(
                v["Config"]
                    .as_object_mut()
                    .map(|c| c.remove("ExposedPorts")),
            ),
            exposed => v["Config"]["ExposedPorts"] = exposed,
        }
    }
    let mut ports = Map::new();
    if c.status == LiveStatus::Running {
        for k in &opts.exposed {
            ports.insert(k.to_string(), Value::Null);
        }
    }
    for p in published(engine, c) {
        let list = ports.entry(p.key.to_string()).or_insert(json!([]));
        if !list.is_array() {
            *list = json!([]);
        }
        if let Some(a) = list.as_array_mut() {
            a.push(json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()}));
        }
    }
    v["NetworkSettings"]["Ports"] = Value::Object(ports);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pp(key: &str, ip: &str, host: u16) -> PublishedPort {
        PublishedPort {
            key: key.parse().unwrap(),
            host_ip: ip.parse().unwrap(),
            host_port: host,
        }
    }

    #[test]
    fn ps_column_as_docker_writes_it() {
        let k = |s: &str| -> PortKey { s.parse().unwrap() };
        assert_eq!(ps_ports(&[], &[]), "");
        assert_eq!(
            ps_ports(
                &[pp("80/tcp", "0.0.0.0", 8080)],
                &[k("80/tcp"), k("443/tcp")]
            ),
            "0.0.0.0:8080->80/tcp, 443/tcp"
        );
        assert_eq!(
            ps_ports(
                &[
                    pp("80/tcp", "0.0.0.0", 8000),
                    pp("81/tcp", "0.0.0.0", 8001),
                    pp("80/tcp", "::", 8000),
                    pp("53/udp", "127.0.0.1", 5353),
                ],
                &[]
            ),
            "127.0.0.1:5353->53/udp, 0.0.0.0:8000-8001->80-81/tcp, [::]:8000->80/tcp"
        );
        assert_eq!(
            ps_ports(&[], &[k("7000/tcp"), k("7001/tcp"), k("7003/udp")]),
            "7000-7001/tcp, 7003/udp"
        );
        // not one by one: separate
        assert_eq!(
            ps_ports(
                &[pp("80/tcp", "0.0.0.0", 9000), pp("81/tcp", "0.0.0.0", 8000)],
                &[]
            ),
            "0.0.0.0:9000->80/tcp, 0.0.0.0:8000->81/tcp"
        );
    }

    #[test]
    fn flags_and_filters() {
        let f = PortFlags {
            publish: vec!["8080:80".into()],
            publish_all: true,
            expose: vec!["90/udp".into()],
        };
        let o = f.parse().unwrap();
        assert!(o.publish_all && o.exposed.len() == 2);
        let bad = PortFlags {
            publish: vec!["8080:80/icmp".into()],
            ..Default::default()
        };
        assert_eq!(bad.parse().unwrap_err().0, "invalid proto: icmp");
        assert!(check_filter("publish", "80/tcp").is_ok());
        assert!(check_filter("expose", "8000-8080").is_ok());
        assert_eq!(
            check_filter("publish", "x").unwrap_err().0,
            "invalid filter 'publish=x'"
        );
    }
}
