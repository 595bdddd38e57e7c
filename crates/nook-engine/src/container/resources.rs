//! A container's resource limits, as Docker takes them: the `run`/`create`
//! and `update` flags (`--memory`, `--cpus`, `--cpuset-cpus`,
//! `--pids-limit`, `--device-read-bps`, `--shm-size`, ...) parsed with
//! Docker's units and messages ([`ResourceFlags::parse`]), checked and
//! adapted against the host as Docker's daemon does ([`Resources::check`]:
//! the CPUs and memory nodes it has, its cgroup version, what its kernel
//! can limit), then turned into the OCI spec's `linux.resources`,
//! `process.oomScoreAdj` and the `/dev/shm` size ([`Resources::apply`]).
//!
//! [`Resources`] has Docker's `HostConfig` field names and meanings (0 is
//! "not set"), so it is what `inspect` shows, and what a container's spec
//! keeps (annotation [`ANNOTATION`]) for `update` to merge into.

use crate::units::ram_in_bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// The spec annotation holding a container's [`Resources`] (JSON).
pub const ANNOTATION: &str = "io.nook.resources";

/// Docker's smallest memory limit and reservation (6 MiB).
pub const MIN_MEMORY: i64 = 6 << 20;

/// Docker's smallest kernel memory limit (4 MiB).
pub const MIN_KERNEL_MEMORY: i64 = 4 << 20;

/// Docker's default `/dev/shm` size (64 MiB).
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// A resource value that cannot be used; one line, Docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// A flag's value that does not parse.
    #[error("invalid argument {value:?} for \"{flag}\" flag: {reason}")]
    Flag {
        /// The flag, as Docker's usage names it (`-m, --memory`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A value the host cannot give, or values that contradict each other.
    #[error("{0}")]
    Impossible(String),
}

type Result<T, E = ResourceError> = std::result::Result<T, E>;

fn impossible(msg: impl Into<String>) -> ResourceError {
    ResourceError::Impossible(msg.into())
}

/// A relative I/O weight on one block device (`--blkio-weight-device
/// /dev/sda:200`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightDevice {
    /// The device node.
    pub path: String,
    /// 10..1000.
    pub weight: u16,
}

/// `--blkio-weight-device PATH:WEIGHT`.
fn weight_device(v: &str) -> Result<WeightDevice> {
    const FLAG: &str = "--blkio-weight-device";
    let Some((path, weight)) = v.split_once(':').filter(|(p, _)| p.starts_with("/dev/")) else {
        return Err(flag_err(FLAG, v, format!("bad format: {v}")));
    };
    match weight.parse::<u16>() {
        Ok(weight) if (10..=1000).contains(&weight) => Ok(WeightDevice {
            path: path.to_string(),
            weight,
        }),
        _ => Err(flag_err(FLAG, v, format!("invalid weight for device: {v}"))),
    }
}

/// A rate limit on one block device (`--device-read-bps /dev/sda:1mb`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleDevice {
    /// The device node.
    pub path: String,
    /// Bytes or operations per second.
    pub rate: u64,
}

/// Resource limits with Docker's `HostConfig` names and meanings: 0 (or
/// empty, or `None`) is "not set".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    /// `--memory`, bytes.
    pub memory: i64,
    /// `--memory-swap`: memory plus swap, bytes; -1 unlimited.
    pub memory_swap: i64,
    /// `--memory-reservation` (soft limit), bytes.
    pub memory_reservation: i64,
    /// `--kernel-memory`, bytes (cgroup v1 only; deprecated).
    pub kernel_memory: i64,
    /// `--memory-swappiness` (0..100; cgroup v1 only).
    pub memory_swappiness: Option<i64>,
    /// `--cpus`, in billionths of a CPU.
    pub nano_cpus: i64,
    /// `--cpu-shares` (relative weight).
    pub cpu_shares: i64,
    /// `--cpu-period`, microseconds.
    pub cpu_period: i64,
    /// `--cpu-quota`, microseconds per period.
    pub cpu_quota: i64,
    /// `--cpuset-cpus` (`0-2,4`).
    pub cpuset_cpus: String,
    /// `--cpuset-mems`.
    pub cpuset_mems: String,
    /// `--pids-limit`; `Some(0)` unlimited.
    pub pids_limit: Option<i64>,
    /// `--blkio-weight` (10..1000).
    pub blkio_weight: u16,
    /// `--blkio-weight-device`.
    pub blkio_weight_device: Vec<WeightDevice>,
    /// `--device-read-bps`.
    #[serde(rename = "BlkioDeviceReadBps")]
    pub device_read_bps: Vec<ThrottleDevice>,
    /// `--device-write-bps`.
    #[serde(rename = "BlkioDeviceWriteBps")]
    pub device_write_bps: Vec<ThrottleDevice>,
    /// `--device-read-iops`.
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub device_read_iops: Vec<ThrottleDevice>,
    /// `--device-write-iops`.
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub device_write_iops: Vec<ThrottleDevice>,
    /// `--oom-kill-disable`.
    pub oom_kill_disable: Option<bool>,
    /// `--oom-score-adj` (-1000..1000).
    pub oom_score_adj: i32,
    /// `--shm-size`, bytes (0: Docker's 64 MiB).
    pub shm_size: i64,
}

/// The resource flags as the command line gives them (unparsed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceFlags {
    /// `-m, --memory`.
    pub memory: Option<String>,
    /// `--memory-swap`.
    pub memory_swap: Option<String>,
    /// `--memory-reservation`.
    pub memory_reservation: Option<String>,
    /// `--kernel-memory`.
    pub kernel_memory: Option<String>,
    /// `--memory-swappiness` (-1: the kernel's).
    pub memory_swappiness: Option<String>,
    /// `--cpus`.
    pub cpus: Option<String>,
    /// `-c, --cpu-shares`.
    pub cpu_shares: Option<String>,
    /// `--cpu-period`.
    pub cpu_period: Option<String>,
    /// `--cpu-quota`.
    pub cpu_quota: Option<String>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`.
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`.
    pub pids_limit: Option<String>,
    /// `--blkio-weight`.
    pub blkio_weight: Option<String>,
    /// `--blkio-weight-device PATH:WEIGHT`.
    pub blkio_weight_device: Vec<String>,
    /// `--device-read-bps PATH:RATE`.
    pub device_read_bps: Vec<String>,
    /// `--device-write-bps PATH:RATE`.
    pub device_write_bps: Vec<String>,
    /// `--device-read-iops PATH:RATE`.
    pub device_read_iops: Vec<String>,
    /// `--device-write-iops PATH:RATE`.
    pub device_write_iops: Vec<String>,
    /// `--oom-kill-disable`.
    pub oom_kill_disable: bool,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<String>,
    /// `--shm-size`.
    pub shm_size: Option<String>,
}

fn flag_err(flag: &'static str, value: &str, reason: impl Into<String>) -> ResourceError {
    ResourceError::Flag {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// A size flag (`512m`).
fn size(flag: &'static str, v: &Option<String>) -> Result<i64> {
    match v {
        None => Ok(0),
        Some(s) => ram_in_bytes(s).map_err(|e| flag_err(flag, s, e)),
    }
}

/// An integer flag, with Go's `strconv` message.
fn int<T: std::str::FromStr + Default>(flag: &'static str, v: &Option<String>) -> Result<T> {
    let Some(s) = v else {
        return Ok(T::default());
    };
    s.parse().map_err(|_| {
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        let why = match !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            true => "value out of range",
            false => "invalid syntax",
        };
        let func = match std::any::type_name::<T>().starts_with('u') {
            true => "ParseUint",
            false => "ParseInt",
        };
        flag_err(flag, s, format!("strconv.{func}: parsing {s:?}: {why}"))
    })
}

/// `--cpus 1.5` as billionths of a CPU (Docker's `NanoCPUs`).
pub fn parse_cpus(s: &str) -> Result<i64> {
    let bad = |why: String| flag_err("--cpus", s, why);
    let (int_part, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac.is_empty()) || !digits(int_part) || !digits(frac) {
        return Err(bad(format!("failed to parse {s} as a rational number")));
    }
    let frac_digits = frac.trim_end_matches('0');
    if frac_digits.len() > 9 {
        return Err(bad("value is too precise".into()));
    }
    let whole: i64 = match int_part {
        "" => 0,
        p => p
            .parse()
            .map_err(|_| bad(format!("failed to parse {s} as a rational number")))?,
    };
    let nanos: i64 = format!("{frac_digits:0<9}").parse().unwrap_or(0);
    whole
        .checked_mul(1_000_000_000)
        .and_then(|w| w.checked_add(nanos))
        .ok_or_else(|| bad("value is too large".into()))
}

/// A `PATH:RATE` throttle flag; `bps` rates are sizes, iops plain numbers.
fn throttle(flag: &'static str, v: &str, bps: bool) -> Result<ThrottleDevice> {
    let Some((path, rate)) = v.split_once(':').filter(|(p, _)| !p.is_empty()) else {
        return Err(flag_err(flag, v, format!("bad format: {v}")));
    };
    if !path.starts_with("/dev/") {
        return Err(flag_err(
            flag,
            v,
            format!("bad format for device path: {v}"),
        ));
    }
    let rate = match bps {
        true => ram_in_bytes(rate).ok().map(|r| r as u64),
        false => rate.parse::<u64>().ok(),
    };
    let Some(rate) = rate else {
        let unit = match bps {
            true => "[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb",
            false => ". Number must be a positive integer",
        };
        return Err(flag_err(
            flag,
            v,
            format!(
                "invalid rate for device: {v}. The correct format is <device-path>:<number>{unit}"
            ),
        ));
    };
    Ok(ThrottleDevice {
        path: path.to_string(),
        rate,
    })
}

fn throttles(flag: &'static str, list: &[String], bps: bool) -> Result<Vec<ThrottleDevice>> {
    list.iter().map(|v| throttle(flag, v, bps)).collect()
}

impl ResourceFlags {
    /// The flags' values, parsed (syntax only: [`Resources::check`] judges
    /// them against the host).
    pub fn parse(&self) -> Result<Resources> {
        let memory_swap = match self.memory_swap.as_deref() {
            Some("-1") => -1,
            _ => size("--memory-swap", &self.memory_swap)?,
        };
        Ok(Resources {
            memory: size("-m, --memory", &self.memory)?,
            memory_swap,
            memory_reservation: size("--memory-reservation", &self.memory_reservation)?,
            kernel_memory: size("--kernel-memory", &self.kernel_memory)?,
            memory_swappiness: match &self.memory_swappiness {
                Some(_) => {
                    Some(int("--memory-swappiness", &self.memory_swappiness)?).filter(|v| *v != -1)
                }
                None => None,
            },
            nano_cpus: self.cpus.as_deref().map_or(Ok(0), parse_cpus)?,
            cpu_shares: int("-c, --cpu-shares", &self.cpu_shares)?,
            cpu_period: int("--cpu-period", &self.cpu_period)?,
            cpu_quota: int("--cpu-quota", &self.cpu_quota)?,
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: self.cpuset_mems.clone().unwrap_or_default(),
            pids_limit: match &self.pids_limit {
                Some(_) => Some(int("--pids-limit", &self.pids_limit)?),
                None => None,
            },
            blkio_weight: int("--blkio-weight", &self.blkio_weight)?,
            blkio_weight_device: self
                .blkio_weight_device
                .iter()
                .map(|v| weight_device(v))
                .collect::<Result<_>>()?,
            device_read_bps: throttles("--device-read-bps", &self.device_read_bps, true)?,
            device_write_bps: throttles("--device-write-bps", &self.device_write_bps, true)?,
            device_read_iops: throttles("--device-read-iops", &self.device_read_iops, false)?,
            device_write_iops: throttles("--device-write-iops", &self.device_write_iops, false)?,
            oom_kill_disable: self.oom_kill_disable.then_some(true),
            oom_score_adj: int("--oom-score-adj", &self.oom_score_adj)?,
            shm_size: size("--shm-size", &self.shm_size)?,
        })
    }
}

/// What the host can limit: the facts [`Resources::check`] judges by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostLimits {
    /// CPUs this process may run on.
    pub ncpu: usize,
    /// The CPUs cpusets may use (`0-3`).
    pub cpus: String,
    /// The memory nodes cpusets may use.
    pub mems: String,
    /// The memory controller is on cgroup v2 (no kernel memory limit, no
    /// OOM-killer switch).
    pub memory_v2: bool,
    /// Memory+swap can be limited.
    pub swap_limit: bool,
    /// Block I/O weights can be set.
    pub blkio_weight: bool,
}

impl HostLimits {
    /// This host's.
    pub fn probe() -> HostLimits {
        let layout = nook_cgroups::Layout::detect().unwrap_or_default();
        let v1 = |c: &str| layout.v1_for(c).map(|h| h.mountpoint.clone());
        let v2 = layout.v2.as_ref().map(|m| m.mountpoint.clone());
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let cpuset = |v1_file: &str, v2_file: &str, sys: &str, default: &str| {
            let from_v1 = v1("cpuset").and_then(|d| read(&d.join(v1_file)));
            from_v1
                .or_else(|| v2.as_ref().and_then(|d| read(&d.join(v2_file))))
                .or_else(|| read(Path::new(sys)))
                .unwrap_or_else(|| default.to_string())
        };
        // v2, as Docker judges it: the controller is there, so is the knob
        let on_v2 = |c: &str| layout.v2_controllers().iter().any(|x| x == c);
        let memory_v2 = v1("memory").is_none() && on_v2("memory");
        let swap_limit = match v1("memory") {
            Some(d) => d.join("memory.memsw.limit_in_bytes").exists(),
            None => on_v2("memory"),
        };
        let blkio_weight = match v1("blkio") {
            Some(d) => d.join("blkio.weight").exists() || d.join("blkio.bfq.weight").exists(),
            None => on_v2("io"),
        };
        HostLimits {
            ncpu: nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
                .map(|set| {
                    (0..nix::sched::CpuSet::count())
                        .filter(|&i| set.is_set(i).unwrap_or(false))
                        .count()
                })
                .unwrap_or(1)
                .max(1),
            cpus: cpuset(
                "cpuset.cpus",
                "cpuset.cpus.effective",
                "/sys/devices/system/cpu/online",
                "0",
            ),
            mems: cpuset(
                "cpuset.mems",
                "cpuset.mems.effective",
                "/sys/devices/system/node/online",
                "0",
            ),
            memory_v2,
            swap_limit,
            blkio_weight,
        }
    }
}

/// The numbers of a cpuset list (`0-2,4`), Docker's `ParseUintList`.
pub fn parse_list(s: &str) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    if s.is_empty() {
        return Ok(out);
    }
    let bad = || format!("invalid format: {s}");
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a.parse().map_err(|_| bad())?;
        let b: u32 = b.parse().map_err(|_| bad())?;
        if b < a || b - a > 1 << 16 {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// Check `want` (a cpuset list) against `have`; Docker's messages for
/// `what` ("cpus"/"mems").
fn check_cpuset(want: &str, have: &str, what: &str) -> Result<()> {
    if want.is_empty() {
        return Ok(());
    }
    let w = parse_list(want)
        .map_err(|e| impossible(format!("Invalid value {want} for cpuset {what}: {e}")))?;
    let h = parse_list(have).unwrap_or_default();
    if w.is_subset(&h) {
        return Ok(());
    }
    let noun = match what {
        "cpus" => "CPUs",
        _ => "memory nodes",
    };
    Err(impossible(format!(
        "Requested {noun} are not available - requested {want}, available: {have}"
    )))
}

/// The major and minor numbers of the block device at `path`.
pub fn block_device(path: &str) -> Result<(u64, u64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::metadata(path).map_err(|e| {
        let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        impossible(format!("stat {path}: {}", errno.desc().to_lowercase()))
    })?;
    if !md.file_type().is_block_device() {
        return Err(impossible(format!("{path} is not a block device")));
    }
    let rdev = md.rdev();
    Ok((libc::major(rdev) as u64, libc::minor(rdev) as u64))
}

impl Resources {
    /// Docker's daemon checks and adaptations, in its order: impossible
    /// values are errors (Docker's messages), what the host cannot limit
    /// is dropped with a warning (returned).  `update` checks a merged
    /// whole (no defaults filled in).
    pub fn check(&mut self, host: &HostLimits, update: bool) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        if !update {
            if self.memory > 0 && self.memory_swap == 0 {
                self.memory_swap = self.memory * 2;
            }
            if self.shm_size == 0 {
                self.shm_size = DEFAULT_SHM_SIZE;
            }
        }
        self.check_memory(host, update, &mut warnings)?;
        self.check_cpu(host, &mut warnings)?;
        self.check_blkio(host, &mut warnings)?;
        if !(-1000..=1000).contains(&self.oom_score_adj) {
            return Err(impossible(format!(
                "Invalid value {}, range for oom score adj is [-1000, 1000]",
                self.oom_score_adj
            )));
        }
        if let Some(p) = self.pids_limit.as_mut() {
            *p = (*p).max(0);
        }
        if self.shm_size < 0 {
            return Err(impossible("SHM size can not be less than 0"));
        }
        Ok(warnings)
    }

    fn check_memory(&mut self, host: &HostLimits, update: bool, w: &mut Vec<String>) -> Result<()> {
        if self.memory != 0 && self.memory < MIN_MEMORY {
            return Err(impossible("Minimum memory limit allowed is 6MB"));
        }
        if self.memory > 0 && self.memory_swap != -1 && !host.swap_limit {
            w.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".into());
            self.memory_swap = -1;
        }
        if self.memory > 0 && self.memory_swap > 0 && self.memory_swap < self.memory {
            return Err(impossible(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        if self.memory == 0 && self.memory_swap > 0 && !update {
            return Err(impossible(
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ));
        }
        if self.memory_reservation > 0 && self.memory_reservation < MIN_MEMORY {
            return Err(impossible("Minimum memory reservation allowed is 6MB"));
        }
        if self.memory > 0 && self.memory_reservation > 0 && self.memory < self.memory_reservation {
            return Err(impossible(
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            ));
        }
        if self.kernel_memory > 0 {
            if self.kernel_memory < MIN_KERNEL_MEMORY {
                return Err(impossible("Minimum kernel memory limit allowed is 4MB"));
            }
            if host.memory_v2 {
                w.push("Kernel memory limit is not supported on cgroup v2. Kernel memory limit discarded.".into());
                self.kernel_memory = 0;
            } else {
                w.push("Specifying a kernel memory limit is deprecated and will be removed in a future release.".into());
            }
        }
        if let Some(v) = self.memory_swappiness {
            if !(0..=100).contains(&v) {
                return Err(impossible(format!(
                    "Invalid value: {v}, valid memory swappiness range is 0-100"
                )));
            }
            if host.memory_v2 {
                w.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".into());
                self.memory_swappiness = None;
            }
        }
        if self.oom_kill_disable == Some(true) {
            if host.memory_v2 {
                w.push(
                    "Your kernel does not support OomKillDisable. OomKillDisable discarded.".into(),
                );
                self.oom_kill_disable = Some(false);
            } else if self.memory == 0 {
                w.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
            }
        }
        Ok(())
    }

    fn check_cpu(&mut self, host: &HostLimits, w: &mut Vec<String>) -> Result<()> {
        if self.nano_cpus > 0 && self.cpu_period > 0 {
            return Err(impossible(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        if self.nano_cpus > 0 && self.cpu_quota > 0 {
            return Err(impossible(
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
            ));
        }
        let n = host.ncpu as i64;
        // 0.01 CPU: a quota of 1ms per 100ms period, the kernel's least
        if self.nano_cpus != 0 && !(10_000_000..=n * 1_000_000_000).contains(&self.nano_cpus) {
            return Err(impossible(format!(
                "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
            )));
        }
        if self.cpu_shares != 0 && !(2..=262_144).contains(&self.cpu_shares) {
            let (to, which) = match self.cpu_shares < 2 {
                true => (2, "minimum"),
                false => (262_144, "maximum"),
            };
            w.push(format!(
                "Changing requested CPUShares of {} to {which} allowed of {to}",
                self.cpu_shares
            ));
            self.cpu_shares = to;
        }
        if self.cpu_period != 0 && !(1000..=1_000_000).contains(&self.cpu_period) {
            return Err(impossible("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"));
        }
        if self.cpu_quota > 0 && self.cpu_quota < 1000 {
            return Err(impossible(
                "CPU cfs quota can not be less than 1ms (i.e. 1000)",
            ));
        }
        check_cpuset(&self.cpuset_cpus, &host.cpus, "cpus")?;
        check_cpuset(&self.cpuset_mems, &host.mems, "mems")
    }

    fn check_blkio(&mut self, host: &HostLimits, w: &mut Vec<String>) -> Result<()> {
        if self.blkio_weight > 0 && !(10..=1000).contains(&self.blkio_weight) {
            return Err(impossible("Range of blkio weight is from 10 to 1000"));
        }
        if self.blkio_weight > 0 && !host.blkio_weight {
            w.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
            self.blkio_weight = 0;
        }
        for d in self.throttle_lists().into_iter().flat_map(|(_, l)| l) {
            block_device(&d.path)?;
        }
        for d in &self.blkio_weight_device {
            block_device(&d.path)?;
        }
        if !self.blkio_weight_device.is_empty() && !host.blkio_weight {
            w.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".into());
            self.blkio_weight_device.clear();
        }
        Ok(())
    }

    fn throttle_lists(&self) -> [(&'static str, &Vec<ThrottleDevice>); 4] {
        [
            ("throttleReadBpsDevice", &self.device_read_bps),
            ("throttleWriteBpsDevice", &self.device_write_bps),
            ("throttleReadIOPSDevice", &self.device_read_iops),
            ("throttleWriteIOPSDevice", &self.device_write_iops),
        ]
    }

    /// The OCI `linux.resources` these limits are (without device rules);
    /// throttled devices are looked up again (they must still be block
    /// devices).
    pub fn linux_resources(&self) -> Result<Value> {
        let mut r = serde_json::Map::new();
        let mut mem = serde_json::Map::new();
        for (k, v) in [
            ("limit", self.memory),
            ("reservation", self.memory_reservation),
            ("swap", self.memory_swap),
            ("kernel", self.kernel_memory),
        ] {
            if v != 0 {
                mem.insert(k.into(), json!(v));
            }
        }
        if let Some(d) = self.oom_kill_disable {
            mem.insert("disableOOMKiller".into(), json!(d));
        }
        if let Some(v) = self.memory_swappiness {
            mem.insert("swappiness".into(), json!(v));
        }
        if !mem.is_empty() {
            r.insert("memory".into(), Value::Object(mem));
        }
        let mut cpu = serde_json::Map::new();
        let (period, quota) = match self.nano_cpus {
            0 => (self.cpu_period, self.cpu_quota),
            n => (100_000, n * 100_000 / 1_000_000_000),
        };
        if self.cpu_shares != 0 {
            cpu.insert("shares".into(), json!(self.cpu_shares));
        }
        if period != 0 {
            cpu.insert("period".into(), json!(period));
        }
        if quota != 0 {
            cpu.insert("quota".into(), json!(quota));
        }
        if !self.cpuset_cpus.is_empty() {
            cpu.insert("cpus".into(), json!(self.cpuset_cpus));
        }
        if !self.cpuset_mems.is_empty() {
            cpu.insert("mems".into(), json!(self.cpuset_mems));
        }
        if !cpu.is_empty() {
            r.insert("cpu".into(), Value::Object(cpu));
        }
        if let Some(p) = self.pids_limit {
            // 0 is "unlimited" to Docker; -1 to the runtime (so that an
            // update lifts an earlier limit)
            r.insert("pids".into(), json!({"limit": if p > 0 { p } else { -1 }}));
        }
        let mut blkio = serde_json::Map::new();
        if self.blkio_weight != 0 {
            blkio.insert("weight".into(), json!(self.blkio_weight));
        }
        if !self.blkio_weight_device.is_empty() {
            let mut out = Vec::new();
            for d in &self.blkio_weight_device {
                let (major, minor) = block_device(&d.path)?;
                out.push(json!({"major": major, "minor": minor, "weight": d.weight}));
            }
            blkio.insert("weightDevice".into(), Value::Array(out));
        }
        for (key, list) in self.throttle_lists() {
            if list.is_empty() {
                continue;
            }
            let mut out = Vec::new();
            for d in list {
                let (major, minor) = block_device(&d.path)?;
                out.push(json!({"major": major, "minor": minor, "rate": d.rate}));
            }
            blkio.insert(key.into(), Value::Array(out));
        }
        if !blkio.is_empty() {
            r.insert("blockIO".into(), Value::Object(blkio));
        }
        Ok(Value::Object(r))
    }

    /// Put these limits into a container's spec (JSON): `linux.resources`
    /// (beside its device rules), `process.oomScoreAdj`, the `/dev/shm`
    /// size, and the [`ANNOTATION`].
    pub fn apply(&self, spec: &mut Value) -> Result<()> {
        let res = self.linux_resources()?;
        let linux = &mut spec["linux"];
        if !linux["resources"].is_object() {
            linux["resources"] = json!({});
        }
        for k in ["memory", "cpu", "pids", "blockIO"] {
            match res.get(k) {
                Some(v) => linux["resources"][k] = v.clone(),
                None => {
                    if let Some(o) = linux["resources"].as_object_mut() {
                        o.remove(k);
                    }
                }
            }
        }
        spec["process"]["oomScoreAdj"] = json!(self.oom_score_adj);
        if self.shm_size > 0 {
            if let Some(mounts) = spec["mounts"].as_array_mut() {
                for m in mounts.iter_mut().filter(|m| m["destination"] == "/dev/shm") {
                    let mut opts: Vec<Value> = m["options"]
                        .as_array()
                        .map(|o| {
                            o.iter()
                                .filter(|o| !o.as_str().is_some_and(|s| s.starts_with("size=")))
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    opts.push(json!(format!("size={}", self.shm_size)));
                    m["options"] = Value::Array(opts);
                }
            }
        }
        spec["annotations"][ANNOTATION] = json!(serde_json::to_string(self).unwrap_or_default());
        Ok(())
    }

    /// The limits a spec keeps (its [`ANNOTATION`]; none when it has none).
    pub fn of_spec(spec: &Value) -> Resources {
        spec["annotations"][ANNOTATION]
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    /// These limits with those `delta` sets (Docker's `update`: a value not
    /// given is kept); Docker's refusals of contradictory updates.
    pub fn merged(&self, delta: &Resources) -> Result<Resources> {
        let mut r = self.clone();
        if delta.memory != 0 {
            if delta.memory > self.memory_swap && self.memory_swap > 0 && delta.memory_swap == 0 {
                return Err(impossible("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"));
            }
            r.memory = delta.memory;
        }
        let set = |to: &mut i64, v: i64| {
            if v != 0 {
                *to = v
            }
        };
        set(&mut r.memory_swap, delta.memory_swap);
        set(&mut r.memory_reservation, delta.memory_reservation);
        set(&mut r.kernel_memory, delta.kernel_memory);
        r.memory_swappiness = delta.memory_swappiness.or(r.memory_swappiness);
        if delta.nano_cpus != 0 {
            if self.cpu_period > 0 {
                return Err(impossible("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"));
            }
            if self.cpu_quota > 0 {
                return Err(impossible("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"));
            }
            r.nano_cpus = delta.nano_cpus;
        }
        if delta.cpu_period > 0 && self.nano_cpus > 0 {
            return Err(impossible("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"));
        }
        if delta.cpu_quota > 0 && self.nano_cpus > 0 {
            return Err(impossible(
                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
            ));
        }
        set(&mut r.cpu_period, delta.cpu_period);
        set(&mut r.cpu_quota, delta.cpu_quota);
        set(&mut r.cpu_shares, delta.cpu_shares);
        for (to, v) in [
            (&mut r.cpuset_cpus, &delta.cpuset_cpus),
            (&mut r.cpuset_mems, &delta.cpuset_mems),
        ] {
            if !v.is_empty() {
                to.clone_from(v);
            }
        }
        r.pids_limit = delta.pids_limit.or(r.pids_limit);
        if delta.blkio_weight != 0 {
            r.blkio_weight = delta.blkio_weight;
        }
        for (to, v) in [
            (&mut r.device_read_bps, &delta.device_read_bps),
            (&mut r.device_write_bps, &delta.device_write_bps),
            (&mut r.device_read_iops, &delta.device_read_iops),
            (&mut r.device_write_iops, &delta.device_write_iops),
        ] {
            if !v.is_empty() {
                to.clone_from(v);
            }
        }
        r.oom_kill_disable = delta.oom_kill_disable.or(r.oom_kill_disable);
        Ok(r)
    }
}

impl crate::Engine {
    /// `update`: merge `delta` into container `word`'s limits, check the
    /// whole against the host, apply it to the running container's cgroup
    /// (a container not running gets it when it starts), and save it in the
    /// container's spec.  Docker's warnings are returned.
    pub fn update_container(&self, word: &str, delta: &Resources) -> crate::Result<Vec<String>> {
        let c = self.container(word)?;
        let id = &c.record.id;
        let _guard = super::ContainerLock::take(&self.container_dir(id));
        let mut spec: Value = serde_json::from_str(&c.record.config)
            .map_err(|e| crate::Error::invalid("container config", id, e))?;
        let mut limits = Resources::of_spec(&spec).merged(delta)?;
        let warnings = limits.check(&HostLimits::probe(), true)?;
        if c.status == super::LiveStatus::Running {
            let res: oci_spec::runtime::LinuxResources =
                serde_json::from_value(limits.linux_resources()?)
                    .map_err(|e| crate::Error::invalid("resources", id, e))?;
            self.runtime().update(id, &res)?;
        }
        limits.apply(&mut spec)?;
        let config = serde_json::to_string(&spec)
            .map_err(|e| crate::Error::invalid("container config", id, e))?;
        self.state.set_container_config(id, &config)?;
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn weight_devices_parse_as_dockers() {
        let d = weight_device("/dev/sda:200").unwrap();
        assert_eq!((d.path.as_str(), d.weight), ("/dev/sda", 200));
        for bad in [
            "/dev/sda:5",
            "/dev/sda:1001",
            "/dev/sda:x",
            "sda:200",
            "/dev/sda",
        ] {
            let e = weight_device(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    use super::*;

    fn host() -> HostLimits {
        HostLimits {
            ncpu: 2,
            cpus: "0-1".into(),
            mems: "0".into(),
            memory_v2: false,
            swap_limit: true,
            blkio_weight: true,
        }
    }

    fn flags(f: impl FnOnce(&mut ResourceFlags)) -> Result<Resources> {
        let mut r = ResourceFlags::default();
        f(&mut r);
        r.parse()
    }

    fn checked(f: impl FnOnce(&mut ResourceFlags)) -> Result<(Resources, Vec<String>)> {
        let mut r = flags(f)?;
        let w = r.check(&host(), false)?;
        Ok((r, w))
    }

    fn err(f: impl FnOnce(&mut ResourceFlags)) -> String {
        let e = checked(f).unwrap_err().to_string();
        assert_eq!(e.lines().count(), 1, "{e}");
        e
    }

    #[test]
    fn sizes_parse_with_dockers_units_and_messages() {
        let r = flags(|f| {
            f.memory = Some("512m".into());
            f.memory_swap = Some("1g".into());
            f.memory_reservation = Some("100M".into());
            f.shm_size = Some("1048576".into());
        })
        .unwrap();
        assert_eq!(
            (r.memory, r.memory_swap, r.memory_reservation, r.shm_size),
            (512 << 20, 1 << 30, 100 << 20, 1 << 20)
        );
        assert_eq!(
            flags(|f| f.memory_swap = Some("-1".into()))
                .unwrap()
                .memory_swap,
            -1
        );
        assert_eq!(
            err(|f| f.memory = Some("abc".into())),
            r#"invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'"#
        );
        assert_eq!(
            err(|f| f.shm_size = Some("-1".into())),
            r#"invalid argument "-1" for "--shm-size" flag: invalid size: '-1'"#
        );
        assert!(err(|f| f.memory_swap = Some("-2".into())).contains("--memory-swap"));
        assert!(err(|f| f.memory_reservation = Some("1q".into())).contains("--memory-reservation"));
        assert!(err(|f| f.kernel_memory = Some("x".into())).contains("--kernel-memory"));
    }

    #[test]
    fn integers_have_gos_messages() {
        assert_eq!(
            err(|f| f.cpu_shares = Some("lots".into())),
            r#"invalid argument "lots" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "lots": invalid syntax"#
        );
        assert_eq!(
            err(|f| f.blkio_weight = Some("70000".into())),
            r#"invalid argument "70000" for "--blkio-weight" flag: strconv.ParseUint: parsing "70000": value out of range"#
        );
        assert!(err(|f| f.pids_limit = Some("-".into())).contains("invalid syntax"));
        assert!(err(|f| f.oom_score_adj = Some("1.5".into())).contains("--oom-score-adj"));
        assert!(err(|f| f.cpu_period = Some("x".into())).contains("--cpu-period"));
        assert!(err(|f| f.cpu_quota = Some("x".into())).contains("--cpu-quota"));
    }

    #[test]
    fn cpus_are_nano_cpus_and_a_quota_per_100ms() {
        for (s, want) in [
            ("1.5", 1_500_000_000),
            ("2", 2_000_000_000),
            (".5", 500_000_000),
            ("0.01", 10_000_000),
            ("1.000000000", 1_000_000_000),
        ] {
            assert_eq!(parse_cpus(s), Ok(want), "{s}");
        }
        assert_eq!(
            parse_cpus("abc").unwrap_err().to_string(),
            r#"invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number"#
        );
        assert!(parse_cpus("0.0000000001")
            .unwrap_err()
            .to_string()
            .contains("too precise"));
        assert!(parse_cpus("-1").is_err());
        let (r, _) = checked(|f| f.cpus = Some("1.5".into())).unwrap();
        let l = r.linux_resources().unwrap();
        assert_eq!(l["cpu"], json!({"period": 100_000, "quota": 150_000}));
        assert_eq!(
            err(|f| f.cpus = Some("3".into())),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        assert!(err(|f| f.cpus = Some("0.001".into())).starts_with("Range of CPUs"));
        assert_eq!(
            err(|f| {
                f.cpus = Some("1".into());
                f.cpu_quota = Some("50000".into());
            }),
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        );
        assert!(err(|f| {
            f.cpus = Some("1".into());
            f.cpu_period = Some("50000".into());
        })
        .contains("CPU Period cannot both be set"));
    }

    #[test]
    fn memory_rules_are_dockers() {
        assert_eq!(
            err(|f| f.memory = Some("4m".into())),
            "Minimum memory limit allowed is 6MB"
        );
        assert_eq!(
            err(|f| {
                f.memory = Some("100m".into());
                f.memory_swap = Some("50m".into());
            }),
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        );
        assert_eq!(
            err(|f| f.memory_swap = Some("50m".into())),
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        );
        assert_eq!(
            err(|f| f.memory_reservation = Some("1m".into())),
            "Minimum memory reservation allowed is 6MB"
        );
        assert_eq!(
            err(|f| {
                f.memory = Some("10m".into());
                f.memory_reservation = Some("20m".into());
            }),
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        );
        assert_eq!(
            err(|f| f.kernel_memory = Some("1m".into())),
            "Minimum kernel memory limit allowed is 4MB"
        );
    }

    #[test]
    fn swap_defaults_and_what_the_host_cannot_limit() {
        // swap defaults to twice the memory; -1 is unlimited
        let (r, w) = checked(|f| f.memory = Some("100m".into())).unwrap();
        assert_eq!((r.memory_swap, w.len()), (200 << 20, 0));
        let (r, _) = checked(|f| {
            f.memory = Some("100m".into());
            f.memory_swap = Some("-1".into());
        })
        .unwrap();
        assert_eq!(
            r.linux_resources().unwrap()["memory"],
            json!({"limit": 100 << 20, "swap": -1})
        );
        // without swap accounting: memory only, with Docker's warning
        let mut r = flags(|f| f.memory = Some("100m".into())).unwrap();
        let w = r
            .check(
                &HostLimits {
                    swap_limit: false,
                    ..host()
                },
                false,
            )
            .unwrap();
        assert_eq!(r.memory_swap, -1);
        assert!(w[0].contains("swap limit"), "{w:?}");
        // v2: kernel memory and the OOM-killer switch are dropped, warned
        let mut r = flags(|f| {
            f.kernel_memory = Some("50m".into());
            f.oom_kill_disable = true;
        })
        .unwrap();
        let v2 = HostLimits {
            memory_v2: true,
            ..host()
        };
        let w = r.check(&v2, false).unwrap();
        assert_eq!((r.kernel_memory, r.oom_kill_disable), (0, Some(false)));
        assert_eq!(w.len(), 2, "{w:?}");
        let (r, _) = checked(|f| f.memory_swappiness = Some("10".into())).unwrap();
        assert_eq!(
            r.linux_resources().unwrap()["memory"],
            json!({"swappiness": 10})
        );
        let (r, _) = checked(|f| f.memory_swappiness = Some("-1".into())).unwrap();
        assert_eq!(r.memory_swappiness, None);
        assert_eq!(
            err(|f| f.memory_swappiness = Some("101".into())),
            "Invalid value: 101, valid memory swappiness range is 0-100"
        );
        let mut r = flags(|f| f.memory_swappiness = Some("0".into())).unwrap();
        assert_eq!(r.check(&v2, false).unwrap().len(), 1);
        assert_eq!(r.memory_swappiness, None);
        let (r, w) = checked(|f| f.oom_kill_disable = true).unwrap();
        assert_eq!(
            r.linux_resources().unwrap()["memory"]["disableOOMKiller"],
            true
        );
        assert!(w[0].contains("no memory limit is set"), "{w:?}");
    }

    #[test]
    fn cpu_rules_are_dockers() {
        let (r, w) = checked(|f| f.cpu_shares = Some("1".into())).unwrap();
        assert_eq!(r.cpu_shares, 2);
        assert_eq!(
            w,
            ["Changing requested CPUShares of 1 to minimum allowed of 2"]
        );
        let (r, _) = checked(|f| f.cpu_shares = Some("300000".into())).unwrap();
        assert_eq!(r.cpu_shares, 262_144);
        assert!(err(|f| f.cpu_period = Some("999".into()))
            .starts_with("CPU cfs period can not be less than 1ms"));
        assert!(err(|f| f.cpu_period = Some("1000001".into())).contains("larger than 1s"));
        assert_eq!(
            err(|f| f.cpu_quota = Some("999".into())),
            "CPU cfs quota can not be less than 1ms (i.e. 1000)"
        );
        let (r, _) = checked(|f| {
            f.cpu_period = Some("50000".into());
            f.cpu_quota = Some("25000".into());
            f.cpuset_cpus = Some("0-1".into());
            f.cpuset_mems = Some("0".into());
            f.cpu_shares = Some("512".into());
        })
        .unwrap();
        assert_eq!(
            r.linux_resources().unwrap()["cpu"],
            json!({"shares": 512, "period": 50000, "quota": 25000, "cpus": "0-1", "mems": "0"})
        );
        assert_eq!(
            err(|f| f.cpuset_cpus = Some("0-3".into())),
            "Requested CPUs are not available - requested 0-3, available: 0-1"
        );
        assert_eq!(
            err(|f| f.cpuset_cpus = Some("1-x".into())),
            "Invalid value 1-x for cpuset cpus: invalid format: 1-x"
        );
        assert_eq!(
            err(|f| f.cpuset_mems = Some("1".into())),
            "Requested memory nodes are not available - requested 1, available: 0"
        );
        assert!(err(|f| f.cpuset_mems = Some("a".into()))
            .starts_with("Invalid value a for cpuset mems"));
    }

    #[test]
    fn cpuset_lists_parse() {
        assert_eq!(parse_list("0-2,4").unwrap(), BTreeSet::from([0, 1, 2, 4]));
        assert_eq!(parse_list("").unwrap(), BTreeSet::new());
        for bad in ["2-1", "a", "1,", "-1", "1--2"] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pids_blkio_oom_score_and_shm() {
        let (r, _) = checked(|f| f.pids_limit = Some("-1".into())).unwrap();
        assert_eq!(r.pids_limit, Some(0));
        assert_eq!(r.linux_resources().unwrap()["pids"], json!({"limit": -1}));
        let (r, _) = checked(|f| f.pids_limit = Some("20".into())).unwrap();
        assert_eq!(r.linux_resources().unwrap()["pids"], json!({"limit": 20}));
        assert_eq!(
            err(|f| f.blkio_weight = Some("5".into())),
            "Range of blkio weight is from 10 to 1000"
        );
        assert!(err(|f| f.blkio_weight = Some("1001".into())).starts_with("Range of blkio"));
        let mut r = flags(|f| f.blkio_weight = Some("500".into())).unwrap();
        let w = r
            .check(
                &HostLimits {
                    blkio_weight: false,
                    ..host()
                },
                false,
            )
            .unwrap();
        assert_eq!((r.blkio_weight, w.len()), (0, 1));
        assert_eq!(
            err(|f| f.oom_score_adj = Some("1001".into())),
            "Invalid value 1001, range for oom score adj is [-1000, 1000]"
        );
        let (r, _) = checked(|_| {}).unwrap();
        assert_eq!(r.shm_size, DEFAULT_SHM_SIZE);
        assert_eq!(r.linux_resources().unwrap(), json!({}));
    }

    #[test]
    fn device_throttles_need_a_block_device() {
        let bad_rate = err(|f| f.device_read_bps = vec!["/dev/sda:fast".into()]);
        assert_eq!(
            bad_rate,
            r#"invalid argument "/dev/sda:fast" for "--device-read-bps" flag: invalid rate for device: /dev/sda:fast. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"#
        );
        assert!(err(|f| f.device_write_iops = vec!["/dev/sda:1k".into()])
            .ends_with("<device-path>:<number>. Number must be a positive integer"));
        assert!(
            err(|f| f.device_write_bps = vec!["nocolon".into()]).ends_with("bad format: nocolon")
        );
        assert!(err(|f| f.device_read_iops = vec!["sda:5".into()])
            .ends_with("bad format for device path: sda:5"));
        assert_eq!(
            err(|f| f.device_read_bps = vec!["/dev/nook-nope:1m".into()]),
            "stat /dev/nook-nope: no such file or directory"
        );
        assert_eq!(
            err(|f| f.device_read_bps = vec!["/dev/null:1m".into()]),
            "/dev/null is not a block device"
        );
        let r = flags(|f| f.device_read_bps = vec!["/dev/x:1mb".into()]).unwrap();
        assert_eq!(
            r.device_read_bps,
            vec![ThrottleDevice {
                path: "/dev/x".into(),
                rate: 1 << 20
            }]
        );
        let r = flags(|f| f.device_write_iops = vec!["/dev/x:300".into()]).unwrap();
        assert_eq!(r.device_write_iops[0].rate, 300);
    }

    #[test]
    fn the_spec_gets_resources_oom_score_shm_and_the_annotation() {
        let (r, _) = checked(|f| {
            f.memory = Some("64m".into());
            f.pids_limit = Some("10".into());
            f.oom_score_adj = Some("-500".into());
            f.shm_size = Some("1g".into());
        })
        .unwrap();
        let mut spec = json!({
            "process": {"args": ["sh"]},
            "mounts": [{"destination": "/dev/shm", "type": "tmpfs", "options": ["nosuid", "size=65536k"]}],
            "linux": {"resources": {"devices": [{"allow": false, "access": "rwm"}]}},
        });
        r.apply(&mut spec).unwrap();
        assert_eq!(spec["linux"]["resources"]["devices"][0]["allow"], false);
        assert_eq!(spec["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(spec["linux"]["resources"]["pids"]["limit"], 10);
        assert_eq!(spec["process"]["oomScoreAdj"], -500);
        assert_eq!(
            spec["mounts"][0]["options"],
            json!(["nosuid", "size=1073741824"])
        );
        assert_eq!(Resources::of_spec(&spec), r);
        let shown = serde_json::to_value(&r).unwrap();
        for k in [
            "Memory",
            "MemorySwap",
            "NanoCpus",
            "CpuShares",
            "PidsLimit",
            "ShmSize",
            "BlkioDeviceReadBps",
            "OomScoreAdj",
        ] {
            assert!(shown.get(k).is_some(), "{k}: {shown}");
        }
    }

    #[test]
    fn updates_merge_as_dockers() {
        let (cur, _) = checked(|f| {
            f.memory = Some("100m".into());
            f.cpus = Some("1".into());
            f.pids_limit = Some("10".into());
        })
        .unwrap();
        let delta = flags(|f| f.memory = Some("150m".into())).unwrap();
        let m = cur.merged(&delta).unwrap();
        assert_eq!(
            (m.memory, m.memory_swap, m.pids_limit),
            (150 << 20, 200 << 20, Some(10))
        );
        let delta = flags(|f| f.memory = Some("300m".into())).unwrap();
        assert!(cur
            .merged(&delta)
            .unwrap_err()
            .to_string()
            .starts_with("Memory limit should be smaller"));
        let delta = flags(|f| f.cpu_quota = Some("5000".into())).unwrap();
        assert!(cur
            .merged(&delta)
            .unwrap_err()
            .to_string()
            .contains("NanoCPUs has already been set"));
        let delta = flags(|f| {
            f.memory = Some("300m".into());
            f.memory_swap = Some("600m".into());
            f.pids_limit = Some("0".into());
        })
        .unwrap();
        let mut m = cur.merged(&delta).unwrap();
        m.check(&host(), true).unwrap();
        assert_eq!(
            (m.memory, m.memory_swap, m.pids_limit, m.nano_cpus),
            (300 << 20, 600 << 20, Some(0), 1_000_000_000)
        );
    }
}
