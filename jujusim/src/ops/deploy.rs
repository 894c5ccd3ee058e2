//! Applications and units coming in: a new model, deploy, add-unit, refresh.
use super::subordinate::settle_subordinates;
use super::{copy_dir, replace_charm, unpack_charm, OpError};
use crate::charm::{choose_base, Base, CharmMeta, Role};
use crate::engine::Engine;
use crate::machines::ModelNet;
use crate::model::{fnv1a, Application, Life, MachinesKind, Model, ModelDir, RelEndpoint};
use std::collections::BTreeMap;
use std::path::Path;

/// Create `model.json` for a new model in `dir`.
pub fn create_model(dir: &ModelDir, kind: MachinesKind) -> Result<Model, OpError> {
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
    Ok(Model::new(name, uuid, net, kind))
}

/// What `deploy` is asked for besides the charm.
#[derive(Debug, Default)]
pub struct DeployArgs<'a> {
    /// Application name (default: the charm's name).
    pub app: Option<&'a str>,
    /// Number of units.
    pub n: u32,
    /// `--config k=v` pairs.
    pub config: &'a [(String, String)],
    /// `--base OS@CHANNEL`.
    pub base: Option<&'a Base>,
}

/// `deploy CHARM [APP] -n N --config k=v --base B`. The charm is read and checked (its
/// bases against `--base`, as Juju does) before anything of the model is made, so a
/// charm that cannot deploy leaves no model behind.
pub fn deploy(
    engine: &Engine,
    kind: MachinesKind,
    charm: &Path,
    args: &DeployArgs,
) -> Result<String, OpError> {
    let dir = &engine.dir;
    std::fs::create_dir_all(&dir.path).map_err(OpError::io("creating model dir", &dir.path))?;
    let staging = dir.path.join("charms").join(".staging");
    let checked = unpack_charm(charm, &staging)
        .and_then(|()| Ok(CharmMeta::load(&staging)?))
        .and_then(|meta| {
            check_storage_locations(&meta, kind)?;
            Ok((choose_base(&meta.bases, args.base)?, meta))
        });
    let (base, meta) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if !dir.exists() {
        let m = create_model(dir, kind)?;
        engine.machines.create_model(&m.net)?;
        dir.save(&m)?;
    }
    engine.ensure_tools()?;
    let (app, n, config) = (args.app, args.n, args.config);
    let app_name = app.map(String::from).unwrap_or_else(|| meta.name.clone());
    let charm_dir = dir.path.join("charms").join(&app_name).join("1");
    dir.update(|m| -> Result<(), OpError> {
        if m.applications.contains_key(&app_name) {
            return Err(OpError::AppExists(app_name.clone()));
        }
        let mut values = BTreeMap::new();
        for (k, v) in config {
            values.insert(k.clone(), meta.parse_config_value(&app_name, k, v)?);
        }
        if charm_dir.exists() {
            std::fs::remove_dir_all(&charm_dir).map_err(OpError::io("removing", &charm_dir))?;
        }
        if let Some(parent) = charm_dir.parent() {
            std::fs::create_dir_all(parent).map_err(OpError::io("creating", parent))?;
        }
        std::fs::rename(&staging, &charm_dir)
            .map_err(OpError::io("moving charm to", &charm_dir))?;
        m.applications.insert(
            app_name.clone(),
            Application::new(&app_name, charm_dir.clone(), meta.clone(), values, base),
        );
        add_peer_relations(m, &app_name);
        Ok(())
    })?;
    // A subordinate gets its units from container-scoped relations, never by count.
    if !meta.subordinate {
        add_units(engine, &app_name, n)?;
    }
    Ok(app_name)
}

fn add_peer_relations(m: &mut Model, app: &str) {
    let Some(a) = m.applications.get(app) else {
        return;
    };
    let peers: Vec<RelEndpoint> = a
        .charm
        .endpoints
        .iter()
        .filter(|e| e.role == Role::Peer)
        .map(|e| RelEndpoint {
            app: app.to_string(),
            name: e.name.clone(),
            interface: e.interface.clone(),
            role: Role::Peer,
        })
        .collect();
    for ep in peers {
        let exists = m
            .relations_of(app)
            .any(|r| r.is_peer() && r.endpoints.first().is_some_and(|e| e.name == ep.name));
        if !exists {
            m.add_relation(vec![ep]);
        }
    }
}

/// `add-unit APP -n N`: new machines, units, scopes; returns the new unit names.
pub fn add_units(engine: &Engine, app: &str, n: u32) -> Result<Vec<String>, OpError> {
    let dir = &engine.dir;
    let mut names = Vec::new();
    for _ in 0..n {
        let name = dir.update(|m| -> Result<String, OpError> {
            let a = m
                .applications
                .get(app)
                .filter(|a| a.life == Life::Alive)
                .ok_or_else(|| OpError::AppNotFound(app.into()))?;
            if a.charm.subordinate {
                return Err(OpError::SubordinateAddUnit(app.into()));
            }
            let charm_dir = a.charm_dir.clone();
            let id = m.next_machine;
            m.next_machine += 1;
            let machine = engine.machines.create_machine(&m.net, id)?;
            let name = m
                .add_unit(app, machine)
                .ok_or_else(|| OpError::AppNotFound(app.into()))?;
            prepare_unit_dir(dir, &name, &charm_dir)?;
            m.add_initial_storage(&name);
            settle_subordinates(m, dir)?;
            Ok(name)
        })?;
        names.push(name);
    }
    Ok(names)
}

/// On Linux machines a store's `location` must be inside a directory the machines keep
/// private (their overlays), or making it would change the host.
fn check_storage_locations(meta: &CharmMeta, kind: MachinesKind) -> Result<(), OpError> {
    if kind != MachinesKind::Linux {
        return Ok(());
    }
    for (name, s) in &meta.storage {
        let Some(loc) = &s.location else { continue };
        let private = crate::machines::OVERLAID_DIRS
            .iter()
            .any(|d| Path::new(loc).starts_with(d) && Path::new(loc) != Path::new(d));
        if !private {
            return Err(OpError::StorageLocation {
                name: name.clone(),
                location: loc.clone(),
            });
        }
    }
    Ok(())
}

/// A new unit's directory: its copy of the charm and the agent socket marker.
pub(super) fn prepare_unit_dir(
    dir: &ModelDir,
    unit: &str,
    charm_dir: &Path,
) -> Result<(), OpError> {
    let unit_dir = dir.unit_dir(unit);
    copy_dir(charm_dir, &unit_dir.join("charm"))?;
    std::fs::write(
        unit_dir.join("agent.socket"),
        "jujusim hook tools find their context next to this file\n",
    )
    .map_err(OpError::io("writing", &unit_dir))
}

/// `refresh APP --path CHARM`: a new charm revision for every unit, if it runs on the
/// application's base (Juju refuses it otherwise).
pub fn refresh(engine: &Engine, app: &str, charm: &Path) -> Result<u32, OpError> {
    let dir = &engine.dir;
    let m = dir.load()?;
    let a = m
        .applications
        .get(app)
        .ok_or_else(|| OpError::AppNotFound(app.into()))?;
    let rev = a.revision + 1;
    let charm_dir = dir.path.join("charms").join(app).join(rev.to_string());
    unpack_charm(charm, &charm_dir)?;
    let meta = CharmMeta::load(&charm_dir)?;
    if !meta.bases.contains(&a.base) {
        let _ = std::fs::remove_dir_all(&charm_dir);
        return Err(OpError::RefreshBase {
            app: app.into(),
            base: a.base.to_string(),
            supported: meta
                .bases
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    dir.update(|m| -> Result<(), OpError> {
        let units = m.units_of(app);
        let a = m
            .applications
            .get_mut(app)
            .ok_or_else(|| OpError::AppNotFound(app.into()))?;
        a.config.retain(|k, _| meta.options.contains_key(k));
        let old_dir = std::mem::replace(&mut a.charm_dir, charm_dir.clone());
        a.charm = meta.clone();
        a.revision = rev;
        for u in units {
            let unit_charm = dir.unit_dir(&u).join("charm");
            replace_charm(&old_dir, &charm_dir, &unit_charm)?;
        }
        add_peer_relations(m, app);
        Ok(())
    })?;
    Ok(rev)
}
