//! AppArmor profiles and SELinux labels for the container's process.
//!
//! Both are written to procfs attribute files just before exec.  When the
//! configuration names a profile or label and the host has no such LSM
//! enabled, creation fails with an error saying so (rather than starting an
//! unconfined container).  The roots of `/sys` and `/proc` are parameters
//! so the logic can be tested against a mock tree.

use std::path::{Path, PathBuf};

use crate::{Result, SecurityError};

/// Where the LSM files live (the host's `/sys` and `/proc/self`, or a mock).
#[derive(Debug, Clone)]
pub struct LsmRoots {
    /// `/sys`.
    pub sys: PathBuf,
    /// `/proc/thread-self` (attribute files are per thread).
    pub proc_self: PathBuf,
}

impl Default for LsmRoots {
    fn default() -> Self {
        LsmRoots {
            sys: PathBuf::from("/sys"),
            proc_self: PathBuf::from("/proc/thread-self"),
        }
    }
}

impl LsmRoots {
    /// Is AppArmor enabled on this host?
    pub fn apparmor_enabled(&self) -> bool {
        std::fs::read_to_string(self.sys.join("module/apparmor/parameters/enabled"))
            .is_ok_and(|s| s.trim().starts_with('Y'))
    }

    /// Is SELinux enabled on this host?
    pub fn selinux_enabled(&self) -> bool {
        self.sys.join("fs/selinux/enforce").exists()
    }

    /// Check that what the config asks for can be applied (at create time).
    pub fn check(&self, apparmor: Option<&str>, selinux: Option<&str>) -> Result<()> {
        if let Some(p) = apparmor.filter(|p| !p.is_empty()) {
            if !self.apparmor_enabled() {
                return Err(SecurityError::Lsm(format!(
                    "process.apparmorProfile {p:?} is set, but AppArmor is not enabled on this host"
                )));
            }
        }
        if let Some(l) = selinux.filter(|l| !l.is_empty()) {
            if !self.selinux_enabled() {
                return Err(SecurityError::Lsm(format!(
                    "process.selinuxLabel {l:?} is set, but SELinux is not enabled on this host"
                )));
            }
        }
        Ok(())
    }

    /// Arrange for the next `execve` to run under the AppArmor profile.
    pub fn apply_apparmor(&self, profile: &str) -> Result<()> {
        let new = self.proc_self.join("attr/apparmor/exec");
        let file = if new.exists() {
            new
        } else {
            self.proc_self.join("attr/exec")
        };
        write_attr(&file, format!("exec {profile}").as_bytes())
    }

    /// Arrange for the next `execve` to run with the SELinux label.
    pub fn apply_selinux(&self, label: &str) -> Result<()> {
        write_attr(&self.proc_self.join("attr/exec"), label.as_bytes())
    }
}

fn write_attr(file: &Path, v: &[u8]) -> Result<()> {
    nook_sys::fd::write_file(file, v)
        .map_err(|e| SecurityError::Lsm(format!("write {}: {e}", file.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock(tag: &str, apparmor: bool, selinux: bool) -> (PathBuf, LsmRoots) {
        let d = std::env::temp_dir().join(format!("nook-lsm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sys/module/apparmor/parameters")).unwrap();
        std::fs::create_dir_all(d.join("proc/attr/apparmor")).unwrap();
        std::fs::write(
            d.join("sys/module/apparmor/parameters/enabled"),
            if apparmor { "Y\n" } else { "N\n" },
        )
        .unwrap();
        if selinux {
            std::fs::create_dir_all(d.join("sys/fs/selinux")).unwrap();
            std::fs::write(d.join("sys/fs/selinux/enforce"), "1").unwrap();
        }
        std::fs::write(d.join("proc/attr/apparmor/exec"), "").unwrap();
        std::fs::write(d.join("proc/attr/exec"), "").unwrap();
        (
            d.clone(),
            LsmRoots {
                sys: d.join("sys"),
                proc_self: d.join("proc"),
            },
        )
    }

    #[test]
    fn absent_lsm_is_a_clear_error() {
        let (d, r) = mock("absent", false, false);
        let e = r
            .check(Some("docker-default"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("AppArmor is not enabled"), "{e}");
        let e = r
            .check(None, Some("system_u:system_r:container_t:s0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SELinux is not enabled"), "{e}");
        assert!(r.check(None, None).is_ok());
        assert!(r.check(Some(""), Some("")).is_ok());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn present_lsm_gets_labels_written() {
        let (d, r) = mock("present", true, true);
        r.check(Some("p"), Some("l")).unwrap();
        r.apply_apparmor("docker-default").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("proc/attr/apparmor/exec")).unwrap(),
            "exec docker-default"
        );
        r.apply_selinux("system_u:system_r:container_t:s0").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("proc/attr/exec")).unwrap(),
            "system_u:system_r:container_t:s0"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn this_host_has_neither() {
        let r = LsmRoots::default();
        if !r.apparmor_enabled() {
            assert!(r.check(Some("x"), None).is_err());
        }
    }
}
