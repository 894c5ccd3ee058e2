//! config-get, juju-log, goal-state: what the unit reads about itself, and its log.
use super::args::{deprecated_format, emit, no_extra, FMT, OUT, SMART};
use super::{ToolCtx, ToolError, ToolOutput};
use crate::flags::{flag, parse, Format};
use serde_json::Value;

pub(super) fn config_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
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

pub(super) fn juju_log(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(
        args,
        &[
            flag("log-level", Some('l'), true),
            flag("debug", None, false),
            FMT,
        ],
    )?;
    deprecated_format("juju-log", &p, out);
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

pub(super) fn goal_state(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT])?;
    no_extra(&p.args, 0)?;
    let v = ctx.snap.goal_state.clone();
    emit(ctx, &p, &v, Format::Yaml, &["yaml", "json"], out)
}
