//! `nook-bench`: OCI runtimes measured side by side — lifecycle latency,
//! exec, peak RSS, memory charged to a cgroup, parallel throughput and the
//! cost of a seccomp profile — round-robin within every round, on identical
//! bundles, with a leak check after every scenario.
//!
//! Modules: [`args`] (command line), [`host`] (private mount namespace,
//! cgroup hierarchies, the benchmark's cgroup base), [`bundle`] (rootfs and
//! config.json), [`runner`] (one timed runtime command), [`stats`].

pub mod args;
pub mod bundle;
pub mod host;
pub mod runner;
pub mod stats;
pub mod syscalls;

use anyhow::{bail, Context, Result};
use args::{Options, Scenario};
use host::Cgroups;
use runner::{Launcher, Procs, Runtime};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set by SIGINT/SIGTERM: stop after the current sample and clean up.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// How long a container may take to exit before the sample fails.
const EXIT_LIMIT: Duration = Duration::from_secs(30);

/// One metric of one scenario: samples per runtime (same order as the
/// runtimes).
struct Metric {
    name: String,
    unit: &'static str,
    samples: Vec<Vec<f64>>,
}

impl Metric {
    fn new(name: &str, unit: &'static str, runtimes: usize) -> Metric {
        Metric {
            name: name.into(),
            unit,
            samples: vec![Vec::new(); runtimes],
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

/// A benchmark run: the runtimes, their scratch space and what is live.
struct Bench {
    opts: Options,
    runtimes: Vec<Runtime>,
    baseline: usize,
    cg: Cgroups,
    scratch: PathBuf,
    rootfs: PathBuf,
    bundles: PathBuf,
    /// Containers that may exist: (runtime, id).
    live: Mutex<Vec<(usize, String)>>,
    seq: AtomicUsize,
    mounts_before: usize,
    launcher: Launcher,
}

/// How a runtime command is started.
#[derive(Clone, Copy)]
enum Via {
    /// Spawned by the benchmark (its stderr file named by the slot).
    Direct(usize),
    /// Spawned by the benchmark into the memory cgroup whose open
    /// `cgroup.procs` this is.
    Cgroup(i32),
    /// Spawned by the launcher (for a true `ru_maxrss`).
    Launcher,
}

fn mount_count() -> usize {
    fs::read_to_string("/proc/self/mountinfo")
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

impl Bench {
    /// A fresh container of runtime `i`: id and bundle dir (config written).
    fn prepare(
        &self,
        i: usize,
        tag: &str,
        args: &[&str],
        seccomp: bool,
    ) -> Result<(String, PathBuf)> {
        let id = format!(
            "nb-{tag}-{}-{}",
            self.runtimes[i].name,
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let cgpath = format!("{}/{id}", self.cg.base);
        let cfg = bundle::config(&self.rootfs, args, &cgpath, seccomp);
        let dir = bundle::write_bundle(&self.bundles, &id, &cfg)?;
        self.live.lock().unwrap().push((i, id.clone()));
        Ok((id, dir))
    }

    /// The container is gone: forget it and its bundle.
    fn finish(&self, i: usize, id: &str) {
        self.live
            .lock()
            .unwrap()
            .retain(|(j, x)| !(*j == i && x == id));
        let _ = fs::remove_dir_all(self.bundles.join(id));
    }

    /// Calls `f(runtime, record)` for warm-up then measured rounds, every
    /// runtime once per round, the order rotating each round.
    fn rounds(
        &self,
        warmup: usize,
        n: usize,
        mut f: impl FnMut(usize, bool) -> Result<()>,
    ) -> Result<()> {
        let r = self.runtimes.len();
        for round in 0..warmup + n {
            for k in 0..r {
                if STOP.load(Ordering::SeqCst) {
                    bail!("interrupted");
                }
                f((k + round) % r, round >= warmup)?;
            }
        }
        Ok(())
    }

    /// Runs one command of runtime `i`; fails unless it exits 0.
    fn cmd(&self, i: usize, args: &[&str], via: Via) -> Result<runner::Cost> {
        let rt = &self.runtimes[i];
        match via {
            Via::Direct(slot) => rt.run(args, None, slot),
            Via::Cgroup(fd) => rt.run(args, Some(fd), 0),
            Via::Launcher => {
                let err = self.scratch.join("launcher.err");
                let (c, status) = self.launcher.run(rt, args, &err)?;
                if status != 0 {
                    return Err(rt.failed(args, status, &runner::last_line(&err)));
                }
                Ok(c)
            }
        }
    }

    /// One create / start / wait / delete; the four costs.
    fn lifecycle(&self, i: usize, tag: &str, via: Via) -> Result<[runner::Cost; 4]> {
        let rt = &self.runtimes[i];
        let (id, b) = self.prepare(i, tag, &["/bin/true"], false)?;
        let pidfile = b.join("pid");
        let (bs, ps) = (
            b.to_string_lossy().into_owned(),
            pidfile.to_string_lossy().into_owned(),
        );
        let create = self.cmd(i, &["create", "--bundle", &bs, "--pid-file", &ps, &id], via)?;
        let pid = runner::read_pid(&pidfile)?;
        let start = self.cmd(i, &["start", &id], via)?;
        let t = Instant::now();
        runner::wait_gone(pid, EXIT_LIMIT)
            .with_context(|| format!("{} container {id}", rt.name))?;
        let wait = runner::Cost {
            time: t.elapsed(),
            maxrss_kib: 0,
        };
        let delete = self.cmd(i, &["delete", &id], via)?;
        self.finish(i, &id);
        Ok([create, start, wait, delete])
    }

    /// `run` of /bin/true then `delete --force` (which may find it gone:
    /// runc-style runtimes delete a foreground container themselves).
    fn run_delete(
        &self,
        i: usize,
        tag: &str,
        seccomp: bool,
        via: Via,
    ) -> Result<(runner::Cost, Duration)> {
        let rt = &self.runtimes[i];
        let (id, b) = self.prepare(i, tag, &["/bin/true"], seccomp)?;
        let bs = b.to_string_lossy().into_owned();
        let t0 = Instant::now();
        let run = self.cmd(i, &["run", "--bundle", &bs, &id], via)?;
        let _ = rt.spawn(&["delete", "--force", &id], None, 0)?;
        let total = t0.elapsed();
        self.finish(i, &id);
        Ok((run, total))
    }

    fn scenario(&self, s: Scenario) -> Result<(String, Vec<Metric>)> {
        let r = self.runtimes.len();
        let (n, w) = (self.opts.n, self.opts.warmup);
        Ok(match s {
            Scenario::Run => {
                let mut total = Metric::new("run + delete", "ms", r);
                let mut run = Metric::new("run alone", "ms", r);
                self.rounds(w, n, |i, rec| {
                    let (c, t) = self.run_delete(i, "run", false, Via::Direct(0))?;
                    if rec {
                        total.samples[i].push(ms(t));
                        run.samples[i].push(ms(c.time));
                    }
                    Ok(())
                })?;
                (
                    "`run` of /bin/true, then `delete --force`".into(),
                    vec![total, run],
                )
            }
            Scenario::Phases => {
                let names = [
                    "create",
                    "start",
                    "wait for exit",
                    "delete",
                    "create + start + wait + delete",
                ];
                let mut m: Vec<Metric> = names.iter().map(|x| Metric::new(x, "ms", r)).collect();
                self.rounds(w, n, |i, rec| {
                    let c = self.lifecycle(i, "ph", Via::Direct(0))?;
                    if rec {
                        let mut sum = 0.0;
                        for (k, cost) in c.iter().enumerate() {
                            m[k].samples[i].push(ms(cost.time));
                            sum += ms(cost.time);
                        }
                        m[4].samples[i].push(sum);
                    }
                    Ok(())
                })?;
                (
                    "create / start / wait / delete of /bin/true, each timed".into(),
                    m,
                )
            }
            Scenario::Exec => {
                let mut m = Metric::new("exec /bin/true", "ms", r);
                let mut running = Vec::new();
                let result = (|| -> Result<()> {
                    for i in 0..r {
                        let rt = &self.runtimes[i];
                        let (id, b) = self.prepare(i, "ex", &["/bin/sleep", "1000"], false)?;
                        let pidfile = b.join("pid");
                        let (bs, ps) = (
                            b.to_string_lossy().into_owned(),
                            pidfile.to_string_lossy().into_owned(),
                        );
                        rt.run(
                            &["create", "--bundle", &bs, "--pid-file", &ps, &id],
                            None,
                            0,
                        )?;
                        running.push((i, id.clone(), runner::read_pid(&pidfile)?));
                        rt.run(&["start", &id], None, 0)?;
                    }
                    self.rounds(w, n, |i, rec| {
                        let id = &running[i].1;
                        let c = self.runtimes[i].run(&["exec", id, "/bin/true"], None, 0)?;
                        if rec {
                            m.samples[i].push(ms(c.time));
                        }
                        Ok(())
                    })
                })();
                for (i, id, pid) in running {
                    let rt = &self.runtimes[i];
                    let _ = rt.spawn(&["kill", &id, "KILL"], None, 0);
                    let _ = runner::wait_gone(pid, EXIT_LIMIT);
                    rt.force_delete(&id);
                    self.finish(i, &id);
                }
                result?;
                (
                    "`exec` of /bin/true into a running container".into(),
                    vec![m],
                )
            }
            Scenario::Rss => {
                let names = ["run", "create", "start", "delete"];
                let mut m: Vec<Metric> = names.iter().map(|x| Metric::new(x, "MiB", r)).collect();
                self.rounds(w, n, |i, rec| {
                    let (run, _) = self.run_delete(i, "rss", false, Via::Launcher)?;
                    let c = self.lifecycle(i, "rss", Via::Launcher)?;
                    if rec {
                        m[0].samples[i].push(mib(run.maxrss_kib));
                        m[1].samples[i].push(mib(c[0].maxrss_kib));
                        m[2].samples[i].push(mib(c[1].maxrss_kib));
                        m[3].samples[i].push(mib(c[3].maxrss_kib));
                    }
                    Ok(())
                })?;
                ("peak RSS of each command: ru_maxrss of its largest process (forked by the launcher)".into(), m)
            }
            Scenario::Memcg => {
                let Some(h) = self.cg.memory().cloned() else {
                    bail!("no memory cgroup controller on this host")
                };
                let peak_file = if h.v2 {
                    "memory.peak"
                } else {
                    "memory.max_usage_in_bytes"
                };
                let mut m = Metric::new("charged, create -> delete", "MiB", r);
                self.rounds(w, n, |i, rec| {
                    let dir = self.cg.dir(&h).join(format!(
                        "memcg-{}-{}",
                        self.runtimes[i].name,
                        self.seq.fetch_add(1, Ordering::Relaxed)
                    ));
                    fs::create_dir(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
                    let out = (|| -> Result<f64> {
                        let procs = Procs::open(&dir)?;
                        self.lifecycle(i, "mem", Via::Cgroup(procs.fd()))?;
                        let v = fs::read_to_string(dir.join(peak_file))
                            .with_context(|| format!("{}", dir.join(peak_file).display()))?;
                        Ok(v.trim().parse::<f64>().unwrap_or(0.0) / (1024.0 * 1024.0))
                    })();
                    host::remove_tree(&dir);
                    let v = out?;
                    if rec {
                        m.samples[i].push(v);
                    }
                    Ok(())
                })?;
                (format!("peak memory charged to a memory cgroup holding every runtime process ({peak_file})"), vec![m])
            }
            Scenario::Parallel => {
                let (k, workers) = (self.opts.parallel, self.opts.workers);
                let mut m = Metric::new(&format!("{k} lifecycles, {workers} workers"), "ms", r);
                self.rounds(0, self.opts.parallel_rounds, |i, rec| {
                    let next = AtomicUsize::new(0);
                    let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
                    let t0 = Instant::now();
                    std::thread::scope(|s| {
                        for slot in 0..workers {
                            let (next, failed) = (&next, &failed);
                            s.spawn(move || {
                                while next.fetch_add(1, Ordering::SeqCst) < k {
                                    if let Err(e) = self.lifecycle(i, "par", Via::Direct(slot)) {
                                        failed.lock().unwrap().get_or_insert(e);
                                        break;
                                    }
                                }
                            });
                        }
                    });
                    let t = t0.elapsed();
                    if let Some(e) = failed.into_inner().unwrap() {
                        return Err(e);
                    }
                    if rec {
                        m.samples[i].push(ms(t));
                    }
                    Ok(())
                })?;
                (
                    "create / start / wait / delete of /bin/true, concurrently; wall time".into(),
                    vec![m],
                )
            }
            Scenario::Seccomp => {
                let mut plain = Metric::new("run + delete, no seccomp", "ms", r);
                let mut with = Metric::new("run + delete, 302-syscall profile", "ms", r);
                self.rounds(w, n, |i, rec| {
                    for k in 0..2 {
                        let sc = (k + i) % 2 == 1;
                        let (_, t) = self.run_delete(i, "sc", sc, Via::Direct(0))?;
                        if rec {
                            if sc { &mut with } else { &mut plain }.samples[i].push(ms(t));
                        }
                    }
                    Ok(())
                })?;
                (
                    "what a 302-syscall allow-list profile adds to run + delete".into(),
                    vec![plain, with],
                )
            }
        })
    }

    /// Everything a scenario may have left behind; reaps stray zombies.
    fn leaks(&self) -> Vec<String> {
        let mut out = Vec::new();
        // SAFETY: non-blocking reaping of exited children.
        while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        for d in self.cg.leftovers() {
            out.push(format!("cgroup {}", d.display()));
        }
        for rt in &self.runtimes {
            for e in fs::read_dir(&rt.root).into_iter().flatten().flatten() {
                // container state is a directory named by the id
                if e.file_name().to_string_lossy().starts_with("nb-") {
                    out.push(format!("{} state {}", rt.name, e.path().display()));
                }
            }
        }
        let now = mount_count();
        if now != self.mounts_before {
            out.push(format!(
                "mount table has {now} entries, {} before",
                self.mounts_before
            ));
        }
        let me = std::process::id().to_string();
        let launcher = self.launcher.pid().to_string();
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let Some((comm, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            if rest.split_whitespace().nth(1) == Some(me.as_str())
                && e.file_name().to_string_lossy() != launcher
            {
                out.push(format!(
                    "process {} ({})",
                    e.file_name().to_string_lossy(),
                    comm.split_once('(').map(|x| x.1).unwrap_or("")
                ));
            }
        }
        out
    }

    fn report(&self, s: Scenario, title: &str, metrics: &[Metric]) {
        let rounds = if s == Scenario::Parallel {
            self.opts.parallel_rounds
        } else {
            self.opts.n
        };
        println!("\n== {}: {title} ({rounds} rounds)", s.name());
        let base = &self.runtimes[self.baseline].name;
        for m in metrics {
            println!(
                "  {:<34} {:>9} {:>9} {:>9} {:>8}",
                format!("{} ({})", m.name, m.unit),
                "median",
                "min",
                "max",
                format!("×{base}")
            );
            let bmed = stats::summarize(&m.samples[self.baseline]).map(|x| x.median);
            for (i, rt) in self.runtimes.iter().enumerate() {
                let Some(x) = stats::summarize(&m.samples[i]) else {
                    continue;
                };
                let ratio = bmed
                    .filter(|b| *b > 0.0)
                    .map(|b| format!("{:.2}", x.median / b))
                    .unwrap_or_default();
                println!(
                    "    {:<32} {:>9.2} {:>9.2} {:>9.2} {:>8}",
                    rt.name, x.median, x.min, x.max, ratio
                );
            }
        }
        if s == Scenario::Seccomp && metrics.len() == 2 {
            println!("  {:<34} {:>9}", "added by the profile (ms)", "median");
            for (i, rt) in self.runtimes.iter().enumerate() {
                if let (Some(a), Some(b)) = (
                    stats::summarize(&metrics[0].samples[i]),
                    stats::summarize(&metrics[1].samples[i]),
                ) {
                    println!("    {:<32} {:>+9.2}", rt.name, b.median - a.median);
                }
            }
        }
    }

    fn cleanup(&mut self) {
        for (i, id) in self.live.lock().unwrap().drain(..) {
            self.runtimes[i].force_delete(&id);
        }
        self.cg.remove_all();
        let _ = fs::remove_dir_all(&self.scratch);
    }
}

fn default_runtimes() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Some(n) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("nook-runtime")))
    {
        if args::is_executable(&n) {
            out.push(("nook".into(), n));
        }
    }
    for name in ["runc", "crun"] {
        for dir in [
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ] {
            let p = Path::new(dir).join(name);
            if args::is_executable(&p) {
                out.push((name.into(), p));
                break;
            }
        }
    }
    out
}

fn bench(opts: Options) -> Result<bool> {
    let layout = host::isolate(opts.keep_unified)?;
    // forked now, while the benchmark is small (see Launcher)
    let launcher = Launcher::start()?;
    // SAFETY: handlers only store to an atomic.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::signal(
            libc::SIGINT,
            on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    let scratch = opts
        .scratch
        .join(format!("nook-bench.{}", std::process::id()));
    fs::create_dir_all(&opts.scratch)?;
    fs::create_dir(&scratch).with_context(|| format!("mkdir {}", scratch.display()))?;
    let cg = match Cgroups::setup() {
        Ok(cg) => cg,
        Err(e) => {
            let _ = fs::remove_dir_all(&scratch);
            return Err(e);
        }
    };
    let mut runtimes = Vec::new();
    for (name, bin) in &opts.runtimes {
        let root = scratch.join(format!("root-{name}"));
        runtimes.push(Runtime {
            name: name.clone(),
            bin: fs::canonicalize(bin)?,
            root,
            errdir: scratch.clone(),
        });
    }
    let baseline = opts
        .runtimes
        .iter()
        .position(|(n, _)| *n == opts.baseline)
        .unwrap_or(0);
    let mut b = Bench {
        runtimes,
        baseline,
        cg,
        rootfs: scratch.join("rootfs"),
        bundles: scratch.join("bundles"),
        scratch,
        live: Mutex::new(Vec::new()),
        seq: AtomicUsize::new(0),
        mounts_before: mount_count(),
        launcher,
        opts,
    };
    let result = (|| -> Result<bool> {
        bundle::make_rootfs(&b.rootfs)?;
        fs::create_dir(&b.bundles)?;
        for rt in &b.runtimes {
            fs::create_dir(&rt.root)?;
        }
        // SAFETY: utsname is plain data; all-zero is a valid value.
        let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer.
        unsafe { libc::uname(&mut uts) };
        let rel = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        println!(
            "nook-bench: kernel {rel}, {} CPUs, {layout}",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        println!(
            "container cgroups under {} in every hierarchy; baseline {}",
            b.cg.base, b.runtimes[b.baseline].name
        );
        for rt in &b.runtimes {
            println!("  {:<8} {} ({})", rt.name, rt.bin.display(), rt.version());
        }
        println!(
            "{} measured rounds after {} warm-up, runtimes round-robin (order rotating)",
            b.opts.n, b.opts.warmup
        );
        let mut clean = true;
        for s in b.opts.scenarios.clone() {
            let (title, metrics) = b.scenario(s)?;
            b.report(s, &title, &metrics);
            let leaks = b.leaks();
            if leaks.is_empty() {
                println!("  leaks: none (cgroups, state, mounts, processes)");
            } else {
                clean = false;
                for l in leaks {
                    println!("  LEAK: {l}");
                }
            }
        }
        Ok(clean)
    })();
    b.cleanup();
    result
}

/// The whole program; returns the exit code (0: done and nothing leaked,
/// 1: a failure or a leak, 2: bad command line).
pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let opts = match args::parse(&argv, default_runtimes) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            print!("{}", args::USAGE);
            return 0;
        }
        Err(e) => {
            eprintln!("nook-bench: {e}\n(nook-bench --help for usage)");
            return 2;
        }
    };
    // SAFETY: trivial getter.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("nook-bench: must run as root (it makes cgroups and a mount namespace)");
        return 1;
    }
    match bench(opts) {
        Ok(true) => 0,
        Ok(false) => {
            eprintln!("nook-bench: a runtime left something behind (see LEAK above)");
            1
        }
        Err(e) => {
            eprintln!("nook-bench: {e:#}");
            1
        }
    }
}
