//! The nook-dns program's life, as its `main` runs it (the one place
//! with process-wide settings, as `nook_monitor::main` is the monitor's):
//! SIGHUP, SIGTERM and SIGINT go to a signalfd (blocked before any
//! thread starts), one malloc arena, free heap given back after reloads,
//! the program's start-up pages dropped once it serves.  A binary of
//! its own is one line (`crates/nook-dns/src/bin/nook-dns.rs`; the
//! engine's package can have one beside `nook-monitor`).

use crate::cli::{parse_args, USAGE};
use crate::server::{report, Server};
use crate::sys::{running_pid, PidLock};
use std::os::fd::{FromRawFd, OwnedFd};

/// Block the signals the responder reads from a signalfd.
fn signal_fd() -> Option<OwnedFd> {
    // SAFETY: a sigset on the stack, filled by sigaddset; the mask is
    // changed before any other thread exists; signalfd's descriptor is
    // owned at once.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGHUP, libc::SIGTERM, libc::SIGINT] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        (fd >= 0).then(|| OwnedFd::from_raw_fd(fd))
    }
}

/// Run the responder with this process's arguments; its exit status.
/// The process's own: call it only as a program's `main`.
pub fn main() -> i32 {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("nook-dns: {e}\n{USAGE}");
            return 2;
        }
    };
    // SAFETY: the descriptors were handed to us by `ensure` (or whoever
    // started us) for us to own.
    let ready = args.ready_fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    // SAFETY: mallopt before any allocation of another thread: the
    // forwarding threads share the main arena (less memory).
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    let signals = signal_fd();
    let lock = match args.lock_fd {
        // SAFETY: as above.
        Some(fd) => PidLock::inherited(unsafe { OwnedFd::from_raw_fd(fd) }, &args.pid_file),
        None => match PidLock::take(&args.pid_file) {
            Ok(Some(l)) => l,
            Ok(None) => {
                let pid = running_pid(&args.pid_file).unwrap_or(0);
                let dir = args.options.records_dir.display();
                eprintln!("nook-dns: nook-dns already serves {dir} (pid {pid})");
                report(ready, &format!("running {pid}"));
                return 1;
            }
            Err(e) => {
                eprintln!("nook-dns: lock {}: {e}", args.pid_file.display());
                report(
                    ready,
                    &format!("error lock {}: {e}", args.pid_file.display()),
                );
                return 1;
            }
        },
    };
    let mut server = match Server::new(args.options.clone()) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("watch {}: {e}", args.options.records_dir.display());
            eprintln!("nook-dns: {msg}");
            report(ready, &format!("error {msg}"));
            return 1;
        }
    };
    if server.networks() == 0 {
        report(ready, "idle");
    } else {
        let _ = lock.write_pid();
        report(ready, &format!("ok {}", std::process::id()));
    }
    server.after_reload = Some(give_back);
    nook_monitor::trim::trim();
    give_back(); // (after trim, which reads smaps into the heap)
    match server.run(&lock, signals.as_ref()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("nook-dns: {e}");
            1
        }
    }
}

/// Give the heap's free pages back (a reload frees the last records and
/// what reading the files took).
fn give_back() {
    // SAFETY: malloc_trim only releases free memory of malloc's arenas.
    unsafe { libc::malloc_trim(0) };
}
