//! Content digests: hashing bytes as they stream past, for the algorithms
//! the distribution spec names (sha256; sha384 and sha512 too), and checking a digest
//! is one nook can verify.

use crate::{Error, Result};
use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::Digest as _;

/// A running hash for one of the supported algorithms.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 (what registries use).
    Sha256(sha2::Sha256),
    /// SHA-384.
    Sha384(sha2::Sha384),
    /// SHA-512.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A hasher for the algorithm of `digest`; an error for an algorithm
    /// nook cannot verify.
    pub fn for_digest(digest: &Digest) -> Result<Hasher> {
        match digest.algorithm() {
            DigestAlgorithm::Sha256 => Ok(Hasher::sha256()),
            DigestAlgorithm::Sha384 => Ok(Hasher::Sha384(sha2::Sha384::new())),
            DigestAlgorithm::Sha512 => Ok(Hasher::Sha512(sha2::Sha512::new())),
            other => Err(Error::Unsupported {
                media_type: format!("digest algorithm {other}"),
                reason: format!("{digest} cannot be verified (sha256, sha384 and sha512 can)"),
            }),
        }
    }

    /// A SHA-256 hasher.
    pub fn sha256() -> Hasher {
        Hasher::Sha256(sha2::Sha256::new())
    }

    /// Hash more bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> Digest {
        let (alg, bytes) = match self {
            Hasher::Sha256(h) => ("sha256", h.finalize().to_vec()),
            Hasher::Sha384(h) => ("sha384", h.finalize().to_vec()),
            Hasher::Sha512(h) => ("sha512", h.finalize().to_vec()),
        };
        let mut s = String::with_capacity(alg.len() + 1 + bytes.len() * 2);
        s.push_str(alg);
        s.push(':');
        for b in bytes {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        Digest::try_from(s).expect("a hex digest of a known algorithm is valid")
    }
}

/// The SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> Digest {
    let mut h = Hasher::sha256();
    h.update(data);
    h.finish()
}

/// Check that `data` has `digest` (and, when given, `size`).
pub fn verify_bytes(digest: &Digest, size: Option<u64>, data: &[u8]) -> Result<()> {
    if let Some(size) = size {
        if size != data.len() as u64 {
            return Err(Error::SizeMismatch {
                digest: digest.clone(),
                expected: size,
                got: data.len() as u64,
            });
        }
    }
    let mut h = Hasher::for_digest(digest)?;
    h.update(data);
    let got = h.finish();
    if &got != digest {
        return Err(Error::DigestMismatch {
            digest: digest.clone(),
            got,
        });
    }
    Ok(())
}

/// Parse a digest string, naming `what` carried it when it is invalid.
pub fn parse(what: &'static str, s: &str) -> Result<Digest> {
    let d = Digest::try_from(s).map_err(|e| Error::invalid(what, s, format!("bad digest: {e}")))?;
    Hasher::for_digest(&d)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_content() {
        assert_eq!(
            sha256(b"{}").to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn sha512_verifies() {
        let mut h = Hasher::Sha512(sha2::Sha512::new());
        h.update(b"abc");
        let d = h.finish();
        assert!(d.to_string().starts_with("sha512:ddaf35a193617aba"));
        verify_bytes(&d, Some(3), b"abc").unwrap();
        assert!(matches!(
            verify_bytes(&d, None, b"abd"),
            Err(Error::DigestMismatch { .. })
        ));
    }

    #[test]
    fn mismatches_are_errors() {
        let d = sha256(b"abc");
        assert!(matches!(
            verify_bytes(&d, Some(4), b"abc"),
            Err(Error::SizeMismatch { .. })
        ));
        let e = verify_bytes(&d, None, b"abx").unwrap_err();
        assert!(e.to_string().contains(&d.to_string()), "{e}");
    }

    #[test]
    fn unknown_algorithms_are_refused() {
        assert!(parse("digest", "md5:d41d8cd98f00b204e9800998ecf8427e").is_err());
        assert!(parse("digest", "sha256:abc").is_err());
        parse("digest", sha256(b"").as_ref()).unwrap();
    }
}
