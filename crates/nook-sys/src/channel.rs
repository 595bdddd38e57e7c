//! A typed, message-oriented channel between the runtime and the container
//! process it forked: one `SOCK_SEQPACKET` socketpair, one JSON message per
//! packet, optional file descriptors attached with `SCM_RIGHTS`.
//!
//! Every step of container setup is sequenced over it, so a failure inside
//! the container reaches the user as the error text the child sent, and a
//! child that dies without a word is seen as end-of-file, never as a hang.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Errno;

/// Largest message we accept (errors and states are far smaller).
const MAX_MSG: usize = 64 * 1024;
/// Most descriptors one message may carry.
const MAX_FDS: usize = 8;

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The peer closed its end (usually: the process exited).
    #[error("peer closed the channel")]
    Closed,
    /// A socket syscall failed.
    #[error("channel i/o: {0}")]
    Io(#[from] Errno),
    /// The peer sent something that is not a message of the expected type.
    #[error("malformed message: {0}")]
    Decode(String),
}

/// One end of a channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Create a connected pair; both ends are close-on-exec.
pub fn pair() -> Result<(Channel, Channel), Errno> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// Wrap an existing connected `SOCK_SEQPACKET` (or `SOCK_STREAM` for
    /// single-message use) socket.
    pub fn from_fd(fd: OwnedFd) -> Self {
        Channel { fd }
    }

    /// The underlying descriptor.
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Send one message, with `fds` attached.
    pub fn send<T: Serialize>(&self, msg: &T, fds: &[RawFd]) -> Result<(), ChannelError> {
        let buf = serde_json::to_vec(msg).map_err(|e| ChannelError::Decode(e.to_string()))?;
        match crate::fd::send_with_fds(self.fd.as_fd(), &buf, fds) {
            Ok(()) => Ok(()),
            Err(Errno::EPIPE) | Err(Errno::ECONNRESET) => Err(ChannelError::Closed),
            Err(e) => Err(ChannelError::Io(e)),
        }
    }

    /// Receive one message and the descriptors that came with it.
    pub fn recv<T: DeserializeOwned>(&self) -> Result<(T, Vec<OwnedFd>), ChannelError> {
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg_space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let (n, fds) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg_space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => {
                    let mut fds = Vec::new();
                    if let Ok(cmsgs) = m.cmsgs() {
                        for c in cmsgs {
                            if let ControlMessageOwned::ScmRights(raw) = c {
                                // SAFETY: SCM_RIGHTS hands us new descriptors we own.
                                fds.extend(
                                    raw.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }),
                                );
                            }
                        }
                    }
                    break (m.bytes, fds);
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::ECONNRESET) => return Err(ChannelError::Closed),
                Err(e) => return Err(ChannelError::Io(e)),
            }
        };
        if n == 0 {
            return Err(ChannelError::Closed);
        }
        let msg =
            serde_json::from_slice(&buf[..n]).map_err(|e| ChannelError::Decode(e.to_string()))?;
        Ok((msg, fds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    enum Msg {
        Hello { n: u32 },
        Bye,
    }

    #[test]
    fn roundtrip_with_fd() {
        let (a, b) = pair().unwrap();
        let devnull = std::fs::File::open("/dev/null").unwrap();
        a.send(&Msg::Hello { n: 7 }, &[devnull.as_raw_fd()])
            .unwrap();
        let (m, fds): (Msg, _) = b.recv().unwrap();
        assert_eq!(m, Msg::Hello { n: 7 });
        assert_eq!(fds.len(), 1);
        a.send(&Msg::Bye, &[]).unwrap();
        assert_eq!(b.recv::<Msg>().unwrap().0, Msg::Bye);
    }

    #[test]
    fn closed_peer_is_eof() {
        let (a, b) = pair().unwrap();
        drop(a);
        assert!(matches!(b.recv::<Msg>(), Err(ChannelError::Closed)));
    }

    #[test]
    fn garbage_is_decode_error() {
        let (a, b) = pair().unwrap();
        a.send(&"not a Msg", &[]).unwrap();
        assert!(matches!(b.recv::<Msg>(), Err(ChannelError::Decode(_))));
    }
}
