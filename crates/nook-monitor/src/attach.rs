//! `nook attach`: the monitor listens on a unix socket in the container's
//! directory; each client connected gets the container's output as it
//! comes (after the log has it), and what a client sends goes to the
//! container's input (its terminal, or the write end of its stdin pipe)
//! when it has one.  A client that does not keep up is dropped; the
//! clients are closed when the container has exited and its output
//! ended.  The detach keys are the client's business.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// The attach socket, its clients and where their input goes.
#[derive(Debug)]
pub struct Attach {
    listener: UnixListener,
    clients: Vec<UnixStream>,
    input: Option<OwnedFd>,
    /// Output kept until the first client comes (`run -t`: the container
    /// starts before the caller attaches), at most [`MAX_PENDING`].
    pending: Option<Vec<u8>>,
}

/// The most output kept for a first client.
const MAX_PENDING: usize = 1 << 20;

impl Attach {
    /// Listen on `path` (replacing a stale socket); input to `input`
    /// (taken over), when there is one.
    pub fn bind(path: &Path, input: Option<RawFd>) -> std::io::Result<Attach> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Attach {
            listener,
            clients: Vec::new(),
            // SAFETY: the caller hands the descriptor over.
            input: input.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            pending: None,
        })
    }

    /// Keep the output for the first client.
    pub fn keep_for_first_client(&mut self) {
        self.pending = Some(Vec::new());
    }

    /// With output kept for a first client that has not come: wait for it
    /// (up to `ms`) and give it what was kept.
    pub fn wait_first_client(&mut self, ms: i32) {
        if self.pending.is_none() {
            return;
        }
        let mut p = libc::pollfd {
            fd: self.listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one descriptor we own.
        if unsafe { libc::poll(&mut p, 1, ms) } == 1 {
            self.handle(&[true]);
        }
    }

    /// The descriptors to poll: the listener, then each client.
    pub fn fds(&self) -> Vec<RawFd> {
        std::iter::once(self.listener.as_raw_fd())
            .chain(self.clients.iter().map(|c| c.as_raw_fd()))
            .collect()
    }

    /// Handle what poll said of [`Attach::fds`] (`ready[i]`): accept new
    /// clients, pass their input on, drop those that left.
    pub fn handle(&mut self, ready: &[bool]) {
        let mut buf = [0u8; 4096];
        let mut gone = Vec::new();
        for (i, c) in self.clients.iter_mut().enumerate() {
            if !ready.get(i + 1).copied().unwrap_or(false) {
                continue;
            }
            match c.read(&mut buf) {
                Ok(0) => gone.push(i),
                Ok(n) => {
                    if let Some(fd) = &self.input {
                        let _ = write_all(fd.as_raw_fd(), &buf[..n]);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => gone.push(i),
            }
        }
        for i in gone.into_iter().rev() {
            self.clients.remove(i);
        }
        if ready.first().copied().unwrap_or(false) {
            while let Ok((mut c, _)) = self.listener.accept() {
                if let Some(p) = self.pending.take() {
                    let _ = c.write_all(&p);
                }
                if c.set_nonblocking(true).is_ok() {
                    self.clients.push(c);
                }
            }
        }
    }

    /// Send output to every client; drop those that cannot take it.
    pub fn broadcast(&mut self, data: &[u8]) {
        if let Some(p) = &mut self.pending {
            if p.len() + data.len() <= MAX_PENDING {
                p.extend_from_slice(data);
            }
        }
        self.clients.retain_mut(|c| c.write_all(data).is_ok());
    }
}

fn write_all(fd: RawFd, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        // SAFETY: write from a buffer we own to a descriptor we hold.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_get_output_and_send_input() {
        let d = tempfile::tempdir().unwrap();
        let mut p = [0; 2];
        // SAFETY: a pipe into an array we own.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        let path = d.path().join("attach");
        let mut a = Attach::bind(&path, Some(p[1])).unwrap();
        let mut c = UnixStream::connect(&path).unwrap();
        a.handle(&[true]);
        assert_eq!(a.fds().len(), 2);
        a.broadcast(b"out\n");
        let mut got = [0u8; 4];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"out\n");
        c.write_all(b"in\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        a.handle(&[false, true]);
        let mut input = [0u8; 3];
        // SAFETY: read from the pipe's read end into our buffer.
        assert_eq!(unsafe { libc::read(p[0], input.as_mut_ptr().cast(), 3) }, 3);
        assert_eq!(&input, b"in\n");
        drop(c);
        a.handle(&[false, true]);
        assert_eq!(a.fds().len(), 1, "a client that left is dropped");
        // SAFETY: the read end is ours.
        unsafe { libc::close(p[0]) };
    }
}
