//! Storage instances (docs/juju.md#storage): a unit's filesystem (or block) stores, each
//! with a model-unique id `<name>/<n>` and its location on the unit's machine.
use super::{MachinesKind, Model};
use serde::{Deserialize, Serialize};

/// Where Juju puts machine storage that declares no location.
pub const STORAGE_DIR: &str = "/var/lib/juju/storage";

/// One storage instance attached to a unit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct StorageInstance {
    /// `data/0`.
    pub id: String,
    /// `filesystem` or `block`.
    pub kind: String,
    /// Mount point on the unit's machine.
    pub location: String,
}

impl StorageInstance {
    /// The store's name (`data` of `data/0`).
    pub fn name(&self) -> &str {
        self.id.split('/').next().unwrap_or(&self.id)
    }
}

impl Model {
    /// Give `unit` `count` new instances of its charm's store `name`; returns their ids.
    /// A single-instance store with a `location` is mounted there; otherwise each goes
    /// under the location (or Juju's storage dir) by id. Host machines share the host's
    /// filesystem, so there the storage dir is the machine's directory in the model.
    pub fn add_storage(&mut self, unit: &str, name: &str, count: u32) -> Vec<String> {
        let Some(u) = self.units.get(unit) else {
            return vec![];
        };
        let Some(meta) = self
            .applications
            .get(&u.app)
            .and_then(|a| a.charm.storage.get(name))
            .cloned()
        else {
            return vec![];
        };
        let base = match (self.machines_kind, self.machines.get(&u.machine)) {
            (MachinesKind::Host, Some(mc)) => mc.root.join("storage").display().to_string(),
            _ => STORAGE_DIR.to_string(),
        };
        let mut ids = Vec::new();
        for _ in 0..count {
            let id = format!("{name}/{}", self.next_storage);
            self.next_storage += 1;
            let location = match (&meta.location, meta.count_max) {
                (Some(l), Some(1)) if self.machines_kind == MachinesKind::Linux => l.clone(),
                (Some(l), _) if self.machines_kind == MachinesKind::Linux => format!("{l}/{id}"),
                _ => format!("{base}/{id}"),
            };
            let inst = StorageInstance {
                id: id.clone(),
                kind: meta.kind.clone(),
                location,
            };
            if let Some(u) = self.units.get_mut(unit) {
                u.storage.insert(id.clone(), inst);
            }
            ids.push(id);
        }
        ids
    }

    /// A new unit's storage: each store's minimum count.
    pub fn add_initial_storage(&mut self, unit: &str) {
        let stores: Vec<(String, u32)> = self
            .units
            .get(unit)
            .and_then(|u| self.applications.get(&u.app))
            .map(|a| {
                a.charm
                    .storage
                    .iter()
                    .map(|(n, s)| (n.clone(), s.count_min))
                    .collect()
            })
            .unwrap_or_default();
        for (name, count) in stores {
            self.add_storage(unit, &name, count);
        }
    }
}
