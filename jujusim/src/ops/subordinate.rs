//! Subordinate units follow their container-scoped relations (docs/juju.md#subordinates):
//! after every operation that changes relations or principal units, each principal unit
//! of a live container-scoped relation has one subordinate unit on its machine, and the
//! subordinate units left without one die.
use super::lifecycle::mark_dying;
use super::OpError;
use crate::model::{Model, ModelDir};

/// Create the subordinate units container-scoped relations ask for (with their unit
/// directories) and mark dying those no relation or principal holds any more; returns
/// the new unit names.
pub(crate) fn settle_subordinates(m: &mut Model, dir: &ModelDir) -> Result<Vec<String>, OpError> {
    let mut made = Vec::new();
    for (sub, principal) in m.missing_subordinates() {
        let charm_dir = m
            .applications
            .get(&sub)
            .map(|a| a.charm_dir.clone())
            .ok_or_else(|| OpError::AppNotFound(sub.clone()))?;
        let Some(name) = m.add_subordinate(&sub, &principal) else {
            continue;
        };
        super::deploy::prepare_unit_dir(dir, &name, &charm_dir)?;
        m.add_initial_storage(&name);
        made.push(name);
    }
    retire_subordinates(m)?;
    Ok(made)
}

/// Mark dying every subordinate unit whose principal or container-scoped relation is
/// gone or going.
pub(crate) fn retire_subordinates(m: &mut Model) -> Result<(), OpError> {
    for unit in m.orphaned_subordinates() {
        mark_dying(m, &unit)?;
    }
    Ok(())
}
