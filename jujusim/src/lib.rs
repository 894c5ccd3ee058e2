//! jujusim: a local model of a Juju controller and unit agent.
//!
//! The model lives in a directory (`model`); the resolver (`resolver`) decides each
//! unit's next hook; the engine (`engine`) runs hooks, actions and exec with Juju's
//! environment on the units' machines (`machines`) and commits their buffered changes
//! (`context`); hook tools (`tools`) are this same binary invoked through symlinks;
//! `ops` are the operator's operations on the model and `cli` the juju-like command line
//! over them. Errors follow one convention (`error`).
pub mod charm;
pub mod cli;
pub mod context;
pub mod engine;
pub mod error;
pub mod flags;
pub mod machines;
pub mod model;
pub mod ops;
pub mod ports;
pub mod resolver;
pub mod suggest;
pub mod tools;
pub mod yaml;

#[cfg(test)]
mod fixture;
