//! `nook login`/`logout` and pulls that need credentials: a registry with
//! basic auth (htpasswd), and one behind a bearer-token server.

use super::*;
use std::io::Write;

/// `nook login -u USER --password-stdin SERVER`.
fn login(n: &Nook, server: &str, user: &str, password: &str) -> Output {
    let mut c = n
        .cmd(&["login", "-u", user, "--password-stdin", server])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    c.wait_with_output().unwrap()
}

fn logs_in_then_pulls(n: &Nook, host: &str, user: &str, password: &str) {
    let name = format!("{host}/test/a:v1");
    let err = n.fails(&["pull", &name]);
    assert!(err.contains("authentication"), "{err}");

    let out = login(n, host, user, "wrong");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    assert!(!n.dir.path().join("auth.json").exists(), "nothing stored");

    let out = login(n, host, user, password);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded\n");
    let auth: Value =
        serde_json::from_slice(&std::fs::read(n.dir.path().join("auth.json")).unwrap()).unwrap();
    assert!(auth["auths"][host]["auth"].is_string(), "{auth}");

    n.ok(&["pull", "-q", &name]);
    assert_eq!(n.images().len(), 1);
    assert_eq!(
        n.ok(&["logout", host]),
        format!("Removing login credentials for {host}\n")
    );
    n.fails(&["logout", host]);
}

#[test]
fn basic_auth_registry() {
    let reg = Registry::start_with(Some(("nook", "pw")));
    let dir = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&dir.path().join("layout"));
    let a = l.image("amd64", &[(file_layer("etc/x", b"x"), Comp::Gzip)]);
    l.tag("a", &a.manifest);
    nook_testkit::skopeo_copy(
        &format!("oci:{}:a", l.dir.display()),
        &format!("docker://{}/test/a:v1", reg.host()),
        &["--dest-creds", "nook:pw"],
    );
    logs_in_then_pulls(&Nook::new(), &reg.host(), "nook", "pw");
}

#[test]
fn bearer_token_registry() {
    let reg = Registry::start();
    let _p = push_two(&reg);
    let proxy = nook_testkit::proxy::token_proxy(reg.port, "nook", "secret");
    logs_in_then_pulls(&Nook::new(), &proxy.host(), "nook", "secret");
}
