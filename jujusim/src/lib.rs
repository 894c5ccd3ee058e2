//! jujusim: a local model of a Juju controller and unit agent.
pub mod machines;
