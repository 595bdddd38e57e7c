//! `run`'s security and process flags (flattened into [`crate::cli::Run`]):
//! parsed by clap here, turned into the engine's options (files such as
//! `--env-file` and `--label-file` are read here, as Docker's client
//! reads them), and what `inspect` shows of them.

use clap::Args;
use nook_engine::container::lifecycle::{self, LifecycleOptions};
use nook_engine::container::security::SecurityOptions;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The flags.
#[derive(Debug, Args, Default)]
pub struct RunFlags {
    /// Add Linux capabilities (`ALL` for every one).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (`ALL` for every one).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Security options (seccomp=FILE|unconfined, no-new-privileges,
    /// label=..., apparmor=..., systempaths=unconfined).
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Mount the container's root file system read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Ulimit options (NAME=SOFT[:HARD]).
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Namespaced kernel parameters (K=V).
    #[arg(long, value_name = "K=V")]
    pub sysctl: Vec<String>,
    /// Add additional groups to join.
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps
    /// processes.
    #[arg(long)]
    pub init: bool,
    /// Signal to stop the container.
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub stop_timeout: Option<i64>,
    /// Set meta data on a container (K=V).
    #[arg(short = 'l', long = "label", value_name = "K=V")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels.
    #[arg(long = "label-file", value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// Add an annotation to the container, passed to the runtime (K=V).
    #[arg(long = "annotation", value_name = "K=V")]
    pub annotation: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Container NIS domain name.
    #[arg(long)]
    pub domainname: Option<String>,
}

/// The engine's options from the flags, and the environment the env files
/// give (to go before `-e`).
pub struct Parsed {
    /// Security.
    pub security: SecurityOptions,
    /// Lifecycle.
    pub lifecycle: LifecycleOptions,
    /// `K=V` from `--env-file`s, in order.
    pub env: Vec<String>,
}

impl RunFlags {
    /// Read the files and build the engine's options.
    pub fn parse(self) -> nook_engine::Result<Parsed> {
        let lookup = |k: &str| std::env::var(k).ok();
        // a bare label name is a label with an empty value
        let empty = |_: &str| Some(String::new());
        let mut env = Vec::new();
        for f in &self.env_file {
            env.extend(lifecycle::parse_kv_file(f, "--env-file", &lookup)?);
        }
        let mut labels = Vec::new();
        for f in &self.label_file {
            labels.extend(lifecycle::parse_kv_file(f, "--label-file", &empty)?);
        }
        labels.extend(self.label);
        let init = match self.init {
            true => Some(init_program()?),
            false => None,
        };
        Ok(Parsed {
            security: SecurityOptions {
                cap_add: self.cap_add,
                cap_drop: self.cap_drop,
                privileged: self.privileged,
                security_opt: self.security_opt,
                read_only: self.read_only,
                // (`--tmpfs` is a mount: the Run flags' own, see mounts)
                tmpfs: Vec::new(),
                ulimits: self.ulimit,
                sysctls: self.sysctl,
                group_add: self.group_add,
            },
            lifecycle: LifecycleOptions {
                labels,
                stop_signal: self.stop_signal,
                stop_timeout: self.stop_timeout,
                init,
                domainname: self.domainname,
                annotations: self.annotation,
            },
            env,
        })
    }
}

/// `nook-init` beside this `nook`.
fn init_program() -> nook_engine::Result<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| nook_engine::Error::Monitor(format!("cannot find nook's program: {e}")))?;
    Ok(exe.with_file_name("nook-init"))
}

/// Add to a container's `inspect` JSON what these flags set: Config.Labels,
/// StopSignal, StopTimeout, Domainname; HostConfig's security fields.
pub fn inspect_fields(out: &mut Value, spec: &Value) {
    let ann = &spec["annotations"];
    let text = |k: &str| ann[k].as_str().map(String::from);
    let labels: Value = text(lifecycle::LABELS)
        .and_then(|l| serde_json::from_str(&l).ok())
        .unwrap_or(json!({}));
    let config = &mut out["Config"];
    config["Labels"] = labels;
    config["Domainname"] = json!(spec["domainname"].as_str().unwrap_or(""));
    if let Some(s) = text(lifecycle::STOP_SIGNAL) {
        config["StopSignal"] = json!(s);
    }
    if let Some(t) = text(lifecycle::STOP_TIMEOUT).and_then(|t| t.parse::<i64>().ok()) {
        config["StopTimeout"] = json!(t);
    }
    if let Some(Value::Object(hc)) =
        text("io.nook.host-config").and_then(|h| serde_json::from_str(&h).ok())
    {
        for (k, v) in hc {
            out["HostConfig"][k] = v;
        }
    }
    // with --init, Path and Args are the container's command, as Docker's
    if text(lifecycle::INIT).is_some() {
        if let Some(args) = spec["process"]["args"].as_array() {
            let rest = args.get(2..).unwrap_or(&[]);
            out["Path"] = rest.first().cloned().unwrap_or(Value::Null);
            out["Args"] = json!(rest.get(1..).unwrap_or(&[]));
        }
    }
}
