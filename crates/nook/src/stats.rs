//! `stats`: containers' CPU %, memory usage / limit and %, network and
//! block I/O and PIDs, as `docker stats` shows them: a table redrawn in
//! place every second on a terminal (until Ctrl-C), or one sample with
//! `--no-stream` (two readings 500 ms apart, for the CPU %).

use crate::cli;
use crate::render::{self, Template};
use crate::Failure;
use nook_engine::{Engine, LiveStatus, StatsSample};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

type Result<T = ()> = std::result::Result<T, Failure>;

/// Between the two readings of a `--no-stream` sample.
const FIRST_INTERVAL: Duration = Duration::from_millis(500);
/// Between two redraws of the live table.
const INTERVAL: Duration = Duration::from_secs(1);

/// Clear the screen and put the cursor home.
const CLEAR: &str = "\x1b[2J\x1b[H";

/// A number as Go's `%.{p}g` writes it (no exponent: sizes here stay below
/// 10^p).
fn go_g(v: f64, p: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let x = v.abs().log10().floor() as i32;
    let decimals = (p as i32 - 1 - x).max(0) as usize;
    let s = format!("{v:.decimals$}");
    match s.contains('.') {
        true => s.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => s,
    }
}

/// A size in binary units, as Docker's memory column (`1.953MiB`).
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(v, 4), UNITS[i])
}

/// A size in decimal units, three digits, as Docker's I/O columns (`1.2kB`).
pub fn decimal_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(v, 3), UNITS[i])
}

/// One row: the fields `--format` sees.
fn row(
    container: &str,
    id: &str,
    name: &str,
    s: Option<&StatsSample>,
    prev: Option<&StatsSample>,
) -> Value {
    let (cpu, mem, mem_pct, net, blk, pids) = match s {
        Some(s) => (
            s.cpu_percent(prev),
            format!(
                "{} / {}",
                binary_size(s.memory_usage),
                binary_size(s.memory_limit)
            ),
            s.memory_percent(),
            format!("{} / {}", decimal_size(s.net_rx), decimal_size(s.net_tx)),
            format!(
                "{} / {}",
                decimal_size(s.block_read),
                decimal_size(s.block_write)
            ),
            s.pids,
        ),
        None => (
            0.0,
            "0B / 0B".into(),
            0.0,
            "0B / 0B".into(),
            "0B / 0B".into(),
            0,
        ),
    };
    json!({
        "BlockIO": blk, "CPUPerc": format!("{cpu:.2}%"), "Container": container, "ID": id,
        "MemPerc": format!("{mem_pct:.2}%"), "MemUsage": mem, "Name": name, "NetIO": net,
        "PIDs": pids.to_string(),
    })
}

/// Docker's title of a `stats` field in a `table` template.
fn stats_title(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "CONTAINER ID",
        "CPUPerc" => "CPU %",
        "MemUsage" => "MEM USAGE / LIMIT",
        "MemPerc" => "MEM %",
        "NetIO" => "NET I/O",
        "BlockIO" => "BLOCK I/O",
        _ => return None,
    })
}

/// How the rows are written.
enum Output {
    Table,
    Json,
    Template(Template),
}

fn output(format: Option<&str>) -> Result<Output> {
    Ok(match format {
        None | Some("table") => Output::Table,
        Some("json") => Output::Json,
        Some(f) => {
            let t = Template::parse(f)?;
            // a field no row has is an error now, not at the first row
            t.render(&row("x", "x", "x", None, None))?;
            Output::Template(t)
        }
    })
}

fn render_rows(out: &Output, rows: &[Value]) -> Result<String> {
    let mut text = String::new();
    match out {
        Output::Json => rows.iter().for_each(|r| text += &format!("{r}\n")),
        Output::Template(t) => {
            text += &t.render_all(rows, &stats_title)?;
        }
        Output::Table => {
            let head = [
                "CONTAINER ID",
                "NAME",
                "CPU %",
                "MEM USAGE / LIMIT",
                "MEM %",
                "NET I/O",
                "BLOCK I/O",
                "PIDS",
            ];
            let keys = [
                "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs",
            ];
            let mut t = vec![head.map(String::from).to_vec()];
            for r in rows {
                t.push(
                    keys.iter()
                        .map(|k| r[k].as_str().unwrap_or("").to_string())
                        .collect(),
                );
            }
            text += &render::table(&t);
        }
    }
    Ok(text)
}

/// The containers to show: those named (each must exist), else the
/// running ones (all with `-a`); (what was asked, full id, name, running).
fn targets(engine: &Engine, a: &cli::Stats) -> Result<Vec<(String, String, String, bool)>> {
    if !a.containers.is_empty() {
        return a
            .containers
            .iter()
            .map(|n| {
                let c = engine.container(n)?;
                let running = c.status == LiveStatus::Running;
                Ok((n.clone(), c.record.id, c.record.name, running))
            })
            .collect();
    }
    Ok(engine
        .containers()?
        .into_iter()
        .filter(|c| a.all || c.status == LiveStatus::Running)
        .map(|c| {
            let running = c.status == LiveStatus::Running;
            let id = c.record.id.clone();
            let short = c.record.short_id().to_string();
            let shown = if a.no_trunc { id.clone() } else { short };
            (shown, id, c.record.name, running)
        })
        .collect())
}

/// A reading of every running target (none for one that stopped).
fn sample_all(
    engine: &Engine,
    list: &[(String, String, String, bool)],
) -> HashMap<String, StatsSample> {
    list.iter()
        .filter(|t| t.3)
        .filter_map(|t| Some((t.1.clone(), engine.container_stats(&t.1).ok()?)))
        .collect()
}

/// `stats`.
pub fn stats(engine: &Engine, a: cli::Stats) -> Result {
    let out = output(a.format.as_deref())?;
    let live = !a.no_stream;
    let tty = std::io::stdout().is_terminal();
    let mut prev = sample_all(engine, &targets(engine, &a)?);
    std::thread::sleep(FIRST_INTERVAL);
    loop {
        let list = targets(engine, &a)?;
        let now = sample_all(engine, &list);
        let rows: Vec<Value> = list
            .iter()
            .map(|(shown, id, name, _)| {
                let shown_id = match a.no_trunc {
                    true => id.as_str(),
                    false => &id[..id.len().min(12)],
                };
                row(shown, shown_id, name, now.get(id), prev.get(id))
            })
            .collect();
        let mut text = render_rows(&out, &rows)?;
        if live && tty {
            text = format!("{CLEAR}{text}");
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
        drop(stdout);
        if !live {
            return Ok(());
        }
        prev = now;
        std::thread::sleep(INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_stats_shows_them() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(2_048_000), "1.953MiB");
        assert_eq!(binary_size(8 << 30), "8GiB");
        assert_eq!(binary_size(1023), "1023B");
        assert_eq!(decimal_size(0), "0B");
        assert_eq!(decimal_size(1234), "1.23kB");
        assert_eq!(decimal_size(12_345_678), "12.3MB");
        assert_eq!(decimal_size(999), "999B");
    }

    #[test]
    fn rows_and_formats() {
        let r = row("web", "abc", "web", None, None);
        assert_eq!(r["NetIO"], "0B / 0B");
        assert_eq!(r["CPUPerc"], "0.00%");
        assert!(output(Some("{{.Nope}}")).is_err());
        let t = output(Some("{{.Name}} {{.CPUPerc}}")).unwrap();
        assert_eq!(
            render_rows(&t, std::slice::from_ref(&r)).unwrap(),
            "web 0.00%\n"
        );
        let t = output(Some("table {{.ID}}\\t{{.CPUPerc}}\\t{{.Name}}")).unwrap();
        assert_eq!(
            render_rows(&t, &[r]).unwrap(),
            // aligned as Docker's tabwriter aligns them
            "CONTAINER ID   CPU %     NAME\nabc            0.00%     web\n"
        );
    }
}
