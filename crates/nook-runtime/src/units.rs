//! The units runc's command line takes: sizes (`64m`, `1.5g`, `-1`) and
//! durations (`5s`, `100ms`, `1m30s`).

use std::time::Duration;

use nook_container::Error;

type Result<T> = std::result::Result<T, Error>;

/// Parse a size as runc does: bytes, or with a k/m/g/t suffix (powers of
/// 1024, optional trailing `b`/`ib`), or `-1` for unlimited.
pub fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let lower = t.to_ascii_lowercase();
    let lower = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, mul): (&str, i64) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| Error::InvalidInput(format!("invalid size {s:?}")))?;
    if v < 0.0 {
        return Err(Error::InvalidInput(format!("invalid size {s:?}")));
    }
    Ok((v * mul as f64) as i64)
}

/// Parse a Go-style duration (`5s`, `100ms`, `1m30s`).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || Error::InvalidInput(format!("invalid duration {s:?} (like 5s, 500ms, 1m)"));
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let v: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mul = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += v * mul;
        rest = &rest[u..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("32m").unwrap(), 32 << 20);
        assert_eq!(parse_size("32MB").unwrap(), 32 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("abc").is_err());
        assert!(parse_size("-5").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
    }
}
