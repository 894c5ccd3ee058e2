//! Reading and checking action params: every problem names the parameter and the
//! expected form.

use serde_json::{Map, Value};

use super::ActionError;
use crate::config::Secret;
use crate::registry_client::{Credentials, Platform};

/// Typed access to one action's params.
pub(crate) struct Params<'a> {
    action: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    pub(crate) fn new(action: &'a str, map: &'a Map<String, Value>) -> Params<'a> {
        Params { action, map }
    }

    /// An error about `param`.
    pub(crate) fn error(&self, param: &str, problem: impl Into<String>) -> ActionError {
        ActionError::Param {
            action: self.action.to_string(),
            param: param.to_string(),
            problem: problem.into(),
        }
    }

    /// A string param; empty or absent is `None`.
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>, ActionError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(self.error(name, format!("expected a string, got {other}"))),
        }
    }

    /// A required, non-empty string param.
    pub(crate) fn required(&self, name: &str, form: &str) -> Result<String, ActionError> {
        self.string(name)?
            .ok_or_else(|| self.error(name, format!("missing; expected {form}")))
    }

    /// A boolean param (JSON bool, or the strings true/false).
    pub(crate) fn bool(&self, name: &str, default: bool) -> Result<bool, ActionError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                "" => Ok(default),
                _ => Err(self.error(name, format!("{s:?} is not true or false"))),
            },
            Some(other) => Err(self.error(name, format!("expected true or false, got {other}"))),
        }
    }

    /// `platform=os/arch[/variant]`.
    pub(crate) fn platform(&self) -> Result<Option<Platform>, ActionError> {
        self.string("platform")?
            .map(|p| Platform::parse(&p).map_err(|e| self.error("platform", e.to_string())))
            .transpose()
    }

    /// `src-username`, `src-password`, `src-ca`, `src-tls-verify`.
    pub(crate) fn source_access(&self) -> Result<SourceAccess, ActionError> {
        let username = self.string("src-username")?;
        // Passwords may legitimately have surrounding spaces: read them raw.
        let password = match self.map.get("src-password") {
            Some(Value::String(s)) if !s.is_empty() => Some(Secret::new(s.clone())),
            None | Some(Value::Null) | Some(Value::String(_)) => None,
            Some(_) => return Err(self.error("src-password", "expected a string")),
        };
        let credentials = match (username, password) {
            (Some(username), Some(password)) => Some(Credentials { username, password }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(self.error("src-password", "missing: src-username needs src-password"))
            }
            (None, Some(_)) => {
                return Err(self.error("src-username", "missing: src-password needs src-username"))
            }
        };
        // PEM, PEM folded onto one line (Juju reads CLI values as YAML), or its base64.
        let ca_pem = match self.string("src-ca")? {
            None => None,
            Some(text) => Some(crate::tls::normalise_certificates(&text).ok_or_else(|| {
                self.error(
                    "src-ca",
                    "not a PEM certificate (expected -----BEGIN CERTIFICATE----- ... text, or \
                     its base64 as from `base64 -w0 ca.crt`)",
                )
            })?),
        };
        Ok(SourceAccess {
            credentials,
            ca_pem,
            tls_verify: self.bool("src-tls-verify", true)?,
        })
    }
}

/// How to reach a remote source.
#[derive(Debug, Clone)]
pub(crate) struct SourceAccess {
    pub(crate) credentials: Option<Credentials>,
    pub(crate) ca_pem: Option<String>,
    pub(crate) tls_verify: bool,
}
