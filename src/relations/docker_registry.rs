//! `docker-registry` endpoint (interface `docker-registry`): where the registry is, its
//! credentials and its CA, as container runtimes (containerd, docker) read them.
//!
//! # Format
//!
//! EVERY registry unit writes its own UNIT bag on every `docker-registry` relation; nothing
//! goes into the app bag; clients write nothing. Each value is `json.dumps(value,
//! sort_keys=True)`: a string is a quoted JSON string, absent is the 4-character `null`.
//!
//! ```text
//! registry_netloc   "10.5.0.12:5000"                      host:port clients pull from
//! registry_url      "https://10.5.0.12:5000"              scheme + netloc
//! basic_user        "admin"            | null             both set, or both null
//! basic_password    "password"         | null
//! tls_ca            "-----BEGIN CERTIFICATE-----\n..."    | null
//! ```
//!
//! Readers (charms.reactive `from_json`) JSON-decode each value and fall back to the raw
//! string, so [`RegistryInfo::parse`] does the same. A client is "ready" once
//! `registry_netloc` is non-null. With several registry units, clients merge the bags key
//! by key, the lowest relation id / unit winning ([`merge`]).
//!
//! # What we publish differently from the Python charm (same keys, same encoding)
//!
//! Bug numbers are entries of docs/python-charm-bugs.md; the whole contract is in
//! docs/relations.md#docker-registry.
//!
//! - `registry_netloc` always carries a port, also behind haproxy (B1: the Python charm
//!   sent the haproxy address without a port, so clients dialled 443/80).
//! - `tls_ca` is sent whenever TLS is on, whatever the source: cert-provider or config
//!   blobs/paths (B3: the Python charm sent `null` for config-based TLS). It may still be
//!   `null` with TLS on when the certificate comes from a public CA and no CA was configured.
//! - `registry_url` is `https://` whenever TLS is on (B3).
//! - All five keys are always written, on every relation, so a second client application
//!   gets the data too (B5); writes go through [`super::changes`] so nothing churns.
//!
//! # Known consumer limits (not fixable from this side without breaking the contract)
//!
//! - containerd uses `registry_netloc` as a scheme-less endpoint and defaults to HTTPS for
//!   non-loopback hosts (B6), so a plain-HTTP registry only works with TLS on. Putting a
//!   scheme in `registry_netloc` would fix containerd but break docker, which uses the
//!   value for `--insecure-registry`, `certs.d/<netloc>` and `docker login`.
//! - Token auth is not part of the interface (B9): clients only learn basic auth.
//! - Each unit publishes its own netloc; clients take the lowest unit's (B30). Behind
//!   haproxy all units publish the same proxied netloc, which removes the ambiguity.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::json::{dumps_opt_str, loads_lenient};
use super::{get, Databag, Netloc, WireError};

/// Key: the netloc clients pull from.
pub const REGISTRY_NETLOC: &str = "registry_netloc";
/// Key: scheme + netloc.
pub const REGISTRY_URL: &str = "registry_url";
/// Key: basic-auth user name.
pub const BASIC_USER: &str = "basic_user";
/// Key: basic-auth password (plain text, by contract).
pub const BASIC_PASSWORD: &str = "basic_password";
/// Key: PEM CA that signed the registry's certificate.
pub const TLS_CA: &str = "tls_ca";

/// All keys of this contract, in wire order.
pub const KEYS: [&str; 5] = [
    REGISTRY_NETLOC,
    REGISTRY_URL,
    BASIC_USER,
    BASIC_PASSWORD,
    TLS_CA,
];

/// URL scheme clients must use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// `registry_url`: `<http|https>://<netloc>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryUrl {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Where the registry is.
    pub netloc: Netloc,
}

/// Basic-auth credentials sent to clients. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// User name.
    pub user: String,
    /// Password, in plain text (the interface has no other form).
    pub password: String,
}

/// How TLS looks to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Plain HTTP.
    Off,
    /// HTTPS; `ca` is the PEM CA to trust, if there is one to send.
    On {
        /// The CA that signed the registry's certificate (any TLS source).
        ca: Option<String>,
    },
}

/// One registry unit's bag, as written by the registry and read by clients.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RegistryInfo {
    /// `registry_netloc`; `None` is `null` (client not ready).
    pub netloc: Option<Netloc>,
    /// `registry_url`.
    pub url: Option<RegistryUrl>,
    /// `basic_user`.
    pub basic_user: Option<String>,
    /// `basic_password`.
    pub basic_password: Option<String>,
    /// `tls_ca` (PEM).
    pub tls_ca: Option<String>,
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

impl fmt::Display for RegistryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.netloc)
    }
}

impl FromStr for RegistryUrl {
    type Err = String;

    /// Parse `http://host[:port]` or `https://host[:port]`, one trailing `/` allowed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = if let Some(rest) = s.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = s.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(format!(
                "`{s}` is not a registry URL: expected http://host[:port] or https://host[:port]"
            ));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let netloc = rest.parse::<Netloc>().map_err(|e| e.to_string())?;
        Ok(RegistryUrl { scheme, netloc })
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for RegistryInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryInfo")
            .field("netloc", &self.netloc)
            .field("url", &self.url)
            .field("basic_user", &self.basic_user)
            .field(
                "basic_password",
                &self.basic_password.as_ref().map(|_| "<redacted>"),
            )
            .field("tls_ca", &self.tls_ca.as_ref().map(|_| "<pem>"))
            .finish()
    }
}

impl RegistryInfo {
    /// What a registry unit publishes: the netloc, the URL (`https` iff TLS is on), the
    /// credentials when both are non-empty, and the CA for any TLS source.
    pub fn advertise(netloc: Netloc, tls: Tls, auth: Option<BasicAuth>) -> Self {
        let auth = auth.filter(|a| !a.user.is_empty() && !a.password.is_empty());
        let (scheme, tls_ca) = match tls {
            Tls::Off => (Scheme::Http, None),
            Tls::On { ca } => (Scheme::Https, ca.filter(|c| !c.trim().is_empty())),
        };
        RegistryInfo {
            url: Some(RegistryUrl {
                scheme,
                netloc: netloc.clone(),
            }),
            netloc: Some(netloc),
            basic_user: auth.as_ref().map(|a| a.user.clone()),
            basic_password: auth.map(|a| a.password),
            tls_ca,
        }
    }

    /// Read one bag (or a [`merge`]d one) the way clients do: JSON with raw fallback,
    /// `null`/absent/empty meaning "not set".
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        let netloc = string_value(bag, REGISTRY_NETLOC)?
            .map(|s| {
                s.parse::<Netloc>()
                    .map_err(|e| WireError::invalid(REGISTRY_NETLOC, e.to_string()))
            })
            .transpose()?;
        let url = string_value(bag, REGISTRY_URL)?
            .map(|s| {
                s.parse::<RegistryUrl>()
                    .map_err(|e| WireError::invalid(REGISTRY_URL, e))
            })
            .transpose()?;
        let tls_ca = string_value(bag, TLS_CA)?;
        if let Some(ca) = &tls_ca {
            if !ca.contains("-----BEGIN CERTIFICATE-----") {
                return Err(WireError::invalid(
                    TLS_CA,
                    "expected a PEM certificate (-----BEGIN CERTIFICATE-----)",
                ));
            }
        }
        Ok(RegistryInfo {
            netloc,
            url,
            basic_user: string_value(bag, BASIC_USER)?,
            basic_password: string_value(bag, BASIC_PASSWORD)?,
            tls_ca,
        })
    }

    /// The five keys, JSON-encoded, `null` for absent.
    pub fn to_databag(&self) -> Databag {
        let netloc = self.netloc.as_ref().map(Netloc::to_string);
        let url = self.url.as_ref().map(RegistryUrl::to_string);
        [
            (REGISTRY_NETLOC, dumps_opt_str(netloc.as_deref())),
            (REGISTRY_URL, dumps_opt_str(url.as_deref())),
            (BASIC_USER, dumps_opt_str(self.basic_user.as_deref())),
            (
                BASIC_PASSWORD,
                dumps_opt_str(self.basic_password.as_deref()),
            ),
            (TLS_CA, dumps_opt_str(self.tls_ca.as_deref())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Clients act once `registry_netloc` is non-null.
    pub fn ready(&self) -> bool {
        self.netloc.is_some()
    }

    /// Both credentials, when both are set (`has_auth_basic()`).
    pub fn basic_auth(&self) -> Option<BasicAuth> {
        match (&self.basic_user, &self.basic_password) {
            (Some(user), Some(password)) => Some(BasicAuth {
                user: user.clone(),
                password: password.clone(),
            }),
            _ => None,
        }
    }

    /// `tls_ca` is set (`has_tls()`): clients install it and switch to TLS.
    pub fn has_tls(&self) -> bool {
        self.tls_ca.is_some()
    }

    /// `registry_url` is set (`has_custom_url()`).
    pub fn has_custom_url(&self) -> bool {
        self.url.is_some()
    }
}

/// One key as a string: JSON string → its content, `null`/absent/empty → `None`,
/// undecodable JSON → the raw text (reactive's fallback), other JSON types → error.
fn string_value(bag: &Databag, key: &str) -> Result<Option<String>, WireError> {
    let Some(raw) = get(bag, key) else {
        return Ok(None);
    };
    match loads_lenient(raw) {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(WireError::invalid(
            key,
            format!(
                "expected a JSON string or null, got a JSON {}",
                json_type(&other)
            ),
        )),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// One registry unit's bag as a client sees it, for [`merge`].
#[derive(Debug, Clone, Copy)]
pub struct UnitBag<'a> {
    /// The relation id (`docker-registry:<id>`).
    pub relation_id: u32,
    /// The registry unit, e.g. `docker-registry/1`.
    pub unit: &'a str,
    /// Its unit bag.
    pub bag: &'a Databag,
}

/// Merge the bags of several registry units the way clients (charms.reactive
/// `all_joined_units.received`) do: per key, the first unit in (relation id, unit) order
/// that has a non-empty value wins. Units compare by application name, then unit NUMBER.
pub fn merge<'a>(units: impl IntoIterator<Item = UnitBag<'a>>) -> Databag {
    let mut units: Vec<UnitBag<'a>> = units.into_iter().collect();
    units.sort_by(|a, b| {
        (a.relation_id, unit_sort_key(a.unit)).cmp(&(b.relation_id, unit_sort_key(b.unit)))
    });
    let mut merged = Databag::new();
    for unit in units {
        for (k, v) in unit.bag {
            if !v.is_empty() && !merged.contains_key(k) {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    merged
}

fn unit_sort_key(unit: &str) -> (&str, u64, &str) {
    match unit.rsplit_once('/') {
        Some((app, n)) => (app, n.parse().unwrap_or(u64::MAX), unit),
        None => (unit, u64::MAX, unit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relations::bag;

    #[test]
    fn unit_sort_is_numeric() {
        let a = bag([(REGISTRY_NETLOC, r#""a:1""#)]);
        let b = bag([(REGISTRY_NETLOC, r#""b:1""#)]);
        let merged = merge([
            UnitBag {
                relation_id: 3,
                unit: "docker-registry/10",
                bag: &a,
            },
            UnitBag {
                relation_id: 3,
                unit: "docker-registry/2",
                bag: &b,
            },
        ]);
        assert_eq!(merged[REGISTRY_NETLOC], r#""b:1""#);
    }
}
