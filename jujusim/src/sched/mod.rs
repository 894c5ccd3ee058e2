//! Scheduling like Juju: every unit agent decides its own next operation (`resolver`),
//! and the engine picks which runnable agent goes next, and which of the choices Juju
//! leaves open it takes, from one seed per command (`rng`). Time is simulated
//! (`timers`): each operation is a step of the model clock, and an idle model moves it
//! on to the next leadership lease lapse or automatic hook retry.
mod rng;
mod timers;

pub use rng::{Picker, Seed, SeedError};
pub use timers::{fire_due, next_due, retry_delay_ms, Fired, HORIZON_MS, LEASE_LAPSE_MS, STEP_MS};
