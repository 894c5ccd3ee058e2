//! state-get, state-set, state-delete: the unit's own key/value store, committed with
//! the hook.
use super::args::{emit, key_values, no_extra, read_settings_file, strings_map, FMT, OUT, SMART};
use super::{ToolCtx, ToolError, ToolOutput};
use crate::context::Change;
use crate::flags::{flag, parse, Format};
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn state_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
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
            None if p.on("strict") => return Err(ToolError::Run(format!("{k:?} not found"))),
            None => Value::String(String::new()),
        },
    };
    emit(ctx, &p, &v, Format::Smart, SMART, out)
}

pub(super) fn state_set(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
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

pub(super) fn state_delete(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[])?;
    no_extra(&p.args, 1)?;
    if let Some(k) = p.args.first() {
        ctx.push(Change::StateDelete(k.clone()))?;
    }
    Ok(())
}
