//! Hook tools (docs/juju.md#hook-tools): the jujusim binary run through a symlink named after the
//! tool. Each tool reads its execution's context file, answers from the snapshot plus
//! its own buffered changes, and appends new buffered changes; immediate tools
//! (status-set, application-version-set, leader-set, juju-log, action-log) edit the
//! model under its lock at once.
use crate::context::{
    append_change, context_path, overlay, read_context, Change, ContextError, ContextKind, Pending,
    RelView, Snapshot,
};
use crate::flags::{flag, parse, render, FlagError, Format, Parsed, Spec};
use crate::model::{
    app_of, now_secs, Application, ModelDir, ModelError, OpenedPort, StatusInfo, Task, Unit,
};
use crate::ports::PortRange;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Every hook tool name jujusim serves (the tools dir gets one symlink each).
pub const TOOLS: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
    "unit-get",
];

/// A tool failure: `ERROR <message>` and the exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum ToolError {
    /// Argument error: exit 2.
    Usage(String),
    /// Runtime error: exit 1.
    Run(String),
    /// -h/--help: print help, exit 0.
    Help,
}

impl From<FlagError> for ToolError {
    fn from(e: FlagError) -> Self {
        match e {
            FlagError::Help => ToolError::Help,
            FlagError::Usage(m) => ToolError::Usage(m),
        }
    }
}

impl From<ModelError> for ToolError {
    fn from(e: ModelError) -> Self {
        ToolError::Run(e.to_string())
    }
}

impl From<ContextError> for ToolError {
    fn from(e: ContextError) -> Self {
        ToolError::Run(e.to_string())
    }
}

/// What a tool run produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ToolOutput {
    /// Text for stdout (or the -o file).
    pub stdout: String,
    /// Text for stderr (warnings).
    pub stderr: String,
}

/// One tool invocation's view of its context.
pub struct ToolCtx {
    /// The execution's snapshot.
    pub snap: Snapshot,
    /// Buffered changes so far.
    pub pending: Pending,
    /// The context file (changes are appended here).
    pub path: PathBuf,
    /// Caller's working directory (relative paths).
    pub cwd: PathBuf,
    /// Caller's stdin, read on demand.
    pub stdin: Box<dyn FnMut() -> std::io::Result<String>>,
}

impl ToolCtx {
    fn push(&mut self, change: Change) -> Result<(), ToolError> {
        append_change(&self.path, &change)?;
        Ok(())
    }

    fn model(&self) -> ModelDir {
        ModelDir::new(&self.snap.model_dir)
    }

    fn is_leader(&self) -> bool {
        self.snap.leader && !self.pending.lost_leadership
    }

    fn hook(&self) -> Option<&crate::resolver::Hook> {
        match &self.snap.kind {
            ContextKind::Hook(h) => Some(h),
            _ => None,
        }
    }
}

/// Entry point for a hook tool process: returns the exit code.
pub fn tool_main(name: &str, args: &[String]) -> i32 {
    let (code, out) = match prepare(name) {
        Ok(mut ctx) => run_tool(&mut ctx, name, args),
        Err(msg) => (
            1,
            ToolOutput {
                stdout: String::new(),
                stderr: format!("ERROR {msg}\n"),
            },
        ),
    };
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    code
}

fn prepare(name: &str) -> Result<ToolCtx, String> {
    let ctx_id =
        std::env::var("JUJU_CONTEXT_ID").map_err(|_| "JUJU_CONTEXT_ID not set".to_string())?;
    let socket = std::env::var("JUJU_AGENT_SOCKET_ADDRESS")
        .map_err(|_| "JUJU_AGENT_SOCKET_ADDRESS not set".to_string())?;
    let unit_dir = Path::new(&socket)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = context_path(&unit_dir, &ctx_id);
    let (snap, changes) = read_context(&path, &ctx_id).map_err(|e| e.to_string())?;
    if !TOOLS.contains(&name) {
        return Err(format!("bad request: unknown command: {name}"));
    }
    Ok(ToolCtx {
        snap,
        pending: Pending::fold(&changes),
        path,
        cwd: std::env::current_dir().unwrap_or_default(),
        stdin: Box::new(|| {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map(|_| s)
        }),
    })
}

/// Run tool `name` in `ctx`; returns (exit code, output). Used by `tool_main` and tests.
pub fn run_tool(ctx: &mut ToolCtx, name: &str, args: &[String]) -> (i32, ToolOutput) {
    let mut out = ToolOutput::default();
    let result = dispatch(ctx, name, args, &mut out);
    match result {
        Ok(()) => (0, out),
        Err(ToolError::Help) => (
            0,
            ToolOutput {
                stdout: format!("Usage: {name} [options]\n"),
                stderr: String::new(),
            },
        ),
        Err(ToolError::Usage(m)) => (
            2,
            ToolOutput {
                stdout: String::new(),
                stderr: format!("{}ERROR {m}\n", out.stderr),
            },
        ),
        Err(ToolError::Run(m)) => (
            1,
            ToolOutput {
                stdout: String::new(),
                stderr: format!("{}ERROR {m}\n", out.stderr),
            },
        ),
    }
}

const FMT: Spec = flag("format", None, true);
const OUT: Spec = flag("output", Some('o'), true);
const REL: Spec = flag("relation", Some('r'), true);

/// Go's `%q` of a string list: `["a" "b"]`.
fn go_list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", q.join(" "))
}

fn no_extra(args: &[String], max: usize) -> Result<(), ToolError> {
    if args.len() > max {
        return Err(ToolError::Usage(format!(
            "unrecognized args: {}",
            go_list(&args[max..])
        )));
    }
    Ok(())
}

/// Render `v` per --format and -o.
fn emit(
    ctx: &ToolCtx,
    p: &Parsed,
    v: &Value,
    default: Format,
    allowed: &[&str],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let f = Format::parse(p.value("format"), default, allowed).map_err(ToolError::Usage)?;
    let text = render(v, f);
    match p.value("output") {
        Some(file) => {
            let path = ctx.cwd.join(file);
            std::fs::write(&path, text)
                .map_err(|e| ToolError::Run(format!("cannot write {}: {e}", path.display())))?;
        }
        None => out.stdout.push_str(&text),
    }
    Ok(())
}

const SMART: &[&str] = &["smart", "json", "yaml"];

fn deprecated_format(name: &str, p: &Parsed, out: &mut ToolOutput) {
    if p.value("format").is_some() {
        out.stderr
            .push_str(&format!("--format flag deprecated for command {name:?}\n"));
    }
}

/// key=value arguments (juju/utils keyvalues): trimmed, no duplicates.
fn key_values(args: &[String]) -> Result<BTreeMap<String, String>, ToolError> {
    let mut out = BTreeMap::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return Err(ToolError::Usage(format!(
                "expected \"key=value\", got {a:?}"
            )));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() {
            return Err(ToolError::Usage(format!(
                "expected \"key=value\", got {a:?}"
            )));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(ToolError::Usage(format!(
                "key {k:?} specified more than once"
            )));
        }
    }
    Ok(out)
}

/// A `--file` YAML map of strings (`-` = stdin).
fn read_settings_file(
    ctx: &mut ToolCtx,
    file: &str,
) -> Result<BTreeMap<String, String>, ToolError> {
    let text = if file == "-" {
        (ctx.stdin)().map_err(|e| ToolError::Run(format!("cannot read stdin: {e}")))?
    } else {
        let path = ctx.cwd.join(file);
        std::fs::read_to_string(&path)
            .map_err(|e| ToolError::Run(format!("cannot read {}: {e}", path.display())))?
    };
    let v: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|e| ToolError::Run(format!("invalid YAML in {file}: {e}")))?;
    let mut out = BTreeMap::new();
    if let serde_yaml::Value::Mapping(m) = v {
        for (k, v) in m {
            let k = scalar_string(&k)
                .ok_or_else(|| ToolError::Run(format!("{file}: keys must be strings")))?;
            let v = if v.is_null() {
                String::new()
            } else {
                scalar_string(&v).ok_or_else(|| {
                    ToolError::Run(format!("{file}: value of {k:?} must be a string"))
                })?
            };
            out.insert(k, v);
        }
    } else if !v.is_null() {
        return Err(ToolError::Run(format!(
            "{file}: expected a map of key: value"
        )));
    }
    Ok(out)
}

fn scalar_string(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Resolve `-r` (N or anything:N) or the hook's relation.
fn relation<'a>(ctx: &'a ToolCtx, p: &Parsed) -> Result<&'a RelView, ToolError> {
    let id = match p.value("relation") {
        Some(raw) => {
            let num = raw.rsplit(':').next().unwrap_or(raw);
            let id: u32 = num.parse().map_err(|_| {
                ToolError::Usage(format!(
                    "invalid value {raw:?} for option -r: invalid relation id"
                ))
            })?;
            if !ctx.snap.relations.contains_key(&id) {
                return Err(ToolError::Usage(format!(
                    "invalid value {raw:?} for option -r: relation not found"
                )));
            }
            id
        }
        None => ctx
            .hook()
            .and_then(|h| h.relation)
            .ok_or_else(|| ToolError::Usage("no relation id specified".into()))?,
    };
    ctx.snap
        .relations
        .get(&id)
        .ok_or_else(|| ToolError::Run("relation not found".into()))
}

fn strings_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn pick_key(map: Value, key: Option<&str>) -> Value {
    match key {
        None | Some("-") => map,
        Some(k) => map.get(k).cloned().unwrap_or(Value::Null),
    }
}

fn valid_unit_name(s: &str) -> bool {
    let mut parts = s.split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(n), None) if !a.is_empty() && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn dispatch(
    ctx: &mut ToolCtx,
    name: &str,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    match name {
        "config-get" => config_get(ctx, args, out),
        "relation-get" => relation_get(ctx, args, out),
        "relation-set" => relation_set(ctx, args, out),
        "relation-ids" => relation_ids(ctx, args, out),
        "relation-list" => relation_list(ctx, args, out),
        "relation-model-get" => {
            let p = parse(args, &[REL, FMT, OUT])?;
            no_extra(&p.args, 0)?;
            relation(ctx, &p)?;
            emit(
                ctx,
                &p,
                &json!({"uuid": ctx.snap.model_uuid}),
                Format::Smart,
                SMART,
                out,
            )
        }
        "status-set" => status_set(ctx, args),
        "status-get" => status_get(ctx, args, out),
        "application-version-set" => {
            let p = parse(args, &[])?;
            let v = p
                .args
                .first()
                .ok_or_else(|| ToolError::Usage("no version specified".into()))?
                .clone();
            no_extra(&p.args, 1)?;
            let app = ctx.snap.app.clone();
            ctx.model()
                .update_entry("applications", &app, |a: &mut Application| {
                    a.workload_version = v;
                    Ok::<(), ToolError>(())
                })
                .map(drop)
        }
        "open-port" | "close-port" => port_change(ctx, name, args, out),
        "opened-ports" => opened_ports(ctx, args, out),
        "network-get" => network_get(ctx, args, out),
        "unit-get" => {
            let p = parse(args, &[FMT, OUT])?;
            let key = p
                .args
                .first()
                .ok_or_else(|| ToolError::Usage("no setting specified".into()))?;
            no_extra(&p.args, 1)?;
            match key.as_str() {
                "private-address" | "public-address" => {
                    let a = ctx.snap.machine.address.to_string();
                    emit(ctx, &p, &Value::String(a), Format::Smart, SMART, out)
                }
                other => Err(ToolError::Usage(format!("unknown setting {other:?}"))),
            }
        }
        "is-leader" => {
            let p = parse(args, &[FMT, OUT])?;
            no_extra(&p.args, 0)?;
            let leader = ctx.is_leader();
            if !leader && !ctx.pending.lost_leadership {
                ctx.push(Change::LostLeadership)?;
            }
            emit(ctx, &p, &Value::Bool(leader), Format::Smart, SMART, out)
        }
        "leader-get" => {
            let p = parse(args, &[FMT, OUT])?;
            no_extra(&p.args, 1)?;
            let key = p.args.first().map(String::as_str);
            if let Some(k) = key.filter(|k| k.contains('=')) {
                return Err(ToolError::Usage(format!("invalid key {k:?}")));
            }
            let data = overlay(
                &ctx.snap.leader_settings,
                Some(&ctx.pending.leader_settings),
            );
            emit(
                ctx,
                &p,
                &pick_key(strings_map(&data), key),
                Format::Smart,
                SMART,
                out,
            )
        }
        "leader-set" => leader_set(ctx, args),
        "state-get" => {
            let p = parse(args, &[FMT, OUT, flag("strict", None, false)])?;
            no_extra(&p.args, 1)?;
            let mut state = ctx.snap.state.clone();
            for (k, v) in &ctx.pending.state {
                match v {
                    Some(v) => state.insert(k.clone(), v.clone()),
                    None => state.remove(k),
                };
            }
            let v = match p.args.first().map(String::as_str) {
                None | Some("-") if state.is_empty() => Value::Null,
                None | Some("-") => strings_map(&state),
                Some(k) => match state.get(k) {
                    Some(v) => Value::String(v.clone()),
                    None if p.on("strict") => {
                        return Err(ToolError::Run(format!("{k:?} not found")))
                    }
                    None => Value::String(String::new()),
                },
            };
            emit(ctx, &p, &v, Format::Smart, SMART, out)
        }
        "state-set" => {
            let p = parse(args, &[flag("file", None, true)])?;
            let mut data = match p.value("file") {
                Some(f) => {
                    let f = f.to_string();
                    read_settings_file(ctx, &f)?
                }
                None => BTreeMap::new(),
            };
            data.extend(key_values(&p.args)?);
            for (k, v) in &data {
                if k.len() > 256 {
                    return Err(ToolError::Usage(format!(
                        "max allowed key length (256) exceeded by key {k:?}"
                    )));
                }
                if v.len() > 65536 {
                    return Err(ToolError::Usage(format!(
                        "max allowed value length (65536) exceeded for key {k:?}"
                    )));
                }
            }
            let (set, del): (BTreeMap<_, _>, BTreeMap<_, _>) =
                data.into_iter().partition(|(_, v)| !v.is_empty());
            if !set.is_empty() {
                ctx.push(Change::StateSet(set))?;
            }
            for k in del.into_keys() {
                ctx.push(Change::StateDelete(k))?;
            }
            Ok(())
        }
        "state-delete" => {
            let p = parse(args, &[])?;
            no_extra(&p.args, 1)?;
            if let Some(k) = p.args.first() {
                ctx.push(Change::StateDelete(k.clone()))?;
            }
            Ok(())
        }
        "action-get" => {
            let p = parse(args, &[FMT, OUT])?;
            no_extra(&p.args, 1)?;
            let ContextKind::Action { params, .. } = &ctx.snap.kind else {
                return Err(ToolError::Run("not running an action".into()));
            };
            let mut v = params.clone();
            if let Some(path) = p.args.first() {
                for seg in path.split('.') {
                    v = v.get(seg).cloned().unwrap_or(Value::Null);
                }
            }
            emit(ctx, &p, &v, Format::Smart, SMART, out)
        }
        "action-set" => action_set(ctx, args),
        "action-fail" => {
            let p = parse(args, &[])?;
            no_extra(&p.args, 1)?;
            if !matches!(ctx.snap.kind, ContextKind::Action { .. }) {
                return Err(ToolError::Run("not running an action".into()));
            }
            let msg = p.args.first().cloned().unwrap_or_else(|| {
                "action failed without reason given, check action for errors".into()
            });
            ctx.push(Change::ActionFail(msg))
        }
        "action-log" => {
            let p = parse(args, &[])?;
            if p.args.is_empty() {
                return Err(ToolError::Usage("no message specified".into()));
            }
            let ContextKind::Action { id, .. } = ctx.snap.kind else {
                return Err(ToolError::Run("not running an action".into()));
            };
            let msg = p.args.join(" ");
            let stamp = now_secs();
            ctx.model()
                .update_entry("tasks", &id.to_string(), |t: &mut Task| {
                    t.log.push(format!("{stamp} {msg}"));
                    Ok::<(), ToolError>(())
                })?;
            ctx.model().log(
                Some(&ctx.snap.unit),
                "INFO",
                &format!("unit.{}.action-log", ctx.snap.unit),
                &msg,
            );
            Ok(())
        }
        "juju-log" => {
            let p = parse(
                args,
                &[
                    flag("log-level", Some('l'), true),
                    flag("debug", None, false),
                    FMT,
                ],
            )?;
            deprecated_format(name, &p, out);
            if p.args.is_empty() {
                return Err(ToolError::Usage("no message specified".into()));
            }
            let level = if p.on("debug") {
                "DEBUG".to_string()
            } else {
                p.value("log-level").unwrap_or("INFO").to_ascii_uppercase()
            };
            let level = match level.as_str() {
                "TRACE" | "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL" => level,
                "WARN" => "WARNING".into(),
                other => {
                    out.stderr.push_str(&format!(
                        "WARNING invalid log level {other:?}, using INFO\n"
                    ));
                    "INFO".into()
                }
            };
            let mut msg = p.args.join(" ");
            if let Some(h) = ctx.hook() {
                if let (Some(ep), Some(id)) = (&h.endpoint, h.relation) {
                    msg = format!("{ep}:{id}: {msg}");
                }
            }
            ctx.model().log(
                Some(&ctx.snap.unit),
                &level,
                &format!("unit.{}.juju-log", ctx.snap.unit),
                &msg,
            );
            Ok(())
        }
        "goal-state" => {
            let p = parse(args, &[FMT, OUT])?;
            no_extra(&p.args, 0)?;
            let v = ctx.snap.goal_state.clone();
            emit(ctx, &p, &v, Format::Yaml, &["yaml", "json"], out)
        }
        other => Err(ToolError::Run(format!(
            "bad request: unknown command: {other}"
        ))),
    }
}

fn config_get(ctx: &mut ToolCtx, args: &[String], out: &mut ToolOutput) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT, flag("all", Some('a'), false)])?;
    no_extra(&p.args, 1)?;
    let key = p.args.first();
    if let (true, Some(k)) = (p.on("all"), key) {
        return Err(ToolError::Usage(format!(
            "cannot use argument --all together with key {k:?}"
        )));
    }
    let v = match key {
        Some(k) => ctx.snap.config.get(k).cloned().unwrap_or(Value::Null),
        None => Value::Object(
            ctx.snap
                .config
                .iter()
                .filter(|(_, v)| p.on("all") || !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    };
    emit(ctx, &p, &v, Format::Smart, SMART, out)
}

fn relation_get(ctx: &mut ToolCtx, args: &[String], out: &mut ToolOutput) -> Result<(), ToolError> {
    let p = parse(args, &[REL, FMT, OUT, flag("app", None, false)])?;
    no_extra(&p.args, 2)?;
    let rel = relation(ctx, &p)?.clone();
    let key = p.args.first().map(String::as_str);
    let mut app_mode = p.on("app");
    let target = match p.args.get(1) {
        Some(t) => t.clone(),
        None => match ctx.hook().filter(|h| h.relation == Some(rel.id)) {
            Some(h) if h.remote_unit.is_some() && !app_mode => {
                h.remote_unit.clone().unwrap_or_default()
            }
            Some(h) if h.remote_app.is_some() => {
                app_mode = true;
                h.remote_app.clone().unwrap_or_default()
            }
            _ => return Err(ToolError::Usage("no unit or application specified".into())),
        },
    };
    let data = if app_mode {
        let app = if target.contains('/') {
            app_of(&target).to_string()
        } else {
            target.clone()
        };
        if app == ctx.snap.app {
            if ctx.is_leader() {
                overlay(
                    rel.apps.get(&app).unwrap_or(&BTreeMap::new()),
                    ctx.pending.app_bags.get(&rel.id),
                )
            } else if rel.peer {
                rel.apps.get(&app).cloned().unwrap_or_default()
            } else {
                return Err(ToolError::Run("permission denied".into()));
            }
        } else if app == rel.remote_app {
            rel.apps.get(&app).cloned().unwrap_or_default()
        } else {
            return Err(ToolError::Run("permission denied".into()));
        }
    } else {
        if !target.contains('/') {
            return Err(ToolError::Usage(format!(
                "expected unit name, got application name {target:?}"
            )));
        }
        if !valid_unit_name(&target) {
            return Err(ToolError::Usage(format!("invalid unit name {target:?}")));
        }
        if target == ctx.snap.unit {
            overlay(
                rel.units.get(&target).unwrap_or(&BTreeMap::new()),
                ctx.pending.unit_bags.get(&rel.id),
            )
        } else if app_of(&target) == rel.remote_app && rel.units.contains_key(&target) {
            rel.units.get(&target).cloned().unwrap_or_default()
        } else {
            return Err(ToolError::Run("permission denied".into()));
        }
    };
    emit(
        ctx,
        &p,
        &pick_key(strings_map(&data), key),
        Format::Smart,
        SMART,
        out,
    )
}

fn relation_set(ctx: &mut ToolCtx, args: &[String], out: &mut ToolOutput) -> Result<(), ToolError> {
    let p = parse(
        args,
        &[REL, FMT, flag("app", None, false), flag("file", None, true)],
    )?;
    deprecated_format("relation-set", &p, out);
    let kv = key_values(&p.args)?;
    let rel = relation(ctx, &p)?.id;
    let mut data = match p.value("file") {
        Some(f) => {
            let f = f.to_string();
            read_settings_file(ctx, &f)?
        }
        None => BTreeMap::new(),
    };
    data.extend(kv);
    let app = p.on("app");
    if app && !ctx.is_leader() {
        return Err(ToolError::Run("cannot write relation settings".into()));
    }
    ctx.push(Change::RelationSet {
        relation: rel,
        app,
        data,
    })
}

fn relation_ids(ctx: &mut ToolCtx, args: &[String], out: &mut ToolOutput) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT])?;
    no_extra(&p.args, 1)?;
    let ep = match p.args.first() {
        Some(e) => e.clone(),
        None => ctx
            .hook()
            .and_then(|h| h.endpoint.clone())
            .ok_or_else(|| ToolError::Usage("no endpoint name specified".into()))?,
    };
    let ids: Vec<Value> = ctx
        .snap
        .relations
        .values()
        .filter(|r| r.listed && r.endpoint == ep)
        .map(|r| Value::String(format!("{}:{}", r.endpoint, r.id)))
        .collect();
    emit(ctx, &p, &Value::Array(ids), Format::Smart, SMART, out)
}

fn relation_list(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[REL, FMT, OUT, flag("app", None, false)])?;
    no_extra(&p.args, 0)?;
    let rel = relation(ctx, &p)?;
    let v = if p.on("app") {
        Value::String(rel.remote_app.clone())
    } else {
        Value::Array(rel.members.iter().cloned().map(Value::String).collect())
    };
    emit(ctx, &p, &v, Format::Smart, SMART, out)
}

const SETTABLE: [&str; 4] = ["maintenance", "blocked", "waiting", "active"];

fn status_set(ctx: &mut ToolCtx, args: &[String]) -> Result<(), ToolError> {
    let p = parse(args, &[flag("application", None, false)])?;
    let status = p
        .args
        .first()
        .ok_or_else(|| ToolError::Usage("invalid args, require <status> [message]".into()))?
        .clone();
    no_extra(&p.args, 2)?;
    if !SETTABLE.contains(&status.as_str()) {
        return Err(ToolError::Usage(format!(
            "invalid status {status:?}, expected one of [maintenance blocked waiting active]"
        )));
    }
    let message = p.args.get(1).cloned().unwrap_or_default();
    let app_level = p.on("application");
    if app_level && !ctx.is_leader() {
        return Err(ToolError::Run("this unit is not the leader".into()));
    }
    let (unit, app) = (ctx.snap.unit.clone(), ctx.snap.app.clone());
    let st = StatusInfo::now(&status, &message);
    let model = ctx.model();
    if app_level {
        model.update_entry("applications", &app, |a: &mut Application| {
            a.status = Some(st);
            Ok::<(), ToolError>(())
        })?;
    } else {
        model.update_entry("units", &unit, |u: &mut Unit| {
            u.status_set_by_charm = true;
            u.set_workload(st);
            Ok::<(), ToolError>(())
        })?;
    }
    Ok(())
}

fn status_map(st: &StatusInfo, with_data: bool) -> Value {
    if with_data {
        json!({"message": st.message, "status": st.status, "status-data": {}})
    } else {
        json!({"status": st.status})
    }
}

fn status_get(ctx: &mut ToolCtx, args: &[String], out: &mut ToolOutput) -> Result<(), ToolError> {
    let p = parse(
        args,
        &[
            FMT,
            OUT,
            flag("include-data", None, false),
            flag("application", None, false),
        ],
    )?;
    no_extra(&p.args, 0)?;
    let with_data = p.on("include-data");
    let v = if p.on("application") {
        let model = ctx.model().load()?;
        if !ctx.is_leader() {
            return Err(ToolError::Run(
                "finding application status: this unit is not the leader".into(),
            ));
        }
        let app_st = model
            .applications
            .get(&ctx.snap.app)
            .and_then(|a| a.status.clone())
            .unwrap_or_else(|| StatusInfo::now("unknown", ""));
        let units: Map<String, Value> = model
            .units_of(&ctx.snap.app)
            .iter()
            .filter_map(|u| model.units.get(u))
            .map(|u| (u.name.clone(), status_map(&u.workload, true)))
            .collect();
        json!({"application-status": {"message": app_st.message, "status": app_st.status, "status-data": {}, "units": units}})
    } else {
        let st = ctx
            .model()
            .read_entry::<Unit>("units", &ctx.snap.unit)?
            .map(|u| u.workload)
            .unwrap_or_else(|| StatusInfo::now("unknown", ""));
        let f = Format::parse(p.value("format"), Format::Smart, SMART).map_err(ToolError::Usage)?;
        if f == Format::Smart && !with_data {
            Value::String(st.status)
        } else {
            status_map(&st, with_data)
        }
    };
    emit(ctx, &p, &v, Format::Smart, SMART, out)
}

fn leader_set(ctx: &mut ToolCtx, args: &[String]) -> Result<(), ToolError> {
    let p = parse(args, &[])?;
    let data = key_values(&p.args)?;
    if !ctx.is_leader() {
        return Err(ToolError::Run(
            "cannot write leadership settings: cannot write settings: not the leader".into(),
        ));
    }
    let app = ctx.snap.app.clone();
    let unit = ctx.snap.unit.clone();
    ctx.model()
        .update_entry("applications", &app, |a: &mut Application| {
            if a.leader.as_deref() != Some(unit.as_str()) {
                return Err(ToolError::Run(
                    "cannot write leadership settings: cannot write settings: not the leader"
                        .into(),
                ));
            }
            a.leader_settings.apply(&data);
            Ok(())
        })?
        .ok_or_else(|| ToolError::Run(format!("application {app:?} not found")))?;
    ctx.push(Change::LeaderSet(data))
}

fn port_change(
    ctx: &mut ToolCtx,
    name: &str,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, flag("endpoints", None, true)])?;
    deprecated_format(name, &p, out);
    let raw = p
        .args
        .first()
        .ok_or_else(|| ToolError::Usage("no port or range specified".into()))?;
    no_extra(&p.args, 1)?;
    let range = PortRange::parse(raw).map_err(ToolError::Usage)?;
    let endpoints = p.value("endpoints").map(|e| {
        e.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    let port = OpenedPort {
        range: range.clone(),
        endpoints,
    };
    let open = name == "open-port";
    for (was_open, earlier) in &ctx.pending.ports {
        if earlier.range != range && earlier.range.overlaps(&range) && *was_open == open {
            let verb = if open { "open" } else { "close" };
            return Err(ToolError::Run(format!(
                "cannot {verb} {range} (unit {:?}): port range conflicts with {} requested earlier",
                ctx.snap.unit, earlier.range
            )));
        }
    }
    ctx.push(if open {
        Change::OpenPort(port)
    } else {
        Change::ClosePort(port)
    })
}

fn opened_ports(ctx: &mut ToolCtx, args: &[String], out: &mut ToolOutput) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT, flag("endpoints", None, false)])?;
    no_extra(&p.args, 0)?;
    let mut ports = ctx.snap.ports.clone();
    ports.sort();
    let list: Vec<Value> = ports
        .iter()
        .map(|o| {
            let mut s = o.range.to_string();
            if p.on("endpoints") {
                match &o.endpoints {
                    Some(e) => s.push_str(&format!(" ({})", e.join(", "))),
                    None => s.push_str(" (*)"),
                }
            }
            Value::String(s)
        })
        .collect();
    emit(ctx, &p, &Value::Array(list), Format::Smart, SMART, out)
}

fn network_get(ctx: &mut ToolCtx, args: &[String], out: &mut ToolOutput) -> Result<(), ToolError> {
    let p = parse(
        args,
        &[
            REL,
            FMT,
            OUT,
            flag("bind-address", None, false),
            flag("ingress-address", None, false),
            flag("egress-subnets", None, false),
            flag("primary-address", None, false),
        ],
    )?;
    let binding = p
        .args
        .first()
        .ok_or_else(|| ToolError::Usage("no arguments specified".into()))?
        .clone();
    no_extra(&p.args, 1)?;
    if p.value("relation").is_some() {
        relation(ctx, &p)?;
    }
    if binding.is_empty() {
        return Err(ToolError::Usage("no binding name specified".into()));
    }
    if !ctx.snap.bindings.contains(&binding) {
        return Err(ToolError::Run(format!(
            "no network config found for binding {binding:?}"
        )));
    }
    let f = Format::parse(p.value("format"), Format::Smart, SMART).map_err(ToolError::Usage)?;
    let m = &ctx.snap.machine;
    let addr = m.address.to_string();
    let egress = json!([format!("{addr}/32")]);
    let wanted: Vec<&str> = ["bind-address", "ingress-address", "egress-subnets"]
        .into_iter()
        .filter(|k| p.on(k))
        .collect();
    if p.on("primary-address") {
        if !wanted.is_empty() {
            return Err(ToolError::Usage(
                "--primary-address must be used alone".into(),
            ));
        }
        return emit(ctx, &p, &Value::String(addr), Format::Smart, SMART, out);
    }
    let single = |k: &str| match k {
        "egress-subnets" => egress.clone(),
        _ => Value::String(addr.clone()),
    };
    let v = match wanted.as_slice() {
        [] => {
            let mut address = json!({"hostname": "", "value": addr, "cidr": m.cidr});
            let mut iface = json!({"mac-address": m.mac, "interface-name": m.interface});
            if f == Format::Yaml || f == Format::Smart {
                address["address"] = Value::String(addr.clone());
                iface["macaddress"] = Value::String(m.mac.clone());
                iface["interfacename"] = Value::String(m.interface.clone());
            }
            iface["addresses"] = json!([address]);
            json!({"bind-addresses": [iface], "egress-subnets": egress, "ingress-addresses": [addr]})
        }
        [one] => single(one),
        many => Value::Object(many.iter().map(|k| (k.to_string(), single(k))).collect()),
    };
    emit(ctx, &p, &v, Format::Smart, SMART, out)
}

fn action_set(ctx: &mut ToolCtx, args: &[String]) -> Result<(), ToolError> {
    let p = parse(args, &[])?;
    let mut sets = Vec::new();
    for a in &p.args {
        let Some((k, v)) = a.split_once('=') else {
            return Err(ToolError::Usage(format!(
                "argument {a:?} must be of the form key...=value"
            )));
        };
        let segs: Vec<String> = k.split('.').map(String::from).collect();
        for s in &segs {
            let ok = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !s.starts_with('-')
                && !s.ends_with('-');
            if !ok {
                return Err(ToolError::Usage(format!(
                    "key {s:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods"
                )));
            }
        }
        if matches!(
            segs[0].as_str(),
            "stdout" | "stdout-encoding" | "stderr" | "stderr-encoding"
        ) {
            return Err(ToolError::Usage(format!(
                "cannot set reserved action key {:?}",
                segs[0]
            )));
        }
        sets.push((segs, v.to_string()));
    }
    if !matches!(ctx.snap.kind, ContextKind::Action { .. }) {
        return Err(ToolError::Run("not running an action".into()));
    }
    for (segs, v) in sets {
        ctx.push(Change::ActionSet(segs, v))?;
    }
    Ok(())
}
