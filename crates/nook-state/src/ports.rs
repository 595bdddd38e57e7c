//! The host ports published containers hold.
//!
//! A binding is a row keyed by (host address, host port, protocol), where
//! `0.0.0.0` and `::` stand for every address of their family: two
//! containers can never hold one, whatever processes race, because the
//! choice and the insert happen in one write transaction
//! ([`State::bind_ports`] calls the caller's chooser with the bindings
//! other containers hold, inside it), and a wildcard conflicts with every
//! address of its family.  Rows go with their container's row (cascade)
//! and are freed when it stops ([`State::unbind_ports`]).

use crate::{sql, Error, Result, State};
use rusqlite::{params, Connection};
use std::net::IpAddr;

/// One host port a container holds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortBinding {
    /// The container holding it.
    pub container_id: String,
    /// The host address (`0.0.0.0` / `::`: every address of the family).
    pub host_ip: IpAddr,
    /// The host port.
    pub host_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The container port it leads to.
    pub container_port: u16,
}

impl PortBinding {
    /// Whether `self` and `other` cannot both be held: one port and
    /// protocol, and one address or a wildcard of its family.
    pub fn conflicts_with(&self, other: &PortBinding) -> bool {
        let same_family = self.host_ip.is_ipv4() == other.host_ip.is_ipv4();
        self.host_port == other.host_port
            && self.protocol == other.protocol
            && same_family
            && (self.host_ip == other.host_ip
                || self.host_ip.is_unspecified()
                || other.host_ip.is_unspecified())
    }

    /// The address as Docker writes it in its message (`[::]` bracketed).
    fn address_text(&self) -> String {
        match self.host_ip {
            IpAddr::V6(a) => format!("[{a}]"),
            a => a.to_string(),
        }
    }
}

fn query(c: &Connection, filter: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<PortBinding>> {
    let q = format!(
        "SELECT container_id, host_ip, host_port, protocol, container_port FROM port_bindings
         {filter} ORDER BY container_port, protocol, host_ip, host_port"
    );
    let mut st = c.prepare(&q).map_err(sql("query port bindings"))?;
    let rows = st
        .query_map(p, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u16>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, u16>(4)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("query port bindings"))?;
    rows.into_iter()
        .map(|(container_id, ip, host_port, protocol, container_port)| {
            let host_ip = ip.parse().map_err(|_| Error::Corrupt {
                what: "port binding address",
                value: ip,
            })?;
            Ok(PortBinding {
                container_id,
                host_ip,
                host_port,
                protocol,
                container_port,
            })
        })
        .collect()
}

impl State {
    /// Give container `id` the bindings `choose` picks, given those other
    /// containers hold, all in one transaction (its own earlier bindings
    /// are dropped first: publishing again replaces them).  The chooser's
    /// error is returned inside `Ok` (the old bindings then stay dropped);
    /// [`Error::PortAllocated`] if it picks one another container holds.
    pub fn bind_ports<E, F>(
        &self,
        id: &str,
        choose: F,
    ) -> Result<std::result::Result<Vec<PortBinding>, E>>
    where
        F: FnOnce(&[PortBinding]) -> std::result::Result<Vec<PortBinding>, E>,
    {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM port_bindings WHERE container_id = ?1",
                params![id],
            )
            .map_err(sql("free port bindings"))?;
            let used = query(tx, "", &[])?;
            let chosen = match choose(&used) {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            for (i, b) in chosen.iter().enumerate() {
                let taken = used
                    .iter()
                    .chain(&chosen[..i])
                    .find(|u| u.conflicts_with(b));
                if let Some(u) = taken {
                    return Err(Error::PortAllocated {
                        address: u.address_text(),
                        port: u.host_port,
                    });
                }
                tx.execute(
                    "INSERT INTO port_bindings
                         (container_id, host_ip, host_port, protocol, container_port)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        id,
                        b.host_ip.to_string(),
                        b.host_port,
                        b.protocol,
                        b.container_port
                    ],
                )
                .map_err(sql("record a port binding"))?;
            }
            Ok(Ok(chosen
                .into_iter()
                .map(|b| PortBinding {
                    container_id: id.to_string(),
                    ..b
                })
                .collect()))
        })
    }

    /// Free the host ports container `id` holds; how many it held.
    pub fn unbind_ports(&self, id: &str) -> Result<usize> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM port_bindings WHERE container_id = ?1",
                params![id],
            )
            .map_err(sql("free port bindings"))
        })
    }

    /// The host ports container `id` holds, by container port.
    pub fn port_bindings(&self, id: &str) -> Result<Vec<PortBinding>> {
        self.read(|c| query(c, "WHERE container_id = ?1", &[&id]))
    }

    /// Every binding held, by container port.
    pub fn all_port_bindings(&self) -> Result<Vec<PortBinding>> {
        self.read(|c| query(c, "", &[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::container;

    fn b(ip: &str, port: u16, proto: &str) -> PortBinding {
        PortBinding {
            container_id: String::new(),
            host_ip: ip.parse().unwrap(),
            host_port: port,
            protocol: proto.into(),
            container_port: 80,
        }
    }

    type Chosen = std::result::Result<Vec<PortBinding>, String>;

    fn fixed(v: Vec<PortBinding>) -> impl FnOnce(&[PortBinding]) -> Chosen {
        move |_| Ok(v)
    }

    #[test]
    fn conflicts_follow_wildcards_within_a_family() {
        assert!(b("0.0.0.0", 80, "tcp").conflicts_with(&b("127.0.0.1", 80, "tcp")));
        assert!(b("127.0.0.1", 80, "tcp").conflicts_with(&b("0.0.0.0", 80, "tcp")));
        assert!(b("::", 80, "tcp").conflicts_with(&b("::1", 80, "tcp")));
        assert!(!b("0.0.0.0", 80, "tcp").conflicts_with(&b("::", 80, "tcp")));
        assert!(!b("0.0.0.0", 80, "tcp").conflicts_with(&b("0.0.0.0", 80, "udp")));
        assert!(!b("0.0.0.0", 80, "tcp").conflicts_with(&b("0.0.0.0", 81, "tcp")));
        assert!(!b("127.0.0.1", 80, "tcp").conflicts_with(&b("127.0.0.2", 80, "tcp")));
    }

    #[test]
    fn a_port_is_held_once_freed_on_stop_and_with_its_container() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path().join("nook.db")).unwrap();
        container(&s, "a1");
        container(&s, "b2");
        let got = s
            .bind_ports("a1", fixed(vec![b("0.0.0.0", 8080, "tcp")]))
            .unwrap()
            .unwrap();
        assert_eq!(got[0].container_id, "a1");
        // the chooser sees what others hold
        let seen = s
            .bind_ports("b2", |used: &[PortBinding]| -> Chosen {
                Err(format!("{}", used.len()))
            })
            .unwrap()
            .unwrap_err();
        assert_eq!(seen, "1");
        let e = s
            .bind_ports("b2", fixed(vec![b("127.0.0.1", 8080, "tcp")]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bind for 0.0.0.0:8080 failed: port is already allocated"
        );
        assert!(s.port_bindings("b2").unwrap().is_empty());
        // the same port twice in one request
        let e = s
            .bind_ports("b2", fixed(vec![b("::", 9, "udp"), b("::", 9, "udp")]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bind for [::]:9 failed: port is already allocated"
        );
        // another protocol, another family: free
        s.bind_ports(
            "b2",
            fixed(vec![b("0.0.0.0", 8080, "udp"), b("::", 8080, "tcp")]),
        )
        .unwrap()
        .unwrap();
        // publishing again replaces a container's own bindings
        s.bind_ports("a1", fixed(vec![b("0.0.0.0", 8080, "tcp")]))
            .unwrap()
            .unwrap();
        assert_eq!(s.all_port_bindings().unwrap().len(), 3);
        assert_eq!(s.unbind_ports("b2").unwrap(), 2);
        s.remove_container("a1").unwrap();
        assert!(s.all_port_bindings().unwrap().is_empty());
    }

    #[test]
    fn concurrent_binds_from_separate_connections_never_share_a_port() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nook.db");
        let s = State::open(&path).unwrap();
        let ids: Vec<String> = (0..20).map(|i| format!("c{i:02}")).collect();
        for id in &ids {
            container(&s, id);
        }
        let threads: Vec<_> = ids
            .iter()
            .map(|id| {
                let (path, id) = (path.clone(), id.clone());
                std::thread::spawn(move || {
                    let s = State::open(&path).unwrap();
                    // the lowest port nobody holds
                    s.bind_ports(&id, |used: &[PortBinding]| -> Chosen {
                        let p = (20000..)
                            .find(|p| !used.iter().any(|u| u.host_port == *p))
                            .unwrap();
                        Ok(vec![b("0.0.0.0", p, "tcp")])
                    })
                    .unwrap()
                    .unwrap()[0]
                        .host_port
                })
            })
            .collect();
        let mut all: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 20, "{all:?}");
    }
}
