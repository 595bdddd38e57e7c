//! The machine as the runtimes see it during a run: a private mount
//! namespace (with a hybrid host's cgroup2 mount hidden, so crun runs too),
//! the cgroup hierarchies and the benchmark's own cgroup base below which
//! every container cgroup is made.

use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// cgroup2 (else v1).
    pub v2: bool,
    /// v1 controllers (and `name=` options) of the mount.
    pub controllers: Vec<String>,
    /// The root of the hierarchy that the mount shows.
    pub root: String,
}

/// Unescapes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup hierarchies in a /proc/self/mountinfo text.
pub fn hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let v2 = match post[0] {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers = if v2 {
            Vec::new()
        } else {
            post[2]
                .split(',')
                .filter(|o| {
                    !matches!(
                        *o,
                        "rw" | "ro" | "nosuid" | "nodev" | "noexec" | "relatime" | "clone_children"
                    )
                })
                .filter(|o| !o.starts_with("release_agent="))
                .map(str::to_string)
                .collect()
        };
        let h = Hierarchy {
            mount: PathBuf::from(unescape(pre[4])),
            v2,
            controllers,
            root: unescape(pre[3]),
        };
        // a later mount over the same point hides the earlier one
        out.retain(|o| o.mount != h.mount);
        out.push(h);
    }
    out
}

/// The process's own cgroup in hierarchy `h`, given /proc/self/cgroup,
/// as a path inside the mount.
pub fn own_path(h: &Hierarchy, proc_cgroup: &str) -> Option<String> {
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
        let hit = if h.v2 {
            ctl.is_empty()
        } else {
            !ctl.is_empty() && ctl.split(',').all(|c| h.controllers.iter().any(|x| x == c))
        };
        if hit {
            let rel = path
                .strip_prefix(h.root.trim_end_matches('/'))
                .unwrap_or(path);
            return Some(if rel.starts_with('/') {
                rel.to_string()
            } else {
                format!("/{rel}")
            });
        }
    }
    None
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).expect("path without NUL")
}

/// Moves the process into a private mount namespace (nothing it or the
/// runtimes mount is seen outside, and all of it goes when it exits) and,
/// on a hybrid host, hides /sys/fs/cgroup/unified there unless `keep_unified`.
/// Returns a description of the cgroup layout the runtimes will see.
pub fn isolate(keep_unified: bool) -> Result<String> {
    // SAFETY: plain syscalls on a single-threaded process.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            bail!("unshare(CLONE_NEWNS): {}", std::io::Error::last_os_error());
        }
        let root = cstr(Path::new("/"));
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            bail!("making / private: {}", std::io::Error::last_os_error());
        }
    }
    let hs = hierarchies(&fs::read_to_string("/proc/self/mountinfo")?);
    let v1 = hs.iter().filter(|h| !h.v2).count();
    let unified = Path::new("/sys/fs/cgroup/unified");
    let hybrid = v1 > 0 && hs.iter().any(|h| h.v2 && h.mount == unified);
    if hybrid && !keep_unified {
        // SAFETY: as above.
        if unsafe { libc::umount2(cstr(unified).as_ptr(), libc::MNT_DETACH) } != 0 {
            bail!(
                "hiding {}: {}",
                unified.display(),
                std::io::Error::last_os_error()
            );
        }
        return Ok(format!("cgroup v1 ({v1} hierarchies; hybrid host, unified hidden in the benchmark's mount namespace)"));
    }
    Ok(match (v1, hs.iter().any(|h| h.v2)) {
        (0, true) => "cgroup v2".to_string(),
        (_, true) => format!("hybrid: cgroup v1 ({v1} hierarchies) + cgroup2"),
        _ => format!("cgroup v1 ({v1} hierarchies)"),
    })
}

/// The benchmark's cgroups: one base directory per hierarchy, below the
/// benchmark's own cgroup, under which every container cgroup is made.
#[derive(Debug)]
pub struct Cgroups {
    /// Every hierarchy visible to the runtimes.
    pub hierarchies: Vec<Hierarchy>,
    /// The base, as an absolute cgroup path (same in every hierarchy).
    pub base: String,
    /// Directories made for the base, deepest last (removed in reverse).
    made: Vec<PathBuf>,
}

impl Cgroups {
    /// Makes the base `OWN/nook-bench-PID`, where OWN is the benchmark's own
    /// cgroup in the memory hierarchy (or the v2 one).
    pub fn setup() -> Result<Cgroups> {
        let hs = hierarchies(&fs::read_to_string("/proc/self/mountinfo")?);
        if hs.is_empty() {
            bail!("no cgroup hierarchy is mounted");
        }
        let pc = fs::read_to_string("/proc/self/cgroup")?;
        let anchor = hs
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "memory"))
            .or_else(|| hs.iter().find(|h| h.v2))
            .unwrap_or(&hs[0]);
        let own = own_path(anchor, &pc).unwrap_or_else(|| "/".into());
        let base = format!(
            "{}/nook-bench-{}",
            own.trim_end_matches('/'),
            std::process::id()
        );
        let mut cg = Cgroups {
            hierarchies: hs,
            base,
            made: Vec::new(),
        };
        for h in cg.hierarchies.clone() {
            let mut dir = h.mount.clone();
            for part in cg.base.split('/').filter(|s| !s.is_empty()) {
                let parent = dir.clone();
                dir.push(part);
                if dir.exists() {
                    continue;
                }
                fs::create_dir(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
                cg.made.push(dir.clone());
                if h.controllers.iter().any(|c| c == "cpuset") {
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        let v = fs::read_to_string(parent.join(f)).unwrap_or_default();
                        let _ = fs::write(dir.join(f), v.trim());
                    }
                }
                if h.v2 {
                    // let the runtimes' cgroups below have every controller
                    let ctl =
                        fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
                    for c in ctl.split_whitespace() {
                        let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
                    }
                }
            }
        }
        Ok(cg)
    }

    /// The base directory in hierarchy `h`.
    pub fn dir(&self, h: &Hierarchy) -> PathBuf {
        h.mount.join(self.base.trim_start_matches('/'))
    }

    /// The hierarchy holding the memory controller.
    pub fn memory(&self) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "memory"))
            .or_else(|| self.hierarchies.iter().find(|h| h.v2))
    }

    /// Directories left below the base in any hierarchy.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for h in &self.hierarchies {
            if let Ok(rd) = fs::read_dir(self.dir(h)) {
                for e in rd.flatten() {
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        out.push(e.path());
                    }
                }
            }
        }
        out
    }

    /// Kills whatever is left in the base and removes every directory below
    /// it and the base itself.
    pub fn remove_all(&mut self) {
        for h in self.hierarchies.clone() {
            remove_tree(&self.dir(&h));
        }
        for d in self.made.drain(..).rev() {
            let _ = fs::remove_dir(&d);
        }
    }
}

/// Removes a cgroup directory tree, killing the processes in it first.
pub fn remove_tree(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_tree(&e.path());
        }
    }
    for _ in 0..50 {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        if procs.trim().is_empty() {
            break;
        }
        let _ = fs::write(dir.join("freezer.state"), "THAWED");
        let _ = fs::write(dir.join("cgroup.freeze"), "0");
        for pid in procs
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            // SAFETY: kill(2) of a pid read from the cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for _ in 0..50 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: &str = "\
25 1 0:22 / / rw - ext4 /dev/root rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
34 30 0:30 /inner /sys/fs/cgroup/pids rw - cgroup cgroup rw,nosuid,pids
35 25 0:31 / /mnt/with\\040space rw - cgroup cgroup rw,name=systemd,release_agent=/x
";

    #[test]
    fn reads_hierarchies() {
        let hs = hierarchies(MI);
        assert_eq!(hs.len(), 5);
        assert!(hs[0].v2 && hs[0].mount == Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(hs[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(hs[3].root, "/inner");
        assert_eq!(hs[4].mount, Path::new("/mnt/with space"));
        assert_eq!(hs[4].controllers, vec!["name=systemd"]);
    }

    #[test]
    fn own_paths() {
        let hs = hierarchies(MI);
        let pc = "5:pids:/inner/a\n4:memory:/m/x\n3:cpu,cpuacct:/\n0::/u\n";
        assert_eq!(own_path(&hs[0], pc).as_deref(), Some("/u"));
        assert_eq!(own_path(&hs[1], pc).as_deref(), Some("/"));
        assert_eq!(own_path(&hs[2], pc).as_deref(), Some("/m/x"));
        assert_eq!(own_path(&hs[3], pc).as_deref(), Some("/a"));
        assert_eq!(own_path(&hs[4], pc), None);
    }
}
