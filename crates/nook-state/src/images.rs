//! Images, their names and the content they use.
//!
//! An image is recorded whole in one transaction, with its layers (chain
//! id, diff id, blob), every blob it keeps and the names given to it; it
//! is removed in one transaction that says which blobs and layers no other
//! image uses any more, for the caller to free.  Names are full: the
//! repository as normalised (`docker.io/library/busybox`) and a tag, or a
//! repository and a manifest digest (`RepoDigests`).

use crate::{now, parse_digest, sql, Digest, Error, Result, State};
use rusqlite::{params, Connection, OptionalExtension};
use std::fmt;

/// A tag: a full repository name and a tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// The repository, normalised (`docker.io/library/busybox`).
    pub repository: String,
    /// The tag (`latest`).
    pub tag: String,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

/// A repository digest: the manifest (or index) an image was pulled by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RepoDigest {
    /// The repository, normalised.
    pub repository: String,
    /// The manifest's or index's digest.
    pub digest: Digest,
}

impl fmt::Display for RepoDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.repository, self.digest)
    }
}

/// One layer of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRecord {
    /// Its chain id (its name in the layer store).
    pub chain_id: Digest,
    /// Its diff id (digest of its uncompressed tar).
    pub diff_id: Digest,
    /// The chain id of the layer below, if any.
    pub parent: Option<Digest>,
    /// Its uncompressed tar's length.
    pub size: u64,
    /// The blob it was unpacked from.
    pub blob: Digest,
}

/// A blob an image keeps in the blob store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRef {
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
}

/// An image to record.
#[derive(Clone, Debug)]
pub struct NewImage {
    /// The image id: its config's digest.
    pub id: Digest,
    /// Its manifest's digest.
    pub manifest_digest: Digest,
    /// Its manifest's media type.
    pub manifest_media_type: String,
    /// Its size: uncompressed layers and config.
    pub size: u64,
    /// When it was made (its config's `created`), Unix seconds.
    pub created: Option<i64>,
    /// Its OS.
    pub os: String,
    /// Its architecture.
    pub architecture: String,
    /// Its layers, bottom first.
    pub layers: Vec<LayerRecord>,
    /// Every blob it keeps: manifest, config, layers (and an index).
    pub blobs: Vec<BlobRef>,
}

/// A recorded image.
#[derive(Clone, Debug)]
pub struct ImageRecord {
    /// The image id: its config's digest.
    pub id: Digest,
    /// Its manifest's digest.
    pub manifest_digest: Digest,
    /// Its manifest's media type.
    pub manifest_media_type: String,
    /// Its size: uncompressed layers and config.
    pub size: u64,
    /// When it was made, Unix seconds, if its config says.
    pub created: Option<i64>,
    /// When this store got it, Unix seconds.
    pub added: i64,
    /// Its OS.
    pub os: String,
    /// Its architecture.
    pub architecture: String,
    /// Its layers, bottom first.
    pub layers: Vec<LayerRecord>,
    /// Every blob it keeps.
    pub blobs: Vec<BlobRef>,
    /// Its tags, sorted.
    pub tags: Vec<Tag>,
    /// Its repository digests.
    pub repo_digests: Vec<RepoDigest>,
}

/// What [`State::record_image`] did.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// The image was not recorded before.
    pub new: bool,
    /// Tags that name this image now and did not before.
    pub tagged: Vec<Tag>,
    /// Of those, the ones that named another image before (its id).
    pub moved: Vec<(Tag, Digest)>,
}

/// What [`State::remove_image`] left unused: the caller frees it.
#[derive(Clone, Debug, Default)]
pub struct Freed {
    /// Blobs no remaining image keeps.
    pub blobs: Vec<BlobRef>,
    /// Layers (chain ids) no remaining image uses.
    pub layers: Vec<Digest>,
}

impl State {
    /// Record `image` (unless it is recorded already) and give it `tags`
    /// and `digests`, all in one transaction.  A tag that named another
    /// image now names this one.
    pub fn record_image(
        &self,
        image: &NewImage,
        tags: &[Tag],
        digests: &[RepoDigest],
    ) -> Result<Recorded> {
        self.write(|c| {
            let new = insert_image(c, image)?;
            let (mut tagged, mut moved) = (Vec::new(), Vec::new());
            for t in tags {
                match put_tag(c, t, &image.id)? {
                    TagChange::Unchanged => {}
                    TagChange::Added => tagged.push(t.clone()),
                    TagChange::Moved(old) => {
                        tagged.push(t.clone());
                        moved.push((t.clone(), old));
                    }
                }
            }
            for d in digests {
                c.execute(
                    "INSERT INTO repo_digests (repository, digest, image_id) VALUES (?1, ?2, ?3)
                     ON CONFLICT (repository, digest) DO UPDATE SET image_id = excluded.image_id",
                    params![d.repository, d.digest.to_string(), image.id.to_string()],
                )
                .map_err(sql("record a repository digest"))?;
            }
            Ok(Recorded { new, tagged, moved })
        })
    }

    /// The image `id`, if recorded.
    pub fn image(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        self.read(|c| load_image(c, id.as_ref()))
    }

    /// Every image, newest first.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT id FROM images ORDER BY COALESCE(created, added) DESC, id")
                .map_err(sql("list images"))?;
            let ids = st
                .query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sql("list images"))?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.extend(load_image(c, &id)?);
            }
            Ok(out)
        })
    }

    /// The image `tag` names.
    pub fn image_by_tag(&self, tag: &Tag) -> Result<Option<Digest>> {
        self.read(|c| {
            let id: Option<String> = c
                .query_row(
                    "SELECT image_id FROM tags WHERE repository = ?1 AND tag = ?2",
                    params![tag.repository, tag.tag],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("look up a tag"))?;
            id.map(parse_digest).transpose()
        })
    }

    /// The image a repository digest names.
    pub fn image_by_repo_digest(&self, d: &RepoDigest) -> Result<Option<Digest>> {
        self.read(|c| {
            let id: Option<String> = c
                .query_row(
                    "SELECT image_id FROM repo_digests WHERE repository = ?1 AND digest = ?2",
                    params![d.repository, d.digest.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("look up a repository digest"))?;
            id.map(parse_digest).transpose()
        })
    }

    /// The images whose id's hex starts with `prefix` (lowercase hex, with
    /// or without `sha256:`).
    pub fn images_by_id_prefix(&self, prefix: &str) -> Result<Vec<Digest>> {
        let hex = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let pattern = format!("sha256:{}%", hex.to_ascii_lowercase());
        self.read(|c| strings(c, "SELECT id FROM images WHERE id LIKE ?1", &[&pattern]))?
            .into_iter()
            .map(parse_digest)
            .collect()
    }

    /// Point `tag` at the image `id`; the image it named before, if another.
    pub fn set_tag(&self, tag: &Tag, id: &Digest) -> Result<Option<Digest>> {
        self.write(|c| match put_tag(c, tag, id)? {
            TagChange::Moved(old) => Ok(Some(old)),
            _ => Ok(None),
        })
    }

    /// Remove `tag`; false when there was none.
    pub fn remove_tag(&self, tag: &Tag) -> Result<bool> {
        self.write(|c| {
            let n = c
                .execute(
                    "DELETE FROM tags WHERE repository = ?1 AND tag = ?2",
                    params![tag.repository, tag.tag],
                )
                .map_err(sql("remove a tag"))?;
            Ok(n > 0)
        })
    }

    /// Remove a repository digest; false when there was none.
    pub fn remove_repo_digest(&self, d: &RepoDigest) -> Result<bool> {
        self.write(|c| {
            let n = c
                .execute(
                    "DELETE FROM repo_digests WHERE repository = ?1 AND digest = ?2",
                    params![d.repository, d.digest.to_string()],
                )
                .map_err(sql("remove a repository digest"))?;
            Ok(n > 0)
        })
    }

    /// Remove the image `id` with its names, in one transaction; what it
    /// used that no other image uses (for the caller to free).
    pub fn remove_image(&self, id: &Digest) -> Result<Freed> {
        self.write(|c| {
            let key = id.to_string();
            let Some(image) = load_image(c, &key)? else {
                return Err(Error::ImageNotFound(id.clone()));
            };
            c.execute("DELETE FROM images WHERE id = ?1", params![key])
                .map_err(sql("remove an image"))?;
            let mut freed = Freed::default();
            for b in image.blobs {
                let used = exists(c, "SELECT 1 FROM image_blobs WHERE digest = ?1", &b.digest)?;
                if !used {
                    freed.blobs.push(b);
                }
            }
            for l in image.layers {
                let q = "SELECT 1 FROM image_layers WHERE chain_id = ?1";
                if !exists(c, q, &l.chain_id)? && !freed.layers.contains(&l.chain_id) {
                    c.execute(
                        "DELETE FROM layers WHERE chain_id = ?1",
                        params![l.chain_id.to_string()],
                    )
                    .map_err(sql("remove a layer"))?;
                    freed.layers.push(l.chain_id);
                }
            }
            Ok(freed)
        })
    }

    /// Every blob some image keeps.
    pub fn referenced_blobs(&self) -> Result<Vec<Digest>> {
        let q = "SELECT DISTINCT digest FROM image_blobs ORDER BY digest";
        self.read(|c| strings(c, q, &[]))?
            .into_iter()
            .map(parse_digest)
            .collect()
    }

    /// Every layer (chain id) some image uses.
    pub fn referenced_layers(&self) -> Result<Vec<Digest>> {
        let q = "SELECT DISTINCT chain_id FROM image_layers ORDER BY chain_id";
        self.read(|c| strings(c, q, &[]))?
            .into_iter()
            .map(parse_digest)
            .collect()
    }

    /// The names of the containers that use the image `id` (which `rmi`
    /// refuses to remove without force), sorted.
    pub fn image_users(&self, id: &Digest) -> Result<Vec<String>> {
        let q = "SELECT name FROM containers WHERE image_id = ?1 ORDER BY name";
        self.read(|c| strings(c, q, &[&id.to_string()]))
    }
}

/// Insert the image, its layers and blobs; whether it is new.
fn insert_image(c: &Connection, image: &NewImage) -> Result<bool> {
    let id = image.id.to_string();
    let n = c
        .execute(
            "INSERT INTO images (id, manifest_digest, manifest_media_type, size, created, added,
                                 os, architecture)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
            params![
                id,
                image.manifest_digest.to_string(),
                image.manifest_media_type,
                image.size as i64,
                image.created,
                now(),
                image.os,
                image.architecture
            ],
        )
        .map_err(sql("record an image"))?;
    for (i, l) in image.layers.iter().enumerate() {
        c.execute(
            "INSERT INTO layers (chain_id, diff_id, parent, size) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (chain_id) DO NOTHING",
            params![
                l.chain_id.to_string(),
                l.diff_id.to_string(),
                l.parent.as_ref().map(|p| p.to_string()),
                l.size as i64
            ],
        )
        .map_err(sql("record a layer"))?;
        c.execute(
            "INSERT INTO image_layers (image_id, position, chain_id, blob_digest)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![id, i as i64, l.chain_id.to_string(), l.blob.to_string()],
        )
        .map_err(sql("record an image's layer"))?;
    }
    for b in &image.blobs {
        c.execute(
            "INSERT INTO image_blobs (image_id, digest, size) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![id, b.digest.to_string(), b.size as i64],
        )
        .map_err(sql("record an image's blob"))?;
    }
    Ok(n == 1)
}

/// What pointing a tag at an image changed.
enum TagChange {
    /// It named the image already.
    Unchanged,
    /// It is new.
    Added,
    /// It named this other image.
    Moved(Digest),
}

/// Point `tag` at `id`.
fn put_tag(c: &Connection, tag: &Tag, id: &Digest) -> Result<TagChange> {
    let key = id.to_string();
    if !exists(c, "SELECT 1 FROM images WHERE id = ?1", id)? {
        return Err(Error::ImageNotFound(id.clone()));
    }
    let old: Option<String> = c
        .query_row(
            "SELECT image_id FROM tags WHERE repository = ?1 AND tag = ?2",
            params![tag.repository, tag.tag],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("look up a tag"))?;
    c.execute(
        "INSERT INTO tags (repository, tag, image_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (repository, tag) DO UPDATE SET image_id = excluded.image_id",
        params![tag.repository, tag.tag, key],
    )
    .map_err(sql("record a tag"))?;
    match old {
        None => Ok(TagChange::Added),
        Some(o) if o == key => Ok(TagChange::Unchanged),
        Some(o) => Ok(TagChange::Moved(parse_digest(o)?)),
    }
}

fn exists(c: &Connection, query: &str, digest: &Digest) -> Result<bool> {
    c.query_row(query, params![digest.to_string()], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
        .map_err(sql("look up a reference"))
}

/// The first column of every row of `query`.
fn strings(c: &Connection, query: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<String>> {
    let mut st = c.prepare(query).map_err(sql("query"))?;
    st.query_map(params, |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("query"))
}

/// The image `id` with its layers, blobs and names.
fn load_image(c: &Connection, id: &str) -> Result<Option<ImageRecord>> {
    let row = c
        .query_row(
            "SELECT manifest_digest, manifest_media_type, size, created, added, os, architecture
             FROM images WHERE id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
        )
        .optional()
        .map_err(sql("read an image"))?;
    let Some((manifest, media_type, size, created, added, os, architecture)) = row else {
        return Ok(None);
    };
    Ok(Some(ImageRecord {
        id: parse_digest(id.to_string())?,
        manifest_digest: parse_digest(manifest)?,
        manifest_media_type: media_type,
        size: size as u64,
        created,
        added,
        os,
        architecture,
        layers: load_layers(c, id)?,
        blobs: load_blobs(c, id)?,
        tags: load_tags(c, id)?,
        repo_digests: load_repo_digests(c, id)?,
    }))
}

fn load_layers(c: &Connection, id: &str) -> Result<Vec<LayerRecord>> {
    let mut st = c
        .prepare(
            "SELECT l.chain_id, l.diff_id, l.parent, l.size, il.blob_digest
             FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id
             WHERE il.image_id = ?1 ORDER BY il.position",
        )
        .map_err(sql("read an image's layers"))?;
    let rows = st
        .query_map(params![id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("read an image's layers"))?;
    rows.into_iter()
        .map(|(chain, diff, parent, size, blob)| {
            Ok(LayerRecord {
                chain_id: parse_digest(chain)?,
                diff_id: parse_digest(diff)?,
                parent: parent.map(parse_digest).transpose()?,
                size: size as u64,
                blob: parse_digest(blob)?,
            })
        })
        .collect()
}

fn load_blobs(c: &Connection, id: &str) -> Result<Vec<BlobRef>> {
    let mut st = c
        .prepare("SELECT digest, size FROM image_blobs WHERE image_id = ?1 ORDER BY digest")
        .map_err(sql("read an image's blobs"))?;
    let rows = st
        .query_map(params![id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("read an image's blobs"))?;
    rows.into_iter()
        .map(|(d, size)| {
            Ok(BlobRef {
                digest: parse_digest(d)?,
                size: size as u64,
            })
        })
        .collect()
}

fn load_tags(c: &Connection, id: &str) -> Result<Vec<Tag>> {
    let mut st = c
        .prepare("SELECT repository, tag FROM tags WHERE image_id = ?1 ORDER BY repository, tag")
        .map_err(sql("read an image's tags"))?;
    let rows = st
        .query_map(params![id], |r| {
            Ok(Tag {
                repository: r.get(0)?,
                tag: r.get(1)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("read an image's tags"))?;
    Ok(rows)
}

fn load_repo_digests(c: &Connection, id: &str) -> Result<Vec<RepoDigest>> {
    let mut st = c
        .prepare(
            "SELECT repository, digest FROM repo_digests WHERE image_id = ?1
             ORDER BY repository, digest",
        )
        .map_err(sql("read an image's repository digests"))?;
    let rows = st
        .query_map(params![id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql("read an image's repository digests"))?;
    rows.into_iter()
        .map(|(repository, d)| {
            Ok(RepoDigest {
                repository,
                digest: parse_digest(d)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
