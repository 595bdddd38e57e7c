//! nook's DNS responder (aardvark-dns's job), as small in memory as can
//! be: std and libc only (no async runtime, no DNS library).  One
//! process per store root serves every bridge network of that root, on
//! each network's gateway addresses (UDP and TCP, port 53, in the host's
//! network namespace); it answers the names, aliases and 12-hex short
//! ids of the containers of the network a query came to (and the reverse
//! names of their addresses), with or without the search domain
//! `dns.nook`, and forwards other names to the host's resolvers — never
//! from an internal network (REFUSED: no query leaves it).
//!
//! - [`wire`]: the DNS wire format (queries read, responses written).
//! - [`records`]: the records files the engine writes (their format).
//! - [`lookup`]: what to do with a query (answer, forward, refuse).
//! - [`resolv`]: the host's resolvers.
//! - [`server`]: the responder's loop; [`relay`]: forwarding over UDP
//!   in that loop; [`forward`]: TCP connections on threads.
//! - [`spawn`]: the engine's side: start (`ensure`), `notify`, `stop`.
//! - [`program`]: the program's `main`; [`cli`]: its arguments;
//!   [`sys`]: sockets, inotify, poll, the pid file's lock.
//!
//! # For the engine
//!
//! 1. Per network, write its records file into the root's records
//!    directory (e.g. `<root>/dns/`) with [`Network::write`] (atomic)
//!    whenever a container joins or leaves it, and always with the
//!    network's subnets (queries from other sources are then REFUSED:
//!    no open resolver for a LAN that routes to a gateway);
//!    [`records::remove`] it with the network or its last container.
//!    The file format is in [`records`].
//! 2. Then call [`Responder::ensure`] (program: the `nook-dns` binary
//!    beside `nook`): it starts the responder unless one runs, and
//!    returns once it serves.  The responder sees changes by inotify on
//!    the directory (a killed engine leaves nothing stale);
//!    [`Responder::notify`] (SIGHUP) is there too.  It ends by itself
//!    when the last file is gone; [`Responder::stop`] for `system reset`.
//! 3. Give the container a resolv.conf from [`resolv::for_container`]:
//!    its networks' gateways as nameservers, search `dns.nook`.
//!
//! Listen addresses are bound with IP_FREEBIND: the responder may start
//! before the bridge has its address.  An address it cannot bind (in
//! use) is tried again every 0.5 s.

pub mod cli;
pub mod error;
pub mod forward;
pub mod lookup;
pub mod program;
pub mod records;
pub mod relay;
pub mod resolv;
pub mod server;
pub mod spawn;
pub mod sys;
pub mod wire;

pub use error::Error;
pub use records::{Container, Network};
pub use spawn::{Ensured, Responder};
