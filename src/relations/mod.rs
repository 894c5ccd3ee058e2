//! Relation wire contracts: one module per endpoint, both directions in one file.
//!
//! Every module here is pure: it turns a [`Databag`] (what `relation-get` returned) into a
//! typed value with `parse`, and a typed value back into the keys to write with
//! `to_databag`. No hook tools, no files, no clock.
//!
//! Conventions shared by all modules:
//!
//! - A key whose value is the empty string is treated as absent. Juju deletes a key when it
//!   is set to `""`, so in a bag we *write*, `""` means "delete this key" (see [`changes`]).
//! - Unknown keys are ignored: other charms and Juju itself (`private-address`,
//!   `ingress-address`, `egress-subnets`) share the bags.
//! - A malformed value is a [`WireError`] naming the key, the problem and what was expected.
//!   Secret values (keys, passwords) are never quoted in errors.
//!
//! | Module | Endpoint | Interface |
//! |---|---|---|
//! | [`docker_registry`] | `docker-registry` (provides) | `docker-registry` |
//! | [`website`] | `website` (provides) | `http` (haproxy `reverseproxy`) |
//! | [`cert_provider`] | `cert-provider` (requires) | `tls-certificates` (legacy + v4) |
//! | [`peer`] | `peer` (peers) | `peer-discovery` |
//! | [`nrpe`] | `nrpe-external-master` (provides) | `nrpe-external-master` |
//! | [`cos_agent`] | `cos-agent` (provides) | `cos_agent` (grafana-agent) |

pub mod cert_provider;
pub mod cos_agent;
pub mod docker_registry;
mod json;
pub mod netloc;
pub mod nrpe;
pub mod peer;
pub mod website;

pub use netloc::{Host, Netloc, NetlocError};

/// One side's relation data: the same type the hook-tool layer returns.
pub use crate::juju::Databag;

/// A relation value that does not follow its wire contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A key the contract requires is absent (or empty).
    #[error("relation key `{key}` is missing: {why}")]
    Missing {
        /// The relation key.
        key: String,
        /// Why the key is needed, e.g. "a certificate needs its private key".
        why: &'static str,
    },
    /// A key is present but its value cannot be decoded.
    #[error("relation key `{key}` is invalid: {problem}")]
    Invalid {
        /// The relation key.
        key: String,
        /// What is wrong and what was expected.
        problem: String,
    },
}

impl WireError {
    /// The relation key this error is about.
    pub fn key(&self) -> &str {
        match self {
            WireError::Missing { key, .. } | WireError::Invalid { key, .. } => key,
        }
    }

    /// A `Missing` error for `key`.
    pub fn missing(key: impl Into<String>, why: &'static str) -> Self {
        WireError::Missing {
            key: key.into(),
            why,
        }
    }

    /// An `Invalid` error for `key`.
    pub fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        WireError::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// The value of `key`, treating an empty value as absent (Juju's "deleted").
pub fn get<'a>(bag: &'a Databag, key: &str) -> Option<&'a str> {
    bag.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// The minimal set of writes that turns `current` into `desired`.
///
/// `desired` may contain `""` values meaning "delete": they are kept only when `current`
/// has a non-empty value for that key, so re-running a hook writes nothing (no spurious
/// `relation-changed` on the other side). Keys absent from `desired` are left alone.
pub fn changes(current: &Databag, desired: &Databag) -> Databag {
    desired
        .iter()
        .filter(|(k, v)| match get(current, k) {
            Some(cur) => cur != v.as_str(),
            None => !v.is_empty(),
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Build a [`Databag`] from `(key, value)` pairs (handy in tests and callers).
pub fn bag<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Databag {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_skips_equal_values_and_absent_deletes() {
        let current = bag([("a", "1"), ("b", "2"), ("c", "3")]);
        let desired = bag([("a", "1"), ("b", "20"), ("c", ""), ("d", ""), ("e", "5")]);
        assert_eq!(
            changes(&current, &desired),
            bag([("b", "20"), ("c", ""), ("e", "5")])
        );
        assert!(changes(&desired_applied(&current, &desired), &desired).is_empty());
    }

    fn desired_applied(current: &Databag, desired: &Databag) -> Databag {
        let mut out = current.clone();
        for (k, v) in desired {
            if v.is_empty() {
                out.remove(k);
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    #[test]
    fn get_treats_empty_as_absent() {
        let b = bag([("a", ""), ("b", "x")]);
        assert_eq!(get(&b, "a"), None);
        assert_eq!(get(&b, "b"), Some("x"));
        assert_eq!(get(&b, "c"), None);
    }

    #[test]
    fn errors_name_the_key() {
        let e = WireError::invalid("registry_netloc", "expected host:port");
        assert_eq!(e.key(), "registry_netloc");
        assert_eq!(
            e.to_string(),
            "relation key `registry_netloc` is invalid: expected host:port"
        );
        let e = WireError::missing("port", "a plain backend needs a port");
        assert_eq!(
            e.to_string(),
            "relation key `port` is missing: a plain backend needs a port"
        );
    }
}
