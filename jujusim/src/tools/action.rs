//! action-get, action-set, action-fail, action-log: only inside an action.
use super::args::{emit, no_extra, FMT, OUT, SMART};
use super::{ToolCtx, ToolError, ToolOutput};
use crate::context::{Change, ContextKind};
use crate::flags::{parse, Format};
use crate::model::{now_secs, Task};
use serde_json::Value;

pub(super) fn action_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
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

pub(super) fn action_set(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
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

pub(super) fn action_fail(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[])?;
    no_extra(&p.args, 1)?;
    if !matches!(ctx.snap.kind, ContextKind::Action { .. }) {
        return Err(ToolError::Run("not running an action".into()));
    }
    let msg =
        p.args.first().cloned().unwrap_or_else(|| {
            "action failed without reason given, check action for errors".into()
        });
    ctx.push(Change::ActionFail(msg))
}

pub(super) fn action_log(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
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
