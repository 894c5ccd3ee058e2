//! The charm's `dispatch` executable: environment → Context → charm::handle → exit code.
//!
//! Exit codes: 0 handled (or an unknown hook, skipped); 1 handling failed (Juju marks the
//! hook failed and retries it); 2 not started by Juju or a broken Juju environment.
//!
//! `dispatch supervise` is the built-in supervisor's watcher (machines without systemd):
//! a hook starts it detached, the service's spec on its stdin, and it keeps the service
//! running until it is told to stop (`workload::service::watch`).
//!
//! `dispatch metrics-proxy ...` is the long-lived service the charm starts to expose the
//! registry's `/metrics` and nothing else of its debug server ([`charm::metrics_proxy`]).

use std::error::Error as StdError;
use std::process::ExitCode;

use charm::juju::{self, Context, ContextError, HookTools};
use charm::workload::service::{watch, ServiceError, WATCH_COMMAND};
use tracing_subscriber::filter::LevelFilter;

const USAGE: &str = "\
docker-registry-charm: this program is the `dispatch` executable of the docker-registry
Juju charm. Juju (or jujusim) runs it once per hook or action, from the charm directory.
It reads the event from the environment and needs at least:
  JUJU_DISPATCH_PATH   hooks/<hook-name> or actions/<action-name>
  JUJU_UNIT_NAME       this unit, e.g. docker-registry/0
  JUJU_MODEL_NAME  JUJU_MODEL_UUID  JUJU_VERSION  JUJU_CHARM_DIR
plus the per-event variables (JUJU_RELATION_ID, JUJU_REMOTE_APP, JUJU_ACTION_NAME, ...),
and the Juju hook tools (juju-log, status-set, relation-get, ...) on PATH.
JUJU_DISPATCH_PATH is not set: run this only through Juju or `jujusim`.
(`supervise` is the registry's watcher, which the charm starts itself.)";

/// How a run ended; turned into an exit code in exactly one place.
enum Outcome {
    Done,
    NotUnderJuju,
    BadEnvironment(ContextError),
    Failed(charm::charm::Error),
    WatcherFailed(ServiceError),
}

fn run() -> Outcome {
    let mut args = std::env::args_os().skip(1);
    if let (Some(command), None) = (args.next(), args.next()) {
        if command == WATCH_COMMAND {
            return match watch::main(std::io::stdin().lock()) {
                Ok(()) => Outcome::Done,
                Err(e) => Outcome::WatcherFailed(e),
            };
        }
    }
    if std::env::var_os("JUJU_DISPATCH_PATH").is_none() {
        return Outcome::NotUnderJuju;
    }
    let ctx = match Context::from_env() {
        Ok(ctx) => ctx,
        Err(e) => return Outcome::BadEnvironment(e),
    };
    // DEBUG would reach only stderr, which Juju records at WARNING: keep it out.
    juju::log::init(LevelFilter::INFO);
    let tools = HookTools::from_path();
    match charm::charm::handle(&ctx, &tools) {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Failed(e),
    }
}

/// `top: cause: root cause` (ripgrep style). The charm's own errors print their cause in
/// their message and return none from `source()` (the crate's one convention), so each
/// cause prints once; the walk is for any error that does have sources.
fn chain(e: &dyn StdError) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(cause) = cur {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        cur = cause.source();
    }
    s
}

/// `dispatch metrics-proxy ...`: serves until killed; 1 when it cannot, 2 for bad usage.
fn metrics_proxy(args: &[String]) -> ExitCode {
    use charm::metrics_proxy::{self, Args, ProxyError};
    let result = Args::parse(args).and_then(|a| metrics_proxy::run(&a));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ ProxyError::Usage(_)) => {
            eprintln!("metrics-proxy: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("metrics-proxy: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("metrics-proxy") {
        return metrics_proxy(&args[1..]);
    }
    match run() {
        Outcome::Done => ExitCode::SUCCESS,
        Outcome::NotUnderJuju => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Outcome::BadEnvironment(e) => {
            // Logging is not set up yet (it needs a valid context), so stderr directly.
            eprintln!("docker-registry-charm: error: {}", chain(&e));
            ExitCode::from(2)
        }
        Outcome::Failed(e) => {
            // Through tracing so it reaches both stderr and juju-log, once.
            tracing::error!("hook failed: {}", chain(&e));
            ExitCode::from(1)
        }
        Outcome::WatcherFailed(e) => {
            // stderr is the registry's log, where the watcher writes.
            eprintln!("docker-registry-charm supervisor: error: {}", chain(&e));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use charm::juju::classify;

    #[test]
    fn chain_prints_each_cause_once() {
        let tool = classify("config-get", &[], Some(1), "ERROR boom\n");
        let e = charm::charm::Error::from(tool);
        assert_eq!(chain(&e), "`config-get` failed (exit status 1): ERROR boom");
    }

    #[test]
    fn a_cause_is_in_the_message_and_not_a_source_as_well() {
        let io = std::io::Error::from_raw_os_error(21);
        let e = charm::charm::Error::from(charm::workload::files::FilesError::Io {
            op: "read",
            path: "/etc/docker/".into(),
            cause: io,
        });
        assert!(e.source().is_none());
        assert_eq!(
            chain(&e),
            "could not read /etc/docker/: Is a directory (os error 21)"
        );
    }
}
