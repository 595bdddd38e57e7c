//! `WWW-Authenticate` challenges (RFC 7235 auth-params) and the bearer
//! tokens got for them, cached per realm, service and scope until shortly
//! before they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a registry wants requests authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// Basic credentials on every request.
    Basic,
    /// A token from `realm` (distribution's token auth).
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` to ask it for.
        service: Option<String>,
        /// The scope the challenge named, if any.
        scope: Option<String>,
    },
}

/// Parse a `WWW-Authenticate` header; `None` for a scheme nook does not
/// speak (or none).
pub fn parse(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `name=value` or `name="quoted, value"` pairs separated by commas.
fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if name.is_empty() {
            return out;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        out.push((name.trim().to_string(), value));
    }
}

/// (realm, service, scope)
type TokenKey = (String, String, String);

/// Bearer tokens by (realm, service, scope), with when they expire.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<TokenKey, (String, Instant)>>,
}

impl TokenCache {
    /// A token still valid for the key.
    pub fn get(&self, realm: &str, service: &str, scope: &str) -> Option<String> {
        let map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let (token, until) = map.get(&(realm.into(), service.into(), scope.into()))?;
        (Instant::now() < *until).then(|| token.clone())
    }

    /// Keep `token`, valid for `lifetime` (less a margin for clock and
    /// transit).
    pub fn put(&self, realm: &str, service: &str, scope: &str, token: String, lifetime: Duration) {
        let margin = Duration::from_secs(10).min(lifetime / 2);
        let until = Instant::now() + lifetime - margin;
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((realm.into(), service.into(), scope.into()), (token, until));
    }

    /// Forget the token for the key (the registry refused it).
    pub fn forget(&self, realm: &str, service: &str, scope: &str) {
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&(realm.into(), service.into(), scope.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
        let c = parse(
            r#"bearer realm=http://127.0.0.1:1/t, scope="a:b:pull,push", error="insufficient_scope""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: None,
                scope: Some("a:b:pull,push".into())
            })
        );
        assert_eq!(
            parse(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse("Negotiate"), None);
        assert_eq!(parse("Bearer service=x"), None);
    }

    #[test]
    fn tokens_expire() {
        let c = TokenCache::default();
        c.put("r", "s", "x", "t".into(), Duration::from_secs(60));
        assert_eq!(c.get("r", "s", "x").as_deref(), Some("t"));
        assert_eq!(c.get("r", "s", "y"), None);
        c.put("r", "s", "y", "t".into(), Duration::ZERO);
        assert_eq!(c.get("r", "s", "y"), None);
        c.forget("r", "s", "x");
        assert_eq!(c.get("r", "s", "x"), None);
    }
}
