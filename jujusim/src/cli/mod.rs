//! The juju-like command line: `args.rs` (with a parser per command in `parse.rs`)
//! turns argv into a checked [`Request`], `commands.rs` carries it out on the model
//! (through `ops` and the engine), `views/` renders what it prints. [`main`] is the one
//! exit point: it prints the error chain once and maps it to Juju's codes, 2 for usage
//! and 1 for runtime errors.
mod args;
mod commands;
mod parse;
pub mod views;

pub use args::{ArgsError, LowArgs, OutFormat, Request, ShowFilter};
pub use commands::run;
pub use parse::action_params;

use crate::charm::CharmError;
use crate::engine::EngineError;
use crate::machines::MachineError;
use crate::model::{MachinesKind, ModelError};
use crate::ops::OpError;
use std::path::PathBuf;

/// Usage text.
pub const USAGE: &str = "\
jujusim: a local stand-in for a Juju controller and unit agent

Usage: jujusim [--model DIR] [--seed N|ordered] [--no-settle] COMMAND [ARGS]
       (or set JUJUSIM_MODEL=DIR, JUJUSIM_SEED=N|ordered)
Every command that changes the model then runs hooks until all units are idle
(at most JUJUSIM_MAX_HOOKS hooks, default 2000; a hook or action running longer than
JUJUSIM_HOOK_TIMEOUT seconds, default 300, is killed and fails); --no-settle returns
at once and leaves them to the next command. Which unit runs next, and which relation
first, comes from a seed, printed before the first hook (`jujusim: seed N`); the same
seed repeats a run, `ordered` takes units round-robin in name order.

Commands:
  deploy CHARM [APP] [-n N] [--config k=v ...] [--base OS@CHANNEL] [--machines linux|host]
  config APP [KEY | k=v ... | --reset k[,k]]
  integrate A[:endpoint] B[:endpoint]
  remove-relation A[:endpoint] B[:endpoint] | remove-relation ID
  add-unit APP [-n N]
  remove-unit UNIT ...
  remove-application APP ...
  set-leader UNIT
  refresh APP --path CHARM
  run UNIT ACTION [k=v ...] [--format plain|yaml|json] [--background]
  show-task ID
  exec UNIT -- CMD ...          (or exec --unit UNIT -- CMD ...)
  ssh UNIT|MACHINE [-- CMD ...] (a shell on the unit's machine, no hook context)
  scp [-r] SOURCE DESTINATION   (one of them UNIT:PATH or MACHINE:PATH)
  status [--format tabular|yaml|json] [--relations]
  show-unit UNIT... [--format yaml|json] [--endpoint E] [--related-unit U] [--app]
  show-status-log UNIT [-n N] [--type unit|workload|juju-unit] [--format tabular|yaml|json]
  debug-log [--replay] [-n LINES] [--include UNIT|APP]
  resolve UNIT [--retry|--no-retry]
  model-config [automatically-retry-hooks[=true|false]]
  update-status [UNIT|APP]
  settle
  destroy
  netexec -- CMD ...            (run CMD in the model's network namespace)
  secrets [--format tabular|yaml|json]
  show-secret ID|LABEL [--reveal] [--revision N] [--revisions] [--format yaml|json]
";

/// A CLI failure; [`CliError::exit_code`] says which of Juju's codes it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is wrong.
    #[error(transparent)]
    Args(#[from] ArgsError),
    /// No `--model` and no `JUJUSIM_MODEL`.
    #[error("no model: pass --model DIR or set JUJUSIM_MODEL=DIR")]
    NoModel,
    /// `deploy --machines K` on a model created with other machines.
    #[error(
        "this model uses {model} machines; --machines {asked} only applies when creating a model"
    )]
    MachinesMismatch {
        /// What the model uses.
        model: MachinesKind,
        /// What was asked for.
        asked: MachinesKind,
    },
    /// An operation on the model.
    #[error(transparent)]
    Op(#[from] OpError),
    /// Running hooks or actions.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Model state.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Charm files or a config key.
    #[error(transparent)]
    Charm(#[from] CharmError),
    /// The model's network (netexec).
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// No such application.
    #[error("application {0:?} not found")]
    AppNotFound(String),
    /// No such unit.
    #[error("unit {0:?} not found")]
    UnitNotFound(String),
    /// `app/leader` while the app has none.
    #[error("application {0:?} has no leader")]
    NoLeader(String),
    /// `show-secret` of an unknown secret.
    #[error("secret {0:?} not found")]
    SecretNotFound(String),
    /// No such machine.
    #[error("machine {0} not found")]
    MachineNotFound(u32),
    /// A model-config key jujusim does not act on.
    #[error("unknown model-config key {0:?}: jujusim knows automatically-retry-hooks")]
    ModelConfigKey(String),
    /// A model-config value of the wrong type.
    #[error("model-config {key}: {value:?} is not a boolean (true or false)")]
    ModelConfigValue {
        /// The key.
        key: String,
        /// The value as typed.
        value: String,
    },
    /// No such task.
    #[error("task {0} not found")]
    TaskNotFound(u32),
    /// `destroy` where there is no model.
    #[error("no model at {0}")]
    NoModelAt(PathBuf),
    /// The action called action-fail (jujusim fails the command; Juju exits 0).
    #[error("task {id} failed: {message}")]
    TaskFailed {
        /// Task id.
        id: u32,
        /// action-fail's message.
        message: String,
    },
    /// The task did not run by the time the model settled (Juju's words after `--wait`).
    #[error("timed out waiting for results from: unit {unit} (task {id} stays queued; `jujusim show-task {id}`)")]
    TaskWaiting {
        /// Task id.
        id: u32,
        /// Its unit.
        unit: String,
    },
    /// The action exited non-zero (Juju's words).
    #[error("the following task failed:\n - id \"{id}\" with return code {code}\n\nuse 'jujusim show-task' to inspect the failure")]
    TaskExit {
        /// Task id.
        id: u32,
        /// Its exit code.
        code: i64,
    },
    /// A file operation.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The jujusim binary cannot find itself (the hook tools are links to it).
    #[error("cannot find the jujusim binary")]
    SelfExe(#[source] std::io::Error),
    /// netexec could not start its command.
    #[error("cannot run {program:?}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// Output that would not render as YAML.
    #[error("cannot render YAML")]
    Yaml(#[from] serde_yaml::Error),
    /// Output that would not render as JSON.
    #[error("cannot render JSON")]
    Json(#[from] serde_json::Error),
}

impl CliError {
    /// Juju's exit code: 2 for a wrong command line, 1 for anything that went wrong
    /// while running it.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Args(_) | CliError::NoModel | CliError::MachinesMismatch { .. } => 2,
            _ => 1,
        }
    }
}

/// The one exit point: parse, run, print the error (prefixed `jujusim COMMAND:`) and
/// return the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let low = match LowArgs::parse(args) {
        Ok(l) => l,
        Err(e) => return report("jujusim", &e.into()),
    };
    let result = Request::from_low(&low)
        .map_err(CliError::from)
        .and_then(|req| run(&low, req));
    match result {
        Ok(code) => code,
        Err(e) => report(&format!("jujusim {}", low.command), &e),
    }
}

fn report(prefix: &str, e: &CliError) -> i32 {
    eprintln!("{prefix}: {}", crate::error::chain(e));
    e.exit_code()
}
