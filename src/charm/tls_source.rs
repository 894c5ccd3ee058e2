//! Which TLS source wins, and its files: `tls-*-blob` options > a certificate from
//! cert-provider > files an operator put at the `tls-*-path`s > plain HTTP. The charm
//! writes the first two over the paths (setting an operator's files aside); the third is
//! used as it is, once checked (it must be valid, and readable by the registry's user).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::{
    CharmConfig, Secret, DEFAULT_TLS_CA_PATH, DEFAULT_TLS_CERT_PATH, DEFAULT_TLS_KEY_PATH,
};
use crate::relations::cert_provider::{legacy_unit_name, LegacyProvider, ProvidedCerts};
use crate::tls::{self, San, TlsBundle, TlsError, TlsSource};
use crate::workload::files::FileSpec;
use crate::workload::users::{Account, SERVICE_USER};

use super::advertise;
use super::builder::Disk;
use super::builder::{Builder, PlanError};
use super::local::{self, CsrRecord, LocalState};
use super::model::{ModelView, RelationView};
use super::notes::{LogLine, Noted};
use super::ownership::{drop_owned, put_over_operator, Wanted};
use super::publish;
use super::view::View;

/// The `tls-*-path` locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// `tls-ca-path`.
    pub ca: PathBuf,
    /// `tls-cert-path`.
    pub cert: PathBuf,
    /// `tls-key-path`.
    pub key: PathBuf,
}

impl TlsPaths {
    /// The paths the config names (defaults for unset ones).
    pub fn of(config: &CharmConfig) -> Self {
        let or = |p: &Option<PathBuf>, d: &str| p.clone().unwrap_or_else(|| PathBuf::from(d));
        TlsPaths {
            ca: or(&config.tls_paths.ca, DEFAULT_TLS_CA_PATH),
            cert: or(&config.tls_paths.cert, DEFAULT_TLS_CERT_PATH),
            key: or(&config.tls_paths.key, DEFAULT_TLS_KEY_PATH),
        }
    }

    /// Each path with its option name.
    pub fn all(&self) -> [(&'static str, &PathBuf); 3] {
        [
            ("tls-ca-path", &self.ca),
            ("tls-cert-path", &self.cert),
            ("tls-key-path", &self.key),
        ]
    }
}

/// The paths decided from here: the tls-*-paths and their directories, and the key for
/// certificate requests while cert-provider is related.
pub fn paths(model: &ModelView, config: &CharmConfig) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for (_, path) in TlsPaths::of(config).all() {
        out.insert(path.clone());
        out.extend(
            path.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf),
        );
    }
    if model.cert_provider.is_some() {
        out.insert(local::CSR_KEY.into());
    }
    out
}

/// A tls-*-path that names a directory: the charm could neither read nor write a file
/// there (an operator mistake, so blocked rather than a failed hook).
pub fn path_problem(disk: &Disk, paths: &TlsPaths) -> Result<Option<String>, PlanError> {
    for (option, path) in paths.all() {
        if disk.stat(path)?.is_some_and(|m| m.is_dir) {
            return Ok(Some(format!(
                "{option}: {} is a directory (set the path of a file in it)",
                path.display()
            )));
        }
    }
    Ok(None)
}

/// What a certificate request asks for: the unit's address (or host name) as common
/// name, and every address clients use as SANs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The common name.
    pub common_name: String,
    /// The SANs, sorted.
    pub sans: Vec<San>,
}

impl Subject {
    /// The SANs as the relation carries them.
    pub fn sans_text(&self) -> Vec<String> {
        self.sans.iter().map(ToString::to_string).collect()
    }

    /// Whether `record` asks for exactly this.
    pub fn matches(&self, record: &CsrRecord) -> bool {
        record.sans == self.sans_text() && record.common_name == self.common_name
    }

    /// A new request for this subject, signed with `key` (random signature: made in the
    /// view, never in the plan).
    pub fn request(&self, key: &Secret) -> Result<CsrRecord, TlsError> {
        let csr = tls::csr(key, &self.common_name, &self.sans)?;
        Ok(CsrRecord {
            common_name: self.common_name.clone(),
            sans: self.sans_text(),
            csr: csr.as_str().to_string(),
        })
    }
}

/// The certificate subject: ingress and bind addresses, the unit's public address,
/// `http-host`, the proxy in front, the host name.
pub fn subject(model: &ModelView, config: &CharmConfig, hostname: &str) -> Noted<Subject> {
    let proxy = advertise::proxy_host(&model.website);
    let mut notes = proxy.notes;
    let ingress: Vec<std::net::IpAddr> = model.address.into_iter().collect();
    let mut proxy_sans: Vec<San> = proxy
        .value
        .and_then(|h| h.to_string().parse::<San>().ok())
        .into_iter()
        .collect();
    // The Python charm had the public address in its request; clients outside the
    // unit's network may dial it (a floating IP, a public DNS name).
    if let Some(public) = &model.public_address {
        match public.parse::<San>() {
            Ok(san) => proxy_sans.push(san),
            Err(e) => notes.push(LogLine::warn(format!(
                "not adding the public address {public:?} to the certificate SANs: {e}"
            ))),
        }
    }
    let (sans, skipped) = tls::compute_sans(
        &ingress,
        &model.bind_addresses,
        config.http_host.as_ref().map(|u| u.hostname()),
        &proxy_sans,
        hostname,
    );
    notes.extend(skipped.into_iter().map(|(name, e)| {
        LogLine::warn(format!("not adding {name:?} to the certificate SANs: {e}"))
    }));
    let common_name = model
        .address
        .map(|a| a.to_string())
        .unwrap_or_else(|| hostname.to_string());
    Noted {
        value: Subject { common_name, sans },
        notes,
    }
}

/// TLS as the registry will serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// Whether it serves https.
    pub on: bool,
    /// The CA clients are given, if any.
    pub ca: Option<String>,
    /// The certificate and key contents (the registry reads them at start).
    pub read_at_start: Vec<Vec<u8>>,
}

/// The outcome of choosing TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    /// Serve with this.
    Tls(Tls),
    /// The operator's files cannot be used: the reason, naming the option.
    Unusable(String),
}

/// Chooses the TLS source and plans its files (and, with cert-provider, our request).
pub fn plan(
    p: &mut Builder,
    view: &View,
    config: &CharmConfig,
    blob_tls: Option<TlsBundle>,
    paths: &TlsPaths,
    account: &Account,
) -> Result<Chosen, PlanError> {
    let relation_tls = match &view.model.cert_provider {
        Some(rel) => cert_provider(p, view, rel, config)?,
        None => {
            p.local.csr = None;
            None
        }
    };
    let (bundle, source) = match (blob_tls, relation_tls) {
        (Some(b), _) => (b, TlsSource::Config),
        (None, Some(b)) => (b, TlsSource::CertProvider),
        (None, None) => {
            // The paths go back to the operator first: what was set aside is then an
            // operator file again, and used as one.
            for (_, path) in paths.all() {
                drop_owned(p, path)?;
            }
            return operator(&p.disk, &p.local, paths, view.model.now, account);
        }
    };
    p.debug(format!("TLS from {source:?}"));
    let cert = Wanted {
        path: paths.cert.clone(),
        contents: bundle.cert.as_str().as_bytes().to_vec(),
        spec: FileSpec::mode(0o644),
    };
    let key = Wanted {
        path: paths.key.clone(),
        contents: bundle.key.expose().as_bytes().to_vec(),
        spec: FileSpec::mode(0o600).owned_by(account.owner()),
    };
    put_over_operator(p, &cert)?;
    put_over_operator(p, &key)?;
    let ca = match &bundle.ca {
        Some(ca) => {
            let w = Wanted {
                path: paths.ca.clone(),
                contents: ca.as_str().as_bytes().to_vec(),
                spec: FileSpec::mode(0o644),
            };
            put_over_operator(p, &w)?;
            Some(ca.as_str().to_string())
        }
        None => {
            drop_owned(p, &paths.ca)?;
            None
        }
    };
    Ok(Chosen::Tls(Tls {
        on: true,
        ca,
        read_at_start: vec![cert.contents, key.contents],
    }))
}

/// Operator-placed certificate files at the tls-*-paths that the charm did not write.
fn operator(
    disk: &Disk,
    local: &LocalState,
    paths: &TlsPaths,
    now: SystemTime,
    account: &Account,
) -> Result<Chosen, PlanError> {
    let read = |p: &Path| -> Result<Option<Vec<u8>>, PlanError> {
        Ok(disk
            .read(p)?
            .filter(|c| !local.owns(p, c))
            .map(<[u8]>::to_vec))
    };
    let (Some(cert_pem), Some(key_pem)) = (read(&paths.cert)?, read(&paths.key)?) else {
        return Ok(Chosen::Tls(Tls {
            on: false,
            ca: None,
            read_at_start: Vec::new(),
        }));
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let ca_text = read(&paths.ca)?.as_deref().map(text);
    let files = format!(
        "the certificate files at {} and {}",
        paths.cert.display(),
        paths.key.display()
    );
    match TlsBundle::from_pems(
        ca_text.as_deref(),
        Some(&text(&cert_pem)),
        Some(&text(&key_pem)),
        now,
        TlsSource::Config,
    ) {
        Ok(Some(_)) => {}
        // Empty files: TLS on with them would only crash the registry.
        Ok(None) => {
            return Ok(Chosen::Unusable(format!(
                "tls-cert-path: {files} are empty"
            )))
        }
        Err(e) => {
            return Ok(Chosen::Unusable(format!(
                "tls-cert-path: {files} are unusable: {}",
                e.problem
            )))
        }
    }
    // The registry runs as its own user: a root-only key (an admin's usual 0600, or what
    // the Python charm left) would make it exit at start, leaving the unit down.
    for (option, path) in [("tls-cert-path", &paths.cert), ("tls-key-path", &paths.key)] {
        if disk
            .stat(path)?
            .is_some_and(|meta| !account.can_read(&meta))
        {
            let p = path.display();
            return Ok(Chosen::Unusable(format!(
                "{option}: {p} is not readable by the {SERVICE_USER} user, which runs the \
                 registry (e.g. chgrp {SERVICE_USER} {p} && chmod g+r {p})"
            )));
        }
    }
    Ok(Chosen::Tls(Tls {
        on: true,
        ca: ca_text,
        read_at_start: vec![cert_pem, key_pem],
    }))
}

/// Publishes our certificate request on cert-provider (the legacy keys easyrsa reads and
/// a v4 CSR from a key that never leaves this unit) and returns the issued certificate
/// once it is there and valid.
fn cert_provider(
    p: &mut Builder,
    view: &View,
    rel: &RelationView,
    config: &CharmConfig,
) -> Result<Option<TlsBundle>, PlanError> {
    let subject = subject(&view.model, config, &view.machine.hostname);
    p.logs(subject.notes);
    let subject = subject.value;
    // Our key: generated once, 0600, never published.
    let key_path = Path::new(local::CSR_KEY);
    let key = match p.disk.read(key_path)? {
        Some(k) => Secret::new(String::from_utf8_lossy(k).into_owned()),
        None => {
            let k = view
                .fresh
                .csr_key
                .clone()
                .ok_or(PlanError::NoEntropy("certificate request key"))?;
            p.ensure_dir(Path::new(local::STATE_DIR), 0o700, None);
            p.write(key_path, k.expose().as_bytes(), FileSpec::mode(0o600));
            p.local.csr = None;
            k
        }
    };
    let record = match &p.local.csr {
        Some(r) if subject.matches(r) => r.clone(),
        _ => view
            .fresh
            .csr
            .clone()
            .ok_or(PlanError::NoEntropy("certificate request"))?,
    };
    p.local.csr = Some(record.clone());
    let desired = publish::cert_request(&view.model.unit, &record);
    p.relation(&rel.id, false, &rel.ours, &desired);
    let answer = answer(
        rel,
        &view.model.unit.to_string(),
        &record,
        &key,
        view.model.now,
    );
    p.logs(answer.notes);
    Ok(answer.value)
}

/// The certificate cert-provider issued for us: the v4 answer to our CSR (our key)
/// first, then the legacy answer (the CA's key); `None` while there is none usable.
fn answer(
    rel: &RelationView,
    unit: &str,
    record: &CsrRecord,
    key: &Secret,
    now: SystemTime,
) -> Noted<Option<TlsBundle>> {
    let mut notes = Vec::new();
    let v4 = match ProvidedCerts::parse(&rel.app) {
        Ok(provided) => provided.find_for_csr(&record.csr).cloned().map(|c| {
            let chain = std::iter::once(c.certificate.clone())
                .chain(
                    c.chain
                        .iter()
                        .filter(|p| **p != c.certificate && **p != c.ca)
                        .cloned(),
                )
                .collect::<Vec<_>>()
                .join("\n");
            (Some(c.ca), chain, key.expose().to_string())
        }),
        Err(e) => {
            notes.push(LogLine::warn(format!(
                "ignoring cert-provider app data: {e}"
            )));
            None
        }
    };
    let legacy_name = legacy_unit_name(unit);
    let legacy = rel.units.iter().find_map(|(remote, bag)| {
        match LegacyProvider::parse(bag).and_then(|p| p.issued_for(&legacy_name)) {
            Ok(Some(c)) => Some((Some(c.ca), c.cert, c.key)),
            Ok(None) => None,
            Err(e) => {
                notes.push(LogLine::warn(format!(
                    "ignoring {remote}'s certificate data: {e}"
                )));
                None
            }
        }
    });
    let Some((ca, cert, key)) = v4.or(legacy) else {
        notes.push(LogLine::info(
            "waiting for a certificate from cert-provider",
        ));
        return Noted { value: None, notes };
    };
    let value = match TlsBundle::from_pems(
        ca.as_deref(),
        Some(&cert),
        Some(&key),
        now,
        TlsSource::CertProvider,
    ) {
        Ok(bundle) => bundle,
        Err(e) => {
            notes.push(LogLine::warn(format!(
                "the certificate from cert-provider is unusable: {e}"
            )));
            None
        }
    };
    Noted { value, notes }
}
