//! Linux namespaces: the "separate rooms" of a container.
//!
//! This crate owns every namespace decision and syscall of nook: turning
//! `linux.namespaces` into a [`NsPlan`] (which of the eight kinds are new,
//! which are joined through a path), opening and checking the paths to join,
//! entering them in the order the kernel requires ([`enter`]), creating new
//! ones with `unshare` ([`unshare`]), writing uid/gid maps ([`idmap`]) and
//! time offsets ([`timens`]).  Creating namespaces with `clone3` itself is
//! done by the container crate with the flags [`NsPlan::clone_flags`] gives.

#![warn(missing_docs)]

pub mod idmap;
pub mod timens;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

/// Namespace errors.
#[derive(Debug, thiserror::Error)]
pub enum NsError {
    /// The same namespace kind is listed twice.
    #[error("linux.namespaces: {0} namespace listed more than once")]
    Duplicate(NsKind),
    /// A namespace path could not be opened.
    #[error("open {kind} namespace {path}: {errno}")]
    Open {
        /// Kind asked for.
        kind: NsKind,
        /// Path given.
        path: PathBuf,
        /// Why.
        errno: Errno,
    },
    /// A path names a namespace of another kind, or no namespace at all.
    #[error("{path} is not a {kind} namespace")]
    WrongKind {
        /// Kind asked for.
        kind: NsKind,
        /// Path given.
        path: PathBuf,
    },
    /// `setns` failed.
    #[error("join {kind} namespace {path}: {errno}")]
    Join {
        /// Kind.
        kind: NsKind,
        /// Path.
        path: PathBuf,
        /// Why.
        errno: Errno,
    },
    /// `unshare` failed.
    #[error("create namespaces ({kinds}): {errno}")]
    Unshare {
        /// Kinds asked for.
        kinds: String,
        /// Why.
        errno: Errno,
    },
    /// Writing uid/gid maps failed.
    #[error("{0}")]
    IdMap(String),
    /// Writing time offsets failed.
    #[error("write time namespace offsets: {0}")]
    TimeOffsets(String),
    /// The configuration combines namespaces in a way nook refuses.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, NsError>;

/// The eight kinds of Linux namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NsKind {
    /// User and group ids (entered first).
    User,
    /// Mount table (entered last).
    Mount,
    /// Process ids (affects children only).
    Pid,
    /// Network stack.
    Net,
    /// System V IPC and POSIX message queues.
    Ipc,
    /// Host and domain name.
    Uts,
    /// Cgroup root.
    Cgroup,
    /// Monotonic and boot-time clock offsets (affects children only).
    Time,
}

/// All kinds, in the order they are entered by [`enter`]: user first (it
/// grants the capabilities to join the others), mount last (it changes the
/// root through which later paths would resolve).
pub const ENTER_ORDER: [NsKind; 8] = [
    NsKind::User,
    NsKind::Pid,
    NsKind::Time,
    NsKind::Net,
    NsKind::Ipc,
    NsKind::Uts,
    NsKind::Cgroup,
    NsKind::Mount,
];

impl NsKind {
    /// The `CLONE_NEW*` flag.
    pub fn clone_flag(self) -> u64 {
        (match self {
            NsKind::User => libc::CLONE_NEWUSER,
            NsKind::Mount => libc::CLONE_NEWNS,
            NsKind::Pid => libc::CLONE_NEWPID,
            NsKind::Net => libc::CLONE_NEWNET,
            NsKind::Ipc => libc::CLONE_NEWIPC,
            NsKind::Uts => libc::CLONE_NEWUTS,
            NsKind::Cgroup => libc::CLONE_NEWCGROUP,
            NsKind::Time => return nook_sys::clone::CLONE_NEWTIME,
        }) as u64
    }

    /// The name under `/proc/<pid>/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Mount => "mnt",
            NsKind::Pid => "pid",
            NsKind::Net => "net",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }

    /// Map the spec's type.
    pub fn from_spec(t: LinuxNamespaceType) -> NsKind {
        match t {
            LinuxNamespaceType::User => NsKind::User,
            LinuxNamespaceType::Mount => NsKind::Mount,
            LinuxNamespaceType::Pid => NsKind::Pid,
            LinuxNamespaceType::Network => NsKind::Net,
            LinuxNamespaceType::Ipc => NsKind::Ipc,
            LinuxNamespaceType::Uts => NsKind::Uts,
            LinuxNamespaceType::Cgroup => NsKind::Cgroup,
            LinuxNamespaceType::Time => NsKind::Time,
        }
    }

    /// The spec's name of the kind (`network`, `mount`, ...).
    pub fn spec_name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Mount => "mount",
            NsKind::Pid => "pid",
            NsKind::Net => "network",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }
}

impl std::fmt::Display for NsKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.spec_name())
    }
}

/// Which namespaces a container gets: new ones, and ones joined by path.
/// Kinds in neither list are shared with the runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsPlan {
    /// Kinds to create.
    pub new: Vec<NsKind>,
    /// Kinds to join, with the path of the namespace file.
    pub join: Vec<(NsKind, PathBuf)>,
}

impl NsPlan {
    /// Build the plan from `linux.namespaces`.
    pub fn from_spec(list: &[LinuxNamespace]) -> Result<NsPlan> {
        let mut plan = NsPlan::default();
        for ns in list {
            let kind = NsKind::from_spec(ns.typ());
            if plan.contains(kind) {
                return Err(NsError::Duplicate(kind));
            }
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => {
                    if !p.is_absolute() {
                        return Err(NsError::Invalid(format!(
                            "linux.namespaces: path of the {kind} namespace must be absolute, got {}",
                            p.display()
                        )));
                    }
                    plan.join.push((kind, p.clone()))
                }
                _ => plan.new.push(kind),
            }
        }
        Ok(plan)
    }

    /// Is `kind` created or joined (i.e. not shared with the runtime)?
    pub fn contains(&self, kind: NsKind) -> bool {
        self.is_new(kind) || self.joins(kind)
    }

    /// Is `kind` created?
    pub fn is_new(&self, kind: NsKind) -> bool {
        self.new.contains(&kind)
    }

    /// Is `kind` joined by path?
    pub fn joins(&self, kind: NsKind) -> bool {
        self.join.iter().any(|(k, _)| *k == kind)
    }

    /// `CLONE_NEW*` flags for every new namespace in `kinds`.
    pub fn flags_of(&self, kinds: impl Fn(NsKind) -> bool) -> u64 {
        self.new
            .iter()
            .filter(|k| kinds(**k))
            .fold(0, |f, k| f | k.clone_flag())
    }

    /// Can the container's first process be created by one `clone3` with all
    /// new namespaces as flags (the fast path)?  Not when a pid or time
    /// namespace must be joined or set up before the process enters it, or a
    /// user namespace must be joined, or a new user namespace would have to
    /// join namespaces its parent owns.
    pub fn single_clone(&self) -> bool {
        !(self.joins(NsKind::Pid)
            || self.joins(NsKind::Time)
            || self.joins(NsKind::User)
            || self.is_new(NsKind::Time)
            || (self.is_new(NsKind::User) && !self.join.is_empty()))
    }
}

/// A namespace file opened (in the runtime's own mount namespace) and
/// checked to be of the right kind, ready to be joined.
#[derive(Debug)]
pub struct OpenNs {
    /// Kind.
    pub kind: NsKind,
    /// Where it came from (for messages).
    pub path: PathBuf,
    /// The open namespace file.
    pub fd: OwnedFd,
}

const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Open and check every namespace the plan joins.
pub fn open_joins(plan: &NsPlan) -> Result<Vec<OpenNs>> {
    plan.join.iter().map(|(k, p)| open_ns(*k, p)).collect()
}

/// Open one namespace file and check its kind.
pub fn open_ns(kind: NsKind, path: &Path) -> Result<OpenNs> {
    let fd =
        nook_sys::fd::openat(None, path, libc::O_RDONLY, 0).map_err(|errno| NsError::Open {
            kind,
            path: path.into(),
            errno,
        })?;
    // SAFETY: ioctl on a valid fd without arguments.
    let t = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    if t < 0 || t as u64 != kind.clone_flag() {
        return Err(NsError::WrongKind {
            kind,
            path: path.into(),
        });
    }
    Ok(OpenNs {
        kind,
        path: path.into(),
        fd,
    })
}

/// Join the given namespaces in [`ENTER_ORDER`] (`kinds` filters which).
pub fn enter(list: &[OpenNs], kinds: impl Fn(NsKind) -> bool) -> Result<()> {
    for k in ENTER_ORDER {
        if !kinds(k) {
            continue;
        }
        for ns in list.iter().filter(|n| n.kind == k) {
            // SAFETY: setns on a namespace fd we opened and checked.
            let r = unsafe { libc::setns(ns.fd.as_fd().as_raw_fd(), k.clone_flag() as i32) };
            if r < 0 {
                return Err(NsError::Join {
                    kind: k,
                    path: ns.path.clone(),
                    errno: Errno::last(),
                });
            }
        }
    }
    Ok(())
}

/// Create new namespaces of the given kinds for the calling process (pid and
/// time: for its future children).
pub fn unshare(kinds: &[NsKind]) -> Result<()> {
    if kinds.is_empty() {
        return Ok(());
    }
    let flags = kinds.iter().fold(0u64, |f, k| f | k.clone_flag());
    // SAFETY: plain syscall.
    if unsafe { libc::unshare(flags as i32) } < 0 {
        let kinds = kinds
            .iter()
            .map(|k| k.spec_name())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(NsError::Unshare {
            kinds,
            errno: Errno::last(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxNamespaceBuilder;

    fn ns(t: LinuxNamespaceType, p: Option<&str>) -> LinuxNamespace {
        let mut b = LinuxNamespaceBuilder::default().typ(t);
        if let Some(p) = p {
            b = b.path(p);
        }
        b.build().unwrap()
    }

    #[test]
    fn plan_new_and_join() {
        let plan = NsPlan::from_spec(&[
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Network, Some("/proc/1/ns/net")),
            ns(LinuxNamespaceType::Mount, None),
        ])
        .unwrap();
        assert!(plan.is_new(NsKind::Pid));
        assert!(plan.joins(NsKind::Net));
        assert!(!plan.contains(NsKind::Uts));
        assert!(plan.single_clone());
        assert_eq!(
            plan.flags_of(|_| true),
            (libc::CLONE_NEWPID | libc::CLONE_NEWNS) as u64
        );
    }

    #[test]
    fn plan_rejects_duplicates_and_relative_paths() {
        let e = NsPlan::from_spec(&[
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Pid, None),
        ]);
        assert!(matches!(e, Err(NsError::Duplicate(NsKind::Pid))));
        let e = NsPlan::from_spec(&[ns(LinuxNamespaceType::Network, Some("proc/1/ns/net"))]);
        assert!(matches!(e, Err(NsError::Invalid(_))));
    }

    #[test]
    fn two_stage_cases() {
        let p = NsPlan::from_spec(&[ns(LinuxNamespaceType::Time, None)]).unwrap();
        assert!(!p.single_clone());
        let p = NsPlan::from_spec(&[ns(LinuxNamespaceType::Pid, Some("/proc/1/ns/pid"))]).unwrap();
        assert!(!p.single_clone());
        let p = NsPlan::from_spec(&[
            ns(LinuxNamespaceType::User, None),
            ns(LinuxNamespaceType::Network, Some("/proc/1/ns/net")),
        ])
        .unwrap();
        assert!(!p.single_clone());
    }

    #[test]
    fn open_checks_kind() {
        assert!(open_ns(NsKind::Net, Path::new("/proc/self/ns/net")).is_ok());
        assert!(matches!(
            open_ns(NsKind::Pid, Path::new("/proc/self/ns/net")),
            Err(NsError::WrongKind { .. })
        ));
        assert!(matches!(
            open_ns(NsKind::Net, Path::new("/etc/hostname")),
            Err(NsError::WrongKind { .. }) | Err(NsError::Open { .. })
        ));
    }
}
