//! What every hook tool shares: juju/cmd's argument rules (no extra args, key=value
//! pairs, `--file` maps, `-r` relation ids) and its output (`--format`, `-o FILE`).
use super::{ToolCtx, ToolError, ToolOutput};
use crate::context::RelView;
use crate::flags::{flag, render, Format, Parsed, Spec};
use serde_json::Value;
use std::collections::BTreeMap;

/// `--format`.
pub(super) const FMT: Spec = flag("format", None, true);
/// `-o, --output FILE`.
pub(super) const OUT: Spec = flag("output", Some('o'), true);
/// `-r, --relation ID`.
pub(super) const REL: Spec = flag("relation", Some('r'), true);
/// Formats of the tools that print data.
pub(super) const SMART: &[&str] = &["smart", "json", "yaml"];

/// Go's `%q` of a string list: `["a" "b"]`.
pub(super) fn go_list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", q.join(" "))
}

pub(super) fn no_extra(args: &[String], max: usize) -> Result<(), ToolError> {
    if args.len() > max {
        return Err(ToolError::Usage(format!(
            "unrecognized args: {}",
            go_list(&args[max..])
        )));
    }
    Ok(())
}

/// Render `v` per --format and -o.
pub(super) fn emit(
    ctx: &ToolCtx,
    p: &Parsed,
    v: &Value,
    default: Format,
    allowed: &[&str],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let f = Format::parse(p.value("format"), default, allowed)?;
    let text = render(v, f);
    match p.value("output") {
        Some(file) => {
            let path = ctx.cwd.join(file);
            std::fs::write(&path, text).map_err(|source| ToolError::Write {
                path: path.clone(),
                source,
            })?;
        }
        None => out.stdout.push_str(&text),
    }
    Ok(())
}

pub(super) fn deprecated_format(name: &str, p: &Parsed, out: &mut ToolOutput) {
    if p.value("format").is_some() {
        out.stderr
            .push_str(&format!("--format flag deprecated for command {name:?}\n"));
    }
}

/// key=value arguments (juju/utils keyvalues): trimmed, no duplicates.
pub(super) fn key_values(args: &[String]) -> Result<BTreeMap<String, String>, ToolError> {
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
pub(super) fn read_settings_file(
    ctx: &mut ToolCtx,
    file: &str,
) -> Result<BTreeMap<String, String>, ToolError> {
    let text = if file == "-" {
        (ctx.stdin)().map_err(|source| ToolError::Read {
            what: "stdin".into(),
            source,
        })?
    } else {
        let path = ctx.cwd.join(file);
        std::fs::read_to_string(&path).map_err(|source| ToolError::Read {
            what: path.display().to_string(),
            source,
        })?
    };
    let v: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|source| ToolError::Yaml {
        file: file.into(),
        source,
    })?;
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

pub(super) fn scalar_string(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Resolve `-r` (N or anything:N) or the hook's relation.
pub(super) fn relation<'a>(ctx: &'a ToolCtx, p: &Parsed) -> Result<&'a RelView, ToolError> {
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

pub(super) fn strings_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

pub(super) fn pick_key(map: Value, key: Option<&str>) -> Value {
    match key {
        None | Some("-") => map,
        Some(k) => map.get(k).cloned().unwrap_or(Value::Null),
    }
}

pub(super) fn valid_unit_name(s: &str) -> bool {
    let mut parts = s.split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(n), None) if !a.is_empty() && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}
