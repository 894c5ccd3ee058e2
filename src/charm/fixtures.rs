//! Literals for the unit tests of the concern modules: a config from JSON, a relation.

use crate::config::CharmConfig;
use crate::juju::{Databag, UnitName};

use super::model::RelationView;

/// A valid config from the options given (the rest at their defaults).
pub fn config(extra: serde_json::Value) -> CharmConfig {
    let map = extra.as_object().cloned().unwrap_or_default();
    CharmConfig::from_json(&map).unwrap()
}

/// Relation `id` (`endpoint:n`) with these remote units and their bags.
pub fn relation(id: &str, units: &[(&str, &[(&str, &str)])]) -> RelationView {
    RelationView {
        id: id.parse().unwrap(),
        ours: Databag::new(),
        units: units
            .iter()
            .map(|(u, kv)| {
                let bag = kv.iter().map(|(k, v)| (k.to_string(), v.to_string()));
                (u.parse::<UnitName>().unwrap(), bag.collect())
            })
            .collect(),
        app: Databag::new(),
    }
}
