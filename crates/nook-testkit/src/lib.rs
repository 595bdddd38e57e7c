//! nook-testkit: fixtures shared by the integration tests of nook-image
//! and the nook engine and command line (a dev-dependency, never
//! published): Debian's reference registry on 127.0.0.1 with a temporary
//! storage directory, OCI layouts built here from /bin/busybox and pushed
//! with skopeo, and a small HTTP proxy that can corrupt, cut, slow down or
//! authenticate what the registry serves.  Every fixture is a Drop guard
//! that stops its processes and removes its directories.  A missing tool
//! fails the test, naming its package.

pub mod layout;
pub mod netns;
pub mod proxy;
pub mod tls;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fail, naming the Debian package, when `program` is missing.
pub fn need(program: &str, package: &str) {
    let found = if program.starts_with('/') {
        Path::new(program).exists()
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(program).exists()))
            .unwrap_or(false)
    };
    assert!(
        found,
        "{program} is missing: install the Debian package {package} (scripts/deps installs it)"
    );
}

/// A port free on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run `cmd`, failing with its output when it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Debian's reference registry (docker-registry), on 127.0.0.1 (or the
/// address its options name).
pub struct Registry {
    pub port: u16,
    addr: std::net::IpAddr,
    child: Child,
    pub dir: tempfile::TempDir,
}

/// How a [`Registry`] is started.
pub struct RegistryOptions<'a> {
    /// Demand these credentials (htpasswd).
    pub basic: Option<(&'a str, &'a str)>,
    /// Serve HTTPS with this certificate and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Listen on this address (127.0.0.1 by default).
    pub addr: std::net::IpAddr,
}

impl Default for RegistryOptions<'_> {
    fn default() -> Self {
        RegistryOptions {
            basic: None,
            tls: None,
            addr: std::net::Ipv4Addr::LOCALHOST.into(),
        }
    }
}

impl Registry {
    /// A registry with no authentication.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry; with `basic = Some((user, password))` it demands those
    /// credentials (htpasswd).
    pub fn start_with(basic: Option<(&str, &str)>) -> Registry {
        Registry::start_opts(RegistryOptions {
            basic,
            ..Default::default()
        })
    }

    /// A registry started as `o` says.
    pub fn start_opts(o: RegistryOptions<'_>) -> Registry {
        need("/usr/bin/docker-registry", "docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {}:{port}\n",
            dir.path().join("data").display(),
            o.addr
        );
        if let Some((cert, key)) = &o.tls {
            config += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
        }
        if let Some((user, pass)) = o.basic {
            need("htpasswd", "apache2-utils");
            let line = run(Command::new("htpasswd").args(["-Bbn", user, pass]));
            std::fs::write(dir.path().join("htpasswd"), line.trim()).unwrap();
            config += &format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                dir.path().join("htpasswd").display()
            );
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut r = Registry {
            port,
            addr: o.addr,
            child,
            dir,
        };
        r.wait_ready();
        r
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("docker-registry exited ({st}): {}", self.log());
            }
            if let Ok(mut s) = TcpStream::connect((self.addr, self.port)) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut head = [0u8; 12];
                if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `ADDRESS:PORT` (`127.0.0.1:PORT` by default).
    pub fn host(&self) -> String {
        format!("{}:{}", self.addr, self.port)
    }

    /// Push an image of `layers` with `config` (as
    /// [`layout::Layout::image_with_config`] builds it, in a temporary
    /// layout) here as `repo:tag`; its full name, `HOST/repo:tag`.
    pub fn push_image(
        &self,
        repo: &str,
        tag: &str,
        layers: &[(Vec<u8>, layout::Comp)],
        config: serde_json::Value,
    ) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut l = layout::Layout::new(&dir.path().join("layout"));
        let built = l.image_with_config(layers, config);
        l.tag(tag, &built.manifest);
        layout::push(&l, tag, &self.host(), repo, false);
        format!("{}/{repo}:{tag}", self.host())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skopeo copy` with TLS verification off for the loopback registry.
pub fn skopeo_copy(src: &str, dest: &str, extra: &[&str]) {
    need("skopeo", "skopeo");
    run(Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .args(extra)
        .args([src, dest]));
}

/// podman with its storage in `dir` (vfs: no mounts to clean up).
pub fn podman(dir: &tempfile::TempDir) -> Command {
    need("podman", "podman");
    let mut c = Command::new("podman");
    c.arg("--root").arg(dir.path().join("root"));
    c.arg("--runroot").arg(dir.path().join("runroot"));
    c.arg("--tmpdir").arg(dir.path().join("tmp"));
    c.arg("--network-config-dir")
        .arg(dir.path().join("networks"));
    c.args([
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "none",
    ]);
    c
}

/// A fresh store in a temporary directory.
pub fn store() -> (tempfile::TempDir, nook_image::Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = nook_image::Store::new(dir.path().join("store")).unwrap();
    (dir, store)
}

/// A client with no credentials.
pub fn client() -> nook_image::Client {
    client_with(nook_image::AuthConfig::default())
}

/// A client reading credentials per `auth`.
pub fn client_with(auth: nook_image::AuthConfig) -> nook_image::Client {
    nook_image::Client::new(nook_image::ClientOptions {
        auth,
        ..Default::default()
    })
}

/// The names of what is in the store's ingest directory.
pub fn ingest_files(store: &nook_image::Store) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.root().join("ingest"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A path inside a temporary directory.
pub fn tmp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// Progress events, recorded.
#[derive(Default)]
pub struct Recorder {
    pub events: std::sync::Mutex<Vec<String>>,
}

impl nook_image::Progress for Recorder {
    fn event(&self, e: nook_image::ProgressEvent<'_>) {
        use nook_image::ProgressEvent::*;
        let s = match e {
            AlreadyPresent { digest, size } => format!("present {digest} {size}"),
            Started {
                digest,
                size,
                offset,
            } => format!("started {digest} {size} {offset}"),
            Progress {
                digest,
                done,
                total,
            } => format!("progress {digest} {done} {total}"),
            Done { digest, size } => format!("done {digest} {size}"),
        };
        self.events.lock().unwrap().push(s);
    }
}

impl Recorder {
    /// Events of `kind` (the first word).
    pub fn of(&self, kind: &str) -> Vec<String> {
        let ev = self.events.lock().unwrap();
        ev.iter()
            .filter(|e| e.split(' ').next() == Some(kind))
            .cloned()
            .collect()
    }
}
