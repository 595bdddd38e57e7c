//! Dropping the monitor's start-up code from its resident memory.
//!
//! Most of the monitor's resident memory is its own program file: the
//! static glibc's and std's start-up code, argument parsing, and (through
//! the kernel's fault-around) the pages near them, nearly all of the
//! 0.9 MiB of code.  Once the monitor waits on its container only a few
//! pages are used again.  So, once set up, it tells the kernel it no
//! longer needs the clean, read-only mappings of its program
//! (`MADV_DONTNEED`): their pages leave its resident set (they stay in
//! the page cache) and those used again are faulted back in from the
//! file.  Only mappings without any anonymous (written) page are dropped:
//! relocated data (RELRO) is anonymous, and is kept.

/// One mapping of /proc/self/smaps: its range, whether it is read-only
/// and of our program, and whether it has anonymous pages.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    droppable: bool,
}

/// The mappings of `exe` that can be dropped, from smaps text.
fn droppable(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut cur: Option<Mapping> = None;
    let mut flush = |m: Option<Mapping>| {
        if let Some(m) = m.filter(|m| m.droppable) {
            out.push((m.start, m.end));
        }
    };
    for line in smaps.lines() {
        let mut f = line.split_ascii_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                flush(cur.take());
                let perms = f.next().unwrap_or("");
                let path = f.nth(3).unwrap_or("");
                cur = Some(Mapping {
                    start,
                    end,
                    droppable: path == exe && !perms.contains('w'),
                });
                continue;
            }
        }
        if first == "Anonymous:" && f.next() != Some("0") {
            if let Some(m) = &mut cur {
                m.droppable = false;
            }
        }
    }
    flush(cur);
    out
}

/// Drop the clean read-only pages of this program from the resident set.
pub fn trim() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in droppable(&smaps, &exe.to_string_lossy()) {
        // SAFETY: a read-only, private mapping of our program file with
        // no anonymous page: dropping its pages only makes the next use
        // read them from the file again.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_read_only_mappings_of_the_program() {
        let smaps = "\
1000-3000 r--p 00000000 fe:00 7 /bin/m
Rss:                   8 kB
Anonymous:             0 kB
3000-5000 r-xp 00002000 fe:00 7 /bin/m
Anonymous:             0 kB
5000-6000 r--p 00004000 fe:00 7 /bin/m
Anonymous:             4 kB
6000-7000 rw-p 00005000 fe:00 7 /bin/m
Anonymous:             0 kB
7000-8000 r-xp 00000000 fe:00 9 /lib/other
Anonymous:             0 kB
9000-a000 rw-p 00000000 00:00 0 [heap]
Anonymous:             4 kB
";
        assert_eq!(
            droppable(smaps, "/bin/m"),
            vec![(0x1000, 0x3000), (0x3000, 0x5000)]
        );
    }

    #[test]
    fn trimming_this_process_keeps_it_working() {
        let before = rss();
        trim();
        // code and data still work after the pages are dropped
        let v: Vec<String> = (0..100).map(|i| format!("{i}")).collect();
        assert_eq!(v[42], "42");
        assert!(rss() <= before + 64, "{} -> {}", before, rss());
    }

    fn rss() -> u64 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .unwrap()
    }
}
