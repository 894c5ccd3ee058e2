//! One hook a unit runs: its kind, its relation context and its full name.
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
        }
    }
}
