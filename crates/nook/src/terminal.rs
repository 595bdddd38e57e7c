//! The caller's side of an attached container: Docker's `--detach-keys`
//! (parsed, and found in the input), `-a/--attach STREAM`, `--sig-proxy`
//! and the terminal's size (its first size, and SIGWINCH followed).
//!
//! Signals are a process's business, so they are handled here, in the
//! command line, never in the library crates: the signals wanted are
//! blocked in the calling thread (the only one: every thread made after
//! inherits the mask, so none of them takes a signal by its default
//! action) and read from a signalfd by a thread of their own, which
//! forwards them to the container's process (through a pidfd: no pid
//! reused meanwhile is hit) or passes a new size to the container's
//! monitor.  Children made later get an empty mask back (the engine's
//! hand-over for a restart sets it; the container was started before).

use crate::Failure;
use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

type Result<T = ()> = std::result::Result<T, Failure>;

/// The flags of an attached session that `run` and `create` take.
#[derive(Debug, Args, Default)]
pub struct RunTermArgs {
    /// Attach to STDIN, STDOUT or STDERR (repeatable; all by default).
    #[arg(short = 'a', long = "attach", value_name = "STREAM")]
    pub attach: Vec<String>,
    /// Override the key sequence for detaching a container.
    #[command(flatten)]
    pub session: SessionArgs,
}

/// `--detach-keys` and `--sig-proxy` (`run`, `start`, `attach`).
#[derive(Debug, Args, Default)]
pub struct SessionArgs {
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process (non-TTY mode only).
    #[arg(
        long = "sig-proxy",
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set
    )]
    pub sig_proxy: bool,
}

/// A detach key sequence (Docker's default: ctrl-p, ctrl-q).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl Default for DetachKeys {
    fn default() -> DetachKeys {
        DetachKeys(vec![0x10, 0x11])
    }
}

impl DetachKeys {
    /// Docker's spelling: comma-separated keys, each one character or
    /// `ctrl-` and one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`; `None`
    /// is the default.  The error names the bad key.
    pub fn parse(spec: Option<&str>) -> Result<DetachKeys> {
        let Some(spec) = spec.filter(|s| !s.is_empty()) else {
            return Ok(DetachKeys::default());
        };
        let bad = |key: &str| {
            Failure(format!(
                "invalid detach keys {spec:?}: unknown key {key:?} (use a character, or ctrl- \
                 and one of a-z @ [ \\ ] ^ _)"
            ))
        };
        let mut keys = Vec::new();
        for key in spec.split(',') {
            let mut chars = key.chars();
            let code = match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii() => c as u8,
                _ => {
                    let rest = key.strip_prefix("ctrl-").ok_or_else(|| bad(key))?;
                    let c = match rest {
                        "\\\\" => '\\',
                        r if r.len() == 1 => r.as_bytes()[0].to_ascii_lowercase() as char,
                        _ => return Err(bad(key)),
                    };
                    match c {
                        'a'..='z' => c as u8 - b'a' + 1,
                        '@' => 0,
                        '[' => 27,
                        '\\' => 28,
                        ']' => 29,
                        '^' => 30,
                        '_' => 31,
                        _ => return Err(bad(key)),
                    }
                }
            };
            keys.push(code);
        }
        Ok(DetachKeys(keys))
    }

    /// A scanner of input for this sequence.
    pub fn scanner(&self) -> Escape {
        Escape {
            keys: self.0.clone(),
            matched: 0,
        }
    }
}

/// Input scanned for the detach keys: a prefix of the sequence is held
/// back until it is broken (then passed on) or complete (detach).
#[derive(Debug)]
pub struct Escape {
    keys: Vec<u8>,
    matched: usize,
}

impl Escape {
    /// Scan `input`: what to pass on goes to `out`; true when the
    /// sequence was typed (what follows it is dropped).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return true;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return true;
                }
            } else {
                out.push(b);
            }
        }
        false
    }
}

/// The streams `-a` attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streams {
    /// Standard input.
    pub stdin: bool,
    /// Standard output.
    pub stdout: bool,
    /// Standard error.
    pub stderr: bool,
}

impl Streams {
    /// `-a` values (any case); all three when none is given.
    pub fn parse(values: &[String]) -> Result<Streams> {
        if values.is_empty() {
            return Ok(Streams {
                stdin: true,
                stdout: true,
                stderr: true,
            });
        }
        let mut s = Streams {
            stdin: false,
            stdout: false,
            stderr: false,
        };
        for v in values {
            match v.to_ascii_lowercase().as_str() {
                "stdin" => s.stdin = true,
                "stdout" => s.stdout = true,
                "stderr" => s.stderr = true,
                _ => {
                    return Err(Failure(format!(
                        "invalid argument {v:?} for \"-a, --attach\" flag: valid streams are \
                         STDIN, STDOUT and STDERR"
                    )))
                }
            }
        }
        Ok(s)
    }
}

/// The size (rows, columns) of the caller's terminal: its stdout's, or
/// its stdin's.
pub fn size() -> Option<(u16, u16)> {
    [1, 0, 2].into_iter().find_map(|fd| {
        // SAFETY: a zeroed winsize filled by TIOCGWINSZ.
        let ws = unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            (libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0).then_some(ws)?
        };
        (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
    })
}

/// The signals `--sig-proxy` forwards: all but those that stop, kill,
/// come from a fault of this process, or are about this process's own
/// children, pipes and terminal.
const PROXIED: [Signal; 19] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGABRT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGTERM,
    Signal::SIGSTKFLT,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGIO,
    Signal::SIGPWR,
];

/// What the signal thread does.
#[derive(Debug, Default)]
pub struct SignalPlan {
    /// On SIGWINCH, send the caller's size to this control socket.
    pub resize: Option<PathBuf>,
    /// Forward [`PROXIED`] signals to this process (the container's).
    pub proxy_to: Option<i32>,
    /// On SIGWINCH, set the caller's size on this pty master (`exec -t`:
    /// the terminal is this process's own).
    pub resize_pty: Option<OwnedFd>,
}

/// Take the signals of `plan` over (see the module's comment); call
/// before any other thread is made.
pub fn handle_signals(plan: SignalPlan) -> Result {
    let mut set = SigSet::empty();
    if plan.resize.is_some() || plan.resize_pty.is_some() {
        set.add(Signal::SIGWINCH);
    }
    let pidfd = match plan.proxy_to {
        Some(pid) => {
            PROXIED.iter().for_each(|s| set.add(*s));
            // SAFETY: plain syscall; a new descriptor or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
            if fd < 0 {
                return Ok(()); // it has exited already
            }
            // SAFETY: a fresh descriptor, ours.
            Some(unsafe { OwnedFd::from_raw_fd(fd) })
        }
        None => None,
    };
    if set == SigSet::empty() {
        return Ok(());
    }
    set.thread_block()
        .map_err(|e| Failure(format!("block signals: {e}")))?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Failure(format!("signalfd: {e}")))?;
    std::thread::spawn(move || {
        while let Ok(Some(si)) = sfd.read_signal() {
            let sig = si.ssi_signo as i32;
            match (&plan.resize, &pidfd) {
                _ if sig == libc::SIGWINCH => resize(&plan),
                (_, Some(fd)) => {
                    // SAFETY: plain syscall on a pidfd we hold.
                    unsafe {
                        libc::syscall(
                            libc::SYS_pidfd_send_signal,
                            fd.as_raw_fd(),
                            sig,
                            std::ptr::null::<libc::siginfo_t>(),
                            0,
                        )
                    };
                }
                _ => {}
            }
        }
    });
    Ok(())
}

/// Pass the caller's size on, as `plan` says.
fn resize(plan: &SignalPlan) {
    let Some((rows, cols)) = size() else {
        return;
    };
    if let Some(ctl) = &plan.resize {
        let _ = nook_monitor::attach::send_resize(ctl, rows, cols);
    }
    if let Some(m) = &plan.resize_pty {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ with a valid winsize on a master we hold.
        unsafe { libc::ioctl(m.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_are_docker_s() {
        let p = |s| DetachKeys::parse(Some(s)).map(|k| k.0);
        assert_eq!(DetachKeys::parse(None).unwrap().0, vec![16, 17]);
        assert_eq!(p("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(p("a,b").unwrap(), b"ab".to_vec());
        assert_eq!(p("ctrl-@").unwrap(), vec![0]);
        assert_eq!(p("ctrl-[").unwrap(), vec![27]);
        assert_eq!(p("ctrl-\\\\").unwrap(), vec![28]);
        assert_eq!(p("ctrl-\\").unwrap(), vec![28]);
        assert_eq!(p("ctrl-_,ctrl-^,ctrl-]").unwrap(), vec![31, 30, 29]);
        assert_eq!(p("ctrl-A,X").unwrap(), vec![1, b'X']);
        for bad in ["ctrl-pp", "ctrl-1", "shift-a", "ab", "ctrl-p,", "é"] {
            let e = p(bad).unwrap_err().0;
            assert!(
                e.contains(&format!("{bad:?}")) && e.lines().count() == 1,
                "{e}"
            );
        }
    }

    #[test]
    fn escape_holds_a_prefix_back() {
        let k = DetachKeys::parse(Some("ctrl-p,ctrl-q")).unwrap();
        let mut s = k.scanner();
        let mut out = Vec::new();
        assert!(!s.feed(b"ab\x10", &mut out));
        assert_eq!(out, b"ab");
        assert!(!s.feed(b"c\x10\x10", &mut out));
        assert_eq!(out, b"ab\x10c\x10");
        assert!(s.feed(b"\x11rest", &mut out));
        assert_eq!(out, b"ab\x10c\x10");
        let mut one = DetachKeys::parse(Some("x")).unwrap().scanner();
        let mut out = Vec::new();
        assert!(one.feed(b"abx", &mut out));
        assert_eq!(out, b"ab");
    }

    #[test]
    fn attach_streams() {
        let all = Streams::parse(&[]).unwrap();
        assert!(all.stdin && all.stdout && all.stderr);
        let s = Streams::parse(&["STDOUT".into()]).unwrap();
        assert!(!s.stdin && s.stdout && !s.stderr);
        let e = Streams::parse(&["stdio".into()]).unwrap_err().0;
        assert!(e.contains("\"stdio\""), "{e}");
    }
}
