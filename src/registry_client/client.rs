//! One registry endpoint: the HTTP client (rustls, CA, proxy), the `/v2/` ping that
//! picks the scheme and learns the auth challenge, and `send`, which authorizes every
//! request and follows a Bearer challenge once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode, Url};

use super::auth::{Challenge, Credentials, Scope, TokenResponse};
use super::error::{error_body_text, transport, Error, Result};
/// http or https (the charm config's type: the registry serves one of them).
pub use crate::config::Scheme;
use crate::secret::Secret;

/// How to reach a registry.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Scheme to use; `None` tries https and, when `allow_plain_http`, falls back to
    /// http (what docker and skopeo do for insecure registries).
    pub scheme: Option<Scheme>,
    /// May fall back to plain http when `scheme` is `None`.
    pub allow_plain_http: bool,
    /// Extra CA certificates (PEM) trusted for this registry, on top of the system's.
    pub ca_pem: Option<String>,
    /// Verify the server's certificate (default true via [`ClientOptions::new`]).
    pub tls_verify: bool,
    /// Basic credentials (also sent to the token realm).
    pub credentials: Option<Credentials>,
    /// Proxy for http:// URLs.
    pub http_proxy: Option<String>,
    /// Proxy for https:// URLs.
    pub https_proxy: Option<String>,
    /// Ask tokens for push access (destinations) rather than pull only (sources).
    pub push: bool,
    /// What to tell the user when the registry wants credentials we do not have.
    pub credentials_hint: String,
    /// A client certificate and its key (one PEM text), presented when the registry
    /// demands client certificates.
    pub client_identity: Option<Secret>,
}

impl ClientOptions {
    /// Verified TLS, no credentials, no proxy.
    pub fn new() -> ClientOptions {
        ClientOptions {
            tls_verify: true,
            credentials_hint: "give credentials for it".to_string(),
            ..ClientOptions::default()
        }
    }
}

struct AuthState {
    challenge: Challenge,
    tokens: HashMap<String, String>,
}

/// A connected registry endpoint.
pub struct Client {
    pub(crate) http: reqwest::Client,
    host: String,
    base: Url,
    credentials: Option<Credentials>,
    credentials_hint: String,
    push: bool,
    auth: Mutex<AuthState>,
}

/// Whether a host is this machine (docker treats those as insecure-allowed).
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((n, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !n.ends_with(':') => n,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn build_http(host: &str, opts: &ClientOptions) -> Result<reqwest::Client> {
    // Our rustls uses ring (no C toolchain beyond ring's, static musl builds work);
    // installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let setup = |problem: String| Error::Setup {
        registry: host.to_string(),
        problem,
    };
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(120))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("docker-registry-charm/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = opts.ca_pem.as_deref().filter(|p| !p.trim().is_empty()) {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| setup(format!("the CA certificate is not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(setup("the CA PEM holds no certificate".into()));
        }
        b = b.tls_certs_merge(certs);
    }
    if !opts.tls_verify {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    if let Some(pem) = &opts.client_identity {
        // The error names no key material (it only says what did not parse).
        let identity = reqwest::Identity::from_pem(pem.expose().as_bytes())
            .map_err(|e| setup(format!("the client certificate cannot be used: {e}")))?;
        b = b.identity(identity);
    }
    let no_proxy = reqwest::NoProxy::from_string("localhost,127.0.0.1,::1");
    for (url, is_https) in [(&opts.http_proxy, false), (&opts.https_proxy, true)] {
        let Some(url) = url.as_deref().filter(|u| !u.is_empty()) else {
            continue;
        };
        let proxy = if is_https {
            reqwest::Proxy::https(url)
        } else {
            reqwest::Proxy::http(url)
        }
        .map_err(|e| setup(format!("proxy {url:?} is not a valid URL: {e}")))?;
        b = b.proxy(proxy.no_proxy(no_proxy.clone()));
    }
    b.build()
        .map_err(|e| setup(format!("cannot build the HTTP client: {e}")))
}

impl Client {
    /// Connects to `host` (`name[:port]`): pings `/v2/`, picks the scheme, records the
    /// auth challenge.
    pub async fn connect(host: &str, opts: ClientOptions) -> Result<Client> {
        let http = build_http(host, &opts)?;
        let schemes: &[Scheme] = match opts.scheme {
            Some(Scheme::Http) => &[Scheme::Http],
            Some(Scheme::Https) => &[Scheme::Https],
            None if opts.allow_plain_http => &[Scheme::Https, Scheme::Http],
            None => &[Scheme::Https],
        };
        let mut first_error = None;
        for scheme in schemes {
            let base = Url::parse(&format!("{}://{host}/", scheme.as_str())).map_err(|e| {
                Error::Setup {
                    registry: host.to_string(),
                    problem: format!("not a valid host: {e}"),
                }
            })?;
            let ping = base.join("v2/").map_err(|e| Error::Setup {
                registry: host.to_string(),
                problem: e.to_string(),
            })?;
            let resp = match http.get(ping).send().await {
                Ok(resp) => resp,
                Err(e) => {
                    first_error.get_or_insert(transport(host, &e));
                    continue;
                }
            };
            let challenge = match resp.status() {
                s if s.is_success() => Challenge::None,
                StatusCode::UNAUTHORIZED => resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|h| h.to_str().ok())
                    .and_then(Challenge::parse)
                    .unwrap_or(Challenge::Basic),
                s => {
                    first_error.get_or_insert(Error::Status {
                        registry: host.to_string(),
                        what: format!("GET {}://{host}/v2/", scheme.as_str()),
                        status: s.as_u16(),
                        detail: " (is this a container registry?)".to_string(),
                    });
                    continue;
                }
            };
            return Ok(Client {
                http,
                host: host.to_string(),
                base,
                credentials: opts.credentials,
                credentials_hint: opts.credentials_hint,
                push: opts.push,
                auth: Mutex::new(AuthState {
                    challenge,
                    tokens: HashMap::new(),
                }),
            });
        }
        // The first scheme's error says most (a TLS problem, not the 400 a TLS port
        // gives to plain http).
        Err(first_error.unwrap_or_else(|| Error::Unreachable {
            registry: host.to_string(),
            detail: "no scheme to try".into(),
        }))
    }

    /// The host (and port) this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `http` or `https`, as found by the ping.
    pub fn scheme(&self) -> &str {
        self.base.scheme()
    }

    /// Checks the credentials the way `docker login` does: `GET /v2/` with authorization
    /// (Basic, or a token fetched from the realm with them first). Ok when it answers 2xx;
    /// a registry without auth answers anonymously.
    pub async fn login(&self) -> Result<()> {
        let url = self.url("")?;
        let what = "GET /v2/ (login)";
        let resp = self.send(what, &[], || self.http.get(url.clone())).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.failure(what, resp).await)
    }

    /// `<scheme>://<host>/v2/<path>`
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        self.base
            .join(&format!("v2/{path}"))
            .map_err(|e| Error::Setup {
                registry: self.host.clone(),
                problem: format!("bad request path {path:?}: {e}"),
            })
    }

    /// Resolves a `Location` header (absolute or relative to the registry).
    pub(crate) fn resolve(&self, location: &str) -> Result<Url> {
        self.base.join(location).map_err(|e| Error::Status {
            registry: self.host.clone(),
            what: "upload".into(),
            status: 0,
            detail: format!(": bad Location {location:?}: {e}"),
        })
    }

    /// The scope for work on `repo`: push for destinations, pull for sources.
    pub(crate) fn scope(&self, repo: &str) -> Scope {
        if self.push {
            Scope::push(repo)
        } else {
            Scope::pull(repo)
        }
    }

    fn basic(&self) -> Option<HeaderValue> {
        use base64::Engine as _;
        let c = self.credentials.as_ref()?;
        let raw = format!("{}:{}", c.username, c.password.expose());
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        let mut h = HeaderValue::from_str(&v).ok()?;
        h.set_sensitive(true);
        Some(h)
    }

    async fn authorization(&self, scopes: &[Scope]) -> Result<Option<HeaderValue>> {
        let (challenge, key) = {
            let state = self.lock();
            let mut names: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
            names.sort();
            names.dedup();
            let key = names.join(" ");
            if let Some(t) = state.tokens.get(&key) {
                return Ok(bearer(t));
            }
            (state.challenge.clone(), key)
        };
        match challenge {
            Challenge::None => Ok(None),
            Challenge::Basic => Ok(self.basic()),
            Challenge::Bearer { realm, service, .. } => {
                let token = self.fetch_token(&realm, service.as_deref(), scopes).await?;
                let header = bearer(&token);
                self.lock().tokens.insert(key, token);
                Ok(header)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuthState> {
        // A poisoned lock only means another request panicked; the state is still valid.
        self.auth.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[Scope],
    ) -> Result<String> {
        let fail = |problem: String| Error::Token {
            registry: self.host.clone(),
            realm: realm.to_string(),
            problem,
        };
        let mut url =
            Url::parse(realm).map_err(|e| fail(format!("the realm is not a URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", &s.to_string());
            }
        }
        let mut req = self.http.get(url);
        if let Some(h) = self.basic() {
            req = req.header(AUTHORIZATION, h);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| fail(transport(realm, &e).to_string()))?;
        match resp.status() {
            s if s.is_success() => {
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| fail(transport(realm, &e).to_string()))?;
                let body: TokenResponse = serde_json::from_slice(&bytes)
                    .map_err(|e| fail(format!("the answer is not token JSON: {e}")))?;
                body.into_token()
                    .ok_or_else(|| fail("the answer has no token".into()))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(Error::Unauthorized {
                registry: self.host.clone(),
                what: format!("a token request to {realm}"),
                hint: self.auth_hint(),
            }),
            s => Err(fail(format!("HTTP {}", s.as_u16()))),
        }
    }

    fn auth_hint(&self) -> String {
        match &self.credentials {
            Some(c) => format!("the credentials of user {:?} were refused", c.username),
            None => format!("it needs credentials: {}", self.credentials_hint),
        }
    }

    /// Sends a request built by `build` with authorization for `scopes`; on a 401 with
    /// a Bearer challenge, fetches a token for the scope it names and retries once.
    pub(crate) async fn send(
        &self,
        what: &str,
        scopes: &[Scope],
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response> {
        let mut scopes = scopes.to_vec();
        for attempt in 0..2 {
            let mut req = build();
            if let Some(h) = self.authorization(&scopes).await? {
                req = req.header(AUTHORIZATION, h);
            }
            let resp = req.send().await.map_err(|e| transport(&self.host, &e))?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .and_then(Challenge::parse);
            let retry = match challenge {
                Some(Challenge::Bearer { scope, .. }) if attempt == 0 => {
                    if let Some(s) = scope {
                        scopes.push(Scope::raw(&s));
                    }
                    let mut state = self.lock();
                    if let Some(c) = challenge_of(&resp) {
                        state.challenge = c;
                    }
                    state.tokens.clear();
                    true
                }
                Some(Challenge::Basic) if attempt == 0 => {
                    let mut state = self.lock();
                    let changed = state.challenge != Challenge::Basic;
                    state.challenge = Challenge::Basic;
                    changed && self.credentials.is_some()
                }
                _ => false,
            };
            if !retry {
                break;
            }
        }
        Err(Error::Unauthorized {
            registry: self.host.clone(),
            what: what.to_string(),
            hint: self.auth_hint(),
        })
    }

    /// Sends a request that cannot be rebuilt (a streaming body) once, authorized.
    pub(crate) async fn send_once(
        &self,
        what: &str,
        scopes: &[Scope],
        mut req: RequestBuilder,
    ) -> Result<Response> {
        if let Some(h) = self.authorization(scopes).await? {
            req = req.header(AUTHORIZATION, h);
        }
        let resp = req.send().await.map_err(|e| transport(&self.host, &e))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized {
                registry: self.host.clone(),
                what: what.to_string(),
                hint: self.auth_hint(),
            });
        }
        Ok(resp)
    }

    /// Turns an unexpected answer into the most specific error.
    pub(crate) async fn failure(&self, what: &str, resp: Response) -> Error {
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        let text = error_body_text(&body);
        if text.to_ascii_lowercase().contains("no space left") {
            return Error::StorageFull {
                registry: self.host.clone(),
                what: what.to_string(),
            };
        }
        if status == StatusCode::NOT_FOUND {
            return Error::NotFound {
                registry: self.host.clone(),
                what: what.to_string(),
            };
        }
        let hint = match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                " (the registry refuses this operation: read-only mode, or deletes disabled)"
            }
            StatusCode::FORBIDDEN => " (the credentials do not allow this operation)",
            _ => "",
        };
        let detail = if text.is_empty() {
            hint.to_string()
        } else {
            format!(": {text}{hint}")
        };
        Error::Status {
            registry: self.host.clone(),
            what: what.to_string(),
            status: status.as_u16(),
            detail,
        }
    }
}

fn challenge_of(resp: &Response) -> Option<Challenge> {
    resp.headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .and_then(Challenge::parse)
}

fn bearer(token: &str) -> Option<HeaderValue> {
    let mut h = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    h.set_sensitive(true);
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "localhost",
            "127.0.0.2",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["10.0.0.1:5000", "registry.test", "[2001:db8::1]:5000"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
