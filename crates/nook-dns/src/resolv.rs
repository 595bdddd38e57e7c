//! The host's resolvers, from resolv.conf (`nameserver` lines), read
//! again whenever the file changes (NetworkManager, systemd-resolved and
//! DHCP clients rewrite it).  Loopback resolvers are kept: the responder
//! runs in the host's network namespace, where 127.0.0.53 answers.
//! Also the resolv.conf a container on bridge networks gets.

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

/// The resolv.conf of a container on bridge networks: the responder's
/// addresses of its networks (`listen`, first network first; at most 3
/// are read by glibc), the search domain `dns.nook` then the host's
/// search domains, and the host's options (from `host`, the host's
/// resolv.conf text).
pub fn for_container(listen: &[IpAddr], host: &str) -> String {
    let mut search = vec![crate::lookup::SEARCH_DOMAIN.to_string()];
    let mut options = Vec::new();
    for l in host.lines() {
        let mut f = l.split_ascii_whitespace();
        match f.next() {
            Some("search" | "domain") => {
                for d in f {
                    if !search.iter().any(|s| s == d) {
                        search.push(d.to_string());
                    }
                }
            }
            Some("options") => options.extend(f.map(String::from)),
            _ => {}
        }
    }
    let mut out = format!("search {}\n", search.join(" "));
    for ip in listen {
        out += &format!("nameserver {ip}\n");
    }
    if !options.is_empty() {
        out += &format!("options {}\n", options.join(" "));
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
    fn a_containers_resolv_conf() {
        let host = "nameserver 127.0.0.53\nsearch corp.example dns.nook\noptions edns0 trust-ad\n";
        let listen = ["10.89.0.1".parse().unwrap(), "fd89::1".parse().unwrap()];
        assert_eq!(
            for_container(&listen, host),
            "search dns.nook corp.example\nnameserver 10.89.0.1\nnameserver fd89::1\n\
             options edns0 trust-ad\n"
        );
        assert_eq!(
            for_container(&listen[..1], ""),
            "search dns.nook\nnameserver 10.89.0.1\n"
        );
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
