//! Reading archives into the store: one streaming pass over a tar (each
//! blob hashed as it is copied in, small JSON documents kept), or the
//! blobs an OCI layout directory's index reaches; then each image is
//! described from the store.

use super::{Loaded, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::digest;
use crate::manifest::{
    manifest_parts, media, parse_document, select_platform, Compression, Document, Image, Layer,
    Platform, MAX_DOCUMENT,
};
use crate::store::{Ingest, Store, BUF_SIZE};
use crate::{Error, Result};
use oci_spec::image::{Descriptor, Digest, MediaType};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Read the archive at `path` — a `docker save` tar, an OCI layout tar, or
/// an OCI layout directory — into `store`: its images (for an index of
/// several platforms, the one for `platform`), each with its names.
pub fn load_archive(store: &Store, path: &Path, platform: &Platform) -> Result<Vec<Loaded>> {
    let meta = std::fs::metadata(path).map_err(Error::io("stat", path))?;
    if meta.is_dir() {
        let index = std::fs::read(path.join("index.json"))
            .map_err(Error::io("read", path.join("index.json")))?;
        let src = DirSource {
            dir: path.to_path_buf(),
        };
        return load_oci(store, &src, path, &index, platform);
    }
    let file = std::fs::File::open(path).map_err(Error::io("open", path))?;
    let tar = scan_tar(
        store,
        path,
        std::io::BufReader::with_capacity(BUF_SIZE, file),
    )?;
    if let Some(m) = tar.docs.get("manifest.json") {
        load_docker(store, path, &tar, m)
    } else if let Some(index) = tar.docs.get("index.json") {
        load_oci(store, &StoreSource, path, index, platform)
    } else {
        Err(Error::invalid(
            "archive",
            path.display(),
            "has neither manifest.json (docker save) nor index.json (OCI layout)",
        ))
    }
}

/// What a pass over a tar found.
#[derive(Default)]
struct TarContents {
    /// Small JSON documents, by path.
    docs: HashMap<String, Vec<u8>>,
    /// Every other file, now in the store: digest and size, by path.
    files: HashMap<String, (Digest, u64)>,
    /// Links: path to the path it points at.
    links: HashMap<String, String>,
}

/// A path in a tar, normalised (`./a/../b/` is `b`).
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

/// The digest a `blobs/<alg>/<hex>` path names.
fn blob_path_digest(path: &str) -> Option<Digest> {
    let rest = path.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    digest::parse("blob path", &format!("{alg}:{hex}")).ok()
}

fn is_document(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".json") || ["oci-layout", "repositories", "json", "VERSION"].contains(&name)
}

fn scan_tar(store: &Store, archive: &Path, reader: impl Read) -> Result<TarContents> {
    let bad = |e: std::io::Error| Error::invalid("archive", archive.display(), e);
    let mut out = TarContents::default();
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = clean(&entry.path().map_err(bad)?.to_string_lossy());
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(bad)?
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let target = match (kind.is_symlink(), path.rsplit_once('/')) {
                (true, Some((dir, _))) if !target.starts_with('/') => {
                    clean(&format!("{dir}/{target}"))
                }
                _ => clean(&target),
            };
            out.links.insert(path, target);
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.size();
        if let Some(d) = blob_path_digest(&path) {
            ingest_verified(store, &d, size, &mut entry, &path)?;
            out.files.insert(path, (d, size));
        } else if is_document(&path) && size <= MAX_DOCUMENT {
            let doc = crate::store::read_document(&mut entry, &path)?;
            out.docs.insert(path, doc);
        } else {
            let (d, n, _) = store.put_stream(&mut entry)?;
            out.files.insert(path, (d, n));
        }
    }
    Ok(out)
}

/// Copy `reader` into the store as `digest` (of `size` bytes), verified;
/// nothing is copied when the store has it.
fn ingest_verified(
    store: &Store,
    digest: &Digest,
    size: u64,
    reader: &mut dyn Read,
    what: &str,
) -> Result<()> {
    match store.ingest(digest, Some(size))? {
        Ingest::Present(_) => Ok(()),
        Ingest::Writer(mut w) => {
            w.restart()?;
            let mut buf = vec![0u8; BUF_SIZE];
            if let Err(e) = w.copy_from(reader, &mut buf, &mut |_| {})? {
                w.discard();
                return Err(Error::io("read", what)(e));
            }
            w.commit().map(drop)
        }
    }
}

impl TarContents {
    /// What `path` is, following links: a document's bytes or a stored file.
    fn resolve(&self, archive: &Path, path: &str) -> Result<Resolved<'_>> {
        let mut p = clean(path);
        for _ in 0..16 {
            if let Some(d) = self.docs.get(&p) {
                return Ok(Resolved::Doc(d));
            }
            if let Some((d, n)) = self.files.get(&p) {
                return Ok(Resolved::File(d.clone(), *n));
            }
            match self.links.get(&p) {
                Some(t) => p = t.clone(),
                None => break,
            }
        }
        Err(Error::invalid(
            "archive",
            archive.display(),
            format!("{path} is named in manifest.json but not in the archive"),
        ))
    }
}

enum Resolved<'a> {
    Doc(&'a Vec<u8>),
    File(Digest, u64),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The images of a `docker save` archive, each given an OCI manifest.
fn load_docker(
    store: &Store,
    archive: &Path,
    tar: &TarContents,
    manifest: &[u8],
) -> Result<Vec<Loaded>> {
    let entries: Vec<DockerEntry> = serde_json::from_slice(manifest)
        .map_err(|e| Error::invalid("manifest.json of", archive.display(), e))?;
    let mut out = Vec::new();
    for e in entries {
        let config_raw = match tar.resolve(archive, &e.config)? {
            Resolved::Doc(d) => d.clone(),
            Resolved::File(d, _) => store.read_small(&d, MAX_DOCUMENT)?,
        };
        let config_digest = store.put_bytes(None, &config_raw)?;
        let mut layers = Vec::new();
        for l in &e.layers {
            let (digest, size) = match tar.resolve(archive, l)? {
                Resolved::File(d, n) => (d, n),
                Resolved::Doc(d) => {
                    let n = d.len() as u64;
                    (store.put_bytes(None, d)?, n)
                }
            };
            let compression = sniff(store, &digest)?;
            layers.push(Layer {
                digest,
                size,
                media_type: compression.oci_media_type().into(),
                compression,
            });
        }
        let config = Descriptor::new(
            MediaType::ImageConfig,
            config_raw.len() as u64,
            config_digest,
        );
        let image = synthesize(store, &config, config_raw, layers)?;
        out.push(Loaded {
            repo_tags: e.repo_tags.unwrap_or_default(),
            image,
        });
    }
    Ok(out)
}

/// The compression a stored blob starts with.
fn sniff(store: &Store, digest: &Digest) -> Result<Compression> {
    let mut head = Vec::with_capacity(16);
    store
        .open(digest)?
        .take(16)
        .read_to_end(&mut head)
        .map_err(Error::io("read", store.blob_path(digest)))?;
    Ok(Compression::sniff(&head))
}

/// An OCI manifest for a config and layers, stored; the image it makes.
fn synthesize(
    store: &Store,
    config: &Descriptor,
    config_raw: Vec<u8>,
    layers: Vec<Layer>,
) -> Result<Image> {
    let layer_descs: Vec<_> = layers
        .iter()
        .map(|l| serde_json::json!({"mediaType": l.media_type, "digest": l.digest.to_string(), "size": l.size}))
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": media::OCI_CONFIG, "digest": config.digest().to_string(), "size": config.size()},
        "layers": layer_descs,
    });
    let bytes = manifest.to_string().into_bytes();
    let digest = store.put_bytes(None, &bytes)?;
    Image::assemble(
        digest,
        media::OCI_MANIFEST.into(),
        bytes,
        config,
        config_raw,
        layers,
    )
}

/// Where an OCI layout's blobs come from.
trait BlobSource {
    /// Make sure the blob is in the store (verified).
    fn ensure(&self, store: &Store, digest: &Digest, size: u64) -> Result<()>;
}

/// A tar's blobs, all in the store after the pass over it.
struct StoreSource;

impl BlobSource for StoreSource {
    fn ensure(&self, store: &Store, digest: &Digest, size: u64) -> Result<()> {
        match store.size(digest) {
            Ok(n) if n == size => Ok(()),
            Ok(n) => Err(Error::SizeMismatch {
                digest: digest.clone(),
                expected: size,
                got: n,
            }),
            Err(Error::NotFound { .. }) => Err(Error::invalid(
                "archive",
                digest,
                "is named by the layout but not in the archive",
            )),
            Err(e) => Err(e),
        }
    }
}

/// An OCI layout directory's `blobs/`.
struct DirSource {
    dir: PathBuf,
}

impl BlobSource for DirSource {
    fn ensure(&self, store: &Store, digest: &Digest, size: u64) -> Result<()> {
        let p = self
            .dir
            .join("blobs")
            .join(digest.algorithm().as_ref())
            .join(digest.digest());
        let mut f = std::fs::File::open(&p).map_err(Error::io("open", &p))?;
        ingest_verified(store, digest, size, &mut f, &p.to_string_lossy())
    }
}

/// The images an OCI layout's `index.json` names, their blobs brought into
/// the store from `src`.
fn load_oci(
    store: &Store,
    src: &dyn BlobSource,
    archive: &Path,
    index: &[u8],
    platform: &Platform,
) -> Result<Vec<Loaded>> {
    let name = format!("{}/index.json", archive.display());
    let Document::Index(index) = parse_document(&name, Some(media::OCI_INDEX), index)?.1 else {
        return Err(Error::invalid(
            "OCI layout",
            archive.display(),
            "index.json is not an index",
        ));
    };
    let mut out: Vec<Loaded> = Vec::new();
    for d in index.manifests() {
        let names = d.annotations().as_ref().and_then(|a| {
            a.get(ANNOTATION_IMAGE_NAME)
                .or_else(|| a.get(ANNOTATION_REF_NAME))
        });
        let manifest = resolve_manifest(store, src, d, platform, &name)?;
        if let Some(l) = out
            .iter_mut()
            .find(|l| l.image.manifest_digest == *manifest.digest())
        {
            l.repo_tags.extend(names.cloned());
            continue;
        }
        let image = import_image(store, src, &manifest)?;
        out.push(Loaded {
            repo_tags: names.cloned().into_iter().collect(),
            image,
        });
    }
    Ok(out)
}

/// Bring the image `manifest` names (its manifest, config and layers) into
/// the store from `src`, and describe it.
fn import_image(store: &Store, src: &dyn BlobSource, manifest: &Descriptor) -> Result<Image> {
    src.ensure(store, manifest.digest(), manifest.size())?;
    let bytes = store.read_small(manifest.digest(), MAX_DOCUMENT)?;
    let name = manifest.digest().to_string();
    let Document::Manifest(m) = parse_document(&name, None, &bytes)?.1 else {
        return Err(Error::invalid("manifest", name, "is an index"));
    };
    let (config, layers) = manifest_parts(&name, &m)?;
    src.ensure(store, config.digest(), config.size())?;
    for l in &layers {
        src.ensure(store, &l.digest, l.size)?;
    }
    Image::from_store(store, manifest.digest())
}

/// An index entry's image manifest: itself, or the one for `platform` in
/// the index it names.
fn resolve_manifest(
    store: &Store,
    src: &dyn BlobSource,
    d: &Descriptor,
    platform: &Platform,
    name: &str,
) -> Result<Descriptor> {
    let mt = d.media_type().to_string();
    if mt != media::OCI_INDEX && mt != media::DOCKER_LIST {
        return Ok(d.clone());
    }
    src.ensure(store, d.digest(), d.size())?;
    let bytes = store.read_small(d.digest(), MAX_DOCUMENT)?;
    match parse_document(d.digest().as_ref(), Some(&mt), &bytes)?.1 {
        Document::Index(i) => Ok(select_platform(&i, platform, name)?.clone()),
        Document::Manifest(_) => Err(Error::invalid("index", d.digest(), "is a manifest")),
    }
}
