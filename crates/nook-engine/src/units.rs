//! The units Docker's command line takes, parsed as Docker parses them
//! (github.com/docker/go-units): memory sizes in binary multiples
//! (`512m`, `1g`, `1.5G`, `100kb`, plain bytes).  runc's command line
//! (nook-runtime's `units`) has its own, different rules (`-1` anywhere,
//! `t` and `ib` suffixes only): the two are kept apart on purpose.

/// A size as Docker's `RAMInBytes` reads it: a non-negative decimal number,
/// an optional space, then an optional unit `k`, `m`, `g`, `t` or `p`
/// (powers of 1024, any case) optionally followed by `i` and/or `b`.
/// The error is Docker's: `invalid size: 'VALUE'`.
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(digits_end);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) || num.ends_with('.') {
        return Err(bad());
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest).to_ascii_lowercase();
    let mut unit = rest.as_str();
    let mul: f64 = match unit.chars().next() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            unit = &unit[1..];
            let exp = "kmgtp".find(c).unwrap_or(0) as i32 + 1;
            1024f64.powi(exp)
        }
        _ => 1.0,
    };
    let unit = unit.strip_prefix('i').unwrap_or(unit);
    let unit = unit.strip_prefix('b').unwrap_or(unit);
    if !unit.is_empty() {
        return Err(bad());
    }
    let v: f64 = num.parse().map_err(|_| bad())?;
    let bytes = v * mul;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_dockers() {
        for (s, want) in [
            ("0", 0),
            ("1024", 1024),
            ("512b", 512),
            ("512m", 512 << 20),
            ("512M", 512 << 20),
            ("512mb", 512 << 20),
            ("512MiB", 512 << 20),
            ("1g", 1 << 30),
            ("1.5g", 3 << 29),
            ("100 k", 100 << 10),
            ("2t", 2 << 40),
            ("1p", 1 << 50),
        ] {
            assert_eq!(ram_in_bytes(s), Ok(want), "{s}");
        }
        for s in [
            "", "abc", "-1", "-5m", "1x", "1mbb", "m", ".5m", "5.m", "1.2.3", " 1",
        ] {
            assert_eq!(ram_in_bytes(s), Err(format!("invalid size: '{s}'")), "{s}");
        }
    }
}
