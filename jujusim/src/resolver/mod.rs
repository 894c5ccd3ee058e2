//! The resolver: which hook a unit runs next, from what its agent has seen against the
//! model. Pure functions over `Model`; the engine runs the hook and commits it.
//!
//! Juju's uniter does not queue one hook per change: it compares what the unit last
//! committed (config hash, bag versions, leader-settings version, members) with the
//! model and runs the first operation due, in a fixed priority: charm upgrade, then
//! relation-created, leadership, a hook queued by the last one (start after the first
//! config-changed), pending actions, config-changed, and last the relation hooks. Many
//! changes before a hook runs make one hook that sees the latest data. Where Juju
//! leaves the order open (which relation goes first: it walks a Go map) [`next_ops`]
//! returns every choice and the scheduler picks.
mod agent;
mod hook;
mod secret;
mod storage;
#[cfg(test)]
mod tests;

pub use agent::{begin, mark_done, members_during, normalize};
pub use hook::{Hook, HookKind, SecretRef};
pub use secret::{secret_hook, secret_hook_committed};
pub use storage::storage_hook;

use crate::charm::Role;
use crate::model::{app_of, unit_number, Application, Life, Model, RelSeen, Unit};

/// One operation a unit agent can run next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Run a hook.
    Hook(Hook),
    /// Run the pending action task with this id.
    Action(u32),
}

/// A relation hook for `unit` on relation `id`, its endpoint and remote app filled in.
fn rel_hook(
    model: &Model,
    unit: &str,
    id: u32,
    kind: HookKind,
    remote_unit: Option<String>,
    departing: Option<String>,
) -> Hook {
    let app = app_of(unit);
    let rel = model.relations.get(&id);
    Hook {
        kind,
        relation: Some(id),
        endpoint: rel
            .and_then(|r| r.local_endpoint(app))
            .map(|e| e.name.clone()),
        remote_app: rel
            .and_then(|r| r.remote_endpoint(app))
            .map(|e| e.app.clone()),
        remote_unit,
        departing,
        secret: None,
        storage: None,
    }
}

/// Sort unit names the way Juju orders members (application, then number).
pub fn sort_units(units: &mut [String]) {
    units.sort_by(|a, b| (app_of(a), unit_number(a)).cmp(&(app_of(b), unit_number(b))));
}

/// Bag version of `member` in relation `id` (0 when never written).
pub fn member_version(model: &Model, id: u32, member: &str) -> u64 {
    model
        .relations
        .get(&id)
        .and_then(|r| r.unit_bags.get(member))
        .map(|b| b.version)
        .unwrap_or(0)
}

/// Version of the remote application bag seen from a unit of `app`.
pub fn remote_app_version(model: &Model, id: u32, app: &str) -> u64 {
    model
        .relations
        .get(&id)
        .and_then(|r| r.remote_endpoint(app).and_then(|e| r.app_bags.get(&e.app)))
        .map(|b| b.version)
        .unwrap_or(0)
}

/// The next hook `unit` must run (the first choice where the order is open), or None
/// when it is idle, in error, or due to run an action first.
pub fn next_hook(model: &Model, unit_name: &str) -> Option<Hook> {
    match next_ops(model, unit_name).into_iter().next()? {
        Op::Hook(h) => Some(h),
        Op::Action(_) => None,
    }
}

/// The operations `unit` may run next, all equally due: one, or one per relation where
/// Juju leaves the order between relations open. Empty when the agent has nothing to
/// do (idle, or in error with no action pending).
pub fn next_ops(model: &Model, unit_name: &str) -> Vec<Op> {
    let hooks = |v: Vec<Hook>| v.into_iter().map(Op::Hook).collect::<Vec<Op>>();
    let one = |h: Hook| vec![Op::Hook(h)];
    let (Some(unit), Some(app)) = (
        model.units.get(unit_name),
        model.applications.get(app_of(unit_name)),
    ) else {
        return vec![];
    };
    let action = pending_action(model, unit_name).map(Op::Action);
    if unit.error.is_some() {
        // Actions still run while a hook is in error.
        return action.into_iter().collect();
    }
    if let Some(h) = &unit.retry {
        return one(h.clone());
    }
    if !unit.seen.installed {
        // A unit removed before it ever installed is cleaned up without hooks; its
        // initial storage is attached before install.
        if unit.life != Life::Alive {
            return vec![];
        }
        return one(storage_hook(unit).unwrap_or_else(|| Hook::plain(HookKind::Install)));
    }
    if unit.life == Life::Dying {
        if let Some(a) = action {
            return vec![a];
        }
        if let Some(h) = storage_hook(unit) {
            return one(h);
        }
        return hooks(teardown_hooks(model, unit));
    }
    if unit.seen.charm_revision != app.revision {
        return one(Hook::plain(HookKind::UpgradeCharm));
    }
    let created = relation_created_hooks(model, unit);
    if !created.is_empty() {
        return hooks(created);
    }
    if let Some(h) = leadership_hook(unit, app).or_else(|| queued_hook(unit)) {
        return one(h);
    }
    if let Some(a) = action {
        return vec![a];
    }
    if let Some(h) = config_hook(unit, app) {
        return one(h);
    }
    if let Some(h) = secret_hook(model, unit).or_else(|| storage_hook(unit)) {
        return one(h);
    }
    hooks(
        unit.seen
            .relations
            .iter()
            .filter_map(|(id, rs)| relation_hook(model, unit, *id, rs))
            .collect(),
    )
}

/// The oldest action task still pending on `unit` (Juju runs them in order).
fn pending_action(model: &Model, unit: &str) -> Option<u32> {
    model
        .tasks
        .values()
        .filter(|t| t.unit == unit && t.status == "pending")
        .map(|t| t.id)
        .min()
}

/// A dying unit leaves every relation (departed for each member, then broken for
/// non-peers) before `stop`, then `remove`: Juju breaks all relations first when the
/// unit is dying, against its usual order of relations last. Relations in any order.
fn teardown_hooks(model: &Model, unit: &Unit) -> Vec<Hook> {
    let name = unit.name.as_str();
    let leaving: Vec<Hook> = unit
        .seen
        .relations
        .iter()
        .filter_map(|(id, rs)| {
            if let Some(m) = rs.members.keys().next() {
                return Some(rel_hook(
                    model,
                    name,
                    *id,
                    HookKind::RelationDeparted,
                    Some(m.clone()),
                    Some(name.to_string()),
                ));
            }
            let peer = model.relations.get(id).is_some_and(|r| r.is_peer());
            (!peer).then(|| rel_hook(model, name, *id, HookKind::RelationBroken, None, None))
        })
        .collect();
    if !leaving.is_empty() {
        return leaving;
    }
    vec![Hook::plain(if unit.seen.stopped {
        HookKind::Remove
    } else {
        HookKind::Stop
    })]
}

/// `relation-created` for each live relation the unit takes part in and has not been
/// told about yet.
fn relation_created_hooks(model: &Model, unit: &Unit) -> Vec<Hook> {
    model
        .relations_of(&unit.app)
        .filter(|rel| {
            let created = unit.seen.relations.get(&rel.id).is_some_and(|r| r.created);
            !created && rel.life == Life::Alive && model.relation_joins(rel.id, &unit.name)
        })
        .map(|rel| {
            rel_hook(
                model,
                &unit.name,
                rel.id,
                HookKind::RelationCreated,
                None,
                None,
            )
        })
        .collect()
}

/// leader-elected for a new leader; leader-settings-changed for the others when the
/// leader settings changed (also once after install).
fn leadership_hook(unit: &Unit, app: &Application) -> Option<Hook> {
    let seen = &unit.seen;
    let is_leader = app.leader.as_deref() == Some(unit.name.as_str());
    let kind = if is_leader && !seen.leader {
        HookKind::LeaderElected
    } else if !is_leader && seen.leader_settings_version != Some(app.leader_settings.version) {
        HookKind::LeaderSettingsChanged
    } else {
        return None;
    };
    Some(Hook::plain(kind))
}

/// The hook the last one queued, which runs before any action: `start` after the first
/// config-changed, `config-changed` after upgrade-charm.
fn queued_hook(unit: &Unit) -> Option<Hook> {
    let seen = &unit.seen;
    let kind = match (seen.config_hash.is_some(), seen.started) {
        (true, false) => HookKind::Start,
        (false, true) => HookKind::ConfigChanged,
        _ => return None,
    };
    Some(Hook::plain(kind))
}

/// config-changed when the config (hash) changed, on the way to the first start too.
fn config_hook(unit: &Unit, app: &Application) -> Option<Hook> {
    (unit.seen.config_hash != Some(app.config_hash())).then(|| Hook::plain(HookKind::ConfigChanged))
}

/// The next hook of one relation the unit knows, in Juju's per-relation priority:
/// the changed owed after a joined, departed, broken, the remote app bag's changed,
/// joined (sorted), then a member's changed.
fn relation_hook(model: &Model, unit: &Unit, id: u32, rs: &RelSeen) -> Option<Hook> {
    let rel = model.relations.get(&id)?;
    if !rs.created {
        return None;
    }
    let name = unit.name.as_str();
    let hook = |kind, remote: Option<&String>, departing: Option<&String>| {
        Some(rel_hook(
            model,
            name,
            id,
            kind,
            remote.cloned(),
            departing.cloned(),
        ))
    };
    if let Some(u) = &rs.pending_changed {
        return hook(HookKind::RelationChanged, Some(u), None);
    }
    let mut remote = if rel.life == Life::Dying {
        Vec::new()
    } else {
        rel.remote_scope(name)
    };
    sort_units(&mut remote);
    if let Some(gone) = rs.members.keys().find(|m| !remote.contains(m)) {
        return hook(HookKind::RelationDeparted, Some(gone), Some(gone));
    }
    if rel.life == Life::Dying && !rel.is_peer() {
        return hook(HookKind::RelationBroken, None, None);
    }
    let app_version = remote_app_version(model, id, &unit.app);
    // Version 0 means the remote app never wrote its bag: nothing to announce.
    if app_version > 0 && app_version != rs.app_version {
        return hook(HookKind::RelationChanged, None, None);
    }
    if let Some(new) = remote.iter().find(|m| !rs.members.contains_key(*m)) {
        return hook(HookKind::RelationJoined, Some(new), None);
    }
    let mut members: Vec<String> = rs.members.keys().cloned().collect();
    sort_units(&mut members);
    let changed = members
        .iter()
        .find(|m| rs.members.get(*m) != Some(&member_version(model, id, m)))?;
    hook(HookKind::RelationChanged, Some(changed), None)
}

/// Whether `role` pairs can relate (provides <-> requires).
pub fn roles_match(a: Role, b: Role) -> bool {
    matches!(
        (a, b),
        (Role::Provider, Role::Requirer) | (Role::Requirer, Role::Provider)
    )
}
