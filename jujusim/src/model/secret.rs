//! Charm secrets as the controller keeps them (docs/juju.md#secrets): owner (an
//! application or a unit), owner label, revisions of base64 content, who may read them
//! (grants scoped to a relation), and each consumer unit's tracked revision and label.
use super::{app_of, Life, Model};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Juju retries an unanswered rotation or expiry this long after the hook ran.
pub const SECRET_RETRY_SECS: u64 = 300;

/// Who owns a secret.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecretOwner {
    /// The application (managed by its leader, read by all its units).
    Application(String),
    /// One unit.
    Unit(String),
}

impl SecretOwner {
    /// `application` or `unit` (secret-info-get's `owner`).
    pub fn kind(&self) -> &'static str {
        match self {
            SecretOwner::Application(_) => "application",
            SecretOwner::Unit(_) => "unit",
        }
    }

    /// The owning application or unit name (`juju secrets`' Owner).
    pub fn name(&self) -> &str {
        match self {
            SecretOwner::Application(n) | SecretOwner::Unit(n) => n,
        }
    }
}

/// A rotation policy (`--rotate`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RotatePolicy {
    /// never
    Never,
    /// hourly
    Hourly,
    /// daily
    Daily,
    /// weekly
    Weekly,
    /// monthly
    Monthly,
    /// quarterly
    Quarterly,
    /// yearly
    Yearly,
}

impl RotatePolicy {
    /// Parse Juju's policy names.
    pub fn parse(s: &str) -> Option<RotatePolicy> {
        Some(match s {
            "never" => RotatePolicy::Never,
            "hourly" => RotatePolicy::Hourly,
            "daily" => RotatePolicy::Daily,
            "weekly" => RotatePolicy::Weekly,
            "monthly" => RotatePolicy::Monthly,
            "quarterly" => RotatePolicy::Quarterly,
            "yearly" => RotatePolicy::Yearly,
            _ => return None,
        })
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        match self {
            RotatePolicy::Never => "never",
            RotatePolicy::Hourly => "hourly",
            RotatePolicy::Daily => "daily",
            RotatePolicy::Weekly => "weekly",
            RotatePolicy::Monthly => "monthly",
            RotatePolicy::Quarterly => "quarterly",
            RotatePolicy::Yearly => "yearly",
        }
    }

    /// Seconds between rotations (None: never rotates).
    pub fn interval(self) -> Option<u64> {
        const HOUR: u64 = 3600;
        const DAY: u64 = 24 * HOUR;
        match self {
            RotatePolicy::Never => None,
            RotatePolicy::Hourly => Some(HOUR),
            RotatePolicy::Daily => Some(DAY),
            RotatePolicy::Weekly => Some(7 * DAY),
            RotatePolicy::Monthly => Some(30 * DAY),
            RotatePolicy::Quarterly => Some(90 * DAY),
            RotatePolicy::Yearly => Some(365 * DAY),
        }
    }
}

/// One revision's content and times.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Revision {
    /// Keys to base64-encoded values, as Juju stores them.
    pub content: BTreeMap<String, String>,
    /// Seconds since the epoch (model clock).
    pub created: u64,
    /// When this revision expires.
    pub expire: Option<u64>,
}

/// A unit reading a secret it does not own.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Consumer {
    /// The revision it tracks (moves only with `secret-get --refresh`).
    pub revision: u32,
    /// Its own label for the secret.
    pub label: Option<String>,
}

/// Read access given by the owner, scoped to a relation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Grant {
    /// The relation the grant lives and dies with.
    pub relation: u32,
    /// The remote application.
    pub app: String,
    /// Only this unit of it (None: every unit).
    pub unit: Option<String>,
}

/// A secret.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Secret {
    /// The 20-character id (`secret://<model uuid>/<id>` is its URI).
    pub id: String,
    /// Owner.
    pub owner: SecretOwner,
    /// The owner's label.
    pub label: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Rotation policy.
    pub rotate: Option<RotatePolicy>,
    /// When `secret-rotate` is due.
    pub next_rotate: Option<u64>,
    /// Revisions by number.
    pub revisions: BTreeMap<u32, Revision>,
    /// The latest revision.
    pub latest: u32,
    /// Revision -> when its owner is (next) told it expired.
    pub expiry_due: BTreeMap<u32, u64>,
    /// Consumers by unit name.
    pub consumers: BTreeMap<String, Consumer>,
    /// Grants.
    pub grants: Vec<Grant>,
    /// Created (model clock).
    pub created: u64,
    /// Last changed (model clock).
    pub updated: u64,
}

/// A secret write a hook buffered; committed with the hook (docs/juju.md#commit).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum SecretChange {
    /// secret-add.
    Add {
        /// New id.
        id: String,
        /// Owner.
        owner: SecretOwner,
        /// Fields.
        fields: SecretFields,
        /// Base64 content.
        content: BTreeMap<String, String>,
    },
    /// secret-set.
    Set {
        /// Id.
        id: String,
        /// Fields that change.
        fields: SecretFields,
        /// New content (base64), if any.
        content: Option<BTreeMap<String, String>>,
    },
    /// secret-remove.
    Remove {
        /// Id.
        id: String,
        /// One revision, or all.
        revision: Option<u32>,
    },
    /// secret-grant.
    Grant {
        /// Id.
        id: String,
        /// The grant.
        grant: Grant,
    },
    /// secret-revoke.
    Revoke {
        /// Id.
        id: String,
        /// From this application (every grant to it).
        app: Option<String>,
        /// From this unit.
        unit: Option<String>,
    },
}

/// The metadata flags secret-add and secret-set share.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SecretFields {
    /// --label.
    pub label: Option<String>,
    /// --description.
    pub description: Option<String>,
    /// --rotate.
    pub rotate: Option<RotatePolicy>,
    /// --expire, as a time.
    pub expire: Option<u64>,
}

impl Secret {
    /// `secret://<model uuid>/<id>`: how Juju 3.6 prints a new secret's URI.
    pub fn uri(&self, model_uuid: &str) -> String {
        format!("secret://{model_uuid}/{}", self.id)
    }

    /// Whether `unit` sees the secret as its owner (its own unit secret, or its
    /// application's): owners always read the latest revision.
    pub fn owned_by(&self, unit: &str) -> bool {
        match &self.owner {
            SecretOwner::Unit(u) => u == unit,
            SecretOwner::Application(a) => a == app_of(unit),
        }
    }

    /// Revisions older than the latest that no consumer tracks.
    pub fn obsolete(&self) -> Vec<u32> {
        self.revisions
            .keys()
            .copied()
            .filter(|r| *r != self.latest && !self.consumers.values().any(|c| c.revision == *r))
            .collect()
    }
}

impl Model {
    /// The model's clock (the host clock; jujusim has no other).
    pub fn now(&self) -> u64 {
        super::now_secs()
    }

    /// Whether `unit` may read `s` through a grant on a live relation.
    pub fn granted(&self, s: &Secret, unit: &str) -> bool {
        s.grants.iter().any(|g| {
            let live = self
                .relations
                .get(&g.relation)
                .is_some_and(|r| r.life == Life::Alive);
            live && match &g.unit {
                Some(u) => u == unit,
                None => g.app == app_of(unit),
            }
        })
    }

    /// The unit that manages `s` and runs its owner hooks: the owning unit, or the
    /// owning application's leader.
    pub fn secret_manager(&self, s: &Secret) -> Option<String> {
        match &s.owner {
            SecretOwner::Unit(u) => Some(u.clone()),
            SecretOwner::Application(a) => self.applications.get(a)?.leader.clone(),
        }
    }

    /// Commit `unit`'s buffered secret writes at `now`.
    pub fn apply_secret_changes(&mut self, changes: &[SecretChange], now: u64) {
        apply_secret_changes(&mut self.secrets, changes, now);
    }

    /// A unit is gone: its consumer records and the secrets it owned go with it.
    pub fn forget_unit_secrets(&mut self, unit: &str) {
        self.secrets
            .retain(|_, s| s.owner != SecretOwner::Unit(unit.to_string()));
        for s in self.secrets.values_mut() {
            s.consumers.remove(unit);
        }
    }
}

/// Apply secret writes in order to `secrets` (the model's, or a hook's view of it).
pub fn apply_secret_changes(
    secrets: &mut BTreeMap<String, Secret>,
    changes: &[SecretChange],
    now: u64,
) {
    for c in changes {
        match c {
            SecretChange::Add {
                id,
                owner,
                fields,
                content,
            } => {
                let mut s = Secret {
                    id: id.clone(),
                    owner: owner.clone(),
                    label: None,
                    description: None,
                    rotate: None,
                    next_rotate: None,
                    revisions: BTreeMap::from([(
                        1,
                        Revision {
                            content: content.clone(),
                            created: now,
                            expire: None,
                        },
                    )]),
                    latest: 1,
                    expiry_due: BTreeMap::new(),
                    consumers: BTreeMap::new(),
                    grants: vec![],
                    created: now,
                    updated: now,
                };
                s.set_fields(fields, now);
                secrets.insert(id.clone(), s);
            }
            SecretChange::Set {
                id,
                fields,
                content,
            } => {
                let Some(s) = secrets.get_mut(id) else {
                    continue;
                };
                let same = content
                    .as_ref()
                    .is_none_or(|c| s.revisions.get(&s.latest).is_some_and(|r| &r.content == c));
                if !same {
                    if let Some(c) = content {
                        s.latest += 1;
                        s.revisions.insert(
                            s.latest,
                            Revision {
                                content: c.clone(),
                                created: now,
                                expire: None,
                            },
                        );
                    }
                }
                s.set_fields(fields, now);
                s.updated = now;
            }
            SecretChange::Remove { id, revision } => {
                let gone = match (secrets.get_mut(id), revision) {
                    (Some(s), Some(r)) => {
                        s.revisions.remove(r);
                        s.expiry_due.remove(r);
                        s.revisions.is_empty()
                    }
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if gone {
                    secrets.remove(id);
                }
            }
            SecretChange::Grant { id, grant } => {
                if let Some(s) = secrets.get_mut(id) {
                    if !s.grants.contains(grant) {
                        s.grants.push(grant.clone());
                    }
                }
            }
            SecretChange::Revoke { id, app, unit } => {
                if let Some(s) = secrets.get_mut(id) {
                    s.grants.retain(|g| {
                        let by_unit = unit.is_some() && g.unit == *unit;
                        let by_app = app.as_ref().is_some_and(|a| g.app == *a);
                        !(by_unit || by_app)
                    });
                }
            }
        }
    }
}

impl Secret {
    /// Apply label, description, rotation and expiry from a secret-add/-set.
    fn set_fields(&mut self, f: &SecretFields, now: u64) {
        if let Some(l) = &f.label {
            self.label = Some(l.clone());
        }
        if let Some(d) = &f.description {
            self.description = Some(d.clone());
        }
        if let Some(p) = f.rotate {
            self.rotate = Some(p);
            self.next_rotate = p.interval().map(|i| now + i);
        }
        if let Some(e) = f.expire {
            if let Some(r) = self.revisions.get_mut(&self.latest) {
                r.expire = Some(e);
            }
            self.expiry_due.insert(self.latest, e);
        }
    }
}
