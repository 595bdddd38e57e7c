//! Pulling an image: resolve a reference to a manifest (through an index
//! or manifest list, for the wanted platform), then fetch its config and
//! layers into the store — layers in parallel, each verified, a blob the
//! store has not fetched again, an interrupted one resumed — and say what
//! was pulled.  Manifests and indexes are kept in the store too (by
//! digest), so that an image can be saved without the network.

use crate::manifest::{manifest_parts, select_platform, Document, Image, Layer, Platform};
use crate::progress::{Progress, ProgressEvent};
use crate::reference::Reference;
use crate::registry::{Client, FetchedManifest};
use crate::store::{Ingest, Store, BUF_SIZE};
use crate::{Error, Result};
use oci_spec::image::Digest;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How a pull goes.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// How many blobs download at once.
    pub max_parallel: usize,
    /// How many times a blob whose transfer breaks is tried again (resuming
    /// where it broke) within this pull.
    pub retries: u32,
}

impl Default for PullOptions {
    fn default() -> PullOptions {
        PullOptions {
            max_parallel: 3,
            retries: 2,
        }
    }
}

/// What a pull got.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The reference pulled, pinned to the digest it resolved to (the
    /// index's when it named an index).
    pub reference: Reference,
    /// The index or manifest list the reference named, if it named one.
    pub index_digest: Option<Digest>,
    /// The image (the manifest for the wanted platform, its config and
    /// layers), all in the store.
    pub image: Image,
}

/// Pull `reference` for `platform` from its registry into `store`.
pub fn pull(
    client: &Client,
    store: &Store,
    reference: &Reference,
    platform: &Platform,
    options: &PullOptions,
    progress: &dyn Progress,
) -> Result<Pulled> {
    let top = client.manifest(reference)?;
    store.put_bytes(Some(&top.digest), &top.bytes)?;
    let resolved = reference.with_digest(top.digest.clone());
    let (index_digest, manifest) = match &top.document {
        Document::Manifest(_) => (None, top),
        Document::Index(index) => {
            let d = select_platform(index, platform, &reference.to_string())?;
            let m = client.get_manifest(
                &reference.registry,
                &reference.repository,
                d.digest().as_ref(),
            )?;
            if m.bytes.len() as u64 != d.size() {
                return Err(Error::SizeMismatch {
                    digest: m.digest,
                    expected: d.size(),
                    got: m.bytes.len() as u64,
                });
            }
            store.put_bytes(Some(&m.digest), &m.bytes)?;
            (Some(top.digest.clone()), m)
        }
    };
    let image = fetch_image(client, store, reference, manifest, options, progress)?;
    Ok(Pulled {
        reference: resolved,
        index_digest,
        image,
    })
}

/// Fetch the config and layers of `manifest` into `store`.
fn fetch_image(
    client: &Client,
    store: &Store,
    reference: &Reference,
    manifest: FetchedManifest,
    options: &PullOptions,
    progress: &dyn Progress,
) -> Result<Image> {
    let name = format!("{}@{}", reference.name(), manifest.digest);
    let Document::Manifest(m) = &manifest.document else {
        return Err(Error::Unsupported {
            media_type: manifest.media_type,
            reason: format!("{name} is an index inside an index"),
        });
    };
    let (config, layers) = manifest_parts(&name, m)?;
    let src = Source {
        client,
        store,
        reference,
        retries: options.retries,
        progress,
    };
    // the config is a blob like the layers, but not a layer to report
    let config_layer = Layer {
        digest: config.digest().clone(),
        size: config.size(),
        media_type: config.media_type().to_string(),
        compression: crate::manifest::Compression::None,
    };
    src.fetch(
        &config_layer,
        &crate::progress::NoProgress,
        &mut vec![0; 64 << 10],
    )?;
    let config_raw = store.read_small(config.digest(), crate::manifest::MAX_DOCUMENT)?;
    // check the config before downloading layers for it
    let image = Image::assemble(
        manifest.digest,
        manifest.media_type,
        manifest.bytes,
        &config,
        config_raw,
        layers,
    )?;
    fetch_layers(&src, &image.layers, options.max_parallel.max(1))?;
    Ok(image)
}

/// Where blobs come from and go, for one pull.
struct Source<'a> {
    client: &'a Client,
    store: &'a Store,
    reference: &'a Reference,
    retries: u32,
    progress: &'a dyn Progress,
}

/// Download each distinct layer, up to `parallel` at once; the first error
/// stops new downloads and is returned.
fn fetch_layers(src: &Source<'_>, layers: &[Layer], parallel: usize) -> Result<()> {
    let mut seen = HashSet::new();
    let todo: Vec<&Layer> = layers
        .iter()
        .filter(|l| seen.insert(l.digest.clone()))
        .collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..parallel.min(todo.len()) {
            s.spawn(|| {
                let mut buf = vec![0u8; BUF_SIZE];
                while !failed.load(Ordering::Relaxed) {
                    let Some(layer) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    if let Err(e) = src.fetch(layer, src.progress, &mut buf) {
                        failed.store(true, Ordering::Relaxed);
                        first_error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl Source<'_> {
    /// Get one blob into the store (unless it is there), verified; a broken
    /// transfer is resumed up to `retries` times, and a resumed blob that
    /// fails its digest is fetched again from the start.
    fn fetch(&self, blob: &Layer, progress: &dyn Progress, buf: &mut [u8]) -> Result<()> {
        let (digest, size) = (&blob.digest, blob.size);
        let mut attempt = 0;
        loop {
            let mut w = match self.store.ingest(digest, Some(size))? {
                Ingest::Present(n) if n == size => {
                    progress.event(ProgressEvent::AlreadyPresent { digest, size });
                    return Ok(());
                }
                Ingest::Present(n) => {
                    return Err(Error::SizeMismatch {
                        digest: digest.clone(),
                        expected: size,
                        got: n,
                    });
                }
                Ingest::Writer(w) => w,
            };
            let resumed = w.offset();
            progress.event(ProgressEvent::Started {
                digest,
                size,
                offset: resumed,
            });
            let (registry, repo) = (&self.reference.registry, &self.reference.repository);
            // all of it is there already (the last ingest stopped before
            // its commit): nothing to fetch, only to check
            let fetched = match w.offset() == size {
                true => Ok(None),
                false => self
                    .client
                    .blob(registry, repo, digest, w.offset())
                    .map(Some),
            };
            let broken = match fetched {
                Ok(None) => None,
                Err(e @ Error::Transport { .. }) => Some(e),
                Err(e) => return Err(e),
                Ok(Some(mut stream)) => {
                    if stream.offset != w.offset() {
                        w.restart()?;
                    }
                    let mut last = 0;
                    let mut report = |done: u64| {
                        if done - last >= 256 << 10 || done == size {
                            last = done;
                            progress.event(ProgressEvent::Progress {
                                digest,
                                done,
                                total: size,
                            });
                        }
                    };
                    match w.copy_from(&mut stream.reader, buf, &mut report)? {
                        Ok(()) => None,
                        Err(e) => Some(Error::Transport {
                            url: format!("{registry}/{repo}@{digest}"),
                            message: e.to_string(),
                        }),
                    }
                }
            };
            if let Some(e) = broken {
                drop(w); // the partial content stays, to resume
                if attempt < self.retries {
                    attempt += 1;
                    continue;
                }
                return Err(e);
            }
            match w.commit() {
                Ok(_) => {
                    progress.event(ProgressEvent::Done { digest, size });
                    return Ok(());
                }
                Err(Error::DigestMismatch { .. }) if resumed > 0 && attempt < self.retries => {
                    attempt += 1
                }
                Err(e) => return Err(e),
            }
        }
    }
}
