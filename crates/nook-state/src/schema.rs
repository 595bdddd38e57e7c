//! The schema, versioned with SQLite's `user_version`: each migration is
//! applied once, in order, inside one transaction, so a database is always
//! at one version.  A later version (issue 14: containers, and the image
//! each uses) is appended to [`MIGRATIONS`], never edited into an earlier
//! one.

use crate::{sql, Error, Result};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// The migrations; `MIGRATIONS[n]` takes the schema from version `n` to
/// `n + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// Version 1: images, the layers and blobs they use, tags and repository
/// digests.  Digests are `algorithm:hex` text; times are Unix seconds.
const V1: &str = "
CREATE TABLE images (
    id                  TEXT PRIMARY KEY,   -- the config's digest
    manifest_digest     TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    size                INTEGER NOT NULL,   -- uncompressed layers + config
    created             INTEGER,            -- from the config, if it says
    added               INTEGER NOT NULL,   -- when this store got it
    os                  TEXT NOT NULL,
    architecture        TEXT NOT NULL
) STRICT;

-- unpacked layers (nook-storage's, by chain id) that some image uses
CREATE TABLE layers (
    chain_id TEXT PRIMARY KEY,
    diff_id  TEXT NOT NULL,
    parent   TEXT,
    size     INTEGER NOT NULL                -- its uncompressed tar's length
) STRICT;

CREATE TABLE image_layers (
    image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,            -- 0 = bottom
    chain_id    TEXT NOT NULL REFERENCES layers(chain_id),
    blob_digest TEXT NOT NULL,               -- the (compressed) layer blob
    PRIMARY KEY (image_id, position)
) STRICT;
CREATE INDEX image_layers_by_chain ON image_layers(chain_id);

-- every blob (manifest, config, layers, index) an image keeps in the store
CREATE TABLE image_blobs (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest   TEXT NOT NULL,
    size     INTEGER NOT NULL,
    PRIMARY KEY (image_id, digest)
) STRICT;
CREATE INDEX image_blobs_by_digest ON image_blobs(digest);

CREATE TABLE tags (
    repository TEXT NOT NULL,                -- docker.io/library/busybox
    tag        TEXT NOT NULL,
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (repository, tag)
) STRICT;
CREATE INDEX tags_by_image ON tags(image_id);

CREATE TABLE repo_digests (
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,                -- the manifest's or index's
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (repository, digest)
) STRICT;
CREATE INDEX repo_digests_by_image ON repo_digests(image_id);
";

/// Version 2: containers.  The image a container uses is named by id
/// (no cascade: `rmi` refuses an image in use, and `rmi -f` only untags
/// it); names are unique; times are Unix nanoseconds; `config` is the OCI
/// runtime spec built for it (JSON).
const V2: &str = "
CREATE TABLE containers (
    id          TEXT PRIMARY KEY,           -- 64 hex digits
    name        TEXT NOT NULL UNIQUE,
    image_id    TEXT NOT NULL REFERENCES images(id),
    image_name  TEXT NOT NULL,              -- as the user gave it
    config      TEXT NOT NULL,              -- the OCI runtime spec
    status      TEXT NOT NULL,              -- created | running | exited
    created     INTEGER NOT NULL,
    started     INTEGER,
    finished    INTEGER,
    exit_code   INTEGER,
    pid         INTEGER,
    monitor_pid INTEGER,
    log_path    TEXT NOT NULL,
    auto_remove INTEGER NOT NULL
) STRICT;
CREATE INDEX containers_by_image ON containers(image_id);
";

/// Version 3: what the exit command of a detached container needs for
/// `--restart`: how often it was restarted, and whether a stop was asked
/// (a stopped container is not restarted).  `status` may now also be
/// `restarting` (its exit recorded, a restart pending).
const V3: &str = "
ALTER TABLE containers ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE containers ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;
";

/// Version 4: volumes, and which containers use them.  A volume a
/// container uses cannot be removed (no cascade from `volumes`); removing
/// the container removes its uses.  `labels` and `options` are JSON
/// objects; `anonymous` marks the ones made for a container (removed by
/// `rm -v`).
const V4: &str = "
CREATE TABLE volumes (
    name      TEXT PRIMARY KEY,
    driver    TEXT NOT NULL,
    created   INTEGER NOT NULL,             -- Unix nanoseconds
    labels    TEXT NOT NULL,
    options   TEXT NOT NULL,
    anonymous INTEGER NOT NULL
) STRICT;

CREATE TABLE container_volumes (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    volume       TEXT NOT NULL REFERENCES volumes(name),
    PRIMARY KEY (container_id, volume)
) STRICT;
CREATE INDEX container_volumes_by_volume ON container_volumes(volume);
";

/// Version 5: networks, containers' endpoints on them and the addresses
/// endpoints hold.  (network, address) is the key of an address: no two
/// containers get one; endpoints and addresses go with their container;
/// a network with endpoints cannot be removed.  `subnets`, `labels`,
/// `options`, `aliases` are JSON.
const V5: &str = "
CREATE TABLE networks (
    name     TEXT PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,          -- 64 hex digits
    driver   TEXT NOT NULL,
    bridge   TEXT NOT NULL UNIQUE,          -- the Linux bridge
    subnets  TEXT NOT NULL,
    internal INTEGER NOT NULL,
    ipv6     INTEGER NOT NULL,
    labels   TEXT NOT NULL,
    options  TEXT NOT NULL,
    created  INTEGER NOT NULL               -- Unix nanoseconds
) STRICT;
CREATE TABLE endpoints (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    network      TEXT NOT NULL REFERENCES networks(name),
    ifname       TEXT NOT NULL,             -- eth0, eth1, ...
    mac          TEXT NOT NULL,
    aliases      TEXT NOT NULL,
    PRIMARY KEY (container_id, network)
) STRICT;
CREATE INDEX endpoints_by_network ON endpoints(network);
CREATE TABLE addresses (
    network      TEXT NOT NULL,
    address      TEXT NOT NULL,             -- no prefix length
    container_id TEXT NOT NULL,
    PRIMARY KEY (network, address),
    FOREIGN KEY (container_id, network) REFERENCES endpoints(container_id, network) ON DELETE CASCADE
) STRICT;
CREATE INDEX addresses_by_container ON addresses(container_id);
";

/// Version 6: the host ports published containers hold.  One row per
/// (host address, host port, protocol) — `0.0.0.0` and `::` stand for
/// every address of their family — unique, so no two containers hold one;
/// rows go with their container (and are freed when it stops).
const V6: &str = "
CREATE TABLE port_bindings (
    container_id   TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    host_ip        TEXT NOT NULL,
    host_port      INTEGER NOT NULL,
    protocol       TEXT NOT NULL,           -- tcp, udp, sctp
    container_port INTEGER NOT NULL,
    UNIQUE (host_ip, host_port, protocol)
) STRICT;
CREATE INDEX port_bindings_by_container ON port_bindings(container_id);
";

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Bring the database up to [`current_version`]; two processes doing it at
/// once queue on the write lock and the second finds nothing to do.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let version = |c: &Connection| -> Result<i64> {
        c.pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|source| Error::Open {
                path: path.to_path_buf(),
                source,
            })
    };
    let known = current_version();
    if version(conn)? == known {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("begin the schema migration"))?;
    let found = version(&tx)?;
    if found > known {
        return Err(Error::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(step).map_err(sql("migrate the schema"))?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(sql("migrate the schema"))?;
    }
    tx.commit().map_err(sql("commit the schema migration"))
}
