//! Machines: where a unit's processes run (minimal stand-in; the `simns` branch owns the
//! real namespace implementation and replaces this file at merge).
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

/// Identity of one model's network: names of namespaces derive from `tag`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModelNet {
    /// Short id (<= 6 chars, [a-z0-9]); netns names derive from it.
    pub tag: String,
    /// Model state dir; per-machine files live under `<dir>/machines/<N>/`.
    pub dir: PathBuf,
    /// First three octets of the model's /24.
    pub subnet: [u8; 3],
}

/// One machine as stored in the model state.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Machine {
    /// Machine number.
    pub id: u32,
    /// The machine's address.
    pub address: Ipv4Addr,
    /// The machine's subnet, e.g. "10.98.0.0/24".
    pub cidr: String,
    /// Interface name inside the machine.
    pub interface: String,
    /// MAC address of `interface`.
    pub mac: String,
    /// Process holding the machine's mount namespace (None for HostMachines).
    pub init_pid: Option<i32>,
    /// `<model dir>/machines/<N>`.
    pub root: PathBuf,
}

/// How machines are created, entered and destroyed.
pub trait Machines {
    /// Create the model's bridge namespace (idempotent).
    fn create_model(&self, net: &ModelNet) -> Result<(), MachineError>;
    /// Create machine `id`.
    fn create_machine(&self, net: &ModelNet, id: u32) -> Result<Machine, MachineError>;
    /// Make `cmd` run inside `machine`.
    fn enter(&self, machine: &Machine, cmd: &mut Command) -> Result<(), MachineError>;
    /// Run `cmd` in the model's bridge namespace only.
    fn enter_model_network(&self, net: &ModelNet, cmd: &mut Command) -> Result<(), MachineError>;
    /// Stop every process inside the machine and remove its namespaces.
    fn destroy_machine(&self, net: &ModelNet, machine: &Machine) -> Result<(), MachineError>;
    /// Destroy the bridge namespace (after all machines).
    fn destroy_model(&self, net: &ModelNet) -> Result<(), MachineError>;
}

/// No isolation: every machine is the host, address 127.0.0.1.
pub struct HostMachines;

/// Real isolation with network + mount namespaces (not in this minimal build).
pub struct LinuxMachines;

/// Errors from machine management.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// The operation needs root.
    #[error("creating namespaces needs root; run as root or use `--machines host`")]
    NotRoot,
    /// A helper command failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// Its stderr.
        stderr: String,
    },
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Machines for HostMachines {
    fn create_model(&self, net: &ModelNet) -> Result<(), MachineError> {
        std::fs::create_dir_all(net.dir.join("machines")).map_err(|source| MachineError::Io {
            what: format!("creating {}", net.dir.join("machines").display()),
            source,
        })
    }

    fn create_machine(&self, net: &ModelNet, id: u32) -> Result<Machine, MachineError> {
        let root = net.dir.join("machines").join(id.to_string());
        std::fs::create_dir_all(&root).map_err(|source| MachineError::Io {
            what: format!("creating {}", root.display()),
            source,
        })?;
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

impl Machines for LinuxMachines {
    fn create_model(&self, _net: &ModelNet) -> Result<(), MachineError> {
        Err(MachineError::NotRoot)
    }
    fn create_machine(&self, _net: &ModelNet, _id: u32) -> Result<Machine, MachineError> {
        Err(MachineError::NotRoot)
    }
    fn enter(&self, _machine: &Machine, _cmd: &mut Command) -> Result<(), MachineError> {
        Err(MachineError::NotRoot)
    }
    fn enter_model_network(&self, _net: &ModelNet, _cmd: &mut Command) -> Result<(), MachineError> {
        Err(MachineError::NotRoot)
    }
    fn destroy_machine(&self, _net: &ModelNet, _machine: &Machine) -> Result<(), MachineError> {
        Ok(())
    }
    fn destroy_model(&self, _net: &ModelNet) -> Result<(), MachineError> {
        Ok(())
    }
}
