//! Processes of an execution: the context file around it, the charm's `dispatch` (or
//! legacy hook file) found and started with Juju's environment on the unit's machine,
//! its output captured, its run time bounded.
use super::{Engine, EngineError, JUJU_VERSION};
use crate::context::{context_path, read_context, write_snapshot, Change, ContextKind, Snapshot};
use crate::resolver::HookKind;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How one process run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Exit code (128+signal when killed; None when nothing ran).
    pub code: Option<i32>,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

impl Engine {
    /// Write `snap`'s context file, run `f` (which starts the processes that use it),
    /// then read back the changes the hook tools buffered and remove the file.
    pub(super) fn with_context<T>(
        &self,
        snap: &Snapshot,
        f: impl FnOnce() -> T,
    ) -> Result<(T, Vec<Change>), EngineError> {
        let path = context_path(&self.dir.unit_dir(&snap.unit), &snap.context_id);
        write_snapshot(&path, snap)?;
        let out = f();
        let read = read_context(&path, &snap.context_id);
        let _ = std::fs::remove_file(&path);
        Ok((out, read?.1))
    }

    /// Run `dispatch` (or the legacy hooks/ or actions/ file) for a snapshot.
    /// `code: None` means no handler exists.
    pub(super) fn execute(
        &self,
        snap: &Snapshot,
        dispatch_path: &str,
    ) -> Result<RunOutcome, EngineError> {
        let charm_dir = self.dir.unit_dir(&snap.unit).join("charm");
        if !charm_dir.join("metadata.yaml").exists() {
            return Ok(RunOutcome {
                code: Some(1),
                stdout: String::new(),
                stderr: "charm missing from disk\n".into(),
            });
        }
        let dispatch = charm_dir.join("dispatch");
        let legacy = charm_dir.join(dispatch_path);
        let exe = if dispatch.exists() {
            dispatch
        } else if legacy.exists() {
            legacy
        } else {
            return Ok(RunOutcome {
                code: None,
                stdout: String::new(),
                stderr: String::new(),
            });
        };
        let mut cmd = Command::new(&exe);
        self.prepare_command(&mut cmd, snap, Some(dispatch_path))?;
        run_captured(
            &mut cmd,
            &self.dir.unit_dir(&snap.unit),
            &snap.context_id,
            self.hook_timeout,
        )
    }

    /// Environment, cwd and machine for a process in `snap`'s context, as the unit
    /// agent sets them (docs/juju.md#environment); `dispatch_path` for hooks and
    /// actions, not for exec.
    pub(super) fn prepare_command(
        &self,
        cmd: &mut Command,
        snap: &Snapshot,
        dispatch_path: Option<&str>,
    ) -> Result<(), EngineError> {
        let charm_dir = self.dir.unit_dir(&snap.unit).join("charm");
        cmd.env_clear().current_dir(&charm_dir).stdin(Stdio::null());
        cmd.envs(self.agent_env(snap));
        cmd.envs(kind_env(&snap.kind));
        if let Some(d) = dispatch_path {
            // Appended last, like the uniter does.
            cmd.env("JUJU_DISPATCH_PATH", d);
        }
        self.machines.enter(&snap.machine, cmd)?;
        Ok(())
    }

    /// What every execution gets: the unit, model, charm dir, agent socket, and the
    /// tools dir first on PATH.
    fn agent_env(&self, snap: &Snapshot) -> [(&'static str, String); 24] {
        let unit_dir = self.dir.unit_dir(&snap.unit);
        let charm_dir = unit_dir.join("charm").display().to_string();
        let path = format!(
            "{}:{}",
            self.dir.tools_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
        );
        [
            ("CHARM_DIR", charm_dir.clone()),
            ("JUJU_CHARM_DIR", charm_dir),
            ("JUJU_CONTEXT_ID", snap.context_id.clone()),
            (
                "JUJU_AGENT_SOCKET_ADDRESS",
                unit_dir.join("agent.socket").display().to_string(),
            ),
            ("JUJU_AGENT_SOCKET_NETWORK", "unix".into()),
            ("JUJU_UNIT_NAME", snap.unit.clone()),
            ("JUJU_MODEL_UUID", snap.model_uuid.clone()),
            ("JUJU_MODEL_NAME", snap.model_name.clone()),
            ("JUJU_API_ADDRESSES", "127.0.0.1:17070".into()),
            ("JUJU_MACHINE_ID", snap.machine.id.to_string()),
            (
                "JUJU_PRINCIPAL_UNIT",
                snap.principal.clone().unwrap_or_default(),
            ),
            ("JUJU_AVAILABILITY_ZONE", String::new()),
            ("JUJU_VERSION", JUJU_VERSION.into()),
            ("CLOUD_API_VERSION", String::new()),
            ("JUJU_CHARM_HTTP_PROXY", String::new()),
            ("JUJU_CHARM_HTTPS_PROXY", String::new()),
            ("JUJU_CHARM_FTP_PROXY", String::new()),
            ("JUJU_CHARM_NO_PROXY", String::new()),
            ("PATH", path),
            ("LANG", "C.UTF-8".into()),
            ("DEBIAN_FRONTEND", "noninteractive".into()),
            ("APT_LISTCHANGES_FRONTEND", "none".into()),
            ("TERM", "tmux-256color".into()),
            ("JUJU_SLA", "unsupported".into()),
        ]
    }
}

/// What a hook (its name, and its relation and remote unit) or an action (its name and
/// id) adds to the environment.
fn kind_env(kind: &ContextKind) -> Vec<(&'static str, String)> {
    match kind {
        ContextKind::Hook(h) => {
            let mut env = vec![("JUJU_HOOK_NAME", h.name())];
            if let Some(id) = h.relation {
                let endpoint = h.endpoint.clone().unwrap_or_default();
                env.extend([
                    ("JUJU_RELATION", endpoint.clone()),
                    ("JUJU_RELATION_ID", format!("{endpoint}:{id}")),
                    ("JUJU_REMOTE_APP", h.remote_app.clone().unwrap_or_default()),
                    (
                        "JUJU_REMOTE_UNIT",
                        h.remote_unit.clone().unwrap_or_default(),
                    ),
                ]);
                if let Some(d) = &h.departing {
                    env.push(("JUJU_DEPARTING_UNIT", d.clone()));
                }
            }
            if let Some(s) = &h.storage {
                env.push(("JUJU_STORAGE_ID", s.id.clone()));
                env.push(("JUJU_STORAGE_LOCATION", s.location.clone()));
                env.push(("JUJU_STORAGE_KIND", s.kind.clone()));
            }
            if let Some(s) = &h.secret {
                env.push(("JUJU_SECRET_ID", s.uri.clone()));
                env.push(("JUJU_SECRET_LABEL", s.label.clone()));
                // Only the hooks about one revision name it.
                if matches!(h.kind, HookKind::SecretRemove | HookKind::SecretExpired) {
                    env.push(("JUJU_SECRET_REVISION", s.revision.to_string()));
                }
            }
            env
        }
        ContextKind::Action { id, name, .. } => vec![
            ("JUJU_HOOK_NAME", String::new()),
            ("JUJU_ACTION_NAME", name.clone()),
            ("JUJU_ACTION_UUID", id.to_string()),
            ("JUJU_ACTION_TAG", format!("action-{id}")),
        ],
        ContextKind::Exec => vec![],
    }
}

pub(super) fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Run with stdout/stderr into files (not pipes: a daemon started by the hook may keep
/// them open forever), then read them back.
fn run_captured(
    cmd: &mut Command,
    unit_dir: &Path,
    ctx_id: &str,
    timeout: Duration,
) -> Result<RunOutcome, EngineError> {
    let run_dir = unit_dir.join("run");
    std::fs::create_dir_all(&run_dir).map_err(EngineError::io("creating", &run_dir))?;
    let safe: String = ctx_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let (out_path, err_path) = (
        run_dir.join(format!("{safe}.stdout")),
        run_dir.join(format!("{safe}.stderr")),
    );
    let open = |p: &Path| std::fs::File::create(p).map_err(EngineError::io("creating", p));
    cmd.stdout(open(&out_path)?).stderr(open(&err_path)?);
    let (code, timed_out) = match cmd.spawn() {
        Ok(child) => {
            let (status, timed_out) = wait_bounded(child, timeout);
            (status.map(|s| exit_code(&s)).unwrap_or(1), timed_out)
        }
        Err(e) => {
            let _ = std::fs::write(
                &err_path,
                format!("cannot run {:?}: {e}\n", cmd.get_program()),
            );
            (1, false)
        }
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    let mut stderr = read(&err_path);
    if timed_out {
        stderr.push_str(&format!(
            "jujusim: killed after {}s (set JUJUSIM_HOOK_TIMEOUT=SECONDS to allow longer)\n",
            timeout.as_secs()
        ));
    }
    let outcome = RunOutcome {
        code: Some(code),
        stdout: read(&out_path),
        stderr,
    };
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    Ok(outcome)
}

/// Wait for `child`; SIGKILL it if it outlives `timeout` (a watchdog thread, so the
/// common case waits in the kernel instead of polling). Returns (status, timed out).
fn wait_bounded(
    mut child: std::process::Child,
    timeout: Duration,
) -> (Option<std::process::ExitStatus>, bool) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (done, watch) = std::sync::mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        let expired = matches!(
            watch.recv_timeout(timeout),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        if expired {
            // The child is not reaped before `done` is sent, so the pid is still ours.
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        expired
    });
    let status = child.wait().ok();
    let _ = done.send(());
    let timed_out = dog.join().unwrap_or(false);
    (status, timed_out)
}

/// A fresh context id `<unit>-<name>-<random>`.
pub fn new_context_id(unit: &str, name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let r = crate::model::fnv1a(format!("{nanos}-{}-{unit}-{name}", std::process::id()).as_bytes());
    format!("{unit}-{name}-{:016x}", r)
}
