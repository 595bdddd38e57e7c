//! The command line, as Docker spells it: command names, flags and
//! arguments (clap derive).  `nook image <cmd>` has the same commands as
//! the short forms (`nook images`, `nook rmi`, ...).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// nook: containers, daemonless.
#[derive(Debug, Parser)]
#[command(name = "nook", version, about, disable_help_subcommand = true)]
pub struct Cli {
    /// Where images (and later containers) are stored.
    #[arg(long, global = true, env = "NOOK_ROOT", default_value = nook_engine::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// A registry (host[:port]) reached over plain HTTP or unverified TLS;
    /// may be repeated.
    #[arg(long = "insecure-registry", global = true, value_name = "REGISTRY")]
    pub insecure_registries: Vec<String>,
    /// The cgroup containers' cgroups go under (default `/nook`); a
    /// relative path is below nook's own cgroup.
    #[arg(long, global = true, env = "NOOK_CGROUP_PARENT", value_name = "CGROUP")]
    pub cgroup_parent: Option<String>,
    /// The network namespace (a file) nook's bridges and firewall live in
    /// (default: nook's own).
    #[arg(
        long,
        global = true,
        env = "NOOK_NETNS",
        value_name = "PATH",
        hide = true
    )]
    pub netns: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// A command.
#[derive(Debug, Subcommand)]
// parsed once per process: `run`'s many flags need no box
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Download an image from a registry.
    Pull(Pull),
    /// List images.
    Images(Images),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(Tag),
    /// Remove one or more images.
    Rmi(Rmi),
    /// Load images from a tar archive or an OCI layout (STDIN by default).
    Load(Load),
    /// Save one or more images to a tar archive (STDOUT by default).
    Save(Save),
    /// Import the contents of a root file system tarball as an image.
    Import(Import),
    /// Log in to a registry.
    Login(Login),
    /// Log out from a registry.
    Logout(Logout),
    /// Create and run a new container from an image.
    Run(Box<Run>),
    /// List containers.
    Ps(Ps),
    /// Fetch the logs of a container.
    Logs(Logs),
    /// Stop one or more running containers.
    Stop(Stop),
    /// Kill one or more running containers.
    Kill(Kill),
    /// Remove one or more containers.
    Rm(Rm),
    /// Execute a command in a running container.
    Exec(Exec),
    /// Update the resource limits of one or more containers.
    Update(Box<Update>),
    /// Display detailed information on containers (or images).
    Inspect(Inspect),
    /// Create a new container.
    Create(Box<Run>),
    /// Start one or more stopped containers.
    Start(Start),
    /// Restart one or more containers.
    Restart(Restart),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(Containers),
    /// Pause all processes within one or more containers.
    Pause(Containers),
    /// Unpause all processes within one or more containers.
    Unpause(Containers),
    /// Rename a container.
    Rename(Rename),
    /// Display the running processes of a container.
    Top(Top),
    /// List port mappings or a specific mapping for the container.
    Port(Port),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(Stats),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Attach local standard input, output, and error streams to a running
    /// container.
    Attach(Attach),
    /// Run a container's health check.
    #[command(subcommand)]
    Healthcheck(HealthcheckCommand),
    /// Manage nook.
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(crate::networks::NetworkCommand),
    /// Copy files between a container and the host.
    Cp(Cp),
}

/// `nook healthcheck ...`.
#[derive(Debug, Subcommand)]
pub enum HealthcheckCommand {
    /// Run the container's health check once and record the result
    /// (exit 0 healthy, 1 not).
    Run(Cleanup),
}

/// `attach`.
#[derive(Debug, Args)]
pub struct Attach {
    /// Do not attach STDIN.
    #[arg(long)]
    pub no_stdin: bool,
    /// `--detach-keys`, `--sig-proxy`.
    #[command(flatten)]
    pub session: crate::terminal::SessionArgs,
    /// The container.
    pub container: String,
}

/// `container cleanup`.
#[derive(Debug, Args)]
pub struct Cleanup {
    /// The container's full id.
    pub id: String,
}

/// `nook image ...`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Display detailed information on one or more images.
    Inspect(Inspect),
    /// List images.
    #[command(alias = "list")]
    Ls(Images),
    /// Download an image from a registry.
    Pull(Pull),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(Tag),
    /// Remove one or more images.
    #[command(alias = "remove")]
    Rm(Rmi),
    /// Remove unused images.
    Prune(Prune),
    /// Load images from a tar archive or an OCI layout.
    Load(Load),
    /// Save one or more images to a tar archive.
    Save(Save),
    /// Import the contents of a root file system tarball as an image.
    Import(Import),
}

/// `nook system ...`.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show disk usage.
    Df(Df),
    /// Remove stopped containers and dangling images.
    Prune(SystemPrune),
}

/// `nook container ...`: the container commands under one name.
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// List containers.
    #[command(alias = "list", alias = "ps")]
    Ls(Ps),
    /// Create a new container.
    Create(Box<Run>),
    /// Create and run a new container from an image.
    Run(Box<Run>),
    /// Start one or more stopped containers.
    Start(Start),
    /// Stop one or more running containers.
    Stop(Stop),
    /// Restart one or more containers.
    Restart(Restart),
    /// Kill one or more running containers.
    Kill(Kill),
    /// Remove one or more containers.
    #[command(alias = "remove")]
    Rm(Rm),
    /// Fetch the logs of a container.
    Logs(Logs),
    /// Display detailed information on one or more containers.
    Inspect(Inspect),
    /// Execute a command in a running container.
    Exec(Exec),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(Containers),
    /// Pause all processes within one or more containers.
    Pause(Containers),
    /// Unpause all processes within one or more containers.
    Unpause(Containers),
    /// Rename a container.
    Rename(Rename),
    /// Display the running processes of a container.
    Top(Top),
    /// List port mappings or a specific mapping for the container.
    Port(Port),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(Stats),
    /// Update the resource limits of one or more containers.
    Update(Box<Update>),
    /// Remove all stopped containers.
    Prune(ContainerPrune),
    /// Record a detached container's exit (the exit command its monitor
    /// runs): unmount it, apply --rm and --restart.
    #[command(hide = true)]
    Cleanup(Cleanup),
}

/// `start`.
#[derive(Debug, Args)]
pub struct Start {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short, long)]
    pub attach: bool,
    /// Attach the container's STDIN.
    #[arg(short, long)]
    pub interactive: bool,
    /// `--detach-keys`, `--sig-proxy`.
    #[command(flatten)]
    pub session: crate::terminal::SessionArgs,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `restart`.
#[derive(Debug, Args)]
pub struct Restart {
    /// Seconds to wait before killing it (the container's --stop-timeout,
    /// else 10; -1: no timeout).
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        allow_negative_numbers = true
    )]
    pub time: Option<i64>,
    /// Signal to stop it with (its --stop-signal, else SIGTERM).
    #[arg(short, long)]
    pub signal: Option<String>,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Commands taking only containers (`wait`, `pause`, `unpause`).
#[derive(Debug, Args)]
pub struct Containers {
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `rename`.
#[derive(Debug, Args)]
pub struct Rename {
    /// The container.
    pub container: String,
    /// Its new name.
    pub new_name: String,
}

/// `top`.
#[derive(Debug, Args)]
pub struct Top {
    /// The container.
    pub container: String,
    /// `ps` options.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

/// `port`.
#[derive(Debug, Args)]
pub struct Port {
    /// The container.
    pub container: String,
    /// PRIVATE_PORT[/PROTO].
    pub private_port: Option<String>,
}

/// `stats`.
#[derive(Debug, Args)]
pub struct Stats {
    /// Show all containers (running ones only by default).
    #[arg(short, long)]
    pub all: bool,
    /// One sample, no live stream.
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// `table`, `json`, or a template.
    #[arg(long)]
    pub format: Option<String>,
    /// The containers (all running ones when none).
    pub containers: Vec<String>,
}

/// `container prune`.
#[derive(Debug, Args)]
pub struct ContainerPrune {
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Filters: `until=TIMESTAMP|DURATION`, `label=K[=V]`, `label!=K[=V]`.
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `system prune`.
#[derive(Debug, Args)]
pub struct SystemPrune {
    /// Remove all unused images, not only dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes no container uses too.
    #[arg(long)]
    pub volumes: bool,
    /// Filters: `until=TIMESTAMP|DURATION`, `label=K[=V]`, `label!=K[=V]`.
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `pull`.
#[derive(Debug, Args)]
pub struct Pull {
    /// Print only the image's name.
    #[arg(short, long)]
    pub quiet: bool,
    /// The platform wanted from a multi-platform image (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// NAME[:TAG|@DIGEST].
    pub name: String,
}

/// `images`.
#[derive(Debug, Args)]
pub struct Images {
    /// Only image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Full image ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Show all images (nook keeps no intermediate images: the same list).
    #[arg(short, long)]
    pub all: bool,
    /// `json` (one object per line), or a template (`{{.Repository}}:{{.Tag}}`).
    #[arg(long)]
    pub format: Option<String>,
    /// Only images of this REPOSITORY[:TAG].
    pub reference: Option<String>,
}

/// `tag`.
#[derive(Debug, Args)]
pub struct Tag {
    /// SOURCE_IMAGE[:TAG], or an image id.
    pub source: String,
    /// TARGET_IMAGE[:TAG].
    pub target: String,
}

/// `rmi`.
#[derive(Debug, Args)]
pub struct Rmi {
    /// Remove even an image tagged in several repositories or in use.
    #[arg(short, long)]
    pub force: bool,
    /// Images (names or ids).
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `image prune`.
#[derive(Debug, Args)]
pub struct Prune {
    /// Remove all images no container uses, not only untagged ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Filters: `until=TIMESTAMP|DURATION`, `label=K[=V]`, `label!=K[=V]`.
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `load`.
#[derive(Debug, Args)]
pub struct Load {
    /// The archive (a docker-archive or oci-archive tar, or an OCI layout
    /// directory); STDIN when absent.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `save`.
#[derive(Debug, Args)]
pub struct Save {
    /// The file to write; STDOUT when absent.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// oci-archive or docker-archive.
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    /// Images (names or ids).
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `import`.
#[derive(Debug, Args)]
pub struct Import {
    /// The root file system tarball (tar, tar.gz, tar.zst).
    pub file: PathBuf,
    /// REPOSITORY[:TAG] to name the image.
    pub reference: Option<String>,
}

/// `login`.
#[derive(Debug, Args)]
pub struct Login {
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from STDIN.
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (Docker Hub when absent).
    pub server: Option<String>,
}

/// `logout`.
#[derive(Debug, Args)]
pub struct Logout {
    /// The registry (Docker Hub when absent).
    pub server: Option<String>,
}

/// `image inspect` and `inspect`.
#[derive(Debug, Args)]
pub struct Inspect {
    /// A template (`{{.Id}}`, `{{json .Config}}`) instead of JSON.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Only objects of this type (`container` or `image`).
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Show the containers' sizes (SizeRw, SizeRootFs).
    #[arg(short, long)]
    pub size: bool,
    /// Images (names or ids); for `inspect`, containers first.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `system df`.
#[derive(Debug, Args)]
pub struct Df {
    /// `json`, or a template.
    #[arg(long)]
    pub format: Option<String>,
}

/// `run`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct Run {
    /// Run in the background and print the container's id.
    #[arg(short, long)]
    pub detach: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Restart policy: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Logging driver: json-file (the default) or k8s-file.
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Log driver options: max-size=SIZE, max-file=N.
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opts: Vec<String>,
    /// Command to run to check health (with `/bin/sh -c`; NONE: none).
    #[arg(long, value_name = "CMD")]
    pub health_cmd: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h), 30s by default.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_timeout: Option<String>,
    /// Start period for the container to initialize before failed checks
    /// count (ms|s|m|h), 0s by default.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_start_period: Option<String>,
    /// Time between checks during the start period (ms|s|m|h), 5s by
    /// default.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Time between health checks (ms|s|m|h), 30s by default.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy (3 by default).
    #[arg(long, value_name = "N")]
    pub health_retries: Option<u32>,
    /// The container's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (K=V, or K to pass this one's value).
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// The working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The user (name|uid[:group|gid]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Override the image's entrypoint.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// The container's hostname.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Security and process flags.
    #[command(flatten)]
    pub flags: Box<crate::run_flags::RunFlags>,
    /// Resource limits.
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// `-a`, `--detach-keys`, `--sig-proxy`.
    #[command(flatten)]
    pub term: crate::terminal::RunTermArgs,
    /// Bind mount a volume (NAME:DST[:OPTS], /HOST:DST[:OPTS], DST).
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST")]
    pub volumes: Vec<String>,
    /// Attach a file system mount (type=bind|volume|tmpfs,source=...,target=...).
    #[arg(long = "mount", value_name = "MOUNT")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs (DST[:OPTS], e.g. /run:size=64m,mode=1777).
    #[arg(long = "tmpfs", value_name = "DST")]
    pub tmpfs: Vec<String>,
    /// Namespace and device flags.
    #[command(flatten)]
    pub isolation: Box<crate::isolation::IsolationFlags>,
    /// Name resolution flags.
    #[command(flatten)]
    pub network: Box<crate::network_flags::NetworkFlags>,
    /// Published ports.
    #[command(flatten)]
    pub ports: Box<crate::ports_flags::PortFlags>,
    /// Pull the image before running: always, missing (the default), never.
    #[arg(long, value_name = "POLICY", default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output.
    #[arg(short, long)]
    pub quiet: bool,
    /// The platform to pull when the image is missing (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Write the container's id to this file.
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<std::path::PathBuf>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Only create it (`nook create`): print its id, do not start it.
    #[arg(skip)]
    pub create_only: bool,
    /// The image.
    pub image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

/// `ps`.
#[derive(Debug, Args)]
pub struct Ps {
    /// Show all containers (running ones only by default).
    #[arg(short, long)]
    pub all: bool,
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate.
    #[arg(long)]
    pub no_trunc: bool,
    /// `json` (one object per line), or a template.
    #[arg(long)]
    pub format: Option<String>,
    /// The last N created containers (any state).
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// The latest created container (any state).
    #[arg(short, long)]
    pub latest: bool,
    /// Show sizes.
    #[arg(short, long)]
    pub size: bool,
    /// Filter (`status=`, `name=`, `id=`, `label=`, `ancestor=`, `exited=`,
    /// `before=`, `since=`, `publish=`, `expose=`).
    #[arg(short, long)]
    pub filter: Vec<String>,
}

/// `logs`.
#[derive(Debug, Args)]
pub struct Logs {
    /// Follow the output.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines (`all` for all).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Only logs since this time (RFC 3339, Unix seconds, or a duration
    /// before now: `10m`, `1h30m`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only logs before this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Show extra details (the log's attributes: none here).
    #[arg(long)]
    pub details: bool,
    /// The container.
    pub container: String,
}

/// `stop`.
#[derive(Debug, Args)]
pub struct Stop {
    /// Seconds to wait before killing it (the container's --stop-timeout,
    /// else 10; -1: no timeout).
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        allow_negative_numbers = true
    )]
    pub time: Option<i64>,
    /// Signal to stop it with (its --stop-signal, else SIGTERM).
    #[arg(short, long)]
    pub signal: Option<String>,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `kill`.
#[derive(Debug, Args)]
pub struct Kill {
    /// The signal (name or number).
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `rm`.
#[derive(Debug, Args)]
pub struct Rm {
    /// Kill and remove a running container.
    #[arg(short, long)]
    pub force: bool,
    /// Remove the container's anonymous volumes too.
    #[arg(short, long)]
    pub volumes: bool,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `exec`.
#[derive(Debug, Args)]
pub struct Exec {
    /// Detached mode: run the command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Set an environment variable.
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,
    /// The working directory.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The user.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Give the command every capability.
    #[arg(long)]
    pub privileged: bool,
    /// The container.
    pub container: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

/// The resource flags of `run`/`create` (Docker's names and units).
#[derive(Debug, Args, Default)]
pub struct ResourceArgs {
    /// The limits `update` can change too.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Tune the container's OOM preference (-1000 to 1000).
    #[arg(long, value_name = "INT", allow_hyphen_values = true)]
    pub oom_score_adj: Option<String>,
    /// Tune the container's memory swappiness (0 to 100; -1: the kernel's).
    #[arg(long, value_name = "INT", allow_hyphen_values = true)]
    pub memory_swappiness: Option<String>,
    /// Size of /dev/shm (default 64m).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub shm_size: Option<String>,
}

/// The resource limits of `run`/`create` and `update`.
#[derive(Debug, Args, Default)]
pub struct LimitArgs {
    /// Memory limit (e.g. 512m, 1g).
    #[arg(short, long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit: -1 for unlimited swap (default twice --memory).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit (cgroup v1 only; deprecated).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Number of CPUs (e.g. 1.5).
    #[arg(long, value_name = "DECIMAL", allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long, value_name = "INT", allow_hyphen_values = true)]
    pub cpu_shares: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long, value_name = "INT", allow_hyphen_values = true)]
    pub cpu_period: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long, value_name = "INT", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long, value_name = "LIST", allow_hyphen_values = true)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes in which to allow execution (0-3, 0,1).
    #[arg(long, value_name = "LIST", allow_hyphen_values = true)]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long, value_name = "INT", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long, value_name = "UINT16", allow_hyphen_values = true)]
    pub blkio_weight: Option<String>,
    /// Block IO weight for a device (PATH:WEIGHT, 10 to 1000).
    #[arg(long = "blkio-weight-device", value_name = "PATH:WEIGHT")]
    pub blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device (PATH:RATE).
    #[arg(long, value_name = "PATH:RATE", allow_hyphen_values = true)]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device (PATH:RATE).
    #[arg(long, value_name = "PATH:RATE", allow_hyphen_values = true)]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device (PATH:RATE).
    #[arg(long, value_name = "PATH:RATE", allow_hyphen_values = true)]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device (PATH:RATE).
    #[arg(long, value_name = "PATH:RATE", allow_hyphen_values = true)]
    pub device_write_iops: Vec<String>,
    /// Disable the OOM killer.
    #[arg(long)]
    pub oom_kill_disable: bool,
}

/// `update`.
#[derive(Debug, Args)]
pub struct Update {
    /// The new limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Restart policy: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// The containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `nook volume ...`.
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(VolumeCreate),
    /// List volumes.
    #[command(alias = "list")]
    Ls(VolumeLs),
    /// Display detailed information on one or more volumes.
    Inspect(VolumeInspect),
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm(VolumeRm),
    /// Remove unused volumes (anonymous ones unless --all).
    Prune(VolumePrune),
}

/// `volume create`.
#[derive(Debug, Args)]
pub struct VolumeCreate {
    /// The volume driver (only `local`).
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata (k=v).
    #[arg(long = "label", value_name = "K=V")]
    pub labels: Vec<String>,
    /// Driver options (k=v).
    #[arg(short = 'o', long = "opt", value_name = "K=V")]
    pub opts: Vec<String>,
    /// The name (generated when absent).
    pub name: Option<String>,
}

/// `volume ls`.
#[derive(Debug, Args)]
pub struct VolumeLs {
    /// Only names.
    #[arg(short, long)]
    pub quiet: bool,
    /// `json` (one object per line), or a template.
    #[arg(long)]
    pub format: Option<String>,
    /// dangling=true|false, name=, label=K[=V], driver=.
    #[arg(short, long)]
    pub filter: Vec<String>,
}

/// `volume inspect`.
#[derive(Debug, Args)]
pub struct VolumeInspect {
    /// A template instead of JSON.
    #[arg(short, long)]
    pub format: Option<String>,
    /// The volumes.
    #[arg(required = true)]
    pub volumes: Vec<String>,
}

/// `volume rm`.
#[derive(Debug, Args)]
pub struct VolumeRm {
    /// No error for a volume that does not exist.
    #[arg(short, long)]
    pub force: bool,
    /// The volumes.
    #[arg(required = true)]
    pub volumes: Vec<String>,
}

/// `volume prune`.
#[derive(Debug, Args)]
pub struct VolumePrune {
    /// Remove named volumes too, not only anonymous ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Filters: `label=K[=V]`, `label!=K[=V]`.
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `cp`.
#[derive(Debug, Args)]
pub struct Cp {
    /// Keep owners (uid/gid) as they are.
    #[arg(short, long)]
    pub archive: bool,
    /// Follow a link given as the source.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// No progress output (there is none).
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, a host path, or - (a tar on stdin).
    pub src: String,
    /// CONTAINER:DEST_PATH, a host path, or - (a tar on stdout).
    pub dest: String,
}
