//! Image layers on disk and containers' copy-on-write root file systems.
//!
//! This crate owns everything below a layer blob's byte stream:
//! - [`mod@unpack`]: one layer (tar, gzip or zstd) safely unpacked into a fresh
//!   directory, with its diff id computed on the way;
//! - [`layers`]: the layer store, unpacked layers keyed by chain id under a
//!   root directory, committed atomically, shared safely between processes;
//! - [`rootfs`]: a container's root file system, an overlayfs of its
//!   image's layers with a per-container upper directory;
//! - [`mod@import`]: a layer from a root file system tarball (`nook import`);
//! - [`digest`]: diff ids and chain ids (convertible from nook-image's
//!   `oci_spec::image::Digest`).
//!
//! It does not fetch or store compressed blobs (`nook-image` does) nor keep
//! any metadata beyond its directories (the engine's database does).

#![warn(missing_docs)]

pub mod digest;
pub mod import;
pub mod layers;
pub mod rootfs;
mod sys;
pub mod unpack;
mod usage;

pub use digest::{chain_id, chain_ids, Digest, DigestError};
pub use import::import;
pub use layers::{Layer, Store, StoreError, Unpack};
pub use rootfs::{MountOptions, Rootfs};
pub use unpack::{
    unpack, Compression, DevicePolicy, EntryError, OverlayXattrs, UnpackError, UnpackOptions,
    UnpackRequest, Unpacked, Warning,
};
