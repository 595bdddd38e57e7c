//! Networking: the engine's network namespace (where nook's bridges, the
//! host ends of containers' veths, its nftables table and `--network host`
//! containers live: [`crate::EngineOptions::netns`], else the caller's),
//! and everything done in it.  Every host-side operation goes through
//! [`Engine::host_netlink`] or [`Engine::in_host_netns`], never through the
//! caller's own namespace implicitly.

use crate::{Engine, Result};
use nook_network::netlink::Netlink;
use nook_network::netns::Netns;
use std::path::Path;

impl Engine {
    /// The engine's network namespace file, when one was given.
    pub fn netns_path(&self) -> Option<&Path> {
        self.options.netns.as_deref()
    }

    /// The engine's network namespace, open.
    pub fn host_netns(&self) -> Result<Netns> {
        Ok(match self.netns_path() {
            Some(p) => Netns::open(p)?,
            None => Netns::current()?,
        })
    }

    /// A rtnetlink socket in the engine's network namespace.
    pub fn host_netlink(&self) -> Result<Netlink> {
        Ok(match self.netns_path() {
            Some(p) => Netlink::open_in(&Netns::open(p)?)?,
            None => Netlink::open()?,
        })
    }

    /// Runs `f` on a short-lived thread inside the engine's network
    /// namespace (processes it spawns, such as `nft`, start there).
    pub fn in_host_netns<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let ns = self.host_netns()?;
        let mut out = None;
        ns.run("enter the engine's network namespace", || {
            out = Some(f());
            Ok(())
        })?;
        out.unwrap_or_else(|| Err(crate::Error::Monitor("network thread ended early".into())))
    }
}
