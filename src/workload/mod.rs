//! The charm's effects on the machine, behind narrow traits.
//!
//! Each effect (files, the registry service, packages, running commands) is a small trait with
//! one real implementation and one recording fake, like youki's `Syscall`. The real
//! implementation is chosen once (in `main.rs`) and passed down; nothing here checks
//! `cfg!(test)`.

pub mod command;
pub mod files;
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
pub use packages::{
    registry_binary, registry_version, Apt, Packages, PackagesError, RecordingPackages,
};
pub use service::{
    detect, for_host, InitSystem, RecordingService, Service, ServiceCall, ServiceError,
    ServiceSpec, ServiceStatus, Supervisor, SystemdService,
};
pub use users::{prepare_data_dir, service_user, UsersError, DATA_DIR, SERVICE_USER};
