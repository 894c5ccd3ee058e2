//! [`HostMachines`]: no isolation, for engine tests without root.

use std::net::Ipv4Addr;
use std::process::Command;

use super::{create_dir, Machine, MachineError, Machines, ModelNet};

/// No isolation: every machine is the host, address 127.0.0.1 (for root-less engine tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct HostMachines;

impl Machines for HostMachines {
    fn create_model(&self, net: &ModelNet) -> Result<(), MachineError> {
        create_dir(&net.dir)
    }

    fn create_machine(&self, net: &ModelNet, id: u32) -> Result<Machine, MachineError> {
        let root = net.machine_root(id);
        create_dir(&root)?;
        Ok(Machine {
            id,
            address: Ipv4Addr::LOCALHOST,
            cidr: "127.0.0.0/8".into(),
            interface: "lo".into(),
            mac: "00:00:00:00:00:00".into(),
            init_pid: None,
            root,
        })
    }

    fn enter(&self, _machine: &Machine, _cmd: &mut Command) -> Result<(), MachineError> {
        Ok(())
    }

    fn enter_model_network(&self, _net: &ModelNet, _cmd: &mut Command) -> Result<(), MachineError> {
        Ok(())
    }

    fn destroy_machine(&self, _net: &ModelNet, _machine: &Machine) -> Result<(), MachineError> {
        Ok(())
    }

    fn destroy_model(&self, _net: &ModelNet) -> Result<(), MachineError> {
        Ok(())
    }
}
