//! How an `exec`'d process is wired: a terminal of its own (`-t`: its
//! master handed back to the caller, its first size the caller's), or the
//! caller's stdout and stderr with its stdin only under `-i` (Docker's
//! `exec` gives a process no input otherwise), or nothing (`-d`).

use super::ExecOptions;
use crate::{Error, Result};
use nook_container::{Console, ExecRequest, Stdio};
use std::os::fd::{AsFd, OwnedFd};

/// Set `req`'s terminal or stdio as `opts` asks.
pub(crate) fn terminal(req: &mut ExecRequest, opts: &ExecOptions) -> Result<()> {
    let null = || -> Result<OwnedFd> {
        Ok(std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(Error::io("open", "/dev/null"))?
            .into())
    };
    if opts.detach {
        req.stdio = Stdio {
            stdin: Some(null()?),
            stdout: Some(null()?),
            stderr: Some(null()?),
        };
        return Ok(());
    }
    if opts.tty {
        req.process.set_terminal(Some(true));
        if let Some((rows, cols)) = opts.console_size {
            let size = oci_spec::runtime::BoxBuilder::default()
                .height(rows as u64)
                .width(cols as u64)
                .build()
                .map_err(|e| Error::invalid("exec", "console size", e))?;
            req.process.set_console_size(Some(size));
        }
        req.console = Console::ReturnMaster;
        return Ok(());
    }
    if opts.interactive {
        return Ok(()); // all three the caller's
    }
    let dup = |fd: std::os::fd::BorrowedFd| fd.try_clone_to_owned();
    req.stdio = Stdio {
        stdin: Some(null()?),
        stdout: Some(dup(std::io::stdout().as_fd()).map_err(Error::io("dup", "stdout"))?),
        stderr: Some(dup(std::io::stderr().as_fd()).map_err(Error::io("dup", "stderr"))?),
    };
    Ok(())
}
