//! runc's command line, parsed by hand.
//!
//! A small table-driven parser instead of a general argument library: it
//! starts instantly and keeps the binary small (every runtime command pays
//! for both).  Like runc's, it takes `--flag value`, `--flag=value` and
//! single-dash long flags (`-root`), global flags before or after the
//! command, and — for `exec` and `ps` — stops at the container id so the
//! program's own options pass through untouched.

use std::path::PathBuf;

use crate::opts::{CreateOpts, ExecArgs, ExecOpts, ExecProcess};

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// A command to run.
    Run(Box<Cli>),
    /// Print this help and exit 0.
    Help(String),
    /// Print the version and exit 0.
    Version,
}

/// Global flags and the command.
#[derive(Debug)]
pub struct Cli {
    /// `--root`.
    pub root: Option<PathBuf>,
    /// `--log`.
    pub log: Option<String>,
    /// `--log-format`: text or json.
    pub log_format: String,
    /// `--debug`.
    pub debug: bool,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// The command.
    pub cmd: Cmd,
}

/// Flags of `update`.
#[derive(Debug, Clone, Default)]
pub struct UpdateArgs {
    /// `-r`: resources JSON file, `-` for stdin.
    pub resources: Option<String>,
    /// `--blkio-weight`.
    pub blkio_weight: Option<u16>,
    /// `--cpu-period`.
    pub cpu_period: Option<u64>,
    /// `--cpu-quota`.
    pub cpu_quota: Option<i64>,
    /// `--cpu-share`.
    pub cpu_share: Option<u64>,
    /// `--cpu-rt-period`.
    pub cpu_rt_period: Option<u64>,
    /// `--cpu-rt-runtime`.
    pub cpu_rt_runtime: Option<i64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`.
    pub cpuset_mems: Option<String>,
    /// `--kernel-memory`.
    pub kernel_memory: Option<String>,
    /// `--kernel-memory-tcp`.
    pub kernel_memory_tcp: Option<String>,
    /// `--memory`.
    pub memory: Option<String>,
    /// `--memory-reservation`.
    pub memory_reservation: Option<String>,
    /// `--memory-swap`.
    pub memory_swap: Option<String>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--l3-cache-schema`.
    pub l3_cache_schema: Option<String>,
    /// `--mem-bw-schema`.
    pub mem_bw_schema: Option<String>,
    /// Container id.
    pub id: String,
}

/// The commands.
#[derive(Debug)]
pub enum Cmd {
    /// `create`.
    Create(CreateOpts),
    /// `start`.
    Start {
        /// Id.
        id: String,
    },
    /// `run`.
    Run {
        /// Create flags.
        c: CreateOpts,
        /// `-d`.
        detach: bool,
        /// `--keep`.
        keep: bool,
        /// `--no-subreaper`.
        no_subreaper: bool,
    },
    /// `exec`.
    Exec(Box<ExecOpts>),
    /// `state`.
    State {
        /// Id.
        id: String,
    },
    /// `kill`.
    Kill {
        /// `--all`.
        all: bool,
        /// Id.
        id: String,
        /// Signal.
        signal: Option<String>,
    },
    /// `delete`.
    Delete {
        /// `--force`.
        force: bool,
        /// Id.
        id: String,
    },
    /// `list`.
    List {
        /// `--format`.
        format: String,
        /// `--quiet`.
        quiet: bool,
    },
    /// `pause`.
    Pause {
        /// Id.
        id: String,
    },
    /// `resume`.
    Resume {
        /// Id.
        id: String,
    },
    /// `ps`.
    Ps {
        /// `--format`.
        format: String,
        /// Id.
        id: String,
        /// Options for ps(1).
        ps_args: Vec<String>,
    },
    /// `update`.
    Update(Box<UpdateArgs>),
    /// `events`.
    Events {
        /// `--stats`.
        stats: bool,
        /// `--interval`.
        interval: String,
        /// Id.
        id: String,
    },
    /// `spec`.
    Spec {
        /// `--bundle`.
        bundle: PathBuf,
        /// `--rootless`.
        rootless: bool,
    },
    /// `features`.
    Features,
    /// `checkpoint` (refused).
    Checkpoint,
    /// `restore` (refused).
    Restore,
}

/// A flag a command takes: long name, short letter, takes a value.
struct F(&'static str, Option<char>, bool);

const GLOBAL: &[F] = &[
    F("root", None, true),
    F("log", None, true),
    F("log-format", None, true),
    F("debug", None, false),
    F("systemd-cgroup", None, false),
    F("criu", None, true),
    F("rootless", None, true),
];

const CREATE: &[F] = &[
    F("bundle", Some('b'), true),
    F("console-socket", None, true),
    F("pid-file", None, true),
    F("no-pivot", None, false),
    F("no-new-keyring", None, false),
    F("preserve-fds", None, true),
];

const RUN_EXTRA: &[F] = &[
    F("detach", Some('d'), false),
    F("keep", None, false),
    F("no-subreaper", None, false),
];

const EXEC: &[F] = &[
    F("console-socket", None, true),
    F("cwd", None, true),
    F("env", Some('e'), true),
    F("tty", Some('t'), false),
    F("user", Some('u'), true),
    F("additional-gids", Some('g'), true),
    F("process", Some('p'), true),
    F("detach", Some('d'), false),
    F("pid-file", None, true),
    F("process-label", None, true),
    F("apparmor", None, true),
    F("no-new-privs", None, false),
    F("cap", Some('c'), true),
    F("preserve-fds", None, true),
    F("cgroup", None, true),
    F("ignore-paused", None, false),
];

const UPDATE: &[F] = &[
    F("resources", Some('r'), true),
    F("blkio-weight", None, true),
    F("cpu-period", None, true),
    F("cpu-quota", None, true),
    F("cpu-share", None, true),
    F("cpu-rt-period", None, true),
    F("cpu-rt-runtime", None, true),
    F("cpuset-cpus", None, true),
    F("cpuset-mems", None, true),
    F("kernel-memory", None, true),
    F("kernel-memory-tcp", None, true),
    F("memory", None, true),
    F("memory-reservation", None, true),
    F("memory-swap", None, true),
    F("pids-limit", None, true),
    F("l3-cache-schema", None, true),
    F("mem-bw-schema", None, true),
];

/// The usage text of the program or of one command.
pub fn usage(cmd: Option<&str>) -> String {
    let body = match cmd {
        Some("create") => "create [--bundle DIR] [--console-socket SOCK] [--pid-file FILE] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID\n  Create a container; its program waits for `start`.",
        Some("run") => "run [create flags] [--detach] [--keep] [--no-subreaper] ID\n  Create and start a container; without --detach wait for it and exit with its code.",
        Some("start") => "start ID\n  Run the program of a created container.",
        Some("exec") => "exec [--process FILE | ARGS...] [-t] [-d] [-e K=V] [-u UID[:GID]] [-g GID] [--cwd DIR] [--cap CAP] [--no-new-privs]\n       [--console-socket SOCK] [--pid-file FILE] [--preserve-fds N] [--cgroup PATH] [--apparmor P] [--process-label L] ID [ARGS...]\n  Run a process in a running container.",
        Some("state") => "state ID\n  Print the state of a container as JSON.",
        Some("kill") => "kill [--all] ID [SIGNAL]\n  Send a signal (default SIGTERM) to a container.",
        Some("delete") => "delete [--force] ID\n  Delete a container and everything it had.",
        Some("list") => "list [--format table|json] [--quiet]\n  List containers.",
        Some("pause") => "pause ID\n  Freeze every process of a container.",
        Some("resume") => "resume ID\n  Thaw a paused container.",
        Some("ps") => "ps [--format table|json] ID [PS OPTIONS...]\n  List the processes of a container.",
        Some("update") => "update [-r FILE] [--memory N] [--memory-swap N] [--memory-reservation N] [--cpu-quota N] [--cpu-period N] [--cpu-share N]\n       [--cpuset-cpus L] [--cpuset-mems L] [--pids-limit N] [--blkio-weight N] [--cpu-rt-period N] [--cpu-rt-runtime N] ID\n  Change the resource limits of a running container.",
        Some("events") => "events [--stats] [--interval 5s] ID\n  Print statistics and OOM events of a container as JSON lines.",
        Some("spec") => "spec [--bundle DIR] [--rootless]\n  Write a default config.json.",
        Some("features") => "features\n  Print the features of this runtime as JSON.",
        _ => {
            return "nook-runtime: an OCI container runtime with runc's command line\n\n\
                    usage: nook-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...\n\n\
                    commands: create start run exec state kill delete list pause resume ps update events spec features\n\
                    `nook-runtime COMMAND --help` shows a command's flags.\n"
                .into()
        }
    };
    format!("usage: nook-runtime {body}\n")
}

fn find<'a>(specs: &[&'a [F]], name: &str, short: bool) -> Option<&'a F> {
    specs.iter().flat_map(|s| s.iter()).find(|f| {
        if short {
            f.1.map(|c| c.to_string()).as_deref() == Some(name)
        } else {
            f.0 == name
        }
    })
}

/// Flags and positionals of one command.
#[derive(Default)]
struct Got {
    flags: Vec<(&'static str, Option<String>)>,
    pos: Vec<String>,
}

impl Got {
    fn has(&self, n: &str) -> bool {
        self.flags.iter().any(|(k, _)| *k == n)
    }
    fn val(&self, n: &str) -> Option<String> {
        self.flags
            .iter()
            .rev()
            .find(|(k, _)| *k == n)
            .and_then(|(_, v)| v.clone())
    }
    fn all(&self, n: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(k, _)| *k == n)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }
    fn num<T: std::str::FromStr>(&self, n: &str) -> Result<Option<T>, String> {
        self.val(n)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| format!("--{n}: invalid value {v:?}"))
            })
            .transpose()
    }
}

/// Parse `args` (starting at the first flag, after a command name when
/// `cmd` is set) against `specs`.  With `stop_after` the parse stops at
/// that many positionals and keeps the rest verbatim.
fn parse_flags(
    args: &[String],
    specs: &[&[F]],
    stop_after: Option<usize>,
    got: &mut Got,
) -> Result<bool, String> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if stop_after.is_some_and(|n| got.pos.len() >= n) {
            got.pos.extend(args[i..].iter().cloned());
            return Ok(false);
        }
        if a == "--" {
            got.pos.extend(args[i + 1..].iter().cloned());
            return Ok(false);
        }
        if a == "--help" || a == "-h" || a == "-help" {
            return Ok(true);
        }
        if a.len() > 1 && a.starts_with('-') {
            let body = a.trim_start_matches('-');
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let single = !a.starts_with("--");
            let f = find(specs, name, false).or_else(|| {
                if single {
                    find(specs, name, true)
                } else {
                    None
                }
            });
            let Some(f) = f else {
                // `-dt`: a cluster of short switches.
                if single
                    && name.len() > 1
                    && name
                        .chars()
                        .all(|c| find(specs, &c.to_string(), true).is_some_and(|f| !f.2))
                {
                    for c in name.chars() {
                        got.flags
                            .push((find(specs, &c.to_string(), true).expect("checked").0, None));
                    }
                    i += 1;
                    continue;
                }
                return Err(format!("unknown flag {a}"));
            };
            if f.2 {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| format!("flag --{} needs a value", f.0))?
                    }
                };
                got.flags.push((f.0, Some(v)));
            } else {
                if inline
                    .as_deref()
                    .is_some_and(|v| v != "true" && v != "false")
                {
                    return Err(format!("flag --{} takes no value", f.0));
                }
                if inline.as_deref() != Some("false") {
                    got.flags.push((f.0, None));
                }
            }
        } else {
            got.pos.push(a.clone());
        }
        i += 1;
    }
    Ok(false)
}

fn one_id(cmd: &str, got: &Got, max_extra: usize) -> Result<String, String> {
    if got.pos.is_empty() {
        return Err(format!("{cmd}: the container id is missing"));
    }
    if got.pos.len() > 1 + max_extra {
        return Err(format!(
            "{cmd}: unexpected argument {:?}",
            got.pos[1 + max_extra]
        ));
    }
    Ok(got.pos[0].clone())
}

fn choice(got: &Got, name: &str, default: &str, allowed: &[&str]) -> Result<String, String> {
    let v = got.val(name).unwrap_or_else(|| default.into());
    if !allowed.contains(&v.as_str()) {
        return Err(format!(
            "--{name}: {v:?} is not one of {}",
            allowed.join(", ")
        ));
    }
    Ok(v)
}

/// The flags `create` and `run` share, and the container id.
fn create_opts(cmd: &str, got: &Got) -> Result<CreateOpts, String> {
    Ok(CreateOpts {
        bundle: PathBuf::from(got.val("bundle").unwrap_or_else(|| ".".into())),
        console_socket: got.val("console-socket").map(PathBuf::from),
        pid_file: got.val("pid-file").map(PathBuf::from),
        no_pivot: got.has("no-pivot"),
        no_new_keyring: got.has("no-new-keyring"),
        preserve_fds: got.num("preserve-fds")?.unwrap_or(0),
        foreground: false,
        id: one_id(cmd, got, 0)?,
    })
}

/// `-u uid[:gid]`.
fn parse_user(u: &str) -> Result<(u32, Option<u32>), String> {
    let bad = || format!("--user {u:?}: expected uid[:gid] (numbers)");
    match u.split_once(':') {
        Some((a, b)) => Ok((
            a.parse().map_err(|_| bad())?,
            Some(b.parse().map_err(|_| bad())?),
        )),
        None => Ok((u.parse().map_err(|_| bad())?, None)),
    }
}

/// `exec`'s flags: a `--process` file, or the program and the flags that
/// adjust the container's own process.
fn exec_opts(got: &Got) -> Result<ExecOpts, String> {
    let id = one_id("exec", got, usize::MAX - 1)?;
    let process = match got.val("process") {
        Some(p) => ExecProcess::File(PathBuf::from(p)),
        None => ExecProcess::Args(ExecArgs {
            args: got.pos[1..].to_vec(),
            env: got.all("env"),
            cwd: got.val("cwd").map(PathBuf::from),
            user: got.val("user").as_deref().map(parse_user).transpose()?,
            additional_gids: got
                .all("additional-gids")
                .iter()
                .map(|g| {
                    g.parse()
                        .map_err(|_| format!("--additional-gids: invalid group {g:?}"))
                })
                .collect::<Result<_, String>>()?,
            caps: got.all("cap"),
            tty: got.has("tty"),
            no_new_privs: got.has("no-new-privs"),
            apparmor: got.val("apparmor"),
            label: got.val("process-label"),
        }),
    };
    Ok(ExecOpts {
        id,
        process,
        detach: got.has("detach"),
        pid_file: got.val("pid-file").map(PathBuf::from),
        console_socket: got.val("console-socket").map(PathBuf::from),
        preserve_fds: got.num("preserve-fds")?.unwrap_or(0),
        cgroup: got.val("cgroup"),
        ignore_paused: got.has("ignore-paused"),
    })
}

/// Parse the whole command line (`args[0]` is the program name).
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let rest = args.get(1..).unwrap_or(&[]);
    // Global flags up to the command name.
    let mut global = Got::default();
    let mut i = 0;
    while i < rest.len() && rest[i].starts_with('-') {
        let a = &rest[i];
        if a == "--version" || a == "-v" || a == "-version" {
            return Ok(Parsed::Version);
        }
        if a == "--help" || a == "-h" || a == "-help" {
            return Ok(Parsed::Help(usage(None)));
        }
        let name = a.trim_start_matches('-').split('=').next().unwrap_or("");
        let takes_value = find(&[GLOBAL], name, false)
            .map(|f| f.2)
            .ok_or_else(|| format!("unknown flag {a}"))?;
        let n = if takes_value && !a.contains('=') {
            2
        } else {
            1
        };
        if i + n > rest.len() {
            return Err(format!("flag {a} needs a value"));
        }
        parse_flags(&rest[i..i + n], &[GLOBAL], None, &mut global)?;
        i += n;
    }
    let Some(cmd) = rest.get(i) else {
        return Ok(Parsed::Help(usage(None)));
    };
    let tail = &rest[i + 1..];
    let mut got = Got::default();
    // The command's own flags first: `spec --rootless` is a switch, while
    // the global `--rootless` takes a value.
    let specs: Vec<&[F]> = match cmd.as_str() {
        "create" => vec![CREATE, GLOBAL],
        "run" => vec![CREATE, RUN_EXTRA, GLOBAL],
        "exec" => vec![EXEC, GLOBAL],
        "kill" => vec![&[F("all", Some('a'), false)], GLOBAL],
        "delete" => vec![&[F("force", Some('f'), false)], GLOBAL],
        "list" => vec![
            &[F("format", Some('f'), true), F("quiet", Some('q'), false)],
            GLOBAL,
        ],
        "ps" => vec![&[F("format", Some('f'), true)], GLOBAL],
        "update" => vec![UPDATE, GLOBAL],
        "events" => vec![
            &[F("stats", None, false), F("interval", None, true)],
            GLOBAL,
        ],
        "spec" => vec![
            &[F("bundle", Some('b'), true), F("rootless", None, false)],
            GLOBAL,
        ],
        "start" | "state" | "pause" | "resume" | "features" => vec![GLOBAL],
        "checkpoint" | "restore" => {
            return Err(format!(
                "{cmd}: checkpoint/restore is not supported by nook (no CRIU integration)"
            ))
        }
        other => {
            return Err(format!(
                "unknown command {other:?} (see nook-runtime --help)"
            ))
        }
    };
    // exec and ps take the program's own options after the id.
    let stop = matches!(cmd.as_str(), "exec" | "ps").then_some(1);
    if parse_flags(tail, &specs, stop, &mut got)? {
        return Ok(Parsed::Help(usage(Some(cmd))));
    }
    for (k, v) in got
        .flags
        .iter()
        .filter(|(k, _)| GLOBAL.iter().any(|g| g.0 == *k))
    {
        global.flags.push((k, v.clone()));
    }
    let cmd = match cmd.as_str() {
        "create" => Cmd::Create(create_opts("create", &got)?),
        "run" => Cmd::Run {
            c: create_opts("run", &got)?,
            detach: got.has("detach"),
            keep: got.has("keep"),
            no_subreaper: got.has("no-subreaper"),
        },
        "start" => Cmd::Start {
            id: one_id("start", &got, 0)?,
        },
        "state" => Cmd::State {
            id: one_id("state", &got, 0)?,
        },
        "pause" => Cmd::Pause {
            id: one_id("pause", &got, 0)?,
        },
        "resume" => Cmd::Resume {
            id: one_id("resume", &got, 0)?,
        },
        "kill" => Cmd::Kill {
            all: got.has("all"),
            id: one_id("kill", &got, 1)?,
            signal: got.pos.get(1).cloned(),
        },
        "delete" => Cmd::Delete {
            force: got.has("force"),
            id: one_id("delete", &got, 0)?,
        },
        "list" => Cmd::List {
            format: choice(&got, "format", "table", &["table", "json"])?,
            quiet: got.has("quiet"),
        },
        "ps" => Cmd::Ps {
            format: choice(&got, "format", "table", &["table", "json"])?,
            id: one_id("ps", &got, usize::MAX - 1)?,
            ps_args: got.pos[1..].to_vec(),
        },
        "exec" => Cmd::Exec(Box::new(exec_opts(&got)?)),
        "update" => Cmd::Update(Box::new(UpdateArgs {
            resources: got.val("resources"),
            blkio_weight: got.num("blkio-weight")?,
            cpu_period: got.num("cpu-period")?,
            cpu_quota: got.num("cpu-quota")?,
            cpu_share: got.num("cpu-share")?,
            cpu_rt_period: got.num("cpu-rt-period")?,
            cpu_rt_runtime: got.num("cpu-rt-runtime")?,
            cpuset_cpus: got.val("cpuset-cpus"),
            cpuset_mems: got.val("cpuset-mems"),
            kernel_memory: got.val("kernel-memory"),
            kernel_memory_tcp: got.val("kernel-memory-tcp"),
            memory: got.val("memory"),
            memory_reservation: got.val("memory-reservation"),
            memory_swap: got.val("memory-swap"),
            pids_limit: got.num("pids-limit")?,
            l3_cache_schema: got.val("l3-cache-schema"),
            mem_bw_schema: got.val("mem-bw-schema"),
            id: one_id("update", &got, 0)?,
        })),
        "events" => Cmd::Events {
            stats: got.has("stats"),
            interval: got.val("interval").unwrap_or_else(|| "5s".into()),
            id: one_id("events", &got, 0)?,
        },
        "spec" => Cmd::Spec {
            bundle: PathBuf::from(got.val("bundle").unwrap_or_else(|| ".".into())),
            rootless: got.has("rootless"),
        },
        "features" => Cmd::Features,
        _ => unreachable!("commands matched above"),
    };
    Ok(Parsed::Run(Box::new(Cli {
        root: global.val("root").map(PathBuf::from),
        log: global.val("log"),
        log_format: choice(&global, "log-format", "text", &["text", "json"])?,
        debug: global.has("debug"),
        systemd_cgroup: global.has("systemd-cgroup"),
        cmd,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Parsed, String> {
        let v: Vec<String> = std::iter::once("nook-runtime")
            .chain(s.split_whitespace())
            .map(String::from)
            .collect();
        parse(&v)
    }

    fn cli(s: &str) -> Cli {
        match p(s) {
            Ok(Parsed::Run(c)) => *c,
            Ok(_) => panic!("{s}: not a command"),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn create_with_every_spelling() {
        let c = cli("--root /r --log=/l --log-format json create -b /b --pid-file=/p --console-socket /s --preserve-fds 2 --no-pivot c1");
        assert_eq!(c.root, Some(PathBuf::from("/r")));
        assert_eq!(c.log.as_deref(), Some("/l"));
        assert_eq!(c.log_format, "json");
        match c.cmd {
            Cmd::Create(a) => {
                assert_eq!(a.bundle, PathBuf::from("/b"));
                assert_eq!(a.pid_file, Some(PathBuf::from("/p")));
                assert_eq!(a.preserve_fds, 2);
                assert!(a.no_pivot && !a.no_new_keyring);
                assert_eq!(a.id, "c1");
            }
            c => panic!("{c:?}"),
        }
        // runc-style single-dash long flags, and global flags after the command
        let c = cli("-root /r2 state -debug c2");
        assert_eq!(c.root, Some(PathBuf::from("/r2")));
        assert!(c.debug);
    }

    #[test]
    fn exec_keeps_the_programs_flags() {
        match cli("exec -t -e A=1 --env B=2 -u 1000:1000 c1 sh -c 'x' --help").cmd {
            Cmd::Exec(e) => {
                assert_eq!(e.id, "c1");
                let ExecProcess::Args(a) = e.process else {
                    panic!("{e:?}")
                };
                assert!(a.tty);
                assert_eq!(a.env, vec!["A=1", "B=2"]);
                assert_eq!(a.user, Some((1000, Some(1000))));
                assert_eq!(a.args, vec!["sh", "-c", "'x'", "--help"]);
            }
            c => panic!("{c:?}"),
        }
        match cli("ps --format json c1 -ef").cmd {
            Cmd::Ps {
                format,
                id,
                ps_args,
            } => {
                assert_eq!((format.as_str(), id.as_str()), ("json", "c1"));
                assert_eq!(ps_args, vec!["-ef"]);
            }
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn clusters_kill_and_errors() {
        match cli("run -d --bundle /b c1").cmd {
            Cmd::Run { detach, c, .. } => assert!(detach && c.id == "c1"),
            c => panic!("{c:?}"),
        }
        match cli("kill --all c1 KILL").cmd {
            Cmd::Kill { all, id, signal } => {
                assert!(all && id == "c1" && signal.as_deref() == Some("KILL"))
            }
            c => panic!("{c:?}"),
        }
        assert!(p("create").unwrap_err().contains("id is missing"));
        assert!(p("create --bogus c1")
            .unwrap_err()
            .contains("unknown flag --bogus"));
        assert!(p("create --bundle").unwrap_err().contains("needs a value"));
        assert!(p("frobnicate").unwrap_err().contains("unknown command"));
        assert!(p("list --format yaml").unwrap_err().contains("not one of"));
        assert!(p("--log-format xml list")
            .unwrap_err()
            .contains("not one of"));
        assert!(p("create --preserve-fds x c1")
            .unwrap_err()
            .contains("invalid value"));
        assert!(p("start a b").unwrap_err().contains("unexpected argument"));
        assert!(p("exec -u root c1 true")
            .unwrap_err()
            .contains("expected uid[:gid]"));
        assert!(matches!(p("--version"), Ok(Parsed::Version)));
        assert!(matches!(p("exec --help"), Ok(Parsed::Help(h)) if h.contains("exec")));
        assert!(matches!(p(""), Ok(Parsed::Help(_))));
    }

    #[test]
    fn client_flags_are_accepted() {
        match cli("spec --rootless --bundle /b").cmd {
            Cmd::Spec { bundle, rootless } => {
                assert!(rootless && bundle == std::path::Path::new("/b"))
            }
            c => panic!("{c:?}"),
        }
        let c = cli("--systemd-cgroup --criu /usr/sbin/criu --rootless false list");
        assert!(c.systemd_cgroup);
        assert!(matches!(c.cmd, Cmd::List { .. }));
    }
}
