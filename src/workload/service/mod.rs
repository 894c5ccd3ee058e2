//! The registry service: systemd when PID 1 is systemd, else our own supervisor.
//!
//! `detect()` runs once per hook run (in `charm::handle`) and the chosen `Service` is passed
//! down. The charm decides WHEN to restart (only on a real change); this module only does
//! what it is told, idempotently: starting a running service or stopping a stopped one
//! changes nothing.

mod proc;
mod supervisor;
mod systemd;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use proc::{parse_stat, read_cmdline, read_stat, ProcStat};
pub use supervisor::{PidFile, PidRecord, Supervisor, WATCH_COMMAND};
pub use systemd::{render_unit, SystemdService};

use super::command::{CommandError, HostRunner};
use super::files::{Files, FilesError};
use super::users::UsersError;

/// What a service is doing right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceStatus {
    /// Running as this pid.
    Running {
        /// The main process id.
        pid: u32,
    },
    /// Not running, and not expected to be (never started, or stopped).
    Stopped,
    /// Expected to run but does not: the process died, or the recorded pid is not ours.
    Crashed {
        /// The pid it had, when known.
        pid: Option<u32>,
        /// What was found instead.
        reason: String,
    },
}

impl ServiceStatus {
    /// True for `Running`.
    pub fn is_running(&self) -> bool {
        matches!(self, ServiceStatus::Running { .. })
    }
}

/// How to run the service. Serialized as JSON for the supervisor's watcher (its stdin).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceSpec {
    /// Service name (the systemd unit is `<name>.service`).
    pub name: String,
    /// Absolute path of the program.
    pub binary: PathBuf,
    /// Arguments, e.g. `["serve", "/etc/docker/registry/config.yml"]`.
    pub args: Vec<String>,
    /// Account to run as; `None` runs as the caller (root in a hook).
    pub user: Option<String>,
    /// The whole environment besides PATH (HTTP_PROXY, HTTPS_PROXY, SSL_CERT_FILE, ...).
    pub env: Vec<(String, String)>,
    /// stdout and stderr are appended here (supervisor only; systemd uses the journal).
    pub log_path: PathBuf,
    /// Where the supervisor records pid and start time.
    pub pid_path: PathBuf,
    /// How long `stop` waits after SIGTERM before SIGKILL.
    pub stop_timeout: Duration,
}

/// The registry's config path.
pub const REGISTRY_CONFIG: &str = "/etc/docker/registry/config.yml";
/// The supervisor's registry log.
pub const REGISTRY_LOG: &str = "/var/log/docker-registry/registry.log";
/// The supervisor's pid file.
pub const REGISTRY_PID: &str = "/run/docker-registry-charm/registry.pid";
/// The metrics proxy's log (supervisor only).
pub const METRICS_PROXY_LOG: &str = "/var/log/docker-registry/metrics-proxy.log";
/// The metrics proxy's pid file (supervisor only).
pub const METRICS_PROXY_PID: &str = "/run/docker-registry-charm/metrics-proxy.pid";

impl ServiceSpec {
    /// `<binary> serve <config>` as the `docker-registry` user, with the standard log and pid paths.
    pub fn registry(binary: &Path, config: &Path) -> Self {
        ServiceSpec {
            name: "docker-registry".into(),
            binary: binary.to_path_buf(),
            args: vec!["serve".into(), config.to_string_lossy().into_owned()],
            user: Some(super::users::SERVICE_USER.into()),
            env: Vec::new(),
            log_path: REGISTRY_LOG.into(),
            pid_path: REGISTRY_PID.into(),
            // Longer than the registry's drain (render::DRAIN_TIMEOUT), which lets
            // requests in flight finish before it exits.
            stop_timeout: Duration::from_secs(30),
        }
    }

    /// Where the supervisor's watcher records its pid: beside the program's pid file,
    /// `registry.pid` -> `registry.supervisor.pid`.
    pub fn watcher_pid_path(&self) -> PathBuf {
        self.pid_path.with_extension("supervisor.pid")
    }

    /// The charm's own `program` (its dispatch) run as `metrics-proxy` with `args` (from
    /// `metrics_proxy::Args::to_argv`): started as root, it binds and then drops to the
    /// user named in its arguments.
    pub fn metrics_proxy(program: &Path, args: Vec<String>) -> Self {
        ServiceSpec {
            name: "docker-registry-metrics".into(),
            binary: program.to_path_buf(),
            args,
            user: None,
            env: Vec::new(),
            log_path: METRICS_PROXY_LOG.into(),
            pid_path: METRICS_PROXY_PID.into(),
            stop_timeout: Duration::from_secs(5),
        }
    }

    /// Adds an environment variable.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// A service operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A file (pid file, log, unit) could not be handled.
    #[error(transparent)]
    Files(#[from] FilesError),
    /// The service user could not be resolved.
    #[error(transparent)]
    User(#[from] UsersError),
    /// The program could not be started.
    #[error("could not start {binary}: {cause}")]
    Spawn {
        /// The program.
        binary: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The log file could not be opened.
    #[error("could not open the service log {path}: {cause}")]
    Log {
        /// The log path.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// /proc could not be read.
    #[error("could not read /proc for pid {pid}: {cause}")]
    Proc {
        /// The pid.
        pid: u32,
        /// The OS error.
        cause: std::io::Error,
    },
    /// A signal could not be sent.
    #[error("could not send {signal} to pid {pid}: {cause}")]
    Signal {
        /// Signal name.
        signal: &'static str,
        /// The pid.
        pid: u32,
        /// The errno.
        cause: nix::Error,
    },
    /// The supervisor's watcher could not start or watch the program.
    #[error("the registry's supervisor: {reason}")]
    Watcher {
        /// What went wrong.
        reason: String,
    },
    /// The process outlived SIGTERM and SIGKILL.
    #[error("pid {pid} was still running {waited:?} after SIGTERM and SIGKILL; look at `ps -o stat,pid,cmd -p {pid}` (state D means stuck in the kernel)")]
    StopTimeout {
        /// The pid.
        pid: u32,
        /// Total time waited.
        waited: Duration,
    },
    /// systemctl failed.
    #[error("`{command}` failed ({status}):\n{stderr_tail}")]
    Systemctl {
        /// The command line.
        command: String,
        /// "exit N".
        status: String,
        /// The last lines of stderr.
        stderr_tail: String,
    },
    /// systemctl could not be run.
    #[error(transparent)]
    Run(#[from] CommandError),
    /// A failure injected into `RecordingService` by a test.
    #[error("could not {op} the service: injected failure")]
    Injected {
        /// The operation.
        op: &'static str,
    },
}

/// The registry as a service.
pub trait Service {
    /// Starts it; does nothing when it already runs.
    fn start(&self) -> Result<(), ServiceError>;
    /// Stops it; does nothing when it is not running.
    fn stop(&self) -> Result<(), ServiceError>;
    /// Stops (if running) and starts again, with the current spec.
    fn restart(&self) -> Result<(), ServiceError>;
    /// What it is doing now, checked live (never just a remembered pid).
    fn status(&self) -> Result<ServiceStatus, ServiceError>;
    /// The last `lines` lines it wrote (stdout and stderr), oldest first: where the
    /// registry says why it would not start.
    fn log_tail(&self, lines: usize) -> Result<Vec<String>, ServiceError>;
}

impl<S: Service + ?Sized> Service for Box<S> {
    fn start(&self) -> Result<(), ServiceError> {
        (**self).start()
    }
    fn stop(&self) -> Result<(), ServiceError> {
        (**self).stop()
    }
    fn restart(&self) -> Result<(), ServiceError> {
        (**self).restart()
    }
    fn status(&self) -> Result<ServiceStatus, ServiceError> {
        (**self).status()
    }
    fn log_tail(&self, lines: usize) -> Result<Vec<String>, ServiceError> {
        (**self).log_tail(lines)
    }
}

/// The last `lines` lines of `text`, oldest first.
pub fn last_lines(text: &str, lines: usize) -> Vec<String> {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// Which service manager this machine has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitSystem {
    /// PID 1 is systemd.
    Systemd,
    /// Anything else (containers, the test VMs): use our `Supervisor`.
    None,
}

/// Looks at this machine once: systemd when `/proc/1/comm` is `systemd` or `/run/systemd/system` exists.
pub fn detect() -> InitSystem {
    let comm = std::fs::read_to_string("/proc/1/comm").ok();
    decide_init(comm.as_deref(), Path::new("/run/systemd/system").is_dir())
}

/// The pure part of `detect`.
pub fn decide_init(pid1_comm: Option<&str>, run_systemd_system: bool) -> InitSystem {
    if run_systemd_system || pid1_comm.map(str::trim) == Some("systemd") {
        InitSystem::Systemd
    } else {
        InitSystem::None
    }
}

/// The real service for this machine: `SystemdService` or `Supervisor`, writing their
/// files (unit file, pid file) through `files`. `watcher` is the program the supervisor
/// runs as `<watcher> supervise` to watch the registry: this charm's own binary.
pub fn for_host<F: Files + 'static>(
    init: InitSystem,
    spec: ServiceSpec,
    files: F,
    watcher: &Path,
) -> Box<dyn Service> {
    match init {
        InitSystem::Systemd => Box::new(SystemdService::new(
            spec,
            files,
            HostRunner,
            Path::new(systemd::UNIT_DIR),
        )),
        InitSystem::None => Box::new(Supervisor::with_files(spec, watcher, files)),
    }
}

/// One call `RecordingService` saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceCall {
    /// `start()`.
    Start,
    /// `stop()`.
    Stop,
    /// `restart()`.
    Restart,
}

#[derive(Debug)]
struct FakeService {
    status: ServiceStatus,
    next_pid: u32,
    calls: Vec<ServiceCall>,
    fail_next: usize,
    log: Vec<String>,
}

/// In-memory `Service` that counts start/stop/restart calls (idempotence tests count restarts).
#[derive(Debug)]
pub struct RecordingService {
    state: Mutex<FakeService>,
}

impl Default for RecordingService {
    fn default() -> Self {
        RecordingService {
            state: Mutex::new(FakeService {
                status: ServiceStatus::Stopped,
                next_pid: 1000,
                calls: Vec::new(),
                fail_next: 0,
                log: Vec::new(),
            }),
        }
    }
}

impl RecordingService {
    /// A stopped service.
    pub fn new() -> Self {
        Self::default()
    }

    /// A service that is already running (as after an earlier hook).
    pub fn running() -> Self {
        let s = Self::new();
        s.lock().status = ServiceStatus::Running { pid: 999 };
        s
    }

    fn lock(&self) -> MutexGuard<'_, FakeService> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<ServiceCall> {
        self.lock().calls.clone()
    }

    /// Number of `start()` calls.
    pub fn starts(&self) -> usize {
        self.count(ServiceCall::Start)
    }

    /// Number of `stop()` calls.
    pub fn stops(&self) -> usize {
        self.count(ServiceCall::Stop)
    }

    /// Number of `restart()` calls.
    pub fn restarts(&self) -> usize {
        self.count(ServiceCall::Restart)
    }

    fn count(&self, call: ServiceCall) -> usize {
        self.lock().calls.iter().filter(|c| **c == call).count()
    }

    /// Simulates the process dying.
    pub fn crash(&self) {
        let mut st = self.lock();
        let pid = match st.status {
            ServiceStatus::Running { pid } => Some(pid),
            _ => None,
        };
        st.status = ServiceStatus::Crashed {
            pid,
            reason: "killed by the test".into(),
        };
    }

    /// Appends lines to what `log_tail` returns (the registry's output).
    pub fn log(&self, lines: &[&str]) {
        self.lock().log.extend(lines.iter().map(|l| l.to_string()));
    }

    /// Makes the next `n` calls fail.
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }

    fn call(&self, call: ServiceCall, op: &'static str) -> Result<(), ServiceError> {
        let mut st = self.lock();
        st.calls.push(call);
        if st.fail_next > 0 {
            st.fail_next -= 1;
            return Err(ServiceError::Injected { op });
        }
        match call {
            ServiceCall::Start if st.status.is_running() => {}
            ServiceCall::Start | ServiceCall::Restart => {
                st.next_pid += 1;
                st.status = ServiceStatus::Running { pid: st.next_pid };
            }
            ServiceCall::Stop => st.status = ServiceStatus::Stopped,
        }
        Ok(())
    }
}

impl Service for RecordingService {
    fn start(&self) -> Result<(), ServiceError> {
        self.call(ServiceCall::Start, "start")
    }
    fn stop(&self) -> Result<(), ServiceError> {
        self.call(ServiceCall::Stop, "stop")
    }
    fn restart(&self) -> Result<(), ServiceError> {
        self.call(ServiceCall::Restart, "restart")
    }
    fn status(&self) -> Result<ServiceStatus, ServiceError> {
        Ok(self.lock().status.clone())
    }
    fn log_tail(&self, lines: usize) -> Result<Vec<String>, ServiceError> {
        Ok(last_lines(&self.lock().log.join("\n"), lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_rules() {
        assert_eq!(decide_init(Some("systemd\n"), false), InitSystem::Systemd);
        assert_eq!(
            decide_init(Some("process_api\n"), true),
            InitSystem::Systemd
        );
        assert_eq!(decide_init(Some("process_api\n"), false), InitSystem::None);
        assert_eq!(decide_init(None, false), InitSystem::None);
    }

    #[test]
    fn recording_service_counts_and_tracks_state() {
        let s = RecordingService::new();
        s.start().unwrap();
        s.start().unwrap();
        let first = s.status().unwrap();
        s.restart().unwrap();
        assert_ne!(s.status().unwrap(), first);
        s.crash();
        assert!(matches!(s.status().unwrap(), ServiceStatus::Crashed { .. }));
        s.fail_next(1);
        assert!(s.stop().is_err());
        s.stop().unwrap();
        assert_eq!(s.status().unwrap(), ServiceStatus::Stopped);
        assert_eq!((s.starts(), s.restarts(), s.stops()), (2, 1, 2));
    }
}
