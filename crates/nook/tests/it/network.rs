//! Container networking, from inside real containers (busybox `ip`,
//! `ping`, `nc`, /etc/hosts): the default network and user networks,
//! `--network none|host|container:`, `--ip`, `connect`/`disconnect` live,
//! `network rm|prune`, isolation between networks, `--internal`, the
//! crash cases and bad input.  Everything happens in the network namespace
//! the fixture made (`NOOK_NETNS`): never on the host's.

use super::lifecycle::{until, Bb};
use serde_json::Value;

/// `busybox SCRIPT` run in a new container with `flags`: its stdout.
fn sh(b: &Bb, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend(flags);
    args.extend(["bb:1", "sh", "-c", script]);
    b.ok(&args)
}

/// The IPv4 addresses (with prefix) of interface `ifname` in `ip addr` output.
fn inet(ip_addr: &str) -> Vec<String> {
    ip_addr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("inet "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|a| !a.starts_with("127."))
        .map(String::from)
        .collect()
}

/// The interface names inside a container run with `flags`.
fn links(b: &Bb, flags: &[&str]) -> Vec<String> {
    sh(b, flags, "ls /sys/class/net")
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// A detached container sleeping, by name.
fn sleeper(b: &Bb, name: &str, flags: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(flags);
    args.extend(["bb:1", "busybox", "sleep", "1000"]);
    b.ok(&args);
}

/// `inspect` of container `c`.
fn inspect(b: &Bb, c: &str) -> Value {
    let v: Value = serde_json::from_str(&b.ok(&["inspect", c])).unwrap();
    v[0].clone()
}

/// Container `c`'s address on network `net`.
fn address(b: &Bb, c: &str, net: &str) -> String {
    inspect(b, c)["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `nook exec C sh -c SCRIPT`: (success, stdout).
fn exec(b: &Bb, c: &str, script: &str) -> (bool, String) {
    let out = b.n.run(&["exec", c, "sh", "-c", script]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The links in the test's namespace whose name starts with `prefix`.
fn host_links(b: &Bb, prefix: &str) -> Vec<String> {
    b.n.in_netns(&["ip", "-o", "link"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// The namespace files nook has.
fn netns_files(b: &Bb) -> Vec<String> {
    super::entries(&b.n.root.join("netns"))
        .into_iter()
        .collect()
}

#[test]
fn default_network_gives_eth0_an_address_a_route_and_hosts_entry() {
    let b = Bb::new();
    let out = sh(
        &b,
        &["--hostname", "box"],
        "busybox ip -4 addr show eth0; echo ROUTE; busybox ip route; echo HOSTS; cat /etc/hosts",
    );
    let (addr, rest) = out.split_once("ROUTE").unwrap();
    let (routes, hosts) = rest.split_once("HOSTS").unwrap();
    let a = inet(addr);
    assert_eq!(a.len(), 1, "{out}");
    assert!(a[0].starts_with("10.88.") && a[0].ends_with("/16"), "{out}");
    assert!(routes.contains("default via 10.88.0.1 dev eth0"), "{out}");
    let ip = a[0].split('/').next().unwrap();
    assert!(hosts.contains(&format!("{ip}\tbox")), "{hosts}");
    // the bridge is in the test's namespace, the container's veth gone
    assert_eq!(host_links(&b, "nook0"), ["nook0"]);
    until("the veth to go", || host_links(&b, "nk").is_empty());
    assert!(netns_files(&b).is_empty(), "{:?}", netns_files(&b));
}

#[test]
fn two_containers_on_one_network_reach_each_other_and_not_across() {
    let b = Bb::new();
    b.ok(&["network", "create", "--subnet", "10.201.0.0/24", "one"]);
    b.ok(&["network", "create", "--subnet", "10.202.0.0/24", "two"]);
    sleeper(&b, "ca", &["--network", "one"]);
    sleeper(&b, "cc", &["--network", "two"]);
    let a = address(&b, "ca", "one");
    let c = address(&b, "cc", "two");
    assert!(a.starts_with("10.201.0."), "{a}");
    let ping = |flags: &[&str], to: &str| {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["bb:1", "busybox", "ping", "-c1", "-W2", to]);
        b.n.run(&args).status.success()
    };
    assert!(ping(&["--network", "one"], &a), "same network");
    assert!(!ping(&["--network", "one"], &c), "across networks");
    // TCP: a listener in `a`, a client on the same network
    let (ok, _) = exec(
        &b,
        "ca",
        "busybox nc -l -p 7000 -e echo hello >/dev/null 2>&1 &",
    );
    assert!(ok);
    let got = sh(
        &b,
        &["--network", "one"],
        &format!("for i in 1 2 3 4 5; do busybox nc {a} 7000 && break; sleep 0.2; done"),
    );
    assert_eq!(got.trim(), "hello");
}
