//! `run`'s security flags, checked from inside real containers: the
//! capabilities, seccomp mode and no_new_privs in /proc/self/status,
//! syscalls the default profile denies (a static probe in the image),
//! masked and read-only paths, `--privileged`, `--read-only` and
//! `--tmpfs`, `--ulimit`; bad values (one line, 125, nothing left).
//! The image is built here (busybox, /etc files, the probe, a config with
//! Labels and StopSignal) and loaded from an OCI layout: no registry.

use super::*;
use nook_testkit::layout::header;
use serde_json::json;

/// A static program making the syscalls the seccomp tests look at.
fn probe() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/secprobe.c");
    let out = dir.path().join("secprobe");
    let st = Command::new("cc")
        .args(["-static", "-O", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "cc secprobe.c");
    std::fs::read(out).unwrap()
}

/// /etc/passwd, /etc/group and the probe.
fn extra_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let files: [(&str, Vec<u8>, u32); 3] = [
        (
            "etc/passwd",
            b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n".to_vec(),
            0o644,
        ),
        (
            "etc/group",
            b"root:x:0:\napp:x:1000:\nextra:x:2000:\n".to_vec(),
            0o644,
        ),
        ("bin/secprobe", probe(), 0o755),
    ];
    for (path, data, mode) in files {
        let mut h = header();
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// A store with the test image; its containers and mounts are removed on
/// drop.
pub struct Sec {
    pub n: Nook,
    pub image: String,
}

impl Sec {
    pub fn new() -> Sec {
        let n = Nook::new();
        let dir = n.dir.path().join("layout");
        let mut l = Layout::new(&dir);
        let built = l.image_with_config(
            &[(busybox_layer(), Comp::None), (extra_layer(), Comp::None)],
            json!({"Cmd": ["sh"], "Env": ["PATH=/bin"], "StopSignal": "SIGUSR1",
                   "Labels": {"from": "image", "over": "image"}}),
        );
        l.tag("sec", &built.manifest);
        let out = n.ok(&["load", "-i", dir.to_str().unwrap()]);
        let image = out
            .trim()
            .strip_prefix("Loaded image: ")
            .unwrap_or_else(|| panic!("{out}"))
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        Sec { n, image }
    }

    /// `run --rm FLAGS IMAGE sh -c SCRIPT`: its stdout (it must succeed).
    pub fn sh(&self, flags: &[&str], script: &str) -> String {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend([self.image.as_str(), "sh", "-c", script]);
        self.n.ok(&args)
    }

    /// `run --rm FLAGS IMAGE sh -c SCRIPT`: its stderr (it must succeed).
    pub fn sh_err(&self, flags: &[&str], script: &str) -> String {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend([self.image.as_str(), "sh", "-c", script]);
        let out = self.n.run(&args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The value of `key` in the container's /proc/self/status.
    pub fn status(&self, flags: &[&str], key: &str) -> String {
        let out = self.sh(flags, &format!("grep '^{key}:' /proc/self/status"));
        out.split_once(':').unwrap().1.trim().to_string()
    }

    /// Nothing of any container is left in the store.
    pub fn assert_empty(&self) {
        assert!(self.n.ids().is_empty(), "{:?}", self.n.ids());
        assert!(entries(&self.n.root.join("storage/containers")).is_empty());
        assert!(entries(&self.n.root.join("containers")).is_empty());
    }
}

/// Docker's 14 default capabilities as /proc shows them.
const DEFAULT_CAPS: &str = "00000000a80425fb";

/// A line of this process's /proc/self/status.
pub fn own_status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap()
}

#[test]
fn defaults_are_dockers_caps_seccomp_and_masked_paths() {
    let s = Sec::new();
    let out = s.sh(
        &[],
        "grep -E '^(CapEff|CapPrm|CapBnd|CapInh|NoNewPrivs|Seccomp):' /proc/self/status",
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        [
            "CapInh:",
            "0000000000000000",
            "CapPrm:",
            DEFAULT_CAPS,
            "CapEff:",
            DEFAULT_CAPS,
            "CapBnd:",
            DEFAULT_CAPS,
            "NoNewPrivs:",
            "0",
            "Seccomp:",
            "2"
        ],
        "{out}"
    );
    // a non-root user: the bounding set only
    let out = s.sh(&["-u", "1000"], "grep -E '^Cap(Eff|Bnd)' /proc/self/status");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["CapEff:", "0000000000000000", "CapBnd:", DEFAULT_CAPS]
    );
    // what the profile denies fails with EPERM (clone3 with ENOSYS, so
    // that libc falls back to clone); ordinary commands work
    let script = "for p in keyctl clone3 personality-exec personality-query clone-newns; do \
                  echo $p $(secprobe $p); done; unshare -m true 2>&1; echo unshare $?; \
                  mkdir /d && echo x > /d/f && cp /d/f /d/g && cat /d/g && ls /d | wc -l";
    let out = s.sh(&[], script);
    assert_eq!(
        out,
        "keyctl errno=1\nclone3 errno=38\npersonality-exec errno=1\npersonality-query ok\n\
         clone-newns errno=1\nunshare: unshare(0x20000): Operation not permitted\nunshare 1\nx\n2\n"
    );
    // masked paths read empty, read-only ones cannot be written
    let out = s.sh(
        &[],
        "wc -c < /proc/timer_list; ls /sys/firmware | wc -l; \
         echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null && echo wrote || echo refused",
    );
    assert_eq!(out, "0\n0\nrefused\n");
    // the host's are not empty: the test can tell
    assert!(!std::fs::read("/proc/timer_list").unwrap().is_empty());
}

#[test]
fn cap_add_cap_drop_and_privileged() {
    let s = Sec::new();
    // CAP_SYS_ADMIN (bit 21) added: seccomp lets its syscalls through
    assert_eq!(
        s.status(&["--cap-add", "sys_admin"], "CapEff"),
        "00000000a82425fb"
    );
    let out = s.sh(
        &["--cap-add", "CAP_SYS_ADMIN"],
        "unshare -m true && echo unshared; secprobe clone-newns",
    );
    assert_eq!(out, "unshared\nok\n");
    assert_eq!(
        s.status(&["--cap-drop", "ALL"], "CapBnd"),
        "0000000000000000"
    );
    assert_eq!(
        s.status(&["--cap-drop", "all"], "CapEff"),
        "0000000000000000"
    );
    assert_eq!(
        s.status(&["--cap-drop", "ALL", "--cap-add", "net_raw"], "CapEff"),
        "0000000000002000"
    );
    assert_eq!(
        s.status(&["--cap-drop", "chown", "--cap-drop", "KILL"], "CapEff"),
        "00000000a80425da"
    );
    // privileged: every capability nook has, no seccomp, nothing masked,
    // the host's devices, /sys writable
    let host = own_status("CapBnd");
    assert_eq!(s.status(&["--privileged"], "CapBnd"), host);
    assert_eq!(s.status(&["--privileged"], "CapEff"), host);
    assert_eq!(s.status(&["--privileged"], "Seccomp"), "0");
    let out = s.sh(
        &["--privileged"],
        "wc -c < /proc/timer_list; test -c /dev/loop-control -o -c /dev/kmsg && echo devices; \
         grep ' /sys sysfs ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "0", "{out}");
    assert_eq!(lines[1..], ["devices", "rw"], "{out}");
    let out = s.sh(&[], "test -c /dev/kmsg && echo devices; grep ' /sys sysfs ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1");
    assert_eq!(out, "ro\n");
}

#[test]
fn seccomp_options_and_no_new_privileges() {
    let s = Sec::new();
    assert_eq!(
        s.status(&["--security-opt", "seccomp=unconfined"], "Seccomp"),
        "0"
    );
    let out = s.sh(
        &["--security-opt", "seccomp=unconfined"],
        "secprobe keyctl; secprobe clone3",
    );
    assert!(
        !out.contains("errno=1\n") && !out.contains("errno=38"),
        "{out}"
    );
    // a profile file in Docker's format that denies mkdir
    let file = s.n.dir.path().join("nomkdir.json");
    std::fs::write(
        &file,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", file.display());
    let out = s.sh(
        &["--security-opt", &opt],
        "mkdir /x 2>&1; touch /y && echo touched; chmod 600 /y 2>&1; secprobe keyctl",
    );
    assert_eq!(
        out,
        "mkdir: can't create directory '/x': Operation not permitted\ntouched\n\
         chmod: /y: Permission denied\nok\n"
    );
    assert_eq!(
        s.status(&["--security-opt", "no-new-privileges"], "NoNewPrivs"),
        "1"
    );
    assert_eq!(
        s.status(&["--security-opt", "no-new-privileges=true"], "NoNewPrivs"),
        "1"
    );
    assert_eq!(
        s.status(&["--security-opt", "no-new-privileges=false"], "NoNewPrivs"),
        "0"
    );
    // no SELinux or AppArmor here: accepted, the container runs
    s.sh(
        &[
            "--security-opt",
            "label=disable",
            "--security-opt",
            "apparmor=unconfined",
        ],
        "true",
    );
    // systempaths=unconfined: nothing masked
    let out = s.sh(
        &["--security-opt", "systempaths=unconfined"],
        "wc -c < /proc/timer_list",
    );
    assert_ne!(out, "0\n");
    // inspect shows the flags
    s.n.ok(&[
        "run",
        "--name",
        "c1",
        "--cap-add",
        "NET_ADMIN",
        "--security-opt",
        "no-new-privileges",
        &s.image,
        "sh",
        "-c",
        "exit 0",
    ]);
    let hc = s.n.ok(&["inspect", "-f", "{{json .HostConfig}}", "c1"]);
    let hc: serde_json::Value = serde_json::from_str(&hc).unwrap();
    assert_eq!(hc["CapAdd"], json!(["NET_ADMIN"]));
    assert_eq!(hc["SecurityOpt"], json!(["no-new-privileges"]));
    assert_eq!(hc["Privileged"], json!(false));
}

#[test]
fn read_only_root_tmpfs_and_ulimits() {
    let s = Sec::new();
    let out = s.sh(
        &["--read-only", "--tmpfs", "/scratch:size=1m,mode=1770"],
        "touch /x 2>&1; touch /scratch/y && echo scratch; touch /dev/shm/z && echo shm; \
         grep ' /scratch ' /proc/mounts | cut -d' ' -f4; stat -c %a /scratch",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        ["touch: /x: Read-only file system", "scratch", "shm"],
        "{out}"
    );
    // (kernels differ in the options they add, e.g. inode64)
    let opts: Vec<&str> = lines[3].split(',').collect();
    for o in ["rw", "nosuid", "nodev", "noexec", "size=1024k", "mode=1770"] {
        assert!(opts.contains(&o), "{o}: {out}");
    }
    assert_eq!(lines[4], "1770", "{out}");
    // without --read-only the root is writable
    assert_eq!(s.sh(&[], "touch /x && echo ok"), "ok\n");
    // --tmpfs exec: programs run from it
    let out = s.sh(
        &["--tmpfs", "/t:exec"],
        "cp /bin/secprobe /t/ && /t/secprobe personality-query",
    );
    assert_eq!(out, "ok\n");
    let out = s.sh(
        &["--ulimit", "nofile=100:200", "--ulimit", "core=0"],
        "ulimit -n; ulimit -Hn; ulimit -c",
    );
    assert_eq!(out, "100\n200\n0\n");
    // a hard limit above nook's own, where nook cannot raise it
    let own = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .1;
    let has_sys_resource = u64::from_str_radix(&own_status("CapEff"), 16).unwrap() & (1 << 24) != 0;
    if !has_sys_resource && own < 1 << 20 {
        let want = format!("nofile=10:{}", own + 1);
        let err =
            s.n.fails(&["run", "--rm", "--ulimit", &want, &s.image, "true"]);
        assert!(
            err.contains(&want) && err.contains("CAP_SYS_RESOURCE"),
            "{err}"
        );
    }
    s.assert_empty();
}

#[test]
fn bad_security_values_are_one_line_and_leave_nothing() {
    let s = Sec::new();
    let missing = s.n.dir.path().join("missing.json");
    let bad_json = s.n.dir.path().join("bad.json");
    std::fs::write(&bad_json, "{").unwrap();
    let seccomp_missing = format!("seccomp={}", missing.display());
    let seccomp_bad = format!("seccomp={}", bad_json.display());
    let cases: &[(&[&str], &str)] = &[
        (&["--cap-add", "CAP_FOO"], "CAP_FOO"),
        (&["--cap-drop", "bogus"], "bogus"),
        (&["--security-opt", "bogus=1"], "bogus=1"),
        (&["--security-opt", "nonsense"], "nonsense"),
        (&["--security-opt", &seccomp_missing], "missing.json"),
        (&["--security-opt", &seccomp_bad], "bad.json"),
        (&["--ulimit", "bogus=1"], "bogus"),
        (&["--ulimit", "nofile=2:1"], "2 > 1"),
        (&["--ulimit", "nofile=x"], "nofile=x"),
        (&["--tmpfs", "relative"], "relative"),
        (&["--tmpfs", "/t:mode=99"], "mode=99"),
        (
            &["--sysctl", "kernel.hostname=x"],
            "sysctl 'kernel.hostname=x' is not allowed",
        ),
        (&["--sysctl", "vm.swappiness=1"], "vm.swappiness"),
        (&["--stop-signal", "NOPE"], "NOPE"),
        (&["--group-add", "nosuchgroup"], "nosuchgroup"),
        (&["-u", "nosuchuser"], "nosuchuser"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend(*flags);
        args.extend([s.image.as_str(), "true"]);
        let err = s.n.fails(&args);
        assert!(err.contains(want), "{flags:?}: {err}");
        let mut args = vec!["run", "-d"];
        args.extend(*flags);
        args.extend([s.image.as_str(), "true"]);
        s.n.fails(&args);
    }
    s.assert_empty();
}
