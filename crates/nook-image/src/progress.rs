//! Progress of a pull, reported per layer so that a front end can draw
//! Docker-like lines (`a1b2c3: Downloading 3.1MB/12MB`).

use oci_spec::image::Digest;

/// Something that happened to one blob of a pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressEvent<'a> {
    /// The blob is already in the store: nothing to fetch.
    AlreadyPresent {
        /// The blob.
        digest: &'a Digest,
        /// Its size.
        size: u64,
    },
    /// Its download starts (or resumes at `offset`, bytes already there).
    Started {
        /// The blob.
        digest: &'a Digest,
        /// Its size.
        size: u64,
        /// Bytes already in the store's partial file.
        offset: u64,
    },
    /// More of it has arrived.
    Progress {
        /// The blob.
        digest: &'a Digest,
        /// Bytes so far.
        done: u64,
        /// Its size.
        total: u64,
    },
    /// It is verified and in the store.
    Done {
        /// The blob.
        digest: &'a Digest,
        /// Its size.
        size: u64,
    },
}

/// A receiver of progress events; called from the pull's download threads.
pub trait Progress: Sync {
    /// One event.
    fn event(&self, event: ProgressEvent<'_>);
}

/// Progress that goes nowhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: ProgressEvent<'_>) {}
}
