//! A container's OCI runtime spec, built as Docker builds it from the
//! image's config plus the `run` flags: the command (Entrypoint + Cmd),
//! Env, WorkingDir, User (names looked up in the image's /etc/passwd and
//! /etc/group, read inside the container's root), Docker's 14 default
//! capabilities, masked and read-only paths, Docker's mounts, and
//! /etc/hosts, /etc/hostname and /etc/resolv.conf (written by [`super::etc`])
//! bound over the image's.

use crate::{Error, Result};
use oci_spec::runtime::Spec;
use serde_json::{json, Value};
use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

/// Docker's default capabilities.
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// PATH when the image sets none (Docker's).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What the process of a container (or of an exec) runs as and with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessConfig {
    /// The program and its arguments.
    pub args: Vec<String>,
    /// `K=V` entries.
    pub env: Vec<String>,
    /// Absolute working directory.
    pub cwd: String,
    /// The user as given (`name`, `uid`, `name:group`), empty for root.
    pub user: String,
}

/// The image config's fields a container starts from (`config` of the
/// image's config JSON).
pub fn image_process(
    image_config: &Value,
) -> (Vec<String>, Vec<String>, Vec<String>, String, String) {
    let c = &image_config["config"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    (
        strings(&c["Entrypoint"]),
        strings(&c["Cmd"]),
        strings(&c["Env"]),
        c["WorkingDir"].as_str().unwrap_or("").to_string(),
        c["User"].as_str().unwrap_or("").to_string(),
    )
}

/// `base` with each of `overrides` (`K=V`) set, replacing the same key.
pub fn merge_env(base: &[String], overrides: &[String]) -> Vec<String> {
    let mut out: Vec<String> = base.to_vec();
    for o in overrides {
        let key = o.split_once('=').map_or(o.as_str(), |(k, _)| k);
        out.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        out.push(o.clone());
    }
    if !out.iter().any(|e| e.starts_with("PATH=")) {
        out.insert(0, DEFAULT_PATH.to_string());
    }
    out
}

/// The uid, gid and additional gids `user` (`name|uid[:group|gid]`) means
/// in the root file system at `rootfs` (its /etc/passwd and /etc/group read
/// inside it, no link followed out of it).
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>)> {
    if user.is_empty() {
        return Ok((0, 0, Vec::new()));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = read_in_root(rootfs, "/etc/passwd")?;
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == u || (u.parse::<u32>().is_ok() && f[2] == u)));
    let (uid, mut gid, name) = match (&entry, u.parse::<u32>()) {
        (Some(f), _) => (num(f[2], user)?, num(f[3], user)?, f[0].to_string()),
        (None, Ok(n)) => (n, 0, String::new()),
        (None, Err(_)) => {
            return Err(Error::invalid(
                "user",
                user,
                format!("unable to find user {u}: no matching entries in passwd file"),
            ))
        }
    };
    let group = read_in_root(rootfs, "/etc/group")?;
    let groups: Vec<Vec<&str>> = group.lines().map(|l| l.split(':').collect()).collect();
    if let Some(g) = g {
        gid = match groups
            .iter()
            .find(|f| f.len() >= 3 && (f[0] == g || f[2] == g))
        {
            Some(f) => num(f[2], user)?,
            None => g.parse::<u32>().map_err(|_| {
                Error::invalid(
                    "user",
                    user,
                    format!("unable to find group {g}: no matching entries in group file"),
                )
            })?,
        };
    }
    let mut extra = Vec::new();
    if !name.is_empty() && g.is_none() {
        for f in groups.iter().filter(|f| f.len() >= 4) {
            if f[3].split(',').any(|m| m == name) {
                let n = num(f[2], user)?;
                if n != gid && !extra.contains(&n) {
                    extra.push(n);
                }
            }
        }
    }
    Ok((uid, gid, extra))
}

/// The gid of `--group-add` `group` (a number, or a name in the image's
/// /etc/group read inside `rootfs`).
pub(crate) fn group_id(rootfs: &Path, group: &str) -> Result<u32> {
    if let Ok(n) = group.parse::<u32>() {
        return Ok(n);
    }
    let text = read_in_root(rootfs, "/etc/group")?;
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == group)
        .and_then(|f| f[2].parse().ok())
        .ok_or_else(|| {
            Error::invalid(
                "--group-add",
                group,
                format!("unable to find group {group}: no matching entries in group file"),
            )
        })
}

fn num(s: &str, user: &str) -> Result<u32> {
    s.parse()
        .map_err(|_| Error::invalid("user", user, format!("bad id {s:?} in the image's files")))
}

/// The text of `path` inside `rootfs` (empty when it does not exist).
fn read_in_root(rootfs: &Path, path: &str) -> Result<String> {
    let root = std::fs::File::open(rootfs).map_err(Error::io("open", rootfs))?;
    let fd = match nook_sys::path::open_in_root(
        root.as_fd(),
        Path::new(path),
        libc::O_RDONLY | libc::O_CLOEXEC,
        0,
    ) {
        Ok(fd) => fd,
        Err(nook_sys::Errno::ENOENT) => return Ok(String::new()),
        Err(e) => {
            return Err(Error::io("open", rootfs.join(&path[1..]))(
                std::io::Error::from_raw_os_error(e as i32),
            ))
        }
    };
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut text)
        .map_err(Error::io("read", rootfs.join(&path[1..])))?;
    Ok(text)
}

/// Create the working directory `cwd` inside `rootfs` when the image lacks
/// it (as Docker does).
pub fn ensure_cwd(rootfs: &Path, cwd: &str) -> Result<()> {
    let root = std::fs::File::open(rootfs).map_err(Error::io("open", rootfs))?;
    nook_sys::path::mkdir_all_in_root(root.as_fd(), Path::new(cwd), 0o755)
        .map(drop)
        .map_err(|e| {
            Error::io(
                "create the working directory",
                rootfs.join(cwd.trim_start_matches('/')),
            )(std::io::Error::from_raw_os_error(e as i32))
        })
}

/// Everything the spec is built from.
#[derive(Clone, Debug)]
pub struct SpecInput<'a> {
    /// The process.
    pub process: &'a ProcessConfig,
    /// Its resolved uid, gid and additional gids.
    pub ids: (u32, u32, Vec<u32>),
    /// The container's hostname.
    pub hostname: &'a str,
    /// The directory holding hosts, hostname and resolv.conf.
    pub etc_dir: &'a Path,
    /// Annotations kept with the spec (what `inspect` shows).
    pub annotations: Value,
}

/// The process section of a spec.
pub fn process_json(p: &ProcessConfig, ids: &(u32, u32, Vec<u32>)) -> Value {
    json!({
        "terminal": false,
        "user": {"uid": ids.0, "gid": ids.1, "additionalGids": ids.2},
        "args": p.args,
        "env": p.env,
        "cwd": p.cwd,
        "capabilities": {"bounding": DEFAULT_CAPS, "effective": DEFAULT_CAPS, "permitted": DEFAULT_CAPS},
        "noNewPrivileges": false,
    })
}

/// The container's spec.
pub fn build(input: &SpecInput<'_>) -> Result<Spec> {
    let bind = |name: &str, dest: &str| {
        json!({"destination": dest, "type": "bind", "source": input.etc_dir.join(name),
               "options": ["rbind", "rprivate"]})
    };
    let mounts = json!([
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        bind("hosts", "/etc/hosts"),
        bind("hostname", "/etc/hostname"),
        bind("resolv.conf", "/etc/resolv.conf"),
    ]);
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "network"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        namespaces.push(json!({"type": "cgroup"}));
    }
    let dev = |major: i64, minor: Option<i64>| json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"});
    let spec = json!({
        "ociVersion": "1.2.0",
        "process": process_json(input.process, &input.ids),
        "root": {"path": "rootfs", "readonly": false},
        "hostname": input.hostname,
        "mounts": mounts,
        "annotations": input.annotations,
        "linux": {
            "namespaces": namespaces,
            "resources": {"devices": [
                {"allow": false, "access": "rwm"},
                dev(1, Some(3)), dev(1, Some(5)), dev(1, Some(7)), dev(1, Some(8)), dev(1, Some(9)),
                dev(5, Some(0)), dev(5, Some(1)), dev(5, Some(2)), dev(136, None),
            ]},
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY,
        },
    });
    serde_json::from_value(spec).map_err(|e| Error::invalid("container spec", "built", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_replace_keys_and_path_is_always_set() {
        let e = merge_env(&["A=1".into(), "B=2".into()], &["A=3".into()]);
        assert_eq!(e, vec![DEFAULT_PATH, "B=2", "A=3"]);
        let e = merge_env(&["PATH=/bin".into()], &[]);
        assert_eq!(e, vec!["PATH=/bin"]);
    }

    #[test]
    fn users_resolve_in_the_image_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\napp:x:1001:\nextra:x:2000:app,other\nstaff:x:50:\n",
        )
        .unwrap();
        let r = |u: &str| resolve_user(dir.path(), u);
        assert_eq!(r("").unwrap(), (0, 0, vec![]));
        assert_eq!(r("app").unwrap(), (1000, 1001, vec![2000]));
        assert_eq!(r("1000").unwrap(), (1000, 1001, vec![2000]));
        assert_eq!(r("app:staff").unwrap(), (1000, 50, vec![]));
        assert_eq!(r("4242:7").unwrap(), (4242, 7, vec![]));
        let e = r("nobody").unwrap_err().to_string();
        assert!(e.contains("unable to find user nobody"), "{e}");
        assert!(r("app:nogroup").is_err());
    }

    #[test]
    fn spec_has_docker_defaults() {
        let p = ProcessConfig {
            args: vec!["sh".into()],
            env: vec![DEFAULT_PATH.into()],
            cwd: "/".into(),
            user: String::new(),
        };
        let s = build(&SpecInput {
            process: &p,
            ids: (0, 0, vec![]),
            hostname: "abc",
            etc_dir: Path::new("/x"),
            annotations: json!({}),
        })
        .unwrap();
        let caps = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 14);
        assert_eq!(s.hostname().as_deref(), Some("abc"));
        let ns = s.linux().as_ref().unwrap().namespaces().as_ref().unwrap();
        assert!(ns
            .iter()
            .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network));
    }
}
