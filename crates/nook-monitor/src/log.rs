//! The container log, as the monitor (and an attached `nook run`) writes
//! it: Docker's json-file lines
//! (`{"log":"text\n","stream":"stdout","time":"<RFC 3339>"}`) or the
//! k8s-file lines conmon writes (`<RFC 3339> stdout F text`, `P` for a
//! piece of a line); a line longer than [`MAX_LINE`] is cut into pieces,
//! and what is left without a newline when a stream ends is written as a
//! piece.  With a maximum size, the log is rotated before an entry would
//! take it over: `log` becomes `log.1`, `log.1` becomes `log.2`, ...
//! keeping `max_file` files in all (with one file, the log is emptied).

use crate::time;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The longest log entry; longer lines are cut.
pub const MAX_LINE: usize = 16 * 1024;

/// A log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// Docker's JSON lines (the default).
    JsonFile,
    /// CRI (Kubernetes) lines, as conmon writes them.
    K8sFile,
}

impl Driver {
    /// The driver called `name` (`json-file`, `k8s-file`).
    pub fn parse(name: &str) -> Option<Driver> {
        match name {
            "json-file" => Some(Driver::JsonFile),
            "k8s-file" => Some(Driver::K8sFile),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Driver::JsonFile => "json-file",
            Driver::K8sFile => "k8s-file",
        }
    }
}

/// Which stream an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Where and how a log is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// The format.
    pub driver: Driver,
    /// The (current) log file.
    pub path: PathBuf,
    /// Rotate before the file would grow over this many bytes (0: never).
    pub max_size: u64,
    /// How many files to keep, the current one included (at least 1).
    pub max_file: u32,
}

/// The `n`th rotated file of log `path` (`path.n`; `n` = 0: `path`).
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    match n {
        0 => path.to_path_buf(),
        n => {
            let mut s = path.as_os_str().to_os_string();
            s.push(format!(".{n}"));
            PathBuf::from(s)
        }
    }
}

/// `s` as the inside of a JSON string.
pub fn json_escape(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}

/// One log line: `text` (a whole line with its newline when `complete`,
/// else a piece) from `stream` at `time`.
pub fn format_entry(driver: Driver, stream: Stream, time: &str, text: &[u8]) -> Vec<u8> {
    let complete = text.last() == Some(&b'\n');
    let mut out = Vec::with_capacity(text.len() + 80);
    match driver {
        Driver::JsonFile => {
            out.extend_from_slice(b"{\"log\":\"");
            json_escape(&mut out, &String::from_utf8_lossy(text));
            out.extend_from_slice(b"\",\"stream\":\"");
            out.extend_from_slice(stream.name().as_bytes());
            out.extend_from_slice(b"\",\"time\":\"");
            out.extend_from_slice(time.as_bytes());
            out.extend_from_slice(b"\"}\n");
        }
        Driver::K8sFile => {
            let body = if complete {
                &text[..text.len() - 1]
            } else {
                text
            };
            out.extend_from_slice(time.as_bytes());
            out.push(b' ');
            out.extend_from_slice(stream.name().as_bytes());
            out.extend_from_slice(if complete { b" F " } else { b" P " });
            out.extend_from_slice(body);
            out.push(b'\n');
        }
    }
    out
}

/// Writes a container's output to its log: cut into entries, formatted,
/// rotated.  Write errors are dropped (the container must not block on a
/// full disk), and so are entries while the log cannot be opened.
#[derive(Debug)]
pub struct LogWriter {
    config: LogConfig,
    file: Option<File>,
    size: u64,
    partial: [Vec<u8>; 2],
}

fn open_append(path: &Path) -> Option<File> {
    File::options().create(true).append(true).open(path).ok()
}

impl LogWriter {
    /// Append to the log `config` names (created when missing).
    pub fn open(config: LogConfig) -> LogWriter {
        let file = open_append(&config.path);
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        LogWriter {
            config,
            file,
            size,
            partial: [Vec::new(), Vec::new()],
        }
    }

    /// Output from `stream`: whole lines become entries, the rest waits
    /// for more (or for [`LogWriter::end`]).
    pub fn data(&mut self, stream: Stream, data: &[u8]) {
        let i = stream as usize;
        self.partial[i].extend_from_slice(data);
        let mut start = 0;
        let buf = std::mem::take(&mut self.partial[i]);
        while start < buf.len() {
            let rest = &buf[start..];
            let n = match rest.iter().position(|&b| b == b'\n') {
                Some(n) if n < MAX_LINE => n + 1,
                _ if rest.len() >= MAX_LINE => MAX_LINE,
                _ => break,
            };
            self.entry(stream, &rest[..n]);
            start += n;
        }
        self.partial[i] = buf[start..].to_vec();
    }

    /// `stream` ended: what is left of it becomes an entry.
    pub fn end(&mut self, stream: Stream) {
        let rest = std::mem::take(&mut self.partial[stream as usize]);
        if !rest.is_empty() {
            self.entry(stream, &rest);
        }
    }

    fn entry(&mut self, stream: Stream, text: &[u8]) {
        let line = format_entry(
            self.config.driver,
            stream,
            &time::rfc3339_nano(time::now_nanos()),
            text,
        );
        let max = self.config.max_size;
        if max > 0 && self.size > 0 && self.size + line.len() as u64 > max {
            self.rotate();
        }
        if let Some(f) = &mut self.file {
            if f.write_all(&line).is_ok() {
                self.size += line.len() as u64;
            }
        }
    }

    /// `log.(n-1)` -> `log.n` ... `log` -> `log.1`, a new `log`; with one
    /// file, the log emptied.
    fn rotate(&mut self) {
        let path = &self.config.path;
        if self.config.max_file <= 1 {
            if let Some(f) = &self.file {
                let _ = f.set_len(0);
            }
            self.size = 0;
            return;
        }
        for n in (1..self.config.max_file - 1).rev() {
            let _ = std::fs::rename(rotated(path, n), rotated(path, n + 1));
        }
        let _ = std::fs::rename(path, rotated(path, 1));
        self.file = open_append(path);
        self.size = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "2026-12-07T14:36:42.123456789Z";

    #[test]
    fn json_lines_escape_and_mark_pieces() {
        let e = format_entry(Driver::JsonFile, Stream::Stdout, T, b"a \"q\" \\ \t\x01\n");
        assert_eq!(
            String::from_utf8(e).unwrap(),
            format!("{{\"log\":\"a \\\"q\\\" \\\\ \\t\\u0001\\n\",\"stream\":\"stdout\",\"time\":\"{T}\"}}\n")
        );
        let e = format_entry(Driver::JsonFile, Stream::Stderr, T, "é".as_bytes());
        assert_eq!(
            String::from_utf8(e).unwrap(),
            format!("{{\"log\":\"é\",\"stream\":\"stderr\",\"time\":\"{T}\"}}\n")
        );
    }

    #[test]
    fn k8s_lines_full_and_partial() {
        let e = format_entry(Driver::K8sFile, Stream::Stdout, T, b"hello\n");
        assert_eq!(e, format!("{T} stdout F hello\n").into_bytes());
        let e = format_entry(Driver::K8sFile, Stream::Stderr, T, b"no newline");
        assert_eq!(e, format!("{T} stderr P no newline\n").into_bytes());
    }

    fn writer(dir: &Path, driver: Driver, max_size: u64, max_file: u32) -> LogWriter {
        LogWriter::open(LogConfig {
            driver,
            path: dir.join("log"),
            max_size,
            max_file,
        })
    }

    #[test]
    fn lines_are_cut_and_ends_flushed() {
        let d = tempfile::tempdir().unwrap();
        let mut w = writer(d.path(), Driver::K8sFile, 0, 1);
        w.data(Stream::Stdout, b"one\ntw");
        w.data(Stream::Stdout, b"o\nthr");
        w.data(Stream::Stdout, &vec![b'x'; MAX_LINE + 5]);
        w.end(Stream::Stdout);
        let text = std::fs::read_to_string(d.path().join("log")).unwrap();
        let kinds: Vec<(&str, usize)> = text
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.splitn(4, ' ').collect();
                (f[2], f[3].len())
            })
            .collect();
        assert_eq!(kinds, vec![("F", 3), ("F", 3), ("P", MAX_LINE), ("P", 8)]);
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let d = tempfile::tempdir().unwrap();
        let line = format_entry(Driver::JsonFile, Stream::Stdout, T, b"0123456789\n").len();
        // two entries fit in a file
        let mut w = writer(d.path(), Driver::JsonFile, 2 * line as u64, 3);
        for i in 0..7 {
            w.data(Stream::Stdout, format!("line {i:05}\n").as_bytes());
        }
        let read = |n| std::fs::read_to_string(rotated(&d.path().join("log"), n)).unwrap();
        assert!(read(0).contains("line 00006") && read(0).lines().count() == 1);
        assert!(read(1).contains("line 00004") && read(1).contains("line 00005"));
        assert!(read(2).contains("line 00002") && read(2).contains("line 00003"));
        assert!(!rotated(&d.path().join("log"), 3).exists());
        // one file: emptied instead
        let d = tempfile::tempdir().unwrap();
        let mut w = writer(d.path(), Driver::K8sFile, 1, 1);
        w.data(Stream::Stdout, b"a\nb\n");
        assert!(read_one(&d.path().join("log")).ends_with(" F b\n"));
        assert!(!rotated(&d.path().join("log"), 1).exists());
    }

    fn read_one(p: &Path) -> String {
        let s = std::fs::read_to_string(p).unwrap();
        assert_eq!(s.lines().count(), 1, "{s}");
        s
    }
}
