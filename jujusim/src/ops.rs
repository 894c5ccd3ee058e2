//! Operator operations: each edits the model under its lock, then the caller settles.
use crate::charm::{CharmMeta, Role};
use crate::engine::{Engine, EngineError};
use crate::machines::ModelNet;
use crate::model::{
    app_of, fnv1a, Application, Bag, Life, MachinesKind, Model, ModelDir, RelEndpoint, Relation,
    Seen, StatusInfo, Unit,
};
use crate::resolver::{mark_done, roles_match, Hook, HookKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn other(msg: impl Into<String>) -> EngineError {
    EngineError::Other(msg.into())
}

/// Create `model.json` for a new model in `dir`.
pub fn create_model(dir: &ModelDir, kind: MachinesKind) -> Result<Model, EngineError> {
    let seed = fnv1a(
        format!(
            "{}-{}-{:?}",
            dir.path.display(),
            std::process::id(),
            std::time::SystemTime::now()
        )
        .as_bytes(),
    );
    let tag: String = format!("{seed:012x}").chars().take(6).collect();
    let uuid = {
        let a = seed;
        let b = fnv1a(&seed.to_le_bytes());
        let h = format!("{a:016x}{b:016x}");
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    };
    let name = dir
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("jujusim")
        .to_string();
    let net = ModelNet {
        tag,
        dir: dir.path.clone(),
        subnet: [10, 64 + (seed >> 8) as u8 % 128, (seed >> 16) as u8],
    };
    Ok(Model {
        name,
        uuid,
        net,
        machines_kind: kind,
        next_machine: 0,
        next_relation: 0,
        next_task: 1,
        machines: BTreeMap::new(),
        applications: BTreeMap::new(),
        units: BTreeMap::new(),
        relations: BTreeMap::new(),
        tasks: BTreeMap::new(),
    })
}

/// Copy a charm directory or unpack a `.charm` zip into `dest`.
pub fn unpack_charm(src: &Path, dest: &Path) -> Result<(), EngineError> {
    if dest.exists() {
        std::fs::remove_dir_all(dest)
            .map_err(|e| other(format!("removing {}: {e}", dest.display())))?;
    }
    std::fs::create_dir_all(dest)
        .map_err(|e| other(format!("creating {}: {e}", dest.display())))?;
    if src.is_dir() {
        return copy_dir(src, dest);
    }
    let f = std::fs::File::open(src)
        .map_err(|e| other(format!("cannot open charm {}: {e}", src.display())))?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| {
        other(format!(
            "{} is neither a charm directory nor a .charm zip: {e}",
            src.display()
        ))
    })?;
    z.extract(dest)
        .map_err(|e| other(format!("unpacking {}: {e}", src.display())))
}

/// Recursive copy keeping modes and symlinks.
pub fn copy_dir(src: &Path, dest: &Path) -> Result<(), EngineError> {
    std::fs::create_dir_all(dest)
        .map_err(|e| other(format!("creating {}: {e}", dest.display())))?;
    let entries =
        std::fs::read_dir(src).map_err(|e| other(format!("reading {}: {e}", src.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| other(format!("reading {}: {e}", src.display())))?;
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        let ft = entry
            .file_type()
            .map_err(|e| other(format!("stat {}: {e}", from.display())))?;
        if ft.is_symlink() {
            let target = std::fs::read_link(&from)
                .map_err(|e| other(format!("readlink {}: {e}", from.display())))?;
            std::os::unix::fs::symlink(target, &to)
                .map_err(|e| other(format!("symlink {}: {e}", to.display())))?;
        } else if ft.is_dir() {
            copy_dir(&from, &to)?;
        } else {
            std::fs::copy(&from, &to).map_err(|e| {
                other(format!(
                    "copying {} to {}: {e}",
                    from.display(),
                    to.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// `deploy CHARM [APP] -n N --config k=v`.
pub fn deploy(
    engine: &Engine,
    kind: MachinesKind,
    charm: &Path,
    app: Option<&str>,
    n: u32,
    config: &[(String, String)],
) -> Result<String, EngineError> {
    let dir = &engine.dir;
    std::fs::create_dir_all(&dir.path)
        .map_err(|e| other(format!("creating model dir {}: {e}", dir.path.display())))?;
    if !dir.exists() {
        let m = create_model(dir, kind)?;
        engine.machines.create_model(&m.net)?;
        dir.save(&m)?;
    }
    engine.ensure_tools()?;
    let staging = dir.path.join("charms").join(".staging");
    unpack_charm(charm, &staging)?;
    let meta = CharmMeta::load(&staging)?;
    let app_name = app.map(String::from).unwrap_or_else(|| meta.name.clone());
    let charm_dir = dir.path.join("charms").join(&app_name).join("1");
    dir.update(|m| -> Result<(), EngineError> {
        if m.applications.contains_key(&app_name) {
            return Err(other(format!("application {app_name:?} already exists (remove it or deploy under another name: deploy CHARM OTHER-NAME)")));
        }
        let mut values = BTreeMap::new();
        for (k, v) in config {
            values.insert(k.clone(), meta.parse_config_value(&app_name, k, v)?);
        }
        if charm_dir.exists() {
            std::fs::remove_dir_all(&charm_dir).map_err(|e| other(format!("removing {}: {e}", charm_dir.display())))?;
        }
        if let Some(parent) = charm_dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| other(format!("creating {}: {e}", parent.display())))?;
        }
        std::fs::rename(&staging, &charm_dir).map_err(|e| other(format!("moving charm to {}: {e}", charm_dir.display())))?;
        m.applications.insert(
            app_name.clone(),
            Application {
                name: app_name.clone(),
                charm_dir: charm_dir.clone(),
                revision: 1,
                charm: meta.clone(),
                config: values,
                next_unit: 0,
                leader: None,
                leader_settings: Bag::default(),
                status: None,
                workload_version: String::new(),
            },
        );
        add_peer_relations(m, &app_name);
        Ok(())
    })?;
    add_units(engine, &app_name, n)?;
    Ok(app_name)
}

fn add_peer_relations(m: &mut Model, app: &str) {
    let Some(a) = m.applications.get(app) else {
        return;
    };
    let peers: Vec<(String, String)> = a
        .charm
        .endpoints
        .iter()
        .filter(|e| e.role == Role::Peer)
        .map(|e| (e.name.clone(), e.interface.clone()))
        .collect();
    for (ep, iface) in peers {
        let exists = m
            .relations_of(app)
            .any(|r| r.is_peer() && r.endpoints[0].name == ep);
        if exists {
            continue;
        }
        let id = m.next_relation;
        m.next_relation += 1;
        m.relations.insert(
            id,
            Relation {
                id,
                endpoints: vec![RelEndpoint {
                    app: app.to_string(),
                    name: ep,
                    interface: iface,
                    role: Role::Peer,
                }],
                app_bags: BTreeMap::new(),
                unit_bags: BTreeMap::new(),
                scope: BTreeSet::new(),
                life: Life::Alive,
            },
        );
        let units: Vec<String> = m
            .units_of(app)
            .into_iter()
            .filter(|u| m.units.get(u).is_some_and(|x| x.life == Life::Alive))
            .collect();
        for u in units {
            enter_scope(m, id, &u);
        }
    }
}

/// Put `unit` into relation `id`'s scope and write its address keys
/// (docs/juju.md#relation-data).
fn enter_scope(m: &mut Model, id: u32, unit: &str) {
    let keys = m.address_keys(unit);
    if let Some(r) = m.relations.get_mut(&id) {
        r.scope.insert(unit.to_string());
        r.unit_bags
            .entry(unit.to_string())
            .or_default()
            .apply(&keys);
    }
}

/// `add-unit APP -n N`: new machines, units, scopes; returns the new unit names.
pub fn add_units(engine: &Engine, app: &str, n: u32) -> Result<Vec<String>, EngineError> {
    let dir = &engine.dir;
    let mut names = Vec::new();
    for _ in 0..n {
        let name = dir.update(|m| -> Result<String, EngineError> {
            let a = m
                .applications
                .get_mut(app)
                .ok_or_else(|| other(format!("application {app:?} not found")))?;
            let name = format!("{app}/{}", a.next_unit);
            a.next_unit += 1;
            let charm_dir = a.charm_dir.clone();
            let revision = a.revision;
            let id = m.next_machine;
            m.next_machine += 1;
            let machine = engine.machines.create_machine(&m.net, id)?;
            m.machines.insert(id, machine);
            let unit_dir = dir.unit_dir(&name);
            copy_dir(&charm_dir, &unit_dir.join("charm"))?;
            std::fs::write(
                unit_dir.join("agent.socket"),
                "jujusim hook tools find their context next to this file\n",
            )
            .map_err(|e| other(format!("writing {}: {e}", unit_dir.display())))?;
            m.units.insert(
                name.clone(),
                Unit {
                    name: name.clone(),
                    app: app.to_string(),
                    machine: id,
                    life: Life::Alive,
                    workload: StatusInfo::now("waiting", "waiting for machine"),
                    status_set_by_charm: false,
                    history: vec![],
                    agent: StatusInfo::now("allocating", ""),
                    error: None,
                    retry: None,
                    ports: BTreeSet::new(),
                    state: BTreeMap::new(),
                    seen: Seen {
                        charm_revision: revision,
                        ..Seen::default()
                    },
                },
            );
            let rels: Vec<u32> = m
                .relations_of(app)
                .filter(|r| r.life == Life::Alive)
                .map(|r| r.id)
                .collect();
            for id in rels {
                enter_scope(m, id, &name);
            }
            if let Some(a) = m.applications.get_mut(app) {
                if a.leader.is_none() {
                    a.leader = Some(name.clone());
                }
            }
            Ok(name)
        })?;
        names.push(name);
    }
    Ok(names)
}

/// `APP[:ENDPOINT]`.
fn split_ep(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((a, e)) => (a, Some(e)),
        None => (s, None),
    }
}

/// `integrate A[:ep] B[:ep]`: returns the new relation id.
pub fn integrate(dir: &ModelDir, a: &str, b: &str) -> Result<u32, EngineError> {
    dir.update(|m| -> Result<u32, EngineError> {
        let (app_a, ep_a) = split_ep(a);
        let (app_b, ep_b) = split_ep(b);
        let lookup = |app: &str, ep: Option<&str>| -> Result<Vec<RelEndpoint>, EngineError> {
            let ap = m.applications.get(app).ok_or_else(|| other(format!("application {app:?} not found")))?;
            let eps: Vec<RelEndpoint> = ap
                .charm
                .endpoints
                .iter()
                .filter(|e| e.role != Role::Peer && ep.is_none_or(|n| n == e.name))
                .map(|e| RelEndpoint { app: app.to_string(), name: e.name.clone(), interface: e.interface.clone(), role: e.role })
                .collect();
            if let (Some(n), true) = (ep, eps.is_empty()) {
                let names: Vec<&str> = ap.charm.endpoints.iter().filter(|e| e.role != Role::Peer).map(|e| e.name.as_str()).collect();
                return Err(other(format!("application {app:?} has no {n:?} relation{}", crate::charm::similar(n, &names))));
            }
            Ok(eps)
        };
        let (la, lb) = (lookup(app_a, ep_a)?, lookup(app_b, ep_b)?);
        let mut pairs = Vec::new();
        for x in &la {
            for y in &lb {
                if x.interface == y.interface && roles_match(x.role, y.role) {
                    pairs.push((x.clone(), y.clone()));
                }
            }
        }
        let (x, y) = match pairs.as_slice() {
            [one] => one.clone(),
            [] => {
                let show = |l: &[RelEndpoint]| l.iter().map(|e| format!("{}:{} ({} {})", e.app, e.name, role_word(e.role), e.interface)).collect::<Vec<_>>().join(", ");
                return Err(other(format!(
                    "no relations found between {a} and {b}: no provides/requires pair shares an interface; {a} offers [{}], {b} offers [{}]",
                    show(&la),
                    show(&lb)
                )));
            }
            many => {
                let opts: Vec<String> = many.iter().map(|(x, y)| format!("\"{}:{} {}:{}\"", x.app, x.name, y.app, y.name)).collect();
                return Err(other(format!("ambiguous relation: \"{a} {b}\" could refer to {}; name the endpoints (APP:ENDPOINT)", opts.join("; "))));
            }
        };
        let exists = m.relations.values().any(|r| r.life == Life::Alive && r.endpoints.len() == 2 && r.endpoints.contains(&x) && r.endpoints.contains(&y));
        if exists {
            return Err(other(format!("relation {}:{} {}:{} already exists", x.app, x.name, y.app, y.name)));
        }
        let id = m.next_relation;
        m.next_relation += 1;
        m.relations.insert(
            id,
            Relation { id, endpoints: vec![x.clone(), y.clone()], app_bags: BTreeMap::new(), unit_bags: BTreeMap::new(), scope: BTreeSet::new(), life: Life::Alive },
        );
        let mut units = m.units_of(&x.app);
        units.extend(m.units_of(&y.app));
        for u in units {
            if m.units.get(&u).is_some_and(|x| x.life == Life::Alive) {
                enter_scope(m, id, &u);
            }
        }
        Ok(id)
    })
}

fn role_word(r: Role) -> &'static str {
    match r {
        Role::Provider => "provides",
        Role::Requirer => "requires",
        Role::Peer => "peers",
    }
}

/// `remove-relation A[:ep] B[:ep]` or `remove-relation ID`.
pub fn remove_relation(dir: &ModelDir, a: &str, b: Option<&str>) -> Result<u32, EngineError> {
    dir.update(|m| -> Result<u32, EngineError> {
        let matches = |r: &Relation, spec: &str| {
            let (app, ep) = split_ep(spec);
            r.endpoints
                .iter()
                .any(|e| e.app == app && ep.is_none_or(|n| n == e.name))
        };
        let found: Vec<u32> = m
            .relations
            .values()
            .filter(|r| r.life == Life::Alive && !r.is_peer())
            .filter(|r| match b {
                None => a.parse::<u32>().ok() == Some(r.id),
                Some(b) => matches(r, a) && matches(r, b),
            })
            .map(|r| r.id)
            .collect();
        let id = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(other(format!(
                    "relation \"{a}{}\" not found (see `jujusim status --relations`)",
                    b.map(|b| format!(" {b}")).unwrap_or_default()
                )))
            }
            _ => {
                return Err(other(format!(
                    "ambiguous relation \"{a} {}\": name the endpoints (APP:ENDPOINT)",
                    b.unwrap_or("")
                )))
            }
        };
        if let Some(r) = m.relations.get_mut(&id) {
            r.life = Life::Dying;
            r.scope.clear();
        }
        Ok(id)
    })
}

/// `remove-unit UNIT`: the unit dies; leadership passes on silently.
pub fn remove_unit(dir: &ModelDir, unit: &str) -> Result<(), EngineError> {
    dir.update(|m| -> Result<(), EngineError> {
        let u = m
            .units
            .get_mut(unit)
            .ok_or_else(|| other(format!("unit {unit:?} not found")))?;
        u.life = Life::Dying;
        for r in m.relations.values_mut() {
            r.scope.remove(unit);
        }
        let app = app_of(unit).to_string();
        if m.applications.get(&app).and_then(|a| a.leader.as_deref()) == Some(unit) {
            let next = m
                .units_of(&app)
                .into_iter()
                .find(|n| m.units.get(n).is_some_and(|x| x.life == Life::Alive));
            if let Some(a) = m.applications.get_mut(&app) {
                a.leader = next;
            }
        }
        Ok(())
    })
}

/// Make `unit` the leader of its application.
pub fn set_leader(dir: &ModelDir, unit: &str) -> Result<(), EngineError> {
    dir.update(|m| -> Result<(), EngineError> {
        let alive = m.units.get(unit).is_some_and(|u| u.life == Life::Alive);
        if !alive {
            return Err(other(format!("unit {unit:?} not found or dying")));
        }
        if let Some(a) = m.applications.get_mut(app_of(unit)) {
            a.leader = Some(unit.to_string());
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
) -> Result<(), EngineError> {
    dir.update(|m| -> Result<(), EngineError> {
        let a = m
            .applications
            .get_mut(app)
            .ok_or_else(|| other(format!("application {app:?} not found")))?;
        let mut typed = Vec::new();
        for (k, v) in set {
            typed.push((k.clone(), a.charm.parse_config_value(app, k, v)?));
        }
        for k in reset {
            if !a.charm.options.contains_key(k) {
                let names: Vec<&str> = a.charm.options.keys().map(String::as_str).collect();
                return Err(other(format!(
                    "unknown option {k:?} for {app}{}",
                    crate::charm::similar(k, &names)
                )));
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

/// `refresh APP --path CHARM`: a new charm revision for every unit.
pub fn refresh(engine: &Engine, app: &str, charm: &Path) -> Result<u32, EngineError> {
    let dir = &engine.dir;
    let m = dir.load()?;
    let a = m
        .applications
        .get(app)
        .ok_or_else(|| other(format!("application {app:?} not found")))?;
    let rev = a.revision + 1;
    let charm_dir = dir.path.join("charms").join(app).join(rev.to_string());
    unpack_charm(charm, &charm_dir)?;
    let meta = CharmMeta::load(&charm_dir)?;
    dir.update(|m| -> Result<(), EngineError> {
        let units = m.units_of(app);
        let a = m
            .applications
            .get_mut(app)
            .ok_or_else(|| other(format!("application {app:?} not found")))?;
        a.config.retain(|k, _| meta.options.contains_key(k));
        a.charm = meta.clone();
        a.charm_dir = charm_dir.clone();
        a.revision = rev;
        for u in units {
            let unit_charm = dir.unit_dir(&u).join("charm");
            unpack_charm(&charm_dir, &unit_charm)?;
        }
        add_peer_relations(m, app);
        Ok(())
    })?;
    Ok(rev)
}

/// `resolve UNIT [--no-retry]`.
pub fn resolve(dir: &ModelDir, unit: &str, retry: bool) -> Result<(), EngineError> {
    dir.update(|m| -> Result<(), EngineError> {
        let u = m
            .units
            .get_mut(unit)
            .ok_or_else(|| other(format!("unit {unit:?} not found")))?;
        let err = u
            .error
            .take()
            .ok_or_else(|| other(format!("unit {unit:?} is not in an error state")))?;
        u.agent = StatusInfo::now("idle", "");
        if retry {
            u.retry = Some(err.hook);
        } else {
            // Skipped: committed as if it succeeded with no changes.
            mark_done(m, unit, &err.hook);
        }
        Ok(())
    })
}

/// Run update-status once on each matching idle unit (`target` = unit, app or all).
pub fn update_status(engine: &Engine, target: Option<&str>) -> Result<usize, EngineError> {
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
            return Err(other(format!("no unit or application {t:?} in the model")));
        }
    }
    for u in &units {
        engine.run_hook(u, Hook::plain(HookKind::UpdateStatus))?;
    }
    engine.settle()?;
    Ok(units.len())
}

/// `destroy`: stop every machine, remove namespaces and the model dir.
pub fn destroy(engine: &Engine) -> Result<(), EngineError> {
    let m = engine.dir.load()?;
    for machine in m.machines.values() {
        engine.machines.destroy_machine(&m.net, machine)?;
    }
    engine.machines.destroy_model(&m.net)?;
    std::fs::remove_dir_all(&engine.dir.path)
        .map_err(|e| other(format!("removing {}: {e}", engine.dir.path.display())))
}

/// Parse `k=v` action args as YAML scalars with dotted keys (like `juju run`).
pub fn action_params(args: &[String]) -> Result<serde_json::Map<String, Value>, String> {
    let mut out = serde_json::Map::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| format!("argument {a:?} must be of the form key[.key...]=value"))?;
        let v: Value = serde_yaml::from_str::<serde_yaml::Value>(v)
            .ok()
            .and_then(|y| serde_json::to_value(y).ok())
            .map(|v| {
                if v.is_null() && !v_is_null_literal(v_str(a)) {
                    Value::String(String::new())
                } else {
                    v
                }
            })
            .unwrap_or_else(|| Value::String(v.to_string()));
        let segs: Vec<&str> = k.split('.').collect();
        insert(&mut out, &segs, v);
    }
    Ok(out)
}

fn v_str(a: &str) -> &str {
    a.split_once('=').map(|(_, v)| v).unwrap_or("")
}

fn v_is_null_literal(v: &str) -> bool {
    matches!(v.trim(), "null" | "~" | "Null" | "NULL")
}

fn insert(map: &mut serde_json::Map<String, Value>, path: &[&str], v: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.to_string(), v);
        }
        [first, rest @ ..] => {
            let e = map
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            if !e.is_object() {
                *e = Value::Object(Default::default());
            }
            if let Value::Object(inner) = e {
                insert(inner, rest, v);
            }
        }
    }
}
