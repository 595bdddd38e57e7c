//! `cp`: files between a container and the host, in both directions, as
//! a tar stream, with Docker's rules for what lands where.
//!
//! The container's side runs in a child process that sees the
//! container's file system as `/`: a running container's own mount
//! namespace (so a path under a volume, a bind or a tmpfs is the
//! volume's), or, for a stopped one, a private mount namespace with its
//! root mounted, its binds and volumes mounted on it, chrooted into.
//! There, and on the host's side, every path is resolved with
//! `RESOLVE_IN_ROOT`: a link in the container to `/etc/shadow` is the
//! container's `/etc/shadow`, `../../..` stops at its root, and a tar's
//! entries never land outside where they are unpacked.  Trees are walked
//! by descriptor with `O_NOFOLLOW` ([`super::tree`]).

use super::tree::{cname, list, lstat_at, make_at, open_at, set_attrs};
use super::LiveStatus;
use crate::{Engine, Error, Result};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How `cp` copies.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyOptions {
    /// `-a`: keep the owners (otherwise files copied in belong to root
    /// and files copied out to the caller).
    pub archive: bool,
    /// `-L`: follow a link given as the source.
    pub follow_link: bool,
}

/// One side of a host copy: a path, or a tar on stdin/stdout (`-`).
#[derive(Debug)]
pub enum HostEnd {
    /// A host path.
    Path(PathBuf),
    /// `-`: a tar stream.
    Stream(File),
}

type Res<T = ()> = std::result::Result<T, String>;

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("create", "a pipe")(e.into()))
}

fn msg<'a>(op: &str, p: &'a Path) -> impl Fn(io::Error) -> String + 'a {
    let op = op.to_string();
    move |e| format!("{op} {}: {e}", p.display())
}

/// What the first entry of a stream is: its top name and whether it is a
/// directory.
struct Top {
    name: OsString,
    dir: bool,
}

/// Where a stream's entries go: `root` (a directory descriptor) and the
/// path below it that the top entry becomes (`None`: the entries as they
/// are, for a tar from stdin).
struct Target<'a> {
    root: BorrowedFd<'a>,
    to: PathBuf,
    rename_top: Option<OsString>,
    owner: Option<(u32, u32)>,
    /// Device nodes are made (not on the host: a node a container made
    /// must not become a way into the host's devices).
    devices: bool,
}

/// Docker's rule: where a copy of `top` lands, given what `dest` (a path
/// below `root`, resolved in it) is now.
fn place(root: BorrowedFd<'_>, dest: &str, top: &Top, contents_only: bool) -> Res<PathBuf> {
    let clean = nook_sys::path::clean_relative(Path::new(dest));
    let st = nook_sys::path::open_in_root(root, &clean, libc::O_PATH, 0)
        .and_then(|fd| nook_sys::path::fstat(fd.as_fd()));
    match st {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => Ok(match contents_only {
            true => clean,
            false => clean.join(&top.name),
        }),
        Ok(_) if top.dir => Err(format!("cannot copy a directory to a file: {dest}")),
        Ok(_) => Ok(clean),
        Err(nook_sys::Errno::ENOENT) => {
            if dest.ends_with('/') && !top.dir {
                return Err(format!("destination directory {dest} does not exist"));
            }
            let parent = clean.parent().unwrap_or(Path::new(""));
            nook_sys::path::open_in_root(root, parent, libc::O_PATH | libc::O_DIRECTORY, 0)
                .map_err(|e| format!("the parent of {dest}: {}", io::Error::from(e)))?;
            Ok(clean)
        }
        Err(e) => Err(format!("{dest}: {}", io::Error::from(e))),
    }
}

/// `base/rel` (`base` itself when `rel` is empty).
fn join(base: &Path, rel: &Path) -> PathBuf {
    match rel.as_os_str().is_empty() {
        true => base.to_path_buf(),
        false => base.join(rel),
    }
}

/// `rel` less its first component when that is `top`.
fn strip_top<'p>(rel: &'p Path, top: Option<&OsStr>) -> &'p Path {
    let mut parts = rel.components();
    match (top, parts.next()) {
        (Some(t), Some(first)) if first.as_os_str() == t => parts.as_path(),
        _ => rel,
    }
}

/// Unpack `tar` into `t`.  Each entry's parent is made and resolved
/// inside `t.root`; the entry itself is made there without following a
/// link (a link in the way is replaced).
fn unpack(t: &Target<'_>, tar: &mut dyn Read) -> Res {
    let mut archive = tar::Archive::new(tar);
    let entries = archive
        .entries()
        .map_err(|e| format!("read the archive: {e}"))?;
    for entry in entries {
        let mut e = entry.map_err(|e| format!("read the archive: {e}"))?;
        let raw = e.path_bytes().into_owned();
        let rel = nook_sys::path::clean_relative(Path::new(OsStr::from_bytes(&raw)));
        let dest = join(&t.to, strip_top(&rel, t.rename_top.as_deref()));
        unpack_entry(t, &dest, &mut e).map_err(|err| format!("{}: {err}", dest.display()))?;
    }
    Ok(())
}

fn unpack_entry(
    t: &Target<'_>,
    dest: &Path,
    e: &mut tar::Entry<'_, &mut dyn Read>,
) -> io::Result<()> {
    let h = e.header().clone();
    let kind = match h.entry_type() {
        tar::EntryType::Directory => libc::S_IFDIR,
        tar::EntryType::Regular | tar::EntryType::Continuous => libc::S_IFREG,
        tar::EntryType::Symlink => libc::S_IFLNK,
        tar::EntryType::Char | tar::EntryType::Block if !t.devices => return Ok(()),
        tar::EntryType::Char => libc::S_IFCHR,
        tar::EntryType::Block => libc::S_IFBLK,
        tar::EntryType::Fifo => libc::S_IFIFO,
        tar::EntryType::Link => return hard_link(t, dest, e),
        _ => return Ok(()), // pax headers and the like carry no file
    };
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Ok(()); // the root itself: kept as it is
    };
    let dir = nook_sys::path::mkdir_all_in_root(t.root, parent, 0o755)
        .and_then(|_| {
            nook_sys::path::open_in_root(t.root, parent, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        })
        .map_err(io::Error::from)?;
    if let Ok(st) = lstat_at(dir.as_fd(), name) {
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if !(is_dir && kind == libc::S_IFDIR) {
            let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
            let c = cname(name)?;
            // SAFETY: valid descriptor and C string.
            if unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    let link = e.link_name()?.map(|l| l.into_owned());
    let rdev = match kind {
        libc::S_IFCHR | libc::S_IFBLK => libc::makedev(
            h.device_major()?.unwrap_or(0),
            h.device_minor()?.unwrap_or(0),
        ),
        _ => 0,
    };
    if let Some(mut f) = make_at(dir.as_fd(), name, kind, rdev, link.as_deref())? {
        io::copy(e, &mut f)?;
    }
    // SAFETY: a zeroed stat is a valid value to fill in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_mode = kind | h.mode()? & 0o7777;
    st.st_uid = h.uid()? as u32;
    st.st_gid = h.gid()? as u32;
    st.st_mtime = h.mtime()? as i64;
    st.st_atime = st.st_mtime;
    set_attrs(dir.as_fd(), name, &st, t.owner)
}

fn hard_link(t: &Target<'_>, dest: &Path, e: &tar::Entry<'_, &mut dyn Read>) -> io::Result<()> {
    let Some(target) = e.link_name()? else {
        return Ok(());
    };
    let target = nook_sys::path::clean_relative(&target);
    let target = join(&t.to, strip_top(&target, t.rename_top.as_deref()));
    let from =
        nook_sys::path::open_in_root(t.root, &target, libc::O_PATH, 0).map_err(io::Error::from)?;
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Ok(());
    };
    let dir = nook_sys::path::mkdir_all_in_root(t.root, parent, 0o755).map_err(io::Error::from)?;
    let c = cname(name)?;
    // SAFETY: valid descriptors and C strings; AT_EMPTY_PATH links the
    // file `from` refers to (root has CAP_DAC_READ_SEARCH).
    let r = unsafe {
        libc::linkat(
            from.as_raw_fd(),
            c"".as_ptr(),
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    match r {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Pack `src` (resolved inside `root`) as a tar onto `out`, its top entry
/// named after it (`.` for `dir/.`).
fn pack(root: BorrowedFd<'_>, src: &str, follow: bool, out: &mut dyn Write, where_: &str) -> Res {
    let clean = nook_sys::path::clean_relative(Path::new(src));
    let not_found = |e: nook_sys::Errno| match e {
        nook_sys::Errno::ENOENT | nook_sys::Errno::ENOTDIR => {
            format!("Could not find the file {src} in {where_}")
        }
        e => format!("{src}: {}", io::Error::from(e)),
    };
    let (parent, name) = match (clean.parent(), clean.file_name()) {
        (Some(p), Some(n)) if !follow => (p.to_path_buf(), n.to_os_string()),
        _ => {
            // the root itself, or a link to follow: open it resolved, and
            // walk it by its own descriptor
            let fd =
                nook_sys::path::open_in_root(root, &clean, libc::O_RDONLY | libc::O_NONBLOCK, 0)
                    .map_err(not_found)?;
            let top = clean.file_name().unwrap_or(OsStr::new(".")).to_os_string();
            return pack_fd(fd.as_fd(), OsStr::new(""), &top, src, out);
        }
    };
    let dir = nook_sys::path::open_in_root(root, &parent, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .map_err(not_found)?;
    pack_fd(dir.as_fd(), &name, &name, src, out)
}

/// Pack `name` in `dir` (empty: `dir` itself) as `top`.
fn pack_fd(dir: BorrowedFd<'_>, name: &OsStr, top: &OsStr, src: &str, out: &mut dyn Write) -> Res {
    let st = lstat_at(dir, name).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => format!("Could not find the file {src}"),
        _ => format!("{src}: {e}"),
    })?;
    if src.ends_with('/') && st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(format!("{src}: not a directory"));
    }
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    add(&mut b, dir, name, Path::new(top), &st, 0).map_err(|e| format!("{src}: {e}"))?;
    b.into_inner()
        .map_err(|e| format!("write the archive: {e}"))?;
    Ok(())
}

/// Add `name` in `dir` (stat `st`) to `b` as `path`, and what is below.
fn add(
    b: &mut tar::Builder<&mut dyn Write>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    st: &libc::stat,
    depth: usize,
) -> io::Result<()> {
    if depth > 512 {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    // an empty name: `dir` is the entry itself, opened for reading
    let open = |flags| match name.is_empty() {
        true => dir.try_clone_to_owned(),
        false => open_at(dir, name, flags, 0),
    };
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, path, io::empty())?;
            let d = open(libc::O_RDONLY | libc::O_DIRECTORY)?;
            for child in list(d.as_fd())? {
                let cst = lstat_at(d.as_fd(), &child)?;
                add(b, d.as_fd(), &child, &path.join(&child), &cst, depth + 1)?;
            }
        }
        libc::S_IFREG => {
            // O_NONBLOCK: a file swapped for a FIFO meanwhile cannot block
            let f = File::from(open(libc::O_RDONLY | libc::O_NONBLOCK)?);
            let meta = f.metadata()?;
            if !meta.is_file() {
                return Err(io::Error::other("changed while being copied"));
            }
            // exactly the size the header says, however the file changes
            let size = meta.len();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(size);
            b.append_data(&mut h, path, f.take(size).chain(io::repeat(0)).take(size))?;
        }
        libc::S_IFLNK => {
            let target = nook_sys::path::readlinkat(dir, name).map_err(io::Error::from)?;
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, path, target)?;
        }
        kind @ (libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO) => {
            h.set_entry_type(match kind {
                libc::S_IFCHR => tar::EntryType::Char,
                libc::S_IFBLK => tar::EntryType::Block,
                _ => tar::EntryType::Fifo,
            });
            h.set_device_major(libc::major(st.st_rdev))?;
            h.set_device_minor(libc::minor(st.st_rdev))?;
            b.append_data(&mut h, path, io::empty())?;
        }
        _ => {} // sockets are not copied
    }
    Ok(())
}

/// Read the first header of `r` and give it back with the bytes read.
fn peek_top(r: &mut dyn Read) -> Res<(Option<Top>, Vec<u8>)> {
    // the top entry may be preceded by GNU long-name or pax headers: read
    // blocks until a file header
    let mut buf = Vec::new();
    let mut long_name: Option<Vec<u8>> = None;
    loop {
        let mut block = [0u8; 512];
        if let Err(e) = r.read_exact(&mut block) {
            return match e.kind() {
                io::ErrorKind::UnexpectedEof => Ok((None, buf)),
                _ => Err(format!("read the archive: {e}")),
            };
        }
        buf.extend_from_slice(&block);
        if block.iter().all(|b| *b == 0) {
            return Ok((None, buf));
        }
        let h = tar::Header::from_byte_slice(&block);
        let size = h.entry_size().unwrap_or(0) as usize;
        let kind = h.entry_type();
        if kind.is_gnu_longname()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions()
        {
            let padded = size.div_ceil(512) * 512;
            let mut data = vec![0u8; padded];
            r.read_exact(&mut data)
                .map_err(|e| format!("read the archive: {e}"))?;
            buf.extend_from_slice(&data);
            if kind.is_gnu_longname() {
                let n = data[..size]
                    .split(|b| *b == 0)
                    .next()
                    .unwrap_or(&[])
                    .to_vec();
                long_name = Some(n);
            }
            continue;
        }
        let path = long_name.unwrap_or_else(|| h.path_bytes().into_owned());
        let rel = nook_sys::path::clean_relative(Path::new(OsStr::from_bytes(&path)));
        let name = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_os_string())
            .unwrap_or_else(|| ".".into());
        let dir = kind.is_dir() || rel.components().count() > 1;
        return Ok((Some(Top { name, dir }), buf));
    }
}

/// How a stream is received.
#[derive(Clone, Copy, Debug)]
struct How {
    /// The source was `dir/.`: its content lands in an existing `dest`.
    contents_only: bool,
    /// A tar from stdin: unpacked as it is into the directory `dest`.
    as_is: bool,
    /// The owner of what is made (`None`: the archive's).
    owner: Option<(u32, u32)>,
    /// Whether device nodes are made.
    devices: bool,
}

/// Unpack the tar on `input` at `dest` below `root`, by Docker's rules
/// (`as_is`: a tar from stdin, unpacked into the directory `dest`).
fn receive(root: BorrowedFd<'_>, dest: &str, input: &mut dyn Read, how: How) -> Res {
    let How {
        contents_only,
        as_is,
        owner,
        devices,
    } = how;
    if as_is {
        let clean = nook_sys::path::clean_relative(Path::new(dest));
        let fd = nook_sys::path::open_in_root(root, &clean, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| format!("{dest}: {}", io::Error::from(e)))?;
        drop(fd);
        let t = Target {
            root,
            to: clean,
            rename_top: None,
            owner,
            devices,
        };
        return unpack(&t, input);
    }
    let (top, head) = peek_top(input)?;
    let Some(top) = top else {
        return Ok(());
    };
    let to = place(root, dest, &top, contents_only)?;
    let t = Target {
        root,
        to,
        rename_top: Some(top.name),
        owner,
        devices,
    };
    unpack(&t, &mut io::Cursor::new(head).chain(input))
}

impl Engine {
    /// Copy `src` in container `word` to `dest` on the host (a path, or a
    /// tar on a stream).
    pub fn copy_from_container(
        &self,
        word: &str,
        src: &str,
        dest: HostEnd,
        opts: CopyOptions,
    ) -> Result<()> {
        let c = self.container(word)?;
        let what = format!("container {}", c.record.short_id());
        let (r, w) = pipe()?;
        let src_contents = src.ends_with("/.") || src == ".";
        let src = src.to_string();
        let follow = opts.follow_link;
        let child = move || {
            let root = open_root()?;
            let mut out = File::from(w);
            pack(root.as_fd(), &src, follow, &mut out, &what)
        };
        let host = move |mut input: File| -> Res {
            match dest {
                HostEnd::Stream(mut out) => io::copy(&mut input, &mut out)
                    .map(drop)
                    .map_err(|e| format!("write the archive: {e}")),
                HostEnd::Path(p) => {
                    let owner = match opts.archive {
                        true => None,
                        // SAFETY: getuid and getgid cannot fail.
                        false => Some(unsafe { (libc::getuid(), libc::getgid()) }),
                    };
                    receive_on_host(&p, &mut input, src_contents, owner)
                }
            }
        };
        self.with_container_side(&c, child, r, host)
    }

    /// Copy `src` on the host (a path, or a tar on a stream) to `dest` in
    /// container `word`.
    pub fn copy_to_container(
        &self,
        word: &str,
        src: HostEnd,
        dest: &str,
        opts: CopyOptions,
    ) -> Result<()> {
        let c = self.container(word)?;
        let (r, w) = pipe()?;
        let dest = dest.to_string();
        let (contents_only, as_is) = match &src {
            HostEnd::Path(p) => (
                p.to_string_lossy().ends_with("/.") || p.as_os_str() == ".",
                false,
            ),
            HostEnd::Stream(_) => (false, true),
        };
        let owner = match opts.archive {
            true => None,
            false => Some((0, 0)),
        };
        let child = move || {
            let root = open_root()?;
            let mut input = File::from(r);
            let how = How {
                contents_only,
                as_is,
                owner,
                devices: true,
            };
            receive(root.as_fd(), &dest, &mut input, how)
        };
        let host = move |mut out: File| -> Res {
            match src {
                HostEnd::Stream(mut input) => io::copy(&mut input, &mut out)
                    .map(drop)
                    .map_err(|e| format!("read the archive: {e}")),
                HostEnd::Path(p) => {
                    let abs = std::path::absolute(&p).map_err(msg("resolve", &p))?;
                    let slash = File::open("/").map_err(msg("open", Path::new("/")))?;
                    let mut s = abs.to_string_lossy().into_owned();
                    if p.to_string_lossy().ends_with('/') && !s.ends_with('/') {
                        s.push('/');
                    }
                    if contents_only && !s.ends_with("/.") {
                        s.push_str("/.");
                    }
                    pack(slash.as_fd(), &s, opts.follow_link, &mut out, "the host")
                }
            }
        };
        self.with_container_side(&c, child, w, host)
    }
}

/// Unpack a stream at host path `dest`: resolved inside the directory
/// it lands in, so that no entry ends up outside it.
fn receive_on_host(
    dest: &Path,
    input: &mut dyn Read,
    contents_only: bool,
    owner: Option<(u32, u32)>,
) -> Res {
    let abs = std::path::absolute(dest).map_err(msg("resolve", dest))?;
    let (base, last) = match std::fs::metadata(&abs) {
        Ok(m) if m.is_dir() => (abs.clone(), String::new()),
        _ => {
            let name = abs
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (abs.parent().unwrap_or(Path::new("/")).to_path_buf(), name)
        }
    };
    let dir = File::open(&base).map_err(msg("open", &base))?;
    let mut rel = last;
    if dest.to_string_lossy().ends_with('/') {
        rel.push('/');
    }
    let rel = if rel.is_empty() { ".".to_string() } else { rel };
    let how = How {
        contents_only,
        as_is: false,
        owner,
        devices: false,
    };
    receive(dir.as_fd(), &rel, input, how)
}

/// `/`, as the container side sees it.
fn open_root() -> Res<OwnedFd> {
    nook_sys::fd::openat(None, Path::new("/"), libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .map_err(|e| format!("open /: {}", io::Error::from(e)))
}

impl Engine {
    /// Run `child` in a process that sees container `c`'s file system as
    /// `/`, while `host` runs here on the other end of the pipe (`ours`).
    fn with_container_side(
        &self,
        c: &super::Container,
        child: impl FnOnce() -> Res,
        ours: OwnedFd,
        host: impl FnOnce(File) -> Res,
    ) -> Result<()> {
        let spec: serde_json::Value = serde_json::from_str(&c.record.config).unwrap_or_default();
        let id = c.record.id.clone();
        let fail = |m: String| Error::Copy {
            container: c.record.name.clone(),
            message: m,
        };
        // a stopped container: its root is not mounted and unmounted under
        // a monitor finishing or an rm removing it (nor by another cp)
        let _lock = (c.status != LiveStatus::Running)
            .then(|| super::ContainerLock::take(&self.container_dir(&id)));
        let entry = match c.status {
            LiveStatus::Running => Enter::Namespace(
                File::open(format!("/proc/{}/ns/mnt", c.record.pid.unwrap_or(0)))
                    .map_err(|e| fail(format!("enter the container: {e}")))?,
            ),
            _ => {
                let rootfs = self.layers.rootfs(&id)?;
                let mounted_here = !rootfs.is_mounted()?;
                if mounted_here {
                    rootfs.mount(&nook_storage::MountOptions::default())?;
                }
                Enter::Root {
                    merged: rootfs.merged(),
                    binds: binds(&spec),
                    unmount: mounted_here.then_some(rootfs),
                }
            }
        };
        let (err_r, err_w) = pipe()?;
        // SAFETY: the child only runs `child` and exits; nook's command
        // line is single-threaded when it copies.
        let pid = match unsafe { nix::unistd::fork() } {
            Err(e) => return Err(fail(format!("fork: {e}"))),
            Ok(nix::unistd::ForkResult::Child) => {
                drop(ours);
                drop(err_r);
                let r = entry.enter().and_then(|()| child());
                let code = match r {
                    Ok(()) => 0,
                    Err(m) => {
                        let _ = nook_sys::fd::write_all(err_w.as_raw_fd(), m.as_bytes());
                        1
                    }
                };
                // SAFETY: leave at once, running nothing of the parent's.
                unsafe { libc::_exit(code) }
            }
            Ok(nix::unistd::ForkResult::Parent { child: pid }) => {
                // the child's end of the pipe, held by its closure, must be
                // closed here for either side to see the other end
                drop(child);
                pid
            }
        };
        drop(err_w);
        let ours_result = host(File::from(ours));
        let _ = nix::sys::wait::waitpid(pid, None);
        let mut child_err = String::new();
        let _ = File::from(err_r).read_to_string(&mut child_err);
        if let Enter::Root {
            unmount: Some(r), ..
        } = entry
        {
            let _ = r.unmount();
        }
        match (child_err.is_empty(), ours_result) {
            (false, _) => Err(fail(child_err)),
            (true, Err(m)) => Err(fail(m)),
            (true, Ok(())) => Ok(()),
        }
    }
}

/// How the child reaches the container's file system.
enum Enter {
    /// A running container's mount namespace.
    Namespace(File),
    /// A stopped one's root (mounted, with its binds), chrooted into.
    Root {
        merged: PathBuf,
        binds: Vec<(PathBuf, String, bool)>,
        unmount: Option<nook_storage::Rootfs>,
    },
}

/// The bind mounts (volumes, binds) of a spec: source, target, read-only.
fn binds(spec: &serde_json::Value) -> Vec<(PathBuf, String, bool)> {
    spec["mounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| m["type"] == "bind")
                .filter_map(|m| {
                    let opts: Vec<&str> = m["options"]
                        .as_array()?
                        .iter()
                        .filter_map(|o| o.as_str())
                        .collect();
                    Some((
                        PathBuf::from(m["source"].as_str()?),
                        m["destination"].as_str()?.to_string(),
                        opts.contains(&"ro"),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Enter {
    /// In the child: become a process whose `/` is the container's.
    fn enter(&self) -> Res {
        use nix::mount::{mount, MsFlags};
        match self {
            Enter::Namespace(ns) => {
                nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNS)
                    .map_err(|e| format!("enter the container's mount namespace: {e}"))
            }
            Enter::Root { merged, binds, .. } => {
                let err = |what: &str| {
                    let what = what.to_string();
                    move |e: nix::Error| format!("{what}: {e}")
                };
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
                    .map_err(err("unshare the mount namespace"))?;
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )
                .map_err(err("make mounts private"))?;
                let root = File::open(merged).map_err(msg("open", merged))?;
                for (src, dst, ro) in binds {
                    let Ok(target) =
                        nook_sys::path::open_in_root(root.as_fd(), Path::new(dst), libc::O_PATH, 0)
                    else {
                        continue;
                    };
                    let at = nook_sys::path::proc_fd_path(&target);
                    mount(
                        Some(src.as_path()),
                        &at,
                        None::<&str>,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None::<&str>,
                    )
                    .map_err(err("mount a volume"))?;
                    if *ro {
                        let again = nook_sys::path::open_in_root(
                            root.as_fd(),
                            Path::new(dst),
                            libc::O_PATH,
                            0,
                        )
                        .map_err(|e| format!("{dst}: {e}"))?;
                        let at = nook_sys::path::proc_fd_path(&again);
                        mount(
                            None::<&str>,
                            &at,
                            None::<&str>,
                            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                            None::<&str>,
                        )
                        .map_err(err("make a volume read-only"))?;
                    }
                }
                nix::unistd::chroot(merged).map_err(err("chroot"))?;
                nix::unistd::chdir("/").map_err(err("chdir"))
            }
        }
    }
}
