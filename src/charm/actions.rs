//! Actions: `start` and `stop` manage the registry service here; `gc` wraps the library's
//! garbage collection in a read-only window ([`super::gc`]); every other action goes to
//! `actions::run` through [`run_registry_action`], with the registry it works on
//! (`actions::Registry`, by [`action_registry`]) from the same view and plan a hook makes.
//! Params come from `action-get`, progress goes to `action-log`, results to `action-set`
//! and failures to `action-fail`: an action that fails never fails the hook.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::actions::{ActionError, ActionIo, Registry, Results, StorageKind};
use crate::config::{Auth, Scheme, Storage};
use crate::juju::{Context, HookTools, Port, ToolRunner};
use crate::registry_client::Credentials;
use crate::relations::{Host, Netloc};
use crate::workload::users::DATA_DIR;

use super::local::LocalState;
use super::plan::{self, stopped_status};
use super::steps::{Plan, Serving, Step};
use super::view::View;
use super::{apply, registry, report, Effects, Error};

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
        "gc" => super::gc::run(ctx, tools, fx),
        other => run_registry_action(other, ctx, tools, fx),
    }
}

fn success<R: ToolRunner>(tools: &HookTools<R>) -> Result<(), Error> {
    let results = BTreeMap::from([("outcome".to_string(), "success".to_string())]);
    tools.action_set(&results)?;
    Ok(())
}

/// `stop`: the registry goes down and stays down across hooks until `start`; its ports
/// close (the plan of every later hook stops early while stopped, so they stay closed).
fn stop<R: ToolRunner>(ctx: &Context, tools: &HookTools<R>, fx: &Effects<'_>) -> Result<(), Error> {
    let mut local = LocalState::load(fx.files)?;
    local.stopped = true;
    local.save(fx.files)?;
    let binary = (fx.binary)().ok();
    let mut plan = plan::stop(
        binary.as_deref(),
        &ctx.charm_dir.join("dispatch"),
        local,
        "stopping: the stop action was run",
    );
    let (_, close) = registry::port_changes(&tools.opened_ports()?, &[]);
    plan.steps.extend(close.into_iter().map(|range| {
        Step::ClosePort(Port {
            number: range.from,
            protocol: range.protocol,
        })
    }));
    apply::apply(&plan, tools, fx)?;
    success(tools)?;
    let mut local = plan.local.unwrap_or_default();
    report::set_status(tools, fx, &mut local, &stopped_status())
}

/// `start`: serve again, as any hook would (which opens the ports again).
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
    super::reconcile(ctx, tools, fx, LocalState::load(fx.files)?)?;
    success(tools)
}

/// `action-log`, for the actions library (which throttles its own progress lines).
pub struct ActionLog<'a, R: ToolRunner>(pub &'a HookTools<R>);

impl<R: ToolRunner> ActionIo for ActionLog<'_, R> {
    fn log(&self, line: &str) {
        // Progress is a courtesy: a failed action-log must not fail the work.
        if let Err(e) = self.0.action_log(line) {
            tracing::warn!("action-log failed: {e}");
        }
    }
}

/// What an action works on: the view, the plan a hook would make from it, and the
/// registry (or, while it does not serve, the reason as the status would show it).
pub struct Target {
    /// The view read for the action.
    pub view: View,
    /// The plan a hook would make now.
    pub plan: Plan,
    /// The registry, or why there is none.
    pub registry: Result<Registry, String>,
}

impl Target {
    /// Reads the view and plans, as a hook would, without applying anything.
    pub fn read<R: ToolRunner>(
        ctx: &Context,
        tools: &HookTools<R>,
        fx: &Effects<'_>,
    ) -> Result<Target, Error> {
        let view = View::read(ctx, tools, fx, LocalState::load(fx.files)?, None)?;
        let plan = plan::plan(&view)?;
        let registry = plan
            .serving
            .as_ref()
            .and_then(|serving| action_registry(&view, serving))
            .ok_or_else(|| not_serving(&plan));
        Ok(Target {
            view,
            plan,
            registry,
        })
    }
}

/// Why there is no registry to act on, from what the status will say.
fn not_serving(plan: &Plan) -> String {
    let status = plan
        .expected_status()
        .map(|s| s.message)
        .unwrap_or_else(|| "no status yet".into());
    // Status texts end with a full stop; inside the parentheses it would read ".)".
    let status = status.trim_end_matches('.');
    format!("the registry is not serving ({status}); nothing was done")
}

/// The action's params as a map (Juju always gives one; anything else is empty).
pub fn params<R: ToolRunner>(tools: &HookTools<R>) -> Result<Map<String, Value>, Error> {
    Ok(match tools.action_get()? {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

/// push, images, rmi, mirror, info: `actions::run` on this unit's registry.
fn run_registry_action<R: ToolRunner>(
    name: &str,
    ctx: &Context,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<(), Error> {
    let target = Target::read(ctx, tools, fx)?;
    let params = params(tools)?;
    let outcome = match &target.registry {
        Ok(registry) => crate::actions::run(name, &params, registry, &ActionLog(tools)),
        Err(why) => Err(ActionError::Failed {
            action: name.to_string(),
            message: why.clone(),
        }),
    };
    finish(tools, outcome)
}

/// Reports an action's outcome: results with `action-set` (also those of an action that
/// did part of its work), a failure with `action-fail`.
pub fn finish<R: ToolRunner>(
    tools: &HookTools<R>,
    outcome: Result<Results, ActionError>,
) -> Result<(), Error> {
    match outcome {
        Ok(results) => set_results(tools, &results),
        Err(e) => {
            if let Some(results) = e.results() {
                set_results(tools, results)?;
            }
            tracing::info!("action failed: {e}");
            tools.action_fail(&e.to_string())?;
            Ok(())
        }
    }
}

/// The most a value or one `action-set` call carries: each value is one argument (Linux
/// caps one at 128 KiB) and all of a call's arguments share a limit too.
const MAX_VALUE: usize = 64 * 1024;
const MAX_CALL: usize = 512 * 1024;

/// `action-set` in as many calls as the results need (later calls merge).
fn set_results<R: ToolRunner>(tools: &HookTools<R>, results: &Results) -> Result<(), Error> {
    for batch in batches(results) {
        tools.action_set(&batch)?;
    }
    Ok(())
}

/// The results as `action-set` batches, long values cut at a line (with a note).
pub fn batches(results: &Results) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut batch = BTreeMap::new();
    let mut size = 0;
    for (key, value) in results.iter() {
        let value = shorten(value);
        let len = key.len() + value.len() + 1;
        if size + len > MAX_CALL && !batch.is_empty() {
            out.push(std::mem::take(&mut batch));
            size = 0;
        }
        size += len;
        batch.insert(key.to_string(), value);
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}

fn shorten(value: &str) -> String {
    if value.len() <= MAX_VALUE {
        return value.to_string();
    }
    let mut cut = MAX_VALUE;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = value[..cut]
        .rsplit_once('\n')
        .map_or(&value[..cut], |(h, _)| h);
    let dropped = value[head.len()..]
        .lines()
        .filter(|l| !l.is_empty())
        .count();
    format!("{head}\n... ({dropped} more lines: the structured results have every entry)")
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
        client_scheme: match serving.advertised.https(serving.tls.is_some()) {
            true => Scheme::Https,
            false => Scheme::Http,
        },
        ca_pem: serving.tls.clone().flatten(),
        credentials,
        token_realm: match &config.auth {
            Auth::Token { realm, .. } => Some(realm.clone()),
            _ => None,
        },
        storage_read_only: config.storage_read_only,
        storage_delete: config.storage_delete,
        storage,
        units: peers + 1,
        http_proxy: config.registry_http_proxy.clone(),
        https_proxy: config.registry_https_proxy.clone(),
        binary: serving.binary.clone(),
        config_path: crate::render::CONFIG_PATH.into(),
        client: serving.client.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_results_are_cut_at_a_line_and_split_across_calls() {
        let mut r = Results::default();
        let long: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        r.set("output", &long);
        for i in 0..10 {
            r.set(format!("images.{i}.x"), "y".repeat(200_000));
        }
        let batches = batches(&r);
        assert!(batches.len() > 1, "{}", batches.len());
        let output = &batches[0]["output"];
        assert!(output.len() <= MAX_VALUE + 100, "{}", output.len());
        assert!(output.starts_with("line 0\nline 1\n"));
        assert!(
            output.ends_with("every entry)"),
            "{}",
            &output[output.len() - 80..]
        );
        let n: usize = batches.iter().map(BTreeMap::len).sum();
        assert_eq!(n, 11, "every key is set once");
        for b in &batches {
            let size: usize = b.iter().map(|(k, v)| k.len() + v.len() + 1).sum();
            assert!(size <= MAX_CALL, "{size}");
        }
    }
}
