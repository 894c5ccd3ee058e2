//! The docker-registry charm: a Juju machine charm for the CNCF distribution registry.
//!
//! Data flows one way: event → view → plan → apply → report (see [`charm`]).
//! `juju` is the only module that talks to Juju; `charm` decides, purely, and applies
//! through `workload`, where every machine effect sits behind a trait.

pub mod actions;
pub mod charm;
pub mod config;
pub mod htpasswd;
pub mod juju;
pub mod metrics_proxy;
pub mod probe;
pub mod registry_client;
pub mod relations;
pub mod render;
pub mod secret;
pub mod tls;
pub mod workload;
