//! Model literals for unit tests: two applications and their relations, built in memory
//! (no model directory, no processes), and a pure settle that runs no charm.
use crate::charm::{CharmMeta, ConfigOption, EndpointMeta, OptionType, Role};
use crate::machines::{Machine, ModelNet};
use crate::model::{
    Application, Bag, Life, MachinesKind, Model, RelEndpoint, Relation, Seen, StatusInfo, Unit,
};
use crate::resolver::{next_hook, normalize};
use std::collections::{BTreeMap, BTreeSet};
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
            })
            .collect(),
        extra_bindings: vec![],
        subordinate: false,
        options: BTreeMap::new(),
        actions: BTreeMap::new(),
    }
}

/// An empty model at a made-up directory, with fixed names and times.
pub fn empty() -> Model {
    let net = ModelNet {
        tag: "fx0001".into(),
        dir: PathBuf::from("/nonexistent/jujusim-fixture"),
        subnet: [10, 70, 1],
    };
    Model {
        name: "fixture".into(),
        uuid: "00000000-0000-4000-a000-000000000000".into(),
        net,
        machines_kind: MachinesKind::Host,
        next_machine: 0,
        next_relation: 0,
        next_task: 1,
        machines: BTreeMap::new(),
        applications: BTreeMap::new(),
        units: BTreeMap::new(),
        relations: BTreeMap::new(),
        tasks: BTreeMap::new(),
    }
}

/// Add application `name` running `charm` (revision 1, no units).
pub fn add_app(m: &mut Model, name: &str, charm: CharmMeta) {
    m.applications.insert(
        name.into(),
        Application {
            name: name.into(),
            charm_dir: PathBuf::from(format!("/nonexistent/charms/{name}/1")),
            revision: 1,
            charm,
            config: BTreeMap::new(),
            next_unit: 0,
            leader: None,
            leader_settings: Bag::default(),
            status: None,
            workload_version: String::new(),
        },
    );
}

/// Add the next unit of `app` on a new machine, in scope of the app's live relations
/// (as `add-unit` does); the first unit becomes leader. Returns its name.
pub fn add_unit(m: &mut Model, app: &str) -> String {
    let machine = m.next_machine;
    m.next_machine += 1;
    m.machines.insert(
        machine,
        Machine {
            id: machine,
            address: Ipv4Addr::new(10, 70, 1, 10 + machine as u8),
            cidr: "10.70.1.0/24".into(),
            interface: "eth0".into(),
            mac: format!("02:00:00:00:00:{machine:02x}"),
            init_pid: None,
            root: PathBuf::from(format!("/nonexistent/machines/{machine}")),
        },
    );
    let a = m.applications.get_mut(app).expect("fixture app exists");
    let name = format!("{app}/{}", a.next_unit);
    a.next_unit += 1;
    if a.leader.is_none() {
        a.leader = Some(name.clone());
    }
    let since = StatusInfo {
        status: "waiting".into(),
        message: "waiting for machine".into(),
        since: 0,
    };
    m.units.insert(
        name.clone(),
        Unit {
            name: name.clone(),
            app: app.into(),
            machine,
            life: Life::Alive,
            workload: since.clone(),
            status_set_by_charm: false,
            history: vec![],
            agent: StatusInfo {
                status: "allocating".into(),
                message: String::new(),
                since: 0,
            },
            error: None,
            retry: None,
            ports: BTreeSet::new(),
            state: BTreeMap::new(),
            seen: Seen {
                charm_revision: 1,
                ..Seen::default()
            },
        },
    );
    let live: Vec<u32> = m
        .relations_of(app)
        .filter(|r| r.life == Life::Alive)
        .map(|r| r.id)
        .collect();
    for id in live {
        enter(m, id, &name);
    }
    name
}

/// Add a relation between these `(app, endpoint)` ends (one end: a peer relation), with
/// every live unit of both apps in scope. Returns its id.
pub fn relate(m: &mut Model, ends: &[(&str, &str)]) -> u32 {
    let id = m.next_relation;
    m.next_relation += 1;
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
    m.relations.insert(
        id,
        Relation {
            id,
            endpoints,
            app_bags: BTreeMap::new(),
            unit_bags: BTreeMap::new(),
            scope: BTreeSet::new(),
            life: Life::Alive,
        },
    );
    let units: Vec<String> = ends.iter().flat_map(|(app, _)| m.units_of(app)).collect();
    for u in units {
        enter(m, id, &u);
    }
    id
}

fn enter(m: &mut Model, id: u32, unit: &str) {
    if let Some(r) = m.relations.get_mut(&id) {
        r.scope.insert(unit.into());
    }
    m.refresh_address_keys(unit);
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
/// default 0). No unit has run a hook yet.
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
    m
}

/// Run every due hook as if each charm did nothing and exited 0 (what the engine's
/// settle does, minus the processes), until every unit is idle. Panics past `bound` hooks.
pub fn settle(m: &mut Model) {
    let bound = 1000;
    for _ in 0..bound {
        crate::engine::cleanup(m);
        let units: Vec<String> = m.units.keys().cloned().collect();
        let mut ran = false;
        for u in units {
            normalize(m, &u);
            if let Some(h) = next_hook(m, &u) {
                crate::engine::commit_hook(m, &u, &h, true, &[]);
                ran = true;
            }
        }
        if !ran {
            return;
        }
    }
    panic!("fixture model did not settle within {bound} rounds");
}
