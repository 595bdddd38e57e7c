//! `run`'s namespace and device flags, checked from inside real
//! containers: `--pid/--ipc/--uts/--cgroupns` host, private and
//! `container:NAME` (the namespace files' identities as the container
//! reads them against the host's and the other container's), `--device`
//! and `--device-cgroup-rule` (what the device cgroup lets it do), and
//! `--cidfile`, `--pull`; bad values (one line, 125, nothing left).

use super::security::Sec;

/// The identity (`pid:[4026531836]`) of this process's namespace `kind`.
fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The identities of namespaces `kinds` as a container run with `flags`
/// sees its own, one per line.
fn container_ns(s: &Sec, flags: &[&str], kinds: &[&str]) -> Vec<String> {
    let links: Vec<String> = kinds.iter().map(|k| format!("/proc/self/ns/{k}")).collect();
    let out = s.sh(
        flags,
        &format!("for f in {}; do readlink $f; done", links.join(" ")),
    );
    out.lines().map(String::from).collect()
}

#[test]
fn host_namespaces_are_the_hosts_and_private_ones_are_not() {
    let s = Sec::new();
    let kinds = ["pid", "ipc", "uts", "cgroup"];
    let host: Vec<String> = kinds.iter().map(|k| host_ns(k)).collect();
    let shared = container_ns(
        &s,
        &[
            "--pid",
            "host",
            "--ipc",
            "host",
            "--uts",
            "host",
            "--cgroupns",
            "host",
        ],
        &kinds,
    );
    assert_eq!(shared, host);
    let own = container_ns(
        &s,
        &[
            "--pid",
            "private",
            "--ipc",
            "private",
            "--cgroupns",
            "private",
        ],
        &kinds,
    );
    for (o, h) in own.iter().zip(&host) {
        assert_ne!(o, h, "{own:?} {host:?}");
    }
    // the host's UTS namespace has the host's name; the host's pid
    // namespace shows the host's processes (this test among them)
    let name = nix::unistd::gethostname().unwrap();
    assert_eq!(
        s.sh(&["--uts", "host"], "hostname").trim(),
        name.to_str().unwrap()
    );
    let me = std::process::id().to_string();
    assert!(s
        .sh(
            &["--pid", "host"],
            &format!("test -d /proc/{me} && echo seen")
        )
        .contains("seen"));
    assert!(s
        .sh(&[], &format!("test -d /proc/{me} || echo unseen"))
        .contains("unseen"));
    s.assert_empty();
}

#[test]
fn a_container_joins_the_namespaces_of_a_running_one_and_not_a_stopped_one() {
    let s = Sec::new();
    let id = s.n.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        &s.image,
        "sh",
        "-c",
        "sleep 1000",
    ]);
    let id = id.trim();
    let pid =
        s.n.ok(&["inspect", "-f", "{{.State.Pid}}", id])
            .trim()
            .to_string();
    let theirs: Vec<String> = ["pid", "ipc"]
        .iter()
        .map(|k| {
            let l = std::fs::read_link(format!("/proc/{pid}/ns/{k}")).unwrap();
            l.to_string_lossy().into_owned()
        })
        .collect();
    let joined = container_ns(
        &s,
        &[
            "--pid",
            "container:holder",
            "--ipc",
            &format!("container:{}", &id[..12]),
        ],
        &["pid", "ipc"],
    );
    assert_eq!(joined, theirs);
    let made = s.n.ok(&[
        "create",
        "--pid",
        "container:holder",
        "--device",
        "/dev/null:/dev/n:r",
        "--annotation",
        "org.example/a=b",
        &s.image,
    ]);
    let hc =
        s.n.ok(&["inspect", "-f", "{{json .HostConfig}}", made.trim()]);
    let hc: serde_json::Value = serde_json::from_str(&hc).unwrap();
    assert_eq!(hc["PidMode"], "container:holder", "{hc}");
    assert_eq!(hc["Devices"][0]["PathInContainer"], "/dev/n", "{hc}");
    assert_eq!(hc["Annotations"]["org.example/a"], "b", "{hc}");
    let err =
        s.n.fails(&["create", "--annotation", "io.nook.image=x", &s.image]);
    assert!(err.contains("io.nook.image=x"), "{err}");
    s.n.ok(&["rm", made.trim()]);
    // it sees the other container's process
    let ps = s.sh(&["--pid", "container:holder"], "ps -o args");
    assert!(ps.contains("1000"), "{ps}");
    s.n.ok(&["kill", "holder"]);
    s.n.ok(&["wait", "holder"]);
    let err = s.n.fails(&[
        "run",
        "--rm",
        "--pid",
        "container:holder",
        &s.image,
        "sh",
        "-c",
        "true",
    ]);
    assert!(
        err.contains("holder") && err.contains("not running"),
        "{err}"
    );
    let err = s.n.fails(&[
        "run",
        "--rm",
        "--ipc",
        "container:nobody",
        &s.image,
        "sh",
        "-c",
        "true",
    ]);
    assert!(err.contains("nobody"), "{err}");
    s.n.ok(&["rm", "holder"]);
    s.assert_empty();
}

#[test]
fn devices_are_made_and_the_device_cgroup_holds_their_permissions() {
    let s = Sec::new();
    // a node of no driver (char 240:0, the local range): opening it is
    // ENXIO where the device cgroup allows it, EPERM where it does not
    let node = s.n.dir.path().join("node");
    nix::sys::stat::mknod(
        &node,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(240, 0),
    )
    .unwrap();
    let dev = format!("{}:/dev/mine:r", node.display());
    let out = s.sh(
        &["--device", &dev],
        "ls -l /dev/mine; cat /dev/mine; echo x > /dev/mine; true",
    );
    assert!(out.starts_with('c') && out.contains("240,   0"), "{out}");
    let dev = format!("{}:/dev/mine", node.display());
    let err = s.sh_err(
        &["--device", &dev],
        "cat /dev/mine; echo x > /dev/mine; true",
    );
    assert_eq!(err.matches("No such device or address").count(), 2, "{err}");
    let err = s.sh_err(
        &["--device", &format!("{}:/dev/mine:r", node.display())],
        "cat /dev/mine; echo x > /dev/mine; true",
    );
    assert!(
        err.contains("No such device or address") && err.contains("Operation not permitted"),
        "{err}"
    );
    // a node the container makes itself: opened only with a rule
    let mk = "mknod /dev/mine c 240 0; cat /dev/mine; true";
    assert!(s.sh_err(&[], mk).contains("Operation not permitted"));
    let err = s.sh_err(&["--device-cgroup-rule", "c 240:* r"], mk);
    assert!(err.contains("No such device or address"), "{err}");
    s.assert_empty();
}

#[test]
fn cidfile_and_pull_policies() {
    let s = Sec::new();
    let cid = s.n.dir.path().join("cid");
    let cid_s = cid.to_str().unwrap();
    s.n.ok(&[
        "run",
        "--rm",
        "--cidfile",
        cid_s,
        "--pull",
        "never",
        &s.image,
        "sh",
        "-c",
        "true",
    ]);
    let id = std::fs::read_to_string(&cid).unwrap();
    assert_eq!(id.len(), 64, "{id}");
    let err = s.n.fails(&[
        "run",
        "--rm",
        "--cidfile",
        cid_s,
        &s.image,
        "sh",
        "-c",
        "true",
    ]);
    assert!(
        err.contains("container ID file found") && err.contains(cid_s),
        "{err}"
    );
    // a container that was not made leaves no id file
    let cid2 = s.n.dir.path().join("cid2");
    s.n.fails(&[
        "run",
        "--rm",
        "--cidfile",
        cid2.to_str().unwrap(),
        "--pull",
        "never",
        "nosuch/image",
        "sh",
    ]);
    assert!(!cid2.exists());
    let err = s.n.fails(&[
        "run",
        "--rm",
        "--pull",
        "sometimes",
        &s.image,
        "sh",
        "-c",
        "true",
    ]);
    assert!(err.contains("sometimes"), "{err}");
    s.assert_empty();
}

#[test]
fn bad_namespace_and_device_values_are_one_line_and_leave_nothing() {
    let s = Sec::new();
    let cases: &[(&[&str], &str)] = &[
        (&["--pid", "hots"], "hots"),
        (&["--ipc", "container:"], "container:"),
        (&["--uts", "container:x"], "container:x"),
        (&["--cgroupns", "shared"], "shared"),
        (&["--userns", "keep-id"], "keep-id"),
        (&["--uts", "host", "-h", "box"], "hostname"),
        (&["--device", "/dev/nope-nook"], "/dev/nope-nook"),
        (&["--device", "/etc/hostname"], "/etc/hostname"),
        (&["--device", "/dev/null:/x:rx"], "/dev/null:/x:rx"),
        (&["--device-cgroup-rule", "c 1:4"], "c 1:4"),
    ];
    for (flags, want) in cases {
        for mode in ["--rm", "-d"] {
            let mut args = vec!["run", mode];
            args.extend(*flags);
            args.extend([s.image.as_str(), "sh", "-c", "true"]);
            let err = s.n.fails(&args);
            assert!(
                err.contains(want) && !err.trim().contains('\n'),
                "{flags:?}: {err}"
            );
        }
    }
    s.assert_empty();
}

#[test]
fn volumes_from_shares_another_containers_volumes_and_binds() {
    let s = Sec::new();
    let host = s.n.dir.path().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("from-host"), "h\n").unwrap();
    let bind = format!("{}:/h", host.display());
    s.n.ok(&[
        "run",
        "--name",
        "src",
        "-v",
        "vf-data:/data",
        "-v",
        &bind,
        &s.image,
        "sh",
        "-c",
        "echo v > /data/f",
    ]);
    let out = s.sh(
        &["--volumes-from", "src"],
        "cat /data/f /h/from-host; echo w > /data/g && echo wrote",
    );
    assert_eq!(out, "v\nh\nwrote\n");
    let out = s.sh(
        &["--volumes-from", "src:ro"],
        "cat /data/g; (echo x > /data/h) 2>/dev/null || echo ro",
    );
    assert_eq!(out, "w\nro\n");
    // the container's own -v wins over the other's at one target
    let out = s.sh(
        &["--volumes-from", "src", "-v", "vf-other:/data"],
        "ls /data | wc -l",
    );
    assert_eq!(out.trim(), "0");
    let err =
        s.n.fails(&["run", "--rm", "--volumes-from", "src:rx", &s.image, "sh"]);
    assert!(err.contains("rx"), "{err}");
    let err =
        s.n.fails(&["run", "--rm", "--volumes-from", "nosuchsrc", &s.image, "sh"]);
    assert!(err.contains("nosuchsrc"), "{err}");
    s.n.ok(&["rm", "-v", "src"]);
    s.n.ok(&["volume", "rm", "vf-data", "vf-other"]);
    s.assert_empty();
}

/// A block device of this machine (`/dev/NAME` of the first disk).
fn a_block_device() -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("ram"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| format!("/dev/{n}"))
        .find(|p| std::path::Path::new(p).exists())
}

#[test]
fn blkio_weight_device_is_set_or_discarded_with_dockers_warning() {
    const CAT_WEIGHTS: &str = "cd /sys/fs/cgroup; cat blkio/blkio.weight_device \
        blkio/blkio.bfq.weight_device io.bfq.weight io.weight 2>/dev/null; true";
    let s = Sec::new();
    // a device that is not a block device is refused, naming it
    let err = s.n.fails(&[
        "run",
        "--rm",
        "--blkio-weight-device",
        "/dev/null:200",
        &s.image,
        "sh",
    ]);
    assert!(err.contains("/dev/null"), "{err}");
    let Some(dev) = a_block_device() else {
        // the v2 VM's root is a 9p share: no disk to weigh
        eprintln!("no block device in /sys/block: only the refusal is checked");
        return;
    };
    let flag = format!("{dev}:200");
    let out = s.n.run(&[
        "run",
        "--rm",
        "--blkio-weight-device",
        &flag,
        &s.image,
        "sh",
        "-c",
        CAT_WEIGHTS,
    ]);
    assert!(out.status.success(), "{out:?}");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // set where the kernel weighs I/O per device (the file shows the
    // device's numbers), else Docker's warning
    let name = dev.trim_start_matches("/dev/");
    let numbers = std::fs::read_to_string(format!("/sys/block/{name}/dev")).unwrap();
    if stderr.contains("Weight-device discarded") {
        assert!(!stdout.contains(numbers.trim()), "{stdout}");
    } else {
        let want = format!("{} ", numbers.trim());
        assert!(stdout.contains(&want), "{stdout} {stderr}");
    }
    let err = s.n.fails(&[
        "run",
        "--rm",
        "--blkio-weight-device",
        &format!("{dev}:5"),
        &s.image,
        "sh",
    ]);
    assert!(err.contains(":5"), "{err}");
    s.assert_empty();
}

#[test]
fn dns_flags_and_add_host_shape_the_containers_etc_files() {
    let s = Sec::new();
    let out = s.sh(
        &[
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "a.example",
            "--dns-option",
            "ndots:2",
            "--add-host",
            "db:192.0.2.7",
            "--add-host",
            "v6=[2001:db8::1]",
            "-h",
            "box",
        ],
        "cat /etc/resolv.conf; echo --; cat /etc/hosts",
    );
    let (resolv, hosts) = out.split_once("--\n").unwrap();
    assert_eq!(
        resolv,
        "nameserver 192.0.2.53\nsearch a.example\noptions ndots:2\n"
    );
    assert!(
        hosts.contains("192.0.2.7\tdb\n") && hosts.contains("2001:db8::1\tv6\n"),
        "{hosts}"
    );
    // the container's own name: its address on the default network
    let own = hosts.lines().last().unwrap();
    assert!(
        own.starts_with("10.88.") && own.ends_with("\tbox"),
        "{hosts}"
    );
    // busybox resolves the added name from /etc/hosts
    let out = s.sh(
        &["--add-host", "db:192.0.2.7"],
        "ping -c1 -W1 db 2>&1; true",
    );
    assert!(out.contains("192.0.2.7"), "{out}");
    for (flag, bad) in [
        ("--dns", "not-ip"),
        ("--add-host", "db"),
        ("--add-host", "db:1.2.3"),
        ("--dns-option", "a b"),
    ] {
        let err = s.n.fails(&["run", "--rm", flag, bad, &s.image, "sh"]);
        assert!(err.contains(bad), "{err}");
    }
    s.assert_empty();
}
