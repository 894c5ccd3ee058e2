//! Machines of a simulated model: where a unit's hooks and workloads run.
//!
//! Three implementations of one narrow trait (the youki `Syscall` pattern):
//! - [`LinuxMachines`]: each machine is a network namespace on a per-model bridge plus a
//!   mount namespace with private `/etc`, `/var/lib`, `/var/log`, `/run`, `/srv` (needs root);
//! - [`HostMachines`]: no isolation, every machine is the host at 127.0.0.1;
//! - [`RecordingMachines`]: records calls and fails on request, for unit tests.
//!
//! The model records which one it uses; `engine::machines_for` makes it once and the
//! engine gets it passed in. Tests pass their own.

mod fake;
mod host;
mod init;
mod linux;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

pub use fake::{Call, Op, RecordingMachines};
pub use host::HostMachines;
pub use init::InitStep;
pub use linux::LinuxMachines;

/// Host directories that every machine sees through a private overlay.
pub const OVERLAID_DIRS: [&str; 5] = ["/etc", "/var/lib", "/var/log", "/run", "/srv"];

/// Identity of one model's network: namespace names derive from `tag` (<= 6 chars, [a-z0-9]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModelNet {
    /// Short model tag, e.g. "k3f9a2"; netns `jujusim-<tag>` (bridge), `jujusim-<tag>-m<N>`.
    pub tag: String,
    /// Model state dir; per-machine files live under `<dir>/machines/<N>/`.
    pub dir: PathBuf,
    /// First three octets of the model's /24, e.g. [10, 98, 0].
    pub subnet: [u8; 3],
}

/// One machine as stored in the model state.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Machine {
    /// Machine number, as in Juju ("0", "1", ...).
    pub id: u32,
    /// The machine's address on the model bridge (127.0.0.1 for [`HostMachines`]).
    pub address: Ipv4Addr,
    /// The network the address lives in, e.g. "10.98.0.0/24".
    pub cidr: String,
    /// Interface name inside the machine ("eth0").
    pub interface: String,
    /// MAC address of the interface, deterministic per subnet and id.
    pub mac: String,
    /// Process that holds the machine's mount namespace (None for [`HostMachines`]).
    pub init_pid: Option<i32>,
    /// `<model dir>/machines/<N>`: overlay layers and machine-local files.
    pub root: PathBuf,
}

/// Creates, enters and destroys the machines of a model.
pub trait Machines {
    /// Create the model's bridge namespace (idempotent).
    fn create_model(&self, net: &ModelNet) -> Result<(), MachineError>;
    /// Create machine `id`: its own netns (address on the bridge) and its own mount namespace
    /// with private /etc, /var/lib, /var/log, /run, /srv (host content visible, writes private).
    fn create_machine(&self, net: &ModelNet, id: u32) -> Result<Machine, MachineError>;
    /// Make `cmd` run inside `machine` (joins its net + mount namespaces before exec).
    fn enter(&self, machine: &Machine, cmd: &mut Command) -> Result<(), MachineError>;
    /// Run `cmd` in the model's bridge namespace only (host mounts): how tests/clients reach units.
    fn enter_model_network(&self, net: &ModelNet, cmd: &mut Command) -> Result<(), MachineError>;
    /// Stop every process inside the machine (SIGTERM, then SIGKILL after a bound), remove its namespaces.
    fn destroy_machine(&self, net: &ModelNet, machine: &Machine) -> Result<(), MachineError>;
    /// Destroy the bridge namespace (after all machines).
    fn destroy_model(&self, net: &ModelNet) -> Result<(), MachineError>;
}

/// Everything that can go wrong while managing machines.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// Namespaces and mounts need root.
    #[error(
        "jujusim needs root to create network and mount namespaces \
         (run as root, or use --machines host)"
    )]
    NotRoot,
    /// The model tag would make bad namespace names.
    #[error("invalid model tag {tag:?}: use 1 to 6 characters from [a-z0-9]")]
    InvalidTag {
        /// The rejected tag.
        tag: String,
    },
    /// The machine id does not fit in the model's /24.
    #[error(
        "machine id {id} is too large: machine N gets address .(N+10), so N must be at most 244"
    )]
    InvalidId {
        /// The rejected id.
        id: u32,
    },
    /// The model dir would sit inside a directory that machines overlay.
    #[error(
        "model dir {dir} is inside {overlaid}, which every machine overlays; \
         put the model dir elsewhere (e.g. under /tmp or /var/tmp)"
    )]
    ModelDirOverlaid {
        /// The model dir.
        dir: PathBuf,
        /// The overlaid directory that contains it.
        overlaid: &'static str,
    },
    /// An external command (`ip`) failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Exit status as text.
        status: String,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// A file or process operation failed.
    #[error("{what}")]
    Io {
        /// What we were doing, naming the path.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The machine's init process reported a failed setup step.
    #[error("machine {machine}: init failed at {step}: {errno} (check that overlayfs and namespaces are available)")]
    InitFailed {
        /// The machine namespace name.
        machine: String,
        /// The step that failed.
        step: InitStep,
        /// The OS error of that step.
        errno: nix::errno::Errno,
    },
    /// The stored init pid is gone or is not ours any more.
    #[error("machine {machine}: its init process {pid} is not running (destroy and re-create the machine)")]
    InitGone {
        /// The machine namespace name.
        machine: String,
        /// The stored pid.
        pid: i32,
    },
    /// The machine has no init process recorded.
    #[error("machine {machine} has no init process recorded (was it created by another machines backend?)")]
    NoInit {
        /// The machine namespace name.
        machine: String,
    },
    /// Processes survived SIGKILL.
    #[error("namespace {ns}: processes {pids:?} survived SIGKILL; not removing the namespace")]
    Busy {
        /// The namespace name.
        ns: String,
        /// Remaining pids.
        pids: Vec<i32>,
    },
    /// A failure injected into [`RecordingMachines`].
    #[error("injected failure for {op:?}")]
    Injected {
        /// The operation that was told to fail.
        op: Op,
    },
}

impl MachineError {
    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        MachineError::Io {
            what: what.into(),
            source,
        }
    }
}

impl ModelNet {
    /// Name of the model's bridge network namespace.
    pub fn bridge_ns(&self) -> String {
        format!("jujusim-{}", self.tag)
    }

    /// Name of machine `id`'s network namespace.
    pub fn machine_ns(&self, id: u32) -> String {
        format!("jujusim-{}-m{id}", self.tag)
    }

    /// The bridge's own address (`.1`), reachable from the bridge namespace.
    pub fn bridge_address(&self) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, 1)
    }

    /// The model network in CIDR form, e.g. "10.98.0.0/24".
    pub fn cidr(&self) -> String {
        let [a, b, c] = self.subnet;
        format!("{a}.{b}.{c}.0/24")
    }

    /// Address of machine `id`: `.(id+10)`.
    pub fn machine_address(&self, id: u32) -> Result<Ipv4Addr, MachineError> {
        let last = u8::try_from(id + 10)
            .ok()
            .filter(|l| *l < 255)
            .ok_or(MachineError::InvalidId { id })?;
        let [a, b, c] = self.subnet;
        Ok(Ipv4Addr::new(a, b, c, last))
    }

    /// Deterministic, locally administered MAC for machine `id`.
    pub fn machine_mac(&self, id: u32) -> String {
        let [a, b, c] = self.subnet;
        format!(
            "02:{a:02x}:{b:02x}:{c:02x}:{:02x}:{:02x}",
            (id >> 8) & 0xff,
            id & 0xff
        )
    }

    /// `<dir>/machines/<id>`.
    pub fn machine_root(&self, id: u32) -> PathBuf {
        self.dir.join("machines").join(id.to_string())
    }

    fn validate_tag(&self) -> Result<(), MachineError> {
        let ok = !self.tag.is_empty()
            && self.tag.len() <= 6
            && self
                .tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(())
        } else {
            Err(MachineError::InvalidTag {
                tag: self.tag.clone(),
            })
        }
    }
}

fn create_dir(path: &Path) -> Result<(), MachineError> {
    std::fs::create_dir_all(path)
        .map_err(|e| MachineError::io(format!("creating directory {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(tag: &str) -> ModelNet {
        ModelNet {
            tag: tag.into(),
            dir: PathBuf::from("/tmp/m"),
            subnet: [10, 98, 3],
        }
    }

    #[test]
    fn names_and_addresses_follow_the_contract() {
        let n = net("k3f9a2");
        assert_eq!(n.bridge_ns(), "jujusim-k3f9a2");
        assert_eq!(n.machine_ns(4), "jujusim-k3f9a2-m4");
        assert_eq!(n.bridge_address(), Ipv4Addr::new(10, 98, 3, 1));
        assert_eq!(n.cidr(), "10.98.3.0/24");
        assert_eq!(
            n.machine_address(0).ok(),
            Some(Ipv4Addr::new(10, 98, 3, 10))
        );
        assert_eq!(
            n.machine_address(244).ok(),
            Some(Ipv4Addr::new(10, 98, 3, 254))
        );
        assert!(matches!(
            n.machine_address(245),
            Err(MachineError::InvalidId { id: 245 })
        ));
        assert_eq!(n.machine_mac(1), "02:0a:62:03:00:01");
        assert_eq!(n.machine_root(2), PathBuf::from("/tmp/m/machines/2"));
    }

    #[test]
    fn tags_are_short_lowercase_alphanumerics() {
        assert!(net("a1").validate_tag().is_ok());
        for bad in ["", "toolong7", "Abc", "a-b", "a b"] {
            assert!(net(bad).validate_tag().is_err(), "{bad:?} accepted");
        }
    }
}
