//! A string that must never show: passwords, keys, tokens. `Debug` and `Display` are
//! redacted; only [`Secret::expose`] gives the value, where it is written or sent.

use std::fmt;

/// A secret string (password, key, token material) whose Debug/Display are redacted.
///
/// It serializes as the plain string: only into files that are root's alone (the unit's
/// state file, 0600), never into logs.
#[derive(Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value; call only where it is written to a file or sent on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
