//! Disk usage of a directory tree, counted as `du` does: allocated blocks,
//! each hard-linked inode once, symlinks not followed, other file systems
//! not entered.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The bytes allocated to `dir` and everything below it.
pub(crate) fn disk_usage(dir: &Path) -> io::Result<u64> {
    let top = std::fs::symlink_metadata(dir)?;
    let dev = top.dev();
    let mut total = top.blocks() * 512;
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut todo: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let m = e.metadata()?;
            if m.dev() != dev {
                continue;
            }
            if m.nlink() > 1 && !m.is_dir() && !seen.insert((m.dev(), m.ino())) {
                continue;
            }
            total += m.blocks() * 512;
            if m.is_dir() {
                todo.push(e.path());
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_blocks_and_hard_links_once() {
        let d = std::env::temp_dir().join(format!("nook-storage-usage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).unwrap();
        let before = disk_usage(&d).unwrap();
        std::fs::write(d.join("sub/f"), vec![1u8; 1 << 20]).unwrap();
        let one = disk_usage(&d).unwrap();
        assert!(one >= before + (1 << 20), "{before} -> {one}");
        std::fs::hard_link(d.join("sub/f"), d.join("g")).unwrap();
        std::os::unix::fs::symlink("/usr", d.join("l")).unwrap();
        let linked = disk_usage(&d).unwrap();
        assert!(
            linked < one + (1 << 20),
            "hard link counted twice: {one} -> {linked}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
