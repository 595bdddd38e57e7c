//! What the container commands show: `ps` (filters, `-n`, `-l`, `-s`,
//! formats), `logs` (`--since`, `--until`, `--tail`, `-t`), `inspect`
//! (Docker's JSON shape, `--type`, `-s`), as Docker shows them.

use crate::cli;
use crate::commands::print_template;
use crate::containers::{ps_fields, time};
use crate::render;
use crate::Failure;
use nook_engine::container::monitor::{LogEntry, Stream};
use nook_engine::{Container, Engine, Error, LiveStatus};
use serde_json::{json, Map, Value};
use std::io::Write;

type Result<T = ()> = std::result::Result<T, Failure>;

/// The states `--filter status=` accepts (Docker's).
const STATES: [&str; 7] = [
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// `ps --filter`s: each key's values (one of a key's values must match,
/// and every key must).
#[derive(Debug, Default)]
pub struct Filters(Vec<(String, Vec<String>)>);

impl Filters {
    /// Parse `key=value` filters; an unknown key or bad value is an error
    /// naming it.
    pub fn parse(list: &[String]) -> Result<Filters> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for f in list {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| Failure(format!("invalid filter '{f}'")))?;
            let k = k.trim().to_ascii_lowercase();
            match k.as_str() {
                "status" if !STATES.contains(&v) => {
                    return Err(Failure(format!("invalid filter 'status={v}'")))
                }
                "exited" if v.parse::<i32>().is_err() => {
                    return Err(Failure(format!("invalid filter 'exited={v}'")))
                }
                "status" | "exited" | "name" | "id" | "label" | "ancestor" | "before" | "since" => {
                }
                k if crate::ps_filters::KEYS.contains(&k) => crate::ps_filters::check(k, v)?,
                _ => return Err(Failure(format!("invalid filter '{k}'"))),
            }
            match out.iter_mut().find(|(key, _)| *key == k) {
                Some((_, vals)) => vals.push(v.to_string()),
                None => out.push((k, vec![v.to_string()])),
            }
        }
        Ok(Filters(out))
    }

    /// Turn `before=` and `since=` containers into their creation times.
    fn resolve(&mut self, engine: &Engine) -> Result {
        for (k, vals) in &mut self.0 {
            if k == "before" || k == "since" {
                for v in vals.iter_mut() {
                    *v = engine.container(v)?.record.created.to_string();
                }
            }
        }
        Ok(())
    }

    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Whether container `c` passes the keys [`crate::ps_filters`]
    /// handles (its spec decoded only when there is one).
    fn matches_more(&self, engine: &Engine, c: &Container) -> bool {
        let mine = |k: &String| crate::ps_filters::KEYS.contains(&k.as_str());
        if !self.0.iter().any(|(k, _)| mine(k)) {
            return true;
        }
        let spec: Value = serde_json::from_str(&c.record.config).unwrap_or_default();
        self.0.iter().all(|(k, vals)| {
            !mine(k)
                || vals
                    .iter()
                    .any(|v| crate::ps_filters::matches(engine, c, &spec, k, v))
        })
    }

    /// Whether container `c` (in `state`, with `labels`) passes.
    fn matches(&self, c: &Container, state: &str, labels: &Map<String, Value>) -> bool {
        self.0.iter().all(|(k, vals)| {
            vals.iter().any(|v| match k.as_str() {
                "status" => v == state,
                "exited" => c.status == LiveStatus::Exited(v.parse().ok()),
                "name" => name_matches(&c.record.name, v),
                "id" => c.record.id.starts_with(v.as_str()),
                "label" => match v.split_once('=') {
                    Some((k, v)) => labels.get(k).and_then(Value::as_str) == Some(v),
                    None => labels.contains_key(v.as_str()),
                },
                "ancestor" => ancestor_matches(c, v),
                "before" => v.parse().is_ok_and(|t: i64| c.record.created < t),
                "since" => v.parse().is_ok_and(|t: i64| c.record.created > t),
                _ => true, // (ps_filters' keys: matches_more)
            })
        })
    }
}

/// Docker matches names by regular expression; nook by substring, with
/// `^` and `$` anchors.
fn name_matches(name: &str, pattern: &str) -> bool {
    let p = pattern.strip_prefix('/').unwrap_or(pattern);
    match (p.strip_prefix('^'), p.strip_suffix('$')) {
        (Some(rest), _) if rest.ends_with('$') => name == &rest[..rest.len() - 1],
        (Some(rest), _) => name.starts_with(rest),
        (None, Some(rest)) => name.ends_with(rest),
        (None, None) => name.contains(p),
    }
}

/// The image as named at run, with or without `:latest`, or an id prefix.
fn ancestor_matches(c: &Container, v: &str) -> bool {
    let name = &c.record.image_name;
    let id = c.record.image_id.to_string();
    let hex = id.trim_start_matches("sha256:");
    let want = v.trim_start_matches("sha256:");
    name == v
        || format!("{name}:latest") == v
        || name.strip_suffix(":latest") == Some(v)
        || (want.len() >= 4 && hex.starts_with(want))
}

/// A container's labels (`io.nook.labels`, a JSON object), or none.
fn labels_of(spec: &Value) -> Map<String, Value> {
    annotation_json(spec, "io.nook.labels")
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// What `ps` shows of a container's spec, decoded in one pass: its
/// command and its labels (`io.nook.labels`).  The rest of the spec (its
/// seccomp profile alone is some 6 KiB) is skipped unbuilt, which keeps
/// `ps` of many containers fast.
#[derive(Debug, Default, serde::Deserialize)]
struct PsSpec {
    #[serde(default)]
    process: Option<PsProcess>,
    #[serde(default)]
    annotations: PsAnnotations,
}

#[derive(Debug, Default, serde::Deserialize)]
struct PsProcess {
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct PsAnnotations {
    #[serde(rename = "io.nook.labels")]
    labels: Option<String>,
    #[serde(rename = "io.nook.ports")]
    ports: Option<String>,
    #[serde(rename = "io.nook.network-mode")]
    network_mode: Option<String>,
}

impl PsSpec {
    /// The spec `config` (JSON text); an unreadable one has no command
    /// and no labels.
    fn of(config: &str) -> PsSpec {
        serde_json::from_str(config).unwrap_or_default()
    }

    /// The command it runs, as `ps` shows it.
    fn command(&self) -> String {
        self.process
            .as_ref()
            .map(|p| p.args.join(" "))
            .unwrap_or_default()
    }

    /// Its labels (none when the annotation is not a JSON object).
    fn labels(&self) -> Map<String, Value> {
        self.annotations
            .labels
            .as_deref()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_default()
    }
}

/// A spec annotation that holds JSON text, parsed.
fn annotation_json(spec: &Value, key: &str) -> Option<Value> {
    serde_json::from_str(spec["annotations"][key].as_str()?).ok()
}

/// The state Docker names (`paused` for a frozen running container).
fn state_name(c: &Container, paused: bool) -> &'static str {
    match c.status {
        LiveStatus::Running if paused => "paused",
        LiveStatus::Created => "created",
        LiveStatus::Running => "running",
        LiveStatus::Exited(_) => "exited",
        LiveStatus::Restarting => "restarting",
    }
}

/// `ps`.
pub fn ps(engine: &Engine, a: cli::Ps) -> Result {
    let mut filters = Filters::parse(&a.filter)?;
    filters.resolve(engine)?;
    // (the spec is decoded for these only when the format may show them)
    let mount_fields = a.format.as_deref().is_some_and(|f| {
        ["json", ".Mounts", ".LocalVolumes", ".Networks", "{{.}}"]
            .iter()
            .any(|k| f.contains(k))
    });
    let last = if a.latest { 1 } else { a.last };
    let all = a.all || last > 0 || filters.has("status");
    let now = jiff::Timestamp::now().as_second();
    let want_size = a.size || a.format.as_deref().is_some_and(|f| f.contains(".Size"));
    // the default table and -q show no CreatedAt
    let tz = (!a.quiet && a.format.as_deref().is_some_and(|f| f != "table"))
        .then(jiff::tz::TimeZone::system);
    let networks = engine.networks_by_container()?;
    let mut rows = Vec::new();
    for c in engine.containers()? {
        if last > 0 && rows.len() as i64 >= last {
            break;
        }
        if !filters.matches_more(engine, &c) {
            continue;
        }
        let paused = engine.is_paused(&c);
        let state = state_name(&c, paused);
        let spec = PsSpec::of(&c.record.config);
        let labels = spec.labels();
        if !(all || c.status == LiveStatus::Running) || !filters.matches(&c, state, &labels) {
            continue;
        }
        let mut row = ps_fields(engine, &c, spec.command(), a.no_trunc, now, tz.as_ref());
        row["State"] = json!(state);
        if paused {
            row["Status"] = json!(format!("{} (Paused)", row["Status"].as_str().unwrap_or("")));
        }
        let mut l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        l.sort();
        row["Labels"] = json!(l.join(","));
        row["Mounts"] = json!("");
        row["Ports"] = json!(crate::ports_flags::ps_column(
            engine,
            &c,
            spec.annotations.ports.as_deref()
        ));
        row["LocalVolumes"] = json!("0");
        if mount_fields {
            crate::ps_filters::row_fields(&mut row, &c.record.config, !a.no_trunc);
        }
        row["Networks"] = json!(match networks.get(&c.record.id) {
            Some(names) => names.join(","),
            None => spec.annotations.network_mode.clone().unwrap_or_default(),
        });
        row["Size"] = json!(match want_size {
            true => engine
                .container_size(&c.record.id)
                .map_or("0B".into(), |s| {
                    format!(
                        "{} (virtual {})",
                        render::size(s.rw),
                        render::size(s.root_fs)
                    )
                }),
            false => "0B".to_string(),
        });
        rows.push(row);
    }
    print_ps(&rows, &a)
}

fn print_ps(rows: &[Value], a: &cli::Ps) -> Result {
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for r in rows {
            writeln!(out, "{}", r["ID"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    match a.format.as_deref() {
        Some("json") => {
            for r in rows {
                writeln!(out, "{r}")?;
            }
        }
        Some(f) if f != "table" => {
            let t = render::Template::parse(f)?;
            write!(out, "{}", t.render_all(rows, &ps_title)?)?;
        }
        _ => {
            let mut head = vec![
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ];
            let mut cols = vec![
                "ID",
                "Image",
                "Command",
                "RunningFor",
                "Status",
                "Ports",
                "Names",
            ];
            if a.size {
                head.push("SIZE");
                cols.push("Size");
            }
            let mut table = vec![head.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
            for r in rows {
                table.push(
                    cols.iter()
                        .map(|k| r[k].as_str().unwrap_or("").to_string())
                        .collect(),
                );
            }
            write!(out, "{}", render::table(&table))?;
        }
    }
    Ok(())
}

/// Docker's title of a `ps` field in a `table` template.
fn ps_title(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "CONTAINER ID",
        "RunningFor" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "LocalVolumes" => "LOCAL VOLUMES",
        _ => return None,
    })
}

/// A Go duration (`300ms`, `1.5h`, `1h30m`), in nanoseconds.
pub fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * unit;
    }
    Some(if neg { -total } else { total } as i128)
}

/// A time as `logs --since/--until` take it (Docker's forms): a duration
/// before `now`, Unix seconds (`1700000000.5`), RFC 3339, or a date and
/// time without a zone (local); Unix nanoseconds.
pub fn parse_time(flag: &str, s: &str, now: jiff::Timestamp) -> Result<i128> {
    let bad = || {
        Failure(format!(
            "invalid value for \"{flag}\": failed to parse value as time or duration: {s:?}"
        ))
    };
    if s != "0" {
        if let Some(d) = parse_duration(s) {
            return Ok(now.as_nanosecond() - d);
        }
    }
    if let Some((secs, frac)) = unix_seconds(s) {
        return Ok(secs as i128 * 1_000_000_000 + frac as i128);
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_nanosecond());
    }
    let tz = jiff::tz::TimeZone::system();
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned_datetime(tz)
            .map(|z| z.timestamp().as_nanosecond())
            .map_err(|_| bad());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned_datetime(tz)
            .map(|z| z.timestamp().as_nanosecond())
            .map_err(|_| bad());
    }
    Err(bad())
}

/// `SECONDS[.FRACTION]`: seconds and nanoseconds.
fn unix_seconds(s: &str) -> Option<(i64, u32)> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let nanos = format!("{frac:0<9}").parse().ok()?;
    Some((secs.parse().ok()?, nanos))
}

/// A time as Docker's `logs -t` shows it: RFC 3339, UTC, nine fraction
/// digits.
pub fn rfc3339_nano_fixed(t: jiff::Timestamp) -> String {
    let secs = jiff::Timestamp::from_second(t.as_second()).unwrap_or(t);
    let base = secs.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    format!("{base}.{:09}Z", t.subsec_nanosecond().max(0))
}

/// `logs`.
pub fn logs(engine: &Engine, a: cli::Logs) -> Result {
    let tail = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse::<usize>()
                .map_err(|_| Failure(format!("invalid --tail {n:?}: a number or \"all\"")))?,
        ),
    };
    let now = jiff::Timestamp::now();
    let since = a.since.as_deref().map(|s| parse_time("since", s, now));
    let until = a.until.as_deref().map(|s| parse_time("until", s, now));
    let (since, until) = (since.transpose()?, until.transpose()?);
    let follow = a.follow && until.is_none_or(|u| u > now.as_nanosecond());
    if let Some(u) = until.filter(|_| follow) {
        // following ends at --until, as Docker's
        let wait = u - now.as_nanosecond();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_nanos(wait as u64));
            let _ = std::io::stdout().flush();
            std::process::exit(0);
        });
    }
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    engine.logs(&a.container, tail, follow, &mut |e: &LogEntry| {
        let t: Option<jiff::Timestamp> = e.time.parse().ok();
        let nanos = t.map(|t| t.as_nanosecond());
        if since.is_some_and(|s| nanos.is_some_and(|n| n < s))
            || until.is_some_and(|u| nanos.is_some_and(|n| n > u))
        {
            return;
        }
        let w: &mut dyn Write = match e.stream {
            Stream::Stdout => &mut out,
            Stream::Stderr => &mut err,
        };
        if a.timestamps {
            let shown = t.map_or(e.time.clone(), rfc3339_nano_fixed);
            let _ = write!(w, "{shown} ");
        }
        let _ = w.write_all(e.text.as_bytes());
        let _ = w.flush();
    })?;
    Ok(())
}

/// `inspect`: containers, then images, by each name (only one kind with
/// `--type`).
pub fn inspect(engine: &Engine, a: cli::Inspect) -> Result {
    let kind = a.kind.as_deref();
    if let Some(k) = kind.filter(|k| !["container", "image"].contains(k)) {
        return Err(Failure(format!("{k:?} is not a valid value for --type")));
    }
    // what is found is shown, then the first name not found is the error
    let mut all = Vec::new();
    let mut missing = None;
    for name in &a.images {
        match inspect_one(engine, name, kind, a.size)? {
            Some(v) => all.push(v),
            None => {
                let what = kind.filter(|k| *k == "container").unwrap_or("object");
                missing.get_or_insert(format!("no such {what}: {name}"));
            }
        }
    }
    let mut out = std::io::stdout().lock();
    match a.format.as_deref() {
        None | Some("json") => writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?,
        Some(f) => print_template(&mut out, f, &all)?,
    }
    match missing {
        Some(m) => Err(Failure(m)),
        None => Ok(()),
    }
}

/// The container (or image) `name`, as `inspect` shows it; none when
/// there is none of the kind asked for.
fn inspect_one(
    engine: &Engine,
    name: &str,
    kind: Option<&str>,
    size: bool,
) -> Result<Option<Value>> {
    if kind != Some("image") {
        match engine.container(name) {
            Ok(c) => return Ok(Some(container_json(engine, &c, size))),
            Err(e) if no_such_container(&e) => {}
            Err(e) => return Err(e.into()),
        }
        if kind == Some("container") {
            return Ok(None);
        }
    }
    match engine.inspect(name) {
        Ok(i) => Ok(Some(i.docker_json())),
        Err(Error::NoSuchImage(_)) if kind.is_none() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether `e` says there is no such container.
pub(crate) fn no_such_container(e: &Error) -> bool {
    matches!(e, Error::State(s) if s.to_string().starts_with("no such container"))
}

/// `inspect`'s State of a container.
fn state_json(engine: &Engine, c: &Container, paused: bool) -> Value {
    let r = &c.record;
    let (running, exit_code) = match c.status {
        LiveStatus::Running => (true, 0),
        LiveStatus::Exited(code) => (false, code.unwrap_or(-1)),
        LiveStatus::Restarting => (false, r.exit_code.unwrap_or(0)),
        LiveStatus::Created => (false, 0),
    };
    json!({
        "Status": state_name(c, paused), "Running": running, "Paused": paused,
        "Restarting": c.status == LiveStatus::Restarting,
        "Health": engine.health_of(r),
        "OOMKilled": false, "Dead": false,
        "Pid": if running { r.pid.unwrap_or(0) } else { 0 },
        "ExitCode": exit_code,
        "Error": if matches!(c.status, LiveStatus::Exited(None)) {
            "its monitor ended before recording its exit"
        } else { "" },
        "StartedAt": time(r.started), "FinishedAt": time(r.finished),
    })
}

/// `inspect`'s HostConfig: what nook always has, then what the spec's
/// annotations keep (`io.nook.resources`, `io.nook.host-config`).
fn host_config_json(c: &Container, spec: &Value) -> Value {
    use nook_engine::container::detach::{log_config, restart_policy, RestartPolicy};
    let res = &spec["linux"]["resources"];
    let restart = restart_policy(&c.record);
    let retries = match restart {
        RestartPolicy::OnFailure(n) => n,
        _ => 0,
    };
    let mut hc = json!({
        "AutoRemove": c.record.auto_remove, "NetworkMode": "none",
        "LogConfig": {"Type": log_config(&c.record).driver.name(), "Config": {}},
        "RestartPolicy": {"Name": restart.name().split(':').next(), "MaximumRetryCount": retries},
        "Binds": null, "PortBindings": {}, "Privileged": false,
        "ReadonlyRootfs": spec["root"]["readonly"].as_bool().unwrap_or(false),
        "Memory": res["memory"]["limit"].as_i64().unwrap_or(0),
        "CpuShares": res["cpu"]["shares"].as_i64().unwrap_or(0),
        "CpuQuota": res["cpu"]["quota"].as_i64().unwrap_or(0),
        "CpuPeriod": res["cpu"]["period"].as_i64().unwrap_or(0),
        "CpusetCpus": res["cpu"]["cpus"].as_str().unwrap_or(""),
        "CpusetMems": res["cpu"]["mems"].as_str().unwrap_or(""),
        "PidsLimit": res["pids"]["limit"].as_i64(),
    });
    for key in ["io.nook.resources", "io.nook.host-config"] {
        if let Some(Value::Object(m)) = annotation_json(spec, key) {
            for (k, v) in m {
                hc[k] = v;
            }
        }
    }
    hc
}

/// A container in Docker's `inspect` shape (the fields nook has).
fn container_json(engine: &Engine, c: &Container, size: bool) -> Value {
    let r = &c.record;
    let spec: Value = serde_json::from_str(&r.config).unwrap_or_default();
    let p = &spec["process"];
    let ann = &spec["annotations"];
    // an empty list is shown as null, as Docker shows it
    let list = |k: &str| match annotation_json(&spec, k) {
        Some(Value::Array(a)) if a.is_empty() => Value::Null,
        v => v.unwrap_or(Value::Null),
    };
    let args = p["args"].as_array().cloned().unwrap_or_default();
    let paused = engine.is_paused(c);
    let dir = engine.container_dir(&r.id);
    let graph = match engine.container_dirs(&r.id) {
        Ok((lowers, upper, work, merged)) => {
            let lower: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
            json!({"LowerDir": lower.join(":"), "UpperDir": upper, "WorkDir": work, "MergedDir": merged})
        }
        Err(_) => json!({}),
    };
    let image_config = engine.inspect(r.image_id.as_ref()).map(|i| i.config);
    let exposed = image_config
        .as_ref()
        .map(|c| c["config"]["ExposedPorts"].clone())
        .unwrap_or(Value::Null);
    let mut config = json!({
        "Hostname": spec["hostname"], "Domainname": spec["domainname"].as_str().unwrap_or(""),
        "User": ann["io.nook.user"], "AttachStdin": false, "AttachStdout": false,
        "AttachStderr": false, "Tty": p["terminal"].as_bool().unwrap_or(false),
        "OpenStdin": false, "StdinOnce": false,
        "Env": p["env"], "Cmd": list("io.nook.cmd"), "Entrypoint": list("io.nook.entrypoint"),
        "Image": r.image_name, "Volumes": null, "WorkingDir": p["cwd"],
        "Labels": Value::Object(labels_of(&spec)),
    });
    if !exposed.is_null() {
        config["ExposedPorts"] = exposed;
    }
    if let Some(sig) = ann["io.nook.stop-signal"].as_str() {
        config["StopSignal"] = json!(sig);
    }
    if let Some(h) = nook_engine::container::health::config_of(r) {
        config["Healthcheck"] = json!(h);
    }
    let mut v = json!({
        "Id": r.id,
        "Created": time(Some(r.created)),
        "Path": args.first().cloned().unwrap_or(Value::Null),
        "Args": args.get(1..).unwrap_or(&[]),
        "State": state_json(engine, c, paused),
        "RestartCount": r.restart_count,
        "Image": r.image_id.to_string(),
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": r.log_path,
        "Name": format!("/{}", r.name),
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": null,
        "HostConfig": host_config_json(c, &spec),
        "GraphDriver": {"Name": "overlay", "Data": graph},
        "Mounts": annotation_json(&spec, "io.nook.mounts").unwrap_or(json!([])),
        "Config": config,
        "NetworkSettings": engine.network_settings(r),
    });
    // labels, stop settings, --init's command, the security flags
    crate::run_flags::inspect_fields(&mut v, &spec);
    crate::ports_flags::inspect_fields(engine, c, &mut v, &spec);
    if size {
        let s = engine.container_size(&r.id).unwrap_or_default();
        v["SizeRw"] = json!(s.rw);
        v["SizeRootFs"] = json!(s.root_fs);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_parses_them() {
        assert_eq!(parse_duration("10m"), Some(600_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn times_as_docker_takes_them() {
        let now: jiff::Timestamp = "2024-01-02T03:04:05Z".parse().unwrap();
        let t = |s| parse_time("since", s, now).ok();
        let n = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_nanosecond();
        assert_eq!(t("10m"), Some(n("2024-01-02T02:54:05Z")));
        assert_eq!(t("1704164645"), Some(n("2024-01-02T03:04:05Z")));
        assert_eq!(t("1704164645.5"), Some(n("2024-01-02T03:04:05.5Z")));
        assert_eq!(t("2024-01-02T03:00:00Z"), Some(n("2024-01-02T03:00:00Z")));
        assert_eq!(
            t("2024-01-02T03:00:00+01:00"),
            Some(n("2024-01-02T02:00:00Z"))
        );
        assert!(t("yesterday").is_none());
        let e = parse_time("since", "bad", now).unwrap_err().0;
        assert!(e.contains("\"bad\"") && e.contains("since"), "{e}");
        let ts: jiff::Timestamp = "2024-01-02T03:04:05.12Z".parse().unwrap();
        assert_eq!(rfc3339_nano_fixed(ts), "2024-01-02T03:04:05.120000000Z");
    }

    #[test]
    fn ps_reads_the_command_and_labels_as_the_whole_spec_has_them() {
        let spec = json!({
            "linux": {"seccomp": {"syscalls": [{"names": ["read", "write"]}]}},
            "annotations": {"io.nook.labels": "{\"b\":\"2\",\"a\":\"x=y\"}", "other": "1"},
            "process": {"args": ["sh"]},
        });
        let text = spec.to_string();
        let want = labels_of(&spec);
        assert_eq!(want.len(), 2);
        assert_eq!(PsSpec::of(&text).labels(), want);
        assert_eq!(PsSpec::of(&text).command(), "sh");
        for none in [
            "{}",
            r#"{"annotations":{}}"#,
            r#"{"annotations":{"io.nook.labels":"[]"}}"#,
            "x",
        ] {
            assert!(PsSpec::of(none).labels().is_empty(), "{none}");
        }
    }

    #[test]
    fn filters() {
        assert!(Filters::parse(&["status=running".into(), "name=a".into()]).is_ok());
        assert!(Filters::parse(&["status=bogus".into()]).is_err());
        assert!(Filters::parse(&["color=red".into()]).is_err());
        assert!(Filters::parse(&["exited=x".into()]).is_err());
        assert!(Filters::parse(&["nokey".into()]).is_err());
        assert!(name_matches("web-1", "web"));
        assert!(name_matches("web-1", "^web"));
        assert!(!name_matches("aweb", "^web"));
        assert!(name_matches("web", "^web$"));
        assert!(!name_matches("web-1", "^web$"));
    }
}
