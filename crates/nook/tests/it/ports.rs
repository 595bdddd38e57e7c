//! Published ports on the command line, where no network is needed: the
//! flags parsed with Docker's messages (exit 125, nothing made), kept and
//! shown by `inspect`, `port` and `ps --filter publish=/expose=`.  Ports
//! made real at start (and their conflicts) are tested with real nftables
//! in the engine's own tests (network::ports::tests_nft) and in the
//! state's (port_bindings).

use crate::lifecycle::Bb;

#[test]
fn bad_publish_and_expose_values_are_dockers_errors_and_make_nothing() {
    let b = Bb::new();
    for (flag, value, message) in [
        ("-p", "foo", "invalid containerPort: foo"),
        ("-p", "x:80", "invalid hostPort: x"),
        ("-p", "8080:80/icmp", "invalid proto: icmp"),
        ("-p", "1.2.3:80:80", "invalid IP address: 1.2.3"),
        (
            "-p",
            "8000-8001:80-82",
            "invalid ranges specified for container and host Ports: 80-82 and 8000-8001",
        ),
        (
            "--expose",
            "80:80",
            "invalid port format for --expose: 80:80",
        ),
        (
            "--publish",
            "published=8080",
            "invalid publish opts format (target is missing)",
        ),
    ] {
        for cmd in ["run", "create"] {
            let err = b.n.fails(&[cmd, flag, value, "bb:1", "true"]);
            assert_eq!(err, format!("Error: {message}\n"), "{cmd} {flag} {value}");
        }
    }
    assert_eq!(b.ok(&["ps", "-aq"]), "");
}

#[test]
fn published_ports_are_kept_and_shown_as_docker_shows_them() {
    let b = Bb::new();
    let id = b.ok(&[
        "create",
        "--name",
        "pub",
        "-p",
        "8080:80",
        "-p",
        "127.0.0.1:9000-9001:90-91/udp",
        "-p",
        "[::]::443",
        "--expose",
        "7000-7001",
        "-P",
        "bb:1",
        "true",
    ]);
    let id = id.trim();
    assert_eq!(
        b.field("pub", "{{json .HostConfig.PortBindings}}"),
        r#"{"443/tcp":[{"HostIp":"::","HostPort":""}],"80/tcp":[{"HostIp":"","HostPort":"8080"}],"#
            .to_string()
            + r#""90/udp":[{"HostIp":"127.0.0.1","HostPort":"9000"}],"#
            + r#""91/udp":[{"HostIp":"127.0.0.1","HostPort":"9001"}]}"#
    );
    assert_eq!(b.field("pub", "{{.HostConfig.PublishAllPorts}}"), "true");
    assert_eq!(
        b.field("pub", "{{json .Config.ExposedPorts}}"),
        r#"{"443/tcp":{},"7000/tcp":{},"7001/tcp":{},"80/tcp":{},"90/udp":{},"91/udp":{}}"#
    );
    // not running: nothing published
    assert_eq!(b.field("pub", "{{json .NetworkSettings.Ports}}"), "{}");
    assert_eq!(b.ok(&["port", "pub"]), "");
    let err = b.n.fails(&["port", "pub", "80"]);
    assert_eq!(err, "Error: No public port '80/tcp' published for pub\n");
    let err = b.n.fails(&["port", "pub", "x/tcp"]);
    assert_eq!(err, "Error: invalid port (x)\n");
    // filters
    let ps = |f: &str| b.ok(&["ps", "-aq", "--no-trunc", "--filter", f]);
    for f in [
        "publish=80",
        "publish=90/udp",
        "publish=440-450",
        "expose=7001",
        "expose=91/udp",
    ] {
        assert_eq!(ps(f).trim(), id, "{f}");
    }
    for f in [
        "publish=81",
        "publish=90",
        "publish=7000",
        "expose=7002",
        "expose=80/udp",
    ] {
        assert_eq!(ps(f), "", "{f}");
    }
    let err = b.n.fails(&["ps", "--filter", "publish=x"]);
    assert_eq!(err, "Error: invalid filter 'publish=x'\n");
}
