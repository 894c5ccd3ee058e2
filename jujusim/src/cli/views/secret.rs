//! `secrets` and `show-secret`: charm secrets as `juju secrets` and `juju show-secret`
//! print them (content only with `--reveal`).
use super::{map, opt, s};
use crate::model::{rfc3339, Model, Secret};
use base64::Engine as _;
use serde_yaml::{Mapping, Value as Y};

/// What `show-secret` adds to the listing.
#[derive(Debug, Default)]
pub struct SecretShow {
    /// `--reveal`: the content of the latest (or `--revision`) revision.
    pub reveal: bool,
    /// `--revision N`.
    pub revision: Option<u32>,
    /// `--revisions`: every revision's metadata.
    pub revisions: bool,
}

/// The id of the secret `name` names: its id, URI or owner label.
pub fn find_secret(m: &Model, name: &str) -> Option<String> {
    let id = name
        .rsplit('/')
        .next()
        .map(|x| x.trim_start_matches("secret:"))
        .unwrap_or(name);
    if m.secrets.contains_key(id) {
        return Some(id.to_string());
    }
    m.secrets
        .values()
        .find(|s| s.label.as_deref() == Some(name))
        .map(|s| s.id.clone())
}

/// Every secret keyed by id (`secrets --format yaml|json`), or only `one` with what
/// `show-secret` asks for.
pub fn secrets_view(m: &Model, one: Option<(&str, &SecretShow)>) -> Y {
    let mut out = Mapping::new();
    for sec in m.secrets.values() {
        let show = match one {
            Some((id, show)) if id == sec.id => Some(show),
            Some(_) => continue,
            None => None,
        };
        out.insert(s(sec.id.as_str()), entry(m, sec, show));
    }
    Y::Mapping(out)
}

fn time(t: Option<u64>) -> Y {
    t.map(|t| s(rfc3339(t))).unwrap_or(Y::Null)
}

fn entry(m: &Model, sec: &Secret, show: Option<&SecretShow>) -> Y {
    let revision = show.and_then(|x| x.revision).unwrap_or(sec.latest);
    let content = show.filter(|x| x.reveal).map(|_| {
        let mut c = Mapping::new();
        let b64 = base64::engine::general_purpose::STANDARD;
        for (k, v) in sec
            .revisions
            .get(&revision)
            .map(|r| &r.content)
            .into_iter()
            .flatten()
        {
            let text = b64
                .decode(v)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            c.insert(s(k.as_str()), s(text));
        }
        Y::Mapping(c)
    });
    let revisions = show.filter(|x| x.revisions).map(|_| {
        Y::Sequence(
            sec.revisions
                .iter()
                .map(|(n, r)| {
                    map([
                        ("revision", Y::Number((*n).into())),
                        ("created", s(rfc3339(r.created))),
                        ("updated", s(rfc3339(r.created))),
                        ("expires", time(r.expire)),
                    ])
                })
                .collect(),
        )
    });
    let access = show.map(|_| {
        let grants = crate::tools::secret_access(m, sec);
        serde_yaml::to_value(grants).unwrap_or(Y::Null)
    });
    map([
        ("revision", Y::Number(sec.latest.into())),
        (
            "expires",
            time(sec.revisions.get(&sec.latest).and_then(|r| r.expire)),
        ),
        (
            "rotation",
            sec.rotate.map(|r| s(r.name())).unwrap_or(Y::Null),
        ),
        ("rotates", time(sec.next_rotate)),
        ("owner", s(sec.owner.name())),
        ("description", opt(sec.description.as_deref().unwrap_or(""))),
        ("label", opt(sec.label.as_deref().unwrap_or(""))),
        ("created", s(rfc3339(sec.created))),
        ("updated", s(rfc3339(sec.updated))),
        ("content", content.unwrap_or(Y::Null)),
        ("revisions", revisions.unwrap_or(Y::Null)),
        (
            "access",
            access
                .filter(|a| a.as_sequence().is_some_and(|x| !x.is_empty()))
                .unwrap_or(Y::Null),
        ),
    ])
}

/// `secrets` as a table: ID, Name (`-` for charm secrets), Owner, Rotation, Revision
/// (right-aligned), Last updated; by owner, then newest revision first.
pub fn secrets_table(m: &Model, now: u64) -> String {
    let mut list: Vec<&Secret> = m.secrets.values().collect();
    list.sort_by(|a, b| {
        (a.owner.name(), std::cmp::Reverse(a.latest))
            .cmp(&(b.owner.name(), std::cmp::Reverse(b.latest)))
    });
    let mut rows = vec![vec![
        "ID".to_string(),
        "Name".into(),
        "Owner".into(),
        "Rotation".into(),
        "Revision".into(),
        "Last updated".into(),
    ]];
    for sec in list {
        rows.push(vec![
            sec.id.clone(),
            "-".into(),
            sec.owner.name().to_string(),
            sec.rotate.map(|r| r.name().to_string()).unwrap_or_default(),
            sec.latest.to_string(),
            friendly(sec.updated, now),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let pad = " ".repeat(widths[c] - cell.chars().count());
            if c == 4 {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
            if c + 1 < r.len() {
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Juju's user-friendly age: `just now`, `N minutes ago`, `HH:MM` today, else the date.
fn friendly(when: u64, now: u64) -> String {
    let since = now.saturating_sub(when);
    let (y, mo, d, h, mi, _) = crate::model::civil(when);
    if since >= 86400 {
        format!("{y}-{mo:02}-{d:02}")
    } else if since >= 3600 {
        format!("{h:02}:{mi:02}")
    } else if since >= 60 {
        let n = since / 60;
        format!("{n} minute{} ago", if n == 1 { "" } else { "s" })
    } else {
        "just now".into()
    }
}
