//! The records files: one per network, named after the network, in the
//! responder's records directory; written by the engine (atomically:
//! a hidden temporary file renamed over the old one), read by the
//! responder.  Files whose name starts with `.` are never records.
//!
//! The format is text, one item a line, fields separated by spaces;
//! `#` starts a comment line; lines of an unknown keyword are skipped
//! (an older responder reads a newer engine's file):
//!
//! ```text
//! # nook-dns records
//! network mynet
//! internal no
//! listen 10.89.0.1 fd89::1
//! subnet 10.89.0.0/24 fd89::/64
//! upstream 192.0.2.53 [2001:db8::53]:5353
//! container 3f2a…(64 hex) web addr=10.89.0.2,fd89::2 alias=www,frontend upstream=192.0.2.1
//! ```
//!
//! - `network NAME` (required): the network; it must be the file's name.
//! - `internal yes|no`: an internal network's names are answered, no
//!   other query is ever forwarded (REFUSED).
//! - `listen IP…` (required): the addresses served (the network's
//!   gateways); the network a query is for is the address it came to.
//! - `subnet CIDR…`: when given, queries from other sources are REFUSED.
//! - `upstream ADDR…`: this network's resolvers instead of the host's
//!   (`IP`, `IP:PORT`, `[IPv6]:PORT`).
//! - `container ID NAME [addr=IP,…] [alias=NAME,…] [upstream=ADDR,…]`:
//!   a container (its 12-hex short id resolves too), its addresses on
//!   this network, its aliases, and the resolvers its own queries are
//!   forwarded to (`--dns`).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// A network's records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    /// The network's name (the file's name).
    pub name: String,
    /// An internal network: nothing is forwarded.
    pub internal: bool,
    /// The addresses the responder listens on for this network.
    pub listen: Vec<IpAddr>,
    /// The network's subnets (address, prefix length); queries from
    /// elsewhere are refused when there is at least one.
    pub subnets: Vec<(IpAddr, u8)>,
    /// Resolvers of this network instead of the host's.
    pub upstreams: Vec<SocketAddr>,
    /// The containers on it.
    pub containers: Vec<Container>,
}

/// A container on a network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    /// Its full id (hex).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its aliases on this network.
    pub aliases: Vec<String>,
    /// Its addresses on this network.
    pub addrs: Vec<IpAddr>,
    /// Resolvers its queries go to (`--dns`) instead of the network's.
    pub upstreams: Vec<SocketAddr>,
}

/// What is wrong with a records file or a network's records.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// A line that cannot be read.
    #[error("{file}:{line}: {why}: {text:?}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The line number (from 1).
        line: usize,
        /// The line.
        text: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A network without a listen address, with a bad name, or named
    /// otherwise than its file.
    #[error("{file}: {why}")]
    Network {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Reading, writing, renaming or removing failed.
    #[error("{op} {path}: {err}")]
    Io {
        /// What was done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        err: std::io::Error,
    },
}

/// Whether a network name can be a records file's name (Docker's rule:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 255 bytes).
pub fn valid_network_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

/// Whether a container name or alias can be written (no space, comma
/// or control character; not empty).
fn valid_word(w: &str) -> bool {
    !w.is_empty() && w.bytes().all(|c| c.is_ascii_graphic() && c != b',')
}

/// An upstream resolver's address: `IP` (port 53), `IP:PORT`,
/// `[IPv6]:PORT`.
pub fn parse_upstream(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// A CIDR (`10.0.0.0/24`, `fd00::/64`).
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// Whether `ip` is in the subnet.
pub fn in_subnet(ip: IpAddr, (net, len): (IpAddr, u8)) -> bool {
    let mask = |bits: u32, len: u8| -> u128 {
        if len == 0 {
            0
        } else {
            (u128::MAX << (bits - len as u32)) & (u128::MAX >> (128 - bits))
        }
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = mask(32, len);
            u32::from(a) as u128 & m == u32::from(n) as u128 & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = mask(128, len);
            u128::from(a) & m == u128::from(n) & m
        }
        _ => false,
    }
}

fn list<T>(s: &str, f: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    s.split(',').filter(|x| !x.is_empty()).map(f).collect()
}

fn upstream_text(a: &SocketAddr) -> String {
    if a.port() == 53 {
        a.ip().to_string()
    } else {
        a.to_string()
    }
}

impl Network {
    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut s = String::from("# nook-dns records\n");
        let join = |v: Vec<String>, sep: &str| v.join(sep);
        let _ = writeln!(s, "network {}", self.name);
        let _ = writeln!(s, "internal {}", if self.internal { "yes" } else { "no" });
        let ips = |v: &[IpAddr]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>();
        let _ = writeln!(s, "listen {}", join(ips(&self.listen), " "));
        if !self.subnets.is_empty() {
            let v = self.subnets.iter().map(|(i, l)| format!("{i}/{l}"));
            let _ = writeln!(s, "subnet {}", join(v.collect(), " "));
        }
        if !self.upstreams.is_empty() {
            let v = self.upstreams.iter().map(upstream_text);
            let _ = writeln!(s, "upstream {}", join(v.collect(), " "));
        }
        for c in &self.containers {
            let _ = write!(s, "container {} {}", c.id, c.name);
            if !c.addrs.is_empty() {
                let _ = write!(s, " addr={}", join(ips(&c.addrs), ","));
            }
            if !c.aliases.is_empty() {
                let _ = write!(s, " alias={}", c.aliases.join(","));
            }
            if !c.upstreams.is_empty() {
                let v = c.upstreams.iter().map(upstream_text);
                let _ = write!(s, " upstream={}", join(v.collect(), ","));
            }
            s.push('\n');
        }
        s
    }

    /// Read a records file's text (`file` names it in errors; the
    /// network must be named as the file).
    pub fn parse(file: &Path, text: &str) -> Result<Network, RecordsError> {
        let mut n = Network::default();
        for (i, line) in text.lines().enumerate() {
            let bad = |why| RecordsError::Syntax {
                file: file.to_path_buf(),
                line: i + 1,
                text: line.to_string(),
                why,
            };
            let mut f = line.split_ascii_whitespace();
            let Some(key) = f.next().filter(|k| !k.starts_with('#')) else {
                continue;
            };
            match key {
                "network" => n.name = f.next().ok_or_else(|| bad("no network name"))?.into(),
                "internal" => {
                    n.internal = match f.next() {
                        Some("yes" | "true" | "1") => true,
                        Some("no" | "false" | "0") => false,
                        _ => return Err(bad("internal is yes or no")),
                    }
                }
                "listen" => {
                    for w in f {
                        n.listen.push(w.parse().map_err(|_| bad("not an address"))?);
                    }
                }
                "subnet" => {
                    for w in f {
                        n.subnets
                            .push(parse_cidr(w).ok_or_else(|| bad("not a CIDR"))?);
                    }
                }
                "upstream" => {
                    for w in f {
                        n.upstreams
                            .push(parse_upstream(w).ok_or_else(|| bad("not an address"))?);
                    }
                }
                "container" => n.containers.push(parse_container(f).map_err(bad)?),
                _ => {}
            }
        }
        n.check(file)?;
        Ok(n)
    }

    /// Check what the file format cannot say alone; `file` names the
    /// records file in the error.
    pub fn check(&self, file: &Path) -> Result<(), RecordsError> {
        let bad = |why: String| RecordsError::Network {
            file: file.to_path_buf(),
            why,
        };
        if !valid_network_name(&self.name) {
            return Err(bad(format!("bad network name {:?}", self.name)));
        }
        let fname = file.file_name().and_then(|f| f.to_str()).unwrap_or("");
        if fname != self.name {
            return Err(bad(format!("names network {:?}, not {fname:?}", self.name)));
        }
        if self.listen.is_empty() {
            return Err(bad(format!("network {} has no listen address", self.name)));
        }
        for c in &self.containers {
            let hex = c.id.len() >= 12 && c.id.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex || !valid_word(&c.name) || !c.aliases.iter().all(|a| valid_word(a)) {
                return Err(bad(format!("bad container {} {:?}", c.id, c.name)));
            }
        }
        Ok(())
    }

    /// Write this network's records file into `dir`, atomically (a
    /// hidden temporary file, then renamed).
    pub fn write(&self, dir: &Path) -> Result<(), RecordsError> {
        let path = dir.join(&self.name);
        self.check(&path)?;
        let tmp = dir.join(format!(".{}.tmp{}", self.name, std::process::id()));
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |err| RecordsError::Io { op, path, err }
        };
        std::fs::write(&tmp, self.to_text()).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io("rename", &path)(e)
        })
    }

    /// Read network `name`'s records file in `dir`.
    pub fn read(dir: &Path, name: &str) -> Result<Network, RecordsError> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|err| RecordsError::Io {
            op: "read",
            path: path.clone(),
            err,
        })?;
        Network::parse(&path, &text)
    }
}

fn parse_container<'a>(mut f: impl Iterator<Item = &'a str>) -> Result<Container, &'static str> {
    let mut c = Container {
        id: f.next().ok_or("no container id")?.to_ascii_lowercase(),
        name: f.next().ok_or("no container name")?.to_string(),
        ..Default::default()
    };
    for kv in f {
        let (k, v) = kv.split_once('=').ok_or("not key=value")?;
        match k {
            "addr" => c.addrs = list(v, |a| a.parse().ok()).ok_or("not an address")?,
            "alias" => c.aliases = list(v, |a| Some(a.to_string())).unwrap_or_default(),
            "upstream" => c.upstreams = list(v, parse_upstream).ok_or("not an address")?,
            _ => {}
        }
    }
    Ok(c)
}

/// Remove network `name`'s records file from `dir` (none is no error).
pub fn remove(dir: &Path, name: &str) -> Result<(), RecordsError> {
    let path = dir.join(name);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RecordsError::Io {
            op: "remove",
            path,
            err: e,
        }),
        _ => Ok(()),
    }
}

/// The records files of `dir`: names not starting with `.`.
pub fn list_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && e.file_type().map(|t| t.is_file()).unwrap_or(false) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Network {
        Network {
            name: "front".into(),
            internal: true,
            listen: vec!["10.89.0.1".parse().unwrap(), "fd89::1".parse().unwrap()],
            subnets: vec![parse_cidr("10.89.0.0/24").unwrap()],
            upstreams: vec![parse_upstream("[2001:db8::53]:5353").unwrap()],
            containers: vec![
                Container {
                    id: "0123456789ab".repeat(5) + "cdef",
                    name: "web".into(),
                    aliases: vec!["www".into(), "Front-End".into()],
                    addrs: vec!["10.89.0.2".parse().unwrap(), "fd89::2".parse().unwrap()],
                    upstreams: vec![parse_upstream("192.0.2.1").unwrap()],
                },
                Container {
                    id: "ab".repeat(32),
                    name: "db".into(),
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn text_round_trips() {
        let n = sample();
        let text = n.to_text();
        assert!(text.contains("upstream [2001:db8::53]:5353\n"), "{text}");
        assert!(text.contains("upstream=192.0.2.1\n"), "{text}");
        assert_eq!(Network::parse(Path::new("/x/front"), &text).unwrap(), n);
    }

    #[test]
    fn written_atomically_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let n = sample();
        n.write(dir.path()).unwrap();
        assert_eq!(list_files(dir.path()).unwrap(), vec!["front"]);
        assert_eq!(Network::read(dir.path(), "front").unwrap(), n);
        remove(dir.path(), "front").unwrap();
        remove(dir.path(), "front").unwrap();
        assert!(list_files(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_file_line_and_value() {
        let f = Path::new("/r/n1");
        for (text, want) in [
            (
                "network n1\nlisten 10.0.0.300\n",
                "/r/n1:2: not an address: \"listen 10.0.0.300\"",
            ),
            (
                "network n1\nlisten 10.0.0.1\ninternal maybe\n",
                "/r/n1:3: internal is yes or no",
            ),
            (
                "network n1\nlisten 10.0.0.1\nsubnet 10.0.0.0/33\n",
                "/r/n1:3: not a CIDR",
            ),
            (
                "network n1\nlisten 1.2.3.4\ncontainer abc\n",
                "/r/n1:3: no container name",
            ),
            (
                "network n1\nlisten 1.2.3.4\ncontainer abc x addr\n",
                "not key=value",
            ),
            (
                "network n2\nlisten 1.2.3.4\n",
                "/r/n1: names network \"n2\", not \"n1\"",
            ),
            ("network n1\n", "/r/n1: network n1 has no listen address"),
            (
                "network n1\nlisten 1.1.1.1\ncontainer xyz c\n",
                "bad container xyz",
            ),
        ] {
            let e = Network::parse(f, text).unwrap_err().to_string();
            assert!(e.contains(want), "{e} lacks {want}");
            assert_eq!(e.lines().count(), 1);
        }
    }

    #[test]
    fn unknown_keywords_and_keys_are_skipped() {
        let t = "# c\nnetwork n\nlisten 1.2.3.4\nfuture stuff\n\ncontainer abcdefabcdef c ttl=3\n";
        let n = Network::parse(Path::new("n"), t).unwrap();
        assert_eq!(n.containers[0].name, "c");
    }

    #[test]
    fn subnets() {
        let s = parse_cidr("10.89.0.0/24").unwrap();
        assert!(in_subnet("10.89.0.200".parse().unwrap(), s));
        assert!(!in_subnet("10.89.1.2".parse().unwrap(), s));
        assert!(!in_subnet("fd89::2".parse().unwrap(), s));
        let s6 = parse_cidr("fd89::/64").unwrap();
        assert!(in_subnet("fd89::1:2".parse().unwrap(), s6));
        assert!(!in_subnet("fd88::1".parse().unwrap(), s6));
        assert!(in_subnet(
            "1.2.3.4".parse().unwrap(),
            parse_cidr("0.0.0.0/0").unwrap()
        ));
        assert!(in_subnet(
            "1.2.3.4".parse().unwrap(),
            parse_cidr("1.2.3.4/32").unwrap()
        ));
    }

    #[test]
    fn network_names() {
        assert!(valid_network_name("my-net_1.x"));
        for bad in ["", ".hidden", "-x", "a/b", "a b"] {
            assert!(!valid_network_name(bad), "{bad}");
        }
    }
}
