//! Mount options of the runtime-spec (`mounts[].options`) parsed into
//! `mount(2)` flags, propagation changes, recursive attributes and the data
//! string passed to the file system.

/// Recursive mount attributes (`rro`, `rnosuid`, ...) for `mount_setattr`.
pub mod attr {
    /// Read-only.
    pub const RDONLY: u64 = 0x01;
    /// No setuid.
    pub const NOSUID: u64 = 0x02;
    /// No device files.
    pub const NODEV: u64 = 0x04;
    /// No exec.
    pub const NOEXEC: u64 = 0x08;
    /// Access-time mask.
    pub const ATIME_MASK: u64 = 0x70;
    /// relatime.
    pub const RELATIME: u64 = 0x00;
    /// noatime.
    pub const NOATIME: u64 = 0x10;
    /// strictatime.
    pub const STRICTATIME: u64 = 0x20;
    /// nodiratime.
    pub const NODIRATIME: u64 = 0x80;
    /// idmapped.
    pub const IDMAP: u64 = 0x0010_0000;
    /// nosymfollow.
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// Parsed options of one mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags for the mount itself.
    pub flags: u64,
    /// Flags explicitly cleared (`rw`, `suid`, ...): matter for remounts.
    pub cleared: u64,
    /// Propagation changes, in order (`MS_SHARED | MS_REC`, ...).
    pub propagation: Vec<u64>,
    /// Recursive attributes to set.
    pub attr_set: u64,
    /// Recursive attributes to clear.
    pub attr_clr: u64,
    /// Is it a bind mount (`bind`/`rbind`)?
    pub bind: bool,
    /// Recursive bind (`rbind`)?
    pub recursive: bool,
    /// Copy the image's directory content into a new tmpfs (`tmpcopyup`).
    pub tmpcopyup: bool,
    /// ID-mapped mount (`idmap`/`ridmap`).
    pub idmap: bool,
    /// Everything else, for the file system (`mode=755,size=64k`).
    pub data: Vec<String>,
}

/// Every option [`parse`] gives a meaning (the features document lists
/// them; anything else goes to the file system as data).  `idmap`/`ridmap`
/// are parsed only to be refused, so they are not here.
pub const KNOWN: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rrelatime",
    "rnoatime",
    "rstrictatime",
    "rnosymfollow",
    "rsymfollow",
];

const MS_NOSYMFOLLOW: u64 = 256;

/// Parse the options list of a mount.
pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in options {
        let set = |o: &mut MountOptions, f: u64| {
            o.flags |= f;
            o.cleared &= !f;
        };
        let clr = |o: &mut MountOptions, f: u64| {
            o.flags &= !f;
            o.cleared |= f;
        };
        let l = libc::MS_REC as u64;
        match opt.as_str() {
            "defaults" => {}
            "ro" => set(&mut o, libc::MS_RDONLY as u64),
            "rw" => clr(&mut o, libc::MS_RDONLY as u64),
            "nosuid" => set(&mut o, libc::MS_NOSUID as u64),
            "suid" => clr(&mut o, libc::MS_NOSUID as u64),
            "nodev" => set(&mut o, libc::MS_NODEV as u64),
            "dev" => clr(&mut o, libc::MS_NODEV as u64),
            "noexec" => set(&mut o, libc::MS_NOEXEC as u64),
            "exec" => clr(&mut o, libc::MS_NOEXEC as u64),
            "sync" => set(&mut o, libc::MS_SYNCHRONOUS as u64),
            "async" => clr(&mut o, libc::MS_SYNCHRONOUS as u64),
            "dirsync" => set(&mut o, libc::MS_DIRSYNC as u64),
            "remount" => set(&mut o, libc::MS_REMOUNT as u64),
            "mand" => set(&mut o, libc::MS_MANDLOCK as u64),
            "nomand" => clr(&mut o, libc::MS_MANDLOCK as u64),
            "atime" => clr(&mut o, libc::MS_NOATIME as u64),
            "noatime" => set(&mut o, libc::MS_NOATIME as u64),
            "diratime" => clr(&mut o, libc::MS_NODIRATIME as u64),
            "nodiratime" => set(&mut o, libc::MS_NODIRATIME as u64),
            "relatime" => set(&mut o, libc::MS_RELATIME as u64),
            "norelatime" => clr(&mut o, libc::MS_RELATIME as u64),
            "strictatime" => set(&mut o, libc::MS_STRICTATIME as u64),
            "nostrictatime" => clr(&mut o, libc::MS_STRICTATIME as u64),
            "lazytime" => set(&mut o, libc::MS_LAZYTIME as u64),
            "nolazytime" => clr(&mut o, libc::MS_LAZYTIME as u64),
            "silent" => set(&mut o, libc::MS_SILENT as u64),
            "loud" => clr(&mut o, libc::MS_SILENT as u64),
            "nosymfollow" => set(&mut o, MS_NOSYMFOLLOW),
            "symfollow" => clr(&mut o, MS_NOSYMFOLLOW),
            "bind" => o.bind = true,
            "rbind" => {
                o.bind = true;
                o.recursive = true
            }
            "private" => o.propagation.push(libc::MS_PRIVATE as u64),
            "rprivate" => o.propagation.push(libc::MS_PRIVATE as u64 | l),
            "shared" => o.propagation.push(libc::MS_SHARED as u64),
            "rshared" => o.propagation.push(libc::MS_SHARED as u64 | l),
            "slave" => o.propagation.push(libc::MS_SLAVE as u64),
            "rslave" => o.propagation.push(libc::MS_SLAVE as u64 | l),
            "unbindable" => o.propagation.push(libc::MS_UNBINDABLE as u64),
            "runbindable" => o.propagation.push(libc::MS_UNBINDABLE as u64 | l),
            "tmpcopyup" => o.tmpcopyup = true,
            "idmap" | "ridmap" => o.idmap = true,
            "rro" => o.attr_set |= attr::RDONLY,
            "rrw" => o.attr_clr |= attr::RDONLY,
            "rnosuid" => o.attr_set |= attr::NOSUID,
            "rsuid" => o.attr_clr |= attr::NOSUID,
            "rnodev" => o.attr_set |= attr::NODEV,
            "rdev" => o.attr_clr |= attr::NODEV,
            "rnoexec" => o.attr_set |= attr::NOEXEC,
            "rexec" => o.attr_clr |= attr::NOEXEC,
            "rnodiratime" => o.attr_set |= attr::NODIRATIME,
            "rdiratime" => o.attr_clr |= attr::NODIRATIME,
            "rnosymfollow" => o.attr_set |= attr::NOSYMFOLLOW,
            "rsymfollow" => o.attr_clr |= attr::NOSYMFOLLOW,
            "rrelatime" => {
                o.attr_clr |= attr::ATIME_MASK;
                o.attr_set |= attr::RELATIME
            }
            "rnoatime" => {
                o.attr_clr |= attr::ATIME_MASK;
                o.attr_set |= attr::NOATIME
            }
            "rstrictatime" => {
                o.attr_clr |= attr::ATIME_MASK;
                o.attr_set |= attr::STRICTATIME
            }
            // SELinux relabel requests are the engine's business (Podman
            // relabels before calling the runtime); accepted and ignored.
            "z" | "Z" => {}
            other => o.data.push(other.to_string()),
        }
    }
    o
}

impl MountOptions {
    /// The data string for `mount(2)`.
    pub fn data_string(&self) -> String {
        self.data.join(",")
    }

    /// Flags that need a second, remounting call on a bind mount (a bind
    /// ignores everything but `MS_BIND`/`MS_REC` on the first call).
    pub fn bind_remount_flags(&self) -> u64 {
        self.flags & !(libc::MS_REMOUNT as u64 | libc::MS_BIND as u64 | libc::MS_REC as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> MountOptions {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn every_known_option_is_parsed() {
        for opt in KNOWN {
            let o = p(&[opt]);
            assert!(o.data.is_empty(), "{opt} fell through to data");
            assert!(
                *opt == "defaults" || o != MountOptions::default(),
                "{opt} has no effect"
            );
        }
    }

    #[test]
    fn flags_and_data() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, (libc::MS_NOSUID | libc::MS_STRICTATIME) as u64);
        assert_eq!(o.data_string(), "mode=755,size=65536k");
        assert!(!o.bind);
    }

    #[test]
    fn bind_ro_and_propagation() {
        let o = p(&["rbind", "ro", "rprivate", "nosuid"]);
        assert!(o.bind && o.recursive);
        assert_eq!(
            o.bind_remount_flags(),
            (libc::MS_RDONLY | libc::MS_NOSUID) as u64
        );
        assert_eq!(
            o.propagation,
            vec![(libc::MS_PRIVATE | libc::MS_REC) as u64]
        );
    }

    #[test]
    fn later_option_wins() {
        let o = p(&["ro", "rw"]);
        assert_eq!(o.flags & libc::MS_RDONLY as u64, 0);
        assert_ne!(o.cleared & libc::MS_RDONLY as u64, 0);
    }

    #[test]
    fn extensions() {
        let o = p(&["tmpcopyup", "rro", "rnoexec", "idmap", "z"]);
        assert!(o.tmpcopyup && o.idmap);
        assert_eq!(o.attr_set, attr::RDONLY | attr::NOEXEC);
        assert!(o.data.is_empty());
    }
}
