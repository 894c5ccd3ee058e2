//! One hook on one unit: the statuses Juju sets as it starts, the run, the commit (or
//! the error state), and the uniter's log lines.
use super::{commit_hook, new_context_id, snapshot, Engine, EngineError, RunOutcome};
use crate::context::{ContextKind, Snapshot};
use crate::machines::Machine;
use crate::model::{Model, ModelDir, StatusInfo};
use crate::resolver::{begin, normalize, Hook, HookKind};

/// How the uniter names what ran a hook, in its log lines.
const VIA: &str = "hook dispatching script: dispatch";
/// The uniter's loggers, as debug-log shows them.
const UNITER: &str = "juju.worker.uniter.operation";
const UNITER_LOOP: &str = "juju.worker.uniter";

impl Engine {
    /// Run one hook on `unit` and commit or fail it; returns the model as committed.
    pub fn run_hook(&self, unit: &str, hook: Hook) -> Result<Model, EngineError> {
        self.run_hook_then(unit, hook, |_| ()).map(|(m, ())| m)
    }

    /// [`Engine::run_hook`], then `then` on the model in the same write as the commit
    /// (the scheduler's step between hooks: one model write less per hook).
    pub(super) fn run_hook_then<T>(
        &self,
        unit: &str,
        hook: Hook,
        then: impl FnOnce(&mut Model) -> T,
    ) -> Result<(Model, T), EngineError> {
        let name = hook.name();
        let ctx_id = new_context_id(unit, &name);
        let snap = self
            .dir
            .update(|m| begin_hook(m, &self.dir, unit, &hook, &ctx_id))?;
        if let Some(s) = hook.storage.as_ref() {
            if hook.kind == HookKind::StorageAttached {
                self.provision_storage(&snap.machine, s)?;
            }
        }
        let (outcome, changes) =
            self.with_context(&snap, || self.execute(&snap, &format!("hooks/{name}")))?;
        let outcome = outcome?;
        self.log_outcome(unit, &format!("unit.{unit}.{name}"), &outcome);
        // No handler at all counts as success, as on Juju.
        let ok = outcome.code == Some(0) || outcome.code.is_none();
        let (removed, committed, after) =
            self.dir
                .update(|m| -> Result<(Option<Machine>, Model, T), EngineError> {
                    let removed = commit_hook(m, unit, &hook, ok, &changes);
                    let after = then(m);
                    Ok((removed, m.clone(), after))
                })?;
        let line = match outcome.code {
            None => format!("skipped {name:?} hook (missing)"),
            Some(0) => format!("ran {name:?} hook (via {VIA})"),
            Some(code) => format!("hook {name:?} (via {VIA}) failed: exit status {code}"),
        };
        let level = if ok { "INFO" } else { "ERROR" };
        self.dir.log(Some(unit), level, UNITER, &line);
        if !ok {
            let waiting = format!("awaiting error resolution for {name:?} hook");
            self.dir.log(Some(unit), "INFO", UNITER_LOOP, &waiting);
        }
        if let Some(machine) = removed {
            self.machines.destroy_machine(&committed.net, &machine)?;
        }
        Ok((committed, after))
    }

    /// The hook's stdout (debug) and stderr (warning) into the unit's log.
    pub(super) fn log_outcome(&self, unit: &str, module: &str, outcome: &RunOutcome) {
        if !outcome.stdout.is_empty() {
            self.dir
                .log(Some(unit), "DEBUG", module, outcome.stdout.trim_end());
        }
        if !outcome.stderr.is_empty() {
            self.dir
                .log(Some(unit), "WARNING", module, outcome.stderr.trim_end());
        }
    }
}

/// The hook's snapshot, taken before Juju's own status changes: the workload status it
/// sets for install (unless the charm set one), stop and remove, and the agent's
/// `executing` (update-status runs quietly).
fn begin_hook(
    m: &mut Model,
    dir: &ModelDir,
    unit: &str,
    hook: &Hook,
    ctx_id: &str,
) -> Result<Snapshot, EngineError> {
    normalize(m, unit);
    begin(m, unit, hook);
    let snap = snapshot(m, dir, unit, ContextKind::Hook(hook.clone()), ctx_id)?;
    let u = m
        .units
        .get_mut(unit)
        .ok_or_else(|| EngineError::UnitNotFound(unit.into()))?;
    match hook.kind {
        HookKind::Install if !u.status_set_by_charm => {
            u.set_workload(StatusInfo::now("maintenance", "installing charm software"))
        }
        HookKind::Stop => u.set_workload(StatusInfo::now("maintenance", "stopping charm software")),
        HookKind::Remove => u.set_workload(StatusInfo::now(
            "maintenance",
            "cleaning up prior to charm deletion",
        )),
        _ => {}
    }
    if hook.kind != HookKind::UpdateStatus {
        u.set_agent(StatusInfo::now(
            "executing",
            &format!("running {} hook", hook.name()),
        ));
    }
    Ok(snap)
}
