//! secret-add, secret-set, secret-remove, secret-grant, secret-revoke (buffered until
//! the hook commits), secret-get (tracking and labels are recorded at once, as Juju's
//! controller records them on read), secret-ids and secret-info-get
//! (docs/juju.md#secrets). A hook sees its own buffered writes.
use super::args::{emit, go_list, no_extra, relation, valid_unit_name, FMT, OUT, REL, SMART};
use super::{ToolCtx, ToolError, ToolOutput};
use crate::context::Change;
use crate::flags::{flag, parse, Format, Parsed, Spec};
use crate::model::{
    apply_secret_changes, parse_go_duration, parse_rfc3339, rfc3339, Grant, Model, RotatePolicy,
    Secret, SecretChange, SecretFields, SecretOwner,
};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The formats of secret-get and secret-info-get (default yaml).
const YAML_JSON: &[&str] = &["yaml", "json"];

/// Flags secret-add and secret-set share (secret-set also takes `--owner`, ignored).
const UPSERT: &[Spec] = &[
    flag("expire", None, true),
    flag("rotate", None, true),
    flag("description", None, true),
    flag("label", None, true),
    flag("file", None, true),
    flag("owner", None, true),
];

/// The id in a secret URI: `secret://<model uuid>/<id>`, `secret:<id>` or `<id>`.
fn parse_uri(s: &str) -> Result<String, ToolError> {
    let id = s
        .strip_prefix("secret://")
        .and_then(|r| r.rsplit_once('/').map(|(_, id)| id))
        .or_else(|| s.strip_prefix("secret:"))
        .unwrap_or(s);
    let valid = id.len() == 20
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c));
    if valid {
        Ok(id.to_string())
    } else {
        Err(ToolError::Usage(format!("secret URI {s:?} not valid")))
    }
}

/// The id of the URI every managing tool takes first (`missing secret URI` without).
fn first_uri(p: &Parsed) -> Result<String, ToolError> {
    let uri = p
        .args
        .first()
        .ok_or_else(|| ToolError::Usage("missing secret URI".into()))?;
    parse_uri(uri)
}

/// A fresh 20-character id (base32hex, lowercase), like Juju's xid-based ids.
fn new_id(unit: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{nanos}-{}-{unit}", std::process::id());
    let a = crate::model::fnv1a(seed.as_bytes());
    let b = crate::model::fnv1a(&a.to_le_bytes());
    let bits = (u128::from(a) << 64) | u128::from(b);
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    (0..20)
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Juju's key rule: a lowercase letter, then at least two lowercase letters or digits,
/// single dashes allowed between them.
fn valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let (mut groups, mut dash) = (0, false);
    for c in chars {
        match c {
            '-' if !dash => dash = true,
            c if c.is_ascii_lowercase() || c.is_ascii_digit() => {
                groups += 1;
                dash = false;
            }
            _ => return false,
        }
    }
    groups >= 2 && !dash
}

/// The content of `key=value`, `key#base64=value` and `key#file=PATH` arguments and of
/// `--file` (a YAML or JSON map), base64-encoded as Juju stores it.
fn content(ctx: &mut ToolCtx, p: &Parsed) -> Result<BTreeMap<String, String>, ToolError> {
    let mut raw = BTreeMap::new();
    for arg in &p.args {
        let stripped = arg.trim_end_matches('=');
        let idx = stripped
            .find('=')
            .filter(|i| *i >= 1)
            .ok_or_else(|| ToolError::Usage(format!("key value {arg:?} not valid")))?;
        let (key, value) = (&arg[..idx], &arg[idx + 1..]);
        match key.strip_suffix("#file") {
            Some(k) => {
                let path = ctx.cwd.join(value);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ToolError::Usage(format!("reading content for secret key {k:?}: {e}"))
                })?;
                raw.insert(k.to_string(), text);
            }
            None => {
                raw.insert(key.to_string(), value.to_string());
            }
        }
    }
    if let Some(f) = p.value("file") {
        let path = ctx.cwd.join(f);
        let text = std::fs::read_to_string(&path).map_err(|source| ToolError::Read {
            what: path.display().to_string(),
            source,
        })?;
        let map: BTreeMap<String, String> =
            serde_yaml::from_str(&text).map_err(|source| ToolError::Yaml {
                file: f.to_string(),
                source,
            })?;
        raw.extend(map);
    }
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let (key, value) = match k.strip_suffix("#base64") {
            Some(key) => (key.to_string(), v),
            None => (k.clone(), BASE64.encode(v.as_bytes())),
        };
        if !valid_key(&key) {
            return Err(ToolError::Usage(format!("key {key:?} not valid")));
        }
        out.insert(key, value);
    }
    Ok(out)
}

/// `--label`, `--description`, `--rotate`, `--expire` (a duration or a time).
fn fields(p: &Parsed, now: u64) -> Result<SecretFields, ToolError> {
    let rotate = match p.value("rotate") {
        None => None,
        Some(r) => Some(
            RotatePolicy::parse(r)
                .ok_or_else(|| ToolError::Usage(format!("rotate policy {r:?} not valid")))?,
        ),
    };
    let expire = match p.value("expire") {
        None => None,
        Some(e) => Some(match parse_rfc3339(e) {
            Some(t) => t,
            None => {
                let d = parse_go_duration(e).ok_or_else(|| {
                    ToolError::Usage(format!("expire time or duration {e:?} not valid"))
                })?;
                if d <= 0.0 {
                    return Err(ToolError::Usage(format!(
                        "negative expire duration {e:?} not valid"
                    )));
                }
                now + d.ceil() as u64
            }
        }),
    };
    Ok(SecretFields {
        label: p.value("label").map(String::from),
        description: p.value("description").map(String::from),
        rotate,
        expire,
    })
}

/// The model's secrets with this execution's own buffered writes applied.
fn view(ctx: &ToolCtx) -> Result<(Model, BTreeMap<String, Secret>), ToolError> {
    let m = ctx.model().load()?;
    let mut secrets = m.secrets.clone();
    apply_secret_changes(&mut secrets, &ctx.pending.secrets, m.now());
    Ok((m, secrets))
}

/// Secrets this unit manages and lists: its own, and its application's when leader.
fn listed(ctx: &ToolCtx, s: &Secret) -> bool {
    match &s.owner {
        SecretOwner::Unit(u) => *u == ctx.snap.unit,
        SecretOwner::Application(a) => *a == ctx.snap.app && ctx.is_leader(),
    }
}

/// The owner checks of every write: an owned secret, and the leader for an
/// application's.
fn may_manage(ctx: &ToolCtx, s: &Secret) -> Result<(), ToolError> {
    if !s.owned_by(&ctx.snap.unit) {
        return Err(ToolError::Run("permission denied".into()));
    }
    if matches!(s.owner, SecretOwner::Application(_)) && !ctx.is_leader() {
        return Err(ToolError::Run("this unit is not the leader".into()));
    }
    Ok(())
}

fn not_found(id: &str) -> ToolError {
    ToolError::Run(format!("secret {id:?} not found"))
}

/// The secret `id` in the view, for a write by its manager.
fn managed<'a>(
    ctx: &ToolCtx,
    secrets: &'a BTreeMap<String, Secret>,
    id: &str,
) -> Result<&'a Secret, ToolError> {
    let s = secrets.get(id).ok_or_else(|| not_found(id))?;
    may_manage(ctx, s)?;
    Ok(s)
}

pub(super) fn secret_add(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, UPSERT)?;
    if p.args.is_empty() && p.value("file").is_none() {
        return Err(ToolError::Usage("missing secret value or filename".into()));
    }
    let owner = match p.value("owner").unwrap_or("application") {
        "application" => SecretOwner::Application(ctx.snap.app.clone()),
        "unit" => SecretOwner::Unit(ctx.snap.unit.clone()),
        other => {
            return Err(ToolError::Usage(format!(
                "secret owner {other:?} not valid"
            )))
        }
    };
    let (m, secrets) = view(ctx)?;
    let fields = fields(&p, m.now())?;
    let data = content(ctx, &p)?;
    if matches!(owner, SecretOwner::Application(_)) && !ctx.is_leader() {
        return Err(ToolError::Run("this unit is not the leader".into()));
    }
    if data.is_empty() {
        return Err(ToolError::Run("empty secret value not valid".into()));
    }
    if let Some(l) = &fields.label {
        if secrets
            .values()
            .any(|s| s.owner == owner && s.label.as_ref() == Some(l))
        {
            return Err(ToolError::Run(format!(
                "secret with label {l:?} already exists"
            )));
        }
    }
    let id = new_id(&ctx.snap.unit);
    ctx.push(Change::Secret(SecretChange::Add {
        id: id.clone(),
        owner,
        fields,
        content: data,
    }))?;
    out.stdout
        .push_str(&format!("secret://{}/{id}\n", ctx.snap.model_uuid));
    Ok(())
}

pub(super) fn secret_set(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, UPSERT)?;
    let Some((uri, rest)) = p.args.split_first() else {
        return Err(ToolError::Usage("missing secret URI".into()));
    };
    let id = parse_uri(uri)?;
    let (m, secrets) = view(ctx)?;
    let fields = fields(&p, m.now())?;
    let rest_parsed = Parsed::with_args(&p, rest.to_vec());
    let data = content(ctx, &rest_parsed)?;
    let s = managed(ctx, &secrets, &id)?;
    if let Some(l) = &fields.label {
        let taken = secrets
            .values()
            .any(|o| o.id != s.id && o.owner == s.owner && o.label.as_ref() == Some(l));
        if taken {
            return Err(ToolError::Run(format!(
                "secret with label {l:?} already exists"
            )));
        }
    }
    let content = (!data.is_empty()).then_some(data);
    if content.is_none() && fields == SecretFields::default() {
        return Ok(());
    }
    ctx.push(Change::Secret(SecretChange::Set {
        id,
        fields,
        content,
    }))
}

pub(super) fn secret_remove(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[flag("revision", None, true)])?;
    let id = first_uri(&p)?;
    no_extra(&p.args, 1)?;
    let revision = match p.value("revision") {
        None => None,
        Some(r) => {
            let n: i64 = r.parse().map_err(|_| {
                ToolError::Usage(format!(
                    "invalid value {r:?} for option --revision: parse error"
                ))
            })?;
            u32::try_from(n).ok().filter(|n| *n > 0)
        }
    };
    let (_, secrets) = view(ctx)?;
    let s = managed(ctx, &secrets, &id)?;
    if let Some(r) = revision.filter(|r| !s.revisions.contains_key(r)) {
        return Err(ToolError::Run(format!(
            "secret revision {id}/{r} not found"
        )));
    }
    ctx.push(Change::Secret(SecretChange::Remove { id, revision }))
}

pub(super) fn secret_grant(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[REL, flag("unit", None, true)])?;
    let id = first_uri(&p)?;
    let rel = relation(ctx, &p)?.clone();
    if let Some(u) = p.value("unit") {
        if !valid_unit_name(u) {
            return Err(ToolError::Usage(format!("unit {u:?} not valid")));
        }
        if crate::model::app_of(u) != rel.remote_app {
            return Err(ToolError::Usage(format!(
                "cannot specify unit {u:?} in relation to application {:?}",
                rel.remote_app
            )));
        }
    }
    no_extra(&p.args, 1)?;
    let (_, secrets) = view(ctx)?;
    let s = secrets
        .get(&id)
        .filter(|s| listed(ctx, s) || s.owned_by(&ctx.snap.unit));
    let s = s.ok_or_else(|| not_found(&id))?;
    may_manage(ctx, s)?;
    let grant = Grant {
        relation: rel.id,
        app: rel.remote_app.clone(),
        unit: p.value("unit").map(String::from),
    };
    if s.grants
        .iter()
        .any(|g| g.relation == grant.relation && g.app == grant.app && g.unit.is_none())
    {
        return Ok(());
    }
    ctx.push(Change::Secret(SecretChange::Grant { id, grant }))
}

pub(super) fn secret_revoke(
    ctx: &mut ToolCtx,
    args: &[String],
    _: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(
        args,
        &[
            REL,
            flag("app", None, true),
            flag("application", None, true),
            flag("unit", None, true),
        ],
    )?;
    let id = first_uri(&p)?;
    let mut app = p.value("app").or(p.value("application")).map(String::from);
    let unit = p.value("unit").map(String::from);
    if let Some(u) = unit.as_ref().filter(|u| !valid_unit_name(u)) {
        return Err(ToolError::Usage(format!("unit {u:?} not valid")));
    }
    if app.is_some() && unit.is_some() {
        return Err(ToolError::Usage(
            "specify only one of application or unit".into(),
        ));
    }
    let explicit = p.value("relation").is_some();
    let in_relation_hook = ctx.hook().and_then(|h| h.relation).is_some();
    if explicit || (in_relation_hook && app.is_none() && unit.is_none()) {
        let remote = relation(ctx, &p)?.remote_app.clone();
        if app.is_some() {
            return Err(ToolError::Usage(
                "do not specify both relation and app".into(),
            ));
        }
        app = Some(remote);
    }
    if app.is_none() && unit.is_none() {
        return Err(ToolError::Usage(
            "missing relation or application or unit".into(),
        ));
    }
    no_extra(&p.args, 1)?;
    let (_, secrets) = view(ctx)?;
    managed(ctx, &secrets, &id)?;
    ctx.push(Change::Secret(SecretChange::Revoke { id, app, unit }))
}

pub(super) fn secret_ids(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT])?;
    no_extra(&p.args, 0)?;
    let (_, secrets) = view(ctx)?;
    let ids: Vec<Value> = secrets
        .values()
        .filter(|s| listed(ctx, s))
        .map(|s| Value::String(s.id.clone()))
        .collect();
    emit(ctx, &p, &Value::Array(ids), Format::Smart, SMART, out)
}

pub(super) fn secret_info_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT, flag("label", None, true)])?;
    let id = p.args.first().map(|a| parse_uri(a)).transpose()?;
    let label = p.value("label");
    match (&id, label) {
        (None, None) => {
            return Err(ToolError::Usage(
                "require either a secret URI or label".into(),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(ToolError::Usage(
                "specify either a secret URI or label but not both".into(),
            ))
        }
        _ => {}
    }
    no_extra(&p.args, 1)?;
    let (m, secrets) = view(ctx)?;
    let found = secrets
        .values()
        .filter(|s| listed(ctx, s))
        .find(|s| match &id {
            Some(id) => s.id == *id,
            None => s.label.as_deref() == label,
        });
    let want = id.clone().or(label.map(String::from)).unwrap_or_default();
    let s = found.ok_or_else(|| not_found(&want))?;
    let v = json!({ s.id.clone(): info(&m, s) });
    emit(ctx, &p, &v, Format::Yaml, YAML_JSON, out)
}

/// secret-info-get's entry for `s`.
fn info(m: &Model, s: &Secret) -> Value {
    let mut o = Map::new();
    o.insert("revision".into(), json!(s.latest));
    o.insert("label".into(), json!(s.label.clone().unwrap_or_default()));
    o.insert("owner".into(), json!(s.owner.kind()));
    if let Some(d) = s.description.as_ref().filter(|d| !d.is_empty()) {
        o.insert("description".into(), json!(d));
    }
    if let Some(r) = s.rotate {
        o.insert("rotation".into(), json!(r.name()));
    }
    if let Some(e) = s.revisions.get(&s.latest).and_then(|r| r.expire) {
        o.insert("expiry".into(), json!(rfc3339(e)));
    }
    if let Some(t) = s.next_rotate {
        o.insert("rotates".into(), json!(rfc3339(t)));
    }
    let access = access(m, s);
    if !access.is_empty() {
        o.insert("access".into(), Value::Array(access));
    }
    Value::Object(o)
}

/// A secret's grants as Juju lists them: target and scope tags, role `view`.
pub fn access(m: &Model, s: &Secret) -> Vec<Value> {
    s.grants
        .iter()
        .map(|g| {
            let target = match &g.unit {
                Some(u) => format!("unit-{}", u.replace('/', "-")),
                None => format!("application-{}", g.app),
            };
            let scope = m
                .relations
                .get(&g.relation)
                .map(|r| {
                    let eps: Vec<String> = r
                        .endpoints
                        .iter()
                        .map(|e| format!("{}.{}", e.app, e.name))
                        .collect();
                    format!("relation-{}", eps.join("#"))
                })
                .unwrap_or_default();
            json!({"target": target, "scope": scope, "role": "view"})
        })
        .collect()
}

pub(super) fn secret_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(
        args,
        &[
            FMT,
            OUT,
            flag("label", None, true),
            flag("peek", None, false),
            flag("refresh", None, false),
        ],
    )?;
    let id = match p.args.first() {
        Some(a) => Some(
            parse_uri(a).map_err(|_| ToolError::Usage(format!("secret URI {a:?} not valid")))?,
        ),
        None => None,
    };
    let label = p.value("label").map(String::from);
    if id.is_none() && label.is_none() {
        return Err(ToolError::Usage(
            "require either a secret URI or label".into(),
        ));
    }
    let (peek, refresh) = (p.on("peek"), p.on("refresh"));
    if peek && refresh {
        return Err(ToolError::Usage(
            "specify one of --peek or --refresh but not both".into(),
        ));
    }
    if p.args.len() > 2 {
        return Err(ToolError::Usage(format!(
            "unrecognized args: {}",
            go_list(&p.args[2..])
        )));
    }
    let key = p.args.get(1).cloned();
    let (m, secrets) = view(ctx)?;
    let unit = ctx.snap.unit.clone();
    let s = match &id {
        Some(id) => secrets.get(id).ok_or_else(|| not_found(id))?,
        None => {
            let l = label.as_deref().unwrap_or_default();
            secrets
                .values()
                .find(|s| s.owned_by(&unit) && s.label.as_deref() == Some(l))
                .or_else(|| {
                    secrets.values().find(|s| {
                        s.consumers
                            .get(&unit)
                            .is_some_and(|c| c.label.as_deref() == Some(l))
                    })
                })
                .ok_or_else(|| ToolError::Run(format!("secret with label {l:?} not found")))?
        }
    };
    let revision = if s.owned_by(&unit) {
        // An owner always reads the latest; a label given with the URI is its label.
        if let (Some(_), Some(l)) = (&id, &label) {
            if s.label.as_ref() != Some(l) && listed(ctx, s) {
                ctx.push(Change::Secret(SecretChange::Set {
                    id: s.id.clone(),
                    fields: SecretFields {
                        label: Some(l.clone()),
                        ..SecretFields::default()
                    },
                    content: None,
                }))?;
            }
        }
        s.latest
    } else if m.granted(s, &unit) {
        track(ctx, s, refresh, peek, label.as_deref())?
    } else {
        return Err(ToolError::Run("permission denied".into()));
    };
    let rev = s
        .revisions
        .get(&revision)
        .ok_or_else(|| ToolError::Run(format!("secret revision {}/{revision} not found", s.id)))?;
    let v = match key {
        None => {
            let mut o = Map::new();
            for (k, v) in &rev.content {
                o.insert(k.clone(), Value::String(decode(v)));
            }
            Value::Object(o)
        }
        Some(k) => {
            let (name, raw) = match k.strip_suffix("#base64") {
                Some(n) => (n, true),
                None => (k.as_str(), false),
            };
            let v = rev
                .content
                .get(name)
                .ok_or_else(|| ToolError::Run(format!("secret key {name:?} not found")))?;
            Value::String(if raw { v.clone() } else { decode(v) })
        }
    };
    emit(ctx, &p, &v, Format::Yaml, YAML_JSON, out)
}

/// A consumer's read: the first read and `--refresh` track the latest revision and
/// `--label` names the secret for this unit (recorded at once, as Juju's controller
/// does on read); `--peek` reads the latest without tracking it. Returns the revision
/// to read.
fn track(
    ctx: &ToolCtx,
    s: &Secret,
    refresh: bool,
    peek: bool,
    label: Option<&str>,
) -> Result<u32, ToolError> {
    let unit = ctx.snap.unit.clone();
    let current = s.consumers.get(&unit).map(|c| c.revision);
    let tracked = match current {
        Some(r) if !refresh => r,
        _ => s.latest,
    };
    let relabel =
        label.is_some_and(|l| s.consumers.get(&unit).and_then(|c| c.label.as_deref()) != Some(l));
    if current != Some(tracked) || relabel {
        let label = label.map(String::from);
        ctx.model()
            .update_entry("secrets", &s.id, |live: &mut Secret| {
                let c = live.consumers.entry(unit.clone()).or_default();
                c.revision = tracked;
                if label.is_some() {
                    c.label = label;
                }
                Ok::<(), ToolError>(())
            })?;
    }
    Ok(if peek { s.latest } else { tracked })
}

/// A stored value as text (Juju stores base64).
fn decode(v: &str) -> String {
    BASE64
        .decode(v)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{parse_uri, valid_key};

    #[test]
    fn uris_and_keys_as_juju_takes_them() {
        let id = "cjc0ljh7n7b0s5h4q6b0";
        assert_eq!(parse_uri(id).ok().as_deref(), Some(id));
        assert_eq!(parse_uri(&format!("secret:{id}")).ok().as_deref(), Some(id));
        let full = format!("secret://00000000-0000-4000-a000-000000000000/{id}");
        assert_eq!(parse_uri(&full).ok().as_deref(), Some(id));
        assert!(parse_uri("secret:short").is_err());
        assert!(parse_uri("cjc0ljh7n7b0s5h4q6bz").is_err());
        for ok in ["password", "tls-key", "ab1"] {
            assert!(valid_key(ok), "{ok}");
        }
        for bad in ["ab", "Key", "1ab", "a--b", "abc-", "a_bc"] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
