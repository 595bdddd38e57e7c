//! `login` and `logout`: registry credentials checked against the registry
//! and kept in the `auth.json` that Podman and skopeo read (nook-image's
//! [`AuthConfig`](nook_image::AuthConfig) says which file).

use crate::{Engine, Error, Result};
use nook_image::reference::DOCKER_HUB;
use nook_image::Credentials;

/// The registry a `login`/`logout` argument names, as auth.json keys it:
/// Docker Hub (`docker.io`) when none; a URL's host; Docker Hub's other
/// names folded into `docker.io`.
pub fn registry_key(server: Option<&str>) -> Result<String> {
    let Some(server) = server else {
        return Ok(DOCKER_HUB.to_string());
    };
    let s = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = s.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
        return Err(Error::invalid("registry", server, "want a host[:port]"));
    }
    Ok(match host {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        h => h.to_string(),
    })
}

impl Engine {
    /// Check `creds` against `server` and store them; the key stored.
    pub fn login(&self, server: Option<&str>, creds: &Credentials) -> Result<String> {
        let key = registry_key(server)?;
        self.client().check_credentials(&key, creds)?;
        self.options.auth.login(&key, creds)?;
        Ok(key)
    }

    /// Remove the credentials for `server`; false when there were none.
    pub fn logout(&self, server: Option<&str>) -> Result<(String, bool)> {
        let key = registry_key(server)?;
        let removed = self.options.auth.logout(&key)?;
        Ok((key, removed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_keyed_as_podman_does() {
        assert_eq!(registry_key(None).unwrap(), "docker.io");
        assert_eq!(
            registry_key(Some("https://index.docker.io/v1/")).unwrap(),
            "docker.io"
        );
        assert_eq!(registry_key(Some("quay.io")).unwrap(), "quay.io");
        assert_eq!(
            registry_key(Some("127.0.0.1:5000")).unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            registry_key(Some("http://127.0.0.1:5000/v2/")).unwrap(),
            "127.0.0.1:5000"
        );
        assert!(registry_key(Some("")).is_err());
        assert!(registry_key(Some("a b")).is_err());
    }
}
