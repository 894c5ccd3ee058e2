//! What one execution sees: the unit's view of the model frozen at its start (config,
//! relations with their members and bags, leadership, ports, goal-state).
use super::EngineError;
use crate::context::{ContextKind, RelView, Snapshot};
use crate::model::{app_of, iso_time, now_secs, Bag, Life, Model, ModelDir, Relation, Unit};
use crate::resolver::{members_during, Hook};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Build the snapshot a new execution of `unit` sees.
pub fn snapshot(
    m: &Model,
    dir: &ModelDir,
    unit: &str,
    kind: ContextKind,
    ctx_id: &str,
) -> Result<Snapshot, EngineError> {
    let u = m
        .units
        .get(unit)
        .ok_or_else(|| EngineError::UnitNotFound(unit.into()))?;
    let app = m
        .applications
        .get(&u.app)
        .ok_or_else(|| EngineError::AppNotFound(u.app.clone()))?;
    let machine =
        m.machines
            .get(&u.machine)
            .cloned()
            .ok_or_else(|| EngineError::MachineNotFound {
                machine: u.machine,
                unit: unit.into(),
            })?;
    let hook = match &kind {
        ContextKind::Hook(h) => Some(h),
        _ => None,
    };
    let relations = m
        .relations_of(&u.app)
        .filter_map(|r| Some((r.id, rel_view(m, u, r, hook)?)))
        .collect();
    Ok(Snapshot {
        context_id: ctx_id.to_string(),
        model_dir: dir.path.clone(),
        model_name: m.name.clone(),
        model_uuid: m.uuid.clone(),
        unit: unit.to_string(),
        app: u.app.clone(),
        kind,
        leader: app.leader.as_deref() == Some(unit),
        config: app.effective_config(),
        leader_settings: app.leader_settings.data.clone(),
        relations,
        state: u.state.clone(),
        ports: u.ports.iter().cloned().collect(),
        machine,
        bindings: app.charm.bindings(),
        goal_state: goal_state(m, unit),
        principal: u.principal.clone(),
        storage: u.storage.clone(),
        storage_meta: app.charm.storage.clone(),
    })
}

/// Relation `r` as `u` sees it during `hook`: members as relation-list answers, and
/// whether relation-ids lists it (once created or while its own hook runs, until it is
/// dying with nobody left).
fn rel_view(m: &Model, u: &Unit, r: &Relation, hook: Option<&Hook>) -> Option<RelView> {
    let (local, remote) = (r.local_endpoint(&u.app)?, r.remote_endpoint(&u.app)?);
    let members = members_during(m, &u.name, r.id, hook);
    let current = hook.and_then(|h| h.relation) == Some(r.id);
    let created = u.seen.relations.get(&r.id).is_some_and(|s| s.created);
    let listed = (created || current) && !(r.life == Life::Dying && members.is_empty());
    let bags = |bags: &BTreeMap<String, Bag>| {
        bags.iter()
            .map(|(k, b)| (k.clone(), b.data.clone()))
            .collect()
    };
    Some(RelView {
        id: r.id,
        endpoint: local.name.clone(),
        remote_endpoint: remote.name.clone(),
        remote_app: remote.app.clone(),
        peer: r.is_peer(),
        members,
        listed,
        units: bags(&r.unit_bags),
        apps: bags(&r.app_bags),
    })
}

/// goal-state: the app's units and, per endpoint, the related apps and units, each with
/// the status Juju derives for it.
fn goal_state(m: &Model, unit: &str) -> Value {
    let app = app_of(unit);
    let since = iso_time(now_secs());
    let unit_status = |name: &str| {
        let u = m.units.get(name);
        let st = match u {
            Some(u) if u.life == Life::Dying => "dying".to_string(),
            Some(u) if u.error.is_some() => "error".to_string(),
            Some(u) if !u.seen.installed => "allocating".to_string(),
            Some(u) => match u.workload.status.as_str() {
                "active" | "waiting" | "blocked" => u.workload.status.clone(),
                _ => "waiting".to_string(),
            },
            None => "dying".to_string(),
        };
        json!({"status": st, "since": since})
    };
    let units: Map<String, Value> = m
        .units_of(app)
        .iter()
        .map(|u| (u.clone(), unit_status(u)))
        .collect();
    let mut relations: Map<String, Value> = Map::new();
    for r in m.relations_of(app) {
        let (Some(local), Some(remote)) = (r.local_endpoint(app), r.remote_endpoint(app)) else {
            continue;
        };
        let entry = relations
            .entry(local.name.clone())
            .or_insert_with(|| json!({}));
        let status = if r.life == Life::Dying {
            "broken"
        } else {
            "joined"
        };
        if let Value::Object(o) = entry {
            if !r.is_peer() {
                o.insert(
                    remote.app.clone(),
                    json!({"status": status, "since": since}),
                );
            }
            for ru in m.units_of(&remote.app) {
                if ru != unit || !r.is_peer() {
                    o.insert(ru.clone(), unit_status(&ru));
                }
            }
        }
    }
    json!({"units": units, "relations": relations})
}
