//! [`RecordingMachines`]: records every call and fails on request (youki's `TestHelperSyscall`).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{HostMachines, Machine, MachineError, Machines, ModelNet};

/// Which trait method a [`Call`] or an injected failure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`Machines::create_model`].
    CreateModel,
    /// [`Machines::create_machine`].
    CreateMachine,
    /// [`Machines::enter`].
    Enter,
    /// [`Machines::enter_model_network`].
    EnterModelNetwork,
    /// [`Machines::destroy_machine`].
    DestroyMachine,
    /// [`Machines::destroy_model`].
    DestroyModel,
}

/// One recorded call with its interesting arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// create_model(tag).
    CreateModel { tag: String },
    /// create_machine(tag, id).
    CreateMachine { tag: String, id: u32 },
    /// enter(machine id, program).
    Enter { id: u32, program: String },
    /// enter_model_network(tag, program).
    EnterModelNetwork { tag: String, program: String },
    /// destroy_machine(tag, id).
    DestroyMachine { tag: String, id: u32 },
    /// destroy_model(tag).
    DestroyModel { tag: String },
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    failures: HashMap<Op, usize>,
}

/// Recording fake for unit tests (records calls; can be told to fail). Machines behave like
/// [`HostMachines`] (address 127.0.0.1, `enter` changes nothing), so commands still run.
#[derive(Default)]
pub struct RecordingMachines {
    state: Mutex<State>,
}

impl RecordingMachines {
    /// A fake that succeeds at everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Make the next `times` calls of `op` fail with [`MachineError::Injected`] (still recorded).
    pub fn fail(&self, op: Op, times: usize) {
        self.lock().failures.insert(op, times);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the calls from the others.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, op: Op, call: Call) -> Result<(), MachineError> {
        let mut state = self.lock();
        state.calls.push(call);
        match state.failures.get_mut(&op) {
            Some(n) if *n > 0 => {
                *n -= 1;
                Err(MachineError::Injected { op })
            }
            _ => Ok(()),
        }
    }
}

fn program(cmd: &Command) -> String {
    cmd.get_program().to_string_lossy().into_owned()
}

impl Machines for RecordingMachines {
    fn create_model(&self, net: &ModelNet) -> Result<(), MachineError> {
        self.record(
            Op::CreateModel,
            Call::CreateModel {
                tag: net.tag.clone(),
            },
        )?;
        HostMachines.create_model(net)
    }

    fn create_machine(&self, net: &ModelNet, id: u32) -> Result<Machine, MachineError> {
        let call = Call::CreateMachine {
            tag: net.tag.clone(),
            id,
        };
        self.record(Op::CreateMachine, call)?;
        HostMachines.create_machine(net, id)
    }

    fn enter(&self, machine: &Machine, cmd: &mut Command) -> Result<(), MachineError> {
        let call = Call::Enter {
            id: machine.id,
            program: program(cmd),
        };
        self.record(Op::Enter, call)
    }

    fn enter_model_network(&self, net: &ModelNet, cmd: &mut Command) -> Result<(), MachineError> {
        let call = Call::EnterModelNetwork {
            tag: net.tag.clone(),
            program: program(cmd),
        };
        self.record(Op::EnterModelNetwork, call)
    }

    fn destroy_machine(&self, net: &ModelNet, machine: &Machine) -> Result<(), MachineError> {
        let call = Call::DestroyMachine {
            tag: net.tag.clone(),
            id: machine.id,
        };
        self.record(Op::DestroyMachine, call)
    }

    fn destroy_model(&self, net: &ModelNet) -> Result<(), MachineError> {
        self.record(
            Op::DestroyModel,
            Call::DestroyModel {
                tag: net.tag.clone(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_calls_and_fails_the_requested_number_of_times() {
        let dir = tempfile::tempdir().unwrap();
        let net = ModelNet {
            tag: "fk1".into(),
            dir: dir.path().to_path_buf(),
            subnet: [10, 98, 1],
        };
        let fake = RecordingMachines::new();
        fake.fail(Op::CreateMachine, 1);
        assert!(fake.create_model(&net).is_ok());
        assert!(matches!(
            fake.create_machine(&net, 0),
            Err(MachineError::Injected {
                op: Op::CreateMachine
            })
        ));
        let m = fake.create_machine(&net, 0).unwrap();
        assert_eq!(m.address, std::net::Ipv4Addr::LOCALHOST);
        assert!(m.root.is_dir());
        let mut cmd = Command::new("true");
        fake.enter(&m, &mut cmd).unwrap();
        assert!(cmd.status().unwrap().success());
        fake.destroy_machine(&net, &m).unwrap();
        fake.destroy_model(&net).unwrap();
        let tag = || "fk1".to_string();
        assert_eq!(
            fake.calls(),
            vec![
                Call::CreateModel { tag: tag() },
                Call::CreateMachine { tag: tag(), id: 0 },
                Call::CreateMachine { tag: tag(), id: 0 },
                Call::Enter {
                    id: 0,
                    program: "true".into()
                },
                Call::DestroyMachine { tag: tag(), id: 0 },
                Call::DestroyModel { tag: tag() },
            ]
        );
    }
}
