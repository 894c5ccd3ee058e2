//! A relation: its endpoints, the application and unit bags, and who is in scope.
use super::{app_of, Bag, Life};
use crate::charm::Role;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One end of a relation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RelEndpoint {
    /// Application.
    pub app: String,
    /// Endpoint name.
    pub name: String,
    /// Interface.
    pub interface: String,
    /// Role.
    pub role: Role,
}

/// A relation (one endpoint for peers, two otherwise).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Relation {
    /// Model-unique id.
    pub id: u32,
    /// The endpoints.
    pub endpoints: Vec<RelEndpoint>,
    /// Application bags by app name.
    pub app_bags: BTreeMap<String, Bag>,
    /// Unit bags by unit name (kept after a unit departs).
    pub unit_bags: BTreeMap<String, Bag>,
    /// Units in scope.
    pub scope: BTreeSet<String>,
    /// Marked for removal.
    pub life: Life,
    /// Container-scoped (either endpoint has `scope: container`): a unit sees only the
    /// units of its own container, i.e. on its machine (docs/juju.md#subordinates).
    #[serde(default)]
    pub container: bool,
    /// For container-scoped relations: each unit in scope -> its container (the
    /// principal unit's name).
    #[serde(default)]
    pub containers: BTreeMap<String, String>,
}

impl Relation {
    /// A live relation with no data and nobody in scope yet.
    pub fn new(id: u32, endpoints: Vec<RelEndpoint>) -> Relation {
        Relation {
            id,
            endpoints,
            app_bags: BTreeMap::new(),
            unit_bags: BTreeMap::new(),
            scope: BTreeSet::new(),
            life: Life::Alive,
            container: false,
            containers: BTreeMap::new(),
        }
    }

    /// Whether this is a peer relation.
    pub fn is_peer(&self) -> bool {
        self.endpoints.len() == 1
    }

    /// This app's endpoint in the relation.
    pub fn local_endpoint(&self, app: &str) -> Option<&RelEndpoint> {
        self.endpoints.iter().find(|e| e.app == app)
    }

    /// The other side's endpoint (own endpoint for peers).
    pub fn remote_endpoint(&self, app: &str) -> Option<&RelEndpoint> {
        if self.is_peer() {
            self.endpoints.first()
        } else {
            self.endpoints.iter().find(|e| e.app != app)
        }
    }

    /// Remote units in scope as the model sees them, for a unit of `app`.
    pub fn remote_scope(&self, unit: &str) -> Vec<String> {
        let app = app_of(unit);
        let remote_app = self
            .remote_endpoint(app)
            .map(|e| e.app.clone())
            .unwrap_or_default();
        let container = self.containers.get(unit);
        self.scope
            .iter()
            .filter(|u| app_of(u) == remote_app && u.as_str() != unit)
            .filter(|u| !self.container || self.containers.get(*u) == container)
            .cloned()
            .collect()
    }

    /// Whether `other` is visible from `unit` in this relation: always, unless the
    /// relation is container-scoped and they are in different containers.
    pub fn same_container(&self, unit: &str, other: &str) -> bool {
        !self.container || self.containers.get(unit) == self.containers.get(other)
    }

    /// `endpoint:id` for `app`'s side.
    pub fn key_for(&self, app: &str) -> String {
        format!(
            "{}:{}",
            self.local_endpoint(app)
                .map(|e| e.name.as_str())
                .unwrap_or("?"),
            self.id
        )
    }
}
