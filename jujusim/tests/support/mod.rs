//! The one test support module of jujusim's tests (ripgrep `tests/util.rs` style).
//!
//! `harness.rs` is the end-to-end harness over the `jujusim` CLI, shared with the charm's
//! tests (they include it with `#[path]`); this module says which binary it runs and where
//! the test charms are. `machines.rs` drives [`jujusim::machines`] directly, for tests of
//! the namespaces and of the test charms' scripts below the engine. `tiny.rs` is the
//! inline charm of the engine and hook-tool tests.
#![allow(dead_code)] // each test binary uses a different part

pub mod machines;
pub mod tiny;

use std::path::{Path, PathBuf};

/// The jujusim binary cargo built for this package.
const BUILT: &str = env!("CARGO_BIN_EXE_jujusim");

/// The jujusim binary: `$JUJUSIM_BIN`, else [`BUILT`].
pub fn jujusim_bin() -> PathBuf {
    let bin = std::env::var_os("JUJUSIM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(BUILT));
    assert!(
        bin.is_file(),
        "no jujusim binary at {}: run `cargo build -p jujusim` or set JUJUSIM_BIN",
        bin.display()
    );
    bin
}

/// `jujusim/testcharms`.
pub fn testcharms_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testcharms")
}

mod harness;
pub use harness::*;
