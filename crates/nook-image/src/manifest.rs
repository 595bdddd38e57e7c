//! Manifests and indexes: media types, parsing and classification (OCI and
//! Docker schema 2; schema 1 refused), layers and their compression,
//! platforms and picking one from an index, and [`Image`], the description
//! of one image whose content is in the store.

use crate::digest::{self, verify_bytes};
use crate::store::Store;
use crate::{Error, Result};
use oci_spec::image::{Descriptor, Digest, ImageConfiguration, ImageIndex, ImageManifest};
use serde::Deserialize;
use std::fmt;

/// Media types nook knows.
pub mod media {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker schema 1 (refused).
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    /// Docker schema 1, signed (refused).
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    /// OCI image configuration.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker image configuration.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// OCI layer, uncompressed tar.
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    /// OCI layer, gzip.
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI layer, zstd.
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// Docker layer, gzip.
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// Docker layer, uncompressed (what `docker save` archives hold).
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
    /// Docker layer, zstd (as containers/image writes it).
    pub const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
    /// What a manifest request accepts.
    pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.v2+json";
}

/// A layer's compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The compression of a layer of `media_type`; an error for foreign,
    /// non-distributable and unknown layers.
    pub fn of_media_type(media_type: &str) -> Result<Compression> {
        let refuse = |reason: &str| {
            Err(Error::Unsupported {
                media_type: media_type.into(),
                reason: reason.into(),
            })
        };
        if media_type.contains(".foreign.") || media_type.contains(".nondistributable.") {
            return refuse("foreign (non-distributable) layers are not pulled");
        }
        match media_type {
            media::OCI_LAYER | media::DOCKER_LAYER => Ok(Compression::None),
            media::OCI_LAYER_GZIP | media::DOCKER_LAYER_GZIP => Ok(Compression::Gzip),
            media::OCI_LAYER_ZSTD | media::DOCKER_LAYER_ZSTD => Ok(Compression::Zstd),
            _ => refuse("not an image layer"),
        }
    }

    /// The compression `head` (a blob's first bytes) starts with.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The OCI layer media type for this compression.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => media::OCI_LAYER,
            Compression::Gzip => media::OCI_LAYER_GZIP,
            Compression::Zstd => media::OCI_LAYER_ZSTD,
        }
    }

    /// The Docker layer media type for this compression.
    pub fn docker_media_type(self) -> &'static str {
        match self {
            Compression::None => media::DOCKER_LAYER,
            Compression::Gzip => media::DOCKER_LAYER_GZIP,
            Compression::Zstd => media::DOCKER_LAYER_ZSTD,
        }
    }
}

/// One layer of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Digest of the blob as stored (compressed, when it is).
    pub digest: Digest,
    /// Size of the blob.
    pub size: u64,
    /// Its media type, as the manifest gives it.
    pub media_type: String,
    /// Its compression.
    pub compression: Compression,
}

impl Layer {
    /// The layer a manifest's descriptor names; foreign layers and layers
    /// to fetch from elsewhere (`urls`) are refused.
    pub fn from_descriptor(d: &Descriptor) -> Result<Layer> {
        let media_type = d.media_type().to_string();
        let compression = Compression::of_media_type(&media_type)?;
        if d.urls().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(Error::Unsupported {
                media_type,
                reason: format!("layer {} is to be fetched from foreign URLs", d.digest()),
            });
        }
        digest::Hasher::for_digest(d.digest())?;
        Ok(Layer {
            digest: d.digest().clone(),
            size: d.size(),
            media_type,
            compression,
        })
    }
}

/// A platform: `linux/amd64`, `linux/arm/v7`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// Architecture, as Go names it (`amd64`, `arm64`).
    pub architecture: String,
    /// Variant (`v7`), if any.
    pub variant: Option<String>,
}

impl Platform {
    /// This machine's platform.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "loongarch64" => "loong64",
            a => a,
        };
        let variant = (arch == "arm").then(|| "v7".to_string());
        Platform {
            os: std::env::consts::OS.to_string(),
            architecture: arch.to_string(),
            variant,
        }
    }

    /// Parse `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty());
        if !ok {
            return Err(Error::invalid("platform", s, "want os/arch[/variant]"));
        }
        let arch = match parts[1] {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        Ok(Platform {
            os: parts[0].into(),
            architecture: arch.into(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }

    /// Whether an index entry's platform is this one (a missing variant
    /// matches any; `arm64` is `arm64/v8`, `amd64` is `amd64/v1`).
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        let norm = |v: Option<&str>| match (arch, v) {
            ("arm64", Some("v8")) | ("amd64", Some("v1")) => None,
            (_, v) => v.map(str::to_string),
        };
        os == self.os
            && arch == self.architecture
            && (self.variant.is_none() || norm(variant) == norm(self.variant.as_deref()))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A parsed manifest document.
#[derive(Clone, Debug)]
pub enum Document {
    /// An image manifest (OCI or Docker schema 2).
    Manifest(Box<ImageManifest>),
    /// An index or manifest list.
    Index(Box<ImageIndex>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<serde::de::IgnoredAny>,
    fs_layers: Option<serde::de::IgnoredAny>,
}

/// Parse a manifest or index named `name`, whose HTTP `Content-Type` (if
/// known) is `content_type`: the media type and the document.
pub fn parse_document(
    name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<(String, Document)> {
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| Error::invalid("manifest", name, e))?;
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| {
            [
                media::OCI_MANIFEST,
                media::OCI_INDEX,
                media::DOCKER_MANIFEST,
                media::DOCKER_LIST,
            ]
            .contains(c)
                || c.contains("manifest.v1")
        });
    let media_type = match (header, &probe.media_type) {
        (Some(h), _) => h.to_string(),
        (None, Some(m)) => m.clone(),
        (None, None) if probe.schema_version == Some(1) || probe.fs_layers.is_some() => {
            media::DOCKER_SCHEMA1.into()
        }
        (None, None) if probe.manifests.is_some() => media::OCI_INDEX.into(),
        (None, None) => media::OCI_MANIFEST.into(),
    };
    let parse_err = |e: serde_json::Error| Error::invalid("manifest", name, e);
    match media_type.as_str() {
        media::OCI_INDEX | media::DOCKER_LIST => Ok((
            media_type,
            Document::Index(Box::new(serde_json::from_slice(bytes).map_err(parse_err)?)),
        )),
        media::OCI_MANIFEST | media::DOCKER_MANIFEST => Ok((
            media_type,
            Document::Manifest(Box::new(serde_json::from_slice(bytes).map_err(parse_err)?)),
        )),
        m if m == media::DOCKER_SCHEMA1
            || m == media::DOCKER_SCHEMA1_SIGNED
            || probe.schema_version == Some(1) =>
        {
            Err(Error::Unsupported {
                media_type,
                reason: format!(
                    "{name} is a Docker schema 1 manifest, which is deprecated and not supported"
                ),
            })
        }
        _ => Err(Error::Unsupported {
            media_type,
            reason: format!("{name} is not an image manifest or index"),
        }),
    }
}

/// The manifest in `index` for `wanted`, or [`Error::NoPlatform`] listing
/// what there is.
pub fn select_platform<'a>(
    index: &'a ImageIndex,
    wanted: &Platform,
    reference: &str,
) -> Result<&'a Descriptor> {
    let images = index.manifests().iter().filter(|d| {
        let m = d.media_type().to_string();
        m == media::OCI_MANIFEST || m == media::DOCKER_MANIFEST
    });
    let mut available = Vec::new();
    for d in images {
        let Some(p) = d.platform() else { continue };
        let (os, arch) = (p.os().to_string(), p.architecture().to_string());
        if wanted.matches(&os, &arch, p.variant().as_deref()) {
            return Ok(d);
        }
        if os != "unknown" {
            let mut s = format!("{os}/{arch}");
            if let Some(v) = p.variant() {
                s = format!("{s}/{v}");
            }
            available.push(s);
        }
    }
    Err(Error::NoPlatform {
        reference: reference.to_string(),
        wanted: wanted.to_string(),
        available,
    })
}

/// One image whose manifest, config and layers are described (and, once
/// pulled or loaded, in the store).
#[derive(Clone, Debug)]
pub struct Image {
    /// The manifest's digest.
    pub manifest_digest: Digest,
    /// The manifest's media type (OCI or Docker schema 2).
    pub manifest_media_type: String,
    /// The manifest as the registry served it.
    pub manifest: Vec<u8>,
    /// The config's digest: the image id.
    pub config_digest: Digest,
    /// The config as stored.
    pub config_raw: Vec<u8>,
    /// The config, parsed.
    pub config: ImageConfiguration,
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
}

impl Image {
    /// The image id (the config's digest), as Docker shows it.
    pub fn id(&self) -> &Digest {
        &self.config_digest
    }

    /// The image whose manifest (by `manifest_digest`) and config are in
    /// `store` (layers need not be).
    pub fn from_store(store: &Store, manifest_digest: &Digest) -> Result<Image> {
        let manifest = store.read_small(manifest_digest, MAX_DOCUMENT)?;
        let name = manifest_digest.to_string();
        let (media_type, doc) = parse_document(&name, None, &manifest)?;
        let Document::Manifest(m) = doc else {
            return Err(Error::invalid(
                "manifest",
                name,
                "is an index, not an image manifest",
            ));
        };
        let (config_desc, layers) = manifest_parts(&name, &m)?;
        let config_raw = store.read_small(config_desc.digest(), MAX_DOCUMENT)?;
        Image::assemble(
            manifest_digest.clone(),
            media_type,
            manifest,
            &config_desc,
            config_raw,
            layers,
        )
    }

    /// An image from its parts, the config checked against its descriptor
    /// and its layers against the config's diff_ids.
    pub fn assemble(
        manifest_digest: Digest,
        manifest_media_type: String,
        manifest: Vec<u8>,
        config_desc: &Descriptor,
        config_raw: Vec<u8>,
        layers: Vec<Layer>,
    ) -> Result<Image> {
        verify_bytes(config_desc.digest(), Some(config_desc.size()), &config_raw)?;
        let config = parse_config(config_desc.digest(), &config_raw)?;
        let diff_ids = config.rootfs().diff_ids().len();
        if diff_ids != layers.len() {
            return Err(Error::invalid(
                "image",
                &manifest_digest,
                format!(
                    "{} layers but its config {} has {diff_ids} diff_ids",
                    layers.len(),
                    config_desc.digest()
                ),
            ));
        }
        Ok(Image {
            manifest_digest,
            manifest_media_type,
            manifest,
            config_digest: config_desc.digest().clone(),
            config_raw,
            config,
            layers,
        })
    }
}

/// The largest manifest, index or config nook reads.
pub const MAX_DOCUMENT: u64 = 4 << 20;

/// A config, parsed.
pub fn parse_config(digest: &Digest, raw: &[u8]) -> Result<ImageConfiguration> {
    serde_json::from_slice(raw).map_err(|e| Error::invalid("image config", digest, e))
}

/// A manifest's config descriptor and layers; an error for a manifest that
/// is not a container image (an artifact) or has unsupported layers.
pub fn manifest_parts(name: &str, m: &ImageManifest) -> Result<(Descriptor, Vec<Layer>)> {
    let config = m.config();
    let ct = config.media_type().to_string();
    if ct != media::OCI_CONFIG && ct != media::DOCKER_CONFIG {
        return Err(Error::Unsupported {
            media_type: ct,
            reason: format!("{name} is not a container image (its config is not an image config)"),
        });
    }
    digest::Hasher::for_digest(config.digest())?;
    let layers = m
        .layers()
        .iter()
        .map(Layer::from_descriptor)
        .collect::<Result<Vec<_>>>()?;
    Ok((config.clone(), layers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(entries: &[(&str, &str, Option<&str>)]) -> ImageIndex {
        let manifests: Vec<_> = entries
            .iter()
            .enumerate()
            .map(|(i, (os, arch, v))| {
                let mut p = serde_json::json!({"os": os, "architecture": arch});
                if let Some(v) = v {
                    p["variant"] = (*v).into();
                }
                serde_json::json!({
                    "mediaType": media::OCI_MANIFEST,
                    "digest": digest::sha256(&[i as u8]).to_string(),
                    "size": 10, "platform": p,
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
            .unwrap()
    }

    #[test]
    fn platform_selection() {
        let idx = index(&[
            ("linux", "arm", Some("v6")),
            ("linux", "arm64", Some("v8")),
            ("linux", "amd64", None),
        ]);
        let pick = |p: &str| {
            select_platform(&idx, &Platform::parse(p).unwrap(), "r").map(|d| d.digest().clone())
        };
        assert_eq!(pick("linux/amd64").unwrap(), digest::sha256(&[2]));
        assert_eq!(pick("linux/arm64").unwrap(), digest::sha256(&[1]));
        assert_eq!(pick("linux/aarch64/v8").unwrap(), digest::sha256(&[1]));
        assert_eq!(pick("linux/arm/v6").unwrap(), digest::sha256(&[0]));
        let e = pick("linux/arm/v7").unwrap_err();
        assert!(matches!(e, Error::NoPlatform { .. }));
        assert_eq!(
            e.to_string(),
            "no image for platform linux/arm/v7 in r (available: linux/arm/v6, linux/arm64/v8, linux/amd64)"
        );
        assert!(pick("windows/amd64").is_err());
        assert!(Platform::parse("linux").is_err());
        #[cfg(target_arch = "x86_64")]
        assert_eq!(Platform::host().to_string(), "linux/amd64");
    }

    #[test]
    fn documents_are_classified() {
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
        let (t, d) = parse_document("m", Some(media::DOCKER_MANIFEST), m).unwrap();
        assert_eq!(t, media::DOCKER_MANIFEST);
        assert!(matches!(d, Document::Manifest(_)));
        // no header, no mediaType: by structure
        let (t, _) = parse_document("m", Some("application/octet-stream"), m).unwrap();
        assert_eq!(t, media::OCI_MANIFEST);
        let i = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(parse_document("i", None, i).unwrap().0, media::OCI_INDEX);
        let s1 = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
        let e = parse_document("s1", None, s1).unwrap_err();
        assert!(e.to_string().contains("schema 1"), "{e}");
        let e = parse_document("s1", Some(media::DOCKER_SCHEMA1_SIGNED), s1).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }));
        assert!(parse_document("bad", None, b"{").is_err());
    }

    #[test]
    fn layer_media_types() {
        assert_eq!(
            Compression::of_media_type(media::OCI_LAYER_ZSTD).unwrap(),
            Compression::Zstd
        );
        assert_eq!(
            Compression::of_media_type(media::DOCKER_LAYER_GZIP).unwrap(),
            Compression::Gzip
        );
        assert_eq!(
            Compression::of_media_type(media::OCI_LAYER).unwrap(),
            Compression::None
        );
        let e =
            Compression::of_media_type("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
                .unwrap_err();
        assert!(e.to_string().contains("foreign"), "{e}");
        assert!(Compression::of_media_type(
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        )
        .is_err());
        assert!(
            Compression::of_media_type("application/vnd.cncf.helm.chart.content.v1.tar+gzip")
                .is_err()
        );
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"bin/"), Compression::None);
    }
}
