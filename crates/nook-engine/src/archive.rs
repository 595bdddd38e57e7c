//! `load` (a `docker save` tar, an OCI layout as a tar or a directory),
//! `save` (`oci-archive` or `docker-archive`) and `import` (a root file
//! system tarball as a one-layer image).
//!
//! Load and import write blobs whose digests are known only as they are
//! read, so they hold `engine.lock` exclusive: when one fails (a corrupt
//! archive, a hostile layer), what it added and no image uses is removed
//! again, and nothing of it is left.  Save holds it shared (no rmi frees a
//! blob it is writing).

use crate::names::{tag_of, ImageName};
use crate::progress::NoProgress;
use crate::unpack::new_image;
use crate::{Engine, Error, Result};
use nook_image::{Digest, Image, Platform, Reference, SaveImage};
use nook_state::Tag;
use serde_json::json;
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

/// The format `save` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveFormat {
    /// An OCI image layout in a tar (`podman save --format oci-archive`).
    OciArchive,
    /// A `docker save` tar.
    DockerArchive,
}

impl std::str::FromStr for SaveFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<SaveFormat> {
        match s {
            "oci-archive" => Ok(SaveFormat::OciArchive),
            "docker-archive" => Ok(SaveFormat::DockerArchive),
            _ => Err(Error::invalid(
                "format",
                s,
                "want oci-archive or docker-archive",
            )),
        }
    }
}

/// One image `load` brought in.
#[derive(Clone, Debug)]
pub struct LoadedImage {
    /// Its id.
    pub id: Digest,
    /// The names the archive gave it (full references).
    pub names: Vec<String>,
}

impl Engine {
    /// Load every image of the archive or layout at `path`.
    pub fn load(&self, path: &Path) -> Result<Vec<LoadedImage>> {
        std::fs::metadata(path).map_err(Error::io("open", path))?;
        let _lock = self.lock(true)?;
        self.undo_on_error(|| {
            let loaded = nook_image::load_archive(&self.blobs, path, &Platform::host())?;
            let mut out = Vec::new();
            for l in loaded {
                let names: Vec<Reference> = l
                    .repo_tags
                    .iter()
                    .filter_map(|n| Reference::parse(n).ok())
                    .filter(|r| r.digest.is_none())
                    .collect();
                let tags: Vec<Tag> = names.iter().filter_map(tag_of).collect();
                let layers = self.unpack_image(&l.image, &NoProgress)?;
                let record = new_image(&l.image, layers, &[]);
                self.state.record_image(&record, &tags, &[])?;
                out.push(LoadedImage {
                    id: record.id,
                    names: tags.iter().map(|t| t.to_string()).collect(),
                });
            }
            Ok(out)
        })
    }

    /// Write the images `names` name to `out` as one archive.
    pub fn save(&self, names: &[&str], format: SaveFormat, out: &mut dyn Write) -> Result<()> {
        let _lock = self.lock(false)?;
        let mut images: Vec<(Image, Vec<String>)> = Vec::new();
        for name in names {
            let r = self.resolve(name)?;
            let record = self
                .state
                .image(&r.id)?
                .ok_or_else(|| Error::NoSuchImage(name.to_string()))?;
            let given = match r.name {
                ImageName::Tag(t) => Some(t.to_string()),
                _ => None,
            };
            match images.iter_mut().find(|(i, _)| *i.id() == r.id) {
                Some((_, n)) => n.extend(given),
                None => {
                    let image = Image::from_store(&self.blobs, &record.manifest_digest)?;
                    images.push((image, given.into_iter().collect()));
                }
            }
        }
        let save: Vec<SaveImage<'_>> = images
            .iter()
            .map(|(image, names)| SaveImage { image, names })
            .collect();
        match format {
            SaveFormat::OciArchive => nook_image::write_oci_archive(&self.blobs, &save, out)?,
            SaveFormat::DockerArchive => nook_image::write_docker_archive(&self.blobs, &save, out)?,
        }
        Ok(())
    }

    /// Import the root file system tarball at `path` (tar, gzip or zstd)
    /// as a one-layer image, named `reference` when given; its id.
    pub fn import(&self, path: &Path, reference: Option<&str>) -> Result<Digest> {
        let mut tags = Vec::new();
        if let Some(reference) = reference {
            let r = Reference::parse(reference)?;
            let tag = tag_of(&r)
                .filter(|_| r.digest.is_none())
                .ok_or_else(|| Error::invalid("reference", reference, "want repository[:tag]"))?;
            tags.push(tag);
        }
        let mut file = std::fs::File::open(path).map_err(Error::io("open", path))?;
        let _lock = self.lock(true)?;
        self.undo_on_error(|| {
            let (blob, size, head) = self.blobs.put_stream(&mut file)?;
            let name = path.display().to_string();
            let up = nook_storage::import(&self.layers, &name, self.blobs.open(&blob)?)?;
            let diff_id = crate::to_image_digest(&up.layer.diff_id)?;
            let compression = nook_image::Compression::sniff(&head);
            let manifest = self.import_documents(&blob, size, compression, &diff_id)?;
            let image = Image::from_store(&self.blobs, &manifest)?;
            let layers = self.unpack_image(&image, &NoProgress)?;
            let record = new_image(&image, layers, &[]);
            self.state.record_image(&record, &tags, &[])?;
            Ok(record.id)
        })
    }

    /// The config and manifest of an imported layer, in the blob store;
    /// the manifest's digest.
    fn import_documents(
        &self,
        blob: &Digest,
        size: u64,
        compression: nook_image::Compression,
        diff_id: &Digest,
    ) -> Result<Digest> {
        let now = jiff::Timestamp::now().to_string();
        let host = Platform::host();
        let config = json!({
            "architecture": host.architecture, "os": host.os, "created": now,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
            "history": [{"created": now, "created_by": "nook import", "comment": "imported"}],
        })
        .to_string();
        let config_digest = self.blobs.put_bytes(None, config.as_bytes())?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": nook_image::manifest::media::OCI_MANIFEST,
            "config": {
                "mediaType": nook_image::manifest::media::OCI_CONFIG,
                "digest": config_digest.to_string(), "size": config.len(),
            },
            "layers": [{
                "mediaType": compression.oci_media_type(),
                "digest": blob.to_string(), "size": size,
            }],
        })
        .to_string();
        Ok(self.blobs.put_bytes(None, manifest.as_bytes())?)
    }

    /// Run `f`; when it fails, remove the blobs and layers that appeared
    /// meanwhile and no image uses (`engine.lock` held exclusive).
    fn undo_on_error<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let blobs_before: HashSet<Digest> =
            self.blobs.list()?.into_iter().map(|(d, _)| d).collect();
        let layers_before: HashSet<nook_storage::Digest> = self
            .layers
            .list()?
            .into_iter()
            .map(|l| l.chain_id)
            .collect();
        let err = match f() {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let used: HashSet<Digest> = self.state.referenced_blobs()?.into_iter().collect();
        for (d, _) in self.blobs.list()? {
            if !blobs_before.contains(&d) && !used.contains(&d) {
                self.blobs.delete(&d)?;
            }
        }
        let used: HashSet<Digest> = self.state.referenced_layers()?.into_iter().collect();
        for l in self.layers.list()? {
            if !layers_before.contains(&l.chain_id)
                && !used.contains(&crate::to_image_digest(&l.chain_id)?)
            {
                self.layers.remove(&l.chain_id)?;
            }
        }
        Err(err)
    }
}
