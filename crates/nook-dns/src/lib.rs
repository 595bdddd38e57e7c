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
//! - [`server`]: the responder's loop; [`forward`]: its threads for
//!   forwarding and TCP.
//! - [`spawn`]: the engine's side: start (`ensure`), `notify`, `stop`.
//! - [`cli`]: the program's arguments; [`sys`]: sockets, inotify, poll,
//!   the pid file's lock.

pub mod cli;
pub mod error;
pub mod forward;
pub mod lookup;
pub mod records;
pub mod resolv;
pub mod server;
pub mod spawn;
pub mod sys;
pub mod wire;

pub use error::Error;
pub use records::{Container, Network};
pub use spawn::{Ensured, Responder};
