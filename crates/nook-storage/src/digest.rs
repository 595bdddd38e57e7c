//! sha256 digests as layers are named: diff ids (the digest of a layer's
//! uncompressed tar stream) and chain ids (OCI image-spec: the chain id of
//! layer N is `sha256(chain_id(N-1) + " " + diff_id(N))`, of the first
//! layer its diff id).
//!
//! [`Digest`] is 32 bytes (`Copy`, a cheap map key); it converts to and
//! from `oci_spec::image::Digest`, the type nook-image hands out, with
//! `TryFrom` (only sha256 fits) and `From`.  (No `==` across the two:
//! it would leave `digest == vec![]`-style comparisons without a type.)

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A `sha256:<64 hex>` digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// A string that is not a `sha256:<64 lowercase hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("digest {0:?}: not sha256:<64 lowercase hex digits>")]
pub struct DigestError(pub String);

impl Digest {
    /// The digest with these 32 bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Digest(b)
    }

    /// The sha256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Digest(Sha256::digest(data).into())
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[(b >> 4) as usize]));
            s.push(char::from(HEX[(b & 15) as usize]));
        }
        s
    }

    /// Parse 64 lowercase hex digits (no prefix), as in a store directory name.
    pub fn from_hex(h: &str) -> Result<Self, DigestError> {
        let bad = || DigestError(h.to_string());
        let b = h.as_bytes();
        if b.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(bad)?;
            let lo = hex_val(pair[1]).ok_or_else(bad)?;
            out[i] = hi << 4 | lo;
        }
        Ok(Digest(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    /// Parse `sha256:<64 lowercase hex>`.
    fn from_str(s: &str) -> Result<Self, DigestError> {
        match s.strip_prefix("sha256:") {
            Some(h) => Digest::from_hex(h).map_err(|_| DigestError(s.to_string())),
            None => Err(DigestError(s.to_string())),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = DigestError;

    /// The same sha256 digest; any other algorithm is an error.
    fn try_from(d: &oci_spec::image::Digest) -> Result<Self, DigestError> {
        let bad = || DigestError(d.to_string());
        if *d.algorithm() != oci_spec::image::DigestAlgorithm::Sha256 {
            return Err(bad());
        }
        Digest::from_hex(d.digest()).map_err(|_| bad())
    }
}

impl TryFrom<oci_spec::image::Digest> for Digest {
    type Error = DigestError;

    /// The same sha256 digest; any other algorithm is an error.
    fn try_from(d: oci_spec::image::Digest) -> Result<Self, DigestError> {
        Digest::try_from(&d)
    }
}

impl From<Digest> for oci_spec::image::Digest {
    /// The same digest, as oci-spec spells it.
    fn from(d: Digest) -> Self {
        let sha: oci_spec::image::Sha256Digest = d
            .hex()
            .parse()
            .expect("64 lowercase hex digits are a sha256 digest");
        sha.into()
    }
}

/// The chain id of a layer with diff id `diff_id` on top of the layer whose
/// chain id is `parent` (`None` for an image's first layer).
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => *diff_id,
        Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
    }
}

/// The chain ids of an image's layers, given its diff ids bottom first (as
/// in the image config's `rootfs.diff_ids`); the result is bottom first too.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let c = chain_id(out.last(), d);
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let s = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let d: Digest = s.parse().unwrap();
        assert_eq!(d, Digest::of(b""));
        assert_eq!(d.to_string(), s);
        assert!("sha256:E3B0".parse::<Digest>().is_err());
        assert!(
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                .parse::<Digest>()
                .is_err()
        );
        let upper = s.to_uppercase().replace("SHA256", "sha256");
        let e = upper.parse::<Digest>().unwrap_err();
        assert!(e.to_string().contains("E3B0C442"), "{e}");
    }

    #[test]
    fn converts_with_oci_spec_digests() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let oci: oci_spec::image::Digest = format!("sha256:{hex}").parse().unwrap();
        let d = Digest::try_from(&oci).unwrap();
        assert_eq!(d, Digest::of(b""));
        assert_eq!(oci_spec::image::Digest::from(d), oci);
        let other: oci_spec::image::Digest = format!("sha512:{hex}{hex}").parse().unwrap();
        let e = Digest::try_from(other.clone()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("digest \"sha512:{hex}{hex}\": not sha256:<64 lowercase hex digits>")
        );
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        // The spec's definition, spelt out by hand.
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = Digest::of(b"c");
        let ab = Digest::of(format!("{a} {b}").as_bytes());
        let abc = Digest::of(format!("{ab} {c}").as_bytes());
        assert_eq!(chain_ids(&[a, b, c]), vec![a, ab, abc]);
        assert_eq!(chain_id(None, &a), a);
        // A value computed outside (printf 'sha256:<a> sha256:<b>' | sha256sum).
        assert_eq!(
            chain_id(Some(&a), &b).hex(),
            "51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676"
        );
    }
}
