//! nook's command line: parses Docker's commands and flags, calls
//! nook-engine in-process, and writes Docker's output.  An error is one
//! line on stderr (`Error: ...`) and exit status 125; a usage error too
//! (with clap's usage text).
//!
//! - [`cli`]: commands and flags.
//! - [`commands`]: each command run against the engine.
//! - [`containers`]: the container commands (run, stop, kill, rm, exec).
//! - [`listing`]: ps, logs, inspect.
//! - [`lifecycle`]: create, start, restart, wait, pause, rename, top,
//!   port, prune, `nook container <cmd>`.
//! - [`stats`]: `stats`, the live usage table.
//! - [`volumes`]: `volume create/ls/inspect/rm/prune` and `cp`.
//! - [`render`]: sizes, ages, tables, `--format` templates.
//! - [`progress`]: a pull's progress display.

#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod containers;
pub mod lifecycle;
pub mod listing;
pub mod progress;
pub mod render;
pub mod stats;
pub mod volumes;

use clap::Parser;

/// The exit status of a failed command (Docker's for engine errors).
pub const EXIT_ERROR: i32 = 125;

/// A command's failure: the one line to print.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(e.to_string())
    }
}

/// Run `nook` with this process's arguments; the exit status.
pub fn main() -> i32 {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => EXIT_ERROR,
            };
            let _ = e.print();
            return code;
        }
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(Failure(msg)) => {
            // one line, whatever the message held (none: already reported)
            if !msg.is_empty() {
                eprintln!("Error: {}", msg.replace('\n', " "));
            }
            EXIT_ERROR
        }
    }
}

/// `nook-monitor ROOT ID CGROUP_PARENT`: be the monitor of container ID (see
/// nook_engine::container::monitor); its report goes to stdout, which is
/// then pointed at /dev/null (the reader is the `nook` that spawned it).
pub fn monitor_main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() != 4 {
        eprintln!("usage: nook-monitor ROOT ID CGROUP_PARENT");
        return 2;
    }
    let id = args[2].to_string_lossy().into_owned();
    let mut report = |line: &str| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        if let Ok(null) = std::fs::File::options().write(true).open("/dev/null") {
            let _ = nix::unistd::dup2_stdout(&null);
        }
    };
    let options = nook_engine::EngineOptions {
        cgroup_parent: Some(args[3].to_string_lossy().into_owned()),
        ..Default::default()
    };
    let engine = match nook_engine::Engine::open_with(&args[1], options) {
        Ok(e) => e,
        Err(e) => {
            report(&format!("error {e}"));
            return 1;
        }
    };
    match engine.serve_monitor(&id, &mut report) {
        Ok(_) => 0,
        Err(_) => 1,
    }
}
