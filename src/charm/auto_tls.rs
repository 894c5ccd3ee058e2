//! `tls-auto`: HTTPS without an outside CA. The leader makes a CA once and shares it in the
//! peer relation's app bag (like the http secret: only the application's units read it);
//! every unit keeps a key of its own and signs itself a certificate for every address
//! clients use (the same subject a cert-provider request asks for), renewed when those
//! addresses change or fewer than [`RENEW_DAYS`] remain. Clients get the CA as `tls_ca`.
//!
//! Keys and signatures are random, so the view makes them ([`draw`]) and the plan only
//! decides whether to use them, with the same pure test ([`reissue`]).

use std::path::{Path, PathBuf};

use crate::config::{CharmConfig, Secret};
use crate::relations::peer::PeerApp;
use crate::tls::auto::{self, reissue, AutoCa, RENEW_DAYS};
use crate::tls::{Pem, TlsBundle, TlsSource};
use crate::workload::files::FileSpec;

use super::builder::{Builder, PlanError};
use super::local::{self, AUTO_CERT, AUTO_KEY};
use super::model::ModelView;
use super::notes::LogLine;
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

/// The CA in the peer app bag; an unusable one is logged and taken as none.
fn shared(model: &ModelView) -> (Option<AutoCa>, Option<LogLine>) {
    let Some(peer) = &model.peer else {
        return (None, None);
    };
    match PeerApp::auto_ca(&peer.app) {
        Ok(ca) => (ca, None),
        Err(e) => (
            None,
            Some(LogLine::warn(format!(
                "ignoring the tls-auto CA in the peer relation: {e}"
            ))),
        ),
    }
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
    let ca = match shared(model).0 {
        Some(ca) => ca,
        None if model.leader && model.peer.is_some() => {
            let ca = auto::make_ca(&ca_name(model), model.now, secret::random()?)?;
            fresh.auto_ca = Some(ca.clone());
            ca
        }
        None => return Ok(()),
    };
    let on_disk = |path: &str| {
        machine
            .files
            .get(Path::new(path))
            .and_then(|e| e.as_ref())
            .and_then(|e| e.contents.as_deref())
            .map(|b| String::from_utf8_lossy(b).into_owned())
    };
    let key = match on_disk(AUTO_KEY) {
        Some(k) => Secret::new(k),
        None => {
            let k = crate::tls::generate_key()?;
            fresh.auto_key = Some(k.clone());
            k
        }
    };
    let subject = subject(model, config, &machine.hostname).value;
    let cert = on_disk(AUTO_CERT);
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

/// The application's CA: the one shared in the peer app bag, else (the leader, in the
/// hook the view drew one) a new one, shared there now. `None` until the leader shares it.
pub fn ca(p: &mut Builder, model: &ModelView, fresh: &Fresh) -> Option<AutoCa> {
    let (ca, note) = shared(model);
    if let Some(note) = note {
        p.log(note);
    }
    if ca.is_some() {
        return ca;
    }
    let (true, Some(peer), Some(new)) = (model.leader, &model.peer, &fresh.auto_ca) else {
        return None;
    };
    let app = PeerApp {
        tls_auto_ca: Some(new.clone()),
        ..PeerApp::default()
    };
    p.relation(&peer.id, true, &peer.app, &app.to_databag());
    p.info(format!(
        "made the tls-auto CA {:?} (valid until {}) and shared it with the application's \
         units in the peer relation",
        ca_name(model),
        new.not_after().map(auto::date).unwrap_or_default()
    ));
    Some(new.clone())
}

/// This unit's tls-auto key and certificate (kept in the charm's own directory, signed
/// again when [`reissue`] says so) with the CA, as the bundle to serve.
pub fn bundle(
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
