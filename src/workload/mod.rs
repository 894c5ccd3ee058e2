//! The charm's effects on the machine, behind narrow traits.
//!
//! Each effect (files, the registry service, packages, running commands) is a small trait with
//! one real implementation and one recording fake, like youki's `Syscall`. The real
//! implementation is chosen once per hook run, where the charm starts handling the event
//! (`charm::handle`, which fills `charm::Effects`), and passed down; nothing here checks
//! `cfg!(test)`.
//!
//! What that wiring amounts to on a real unit:
//!
//! ```text
//! let files = HostFiles;
//! let owner = service_user()?;                       // (uid, gid) of docker-registry
//! prepare_data_dir(&files, Path::new(DATA_DIR), owner)?;
//! let spec = ServiceSpec::registry(&registry_binary()?, Path::new(service::REGISTRY_CONFIG))
//!     .with_env("HTTPS_PROXY", proxy);
//! let service = for_host(detect(), spec);            // systemd or our Supervisor
//! ```
//!
//! The registry runs as `docker-registry`, so every file it reads (config.yml, htpasswd,
//! registry.key) must be readable by it: e.g. `FileSpec::mode(0o640).owned_by((0, gid))`.

pub mod command;
pub mod files;
pub mod legacy;
pub mod packages;
pub mod service;
pub mod users;

pub use command::{
    CommandError, CommandLine, CommandOutput, CommandRunner, HostRunner, RecordingRunner,
};
pub use files::{
    fingerprint, Changed, FileMeta, FileOp, FileSpec, Files, FilesError, HostFiles, Owner,
    RecordingFiles,
};
pub use legacy::{
    ContainerName, ContainerState, DockerCli, LegacyContainer, LegacyError, RecordingLegacy,
};
pub use packages::{
    registry_binary, registry_version, Apt, Packages, PackagesError, RecordingPackages,
};
pub use service::{
    detect, for_host, InitSystem, RecordingService, Service, ServiceCall, ServiceError,
    ServiceSpec, ServiceStatus, Supervisor, SystemdService,
};
pub use users::{prepare_data_dir, service_user, UsersError, DATA_DIR, SERVICE_USER};
