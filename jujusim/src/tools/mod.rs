//! Hook tools (docs/juju.md#hook-tools): the jujusim binary run through a symlink named
//! after the tool. Each tool reads its execution's context file, answers from the
//! snapshot plus its own buffered changes, and appends new buffered changes; the tools
//! Juju applies at once (status-set, application-version-set, leader-set, juju-log,
//! action-log) edit the model under its lock straight away. One file per family of
//! tools; [`TOOLS`] maps names to them.
mod action;
mod args;
mod leader;
mod network;
mod relation;
mod secret;
mod state;
mod status;
mod storage;
mod unit;

use crate::context::{
    append_change, context_path, read_context, Change, ContextError, ContextKind, Pending, Snapshot,
};
use crate::flags::FlagError;
use crate::model::{ModelDir, ModelError};
use crate::ports::PortError;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What runs one tool: its context, its arguments, where its output goes.
type Run = fn(&mut ToolCtx, &[String], &mut ToolOutput) -> Result<(), ToolError>;

/// Every hook tool jujusim serves, by name (the tools dir gets one symlink each).
pub const TOOLS: &[(&str, Run)] = &[
    ("action-fail", action::action_fail),
    ("action-get", action::action_get),
    ("action-log", action::action_log),
    ("action-set", action::action_set),
    ("application-version-set", status::application_version_set),
    ("close-port", network::close_port),
    ("config-get", unit::config_get),
    ("goal-state", unit::goal_state),
    ("is-leader", leader::is_leader),
    ("juju-log", unit::juju_log),
    ("leader-get", leader::leader_get),
    ("leader-set", leader::leader_set),
    ("network-get", network::network_get),
    ("open-port", network::open_port),
    ("opened-ports", network::opened_ports),
    ("relation-get", relation::relation_get),
    ("relation-ids", relation::relation_ids),
    ("relation-list", relation::relation_list),
    ("relation-model-get", relation::relation_model_get),
    ("relation-set", relation::relation_set),
    ("secret-add", secret::secret_add),
    ("secret-get", secret::secret_get),
    ("secret-grant", secret::secret_grant),
    ("secret-ids", secret::secret_ids),
    ("secret-info-get", secret::secret_info_get),
    ("secret-remove", secret::secret_remove),
    ("secret-revoke", secret::secret_revoke),
    ("secret-set", secret::secret_set),
    ("state-delete", state::state_delete),
    ("state-get", state::state_get),
    ("state-set", state::state_set),
    ("status-get", status::status_get),
    ("status-set", status::status_set),
    ("storage-add", storage::storage_add),
    ("storage-get", storage::storage_get),
    ("storage-list", storage::storage_list),
    ("unit-get", network::unit_get),
];

pub use secret::access as secret_access;

/// The names of every tool in [`TOOLS`].
pub fn tool_names() -> impl Iterator<Item = &'static str> {
    TOOLS.iter().map(|(name, _)| *name)
}

/// A tool failure, printed as `ERROR <message>` with Juju's exit code: 2 for usage
/// errors, 1 for the rest. `Usage` and `Run` carry Juju's own texts (tests pin them).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// -h/--help: print help, exit 0.
    #[error("help requested")]
    Help,
    /// An argument error in Juju's words: exit 2.
    #[error("{0}")]
    Usage(String),
    /// A refusal in Juju's words: exit 1.
    #[error("{0}")]
    Run(String),
    /// A flag juju/cmd would refuse: exit 2.
    #[error(transparent)]
    Flag(FlagError),
    /// A port or range open-port/close-port refuse: exit 2.
    #[error(transparent)]
    Port(#[from] PortError),
    /// No hook context: the tool was run outside a hook, action or exec.
    #[error("{0} not set")]
    NoContext(&'static str),
    /// A name that is not a tool jujusim serves.
    #[error("bad request: unknown command: {0}")]
    UnknownTool(String),
    /// The model state.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The execution's context file.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// `-o FILE` could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--file F` (or stdin) could not be read.
    #[error("cannot read {what}")]
    Read {
        /// `stdin` or the file.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// `--file F` is not YAML.
    #[error("invalid YAML in {file}")]
    Yaml {
        /// The file as given.
        file: String,
        /// The parser's error.
        source: serde_yaml::Error,
    },
}

impl ToolError {
    /// Juju's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ToolError::Help => 0,
            ToolError::Usage(_) | ToolError::Flag(_) | ToolError::Port(_) => 2,
            _ => 1,
        }
    }
}

impl From<FlagError> for ToolError {
    fn from(e: FlagError) -> Self {
        match e {
            FlagError::Help => ToolError::Help,
            other => ToolError::Flag(other),
        }
    }
}

/// What a tool run produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ToolOutput {
    /// Text for stdout (or the -o file).
    pub stdout: String,
    /// Text for stderr (warnings).
    pub stderr: String,
}

/// One tool invocation's view of its context.
pub struct ToolCtx {
    /// The execution's snapshot.
    pub snap: Snapshot,
    /// Buffered changes so far.
    pub pending: Pending,
    /// The context file (changes are appended here).
    pub path: PathBuf,
    /// Caller's working directory (relative paths).
    pub cwd: PathBuf,
    /// Caller's stdin, read on demand.
    pub stdin: Box<dyn FnMut() -> std::io::Result<String>>,
}

impl ToolCtx {
    fn push(&mut self, change: Change) -> Result<(), ToolError> {
        append_change(&self.path, &change)?;
        Ok(())
    }

    fn model(&self) -> ModelDir {
        ModelDir::new(&self.snap.model_dir)
    }

    fn is_leader(&self) -> bool {
        self.snap.leader && !self.pending.lost_leadership
    }

    fn hook(&self) -> Option<&crate::resolver::Hook> {
        match &self.snap.kind {
            ContextKind::Hook(h) => Some(h),
            _ => None,
        }
    }
}

/// Entry point for a hook tool process (the one exit point): returns the exit code.
pub fn tool_main(name: &str, args: &[String]) -> i32 {
    let (code, out) = match prepare(name) {
        Ok((mut ctx, run)) => run_tool(&mut ctx, name, run, args),
        Err(e) => (e.exit_code(), failure(ToolOutput::default(), &e)),
    };
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    code
}

/// The context of this execution (from the environment) and the tool to run.
fn prepare(name: &str) -> Result<(ToolCtx, Run), ToolError> {
    let env = |var: &'static str| std::env::var(var).map_err(|_| ToolError::NoContext(var));
    let ctx_id = env("JUJU_CONTEXT_ID")?;
    let socket = env("JUJU_AGENT_SOCKET_ADDRESS")?;
    let unit_dir = Path::new(&socket)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = context_path(&unit_dir, &ctx_id);
    let (snap, changes) = read_context(&path, &ctx_id)?;
    let run = find(name)?;
    let ctx = ToolCtx {
        snap,
        pending: Pending::fold(&changes),
        path,
        cwd: std::env::current_dir().unwrap_or_default(),
        stdin: Box::new(|| {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map(|_| s)
        }),
    };
    Ok((ctx, run))
}

/// The tool called `name`.
pub fn find(name: &str) -> Result<Run, ToolError> {
    TOOLS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, run)| *run)
        .ok_or_else(|| ToolError::UnknownTool(name.into()))
}

/// Run tool `name` in `ctx`; returns (exit code, output). Used by `tool_main` and tests.
pub fn run_tool(ctx: &mut ToolCtx, name: &str, run: Run, args: &[String]) -> (i32, ToolOutput) {
    let mut out = ToolOutput::default();
    match run(ctx, args, &mut out) {
        Ok(()) => (0, out),
        Err(ToolError::Help) => (
            0,
            ToolOutput {
                stdout: format!("Usage: {name} [options]\n"),
                stderr: String::new(),
            },
        ),
        Err(e) => (e.exit_code(), failure(out, &e)),
    }
}

/// What a failed tool prints: its warnings so far, then `ERROR <message>`; no stdout.
fn failure(out: ToolOutput, e: &ToolError) -> ToolOutput {
    ToolOutput {
        stdout: String::new(),
        stderr: format!("{}ERROR {}\n", out.stderr, crate::error::chain(e)),
    }
}

#[cfg(test)]
mod tests {
    /// README's jujusim section lists exactly the tools served.
    #[test]
    fn readme_lists_the_tools_served() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("Hook tools served (")
            .expect("README lists the hook tools served");
        let list = &readme[start..];
        let list = &list[list.find('`').unwrap_or(0) + 1..];
        let list = &list[..list.find('`').unwrap_or(0)];
        let listed: Vec<&str> = list.split_whitespace().collect();
        let served: Vec<&str> = super::tool_names().collect();
        assert_eq!(listed, served);
        assert!(readme[start..].starts_with(&format!("Hook tools served ({})", served.len())));
    }
}
