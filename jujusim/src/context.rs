//! Context files: what one hook/action/exec execution sees, and what it buffered.
//!
//! # Format
//! One file per execution, `<unit dir>/contexts/<context id, '/' -> '-'>.json`, JSON lines:
//! ```text
//! {"context_id": "app/0-install-1a2b", "unit": "app/0", ...}   <- line 1: Snapshot
//! {"RelationSet": {"relation": 3, "app": false, "data": {"k": "v"}}}   <- later lines: Change
//! ```
//! Hook tools append changes (O_APPEND, one write per line); the engine reads them all
//! when the process exits and commits them only on exit 0.
use crate::charm::StorageMeta;
use crate::machines::Machine;
use crate::model::{OpenedPort, SecretChange, StorageInstance};
use crate::resolver::Hook;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What kind of execution a context is for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ContextKind {
    /// A hook.
    Hook(Hook),
    /// An action task.
    Action {
        /// Task id.
        id: u32,
        /// Action name.
        name: String,
        /// Params with defaults.
        params: Value,
    },
    /// `jujusim exec`.
    Exec,
}

/// One relation as the unit sees it in this execution.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RelView {
    /// Relation id.
    pub id: u32,
    /// Local endpoint.
    pub endpoint: String,
    /// Remote endpoint.
    pub remote_endpoint: String,
    /// Remote application (own app for peers).
    pub remote_app: String,
    /// Peer relation.
    pub peer: bool,
    /// Remote members as known to the unit (relation-list).
    pub members: Vec<String>,
    /// Listed by relation-ids.
    pub listed: bool,
    /// Unit bags (own and remote, including departed units).
    pub units: BTreeMap<String, BTreeMap<String, String>>,
    /// App bags (own and remote).
    pub apps: BTreeMap<String, BTreeMap<String, String>>,
}

/// Everything a hook tool can read, frozen when the execution starts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// JUJU_CONTEXT_ID.
    pub context_id: String,
    /// Model directory (immediate tools edit model.json there).
    pub model_dir: PathBuf,
    /// Model name.
    pub model_name: String,
    /// Model uuid.
    pub model_uuid: String,
    /// Unit name.
    pub unit: String,
    /// Application name.
    pub app: String,
    /// Hook, action or exec.
    pub kind: ContextKind,
    /// Leader at start.
    pub leader: bool,
    /// Effective config (Null for unset options).
    pub config: BTreeMap<String, Value>,
    /// Leader settings.
    pub leader_settings: BTreeMap<String, String>,
    /// Relations by id.
    pub relations: BTreeMap<u32, RelView>,
    /// Committed unit state.
    pub state: BTreeMap<String, String>,
    /// Committed opened ports.
    pub ports: Vec<OpenedPort>,
    /// The unit's machine.
    pub machine: Machine,
    /// Names network-get accepts.
    pub bindings: Vec<String>,
    /// goal-state answer.
    pub goal_state: Value,
    /// JUJU_PRINCIPAL_UNIT: the principal of a subordinate unit.
    #[serde(default)]
    pub principal: Option<String>,
    /// The unit's storage instances by id.
    #[serde(default)]
    pub storage: BTreeMap<String, StorageInstance>,
    /// The charm's stores (storage-add checks names and counts).
    #[serde(default)]
    pub storage_meta: BTreeMap<String, StorageMeta>,
}

/// A buffered (or context-local) change made by a hook tool.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Change {
    /// relation-set.
    RelationSet {
        /// Relation id.
        relation: u32,
        /// --app.
        app: bool,
        /// Keys (empty value deletes).
        data: BTreeMap<String, String>,
    },
    /// state-set.
    StateSet(BTreeMap<String, String>),
    /// state-delete.
    StateDelete(String),
    /// open-port.
    OpenPort(OpenedPort),
    /// close-port.
    ClosePort(OpenedPort),
    /// action-set (dotted key path, value).
    ActionSet(Vec<String>, String),
    /// action-fail.
    ActionFail(String),
    /// leader-set (already applied to the model; kept so leader-get sees it).
    LeaderSet(BTreeMap<String, String>),
    /// is-leader answered false once: keep answering false.
    LostLeadership,
    /// secret-add, -set, -remove, -grant, -revoke.
    Secret(SecretChange),
    /// storage-add: store name -> instances to add.
    StorageAdd(BTreeMap<String, u32>),
}

/// Errors reading a context file.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// No such context.
    #[error("bad request: wrong context ID; got {0:?}")]
    WrongId(String),
    /// I/O.
    #[error("context file {path}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A line that is not what jujusim wrote.
    #[error("context file {path} is corrupt")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A snapshot or change could not be encoded (a bug: they are plain data).
    #[error("cannot encode a line of context file {path}")]
    Encode {
        /// File.
        path: PathBuf,
        /// The encoder's error.
        source: serde_json::Error,
    },
}

/// Path of the context file for `context_id` in `unit_dir`.
pub fn context_path(unit_dir: &Path, context_id: &str) -> PathBuf {
    let safe: String = context_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    unit_dir.join("contexts").join(format!("{safe}.json"))
}

/// Create a context file holding `snap`.
pub fn write_snapshot(path: &Path, snap: &Snapshot) -> Result<(), ContextError> {
    let io = |source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut line = serde_json::to_string(snap).map_err(|source| ContextError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    line.push('\n');
    std::fs::write(path, line).map_err(io)
}

/// Append one change (one write, so concurrent tools never interleave).
pub fn append_change(path: &Path, change: &Change) -> Result<(), ContextError> {
    let io = |source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut line = serde_json::to_string(change).map_err(|source| ContextError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io)?;
    f.write_all(line.as_bytes()).map_err(io)
}

/// Read a context file: the snapshot and the changes so far.
pub fn read_context(
    path: &Path,
    context_id: &str,
) -> Result<(Snapshot, Vec<Change>), ContextError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ContextError::WrongId(context_id.to_string()))
        }
        Err(source) => {
            return Err(ContextError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let corrupt = |source| ContextError::Corrupt {
        path: path.to_path_buf(),
        source,
    };
    let mut lines = text.lines();
    let snap: Snapshot = serde_json::from_str(lines.next().unwrap_or("")).map_err(corrupt)?;
    if snap.context_id != context_id {
        return Err(ContextError::WrongId(context_id.to_string()));
    }
    let changes = lines
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<Vec<Change>, _>>()
        .map_err(corrupt)?;
    Ok((snap, changes))
}

/// The buffered changes folded into what the engine commits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pending {
    /// Unit bag changes by relation id.
    pub unit_bags: BTreeMap<u32, BTreeMap<String, String>>,
    /// App bag changes by relation id.
    pub app_bags: BTreeMap<u32, BTreeMap<String, String>>,
    /// State keys (None: delete).
    pub state: BTreeMap<String, Option<String>>,
    /// Port open (true) / close (false) requests in order.
    pub ports: Vec<(bool, OpenedPort)>,
    /// action-set results (nested).
    pub results: serde_json::Map<String, Value>,
    /// action-fail message.
    pub failed: Option<String>,
    /// leader-set during this execution.
    pub leader_settings: BTreeMap<String, String>,
    /// is-leader said false.
    pub lost_leadership: bool,
    /// Secret writes in order.
    pub secrets: Vec<SecretChange>,
    /// storage-add requests: store name -> instances to add.
    pub storage_add: BTreeMap<String, u32>,
}

impl Pending {
    /// Fold the changes in order.
    pub fn fold(changes: &[Change]) -> Pending {
        let mut p = Pending::default();
        for c in changes {
            match c {
                Change::RelationSet {
                    relation,
                    app,
                    data,
                } => {
                    let target = if *app {
                        &mut p.app_bags
                    } else {
                        &mut p.unit_bags
                    };
                    target
                        .entry(*relation)
                        .or_default()
                        .extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                Change::StateSet(data) => p
                    .state
                    .extend(data.iter().map(|(k, v)| (k.clone(), Some(v.clone())))),
                Change::StateDelete(k) => {
                    p.state.insert(k.clone(), None);
                }
                Change::OpenPort(port) => p.ports.push((true, port.clone())),
                Change::ClosePort(port) => p.ports.push((false, port.clone())),
                Change::ActionSet(path, value) => insert_path(&mut p.results, path, value),
                Change::ActionFail(m) => p.failed = Some(m.clone()),
                Change::LeaderSet(data) => p
                    .leader_settings
                    .extend(data.iter().map(|(k, v)| (k.clone(), v.clone()))),
                Change::LostLeadership => p.lost_leadership = true,
                Change::Secret(s) => p.secrets.push(s.clone()),
                Change::StorageAdd(add) => {
                    for (name, n) in add {
                        *p.storage_add.entry(name.clone()).or_default() += n;
                    }
                }
            }
        }
        p
    }
}

fn insert_path(map: &mut serde_json::Map<String, Value>, path: &[String], value: &str) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), Value::String(value.to_string()));
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Default::default()));
            if !entry.is_object() {
                *entry = Value::Object(Default::default());
            }
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Apply bag changes over a bag (empty deletes).
pub fn overlay(
    base: &BTreeMap<String, String>,
    changes: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut out = base.clone();
    for (k, v) in changes.into_iter().flatten() {
        if v.is_empty() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}
