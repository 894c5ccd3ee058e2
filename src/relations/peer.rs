//! `peer` endpoint (interface `peer-discovery`): what our own units share.
//!
//! # Format
//!
//! Each unit's UNIT bag ([`PeerUnit`]):
//!
//! ```text
//! ingress-address   10.5.0.13     written by Juju; preferred
//! private-address   10.5.0.13     written by Juju; fallback (the Python charm used only
//!                                 this: B4 in docs/python-charm-bugs.md)
//! started           true          "the registry serves"; parsed here, not written yet
//! ```
//!
//! The APP bag, written by the leader ([`PeerApp`]):
//!
//! ```text
//! shared-secret     secret://<model uuid>/<id>   the URI of the charm's Juju secret
//!                                                (label `registry-shared`) holding the
//!                                                registry's http.secret and the tls-auto
//!                                                CA key; not a secret itself: only our
//!                                                units can read it
//! shared-secret-generation  N     counts the revisions the leader made of that secret
//!                                 after the first: each new one changes this bag, so
//!                                 the other units, which get no secret-changed for their
//!                                 own application's secret, get a relation-changed
//! tls-auto-ca       <PEM>         the tls-auto CA certificate (made once, when first needed);
//!                                 its key is in the Juju secret
//! python-client-ca  <PEM>         the CA whose client certificates the Python charm's
//!                                 registry demanded, kept after the upgrade (B23)
//! ```
//!
//! The leader writes only the keys it has values for; the tls-auto CA and the Python
//! charm's client CA are never deleted (a CA clients trust must outlive a `tls-auto=false`
//! that may be undone).
//!
//! Before the move to a Juju secret the value itself was here, as `http-secret` (base64 of
//! 32 random bytes), and the Python charm kept it in the leader setting of the same name.
//! [`PeerApp::legacy_http_secret`] reads either, so an upgraded deployment keeps its
//! value (uploads in flight across units keep working); the leader's writes delete
//! `http-secret` from this bag in the same commit that records `shared-secret`. Likewise
//! the tls-auto CA key was here as `tls-auto-ca-key` ([`PeerApp::legacy_ca_key`]): the
//! leader moves it into the Juju secret and deletes it here in one commit.

use std::fmt;

use crate::juju::SecretUri;
use crate::secret::Secret;
use crate::tls::{ca_bundle, Pem};

use super::{get, Databag, Host, WireError};

/// Key: Juju's ingress address for this relation.
pub const INGRESS_ADDRESS: &str = "ingress-address";
/// Key: Juju's private address.
pub const PRIVATE_ADDRESS: &str = "private-address";
/// Key: our "registry is serving" marker.
pub const STARTED: &str = "started";
/// Key (app bag): the URI of the charm's Juju secret.
pub const SHARED_SECRET: &str = "shared-secret";
/// Key (app bag before the move, and the Python charm's leader settings): the shared
/// `http.secret` itself.
pub const HTTP_SECRET: &str = "http-secret";
/// Key (app bag): how many revisions the leader made of the Juju secret after the first.
pub const SHARED_GENERATION: &str = "shared-secret-generation";
/// Key (app bag): the tls-auto CA certificate.
pub const TLS_AUTO_CA: &str = "tls-auto-ca";
/// Key (app bag before the move into the Juju secret): the tls-auto CA key.
pub const TLS_AUTO_CA_KEY: &str = "tls-auto-ca-key";
/// Key (app bag): the client CA the Python charm's registry demanded certificates for.
pub const PYTHON_CLIENT_CA: &str = "python-client-ca";

/// One peer unit's bag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerUnit {
    /// `ingress-address`, else `private-address`.
    pub address: Option<Host>,
    /// The unit's registry is serving.
    pub started: bool,
}

impl PeerUnit {
    /// Read a peer's unit bag.
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        let key = if get(bag, INGRESS_ADDRESS).is_some() {
            INGRESS_ADDRESS
        } else {
            PRIVATE_ADDRESS
        };
        let address = get(bag, key)
            .map(|a| {
                a.parse::<Host>()
                    .map_err(|e| WireError::invalid(key, e.to_string()))
            })
            .transpose()?;
        let started = match get(bag, STARTED) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(WireError::invalid(
                    STARTED,
                    format!("`{other}` is not `true` or `false`"),
                ))
            }
        };
        Ok(PeerUnit { address, started })
    }

    /// What we write in our own unit bag: only `started` (Juju writes the addresses);
    /// `""` deletes the marker when the registry is not serving.
    pub fn to_databag(&self) -> Databag {
        let started = if self.started { "true" } else { "" };
        Databag::from([(STARTED.to_string(), started.to_string())])
    }
}

/// The shared `http.secret`. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpSecret(String);

impl HttpSecret {
    /// Wrap a secret; it must be non-empty printable ASCII without spaces (it is rendered
    /// into the registry's YAML config).
    pub fn new(secret: &str) -> Result<Self, String> {
        if secret.is_empty() {
            return Err("the secret is empty".into());
        }
        if !secret.chars().all(|c| c.is_ascii_graphic()) {
            return Err("the secret must be printable ASCII without spaces".into());
        }
        Ok(HttpSecret(secret.to_string()))
    }

    /// The secret itself, for rendering the registry config.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for HttpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpSecret(<redacted>)")
    }
}

/// The peer relation's app bag (leader-written).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerApp {
    /// `shared-secret`.
    pub shared_secret: Option<SecretUri>,
    /// `shared-secret-generation`.
    pub shared_generation: Option<u64>,
    /// `tls-auto-ca`: the CA certificate alone (its key is in the Juju secret).
    pub tls_auto_ca: Option<Pem>,
    /// `python-client-ca`.
    pub python_client_ca: Option<Pem>,
}

impl PeerApp {
    /// Read the app bag.
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        Ok(PeerApp {
            shared_secret: PeerApp::shared_secret(bag)?,
            shared_generation: PeerApp::shared_generation(bag)?,
            tls_auto_ca: PeerApp::auto_ca(bag)?,
            python_client_ca: PeerApp::python_client_ca(bag)?,
        })
    }

    /// The URI of the charm's Juju secret alone (unusable CAs must not hide it).
    pub fn shared_secret(bag: &Databag) -> Result<Option<SecretUri>, WireError> {
        get(bag, SHARED_SECRET)
            .map(|v| {
                v.parse::<SecretUri>()
                    .map_err(|e| WireError::invalid(SHARED_SECRET, e.reason))
            })
            .transpose()
    }

    /// The count of the Juju secret's revisions after the first, alone.
    pub fn shared_generation(bag: &Databag) -> Result<Option<u64>, WireError> {
        get(bag, SHARED_GENERATION)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| WireError::invalid(SHARED_GENERATION, "not a whole number"))
            })
            .transpose()
    }

    /// The tls-auto CA certificate alone (an unusable one must not hide the shared
    /// secret).
    pub fn auto_ca(bag: &Databag) -> Result<Option<Pem>, WireError> {
        get(bag, TLS_AUTO_CA)
            .map(|pem| {
                ca_bundle(TLS_AUTO_CA, pem).map_err(|e| WireError::invalid(TLS_AUTO_CA, e.problem))
            })
            .transpose()
    }

    /// The tls-auto CA key from before its move into the Juju secret, exactly as written
    /// (whether it belongs to the certificate is for the caller to check).
    pub fn legacy_ca_key(bag: &Databag) -> Option<Secret> {
        get(bag, TLS_AUTO_CA_KEY).map(Secret::new)
    }

    /// The Python charm's client CA alone.
    pub fn python_client_ca(bag: &Databag) -> Result<Option<Pem>, WireError> {
        get(bag, PYTHON_CLIENT_CA)
            .map(|pem| {
                ca_bundle(PYTHON_CLIENT_CA, pem)
                    .map_err(|e| WireError::invalid(PYTHON_CLIENT_CA, e.problem))
            })
            .transpose()
    }

    /// The leader's writes: the keys it has values for; with the URI, the deletion of the
    /// value from before the move.
    pub fn to_databag(&self) -> Databag {
        let mut out = Databag::new();
        if let Some(uri) = &self.shared_secret {
            out.insert(SHARED_SECRET.to_string(), uri.to_string());
            out.insert(HTTP_SECRET.to_string(), String::new());
        }
        if let Some(n) = self.shared_generation {
            out.insert(SHARED_GENERATION.to_string(), n.to_string());
        }
        if let Some(cert) = &self.tls_auto_ca {
            out.insert(TLS_AUTO_CA.to_string(), cert.as_str().to_string());
        }
        if let Some(pem) = &self.python_client_ca {
            out.insert(PYTHON_CLIENT_CA.to_string(), pem.as_str().to_string());
        }
        out
    }

    /// The `http-secret` value from before the move, in this bag or in the Python charm's
    /// leader settings (the same key in both).
    pub fn legacy_http_secret(bag: &Databag) -> Result<Option<HttpSecret>, WireError> {
        secret_from(bag, HTTP_SECRET)
    }
}

fn secret_from(bag: &Databag, key: &str) -> Result<Option<HttpSecret>, WireError> {
    get(bag, key)
        .map(|s| HttpSecret::new(s).map_err(|problem| WireError::invalid(key, problem)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relations::bag;

    #[test]
    fn secret_is_hidden() {
        let s = HttpSecret::new("abc").unwrap();
        assert_eq!(format!("{s:?}"), "HttpSecret(<redacted>)");
        assert_eq!(s.expose(), "abc");
    }

    #[test]
    fn ingress_preferred_over_private() {
        let p = PeerUnit::parse(&bag([
            ("private-address", "10.0.0.1"),
            ("ingress-address", "10.1.0.1"),
        ]))
        .unwrap();
        assert_eq!(p.address.unwrap().to_string(), "10.1.0.1");
    }
}
