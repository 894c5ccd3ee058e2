//! The event of this `dispatch` run and its context, read once from `JUJU_*` variables.
//!
//! `JUJU_DISPATCH_PATH` (`hooks/<hook>` or `actions/<action>`) names the event; the other
//! variables carry its data (docs/juju.md#environment). [`Context::from_vars`] takes any lookup
//! function, which is the seam tests use; [`Context::from_env`] reads the process env.

use std::fmt;
use std::path::PathBuf;

use super::types::{AppName, ParseError, RelationId, UnitName};

/// A `JUJU_*` variable was missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A required variable is unset or empty.
    #[error("environment variable {var} is not set; Juju sets it for every hook of this kind (is this running under Juju or jujusim?)")]
    Missing {
        /// The variable name.
        var: &'static str,
    },
    /// A variable is set but cannot be parsed.
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable name.
        var: &'static str,
        /// Its value, verbatim (these variables carry names, never secrets).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ContextError {
    fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> Self {
        ContextError::Invalid {
            var,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
    fn from_parse(var: &'static str, e: ParseError) -> Self {
        ContextError::Invalid {
            var,
            value: e.input,
            reason: e.reason,
        }
    }
}

/// The five relation hook kinds (`<endpoint>-relation-<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationKind {
    /// `-relation-created`
    Created,
    /// `-relation-joined`
    Joined,
    /// `-relation-changed`
    Changed,
    /// `-relation-departed`
    Departed,
    /// `-relation-broken`
    Broken,
}

impl RelationKind {
    /// The hook-name suffix, e.g. `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Created => "created",
            RelationKind::Joined => "joined",
            RelationKind::Changed => "changed",
            RelationKind::Departed => "departed",
            RelationKind::Broken => "broken",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created" => RelationKind::Created,
            "joined" => RelationKind::Joined,
            "changed" => RelationKind::Changed,
            "departed" => RelationKind::Departed,
            "broken" => RelationKind::Broken,
            _ => return None,
        })
    }
}

/// The four secret hook kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// `secret-changed` (consumer: new revision).
    Changed,
    /// `secret-rotate` (owner: rotation due).
    Rotate,
    /// `secret-expired` (owner: a revision expired).
    Expired,
    /// `secret-remove` (owner: a revision is unused).
    Remove,
}

impl SecretKind {
    /// The hook-name suffix, e.g. `rotate`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Changed => "changed",
            SecretKind::Rotate => "rotate",
            SecretKind::Expired => "expired",
            SecretKind::Remove => "remove",
        }
    }
}

/// The event this run of `dispatch` is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `install`
    Install,
    /// `start`
    Start,
    /// `stop`
    Stop,
    /// `remove`
    Remove,
    /// `config-changed`
    ConfigChanged,
    /// `upgrade-charm`
    UpgradeCharm,
    /// `update-status`
    UpdateStatus,
    /// `leader-elected`
    LeaderElected,
    /// `leader-settings-changed`
    LeaderSettingsChanged,
    /// `pre-series-upgrade`
    PreSeriesUpgrade,
    /// `post-series-upgrade`
    PostSeriesUpgrade,
    /// `<endpoint>-relation-<kind>`
    Relation {
        /// Which of the five relation hooks.
        kind: RelationKind,
        /// The relation (`JUJU_RELATION_ID`).
        relation: RelationId,
        /// The other application (`JUJU_REMOTE_APP`); our own app for peer relations.
        remote_app: AppName,
        /// The remote unit (`JUJU_REMOTE_UNIT`); `None` in created/broken and app-level changed.
        remote_unit: Option<UnitName>,
        /// The unit leaving (`JUJU_DEPARTING_UNIT`), departed hooks only.
        departing_unit: Option<UnitName>,
    },
    /// `actions/<name>`
    Action {
        /// The action name (`JUJU_ACTION_NAME`).
        name: String,
        /// The task id (`JUJU_ACTION_UUID`).
        id: String,
    },
    /// `<storage>-storage-attached`
    StorageAttached {
        /// The storage instance (`JUJU_STORAGE_ID`, e.g. `data/0`).
        id: String,
    },
    /// `<storage>-storage-detaching`
    StorageDetaching {
        /// The storage instance (`JUJU_STORAGE_ID`, e.g. `data/0`).
        id: String,
    },
    /// `secret-changed`, `secret-rotate`, `secret-expired`, `secret-remove`
    Secret {
        /// Which secret hook.
        kind: SecretKind,
        /// The secret URI (`JUJU_SECRET_ID`).
        id: String,
        /// The secret's label (`JUJU_SECRET_LABEL`), if any.
        label: Option<String>,
        /// The revision (`JUJU_SECRET_REVISION`), set for `secret-remove` and
        /// `secret-expired`.
        revision: Option<u32>,
    },
    /// A hook this charm does not know; it is logged at debug and the run exits 0 so an
    /// older charm survives newer Juju hooks.
    Unknown(String),
}

impl Event {
    /// Reads the event from `JUJU_DISPATCH_PATH` plus the per-kind variables.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Event, ContextError> {
        let path = required(&var, "JUJU_DISPATCH_PATH")?;
        if let Some(hook) = path.strip_prefix("hooks/").filter(|h| !h.is_empty()) {
            return hook_event(hook, &var);
        }
        if let Some(action) = path.strip_prefix("actions/").filter(|a| !a.is_empty()) {
            // The path names the action; JUJU_ACTION_NAME must agree, else the env is corrupt.
            let name = required(&var, "JUJU_ACTION_NAME")?;
            if name != action {
                return Err(ContextError::invalid(
                    "JUJU_ACTION_NAME",
                    &name,
                    format!("does not match JUJU_DISPATCH_PATH={path:?}"),
                ));
            }
            let id = required(&var, "JUJU_ACTION_UUID")?;
            return Ok(Event::Action { name, id });
        }
        Err(ContextError::invalid(
            "JUJU_DISPATCH_PATH",
            &path,
            "expected hooks/<hook-name> or actions/<action-name>",
        ))
    }

    /// The Juju name of the event: the hook name (`website-relation-changed`), or the
    /// action name followed by ` action` for actions.
    pub fn name(&self) -> String {
        match self {
            Event::Install => "install".into(),
            Event::Start => "start".into(),
            Event::Stop => "stop".into(),
            Event::Remove => "remove".into(),
            Event::ConfigChanged => "config-changed".into(),
            Event::UpgradeCharm => "upgrade-charm".into(),
            Event::UpdateStatus => "update-status".into(),
            Event::LeaderElected => "leader-elected".into(),
            Event::LeaderSettingsChanged => "leader-settings-changed".into(),
            Event::PreSeriesUpgrade => "pre-series-upgrade".into(),
            Event::PostSeriesUpgrade => "post-series-upgrade".into(),
            Event::Relation { kind, relation, .. } => {
                format!("{}-relation-{}", relation.endpoint, kind.as_str())
            }
            Event::Action { name, .. } => format!("{name} action"),
            Event::StorageAttached { id } => format!("{}-storage-attached", storage_name(id)),
            Event::StorageDetaching { id } => format!("{}-storage-detaching", storage_name(id)),
            Event::Secret { kind, .. } => format!("secret-{}", kind.as_str()),
            Event::Unknown(hook) => hook.clone(),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

fn storage_name(id: &str) -> &str {
    id.split_once('/').map_or(id, |(n, _)| n)
}

/// Juju sets some variables to "" rather than leaving them out; both mean "absent".
fn optional(var: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    var(name).filter(|v| !v.is_empty())
}

fn required(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ContextError> {
    optional(var, name).ok_or(ContextError::Missing { var: name })
}

fn parsed<T: std::str::FromStr<Err = ParseError>>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ContextError> {
    optional(var, name)
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| ContextError::from_parse(name, e))
        })
        .transpose()
}

fn hook_event(hook: &str, var: &impl Fn(&str) -> Option<String>) -> Result<Event, ContextError> {
    let simple = match hook {
        "install" => Some(Event::Install),
        "start" => Some(Event::Start),
        "stop" => Some(Event::Stop),
        "remove" => Some(Event::Remove),
        "config-changed" => Some(Event::ConfigChanged),
        "upgrade-charm" => Some(Event::UpgradeCharm),
        "update-status" => Some(Event::UpdateStatus),
        "leader-elected" => Some(Event::LeaderElected),
        "leader-settings-changed" => Some(Event::LeaderSettingsChanged),
        "pre-series-upgrade" => Some(Event::PreSeriesUpgrade),
        "post-series-upgrade" => Some(Event::PostSeriesUpgrade),
        _ => None,
    };
    if let Some(ev) = simple {
        return Ok(ev);
    }
    let secret = match hook {
        "secret-changed" => Some(SecretKind::Changed),
        "secret-rotate" => Some(SecretKind::Rotate),
        "secret-expired" => Some(SecretKind::Expired),
        "secret-remove" => Some(SecretKind::Remove),
        _ => None,
    };
    if let Some(kind) = secret {
        return Ok(Event::Secret {
            kind,
            id: required(var, "JUJU_SECRET_ID")?,
            label: optional(var, "JUJU_SECRET_LABEL"),
            revision: optional(var, "JUJU_SECRET_REVISION")
                .map(|v| {
                    v.parse::<u32>().map_err(|_| {
                        ContextError::invalid("JUJU_SECRET_REVISION", &v, "not a revision number")
                    })
                })
                .transpose()?,
        });
    }
    // Endpoint names may contain "-relation-"-free dashes (cert-provider), so split on
    // the LAST "-relation-".
    if let Some((endpoint, kind)) = hook.rsplit_once("-relation-") {
        if let (false, Some(kind)) = (endpoint.is_empty(), RelationKind::parse(kind)) {
            return relation_event(endpoint, kind, var);
        }
    }
    if let Some(name) = hook
        .strip_suffix("-storage-attached")
        .filter(|n| !n.is_empty())
    {
        return Ok(Event::StorageAttached {
            id: storage_id(name, var)?,
        });
    }
    if let Some(name) = hook
        .strip_suffix("-storage-detaching")
        .filter(|n| !n.is_empty())
    {
        return Ok(Event::StorageDetaching {
            id: storage_id(name, var)?,
        });
    }
    Ok(Event::Unknown(hook.to_string()))
}

fn storage_id(name: &str, var: &impl Fn(&str) -> Option<String>) -> Result<String, ContextError> {
    let id = required(var, "JUJU_STORAGE_ID")?;
    if storage_name(&id) != name {
        return Err(ContextError::invalid(
            "JUJU_STORAGE_ID",
            &id,
            format!("expected an instance of storage {name:?} such as \"{name}/0\""),
        ));
    }
    Ok(id)
}

fn relation_event(
    endpoint: &str,
    kind: RelationKind,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Event, ContextError> {
    let relation: RelationId = parsed(var, "JUJU_RELATION_ID")?.ok_or(ContextError::Missing {
        var: "JUJU_RELATION_ID",
    })?;
    if relation.endpoint != endpoint {
        return Err(ContextError::invalid(
            "JUJU_RELATION_ID",
            &relation.to_string(),
            format!(
                "belongs to endpoint {:?}, but the hook is for endpoint {endpoint:?}",
                relation.endpoint
            ),
        ));
    }
    let remote_unit: Option<UnitName> = parsed(var, "JUJU_REMOTE_UNIT")?;
    // Some older agents leave JUJU_REMOTE_APP empty when a remote unit is given (ops
    // derives it the same way); without either the relation is unidentifiable.
    let remote_app: AppName = match parsed(var, "JUJU_REMOTE_APP")? {
        Some(app) => app,
        None => remote_unit
            .as_ref()
            .map(|u| u.app().clone())
            .ok_or(ContextError::Missing {
                var: "JUJU_REMOTE_APP",
            })?,
    };
    let departing_unit: Option<UnitName> = match kind {
        RelationKind::Departed => Some(parsed(var, "JUJU_DEPARTING_UNIT")?.ok_or(
            ContextError::Missing {
                var: "JUJU_DEPARTING_UNIT",
            },
        )?),
        _ => None,
    };
    Ok(Event::Relation {
        kind,
        relation,
        remote_app,
        remote_unit,
        departing_unit,
    })
}

/// Everything Juju tells a `dispatch` run through its environment (ops' `JujuContext`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// This unit (`JUJU_UNIT_NAME`).
    pub unit: UnitName,
    /// The model name (`JUJU_MODEL_NAME`).
    pub model_name: String,
    /// The model UUID (`JUJU_MODEL_UUID`).
    pub model_uuid: String,
    /// The charm directory (`JUJU_CHARM_DIR`, falling back to the legacy `CHARM_DIR`).
    pub charm_dir: PathBuf,
    /// The machine id (`JUJU_MACHINE_ID`, e.g. `0` or `0/lxd/1`), if set.
    pub machine_id: Option<String>,
    /// The Juju agent version (`JUJU_VERSION`, e.g. `3.6.1`).
    pub juju_version: String,
    /// The event being dispatched.
    pub event: Event,
}

impl Context {
    /// Reads the context from this process's environment.
    pub fn from_env() -> Result<Context, ContextError> {
        Context::from_vars(|k| std::env::var(k).ok())
    }

    /// Reads the context through `var`, which returns a variable's value or `None`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Context, ContextError> {
        // The event first: a missing JUJU_DISPATCH_PATH is the clearest "not under Juju" signal.
        let event = Event::from_vars(&var)?;
        let unit: UnitName = parsed(&var, "JUJU_UNIT_NAME")?.ok_or(ContextError::Missing {
            var: "JUJU_UNIT_NAME",
        })?;
        let charm_dir = optional(&var, "JUJU_CHARM_DIR")
            .or_else(|| optional(&var, "CHARM_DIR"))
            .ok_or(ContextError::Missing {
                var: "JUJU_CHARM_DIR",
            })?;
        Ok(Context {
            unit,
            model_name: required(&var, "JUJU_MODEL_NAME")?,
            model_uuid: required(&var, "JUJU_MODEL_UUID")?,
            charm_dir: PathBuf::from(charm_dir),
            machine_id: optional(&var, "JUJU_MACHINE_ID"),
            juju_version: required(&var, "JUJU_VERSION")?,
            event,
        })
    }

    /// Whether the event's remote application is our own (a peer relation event).
    pub fn is_peer_event(&self) -> bool {
        matches!(&self.event, Event::Relation { remote_app, .. } if remote_app == self.unit.app())
    }
}
