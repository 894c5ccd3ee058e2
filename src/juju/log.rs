//! Logging: a `tracing` layer that sends INFO and above to `juju-log`, so they appear in
//! `juju debug-log` at the right level, and writes to stderr only what did not reach
//! `juju-log` (Juju records a hook's stderr at WARNING: copying every line there would
//! show each message twice, the second time as a warning).
//!
//! Two guarantees: forwarding never recurses (a `juju-log` failure is reported straight
//! to stderr, never through `tracing`, and events raised while forwarding are not
//! forwarded again), and an absent `juju-log` costs one failed spawn, after which only
//! stderr is used.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};

use super::tools::{HookToolError, HookTools, ProcessRunner, ToolRunner};
use super::types::LogLevel;

thread_local! {
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` unless this thread is already inside it (then returns `None`): the guard that
/// stops `juju-log` forwarding from feeding on itself.
fn non_reentrant<T>(f: impl FnOnce() -> T) -> Option<T> {
    if FORWARDING.with(|g| g.replace(true)) {
        return None;
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            FORWARDING.with(|g| g.set(false));
        }
    }
    let _reset = Reset;
    Some(f())
}

/// A `tracing` layer writing to a stderr-like writer and to `juju-log`.
pub struct JujuLogLayer<R: ToolRunner, W: Write> {
    tools: HookTools<R>,
    stderr: Mutex<W>,
    juju_log_absent: AtomicBool,
}

impl<R: ToolRunner, W: Write> JujuLogLayer<R, W> {
    /// A layer that runs `juju-log` through `runner` and writes lines to `stderr`.
    pub fn new(runner: R, stderr: W) -> Self {
        JujuLogLayer {
            tools: HookTools::new(runner),
            stderr: Mutex::new(stderr),
            juju_log_absent: AtomicBool::new(false),
        }
    }

    fn write_stderr(&self, line: &str) {
        // A poisoned lock or a closed stderr must not take the hook down: drop the line.
        if let Ok(mut w) = self.stderr.lock() {
            let _ = writeln!(w, "{line}");
        }
    }

    /// Writes one formatted event to `juju-log` (INFO and above), or to stderr when it did
    /// not get there (more verbose levels, no `juju-log`, or `juju-log` failed).
    fn emit(&self, level: Level, message: &str) {
        let juju_level = LogLevel::from(level);
        let line = format!("{juju_level} {message}");
        // tracing orders levels by verbosity: ERROR < WARN < INFO < DEBUG < TRACE.
        if level > Level::INFO || self.juju_log_absent.load(Ordering::Relaxed) {
            self.write_stderr(&line);
            return;
        }
        let result = non_reentrant(|| self.tools.juju_log(juju_level, message));
        match result {
            Some(Ok(())) => {}
            // Raised while forwarding: stderr only, never juju-log again.
            None => self.write_stderr(&line),
            Some(Err(HookToolError::Spawn { cause, .. })) => {
                self.juju_log_absent.store(true, Ordering::Relaxed);
                self.write_stderr(&format!(
                    "WARNING juju-log cannot be run ({cause}); logging to stderr only"
                ));
                self.write_stderr(&line);
            }
            Some(Err(e)) => {
                self.write_stderr(&format!("WARNING {e}"));
                self.write_stderr(&line);
            }
        }
    }
}

impl<S, R, W> Layer<S> for JujuLogLayer<R, W>
where
    S: Subscriber,
    R: ToolRunner + Send + Sync + 'static,
    W: Write + Send + 'static,
{
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: LayerContext<'_, S>) {
        let mut line = Line::default();
        event.record(&mut line);
        self.emit(*event.metadata().level(), &line.finish());
    }
}

/// Collects an event's `message` first, then its other fields as ` key=value`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Line {
    fn finish(mut self) -> String {
        if self.message.is_empty() {
            return self.fields.trim_start().to_string();
        }
        self.message.push_str(&self.fields);
        self.message
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

/// Installs the global subscriber: events at `level` and above go to stderr, INFO and
/// above also to `juju-log` (found on PATH). A second call leaves the first in place.
pub fn init(level: LevelFilter) {
    let layer = JujuLogLayer::new(ProcessRunner::new(), io::stderr());
    let subscriber = tracing_subscriber::registry().with(level).with(layer);
    // Only fails if a subscriber is already installed, which is fine to keep.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    type Calls = Arc<Mutex<Vec<Vec<String>>>>;

    #[derive(Clone)]
    struct FakeRunner {
        calls: Calls,
        spawn_fails: bool,
    }

    impl ToolRunner for FakeRunner {
        fn run(
            &self,
            tool: &str,
            args: &[String],
            _stdin: Option<&[u8]>,
        ) -> Result<String, HookToolError> {
            let mut call = vec![tool.to_string()];
            call.extend(args.iter().cloned());
            self.calls.lock().unwrap().push(call);
            if self.spawn_fails {
                return Err(HookToolError::Spawn {
                    tool: tool.into(),
                    cause: io::Error::from(io::ErrorKind::NotFound),
                });
            }
            Ok(String::new())
        }
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn run_with(spawn_fails: bool, f: impl FnOnce()) -> (Vec<Vec<String>>, String) {
        let calls = Calls::default();
        let buf = Buf::default();
        let layer = JujuLogLayer::new(
            FakeRunner {
                calls: calls.clone(),
                spawn_fails,
            },
            buf.clone(),
        );
        let sub = tracing_subscriber::registry()
            .with(LevelFilter::DEBUG)
            .with(layer);
        tracing::subscriber::with_default(sub, f);
        let calls = calls.lock().unwrap().clone();
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        (calls, out)
    }

    #[test]
    fn info_and_above_go_to_juju_log_with_juju_levels() {
        let (calls, out) = run_with(false, || {
            tracing::trace!("not even stderr");
            tracing::debug!("only stderr");
            tracing::info!(unit = "app/0", "hello {}", 1);
            tracing::warn!("careful");
            tracing::error!("broken");
        });
        let expect = |lvl: &str, msg: &str| -> Vec<String> {
            ["juju-log", "--log-level", lvl, "--", msg]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        assert_eq!(
            calls,
            vec![
                expect("INFO", "hello 1 unit=app/0"),
                expect("WARNING", "careful"),
                expect("ERROR", "broken"),
            ]
        );
        // What reached juju-log is not repeated on stderr (Juju logs stderr at WARNING).
        assert_eq!(out, "DEBUG only stderr\n");
    }

    #[test]
    fn absent_juju_log_is_tried_once() {
        let (calls, out) = run_with(true, || {
            tracing::info!("one");
            tracing::info!("two");
            tracing::error!("three");
        });
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(out.matches("juju-log cannot be run").count(), 1, "{out}");
        assert!(
            out.contains("INFO two\n") && out.contains("ERROR three\n"),
            "{out}"
        );
    }

    #[test]
    fn forwarding_guard_blocks_reentry_and_resets() {
        assert_eq!(non_reentrant(|| non_reentrant(|| 1)), Some(None));
        assert_eq!(non_reentrant(|| 2), Some(2));
    }
}
