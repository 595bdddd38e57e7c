//! Detached containers and their monitor.  `nook run -d` calls
//! [`Engine::start_detached`]: the engine's store connection closed, the
//! process forks; the child (in a session of its own) opens the store
//! afresh, creates and starts the container (so that the container is its
//! child; the record says `running` before the container's program
//! starts), reports one line over a pipe (`ok`, `exit CODE MESSAGE`,
//! `error MESSAGE`) and exec's `nook-monitor` (the nook-monitor crate,
//! which links none of the engine), handing it the container's pid and
//! the read ends of its stdout and stderr.  The monitor writes the log,
//! reaps the container, writes the exit file and exec's the exit command,
//! `nook container cleanup ID`: [`Engine::cleanup_container`] records the
//! exit (under the container's lock), unmounts its root, applies `--rm`,
//! and decides on a restart ([`RestartPolicy`]); [`Engine::relaunch_for_restart`]
//! then starts it again in that same process, which exec's a monitor again.
//!
//! Whatever is killed when, `ps` tells the truth: before the record says
//! `running`, the container's program has not started; once the exit file
//! exists, a record still `running` shows that exit; a container whose
//! monitor died shows `Exited (unknown)` once its process is gone.

use super::monitor::Launched;
use super::{now_nanos, ContainerLock, LiveStatus};
use crate::{Engine, Error, Result};
use nook_monitor::exit::{Exit, EXIT_FILE};
use nook_monitor::log::{Driver, LogConfig};
use nook_state::{ContainerRecord, ContainerStatus};
use serde_json::{json, Value};
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::Duration;

/// The annotation [`Engine::remove_on_exit`] sets.
const REMOVE_ON_EXIT: &str = "io.nook.remove-on-exit";

/// `--restart`: whether a detached container is started again when it
/// exits (never after `stop`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Never (the default).
    #[default]
    No,
    /// When it exits with a code other than 0, at most this many times
    /// (0: no limit).
    OnFailure(u32),
    /// Always.
    Always,
    /// Always, unless it was stopped (the same as `Always` without a
    /// daemon whose restart would tell them apart).
    UnlessStopped,
}

impl RestartPolicy {
    /// Parse Docker's spelling (`no`, `on-failure[:N]`, `always`,
    /// `unless-stopped`).
    pub fn parse(s: &str) -> Result<RestartPolicy> {
        let bad = |why: &str| Error::invalid("restart policy", s, why);
        let (name, max) = match s.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (s, None),
        };
        let p = match name {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure(match max {
                Some(m) => m
                    .parse()
                    .map_err(|_| bad("the maximum retry count must be a number"))?,
                None => 0,
            }),
            _ => {
                return Err(bad(
                    "use one of 'no', 'always', 'on-failure' or 'unless-stopped'",
                ))
            }
        };
        if max.is_some() && !matches!(p, RestartPolicy::OnFailure(_)) {
            return Err(bad("only on-failure takes a maximum retry count"));
        }
        Ok(p)
    }

    /// Docker's spelling.
    pub fn name(self) -> String {
        match self {
            RestartPolicy::No => "no".into(),
            RestartPolicy::OnFailure(0) => "on-failure".into(),
            RestartPolicy::OnFailure(n) => format!("on-failure:{n}"),
            RestartPolicy::Always => "always".into(),
            RestartPolicy::UnlessStopped => "unless-stopped".into(),
        }
    }

    /// Whether an exit with `code`, after `restarts` restarts, is
    /// followed by another.
    pub fn restarts(self, code: i32, restarts: i64) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || restarts < max as i64),
        }
    }
}

/// The wait before a restart: 100 ms, doubled at each restart of a
/// container that ran less than 10 s, at most a minute (Docker's).
pub fn restart_delay(restarts: i64, ran: Duration) -> Duration {
    if ran >= Duration::from_secs(10) {
        return Duration::from_millis(100);
    }
    Duration::from_millis(100u64 << restarts.clamp(0, 10)).min(Duration::from_secs(60))
}

/// A size as Docker's `--log-opt max-size` takes it: bytes, or with a
/// `k`, `m`, `g` suffix (1024-based, `b`/`ib` after it allowed).
pub fn parse_size(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let t = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, mult) = match t.char_indices().last()? {
        (i, 'k') => (&t[..i], 1u64 << 10),
        (i, 'm') => (&t[..i], 1 << 20),
        (i, 'g') => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n.is_finite() && n > 0.0).then_some((n * mult as f64) as u64)
}

/// The annotations a container's spec keeps for its monitor and exit
/// command: restart policy and log settings, checked.
pub(crate) fn annotations(opts: &super::RunOptions) -> Result<Value> {
    let policy = RestartPolicy::parse(opts.restart.as_deref().unwrap_or("no"))?;
    if opts.auto_remove && policy != RestartPolicy::No {
        return Err(Error::invalid(
            "restart policy",
            policy.name(),
            "conflicting options: --restart and --rm",
        ));
    }
    let driver = opts.log_driver.as_deref().unwrap_or("json-file");
    let driver = Driver::parse(driver)
        .ok_or_else(|| Error::invalid("log driver", driver, "use json-file or k8s-file"))?;
    let (mut size, mut files) = (0u64, 1u32);
    for o in &opts.log_opts {
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        match k {
            "max-size" => {
                size = parse_size(v)
                    .ok_or_else(|| Error::invalid("log-opt max-size", v, "not a size"))?
            }
            "max-file" => {
                files = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Error::invalid("log-opt max-file", v, "must be a number of at least 1")
                })?
            }
            _ => {
                return Err(Error::invalid(
                    "log-opt",
                    o,
                    format!("unknown log opt for the {} log driver", driver.name()),
                ))
            }
        }
    }
    super::health::check_flags(opts)?;
    Ok(json!({
        "io.nook.tty": opts.tty.to_string(),
        "io.nook.stdin": opts.interactive.to_string(),
        "io.nook.restart": policy.name(),
        "io.nook.log-driver": driver.name(),
        "io.nook.log-max-size": size.to_string(),
        "io.nook.log-max-file": files.to_string(),
    }))
}

/// Spec JSON `config` whose terminal starts at `size` (rows, columns),
/// when it has one.
pub(crate) fn with_console_size(
    config: &str,
    tty: bool,
    size: Option<(u16, u16)>,
) -> Result<String> {
    let Some((rows, cols)) = size.filter(|_| tty) else {
        return Ok(config.to_string());
    };
    let mut spec: Value =
        serde_json::from_str(config).map_err(|e| Error::invalid("spec", "consoleSize", e))?;
    spec["process"]["consoleSize"] = json!({"height": rows, "width": cols});
    serde_json::to_string(&spec).map_err(|e| Error::invalid("spec", "consoleSize", e))
}

/// Whether a container has a terminal (`-t`) and keeps its input open
/// (`-i`).
pub fn terminal(rec: &ContainerRecord) -> (bool, bool) {
    let yes = |k| annotation(rec, k).as_deref() == Some("true");
    (yes("io.nook.tty"), yes("io.nook.stdin"))
}

/// What a detached container's monitor runs: the monitor program, the
/// exit command it exec's once the container has exited, and the health
/// command it runs at the health interval.
#[derive(Clone, Debug, Default)]
pub struct MonitorCommands {
    /// The nook-monitor program.
    pub monitor: PathBuf,
    /// `nook ... container cleanup ID`.
    pub exit: Vec<OsString>,
    /// `nook ... healthcheck run ID`.
    pub health: Vec<OsString>,
    /// The caller attaches once the container has started (`run -t`):
    /// the monitor keeps the output for it and waits for it.
    pub wait_attach: bool,
}

fn annotation(rec: &ContainerRecord, key: &str) -> Option<String> {
    let spec: Value = serde_json::from_str(&rec.config).ok()?;
    spec["annotations"][key].as_str().map(String::from)
}

/// A container's restart policy.
pub fn restart_policy(rec: &ContainerRecord) -> RestartPolicy {
    annotation(rec, "io.nook.restart")
        .and_then(|p| RestartPolicy::parse(&p).ok())
        .unwrap_or_default()
}

/// Where and how a container's log is written.
pub fn log_config(rec: &ContainerRecord) -> LogConfig {
    let num = |k| annotation(rec, k).and_then(|v| v.parse::<u64>().ok());
    LogConfig {
        driver: annotation(rec, "io.nook.log-driver")
            .and_then(|d| Driver::parse(&d))
            .unwrap_or(Driver::JsonFile),
        path: rec.log_path.clone(),
        max_size: num("io.nook.log-max-size").unwrap_or(0),
        max_file: num("io.nook.log-max-file").unwrap_or(1).max(1) as u32,
    }
}

/// How many threads this process has.
fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(1)
}

/// Write one report line to the pipe.
fn report(fd: &OwnedFd, line: &str) {
    let _ = nook_sys::fd::write_all(fd.as_raw_fd(), format!("{line}\n").as_bytes());
}

/// End the forked child without unwinding into the caller's code.
fn child_exit(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; nothing of the parent's
    // state (its store connection, buffers) is touched on the way.
    unsafe { libc::_exit(code) }
}

/// Point stdin, stdout and stderr at /dev/null and leave the session.
fn detach_stdio() {
    // SAFETY: setsid and dup2 onto the standard descriptors, in the child.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            libc::close(null);
        }
    }
}

impl Engine {
    /// Start container `id` detached under a monitor (see the module's
    /// comment): `monitor` is the nook-monitor program, `exit_command`
    /// what it exec's once the container has exited.  The forked child
    /// never touches this engine's store connection (it opens its own and
    /// ends in exec or _exit; SQLite's locks are not inherited).  The
    /// caller must be single-threaded.
    pub fn start_detached(&self, id: &str, cmds: &MonitorCommands) -> Result<()> {
        let n = threads();
        if n != 1 {
            return Err(Error::Monitor(format!("cannot fork with {n} threads")));
        }
        let (root, options) = (self.root.clone(), self.options.clone());
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::io("create", "a pipe")(e.into()))?;
        // SAFETY: this process has one thread (checked above); the child
        // ends in exec or _exit and never returns into the caller.
        match unsafe { libc::fork() } {
            -1 => Err(Error::io("fork", "the monitor")(
                std::io::Error::last_os_error(),
            )),
            0 => {
                drop(r);
                detach_stdio();
                let engine = match Engine::open_with(&root, options) {
                    Ok(e) => e,
                    Err(e) => {
                        report(&w, &format!("error {e}"));
                        child_exit(1)
                    }
                };
                engine.be_monitor(id, cmds, w)
            }
            pid => {
                drop(w);
                read_report(r, pid)
            }
        }
    }

    /// The forked child: launch, report, exec the monitor.
    fn be_monitor(&self, id: &str, cmds: &MonitorCommands, w: OwnedFd) -> ! {
        match self.launch(id) {
            Ok(l) => {
                report(&w, "ok");
                let e = self.exec_monitor(id, &l, cmds);
                // no monitor: the container must not run unwatched
                report(
                    &w,
                    &format!("error cannot run {}: {e}", cmds.monitor.display()),
                );
                let _ = l.child.signal(libc::SIGKILL);
                let code = l.child.wait().map(|s| s.code()).unwrap_or(255);
                self.finish(id, code);
                child_exit(1)
            }
            Err(Error::CannotRun { code, message }) => {
                report(&w, &format!("exit {code} {message}"));
                child_exit(0)
            }
            Err(e) => {
                report(&w, &format!("error {e}"));
                child_exit(1)
            }
        }
    }

    /// Exec the monitor of launched container `id` in this process (the
    /// container's parent); returns only when that fails.
    pub fn exec_monitor(&self, id: &str, l: &Launched, cmds: &MonitorCommands) -> std::io::Error {
        let rec = match self.state.container(id) {
            Ok(Some(r)) => r,
            _ => return std::io::ErrorKind::NotFound.into(),
        };
        let log = log_config(&rec);
        let (out, err) = l.fds();
        let input = l.input_fd().unwrap_or(-1);
        for fd in [out, err, input].into_iter().filter(|fd| *fd >= 0) {
            if let Err(e) = nook_sys::fd::set_cloexec(fd, false) {
                return std::io::Error::from_raw_os_error(e as i32);
            }
        }
        let mut cmd = std::process::Command::new(&cmds.monitor);
        cmd.arg("--pid")
            .arg(l.child.pid.to_string())
            .arg("--stdout-fd")
            .arg(out.to_string())
            .arg("--log-path")
            .arg(&log.path)
            .arg("--log-driver")
            .arg(log.driver.name())
            .arg("--log-max-size")
            .arg(log.max_size.to_string())
            .arg("--log-max-file")
            .arg(log.max_file.to_string())
            .arg("--exit-dir")
            .arg(self.container_dir(id))
            .arg("--attach-socket")
            .arg(self.attach_socket(id));
        if err >= 0 {
            cmd.arg("--stderr-fd").arg(err.to_string());
        }
        if input >= 0 {
            cmd.arg("--input-fd").arg(input.to_string());
        }
        if cmds.wait_attach {
            cmd.arg("--wait-attach").arg("1");
        }
        let probe = super::health::probe_of(&rec);
        if let Some(p) = probe.filter(|_| !cmds.health.is_empty()) {
            let ms = |d: Duration| d.as_millis().max(1).to_string();
            cmd.arg("--health-interval-ms").arg(ms(p.interval));
            if !p.start_period.is_zero() {
                cmd.arg("--health-start-period-ms").arg(ms(p.start_period));
                cmd.arg("--health-start-interval-ms")
                    .arg(ms(p.start_interval));
            }
            for a in &cmds.health {
                cmd.arg("--health-arg").arg(a);
            }
        }
        cmd.arg("--").args(&cmds.exit);
        cmd.exec()
    }

    /// The socket `nook attach` connects to (served by the monitor).
    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("attach")
    }

    /// The control socket of container `id`'s monitor, which sets the
    /// size of its terminal (see `nook_monitor::attach::send_resize`).
    pub fn control_socket(&self, id: &str) -> PathBuf {
        self.container_dir(id)
            .join(nook_monitor::attach::CONTROL_SOCKET)
    }

    /// `run -it --rm` detached from: container `id` is removed once it
    /// exits (by its exit command, which reads the annotation this sets,
    /// under the container's lock), or now when it has exited already.
    pub fn remove_on_exit(&self, id: &str) -> Result<()> {
        {
            let _lock = ContainerLock::take(&self.container_dir(id));
            let Some(rec) = self.state.container(id)? else {
                return Ok(());
            };
            if matches!(
                rec.status,
                ContainerStatus::Running | ContainerStatus::Restarting
            ) {
                let extra = json!({ REMOVE_ON_EXIT: "true" });
                let config = super::with_annotations(&rec.config, &extra)?;
                self.state.set_container_config(id, &config)?;
                return Ok(());
            }
        }
        self.remove_container(id, true).map(drop)
    }

    /// After the attached run of container `id` (the caller its parent,
    /// now reaped) exited with `code`: when its restart policy starts it
    /// again, hand its exit over to `exit_command` (`nook container
    /// cleanup ID`, run in a session of its own, as a detached monitor
    /// would exec it: it records the exit, waits and restarts it under a
    /// monitor) and say so; otherwise nothing is done (the caller records
    /// the exit itself).
    pub fn hand_over_restart(
        &self,
        id: &str,
        code: i32,
        exit_command: &[OsString],
    ) -> Result<bool> {
        let Some(rec) = self.state.container(id)? else {
            return Ok(false);
        };
        let (Some(program), false) = (exit_command.first(), rec.stop_requested) else {
            return Ok(false);
        };
        if rec.auto_remove || !restart_policy(&rec).restarts(code, rec.restart_count) {
            return Ok(false);
        }
        let dir = self.container_dir(id);
        let exit = Exit {
            code,
            time: now_nanos(),
        };
        nook_monitor::exit::write(&dir, exit).map_err(Error::io("write", dir.join(EXIT_FILE)))?;
        let mut cmd = std::process::Command::new(program);
        cmd.args(&exit_command[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec: a
        // session of its own and an empty signal mask (the caller may have
        // blocked some for its signalfd).
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                Ok(())
            });
        }
        cmd.spawn().map_err(Error::io("run", program))?;
        Ok(true)
    }

    /// The exit command's work, once container `id` has exited under its
    /// monitor: record the exit from its exit file (under the container's
    /// lock), unmount its root, remove it with `--rm`; when its restart
    /// policy starts it again, the record says `restarting` and the wait
    /// before [`Engine::relaunch_for_restart`] is returned.
    pub fn cleanup_container(&self, id: &str) -> Result<Option<Duration>> {
        let dir = self.container_dir(id);
        let _lock = ContainerLock::take(&dir);
        let Some(rec) = self.state.container(id)? else {
            return Ok(None);
        };
        if rec.status != ContainerStatus::Running {
            return Ok(None); // recorded already
        }
        let mut rec = rec;
        rec.auto_remove |= annotation(&rec, REMOVE_ON_EXIT).as_deref() == Some("true");
        let exit = Exit::read(&dir).unwrap_or(Exit {
            code: 255,
            time: now_nanos(),
        });
        self.record_exit(&rec, exit.code, exit.time);
        if rec.auto_remove {
            return Ok(None);
        }
        let policy = restart_policy(&rec);
        if rec.stop_requested || !policy.restarts(exit.code, rec.restart_count) {
            return Ok(None);
        }
        self.state
            .set_container_restarting(id, std::process::id() as i32)?;
        let ran = (exit.time - rec.started.unwrap_or(exit.time)).max(0);
        Ok(Some(restart_delay(
            rec.restart_count,
            Duration::from_nanos(ran as u64),
        )))
    }

    /// Start container `id` again for its restart policy (this process
    /// becomes its parent): nothing when it was stopped or removed
    /// meanwhile, or when it could not start (that exit recorded).
    pub fn relaunch_for_restart(&self, id: &str) -> Result<Option<Launched>> {
        let dir = self.container_dir(id);
        let _lock = ContainerLock::take(&dir);
        match self.state.container(id)? {
            Some(r) if r.status == ContainerStatus::Restarting && !r.stop_requested => {}
            _ => return Ok(None),
        }
        let _ = std::fs::remove_file(dir.join(EXIT_FILE));
        match self.launch_unlocked(id) {
            Ok(l) => Ok(Some(l)),
            Err((_, code)) => {
                if let Ok(Some(rec)) = self.state.container(id) {
                    self.record_exit(&rec, code.unwrap_or(125), now_nanos());
                }
                Ok(None)
            }
        }
    }

    /// The live status of a record `running` or `restarting`, from its
    /// exit file and monitor; `None` when the runtime must be asked.
    pub(crate) fn detached_status(&self, rec: &mut ContainerRecord) -> Option<LiveStatus> {
        match rec.status {
            ContainerStatus::Restarting => Some(match rec.monitor_pid {
                Some(p) if super::process_alive(p) => LiveStatus::Restarting,
                _ => LiveStatus::Exited(rec.exit_code),
            }),
            ContainerStatus::Running => {
                let exit = Exit::read(&self.container_dir(&rec.id))?;
                rec.exit_code = Some(exit.code);
                rec.finished = Some(exit.time);
                Some(LiveStatus::Exited(Some(exit.code)))
            }
            _ => None,
        }
    }
}

/// The parent's side: read the child's report to its end (the pipe closes
/// when the monitor is exec'd, or the child ends); the last line tells.
fn read_report(r: OwnedFd, pid: i32) -> Result<()> {
    // SAFETY: the read end is ours; the File takes it over.
    let mut f = unsafe { std::fs::File::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(r)) };
    let mut text = String::new();
    let _ = f.read_to_string(&mut text);
    let line = text.lines().last().unwrap_or("");
    let reap = || {
        let mut st = 0;
        // SAFETY: waitpid on our own child, which ended or is ending.
        unsafe { libc::waitpid(pid, &mut st, 0) };
    };
    match line.split_once(' ').unwrap_or((line, "")) {
        ("ok", _) => Ok(()),
        ("exit", rest) => {
            reap();
            let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
            Err(Error::CannotRun {
                code: code.parse().unwrap_or(125),
                message: message.to_string(),
            })
        }
        ("error", message) => {
            reap();
            Err(Error::Monitor(message.to_string()))
        }
        _ => {
            reap();
            Err(Error::Monitor(
                "the monitor ended before it reported".to_string(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure(3)
        );
        assert_eq!(
            RestartPolicy::parse("on-failure").unwrap(),
            RestartPolicy::OnFailure(0)
        );
        assert_eq!(
            RestartPolicy::parse("unless-stopped").unwrap().name(),
            "unless-stopped"
        );
        for bad in ["sometimes", "on-failure:x", "always:2"] {
            let e = RestartPolicy::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.lines().count() == 1, "{e}");
        }
        let p = RestartPolicy::OnFailure(2);
        assert!(p.restarts(1, 0) && p.restarts(1, 1) && !p.restarts(1, 2) && !p.restarts(0, 0));
        assert!(RestartPolicy::Always.restarts(0, 100));
        assert!(!RestartPolicy::No.restarts(1, 0));
    }

    #[test]
    fn delays_double_and_reset() {
        let quick = Duration::from_secs(1);
        assert_eq!(restart_delay(0, quick), Duration::from_millis(100));
        assert_eq!(restart_delay(3, quick), Duration::from_millis(800));
        assert_eq!(restart_delay(40, quick), Duration::from_secs(60));
        assert_eq!(
            restart_delay(5, Duration::from_secs(11)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("2KiB"), Some(2048));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("-1"), None);
    }

    #[test]
    fn log_and_restart_options_are_checked() {
        let o = |r: Option<&str>, rm: bool, opts: &[&str]| super::super::RunOptions {
            restart: r.map(String::from),
            auto_remove: rm,
            log_opts: opts.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let a = annotations(&o(
            Some("on-failure:2"),
            false,
            &["max-size=1k", "max-file=3"],
        ))
        .unwrap();
        assert_eq!(a["io.nook.restart"], "on-failure:2");
        assert_eq!(a["io.nook.log-max-size"], "1024");
        assert_eq!(a["io.nook.log-max-file"], "3");
        let e = annotations(&o(Some("always"), true, &[])).unwrap_err();
        assert!(e.to_string().contains("--restart and --rm"), "{e}");
        let e = annotations(&o(None, false, &["max-file=0"])).unwrap_err();
        assert!(e.to_string().contains("\"0\""), "{e}");
        let e = annotations(&o(None, false, &["colour=red"])).unwrap_err();
        assert!(e.to_string().contains("colour=red"), "{e}");
    }
}
