//! The engine: runs hooks, actions and exec commands on units, and commits their
//! buffered changes (docs/juju.md#dispatch, #commit). `settle` runs the resolver round-robin until
//! every unit is idle.
use crate::charm::CharmError;
use crate::context::{
    context_path, read_context, write_snapshot, Change, ContextError, ContextKind, Pending,
    RelView, Snapshot,
};
use crate::machines::{HostMachines, LinuxMachines, MachineError, Machines};
use crate::model::{
    app_of, iso_time, now_secs, Life, MachinesKind, Model, ModelDir, ModelError, StatusInfo, Task,
};
use crate::resolver::{mark_done, members_during, next_hook, normalize, Hook, HookKind};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Juju version the simulated agent reports.
pub const JUJU_VERSION: &str = "3.6.1";

/// Default bound on hooks in one settle.
pub const DEFAULT_HOOK_BOUND: usize = 2000;

/// Default limit on one hook or action process (Juju has none; a test must not hang).
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// Engine errors (all runtime: exit 1).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Model state.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Machines.
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// A context file.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Charm files or action parameters.
    #[error(transparent)]
    Charm(#[from] CharmError),
    /// The model never settled.
    #[error(
        "charms ping-pong: {count} hooks ran without the model settling; still changing: {detail}"
    )]
    PingPong {
        /// Hooks run.
        count: usize,
        /// Which units/hooks kept running.
        detail: String,
    },
    /// No such unit.
    #[error("unit {0:?} not found")]
    UnitNotFound(String),
    /// No such application.
    #[error("application {0:?} not found")]
    AppNotFound(String),
    /// The unit's machine is missing from the model.
    #[error("machine {machine} of {unit} not found")]
    MachineNotFound {
        /// Machine id.
        machine: u32,
        /// The unit on it.
        unit: String,
    },
    /// `run` on a charm without actions.yaml.
    #[error("no actions defined on charm {0:?}")]
    NoActions(String),
    /// A task disappeared from the model while its action ran.
    #[error("task {0} vanished")]
    TaskVanished(u32),
    /// `exec` could not start its command.
    #[error("cannot run {command:?} on {unit}")]
    Spawn {
        /// The command line.
        command: String,
        /// The unit.
        unit: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file the engine keeps (tool links, captured output).
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl EngineError {
    fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EngineError {
        let path = path.to_path_buf();
        move |source| EngineError::Io { what, path, source }
    }
}

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

/// The engine over one model directory.
pub struct Engine {
    /// The model directory.
    pub dir: ModelDir,
    /// Where units' processes run.
    pub machines: Box<dyn Machines>,
    /// The jujusim binary (hook tools are symlinks to it).
    pub tool_binary: PathBuf,
    /// Max hooks per settle.
    pub hook_bound: usize,
    /// A hook or action still running after this is killed and fails.
    pub hook_timeout: Duration,
}

/// The Machines implementation for a kind.
pub fn machines_for(kind: MachinesKind) -> Box<dyn Machines> {
    match kind {
        MachinesKind::Host => Box::new(HostMachines),
        MachinesKind::Linux => Box::new(LinuxMachines),
    }
}

impl Engine {
    /// An engine over an existing or new model dir.
    pub fn new(dir: ModelDir, machines: Box<dyn Machines>, tool_binary: PathBuf) -> Engine {
        Engine {
            dir,
            machines,
            tool_binary,
            hook_bound: DEFAULT_HOOK_BOUND,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
        }
    }

    /// Make `<model>/tools/<tool>` symlinks to the jujusim binary (idempotent).
    pub fn ensure_tools(&self) -> Result<(), EngineError> {
        let dir = self.dir.tools_dir();
        std::fs::create_dir_all(&dir).map_err(EngineError::io("creating", &dir))?;
        for t in crate::tools::tool_names() {
            let link = dir.join(t);
            if std::fs::read_link(&link).ok().as_deref() == Some(self.tool_binary.as_path()) {
                continue;
            }
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&self.tool_binary, &link)
                .map_err(EngineError::io("linking the hook tool", &link))?;
        }
        Ok(())
    }

    /// Run hooks round-robin across units until none is due (bounded).
    pub fn settle(&self) -> Result<usize, EngineError> {
        let mut count = 0usize;
        let mut recent: VecDeque<String> = VecDeque::new();
        loop {
            // One model read per round plus the one each hook's commit returns: parsing
            // model.json again for every idle unit dominated a debug build's settle.
            let mut model = self.dir.update(|m| -> Result<Model, EngineError> {
                cleanup(m);
                let names: Vec<String> = m.units.keys().cloned().collect();
                for u in &names {
                    normalize(m, u);
                }
                Ok(m.clone())
            })?;
            let units: Vec<String> = model.units.keys().cloned().collect();
            let mut progressed = false;
            for u in units {
                let Some(hook) = next_hook(&model, &u) else {
                    continue;
                };
                progressed = true;
                count += 1;
                let rel = hook
                    .relation
                    .map(|r| format!(" (relation {r})"))
                    .unwrap_or_default();
                recent.push_back(format!("{u} {}{rel}", hook.name()));
                if recent.len() > 200 {
                    recent.pop_front();
                }
                if count > self.hook_bound {
                    return Err(EngineError::PingPong {
                        count: count - 1,
                        detail: summarize(&recent),
                    });
                }
                model = self.run_hook(&u, hook)?;
            }
            if !progressed {
                return Ok(count);
            }
        }
    }

    /// Run one hook on `unit` and commit or fail it; returns the model as committed.
    pub fn run_hook(&self, unit: &str, hook: Hook) -> Result<Model, EngineError> {
        let name = hook.name();
        let ctx_id = new_context_id(unit, &name);
        let snap = self.dir.update(|m| -> Result<Snapshot, EngineError> {
            normalize(m, unit);
            let snap = snapshot(m, &self.dir, unit, ContextKind::Hook(hook.clone()), &ctx_id)?;
            let u = m
                .units
                .get_mut(unit)
                .ok_or_else(|| EngineError::UnitNotFound(unit.into()))?;
            match hook.kind {
                HookKind::Install if !u.status_set_by_charm => {
                    u.set_workload(StatusInfo::now("maintenance", "installing charm software"))
                }
                HookKind::Stop => {
                    u.set_workload(StatusInfo::now("maintenance", "stopping charm software"))
                }
                HookKind::Remove => u.set_workload(StatusInfo::now(
                    "maintenance",
                    "cleaning up prior to charm deletion",
                )),
                _ => {}
            }
            if hook.kind != HookKind::UpdateStatus {
                u.agent = StatusInfo::now("executing", &format!("running {name} hook"));
            }
            Ok(snap)
        })?;
        let path = context_path(&self.dir.unit_dir(unit), &ctx_id);
        write_snapshot(&path, &snap)?;
        let outcome = self.execute(&snap, &format!("hooks/{name}"))?;
        let (_, changes) = read_context(&path, &ctx_id)?;
        let _ = std::fs::remove_file(&path);
        let module = format!("unit.{unit}.{name}");
        self.log_outcome(unit, &module, &outcome);
        let ok = outcome.code == Some(0) || outcome.code.is_none();
        if outcome.code.is_none() {
            self.dir.log(
                Some(unit),
                "INFO",
                "juju.worker.uniter.operation",
                &format!("skipped {name:?} hook (missing)"),
            );
        }
        let (removed, committed) = self.dir.update(
            |m| -> Result<(Option<crate::machines::Machine>, Model), EngineError> {
                let removed = commit_hook(m, unit, &hook, ok, &changes);
                Ok((removed, m.clone()))
            },
        )?;
        if ok && outcome.code.is_some() {
            self.dir.log(
                Some(unit),
                "INFO",
                "juju.worker.uniter.operation",
                &format!("ran {name:?} hook (via {})", dispatch_label(&snap)),
            );
        }
        if !ok {
            self.dir.log(
                Some(unit),
                "ERROR",
                "juju.worker.uniter.operation",
                &format!(
                    "hook {name:?} (via {}) failed: exit status {}",
                    dispatch_label(&snap),
                    outcome.code.unwrap_or(-1)
                ),
            );
        }
        if let Some(machine) = removed {
            self.machines.destroy_machine(&committed.net, &machine)?;
        }
        Ok(committed)
    }

    fn log_outcome(&self, unit: &str, module: &str, outcome: &RunOutcome) {
        if !outcome.stdout.is_empty() {
            self.dir
                .log(Some(unit), "DEBUG", module, outcome.stdout.trim_end());
        }
        if !outcome.stderr.is_empty() {
            self.dir
                .log(Some(unit), "WARNING", module, outcome.stderr.trim_end());
        }
    }

    /// Run `dispatch` (or the legacy hooks/ or actions/ file) for a snapshot.
    /// `code: None` means no handler exists.
    fn execute(&self, snap: &Snapshot, dispatch_path: &str) -> Result<RunOutcome, EngineError> {
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

    /// Environment, cwd and machine for a process in `snap`'s context
    /// (docs/juju.md#environment).
    fn prepare_command(
        &self,
        cmd: &mut Command,
        snap: &Snapshot,
        dispatch_path: Option<&str>,
    ) -> Result<(), EngineError> {
        let unit_dir = self.dir.unit_dir(&snap.unit);
        let charm_dir = unit_dir.join("charm");
        let path = format!(
            "{}:{}",
            self.dir.tools_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
        );
        cmd.env_clear().current_dir(&charm_dir).stdin(Stdio::null());
        let vars: [(&str, String); 24] = [
            ("CHARM_DIR", charm_dir.display().to_string()),
            ("JUJU_CHARM_DIR", charm_dir.display().to_string()),
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
            ("JUJU_PRINCIPAL_UNIT", String::new()),
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
        ];
        cmd.envs(vars);
        match &snap.kind {
            ContextKind::Hook(h) => {
                cmd.env("JUJU_HOOK_NAME", h.name());
                if let Some(id) = h.relation {
                    cmd.env("JUJU_RELATION", h.endpoint.clone().unwrap_or_default());
                    cmd.env(
                        "JUJU_RELATION_ID",
                        format!("{}:{id}", h.endpoint.clone().unwrap_or_default()),
                    );
                    cmd.env("JUJU_REMOTE_APP", h.remote_app.clone().unwrap_or_default());
                    cmd.env(
                        "JUJU_REMOTE_UNIT",
                        h.remote_unit.clone().unwrap_or_default(),
                    );
                    if let Some(d) = &h.departing {
                        cmd.env("JUJU_DEPARTING_UNIT", d);
                    }
                }
            }
            ContextKind::Action { id, name, .. } => {
                cmd.env("JUJU_HOOK_NAME", "");
                cmd.env("JUJU_ACTION_NAME", name);
                cmd.env("JUJU_ACTION_UUID", id.to_string());
                cmd.env("JUJU_ACTION_TAG", format!("action-{id}"));
            }
            ContextKind::Exec => {}
        }
        if let Some(d) = dispatch_path {
            // Appended last, like the uniter does.
            cmd.env("JUJU_DISPATCH_PATH", d);
        }
        self.machines.enter(&snap.machine, cmd)?;
        Ok(())
    }

    /// Run action `name` on `unit` now (even in error state) and record the task.
    pub fn run_action(
        &self,
        unit: &str,
        name: &str,
        params: Map<String, Value>,
    ) -> Result<Task, EngineError> {
        let (task_id, snap) = self
            .dir
            .update(|m| -> Result<(u32, Snapshot), EngineError> {
                let app = m
                    .applications
                    .get(app_of(unit))
                    .ok_or_else(|| EngineError::UnitNotFound(unit.into()))?;
                if !m.units.contains_key(unit) {
                    return Err(EngineError::UnitNotFound(unit.into()));
                }
                if app.charm.actions.is_empty() {
                    return Err(EngineError::NoActions(app.charm.name.clone()));
                }
                let params = app.charm.validate_action(unit, name, params)?;
                let op = m.next_task.max(1);
                let id = op + 1;
                m.next_task = id + 1;
                let now = now_secs();
                m.tasks.insert(
                    id,
                    Task {
                        id,
                        operation: op,
                        unit: unit.to_string(),
                        action: name.to_string(),
                        params: Value::Object(params.clone()),
                        status: "running".into(),
                        message: String::new(),
                        results: json!({}),
                        log: vec![],
                        timing: [now, now, 0],
                    },
                );
                let ctx_id = new_context_id(unit, name);
                let snap = snapshot(
                    m,
                    &self.dir,
                    unit,
                    ContextKind::Action {
                        id,
                        name: name.to_string(),
                        params: Value::Object(params),
                    },
                    &ctx_id,
                )?;
                if let Some(u) = m.units.get_mut(unit) {
                    if u.error.is_none() {
                        u.agent = StatusInfo::now("executing", &format!("running action {name}"));
                    }
                }
                Ok((id, snap))
            })?;
        eprintln!("Running operation {} with 1 task\n  - task {task_id} on {}\n\nWaiting for task {task_id}...", task_id - 1, crate::model::unit_tag(unit));
        let path = context_path(&self.dir.unit_dir(unit), &snap.context_id);
        write_snapshot(&path, &snap)?;
        let outcome = self.execute(&snap, &format!("actions/{name}"))?;
        let (_, changes) = read_context(&path, &snap.context_id)?;
        let _ = std::fs::remove_file(&path);
        self.log_outcome(unit, &format!("unit.{unit}.{name}"), &outcome);
        let task = self.dir.update(|m| -> Result<Task, EngineError> {
            let pending = Pending::fold(&changes);
            let (status, message) = match outcome.code {
                None => ("failed", format!("action not implemented on unit {unit:?}")),
                Some(0) => {
                    apply_pending(m, unit, &pending);
                    match &pending.failed {
                        Some(msg) => ("failed", msg.clone()),
                        None => ("completed", String::new()),
                    }
                }
                Some(n) => ("failed", format!("exit status {n}")),
            };
            let mut results = pending.results.clone();
            if let Some(code) = outcome.code {
                results.insert("return-code".into(), json!(code));
            }
            if !outcome.stdout.is_empty() {
                results.insert("stdout".into(), Value::String(outcome.stdout.clone()));
            }
            if !outcome.stderr.is_empty() {
                results.insert("stderr".into(), Value::String(outcome.stderr.clone()));
            }
            if let Some(u) = m.units.get_mut(unit) {
                if u.error.is_none() {
                    u.agent = StatusInfo::now("idle", "");
                }
            }
            let t = m
                .tasks
                .get_mut(&task_id)
                .ok_or(EngineError::TaskVanished(task_id))?;
            t.status = status.into();
            t.message = message;
            t.results = Value::Object(results);
            t.timing[2] = now_secs();
            Ok(t.clone())
        })?;
        Ok(task)
    }

    /// Run `argv` in `unit`'s hook context and machine (like `juju exec`); returns its
    /// exit code. Buffered changes are committed on exit 0.
    pub fn run_exec(&self, unit: &str, argv: &[String]) -> Result<i32, EngineError> {
        let ctx_id = new_context_id(unit, "run-commands");
        let snap = self
            .dir
            .update(|m| snapshot(m, &self.dir, unit, ContextKind::Exec, &ctx_id))?;
        let path = context_path(&self.dir.unit_dir(unit), &ctx_id);
        write_snapshot(&path, &snap)?;
        let mut cmd = if argv.len() == 1 {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(&argv[0]);
            c
        } else {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        };
        self.prepare_command(&mut cmd, &snap, None)?;
        let status = cmd.status().map_err(|source| EngineError::Spawn {
            command: argv.join(" "),
            unit: unit.into(),
            source,
        });
        let (_, changes) = read_context(&path, &ctx_id)?;
        let _ = std::fs::remove_file(&path);
        let status = status?;
        let code = exit_code(&status);
        if code == 0 {
            self.dir.update(|m| -> Result<(), EngineError> {
                apply_pending(m, unit, &Pending::fold(&changes));
                Ok(())
            })?;
        }
        Ok(code)
    }
}

fn exit_code(status: &std::process::ExitStatus) -> i32 {
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

fn dispatch_label(snap: &Snapshot) -> &'static str {
    match snap.kind {
        ContextKind::Hook(_) => "hook dispatching script: dispatch",
        _ => "dispatch",
    }
}

fn summarize(recent: &VecDeque<String>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in recent {
        *counts.entry(r.as_str()).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    let parts: Vec<String> = v.iter().take(6).map(|(k, n)| format!("{k} x{n}")).collect();
    format!(
        "{} (in the last {} hooks); the charms keep changing relation data in response to each other: make each write idempotent",
        parts.join(", "),
        recent.len()
    )
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

/// Remove what no unit needs any more: dying relations nobody still tracks, dying
/// units that never installed.
pub(crate) fn cleanup(m: &mut Model) {
    let never_installed: Vec<String> = m
        .units
        .values()
        .filter(|u| u.life == Life::Dying && !u.seen.installed)
        .map(|u| u.name.clone())
        .collect();
    for u in never_installed {
        m.units.remove(&u);
    }
    let tracked: Vec<u32> = m
        .units
        .values()
        .flat_map(|u| u.seen.relations.keys().copied())
        .collect();
    m.relations
        .retain(|id, r| r.life == Life::Alive || tracked.contains(id));
}

/// Record how a hook ended: on failure the unit goes into error (nothing buffered is
/// committed); on success the hook is marked done and its changes committed. Returns the
/// machine to destroy when the hook was `remove`.
pub(crate) fn commit_hook(
    m: &mut Model,
    unit: &str,
    hook: &Hook,
    ok: bool,
    changes: &[Change],
) -> Option<crate::machines::Machine> {
    if !ok {
        let msg = format!("hook failed: {:?}", hook.name());
        if let Some(u) = m.units.get_mut(unit) {
            u.error = Some(crate::model::HookError {
                hook: hook.clone(),
                message: msg.clone(),
            });
            u.retry = None;
            u.agent = StatusInfo::now("error", &msg);
        }
        return None;
    }
    mark_done(m, unit, hook);
    // Juju refreshes the network keys first (CommitHookChanges with UpdateNetworkInfo),
    // so a value the hook itself set still wins.
    if hook.kind == HookKind::ConfigChanged {
        m.refresh_address_keys(unit);
    }
    apply_pending(m, unit, &Pending::fold(changes));
    if let Some(u) = m.units.get_mut(unit) {
        u.agent = StatusInfo::now("idle", "");
        if hook.kind == HookKind::Start && !u.status_set_by_charm {
            u.set_workload(StatusInfo::now("unknown", ""));
        }
    }
    if hook.kind == HookKind::Remove {
        let machine = m.units.get(unit).map(|u| u.machine);
        m.units.remove(unit);
        return machine.and_then(|id| m.machines.remove(&id));
    }
    None
}

/// Commit buffered changes of `unit` (after exit 0).
pub fn apply_pending(m: &mut Model, unit: &str, p: &Pending) {
    let app = app_of(unit).to_string();
    for (id, data) in &p.unit_bags {
        if let Some(r) = m.relations.get_mut(id) {
            r.unit_bags.entry(unit.to_string()).or_default().apply(data);
        }
    }
    for (id, data) in &p.app_bags {
        if let Some(r) = m.relations.get_mut(id) {
            r.app_bags.entry(app.clone()).or_default().apply(data);
        }
    }
    if let Some(u) = m.units.get_mut(unit) {
        for (k, v) in &p.state {
            match v {
                Some(v) => u.state.insert(k.clone(), v.clone()),
                None => u.state.remove(k),
            };
        }
        for (open, port) in &p.ports {
            u.ports.retain(|o| o.range != port.range);
            if *open {
                u.ports.insert(port.clone());
            }
        }
    }
}

/// Build the snapshot a new execution of `unit` sees.
pub fn snapshot(
    m: &Model,
    dir: &ModelDir,
    unit: &str,
    kind: ContextKind,
    ctx_id: &str,
) -> Result<Snapshot, EngineError> {
    let u = m
        .units
        .get(unit)
        .ok_or_else(|| EngineError::UnitNotFound(unit.into()))?;
    let app = m
        .applications
        .get(&u.app)
        .ok_or_else(|| EngineError::AppNotFound(u.app.clone()))?;
    let machine =
        m.machines
            .get(&u.machine)
            .cloned()
            .ok_or_else(|| EngineError::MachineNotFound {
                machine: u.machine,
                unit: unit.into(),
            })?;
    let hook = match &kind {
        ContextKind::Hook(h) => Some(h.clone()),
        _ => None,
    };
    let mut relations = BTreeMap::new();
    for r in m.relations_of(&u.app) {
        let (Some(local), Some(remote)) = (r.local_endpoint(&u.app), r.remote_endpoint(&u.app))
        else {
            continue;
        };
        let members = members_during(m, unit, r.id, hook.as_ref());
        let current = hook.as_ref().and_then(|h| h.relation) == Some(r.id);
        let created = u
            .seen
            .relations
            .get(&r.id)
            .map(|s| s.created)
            .unwrap_or(false);
        let listed = (created || current) && !(r.life == Life::Dying && members.is_empty());
        relations.insert(
            r.id,
            RelView {
                id: r.id,
                endpoint: local.name.clone(),
                remote_endpoint: remote.name.clone(),
                remote_app: remote.app.clone(),
                peer: r.is_peer(),
                members,
                listed,
                units: r
                    .unit_bags
                    .iter()
                    .map(|(k, b)| (k.clone(), b.data.clone()))
                    .collect(),
                apps: r
                    .app_bags
                    .iter()
                    .map(|(k, b)| (k.clone(), b.data.clone()))
                    .collect(),
            },
        );
    }
    Ok(Snapshot {
        context_id: ctx_id.to_string(),
        model_dir: dir.path.clone(),
        model_name: m.name.clone(),
        model_uuid: m.uuid.clone(),
        unit: unit.to_string(),
        app: u.app.clone(),
        kind,
        leader: app.leader.as_deref() == Some(unit),
        config: app.effective_config(),
        leader_settings: app.leader_settings.data.clone(),
        relations,
        state: u.state.clone(),
        ports: u.ports.iter().cloned().collect(),
        machine,
        bindings: app.charm.bindings(),
        goal_state: goal_state(m, unit),
    })
}

fn goal_state(m: &Model, unit: &str) -> Value {
    let app = app_of(unit);
    let since = iso_time(now_secs());
    let unit_status = |name: &str| {
        let u = m.units.get(name);
        let st = match u {
            Some(u) if u.life == Life::Dying => "dying".to_string(),
            Some(u) if u.error.is_some() => "error".to_string(),
            Some(u) if !u.seen.installed => "allocating".to_string(),
            Some(u) => match u.workload.status.as_str() {
                "active" | "waiting" | "blocked" => u.workload.status.clone(),
                _ => "waiting".to_string(),
            },
            None => "dying".to_string(),
        };
        json!({"status": st, "since": since})
    };
    let units: Map<String, Value> = m
        .units_of(app)
        .iter()
        .map(|u| (u.clone(), unit_status(u)))
        .collect();
    let mut relations: Map<String, Value> = Map::new();
    for r in m.relations_of(app) {
        let (Some(local), Some(remote)) = (r.local_endpoint(app), r.remote_endpoint(app)) else {
            continue;
        };
        let entry = relations
            .entry(local.name.clone())
            .or_insert_with(|| json!({}));
        let status = if r.life == Life::Dying {
            "broken"
        } else {
            "joined"
        };
        if let Value::Object(o) = entry {
            if !r.is_peer() {
                o.insert(
                    remote.app.clone(),
                    json!({"status": status, "since": since}),
                );
            }
            for ru in m.units_of(&remote.app) {
                if ru != unit || !r.is_peer() {
                    o.insert(ru.clone(), unit_status(&ru));
                }
            }
        }
    }
    json!({"units": units, "relations": relations})
}

/// Change the model for a buffered `Change` list; exposed for tests.
pub fn fold(changes: &[Change]) -> Pending {
    Pending::fold(changes)
}
