//! The `gc` action: the registry's garbage collection inside a read-only window.
//!
//! On one unit, or with filesystem storage (each unit has its own), this registry is the
//! only writer of its storage, so the action makes it read-only for the duration: the plan
//! of a view in which `storage-read-only` is on ([`read_only_view`]) renders config.yml
//! with `storage.maintenance.readonly.enabled: true` and restarts the registry (pulls
//! keep working, pushes get 405), `garbage-collect` runs, then the normal reconcile
//! renders the normal config and restarts it again. That reconcile runs whatever gc
//! did, so a failed gc still ends read-write; and since what the registry runs with is
//! recorded on the way in (the running fingerprint, and config.yml as the charm's own),
//! the next hook after an action killed midway sees a config it did not plan and
//! restores it too.
//!
//! With shared storage (s3, swift) and several units the other units keep writing: the
//! library refuses unless the application is already `storage-read-only=true`, and the
//! unit count includes units Juju is still starting (`goal-state`).

use serde_json::Map;

use crate::actions::{self, ActionError, ActionIo, Results};
use crate::juju::{Context, HookTools, Status, ToolRunner};

use super::actions::{finish, ActionLog, Target};
use super::local::LocalState;
use super::plan;
use super::view::View;
use super::{apply, report, Effects, Error};

const ACTION: &str = "gc";

/// The status while gc holds the registry read-only.
pub fn read_only_status() -> Status {
    Status::maintenance("Read-only while the gc action runs (pulls keep working).")
}

/// The view as if `storage-read-only=true` were configured: the plan made from it
/// renders the read-only config.yml and restarts the registry with it.
pub fn read_only_view(view: &View) -> View {
    let mut ro = view.clone();
    if let Ok((config, _)) = &mut ro.model.config {
        config.storage_read_only = true;
    }
    // config.yml is reused while the config's digest is unchanged; this config differs.
    ro.model.config_digest = format!("{}+gc-read-only", view.model.config_digest);
    ro
}

/// Runs the `gc` action.
pub fn run<R: ToolRunner>(
    ctx: &Context,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<(), Error> {
    let target = Target::read(ctx, tools, fx)?;
    let io = ActionLog(tools);
    let mut registry = match target.registry {
        Ok(r) => r,
        Err(message) => {
            let action = ACTION.into();
            return finish(tools, Err(ActionError::Failed { action, message }));
        }
    };
    // Units Juju is still starting have not joined the peer relation yet, and will write.
    registry.units = registry.units.max(tools.goal_state_units()?.len());
    if let Some(message) = actions::gc_refusal(&registry) {
        let action = ACTION.into();
        return finish(tools, Err(ActionError::Refused { action, message }));
    }
    let params = Map::new();
    if registry.storage_read_only {
        // Read-only by config already: nothing to switch.
        return finish(tools, actions::run(ACTION, &params, &registry, &io));
    }
    let outcome = match enter_read_only(&target.view, tools, fx, &io) {
        Ok(()) => actions::run(ACTION, &params, &registry, &io),
        Err(e) => Err(ActionError::Failed {
            action: ACTION.into(),
            message: format!("cannot make the registry read-only: {e}; nothing was deleted"),
        }),
    };
    // Whatever happened, back to the planned config and status, as any hook would.
    match super::reconcile(ctx, tools, fx, LocalState::load(fx.files)?) {
        Ok(_) => {
            io.log("gc: the registry is writable again");
            finish(tools, outcome)
        }
        Err(e) => {
            tracing::error!("gc: restoring the normal config failed: {e}");
            let (done, results) = match &outcome {
                Ok(r) => ("garbage collection finished".to_string(), r.clone()),
                Err(gc) => (gc.to_string(), gc.results().cloned().unwrap_or_default()),
            };
            finish(tools, Err(not_restored(done, &e, results)))
        }
    }
}

fn not_restored(done: String, e: &Error, results: Results) -> ActionError {
    ActionError::Incomplete {
        action: ACTION.into(),
        message: format!(
            "{done}, but restoring the registry's normal (writable) config failed: {e}; \
             the next hook tries again (or run `juju run <unit> start`)"
        ),
        results,
    }
}

/// Renders the read-only config, restarts the registry with it and waits until it answers.
fn enter_read_only<R: ToolRunner>(
    view: &View,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
    io: &dyn ActionIo,
) -> Result<(), Error> {
    let plan = plan::plan(&read_only_view(view))?;
    // Forget what the registry runs with before restarting it: should the action die
    // before the plan's state is saved, the next hook restarts it with the normal config.
    let mut forget = view.local.clone();
    forget.running = None;
    forget.save(fx.files)?;
    apply::apply(&plan, tools, fx)?;
    let mut local = LocalState::load(fx.files)?;
    report::set_status(tools, fx, &mut local, &read_only_status())?;
    if let Some(probe) = &plan.probe {
        let service = report::started(fx, &plan);
        let alive = || report::still_up(service.as_deref());
        let client = probe.client.as_ref();
        if let Err(e) = (fx.probe)(probe.addr, probe.scheme, client, fx.ready_within, &alive) {
            // garbage-collect reads the storage, not the server: carry on.
            io.log(&format!(
                "gc: the read-only registry is not answering yet: {e}"
            ));
        }
    }
    io.log("gc: the registry is read-only until garbage collection ends (pulls keep working)");
    Ok(())
}
