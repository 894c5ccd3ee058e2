//! storage-get, storage-list, storage-add (buffered until commit): the unit's storage
//! instances (docs/juju.md#storage).
use super::args::{emit, no_extra, FMT, OUT, SMART};
use super::{ToolCtx, ToolError, ToolOutput};
use crate::context::Change;
use crate::flags::{flag, parse, Format};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `<name>/<n>`.
fn valid_storage_id(s: &str) -> bool {
    matches!(s.split_once('/'), Some((n, i)) if !n.is_empty() && !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()))
}

pub(super) fn storage_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT, flag("s", None, true)])?;
    no_extra(&p.args, 1)?;
    let id = match p.value("s") {
        Some(v) if !valid_storage_id(v) => {
            return Err(ToolError::Usage(format!(
                "invalid value {v:?} for option -s: invalid storage ID {v:?}"
            )))
        }
        Some(v) => v.to_string(),
        None => ctx
            .hook()
            .and_then(|h| h.storage.as_ref())
            .map(|s| s.id.clone())
            .ok_or_else(|| ToolError::Usage("no storage instance specified".into()))?,
    };
    let inst = ctx.snap.storage.get(&id).ok_or_else(|| {
        ToolError::Usage(format!(
            "invalid value {id:?} for option -s: storage instance {id:?} not found"
        ))
    })?;
    let v = match p.args.first().map(String::as_str) {
        None => json!({"kind": inst.kind, "location": inst.location}),
        Some("kind") => Value::String(inst.kind.clone()),
        Some("location") => Value::String(inst.location.clone()),
        Some(other) => {
            return Err(ToolError::Run(format!(
                "invalid storage attribute {other:?}"
            )))
        }
    };
    emit(ctx, &p, &v, Format::Smart, SMART, out)
}

pub(super) fn storage_list(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT])?;
    no_extra(&p.args, 1)?;
    let name = p.args.first();
    let ids: Vec<Value> = ctx
        .snap
        .storage
        .values()
        .filter(|s| name.is_none_or(|n| s.name() == n))
        .map(|s| Value::String(s.id.clone()))
        .collect();
    emit(ctx, &p, &Value::Array(ids), Format::Smart, SMART, out)
}

pub(super) fn storage_add(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[])?;
    if p.args.is_empty() {
        return Err(ToolError::Usage(
            "storage add requires a storage directive".into(),
        ));
    }
    let mut add = BTreeMap::new();
    for a in &p.args {
        let (name, count) = match a.split_once('=') {
            None => (a.as_str(), 1),
            Some((n, c)) => (
                n,
                c.parse::<u32>().map_err(|_| {
                    ToolError::Usage(format!("only count can be specified for {n:?}"))
                })?,
            ),
        };
        let meta = ctx
            .snap
            .storage_meta
            .get(name)
            .ok_or_else(|| ToolError::Run(format!("storage {name:?} not found")))?;
        let have = ctx
            .snap
            .storage
            .values()
            .filter(|s| s.name() == name)
            .count() as u32;
        let pending = ctx.pending.storage_add.get(name).copied().unwrap_or(0);
        if let Some(max) = meta.count_max.filter(|m| have + pending + count > *m) {
            return Err(ToolError::Run(format!(
                "adding {count} {name:?} storage would exceed its maximum of {max}"
            )));
        }
        *add.entry(name.to_string()).or_default() += count;
    }
    ctx.push(Change::StorageAdd(add))
}
