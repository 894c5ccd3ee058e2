//! Actions and exec on one unit. An action is queued as a pending task and runs when the
//! unit's agent picks it (the resolver says when: after install, ahead of config-changed
//! and relation hooks, even while a hook is in error); exec runs at once. Their changes
//! commit on exit 0.
use super::process::exit_code;
use super::{apply_pending, new_context_id, snapshot, Engine, EngineError, RunOutcome};
use crate::context::{Change, ContextKind, Pending, Snapshot};
use crate::model::{app_of, now_secs, Model, ModelDir, StatusInfo, Task};
use crate::sched::STEP_MS;
use serde_json::{json, Map, Value};
use std::process::Command;

impl Engine {
    /// Check `name` and its parameters against actions.yaml and record the task as
    /// `pending`; returns its id. The unit's agent runs it when it gets to it
    /// ([`Engine::settle`]).
    pub fn enqueue_action(
        &self,
        unit: &str,
        name: &str,
        params: Map<String, Value>,
    ) -> Result<u32, EngineError> {
        self.dir.update(|m| new_task(m, unit, name, params))
    }

    /// Run pending task `id` on its unit and record how it ended.
    pub fn run_task(&self, id: u32) -> Result<Task, EngineError> {
        let (snap, name) = self.dir.update(|m| start_task(m, &self.dir, id))?;
        let unit = snap.unit.as_str();
        let (outcome, changes) =
            self.with_context(&snap, || self.execute(&snap, &format!("actions/{name}")))?;
        let outcome = outcome?;
        self.log_outcome(unit, &format!("unit.{unit}.{name}"), &outcome);
        self.dir
            .update(|m| finish_task(m, unit, id, &outcome, &changes))
    }

    /// Run `argv` in `unit`'s hook context and machine (like `juju exec`); returns its
    /// exit code. Buffered changes are committed on exit 0.
    pub fn run_exec(&self, unit: &str, argv: &[String]) -> Result<i32, EngineError> {
        let ctx_id = new_context_id(unit, "run-commands");
        let snap = self
            .dir
            .update(|m| snapshot(m, &self.dir, unit, ContextKind::Exec, &ctx_id))?;
        // One argument is a shell command line, as with `juju exec`.
        let mut cmd = match argv {
            [line] => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(line);
                c
            }
            [program, args @ ..] => {
                let mut c = Command::new(program);
                c.args(args);
                c
            }
            [] => return Ok(0),
        };
        self.prepare_command(&mut cmd, &snap, None)?;
        let (status, changes) = self.with_context(&snap, || cmd.status())?;
        let status = status.map_err(|source| EngineError::Spawn {
            command: argv.join(" "),
            unit: unit.into(),
            source,
        })?;
        let code = exit_code(&status);
        if code == 0 {
            self.dir.update(|m| -> Result<(), EngineError> {
                apply_pending(m, unit, &Pending::fold(&changes));
                Ok(())
            })?;
        }
        Ok(code)
    }
}

/// Record a `pending` task for `name` on `unit` (ids shared with operations, as Juju
/// numbers them).
fn new_task(
    m: &mut Model,
    unit: &str,
    name: &str,
    params: Map<String, Value>,
) -> Result<u32, EngineError> {
    let app = m
        .applications
        .get(app_of(unit))
        .ok_or_else(|| EngineError::UnitNotFound(unit.into()))?;
    if !m.units.contains_key(unit) {
        return Err(EngineError::UnitNotFound(unit.into()));
    }
    if app.charm.actions.is_empty() {
        return Err(EngineError::NoActions(app.charm.name.clone()));
    }
    let params = app.charm.validate_action(unit, name, params)?;
    let op = m.next_task.max(1);
    let id = op + 1;
    m.next_task = id + 1;
    let now = now_secs();
    m.tasks.insert(
        id,
        Task {
            id,
            operation: op,
            unit: unit.to_string(),
            action: name.to_string(),
            params: Value::Object(params),
            status: "pending".into(),
            message: String::new(),
            results: json!({}),
            log: vec![],
            timing: [now, 0, 0],
        },
    );
    Ok(id)
}

/// Mark task `id` `running` and take the snapshot it runs with; returns it and the
/// action's name.
fn start_task(m: &mut Model, dir: &ModelDir, id: u32) -> Result<(Snapshot, String), EngineError> {
    let t = m.tasks.get_mut(&id).ok_or(EngineError::TaskVanished(id))?;
    t.status = "running".into();
    t.timing[1] = now_secs();
    let (unit, name, params) = (t.unit.clone(), t.action.clone(), t.params.clone());
    let kind = ContextKind::Action {
        id,
        name: name.clone(),
        params,
    };
    let snap = snapshot(m, dir, &unit, kind, &new_context_id(&unit, &name))?;
    if let Some(u) = m.units.get_mut(&unit) {
        if u.error.is_none() {
            u.set_agent(StatusInfo::now(
                "executing",
                &format!("running action {name}"),
            ));
        }
    }
    Ok((snap, name))
}

/// How the task ended: completed (or failed by action-fail) on exit 0, with its changes
/// committed; failed otherwise. Results get return-code, stdout and stderr.
fn finish_task(
    m: &mut Model,
    unit: &str,
    task_id: u32,
    outcome: &RunOutcome,
    changes: &[Change],
) -> Result<Task, EngineError> {
    let pending = Pending::fold(changes);
    let (status, message) = match outcome.code {
        None => ("failed", format!("action not implemented on unit {unit:?}")),
        Some(0) => {
            apply_pending(m, unit, &pending);
            match &pending.failed {
                Some(msg) => ("failed", msg.clone()),
                None => ("completed", String::new()),
            }
        }
        Some(n) => ("failed", format!("exit status {n}")),
    };
    let mut results = pending.results.clone();
    if let Some(code) = outcome.code {
        results.insert("return-code".into(), json!(code));
    }
    if !outcome.stdout.is_empty() {
        results.insert("stdout".into(), Value::String(outcome.stdout.clone()));
    }
    if !outcome.stderr.is_empty() {
        results.insert("stderr".into(), Value::String(outcome.stderr.clone()));
    }
    m.clock_ms += STEP_MS;
    if let Some(u) = m.units.get_mut(unit) {
        if u.error.is_none() {
            u.set_agent(StatusInfo::now("idle", ""));
        }
    }
    let t = m
        .tasks
        .get_mut(&task_id)
        .ok_or(EngineError::TaskVanished(task_id))?;
    t.status = status.into();
    t.message = message;
    t.results = Value::Object(results);
    t.timing[2] = now_secs();
    Ok(t.clone())
}
