//! A model's machines made straight with [`LinuxMachines`] (needs root), below the engine:
//! for tests of the namespaces themselves and of scripts run inside a machine.
use std::process::{Command, Output};

use jujusim::machines::{LinuxMachines, Machine, Machines, ModelNet};

/// A model network with machines, destroyed on drop (also when the test panics).
pub struct Net {
    /// The model's network identity.
    pub net: ModelNet,
    /// Machines made by [`Net::add_machine`], in order.
    pub machines: Vec<Machine>,
    /// Holds the model dir.
    pub dir: tempfile::TempDir,
}

impl Net {
    /// A new model network. `prefix` (3 characters, one per test: tests run in parallel)
    /// plus this process's pid make the namespace tag, so parallel tests and two test runs
    /// on one machine never touch each other's namespaces; a killed earlier run's
    /// leftovers with the same tag are removed first.
    pub fn new(prefix: &str, subnet: [u8; 3]) -> Net {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let net = ModelNet {
            tag: unique_tag(prefix),
            dir: dir.path().join("model"),
            subnet,
        };
        let _ = LinuxMachines.destroy_model(&net);
        LinuxMachines
            .create_model(&net)
            .unwrap_or_else(|e| panic!("creating model network {}: {e}", net.tag));
        Net {
            net,
            machines: Vec::new(),
            dir,
        }
    }

    /// Create machine `id`.
    pub fn add_machine(&mut self, id: u32) -> Machine {
        let m = LinuxMachines
            .create_machine(&self.net, id)
            .unwrap_or_else(|e| panic!("creating machine {id}: {e}"));
        self.machines.push(m.clone());
        m
    }

    /// Destroy every machine and the model, requiring success (drop only tries).
    pub fn destroy_all(&mut self) {
        for m in std::mem::take(&mut self.machines) {
            LinuxMachines
                .destroy_machine(&self.net, &m)
                .unwrap_or_else(|e| panic!("destroying machine {}: {e}", m.id));
        }
        LinuxMachines
            .destroy_model(&self.net)
            .unwrap_or_else(|e| panic!("destroying model network {}: {e}", self.net.tag));
    }

    /// Run `cmd` on the model's bridge network (where every machine is reachable).
    pub fn on_bridge(&self, mut cmd: Command) -> Output {
        LinuxMachines
            .enter_model_network(&self.net, &mut cmd)
            .expect("entering the model network");
        cmd.output().expect("running a command on the bridge")
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for m in std::mem::take(&mut self.machines) {
            let _ = LinuxMachines.destroy_machine(&self.net, &m);
        }
        let _ = LinuxMachines.destroy_model(&self.net);
    }
}

/// A namespace tag unique to this test process: `prefix` plus the pid.
pub fn unique_tag(prefix: &str) -> String {
    format!("{prefix}{:03x}", std::process::id() & 0xfff)
}

/// Run `cmd` inside `machine`.
pub fn inside(machine: &Machine, mut cmd: Command) -> Output {
    LinuxMachines
        .enter(machine, &mut cmd)
        .expect("entering the machine");
    cmd.output().expect("running a command in the machine")
}

/// `sh -c SCRIPT` inside `machine`: (success, stdout + stderr).
pub fn sh_in(machine: &Machine, script: &str) -> (bool, String) {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    let out = inside(machine, cmd);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}
