//! End-to-end test harness over the `jujusim` CLI (ripgrep `tests/util.rs` style).
//!
//! A [`Model`] owns a temp model directory, runs `jujusim --model DIR ...`, and on every
//! failure panics with the command line, its exit status, stdout, stderr and the model's
//! debug-log, so a red CI run explains itself. Dropping a `Model` runs `jujusim destroy`
//! (processes, namespaces, files), also when the test panicked.
//!
//! The harness itself is `harness.rs`, shared with the charm's end-to-end tests; this
//! module only says which jujusim binary to run.
#![allow(dead_code)]

use std::path::PathBuf;

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

mod harness;
pub use harness::*;
