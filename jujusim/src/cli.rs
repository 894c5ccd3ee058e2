//! The juju-like command line. argv is read in two steps (ripgrep style): `LowArgs`
//! mirrors what was typed (global `--model`, the subcommand, its flags and positionals);
//! `Request::from_low` checks it and builds a typed request. One exit point maps errors
//! to juju's codes: 2 for usage, 1 for runtime.
use crate::engine::{machines_for, Engine, EngineError};
use crate::flags::{flag, parse, FlagError, Parsed, Spec};
use crate::model::{juju_time, Life, MachinesKind, Model, ModelDir, StatusInfo, Task};
use crate::ops;
use serde_yaml::{Mapping, Value as Y};
use std::path::PathBuf;

/// Usage text.
pub const USAGE: &str = "\
jujusim: a local stand-in for a Juju controller and unit agent

Usage: jujusim [--model DIR] COMMAND [ARGS]     (or set JUJUSIM_MODEL=DIR)
Every command that changes the model then runs hooks until all units are idle
(at most JUJUSIM_MAX_HOOKS hooks, default 2000; a hook or action running longer than
JUJUSIM_HOOK_TIMEOUT seconds, default 300, is killed and fails).

Commands:
  deploy CHARM [APP] [-n N] [--config k=v ...] [--machines linux|host]
  config APP [KEY | k=v ... | --reset k[,k]]
  integrate A[:endpoint] B[:endpoint]
  remove-relation A[:endpoint] B[:endpoint] | remove-relation ID
  add-unit APP [-n N]
  remove-unit UNIT ...
  set-leader UNIT
  refresh APP --path CHARM
  run UNIT ACTION [k=v ...] [--format plain|yaml|json]
  show-task ID
  exec UNIT -- CMD ...          (or exec --unit UNIT -- CMD ...)
  status [--format tabular|yaml|json] [--relations]
  show-unit UNIT... [--format yaml|json] [--endpoint E] [--related-unit U] [--app]
  debug-log [--replay] [-n LINES] [--include UNIT|APP]
  resolve UNIT [--retry|--no-retry]
  update-status [UNIT|APP]
  settle
  destroy
  netexec -- CMD ...            (run CMD in the model's network namespace)
";

/// A CLI failure.
#[derive(Debug)]
pub enum CliError {
    /// Wrong arguments: exit 2.
    Usage(String),
    /// Runtime failure: exit 1.
    Run(String),
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> Self {
        CliError::Run(e.to_string())
    }
}

impl From<crate::model::ModelError> for CliError {
    fn from(e: crate::model::ModelError) -> Self {
        CliError::Run(e.to_string())
    }
}

impl From<FlagError> for CliError {
    fn from(e: FlagError) -> Self {
        match e {
            FlagError::Help => CliError::Usage("help requested".into()),
            FlagError::Usage(m) => CliError::Usage(m),
        }
    }
}

/// The command line as typed.
#[derive(Debug)]
pub struct LowArgs {
    /// `--model DIR` / `-m DIR` (anywhere), else JUJUSIM_MODEL.
    pub model: Option<PathBuf>,
    /// Subcommand.
    pub command: String,
    /// The rest, flags included.
    pub rest: Vec<String>,
}

impl LowArgs {
    /// Split out the global `--model` flag and the subcommand.
    pub fn parse(args: Vec<String>) -> Result<LowArgs, CliError> {
        let mut model = None;
        let mut command = None;
        let mut rest = Vec::new();
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            if a == "--" {
                rest.push(a);
                rest.extend(it.by_ref());
                break;
            }
            if a == "--model" || a == "-m" {
                model = Some(PathBuf::from(it.next().ok_or_else(|| {
                    CliError::Usage(format!("option needs an argument: {a}"))
                })?));
            } else if let Some(v) = a.strip_prefix("--model=") {
                model = Some(PathBuf::from(v));
            } else if command.is_none() && !a.starts_with('-') {
                command = Some(a);
            } else if command.is_none() && (a == "-h" || a == "--help") {
                command = Some("help".into());
            } else {
                rest.push(a);
            }
        }
        let model = model.or_else(|| std::env::var_os("JUJUSIM_MODEL").map(PathBuf::from));
        Ok(LowArgs {
            model,
            command: command.unwrap_or_else(|| "help".into()),
            rest,
        })
    }
}

/// Output format of status-like commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFormat {
    /// Human table / plain.
    Plain,
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// A checked request.
#[derive(Debug)]
pub enum Request {
    /// Print usage.
    Help,
    /// deploy.
    Deploy {
        charm: PathBuf,
        app: Option<String>,
        n: u32,
        config: Vec<(String, String)>,
        machines: Option<MachinesKind>,
    },
    /// config.
    Config {
        app: String,
        get: Option<String>,
        set: Vec<(String, String)>,
        reset: Vec<String>,
        format: OutFormat,
    },
    /// integrate.
    Integrate { a: String, b: String },
    /// remove-relation.
    RemoveRelation { a: String, b: Option<String> },
    /// add-unit.
    AddUnit { app: String, n: u32 },
    /// remove-unit.
    RemoveUnit { units: Vec<String> },
    /// set-leader.
    SetLeader { unit: String },
    /// refresh.
    Refresh { app: String, path: PathBuf },
    /// run.
    Run {
        unit: String,
        action: String,
        params: Vec<String>,
        format: OutFormat,
    },
    /// show-task.
    ShowTask { id: u32, format: OutFormat },
    /// exec.
    Exec { unit: String, argv: Vec<String> },
    /// status.
    Status { format: OutFormat, relations: bool },
    /// show-unit.
    ShowUnit {
        units: Vec<String>,
        format: OutFormat,
        filter: ShowFilter,
    },
    /// debug-log.
    DebugLog {
        replay: bool,
        lines: usize,
        include: Option<String>,
    },
    /// resolve.
    Resolve { unit: String, retry: bool },
    /// update-status.
    UpdateStatus { target: Option<String> },
    /// settle.
    Settle,
    /// destroy.
    Destroy,
    /// netexec.
    Netexec { argv: Vec<String> },
}

fn want(p: &Parsed, n: usize, usage: &str) -> Result<(), CliError> {
    if p.args.len() != n {
        return Err(CliError::Usage(format!(
            "expected {n} argument(s), got {}; usage: {usage}",
            p.args.len()
        )));
    }
    Ok(())
}

fn count(p: &Parsed) -> Result<u32, CliError> {
    match p.value("num-units") {
        None => Ok(1),
        Some(v) => v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            CliError::Usage(format!(
                "invalid value {v:?} for option -n: expected a positive number of units"
            ))
        }),
    }
}

fn out_format(p: &Parsed, allowed: &[&str]) -> Result<OutFormat, CliError> {
    match p.value("format") {
        None => Ok(OutFormat::Plain),
        Some(f) if !allowed.contains(&f) => Err(CliError::Usage(format!(
            "invalid value {f:?} for option --format: expected one of {}",
            allowed.join(", ")
        ))),
        Some("yaml") => Ok(OutFormat::Yaml),
        Some("json") => Ok(OutFormat::Json),
        Some(_) => Ok(OutFormat::Plain),
    }
}

fn kv(s: &str) -> Result<(String, String), CliError> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| CliError::Usage(format!("expected key=value, got {s:?}")))
}

const FORMAT: Spec = flag("format", None, true);

impl Request {
    /// Check the typed command line and build the request.
    pub fn from_low(low: &LowArgs) -> Result<Request, CliError> {
        let a = &low.rest;
        Ok(match low.command.as_str() {
            "help" => Request::Help,
            "deploy" => {
                let p = parse(
                    a,
                    &[
                        flag("num-units", Some('n'), true),
                        flag("config", None, true),
                        flag("machines", None, true),
                    ],
                )?;
                // --config may repeat: collect every occurrence by hand.
                let mut config = Vec::new();
                let mut i = 0;
                while i < a.len() {
                    if a[i] == "--config" && i + 1 < a.len() {
                        config.push(kv(&a[i + 1])?);
                        i += 1;
                    } else if let Some(v) = a[i].strip_prefix("--config=") {
                        config.push(kv(v)?);
                    }
                    i += 1;
                }
                if p.args.is_empty() || p.args.len() > 2 {
                    return Err(CliError::Usage("usage: deploy CHARM [APP] [-n N] [--config k=v ...] [--machines linux|host]".into()));
                }
                let machines = match p.value("machines") {
                    None => None,
                    Some("linux") => Some(MachinesKind::Linux),
                    Some("host") => Some(MachinesKind::Host),
                    Some(o) => {
                        return Err(CliError::Usage(format!(
                            "invalid value {o:?} for option --machines: expected linux or host"
                        )))
                    }
                };
                Request::Deploy {
                    charm: PathBuf::from(&p.args[0]),
                    app: p.args.get(1).cloned(),
                    n: count(&p)?,
                    config,
                    machines,
                }
            }
            "config" => {
                let p = parse(a, &[flag("reset", None, true), FORMAT])?;
                let app = p.args.first().cloned().ok_or_else(|| {
                    CliError::Usage("usage: config APP [KEY | k=v ... | --reset k,...]".into())
                })?;
                let reset: Vec<String> = p
                    .value("reset")
                    .map(|r| {
                        r.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                let rest = &p.args[1..];
                let (set, get) = if rest.len() == 1 && !rest[0].contains('=') {
                    (vec![], Some(rest[0].clone()))
                } else {
                    (
                        rest.iter().map(|s| kv(s)).collect::<Result<Vec<_>, _>>()?,
                        None,
                    )
                };
                if get.is_some() && !reset.is_empty() {
                    return Err(CliError::Usage(
                        "cannot get a key and --reset at once".into(),
                    ));
                }
                Request::Config {
                    app,
                    get,
                    set,
                    reset,
                    format: out_format(&p, &["yaml", "json"])?,
                }
            }
            "integrate" | "relate" | "add-relation" => {
                let p = parse(a, &[])?;
                want(&p, 2, "integrate A[:endpoint] B[:endpoint]")?;
                Request::Integrate {
                    a: p.args[0].clone(),
                    b: p.args[1].clone(),
                }
            }
            "remove-relation" => {
                let p = parse(a, &[])?;
                if p.args.is_empty() || p.args.len() > 2 {
                    return Err(CliError::Usage(
                        "usage: remove-relation A[:endpoint] B[:endpoint] | remove-relation ID"
                            .into(),
                    ));
                }
                Request::RemoveRelation {
                    a: p.args[0].clone(),
                    b: p.args.get(1).cloned(),
                }
            }
            "add-unit" => {
                let p = parse(a, &[flag("num-units", Some('n'), true)])?;
                want(&p, 1, "add-unit APP [-n N]")?;
                Request::AddUnit {
                    app: p.args[0].clone(),
                    n: count(&p)?,
                }
            }
            "remove-unit" => {
                let p = parse(
                    a,
                    &[flag("no-prompt", None, false), flag("force", None, false)],
                )?;
                if p.args.is_empty() {
                    return Err(CliError::Usage("usage: remove-unit UNIT ...".into()));
                }
                Request::RemoveUnit {
                    units: p.args.clone(),
                }
            }
            "set-leader" => {
                let p = parse(a, &[])?;
                want(&p, 1, "set-leader UNIT")?;
                Request::SetLeader {
                    unit: p.args[0].clone(),
                }
            }
            "refresh" | "upgrade-charm" => {
                let p = parse(a, &[flag("path", None, true)])?;
                want(&p, 1, "refresh APP --path CHARM")?;
                let path = p.value("path").ok_or_else(|| {
                    CliError::Usage(
                        "refresh needs --path CHARM (a charm dir or .charm file)".into(),
                    )
                })?;
                Request::Refresh {
                    app: p.args[0].clone(),
                    path: PathBuf::from(path),
                }
            }
            "run" => {
                let p = parse(
                    a,
                    &[
                        FORMAT,
                        flag("string-args", None, false),
                        flag("wait", None, true),
                    ],
                )?;
                if p.args.len() < 2 {
                    return Err(CliError::Usage("usage: run UNIT ACTION [k=v ...]".into()));
                }
                Request::Run {
                    unit: p.args[0].clone(),
                    action: p.args[1].clone(),
                    params: p.args[2..].to_vec(),
                    format: out_format(&p, &["plain", "yaml", "json"])?,
                }
            }
            "show-task" => {
                let p = parse(a, &[FORMAT])?;
                want(&p, 1, "show-task ID")?;
                let id = p.args[0]
                    .parse()
                    .map_err(|_| CliError::Usage(format!("invalid task id {:?}", p.args[0])))?;
                Request::ShowTask {
                    id,
                    format: out_format(&p, &["yaml", "json"])?,
                }
            }
            "exec" => {
                let (before, after) = split_dashdash(a);
                let p = parse(&before, &[flag("unit", Some('u'), true)])?;
                let unit = match (p.value("unit"), p.args.first()) {
                    (Some(u), _) => u.to_string(),
                    (None, Some(u)) => u.clone(),
                    _ => return Err(CliError::Usage("usage: exec UNIT -- CMD ...".into())),
                };
                let mut argv = after;
                if argv.is_empty() {
                    argv = p
                        .args
                        .iter()
                        .skip(usize::from(p.value("unit").is_none()))
                        .cloned()
                        .collect();
                }
                if argv.is_empty() {
                    return Err(CliError::Usage(
                        "exec: no command given; usage: exec UNIT -- CMD ...".into(),
                    ));
                }
                Request::Exec { unit, argv }
            }
            "status" => {
                let p = parse(
                    a,
                    &[
                        FORMAT,
                        flag("relations", None, false),
                        flag("utc", None, false),
                    ],
                )?;
                Request::Status {
                    format: out_format(&p, &["tabular", "yaml", "json"])?,
                    relations: p.on("relations"),
                }
            }
            "show-unit" => {
                let p = parse(
                    a,
                    &[
                        FORMAT,
                        flag("endpoint", None, true),
                        flag("related-unit", None, true),
                        flag("app", None, false),
                    ],
                )?;
                if p.args.is_empty() {
                    return Err(CliError::Usage(
                        "an unit name must be supplied; usage: show-unit UNIT... [--format yaml|json] [--endpoint E] [--related-unit U] [--app]".into(),
                    ));
                }
                Request::ShowUnit {
                    units: p.args.clone(),
                    format: out_format(&p, &["yaml", "json"])?,
                    filter: ShowFilter {
                        endpoint: p.value("endpoint").map(String::from),
                        related_unit: p.value("related-unit").map(String::from),
                        app_only: p.on("app"),
                    },
                }
            }
            "debug-log" => {
                let p = parse(
                    a,
                    &[
                        flag("replay", None, false),
                        flag("lines", Some('n'), true),
                        flag("include", None, true),
                        flag("no-tail", None, false),
                    ],
                )?;
                let lines = match p.value("lines") {
                    Some(n) => n.parse().map_err(|_| {
                        CliError::Usage(format!("invalid value {n:?} for option --lines"))
                    })?,
                    None => 10,
                };
                Request::DebugLog {
                    replay: p.on("replay"),
                    lines,
                    include: p.value("include").map(String::from),
                }
            }
            "resolve" | "resolved" => {
                // `--retry` is the default (as in Juju 3); accepted so older habits work.
                let p = parse(
                    a,
                    &[flag("no-retry", None, false), flag("retry", None, false)],
                )?;
                want(&p, 1, "resolve UNIT [--retry|--no-retry]")?;
                if p.on("retry") && p.on("no-retry") {
                    return Err(CliError::Usage(
                        "resolve: --retry and --no-retry exclude each other".into(),
                    ));
                }
                Request::Resolve {
                    unit: p.args[0].clone(),
                    retry: !p.on("no-retry"),
                }
            }
            "update-status" => {
                let p = parse(a, &[])?;
                if p.args.len() > 1 {
                    return Err(CliError::Usage("usage: update-status [UNIT|APP]".into()));
                }
                Request::UpdateStatus {
                    target: p.args.first().cloned(),
                }
            }
            "settle" => Request::Settle,
            "destroy" | "destroy-model" => Request::Destroy,
            "netexec" => {
                let (before, after) = split_dashdash(a);
                let argv = if after.is_empty() { before } else { after };
                if argv.is_empty() {
                    return Err(CliError::Usage("usage: netexec -- CMD ...".into()));
                }
                Request::Netexec { argv }
            }
            other => {
                let names = [
                    "deploy",
                    "config",
                    "integrate",
                    "remove-relation",
                    "add-unit",
                    "remove-unit",
                    "set-leader",
                    "refresh",
                    "run",
                    "show-task",
                    "exec",
                    "status",
                    "show-unit",
                    "debug-log",
                    "resolve",
                    "update-status",
                    "settle",
                    "destroy",
                    "netexec",
                ];
                return Err(CliError::Usage(format!(
                    "unknown command {other:?}{}; see `jujusim help`",
                    crate::charm::similar(other, &names)
                )));
            }
        })
    }
}

fn split_dashdash(a: &[String]) -> (Vec<String>, Vec<String>) {
    match a.iter().position(|x| x == "--") {
        Some(i) => (a[..i].to_vec(), a[i + 1..].to_vec()),
        None => (a.to_vec(), vec![]),
    }
}

/// The one exit point: run and map errors to exit codes.
pub fn main(args: Vec<String>) -> i32 {
    let low = match LowArgs::parse(args) {
        Ok(l) => l,
        Err(e) => return report("jujusim", e),
    };
    let cmd = low.command.clone();
    match Request::from_low(&low).and_then(|req| run(&low, req)) {
        Ok(code) => code,
        Err(e) => report(&format!("jujusim {cmd}"), e),
    }
}

fn report(prefix: &str, e: CliError) -> i32 {
    match e {
        CliError::Usage(m) => {
            eprintln!("{prefix}: {m}");
            2
        }
        CliError::Run(m) => {
            eprintln!("{prefix}: {m}");
            1
        }
    }
}

fn model_dir(low: &LowArgs) -> Result<ModelDir, CliError> {
    low.model.as_deref().map(ModelDir::new).ok_or_else(|| {
        CliError::Usage("no model: pass --model DIR or set JUJUSIM_MODEL=DIR".into())
    })
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

fn tool_binary() -> Result<PathBuf, CliError> {
    std::env::current_exe()
        .map_err(|e| CliError::Run(format!("cannot find the jujusim binary: {e}")))
}

/// Run a request; returns the exit code.
pub fn run(low: &LowArgs, req: Request) -> Result<i32, CliError> {
    if let Request::Help = req {
        print!("{USAGE}");
        return Ok(0);
    }
    let dir = model_dir(low)?;
    match req {
        Request::Help => Ok(0),
        Request::Deploy {
            charm,
            app,
            n,
            config,
            machines,
        } => {
            let kind = if dir.exists() {
                let m = dir.load()?;
                if let Some(k) = machines.filter(|k| *k != m.machines_kind) {
                    return Err(CliError::Usage(format!("this model uses {:?} machines; --machines {k:?} only applies when creating a model", m.machines_kind).to_lowercase()));
                }
                m.machines_kind
            } else {
                machines.unwrap_or(MachinesKind::Linux)
            };
            std::fs::create_dir_all(&dir.path)
                .map_err(|e| CliError::Run(format!("creating {}: {e}", dir.path.display())))?;
            let _ops = dir.ops_lock()?;
            let engine = with_bound(Engine::new(dir, machines_for(kind), tool_binary()?));
            let app = ops::deploy(&engine, kind, &charm, app.as_deref(), n, &config)?;
            engine.settle()?;
            eprintln!("Deployed {app:?} from {}", charm.display());
            Ok(0)
        }
        Request::Config {
            app,
            get,
            set,
            reset,
            format,
        } => {
            if set.is_empty() && reset.is_empty() {
                let m = dir.load()?;
                let a = m
                    .applications
                    .get(&app)
                    .ok_or_else(|| CliError::Run(format!("application {app:?} not found")))?;
                match get {
                    Some(k) => {
                        let eff = a.effective_config();
                        let v = eff.get(&k).ok_or_else(|| {
                            let names: Vec<&str> =
                                a.charm.options.keys().map(String::as_str).collect();
                            CliError::Run(format!(
                                "unknown option {k:?} for {app}{}",
                                crate::charm::similar(&k, &names)
                            ))
                        })?;
                        match v {
                            serde_json::Value::String(s) => println!("{s}"),
                            serde_json::Value::Null => println!(),
                            other => println!("{other}"),
                        }
                    }
                    None => print_out(&config_view(&m, &app), format)?,
                }
                return Ok(0);
            }
            let _ops = dir.ops_lock()?;
            let engine = engine_for(dir)?;
            ops::set_config(&engine.dir, &app, &set, &reset)?;
            engine.settle()?;
            Ok(0)
        }
        Request::Integrate { a, b } => mutate(dir, |e| ops::integrate(&e.dir, &a, &b).map(|_| ())),
        Request::RemoveRelation { a, b } => mutate(dir, |e| {
            ops::remove_relation(&e.dir, &a, b.as_deref()).map(|_| ())
        }),
        Request::AddUnit { app, n } => mutate(dir, |e| ops::add_units(e, &app, n).map(|_| ())),
        Request::RemoveUnit { units } => mutate(dir, |e| {
            units.iter().try_for_each(|u| ops::remove_unit(&e.dir, u))
        }),
        Request::SetLeader { unit } => mutate(dir, |e| ops::set_leader(&e.dir, &unit)),
        Request::Refresh { app, path } => mutate(dir, |e| ops::refresh(e, &app, &path).map(|_| ())),
        Request::Resolve { unit, retry } => mutate(dir, |e| ops::resolve(&e.dir, &unit, retry)),
        Request::Settle => mutate(dir, |_| Ok(())),
        Request::UpdateStatus { target } => {
            let _ops = dir.ops_lock()?;
            let engine = engine_for(dir)?;
            ops::update_status(&engine, target.as_deref())?;
            Ok(0)
        }
        Request::Run {
            unit,
            action,
            params,
            format,
        } => {
            let params = ops::action_params(&params).map_err(CliError::Usage)?;
            let _ops = dir.ops_lock()?;
            let engine = engine_for(dir)?;
            let unit = resolve_leader_alias(&engine.dir.load()?, &unit)?;
            engine.settle()?;
            let task = engine.run_action(&unit, &action, params)?;
            let settled = engine.settle();
            print_task(&task, format)?;
            settled?;
            let rc = task
                .results
                .get("return-code")
                .and_then(|c| c.as_i64())
                .unwrap_or(0);
            if rc >= 1 {
                return Err(CliError::Run(format!(
                    "the following task failed:\n - id \"{}\" with return code {rc}\n\nuse 'jujusim show-task' to inspect the failure",
                    task.id
                )));
            }
            // Deviation from juju (which exits 0 after action-fail with exit 0): the
            // issue asks that a failed action fail the command, so scripts can tell.
            if task.status == "failed" {
                return Err(CliError::Run(format!(
                    "task {} failed: {}",
                    task.id, task.message
                )));
            }
            Ok(0)
        }
        Request::ShowTask { id, format } => {
            let m = dir.load()?;
            let t = m
                .tasks
                .get(&id)
                .ok_or_else(|| CliError::Run(format!("task {id} not found")))?;
            print_out(
                &task_view(t),
                if format == OutFormat::Plain {
                    OutFormat::Yaml
                } else {
                    format
                },
            )?;
            Ok(0)
        }
        Request::Exec { unit, argv } => {
            let _ops = dir.ops_lock()?;
            let engine = engine_for(dir)?;
            let unit = resolve_leader_alias(&engine.dir.load()?, &unit)?;
            let code = engine.run_exec(&unit, &argv)?;
            if code == 0 {
                engine.settle()?;
            }
            Ok(code)
        }
        Request::Netexec { argv } => {
            let engine = engine_for(dir)?;
            let m = engine.dir.load()?;
            let mut cmd = std::process::Command::new(&argv[0]);
            cmd.args(&argv[1..]);
            engine
                .machines
                .enter_model_network(&m.net, &mut cmd)
                .map_err(EngineError::from)?;
            let st = cmd
                .status()
                .map_err(|e| CliError::Run(format!("cannot run {:?}: {e}", argv[0])))?;
            use std::os::unix::process::ExitStatusExt;
            Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
        }
        Request::Status { format, relations } => {
            let m = dir.load()?;
            match format {
                OutFormat::Plain => print!("{}", status_table(&m, relations)),
                f => print_out(&status_view(&m), f)?,
            }
            Ok(0)
        }
        Request::ShowUnit {
            units,
            format,
            filter,
        } => {
            let m = dir.load()?;
            let mut all = Mapping::new();
            for unit in &units {
                let body = show_unit_view(&m, unit, &filter)
                    .ok_or_else(|| CliError::Run(format!("unit {unit:?} not found")))?;
                all.insert(s(unit.as_str()), body);
            }
            let v = Y::Mapping(all);
            print_out(
                &v,
                if format == OutFormat::Plain {
                    OutFormat::Yaml
                } else {
                    format
                },
            )?;
            Ok(0)
        }
        Request::DebugLog {
            replay,
            lines,
            include,
        } => {
            let text = std::fs::read_to_string(dir.log_file()).unwrap_or_default();
            let all: Vec<&str> = text
                .lines()
                .filter(|l| match &include {
                    None => true,
                    Some(i) if i.contains('/') => {
                        l.starts_with(&format!("{}:", crate::model::unit_tag(i)))
                    }
                    Some(i) => {
                        l.starts_with(&format!("unit-{i}-")) || l.starts_with(&format!("{i}:"))
                    }
                })
                .collect();
            let start = if replay {
                0
            } else {
                all.len().saturating_sub(lines)
            };
            // `debug-log | head` closes the pipe early: that is success, not a panic.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for l in &all[start..] {
                if writeln!(out, "{l}").is_err() {
                    break;
                }
            }
            Ok(0)
        }
        Request::Destroy => {
            if !dir.exists() {
                return Err(CliError::Run(format!("no model at {}", dir.path.display())));
            }
            let _ops = dir.ops_lock()?;
            let engine = engine_for(dir)?;
            ops::destroy(&engine)?;
            Ok(0)
        }
    }
}

fn mutate(
    dir: ModelDir,
    f: impl FnOnce(&Engine) -> Result<(), EngineError>,
) -> Result<i32, CliError> {
    let _ops = dir.ops_lock()?;
    let engine = engine_for(dir)?;
    f(&engine)?;
    engine.settle()?;
    Ok(0)
}

/// `app/leader` -> the leader unit.
fn resolve_leader_alias(m: &Model, unit: &str) -> Result<String, CliError> {
    if let Some(app) = unit.strip_suffix("/leader") {
        return m
            .applications
            .get(app)
            .and_then(|a| a.leader.clone())
            .ok_or_else(|| CliError::Run(format!("application {app:?} has no leader")));
    }
    if !m.units.contains_key(unit) {
        return Err(CliError::Run(format!("unit {unit:?} not found")));
    }
    Ok(unit.to_string())
}

fn print_out(v: &Y, f: OutFormat) -> Result<(), CliError> {
    match f {
        OutFormat::Json => {
            let j = serde_json::to_value(v).map_err(|e| CliError::Run(e.to_string()))?;
            println!("{j}");
        }
        _ => print!(
            "{}",
            crate::yaml::to_string(v).map_err(|e| CliError::Run(e.to_string()))?
        ),
    }
    Ok(())
}

/// Build an insertion-ordered YAML map.
fn map<const N: usize>(pairs: [(&str, Y); N]) -> Y {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        if !matches!(&v, Y::Null) {
            m.insert(Y::String(k.to_string()), v);
        }
    }
    Y::Mapping(m)
}

fn s(v: impl Into<String>) -> Y {
    Y::String(v.into())
}

fn opt(v: &str) -> Y {
    if v.is_empty() {
        Y::Null
    } else {
        s(v)
    }
}

fn j2y(v: &serde_json::Value) -> Y {
    serde_yaml::to_value(v).unwrap_or(Y::Null)
}

fn config_view(m: &Model, app: &str) -> Y {
    let Some(a) = m.applications.get(app) else {
        return Y::Null;
    };
    // Descriptions are not kept in model.json; read them from the charm.
    let described = crate::charm::CharmMeta::load(&a.charm_dir).ok();
    let mut settings = Mapping::new();
    for (k, o) in &a.charm.options {
        let description = described
            .as_ref()
            .and_then(|d| d.options.get(k))
            .map(|d| d.description.as_str())
            .unwrap_or("");
        let set = a.config.get(k);
        let value = set.or(o.default.as_ref());
        let kind = match o.kind {
            crate::charm::OptionType::Boolean => "boolean",
            other => other.as_str(),
        };
        settings.insert(
            s(k.as_str()),
            map([
                ("default", o.default.as_ref().map(j2y).unwrap_or(Y::Null)),
                ("description", opt(description)),
                (
                    "source",
                    s(if set.is_some() {
                        "user"
                    } else if o.default.is_some() {
                        "default"
                    } else {
                        "unset"
                    }),
                ),
                ("type", s(kind)),
                ("value", value.map(j2y).unwrap_or(Y::Null)),
            ]),
        );
    }
    map([
        ("application", s(app)),
        (
            "application-config",
            map([(
                "trust",
                map([
                    ("default", Y::Bool(false)),
                    (
                        "description",
                        s("Does this application have access to trusted credentials"),
                    ),
                    ("source", s("default")),
                    ("type", s("bool")),
                    ("value", Y::Bool(false)),
                ]),
            )]),
        ),
        ("charm", s(a.charm.name.as_str())),
        ("settings", Y::Mapping(settings)),
    ])
}

fn status_since(st: &StatusInfo, with_message: bool) -> Y {
    map([
        ("current", s(st.status.as_str())),
        (
            "message",
            if with_message {
                opt(&st.message)
            } else {
                Y::Null
            },
        ),
        ("since", s(juju_time(st.since))),
    ])
}

/// (workload, agent) as juju status shows them (hook errors show on the workload).
fn shown_status(m: &Model, unit: &str) -> (StatusInfo, StatusInfo) {
    let Some(u) = m.units.get(unit) else {
        return (StatusInfo::now("unknown", ""), StatusInfo::now("lost", ""));
    };
    match &u.error {
        Some(e) => (
            StatusInfo {
                status: "error".into(),
                message: e.message.clone(),
                since: u.agent.since,
            },
            StatusInfo {
                status: "idle".into(),
                message: String::new(),
                since: u.agent.since,
            },
        ),
        None => (u.workload.clone(), u.agent.clone()),
    }
}

fn app_status(m: &Model, app: &str) -> StatusInfo {
    if let Some(st) = m.applications.get(app).and_then(|a| a.status.clone()) {
        return st;
    }
    let rank = |s: &str| match s {
        "error" => 6,
        "blocked" => 5,
        "maintenance" => 4,
        "waiting" => 3,
        "active" => 2,
        _ => 1,
    };
    m.units_of(app)
        .iter()
        .map(|u| shown_status(m, u).0)
        .max_by_key(|st| rank(&st.status))
        .unwrap_or_else(|| StatusInfo::now("unknown", ""))
}

fn ports_of(m: &Model, unit: &str) -> Vec<String> {
    let mut p: Vec<_> = m
        .units
        .get(unit)
        .map(|u| u.ports.iter().map(|o| o.range.clone()).collect())
        .unwrap_or_default();
    p.sort();
    p.dedup();
    p.iter().map(|r| r.to_string()).collect()
}

fn status_view(m: &Model) -> Y {
    let mut machines = Mapping::new();
    for (id, mc) in &m.machines {
        machines.insert(
            s(id.to_string()),
            map([
                (
                    "juju-status",
                    map([
                        ("current", s("started")),
                        ("since", s(juju_time(crate::model::now_secs()))),
                        ("version", s(crate::engine::JUJU_VERSION)),
                    ]),
                ),
                ("dns-name", s(mc.address.to_string())),
                ("ip-addresses", Y::Sequence(vec![s(mc.address.to_string())])),
                ("instance-id", s(format!("jujusim-{}-m{id}", m.net.tag))),
                (
                    "machine-status",
                    map([("current", s("running")), ("message", s("running"))]),
                ),
                (
                    "base",
                    map([("name", s("ubuntu")), ("channel", s("24.04"))]),
                ),
            ]),
        );
    }
    let mut apps = Mapping::new();
    for (name, a) in &m.applications {
        let mut units = Mapping::new();
        for u in m.units_of(name) {
            let Some(unit) = m.units.get(&u) else {
                continue;
            };
            let (w, ag) = shown_status(m, &u);
            let ports = ports_of(m, &u);
            let addr = m
                .machine_of(&u)
                .map(|mc| mc.address.to_string())
                .unwrap_or_default();
            units.insert(
                s(u.as_str()),
                map([
                    ("workload-status", status_since(&w, true)),
                    (
                        "juju-status",
                        map([
                            ("current", s(ag.status.as_str())),
                            ("message", opt(&ag.message)),
                            ("since", s(juju_time(ag.since))),
                            ("version", s(crate::engine::JUJU_VERSION)),
                        ]),
                    ),
                    (
                        "leader",
                        if a.leader.as_deref() == Some(u.as_str()) {
                            Y::Bool(true)
                        } else {
                            Y::Null
                        },
                    ),
                    ("machine", s(unit.machine.to_string())),
                    (
                        "open-ports",
                        if ports.is_empty() {
                            Y::Null
                        } else {
                            Y::Sequence(ports.into_iter().map(Y::String).collect())
                        },
                    ),
                    ("public-address", opt(&addr)),
                ]),
            );
        }
        let mut rels = Mapping::new();
        for r in m.relations_of(name) {
            let (Some(local), Some(remote)) = (r.local_endpoint(name), r.remote_endpoint(name))
            else {
                continue;
            };
            let entry = rels
                .entry(s(local.name.as_str()))
                .or_insert_with(|| Y::Sequence(vec![]));
            if let Y::Sequence(list) = entry {
                list.push(map([
                    ("related-application", s(remote.app.as_str())),
                    ("interface", s(local.interface.as_str())),
                    ("scope", s("global")),
                ]));
            }
        }
        apps.insert(
            s(name.as_str()),
            map([
                ("charm", s(a.charm.name.as_str())),
                (
                    "base",
                    map([("name", s("ubuntu")), ("channel", s("24.04"))]),
                ),
                ("charm-origin", s("local")),
                ("charm-name", s(a.charm.name.as_str())),
                ("charm-rev", Y::Number(a.revision.into())),
                ("exposed", Y::Bool(false)),
                (
                    "application-status",
                    status_since(&app_status(m, name), true),
                ),
                (
                    "relations",
                    if rels.is_empty() {
                        Y::Null
                    } else {
                        Y::Mapping(rels)
                    },
                ),
                (
                    "units",
                    if units.is_empty() {
                        Y::Null
                    } else {
                        Y::Mapping(units)
                    },
                ),
                ("version", opt(&a.workload_version)),
            ]),
        );
    }
    map([
        (
            "model",
            map([
                ("name", s(m.name.as_str())),
                ("type", s("iaas")),
                ("controller", s("jujusim")),
                ("cloud", s("localhost")),
                ("region", s("localhost")),
                ("version", s(crate::engine::JUJU_VERSION)),
                ("model-status", map([("current", s("available"))])),
                ("sla", s("unsupported")),
            ]),
        ),
        ("machines", Y::Mapping(machines)),
        ("applications", Y::Mapping(apps)),
    ])
}

/// Left-aligned columns separated by two spaces, trailing blanks trimmed.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map(|x| x.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < r.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn status_table(m: &Model, relations: bool) -> String {
    let now = crate::model::now_secs();
    let (_, _, _, h, mi, sec) = crate::model::civil(now);
    let mut out = table(&[
        vec![
            "Model".into(),
            "Controller".into(),
            "Cloud/Region".into(),
            "Version".into(),
            "SLA".into(),
            "Timestamp".into(),
        ],
        vec![
            m.name.clone(),
            "jujusim".into(),
            "localhost/localhost".into(),
            crate::engine::JUJU_VERSION.into(),
            "unsupported".into(),
            format!("{h:02}:{mi:02}:{sec:02}Z"),
        ],
    ]);
    if !m.applications.is_empty() {
        let mut rows = vec![[
            "App", "Version", "Status", "Scale", "Charm", "Channel", "Rev", "Exposed", "Message",
        ]
        .map(String::from)
        .to_vec()];
        for (name, a) in &m.applications {
            let st = app_status(m, name);
            rows.push(vec![
                name.clone(),
                a.workload_version.clone(),
                st.status,
                m.units_of(name).len().to_string(),
                a.charm.name.clone(),
                String::new(),
                a.revision.to_string(),
                "no".into(),
                st.message,
            ]);
        }
        out.push('\n');
        out.push_str(&table(&rows));
        let mut rows = vec![[
            "Unit",
            "Workload",
            "Agent",
            "Machine",
            "Public address",
            "Ports",
            "Message",
        ]
        .map(String::from)
        .to_vec()];
        for (name, a) in &m.applications {
            for u in m.units_of(name) {
                let (w, ag) = shown_status(m, &u);
                let star = if a.leader.as_deref() == Some(u.as_str()) {
                    "*"
                } else {
                    ""
                };
                let msg = if ag.status == "executing" {
                    let what = ag
                        .message
                        .trim_start_matches("running ")
                        .trim_end_matches(" hook")
                        .trim_start_matches("action ");
                    format!("({what}) {}", w.message).trim_end().to_string()
                } else {
                    w.message.clone()
                };
                let machine = m
                    .units
                    .get(&u)
                    .map(|x| x.machine.to_string())
                    .unwrap_or_default();
                let addr = m
                    .machine_of(&u)
                    .map(|mc| mc.address.to_string())
                    .unwrap_or_default();
                rows.push(vec![
                    format!("{u}{star}"),
                    w.status,
                    ag.status,
                    machine,
                    addr,
                    ports_of(m, &u).join(","),
                    msg,
                ]);
            }
        }
        out.push('\n');
        out.push_str(&table(&rows));
    }
    if !m.machines.is_empty() {
        let mut rows = vec![[
            "Machine", "State", "Address", "Inst id", "Base", "AZ", "Message",
        ]
        .map(String::from)
        .to_vec()];
        for (id, mc) in &m.machines {
            rows.push(vec![
                id.to_string(),
                "started".into(),
                mc.address.to_string(),
                format!("jujusim-{}-m{id}", m.net.tag),
                "ubuntu@24.04".into(),
                String::new(),
                "running".into(),
            ]);
        }
        out.push('\n');
        out.push_str(&table(&rows));
    }
    if relations && !m.relations.is_empty() {
        let mut rows = vec![[
            "Integration provider",
            "Requirer",
            "Interface",
            "Type",
            "Message",
        ]
        .map(String::from)
        .to_vec()];
        for r in m.relations.values() {
            let ep = |e: &crate::model::RelEndpoint| format!("{}:{}", e.app, e.name);
            let (p, q) = if r.is_peer() {
                (ep(&r.endpoints[0]), ep(&r.endpoints[0]))
            } else {
                (ep(&r.endpoints[0]), ep(&r.endpoints[1]))
            };
            let kind = if r.is_peer() { "peer" } else { "regular" };
            let msg = if r.life == Life::Dying {
                "removing"
            } else {
                ""
            };
            rows.push(vec![
                p,
                q,
                r.endpoints[0].interface.clone(),
                kind.into(),
                msg.into(),
            ]);
        }
        out.push('\n');
        out.push_str(&table(&rows));
    }
    out
}

fn bag(data: &std::collections::BTreeMap<String, String>) -> Y {
    let mut m = Mapping::new();
    for (k, v) in data {
        m.insert(s(k.as_str()), s(v.as_str()));
    }
    Y::Mapping(m)
}

/// `show-unit --endpoint/--related-unit/--app`.
#[derive(Debug, Default)]
pub struct ShowFilter {
    /// Only this endpoint's relations (shown even without data).
    pub endpoint: Option<String>,
    /// Only this related unit's data.
    pub related_unit: Option<String>,
    /// Only application data.
    pub app_only: bool,
}

/// One unit's show-unit entry (juju's cmd/juju/application/showunit.go layout).
fn show_unit_view(m: &Model, unit: &str, filter: &ShowFilter) -> Option<Y> {
    let u = m.units.get(unit)?;
    let a = m.applications.get(&u.app)?;
    let addr = m
        .machine_of(unit)
        .map(|mc| mc.address.to_string())
        .unwrap_or_default();
    let mut infos = Vec::new();
    for r in m.relations_of(&u.app) {
        let (Some(local), Some(remote)) = (r.local_endpoint(&u.app), r.remote_endpoint(&u.app))
        else {
            continue;
        };
        if filter.endpoint.as_ref().is_some_and(|e| *e != local.name) {
            continue;
        }
        let unit_entry = |name: &str| {
            let in_scope = r.scope.contains(name);
            map([
                ("in-scope", Y::Bool(in_scope)),
                (
                    "data",
                    if in_scope {
                        r.unit_bags
                            .get(name)
                            .map(|b| bag(&b.data))
                            .unwrap_or_else(|| Y::Mapping(Mapping::new()))
                    } else {
                        Y::Mapping(Mapping::new())
                    },
                ),
            ])
        };
        let shown =
            |name: &str| !filter.app_only && filter.related_unit.as_ref().is_none_or(|r| r == name);
        let mut related = Mapping::new();
        for ru in m.units_of(&remote.app) {
            if ru != unit && shown(&ru) {
                related.insert(s(ru.as_str()), unit_entry(&ru));
            }
        }
        let mine = (r.is_peer() && shown(unit)).then(|| unit_entry(unit));
        let app_bag = r.app_bags.get(&remote.app).map(|b| &b.data);
        let has_data =
            app_bag.is_some_and(|b| !b.is_empty()) || !related.is_empty() || mine.is_some();
        // Juju omits relations with nothing to show unless --endpoint names them.
        if !has_data && filter.endpoint.is_none() && !filter.app_only {
            continue;
        }
        let app_data = app_bag
            .map(bag)
            .unwrap_or_else(|| Y::Mapping(Mapping::new()));
        infos.push(map([
            ("relation-id", Y::Number(r.id.into())),
            ("endpoint", s(local.name.as_str())),
            ("related-endpoint", s(remote.name.as_str())),
            ("application-data", app_data),
            ("local-unit", mine.unwrap_or(Y::Null)),
            (
                "related-units",
                if related.is_empty() {
                    Y::Null
                } else {
                    Y::Mapping(related)
                },
            ),
        ]));
    }
    let ports = ports_of(m, unit);
    let body = map([
        ("workload-version", opt(&a.workload_version)),
        ("machine", s(u.machine.to_string())),
        (
            "opened-ports",
            Y::Sequence(ports.into_iter().map(Y::String).collect()),
        ),
        ("public-address", opt(&addr)),
        ("charm", s(format!("local:{}-{}", a.charm.name, a.revision))),
        ("leader", Y::Bool(a.leader.as_deref() == Some(unit))),
        (
            "life",
            s(if u.life == Life::Alive {
                "alive"
            } else {
                "dying"
            }),
        ),
        (
            "relation-info",
            if infos.is_empty() {
                Y::Null
            } else {
                Y::Sequence(infos)
            },
        ),
    ]);
    Some(body)
}

fn task_view(t: &Task) -> Y {
    let log: Vec<Y> = t
        .log
        .iter()
        .map(|l| match log_entry(l) {
            Some((secs, msg)) => s(format!("{} {msg}", crate::model::go_time(secs))),
            None => s(l.as_str()),
        })
        .collect();
    map([(
        t.unit.as_str(),
        map([
            ("id", s(t.id.to_string())),
            ("message", opt(&t.message)),
            (
                "log",
                if log.is_empty() {
                    Y::Null
                } else {
                    Y::Sequence(log)
                },
            ),
            ("results", j2y(&t.results)),
            ("status", s(t.status.as_str())),
            (
                "timing",
                map([
                    ("completed", s(crate::model::go_time(t.timing[2]))),
                    ("enqueued", s(crate::model::go_time(t.timing[0]))),
                    ("started", s(crate::model::go_time(t.timing[1]))),
                ]),
            ),
            ("unit", s(t.unit.as_str())),
        ]),
    )])
}

/// A stored action-log line: (seconds since the epoch, message).
fn log_entry(line: &str) -> Option<(u64, &str)> {
    let (secs, msg) = line.split_once(' ')?;
    Some((secs.parse().ok()?, msg))
}

/// Print a finished task like `juju run` (cmd/juju/action: `printPlainOutput`).
fn print_task(t: &Task, format: OutFormat) -> Result<(), CliError> {
    for l in &t.log {
        // juju run streams action-log lines to stderr as `15:04:05 <message>`.
        match log_entry(l) {
            Some((secs, msg)) => {
                let (_, _, _, h, m, sec) = crate::model::civil(secs);
                eprintln!("{h:02}:{m:02}:{sec:02} {msg}");
            }
            None => eprintln!("{l}"),
        }
    }
    if format != OutFormat::Plain {
        return print_out(&task_view(t), format);
    }
    print!(
        "{}",
        plain_task(t).map_err(|e| CliError::Run(e.to_string()))?
    );
    Ok(())
}

/// juju 3's plain `run` output for one task, all on stdout: `Action id N failed: M`
/// when failed; the action-set results as YAML (without return-code, stdout, stderr and
/// their encodings) and a blank line; then the captured stdout and stderr, each trimmed
/// of surrounding newlines.
pub fn plain_task(t: &Task) -> Result<String, serde_yaml::Error> {
    let results = t.results.as_object().cloned().unwrap_or_default();
    let text = |k: &str| {
        results
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let (stdout, stderr) = (text("stdout"), text("stderr"));
    let shown: serde_json::Map<String, serde_json::Value> = results
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.to_ascii_lowercase().as_str(),
                "return-code" | "stdout" | "stderr" | "stdout-encoding" | "stderr-encoding"
            )
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let output = if results.is_empty() {
        format!("Task {} {}\n", t.id, t.status)
    } else if shown.is_empty() {
        String::new()
    } else {
        crate::yaml::to_string(&serde_json::Value::Object(shown))?
    };
    let mut out = String::new();
    if t.status == "failed" {
        out.push_str(&format!("Action id {} failed: {}\n", t.id, t.message));
    }
    out.push_str(&output);
    out.push('\n');
    for captured in [stdout, stderr] {
        if !captured.is_empty() {
            out.push_str(captured.trim_matches('\n'));
            out.push('\n');
        }
    }
    Ok(out)
}
