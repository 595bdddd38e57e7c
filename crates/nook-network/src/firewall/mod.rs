//! nook's firewall: the nftables rules of its bridge networks and published ports, all in
//! tables of its own named `nook` (`inet nook` now; `bridge nook` for issue 19's
//! anti-spoofing, see the `antispoof` module), never touching any other table.
//!
//! Mechanism: each change is one batch handed to `nft -j -f -` (nftables' JSON interface,
//! typed on our side by the `nft` module's small model), which the kernel applies as one
//! transaction: all or nothing.  Chosen over netlink for now because nft does the expression
//! encoding (payload offsets, dependencies, set and map layouts) and its listing is what
//! people read;
//! the cost is one `nft` process a change (the crate's `firewall_bench` test: publishing a
//! container's ports ~4 ms, removing them ~12-20 ms, of which ~2.5 ms is nft's start and cache
//! and ~10 ms the kernel's RCU wait when nft closes its socket after a deletion; 100 containers
//! in one nft run cost ~0.2 ms each way, about what an in-process netlink writer would pay).
//! A container without published ports costs nothing here: its network's rules are shared.
//!
//! Layout (see the `rules` module): the table holds a `guard` chain (CVE-2020-8558: nothing
//! addressed to 127.0.0.0/8 or ::1 enters from an interface other than `lo`), three base chains per
//! network named after it (`n-NAME-fwd`, `n-NAME-post`, and `n-NAME-in` for internal
//! networks) and three per container named after its id (`c-ID-pre`, `c-ID-out`, both jumping
//! to `c-ID-dnat`).  So nothing needs remembering: removal after a crash takes the network's
//! name or the container's id alone; no state file is written.

mod antispoof;
mod nft;
mod rules;
mod sysctl;
mod types;

use std::path::{Path, PathBuf};

pub use nft::Syntax;
pub use types::{ContainerPorts, NetworkRules, PortMapping, Protocol, Subnet};

use nft::Family;

/// A firewall error; each renders as one line naming what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A network name that is not `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (at most 200 characters).
    #[error("invalid network name {0:?}")]
    InvalidName(String),
    /// A container id that is not 1 to 128 of `[a-zA-Z0-9_.-]`.
    #[error("invalid container id {0:?}")]
    InvalidContainerId(String),
    /// An interface name that is not 1 to 15 of `[a-zA-Z0-9_.-]`.
    #[error("invalid interface name {0:?}")]
    InvalidInterface(String),
    /// A subnet whose prefix length is too long for its family.
    #[error("invalid subnet {0}")]
    InvalidSubnet(String),
    /// A port mapping that cannot be published.
    #[error("port mapping {mapping}: {reason}")]
    InvalidPort {
        /// The mapping, as `-p` would spell it.
        mapping: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `nft` could not be started.
    #[error("run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// `nft` refused a batch or a listing.
    #[error("nftables: {op}: {message}")]
    Nft {
        /// The operation (`add ports of container ID`, ...).
        op: String,
        /// nft's error line.
        message: String,
    },
    /// `nft`'s listing could not be read.
    #[error("nftables: {op}: unreadable output: {reason}")]
    Listing {
        /// The listing.
        op: String,
        /// Why.
        reason: String,
    },
    /// The bridge a network's rules are for is not there.
    #[error("network bridge {0}: no such interface")]
    NoBridge(String),
    /// A sysctl the rules need could not be set.
    #[error("sysctl {path}: {source}")]
    Sysctl {
        /// Its /proc/sys path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// nook's firewall in the calling thread's network namespace (`nft` runs as a child of the
/// calling thread, so it acts in that thread's namespace).
#[derive(Debug, Clone)]
pub struct Firewall {
    nft: PathBuf,
    syntax: Syntax,
}

impl Default for Firewall {
    fn default() -> Self {
        // Debian's place, so that a caller with a short PATH (no sbin) still finds it.
        let sbin = Path::new("/usr/sbin/nft");
        Firewall {
            nft: if sbin.exists() {
                sbin.to_path_buf()
            } else {
                PathBuf::from("nft")
            },
            syntax: Syntax::Json,
        }
    }
}

impl Firewall {
    /// A firewall using `/usr/sbin/nft` (or `nft` from `PATH`) and its JSON interface.
    pub fn new() -> Firewall {
        Firewall::default()
    }

    /// Uses the `nft` program at `path`.
    pub fn with_nft(mut self, path: impl Into<PathBuf>) -> Firewall {
        self.nft = path.into();
        self
    }

    /// Hands batches to nft in `syntax` (JSON by default; text is there to be measured).
    pub fn with_syntax(mut self, syntax: Syntax) -> Firewall {
        self.syntax = syntax;
        self
    }

    fn apply(&self, batch: &nft::Batch, op: &str) -> Result<(), FirewallError> {
        nft::apply(&self.nft, self.syntax, batch, op)
    }

    fn nft(&self) -> &Path {
        &self.nft
    }

    /// Creates or replaces a network's rules (and nook's table, when it is the first), in one
    /// batch; then turns on forwarding and, for an open network, route_localnet on its bridge
    /// (which must exist).
    pub fn ensure_network(&self, net: &NetworkRules) -> Result<(), FirewallError> {
        net.validate()?;
        if !net.internal {
            // Checked first so that a missing bridge leaves nothing half-made.
            sysctl::check_interface(&net.bridge)?;
        }
        let op = format!("ensure network {}", net.name);
        self.apply(&rules::ensure_network(net), &op)?;
        if !net.internal {
            sysctl::ipv4_forwarding()?;
            if net.has_ipv6() {
                sysctl::ipv6_forwarding()?;
            }
            sysctl::route_localnet(&net.bridge)?;
        }
        Ok(())
    }

    /// Removes a network's rules; with the last network, nook's tables go.  Idempotent.
    /// Callers serialise network creation and removal (the engine's network lock): the table
    /// is deleted when no other network's chains are left in it.
    pub fn remove_network(&self, name: &str) -> Result<(), FirewallError> {
        types::check_network_name(name)?;
        let Some(chains) = nft::list_chains(self.nft(), Family::Inet)? else {
            return Ok(());
        };
        let own = rules::network_chains(name);
        let others = chains
            .iter()
            .any(|c| c.starts_with(rules::NETWORK_PREFIX) && !own.contains(c));
        let op = format!("remove network {name}");
        if others {
            self.apply(&rules::remove_network(name), &op)
        } else {
            self.apply(&rules::remove_tables(), &op)
        }
    }

    /// Creates or replaces a container's published ports, in one batch (no mapping: removes
    /// them).  The container's network must have been ensured.
    pub fn add_ports(&self, ports: &ContainerPorts) -> Result<(), FirewallError> {
        ports.validate()?;
        if ports.ports.is_empty() {
            return self.remove_ports(&ports.container_id);
        }
        let op = format!("add ports of container {}", ports.container_id);
        self.apply(&rules::add_ports(ports), &op)
    }

    /// Removes a container's published ports, from its id alone.  Idempotent.
    pub fn remove_ports(&self, container_id: &str) -> Result<(), FirewallError> {
        types::check_container_id(container_id)?;
        let op = format!("remove ports of container {container_id}");
        match self.apply(&rules::remove_ports(container_id), &op) {
            Ok(()) => Ok(()),
            // The one way this batch fails is a missing table: then there is nothing to remove.
            Err(e @ FirewallError::Nft { .. }) => {
                match nft::list_chains(self.nft(), Family::Inet)? {
                    None => Ok(()),
                    Some(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes all of nook's tables (`nook system reset`).  Idempotent.
    pub fn remove_all(&self) -> Result<(), FirewallError> {
        self.apply(&rules::remove_tables(), "remove nook's tables")
    }

    /// The container ids that have published ports, from the chains' names (for
    /// reconciliation after a crash: ports of containers the store no longer has).
    pub fn containers_with_ports(&self) -> Result<Vec<String>, FirewallError> {
        let chains = nft::list_chains(self.nft(), Family::Inet)?.unwrap_or_default();
        Ok(chains
            .iter()
            .filter_map(|c| {
                c.strip_prefix(rules::CONTAINER_PREFIX)?
                    .strip_suffix("-dnat")
            })
            .map(str::to_string)
            .collect())
    }

    /// The networks that have rules, from the chains' names.
    pub fn networks(&self) -> Result<Vec<String>, FirewallError> {
        let chains = nft::list_chains(self.nft(), Family::Inet)?.unwrap_or_default();
        let mut names: Vec<String> = chains
            .iter()
            .filter_map(|c| {
                let rest = c.strip_prefix(rules::NETWORK_PREFIX)?;
                ["-fwd", "-in", "-post"]
                    .iter()
                    .find_map(|s| rest.strip_suffix(s))
            })
            .map(str::to_string)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}
