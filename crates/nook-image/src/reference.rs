//! Image references (`busybox`, `quay.io/org/app:1.2`, `repo@sha256:…`),
//! parsed and normalised exactly as Docker's `ParseNormalizedNamed` does,
//! with the default tag `latest` added when neither tag nor digest is given.
//!
//! Grammar (distribution's): `[domain/]path[:tag][@digest]`, where the
//! first `/`-component is a domain when it holds a `.` or a `:`, is
//! `localhost`, or has an uppercase letter; otherwise the domain is
//! `docker.io`, and a one-component path there gets `library/`.

use crate::{Error, Result};
use oci_spec::image::Digest;
use std::fmt;

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The tag a reference without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// A normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The registry as named in references (`docker.io`, `host:port`).
    pub registry: String,
    /// The repository path (`library/busybox`), lowercase.
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The manifest digest, if any.
    pub digest: Option<Digest>,
}

fn err(input: &str, reason: impl Into<String>) -> Error {
    Error::Reference {
        reference: input.to_string(),
        reason: reason.into(),
    }
}

impl Reference {
    /// Parse and normalise `input`; `latest` is added when there is
    /// neither tag nor digest.
    pub fn parse(input: &str) -> Result<Reference> {
        if input.is_empty() {
            return Err(err(
                input,
                "repository name must have at least one component",
            ));
        }
        if input.len() == 64
            && input
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(err(
                input,
                "cannot specify a 64-byte hexadecimal string as a repository name",
            ));
        }
        let (name_tag, digest) = match input.split_once('@') {
            Some((n, d)) => (n, Some(parse_digest(input, d)?)),
            None => (input, None),
        };
        let (name, tag) = match name_tag.rfind(':') {
            Some(i) if !name_tag[i..].contains('/') => (&name_tag[..i], Some(&name_tag[i + 1..])),
            _ => (name_tag, None),
        };
        if let Some(tag) = tag {
            check_tag(input, tag)?;
        }
        let (registry, path) = split_domain(name);
        if let Some(r) = registry {
            check_domain(input, r)?;
        }
        check_path(input, path)?;
        let registry = match registry {
            None | Some("index.docker.io") => DOCKER_HUB,
            Some(r) => r,
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        if registry.len() + 1 + repository.len() > NAME_MAX {
            return Err(err(
                input,
                format!("repository name must not be more than {NAME_MAX} characters"),
            ));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_string()),
        };
        Ok(Reference {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// The host (and port) that serves this reference's registry API:
    /// `registry-1.docker.io` for Docker Hub.
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The short form Docker shows: `busybox:latest`, `user/app:1`,
    /// `quay.io/org/app@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut s = if self.registry == DOCKER_HUB {
            match self.repository.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.repository.clone(),
            }
        } else {
            self.name()
        };
        push_tag_digest(&mut s, self.tag.as_deref(), self.digest.as_ref());
        s
    }

    /// The tag or digest a registry is asked for: the digest when there is
    /// one (it pins the content), else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// This reference pinned to `digest` (its tag kept).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }
}

/// The API host for a registry as named in references.
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

fn push_tag_digest(s: &mut String, tag: Option<&str>, digest: Option<&Digest>) {
    if let Some(t) = tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = digest {
        s.push('@');
        s.push_str(d.as_ref());
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        push_tag_digest(&mut s, self.tag.as_deref(), self.digest.as_ref());
        f.write_str(&s)
    }
}

impl std::str::FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Reference> {
        Reference::parse(s)
    }
}

/// Docker's domain detection: the first component is a domain when there
/// is a `/` after it and it has a `.` or `:`, is `localhost`, or has an
/// uppercase letter.
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn parse_digest(input: &str, d: &str) -> Result<Digest> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Err(err(input, format!("invalid digest {d:?}: no algorithm")));
    };
    let alg_ok = !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|c| {
            c.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && c.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    if !alg_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err(input, format!("invalid digest {d:?}")));
    }
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(err(input, format!("unsupported digest algorithm {alg:?}"))),
    };
    if hex.len() != want || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(err(
            input,
            format!("invalid digest {d:?}: {alg} needs {want} lowercase hex digits"),
        ));
    }
    Digest::try_from(d).map_err(|e| err(input, format!("invalid digest {d:?}: {e}")))
}

fn check_tag(input: &str, tag: &str) -> Result<()> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = tag.len() <= TAG_MAX
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(err(
            input,
            format!("invalid tag {tag:?} (want [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"),
        ))
    }
}

/// `host[:port]`, host a dotted name of `[A-Za-z0-9-]` labels (no leading
/// or trailing `-`) or a bracketed IPv6 address of hex digits and colons.
fn check_domain(input: &str, domain: &str) -> Result<()> {
    let bad = || err(input, format!("invalid registry host {domain:?}"));
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(bad());
        }
        match after {
            "" => (None, None),
            p => (None, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    if let Some(h) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !h.split('.').all(label_ok) {
            return Err(bad());
        }
    }
    Ok(())
}

/// Path components of `[a-z0-9]+` joined by `.`, `_`, `__` or `-`+.
fn check_path(input: &str, path: &str) -> Result<()> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(err(
            input,
            format!("repository name {path:?} must be lowercase"),
        ));
    }
    for comp in path.split('/') {
        if !component_ok(comp) {
            return Err(err(
                input,
                format!("invalid repository path component {comp:?} in {path:?}"),
            ));
        }
    }
    Ok(())
}

fn component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator: ".", "_", "__" or a run of "-"
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
