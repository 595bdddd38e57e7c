//! The mounts a container asks for: `-v/--volume` and `--mount` parsed as
//! Docker parses them, plus the image's `Volumes` (anonymous volumes);
//! then, when the container is made, volumes made on first use (and
//! filled from the image's content at the target unless `nocopy`), bind
//! sources checked (or made, for `-v`), targets made inside the root
//! without leaving it, and the OCI mounts and `inspect`'s `Mounts` added
//! to the container's spec.
//!
//! Everything given is parsed and checked before anything is made, so a
//! bad value leaves nothing behind; volumes made for a container that
//! then fails to be made are removed again.

use crate::{Engine, Error, Result};
use nook_state::NewVolume;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// What is mounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A new tmpfs.
    Tmpfs,
}

impl MountKind {
    fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// One mount as asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountRequest {
    /// Bind, volume or tmpfs.
    pub kind: MountKind,
    /// A bind's absolute host path; a volume's name (empty: anonymous);
    /// empty for tmpfs.
    pub source: String,
    /// The absolute, cleaned path in the container.
    pub target: String,
    /// Mounted read-only.
    pub readonly: bool,
    /// A volume not filled from the image.
    pub nocopy: bool,
    /// Bind propagation (`rprivate` when `None`).
    pub propagation: Option<String>,
    /// `bind-nonrecursive`.
    pub nonrecursive: bool,
    /// Docker's `Mode` as `inspect` shows it (the `-v` options).
    pub mode: String,
    /// `-v` makes a missing bind source; `--mount` refuses it.
    pub create_source: bool,
    /// `tmpfs-size` in bytes.
    pub tmpfs_size: Option<u64>,
    /// `tmpfs-mode`.
    pub tmpfs_mode: Option<u32>,
    /// `volume-label`s for a volume made here.
    pub labels: BTreeMap<String, String>,
    /// `--tmpfs DST:OPTS`: its mount options (Docker's defaults, then
    /// these); such a tmpfs is not listed in `inspect`'s Mounts.
    pub tmpfs_flag: Option<Vec<String>>,
}

impl MountRequest {
    fn new(kind: MountKind, source: &str, target: String) -> MountRequest {
        MountRequest {
            kind,
            source: source.to_string(),
            target,
            readonly: false,
            nocopy: false,
            propagation: None,
            nonrecursive: false,
            mode: String::new(),
            create_source: false,
            tmpfs_size: None,
            tmpfs_mode: None,
            labels: BTreeMap::new(),
            tmpfs_flag: None,
        }
    }
}

const PROPAGATIONS: [&str; 6] = [
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// `target` checked (absolute, not `/`, not below /proc or /sys) and
/// cleaned; `spec` is what the user gave, for the error.
pub fn check_target(target: &str, what: &'static str, spec: &str) -> Result<String> {
    if !target.starts_with('/') {
        return Err(Error::invalid(
            what,
            spec,
            format!("mount path {target:?} must be absolute"),
        ));
    }
    let clean = nook_sys::path::clean_relative(Path::new(target));
    let first = clean.components().next().map(|c| c.as_os_str().to_owned());
    if clean.as_os_str().is_empty() {
        return Err(Error::invalid(what, spec, "destination can't be '/'"));
    }
    if first.is_some_and(|f| f == "proc" || f == "sys") {
        return Err(Error::invalid(
            what,
            spec,
            format!("mounting over {target:?} is not allowed (/proc and /sys are the kernel's)"),
        ));
    }
    Ok(format!("/{}", clean.display()))
}

/// Parse `-v SRC:DST[:OPTS]` or `-v DST` as Docker does (`cwd` makes a
/// `./relative` source absolute).
pub fn parse_volume(spec: &str) -> Result<MountRequest> {
    const WHAT: &str = "volume specification";
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(Error::invalid(WHAT, spec, "too many colons")),
    };
    if parts.len() > 1 && src.is_empty() {
        return Err(Error::invalid(WHAT, spec, "empty source"));
    }
    let target = check_target(dst, WHAT, spec)?;
    let kind = match src {
        "" => MountKind::Volume,
        s if s.starts_with('/') || s == "." || s.starts_with("./") || s.starts_with("../") => {
            MountKind::Bind
        }
        s => {
            crate::volume::check_name(s)?;
            MountKind::Volume
        }
    };
    let source = match kind {
        MountKind::Bind if !src.starts_with('/') => std::path::absolute(src)
            .map_err(Error::io("resolve", src))?
            .to_string_lossy()
            .into_owned(),
        _ => src.to_string(),
    };
    let mut m = MountRequest::new(kind, &source, target);
    m.create_source = true;
    m.mode = opts.to_string();
    let (mut rw, mut label) = (None, None);
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let dup = match o {
            "ro" | "rw" => rw.replace(o == "ro").is_some(),
            "z" | "Z" => label.replace(o).is_some(),
            p if PROPAGATIONS.contains(&p) => m.propagation.replace(p.to_string()).is_some(),
            "nocopy" => std::mem::replace(&mut m.nocopy, true),
            "consistent" | "cached" | "delegated" => false,
            _ => {
                return Err(Error::invalid(
                    "volume option",
                    o,
                    format!("in {spec:?}: ro, rw, z, Z, nocopy or a propagation are allowed"),
                ))
            }
        };
        if dup {
            return Err(Error::invalid(WHAT, spec, format!("invalid mode: {opts}")));
        }
    }
    m.readonly = rw.unwrap_or(false);
    if kind == MountKind::Bind && m.nocopy {
        return Err(Error::invalid(WHAT, spec, "nocopy is only for volumes"));
    }
    if kind == MountKind::Volume && m.mode.is_empty() {
        m.mode = "z".into();
    }
    Ok(m)
}

/// Mount options `--tmpfs` takes (those with `=` take a value).
const TMPFS_OPTIONS: [&str; 21] = [
    "ro",
    "rw",
    "exec",
    "noexec",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "sync",
    "async",
    "dirsync",
    "atime",
    "noatime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "diratime",
    "nodiratime",
    "mand",
    "nomand",
];

/// Parse `--tmpfs DST[:OPTS]` as Docker does: a tmpfs with `noexec`,
/// `nosuid`, `nodev` unless the options say otherwise.
pub fn parse_tmpfs(spec: &str) -> Result<MountRequest> {
    let (dst, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let target = check_target(dst, "tmpfs", spec)?;
    let mut options: Vec<String> = ["noexec", "nosuid", "nodev"].map(String::from).to_vec();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let key = o.split_once('=').map_or(o, |(k, _)| k);
        let valued = ["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"].contains(&key);
        if !(valued && o.contains('=') || TMPFS_OPTIONS.contains(&o)) {
            return Err(Error::invalid(
                "tmpfs option",
                o,
                format!("in {spec:?}: not a tmpfs mount option"),
            ));
        }
        if let Some((k, v)) = o.split_once('=') {
            let number = match k {
                "mode" => u32::from_str_radix(v, 8).is_ok_and(|m| m <= 0o7777),
                "size" => v
                    .trim_end_matches(['k', 'm', 'g', '%', 'K', 'M', 'G'])
                    .parse::<u64>()
                    .is_ok(),
                _ => v.parse::<u64>().is_ok(),
            };
            if !number {
                return Err(Error::invalid(
                    "tmpfs option",
                    o,
                    format!("in {spec:?}: not a valid value"),
                ));
            }
        }
        let opposite = o
            .strip_prefix("no")
            .map(String::from)
            .unwrap_or(format!("no{o}"));
        options.retain(|x| *x != opposite && x.split_once('=').is_none_or(|(k, _)| k != key));
        options.push(o.to_string());
    }
    let mut m = MountRequest::new(MountKind::Tmpfs, "", target);
    m.readonly = options.iter().any(|o| o == "ro");
    options.retain(|o| o != "ro" && o != "rw");
    m.tmpfs_flag = Some(options);
    Ok(m)
}

/// `true`/`false`/`1`/`0` (or nothing: true) for a `--mount` flag key.
fn flag(key: &str, v: Option<&str>, spec: &str) -> Result<bool> {
    match v {
        None | Some("1" | "true") => Ok(true),
        Some("0" | "false") => Ok(false),
        Some(x) => Err(Error::invalid(
            "mount",
            spec,
            format!("{key}={x}: true or false expected"),
        )),
    }
}

/// Parse `--mount type=...,source=...,target=...,...` as Docker does
/// (`src`, `dst`, `destination`, `ro` are aliases).
pub fn parse_mount(spec: &str) -> Result<MountRequest> {
    let mut m = MountRequest::new(MountKind::Volume, "", String::new());
    let mut target = None;
    let mut only: Vec<(&str, MountKind)> = Vec::new();
    for field in spec.split(',') {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = || {
            value.ok_or_else(|| {
                Error::invalid("mount", spec, format!("{key} needs a value ({key}=...)"))
            })
        };
        match key.as_str() {
            "type" => {
                m.kind = match need()? {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    t => return Err(Error::invalid("mount type", t, "bind, volume or tmpfs")),
                }
            }
            "source" | "src" => m.source = need()?.to_string(),
            "target" | "destination" | "dst" => target = Some(need()?.to_string()),
            "readonly" | "ro" => m.readonly = flag(&key, value, spec)?,
            "consistency" => drop(need()?),
            "bind-propagation" => {
                let p = need()?;
                if !PROPAGATIONS.contains(&p) {
                    return Err(Error::invalid(
                        "bind-propagation",
                        p,
                        "shared, rshared, slave, rslave, private or rprivate",
                    ));
                }
                m.propagation = Some(p.to_string());
                only.push(("bind-propagation", MountKind::Bind));
            }
            "bind-nonrecursive" => {
                m.nonrecursive = flag(&key, value, spec)?;
                only.push(("bind-nonrecursive", MountKind::Bind));
            }
            "volume-nocopy" => {
                m.nocopy = flag(&key, value, spec)?;
                only.push(("volume-nocopy", MountKind::Volume));
            }
            "volume-label" => {
                let (k, v) = need()?.split_once('=').unwrap_or((need()?, ""));
                m.labels.insert(k.to_string(), v.to_string());
                only.push(("volume-label", MountKind::Volume));
            }
            "volume-driver" => {
                if need()? != crate::volume::LOCAL_DRIVER {
                    return Err(Error::invalid(
                        "volume driver",
                        need()?,
                        "only the local driver exists",
                    ));
                }
                only.push(("volume-driver", MountKind::Volume));
            }
            "tmpfs-size" => {
                m.tmpfs_size = Some(parse_bytes(need()?)?);
                only.push(("tmpfs-size", MountKind::Tmpfs));
            }
            "tmpfs-mode" => {
                let v = need()?;
                m.tmpfs_mode = Some(
                    u32::from_str_radix(v, 8)
                        .ok()
                        .filter(|n| *n <= 0o7777)
                        .ok_or_else(|| Error::invalid("tmpfs-mode", v, "an octal mode expected"))?,
                );
                only.push(("tmpfs-mode", MountKind::Tmpfs));
            }
            _ => {
                return Err(Error::invalid(
                    "mount key",
                    field,
                    format!("unexpected key {key:?} in {spec:?}"),
                ))
            }
        }
    }
    let kind = m.kind;
    if let Some((k, _)) = only.iter().find(|(_, t)| *t != kind) {
        return Err(Error::invalid(
            "mount",
            spec,
            format!("{k} is not an option of type={}", kind.as_str()),
        ));
    }
    let target = target.ok_or_else(|| Error::invalid("mount", spec, "target is required"))?;
    m.target = check_target(&target, "mount", spec)?;
    check_source(&m, spec)?;
    Ok(m)
}

/// The source of a `--mount` checked for its type.
fn check_source(m: &MountRequest, spec: &str) -> Result<()> {
    let bad = |reason: String| Err(Error::invalid("mount", spec, reason));
    match m.kind {
        MountKind::Bind if m.source.is_empty() => bad("source is required for type=bind".into()),
        MountKind::Bind if !m.source.starts_with('/') => {
            bad(format!("bind source path {:?} must be absolute", m.source))
        }
        MountKind::Tmpfs if !m.source.is_empty() => bad("type=tmpfs takes no source".into()),
        MountKind::Volume if !m.source.is_empty() => crate::volume::check_name(&m.source),
        _ => Ok(()),
    }
}

/// Bytes from Docker's size syntax (`64m`, `1g`, `512k`, `100`; binary
/// units).
pub fn parse_bytes(s: &str) -> Result<u64> {
    let bad = || Error::invalid("size", s, "a number with an optional unit b, k, m, g or t");
    let lower = s.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(bad()),
    };
    let n: f64 = digits.parse().map_err(|_| bad())?;
    if n.is_nan() || n < 0.0 {
        return Err(bad());
    }
    Ok((n * (1u64 << shift) as f64) as u64)
}

/// The mounts of a container being made.
#[derive(Clone, Debug, Default)]
pub struct Planned {
    /// Each mount with its host source (a volume's data directory).
    pub mounts: Vec<(MountRequest, PathBuf)>,
    /// The volumes it uses.
    pub volumes: Vec<String>,
    /// The volumes made for it (removed again if it is not made).
    pub made: Vec<String>,
}

/// All the mounts of `volumes` (`-v`), `mounts` (`--mount`), `tmpfs`
/// (`--tmpfs`) and the
/// image's `Volumes`, parsed and checked; nothing made yet.
pub fn requests(
    volumes: &[String],
    mounts: &[String],
    tmpfs: &[String],
    image_config: &Value,
) -> Result<Vec<MountRequest>> {
    let mut all = volumes
        .iter()
        .map(|v| parse_volume(v))
        .collect::<Result<Vec<_>>>()?;
    for m in mounts {
        all.push(parse_mount(m)?);
    }
    for t in tmpfs {
        all.push(parse_tmpfs(t)?);
    }
    for (i, m) in all.iter().enumerate() {
        if all[..i].iter().any(|o| o.target == m.target) {
            return Err(Error::invalid("mount", &m.target, "duplicate mount point"));
        }
    }
    if let Some(image_volumes) = image_config["config"]["Volumes"].as_object() {
        for path in image_volumes.keys() {
            let Ok(target) = check_target(path, "image volume", path) else {
                continue;
            };
            if !all.iter().any(|m| m.target == target) {
                let mut m = MountRequest::new(MountKind::Volume, "", target);
                m.mode = String::new();
                all.push(m);
            }
        }
    }
    for m in &all {
        if m.kind == MountKind::Bind && !m.create_source && !Path::new(&m.source).exists() {
            return Err(Error::invalid(
                "mount",
                &m.source,
                format!("bind source path does not exist: {}", m.source),
            ));
        }
    }
    Ok(all)
}

impl Engine {
    /// Make what `reqs` need for a container whose root is `rootfs`:
    /// volumes (filled from the image), bind sources (`-v`), targets; into
    /// `planned`, so that a caller can undo it when this fails midway.
    pub fn plan_mounts(
        &self,
        reqs: Vec<MountRequest>,
        rootfs: &Path,
        planned: &mut Planned,
    ) -> Result<()> {
        if reqs.is_empty() {
            return Ok(());
        }
        let root = std::fs::File::open(rootfs).map_err(Error::io("open", rootfs))?;
        for mut m in reqs {
            let source = match m.kind {
                MountKind::Bind => {
                    let p = PathBuf::from(&m.source);
                    if !p.exists() {
                        std::fs::create_dir_all(&p)
                            .map_err(Error::io("create the bind source", &p))?;
                    }
                    p
                }
                MountKind::Volume => {
                    let (data, name) = self.use_volume(&m, root.as_fd(), planned)?;
                    m.source = name;
                    data
                }
                MountKind::Tmpfs => PathBuf::from("tmpfs"),
            };
            let as_file = m.kind == MountKind::Bind && !source.is_dir();
            let target = Path::new(&m.target);
            let made = match as_file {
                true => nook_sys::path::create_file_in_root(root.as_fd(), target, 0o644),
                false => nook_sys::path::mkdir_all_in_root(root.as_fd(), target, 0o755),
            };
            made.map_err(|e| {
                Error::io("create the mount target", rootfs.join(&m.target[1..]))(
                    std::io::Error::from_raw_os_error(e as i32),
                )
            })?;
            planned.mounts.push((m, source));
        }
        Ok(())
    }

    /// The data directory of the volume `m` names (made, and filled from
    /// the image's content at its target when new and empty).
    fn use_volume(
        &self,
        m: &MountRequest,
        root: std::os::fd::BorrowedFd<'_>,
        planned: &mut Planned,
    ) -> Result<(PathBuf, String)> {
        let anonymous = m.source.is_empty();
        let name = match anonymous {
            true => crate::container::random_id()?,
            false => m.source.clone(),
        };
        let mut labels = m.labels.clone();
        if anonymous {
            labels.insert(crate::volume::ANONYMOUS_LABEL.into(), String::new());
        }
        let (vol, made) = self.make_volume(&NewVolume {
            name: name.clone(),
            driver: crate::volume::LOCAL_DRIVER.into(),
            labels,
            options: BTreeMap::new(),
            anonymous,
        })?;
        if made {
            planned.made.push(name.clone());
        }
        if !planned.volumes.contains(&name) {
            planned.volumes.push(name.clone());
        }
        // a bind-device volume's data is its device
        let data =
            crate::volume::bind_device(&vol.record.volume.options)?.unwrap_or(vol.mountpoint);
        if !m.nocopy {
            super::tree::populate(root, Path::new(&m.target), &data)?;
        }
        Ok((data, name))
    }

    /// Undo [`Engine::plan_mounts`]: remove the volumes it made.
    pub fn unplan_mounts(&self, planned: &Planned) {
        for name in &planned.made {
            let _ = self.remove_volume_locked(name, true);
        }
    }
}

/// The OCI mount of `m` from `source`.
fn oci_mount(m: &MountRequest, source: &Path) -> Value {
    let mut options: Vec<String> = Vec::new();
    match m.kind {
        MountKind::Tmpfs if m.tmpfs_flag.is_some() => {
            options.extend(m.tmpfs_flag.iter().flatten().cloned());
        }
        MountKind::Tmpfs => {
            options.extend(["nosuid", "nodev", "noexec"].map(String::from));
            if let Some(s) = m.tmpfs_size {
                options.push(format!("size={s}"));
            }
            if let Some(mode) = m.tmpfs_mode {
                options.push(format!("mode={mode:o}"));
            }
        }
        _ => {
            options.push(if m.nonrecursive { "bind" } else { "rbind" }.into());
            options.push(m.propagation.clone().unwrap_or_else(|| "rprivate".into()));
        }
    }
    if m.readonly {
        options.push("ro".into());
    }
    let (typ, src) = match m.kind {
        MountKind::Tmpfs => ("tmpfs", "tmpfs".to_string()),
        _ => ("bind", source.to_string_lossy().into_owned()),
    };
    json!({"destination": m.target, "type": typ, "source": src, "options": options})
}

/// `m` as `inspect`'s `Mounts` shows it.
fn docker_mount(m: &MountRequest, source: &Path, name: Option<&str>) -> Value {
    let mut v = json!({
        "Type": m.kind.as_str(),
        "Source": if m.kind == MountKind::Tmpfs { String::new() } else { source.to_string_lossy().into_owned() },
        "Destination": m.target,
        "Mode": m.mode,
        "RW": !m.readonly,
        "Propagation": match m.kind {
            MountKind::Bind => m.propagation.clone().unwrap_or_else(|| "rprivate".into()),
            _ => String::new(),
        },
    });
    if let Some(n) = name {
        v["Name"] = n.into();
        v["Driver"] = crate::volume::LOCAL_DRIVER.into();
    }
    v
}

/// Add `planned`'s mounts to a container's spec (JSON text): the OCI
/// mounts after the default ones (a default one at the same target
/// dropped, as Docker lets a user's mount replace /etc/hosts), and
/// `inspect`'s Mounts as the `io.nook.mounts` annotation.
pub fn apply(config: &str, planned: &Planned) -> Result<String> {
    if planned.mounts.is_empty() {
        return Ok(config.to_string());
    }
    let mut spec: Value =
        serde_json::from_str(config).map_err(|e| Error::invalid("container spec", "built", e))?;
    let targets: Vec<&str> = planned
        .mounts
        .iter()
        .map(|(m, _)| m.target.as_str())
        .collect();
    let mut mounts: Vec<Value> = spec["mounts"].as_array().cloned().unwrap_or_default();
    mounts.retain(|d| !targets.contains(&d["destination"].as_str().unwrap_or("")));
    let mut shown = Vec::new();
    for (m, source) in &planned.mounts {
        mounts.push(oci_mount(m, source));
        let name = match m.kind {
            MountKind::Volume => Some(m.source.clone()),
            _ => None,
        };
        if m.tmpfs_flag.is_none() {
            shown.push(docker_mount(m, source, name.as_deref()));
        }
    }
    spec["mounts"] = Value::Array(mounts);
    if !spec["annotations"].is_object() {
        spec["annotations"] = json!({});
    }
    spec["annotations"]["io.nook.mounts"] = Value::String(Value::Array(shown).to_string());
    Ok(spec.to_string())
}

/// `--volumes-from CONTAINER[:ro|:rw]`: the binds and volumes of another
/// container (`shown`: its `inspect` Mounts) as requests, read-only or
/// read-write as `mode` says, else as they are there; tmpfs mounts are
/// its own. Those whose target `given` already has are left out (the
/// container's own flags win).
pub fn volumes_from(
    shown: &Value,
    mode: &str,
    given: &[MountRequest],
) -> Result<Vec<MountRequest>> {
    let force = match mode {
        "" => None,
        "ro" => Some(true),
        "rw" => Some(false),
        m => return Err(Error::invalid("--volumes-from mode", m, "use ro or rw")),
    };
    let mut out = Vec::new();
    for m in shown.as_array().into_iter().flatten() {
        let (kind, source) = match m["Type"].as_str() {
            Some("bind") => (MountKind::Bind, m["Source"].as_str()),
            Some("volume") => (MountKind::Volume, m["Name"].as_str()),
            _ => continue,
        };
        let (Some(source), Some(target)) = (source, m["Destination"].as_str()) else {
            continue;
        };
        if given.iter().any(|g| g.target == target) {
            continue;
        }
        let mut r = MountRequest::new(kind, source, target.to_string());
        r.readonly = force.unwrap_or(m["RW"] == false);
        r.nocopy = true;
        r.mode = m["Mode"].as_str().unwrap_or_default().to_string();
        if kind == MountKind::Bind {
            r.propagation = m["Propagation"]
                .as_str()
                .filter(|p| !p.is_empty())
                .map(String::from);
        }
        out.push(r);
    }
    Ok(out)
}

/// `inspect`'s `Mounts` of a container's spec (JSON text).
pub fn shown(config: &str) -> Value {
    let spec: Value = serde_json::from_str(config).unwrap_or_default();
    spec["annotations"]["io.nook.mounts"]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| json!([]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags_parse_as_dockers() {
        let m = parse_volume("data:/srv/data").unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.target.as_str(), m.readonly),
            (MountKind::Volume, "data", "/srv/data", false)
        );
        assert_eq!(m.mode, "z");
        let m = parse_volume("/host:/c/../d/:ro,Z,rshared").unwrap();
        assert_eq!(
            (m.kind, m.target.as_str(), m.readonly),
            (MountKind::Bind, "/d", true)
        );
        assert_eq!(m.propagation.as_deref(), Some("rshared"));
        let m = parse_volume("/anon").unwrap();
        assert_eq!((m.kind, m.source.as_str()), (MountKind::Volume, ""));
        assert!(parse_volume("v1:/x:nocopy").unwrap().nocopy);
        for bad in [
            "v1:rel",
            "v1:/x:bogus",
            "v1:/x:ro,rw",
            "a$b:/x",
            "/h:/x:nocopy",
            "a:b:c:d",
            ":/x",
            "v1:/",
            "v1:/proc/x",
            "/h:/sys",
        ] {
            let e = parse_volume(bad).unwrap_err().to_string();
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        assert!(parse_volume("v1:/x:bogus")
            .unwrap_err()
            .to_string()
            .contains("\"bogus\""));
    }

    #[test]
    fn mount_flags_parse_with_dockers_aliases() {
        let m = parse_mount("type=bind,src=/h,dst=/c,ro").unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.target.as_str(), m.readonly),
            (MountKind::Bind, "/h", "/c", true)
        );
        assert!(!m.create_source);
        let m = parse_mount("source=v1,destination=/c,volume-nocopy,readonly=false").unwrap();
        assert_eq!(
            (m.kind, m.nocopy, m.readonly),
            (MountKind::Volume, true, false)
        );
        let m = parse_mount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!((m.tmpfs_size, m.tmpfs_mode), (Some(64 << 20), Some(0o1770)));
        for bad in [
            "type=bind,target=/c",
            "type=tmpfs,src=x,target=/t",
            "type=nfs,target=/t",
            "target=/t,foo=bar",
            "type=bind,src=rel,target=/t",
            "type=volume,target=/t,tmpfs-size=1m",
            "src=v1",
            "type=bind,src=/h,target=rel",
        ] {
            let e = parse_mount(bad).unwrap_err().to_string();
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert!(parse_bytes("1x").is_err());
    }

    #[test]
    fn tmpfs_flags_take_dockers_defaults_and_mount_options() {
        let m = parse_tmpfs("/run").unwrap();
        assert_eq!(m.tmpfs_flag.unwrap(), vec!["noexec", "nosuid", "nodev"]);
        let m = parse_tmpfs("/run:exec,size=64m,mode=1777,ro").unwrap();
        assert!(m.readonly);
        assert_eq!(
            m.tmpfs_flag.unwrap(),
            vec!["nosuid", "nodev", "exec", "size=64m", "mode=1777"]
        );
        for bad in ["/run:bogus", "run", "/proc", "/x:size"] {
            assert!(parse_tmpfs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_volumes_become_anonymous_unless_targeted() {
        let cfg = json!({"config": {"Volumes": {"/data": {}, "/logs": {}}}});
        let r = requests(&["v1:/data".into()], &[], &[], &cfg).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[1].source.as_str(), r[1].target.as_str()), ("", "/logs"));
        assert!(requests(&["v1:/a".into(), "v2:/a/".into()], &[], &[], &cfg).is_err());
        let e = requests(
            &[],
            &["type=bind,src=/nonexistent-nook,dst=/x".into()],
            &[],
            &cfg,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("bind source path does not exist: /nonexistent-nook"),
            "{e}"
        );
    }
}
