//! `linux.resources` as cgroup file writes, for v1 and for v2.
//!
//! These are pure functions: they decide *what* to write (and reject what no
//! version can express), and [`crate::cgroup`] decides *where* — the v1
//! hierarchy or the v2 hierarchy that carries each controller.

use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxThrottleDevice};

use crate::{CgroupError, Result};

/// One value for one cgroup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Controller, by its v1 name (`blkio` also for v2 `io`).
    pub controller: &'static str,
    /// File name; the first of these that exists is written.
    pub files: Vec<String>,
    /// Value to write.
    pub value: String,
    /// A failure is a warning, not an error (deprecated knobs that newer
    /// kernels refuse, such as kernel memory limits).
    pub best_effort: bool,
}

fn w(controller: &'static str, file: impl Into<String>, value: impl ToString) -> Write {
    Write {
        controller,
        files: vec![file.into()],
        value: value.to_string(),
        best_effort: false,
    }
}

/// The controller name on v2 of a logical (v1-named) controller.
pub fn v2_name(controller: &str) -> &str {
    match controller {
        "blkio" => "io",
        other => other,
    }
}

fn invalid(controller: &str, msg: impl Into<String>) -> CgroupError {
    CgroupError::Invalid {
        controller: controller.into(),
        msg: msg.into(),
    }
}

fn unsupported(controller: &str, msg: impl Into<String>) -> CgroupError {
    CgroupError::Unsupported {
        controller: controller.into(),
        msg: msg.into(),
    }
}

/// Writes for a cgroup v1 hierarchy set.  Device rules are handled by
/// [`crate::devices`], `unified` is rejected by the caller on pure v1.
pub fn v1_writes(r: &LinuxResources) -> Result<Vec<Write>> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(v) = m.limit().filter(|v| *v != 0) {
            out.push(w("memory", "memory.limit_in_bytes", v));
        }
        if let Some(v) = m.swap().filter(|v| *v != 0) {
            if let Some(l) = m.limit().filter(|l| *l > 0) {
                if v > 0 && v < l {
                    return Err(invalid(
                        "memory",
                        format!("swap ({v}) must not be below the memory limit ({l})"),
                    ));
                }
            }
            out.push(w("memory", "memory.memsw.limit_in_bytes", v));
        }
        if let Some(v) = m.reservation().filter(|v| *v != 0) {
            out.push(w("memory", "memory.soft_limit_in_bytes", v));
        }
        if let Some(v) = m.kernel().filter(|v| *v != 0) {
            out.push(Write {
                best_effort: true,
                ..w("memory", "memory.kmem.limit_in_bytes", v)
            });
        }
        if let Some(v) = m.kernel_tcp().filter(|v| *v != 0) {
            out.push(w("memory", "memory.kmem.tcp.limit_in_bytes", v));
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                return Err(invalid(
                    "memory",
                    format!("swappiness {v} is not in 0..=100"),
                ));
            }
            out.push(w("memory", "memory.swappiness", v));
        }
        if m.disable_oom_killer() == Some(true) {
            out.push(w("memory", "memory.oom_control", 1));
        }
        if let Some(h) = m.use_hierarchy() {
            out.push(Write {
                best_effort: true,
                ..w("memory", "memory.use_hierarchy", u8::from(h))
            });
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(v) = c.shares().filter(|v| *v != 0) {
            out.push(w("cpu", "cpu.shares", v));
        }
        if let Some(v) = c.period().filter(|v| *v != 0) {
            out.push(w("cpu", "cpu.cfs_period_us", v));
        }
        if let Some(v) = c.quota().filter(|v| *v != 0) {
            out.push(w("cpu", "cpu.cfs_quota_us", v));
        }
        if let Some(v) = c.burst() {
            out.push(w("cpu", "cpu.cfs_burst_us", v));
        }
        if let Some(v) = c.realtime_period().filter(|v| *v != 0) {
            out.push(w("cpu", "cpu.rt_period_us", v));
        }
        if let Some(v) = c.realtime_runtime().filter(|v| *v != 0) {
            out.push(w("cpu", "cpu.rt_runtime_us", v));
        }
        if let Some(v) = c.idle() {
            out.push(w("cpu", "cpu.idle", v));
        }
        push_cpuset(&mut out, c.cpus().as_deref(), c.mems().as_deref());
    }
    if let Some(p) = r.pids() {
        if p.limit() != 0 {
            out.push(w("pids", "pids.max", pids_value(p.limit())));
        }
    }
    if let Some(b) = r.block_io() {
        v1_blkio(&mut out, b);
    }
    if let Some(h) = r.hugepage_limits() {
        for l in h {
            check_page_size(l.page_size())?;
            out.push(w(
                "hugetlb",
                format!("hugetlb.{}.limit_in_bytes", l.page_size()),
                l.limit(),
            ));
        }
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            out.push(w("net_cls", "net_cls.classid", id));
        }
        for p in n.priorities().iter().flatten() {
            out.push(w(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            ));
        }
    }
    push_rdma(&mut out, r);
    Ok(out)
}

fn push_cpuset(out: &mut Vec<Write>, cpus: Option<&str>, mems: Option<&str>) {
    if let Some(v) = cpus.filter(|v| !v.is_empty()) {
        out.push(w("cpuset", "cpuset.cpus", v));
    }
    if let Some(v) = mems.filter(|v| !v.is_empty()) {
        out.push(w("cpuset", "cpuset.mems", v));
    }
}

fn push_rdma(out: &mut Vec<Write>, r: &LinuxResources) {
    if let Some(rd) = r.rdma() {
        let mut names: Vec<&String> = rd.keys().collect();
        names.sort();
        for name in names {
            let v = &rd[name];
            let mut s = name.clone();
            if let Some(h) = v.hca_handles() {
                s.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = v.hca_objects() {
                s.push_str(&format!(" hca_object={o}"));
            }
            out.push(w("rdma", "rdma.max", s));
        }
    }
}

fn pids_value(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".into()
    }
}

fn check_page_size(s: &str) -> Result<()> {
    let ok = s.len() > 2
        && s.ends_with('B')
        && s[..s.len() - 2].chars().all(|c| c.is_ascii_digit())
        && matches!(&s[s.len() - 2..s.len() - 1], "K" | "M" | "G");
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "hugetlb",
            format!("page size {s:?} is not like 2MB or 1GB"),
        ))
    }
}

fn throttle(out: &mut Vec<Write>, file: &str, list: &Option<Vec<LinuxThrottleDevice>>) {
    for d in list.iter().flatten() {
        out.push(w(
            "blkio",
            file,
            format!("{}:{} {}", d.major(), d.minor(), d.rate()),
        ));
    }
}

fn v1_blkio(out: &mut Vec<Write>, b: &LinuxBlockIo) {
    let alt = |ctl: &'static str, a: &str, b: &str, v: String| Write {
        controller: ctl,
        files: vec![a.into(), b.into()],
        value: v,
        best_effort: false,
    };
    if let Some(v) = b.weight().filter(|v| *v != 0) {
        out.push(alt(
            "blkio",
            "blkio.weight",
            "blkio.bfq.weight",
            v.to_string(),
        ));
    }
    if let Some(v) = b.leaf_weight().filter(|v| *v != 0) {
        out.push(w("blkio", "blkio.leaf_weight", v));
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(v) = d.weight() {
            out.push(alt(
                "blkio",
                "blkio.weight_device",
                "blkio.bfq.weight_device",
                format!("{}:{} {v}", d.major(), d.minor()),
            ));
        }
        if let Some(v) = d.leaf_weight() {
            out.push(w(
                "blkio",
                "blkio.leaf_weight_device",
                format!("{}:{} {v}", d.major(), d.minor()),
            ));
        }
    }
    throttle(
        out,
        "blkio.throttle.read_bps_device",
        b.throttle_read_bps_device(),
    );
    throttle(
        out,
        "blkio.throttle.write_bps_device",
        b.throttle_write_bps_device(),
    );
    throttle(
        out,
        "blkio.throttle.read_iops_device",
        b.throttle_read_iops_device(),
    );
    throttle(
        out,
        "blkio.throttle.write_iops_device",
        b.throttle_write_iops_device(),
    );
}

/// cgroup v1 `cpu.shares` (2..262144) to v2 `cpu.weight` (1..10000), the
/// conversion runc and crun use.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// cgroup v1 blkio weight (10..1000) to v2 `io.weight` (1..10000).
pub fn blkio_weight_to_io(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    let w = (weight as u64).clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

/// The v2 `memory.swap.max` for a spec's memory+swap total.
pub fn swap_to_v2(swap: i64, limit: i64) -> Result<Option<String>> {
    match (swap, limit) {
        (0, _) => Ok(None),
        (-1, _) => Ok(Some("max".into())),
        (s, 0) if s > 0 => Err(invalid(
            "memory",
            "a swap limit needs a memory limit on cgroup v2",
        )),
        (_, -1) => Err(invalid(
            "memory",
            "a swap limit needs a finite memory limit on cgroup v2",
        )),
        (s, l) if s < l => Err(invalid(
            "memory",
            format!("swap ({s}) must not be below the memory limit ({l})"),
        )),
        (s, l) => Ok(Some((s - l).to_string())),
    }
}

fn v2_num(v: i64) -> String {
    if v == -1 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Writes for the cgroup v2 hierarchy.  `io_bfq` says whether the cgroup has
/// `io.bfq.weight` (weights are then written unconverted, as BFQ takes them).
pub fn v2_writes(r: &LinuxResources, io_bfq: bool) -> Result<Vec<Write>> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        let limit = m.limit().unwrap_or(0);
        if let Some(s) = swap_to_v2(m.swap().unwrap_or(0), limit)? {
            // Without swap support the file is missing: "no swap" and
            // "unlimited swap" then hold anyway (as runc treats them).
            let best_effort = s == "0" || s == "max";
            out.push(Write {
                best_effort,
                ..w("memory", "memory.swap.max", s)
            });
        }
        if limit != 0 {
            out.push(w("memory", "memory.max", v2_num(limit)));
        }
        if let Some(v) = m.reservation().filter(|v| *v != 0) {
            out.push(w("memory", "memory.low", v2_num(v)));
        }
        // kernel, kernelTCP, swappiness, disableOOMKiller and useHierarchy
        // have no v2 counterpart; the caller warns about them.
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|v| *v != 0) {
            out.push(w("cpu", "cpu.weight", shares_to_weight(s)));
        }
        let quota = c.quota().filter(|v| *v != 0);
        let period = c.period().filter(|v| *v != 0);
        if quota.is_some() || period.is_some() {
            let q = match quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".into(),
            };
            out.push(w(
                "cpu",
                "cpu.max",
                format!("{q} {}", period.unwrap_or(100_000)),
            ));
        }
        if let Some(b) = c.burst() {
            out.push(w("cpu", "cpu.max.burst", b));
        }
        if let Some(i) = c.idle() {
            out.push(w("cpu", "cpu.idle", i));
        }
        if c.realtime_runtime().is_some_and(|v| v != 0)
            || c.realtime_period().is_some_and(|v| v != 0)
        {
            return Err(unsupported(
                "cpu",
                "realtime runtime/period are not available on cgroup v2",
            ));
        }
        push_cpuset(&mut out, c.cpus().as_deref(), c.mems().as_deref());
    }
    if let Some(p) = r.pids() {
        if p.limit() != 0 {
            out.push(w("pids", "pids.max", pids_value(p.limit())));
        }
    }
    if let Some(b) = r.block_io() {
        let weight_file = if io_bfq { "io.bfq.weight" } else { "io.weight" };
        let conv = |v: u16| {
            if io_bfq {
                v as u64
            } else {
                blkio_weight_to_io(v)
            }
        };
        if let Some(v) = b.weight().filter(|v| *v != 0) {
            out.push(w("blkio", weight_file, conv(v)));
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(v) = d.weight() {
                out.push(w(
                    "blkio",
                    weight_file,
                    format!("{}:{} {}", d.major(), d.minor(), conv(v)),
                ));
            }
        }
        for (key, list) in [
            ("rbps", b.throttle_read_bps_device()),
            ("wbps", b.throttle_write_bps_device()),
            ("riops", b.throttle_read_iops_device()),
            ("wiops", b.throttle_write_iops_device()),
        ] {
            for d in list.iter().flatten() {
                let rate = if d.rate() == 0 {
                    "max".to_string()
                } else {
                    d.rate().to_string()
                };
                out.push(w(
                    "blkio",
                    "io.max",
                    format!("{}:{} {key}={rate}", d.major(), d.minor()),
                ));
            }
        }
    }
    if let Some(h) = r.hugepage_limits() {
        for l in h {
            check_page_size(l.page_size())?;
            out.push(w(
                "hugetlb",
                format!("hugetlb.{}.max", l.page_size()),
                v2_num(l.limit()),
            ));
        }
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(unsupported(
                "net_cls/net_prio",
                "network classID and priorities exist only on cgroup v1",
            ));
        }
    }
    push_rdma(&mut out, r);
    Ok(out)
}

/// Keys of `linux.resources.unified` checked and ordered; each key must be a
/// plain file name (`memory.high`), never a path.
pub fn unified_writes(r: &LinuxResources) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(u) = r.unified() {
        for (k, v) in u {
            if k.is_empty() || k.contains('/') || k.starts_with('.') || !k.contains('.') {
                return Err(invalid(
                    "unified",
                    format!("{k:?} is not a cgroup v2 file name"),
                ));
            }
            if k.starts_with("cgroup.") {
                return Err(invalid(
                    "unified",
                    format!("{k:?}: core cgroup files cannot be set"),
                ));
            }
            out.push((k.clone(), v.clone()));
        }
    }
    out.sort();
    Ok(out)
}

/// Settings the spec has that v2 silently lacks, for a warning.
pub fn v2_ignored(r: &LinuxResources) -> Vec<&'static str> {
    let mut v = Vec::new();
    if let Some(m) = r.memory() {
        if m.kernel().is_some_and(|x| x != 0) {
            v.push("memory.kernel");
        }
        if m.kernel_tcp().is_some_and(|x| x != 0) {
            v.push("memory.kernelTCP");
        }
        if m.swappiness().is_some() {
            v.push("memory.swappiness");
        }
        if m.disable_oom_killer() == Some(true) {
            v.push("memory.disableOOMKiller");
        }
    }
    if r.block_io()
        .as_ref()
        .is_some_and(|b| b.leaf_weight().is_some())
    {
        v.push("blockIO.leafWeight");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(j: &str) -> LinuxResources {
        serde_json::from_str(j).unwrap()
    }

    fn find<'a>(ws: &'a [Write], file: &str) -> Option<&'a Write> {
        ws.iter().find(|w| w.files[0] == file)
    }

    #[test]
    fn v1_memory_cpu_pids() {
        let r = res(
            r#"{"memory":{"limit":33554432,"swap":67108864,"reservation":1000,"swappiness":10,"disableOOMKiller":true},
                        "cpu":{"shares":512,"quota":20000,"period":100000,"cpus":"0","mems":"0"},
                        "pids":{"limit":16}}"#,
        );
        let ws = v1_writes(&r).unwrap();
        assert_eq!(
            find(&ws, "memory.limit_in_bytes").unwrap().value,
            "33554432"
        );
        assert_eq!(
            find(&ws, "memory.memsw.limit_in_bytes").unwrap().value,
            "67108864"
        );
        assert_eq!(
            find(&ws, "memory.soft_limit_in_bytes").unwrap().value,
            "1000"
        );
        assert_eq!(find(&ws, "memory.oom_control").unwrap().value, "1");
        assert_eq!(find(&ws, "cpu.shares").unwrap().value, "512");
        assert_eq!(find(&ws, "cpu.cfs_quota_us").unwrap().value, "20000");
        assert_eq!(find(&ws, "cpuset.cpus").unwrap().controller, "cpuset");
        assert_eq!(find(&ws, "pids.max").unwrap().value, "16");
        // period is written before quota
        let p = ws
            .iter()
            .position(|w| w.files[0] == "cpu.cfs_period_us")
            .unwrap();
        let q = ws
            .iter()
            .position(|w| w.files[0] == "cpu.cfs_quota_us")
            .unwrap();
        assert!(p < q);
    }

    #[test]
    fn v1_rejects_bad_values() {
        assert!(v1_writes(&res(r#"{"memory":{"limit":100,"swap":50}}"#)).is_err());
        assert!(v1_writes(&res(r#"{"memory":{"swappiness":101}}"#)).is_err());
        assert!(v1_writes(&res(r#"{"hugepageLimits":[{"pageSize":"2XB","limit":1}]}"#)).is_err());
    }

    #[test]
    fn v1_blkio_hugetlb_net() {
        let r = res(
            r#"{"blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]},
                        "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
                        "network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]}}"#,
        );
        let ws = v1_writes(&r).unwrap();
        assert_eq!(
            find(&ws, "blkio.weight").unwrap().files,
            vec!["blkio.weight", "blkio.bfq.weight"]
        );
        assert_eq!(
            find(&ws, "blkio.throttle.read_bps_device").unwrap().value,
            "8:0 1048576"
        );
        assert_eq!(
            find(&ws, "hugetlb.2MB.limit_in_bytes").unwrap().value,
            "4194304"
        );
        assert_eq!(find(&ws, "net_cls.classid").unwrap().value, "1048577");
        assert_eq!(find(&ws, "net_prio.ifpriomap").unwrap().value, "eth0 5");
    }

    #[test]
    fn v2_conversions() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_weight_to_io(10), 1);
        assert_eq!(blkio_weight_to_io(1000), 10_000);
        assert_eq!(swap_to_v2(-1, 100).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_to_v2(300, 100).unwrap().as_deref(), Some("200"));
        assert!(swap_to_v2(50, 100).is_err());
        assert!(swap_to_v2(50, 0).is_err());
    }

    #[test]
    fn v2_writes_map() {
        let r = res(
            r#"{"memory":{"limit":33554432,"swap":-1},"cpu":{"shares":1024,"quota":20000,"period":100000},
                        "pids":{"limit":-1},"blockIO":{"weight":10,"throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":100}]},
                        "hugepageLimits":[{"pageSize":"2MB","limit":-1}]}"#,
        );
        let ws = v2_writes(&r, false).unwrap();
        assert_eq!(find(&ws, "memory.max").unwrap().value, "33554432");
        assert_eq!(find(&ws, "memory.swap.max").unwrap().value, "max");
        assert_eq!(find(&ws, "cpu.weight").unwrap().value, "39");
        assert_eq!(find(&ws, "cpu.max").unwrap().value, "20000 100000");
        assert_eq!(find(&ws, "pids.max").unwrap().value, "max");
        assert_eq!(find(&ws, "io.weight").unwrap().value, "1");
        assert_eq!(find(&ws, "io.max").unwrap().value, "8:0 wiops=100");
        assert_eq!(find(&ws, "hugetlb.2MB.max").unwrap().value, "max");
        let ws = v2_writes(&res(r#"{"cpu":{"period":50000}}"#), false).unwrap();
        assert_eq!(find(&ws, "cpu.max").unwrap().value, "max 50000");
        assert!(v2_writes(&res(r#"{"network":{"classID":1}}"#), false).is_err());
        assert!(v2_writes(&res(r#"{"cpu":{"realtimeRuntime":100}}"#), false).is_err());
    }

    #[test]
    fn unified_keys_checked() {
        assert!(unified_writes(&res(r#"{"unified":{"memory.high":"100"}}"#)).is_ok());
        assert!(unified_writes(&res(r#"{"unified":{"../memory.high":"1"}}"#)).is_err());
        assert!(unified_writes(&res(r#"{"unified":{"cgroup.procs":"1"}}"#)).is_err());
        assert!(unified_writes(&res(r#"{"unified":{"memoryhigh":"1"}}"#)).is_err());
    }
}
