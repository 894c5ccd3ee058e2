//! jujusim: a local model of a Juju controller and unit agent.
//!
//! The model lives in a directory (`model`); the resolver (`resolver`) decides each
//! unit's next operations; the scheduler (`sched`) picks among runnable units from a seed
//! and keeps the simulated clock (leases, hook retries); the engine (`engine`) runs
//! hooks, actions and exec with Juju's environment on the units' machines (`machines`)
//! and commits their buffered changes (`context`); hook tools (`tools`) are this same binary invoked through symlinks;
//! `ops` are the operator's operations on the model and `cli` the juju-like command line
//! over them. Errors follow one convention (`error`).
//!
//! Where a change goes:
//! - a CLI command: a `Request` variant (`cli/args.rs`), its parser in the `COMMANDS`
//!   table (`cli/parse.rs`), what it does (`cli/commands.rs`, calling an `ops` function
//!   when it changes the model), and a pure view in `cli/views/` when it prints;
//! - a hook tool: a handler in the `tools/` file of its family and one `TOOLS` row (the
//!   model's tools dir links every name there); buffered effects are a `context::Change`
//!   folded into `Pending` and committed by `engine::apply_pending`;
//! - a model field: its struct in `model/` with `#[serde(default)]` (old model.json files
//!   must still load), the `Snapshot` (`engine/snapshot.rs`) if hooks read it, the views;
//! - an event sequence: what the agent has seen (`model::Seen`), the next operations
//!   (`resolver/mod.rs` `next_ops`: every choice where Juju leaves the order open),
//!   what the agent does as a hook starts and marking it done (`resolver/agent.rs`), a row
//!   in `resolver/tests.rs`; scheduling across units is `engine/settle.rs` with
//!   `sched/rng.rs`; anything due on the model clock (a lease lapse, a hook retry) is
//!   `sched/timers.rs`.
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
pub mod sched;
pub mod suggest;
pub mod tools;
pub mod yaml;

#[cfg(test)]
mod fixture;
