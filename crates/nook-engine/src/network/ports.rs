//! Published ports: what `-p/--publish`, `-P/--publish-all` and
//! `--expose` ask, parsed exactly as Docker parses them (its messages for
//! bad ones), kept in the container's spec (annotation `io.nook.ports`, in
//! Docker's `PortBindings` / `ExposedPorts` shape), and, at start, made
//! real ([`publish`]): host ports chosen and taken in the store in one
//! transaction, checked free on the host, and mapped by nook's firewall.

mod publish;
#[cfg(test)]
mod tests_nft;

pub use publish::PublishedPort;

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The spec annotation that keeps a container's [`PortOptions`] (JSON).
pub const ANNOTATION: &str = "io.nook.ports";

/// A bad `-p`, `--expose` or port argument, or a port that cannot be
/// published; each renders as one line naming the value (Docker's text
/// where Docker has one).
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A malformed value (the message is Docker's).
    #[error("{0}")]
    Invalid(String),
    /// A host port another container holds.
    #[error(transparent)]
    State(#[from] nook_state::Error),
    /// A host port some process on the host holds (or an address the host
    /// does not have).
    #[error("Bind for {address}:{port} failed: {reason}")]
    Host {
        /// The host address (`[::]` bracketed).
        address: String,
        /// The port (or range).
        port: String,
        /// What the kernel said.
        reason: String,
    },
    /// No free port in the range asked for.
    #[error("Bind for {address}:{range} failed: all ports are allocated")]
    Exhausted {
        /// The host address.
        address: String,
        /// The range searched.
        range: String,
    },
    /// The network namespace the firewall runs in.
    #[error("published ports: {0}")]
    Netns(#[from] nook_network::Error),
    /// nook's firewall refused the mappings.
    #[error("published ports: {0}")]
    Firewall(#[from] nook_network::firewall::FirewallError),
}

fn invalid(msg: impl Into<String>) -> PortError {
    PortError::Invalid(msg.into())
}

/// A transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// `tcp`, `udp`, `sctp` (any case), as Docker accepts them.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// A container port and protocol: Docker's `80/tcp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortKey {
    /// The port.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
}

impl std::fmt::Display for PortKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol.name())
    }
}

impl std::str::FromStr for PortKey {
    type Err = PortError;

    /// `PORT[/PROTO]` (tcp when no protocol is given).
    fn from_str(s: &str) -> Result<PortKey, PortError> {
        let (proto, port) = split_proto_port(s);
        let protocol =
            Protocol::parse(&proto).ok_or_else(|| invalid(format!("invalid proto: {proto}")))?;
        let port = port
            .parse()
            .map_err(|_| invalid(format!("invalid port: {s}")))?;
        Ok(PortKey { port, protocol })
    }
}

/// One host binding of a container port, as Docker's `PortBindings` holds
/// it: an empty address is every address, an empty port (or `0`) any free
/// one, `A-B` any free one of the range.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostBinding {
    /// `HostIp`.
    pub host_ip: String,
    /// `HostPort`.
    pub host_port: String,
}

/// What a container asks to publish and expose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortOptions {
    /// `-p`: each container port's host bindings (`HostConfig.PortBindings`).
    pub bindings: BTreeMap<PortKey, Vec<HostBinding>>,
    /// `--expose`, the published ports and (once created) the image's
    /// `ExposedPorts` (`Config.ExposedPorts`).
    pub exposed: BTreeSet<PortKey>,
    /// `-P`: every exposed port without a binding gets a free host port.
    pub publish_all: bool,
}

/// Docker's `SplitProtoPort`: (`proto`, `port`), tcp when none is given.
fn split_proto_port(raw: &str) -> (String, String) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    match parts.get(1) {
        None | Some(&"") => ("tcp".into(), parts[0].into()),
        Some(p) => (p.to_string(), parts[0].into()),
    }
}

/// Go's `strconv.ParseUint(s, 10, 16)` error text.
fn parse_u16(s: &str) -> Result<u16, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: value out of range"));
    }
    Err(format!("strconv.ParseUint: parsing {s:?}: invalid syntax"))
}

/// Docker's `ParsePortRange`: `N` or `A-B` (A <= B).
fn parse_range(s: &str) -> Result<(u16, u16), String> {
    if s.is_empty() {
        return Err("empty string specified for ports".into());
    }
    let Some((a, b)) = s.split_once('-') else {
        let p = parse_u16(s)?;
        return Ok((p, p));
    };
    let b = b.split('-').next().unwrap_or(b);
    let (start, end) = (parse_u16(a)?, parse_u16(b)?);
    if end < start {
        return Err(format!("invalid range specified for port: {s}"));
    }
    Ok((start, end))
}

/// Docker's `splitParts`: (address, host port, container port).
fn split_parts(raw: &str) -> (String, String, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let last = parts[n - 1].to_string();
    match n {
        1 => (String::new(), String::new(), last),
        2 => (String::new(), parts[0].into(), last),
        _ => (parts[..n - 2].join(":"), parts[n - 2].into(), last),
    }
}

/// The address of a `-p`: brackets stripped from IPv6; Docker's messages.
fn parse_host_ip(ip: &str) -> Result<String, PortError> {
    let bare = match ip.strip_prefix('[') {
        Some(rest) => rest
            .strip_suffix(']')
            .filter(|a| !a.contains(['[', ']']))
            .ok_or_else(|| {
                invalid(format!(
                    "invalid IP address {ip}: address {ip}:: missing ']' in address"
                ))
            })?,
        None => ip,
    };
    if !bare.is_empty() && bare.parse::<IpAddr>().is_err() {
        return Err(invalid(format!("invalid IP address: {bare}")));
    }
    Ok(bare.to_string())
}

/// `target=80,published=8080,protocol=udp` in the standard notation
/// (Docker's `convertToStandardNotation`).
fn standard_notation(raw: &str) -> Result<String, PortError> {
    if !raw.contains('=') {
        return Ok(raw.to_string());
    }
    let mut params = BTreeMap::from([("protocol", "tcp")]);
    for param in raw.split(',') {
        match param.split_once('=') {
            Some((k, v)) if !k.is_empty() => drop(params.insert(k, v)),
            _ => {
                return Err(invalid(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                )))
            }
        }
    }
    let Some(target) = params.get("target") else {
        return Err(invalid("invalid publish opts format (target is missing)"));
    };
    let published = params.get("published").copied().unwrap_or("");
    Ok(format!("{published}:{target}/{}", params["protocol"]))
}

/// One `-p` value, as Docker's `ParsePortSpec` reads it: each container
/// port with its host binding.
pub fn parse_publish(raw: &str) -> Result<Vec<(PortKey, HostBinding)>, PortError> {
    let spec = standard_notation(raw)?;
    let (ip, host_port, container) = split_parts(&spec);
    let (proto, container) = split_proto_port(&container);
    let ip = parse_host_ip(&ip)?;
    if container.is_empty() {
        return Err(invalid(format!("no port specified: {spec}<empty>")));
    }
    let (start, end) = parse_range(&container)
        .map_err(|_| invalid(format!("invalid containerPort: {container}")))?;
    let host = match host_port.as_str() {
        "" => None,
        h => Some(parse_range(h).map_err(|_| invalid(format!("invalid hostPort: {h}")))?),
    };
    if let Some((hs, he)) = host {
        if end - start != he - hs && end != start {
            return Err(invalid(format!(
                "invalid ranges specified for container and host Ports: {container} and {host_port}"
            )));
        }
    }
    let protocol =
        Protocol::parse(&proto).ok_or_else(|| invalid(format!("invalid proto: {proto}")))?;
    if start == 0 {
        return Err(invalid(format!("invalid containerPort: {container}")));
    }
    Ok((start..=end)
        .map(|p| {
            let i = p - start;
            let host_port = match host {
                None => String::new(),
                Some((hs, he)) if start == end && hs != he => format!("{hs}-{he}"),
                Some((hs, _)) => (hs + i).to_string(),
            };
            let key = PortKey { port: p, protocol };
            (
                key,
                HostBinding {
                    host_ip: ip.clone(),
                    host_port,
                },
            )
        })
        .collect())
}

/// One `--expose` value (`PORT[/PROTO]` or `START-END[/PROTO]`).
pub fn parse_expose(raw: &str) -> Result<Vec<PortKey>, PortError> {
    if raw.contains(':') {
        return Err(invalid(format!("invalid port format for --expose: {raw}")));
    }
    let (proto, port) = split_proto_port(raw);
    let (start, end) = parse_range(&port).map_err(|e| {
        invalid(format!(
            "invalid range format for --expose: {raw}, error: {e}"
        ))
    })?;
    let protocol =
        Protocol::parse(&proto).ok_or_else(|| invalid(format!("invalid proto: {proto}")))?;
    Ok((start..=end)
        .map(|port| PortKey { port, protocol })
        .collect())
}

impl PortOptions {
    /// `-p` values, `--expose` values and `-P`; the first bad value is the
    /// error.
    pub fn parse(
        publish: &[String],
        expose: &[String],
        publish_all: bool,
    ) -> Result<PortOptions, PortError> {
        let mut o = PortOptions {
            publish_all,
            ..Default::default()
        };
        for p in publish {
            for (key, binding) in parse_publish(p)? {
                o.exposed.insert(key);
                let list = o.bindings.entry(key).or_default();
                if !list.contains(&binding) {
                    list.push(binding);
                }
            }
        }
        for e in expose {
            o.exposed.extend(parse_expose(e)?);
        }
        Ok(o)
    }

    /// What Docker says of these ports (before the image's are added)
    /// with network mode `mode`: with `container:NAME` an error (no port
    /// can be published or exposed on another's network); with `host` the
    /// warning that published ports are discarded; else nothing.
    pub fn check_network_mode(&self, mode: &str) -> Result<Option<&'static str>, PortError> {
        let publishes = !self.bindings.is_empty() || self.publish_all;
        if mode.starts_with("container:") {
            if publishes {
                return Err(invalid(
                    "conflicting options: port publishing and the container type network mode",
                ));
            }
            if !self.exposed.is_empty() {
                return Err(invalid(
                    "conflicting options: port exposing and the container type network mode",
                ));
            }
        }
        Ok(match mode == "host" && publishes {
            true => Some("Published ports are discarded when using host network mode"),
            false => None,
        })
    }

    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty() && self.exposed.is_empty() && !self.publish_all
    }

    /// The image's `ExposedPorts` (`{"80/tcp": {}}`) added to the exposed
    /// ports (a key that does not parse is skipped, as Docker ignores it).
    pub fn add_image_exposed(&mut self, exposed: &Value) {
        if let Some(m) = exposed.as_object() {
            self.exposed
                .extend(m.keys().filter_map(|k| k.parse::<PortKey>().ok()));
        }
    }

    /// Every (container port, host binding) to make real at start: the
    /// `-p` ones, then with `-P` each exposed port without one, on any
    /// address and a free port.
    pub fn requests(&self) -> Vec<(PortKey, HostBinding)> {
        let mut out: Vec<(PortKey, HostBinding)> = self
            .bindings
            .iter()
            .flat_map(|(k, list)| list.iter().map(move |b| (*k, b.clone())))
            .collect();
        if self.publish_all {
            out.extend(
                self.exposed
                    .iter()
                    .filter(|k| !self.bindings.contains_key(k))
                    .map(|k| (*k, HostBinding::default())),
            );
        }
        out
    }

    /// Docker's `HostConfig.PortBindings`.
    pub fn port_bindings_json(&self) -> Value {
        let m: Map<String, Value> = self
            .bindings
            .iter()
            .map(|(k, list)| {
                let list: Vec<Value> = list
                    .iter()
                    .map(|b| json!({"HostIp": b.host_ip, "HostPort": b.host_port}))
                    .collect();
                (k.to_string(), Value::Array(list))
            })
            .collect();
        Value::Object(m)
    }

    /// Docker's `Config.ExposedPorts` (null when none).
    pub fn exposed_json(&self) -> Value {
        if self.exposed.is_empty() {
            return Value::Null;
        }
        Value::Object(
            self.exposed
                .iter()
                .map(|k| (k.to_string(), json!({})))
                .collect(),
        )
    }

    /// The annotation's JSON text.
    pub fn to_annotation(&self) -> String {
        json!({
            "PortBindings": self.port_bindings_json(),
            "ExposedPorts": self.exposed_json(),
            "PublishAllPorts": self.publish_all,
        })
        .to_string()
    }

    /// What a spec's annotation keeps (none asked when it has none).
    pub fn from_spec(spec: &Value) -> PortOptions {
        let text = spec["annotations"][ANNOTATION].as_str().unwrap_or("{}");
        let v: Value = serde_json::from_str(text).unwrap_or_default();
        let mut o = PortOptions {
            publish_all: v["PublishAllPorts"].as_bool().unwrap_or(false),
            ..Default::default()
        };
        o.add_image_exposed(&v["ExposedPorts"]);
        for (k, list) in v["PortBindings"].as_object().into_iter().flatten() {
            let Ok(key) = k.parse::<PortKey>() else {
                continue;
            };
            let list = list.as_array().into_iter().flatten().map(|b| HostBinding {
                host_ip: b["HostIp"].as_str().unwrap_or("").into(),
                host_port: b["HostPort"].as_str().unwrap_or("").into(),
            });
            o.bindings.entry(key).or_default().extend(list);
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(raw: &str) -> Vec<(String, String, String)> {
        parse_publish(raw)
            .unwrap()
            .into_iter()
            .map(|(k, b)| (k.to_string(), b.host_ip, b.host_port))
            .collect()
    }

    fn t(k: &str, ip: &str, port: &str) -> (String, String, String) {
        (k.into(), ip.into(), port.into())
    }

    #[test]
    fn publish_forms() {
        assert_eq!(one("8080:80"), [t("80/tcp", "", "8080")]);
        assert_eq!(one("80"), [t("80/tcp", "", "")]);
        assert_eq!(one("53/udp"), [t("53/udp", "", "")]);
        assert_eq!(
            one("127.0.0.1:8080:80/UDP"),
            [t("80/udp", "127.0.0.1", "8080")]
        );
        assert_eq!(one("127.0.0.1::80"), [t("80/tcp", "127.0.0.1", "")]);
        assert_eq!(one(":80"), [t("80/tcp", "", "")]);
        assert_eq!(one("[::]:80:80"), [t("80/tcp", "::", "80")]);
        assert_eq!(one("[::1]::80/sctp"), [t("80/sctp", "::1", "")]);
        assert_eq!(one("::1:80:80"), [t("80/tcp", "::1", "80")]);
        assert_eq!(one("0:80"), [t("80/tcp", "", "0")]);
        assert_eq!(
            one("8000-8002:80-82"),
            [
                t("80/tcp", "", "8000"),
                t("81/tcp", "", "8001"),
                t("82/tcp", "", "8002")
            ]
        );
        assert_eq!(one("8000-8010:80"), [t("80/tcp", "", "8000-8010")]);
        assert_eq!(one("80-81"), [t("80/tcp", "", ""), t("81/tcp", "", "")]);
        assert_eq!(
            one("published=8080,target=80,protocol=udp"),
            [t("80/udp", "", "8080")]
        );
        assert_eq!(one("target=80"), [t("80/tcp", "", "")]);
        assert_eq!(one("80/"), [t("80/tcp", "", "")]);
    }

    fn err(raw: &str) -> String {
        parse_publish(raw).unwrap_err().to_string()
    }

    #[test]
    fn publish_errors_are_dockers() {
        assert_eq!(err("foo"), "invalid containerPort: foo");
        assert_eq!(err("8080:"), "no port specified: 8080:<empty>");
        assert_eq!(err("8080:/tcp"), "no port specified: 8080:/tcp<empty>");
        assert_eq!(err("x:80"), "invalid hostPort: x");
        assert_eq!(err("70000:80"), "invalid hostPort: 70000");
        assert_eq!(err("80:70000"), "invalid containerPort: 70000");
        assert_eq!(err("90-80:80"), "invalid hostPort: 90-80");
        assert_eq!(err("80:90-80"), "invalid containerPort: 90-80");
        assert_eq!(
            err("8000-8001:80-82"),
            "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"
        );
        assert_eq!(err("8080:80/icmp"), "invalid proto: icmp");
        assert_eq!(err("1.2.3:80:80"), "invalid IP address: 1.2.3");
        assert_eq!(
            err("[::1:80:80"),
            "invalid IP address [::1: address [::1:: missing ']' in address"
        );
        assert_eq!(err("8080:0"), "invalid containerPort: 0");
        assert_eq!(
            err("published=8080"),
            "invalid publish opts format (target is missing)"
        );
        assert_eq!(
            err("target=80,x"),
            "invalid publish opts format (should be name=value but got 'x')"
        );
    }

    #[test]
    fn expose_forms_and_errors() {
        let keys = |r: &str| -> Vec<String> {
            parse_expose(r)
                .unwrap()
                .iter()
                .map(|k| k.to_string())
                .collect()
        };
        assert_eq!(keys("80"), ["80/tcp"]);
        assert_eq!(keys("53/udp"), ["53/udp"]);
        assert_eq!(
            keys("7000-7002/sctp"),
            ["7000/sctp", "7001/sctp", "7002/sctp"]
        );
        let e = |r: &str| parse_expose(r).unwrap_err().to_string();
        assert_eq!(e("80:80"), "invalid port format for --expose: 80:80");
        assert_eq!(
            e("8x"),
            "invalid range format for --expose: 8x, error: strconv.ParseUint: parsing \"8x\": invalid syntax"
        );
        assert_eq!(
            e("9-8"),
            "invalid range format for --expose: 9-8, error: invalid range specified for port: 9-8"
        );
        assert_eq!(
            e("70000"),
            "invalid range format for --expose: 70000, error: strconv.ParseUint: parsing \"70000\": value out of range"
        );
        assert_eq!(e("80/icmp"), "invalid proto: icmp");
    }

    #[test]
    fn options_round_trip_through_the_annotation_and_publish_all() {
        let mut o = PortOptions::parse(
            &[
                "8080:80".into(),
                "127.0.0.1:8080:80".into(),
                "8080:80".into(),
            ],
            &["9000-9001/udp".into()],
            true,
        )
        .unwrap();
        o.add_image_exposed(&json!({"443/tcp": {}, "bad": {}}));
        assert_eq!(o.bindings[&"80/tcp".parse().unwrap()].len(), 2);
        assert_eq!(
            o.port_bindings_json(),
            json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"},
                              {"HostIp": "127.0.0.1", "HostPort": "8080"}]})
        );
        assert_eq!(
            o.exposed_json(),
            json!({"80/tcp": {}, "443/tcp": {}, "9000/udp": {}, "9001/udp": {}})
        );
        let spec = json!({"annotations": {ANNOTATION: o.to_annotation()}});
        let back = PortOptions::from_spec(&spec);
        assert_eq!(back, o);
        let req: Vec<String> = back
            .requests()
            .iter()
            .map(|(k, b)| format!("{k} {}:{}", b.host_ip, b.host_port))
            .collect();
        assert_eq!(
            req,
            [
                "80/tcp :8080",
                "80/tcp 127.0.0.1:8080",
                "443/tcp :",
                "9000/udp :",
                "9001/udp :"
            ]
        );
        assert!(PortOptions::from_spec(&json!({})).is_empty());
        assert_eq!(o.check_network_mode("bridge").unwrap(), None);
        assert!(o.check_network_mode("host").unwrap().is_some());
        assert_eq!(
            o.check_network_mode("container:x").unwrap_err().to_string(),
            "conflicting options: port publishing and the container type network mode"
        );
        let exposing = PortOptions::parse(&[], &["80".into()], false).unwrap();
        assert_eq!(exposing.check_network_mode("host").unwrap(), None);
        assert_eq!(
            exposing
                .check_network_mode("container:x")
                .unwrap_err()
                .to_string(),
            "conflicting options: port exposing and the container type network mode"
        );
        let e = PortOptions::parse(&[], &["x".into()], false).unwrap_err();
        assert!(e.to_string().contains("--expose: x"), "{e}");
    }
}
