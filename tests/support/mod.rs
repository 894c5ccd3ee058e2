//! The one test support module of the charm crate; every test binary includes it with
//! `mod support;` and uses what it needs.
//!
//! - [`wait::eventually`]: the one way to wait for a condition, always with a deadline.
//! - [`net::PrivateLoopback`]: ports without races (a network namespace per test).
//! - [`supervised::Fixture`]: a real registry under the built-in supervisor.
//! - [`fake_tools::FakeTools`]: hook tools as recording scripts on PATH (tests of `juju/`).
//! - [`fake_juju::FakeJuju`]: an in-memory Juju behind the `ToolRunner` seam (scenarios).
//! - [`jujusim`]: the end-to-end harness over the `jujusim` CLI and its test charms.
//! - [`clients`]: skopeo, curl and test images for end-to-end tests.
//! - [`haproxy`]: how haproxy reads what the charm publishes on `website`.
//! - [`load`]: `examples/ha_load.rs`, a bounded load through haproxy during a test.
//! - [`pki::Pki`]: a CA and certificates from openssl for end-to-end tests.
//! - [`swift`]: the swift test charm, a real Swift (and s3api) for shared storage.
#![allow(dead_code)] // each test binary uses a different subset

pub mod clients;
pub mod fake_juju;
pub mod fake_tools;
pub mod haproxy;
pub mod jujusim;
pub mod load;
pub mod net;
pub mod pki;
pub mod supervised;
pub mod swift;
pub mod wait;

#[allow(unused_imports)] // re-exported for the tests of `juju/`
pub use fake_tools::{strings, Call, FakeTools, ALL_TOOLS};
