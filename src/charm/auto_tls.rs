//! `tls-auto`: HTTPS without an outside CA. The leader makes a CA once: its certificate
//! goes into the peer relation's app bag (public: clients are given it as `tls_ca`), its
//! key into the charm's Juju secret beside the http secret, both in one hook
//! ([`leader_share`], called by `secret::share`). Every unit keeps a key of its own and
//! signs itself a certificate for every address clients use (the same subject a
//! cert-provider request asks for), renewed when those addresses change or fewer than
//! [`RENEW_DAYS`] remain.
//!
//! A CA clients trust is never replaced behind their back: while the peer app bag holds a
//! CA certificate no new CA is made, and when no key that belongs to it can be found the
//! unit keeps serving the certificate it has and its status says what is missing.
//!
//! Keys and signatures are random, so the view makes them ([`draw`]) and the plan only
//! decides whether to use them, with the same pure test ([`reissue`]).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::{CharmConfig, Secret};
use crate::juju::{Databag, Status};
use crate::relations::get;
use crate::relations::peer::{self, PeerApp};
use crate::tls::auto::{self, reissue, AutoCa, RENEW_DAYS};
use crate::tls::{Pem, TlsBundle, TlsSource};
use crate::workload::files::FileSpec;

use super::builder::{Builder, PlanError};
use super::local::{self, AUTO_CERT, AUTO_KEY};
use super::model::ModelView;
use super::tls_source::subject;
use super::view::{Fresh, MachineView, View};
use super::{secret, Error};

/// The files decided from here (with tls-auto on).
pub fn paths() -> [PathBuf; 2] {
    [PathBuf::from(AUTO_KEY), PathBuf::from(AUTO_CERT)]
}

/// The CA's common name.
fn ca_name(model: &ModelView) -> String {
    format!("{} tls-auto CA", model.unit.app())
}

/// Where the CA key in use was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFrom {
    /// The charm's Juju secret (where it lives).
    Secret,
    /// The peer app bag (an earlier revision of this charm put it there): the leader moves
    /// it into the Juju secret.
    PeerBag,
    /// Made in this hook by the leader, with its certificate.
    Made,
}

impl fmt::Display for KeyFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFrom::Secret => "the Juju secret registry-shared",
            KeyFrom::PeerBag => "the peer relation",
            KeyFrom::Made => "this hook",
        })
    }
}

/// Why a shared CA certificate cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaProblem {
    /// Neither the Juju secret nor the peer app bag holds a key for it.
    KeyMissing,
    /// What is there is unusable: why, naming where (never quoting a key).
    Unusable(String),
}

/// The tls-auto CA as the model holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedCa {
    /// No CA certificate in the peer app bag, and none made in this hook.
    Absent,
    /// The certificate from the peer app bag (or made now) with a key that belongs to it,
    /// `key` exactly as stored.
    Usable {
        /// The CA, parsed.
        ca: AutoCa,
        /// Its key as found, to be stored unchanged.
        key: Secret,
        /// Where it was found.
        from: KeyFrom,
    },
    /// A CA certificate is shared, but no usable key for it: never replaced by a new CA
    /// (clients trust this one). `cert`: the certificate, when it parses.
    Unusable {
        /// The shared certificate.
        cert: Option<Pem>,
        /// What is wrong.
        problem: CaProblem,
    },
}

/// The tls-auto CA: the peer app bag's certificate with the first key that belongs to it,
/// the bag's (from an earlier revision, moved by the leader) then the Juju secret's;
/// without a certificate there, the one the leader made in this hook (`fresh`). Pure.
pub fn shared_ca(model: &ModelView, fresh: &Fresh) -> SharedCa {
    let Some(peer) = &model.peer else {
        return SharedCa::Absent;
    };
    let Some(text) = get(&peer.app, peer::TLS_AUTO_CA) else {
        return match (model.leader, &fresh.auto_ca) {
            (true, Some(ca)) => SharedCa::Usable {
                ca: ca.clone(),
                key: ca.key.clone(),
                from: KeyFrom::Made,
            },
            _ => SharedCa::Absent,
        };
    };
    let cert = match PeerApp::auto_ca(&peer.app) {
        Ok(cert) => cert,
        Err(e) => {
            return SharedCa::Unusable {
                cert: None,
                problem: CaProblem::Unusable(format!("the peer relation's {e}")),
            }
        }
    };
    let keys = [
        (KeyFrom::PeerBag, PeerApp::legacy_ca_key(&peer.app)),
        (KeyFrom::Secret, model.shared.ca_key().cloned()),
    ];
    let mut problem = CaProblem::KeyMissing;
    for (from, key) in keys {
        let Some(key) = key else { continue };
        match AutoCa::parse(text, key.expose()) {
            Ok(ca) => return SharedCa::Usable { ca, key, from },
            Err(e) if problem == CaProblem::KeyMissing => {
                problem = CaProblem::Unusable(format!("the key in {from}: {e}"));
            }
            Err(_) => {}
        }
    }
    SharedCa::Unusable { cert, problem }
}

/// The leader's part for the tls-auto CA in what `secret::share` writes: the CA key for
/// the Juju secret's content (the usable one; else whatever the secret holds, never
/// dropped), and the peer app bag keys to write with the secret, in the same hook: the
/// certificate of a CA made now, and the deletion of a key found in the bag once the
/// secret holds the CA's key (moved as it is: the same CA, no certificate changes).
pub fn leader_share(
    p: &mut Builder,
    model: &ModelView,
    fresh: &Fresh,
) -> (Option<Secret>, Databag) {
    let mut writes = Databag::new();
    let bag_key = model
        .peer
        .as_ref()
        .and_then(|peer| PeerApp::legacy_ca_key(&peer.app));
    let SharedCa::Usable { ca, key, from } = shared_ca(model, fresh) else {
        return (model.shared.ca_key().cloned(), writes);
    };
    match from {
        KeyFrom::Made => {
            let app = PeerApp {
                tls_auto_ca: Some(ca.cert.clone()),
                ..PeerApp::default()
            };
            writes.extend(app.to_databag());
            p.info(format!(
                "made the tls-auto CA {:?} (valid until {}); its certificate is shared in the \
                 peer relation, its key in the Juju secret {}",
                ca_name(model),
                ca.not_after().map(auto::date).unwrap_or_default(),
                secret::LABEL
            ));
        }
        KeyFrom::PeerBag => p.info(format!(
            "moving the tls-auto CA key from the peer relation into the Juju secret {} (the \
             same CA: no certificate changes)",
            secret::LABEL
        )),
        KeyFrom::Secret if bag_key.is_some() => p.info(format!(
            "deleting a {} from the peer relation that does not belong to the tls-auto CA \
             (its key is in the Juju secret {})",
            peer::TLS_AUTO_CA_KEY,
            secret::LABEL
        )),
        KeyFrom::Secret => {}
    }
    if bag_key.is_some() {
        writes.insert(peer::TLS_AUTO_CA_KEY.to_string(), String::new());
    }
    (Some(key), writes)
}

/// Entropy for tls-auto, drawn where the plan will need it: a CA (leader, none shared
/// yet), this unit's key (none on disk) and certificate (the one on disk must go).
pub fn draw(model: &ModelView, machine: &MachineView, fresh: &mut Fresh) -> Result<(), Error> {
    let Ok((config, _)) = &model.config else {
        return Ok(());
    };
    if !config.tls_auto {
        return Ok(());
    }
    let ca = match shared_ca(model, &Fresh::default()) {
        SharedCa::Usable { ca, .. } => ca,
        SharedCa::Absent if model.leader && model.peer.is_some() => {
            let ca = auto::make_ca(&ca_name(model), model.now, secret::random()?)?;
            fresh.auto_ca = Some(ca.clone());
            ca
        }
        // Nothing to sign with: no CA yet, or one without its key (never a new one then).
        SharedCa::Absent | SharedCa::Unusable { .. } => return Ok(()),
    };
    let key = machine.key_or_new(AUTO_KEY, &mut fresh.auto_key)?;
    let subject = subject(model, config, &machine.hostname).value;
    let cert = machine.text(AUTO_CERT);
    if fresh.auto_key.is_some()
        || reissue(cert.as_deref(), &ca, &key, &subject.sans, model.now).is_some()
    {
        fresh.auto_cert = Some(auto::issue(
            &ca,
            &key,
            &subject.common_name,
            &subject.sans,
            model.now,
            secret::random()?,
        )?);
    }
    Ok(())
}

/// What this unit serves with tls-auto on: its certificate signed by the application's
/// CA; while the leader has not shared one, nothing (a `waiting` status); while the CA
/// cannot be used, the certificate it already has (no new CA: clients trust this one),
/// with a status naming what is missing (`blocked` on the leader, which the operator
/// must help; `waiting` elsewhere, for the leader).
pub fn serve(
    p: &mut Builder,
    view: &View,
    config: &CharmConfig,
) -> Result<Option<TlsBundle>, PlanError> {
    let model = &view.model;
    let (cert, problem) = match shared_ca(model, &view.fresh) {
        SharedCa::Usable { ca, .. } => return bundle(p, view, config, &ca),
        SharedCa::Absent => {
            p.status(Status::waiting(
                "Waiting for the leader to share the tls-auto CA.",
            ));
            return Ok(None);
        }
        SharedCa::Unusable { cert, problem } => (cert, problem),
    };
    let kept = kept(p, view, cert.as_ref())?;
    let serving = match &kept {
        Some(_) => "this unit keeps serving the certificate it has, unrenewed",
        None => "this unit has no usable certificate signed by it and serves plain http",
    };
    let detail = match &problem {
        CaProblem::KeyMissing => format!(
            "its key is in neither the Juju secret {} nor the peer relation",
            secret::LABEL
        ),
        CaProblem::Unusable(why) => why.clone(),
    };
    p.warn(format!(
        "the tls-auto CA in the peer relation cannot be used: {detail}; no new CA is made, \
         as clients trust this one; {serving}"
    ));
    p.status(match (model.leader, &problem) {
        (true, CaProblem::KeyMissing) => Status::blocked(
            "The tls-auto CA's key is in neither the Juju secret registry-shared nor the \
             peer relation: no new CA is made, as clients trust this one.",
        ),
        (true, CaProblem::Unusable(_)) => Status::blocked(
            "The tls-auto CA in the peer relation is unusable (juju debug-log says why): no \
             new CA is made, as clients trust this one.",
        ),
        (false, CaProblem::KeyMissing) => {
            Status::waiting("Waiting for the leader to share the tls-auto CA key.")
        }
        (false, CaProblem::Unusable(_)) => {
            Status::waiting("Waiting for the leader to share a usable tls-auto CA.")
        }
    });
    Ok(kept)
}

/// The certificate and key this unit signed itself earlier, while still valid and signed
/// by `ca`: what it serves while it cannot sign a new one.
fn kept(p: &mut Builder, view: &View, ca: Option<&Pem>) -> Result<Option<TlsBundle>, PlanError> {
    let Some(ca) = ca else {
        return Ok(None);
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let cert = p.disk.read(Path::new(AUTO_CERT))?.map(text);
    let key = p.disk.read(Path::new(AUTO_KEY))?.map(text);
    let (Some(cert), Some(key)) = (cert, key) else {
        return Ok(None);
    };
    Ok(TlsBundle::from_pems(
        Some(ca.as_str()),
        Some(&cert),
        Some(&key),
        view.model.now,
        TlsSource::Auto,
    )
    .ok()
    .flatten())
}

/// This unit's tls-auto key and certificate (kept in the charm's own directory, signed
/// again when [`reissue`] says so) with the CA, as the bundle to serve.
fn bundle(
    p: &mut Builder,
    view: &View,
    config: &CharmConfig,
    ca: &AutoCa,
) -> Result<Option<TlsBundle>, PlanError> {
    let now = view.model.now;
    let key = match p.disk.read(Path::new(AUTO_KEY))? {
        Some(k) => Secret::new(String::from_utf8_lossy(k).into_owned()),
        None => {
            let k = view
                .fresh
                .auto_key
                .clone()
                .ok_or(PlanError::NoEntropy("tls-auto key"))?;
            p.ensure_dir(Path::new(local::STATE_DIR), 0o700, None);
            p.write(
                Path::new(AUTO_KEY),
                k.expose().as_bytes(),
                FileSpec::mode(0o600),
            );
            k
        }
    };
    let subject = subject(&view.model, config, &view.machine.hostname).value;
    let current = p
        .disk
        .read(Path::new(AUTO_CERT))?
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let cert = match reissue(current.as_deref(), ca, &key, &subject.sans, now) {
        None => current.unwrap_or_default(),
        Some(why) => {
            let cert: Pem = view
                .fresh
                .auto_cert
                .clone()
                .ok_or(PlanError::NoEntropy("tls-auto certificate"))?;
            p.ensure_dir(Path::new(local::STATE_DIR), 0o700, None);
            p.write(
                Path::new(AUTO_CERT),
                cert.as_str().as_bytes(),
                FileSpec::mode(0o644),
            );
            p.info(format!(
                "signed this unit's tls-auto certificate for {} ({why}); valid until {}, \
                 renewed {RENEW_DAYS} days before",
                subject.sans_text().join(", "),
                auto::not_after(cert.as_str())
                    .map(auto::date)
                    .unwrap_or_default()
            ));
            cert.as_str().to_string()
        }
    };
    match TlsBundle::from_pems(
        Some(ca.cert.as_str()),
        Some(&cert),
        Some(key.expose()),
        now,
        TlsSource::Auto,
    ) {
        Ok(bundle) => Ok(bundle),
        Err(e) => {
            // Only a broken CA in the peer bag gets here: serve nothing rather than it.
            p.warn(format!("the tls-auto certificate is unusable: {e}"));
            Ok(None)
        }
    }
}
