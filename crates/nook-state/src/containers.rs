//! Containers: record, look up (full id, unique name, id prefix), list,
//! the status changes of their life (running, exited) and removal.  Each
//! change is one transaction; a name is unique by the table's constraint,
//! so two commands asking for one name cannot both get it.

use crate::{parse_digest, sql, Digest, Error, Result, State};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::PathBuf;
use std::str::FromStr;

/// Where a container is in its life, as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerStatus {
    /// Recorded, its process not started (or its start failed).
    Created,
    /// Its process was started and no exit is recorded yet.
    Running,
    /// Its exit is recorded.
    Exited,
    /// Its exit is recorded and its restart policy will start it again.
    Restarting,
}

impl ContainerStatus {
    /// The name stored (and shown by `inspect`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Restarting => "restarting",
        }
    }

    fn parse(s: String) -> Result<ContainerStatus> {
        Ok(match s.as_str() {
            "created" => ContainerStatus::Created,
            "running" => ContainerStatus::Running,
            "exited" => ContainerStatus::Exited,
            "restarting" => ContainerStatus::Restarting,
            _ => {
                return Err(Error::Corrupt {
                    what: "container status",
                    value: s,
                })
            }
        })
    }
}

/// A container to record.
#[derive(Clone, Debug)]
pub struct NewContainer {
    /// 64 hex digits.
    pub id: String,
    /// Its unique name.
    pub name: String,
    /// The image it runs.
    pub image_id: Digest,
    /// The image as the user named it.
    pub image_name: String,
    /// The OCI runtime spec built for it (JSON).
    pub config: String,
    /// Creation time, Unix nanoseconds.
    pub created: i64,
    /// Its log file.
    pub log_path: PathBuf,
    /// Removed when it exits (`--rm`).
    pub auto_remove: bool,
}

/// A recorded container.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRecord {
    /// 64 hex digits.
    pub id: String,
    /// Its unique name.
    pub name: String,
    /// The image it runs.
    pub image_id: Digest,
    /// The image as the user named it.
    pub image_name: String,
    /// The OCI runtime spec built for it (JSON).
    pub config: String,
    /// Its recorded status.
    pub status: ContainerStatus,
    /// Creation time, Unix nanoseconds.
    pub created: i64,
    /// Last start, Unix nanoseconds.
    pub started: Option<i64>,
    /// Last exit, Unix nanoseconds.
    pub finished: Option<i64>,
    /// Last exit code (128+N for signal N).
    pub exit_code: Option<i32>,
    /// Its first process's pid (host namespace) while it runs.
    pub pid: Option<i32>,
    /// Its monitor's pid while it runs.
    pub monitor_pid: Option<i32>,
    /// Its log file.
    pub log_path: PathBuf,
    /// Removed when it exits (`--rm`).
    pub auto_remove: bool,
    /// How often its restart policy started it again.
    pub restart_count: i64,
    /// A stop was asked since it was last started by a user (its restart
    /// policy does not apply).
    pub stop_requested: bool,
}

impl ContainerRecord {
    /// The 12-hex short id.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

const COLUMNS: &str = "id, name, image_id, image_name, config, status, created, started,
    finished, exit_code, pid, monitor_pid, log_path, auto_remove, restart_count, stop_requested";

type Raw = (ContainerRecord, String, String);

/// A row as read: the record, with its image id and status still text.
fn from_row(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        ContainerRecord {
            id: r.get(0)?,
            name: r.get(1)?,
            image_id: Digest::from(oci_spec::image::Sha256Digest::from_str(ZERO).expect("hex")),
            image_name: r.get(3)?,
            config: r.get(4)?,
            status: ContainerStatus::Created,
            created: r.get(6)?,
            started: r.get(7)?,
            finished: r.get(8)?,
            exit_code: r.get(9)?,
            pid: r.get(10)?,
            monitor_pid: r.get(11)?,
            log_path: PathBuf::from(r.get::<_, String>(12)?),
            auto_remove: r.get::<_, i64>(13)? != 0,
            restart_count: r.get(14)?,
            stop_requested: r.get::<_, i64>(15)? != 0,
        },
        r.get(2)?,
        r.get(5)?,
    ))
}

/// A placeholder replaced by the row's parsed image id.
const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn query(c: &Connection, filter: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<ContainerRecord>> {
    let q = format!("SELECT {COLUMNS} FROM containers {filter}");
    let mut st = c.prepare(&q).map_err(sql("query containers"))?;
    let rows = st
        .query_map(p, from_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("query containers"))?;
    rows.into_iter()
        .map(|(mut rec, image, status)| {
            rec.image_id = parse_digest(image)?;
            rec.status = ContainerStatus::parse(status)?;
            Ok(rec)
        })
        .collect()
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl State {
    /// Record a new container; [`Error::NameInUse`] when its name is taken.
    pub fn insert_container(&self, c: &NewContainer) -> Result<()> {
        self.write(|tx| {
            let taken: Option<String> = tx
                .query_row(
                    "SELECT id FROM containers WHERE name = ?1",
                    params![c.name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("look up a container name"))?;
            if let Some(id) = taken {
                return Err(Error::NameInUse {
                    name: c.name.clone(),
                    id,
                });
            }
            tx.execute(
                "INSERT INTO containers (id, name, image_id, image_name, config, status, created,
                                         log_path, auto_remove)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'created', ?6, ?7, ?8)",
                params![
                    c.id,
                    c.name,
                    c.image_id.to_string(),
                    c.image_name,
                    c.config,
                    c.created,
                    c.log_path.to_string_lossy(),
                    c.auto_remove as i64
                ],
            )
            .map_err(sql("record a container"))?;
            Ok(())
        })
    }

    /// The container with full id `id`, if recorded.
    pub fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        self.read(|c| query(c, "WHERE id = ?1", &[&id]))
            .map(|v| v.into_iter().next())
    }

    /// The container a user's word names: a full id, a name, or a unique
    /// id prefix (in that order, as Docker resolves them).
    pub fn find_container(&self, word: &str) -> Result<ContainerRecord> {
        let word = word.strip_prefix('/').unwrap_or(word);
        self.read(|c| {
            let exact = query(
                c,
                "WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC",
                &[&word],
            )?;
            if let Some(r) = exact.into_iter().next() {
                return Ok(r);
            }
            if !is_hex(word) {
                return Err(Error::NoSuchContainer(word.to_string()));
            }
            let pattern = format!("{word}%");
            let mut found = query(c, "WHERE id LIKE ?1", &[&pattern])?;
            match found.len() {
                0 => Err(Error::NoSuchContainer(word.to_string())),
                1 => Ok(found.remove(0)),
                n => Err(Error::AmbiguousContainer {
                    prefix: word.to_string(),
                    count: n,
                }),
            }
        })
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        self.read(|c| query(c, "ORDER BY created DESC, id", &[]))
    }

    /// Every container's name (a generated name is checked against them).
    pub fn container_names(&self) -> Result<std::collections::HashSet<String>> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT name FROM containers")
                .map_err(sql("query container names"))?;
            let names = st
                .query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<_, _>>())
                .map_err(sql("query container names"))?;
            Ok(names)
        })
    }

    /// Record that the container's process runs as `pid`, watched by
    /// `monitor_pid`, since `started` (Unix nanoseconds).
    pub fn set_container_running(
        &self,
        id: &str,
        pid: i32,
        monitor_pid: i32,
        started: i64,
    ) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE containers SET status = 'running', pid = ?2, monitor_pid = ?3,
                        started = ?4, finished = NULL, exit_code = NULL WHERE id = ?1",
                    params![id, pid, monitor_pid, started],
                )
                .map_err(sql("record a container's start"))?;
            Ok(n == 1)
        })
    }

    /// Record the container's exit (`code`, at `finished`); false when it is
    /// no longer recorded.
    pub fn set_container_exited(&self, id: &str, code: i32, finished: i64) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE containers SET status = 'exited', exit_code = ?2, finished = ?3,
                        pid = NULL, monitor_pid = NULL WHERE id = ?1",
                    params![id, code, finished],
                )
                .map_err(sql("record a container's exit"))?;
            Ok(n == 1)
        })
    }

    /// Give the container `id` the name `name`; [`Error::NameInUse`] when
    /// another container has it, false when `id` is not recorded.
    pub fn rename_container(&self, id: &str, name: &str) -> Result<bool> {
        self.write(|tx| {
            let taken: Option<String> = tx
                .query_row(
                    "SELECT id FROM containers WHERE name = ?1 AND id != ?2",
                    params![name, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("look up a container name"))?;
            if let Some(other) = taken {
                return Err(Error::NameInUse {
                    name: name.to_string(),
                    id: other,
                });
            }
            let n = tx
                .execute(
                    "UPDATE containers SET name = ?2 WHERE id = ?1",
                    params![id, name],
                )
                .map_err(sql("rename a container"))?;
            Ok(n == 1)
        })
    }

    /// Set the container's OCI spec (JSON), once it is built, or with
    /// `update`'s new limits; false when it is no longer recorded.
    pub fn set_container_config(&self, id: &str, config: &str) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE containers SET config = ?2 WHERE id = ?1",
                    params![id, config],
                )
                .map_err(sql("record a container's config"))?;
            Ok(n == 1)
        })
    }

    /// Record that the container's restart policy will start it again
    /// (its exit already recorded): status `restarting`, watched by
    /// `monitor_pid` meanwhile, one more restart counted; false when it is
    /// no longer recorded.
    pub fn set_container_restarting(&self, id: &str, monitor_pid: i32) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE containers SET status = 'restarting', monitor_pid = ?2,
                        restart_count = restart_count + 1 WHERE id = ?1",
                    params![id, monitor_pid],
                )
                .map_err(sql("record a container's restart"))?;
            Ok(n == 1)
        })
    }

    /// Record whether a stop was asked (`stop` sets it: no restart
    /// follows; a start by the user clears it); false when it is no longer
    /// recorded.  A container waiting to restart is left exited.
    pub fn set_container_stop_requested(&self, id: &str, asked: bool) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE containers SET stop_requested = ?2,
                        status = CASE WHEN ?2 AND status = 'restarting' THEN 'exited'
                                      ELSE status END,
                        monitor_pid = CASE WHEN ?2 AND status = 'restarting' THEN NULL
                                      ELSE monitor_pid END
                     WHERE id = ?1",
                    params![id, asked as i64],
                )
                .map_err(sql("record a stop"))?;
            Ok(n == 1)
        })
    }

    /// Forget the container; whether it was recorded.
    pub fn remove_container(&self, id: &str) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .execute("DELETE FROM containers WHERE id = ?1", params![id])
                .map_err(sql("remove a container"))?;
            Ok(n == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn new(id: &str, name: &str, image: &Digest) -> NewContainer {
        NewContainer {
            id: id.into(),
            name: name.into(),
            image_id: image.clone(),
            image_name: "busybox".into(),
            config: "{}".into(),
            created: 1,
            log_path: "/x.log".into(),
            auto_remove: false,
        }
    }

    fn state_with_image() -> (tempfile::TempDir, State, Digest) {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path().join("nook.db")).unwrap();
        let image = Digest::try_from(format!("sha256:{}", "ab".repeat(32))).unwrap();
        let new = crate::NewImage {
            id: image.clone(),
            manifest_digest: image.clone(),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 1,
            created: None,
            os: "linux".into(),
            architecture: "amd64".into(),
            layers: vec![],
            blobs: vec![],
        };
        state.record_image(&new, &[], &[]).unwrap();
        (dir, state, image)
    }

    #[test]
    fn lookups_by_id_name_and_prefix() {
        let (_d, s, image) = state_with_image();
        let a = format!("abc{}", &hex('1')[3..]);
        let b = format!("abd{}", &hex('2')[3..]);
        s.insert_container(&new(&a, "first", &image)).unwrap();
        s.insert_container(&new(&b, "second", &image)).unwrap();
        assert_eq!(s.find_container(&a).unwrap().name, "first");
        assert_eq!(s.find_container("second").unwrap().id, b);
        assert_eq!(s.find_container("/second").unwrap().id, b);
        assert_eq!(s.find_container("abc").unwrap().id, a);
        assert!(matches!(
            s.find_container("ab"),
            Err(Error::AmbiguousContainer { count: 2, .. })
        ));
        assert!(matches!(
            s.find_container("nope"),
            Err(Error::NoSuchContainer(_))
        ));
        assert_eq!(s.image_users(&image).unwrap(), vec!["first", "second"]);
        assert_eq!(s.containers().unwrap().len(), 2);
    }

    #[test]
    fn names_are_unique() {
        let (_d, s, image) = state_with_image();
        s.insert_container(&new(&hex('a'), "web", &image)).unwrap();
        let e = s
            .insert_container(&new(&hex('b'), "web", &image))
            .unwrap_err();
        assert!(matches!(e, Error::NameInUse { .. }), "{e}");
        assert_eq!(e.to_string().lines().count(), 1);
        assert!(s.container(&hex('b')).unwrap().is_none());
    }

    #[test]
    fn life_is_recorded() {
        let (_d, s, image) = state_with_image();
        let id = hex('c');
        s.insert_container(&new(&id, "x", &image)).unwrap();
        assert!(s.set_container_config(&id, "{\"x\":1}").unwrap());
        assert_eq!(s.container(&id).unwrap().unwrap().config, "{\"x\":1}");
        assert!(s.set_container_running(&id, 42, 41, 5).unwrap());
        let r = s.container(&id).unwrap().unwrap();
        assert_eq!(
            (r.status, r.pid, r.monitor_pid),
            (ContainerStatus::Running, Some(42), Some(41))
        );
        assert!(s.set_container_exited(&id, 137, 9).unwrap());
        let r = s.container(&id).unwrap().unwrap();
        assert_eq!(
            (r.status, r.exit_code, r.finished, r.pid),
            (ContainerStatus::Exited, Some(137), Some(9), None)
        );
        s.insert_container(&new(&hex('d'), "y", &image)).unwrap();
        assert!(matches!(
            s.rename_container(&id, "y"),
            Err(Error::NameInUse { .. })
        ));
        assert!(s.rename_container(&id, "z").unwrap());
        assert_eq!(s.find_container("z").unwrap().id, id);
        assert!(s.find_container("x").is_err());
        assert!(s.remove_container(&hex('d')).unwrap());
        assert!(s.set_container_restarting(&id, 50).unwrap());
        let r = s.container(&id).unwrap().unwrap();
        assert_eq!(
            (r.status, r.exit_code, r.restart_count, r.monitor_pid),
            (ContainerStatus::Restarting, Some(137), 1, Some(50))
        );
        assert!(s.set_container_stop_requested(&id, true).unwrap());
        let r = s.container(&id).unwrap().unwrap();
        assert_eq!(
            (r.status, r.stop_requested, r.monitor_pid),
            (ContainerStatus::Exited, true, None)
        );
        assert!(s.set_container_config(&id, "{\"new\":1}").unwrap());
        assert_eq!(s.container(&id).unwrap().unwrap().config, "{\"new\":1}");
        assert!(s.remove_container(&id).unwrap());
        assert!(!s.set_container_exited(&id, 0, 10).unwrap());
        assert!(!s.set_container_stop_requested(&id, true).unwrap());
        assert!(!s.set_container_config(&id, "{}").unwrap());
        assert!(s.image_users(&image).unwrap().is_empty());
    }
}
