//! Running one runtime command: spawned with its own `--root`, timed from
//! spawn to reap, with the peak RSS the kernel reports for it (`wait4`),
//! optionally inside a memory cgroup from its first instruction.

use anyhow::{bail, Result};
use std::fs::{self, File};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A runtime under test.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Its name in the report.
    pub name: String,
    /// Its binary.
    pub bin: PathBuf,
    /// Its private `--root` state directory.
    pub root: PathBuf,
    /// Where its commands' stderr goes (read back on failure).
    pub errdir: PathBuf,
}

/// What one command cost.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Wall time from spawn to reap.
    pub time: Duration,
    /// `ru_maxrss` of the command (KiB).
    pub maxrss_kib: i64,
}

impl Runtime {
    /// Runs `--root ROOT ARGS...`; fails (with the command's last stderr
    /// line) unless it exits 0.  With `cgroup_procs`, the child writes
    /// itself into that open `cgroup.procs` before it execs.  `slot` names
    /// the stderr file so that concurrent workers do not share one.
    pub fn run(&self, args: &[&str], cgroup_procs: Option<RawFd>, slot: usize) -> Result<Cost> {
        let (cost, status, last) = self.spawn(args, cgroup_procs, slot)?;
        if status != 0 {
            return Err(self.failed(args, status, &last));
        }
        Ok(cost)
    }

    /// As [`Runtime::run`], but any exit status is accepted and returned
    /// with the last line of stderr.
    pub fn spawn(
        &self,
        args: &[&str],
        cgroup_procs: Option<RawFd>,
        slot: usize,
    ) -> Result<(Cost, i32, String)> {
        let errpath = self.errdir.join(format!("{}-{slot}.err", self.name));
        let err = File::create(&errpath)?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.root).args(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        if let Some(fd) = cgroup_procs {
            // SAFETY: only write(2) between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let t0 = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("{}: {}: {e}", self.name, self.bin.display()))?;
        let (status, ru) = wait4(child.id() as i32)?;
        let time = t0.elapsed();
        let last = if status != 0 {
            last_line(&errpath)
        } else {
            String::new()
        };
        Ok((
            Cost {
                time,
                maxrss_kib: ru.ru_maxrss,
            },
            status,
            last,
        ))
    }

    /// The error of `args` exiting with `status`, naming the last line of
    /// what it wrote to stderr.
    pub fn failed(&self, args: &[&str], status: i32, last: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "{} `{}`: {}: {last}",
            self.name,
            args.join(" "),
            describe(status)
        )
    }

    /// `delete --force ID`, ignoring failure (cleanup paths).
    pub fn force_delete(&self, id: &str) {
        let _ = Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The first line of `BIN --version`.
    pub fn version(&self) -> String {
        Command::new(&self.bin)
            .arg("--version")
            .stderr(Stdio::null())
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "?".into())
    }
}

/// The last non-empty line of a file (a command's stderr), trimmed.
pub fn last_line(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// "exit N" or "killed by signal N".
pub fn describe(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status:#x}")
    }
}

/// Reaps `pid`, returning its wait status and rusage.
pub fn wait4(pid: i32) -> Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            return Ok((status, ru));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            bail!("wait4({pid}): {e}");
        }
    }
}

/// Waits until the container process `pid` has exited: reaps it when it
/// is a child (the benchmark is a subreaper, so a container's init becomes
/// its child once `create` exits), else polls for it to go.
pub fn wait_gone(pid: i32, limit: Duration) -> Result<()> {
    let mut status = 0;
    // SAFETY: plain waitpid.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    if r == pid {
        return Ok(());
    }
    let t0 = Instant::now();
    // SAFETY: kill with signal 0 only probes.
    while unsafe { libc::kill(pid, 0) } == 0 {
        if t0.elapsed() > limit {
            bail!("container process {pid} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

/// Reads the pid a runtime wrote to `--pid-file`.
pub fn read_pid(path: &Path) -> Result<i32> {
    let s = fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    s.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{}: '{}' is not a pid", path.display(), s.trim()))
}

/// An open `cgroup.procs` kept for [`Runtime::run`].
pub struct Procs(File);

impl Procs {
    /// Opens `dir/cgroup.procs` for writing.
    pub fn open(dir: &Path) -> Result<Procs> {
        Ok(Procs(
            fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))?,
        ))
    }
    /// The raw fd.
    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A small process forked before the benchmark grows, which spawns the
/// commands whose peak RSS is measured.  Linux carries a parent's RSS
/// high-water mark into every child it forks (and through `exec`), so a
/// command forked by the benchmark itself would report at least the
/// benchmark's own size; forked by the launcher, it reports its own peak
/// (checked against GNU time's `%M`, which forks from a small process too).
pub struct Launcher {
    sock: std::os::unix::net::UnixDatagram,
    pid: i32,
}

impl Launcher {
    /// Forks the launcher.  Call while the process is small and has one
    /// thread.
    pub fn start() -> Result<Launcher> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        // SAFETY: single-threaded here; the child only runs `serve`.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            bail!("fork: {}", std::io::Error::last_os_error());
        }
        if pid == 0 {
            drop(a);
            // SAFETY: ask for SIGKILL when the benchmark dies.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            serve(&b);
            // SAFETY: leave without running the parent's atexit work.
            unsafe { libc::_exit(0) };
        }
        drop(b);
        Ok(Launcher { sock: a, pid })
    }

    /// The launcher's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Runs `bin --root ROOT args...` of runtime `rt` from the launcher,
    /// stderr to `err`; returns the cost and the wait status.
    pub fn run(&self, rt: &Runtime, args: &[&str], err: &Path) -> Result<(Cost, i32)> {
        let (bin, root) = (rt.bin.to_string_lossy(), rt.root.to_string_lossy());
        let argv: Vec<&str> = [&*bin, "--root", &*root]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        self.spawn(&argv, err)
    }

    /// Runs `argv` (program first) from the launcher, stderr to `err`.
    pub fn spawn(&self, argv: &[&str], err: &Path) -> Result<(Cost, i32)> {
        let mut req: Vec<u8> = Vec::new();
        let errs = err.to_string_lossy();
        for f in std::iter::once(&*errs).chain(argv.iter().copied()) {
            req.extend_from_slice(f.as_bytes());
            req.push(0);
        }
        self.sock.send(&req)?;
        let mut buf = [0u8; 128];
        let n = self.sock.recv(&mut buf)?;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let v: Vec<i64> = text
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() != 3 {
            bail!("launcher: bad reply '{text}'");
        }
        if v[0] < 0 {
            bail!(
                "launcher: cannot start {}: {}",
                argv[0],
                std::io::Error::from_raw_os_error(-v[0] as i32)
            );
        }
        Ok((
            Cost {
                time: Duration::from_nanos(v[2] as u64),
                maxrss_kib: v[1],
            },
            v[0] as i32,
        ))
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        // SAFETY: kill and reap our own child.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// The launcher's loop: one request (NUL-separated: stderr path, program,
/// args) per datagram, one reply "STATUS MAXRSS_KIB NANOS" (STATUS is
/// -errno when the program could not start).
fn serve(sock: &std::os::unix::net::UnixDatagram) {
    use std::ffi::CString;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let Ok(n) = sock.recv(&mut buf) else { return };
        if n == 0 {
            return;
        }
        let fields: Vec<CString> = buf[..n]
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .filter_map(|f| CString::new(f).ok())
            .collect();
        if fields.len() < 2 {
            let _ = sock.send(b"-22 0 0");
            continue;
        }
        let mut argv: Vec<*const libc::c_char> = fields[1..].iter().map(|c| c.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut errno_pipe = [0i32; 2];
        // SAFETY: plain syscalls; the child only calls async-signal-safe ones.
        let reply = unsafe {
            libc::pipe2(errno_pipe.as_mut_ptr(), libc::O_CLOEXEC);
            let mut t0: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t0);
            let pid = libc::fork();
            if pid == 0 {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                let err = libc::open(
                    fields[0].as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                    0o644,
                );
                libc::dup2(null, 0);
                libc::dup2(null, 1);
                libc::dup2(err, 2);
                libc::execv(fields[1].as_ptr(), argv.as_ptr());
                let e = *libc::__errno_location();
                libc::write(errno_pipe[1], (&e as *const i32).cast(), 4);
                libc::_exit(127);
            }
            libc::close(errno_pipe[1]);
            let mut status = 0;
            let mut ru: libc::rusage = std::mem::zeroed();
            while libc::wait4(pid, &mut status, 0, &mut ru) < 0
                && *libc::__errno_location() == libc::EINTR
            {}
            let mut t1: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t1);
            let mut e = 0i32;
            let got = libc::read(errno_pipe[0], (&mut e as *mut i32).cast(), 4);
            libc::close(errno_pipe[0]);
            let nanos =
                (t1.tv_sec - t0.tv_sec) as i64 * 1_000_000_000 + (t1.tv_nsec - t0.tv_nsec) as i64;
            if got == 4 {
                format!("{} 0 0", -e)
            } else {
                format!("{status} {} {nanos}", ru.ru_maxrss)
            }
        };
        if sock.send(reply.as_bytes()).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_times_and_reports_failure() {
        let dir = std::env::temp_dir().join(format!("nook-bench-runner-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // /bin/sh takes `--root X -c ...` badly; use a script as the "runtime"
        let bin = dir.join("rt");
        fs::write(
            &bin,
            "#!/bin/sh\n[ \"$3\" = ok ] && exit 0\necho \"no good: $3\" >&2\nexit 3\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let rt = Runtime {
            name: "t".into(),
            bin,
            root: dir.clone(),
            errdir: dir.clone(),
        };
        let c = rt.run(&["ok"], None, 0).unwrap();
        assert!(c.maxrss_kib > 0);
        let e = rt.run(&["bad"], None, 0).unwrap_err().to_string();
        assert!(e.contains("exit 3") && e.contains("no good: bad"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
