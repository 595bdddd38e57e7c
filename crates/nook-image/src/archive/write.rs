//! Writing `oci-archive` and `docker-archive` tars from store blobs.

use super::{SaveImage, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::manifest::media;
use crate::reference::Reference;
use crate::store::Store;
use crate::{Error, Result};
use oci_spec::image::Digest;
use serde_json::json;
use std::collections::HashSet;
use std::io::Write;

/// A tar being written, each blob once.
struct Tar<W: Write> {
    builder: tar::Builder<W>,
    written: HashSet<String>,
}

fn write_err(e: std::io::Error) -> Error {
    Error::io("write", "archive")(e)
}

impl<W: Write> Tar<W> {
    fn new(out: W) -> Tar<W> {
        Tar {
            builder: tar::Builder::new(out),
            written: HashSet::new(),
        }
    }

    fn header(size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        h
    }

    fn dir(&mut self, path: &str) -> Result<()> {
        if !self.written.insert(path.to_string()) {
            return Ok(());
        }
        let mut h = Self::header(0);
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        self.builder
            .append_data(&mut h, path, std::io::empty())
            .map_err(write_err)
    }

    fn bytes(&mut self, path: &str, data: &[u8]) -> Result<()> {
        let mut h = Self::header(data.len() as u64);
        self.builder
            .append_data(&mut h, path, data)
            .map_err(write_err)
    }

    /// The blob `digest` from `store` at `blobs/<alg>/<hex>`, streamed.
    fn blob(&mut self, store: &Store, digest: &Digest) -> Result<String> {
        let alg = digest.algorithm().to_string();
        let path = format!("blobs/{alg}/{}", digest.digest());
        if self.written.contains(&path) {
            return Ok(path);
        }
        self.dir("blobs/")?;
        self.dir(&format!("blobs/{alg}/"))?;
        let file = store.open(digest)?;
        let size = file
            .metadata()
            .map_err(Error::io("stat", store.blob_path(digest)))?
            .len();
        let mut h = Self::header(size);
        // a short read (the blob changed under us) is an error from tar
        let reader = std::io::BufReader::with_capacity(crate::store::BUF_SIZE, file);
        self.builder
            .append_data(&mut h, &path, reader)
            .map_err(write_err)?;
        self.written.insert(path.clone());
        Ok(path)
    }

    fn finish(self) -> Result<()> {
        let mut out = self.builder.into_inner().map_err(write_err)?;
        out.flush().map_err(write_err)
    }
}

/// The config, then each layer, of `image`: the paths written.
fn image_blobs<W: Write>(
    tar: &mut Tar<W>,
    store: &Store,
    s: &SaveImage<'_>,
) -> Result<(String, Vec<String>)> {
    let config = tar.blob(store, &s.image.config_digest)?;
    let layers = s
        .image
        .layers
        .iter()
        .map(|l| tar.blob(store, &l.digest))
        .collect::<Result<Vec<_>>>()?;
    Ok((config, layers))
}

/// Write an OCI image layout tar (`oci-archive`) of `images` to `out`: the
/// manifests as stored, one `index.json` entry per name (annotated with
/// `org.opencontainers.image.ref.name` and `io.containerd.image.name`).
pub fn write_oci_archive(store: &Store, images: &[SaveImage<'_>], out: impl Write) -> Result<()> {
    let mut tar = Tar::new(out);
    tar.bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut entries = Vec::new();
    for s in images {
        tar.blob(store, &s.image.manifest_digest)?;
        image_blobs(&mut tar, store, s)?;
        let desc = json!({
            "mediaType": s.image.manifest_media_type,
            "digest": s.image.manifest_digest.to_string(),
            "size": s.image.manifest.len(),
        });
        if s.names.is_empty() {
            entries.push(desc.clone());
        }
        for name in s.names {
            let mut d = desc.clone();
            d["annotations"] = json!({ ANNOTATION_REF_NAME: name, ANNOTATION_IMAGE_NAME: name });
            entries.push(d);
        }
    }
    let index = json!({ "schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": entries });
    tar.bytes("index.json", index.to_string().as_bytes())?;
    tar.finish()
}

/// Write a `docker save` tar of `images` to `out` (Docker 25's layout:
/// `manifest.json` naming blobs under `blobs/sha256/`), which `docker load`
/// and `podman load` read.  Layers are written as stored (compressed ones
/// too: both loaders decompress).
pub fn write_docker_archive(
    store: &Store,
    images: &[SaveImage<'_>],
    out: impl Write,
) -> Result<()> {
    let mut tar = Tar::new(out);
    let mut manifest = Vec::new();
    for s in images {
        let (config, layers) = image_blobs(&mut tar, store, s)?;
        // RepoTags are tagged names, in Docker's short form
        let tags: Vec<String> = s
            .names
            .iter()
            .filter_map(|n| Reference::parse(n).ok())
            .filter(|r| r.digest.is_none())
            .map(|r| r.familiar())
            .collect();
        manifest.push(json!({ "Config": config, "RepoTags": tags, "Layers": layers }));
    }
    tar.bytes(
        "manifest.json",
        serde_json::Value::Array(manifest).to_string().as_bytes(),
    )?;
    tar.finish()
}
