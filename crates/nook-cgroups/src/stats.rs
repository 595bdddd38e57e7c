//! Usage counters of a container's cgroup, in the JSON shape of runc's
//! `events --stats` (what containerd and Docker parse).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::cgroup::{read_trim, Cgroup};

const V1_UNLIMITED: u64 = 9_223_372_036_854_771_712;
const USER_HZ: u64 = 100;

fn zero(v: &u64) -> bool {
    *v == 0
}

/// All statistics.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    /// CPU time.
    pub cpu: Cpu,
    /// Memory.
    pub memory: Memory,
    /// Process counts.
    pub pids: Pids,
    /// Block I/O.
    pub blkio: Blkio,
    /// Huge pages, per page size.
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT (never filled: no resctrl support).
    pub intel_rdt: BTreeMap<String, u64>,
    /// Network interfaces (not collected, as runc).
    pub network_interfaces: Option<Vec<()>>,
}

/// CPU statistics.
#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    /// Usage.
    pub usage: CpuUsage,
    /// CFS throttling.
    pub throttling: Throttling,
}

/// CPU usage in nanoseconds.
#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    /// Total.
    #[serde(skip_serializing_if = "zero")]
    pub total: u64,
    /// Per CPU.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Kernel mode.
    pub kernel: u64,
    /// User mode.
    pub user: u64,
}

/// CFS throttling counters.
#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    /// Periods elapsed.
    #[serde(skip_serializing_if = "zero")]
    pub periods: u64,
    /// Periods throttled.
    #[serde(rename = "throttledPeriods", skip_serializing_if = "zero")]
    pub throttled_periods: u64,
    /// Time throttled (ns).
    #[serde(rename = "throttledTime", skip_serializing_if = "zero")]
    pub throttled_time: u64,
}

/// One memory counter set.
#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    /// Limit.
    pub limit: u64,
    /// Usage.
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Memory statistics.
#[derive(Debug, Default, Serialize)]
pub struct Memory {
    /// Page cache.
    #[serde(skip_serializing_if = "zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory+swap (v1) or swap (v2).
    pub swap: MemoryEntry,
    /// Kernel memory.
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers.
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// `memory.stat`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// Process counts.
#[derive(Debug, Default, Serialize)]
pub struct Pids {
    /// Processes now.
    #[serde(skip_serializing_if = "zero")]
    pub current: u64,
    /// Limit (0 = none).
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

/// One block I/O counter.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(skip_serializing_if = "zero")]
    pub major: u64,
    /// Device minor.
    #[serde(skip_serializing_if = "zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// Value.
    #[serde(skip_serializing_if = "zero")]
    pub value: u64,
}

/// Block I/O statistics.
#[derive(Debug, Default, Serialize)]
pub struct Blkio {
    /// Bytes.
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations.
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// Huge page statistics of one page size.
#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    /// Usage.
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    /// Peak.
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

fn num(p: &Path) -> u64 {
    match read_trim(p).as_deref() {
        Some("max") => u64::MAX,
        Some(s) => s.parse().unwrap_or(0),
        None => 0,
    }
}

/// Parse `key value` lines.
pub fn kv(s: &str) -> BTreeMap<String, u64> {
    s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

fn kv_file(p: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(p)
        .map(|s| kv(&s))
        .unwrap_or_default()
}

/// Parse v1 blkio lines (`8:0 Read 4096`).
pub fn parse_blkio_v1(s: &str) -> Vec<BlkioEntry> {
    s.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 {
                return None;
            }
            let (ma, mi) = f[0].split_once(':')?;
            Some(BlkioEntry {
                major: ma.parse().ok()?,
                minor: mi.parse().ok()?,
                op: f[1].to_string(),
                value: f[2].parse().ok()?,
            })
        })
        .collect()
}

/// Parse v2 `io.stat` into (bytes, ios) entries.
pub fn parse_io_stat(s: &str) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for l in s.lines() {
        let mut it = l.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    (bytes, ios)
}

fn page_sizes() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            let kb: u64 = n
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(if kb >= 1 << 20 {
                format!("{}GB", kb >> 20)
            } else if kb >= 1 << 10 {
                format!("{}MB", kb >> 10)
            } else {
                format!("{kb}KB")
            })
        })
        .collect();
    v.sort();
    v
}

/// `f` of `dir` and of every cgroup below it (v1 counters that count only
/// their own cgroup).
fn tree_sum(dir: &Path, f: &dyn Fn(&Path) -> u64) -> u64 {
    let below: u64 = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| tree_sum(&e.path(), f))
                .sum()
        })
        .unwrap_or(0);
    f(dir) + below
}

fn unlimited(v: u64) -> u64 {
    if v >= V1_UNLIMITED {
        u64::MAX
    } else {
        v
    }
}

impl Cgroup {
    /// Collect every statistic the joined controllers offer.
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        // CPU
        if let Some(d) = self.v1_dir("cpuacct") {
            s.cpu.usage.total = num(&d.join("cpuacct.usage"));
            s.cpu.usage.percpu = read_trim(&d.join("cpuacct.usage_percpu"))
                .map(|l| {
                    l.split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            let st = kv_file(&d.join("cpuacct.stat"));
            s.cpu.usage.user = st.get("user").copied().unwrap_or(0) * 1_000_000_000 / USER_HZ;
            s.cpu.usage.kernel = st.get("system").copied().unwrap_or(0) * 1_000_000_000 / USER_HZ;
        } else if let Some(d) = &self.v2 {
            let st = kv_file(&d.join("cpu.stat"));
            s.cpu.usage.total = st.get("usage_usec").copied().unwrap_or(0) * 1000;
            s.cpu.usage.user = st.get("user_usec").copied().unwrap_or(0) * 1000;
            s.cpu.usage.kernel = st.get("system_usec").copied().unwrap_or(0) * 1000;
        }
        let cpu_stat = self
            .dir_for("cpu")
            .map(|(d, on_v2)| (kv_file(&d.join("cpu.stat")), if on_v2 { 1000 } else { 1 }));
        if let Some((st, mul)) = cpu_stat {
            s.cpu.throttling.periods = st.get("nr_periods").copied().unwrap_or(0);
            s.cpu.throttling.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
            s.cpu.throttling.throttled_time = st
                .get("throttled_time")
                .or(st.get("throttled_usec"))
                .copied()
                .unwrap_or(0)
                * mul;
        }
        // Memory
        let memory = self.dir_for("memory");
        if let Some((d, false)) = memory {
            let e = |prefix: &str| MemoryEntry {
                limit: unlimited(num(&d.join(format!("{prefix}.limit_in_bytes")))),
                usage: num(&d.join(format!("{prefix}.usage_in_bytes"))),
                max: num(&d.join(format!("{prefix}.max_usage_in_bytes"))),
                // Counted where a limit was hit: the leaf's copy of it, or
                // a sub-cgroup's.
                failcnt: tree_sum(d, &|t| num(&t.join(format!("{prefix}.failcnt")))),
            };
            s.memory.usage = e("memory");
            s.memory.swap = e("memory.memsw");
            s.memory.kernel = e("memory.kmem");
            s.memory.kernel_tcp = e("memory.kmem.tcp");
            s.memory.raw = kv_file(&d.join("memory.stat"));
            s.memory.cache = s
                .memory
                .raw
                .get("total_cache")
                .or(s.memory.raw.get("cache"))
                .copied()
                .unwrap_or(0);
        } else if let Some((d, true)) = memory {
            let events = kv_file(&d.join("memory.events"));
            s.memory.usage = MemoryEntry {
                limit: num(&d.join("memory.max")),
                usage: num(&d.join("memory.current")),
                max: num(&d.join("memory.peak")),
                failcnt: events.get("max").copied().unwrap_or(0),
            };
            s.memory.swap = MemoryEntry {
                limit: num(&d.join("memory.swap.max")),
                usage: num(&d.join("memory.swap.current")),
                max: num(&d.join("memory.swap.peak")),
                failcnt: 0,
            };
            s.memory.raw = kv_file(&d.join("memory.stat"));
            s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
        }
        // Pids
        if let Some((d, _)) = self.dir_for("pids") {
            s.pids.current = num(&d.join("pids.current"));
            let l = num(&d.join("pids.max"));
            s.pids.limit = if l == u64::MAX { 0 } else { l };
        }
        // Block I/O
        let blkio = self.dir_for("blkio");
        if let Some((d, false)) = blkio {
            let pick = |a: &str, b: &str| {
                let x = std::fs::read_to_string(d.join(a))
                    .map(|s| parse_blkio_v1(&s))
                    .unwrap_or_default();
                if x.iter().any(|e| e.value != 0) {
                    x
                } else {
                    std::fs::read_to_string(d.join(b))
                        .map(|s| parse_blkio_v1(&s))
                        .unwrap_or_default()
                }
            };
            s.blkio.io_service_bytes_recursive = pick(
                "blkio.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes_recursive",
            );
            s.blkio.io_serviced_recursive = pick(
                "blkio.io_serviced_recursive",
                "blkio.throttle.io_serviced_recursive",
            );
        } else if let Some((d, true)) = blkio {
            let (b, i) = std::fs::read_to_string(d.join("io.stat"))
                .map(|s| parse_io_stat(&s))
                .unwrap_or_default();
            s.blkio.io_service_bytes_recursive = b;
            s.blkio.io_serviced_recursive = i;
        }
        // Huge pages
        if let Some((d, on_v2)) = self.dir_for("hugetlb") {
            for size in page_sizes() {
                let h = if !on_v2 {
                    Hugetlb {
                        usage: num(&d.join(format!("hugetlb.{size}.usage_in_bytes"))),
                        max: num(&d.join(format!("hugetlb.{size}.max_usage_in_bytes"))),
                        failcnt: num(&d.join(format!("hugetlb.{size}.failcnt"))),
                    }
                } else {
                    Hugetlb {
                        usage: num(&d.join(format!("hugetlb.{size}.current"))),
                        max: 0,
                        failcnt: kv_file(&d.join(format!("hugetlb.{size}.events")))
                            .get("max")
                            .copied()
                            .unwrap_or(0),
                    }
                };
                s.hugetlb.insert(size, h);
            }
        }
        s
    }

    /// How many times the OOM killer has killed a process of this cgroup
    /// or of its sub-cgroups (v1 `memory.oom_control`, counted in the
    /// victim's own cgroup; v2 `memory.events`, which counts the subtree).
    pub fn oom_kills(&self) -> u64 {
        if let Some(d) = self.v1_dir("memory") {
            return tree_sum(d, &|t| {
                kv_file(&t.join("memory.oom_control"))
                    .get("oom_kill")
                    .copied()
                    .unwrap_or(0)
            });
        }
        if let Some(d) = &self.v2 {
            return kv_file(&d.join("memory.events"))
                .get("oom_kill")
                .copied()
                .unwrap_or(0);
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blkio_and_io_stat() {
        let v1 = parse_blkio_v1("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
        assert_eq!(v1.len(), 2);
        assert_eq!(
            v1[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        let (b, i) = parse_io_stat("8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].value, 200);
        assert_eq!(i[0].op, "Read");
    }

    #[test]
    fn shape_matches_runc() {
        let mut s = Stats::default();
        s.memory.usage.limit = 5;
        let j = serde_json::to_value(&s).unwrap();
        assert!(j["cpu"]["usage"]["kernel"].is_number());
        assert!(j["memory"]["usage"]["failcnt"].is_number());
        assert!(j["memory"]["kernelTCP"].is_object());
        assert!(j["network_interfaces"].is_null());
        assert!(j["hugetlb"].is_object());
    }

    #[test]
    fn kv_parse() {
        let m = kv("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        assert_eq!(m["oom_kill"], 3);
    }
}
