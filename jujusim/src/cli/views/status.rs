//! `status --format yaml|json`: model, machines and applications with their units, in
//! Juju's key order.
use super::{
    address_of, app_status, base_map, machine_base, map, non_empty, opt, ports_of, s, shown_status,
    status_since,
};
use crate::engine::JUJU_VERSION;
use crate::model::{juju_time, Application, Model};
use serde_yaml::{Mapping, Value as Y};

/// The whole status as Juju's formatted status; `now` stamps the machines.
pub fn status_view(m: &Model, now: u64) -> Y {
    let mut apps = Mapping::new();
    for (name, a) in &m.applications {
        apps.insert(s(name.as_str()), application(m, name, a));
    }
    map([
        (
            "model",
            map([
                ("name", s(m.name.as_str())),
                ("type", s("iaas")),
                ("controller", s("jujusim")),
                ("cloud", s("localhost")),
                ("region", s("localhost")),
                ("version", s(JUJU_VERSION)),
                ("model-status", map([("current", s("available"))])),
                ("sla", s("unsupported")),
            ]),
        ),
        ("machines", Y::Mapping(machines(m, now))),
        ("applications", Y::Mapping(apps)),
    ])
}

fn machines(m: &Model, now: u64) -> Mapping {
    let mut out = Mapping::new();
    for (id, mc) in &m.machines {
        out.insert(
            s(id.to_string()),
            map([
                (
                    "juju-status",
                    map([
                        ("current", s("started")),
                        ("since", s(juju_time(now))),
                        ("version", s(JUJU_VERSION)),
                    ]),
                ),
                ("dns-name", s(mc.address.to_string())),
                ("ip-addresses", Y::Sequence(vec![s(mc.address.to_string())])),
                ("instance-id", s(format!("jujusim-{}-m{id}", m.net.tag))),
                (
                    "machine-status",
                    map([("current", s("running")), ("message", s("running"))]),
                ),
                ("base", base_map(&machine_base(m, *id))),
            ]),
        );
    }
    out
}

fn application(m: &Model, name: &str, a: &Application) -> Y {
    // Subordinate units are listed under their principal unit, not here.
    let mut units = Mapping::new();
    for u in m.units_of(name) {
        if let Some(entry) = unit(m, a, &u) {
            units.insert(s(u.as_str()), entry);
        }
    }
    let subordinate_to: Vec<Y> = principals_of(m, name).into_iter().map(Y::String).collect();
    map([
        ("charm", s(a.charm.name.as_str())),
        ("base", base_map(&a.base)),
        ("charm-origin", s("local")),
        ("charm-name", s(a.charm.name.as_str())),
        ("charm-rev", Y::Number(a.revision.into())),
        ("exposed", Y::Bool(false)),
        (
            "application-status",
            status_since(&app_status(m, name), true),
        ),
        ("relations", non_empty(relations(m, name))),
        (
            "subordinate-to",
            if subordinate_to.is_empty() {
                Y::Null
            } else {
                Y::Sequence(subordinate_to)
            },
        ),
        ("units", non_empty(units)),
        ("version", opt(&a.workload_version)),
    ])
}

fn unit(m: &Model, a: &Application, name: &str) -> Option<Y> {
    let unit = m.units.get(name)?;
    if unit.principal.is_some() {
        return None;
    }
    Some(unit_entry(m, a, name))
}

/// A unit's entry: a principal's lists its subordinates, a subordinate's has no machine.
fn unit_entry(m: &Model, a: &Application, name: &str) -> Y {
    let Some(unit) = m.units.get(name) else {
        return Y::Null;
    };
    let (w, ag) = shown_status(m, name);
    let ports = ports_of(m, name);
    let mut subs = Mapping::new();
    for sub in m.subordinates_of(name) {
        if let Some(sa) = m.applications.get(crate::model::app_of(&sub)) {
            subs.insert(s(sub.as_str()), unit_entry(m, sa, &sub));
        }
    }
    map([
        ("workload-status", status_since(&w, true)),
        (
            "juju-status",
            map([
                ("current", s(ag.status.as_str())),
                ("message", opt(&ag.message)),
                ("since", s(juju_time(ag.since))),
                ("version", s(JUJU_VERSION)),
            ]),
        ),
        (
            "leader",
            if a.leader.as_deref() == Some(name) {
                Y::Bool(true)
            } else {
                Y::Null
            },
        ),
        (
            "machine",
            if unit.principal.is_some() {
                Y::Null
            } else {
                s(unit.machine.to_string())
            },
        ),
        (
            "open-ports",
            if ports.is_empty() {
                Y::Null
            } else {
                Y::Sequence(ports.into_iter().map(Y::String).collect())
            },
        ),
        ("public-address", opt(&address_of(m, name))),
        ("subordinates", non_empty(subs)),
    ])
}

/// The principal applications a subordinate application is related to in container
/// scope (`subordinate-to`), sorted.
pub(super) fn principals_of(m: &Model, app: &str) -> Vec<String> {
    let mut out: Vec<String> = m
        .relations
        .keys()
        .filter_map(|id| m.container_pair(*id))
        .filter(|(sub, _)| sub == app)
        .map(|(_, principal)| principal)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Endpoint -> the applications related on it.
fn relations(m: &Model, app: &str) -> Mapping {
    let mut rels = Mapping::new();
    for r in m.relations_of(app) {
        let (Some(local), Some(remote)) = (r.local_endpoint(app), r.remote_endpoint(app)) else {
            continue;
        };
        let entry = rels
            .entry(s(local.name.as_str()))
            .or_insert_with(|| Y::Sequence(vec![]));
        if let Y::Sequence(list) = entry {
            list.push(map([
                ("related-application", s(remote.app.as_str())),
                ("interface", s(local.interface.as_str())),
                ("scope", s(if r.container { "container" } else { "global" })),
            ]));
        }
    }
    rels
}
