//! Test fixtures: busybox bundles, a private state root, the runtime binary.

#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_nook-runtime")
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Build a busybox root file system at `dir`.
pub fn busybox_rootfs(dir: &Path) {
    for d in [
        "bin",
        "proc",
        "sys",
        "dev",
        "etc",
        "tmp",
        "root",
        "home/user",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", dir.join("bin/busybox"))
        .expect("busybox-static must be installed (/bin/busybox)");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for app in String::from_utf8_lossy(&list.stdout).lines() {
        if app != "busybox" && !app.is_empty() {
            let _ = symlink("busybox", dir.join("bin").join(app));
        }
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n").unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\ntty:x:5:\nuser:x:1000:\n").unwrap();
}

/// The default configuration with `args`, no terminal.
pub fn config(args: &[&str]) -> Value {
    let mut c = nook_runtime::spec::default_spec(false);
    c["process"]["terminal"] = Value::Bool(false);
    c["process"]["args"] = args.iter().map(|a| Value::String(a.to_string())).collect();
    c
}

/// A test's private world: a state root, scratch space, containers to
/// delete at the end.
pub struct Env {
    /// Scratch directory.
    pub dir: PathBuf,
    /// `--root` of the runtime.
    pub root: PathBuf,
    ids: std::sync::Mutex<Vec<String>>,
}

impl Env {
    /// A fresh environment for test `tag`.
    pub fn new(tag: &str) -> Env {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("nook-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        Env {
            dir,
            root,
            ids: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A container id registered for cleanup.
    pub fn id(&self, name: &str) -> String {
        let id = format!(
            "nook-it-{name}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    /// A bundle named `name` with its own busybox rootfs and `config`.
    pub fn bundle(&self, name: &str, config: &Value) -> PathBuf {
        let b = self.dir.join(name);
        busybox_rootfs(&b.join("rootfs"));
        self.write_config(&b, config);
        b
    }

    /// Replace a bundle's config.json.
    pub fn write_config(&self, bundle: &Path, config: &Value) {
        std::fs::create_dir_all(bundle).unwrap();
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(config).unwrap(),
        )
        .unwrap();
    }

    /// The runtime command with this env's `--root`.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--root").arg(&self.root);
        c
    }

    /// Run the runtime with `args`, capturing output.  Output goes through
    /// files, not pipes: a detached container inherits them and would hold
    /// a pipe open long after the command returned.
    pub fn nook(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        capture(&mut c, &self.dir)
    }

    /// `run --bundle B ID`, capturing output.
    pub fn run(&self, id: &str, bundle: &Path) -> Output {
        self.nook(&["run", "--bundle", bundle.to_str().unwrap(), id])
    }

    /// `run --bundle B ID` in the foreground, its stdin and stdout piped to
    /// the test.
    pub fn spawn_run(&self, id: &str, bundle: &Path) -> std::process::Child {
        self.cmd()
            .args(["run", "--bundle", bundle.to_str().unwrap(), id])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The parsed `state` of a container.
    pub fn state(&self, id: &str) -> Value {
        let o = self.nook(&["state", id]);
        assert!(o.status.success(), "state {id}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Wait until the container's status is `want` (up to 5 s).
    pub fn wait_status(&self, id: &str, want: &str) {
        for _ in 0..500 {
            // The container may not exist yet (a `run` still starting).
            let o = self.nook(&["state", id]);
            if o.status.success()
                && serde_json::from_slice::<Value>(&o.stdout).is_ok_and(|v| v["status"] == want)
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("container {id} never reached {want}: {}", self.state(id));
    }

    /// Does any cgroup directory named like `id` remain?
    pub fn leftover_cgroups(&self, id: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        find_named(Path::new("/sys/fs/cgroup"), id, 0, &mut out);
        out
    }
}

fn find_named(dir: &Path, name: &str, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 6 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if e.file_name().to_string_lossy().contains(name) {
            out.push(e.path());
        }
        find_named(&e.path(), name, depth + 1, out);
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.ids.lock().unwrap().iter() {
            let _ = self.nook(&["delete", "--force", id]);
        }
        // Unmount anything a failed test left under the scratch dir.
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            let d = self.dir.to_string_lossy().to_string();
            let mut mps: Vec<&str> = mi
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|m| m.starts_with(&d))
                .collect();
            mps.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for m in mps {
                let c = std::ffi::CString::new(m).unwrap();
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Run `cmd` and collect its output through files in `dir` (see
/// [`Env::nook`] for why not pipes).
pub fn capture(cmd: &mut Command, dir: &Path) -> Output {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let (o, e) = (dir.join(format!(".out{n}")), dir.join(format!(".err{n}")));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .unwrap();
    let out = Output {
        status,
        stdout: std::fs::read(&o).unwrap_or_default(),
        stderr: std::fs::read(&e).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&o);
    let _ = std::fs::remove_file(&e);
    out
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert success and return stdout.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "command failed ({:?}): stdout={} stderr={}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Assert a failure with exit status 1 and exactly one line on stderr that
/// contains `needle`.
#[track_caller]
pub fn fails_with(o: &Output, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1, got {:?}; stdout={} stderr={}",
        o.status,
        stdout(o),
        stderr(o)
    );
    let e = stderr(o);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {e}");
    assert!(
        lines[0].contains(needle),
        "stderr {:?} does not mention {needle:?}",
        lines[0]
    );
}

/// Accept one connection on `listener` and receive one message from it: its
/// bytes and the first descriptor sent with it (`SCM_RIGHTS`), as a console
/// socket or a seccomp listener gets them.
pub fn accept_fd(listener: &std::os::unix::net::UnixListener) -> (Vec<u8>, std::os::fd::OwnedFd) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    let (conn, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    let n = msg.bytes;
    let mut fd = None;
    for cm in msg.cmsgs().unwrap() {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = cm {
            // SAFETY: received just now; ours to own.
            fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    buf.truncate(n);
    (buf, fd.expect("no descriptor received"))
}

/// Everything readable from `f` until EOF or an error (a pty master reports
/// EIO once the container's side is closed), with `\r` dropped.
pub fn read_all(f: impl Into<std::fs::File>) -> String {
    use std::io::Read;
    let mut f = f.into();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match f.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}
