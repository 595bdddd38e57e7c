//! Signal names and numbers as runc's command line takes them: `KILL`,
//! `SIGKILL`, `kill`, `9`, `RTMIN+3`.

/// Every standard Linux signal (x86_64/aarch64 numbering), name without `SIG`.
pub const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Linux's real-time signal range as the kernel defines it (glibc reserves
/// the first few for itself, but a container may use all of them).
const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

/// Parse a signal given by name (any case, `SIG` prefix optional) or number.
pub fn parse(s: &str) -> Result<i32, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty signal".into());
    }
    if let Ok(n) = t.parse::<i32>() {
        if (1..=SIGRTMAX).contains(&n) {
            return Ok(n);
        }
        return Err(format!("invalid signal number {n}"));
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Ok(n);
    }
    let rt = |base: i32, rest: &str, sign: i32| -> Option<i32> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().ok()?
        };
        let n = base + sign * off;
        (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n)
    };
    let parsed = if let Some(r) = name.strip_prefix("RTMIN") {
        match r.strip_prefix('+') {
            Some(o) => rt(SIGRTMIN, o, 1),
            None if r.is_empty() => rt(SIGRTMIN, "", 1),
            None => None,
        }
    } else if let Some(r) = name.strip_prefix("RTMAX") {
        match r.strip_prefix('-') {
            Some(o) => rt(SIGRTMAX, o, -1),
            None if r.is_empty() => rt(SIGRTMAX, "", 1),
            None => None,
        }
    } else {
        None
    };
    parsed.ok_or_else(|| format!("unknown signal {s:?}"))
}

/// The conventional name of a signal number (`SIGTERM`), for messages.
pub fn name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(k, _)| format!("SIG{k}"))
        .unwrap_or_else(|| format!("signal {n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_case() {
        assert_eq!(parse("KILL"), Ok(9));
        assert_eq!(parse("SIGKILL"), Ok(9));
        assert_eq!(parse("sigterm"), Ok(15));
        assert_eq!(parse("term"), Ok(15));
        assert_eq!(parse("9"), Ok(9));
        assert_eq!(parse("RTMIN+2"), Ok(36));
        assert_eq!(parse("SIGRTMAX-1"), Ok(63));
        assert_eq!(parse("RTMAX"), Ok(64));
    }

    #[test]
    fn rejects_unknown() {
        assert!(parse("FOO").is_err());
        assert!(parse("0").is_err());
        assert!(parse("65").is_err());
        assert!(parse("").is_err());
        assert!(parse("RTMIN+40").is_err());
        assert!(parse("RTMINX").is_err());
    }

    #[test]
    fn names_back() {
        assert_eq!(name(15), "SIGTERM");
        assert_eq!(name(40), "signal 40");
    }
}
