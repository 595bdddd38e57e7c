//! A "host" network namespace of the test's own with a rtnetlink socket in
//! it, "container" namespace files under a temporary directory, and the
//! probes that prove traffic (UDP, TCP, ICMP echo) from inside them.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nook_network::attach::{self, AttachRequest, Attachment, BridgeSpec};
use nook_network::netlink::Netlink;
use nook_network::netns::{self, Netns};
use nook_network::sysctl;

pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The test's own host namespace.
pub struct Host {
    pub ns: Netns,
    pub nl: Netlink,
    pub dir: tempfile::TempDir,
}

impl Host {
    pub fn new() -> Host {
        let ns = Netns::new_anonymous().expect("create the test's host namespace");
        let nl = Netlink::open_in(&ns).expect("rtnetlink socket in the host namespace");
        let dir = tempfile::Builder::new()
            .prefix("nook-network-")
            .tempdir()
            .unwrap();
        Host { ns, nl, dir }
    }

    /// Makes bridge `name` with `addrs` ("10.1.0.1/24").
    pub fn bridge(&mut self, name: &str, addrs: &[&str]) -> u32 {
        let addrs: Vec<(IpAddr, u8)> = addrs.iter().map(|a| cidr(a)).collect();
        attach::ensure_bridge(
            &mut self.nl,
            &BridgeSpec {
                name,
                addresses: &addrs,
                mtu: None,
            },
        )
        .unwrap()
    }

    /// A container namespace file `name` under the test's directory.
    pub fn container(&self, name: &str) -> NsFile {
        let path = self.dir.path().join(name);
        let ns = Netns::create_file(&path).unwrap();
        NsFile { ns: Some(ns), path }
    }

    /// Attaches `c` to `bridge` as eth0 with `addrs` and `gateways`.
    pub fn attach(
        &mut self,
        c: &NsFile,
        bridge: &str,
        veth: &str,
        addrs: &[&str],
        gateways: &[&str],
    ) -> nook_network::Result<Attachment> {
        let addrs: Vec<(IpAddr, u8)> = addrs.iter().map(|a| cidr(a)).collect();
        let gateways: Vec<IpAddr> = gateways.iter().map(|g| g.parse().unwrap()).collect();
        attach::attach(
            &mut self.nl,
            &AttachRequest {
                container: c.ns(),
                bridge,
                host_ifname: veth,
                ifname: "eth0",
                addresses: &addrs,
                gateways: &gateways,
                mac: None,
                mtu: None,
            },
        )
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Namespace files a test left (a guard not yet dropped) and shared
        // directories it made: unmount them so the temporary directory can
        // go.
        unmount_under(self.dir.path());
    }
}

fn unmount_under(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            unmount_under(&path);
            let _ = nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH);
        } else {
            let _ = netns::remove_file(&path);
        }
    }
}

/// A container's namespace file, unmounted and removed on drop.
pub struct NsFile {
    pub ns: Option<Netns>,
    pub path: PathBuf,
}

impl NsFile {
    pub fn ns(&self) -> &Netns {
        self.ns.as_ref().unwrap()
    }

    pub fn netlink(&self) -> Netlink {
        Netlink::open_in(self.ns()).unwrap()
    }
}

impl Drop for NsFile {
    fn drop(&mut self) {
        self.ns.take();
        let _ = netns::remove_file(&self.path);
    }
}

/// "10.1.0.2/24" → (10.1.0.2, 24).
pub fn cidr(s: &str) -> (IpAddr, u8) {
    let (a, p) = s.split_once('/').unwrap();
    (a.parse().unwrap(), p.parse().unwrap())
}

/// Whether `path` is a mount point now (in the process's mount namespace).
pub fn mounted(path: &Path) -> bool {
    mounts_at(path, "/proc/self/mountinfo") > 0
}

/// How many mounts are stacked at `path` in the mount table `mountinfo`.
pub fn mounts_at(path: &Path, mountinfo: &str) -> usize {
    let info = std::fs::read_to_string(mountinfo).unwrap();
    let p = path.to_str().unwrap();
    info.lines()
        .filter(|l| l.split_whitespace().nth(4) == Some(p))
        .count()
}

/// The inode of the calling thread's network namespace.
pub fn thread_netns_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
}

/// How long a test waits for a datagram it expects NOT to arrive.
pub const SHORT: Duration = Duration::from_millis(300);

fn udp_in(ns: &Netns, addr: SocketAddr, timeout: Duration) -> std::io::Result<UdpSocket> {
    ns.run("bind udp", move || Ok(UdpSocket::bind(addr)))
        .unwrap()
        .inspect(|s| {
            s.set_read_timeout(Some(timeout)).unwrap();
        })
}

/// A UDP datagram from `client` (bound to `from`) to a socket bound in
/// `server` on `to`, and its echo back: Ok when both arrive, with the
/// source address the server saw.
pub fn udp_echo(
    server: &Netns,
    to: SocketAddr,
    client: &Netns,
    from: IpAddr,
) -> std::io::Result<IpAddr> {
    udp_echo_within(server, to, client, from, TIMEOUT)
}

/// [`udp_echo`] waiting at most `timeout` for each datagram.
pub fn udp_echo_within(
    server: &Netns,
    to: SocketAddr,
    client: &Netns,
    from: IpAddr,
    timeout: Duration,
) -> std::io::Result<IpAddr> {
    let srv = udp_in(server, to, timeout)?;
    let to = srv.local_addr()?;
    let cli = udp_in(client, SocketAddr::new(from, 0), timeout)?;
    cli.send_to(b"ping over the bridge", to)?;
    let mut buf = [0u8; 64];
    let (n, peer) = srv.recv_from(&mut buf)?;
    assert_eq!(&buf[..n], b"ping over the bridge");
    srv.send_to(b"pong", peer)?;
    let n = cli.recv(&mut buf)?;
    assert_eq!(&buf[..n], b"pong");
    Ok(peer.ip())
}

/// A TCP connection from `client` to a listener in `server` on `to`, bytes
/// both ways; returns the source address the server saw.
pub fn tcp_echo(server: &Netns, to: SocketAddr, client: &Netns) -> std::io::Result<IpAddr> {
    let listener = server
        .run("listen tcp", move || Ok(TcpListener::bind(to)))
        .unwrap()?;
    let to = listener.local_addr()?;
    let mut conn = client
        .run("connect tcp", move || {
            Ok(TcpStream::connect_timeout(&to, TIMEOUT))
        })
        .unwrap()?;
    let (mut accepted, peer) = listener.accept()?;
    accepted.set_read_timeout(Some(TIMEOUT))?;
    conn.set_read_timeout(Some(TIMEOUT))?;
    conn.write_all(b"hello over tcp")?;
    let mut buf = [0u8; 14];
    accepted.read_exact(&mut buf)?;
    assert_eq!(&buf, b"hello over tcp");
    accepted.write_all(b"back")?;
    let mut back = [0u8; 4];
    conn.read_exact(&mut back)?;
    assert_eq!(&back, b"back");
    Ok(peer.ip())
}

/// An ICMP echo from inside `ns` to `dst` (an unprivileged ICMP socket,
/// allowed by net.ipv4.ping_group_range set in that namespace): Ok when the
/// reply comes.
pub fn ping(ns: &Netns, dst: IpAddr) -> std::io::Result<()> {
    sysctl::write(ns, "net.ipv4.ping_group_range", "0 2147483647").unwrap();
    let (family, proto) = match dst {
        IpAddr::V4(_) => (libc::AF_INET, libc::IPPROTO_ICMP),
        IpAddr::V6(_) => (libc::AF_INET6, libc::IPPROTO_ICMPV6),
    };
    let sock = ns
        .run("icmp socket", move || {
            // SAFETY: socket(2) with constant arguments; the result is
            // checked before it is owned.
            let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, proto) };
            if fd < 0 {
                return Ok(Err(std::io::Error::last_os_error()));
            }
            // SAFETY: fd is a new descriptor nothing else owns.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            // A datagram socket: std's UdpSocket only calls sendto/recv.
            Ok(Ok(UdpSocket::from(owned)))
        })
        .unwrap()?;
    sock.set_read_timeout(Some(TIMEOUT))?;
    let echo_type = if dst.is_ipv4() { 8u8 } else { 128u8 };
    // type, code, checksum and id (filled in by the kernel), sequence, data
    let req = [echo_type, 0, 0, 0, 0, 0, 0, 1, b'n', b'o', b'o', b'k'];
    sock.send_to(&req, SocketAddr::new(dst, 0))?;
    let mut buf = [0u8; 64];
    let n = sock.recv(&mut buf)?;
    let reply_type = if dst.is_ipv4() { 0u8 } else { 129u8 };
    assert!(
        n >= 12 && buf[0] == reply_type,
        "not an echo reply: {:?}",
        &buf[..n]
    );
    assert_eq!(&buf[8..12], b"nook");
    Ok(())
}
