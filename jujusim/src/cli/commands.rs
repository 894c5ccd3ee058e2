//! What each request does: take the model's operation lock, change the model through
//! `ops` or the engine, settle, and print what the views render. Commands that only read
//! the model load it once and print.
use super::args::{ArgsError, LowArgs, OutFormat, Request, ShowFilter};
use super::{views, CliError, USAGE};
use crate::engine::{machines_for, Engine, Location};
use crate::machines::Machine;
use crate::model::{now_secs, unit_tag, MachinesKind, Model, ModelDir, StatusKind};
use crate::ops::{self, OpError};
use crate::sched::{Picker, Seed};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Run a checked request against the model `low` names; returns the exit code.
pub fn run(low: &LowArgs, req: Request) -> Result<i32, CliError> {
    if let Request::Help = req {
        print!("{USAGE}");
        return Ok(0);
    }
    let dir = low
        .model
        .as_deref()
        .map(ModelDir::new)
        .ok_or(CliError::NoModel)?;
    match req {
        Request::Help => Ok(0),
        Request::Deploy {
            charm,
            app,
            n,
            config,
            machines,
            base,
        } => {
            let args = ops::DeployArgs {
                app: app.as_deref(),
                n,
                config: &config,
                base: base.as_ref(),
            };
            deploy(low, dir, &charm, &args, machines)
        }
        Request::Config {
            app,
            get,
            set,
            reset,
            format,
        } if set.is_empty() && reset.is_empty() => show_config(&dir, &app, get.as_deref(), format),
        Request::Config {
            app, set, reset, ..
        } => mutate(low, dir, |e| ops::set_config(&e.dir, &app, &set, &reset)),
        Request::Integrate { a, b } => {
            mutate(low, dir, |e| ops::integrate(&e.dir, &a, &b).map(drop))
        }
        Request::RemoveRelation { a, b } => mutate(low, dir, |e| {
            ops::remove_relation(&e.dir, &a, b.as_deref()).map(drop)
        }),
        Request::AddUnit { app, n } => mutate(low, dir, |e| ops::add_units(e, &app, n).map(drop)),
        Request::RemoveUnit { units } => mutate(low, dir, |e| {
            units.iter().try_for_each(|u| ops::remove_unit(&e.dir, u))
        }),
        Request::SetLeader { unit } => mutate(low, dir, |e| ops::set_leader(&e.dir, &unit)),
        Request::Refresh { app, path } => {
            mutate(low, dir, |e| ops::refresh(e, &app, &path).map(drop))
        }
        Request::Resolve { unit, retry } => {
            mutate(low, dir, |e| ops::resolve(&e.dir, &unit, retry))
        }
        Request::Settle => mutate(low, dir, |_| Ok(())),
        Request::UpdateStatus { target } => update_status(low, dir, target.as_deref()),
        Request::Run {
            unit,
            action,
            params,
            format,
            background,
        } => {
            let how = if background {
                RunMode::Background
            } else {
                RunMode::Wait(format)
            };
            run_action(low, dir, &unit, &action, params, how)
        }
        Request::ShowTask { id, format } => show_task(&dir, id, format),
        Request::Exec { unit, argv } => exec(low, dir, &unit, &argv),
        Request::Netexec { argv } => netexec(dir, &argv),
        Request::Status { format, relations } => status(&dir, format, relations),
        Request::ShowUnit {
            units,
            format,
            filter,
        } => show_units(&dir, &units, format, &filter),
        Request::DebugLog {
            replay,
            lines,
            include,
        } => debug_log(&dir, replay, lines, include.as_deref()),
        Request::Destroy => destroy(dir),
        Request::Secrets { format } => secrets(&dir, format),
        Request::ShowSecret {
            secret,
            reveal,
            revision,
            revisions,
            format,
        } => show_secret(&dir, &secret, reveal, revision, revisions, format),
        Request::RemoveApplication { apps } => {
            mutate(low, dir, |e| ops::remove_application(&e.dir, &apps))
        }
        Request::ShowStatusLog {
            unit,
            lines,
            kind,
            format,
        } => show_status_log(&dir, &unit, lines, kind, format),
        Request::ModelConfig { get, set } => model_config(dir, get.as_deref(), &set),
        Request::Ssh { target, argv } => ssh(dir, &target, &argv),
        Request::Scp {
            from,
            to,
            recursive,
        } => scp(dir, &from, &to, recursive),
    }
}

/// `secrets`: every secret's metadata, never its content.
fn secrets(dir: &ModelDir, format: OutFormat) -> Result<i32, CliError> {
    let m = dir.load()?;
    let text = match format {
        OutFormat::Plain => views::secrets_table(&m, now_secs()),
        f => views::render(&views::secrets_view(&m, None), f)?,
    };
    print!("{text}");
    Ok(0)
}

/// `show-secret ID|LABEL`: one secret's metadata and grants; its content with
/// `--reveal`.
fn show_secret(
    dir: &ModelDir,
    secret: &str,
    reveal: bool,
    revision: Option<u32>,
    revisions: bool,
    format: OutFormat,
) -> Result<i32, CliError> {
    let m = dir.load()?;
    let id =
        views::find_secret(&m, secret).ok_or_else(|| CliError::SecretNotFound(secret.into()))?;
    let show = views::SecretShow {
        reveal,
        revision,
        revisions,
    };
    let v = views::secrets_view(&m, Some((&id, &show)));
    print!("{}", views::render(&v, yaml_unless(format))?);
    Ok(0)
}

/// `show-status-log UNIT`: the last `lines` statuses of the unit.
fn show_status_log(
    dir: &ModelDir,
    unit: &str,
    lines: usize,
    kind: Option<StatusKind>,
    format: OutFormat,
) -> Result<i32, CliError> {
    let m = dir.load()?;
    let u = m
        .units
        .get(unit)
        .ok_or_else(|| CliError::UnitNotFound(unit.into()))?;
    let entries = views::status_log(u, lines, kind);
    let text = match format {
        OutFormat::Plain => views::status_log_table(&entries),
        f => views::render(&views::status_log_view(&entries), f)?,
    };
    print!("{text}");
    Ok(0)
}

/// `model-config [KEY | KEY=VALUE ...]`: the model keys jujusim acts on.
fn model_config(
    dir: ModelDir,
    get: Option<&str>,
    set: &[(String, String)],
) -> Result<i32, CliError> {
    const RETRY: &str = "automatically-retry-hooks";
    let check = |key: &str| {
        if key == RETRY {
            Ok(())
        } else {
            Err(CliError::ModelConfigKey(key.to_string()))
        }
    };
    if set.is_empty() {
        let m = dir.load()?;
        let value = m.config.automatically_retry_hooks;
        match get {
            Some(key) => {
                check(key)?;
                println!("{value}");
            }
            None => println!("{RETRY}: {value}"),
        }
        return Ok(0);
    }
    let mut values = Vec::new();
    for (k, v) in set {
        check(k)?;
        let b = match v.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(CliError::ModelConfigValue {
                    key: k.clone(),
                    value: v.clone(),
                })
            }
        };
        values.push(b);
    }
    let _ops = dir.ops_lock()?;
    dir.update(|m| -> Result<(), CliError> {
        for b in values {
            m.config.automatically_retry_hooks = b;
        }
        Ok(())
    })?;
    Ok(0)
}

/// The machine `target` names: a unit's (`app/0`, `app/leader`) or a machine number.
fn machine_of(m: &Model, target: &str) -> Result<Machine, CliError> {
    if let Ok(id) = target.parse::<u32>() {
        return m
            .machines
            .get(&id)
            .cloned()
            .ok_or(CliError::MachineNotFound(id));
    }
    let unit = resolve_leader_alias(m, target)?;
    m.machine_of(&unit)
        .cloned()
        .ok_or(CliError::UnitNotFound(unit))
}

/// `ssh UNIT|MACHINE [CMD ...]`: the command's exit code.
fn ssh(dir: ModelDir, target: &str, argv: &[String]) -> Result<i32, CliError> {
    let engine = engine_for(dir)?;
    let machine = machine_of(&engine.dir.load()?, target)?;
    Ok(engine.ssh(&machine, argv)?)
}

/// `scp [-r] SOURCE DESTINATION`, one end on a machine.
fn scp(dir: ModelDir, from: &Location, to: &Location, recursive: bool) -> Result<i32, CliError> {
    let engine = engine_for(dir)?;
    let m = engine.dir.load()?;
    match (from, to) {
        (Location::Local(local), Location::Remote { target, path }) => {
            engine.copy_to(&machine_of(&m, target)?, local, path, recursive)?
        }
        (Location::Remote { target, path }, Location::Local(local)) => {
            engine.copy_from(&machine_of(&m, target)?, path, local, recursive)?
        }
        _ => return Err(ArgsError::ScpEnds.into()),
    }
    Ok(0)
}

fn update_status(low: &LowArgs, dir: ModelDir, target: Option<&str>) -> Result<i32, CliError> {
    let _ops = dir.ops_lock()?;
    ops::update_status(&scheduling(low, engine_for(dir)?), target)?;
    Ok(0)
}

fn show_task(dir: &ModelDir, id: u32, format: OutFormat) -> Result<i32, CliError> {
    let m = dir.load()?;
    let t = m.tasks.get(&id).ok_or(CliError::TaskNotFound(id))?;
    print!(
        "{}",
        views::render(&views::task_view(t), yaml_unless(format))?
    );
    Ok(0)
}

fn status(dir: &ModelDir, format: OutFormat, relations: bool) -> Result<i32, CliError> {
    let m = dir.load()?;
    let text = match format {
        OutFormat::Plain => views::status_table(&m, relations, now_secs()),
        f => views::render(&views::status_view(&m, now_secs()), f)?,
    };
    print!("{text}");
    Ok(0)
}

fn destroy(dir: ModelDir) -> Result<i32, CliError> {
    if !dir.exists() {
        return Err(CliError::NoModelAt(dir.path));
    }
    let _ops = dir.ops_lock()?;
    ops::destroy(&engine_for(dir)?)?;
    Ok(0)
}

/// `show-task` and `show-unit` have no plain form: YAML unless JSON is asked for.
fn yaml_unless(format: OutFormat) -> OutFormat {
    if format == OutFormat::Plain {
        OutFormat::Yaml
    } else {
        format
    }
}

fn engine_for(dir: ModelDir) -> Result<Engine, CliError> {
    let m = dir.load()?;
    Ok(with_bound(Engine::new(
        dir,
        machines_for(m.machines_kind),
        tool_binary()?,
    )))
}

/// Apply `JUJUSIM_MAX_HOOKS` (the settle bound; default 2000) and `JUJUSIM_HOOK_TIMEOUT`.
fn with_bound(mut e: Engine) -> Engine {
    if let Some(n) = std::env::var("JUJUSIM_MAX_HOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        e.hook_bound = n;
    }
    if let Some(secs) = std::env::var("JUJUSIM_HOOK_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        e.hook_timeout = std::time::Duration::from_secs(secs);
    }
    e
}

/// This binary: the hook tools are symlinks to it.
fn tool_binary() -> Result<PathBuf, CliError> {
    std::env::current_exe().map_err(CliError::SelfExe)
}

/// `engine` choosing with the command's seed (`--seed`, `JUJUSIM_SEED`, else fresh).
fn scheduling(low: &LowArgs, mut engine: Engine) -> Engine {
    engine.picker = Picker::new(low.seed.unwrap_or_else(Seed::fresh));
    engine
}

/// Run what the agents have due, unless the command was told not to wait for them.
fn settle_unless_told(low: &LowArgs, engine: &Engine) -> Result<(), CliError> {
    if !low.no_settle {
        engine.settle()?;
    }
    Ok(())
}

/// Under the operation lock: change the model with `f`, then run the hooks now due.
fn mutate(
    low: &LowArgs,
    dir: ModelDir,
    f: impl FnOnce(&Engine) -> Result<(), OpError>,
) -> Result<i32, CliError> {
    let _ops = dir.ops_lock()?;
    let engine = scheduling(low, engine_for(dir)?);
    f(&engine)?;
    settle_unless_told(low, &engine)?;
    Ok(0)
}

/// `app/leader` -> the leader unit; any other name must be a unit of the model.
fn resolve_leader_alias(m: &Model, unit: &str) -> Result<String, CliError> {
    if let Some(app) = unit.strip_suffix("/leader") {
        return m
            .applications
            .get(app)
            .and_then(|a| a.leader.clone())
            .ok_or_else(|| CliError::NoLeader(app.into()));
    }
    if !m.units.contains_key(unit) {
        return Err(CliError::UnitNotFound(unit.into()));
    }
    Ok(unit.to_string())
}

/// The first deploy creates the model, with the machines asked for (Linux by default);
/// when that deploy fails, the model directory it made goes again.
fn deploy(
    low: &LowArgs,
    dir: ModelDir,
    charm: &Path,
    args: &ops::DeployArgs,
    machines: Option<MachinesKind>,
) -> Result<i32, CliError> {
    let kind = if dir.exists() {
        let model = dir.load()?.machines_kind;
        if let Some(asked) = machines.filter(|k| *k != model) {
            return Err(CliError::MachinesMismatch { model, asked });
        }
        model
    } else {
        machines.unwrap_or(MachinesKind::Linux)
    };
    let fresh = !dir.path.exists();
    std::fs::create_dir_all(&dir.path).map_err(|source| CliError::Io {
        what: "creating",
        path: dir.path.clone(),
        source,
    })?;
    let _ops = dir.ops_lock()?;
    let engine = with_bound(Engine::new(dir, machines_for(kind), tool_binary()?));
    let engine = scheduling(low, engine);
    let app = match ops::deploy(&engine, kind, charm, args) {
        Ok(app) => app,
        Err(e) => {
            // Leave no half-made model: what this deploy made goes again.
            if fresh {
                if engine.dir.exists() {
                    let _ = ops::destroy(&engine);
                }
                let _ = std::fs::remove_dir_all(&engine.dir.path);
            }
            return Err(e.into());
        }
    };
    settle_unless_told(low, &engine)?;
    eprintln!("Deployed {app:?} from {}", charm.display());
    Ok(0)
}

/// `config APP [KEY]`: one value as plain text, or every option.
fn show_config(
    dir: &ModelDir,
    app: &str,
    key: Option<&str>,
    format: OutFormat,
) -> Result<i32, CliError> {
    let m = dir.load()?;
    let a = m
        .applications
        .get(app)
        .ok_or_else(|| CliError::AppNotFound(app.into()))?;
    let Some(k) = key else {
        let described = crate::charm::CharmMeta::load(&a.charm_dir).ok();
        print!(
            "{}",
            views::render(&views::config_view(a, described.as_ref()), format)?
        );
        return Ok(0);
    };
    let eff = a.effective_config();
    match eff.get(k).ok_or_else(|| a.charm.unknown_option(app, k))? {
        Value::String(s) => println!("{s}"),
        Value::Null => println!(),
        other => println!("{other}"),
    }
    Ok(0)
}

/// How `run` waits: for the task (then prints it in `--format`), or not at all.
enum RunMode {
    /// Wait for the result and print it.
    Wait(OutFormat),
    /// `--background`: queue the task and return.
    Background,
}

/// `run`: queue the action on the unit, as Juju does; the unit's agent runs it when it
/// gets to it (after install; ahead of config-changed and relation hooks; also while a
/// hook is in error), interleaved with the other units' hooks. The command waits for the
/// task and for the model to settle, then prints like `juju run`; a failed task fails
/// the command.
fn run_action(
    low: &LowArgs,
    dir: ModelDir,
    unit: &str,
    action: &str,
    params: Map<String, Value>,
    how: RunMode,
) -> Result<i32, CliError> {
    let _ops = dir.ops_lock()?;
    let engine = scheduling(low, engine_for(dir)?);
    let unit = resolve_leader_alias(&engine.dir.load()?, unit)?;
    let id = engine.enqueue_action(&unit, action, params)?;
    let format = match how {
        RunMode::Background => {
            eprintln!(
                "Scheduled operation {} with task {id}\nCheck task status with 'jujusim show-task {id}'",
                id - 1
            );
            return Ok(0);
        }
        RunMode::Wait(format) => format,
    };
    eprintln!(
        "Running operation {} with 1 task\n  - task {id} on {}\n\nWaiting for task {id}...",
        id - 1,
        unit_tag(&unit)
    );
    let settled = engine.settle();
    let task = engine
        .dir
        .load()?
        .tasks
        .get(&id)
        .cloned()
        .ok_or(CliError::TaskNotFound(id))?;
    if matches!(task.status.as_str(), "pending" | "running") {
        settled?;
        return Err(CliError::TaskWaiting {
            id,
            unit: unit.clone(),
        });
    }
    for line in views::task_log_lines(&task) {
        eprintln!("{line}");
    }
    let text = match format {
        OutFormat::Plain => views::plain_task(&task)?,
        f => views::render(&views::task_view(&task), f)?,
    };
    print!("{text}");
    settled?;
    let code = task
        .results
        .get("return-code")
        .and_then(|c| c.as_i64())
        .unwrap_or(0);
    if code >= 1 {
        return Err(CliError::TaskExit { id: task.id, code });
    }
    // Juju exits 0 after action-fail; jujusim fails the command, so scripts can tell.
    if task.status == "failed" {
        return Err(CliError::TaskFailed {
            id: task.id,
            message: task.message,
        });
    }
    Ok(0)
}

/// `exec`: the command's own exit code; its buffered changes commit on exit 0.
fn exec(low: &LowArgs, dir: ModelDir, unit: &str, argv: &[String]) -> Result<i32, CliError> {
    let _ops = dir.ops_lock()?;
    let engine = scheduling(low, engine_for(dir)?);
    let unit = resolve_leader_alias(&engine.dir.load()?, unit)?;
    let code = engine.run_exec(&unit, argv)?;
    if code == 0 {
        settle_unless_told(low, &engine)?;
    }
    Ok(code)
}

/// `netexec`: run on the model's bridge network, where every unit is reachable.
fn netexec(dir: ModelDir, argv: &[String]) -> Result<i32, CliError> {
    use std::os::unix::process::ExitStatusExt;
    let engine = engine_for(dir)?;
    let m = engine.dir.load()?;
    let (program, rest) = argv
        .split_first()
        .ok_or(ArgsError::Usage("netexec -- CMD ..."))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    engine.machines.enter_model_network(&m.net, &mut cmd)?;
    let st = cmd.status().map_err(|source| CliError::Spawn {
        program: program.clone(),
        source,
    })?;
    Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
}

fn show_units(
    dir: &ModelDir,
    units: &[String],
    format: OutFormat,
    filter: &ShowFilter,
) -> Result<i32, CliError> {
    let m = dir.load()?;
    let mut all = serde_yaml::Mapping::new();
    for unit in units {
        let body = views::show_unit_view(&m, unit, filter)
            .ok_or_else(|| CliError::UnitNotFound(unit.clone()))?;
        all.insert(serde_yaml::Value::String(unit.clone()), body);
    }
    let v = serde_yaml::Value::Mapping(all);
    print!("{}", views::render(&v, yaml_unless(format))?);
    Ok(0)
}

/// `debug-log`: the last `lines` lines (all with `--replay`) of the model log, of one
/// unit or application if asked.
fn debug_log(
    dir: &ModelDir,
    replay: bool,
    lines: usize,
    include: Option<&str>,
) -> Result<i32, CliError> {
    use std::io::Write;
    let text = std::fs::read_to_string(dir.log_file()).unwrap_or_default();
    let all: Vec<&str> = text
        .lines()
        .filter(|l| match include {
            None => true,
            Some(i) if i.contains('/') => l.starts_with(&format!("{}:", unit_tag(i))),
            Some(i) => l.starts_with(&format!("unit-{i}-")) || l.starts_with(&format!("{i}:")),
        })
        .collect();
    let start = if replay {
        0
    } else {
        all.len().saturating_sub(lines)
    };
    // `debug-log | head` closes the pipe early: that is success, not a panic.
    let mut out = std::io::stdout().lock();
    for l in &all[start..] {
        if writeln!(out, "{l}").is_err() {
            break;
        }
    }
    Ok(0)
}
