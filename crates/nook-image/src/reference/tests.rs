//! Docker's own cases (distribution/reference's normalize and parse
//! tables), as nook normalises them (with `latest` added).

use super::*;

const D: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// (input, normalised full reference, familiar form)
const VALID: &[(&str, &str, &str)] = &[
    (
        "busybox",
        "docker.io/library/busybox:latest",
        "busybox:latest",
    ),
    (
        "docker/docker",
        "docker.io/docker/docker:latest",
        "docker/docker:latest",
    ),
    (
        "library/debian",
        "docker.io/library/debian:latest",
        "debian:latest",
    ),
    (
        "docker.io/docker/docker",
        "docker.io/docker/docker:latest",
        "docker/docker:latest",
    ),
    (
        "docker.io/library/debian",
        "docker.io/library/debian:latest",
        "debian:latest",
    ),
    (
        "docker.io/debian",
        "docker.io/library/debian:latest",
        "debian:latest",
    ),
    (
        "index.docker.io/docker/docker",
        "docker.io/docker/docker:latest",
        "docker/docker:latest",
    ),
    (
        "index.docker.io/library/debian",
        "docker.io/library/debian:latest",
        "debian:latest",
    ),
    (
        "index.docker.io/debian",
        "docker.io/library/debian:latest",
        "debian:latest",
    ),
    (
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/docker/docker:latest",
        "127.0.0.1:5000/docker/docker:latest",
    ),
    (
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/library/debian:latest",
        "127.0.0.1:5000/library/debian:latest",
    ),
    (
        "127.0.0.1:5000/debian",
        "127.0.0.1:5000/debian:latest",
        "127.0.0.1:5000/debian:latest",
    ),
    (
        "192.168.0.1",
        "docker.io/library/192.168.0.1:latest",
        "192.168.0.1:latest",
    ),
    (
        "192.168.0.1:80",
        "docker.io/library/192.168.0.1:80",
        "192.168.0.1:80",
    ),
    (
        "192.168.0.1:8/debian",
        "192.168.0.1:8/debian:latest",
        "192.168.0.1:8/debian:latest",
    ),
    (
        "192.168.1.1/repo",
        "192.168.1.1/repo:latest",
        "192.168.1.1/repo:latest",
    ),
    (
        "192.168.1.1:5000/repo:5050",
        "192.168.1.1:5000/repo:5050",
        "192.168.1.1:5000/repo:5050",
    ),
    (
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
    ),
    (
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker:latest",
        "[fc00::1]:5000/docker:latest",
    ),
    (
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest",
    ),
    (
        "[2001:db8::1]/repo",
        "[2001:db8::1]/repo:latest",
        "[2001:db8::1]/repo:latest",
    ),
    (
        "[::1]:5000/repo",
        "[::1]:5000/repo:latest",
        "[::1]:5000/repo:latest",
    ),
    (
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "docker.io/library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest",
    ),
    // an uppercase first component is a domain, not a path
    (
        "Docker/docker",
        "Docker/docker:latest",
        "Docker/docker:latest",
    ),
    (
        "DOCKER/docker",
        "DOCKER/docker:latest",
        "DOCKER/docker:latest",
    ),
    (
        "docker-rules/docker",
        "docker.io/docker-rules/docker:latest",
        "docker-rules/docker:latest",
    ),
    (
        "docker---rules/docker",
        "docker.io/docker---rules/docker:latest",
        "docker---rules/docker:latest",
    ),
    ("d/docker", "docker.io/d/docker:latest", "d/docker:latest"),
    ("jess/t", "docker.io/jess/t:latest", "jess/t:latest"),
    (
        "dock__er/docker",
        "docker.io/dock__er/docker:latest",
        "dock__er/docker:latest",
    ),
    (
        "test_com",
        "docker.io/library/test_com:latest",
        "test_com:latest",
    ),
    (
        "test_com/foo",
        "docker.io/test_com/foo:latest",
        "test_com/foo:latest",
    ),
    (
        "test.com:tag",
        "docker.io/library/test.com:tag",
        "test.com:tag",
    ),
    (
        "test.com:5000",
        "docker.io/library/test.com:5000",
        "test.com:5000",
    ),
    (
        "test.com/repo:tag",
        "test.com/repo:tag",
        "test.com/repo:tag",
    ),
    (
        "test:5000/repo",
        "test:5000/repo:latest",
        "test:5000/repo:latest",
    ),
    (
        "test-com:8080/foo",
        "test-com:8080/foo:latest",
        "test-com:8080/foo:latest",
    ),
    (
        "xn--n3h.com:18080/foo",
        "xn--n3h.com:18080/foo:latest",
        "xn--n3h.com:18080/foo:latest",
    ),
    (
        "lowercase:Uppercase",
        "docker.io/library/lowercase:Uppercase",
        "lowercase:Uppercase",
    ),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io/test.example.com/my-app:test.example.com",
    ),
    (
        "foo_bar.com:8080",
        "docker.io/library/foo_bar.com:8080",
        "foo_bar.com:8080",
    ),
    (
        "foo/foo_bar.com:8080",
        "docker.io/foo/foo_bar.com:8080",
        "foo/foo_bar.com:8080",
    ),
    (
        "library/foo/bar",
        "docker.io/library/foo/bar:latest",
        "library/foo/bar:latest",
    ),
    (
        "other/library",
        "docker.io/other/library:latest",
        "other/library:latest",
    ),
    ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
    (
        "localhost:5000/x:1",
        "localhost:5000/x:1",
        "localhost:5000/x:1",
    ),
    // "localhost" alone is a repository on Docker Hub, and ":5000" its tag
    (
        "localhost:5000",
        "docker.io/library/localhost:5000",
        "localhost:5000",
    ),
];

#[test]
fn docker_valid_references_normalise() {
    for (input, full, familiar) in VALID {
        let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), *full, "{input}");
        assert_eq!(r.familiar(), *familiar, "{input}");
        // the normalised forms parse back to the same reference
        assert_eq!(Reference::parse(full).unwrap(), r, "{full}");
        assert_eq!(Reference::parse(familiar).unwrap(), r, "{familiar}");
    }
}

#[test]
fn digests_and_tags_together() {
    let r = Reference::parse(&format!("test:5000/repo:tag@{D}")).unwrap();
    assert_eq!(
        (r.registry.as_str(), r.repository.as_str()),
        ("test:5000", "repo")
    );
    assert_eq!(r.tag.as_deref(), Some("tag"));
    assert_eq!(
        r.digest.as_ref().map(|d| d.to_string()),
        Some(D.to_string())
    );
    assert_eq!(r.manifest_ref(), D);

    // a digest alone gets no default tag
    let r = Reference::parse(&format!("repo@{D}")).unwrap();
    assert_eq!(r.to_string(), format!("docker.io/library/repo@{D}"));
    assert_eq!(r.familiar(), format!("repo@{D}"));
    assert_eq!(r.tag, None);

    let short =
        "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    let r = Reference::parse(short).unwrap();
    assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
    assert_eq!(r.familiar(), short);

    let sha512 = format!("sha512:{}", "f".repeat(128));
    let r = Reference::parse(&format!("xn--7o8h.com/myimage:xn--7o8h.com@{sha512}")).unwrap();
    assert_eq!(r.registry, "xn--7o8h.com");
    assert_eq!(r.tag.as_deref(), Some("xn--7o8h.com"));
}

/// (input, a word the error must hold)
const INVALID: &[(&str, &str)] = &[
    ("", "at least one component"),
    (":justtag", "component"),
    (
        "@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "component",
    ),
    ("repo@sha256:ffffffffffffffffffffffffffffffffff", "digest"),
    (
        "validname@invaliddigest:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "unsupported digest algorithm",
    ),
    (
        "repo@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "lowercase hex",
    ),
    ("repo@sha256", "digest"),
    ("Uppercase:tag", "lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "lowercase"),
    ("docker/Docker", "lowercase"),
    ("docker.io/docker/Docker", "lowercase"),
    ("https://github.com/docker/docker", "registry host"),
    ("-docker", "component"),
    ("-docker/docker", "component"),
    ("docker-/docker", "component"),
    ("-docker-/docker", "component"),
    ("-docker.io/docker/docker", "registry host"),
    ("docker///docker", "component"),
    ("docker.io/docker///docker", "component"),
    ("docker/", "component"),
    ("____/____", "component"),
    ("_docker/_docker", "component"),
    ("dock..er/docker", "registry host"),
    ("dock_.er/docker", "registry host"),
    ("dock-.er/docker", "registry host"),
    ("aa/asdf$$^/aa", "component"),
    ("[fc00::1]", "invalid tag"),
    ("[fc00::1]:5000", "component"),
    ("[2001:db8::1]:tag", "component"),
    ("fc00::1:5000/debian", "registry host"),
    ("[fe80::1%eth0]:5000/debian", "registry host"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "registry host"),
    (
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "hexadecimal",
    ),
    ("repo:-tag", "invalid tag"),
    ("repo:", "invalid tag"),
    ("repo:t@g", "digest"),
];

#[test]
fn docker_invalid_references_are_typed_errors() {
    for (input, word) in INVALID {
        match Reference::parse(input) {
            Err(e @ Error::Reference { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(word), "{input}: {msg:?} lacks {word:?}");
                assert!(
                    msg.contains(&format!("{input:?}")),
                    "{msg} does not name {input}"
                );
                assert!(!msg.contains('\n'));
            }
            other => panic!("{input}: {other:?}"),
        }
    }
}

#[test]
fn lengths() {
    let long = format!("{}a:tag", "a/".repeat(128));
    assert!(Reference::parse(&long)
        .unwrap_err()
        .to_string()
        .contains("255"));
    let ns = format!(
        "{}/docker",
        "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4)
    );
    assert!(Reference::parse(&ns).is_err());
    let tag = "t".repeat(128);
    assert!(Reference::parse(&format!("repo:{tag}")).is_ok());
    assert!(Reference::parse(&format!("repo:{tag}x")).is_err());
}

#[test]
fn api_host_of_docker_hub() {
    assert_eq!(
        Reference::parse("busybox").unwrap().api_host(),
        "registry-1.docker.io"
    );
    assert_eq!(
        Reference::parse("quay.io/a/b").unwrap().api_host(),
        "quay.io"
    );
    assert_eq!(
        Reference::parse("localhost:5000/a").unwrap().api_host(),
        "localhost:5000"
    );
}
