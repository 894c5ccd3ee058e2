//! config.yaml: option types and defaults, and values typed on the command line.
use super::{read_yaml, yaml_to_json, CharmError, CharmMeta};
use crate::suggest::Similar;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

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

impl CharmMeta {
    /// The error for an option config.yaml does not declare.
    pub fn unknown_option(&self, app: &str, key: &str) -> CharmError {
        CharmError::UnknownOption {
            app: app.into(),
            key: key.into(),
            similar: Similar::to(key, self.options.keys().map(String::as_str)),
        }
    }

    /// Parse a `key=value` given on the command line into the option's type.
    pub fn parse_config_value(&self, app: &str, key: &str, raw: &str) -> Result<Value, CharmError> {
        let opt = self
            .options
            .get(key)
            .ok_or_else(|| self.unknown_option(app, key))?;
        let wrong = |want: &'static str| CharmError::WrongType {
            app: app.into(),
            key: key.into(),
            want,
            raw: raw.into(),
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
}

pub(super) fn load_options(path: &Path) -> Result<BTreeMap<String, ConfigOption>, CharmError> {
    let Some(doc) = read_yaml(path)? else {
        return Ok(BTreeMap::new());
    };
    let bad = |message: String| CharmError::Invalid {
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
