//! Table tests of the pure decision: a `View` literal in, the `Plan` out, no processes and
//! no fakes. Also the two properties every hook must have, asserted on plans: running an
//! event twice changes nothing the second time, and 100 no-op events plan nothing.
//!
//! [`World::after`] is the test's model of applying a plan: it turns a view and its plan
//! into the view the next hook would read (files written, bags set, ports opened, the
//! service started, the state saved), so a property can chain plans without processes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use charm::charm::actions::action_registry;
use charm::charm::local::{self, LocalState};
use charm::charm::model::{ModelView, RelationView};
use charm::charm::plan::{self, paths_to_read};
use charm::charm::record::Recorded;
use charm::charm::secret::{SecretStep, Shared, SharedView, Unusable};
use charm::charm::steps::{FileStep, Plan, ServiceStep, Step, Then};
use charm::charm::switch::Legacy;
use charm::charm::view::{Entry, Fresh, MachineView, Observed, View};
use charm::charm::{auto_tls, mtls};
use charm::config::CharmConfig;
use charm::juju::{Databag, Event, Port, PortRange, RelationId, Status, StatusKind};
use charm::relations::peer::HttpSecret;
use charm::render::{CONFIG_PATH, HTPASSWD_PATH};
use charm::tls::auto::{make_ca, AutoCa};
use charm::workload::files::FileSpec;
use charm::workload::legacy::{ContainerName, ContainerState};
use charm::workload::service::{ServiceCall, ServiceStatus};
use charm::workload::users::Account;
use serde_json::{json, Value};

const ADDR: &str = "10.1.0.5";
const BINARY: &str = "/usr/bin/docker-registry";
const PROGRAM: &str = "/var/lib/juju/agents/unit-docker-registry-0/charm/dispatch";
const SECRET: &str = "c2VjcmV0LXNoYXJlZC1ieS10aGUtbGVhZGVyLTEyMzQ1Ng==";
/// The URI of the charm's Juju secret in these views.
const URI: &str = "secret://6f1c7c4e-0000-4000-8000-000000000001/cjc0ljh7n7b0s5h4q6b0";
const OWNER: (u32, u32) = (901, 902);
const READY: &str = "Ready at 10.1.0.5:5000 (http).";

fn bag(pairs: &[(&str, &str)]) -> Databag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn relation(id: &str, units: &[(&str, Databag)]) -> RelationView {
    RelationView {
        id: id.parse().unwrap(),
        ours: Databag::new(),
        units: units
            .iter()
            .map(|(u, b)| (u.parse().unwrap(), b.clone()))
            .collect(),
        app: Databag::new(),
    }
}

/// The leader `docker-registry/0` with its secret shared, config as given, nothing else.
fn model(config: Value) -> ModelView {
    let map = config.as_object().cloned().unwrap_or_default();
    let mut peer = relation("peer:0", &[]);
    peer.app = bag(&[("shared-secret", URI)]);
    ModelView {
        unit: "docker-registry/0".parse().unwrap(),
        leader: true,
        config: CharmConfig::from_json_with_tls(&map, SystemTime::now()),
        address: Some(ADDR.parse().unwrap()),
        bind_addresses: vec![ADDR.parse().unwrap()],
        public_address: None,
        shared: shared(SECRET),
        peer: Some(peer),
        website: Vec::new(),
        clients: Vec::new(),
        cert_provider: None,
        nrpe: Vec::new(),
        cos_agent: Vec::new(),
        model_name: "lab".into(),
        model_uuid: "00000000-0000-4000-8000-000000000000".into(),
        opened_ports: Vec::new(),
        now: SystemTime::now(),
        options: map
            .iter()
            .map(|(k, v)| (k.clone(), local::sha256(v.to_string().as_bytes())))
            .collect(),
        config_digest: local::sha256(Value::Object(map).to_string().as_bytes()),
        registry_name: "registry".into(),
    }
}

/// The charm's Juju secret holding `http_secret`, as the view reads it.
fn shared(http_secret: &str) -> SharedView {
    stored(Shared {
        http_secret: HttpSecret::new(http_secret).unwrap(),
        tls_auto_ca_key: None,
    })
}

/// The charm's Juju secret holding `content`, as the view reads it.
fn stored(content: Shared) -> SharedView {
    SharedView {
        juju: Some((URI.parse().unwrap(), Ok(content))),
        legacy: None,
    }
}

/// What the machine holds, observed at exactly the paths the plan decides from.
fn machine(model: &ModelView, local: &LocalState, on_disk: &Observed) -> MachineView {
    let mut files = Observed::new();
    for path in paths_to_read(model, local) {
        let entry = on_disk.get(&path).cloned().flatten();
        files.insert(path, entry);
    }
    MachineView {
        binary: Some(BINARY.into()),
        version: None,
        account: Some(Account {
            uid: OWNER.0,
            gid: OWNER.1,
            groups: vec![OWNER.1],
        }),
        hostname: "reg-host-0".into(),
        service: ServiceStatus::Stopped,
        metrics: ServiceStatus::Stopped,
        program: PROGRAM.into(),
        files,
        legacy: Legacy::NotDue,
        upstream: None,
    }
}

/// A unit with nothing on its machine yet.
fn fresh(event: Event, config: Value) -> View {
    let model = model(config);
    let local = LocalState::default();
    View {
        event,
        machine: machine(&model, &local, &Observed::new()),
        model,
        local,
        fresh: Fresh::default(),
    }
}

/// The test's model of Juju and the machine: a view and the plan applied to it.
struct World {
    view: View,
    disk: Observed,
}

impl World {
    /// The world of `view`; the first plan gets a bcrypt salt should it need one.
    fn new(mut view: View) -> Self {
        view.fresh.htpasswd_salt = Some([3; 16]);
        let disk = view.machine.files.clone();
        World { view, disk }
    }

    /// Plans the view's event, applies the plan to the world and returns the plan.
    fn run(&mut self, event: Event) -> Plan {
        self.view.event = event;
        // The view draws tls-auto's and the client certificate's keys and certificates
        // where it sees them needed.
        let v = &mut self.view;
        auto_tls::draw(&v.model, &v.machine, &mut v.fresh).unwrap();
        mtls::draw(&v.model, &v.machine, &v.local, &mut v.fresh).unwrap();
        let plan = plan::plan(&self.view).unwrap_or_else(|e| panic!("no plan: {e}"));
        self.after(&plan);
        plan
    }

    /// The view the next hook reads once `plan` is applied (the probe answers).
    fn after(&mut self, plan: &Plan) {
        for step in &plan.steps {
            self.apply(step);
        }
        let mut local = plan.local.clone().expect("the plan keeps the state");
        if let Some(status) = plan.expected_status() {
            local.status = Some(status);
        }
        let (service, metrics) = (
            self.view.machine.service.clone(),
            self.view.machine.metrics.clone(),
        );
        self.view.machine = machine(&self.view.model, &local, &self.disk);
        self.view.machine.service = service;
        self.view.machine.metrics = metrics;
        self.view.local = local;
        self.view.fresh = Fresh::default();
    }

    fn apply(&mut self, step: &Step) {
        match step {
            Step::File(FileStep::Write {
                path,
                contents,
                spec,
            }) => {
                let owner = spec.owner.unwrap_or((0, 0));
                let entry = Entry::file(&contents.0, spec.mode, owner);
                self.disk.insert(path.clone(), Some(entry));
            }
            Step::File(FileStep::Remove { path }) => {
                self.disk.insert(path.clone(), None);
            }
            Step::File(FileStep::EnsureDir { path, mode, owner }) => {
                let entry = Entry::dir(*mode, owner.unwrap_or((0, 0)));
                self.disk.insert(path.clone(), Some(entry));
            }
            Step::File(FileStep::ChownTree { path, owner }) => {
                for (p, e) in self.disk.iter_mut() {
                    if let (true, Some(e)) = (p.starts_with(path), e.as_mut()) {
                        (e.meta.uid, e.meta.gid) = *owner;
                    }
                }
            }
            Step::Service(ServiceStep { call, .. }) => {
                self.view.machine.service = match call {
                    ServiceCall::Stop => ServiceStatus::Stopped,
                    _ => ServiceStatus::Running { pid: 4242 },
                };
            }
            Step::Metrics(m) => {
                self.view.machine.metrics = match m.call {
                    ServiceCall::Stop => ServiceStatus::Stopped,
                    _ => ServiceStatus::Running { pid: 4343 },
                };
            }
            Step::OpenPort(p) => self.view.model.opened_ports.push(PortRange::from(*p)),
            Step::ClosePort(p) => {
                let gone = PortRange::from(*p);
                self.view.model.opened_ports.retain(|r| *r != gone);
            }
            Step::Relation(w) => self.set_bag(w),
            // Juju names the secret; the URI goes into the peer app bag with it.
            Step::Secret(SecretStep::Add { content, peer, .. }) => {
                self.view.model.shared = stored(content.clone());
                let write = charm::charm::steps::RelationWrite {
                    relation: peer.clone(),
                    app: true,
                    data: bag(&[("shared-secret", URI), ("http-secret", "")]),
                };
                self.set_bag(&write);
            }
            Step::Secret(SecretStep::Set { content, .. }) => {
                self.view.model.shared = stored(content.clone());
            }
            Step::Secret(SecretStep::RemoveRevision { .. }) => {}
            Step::Install | Step::RetireLegacy(_) => self.view.machine.legacy = Legacy::NotDue,
            Step::Status(_) | Step::AppVersion(_) | Step::SaveState(_) | Step::Log(_) => {}
        }
    }

    fn set_bag(&mut self, w: &charm::charm::steps::RelationWrite) {
        // Issue 17 item 8: no relation write, in any test that runs a world, carries a
        // private key (the tls-auto CA key lives in the Juju secret).
        assert!(
            w.data.values().all(|v| !v.contains("PRIVATE KEY")),
            "a private key in a write to {}: keys {:?}",
            w.relation,
            w.data.keys().collect::<Vec<_>>()
        );
        let m = &mut self.view.model;
        let rels = m
            .peer
            .iter_mut()
            .chain(m.website.iter_mut())
            .chain(m.clients.iter_mut())
            .chain(m.cert_provider.iter_mut())
            .chain(m.nrpe.iter_mut());
        for rel in rels.filter(|r| r.id == w.relation) {
            let target = if w.app { &mut rel.app } else { &mut rel.ours };
            for (k, v) in &w.data {
                if v.is_empty() {
                    target.remove(k);
                } else {
                    target.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

/// Only the steps that change something (not log lines).
fn effects(plan: &Plan) -> Vec<&Step> {
    plan.steps
        .iter()
        .filter(|s| !matches!(s, Step::Log(_)))
        .collect()
}

fn service_calls(plan: &Plan) -> Vec<ServiceCall> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::Service(s) => Some(s.call),
            _ => None,
        })
        .collect()
}

fn written(plan: &Plan) -> Vec<PathBuf> {
    plan.files()
        .into_iter()
        .filter(|f| matches!(f, FileStep::Write { .. }))
        .map(|f| f.path().to_path_buf())
        .collect()
}

// ---- the properties ------------------------------------------------------------------

/// A unit in each situation worth having: deployed as it comes, with basic auth, with
/// TLS from the config, with token auth and metrics, with clients, haproxy and nrpe.
fn situations() -> Vec<(&'static str, View)> {
    let mut related = fresh(Event::ConfigChanged, json!({}));
    related.model.clients = vec![relation(
        "docker-registry:3",
        &[("containerd/0", bag(&[("private-address", "10.1.0.50")]))],
    )];
    related.model.website = vec![relation(
        "website:4",
        &[("haproxy/0", bag(&[("private-address", "10.1.0.100")]))],
    )];
    related.model.nrpe = vec![relation(
        "nrpe-external-master:5",
        &[("nrpe/0", bag(&[("nagios_hostname", "juju-reg-0")]))],
    )];
    related.machine = machine(&related.model, &related.local, &Observed::new());
    let (cert, key, ca) = certificate();
    vec![
        ("defaults", fresh(Event::Install, json!({}))),
        (
            "basic auth",
            fresh(
                Event::ConfigChanged,
                json!({"auth-basic-user": "admin", "auth-basic-password": "pw"}),
            ),
        ),
        (
            "tls blobs",
            fresh(Event::ConfigChanged, tls_blobs(&cert, &key, &ca, json!({}))),
        ),
        (
            "token auth and metrics",
            fresh(
                Event::ConfigChanged,
                json!({"auth-token-issuer": "i", "auth-token-realm": "https://a/t",
                       "auth-token-service": "s", "auth-token-root-certs": b64(&ca),
                       "prometheus-metrics": true}),
            ),
        ),
        ("clients, haproxy and nrpe", related),
        (
            // The client CA and this unit's own client certificate (made once).
            "tls blobs and tls-client-ca",
            fresh(
                Event::ConfigChanged,
                tls_blobs(&cert, &key, &ca, json!({"tls-client-ca": b64(&ca)})),
            ),
        ),
        (
            "tls-auto",
            fresh(Event::ConfigChanged, json!({"tls-auto": true})),
        ),
        ("tls-auto, its CA key in the peer bag", {
            let mut view = fresh(Event::UpgradeCharm, json!({"tls-auto": true}));
            ca_in_the_bag(&mut view);
            view
        }),
    ]
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The three `tls-*-blob` options for this certificate, key and CA, plus `extra`.
fn tls_blobs(cert: &str, key: &str, ca: &str, extra: Value) -> Value {
    let mut options =
        json!({"tls-ca-blob": b64(ca), "tls-cert-blob": b64(cert), "tls-key-blob": b64(key)});
    if let (Some(o), Some(e)) = (options.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    options
}

/// A CA, and a certificate for [`ADDR`] it signed, with its key: (cert, key, ca).
fn certificate() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![ADDR.to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (cert.pem(), key.serialize_pem(), ca_cert.pem())
}

/// Running an event twice changes nothing the second time: no write, no restart, no
/// relation-set, no port, no status-set, nothing new to remember.
#[test]
fn the_second_run_of_any_event_plans_nothing() {
    for (name, view) in situations() {
        let mut world = World::new(view);
        let event = world.view.event.clone();
        let first = world.run(event.clone());
        assert!(
            !effects(&first).is_empty(),
            "{name}: the first run does something"
        );
        let before = world.view.local.clone();
        let second = world.run(event);
        assert!(
            second.changes_nothing(&before),
            "{name}: the second run plans {:#?}",
            effects(&second)
        );
    }
}

/// The benchmark's idempotence, on plans: 100 alternating update-status and
/// config-changed events after a deployment plan nothing at all.
#[test]
fn a_hundred_noop_events_plan_nothing() {
    for (name, view) in situations() {
        let mut world = World::new(view);
        for event in [Event::Install, Event::ConfigChanged, Event::Start] {
            world.run(event);
        }
        for i in 0..100 {
            let event = if i % 2 == 0 {
                Event::UpdateStatus
            } else {
                Event::ConfigChanged
            };
            let before = world.view.local.clone();
            let plan = world.run(event);
            assert!(
                plan.changes_nothing(&before),
                "{name}, event {i}: {:#?}",
                effects(&plan)
            );
        }
    }
}

// ---- table tests -----------------------------------------------------------------------

/// A deployed unit (the registry running what the plan wants) with this config.
fn serving(config: Value) -> World {
    let mut world = World::new(fresh(Event::Install, config));
    world.run(Event::Install);
    world
}

#[test]
fn a_fresh_unit_writes_its_config_starts_once_opens_its_port_and_waits_for_the_probe() {
    let view = fresh(Event::Install, json!({}));
    let plan = plan::plan(&view).unwrap();
    assert_eq!(service_calls(&plan), [ServiceCall::Start]);
    assert_eq!(written(&plan), [PathBuf::from(CONFIG_PATH)]);
    let config_yml = plan.files().into_iter().find_map(|f| match f {
        FileStep::Write { spec, .. } => Some(*spec),
        _ => None,
    });
    assert_eq!(
        config_yml,
        Some(FileSpec::mode(0o640).owned_by((0, OWNER.1)))
    );
    assert!(plan.steps.contains(&Step::OpenPort(Port::tcp(5000))));
    assert_eq!(plan.statuses, []);
    let probe = plan.probe.as_ref().unwrap();
    assert_eq!(probe.addr.to_string(), "127.0.0.1:5000");
    assert_eq!(probe.ready, Status::active(READY));
    assert_eq!(plan.then, Then::Report);
    let local = plan.local.as_ref().unwrap();
    assert!(local.owns(Path::new(CONFIG_PATH), &config_bytes(&plan)));
    assert!(local.running.is_some());
}

fn config_bytes(plan: &Plan) -> Vec<u8> {
    plan.files()
        .into_iter()
        .find_map(|f| match f {
            FileStep::Write { path, contents, .. } if path == Path::new(CONFIG_PATH) => {
                Some(contents.0.clone())
            }
            _ => None,
        })
        .expect("config.yml written")
}

#[test]
fn the_leader_without_a_secret_shares_the_fresh_one_in_a_juju_secret() {
    let mut view = fresh(Event::LeaderElected, json!({}));
    view.model.shared = SharedView::default();
    view.model.peer.as_mut().unwrap().app = Databag::new();
    view.fresh.http_secret = Some(HttpSecret::new("bmV3LXNlY3JldA==").unwrap());
    let plan = plan::plan(&view).unwrap();
    assert!(
        plan.relation_writes().is_empty(),
        "the URI is written with the secret"
    );
    let added: Vec<&SecretStep> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Secret(s) => Some(s),
            _ => None,
        })
        .collect();
    match added[..] {
        [SecretStep::Add { content, peer, .. }] => {
            assert_eq!(content.http_secret.expose(), "bmV3LXNlY3JldA==");
            assert_eq!(peer.to_string(), "peer:0");
        }
        _ => panic!("{added:?}"),
    }
    let first_secret = plan
        .steps
        .iter()
        .position(|s| matches!(s, Step::Secret(_)))
        .unwrap();
    let first_file = plan
        .steps
        .iter()
        .position(|s| matches!(s, Step::File(_)))
        .unwrap();
    assert!(
        first_secret < first_file,
        "shared before anything renders it"
    );
    assert!(String::from_utf8_lossy(&config_bytes(&plan)).contains("bmV3LXNlY3JldA=="));
}

#[test]
fn without_a_secret_a_follower_waits_and_a_leader_without_peers_waits() {
    let mut follower = fresh(Event::Start, json!({}));
    follower.model.leader = false;
    follower.model.shared = SharedView::default();
    follower.model.peer.as_mut().unwrap().app = Databag::new();
    let plan = plan::plan(&follower).unwrap();
    assert_eq!(
        plan.statuses,
        [Status::waiting(
            "Waiting for the leader to share the registry's HTTP secret."
        )]
    );
    assert!(effects(&plan).is_empty(), "{:?}", plan.steps);

    let mut alone = fresh(Event::Install, json!({}));
    alone.model.shared = SharedView::default();
    alone.model.peer = None;
    let plan = plan::plan(&alone).unwrap();
    assert_eq!(plan.statuses[0].kind, StatusKind::Waiting);
    assert!(plan.statuses[0].message.contains("peer relation"));
}

#[test]
fn a_missing_binary_plans_the_install_and_a_new_read() {
    let mut view = fresh(Event::Install, json!({}));
    view.machine.binary = None;
    let plan = plan::plan(&view).unwrap();
    assert_eq!(
        effects(&plan),
        [
            &Step::Status(Status::maintenance(
                "Installing the registry (docker-registry package)."
            )),
            &Step::Install
        ]
    );
    assert_eq!(plan.then, Then::ReadAgain);
}

#[test]
fn the_python_charms_container_goes_first_and_alone() {
    let mut view = fresh(Event::UpgradeCharm, json!({}));
    let name = ContainerName::parse("registry").unwrap();
    view.machine.legacy = Legacy::Present(name.clone(), ContainerState::Running);
    let plan = plan::plan(&view).unwrap();
    assert_eq!(effects(&plan), [&Step::RetireLegacy(name.clone())]);
    assert_eq!(plan.then, Then::ReadAgain);

    view.machine.legacy = Legacy::Unknown(name, "i/o timeout".into());
    let plan = plan::plan(&view).unwrap();
    assert!(effects(&plan).is_empty());
    assert_eq!(plan.statuses[0].kind, StatusKind::Blocked);
    assert_eq!(
        plan.local.unwrap().legacy_container.as_deref(),
        Some("registry"),
        "looked for again at every hook"
    );
}

/// A registry that died between hooks is started again, and the log says what was found:
/// the operator's only clue when nothing else saw it die.
#[test]
fn a_registry_found_dead_is_started_and_the_log_says_how_it_was_found() {
    let found = "process 4242 is gone; its supervisor (pid 4241) starts it again";
    let mut world = serving(json!({}));
    world.view.event = Event::UpdateStatus;
    world.view.machine.service = ServiceStatus::Crashed {
        pid: Some(4242),
        reason: found.into(),
    };
    let plan = plan::plan(&world.view).unwrap();
    assert_eq!(service_calls(&plan), [ServiceCall::Start]);
    let logs: Vec<&str> = plan.logs().iter().map(|l| l.message.as_str()).collect();
    assert!(
        logs.contains(&format!("starting the registry: {found}").as_str()),
        "{logs:?}"
    );

    // With an invalid config, the last good one is started, with the same clue.
    world.view.model = model(json!({"storage-cache": "disk"}));
    let plan = plan::plan(&world.view).unwrap();
    assert_eq!(service_calls(&plan), [ServiceCall::Start]);
    let logs: Vec<&str> = plan.logs().iter().map(|l| l.message.as_str()).collect();
    assert!(
        logs.contains(
            &format!("starting the registry with its last good config: {found}").as_str()
        ),
        "{logs:?}"
    );

    // Never started (or stopped): no clue to give.
    let fresh_plan = plan::plan(&fresh(Event::Install, json!({}))).unwrap();
    let logs: Vec<&str> = fresh_plan
        .logs()
        .iter()
        .map(|l| l.message.as_str())
        .collect();
    assert!(logs.contains(&"starting the registry"), "{logs:?}");
}

#[test]
fn an_invalid_config_blocks_and_restarts_only_a_last_good_config_of_ours() {
    let mut world = serving(json!({}));
    world.view.model = model(json!({"storage-cache": "disk"}));
    world.view.machine.service = ServiceStatus::Crashed {
        pid: Some(4242),
        reason: "killed".into(),
    };
    let plan = plan::plan(&world.view).unwrap();
    assert_eq!(
        plan.statuses,
        [Status::blocked(
            "Invalid charm config: storage-cache: \"disk\" is not one of inmemory, disabled"
        )]
    );
    assert_eq!(
        service_calls(&plan),
        [ServiceCall::Start],
        "the last good config"
    );
    assert!(plan.files().is_empty(), "nothing rewritten");

    // The Python charm's config.yml is no last good config of ours.
    let mut theirs = fresh(Event::UpgradeCharm, json!({"storage-cache": "disk"}));
    theirs.machine.files.insert(
        CONFIG_PATH.into(),
        Some(Entry::file(b"version: 0.1\n", 0o600, (0, 0))),
    );
    assert_eq!(service_calls(&plan::plan(&theirs).unwrap()), []);
}

#[test]
fn a_new_registry_port_moves_the_open_port_and_restarts() {
    let mut world = serving(json!({}));
    world.view.model = model(json!({"registry-port": 5443}));
    world.view.model.opened_ports = vec![PortRange::from(Port::tcp(5000))];
    let plan = plan::plan(&world.view).unwrap();
    assert_eq!(service_calls(&plan), [ServiceCall::Restart]);
    let ports: Vec<&Step> = plan
        .steps
        .iter()
        .filter(|s| matches!(s, Step::OpenPort(_) | Step::ClosePort(_)))
        .collect();
    assert_eq!(
        ports,
        [
            &Step::ClosePort(Port::tcp(5000)),
            &Step::OpenPort(Port::tcp(5443))
        ]
    );
}

#[test]
fn a_new_password_rewrites_htpasswd_without_a_restart() {
    let config = |pw: &str| json!({"auth-basic-user": "admin", "auth-basic-password": pw});
    let mut world = serving(config("first"));
    world.view.model = model(config("second"));
    world.view.fresh.htpasswd_salt = Some([4; 16]);
    let plan = plan::plan(&world.view).unwrap();
    assert_eq!(written(&plan), [PathBuf::from(HTPASSWD_PATH)]);
    assert_eq!(service_calls(&plan), []);
}

#[test]
fn a_tls_path_naming_a_directory_blocks_naming_the_option() {
    let mut view = fresh(Event::ConfigChanged, json!({"tls-cert-path": "/etc/certs"}));
    let disk = BTreeMap::from([(PathBuf::from("/etc/certs"), Some(Entry::dir(0o755, (0, 0))))]);
    view.machine = machine(&view.model, &view.local, &disk);
    let plan = plan::plan(&view).unwrap();
    assert_eq!(
        plan.statuses,
        [Status::blocked(
            "Invalid charm config: tls-cert-path: /etc/certs is a directory (set the path of a file in it)"
        )]
    );
}

#[test]
fn operator_tls_files_the_registry_user_cannot_read_are_served_from_copies() {
    let (cert, key, _) = certificate();
    let mut view = fresh(Event::ConfigChanged, json!({}));
    let disk = BTreeMap::from([
        (
            PathBuf::from("/etc/docker/registry/registry.crt"),
            Some(Entry::file(cert.as_bytes(), 0o644, (0, 0))),
        ),
        (
            PathBuf::from("/etc/docker/registry/registry.key"),
            Some(Entry::file(key.as_bytes(), 0o600, (0, 0))),
        ),
    ]);
    view.machine = machine(&view.model, &view.local, &disk);
    let plan = plan::plan(&view).unwrap();
    assert_eq!(plan.statuses, []);
    let files = written(&plan);
    assert!(
        files.iter().any(|p| p.ends_with("operator-tls.key"))
            && !files.iter().any(|p| p.ends_with("registry.key")),
        "{files:?}"
    );

    // Readable by the group: served as they are, https.
    let disk = BTreeMap::from([
        (
            PathBuf::from("/etc/docker/registry/registry.crt"),
            Some(Entry::file(cert.as_bytes(), 0o644, (0, 0))),
        ),
        (
            PathBuf::from("/etc/docker/registry/registry.key"),
            Some(Entry::file(key.as_bytes(), 0o640, (0, OWNER.1))),
        ),
    ]);
    view.machine = machine(&view.model, &view.local, &disk);
    let plan = plan::plan(&view).unwrap();
    assert_eq!(plan.statuses, []);
    assert!(!written(&plan).iter().any(|p| p.ends_with("registry.key")));
    assert_eq!(
        plan.probe.unwrap().ready,
        Status::active("Ready at 10.1.0.5:5000 (https).")
    );
}

#[test]
fn tls_blobs_over_an_operator_file_set_it_aside_before_writing() {
    let (cert, key, ca) = certificate();
    let mut view = fresh(Event::ConfigChanged, tls_blobs(&cert, &key, &ca, json!({})));
    let crt = PathBuf::from("/etc/docker/registry/registry.crt");
    let disk = BTreeMap::from([(
        crt.clone(),
        Some(Entry::file(b"the operator's", 0o640, (0, 7))),
    )]);
    view.machine = machine(&view.model, &view.local, &disk);
    let plan = plan::plan(&view).unwrap();
    let backup = local::displaced_path(&crt, &local::sha256(b"the operator's"));
    let order: Vec<String> = effects(&plan)
        .into_iter()
        .filter_map(|s| match s {
            Step::File(FileStep::Write { path, .. }) if *path == backup => Some("copy".into()),
            Step::File(FileStep::Write { path, .. }) if *path == crt => Some("write".into()),
            Step::SaveState(state) if state.displaced.contains_key(&crt) => Some("save".into()),
            _ => None,
        })
        .collect();
    assert_eq!(order[..3], ["copy", "save", "write"], "{order:?}");
}

#[test]
fn the_stop_action_state_blocks_and_plans_nothing_else() {
    let mut world = serving(json!({}));
    world.view.local.stopped = true;
    let plan = plan::plan(&world.view).unwrap();
    assert_eq!(plan.statuses, [plan::stopped_status()]);
    assert!(effects(&plan).is_empty());
}

#[test]
fn no_address_yet_waits_for_one() {
    let mut view = fresh(Event::ConfigChanged, json!({}));
    view.model.address = None;
    let plan = plan::plan(&view).unwrap();
    assert_eq!(
        plan.statuses,
        [Status::waiting(
            "Waiting for an ingress address on the website binding."
        )]
    );
    assert!(plan.probe.is_none());
}

#[test]
fn an_action_gets_the_registry_the_plan_serves() {
    let (cert, key, ca) = certificate();
    let mut view = fresh(
        Event::Start,
        tls_blobs(
            &cert,
            &key,
            &ca,
            json!({"auth-basic-user": "admin", "auth-basic-password": "pw",
                   "http-host": "http://lb.example.com:8080/"}),
        ),
    );
    view.fresh.htpasswd_salt = Some([3; 16]);
    let plan = plan::plan(&view).unwrap();
    let registry = action_registry(&view, plan.serving.as_ref().unwrap()).unwrap();
    assert_eq!(registry.netloc, "lb.example.com:8080", "what clients use");
    assert_eq!(
        registry.unit_netloc, "10.1.0.5:5000",
        "where the action connects"
    );
    assert_eq!(
        registry.scheme,
        charm::config::Scheme::Https,
        "the unit's own TLS, not what http-host tells clients"
    );
    assert_eq!(
        registry.ca_pem.as_deref().map(|c| c.trim()),
        Some(ca.trim())
    );
    let creds = registry.credentials.unwrap();
    assert_eq!(
        (creds.username.as_str(), creds.password.expose()),
        ("admin", "pw")
    );
    assert_eq!(registry.units, 1);
    assert_eq!(registry.binary, PathBuf::from(BINARY));

    let mut invalid = fresh(Event::Start, json!({"storage-cache": "disk"}));
    invalid.model = model(json!({"storage-cache": "disk"}));
    assert!(
        plan::plan(&invalid).unwrap().serving.is_none(),
        "nothing to act on"
    );
}

/// The gc action's read-only window is a plan like any other: the view with
/// storage-read-only on renders `maintenance.readonly` and restarts; the next plan of the
/// normal view (the action's own restore, or any later hook) renders the normal config
/// and restarts again. Also when the action died before its state was saved (it saves
/// `running: None` first), and the window touches nothing but config.yml and the service.
#[test]
fn the_gc_read_only_window_is_undone_by_the_next_plan() {
    use charm::charm::gc::read_only_view;
    const READ_ONLY: &str = "  maintenance:\n    readonly:\n      enabled: true\n";
    let mut world = serving(json!({}));
    let normal = String::from_utf8(config_bytes(
        &plan::plan(&fresh(Event::Install, json!({}))).unwrap(),
    ))
    .unwrap();
    assert!(!normal.contains(READ_ONLY));

    world.view.event = Event::Action {
        name: "gc".into(),
        id: "2".into(),
    };
    let window = plan::plan(&read_only_view(&world.view)).unwrap();
    assert_eq!(written(&window), [PathBuf::from(CONFIG_PATH)]);
    let ro = String::from_utf8(config_bytes(&window)).unwrap();
    assert!(ro.contains(READ_ONLY), "{ro}");
    assert_eq!(
        ro.replace(READ_ONLY, ""),
        normal,
        "only the maintenance block differs"
    );
    assert_eq!(service_calls(&window), [ServiceCall::Restart]);
    let changes: Vec<&Step> = effects(&window)
        .into_iter()
        .filter(|s| !matches!(s, Step::File(_) | Step::Service(_)))
        .collect();
    assert_eq!(
        changes,
        Vec::<&Step>::new(),
        "nothing but the file and the service"
    );
    world.after(&window);

    let restore = world.run(Event::UpdateStatus);
    assert_eq!(written(&restore), [PathBuf::from(CONFIG_PATH)]);
    assert_eq!(config_bytes(&restore), normal.as_bytes());
    assert_eq!(service_calls(&restore), [ServiceCall::Restart]);
    assert!(
        effects(&world.run(Event::UpdateStatus)).is_empty(),
        "restored for good"
    );

    // Killed after the restart but before the window's state was saved: the unit
    // remembers only `running: None` (and config.yml is not the one it recorded).
    world.view.local.running = None;
    world.disk.insert(
        PathBuf::from(CONFIG_PATH),
        Some(Entry::file(ro.as_bytes(), 0o640, (0, OWNER.1))),
    );
    world.view.machine = machine(&world.view.model, &world.view.local, &world.disk);
    world.view.machine.service = ServiceStatus::Running { pid: 4243 };
    let next = world.run(Event::UpdateStatus);
    assert_eq!(config_bytes(&next), normal.as_bytes());
    assert_eq!(service_calls(&next), [ServiceCall::Restart]);
}

/// The unit's record of the model as a hook that read `view.model` would keep it.
fn recorded(view: &View, config: Value) -> Recorded {
    let m = &view.model;
    let mut relations = BTreeMap::new();
    relations.insert("peer".to_string(), m.peer.iter().cloned().collect());
    relations.insert("docker-registry".to_string(), m.clients.clone());
    Recorded {
        config: config.as_object().cloned().unwrap_or_default(),
        address: m.address,
        bind_addresses: m.bind_addresses.clone(),
        relations,
        opened_ports: m.opened_ports.clone(),
        ..Recorded::default()
    }
}

/// Juju commits relation-set and ports only when the hook exits 0, after every save of
/// the unit's record: each record the plan saves, at a checkpoint or at its end, marks the
/// writes before it unconfirmed (the next hook reads them back), and keeps what was
/// written, so a committed write is not made twice.
#[test]
fn every_saved_record_marks_the_writes_before_it_unconfirmed() {
    let (cert, key, ca) = certificate();
    let config = tls_blobs(&cert, &key, &ca, json!({}));
    let mut view = fresh(Event::ConfigChanged, config.clone());
    view.model.shared = SharedView::default();
    view.model.peer.as_mut().unwrap().app = Databag::new();
    view.fresh.http_secret = Some(HttpSecret::new("bmV3LXNlY3JldA==").unwrap());
    view.model.clients = vec![relation("docker-registry:3", &[])];
    let crt = PathBuf::from("/etc/docker/registry/registry.crt");
    let disk = BTreeMap::from([(
        crt.clone(),
        Some(Entry::file(b"the operator's", 0o640, (0, 7))),
    )]);
    view.machine = machine(&view.model, &view.local, &disk);
    view.local.model = Some(recorded(&view, config));
    let plan = plan::plan(&view).unwrap();

    let mut written = BTreeSet::new();
    let mut ports = false;
    let mut saves = 0;
    let check = |state: &LocalState, written: &BTreeSet<(RelationId, bool)>, ports: bool| {
        let model = state.model.as_ref().expect("the record is kept");
        assert!(model.unconfirmed.bags.is_superset(written), "{model:?}");
        assert!(model.unconfirmed.ports || !ports);
    };
    for step in &plan.steps {
        match step {
            Step::Relation(w) => drop(written.insert((w.relation.clone(), w.app))),
            // The URI goes into the peer app bag once secret-add answers.
            Step::Secret(SecretStep::Add { peer, .. }) => {
                written.insert((peer.clone(), true));
            }
            Step::OpenPort(_) | Step::ClosePort(_) => ports = true,
            Step::SaveState(state) => {
                saves += 1;
                check(state, &written, ports);
            }
            _ => {}
        }
    }
    assert!(saves > 0, "a checkpoint after the secret was shared");
    assert_eq!(written.len(), 2, "the peer app bag and the client's bag");
    assert!(ports);
    let end = plan.local.as_ref().unwrap();
    check(end, &written, ports);
    let model = end.model.as_ref().unwrap();
    let client = model
        .relation(&"docker-registry:3".parse().unwrap())
        .unwrap();
    assert!(client.ours.contains_key("registry_url"), "{client:?}");
    assert_eq!(model.opened_ports, [PortRange::from(Port::tcp(5000))]);
}

/// The htpasswd entry is a bcrypt hash, so checking it costs a few ms of CPU: a unit
/// checks it once per file and config, and again as soon as either changes.
#[test]
fn the_htpasswd_entry_is_checked_again_only_when_the_file_or_the_config_changes() {
    let config = json!({"auth-basic-user": "admin", "auth-basic-password": "pw"});
    let mut world = serving(config.clone());
    assert!(world.view.local.htpasswd_checked.is_some());
    let noop = world.run(Event::UpdateStatus);
    assert!(written(&noop).is_empty(), "{:?}", written(&noop));

    // A hand edit: the file is not what was checked, so it is checked, and rewritten.
    let htpasswd = PathBuf::from(HTPASSWD_PATH);
    let edited = Some(Entry::file(
        b"admin:$2y$05$not-a-real-hash\n",
        0o640,
        (0, OWNER.1),
    ));
    world.disk.insert(htpasswd.clone(), edited.clone());
    world.view.machine.files.insert(htpasswd.clone(), edited);
    world.view.fresh.htpasswd_salt = Some([5; 16]);
    assert_eq!(written(&world.run(Event::UpdateStatus)), [htpasswd]);

    // Another config (same credentials): checked once, and the entry still holds.
    let mut other = config.clone();
    other["registry-name"] = json!("renamed");
    world.view.model = model(other);
    let before = world.view.local.htpasswd_checked.clone();
    assert!(written(&world.run(Event::ConfigChanged)).is_empty());
    assert_ne!(world.view.local.htpasswd_checked, before);
    assert!(written(&world.run(Event::UpdateStatus)).is_empty());
}

/// tls-auto renews a unit's certificate 30 days before it expires (it is valid 90), not
/// before, without a view of the clock in the plan: the view's `now` decides.
#[test]
fn tls_auto_renews_thirty_days_before_expiry() {
    use std::time::Duration;
    let day = Duration::from_secs(86_400);
    let mut world = World::new(fresh(Event::ConfigChanged, json!({"tls-auto": true})));
    let start = world.view.model.now;
    let first = world.run(Event::ConfigChanged);
    let files = written(&first);
    assert!(
        files.contains(&PathBuf::from(AUTO_CERT))
            && files.contains(&PathBuf::from("/etc/docker/registry/registry.crt")),
        "{files:?}"
    );
    let peer = world.view.model.peer.as_ref().unwrap();
    assert!(
        peer.app.contains_key("tls-auto-ca"),
        "{:?}",
        peer.app.keys()
    );

    world.view.model.now = start + day * 59;
    let quiet = world.run(Event::UpdateStatus);
    assert_eq!(written(&quiet), Vec::<PathBuf>::new(), "31 days left: kept");
    assert_eq!(service_calls(&quiet), []);

    world.view.model.now = start + day * 61;
    let renewal = world.run(Event::UpdateStatus);
    let files = written(&renewal);
    assert!(
        files.contains(&PathBuf::from(AUTO_CERT))
            && files.contains(&PathBuf::from("/etc/docker/registry/registry.crt")),
        "29 days left: renewed {files:?}"
    );
    assert!(
        !files.contains(&PathBuf::from(
            "/var/lib/docker-registry-charm/tls-auto.key"
        )),
        "the key stays"
    );
    assert_eq!(service_calls(&renewal), [ServiceCall::Restart]);
    let logs: Vec<&str> = renewal.logs().iter().map(|l| l.message.as_str()).collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("the one on disk expires soon")),
        "{logs:?}"
    );
    let again = world.run(Event::UpdateStatus);
    assert_eq!(written(&again), Vec::<PathBuf>::new());
}

// ---- the tls-auto CA key (issue 17 item 8) ----------------------------------------------

const AUTO_CERT: &str = "/var/lib/docker-registry-charm/tls-auto.crt";

/// The tls-auto CA as an earlier revision of the charm shared it: certificate and key in
/// the peer app bag (the Juju secret holding the http secret alone).
fn ca_in_the_bag(view: &mut View) -> AutoCa {
    let ca = make_ca("docker-registry tls-auto CA", view.model.now, [7; 16]).unwrap();
    let app = &mut view.model.peer.as_mut().unwrap().app;
    app.insert("tls-auto-ca".into(), ca.cert.as_str().into());
    app.insert("tls-auto-ca-key".into(), ca.key.expose().into());
    ca
}

/// The layout after the move: the CA certificate alone in the peer app bag.
fn key_out_of_the_bag(view: &mut View) {
    let app = &mut view.model.peer.as_mut().unwrap().app;
    app.remove("tls-auto-ca-key");
}

/// The secret steps of a plan.
fn secret_steps(plan: &Plan) -> Vec<&SecretStep> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::Secret(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn on_disk(world: &World, path: &str) -> Option<String> {
    let entry = world.disk.get(Path::new(path)).cloned().flatten()?;
    entry.contents.map(|c| String::from_utf8(c).unwrap())
}

/// A unit serving with tls-auto the way an earlier revision left it: its certificate
/// signed with the CA whose certificate and key are in the peer app bag. It comes up as a
/// follower (the only role in which this charm still signs with a key from the bag
/// without moving it); `leader` then says what it is for the next hook.
fn served_from_the_bag(leader: bool) -> (World, AutoCa) {
    let mut view = fresh(Event::Install, json!({"tls-auto": true}));
    view.model.leader = false;
    let ca = ca_in_the_bag(&mut view);
    let mut world = World::new(view);
    let first = world.run(Event::Install);
    assert!(secret_steps(&first).is_empty(), "a follower moves nothing");
    assert!(
        on_disk(&world, AUTO_CERT).is_some(),
        "signed with the bag's CA"
    );
    assert!(config_on_disk(&world).contains("tls:"));
    world.view.model.leader = leader;
    (world, ca)
}

/// Issue 17 item 8: a leader upgraded from a revision that kept the tls-auto CA key in
/// the peer app bag moves that exact value into the Juju secret and deletes it from the
/// bag in the same hook, bumping the generation the other units notice. The certificate
/// stays in the bag as it was, and nothing on the machine changes: no file written, no
/// restart (the unit's certificate still chains to the same CA). Moved once.
#[test]
fn the_leader_moves_the_ca_key_from_the_peer_bag_into_the_secret() {
    let (mut world, ca) = served_from_the_bag(true);
    let cert_before = on_disk(&world, AUTO_CERT);
    let plan = world.run(Event::UpgradeCharm);
    match secret_steps(&plan)[..] {
        [SecretStep::Set { content, .. }] => {
            assert_eq!(content.http_secret.expose(), SECRET, "the http secret kept");
            let moved = content.tls_auto_ca_key.as_ref().expect("the CA key moved");
            assert_eq!(moved.expose(), ca.key.expose(), "the exact value");
        }
        ref other => panic!("{other:?}"),
    }
    let writes = plan.relation_writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].relation.to_string(), "peer:0");
    assert_eq!(
        writes[0].data,
        bag(&[("tls-auto-ca-key", ""), ("shared-secret-generation", "1")]),
        "the key deleted, the generation bumped, the certificate untouched"
    );
    assert_eq!(written(&plan), Vec::<PathBuf>::new(), "nothing rewritten");
    assert_eq!(service_calls(&plan), []);
    let logs: Vec<&str> = plan.logs().iter().map(|l| l.message.as_str()).collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("moving the tls-auto CA key from the peer relation")),
        "{logs:?}"
    );
    let app = &world.view.model.peer.as_ref().unwrap().app;
    assert_eq!(app["tls-auto-ca"], ca.cert.as_str(), "the same certificate");
    assert!(!app.contains_key("tls-auto-ca-key"));
    assert_eq!(on_disk(&world, AUTO_CERT), cert_before);

    let before = world.view.local.clone();
    for event in [
        Event::UpdateStatus,
        Event::ConfigChanged,
        Event::UpgradeCharm,
    ] {
        let again = world.run(event);
        assert!(again.changes_nothing(&before), "{:#?}", effects(&again));
    }
}

/// The follower's side of the move: once the bag no longer has the key, it signs with the
/// key the secret holds, e.g. when its address changes.
#[test]
fn a_follower_signs_with_the_key_from_the_secret() {
    let (mut world, ca) = served_from_the_bag(false);
    key_out_of_the_bag(&mut world.view);
    world.view.model.shared = stored(Shared {
        http_secret: HttpSecret::new(SECRET).unwrap(),
        tls_auto_ca_key: Some(ca.key.clone()),
    });
    let quiet = world.run(Event::UpdateStatus);
    assert!(effects(&quiet).is_empty(), "{:#?}", effects(&quiet));

    world.view.model.address = Some("10.1.0.6".parse().unwrap());
    world.view.model.bind_addresses = vec!["10.1.0.6".parse().unwrap()];
    let moved = world.run(Event::ConfigChanged);
    assert!(written(&moved).contains(&PathBuf::from(AUTO_CERT)));
    assert!(secret_steps(&moved).is_empty());
    assert!(moved.relation_writes().iter().all(|w| !w.app));
    let cert = on_disk(&world, AUTO_CERT).unwrap();
    let key = on_disk(&world, "/var/lib/docker-registry-charm/tls-auto.key").unwrap();
    let bundle = charm::tls::TlsBundle::from_pems(
        Some(ca.cert.as_str()),
        Some(&cert),
        Some(&key),
        world.view.model.now,
        charm::tls::TlsSource::Auto,
    );
    assert!(
        matches!(bundle, Ok(Some(_))),
        "signed by the CA: {bundle:?}"
    );
}

/// Never a new CA by accident: with a CA certificate in the peer bag and its key in
/// neither the bag nor the secret, the leader makes no CA, keeps serving the certificate
/// it has (nothing written, no restart), and is blocked naming where the key is missing;
/// a follower waits for the leader. A unit with no certificate yet serves plain http.
#[test]
fn a_ca_certificate_without_its_key_is_never_replaced() {
    for leader in [true, false] {
        let (mut world, ca) = served_from_the_bag(false);
        key_out_of_the_bag(&mut world.view);
        world.view.model.leader = leader;
        let plan = world.run(Event::ConfigChanged);
        assert_eq!(world.view.fresh, Fresh::default());
        assert!(secret_steps(&plan).is_empty(), "{leader}");
        assert!(plan.relation_writes().is_empty(), "{leader}");
        assert_eq!(written(&plan), Vec::<PathBuf>::new(), "{leader}");
        assert_eq!(service_calls(&plan), [], "{leader}");
        assert!(config_on_disk(&world).contains("tls:"), "still https");
        let status = plan.expected_status().unwrap();
        match leader {
            true => assert_eq!(
                status,
                Status::blocked(
                    "The tls-auto CA's key is in neither the Juju secret registry-shared \
                     nor the peer relation: no new CA is made, as clients trust this one."
                )
            ),
            false => assert_eq!(
                status,
                Status::waiting("Waiting for the leader to share the tls-auto CA key.")
            ),
        }
        let warnings: Vec<&str> = plan.logs().iter().map(|l| l.message.as_str()).collect();
        assert!(
            warnings
                .iter()
                .any(|l| l.contains("keeps serving the certificate it has")),
            "{warnings:?}"
        );
        assert_eq!(
            world.view.model.peer.as_ref().unwrap().app["tls-auto-ca"],
            ca.cert.as_str()
        );
    }

    let mut view = fresh(Event::ConfigChanged, json!({"tls-auto": true}));
    ca_in_the_bag(&mut view);
    key_out_of_the_bag(&mut view);
    let mut world = World::new(view);
    let plan = world.run(Event::ConfigChanged);
    assert!(secret_steps(&plan).is_empty() && plan.relation_writes().is_empty());
    assert!(!config_on_disk(&world).contains("tls:"), "plain http");
    assert_eq!(plan.expected_status().unwrap().kind, StatusKind::Blocked);
}

/// A secret whose http secret is unusable is repaired with a new revision that keeps the
/// tls-auto CA key it held: clients keep trusting the same CA.
#[test]
fn a_repaired_secret_keeps_the_ca_key() {
    let mut view = fresh(Event::UpgradeCharm, json!({"tls-auto": true}));
    let ca = ca_in_the_bag(&mut view);
    key_out_of_the_bag(&mut view);
    view.model.shared = SharedView {
        juju: Some((
            URI.parse().unwrap(),
            Err(Unusable {
                why: "its \"http-secret\" is unusable".into(),
                tls_auto_ca_key: Some(ca.key.clone()),
            }),
        )),
        legacy: None,
    };
    view.fresh.http_secret = Some(HttpSecret::new("bmV3LXNlY3JldA==").unwrap());
    let mut world = World::new(view);
    let plan = world.run(Event::UpgradeCharm);
    match secret_steps(&plan)[..] {
        [SecretStep::Set { content, .. }] => {
            assert_eq!(content.http_secret.expose(), "bmV3LXNlY3JldA==");
            assert_eq!(
                content.tls_auto_ca_key.as_ref().map(|k| k.expose()),
                Some(ca.key.expose())
            );
        }
        ref other => panic!("{other:?}"),
    }
    assert_eq!(
        on_disk(&world, "/etc/docker/registry/ca.crt").unwrap(),
        ca.cert.as_str()
    );
}

/// No relation write carries a private key, whatever tls-auto goes through: a CA made
/// with the secret (one hook), a CA made later, an address change, tls-auto off and on.
#[test]
fn no_relation_write_carries_a_private_key() {
    let mut first = fresh(Event::LeaderElected, json!({"tls-auto": true}));
    first.model.shared = SharedView::default();
    first.model.peer.as_mut().unwrap().app = Databag::new();
    first.fresh.http_secret = Some(HttpSecret::new("bmV3LXNlY3JldA==").unwrap());
    let mut world = World::new(first);
    let made = world.run(Event::LeaderElected);
    match secret_steps(&made)[..] {
        [SecretStep::Add { content, .. }] => {
            assert!(
                content.tls_auto_ca_key.is_some(),
                "the CA key with the secret"
            )
        }
        ref other => panic!("{other:?}"),
    }
    let app = &world.view.model.peer.as_ref().unwrap().app;
    assert!(app.contains_key("tls-auto-ca") && app.contains_key("shared-secret"));
    let mut plans = vec![made];
    world.view.model.address = Some("10.1.0.6".parse().unwrap());
    plans.push(world.run(Event::ConfigChanged));
    for tls_auto in [false, true] {
        configure(&mut world, json!({"tls-auto": tls_auto}));
        plans.push(world.run(Event::ConfigChanged));
        assert_eq!(config_on_disk(&world).contains("tls:"), tls_auto);
    }
    let mut later = World::new(fresh(Event::ConfigChanged, json!({})));
    later.run(Event::ConfigChanged);
    configure(&mut later, json!({"tls-auto": true}));
    let made_later = later.run(Event::ConfigChanged);
    match secret_steps(&made_later)[..] {
        [SecretStep::Set { content, .. }] => assert!(content.tls_auto_ca_key.is_some()),
        ref other => panic!("{other:?}"),
    }
    plans.push(made_later);
    for plan in &plans {
        for w in plan.relation_writes() {
            for (k, v) in &w.data {
                assert!(!v.contains("PRIVATE KEY"), "{} {k}", w.relation);
            }
        }
    }
}

/// The world's view after `juju config` set `config`.
fn configure(world: &mut World, config: Value) {
    let map = config.as_object().cloned().unwrap_or_default();
    let m = &mut world.view.model;
    m.config = CharmConfig::from_json_with_tls(&map, m.now);
    m.options = map
        .iter()
        .map(|(k, v)| (k.clone(), local::sha256(v.to_string().as_bytes())))
        .collect();
    m.config_digest = local::sha256(Value::Object(map).to_string().as_bytes());
    let service = world.view.machine.service.clone();
    world.view.machine = machine(&world.view.model, &world.view.local, &world.disk);
    world.view.machine.service = service;
}

/// The world's view after the machine lost `path` (an operator, a cleanup script).
fn lose(world: &mut World, path: &str) {
    world.disk.insert(PathBuf::from(path), None);
    let service = world.view.machine.service.clone();
    world.view.machine = machine(&world.view.model, &world.view.local, &world.disk);
    world.view.machine.service = service;
}

fn config_on_disk(world: &World) -> String {
    let entry = world.disk.get(Path::new(CONFIG_PATH)).cloned().flatten();
    String::from_utf8(entry.and_then(|e| e.contents).unwrap_or_default()).unwrap()
}

/// B21 (docs/python-charm-bugs.md#b21), pinned: whether auth is on comes from the config
/// alone. A deleted htpasswd comes back at the next hook (any hook, update-status too),
/// config.yml keeps its auth section, and nothing restarts (the registry re-reads it).
#[test]
fn a_deleted_htpasswd_comes_back_and_auth_stays_on_b21() {
    let mut world = serving(json!({"auth-basic-user": "alice", "auth-basic-password": "pw"}));
    assert!(config_on_disk(&world).contains("htpasswd:"));
    lose(&mut world, HTPASSWD_PATH);
    world.view.fresh.htpasswd_salt = Some([5; 16]);
    let plan = world.run(Event::UpdateStatus);
    assert_eq!(written(&plan), [PathBuf::from(HTPASSWD_PATH)]);
    assert_eq!(
        service_calls(&plan),
        [],
        "htpasswd is re-read, not a restart"
    );
    let entry = world.disk[Path::new(HTPASSWD_PATH)].clone().unwrap();
    let text = String::from_utf8(entry.contents.unwrap()).unwrap();
    assert!(charm::htpasswd::verify_file(&text, "alice", "pw"), "{text}");
    assert_eq!(entry.meta.mode, 0o640);
    assert!(
        config_on_disk(&world).contains("htpasswd:"),
        "auth stays on"
    );
    // A hook that finds no salt to write with fails rather than serve without the file.
    lose(&mut world, HTPASSWD_PATH);
    assert!(plan::plan(&world.view).is_err());
}

/// B21 for token auth: a deleted auth_token.pem comes back with the same contents, and
/// the registry (which read it at start) is not restarted.
#[test]
fn a_deleted_token_bundle_comes_back_and_token_auth_stays_on_b21() {
    let (_, _, ca) = certificate();
    let mut world = serving(
        json!({"auth-token-issuer": "i", "auth-token-realm": "https://a/t",
                                   "auth-token-service": "s", "auth-token-root-certs": b64(&ca)}),
    );
    lose(&mut world, "/etc/docker/registry/auth_token.pem");
    let plan = world.run(Event::UpdateStatus);
    assert_eq!(
        written(&plan),
        [PathBuf::from("/etc/docker/registry/auth_token.pem")]
    );
    assert_eq!(service_calls(&plan), []);
    assert!(config_on_disk(&world).contains("rootcertbundle:"));
}

/// Issue 17: an option that is accepted and ignored is warned about once when set, not at
/// every hook, and again only when its value changes.
#[test]
fn an_ignored_option_is_warned_about_once_per_change() {
    let warnings = |plan: &Plan| -> Vec<String> {
        plan.logs()
            .iter()
            .filter(|l| l.message.contains("is set but ignored"))
            .map(|l| l.message.clone())
            .collect()
    };
    let mut world = serving(json!({"registry-image": "mirror.example.com/registry:2.7"}));
    let first = plan::plan(&fresh(
        Event::Install,
        json!({"registry-image": "mirror.example.com/registry:2.7"}),
    ))
    .unwrap();
    assert_eq!(warnings(&first).len(), 1, "{:?}", first.logs());
    assert!(!warnings(&first)[0].contains("mirror.example.com"));
    for event in [
        Event::UpdateStatus,
        Event::ConfigChanged,
        Event::UpdateStatus,
    ] {
        let plan = world.run(event);
        assert_eq!(warnings(&plan), Vec::<String>::new());
    }
    world.view.model = model(json!({"registry-image": "registry:2.8"}));
    let plan = world.run(Event::ConfigChanged);
    assert_eq!(warnings(&plan).len(), 1);
    assert_eq!(
        service_calls(&plan),
        [],
        "an ignored option restarts nothing"
    );
}

// ---- properties on bad input (issue 17) ------------------------------------------------

mod bad_input {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Map;

    /// Values that break an option, per kind of option, and options to break.
    fn bad_config() -> impl Strategy<Value = Value> {
        let bad = prop_oneof![
            Just(("storage-cache", json!("disk"))),
            Just(("log-level", json!("loud"))),
            Just(("registry-port", json!(0))),
            Just(("debug-port", json!(70000))),
            Just(("http-host", json!("http://[::1]:5000"))),
            Just(("http-host", json!("registry.example.com"))),
            Just(("registry-http-proxy", json!("not a url"))),
            Just(("auth-basic-user", json!("alice"))),
            Just(("auth-basic-password", json!("x".repeat(80)))),
            Just(("nagios_context", json!("a\nb"))),
            Just(("tls-cert-blob", json!("!!!"))),
            Just(("storage-s3-bucket", json!("b"))),
            Just(("storage-swift-authurl", json!("keystone:5000"))),
            Just(("cache-username", json!("u"))),
            Just(("storage-delete", json!("yes"))),
            Just(("registry-image", json!(5))),
        ];
        let good = prop_oneof![
            Just(("log-level", json!("debug"))),
            Just(("registry-port", json!(5443))),
            Just(("auth-basic-password", json!("pw"))),
            Just(("prometheus-metrics", json!(true))),
            Just(("registry-image", json!("mirror/registry:2"))),
        ];
        (
            prop::collection::vec(bad, 1..4),
            prop::collection::vec(good, 0..3),
        )
            .prop_map(|(bad, good)| {
                let mut map = Map::new();
                for (k, v) in good.into_iter().chain(bad) {
                    map.insert(k.to_string(), v);
                }
                Value::Object(map)
            })
    }

    fn wire_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,30}",
            Just(String::new()),
            "\"[ -~]{0,20}\"",
            "[0-9.:a-f\\[\\]]{0,20}",
            Just(r#"[{"certificate_signing_request": "x", "certificate": "y"}]"#.into()),
            Just("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into()),
        ]
    }

    fn garbage_bag() -> impl Strategy<Value = Databag> {
        let keys = prop::sample::select(vec![
            "private-address",
            "ingress-address",
            "public-address",
            "hostname",
            "port",
            "ca",
            "docker-registry_0.server.cert",
            "docker-registry_0.server.key",
            "certificates",
            "nagios_hostname",
            "nagios_host_context",
            "http-secret",
            "registry_netloc",
        ]);
        prop::collection::btree_map(keys.prop_map(String::from), wire_value(), 0..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// A bad config never costs the last good one: blocked naming the options, nothing
        /// rewritten, no relation data or port changed, and the registry started again
        /// only if it died.
        #[test]
        fn a_bad_config_keeps_the_last_good_one_serving(config in bad_config(), crashed in any::<bool>()) {
            let mut world = serving(json!({}));
            let good = config_on_disk(&world);
            world.view.model = model(config);
            prop_assume!(world.view.model.config.is_err());
            if crashed {
                world.view.machine.service = ServiceStatus::Crashed { pid: Some(4242), reason: "killed".into() };
            }
            let plan = plan::plan(&world.view).unwrap();
            prop_assert_eq!(plan.statuses.len(), 1);
            prop_assert_eq!(plan.statuses[0].kind, StatusKind::Blocked);
            prop_assert!(plan.statuses[0].message.starts_with("Invalid charm config: "));
            prop_assert!(plan.files().is_empty(), "{:?}", plan.files());
            prop_assert!(plan.relation_writes().is_empty());
            prop_assert!(!plan.steps.iter().any(|s| matches!(s, Step::OpenPort(_) | Step::ClosePort(_))));
            let expected: &[ServiceCall] = if crashed { &[ServiceCall::Start] } else { &[] };
            prop_assert_eq!(service_calls(&plan), expected);
            world.after(&plan);
            prop_assert_eq!(config_on_disk(&world), good);
        }

        /// Garbage from any related unit never fails a hook or blocks the unit: it is
        /// logged and skipped, and the registry is still served.
        #[test]
        fn garbage_relation_data_never_fails_a_hook(
            website in garbage_bag(),
            client in garbage_bag(),
            provider in garbage_bag(),
            provider_app in garbage_bag(),
            nrpe in garbage_bag(),
            peer in garbage_bag(),
        ) {
            let mut view = fresh(Event::ConfigChanged, json!({}));
            view.model.website = vec![relation("website:4", &[("haproxy/0", website)])];
            view.model.clients = vec![relation("docker-registry:3", &[("containerd/0", client)])];
            let mut cp = relation("cert-provider:6", &[("easyrsa/0", provider)]);
            cp.app = provider_app;
            view.model.cert_provider = Some(cp);
            view.model.nrpe = vec![relation("nrpe-external-master:5", &[("nrpe/0", nrpe)])];
            if let Some(p) = view.model.peer.as_mut() {
                p.units = vec![("docker-registry/1".parse().unwrap(), peer)];
            }
            view.machine = machine(&view.model, &view.local, &Observed::new());
            // What the view draws while cert-provider is related: a key and a request.
            let key = charm::tls::generate_key().unwrap();
            let config = view.model.config.as_ref().map(|(c, _)| c.clone()).unwrap();
            let subject = charm::charm::tls_source::subject(&view.model, &config, &view.machine.hostname);
            view.fresh.csr = Some(subject.value.request(&key).unwrap());
            view.fresh.csr_key = Some(key);
            let plan = plan::plan(&view);
            prop_assert!(plan.is_ok(), "{:?}", plan.err());
            let plan = plan.unwrap();
            prop_assert!(!plan.statuses.iter().any(|s| s.kind == StatusKind::Blocked), "{:?}", plan.statuses);
            prop_assert!(plan.probe.is_some(), "still served");
        }
    }
}
