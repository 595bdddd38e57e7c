//! A detached container's monitor (conmon's job), as small in memory as
//! can be: std and libc only (no engine, SQLite, TLS, serde or async
//! runtime).  `nook run -d` forks; the child creates and starts the
//! container through the engine (so the container is its child), then
//! exec's `nook-monitor`, which holds the container's stdout and stderr,
//! writes its log, reaps it, writes the exit file and exec's the exit
//! command (`nook container cleanup ID`) that records the exit in the
//! store, unmounts the root and applies `--rm` and `--restart`.
//!
//! - [`time`]: RFC 3339 timestamps with nanoseconds, no date crate.
//! - [`log`]: the log formats (json-file, k8s-file) and rotation.
//! - [`exit`]: the exit file.
//! - [`monitor`]: the arguments and the monitor's life.
//! - [`attach`]: the attach socket (`nook attach`).
//! - [`trim`]: its start-up code dropped from its resident memory.

pub mod attach;
pub mod exit;
pub mod log;
pub mod monitor;
pub mod time;
pub mod trim;

/// Run the monitor with this process's arguments; returns (an exit
/// status) only on bad arguments or when the exit command cannot be
/// exec'd.
pub fn main() -> i32 {
    match monitor::parse_args(std::env::args_os().skip(1)) {
        Ok(a) => monitor::run(a),
        Err(e) => {
            eprintln!("nook-monitor: {e}");
            2
        }
    }
}
