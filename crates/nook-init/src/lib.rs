//! nook-init: what `nook run --init` runs as a container's PID 1, before
//! the container's command (`nook-init -- CMD ARGS...`), as docker-init
//! does.  It starts the command as its child, forwards every signal it
//! gets to it (all signals are blocked and taken with `sigtimedwait`, so
//! the kernel delivers them to a namespace's init, which has no handlers),
//! reaps every process that is re-parented to it, and exits with the
//! command's status (128+N when signal N killed it).
//!
//! Only libc: the program is small and static.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;

/// The exit status for a `wait` status: the code, or 128+N for signal N.
pub fn exit_status(wstatus: i32) -> i32 {
    if libc::WIFEXITED(wstatus) {
        libc::WEXITSTATUS(wstatus)
    } else if libc::WIFSIGNALED(wstatus) {
        128 + libc::WTERMSIG(wstatus)
    } else {
        1
    }
}

/// The command in `args` (after the program's name and an optional `--`).
pub fn command(args: &[OsString]) -> Option<Vec<CString>> {
    let rest = args.get(1..)?;
    let rest = match rest.first().map(|a| a.as_bytes()) {
        Some(b"--") => &rest[1..],
        _ => rest,
    };
    if rest.is_empty() {
        return None;
    }
    rest.iter()
        .map(|a| CString::new(a.as_bytes()).ok())
        .collect()
}

fn say(msg: &str) {
    let line = format!("nook-init: {msg}\n");
    // SAFETY: writes a valid buffer to stderr.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

/// In the child: the old signal mask back, then exec (exit 127/126 on
/// failure, as a shell would).
fn exec_child(cmd: &[CString], old: &libc::sigset_t) -> ! {
    let mut argv: Vec<*const libc::c_char> = cmd.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: `old` is a valid mask; argv is NUL-terminated and its
    // strings outlive the call; _exit never returns.
    unsafe {
        libc::sigprocmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
        libc::execvp(argv[0], argv.as_ptr());
        let err = std::io::Error::last_os_error();
        say(&format!("exec {:?} failed: {err}", cmd[0]));
        let code = match err.raw_os_error() {
            Some(libc::ENOENT) => 127,
            _ => 126,
        };
        libc::_exit(code)
    }
}

/// Reap every exited child; the status of `main` if it was among them.
fn reap(main: libc::pid_t) -> Option<i32> {
    let mut found = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return found;
        }
        if pid == main {
            found = Some(exit_status(status));
        }
    }
}

/// Run `args` (`nook-init [--] CMD ARGS...`): the exit status.
pub fn run(args: &[OsString]) -> i32 {
    let Some(cmd) = command(args) else {
        say("usage: nook-init -- COMMAND [ARGS...]");
        return 2;
    };
    // SAFETY: plain libc calls on masks this function owns; fork is safe
    // here (one thread); the child only calls exec_child.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, &mut old);
        // when not a namespace's init, still the reaper of what it starts
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        let child = libc::fork();
        if child < 0 {
            say(&format!("fork: {}", std::io::Error::last_os_error()));
            return 1;
        }
        if child == 0 {
            exec_child(&cmd, &old);
        }
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(&all, &mut info);
            if sig < 0 {
                continue;
            }
            if sig != libc::SIGCHLD {
                libc::kill(child, sig);
                // a stopped child gets its stop; fine: forwarded as is
                continue;
            }
            if let Some(code) = reap(child) {
                return code;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_command_follows_the_dashes() {
        let c = command(&s(&["nook-init", "--", "sh", "-c", "x"])).unwrap();
        assert_eq!(c, vec![c"sh".to_owned(), c"-c".to_owned(), c"x".to_owned()]);
        assert_eq!(command(&s(&["nook-init", "true"])).unwrap().len(), 1);
        assert!(command(&s(&["nook-init", "--"])).is_none());
        assert!(command(&s(&["nook-init"])).is_none());
    }

    #[test]
    fn statuses_map_as_a_shells() {
        assert_eq!(exit_status(3 << 8), 3);
        assert_eq!(exit_status(libc::SIGKILL), 137);
    }
}
