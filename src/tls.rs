//! TLS material: PEM parsing and validation of operator/provider supplied bundles, key and
//! CSR generation for the cert-provider relation, and the certificate SAN list.
//!
//! Everything here is pure: "now" is a parameter, nothing touches files.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

use crate::secret::Secret;

pub mod auto;
pub mod client;

/// A PEM document (one or more blocks, normalised: no text before or between blocks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pem(String);

impl Pem {
    /// The PEM text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where TLS material came from; decides which names appear in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsSource {
    /// The `tls-*-blob` charm options.
    Config,
    /// The cert-provider (tls-certificates) relation.
    CertProvider,
    /// The application's own CA (`tls-auto`).
    Auto,
}

impl TlsSource {
    fn names(self) -> [&'static str; 3] {
        match self {
            TlsSource::Config => ["tls-ca-blob", "tls-cert-blob", "tls-key-blob"],
            TlsSource::CertProvider => [
                "cert-provider CA",
                "cert-provider certificate",
                "cert-provider key",
            ],
            TlsSource::Auto => ["tls-auto CA", "tls-auto certificate", "tls-auto key"],
        }
    }
}

/// A TLS problem: the option (or relation item) concerned and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option}: {problem}{}", fix.as_ref().map(|f| format!(" ({f})")).unwrap_or_default())]
pub struct TlsError {
    /// Option or relation item, e.g. `tls-cert-blob`.
    pub option: String,
    /// What is wrong (never contains key material).
    pub problem: String,
    /// How to fix it.
    pub fix: Option<String>,
}

impl TlsError {
    fn new(option: &str, problem: impl Into<String>) -> Self {
        TlsError {
            option: option.to_string(),
            problem: problem.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// A validated server certificate chain, its private key and the optional CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsBundle {
    /// CA certificate(s), when given.
    pub ca: Option<Pem>,
    /// Server certificate first, then any intermediates.
    pub cert: Pem,
    /// Private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub key: Secret,
}

/// One decoded PEM block.
struct Block {
    label: String,
    der: Vec<u8>,
}

/// Returns `text` from its first PEM armour line on, dropping any preamble such as the
/// `Certificate:` text dump easyrsa puts before the PEM block.
pub fn strip_to_pem(text: &str) -> &str {
    match text.find("-----BEGIN ") {
        Some(i) => &text[i..],
        None => text,
    }
}

/// Decodes every PEM block in `text`, skipping text outside blocks.
fn pem_blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l == end {
                closed = true;
                break;
            }
            if l.contains(':') {
                // RFC 1421 headers (Proc-Type/DEK-Info) mean a passphrase-encrypted key.
                return Err(format!("the {label} block is encrypted"));
            }
            body.push_str(l);
        }
        if !closed {
            return Err(format!("the {label} block has no END line"));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| format!("the {label} block is not valid base64 ({e})"))?;
        blocks.push(Block {
            label: label.to_string(),
            der,
        });
    }
    Ok(blocks)
}

fn encode_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every 64-byte chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Parses the CERTIFICATE blocks of `text`; errors name `option`.
fn parse_cert_blocks(option: &str, text: &str) -> Result<Vec<Vec<u8>>, TlsError> {
    let blocks = pem_blocks(text).map_err(|p| TlsError::new(option, p))?;
    let ders: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| b.der)
        .collect();
    if ders.is_empty() {
        return Err(TlsError::new(option, "contains no PEM certificate")
            .fix("expected -----BEGIN CERTIFICATE----- ..."));
    }
    for der in &ders {
        X509Certificate::from_der(der)
            .map_err(|e| TlsError::new(option, format!("certificate does not parse ({e})")))?;
    }
    Ok(ders)
}

/// The CA certificate(s) of `option` (e.g. `tls-client-ca`), normalised to PEM; at least
/// one certificate, each parsing.
pub fn ca_bundle(option: &str, text: &str) -> Result<Pem, TlsError> {
    let ders = parse_cert_blocks(option, text)?;
    Ok(Pem(ders
        .iter()
        .map(|d| encode_pem("CERTIFICATE", d))
        .collect()))
}

/// Reads a private key PEM (PKCS#8, PKCS#1 RSA or SEC1 EC) and returns PKCS#8 DER.
fn parse_key(option: &str, text: &str) -> Result<Vec<u8>, TlsError> {
    let blocks = pem_blocks(text).map_err(|p| {
        TlsError::new(option, p).fix("decrypt it first: openssl pkey -in key.pem -out plain.pem")
    })?;
    let mut keys = blocks
        .into_iter()
        .filter(|b| b.label.ends_with("PRIVATE KEY"));
    let Some(block) = keys.next() else {
        return Err(TlsError::new(option, "contains no PEM private key")
            .fix("expected -----BEGIN PRIVATE KEY----- ..."));
    };
    if keys.next().is_some() {
        return Err(TlsError::new(option, "contains more than one private key"));
    }
    match block.label.as_str() {
        "PRIVATE KEY" => Ok(block.der),
        "RSA PRIVATE KEY" => Ok(pkcs1_to_pkcs8(&block.der)),
        "EC PRIVATE KEY" => sec1_to_pkcs8(&block.der).ok_or_else(|| {
            TlsError::new(option, "EC key without a supported curve (P-256 or P-384)")
        }),
        "ENCRYPTED PRIVATE KEY" => Err(TlsError::new(option, "the private key is encrypted")
            .fix("decrypt it first: openssl pkey -in key.pem -out plain.pem")),
        other => Err(TlsError::new(
            option,
            format!("unsupported key type {other:?}"),
        )),
    }
}

/// DER length octets.
fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

fn der_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(value.len()));
    out.extend_from_slice(value);
    out
}

/// Reads one TLV from `input`: (tag, value, rest).
fn der_read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// PKCS#8 PrivateKeyInfo around a PKCS#1 RSAPrivateKey (ring only reads PKCS#8).
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { rsaEncryption, NULL }
    let alg: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(alg);
    body.extend(der_tlv(0x04, pkcs1));
    der_tlv(0x30, &body)
}

/// PKCS#8 PrivateKeyInfo around a SEC1 ECPrivateKey; the curve comes from its parameters.
fn sec1_to_pkcs8(sec1: &[u8]) -> Option<Vec<u8>> {
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    let (tag, mut seq, _) = der_read(sec1)?;
    if tag != 0x30 {
        return None;
    }
    let mut curve = None;
    while !seq.is_empty() {
        let (tag, value, rest) = der_read(seq)?;
        if tag == 0xa0 {
            curve = [P256, P384].into_iter().find(|oid| *oid == value);
        }
        seq = rest;
    }
    let curve = curve?;
    let mut alg = vec![0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]; // id-ecPublicKey
    alg.extend_from_slice(curve);
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend(der_tlv(0x30, &alg));
    body.extend(der_tlv(0x04, sec1));
    Some(der_tlv(0x30, &body))
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

impl TlsBundle {
    /// Decodes the three base64 `tls-*-blob` values (empty = unset) and validates them.
    pub fn from_blobs(
        ca_b64: &str,
        cert_b64: &str,
        key_b64: &str,
        now: SystemTime,
    ) -> Result<Option<TlsBundle>, TlsError> {
        let [ca_opt, cert_opt, key_opt] = TlsSource::Config.names();
        let decode = |option: &str, v: &str| -> Result<Option<String>, TlsError> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            decode_base64_text(v)
                .map(Some)
                .map_err(|p| TlsError::new(option, p).fix("set it to `base64 -w0 <file>`"))
        };
        let ca = decode(ca_opt, ca_b64)?;
        let cert = decode(cert_opt, cert_b64)?;
        let key = decode(key_opt, key_b64)?;
        TlsBundle::from_pems(
            ca.as_deref(),
            cert.as_deref(),
            key.as_deref(),
            now,
            TlsSource::Config,
        )
    }

    /// Validates PEM texts: all unset -> None; cert and key must come together, parse,
    /// match each other, be valid at `now`, and chain to the CA when one is given.
    pub fn from_pems(
        ca: Option<&str>,
        cert: Option<&str>,
        key: Option<&str>,
        now: SystemTime,
        source: TlsSource,
    ) -> Result<Option<TlsBundle>, TlsError> {
        let [ca_opt, cert_opt, key_opt] = source.names();
        let (ca, cert, key) = (non_blank(ca), non_blank(cert), non_blank(key));
        let (cert, key) = match (cert, key) {
            (None, None) => {
                if ca.is_some() {
                    return Err(
                        TlsError::new(cert_opt, format!("unset while {ca_opt} is set"))
                            .fix(format!("set {cert_opt} and {key_opt}, or unset {ca_opt}")),
                    );
                }
                return Ok(None);
            }
            (Some(_), None) => {
                return Err(
                    TlsError::new(key_opt, format!("unset while {cert_opt} is set"))
                        .fix("the certificate and its key are needed together"),
                )
            }
            (None, Some(_)) => {
                return Err(
                    TlsError::new(cert_opt, format!("unset while {key_opt} is set"))
                        .fix("the certificate and its key are needed together"),
                )
            }
            (Some(c), Some(k)) => (c, k),
        };

        let chain = parse_cert_blocks(cert_opt, cert)?;
        let key_der = parse_key(key_opt, key)?;
        let ca_ders = ca.map(|c| parse_cert_blocks(ca_opt, c)).transpose()?;

        let leaf = parse_der(&chain[0])
            .map_err(|e| TlsError::new(cert_opt, format!("certificate does not parse ({e})")))?;

        // The key must belong to the certificate: compare public keys.
        let key_pair = rcgen::KeyPair::try_from(key_der.as_slice()).map_err(|e| {
            TlsError::new(key_opt, format!("private key cannot be loaded ({e})"))
                .fix("use an unencrypted RSA (>= 2048 bit) or ECDSA P-256/P-384 key")
        })?;
        if key_pair.public_key_raw() != leaf.public_key().subject_public_key.data.as_ref() {
            return Err(TlsError::new(
                key_opt,
                format!("private key does not match the certificate in {cert_opt}"),
            )
            .fix("provide the key the certificate was issued for"));
        }

        let now_s = unix_seconds(now);
        let validity = leaf.validity();
        if now_s < validity.not_before.timestamp() {
            return Err(TlsError::new(
                cert_opt,
                format!("certificate is not valid before {}", validity.not_before),
            )
            .fix("check the clock, or provide a certificate that is valid now"));
        }
        if now_s > validity.not_after.timestamp() {
            return Err(TlsError::new(
                cert_opt,
                format!("certificate expired on {}", validity.not_after),
            )
            .fix("provide a renewed certificate"));
        }

        if let Some(ca_ders) = &ca_ders {
            let cas = ca_ders
                .iter()
                .map(|d| parse_der(d))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TlsError::new(ca_opt, format!("certificate does not parse ({e})")))?;
            let inter = chain[1..]
                .iter()
                .map(|d| parse_der(d))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    TlsError::new(cert_opt, format!("certificate does not parse ({e})"))
                })?;
            if !chains_to(&leaf, &inter, &cas) {
                return Err(TlsError::new(
                    cert_opt,
                    format!("certificate is not signed by the CA in {ca_opt}"),
                )
                .fix(format!(
                    "provide the CA that issued the certificate, or unset {ca_opt}"
                )));
            }
        }

        let cert_pem: String = chain.iter().map(|d| encode_pem("CERTIFICATE", d)).collect();
        let ca_pem = ca_ders.map(|ds| {
            Pem(ds
                .iter()
                .map(|d| encode_pem("CERTIFICATE", d))
                .collect::<String>())
        });
        Ok(Some(TlsBundle {
            ca: ca_pem,
            cert: Pem(cert_pem),
            key: Secret::new(encode_pem("PRIVATE KEY", &key_der)),
        }))
    }

    /// The SANs of the server certificate (to decide whether a reissue is needed).
    pub fn cert_sans(&self) -> Vec<San> {
        cert_sans(self.cert.as_str())
    }
}

fn non_blank(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.trim().is_empty())
}

fn parse_der(
    der: &[u8],
) -> Result<X509Certificate<'_>, x509_parser::nom::Err<x509_parser::error::X509Error>> {
    X509Certificate::from_der(der).map(|(_, c)| c)
}

/// True when `cert` is signed by one of `cas`, directly or through `intermediates`.
fn chains_to(
    cert: &X509Certificate<'_>,
    intermediates: &[X509Certificate<'_>],
    cas: &[X509Certificate<'_>],
) -> bool {
    let signed_by = |child: &X509Certificate<'_>, parent: &X509Certificate<'_>| {
        child.issuer() == parent.subject()
            && child.verify_signature(Some(parent.public_key())).is_ok()
    };
    let mut current = cert;
    // Bounded walk: each step moves up one intermediate.
    for _ in 0..=intermediates.len() {
        if cas.iter().any(|ca| signed_by(current, ca)) {
            return true;
        }
        match intermediates.iter().find(|i| signed_by(current, i)) {
            Some(next) => current = next,
            None => return false,
        }
    }
    false
}

/// SANs (DNS and IP) of the first certificate in `pem`; empty when it does not parse.
pub fn cert_sans(pem: &str) -> Vec<San> {
    let Ok(blocks) = pem_blocks(pem) else {
        return Vec::new();
    };
    let Some(first) = blocks.iter().find(|b| b.label == "CERTIFICATE") else {
        return Vec::new();
    };
    let Ok((_, cert)) = X509Certificate::from_der(&first.der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for name in &san.general_names {
                match name {
                    GeneralName::DNSName(d) => out.push(San::Dns(d.to_ascii_lowercase())),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            out.push(San::Ip(IpAddr::from(a)));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            out.push(San::Ip(IpAddr::from(a)));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A subject alternative name for the server certificate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum San {
    /// An IP address SAN.
    Ip(IpAddr),
    /// A DNS name SAN (lower case).
    Dns(String),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Ip(ip) => write!(f, "{ip}"),
            San::Dns(d) => f.write_str(d),
        }
    }
}

impl FromStr for San {
    type Err = TlsError;

    /// An IP address, else a DNS name (letters, digits, '-', '_', '.', leading `*.`).
    fn from_str(s: &str) -> Result<San, TlsError> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(San::Ip(ip));
        }
        let name = s.trim_end_matches('.').to_ascii_lowercase();
        let body = name.strip_prefix("*.").unwrap_or(&name);
        let ok = !body.is_empty()
            && name.len() <= 253
            && body.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if ok {
            Ok(San::Dns(name))
        } else {
            Err(TlsError::new(
                "SAN",
                format!("{s:?} is neither an IP address nor a DNS name"),
            ))
        }
    }
}

/// The certificate SANs: ingress and bind addresses, the `http-host` host name, proxy
/// (haproxy) addresses and the machine host name; sorted, without duplicates. Names that
/// are no valid SAN are left out and returned with the reason.
pub fn compute_sans(
    ingress: &[IpAddr],
    bind: &[IpAddr],
    http_host: Option<&str>,
    proxy: &[San],
    hostname: &str,
) -> (Vec<San>, Vec<(String, TlsError)>) {
    let mut out: Vec<San> = ingress
        .iter()
        .chain(bind)
        .map(|ip| San::Ip(*ip))
        .chain(proxy.iter().cloned())
        .collect();
    let mut skipped = Vec::new();
    for name in http_host.into_iter().chain(Some(hostname)) {
        match name.parse::<San>() {
            Ok(san) => out.push(san),
            Err(e) => skipped.push((name.to_string(), e)),
        }
    }
    out.sort();
    out.dedup();
    (out, skipped)
}

/// Generates a new ECDSA P-256 private key (PKCS#8 PEM).
pub fn generate_key() -> Result<Secret, TlsError> {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| TlsError::new("private key", format!("generation failed ({e})")))?;
    Ok(Secret::new(kp.serialize_pem()))
}

/// Certificate (or request) parameters naming `common_name` and exactly `sans`; `err`
/// words a failure for the caller.
fn subject_params(
    common_name: &str,
    sans: &[San],
    err: &dyn Fn(String) -> TlsError,
) -> Result<rcgen::CertificateParams, TlsError> {
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| err(format!("{e}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    for san in sans {
        params.subject_alt_names.push(match san {
            San::Ip(ip) => rcgen::SanType::IpAddress(*ip),
            San::Dns(d) => rcgen::SanType::DnsName(
                d.as_str()
                    .try_into()
                    .map_err(|e| err(format!("SAN {d:?}: {e}")))?,
            ),
        });
    }
    Ok(params)
}

/// A PEM certificate signing request for `key` with `common_name` and `sans`.
pub fn csr(key: &Secret, common_name: &str, sans: &[San]) -> Result<Pem, TlsError> {
    let err = |p: String| TlsError::new("certificate request", p);
    let der = parse_key("private key", key.expose())?;
    let kp = rcgen::KeyPair::try_from(der.as_slice())
        .map_err(|e| err(format!("private key cannot be loaded ({e})")))?;
    let params = subject_params(common_name, sans, &err)?;
    let req = params
        .serialize_request(&kp)
        .map_err(|e| err(format!("{e}")))?;
    Ok(Pem(req.pem().map_err(|e| err(format!("{e}")))?))
}

/// Decodes a base64 blob (whitespace ignored, padding optional) into UTF-8 text.
///
/// The error never contains the value: blobs carry private keys.
pub fn decode_base64_text(raw: &str) -> Result<String, String> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(compact.as_bytes())
        .map_err(|e| format!("is not valid base64 ({e})"))?;
    String::from_utf8(bytes).map_err(|_| "does not decode to text (expected PEM)".to_string())
}

/// Shorthand for [`TlsBundle::from_blobs`].
pub fn from_blobs(
    ca_b64: &str,
    cert_b64: &str,
    key_b64: &str,
    now: SystemTime,
) -> Result<Option<TlsBundle>, TlsError> {
    TlsBundle::from_blobs(ca_b64, cert_b64, key_b64, now)
}

/// The certificates in `text` as canonical PEM, however they arrived: as PEM, as PEM
/// whose line breaks became spaces (what `juju run key="$(cat ca.pem)"` delivers, since
/// Juju reads each value as YAML, which folds lines), or as base64 of the PEM (like the
/// `tls-*-blob` options). `None` when it holds no certificate.
pub fn normalise_certificates(text: &str) -> Option<String> {
    if !text.contains("-----BEGIN ") {
        return decode_base64_text(text)
            .ok()
            .filter(|t| t.contains("-----BEGIN "))
            .and_then(|t| normalise_certificates(&t));
    }
    let mut out = String::new();
    let mut tokens = text.split_whitespace();
    while let Some(token) = tokens.next() {
        if token != "-----BEGIN" {
            continue;
        }
        // The label ("CERTIFICATE-----"), the base64 body up to "-----END", the label.
        let label = armour_label(&mut tokens);
        let body: String = tokens.by_ref().take_while(|t| *t != "-----END").collect();
        if label != "CERTIFICATE-----" || armour_label(&mut tokens) != label {
            return None;
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .ok()?;
        X509Certificate::from_der(&der).ok()?;
        out.push_str(&encode_pem("CERTIFICATE", &der));
    }
    (!out.is_empty()).then_some(out)
}

/// The words of a PEM armour label, up to and with the one ending in `-----`.
fn armour_label<'a>(tokens: &mut impl Iterator<Item = &'a str>) -> String {
    let mut words = Vec::new();
    for t in tokens.by_ref() {
        words.push(t);
        if t.ends_with("-----") {
            break;
        }
    }
    words.join(" ")
}

/// The SHA-256 fingerprint of each certificate in `pem`, as `openssl x509 -fingerprint
/// -sha256` prints it (`AB:CD:...`).
pub fn sha256_fingerprints(pem: &str) -> Vec<String> {
    use sha2::{Digest, Sha256};
    pem_blocks(pem)
        .unwrap_or_default()
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| {
            Sha256::digest(&b.der)
                .iter()
                .map(|x| format!("{x:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> String {
        rcgen::generate_simple_self_signed(vec!["ca.test".into()])
            .map(|c| c.cert.pem())
            .unwrap_or_default()
    }

    #[test]
    fn certificates_arrive_as_pem_folded_pem_or_base64() {
        let pem = format!("{}{}", cert(), cert());
        let canonical = normalise_certificates(&pem).unwrap();
        assert_eq!(
            canonical.matches("-----BEGIN CERTIFICATE-----\n").count(),
            2
        );
        let folded = pem.replace('\n', " ");
        assert_eq!(normalise_certificates(&folded).as_ref(), Some(&canonical));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pem);
        assert_eq!(normalise_certificates(&b64).as_ref(), Some(&canonical));
        for bad in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE----- AAAA -----END CERTIFICATE-----",
        ] {
            assert_eq!(normalise_certificates(bad), None, "{bad:?}");
        }
        let key = "-----BEGIN PRIVATE KEY----- AAAA -----END PRIVATE KEY-----";
        assert_eq!(normalise_certificates(key), None);
    }

    #[test]
    fn fingerprints_match_openssl() {
        let pem = cert();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.pem");
        std::fs::write(&file, &pem).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let theirs = text.trim().rsplit('=').next().unwrap().to_string();
        assert_eq!(sha256_fingerprints(&pem), [theirs]);
    }
}
