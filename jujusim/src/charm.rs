//! Charm files: metadata.yaml, config.yaml, actions.yaml, parsed and checked like Juju
//! and Scenario do (docs/juju.md#packaging, docs/juju.md#consistency-checks).
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors reading or checking charm files and the values given for them.
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// A charm file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A charm file is not valid YAML of the expected shape.
    #[error("parsing {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A config value or key is wrong.
    #[error("{0}")]
    Config(String),
    /// Action parameters do not match actions.yaml.
    #[error("{0}")]
    Action(String),
}

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
}

/// Type of a config option.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OptionType {
    /// string
    String,
    /// int
    Int,
    /// float
    Float,
    /// boolean
    Boolean,
    /// secret (a `secret:` URI string)
    Secret,
}

impl OptionType {
    /// The name used in config.yaml.
    pub fn as_str(self) -> &'static str {
        match self {
            OptionType::String => "string",
            OptionType::Int => "int",
            OptionType::Float => "float",
            OptionType::Boolean => "boolean",
            OptionType::Secret => "secret",
        }
    }
}

/// One option from config.yaml.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConfigOption {
    /// Declared type.
    pub kind: OptionType,
    /// Default (typed), or None when unset.
    pub default: Option<Value>,
    /// Description text. Not stored in model.json: only `jujusim config` shows it (from
    /// the charm dir), and serializing the descriptions of a real charm's options was a
    /// third of the engine's time per hook in a debug build.
    #[serde(skip)]
    pub description: String,
}

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
}

fn read_yaml(path: &Path) -> Result<Option<serde_yaml::Value>, CharmError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_yaml::from_str(&text)
            .map(Some)
            .map_err(|e| CharmError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CharmError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn yaml_to_json(v: serde_yaml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl CharmMeta {
    /// Read and check the charm files in `dir`.
    pub fn load(dir: &Path) -> Result<CharmMeta, CharmError> {
        let meta_path = dir.join("metadata.yaml");
        let meta = read_yaml(&meta_path)?.ok_or_else(|| CharmError::Parse {
            path: meta_path.clone(),
            message: "file not found: not a charm directory (a charm needs metadata.yaml)".into(),
        })?;
        let bad = |message: String| CharmError::Parse {
            path: meta_path.clone(),
            message,
        };
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
                });
            }
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
        let options = load_options(&dir.join("config.yaml"))?;
        let actions = load_actions(&dir.join("actions.yaml"))?;
        Ok(CharmMeta {
            name,
            endpoints,
            extra_bindings,
            subordinate,
            options,
            actions,
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
        b.push("juju-info".into());
        b
    }

    /// Parse a `key=value` given on the command line into the option's type.
    pub fn parse_config_value(&self, app: &str, key: &str, raw: &str) -> Result<Value, CharmError> {
        let opt = self.options.get(key).ok_or_else(|| {
            let names: Vec<&str> = self.options.keys().map(String::as_str).collect();
            CharmError::Config(format!(
                "unknown option {key:?} for {app}{}",
                similar(key, &names)
            ))
        })?;
        let wrong = |want: &str| {
            CharmError::Config(format!(
                "option {key:?} for {app} expects {want}, got {raw:?} (fix: juju config {app} {key}=<{want}>)"
            ))
        };
        Ok(match opt.kind {
            OptionType::String => Value::String(raw.to_string()),
            OptionType::Secret => {
                if !raw.is_empty() && !raw.starts_with("secret:") {
                    return Err(wrong("a secret:<id> URI"));
                }
                Value::String(raw.to_string())
            }
            OptionType::Int => Value::from(raw.trim().parse::<i64>().map_err(|_| wrong("an int"))?),
            OptionType::Float => serde_json::Number::from_f64(
                raw.trim().parse::<f64>().map_err(|_| wrong("a float"))?,
            )
            .map(Value::Number)
            .ok_or_else(|| wrong("a finite float"))?,
            OptionType::Boolean => match raw.trim() {
                "true" | "True" | "TRUE" | "yes" | "on" => Value::Bool(true),
                "false" | "False" | "FALSE" | "no" | "off" => Value::Bool(false),
                _ => return Err(wrong("a boolean (true or false)")),
            },
        })
    }

    /// Check action parameters against actions.yaml and insert schema defaults (Juju does).
    pub fn validate_action(
        &self,
        unit: &str,
        action: &str,
        params: Map<String, Value>,
    ) -> Result<Map<String, Value>, CharmError> {
        let spec = self.actions.get(action).ok_or_else(|| {
            let names: Vec<&str> = self.actions.keys().map(String::as_str).collect();
            CharmError::Action(format!(
                "action {action:?} not defined on unit {unit:?}{}",
                similar(action, &names)
            ))
        })?;
        let given = Value::Object(params.clone());
        let given_json = serde_json::to_string(&given).unwrap_or_default();
        for (k, v) in &params {
            match spec.params.get(k) {
                None if !spec.additional_properties => {
                    let names: Vec<&str> = spec.params.keys().map(String::as_str).collect();
                    return Err(CharmError::Action(format!(
                        "validation failed: (root) : additional property {k:?} is not allowed, given {given_json}{}",
                        similar(k, &names)
                    )));
                }
                None => {}
                Some(schema) => check_schema(&format!("(root).{k}"), v, schema)?,
            }
        }
        for r in &spec.required {
            if !params.contains_key(r) {
                return Err(CharmError::Action(format!(
                    "validation failed: (root) : {r:?} property is missing and required, given {given_json}"
                )));
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
            return Err(CharmError::Action(format!(
                "validation failed: {path} : must be of type {t}, given {}",
                serde_json::to_string(v).unwrap_or_default()
            )));
        }
    }
    if let Some(choices) = schema.get("enum").and_then(|e| e.as_array()) {
        if !choices.contains(v) {
            let list: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
            return Err(CharmError::Action(format!(
                "validation failed: {path} : must be one of the following: {}",
                list.join(", ")
            )));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(|m| m.as_f64()), v.as_f64()) {
        if n < min {
            return Err(CharmError::Action(format!(
                "validation failed: {path} : must be greater than or equal to {min}"
            )));
        }
    }
    Ok(())
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

fn load_options(path: &Path) -> Result<BTreeMap<String, ConfigOption>, CharmError> {
    let Some(doc) = read_yaml(path)? else {
        return Ok(BTreeMap::new());
    };
    let bad = |message: String| CharmError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let opts = doc
        .get("options")
        .and_then(|o| o.as_mapping())
        .ok_or_else(|| bad("invalid config: empty configuration (no `options:` map)".into()))?;
    let mut out = BTreeMap::new();
    for (k, spec) in opts {
        let k = k
            .as_str()
            .ok_or_else(|| bad("option names must be strings".into()))?;
        let kind = match spec
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("string")
        {
            "string" => OptionType::String,
            "int" => OptionType::Int,
            "float" => OptionType::Float,
            "boolean" => OptionType::Boolean,
            "secret" => OptionType::Secret,
            other => {
                return Err(bad(format!(
                    "invalid config: option {k:?} has unknown type {other:?}"
                )))
            }
        };
        let default = match spec.get("default") {
            None | Some(serde_yaml::Value::Null) => None,
            Some(d) => {
                let d = yaml_to_json(d.clone());
                let ok = match kind {
                    OptionType::String | OptionType::Secret => d.is_string(),
                    OptionType::Int => d.is_i64(),
                    OptionType::Float => d.is_number(),
                    OptionType::Boolean => d.is_boolean(),
                };
                if !ok {
                    return Err(bad(format!(
                        "option {k:?}: default {d} is not a {}",
                        kind.as_str()
                    )));
                }
                // A float option with an integer default is still a float.
                Some(if kind == OptionType::Float {
                    d.as_f64().map(Value::from).unwrap_or(d)
                } else {
                    d
                })
            }
        };
        let description = spec
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or("")
            .to_string();
        out.insert(
            k.to_string(),
            ConfigOption {
                kind,
                default,
                description,
            },
        );
    }
    Ok(out)
}

fn load_actions(path: &Path) -> Result<BTreeMap<String, ActionSpec>, CharmError> {
    let Some(doc) = read_yaml(path)? else {
        return Ok(BTreeMap::new());
    };
    let bad = |message: String| CharmError::Parse {
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

/// ` (similar: x, y)` when some names are close to `word`, else empty.
pub fn similar(word: &str, names: &[&str]) -> String {
    let close: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| {
            let d = edit_distance(word, n);
            (d <= 1.max(word.len() / 3) && d < word.len())
                || (word.len() > 2 && (n.starts_with(word) || word.starts_with(*n)))
        })
        .collect();
    if close.is_empty() {
        String::new()
    } else {
        format!(" (similar: {})", close.join(", "))
    }
}

/// Optimal string alignment distance (a transposition counts as one edit).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_names_are_suggested() {
        assert_eq!(
            similar("storage-cahce", &["storage-cache", "http-port"]),
            " (similar: storage-cache)"
        );
        assert_eq!(similar("zzz", &["storage-cache"]), "");
        assert_eq!(similar("prot", &["port", "name"]), " (similar: port)");
        assert_eq!(similar("q", &["x", "y"]), "");
    }

    #[test]
    fn endpoint_names_follow_juju_rules() {
        assert!(check_name("db-admin", "x").is_ok());
        assert!(check_name("Db", "x").is_err());
        assert!(check_name("1db", "x").is_err());
    }
}
