//! Which TLS source wins, and its files: `tls-*-blob` options > a certificate from
//! cert-provider > files an operator put at the `tls-*-path`s > `tls-auto` > plain HTTP.
//! The charm writes blobs, cert-provider and tls-auto material over the paths (setting an
//! operator's files aside, taking the Python charm's copies of the same material as its
//! own); operator files are used as they are, once checked (valid; served through copies
//! when the registry's user cannot read them). A cert-provider renewal never drops to
//! http: the last certificate it issued serves until the new one arrives.

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

use super::advertise::{self, Note};
use super::builder::Disk;
use super::builder::{Builder, PlanError};
use super::local::{self, CsrRecord, TlsFrom};
use super::model::{ModelView, RelationView};
use super::notes::{Level, LogLine, Noted};
use super::ownership::{drop_owned, put, put_over_operator, Wanted};
use super::view::View;
use super::{auto_tls, mtls, publish};

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
    if config.tls_auto {
        out.extend(auto_tls::paths());
    }
    out.extend([PathBuf::from(COPY_CERT), PathBuf::from(COPY_KEY)]);
    out.extend(mtls::paths());
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
/// `http-host`, every proxy in front, the host name.
pub fn subject(model: &ModelView, config: &CharmConfig, hostname: &str) -> Noted<Subject> {
    // Every proxy: clients may reach the registry through any of them (B34,
    // docs/python-charm-bugs.md#b34), and TLS passes through haproxy to the registry.
    let proxies = advertise::proxy_hosts(&model.website);
    let mut notes = proxies.notes;
    let ingress: Vec<std::net::IpAddr> = model.address.into_iter().collect();
    let mut proxy_sans: Vec<San> = proxies
        .value
        .iter()
        .filter_map(|h| h.to_string().parse::<San>().ok())
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
    /// The certificate and key files the registry reads: the tls-*-paths, or the charm's
    /// copies of an operator's files its user cannot read.
    pub files: (PathBuf, PathBuf),
    /// Said after `Ready at ...`: a certificate awaited, a renewal pending.
    pub notes: Vec<Note>,
}

impl Tls {
    /// Plain http, with `notes`.
    fn off(paths: &TlsPaths, notes: Vec<Note>) -> Self {
        Tls {
            on: false,
            ca: None,
            read_at_start: Vec::new(),
            files: (paths.cert.clone(), paths.key.clone()),
            notes,
        }
    }
}

/// The outcome of choosing TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    /// Serve with this.
    Tls(Tls),
    /// The operator's files cannot be used: the reason, naming the option.
    Unusable(String),
}

/// Copies of an operator's certificate and key that the registry's user cannot read.
pub const COPY_CERT: &str = "/etc/docker/registry/operator-tls.crt";
/// See [`COPY_CERT`].
pub const COPY_KEY: &str = "/etc/docker/registry/operator-tls.key";

/// Chooses the TLS source and plans its files (and, with cert-provider, our request).
/// Precedence: blobs > cert-provider > operator files > tls-auto > plain http; a
/// cert-provider renewal keeps the certificate it issued last until the new one arrives.
pub fn plan(
    p: &mut Builder,
    view: &View,
    config: &CharmConfig,
    blob_tls: Option<TlsBundle>,
    paths: &TlsPaths,
    account: &Account,
) -> Result<Chosen, PlanError> {
    let answer = match &view.model.cert_provider {
        Some(rel) => Some(cert_provider(p, view, rel, config)?),
        None => {
            p.local.csr = None;
            None
        }
    };
    let mut notes = Vec::new();
    if let Some(bundle) = blob_tls {
        return serve(p, paths, account, bundle, TlsFrom::Blobs, notes);
    }
    if let Some(answer) = answer {
        match answer {
            Answer::Issued { bundle, pending } => {
                if pending {
                    notes.push(Note::RenewalPending);
                }
                return serve(p, paths, account, bundle, TlsFrom::CertProvider, notes);
            }
            Answer::Awaited | Answer::Unusable => {
                // Never back to http while the provider has nothing new to use: the last
                // certificate it issued still serves.
                let last = match p.local.tls_from == Some(TlsFrom::CertProvider) {
                    true => kept(p, paths, view.model.now)?,
                    false => None,
                };
                notes.push(match (&answer, &last) {
                    (Answer::Unusable, _) => Note::CertificateUnusable,
                    (_, Some(_)) => Note::RenewalPending,
                    (_, None) => Note::CertificateAwaited,
                });
                if let Some(last) = last {
                    return Ok(Chosen::Tls(Tls { notes, ..last }));
                }
            }
        }
    }
    if !config.tls_auto || operator_files(p, paths)? {
        // The paths go back to the operator first: what was set aside is then an
        // operator file again, and used as one.
        for (_, path) in paths.all() {
            drop_owned(p, path)?;
        }
        let chosen = operator(p, paths, view.model.now, account)?;
        if let Chosen::Tls(tls) = &chosen {
            p.local.tls_from = tls.on.then_some(TlsFrom::Operator);
            if tls.on {
                return Ok(Chosen::Tls(Tls {
                    notes,
                    ..tls.clone()
                }));
            }
            return Ok(Chosen::Tls(Tls::off(paths, notes)));
        }
        return Ok(chosen);
    }
    match auto_tls::serve(p, view, config)? {
        Some(bundle) => serve(p, paths, account, bundle, TlsFrom::Auto, notes),
        None => {
            for (_, path) in paths.all() {
                drop_owned(p, path)?;
            }
            p.local.tls_from = None;
            Ok(Chosen::Tls(Tls::off(paths, notes)))
        }
    }
}

/// Writes a source's certificate, key and CA over the tls-*-paths (setting an operator's
/// files aside first; taking the Python charm's copies of the same as the charm's own).
fn serve(
    p: &mut Builder,
    paths: &TlsPaths,
    account: &Account,
    bundle: TlsBundle,
    from: TlsFrom,
    notes: Vec<Note>,
) -> Result<Chosen, PlanError> {
    p.debug(format!("TLS from {from:?}"));
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
    let ca = bundle.ca.as_ref().map(|ca| Wanted {
        path: paths.ca.clone(),
        contents: ca.as_str().as_bytes().to_vec(),
        spec: FileSpec::mode(0o644),
    });
    let mut all = vec![&cert, &key];
    all.extend(ca.as_ref());
    adopt(p, &all, from)?;
    put_over_operator(p, &cert)?;
    put_over_operator(p, &key)?;
    match &ca {
        Some(w) => {
            put_over_operator(p, w)?;
        }
        None => drop_owned(p, &paths.ca)?,
    }
    p.local.tls_from = Some(from);
    Ok(Chosen::Tls(Tls {
        on: true,
        ca: bundle.ca.map(|ca| ca.as_str().to_string()),
        read_at_start: vec![cert.contents, key.contents],
        files: (paths.cert.clone(), paths.key.clone()),
        notes,
    }))
}

/// Issue 17 item 1: right after the switch from the Python charm, a file at a tls-*-path
/// that holds what this source holds (the same certificate, key or CA, however written)
/// is one the Python charm wrote from the same blobs or easyrsa answer, not an
/// operator's: it becomes the charm's own (rewritten in place with the right owner and
/// mode), so it is never set aside and never put back later.
fn adopt(p: &mut Builder, wanted: &[&Wanted], from: TlsFrom) -> Result<(), PlanError> {
    if !p.local.python_files {
        return Ok(());
    }
    for w in wanted {
        let Some(current) = p.disk.read(&w.path)?.map(<[u8]>::to_vec) else {
            continue;
        };
        if p.local.owns(&w.path, &current)
            || p.local.displaced.contains_key(&w.path)
            || !tls::auto::same_material(&current, &w.contents)
        {
            continue;
        }
        p.local
            .owned
            .insert(w.path.clone(), local::sha256(&current));
        let source = match from {
            TlsFrom::Blobs => "the tls-*-blob options",
            TlsFrom::CertProvider => "cert-provider's answer",
            TlsFrom::Operator | TlsFrom::Auto => "this charm's source",
        };
        p.info(format!(
            "{} holds what {source} holds: the Python charm wrote it, so it is this \
             charm's file now (owner and mode set as this charm's; never put back)",
            w.path.display()
        ));
    }
    Ok(())
}

/// Whether an operator's certificate and key are there: at the tls-*-paths (not written
/// by the charm), or set aside by the charm and due back.
fn operator_files(p: &Builder, paths: &TlsPaths) -> Result<bool, PlanError> {
    for path in [&paths.cert, &paths.key] {
        let theirs = match p.disk.read(path)? {
            Some(c) => !p.local.owns(path, c),
            None => false,
        };
        if !theirs && !p.local.displaced.contains_key(path) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The certificate cert-provider issued last, as the charm wrote it, while it is still
/// valid: what serves during a renewal.
fn kept(p: &Builder, paths: &TlsPaths, now: SystemTime) -> Result<Option<Tls>, PlanError> {
    let ours = |path: &Path| -> Result<Option<Vec<u8>>, PlanError> {
        Ok(p.disk
            .read(path)?
            .filter(|c| p.local.owns(path, c))
            .map(<[u8]>::to_vec))
    };
    let (Some(cert), Some(key)) = (ours(&paths.cert)?, ours(&paths.key)?) else {
        return Ok(None);
    };
    let ca = ours(&paths.ca)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match TlsBundle::from_pems(
        ca.as_deref(),
        Some(&text(&cert)),
        Some(&text(&key)),
        now,
        TlsSource::CertProvider,
    ) {
        Ok(Some(_)) => Ok(Some(Tls {
            on: true,
            ca,
            read_at_start: vec![cert, key],
            files: (paths.cert.clone(), paths.key.clone()),
            notes: Vec::new(),
        })),
        _ => Ok(None),
    }
}

/// Operator-placed certificate files at the tls-*-paths that the charm did not write.
/// When the registry's user cannot read them (a root-only key: what an admin or the
/// Python charm's root container was content with), the registry serves copies the
/// charm keeps for it, so a switch from the Python charm keeps serving.
fn operator(
    p: &mut Builder,
    paths: &TlsPaths,
    now: SystemTime,
    account: &Account,
) -> Result<Chosen, PlanError> {
    let read = |p: &Builder, path: &Path| -> Result<Option<Vec<u8>>, PlanError> {
        Ok(p.disk
            .read(path)?
            .filter(|c| !p.local.owns(path, c))
            .map(<[u8]>::to_vec))
    };
    let (Some(cert_pem), Some(key_pem)) = (read(p, &paths.cert)?, read(p, &paths.key)?) else {
        drop_copies(p)?;
        return Ok(Chosen::Tls(Tls::off(paths, Vec::new())));
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let ca_text = read(p, &paths.ca)?.as_deref().map(text);
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
    let mut unreadable = Vec::new();
    for path in [&paths.cert, &paths.key] {
        if p.disk
            .stat(path)?
            .is_some_and(|meta| !account.can_read(&meta))
        {
            unreadable.push(path.display().to_string());
        }
    }
    let files = if unreadable.is_empty() {
        drop_copies(p)?;
        (paths.cert.clone(), paths.key.clone())
    } else {
        copies(p, &cert_pem, &key_pem, &unreadable, account)?
    };
    Ok(Chosen::Tls(Tls {
        on: true,
        ca: ca_text,
        read_at_start: vec![cert_pem, key_pem],
        files,
        notes: Vec::new(),
    }))
}

/// Copies of an operator's certificate and key for the registry's user, who cannot read
/// the files named in `unreadable`; returns their paths.
fn copies(
    p: &mut Builder,
    cert: &[u8],
    key: &[u8],
    unreadable: &[String],
    account: &Account,
) -> Result<(PathBuf, PathBuf), PlanError> {
    let copies = [
        Wanted {
            path: COPY_CERT.into(),
            contents: cert.to_vec(),
            spec: FileSpec::mode(0o644),
        },
        Wanted {
            path: COPY_KEY.into(),
            contents: key.to_vec(),
            spec: FileSpec::mode(0o600).owned_by(account.owner()),
        },
    ];
    let mut changed = false;
    for w in &copies {
        changed |= put(p, w)?;
    }
    if changed {
        p.info(format!(
            "{} cannot be read by the {SERVICE_USER} user, which runs the registry: it \
             serves copies the charm keeps in {COPY_CERT} and {COPY_KEY} (renewed from the \
             originals at every hook)",
            unreadable.join(" and ")
        ));
    }
    Ok((PathBuf::from(COPY_CERT), PathBuf::from(COPY_KEY)))
}

/// Lets go of the copies of an operator's files.
fn drop_copies(p: &mut Builder) -> Result<(), PlanError> {
    drop_owned(p, Path::new(COPY_CERT))?;
    drop_owned(p, Path::new(COPY_KEY))
}

/// What cert-provider answered our current request.
enum Answer {
    /// A usable certificate; `pending` when it does not name every address requested
    /// (the legacy answer to an older request, until the provider signs the new one).
    Issued {
        /// Certificate, key and CA.
        bundle: TlsBundle,
        /// A renewal is pending.
        pending: bool,
    },
    /// Nothing for the current request yet.
    Awaited,
    /// An answer that cannot be used (garbage, expired, not for our key): the log says
    /// why. Told apart from `Awaited` so the status does not ask the operator to wait.
    Unusable,
}

/// Publishes our certificate request on cert-provider (the legacy keys easyrsa reads and
/// a v4 CSR from a key that never leaves this unit) and returns the issued certificate
/// once it is there and valid.
fn cert_provider(
    p: &mut Builder,
    view: &View,
    rel: &RelationView,
    config: &CharmConfig,
) -> Result<Answer, PlanError> {
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
    let rejected = answer.notes.iter().any(|l| l.level == Level::Warn);
    p.logs(answer.notes);
    Ok(match answer.value {
        Some(bundle) => {
            let issued = bundle.cert_sans();
            let pending = !subject.sans.iter().all(|s| issued.contains(s));
            Answer::Issued { bundle, pending }
        }
        None if rejected => Answer::Unusable,
        None => Answer::Awaited,
    })
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
