//! The unit agent's own record of what it ran (`Unit::seen`): fixes that need no hook,
//! what a finished hook marks as seen, and relation membership during a hook.
use super::{member_version, remote_app_version, sort_units, Hook, HookKind};
use crate::model::{app_of, Life, Model};

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

/// Record in the unit's agent state that `hook` ran (called before its changes apply,
/// so versions are those the hook saw).
pub fn mark_done(model: &mut Model, unit_name: &str, hook: &Hook) {
    let app_name = app_of(unit_name).to_string();
    let (revision, hash, settings_version) = match model.applications.get(&app_name) {
        Some(a) => (a.revision, a.config_hash(), a.leader_settings.version),
        None => return,
    };
    let version_of = |m: &str| {
        hook.relation
            .map(|id| member_version(model, id, m))
            .unwrap_or(0)
    };
    let remote_unit_version = hook.remote_unit.as_deref().map(version_of).unwrap_or(0);
    let app_version = hook
        .relation
        .map(|id| remote_app_version(model, id, &app_name))
        .unwrap_or(0);
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
        HookKind::RelationCreated => {
            if let Some(id) = hook.relation {
                seen.relations.entry(id).or_default().created = true;
            }
        }
        HookKind::RelationJoined => {
            if let (Some(id), Some(u)) = (hook.relation, &hook.remote_unit) {
                let rs = seen.relations.entry(id).or_default();
                rs.members.insert(u.clone(), remote_unit_version);
                rs.pending_changed = Some(u.clone());
            }
        }
        HookKind::RelationChanged => {
            if let Some(id) = hook.relation {
                let rs = seen.relations.entry(id).or_default();
                match &hook.remote_unit {
                    Some(u) => {
                        if rs.members.contains_key(u) {
                            rs.members.insert(u.clone(), remote_unit_version);
                        }
                        if rs.pending_changed.as_ref() == Some(u) {
                            rs.pending_changed = None;
                        }
                    }
                    None => rs.app_version = app_version,
                }
            }
        }
        HookKind::RelationDeparted => {
            if let (Some(id), Some(u)) = (hook.relation, &hook.remote_unit) {
                if let Some(rs) = seen.relations.get_mut(&id) {
                    rs.members.remove(u);
                    if rs.pending_changed.as_ref() == Some(u) {
                        rs.pending_changed = None;
                    }
                }
            }
        }
        HookKind::RelationBroken => {
            if let Some(id) = hook.relation {
                seen.relations.remove(&id);
            }
        }
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
