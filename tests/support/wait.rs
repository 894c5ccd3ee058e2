//! Waiting on a condition: poll until it holds, fail when a bounded deadline passes.
//!
//! Tests never sleep to pass: they wait on what they need to see, and a deadline turns a
//! hang into a failure that says what was awaited.

use std::time::{Duration, Instant};

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(5);

/// Polls `f` until it returns `Some`, and returns that value; panics naming `what` when
/// `limit` passes first. `f` runs at least once, and once more after the deadline, so a
/// slow machine that got there just in time still passes.
pub fn eventually<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            if let Some(v) = f() {
                return v;
            }
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(POLL);
    }
}
