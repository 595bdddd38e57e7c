//! From an image whose blobs are all in the blob store to an image in the
//! metadata store: its layers unpacked into the layer store (several at
//! once: a layer does not need its parent on disk), each checked against
//! its diff id, then the record that one transaction writes.

use crate::progress::{PullEvent, PullProgress};
use crate::{to_image_digest, Engine, Error, Result};
use nook_image::Image;
use nook_state::{BlobRef, LayerRecord, NewImage};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How many layers unpack at once, at most.
const MAX_PARALLEL: usize = 4;

impl Engine {
    /// Unpack every layer of `image` (those the layer store has are not
    /// read again); its layers as recorded, bottom first.
    pub(crate) fn unpack_image(
        &self,
        image: &Image,
        progress: &dyn PullProgress,
    ) -> Result<Vec<LayerRecord>> {
        let diff_ids = image
            .config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| {
                d.parse::<nook_storage::Digest>()
                    .map_err(|e| Error::invalid("diff id", d, e))
            })
            .collect::<Result<Vec<_>>>()?;
        let chains = nook_storage::chain_ids(&diff_ids);
        let slots: Vec<Mutex<Option<LayerRecord>>> =
            image.layers.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let first_error = Mutex::new(None);
        let parallel = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_PARALLEL)
            .min(image.layers.len());
        std::thread::scope(|s| {
            for _ in 0..parallel {
                s.spawn(|| {
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= image.layers.len() {
                            break;
                        }
                        let parent = i.checked_sub(1).map(|p| &chains[p]);
                        match self.unpack_layer(image, i, parent, &diff_ids[i], progress) {
                            Ok(r) => *lock(&slots[i]) = Some(r),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                lock(&first_error).get_or_insert(e);
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        slots
            .into_iter()
            .map(|s| {
                s.into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .ok_or_else(|| Error::invalid("image", image.id(), "a layer was not unpacked"))
            })
            .collect()
    }

    /// Unpack layer `i` of `image` on top of the chain `parent`.
    fn unpack_layer(
        &self,
        image: &Image,
        i: usize,
        parent: Option<&nook_storage::Digest>,
        diff_id: &nook_storage::Digest,
        progress: &dyn PullProgress,
    ) -> Result<LayerRecord> {
        let layer = &image.layers[i];
        let digest = &layer.digest;
        let chain = nook_storage::chain_id(parent, diff_id);
        let name = digest.to_string();
        let req = nook_storage::UnpackRequest {
            media_type: Some(&layer.media_type),
            expected_diff_id: Some(diff_id),
            name: Some(&name),
        };
        let up = if self.layers.exists(&chain) {
            // no need to open the blob: the store returns what it has
            self.layers.unpack(parent, &req, std::io::empty())?
        } else {
            progress.event(PullEvent::Extracting { digest });
            let blob = self.blobs.open(digest)?;
            self.layers.unpack(
                parent,
                &req,
                std::io::BufReader::with_capacity(1 << 20, blob),
            )?
        };
        for w in &up.warnings {
            let message = w.to_string();
            progress.event(PullEvent::Warning {
                digest,
                message: &message,
            });
        }
        progress.event(PullEvent::Extracted {
            digest,
            created: up.created,
        });
        Ok(LayerRecord {
            chain_id: to_image_digest(&chain)?,
            diff_id: to_image_digest(diff_id)?,
            parent: parent.map(to_image_digest).transpose()?,
            size: up.layer.tar_size,
            blob: digest.clone(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The record of `image`, whose layers are `layers`; `extra` are more blobs
/// it keeps (the index it was pulled through).
pub(crate) fn new_image(image: &Image, layers: Vec<LayerRecord>, extra: &[BlobRef]) -> NewImage {
    let mut blobs = vec![
        BlobRef {
            digest: image.manifest_digest.clone(),
            size: image.manifest.len() as u64,
        },
        BlobRef {
            digest: image.config_digest.clone(),
            size: image.config_raw.len() as u64,
        },
    ];
    blobs.extend(image.layers.iter().map(|l| BlobRef {
        digest: l.digest.clone(),
        size: l.size,
    }));
    blobs.extend(extra.iter().cloned());
    let size = layers.iter().map(|l| l.size).sum::<u64>() + image.config_raw.len() as u64;
    NewImage {
        id: image.config_digest.clone(),
        manifest_digest: image.manifest_digest.clone(),
        manifest_media_type: image.manifest_media_type.clone(),
        size,
        created: image.config.created().as_deref().and_then(parse_time),
        os: image.config.os().to_string(),
        architecture: image.config.architecture().to_string(),
        layers,
        blobs,
    }
}

/// An RFC 3339 time (as configs give `created`) as Unix seconds.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_times_parse() {
        assert_eq!(parse_time("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(parse_time("2024-01-01T01:00:00+01:00"), Some(1_704_067_200));
        assert_eq!(
            parse_time("2024-01-01T00:00:00.123456789Z"),
            Some(1_704_067_200)
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
