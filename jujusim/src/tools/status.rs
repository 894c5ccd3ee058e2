//! status-set, status-get and application-version-set: they change the model at once,
//! not when the hook commits.
use super::args::{emit, no_extra, FMT, OUT, SMART};
use super::{ToolCtx, ToolError, ToolOutput};
use crate::flags::{flag, parse, Format};
use crate::model::{Application, StatusInfo, Unit};
use serde_json::{json, Map, Value};

const SETTABLE: [&str; 4] = ["maintenance", "blocked", "waiting", "active"];

pub(super) fn status_set(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
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

pub(super) fn status_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
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
        let f = Format::parse(p.value("format"), Format::Smart, SMART)?;
        if f == Format::Smart && !with_data {
            Value::String(st.status)
        } else {
            status_map(&st, with_data)
        }
    };
    emit(ctx, &p, &v, Format::Smart, SMART, out)
}

pub(super) fn application_version_set(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
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
