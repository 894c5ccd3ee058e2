//! Changes to running applications and units: remove-unit, set-leader, config, resolve,
//! update-status, and destroying the whole model.
use super::subordinate::retire_subordinates;
use super::OpError;
use crate::engine::Engine;
use crate::model::{app_of, Life, Model, ModelDir, StatusInfo};
use crate::resolver::{mark_done, Hook, HookKind};

/// `remove-unit UNIT`: the unit (and its subordinates) dies; a leader among them gives
/// leadership up when its agent notices, and the lease lapses later
/// (`sched::timers`). A subordinate unit goes with its principal or its relation, not
/// alone.
pub fn remove_unit(dir: &ModelDir, unit: &str) -> Result<(), OpError> {
    dir.update(|m| -> Result<(), OpError> {
        if m.units.get(unit).is_some_and(|u| u.principal.is_some()) {
            return Err(OpError::SubordinateUnit(unit.into()));
        }
        mark_dying(m, unit)?;
        retire_subordinates(m)
    })
}

/// `unit` starts dying: it leaves every relation's scope.
pub(crate) fn mark_dying(m: &mut Model, unit: &str) -> Result<(), OpError> {
    let u = m
        .units
        .get_mut(unit)
        .ok_or_else(|| OpError::UnitNotFound(unit.into()))?;
    u.life = Life::Dying;
    for r in m.relations.values_mut() {
        r.scope.remove(unit);
    }
    Ok(())
}

/// `remove-application APP ...`: every unit dies (as with remove-unit, subordinates
/// with their principals) and every relation of the application dies, so the other
/// side departs and breaks; the application goes with its last unit.
pub fn remove_application(dir: &ModelDir, apps: &[String]) -> Result<(), OpError> {
    dir.update(|m| -> Result<(), OpError> {
        for app in apps {
            let a = m
                .applications
                .get_mut(app)
                .ok_or_else(|| OpError::AppNotFound(app.clone()))?;
            a.life = Life::Dying;
            for unit in m.units_of(app) {
                mark_dying(m, &unit)?;
            }
            for r in m.relations.values_mut() {
                if r.endpoints.iter().any(|e| &e.app == app) {
                    r.life = Life::Dying;
                    r.scope.clear();
                }
            }
        }
        retire_subordinates(m)
    })
}

/// Make `unit` the leader of its application at once (no lease to wait for).
pub fn set_leader(dir: &ModelDir, unit: &str) -> Result<(), OpError> {
    dir.update(|m| -> Result<(), OpError> {
        let alive = m.units.get(unit).is_some_and(|u| u.life == Life::Alive);
        if !alive {
            return Err(OpError::UnitNotAlive(unit.into()));
        }
        if let Some(a) = m.applications.get_mut(app_of(unit)) {
            a.leader = Some(unit.to_string());
            a.lease_until_ms = None;
        }
        Ok(())
    })
}

/// `config APP k=v ...` and `--reset k,...`.
pub fn set_config(
    dir: &ModelDir,
    app: &str,
    set: &[(String, String)],
    reset: &[String],
) -> Result<(), OpError> {
    dir.update(|m| -> Result<(), OpError> {
        let a = m
            .applications
            .get_mut(app)
            .ok_or_else(|| OpError::AppNotFound(app.into()))?;
        let mut typed = Vec::new();
        for (k, v) in set {
            typed.push((k.clone(), a.charm.parse_config_value(app, k, v)?));
        }
        for k in reset {
            if !a.charm.options.contains_key(k) {
                return Err(a.charm.unknown_option(app, k).into());
            }
        }
        for k in reset {
            a.config.remove(k);
        }
        for (k, v) in typed {
            a.config.insert(k, v);
        }
        Ok(())
    })
}

/// `resolve UNIT [--no-retry]`.
pub fn resolve(dir: &ModelDir, unit: &str, retry: bool) -> Result<(), OpError> {
    dir.update(|m| -> Result<(), OpError> {
        let u = m
            .units
            .get_mut(unit)
            .ok_or_else(|| OpError::UnitNotFound(unit.into()))?;
        let err = u
            .error
            .take()
            .ok_or_else(|| OpError::NotInError(unit.into()))?;
        u.set_agent(StatusInfo::now("idle", ""));
        if retry {
            u.retry = Some(err.hook);
        } else {
            // Skipped: committed as if it succeeded with no changes.
            u.failures = 0;
            mark_done(m, unit, &err.hook);
        }
        Ok(())
    })
}

/// Run update-status once on each matching idle unit (`target` = unit, app or all).
pub fn update_status(engine: &Engine, target: Option<&str>) -> Result<usize, OpError> {
    engine.settle()?;
    let m = engine.dir.load()?;
    let units: Vec<String> = m
        .units
        .values()
        .filter(|u| match target {
            None => true,
            Some(t) if t.contains('/') => u.name == t,
            Some(t) => u.app == t,
        })
        .filter(|u| u.life == Life::Alive && u.error.is_none() && u.seen.started)
        .map(|u| u.name.clone())
        .collect();
    if let (Some(t), true) = (target, units.is_empty()) {
        if !m.units.contains_key(t) && !m.applications.contains_key(t) {
            return Err(OpError::NoTarget(t.into()));
        }
    }
    for u in &units {
        engine.run_hook(u, Hook::plain(HookKind::UpdateStatus))?;
    }
    engine.settle()?;
    Ok(units.len())
}

/// `destroy`: stop every machine, remove namespaces and the model dir.
pub fn destroy(engine: &Engine) -> Result<(), OpError> {
    let m = engine.dir.load()?;
    for machine in m.machines.values() {
        engine.machines.destroy_machine(&m.net, machine)?;
    }
    engine.machines.destroy_model(&m.net)?;
    std::fs::remove_dir_all(&engine.dir.path).map_err(OpError::io("removing", &engine.dir.path))
}
