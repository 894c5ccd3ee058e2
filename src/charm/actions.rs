//! Actions: `start` and `stop` manage the registry service here; every other action goes
//! through `run_other`, the one place it meets the charm: the registry it works on
//! (`actions::Registry`, by [`action_registry`]) comes from the same view and plan a hook
//! makes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::actions::{Registry, StorageKind};
use crate::config::{Auth, Scheme, Storage};
use crate::juju::{Context, HookTools, ToolRunner};
use crate::registry_client::Credentials;
use crate::relations::{Host, Netloc};
use crate::workload::users::DATA_DIR;

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
        "stop" => stop(ctx, tools, fx),
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
fn stop<R: ToolRunner>(ctx: &Context, tools: &HookTools<R>, fx: &Effects<'_>) -> Result<(), Error> {
    let mut local = LocalState::load(fx.files)?;
    local.stopped = true;
    local.save(fx.files)?;
    let binary = (fx.binary)().ok();
    let plan = plan::stop(
        binary.as_deref(),
        &ctx.charm_dir.join("dispatch"),
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
    // An operator who fixed what made the registry refuse a config (a store, an upstream)
    // asks for it to be tried again.
    local.refused = None;
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

/// The registry an action works on, as `actions::run` takes it, from the view and what
/// the plan serves (`None` while the config is invalid). Actions connect to this unit
/// itself, so the scheme is the unit's own TLS state (clients may be told https by an
/// `http-host` whose TLS ends at a load balancer).
pub fn action_registry(view: &View, serving: &Serving) -> Option<Registry> {
    let (config, _) = view.model.config.as_ref().ok()?;
    let port = config.registry_port;
    let credentials = match &config.auth {
        Auth::Basic { user, password } => Some(Credentials {
            username: user.clone(),
            password: password.clone(),
        }),
        _ => None,
    };
    let storage = match config.storage {
        Storage::Filesystem => StorageKind::Filesystem {
            root: PathBuf::from(DATA_DIR),
        },
        Storage::S3(_) => StorageKind::Shared {
            driver: "s3".into(),
        },
        Storage::Swift(_) => StorageKind::Shared {
            driver: "swift".into(),
        },
    };
    let unit_host = match view.model.address {
        Some(a) => Host::from(a),
        None => Host::Dns("localhost".into()),
    };
    let peers = view.model.peer.as_ref().map_or(0, |p| p.units.len());
    Some(Registry {
        application: view.model.unit.app().to_string(),
        netloc: serving.advertised.netloc.to_string(),
        unit_netloc: Netloc::new(unit_host, port).to_string(),
        port,
        scheme: match serving.tls {
            Some(_) => Scheme::Https,
            None => Scheme::Http,
        },
        ca_pem: serving.tls.clone().flatten(),
        credentials,
        storage_read_only: config.storage_read_only,
        storage_delete: config.storage_delete,
        storage,
        units: peers + 1,
        http_proxy: config.registry_http_proxy.clone(),
        https_proxy: config.registry_https_proxy.clone(),
        binary: serving.binary.clone(),
        config_path: crate::render::CONFIG_PATH.into(),
    })
}
