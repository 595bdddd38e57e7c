//! The few system calls std lacks: sockets bound to an address the host
//! may not have yet (IP_FREEBIND: a network's gateway is served as soon
//! as its bridge has it), inotify, poll, and the pid file's lock.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setopt(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: the option's value is a c_int that outlives the call.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// A socket of `ty` bound to `addr`, non-blocking, close-on-exec, with
/// IP_FREEBIND and IPV6_V6ONLY; SO_REUSEADDR for TCP (a listener
/// restarted over connections in TIME_WAIT), never for UDP (where it
/// would let two processes share the address).
fn bound(addr: SocketAddr, ty: libc::c_int) -> io::Result<OwnedFd> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: socket() makes a new descriptor, owned at once.
    let fd = unsafe { OwnedFd::from_raw_fd(cvt(libc::socket(family, ty | flags, 0))?) };
    let raw = fd.as_raw_fd();
    if ty == libc::SOCK_STREAM {
        setopt(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    }
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            setopt(raw, libc::SOL_IP, libc::IP_FREEBIND, 1)?;
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in.
            let sin = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            setopt(raw, libc::SOL_IPV6, libc::IPV6_V6ONLY, 1)?;
            setopt(raw, libc::SOL_IPV6, libc::IPV6_FREEBIND, 1)?;
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    // SAFETY: ss holds a sockaddr of `len` bytes.
    cvt(unsafe {
        libc::bind(
            raw,
            (&ss as *const libc::sockaddr_storage).cast(),
            len as u32,
        )
    })?;
    Ok(fd)
}

/// A non-blocking UDP socket bound to `addr`.
pub fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    Ok(UdpSocket::from(bound(addr, libc::SOCK_DGRAM)?))
}

/// A non-blocking TCP listener bound to `addr`.
pub fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let fd = bound(addr, libc::SOCK_STREAM)?;
    // SAFETY: listen on our own socket.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), 64) })?;
    Ok(TcpListener::from(fd))
}

/// An inotify descriptor watching a directory for files written,
/// renamed in or out and removed, and for the directory's removal.
pub fn watch_dir(dir: &Path) -> io::Result<OwnedFd> {
    // SAFETY: inotify_init1 makes a new descriptor, owned at once.
    let fd = unsafe {
        OwnedFd::from_raw_fd(cvt(libc::inotify_init1(
            libc::IN_NONBLOCK | libc::IN_CLOEXEC,
        ))?)
    };
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mask = libc::IN_CLOSE_WRITE
        | libc::IN_MOVED_TO
        | libc::IN_MOVED_FROM
        | libc::IN_DELETE
        | libc::IN_DELETE_SELF
        | libc::IN_MOVE_SELF
        | libc::IN_ONLYDIR;
    // SAFETY: path is a valid C string; fd is ours.
    cvt(unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) })?;
    Ok(fd)
}

/// Read everything pending on a non-blocking descriptor (inotify events,
/// signalfd records); the bytes read.
pub fn drain(fd: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reading into our own buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// Wait until one of `fds` is readable (or `timeout_ms`, -1: forever);
/// the ready ones are flagged in the returned vector.
pub fn poll_read(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: p is a valid array of p.len() pollfds.
        let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
        if r >= 0 {
            return Ok(p.iter().map(|x| x.revents != 0).collect());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn flock(f: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on our own descriptor.
        match cvt(unsafe { libc::flock(f.as_raw_fd(), op) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(drop),
        }
    }
}

/// The pid file, locked (flock, exclusive) for as long as the responder
/// serves: the lock, not the pid in it, says whether one runs.  It holds
/// `PID STARTTIME` (the start time of /proc/PID/stat) so that a stale
/// pid is never signalled.
#[derive(Debug)]
pub struct PidLock {
    file: File,
    path: PathBuf,
}

impl PidLock {
    /// Open (create) the pid file and take its lock; `Ok(None)` when
    /// another process holds it.
    pub fn take(path: &Path) -> io::Result<Option<PidLock>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let l = PidLock {
            file,
            path: path.to_path_buf(),
        };
        Ok(l.retake()?.then_some(l))
    }

    /// A pid file whose lock this process inherited (from
    /// [`crate::spawn::Responder::ensure`]).
    pub fn inherited(fd: OwnedFd, path: &Path) -> PidLock {
        PidLock {
            file: File::from(fd),
            path: path.to_path_buf(),
        }
    }

    /// The descriptor (handed to the responder).
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// The pid file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write this process's pid and start time into the file.
    pub fn write_pid(&self) -> io::Result<()> {
        let pid = std::process::id() as i32;
        let line = format!("{pid} {}\n", start_time(pid).unwrap_or(0));
        self.file.set_len(0)?;
        (&self.file).write_all(line.as_bytes())
    }

    /// Let go of the lock (keeping the file open).
    pub fn release(&self) -> io::Result<()> {
        flock(&self.file, libc::LOCK_UN)
    }

    /// Take the lock again, without waiting; false when another holds it.
    pub fn retake(&self) -> io::Result<bool> {
        match flock(&self.file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A process's start time (clock ticks after boot), from /proc/PID/stat.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // after "pid (comm) ": state is field 3, starttime field 22
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// The pid in a pid file, when that process still runs (same start
/// time; a zombie is not running).
pub fn running_pid(path: &Path) -> Option<i32> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    let mut f = s.split_ascii_whitespace();
    let pid: i32 = f.next()?.parse().ok()?;
    let start: u64 = f.next()?.parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.get(stat.rfind(')')? + 2..)?.chars().next()?;
    (pid > 0 && start_time(pid) == Some(start) && state != 'Z').then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_lock_is_exclusive_and_the_pid_verified() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pid");
        let a = PidLock::take(&p).unwrap().expect("first lock");
        assert!(PidLock::take(&p).unwrap().is_none(), "second lock taken");
        assert_eq!(running_pid(&p), None, "no pid written yet");
        a.write_pid().unwrap();
        assert_eq!(running_pid(&p), Some(std::process::id() as i32));
        // a pid whose start time differs is not ours
        std::fs::write(&p, format!("{} 1\n", std::process::id())).unwrap();
        assert_eq!(running_pid(&p), None);
        a.release().unwrap();
        let b = PidLock::take(&p).unwrap().expect("lock after release");
        assert!(!a.retake().unwrap());
        drop(b);
        assert!(a.retake().unwrap());
    }

    #[test]
    fn binds_an_address_the_host_lacks() {
        // 192.0.2.0/24 (TEST-NET-1) is on no interface: IP_FREEBIND
        let u = bind_udp("192.0.2.77:0".parse().unwrap()).unwrap();
        assert_eq!(u.local_addr().unwrap().ip().to_string(), "192.0.2.77");
        let t = bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(t.local_addr().unwrap().port() != 0);
    }
}
