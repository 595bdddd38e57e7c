//! `top`: the processes of a container's cgroup, as `ps -ef` shows them
//! (UID PID PPID C STIME TTY TIME CMD), read from /proc; or, with other
//! `ps` options, the host's `ps` output cut to the container's processes,
//! as Docker does.

use super::LiveStatus;
use crate::{Engine, Error, Result};
use std::collections::HashMap;

/// The header `top` shows without options.
pub const TOP_TITLES: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// A process table: its titles and rows (one cell per title).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessTable {
    /// Column titles.
    pub titles: Vec<String>,
    /// One row per process.
    pub processes: Vec<Vec<String>>,
}

impl Engine {
    /// The processes of running container `word`; `ps_args` empty (or
    /// `-ef`) reads /proc, anything else runs the host's `ps` with them.
    pub fn top_container(&self, word: &str, ps_args: &[String]) -> Result<ProcessTable> {
        let c = self.container(word)?;
        if c.status != LiveStatus::Running {
            return Err(Error::NotRunning(c.record.id.clone()));
        }
        let mut pids = self.runtime().pids(&c.record.id)?;
        pids.sort_unstable();
        if ps_args.is_empty() || ps_args == ["-ef"] {
            let users = passwd_names();
            let rows = pids.iter().filter_map(|&p| proc_row(p, &users)).collect();
            return Ok(ProcessTable {
                titles: TOP_TITLES.iter().map(|s| s.to_string()).collect(),
                processes: rows,
            });
        }
        host_ps(ps_args, &pids)
    }
}

/// The host's `ps ARGS`, only the rows whose PID column is one of `pids`.
fn host_ps(args: &[String], pids: &[i32]) -> Result<ProcessTable> {
    let out = std::process::Command::new("ps")
        .args(args)
        .output()
        .map_err(Error::io("run", "ps"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").trim().to_string();
        return Err(Error::invalid("ps options", args.join(" "), first));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let head = lines.next().unwrap_or("");
    let titles: Vec<String> = head.split_whitespace().map(String::from).collect();
    let col = titles.iter().position(|t| t == "PID").ok_or_else(|| {
        Error::invalid(
            "ps options",
            args.join(" "),
            "couldn't find PID field in ps output",
        )
    })?;
    let mut processes = Vec::new();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        if titles.is_empty() || words.len() < titles.len() {
            continue;
        }
        // the last column (the command) may hold blanks
        let n = titles.len();
        let mut cells: Vec<String> = words[..n - 1].iter().map(|s| s.to_string()).collect();
        cells.push(words[n - 1..].join(" "));
        let pid: Option<i32> = cells.get(col).and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            processes.push(cells);
        }
    }
    Ok(ProcessTable { titles, processes })
}

/// uid -> user name, from the host's /etc/passwd.
fn passwd_names() -> HashMap<u32, String> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
        })
        .collect()
}

/// Clock ticks a second (`USER_HZ`).
fn ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Seconds since boot.
fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Boot time, Unix seconds.
fn boot_time() -> i64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        .unwrap_or(0)
}

/// The `ps -ef` row of process `pid` (none when it is gone).
fn proc_row(pid: i32, users: &HashMap<u32, String>) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    let comm = &stat[stat.find('(')? + 1..close];
    // fields after the command: state(0) ppid(1) ... tty_nr(4) ... utime(11)
    // stime(12) ... starttime(19)
    let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid: u32 = status
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let hz = ticks();
    let cpu_secs = (num(11) + num(12)) / hz;
    let started_after_boot = num(19) as f64 / hz as f64;
    let elapsed = (uptime() - started_after_boot).max(0.0);
    let c = match elapsed > 0.0 {
        true => ((num(11) + num(12)) as f64 / hz as f64 * 100.0 / elapsed) as u64,
        false => 0,
    };
    let start = boot_time() + started_after_boot as i64;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = match cmdline.is_empty() {
        true => format!("[{comm}]"),
        false => cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
    };
    Some(vec![
        users.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
        pid.to_string(),
        num(1).to_string(),
        c.to_string(),
        stime(start),
        tty_name(num(4)),
        format_cpu_time(cpu_secs),
        cmd,
    ])
}

/// A start time as `ps` shows it: `HH:MM` today, `MonDD` before.
fn stime(start: i64) -> String {
    let tz = jiff::tz::TimeZone::system();
    let Ok(t) = jiff::Timestamp::from_second(start) else {
        return "?".into();
    };
    let z = t.to_zoned_datetime(tz.clone());
    let today = jiff::Timestamp::now().to_zoned_datetime(tz).date();
    match z.date() == today {
        true => z.strftime("%H:%M").to_string(),
        false => z.strftime("%b%d").to_string(),
    }
}

/// A terminal's name from its device number (`?` for none).
fn tty_name(dev: u64) -> String {
    let (major, minor) = ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00));
    match major {
        0 => "?".into(),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        _ => "?".into(),
    }
}

/// CPU seconds as `ps` shows them: `[DD-]HH:MM:SS`.
pub fn format_cpu_time(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match d {
        0 => format!("{h:02}:{m:02}:{s:02}"),
        d => format!("{d}-{h:02}:{m:02}:{s:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_and_ttys() {
        assert_eq!(format_cpu_time(0), "00:00:00");
        assert_eq!(format_cpu_time(3723), "01:02:03");
        assert_eq!(format_cpu_time(90000), "1-01:00:00");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(136 << 8 | 3), "pts/3");
    }

    #[test]
    fn own_row() {
        let me = std::process::id() as i32;
        let row = proc_row(me, &passwd_names()).unwrap();
        assert_eq!(row.len(), TOP_TITLES.len());
        assert_eq!(row[1], me.to_string());
        assert_eq!(row[2], std::os::unix::process::parent_id().to_string());
    }
}
