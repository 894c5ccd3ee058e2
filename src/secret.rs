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

/// A secret derived from `secret` for one `purpose`: HMAC-SHA256, hex. Every unit that
/// shares `secret` derives the same value, and it reveals nothing of `secret`.
pub fn derive(secret: &Secret, purpose: &str) -> Secret {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
    let tag = ring::hmac::sign(&key, purpose.as_bytes());
    Secret::new(
        tag.as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_secrets_agree_for_one_purpose_and_differ_otherwise() {
        let shared = Secret::new("the http secret");
        let key = derive(&shared, "swift temp-url key");
        assert_eq!(
            key,
            derive(&Secret::new("the http secret"), "swift temp-url key")
        );
        assert_eq!(key.expose().len(), 64);
        assert!(!key.expose().contains("http secret"));
        assert_ne!(key, derive(&shared, "another purpose"));
        assert_ne!(
            key,
            derive(&Secret::new("another secret"), "swift temp-url key")
        );
        // RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
        assert_eq!(
            derive(&Secret::new("Jefe"), "what do ya want for nothing?").expose(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
