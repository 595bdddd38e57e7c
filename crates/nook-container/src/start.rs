//! `start`: release a created container's process through its exec FIFO,
//! see it execute its program, run the poststart hooks.
//!
//! The process blocks opening the FIFO for writing until `start` opens it
//! for reading; it then writes "0" and keeps the FIFO open until `execve`
//! closes it, so `start` sees end-of-file exactly when the program runs
//! ("0F<reason>" instead: a startContainer hook failed).

use std::os::fd::{AsRawFd, OwnedFd};

use nook_sys::proc::is_same_alive;
use nook_sys::Errno;

use crate::error::{Error, Op, Result};
use crate::hooks;
use crate::runtime::{exit_detail, status_of, Runtime};
use crate::state::{ContainerDir, State, Status};

impl Runtime {
    /// Start a created container: run its program.  Returns once the
    /// program has been executed (and the poststart hooks have run).
    pub fn start(&self, id: &str) -> Result<()> {
        let (cd, st) = self.load(id, true)?;
        let status = status_of(&cd, &st);
        if status != Status::Created {
            return Err(Error::status(id, Op::Start, status));
        }
        if !st.has_process {
            return Err(Error::NoProcess { id: id.into() });
        }
        // Check the process before opening the FIFO: opening it releases the
        // process, and a quick program may be gone a moment later.
        let pidfd = nook_sys::pidfd::open(st.pid)
            .map_err(Error::sys("open a pidfd for the container's process"))?;
        if !is_same_alive(st.pid, st.init_start_time) {
            return Err(Error::Exited {
                id: id.into(),
                when: "has exited",
                how: exit_detail(st.pid),
            });
        }
        let got = release(&cd, &st, &pidfd)?;
        let _ = std::fs::remove_file(cd.fifo_path());
        if let Some(reason) = got.strip_prefix(b"0F") {
            return Err(hook_failure(reason));
        }
        self.poststart(&cd, &st)
    }

    /// poststart hooks: a failure is a warning, the container runs on.
    fn poststart(&self, cd: &ContainerDir, st: &State) -> Result<()> {
        if !cd.config_has_hooks() {
            return Ok(());
        }
        let spec = cd.read_config()?;
        if let Some(h) = spec
            .hooks()
            .as_ref()
            .and_then(|h| h.poststart().as_ref())
            .filter(|h| !h.is_empty())
        {
            let s = hooks::state_json(&st.id, "running", st.pid, &st.bundle, &spec);
            hooks::run_all("poststart", h, &s);
        }
        Ok(())
    }
}

/// Open the FIFO (releasing the process) and read what it writes until
/// end-of-file (the program runs) or its exit.
fn release(cd: &ContainerDir, st: &State, pidfd: &OwnedFd) -> Result<Vec<u8>> {
    let fifo = nook_sys::fd::openat(None, &cd.fifo_path(), libc::O_RDONLY | libc::O_NONBLOCK, 0)
        .map_err(Error::sys("open the exec fifo"))?;
    let mut got = Vec::new();
    loop {
        let mut pfds = [fifo.as_raw_fd(), pidfd.as_raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: two valid pollfds.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(Error::sys("wait for the container's process")(e));
        }
        if pfds[0].revents != 0 {
            match read_some(&fifo, &mut got) {
                Some(0) if !got.is_empty() => return Ok(got), // every writer gone
                _ if pfds[1].revents == 0 => continue,
                _ => {}
            }
        }
        if pfds[1].revents != 0 {
            if got.is_empty() {
                return Err(Error::Exited {
                    id: st.id.clone(),
                    when: "exited before it started",
                    how: exit_detail(st.pid),
                });
            }
            // Exited after release: drain what it wrote.
            read_some(&fifo, &mut got);
            return Ok(got);
        }
    }
}

/// One non-blocking read into `buf`: `Some(n)` bytes (0 at end-of-file),
/// `None` when nothing was there.
fn read_some(fd: &OwnedFd, buf: &mut Vec<u8>) -> Option<usize> {
    let mut b = [0u8; 4096];
    // SAFETY: read into our buffer.
    let n = unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
    if n < 0 {
        return None;
    }
    buf.extend_from_slice(&b[..n as usize]);
    Some(n as usize)
}

/// The error a failed startContainer hook reported through the FIFO
/// ("startContainer hook #0 (/bin/x): reason").
fn hook_failure(reason: &[u8]) -> Error {
    let text = String::from_utf8_lossy(reason).into_owned();
    let (head, why) = text.split_once(": ").unwrap_or((text.as_str(), ""));
    let (phase, which) = head
        .split_once(" hook ")
        .unwrap_or(("startContainer", head));
    Error::Hook {
        phase: phase.to_string(),
        which: which.to_string(),
        reason: why.to_string(),
    }
}
