//! The resolver: which hook a unit runs next, from what its agent has seen vs the model
//! (docs/juju.md#events). Pure functions over `Model`; the engine runs and commits.
use crate::charm::Role;
use crate::model::{app_of, unit_number, Life, Model};
use serde::{Deserialize, Serialize};

/// Kind of hook.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum HookKind {
    /// install
    Install,
    /// start
    Start,
    /// config-changed
    ConfigChanged,
    /// upgrade-charm
    UpgradeCharm,
    /// leader-elected
    LeaderElected,
    /// leader-settings-changed
    LeaderSettingsChanged,
    /// update-status
    UpdateStatus,
    /// stop
    Stop,
    /// remove
    Remove,
    /// <ep>-relation-created
    RelationCreated,
    /// <ep>-relation-joined
    RelationJoined,
    /// <ep>-relation-changed
    RelationChanged,
    /// <ep>-relation-departed
    RelationDeparted,
    /// <ep>-relation-broken
    RelationBroken,
}

/// One hook to run on one unit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Hook {
    /// What kind.
    pub kind: HookKind,
    /// Relation id for relation hooks.
    pub relation: Option<u32>,
    /// Local endpoint name for relation hooks.
    pub endpoint: Option<String>,
    /// Remote application for relation hooks.
    pub remote_app: Option<String>,
    /// JUJU_REMOTE_UNIT (None: empty).
    pub remote_unit: Option<String>,
    /// JUJU_DEPARTING_UNIT for departed.
    pub departing: Option<String>,
}

impl Hook {
    /// A hook that is not about a relation.
    pub fn plain(kind: HookKind) -> Hook {
        Hook {
            kind,
            relation: None,
            endpoint: None,
            remote_app: None,
            remote_unit: None,
            departing: None,
        }
    }

    /// The full hook name (`install`, `db-relation-changed`).
    pub fn name(&self) -> String {
        let rel = |suffix: &str| {
            format!(
                "{}-relation-{suffix}",
                self.endpoint.as_deref().unwrap_or("")
            )
        };
        match self.kind {
            HookKind::Install => "install".into(),
            HookKind::Start => "start".into(),
            HookKind::ConfigChanged => "config-changed".into(),
            HookKind::UpgradeCharm => "upgrade-charm".into(),
            HookKind::LeaderElected => "leader-elected".into(),
            HookKind::LeaderSettingsChanged => "leader-settings-changed".into(),
            HookKind::UpdateStatus => "update-status".into(),
            HookKind::Stop => "stop".into(),
            HookKind::Remove => "remove".into(),
            HookKind::RelationCreated => rel("created"),
            HookKind::RelationJoined => rel("joined"),
            HookKind::RelationChanged => rel("changed"),
            HookKind::RelationDeparted => rel("departed"),
            HookKind::RelationBroken => rel("broken"),
        }
    }
}

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
    let seen = &unit.seen;
    if !seen.installed {
        // A unit removed before it ever installed is cleaned up without hooks.
        return (unit.life == Life::Alive).then(|| Hook::plain(HookKind::Install));
    }
    if unit.life == Life::Dying {
        // Relations are broken before stop (resolver.go: "if we're dying we must ensure
        // that all relations are broken first").
        for (id, rs) in &seen.relations {
            if let Some(m) = rs.members.keys().next() {
                return Some(rel_hook(
                    model,
                    unit_name,
                    *id,
                    HookKind::RelationDeparted,
                    Some(m.clone()),
                    Some(unit_name.to_string()),
                ));
            }
            let peer = model
                .relations
                .get(id)
                .map(|r| r.is_peer())
                .unwrap_or(false);
            if !peer {
                return Some(rel_hook(
                    model,
                    unit_name,
                    *id,
                    HookKind::RelationBroken,
                    None,
                    None,
                ));
            }
        }
        if !seen.stopped {
            return Some(Hook::plain(HookKind::Stop));
        }
        return Some(Hook::plain(HookKind::Remove));
    }
    if seen.charm_revision != app.revision {
        return Some(Hook::plain(HookKind::UpgradeCharm));
    }
    for rel in model.relations_of(&unit.app) {
        let created = seen
            .relations
            .get(&rel.id)
            .map(|r| r.created)
            .unwrap_or(false);
        if !created && rel.life == Life::Alive {
            return Some(rel_hook(
                model,
                unit_name,
                rel.id,
                HookKind::RelationCreated,
                None,
                None,
            ));
        }
    }
    let is_leader = app.leader.as_deref() == Some(unit_name);
    if is_leader && !seen.leader {
        return Some(Hook::plain(HookKind::LeaderElected));
    }
    if !is_leader && seen.leader_settings_version != Some(app.leader_settings.version) {
        return Some(Hook::plain(HookKind::LeaderSettingsChanged));
    }
    if seen.config_hash != Some(app.config_hash()) {
        return Some(Hook::plain(HookKind::ConfigChanged));
    }
    if !seen.started {
        return Some(Hook::plain(HookKind::Start));
    }
    for (id, rs) in &seen.relations {
        let Some(rel) = model.relations.get(id) else {
            continue;
        };
        if !rs.created {
            continue;
        }
        if let Some(u) = &rs.pending_changed {
            return Some(rel_hook(
                model,
                unit_name,
                *id,
                HookKind::RelationChanged,
                Some(u.clone()),
                None,
            ));
        }
        let mut remote = if rel.life == Life::Dying {
            Vec::new()
        } else {
            rel.remote_scope(unit_name)
        };
        sort_units(&mut remote);
        if let Some(gone) = rs.members.keys().find(|m| !remote.contains(m)) {
            return Some(rel_hook(
                model,
                unit_name,
                *id,
                HookKind::RelationDeparted,
                Some(gone.clone()),
                Some(gone.clone()),
            ));
        }
        if rel.life == Life::Dying && !rel.is_peer() {
            return Some(rel_hook(
                model,
                unit_name,
                *id,
                HookKind::RelationBroken,
                None,
                None,
            ));
        }
        let app_version = remote_app_version(model, *id, &unit.app);
        if app_version > 0 && app_version != rs.app_version {
            return Some(rel_hook(
                model,
                unit_name,
                *id,
                HookKind::RelationChanged,
                None,
                None,
            ));
        }
        if let Some(new) = remote.iter().find(|m| !rs.members.contains_key(*m)) {
            return Some(rel_hook(
                model,
                unit_name,
                *id,
                HookKind::RelationJoined,
                Some(new.clone()),
                None,
            ));
        }
        let mut members: Vec<String> = rs.members.keys().cloned().collect();
        sort_units(&mut members);
        if let Some(m) = members
            .iter()
            .find(|m| rs.members.get(*m) != Some(&member_version(model, *id, m)))
        {
            return Some(rel_hook(
                model,
                unit_name,
                *id,
                HookKind::RelationChanged,
                Some(m.clone()),
                None,
            ));
        }
    }
    None
}

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

/// Whether `role` pairs can relate (provides <-> requires).
pub fn roles_match(a: Role, b: Role) -> bool {
    matches!(
        (a, b),
        (Role::Provider, Role::Requirer) | (Role::Requirer, Role::Provider)
    )
}
