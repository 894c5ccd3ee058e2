//! What a finished execution changes in the model: a hook marked done and its buffered
//! changes committed (or the unit put in error), and the clean-up between hooks.
use crate::context::{Change, Pending};
use crate::machines::Machine;
use crate::model::{app_of, HookError, Life, Model, StatusInfo};
use crate::resolver::{mark_done, secret_hook_committed, Hook, HookKind};
use crate::sched::STEP_MS;

/// Remove what no unit needs any more: dying relations nobody still tracks, dying
/// units that never installed, dying applications without units (and their peer
/// relations).
pub(crate) fn cleanup(m: &mut Model) {
    let never_installed: Vec<String> = m
        .units
        .values()
        .filter(|u| u.life == Life::Dying && !u.seen.installed)
        .map(|u| u.name.clone())
        .collect();
    for u in never_installed {
        m.units.remove(&u);
    }
    let tracked: Vec<u32> = m
        .units
        .values()
        .flat_map(|u| u.seen.relations.keys().copied())
        .collect();
    m.relations
        .retain(|id, r| r.life == Life::Alive || tracked.contains(id));
    let gone: Vec<String> = m
        .applications
        .values()
        .filter(|a| a.life == Life::Dying && !m.units.values().any(|u| u.app == a.name))
        .map(|a| a.name.clone())
        .collect();
    for app in gone {
        m.applications.remove(&app);
        m.relations
            .retain(|_, r| !r.endpoints.iter().any(|e| e.app == app));
    }
}

/// Record how a hook ended, one step of the model clock later: on failure the unit goes
/// into error (nothing buffered is committed; the scheduler sets when the agent retries
/// it); on success the hook is marked done and its changes committed. Returns the
/// machine to destroy when the hook was `remove`.
pub(crate) fn commit_hook(
    m: &mut Model,
    unit: &str,
    hook: &Hook,
    ok: bool,
    changes: &[Change],
) -> Option<Machine> {
    m.clock_ms += STEP_MS;
    if !ok {
        let msg = format!("hook failed: {:?}", hook.name());
        if let Some(u) = m.units.get_mut(unit) {
            u.error = Some(HookError {
                hook: hook.clone(),
                message: msg.clone(),
                retry_at_ms: None,
            });
            u.retry = None;
            u.failures += 1;
            u.set_agent(StatusInfo::now("error", &msg));
        }
        return None;
    }
    mark_done(m, unit, hook);
    let latest_before = hook
        .secret
        .as_ref()
        .and_then(|s| m.secrets.get(&s.id))
        .map(|s| s.latest);
    // Juju refreshes the network keys first (CommitHookChanges with UpdateNetworkInfo),
    // so a value the hook itself set still wins.
    if hook.kind == HookKind::ConfigChanged {
        m.refresh_address_keys(unit);
    }
    apply_pending(m, unit, &Pending::fold(changes));
    secret_hook_committed(m, hook, latest_before);
    if let Some(u) = m.units.get_mut(unit) {
        u.failures = 0;
        u.set_agent(StatusInfo::now("idle", ""));
        if hook.kind == HookKind::Start && !u.status_set_by_charm {
            u.set_workload(StatusInfo::now("unknown", ""));
        }
    }
    if hook.kind == HookKind::Remove {
        let machine = m.units.get(unit).map(|u| u.machine);
        m.units.remove(unit);
        m.forget_unit_secrets(unit);
        // A machine goes with the last unit on it (a principal and its subordinates).
        let shared = |id: u32| m.units.values().any(|u| u.machine == id);
        return machine
            .filter(|id| !shared(*id))
            .and_then(|id| m.machines.remove(&id));
    }
    None
}

/// Commit buffered changes of `unit` (after exit 0).
pub fn apply_pending(m: &mut Model, unit: &str, p: &Pending) {
    let app = app_of(unit).to_string();
    for (id, data) in &p.unit_bags {
        if let Some(r) = m.relations.get_mut(id) {
            r.unit_bags.entry(unit.to_string()).or_default().apply(data);
        }
    }
    for (id, data) in &p.app_bags {
        if let Some(r) = m.relations.get_mut(id) {
            r.app_bags.entry(app.clone()).or_default().apply(data);
        }
    }
    if let Some(u) = m.units.get_mut(unit) {
        for (k, v) in &p.state {
            match v {
                Some(v) => u.state.insert(k.clone(), v.clone()),
                None => u.state.remove(k),
            };
        }
        for (open, port) in &p.ports {
            u.ports.retain(|o| o.range != port.range);
            if *open {
                u.ports.insert(port.clone());
            }
        }
    }
    let now = m.now();
    m.apply_secret_changes(&p.secrets, now);
    for (name, count) in &p.storage_add {
        m.add_storage(unit, name, *count);
    }
}
