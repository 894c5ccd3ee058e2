//! An application: its charm, config, leader and leader settings; and the versioned
//! string bags relations and leader settings are made of.
use super::{Life, StatusInfo};
use crate::charm::{Base, CharmMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A string bag with a version bumped on every content change.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bag {
    /// Keys and values (never empty values).
    pub data: BTreeMap<String, String>,
    /// 0 = never written.
    pub version: u64,
}

impl Bag {
    /// Apply `changes` (empty value deletes); bump the version only if content changed.
    pub fn apply(&mut self, changes: &BTreeMap<String, String>) -> bool {
        let mut next = self.data.clone();
        for (k, v) in changes {
            if v.is_empty() {
                next.remove(k);
            } else {
                next.insert(k.clone(), v.clone());
            }
        }
        if next != self.data {
            self.data = next;
            self.version += 1;
            true
        } else {
            false
        }
    }
}

/// An application.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Application {
    /// Application name.
    pub name: String,
    /// Unpacked charm dir of the current revision.
    pub charm_dir: PathBuf,
    /// Charm revision within this model (bumped by refresh).
    pub revision: u32,
    /// Parsed charm files.
    pub charm: CharmMeta,
    /// Values set by the operator (typed), without defaults.
    pub config: BTreeMap<String, Value>,
    /// Next unit number.
    pub next_unit: u32,
    /// Current leader: the holder of the leadership lease (None while leaderless).
    pub leader: Option<String>,
    /// While leaderless after the leader went: when (model clock, ms) its lease lapses
    /// and another unit can claim it. None: any unit may claim at once.
    #[serde(default)]
    pub lease_until_ms: Option<u64>,
    /// The base of the application's machines (chosen at deploy).
    #[serde(default)]
    pub base: Base,
    /// Dying after `remove-application`: gone once its last unit is.
    #[serde(default)]
    pub life: Life,
    /// leader-set data.
    pub leader_settings: Bag,
    /// Application status (status-set --application).
    pub status: Option<StatusInfo>,
    /// application-version-set.
    pub workload_version: String,
}

impl Application {
    /// A newly deployed application (revision 1, no units, no leader) on `base`, with
    /// `config` set by the operator.
    pub fn new(
        name: &str,
        charm_dir: PathBuf,
        charm: CharmMeta,
        config: BTreeMap<String, Value>,
        base: Base,
    ) -> Application {
        Application {
            name: name.into(),
            charm_dir,
            revision: 1,
            charm,
            config,
            next_unit: 0,
            leader: None,
            lease_until_ms: None,
            base,
            life: Life::Alive,
            leader_settings: Bag::default(),
            status: None,
            workload_version: String::new(),
        }
    }

    /// Config as hooks see it: set values over defaults; Null for unset options.
    pub fn effective_config(&self) -> BTreeMap<String, Value> {
        self.charm
            .options
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    self.config
                        .get(k)
                        .cloned()
                        .or_else(|| o.default.clone())
                        .unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    /// Stable hash of the effective config (config-changed fires when it differs).
    pub fn config_hash(&self) -> u64 {
        fnv1a(
            serde_json::to_string(&self.effective_config())
                .unwrap_or_default()
                .as_bytes(),
        )
    }
}

/// FNV-1a 64-bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bag_version_bumps_only_on_change() {
        let mut b = Bag::default();
        let ch: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        assert!(b.apply(&ch));
        assert!(!b.apply(&ch));
        assert_eq!(b.version, 1);
        let del: BTreeMap<String, String> = [("a".to_string(), String::new())].into();
        assert!(b.apply(&del));
        assert!(b.data.is_empty());
        assert_eq!(b.version, 2);
    }
}
