//! A storage instance's directory made on its machine before `<name>-storage-attached`
//! runs (docs/juju.md#storage): inside the machine's mount namespace, where the
//! overlays keep it private to the machine.
use super::{Engine, EngineError};
use crate::machines::Machine;
use crate::model::StorageInstance;
use std::process::{Command, Stdio};

impl Engine {
    /// `mkdir -p` the instance's location on `machine` (filesystem stores).
    pub(super) fn provision_storage(
        &self,
        machine: &Machine,
        inst: &StorageInstance,
    ) -> Result<(), EngineError> {
        if inst.kind != "filesystem" {
            return Ok(());
        }
        let mut cmd = Command::new("mkdir");
        cmd.args(["-p", "--", &inst.location])
            .current_dir("/")
            .stdin(Stdio::null());
        self.machines.enter(machine, &mut cmd)?;
        let status = cmd.status().map_err(|source| EngineError::Spawn {
            command: format!("mkdir -p {}", inst.location),
            unit: inst.id.clone(),
            source,
        })?;
        if status.success() {
            Ok(())
        } else {
            Err(EngineError::Storage {
                id: inst.id.clone(),
                location: inst.location.clone(),
            })
        }
    }
}
