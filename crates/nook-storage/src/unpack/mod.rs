//! Unpacking one layer: a tar stream (uncompressed, gzip or zstd) into a
//! fresh directory, computing its diff id on the way.
//!
//! The `tar` crate only parses headers; every entry is created here, each
//! path resolved inside the layer directory with `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)`:
//! - an entry whose path climbs out with `..` or is absolute is refused;
//! - an entry (or a hard link's target) whose path goes through a symlink
//!   is refused, never followed: a layer unpacks into its own empty
//!   directory, so a symlink on an entry's way can only come from the same
//!   layer, which no tar writer walking a real tree produces;
//! - a later entry replaces an earlier one at the same path (tar and
//!   Docker semantics): the old one is unlinked (a directory removed with
//!   its content) and never written through, except that a directory over
//!   a directory merges;
//! - directories' modes and times are set after their content, each
//!   re-opened without following symlinks and checked to be the same inode;
//! - `.wh.NAME` becomes an overlayfs whiteout (a 0:0 character device) and
//!   `.wh..wh..opq` the `overlay.opaque` xattr on its directory;
//! - device nodes are made where the kernel lets the caller, per
//!   [`DevicePolicy`].
//!
//! On any error the directory is removed; nothing is written outside it.
//!
//! Two threads share the work (see `pipe`): the caller's reads, decompresses
//! and hashes the stream, a second one (scoped to the call) makes the
//! entries, so that hashing and decompression overlap the file system's
//! work.

mod extract;
pub(crate) mod paths;
mod pipe;

use std::io::{self, BufReader, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nook_sys::Errno;

use crate::digest::Digest;
use extract::Extractor;

/// How a layer's tar stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar stream.
    Uncompressed,
    /// gzip (one or more members).
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The compression an OCI or Docker layer media type declares; `None`
    /// for a media type that is not a known layer type.
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        match media_type {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::Uncompressed),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                Some(Compression::Gzip)
            }
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
            | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// What the first bytes of a stream are: gzip's and zstd's magic, or a
    /// tar header (`ustar` at offset 257, or an all-zero block: an empty
    /// archive); `None` when they are none of these.
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if (head.len() >= 262 && &head[257..262] == b"ustar")
            || (head.len() >= 512 && head[..512].iter().all(|&b| b == 0))
        {
            Some(Compression::Uncompressed)
        } else {
            None
        }
    }
}

/// What to do with character and block devices in a layer (FIFOs are
/// always made: anyone may).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DevicePolicy {
    /// Make them; where the kernel refuses (`EPERM`: rootless, no
    /// `CAP_MKNOD`) skip them with a [`Warning::DeviceSkipped`].
    #[default]
    CreateOrSkip,
    /// Never make them; each is a [`Warning::DeviceSkipped`].
    Skip,
    /// Refuse the layer ([`EntryError::DeviceRefused`]).
    Refuse,
}

/// Which xattr marks an opaque directory: overlayfs reads
/// `trusted.overlay.opaque`, or `user.overlay.opaque` when mounted with
/// `userxattr` (rootless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverlayXattrs {
    /// `trusted.overlay.*` (needs `CAP_SYS_ADMIN`).
    #[default]
    Trusted,
    /// `user.overlay.*`, for an overlay mounted with `userxattr`.
    User,
}

impl OverlayXattrs {
    /// The opaque-directory xattr's name.
    pub fn opaque(self) -> &'static std::ffi::CStr {
        match self {
            OverlayXattrs::Trusted => c"trusted.overlay.opaque",
            OverlayXattrs::User => c"user.overlay.opaque",
        }
    }
}

/// How to unpack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackOptions {
    /// Give each entry the uid/gid its header says (`lchown`); off for a
    /// caller that cannot (rootless without an id mapping): everything is
    /// then owned by the caller.
    pub chown: bool,
    /// Character and block devices.
    pub devices: DevicePolicy,
    /// The opaque-directory xattr to write.
    pub overlay_xattrs: OverlayXattrs,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            chown: true,
            devices: DevicePolicy::default(),
            overlay_xattrs: OverlayXattrs::default(),
        }
    }
}

/// What is unpacked.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnpackRequest<'a> {
    /// The layer's media type; the stream's magic bytes are sniffed when it
    /// is absent or unknown, and win over it when they disagree (as
    /// Docker's decompression does).
    pub media_type: Option<&'a str>,
    /// The diff id the layer must have; the unpack fails if it has another.
    pub expected_diff_id: Option<&'a Digest>,
    /// What to call the layer in errors (e.g. its blob digest); by default
    /// its expected diff id.
    pub name: Option<&'a str>,
}

impl UnpackRequest<'_> {
    /// The layer's name in errors.
    fn layer_name(&self) -> String {
        match (self.name, self.expected_diff_id) {
            (Some(n), _) => n.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => "(unnamed)".to_string(),
        }
    }
}

/// Something unpacked differently from what the layer says, on purpose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// A character or block device was not made.
    #[error("entry {entry:?}: device node skipped ({reason})")]
    DeviceSkipped {
        /// The entry.
        entry: String,
        /// Why: the policy, or the kernel's refusal.
        reason: String,
    },
    /// An xattr the file system or the caller's privileges refused.
    #[error("entry {entry:?}: xattr {name} not set: {errno}")]
    XattrNotSet {
        /// The entry.
        entry: String,
        /// The xattr.
        name: String,
        /// The kernel's answer.
        errno: Errno,
    },
    /// An `overlay.*` xattr in the layer: an image does not get to steer
    /// overlayfs (redirects, metacopy), so it is dropped.
    #[error("entry {entry:?}: overlay xattr {name} ignored")]
    OverlayXattrIgnored {
        /// The entry.
        entry: String,
        /// The xattr.
        name: String,
    },
}

/// The result of a successful unpack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// The sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// The uncompressed tar stream's length.
    pub tar_size: u64,
    /// How the stream was compressed.
    pub compression: Compression,
    /// How many tar entries were read.
    pub entries: u64,
    /// What was not unpacked as the layer says.
    pub warnings: Vec<Warning>,
}

/// Why one entry of a layer was refused or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// `..` climbs above the layer's root.
    #[error("path leaves the layer")]
    LeavesLayer,
    /// An absolute path.
    #[error("absolute path")]
    Absolute,
    /// A component of the path is a symlink (made by this layer).
    #[error("path goes through a symlink")]
    ThroughSymlink,
    /// A component of the path is not a directory.
    #[error("a parent is not a directory")]
    ParentNotDir,
    /// A component over 255 bytes or a path over 4095.
    #[error("name too long")]
    NameTooLong,
    /// An empty path.
    #[error("empty name")]
    EmptyName,
    /// A NUL byte in a path or link target.
    #[error("NUL byte in a name")]
    NulInName,
    /// `./` (the layer's root) as something other than a directory.
    #[error("names the layer's root but is not a directory")]
    RootNotDir,
    /// A hard link's target is absolute or climbs out.
    #[error("hard link target {0:?} leaves the layer")]
    LinkLeavesLayer(String),
    /// A hard link's target goes through a symlink.
    #[error("hard link target {0:?} goes through a symlink")]
    LinkThroughSymlink(String),
    /// A hard link's target is not in the layer (yet).
    #[error("hard link target {0:?} does not exist in the layer")]
    LinkMissing(String),
    /// A link entry without a target.
    #[error("link without a target")]
    NoLinkTarget,
    /// `.wh.`, `.wh..` or `.wh...`.
    #[error("invalid whiteout name")]
    BadWhiteout,
    /// A device node under [`DevicePolicy::Refuse`].
    #[error("device node refused")]
    DeviceRefused,
    /// A tar entry type this unpacker does not make.
    #[error("unsupported entry type {0:?}")]
    UnsupportedType(char),
    /// A uid or gid that does not fit 32 bits.
    #[error("uid or gid {0} out of range")]
    IdOutOfRange(u64),
    /// A header field that does not parse.
    #[error("bad header: {0}")]
    BadHeader(String),
    /// A syscall failed.
    #[error("{op}: {errno}")]
    Sys {
        /// What was being done.
        op: &'static str,
        /// The kernel's answer.
        errno: Errno,
    },
    /// Reading the entry's data failed (the stream is broken).
    #[error("reading: {0}")]
    Stream(io::Error),
}

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// One entry was refused or failed.
    #[error("layer {layer}: entry {entry:?}: {error}")]
    Entry {
        /// The layer.
        layer: String,
        /// The entry's path as the layer spells it.
        entry: String,
        /// What was wrong.
        error: EntryError,
    },
    /// The stream's sha256 is not the expected diff id.
    #[error("layer {layer}: diff id is {actual}, expected {expected}")]
    DiffIdMismatch {
        /// The layer.
        layer: String,
        /// The diff id asked for.
        expected: Digest,
        /// The diff id of what was read.
        actual: Digest,
    },
    /// Reading, decompressing or parsing the stream failed.
    #[error("layer {layer}: reading the layer stream: {source}")]
    Stream {
        /// The layer.
        layer: String,
        /// The reader's, decompressor's or tar parser's error.
        source: io::Error,
    },
    /// Neither the media type nor the first bytes say what the stream is.
    #[error("layer {layer}: not a tar, gzip or zstd stream (media type {media_type})")]
    UnknownFormat {
        /// The layer.
        layer: String,
        /// The media type given, or `none`.
        media_type: String,
    },
    /// The thread that makes the entries could not be started.
    #[error("layer {layer}: starting the unpack thread: {source}")]
    Thread {
        /// The layer.
        layer: String,
        /// The error.
        source: io::Error,
    },
    /// The destination directory could not be made or finished.
    #[error("layer {layer}: {op} {}: {errno}", path.display())]
    Dest {
        /// The layer.
        layer: String,
        /// What was being done.
        op: &'static str,
        /// The directory.
        path: PathBuf,
        /// The kernel's answer.
        errno: Errno,
    },
}

/// Unpack the layer read from `reader` into `dest`, a directory that must
/// not exist yet (its parent must).  `reader` is read, decompressed and
/// hashed on the calling thread while a second thread (scoped to this
/// call) makes the entries.  On error `dest` is removed.
pub fn unpack<R: Read>(
    reader: R,
    dest: &Path,
    req: &UnpackRequest<'_>,
    opts: &UnpackOptions,
) -> Result<Unpacked, UnpackError> {
    let layer = req.layer_name();
    let root = create_dest(dest).map_err(|(op, errno)| UnpackError::Dest {
        layer: layer.clone(),
        op,
        path: dest.to_path_buf(),
        errno,
    })?;
    let r = unpack_into(reader, &root, req, opts, &layer);
    if r.is_err() {
        drop(root);
        let _ = std::fs::remove_dir_all(dest);
    }
    r
}

/// Make `dest` (0700 until its `./` entry, if any, says otherwise) and open it.
fn create_dest(dest: &Path) -> Result<OwnedFd, (&'static str, Errno)> {
    let c = nook_sys::fd::cstr(dest).map_err(|e| ("mkdir", e))?;
    // SAFETY: valid C string.
    if unsafe { libc::mkdir(c.as_ptr(), 0o700) } < 0 {
        return Err(("mkdir", Errno::last()));
    }
    let fd = nook_sys::fd::openat(
        None,
        dest,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )
    .map_err(|e| ("open", e))?;
    // A set-group-ID parent would hand its group (and the bit) down.
    crate::sys::fchmod(fd.as_fd(), 0o700).map_err(|e| ("chmod", e))?;
    Ok(fd)
}

/// The unpack proper, into the opened `root`: this thread reads,
/// decompresses and hashes the stream while a second one, scoped to this
/// call, makes the entries.
fn unpack_into<R: Read>(
    reader: R,
    root: &OwnedFd,
    req: &UnpackRequest<'_>,
    opts: &UnpackOptions,
    layer: &str,
) -> Result<Unpacked, UnpackError> {
    let stream_err = |source: io::Error| UnpackError::Stream {
        layer: layer.to_string(),
        source,
    };
    let (compression, stream) = open_stream(reader, req.media_type).map_err(|e| match e {
        Some(e) => stream_err(e),
        None => UnpackError::UnknownFormat {
            layer: layer.to_string(),
            media_type: req.media_type.unwrap_or("none").to_string(),
        },
    })?;
    // Decompressing costs more than making the files: the consumer hashes.
    let hash_on = match compression {
        Compression::Uncompressed => pipe::HashOn::Producer,
        Compression::Gzip | Compression::Zstd => pipe::HashOn::Consumer,
    };
    let (producer, consumer) = pipe::pipe(hash_on);
    let root = root.as_fd();
    let (made, produced) = std::thread::scope(|s| {
        let making = std::thread::Builder::new()
            .name("nook-unpack".into())
            .stack_size(EXTRACT_STACK)
            .spawn_scoped(s, move || extract_all(consumer, root, opts, layer))
            .map_err(|source| UnpackError::Thread {
                layer: layer.to_string(),
                source,
            })?;
        let produced = producer.run(stream);
        // A panic there is a bug: pass it on rather than hide it.
        let made = making
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        Ok((made, produced))
    })?;
    let Made {
        entries,
        warnings,
        hash,
    } = made?;
    // extract_all read the stream to its end without an error, so the
    // whole stream was handed over and hashed on one side.
    let (diff_id, tar_size) = match produced {
        pipe::Produced::Whole(h) => h.or(hash),
        pipe::Produced::ReadFailed | pipe::Produced::HungUp => None,
    }
    .ok_or_else(|| stream_err(io::ErrorKind::UnexpectedEof.into()))?;
    if let Some(want) = req.expected_diff_id {
        if *want != diff_id {
            return Err(UnpackError::DiffIdMismatch {
                layer: layer.to_string(),
                expected: *want,
                actual: diff_id,
            });
        }
    }
    Ok(Unpacked {
        diff_id,
        tar_size,
        compression,
        entries,
        warnings,
    })
}

/// The stack of the thread that makes the entries (reserved, not touched:
/// deep trees of a hostile layer are removed recursively).
const EXTRACT_STACK: usize = 8 << 20;

/// What [`extract_all`] made.
struct Made {
    /// The number of tar entries.
    entries: u64,
    warnings: Vec<Warning>,
    /// The stream's sha256 and length, when the consumer hashed it.
    hash: Option<(Digest, u64)>,
}

/// Make every entry of the tar stream `src` in `root`, then read the rest
/// of the stream (the diff id covers the padding after the end marker).
fn extract_all(
    src: pipe::Consumer,
    root: BorrowedFd<'_>,
    opts: &UnpackOptions,
    layer: &str,
) -> Result<Made, UnpackError> {
    let stream_err = |source: io::Error| UnpackError::Stream {
        layer: layer.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(src);
    let mut ex = Extractor::new(root, opts);
    let mut entries = 0u64;
    for e in archive.entries().map_err(stream_err)? {
        let mut e = e.map_err(stream_err)?;
        entries += 1;
        ex.entry(&mut e).map_err(|error| match error {
            EntryError::Stream(source) => stream_err(source),
            error => UnpackError::Entry {
                layer: layer.to_string(),
                entry: paths::label(&e.path_bytes()),
                error,
            },
        })?;
    }
    let warnings = ex.finish().map_err(|(entry, error)| UnpackError::Entry {
        layer: layer.to_string(),
        entry,
        error,
    })?;
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(stream_err)?;
    Ok(Made {
        entries,
        warnings,
        hash: rest.finish(),
    })
}

/// Input buffer: large reads, few syscalls.
const READ_BUF: usize = 1 << 20;

/// The decompressed stream of `reader`, and its compression; `Err(None)`
/// when nothing says what it is.
fn open_stream<'r, R: Read + 'r>(
    mut reader: R,
    media_type: Option<&str>,
) -> Result<(Compression, Box<dyn Read + 'r>), Option<io::Error>> {
    // The first 512 bytes (one tar header) say what the stream is; they are
    // put back in front of the rest.
    let mut head = Vec::with_capacity(512);
    (&mut reader)
        .take(512)
        .read_to_end(&mut head)
        .map_err(Some)?;
    let declared = media_type.and_then(Compression::from_media_type);
    let c = Compression::sniff(&head).or(declared).ok_or(None)?;
    let src = BufReader::with_capacity(READ_BUF, io::Cursor::new(head).chain(reader));
    let out: Box<dyn Read + 'r> = match c {
        Compression::Uncompressed => Box::new(src),
        // (The producer asks for whole chunks: no buffer needed after the
        // decoder.)
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(src)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(src).map_err(Some)?),
    };
    Ok((c, out))
}

#[cfg(test)]
mod tests {
    use super::Compression;

    #[test]
    fn media_types() {
        for (mt, c) in [
            (
                "application/vnd.oci.image.layer.v1.tar",
                Compression::Uncompressed,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar",
                Compression::Uncompressed,
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+gzip",
                Compression::Gzip,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                Compression::Gzip,
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+zstd",
                Compression::Zstd,
            ),
            // containers/image writes zstd layers into Docker manifests too
            (
                "application/vnd.docker.image.rootfs.diff.tar.zstd",
                Compression::Zstd,
            ),
        ] {
            assert_eq!(Compression::from_media_type(mt), Some(c), "{mt}");
        }
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.config.v1+json"),
            None
        );
    }
}
