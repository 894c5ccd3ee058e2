//! Charm files: metadata.yaml here, config.yaml in `config.rs`, actions.yaml in
//! `actions.rs`; parsed and checked as Juju and Scenario do (docs/juju.md#packaging,
//! docs/juju.md#consistency-checks), with errors that name the file and what is wrong.
mod actions;
mod bases;
mod config;
mod storage;

pub use actions::ActionSpec;
pub use bases::{choose_base, Base, BaseError};
pub use config::{ConfigOption, OptionType};
pub use storage::StorageMeta;

use crate::suggest::Similar;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors reading or checking charm files and the values given for them.
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// A charm file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A charm file is not valid YAML.
    #[error("parsing {path}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The YAML error.
        source: serde_yaml::Error,
    },
    /// A charm file is YAML but not of the shape Juju accepts.
    #[error("parsing {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `juju config` names an option config.yaml does not declare.
    #[error("unknown option {key:?} for {app}{similar}")]
    UnknownOption {
        /// Application.
        app: String,
        /// The option as typed.
        key: String,
        /// Declared options close to it.
        similar: Similar,
    },
    /// A config value does not parse as the option's type.
    #[error(
        "option {key:?} for {app} expects {want}, got {raw:?} (fix: juju config {app} {key}=<{want}>)"
    )]
    WrongType {
        /// Application.
        app: String,
        /// The option.
        key: String,
        /// What the type accepts, e.g. "an int".
        want: &'static str,
        /// The value as typed.
        raw: String,
    },
    /// `juju run` names an action actions.yaml does not declare.
    #[error("action {action:?} not defined on unit {unit:?}{similar}")]
    UnknownAction {
        /// The action as typed.
        action: String,
        /// The unit it was for.
        unit: String,
        /// Declared actions close to it.
        similar: Similar,
    },
    /// A parameter actions.yaml does not declare (and extra ones are not allowed).
    #[error("validation failed: (root) : additional property {key:?} is not allowed, given {given}{similar}")]
    ParamNotAllowed {
        /// The parameter.
        key: String,
        /// All given parameters, as JSON.
        given: String,
        /// Declared parameters close to it.
        similar: Similar,
    },
    /// A required parameter is missing.
    #[error("validation failed: (root) : {key:?} property is missing and required, given {given}")]
    ParamMissing {
        /// The parameter.
        key: String,
        /// All given parameters, as JSON.
        given: String,
    },
    /// A parameter value breaks its JSON schema (`path`: `(root).name`).
    #[error("validation failed: {path} : {rule}")]
    ParamInvalid {
        /// Where, as the JSON schema validator names it.
        path: String,
        /// The rule broken, in the validator's words.
        rule: String,
    },
}

/// The implicit endpoint (and its interface) every charm provides.
pub const JUJU_INFO: &str = "juju-info";

/// Role of an endpoint in metadata.yaml.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `provides:`
    Provider,
    /// `requires:`
    Requirer,
    /// `peers:`
    Peer,
}

/// One relation endpoint of a charm.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EndpointMeta {
    /// Endpoint name.
    pub name: String,
    /// Interface name.
    pub interface: String,
    /// provides / requires / peers.
    pub role: Role,
    /// `scope: container` endpoints (subordinates).
    pub container_scope: bool,
    /// The `juju-info` endpoint every charm provides without declaring it.
    #[serde(default)]
    pub implicit: bool,
}

/// Everything jujusim needs to know about a charm.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CharmMeta {
    /// Charm name.
    pub name: String,
    /// Relation endpoints (provides, requires, peers), in name order.
    pub endpoints: Vec<EndpointMeta>,
    /// extra-bindings names.
    pub extra_bindings: Vec<String>,
    /// Whether the charm is a subordinate.
    pub subordinate: bool,
    /// config.yaml options.
    pub options: BTreeMap<String, ConfigOption>,
    /// actions.yaml actions.
    pub actions: BTreeMap<String, ActionSpec>,
    /// `storage:` stores.
    #[serde(default)]
    pub storage: BTreeMap<String, StorageMeta>,
    /// manifest.yaml bases (or a legacy charm's metadata `series`), in listed order.
    #[serde(default)]
    pub bases: Vec<Base>,
}

/// A YAML charm file, or None when it does not exist.
pub(crate) fn read_yaml(path: &Path) -> Result<Option<serde_yaml::Value>, CharmError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_yaml::from_str(&text)
            .map(Some)
            .map_err(|source| CharmError::Yaml {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CharmError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A YAML value as JSON (what model.json and action params hold).
pub(crate) fn yaml_to_json(v: serde_yaml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl CharmMeta {
    /// Read and check the charm files in `dir`.
    pub fn load(dir: &Path) -> Result<CharmMeta, CharmError> {
        let meta_path = dir.join("metadata.yaml");
        let bad = |message: String| CharmError::Invalid {
            path: meta_path.clone(),
            message,
        };
        let meta = read_yaml(&meta_path)?.ok_or_else(|| {
            bad("file not found: not a charm directory (a charm needs metadata.yaml)".into())
        })?;
        let name = meta
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("missing `name`".into()))?
            .to_string();
        let mut endpoints = Vec::new();
        for (key, role) in [
            ("provides", Role::Provider),
            ("requires", Role::Requirer),
            ("peers", Role::Peer),
        ] {
            let Some(map) = meta.get(key).and_then(|v| v.as_mapping()) else {
                continue;
            };
            for (ep, spec) in map {
                let ep = ep
                    .as_str()
                    .ok_or_else(|| bad(format!("{key}: endpoint names must be strings")))?;
                check_name(ep, "relation endpoint").map_err(bad)?;
                let (interface, container_scope) = match spec {
                    serde_yaml::Value::String(s) => (s.clone(), false),
                    serde_yaml::Value::Mapping(m) => (
                        m.get("interface")
                            .and_then(|v| v.as_str())
                            .ok_or_else(|| bad(format!("{key}.{ep}: missing `interface`")))?
                            .to_string(),
                        m.get("scope").and_then(|v| v.as_str()) == Some("container"),
                    ),
                    _ => {
                        return Err(bad(format!(
                            "{key}.{ep}: expected an interface name or a map"
                        )))
                    }
                };
                if endpoints.iter().any(|e: &EndpointMeta| e.name == ep) {
                    return Err(bad(format!("duplicate endpoint name {ep:?}")));
                }
                endpoints.push(EndpointMeta {
                    name: ep.to_string(),
                    interface,
                    role,
                    container_scope,
                    implicit: false,
                });
            }
        }
        // Every charm provides `juju-info` (docs/juju.md#subordinates), unless it
        // declares an endpoint of that name itself (subordinates often require one).
        if !endpoints.iter().any(|e| e.name == JUJU_INFO) {
            endpoints.push(EndpointMeta {
                name: JUJU_INFO.into(),
                interface: JUJU_INFO.into(),
                role: Role::Provider,
                container_scope: false,
                implicit: true,
            });
        }
        endpoints.sort_by(|a, b| a.name.cmp(&b.name));
        let extra_bindings = meta
            .get("extra-bindings")
            .and_then(|v| v.as_mapping())
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let subordinate = meta
            .get("subordinate")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let storage = storage::load_storage(&meta, &meta_path)?;
        let options = config::load_options(&dir.join("config.yaml"))?;
        let actions = actions::load_actions(&dir.join("actions.yaml"))?;
        let bases = bases::load_bases(dir, &meta)?;
        Ok(CharmMeta {
            name,
            endpoints,
            extra_bindings,
            subordinate,
            options,
            actions,
            storage,
            bases,
        })
    }

    /// The endpoint called `name`.
    pub fn endpoint(&self, name: &str) -> Option<&EndpointMeta> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// Names `network-get` accepts: endpoints, extra-bindings and `juju-info`.
    pub fn bindings(&self) -> Vec<String> {
        let mut b: Vec<String> = self.endpoints.iter().map(|e| e.name.clone()).collect();
        b.extend(self.extra_bindings.iter().cloned());
        if !b.iter().any(|n| n == JUJU_INFO) {
            b.push(JUJU_INFO.into());
        }
        b
    }
}

/// Juju/Scenario name rule for endpoints.
fn check_name(name: &str, what: &str) -> Result<(), String> {
    let ok = name.split(['-', '_']).enumerate().all(|(i, part)| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && (i > 0 || part.starts_with(|c: char| c.is_ascii_lowercase()))
    });
    if ok {
        Ok(())
    } else {
        Err(format!("invalid {what} name {name:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_follow_juju_rules() {
        assert!(check_name("db-admin", "x").is_ok());
        assert!(check_name("Db", "x").is_err());
        assert!(check_name("1db", "x").is_err());
    }
}
