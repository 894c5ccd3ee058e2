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
//! http-secret       <44 chars>    base64 of 32 random bytes; rendered as http.secret
//! tls-auto-ca       <PEM>         the tls-auto CA certificate (made once, when first needed)
//! tls-auto-ca-key   <PEM>         its private key: every unit signs its own certificate
//! python-client-ca  <PEM>         the CA whose client certificates the Python charm's
//!                                 registry demanded, kept after the upgrade (B23)
//! ```
//!
//! The leader only adds keys; nothing here is ever deleted (a CA clients trust must
//! outlive a `tls-auto=false` that may be undone).
//!
//! `http-secret` replaces the Python charm's leader setting of the same name for new
//! deployments; [`PeerApp::http_secret_or_leader`] still reads the leader setting so an
//! upgraded deployment keeps its secret (uploads in flight across units keep working).

use std::fmt;

use crate::tls::auto::AutoCa;
use crate::tls::{ca_bundle, Pem};

use super::{get, Databag, Host, WireError};

/// Key: Juju's ingress address for this relation.
pub const INGRESS_ADDRESS: &str = "ingress-address";
/// Key: Juju's private address.
pub const PRIVATE_ADDRESS: &str = "private-address";
/// Key: our "registry is serving" marker.
pub const STARTED: &str = "started";
/// Key (app bag and legacy leader settings): the shared `http.secret`.
pub const HTTP_SECRET: &str = "http-secret";
/// Key (app bag): the tls-auto CA certificate.
pub const TLS_AUTO_CA: &str = "tls-auto-ca";
/// Key (app bag): the tls-auto CA key.
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
    /// `http-secret`.
    pub http_secret: Option<HttpSecret>,
    /// `tls-auto-ca` and `tls-auto-ca-key`.
    pub tls_auto_ca: Option<AutoCa>,
    /// `python-client-ca`.
    pub python_client_ca: Option<Pem>,
}

impl PeerApp {
    /// Read the app bag.
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        Ok(PeerApp {
            http_secret: secret_from(bag, HTTP_SECRET)?,
            tls_auto_ca: PeerApp::auto_ca(bag)?,
            python_client_ca: PeerApp::python_client_ca(bag)?,
        })
    }

    /// The tls-auto CA alone (an unusable one must not hide the http secret).
    pub fn auto_ca(bag: &Databag) -> Result<Option<AutoCa>, WireError> {
        match (get(bag, TLS_AUTO_CA), get(bag, TLS_AUTO_CA_KEY)) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(WireError::invalid(TLS_AUTO_CA_KEY, "missing")),
            (None, Some(_)) => Err(WireError::invalid(TLS_AUTO_CA, "missing")),
            (Some(cert), Some(key)) => AutoCa::parse(cert, key)
                .map(Some)
                .map_err(|e| WireError::invalid(&e.option, e.problem)),
        }
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

    /// The leader's writes: the keys it has values for (it never deletes one).
    pub fn to_databag(&self) -> Databag {
        let mut out = Databag::new();
        if let Some(s) = &self.http_secret {
            out.insert(HTTP_SECRET.to_string(), s.expose().to_string());
        }
        if let Some(ca) = &self.tls_auto_ca {
            out.insert(TLS_AUTO_CA.to_string(), ca.cert.as_str().to_string());
            out.insert(TLS_AUTO_CA_KEY.to_string(), ca.key.expose().to_string());
        }
        if let Some(pem) = &self.python_client_ca {
            out.insert(PYTHON_CLIENT_CA.to_string(), pem.as_str().to_string());
        }
        out
    }

    /// The secret from the app bag, else from the Python charm's leader settings (upgrades).
    pub fn http_secret_or_leader(
        app_bag: &Databag,
        leader_settings: &Databag,
    ) -> Result<Option<HttpSecret>, WireError> {
        match secret_from(app_bag, HTTP_SECRET)? {
            Some(s) => Ok(Some(s)),
            None => secret_from(leader_settings, HTTP_SECRET),
        }
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
