//! Operator operations: what each CLI command does to the model. Each one edits
//! model.json under its lock (and the machines, when units come or go); the caller then
//! settles, running the hooks now due.
mod deploy;
mod lifecycle;
mod relations;
mod subordinate;
mod unpack;

pub use deploy::{add_units, create_model, deploy, refresh, DeployArgs};
pub use lifecycle::{
    destroy, remove_application, remove_unit, resolve, set_config, set_leader, update_status,
};
pub use relations::{integrate, remove_relation};
pub use unpack::{copy_dir, replace_charm, unpack_charm};

use crate::charm::{BaseError, CharmError};
use crate::engine::EngineError;
use crate::machines::MachineError;
use crate::model::ModelError;
use crate::suggest::Similar;
use std::path::{Path, PathBuf};

/// Why an operation was refused or failed (all runtime errors: exit 1).
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// Running hooks.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Model state.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Machines.
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// Charm files or config values.
    #[error(transparent)]
    Charm(#[from] CharmError),
    /// No base the charm and Juju both run (Juju's words).
    #[error(transparent)]
    Base(#[from] BaseError),
    /// A file operation.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Copying a charm file.
    #[error("copying {from} to {to}")]
    Copy {
        /// Source.
        from: PathBuf,
        /// Destination.
        to: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// `deploy PATH` of something that is neither a directory nor a zip.
    #[error("{path} is neither a charm directory nor a .charm zip")]
    NotACharm {
        /// The path given.
        path: PathBuf,
        /// The zip reader's complaint.
        source: zip::result::ZipError,
    },
    /// A `.charm` zip that does not unpack.
    #[error("unpacking {path}")]
    Unzip {
        /// The archive.
        path: PathBuf,
        /// Why.
        source: zip::result::ZipError,
    },
    /// `refresh` to a charm that does not list the application's base (Juju's words).
    #[error("cannot upgrade application {app:?}: base {base:?} not supported by charm, the charm supported bases are: {supported}")]
    RefreshBase {
        /// The application.
        app: String,
        /// Its machines' base.
        base: String,
        /// The new charm's bases.
        supported: String,
    },
    /// `deploy` under a name already taken.
    #[error("application {0:?} already exists (remove it or deploy under another name: deploy CHARM OTHER-NAME)")]
    AppExists(String),
    /// No such application.
    #[error("application {0:?} not found")]
    AppNotFound(String),
    /// No such unit.
    #[error("unit {0:?} not found")]
    UnitNotFound(String),
    /// `set-leader` on a unit that is gone or going.
    #[error("unit {0:?} not found or dying")]
    UnitNotAlive(String),
    /// `resolve` on a unit that is fine.
    #[error("unit {0:?} is not in an error state")]
    NotInError(String),
    /// `update-status X` where X is neither a unit nor an application.
    #[error("no unit or application {0:?} in the model")]
    NoTarget(String),
    /// `integrate app:endpoint` naming an endpoint the charm lacks.
    #[error("application {app:?} has no {endpoint:?} relation{similar}")]
    NoEndpoint {
        /// Application.
        app: String,
        /// The endpoint as typed.
        endpoint: String,
        /// Endpoints close to it.
        similar: Similar,
    },
    /// `integrate a b` where no endpoints pair up.
    #[error("no relations found between {a} and {b}: no provides/requires pair shares an interface; {a} offers [{a_offers}], {b} offers [{b_offers}]")]
    NoMatch {
        /// First side as typed.
        a: String,
        /// Second side as typed.
        b: String,
        /// The first side's endpoints.
        a_offers: String,
        /// The second side's endpoints.
        b_offers: String,
    },
    /// `integrate a b` where several endpoint pairs fit.
    #[error("ambiguous relation: \"{a} {b}\" could refer to {candidates}; name the endpoints (APP:ENDPOINT)")]
    Ambiguous {
        /// First side as typed.
        a: String,
        /// Second side as typed.
        b: String,
        /// The pairs that fit, quoted.
        candidates: String,
    },
    /// `integrate` of a pair already related (`a:x b:y`).
    #[error("relation {0} already exists")]
    RelationExists(String),
    /// `remove-relation` matching nothing (the spec as typed).
    #[error("relation \"{0}\" not found (see `jujusim status --relations`)")]
    RelationNotFound(String),
    /// A storage location jujusim's machines cannot keep private.
    #[error("storage {name:?}: location {location} is outside the directories jujusim machines keep private (/etc, /var/lib, /var/log, /run, /srv); making it would change the host")]
    StorageLocation {
        /// The store.
        name: String,
        /// Its location.
        location: String,
    },
    /// `remove-unit` of a subordinate unit.
    #[error("unit {0:?} is a subordinate: it goes with its principal unit, or with the relation to its principal (remove-relation)")]
    SubordinateUnit(String),
    /// `add-unit` of a subordinate application.
    #[error("cannot add units to subordinate application {0:?}: it gets one unit per principal unit through a container-scoped relation (integrate)")]
    SubordinateAddUnit(String),
    /// A container-scoped relation with no subordinate on either side.
    #[error("cannot relate {a} and {b}: a container-scoped relation needs a subordinate application on one side")]
    ContainerWithoutSubordinate {
        /// First endpoint (`app:endpoint`).
        a: String,
        /// Second endpoint.
        b: String,
    },
    /// `remove-relation` matching several relations (the spec as typed).
    #[error("ambiguous relation \"{0}\": name the endpoints (APP:ENDPOINT)")]
    AmbiguousRemoval(String),
}

impl OpError {
    fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OpError {
        let path = path.to_path_buf();
        move |source| OpError::Io { what, path, source }
    }
}
