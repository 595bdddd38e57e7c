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
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// A command.
#[derive(Debug, Subcommand)]
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
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage nook.
    #[command(subcommand)]
    System(SystemCommand),
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

/// `image inspect`.
#[derive(Debug, Args)]
pub struct Inspect {
    /// A template (`{{.Id}}`, `{{json .Config}}`) instead of JSON.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images (names or ids).
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
