//! A container's security and process limits from the `run` flags, as
//! Docker applies them: `--cap-add`/`--cap-drop` on Docker's 14 default
//! capabilities, `--privileged`, `--security-opt` (seccomp, no-new-privileges,
//! label, apparmor, systempaths), `--read-only`, `--tmpfs`, `--ulimit`,
//! `--sysctl` and `--group-add`.  [`Security::parse`] checks every value
//! before anything is made; [`Security::apply`] edits the spec.

use super::seccomp_profile::{self, Profile, Target};
use super::spec::DEFAULT_CAPS;
use crate::{Error, Result};
use serde_json::{json, Value};
use std::path::Path;

/// The security flags of `run`/`create`, as given.
#[derive(Clone, Debug, Default)]
pub struct SecurityOptions {
    /// `--cap-add` (names with or without `CAP_`, or `ALL`).
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--security-opt`.
    pub security_opt: Vec<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--tmpfs DIR[:OPTIONS]`.
    pub tmpfs: Vec<String>,
    /// `--ulimit NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    /// `--sysctl K=V`.
    pub sysctls: Vec<String>,
    /// `--group-add GROUP` (a name in the image's /etc/group, or a gid).
    pub group_add: Vec<String>,
}

/// The seccomp profile a container gets.
#[derive(Clone, Debug, PartialEq)]
pub enum Seccomp {
    /// nook's default profile.
    Default,
    /// None (`seccomp=unconfined`, or `--privileged`).
    Unconfined,
    /// A profile file's, in Docker's format.
    Custom(Box<Profile>),
}

/// The flags checked, ready to apply.
#[derive(Clone, Debug)]
pub struct Security {
    /// The capabilities (bounding set; also effective and permitted for
    /// uid 0).
    pub caps: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// The seccomp profile.
    pub seccomp: Seccomp,
    /// `no-new-privileges`.
    pub no_new_privileges: bool,
    /// `systempaths=unconfined`: no masked or read-only paths.
    pub unmask: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// Mounts (`--tmpfs`), as spec entries.
    pub tmpfs: Vec<Value>,
    /// `process.rlimits` entries.
    pub rlimits: Vec<Value>,
    /// `linux.sysctl`.
    pub sysctls: serde_json::Map<String, Value>,
    /// `--group-add`, unresolved.
    pub group_add: Vec<String>,
}

/// The kernel's capability names (those up to `cap_last_cap`).
pub fn all_caps() -> Vec<String> {
    let last = nook_security::caps::last_cap() as usize;
    nook_security::caps::NAMES
        .iter()
        .take(last + 1)
        .map(|s| s.to_string())
        .collect()
}

/// `name` as `CAP_NAME` (upper case), or `ALL`; unknown names are an error.
fn cap_name(name: &str) -> Result<String> {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = match up.starts_with("CAP_") {
        true => up,
        false => format!("CAP_{up}"),
    };
    match nook_security::caps::NAMES.contains(&full.as_str()) {
        true => Ok(full),
        false => Err(Error::invalid("capability", name, "unknown capability")),
    }
}

/// Docker's rules: privileged gets them all; `--cap-add ALL` all but the
/// dropped; `--cap-drop ALL` only the added; else the defaults less the
/// dropped plus the added.
pub fn capabilities(add: &[String], drop: &[String], privileged: bool) -> Result<Vec<String>> {
    let add: Vec<String> = add.iter().map(|c| cap_name(c)).collect::<Result<_>>()?;
    let drop: Vec<String> = drop.iter().map(|c| cap_name(c)).collect::<Result<_>>()?;
    let all = all_caps();
    let has = |l: &[String], c: &str| l.iter().any(|x| x == c);
    let mut caps: Vec<String> = if privileged {
        all
    } else if has(&add, "ALL") {
        all.into_iter().filter(|c| !has(&drop, c)).collect()
    } else if has(&drop, "ALL") {
        add
    } else {
        let mut c: Vec<String> = DEFAULT_CAPS
            .iter()
            .map(|s| s.to_string())
            .filter(|c| !has(&drop, c))
            .collect();
        c.extend(add);
        c
    };
    let mut seen = std::collections::HashSet::new();
    caps.retain(|c| c != "ALL" && seen.insert(c.clone()));
    Ok(caps)
}

/// What `--security-opt` sets.
#[derive(Clone, Debug, PartialEq)]
struct Opts {
    seccomp: Seccomp,
    no_new_privileges: bool,
    unmask: bool,
}

fn security_opts(list: &[String]) -> Result<Opts> {
    let mut o = Opts {
        seccomp: Seccomp::Default,
        no_new_privileges: false,
        unmask: false,
    };
    let bad = |s: &str| Error::invalid("--security-opt", s, "Invalid --security-opt");
    for s in list {
        if s == "no-new-privileges" {
            o.no_new_privileges = true;
            continue;
        }
        // Docker still takes the old `key:value` spelling
        let (k, v) = s
            .split_once('=')
            .or_else(|| s.split_once(':'))
            .ok_or_else(|| bad(s))?;
        match k {
            "no-new-privileges" => {
                o.no_new_privileges = v.parse().map_err(|_| {
                    Error::invalid("--security-opt", s, "no-new-privileges takes true or false")
                })?
            }
            "seccomp" if v == "unconfined" => o.seccomp = Seccomp::Unconfined,
            "seccomp" => o.seccomp = Seccomp::Custom(Box::new(read_profile(v)?)),
            "systempaths" if v == "unconfined" => o.unmask = true,
            // no SELinux or AppArmor on nook's hosts: containers run
            // unconfined by them whatever the label or profile asked
            "label" | "apparmor" => {}
            _ => return Err(bad(s)),
        }
    }
    Ok(o)
}

/// A profile file in Docker's format.
fn read_profile(path: &str) -> Result<Profile> {
    let text = std::fs::read(path).map_err(|e| {
        Error::invalid(
            "seccomp profile",
            path,
            format!("opening seccomp profile failed: {e}"),
        )
    })?;
    serde_json::from_slice(&text).map_err(|e| {
        Error::invalid(
            "seccomp profile",
            path,
            format!("decoding seccomp profile failed: {e}"),
        )
    })
}

/// `--tmpfs DIR[:OPTIONS]` as a mount (Docker's defaults: noexec, nosuid,
/// nodev unless the options say otherwise).
pub fn tmpfs_mount(arg: &str) -> Result<Value> {
    let (dir, opts) = arg.split_once(':').unwrap_or((arg, ""));
    if !dir.starts_with('/') {
        return Err(Error::invalid(
            "--tmpfs",
            arg,
            "mount path must be absolute",
        ));
    }
    let mut options: Vec<String> = Vec::new();
    let mut flags = vec!["noexec", "nosuid", "nodev"];
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let bad = |why: &str| Error::invalid("--tmpfs", arg, format!("{why}: {o}"));
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        match k {
            "exec" | "suid" | "dev" => flags.retain(|f| f[2..] != *k),
            "noexec" | "nosuid" | "nodev" => {}
            "ro" | "rw" | "atime" | "noatime" | "relatime" | "strictatime" | "diratime"
            | "nodiratime" | "sync" | "async" | "dirsync" | "tmpcopyup" | "notmpcopyup"
                if v.is_empty() => {}
            "mode" if u32::from_str_radix(v, 8).is_ok_and(|m| m <= 0o7777) => {}
            "mode" => return Err(bad("bad mode")),
            "size" | "nr_blocks" | "nr_inodes" if valid_size(v) => {}
            "size" | "nr_blocks" | "nr_inodes" => return Err(bad("bad size")),
            "uid" | "gid" if v.parse::<u32>().is_ok() => {}
            _ => return Err(bad("unknown tmpfs option")),
        }
        if !matches!(k, "exec" | "suid" | "dev" | "tmpcopyup" | "notmpcopyup") {
            options.push(o.to_string());
        }
    }
    let mut all: Vec<String> = flags.into_iter().map(String::from).collect();
    all.retain(|f| !options.contains(f));
    all.extend(options);
    Ok(json!({"destination": dir, "type": "tmpfs", "source": "tmpfs", "options": all}))
}

/// A tmpfs size: a number with an optional k/m/g unit, or a percentage.
fn valid_size(v: &str) -> bool {
    let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
    !digits.is_empty() && digits.len() + 1 >= v.len() && digits.parse::<u64>().is_ok()
}

/// Docker's `--ulimit` names and the resources they are.
const ULIMITS: &[(&str, &str)] = &[
    ("as", "RLIMIT_AS"),
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
];

/// `NAME=SOFT[:HARD]` (`-1`: unlimited) as (name, soft, hard).
pub fn parse_ulimit(arg: &str) -> Result<(&'static str, u64, u64)> {
    let bad = |why: String| Error::invalid("--ulimit", arg, why);
    let (name, vals) = arg
        .split_once('=')
        .ok_or_else(|| bad(format!("invalid ulimit argument: {arg}")))?;
    let (_, res) = ULIMITS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| bad(format!("invalid ulimit type: {name}")))?;
    let num = |s: &str| -> Result<u64> {
        match s.parse::<i64>() {
            Ok(-1) => Ok(u64::MAX),
            Ok(n) if n >= 0 => Ok(n as u64),
            _ => Err(bad(format!("invalid ulimit argument: {s}"))),
        }
    };
    let (soft, hard) = match vals.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => (num(vals)?, num(vals)?),
    };
    if soft > hard {
        return Err(bad(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok((res, soft, hard))
}

/// Whether this process can raise hard limits (CAP_SYS_RESOURCE, bit 24,
/// effective).
fn can_raise_limits() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|m| m & (1 << 24) != 0)
}

/// This process's hard limit of `res` (`RLIMIT_NOFILE`), `None` if unknown.
fn own_hard_limit(res: &str) -> Option<u64> {
    use nix::sys::resource::{getrlimit, Resource as R};
    let r = match res {
        "RLIMIT_AS" => R::RLIMIT_AS,
        "RLIMIT_CORE" => R::RLIMIT_CORE,
        "RLIMIT_CPU" => R::RLIMIT_CPU,
        "RLIMIT_DATA" => R::RLIMIT_DATA,
        "RLIMIT_FSIZE" => R::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => R::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => R::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => R::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => R::RLIMIT_NICE,
        "RLIMIT_NOFILE" => R::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => R::RLIMIT_NPROC,
        "RLIMIT_RSS" => R::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => R::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => R::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => R::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => R::RLIMIT_STACK,
        _ => return None,
    };
    getrlimit(r).ok().map(|(_, h)| h)
}

/// `--ulimit`s as `process.rlimits`; a hard limit above this process's
/// when it cannot raise it is refused here, with the reason.
fn rlimits(args: &[String]) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for a in args {
        let (res, soft, hard) = parse_ulimit(a)?;
        if let Some(own) = own_hard_limit(res).filter(|own| hard > *own) {
            if !can_raise_limits() {
                let show = |v: u64| match v {
                    u64::MAX => "unlimited".to_string(),
                    v => v.to_string(),
                };
                return Err(Error::invalid(
                    "--ulimit",
                    a,
                    format!(
                        "hard limit {} is above nook's own ({}) and raising it needs CAP_SYS_RESOURCE, which nook lacks here",
                        show(hard),
                        show(own)
                    ),
                ));
            }
        }
        out.retain(|r: &Value| r["type"] != res);
        out.push(json!({"type": res, "soft": soft, "hard": hard}));
    }
    Ok(out)
}

/// The sysctls a container may set (namespaced ones), as Docker allows.
pub fn sysctl_allowed(key: &str) -> bool {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    IPC.contains(&key) || key.starts_with("net.") || key.starts_with("fs.mqueue.")
}

fn sysctls(args: &[String]) -> Result<serde_json::Map<String, Value>> {
    let mut m = serde_json::Map::new();
    for a in args {
        match a.split_once('=') {
            Some((k, v)) if sysctl_allowed(k) => {
                m.insert(k.to_string(), json!(v));
            }
            _ => {
                return Err(Error::invalid(
                    "--sysctl",
                    a,
                    format!("sysctl '{a}' is not allowed"),
                ))
            }
        }
    }
    Ok(m)
}

impl Security {
    /// Check every flag (reading a seccomp profile file), nothing made yet.
    pub fn parse(o: &SecurityOptions) -> Result<Security> {
        let caps = capabilities(&o.cap_add, &o.cap_drop, o.privileged)?;
        let opts = security_opts(&o.security_opt)?;
        let seccomp = match o.privileged {
            true => Seccomp::Unconfined,
            false => opts.seccomp,
        };
        Ok(Security {
            caps,
            privileged: o.privileged,
            seccomp,
            no_new_privileges: opts.no_new_privileges,
            unmask: opts.unmask || o.privileged,
            read_only: o.read_only,
            tmpfs: o
                .tmpfs
                .iter()
                .map(|t| tmpfs_mount(t))
                .collect::<Result<_>>()?,
            rlimits: rlimits(&o.ulimits)?,
            sysctls: sysctls(&o.sysctls)?,
            group_add: o.group_add.clone(),
        })
    }

    /// Apply to `spec` (built with Docker's defaults), whose process runs
    /// as `uid`; `--group-add` names are looked up in `rootfs`.
    pub fn apply(&self, spec: &mut Value, rootfs: &Path) -> Result<()> {
        let uid = spec["process"]["user"]["uid"].as_u64().unwrap_or(0);
        spec["process"]["capabilities"] = capability_sets(&self.caps, uid);
        spec["process"]["noNewPrivileges"] = json!(self.no_new_privileges);
        if !self.rlimits.is_empty() {
            spec["process"]["rlimits"] = json!(self.rlimits);
        }
        let mut extra = Vec::new();
        for g in &self.group_add {
            let gid = super::spec::group_id(rootfs, g)?;
            extra.push(gid);
        }
        if let Some(gids) = spec["process"]["user"]["additionalGids"].as_array_mut() {
            gids.extend(extra.into_iter().map(|g| json!(g)));
        }
        spec["root"]["readonly"] = json!(self.read_only);
        let mounts = spec["mounts"].as_array_mut();
        if let Some(mounts) = mounts {
            for t in &self.tmpfs {
                mounts.retain(|m| m["destination"] != t["destination"]);
                mounts.push(t.clone());
            }
        }
        let linux = &mut spec["linux"];
        linux["sysctl"] = Value::Object(with_default_sysctls(&self.sysctls));
        if self.unmask {
            linux["maskedPaths"] = json!([]);
            linux["readonlyPaths"] = json!([]);
        }
        let target = Target {
            caps: &self.caps,
            arch: seccomp_profile::native_arch(),
            kernel: seccomp_profile::running_kernel(),
        };
        match &self.seccomp {
            Seccomp::Unconfined => {}
            Seccomp::Default => {
                linux["seccomp"] = seccomp_profile::default_profile().to_oci(&target)
            }
            Seccomp::Custom(p) => linux["seccomp"] = p.to_oci(&target),
        }
        if self.privileged {
            privileged(spec);
        }
        Ok(())
    }
}

/// The sysctls with Docker's defaults for a container with its own network
/// namespace: any user may bind ports below 1024 and open ICMP sockets.
pub fn with_default_sysctls(
    given: &serde_json::Map<String, Value>,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("net.ipv4.ip_unprivileged_port_start".into(), json!("0"));
    m.insert("net.ipv4.ping_group_range".into(), json!("0 2147483647"));
    m.extend(given.clone());
    m
}

/// `process.capabilities`: Docker gives a non-root process only the
/// bounding set (nothing effective, permitted, inheritable or ambient).
pub fn capability_sets(caps: &[String], uid: u64) -> Value {
    match uid {
        0 => json!({"bounding": caps, "effective": caps, "permitted": caps}),
        _ => json!({"bounding": caps}),
    }
}

/// `--privileged`: /sys and the cgroup file system writable, every host
/// device made in the container and allowed.
fn privileged(spec: &mut Value) {
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if matches!(m["type"].as_str(), Some("sysfs" | "cgroup")) {
                if let Some(o) = m["options"].as_array_mut() {
                    o.retain(|o| o != "ro");
                    o.push(json!("rw"));
                }
            }
        }
    }
    let linux = &mut spec["linux"];
    linux["devices"] = json!(host_devices(Path::new("/dev")));
    linux["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
}

/// The device nodes below `dir` as `linux.devices` entries (not those of
/// /dev/pts, /dev/shm, /dev/mqueue: the container has its own; nor the
/// console).
pub fn host_devices(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let path = e.path();
        let Ok(md) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let ft = md.file_type();
        if ft.is_dir() {
            let name = e.file_name();
            if !matches!(
                name.to_str(),
                Some("pts" | "shm" | "mqueue" | "fd" | ".udev")
            ) {
                out.extend(host_devices(&path));
            }
            continue;
        }
        if path == Path::new("/dev/console") || path == Path::new("/dev/ptmx") {
            continue;
        }
        out.extend(host_device(&path));
    }
    out
}

/// The device node at `path` (not following a symlink) as a
/// `linux.devices` entry; `None` when it is not one.
pub fn host_device(path: &Path) -> Option<Value> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::symlink_metadata(path).ok()?;
    let ft = md.file_type();
    let typ = match (ft.is_char_device(), ft.is_block_device()) {
        (true, _) => "c",
        (_, true) => "b",
        _ => return None,
    };
    let rdev = md.rdev();
    Some(json!({
        "path": path, "type": typ,
        "major": libc::major(rdev), "minor": libc::minor(rdev),
        "fileMode": md.mode() & 0o7777, "uid": md.uid(), "gid": md.gid(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn capabilities_follow_dockers_rules() {
        let c = capabilities(&[], &[], false).unwrap();
        assert_eq!(c, DEFAULT_CAPS.map(String::from).to_vec());
        let c = capabilities(&s(&["sys_admin", "CAP_NET_ADMIN"]), &s(&["chown"]), false).unwrap();
        assert!(c.contains(&"CAP_SYS_ADMIN".into()) && c.contains(&"CAP_NET_ADMIN".into()));
        assert!(!c.contains(&"CAP_CHOWN".into()));
        assert_eq!(c.len(), 15);
        assert!(capabilities(&[], &s(&["ALL"]), false).unwrap().is_empty());
        assert_eq!(
            capabilities(&s(&["kill"]), &s(&["all"]), false).unwrap(),
            s(&["CAP_KILL"])
        );
        let all = all_caps();
        let c = capabilities(&s(&["ALL"]), &s(&["MKNOD"]), false).unwrap();
        assert_eq!(c.len(), all.len() - 1);
        assert_eq!(capabilities(&[], &s(&["ALL"]), true).unwrap(), all);
        let e = capabilities(&s(&["CAP_FOO"]), &[], false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("CAP_FOO") && e.contains("unknown capability"),
            "{e}"
        );
    }

    #[test]
    fn security_opts_parse_as_docker() {
        let o = security_opts(&s(&["no-new-privileges", "label=disable", "apparmor=x"])).unwrap();
        assert!(o.no_new_privileges);
        assert_eq!(o.seccomp, Seccomp::Default);
        let o = security_opts(&s(&["no-new-privileges=false", "seccomp=unconfined"])).unwrap();
        assert!(!o.no_new_privileges);
        assert_eq!(o.seccomp, Seccomp::Unconfined);
        assert!(
            security_opts(&s(&["no-new-privileges:true"]))
                .unwrap()
                .no_new_privileges
        );
        assert!(
            security_opts(&s(&["systempaths=unconfined"]))
                .unwrap()
                .unmask
        );
        for bad in [
            "foo=bar",
            "nonsense",
            "no-new-privileges=maybe",
            "seccomp=/no/such/file",
        ] {
            let e = security_opts(&s(&[bad])).unwrap_err().to_string();
            assert!(e.contains(bad.trim_start_matches("seccomp=")), "{e}");
        }
    }

    #[test]
    fn tmpfs_takes_dockers_defaults_and_options() {
        let m = tmpfs_mount("/run").unwrap();
        assert_eq!(m["options"], json!(["noexec", "nosuid", "nodev"]));
        let m = tmpfs_mount("/x:exec,size=64m,mode=1777").unwrap();
        assert_eq!(
            m["options"],
            json!(["nosuid", "nodev", "size=64m", "mode=1777"])
        );
        assert_eq!(m["destination"], "/x");
        for bad in ["rel", "/x:mode=99", "/x:size=lots", "/x:bogus"] {
            let e = tmpfs_mount(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn ulimits_parse_as_docker() {
        assert_eq!(
            parse_ulimit("nofile=100:200").unwrap(),
            ("RLIMIT_NOFILE", 100, 200)
        );
        assert_eq!(
            parse_ulimit("core=-1").unwrap(),
            ("RLIMIT_CORE", u64::MAX, u64::MAX)
        );
        let e = |a| parse_ulimit(a).unwrap_err().to_string();
        assert!(e("bogus=1").contains("invalid ulimit type: bogus"));
        assert!(e("nofile").contains("invalid ulimit argument"));
        assert!(e("nofile=x").contains("invalid ulimit argument: x"));
        assert!(e("nofile=2:1").contains("must be less than or equal to hard limit: 2 > 1"));
    }

    #[test]
    fn only_namespaced_sysctls_are_allowed() {
        assert!(sysctls(&s(&[
            "net.ipv4.ip_forward=1",
            "kernel.shmmax=1",
            "fs.mqueue.msg_max=5"
        ]))
        .is_ok());
        let e = sysctls(&s(&["kernel.hostname=x"])).unwrap_err().to_string();
        assert!(
            e.contains("sysctl 'kernel.hostname=x' is not allowed"),
            "{e}"
        );
        assert!(sysctls(&s(&["vm.swappiness=1"])).is_err());
        assert!(sysctls(&s(&["net.core.somaxconn"])).is_err());
    }

    #[test]
    fn apply_sets_the_spec() {
        let mut spec = json!({
            "process": {"user": {"uid": 1000, "gid": 1000, "additionalGids": []}},
            "root": {"path": "rootfs"},
            "mounts": [{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]}],
            "linux": {"maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]},
        });
        let o = SecurityOptions {
            privileged: true,
            read_only: true,
            tmpfs: s(&["/tmp"]),
            group_add: s(&["42"]),
            ..Default::default()
        };
        Security::parse(&o)
            .unwrap()
            .apply(&mut spec, Path::new("/nonexistent"))
            .unwrap();
        assert_eq!(
            spec["process"]["capabilities"]["bounding"],
            json!(all_caps())
        );
        assert!(spec["process"]["capabilities"].get("effective").is_none());
        assert_eq!(spec["process"]["user"]["additionalGids"], json!([42]));
        assert_eq!(spec["root"]["readonly"], true);
        assert_eq!(spec["mounts"][0]["options"], json!(["rw"]));
        assert_eq!(spec["mounts"][1]["destination"], "/tmp");
        assert_eq!(spec["linux"]["maskedPaths"], json!([]));
        assert_eq!(
            spec["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"],
            "0"
        );
        assert!(spec["linux"].get("seccomp").is_none());
        assert_eq!(spec["linux"]["resources"]["devices"][0]["allow"], true);
        assert!(spec["linux"]["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "/dev/null"));
    }
}
