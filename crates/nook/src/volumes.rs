//! `nook volume create/ls/inspect/rm/prune` and `nook cp`, with Docker's
//! output.

use crate::cli::{self, VolumeCommand};
use crate::commands::print_template;
use crate::render;
use crate::Failure;
use nook_engine::{Engine, Volume, VolumeOptions};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;

type Result<T = ()> = std::result::Result<T, Failure>;

/// Run a `volume` command.
pub fn volume(engine: &Engine, c: VolumeCommand) -> Result {
    match c {
        VolumeCommand::Create(a) => create(engine, a),
        VolumeCommand::Ls(a) => ls(engine, a),
        VolumeCommand::Inspect(a) => inspect(engine, a),
        VolumeCommand::Rm(a) => rm(engine, a),
        VolumeCommand::Prune(a) => prune(engine, a),
    }
}

/// `K=V` pairs (`K` alone: empty value).
fn pairs(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn create(engine: &Engine, a: cli::VolumeCreate) -> Result {
    let v = engine.create_volume(&VolumeOptions {
        name: a.name,
        driver: Some(a.driver),
        labels: pairs(&a.labels),
        options: pairs(&a.opts),
    })?;
    println!("{}", v.record.volume.name);
    Ok(())
}

/// Unix nanoseconds as Docker shows a volume's CreatedAt.
fn created(nanos: i64) -> String {
    jiff::Timestamp::from_nanosecond(nanos as i128)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A volume as `volume inspect` shows it.
fn inspect_json(v: &Volume) -> Value {
    let r = &v.record;
    let map = |m: &BTreeMap<String, String>| match m.is_empty() {
        true => Value::Null,
        false => json!(m),
    };
    json!({
        "CreatedAt": created(r.created),
        "Driver": r.volume.driver,
        "Labels": map(&r.volume.labels),
        "Mountpoint": v.mountpoint,
        "Name": r.volume.name,
        "Options": map(&r.volume.options),
        "Scope": "local",
    })
}

/// Whether `v` passes every `--filter`.
fn passes(engine: &Engine, v: &Volume, filters: &[String]) -> Result<bool> {
    for f in filters {
        let (k, want) = f
            .split_once('=')
            .ok_or_else(|| Failure(format!("bad format of filter (expected name=value): {f}")))?;
        let vol = &v.record.volume;
        let ok = match k {
            "dangling" => {
                let dangling = engine.volume_users(&vol.name)?.is_empty();
                match want {
                    "true" | "1" => dangling,
                    "false" | "0" => !dangling,
                    _ => return Err(Failure(format!("invalid filter 'dangling={want}'"))),
                }
            }
            "name" => vol.name.contains(want),
            "driver" => vol.driver == want,
            "label" => match want.split_once('=') {
                Some((lk, lv)) => vol.labels.get(lk).is_some_and(|x| x == lv),
                None => vol.labels.contains_key(want),
            },
            _ => return Err(Failure(format!("invalid filter '{k}'"))),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn ls(engine: &Engine, a: cli::VolumeLs) -> Result {
    let mut list = Vec::new();
    for v in engine.volumes()? {
        if passes(engine, &v, &a.filter)? {
            list.push(v);
        }
    }
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for v in &list {
            writeln!(out, "{}", v.record.volume.name)?;
        }
        return Ok(());
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|v| {
            let labels: Vec<String> = v
                .record
                .volume
                .labels
                .iter()
                .map(|(k, x)| format!("{k}={x}"))
                .collect();
            json!({
                "Availability": "N/A", "Driver": v.record.volume.driver, "Group": "N/A",
                "Labels": labels.join(","), "Links": "N/A", "Mountpoint": v.mountpoint,
                "Name": v.record.volume.name, "Scope": "local", "Size": "N/A", "Status": "N/A",
            })
        })
        .collect();
    match a.format.as_deref() {
        Some("json") => {
            for r in &rows {
                writeln!(out, "{r}")?;
            }
        }
        Some(f) => print_template(&mut out, f, &rows)?,
        None => {
            let mut t = vec![vec!["DRIVER".to_string(), "VOLUME NAME".to_string()]];
            for r in &rows {
                t.push(
                    ["Driver", "Name"]
                        .iter()
                        .map(|k| r[k].as_str().unwrap_or("").to_string())
                        .collect(),
                );
            }
            write!(out, "{}", render::table(&t))?;
        }
    }
    Ok(())
}

fn inspect(engine: &Engine, a: cli::VolumeInspect) -> Result {
    let all = a
        .volumes
        .iter()
        .map(|n| engine.volume(n).map(|v| inspect_json(&v)))
        .collect::<nook_engine::Result<Vec<_>>>()?;
    let mut out = std::io::stdout().lock();
    match a.format.as_deref() {
        None | Some("json") => writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?,
        Some(f) => print_template(&mut out, f, &all)?,
    }
    Ok(())
}

fn rm(engine: &Engine, a: cli::VolumeRm) -> Result {
    let mut failed = false;
    for n in &a.volumes {
        match engine.remove_volume(n, a.force) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error: {}", e.to_string().replace('\n', " "));
                failed = true;
            }
        }
    }
    match failed {
        true => Err(Failure(String::new())),
        false => Ok(()),
    }
}

fn prune(engine: &Engine, a: cli::VolumePrune) -> Result {
    let filter = crate::lifecycle::prune_filter(&a.filter, false)?;
    let (removed, freed) = engine.prune_volumes(a.all, &filter)?;
    let mut out = std::io::stdout().lock();
    if !removed.is_empty() {
        writeln!(out, "Deleted Volumes:")?;
        for n in &removed {
            writeln!(out, "{n}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Total reclaimed space: {}", render::size(freed))?;
    Ok(())
}

/// `CONTAINER:PATH` split (a local path holding `:` is written `./a:b`
/// or `/a:b`, as Docker reads it).
fn container_path(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':')
        .filter(|(c, _)| !c.is_empty() && !c.contains('/'))
}

/// A host side: `-` (stdin or stdout) or a path.
fn host_end(arg: &str, reading: bool) -> Result<nook_engine::container::copy::HostEnd> {
    use nook_engine::container::copy::HostEnd;
    use std::os::fd::AsFd;
    Ok(match arg {
        "-" => {
            let fd = match reading {
                true => std::io::stdin().as_fd().try_clone_to_owned()?,
                false => std::io::stdout().as_fd().try_clone_to_owned()?,
            };
            HostEnd::Stream(std::fs::File::from(fd))
        }
        p => HostEnd::Path(p.into()),
    })
}

/// `cp`.
pub fn cp(engine: &Engine, a: cli::Cp) -> Result {
    let opts = nook_engine::container::copy::CopyOptions {
        archive: a.archive,
        follow_link: a.follow_link,
    };
    match (container_path(&a.src), container_path(&a.dest)) {
        (Some(_), Some(_)) => Err(Failure(
            "copying between containers is not supported".into(),
        )),
        (None, None) => Err(Failure(format!(
            "must specify at least one container source: {} {}",
            a.src, a.dest
        ))),
        (Some((c, p)), None) => {
            Ok(engine.copy_from_container(c, p, host_end(&a.dest, false)?, opts)?)
        }
        (None, Some((c, p))) => {
            Ok(engine.copy_to_container(c, host_end(&a.src, true)?, p, opts)?)
        }
    }
}

/// The `Local Volumes` row of `system df`.
pub fn df_row(u: &nook_engine::VolumeUsage) -> Value {
    let pct = match u.size {
        0 => 0,
        s => u.reclaimable * 100 / s,
    };
    json!({"Type": "Local Volumes", "TotalCount": u.count.to_string(), "Active": u.active.to_string(),
           "Size": render::size(u.size),
           "Reclaimable": format!("{} ({pct}%)", render::size(u.reclaimable))})
}
