//! `show-status-log UNIT`: the unit's workload and agent statuses over time, oldest
//! first, as `juju show-status-log` prints them (tabular `Time Type Status Message`, or
//! a list of `{status, message, since, type}`).
use super::{map, opt, s};
use crate::model::{juju_time, rfc3339, StatusEntry, StatusKind, Unit};
use serde_yaml::Value as Y;

/// The last `lines` entries of `unit`'s log, of `kind` only when given.
pub fn status_log(unit: &Unit, lines: usize, kind: Option<StatusKind>) -> Vec<&StatusEntry> {
    let all: Vec<&StatusEntry> = unit
        .history
        .iter()
        .filter(|e| kind.is_none_or(|k| e.kind == k))
        .collect();
    let start = all.len().saturating_sub(lines);
    all[start..].to_vec()
}

/// The tabular form.
pub fn status_log_table(entries: &[&StatusEntry]) -> String {
    let mut rows = vec![vec![
        "Time".to_string(),
        "Type".into(),
        "Status".into(),
        "Message".into(),
    ]];
    for e in entries {
        rows.push(vec![
            juju_time(e.info.since),
            e.kind.name().into(),
            e.info.status.clone(),
            e.info.message.clone(),
        ]);
    }
    super::tabular::table(&rows)
}

/// The YAML/JSON form.
pub fn status_log_view(entries: &[&StatusEntry]) -> Y {
    Y::Sequence(
        entries
            .iter()
            .map(|e| {
                map([
                    ("status", s(e.info.status.as_str())),
                    ("message", opt(&e.info.message)),
                    ("since", s(rfc3339(e.info.since))),
                    ("type", s(e.kind.name())),
                ])
            })
            .collect(),
    )
}
