//! Actions: `start` and `stop` manage the registry service here; every other action goes
//! through `run_other`, the one place it meets the charm: what it needs to know about
//! the registry ([`ActionRegistry`]) comes from the same view and plan a hook makes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Auth, Secret, Storage};
use crate::juju::{Context, HookTools, ToolRunner};
use crate::relations::{Host, Netloc};

use super::local::LocalState;
use super::plan::{self, stopped_status};
use super::steps::Serving;
use super::view::View;
use super::{apply, report, Effects, Error};

/// Runs action `name`.
pub fn run<R: ToolRunner>(
    name: &str,
    ctx: &Context,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<(), Error> {
    match name {
        "stop" => stop(tools, fx),
        "start" => start(ctx, tools, fx),
        other => run_other(other, ctx, tools, fx),
    }
}

fn success<R: ToolRunner>(tools: &HookTools<R>) -> Result<(), Error> {
    let results = BTreeMap::from([("outcome".to_string(), "success".to_string())]);
    tools.action_set(&results)?;
    Ok(())
}

/// `stop`: the registry goes down and stays down across hooks until `start`.
fn stop<R: ToolRunner>(tools: &HookTools<R>, fx: &Effects<'_>) -> Result<(), Error> {
    let mut local = LocalState::load(fx.files)?;
    local.stopped = true;
    local.save(fx.files)?;
    let binary = (fx.binary)().ok();
    let plan = plan::stop(
        binary.as_deref(),
        local,
        "stopping: the stop action was run",
    );
    apply::apply(&plan, tools, fx)?;
    success(tools)?;
    let mut local = plan.local.unwrap_or_default();
    report::set_status(tools, fx, &mut local, &stopped_status())
}

/// `start`: serve again, as any hook would.
fn start<R: ToolRunner>(
    ctx: &Context,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<(), Error> {
    let mut local = LocalState::load(fx.files)?;
    local.stopped = false;
    local.save(fx.files)?;
    super::reconcile(ctx, tools, fx, local)?;
    success(tools)
}

/// Every other action: the registry it works on, its parameters, and (in this revision)
/// an answer that it is not implemented.
fn run_other<R: ToolRunner>(
    name: &str,
    ctx: &Context,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<(), Error> {
    let view = View::read(ctx, tools, fx, LocalState::load(fx.files)?, None)?;
    let plan = plan::plan(&view)?;
    let registry = plan
        .serving
        .as_ref()
        .and_then(|serving| action_registry(&view, serving));
    let params = tools.action_get()?;
    tracing::debug!(
        "action {name}: {} parameter(s); registry {}",
        params.as_object().map_or(0, |p| p.len()),
        registry
            .as_ref()
            .map_or("not serving".into(), |r| r.netloc.to_string())
    );
    tools.action_fail(&format!(
        "{name}: not implemented by this revision of the charm yet"
    ))?;
    Ok(())
}

/// The storage backend, as actions need to know it (garbage collection is safe on
/// per-unit filesystem storage only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// `/srv/registry` on this unit.
    Filesystem,
    /// S3, shared by all units.
    S3,
    /// Swift, shared by all units.
    Swift,
}

/// What an action knows of the registry it works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRegistry {
    /// host:port clients use (`http-host`, the proxy in front, or this unit).
    pub netloc: Netloc,
    /// This unit's own address and registry-port.
    pub unit_netloc: Option<Netloc>,
    /// `localhost:<registry-port>`.
    pub local_netloc: Netloc,
    /// Whether the registry serves https.
    pub https: bool,
    /// The CA clients are given, if any.
    pub ca_pem: Option<String>,
    /// Basic-auth user and password, when configured.
    pub basic_auth: Option<(String, Secret)>,
    /// `storage-read-only`.
    pub read_only: bool,
    /// `storage-delete`.
    pub delete: bool,
    /// The storage backend.
    pub storage: StorageKind,
    /// Units of the application (this one and its peers).
    pub units: usize,
    /// `registry-http-proxy`.
    pub http_proxy: Option<String>,
    /// `registry-https-proxy`.
    pub https_proxy: Option<String>,
    /// The registry's config.yml.
    pub config_path: PathBuf,
    /// The registry binary.
    pub binary: PathBuf,
}

/// The registry an action works on, from the view and what the plan serves (`None`
/// while the config is invalid).
pub fn action_registry(view: &View, serving: &Serving) -> Option<ActionRegistry> {
    let (config, _) = view.model.config.as_ref().ok()?;
    let port = config.registry_port;
    let basic_auth = match &config.auth {
        Auth::Basic { user, password } => Some((user.clone(), password.clone())),
        _ => None,
    };
    let storage = match config.storage {
        Storage::Filesystem => StorageKind::Filesystem,
        Storage::S3(_) => StorageKind::S3,
        Storage::Swift(_) => StorageKind::Swift,
    };
    let peers = view.model.peer.as_ref().map_or(0, |p| p.units.len());
    Some(ActionRegistry {
        netloc: serving.advertised.netloc.clone(),
        unit_netloc: view.model.address.map(|a| Netloc::new(Host::from(a), port)),
        local_netloc: Netloc::new(Host::Dns("localhost".into()), port),
        https: serving.advertised.https(serving.tls.is_some()),
        ca_pem: serving.tls.clone().flatten(),
        basic_auth,
        read_only: config.storage_read_only,
        delete: config.storage_delete,
        storage,
        units: peers + 1,
        http_proxy: config.registry_http_proxy.clone(),
        https_proxy: config.registry_https_proxy.clone(),
        config_path: crate::render::CONFIG_PATH.into(),
        binary: serving.binary.clone(),
    })
}
