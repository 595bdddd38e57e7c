//! The hand-over between the two threads of an unpack: the caller's thread
//! reads and decompresses the layer stream (the [`Producer`]) while a
//! second thread makes the entries from it (the [`Consumer`], a `Read`).
//! The stream is cut into large chunks sent over a bounded channel; spent
//! chunks come back to be refilled, so the steady state allocates nothing.
//! Each chunk is hashed (for the diff id) by the side with less else to do
//! ([`HashOn`]).  A consumer that gives up (a refused entry) stops the
//! producer after at most one more read of the source.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;

/// Bytes per chunk.
const CHUNK: usize = 1 << 20;
/// Chunks in flight.
const DEPTH: usize = 4;

/// Which side hashes the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HashOn {
    /// The producer: it only reads (an uncompressed stream).
    Producer,
    /// The consumer: the producer decompresses, the heavier work.
    Consumer,
}

/// A running sha256 and length.
#[derive(Default)]
struct Hashing {
    hasher: Sha256,
    count: u64,
}

impl Hashing {
    fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.count += data.len() as u64;
    }

    fn finish(self) -> (Digest, u64) {
        (
            Digest::from_bytes(self.hasher.finalize().into()),
            self.count,
        )
    }
}

/// The producer's half: reads a source to its end.
pub(super) struct Producer {
    tx: SyncSender<io::Result<Vec<u8>>>,
    spent: Receiver<Vec<u8>>,
    gone: Arc<AtomicBool>,
    hash: Option<Hashing>,
}

/// The consumer's half: a `Read` over the chunks.
pub(super) struct Consumer {
    rx: Receiver<io::Result<Vec<u8>>>,
    spent: SyncSender<Vec<u8>>,
    gone: Arc<AtomicBool>,
    hash: Option<Hashing>,
    cur: Vec<u8>,
    pos: usize,
}

/// What the producer made of its source.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Produced {
    /// The whole stream was handed over, with its sha256 and length when
    /// the producer hashed it.
    Whole(Option<(Digest, u64)>),
    /// Reading failed; the error went to the consumer.
    ReadFailed,
    /// The consumer hung up before the end (it failed itself).
    HungUp,
}

/// A connected producer and consumer.
pub(super) fn pipe(hash_on: HashOn) -> (Producer, Consumer) {
    let (tx, rx) = sync_channel(DEPTH);
    let (stx, srx) = sync_channel(DEPTH + 2);
    let gone = Arc::new(AtomicBool::new(false));
    let hash = |on| (hash_on == on).then(Hashing::default);
    (
        Producer {
            tx,
            spent: srx,
            gone: gone.clone(),
            hash: hash(HashOn::Producer),
        },
        Consumer {
            rx,
            spent: stx,
            gone,
            hash: hash(HashOn::Consumer),
            cur: Vec::new(),
            pos: 0,
        },
    )
}

impl Producer {
    /// Read `src` to its end, sending every chunk, until the consumer
    /// hangs up.
    pub(super) fn run(mut self, mut src: impl Read) -> Produced {
        loop {
            let mut buf = self.spent.try_recv().unwrap_or_default();
            buf.resize(CHUNK, 0);
            let n = match self.fill(&mut src, &mut buf) {
                Ok(Some(n)) => n,
                Ok(None) => return Produced::HungUp,
                Err(e) => {
                    let _ = self.tx.send(Err(e));
                    return Produced::ReadFailed;
                }
            };
            if n == 0 {
                return Produced::Whole(self.hash.take().map(Hashing::finish));
            }
            buf.truncate(n);
            if let Some(h) = &mut self.hash {
                h.update(&buf);
            }
            if self.tx.send(Ok(buf)).is_err() {
                return Produced::HungUp;
            }
        }
    }

    /// Read into `buf` until it is full or the stream ends (`Some(n)`), or
    /// the consumer has hung up (`None`).
    fn fill(&self, src: &mut impl Read, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut n = 0;
        while n < buf.len() {
            if self.gone.load(Ordering::Relaxed) {
                return Ok(None);
            }
            match src.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(n))
    }
}

impl Read for Consumer {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(next)) => {
                    if let Some(h) = &mut self.hash {
                        h.update(&next);
                    }
                    let old = std::mem::replace(&mut self.cur, next);
                    let _ = self.spent.try_send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The producer is done: the end of the stream.
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Consumer {
    /// The sha256 and length of everything received, when the consumer
    /// hashed (call it once the stream is read to its end).
    pub(super) fn finish(mut self) -> Option<(Digest, u64)> {
        self.hash.take().map(Hashing::finish)
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.gone.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out `data` in reads of at most 64 KiB, counting the bytes
    /// read; fails with `ConnectionReset` once `fail_at` bytes are read.
    struct Source<'a> {
        data: &'a [u8],
        read: usize,
        fail_at: usize,
    }

    impl Read for Source<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.read >= self.fail_at {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            let n = out.len().min(self.data.len()).min(65536);
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.read += n;
            Ok(n)
        }
    }

    fn source(data: &[u8]) -> Source<'_> {
        Source {
            data,
            read: 0,
            fail_at: usize::MAX,
        }
    }

    #[test]
    fn hands_over_everything_and_hashes_it() {
        let data: Vec<u8> = (0..3 * CHUNK + 12345).map(|i| (i % 251) as u8).collect();
        let want = Some((Digest::of(&data), data.len() as u64));
        for on in [HashOn::Producer, HashOn::Consumer] {
            let (p, mut c) = pipe(on);
            let (got, produced) = std::thread::scope(|s| {
                let h = s.spawn(move || {
                    let mut got = Vec::new();
                    let mut small = [0u8; 700];
                    // Small reads across chunk boundaries.
                    loop {
                        let n = c.read(&mut small).unwrap();
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&small[..n]);
                    }
                    (got, c.finish())
                });
                let produced = p.run(source(&data));
                (h.join().unwrap(), produced)
            });
            assert!(got.0 == data);
            match on {
                HashOn::Producer => {
                    assert_eq!((produced, got.1), (Produced::Whole(want), None))
                }
                HashOn::Consumer => {
                    assert_eq!((produced, got.1), (Produced::Whole(None), want))
                }
            }
        }
    }

    #[test]
    fn a_read_error_reaches_the_consumer() {
        let data = vec![1u8; 3 * CHUNK];
        let (p, mut c) = pipe(HashOn::Consumer);
        let (err, produced) = std::thread::scope(|s| {
            let h = s.spawn(move || {
                let mut sink = Vec::new();
                c.read_to_end(&mut sink).unwrap_err()
            });
            let src = Source {
                fail_at: CHUNK + 5,
                ..source(&data)
            };
            let produced = p.run(src);
            (h.join().unwrap(), produced)
        });
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(produced, Produced::ReadFailed);
    }

    #[test]
    fn a_hung_up_consumer_stops_the_producer_at_once() {
        let data = vec![0u8; 20 * CHUNK];
        let (p, c) = pipe(HashOn::Producer);
        drop(c);
        let mut src = source(&data);
        assert_eq!(p.run(&mut src), Produced::HungUp);
        assert_eq!(src.read, 0, "read after the consumer hung up");
        // Hanging up mid-stream: the producer stops within a read or a
        // chunk, not at the end of the source.
        let (p, mut c) = pipe(HashOn::Producer);
        let mut src = source(&data);
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut buf = vec![0u8; CHUNK];
                c.read_exact(&mut buf).unwrap();
            });
            assert_eq!(p.run(&mut src), Produced::HungUp);
        });
        assert!(
            src.read <= (DEPTH + 3) * CHUNK,
            "{} bytes read after a hang-up",
            src.read
        );
    }
}
