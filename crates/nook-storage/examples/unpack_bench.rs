//! Unpack throughput of nook-storage against GNU `tar -x` on the same
//! layer: not a test, it prints figures.  As root, on an otherwise idle
//! machine:
//!
//! ```sh
//! cargo run --release -p nook-storage --example unpack_bench -- \
//!     [--dir DIR] [--rounds N] [--mb MB | --from TREE...]
//! ```
//!
//! The layer is either synthetic (`--mb`, default 100: files of 1 KiB to
//! 8 MiB, mostly small, half their bytes random, some symlinks) or made of
//! real directory trees (`--from /usr/share/doc /usr/lib/python3.11 ...`).
//! It is written as `DIR/layer.tar` and `DIR/layer.tar.gz` (gzip level 6,
//! as registries serve), then each round times, in an order that rotates
//! from round to round, `tar -xf`, nook's [`unpack`] of the tar, `tar -xzf`
//! and nook's unpack of the gzip, each into a fresh directory after a
//! `sync`.  Nothing is deleted until the last round (on ext4 without a
//! journal, inodes freed in the last minutes make creating files slower).
//! It prints the median wall time and CPU time (user + system, all
//! threads and children) of each, the throughput in MB of tar stream per
//! second, and nook's throughput relative to tar's.
//!
//! `--once ARCHIVE OUT`: one nook unpack, timed, for a profiler.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nook_storage::{unpack, UnpackOptions, UnpackRequest};

/// What to measure, from the command line.
struct Args {
    dir: PathBuf,
    rounds: usize,
    mb: usize,
    from: Vec<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: unpack_bench [--dir DIR] [--rounds N] [--mb MB | --from TREE...]\n       \
         unpack_bench --once ARCHIVE OUT"
    );
    std::process::exit(2)
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Args {
    let mut a = Args {
        dir: PathBuf::from("/var/tmp/nook-unpack-bench"),
        rounds: 3,
        mb: 100,
        from: Vec::new(),
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--dir" => a.dir = value().into(),
            "--rounds" => a.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--mb" => a.mb = value().parse().unwrap_or_else(|_| usage()),
            "--from" => a.from.push(value().into()),
            s if !s.starts_with('-') && !a.from.is_empty() => a.from.push(s.into()),
            _ => usage(),
        }
    }
    if a.rounds == 0 {
        usage();
    }
    a
}

/// xorshift64: reproducible file content without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A layer of about `mb` megabytes: directories of 20 files each, file
/// sizes drawn as in real images (mostly small, a few big), half of each
/// file's bytes random (gzip gets about 2:1), a symlink every 10 files.
fn synthetic_layer(mb: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut b = tar::Builder::new(Vec::with_capacity(mb << 20));
    let sizes: [(u64, usize); 7] = [
        (40, 1 << 10),
        (65, 4 << 10),
        (85, 16 << 10),
        (94, 64 << 10),
        (98, 256 << 10),
        (99, 1 << 20),
        (100, 8 << 20),
    ];
    let (mut total, mut i) = (0usize, 0usize);
    while total < mb << 20 {
        let dir = format!("usr/lib/d{}/s{}", i / 200, i / 20);
        if i % 20 == 0 {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.set_mtime(1_600_000_000);
            b.append_data(&mut h, &dir, &b""[..]).unwrap();
        }
        let pick = rng.next() % 100;
        let size = sizes.iter().find(|(p, _)| pick < *p).unwrap().1;
        let mut data = vec![0u8; size];
        for (k, chunk) in data.chunks_mut(8).enumerate() {
            let v = if k % 2 == 0 {
                rng.next()
            } else {
                u64::from_le_bytes(*b"text tex")
            };
            chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(size as u64);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, format!("{dir}/f{i}"), &data[..])
            .unwrap();
        if i % 10 == 0 {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mtime(1_600_000_000);
            b.append_link(&mut h, format!("{dir}/l{i}"), format!("f{i}"))
                .unwrap();
        }
        total += size;
        i += 1;
    }
    b.into_inner().unwrap()
}

/// A layer of these trees as they are (symlinks as symlinks), each under
/// its own path without the leading `/`.
fn tree_layer(trees: &[PathBuf]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    for t in trees {
        let name = t.strip_prefix("/").unwrap_or(t);
        b.append_dir_all(name, t)
            .unwrap_or_else(|e| panic!("{}: {e}", t.display()));
    }
    b.into_inner().unwrap()
}

/// CPU time (user + system) of this process's threads and of its
/// waited-for children.
fn cpu_now() -> Duration {
    let get = |who| {
        // SAFETY: getrusage fills the zeroed struct.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to a rusage.
        unsafe { libc::getrusage(who, &mut u) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    get(libc::RUSAGE_SELF) + get(libc::RUSAGE_CHILDREN)
}

/// Wall and CPU time of `f`, started once earlier writes are on disk.
fn timed(f: impl FnOnce()) -> (Duration, Duration) {
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    let (t, c) = (Instant::now(), cpu_now());
    f();
    (t.elapsed(), cpu_now() - c)
}

fn tar_x(flags: &str, archive: &Path, out: &Path) {
    std::fs::create_dir(out).unwrap();
    let s = Command::new("tar")
        .arg(flags)
        .arg(archive)
        .arg("-C")
        .arg(out)
        .status()
        .unwrap();
    assert!(s.success(), "tar {flags} failed");
}

fn nook_x(archive: &Path, out: &Path) {
    let f = std::fs::File::open(archive).unwrap();
    unpack(f, out, &UnpackRequest::default(), &UnpackOptions::default()).unwrap();
}

/// The four contenders: name, and how to unpack into a directory.
const CONTENDERS: [&str; 4] = ["tar -xf", "nook tar", "tar -xzf", "nook gzip"];

fn run(k: usize, tar: &Path, gz: &Path, out: &Path) -> (Duration, Duration) {
    match k {
        0 => timed(|| tar_x("-xf", tar, out)),
        1 => timed(|| nook_x(tar, out)),
        2 => timed(|| tar_x("-xzf", gz, out)),
        _ => timed(|| nook_x(gz, out)),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Write the layer and its gzip into `dir`; their paths.
fn write_layer(dir: &Path, layer: &[u8]) -> (PathBuf, PathBuf) {
    let tar = dir.join("layer.tar");
    let gz = dir.join("layer.tar.gz");
    std::fs::write(&tar, layer).unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(layer).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    (tar, gz)
}

fn main() {
    let mut argv = std::env::args().skip(1);
    let first = argv.next();
    if first.as_deref() == Some("--once") {
        let (Some(a), Some(o)) = (argv.next(), argv.next()) else {
            usage()
        };
        let (wall, cpu) = timed(|| nook_x(Path::new(&a), Path::new(&o)));
        println!("wall {wall:?}, cpu {cpu:?}");
        return;
    }
    let args = parse_args(first.into_iter().chain(argv));
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir).unwrap();
    let layer = if args.from.is_empty() {
        synthetic_layer(args.mb)
    } else {
        tree_layer(&args.from)
    };
    let (tar, gz) = write_layer(&args.dir, &layer);
    let mut entries = 0;
    for e in tar::Archive::new(&layer[..]).entries().unwrap() {
        e.unwrap();
        entries += 1;
    }
    println!(
        "layer: {:.1} MB tar ({entries} entries), {:.1} MB gzip, in {}, {} rounds",
        layer.len() as f64 / 1e6,
        std::fs::metadata(&gz).unwrap().len() as f64 / 1e6,
        args.dir.display(),
        args.rounds
    );
    let mut wall = vec![Vec::new(); CONTENDERS.len()];
    let mut cpu = vec![Vec::new(); CONTENDERS.len()];
    for r in 0..args.rounds {
        for i in 0..CONTENDERS.len() {
            let k = (i + r) % CONTENDERS.len();
            let out = args.dir.join(format!("out-{r}-{k}"));
            let (w, c) = run(k, &tar, &gz, &out);
            wall[k].push(w);
            cpu[k].push(c);
        }
    }
    let wall: Vec<Duration> = wall.into_iter().map(median).collect();
    let cpu: Vec<Duration> = cpu.into_iter().map(median).collect();
    let mbs = |d: Duration| layer.len() as f64 / 1e6 / d.as_secs_f64();
    for (k, name) in CONTENDERS.iter().enumerate() {
        println!(
            "{name:10} median wall {:7.1} ms  cpu {:7.1} ms  {:7.1} MB/s",
            wall[k].as_secs_f64() * 1e3,
            cpu[k].as_secs_f64() * 1e3,
            mbs(wall[k])
        );
    }
    let ratio = |t: usize, n: usize| wall[t].as_secs_f64() / wall[n].as_secs_f64();
    println!(
        "nook throughput / tar's: uncompressed {:.2}, gzip {:.2}",
        ratio(0, 1),
        ratio(2, 3)
    );
    if std::env::var_os("NOOK_BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&args.dir).unwrap();
    }
}
