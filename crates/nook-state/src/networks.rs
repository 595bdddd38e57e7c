//! Networks, the containers' endpoints on them, and the addresses each
//! endpoint holds.
//!
//! An address is a row keyed by (network, address): two containers can
//! never be given one address, whatever processes race, because the
//! choice and the insert happen in one write transaction
//! ([`State::attach_endpoint`] calls the caller's chooser with the
//! addresses in use, inside it). Endpoints and addresses go with their
//! container's row (cascade), so `rm`, a failed create and the clean-up
//! after a crash free addresses by removing the container; a network
//! cannot be removed while an endpoint is on it (no cascade).

use crate::{sql, Error, Result, State};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::{BTreeMap, BTreeSet};

/// One subnet of a network (its IPAM configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubnetConfig {
    /// `10.88.0.0/16`, `fd00::/64`.
    pub subnet: String,
    /// The bridge's address in it.
    pub gateway: String,
    /// `--ip-range`: where container addresses are taken from (the whole
    /// subnet when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
}

/// A network to record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewNetwork {
    /// Its name (unique).
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// `bridge`.
    pub driver: String,
    /// The Linux bridge's name (unique).
    pub bridge: String,
    /// Its subnets (IPv4 first, then IPv6).
    pub subnets: Vec<SubnetConfig>,
    /// `--internal`: no way out.
    pub internal: bool,
    /// `--ipv6`.
    pub ipv6: bool,
    /// `--label k=v`.
    pub labels: BTreeMap<String, String>,
    /// `-o k=v` (the driver's options).
    pub options: BTreeMap<String, String>,
}

/// A recorded network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRecord {
    /// What was recorded.
    pub network: NewNetwork,
    /// When, Unix nanoseconds.
    pub created: i64,
}

/// A container's place on a network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// The container.
    pub container_id: String,
    /// The network's name.
    pub network: String,
    /// Its interface in the container (`eth0`).
    pub ifname: String,
    /// Its MAC address.
    pub mac: String,
    /// `--network-alias` names.
    pub aliases: Vec<String>,
    /// Its addresses on the network (no prefix length).
    pub addresses: Vec<String>,
}

const COLUMNS: &str = "name, id, driver, bridge, subnets, internal, ipv6, labels, options, created";

type Raw = (NetworkRecord, String, String, String);

fn from_row(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        NetworkRecord {
            network: NewNetwork {
                name: r.get(0)?,
                id: r.get(1)?,
                driver: r.get(2)?,
                bridge: r.get(3)?,
                subnets: Vec::new(),
                internal: r.get::<_, i64>(5)? != 0,
                ipv6: r.get::<_, i64>(6)? != 0,
                labels: BTreeMap::new(),
                options: BTreeMap::new(),
            },
            created: r.get(9)?,
        },
        r.get(4)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn json<T: serde::de::DeserializeOwned>(text: String, what: &'static str) -> Result<T> {
    serde_json::from_str(&text).map_err(|_| Error::Corrupt { what, value: text })
}

fn query(c: &Connection, filter: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<NetworkRecord>> {
    let q = format!("SELECT {COLUMNS} FROM networks {filter}");
    let mut st = c.prepare(&q).map_err(sql("query networks"))?;
    let rows = st
        .query_map(p, from_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("query networks"))?;
    rows.into_iter()
        .map(|(mut rec, subnets, labels, options)| {
            rec.network.subnets = json(subnets, "network subnets")?;
            rec.network.labels = json(labels, "network labels")?;
            rec.network.options = json(options, "network options")?;
            Ok(rec)
        })
        .collect()
}

fn endpoints(c: &Connection, filter: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<Endpoint>> {
    let q = format!(
        "SELECT container_id, network, ifname, mac, aliases FROM endpoints {filter}
         ORDER BY container_id, ifname"
    );
    let mut st = c.prepare(&q).map_err(sql("query endpoints"))?;
    let rows = st
        .query_map(p, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("query endpoints"))?;
    let mut out = Vec::new();
    for (container_id, network, ifname, mac, aliases) in rows {
        let mut st = c
            .prepare_cached(
                "SELECT address FROM addresses WHERE container_id = ?1 AND network = ?2
                 ORDER BY address",
            )
            .map_err(sql("query addresses"))?;
        let addresses = st
            .query_map(params![container_id, network], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(sql("query addresses"))?;
        out.push(Endpoint {
            aliases: json(aliases, "endpoint aliases")?,
            container_id,
            network,
            ifname,
            mac,
            addresses,
        });
    }
    Ok(out)
}

impl State {
    /// Record `n` made at `created`; [`Error::NetworkExists`] when its
    /// name (or its bridge's) is taken.
    pub fn insert_network(&self, n: &NewNetwork, created: i64) -> Result<()> {
        let (subnets, labels, options) =
            (to_json(&n.subnets), to_json(&n.labels), to_json(&n.options));
        self.write(|tx| {
            let taken: Option<String> = tx
                .query_row(
                    "SELECT name FROM networks WHERE name = ?1 OR bridge = ?2",
                    params![n.name, n.bridge],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("record a network"))?;
            if let Some(name) = taken {
                return Err(Error::NetworkExists(name));
            }
            tx.execute(
                "INSERT INTO networks (name, id, driver, bridge, subnets, internal, ipv6, labels,
                                       options, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    n.name,
                    n.id,
                    n.driver,
                    n.bridge,
                    subnets,
                    n.internal as i64,
                    n.ipv6 as i64,
                    labels,
                    options,
                    created
                ],
            )
            .map_err(sql("record a network"))?;
            Ok(())
        })
    }

    /// The network named `word`, or whose id is or starts with it.
    pub fn network(&self, word: &str) -> Result<NetworkRecord> {
        let found = self.read(|c| {
            let by_name = query(c, "WHERE name = ?1", &[&word])?;
            if !by_name.is_empty() {
                return Ok(by_name);
            }
            let prefix = format!("{}%", word.replace(['%', '_'], ""));
            query(c, "WHERE id LIKE ?1", &[&prefix])
        })?;
        match found.len() {
            1 => Ok(found.into_iter().next().unwrap_or_else(|| unreachable!())),
            0 => Err(Error::NoSuchNetwork(word.to_string())),
            n => Err(Error::AmbiguousNetwork {
                prefix: word.to_string(),
                count: n,
            }),
        }
    }

    /// Every network, by name.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>> {
        self.read(|c| query(c, "ORDER BY name", &[]))
    }

    /// Remove network `name`: [`Error::NetworkInUse`] while a container
    /// has an endpoint on it.
    pub fn remove_network(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let users = endpoints(tx, "WHERE network = ?1", &[&name])?;
            if !users.is_empty() {
                let ids: BTreeSet<String> = users.into_iter().map(|e| e.container_id).collect();
                return Err(Error::NetworkInUse {
                    name: name.to_string(),
                    containers: ids.into_iter().collect::<Vec<_>>().join(", "),
                });
            }
            let n = tx
                .execute("DELETE FROM networks WHERE name = ?1", params![name])
                .map_err(sql("remove a network"))?;
            match n {
                0 => Err(Error::NoSuchNetwork(name.to_string())),
                _ => Ok(()),
            }
        })
    }

    /// Put container `e.container_id` on network `e.network`, with the
    /// addresses `choose` picks given those in use on the network (its
    /// result replaces `e.addresses`), all in one transaction: no other
    /// process can take them meanwhile. [`Error::AddressInUse`] if
    /// `choose` picks one in use; [`Error::EndpointExists`] if the
    /// container is on the network already.
    pub fn attach_endpoint<F>(&self, e: &Endpoint, choose: F) -> Result<Endpoint>
    where
        F: FnOnce(&NetworkRecord, &BTreeSet<String>) -> Result<Vec<String>>,
    {
        self.write(|tx| {
            let net = query(tx, "WHERE name = ?1", &[&e.network])?
                .into_iter()
                .next()
                .ok_or_else(|| Error::NoSuchNetwork(e.network.clone()))?;
            let on = endpoints(
                tx,
                "WHERE network = ?1 AND container_id = ?2",
                &[&e.network, &e.container_id],
            )?;
            if !on.is_empty() {
                return Err(Error::EndpointExists {
                    container: e.container_id.clone(),
                    network: e.network.clone(),
                });
            }
            let used = used_addresses(tx, &e.network)?;
            let addresses = choose(&net, &used)?;
            let aliases = to_json(&e.aliases);
            tx.execute(
                "INSERT INTO endpoints (container_id, network, ifname, mac, aliases)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![e.container_id, e.network, e.ifname, e.mac, aliases],
            )
            .map_err(sql("record an endpoint"))?;
            for a in &addresses {
                if used.contains(a) {
                    return Err(Error::AddressInUse {
                        address: a.clone(),
                        network: e.network.clone(),
                    });
                }
                tx.execute(
                    "INSERT INTO addresses (network, address, container_id) VALUES (?1, ?2, ?3)",
                    params![e.network, a, e.container_id],
                )
                .map_err(sql("record an address"))?;
            }
            Ok(Endpoint {
                addresses,
                ..e.clone()
            })
        })
    }

    /// Take container `container` off network `network` (its addresses
    /// freed); whether it was on it.
    pub fn detach_endpoint(&self, container: &str, network: &str) -> Result<bool> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM addresses WHERE container_id = ?1 AND network = ?2",
                params![container, network],
            )
            .map_err(sql("free addresses"))?;
            let n = tx
                .execute(
                    "DELETE FROM endpoints WHERE container_id = ?1 AND network = ?2",
                    params![container, network],
                )
                .map_err(sql("remove an endpoint"))?;
            Ok(n > 0)
        })
    }

    /// The endpoints of container `id`, by interface.
    pub fn container_endpoints(&self, id: &str) -> Result<Vec<Endpoint>> {
        self.read(|c| endpoints(c, "WHERE container_id = ?1", &[&id]))
    }

    /// Every endpoint, by container and interface.
    pub fn all_endpoints(&self) -> Result<Vec<Endpoint>> {
        self.read(|c| endpoints(c, "", &[]))
    }

    /// The endpoints on network `name`.
    pub fn network_endpoints(&self, name: &str) -> Result<Vec<Endpoint>> {
        self.read(|c| endpoints(c, "WHERE network = ?1", &[&name]))
    }
}

fn used_addresses(c: &Connection, network: &str) -> Result<BTreeSet<String>> {
    let mut st = c
        .prepare("SELECT address FROM addresses WHERE network = ?1")
        .map_err(sql("query addresses"))?;
    let used = st
        .query_map(params![network], |r| r.get(0))
        .and_then(|rows| rows.collect::<Result<BTreeSet<String>, _>>())
        .map_err(sql("query addresses"))?;
    Ok(used)
}

/// `v` as JSON text.
fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, bridge: &str) -> NewNetwork {
        NewNetwork {
            name: name.into(),
            id: format!("{:0<64}", name.len()),
            driver: "bridge".into(),
            bridge: bridge.into(),
            subnets: vec![SubnetConfig {
                subnet: "10.90.0.0/24".into(),
                gateway: "10.90.0.1".into(),
                ip_range: String::new(),
            }],
            labels: BTreeMap::from([("k".into(), "v".into())]),
            ..Default::default()
        }
    }

    use crate::test_support::container;

    fn endpoint(id: &str, network: &str) -> Endpoint {
        Endpoint {
            container_id: id.into(),
            network: network.into(),
            ifname: "eth0".into(),
            mac: "02:00:00:00:00:01".into(),
            aliases: vec!["web".into()],
            addresses: vec![],
        }
    }

    /// The lowest free address of 10.90.0.2..=10.90.0.254.
    fn lowest(_: &NetworkRecord, used: &BTreeSet<String>) -> Result<Vec<String>> {
        let free = (2..=254)
            .map(|i| format!("10.90.0.{i}"))
            .find(|a| !used.contains(a))
            .expect("a free address");
        Ok(vec![free])
    }

    #[test]
    fn networks_are_named_once_found_by_id_prefix_and_kept_while_used() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path().join("nook.db")).unwrap();
        s.insert_network(&net("front", "nk-front"), 5).unwrap();
        let e = s.insert_network(&net("front", "nk-other"), 6).unwrap_err();
        assert!(
            matches!(e, Error::NetworkExists(ref n) if n == "front"),
            "{e}"
        );
        let e = s.insert_network(&net("back", "nk-front"), 6).unwrap_err();
        assert!(matches!(e, Error::NetworkExists(_)), "{e}");
        s.insert_network(&net("backend", "nk-back"), 6).unwrap();
        let r = s.network("front").unwrap();
        assert_eq!(
            (r.created, r.network.subnets[0].gateway.as_str()),
            (5, "10.90.0.1")
        );
        assert_eq!(r.network.labels["k"], "v");
        assert_eq!(s.network("7").unwrap().network.name, "backend");
        assert!(matches!(s.network("nope"), Err(Error::NoSuchNetwork(_))));
        let names: Vec<String> = s
            .networks()
            .unwrap()
            .into_iter()
            .map(|n| n.network.name)
            .collect();
        assert_eq!(names, ["backend", "front"]);

        container(&s, "a1");
        let ep = s.attach_endpoint(&endpoint("a1", "front"), lowest).unwrap();
        assert_eq!(ep.addresses, ["10.90.0.2"]);
        let e = s
            .attach_endpoint(&endpoint("a1", "front"), lowest)
            .unwrap_err();
        assert!(matches!(e, Error::EndpointExists { .. }), "{e}");
        let e = s.remove_network("front").unwrap_err();
        assert!(
            matches!(e, Error::NetworkInUse { .. }) && e.to_string().contains("a1"),
            "{e}"
        );
        // a chooser that picks an address in use is refused, nothing kept
        container(&s, "b2");
        let e = s
            .attach_endpoint(&endpoint("b2", "front"), |_, _| {
                Ok(vec!["10.90.0.2".into()])
            })
            .unwrap_err();
        assert!(matches!(e, Error::AddressInUse { .. }), "{e}");
        assert!(s.container_endpoints("b2").unwrap().is_empty());
        let got = s.network_endpoints("front").unwrap();
        assert_eq!((got.len(), got[0].aliases[0].as_str()), (1, "web"));
        // removing the container frees its address and endpoint
        s.remove_container("a1").unwrap();
        assert!(s.network_endpoints("front").unwrap().is_empty());
        let ep = s.attach_endpoint(&endpoint("b2", "front"), lowest).unwrap();
        assert_eq!(ep.addresses, ["10.90.0.2"]);
        assert!(s.detach_endpoint("b2", "front").unwrap());
        assert!(!s.detach_endpoint("b2", "front").unwrap());
        s.remove_network("front").unwrap();
        assert!(matches!(
            s.remove_network("front"),
            Err(Error::NoSuchNetwork(_))
        ));
    }

    #[test]
    fn concurrent_attaches_from_separate_connections_never_share_an_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nook.db");
        let s = State::open(&path).unwrap();
        s.insert_network(&net("front", "nk-front"), 5).unwrap();
        let ids: Vec<String> = (0..20).map(|i| format!("c{i:02}")).collect();
        for id in &ids {
            container(&s, id);
        }
        let threads: Vec<_> = ids
            .iter()
            .map(|id| {
                let (path, id) = (path.clone(), id.clone());
                std::thread::spawn(move || {
                    // its own connection, as another process has
                    let s = State::open(&path).unwrap();
                    s.attach_endpoint(&endpoint(&id, "front"), lowest)
                        .unwrap()
                        .addresses
                })
            })
            .collect();
        let mut all: Vec<String> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 20, "{all:?}");
    }
}
