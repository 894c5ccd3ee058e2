//! Typed, validated charm configuration.
//!
//! `CharmConfig::from_json` takes the object printed by `config-get --format=json` and
//! returns either a fully typed config or EVERY problem found (not just the first), each
//! naming its option, what is wrong and how to fix it. Secret values never appear in
//! messages or in `Debug` output.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::tls::{decode_base64_text, TlsBundle, TlsError, TlsSource};

pub use crate::secret::Secret;

/// One invalid option: which one, what is wrong, and (optionally) how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The charm option name, e.g. `storage-cache`.
    pub option: String,
    /// What is wrong, without secret values.
    pub problem: String,
    /// How to fix it, when not obvious from the problem.
    pub fix: Option<String>,
}

impl ConfigError {
    /// An error without a separate fix hint.
    pub fn new(option: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            option: option.into(),
            problem: problem.into(),
            fix: None,
        }
    }

    /// Adds the fix hint shown in parentheses.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.option, self.problem)?;
        if let Some(fix) = &self.fix {
            write!(f, " ({fix})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl From<TlsError> for ConfigError {
    fn from(e: TlsError) -> Self {
        ConfigError {
            option: e.option,
            problem: e.problem,
            fix: e.fix,
        }
    }
}

/// All problems found in one configuration (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Orders errors by option name so messages are stable whatever the check order.
    pub fn sorted(mut errors: Vec<ConfigError>) -> Self {
        errors.sort_by(|a, b| a.option.cmp(&b.option));
        ConfigErrors(errors)
    }

    /// The unit status message: `Invalid charm config: <opt>: <why>[; <opt>: <why>...]`.
    pub fn status_message(&self) -> String {
        format!("Invalid charm config: {self}")
    }

    /// The option names involved, in order, without duplicates.
    pub fn options(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for e in &self.0 {
            if !out.contains(&e.option.as_str()) {
                out.push(&e.option);
            }
        }
        out
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Registry authentication; distribution accepts exactly one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No authentication.
    None,
    /// htpasswd (bcrypt) with a single user.
    Basic {
        /// `auth-basic-user`.
        user: String,
        /// `auth-basic-password`.
        password: Secret,
    },
    /// Bearer token auth issued by an external service.
    Token {
        /// `auth-token-issuer`.
        issuer: String,
        /// `auth-token-realm` (URL clients get tokens from).
        realm: String,
        /// `auth-token-service`.
        service: String,
        /// Decoded `auth-token-root-certs` (PEM bundle that signs tokens).
        root_certs_pem: String,
    },
}

/// `storage-cache`: the blob descriptor cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// `storage.cache.blobdescriptor: inmemory`.
    InMemory,
    /// No cache section.
    Disabled,
}

/// `log-level` of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `error`.
    Error,
    /// `warn`.
    Warn,
    /// `info`.
    Info,
    /// `debug`.
    Debug,
}

impl LogLevel {
    /// The value distribution expects in `log.level`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// URL scheme of an http(s) URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http`.
    Http,
    /// `https`.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A parsed absolute http(s) URL (no userinfo, query or fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    raw: String,
    scheme: Scheme,
    host: String,
    port: Option<u16>,
    path: String,
}

impl HttpUrl {
    /// The URL as the operator wrote it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Host name or IP address, without IPv6 brackets.
    pub fn hostname(&self) -> &str {
        &self.host
    }

    /// Explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Path ("" or starting with `/`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `host[:port]` as written in the URL (IPv6 in brackets); what clients dial.
    pub fn netloc(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// Parses `value`; the error is `(problem, fix)`.
    pub fn parse(value: &str) -> Result<HttpUrl, (String, String)> {
        let example = "use a URL like https://host[:port]/";
        let Some((scheme, rest)) = value.split_once("://") else {
            // The value may carry credentials (`user:pw@host`): quote it only without them.
            let shown = match value.rsplit_once('@') {
                Some((_, host)) => format!("\"<credentials>@{host}\""),
                None => format!("{value:?}"),
            };
            return Err((
                format!("{shown} has no scheme"),
                "use https://host[:port]/, or http://host[:port]/ for plain http".into(),
            ));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => {
                return Err((
                    format!("scheme {other:?} is not http or https"),
                    example.into(),
                ))
            }
        };
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(("contains whitespace".into(), example.into()));
        }
        if rest.contains(['?', '#']) {
            return Err((
                "must not contain a query or fragment".into(),
                example.into(),
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err((
                "must not contain credentials".into(),
                "put the user name and password in their own options".into(),
            ));
        }
        let (host, port) = if let Some(after) = authority.strip_prefix('[') {
            let Some((v6, tail)) = after.split_once(']') else {
                return Err(("unclosed '[' in the host".into(), example.into()));
            };
            if v6.parse::<Ipv6Addr>().is_err() {
                return Err((format!("{v6:?} is not an IPv6 address"), example.into()));
            }
            let port = match tail {
                "" => None,
                t => match t.strip_prefix(':') {
                    Some(p) => Some(p),
                    None => return Err(("junk after ']' in the host".into(), example.into())),
                },
            };
            (v6.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(("has no host".into(), example.into()));
        }
        if !host.contains(':')
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err((format!("host {host:?} is not a valid name"), example.into()));
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err((
                        format!("port {p:?} is not a number in 1..=65535"),
                        example.into(),
                    ))
                }
            },
        };
        Ok(HttpUrl {
            raw: value.to_string(),
            scheme,
            host,
            port,
            path: path.to_string(),
        })
    }
}

/// The parsed `http-host` option (an absolute http(s) URL).
pub type HttpHost = HttpUrl;

/// Pull-through cache (`proxy:` section) settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `cache-remoteurl`.
    pub remote_url: HttpUrl,
    /// `cache-username`.
    pub username: Option<String>,
    /// `cache-password`.
    pub password: Option<Secret>,
}

/// S3 storage driver settings; every option of the Python charm, with B13 and B14 fixed
/// (docs/python-charm-bugs.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3 {
    /// `storage-s3-region`.
    pub region: String,
    /// `storage-s3-bucket`.
    pub bucket: String,
    /// `storage-s3-accesskey`.
    pub access_key: Option<Secret>,
    /// `storage-s3-secretkey`.
    pub secret_key: Option<Secret>,
    /// `storage-s3-regionendpoint`.
    pub region_endpoint: Option<String>,
    /// `storage-s3-forcepathstyle`.
    pub force_path_style: bool,
    /// `storage-s3-encrypt`.
    pub encrypt: bool,
    /// `storage-s3-keyid`.
    pub key_id: Option<String>,
    /// `storage-s3-secure`.
    pub secure: bool,
    /// `storage-s3-skip-verify`.
    pub skip_verify: bool,
    /// Rendered `v4auth`: `storage-s3-v4auth` (default true). v2 signing only when an
    /// operator asks for it by that name; `storage-s3-skip-v4-auth`, which the Python charm
    /// never read, is accepted and ignored (docs/python-charm-bugs.md#b13).
    pub v4auth: bool,
    /// `storage-s3-chunksize` (5 MiB..=5 GiB).
    pub chunk_size: u64,
    /// `storage-s3-multipartcopychunksize` (5 MiB..=5 GiB).
    pub multipart_copy_chunk_size: u64,
    /// `storage-s3-multipartcopymaxconcurrency` (>= 1).
    pub multipart_copy_max_concurrency: u64,
    /// `storage-s3-multipartcopythresholdsize` (0..=5 GiB).
    pub multipart_copy_threshold_size: u64,
    /// `storage-s3-rootdirectory`.
    pub root_directory: Option<String>,
    /// `storage-s3-storageclass`.
    pub storage_class: String,
    /// `storage-s3-useragent`.
    pub user_agent: Option<String>,
    /// `storage-s3-usedualstack`.
    pub use_dual_stack: bool,
    /// `storage-s3-accelerate`.
    pub accelerate: bool,
    /// `storage-s3-objectacl` (rendered: docs/python-charm-bugs.md#b14).
    pub object_acl: String,
    /// `storage-s3-loglevel`.
    pub log_level: String,
}

/// Swift storage driver settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swift {
    /// `storage-swift-authurl`.
    pub auth_url: HttpUrl,
    /// `storage-swift-username`.
    pub username: String,
    /// `storage-swift-password`.
    pub password: Secret,
    /// `storage-swift-container`.
    pub container: String,
    /// `storage-swift-region`.
    pub region: Option<String>,
    /// `storage-swift-tenant`.
    pub tenant: Option<String>,
    /// `storage-swift-domain` (Keystone v3).
    pub domain: Option<String>,
}

/// Where image data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Local filesystem (`/srv/registry`).
    Filesystem,
    /// Amazon S3 or compatible.
    S3(Box<S3>),
    /// OpenStack Swift (takes precedence over S3 when both are complete).
    Swift(Box<Swift>),
}

/// Decoded `tls-*-blob` options (PEM text; validated by `tls::TlsBundle::from_pems`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsBlobs {
    /// Decoded `tls-ca-blob`.
    pub ca: Option<String>,
    /// Decoded `tls-cert-blob`.
    pub cert: Option<String>,
    /// Decoded `tls-key-blob`.
    pub key: Option<Secret>,
}

impl TlsBlobs {
    /// True when no blob is set.
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.cert.is_none() && self.key.is_none()
    }
}

/// `tls-*-path` options: absolute host paths (None when set to "").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// `tls-ca-path`.
    pub ca: Option<PathBuf>,
    /// `tls-cert-path`.
    pub cert: Option<PathBuf>,
    /// `tls-key-path`.
    pub key: Option<PathBuf>,
}

/// `tls-client-ca`: which client certificates the registry demands (mutual TLS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClientCa {
    /// Unset: none, unless an upgrade from the Python charm found its registry demanding
    /// them (then they are still demanded: docs/migration.md).
    #[default]
    Unset,
    /// `none`: never demand client certificates, not even after such an upgrade.
    Off,
    /// Demand a client certificate signed by one of these CAs (PEM).
    Ca(crate::tls::Pem),
}

/// The value of `tls-client-ca` that turns client certificates off for good.
pub const CLIENT_CA_OFF: &str = "none";

/// An option this charm accepts and ignores, found set to something other than its
/// default: the unit logs one warning per change, naming what replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredOption {
    /// The option.
    pub option: &'static str,
    /// sha256 of its value as config-get gave it: the value itself may hold a secret (a
    /// proxy password, a key), so only its digest is kept to notice a change.
    pub value_sha256: String,
    /// What replaces it, for the warning.
    pub instead: &'static str,
}

impl IgnoredOption {
    /// The warning: the option, that it is ignored, and what to use instead.
    pub fn warning(&self) -> String {
        format!(
            "{} is set but ignored by this charm: {}",
            self.option, self.instead
        )
    }
}

/// The default of an accepted-and-ignored option, with its type.
#[derive(Debug, Clone, Copy)]
enum IgnoredDefault {
    Text(&'static str),
    Flag(bool),
}

const NO_DOCKER: &str = "there is no Docker engine on the unit; the registry runs as a \
                         service from the distro docker-registry package";
const NO_GPU: &str = "the registry needs no GPU runtime";
const APT_SOURCE: &str = "the docker-registry package comes from the machine's apt \
                          sources; configure those on the machine (or with a subordinate charm)";

/// Every option the charm accepts for compatibility but does not use: its default, and what
/// replaces it. `daemon-opts`' default is compared without surrounding whitespace.
const IGNORED: &[(&str, IgnoredDefault, &str)] = &[
    (
        "registry-image",
        IgnoredDefault::Text("registry:2"),
        "the registry is the distro docker-registry package, not a container image; pin \
         its version with apt (apt-mark hold docker-registry)",
    ),
    ("docker-opts", IgnoredDefault::Text(""), NO_DOCKER),
    (
        "daemon-opts",
        IgnoredDefault::Text(DAEMON_OPTS_DEFAULT),
        NO_DOCKER,
    ),
    ("enable-cgroups", IgnoredDefault::Flag(false), NO_DOCKER),
    (
        "install_from_upstream",
        IgnoredDefault::Flag(false),
        NO_DOCKER,
    ),
    ("docker_runtime", IgnoredDefault::Text("auto"), NO_DOCKER),
    ("docker_runtime_repo", IgnoredDefault::Text(""), NO_DOCKER),
    (
        "docker_runtime_key_url",
        IgnoredDefault::Text(""),
        NO_DOCKER,
    ),
    (
        "docker_runtime_package",
        IgnoredDefault::Text(""),
        NO_DOCKER,
    ),
    (
        "apt-key-server",
        IgnoredDefault::Text("hkp://keyserver.ubuntu.com:80"),
        NO_DOCKER,
    ),
    (
        "docker-ce-package",
        IgnoredDefault::Text("docker-ce=5:18.09.1~3-0~ubuntu-bionic"),
        NO_DOCKER,
    ),
    ("cuda_repo", IgnoredDefault::Text("10.0.130-1"), NO_GPU),
    (
        "nvidia-docker-package",
        IgnoredDefault::Text("nvidia-docker2=2.0.3+docker18.09.1-1"),
        NO_GPU,
    ),
    (
        "nvidia-container-runtime-package",
        IgnoredDefault::Text("nvidia-container-runtime=2.0.0+docker18.09.1-1"),
        NO_GPU,
    ),
    (
        "http_proxy",
        IgnoredDefault::Text(""),
        "it was the Docker engine's proxy; the registry's is registry-http-proxy",
    ),
    (
        "https_proxy",
        IgnoredDefault::Text(""),
        "it was the Docker engine's proxy; the registry's is registry-https-proxy",
    ),
    (
        "no_proxy",
        IgnoredDefault::Text(""),
        "it was the Docker engine's; the registry's proxies are registry-http-proxy and \
         registry-https-proxy",
    ),
    (
        "extra_packages",
        IgnoredDefault::Text(""),
        "the charm installs only the docker-registry package; install others with apt or \
         another charm",
    ),
    (
        "package_status",
        IgnoredDefault::Text("install"),
        "nothing is held; hold the package with apt-mark hold docker-registry",
    ),
    ("install_sources", IgnoredDefault::Text(""), APT_SOURCE),
    ("install_keys", IgnoredDefault::Text(""), APT_SOURCE),
    (
        "storage-s3-skip-v4-auth",
        IgnoredDefault::Flag(true),
        "the registry keeps signing S3 requests with v4, as the Python charm always did \
         whatever this option said (AWS S3 refuses v2 signatures in newer regions and for \
         newer buckets); to sign with v2 for a store that needs it, set \
         storage-s3-v4auth=false",
    ),
];

/// True for an option the charm accepts and ignores (it never changes what the registry
/// does).
pub fn is_ignored_option(name: &str) -> bool {
    IGNORED.iter().any(|(option, _, _)| *option == name)
}

/// `daemon-opts`' default in config.yaml.
const DAEMON_OPTS_DEFAULT: &str = r#"{
  "log-driver": "json-file",
  "log-opts": {
    "max-size": "10m",
    "max-file": "100"
  }
}"#;

/// The whole typed charm configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharmConfig {
    /// Authentication (basic, token or none).
    pub auth: Auth,
    /// Pull-through cache settings when `cache-remoteurl` is set.
    pub proxy: Option<Proxy>,
    /// `debug-port` (metrics server port).
    pub debug_port: u16,
    /// `http-host`: external URL of the registry.
    pub http_host: Option<HttpHost>,
    /// `log-level`.
    pub log_level: LogLevel,
    /// `prometheus-metrics`.
    pub prometheus_metrics: bool,
    /// `registry-image` (kept for compatibility; the machine charm runs the distro package).
    pub registry_image: String,
    /// Accepted-and-ignored options set to something other than their default (each
    /// gets one warning per change, naming what replaces it).
    pub ignored: Vec<IgnoredOption>,
    /// `registry-name` (kept for compatibility).
    pub registry_name: String,
    /// `registry-port`: the port the registry listens on.
    pub registry_port: u16,
    /// `registry-http-proxy`: HTTP_PROXY for the registry process (a validated proxy URL).
    pub registry_http_proxy: Option<String>,
    /// `registry-https-proxy`: HTTPS_PROXY for the registry process (a validated proxy URL).
    pub registry_https_proxy: Option<String>,
    /// Storage driver.
    pub storage: Storage,
    /// `storage-cache`.
    pub storage_cache: Cache,
    /// `storage-delete`.
    pub storage_delete: bool,
    /// `storage-redirect-disable`.
    pub storage_redirect_disable: bool,
    /// `storage-read-only`.
    pub storage_read_only: bool,
    /// Decoded `tls-*-blob` values.
    pub tls_blobs: TlsBlobs,
    /// `tls-*-path` values.
    pub tls_paths: TlsPaths,
    /// `tls-auto`: with no other TLS source, serve certificates from a CA of the
    /// application's own.
    pub tls_auto: bool,
    /// `tls-client-ca`.
    pub tls_client_ca: ClientCa,
    /// `nagios_context` (layer option; default `juju`): letters, digits, `.`, `_`, `-`.
    pub nagios_context: String,
    /// `nagios_servicegroups` (layer option): comma-separated names like the context.
    pub nagios_servicegroups: String,
}

/// Default of `tls-ca-path`.
pub const DEFAULT_TLS_CA_PATH: &str = "/etc/docker/registry/ca.crt";
/// Default of `tls-cert-path`.
pub const DEFAULT_TLS_CERT_PATH: &str = "/etc/docker/registry/registry.crt";
/// Default of `tls-key-path`.
pub const DEFAULT_TLS_KEY_PATH: &str = "/etc/docker/registry/registry.key";

const MIB: u64 = 1024 * 1024;
const S3_MIN_CHUNK: u64 = 5 * MIB;
const S3_MAX_CHUNK: u64 = 5 * 1024 * MIB;
const S3_STORAGE_CLASSES: &[&str] = &["STANDARD", "REDUCED_REDUNDANCY"];
const S3_OBJECT_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];
const S3_LOG_LEVELS: &[&str] = &[
    "off",
    "debug",
    "debugwithsigning",
    "debugwithhttpbody",
    "debugwithrequestretries",
    "debugwithrequesterrors",
    "debugwitheventstreambody",
];
/// bcrypt uses only the first 72 bytes of a password.
const BCRYPT_MAX_PASSWORD: usize = 72;

/// Reads options one by one, collecting every type problem.
struct Reader<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn err(&mut self, e: ConfigError) {
        self.errors.push(e);
    }

    /// A string option; missing or null means `default`.
    fn string(&mut self, key: &str, default: &str) -> String {
        match self.map.get(key) {
            None | Some(Value::Null) => default.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                self.err(ConfigError::new(
                    key,
                    format!("expected a string, got {}", type_name(other)),
                ));
                default.to_string()
            }
        }
    }

    /// A string option without a default: missing, null or "" mean unset.
    fn opt(&mut self, key: &str) -> Option<String> {
        Some(self.string(key, "")).filter(|s| !s.is_empty())
    }

    fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.map.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.err(ConfigError::new(
                    key,
                    format!("expected a boolean, got {}", type_name(other)),
                ));
                default
            }
        }
    }

    fn int(&mut self, key: &str, default: i64) -> i64 {
        match self.map.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => i,
                None => {
                    self.err(ConfigError::new(key, format!("{n} is not an integer")));
                    default
                }
            },
            Some(other) => {
                self.err(ConfigError::new(
                    key,
                    format!("expected an integer, got {}", type_name(other)),
                ));
                default
            }
        }
    }

    fn port(&mut self, key: &str, default: u16) -> u16 {
        let v = self.int(key, i64::from(default));
        match u16::try_from(v) {
            Ok(p) if p > 0 => p,
            _ => {
                self.err(ConfigError::new(
                    key,
                    format!("{v} is not a port in 1..=65535"),
                ));
                default
            }
        }
    }

    /// An integer option within `min..=max`.
    fn ranged(&mut self, key: &str, default: u64, min: u64, max: u64, what: &str) -> u64 {
        let v = self.int(key, default as i64);
        match u64::try_from(v) {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.err(ConfigError::new(key, format!("{v} is not {what}")));
                default
            }
        }
    }

    /// A string option that must be one of `allowed`.
    fn one_of(&mut self, key: &str, default: &str, allowed: &[&str]) -> String {
        let v = self.string(key, default);
        if allowed.contains(&v.as_str()) {
            v
        } else {
            self.err(ConfigError::new(
                key,
                format!("{} is not one of {}", quote(&v), allowed.join(", ")),
            ));
            default.to_string()
        }
    }

    /// A base64 option decoded to UTF-8 text; None when unset.
    fn base64_text(&mut self, key: &str) -> Option<String> {
        let raw = self.opt(key)?;
        match decode_base64_text(&raw) {
            Ok(text) => Some(text),
            Err(problem) => {
                self.err(
                    ConfigError::new(key, problem)
                        .with_fix("set it to the output of `base64 -w0 <file>`"),
                );
                None
            }
        }
    }

    fn path(&mut self, key: &str, default: &str) -> Option<PathBuf> {
        let v = self.string(key, default);
        if v.is_empty() {
            return None;
        }
        if !v.starts_with('/') {
            self.err(
                ConfigError::new(key, format!("{} is not an absolute path", quote(&v)))
                    .with_fix(format!("use a path starting with /, e.g. {default}")),
            );
            return None;
        }
        Some(PathBuf::from(v))
    }

    /// The accepted-and-ignored options that differ from their defaults (type-checked).
    fn ignored(&mut self) -> Vec<IgnoredOption> {
        let mut out = Vec::new();
        for (option, default, instead) in IGNORED {
            let differs = match default {
                IgnoredDefault::Text(d) => self.string(option, d).trim() != d.trim(),
                IgnoredDefault::Flag(d) => self.boolean(option, *d) != *d,
            };
            if differs {
                let raw = self
                    .map
                    .get(*option)
                    .map(Value::to_string)
                    .unwrap_or_default();
                out.push(IgnoredOption {
                    option,
                    value_sha256: sha256_hex(raw.as_bytes()),
                    instead,
                });
            }
        }
        out
    }

    /// `registry-http(s)-proxy`: a proxy URL Go's HTTP client accepts, passed on as is.
    fn proxy_env(&mut self, key: &str) -> Option<String> {
        let value = self.opt(key)?;
        match check_proxy_url(&value) {
            Ok(()) => Some(value),
            Err(problem) => {
                let shown = match value.contains('@') {
                    // The userinfo may hold a password: name the problem only.
                    true => "the value".to_string(),
                    false => quote(&value),
                };
                self.err(
                    ConfigError::new(key, format!("{shown} is not a proxy URL: {problem}"))
                        .with_fix("use http://host:port, e.g. http://squid.internal:3128"),
                );
                None
            }
        }
    }

    /// A Nagios name (`nagios_context`) or comma-separated names (`nagios_servicegroups`):
    /// they go into file names and the nrpe subordinate's config, so only letters, digits,
    /// `.`, `_` and `-` (and `,` between groups).
    fn nagios(&mut self, key: &str, default: &str, list: bool) -> String {
        let v = self.string(key, default);
        let names: Vec<&str> = match list {
            true => v.split(',').map(str::trim).collect(),
            false => vec![v.as_str()],
        };
        let blank_ok = !list || v.trim().is_empty();
        let bad = names.iter().find(|n| {
            (n.is_empty() && !blank_ok)
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
        if let Some(bad) = bad {
            let what = match list {
                true => "comma-separated names",
                false => "a name",
            };
            self.err(
                ConfigError::new(
                    key,
                    format!(
                        "{} is not {what} of letters, digits, '.', '_' and '-'",
                        quote(if bad.is_empty() { &v } else { bad })
                    ),
                )
                .with_fix(format!(
                    "e.g. {}",
                    if list { "registry,k8s" } else { "juju" }
                )),
            );
            return default.to_string();
        }
        v
    }

    fn url(&mut self, key: &str, value: &str) -> Option<HttpUrl> {
        match HttpUrl::parse(value) {
            Ok(u) => Some(u),
            Err((problem, fix)) => {
                self.err(ConfigError::new(key, problem).with_fix(fix));
                None
            }
        }
    }
}

/// Hex sha256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What Go's HTTP client accepts as `HTTP_PROXY`/`HTTPS_PROXY`:
/// `[scheme://][user[:password]@]host[:port][/]`, scheme http, https, socks5 or socks5h
/// (none means http). The problem, without the value.
pub fn check_proxy_url(value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace".into());
    }
    let rest = match value.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            if !matches!(scheme.as_str(), "http" | "https" | "socks5" | "socks5h") {
                return Err(format!(
                    "scheme {} is not http, https, socks5 or socks5h",
                    quote(&scheme)
                ));
            }
            rest
        }
        None => value,
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err("a proxy URL has no path, query or fragment".into());
    }
    let hostport = match authority.rsplit_once('@') {
        Some((_, h)) => h,
        None => authority,
    };
    let (host, port) = if let Some(after) = hostport.strip_prefix('[') {
        match after.split_once(']') {
            Some((v6, tail)) if v6.parse::<Ipv6Addr>().is_ok() => (v6, tail.strip_prefix(':')),
            _ => return Err("the host is not a valid IPv6 address in brackets".into()),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if !host.contains(':') {
        crate::relations::Host::from_str(host).map_err(|e| format!("bad host: {e}"))?;
    }
    if let Some(p) = port {
        if !p.parse::<u16>().is_ok_and(|n| n > 0) {
            return Err(format!("port {} is not a number in 1..=65535", quote(p)));
        }
    }
    Ok(())
}

/// Why clients cannot use `host` (from `http-host`), if they cannot: an address or name
/// that means "this machine" or "no machine" to whoever dials it.
pub fn unusable_by_clients(host: &crate::relations::Host) -> Option<&'static str> {
    use crate::relations::Host;
    match host {
        Host::Ipv4(ip) if ip.is_loopback() => Some("a loopback address"),
        Host::Ipv4(ip) if ip.is_unspecified() => Some("the unspecified address"),
        Host::Ipv4(ip) if ip.is_broadcast() => Some("the broadcast address"),
        Host::Ipv4(ip) if ip.is_multicast() => Some("a multicast address"),
        Host::Ipv6(ip) if ip.is_loopback() => Some("a loopback address"),
        Host::Ipv6(ip) if ip.is_unspecified() => Some("the unspecified address"),
        Host::Ipv6(ip) if ip.is_multicast() => Some("a multicast address"),
        Host::Ipv6(ip) if ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()) => {
            Some("a loopback address")
        }
        Host::Dns(name) => {
            let name = name.to_ascii_lowercase();
            (name == "localhost" || name.ends_with(".localhost"))
                .then_some("a name for the local machine")
        }
        _ => None,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Quotes a (non-secret) value for a message, shortened to keep status lines readable.
fn quote(v: &str) -> String {
    const MAX: usize = 64;
    if v.chars().count() > MAX {
        let short: String = v.chars().take(MAX).collect();
        format!("{:?}...", short)
    } else {
        format!("{v:?}")
    }
}

impl CharmConfig {
    /// Parses and validates the output of `config-get --format=json`.
    ///
    /// Missing or null keys take the option's default (unset for options without one).
    /// Unknown keys are ignored. Returns every problem found.
    pub fn from_json(map: &Map<String, Value>) -> Result<CharmConfig, ConfigErrors> {
        let mut r = Reader {
            map,
            errors: Vec::new(),
        };
        let auth = read_auth(&mut r);
        let proxy = read_proxy(&mut r);

        let registry_port = r.port("registry-port", 5000);
        let debug_port = r.port("debug-port", 5001);
        let prometheus_metrics = r.boolean("prometheus-metrics", false);
        if prometheus_metrics && registry_port == debug_port {
            r.err(
                ConfigError::new("debug-port", format!("{debug_port} is also registry-port"))
                    .with_fix("choose another port for the metrics server"),
            );
        }

        let http_host = match r.opt("http-host") {
            None => None,
            Some(v) => r.url("http-host", &v).and_then(|u| {
                if !u.path().is_empty() && !u.path().ends_with('/') {
                    r.err(
                        ConfigError::new("http-host", "path must end with '/'")
                            .with_fix(format!("use {}/", u.as_str())),
                    );
                    None
                } else {
                    // Clients are told this host: it must be one they can use.
                    match u.hostname().parse::<crate::relations::Host>() {
                        Err(e) => {
                            r.err(
                                ConfigError::new("http-host", format!("bad host: {e}"))
                                    .with_fix("use a DNS name or an IP address"),
                            );
                            None
                        }
                        Ok(host) => match unusable_by_clients(&host) {
                            Some(kind) => {
                                r.err(
                                    ConfigError::new(
                                        "http-host",
                                        format!(
                                            "{} is {kind}, which no client can use",
                                            quote(u.hostname())
                                        ),
                                    )
                                    .with_fix(
                                        "use the name or address clients reach the registry at",
                                    ),
                                );
                                None
                            }
                            None => Some(u),
                        },
                    }
                }
            }),
        };

        let log_level = match r.string("log-level", "info").as_str() {
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            other => {
                let e = ConfigError::new(
                    "log-level",
                    format!("{} is not one of error, warn, info, debug", quote(other)),
                );
                r.err(e);
                LogLevel::Info
            }
        };

        let storage_cache = match r.string("storage-cache", "inmemory").as_str() {
            "inmemory" => Cache::InMemory,
            "disabled" => Cache::Disabled,
            other => {
                let e = ConfigError::new(
                    "storage-cache",
                    format!("{} is not one of inmemory, disabled", quote(other)),
                );
                r.err(e);
                Cache::InMemory
            }
        };

        let storage = read_storage(&mut r);
        let tls_blobs = TlsBlobs {
            ca: r.base64_text("tls-ca-blob"),
            cert: r.base64_text("tls-cert-blob"),
            key: r.base64_text("tls-key-blob").map(Secret::new),
        };
        let tls_paths = TlsPaths {
            ca: r.path("tls-ca-path", DEFAULT_TLS_CA_PATH),
            cert: r.path("tls-cert-path", DEFAULT_TLS_CERT_PATH),
            key: r.path("tls-key-path", DEFAULT_TLS_KEY_PATH),
        };
        check_tls_paths(&mut r, &tls_paths);
        let tls_auto = r.boolean("tls-auto", false);
        let tls_client_ca = read_client_ca(&mut r);

        let cfg = CharmConfig {
            auth,
            proxy,
            debug_port,
            http_host,
            log_level,
            prometheus_metrics,
            registry_image: r.string("registry-image", "registry:2"),
            ignored: r.ignored(),
            registry_name: r.string("registry-name", "registry"),
            registry_port,
            registry_http_proxy: r.proxy_env("registry-http-proxy"),
            registry_https_proxy: r.proxy_env("registry-https-proxy"),
            storage,
            storage_cache,
            storage_delete: r.boolean("storage-delete", false),
            storage_redirect_disable: r.boolean("storage-redirect-disable", true),
            storage_read_only: r.boolean("storage-read-only", false),
            tls_blobs,
            tls_paths,
            tls_auto,
            tls_client_ca,
            nagios_context: r.nagios("nagios_context", "juju", false),
            nagios_servicegroups: r.nagios("nagios_servicegroups", "", true),
        };
        if r.errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors::sorted(r.errors))
        }
    }

    /// Every secret value in the config (passwords, keys, proxy credentials), to keep
    /// them out of text quoted from elsewhere (the registry's own log lines).
    pub fn secret_values(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if let Auth::Basic { password, .. } = &self.auth {
            out.push(password.expose());
        }
        if let Some(p) = &self.proxy {
            out.extend(p.password.as_ref().map(Secret::expose));
        }
        match &self.storage {
            Storage::S3(s3) => {
                out.extend(s3.access_key.as_ref().map(Secret::expose));
                out.extend(s3.secret_key.as_ref().map(Secret::expose));
            }
            Storage::Swift(sw) => out.push(sw.password.expose()),
            Storage::Filesystem => {}
        }
        out.extend(self.tls_blobs.key.as_ref().map(Secret::expose));
        for proxy in [&self.registry_http_proxy, &self.registry_https_proxy]
            .into_iter()
            .flatten()
        {
            // The userinfo of a proxy URL: `scheme://user:password@host`.
            let after = proxy.split_once("://").map_or(proxy.as_str(), |(_, r)| r);
            out.extend(after.rsplit_once('@').map(|(userinfo, _)| userinfo));
        }
        out.retain(|s| !s.is_empty());
        out
    }

    /// Like [`CharmConfig::from_json`], and also validates the `tls-*-blob` material
    /// (pairing, PEM, key match, validity at `now`, CA chain), reporting all problems at once.
    pub fn from_json_with_tls(
        map: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<(CharmConfig, Option<TlsBundle>), ConfigErrors> {
        let parsed = CharmConfig::from_json(map);
        // Decode the blobs independently so TLS problems are reported even when other
        // options are invalid too.
        let mut r = Reader {
            map,
            errors: Vec::new(),
        };
        let ca = r.base64_text("tls-ca-blob");
        let cert = r.base64_text("tls-cert-blob");
        let key = r.base64_text("tls-key-blob");
        let tls = if r.errors.is_empty() {
            TlsBundle::from_pems(
                ca.as_deref(),
                cert.as_deref(),
                key.as_deref(),
                now,
                TlsSource::Config,
            )
            .map_err(ConfigError::from)
        } else {
            Ok(None)
        };
        match (parsed, tls) {
            (Ok(cfg), Ok(bundle)) => Ok((cfg, bundle)),
            (Ok(_), Err(e)) => Err(ConfigErrors(vec![e])),
            (Err(mut errs), Err(e)) => {
                errs.0.push(e);
                Err(ConfigErrors::sorted(errs.0))
            }
            (Err(errs), Ok(_)) => Err(errs),
        }
    }
}

/// `tls-client-ca`: unset, `none`, or base64 of a PEM CA bundle.
fn read_client_ca(r: &mut Reader<'_>) -> ClientCa {
    const KEY: &str = "tls-client-ca";
    match r.opt(KEY) {
        None => ClientCa::Unset,
        Some(v) if v.trim().eq_ignore_ascii_case(CLIENT_CA_OFF) => ClientCa::Off,
        Some(_) => match r.base64_text(KEY) {
            None => ClientCa::Unset,
            Some(text) => match crate::tls::ca_bundle(KEY, &text) {
                Ok(pem) => ClientCa::Ca(pem),
                Err(e) => {
                    r.err(ConfigError::from(e).with_fix(format!(
                        "set it to `base64 -w0 ca.crt` of the CA that signs client \
                         certificates, or to {CLIENT_CA_OFF}"
                    )));
                    ClientCa::Unset
                }
            },
        },
    }
}

fn read_auth(r: &mut Reader<'_>) -> Auth {
    let user = r.string("auth-basic-user", DEFAULT_BASIC_USER);
    let password = r.string("auth-basic-password", "");
    let issuer = r.string("auth-token-issuer", "");
    let realm = r.string("auth-token-realm", "");
    let service = r.string("auth-token-service", "");
    let root_certs = r.base64_text("auth-token-root-certs");

    let basic = if password.is_empty() {
        None
    } else if user.is_empty() {
        r.err(
            ConfigError::new("auth-basic-user", "empty while auth-basic-password is set")
                .with_fix("set a user name, or unset auth-basic-password"),
        );
        None
    } else {
        let mut ok = true;
        if user.contains(':') || user.chars().any(char::is_control) {
            r.err(ConfigError::new(
                "auth-basic-user",
                format!("{} contains ':' or a control character", quote(&user)),
            ));
            ok = false;
        }
        if password.len() > BCRYPT_MAX_PASSWORD {
            r.err(
                ConfigError::new(
                    "auth-basic-password",
                    format!(
                        "longer than {BCRYPT_MAX_PASSWORD} bytes; bcrypt would ignore the rest"
                    ),
                )
                .with_fix("use a shorter password"),
            );
            ok = false;
        }
        ok.then(|| Auth::Basic {
            user: user.clone(),
            password: Secret::new(password.clone()),
        })
    };

    // Token auth needs all four options: name the missing ones instead of silently
    // running without auth (B20, B21 in docs/python-charm-bugs.md).
    let token_opts = [
        ("auth-token-issuer", !issuer.is_empty()),
        ("auth-token-realm", !realm.is_empty()),
        ("auth-token-service", !service.is_empty()),
        ("auth-token-root-certs", root_certs.is_some()),
    ];
    let token_set: Vec<&str> = token_opts
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
    let token = if token_set.is_empty() {
        None
    } else if token_set.len() < token_opts.len() {
        for (k, set) in token_opts {
            // A root-certs value that failed to decode was already reported.
            let undecodable =
                k == "auth-token-root-certs" && !r.string("auth-token-root-certs", "").is_empty();
            if !set && !undecodable {
                r.err(
                    ConfigError::new(k, format!("unset while {} is set", token_set.join(", ")))
                        .with_fix("token auth needs all four auth-token-* options"),
                );
            }
        }
        None
    } else {
        let pem = root_certs.unwrap_or_default();
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            r.err(
                ConfigError::new(
                    "auth-token-root-certs",
                    "does not contain a PEM certificate",
                )
                .with_fix("set it to `base64 -w0 <token-signing-cert.pem>`"),
            );
        }
        if let Err((problem, fix)) = HttpUrl::parse(&realm) {
            r.err(ConfigError::new("auth-token-realm", problem).with_fix(fix));
        }
        Some(Auth::Token {
            issuer,
            realm,
            service,
            root_certs_pem: pem,
        })
    };

    match (basic, token) {
        (Some(_), Some(_)) => {
            r.err(
                ConfigError::new(
                    "auth-basic-password",
                    "set together with auth-token-*; the registry accepts only one auth method",
                )
                .with_fix("unset auth-basic-password or the auth-token-* options"),
            );
            Auth::None
        }
        (Some(b), None) => b,
        (None, Some(t)) => t,
        (None, None) => {
            // A user other than the default without a password is basic auth half set:
            // fail closed (blocked, the last good config keeps serving) rather than serve
            // an open registry the operator meant to protect.
            if password.is_empty() && !user.is_empty() && user != DEFAULT_BASIC_USER {
                r.err(
                    ConfigError::new(
                        "auth-basic-password",
                        format!("empty while auth-basic-user is {}", quote(&user)),
                    )
                    .with_fix("set the password, or reset auth-basic-user to leave auth off"),
                );
            }
            Auth::None
        }
    }
}

/// `auth-basic-user`'s default: with no password it means "no auth", as it always did.
const DEFAULT_BASIC_USER: &str = "admin";

fn read_proxy(r: &mut Reader<'_>) -> Option<Proxy> {
    let url = r.opt("cache-remoteurl");
    let username = r.opt("cache-username");
    let password = r.opt("cache-password").map(Secret::new);
    let Some(url) = url else {
        for (k, set) in [
            ("cache-username", username.is_some()),
            ("cache-password", password.is_some()),
        ] {
            if set {
                r.err(
                    ConfigError::new("cache-remoteurl", format!("unset while {k} is set"))
                        .with_fix("set the upstream URL, or unset the cache-* options"),
                );
            }
        }
        return None;
    };
    if username.is_some() != password.is_some() {
        let missing = if username.is_none() {
            ("cache-username", "cache-password")
        } else {
            ("cache-password", "cache-username")
        };
        r.err(ConfigError::new(
            missing.0,
            format!(
                "unset while {} is set; both or neither are needed",
                missing.1
            ),
        ));
    }
    let remote_url = r.url("cache-remoteurl", &url)?;
    Some(Proxy {
        remote_url,
        username,
        password,
    })
}

fn read_storage(r: &mut Reader<'_>) -> Storage {
    let swift = read_swift(r);
    let s3 = read_s3(r);
    // Swift takes precedence when both are complete (as in the Python charm).
    match (swift, s3) {
        (Some(sw), _) => Storage::Swift(Box::new(sw)),
        (None, Some(s3)) => Storage::S3(Box::new(s3)),
        (None, None) => Storage::Filesystem,
    }
}

fn read_swift(r: &mut Reader<'_>) -> Option<Swift> {
    let auth_url = r.opt("storage-swift-authurl");
    let username = r.opt("storage-swift-username");
    let password = r.opt("storage-swift-password");
    let container = r.string("storage-swift-container", "docker-registry");
    let region = r.opt("storage-swift-region");
    let tenant = r.opt("storage-swift-tenant");
    let domain = r.opt("storage-swift-domain");

    let others: Vec<&str> = [
        ("storage-swift-username", username.is_some()),
        ("storage-swift-password", password.is_some()),
        ("storage-swift-region", region.is_some()),
        ("storage-swift-tenant", tenant.is_some()),
        ("storage-swift-domain", domain.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| *k)
    .collect();
    let Some(auth_url) = auth_url else {
        if !others.is_empty() {
            r.err(
                ConfigError::new(
                    "storage-swift-authurl",
                    format!("unset while {} is set", others.join(", ")),
                )
                .with_fix(
                    "set the Keystone URL to use swift, or unset the storage-swift-* options",
                ),
            );
        }
        return None;
    };
    let mut missing = false;
    for (k, set) in [
        ("storage-swift-username", username.is_some()),
        ("storage-swift-password", password.is_some()),
        ("storage-swift-container", !container.is_empty()),
    ] {
        if !set {
            r.err(ConfigError::new(
                k,
                "unset while storage-swift-authurl is set; swift storage needs it",
            ));
            missing = true;
        }
    }
    let auth_url = r.url("storage-swift-authurl", &auth_url);
    if missing {
        return None;
    }
    Some(Swift {
        auth_url: auth_url?,
        username: username?,
        password: Secret::new(password?),
        container,
        region,
        tenant,
        domain,
    })
}

fn read_s3(r: &mut Reader<'_>) -> Option<S3> {
    let region = r.opt("storage-s3-region");
    let bucket = r.opt("storage-s3-bucket");
    let access_key = r.opt("storage-s3-accesskey");
    let secret_key = r.opt("storage-s3-secretkey");
    let region_endpoint = r.opt("storage-s3-regionendpoint");
    let key_id = r.opt("storage-s3-keyid");
    let root_directory = r.opt("storage-s3-rootdirectory");
    let user_agent = r.opt("storage-s3-useragent");
    let force_path_style = r.boolean("storage-s3-forcepathstyle", false);
    let encrypt = r.boolean("storage-s3-encrypt", false);
    let secure = r.boolean("storage-s3-secure", true);
    let skip_verify = r.boolean("storage-s3-skip-verify", false);
    let v4auth = r.boolean("storage-s3-v4auth", true);
    let chunk = "a size in 5242880..=5368709120 bytes (5 MiB..5 GiB)";
    let chunk_size = r.ranged(
        "storage-s3-chunksize",
        10 * MIB,
        S3_MIN_CHUNK,
        S3_MAX_CHUNK,
        chunk,
    );
    let multipart_copy_chunk_size = r.ranged(
        "storage-s3-multipartcopychunksize",
        32 * MIB,
        S3_MIN_CHUNK,
        S3_MAX_CHUNK,
        chunk,
    );
    let multipart_copy_max_concurrency = r.ranged(
        "storage-s3-multipartcopymaxconcurrency",
        100,
        1,
        i64::MAX as u64,
        "a count >= 1",
    );
    let multipart_copy_threshold_size = r.ranged(
        "storage-s3-multipartcopythresholdsize",
        32 * MIB,
        0,
        S3_MAX_CHUNK,
        "a size in 0..=5368709120 bytes (5 GiB)",
    );
    let storage_class = r.one_of("storage-s3-storageclass", "STANDARD", S3_STORAGE_CLASSES);
    let object_acl = r.one_of("storage-s3-objectacl", "private", S3_OBJECT_ACLS);
    let log_level = r.one_of("storage-s3-loglevel", "off", S3_LOG_LEVELS);

    if access_key.is_some() != secret_key.is_some() {
        let (missing, set) = if access_key.is_none() {
            ("storage-s3-accesskey", "storage-s3-secretkey")
        } else {
            ("storage-s3-secretkey", "storage-s3-accesskey")
        };
        r.err(
            ConfigError::new(missing, format!("unset while {set} is set"))
                .with_fix("set both keys, or neither to use the instance's IAM role"),
        );
    }

    let set_strings: Vec<&str> = [
        ("storage-s3-accesskey", access_key.is_some()),
        ("storage-s3-secretkey", secret_key.is_some()),
        ("storage-s3-regionendpoint", region_endpoint.is_some()),
        ("storage-s3-keyid", key_id.is_some()),
        ("storage-s3-rootdirectory", root_directory.is_some()),
        ("storage-s3-useragent", user_agent.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| *k)
    .collect();

    match (&region, &bucket) {
        (Some(_), Some(_)) => {}
        (None, None) => {
            if !set_strings.is_empty() {
                for k in ["storage-s3-region", "storage-s3-bucket"] {
                    r.err(
                        ConfigError::new(
                            k,
                            format!("unset while {} is set", set_strings.join(", ")),
                        )
                        .with_fix("s3 storage needs storage-s3-region and storage-s3-bucket"),
                    );
                }
            }
            return None;
        }
        (None, Some(_)) | (Some(_), None) => {
            let (missing, set) = if region.is_none() {
                ("storage-s3-region", "storage-s3-bucket")
            } else {
                ("storage-s3-bucket", "storage-s3-region")
            };
            r.err(
                ConfigError::new(missing, format!("unset while {set} is set"))
                    .with_fix("s3 storage needs storage-s3-region and storage-s3-bucket"),
            );
            return None;
        }
    }
    Some(S3 {
        region: region?,
        bucket: bucket?,
        access_key: access_key.map(Secret::new),
        secret_key: secret_key.map(Secret::new),
        region_endpoint,
        force_path_style,
        encrypt,
        key_id,
        secure,
        skip_verify,
        v4auth,
        chunk_size,
        multipart_copy_chunk_size,
        multipart_copy_max_concurrency,
        multipart_copy_threshold_size,
        root_directory,
        storage_class,
        user_agent,
        use_dual_stack: r.boolean("storage-s3-usedualstack", false),
        accelerate: r.boolean("storage-s3-accelerate", false),
        object_acl,
        log_level,
    })
}

/// A blob with an empty path would be written to "." (docs/python-charm-bugs.md#b38); two
/// options sharing a path would overwrite each other.
fn check_tls_paths(r: &mut Reader<'_>, paths: &TlsPaths) {
    for (blob, path_opt, path, default) in [
        ("tls-ca-blob", "tls-ca-path", &paths.ca, DEFAULT_TLS_CA_PATH),
        (
            "tls-cert-blob",
            "tls-cert-path",
            &paths.cert,
            DEFAULT_TLS_CERT_PATH,
        ),
        (
            "tls-key-blob",
            "tls-key-path",
            &paths.key,
            DEFAULT_TLS_KEY_PATH,
        ),
    ] {
        let blob_set = !r.string(blob, "").trim().is_empty();
        // A relative path was already reported; only "" is left as None here.
        let path_empty = r.string(path_opt, default).is_empty();
        if blob_set && path_empty && path.is_none() {
            r.err(
                ConfigError::new(path_opt, format!("empty while {blob} is set"))
                    .with_fix(format!("set an absolute path, e.g. {default}")),
            );
        }
    }
    let named = [
        ("tls-ca-path", &paths.ca),
        ("tls-cert-path", &paths.cert),
        ("tls-key-path", &paths.key),
    ];
    for (i, (a, pa)) in named.iter().enumerate() {
        for (b, pb) in &named[i + 1..] {
            if let (Some(pa), Some(pb)) = (pa, pb) {
                if pa == pb {
                    r.err(ConfigError::new(
                        *b,
                        format!("same path as {a}; each file needs its own path"),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "<redacted>");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn url_parsing() {
        let u = HttpUrl::parse("https://example.com:8443/docker-registry/").unwrap();
        assert_eq!(u.netloc(), "example.com:8443");
        assert_eq!(u.hostname(), "example.com");
        assert_eq!(u.path(), "/docker-registry/");
        let u = HttpUrl::parse("http://[::1]:5000").unwrap();
        assert_eq!(u.hostname(), "::1");
        assert_eq!(u.netloc(), "[::1]:5000");
        assert!(HttpUrl::parse("registry.example.com:5000").is_err());
        assert!(HttpUrl::parse("ftp://x/").is_err());
        assert!(HttpUrl::parse("https://u:p@x/").is_err());
        assert!(HttpUrl::parse("https://x:0/").is_err());
        assert!(HttpUrl::parse("https://x:99999/").is_err());
        assert!(HttpUrl::parse("https:///").is_err());
        assert!(HttpUrl::parse("https://x y/").is_err());
    }

    #[test]
    fn base64_decoding_tolerates_wrapping_and_missing_padding() {
        assert_eq!(decode_base64_text("aGVs\nbG8=").unwrap(), "hello");
        assert_eq!(decode_base64_text("aGVsbG8").unwrap(), "hello");
        assert!(decode_base64_text("!!!").is_err());
        assert!(decode_base64_text("/w==").is_err()); // 0xff is not UTF-8
    }
}
