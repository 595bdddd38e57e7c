//! What a pull (or load) reports as it goes, per layer, for a front end to
//! draw Docker's lines: downloads (nook-image's events) and unpacking.

use nook_image::{Digest, ProgressEvent};

/// Something that happened to one layer (by its blob's digest).
#[derive(Clone, Copy, Debug)]
pub enum PullEvent<'a> {
    /// A download event (the config's are not reported).
    Blob(ProgressEvent<'a>),
    /// The layer is being unpacked.
    Extracting {
        /// The layer's blob.
        digest: &'a Digest,
    },
    /// The layer is unpacked; `created` false when the layer store had it.
    Extracted {
        /// The layer's blob.
        digest: &'a Digest,
        /// Whether this pull unpacked it.
        created: bool,
    },
    /// Something unpacked otherwise than the layer says (a device node
    /// skipped, an xattr refused), one line.
    Warning {
        /// The layer's blob.
        digest: &'a Digest,
        /// What.
        message: &'a str,
    },
}

/// A receiver of pull events; called from the pull's threads.
pub trait PullProgress: Sync {
    /// One event.
    fn event(&self, event: PullEvent<'_>);
}

/// Progress that goes nowhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl PullProgress for NoProgress {
    fn event(&self, _: PullEvent<'_>) {}
}

/// nook-image's download events passed on as [`PullEvent::Blob`].
pub(crate) struct Downloads<'a>(pub &'a dyn PullProgress);

impl nook_image::Progress for Downloads<'_> {
    fn event(&self, e: ProgressEvent<'_>) {
        self.0.event(PullEvent::Blob(e));
    }
}
