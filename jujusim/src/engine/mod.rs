//! The engine: runs hooks, actions and exec commands on units, on their machines, with
//! Juju's environment, and commits what they buffered only when they exit 0
//! (docs/juju.md#dispatch, docs/juju.md#commit).
//!
//! `settle.rs` picks which unit runs what next (with `sched`); `hook.rs` and
//! `action.rs` run one execution each; `process.rs` starts and bounds the processes; `snapshot.rs` is
//! what an execution sees; `commit.rs` is what a finished hook changes in the model.
mod action;
mod commit;
mod hook;
mod process;
mod settle;
mod shell;
mod snapshot;
mod storage;

pub use commit::apply_pending;
pub(crate) use commit::{cleanup, commit_hook};
pub use process::{new_context_id, RunOutcome};
pub use shell::Location;
pub use snapshot::snapshot;

use crate::charm::CharmError;
use crate::context::ContextError;
use crate::machines::{HostMachines, LinuxMachines, MachineError, Machines};
use crate::model::{MachinesKind, ModelDir, ModelError};
use crate::sched::{Picker, Seed};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Juju version the simulated agent reports.
pub const JUJU_VERSION: &str = "3.6.1";

/// Default bound on hooks in one settle.
pub const DEFAULT_HOOK_BOUND: usize = 2000;

/// Default limit on one hook or action process (Juju has none; a test must not hang).
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// Engine errors (all runtime: exit 1).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Model state.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Machines.
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// A context file.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Charm files or action parameters.
    #[error(transparent)]
    Charm(#[from] CharmError),
    /// The model never settled.
    #[error(
        "charms ping-pong: {count} hooks ran without the model settling; still changing: {detail}"
    )]
    PingPong {
        /// Hooks run.
        count: usize,
        /// Which units/hooks kept running.
        detail: String,
    },
    /// No such unit.
    #[error("unit {0:?} not found")]
    UnitNotFound(String),
    /// No such application.
    #[error("application {0:?} not found")]
    AppNotFound(String),
    /// The unit's machine is missing from the model.
    #[error("machine {machine} of {unit} not found")]
    MachineNotFound {
        /// Machine id.
        machine: u32,
        /// The unit on it.
        unit: String,
    },
    /// `run` on a charm without actions.yaml.
    #[error("no actions defined on charm {0:?}")]
    NoActions(String),
    /// A task disappeared from the model while its action ran.
    #[error("task {0} vanished")]
    TaskVanished(u32),
    /// `exec` could not start its command.
    #[error("cannot run {command:?} on {unit}")]
    Spawn {
        /// The command line.
        command: String,
        /// The unit.
        unit: String,
        /// Why.
        source: std::io::Error,
    },
    /// A storage instance's directory could not be made on its machine.
    #[error("cannot make the directory {location} of storage {id} on its machine")]
    Storage {
        /// Storage id.
        id: String,
        /// Its location.
        location: String,
    },
    /// One side of an `scp` exited non-zero (its own error is on stderr above).
    #[error("copying {what} failed (exit status {code})")]
    CopyFailed {
        /// The remote end, `<machine>:<path>`.
        what: String,
        /// The exit code.
        code: i32,
    },
    /// A file the engine keeps (tool links, captured output).
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl EngineError {
    fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EngineError {
        let path = path.to_path_buf();
        move |source| EngineError::Io { what, path, source }
    }
}

/// The engine over one model directory.
pub struct Engine {
    /// The model directory.
    pub dir: ModelDir,
    /// Where units' processes run.
    pub machines: Box<dyn Machines>,
    /// The jujusim binary (hook tools are symlinks to it).
    pub tool_binary: PathBuf,
    /// Max hooks per settle.
    pub hook_bound: usize,
    /// A hook or action still running after this is killed and fails.
    pub hook_timeout: Duration,
    /// Every scheduling choice of this engine's command (ordered unless set).
    pub picker: Picker,
    /// Whether the seed line was printed (once, before the first operation).
    announced: Cell<bool>,
}

/// The Machines implementation for a kind.
pub fn machines_for(kind: MachinesKind) -> Box<dyn Machines> {
    match kind {
        MachinesKind::Host => Box::new(HostMachines),
        MachinesKind::Linux => Box::new(LinuxMachines),
    }
}

impl Engine {
    /// An engine over an existing or new model dir.
    pub fn new(dir: ModelDir, machines: Box<dyn Machines>, tool_binary: PathBuf) -> Engine {
        Engine {
            dir,
            machines,
            tool_binary,
            hook_bound: DEFAULT_HOOK_BOUND,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
            picker: Picker::new(Seed::Ordered),
            announced: Cell::new(false),
        }
    }

    /// Print the seed line on stderr once per command, before its first operation, so
    /// any run can be repeated (`JUJUSIM_SEED=N`).
    pub fn announce_seed(&self) {
        if !self.announced.replace(true) {
            eprintln!("{}", self.picker.seed().banner());
        }
    }

    /// Make `<model>/tools/<tool>` symlinks to the jujusim binary (idempotent).
    pub fn ensure_tools(&self) -> Result<(), EngineError> {
        let dir = self.dir.tools_dir();
        std::fs::create_dir_all(&dir).map_err(EngineError::io("creating", &dir))?;
        for t in crate::tools::tool_names() {
            let link = dir.join(t);
            if std::fs::read_link(&link).ok().as_deref() == Some(self.tool_binary.as_path()) {
                continue;
            }
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&self.tool_binary, &link)
                .map_err(EngineError::io("linking the hook tool", &link))?;
        }
        Ok(())
    }
}
