//! Model literals for unit tests: two applications and their relations, built in memory
//! (no model directory, no processes), and a pure settle that runs no charm.
use crate::charm::{CharmMeta, ConfigOption, EndpointMeta, OptionType, Role};
use crate::machines::{Machine, ModelNet};
use crate::model::{Application, MachinesKind, Model, RelEndpoint};
use crate::resolver::{begin, next_hook, normalize, Hook};
use crate::sched::{fire_due, Picker, Seed};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A charm with these `(endpoint, role, interface)` endpoints and no options.
pub fn charm(name: &str, endpoints: &[(&str, Role, &str)]) -> CharmMeta {
    CharmMeta {
        name: name.into(),
        endpoints: endpoints
            .iter()
            .map(|(ep, role, iface)| EndpointMeta {
                name: (*ep).into(),
                interface: (*iface).into(),
                role: *role,
                container_scope: false,
                implicit: false,
            })
            .collect(),
        extra_bindings: vec![],
        subordinate: false,
        options: BTreeMap::new(),
        actions: BTreeMap::new(),
        storage: BTreeMap::new(),
        bases: vec![crate::charm::Base::ubuntu("24.04")],
    }
}

/// An empty model at a made-up directory, with fixed names and times.
pub fn empty() -> Model {
    let net = ModelNet {
        tag: "fx0001".into(),
        dir: PathBuf::from("/nonexistent/jujusim-fixture"),
        subnet: [10, 70, 1],
    };
    Model::new(
        "fixture".into(),
        "00000000-0000-4000-a000-000000000000".into(),
        net,
        MachinesKind::Host,
    )
}

/// Add application `name` running `charm` (revision 1, no units).
pub fn add_app(m: &mut Model, name: &str, charm: CharmMeta) {
    let dir = PathBuf::from(format!("/nonexistent/charms/{name}/1"));
    let app = Application::new(name, dir, charm, BTreeMap::new(), Default::default());
    m.applications.insert(name.into(), app);
}

/// Add the next unit of `app` on a new machine (as `add-unit` does: in no scope yet, not
/// leader). Returns its name.
pub fn add_unit(m: &mut Model, app: &str) -> String {
    let id = m.next_machine;
    m.next_machine += 1;
    let machine = Machine {
        id,
        address: Ipv4Addr::new(10, 70, 1, 10 + id as u8),
        cidr: "10.70.1.0/24".into(),
        interface: "eth0".into(),
        mac: format!("02:00:00:00:00:{id:02x}"),
        init_pid: None,
        root: PathBuf::from(format!("/nonexistent/machines/{id}")),
    };
    m.add_unit(app, machine).expect("fixture app exists")
}

/// Add a relation between these `(app, endpoint)` ends (one end: a peer relation), nobody
/// in scope yet. Returns its id.
pub fn relate(m: &mut Model, ends: &[(&str, &str)]) -> u32 {
    let endpoints = ends
        .iter()
        .map(|(app, ep)| {
            let meta = m.applications[*app]
                .charm
                .endpoint(ep)
                .expect("fixture endpoint exists");
            RelEndpoint {
                app: (*app).into(),
                name: (*ep).into(),
                interface: meta.interface.clone(),
                role: meta.role,
            }
        })
        .collect();
    m.add_relation(endpoints)
}

/// Write `data` into `unit`'s bag of relation `id` (committed, version bumped).
pub fn set_unit_bag(m: &mut Model, id: u32, unit: &str, data: &[(&str, &str)]) {
    let data = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.relations
        .get_mut(&id)
        .expect("fixture relation exists")
        .unit_bags
        .entry(unit.into())
        .or_default()
        .apply(&data);
}

/// The usual world: `tiny` (peer `cluster`, provides `website`) with units tiny/0
/// (leader) and tiny/1, `web` (requires `site`) with web/0; relation 0 is tiny's peer
/// relation, relation 1 joins tiny:website and web:site; tiny has one option, `x` (int,
/// default 0). No unit has run a hook yet (so none is in a relation's scope).
pub fn two_apps() -> Model {
    let mut m = empty();
    add_app(
        &mut m,
        "tiny",
        charm(
            "tiny",
            &[
                ("cluster", Role::Peer, "tiny-peers"),
                ("website", Role::Provider, "http"),
            ],
        ),
    );
    if let Some(a) = m.applications.get_mut("tiny") {
        let x = ConfigOption {
            kind: OptionType::Int,
            default: Some(0.into()),
            description: String::new(),
        };
        a.charm.options.insert("x".into(), x);
    }
    add_app(
        &mut m,
        "web",
        charm("web", &[("site", Role::Requirer, "http")]),
    );
    relate(&mut m, &[("tiny", "cluster")]);
    relate(&mut m, &[("tiny", "website"), ("web", "site")]);
    add_unit(&mut m, "tiny");
    add_unit(&mut m, "tiny");
    add_unit(&mut m, "web");
    for (app, leader) in [("tiny", "tiny/0"), ("web", "web/0")] {
        if let Some(a) = m.applications.get_mut(app) {
            a.leader = Some(leader.into());
        }
    }
    m
}

/// Run every due hook as if each charm did nothing and exited 0 (what the engine's
/// settle does in ordered mode, minus the processes and the clock), until every unit is
/// idle. Panics past `bound` hooks.
pub fn settle(m: &mut Model) {
    let bound = 1000;
    let pick = Picker::new(Seed::Ordered);
    for _ in 0..bound {
        crate::engine::cleanup(m);
        fire_due(m, &pick);
        let units: Vec<String> = m.units.keys().cloned().collect();
        let mut ran = false;
        for u in units {
            normalize(m, &u);
            if let Some(h) = next_hook(m, &u) {
                run_ok(m, &u, &h);
                ran = true;
            }
        }
        if !ran {
            return;
        }
    }
    panic!("fixture model did not settle within {bound} rounds");
}

/// `unit` runs `hook` and it exits 0 having changed nothing: what the agent does before
/// (`resolver::begin`), then the commit.
pub fn run_ok(m: &mut Model, unit: &str, hook: &Hook) {
    begin(m, unit, hook);
    crate::engine::commit_hook(m, unit, hook, true, &[]);
}
