//! jujusim: a local model of a Juju controller and unit agent.
//!
//! The model lives in a directory (`model.rs`); the resolver (`resolver.rs`) decides
//! each unit's next hook; the engine (`engine.rs`) runs hooks/actions with Juju's
//! environment and commits their buffered changes; hook tools (`tools.rs`) are this
//! same binary invoked through symlinks; `cli.rs` is the juju-like command line.
pub mod charm;
pub mod cli;
pub mod context;
pub mod engine;
pub mod flags;
pub mod machines;
pub mod model;
pub mod ops;
pub mod ports;
pub mod resolver;
pub mod tools;
pub mod yaml;

#[cfg(test)]
mod fixture;
