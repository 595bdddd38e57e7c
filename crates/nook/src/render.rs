//! Output as Docker writes it: sizes (`4.26MB`), ages (`2 weeks ago`),
//! dates, tables (columns padded by three spaces) and `--format`
//! templates (Go's text/template as Docker uses it: [`Template`]).

mod template;

pub use template::{tabwrite, Template};

/// A size as Docker shows it: three significant digits, decimal units.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while unit + 1 < UNITS.len() && significant(v) >= 1000.0 {
        v /= 1000.0;
        unit += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{v:.digits$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", UNITS[unit])
}

/// `v` rounded to three significant digits.
fn significant(v: f64) -> f64 {
    if v < 1.0 {
        return v;
    }
    let scale = 10f64.powi(2 - v.log10().floor() as i32);
    (v * scale).round() / scale
}

/// How long ago, as Docker says it (`About an hour`, `3 days`).
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let minutes = s / 60;
    let hours = (s as f64 / 3600.0 + 0.5) as i64;
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", s / 3600 / 24 / 365),
    }
}

/// `created` (Unix seconds) as an age (`2 weeks ago`), `N/A` if unknown.
pub fn age(created: Option<i64>, now: i64) -> String {
    match created {
        Some(c) => format!("{} ago", duration(now - c)),
        None => "N/A".into(),
    }
}

/// A time as Go prints it (`2024-01-02 15:04:05 +0000 UTC`), in `tz`.
pub fn date(seconds: i64, tz: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_second(seconds) {
        Ok(t) => t
            .to_zoned_datetime(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S %z %Z")
            .to_string(),
        Err(_) => seconds.to_string(),
    }
}

/// Rows as a table: every column but the last padded to its widest cell
/// plus three spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 < r.len() {
                line += &format!("{cell:<w$}", w = widths[c] + 3);
            } else {
                line += cell;
            }
        }
        out += line.trim_end();
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_as_docker_shows_them() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(999), "999B");
        assert_eq!(size(1000), "1kB");
        assert_eq!(size(1234), "1.23kB");
        assert_eq!(size(4_261_550), "4.26MB");
        assert_eq!(size(12_300_000), "12.3MB");
        assert_eq!(size(123_456_789), "123MB");
        assert_eq!(size(999_999), "1MB");
        assert_eq!(size(2_000_000_000), "2GB");
    }

    #[test]
    fn durations_as_docker_says_them() {
        assert_eq!(duration(0), "Less than a second");
        assert_eq!(duration(1), "1 second");
        assert_eq!(duration(59), "59 seconds");
        assert_eq!(duration(60), "About a minute");
        assert_eq!(duration(119), "About a minute");
        assert_eq!(duration(600), "10 minutes");
        assert_eq!(duration(3600), "About an hour");
        assert_eq!(duration(5 * 3600), "5 hours");
        assert_eq!(duration(3 * 86400), "3 days");
        assert_eq!(duration(15 * 86400), "2 weeks");
        assert_eq!(duration(90 * 86400), "3 months");
        assert_eq!(duration(800 * 86400), "2 years");
        assert_eq!(age(None, 5), "N/A");
        assert_eq!(age(Some(0), 3 * 86400), "3 days ago");
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(date(0, &utc), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn tables_pad_columns() {
        let t = table(&[
            vec!["REPOSITORY".into(), "TAG".into(), "SIZE".into()],
            vec!["busybox".into(), "latest".into(), "4MB".into()],
        ]);
        assert_eq!(t, "REPOSITORY   TAG      SIZE\nbusybox      latest   4MB\n");
    }

    #[test]
    fn templates() {
        let v = json!({"Repository": "busybox", "Tag": "1", "Config": {"Cmd": ["sh"]}});
        let t = Template::parse("{{.Repository}}:{{.Tag}}").unwrap();
        assert_eq!(t.render(&v).unwrap(), "busybox:1");
        let t = Template::parse("{{json .Config.Cmd}}\\t{{ .Tag }}").unwrap();
        assert_eq!(t.render(&v).unwrap(), "[\"sh\"]\t1");
        assert!(Template::parse("{{.Nope}}").unwrap().render(&v).is_err());
        assert!(Template::parse("{{Repository}}").is_err());
        assert!(Template::parse("{{.Tag").is_err());
        let t = Template::parse("table {{.Repository}}\\t{{.Tag}}").unwrap();
        assert!(t.table);
        assert_eq!(t.header(), "REPOSITORY\tTAG");
    }
}
