//! What the engine shows about images: `image inspect` (Docker's JSON
//! shape) and `system df` (disk usage, shared layers counted once).

use crate::{names, Engine, Error, Result};
use nook_image::manifest::MAX_DOCUMENT;
use nook_state::ImageRecord;
use serde_json::{json, Value};
use std::collections::HashMap;

/// An image with its config, for `image inspect`.
#[derive(Clone, Debug)]
pub struct ImageDetails {
    /// What the metadata store has.
    pub record: ImageRecord,
    /// Its config, as stored.
    pub config: Value,
}

/// Disk usage, as `system df` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// How many images.
    pub images: usize,
    /// How many of them containers use.
    pub active: usize,
    /// Their size: each layer counted once however many images share it.
    pub size: u64,
    /// What removing the images no container uses would free.
    pub reclaimable: u64,
    /// How many containers (none until issue 14).
    pub containers: usize,
    /// Bytes in the blob store (compressed layers, manifests, configs).
    pub blobs: u64,
}

impl Engine {
    /// The image `name` names, with its config.
    pub fn inspect(&self, name: &str) -> Result<ImageDetails> {
        let id = self.resolve(name)?.id;
        let record = self
            .state
            .image(&id)?
            .ok_or_else(|| Error::NoSuchImage(name.to_string()))?;
        let raw = self.blobs.read_small(&record.id, MAX_DOCUMENT)?;
        let config = serde_json::from_slice(&raw).map_err(|e| {
            Error::Image(nook_image::Error::Invalid {
                what: "image config",
                name: record.id.to_string(),
                message: e.to_string(),
            })
        })?;
        Ok(ImageDetails { record, config })
    }

    /// Disk usage of images.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let images = self.state.images()?;
        let mut layers: HashMap<String, u64> = HashMap::new();
        let mut unused: HashMap<String, u64> = HashMap::new();
        let mut usage = DiskUsage {
            images: images.len(),
            ..Default::default()
        };
        for i in &images {
            let used = !self.state.image_users(&i.id)?.is_empty();
            usage.active += used as usize;
            let config = i.size - i.layers.iter().map(|l| l.size).sum::<u64>();
            usage.size += config;
            for l in &i.layers {
                layers.insert(l.chain_id.to_string(), l.size);
                if !used {
                    unused.insert(l.chain_id.to_string(), l.size);
                }
            }
            if !used {
                usage.reclaimable += config;
            }
        }
        usage.size += layers.values().sum::<u64>();
        usage.reclaimable += unused.values().sum::<u64>();
        usage.blobs = self.blobs.list()?.iter().map(|(_, n)| n).sum();
        Ok(usage)
    }
}

impl ImageDetails {
    /// The image as `docker image inspect` shows it.
    pub fn docker_json(&self) -> Value {
        let r = &self.record;
        let c = &self.config;
        let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut v = json!({
            "Id": r.id.to_string(),
            "RepoTags": r.tags.iter().map(|t| names::familiar(&t.to_string())).collect::<Vec<_>>(),
            "RepoDigests": r.repo_digests.iter()
                .map(|d| format!("{}@{}", names::familiar_repository(&d.repository), d.digest))
                .collect::<Vec<_>>(),
            "Parent": "",
            "Comment": text("comment"),
            "Created": text("created"),
            "Author": text("author"),
            "Config": c.get("config").cloned().unwrap_or(Value::Null),
            "Architecture": r.architecture,
            "Os": r.os,
            "Size": r.size,
            "RootFS": {
                "Type": "layers",
                "Layers": r.layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>(),
            },
            "Manifest": {
                "Digest": r.manifest_digest.to_string(),
                "MediaType": r.manifest_media_type,
            },
            "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
        });
        if let Some(variant) = c.get("variant").and_then(Value::as_str) {
            v["Variant"] = variant.into();
        }
        v
    }
}
