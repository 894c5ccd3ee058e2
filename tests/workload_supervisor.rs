//! `Supervisor` with the real `docker-registry` binary: start, readiness, identity checks,
//! restart, stop, crash detection and pid files that must not be trusted.
//!
//! Each test has its own temp dir and network namespace (so its own ports); all traffic
//! is to 127.0.0.1 there. The detached-start test (a hook process that starts the
//! registry and exits) is tests/supervisor_detach.rs.

mod support;

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use charm::workload::service::{read_stat, PidRecord};
use charm::workload::{
    service_user, Changed, FileMeta, FileSpec, Files, FilesError, HostFiles, Owner, Service,
    ServiceSpec, ServiceStatus, Supervisor,
};
use nix::sys::signal::Signal;
use support::supervised::{http_get, running_pid, wait_ready, Fixture, DEADLINE, WATCHER};
use support::wait::eventually;

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
    let fx = Fixture::new();
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
    let fx = Fixture::new();
    fx.sup.start().unwrap();
    wait_ready(fx.addr);
    let pid = running_pid(&fx.sup);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually("status Crashed after kill -9", DEADLINE, || {
        matches!(fx.sup.status().unwrap(), ServiceStatus::Crashed { pid: Some(p), .. } if p == pid)
            .then_some(())
    });
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
    let fx = Fixture::new();
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
    let sup = Supervisor::new(spec, Path::new(WATCHER));
    sup.start().unwrap();
    let pid = running_pid(&sup);
    // Wait (observably) until perl ignores SIGTERM.
    eventually("SIGTERM ignored", DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigIgn:"))
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                    .is_some_and(|mask| mask & (1 << (15 - 1)) != 0)
            })
            .unwrap_or(false)
            .then_some(())
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
    eventually(
        "no live process left in the service's session",
        DEADLINE,
        || alive_in_session(pid).is_empty().then_some(()),
    );
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
    let fx = Fixture::new();
    // Occupy the port: the registry exits 1 with "address already in use".
    let _squatter = TcpListener::bind(fx.addr).unwrap();
    fx.sup.start().unwrap();
    eventually("status Crashed after a bind failure", DEADLINE, || {
        matches!(fx.sup.status().unwrap(), ServiceStatus::Crashed { .. }).then_some(())
    });
    eventually("the log says why", DEADLINE, || {
        fx.log().contains("address already in use").then_some(())
    });
    // The charm reads that line back through the service (issue 17: a refused config is
    // blocked quoting the registry's own words).
    let tail = fx.sup.log_tail(80).unwrap();
    let line = charm::charm::refusal::error_line(&tail, std::time::SystemTime::UNIX_EPOCH, None)
        .unwrap_or_else(|| panic!("no error line in {tail:#?}"));
    assert!(line.contains("address already in use"), "{line}");
}

/// The supervisor's watcher process, from its pid file (panics when it has none).
fn watcher_pid(fx: &Fixture) -> u32 {
    let path = fx.sup.spec().watcher_pid_path();
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no watcher pid file {}: {e}", path.display()));
    PidRecord::parse(&text).unwrap().pid
}

fn sigkill(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

#[test]
fn a_killed_registry_answers_again_within_seconds_with_nobody_asking() {
    let fx = Fixture::new();
    fx.sup.start().unwrap();
    wait_ready(fx.addr);
    let pid = running_pid(&fx.sup);
    let watcher = watcher_pid(&fx);
    assert_eq!(
        read_stat(pid).unwrap().unwrap().ppid,
        watcher,
        "the watcher is the registry's parent"
    );

    // Killed behind everyone's back; nothing here calls the supervisor until it answers.
    sigkill(pid);
    let t0 = Instant::now();
    eventually("the killed registry to die", DEADLINE, || {
        gone_or_zombie(pid).then_some(())
    });
    eventually("GET /v2/ 200 from a new registry", DEADLINE, || {
        (http_get(fx.addr, "/v2/") == Some(200)).then_some(())
    });
    let back = t0.elapsed();
    eprintln!("TIMING SIGKILL to GET /v2/ 200 again, no hook: {back:?}");
    assert!(
        back < Duration::from_secs(5),
        "back after {back:?}; the watcher waits 1 s before the first restart"
    );
    let new_pid = running_pid(&fx.sup);
    assert_ne!(new_pid, pid);
    assert_eq!(watcher_pid(&fx), watcher, "the same watcher restarted it");
    let log = fx.log();
    assert!(
        log.contains(&format!("(pid {pid}) was killed by SIGKILL")),
        "the log says what happened: {log}"
    );

    // An intended stop is not undone: the watcher exits with the registry, so nothing is
    // left that could start it again.
    fx.sup.stop().unwrap();
    assert!(gone_or_zombie(watcher), "the watcher outlived stop()");
    assert!(gone_or_zombie(new_pid), "the registry outlived stop()");
    assert_eq!(fx.sup.status().unwrap(), ServiceStatus::Stopped);
    assert!(!fx.sup.spec().watcher_pid_path().exists());
    assert_eq!(http_get(fx.addr, "/v2/"), None);
    assert!(fx.log().contains("as asked"), "{}", fx.log());
}

#[test]
fn a_registry_that_keeps_dying_is_started_again_with_a_growing_delay_until_stopped() {
    let fx = Fixture::new();
    // The port is taken: every start exits 1 at once ("address already in use").
    let squatter = TcpListener::bind(fx.addr).unwrap();
    fx.sup.start().unwrap();
    let watcher = watcher_pid(&fx);
    eventually(
        "two restarts, the second after a longer wait",
        DEADLINE,
        || {
            let log = fx.log();
            (log.contains("again in 1s") && log.contains("again in 2s")).then_some(())
        },
    );
    assert!(matches!(
        fx.sup.status().unwrap(),
        ServiceStatus::Crashed { reason, .. } if reason.contains("its supervisor")
    ));

    // A hook's start() while the watcher waits: started now, not after the backoff.
    drop(squatter);
    let t0 = Instant::now();
    fx.sup.start().unwrap();
    wait_ready(fx.addr);
    eprintln!(
        "TIMING start() during the backoff to GET /v2/ 200: {:?}",
        t0.elapsed()
    );
    assert_eq!(watcher_pid(&fx), watcher, "the waiting watcher started it");

    // Stopped while it waits between two starts: nothing comes back.
    let pid = running_pid(&fx.sup);
    sigkill(pid);
    eventually("the watcher to notice the exit", DEADLINE, || {
        fx.log()
            .contains(&format!("(pid {pid}) was killed by SIGKILL"))
            .then_some(())
    });
    fx.sup.stop().unwrap();
    assert!(gone_or_zombie(watcher), "the watcher outlived stop()");
    assert_eq!(fx.sup.status().unwrap(), ServiceStatus::Stopped);
    assert_eq!(http_get(fx.addr, "/v2/"), None);
}

/// A process whose main thread has exited (its leader shows `Z`) while another thread
/// still holds its listening socket, as a Go registry does for a moment while it exits:
/// `stop` must not return until the port is free, or the next start cannot bind it.
#[test]
fn stop_returns_only_once_every_thread_is_gone_and_the_port_is_free() {
    let net = support::net::PrivateLoopback::new();
    let port = net.port();
    let dir = tempfile::tempdir().unwrap();
    // The main thread ends with pthread_exit (through ctypes, which lets go of the
    // interpreter lock): the process lives on in its other thread, port held.
    let script = format!(
        "import ctypes, socket, threading, time\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port}))\n\
         s.listen()\n\
         threading.Thread(target=lambda: time.sleep(60)).start()\n\
         ctypes.CDLL(None).pthread_exit(None)\n"
    );
    let spec = ServiceSpec {
        name: "half-exited".into(),
        binary: fs::canonicalize("/usr/bin/python3").unwrap(),
        args: vec!["-c".into(), script],
        user: None,
        env: Vec::new(),
        log_path: dir.path().join("half-exited.log"),
        pid_path: dir.path().join("half-exited.pid"),
        stop_timeout: Duration::from_secs(5),
    };
    let sup = Supervisor::new(spec, Path::new(WATCHER));
    sup.start().unwrap();
    let pid = running_pid(&sup);
    eventually(
        "the main thread exited, the port still held",
        DEADLINE,
        || {
            let leader_gone = read_stat(pid).unwrap().is_some_and(|st| !st.is_alive());
            let held = TcpListener::bind(("127.0.0.1", port)).is_err();
            (leader_gone && held).then_some(())
        },
    );
    assert!(
        sup.status().unwrap().is_running(),
        "a process with a live thread still runs"
    );
    sup.stop().unwrap();
    TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("stop() returned while port {port} was still held: {e}"));
    assert_eq!(sup.status().unwrap(), ServiceStatus::Stopped);
}

/// The `Files` methods a test wrapper leaves to the host as they are (all but read/write).
macro_rules! host_files_for_the_rest {
    () => {
        fn remove(&self, path: &Path) -> Result<Changed, FilesError> {
            HostFiles.remove(path)
        }
        fn ensure_dir(
            &self,
            path: &Path,
            mode: u32,
            owner: Option<Owner>,
        ) -> Result<Changed, FilesError> {
            HostFiles.ensure_dir(path, mode, owner)
        }
        fn exists(&self, path: &Path) -> Result<bool, FilesError> {
            HostFiles.exists(path)
        }
        fn stat(&self, path: &Path) -> Result<Option<FileMeta>, FilesError> {
            HostFiles.stat(path)
        }
        fn chown_tree(&self, path: &Path, owner: Owner) -> Result<Changed, FilesError> {
            HostFiles.chown_tree(path, owner)
        }
    };
}

/// The unit's files, except that the second read of the registry's pid file returns only
/// once the (stopped) watcher, let go at that moment, has started a new registry: the
/// watcher's own restart falling between two reads of a hook's `start()`.
struct RelaunchBetweenReads {
    pid_path: std::path::PathBuf,
    watcher: u32,
    first: std::cell::RefCell<Option<Option<Vec<u8>>>>,
    reads: std::cell::Cell<u32>,
}

impl Files for RelaunchBetweenReads {
    fn write(&self, path: &Path, contents: &[u8], spec: FileSpec) -> Result<Changed, FilesError> {
        HostFiles.write(path, contents, spec)
    }
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, FilesError> {
        if path == self.pid_path {
            self.reads.set(self.reads.get() + 1);
            match self.reads.get() {
                1 => {
                    let now = HostFiles.read(path)?;
                    *self.first.borrow_mut() = Some(now.clone());
                    return Ok(now);
                }
                2 => {
                    signal(self.watcher, Signal::SIGCONT);
                    let first = self.first.borrow().clone().flatten();
                    eventually("the watcher to start a new registry", DEADLINE, || {
                        (HostFiles.read(path).unwrap() != first).then_some(())
                    });
                }
                _ => {}
            }
        }
        HostFiles.read(path)
    }
    host_files_for_the_rest!();
}

fn signal(pid: u32, signal: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
}

/// A hook's `start()` finds the registry dead, and the watcher starts a new one before the
/// hook asks it to: `start()` returns at once with that registry serving (it waited 5 s
/// and failed when it compared the new registry against itself).
#[test]
fn a_start_that_races_the_watchers_own_restart_succeeds() {
    let fx = Fixture::new();
    fx.sup.start().unwrap();
    wait_ready(fx.addr);
    let pid = running_pid(&fx.sup);
    let watcher = watcher_pid(&fx);
    // The watcher holds still until the hook has read the pid file once.
    signal(watcher, Signal::SIGSTOP);
    sigkill(pid);
    eventually("the killed registry to die", DEADLINE, || {
        gone_or_zombie(pid).then_some(())
    });
    let files = RelaunchBetweenReads {
        pid_path: fx.pid_path(),
        watcher,
        first: Default::default(),
        reads: Default::default(),
    };
    let hook = Supervisor::with_files(fx.sup.spec().clone(), Path::new(WATCHER), files);
    let t0 = Instant::now();
    let started = hook.start();
    // Whatever happened, the watcher runs again (the fixture's stop needs it).
    signal(watcher, Signal::SIGCONT);
    started.unwrap_or_else(|e| panic!("start() failed after {:?}: {e}", t0.elapsed()));
    wait_ready(fx.addr);
    assert_ne!(running_pid(&fx.sup), pid);
    assert_eq!(watcher_pid(&fx), watcher, "the same watcher restarted it");
}

/// A registry that runs for weeks writes its access log (haproxy's checks alone: about
/// 1 KB a second per proxy) to one file: past 10 MiB the watcher moves the content to
/// `<log>.1` while the registry keeps writing, to the same path, from the start.
#[test]
fn a_long_running_registrys_log_is_rotated_while_it_writes() {
    use std::io::Write;
    let fx = Fixture::new();
    fx.sup.start().unwrap();
    wait_ready(fx.addr);
    let pid = running_pid(&fx.sup);
    let log = fx.sup.spec().log_path.clone();
    let old = log.with_extension("log.1");
    let mut file = fs::OpenOptions::new().append(true).open(&log).unwrap();
    let line = format!("{}\n", "x".repeat(1023));
    for _ in 0..(10 * 1024 + 1) {
        file.write_all(line.as_bytes()).unwrap();
    }
    drop(file);
    eventually("the log to be rotated", DEADLINE, || {
        let rotated = fs::metadata(&old).is_ok_and(|m| m.len() > 10 * 1024 * 1024);
        let small = fs::metadata(&log).is_ok_and(|m| m.len() < 1024 * 1024);
        (rotated && small).then_some(())
    });
    // The registry writes on, at the start of the same file.
    assert_eq!(http_get(fx.addr, "/v2/rotated-probe"), Some(404));
    eventually("the registry's next line in the log", DEADLINE, || {
        let text = fs::read_to_string(&log).unwrap_or_default();
        (text.contains("/v2/rotated-probe") && !text.starts_with('\0')).then_some(())
    });
    assert_eq!(running_pid(&fx.sup), pid, "no restart was needed");
}

/// The unit's files, except that `path` cannot be written (the disk holding /run is full).
struct CannotWrite(std::path::PathBuf);

impl Files for CannotWrite {
    fn write(&self, path: &Path, contents: &[u8], spec: FileSpec) -> Result<Changed, FilesError> {
        if path == self.0 {
            return Err(FilesError::Io {
                op: "write",
                path: path.to_path_buf(),
                cause: std::io::Error::from_raw_os_error(nix::libc::ENOSPC),
            });
        }
        HostFiles.write(path, contents, spec)
    }
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, FilesError> {
        HostFiles.read(path)
    }
    host_files_for_the_rest!();
}

/// A start whose watcher cannot be recorded fails with the cause and leaves nothing
/// running: an unrecorded watcher could never be stopped, and the next start would run a
/// second registry beside its one.
#[test]
fn a_start_that_cannot_record_its_watcher_fails_and_leaves_nothing_running() {
    let fx = Fixture::new();
    let spec = fx.sup.spec().clone();
    let files = CannotWrite(spec.watcher_pid_path());
    let hook = Supervisor::with_files(spec, Path::new(WATCHER), files);
    let err = hook.start().unwrap_err().to_string();
    assert!(err.contains("No space left on device"), "{err}");
    // Nothing is left that could start a registry: no process writes to the service log
    // (the watcher and the registry both do, from their start).
    assert_eq!(writers_of(&fx.sup.spec().log_path), Vec::<u32>::new());
    assert!(!fx.pid_path().exists(), "a registry was recorded");
    assert_eq!(http_get(fx.addr, "/v2/"), None);
    // And a start that can write its files works as before.
    fx.sup.start().unwrap();
    wait_ready(fx.addr);
}

/// The live processes whose stdout is `log`.
fn writers_of(log: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if fs::read_link(entry.path().join("fd/1")).is_ok_and(|out| out == log) {
            pids.push(pid);
        }
    }
    pids
}
