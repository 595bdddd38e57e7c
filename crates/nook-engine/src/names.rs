//! What a name given by a user means, as Docker reads it: a reference
//! (`busybox`, `busybox:1`, `host:5000/app@sha256:…`) names an image by tag
//! or by repository digest; otherwise a hex id or id prefix (`3f57d9`,
//! `sha256:3f57d9…`) names it by id.  A reference is tried first, so a
//! repository called `abc` wins over an id starting `abc`.

use crate::{Engine, Error, Result};
use nook_image::{Digest, Reference};
use nook_state::{RepoDigest, Tag};

/// How an image was named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageName {
    /// By a tag.
    Tag(Tag),
    /// By a repository digest.
    Digest(RepoDigest),
    /// By its id or an id prefix.
    Id,
}

/// A name resolved to an image.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The image.
    pub id: Digest,
    /// How it was named.
    pub name: ImageName,
}

/// The tag a reference names, if it has one (its digest, if any, ignored).
pub fn tag_of(r: &Reference) -> Option<Tag> {
    r.tag.as_ref().map(|t| Tag {
        repository: r.name(),
        tag: t.clone(),
    })
}

/// The short form Docker shows for a full name (`docker.io/library/x:1`
/// is `x:1`); a name that does not parse is shown as it is.
pub fn familiar(name: &str) -> String {
    Reference::parse(name).map_or_else(|_| name.to_string(), |r| r.familiar())
}

/// The repository of a full name as Docker lists it (`busybox`,
/// `quay.io/org/app`).
pub fn familiar_repository(repository: &str) -> String {
    match Reference::parse(repository) {
        Ok(r) => {
            let f = r.familiar();
            match f.rfind(':') {
                Some(i) if !f[i..].contains('/') => f[..i].to_string(),
                _ => f,
            }
        }
        Err(_) => repository.to_string(),
    }
}

fn is_id_like(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    !hex.is_empty()
        && hex.len() <= 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Engine {
    /// The image `name` names.
    pub fn resolve(&self, name: &str) -> Result<Resolved> {
        let by_ref = match name.starts_with("sha256:") {
            true => None,
            false => Some(Reference::parse(name)),
        };
        if let Some(Ok(r)) = &by_ref {
            if let Some(d) = &r.digest {
                let rd = RepoDigest {
                    repository: r.name(),
                    digest: d.clone(),
                };
                return match self.state.image_by_repo_digest(&rd)? {
                    Some(id) => Ok(Resolved {
                        id,
                        name: ImageName::Digest(rd),
                    }),
                    None => Err(Error::NoSuchImage(name.to_string())),
                };
            }
            if let Some(tag) = tag_of(r) {
                if let Some(id) = self.state.image_by_tag(&tag)? {
                    return Ok(Resolved {
                        id,
                        name: ImageName::Tag(tag),
                    });
                }
            }
        }
        if is_id_like(name) {
            let ids = self.state.images_by_id_prefix(name)?;
            match ids.len() {
                0 => {}
                1 => {
                    return Ok(Resolved {
                        id: ids.into_iter().next().expect("one id"),
                        name: ImageName::Id,
                    })
                }
                count => {
                    return Err(Error::Ambiguous {
                        prefix: name.to_string(),
                        count,
                    })
                }
            }
        }
        match by_ref {
            Some(Err(e)) if !is_id_like(name) => Err(e.into()),
            _ => Err(Error::NoSuchImage(name.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shown_short() {
        assert_eq!(
            familiar("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(familiar("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000/a/b:v1");
        assert_eq!(familiar_repository("docker.io/library/busybox"), "busybox");
        assert_eq!(familiar_repository("docker.io/user/app"), "user/app");
        assert_eq!(
            familiar_repository("localhost:5000/app"),
            "localhost:5000/app"
        );
        assert!(is_id_like("3f57d9"));
        assert!(is_id_like("sha256:3f57d9"));
        assert!(!is_id_like("busybox"));
        assert!(!is_id_like(""));
    }
}
