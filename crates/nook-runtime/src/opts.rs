//! The flag sets of runc's `create`, `run` and `exec`, and the process an
//! `exec` runs, built from them on top of the container's own `process` (as
//! runc does).

use std::path::PathBuf;

use nook_container::Error;
use oci_spec::runtime::{LinuxCapabilities, Process};

type Result<T> = std::result::Result<T, Error>;

/// Options of `create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOpts {
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Write the container's pid here.
    pub pid_file: Option<PathBuf>,
    /// Send the pty master to this unix socket.
    pub console_socket: Option<PathBuf>,
    /// `MS_MOVE` + `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// Keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// Pass descriptors 3..3+N to the container.
    pub preserve_fds: u32,
    /// The caller will wait for the container (`run` without `--detach`):
    /// a pty master comes back to it instead of a console socket.
    pub foreground: bool,
}

/// How the process to exec is described.
#[derive(Debug, Clone)]
pub enum ExecProcess {
    /// A runtime-spec `process` JSON file (`--process`).
    File(PathBuf),
    /// Arguments and flags, on top of the container's own process settings.
    Args(ExecArgs),
}

/// `exec ID ARGS...` and its flags.
#[derive(Debug, Clone, Default)]
pub struct ExecArgs {
    /// Program and arguments.
    pub args: Vec<String>,
    /// `KEY=VALUE` added to (or replacing in) the container's environment.
    pub env: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// `uid[:gid]`.
    pub user: Option<(u32, Option<u32>)>,
    /// Additional groups.
    pub additional_gids: Vec<u32>,
    /// Capabilities added to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
    /// Allocate a terminal.
    pub tty: bool,
    /// Set no_new_privs.
    pub no_new_privs: bool,
    /// AppArmor profile.
    pub apparmor: Option<String>,
    /// SELinux label.
    pub label: Option<String>,
}

/// Options of `exec`.
#[derive(Debug, Clone)]
pub struct ExecOpts {
    /// Container id.
    pub id: String,
    /// The process.
    pub process: ExecProcess,
    /// Return once the process runs.
    pub detach: bool,
    /// Write the process's pid here.
    pub pid_file: Option<PathBuf>,
    /// Send the pty master to this socket.
    pub console_socket: Option<PathBuf>,
    /// Pass descriptors 3..3+N.
    pub preserve_fds: u32,
    /// Sub-cgroup (relative to the container's; `controller:path` on v1).
    pub cgroup: Option<String>,
    /// Allow exec into a paused container.
    pub ignore_paused: bool,
}

fn set_env(env: &mut Vec<String>, kv: &str) {
    let key = kv.split('=').next().unwrap_or(kv);
    env.retain(|e| e.split('=').next() != Some(key));
    env.push(kv.to_string());
}

/// Build the process to run from the container's own `process` and the
/// exec flags (as runc does).
pub fn build_process(base: Option<&Process>, p: &ExecProcess) -> Result<Process> {
    match p {
        ExecProcess::File(path) => {
            let b = std::fs::read(path).map_err(Error::io("read --process", path.clone()))?;
            let proc: Process = nook_container::config::parse_json(&b, path)?;
            if proc.args().as_ref().is_none_or(|a| a.is_empty()) {
                return Err(Error::InvalidConfig {
                    path: Some(path.clone()),
                    reason: "args must name the program to run".into(),
                });
            }
            Ok(proc)
        }
        ExecProcess::Args(a) => {
            if a.args.is_empty() {
                return Err(Error::InvalidInput("exec needs the program to run".into()));
            }
            let mut proc = base.cloned().unwrap_or_default();
            proc.set_args(Some(a.args.clone()));
            let mut env = proc.env().clone().unwrap_or_default();
            for kv in &a.env {
                set_env(&mut env, kv);
            }
            proc.set_env(Some(env));
            if let Some(c) = &a.cwd {
                proc.set_cwd(c.clone());
            }
            proc.set_terminal(Some(a.tty));
            let mut user = proc.user().clone();
            if let Some((uid, gid)) = a.user {
                user.set_uid(uid);
                user.set_gid(gid.unwrap_or(0));
            }
            if !a.additional_gids.is_empty() {
                user.set_additional_gids(Some(a.additional_gids.clone()));
            }
            proc.set_user(user);
            if !a.caps.is_empty() {
                let mut caps = proc
                    .capabilities()
                    .clone()
                    .unwrap_or_else(LinuxCapabilities::default);
                let extra: Vec<oci_spec::runtime::Capability> = a
                    .caps
                    .iter()
                    .map(|c| {
                        let full = if c.to_ascii_uppercase().starts_with("CAP_") {
                            c.to_string()
                        } else {
                            format!("CAP_{c}")
                        };
                        serde_json::from_value(serde_json::Value::String(full.clone())).map_err(
                            |_| Error::InvalidInput(format!("--cap: unknown capability {c}")),
                        )
                    })
                    .collect::<Result<_>>()?;
                let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                    let mut s = set.clone().unwrap_or_default();
                    s.extend(extra.iter().copied());
                    Some(s)
                };
                caps.set_bounding(add(caps.bounding()));
                caps.set_effective(add(caps.effective()));
                caps.set_permitted(add(caps.permitted()));
                proc.set_capabilities(Some(caps));
            }
            if a.no_new_privs {
                proc.set_no_new_privileges(Some(true));
            }
            if let Some(p) = &a.apparmor {
                proc.set_apparmor_profile(Some(p.clone()));
            }
            if let Some(l) = &a.label {
                proc.set_selinux_label(Some(l.clone()));
            }
            Ok(proc)
        }
    }
}
