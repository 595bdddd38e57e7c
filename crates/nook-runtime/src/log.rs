//! runc-compatible logging: `--log FILE` (default stderr), `--log-format
//! text|json`, `--debug`.  containerd and Podman read these lines to show
//! their users why a runtime command failed, so the JSON shape is runc's:
//! `{"level":"error","msg":"...","time":"..."}`.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Where and how log lines are written.
pub struct Logger {
    out: Mutex<Out>,
    json: bool,
    max: Level,
}

/// The log file, known by its inode: a container's process closes the
/// runtime's descriptors before it resolves paths in the container, and a
/// line logged after that must not land in whatever reused the number.
enum Out {
    Stderr,
    File(std::fs::File, (u64, u64)),
}

fn ident(f: &std::fs::File) -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    let st = nook_sys::path::fstat(f.as_fd()).ok()?;
    Some((st.st_dev, st.st_ino))
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl Logger {
    /// A logger writing to `path` (or stderr).
    pub fn new(path: Option<&str>, json: bool, debug: bool) -> Logger {
        let out = match path.filter(|p| !p.is_empty()) {
            Some(p) => match OpenOptions::new().create(true).append(true).open(p) {
                Ok(f) => match ident(&f) {
                    Some(id) => Out::File(f, id),
                    None => Out::Stderr,
                },
                Err(_) => Out::Stderr,
            },
            None => Out::Stderr,
        };
        Logger {
            out: Mutex::new(out),
            json,
            max: if debug { Level::DEBUG } else { Level::WARN },
        }
    }

    /// Write one line at `level`.
    pub fn line(&self, level: &Level, msg: &str) {
        let time = nook_container::rfc3339_now();
        let line = if self.json {
            let mut s = serde_json::json!({"level": level_name(level), "msg": msg, "time": time})
                .to_string();
            s.push('\n');
            s
        } else {
            format!("time={time:?} level={} msg={msg:?}\n", level_name(level))
        };
        if let Ok(mut o) = self.out.lock() {
            match &mut *o {
                Out::Stderr => {
                    let _ = std::io::stderr().write_all(line.as_bytes());
                }
                Out::File(f, id) if ident(f) == Some(*id) => {
                    let _ = f.write_all(line.as_bytes());
                }
                Out::File(..) => {}
            }
        }
    }
}

struct Msg(String);

impl Visit for Msg {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        *m.level() <= self.max
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut m = Msg(String::new());
        e.record(&mut m);
        self.line(e.metadata().level(), &m.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
