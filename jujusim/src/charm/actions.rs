//! actions.yaml: declared actions, and the parameters `juju run` gives checked against
//! them as Juju's JSON schema validator does, defaults filled in.
use super::{read_yaml, yaml_to_json, CharmError, CharmMeta};
use crate::suggest::Similar;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// One action from actions.yaml.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ActionSpec {
    /// Description text.
    pub description: String,
    /// Parameter name -> JSON schema property.
    pub params: BTreeMap<String, Value>,
    /// Required parameter names.
    pub required: Vec<String>,
    /// Whether unknown params are accepted (Juju's default: false).
    pub additional_properties: bool,
}

impl CharmMeta {
    /// Check action parameters against actions.yaml and insert schema defaults (Juju does).
    pub fn validate_action(
        &self,
        unit: &str,
        action: &str,
        params: Map<String, Value>,
    ) -> Result<Map<String, Value>, CharmError> {
        let spec = self
            .actions
            .get(action)
            .ok_or_else(|| CharmError::UnknownAction {
                action: action.into(),
                unit: unit.into(),
                similar: Similar::to(action, self.actions.keys().map(String::as_str)),
            })?;
        let given = Value::Object(params.clone());
        let given_json = serde_json::to_string(&given).unwrap_or_default();
        for (k, v) in &params {
            match spec.params.get(k) {
                None if !spec.additional_properties => {
                    return Err(CharmError::ParamNotAllowed {
                        key: k.clone(),
                        given: given_json,
                        similar: Similar::to(k, spec.params.keys().map(String::as_str)),
                    });
                }
                None => {}
                Some(schema) => check_schema(&format!("(root).{k}"), v, schema)?,
            }
        }
        for r in &spec.required {
            if !params.contains_key(r) {
                return Err(CharmError::ParamMissing {
                    key: r.clone(),
                    given: given_json,
                });
            }
        }
        let mut out = params;
        for (k, schema) in &spec.params {
            if let Some(d) = schema.get("default") {
                out.entry(k.clone()).or_insert_with(|| d.clone());
            }
        }
        Ok(out)
    }
}

fn invalid(path: &str, rule: String) -> CharmError {
    CharmError::ParamInvalid {
        path: path.into(),
        rule,
    }
}

/// The subset of JSON schema Juju's actions use: `type`, `enum`, `minimum`.
fn check_schema(path: &str, v: &Value, schema: &Value) -> Result<(), CharmError> {
    if let Some(t) = schema.get("type").and_then(|t| t.as_str()) {
        let ok = match t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            "null" => v.is_null(),
            _ => true,
        };
        if !ok {
            return Err(invalid(
                path,
                format!(
                    "must be of type {t}, given {}",
                    serde_json::to_string(v).unwrap_or_default()
                ),
            ));
        }
    }
    if let Some(choices) = schema.get("enum").and_then(|e| e.as_array()) {
        if !choices.contains(v) {
            let list: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
            return Err(invalid(
                path,
                format!("must be one of the following: {}", list.join(", ")),
            ));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(|m| m.as_f64()), v.as_f64()) {
        if n < min {
            return Err(invalid(
                path,
                format!("must be greater than or equal to {min}"),
            ));
        }
    }
    Ok(())
}

pub(super) fn load_actions(path: &Path) -> Result<BTreeMap<String, ActionSpec>, CharmError> {
    let Some(doc) = read_yaml(path)? else {
        return Ok(BTreeMap::new());
    };
    let bad = |message: String| CharmError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let Some(map) = doc.as_mapping() else {
        return if doc.is_null() {
            Ok(BTreeMap::new())
        } else {
            Err(bad("expected a map of actions".into()))
        };
    };
    let mut out = BTreeMap::new();
    for (name, spec) in map {
        let name = name
            .as_str()
            .ok_or_else(|| bad("action names must be strings".into()))?;
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-')
            && name != "juju"
            && !name.starts_with("juju-");
        if !valid {
            return Err(bad(format!("invalid action name {name:?}")));
        }
        let spec = yaml_to_json(spec.clone());
        let params: BTreeMap<String, Value> = spec
            .get("params")
            .and_then(|p| p.as_object())
            .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        for (p, s) in &params {
            if s.get("type").is_none() {
                return Err(bad(format!("action {name:?}: param {p:?} has no `type`")));
            }
        }
        let required = spec
            .get("required")
            .and_then(|r| r.as_array())
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            name.to_string(),
            ActionSpec {
                description: spec
                    .get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or("")
                    .to_string(),
                params,
                required,
                additional_properties: spec
                    .get("additionalProperties")
                    .and_then(|a| a.as_bool())
                    .unwrap_or(false),
            },
        );
    }
    Ok(out)
}
