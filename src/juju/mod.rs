//! The only code that talks to Juju: hook-tool client and the event read from the environment.

pub mod event;
pub mod log;
pub mod secrets;
pub mod tools;
pub mod types;

pub use event::{Context, ContextError, Event, RelationKind, SecretKind};
pub use secrets::{SecretContent, SecretInfo};
pub use tools::{
    classify, BindAddress, HookToolError, HookTools, InterfaceAddress, NetworkInfo, ProcessRunner,
    ToolRunner,
};
pub use types::{
    AppName, Databag, LogLevel, ParseError, Port, PortRange, Protocol, RelationId, SecretUri,
    Status, StatusKind, UnitName,
};
