//! The hook-tool client: one typed method per tool, all ending in one [`ToolRunner`].
//!
//! Conventions (docs/juju.md#hook-tools, as ops' `hookcmds` does):
//! * `--format=json` on every tool that has it (never on `status-set`, `leader-set`,
//!   `state-set`, `state-delete`, `action-set`/`-fail`/`-log`, `application-version-set`,
//!   where Juju rejects it with exit 2);
//! * relations are always passed as `-r <endpoint>:<id>`;
//! * relation and state data travel as JSON on stdin (`--file -`), never in argv, so they
//!   appear neither in `ps` nor in error messages. `leader-set` and `action-set` have no
//!   `--file`, so their values are in argv and are redacted from every error message;
//! * secret values never travel in argv either: `secret-add` and `secret-set` have no
//!   stdin form, so each value goes in a 0600 file in a private 0700 directory, passed as
//!   `key#file=/abs/path` and removed when the tool returns (docs/juju.md#secrets);
//! * a failed tool becomes a typed [`HookToolError`] in exactly one place, [`classify`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::types::{AppName, Databag, LogLevel, Port, PortRange, RelationId, Status, UnitName};

/// Boxed error used as the cause of [`HookToolError::BadOutput`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A hook tool failed, could not be run, or printed something unexpected.
#[derive(Debug, thiserror::Error)]
pub enum HookToolError {
    /// The relation id given with `-r` does not exist (any more).
    #[error("`{}` failed: relation not found (it may have been removed while this hook ran): {}", shown(.tool, .args), .stderr.trim_end())]
    RelationNotFound {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// Juju's stderr, verbatim.
        stderr: String,
    },
    /// The call needs leadership and this unit is not the leader.
    #[error("`{}` failed: this unit is not the leader; only the leader may do this: {}", shown(.tool, .args), .stderr.trim_end())]
    NotLeader {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// Juju's stderr, verbatim.
        stderr: String,
    },
    /// Juju refused access (e.g. reading another application's bag without a relation).
    #[error("`{}` failed: permission denied: {}", shown(.tool, .args), .stderr.trim_end())]
    PermissionDenied {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// Juju's stderr, verbatim.
        stderr: String,
    },
    /// The secret (or the revision, or the key) does not exist, or this unit cannot see it.
    #[error("`{}` failed: secret not found: {}", shown(.tool, .args), .stderr.trim_end())]
    SecretNotFound {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// Juju's stderr, verbatim.
        stderr: String,
    },
    /// Any other non-zero exit.
    #[error("`{}` failed ({}): {}", shown(.tool, .args), exit_text(*.code), .stderr.trim_end())]
    Tool {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// Exit code; `None` if killed by a signal.
        code: Option<i32>,
        /// Juju's stderr, verbatim.
        stderr: String,
    },
    /// The tool could not be started (usually: not on PATH because this is not a hook).
    #[error("cannot run hook tool `{tool}`: {cause}; hook tools are only on PATH inside a Juju hook or action (or under jujusim)")]
    Spawn {
        /// Tool name.
        tool: String,
        /// The OS error.
        cause: io::Error,
    },
    /// The tool succeeded but its output was not what `--format=json` promises.
    #[error("`{}` printed output that cannot be understood: {cause}", shown(.tool, .args))]
    BadOutput {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// What was wrong (never contains the output itself, which may hold secrets).
        cause: BoxError,
    },
    /// A secret's values could not be put in private files for the tool to read.
    #[error("`{tool}`: cannot write the secret's values to a private file: {cause}")]
    ValueFile {
        /// Tool name.
        tool: String,
        /// The OS error.
        cause: io::Error,
    },
    /// A key was rejected before calling the tool (Juju would reject it with exit 2).
    #[error("`{tool}` key {key:?} is invalid: {reason}")]
    InvalidKey {
        /// Tool name.
        tool: String,
        /// The rejected key.
        key: String,
        /// Why, and what is allowed.
        reason: String,
    },
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".to_string(),
    }
}

/// Tools whose positional `key=value` arguments carry data; values are hidden in errors.
const DATA_IN_ARGV: &[&str] = &["action-set", "leader-set", "relation-set", "state-set"];

/// The command line for messages: `tool arg...`, with `key=value` values of data-carrying
/// tools replaced by `***` so secrets never reach logs.
fn shown(tool: &str, args: &[String]) -> String {
    let redact = DATA_IN_ARGV.contains(&tool);
    let mut s = tool.to_string();
    for a in args {
        s.push(' ');
        match a.split_once('=') {
            Some((k, _)) if redact && !a.starts_with('-') => {
                s.push_str(k);
                s.push_str("=***");
            }
            _ => s.push_str(a),
        }
    }
    s
}

/// Turns a failed tool run into a typed error, looking only at the tool and Juju's stderr
/// (the same substrings ops recognises). `stderr` is kept verbatim.
pub fn classify(tool: &str, args: &[String], code: Option<i32>, stderr: &str) -> HookToolError {
    let (tool_s, args_v, stderr_s) = (tool.to_string(), args.to_vec(), stderr.to_string());
    let takes_relation = tool.starts_with("relation-") || tool == "network-get";
    if takes_relation
        && (stderr.contains("relation not found") || stderr.contains("unknown relation id"))
    {
        return HookToolError::RelationNotFound {
            tool: tool_s,
            args: args_v,
            stderr: stderr_s,
        };
    }
    if tool.starts_with("secret-") && stderr.contains("not found") {
        return HookToolError::SecretNotFound {
            tool: tool_s,
            args: args_v,
            stderr: stderr_s,
        };
    }
    // relation-set --app by a non-leader says "cannot write relation settings".
    let app_write = tool == "relation-set"
        && args.iter().any(|a| a == "--app")
        && stderr.contains("cannot write relation settings");
    if stderr.contains("not the leader") || app_write {
        return HookToolError::NotLeader {
            tool: tool_s,
            args: args_v,
            stderr: stderr_s,
        };
    }
    if stderr.to_ascii_lowercase().contains("permission denied") {
        return HookToolError::PermissionDenied {
            tool: tool_s,
            args: args_v,
            stderr: stderr_s,
        };
    }
    HookToolError::Tool {
        tool: tool_s,
        args: args_v,
        code,
        stderr: stderr_s,
    }
}

/// The single seam through which every hook tool is run.
pub trait ToolRunner {
    /// Runs `tool args...` with `stdin` (or an empty stdin), returning its stdout on exit 0
    /// and a [`classify`]-ed error otherwise.
    fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<String, HookToolError>;
}

impl<T: ToolRunner + ?Sized> ToolRunner for &T {
    fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<String, HookToolError> {
        (**self).run(tool, args, stdin)
    }
}

/// Runs hook tools as child processes, found on `PATH` or on an explicit search path.
#[derive(Debug, Clone, Default)]
pub struct ProcessRunner {
    search_path: Option<OsString>,
}

impl ProcessRunner {
    /// Finds tools on this process's `PATH` (what Juju sets up for a hook).
    pub fn new() -> Self {
        ProcessRunner { search_path: None }
    }

    /// Finds tools only on `search_path` (a `PATH`-style list, e.g. one directory); lets
    /// tests use fake tools without touching the process-global environment.
    pub fn with_path(search_path: impl Into<OsString>) -> Self {
        ProcessRunner {
            search_path: Some(search_path.into()),
        }
    }

    fn program(&self, tool: &str) -> io::Result<PathBuf> {
        match &self.search_path {
            None => Ok(PathBuf::from(tool)),
            Some(path) => {
                let cwd = std::env::current_dir()?;
                which::which_in(tool, Some(path), cwd).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("not found in search path {}", path.to_string_lossy()),
                    )
                })
            }
        }
    }
}

impl ToolRunner for ProcessRunner {
    fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<String, HookToolError> {
        let spawn_err = |cause| HookToolError::Spawn {
            tool: tool.to_string(),
            cause,
        };
        let mut child = Command::new(self.program(tool).map_err(spawn_err)?)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        let pipe = child.stdin.take();
        // Feed stdin from a second thread so a tool that prints before it has read all its
        // input cannot deadlock us.
        let (output, written) = std::thread::scope(|s| {
            let writer = match (stdin, pipe) {
                (Some(data), Some(mut pipe)) => Some(s.spawn(move || pipe.write_all(data))),
                _ => None,
            };
            let output = child.wait_with_output();
            let written = match writer {
                None => Ok(()),
                Some(w) => w
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("stdin writer thread panicked"))),
            };
            (output, written)
        });
        let output = output.map_err(spawn_err)?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(classify(tool, args, output.status.code(), &stderr));
        }
        match written {
            // A tool that exits 0 without reading all its input simply did not need it.
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(spawn_err(e)),
            _ => {}
        }
        String::from_utf8(output.stdout).map_err(|e| HookToolError::BadOutput {
            tool: tool.to_string(),
            args: args.to_vec(),
            cause: Box::new(e),
        })
    }
}

/// `network-get <binding> --format=json`: where this unit listens and how others reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NetworkInfo {
    /// Interfaces and their addresses in the binding's space.
    #[serde(default, deserialize_with = "null_default")]
    pub bind_addresses: Vec<BindAddress>,
    /// Addresses other units should use to reach this one (first = preferred).
    #[serde(default, deserialize_with = "null_default")]
    pub ingress_addresses: Vec<String>,
    /// CIDRs this unit's traffic comes from (for remote allow-lists).
    #[serde(default, deserialize_with = "null_default")]
    pub egress_subnets: Vec<String>,
}

impl NetworkInfo {
    /// The first ingress address, falling back to the first bind address (Juju's
    /// `--ingress-address` rule).
    pub fn ingress_address(&self) -> Option<&str> {
        self.ingress_addresses
            .first()
            .map(String::as_str)
            .or_else(|| self.bind_address())
    }

    /// The first address of the first interface (Juju's `--bind-address` rule).
    pub fn bind_address(&self) -> Option<&str> {
        self.bind_addresses
            .first()
            .and_then(|b| b.addresses.first())
            .map(|a| a.value.as_str())
    }
}

/// One interface in [`NetworkInfo::bind_addresses`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BindAddress {
    /// MAC address, may be empty.
    #[serde(default, deserialize_with = "null_default")]
    pub mac_address: String,
    /// Interface name such as `eth0`, may be empty.
    #[serde(default, deserialize_with = "null_default")]
    pub interface_name: String,
    /// The interface's addresses.
    #[serde(default, deserialize_with = "null_default")]
    pub addresses: Vec<InterfaceAddress>,
}

/// One address of a [`BindAddress`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceAddress {
    /// Host name, if the address was resolved from one; may be empty.
    #[serde(default, deserialize_with = "null_default")]
    pub hostname: String,
    /// The IP address.
    #[serde(default, deserialize_with = "null_default")]
    pub value: String,
    /// The subnet in CIDR form, may be empty.
    #[serde(default, deserialize_with = "null_default")]
    pub cidr: String,
}

/// JSON `null` (Juju prints it for "nothing") reads as the type's empty value.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A message for [`HookToolError::BadOutput`] causes that are not JSON syntax errors.
#[derive(Debug)]
struct Unexpected(String);

impl fmt::Display for Unexpected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unexpected {}

/// Juju's limit for one `juju-log` message (ops splits longer ones the same way).
const MAX_LOG_CHARS: usize = 131_071;

/// Every hook tool the charm uses, one typed method each.
#[derive(Debug, Clone, Default)]
pub struct HookTools<R: ToolRunner = ProcessRunner> {
    runner: R,
}

impl HookTools<ProcessRunner> {
    /// Hook tools found on this process's `PATH`.
    pub fn from_path() -> Self {
        HookTools::new(ProcessRunner::new())
    }
}

pub(super) fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl<R: ToolRunner> HookTools<R> {
    /// Hook tools run through `runner`.
    pub fn new(runner: R) -> Self {
        HookTools { runner }
    }

    /// The runner (e.g. to share it with the logging layer).
    pub fn runner(&self) -> &R {
        &self.runner
    }

    pub(super) fn run(
        &self,
        tool: &str,
        args: Vec<String>,
        stdin: Option<&[u8]>,
    ) -> Result<String, HookToolError> {
        self.runner.run(tool, &args, stdin)
    }

    /// Runs a `--format=json` tool and parses its output; empty output counts as `null`.
    pub(super) fn json<T: DeserializeOwned>(
        &self,
        tool: &str,
        args: Vec<String>,
    ) -> Result<T, HookToolError> {
        let out = self.runner.run(tool, &args, None)?;
        let text = if out.trim().is_empty() {
            "null"
        } else {
            out.as_str()
        };
        serde_json::from_str(text).map_err(|e| HookToolError::BadOutput {
            tool: tool.to_string(),
            args,
            cause: Box::new(e),
        })
    }

    pub(super) fn bad_output(tool: &str, args: Vec<String>, why: String) -> HookToolError {
        HookToolError::BadOutput {
            tool: tool.to_string(),
            args,
            cause: Box::new(Unexpected(why)),
        }
    }

    /// `config-get --format=json`: every option with a value or default.
    pub fn config_get(&self) -> Result<serde_json::Map<String, serde_json::Value>, HookToolError> {
        let m: Option<_> = self.json("config-get", args(&["--format=json"]))?;
        Ok(m.unwrap_or_default())
    }

    /// `relation-ids --format=json <endpoint>`: live relations on an endpoint.
    pub fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, HookToolError> {
        let v: Option<Vec<RelationId>> =
            self.json("relation-ids", args(&["--format=json", endpoint]))?;
        Ok(v.unwrap_or_default())
    }

    /// `relation-list --format=json -r <ep:id>`: remote units in the relation, sorted.
    pub fn relation_list(&self, relation: &RelationId) -> Result<Vec<UnitName>, HookToolError> {
        let r = relation.to_string();
        let v: Option<Vec<UnitName>> =
            self.json("relation-list", args(&["--format=json", "-r", &r]))?;
        Ok(v.unwrap_or_default())
    }

    /// `relation-list --format=json --app -r <ep:id>`: the remote application, if known.
    pub fn relation_list_app(
        &self,
        relation: &RelationId,
    ) -> Result<Option<AppName>, HookToolError> {
        let r = relation.to_string();
        let a = args(&["--format=json", "--app", "-r", &r]);
        let v: Option<String> = self.json("relation-list", a.clone())?;
        match v.filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|e: super::types::ParseError| {
                Self::bad_output("relation-list", a, e.to_string())
            }),
        }
    }

    /// `relation-get --format=json -r <ep:id> - <unit>`: a unit's bag (empty if unset).
    pub fn relation_get_unit(
        &self,
        relation: &RelationId,
        unit: &UnitName,
    ) -> Result<Databag, HookToolError> {
        let (r, u) = (relation.to_string(), unit.to_string());
        let v: Option<Databag> =
            self.json("relation-get", args(&["--format=json", "-r", &r, "-", &u]))?;
        Ok(v.unwrap_or_default())
    }

    /// `relation-get --format=json -r <ep:id> --app - <app>`: an application's bag.
    pub fn relation_get_app(
        &self,
        relation: &RelationId,
        app: &AppName,
    ) -> Result<Databag, HookToolError> {
        let r = relation.to_string();
        let v: Option<Databag> = self.json(
            "relation-get",
            args(&["--format=json", "-r", &r, "--app", "-", app.as_str()]),
        )?;
        Ok(v.unwrap_or_default())
    }

    /// `relation-set -r <ep:id> [--app] --file -` with the changes as JSON on stdin; an
    /// empty value deletes the key. No call is made when `changes` is empty.
    pub fn relation_set(
        &self,
        relation: &RelationId,
        app: bool,
        changes: &BTreeMap<String, String>,
    ) -> Result<(), HookToolError> {
        if changes.is_empty() {
            return Ok(());
        }
        let r = relation.to_string();
        let mut a = args(&["-r", &r]);
        if app {
            a.push("--app".into());
        }
        a.extend(args(&["--file", "-"]));
        let body = serde_json::to_vec(changes).map_err(|e| HookToolError::BadOutput {
            tool: "relation-set".into(),
            args: a.clone(),
            cause: Box::new(e),
        })?;
        self.run("relation-set", a, Some(&body)).map(drop)
    }

    /// `status-set [--application] <kind> [-- <message>]` (immediate, not rolled back).
    pub fn status_set(&self, status: &Status, application: bool) -> Result<(), HookToolError> {
        let mut a = Vec::new();
        if application {
            a.push("--application".to_string());
        }
        a.push(status.kind.as_str().to_string());
        if !status.message.is_empty() {
            // `--` so a message starting with '-' is not taken for an option.
            a.extend(args(&["--", &status.message]));
        }
        self.run("status-set", a, None).map(drop)
    }

    /// `application-version-set -- <version>` (immediate).
    pub fn application_version_set(&self, version: &str) -> Result<(), HookToolError> {
        self.run("application-version-set", args(&["--", version]), None)
            .map(drop)
    }

    /// `open-port <port>/<proto>` (applied at commit).
    pub fn open_port(&self, port: &Port) -> Result<(), HookToolError> {
        self.run("open-port", vec![port.to_string()], None)
            .map(drop)
    }

    /// `close-port <port>/<proto>` (applied at commit).
    pub fn close_port(&self, port: &Port) -> Result<(), HookToolError> {
        self.run("close-port", vec![port.to_string()], None)
            .map(drop)
    }

    /// `opened-ports --format=json`: this unit's open TCP/UDP ranges (`icmp` is skipped:
    /// the charm never opens it).
    pub fn opened_ports(&self) -> Result<Vec<PortRange>, HookToolError> {
        let a = args(&["--format=json"]);
        let v: Option<Vec<String>> = self.json("opened-ports", a.clone())?;
        v.unwrap_or_default()
            .iter()
            .filter(|p| !p.eq_ignore_ascii_case("icmp"))
            .map(|p| {
                p.parse::<PortRange>()
                    .map_err(|e| Self::bad_output("opened-ports", a.clone(), e.to_string()))
            })
            .collect()
    }

    /// `network-get --format=json [-r <ep:id>] <binding>`.
    pub fn network_get(
        &self,
        binding: &str,
        relation: Option<&RelationId>,
    ) -> Result<NetworkInfo, HookToolError> {
        let mut a = args(&["--format=json"]);
        if let Some(r) = relation {
            a.extend(["-r".to_string(), r.to_string()]);
        }
        a.push(binding.to_string());
        let v: Option<NetworkInfo> = self.json("network-get", a)?;
        Ok(v.unwrap_or_default())
    }

    /// The address other units should use for `binding` (see [`NetworkInfo::ingress_address`]).
    pub fn ingress_address(&self, binding: &str) -> Result<Option<String>, HookToolError> {
        Ok(self
            .network_get(binding, None)?
            .ingress_address()
            .map(str::to_string))
    }

    /// `unit-get --format=json private-address`.
    pub fn unit_get_private_address(&self) -> Result<String, HookToolError> {
        let a = args(&["--format=json", "private-address"]);
        let v: Option<String> = self.json("unit-get", a.clone())?;
        v.filter(|s| !s.is_empty()).ok_or_else(|| {
            Self::bad_output("unit-get", a, "expected an address, got nothing".into())
        })
    }

    /// `unit-get --format=json public-address`; `None` when Juju has none for the unit
    /// (`public address not found`).
    pub fn unit_get_public_address(&self) -> Result<Option<String>, HookToolError> {
        let a = args(&["--format=json", "public-address"]);
        match self.json::<Option<String>>("unit-get", a) {
            Ok(v) => Ok(v.filter(|s| !s.is_empty())),
            Err(HookToolError::Tool { stderr, .. })
                if stderr.contains("public address not found") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// `is-leader --format=json`.
    pub fn is_leader(&self) -> Result<bool, HookToolError> {
        self.json("is-leader", args(&["--format=json"]))
    }

    /// `goal-state --format=json`: the units of this application Juju means to run (also
    /// those not started yet, and dying ones), each with its goal status (`active`,
    /// `waiting`, `dying`...).
    pub fn goal_state_units(&self) -> Result<BTreeMap<String, String>, HookToolError> {
        #[derive(serde::Deserialize)]
        struct Entry {
            #[serde(default)]
            status: String,
        }
        #[derive(serde::Deserialize)]
        struct Goal {
            #[serde(default)]
            units: BTreeMap<String, Entry>,
        }
        let goal: Option<Goal> = self.json("goal-state", args(&["--format=json"]))?;
        Ok(goal
            .map(|g| g.units.into_iter().map(|(u, e)| (u, e.status)).collect())
            .unwrap_or_default())
    }

    /// `leader-get --format=json`: the application's leader settings (empty if none).
    pub fn leader_get(&self) -> Result<Databag, HookToolError> {
        let v: Option<Databag> = self.json("leader-get", args(&["--format=json"]))?;
        Ok(v.unwrap_or_default())
    }

    /// `leader-set key=value...` (leader only, immediate); `key=` deletes. Juju trims
    /// whitespace around keys and values. No call is made when `changes` is empty.
    pub fn leader_set(&self, changes: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        if changes.is_empty() {
            return Ok(());
        }
        for k in changes.keys() {
            if k.is_empty() || k.contains('=') || k.trim() != k {
                return Err(HookToolError::InvalidKey {
                    tool: "leader-set".into(),
                    key: k.clone(),
                    reason: "keys must be non-empty, contain no '=' and no surrounding whitespace"
                        .into(),
                });
            }
        }
        let a = changes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.run("leader-set", a, None).map(drop)
    }

    /// `state-get --format=json`: this unit's server-side state (empty if none).
    pub fn state_get(&self) -> Result<Databag, HookToolError> {
        let v: Option<Databag> = self.json("state-get", args(&["--format=json"]))?;
        Ok(v.unwrap_or_default())
    }

    /// `state-set --file -` with the values as JSON on stdin (applied at commit). No call
    /// is made when `values` is empty.
    pub fn state_set(&self, values: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        if values.is_empty() {
            return Ok(());
        }
        let a = args(&["--file", "-"]);
        let body = serde_json::to_vec(values).map_err(|e| HookToolError::BadOutput {
            tool: "state-set".into(),
            args: a.clone(),
            cause: Box::new(e),
        })?;
        self.run("state-set", a, Some(&body)).map(drop)
    }

    /// `state-delete <key>` (applied at commit; a missing key is a no-op).
    pub fn state_delete(&self, key: &str) -> Result<(), HookToolError> {
        self.run("state-delete", vec![key.to_string()], None)
            .map(drop)
    }

    /// `action-get --format=json`: the action's parameters (an empty object if none).
    pub fn action_get(&self) -> Result<serde_json::Value, HookToolError> {
        let v: serde_json::Value = self.json("action-get", args(&["--format=json"]))?;
        Ok(if v.is_null() {
            serde_json::Value::Object(Default::default())
        } else {
            v
        })
    }

    /// `action-set key=value...`; dotted keys nest. Keys are checked first with Juju's rules
    /// (lowercase alphanumeric segments with inner dashes; `stdout`, `stderr` and their
    /// `-encoding` forms reserved). No call is made when `results` is empty.
    pub fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), HookToolError> {
        if results.is_empty() {
            return Ok(());
        }
        for k in results.keys() {
            check_action_key(k)?;
        }
        let a = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.run("action-set", a, None).map(drop)
    }

    /// `action-fail -- <message>`: marks the action failed; the run should still exit 0.
    pub fn action_fail(&self, message: &str) -> Result<(), HookToolError> {
        self.run("action-fail", args(&["--", message]), None)
            .map(drop)
    }

    /// `action-log -- <message>`: streamed to the `juju run` client at once.
    pub fn action_log(&self, message: &str) -> Result<(), HookToolError> {
        self.run("action-log", args(&["--", message]), None)
            .map(drop)
    }

    /// `juju-log --log-level <LEVEL> -- <message>`, split into several calls above
    /// Juju's 131071-character limit.
    pub fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), HookToolError> {
        for chunk in log_chunks(message) {
            self.run(
                "juju-log",
                args(&["--log-level", level.as_str(), "--", chunk]),
                None,
            )?;
        }
        Ok(())
    }
}

/// Splits `message` into pieces of at most [`MAX_LOG_CHARS`] characters (at least one).
fn log_chunks(message: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = message;
    loop {
        match rest.char_indices().nth(MAX_LOG_CHARS) {
            Some((i, _)) => {
                out.push(&rest[..i]);
                rest = &rest[i..];
            }
            None => {
                out.push(rest);
                return out;
            }
        }
    }
}

/// Juju's `action-set` key rule, checked before the call so the error names the key.
fn check_action_key(key: &str) -> Result<(), HookToolError> {
    const RESERVED: &[&str] = &["stdout", "stdout-encoding", "stderr", "stderr-encoding"];
    let invalid = |reason: String| HookToolError::InvalidKey {
        tool: "action-set".into(),
        key: key.to_string(),
        reason,
    };
    for seg in key.split('.') {
        let b = seg.as_bytes();
        let ok = !b.is_empty()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-';
        if !ok {
            return Err(invalid(format!(
                "segment {seg:?} must start and end with a lowercase letter or digit and contain only lowercase letters, digits and '-' (segments are separated by '.')"
            )));
        }
    }
    let top = key.split('.').next().unwrap_or(key);
    if RESERVED.contains(&top) {
        return Err(invalid(format!(
            "{top:?} is reserved by Juju for the action's output; choose another key"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_maps_known_stderr() {
        let a = args(&["-r", "db:9"]);
        assert!(matches!(
            classify(
                "relation-get",
                &a,
                Some(2),
                "ERROR invalid value \"db:9\" for option -r: relation not found\n"
            ),
            HookToolError::RelationNotFound { .. }
        ));
        // The same text from a tool without -r is not a relation error.
        assert!(matches!(
            classify("config-get", &a, Some(1), "relation not found"),
            HookToolError::Tool { .. }
        ));
        assert!(matches!(
            classify(
                "status-set",
                &args(&["--application", "active"]),
                Some(1),
                "ERROR this unit is not the leader\n"
            ),
            HookToolError::NotLeader { .. }
        ));
        assert!(matches!(
            classify(
                "relation-set",
                &args(&["-r", "db:1", "--app", "--file", "-"]),
                Some(1),
                "ERROR cannot write relation settings\n"
            ),
            HookToolError::NotLeader { .. }
        ));
        assert!(matches!(
            classify("relation-get", &a, Some(1), "ERROR permission denied\n"),
            HookToolError::PermissionDenied { .. }
        ));
        match classify("config-get", &[], None, "boom\n") {
            HookToolError::Tool {
                code: None, stderr, ..
            } => assert_eq!(stderr, "boom\n"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn errors_hide_argv_values_of_data_tools() {
        let e = classify(
            "leader-set",
            &args(&["password=hunter2"]),
            Some(1),
            "ERROR x",
        );
        let s = e.to_string();
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("leader-set password=***"), "{s}");
        let e = classify(
            "juju-log",
            &args(&["--log-level", "INFO", "--", "a=b"]),
            Some(1),
            "x",
        );
        assert!(e.to_string().contains("-- a=b"));
    }

    #[test]
    fn action_keys() {
        for good in ["a", "out.size", "foo-bar.b2", "0"] {
            assert!(check_action_key(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Foo",
            "a..b",
            "-a",
            "a-",
            "a_b",
            "stdout",
            "stderr-encoding",
            "stdout.x",
            "a b",
        ] {
            assert!(check_action_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_chunks_split_on_char_boundaries() {
        assert_eq!(log_chunks(""), vec![""]);
        let long = "é".repeat(MAX_LOG_CHARS + 5);
        let parts = log_chunks(&long);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].chars().count(), MAX_LOG_CHARS);
        assert_eq!(parts[1].chars().count(), 5);
    }
}
