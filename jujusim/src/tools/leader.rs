//! is-leader, leader-get, leader-set. leader-set changes the model at once; is-leader
//! answering false makes later calls of this execution answer false too.
use super::args::{emit, key_values, no_extra, pick_key, strings_map, FMT, OUT, SMART};
use super::{ToolCtx, ToolError, ToolOutput};
use crate::context::{overlay, Change};
use crate::flags::{parse, Format};
use crate::model::Application;
use serde_json::Value;

pub(super) fn is_leader(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT])?;
    no_extra(&p.args, 0)?;
    let leader = ctx.is_leader();
    if !leader && !ctx.pending.lost_leadership {
        ctx.push(Change::LostLeadership)?;
    }
    emit(ctx, &p, &Value::Bool(leader), Format::Smart, SMART, out)
}

pub(super) fn leader_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
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

pub(super) fn leader_set(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
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
