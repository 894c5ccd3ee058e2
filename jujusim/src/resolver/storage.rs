//! Storage hooks (docs/juju.md#storage): `<name>-storage-attached` for each instance
//! not yet announced (a new unit's before `install`), and on a dying unit
//! `<name>-storage-detaching` for each attached one before its relations go.
use super::{Hook, HookKind};
use crate::model::{Life, Unit};

/// The storage hook due for `unit`, if any.
pub fn storage_hook(unit: &Unit) -> Option<Hook> {
    let seen = &unit.seen;
    let (kind, inst) = if unit.life == Life::Dying {
        let inst = unit.storage.values().find(|s| {
            seen.storage_attached.contains(&s.id) && !seen.storage_detached.contains(&s.id)
        })?;
        (HookKind::StorageDetaching, inst)
    } else {
        let inst = unit
            .storage
            .values()
            .find(|s| !seen.storage_attached.contains(&s.id))?;
        (HookKind::StorageAttached, inst)
    };
    Some(Hook {
        storage: Some(Box::new(inst.clone())),
        ..Hook::plain(kind)
    })
}
