//! `show-unit`: one unit's machine, ports, leadership and the relation data it sees,
//! filtered as `--endpoint`, `--related-unit` and `--app` ask.
use super::super::args::ShowFilter;
use super::{address_of, map, non_empty, opt, ports_of, s};
use crate::model::{Life, Model, Relation};
use serde_yaml::{Mapping, Value as Y};
use std::collections::BTreeMap;

/// One unit's show-unit entry, None when there is no such unit.
pub fn show_unit_view(m: &Model, unit: &str, filter: &ShowFilter) -> Option<Y> {
    let u = m.units.get(unit)?;
    let a = m.applications.get(&u.app)?;
    let infos: Vec<Y> = m
        .relations_of(&u.app)
        .filter_map(|r| relation_info(m, unit, r, filter))
        .collect();
    let ports = ports_of(m, unit);
    Some(map([
        ("workload-version", opt(&a.workload_version)),
        ("machine", s(u.machine.to_string())),
        (
            "opened-ports",
            Y::Sequence(ports.into_iter().map(Y::String).collect()),
        ),
        ("public-address", opt(&address_of(m, unit))),
        ("charm", s(format!("local:{}-{}", a.charm.name, a.revision))),
        ("leader", Y::Bool(a.leader.as_deref() == Some(unit))),
        (
            "life",
            s(if u.life == Life::Alive {
                "alive"
            } else {
                "dying"
            }),
        ),
        (
            "relation-info",
            if infos.is_empty() {
                Y::Null
            } else {
                Y::Sequence(infos)
            },
        ),
    ]))
}

/// One `relation-info` entry: the related app's bag, each related unit's bag (and, on
/// a peer relation, the unit's own as `local-unit`). None when filtered out, or when
/// there is nothing to show and `--endpoint` did not ask for it (Juju omits those).
fn relation_info(m: &Model, unit: &str, r: &Relation, filter: &ShowFilter) -> Option<Y> {
    let app = crate::model::app_of(unit);
    let (local, remote) = (r.local_endpoint(app)?, r.remote_endpoint(app)?);
    if filter.endpoint.as_ref().is_some_and(|e| *e != local.name) {
        return None;
    }
    let shown =
        |name: &str| !filter.app_only && filter.related_unit.as_ref().is_none_or(|r| r == name);
    let mut related = Mapping::new();
    for ru in m.units_of(&remote.app) {
        if ru != unit && shown(&ru) && r.same_container(unit, &ru) {
            related.insert(s(ru.as_str()), unit_entry(r, &ru));
        }
    }
    let mine = (r.is_peer() && shown(unit)).then(|| unit_entry(r, unit));
    let app_bag = r.app_bags.get(&remote.app).map(|b| &b.data);
    let has_data = app_bag.is_some_and(|b| !b.is_empty()) || !related.is_empty() || mine.is_some();
    if !has_data && filter.endpoint.is_none() && !filter.app_only {
        return None;
    }
    let app_data = app_bag
        .map(bag)
        .unwrap_or_else(|| Y::Mapping(Mapping::new()));
    Some(map([
        ("relation-id", Y::Number(r.id.into())),
        ("endpoint", s(local.name.as_str())),
        ("related-endpoint", s(remote.name.as_str())),
        ("application-data", app_data),
        ("local-unit", mine.unwrap_or(Y::Null)),
        ("related-units", non_empty(related)),
    ]))
}

/// `in-scope` and, when in scope, the unit's bag.
fn unit_entry(r: &Relation, name: &str) -> Y {
    let in_scope = r.scope.contains(name);
    let data = match r.unit_bags.get(name) {
        Some(b) if in_scope => bag(&b.data),
        _ => Y::Mapping(Mapping::new()),
    };
    map([("in-scope", Y::Bool(in_scope)), ("data", data)])
}

fn bag(data: &BTreeMap<String, String>) -> Y {
    let mut m = Mapping::new();
    for (k, v) in data {
        m.insert(s(k.as_str()), s(v.as_str()));
    }
    Y::Mapping(m)
}
