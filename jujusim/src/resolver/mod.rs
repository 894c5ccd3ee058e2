//! The resolver: which hook a unit runs next, from what its agent has seen against the
//! model. Pure functions over `Model`; the engine runs the hook and commits it.
//!
//! Juju's uniter does not queue one hook per change: it compares what the unit last
//! committed (config hash, bag versions, leader-settings version, members) with the
//! model and runs the first hook due, in a fixed priority: charm upgrade, then
//! relation-created, leadership, install/config-changed/start, and last the relation
//! hooks. Many changes before a hook runs make one hook that sees the latest data.
mod agent;
mod hook;
mod secret;
mod storage;
#[cfg(test)]
mod tests;

pub use agent::{mark_done, members_during, normalize};
pub use hook::{Hook, HookKind, SecretRef};
pub use secret::{secret_hook, secret_hook_committed};
pub use storage::storage_hook;

use crate::charm::Role;
use crate::model::{app_of, unit_number, Application, Life, Model, RelSeen, Unit};

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

/// The next hook `unit` must run, or None when it is idle (or in error).
pub fn next_hook(model: &Model, unit_name: &str) -> Option<Hook> {
    let unit = model.units.get(unit_name)?;
    let app = model.applications.get(&unit.app)?;
    if unit.error.is_some() {
        return None;
    }
    if let Some(h) = &unit.retry {
        return Some(h.clone());
    }
    if !unit.seen.installed {
        // A unit removed before it ever installed is cleaned up without hooks; its
        // initial storage is attached before install.
        if unit.life != Life::Alive {
            return None;
        }
        return storage_hook(unit).or_else(|| Some(Hook::plain(HookKind::Install)));
    }
    if unit.life == Life::Dying {
        return storage_hook(unit).or_else(|| Some(teardown_hook(model, unit)));
    }
    if unit.seen.charm_revision != app.revision {
        return Some(Hook::plain(HookKind::UpgradeCharm));
    }
    if let Some(h) = relation_created_hook(model, unit) {
        return Some(h);
    }
    if let Some(h) = lifecycle_hook(unit, app) {
        return Some(h);
    }
    if let Some(h) = secret_hook(model, unit).or_else(|| storage_hook(unit)) {
        return Some(h);
    }
    unit.seen
        .relations
        .iter()
        .find_map(|(id, rs)| relation_hook(model, unit, *id, rs))
}

/// A dying unit leaves every relation (departed for each member, then broken for
/// non-peers) before `stop`, then `remove`: Juju breaks all relations first when the
/// unit is dying, against its usual order of relations last.
fn teardown_hook(model: &Model, unit: &Unit) -> Hook {
    let name = unit.name.as_str();
    for (id, rs) in &unit.seen.relations {
        if let Some(m) = rs.members.keys().next() {
            return rel_hook(
                model,
                name,
                *id,
                HookKind::RelationDeparted,
                Some(m.clone()),
                Some(name.to_string()),
            );
        }
        let peer = model.relations.get(id).is_some_and(|r| r.is_peer());
        if !peer {
            return rel_hook(model, name, *id, HookKind::RelationBroken, None, None);
        }
    }
    Hook::plain(if unit.seen.stopped {
        HookKind::Remove
    } else {
        HookKind::Stop
    })
}

/// `relation-created` for the first live relation the unit has not been told about.
fn relation_created_hook(model: &Model, unit: &Unit) -> Option<Hook> {
    let rel = model.relations_of(&unit.app).find(|rel| {
        let created = unit.seen.relations.get(&rel.id).is_some_and(|r| r.created);
        !created && rel.life == Life::Alive
    })?;
    Some(rel_hook(
        model,
        &unit.name,
        rel.id,
        HookKind::RelationCreated,
        None,
        None,
    ))
}

/// Leadership, then config-changed, then the first start.
fn lifecycle_hook(unit: &Unit, app: &Application) -> Option<Hook> {
    let seen = &unit.seen;
    let is_leader = app.leader.as_deref() == Some(unit.name.as_str());
    let kind = if is_leader && !seen.leader {
        HookKind::LeaderElected
    } else if !is_leader && seen.leader_settings_version != Some(app.leader_settings.version) {
        HookKind::LeaderSettingsChanged
    } else if seen.config_hash != Some(app.config_hash()) {
        HookKind::ConfigChanged
    } else if !seen.started {
        HookKind::Start
    } else {
        return None;
    };
    Some(Hook::plain(kind))
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
