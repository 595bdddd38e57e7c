//! What a caller asks for: a container to create ([`CreateRequest`]) and a
//! process to run in one ([`ExecRequest`]), in memory: a parsed
//! configuration, the root file system's path, descriptors for stdio and
//! the terminal.  A bundle directory on disk is one way to make a
//! [`CreateRequest`] ([`CreateRequest::from_bundle`]), not the only one.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Process, Spec};

use crate::error::{Error, Result};

/// The standard streams of a container process.  A stream left `None` is
/// the caller's own (inherited, as a shell's child inherits it).  With a
/// terminal (`process.terminal`) the pty takes all three and these are not
/// used.
#[derive(Debug, Default)]
pub struct Stdio {
    /// Becomes descriptor 0.
    pub stdin: Option<OwnedFd>,
    /// Becomes descriptor 1.
    pub stdout: Option<OwnedFd>,
    /// Becomes descriptor 2.
    pub stderr: Option<OwnedFd>,
}

impl Stdio {
    /// Whether any stream is given (all inherited otherwise).
    pub fn is_inherited(&self) -> bool {
        self.stdin.is_none() && self.stdout.is_none() && self.stderr.is_none()
    }
}

/// Where the pty master of a process with `process.terminal` goes.
#[derive(Debug, Default)]
pub enum Console {
    /// Nowhere: the process must not ask for a terminal.
    #[default]
    None,
    /// Sent over this connected unix socket, as runc's `--console-socket`
    /// does (the descriptor with `SCM_RIGHTS`).
    Socket(OwnedFd),
    /// Handed back to the caller in the result.
    ReturnMaster,
}

/// A container to create.
#[derive(Debug)]
pub struct CreateRequest {
    /// Container id (letters, digits, `_ + - .`; up to 1024 bytes).
    pub id: String,
    /// The configuration, parsed and checked with [`crate::config::validate`].
    pub spec: Spec,
    /// The configuration as it is saved in the container's state (and what
    /// later commands read back): the original bytes of a config.json, or
    /// `None` to serialise `spec`.
    pub config_json: Option<Vec<u8>>,
    /// Absolute path of the root file system.
    pub rootfs: PathBuf,
    /// The bundle directory hooks are told about (runtime-spec `bundle`).
    pub bundle: PathBuf,
    /// Standard streams of the first process.
    pub stdio: Stdio,
    /// Where its pty master goes.
    pub console: Console,
    /// Descriptors 3..3+N of the caller stay open in the container.
    pub preserve_fds: u32,
    /// `MS_MOVE` + `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// Keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// The signal mask the program starts with; `None`: the calling
    /// thread's mask at the time of the call.
    pub sigmask: Option<libc::sigset_t>,
}

impl CreateRequest {
    /// A request for container `id` from a configuration and the path of
    /// its root file system (the configuration's `root.path` is not read).
    pub fn new(id: impl Into<String>, spec: Spec, rootfs: impl Into<PathBuf>) -> CreateRequest {
        let rootfs = rootfs.into();
        let bundle = rootfs.parent().map(Path::to_path_buf).unwrap_or_default();
        CreateRequest {
            id: id.into(),
            spec,
            config_json: None,
            rootfs,
            bundle,
            stdio: Stdio::default(),
            console: Console::None,
            preserve_fds: 0,
            no_pivot: false,
            no_new_keyring: false,
            sigmask: None,
        }
    }

    /// A request from a bundle directory (`config.json` and the root it
    /// names), checked as runc checks it.
    pub fn from_bundle(id: impl Into<String>, dir: &Path) -> Result<CreateRequest> {
        let id = id.into();
        crate::config::validate_id(&id)?;
        let b = crate::config::load_bundle(dir)?;
        let mut r = CreateRequest::new(id, b.spec, b.rootfs);
        r.bundle = b.dir;
        r.config_json = Some(b.raw);
        Ok(r)
    }

    /// Whether the first process asks for a terminal.
    pub(crate) fn terminal(&self) -> bool {
        self.spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false)
    }
}

/// A process to run in an existing container.
#[derive(Debug)]
pub struct ExecRequest {
    /// The container.
    pub id: String,
    /// The process: args, env, cwd, user, capabilities, rlimits, terminal,
    /// ... as in config.json's `process`.
    pub process: Process,
    /// Its standard streams.
    pub stdio: Stdio,
    /// Where its pty master goes (with `process.terminal`).
    pub console: Console,
    /// Descriptors 3..3+N of the caller stay open in the process.
    pub preserve_fds: u32,
    /// A sub-cgroup of the container's cgroup to run in
    /// (`controller:path` for one v1 hierarchy).
    pub cgroup: Option<String>,
    /// Allow a paused container.
    pub ignore_paused: bool,
    /// The signal mask the program starts with; `None`: the calling
    /// thread's.
    pub sigmask: Option<libc::sigset_t>,
}

impl ExecRequest {
    /// A request to run `process` in container `id`, its stdio inherited.
    pub fn new(id: impl Into<String>, process: Process) -> ExecRequest {
        ExecRequest {
            id: id.into(),
            process,
            stdio: Stdio::default(),
            console: Console::None,
            preserve_fds: 0,
            cgroup: None,
            ignore_paused: false,
            sigmask: None,
        }
    }

    /// Check what can be checked before the container is touched.
    pub(crate) fn check(&self) -> Result<()> {
        if self.process.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(Error::config("process.args must name the program to run"));
        }
        if !self.process.cwd().is_absolute() {
            return Err(Error::config(format!(
                "process.cwd {:?} must be an absolute path",
                self.process.cwd()
            )));
        }
        let terminal = self.process.terminal().unwrap_or(false);
        if terminal && matches!(self.console, Console::None) {
            return Err(Error::config(
                "process.terminal is true but the pty master has nowhere to go (no console socket)",
            ));
        }
        Ok(())
    }
}

/// The calling thread's signal mask.
pub(crate) fn current_sigmask() -> libc::sigset_t {
    // SAFETY: reading the calling thread's mask into a zeroed sigset.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut s);
        s
    }
}
