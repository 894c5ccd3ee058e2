//! The watcher: the long-lived half of the built-in supervisor.
//!
//! A hook cannot wait for the registry (it must exit), so `Supervisor::start` runs this
//! charm's own binary as `dispatch supervise` in a session of its own, the spec as JSON on
//! its stdin. The watcher starts the program, waits for it, and when it exits without
//! having been told to stop, starts it again after a bounded backoff ([`next_delay`]):
//! 1 s, then doubling up to 30 s while it keeps dying young, 1 s again once it ran for 10 s.
//!
//! Signals, all blocked and taken with `sigwait`, so none is lost between two waits:
//! - SIGTERM (or SIGINT): an intended stop (the `stop` action, removal, a restart). The
//!   program gets SIGTERM, SIGKILL after the spec's stop timeout, and the watcher exits
//!   without starting it again.
//! - SIGCHLD: the program exited; the watcher logs how and when it starts it again.
//! - SIGUSR1: a hook saw the program down and wants it back now: the pending wait ends.

use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::supervisor::{PidRecord, Supervisor};
use super::{ServiceError, ServiceSpec};
use crate::workload::files::HostFiles;

/// The first restart waits this long (as systemd's `RestartSec=1s`).
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two restarts.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// A program that ran this long was healthy: its next restart waits [`FIRST_DELAY`] again.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);
/// How often the watcher looks at the size of the program's log while it runs.
const LOG_CHECK_EVERY: Duration = Duration::from_secs(5);

/// How long to wait before starting the program again, after it ran for `ran` and the
/// previous wait (if it died young before) was `previous`.
pub fn next_delay(previous: Option<Duration>, ran: Duration) -> Duration {
    match previous {
        Some(d) if ran < STABLE_AFTER => (d * 2).clamp(FIRST_DELAY, MAX_DELAY),
        _ => FIRST_DELAY,
    }
}

/// How a program's exit reads in the log.
pub fn describe_exit(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("was killed by {}", signal.as_str()),
        other => format!("ended ({other:?})"),
    }
}

/// What ended a wait.
enum Woken {
    /// SIGTERM or SIGINT: stop for good.
    Stop,
    /// SIGCHLD.
    Child,
    /// SIGUSR1: start it now.
    Hurry,
    /// The time was up.
    Timeout,
}

/// Waits for one of the blocked `signals`, at most `limit` (`None`: no limit).
fn next_signal(signals: &SigSet, limit: Option<Duration>) -> Woken {
    let signal = match limit {
        None => signals.wait().ok(),
        Some(d) => {
            let ts = nix::libc::timespec {
                // Waits are at most MAX_DELAY; the cap keeps the cast obviously lossless.
                tv_sec: d.as_secs().min(3600).try_into().unwrap_or(3600),
                tv_nsec: d.subsec_nanos().into(),
            };
            // SAFETY: both pointers are valid for the call; a null info pointer is allowed.
            let n = unsafe { nix::libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), &ts) };
            Signal::try_from(n).ok()
        }
    };
    match signal {
        Some(Signal::SIGTERM | Signal::SIGINT) => Woken::Stop,
        Some(Signal::SIGCHLD) => Woken::Child,
        Some(Signal::SIGUSR1) => Woken::Hurry,
        // Timeout (EAGAIN), or EINTR: the caller looks at the clock.
        _ => Woken::Timeout,
    }
}

/// The watcher's main: reads the spec from stdin and watches until told to stop.
pub fn main(input: impl std::io::Read) -> Result<(), ServiceError> {
    let spec: ServiceSpec = serde_json::from_reader(input).map_err(|e| ServiceError::Watcher {
        reason: format!("no service spec on stdin: {e}"),
    })?;
    // The watcher's own program: it only verifies what it started, never itself.
    let me = std::env::current_exe().unwrap_or_default();
    watch(&Supervisor::with_files(spec, &me, HostFiles))
}

/// Starts the program and starts it again whenever it exits, until SIGTERM.
pub fn watch(sup: &Supervisor) -> Result<(), ServiceError> {
    let mut signals = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGCHLD,
        Signal::SIGUSR1,
    ] {
        signals.add(s);
    }
    // Blocked before the first child exists, so its SIGCHLD waits for us.
    signals
        .thread_block()
        .map_err(|cause| ServiceError::Signal {
            signal: "block",
            pid: std::process::id(),
            cause,
        })?;
    let binary = sup.spec().binary.display().to_string();
    let mut delay = None;
    let mut hurry = false;
    loop {
        let started = Instant::now();
        match sup.launch() {
            Ok(child) => {
                match wait_child(sup, &signals, &child, &mut hurry)? {
                    Some(how) => sup.note(&format!(
                        "{binary} (pid {}) {how} after {:.1?}",
                        child.pid,
                        started.elapsed()
                    )),
                    // Told to stop: the program is stopped and forgotten.
                    None => return Ok(()),
                }
            }
            Err(e) => sup.note(&format!("could not start {binary}: {e}")),
        }
        let d = match std::mem::take(&mut hurry) {
            true => Duration::ZERO,
            false => next_delay(delay, started.elapsed()),
        };
        // A hurried start counts as a first one for the backoff.
        delay = Some(d.max(FIRST_DELAY));
        if !d.is_zero() {
            sup.note(&format!("starting {binary} again in {d:?}"));
        }
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match next_signal(&signals, Some(left)) {
                Woken::Stop => return Ok(()),
                Woken::Hurry => break,
                Woken::Child | Woken::Timeout => {}
            }
        }
    }
}

/// Waits until the child exits (how, for the log) or a stop comes (`None`, once the
/// child is stopped and its pid file removed).
fn wait_child(
    sup: &Supervisor,
    signals: &SigSet,
    child: &PidRecord,
    hurry: &mut bool,
) -> Result<Option<String>, ServiceError> {
    let pid = Pid::from_raw(child.pid as i32);
    loop {
        match next_signal(signals, Some(LOG_CHECK_EVERY)) {
            Woken::Stop => {
                sup.terminate(child.pid, child.start_time)?;
                sup.forget(child)?;
                sup.note(&format!("stopped (pid {}) as asked", child.pid));
                return Ok(None);
            }
            Woken::Hurry => *hurry = true,
            Woken::Child => {}
            Woken::Timeout => match sup.trim_log() {
                Ok(true) => sup.note(&format!(
                    "moved the log to {}.1",
                    sup.spec().log_path.display()
                )),
                Ok(false) => {}
                Err(e) => sup.note(&format!("could not rotate the log: {e}")),
            },
        }
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => return Ok(Some(describe_exit(status))),
            // Already collected (ECHILD): it is gone all the same.
            Err(e) => return Ok(Some(format!("is gone ({e})"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_while_it_dies_young_and_resets_once_it_ran_a_while() {
        let young = Duration::from_millis(200);
        assert_eq!(next_delay(None, young), FIRST_DELAY);
        let mut d = None;
        let mut seen = Vec::new();
        for _ in 0..8 {
            let next = next_delay(d, young);
            seen.push(next.as_secs());
            d = Some(next);
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(next_delay(d, STABLE_AFTER), FIRST_DELAY);
        assert_eq!(
            next_delay(Some(MAX_DELAY), Duration::from_secs(3600)),
            FIRST_DELAY
        );
    }

    #[test]
    fn exits_read_plainly() {
        let pid = Pid::from_raw(7);
        assert_eq!(
            describe_exit(WaitStatus::Exited(pid, 2)),
            "exited with status 2"
        );
        assert_eq!(
            describe_exit(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            "was killed by SIGKILL"
        );
    }
}
