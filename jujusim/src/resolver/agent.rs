//! The unit agent's own record of what it ran (`Unit::seen`): fixes that need no hook,
//! what the agent does as a hook starts and what a finished hook marks as seen, and
//! relation membership during a hook.
use super::{member_version, remote_app_version, sort_units, Hook, HookKind};
use crate::model::{app_of, Life, Model, RelSeen};
use std::collections::BTreeMap;

/// Silent agent-state fixes that run no hook (lost leadership, relations gone).
pub fn normalize(model: &mut Model, unit_name: &str) {
    let leader = model
        .units
        .get(unit_name)
        .and_then(|u| model.applications.get(&u.app))
        .and_then(|a| a.leader.clone());
    let settings_version = model
        .units
        .get(unit_name)
        .and_then(|u| model.applications.get(&u.app))
        .map(|a| a.leader_settings.version);
    let existing: Vec<u32> = model.relations.keys().copied().collect();
    let peers: Vec<u32> = model
        .relations
        .values()
        .filter(|r| r.is_peer())
        .map(|r| r.id)
        .collect();
    let Some(unit) = model.units.get_mut(unit_name) else {
        return;
    };
    let is_leader = leader.as_deref() == Some(unit_name);
    if unit.seen.leader && !is_leader {
        unit.seen.leader = false;
    }
    if is_leader && unit.seen.leader {
        // The leader is never told about its own leader-set.
        unit.seen.leader_settings_version = settings_version;
    }
    let dying = unit.life == Life::Dying;
    unit.seen.relations.retain(|id, rs| {
        existing.contains(id)
            && !(dying
                && peers.contains(id)
                && rs.members.is_empty()
                && rs.pending_changed.is_none())
    });
}

/// What the agent does as it starts `hook`: before relation-created it enters the
/// relation's scope (so remote units see it join only once it has installed and reached
/// the relation: docs/juju.md#events), and Juju writes its address keys there.
pub fn begin(model: &mut Model, unit_name: &str, hook: &Hook) {
    let (HookKind::RelationCreated, Some(id)) = (hook.kind, hook.relation) else {
        return;
    };
    let alive = model
        .units
        .get(unit_name)
        .is_some_and(|u| u.life == Life::Alive);
    let live = model
        .relations
        .get(&id)
        .is_some_and(|r| r.life == Life::Alive);
    if alive && live && model.relation_joins(id, unit_name) {
        model.enter_scope(id, unit_name);
    }
}

/// Record in the unit's agent state that `hook` ran (called before its changes apply,
/// so versions are those the hook saw).
pub fn mark_done(model: &mut Model, unit_name: &str, hook: &Hook) {
    let app_name = app_of(unit_name).to_string();
    let (revision, hash, settings_version) = match model.applications.get(&app_name) {
        Some(a) => (a.revision, a.config_hash(), a.leader_settings.version),
        None => return,
    };
    let versions = hook.relation.map(|id| SeenVersions {
        id,
        remote_unit: hook
            .remote_unit
            .as_deref()
            .map(|m| member_version(model, id, m))
            .unwrap_or(0),
        remote_app: remote_app_version(model, id, &app_name),
    });
    let Some(unit) = model.units.get_mut(unit_name) else {
        return;
    };
    unit.retry = None;
    let seen = &mut unit.seen;
    match hook.kind {
        HookKind::Install => {
            seen.installed = true;
            seen.charm_revision = revision;
        }
        HookKind::Start => seen.started = true,
        HookKind::ConfigChanged => seen.config_hash = Some(hash),
        HookKind::UpgradeCharm => {
            seen.charm_revision = revision;
            seen.config_hash = None;
        }
        HookKind::LeaderElected => {
            seen.leader = true;
            seen.leader_settings_version = Some(settings_version);
        }
        HookKind::LeaderSettingsChanged => seen.leader_settings_version = Some(settings_version),
        HookKind::UpdateStatus | HookKind::Remove => {}
        HookKind::Stop => seen.stopped = true,
        HookKind::SecretChanged | HookKind::SecretRemove => {
            if let Some(s) = &hook.secret {
                super::secret::mark_secret_seen(seen, hook.kind, s);
            }
        }
        HookKind::SecretRotate | HookKind::SecretExpired => {}
        HookKind::StorageAttached | HookKind::StorageDetaching => {
            if let Some(s) = &hook.storage {
                let set = if hook.kind == HookKind::StorageAttached {
                    &mut seen.storage_attached
                } else {
                    &mut seen.storage_detached
                };
                set.insert(s.id.clone());
            }
        }
        _ => {
            if let Some(v) = versions {
                mark_relation_done(&mut seen.relations, hook, v);
            }
        }
    }
}

/// The versions a relation hook saw: its remote unit's bag and the remote app's bag.
#[derive(Clone, Copy)]
struct SeenVersions {
    id: u32,
    remote_unit: u64,
    remote_app: u64,
}

/// A relation hook's mark: created, a member joined (its changed now owed), changed
/// (a member's or the app's version seen), departed, broken (the relation forgotten).
fn mark_relation_done(relations: &mut BTreeMap<u32, RelSeen>, hook: &Hook, v: SeenVersions) {
    let remote = hook.remote_unit.as_ref();
    match (hook.kind, remote) {
        (HookKind::RelationCreated, _) => relations.entry(v.id).or_default().created = true,
        (HookKind::RelationJoined, Some(u)) => {
            let rs = relations.entry(v.id).or_default();
            rs.members.insert(u.clone(), v.remote_unit);
            rs.pending_changed = Some(u.clone());
        }
        (HookKind::RelationChanged, Some(u)) => {
            let rs = relations.entry(v.id).or_default();
            if rs.members.contains_key(u) {
                rs.members.insert(u.clone(), v.remote_unit);
            }
            if rs.pending_changed.as_ref() == Some(u) {
                rs.pending_changed = None;
            }
        }
        (HookKind::RelationChanged, None) => {
            relations.entry(v.id).or_default().app_version = v.remote_app
        }
        (HookKind::RelationDeparted, Some(u)) => {
            if let Some(rs) = relations.get_mut(&v.id) {
                rs.members.remove(u);
                if rs.pending_changed.as_ref() == Some(u) {
                    rs.pending_changed = None;
                }
            }
        }
        (HookKind::RelationBroken, _) => {
            relations.remove(&v.id);
        }
        _ => {}
    }
}

/// Membership of relation `id` as the unit sees it during `hook` (relation-list).
pub fn members_during(model: &Model, unit_name: &str, id: u32, hook: Option<&Hook>) -> Vec<String> {
    let mut m: Vec<String> = model
        .units
        .get(unit_name)
        .and_then(|u| u.seen.relations.get(&id))
        .map(|rs| rs.members.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(h) = hook.filter(|h| h.relation == Some(id)) {
        match (h.kind, &h.remote_unit) {
            (HookKind::RelationJoined, Some(u)) if !m.contains(u) => m.push(u.clone()),
            (HookKind::RelationDeparted, Some(u)) => m.retain(|x| x != u),
            (HookKind::RelationBroken, _) => m.clear(),
            _ => {}
        }
    }
    sort_units(&mut m);
    m
}
