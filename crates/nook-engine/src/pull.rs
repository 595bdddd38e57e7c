//! `pull`: an image from its registry into the blob store (nook-image:
//! parallel, verified, resumable), its layers unpacked into the layer store
//! (nook-storage), then the image, its tag and its repository digest
//! recorded in one transaction — only when all of it is on disk.
//!
//! Killed at any point, a pull leaves no recorded image; what it had
//! fetched (whole blobs, partial ones to resume, unpacked layers) is used
//! by the next pull, and an unpack it left half done (in the layer store's
//! `tmp/`) is removed by the next one.

use crate::progress::{Downloads, PullProgress};
use crate::unpack::new_image;
use crate::{names, Engine, Result};
use nook_image::{Digest, Platform, Reference};
use nook_state::{BlobRef, RepoDigest};

/// How to pull.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// The platform wanted from an index (this machine's by default).
    pub platform: Platform,
    /// How many blobs download at once.
    pub max_parallel: usize,
}

impl Default for PullOptions {
    fn default() -> PullOptions {
        PullOptions {
            platform: Platform::host(),
            max_parallel: nook_image::PullOptions::default().max_parallel,
        }
    }
}

/// What a pull did.
#[derive(Clone, Debug)]
pub struct PullResult {
    /// The reference pulled, normalised.
    pub reference: Reference,
    /// The digest it resolved to (its index's when it named an index).
    pub digest: Digest,
    /// The image id.
    pub id: Digest,
    /// Whether anything changed: a new image, or a tag that now names it.
    pub updated: bool,
}

impl Engine {
    /// Pull `reference` (as a user writes it: `busybox`, `host:5000/a:1`,
    /// `repo@sha256:…`).
    pub fn pull(
        &self,
        reference: &str,
        options: &PullOptions,
        progress: &dyn PullProgress,
    ) -> Result<PullResult> {
        let reference = Reference::parse(reference)?;
        let _lock = self.lock(false)?;
        // what an unpack killed earlier left (a live one's is locked)
        self.layers.cleanup()?;
        let image_options = nook_image::PullOptions {
            max_parallel: options.max_parallel.max(1),
            ..Default::default()
        };
        let pulled = nook_image::pull(
            self.client(),
            &self.blobs,
            &reference,
            &options.platform,
            &image_options,
            &Downloads(progress),
        )?;
        let layers = self.unpack_image(&pulled.image, progress)?;
        let mut extra = Vec::new();
        if let Some(index) = &pulled.index_digest {
            extra.push(BlobRef {
                digest: index.clone(),
                size: self.blobs.size(index)?,
            });
        }
        let record = new_image(&pulled.image, layers, &extra);
        let digest = pulled
            .reference
            .digest
            .clone()
            .unwrap_or_else(|| pulled.image.manifest_digest.clone());
        let tags: Vec<_> = names::tag_of(&reference).into_iter().collect();
        let digests = [RepoDigest {
            repository: reference.name(),
            digest: digest.clone(),
        }];
        let recorded = self.state.record_image(&record, &tags, &digests)?;
        Ok(PullResult {
            reference,
            digest,
            id: record.id,
            updated: recorded.new || !recorded.tagged.is_empty(),
        })
    }
}
