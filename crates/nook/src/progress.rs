//! A pull's progress on stderr: on a terminal, one live line per layer as
//! Docker draws it (bytes, a bar, the rate, then `Pull complete`); when
//! stderr is not a terminal, one line per layer once it is done; nothing
//! with `-q`.  Status lines (`Digest: ...`, `Status: ...`) go to stdout as
//! Docker writes them, or above the bars on a terminal.

use crate::render;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use nook_engine::{Digest, PullEvent, PullProgress};
use nook_image::ProgressEvent;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Nothing.
    Quiet,
    /// One line per finished layer.
    Lines,
    /// Live bars (stderr is a terminal).
    Bars,
}

/// One layer's display.
struct Layer {
    bar: Option<ProgressBar>,
    started: Instant,
    size: u64,
}

/// The display of one pull.
pub struct Display {
    mode: Mode,
    multi: MultiProgress,
    layers: Mutex<HashMap<String, Layer>>,
}

fn short(d: &Digest) -> String {
    d.digest().chars().take(12).collect()
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix}: {msg:<11} [{bar:40}] {decimal_bytes:>8}/{decimal_total_bytes:<8} {decimal_bytes_per_sec}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn text_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg}").unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Display {
    /// A display in `mode`, on stderr.
    pub fn new(mode: Mode) -> Display {
        let target = match mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        };
        Display {
            mode,
            multi: MultiProgress::with_draw_target(target),
            layers: Mutex::new(HashMap::new()),
        }
    }

    /// Print a status line (`Digest: ...`): on stdout as Docker does, or
    /// above the bars on a terminal.
    pub fn println(&self, line: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => println!("{line}"),
            Mode::Bars => {
                let _ = self.multi.println(line);
            }
        }
    }

    /// Print a warning on stderr (above the bars on a terminal).
    fn warn(&self, line: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{line}"),
            Mode::Bars => {
                let _ = self.multi.println(line);
            }
        }
    }

    /// The layer `d`'s entry, made when first seen.
    fn with_layer(&self, d: &Digest, size: u64, f: impl FnOnce(&mut Layer)) {
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        let layer = layers.entry(d.to_string()).or_insert_with(|| {
            let bar = (self.mode == Mode::Bars).then(|| {
                let b = self.multi.add(ProgressBar::new(size));
                b.set_style(text_style());
                b.set_prefix(short(d));
                b
            });
            Layer {
                bar,
                started: Instant::now(),
                size,
            }
        });
        f(layer)
    }

    fn download(&self, e: ProgressEvent<'_>) {
        match e {
            ProgressEvent::AlreadyPresent { digest, size } => self.with_layer(digest, size, |l| {
                if let Some(b) = &l.bar {
                    b.set_message("Download complete");
                }
            }),
            ProgressEvent::Started {
                digest,
                size,
                offset,
            } => self.with_layer(digest, size, |l| {
                l.started = Instant::now();
                if let Some(b) = &l.bar {
                    b.set_style(bar_style());
                    b.set_length(size);
                    b.set_position(offset);
                    b.reset_eta();
                    b.set_message(if offset > 0 {
                        "Resuming"
                    } else {
                        "Downloading"
                    });
                }
            }),
            ProgressEvent::Progress {
                digest,
                done,
                total,
            } => self.with_layer(digest, total, |l| {
                if let Some(b) = &l.bar {
                    b.set_message("Downloading");
                    b.set_position(done);
                }
            }),
            ProgressEvent::Done { digest, size } => self.with_layer(digest, size, |l| {
                if let Some(b) = &l.bar {
                    b.set_style(text_style());
                    b.set_message("Download complete");
                }
            }),
        }
    }
}

impl PullProgress for Display {
    fn event(&self, e: PullEvent<'_>) {
        if self.mode == Mode::Quiet {
            return;
        }
        match e {
            PullEvent::Blob(e) => self.download(e),
            PullEvent::Extracting { digest } => self.with_layer(digest, 0, |l| {
                if let Some(b) = &l.bar {
                    b.set_style(text_style());
                    b.set_message("Extracting");
                }
            }),
            PullEvent::Extracted { digest, created } => {
                let what = if created {
                    "Pull complete"
                } else {
                    "Already exists"
                };
                let mode = self.mode;
                self.with_layer(digest, 0, |l| match &l.bar {
                    Some(b) => b.finish_with_message(what),
                    None if mode == Mode::Lines => eprintln!(
                        "{}: {what} ({} in {:.1}s)",
                        short(digest),
                        render::size(l.size),
                        l.started.elapsed().as_secs_f64()
                    ),
                    None => {}
                });
            }
            PullEvent::Warning { digest, message } => {
                self.warn(&format!("{}: warning: {message}", short(digest)))
            }
        }
    }
}
