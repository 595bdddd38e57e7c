//! `/dev` inside the container: the default device nodes of the
//! runtime-spec, the standard links, and `linux.devices`.  Outside a user
//! namespace nodes are created with `mknod`; inside one (where `mknod` is
//! not allowed) the host's nodes are bind-mounted instead.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nook_sys::path::{create_file_in_root, mkdir_all_in_root, open_in_root};
use nook_sys::Errno;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::mount::mount_at;
use crate::{Result, RootfsError, RootfsSpec};

/// One device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Path inside the container.
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: u32,
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The runtime-spec's default devices.
pub fn default_nodes() -> Vec<Node> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("tty", 5, 0),
        ("random", 1, 8),
        ("urandom", 1, 9),
    ]
    .into_iter()
    .map(|(n, ma, mi)| Node {
        path: PathBuf::from("/dev").join(n),
        kind: libc::S_IFCHR,
        major: ma,
        minor: mi,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// A `linux.devices` entry as a node.
pub fn node_of(d: &LinuxDevice) -> Result<Node> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
        LinuxDeviceType::B => libc::S_IFBLK,
        LinuxDeviceType::P => libc::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(RootfsError::Invalid(format!(
                "linux.devices: {} has type a, which is not a node type",
                d.path().display()
            )))
        }
    };
    if !d.path().is_absolute() {
        return Err(RootfsError::Invalid(format!(
            "linux.devices: path {} must be absolute",
            d.path().display()
        )));
    }
    Ok(Node {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// Create a symlink `name -> target` in `dir`; an existing entry is kept.
pub fn symlinkat(target: &str, dir: BorrowedFd<'_>, name: &str) -> std::result::Result<(), Errno> {
    let t = CString::new(target).map_err(|_| Errno::EINVAL)?;
    let n = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: symlinkat in a directory fd we hold.
    if unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) } < 0 {
        let e = Errno::last();
        if e != Errno::EEXIST {
            return Err(e);
        }
    }
    Ok(())
}

fn make_node(root: BorrowedFd<'_>, n: &Node, bind: bool) -> Result<()> {
    let parent = n.path.parent().unwrap_or(Path::new("/"));
    let name = n.path.file_name().ok_or_else(|| {
        RootfsError::Invalid(format!("device path {} has no name", n.path.display()))
    })?;
    let pfd = mkdir_all_in_root(root, parent, 0o755).map_err(|errno| RootfsError::Path {
        what: "create device directory",
        path: parent.into(),
        errno,
    })?;
    let fail = |errno| RootfsError::Path {
        what: "create device",
        path: n.path.clone(),
        errno,
    };
    if bind {
        let t = create_file_in_root(root, &n.path, 0o600).map_err(fail)?;
        let host = &n.path;
        return mount_at(Some(host), t.as_fd(), None, libc::MS_BIND as u64, None).map_err(
            |errno| RootfsError::Mount {
                what: format!("bind the host's {} into the container", host.display()),
                errno,
            },
        );
    }
    let cname = CString::new(name.as_encoded_bytes()).map_err(|_| fail(Errno::EINVAL))?;
    let dev = libc::makedev(n.major as u32, n.minor as u32);
    // SAFETY: mknodat/fchmodat/fchownat in a directory fd we hold.
    unsafe {
        if libc::mknodat(pfd.as_raw_fd(), cname.as_ptr(), n.kind | n.mode, dev) < 0 {
            let e = Errno::last();
            if e == Errno::EEXIST {
                return Ok(());
            }
            return Err(fail(e));
        }
        // mknod is subject to the umask; set the mode exactly.
        if libc::fchmodat(pfd.as_raw_fd(), cname.as_ptr(), n.mode, 0) < 0 {
            return Err(fail(Errno::last()));
        }
        if (n.uid, n.gid) != (0, 0)
            && libc::fchownat(
                pfd.as_raw_fd(),
                cname.as_ptr(),
                n.uid,
                n.gid,
                libc::AT_SYMLINK_NOFOLLOW,
            ) < 0
        {
            return Err(fail(Errno::last()));
        }
    }
    Ok(())
}

/// Create the nodes of `linux.devices` only (for a `/dev` bound from the host).
pub fn create_listed(root: BorrowedFd<'_>, devices: &[LinuxDevice], in_userns: bool) -> Result<()> {
    for d in devices {
        make_node(root, &node_of(d)?, in_userns)?;
    }
    Ok(())
}

/// Populate `/dev`: default nodes (unless `linux.devices` lists the same
/// path), `linux.devices`, and the links `fd`, `stdin`, `stdout`, `stderr`,
/// `ptmx` and `core`.
pub fn setup_dev(root: BorrowedFd<'_>, spec: &RootfsSpec<'_>) -> Result<()> {
    let listed: Vec<Node> = spec.devices.iter().map(node_of).collect::<Result<_>>()?;
    for n in default_nodes()
        .iter()
        .filter(|d| !listed.iter().any(|l| l.path == d.path))
    {
        make_node(root, n, spec.in_userns)?;
    }
    for n in &listed {
        make_node(root, n, spec.in_userns)?;
    }
    let dev = open_in_root(root, Path::new("/dev"), libc::O_PATH | libc::O_DIRECTORY, 0).map_err(
        |errno| RootfsError::Path {
            what: "open",
            path: "/dev".into(),
            errno,
        },
    )?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        symlinkat(target, dev.as_fd(), name).map_err(|errno| RootfsError::Path {
            what: "create link",
            path: Path::new("/dev").join(name),
            errno,
        })?;
    }
    // /dev/ptmx must be the ptmx of the container's own devpts instance.
    let has_pts = spec
        .mounts
        .iter()
        .any(|m| m.destination() == Path::new("/dev/pts"));
    if has_pts && !listed.iter().any(|l| l.path == Path::new("/dev/ptmx")) {
        let c = c"ptmx";
        // SAFETY: unlinkat in a directory fd we hold; missing is fine.
        unsafe { libc::unlinkat(dev.as_raw_fd(), c.as_ptr(), 0) };
        symlinkat("pts/ptmx", dev.as_fd(), "ptmx").map_err(|errno| RootfsError::Path {
            what: "create link",
            path: "/dev/ptmx".into(),
            errno,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_list() {
        let d = default_nodes();
        let names: Vec<_> = d
            .iter()
            .map(|n| n.path.to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/tty",
                "/dev/random",
                "/dev/urandom"
            ]
        );
        assert!(d.iter().all(|n| n.mode == 0o666 && n.kind == libc::S_IFCHR));
    }

    #[test]
    fn node_from_spec() {
        let d: LinuxDevice = serde_json::from_str(r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":8630,"uid":0,"gid":0}"#).unwrap();
        let n = node_of(&d).unwrap();
        assert_eq!((n.major, n.minor, n.mode), (10, 229, 8630 & 0o7777));
        let bad: LinuxDevice =
            serde_json::from_str(r#"{"path":"dev/x","type":"c","major":1,"minor":1}"#).unwrap();
        assert!(node_of(&bad).is_err());
    }
}
