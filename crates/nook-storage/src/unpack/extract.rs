//! Making each tar entry in the layer directory: regular files, directories
//! (modes and times fixed up last), symlinks, hard links, device nodes,
//! FIFOs and whiteouts, every parent resolved with `openat2` inside the
//! layer and through no symlink.

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use nook_sys::Errno;
use tar::EntryType;

use super::paths::{self, Whiteout};
use super::{DevicePolicy, EntryError, UnpackOptions, Warning};
use crate::sys;

/// Data copy buffer.
const COPY_BUF: usize = 1 << 20;

/// An entry's metadata, from its header and PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: libc::timespec,
    xattrs: Vec<(CString, Vec<u8>)>,
}

/// A directory whose mode and times are set once its content is in.
struct DirFix {
    rel: Vec<u8>,
    dev: u64,
    ino: u64,
    mode: u32,
    mtime: libc::timespec,
}

/// The state of one unpack.
pub(super) struct Extractor<'a> {
    root: BorrowedFd<'a>,
    opts: &'a UnpackOptions,
    buf: Vec<u8>,
    /// The last parent directory opened, by layer-relative path.
    parent: Option<(Vec<u8>, Rc<OwnedFd>)>,
    dirs: Vec<DirFix>,
    dir_index: HashMap<Vec<u8>, usize>,
    warnings: Vec<Warning>,
    /// The owner new files get without a chown.
    ids: (u32, u32),
    /// The bits the process umask takes off a new file's mode.
    umask: u32,
    /// The kernel refused a device node once: skip the rest.
    no_devices: bool,
    /// The entry being made, for warnings.
    entry: String,
}

/// Map an `openat2` error on an entry's path to the entry error it means.
fn resolve_error(e: Errno, op: &'static str) -> EntryError {
    match e {
        Errno::ELOOP => EntryError::ThroughSymlink,
        Errno::ENOTDIR => EntryError::ParentNotDir,
        Errno::ENAMETOOLONG => EntryError::NameTooLong,
        // RESOLVE_IN_ROOT never lets a lookup out; say so if it tried.
        Errno::EXDEV => EntryError::LeavesLayer,
        errno => EntryError::Sys { op, errno },
    }
}

fn sys_err(op: &'static str) -> impl Fn(Errno) -> EntryError {
    move |errno| EntryError::Sys { op, errno }
}

fn cstring(b: &[u8]) -> Result<CString, EntryError> {
    CString::new(b).map_err(|_| EntryError::NulInName)
}

fn os(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

/// The process umask, read without changing it (`/proc/self/status`).
fn read_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(l["Umask:".len()..].trim(), 8).ok()
        })
        // Unknown: assume the worst, every new file gets an fchmod.
        .unwrap_or(0o777)
}

impl<'a> Extractor<'a> {
    /// Start unpacking into `root`.
    pub(super) fn new(root: BorrowedFd<'a>, opts: &'a UnpackOptions) -> Self {
        // SAFETY: geteuid/getegid cannot fail.
        let ids = unsafe { (libc::geteuid(), libc::getegid()) };
        Extractor {
            root,
            opts,
            buf: vec![0; COPY_BUF],
            parent: None,
            dirs: Vec::new(),
            dir_index: HashMap::new(),
            warnings: Vec::new(),
            ids,
            umask: read_umask(),
            no_devices: false,
            entry: String::new(),
        }
    }

    /// Make one entry.
    pub(super) fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<(), EntryError> {
        let kind = e.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let rel = paths::normalise(&e.path_bytes())?;
        let meta = meta(e)?;
        if rel.is_empty() {
            return self.root_entry(kind, &meta);
        }
        let (parent, name) = paths::split(&rel);
        if let Some(w) = paths::whiteout(name)? {
            return self.whiteout(parent, w);
        }
        self.entry = paths::label(&rel);
        let dir = self.parent_fd(parent)?;
        let dir = dir.as_fd();
        let cname = cstring(name)?;
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(dir, &cname, e, &meta)
            }
            EntryType::Directory => self.dir(dir, &cname, &rel, &meta),
            EntryType::Symlink => {
                let target = e.link_name_bytes().ok_or(EntryError::NoLinkTarget)?;
                self.symlink(dir, &cname, &target, &meta)
            }
            EntryType::Link => {
                let target = e.link_name_bytes().ok_or(EntryError::NoLinkTarget)?;
                self.hardlink(dir, &cname, &target)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let h = e.header();
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                self.node(dir, &cname, kind, libc::makedev(major, minor), &meta)
            }
            other => Err(EntryError::UnsupportedType(char::from(other.as_byte()))),
        }
    }

    /// Set every directory's mode and times, deepest first, and hand back
    /// the warnings.  An error names the directory.
    pub(super) fn finish(mut self) -> Result<Vec<Warning>, (String, EntryError)> {
        self.parent = None;
        for d in self.dirs.iter().rev() {
            let fd = match sys::open_in_layer(
                self.root,
                os(&d.rel),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            ) {
                Ok(fd) => fd,
                // Replaced by a later entry: that one's metadata stands.
                Err(Errno::ENOENT | Errno::ELOOP | Errno::ENOTDIR) => continue,
                Err(e) => return Err((paths::label(&d.rel), resolve_error(e, "open"))),
            };
            let fail = |op| move |errno| (paths::label(&d.rel), EntryError::Sys { op, errno });
            let st = sys::fstat(fd.as_fd()).map_err(fail("stat"))?;
            if st.st_dev != d.dev || st.st_ino != d.ino {
                continue;
            }
            sys::fchmod(fd.as_fd(), d.mode).map_err(fail("chmod"))?;
            sys::set_times(fd.as_fd(), c"", d.mtime).map_err(fail("utimens"))?;
        }
        Ok(self.warnings)
    }

    /// The `./` entry: the layer root's own metadata.
    fn root_entry(&mut self, kind: EntryType, m: &Meta) -> Result<(), EntryError> {
        if kind != EntryType::Directory {
            return Err(EntryError::RootNotDir);
        }
        self.entry = ".".to_string();
        let fd = sys::open_in_layer(
            self.root,
            Path::new(""),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )
        .map_err(sys_err("open"))?;
        self.record_dir(fd.as_fd(), Vec::new(), m)
    }

    /// The descriptor of the directory `parent` (layer-relative), made with
    /// its missing ancestors if need be.
    fn parent_fd(&mut self, parent: &[u8]) -> Result<Rc<OwnedFd>, EntryError> {
        if let Some((p, fd)) = &self.parent {
            if p == parent {
                return Ok(fd.clone());
            }
        }
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let fd = match sys::open_in_layer(self.root, os(parent), flags, 0) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => self.make_parents(parent)?,
            Err(e) => return Err(resolve_error(e, "open parent")),
        };
        let fd = Rc::new(fd);
        self.parent = Some((parent.to_vec(), fd.clone()));
        Ok(fd)
    }

    /// Make the missing directories of `parent` (0755, like Docker), one
    /// component at a time, never through a symlink.
    fn make_parents(&self, parent: &[u8]) -> Result<OwnedFd, EntryError> {
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let mut cur = sys::open_in_layer(self.root, Path::new(""), flags, 0)
            .map_err(sys_err("open layer"))?;
        for comp in parent.split(|&b| b == b'/') {
            let next = match sys::open_in_layer(cur.as_fd(), os(comp), flags, 0) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    match sys::mkdirat(cur.as_fd(), &cstring(comp)?, 0o755) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(errno) => return Err(EntryError::Sys { op: "mkdir", errno }),
                    }
                    sys::open_in_layer(cur.as_fd(), os(comp), flags, 0)
                        .map_err(|e| resolve_error(e, "open parent"))?
                }
                Err(e) => return Err(resolve_error(e, "open parent")),
            };
            cur = next;
        }
        Ok(cur)
    }

    /// Clear `name` in `dir` for a new entry: nothing there is fine; an
    /// existing directory stays when the new entry is one too (`Ok(true)`);
    /// anything else is removed (a directory with its content), never
    /// written through.
    fn make_room(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        new_is_dir: bool,
    ) -> Result<bool, EntryError> {
        let st = match sys::lstatat(dir, name) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(false),
            Err(errno) => return Err(EntryError::Sys { op: "stat", errno }),
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            sys::unlinkat(dir, name, 0).map_err(sys_err("unlink"))?;
            return Ok(false);
        }
        if new_is_dir {
            return Ok(true);
        }
        // The parent is reached through its descriptor's /proc entry, and
        // remove_dir_all follows no symlink below it.
        let p = nook_sys::path::proc_fd_path(dir).join(OsStr::from_bytes(name.to_bytes()));
        std::fs::remove_dir_all(&p).map_err(|e| EntryError::Sys {
            op: "remove",
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })?;
        // A cached parent may have been inside.
        self.parent = None;
        Ok(false)
    }

    /// A regular file: created, filled, then owner, mode, xattrs, times.
    fn file<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        e: &mut tar::Entry<'_, R>,
        m: &Meta,
    ) -> Result<(), EntryError> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
        let create_mode = m.mode & 0o777;
        let fd = match sys::openat(dir, name, flags, create_mode) {
            Err(Errno::EEXIST) => {
                self.make_room(dir, name, false)?;
                sys::openat(dir, name, flags, create_mode)
            }
            r => r,
        }
        .map_err(sys_err("create"))?;
        loop {
            let n = e.read(&mut self.buf).map_err(EntryError::Stream)?;
            if n == 0 {
                break;
            }
            nook_sys::fd::write_all(std::os::fd::AsRawFd::as_raw_fd(&fd), &self.buf[..n])
                .map_err(sys_err("write"))?;
        }
        let chowned = self.chown(fd.as_fd(), c"", m)?;
        // The create mode lost the special bits and what the umask took;
        // a chown clears set-user-ID and set-group-ID.
        if chowned || m.mode & !0o777 != 0 || create_mode & self.umask != 0 {
            sys::fchmod(fd.as_fd(), m.mode).map_err(sys_err("chmod"))?;
        }
        self.xattrs(fd.as_fd(), None, m)?;
        sys::set_times(fd.as_fd(), c"", m.mtime).map_err(sys_err("utimens"))
    }

    /// A directory: made (or kept, over a directory), owner and xattrs now,
    /// mode and times in [`Extractor::finish`].
    fn dir(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        m: &Meta,
    ) -> Result<(), EntryError> {
        match sys::mkdirat(dir, name, 0o700) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                if !self.make_room(dir, name, true)? {
                    sys::mkdirat(dir, name, 0o700).map_err(sys_err("mkdir"))?;
                }
            }
            Err(errno) => return Err(EntryError::Sys { op: "mkdir", errno }),
        }
        let fd = sys::openat(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| resolve_error(e, "open"))?;
        self.record_dir(fd.as_fd(), rel.to_vec(), m)
    }

    /// Owner and xattrs of the directory open as `fd`, and its mode and
    /// times for later.
    fn record_dir(&mut self, fd: BorrowedFd<'_>, rel: Vec<u8>, m: &Meta) -> Result<(), EntryError> {
        self.chown(fd, c"", m)?;
        self.xattrs(fd, None, m)?;
        let st = sys::fstat(fd).map_err(sys_err("stat"))?;
        let fix = DirFix {
            rel,
            dev: st.st_dev,
            ino: st.st_ino,
            mode: m.mode,
            mtime: m.mtime,
        };
        match self.dir_index.get(&fix.rel) {
            Some(&i) => self.dirs[i] = fix,
            None => {
                self.dir_index.insert(fix.rel.clone(), self.dirs.len());
                self.dirs.push(fix);
            }
        }
        Ok(())
    }

    /// A symlink, made as the layer says (an absolute or `..` target is
    /// fine: nothing is ever resolved through it while unpacking).
    fn symlink(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        target: &[u8],
        m: &Meta,
    ) -> Result<(), EntryError> {
        let t = cstring(target)?;
        match sys::symlinkat(&t, dir, name) {
            Err(Errno::EEXIST) => {
                self.make_room(dir, name, false)?;
                sys::symlinkat(&t, dir, name)
            }
            r => r,
        }
        .map_err(sys_err("symlink"))?;
        self.chown(dir, name, m)?;
        if !m.xattrs.is_empty() {
            let p = nook_sys::path::proc_fd_path(dir).join(OsStr::from_bytes(name.to_bytes()));
            self.xattrs(dir, Some(&p), m)?;
        }
        sys::set_times(dir, name, m.mtime).map_err(sys_err("utimens"))
    }

    /// A hard link to an earlier entry of this layer.
    fn hardlink(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        target: &[u8],
    ) -> Result<(), EntryError> {
        let label = || paths::label(target);
        let t = paths::normalise(target).map_err(|e| match e {
            EntryError::LeavesLayer | EntryError::Absolute => EntryError::LinkLeavesLayer(label()),
            e => e,
        })?;
        if t.is_empty() {
            return Err(EntryError::LinkMissing(label()));
        }
        let (tparent, tname) = paths::split(&t);
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let tdir = sys::open_in_layer(self.root, os(tparent), flags, 0).map_err(|e| match e {
            Errno::ELOOP => EntryError::LinkThroughSymlink(label()),
            Errno::ENOENT | Errno::ENOTDIR => EntryError::LinkMissing(label()),
            e => resolve_error(e, "open link target"),
        })?;
        let tname = cstring(tname)?;
        let r = match sys::linkat(tdir.as_fd(), &tname, dir, name) {
            Err(Errno::EEXIST) => {
                self.make_room(dir, name, false)?;
                sys::linkat(tdir.as_fd(), &tname, dir, name)
            }
            r => r,
        };
        r.map_err(|e| match e {
            Errno::ENOENT => EntryError::LinkMissing(label()),
            errno => EntryError::Sys { op: "link", errno },
        })
    }

    /// A character or block device, or a FIFO.
    fn node(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        kind: EntryType,
        dev: libc::dev_t,
        m: &Meta,
    ) -> Result<(), EntryError> {
        let fmt = match kind {
            EntryType::Char => libc::S_IFCHR,
            EntryType::Block => libc::S_IFBLK,
            _ => libc::S_IFIFO,
        };
        if fmt != libc::S_IFIFO {
            match self.opts.devices {
                DevicePolicy::Refuse => return Err(EntryError::DeviceRefused),
                DevicePolicy::Skip => return self.skip_device("devices: skip"),
                DevicePolicy::CreateOrSkip if self.no_devices => {
                    return self.skip_device("not permitted")
                }
                DevicePolicy::CreateOrSkip => {}
            }
        }
        let mode = fmt | (m.mode & 0o777);
        let r = match sys::mknodat(dir, name, mode, dev) {
            Err(Errno::EEXIST) => {
                self.make_room(dir, name, false)?;
                sys::mknodat(dir, name, mode, dev)
            }
            r => r,
        };
        match r {
            Ok(()) => {}
            Err(Errno::EPERM) if fmt != libc::S_IFIFO => {
                self.no_devices = true;
                return self.skip_device("not permitted");
            }
            Err(errno) => return Err(EntryError::Sys { op: "mknod", errno }),
        }
        let chowned = self.chown(dir, name, m)?;
        if chowned || m.mode & !0o777 != 0 || m.mode & 0o777 & self.umask != 0 {
            sys::fchmodat(dir, name, m.mode & 0o7777).map_err(sys_err("chmod"))?;
        }
        sys::set_times(dir, name, m.mtime).map_err(sys_err("utimens"))
    }

    fn skip_device(&mut self, reason: &str) -> Result<(), EntryError> {
        self.warnings.push(Warning::DeviceSkipped {
            entry: self.entry.clone(),
            reason: reason.to_string(),
        });
        Ok(())
    }

    /// An OCI whiteout in `parent`.
    fn whiteout(&mut self, parent: &[u8], w: Whiteout<'_>) -> Result<(), EntryError> {
        let dir = self.parent_fd(parent)?;
        match w {
            Whiteout::Aufs => Ok(()),
            Whiteout::Opaque => {
                let fd = sys::open_in_layer(
                    dir.as_fd(),
                    Path::new(""),
                    libc::O_RDONLY | libc::O_DIRECTORY,
                    0,
                )
                .map_err(sys_err("open"))?;
                sys::fsetxattr(fd.as_fd(), self.opts.overlay_xattrs.opaque(), b"y")
                    .map_err(sys_err("set opaque xattr"))
            }
            Whiteout::Name(n) => {
                let name = cstring(n)?;
                match sys::lstatat(dir.as_fd(), &name) {
                    // An entry of this very layer: it stays (a whiteout
                    // only hides what lower layers have).
                    Ok(_) => return Ok(()),
                    Err(Errno::ENOENT) => {}
                    Err(errno) => return Err(EntryError::Sys { op: "stat", errno }),
                }
                let mode = libc::S_IFCHR;
                sys::mknodat(dir.as_fd(), &name, mode, libc::makedev(0, 0))
                    .map_err(sys_err("mknod whiteout"))
            }
        }
    }

    /// Give `name` in `dir` (or `dir` itself, for an empty name) the
    /// entry's owner, when asked to and it differs from what a new file
    /// gets anyway.  Whether a chown happened.
    fn chown(&self, dir: BorrowedFd<'_>, name: &CStr, m: &Meta) -> Result<bool, EntryError> {
        if !self.opts.chown || (m.uid, m.gid) == self.ids {
            return Ok(false);
        }
        sys::lchownat(dir, name, m.uid, m.gid).map_err(sys_err("chown"))?;
        Ok(true)
    }

    /// Set the entry's xattrs on `fd`, or on the symlink at `link`.
    fn xattrs(
        &mut self,
        fd: BorrowedFd<'_>,
        link: Option<&Path>,
        m: &Meta,
    ) -> Result<(), EntryError> {
        for (name, value) in &m.xattrs {
            let n = name.to_bytes();
            if n.starts_with(b"trusted.overlay.") || n.starts_with(b"user.overlay.") {
                self.warnings.push(Warning::OverlayXattrIgnored {
                    entry: self.entry.clone(),
                    name: String::from_utf8_lossy(n).into_owned(),
                });
                continue;
            }
            let r = match link {
                Some(p) => sys::lsetxattr(p, name, value),
                None => sys::fsetxattr(fd, name, value),
            };
            match r {
                Ok(()) => {}
                Err(errno @ (Errno::EPERM | Errno::ENOTSUP)) => {
                    self.warnings.push(Warning::XattrNotSet {
                        entry: self.entry.clone(),
                        name: String::from_utf8_lossy(n).into_owned(),
                        errno,
                    })
                }
                Err(errno) => {
                    return Err(EntryError::Sys {
                        op: "setxattr",
                        errno,
                    })
                }
            }
        }
        Ok(())
    }
}

/// The entry's mode, owner and mtime (PAX's, when given: ids over 21 bits,
/// times to the nanosecond) and xattrs (PAX `SCHILY.xattr.*`).
fn meta<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Meta, EntryError> {
    let h = e.header();
    let bad = |x: std::io::Error| EntryError::BadHeader(x.to_string());
    let old = h.as_old();
    let mode = num_field(h.mode().map(u64::from), &old.mode)? as u32 & 0o7777;
    let mut uid = num_field(h.uid(), &old.uid)?;
    let mut gid = num_field(h.gid(), &old.gid)?;
    let secs = num_field(h.mtime(), &old.mtime)?;
    let mut mtime = libc::timespec {
        tv_sec: secs.min(i64::MAX as u64) as libc::time_t,
        tv_nsec: 0,
    };
    let mut xattrs = Vec::new();
    if let Some(pax) = e.pax_extensions().map_err(bad)? {
        for ext in pax {
            let ext = ext.map_err(bad)?;
            let key = ext.key_bytes();
            let value = ext.value_bytes();
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                xattrs.push((cstring(name)?, value.to_vec()));
            } else if key == b"mtime" {
                if let Some(t) = parse_pax_time(value) {
                    mtime = t;
                }
            } else if key == b"uid" {
                uid = parse_pax_id(value)?;
            } else if key == b"gid" {
                gid = parse_pax_id(value)?;
            }
        }
    }
    let id = |v: u64| u32::try_from(v).map_err(|_| EntryError::IdOutOfRange(v));
    Ok(Meta {
        mode,
        uid: id(uid)?,
        gid: id(gid)?,
        mtime,
        xattrs,
    })
}

/// A numeric header field as the tar crate parsed it (`r`) from its bytes
/// (`raw`): one that is empty (only NULs and spaces) is 0, as Go's
/// archive/tar reads it (Docker's and containerd's unpackers; GNU tar
/// agrees for NULs), where the tar crate refuses it.
fn num_field(r: std::io::Result<u64>, raw: &[u8]) -> Result<u64, EntryError> {
    match r {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        r => r.map_err(|x| EntryError::BadHeader(x.to_string())),
    }
}

/// A PAX `uid` or `gid` record: decimal.
fn parse_pax_id(v: &[u8]) -> Result<u64, EntryError> {
    std::str::from_utf8(v)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| EntryError::BadHeader(format!("PAX id {:?}", String::from_utf8_lossy(v))))
}

/// A PAX time, `SECONDS[.FRACTION]`; negative times are left to the header.
fn parse_pax_time(v: &[u8]) -> Option<libc::timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: libc::time_t = secs.parse().ok().filter(|&s: &libc::time_t| s >= 0)?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let tv_nsec = if digits.is_empty() {
        0
    } else {
        digits.parse::<libc::c_long>().ok()? * 10_i64.pow(9 - digits.len() as u32) as libc::c_long
    };
    Some(libc::timespec { tv_sec, tv_nsec })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        let t = parse_pax_time(b"1700000000.5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 500_000_000));
        let t = parse_pax_time(b"12").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (12, 0));
        let t = parse_pax_time(b"1.123456789123").unwrap();
        assert_eq!(t.tv_nsec, 123_456_789);
        assert!(parse_pax_time(b"-5.0").is_none());
        assert!(parse_pax_time(b"x").is_none());
        assert!(parse_pax_time(b"1.2x").is_none());
    }

    #[test]
    fn pax_ids() {
        assert_eq!(parse_pax_id(b"4294967295").unwrap(), u32::MAX as u64);
        assert_eq!(parse_pax_id(b"0").unwrap(), 0);
        for bad in [
            &b""[..],
            b"-1",
            b"+5",
            b" 5",
            b"5x",
            b"99999999999999999999999",
        ] {
            let e = parse_pax_id(bad).unwrap_err();
            assert!(matches!(e, EntryError::BadHeader(_)), "{bad:?}: {e}");
        }
    }

    #[test]
    fn empty_numeric_fields_are_zero() {
        let bad = || Err(std::io::Error::other("numeric field was not a number"));
        assert_eq!(num_field(bad(), &[0; 8]).unwrap(), 0);
        assert_eq!(num_field(bad(), b"       \0").unwrap(), 0);
        assert_eq!(num_field(bad(), b"        ").unwrap(), 0);
        let e = num_field(bad(), b"0000x12\0").unwrap_err();
        assert_eq!(e.to_string(), "bad header: numeric field was not a number");
        assert_eq!(num_field(Ok(0o644), b"0000644\0").unwrap(), 0o644);
    }
}
