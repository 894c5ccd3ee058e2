//! `status` as Juju's tabular output: the model line, then apps, units, machines and
//! (with `--relations`) integrations, each a table of left-aligned columns.
use super::{address_of, app_status, machine_base, ports_of, shown_status};
use crate::engine::JUJU_VERSION;
use crate::model::{civil, Life, Model, RelEndpoint};

/// The tabular status; `now` is the model line's timestamp.
pub fn status_table(m: &Model, relations: bool, now: u64) -> String {
    let (_, _, _, h, mi, sec) = civil(now);
    let mut out = table(&[
        row(&[
            "Model",
            "Controller",
            "Cloud/Region",
            "Version",
            "SLA",
            "Timestamp",
        ]),
        vec![
            m.name.clone(),
            "jujusim".into(),
            "localhost/localhost".into(),
            JUJU_VERSION.into(),
            "unsupported".into(),
            format!("{h:02}:{mi:02}:{sec:02}Z"),
        ],
    ]);
    let sections = [
        (!m.applications.is_empty()).then(|| apps(m)),
        (!m.applications.is_empty()).then(|| units(m)),
        (!m.machines.is_empty()).then(|| machines(m)),
        (relations && !m.relations.is_empty()).then(|| integrations(m)),
    ];
    for rows in sections.into_iter().flatten() {
        out.push('\n');
        out.push_str(&table(&rows));
    }
    out
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn apps(m: &Model) -> Vec<Vec<String>> {
    let mut rows = vec![row(&[
        "App", "Version", "Status", "Scale", "Charm", "Channel", "Rev", "Exposed", "Message",
    ])];
    for (name, a) in &m.applications {
        let st = app_status(m, name);
        rows.push(vec![
            name.clone(),
            a.workload_version.clone(),
            st.status,
            m.units_of(name).len().to_string(),
            a.charm.name.clone(),
            String::new(),
            a.revision.to_string(),
            "no".into(),
            st.message,
        ]);
    }
    rows
}

fn units(m: &Model) -> Vec<Vec<String>> {
    let mut rows = vec![row(&[
        "Unit",
        "Workload",
        "Agent",
        "Machine",
        "Public address",
        "Ports",
        "Message",
    ])];
    for name in m.applications.keys() {
        for u in m.units_of(name) {
            if m.units.get(&u).is_some_and(|x| x.principal.is_none()) {
                unit_rows(m, &u, 0, &mut rows);
            }
        }
    }
    rows
}

/// `unit`'s row, then its subordinates' indented two spaces per level under it.
fn unit_rows(m: &Model, u: &str, level: usize, rows: &mut Vec<Vec<String>>) {
    let Some(a) = m.applications.get(crate::model::app_of(u)) else {
        return;
    };
    let (w, ag) = shown_status(m, u);
    let star = if a.leader.as_deref() == Some(u) {
        "*"
    } else {
        ""
    };
    // While a hook or action runs, Juju prefixes the message with what runs.
    let msg = if ag.status == "executing" {
        let what = ag
            .message
            .trim_start_matches("running ")
            .trim_end_matches(" hook")
            .trim_start_matches("action ");
        format!("({what}) {}", w.message).trim_end().to_string()
    } else {
        w.message.clone()
    };
    // Subordinates show no machine: they run on their principal's.
    let machine = m
        .units
        .get(u)
        .filter(|x| x.principal.is_none())
        .map(|x| x.machine.to_string())
        .unwrap_or_default();
    rows.push(vec![
        format!("{}{u}{star}", "  ".repeat(level)),
        w.status,
        ag.status,
        machine,
        address_of(m, u),
        ports_of(m, u).join(","),
        msg,
    ]);
    for sub in m.subordinates_of(u) {
        unit_rows(m, &sub, level + 1, rows);
    }
}

fn machines(m: &Model) -> Vec<Vec<String>> {
    let mut rows = vec![row(&[
        "Machine", "State", "Address", "Inst id", "Base", "AZ", "Message",
    ])];
    for (id, mc) in &m.machines {
        rows.push(vec![
            id.to_string(),
            "started".into(),
            mc.address.to_string(),
            format!("jujusim-{}-m{id}", m.net.tag),
            machine_base(m, *id).to_string(),
            String::new(),
            "running".into(),
        ]);
    }
    rows
}

fn integrations(m: &Model) -> Vec<Vec<String>> {
    let mut rows = vec![row(&[
        "Integration provider",
        "Requirer",
        "Interface",
        "Type",
        "Message",
    ])];
    let ep = |e: &RelEndpoint| format!("{}:{}", e.app, e.name);
    for r in m.relations.values() {
        // A peer relation has one endpoint, shown on both sides.
        let Some(provider) = r.endpoints.first() else {
            continue;
        };
        let requirer = r.endpoints.get(1).unwrap_or(provider);
        let kind = if r.is_peer() {
            "peer"
        } else if r.container {
            "subordinate"
        } else {
            "regular"
        };
        let msg = if r.life == Life::Dying {
            "removing"
        } else {
            ""
        };
        rows.push(vec![
            ep(provider),
            ep(requirer),
            provider.interface.clone(),
            kind.into(),
            msg.into(),
        ]);
    }
    rows
}

/// Left-aligned columns separated by two spaces, trailing blanks trimmed.
pub(super) fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map(|x| x.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < r.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
