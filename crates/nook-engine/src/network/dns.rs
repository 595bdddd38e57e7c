//! Names on nook's networks: the records files the `nook-dns` responder
//! serves (`<root>/dns/<network>`), written again whenever a container on
//! a network starts, exits, connects or disconnects, and the responder
//! started (in the engine's network namespace) while any file exists.
//! Only running containers are in them: a name resolves while its
//! container runs, on the networks it is on, and not after.
//!
//! Names are a convenience on top of addresses: when the `nook-dns`
//! program is missing, containers get the host's resolvers as before, and
//! a failure to write the records never fails a container's start.

use super::networks::subnets;
use super::Mode;
use crate::container::LiveStatus;
use crate::{Engine, Result};
use nook_state::NetworkRecord;
use std::net::IpAddr;
use std::path::PathBuf;

impl Engine {
    /// The records directory.
    fn dns_dir(&self) -> PathBuf {
        self.root.join("dns")
    }

    /// The `nook-dns` program beside this process's, if it is there.
    fn dns_program() -> Option<PathBuf> {
        let p = std::env::current_exe().ok()?.with_file_name("nook-dns");
        p.is_file().then_some(p)
    }

    /// The name servers of a container in `mode`: the gateways of its
    /// networks (none without the responder, or off a bridge network).
    pub(crate) fn name_servers(&self, mode: &Mode) -> Result<Vec<IpAddr>> {
        let Mode::Bridge(names) = mode else {
            return Ok(Vec::new());
        };
        if Self::dns_program().is_none() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for n in names {
            out.extend(subnets(&self.network(n)?)?.iter().map(|s| s.gateway));
        }
        Ok(out)
    }

    /// The records of every network container `id` is on, written again
    /// (with it when `present`, without it otherwise).  Best effort.
    pub(crate) fn refresh_names(&self, id: &str, present: bool) {
        let Ok(eps) = self.state.container_endpoints(id) else {
            return;
        };
        for ep in eps {
            if let Ok(net) = self.state.network(&ep.network) {
                let _ = self.write_names(&net, id, present);
            }
        }
    }

    /// Network `net`'s records without container `id` (disconnected).
    pub(crate) fn forget_name(&self, net: &NetworkRecord, id: &str) {
        let _ = self.write_names(net, id, false);
    }

    /// Network `net`'s records from the store: its running containers,
    /// with `id` when `present` and without it otherwise; the file removed
    /// when none is left; the responder started when one is written.
    fn write_names(&self, net: &NetworkRecord, id: &str, present: bool) -> Result<()> {
        let Some(program) = Self::dns_program() else {
            return Ok(());
        };
        let dir = self.dns_dir();
        let name = &net.network.name;
        let mut containers = Vec::new();
        for ep in self.state.network_endpoints(name)? {
            let this = ep.container_id == id;
            let Ok(c) = self.container(&ep.container_id) else {
                continue;
            };
            if !(this && present || !this && c.status == LiveStatus::Running) {
                continue;
            }
            containers.push(nook_dns::Container {
                id: c.record.id.clone(),
                name: c.record.name.clone(),
                aliases: ep.aliases.clone(),
                addrs: ep.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
                upstreams: Vec::new(),
            });
        }
        if containers.is_empty() {
            let _ = nook_dns::records::remove(&dir, name);
            return Ok(());
        }
        let subs = subnets(net)?;
        let records = nook_dns::Network {
            name: name.clone(),
            internal: net.network.internal,
            listen: subs.iter().map(|s| s.gateway).collect(),
            subnets: subs
                .iter()
                .map(|s| (s.cidr.addr(), s.cidr.prefix()))
                .collect(),
            upstreams: Vec::new(),
            containers,
        };
        std::fs::create_dir_all(&dir).map_err(crate::Error::io("create", &dir))?;
        records
            .write(&dir)
            .map_err(|e| crate::Error::invalid("name records", name, e))?;
        let responder = nook_dns::Responder::new(program, dir);
        self.in_host_netns(move || {
            responder
                .ensure()
                .map(drop)
                .map_err(|e| crate::Error::invalid("name server", "nook-dns", e))
        })
    }
}
