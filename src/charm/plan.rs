//! The decision: from one [`View`] to the [`Plan`] of everything the hook will do.
//!
//! [`plan`] is pure (no I/O, no clock, no randomness: the view brings them) and composed
//! from the concern modules in the order a unit comes up: the Python charm's container,
//! the package, the shared secret, the config, TLS, the files the registry reads, the
//! service, ports, relation data, and the probe whose answer the report turns into the
//! status. Each concern adds steps to a [`Builder`], which keeps the files as they will be
//! and the [`LocalState`] to save in step with what it plans.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::config::CharmConfig;
use crate::juju::Status;
use crate::probe::Scheme;
use crate::render::TlsFiles;
use crate::tls::TlsBundle;

use super::builder::{Builder, PlanError};
use super::local::LocalState;
use super::model::ModelView;
use super::ownership;
use super::steps::{Candidate, Contents, Plan, Serving, Step};
use super::switch::{self, Going};
use super::view::{Observed, Version, View};
use super::{advertise, mtls, nrpe, publish, registry, secret, tls_source, upstream};

/// The paths the plan decides from, so the view reads exactly those.
pub fn paths_to_read(model: &ModelView, local: &LocalState) -> BTreeSet<PathBuf> {
    let mut out = registry::paths(None);
    if let Some(good) = &local.last_good {
        out.insert(super::local::LAST_GOOD_CONFIG.into());
        out.extend(good.files.iter().cloned());
    }
    out.extend(ownership::paths(local));
    if let Ok((config, _)) = &model.config {
        out.extend(registry::paths(Some(config)));
        out.extend(tls_source::paths(model, config));
        out.extend(nrpe::paths(model, config));
        out.extend(mtls::paths());
    }
    out
}

/// The status while the `stop` action holds the registry down.
pub fn stopped_status() -> Status {
    Status::blocked("Registry stopped by the `stop` action; run the `start` action to serve again.")
}

/// What one hook does (every event but stop, remove and actions other than start).
pub fn plan(view: &View) -> Result<Plan, PlanError> {
    let mut p = Builder::new(view.local.clone(), &view.machine.files);
    // Switched from the Python charm: its container holds registry-port until it is gone.
    if switch::plan(&mut p, &view.machine.legacy) == Going::Stop {
        return Ok(p.finish());
    }
    let Some(binary) = &view.machine.binary else {
        // Install (and repair): apt is touched only when the binary is missing.
        p.status_now(Status::maintenance(
            "Installing the registry (docker-registry package).",
        ));
        p.step(Step::Install);
        p.read_again();
        return Ok(p.finish());
    };
    match &view.machine.version {
        Some(Version::Known(v)) => p.step(Step::AppVersion(v.clone())),
        Some(Version::Unknown(e)) => p.warn(format!("could not read the registry version: {e}")),
        None => {}
    }
    // The shared http.secret: the leader makes it once; every unit renders it.
    let secret = secret::share(&mut p, &view.event, &view.model, &view.fresh)?;
    let (config, blob_tls) = match &view.model.config {
        Ok((c, t)) => (c, t.clone()),
        Err(errors) => {
            p.warn(errors.to_string());
            registry::keep_serving(&mut p, view, binary, None)?;
            p.status(Status::blocked(errors.status_message()));
            return Ok(p.finish());
        }
    };
    super::ignored::warn_once(&mut p, config);
    if p.local.stopped {
        p.status(stopped_status());
        return Ok(p.finish());
    }
    let Some(secret) = secret else {
        p.status(Status::waiting(if view.model.leader {
            "Waiting for the peer relation to share the registry's HTTP secret."
        } else {
            "Waiting for the leader to share the registry's HTTP secret."
        }));
        return Ok(p.finish());
    };
    let refused = p.local.refused.clone();
    serve(&mut p, view, binary, config, blob_tls, &secret)?;
    // A config the registry refused is not tried again until something it is made of
    // changes: no restart loop, no wait at every hook (issue 17).
    if let Some(refused) = refused {
        if p.local.running.as_deref() == Some(refused.running.as_str()) {
            match upstream::next(&refused, view.machine.upstream.as_ref()) {
                upstream::Next::Stay(refused) => {
                    if let Some(upstream::Answer::Unreachable(why)) = &view.machine.upstream {
                        tracing::info!("the cache upstream still gives no answer: {why}");
                    }
                    return super::refusal::still_refused(view, binary, &refused);
                }
                upstream::Next::Retry => {
                    p.info("the cache upstream answers again: trying the refused config again");
                }
            }
        }
        p.local.refused = None;
    }
    Ok(p.finish())
}

/// An operator mistake: block with `problem` while the last good config keeps serving.
fn block(
    p: &mut Builder,
    view: &View,
    binary: &Path,
    config: &CharmConfig,
    problem: String,
) -> Result<(), PlanError> {
    registry::keep_serving(p, view, binary, Some(config))?;
    let message = format!("Invalid charm config: {problem}");
    p.status(Status::blocked(message));
    Ok(())
}

/// A valid config and a secret: the files, the service, ports, relation data, the probe.
fn serve(
    p: &mut Builder,
    view: &View,
    binary: &Path,
    config: &CharmConfig,
    blob_tls: Option<TlsBundle>,
    secret: &crate::relations::peer::HttpSecret,
) -> Result<(), PlanError> {
    let account = view.machine.account.as_ref().ok_or(PlanError::NoAccount)?;
    registry::prepare_dirs(p, config, account)?;
    let proxies = advertise::proxy_hosts(&view.model.website);
    p.logs(proxies.notes);
    let first_proxy = proxies.value.first().cloned();
    let Some(advertised) = advertise::advertised(config, first_proxy, view.model.address) else {
        p.status(Status::waiting(
            "Waiting for an ingress address on the website binding.",
        ));
        return Ok(());
    };
    let paths = tls_source::TlsPaths::of(config);
    if let Some(problem) = tls_source::path_problem(&p.disk, &paths)? {
        return block(p, view, binary, config, problem);
    }
    // Before anything of the Python charm's is replaced: did its registry demand client
    // certificates?
    mtls::remember_python_demand(p, &paths)?;
    let tls = match tls_source::plan(p, view, config, blob_tls, &paths, account)? {
        tls_source::Chosen::Tls(tls) => tls,
        tls_source::Chosen::Unusable(problem) => return block(p, view, binary, config, problem),
    };
    let demand = match mtls::plan(p, &view.model, &view.fresh, config, tls.on)? {
        Ok(demand) => demand,
        Err(problem) => return block(p, view, binary, config, problem),
    };
    let mut read_at_start = tls.read_at_start.clone();
    read_at_start.extend(demand.contents.clone());
    read_at_start.extend(registry::auth_files(p, view, config, account)?);
    let files = tls.on.then_some(TlsFiles {
        cert: &tls.files.0,
        key: &tls.files.1,
        client_cas: &demand.files,
    });
    let config_yml = registry::config_yml(p, view, config, secret, files)?;
    read_at_start.push(config_yml.clone());
    let nrpe_files = nrpe::put_files(p, view, config, tls.on)?;
    let mut managed = registry::managed_paths();
    managed.extend(paths.all().into_iter().map(|(_, path)| path.clone()));
    managed.extend([tls.files.0.clone(), tls.files.1.clone()]);
    managed.extend(mtls::paths());
    managed.extend(nrpe_files.iter().map(|(path, _)| path.clone()));
    ownership::drop_unmanaged(p, &managed)?;
    let wait = registry::service(p, view, binary, config, read_at_start);
    let scheme = match (tls.on, demand.client.is_some()) {
        (false, _) => Scheme::Http,
        (true, false) => Scheme::Https,
        (true, true) => Scheme::HttpsClientCerts,
    };
    p.candidate(Candidate {
        config: Contents(config_yml),
        env: registry::env(config),
        running: p.local.running.clone().unwrap_or_default(),
        binary: binary.to_path_buf(),
        options: view.model.options.clone(),
        files: registry::files_read(config, files),
        port: config.registry_port,
        tls: tls.on,
        client_certs: scheme == Scheme::HttpsClientCerts,
    });
    registry::ports(p, view, config);
    super::metrics::plan(p, view, config);
    let ca = tls.on.then_some(tls.ca.as_deref());
    publish::clients(p, &view.model, config, &advertised, ca);
    publish::website(p, &view.model, config, tls.on);
    nrpe::announce(p, &view.model, &nrpe_files);
    super::cos::publish(p, &view.model, config);
    let peers = view.model.peer.as_ref().map_or(0, |rel| rel.units.len());
    let mut notes = advertise::layout_notes(config, peers, proxies.value.len());
    notes.extend(advertise::runtime_notes(
        config,
        &advertised,
        tls.on,
        !view.model.clients.is_empty(),
    ));
    notes.extend(tls.notes.iter().copied());
    let probe = registry::probe(p, config, scheme, wait, &advertised, &notes)
        .with_client(demand.client.clone());
    p.probe(probe);
    p.serving(Serving {
        advertised,
        tls: tls.on.then(|| tls.ca.clone()),
        binary: binary.to_path_buf(),
        client: demand.client,
    });
    // This charm's own files are in place now: nothing at the tls-*-paths or in
    // config.yml is the Python charm's any more.
    p.local.python_files = false;
    Ok(())
}

/// The hook that stops the registry (and the metrics proxy in front of its debug server):
/// the unit is going away (`stop`), or the `stop` action. Nothing is read from Juju.
/// `program`: the charm's own (the proxy runs it).
pub fn stop(binary: Option<&Path>, program: &Path, mut local: LocalState, why: &str) -> Plan {
    let mut p = Builder::new(LocalState::default(), &Observed::new());
    if let Some(binary) = binary {
        p.info(why);
        p.step(Step::Service(super::steps::ServiceStep {
            call: crate::workload::service::ServiceCall::Stop,
            binary: binary.to_path_buf(),
            env: Vec::new(),
        }));
    }
    local.running = None;
    p.local = local;
    super::metrics::stop(&mut p, program);
    p.finish()
}

/// `remove`: the unit is going away. Remove what the charm wrote (config, secrets, its
/// state), never the image data in /srv/registry (no data loss on a re-deploy).
/// Operator files the charm set aside are put back.
pub fn remove(local: LocalState, files: &Observed) -> Result<Plan, PlanError> {
    let mut p = Builder::new(local, files);
    let paths: BTreeSet<PathBuf> = p
        .local
        .owned
        .keys()
        .chain(p.local.displaced.keys())
        .cloned()
        .collect();
    for path in paths {
        ownership::drop_owned(&mut p, &path)?;
    }
    p.remove(Path::new(super::local::CSR_KEY));
    p.remove(Path::new(super::local::STATE_FILE));
    p.info(format!(
        "removed the charm's files; image data in {} is kept",
        crate::workload::users::DATA_DIR
    ));
    Ok(p.finish_without_state())
}

/// What `remove` reads: the charm's files, its key and its record.
pub fn remove_paths(local: &LocalState) -> BTreeSet<PathBuf> {
    let mut out = ownership::paths(local);
    out.insert(super::local::CSR_KEY.into());
    out.insert(super::local::STATE_FILE.into());
    out
}
