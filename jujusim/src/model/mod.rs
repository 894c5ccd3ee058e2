//! Model state: one `model.json` in the model directory, written in place under an
//! exclusive flock on `model.lock` and read under a shared one.
//!
//! # Layout
//! ```text
//! <model>/model.json            this file's `Model`, serde JSON
//! <model>/model.lock            flock: exclusive to write model.json, shared to read it
//! <model>/ops.lock              flock held by a CLI operation for its whole edit+settle
//! <model>/debug-log.txt         the model log (`jujusim debug-log`)
//! <model>/tools/<tool>          symlinks to the jujusim binary (hook tools, multicall)
//! <model>/charms/<app>/<rev>/   unpacked charm of each application revision
//! <model>/machines/<N>/         per-machine files (Machines impl)
//! <model>/units/unit-<app>-<n>/ charm/ (the unit's charm dir), agent.socket (marker),
//!                               contexts/<id>.json (context files), unit.log
//! ```
mod app;
mod dir;
mod relation;
mod secret;
mod storage;
mod subordinate;
mod time;
mod unit;

pub use app::{fnv1a, Application, Bag};
pub use dir::{LockGuard, ModelDir, ModelError};
pub use relation::{RelEndpoint, Relation};
pub use secret::{
    apply_secret_changes, Consumer, Grant, Revision, RotatePolicy, Secret, SecretChange,
    SecretFields, SecretOwner, SECRET_RETRY_SECS,
};
pub use storage::{StorageInstance, STORAGE_DIR};
pub use time::{
    civil, go_time, iso_time, juju_time, now_secs, parse_go_duration, parse_rfc3339, rfc3339,
};
pub use unit::{
    app_of, unit_number, unit_tag, HookError, OpenedPort, RelSeen, Seen, StatusEntry, StatusInfo,
    StatusKind, Unit, STATUS_HISTORY,
};

use crate::machines::{Machine, ModelNet};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use time::hms;

/// Which `Machines` implementation the model uses.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MachinesKind {
    /// Real namespaces (root).
    Linux,
    /// The host itself (no isolation).
    Host,
}

impl std::fmt::Display for MachinesKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MachinesKind::Linux => "linux",
            MachinesKind::Host => "host",
        })
    }
}

/// Life of a unit or relation.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Life {
    /// Normal.
    #[default]
    Alive,
    /// Being removed.
    Dying,
}

/// Status of an action task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Task {
    /// Task id.
    pub id: u32,
    /// Operation id.
    pub operation: u32,
    /// Unit.
    pub unit: String,
    /// Action name.
    pub action: String,
    /// Parameters (with defaults).
    pub params: Value,
    /// pending, running, completed, failed.
    pub status: String,
    /// Failure message.
    pub message: String,
    /// Results (action-set + return-code, stdout, stderr).
    pub results: Value,
    /// action-log lines: `<seconds since the epoch> <message>` (older models: ISO time).
    pub log: Vec<String>,
    /// Enqueued/started/completed times.
    pub timing: [u64; 3],
}

/// Model config (`jujusim model-config`): the keys of Juju's that jujusim acts on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModelConfig {
    /// `automatically-retry-hooks`: the agent retries a failed hook by itself, with a
    /// backoff (docs/juju.md#commit). Juju's default is true.
    #[serde(default = "yes")]
    pub automatically_retry_hooks: bool,
}

fn yes() -> bool {
    true
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            automatically_retry_hooks: true,
        }
    }
}

/// The whole model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Model {
    /// Model name.
    pub name: String,
    /// Model uuid.
    pub uuid: String,
    /// Network identity.
    pub net: ModelNet,
    /// Which Machines implementation.
    pub machines_kind: MachinesKind,
    /// Next machine id.
    pub next_machine: u32,
    /// Next relation id.
    pub next_relation: u32,
    /// Next operation/task id (shared counter, like Juju).
    pub next_task: u32,
    /// Machines by id.
    pub machines: BTreeMap<u32, Machine>,
    /// Applications by name.
    pub applications: BTreeMap<String, Application>,
    /// Units by name.
    pub units: BTreeMap<String, Unit>,
    /// Relations by id.
    pub relations: BTreeMap<u32, Relation>,
    /// Action tasks by id.
    pub tasks: BTreeMap<u32, Task>,
    /// Charm secrets by id.
    #[serde(default)]
    pub secrets: BTreeMap<String, Secret>,
    /// Next storage instance number (model-wide, as Juju numbers them).
    #[serde(default)]
    pub next_storage: u32,
    /// The simulated clock, in ms: each hook or action advances it one step, and a model
    /// with nothing else due moves it on to the next lease lapse or hook retry
    /// (`sched::timers`).
    #[serde(default)]
    pub clock_ms: u64,
    /// Model config.
    #[serde(default)]
    pub config: ModelConfig,
}

impl Model {
    /// A model with nothing in it yet.
    pub fn new(name: String, uuid: String, net: ModelNet, machines_kind: MachinesKind) -> Model {
        Model {
            name,
            uuid,
            net,
            machines_kind,
            next_machine: 0,
            next_relation: 0,
            next_task: 1,
            machines: BTreeMap::new(),
            applications: BTreeMap::new(),
            units: BTreeMap::new(),
            relations: BTreeMap::new(),
            tasks: BTreeMap::new(),
            secrets: BTreeMap::new(),
            next_storage: 0,
            clock_ms: 0,
            config: ModelConfig::default(),
        }
    }

    /// Sorted units of `app`.
    pub fn units_of(&self, app: &str) -> Vec<String> {
        let mut u: Vec<String> = self
            .units
            .values()
            .filter(|u| u.app == app)
            .map(|u| u.name.clone())
            .collect();
        u.sort_by_key(|n| unit_number(n));
        u
    }

    /// Relations `app` takes part in.
    pub fn relations_of<'a>(&'a self, app: &'a str) -> impl Iterator<Item = &'a Relation> + 'a {
        self.relations
            .values()
            .filter(move |r| r.endpoints.iter().any(|e| e.app == app))
    }

    /// The machine of `unit`.
    pub fn machine_of(&self, unit: &str) -> Option<&Machine> {
        self.units
            .get(unit)
            .and_then(|u| self.machines.get(&u.machine))
    }

    /// Put `unit` into relation `id`'s scope and write its address keys there (Juju
    /// writes them when a unit enters scope: docs/juju.md#relation-data).
    pub fn enter_scope(&mut self, id: u32, unit: &str) {
        let keys = self.address_keys(unit);
        let container = self.container_of(unit);
        if let Some(r) = self.relations.get_mut(&id) {
            if r.container {
                r.containers.insert(unit.to_string(), container);
            }
            r.scope.insert(unit.to_string());
            r.unit_bags
                .entry(unit.to_string())
                .or_default()
                .apply(&keys);
        }
    }

    /// A new live relation between `endpoints` (one endpoint: a peer relation); returns
    /// its id. Nobody is in scope yet: each unit's agent enters it as it starts on the
    /// relation, right before its relation-created (docs/juju.md#events).
    pub fn add_relation(&mut self, endpoints: Vec<RelEndpoint>) -> u32 {
        self.add_relation_scoped(endpoints, false)
    }

    /// [`Model::add_relation`], container-scoped when `container`.
    pub fn add_relation_scoped(&mut self, endpoints: Vec<RelEndpoint>, container: bool) -> u32 {
        let id = self.next_relation;
        self.next_relation += 1;
        let mut rel = Relation::new(id, endpoints);
        rel.container = container;
        self.relations.insert(id, rel);
        id
    }

    /// The next unit of `app`, on `machine`: allocating, in no relation's scope (it
    /// enters them after its install) and not leader (leadership is claimed by the
    /// scheduler: `sched::timers`). None when there is no such app.
    pub fn add_unit(&mut self, app: &str, machine: Machine) -> Option<String> {
        let a = self.applications.get_mut(app)?;
        let name = format!("{app}/{}", a.next_unit);
        a.next_unit += 1;
        let unit = Unit::new(&name, app, machine.id, a.revision);
        self.machines.insert(machine.id, machine);
        self.units.insert(name.clone(), unit);
        Some(name)
    }

    /// The keys Juju writes into a unit's bag when it enters a relation and refreshes on
    /// each committed config-changed (docs/juju.md#relation-data): `private-address`,
    /// `ingress-address` (the binding's ingress address) and `egress-subnets`
    /// (`<address>/32`).
    pub fn address_keys(&self, unit: &str) -> BTreeMap<String, String> {
        let addr = self
            .machine_of(unit)
            .map(|mc| mc.address.to_string())
            .unwrap_or_default();
        [
            ("egress-subnets".to_string(), format!("{addr}/32")),
            ("ingress-address".to_string(), addr.clone()),
            ("private-address".to_string(), addr),
        ]
        .into()
    }

    /// Rewrite `unit`'s address keys in every relation it is in scope of; bags whose
    /// content changes get a new version, so remote units see relation-changed.
    pub fn refresh_address_keys(&mut self, unit: &str) {
        let keys = self.address_keys(unit);
        for r in self.relations.values_mut() {
            if r.scope.contains(unit) {
                r.unit_bags
                    .entry(unit.to_string())
                    .or_default()
                    .apply(&keys);
            }
        }
    }
}
