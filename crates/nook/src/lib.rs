//! nook's command line: parses Docker's commands and flags, calls
//! nook-engine in-process, and writes Docker's output.  An error is one
//! line on stderr (`Error: ...`) and exit status 125; a usage error too
//! (with clap's usage text).
//!
//! - [`cli`]: commands and flags.
//! - [`commands`]: each command run against the engine.
//! - [`containers`]: the container commands (run, stop, kill, rm, exec).
//! - [`listing`]: ps, logs, inspect.
//! - [`ps_filters`]: `ps --filter health= volume= network= publish= ...`.
//! - [`lifecycle`]: create, start, restart, wait, pause, rename, top,
//!   port, prune, `nook container <cmd>`.
//! - [`stats`]: `stats`, the live usage table.
//! - [`volumes`]: `volume create/ls/inspect/rm/prune` and `cp`.
//! - [`render`]: sizes, ages, tables, `--format` templates.
//! - [`resources`]: the resource flags, and `update`.
//! - [`progress`]: a pull's progress display.
//! - [`run_flags`]: `run`'s security and process flags.
//! - [`terminal`]: detach keys, `-a`, `--sig-proxy`, the terminal's size.

#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod containers;
pub mod isolation;
pub mod lifecycle;
pub mod listing;
pub mod network_flags;
pub mod networks;
pub mod ports_flags;
pub mod progress;
pub mod ps_filters;
pub mod render;
pub mod resources;
pub mod run_flags;
pub mod stats;
pub mod terminal;
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
