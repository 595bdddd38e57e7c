//! OCI image layouts built in the test: layers made from /bin/busybox and
//! small files, gzip, zstd or uncompressed, with configs and manifests, and
//! indexes of several platforms.

use nook_image::digest::sha256;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How a layer is compressed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

impl Comp {
    pub fn media_type(self) -> &'static str {
        match self {
            Comp::None => "application/vnd.oci.image.layer.v1.tar",
            Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// A ustar header with its numeric fields (owner, time) filled, as every
/// real tar writer fills them.
pub fn header() -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_mode(0o644);
    h
}

/// A tar holding /bin/busybox and bin/sh linking to it.
pub fn busybox_layer() -> Vec<u8> {
    busybox_layer_with_dirs(&[])
}

/// [`busybox_layer`] with the directories `dirs` too (each like `"tmp/"`,
/// mode 0755), after `bin/`.
pub fn busybox_layer_with_dirs(dirs: &[&str]) -> Vec<u8> {
    super::need("/bin/busybox", "busybox-static");
    let data = std::fs::read("/bin/busybox").unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for d in std::iter::once(&"bin/").chain(dirs) {
        let mut h = header();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, d, std::io::empty()).unwrap();
    }
    let mut h = header();
    h.set_mode(0o755);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, "bin/busybox", &data[..]).unwrap();
    let mut h = header();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "bin/sh", "busybox").unwrap();
    b.into_inner().unwrap()
}

/// A tar holding one file.
pub fn file_layer(path: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header();
    h.set_mode(0o644);
    h.set_size(content.len() as u64);
    b.append_data(&mut h, path, content).unwrap();
    b.into_inner().unwrap()
}

pub fn compress(tar: &[u8], c: Comp) -> Vec<u8> {
    match c {
        Comp::None => tar.to_vec(),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(tar).unwrap();
            e.finish().unwrap()
        }
        Comp::Zstd => zstd::encode_all(tar, 3).unwrap(),
    }
}

/// A descriptor: (media type, digest, size).
#[derive(Clone, Debug)]
pub struct Desc {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Desc {
    pub fn json(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// An image built into a layout.
#[derive(Clone, Debug)]
pub struct Built {
    pub manifest: Desc,
    pub config: Desc,
    pub layers: Vec<Desc>,
    pub diff_ids: Vec<String>,
}

/// An OCI layout directory being written.
pub struct Layout {
    pub dir: PathBuf,
    entries: Vec<serde_json::Value>,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
            entries: Vec::new(),
        }
    }

    pub fn blob(&self, media_type: &str, data: &[u8]) -> Desc {
        let d = sha256(data);
        std::fs::write(self.dir.join("blobs/sha256").join(d.digest()), data).unwrap();
        Desc {
            media_type: media_type.into(),
            digest: d.to_string(),
            size: data.len() as u64,
        }
    }

    /// An image for `arch` of `layers` (uncompressed tars and how to
    /// compress each).
    pub fn image(&self, arch: &str, layers: &[(Vec<u8>, Comp)]) -> Built {
        let config = json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "history": layers.iter().map(|_| json!({"created_by": "nook-image test"})).collect::<Vec<_>>(),
        });
        self.write_image(layers, config)
    }

    /// An image for linux/amd64 of `layers` (uncompressed tars and how to
    /// compress each) whose config's `config` section (Cmd, Env, User,
    /// WorkingDir, Volumes, Labels, ...) is `config`, with no history.
    pub fn image_with_config(
        &self,
        layers: &[(Vec<u8>, Comp)],
        config: serde_json::Value,
    ) -> Built {
        let config = json!({"architecture": "amd64", "os": "linux", "config": config});
        self.write_image(layers, config)
    }

    /// The layers' blobs, `config` (its rootfs filled in here with the
    /// layers' diff ids) and a manifest of them, written as blobs.
    fn write_image(&self, layers: &[(Vec<u8>, Comp)], mut config: serde_json::Value) -> Built {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (tar, c) in layers {
            diff_ids.push(sha256(tar).to_string());
            descs.push(self.blob(c.media_type(), &compress(tar, *c)));
        }
        config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        let config = self.blob(
            "application/vnd.oci.image.config.v1+json",
            config.to_string().as_bytes(),
        );
        let manifest = json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.json(), "layers": descs.iter().map(Desc::json).collect::<Vec<_>>(),
        });
        let manifest = self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        );
        Built {
            manifest,
            config,
            layers: descs,
            diff_ids,
        }
    }

    /// An index of images, each with its (os, arch).
    pub fn index(&self, images: &[(&Built, &str)]) -> Desc {
        let manifests: Vec<_> = images
            .iter()
            .map(|(b, arch)| {
                let mut d = b.manifest.json();
                d["platform"] = json!({"os": "linux", "architecture": arch});
                d
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        self.blob(
            "application/vnd.oci.image.index.v1+json",
            index.to_string().as_bytes(),
        )
    }

    /// Name `desc` `tag` in index.json (written at once).
    pub fn tag(&mut self, tag: &str, desc: &Desc) {
        let mut d = desc.json();
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.entries.push(d);
        let index = json!({"schemaVersion": 2, "manifests": self.entries});
        std::fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
    }
}

/// Push `layout`'s `tag` to `registry/repo:tag` with skopeo.
pub fn push(layout: &Layout, tag: &str, registry: &str, repo: &str, all: bool) {
    let src = format!("oci:{}:{tag}", layout.dir.display());
    let dest = format!("docker://{registry}/{repo}:{tag}");
    super::skopeo_copy(&src, &dest, if all { &["--all"] } else { &[] });
}

/// Push one image straight through the distribution API (monolithic blob
/// uploads), keeping its layers exactly as they are — skopeo would
/// compress an uncompressed one.
pub fn push_raw(layout: &Layout, built: &Built, registry: &str, repo: &str, tag: &str) {
    let agent = ureq::Agent::new_with_defaults();
    let mut blobs = built.layers.clone();
    blobs.push(built.config.clone());
    for b in &blobs {
        let data = std::fs::read(layout.dir.join("blobs/sha256").join(&b.digest[7..])).unwrap();
        let resp = agent
            .post(&format!("http://{registry}/v2/{repo}/blobs/uploads/"))
            .send_empty()
            .unwrap();
        let loc = resp
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let loc = if loc.starts_with('/') {
            format!("http://{registry}{loc}")
        } else {
            loc
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        agent
            .put(&format!("{loc}{sep}digest={}", b.digest))
            .send(&data[..])
            .unwrap();
    }
    let m = std::fs::read(
        layout
            .dir
            .join("blobs/sha256")
            .join(&built.manifest.digest[7..]),
    )
    .unwrap();
    agent
        .put(&format!("http://{registry}/v2/{repo}/manifests/{tag}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .send(&m[..])
        .unwrap();
}
