//! `stats`: one sample of a running container's usage (CPU time, memory,
//! network and block I/O, processes) from its cgroup (v1 or v2, through
//! nook-container) and its first process's /proc; and the figures Docker
//! derives from two samples (CPU %) or from one (memory without the
//! inactive page cache, memory %).

use super::LiveStatus;
use crate::{Engine, Error, Result};
use std::time::Instant;

/// One sample of a container's usage.
#[derive(Clone, Debug)]
pub struct StatsSample {
    /// When it was taken.
    pub at: Instant,
    /// CPU time the container's cgroup has used, nanoseconds.
    pub cpu_total: u64,
    /// CPU time the whole host has used (all CPUs, /proc/stat), nanoseconds.
    pub system_total: u64,
    /// CPUs online.
    pub online_cpus: u32,
    /// Memory used, less the inactive page cache (as Docker shows it).
    pub memory_usage: u64,
    /// The memory limit (the host's memory when unlimited).
    pub memory_limit: u64,
    /// Bytes received on the container's interfaces (loopback excluded).
    pub net_rx: u64,
    /// Bytes sent on the container's interfaces (loopback excluded).
    pub net_tx: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
    /// Processes (and threads) in the container.
    pub pids: u64,
}

impl StatsSample {
    /// Docker's CPU %: the container's CPU time over the host's in the
    /// interval since `prev`, times the CPUs online (100 % is one busy
    /// CPU); 0 without an earlier sample.
    pub fn cpu_percent(&self, prev: Option<&StatsSample>) -> f64 {
        let Some(p) = prev else { return 0.0 };
        let cpu = self.cpu_total.saturating_sub(p.cpu_total) as f64;
        let system = self.system_total.saturating_sub(p.system_total) as f64;
        if cpu <= 0.0 || system <= 0.0 {
            return 0.0;
        }
        cpu / system * self.online_cpus.max(1) as f64 * 100.0
    }

    /// Memory used as a share of the limit, in %.
    pub fn memory_percent(&self) -> f64 {
        match self.memory_limit {
            0 => 0.0,
            l => self.memory_usage as f64 / l as f64 * 100.0,
        }
    }
}

impl Engine {
    /// A sample of running container `id`'s usage.
    pub fn container_stats(&self, id: &str) -> Result<StatsSample> {
        let c = self.container(id)?;
        if c.status != LiveStatus::Running {
            return Err(Error::NotRunning(c.record.id.clone()));
        }
        let s = self.runtime().stats(&c.record.id)?;
        let raw = &s.memory.raw;
        let inactive = raw
            .get("total_inactive_file")
            .or(raw.get("inactive_file"))
            .copied()
            .unwrap_or(0);
        let usage = s.memory.usage.usage;
        let memory_usage = match inactive < usage {
            true => usage - inactive,
            false => usage,
        };
        let host_mem = host_memory();
        let limit = s.memory.usage.limit;
        let memory_limit = match limit {
            0 | u64::MAX => host_mem,
            l => l.min(host_mem.max(1)),
        };
        let sum = |list: &[nook_cgroups::stats::BlkioEntry], op: &str| -> u64 {
            list.iter()
                .filter(|e| e.op.eq_ignore_ascii_case(op))
                .map(|e| e.value)
                .sum()
        };
        let blk = &s.blkio.io_service_bytes_recursive;
        let (net_rx, net_tx) = c.record.pid.map(net_bytes).unwrap_or((0, 0));
        let (system_total, online_cpus) = host_cpu();
        Ok(StatsSample {
            at: Instant::now(),
            cpu_total: s.cpu.usage.total,
            system_total,
            online_cpus,
            memory_usage,
            memory_limit,
            net_rx,
            net_tx,
            block_read: sum(blk, "Read"),
            block_write: sum(blk, "Write"),
            pids: s.pids.current,
        })
    }
}

/// The host's memory, bytes (/proc/meminfo MemTotal).
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let kb: u64 = l
                .strip_prefix("MemTotal:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

/// The host's CPU time (all CPUs, nanoseconds) and its online CPUs, from
/// /proc/stat as Docker reads it.
fn host_cpu() -> (u64, u32) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    parse_proc_stat(&text, hz)
}

/// `/proc/stat`'s total CPU time (user through steal, nanoseconds) and the
/// number of `cpuN` lines.
fn parse_proc_stat(text: &str, hz: u64) -> (u64, u32) {
    let mut total = 0;
    let mut cpus = 0;
    for l in text.lines() {
        let mut it = l.split_whitespace();
        match it.next() {
            Some("cpu") => {
                total = it
                    .take(8)
                    .filter_map(|x| x.parse::<u64>().ok())
                    .sum::<u64>()
                    * (1_000_000_000 / hz);
            }
            Some(c) if c.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total, cpus)
}

/// Bytes received and sent on process `pid`'s network namespace's
/// interfaces, loopback excluded.
fn net_bytes(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    parse_net_dev(&text)
}

/// `/proc/net/dev`'s received and sent bytes summed over every interface
/// but `lo`.
fn parse_net_dev(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat() {
        let t = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 1\n";
        assert_eq!(parse_proc_stat(t, 100), (1000 * 10_000_000, 2));
    }

    #[test]
    fn net_dev_without_loopback() {
        let t = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n  eth0:  2000      20    0    0    0     0          0         0     3000      30    0    0    0     0       0          0\n";
        assert_eq!(parse_net_dev(t), (2000, 3000));
        assert_eq!(parse_net_dev(""), (0, 0));
    }

    #[test]
    fn cpu_percent_as_docker() {
        let s = |cpu, sys| StatsSample {
            at: Instant::now(),
            cpu_total: cpu,
            system_total: sys,
            online_cpus: 2,
            memory_usage: 50,
            memory_limit: 200,
            net_rx: 0,
            net_tx: 0,
            block_read: 0,
            block_write: 0,
            pids: 1,
        };
        // one CPU busy of two: the host's time grew by 2 s in 1 s
        let (a, b) = (s(0, 0), s(1_000_000_000, 2_000_000_000));
        assert!((b.cpu_percent(Some(&a)) - 100.0).abs() < 1e-9);
        assert_eq!(b.cpu_percent(None), 0.0);
        assert!((b.memory_percent() - 25.0).abs() < 1e-9);
    }
}
