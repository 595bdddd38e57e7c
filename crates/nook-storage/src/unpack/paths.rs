//! The names in a layer: how an entry's path (or a hard link's target) is
//! turned into a path relative to the layer's root, which of them are
//! refused, and which are OCI whiteouts.
//!
//! Policy (see the crate docs): `.` and empty components are dropped; `..`
//! is applied lexically, as Docker does (`a/../b` is `b`), and an entry
//! whose `..` would climb above the layer's root is refused; an absolute
//! path is refused (tar writers strip the leading `/`, so only a crafted
//! layer has one).  The kernel therefore never sees a `..` from a layer.

use super::EntryError;

/// Longest name of one path component (`NAME_MAX`).
const NAME_MAX: usize = 255;
/// Longest path (`PATH_MAX` less the NUL).
const PATH_MAX: usize = 4095;

/// The layer-relative path of `raw` (components joined by `/`, empty for
/// the layer's root itself), or why it is refused.
pub(crate) fn normalise(raw: &[u8]) -> Result<Vec<u8>, EntryError> {
    if raw.is_empty() {
        return Err(EntryError::EmptyName);
    }
    if raw.contains(&0) {
        return Err(EntryError::NulInName);
    }
    if raw[0] == b'/' {
        return Err(EntryError::Absolute);
    }
    if raw.len() > PATH_MAX {
        return Err(EntryError::NameTooLong);
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if out.is_empty() {
                    return Err(EntryError::LeavesLayer);
                }
                let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(cut);
            }
            _ => {
                if c.len() > NAME_MAX {
                    return Err(EntryError::NameTooLong);
                }
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

/// Split a normalised, non-empty path into its parent (empty for the root)
/// and its last component.
pub(crate) fn split(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&[], rel),
    }
}

/// What an OCI whiteout name asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Whiteout<'a> {
    /// `.wh..wh..opq`: the parent directory hides the lower layers' content.
    Opaque,
    /// `.wh.NAME`: `NAME` in the lower layers is deleted.
    Name(&'a [u8]),
    /// Another `.wh..wh.` name (aufs bookkeeping such as `.wh..wh.plnk`):
    /// ignored, as Docker does.
    Aufs,
}

/// The whiteout a last path component names, if it is one; an invalid
/// one (`.wh.`, `.wh..`, `.wh...`) is refused.
pub(crate) fn whiteout(name: &[u8]) -> Result<Option<Whiteout<'_>>, EntryError> {
    let Some(rest) = name.strip_prefix(b".wh.") else {
        return Ok(None);
    };
    if rest == b".wh..opq" {
        return Ok(Some(Whiteout::Opaque));
    }
    if rest.starts_with(b".wh.") {
        return Ok(Some(Whiteout::Aufs));
    }
    if rest.is_empty() || rest == b"." || rest == b".." {
        return Err(EntryError::BadWhiteout);
    }
    Ok(Some(Whiteout::Name(rest)))
}

/// An entry's name for an error message: lossy UTF-8, cut after 200
/// characters so that a hostile name still makes one readable line.
pub(crate) fn label(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    if s.chars().count() <= 200 {
        return s.into_owned();
    }
    let mut cut: String = s.chars().take(200).collect();
    cut.push_str(&format!("…({} bytes)", raw.len()));
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Result<String, EntryError> {
        normalise(s.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn normalises_in_root_paths() {
        assert_eq!(n("./a/b/").unwrap(), "a/b");
        assert_eq!(n("a//./b").unwrap(), "a/b");
        assert_eq!(n("a/../b").unwrap(), "b");
        assert_eq!(n("a/b/../../c").unwrap(), "c");
        assert_eq!(n("./").unwrap(), "");
        assert_eq!(n(".").unwrap(), "");
        assert_eq!(n("a/..").unwrap(), "");
    }

    #[test]
    fn refuses_escapes_and_bad_names() {
        assert!(matches!(n("../etc/passwd"), Err(EntryError::LeavesLayer)));
        assert!(matches!(n("a/../../etc"), Err(EntryError::LeavesLayer)));
        assert!(matches!(n("./.."), Err(EntryError::LeavesLayer)));
        assert!(matches!(n("/etc/passwd"), Err(EntryError::Absolute)));
        assert!(matches!(n(""), Err(EntryError::EmptyName)));
        assert!(matches!(n("a\0b"), Err(EntryError::NulInName)));
        let long = "x".repeat(256);
        assert!(matches!(n(&long), Err(EntryError::NameTooLong)));
        assert_eq!(n(&"x".repeat(255)).unwrap().len(), 255);
        let deep = "d/".repeat(2100);
        assert!(matches!(n(&deep), Err(EntryError::NameTooLong)));
    }

    #[test]
    fn splits() {
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
    }

    #[test]
    fn whiteouts() {
        assert_eq!(whiteout(b"file").unwrap(), None);
        assert_eq!(whiteout(b".wh..wh..opq").unwrap(), Some(Whiteout::Opaque));
        assert_eq!(whiteout(b".wh..wh.plnk").unwrap(), Some(Whiteout::Aufs));
        assert_eq!(whiteout(b".wh.foo").unwrap(), Some(Whiteout::Name(b"foo")));
        assert_eq!(whiteout(b".wh..x").unwrap(), Some(Whiteout::Name(b".x")));
        for bad in [&b".wh."[..], b".wh..", b".wh..."] {
            assert!(
                matches!(whiteout(bad), Err(EntryError::BadWhiteout)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(label(b"../../etc/passwd"), "../../etc/passwd");
        let l = label("y".repeat(5000).as_bytes());
        assert!(
            l.starts_with(&"y".repeat(200)) && l.ends_with("…(5000 bytes)"),
            "{l}"
        );
    }
}
