//! The plan as a value: every effect one hook will have, in order, decided before any runs.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::Secret;
use crate::juju::{Databag, Port, RelationId, Status, StatusKind};
use crate::probe::Scheme;
use crate::tls::client::ClientIdentity;
use crate::workload::files::{FileSpec, Owner};
use crate::workload::legacy::ContainerName;
use crate::workload::service::ServiceCall;

use super::advertise::Advertised;
use super::local::LocalState;
use super::notes::LogLine;

/// File contents in a plan. `Debug` shows the size and a digest only: keys, htpasswd
/// and config.yml (with the http secret) are contents too.
#[derive(Clone, PartialEq, Eq)]
pub struct Contents(pub Vec<u8>);

impl fmt::Debug for Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sha = super::local::sha256(&self.0);
        write!(f, "Contents({} bytes, sha256 {})", self.0.len(), &sha[..12])
    }
}

/// One change to the machine's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStep {
    /// Create a directory (missing parents 0755) or fix its mode and owner.
    EnsureDir {
        /// The directory.
        path: PathBuf,
        /// Its mode.
        mode: u32,
        /// Its owner (`None`: leave as is).
        owner: Option<Owner>,
    },
    /// Give a whole tree this owner (registry data left by the Python charm).
    ChownTree {
        /// The root.
        path: PathBuf,
        /// The new owner.
        owner: Owner,
    },
    /// Make a file hold exactly these contents with this mode and owner.
    Write {
        /// The file.
        path: PathBuf,
        /// What it holds.
        contents: Contents,
        /// Mode and owner.
        spec: FileSpec,
    },
    /// Remove a file.
    Remove {
        /// The file.
        path: PathBuf,
    },
}

impl FileStep {
    /// The path the step changes.
    pub fn path(&self) -> &Path {
        match self {
            FileStep::EnsureDir { path, .. }
            | FileStep::ChownTree { path, .. }
            | FileStep::Write { path, .. }
            | FileStep::Remove { path } => path,
        }
    }
}

/// Start, restart or stop the registry service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStep {
    /// What to do.
    pub call: ServiceCall,
    /// The registry binary.
    pub binary: PathBuf,
    /// Its environment (HTTP_PROXY, HTTPS_PROXY).
    pub env: Vec<(String, String)>,
}

/// Start, restart or stop the metrics proxy (`metrics_proxy`): the charm's own program
/// serving the registry's `/metrics`, and nothing else of its debug server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsStep {
    /// What to do.
    pub call: ServiceCall,
    /// The charm's program (its dispatch).
    pub program: PathBuf,
    /// Its arguments (`metrics-proxy --listen ...`); empty to stop.
    pub args: Vec<String>,
}

/// Keys to set (`""` deletes) in one of our bags: only what differs from the bag as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationWrite {
    /// The relation.
    pub relation: RelationId,
    /// Our application bag (leader only) rather than our unit bag.
    pub app: bool,
    /// The changes.
    pub data: Databag,
}

/// One effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Stop and remove the Python charm's registry container. Always the first step of
    /// its plan: if it fails, the steps after it are skipped, the plan's state is saved
    /// remembering the container (every hook looks again) and the unit blocks.
    RetireLegacy(ContainerName),
    /// Set the unit status now (before a long step), not at the report.
    Status(Status),
    /// Install the registry package.
    Install,
    /// `application-version-set`.
    AppVersion(String),
    /// A file change.
    File(FileStep),
    /// Save what the unit remembers now: a later step overwrites something only this
    /// record lets the charm give back, so an interrupted hook must not lose it.
    SaveState(Box<LocalState>),
    /// Manage the registry service.
    Service(ServiceStep),
    /// Manage the metrics proxy.
    Metrics(MetricsStep),
    /// `close-port`.
    ClosePort(Port),
    /// `open-port`.
    OpenPort(Port),
    /// `relation-set`.
    Relation(RelationWrite),
    /// A change to the charm's Juju secret (see `secret`).
    Secret(super::secret::SecretStep),
    /// A log line.
    Log(LogLine),
}

/// How long the probe may wait for the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// It was running already: a short wait.
    Running,
    /// It was just (re)started: as long as a start may take.
    Started,
}

/// Ask the registry `GET /v2/` after the steps: an answer contributes `ready`, silence
/// contributes `waiting` with the reason, and a registry that exited instead of answering
/// (or whose store fails the storage check) has refused its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Where (loopback and registry-port).
    pub addr: SocketAddr,
    /// How.
    pub scheme: Scheme,
    /// How long.
    pub wait: Wait,
    /// The status when it answers.
    pub ready: Status,
    /// After a (re)start: ask the store too.
    pub storage: Option<StorageCheck>,
    /// Which failures mean the registry refused the config it was started with.
    pub refuse: Refuse,
    /// This unit's client certificate, presented when the registry demands them.
    pub client: Option<ClientIdentity>,
}

impl Probe {
    /// The same probe, presenting `client` (this unit's client certificate).
    pub fn with_client(self, client: Option<ClientIdentity>) -> Probe {
        Probe { client, ..self }
    }
}

/// Which failures after a (re)start count as the registry refusing its config (and so
/// roll back), rather than a registry that is slow or whose world changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refuse {
    /// None: it is running, or it runs the very config it last served with (what broke
    /// is outside it, and there is nothing else to go back to): wait, as always.
    Never,
    /// Exiting, or failing the storage check; silence is waiting (no other config served
    /// before, or this is the way back to one).
    Exit,
    /// Also not answering within the wait: a new config, with a last good one to go back to.
    ExitOrSilence,
}

/// `GET /v2/_catalog?n=1` once the registry answers: a store that refuses the registry
/// (a missing bucket, wrong keys) fails it with a 5xx while `/v2/` still says 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageCheck {
    /// Basic-auth credentials, when basic auth is on (`Debug` hides the password).
    pub basic: Option<(String, Secret)>,
}

/// What the registry runs once the steps are applied: when it answers, it becomes the
/// last good config the unit goes back to should a later one be refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The config.yml (`Debug` shows a digest only).
    pub config: Contents,
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// The fingerprint of what it reads at start.
    pub running: String,
    /// The registry binary.
    pub binary: PathBuf,
    /// sha256 of each option's value (to name what changed when a later config is refused).
    pub options: BTreeMap<String, String>,
    /// The files it names for the registry to read (see [`super::registry::files_read`]).
    pub files: Vec<PathBuf>,
    /// The port it listens on.
    pub port: u16,
    /// Whether it serves TLS.
    pub tls: bool,
    /// Whether it demands client certificates (the probe, which has none, then counts the
    /// refusal of its handshake as an answer).
    pub client_certs: bool,
}

/// What follows the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Report the status.
    Report,
    /// The steps changed the machine in ways only a new read shows (a package was
    /// installed, a container removed): read the view again and plan once more.
    ReadAgain,
}

/// What the unit serves once the plan is applied (actions and the report use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serving {
    /// Where clients connect.
    pub advertised: Advertised,
    /// TLS: `None` off; `Some(ca)` on, with the CA clients are given, if any.
    pub tls: Option<Option<String>>,
    /// The registry binary.
    pub binary: PathBuf,
    /// This unit's client certificate, while the registry demands client certificates.
    pub client: Option<ClientIdentity>,
}

/// Everything one hook does. `Debug` hides file contents but not relation data: never
/// log a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Effects, in order.
    pub steps: Vec<Step>,
    /// Status contributions; the report sets the one of highest priority.
    pub statuses: Vec<Status>,
    /// Asked after the steps.
    pub probe: Option<Probe>,
    /// What the unit remembers afterwards (saved after the steps); `None` when the plan
    /// removes the record itself.
    pub local: Option<LocalState>,
    /// What follows.
    pub then: Then,
    /// What the unit serves afterwards, when it serves.
    pub serving: Option<Serving>,
    /// What the registry runs afterwards, to keep as the last good config once it answers.
    pub candidate: Option<Candidate>,
}

impl Plan {
    /// The file steps, in order.
    pub fn files(&self) -> Vec<&FileStep> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::File(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// The relation writes, in order.
    pub fn relation_writes(&self) -> Vec<&RelationWrite> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Relation(w) => Some(w),
                _ => None,
            })
            .collect()
    }

    /// The service step, if any.
    pub fn service(&self) -> Option<&ServiceStep> {
        self.steps.iter().find_map(|s| match s {
            Step::Service(x) => Some(x),
            _ => None,
        })
    }

    /// The log lines, in order.
    pub fn logs(&self) -> Vec<&LogLine> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Log(l) => Some(l),
                _ => None,
            })
            .collect()
    }

    /// The status the report will choose when the probe (if any) sees the registry answer.
    pub fn expected_status(&self) -> Option<Status> {
        let mut all = self.statuses.clone();
        all.extend(self.probe.as_ref().map(|p| p.ready.clone()));
        choose(&all).cloned()
    }

    /// True when applying the plan changes nothing: no step but log lines, the same
    /// status as `before` records (the probe answering), and nothing new to remember.
    pub fn changes_nothing(&self, before: &LocalState) -> bool {
        let only_logs = self.steps.iter().all(|s| matches!(s, Step::Log(_)));
        let status = self.expected_status();
        let same_status = status.is_none() || status == before.status;
        only_logs && same_status && self.local.as_ref() == Some(before)
    }
}

/// The contribution of highest priority (blocked > maintenance > waiting > active, like
/// ops' collect-status); the first one added wins a tie.
pub fn choose(statuses: &[Status]) -> Option<&Status> {
    let rank = |s: &Status| match s.kind {
        StatusKind::Blocked => 4,
        StatusKind::Maintenance => 3,
        StatusKind::Waiting => 2,
        StatusKind::Active => 1,
    };
    // max_by_key keeps the last of equal keys: walk backwards so the first added wins.
    statuses.iter().rev().max_by_key(|s| rank(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_priority_and_ties() {
        let w1 = Status::waiting("one");
        let w2 = Status::waiting("two");
        let b = Status::blocked("b");
        let a = Status::active("a");
        assert_eq!(choose(&[a.clone(), w1.clone(), w2.clone()]), Some(&w1));
        assert_eq!(choose(&[w1.clone(), b.clone(), a.clone()]), Some(&b));
        assert_eq!(
            choose(&[Status::maintenance("m"), w1.clone()]).map(|s| s.kind),
            Some(StatusKind::Maintenance)
        );
        assert_eq!(choose(&[]), None);
    }

    #[test]
    fn contents_debug_hides_the_bytes() {
        let text = format!("{:?}", Contents(b"-----BEGIN PRIVATE KEY-----".to_vec()));
        assert!(!text.contains("PRIVATE"), "{text}");
        assert!(text.contains("27 bytes"), "{text}");
    }
}
