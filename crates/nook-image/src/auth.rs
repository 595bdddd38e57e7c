//! Registry credentials in the `auth.json` format Podman, skopeo and
//! buildah use (the `auths` part of Docker's `config.json` is the same):
//! `{"auths": {"quay.io": {"auth": base64("user:pass")}}}`.
//!
//! Reading looks through a list of files in order (by default Podman's
//! `$XDG_RUNTIME_DIR/containers/auth.json`, then
//! `$XDG_CONFIG_HOME/containers/auth.json` and `~/.docker/config.json`)
//! and takes the most specific key that matches (`host/ns/repo` before
//! `host`), from the first file that has one.  Writing (`nook login`,
//! `nook logout`) changes one file, atomically (a 0600 temporary file in
//! the same directory, fsynced, renamed over it), keeping every other key.
//! Credential helpers (`credsStore`, `credHelpers`) are not run.

use crate::reference::DOCKER_HUB;
use crate::{Error, Result};
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// `base64(user:password)`, as in `auth.json` and a Basic header.
    pub fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }
}

/// Where credentials are read from and written to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// Files read, in order; the first with a matching key wins.  Missing
    /// files are skipped.
    pub read_paths: Vec<PathBuf>,
    /// The file `login`/`logout` change.
    pub write_path: PathBuf,
}

/// The environment [`AuthConfig::from_env`] reads, as values.
#[derive(Clone, Debug, Default)]
pub struct AuthEnv {
    /// `$REGISTRY_AUTH_FILE`: one file for reading and writing, first.
    pub registry_auth_file: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$DOCKER_CONFIG` (a directory holding `config.json`).
    pub docker_config: Option<PathBuf>,
    /// The user's id (for `/run/containers/<uid>` without XDG_RUNTIME_DIR).
    pub uid: u32,
}

impl AuthEnv {
    /// This process's environment.
    pub fn current() -> AuthEnv {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        AuthEnv {
            registry_auth_file: var("REGISTRY_AUTH_FILE"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            home: var("HOME"),
            docker_config: var("DOCKER_CONFIG"),
            uid: nix::unistd::getuid().as_raw(),
        }
    }
}

impl AuthConfig {
    /// Podman's search order for `env`.
    pub fn from_env(env: &AuthEnv) -> AuthConfig {
        let runtime = match &env.xdg_runtime_dir {
            Some(d) => d.join("containers/auth.json"),
            None => PathBuf::from(format!("/run/containers/{}/auth.json", env.uid)),
        };
        let write_path = env
            .registry_auth_file
            .clone()
            .unwrap_or_else(|| runtime.clone());
        let mut read_paths = vec![write_path.clone()];
        if write_path != runtime {
            read_paths.push(runtime);
        }
        if let Some(d) = env
            .xdg_config_home
            .clone()
            .or_else(|| env.home.as_ref().map(|h| h.join(".config")))
        {
            read_paths.push(d.join("containers/auth.json"));
        }
        if let Some(d) = env
            .docker_config
            .clone()
            .or_else(|| env.home.as_ref().map(|h| h.join(".docker")))
        {
            read_paths.push(d.join("config.json"));
        }
        AuthConfig {
            read_paths,
            write_path,
        }
    }

    /// One file for both reading and writing.
    pub fn file(path: impl Into<PathBuf>) -> AuthConfig {
        let path = path.into();
        AuthConfig {
            read_paths: vec![path.clone()],
            write_path: path,
        }
    }

    /// The credentials for `registry` (as named in references, e.g.
    /// `docker.io`) and, when given, `repository`: the most specific key
    /// of the first file that has one.
    pub fn lookup(&self, registry: &str, repository: Option<&str>) -> Result<Option<Credentials>> {
        let mut wanted = vec![registry.to_string()];
        if let Some(repo) = repository {
            let mut prefix = registry.to_string();
            for comp in repo.split('/') {
                prefix = format!("{prefix}/{comp}");
                wanted.push(prefix.clone());
            }
        }
        wanted.reverse();
        for path in &self.read_paths {
            let Some(auths) = read_auths(path)? else {
                continue;
            };
            for key in &wanted {
                let entry = auths.iter().find(|(k, _)| normalize_key(k) == *key);
                if let Some((_, v)) = entry {
                    if let Some(c) = decode_entry(path, key, v)? {
                        return Ok(Some(c));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Store `creds` for `key` (a registry, or `registry/namespace`) in
    /// [`AuthConfig::write_path`] (`nook login`).
    pub fn login(&self, key: &str, creds: &Credentials) -> Result<()> {
        let path = &self.write_path;
        let mut doc = read_doc(path)?.unwrap_or_else(|| Value::Object(Map::new()));
        let auths = auths_mut(path, &mut doc)?;
        auths.retain(|k, _| normalize_key(k) != normalize_key(key));
        auths.insert(
            key.to_string(),
            serde_json::json!({ "auth": creds.encoded() }),
        );
        write_doc(path, &doc)
    }

    /// Remove the credentials for `key` from [`AuthConfig::write_path`]
    /// (`nook logout`); false when there were none.
    pub fn logout(&self, key: &str) -> Result<bool> {
        let path = &self.write_path;
        let Some(mut doc) = read_doc(path)? else {
            return Ok(false);
        };
        let auths = auths_mut(path, &mut doc)?;
        let before = auths.len();
        auths.retain(|k, _| normalize_key(k) != normalize_key(key));
        if auths.len() == before {
            return Ok(false);
        }
        write_doc(path, &doc)?;
        Ok(true)
    }
}

/// A key as written by Podman (`quay.io`, `quay.io/org/repo`) or Docker
/// (`https://index.docker.io/v1/`), as a reference would name it.
fn normalize_key(key: &str) -> String {
    let key = key.trim_end_matches('/');
    let key = match key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        // Docker's legacy keys are URLs: only the host counts
        Some(url) => url.split('/').next().unwrap_or(url),
        None => key,
    };
    let (host, rest) = key
        .split_once('/')
        .map_or((key, None), |(h, r)| (h, Some(r)));
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
        h => h,
    };
    match rest {
        Some(r) => format!("{host}/{r}"),
        None => host.to_string(),
    }
}

fn file_err(path: &Path, message: impl ToString) -> Error {
    Error::AuthFile {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn read_doc(path: &Path) -> Result<Option<Value>> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_err(path, e)),
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(&data).map_err(|e| file_err(path, e))?;
    if !v.is_object() {
        return Err(file_err(path, "not a JSON object"));
    }
    Ok(Some(v))
}

fn read_auths(path: &Path) -> Result<Option<Map<String, Value>>> {
    let Some(doc) = read_doc(path)? else {
        return Ok(None);
    };
    match doc.get("auths") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(file_err(path, "\"auths\" is not an object")),
    }
}

fn auths_mut<'a>(path: &Path, doc: &'a mut Value) -> Result<&'a mut Map<String, Value>> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| file_err(path, "not a JSON object"))?;
    let auths = obj
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if auths.is_null() {
        *auths = Value::Object(Map::new());
    }
    auths
        .as_object_mut()
        .ok_or_else(|| file_err(path, "\"auths\" is not an object"))
}

fn decode_entry(path: &Path, key: &str, v: &Value) -> Result<Option<Credentials>> {
    let bad = |m: &str| file_err(path, format!("entry {key:?}: {m}"));
    let Some(auth) = v
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    else {
        // {"username", "password"} is an older spelling
        let user = v.get("username").and_then(Value::as_str);
        let pass = v.get("password").and_then(Value::as_str);
        return Ok(match (user, pass) {
            (Some(u), Some(p)) if !u.is_empty() => Some(Credentials {
                username: u.into(),
                password: p.into(),
            }),
            _ => None,
        });
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|e| bad(&format!("\"auth\" is not base64: {e}")))?;
    let raw = String::from_utf8(raw).map_err(|_| bad("\"auth\" is not UTF-8"))?;
    let (u, p) = raw
        .split_once(':')
        .ok_or_else(|| bad("\"auth\" is not user:password"))?;
    Ok(Some(Credentials {
        username: u.into(),
        password: p.trim_end_matches('\n').into(),
    }))
}

/// Replace `path` with `doc`, atomically, mode 0600.
fn write_doc(path: &Path, doc: &Value) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| file_err(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), unique()));
    let mut text = serde_json::to_vec_pretty(doc).map_err(|e| file_err(path, e))?;
    text.push(b'\n');
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        // whatever the umask, exactly 0600
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(file_err(path, e));
    }
    Ok(())
}

/// A number that differs between calls (nanoseconds and the thread), for
/// temporary names.
pub(crate) fn unique() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}{:?}", t.as_nanos(), std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn reads_podman_and_docker_keys() {
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("auth.json");
        let docker = dir.path().join("config.json");
        std::fs::write(
            &podman,
            r#"{"auths": {"quay.io": {"auth": "dTE6cDE="}, "quay.io/org/app": {"auth": "dTI6cDI="}}}"#,
        )
        .unwrap();
        std::fs::write(
            &docker,
            r#"{"auths": {"https://index.docker.io/v1/": {"auth": "aHViOnM6ZWNyZXQ="}, "quay.io": {"auth": "eDp5"}}, "credsStore": "x"}"#,
        )
        .unwrap();
        let cfg = AuthConfig {
            read_paths: vec![dir.path().join("missing"), podman, docker],
            write_path: "/x".into(),
        };
        assert_eq!(
            cfg.lookup("quay.io", Some("other/app")).unwrap(),
            Some(creds("u1", "p1"))
        );
        assert_eq!(
            cfg.lookup("quay.io", Some("org/app")).unwrap(),
            Some(creds("u2", "p2"))
        );
        // a password may hold ':'
        assert_eq!(
            cfg.lookup("docker.io", Some("library/busybox")).unwrap(),
            Some(creds("hub", "s:ecret"))
        );
        assert_eq!(cfg.lookup("ghcr.io", None).unwrap(), None);
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        std::fs::write(&p, r#"{"auths": {"quay.io": {"auth": "!!"}}}"#).unwrap();
        let e = AuthConfig::file(&p).lookup("quay.io", None).unwrap_err();
        assert!(matches!(e, Error::AuthFile { .. }));
        assert!(
            e.to_string().contains("auth.json") && e.to_string().contains("quay.io"),
            "{e}"
        );
        std::fs::write(&p, "{").unwrap();
        assert!(AuthConfig::file(&p).lookup("quay.io", None).is_err());
    }

    #[test]
    fn login_and_logout_keep_other_keys_and_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/auth.json");
        let cfg = AuthConfig::file(&p);
        assert!(!cfg.logout("quay.io").unwrap());
        cfg.login("quay.io", &creds("a", "b")).unwrap();
        cfg.login("127.0.0.1:5000", &creds("c", "d")).unwrap();
        cfg.login("quay.io", &creds("a", "new")).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            cfg.lookup("quay.io", None).unwrap(),
            Some(creds("a", "new"))
        );
        assert_eq!(
            cfg.lookup("127.0.0.1:5000", Some("x")).unwrap(),
            Some(creds("c", "d"))
        );
        assert!(cfg.logout("quay.io").unwrap());
        assert_eq!(cfg.lookup("quay.io", None).unwrap(), None);
        assert_eq!(
            cfg.lookup("127.0.0.1:5000", None).unwrap(),
            Some(creds("c", "d"))
        );
        // nothing but the file is left in its directory
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("auth.json")]);
    }

    #[test]
    fn default_paths_follow_podman() {
        let env = AuthEnv {
            xdg_runtime_dir: Some("/run/user/1000".into()),
            home: Some("/home/u".into()),
            uid: 1000,
            ..AuthEnv::default()
        };
        let cfg = AuthConfig::from_env(&env);
        assert_eq!(
            cfg.write_path,
            PathBuf::from("/run/user/1000/containers/auth.json")
        );
        assert_eq!(
            cfg.read_paths,
            vec![
                PathBuf::from("/run/user/1000/containers/auth.json"),
                PathBuf::from("/home/u/.config/containers/auth.json"),
                PathBuf::from("/home/u/.docker/config.json"),
            ]
        );
        let root = AuthConfig::from_env(&AuthEnv::default());
        assert_eq!(
            root.write_path,
            PathBuf::from("/run/containers/0/auth.json")
        );
    }
}
