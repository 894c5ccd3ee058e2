//! `cert-provider` endpoint (interface `tls-certificates`): the legacy unit-bag protocol
//! that easyrsa speaks, and the v4 CSR protocol of newer CA charms.
//!
//! # Format: legacy (easyrsa)
//!
//! The requirer (each registry unit) writes in its UNIT bag ([`LegacyRequest`]):
//!
//! ```text
//! unit_name          docker-registry_0                   raw; unit name with / -> _
//! common_name        10.5.0.12                           raw
//! sans               ["10.5.0.12", "juju-1a2b3c-0"]      json.dumps list
//! certificate_name   docker-registry_0                   raw
//! ```
//!
//! The provider writes in ITS unit bag, raw strings ([`LegacyProvider`]):
//!
//! ```text
//! ca                                   CA PEM
//! docker-registry_0.server.cert        certificate PEM, possibly after a text dump
//! docker-registry_0.server.key         private key PEM
//! docker-registry_0.processed_requests JSON {"<cn>": {"cert": PEM, "key": PEM}}
//! ```
//!
//! Certificates are kept raw here: easyrsa 3.0/3.1 puts a human-readable `Certificate:`
//! dump before the PEM armour, which the tls module strips. We only check that the
//! armour is there. The issued certificate is found by OUR unit name, never by common
//! name, so an answer under another CN or after an address change still works (B8 in
//! docs/python-charm-bugs.md). The request is deterministic, so a changed SAN list changes
//! `sans` and easyrsa reissues (B32 is then the charm's job: recompute SANs on every hook).
//!
//! # Format: v4 (self-signed-certificates, lego, vault, ...)
//!
//! ```text
//! requirer bag  certificate_signing_requests  [{"ca": false, "certificate_signing_request": PEM}]
//! provider APP  certificates                  [{"ca": PEM, "certificate": PEM, "certificate_signing_request": PEM,
//!                                               "chain": [PEM, ...], "revoked": false}]
//! ```
//!
//! Each value is a JSON document stored as a string. The requirer writes its unit bag
//! (unit mode) or, from the leader, the app bag (app mode); [`CsrRequests::to_databag`]
//! returns the keys, the caller picks the bag.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Map, Value};

use super::json::dumps;
use super::{get, Databag, WireError};

/// Key: requirer's unit name with `/` → `_`.
pub const UNIT_NAME: &str = "unit_name";
/// Key: requested common name.
pub const COMMON_NAME: &str = "common_name";
/// Key: requested SANs (JSON list).
pub const SANS: &str = "sans";
/// Key: certificate name (same as `unit_name`).
pub const CERTIFICATE_NAME: &str = "certificate_name";
/// Key: provider's CA.
pub const CA: &str = "ca";
/// Key: v4 requirer's CSR list.
pub const CERTIFICATE_SIGNING_REQUESTS: &str = "certificate_signing_requests";
/// Key: v4 provider's certificate list (app bag).
pub const CERTIFICATES: &str = "certificates";

const PEM_CERT: &str = "-----BEGIN CERTIFICATE-----";
const PEM_CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----";

/// `docker-registry/0` → `docker-registry_0`, the legacy protocol's unit name.
pub fn legacy_unit_name(unit: &str) -> String {
    unit.replace('/', "_")
}

/// The legacy request a registry unit writes in its unit bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRequest {
    /// `docker-registry_0`.
    pub unit_name: String,
    /// The certificate's common name (the unit's address).
    pub common_name: String,
    /// Subject alternative names, in the order given.
    pub sans: Vec<String>,
    /// `docker-registry_0` (the Python charm keeps the first value forever).
    pub certificate_name: String,
}

impl LegacyRequest {
    /// A request for `unit` (`docker-registry/0`) with this CN and SANs.
    pub fn new(unit: &str, common_name: &str, sans: Vec<String>) -> Self {
        let name = legacy_unit_name(unit);
        LegacyRequest {
            unit_name: name.clone(),
            common_name: common_name.to_string(),
            sans,
            certificate_name: name,
        }
    }

    /// Read a requirer bag (provider side; our fake CA in tests).
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        let unit_name = get(bag, UNIT_NAME).ok_or_else(|| {
            WireError::missing(UNIT_NAME, "the provider names certificates after it")
        })?;
        let common_name = get(bag, COMMON_NAME)
            .ok_or_else(|| WireError::missing(COMMON_NAME, "a server certificate needs a CN"))?;
        let sans = match get(bag, SANS) {
            None => Vec::new(),
            Some(raw) => string_list(SANS, raw)?,
        };
        Ok(LegacyRequest {
            unit_name: unit_name.to_string(),
            common_name: common_name.to_string(),
            sans,
            certificate_name: get(bag, CERTIFICATE_NAME).unwrap_or(unit_name).to_string(),
        })
    }

    /// The four keys to write.
    pub fn to_databag(&self) -> Databag {
        let sans = Value::Array(self.sans.iter().cloned().map(Value::String).collect());
        [
            (UNIT_NAME, self.unit_name.clone()),
            (COMMON_NAME, self.common_name.clone()),
            (SANS, dumps(&sans)),
            (CERTIFICATE_NAME, self.certificate_name.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// A certificate and its key, raw PEM (the certificate may carry a text preamble).
#[derive(Clone, PartialEq, Eq)]
pub struct CertKey {
    /// Certificate PEM.
    pub cert: String,
    /// Private key PEM.
    pub key: String,
}

/// What we need to serve TLS: CA, certificate and key, raw PEM. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The CA PEM (sent to clients as `tls_ca`).
    pub ca: String,
    /// Certificate PEM, possibly after easyrsa's text dump.
    pub cert: String,
    /// Private key PEM.
    pub key: String,
}

impl fmt::Debug for CertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertKey")
            .field("cert", &format_args!("<{} bytes>", self.cert.len()))
            .field("key", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("ca", &format_args!("<{} bytes>", self.ca.len()))
            .field("cert", &format_args!("<{} bytes>", self.cert.len()))
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A legacy provider's unit bag (easyrsa), kept raw per requirer unit: a malformed entry
/// for another unit must not stop us from reading ours.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LegacyProvider {
    /// `ca`, raw.
    pub ca: Option<String>,
    /// `<unit_name>.server.cert` / `.server.key`, raw, by legacy unit name.
    pub server: BTreeMap<String, (Option<String>, Option<String>)>,
    /// `<unit_name>.processed_requests`, raw JSON, by legacy unit name.
    pub processed: BTreeMap<String, String>,
}

impl LegacyProvider {
    /// Collect the provider's keys; nothing is validated until [`Self::issued_for`].
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        let mut out = LegacyProvider {
            ca: get(bag, CA).map(String::from),
            ..Default::default()
        };
        for (k, v) in bag.iter().filter(|(_, v)| !v.is_empty()) {
            if let Some(unit) = k.strip_suffix(".server.cert") {
                out.server.entry(unit.to_string()).or_default().0 = Some(v.clone());
            } else if let Some(unit) = k.strip_suffix(".server.key") {
                out.server.entry(unit.to_string()).or_default().1 = Some(v.clone());
            } else if let Some(unit) = k.strip_suffix(".processed_requests") {
                out.processed.insert(unit.to_string(), v.clone());
            }
        }
        Ok(out)
    }

    /// What a provider writes (our fake CA): `ca`, then each unit's cert, key and requests.
    pub fn to_databag(&self) -> Databag {
        let mut bag = Databag::new();
        if let Some(ca) = &self.ca {
            bag.insert(CA.into(), ca.clone());
        }
        for (unit, (cert, key)) in &self.server {
            if let Some(cert) = cert {
                bag.insert(format!("{unit}.server.cert"), cert.clone());
            }
            if let Some(key) = key {
                bag.insert(format!("{unit}.server.key"), key.clone());
            }
        }
        for (unit, raw) in &self.processed {
            bag.insert(format!("{unit}.processed_requests"), raw.clone());
        }
        bag
    }

    /// Record a server certificate for `unit_name` (`docker-registry_0`).
    pub fn issue(&mut self, unit_name: &str, pair: CertKey) {
        self.server
            .insert(unit_name.to_string(), (Some(pair.cert), Some(pair.key)));
    }

    /// Our server certificate, by OUR legacy unit name (`docker-registry_0`).
    ///
    /// `Ok(None)` while nothing was issued to us; an error when the answer is half
    /// there or not PEM, naming the key.
    pub fn issued_for(&self, unit_name: &str) -> Result<Option<IssuedCert>, WireError> {
        let cert_key = format!("{unit_name}.server.cert");
        let key_key = format!("{unit_name}.server.key");
        let (cert, key) = match self.server.get(unit_name) {
            None | Some((None, None)) => return Ok(None),
            Some((Some(_), None)) => {
                return Err(WireError::missing(
                    key_key,
                    "a certificate needs its private key",
                ))
            }
            Some((None, Some(_))) => {
                return Err(WireError::missing(
                    cert_key,
                    "a private key needs its certificate",
                ))
            }
            Some((Some(cert), Some(key))) => (cert, key),
        };
        check_cert(&cert_key, cert)?;
        check_key(&key_key, key)?;
        let ca = self.ca.as_deref().ok_or_else(|| {
            WireError::missing(CA, "clients need the CA that signed our certificate")
        })?;
        check_cert(CA, ca)?;
        Ok(Some(IssuedCert {
            ca: ca.to_string(),
            cert: cert.clone(),
            key: key.clone(),
        }))
    }

    /// `<unit_name>.processed_requests` decoded: CN → certificate and key.
    pub fn processed_for(&self, unit_name: &str) -> Result<BTreeMap<String, CertKey>, WireError> {
        let key = format!("{unit_name}.processed_requests");
        let Some(raw) = self.processed.get(unit_name) else {
            return Ok(BTreeMap::new());
        };
        let bad = |problem: &str| WireError::invalid(key.clone(), problem.to_string());
        let value: Value = serde_json::from_str(raw)
            .map_err(|_| bad("expected JSON {\"<cn>\": {\"cert\": PEM, \"key\": PEM}}"))?;
        let Value::Object(map) = value else {
            return Err(bad("expected a JSON object keyed by common name"));
        };
        let mut out = BTreeMap::new();
        for (cn, entry) in map {
            let cert = entry.get("cert").and_then(Value::as_str);
            let pkey = entry.get("key").and_then(Value::as_str);
            let (Some(cert), Some(pkey)) = (cert, pkey) else {
                return Err(bad("each entry needs string `cert` and `key`"));
            };
            check_cert(&key, cert)?;
            check_key(&key, pkey)?;
            out.insert(
                cn,
                CertKey {
                    cert: cert.to_string(),
                    key: pkey.to_string(),
                },
            );
        }
        Ok(out)
    }
}

/// Encode a `processed_requests` value (our fake CA).
pub fn processed_requests_json(entries: &BTreeMap<String, CertKey>) -> String {
    let map: Map<String, Value> = entries
        .iter()
        .map(|(cn, ck)| (cn.clone(), json!({"cert": ck.cert, "key": ck.key})))
        .collect();
    dumps(&Value::Object(map))
}

fn check_cert(key: &str, pem: &str) -> Result<(), WireError> {
    if pem.contains(PEM_CERT) {
        Ok(())
    } else {
        Err(WireError::invalid(
            key,
            format!("expected a PEM certificate ({PEM_CERT})"),
        ))
    }
}

/// Any PEM private key: `PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`.
fn check_key(key: &str, pem: &str) -> Result<(), WireError> {
    let armoured = pem
        .lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.trim_end().ends_with("PRIVATE KEY-----"));
    if armoured {
        Ok(())
    } else {
        Err(WireError::invalid(
            key,
            "expected a PEM private key (-----BEGIN ... PRIVATE KEY-----)",
        ))
    }
}

fn string_list(key: &str, raw: &str) -> Result<Vec<String>, WireError> {
    let value: Value = serde_json::from_str(raw).map_err(|_| {
        WireError::invalid(
            key,
            format!("`{raw}` is not JSON: expected a list like [\"10.0.0.1\"]"),
        )
    })?;
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(WireError::invalid(
                    key,
                    format!("list entries must be strings, got `{other}`"),
                )),
            })
            .collect(),
        other => Err(WireError::invalid(
            key,
            format!("expected a JSON list of strings, got `{other}`"),
        )),
    }
}

/// One v4 certificate signing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrRequest {
    /// The CSR, PEM.
    pub csr: String,
    /// Whether a CA certificate is requested (never, for the registry).
    pub ca: bool,
}

/// The v4 requirer's `certificate_signing_requests`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsrRequests {
    /// The requests, in order.
    pub requests: Vec<CsrRequest>,
}

impl CsrRequests {
    /// Read a requirer bag (provider side, tests).
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        let Some(raw) = get(bag, CERTIFICATE_SIGNING_REQUESTS) else {
            return Ok(Self::default());
        };
        let items = json_list(CERTIFICATE_SIGNING_REQUESTS, raw)?;
        let requests = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let bad = |p: &str| {
                    WireError::invalid(CERTIFICATE_SIGNING_REQUESTS, format!("entry {i}: {p}"))
                };
                let csr = item
                    .get("certificate_signing_request")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("needs a string `certificate_signing_request`"))?;
                if !csr.contains(PEM_CSR) {
                    return Err(bad("`certificate_signing_request` is not a PEM CSR"));
                }
                let ca = match item.get("ca") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(bad("`ca` must be true or false")),
                };
                Ok(CsrRequest {
                    csr: csr.to_string(),
                    ca,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(CsrRequests { requests })
    }

    /// The one key to write (in the unit bag, or the app bag in app mode).
    pub fn to_databag(&self) -> Databag {
        let list = Value::Array(
            self.requests
                .iter()
                .map(|r| json!({"certificate_signing_request": r.csr, "ca": r.ca}))
                .collect(),
        );
        Databag::from([(CERTIFICATE_SIGNING_REQUESTS.to_string(), dumps(&list))])
    }
}

/// One v4 answer from the provider's app bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvidedCert {
    /// The CSR this answers, PEM.
    pub csr: String,
    /// The certificate, PEM.
    pub certificate: String,
    /// The issuing CA, PEM.
    pub ca: String,
    /// Chain, PEM each (may be empty).
    pub chain: Vec<String>,
    /// The provider revoked it.
    pub revoked: bool,
}

/// The v4 provider's `certificates` (its APP bag).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProvidedCerts {
    /// The answers, in order.
    pub certificates: Vec<ProvidedCert>,
}

impl ProvidedCerts {
    /// Read the provider's app bag.
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        let Some(raw) = get(bag, CERTIFICATES) else {
            return Ok(Self::default());
        };
        let items = json_list(CERTIFICATES, raw)?;
        let certificates = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let bad = |p: String| WireError::invalid(CERTIFICATES, format!("entry {i}: {p}"));
                let field = |name: &str| {
                    item.get(name)
                        .and_then(Value::as_str)
                        .map(String::from)
                        .ok_or_else(|| bad(format!("needs a string `{name}`")))
                };
                let csr = field("certificate_signing_request")?;
                let certificate = field("certificate")?;
                let ca = field("ca")?;
                if !certificate.contains(PEM_CERT) || !ca.contains(PEM_CERT) {
                    return Err(bad("`certificate` and `ca` must be PEM certificates".into()));
                }
                let chain = match item.get("chain") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(c)) => c
                        .iter()
                        .map(|p| p.as_str().map(String::from))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("`chain` must be a list of PEM strings".into()))?,
                    Some(_) => return Err(bad("`chain` must be a list of PEM strings".into())),
                };
                let revoked = match item.get("revoked") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(bad("`revoked` must be true or false".into())),
                };
                Ok(ProvidedCert {
                    csr,
                    certificate,
                    ca,
                    chain,
                    revoked,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ProvidedCerts { certificates })
    }

    /// The provider's app-bag key (our fake CA).
    pub fn to_databag(&self) -> Databag {
        let list = Value::Array(
            self.certificates
                .iter()
                .map(|c| {
                    json!({
                        "certificate_signing_request": c.csr,
                        "certificate": c.certificate,
                        "ca": c.ca,
                        "chain": c.chain,
                        "revoked": c.revoked,
                    })
                })
                .collect(),
        );
        Databag::from([(CERTIFICATES.to_string(), dumps(&list))])
    }

    /// The non-revoked answer to `csr_pem` (compared ignoring surrounding whitespace and
    /// line-ending style).
    pub fn find_for_csr(&self, csr_pem: &str) -> Option<&ProvidedCert> {
        let want = normalize_pem(csr_pem);
        self.certificates
            .iter()
            .find(|c| !c.revoked && normalize_pem(&c.csr) == want)
    }
}

fn normalize_pem(pem: &str) -> String {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn json_list(key: &str, raw: &str) -> Result<Vec<Value>, WireError> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(Value::Null) => Ok(Vec::new()),
        Ok(_) => Err(WireError::invalid(key, "expected a JSON list of objects")),
        Err(e) => Err(WireError::invalid(
            key,
            format!("not JSON ({e}): expected a JSON list of objects"),
        )),
    }
}
