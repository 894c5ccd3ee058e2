//! The logic of the registry actions (push, images, rmi, mirror, gc, info), knowing no Juju:
//! params in, registry calls, results out. The charm maps [`ActionIo::log`] to
//! `action-log`, [`Results`] to `action-set` and [`ActionError`] to `action-fail`.
//!
//! Params are validated up front, before anything is written. The tokio runtime is
//! built inside [`run`] only, so hooks never pay for it.

mod gc;
mod images;
mod info;
mod mirror;
mod params;
mod progress;
mod push;
mod rmi;
mod target;

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::registry_client::{self, Credentials, Scheme};
use crate::tls::client::ClientIdentity;

pub use gc::{parse_gc_output, refusal as gc_refusal, GcSummary};
pub use mirror::parse_image_list;

/// What the charm knows about its registry, handed to every action.
#[derive(Debug, Clone)]
pub struct Registry {
    /// The application name (for the `juju config` lines in messages).
    pub application: String,
    /// The netloc clients use (http-host, the proxy, else the unit): names in results.
    pub netloc: String,
    /// This unit's `address:port`: where the actions connect.
    pub unit_netloc: String,
    /// `registry-port` (`localhost:PORT` names this registry too).
    pub port: u16,
    /// How the registry serves (how the actions connect to this unit).
    pub scheme: Scheme,
    /// The scheme clients use (`http-host` may say https where TLS ends in front).
    pub client_scheme: Scheme,
    /// The CA that signed the registry's certificate (https).
    pub ca_pem: Option<String>,
    /// Basic-auth credentials of the registry, when it has them.
    pub credentials: Option<Credentials>,
    /// The token realm, when the registry takes tokens (`auth-token-realm`).
    pub token_realm: Option<String>,
    /// `storage-read-only`.
    pub storage_read_only: bool,
    /// `storage-delete`.
    pub storage_delete: bool,
    /// Where the registry keeps its data.
    pub storage: StorageKind,
    /// Units of the application (gc with shared storage).
    pub units: usize,
    /// `registry-http-proxy` (for remote sources).
    pub http_proxy: Option<String>,
    /// `registry-https-proxy` (for remote sources).
    pub https_proxy: Option<String>,
    /// The registry binary (`docker-registry`), for garbage-collect.
    pub binary: PathBuf,
    /// The registry's config.yml.
    pub config_path: PathBuf,
    /// This unit's client certificate, presented while the registry demands them.
    pub client: Option<ClientIdentity>,
}

/// The registry's storage backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageKind {
    /// Local disk, with its root directory.
    Filesystem {
        /// `storage.filesystem.rootdirectory`.
        root: PathBuf,
    },
    /// Shared object storage (`s3`, `swift`).
    Shared {
        /// `s3` or `swift`.
        driver: String,
    },
}

/// Where an action's progress lines go (`action-log`).
pub trait ActionIo {
    /// Logs one progress line.
    fn log(&self, line: &str);
}

/// Action results: ordered `key = value` pairs for `action-set`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Results(Vec<(String, String)>);

impl Results {
    /// Sets `key` (replacing an earlier value). Keys are dotted, each segment
    /// `[a-z0-9]([a-z0-9-]*[a-z0-9])?`; see [`is_valid_key`].
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs, in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether `key` is a valid `action-set` key (dot-separated segments of lowercase
/// letters, digits and inner dashes; not a reserved name).
pub fn is_valid_key(key: &str) -> bool {
    let segment_ok = |s: &str| {
        let b = s.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && alnum(&b[0])
            && alnum(&b[b.len() - 1])
            && b.iter().all(|c| alnum(c) || *c == b'-')
    };
    let reserved = ["stdout", "stdout-encoding", "stderr", "stderr-encoding"];
    !reserved.contains(&key) && key.split('.').all(segment_ok)
}

/// Why an action failed; its Display is the `action-fail` message.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// A parameter is missing or malformed.
    #[error("{action}: parameter {param}: {problem}")]
    Param {
        /// The action.
        action: String,
        /// The parameter.
        param: String,
        /// What is wrong and the expected form.
        problem: String,
    },
    /// The action refuses to run in this configuration (names the option).
    #[error("{action}: {message}")]
    Refused {
        /// The action.
        action: String,
        /// Why, naming the option and the `juju config` line.
        message: String,
    },
    /// The registry (or a source) failed.
    #[error("{action}: {cause}")]
    Registry {
        /// The action.
        action: String,
        /// The client error.
        cause: registry_client::Error,
    },
    /// A command or local effect failed.
    #[error("{action}: {message}")]
    Failed {
        /// The action.
        action: String,
        /// What failed.
        message: String,
    },
    /// Part of the work failed; the results say which.
    #[error("{action}: {message}")]
    Incomplete {
        /// The action.
        action: String,
        /// Summary of what failed.
        message: String,
        /// Results of the work that was done (set them before failing).
        results: Results,
    },
    /// Not an action of this module.
    #[error(
        "{0}: unknown action (this charm's registry actions are push, images, rmi, mirror, gc, info)"
    )]
    Unknown(String),
}

impl ActionError {
    /// Results to `action-set` even though the action fails.
    pub fn results(&self) -> Option<&Results> {
        match self {
            ActionError::Incomplete { results, .. } => Some(results),
            _ => None,
        }
    }

    pub(crate) fn registry(action: &str) -> impl Fn(registry_client::Error) -> ActionError + '_ {
        move |cause| ActionError::Registry {
            action: action.to_string(),
            cause,
        }
    }
}

/// Runs action `name` with its Juju params against this unit's registry.
pub fn run(
    name: &str,
    params: &Map<String, Value>,
    registry: &Registry,
    io: &dyn ActionIo,
) -> Result<Results, ActionError> {
    match name {
        "push" => {
            let p = push::PushParams::parse(params, registry)?;
            block_on(name, push::run(p, registry, io))
        }
        "images" => {
            let p = images::ImagesParams::parse(params, registry)?;
            block_on(name, images::run(p, registry))
        }
        "rmi" => {
            let p = rmi::RmiParams::parse(params, registry)?;
            block_on(name, rmi::run(p, registry, io))
        }
        "mirror" => {
            let p = mirror::MirrorParams::parse(params, registry)?;
            block_on(name, mirror::run(p, registry, io))
        }
        "gc" => gc::run(registry, io),
        "info" => block_on(name, info::run(registry)),
        other => Err(ActionError::Unknown(other.to_string())),
    }
}

fn block_on<F: std::future::Future<Output = Result<Results, ActionError>>>(
    action: &str,
    fut: F,
) -> Result<Results, ActionError> {
    // Two workers: hashing and both sides' I/O overlap on the machine's cores.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ActionError::Failed {
            action: action.to_string(),
            message: format!("cannot start the async runtime: {e}"),
        })?;
    rt.block_on(fut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_keys() {
        for k in ["raw", "bytes-copied", "images.1.repository", "a-b.c0"] {
            assert!(is_valid_key(k), "{k}");
        }
        for k in ["", "Raw", "-a", "a-", "a..b", "a_b", "stdout", "a/b"] {
            assert!(!is_valid_key(k), "{k}");
        }
        let mut r = Results::default();
        r.set("b", "1");
        r.set("a", "2");
        r.set("b", "3");
        assert_eq!(r.iter().collect::<Vec<_>>(), [("b", "3"), ("a", "2")]);
    }
}
