//! The view: everything one hook decides from, as values. The model (Juju's side), the
//! machine (files, service, package, user, the Python charm's container), what the unit
//! remembers, and fresh entropy drawn only where it may be needed. `read.rs` fills it;
//! the plan needs nothing else.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::Secret;
use crate::juju::Event;
use crate::relations::peer::HttpSecret;
use crate::tls::auto::AutoCa;
use crate::tls::Pem;
use crate::workload::files::FileMeta;
use crate::workload::legacy::{ContainerName, ContainerState};
use crate::workload::service::ServiceStatus;
use crate::workload::users::Account;

use super::local::{CsrRecord, LocalState};
use super::model::ModelView;

/// What a path held when the view read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Kind, mode and owner (a final symlink is not followed).
    pub meta: FileMeta,
    /// The contents; `None` for a directory, or a link to nothing readable.
    pub contents: Option<Vec<u8>>,
}

impl Entry {
    /// A regular file.
    pub fn file(contents: &[u8], mode: u32, owner: (u32, u32)) -> Self {
        Entry {
            meta: FileMeta {
                is_dir: false,
                is_symlink: false,
                mode,
                uid: owner.0,
                gid: owner.1,
            },
            contents: Some(contents.to_vec()),
        }
    }

    /// A directory.
    pub fn dir(mode: u32, owner: (u32, u32)) -> Self {
        Entry {
            meta: FileMeta {
                is_dir: true,
                is_symlink: false,
                mode,
                uid: owner.0,
                gid: owner.1,
            },
            contents: None,
        }
    }
}

/// The paths the plan decides from, each with what it held (`None`: nothing there).
pub type Observed = BTreeMap<PathBuf, Option<Entry>>;

/// The registry's version, as its binary says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// The version, e.g. `2.8.2+ds1`.
    Known(String),
    /// Why it could not be read.
    Unknown(String),
}

/// What the view saw of the Python charm's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Legacy {
    /// Not looked for: not install or upgrade-charm, and none remembered.
    NotDue,
    /// The name is one Docker refuses, so no container can have it.
    Unnamable(String),
    /// Looked for, and not there.
    Absent(ContainerName),
    /// There, in this state.
    Present(ContainerName, ContainerState),
    /// Docker could not say; the reason on one line.
    Unknown(ContainerName, String),
}

/// The machine as this hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineView {
    /// The registry binary, when the package is installed.
    pub binary: Option<PathBuf>,
    /// `<binary> --version`, read on install, upgrade-charm and start only.
    pub version: Option<Version>,
    /// The service user (it exists once the package is installed).
    pub account: Option<Account>,
    /// The machine's host name (certificate SANs).
    pub hostname: String,
    /// The registry service, checked live.
    pub service: ServiceStatus,
    /// The metrics proxy, checked live while metrics are on or it is remembered running.
    pub metrics: ServiceStatus,
    /// The charm's own program (`<charm dir>/dispatch`): the metrics proxy runs it.
    pub program: PathBuf,
    /// The files and directories the plan decides from.
    pub files: Observed,
    /// The Python charm's container.
    pub legacy: Legacy,
    /// A refused cache's upstream, when this hook asked it (see `upstream::due`).
    pub upstream: Option<super::upstream::Answer>,
}

impl MachineView {
    /// The text of a file the view read (`None`: nothing readable there, or not read).
    pub fn text(&self, path: &str) -> Option<String> {
        self.files
            .get(std::path::Path::new(path))
            .and_then(|e| e.as_ref())
            .and_then(|e| e.contents.as_deref())
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The private key at `path` as the view read it, else a new one, also kept in
    /// `drawn` for the plan to write: a key is made only where there is none.
    pub fn key_or_new(
        &self,
        path: &str,
        drawn: &mut Option<Secret>,
    ) -> Result<Secret, crate::tls::TlsError> {
        if let Some(key) = self.text(path) {
            return Ok(Secret::new(key));
        }
        let key = crate::tls::generate_key()?;
        *drawn = Some(key.clone());
        Ok(key)
    }
}

/// Entropy drawn for this hook; each only where the view saw it may be needed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fresh {
    /// A new shared HTTP secret: the leader has none to share yet.
    pub http_secret: Option<HttpSecret>,
    /// A new private key for certificate requests: there is none on disk.
    pub csr_key: Option<Secret>,
    /// A new certificate request: the published one does not match what is needed (or
    /// the key is new). Signatures are random, so it cannot be made in the plan.
    pub csr: Option<CsrRecord>,
    /// A bcrypt salt: basic auth is configured (the htpasswd entry may need rewriting).
    pub htpasswd_salt: Option<[u8; 16]>,
    /// tls-auto: a new CA (the leader has none to share yet).
    pub auto_ca: Option<AutoCa>,
    /// tls-auto: a new key for this unit (there is none on disk).
    pub auto_key: Option<Secret>,
    /// tls-auto: a new certificate for this unit (the one on disk must be replaced).
    pub auto_cert: Option<Pem>,
    /// Client certificates may be demanded: a new key for this unit's own client
    /// certificate (there is none on disk).
    pub client_key: Option<Secret>,
    /// Client certificates may be demanded: a new client certificate for this unit (the
    /// one on disk must be replaced).
    pub client_cert: Option<Pem>,
}

/// Everything one hook decides from.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The hook.
    pub event: Event,
    /// Juju's side.
    pub model: ModelView,
    /// The machine's side.
    pub machine: MachineView,
    /// What the unit remembered at the start of the hook, with the model's record as this
    /// hook read it.
    pub local: LocalState,
    /// Entropy.
    pub fresh: Fresh,
}

/// A second read in the same hook, after a plan that ended in `Then::ReadAgain`.
pub struct Again {
    /// The model as read the first time (the steps did not change it).
    pub model: ModelView,
    /// The package was installed by the steps: a missing binary is now an error.
    pub installed: bool,
}
