//! Reading a container's log back: its rotated files oldest first
//! (`log.N` ... `log.1`, then `log`), lines in either format (json-file
//! or k8s-file, told apart line by line), and `logs -f`, which follows
//! the current file across rotations (when the path names another file,
//! the rest of the old one is read, then the new one from its start; a
//! file emptied is read again from its start) until the container is no
//! longer running.

use super::monitor::{LogEntry, Stream};
use super::LiveStatus;
use crate::{Engine, Error, Result};
use nook_monitor::log::rotated;
use serde_json::Value;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One log line (without its newline) as an entry, in either format.
pub fn parse_line(line: &str) -> Option<LogEntry> {
    if line.starts_with('{') {
        let v: Value = serde_json::from_str(line).ok()?;
        return Some(LogEntry {
            stream: match v["stream"].as_str()? {
                "stderr" => Stream::Stderr,
                _ => Stream::Stdout,
            },
            time: v["time"].as_str().unwrap_or("").to_string(),
            text: v["log"].as_str()?.to_string(),
        });
    }
    // <time> <stream> <F|P> <text>
    let mut f = line.splitn(4, ' ');
    let time = f.next()?.to_string();
    let stream = match f.next()? {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let tag = f.next()?;
    let mut text = f.next().unwrap_or("").to_string();
    if tag == "F" {
        text.push('\n');
    }
    Some(LogEntry { stream, time, text })
}

/// The rotated files of log `path` that exist, oldest first (`path`
/// itself not included).
fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|n| rotated(path, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files
}

/// The whole lines of `text` as entries; how many bytes they took.
fn entries(text: &[u8], out: &mut Vec<LogEntry>) -> usize {
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    String::from_utf8_lossy(&text[..whole])
        .lines()
        .filter_map(parse_line)
        .for_each(|e| out.push(e));
    whole
}

/// The current log file, read as it grows and followed across rotations.
struct Follower {
    path: PathBuf,
    file: Option<File>,
    ino: u64,
    pos: u64,
}

impl Follower {
    fn open(path: &Path) -> Follower {
        let mut f = Follower {
            path: path.to_path_buf(),
            file: None,
            ino: 0,
            pos: 0,
        };
        f.reopen();
        f
    }

    fn reopen(&mut self) {
        self.file = File::open(&self.path).ok();
        self.ino = self
            .file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.ino());
        self.pos = 0;
    }

    /// The whole lines written since the last call.
    fn read(&mut self, out: &mut Vec<LogEntry>) -> Result<()> {
        self.read_file(out)?;
        let now = std::fs::metadata(&self.path).map_or(0, |m| m.ino());
        if now != 0 && now != self.ino {
            // rotated: the rest of the old file, then the new one
            self.read_file(out)?;
            self.reopen();
            self.read_file(out)?;
        }
        Ok(())
    }

    fn read_file(&mut self, out: &mut Vec<LogEntry>) -> Result<()> {
        let Some(f) = &self.file else { return Ok(()) };
        let len = f.metadata().map_or(0, |m| m.len());
        if len < self.pos {
            self.pos = 0; // emptied (max-file=1)
        }
        let mut buf = Vec::new();
        let path = &self.path;
        let mut tmp = vec![0u8; 64 * 1024];
        loop {
            let n = std::os::unix::fs::FileExt::read_at(f, &mut tmp, self.pos + buf.len() as u64)
                .map_err(Error::io("read", path))?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        self.pos += entries(&buf, out) as u64;
        Ok(())
    }
}

impl Engine {
    /// The log of container `word`: its last `tail` entries (all when
    /// `None`), then, with `follow`, what comes until it stops running;
    /// each entry given to `out`.
    pub fn logs(
        &self,
        word: &str,
        tail: Option<usize>,
        follow: bool,
        out: &mut dyn FnMut(&LogEntry),
    ) -> Result<()> {
        let c = self.container(word)?;
        let path = c.record.log_path.clone();
        let mut current = Follower::open(&path);
        let mut all = Vec::new();
        for p in rotated_files(&path) {
            let mut text = Vec::new();
            if let Ok(mut f) = File::open(&p) {
                f.read_to_end(&mut text).map_err(Error::io("read", &p))?;
            }
            entries(&text, &mut all);
        }
        current.read(&mut all)?;
        let skip = tail.map_or(0, |n| all.len().saturating_sub(n));
        all[skip..].iter().for_each(&mut *out);
        if !follow {
            return Ok(());
        }
        super::poll::poll(Duration::from_millis(50), None, || -> Result<_> {
            // running, or its monitor (which drains the container's pipes
            // into the log before it writes the exit) still at work
            let running = match self.state.container(&c.record.id)? {
                Some(r) => {
                    let monitor = r.status == nook_state::ContainerStatus::Running
                        && r.monitor_pid.is_some_and(super::process_alive);
                    monitor || self.with_status(r).status == LiveStatus::Running
                }
                None => false,
            };
            let mut more = Vec::new();
            current.read(&mut more)?;
            more.iter().for_each(&mut *out);
            Ok((!running).then_some(()))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nook_monitor::log::{Driver, LogConfig, LogWriter};

    #[test]
    fn both_formats() {
        let j = parse_line(r#"{"log":"a\n","stream":"stderr","time":"T"}"#).unwrap();
        assert_eq!(
            (j.stream, j.text.as_str(), j.time.as_str()),
            (Stream::Stderr, "a\n", "T")
        );
        let k = parse_line("T stdout F hello world").unwrap();
        assert_eq!(
            (k.stream, k.text.as_str()),
            (Stream::Stdout, "hello world\n")
        );
        let p = parse_line("T stdout P piece").unwrap();
        assert_eq!(p.text, "piece");
        assert_eq!(parse_line("T stdout F ").unwrap().text, "\n");
        assert!(parse_line("garbage").is_none());
    }

    #[test]
    fn follows_across_rotations() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("log");
        let mut w = LogWriter::open(LogConfig {
            driver: Driver::K8sFile,
            path: path.clone(),
            max_size: 200,
            max_file: 2,
        });
        let mut f = Follower::open(&path);
        let mut got = Vec::new();
        for i in 0..30 {
            w.data(
                nook_monitor::log::Stream::Stdout,
                format!("line {i}\n").as_bytes(),
            );
            if i % 2 == 0 {
                f.read(&mut got).unwrap();
            }
        }
        f.read(&mut got).unwrap();
        let texts: Vec<String> = got.iter().map(|e| e.text.clone()).collect();
        let want: Vec<String> = (0..30).map(|i| format!("line {i}\n")).collect();
        assert_eq!(texts, want);
        assert!(rotated(&path, 1).exists() && !rotated(&path, 2).exists());
    }
}
