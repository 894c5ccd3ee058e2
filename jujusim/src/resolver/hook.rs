//! One hook a unit runs: its kind, its relation context and its full name.
use crate::model::StorageInstance;
use serde::{Deserialize, Serialize};

/// Kind of hook.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum HookKind {
    /// install
    Install,
    /// start
    Start,
    /// config-changed
    ConfigChanged,
    /// upgrade-charm
    UpgradeCharm,
    /// leader-elected
    LeaderElected,
    /// leader-settings-changed
    LeaderSettingsChanged,
    /// update-status
    UpdateStatus,
    /// stop
    Stop,
    /// remove
    Remove,
    /// `<ep>-relation-created`
    RelationCreated,
    /// `<ep>-relation-joined`
    RelationJoined,
    /// `<ep>-relation-changed`
    RelationChanged,
    /// `<ep>-relation-departed`
    RelationDeparted,
    /// `<ep>-relation-broken`
    RelationBroken,
    /// secret-changed (a consumer: a new revision exists)
    SecretChanged,
    /// secret-remove (the owner: a revision nobody tracks)
    SecretRemove,
    /// secret-rotate (the owner: rotation due)
    SecretRotate,
    /// secret-expired (the owner: a revision expired)
    SecretExpired,
    /// `<name>-storage-attached`
    StorageAttached,
    /// `<name>-storage-detaching`
    StorageDetaching,
}

/// The secret a secret hook is about (JUJU_SECRET_ID, _LABEL, _REVISION).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct SecretRef {
    /// The secret's id.
    pub id: String,
    /// Its URI (JUJU_SECRET_ID).
    pub uri: String,
    /// The label this unit knows it by (JUJU_SECRET_LABEL, may be empty).
    pub label: String,
    /// The revision (JUJU_SECRET_REVISION for remove and expired; for changed the
    /// latest revision the consumer is being told about).
    pub revision: u32,
}

/// One hook to run on one unit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Hook {
    /// What kind.
    pub kind: HookKind,
    /// Relation id for relation hooks.
    pub relation: Option<u32>,
    /// Local endpoint name for relation hooks.
    pub endpoint: Option<String>,
    /// Remote application for relation hooks.
    pub remote_app: Option<String>,
    /// JUJU_REMOTE_UNIT (None: empty).
    pub remote_unit: Option<String>,
    /// JUJU_DEPARTING_UNIT for departed.
    pub departing: Option<String>,
    /// The secret of a secret hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Box<SecretRef>>,
    /// The storage instance of a storage hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Box<StorageInstance>>,
}

impl Hook {
    /// A hook that is not about a relation.
    pub fn plain(kind: HookKind) -> Hook {
        Hook {
            kind,
            relation: None,
            endpoint: None,
            remote_app: None,
            remote_unit: None,
            departing: None,
            secret: None,
            storage: None,
        }
    }

    /// The full hook name (`install`, `db-relation-changed`).
    pub fn name(&self) -> String {
        let rel = |suffix: &str| {
            format!(
                "{}-relation-{suffix}",
                self.endpoint.as_deref().unwrap_or("")
            )
        };
        match self.kind {
            HookKind::Install => "install".into(),
            HookKind::Start => "start".into(),
            HookKind::ConfigChanged => "config-changed".into(),
            HookKind::UpgradeCharm => "upgrade-charm".into(),
            HookKind::LeaderElected => "leader-elected".into(),
            HookKind::LeaderSettingsChanged => "leader-settings-changed".into(),
            HookKind::UpdateStatus => "update-status".into(),
            HookKind::Stop => "stop".into(),
            HookKind::Remove => "remove".into(),
            HookKind::RelationCreated => rel("created"),
            HookKind::RelationJoined => rel("joined"),
            HookKind::RelationChanged => rel("changed"),
            HookKind::RelationDeparted => rel("departed"),
            HookKind::RelationBroken => rel("broken"),
            HookKind::SecretChanged => "secret-changed".into(),
            HookKind::SecretRemove => "secret-remove".into(),
            HookKind::SecretRotate => "secret-rotate".into(),
            HookKind::SecretExpired => "secret-expired".into(),
            HookKind::StorageAttached | HookKind::StorageDetaching => {
                let name = self.storage.as_ref().map(|s| s.name()).unwrap_or("");
                let kind = if self.kind == HookKind::StorageAttached {
                    "attached"
                } else {
                    "detaching"
                };
                format!("{name}-storage-{kind}")
            }
        }
    }
}
