//! The host's resolvers, from resolv.conf (`nameserver` lines), read
//! again whenever the file changes (NetworkManager, systemd-resolved and
//! DHCP clients rewrite it).  Loopback resolvers are kept: the responder
//! runs in the host's network namespace, where 127.0.0.53 answers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The nameservers of a resolv.conf text (port 53); glibc's default,
/// 127.0.0.1, when there is none.  A scoped IPv6 address (`fe80::1%eth0`)
/// is skipped: its scope is the host's interface.
pub fn nameservers(text: &str) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    let all = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_ascii_whitespace();
            (f.next() == Some("nameserver")).then(|| f.next()).flatten()
        })
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53));
    for a in all {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        out.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
    }
    out
}

/// A resolv.conf, its nameservers read again when it changed.
#[derive(Debug)]
pub struct Resolvers {
    path: PathBuf,
    stamp: Option<(u64, u64, i64, i64, u64)>,
    servers: Vec<SocketAddr>,
}

impl Resolvers {
    /// The resolvers of the file at `path` (read at first use).
    pub fn new(path: PathBuf) -> Resolvers {
        Resolvers {
            path,
            stamp: None,
            servers: Vec::new(),
        }
    }

    /// The current nameservers (the file is read again when its device,
    /// inode, modification time or size changed; a missing file gives
    /// glibc's default).
    pub fn get(&mut self) -> &[SocketAddr] {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino(), m.mtime(), m.mtime_nsec(), m.size()));
        if stamp != self.stamp || self.servers.is_empty() {
            let text = std::fs::read_to_string(&self.path).unwrap_or_default();
            self.servers = nameservers(&text);
            self.stamp = stamp;
        }
        &self.servers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_lines() {
        let t = "# x\nsearch example\nnameserver 10.0.0.53\nnameserver  ::1\n\
                 nameserver fe80::1%eth0\nnameserver 10.0.0.53\noptions ndots:2\n";
        let v: Vec<String> = nameservers(t).iter().map(|a| a.to_string()).collect();
        assert_eq!(v, ["10.0.0.53:53", "[::1]:53"]);
        assert_eq!(nameservers("")[0].to_string(), "127.0.0.1:53");
    }

    #[test]
    fn read_again_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("resolv.conf");
        std::fs::write(&p, "nameserver 10.0.0.1\n").unwrap();
        let mut r = Resolvers::new(p.clone());
        assert_eq!(r.get()[0].to_string(), "10.0.0.1:53");
        std::fs::write(dir.path().join("new"), "nameserver 10.0.0.22\n").unwrap();
        std::fs::rename(dir.path().join("new"), &p).unwrap();
        assert_eq!(r.get()[0].to_string(), "10.0.0.22:53");
    }
}
