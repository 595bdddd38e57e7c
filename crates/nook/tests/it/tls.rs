//! How nook reaches a registry that is not on loopback: over HTTPS whose
//! certificate the system's roots verify (`SSL_CERT_FILE` names the roots,
//! as OpenSSL's store is configured), never over plain HTTP unless the user
//! marks the registry insecure, and an untrusted certificate refused unless
//! it is.  Each test runs in a network namespace of its own, the registry
//! on 192.0.2.1 (a documentation address that exists only there).

use super::*;
use nook_testkit::netns::with_netns;
use nook_testkit::tls::TestCa;
use nook_testkit::RegistryOptions;
use std::net::{IpAddr, Ipv4Addr};

const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// A one-layer busybox image pushed to `reg` as `test/tls:v1`.
fn push_busybox(reg: &Registry) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&dir.path().join("layout"));
    let built = l.image("amd64", &[(busybox_layer(), Comp::Gzip)]);
    l.tag("v1", &built.manifest);
    push(&l, "v1", &reg.host(), "test/tls", false);
    format!("{}/test/tls:v1", reg.host())
}

#[test]
fn plain_http_is_refused_for_a_registry_not_on_loopback_unless_it_is_insecure() {
    with_netns(ADDR, || {
        let reg = Registry::start_opts(RegistryOptions {
            addr: ADDR,
            ..Default::default()
        });
        let name = push_busybox(&reg);
        let n = Nook::new();
        let err = n.fails(&["pull", "-q", &name]);
        assert!(err.contains(&reg.host()), "the registry is named: {err}");
        assert!(err.contains("does not speak HTTPS"), "{err}");
        assert!(err.contains("--insecure-registry"), "what to do: {err}");
        assert!(n.images().is_empty());
        n.assert_consistent();
        let insecure = ["--insecure-registry", &reg.host()];
        n.ok(&[&insecure[..], &["pull", "-q", &name]].concat());
        assert_eq!(n.names(), BTreeSet::from([name.clone()]));
        n.assert_consistent();
    })
}

#[test]
fn https_is_verified_with_the_system_roots_and_an_untrusted_one_only_when_insecure() {
    with_netns(ADDR, || {
        let ca = TestCa::new(&[&ADDR.to_string()]);
        let reg = Registry::start_opts(RegistryOptions {
            addr: ADDR,
            tls: Some(ca.server()),
            ..Default::default()
        });
        let name = push_busybox(&reg);
        // not trusted: refused, naming the certificate problem
        let n = Nook::new();
        let err = n.fails(&["pull", "-q", &name]);
        assert!(
            err.contains("certificate is not trusted (UnknownIssuer)"),
            "{err}"
        );
        assert!(n.images().is_empty());
        n.assert_consistent();
        // the CA among the system's roots: verified HTTPS
        let out = n
            .cmd(&["pull", "-q", &name])
            .env("SSL_CERT_FILE", ca.ca_pem())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(n.names(), BTreeSet::from([name.clone()]));
        // marked insecure: the certificate is not checked
        let m = Nook::new();
        m.ok(&["--insecure-registry", &reg.host(), "pull", "-q", &name]);
        assert_eq!(m.names(), BTreeSet::from([name.clone()]));
        m.assert_consistent();
    })
}
