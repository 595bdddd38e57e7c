//! A client for the OCI distribution API: `GET /v2/`, manifests by tag or
//! digest, blobs (with `Range` to resume), with distribution's bearer-token
//! flow and basic authentication.
//!
//! HTTP: `ureq` 3 — blocking, small, HTTP/1.1 with a connection pool;
//! parallel layer downloads are threads, each streaming its body straight
//! into the store's hasher and file, so there is no async runtime to carry
//! and no copy but the one from the socket buffer.  `oci-client` was not
//! chosen: it is async (tokio) and its blob API does not resume a partial
//! blob with a `Range` request, which the store needs.
//!
//! TLS: rustls (ring) with the roots of the OS certificate store, through
//! `rustls-platform-verifier`: a CA that an administrator adds to the
//! system store (a private registry's) is trusted, as Docker and Podman
//! trust it, which compiled-in webpki roots would not do.  Plain HTTP is
//! tried (after HTTPS fails to connect) only for loopback registries
//! (`localhost`, `127.0.0.0/8`, `::1`) and those the caller marks
//! insecure; for the latter TLS certificates are not verified either.

pub mod challenge;

use crate::auth::{AuthConfig, Credentials};
use crate::digest::{self, verify_bytes};
use crate::manifest::{media, parse_document, Document, MAX_DOCUMENT};
use crate::reference::{api_host, Reference};
use crate::{Error, Result};
use challenge::{Challenge, TokenCache};
use oci_spec::image::Digest;
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use ureq::http::Response;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::{Agent, Body};

/// How long an HTTPS probe of a registry that may be plain HTTP waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How the client reaches registries.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Registries (as named in references, `host[:port]`) reached over
    /// plain HTTP or unverified TLS.
    pub insecure_registries: Vec<String>,
    /// Where credentials are read from.
    pub auth: AuthConfig,
    /// The `User-Agent` sent.
    pub user_agent: String,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long a read may wait for data before the transfer fails.
    pub read_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            insecure_registries: Vec::new(),
            auth: AuthConfig::default(),
            user_agent: format!("nook/{}", env!("CARGO_PKG_VERSION")),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// A manifest or index as fetched and verified.
#[derive(Clone, Debug)]
pub struct FetchedManifest {
    /// Its digest (verified).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its bytes, as served.
    pub bytes: Vec<u8>,
    /// Parsed.
    pub document: Document,
}

/// A blob's body, from `offset` on.
pub struct BlobStream {
    /// Where in the blob the body starts (0 when the registry ignored the
    /// `Range` asked for).
    pub offset: u64,
    /// The body's length, when the registry said.
    pub length: Option<u64>,
    /// The body.
    pub reader: Box<dyn Read + Send>,
}

/// A registry's base URL and how it authenticates.
struct Endpoint {
    base: String,
    verify_tls: bool,
    challenge: Mutex<Option<Challenge>>,
}

/// The registry client; one is shared by the threads of a pull.
pub struct Client {
    options: ClientOptions,
    agent: Agent,
    unverified: OnceLock<Agent>,
    endpoints: Mutex<HashMap<String, Arc<Endpoint>>>,
    credentials: Mutex<HashMap<String, Option<Credentials>>>,
    tokens: TokenCache,
}

fn new_agent(o: &ClientOptions, verify: bool) -> Agent {
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::PlatformVerifier)
        .disable_verification(!verify)
        .build();
    Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(o.user_agent.as_str())
        .timeout_connect(Some(o.connect_timeout))
        .timeout_per_read(Some(o.read_timeout))
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
        .input_buffer_size(512 << 10)
        .max_idle_connections_per_host(8)
        .tls_config(tls)
        .build()
        .into()
}

fn transport(url: &str) -> impl FnOnce(ureq::Error) -> Error + '_ {
    move |e| Error::Transport {
        url: url.to_string(),
        message: describe(&e),
    }
}

/// A transport error as a person can act on it: the two TLS failures
/// people meet with private registries say what to do.
fn describe(e: &ureq::Error) -> String {
    let text = e.to_string();
    if text.contains("InvalidContentType") || text.contains("corrupt message") {
        "the server does not speak HTTPS (plain HTTP is used only for a registry \
         given with --insecure-registry)"
            .to_string()
    } else if let Some(why) = text.split("invalid peer certificate: ").nth(1) {
        format!(
            "its TLS certificate is not trusted ({why}): add its CA to the system's \
             roots, or give the registry with --insecure-registry"
        )
    } else {
        text
    }
}

/// Whether `registry` (`host[:port]`) is on this machine's loopback.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(r) => r.split(']').next().unwrap_or(""),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

impl Client {
    /// A client with `options`.
    pub fn new(options: ClientOptions) -> Client {
        Client {
            agent: new_agent(&options, true),
            options,
            unverified: OnceLock::new(),
            endpoints: Mutex::new(HashMap::new()),
            credentials: Mutex::new(HashMap::new()),
            tokens: TokenCache::default(),
        }
    }

    /// The options the client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    fn insecure(&self, registry: &str) -> bool {
        self.options
            .insecure_registries
            .iter()
            .any(|r| r == registry)
    }

    /// The schemes tried for `registry`, in order: plain HTTP only after
    /// HTTPS, and only for loopback and insecure registries.
    fn schemes(&self, registry: &str) -> &'static [&'static str] {
        if self.insecure(registry) || is_loopback(registry) {
            &["https", "http"]
        } else {
            &["https"]
        }
    }

    fn agent_for(&self, ep: &Endpoint) -> &Agent {
        if ep.verify_tls {
            &self.agent
        } else {
            self.unverified
                .get_or_init(|| new_agent(&self.options, false))
        }
    }

    /// Check that `registry` speaks the distribution API (`GET /v2/`),
    /// learning its scheme and how it authenticates.
    pub fn ping(&self, registry: &str) -> Result<()> {
        self.endpoint(registry).map(drop)
    }

    /// Check `creds` against `registry` as `docker login` does: a basic-auth
    /// registry must accept them on `/v2/`, a token server must give a
    /// token for them; a registry that asks for no credentials accepts any.
    /// An [`Error::Auth`] when they are refused.
    pub fn check_credentials(&self, registry: &str, creds: &Credentials) -> Result<()> {
        let ep = self.endpoint(registry)?;
        let challenge = ep
            .challenge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match challenge {
            None => Ok(()),
            Some(Challenge::Basic) => {
                let url = format!("{}/v2/", ep.base);
                let resp = self
                    .agent_for(&ep)
                    .get(&url)
                    .header("Authorization", format!("Basic {}", creds.encoded()))
                    .call()
                    .map_err(transport(&url))?;
                match resp.status().as_u16() {
                    200..=299 => Ok(()),
                    s @ (401 | 403) => Err(Error::Auth {
                        registry: registry.to_string(),
                        message: format!("the registry refused the credentials: HTTP {s}"),
                    }),
                    s => Err(http_error(&url, s, resp)),
                }
            }
            Some(Challenge::Bearer { realm, service, .. }) => {
                let service = service.unwrap_or_default();
                self.fetch_token(registry, &realm, &service, "", Some(creds))
                    .map(drop)
            }
        }
    }

    fn endpoint(&self, registry: &str) -> Result<Arc<Endpoint>> {
        if let Some(ep) = self
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(registry)
        {
            return Ok(ep.clone());
        }
        let host = api_host(registry);
        let insecure = self.insecure(registry);
        let schemes = self.schemes(registry);
        let mut failures = Vec::new();
        for (i, scheme) in schemes.iter().enumerate() {
            let ep = Endpoint {
                base: format!("{scheme}://{host}"),
                verify_tls: !insecure,
                challenge: Mutex::new(None),
            };
            let url = format!("{}/v2/", ep.base);
            // a plain-HTTP server may never answer a TLS hello: when there
            // is a fallback, the HTTPS probe waits only briefly
            let wait = match i + 1 < schemes.len() {
                true => self.options.read_timeout.min(PROBE_TIMEOUT),
                false => self.options.read_timeout,
            };
            let req = self
                .agent_for(&ep)
                .get(&url)
                .config()
                .timeout_per_read(Some(wait))
                .build();
            let resp = match req.call() {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{scheme}: {}", describe(&e)));
                    continue;
                }
            };
            match resp.status().as_u16() {
                200..=299 => {}
                401 => {
                    *ep.challenge.lock().unwrap_or_else(|p| p.into_inner()) =
                        www_authenticate(&resp)
                }
                status => return Err(http_error(&url, status, resp)),
            }
            let ep = Arc::new(ep);
            self.endpoints
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(registry.to_string(), ep.clone());
            return Ok(ep);
        }
        Err(Error::Transport {
            url: format!("{registry}/v2/"),
            message: failures.join("; "),
        })
    }

    fn creds(&self, registry: &str, repository: Option<&str>) -> Result<Option<Credentials>> {
        let key = format!("{registry}/{}", repository.unwrap_or(""));
        if let Some(c) = self
            .credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(c.clone());
        }
        let c = self.options.auth.lookup(registry, repository)?;
        self.credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, c.clone());
        Ok(c)
    }

    /// The `Authorization` header for a request to `repository`, fetching
    /// a token when the registry wants one (a fresh one when `fresh`).
    fn authorization(
        &self,
        registry: &str,
        ep: &Endpoint,
        repository: &str,
        fresh: bool,
    ) -> Result<Option<String>> {
        let challenge = ep
            .challenge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let creds = self.creds(registry, Some(repository))?;
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(creds.map(|c| format!("Basic {}", c.encoded()))),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let scope = format!("repository:{repository}:pull");
                let service = service.unwrap_or_default();
                if fresh {
                    self.tokens.forget(&realm, &service, &scope);
                } else if let Some(t) = self.tokens.get(&realm, &service, &scope) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let token = self.fetch_token(registry, &realm, &service, &scope, creds.as_ref())?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn fetch_token(
        &self,
        registry: &str,
        realm: &str,
        service: &str,
        scope: &str,
        creds: Option<&Credentials>,
    ) -> Result<String> {
        let auth_err = |m: String| Error::Auth {
            registry: registry.to_string(),
            message: m,
        };
        let realm_host = realm
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        let https = realm.starts_with("https://");
        if !https
            && !(realm.starts_with("http://")
                && (is_loopback(realm_host) || self.insecure(realm_host)))
        {
            return Err(auth_err(format!(
                "token realm {realm:?} is not an https URL"
            )));
        }
        // no scope: a login check (the token server only checks the
        // credentials)
        let mut query = Vec::new();
        if !scope.is_empty() {
            query.push(format!("scope={}", encode(scope)));
        }
        if !service.is_empty() {
            query.push(format!("service={}", encode(service)));
        }
        if let (true, Some(c)) = (scope.is_empty(), creds) {
            query.push(format!("account={}", encode(&c.username)));
        }
        let sep = if realm.contains('?') { '&' } else { '?' };
        let url = match query.is_empty() {
            true => realm.to_string(),
            false => format!("{realm}{sep}{}", query.join("&")),
        };
        let mut req = self.agent.get(&url);
        if let Some(c) = creds {
            req = req.header("Authorization", format!("Basic {}", c.encoded()));
        }
        let resp = req.call().map_err(transport(&url))?;
        match resp.status().as_u16() {
            200 => {}
            s @ (401 | 403) => {
                let why = if creds.is_some() {
                    "refused the credentials"
                } else {
                    "wants credentials (nook login)"
                };
                return Err(auth_err(format!("token server {realm} {why}: HTTP {s}")));
            }
            s => return Err(http_error(&url, s, resp)),
        }
        let body = read_limited(resp.into_body(), 1 << 20).map_err(|m| Error::Transport {
            url: url.clone(),
            message: m,
        })?;
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Error::invalid("token response", realm, e))?;
        let token = t.token.or(t.access_token).filter(|t| !t.is_empty());
        let token = token.ok_or_else(|| Error::invalid("token response", realm, "no token"))?;
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(60).max(60));
        self.tokens
            .put(realm, service, scope, token.clone(), lifetime);
        Ok(token)
    }

    /// GET `path` in `repository` on `registry`, authenticated; once more
    /// after a 401 that (re)sets the challenge or wants a fresh token.
    fn get(
        &self,
        registry: &str,
        repository: &str,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<(String, Response<Body>)> {
        let ep = self.endpoint(registry)?;
        let url = format!("{}/v2/{repository}/{path}", ep.base);
        for attempt in 0..2 {
            let mut req = self.agent_for(&ep).get(&url);
            if let Some(a) = self.authorization(registry, &ep, repository, attempt > 0)? {
                req = req.header("Authorization", a);
            }
            for (k, v) in headers {
                req = req.header(*k, v.as_str());
            }
            let resp = req.call().map_err(transport(&url))?;
            if resp.status().as_u16() != 401 {
                return Ok((url, resp));
            }
            let new = www_authenticate(&resp);
            let had = std::mem::replace(
                &mut *ep.challenge.lock().unwrap_or_else(|p| p.into_inner()),
                new.clone(),
            );
            if attempt == 0
                && (new.is_some() && new != had || matches!(new, Some(Challenge::Bearer { .. })))
            {
                continue;
            }
            let have_creds = self.creds(registry, Some(repository))?.is_some();
            let message = if have_creds {
                format!("{url}: the registry refused the credentials (HTTP 401)")
            } else {
                format!("{url}: the registry wants credentials (HTTP 401); log in first")
            };
            return Err(Error::Auth {
                registry: registry.to_string(),
                message,
            });
        }
        unreachable!("the loop returns on its second pass")
    }

    /// The manifest or index `reference` names (its digest when it has
    /// one, else its tag), verified.
    pub fn manifest(&self, reference: &Reference) -> Result<FetchedManifest> {
        self.get_manifest(
            &reference.registry,
            &reference.repository,
            &reference.manifest_ref(),
        )
    }

    /// The manifest or index `tag_or_digest` in `repository`, verified:
    /// against the digest when asked by digest, else against the registry's
    /// `Docker-Content-Digest`, when it sends one.
    pub fn get_manifest(
        &self,
        registry: &str,
        repository: &str,
        tag_or_digest: &str,
    ) -> Result<FetchedManifest> {
        let by_digest = match tag_or_digest.contains(':') {
            true => Some(digest::parse("manifest digest", tag_or_digest)?),
            false => None,
        };
        let (url, resp) = self.get(
            registry,
            repository,
            &format!("manifests/{tag_or_digest}"),
            &[("Accept", media::ACCEPT.into())],
        )?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(http_error(&url, status, resp));
        }
        let header = |k: &str| {
            resp.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (content_type, served_digest) =
            (header("content-type"), header("docker-content-digest"));
        let bytes = read_limited(resp.into_body(), MAX_DOCUMENT).map_err(|m| Error::Transport {
            url: url.clone(),
            message: m,
        })?;
        let digest = match (
            by_digest,
            served_digest.and_then(|d| digest::parse("digest", &d).ok()),
        ) {
            (Some(d), _) | (None, Some(d)) => {
                verify_bytes(&d, None, &bytes)?;
                d
            }
            (None, None) => digest::sha256(&bytes),
        };
        let (media_type, document) = parse_document(
            &format!("{registry}/{repository}@{digest}"),
            content_type.as_deref(),
            &bytes,
        )?;
        Ok(FetchedManifest {
            digest,
            media_type,
            bytes,
            document,
        })
    }

    /// The blob `digest` in `repository`, from `offset` on (a `Range`
    /// request; the answer says where it really starts).
    pub fn blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
        offset: u64,
    ) -> Result<BlobStream> {
        let path = format!("blobs/{digest}");
        let range = [("Range", format!("bytes={offset}-"))];
        let headers: &[(&str, String)] = if offset > 0 { &range } else { &[] };
        let (url, resp) = self.get(registry, repository, &path, headers)?;
        let status = resp.status().as_u16();
        let start = match status {
            200 => 0,
            206 => {
                let cr = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let start = cr
                    .strip_prefix("bytes ")
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.parse().ok());
                match start {
                    Some(s) if s == offset => s,
                    _ => {
                        return Err(Error::Transport {
                            url,
                            message: format!("bad Content-Range {cr:?} for a Range from {offset}"),
                        })
                    }
                }
            }
            // the partial content is the whole blob or more: start again
            416 if offset > 0 => return self.blob(registry, repository, digest, 0),
            _ => return Err(http_error(&url, status, resp)),
        };
        let length = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok(BlobStream {
            offset: start,
            length,
            reader: Box::new(resp.into_body().into_reader()),
        })
    }
}

fn www_authenticate(resp: &Response<Body>) -> Option<Challenge> {
    resp.headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(challenge::parse)
}

/// Percent-encode a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Read a body of at most `limit` bytes.
fn read_limited(body: Body, limit: u64) -> std::result::Result<Vec<u8>, String> {
    if body.content_length().is_some_and(|n| n > limit) {
        return Err(format!(
            "response of {} bytes is over the limit of {limit}",
            body.content_length().unwrap_or(0)
        ));
    }
    let mut out = Vec::new();
    body.into_reader()
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > limit {
        return Err(format!("response is over the limit of {limit} bytes"));
    }
    Ok(out)
}

/// An [`Error::Http`] with the registry's own error message when it gave
/// one (`{"errors": [{"code", "message"}]}`).
fn http_error(url: &str, status: u16, resp: Response<Body>) -> Error {
    let reason = resp.status().canonical_reason().unwrap_or("").to_string();
    let body = read_limited(resp.into_body(), 64 << 10).unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<serde_json::Value>,
    }
    let from_registry = serde_json::from_slice::<Errors>(&body).ok().map(|e| {
        let parts: Vec<String> = e
            .errors
            .iter()
            .map(|e| {
                let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                format!("{code}: {msg}")
            })
            .collect();
        parts.join("; ")
    });
    let message = from_registry
        .filter(|m| !m.is_empty())
        .unwrap_or(reason)
        .replace('\n', " ");
    Error::Http {
        url: url.to_string(),
        status,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries() {
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.3.2.1",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "docker.io",
            "10.0.0.1:5000",
            "[fc00::1]:5000",
            "localhost.example.com",
            "128.0.0.1",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn plain_http_only_for_loopback_and_insecure_registries() {
        let c = Client::new(ClientOptions {
            insecure_registries: vec!["10.1.2.3:5000".into()],
            ..Default::default()
        });
        assert_eq!(c.schemes("docker.io"), ["https"]);
        assert_eq!(c.schemes("10.1.2.4:5000"), ["https"]);
        assert_eq!(c.schemes("10.1.2.3:5000"), ["https", "http"]);
        assert_eq!(c.schemes("127.0.0.1:5000"), ["https", "http"]);
        assert_eq!(c.schemes("[::1]:5000"), ["https", "http"]);
    }

    #[test]
    fn query_encoding() {
        assert_eq!(
            encode("repository:library/busybox:pull"),
            "repository%3Alibrary%2Fbusybox%3Apull"
        );
    }
}
