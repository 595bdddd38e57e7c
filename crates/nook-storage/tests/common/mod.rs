//! Helpers shared by the integration tests: a temporary directory that
//! unmounts whatever is left mounted below it and removes itself, and a
//! layer builder that writes any header bytes (hostile names included).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

/// A fresh directory under the system temp dir, unique per test and
/// process; on drop, every mount below it is detached and it is removed.
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(tag: &str) -> TestDir {
        let path = std::env::temp_dir().join(format!(
            "nook-storage-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TestDir { path }
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }
}

/// The mount points at or below `dir`, deepest first.
pub fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(nook_sys::proc::unescape_mountinfo(m)))
        .filter(|m| m.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    out
}

/// Lazily unmount `p`.
pub fn detach(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid C string.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
}

impl Drop for TestDir {
    fn drop(&mut self) {
        for m in mounts_below(&self.path) {
            detach(&m);
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What a directory tree holds: path -> (kind and mode, size, nlink,
/// content hash), for "nothing changed here" assertions.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, u64, u64, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let content = if m.is_file() {
                std::fs::read(&p).unwrap_or_default()
            } else if m.file_type().is_symlink() {
                std::fs::read_link(&p)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                Vec::new()
            };
            out.insert(p.clone(), (m.mode(), m.size(), m.nlink(), content));
            if m.is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

/// Build a layer tar entry by entry, with raw names (`..`, absolute and
/// over-long ones are written as given: PAX records carry names over 100
/// bytes).
pub struct Layer {
    b: tar::Builder<Vec<u8>>,
    pub mtime: u64,
}

impl Default for Layer {
    fn default() -> Self {
        Layer::new()
    }
}

impl Layer {
    pub fn new() -> Layer {
        Layer {
            b: tar::Builder::new(Vec::new()),
            mtime: 1_600_000_000,
        }
    }

    /// A PAX extended header with these records, for the next entry.
    pub fn pax(&mut self, recs: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (k, v) in recs {
            // "LEN key=value\n", LEN counting itself.
            let body = k.len() + v.len() + 3;
            let mut total = body + 1;
            while format!("{total}").len() + body != total {
                total += 1;
            }
            data.extend_from_slice(format!("{total} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let mut h = Header::new_ustar();
        h.as_old_mut().name[..9].copy_from_slice(b"PaxHeader");
        h.set_entry_type(EntryType::XHeader);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        self.b.append(&h, &data[..]).unwrap();
        self
    }

    /// An entry with this very header (its checksum is not touched).
    pub fn header(&mut self, h: &Header, data: &[u8]) -> &mut Self {
        self.b.append(h, data).unwrap();
        self
    }

    /// Any entry: name and link target as raw bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn raw(
        &mut self,
        kind: EntryType,
        name: &[u8],
        link: &[u8],
        data: &[u8],
        mode: u32,
        xattrs: &[(&str, &[u8])],
    ) -> &mut Self {
        let mut recs: Vec<(String, Vec<u8>)> = Vec::new();
        if name.len() > 100 {
            recs.push(("path".into(), name.to_vec()));
        }
        if link.len() > 100 {
            recs.push(("linkpath".into(), link.to_vec()));
        }
        for (k, v) in xattrs {
            recs.push((format!("SCHILY.xattr.{k}"), v.to_vec()));
        }
        if !recs.is_empty() {
            let r: Vec<(&str, &[u8])> = recs.iter().map(|(k, v)| (k.as_str(), &v[..])).collect();
            self.pax(&r);
        }
        let mut h = Header::new_ustar();
        let n = name.len().min(100);
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        let l = link.len().min(100);
        h.as_old_mut().linkname[..l].copy_from_slice(&link[..l]);
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.raw(EntryType::Directory, name.as_bytes(), b"", b"", mode, &[])
    }

    pub fn file(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Self {
        self.raw(EntryType::Regular, name.as_bytes(), b"", data, mode, &[])
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            EntryType::Symlink,
            name.as_bytes(),
            target.as_bytes(),
            b"",
            0o777,
            &[],
        )
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            EntryType::Link,
            name.as_bytes(),
            target.as_bytes(),
            b"",
            0o644,
            &[],
        )
    }

    /// An entry with an owner other than root.
    pub fn owned(
        &mut self,
        kind: EntryType,
        name: &str,
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> &mut Self {
        let mut h = Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(self.mtime);
        h.set_size(0);
        h.set_cksum();
        self.b.append(&h, &b""[..]).unwrap();
        self
    }

    pub fn device(&mut self, name: &str, kind: EntryType, major: u32, minor: u32) -> &mut Self {
        let mut h = Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(0o666);
        h.set_uid(0);
        h.set_gid(0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_mtime(self.mtime);
        h.set_size(0);
        h.set_cksum();
        self.b.append(&h, &b""[..]).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

/// gzip `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// zstd `data`.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 1).unwrap()
}

/// Whether the file or directory `p` has xattr `name`, and its value.
pub fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and buffer.
    let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}
