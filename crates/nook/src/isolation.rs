//! `run`'s namespace and device flags (flattened into [`crate::cli::Run`]):
//! which namespaces are the host's or another container's, and which host
//! devices the container gets.

use clap::Args;
use nook_engine::container::namespaces::NamespaceOptions;

/// The flags.
#[derive(Debug, Args, Default)]
pub struct IsolationFlags {
    /// PID namespace: host, private, or container:NAME.
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// IPC namespace: none, private, shareable, host, or container:NAME.
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// UTS namespace: host or private.
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// Cgroup namespace: host or private (private on cgroup v2, host on v1
    /// by default).
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// User namespace: host (nook remaps no users for root containers).
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Add a host device (HOST[:CONTAINER][:PERMISSIONS], permissions of rwm).
    #[arg(long = "device", value_name = "DEVICE")]
    pub devices: Vec<String>,
    /// Mount the volumes and binds of another container (NAME[:ro|rw]).
    #[arg(long = "volumes-from", value_name = "CONTAINER")]
    pub volumes_from: Vec<String>,
    /// Add a rule to the device cgroup ('c|b|a MAJOR:MINOR rwm', * for any).
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    pub device_cgroup_rules: Vec<String>,
}

impl IsolationFlags {
    /// The engine's namespace options.
    pub fn namespaces(&self) -> NamespaceOptions {
        NamespaceOptions {
            pid: self.pid.clone(),
            ipc: self.ipc.clone(),
            uts: self.uts.clone(),
            cgroupns: self.cgroupns.clone(),
            userns: self.userns.clone(),
        }
    }
}
