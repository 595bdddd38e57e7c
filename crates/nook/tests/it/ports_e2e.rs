//! Published ports end to end (after the network wiring): `nook run -p`
//! reached from 127.0.0.1 of the engine's namespace and from a second
//! namespace through the engine's address, shown by `port`, `ps`,
//! `inspect`; a taken port refused; freed by stop.  Everything in the
//! namespaces the fixture and the test made.

use super::lifecycle::Bb;
use serde_json::Value;

const GET: &str = "import urllib.request,sys\n\
    print(urllib.request.urlopen(sys.argv[1],timeout=3).read().decode().strip())";

/// An HTTP GET of `url` from `ns`: the body, or None.
fn get(ns: &nook_testkit::netns::NetnsFile, url: &str) -> Option<String> {
    let out = ns
        .command("python3")
        .args(["-c", GET, url])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A second namespace joined to the engine's (192.0.2.1 there, 192.0.2.2 here).
fn outside(b: &Bb) -> nook_testkit::netns::NetnsFile {
    let ns = nook_testkit::netns::NetnsFile::create(b.n.dir.path().join("outside"));
    let path = ns.path().to_str().unwrap().to_string();
    b.n.in_netns(&[
        "ip", "link", "add", "out0", "type", "veth", "peer", "name", "out1", "netns", &path,
    ]);
    b.n.in_netns(&["ip", "addr", "add", "192.0.2.1/24", "dev", "out0"]);
    b.n.in_netns(&["ip", "link", "set", "out0", "up"]);
    ns.run(&["ip", "addr", "add", "192.0.2.2/24", "dev", "out1"]);
    ns.run(&["ip", "link", "set", "out1", "up"]);
    ns.run(&["ip", "link", "set", "lo", "up"]);
    ns
}

#[test]
fn published_ports_are_reached_shown_refused_when_taken_and_freed_by_stop() {
    let b = Bb::new();
    let out = outside(&b);
    let engine = b.n.netns.as_ref().unwrap();
    let server = "mkdir /www && echo hi > /www/index.html && exec httpd -f -p 8000 -h /www";
    b.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "8080:8000",
        "-p",
        "127.0.0.1::8000",
        "-p",
        "9000",
        "--expose",
        "7000",
        "bb:1",
        "sh",
        "-c",
        server,
    ]);
    super::lifecycle::until("httpd", || get(engine, "http://127.0.0.1:8080/").is_some());
    assert_eq!(get(&out, "http://192.0.2.1:8080/").as_deref(), Some("hi"));
    let lines = b.ok(&["port", "web", "8000"]);
    let local = lines.lines().find(|l| l.starts_with("127.0.0.1:")).unwrap();
    assert_eq!(
        get(engine, &format!("http://{local}/")).as_deref(),
        Some("hi")
    );
    // 127.0.0.1 only: not from outside
    let port = local.rsplit(':').next().unwrap();
    assert_eq!(get(&out, &format!("http://192.0.2.1:{port}/")), None);
    let all = b.ok(&["port", "web"]);
    assert!(all.contains("8000/tcp -> 0.0.0.0:8080\n"), "{all}");
    assert!(all.contains("9000/tcp -> 0.0.0.0:"), "{all}");
    let ps = b.ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(
        ps.contains("0.0.0.0:8080->8000/tcp") && ps.contains("7000/tcp"),
        "{ps}"
    );
    let v: Value = serde_json::from_str(&b.ok(&["inspect", "web"])).unwrap();
    let ports = &v[0]["NetworkSettings"]["Ports"];
    assert_eq!(ports["8000/tcp"].as_array().unwrap().len(), 2, "{ports}");
    assert!(ports["7000/tcp"].is_null(), "{ports}");

    // taken: run refuses before it makes anything; a created one cannot start
    let err =
        b.n.fails(&["run", "-d", "-p", "8080:80", "bb:1", "sleep", "100"]);
    assert_eq!(
        err,
        "Error: Bind for 0.0.0.0:8080 failed: port is already allocated\n"
    );
    b.ok(&[
        "create",
        "--name",
        "second",
        "-p",
        "8080:8000",
        "bb:1",
        "sh",
        "-c",
        server,
    ]);
    let err = b.n.fails(&["start", "second"]);
    assert!(
        err.contains("Bind for 0.0.0.0:8080 failed: port is already allocated"),
        "{err}"
    );
    assert_eq!(b.ok(&["ps", "-q"]).lines().count(), 1);
    let rules = b.n.in_netns(&["nft", "list", "ruleset"]);
    let second = b.ok(&["inspect", "-f", "{{.Id}}", "second"]);
    assert!(!rules.contains(second.trim()), "{rules}");

    // no publishing on another's network; discarded on the host's
    let err = b.n.fails(&[
        "run",
        "--network",
        "container:web",
        "-p",
        "81:80",
        "bb:1",
        "true",
    ]);
    assert_eq!(
        err,
        "Error: conflicting options: port publishing and the container type network mode\n"
    );
    let host = b.n.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "8080:80",
        "bb:1",
        "busybox",
        "true",
    ]);
    assert!(
        host.status.success(),
        "{}",
        String::from_utf8_lossy(&host.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&host.stderr),
        "WARNING: Published ports are discarded when using host network mode\n"
    );
    // stop frees it
    b.ok(&["stop", "-t", "0", "web"]);
    assert_eq!(get(engine, "http://127.0.0.1:8080/"), None);
    b.ok(&["start", "second"]);
    super::lifecycle::until("second", || get(&out, "http://192.0.2.1:8080/").is_some());
    b.ok(&["rm", "-f", "web", "second"]);
    let rules = b.n.in_netns(&["nft", "list", "ruleset"]);
    assert!(!rules.contains("c-"), "{rules}");
}

/// What publishing adds to `nook run --rm` (`cargo test -p nook --test it
/// publish_cost -- --ignored --nocapture`).
#[test]
#[ignore = "a benchmark"]
fn publish_cost() {
    let b = Bb::new();
    let time = |extra: &[&str]| {
        let mut best = f64::MAX;
        for _ in 0..10 {
            let mut args = vec!["run", "--rm"];
            args.extend(extra);
            args.extend(["bb:1", "busybox", "true"]);
            let t = std::time::Instant::now();
            b.ok(&args);
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        best
    };
    time(&[]);
    let plain = time(&[]);
    let one = time(&["-p", "18080:80"]);
    let many = time(&["-p", "18100-18109:80-89", "-p", "80/udp"]);
    println!("run --rm (default network): {plain:.1} ms");
    println!("  with -p 18080:80: {one:.1} ms (+{:.1})", one - plain);
    println!("  with 11 ports: {many:.1} ms (+{:.1})", many - plain);
}
