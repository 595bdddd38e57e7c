//! Container names: what a name may be (Docker's rule) and generated
//! `adjective_noun` names.

use crate::{Error, Result};

const ADJECTIVES: &[&str] = &[
    "amazing",
    "bold",
    "brave",
    "calm",
    "clever",
    "cool",
    "eager",
    "elastic",
    "festive",
    "focused",
    "gallant",
    "gentle",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "lucid",
    "modest",
    "nice",
    "optimistic",
    "patient",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "zealous",
];

const NOUNS: &[&str] = &[
    "albattani",
    "babbage",
    "bohr",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "fermat",
    "feynman",
    "galileo",
    "gauss",
    "hopper",
    "hypatia",
    "kepler",
    "knuth",
    "lamport",
    "lovelace",
    "maxwell",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "wiles",
    "wozniak",
    "yonath",
];

/// A name from the random hex `seed` (at least 8 digits).
pub fn generate(seed: &str) -> String {
    let n = |s: &str| usize::from_str_radix(s, 16).unwrap_or(0);
    let a = ADJECTIVES[n(&seed[..4]) % ADJECTIVES.len()];
    let b = NOUNS[n(&seed[4..8]) % NOUNS.len()];
    format!("{a}_{b}")
}

/// Check a name given by the user: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, as Docker.
pub fn check(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
    match ok {
        true => Ok(()),
        false => Err(Error::invalid(
            "container name",
            name,
            "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let n = generate("0001000200");
        assert_eq!(n, "bold_bohr");
        assert!(check(&n).is_ok());
        assert!(check("a").is_err());
        assert!(check("-x").is_err());
        assert!(check("web/1").is_err());
        assert!(check("web.1_a-b").is_ok());
    }
}
