//! Reading `/proc`: a process's state and start time from `/proc/<pid>/stat`
//! (which together with the pid identify a process even after its pid is
//! reused), and the escaped fields of `/proc/<pid>/mountinfo`.

use std::fs;

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// State letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Start time in clock ticks since boot (field 22).
    pub start_time: u64,
}

impl ProcStat {
    /// Parse the contents of a stat file.  The command name may contain
    /// spaces and parentheses, so fields are counted after the last `)`.
    pub fn parse(s: &str) -> Option<ProcStat> {
        let rest = &s[s.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state); field N is f[N-3].
        Some(ProcStat {
            state: f.first()?.chars().next()?,
            ppid: f.get(1)?.parse().ok()?,
            start_time: f.get(19)?.parse().ok()?,
        })
    }

    /// Read the stat of `pid`; `None` if it does not exist.  One buffer
    /// read to the end (the line is some 300 bytes): no `statx` and no
    /// growing reads, as `fs::read_to_string` would make (`ps` reads one
    /// per container).
    pub fn read(pid: i32) -> Option<ProcStat> {
        use std::io::Read;
        let mut f = fs::File::open(format!("/proc/{pid}/stat")).ok()?;
        let mut buf = [0u8; 1024];
        let mut len = 0;
        while len < buf.len() {
            match f.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        if len == buf.len() {
            // longer than any stat line: read it all the slow way
            let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            return ProcStat::parse(&s);
        }
        // (a command name need not be UTF-8; only the fields after it count)
        ProcStat::parse(&String::from_utf8_lossy(&buf[..len]))
    }

    /// Is this a zombie or dead process?
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Is `pid` alive and the same process that started at `start_time`?
pub fn is_same_alive(pid: i32, start_time: u64) -> bool {
    match ProcStat::read(pid) {
        Some(st) => st.start_time == start_time && !st.is_dead(),
        None => false,
    }
}

/// Undoes the octal escapes (`\040` for a space) of a mountinfo field.
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_odd_comm() {
        let s =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        let st = ProcStat::parse(s).unwrap();
        assert_eq!(st.state, 'S');
        assert_eq!(st.ppid, 1);
        assert_eq!(st.start_time, 98765);
    }

    #[test]
    fn reads_self() {
        let me = std::process::id() as i32;
        let st = ProcStat::read(me).unwrap();
        assert!(!st.is_dead());
        assert!(is_same_alive(me, st.start_time));
        assert!(!is_same_alive(me, st.start_time + 1));
        let whole = fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let again = ProcStat::parse(&whole).unwrap();
        assert_eq!((st.ppid, st.start_time), (again.ppid, again.start_time));
        assert_eq!(ProcStat::read(i32::MAX), None);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/mnt/with\\040space"), "/mnt/with space");
        assert_eq!(unescape_mountinfo("/a\\011b\\134c"), "/a\tb\\c");
        assert_eq!(unescape_mountinfo("/plain\\04"), "/plain\\04");
    }
}
