//! A unit: its statuses, ports, state, error and what its agent has already run.
use super::{now_secs, Life};
use crate::ports::PortRange;
use crate::resolver::Hook;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A status value with its message and time.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusInfo {
    /// Status word.
    pub status: String,
    /// Message (may be empty).
    pub message: String,
    /// Seconds since the epoch.
    pub since: u64,
}

impl StatusInfo {
    /// A status stamped now.
    pub fn now(status: &str, message: &str) -> StatusInfo {
        StatusInfo {
            status: status.into(),
            message: message.into(),
            since: now_secs(),
        }
    }
}

/// What a unit's agent has already told the charm about one relation.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RelSeen {
    /// relation-created has run.
    pub created: bool,
    /// Remote members known (joined) -> bag version last seen.
    pub members: BTreeMap<String, u64>,
    /// A relation-changed is owed to this unit right after its joined.
    pub pending_changed: Option<String>,
    /// Remote application bag version last seen.
    pub app_version: u64,
}

/// What a unit's agent has already run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Seen {
    /// install ran.
    pub installed: bool,
    /// start ran.
    pub started: bool,
    /// Config hash of the last config-changed.
    pub config_hash: Option<u64>,
    /// leader-elected ran while this unit is leader.
    pub leader: bool,
    /// Leader settings version last seen (None: never).
    pub leader_settings_version: Option<u64>,
    /// Charm revision the unit runs.
    pub charm_revision: u32,
    /// Per relation id.
    pub relations: BTreeMap<u32, RelSeen>,
    /// stop ran.
    pub stopped: bool,
    /// Secret id -> the latest revision a `secret-changed` told this consumer about.
    #[serde(default)]
    pub secret_revisions: BTreeMap<String, u32>,
    /// `<id>/<revision>` of obsolete revisions `secret-remove` told the owner about.
    #[serde(default)]
    pub secret_removes: BTreeSet<String>,
    /// Storage ids whose `<name>-storage-attached` ran.
    #[serde(default)]
    pub storage_attached: BTreeSet<String>,
    /// Storage ids whose `<name>-storage-detaching` ran.
    #[serde(default)]
    pub storage_detached: BTreeSet<String>,
}

/// A failed hook, as stored while the unit is in error.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HookError {
    /// The hook that failed (re-run by `resolve`).
    pub hook: Hook,
    /// `hook failed: "<name>"`.
    pub message: String,
    /// When (model clock, ms) the agent retries it by itself; None until the scheduler
    /// sets it, and while `automatically-retry-hooks` is off.
    #[serde(default)]
    pub retry_at_ms: Option<u64>,
}

/// Which status a status-log entry is about (`juju show-status-log`'s Type column).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StatusKind {
    /// The workload status (status-set, and the ones Juju sets around hooks).
    #[default]
    Workload,
    /// The unit agent's status (`juju-unit`: allocating, executing, idle, error).
    JujuUnit,
}

impl StatusKind {
    /// The name Juju prints.
    pub fn name(self) -> &'static str {
        match self {
            StatusKind::Workload => "workload",
            StatusKind::JujuUnit => "juju-unit",
        }
    }
}

/// One entry of a unit's status log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusEntry {
    /// Workload or agent (older models stored workload entries only).
    #[serde(default)]
    pub kind: StatusKind,
    /// The status, its message and time.
    #[serde(flatten)]
    pub info: StatusInfo,
}

/// One opened port range.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenedPort {
    /// The range.
    pub range: PortRange,
    /// Endpoints it is opened for (None: all).
    pub endpoints: Option<Vec<String>>,
}

/// Status-log entries kept per unit (`show-status-log` shows the last 20 by default).
pub const STATUS_HISTORY: usize = 200;

/// A unit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Unit {
    /// `app/N`.
    pub name: String,
    /// Application name.
    pub app: String,
    /// Machine id.
    pub machine: u32,
    /// Alive or dying.
    pub life: Life,
    /// Workload status.
    pub workload: StatusInfo,
    /// Whether the charm ever called status-set.
    pub status_set_by_charm: bool,
    /// Last workload and agent statuses (oldest first, bounded): the status log.
    pub history: Vec<StatusEntry>,
    /// Agent status (allocating, idle, executing, error).
    pub agent: StatusInfo,
    /// Set while a hook is in error.
    pub error: Option<HookError>,
    /// A hook to re-run first (`resolve`, or the agent's own retry).
    pub retry: Option<Hook>,
    /// Consecutive failed runs of the hook in error (the retry backoff grows with it).
    #[serde(default)]
    pub failures: u32,
    /// Opened ports.
    pub ports: BTreeSet<OpenedPort>,
    /// state-set data.
    pub state: BTreeMap<String, String>,
    /// What the agent has already run.
    pub seen: Seen,
    /// The principal unit of a subordinate unit (on whose machine it runs).
    #[serde(default)]
    pub principal: Option<String>,
    /// Attached storage instances by id.
    #[serde(default)]
    pub storage: BTreeMap<String, super::StorageInstance>,
}

impl Unit {
    /// A unit as `add-unit` makes it: alive, waiting for its machine, nothing run yet
    /// (its charm at `revision`).
    pub fn new(name: &str, app: &str, machine: u32, revision: u32) -> Unit {
        let workload = StatusInfo::now("waiting", "waiting for machine");
        let agent = StatusInfo::now("allocating", "");
        let history = vec![
            StatusEntry {
                kind: StatusKind::Workload,
                info: workload.clone(),
            },
            StatusEntry {
                kind: StatusKind::JujuUnit,
                info: agent.clone(),
            },
        ];
        Unit {
            name: name.into(),
            app: app.into(),
            machine,
            life: Life::Alive,
            workload,
            status_set_by_charm: false,
            history,
            agent,
            error: None,
            retry: None,
            failures: 0,
            ports: BTreeSet::new(),
            state: BTreeMap::new(),
            seen: Seen {
                charm_revision: revision,
                ..Seen::default()
            },
            principal: None,
            storage: BTreeMap::new(),
        }
    }

    /// Record a new workload status (logged when it differs from the current one; the log
    /// is kept bounded).
    pub fn set_workload(&mut self, st: StatusInfo) {
        if !same(&self.workload, &st) {
            self.log_status(StatusKind::Workload, &st);
        }
        self.workload = st;
    }

    /// Record a new agent status (logged when it differs from the current one).
    pub fn set_agent(&mut self, st: StatusInfo) {
        if !same(&self.agent, &st) {
            self.log_status(StatusKind::JujuUnit, &st);
        }
        self.agent = st;
    }

    fn log_status(&mut self, kind: StatusKind, st: &StatusInfo) {
        self.history.push(StatusEntry {
            kind,
            info: st.clone(),
        });
        if self.history.len() > STATUS_HISTORY {
            self.history.remove(0);
        }
    }

    /// `unit-app-0`: the unit's tag, used for its directory.
    pub fn tag(&self) -> String {
        unit_tag(&self.name)
    }
}

/// Same status and message (the time aside).
fn same(a: &StatusInfo, b: &StatusInfo) -> bool {
    a.status == b.status && a.message == b.message
}

/// `app/0` -> `unit-app-0`.
pub fn unit_tag(unit: &str) -> String {
    format!("unit-{}", unit.replace('/', "-"))
}

/// `app/0` -> `app`.
pub fn app_of(unit: &str) -> &str {
    unit.split('/').next().unwrap_or(unit)
}

/// The number part of `app/N`.
pub fn unit_number(unit: &str) -> u32 {
    unit.rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
