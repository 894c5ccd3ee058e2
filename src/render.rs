//! Renders the registry's `config.yml` from the typed config and the files the charm wrote.
//!
//! The template (`templates/config.yml.hbs`) is embedded in the binary. Handlebars runs in
//! strict mode (a typo in a variable name is an error, not an empty string) without HTML
//! escaping; every string value goes through the `yaml` helper instead.

use std::path::{Path, PathBuf};

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde::Serialize;
use serde_json::Value;

use crate::config::{Auth, Cache, CharmConfig, Secret, Storage};
use crate::secret;

/// Host path of the rendered registry config.
pub const CONFIG_PATH: &str = "/etc/docker/registry/config.yml";
/// Host path of the htpasswd file (basic auth).
pub const HTPASSWD_PATH: &str = "/etc/docker/registry/htpasswd";
/// Host path of the token auth root certificate bundle.
pub const TOKEN_PEM_PATH: &str = "/etc/docker/registry/auth_token.pem";
/// Host path of the CA bundle client certificates must chain to (`tls-client-ca`).
pub const CLIENT_CA_PATH: &str = "/etc/docker/registry/client-ca.crt";
/// Host path of this unit's own client certificate, listed in `clientcas` next to the
/// client CA so the charm's probe and actions are let in (see `tls::client`).
pub const CHARM_CLIENT_CERT_PATH: &str = "/etc/docker/registry/charm-client.crt";
/// Filesystem storage root: the host path the Python charm mounted, so data survives a switch.
pub const STORAGE_ROOT: &str = "/srv/registry";

const TEMPLATE: &str = include_str!("../templates/config.yml.hbs");

/// How long a stopping registry lets requests in flight finish. Without it the registry
/// dies of SIGTERM at once, cutting every request a restart catches; with it, it stops
/// accepting (haproxy sends new requests to other units) and exits 0 once they are done.
/// Measured under load on jujusim: blob uploads to Swift took over 5 s, and a 5 s drain
/// cut them (haproxy answered 502). Shorter than the service's stop timeout (30 s),
/// after which it is killed anyway; an idle registry stops at once.
pub const DRAIN_TIMEOUT: &str = "25s";

/// What the swift driver's temp-URL key is derived for (from the shared http secret).
const SWIFT_TEMPURL_PURPOSE: &str = "docker-registry swift temp-url key";

/// Server certificate and key paths, given when TLS is on.
#[derive(Debug, Clone, Copy)]
pub struct TlsFiles<'a> {
    /// Certificate chain file (`tls-cert-path`).
    pub cert: &'a Path,
    /// Private key file (`tls-key-path`).
    pub key: &'a Path,
    /// The files of `clientcas` (CA bundles, or certificates trusted as they are), when
    /// the registry demands client certificates; empty otherwise.
    pub client_cas: &'a [PathBuf],
}

/// Everything `config.yml` depends on.
#[derive(Debug, Clone, Copy)]
pub struct RegistryConfigInputs<'a> {
    /// The validated charm config.
    pub config: &'a CharmConfig,
    /// Application name: the basic-auth realm.
    pub app_name: &'a str,
    /// Shared `http.secret` from the leader, once set.
    pub http_secret: Option<&'a Secret>,
    /// TLS files when TLS is on.
    pub tls: Option<TlsFiles<'a>>,
    /// htpasswd file; required when basic auth is on.
    pub htpasswd_path: Option<&'a Path>,
    /// Token root-certificate bundle; required when token auth is on.
    pub token_pem_path: Option<&'a Path>,
    /// Filesystem storage root (normally [`STORAGE_ROOT`]).
    pub storage_root: &'a Path,
    /// Port the registry listens on (normally `registry-port`).
    pub listen_port: u16,
}

/// Why the config could not be rendered (a charm bug, not an operator mistake).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An input needed by the config is missing.
    #[error("cannot render config.yml: {0} is missing")]
    MissingInput(&'static str),
    /// A path is not UTF-8 and cannot be written into YAML.
    #[error("cannot render config.yml: path {0:?} is not UTF-8")]
    NonUtf8Path(PathBuf),
    /// The embedded template does not parse.
    #[error("config.yml template does not parse: {0}")]
    Template(Box<handlebars::TemplateError>),
    /// Rendering failed (e.g. a variable missing in strict mode).
    #[error("cannot render config.yml: {0}")]
    Render(Box<handlebars::RenderError>),
}

#[derive(Serialize)]
struct View {
    log_level: &'static str,
    storage: StorageView,
    auth: AuthView,
    http: HttpView,
    proxy: Option<ProxyView>,
}

#[derive(Serialize)]
struct StorageView {
    filesystem: Option<FilesystemView>,
    s3: Option<S3View>,
    swift: Option<SwiftView>,
    cache_inmemory: bool,
    delete: bool,
    readonly: bool,
    redirect_disable: bool,
}

#[derive(Serialize)]
struct FilesystemView {
    rootdirectory: String,
}

#[derive(Serialize)]
struct S3View {
    region: String,
    bucket: String,
    accesskey: Option<String>,
    secretkey: Option<String>,
    regionendpoint: Option<String>,
    forcepathstyle: bool,
    encrypt: bool,
    keyid: Option<String>,
    secure: bool,
    skipverify: bool,
    v4auth: bool,
    chunksize: u64,
    multipartcopychunksize: u64,
    multipartcopymaxconcurrency: u64,
    multipartcopythresholdsize: u64,
    rootdirectory: Option<String>,
    storageclass: String,
    useragent: Option<String>,
    usedualstack: bool,
    accelerate: bool,
    objectacl: String,
    loglevel: String,
}

#[derive(Serialize)]
struct SwiftView {
    authurl: String,
    username: String,
    password: String,
    container: String,
    secretkey: Option<String>,
    region: Option<String>,
    tenant: Option<String>,
    domain: Option<String>,
}

#[derive(Serialize)]
struct AuthView {
    htpasswd: Option<HtpasswdView>,
    token: Option<TokenView>,
}

#[derive(Serialize)]
struct HtpasswdView {
    realm: String,
    path: String,
}

#[derive(Serialize)]
struct TokenView {
    realm: String,
    service: String,
    issuer: String,
    rootcertbundle: String,
}

#[derive(Serialize)]
struct HttpView {
    addr: String,
    draintimeout: &'static str,
    host: Option<String>,
    secret: Option<String>,
    tls: Option<TlsView>,
    debug: Option<DebugView>,
}

#[derive(Serialize)]
struct TlsView {
    certificate: String,
    key: String,
    clientcas: Vec<String>,
}

#[derive(Serialize)]
struct DebugView {
    addr: String,
}

#[derive(Serialize)]
struct ProxyView {
    remoteurl: String,
    username: Option<String>,
    password: Option<String>,
}

/// Where the registry's debug server listens: loopback, at `debug-port`. It serves pprof
/// and expvar beside `/metrics`; the charm's metrics proxy exposes `/metrics` alone on the
/// ingress address (B27, docs/python-charm-bugs.md#b27).
pub fn debug_addr(config: &CharmConfig) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], config.debug_port))
}

fn path_str(p: &Path) -> Result<String, RenderError> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| RenderError::NonUtf8Path(p.to_path_buf()))
}

fn view(inputs: &RegistryConfigInputs<'_>) -> Result<View, RenderError> {
    let cfg = inputs.config;
    let storage = StorageView {
        filesystem: match cfg.storage {
            Storage::Filesystem => Some(FilesystemView {
                rootdirectory: path_str(inputs.storage_root)?,
            }),
            _ => None,
        },
        s3: match &cfg.storage {
            Storage::S3(s) => Some(S3View {
                region: s.region.clone(),
                bucket: s.bucket.clone(),
                accesskey: s.access_key.as_ref().map(|k| k.expose().to_string()),
                secretkey: s.secret_key.as_ref().map(|k| k.expose().to_string()),
                regionendpoint: s.region_endpoint.clone(),
                forcepathstyle: s.force_path_style,
                encrypt: s.encrypt,
                keyid: s.key_id.clone(),
                secure: s.secure,
                skipverify: s.skip_verify,
                v4auth: s.v4auth,
                chunksize: s.chunk_size,
                multipartcopychunksize: s.multipart_copy_chunk_size,
                multipartcopymaxconcurrency: s.multipart_copy_max_concurrency,
                multipartcopythresholdsize: s.multipart_copy_threshold_size,
                rootdirectory: s.root_directory.clone(),
                storageclass: s.storage_class.clone(),
                useragent: s.user_agent.clone(),
                usedualstack: s.use_dual_stack,
                accelerate: s.accelerate,
                objectacl: s.object_acl.clone(),
                loglevel: s.log_level.clone(),
            }),
            _ => None,
        },
        swift: match &cfg.storage {
            Storage::Swift(s) => Some(SwiftView {
                authurl: s.auth_url.as_str().to_string(),
                username: s.username.clone(),
                password: s.password.expose().to_string(),
                container: s.container.clone(),
                // The temp-URL key the driver sets on the container: derived from the
                // shared secret, so every unit renders the same one. A unit with another
                // key would overwrite it and break the others' redirect URLs.
                secretkey: inputs.http_secret.map(|s| {
                    secret::derive(s, SWIFT_TEMPURL_PURPOSE)
                        .expose()
                        .to_string()
                }),
                region: s.region.clone(),
                tenant: s.tenant.clone(),
                domain: s.domain.clone(),
            }),
            _ => None,
        },
        cache_inmemory: cfg.storage_cache == Cache::InMemory,
        delete: cfg.storage_delete,
        readonly: cfg.storage_read_only,
        redirect_disable: cfg.storage_redirect_disable,
    };
    let auth = match &cfg.auth {
        Auth::None => AuthView {
            htpasswd: None,
            token: None,
        },
        Auth::Basic { .. } => AuthView {
            htpasswd: Some(HtpasswdView {
                realm: inputs.app_name.to_string(),
                path: path_str(inputs.htpasswd_path.ok_or(RenderError::MissingInput(
                    "htpasswd path (basic auth is on)",
                ))?)?,
            }),
            token: None,
        },
        Auth::Token {
            issuer,
            realm,
            service,
            ..
        } => AuthView {
            htpasswd: None,
            token: Some(TokenView {
                realm: realm.clone(),
                service: service.clone(),
                issuer: issuer.clone(),
                rootcertbundle: path_str(inputs.token_pem_path.ok_or(
                    RenderError::MissingInput("token root cert path (token auth is on)"),
                )?)?,
            }),
        },
    };
    let http = HttpView {
        addr: format!(":{}", inputs.listen_port),
        draintimeout: DRAIN_TIMEOUT,
        host: cfg.http_host.as_ref().map(|u| u.as_str().to_string()),
        secret: inputs.http_secret.map(|s| s.expose().to_string()),
        tls: match inputs.tls {
            Some(t) => Some(TlsView {
                certificate: path_str(t.cert)?,
                key: path_str(t.key)?,
                clientcas: t
                    .client_cas
                    .iter()
                    .map(|p| path_str(p))
                    .collect::<Result<_, _>>()?,
            }),
            None => None,
        },
        debug: cfg.prometheus_metrics.then(|| DebugView {
            addr: debug_addr(cfg).to_string(),
        }),
    };
    let proxy = cfg.proxy.as_ref().map(|p| ProxyView {
        remoteurl: p.remote_url.as_str().to_string(),
        username: p.username.clone(),
        password: p.password.as_ref().map(|s| s.expose().to_string()),
    });
    Ok(View {
        log_level: cfg.log_level.as_str(),
        storage,
        auth,
        http,
        proxy,
    })
}

/// Quotes `s` as a YAML double-quoted scalar.
///
/// Escapes everything that is not printable in YAML (controls, DEL, C1, BOM) and the
/// Unicode line separators YAML 1.1 parsers (distribution uses go-yaml v2) treat as breaks.
pub fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `{{yaml v}}`: a string as a quoted scalar; numbers and booleans as plain scalars.
fn yaml_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let param = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("yaml", 0))?;
    let text = match param.value() {
        Value::String(s) => yaml_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(RenderErrorReason::InvalidParamType(if other.is_null() {
                "yaml: null value"
            } else {
                "yaml: a list or object"
            })
            .into())
        }
    };
    out.write(&text)?;
    Ok(())
}

/// Renders `config.yml`.
pub fn render_registry_config(inputs: &RegistryConfigInputs<'_>) -> Result<String, RenderError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper("yaml", Box::new(yaml_helper));
    hb.register_template_string("config", TEMPLATE)
        .map_err(|e| RenderError::Template(Box::new(e)))?;
    let view = view(inputs)?;
    hb.render("config", &view)
        .map_err(|e| RenderError::Render(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_quote_round_trips_tricky_strings() {
        for s in [
            "plain",
            "a\"b",
            "c:d #e",
            "line1\nline2",
            "tab\there",
            "back\\slash",
            "\u{7f}\u{85}\u{2028}bom\u{feff}",
            "'single'",
            "- dash",
            "yes",
            "null",
            "{[&*!|>%@`]}",
            "ünïcödé 🦀",
            "\u{1}\u{1b}",
        ] {
            let doc = format!("k: {}\n", yaml_quote(s));
            let v: serde_yaml::Value = serde_yaml::from_str(&doc).unwrap();
            assert_eq!(v["k"].as_str(), Some(s), "{doc}");
        }
    }
}
