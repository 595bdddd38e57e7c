//! Volumes: record (once, by name), look up, list, remove, and which
//! containers use each.  A volume's content lives in the engine's
//! `<root>/volumes/<name>/_data`; this table only knows about it.  The
//! uses of a volume are rows that name a container and the volume: the
//! volume cannot be removed while one exists (the foreign key has no
//! cascade), and they go with the container's row.

use crate::{sql, Error, Result, State};
use rusqlite::{params, Connection, Row};
use std::collections::BTreeMap;

/// A volume to record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewVolume {
    /// Its name (Docker's rule, or 64 hex digits for an anonymous one).
    pub name: String,
    /// Its driver (`local`).
    pub driver: String,
    /// `--label k=v`.
    pub labels: BTreeMap<String, String>,
    /// `-o k=v` (the driver's options).
    pub options: BTreeMap<String, String>,
    /// Made for one container (`-v /dst`, the image's `Volumes`).
    pub anonymous: bool,
}

/// A recorded volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeRecord {
    /// What was recorded.
    pub volume: NewVolume,
    /// When, Unix nanoseconds.
    pub created: i64,
}

const COLUMNS: &str = "name, driver, created, labels, options, anonymous";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(VolumeRecord, String, String)> {
    Ok((
        VolumeRecord {
            volume: NewVolume {
                name: r.get(0)?,
                driver: r.get(1)?,
                labels: BTreeMap::new(),
                options: BTreeMap::new(),
                anonymous: r.get::<_, i64>(5)? != 0,
            },
            created: r.get(2)?,
        },
        r.get(3)?,
        r.get(4)?,
    ))
}

fn map(text: String, what: &'static str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(&text).map_err(|_| Error::Corrupt { what, value: text })
}

fn query(c: &Connection, filter: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<VolumeRecord>> {
    let q = format!("SELECT {COLUMNS} FROM volumes {filter}");
    let mut st = c.prepare(&q).map_err(sql("query volumes"))?;
    let rows = st
        .query_map(p, from_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("query volumes"))?;
    rows.into_iter()
        .map(|(mut rec, labels, options)| {
            rec.volume.labels = map(labels, "volume labels")?;
            rec.volume.options = map(options, "volume options")?;
            Ok(rec)
        })
        .collect()
}

fn users(c: &Connection, name: &str) -> Result<Vec<String>> {
    let mut st = c
        .prepare(
            "SELECT container_id FROM container_volumes WHERE volume = ?1 ORDER BY container_id",
        )
        .map_err(sql("query volume uses"))?;
    let ids = st
        .query_map(params![name], |r| r.get(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(sql("query volume uses"))?;
    Ok(ids)
}

impl State {
    /// Record `v` made at `created`, unless a volume of that name exists;
    /// whether it was recorded now.
    pub fn insert_volume(&self, v: &NewVolume, created: i64) -> Result<bool> {
        let labels = serde_json::to_string(&v.labels).unwrap_or_else(|_| "{}".into());
        let options = serde_json::to_string(&v.options).unwrap_or_else(|_| "{}".into());
        self.write(|tx| {
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO volumes (name, driver, created, labels, options, anonymous)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![v.name, v.driver, created, labels, options, v.anonymous as i64],
                )
                .map_err(sql("record a volume"))?;
            Ok(n == 1)
        })
    }

    /// The volume named `name`, if recorded.
    pub fn volume(&self, name: &str) -> Result<Option<VolumeRecord>> {
        self.read(|c| query(c, "WHERE name = ?1", &[&name]))
            .map(|v| v.into_iter().next())
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<VolumeRecord>> {
        self.read(|c| query(c, "ORDER BY name", &[]))
    }

    /// The ids of the containers that use volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        self.read(|c| users(c, name))
    }

    /// The volumes container `id` uses.
    pub fn container_volumes(&self, id: &str) -> Result<Vec<String>> {
        self.read(|c| {
            let mut st = c
                .prepare(
                    "SELECT volume FROM container_volumes WHERE container_id = ?1 ORDER BY volume",
                )
                .map_err(sql("query volume uses"))?;
            let names = st
                .query_map(params![id], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
                .map_err(sql("query volume uses"))?;
            Ok(names)
        })
    }

    /// Record that container `id` uses `volumes` (each recorded).
    pub fn add_container_volumes(&self, id: &str, volumes: &[String]) -> Result<()> {
        if volumes.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            for v in volumes {
                tx.execute(
                    "INSERT OR IGNORE INTO container_volumes (container_id, volume) VALUES (?1, ?2)",
                    params![id, v],
                )
                .map_err(sql("record a volume use"))?;
            }
            Ok(())
        })
    }

    /// Forget volume `name`: [`Error::VolumeInUse`] when a container uses
    /// it, [`Error::NoSuchVolume`] when it is not recorded.
    pub fn remove_volume(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let ids = users(tx, name)?;
            if !ids.is_empty() {
                return Err(Error::VolumeInUse {
                    name: name.to_string(),
                    containers: ids.join(", "),
                });
            }
            let n = tx
                .execute("DELETE FROM volumes WHERE name = ?1", params![name])
                .map_err(sql("remove a volume"))?;
            match n {
                1 => Ok(()),
                _ => Err(Error::NoSuchVolume(name.to_string())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str, anonymous: bool) -> NewVolume {
        NewVolume {
            name: name.into(),
            driver: "local".into(),
            labels: BTreeMap::from([("a".into(), "b".into())]),
            options: BTreeMap::new(),
            anonymous,
        }
    }

    #[test]
    fn volumes_are_recorded_once_and_kept_while_used() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path().join("nook.db")).unwrap();
        assert!(s.insert_volume(&vol("data", false), 7).unwrap());
        assert!(!s.insert_volume(&vol("data", true), 8).unwrap());
        let r = s.volume("data").unwrap().unwrap();
        assert_eq!((r.created, r.volume.anonymous), (7, false));
        assert_eq!(r.volume.labels["a"], "b");
        let image = crate::Digest::try_from(format!("sha256:{}", "ab".repeat(32))).unwrap();
        let new = crate::NewImage {
            id: image.clone(),
            manifest_digest: image.clone(),
            manifest_media_type: "m".into(),
            size: 1,
            created: None,
            os: "linux".into(),
            architecture: "amd64".into(),
            layers: vec![],
            blobs: vec![],
        };
        s.record_image(&new, &[], &[]).unwrap();
        let id = "c".repeat(64);
        s.insert_container(&crate::NewContainer {
            id: id.clone(),
            name: "x".into(),
            image_id: image,
            image_name: "i".into(),
            config: "{}".into(),
            created: 1,
            log_path: "/l".into(),
            auto_remove: false,
        })
        .unwrap();
        s.add_container_volumes(&id, &["data".into()]).unwrap();
        assert_eq!(s.volume_users("data").unwrap(), vec![id.clone()]);
        assert_eq!(s.container_volumes(&id).unwrap(), vec!["data"]);
        let e = s.remove_volume("data").unwrap_err();
        assert!(matches!(e, Error::VolumeInUse { .. }), "{e}");
        s.remove_container(&id).unwrap();
        s.remove_volume("data").unwrap();
        assert!(matches!(
            s.remove_volume("data"),
            Err(Error::NoSuchVolume(_))
        ));
        assert!(s.volumes().unwrap().is_empty());
    }
}
