//! Names and removal: `tag`, `rmi` (Docker's rules: a tag of an image with
//! other tags is only untagged; an id tagged in several repositories wants
//! force; an image a container uses is kept unless forced) and
//! `image prune`.  Removal holds `engine.lock` exclusive: rows go in one
//! transaction first, then exactly the blobs and layers no other image
//! uses; prune also sweeps whatever no image uses (what killed pulls and
//! failed loads left).

use crate::names::{tag_of, ImageName};
use crate::{short_id, Engine, Error, Result};
use nook_image::{Digest, Reference};
use nook_state::{Freed, ImageRecord};
use std::collections::HashSet;
use std::time::Duration;

/// One thing `rmi` or `prune` did, in order, as Docker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// A name was removed (its short form: `busybox:latest`,
    /// `busybox@sha256:…`).
    Untagged(String),
    /// An image (its id) or a layer (its chain id) was deleted.
    Deleted(Digest),
}

/// What `image prune` did.
#[derive(Clone, Debug, Default)]
pub struct PruneReport {
    /// Names removed and images and layers deleted.
    pub removed: Vec<Removal>,
    /// Bytes freed on disk (blobs, and unpacked layers by their size).
    pub reclaimed: u64,
}

impl Engine {
    /// Give the image `source` names the name `target` (`repo[:tag]`).
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let r = Reference::parse(target)?;
        if r.digest.is_some() {
            return Err(Error::invalid("tag", target, "a tag cannot name a digest"));
        }
        let tag = tag_of(&r).ok_or_else(|| Error::invalid("tag", target, "no tag"))?;
        let id = self.resolve(source)?.id;
        self.state.set_tag(&tag, &id)?;
        Ok(())
    }

    /// `rmi NAME`: untag, and delete the image once nothing names it.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<Removal>> {
        let _lock = self.lock(true)?;
        let r = self.resolve(name)?;
        let Some(image) = self.state.image(&r.id)? else {
            return Err(Error::NoSuchImage(name.to_string()));
        };
        let mut out = Vec::new();
        let names = image.tags.len() + image.repo_digests.len();
        match &r.name {
            // other tags stay: only this name goes
            ImageName::Tag(t) if image.tags.len() > 1 => {
                self.state.remove_tag(t)?;
                out.push(Removal::Untagged(crate::names::familiar(&t.to_string())));
                return Ok(out);
            }
            ImageName::Digest(d) if names > 1 => {
                self.state.remove_repo_digest(d)?;
                out.push(Removal::Untagged(crate::names::familiar(&d.to_string())));
                return Ok(out);
            }
            ImageName::Id if !force => {
                let repos: HashSet<_> = image.tags.iter().map(|t| &t.repository).collect();
                if repos.len() > 1 {
                    return Err(Error::MultipleRepositories {
                        id: short_id(&image.id),
                    });
                }
            }
            _ => {}
        }
        if let Some(container) = self.state.image_users(&image.id)?.into_iter().next() {
            if !force {
                return Err(Error::InUse {
                    id: short_id(&image.id),
                    container,
                });
            }
            // forced: its names go, the image stays for its containers
            return self.untag_all(&image);
        }
        self.delete_image(&image)
    }

    /// Remove every name of `image`.
    fn untag_all(&self, image: &ImageRecord) -> Result<Vec<Removal>> {
        let mut out = Vec::new();
        for t in &image.tags {
            self.state.remove_tag(t)?;
            out.push(Removal::Untagged(crate::names::familiar(&t.to_string())));
        }
        for d in &image.repo_digests {
            self.state.remove_repo_digest(d)?;
            out.push(Removal::Untagged(crate::names::familiar(&d.to_string())));
        }
        Ok(out)
    }

    /// Delete `image` and free what no other image uses (`engine.lock`
    /// held exclusive).
    fn delete_image(&self, image: &ImageRecord) -> Result<Vec<Removal>> {
        let mut out = self.untag_all(image)?;
        let freed = self.state.remove_image(&image.id)?;
        out.push(Removal::Deleted(image.id.clone()));
        out.extend(freed.layers.iter().cloned().map(Removal::Deleted));
        self.free(&freed)?;
        Ok(out)
    }

    /// Delete the blobs and layers in `freed`; bytes freed.
    fn free(&self, freed: &Freed) -> Result<u64> {
        let mut bytes = 0;
        for b in &freed.blobs {
            if self.blobs.delete(&b.digest)? {
                bytes += b.size;
            }
        }
        for l in &freed.layers {
            bytes += self.remove_layer(&crate::to_storage_digest(l)?)?;
        }
        Ok(bytes)
    }

    /// Remove one unpacked layer; its size (0 when it was not there).
    fn remove_layer(&self, chain: &nook_storage::Digest) -> Result<u64> {
        let size = match self.layers.get(chain) {
            Ok(l) => l.tar_size,
            Err(nook_storage::StoreError::LayerNotFound(_)) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        match self.layers.remove(chain) {
            Ok(()) => Ok(size),
            Err(nook_storage::StoreError::LayerNotFound(_)) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// `image prune`: delete images nothing names (with `all`, every image
    /// no container uses), then everything in the stores no image uses.
    pub fn prune_images(&self, all: bool, filter: &crate::PruneFilter) -> Result<PruneReport> {
        let _lock = self.lock(true)?;
        let mut report = PruneReport::default();
        for image in self.state.images()? {
            let dangling = image.tags.is_empty() && image.repo_digests.is_empty();
            if !(all || dangling) || !self.state.image_users(&image.id)?.is_empty() {
                continue;
            }
            if *filter != crate::PruneFilter::default() {
                let labels = self
                    .blobs
                    .read_small(&image.id, nook_image::manifest::MAX_DOCUMENT)
                    .ok()
                    .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
                    .map(|c| c["config"]["Labels"].clone())
                    .unwrap_or_default();
                let created = image.created.map(|s| s.saturating_mul(1_000_000_000));
                if !filter.matches(created, &labels) {
                    continue;
                }
            }
            report.removed.extend(self.untag_all(&image)?);
            let freed = self.state.remove_image(&image.id)?;
            report.removed.push(Removal::Deleted(image.id.clone()));
            report
                .removed
                .extend(freed.layers.iter().cloned().map(Removal::Deleted));
            report.reclaimed += self.free(&freed)?;
        }
        report.reclaimed += self.sweep()?;
        Ok(report)
    }

    /// Remove every blob and layer no image uses, what killed unpacks left,
    /// and partial downloads (`engine.lock` held exclusive); bytes freed.
    pub(crate) fn sweep(&self) -> Result<u64> {
        let mut bytes = 0;
        let used: HashSet<Digest> = self.state.referenced_blobs()?.into_iter().collect();
        for (digest, size) in self.blobs.list()? {
            if !used.contains(&digest) && self.blobs.delete(&digest)? {
                bytes += size;
            }
        }
        let used: HashSet<Digest> = self.state.referenced_layers()?.into_iter().collect();
        for layer in self.layers.list()? {
            if !used.contains(&crate::to_image_digest(&layer.chain_id)?) {
                match self.remove_layer(&layer.chain_id) {
                    Ok(n) => bytes += n,
                    // a container's rootfs still stands on it: kept
                    Err(Error::Storage(nook_storage::StoreError::LayerInUse { .. })) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.layers.cleanup()?;
        self.blobs.prune_ingest(Duration::ZERO)?;
        Ok(bytes)
    }
}
