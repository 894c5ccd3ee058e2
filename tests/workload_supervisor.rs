//! `Supervisor` with the real `docker-registry` binary: start, readiness, identity checks,
//! restart, stop, crash detection and pid files that must not be trusted.
//!
//! Each test has its own temp dir and port; all traffic is to 127.0.0.1.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use charm::workload::service::{read_stat, PidRecord};
use charm::workload::{service_user, Service, ServiceSpec, ServiceStatus, Supervisor};

const DEADLINE: Duration = Duration::from_secs(10);

struct Fixture {
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    sup: Supervisor,
}

impl Fixture {
    fn pid_path(&self) -> PathBuf {
        self.sup.spec().pid_path.clone()
    }
    fn log(&self) -> String {
        fs::read_to_string(&self.sup.spec().log_path).unwrap_or_default()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Never leave a registry behind, even when an assertion failed.
        let _ = self.sup.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A registry config in a temp dir the service user can read, storage it can write.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (uid, gid) = service_user().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
    let port = free_port();
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

    let mut spec = ServiceSpec::registry(Path::new("/usr/bin/docker-registry"), &config)
        .with_env("HTTP_PROXY", "http://proxy.invalid:3128");
    spec.log_path = dir.path().join("log/registry.log");
    spec.pid_path = dir.path().join("run/registry.pid");
    Fixture {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        sup: Supervisor::new(spec),
        _dir: dir,
    }
}

/// Minimal HTTP/1.0 GET; returns the status code.
fn http_get(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    reply.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `GET /v2/` until 200; returns how long it took.
fn wait_ready(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if http_get(addr, "/v2/") == Some(200) {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("registry on {addr} not ready after {DEADLINE:?}");
}

fn running_pid(sup: &Supervisor) -> u32 {
    match sup.status().unwrap() {
        ServiceStatus::Running { pid } => pid,
        other => panic!("expected Running, got {other:?}"),
    }
}

/// Polls until `check` holds or the deadline passes.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn proc_status_field(pid: u32, key: &str) -> String {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap()
}

fn gone_or_zombie(pid: u32) -> bool {
    read_stat(pid).unwrap().is_none_or(|st| !st.is_alive())
}

#[test]
fn start_status_restart_stop() {
    let fx = fixture();
    let (uid, gid) = service_user().unwrap();
    assert_eq!(fx.sup.status().unwrap(), ServiceStatus::Stopped);

    let t0 = Instant::now();
    fx.sup.start().unwrap();
    let spawned = t0.elapsed();
    let ready = wait_ready(fx.addr) + spawned;
    eprintln!("TIMING start() returned after {spawned:?}; GET /v2/ 200 after {ready:?}");

    let pid = running_pid(&fx.sup);
    // Runs as the service user, in its own session, detached from our stdio.
    assert_eq!(
        proc_status_field(pid, "Uid:").split_whitespace().next(),
        Some(&*uid.to_string())
    );
    assert_eq!(
        proc_status_field(pid, "Gid:").split_whitespace().next(),
        Some(&*gid.to_string())
    );
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let session: u32 = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(session, pid, "setsid: the registry leads its own session");
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/fd/0")).unwrap(),
        Path::new("/dev/null")
    );
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/fd/1")).unwrap(),
        fx.sup.spec().log_path
    );
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/fd/2")).unwrap(),
        fx.sup.spec().log_path
    );
    // Exactly the spec's environment: nothing leaks from the hook (or from cargo).
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
    let mut env: Vec<String> = environ
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    env.sort();
    assert_eq!(env.len(), 2, "{env:?}");
    assert_eq!(env[0], "HTTP_PROXY=http://proxy.invalid:3128");
    assert!(env[1].starts_with("PATH="));

    // The pid file identifies the process beyond its pid.
    let rec = PidRecord::parse(&fs::read_to_string(fx.pid_path()).unwrap()).unwrap();
    assert_eq!(rec.pid, pid);
    assert_eq!(
        Some(rec.start_time),
        read_stat(pid).unwrap().map(|s| s.start_time)
    );

    // Starting again is harmless: same process, still serving.
    fx.sup.start().unwrap();
    assert_eq!(running_pid(&fx.sup), pid);
    assert_eq!(http_get(fx.addr, "/v2/"), Some(200));

    let t0 = Instant::now();
    fx.sup.restart().unwrap();
    wait_ready(fx.addr);
    let restart_ready = t0.elapsed();
    let new_pid = running_pid(&fx.sup);
    assert_ne!(new_pid, pid);
    assert!(gone_or_zombie(pid));
    eprintln!("TIMING restart() to GET /v2/ 200: {restart_ready:?}");

    let t0 = Instant::now();
    fx.sup.stop().unwrap();
    eprintln!("TIMING stop() took {:?}", t0.elapsed());
    assert_eq!(read_stat(new_pid).unwrap(), None, "stopped and reaped");
    assert_eq!(fx.sup.status().unwrap(), ServiceStatus::Stopped);
    assert!(!fx.pid_path().exists());
    assert_eq!(http_get(fx.addr, "/v2/"), None, "nothing listens any more");
    // Stopping a stopped service is fine.
    fx.sup.stop().unwrap();

    let log = fx.log();
    assert!(log.contains("listening on 127.0.0.1"), "{log}");
    assert!(
        log.contains("\"GET /v2/ HTTP/1.0\" 200"),
        "access log on stdout: {log}"
    );
    assert_eq!(
        fs::metadata(&fx.sup.spec().log_path).unwrap().mode() & 0o777,
        0o640
    );
}

#[test]
fn killed_registry_is_reported_crashed_and_start_recovers() {
    let fx = fixture();
    fx.sup.start().unwrap();
    wait_ready(fx.addr);
    let pid = running_pid(&fx.sup);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually(
        "status Crashed after kill -9",
        || matches!(fx.sup.status().unwrap(), ServiceStatus::Crashed { pid: Some(p), .. } if p == pid),
    );
    assert!(
        fx.pid_path().exists(),
        "the pid file stays: the crash must be visible"
    );

    fx.sup.start().unwrap();
    wait_ready(fx.addr);
    assert_ne!(running_pid(&fx.sup), pid);
}

fn write_pid_file(fx: &Fixture, rec: &PidRecord) {
    fs::create_dir_all(fx.pid_path().parent().unwrap()).unwrap();
    fs::write(fx.pid_path(), rec.render()).unwrap();
}

fn sleeper() -> Child {
    Command::new("sleep").arg("60").spawn().unwrap()
}

#[test]
fn pid_file_pointing_at_an_unrelated_process_is_not_trusted() {
    let fx = fixture();
    let mut other = sleeper();
    let pid = other.id();
    let start_time = read_stat(pid).unwrap().unwrap().start_time;

    // Right pid and start time, but not the registry.
    write_pid_file(
        &fx,
        &PidRecord {
            pid,
            start_time,
            boot_id: None,
        },
    );
    let status = fx.sup.status().unwrap();
    assert!(
        matches!(&status, ServiceStatus::Crashed { reason, .. } if reason.contains("sleep")),
        "{status:?}"
    );
    fx.sup.stop().unwrap();
    assert!(
        other.try_wait().unwrap().is_none(),
        "stop must not signal a process that is not ours"
    );
    assert!(!fx.pid_path().exists());

    // A recycled pid: the start time differs.
    write_pid_file(
        &fx,
        &PidRecord {
            pid,
            start_time: start_time + 1,
            boot_id: None,
        },
    );
    assert!(matches!(
        fx.sup.status().unwrap(),
        ServiceStatus::Crashed { .. }
    ));
    fx.sup.stop().unwrap();
    assert!(other.try_wait().unwrap().is_none());

    // pid 1 with its real start time: status only (never risk signalling init).
    let init_start = read_stat(1).unwrap().unwrap().start_time;
    write_pid_file(
        &fx,
        &PidRecord {
            pid: 1,
            start_time: init_start,
            boot_id: None,
        },
    );
    assert!(matches!(
        fx.sup.status().unwrap(),
        ServiceStatus::Crashed { pid: Some(1), .. }
    ));

    // A pid file from another boot is stale whatever it points at.
    write_pid_file(
        &fx,
        &PidRecord {
            pid,
            start_time,
            boot_id: Some("not-this-boot".into()),
        },
    );
    assert!(matches!(
        fx.sup.status().unwrap(),
        ServiceStatus::Crashed { .. }
    ));

    // Garbage.
    fs::write(fx.pid_path(), "hello").unwrap();
    assert!(matches!(
        fx.sup.status().unwrap(),
        ServiceStatus::Crashed { pid: None, .. }
    ));

    // start() replaces any untrusted record with a real one.
    fx.sup.start().unwrap();
    wait_ready(fx.addr);
    assert_ne!(running_pid(&fx.sup), pid);
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn a_process_that_ignores_sigterm_is_killed_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ServiceSpec {
        name: "stubborn".into(),
        binary: "/usr/bin/perl".into(),
        args: vec!["-e".into(), "$SIG{TERM} = 'IGNORE'; sleep 60".into()],
        user: None,
        env: Vec::new(),
        log_path: dir.path().join("stubborn.log"),
        pid_path: dir.path().join("stubborn.pid"),
        stop_timeout: Duration::from_millis(300),
    };
    let sup = Supervisor::new(spec);
    sup.start().unwrap();
    let pid = running_pid(&sup);
    // Wait (observably) until perl ignores SIGTERM.
    eventually("SIGTERM ignored", || {
        fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigIgn:"))
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                    .is_some_and(|mask| mask & (1 << (15 - 1)) != 0)
            })
            .unwrap_or(false)
    });
    let t0 = Instant::now();
    sup.stop().unwrap();
    let took = t0.elapsed();
    eprintln!("TIMING stop() of a SIGTERM-ignoring process: {took:?}");
    assert!(
        took >= Duration::from_millis(300),
        "SIGKILL only after the timeout: {took:?}"
    );
    assert!(gone_or_zombie(pid));
    assert_eq!(sup.status().unwrap(), ServiceStatus::Stopped);
    // Nothing of its session is left: SIGKILL goes to the whole group.
    eventually("no live process left in the service's session", || {
        alive_in_session(pid).is_empty()
    });
}

/// Live processes whose session id is `sid`.
fn alive_in_session(sid: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
                .split_whitespace()
                .collect();
            fields[0] != "Z" && fields[3] == sid.to_string()
        })
        .collect()
}

#[test]
fn registry_that_fails_to_start_is_reported_crashed() {
    let fx = fixture();
    // Occupy the port: the registry exits 1 with "address already in use".
    let _squatter = TcpListener::bind(fx.addr).unwrap();
    fx.sup.start().unwrap();
    eventually("status Crashed after a bind failure", || {
        matches!(fx.sup.status().unwrap(), ServiceStatus::Crashed { .. })
    });
    eventually("the log says why", || {
        fx.log().contains("address already in use")
    });
}

/// Set by `start_returns_while_the_registry_keeps_running` when it runs this test binary as
/// a stand-in hook; the helper test below does nothing otherwise.
const HOOK_ENV: &str = "WORKLOAD_TEST_HOOK_CONFIG";

#[test]
fn helper_hook_that_starts_the_registry() {
    let Ok(config) = std::env::var(HOOK_ENV) else {
        return;
    };
    let mut spec = ServiceSpec::registry(Path::new("/usr/bin/docker-registry"), Path::new(&config));
    let dir = Path::new(&config).parent().unwrap();
    spec.log_path = dir.join("log/registry.log");
    spec.pid_path = dir.join("run/registry.pid");
    Supervisor::new(spec).start().unwrap();
    println!("hook done");
}

#[test]
fn start_returns_while_the_registry_keeps_running() {
    // A separate process plays the hook, with stdout/stderr on pipes as a unit agent (or
    // jujusim) would read them. The reader must see EOF when the hook exits, although the
    // registry it started keeps running.
    let fx = fixture();
    let config = fx.sup.spec().args[1].clone();
    let mut hook = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_hook_that_starts_the_registry",
            "--nocapture",
        ])
        .env(HOOK_ENV, &config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (hook.stdout.take().unwrap(), hook.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        out.read_to_string(&mut o).unwrap();
        err.read_to_string(&mut e).unwrap();
        tx.send((o, e)).unwrap();
    });
    let (stdout, stderr) = rx
        .recv_timeout(DEADLINE)
        .expect("the hook's pipes never reached EOF: the registry holds them");
    assert!(hook.wait().unwrap().success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("hook done"), "{stdout}");

    wait_ready(fx.addr);
    let pid = running_pid(&fx.sup);
    let ppid = read_stat(pid).unwrap().unwrap().ppid;
    assert_ne!(ppid, std::process::id(), "adopted by init, not our child");
    // Not our child: stop() must still see it go.
    fx.sup.stop().unwrap();
    assert!(gone_or_zombie(pid));
    assert_eq!(http_get(fx.addr, "/v2/"), None);
}
