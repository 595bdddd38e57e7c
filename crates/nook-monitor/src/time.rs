//! RFC 3339 timestamps with nanoseconds (`2026-12-07T14:30:02.123456789Z`,
//! UTC) from the real-time clock, without a date crate: the civil date
//! from a day count (Howard Hinnant's days-to-civil arithmetic).

/// Unix nanoseconds now (the real-time clock).
pub fn now_nanos() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// The civil date (year, month 1-12, day 1-31) of day `z` since
/// 1970-01-01 (negative before it).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Unix nanoseconds as RFC 3339 in UTC with all nine fraction digits
/// (a fixed width: lines of a log sort as text).
pub fn rfc3339_nano(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_nano(1_796_654_202_123_456_789),
            "2026-12-07T14:36:42.123456789Z"
        );
        assert_eq!(
            rfc3339_nano(951_782_399_000_000_001),
            "2000-02-28T23:59:59.000000001Z"
        );
        assert_eq!(rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn every_day_follows_the_one_before() {
        // 1900..2200: each day is the next of the previous one
        let mut prev = civil_from_days(-25_567);
        assert_eq!(prev, (1900, 1, 1));
        let month_len = |y: i64, m: u32| match m {
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        for z in -25_566..84_000 {
            let (y, m, d) = civil_from_days(z);
            let (py, pm, pd) = prev;
            if pd < month_len(py, pm) {
                assert_eq!((y, m, d), (py, pm, pd + 1), "day {z}");
            } else if pm < 12 {
                assert_eq!((y, m, d), (py, pm + 1, 1), "day {z}");
            } else {
                assert_eq!((y, m, d), (py + 1, 1, 1), "day {z}");
            }
            prev = (y, m, d);
        }
    }

    #[test]
    fn now_is_formatted_like_date() {
        let s = rfc3339_nano(now_nanos());
        assert_eq!(s.len(), 30, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }
}
