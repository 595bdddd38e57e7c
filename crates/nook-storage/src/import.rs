//! `nook import`: one layer from a root file system tarball (tar, gzip or
//! zstd, told apart by their first bytes), unpacked by the same safe path
//! as an image's layers, its diff id computed on the way.

use std::io::Read;

use crate::layers::{Store, StoreError, Unpack};
use crate::unpack::UnpackRequest;

/// Import the tarball read from `reader` as a single-layer image's layer
/// (its chain id is its diff id).  `name` names it in errors (e.g. the
/// file's path).
pub fn import<R: Read>(store: &Store, name: &str, reader: R) -> Result<Unpack, StoreError> {
    let req = UnpackRequest {
        media_type: None,
        expected_diff_id: None,
        name: Some(name),
    };
    store.unpack(None, &req, reader)
}
