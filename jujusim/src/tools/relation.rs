//! relation-get, relation-set, relation-ids, relation-list, relation-model-get.
use super::args::{
    deprecated_format, emit, key_values, no_extra, pick_key, read_settings_file, relation,
    strings_map, valid_unit_name, FMT, OUT, REL, SMART,
};
use super::{ToolCtx, ToolError, ToolOutput};
use crate::context::{overlay, Change};
use crate::flags::{flag, parse, Format};
use crate::model::app_of;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(super) fn relation_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
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

pub(super) fn relation_set(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
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

pub(super) fn relation_ids(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
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

pub(super) fn relation_list(
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

pub(super) fn relation_model_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
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
