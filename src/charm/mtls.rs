//! Client certificates (mutual TLS), only by choice: `tls-client-ca` names the CA client
//! certificates must chain to. The Python charm demanded them whenever a CA file sat at
//! `tls-ca-path` (B23, docs/python-charm-bugs.md#b23); a deployment upgraded from it may
//! rely on that as its only access control, so the switch keeps demanding them with the
//! same CA (logged once, docs/migration.md) until `tls-client-ca` says otherwise.
//!
//! While client certificates are demanded, `clientcas` also lists this unit's own client
//! certificate ([`crate::tls::client`]: self-signed, its key 0600 in the charm's private
//! directory), which the probe and the actions present: they connect to the registry too.

use std::path::{Path, PathBuf};

use crate::config::{CharmConfig, ClientCa, Secret, CLIENT_CA_OFF};
use crate::relations::peer::PeerApp;
use crate::render::{CHARM_CLIENT_CERT_PATH, CLIENT_CA_PATH, CONFIG_PATH};
use crate::tls::client::{self, ClientIdentity};
use crate::tls::{ca_bundle, Pem};
use crate::workload::files::FileSpec;

use super::builder::{Builder, PlanError};
use super::local::{self, LocalState, CLIENT_KEY};
use super::model::ModelView;
use super::ownership::{drop_owned, put, Wanted};
use super::tls_source::TlsPaths;
use super::view::{Fresh, MachineView};
use super::{secret, Error};

/// The files decided from here.
pub fn paths() -> [PathBuf; 3] {
    [CLIENT_CA_PATH, CHARM_CLIENT_CERT_PATH, CLIENT_KEY].map(PathBuf::from)
}

/// The common name of this unit's client certificate (shown in the registry's log).
fn client_name(model: &ModelView) -> String {
    format!("{} charm client", model.unit)
}

/// Entropy for this unit's client certificate, drawn when client certificates may be
/// demanded (a client CA in force, or the Python charm's config.yml still to be read):
/// a key (none on disk) and a certificate (the one on disk must be made again).
pub fn draw(
    model: &ModelView,
    machine: &MachineView,
    local: &LocalState,
    fresh: &mut Fresh,
) -> Result<(), Error> {
    let Ok((config, _)) = &model.config else {
        return Ok(());
    };
    let python_unread = local.python_files && matches!(config.tls_client_ca, ClientCa::Unset);
    if in_force(config, model, local.python_client_ca.as_deref()).is_none() && !python_unread {
        return Ok(());
    }
    let key = machine.key_or_new(CLIENT_KEY, &mut fresh.client_key)?;
    let cert = machine.text(CHARM_CLIENT_CERT_PATH);
    if fresh.client_key.is_some() || client::remake(cert.as_deref(), &key, model.now) {
        fresh.client_cert = Some(client::make(
            &client_name(model),
            &key,
            model.now,
            secret::random()?,
        )?);
    }
    Ok(())
}

/// This unit's client certificate and key, made when missing (or due again) from the
/// entropy the view drew, and the certificate put where the registry reads it.
fn own_identity(
    p: &mut Builder,
    model: &ModelView,
    fresh: &Fresh,
) -> Result<ClientIdentity, PlanError> {
    let key_path = Path::new(CLIENT_KEY);
    let key = match p.disk.read(key_path)? {
        Some(k) => Secret::new(String::from_utf8_lossy(k).into_owned()),
        None => fresh
            .client_key
            .clone()
            .ok_or(PlanError::NoEntropy("charm client key"))?,
    };
    p.ensure_dir(Path::new(local::STATE_DIR), 0o700, None);
    p.write(key_path, key.expose().as_bytes(), FileSpec::mode(0o600));
    let current = p
        .disk
        .read(Path::new(CHARM_CLIENT_CERT_PATH))?
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let current = current
        .filter(|c| !client::remake(Some(c), &key, model.now))
        .and_then(|c| ca_bundle("charm client certificate", &c).ok());
    let cert = match current {
        Some(cert) => cert,
        None => {
            let cert = fresh
                .client_cert
                .clone()
                .ok_or(PlanError::NoEntropy("charm client certificate"))?;
            p.info(format!(
                "made this unit's own client certificate {:?} (valid until {}): the registry \
                 lets the charm's probe and actions in with it while it demands client \
                 certificates",
                client_name(model),
                crate::tls::auto::not_after(cert.as_str())
                    .map(crate::tls::auto::date)
                    .unwrap_or_default()
            ));
            cert
        }
    };
    put(
        p,
        &Wanted {
            path: CHARM_CLIENT_CERT_PATH.into(),
            contents: cert.as_str().as_bytes().to_vec(),
            spec: FileSpec::mode(0o644),
        },
    )?;
    Ok(ClientIdentity { cert, key })
}

/// No client certificates demanded: this unit's own goes with the client CA file.
fn drop_own_identity(p: &mut Builder) -> Result<(), PlanError> {
    drop_owned(p, Path::new(CHARM_CLIENT_CERT_PATH))?;
    let key_path = Path::new(CLIENT_KEY);
    if p.disk.exists(key_path)? {
        p.remove(key_path);
    }
    Ok(())
}

/// Whether a registry config.yml demands client certificates (`http.tls.clientcas`). The
/// Python charm's is PyYAML's block style, one key per line, so a line is enough.
pub fn demands_client_certs(config_yml: &str) -> bool {
    config_yml
        .lines()
        .any(|l| l.trim_start().starts_with("clientcas:"))
}

/// While the Python charm's config.yml is still in place (the first hooks after the
/// switch, before this charm renders its own): if its registry demanded client
/// certificates, remember the CA they had to chain to (the file at `tls-ca-path`, which
/// its container mounted as its `clientcas`). Logged once, saved at once.
pub fn remember_python_demand(p: &mut Builder, paths: &TlsPaths) -> Result<(), PlanError> {
    if !p.local.python_files || p.local.python_client_ca.is_some() {
        return Ok(());
    }
    let config_path = Path::new(CONFIG_PATH);
    let Some(config_yml) = p.disk.read(config_path)?.map(<[u8]>::to_vec) else {
        return Ok(());
    };
    if p.local.owns(config_path, &config_yml)
        || !demands_client_certs(&String::from_utf8_lossy(&config_yml))
    {
        return Ok(());
    }
    let ca_text = p
        .disk
        .read(&paths.ca)?
        .map(|b| String::from_utf8_lossy(b).into_owned());
    match ca_text.map(|t| ca_bundle("tls-ca-path", &t)) {
        Some(Ok(pem)) => {
            p.warn(format!(
                "the Python charm's registry demanded a client certificate signed by the CA \
                 in {} from every client (B23); this charm keeps demanding it. To stop: \
                 juju config <application> tls-client-ca={CLIENT_CA_OFF}",
                paths.ca.display()
            ));
            p.local.python_client_ca = Some(pem.as_str().to_string());
            p.checkpoint();
        }
        Some(Err(e)) => p.warn(format!(
            "the Python charm's registry demanded client certificates, but its CA at {} \
             is unusable ({}): none are demanded now; set tls-client-ca to demand them",
            paths.ca.display(),
            e.problem
        )),
        None => p.warn(format!(
            "the Python charm's registry demanded client certificates, but there is no CA \
             at {}: none are demanded now; set tls-client-ca to demand them",
            paths.ca.display()
        )),
    }
    Ok(())
}

/// Where the client CA in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The `tls-client-ca` option.
    Option,
    /// Kept from the Python charm.
    PythonCharm,
}

/// The client CA in force: `tls-client-ca`, else (unless it is `none`) the Python charm's,
/// shared by the leader so that units added later demand the same.
pub fn in_force(
    config: &CharmConfig,
    model: &ModelView,
    local: Option<&str>,
) -> Option<(Pem, Origin)> {
    match &config.tls_client_ca {
        ClientCa::Ca(pem) => Some((pem.clone(), Origin::Option)),
        ClientCa::Off => None,
        ClientCa::Unset => {
            let shared = model
                .peer
                .as_ref()
                .and_then(|peer| PeerApp::python_client_ca(&peer.app).ok().flatten());
            shared
                .or_else(|| local.and_then(|t| ca_bundle("python-client-ca", t).ok()))
                .map(|pem| (pem, Origin::PythonCharm))
        }
    }
}

/// The leader shares the Python charm's client CA it remembered, once.
pub fn share(p: &mut Builder, model: &ModelView) {
    let (true, Some(peer), Some(local)) = (model.leader, &model.peer, &p.local.python_client_ca)
    else {
        return;
    };
    if PeerApp::python_client_ca(&peer.app)
        .ok()
        .flatten()
        .is_some()
    {
        return;
    }
    let Ok(pem) = ca_bundle("python-client-ca", local) else {
        return;
    };
    let app = PeerApp {
        python_client_ca: Some(pem),
        ..PeerApp::default()
    };
    p.relation(&peer.id, true, &peer.app, &app.to_databag());
}

/// What the registry gets when client certificates are demanded (all empty otherwise).
pub struct Demand {
    /// The files for `clientcas`: the client CA, then this unit's own certificate.
    pub files: Vec<PathBuf>,
    /// Their contents (read by the registry at start).
    pub contents: Vec<Vec<u8>>,
    /// What the charm's own probe and actions present.
    pub client: Option<ClientIdentity>,
}

/// Writes the client CA file and this unit's client certificate when client certificates
/// are demanded over TLS, else lets them go. `Err(problem)`: `tls-client-ca` is set but
/// there is no TLS to demand them over.
pub fn plan(
    p: &mut Builder,
    model: &ModelView,
    fresh: &Fresh,
    config: &CharmConfig,
    tls_on: bool,
) -> Result<Result<Demand, String>, PlanError> {
    share(p, model);
    let path = Path::new(CLIENT_CA_PATH);
    let local = p.local.python_client_ca.clone();
    match (in_force(config, model, local.as_deref()), tls_on) {
        (Some((pem, _)), true) => {
            let w = Wanted {
                path: path.to_path_buf(),
                contents: pem.as_str().as_bytes().to_vec(),
                spec: FileSpec::mode(0o644),
            };
            put(p, &w)?;
            let own = own_identity(p, model, fresh)?;
            Ok(Ok(Demand {
                files: vec![w.path, CHARM_CLIENT_CERT_PATH.into()],
                contents: vec![w.contents, own.cert.as_str().as_bytes().to_vec()],
                client: Some(own),
            }))
        }
        (Some((_, Origin::Option)), false) => Ok(Err(
            "tls-client-ca: client certificates need TLS (set tls-auto=true or the \
             tls-*-blob options, or relate a CA)"
                .to_string(),
        )),
        // The Python charm's demand went with its TLS (easyrsa removed, blobs cleared),
        // as it did there.
        (Some((_, Origin::PythonCharm)), false) | (None, _) => {
            drop_owned(p, path)?;
            drop_own_identity(p)?;
            Ok(Ok(Demand {
                files: Vec::new(),
                contents: Vec::new(),
                client: None,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_charms_clientcas_line_is_seen_and_ours_is_not_mistaken() {
        let python = "http:\n  addr: 0.0.0.0:5000\n  tls:\n    certificate: /etc/docker/registry/registry.crt\n    clientcas:\n    - /etc/docker/registry/ca.crt\n    key: /etc/docker/registry/registry.key\n";
        assert!(demands_client_certs(python));
        assert!(!demands_client_certs(
            "http:\n  tls:\n    certificate: a\n    key: b\n"
        ));
        assert!(!demands_client_certs("# clientcas: never\nversion: 0.1\n"));
    }
}
