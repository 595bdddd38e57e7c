//! `nook network ...`: create, ls, inspect, rm, prune, connect and
//! disconnect, as Docker spells them (the flags are here, beside the
//! commands; cli.rs only names the command group).

use crate::commands::print_template;
use crate::{render, Failure};
use clap::{Args, Subcommand};
use nook_engine::network::networks::NetworkCreate;
use nook_engine::network::StateError;
use nook_engine::Engine;
use nook_engine::NetworkRecord;
use serde_json::{json, Value};
use std::io::Write;

type Result<T = ()> = std::result::Result<T, Failure>;

/// `network` commands.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(NetworkCreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(NetworkLs),
    /// Display detailed information on one or more networks.
    Inspect(NetworkInspect),
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm(NetworkRm),
    /// Remove all unused networks.
    Prune(NetworkPrune),
    /// Connect a container to a network.
    Connect(NetworkConnect),
    /// Disconnect a container from a network.
    Disconnect(NetworkDisconnect),
}

/// `network create`.
#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// Driver to manage the Network.
    #[arg(short, long, value_name = "DRIVER")]
    pub driver: Option<String>,
    /// Subnet in CIDR format that represents a network segment.
    #[arg(long, value_name = "CIDR")]
    pub subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet.
    #[arg(long, value_name = "IP")]
    pub gateway: Vec<String>,
    /// Allocate container ip from a sub-range.
    #[arg(long = "ip-range", value_name = "CIDR")]
    pub ip_range: Vec<String>,
    /// Restrict external access to the network.
    #[arg(long)]
    pub internal: bool,
    /// Enable IPv6 networking.
    #[arg(long)]
    pub ipv6: bool,
    /// Set metadata on a network.
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Set driver specific options.
    #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
    pub opt: Vec<String>,
    /// The network's name.
    pub name: String,
}

/// `network ls`.
#[derive(Debug, Args)]
pub struct NetworkLs {
    /// Only display network IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "driver=bridge").
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('json' or a Go template).
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

/// `network inspect`.
#[derive(Debug, Args)]
pub struct NetworkInspect {
    /// Format output using a custom template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// The networks.
    #[arg(required = true)]
    pub networks: Vec<String>,
}

/// `network rm`.
#[derive(Debug, Args)]
pub struct NetworkRm {
    /// Do not error if the network does not exist.
    #[arg(short, long)]
    pub force: bool,
    /// The networks.
    #[arg(required = true)]
    pub networks: Vec<String>,
}

/// `network prune`.
#[derive(Debug, Args)]
pub struct NetworkPrune {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// `network connect`.
#[derive(Debug, Args)]
pub struct NetworkConnect {
    /// IPv4 address (e.g., "172.30.100.104").
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33").
    #[arg(long, value_name = "IP")]
    pub ip6: Option<String>,
    /// Add network-scoped alias for the container.
    #[arg(long, value_name = "ALIAS")]
    pub alias: Vec<String>,
    /// The network.
    pub network: String,
    /// The container.
    pub container: String,
}

/// `network disconnect`.
#[derive(Debug, Args)]
pub struct NetworkDisconnect {
    /// Force the container to disconnect from a network.
    #[arg(short, long)]
    pub force: bool,
    /// The network.
    pub network: String,
    /// The container.
    pub container: String,
}

/// Run a `network` command.
pub fn network(engine: &Engine, c: NetworkCommand) -> Result {
    match c {
        NetworkCommand::Create(a) => {
            let rec = engine.create_network(&NetworkCreate {
                name: a.name,
                driver: a.driver,
                subnets: a.subnet,
                gateways: a.gateway,
                ip_ranges: a.ip_range,
                internal: a.internal,
                ipv6: a.ipv6,
                labels: a.label,
                options: a.opt,
            })?;
            println!("{}", rec.network.id);
            Ok(())
        }
        NetworkCommand::Ls(a) => ls(engine, a),
        NetworkCommand::Inspect(a) => inspect(engine, a),
        NetworkCommand::Rm(a) => rm(engine, a),
        NetworkCommand::Prune(a) => {
            let q =
                "WARNING! This will remove all custom networks not used by at least one container.";
            if !a.force && !crate::lifecycle::confirm(q)? {
                return Ok(());
            }
            let removed = engine.prune_networks()?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                for n in removed {
                    println!("{n}");
                }
            }
            Ok(())
        }
        NetworkCommand::Connect(a) => {
            let ips: Vec<&str> = a.ip.iter().chain(&a.ip6).map(String::as_str).collect();
            Ok(engine.connect_network(&a.network, &a.container, &ips, &a.alias)?)
        }
        NetworkCommand::Disconnect(a) => {
            Ok(engine.disconnect_network(&a.network, &a.container, a.force)?)
        }
    }
}

/// Whether network `n` passes every `--filter`.
fn passes(n: &NetworkRecord, filters: &[String]) -> Result<bool> {
    for f in filters {
        let (k, want) = f
            .split_once('=')
            .ok_or_else(|| Failure(format!("bad format of filter (expected name=value): {f}")))?;
        let n = &n.network;
        let ok = match k {
            "name" => n.name.contains(want),
            "id" => n.id.starts_with(want),
            "driver" => n.driver == want,
            "scope" => want == "local",
            "type" => want == "custom" || (want == "builtin" && n.name == "nook"),
            "label" => match want.split_once('=') {
                Some((lk, lv)) => n.labels.get(lk).is_some_and(|x| x == lv),
                None => n.labels.contains_key(want),
            },
            _ => return Err(Failure(format!("invalid filter '{k}'"))),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn ls(engine: &Engine, a: NetworkLs) -> Result {
    // the default network is always listed (made on first use)
    let mut list = vec![engine.network("nook")?];
    list.extend(
        engine
            .networks()?
            .into_iter()
            .filter(|n| n.network.name != "nook"),
    );
    passes(&empty(), &a.filter)?; // every filter's key checked
    list.retain(|n| passes(n, &a.filter).unwrap_or(false));
    let mut out = std::io::stdout().lock();
    let id = |n: &NetworkRecord| match a.no_trunc {
        true => n.network.id.clone(),
        false => n.network.id.chars().take(12).collect(),
    };
    if a.quiet {
        for n in &list {
            writeln!(out, "{}", id(n))?;
        }
        return Ok(());
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|n| {
            let labels: Vec<String> = n
                .network
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            json!({
                "ID": id(n), "Name": n.network.name, "Driver": n.network.driver,
                "Scope": "local", "IPv6": n.network.ipv6.to_string(),
                "Internal": n.network.internal.to_string(), "Labels": labels.join(","),
                "CreatedAt": jiff::Timestamp::from_nanosecond(n.created as i128)
                    .map(|t| t.to_string()).unwrap_or_default(),
            })
        })
        .collect();
    match a.format.as_deref() {
        Some("json") => {
            for r in &rows {
                writeln!(out, "{r}")?;
            }
        }
        Some(f) => print_template(&mut out, f, &rows)?,
        None => {
            let mut t = vec![["NETWORK ID", "NAME", "DRIVER", "SCOPE"]
                .map(String::from)
                .to_vec()];
            for r in &rows {
                t.push(
                    ["ID", "Name", "Driver", "Scope"]
                        .iter()
                        .map(|k| r[k].as_str().unwrap_or("").to_string())
                        .collect(),
                );
            }
            write!(out, "{}", render::table(&t))?;
        }
    }
    Ok(())
}

/// A record only used to check filters' keys.
fn empty() -> NetworkRecord {
    NetworkRecord {
        network: Default::default(),
        created: 0,
    }
}

fn inspect(engine: &Engine, a: NetworkInspect) -> Result {
    let all = a
        .networks
        .iter()
        .map(|n| engine.network(n).and_then(|r| engine.network_json(&r)))
        .collect::<nook_engine::Result<Vec<_>>>()?;
    let mut out = std::io::stdout().lock();
    match a.format.as_deref() {
        None | Some("json") => writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?,
        Some(f) => print_template(&mut out, f, &all)?,
    }
    Ok(())
}

fn rm(engine: &Engine, a: NetworkRm) -> Result {
    let mut failed = false;
    for n in &a.networks {
        match engine.remove_network(n) {
            Ok(_) => println!("{n}"),
            Err(nook_engine::Error::State(StateError::NoSuchNetwork(_))) if a.force => {}
            Err(e) => {
                eprintln!("Error: {}", e.to_string().replace('\n', " "));
                failed = true;
            }
        }
    }
    match failed {
        true => Err(Failure(String::new())),
        false => Ok(()),
    }
}
