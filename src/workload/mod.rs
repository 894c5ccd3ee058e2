//! The charm's effects on the machine, behind narrow traits.
//!
//! Each effect (files, the registry service, packages, running commands, the Python
//! charm's container) is a small trait with one real implementation and one recording
//! fake, like youki's `Syscall`. The real implementations are chosen once, in
//! `charm::handle`, and passed down in `charm::Effects`; nothing here checks `cfg!(test)`.
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
pub use users::{
    prepare_data_dir, service_account, service_user, Account, UsersError, DATA_DIR, SERVICE_USER,
};
