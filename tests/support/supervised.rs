//! A real registry under the built-in supervisor, in a temp dir and a network namespace of
//! the test's own (tests/workload_supervisor.rs, tests/supervisor_detach.rs).

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use charm::workload::{service_user, Service, ServiceSpec, ServiceStatus, Supervisor};

use super::net::PrivateLoopback;
use super::wait::eventually;

/// How long anything in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The supervisor's watcher: the charm binary cargo built for these tests, as a unit runs
/// it (`dispatch supervise`).
pub const WATCHER: &str = env!("CARGO_BIN_EXE_docker-registry-charm");

/// The registry's config, data, log and pid file in a temp dir; stopped on drop.
pub struct Fixture {
    _dir: tempfile::TempDir,
    /// Where the registry listens (127.0.0.1 in the test's namespace).
    pub addr: SocketAddr,
    /// The supervisor under test.
    pub sup: Supervisor,
    /// The namespace the port belongs to (more ports for the test).
    pub net: PrivateLoopback,
}

impl Fixture {
    /// A registry config in a temp dir the service user can read, storage it can write,
    /// listening on a port of a fresh network namespace (the calling thread moves there).
    pub fn new() -> Self {
        let net = PrivateLoopback::new();
        let dir = tempfile::tempdir().unwrap();
        let (uid, gid) = service_user().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
        let port = net.port();
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                data.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&config, fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(&config, Some(uid), Some(gid)).unwrap();
        Fixture {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            sup: Supervisor::new(spec_for(&config), Path::new(WATCHER)),
            net,
            _dir: dir,
        }
    }

    /// The config file the registry serves.
    pub fn config(&self) -> &str {
        &self.sup.spec().args[1]
    }

    /// The supervisor's pid file.
    pub fn pid_path(&self) -> PathBuf {
        self.sup.spec().pid_path.clone()
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.sup.spec().log_path).unwrap_or_default()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Never leave a registry behind, even when an assertion failed.
        let _ = self.sup.stop();
    }
}

/// The spec for a registry serving `config`, with its log and pid file beside it.
pub fn spec_for(config: &Path) -> ServiceSpec {
    let dir = config.parent().expect("the config is in a directory");
    let mut spec = ServiceSpec::registry(Path::new("/usr/bin/docker-registry"), config)
        .with_env("HTTP_PROXY", "http://proxy.invalid:3128");
    spec.log_path = dir.join("log/registry.log");
    spec.pid_path = dir.join("run/registry.pid");
    spec
}

/// Minimal HTTP/1.0 GET; returns the status code.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    reply.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until `GET /v2/` answers 200; returns how long it took.
pub fn wait_ready(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    eventually(&format!("GET /v2/ 200 from {addr}"), DEADLINE, || {
        (http_get(addr, "/v2/") == Some(200)).then_some(())
    });
    start.elapsed()
}

/// The pid of the running registry (panics when it is not running).
pub fn running_pid(sup: &Supervisor) -> u32 {
    match sup.status().unwrap() {
        ServiceStatus::Running { pid } => pid,
        other => panic!("expected Running, got {other:?}"),
    }
}
