//! The nook-dns program's arguments.

use crate::server::Options;
use crate::Error;
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

/// The program's arguments.
#[derive(Debug, Clone)]
pub struct Args {
    /// How the responder runs.
    pub options: Options,
    /// The pid file (default: `.nook-dns.pid` in the records directory).
    pub pid_file: PathBuf,
    /// An inherited descriptor of the pid file, locked already.
    pub lock_fd: Option<RawFd>,
    /// A pipe to report readiness on (one line).
    pub ready_fd: Option<RawFd>,
}

/// The usage line.
pub const USAGE: &str = "usage: nook-dns --records DIR [--pid-file FILE] [--port N] \
[--resolv-conf FILE] [--timeout-ms N] [--lock-fd FD] [--ready-fd FD]";

/// Read the arguments (after the program's name).
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Args, Error> {
    let mut it = args.into_iter();
    let (mut dir, mut pid_file, mut port, mut resolv, mut timeout) = (None, None, 53, None, 2000);
    let (mut lock_fd, mut ready_fd) = (None, None);
    while let Some(a) = it.next() {
        let name = a.to_string_lossy().into_owned();
        let mut value = || {
            it.next().ok_or(Error::Usage {
                arg: name.clone(),
                why: "needs a value",
            })
        };
        let num = |v: OsString, why| {
            v.to_str()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(Error::Usage {
                    arg: format!("{name} {}", v.to_string_lossy()),
                    why,
                })
        };
        match name.as_str() {
            "--records" => dir = Some(PathBuf::from(value()?)),
            "--pid-file" => pid_file = Some(PathBuf::from(value()?)),
            "--resolv-conf" => resolv = Some(PathBuf::from(value()?)),
            "--port" => {
                port = num(value()?, "not a port").and_then(|p| {
                    u16::try_from(p).map_err(|_| Error::Usage {
                        arg: format!("--port {p}"),
                        why: "not a port",
                    })
                })?
            }
            "--timeout-ms" => timeout = num(value()?, "not a number of milliseconds")?,
            "--lock-fd" => lock_fd = Some(num(value()?, "not a descriptor")? as RawFd),
            "--ready-fd" => ready_fd = Some(num(value()?, "not a descriptor")? as RawFd),
            _ => {
                return Err(Error::Usage {
                    arg: name,
                    why: "unknown argument",
                })
            }
        }
    }
    let dir = dir.ok_or(Error::Usage {
        arg: "--records".into(),
        why: "is required",
    })?;
    let mut options = Options::new(dir.clone());
    options.port = port;
    options.timeout = Duration::from_millis(timeout.max(1));
    if let Some(r) = resolv {
        options.resolv_conf = r;
    }
    Ok(Args {
        options,
        pid_file: pid_file.unwrap_or_else(|| dir.join(".nook-dns.pid")),
        lock_fd,
        ready_fd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Args, Error> {
        parse_args(a.iter().map(OsString::from))
    }

    #[test]
    fn arguments() {
        let a = parse(&["--records", "/r", "--port", "5353", "--timeout-ms", "300"]).unwrap();
        assert_eq!(a.options.port, 5353);
        assert_eq!(a.options.timeout, Duration::from_millis(300));
        assert_eq!(a.pid_file, PathBuf::from("/r/.nook-dns.pid"));
        assert_eq!(a.options.resolv_conf, PathBuf::from("/etc/resolv.conf"));
        for (bad, want) in [
            (
                &["--port", "70000", "--records", "/r"][..],
                "--port 70000: not a port",
            ),
            (&["--records"][..], "--records: needs a value"),
            (&["--port", "53"][..], "--records: is required"),
            (
                &["--records", "/r", "--bogus"][..],
                "--bogus: unknown argument",
            ),
        ] {
            assert_eq!(parse(bad).unwrap_err().to_string(), want);
        }
    }
}
