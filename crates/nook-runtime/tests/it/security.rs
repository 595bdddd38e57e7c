//! Boundaries, attacked from inside real containers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::json;

use crate::common::*;

/// The static attack probe (fixtures/probe.c), built once.
fn probe() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nook-probe");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/probe.c");
        let st = std::process::Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success(), "cannot build the probe (cc -static)");
        out
    })
}

fn with_probe(env: &Env, name: &str, c: &serde_json::Value) -> PathBuf {
    let b = env.bundle(name, c);
    std::fs::copy(probe(), b.join("rootfs/bin/probe")).unwrap();
    b
}

fn results(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn seccomp(profile: serde_json::Value, args: &[&str]) -> (i32, String) {
    let env = Env::new("seccomp");
    let mut c = config(args);
    c["root"]["readonly"] = false.into();
    c["linux"]["seccomp"] = profile;
    let b = env.bundle("b", &c);
    let id = env.id("seccomp");
    let o = env.run(&id, &b);
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&o), stderr(&o)),
    )
}

fn rule(action: &str, names: &[&str]) -> serde_json::Value {
    json!({"names": names, "action": action})
}

#[test]
fn seccomp_errno_is_what_the_program_sees() {
    let (_, out) = seccomp(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}),
        &["sh", "-c", "mkdir /tmp/x; echo rc=$?"],
    );
    assert!(
        out.contains("Function not implemented") && out.contains("rc=1"),
        "{out}"
    );
    // without errnoRet: EPERM
    let (_, out) = seccomp(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule("SCMP_ACT_ERRNO", &["mkdir", "mkdirat"])]}),
        &["sh", "-c", "mkdir /tmp/x"],
    );
    assert!(out.contains("Operation not permitted"), "{out}");
}

#[test]
fn seccomp_default_errno_ret() {
    let header = std::fs::read_to_string("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").unwrap();
    let all: Vec<String> = header
        .lines()
        .filter_map(|l| l.strip_prefix("#define __NR_"))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "mkdir" && *n != "mkdirat")
        .map(str::to_string)
        .collect();
    let (_, out) = seccomp(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 95, "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": all, "action": "SCMP_ACT_ALLOW"}]}),
        &["sh", "-c", "mkdir /tmp/x; echo rc=$?"],
    );
    assert!(
        out.contains("Not supported") || out.contains("Operation not supported"),
        "{out}"
    );
}

#[test]
fn seccomp_kill_trap_log_trace_actions() {
    for action in [
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL",
        "SCMP_ACT_TRAP",
    ] {
        let (_, out) = seccomp(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule(action, &["mkdir", "mkdirat"])]}),
            &["sh", "-c", "mkdir /tmp/x; echo rc=$?"],
        );
        // killed by SIGSYS (31)
        assert!(out.contains("rc=159"), "{action}: {out}");
    }
    let (_, out) = seccomp(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule("SCMP_ACT_LOG", &["mkdir", "mkdirat"])]}),
        &["sh", "-c", "mkdir /tmp/x && echo made"],
    );
    assert!(out.contains("made"), "SCMP_ACT_LOG allows: {out}");
    let (_, out) = seccomp(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_TRACE", "errnoRet": 1}]}),
        &["sh", "-c", "mkdir /tmp/x; echo rc=$?"],
    );
    // no tracer attached: the call fails with ENOSYS
    assert!(
        out.contains("Function not implemented"),
        "SCMP_ACT_TRACE without a tracer: {out}"
    );
}

#[test]
fn seccomp_argument_operators() {
    // kill(pid, sig): compare the signal (argument 1).  The shell ignores
    // the signals it sends itself; 0 only probes.
    let cases: Vec<(serde_json::Value, Vec<(u32, bool)>)> = vec![
        (
            json!([{"index": 1, "value": 23, "op": "SCMP_CMP_EQ"}]),
            vec![(23, false), (28, true)],
        ),
        (
            json!([{"index": 1, "value": 23, "op": "SCMP_CMP_NE"}]),
            vec![(23, true), (28, false)],
        ),
        (
            json!([{"index": 1, "value": 23, "op": "SCMP_CMP_GT"}]),
            vec![(28, false), (17, true)],
        ),
        (
            json!([{"index": 1, "value": 23, "op": "SCMP_CMP_GE"}]),
            vec![(23, false), (17, true)],
        ),
        (
            json!([{"index": 1, "value": 23, "op": "SCMP_CMP_LT"}]),
            vec![(17, false), (28, true)],
        ),
        (
            json!([{"index": 1, "value": 23, "op": "SCMP_CMP_LE"}]),
            vec![(23, false), (28, true)],
        ),
        (
            json!([{"index": 1, "value": 16, "valueTwo": 16, "op": "SCMP_CMP_MASKED_EQ"}]),
            vec![(17, false), (28, false), (0, true)],
        ),
        // two conditions on one argument: either denies
        (
            json!([{"index": 1, "value": 17, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 28, "op": "SCMP_CMP_EQ"}]),
            vec![(17, false), (28, false), (23, true)],
        ),
    ];
    for (args, expect) in cases {
        let mut script = String::from("trap '' CHLD URG WINCH; ");
        for (sig, _) in &expect {
            script.push_str(&format!(
                "kill -{sig} $$ 2>/dev/null && echo {sig}=sent || echo {sig}=denied; "
            ));
        }
        let (_, out) = seccomp(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": args}]}),
            &["sh", "-c", &script],
        );
        for (sig, sent) in expect {
            let want = format!("{sig}={}", if sent { "sent" } else { "denied" });
            assert!(out.contains(&want), "{args}: want {want} in {out}");
        }
    }
}

#[test]
fn seccomp_unknown_syscalls_are_ignored_with_a_warning() {
    let env = Env::new("unknownsys");
    let mut c = config(&["echo", "runs"]);
    c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [rule("SCMP_ACT_ERRNO", &["nook_syscall_from_the_future", "mkdirat"])]});
    let b = env.bundle("b", &c);
    let id = env.id("unknownsys");
    let o = env.run(&id, &b);
    assert_eq!(ok(&o), "runs\n");
    assert!(
        stderr(&o).contains("nook_syscall_from_the_future"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("level=warning"));
}

#[test]
fn seccomp_flags_are_accepted() {
    let (code, out) = seccomp(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
               "syscalls": [rule("SCMP_ACT_ERRNO", &["mkdirat", "mkdir"])]}),
        &[
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status; mkdir /tmp/x 2>/dev/null || echo denied",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Seccomp:\t2") && out.contains("denied"),
        "{out}"
    );
}

#[repr(C)]
#[derive(Default)]
struct NotifReq {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

#[test]
fn seccomp_notify_hands_the_fd_and_state_to_the_listener() {
    use std::os::fd::AsRawFd;
    let env = Env::new("notify");
    let sock = env.dir.join("listener.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut c = config(&["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"]);
    c["root"]["readonly"] = false.into();
    c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "meta-1",
        "syscalls": [rule("SCMP_ACT_NOTIFY", &["mkdirat", "mkdir"])]});
    let b = env.bundle("b", &c);
    let id = env.id("notify");
    let handler = std::thread::spawn(move || {
        let (data, fd) = accept_fd(&listener);
        let state: serde_json::Value = serde_json::from_slice(&data).unwrap();
        // answer one notification: EPERM
        let mut req = NotifReq::default();
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), 0xc0502100u64 as _, &mut req) };
        assert_eq!(r, 0, "NOTIF_RECV");
        let resp = NotifResp {
            id: req.id,
            val: 0,
            error: -libc::EACCES,
            flags: 0,
        };
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), 0xc0182101u64 as _, &resp) };
        assert_eq!(r, 0, "NOTIF_SEND");
        (state, req.nr)
    });
    ok(&env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]));
    ok(&env.nook(&["start", &id]));
    let (state, nr) = handler.join().unwrap();
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "meta-1");
    assert_eq!(state["state"]["id"], id.as_str());
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert!(nr == libc::SYS_mkdirat as i32 || nr == libc::SYS_mkdir as i32);
    env.wait_status(&id, "stopped");
    ok(&env.nook(&["delete", &id]));
}

#[test]
fn default_profile_holds_against_escapes() {
    // The `spec` default: capabilities, seccomp, masked and read-only paths.
    let env = Env::new("escape");
    let script = "probe keyring keyctl mknod mount cgroup-mount release-agent ptrace-init unshare-user sysrq proc-sys; \
                  ls /sys/firmware | wc -l";
    let mut c = config(&["sh", "-c", script]);
    c["root"]["readonly"] = false.into();
    let b = with_probe(&env, "b", &c);
    let id = env.id("escape");
    let out = ok(&env.run(&id, &b));
    let r = results(&out);
    for attack in [
        "keyring",
        "keyctl",
        "mknod",
        "mount",
        "cgroup-mount",
        "release-agent",
        "ptrace-init",
        "unshare-user",
        "sysrq",
        "proc-sys",
    ] {
        let got = r.get(attack).map(String::as_str).unwrap_or("missing");
        assert_ne!(got, "ok", "{attack} succeeded inside the container: {out}");
        assert_ne!(got, "missing", "{attack}: {out}");
    }
    assert_eq!(
        out.lines().last(),
        Some("0"),
        "/sys/firmware is visible: {out}"
    );
    assert!(!std::fs::read_to_string("/proc/keys")
        .unwrap_or_default()
        .contains("nook-probe"));
    assert!(!b.join("rootfs/tmp/sda").exists());
}

#[test]
fn proc_self_exe_never_reaches_the_runtime_binary() {
    let env = Env::new("exe");
    // The image's program is a script whose interpreter is /proc/self/exe:
    // at execve time that is whatever nook executes the program from.
    let mut c = config(&["/bin/evil"]);
    c["root"]["readonly"] = false.into();
    let b = env.bundle("b", &c);
    std::fs::write(b.join("rootfs/bin/evil"), "#!/proc/self/exe\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(b.join("rootfs/bin/evil"))
            .unwrap()
            .permissions(),
        0o755,
    );
    std::fs::set_permissions(
        b.join("rootfs/bin/evil"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let before = std::fs::read(bin()).unwrap();
    let id = env.id("exe");
    let o = env.run(&id, &b);
    // The sealed trampoline ran again instead of nook-runtime, and failed.
    assert_eq!(o.status.code(), Some(127), "{} {}", stdout(&o), stderr(&o));
    assert!(
        !stdout(&o).contains("nook-runtime") && !stderr(&o).contains("Usage"),
        "the runtime binary ran in the container: {}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(bin()).unwrap(), before);
}

#[test]
fn exec_never_exposes_the_runtime_binary_to_the_container() {
    // A process of the container watches for new processes and tries to
    // reach their /proc/PID/exe while `exec` enters; it must never see
    // the runtime's binary.
    let env = Env::new("execexe");
    let watch = "while :; do for p in /proc/[0-9]*; do readlink $p/exe; done; done 2>/dev/null | grep -v busybox > /tmp/seen";
    let mut c = config(&["sh", "-c", watch]);
    c["root"]["readonly"] = false.into();
    let b = env.bundle("b", &c);
    let id = env.id("execexe");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    for _ in 0..20 {
        ok(&env.nook(&["exec", &id, "true"]));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let seen = std::fs::read_to_string(b.join("rootfs/tmp/seen")).unwrap_or_default();
    assert!(
        !seen.contains("nook-runtime"),
        "the container saw the runtime binary: {seen}"
    );
    ok(&env.nook(&["delete", "--force", &id]));
}

#[test]
fn cwd_cannot_point_outside_the_rootfs() {
    let env = Env::new("cwdfd");
    let b = env.bundle("b", &config(&["pwd"]));
    for cwd in [
        "/proc/self/fd/3",
        "/proc/self/fd/5",
        "/proc/self/cwd",
        "/proc/1/root",
    ] {
        let mut c = config(&["pwd"]);
        c["process"]["cwd"] = cwd.into();
        env.write_config(&b, &c);
        let id = env.id("cwdfd");
        let o = env.nook(&["run", "--bundle", b.to_str().unwrap(), &id]);
        // Either refused, or the program is somewhere inside the container.
        if o.status.success() {
            assert!(
                !stdout(&o).starts_with("/work") && !stdout(&o).starts_with("/tmp/nook"),
                "{cwd}: escaped to {}",
                stdout(&o)
            );
        } else {
            fails_with(&o, "cwd");
        }
        assert!(!env.root.join(&id).exists());
    }
}

#[test]
fn masked_path_symlink_does_not_mask_the_host() {
    let env = Env::new("masklink");
    let host_file = env.dir.join("host-secret");
    std::fs::write(&host_file, "keep me\n").unwrap();
    let mut c = config(&["true"]);
    c["linux"]["maskedPaths"] = json!(["/etc/evil"]);
    c["linux"]["readonlyPaths"] = json!(["/etc/evil2"]);
    let b = env.bundle("b", &c);
    std::os::unix::fs::symlink(&host_file, b.join("rootfs/etc/evil")).unwrap();
    std::os::unix::fs::symlink(&host_file, b.join("rootfs/etc/evil2")).unwrap();
    let id = env.id("masklink");
    ok(&env.run(&id, &b));
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "keep me\n");
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mi.contains(host_file.to_str().unwrap()));
}

#[test]
fn lsm_labels_on_a_host_without_the_lsm_are_refused() {
    let lsm_enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'));
    let env = Env::new("lsm");
    let mut c = config(&["true"]);
    c["process"]["apparmorProfile"] = "nook-default".into();
    let b = env.bundle("b", &c);
    let id = env.id("lsm");
    if !lsm_enabled {
        fails_with(
            &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
            "AppArmor is not enabled",
        );
    }
    let mut c = config(&["true"]);
    c["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0".into();
    env.write_config(&b, &c);
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        fails_with(
            &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
            "SELinux is not enabled",
        );
    }
    let mut c = config(&["true"]);
    c["linux"]["intelRdt"] = json!({"closID": "x"});
    env.write_config(&b, &c);
    fails_with(
        &env.nook(&["create", "--bundle", b.to_str().unwrap(), &id]),
        "intelRdt",
    );
}

#[test]
fn personality_io_priority_scheduler() {
    let env = Env::new("sched");
    let mut c = config(&[
        "sh",
        "-c",
        "uname -m; ionice -p $$; cut -d' ' -f41 /proc/self/stat",
    ]);
    c["linux"]["personality"] = json!({"domain": "LINUX32"});
    c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    let b = env.bundle("b", &c);
    let id = env.id("sched");
    let out = ok(&env.run(&id, &b));
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "i686");
    assert!(
        l[1].contains("best-effort") && l[1].contains('6'),
        "{}",
        l[1]
    );
    assert_eq!(l[2], "3", "SCHED_BATCH is policy 3");
}

/// An ordinary user for rootless tests (created once, kept): uid, gid and
/// the first id of its /etc/subuid (and subgid) range.
fn test_user() -> (u32, u32, u32) {
    static U: OnceLock<(u32, u32, u32)> = OnceLock::new();
    *U.get_or_init(|| {
        let name = "nook-rootless";
        let id = |flag: &str| {
            std::process::Command::new("id")
                .args([flag, name])
                .output()
                .ok()
                .filter(|o| o.status.success())
        };
        if id("-u").is_none() {
            let st = std::process::Command::new("useradd")
                .args(["--no-create-home", "--shell", "/bin/sh", name])
                .status()
                .unwrap();
            assert!(st.success(), "useradd {name}");
        }
        let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
        if !subuid.lines().any(|l| l.starts_with(&format!("{name}:"))) {
            let line = format!("{name}:300000:65536\n");
            for f in ["/etc/subuid", "/etc/subgid"] {
                let mut old = std::fs::read_to_string(f).unwrap_or_default();
                old.push_str(&line);
                std::fs::write(f, old).unwrap();
            }
        }
        let get = |flag| {
            String::from_utf8_lossy(&id(flag).unwrap().stdout)
                .trim()
                .parse()
                .unwrap()
        };
        let sub = |f: &str| -> u32 {
            let t = std::fs::read_to_string(f).unwrap();
            let l = t
                .lines()
                .find(|l| l.starts_with(&format!("{name}:")))
                .unwrap()
                .to_string();
            let start: u32 = l.split(':').nth(1).unwrap().parse().unwrap();
            let count: u32 = l.split(':').nth(2).unwrap().parse().unwrap();
            assert!(count >= 65536, "{f}: {name} needs 65536 ids");
            start
        };
        let (su, sg) = (sub("/etc/subuid"), sub("/etc/subgid"));
        assert_eq!(su, sg, "the test maps the same range for uids and gids");
        (get("-u"), get("-g"), su)
    })
}

struct Rootless {
    uid: u32,
    gid: u32,
    xdg: PathBuf,
    ids: Vec<String>,
}

impl Rootless {
    fn cmd(&self) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut c = std::process::Command::new(bin());
        c.uid(self.uid)
            .gid(self.gid)
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .env("HOME", &self.xdg)
            .current_dir(&self.xdg);
        c
    }
    fn nook(&self, args: &[&str]) -> std::process::Output {
        let mut c = self.cmd();
        c.args(args);
        capture(&mut c, &std::env::temp_dir())
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.nook(&["delete", "--force", id]);
        }
    }
}

fn rootless_bundle(
    env: &Env,
    r: &Rootless,
    name: &str,
    args: &[&str],
    maps: Option<serde_json::Value>,
) -> PathBuf {
    let b = env.dir.join(name);
    crate::common::busybox_rootfs(&b.join("rootfs"));
    std::os::unix::fs::chown(&b, Some(r.uid), Some(r.gid)).unwrap();
    // the config comes from `spec --rootless`, run as the user
    ok(&r.nook(&["spec", "--rootless", "--bundle", b.to_str().unwrap()]));
    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    c["process"]["terminal"] = false.into();
    c["process"]["args"] = json!(args);
    if let Some(m) = maps {
        c["linux"]["uidMappings"] = m.clone();
        c["linux"]["gidMappings"] = m;
    }
    std::fs::write(b.join("config.json"), serde_json::to_vec(&c).unwrap()).unwrap();
    b
}

#[test]
fn rootless_create_start_delete_as_an_ordinary_user() {
    let (uid, gid, sub) = test_user();
    let env = Env::new("rootless");
    let xdg = env.dir.join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    std::os::unix::fs::chown(&xdg, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(
        &env.dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let id = format!("nook-it-rootless-{}", std::process::id());
    let mut r = Rootless {
        uid,
        gid,
        xdg: xdg.clone(),
        ids: vec![id.clone()],
    };
    let b = rootless_bundle(&env, &r, "b", &["sleep", "30"], None);
    ok(&r.nook(&["create", "--bundle", b.to_str().unwrap(), &id]));
    assert!(
        xdg.join("nook-runtime")
            .join(&id)
            .join("state.json")
            .exists(),
        "state must live under $XDG_RUNTIME_DIR"
    );
    ok(&r.nook(&["start", &id]));
    let st: serde_json::Value = serde_json::from_slice(&r.nook(&["state", &id]).stdout).unwrap();
    assert_eq!(st["status"], "running");
    let pid = st["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let u = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        u.split_whitespace().nth(1),
        Some(uid.to_string().as_str()),
        "root in the container is the user outside"
    );
    ok(&r.nook(&["delete", "--force", &id]));
    assert!(!xdg.join("nook-runtime").join(&id).exists());
    // what the container sees, with a second range mapped by newuidmap
    let maps = json!([{"containerID": 0, "hostID": uid, "size": 1}, {"containerID": 1, "hostID": sub, "size": 65536}]);
    let b2 = rootless_bundle(
        &env,
        &r,
        "b2",
        &["sh", "-c", "id -u; cat /proc/self/uid_map; hostname"],
        Some(maps),
    );
    let id2 = format!("nook-it-rootless2-{}", std::process::id());
    r.ids.push(id2.clone());
    let o = r.nook(&["run", "--bundle", b2.to_str().unwrap(), &id2]);
    let out = ok(&o);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words[..7],
        [
            "0",
            "0",
            &uid.to_string(),
            "1",
            "1",
            &sub.to_string(),
            "65536"
        ],
        "{out}"
    );
}

/// The file of the container's cgroup (the one that holds its limits) for
/// controller `ctl`: `v1` on a v1 hierarchy, `v2` in the unified one.
fn limit_file(env: &Env, id: &str, ctl: &str, v1: &str, v2: &str) -> PathBuf {
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.root.join(id).join("state.json")).unwrap())
            .unwrap();
    let cg = &st["cgroup"];
    if let Some(m) = cg["v1"].as_object() {
        if let Some((_, d)) = m.iter().find(|(k, _)| k.split(',').any(|c| c == ctl)) {
            return Path::new(d.as_str().unwrap()).join(v1);
        }
    }
    Path::new(cg["v2"].as_str().unwrap()).join(v2)
}

/// With runc spec's defaults (root inside, no seccomp) a process may make
/// its own user, mount and cgroup namespaces and mount cgroupfs there, where
/// it owns its cgroup's files by plain uid.  What it reaches is the leaf its
/// processes live in: the limits on the container's cgroup still hold — an
/// allocation past them is OOM-killed, a fork past pids.max fails — and
/// `update` still changes them.
#[test]
fn a_container_cannot_lift_its_own_cgroup_limits() {
    let env = Env::new("cglift");
    let mut c = config(&["sh", "-c", "probe raise-limits; sleep 3600"]);
    c["linux"].as_object_mut().unwrap().remove("seccomp");
    c["root"]["readonly"] = false.into();
    c["linux"]["resources"]["memory"] = json!({"limit": 32 << 20, "swap": 32 << 20});
    c["linux"]["resources"]["pids"] = json!({"limit": 16});
    let b = with_probe(&env, "b", &c);
    let id = env.id("cglift");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    // the probe's report goes to the container's stdout: ask again by exec
    let attack = ok(&env.nook(&["exec", &id, "probe", "raise-limits"]));
    let r = results(&attack);
    assert!(
        !r.contains_key("raise-limits"),
        "the probe could not even mount its own cgroupfs: {attack}"
    );
    let mem = limit_file(&env, &id, "memory", "memory.limit_in_bytes", "memory.max");
    let pids = limit_file(&env, &id, "pids", "pids.max", "pids.max");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap().trim().to_string();
    assert_eq!(read(&mem), (32 << 20).to_string(), "{attack}");
    assert_eq!(read(&pids), "16", "{attack}");
    // the effective limits, from inside
    let o = env.nook(&[
        "exec",
        &id,
        "sh",
        "-c",
        "probe raise-limits alloc 64; echo rc=$?",
    ]);
    assert!(
        stdout(&o).contains("rc=137"),
        "{} {}",
        stdout(&o),
        stderr(&o)
    );
    let o = ok(&env.nook(&["exec", &id, "sh", "-c", "probe raise-limits fork 40"]));
    let made: u32 = results(&o)["fork"]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(made < 16, "{o}");
    // update still moves the limits that hold
    ok(&env.nook(&[
        "update",
        "--memory",
        "128M",
        "--memory-swap",
        "128M",
        "--pids-limit",
        "64",
        &id,
    ]));
    assert_eq!(read(&mem), (128 << 20).to_string());
    let o = ok(&env.nook(&[
        "exec",
        &id,
        "sh",
        "-c",
        "probe alloc 64; echo rc=$?; probe fork 40",
    ]));
    assert!(
        o.contains("alloc: 64 MiB touched") && o.contains("rc=0"),
        "{o}"
    );
    assert_eq!(results(&o)["fork"], "40 of 40", "{o}");
    ok(&env.nook(&["delete", "--force", &id]));
    assert!(env.leftover_cgroups(&id).is_empty());
}

/// CVE-2024-21626: a working directory of `/proc/self/fd/N` reaches a host
/// directory whose descriptor is still open in the process when it changes
/// to its cwd.  Attacked as an outsider would: a host directory holding a
/// secret is leaked to the runtime as every descriptor 3..=20 (a careless
/// caller), and the runtime also runs with nothing leaked (its own
/// descriptors); config.json's `process.cwd`, `exec --cwd` and
/// `exec --process` each ask for `/proc/self/fd/N`.  Every attempt is
/// refused naming process.cwd, and the secret is neither read nor written.
#[test]
fn a_working_directory_through_proc_self_fd_never_reaches_the_host() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let env = Env::new("cwdfd");
    let host = env.dir.join("host-secret");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("secret"), "TOPSECRET\n").unwrap();
    let hostdir = std::fs::File::open(&host).unwrap();
    let leak_fd = hostdir.as_raw_fd();
    let attack = "pwd; cat secret; echo pwned > pwned";
    let c = config(&["sh", "-c", "sleep 3600"]);
    let b = env.bundle("b", &c);
    let id = env.id("cwdfd");
    ok(&env.nook(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]));
    let proc_json = env.dir.join("process.json");
    let mut tried = 0;
    for leak in [true, false] {
        // The runtime with the host directory as descriptors 3..=20.
        let nook = |args: &[&str]| {
            let mut cmd = env.cmd();
            cmd.args(args);
            if leak {
                // SAFETY: only dup2 between fork and exec.
                unsafe {
                    cmd.pre_exec(move || {
                        for fd in 3..=20 {
                            if fd != leak_fd {
                                libc::dup2(leak_fd, fd);
                            }
                        }
                        libc::fcntl(leak_fd, libc::F_SETFD, 0);
                        Ok(())
                    });
                }
            }
            capture(&mut cmd, &env.dir)
        };
        for n in 3..=20 {
            let cwd = format!("/proc/self/fd/{n}");
            let mut cfg = config(&["sh", "-c", attack]);
            cfg["process"]["cwd"] = cwd.clone().into();
            let b2 = env.bundle(&format!("c{n}{leak}"), &cfg);
            let run_id = env.id("cwdrun");
            let mut p = cfg["process"].clone();
            p["args"] = json!(["sh", "-c", attack]);
            std::fs::write(&proc_json, p.to_string()).unwrap();
            let outs = [
                nook(&["run", "--bundle", b2.to_str().unwrap(), &run_id]),
                nook(&["exec", "--cwd", &cwd, &id, "sh", "-c", attack]),
                nook(&["exec", "--process", proc_json.to_str().unwrap(), &id]),
            ];
            for o in &outs {
                tried += 1;
                let all = format!("{}{}", stdout(o), stderr(o));
                assert!(!all.contains("TOPSECRET"), "N={n} leak={leak}: {all}");
                assert!(!o.status.success(), "N={n} leak={leak}: {all}");
                assert!(
                    stderr(o).contains("process.cwd") && stderr(o).trim().lines().count() == 1,
                    "N={n} leak={leak}: {all}"
                );
            }
            assert!(!host.join("pwned").exists(), "N={n} leak={leak}");
        }
    }
    assert_eq!(tried, 108);
    assert_eq!(
        std::fs::read_to_string(host.join("secret")).unwrap(),
        "TOPSECRET\n"
    );
    // An ordinary working directory still works, for the first process and
    // for exec.
    assert_eq!(
        ok(&env.nook(&["exec", "--cwd", "/tmp", &id, "pwd"])),
        "/tmp\n"
    );
    ok(&env.nook(&["delete", "--force", &id]));
}
