//! nook-network owns a container's network plumbing below the engine: network
//! namespace files, links (bridges, veth pairs), addresses and routes over a
//! synchronous rtnetlink socket in-process (no `ip` processes, no async
//! runtime), per-namespace sysctls, the pure IPAM logic (subnets, gateways,
//! address allocation, choosing a free subnet), and the per-container
//! attach/detach step that joins a namespace to a bridge; and the firewall
//! ([`firewall`]: nftables rules in nook's own `nook` table that NAT,
//! publish ports and isolate its bridge networks).
//!
//! No process-wide side effects: whenever something must happen inside
//! another network namespace, it happens on a short-lived thread of ours that
//! `setns`es, never on the caller's thread.

#![warn(missing_docs)]

pub mod addr;
pub mod attach;
mod error;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod netlink;
pub mod netns;
pub mod route;
pub mod sysctl;

pub use error::{Errno, Error, Result};
