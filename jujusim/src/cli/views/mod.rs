//! Views: the model rendered as Juju's CLI prints it. Each is a pure function (the model
//! and the time in, a YAML value or text out); the commands print what they return.
//! YAML maps keep insertion order, as Juju emits keys in struct order.
mod config;
mod history;
mod secret;
mod status;
mod tabular;
mod task;
mod unit;

pub use config::config_view;
pub use history::{status_log, status_log_table, status_log_view};
pub use secret::{find_secret, secrets_table, secrets_view, SecretShow};
pub use status::status_view;
pub use tabular::status_table;
pub use task::{plain_task, task_log_lines, task_view};
pub use unit::show_unit_view;

#[cfg(test)]
mod tests;

use super::args::OutFormat;
use crate::charm::Base;
use crate::model::{juju_time, Model, StatusInfo};
use serde_yaml::{Mapping, Value as Y};

/// `v` as `--format` asks: JSON on one line, else go-yaml-quoted YAML.
pub fn render(v: &Y, f: OutFormat) -> Result<String, super::CliError> {
    Ok(match f {
        OutFormat::Json => format!("{}\n", serde_json::to_value(v)?),
        _ => crate::yaml::to_string(v)?,
    })
}

/// An insertion-ordered YAML map; `Null` values are left out (Juju's `omitempty`).
fn map<const N: usize>(pairs: [(&str, Y); N]) -> Y {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        if !matches!(&v, Y::Null) {
            m.insert(Y::String(k.to_string()), v);
        }
    }
    Y::Mapping(m)
}

fn s(v: impl Into<String>) -> Y {
    Y::String(v.into())
}

/// A string, or `Null` (left out of maps) when empty.
fn opt(v: &str) -> Y {
    if v.is_empty() {
        Y::Null
    } else {
        s(v)
    }
}

/// A mapping, or `Null` (left out of maps) when empty.
fn non_empty(m: Mapping) -> Y {
    if m.is_empty() {
        Y::Null
    } else {
        Y::Mapping(m)
    }
}

fn j2y(v: &serde_json::Value) -> Y {
    serde_yaml::to_value(v).unwrap_or(Y::Null)
}

/// `current`, `message` (when asked and not empty), `since`.
fn status_since(st: &StatusInfo, with_message: bool) -> Y {
    map([
        ("current", s(st.status.as_str())),
        (
            "message",
            if with_message {
                opt(&st.message)
            } else {
                Y::Null
            },
        ),
        ("since", s(juju_time(st.since))),
    ])
}

/// (workload, agent) as juju status shows them (hook errors show on the workload).
fn shown_status(m: &Model, unit: &str) -> (StatusInfo, StatusInfo) {
    let Some(u) = m.units.get(unit) else {
        return (StatusInfo::now("unknown", ""), StatusInfo::now("lost", ""));
    };
    match &u.error {
        Some(e) => (
            StatusInfo {
                status: "error".into(),
                message: e.message.clone(),
                since: u.agent.since,
            },
            StatusInfo {
                status: "idle".into(),
                message: String::new(),
                since: u.agent.since,
            },
        ),
        None => (u.workload.clone(), u.agent.clone()),
    }
}

/// The status the charm set for its application, else its units' most severe one.
fn app_status(m: &Model, app: &str) -> StatusInfo {
    if let Some(st) = m.applications.get(app).and_then(|a| a.status.clone()) {
        return st;
    }
    let rank = |s: &str| match s {
        "error" => 6,
        "blocked" => 5,
        "maintenance" => 4,
        "waiting" => 3,
        "active" => 2,
        _ => 1,
    };
    m.units_of(app)
        .iter()
        .map(|u| shown_status(m, u).0)
        .max_by_key(|st| rank(&st.status))
        .unwrap_or_else(|| StatusInfo::now("unknown", ""))
}

/// The unit's opened ports, sorted and unique (`80/tcp`).
fn ports_of(m: &Model, unit: &str) -> Vec<String> {
    let mut p: Vec<_> = m
        .units
        .get(unit)
        .map(|u| u.ports.iter().map(|o| o.range.clone()).collect())
        .unwrap_or_default();
    p.sort();
    p.dedup();
    p.iter().map(|r| r.to_string()).collect()
}

/// The base of machine `id`: its unit's application's (chosen at deploy).
fn machine_base(m: &Model, id: u32) -> Base {
    m.units
        .values()
        .find(|u| u.machine == id)
        .and_then(|u| m.applications.get(&u.app))
        .map(|a| a.base.clone())
        .unwrap_or_default()
}

/// `base: {name, channel}` as status prints it.
fn base_map(b: &Base) -> Y {
    map([
        ("name", s(b.name.as_str())),
        ("channel", s(b.channel.as_str())),
    ])
}

/// The unit's machine address, or empty.
fn address_of(m: &Model, unit: &str) -> String {
    m.machine_of(unit)
        .map(|mc| mc.address.to_string())
        .unwrap_or_default()
}
