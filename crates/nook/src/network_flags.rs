//! `run`'s name-resolution flags (flattened into [`crate::cli::Run`]):
//! what the container's /etc/resolv.conf and /etc/hosts say.

use clap::Args;
use nook_engine::container::etc::EtcOptions;
use nook_engine::network::NetworkOptions;

/// The flags.
#[derive(Debug, Args, Default)]
pub struct NetworkFlags {
    /// Set a custom DNS server.
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// Set a custom DNS search domain (`.` for none).
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set a DNS option (e.g. ndots:2).
    #[arg(long = "dns-option", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (NAME:IP).
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Connect a container to a network (none, host, container:NAME, or
    /// networks; repeat or separate with commas).
    #[arg(long = "network", alias = "net", value_name = "NETWORK")]
    pub network: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104).
    #[arg(long = "ip", value_name = "IP")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33).
    #[arg(long = "ip6", value_name = "IP")]
    pub ip6: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33).
    #[arg(long = "mac-address", value_name = "MAC")]
    pub mac_address: Option<String>,
    /// Add network-scoped alias for the container.
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
}

impl NetworkFlags {
    /// The engine's options for the /etc files.
    pub fn etc(&self) -> EtcOptions {
        EtcOptions {
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            add_hosts: self.add_host.clone(),
            ..Default::default()
        }
    }

    /// The engine's network options.
    pub fn network(&self) -> NetworkOptions {
        NetworkOptions {
            networks: self.network.clone(),
            ip: self.ip.clone(),
            ip6: self.ip6.clone(),
            mac_address: self.mac_address.clone(),
            aliases: self.network_alias.clone(),
        }
    }
}
