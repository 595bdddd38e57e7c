//! The command line of `nook-bench`.

use std::path::{Path, PathBuf};

/// One measured scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `run` of /bin/true then `delete --force`.
    Run,
    /// create / start / wait / delete, each timed.
    Phases,
    /// `exec` of /bin/true into a running container.
    Exec,
    /// Peak RSS (`ru_maxrss`) of run, create, start and delete.
    Rss,
    /// Peak memory charged to a memory cgroup holding every runtime process.
    Memcg,
    /// K lifecycles by several workers at once.
    Parallel,
    /// What a 302-syscall seccomp profile adds to run + delete.
    Seccomp,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 7] = [
        Scenario::Run,
        Scenario::Phases,
        Scenario::Exec,
        Scenario::Rss,
        Scenario::Memcg,
        Scenario::Parallel,
        Scenario::Seccomp,
    ];

    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Run => "run",
            Scenario::Phases => "phases",
            Scenario::Exec => "exec",
            Scenario::Rss => "rss",
            Scenario::Memcg => "memcg",
            Scenario::Parallel => "parallel",
            Scenario::Seccomp => "seccomp",
        }
    }

    fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// Everything the command line sets.
#[derive(Debug, Clone)]
pub struct Options {
    /// Measured rounds per scenario.
    pub n: usize,
    /// Unrecorded rounds before them.
    pub warmup: usize,
    /// The runtime every ratio is relative to.
    pub baseline: String,
    /// Scenarios to run, in order.
    pub scenarios: Vec<Scenario>,
    /// Lifecycles in the parallel scenario.
    pub parallel: usize,
    /// Concurrent workers in the parallel scenario.
    pub workers: usize,
    /// Rounds of the parallel scenario (each one is long).
    pub parallel_rounds: usize,
    /// Where the scratch directory goes.
    pub scratch: PathBuf,
    /// Keep a hybrid host's /sys/fs/cgroup/unified visible (crun refuses it).
    pub keep_unified: bool,
    /// NAME, BINARY of every runtime measured.
    pub runtimes: Vec<(String, PathBuf)>,
}

/// The usage text.
pub const USAGE: &str = "\
usage: nook-bench [options] [NAME=BINARY ...]

Measures OCI runtimes that take runc's command line side by side, round-robin
within every round, on identical read-only busybox bundles, each runtime with
its own --root, all inside one private mount namespace.  Prints medians,
min/max and the ratio to the baseline, and checks for leaked cgroups, mounts,
state and processes after every scenario.  Root only.

Without NAME=BINARY: nook (the nook-runtime next to nook-bench), runc and crun
(when installed).

options:
  --n N               measured rounds per scenario (default 10)
  --warmup N          unrecorded rounds first (default 2)
  --baseline NAME     ratios relative to NAME (default crun, else the first)
  --scenarios LIST    comma-separated, of: run,phases,exec,rss,memcg,parallel,seccomp
                      (default all)
  --parallel K        lifecycles in the parallel scenario (default 50)
  --workers W         concurrent workers there (default 2)
  --parallel-rounds N rounds of the parallel scenario (default 3)
  --scratch DIR       scratch space (default /var/tmp)
  --keep-unified      do not hide a hybrid host's /sys/fs/cgroup/unified
";

fn number(flag: &str, v: Option<&String>, min: usize) -> Result<usize, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    match v.parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("{flag}: '{v}' is not a whole number >= {min}")),
    }
}

/// Parses the arguments after the program name.  `defaults` gives the
/// runtimes used when none are named.
pub fn parse(
    args: &[String],
    defaults: impl FnOnce() -> Vec<(String, PathBuf)>,
) -> Result<Options, String> {
    let mut o = Options {
        n: 10,
        warmup: 2,
        baseline: String::new(),
        scenarios: Scenario::ALL.to_vec(),
        parallel: 50,
        workers: 2,
        parallel_rounds: 3,
        scratch: PathBuf::from("/var/tmp"),
        keep_unified: false,
        runtimes: Vec::new(),
    };
    let mut baseline = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "-h" | "--help" => return Err(String::new()),
            "--n" => o.n = number(flag, value().as_ref(), 1)?,
            "--warmup" => o.warmup = number(flag, value().as_ref(), 0)?,
            "--parallel" => o.parallel = number(flag, value().as_ref(), 1)?,
            "--workers" => o.workers = number(flag, value().as_ref(), 1)?,
            "--parallel-rounds" => o.parallel_rounds = number(flag, value().as_ref(), 1)?,
            "--baseline" => baseline = Some(value().ok_or("--baseline needs a value")?),
            "--scratch" => o.scratch = PathBuf::from(value().ok_or("--scratch needs a value")?),
            "--keep-unified" => o.keep_unified = true,
            "--scenarios" => {
                let v = value().ok_or("--scenarios needs a value")?;
                o.scenarios = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        Scenario::parse(s)
                            .ok_or_else(|| format!("--scenarios: unknown scenario '{s}'"))
                    })
                    .collect::<Result<_, _>>()?;
                if o.scenarios.is_empty() {
                    return Err("--scenarios: none named".into());
                }
            }
            f if f.starts_with('-') => return Err(format!("unknown option '{f}'")),
            _ => {
                let (name, bin) = a
                    .split_once('=')
                    .filter(|(n, b)| !n.is_empty() && !b.is_empty())
                    .ok_or_else(|| format!("'{a}' is not NAME=BINARY"))?;
                if !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(format!(
                        "runtime name '{name}': only letters, digits, '-' and '_'"
                    ));
                }
                if o.runtimes.iter().any(|(n, _)| n == name) {
                    return Err(format!("runtime name '{name}' given twice"));
                }
                o.runtimes.push((name.to_string(), PathBuf::from(bin)));
            }
        }
    }
    if o.runtimes.is_empty() {
        o.runtimes = defaults();
        if o.runtimes.is_empty() {
            return Err("no runtime to measure: name one as NAME=BINARY".into());
        }
    }
    for (name, bin) in &o.runtimes {
        if !is_executable(bin) {
            return Err(format!(
                "runtime '{name}': {} is not an executable file",
                bin.display()
            ));
        }
    }
    o.baseline = match baseline {
        Some(b) if o.runtimes.iter().any(|(n, _)| *n == b) => b,
        Some(b) => return Err(format!("--baseline: no runtime named '{b}'")),
        None => o
            .runtimes
            .iter()
            .find(|(n, _)| n == "crun")
            .unwrap_or(&o.runtimes[0])
            .0
            .clone(),
    };
    Ok(o)
}

/// Whether `p` is a regular file with an execute bit.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args, || vec![("sh".into(), PathBuf::from("/bin/sh"))])
    }

    #[test]
    fn defaults_and_values() {
        let o = p(&[]).unwrap();
        assert_eq!((o.n, o.warmup, o.parallel, o.workers), (10, 2, 50, 2));
        assert_eq!(o.baseline, "sh");
        assert_eq!(o.scenarios.len(), 7);
        let o = p(&[
            "--n",
            "3",
            "--scenarios=run,exec",
            "a=/bin/sh",
            "crun=/bin/true",
        ])
        .unwrap();
        assert_eq!(o.n, 3);
        assert_eq!(o.scenarios, vec![Scenario::Run, Scenario::Exec]);
        assert_eq!(o.baseline, "crun");
        let o = p(&["--baseline", "a", "a=/bin/sh", "b=/bin/true"]).unwrap();
        assert_eq!(o.baseline, "a");
    }

    #[test]
    fn bad_input_is_named() {
        assert!(p(&["--n", "0"]).unwrap_err().contains("--n"));
        assert!(p(&["--n", "x"]).unwrap_err().contains("'x'"));
        assert!(p(&["--scenarios", "run,fly"])
            .unwrap_err()
            .contains("'fly'"));
        assert!(p(&["--frobnicate"]).unwrap_err().contains("--frobnicate"));
        assert!(p(&["nook"]).unwrap_err().contains("NAME=BINARY"));
        assert!(p(&["a=/nonexistent/x"])
            .unwrap_err()
            .contains("/nonexistent/x"));
        assert!(p(&["a=/bin/sh", "a=/bin/sh"])
            .unwrap_err()
            .contains("twice"));
        assert!(p(&["--baseline", "z", "a=/bin/sh"])
            .unwrap_err()
            .contains("'z'"));
        assert!(p(&["a/b=/bin/sh"]).unwrap_err().contains("a/b"));
    }
}
