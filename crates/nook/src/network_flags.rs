//! `run`'s name-resolution flags (flattened into [`crate::cli::Run`]):
//! what the container's /etc/resolv.conf and /etc/hosts say.

use clap::Args;
use nook_engine::container::etc::EtcOptions;

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
}

impl NetworkFlags {
    /// The engine's options for the /etc files.
    pub fn etc(&self) -> EtcOptions {
        EtcOptions {
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            add_hosts: self.add_host.clone(),
        }
    }
}
