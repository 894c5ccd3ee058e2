//! The command line in two steps, ripgrep style: [`LowArgs`] is what was typed (the
//! global `--model`, the command, the rest); [`Request::from_low`] checks it against the
//! command's flags and arity (each command's parser is in `parse.rs`) and builds a
//! typed [`Request`]. Nothing here touches the model.
use crate::charm::{Base, BaseError};
use crate::engine::Location;
use crate::flags::FlagError;
use crate::model::{MachinesKind, StatusKind};
use crate::sched::{Seed, SeedError};
use crate::suggest::Similar;
use serde_json::Value;
use std::path::PathBuf;

/// A command line jujusim refuses before doing anything (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// A flag error in juju/cmd's words (`-h` asks for help).
    #[error(transparent)]
    Flag(#[from] FlagError),
    /// Wrong positional arguments: the command's usage line.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// Not the number of positional arguments the command takes.
    #[error("expected {want} argument(s), got {got}; usage: {usage}")]
    Count {
        /// How many it takes.
        want: usize,
        /// How many were given.
        got: usize,
        /// The command's usage line.
        usage: &'static str,
    },
    /// A flag value out of its range.
    #[error("invalid value {value:?} for option {flag}: expected {expected}")]
    Invalid {
        /// The flag (`-n`, `--format`).
        flag: &'static str,
        /// The value as typed.
        value: String,
        /// What it accepts.
        expected: String,
    },
    /// `k=v` expected.
    #[error("expected key=value, got {0:?}")]
    NotKeyValue(String),
    /// `juju run` parameters must be `key[.key...]=value`.
    #[error("argument {0:?} must be of the form key[.key...]=value")]
    ActionParam(String),
    /// `config APP KEY --reset K`.
    #[error("cannot get a key and --reset at once")]
    GetAndReset,
    /// `refresh` without `--path`.
    #[error("refresh needs --path CHARM (a charm dir or .charm file)")]
    NoCharmPath,
    /// `show-task X` with a non-numeric id.
    #[error("invalid task id {0:?}")]
    TaskId(String),
    /// `exec UNIT --` with nothing after.
    #[error("exec: no command given; usage: exec UNIT -- CMD ...")]
    NoCommand,
    /// `show-unit` without a unit (Juju's own words).
    #[error("an unit name must be supplied; usage: show-unit UNIT... [--format yaml|json] [--endpoint E] [--related-unit U] [--app]")]
    NoUnit,
    /// `resolve --retry --no-retry`.
    #[error("resolve: --retry and --no-retry exclude each other")]
    RetryConflict,
    /// `--seed` or `JUJUSIM_SEED` that is neither a number nor `ordered`.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// `--base` that is not `OS@CHANNEL`.
    #[error(transparent)]
    Base(#[from] BaseError),
    /// `scp` with neither or both ends on a machine.
    #[error("scp: exactly one of SOURCE and DESTINATION must be <unit or machine>:<path>")]
    ScpEnds,
    /// `show-status-log --type X`.
    #[error("unexpected status type {0:?} (expected unit, workload or juju-unit)")]
    StatusType(String),
    /// Not a jujusim command.
    #[error("unknown command {name:?}{similar}; see `jujusim help`")]
    UnknownCommand {
        /// As typed.
        name: String,
        /// Commands close to it.
        similar: Similar,
    },
}

/// The command line as typed.
#[derive(Debug)]
pub struct LowArgs {
    /// `--model DIR` / `-m DIR` (anywhere), else JUJUSIM_MODEL.
    pub model: Option<PathBuf>,
    /// `--seed N|ordered` (anywhere), else JUJUSIM_SEED; None: a fresh seed.
    pub seed: Option<Seed>,
    /// `--no-settle` (anywhere): change the model and return, as Juju's CLI does, leaving
    /// the agents' work to the next command that settles.
    pub no_settle: bool,
    /// Subcommand.
    pub command: String,
    /// The rest, flags included.
    pub rest: Vec<String>,
}

impl LowArgs {
    /// Split out the global `--model` flag and the subcommand.
    pub fn parse(args: Vec<String>) -> Result<LowArgs, ArgsError> {
        let mut model = None;
        let mut seed = None;
        let mut no_settle = false;
        let mut command = None;
        let mut rest = Vec::new();
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            if a == "--" {
                rest.push(a);
                rest.extend(it.by_ref());
                break;
            }
            if a == "--model" || a == "-m" {
                let dir = it.next().ok_or(FlagError::NeedsValue(a))?;
                model = Some(PathBuf::from(dir));
            } else if let Some(v) = a.strip_prefix("--model=") {
                model = Some(PathBuf::from(v));
            } else if a == "--seed" {
                let v = it.next().ok_or(FlagError::NeedsValue(a))?;
                seed = Some(Seed::parse(&v, "--seed")?);
            } else if let Some(v) = a.strip_prefix("--seed=") {
                seed = Some(Seed::parse(v, "--seed")?);
            } else if a == "--no-settle" {
                no_settle = true;
            } else if command.is_none() && !a.starts_with('-') {
                command = Some(a);
            } else if command.is_none() && (a == "-h" || a == "--help") {
                command = Some("help".into());
            } else {
                rest.push(a);
            }
        }
        let model = model.or_else(|| std::env::var_os("JUJUSIM_MODEL").map(PathBuf::from));
        let seed = match (seed, std::env::var("JUJUSIM_SEED")) {
            (Some(s), _) => Some(s),
            (None, Ok(v)) if !v.trim().is_empty() => Some(Seed::parse(&v, "JUJUSIM_SEED")?),
            _ => None,
        };
        Ok(LowArgs {
            model,
            seed,
            no_settle,
            command: command.unwrap_or_else(|| "help".into()),
            rest,
        })
    }
}

/// Output format of status-like commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFormat {
    /// Human table / plain.
    Plain,
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// `show-unit --endpoint/--related-unit/--app`.
#[derive(Debug, Default)]
pub struct ShowFilter {
    /// Only this endpoint's relations (shown even without data).
    pub endpoint: Option<String>,
    /// Only this related unit's data.
    pub related_unit: Option<String>,
    /// Only application data.
    pub app_only: bool,
}

/// A checked request: one variant per command.
#[derive(Debug)]
pub enum Request {
    /// Print usage.
    Help,
    /// deploy.
    Deploy {
        charm: PathBuf,
        app: Option<String>,
        n: u32,
        config: Vec<(String, String)>,
        machines: Option<MachinesKind>,
        base: Option<Base>,
    },
    /// config.
    Config {
        app: String,
        get: Option<String>,
        set: Vec<(String, String)>,
        reset: Vec<String>,
        format: OutFormat,
    },
    /// integrate.
    Integrate { a: String, b: String },
    /// remove-relation.
    RemoveRelation { a: String, b: Option<String> },
    /// add-unit.
    AddUnit { app: String, n: u32 },
    /// remove-unit.
    RemoveUnit { units: Vec<String> },
    /// set-leader.
    SetLeader { unit: String },
    /// refresh.
    Refresh { app: String, path: PathBuf },
    /// run.
    Run {
        unit: String,
        action: String,
        params: serde_json::Map<String, Value>,
        format: OutFormat,
        background: bool,
    },
    /// show-task.
    ShowTask { id: u32, format: OutFormat },
    /// exec.
    Exec { unit: String, argv: Vec<String> },
    /// status.
    Status { format: OutFormat, relations: bool },
    /// show-unit.
    ShowUnit {
        units: Vec<String>,
        format: OutFormat,
        filter: ShowFilter,
    },
    /// debug-log.
    DebugLog {
        replay: bool,
        lines: usize,
        include: Option<String>,
    },
    /// resolve.
    Resolve { unit: String, retry: bool },
    /// update-status.
    UpdateStatus { target: Option<String> },
    /// settle.
    Settle,
    /// destroy.
    Destroy,
    /// netexec.
    Netexec { argv: Vec<String> },
    /// secrets.
    Secrets { format: OutFormat },
    /// show-secret.
    ShowSecret {
        secret: String,
        reveal: bool,
        revision: Option<u32>,
        revisions: bool,
        format: OutFormat,
    },
    /// remove-application.
    RemoveApplication { apps: Vec<String> },
    /// show-status-log.
    ShowStatusLog {
        unit: String,
        lines: usize,
        kind: Option<StatusKind>,
        format: OutFormat,
    },
    /// model-config.
    ModelConfig {
        get: Option<String>,
        set: Vec<(String, String)>,
    },
    /// ssh.
    Ssh { target: String, argv: Vec<String> },
    /// scp.
    Scp {
        from: Location,
        to: Location,
        recursive: bool,
    },
}

impl Request {
    /// Check the typed command line and build the request (`-h` anywhere: help).
    pub fn from_low(low: &LowArgs) -> Result<Request, ArgsError> {
        let name = low.command.as_str();
        if name == "help" {
            return Ok(Request::Help);
        }
        let (_, _, parse) = super::parse::COMMANDS
            .iter()
            .find(|(n, aliases, _)| *n == name || aliases.contains(&name))
            .ok_or_else(|| ArgsError::UnknownCommand {
                name: name.into(),
                similar: Similar::to(name, super::parse::COMMANDS.iter().map(|(n, _, _)| *n)),
            })?;
        match parse(&low.rest) {
            Err(ArgsError::Flag(FlagError::Help)) => Ok(Request::Help),
            other => other,
        }
    }
}
