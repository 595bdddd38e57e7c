//! `nook attach`: the monitor listens on a unix socket in the container's
//! directory; each client connected gets the container's output as it
//! comes (after the log has it), and what a client sends goes to the
//! container's input (its terminal, or the write end of its stdin pipe)
//! when it has one.  A client that does not keep up is dropped; the
//! clients are closed when the container has exited and its output
//! ended.  The detach keys are the client's business.
//!
//! A container with a terminal also has a control socket (conmon's
//! "ctl" FIFO, made a datagram socket: [`CONTROL_SOCKET`] beside the
//! attach socket): a client sends `resize ROWS COLS` in one datagram and
//! the monitor sets that size on the terminal's master (the kernel then
//! sends SIGWINCH to the container's foreground process group).  Bad
//! messages are ignored.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;

/// The control socket's name, beside the attach socket.
pub const CONTROL_SOCKET: &str = "ctl";

/// The attach socket, its clients and where their input goes.
#[derive(Debug)]
pub struct Attach {
    listener: UnixListener,
    clients: Vec<UnixStream>,
    input: Option<OwnedFd>,
    /// Output kept until the first client comes (`run -t`: the container
    /// starts before the caller attaches), at most [`MAX_PENDING`].
    pending: Option<Vec<u8>>,
    /// The control socket and the terminal master it resizes.
    control: Option<(UnixDatagram, RawFd)>,
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
            control: None,
        })
    }

    /// Listen for `resize ROWS COLS` on the datagram socket `path`
    /// (replacing a stale one), applied to `terminal` (a pty master the
    /// caller keeps open).
    pub fn control(&mut self, path: &Path, terminal: RawFd) -> std::io::Result<()> {
        let _ = std::fs::remove_file(path);
        let sock = UnixDatagram::bind(path)?;
        sock.set_nonblocking(true)?;
        self.control = Some((sock, terminal));
        Ok(())
    }

    /// Apply the control messages waiting.
    fn handle_control(&mut self) {
        let Some((sock, terminal)) = &self.control else {
            return;
        };
        let mut buf = [0u8; 64];
        while let Ok(n) = sock.recv(&mut buf) {
            if let Some((rows, cols)) = parse_resize(&buf[..n]) {
                let ws = libc::winsize {
                    ws_row: rows,
                    ws_col: cols,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                // SAFETY: TIOCSWINSZ with a valid winsize on a descriptor
                // the caller keeps open.
                unsafe { libc::ioctl(*terminal, libc::TIOCSWINSZ, &ws) };
            }
        }
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

    /// The descriptors to poll: the listener, the control socket (-1:
    /// none), then each client.
    pub fn fds(&self) -> Vec<RawFd> {
        let control = self.control.as_ref().map_or(-1, |(s, _)| s.as_raw_fd());
        [self.listener.as_raw_fd(), control]
            .into_iter()
            .chain(self.clients.iter().map(|c| c.as_raw_fd()))
            .collect()
    }

    /// Handle what poll said of [`Attach::fds`] (`ready[i]`): accept new
    /// clients, pass their input on, drop those that left.
    pub fn handle(&mut self, ready: &[bool]) {
        let mut buf = [0u8; 4096];
        let mut gone = Vec::new();
        for (i, c) in self.clients.iter_mut().enumerate() {
            if !ready.get(i + 2).copied().unwrap_or(false) {
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
        if ready.get(1).copied().unwrap_or(false) {
            self.handle_control();
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

/// A client's side of the control socket at `path`: ask for the terminal
/// to be `rows` by `cols`.
pub fn send_resize(path: &Path, rows: u16, cols: u16) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    sock.send_to(format!("resize {rows} {cols}").as_bytes(), path)?;
    Ok(())
}

/// `resize ROWS COLS` (both above 0).
fn parse_resize(msg: &[u8]) -> Option<(u16, u16)> {
    let text = std::str::from_utf8(msg).ok()?;
    let mut words = text.trim_end().split(' ');
    if words.next()? != "resize" {
        return None;
    }
    let rows: u16 = words.next()?.parse().ok()?;
    let cols: u16 = words.next()?.parse().ok()?;
    (words.next().is_none() && rows > 0 && cols > 0).then_some((rows, cols))
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
        assert_eq!(a.fds().len(), 3);
        a.broadcast(b"out\n");
        let mut got = [0u8; 4];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"out\n");
        c.write_all(b"in\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        a.handle(&[false, false, true]);
        let mut input = [0u8; 3];
        // SAFETY: read from the pipe's read end into our buffer.
        assert_eq!(unsafe { libc::read(p[0], input.as_mut_ptr().cast(), 3) }, 3);
        assert_eq!(&input, b"in\n");
        drop(c);
        a.handle(&[false, false, true]);
        assert_eq!(a.fds().len(), 2, "a client that left is dropped");
        // SAFETY: the read end is ours.
        unsafe { libc::close(p[0]) };
    }

    #[test]
    fn resize_messages() {
        assert_eq!(parse_resize(b"resize 30 100"), Some((30, 100)));
        assert_eq!(parse_resize(b"resize 30 100\n"), Some((30, 100)));
        for bad in [
            &b"resize 0 100"[..],
            b"resize 30",
            b"size 1 2",
            b"resize 1 2 3",
            b"\xff",
        ] {
            assert_eq!(parse_resize(bad), None);
        }
    }

    #[test]
    fn control_resizes_the_terminal() {
        let d = tempfile::tempdir().unwrap();
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty into integers we own; no name, termios or size.
        let r = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0);
        let mut a = Attach::bind(&d.path().join("attach"), None).unwrap();
        let ctl = d.path().join(CONTROL_SOCKET);
        a.control(&ctl, master).unwrap();
        send_resize(&ctl, 33, 111).unwrap();
        a.handle(&[false, true]);
        // SAFETY: a zeroed winsize filled by TIOCGWINSZ on our slave.
        let ws = unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            assert_eq!(libc::ioctl(slave, libc::TIOCGWINSZ, &mut ws), 0);
            ws
        };
        assert_eq!((ws.ws_row, ws.ws_col), (33, 111));
        // SAFETY: both ends are ours.
        unsafe {
            libc::close(master);
            libc::close(slave);
        }
    }
}
