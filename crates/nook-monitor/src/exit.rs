//! The exit file (`<container dir>/exit`): `CODE NANOS\n`, the
//! container's exit code (128+N when signal N killed it) and the Unix
//! nanoseconds of its exit.  Written to `exit.tmp` and renamed, under an
//! exclusive flock of the container's directory (the lock `nook rm`
//! holds while it removes the directory), so that a reader sees all of
//! it or nothing and a removed container gets no new file.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The file's name in the container's directory.
pub const EXIT_FILE: &str = "exit";

/// A recorded exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit code (128+N for signal N).
    pub code: i32,
    /// When, Unix nanoseconds.
    pub time: i64,
}

impl Exit {
    /// The file's text.
    pub fn to_text(self) -> String {
        format!("{} {}\n", self.code, self.time)
    }

    /// Parse the file's text (`None` unless it is whole).
    pub fn parse(text: &str) -> Option<Exit> {
        let line = text.strip_suffix('\n')?;
        let (code, time) = line.split_once(' ')?;
        Some(Exit {
            code: code.parse().ok()?,
            time: time.parse().ok()?,
        })
    }

    /// Read the exit file of container directory `dir`, if there is one.
    pub fn read(dir: &Path) -> Option<Exit> {
        Exit::parse(&std::fs::read_to_string(dir.join(EXIT_FILE)).ok()?)
    }
}

fn cstr(p: &[u8]) -> io::Result<CString> {
    CString::new(p).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    match r {
        -1 => Err(io::Error::last_os_error()),
        r => Ok(r),
    }
}

/// Write `exit` into container directory `dir` (tmp + rename, under the
/// directory's flock); nothing when the directory was removed.
pub fn write(dir: &Path, exit: Exit) -> io::Result<()> {
    let d = cstr(dir.as_os_str().as_bytes())?;
    // SAFETY: open a directory by a valid C string; we own the result.
    let dfd = unsafe {
        OwnedFd::from_raw_fd(check(libc::open(
            d.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        ))?)
    };
    // SAFETY: flock on a descriptor we own (released when it closes).
    while unsafe { libc::flock(dfd.as_raw_fd(), libc::LOCK_EX) } != 0 {
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: fstat into a zeroed stat we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above, on our descriptor.
    check(unsafe { libc::fstat(dfd.as_raw_fd(), &mut st) })?;
    if st.st_nlink == 0 {
        return Ok(()); // removed meanwhile
    }
    let tmp = cstr(b"exit.tmp")?;
    let name = cstr(EXIT_FILE.as_bytes())?;
    // SAFETY: openat in a directory we hold, by a valid C string.
    let fd = unsafe {
        OwnedFd::from_raw_fd(check(libc::openat(
            dfd.as_raw_fd(),
            tmp.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644,
        ))?)
    };
    let text = exit.to_text();
    // SAFETY: write from a buffer we own; the text is short (one write).
    let n = unsafe { libc::write(fd.as_raw_fd(), text.as_ptr().cast(), text.len()) };
    if n != text.len() as isize {
        return Err(io::Error::last_os_error());
    }
    drop(fd);
    // SAFETY: renameat within the directory we hold.
    check(unsafe {
        libc::renameat(
            dfd.as_raw_fd(),
            tmp.as_ptr(),
            dfd.as_raw_fd(),
            name.as_ptr(),
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_whole_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(Exit::read(d.path()), None);
        let e = Exit {
            code: 137,
            time: 1_796_654_202_123_456_789,
        };
        write(d.path(), e).unwrap();
        assert_eq!(Exit::read(d.path()), Some(e));
        assert!(!d.path().join("exit.tmp").exists());
        assert_eq!(Exit::parse("1 2"), None, "a torn file is no exit");
        assert_eq!(Exit::parse("x 2\n"), None);
    }

    #[test]
    fn a_removed_directory_gets_no_file() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("c");
        std::fs::create_dir(&dir).unwrap();
        let held = std::fs::File::open(&dir).unwrap();
        std::fs::remove_dir(&dir).unwrap();
        drop(held);
        assert!(write(&dir, Exit { code: 0, time: 1 }).is_err());
    }
}
