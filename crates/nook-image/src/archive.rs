//! Image archives, for `nook load` and `nook save`: `docker save` tars
//! (`manifest.json`, configs, layer tars; old and Docker 25+ layouts) and
//! OCI image layouts (a directory or a tar: `oci-layout`, `index.json`,
//! `blobs/`) are read into the store, each image described as a pull
//! describes it; and OCI (`oci-archive`) and Docker (`docker-archive`)
//! tars are written from the store.  Both ways stream: no layer is held in
//! memory, only the small JSON documents.

mod read;
mod write;

pub use read::load_archive;
pub use write::{write_docker_archive, write_oci_archive};

use crate::manifest::Image;

/// One image read from an archive.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The names the archive gives it (`RepoTags` of a Docker archive; the
    /// `io.containerd.image.name` or `org.opencontainers.image.ref.name`
    /// annotation of an OCI layout), as written there.
    pub repo_tags: Vec<String>,
    /// The image, all of it now in the store.  For a Docker archive, whose
    /// images have no manifest, an OCI manifest is made (and stored).
    pub image: Image,
}

/// One image to write into an archive.
#[derive(Clone, Copy, Debug)]
pub struct SaveImage<'a> {
    /// The image (its blobs in the store).
    pub image: &'a Image,
    /// The names to give it (full references, `docker.io/library/x:tag`).
    pub names: &'a [String],
}

/// The annotation OCI layouts name an image by.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation containerd and Docker put the full image name in.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
