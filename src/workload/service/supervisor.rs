//! Our own service manager for machines without systemd.
//!
//! `start` launches a watcher (this charm's binary as `dispatch supervise`, see
//! `watch.rs`) in its own session, with stdout/stderr appended to the service log, so the
//! hook that started it never waits on its pipes and exits normally. The watcher starts
//! the program in a session of its own, as the service user, with stdin from /dev/null,
//! waits for it, and starts it again with a bounded backoff whenever it exits, until it is
//! told to stop (SIGTERM). Both write pid files recording pid + start time + boot id; like
//! youki's `refresh_status`, every use checks /proc first, so a recycled pid (or pid 1) is
//! never signalled.

use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::{getgrouplist, setgid, setgroups, setsid, setuid, Gid, Pid, Uid, User};

use super::proc::{boot_id, read_cmdline, read_stat, threads_alive};
use super::{ServiceError, ServiceSpec, ServiceStatus};
use crate::workload::files::{FileSpec, Files, HostFiles};
use crate::workload::users::UsersError;

/// PATH for the service: the registry needs nothing else from the hook's environment (and
/// must not inherit stray `REGISTRY_*` overrides from it).
const SERVICE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A log bigger than this is moved to `<log>.1` at the next start.
const LOG_ROTATE_BYTES: u64 = 10 * 1024 * 1024;

/// How long to wait for a process after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How long a start waits for the watcher to record the program it started.
const LAUNCH_WAIT: Duration = Duration::from_secs(5);

/// What a stop grants the watcher beyond the program's own stop time.
const WATCHER_GRACE: Duration = Duration::from_secs(2);

/// The watcher's command: `<charm binary> supervise`, the spec as JSON on stdin.
pub const WATCH_COMMAND: &str = "supervise";

/// What the pid file says: which process, identified beyond its recyclable pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidRecord {
    /// Process id.
    pub pid: u32,
    /// Start time (clock ticks after boot, `/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// Boot id at start; a pid file from an earlier boot is stale.
    pub boot_id: Option<String>,
}

impl PidRecord {
    /// The pid file's text.
    ///
    /// # Format
    ///
    /// ```text
    /// pid=4242
    /// start_time=1234567
    /// boot_id=0e6c...
    /// ```
    pub fn render(&self) -> String {
        let mut s = format!("pid={}\nstart_time={}\n", self.pid, self.start_time);
        if let Some(b) = &self.boot_id {
            s.push_str(&format!("boot_id={b}\n"));
        }
        s
    }

    /// Parses the pid file; `None` when pid or start time is missing or malformed.
    pub fn parse(text: &str) -> Option<Self> {
        let (mut pid, mut start_time, mut boot) = (None, None, None);
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", v)) => pid = v.trim().parse().ok(),
                Some(("start_time", v)) => start_time = v.trim().parse().ok(),
                Some(("boot_id", v)) => boot = Some(v.trim().to_string()),
                _ => {}
            }
        }
        Some(PidRecord {
            pid: pid.filter(|p| *p > 0)?,
            start_time: start_time?,
            boot_id: boot,
        })
    }
}

/// `CAP_NET_BIND_SERVICE` (linux/capability.h).
const CAP_NET_BIND_SERVICE: u32 = 10;

/// Called in the child after setuid (with keep-caps): drops every capability but
/// `CAP_NET_BIND_SERVICE` and makes that one ambient, so the registry, running as its own
/// user, can still listen on a port below 1024 (`registry-port=443` worked with the Python
/// charm, whose container port was published by root). systemd does the same with
/// `AmbientCapabilities=`. Best effort: without ambient capabilities (Linux < 4.3) only
/// ports >= 1024 work, which the registry's log then says.
///
/// Raw syscalls only: this runs between fork and exec.
fn keep_only_net_bind_service() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let bit = 1u32 << CAP_NET_BIND_SERVICE;
    let header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let none = Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    };
    let data = [
        Data {
            effective: bit,
            permitted: bit,
            inheritable: bit,
        },
        none,
    ];
    // SAFETY: plain syscalls on stack data that outlives them.
    unsafe {
        if nix::libc::syscall(nix::libc::SYS_capset, &header, data.as_ptr()) == 0 {
            let _ = nix::libc::prctl(
                nix::libc::PR_CAP_AMBIENT,
                nix::libc::PR_CAP_AMBIENT_RAISE,
                CAP_NET_BIND_SERVICE as nix::libc::c_ulong,
                0,
                0,
            );
        }
    }
}

/// The built-in supervisor: a watcher process (this charm's own binary, run as
/// `<watcher> supervise`) that starts the program, waits for it and starts it again when
/// it dies, until it is told to stop. Two pid files, both kept through `F` (the machine's
/// files on a real unit): the program's (written by the watcher at every start) and the
/// watcher's (written by whoever started it).
#[derive(Debug, Clone)]
pub struct Supervisor<F: Files = HostFiles> {
    spec: ServiceSpec,
    watcher: PathBuf,
    files: F,
}

/// What a pid file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidFile {
    /// There is none: the service was never started, or stopped.
    Missing,
    /// It cannot be read as a record; why.
    Unreadable(String),
    /// The process it names.
    Record(PidRecord),
}

/// Whether a process runs a given binary.
enum Program {
    /// It does.
    Ours,
    /// It runs this instead.
    Other(String),
}

/// uid, gid and supplementary groups to switch to in the child.
struct Credentials {
    uid: Uid,
    gid: Gid,
    groups: Vec<Gid>,
}

fn errno_to_io(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl Supervisor {
    /// A supervisor for `spec` on this machine, watched by `watcher` (this charm's binary).
    pub fn new(spec: ServiceSpec, watcher: &Path) -> Self {
        Supervisor::with_files(spec, watcher, HostFiles)
    }
}

impl<F: Files> Supervisor<F> {
    /// A supervisor for `spec` keeping its pid files through `files`.
    pub fn with_files(spec: ServiceSpec, watcher: &Path, files: F) -> Self {
        Supervisor {
            spec,
            watcher: watcher.to_path_buf(),
            files,
        }
    }

    /// The spec it runs.
    pub fn spec(&self) -> &ServiceSpec {
        &self.spec
    }

    /// The watcher's program (this charm's binary).
    pub fn watcher(&self) -> &Path {
        &self.watcher
    }

    /// What the program's pid file says.
    pub fn pid_file(&self) -> Result<PidFile, ServiceError> {
        self.read_pid_file(&self.spec.pid_path)
    }

    /// What the watcher's pid file says.
    pub fn watcher_pid_file(&self) -> Result<PidFile, ServiceError> {
        self.read_pid_file(&self.spec.watcher_pid_path())
    }

    fn read_pid_file(&self, path: &Path) -> Result<PidFile, ServiceError> {
        let Some(bytes) = self.files.read(path)? else {
            return Ok(PidFile::Missing);
        };
        let text = String::from_utf8_lossy(&bytes);
        Ok(match PidRecord::parse(&text) {
            Some(rec) => PidFile::Record(rec),
            None => {
                PidFile::Unreadable(format!("unreadable pid file {}: {text:?}", path.display()))
            }
        })
    }

    /// Is the recorded process still the one started, running `binary`? Checked against /proc.
    fn verify(&self, rec: &PidRecord, binary: &Path) -> Result<ServiceStatus, ServiceError> {
        let pid = rec.pid;
        let crashed = |reason: String| {
            Ok(ServiceStatus::Crashed {
                pid: Some(pid),
                reason,
            })
        };
        if let (Some(recorded), Some(now)) = (&rec.boot_id, boot_id()) {
            if *recorded != now {
                return crashed(format!("the pid file is from an earlier boot (pid {pid})"));
            }
        }
        let stat = match read_stat(pid).map_err(|cause| ServiceError::Proc { pid, cause })? {
            None => return crashed(format!("process {pid} is gone")),
            Some(st) => st,
        };
        // Its main thread gone but another still exiting (or running): still ours, and
        // still holding its port.
        if !stat.is_alive() && !Self::threads_alive(pid)? {
            return crashed(format!("process {pid} has exited (state {})", stat.state));
        }
        if stat.start_time != rec.start_time {
            return crashed(format!(
                "pid {pid} now belongs to another process (start time {}, recorded {})",
                stat.start_time, rec.start_time
            ));
        }
        // With its main thread gone a process shows no program any more (the leader's
        // `exe` and `cmdline` are empty); pid, start time and boot id say it is ours.
        if stat.is_alive() {
            if let Program::Other(runs) = program_of(pid, binary)? {
                return crashed(format!("pid {pid} runs {runs}, not {}", binary.display()));
            }
        }
        Ok(ServiceStatus::Running { pid })
    }

    /// The program's state as its pid file and /proc tell it.
    fn program_status(&self) -> Result<ServiceStatus, ServiceError> {
        self.program_status_of(self.pid_file()?)
    }

    /// The program's state as one reading of its pid file and /proc tell it.
    fn program_status_of(&self, file: PidFile) -> Result<ServiceStatus, ServiceError> {
        match file {
            PidFile::Missing => Ok(ServiceStatus::Stopped),
            PidFile::Unreadable(reason) => Ok(ServiceStatus::Crashed { pid: None, reason }),
            PidFile::Record(rec) => self.verify(&rec, &self.spec.binary),
        }
    }

    /// The watcher: its record when it runs, else why not (`None`: never started, or stopped).
    fn watcher_status(&self) -> Result<Watcher, ServiceError> {
        Ok(match self.watcher_pid_file()? {
            PidFile::Missing => Watcher::None,
            PidFile::Unreadable(reason) => Watcher::Gone(None, reason),
            PidFile::Record(rec) => match self.verify(&rec, &self.watcher)? {
                ServiceStatus::Running { .. } => Watcher::Alive(rec),
                ServiceStatus::Crashed { reason, .. } => Watcher::Gone(Some(rec), reason),
                ServiceStatus::Stopped => Watcher::None,
            },
        })
    }

    fn credentials(&self) -> Result<Option<Credentials>, ServiceError> {
        let Some(name) = &self.spec.user else {
            return Ok(None);
        };
        let user = User::from_name(name)
            .map_err(|cause| UsersError::Lookup {
                user: name.clone(),
                cause,
            })?
            .ok_or_else(|| UsersError::NoSuchUser { user: name.clone() })?;
        // Already that user (tests as non-root): nothing to drop, and no right to try.
        if user.uid == Uid::effective() {
            return Ok(None);
        }
        let cname = CString::new(name.as_bytes())
            .map_err(|_| UsersError::NoSuchUser { user: name.clone() })?;
        let groups = getgrouplist(&cname, user.gid).map_err(|cause| UsersError::Lookup {
            user: name.clone(),
            cause,
        })?;
        Ok(Some(Credentials {
            uid: user.uid,
            gid: user.gid,
            groups,
        }))
    }

    /// Moves a log past [`LOG_ROTATE_BYTES`] to `<log>.1` while the program writes to it
    /// (it appends, so once the file is copied and emptied its next line lands at the
    /// start; a line written between the copy and the emptying is lost); true when it
    /// did. Without this only a restart rotated the log, and a
    /// registry's access lines (haproxy's checks alone: about 1 KB a second per proxy)
    /// filled the disk of a unit whose registry never died.
    pub(super) fn trim_log(&self) -> Result<bool, ServiceError> {
        let path = &self.spec.log_path;
        let log_err = |cause| ServiceError::Log {
            path: path.clone(),
            cause,
        };
        if !fs::metadata(path).is_ok_and(|m| m.len() > LOG_ROTATE_BYTES) {
            return Ok(false);
        }
        fs::copy(path, rotated(path)).map_err(log_err)?;
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(0))
            .map_err(log_err)?;
        Ok(true)
    }

    fn open_log(&self) -> Result<fs::File, ServiceError> {
        let path = &self.spec.log_path;
        let log_err = |cause| ServiceError::Log {
            path: path.clone(),
            cause,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !self.files.exists(dir)? {
                self.files.ensure_dir(dir, 0o750, None)?;
            }
        }
        if fs::metadata(path).is_ok_and(|m| m.len() > LOG_ROTATE_BYTES) {
            fs::rename(path, rotated(path)).map_err(log_err)?;
        }
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(path)
            .map_err(log_err)
    }

    /// Spawns the program (in its own session, as the service user) and returns its pid.
    /// The watcher is its parent and collects it with `waitpid`, so the `Child` is dropped.
    #[allow(clippy::zombie_processes)]
    fn spawn_program(&self) -> Result<u32, ServiceError> {
        let creds = self.credentials()?;
        // The watcher blocks the signals it waits for; the program must not inherit that.
        let unblocked = SigSet::empty();
        let log = self.open_log()?;
        let log2 = log.try_clone().map_err(|cause| ServiceError::Log {
            path: self.spec.log_path.clone(),
            cause,
        })?;
        let mut cmd = Command::new(&self.spec.binary);
        cmd.args(&self.spec.args)
            .env_clear()
            .env("PATH", SERVICE_PATH)
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: the closure runs between fork and exec; it only makes raw syscalls
        // (close_range, setsid, umask, sigprocmask, setgroups, setgid, setuid) on data
        // prepared before the fork, and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                detach()?;
                sigprocmask(SigmaskHow::SIG_SETMASK, Some(&unblocked), None)
                    .map_err(errno_to_io)?;
                if let Some(c) = &creds {
                    // Keep the permitted set across setuid, to hand one capability on.
                    let _ = nix::libc::prctl(nix::libc::PR_SET_KEEPCAPS, 1, 0, 0, 0);
                    // Groups first: after setuid we no longer may change them.
                    setgroups(&c.groups).map_err(errno_to_io)?;
                    setgid(c.gid).map_err(errno_to_io)?;
                    setuid(c.uid).map_err(errno_to_io)?;
                    keep_only_net_bind_service();
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|cause| ServiceError::Spawn {
            binary: self.spec.binary.clone(),
            cause,
        })?;
        Ok(child.id())
    }

    /// Spawns the watcher detached (`<watcher> supervise`, the spec as JSON on its stdin,
    /// never in argv or a file: the environment may hold proxy credentials) and returns its
    /// pid. The `Child` is dropped on purpose: the hook exits long before the watcher,
    /// which is then adopted by init.
    #[allow(clippy::zombie_processes)]
    fn spawn_watcher(&self) -> Result<u32, ServiceError> {
        let spec = serde_json::to_vec(&self.spec).map_err(|e| ServiceError::Watcher {
            reason: format!("the service spec does not serialize: {e}"),
        })?;
        let log = self.open_log()?;
        let log2 = log.try_clone().map_err(|cause| ServiceError::Log {
            path: self.spec.log_path.clone(),
            cause,
        })?;
        let mut cmd = Command::new(&self.watcher);
        cmd.arg(WATCH_COMMAND)
            .env_clear()
            .env("PATH", SERVICE_PATH)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2);
        // SAFETY: as in `spawn_program`: raw syscalls only, between fork and exec.
        unsafe {
            cmd.pre_exec(detach);
        }
        let mut child = cmd.spawn().map_err(|cause| ServiceError::Spawn {
            binary: self.watcher.clone(),
            cause,
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(&spec)
                .map_err(|cause| ServiceError::Watcher {
                    reason: format!("could not hand it the service spec: {cause}"),
                })?;
        }
        Ok(child.id())
    }

    /// Starts the program and records it in its pid file (the watcher's part of a start).
    pub(super) fn launch(&self) -> Result<PidRecord, ServiceError> {
        let pid = self.spawn_program()?;
        let recorded = record_of(pid).and_then(|rec| {
            self.write_pid_file(&self.spec.pid_path, &rec)?;
            Ok(rec)
        });
        let rec = match recorded {
            Ok(rec) => rec,
            Err(e) => {
                // Unrecorded, nothing could ever stop it, and the next start would run a
                // second one beside it: it goes at once.
                Self::abandon(pid);
                return Err(e);
            }
        };
        tracing::info!(pid, binary = %self.spec.binary.display(), "service started");
        Ok(rec)
    }

    /// Stops the watcher `w`: it stops the program (SIGTERM, then SIGKILL after the stop
    /// timeout) and exits without starting it again.
    fn stop_watcher(&self, w: &PidRecord) -> Result<(), ServiceError> {
        Self::signal(w.pid as i32, Signal::SIGTERM)?;
        let limit = self.spec.stop_timeout + KILL_WAIT + WATCHER_GRACE;
        if !Self::wait_gone(w.pid, w.start_time, limit)? {
            tracing::warn!(pid = w.pid, "the supervisor did not exit; sending SIGKILL");
            Self::signal(w.pid as i32, Signal::SIGKILL)?;
            Self::wait_gone(w.pid, w.start_time, KILL_WAIT)?;
        }
        Ok(())
    }

    /// Stops a watcher just spawned whose pid file could not be written; best effort, the
    /// caller reports the write's error.
    fn dismiss_watcher(&self, pid: u32) {
        let stopped = record_of(pid).and_then(|w| self.stop_watcher(&w));
        if stopped.is_err() {
            Self::abandon(pid);
        }
    }

    /// Kills a process (and its group) this supervisor just spawned but could not record,
    /// and collects it; bounded.
    fn abandon(pid: u32) {
        let _ = Self::signal(-(pid as i32), Signal::SIGKILL);
        let _ = Self::signal(pid as i32, Signal::SIGKILL);
        Self::reap_zombie(pid);
    }

    fn write_pid_file(&self, path: &Path, rec: &PidRecord) -> Result<(), ServiceError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !self.files.exists(dir)? {
                self.files.ensure_dir(dir, 0o755, None)?;
            }
        }
        self.files
            .write(path, rec.render().as_bytes(), FileSpec::mode(0o644))?;
        Ok(())
    }

    /// Removes the program's pid file if it still names `rec` (the watcher's part of a stop).
    pub(super) fn forget(&self, rec: &PidRecord) -> Result<(), ServiceError> {
        if self.pid_file()? == PidFile::Record(rec.clone()) {
            self.files.remove(&self.spec.pid_path)?;
        }
        Ok(())
    }

    /// Appends one line from the watcher to the service log, where the program's own
    /// lines go. Best effort: a log that cannot be written must not stop the watching.
    pub(super) fn note(&self, message: &str) {
        let line = format!(
            "docker-registry-charm supervisor[{}]: {message}\n",
            std::process::id()
        );
        match self.open_log() {
            Ok(mut log) => {
                let _ = log.write_all(line.as_bytes());
            }
            Err(_) => eprint!("{line}"),
        }
    }

    /// Waits until the watcher `w` has recorded a program other than `before`; fails when
    /// the watcher is gone or the time is up.
    fn wait_launched(&self, w: &PidRecord, before: &PidFile) -> Result<(), ServiceError> {
        let deadline = Instant::now() + LAUNCH_WAIT;
        let failed = |what: &str| ServiceError::Watcher {
            reason: format!(
                "the supervisor (pid {}) {what} {}; see {}",
                w.pid,
                self.spec.binary.display(),
                self.spec.log_path.display()
            ),
        };
        loop {
            let now = self.pid_file()?;
            if matches!(now, PidFile::Record(_)) && now != *before {
                return Ok(());
            }
            if !Self::still_ours(w.pid, w.start_time)? {
                return Err(failed("exited before starting"));
            }
            if Instant::now() >= deadline {
                return Err(failed(&format!("took over {LAUNCH_WAIT:?} to start")));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the program as its pid file names it, without a watcher (what a killed
    /// watcher left, or what an older charm started), and removes the pid file.
    fn stop_program(&self) -> Result<(), ServiceError> {
        match self.pid_file()? {
            PidFile::Missing => return Ok(()),
            PidFile::Record(rec) => match self.verify(&rec, &self.spec.binary)? {
                ServiceStatus::Running { pid } => {
                    self.terminate(pid, rec.start_time)?;
                    tracing::info!(pid, "service stopped");
                }
                // Never signal a pid we cannot prove is ours; just forget it.
                _ => Self::reap_zombie(rec.pid),
            },
            PidFile::Unreadable(_) => {}
        }
        self.files.remove(&self.spec.pid_path)?;
        Ok(())
    }

    /// True while `pid` is still the process that started at `start_time` and has not been
    /// collected. Our own zombie child counts as still there until reaped: a multi-threaded
    /// (Go) process shows `Z` before its last thread exits and cannot be reaped yet.
    fn still_ours(pid: u32, start_time: u64) -> Result<bool, ServiceError> {
        let Some(st) = read_stat(pid).map_err(|cause| ServiceError::Proc { pid, cause })? else {
            return Ok(false);
        };
        if st.start_time != start_time {
            return Ok(false);
        }
        // A leader that shows `Z` while its other threads exit still holds the port.
        if st.is_alive() || Self::threads_alive(pid)? {
            return Ok(true);
        }
        if st.ppid == std::process::id() {
            return Ok(!reap(pid));
        }
        // Someone else's zombie, every thread gone: nothing left for us to wait for.
        Ok(false)
    }

    fn threads_alive(pid: u32) -> Result<bool, ServiceError> {
        threads_alive(pid).map_err(|cause| ServiceError::Proc { pid, cause })
    }

    /// Collects `pid` if it is (or is about to be) our zombie child; bounded.
    fn reap_zombie(pid: u32) {
        let deadline = Instant::now() + KILL_WAIT;
        while Instant::now() < deadline {
            match read_stat(pid) {
                Ok(Some(st)) if !st.is_alive() && st.ppid == std::process::id() => {
                    if reap(pid) {
                        return;
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                _ => return,
            }
        }
    }

    fn wait_gone(pid: u32, start_time: u64, timeout: Duration) -> Result<bool, ServiceError> {
        let deadline = Instant::now() + timeout;
        loop {
            if !Self::still_ours(pid, start_time)? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal` to a pid, or to a process group when `target` is negative.
    fn signal(target: i32, signal: Signal) -> Result<(), ServiceError> {
        match kill(Pid::from_raw(target), signal) {
            Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
            Err(cause) => Err(ServiceError::Signal {
                signal: signal.as_str(),
                pid: target.unsigned_abs(),
                cause,
            }),
        }
    }

    pub(super) fn terminate(&self, pid: u32, start_time: u64) -> Result<(), ServiceError> {
        Self::signal(pid as i32, Signal::SIGTERM)?;
        if Self::wait_gone(pid, start_time, self.spec.stop_timeout)? {
            return Ok(());
        }
        tracing::warn!(pid, timeout = ?self.spec.stop_timeout, "service ignored SIGTERM; sending SIGKILL");
        // The whole process group (setsid made the service its leader), so no child of it
        // is left behind as an orphan.
        Self::signal(-(pid as i32), Signal::SIGKILL)?;
        Self::signal(pid as i32, Signal::SIGKILL)?;
        if Self::wait_gone(pid, start_time, KILL_WAIT)? {
            return Ok(());
        }
        Err(ServiceError::StopTimeout {
            pid,
            waited: self.spec.stop_timeout + KILL_WAIT,
        })
    }
}

/// Where a rotated log goes: `<log>.1`.
fn rotated(log: &Path) -> PathBuf {
    let mut old = log.as_os_str().to_owned();
    old.push(".1");
    PathBuf::from(old)
}

/// Is `pid` executing `binary`?
///
/// `/proc/<pid>/exe` first: it is set before exec returns to the parent, whereas
/// `cmdline` is briefly empty right after exec. `cmdline` is the fallback when `exe` is
/// not readable (no ptrace access as non-root).
fn program_of(pid: u32, binary: &Path) -> Result<Program, ServiceError> {
    let canonical = fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    match fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(exe) => {
            // A binary replaced by a package upgrade shows as "<path> (deleted)".
            let text = exe.to_string_lossy();
            let exe = Path::new(text.strip_suffix(" (deleted)").unwrap_or(&text));
            if exe == canonical || exe == binary {
                Ok(Program::Ours)
            } else {
                Ok(Program::Other(exe.display().to_string()))
            }
        }
        Err(e)
            if e.kind() == io::ErrorKind::NotFound && read_stat(pid).ok().flatten().is_none() =>
        {
            Ok(Program::Other("nothing (it is gone)".into()))
        }
        Err(_) => {
            let argv = read_cmdline(pid)
                .map_err(|cause| ServiceError::Proc { pid, cause })?
                .unwrap_or_default();
            if argv.first().map(|a| Path::new(a).file_name()) == Some(binary.file_name()) {
                Ok(Program::Ours)
            } else {
                Ok(Program::Other(format!("{:?}", argv.join(" "))))
            }
        }
    }
}

/// Collects `pid` if it is our exited child; true when it was collected.
fn reap(pid: u32) -> bool {
    matches!(
        waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG)),
        Ok(status) if status.pid().is_some()
    )
}

impl<F: Files> super::Service for Supervisor<F> {
    fn start(&self) -> Result<(), ServiceError> {
        if let Watcher::Alive(w) = self.watcher_status()? {
            // One reading decides and is what a new start must replace: read twice, a
            // restart by the watcher in between would be waited for in vain.
            let before = self.pid_file()?;
            if let ServiceStatus::Running { pid } = self.program_status_of(before.clone())? {
                tracing::debug!(pid, "already running");
                return Ok(());
            }
            // Between two of the watcher's starts: ask it to start the program now.
            Self::signal(w.pid as i32, Signal::SIGUSR1)?;
            return self.wait_launched(&w, &before);
        }
        // No watcher: whatever it left (or an older charm started) goes first, so that
        // exactly one program runs, and it is watched.
        if let Watcher::Gone(Some(w), _) = self.watcher_status()? {
            Self::reap_zombie(w.pid);
        }
        self.stop_program()?;
        let watcher_pid = self.spec.watcher_pid_path();
        self.files.remove(&watcher_pid)?;
        let pid = self.spawn_watcher()?;
        let recorded = record_of(pid).and_then(|w| {
            self.write_pid_file(&watcher_pid, &w)?;
            Ok(w)
        });
        let w = match recorded {
            Ok(w) => w,
            Err(e) => {
                // An unrecorded watcher could never be stopped and would keep its registry
                // running beside the next start's: it stops its program and exits.
                self.dismiss_watcher(pid);
                return Err(e);
            }
        };
        self.wait_launched(&w, &PidFile::Missing)?;
        tracing::info!(pid, binary = %self.spec.binary.display(), "service started under its supervisor");
        Ok(())
    }

    fn stop(&self) -> Result<(), ServiceError> {
        match self.watcher_status()? {
            Watcher::Alive(w) => self.stop_watcher(&w)?,
            Watcher::Gone(Some(w), _) => Self::reap_zombie(w.pid),
            Watcher::Gone(None, _) | Watcher::None => {}
        }
        self.stop_program()?;
        self.files.remove(&self.spec.watcher_pid_path())?;
        Ok(())
    }

    fn restart(&self) -> Result<(), ServiceError> {
        self.stop()?;
        self.start()
    }

    fn status(&self) -> Result<ServiceStatus, ServiceError> {
        Ok(combine(self.watcher_status()?, self.program_status()?))
    }

    /// The end of the log file (at most its last 64 KiB).
    fn log_tail(&self, lines: usize) -> Result<Vec<String>, ServiceError> {
        use std::io::{Read, Seek, SeekFrom};
        let path = &self.spec.log_path;
        let log_err = |cause| ServiceError::Log {
            path: path.clone(),
            cause,
        };
        let mut file = match fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(log_err(e)),
        };
        let len = file.metadata().map_err(log_err)?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))
            .map_err(log_err)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(log_err)?;
        Ok(super::last_lines(&String::from_utf8_lossy(&bytes), lines))
    }
}

/// How much of the log `log_tail` reads: the registry's refusal is in its last lines.
const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// The watcher as its pid file and /proc tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Watcher {
    /// No pid file: never started, or stopped.
    None,
    /// Running: this is its record.
    Alive(PidRecord),
    /// Its pid file names a process that is not it any more (or cannot be read); why.
    Gone(Option<PidRecord>, String),
}

/// The service's state from the watcher's and the program's.
fn combine(watcher: Watcher, program: ServiceStatus) -> ServiceStatus {
    use ServiceStatus::{Crashed, Running, Stopped};
    match (watcher, program) {
        (Watcher::None, Stopped) => Stopped,
        (Watcher::Alive(_), Running { pid }) => Running { pid },
        (Watcher::Alive(w), Stopped) => Crashed {
            pid: None,
            reason: format!("its supervisor (pid {}) has not started it yet", w.pid),
        },
        (Watcher::Alive(w), Crashed { pid, reason }) => Crashed {
            pid,
            reason: format!("{reason}; its supervisor (pid {}) starts it again", w.pid),
        },
        (Watcher::None, Running { pid }) => Crashed {
            pid: Some(pid),
            reason: format!("pid {pid} runs without a supervisor (an older charm started it)"),
        },
        (Watcher::Gone(_, why), Running { pid }) => Crashed {
            pid: Some(pid),
            reason: format!("pid {pid} runs without its supervisor: {why}"),
        },
        (Watcher::Gone(_, why), Stopped) => Crashed {
            pid: None,
            reason: format!("its supervisor is gone: {why}"),
        },
        (Watcher::None | Watcher::Gone(..), crashed @ Crashed { .. }) => crashed,
    }
}

/// A just-spawned process's record (spawn returns after exec, so /proc shows it, at
/// worst as a zombie).
fn record_of(pid: u32) -> Result<PidRecord, ServiceError> {
    let start_time = read_stat(pid)
        .map_err(|cause| ServiceError::Proc { pid, cause })?
        .map(|st| st.start_time)
        .ok_or(ServiceError::Proc {
            pid,
            cause: io::Error::new(io::ErrorKind::NotFound, "the new process vanished at once"),
        })?;
    Ok(PidRecord {
        pid,
        start_time,
        boot_id: boot_id(),
    })
}

/// In the child between fork and exec: close inherited fds on exec, leave the caller's
/// session, and make what it writes not world-readable. Raw syscalls only.
fn detach() -> io::Result<()> {
    // Fds inherited from whoever ran the hook (e.g. a pipe the caller reads to EOF) must
    // not stay open in a daemon. Failure (old kernel) is harmless.
    // SAFETY: a plain syscall without pointers.
    let _ = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_close_range,
            3u32,
            u32::MAX,
            nix::libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    // Own session: no controlling terminal, not in the hook's process group.
    setsid().map_err(errno_to_io)?;
    // Data the registry writes is not world-readable.
    umask(Mode::from_bits_truncate(0o027));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_record_round_trips() {
        let rec = PidRecord {
            pid: 42,
            start_time: 9001,
            boot_id: Some("abc".into()),
        };
        assert_eq!(PidRecord::parse(&rec.render()), Some(rec));
    }

    #[test]
    fn pid_record_rejects_garbage() {
        assert_eq!(PidRecord::parse(""), None);
        assert_eq!(PidRecord::parse("4242\n"), None);
        assert_eq!(PidRecord::parse("pid=0\nstart_time=1\n"), None);
        assert_eq!(PidRecord::parse("pid=x\nstart_time=1\n"), None);
        assert_eq!(
            PidRecord::parse("pid=7\nstart_time=1\n").map(|r| r.boot_id),
            Some(None)
        );
    }
}
