//! Time namespace offsets (`linux.timeOffsets`): written to
//! `/proc/self/timens_offsets` after `unshare(CLONE_NEWTIME)` and before the
//! first process enters the namespace.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::LinuxTimeOffset;

use crate::{NsError, Result};

/// Render the offsets in the kernel's format (numeric clock ids, accepted by
/// every kernel with time namespaces).
pub fn format(offsets: &HashMap<String, LinuxTimeOffset>) -> Result<String> {
    let mut keys: Vec<&String> = offsets.keys().collect();
    keys.sort();
    let mut out = String::new();
    for k in keys {
        let clock = match k.as_str() {
            "monotonic" => libc::CLOCK_MONOTONIC,
            "boottime" => libc::CLOCK_BOOTTIME,
            other => {
                return Err(NsError::Invalid(format!(
                    "linux.timeOffsets: unknown clock {other:?} (monotonic or boottime)"
                )))
            }
        };
        let o = &offsets[k];
        let ns = o.nanosecs().unwrap_or(0);
        if ns >= 1_000_000_000 {
            return Err(NsError::Invalid(format!(
                "linux.timeOffsets.{k}.nanosecs must be below 1e9"
            )));
        }
        out.push_str(&format!("{clock} {} {ns}\n", o.secs().unwrap_or(0)));
    }
    Ok(out)
}

/// Write offsets for the time namespace the caller's children will enter.
pub fn write_offsets(offsets: &HashMap<String, LinuxTimeOffset>) -> Result<()> {
    let s = format(offsets)?;
    if s.is_empty() {
        return Ok(());
    }
    nook_sys::fd::write_file(Path::new("/proc/self/timens_offsets"), s.as_bytes())
        .map_err(|e| NsError::TimeOffsets(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxTimeOffsetBuilder;

    #[test]
    fn formats_sorted_numeric() {
        let mut m = HashMap::new();
        m.insert(
            "monotonic".to_string(),
            LinuxTimeOffsetBuilder::default()
                .secs(86400i64)
                .build()
                .unwrap(),
        );
        m.insert(
            "boottime".to_string(),
            LinuxTimeOffsetBuilder::default()
                .secs(-5i64)
                .nanosecs(7u32)
                .build()
                .unwrap(),
        );
        assert_eq!(format(&m).unwrap(), "7 -5 7\n1 86400 0\n");
    }

    #[test]
    fn rejects_unknown_clock() {
        let mut m = HashMap::new();
        m.insert(
            "realtime".to_string(),
            LinuxTimeOffsetBuilder::default()
                .secs(1i64)
                .build()
                .unwrap(),
        );
        assert!(format(&m).is_err());
    }
}
