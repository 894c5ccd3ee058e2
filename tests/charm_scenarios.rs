//! Scenario tests of the reconciler, without processes (ops-scenario style: state in, state
//! out). Each test runs `handle_with` against an in-memory Juju ([`FakeJuju`]) and the
//! recording fakes of `workload`, and names the rule it protects. Bug numbers (B1, B22, ...)
//! are entries of docs/python-charm-bugs.md; Juju's rules are in docs/juju.md.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use charm::charm::upstream::{self, Answer};
use charm::charm::{handle_with, Effects, Error};
use charm::config::{DEFAULT_TLS_CA_PATH, DEFAULT_TLS_CERT_PATH, DEFAULT_TLS_KEY_PATH};
use charm::juju::log::JujuLogLayer;
use charm::juju::{AppName, Context, Databag, Event, HookTools, RelationId, RelationKind};
use charm::probe::{ProbeError, Scheme};
use charm::render::{CONFIG_PATH, HTPASSWD_PATH};
use charm::tls::client::ClientIdentity;
use charm::workload::files::{FileOp, Files, RecordingFiles};
use charm::workload::legacy::{ContainerState, RecordingLegacy};
use charm::workload::packages::{Packages, PackagesError, RecordingPackages};
use charm::workload::service::{
    RecordingService, Service, ServiceCall, ServiceError, ServiceSpec, ServiceStatus,
};
use charm::workload::users::{Account, UsersError};
use serde_json::{json, Value};
use support::fake_juju::{juju_keys, FakeJuju, State, MODEL_UUID};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

const ADDR: &str = "10.1.0.5";
const BINARY: &str = "/usr/bin/docker-registry";
const VERSION: &str = "2.8.2+ds1";
/// The service user on the simulated machine.
const OWNER: (u32, u32) = (901, 902);
/// The simulated machine's host name.
const HOSTNAME: &str = "reg-host-0";

/// `(uid, gid)` of the service user on the simulated machine.
fn service_user() -> Result<(u32, u32), UsersError> {
    Ok(OWNER)
}

// ---- harness ----------------------------------------------------------------------------

/// Specs the registry was (re)started with, in order.
type Launches = Arc<Mutex<Vec<ServiceSpec>>>;

/// The registry refuses a config.yml containing this text: it exits at start, having
/// written these lines (its panic) to its log.
type Refuses = Arc<Mutex<Option<(String, Vec<String>)>>>;

/// The registry service as a box the charm can own, sharing one recording; records the
/// spec of every start and restart (systemd writes it into the unit file at that moment).
struct Shared {
    service: Arc<RecordingService>,
    spec: ServiceSpec,
    launches: Launches,
    legacy: Arc<RecordingLegacy>,
    files: Arc<RecordingFiles>,
    refuses: Refuses,
}

impl Shared {
    /// Every scenario: our registry never starts while the container the charm looked for
    /// (the Python charm's) is there to hold registry-port.
    fn launch(&self) {
        if let Some((name, state)) = self.legacy.container() {
            if self.legacy.calls().contains(&format!("find {name}")) {
                panic!("our registry started while container {name} ({state}) is still there");
            }
        }
        self.launches.lock().unwrap().push(self.spec.clone());
    }

    /// After a start: a registry given a config it refuses exits, saying why in its log.
    fn maybe_refuse(&self) {
        let Some((needle, lines)) = self.refuses.lock().unwrap().clone() else {
            return;
        };
        let config = self.files.contents(CONFIG_PATH).unwrap_or_default();
        if String::from_utf8_lossy(&config).contains(&needle) {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            self.service.log(&lines);
            self.service.crash();
        }
    }
}

impl Service for Shared {
    fn start(&self) -> Result<(), ServiceError> {
        self.launch();
        self.service.start()?;
        self.maybe_refuse();
        Ok(())
    }
    fn stop(&self) -> Result<(), ServiceError> {
        self.service.stop()
    }
    fn restart(&self) -> Result<(), ServiceError> {
        self.launch();
        self.service.restart()?;
        self.maybe_refuse();
        Ok(())
    }
    fn status(&self) -> Result<ServiceStatus, ServiceError> {
        self.service.status()
    }
    fn log_tail(&self, lines: usize) -> Result<Vec<String>, ServiceError> {
        self.service.log_tail(lines)
    }
}

/// The metrics proxy service: its own recording, apart from the registry's.
struct Proxy(Arc<RecordingService>);

impl Service for Proxy {
    fn start(&self) -> Result<(), ServiceError> {
        self.0.start()
    }
    fn stop(&self) -> Result<(), ServiceError> {
        self.0.stop()
    }
    fn restart(&self) -> Result<(), ServiceError> {
        self.0.restart()
    }
    fn status(&self) -> Result<ServiceStatus, ServiceError> {
        self.0.status()
    }
    fn log_tail(&self, lines: usize) -> Result<Vec<String>, ServiceError> {
        self.0.log_tail(lines)
    }
}

/// One unit: Juju's view of it plus the machine it runs on.
struct Unit {
    name: String,
    juju: FakeJuju,
    files: Arc<RecordingFiles>,
    packages: RecordingPackages,
    service: Arc<RecordingService>,
    launches: Launches,
    /// `None`: the registry answers 200; `Some(why)`: it does not answer.
    probe_fails: Mutex<Option<String>>,
    probes: Mutex<Vec<(SocketAddr, Scheme)>>,
    /// The client certificate the last probe presented.
    probe_client: Mutex<Option<ClientIdentity>>,
    /// What the storage check (`GET /v2/_catalog`) answers.
    catalog_status: Mutex<u16>,
    /// Docker on the machine: the Python charm's container, if any (none by default).
    legacy: Arc<RecordingLegacy>,
    /// A config the registry refuses (none by default).
    refuses: Refuses,
    /// What a refused cache's upstream answers (it answers by default), and how often it
    /// was asked.
    upstream: Mutex<(Answer, usize)>,
    /// The metrics proxy service, and every spec it was asked about.
    metrics: Arc<RecordingService>,
    metrics_launches: Launches,
}

impl Unit {
    /// A fresh machine (nothing written yet, the package installed) for `name`.
    fn new(name: &str, leader: bool) -> Self {
        Unit {
            name: name.to_string(),
            juju: FakeJuju::new(State::new(name, leader, ADDR)),
            files: Arc::new(RecordingFiles::new()),
            packages: RecordingPackages::with_installed(&["docker-registry"]),
            service: Arc::new(RecordingService::new()),
            launches: Launches::default(),
            probe_fails: Mutex::new(None),
            probes: Mutex::new(Vec::new()),
            probe_client: Mutex::new(None),
            catalog_status: Mutex::new(200),
            legacy: Arc::new(RecordingLegacy::new()),
            refuses: Refuses::default(),
            upstream: Mutex::new((Answer::Answered, 0)),
            metrics: Arc::new(RecordingService::new()),
            metrics_launches: Launches::default(),
        }
    }

    /// The leader `docker-registry/0` with its peer relation (present from deployment).
    fn leader() -> (Self, RelationId) {
        let u = Unit::new("docker-registry/0", true);
        let peer = u.juju.add_relation("peer", "docker-registry");
        (u, peer)
    }

    /// The leader after install → config-changed → start.
    fn serving() -> (Self, RelationId) {
        let (u, peer) = Unit::leader();
        u.deploy();
        (u, peer)
    }

    fn deploy(&self) {
        for ev in [Event::Install, Event::ConfigChanged, Event::Start] {
            self.ok(ev);
        }
    }

    fn ctx(&self, event: Event) -> Context {
        Context {
            unit: self.name.parse().unwrap(),
            model_name: "reg".into(),
            model_uuid: MODEL_UUID.into(),
            charm_dir: PathBuf::from("/var/lib/juju/agents/unit-docker-registry-0/charm"),
            machine_id: Some("0".into()),
            juju_version: "3.6.1".into(),
            event,
        }
    }

    /// Runs one hook; Juju commits its relation and port changes only when it succeeds.
    fn run(&self, event: Event) -> Result<(), Error> {
        let ctx = self.ctx(event);
        let tools = HookTools::new(self.juju.clone());
        let make_service = |spec: ServiceSpec| -> Box<dyn Service> {
            if spec.name == "docker-registry-metrics" {
                self.metrics_launches.lock().unwrap().push(spec.clone());
                return Box::new(Proxy(self.metrics.clone()));
            }
            Box::new(Shared {
                service: self.service.clone(),
                spec,
                launches: self.launches.clone(),
                legacy: self.legacy.clone(),
                files: self.files.clone(),
                refuses: self.refuses.clone(),
            })
        };
        // The binary is there once the package is (a failed install leaves none).
        let binary = || -> Result<PathBuf, PackagesError> {
            match self.packages.is_installed("docker-registry")? {
                true => Ok(PathBuf::from(BINARY)),
                false => Err(PackagesError::BinaryMissing {
                    cause: which::Error::CannotFindBinaryPath,
                }),
            }
        };
        let version = |b: &Path| -> Result<String, PackagesError> {
            assert_eq!(b, Path::new(BINARY));
            Ok(VERSION.to_string())
        };
        let probe = |addr: SocketAddr,
                     scheme: Scheme,
                     client: Option<&ClientIdentity>,
                     _within: Duration,
                     _keep_waiting: &dyn Fn() -> bool| {
            self.probes.lock().unwrap().push((addr, scheme));
            *self.probe_client.lock().unwrap() = client.cloned();
            let refused = self.service.status().is_ok_and(|s| !s.is_running());
            match self.probe_fails.lock().unwrap().clone() {
                None if !refused => Ok(200),
                None => Err(ProbeError::Io {
                    url: format!("{addr}"),
                    cause: std::io::Error::new(
                        std::io::ErrorKind::ConnectionRefused,
                        "the registry is not running",
                    ),
                }),
                Some(why) => Err(ProbeError::Io {
                    url: format!("{addr}"),
                    cause: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, why),
                }),
            }
        };
        let catalog =
            |_: SocketAddr, _: Scheme, _: Option<&ClientIdentity>, _: Option<(&str, &str)>| {
                Ok(*self.catalog_status.lock().unwrap())
            };
        let account = || -> Result<Account, UsersError> {
            Ok(Account {
                uid: OWNER.0,
                gid: OWNER.1,
                groups: vec![OWNER.1],
            })
        };
        let hostname = || HOSTNAME.to_string();
        let ask_upstream = |_: &upstream::Target| {
            let mut u = self.upstream.lock().unwrap();
            u.1 += 1;
            u.0.clone()
        };
        let fx = Effects {
            files: &*self.files,
            packages: &self.packages,
            service: &make_service,
            binary: &binary,
            version: &version,
            account: &account,
            hostname: &hostname,
            probe: &probe,
            catalog: &catalog,
            ready_within: Duration::from_secs(10),
            legacy: self.legacy.as_ref(),
            upstream: &ask_upstream,
        };
        // Logs reach Juju the way they do in a hook: through juju-log.
        let layer = JujuLogLayer::new(self.juju.clone(), std::io::sink());
        let sub = tracing_subscriber::registry()
            .with(LevelFilter::DEBUG)
            .with(layer);
        let result = tracing::subscriber::with_default(sub, || handle_with(&ctx, &tools, &fx));
        match &result {
            Ok(()) => self.juju.commit(),
            Err(_) => self.juju.rollback(),
        }
        result
    }

    fn ok(&self, event: Event) {
        let name = event.name();
        if let Err(e) = self.run(event) {
            panic!("{name} failed: {e} ({e:?})");
        }
    }

    /// Runs an action (action tools work only while it runs).
    fn action(&self, name: &str) {
        self.action_with(name, json!({}));
    }

    /// Runs an action with these params.
    fn action_with(&self, name: &str, params: Value) {
        self.juju.update(|s| s.action_params = Some(params));
        self.ok(Event::Action {
            name: name.into(),
            id: "1".into(),
        });
        self.juju.update(|s| s.action_params = None);
    }

    fn config(&self, pairs: &[(&str, Value)]) {
        self.juju.update(|s| {
            for (k, v) in pairs {
                s.config.insert(k.to_string(), v.clone());
            }
        });
        self.ok(Event::ConfigChanged);
    }

    fn status(&self) -> (String, String) {
        self.juju.status()
    }

    fn text(&self, path: &str) -> String {
        String::from_utf8(
            self.files
                .contents(path)
                .unwrap_or_else(|| panic!("{path} missing")),
        )
        .unwrap()
    }

    /// (mode, uid, gid) of a file.
    fn meta(&self, path: &str) -> (u32, u32, u32) {
        let m = self
            .files
            .stat(Path::new(path))
            .unwrap()
            .unwrap_or_else(|| panic!("{path} missing"));
        (m.mode, m.uid, m.gid)
    }

    fn exists(&self, path: &str) -> bool {
        self.files.exists(Path::new(path)).unwrap()
    }

    /// File operations that changed the machine since `clear_ops`.
    /// Changes to the machine, except the charm's own bookkeeping file (it records the
    /// status it set, so a status change rewrites it).
    fn writes(&self) -> Vec<FileOp> {
        self.files
            .ops()
            .into_iter()
            .filter(|op| op.changed().is_yes())
            .filter(|op| op.path() != Path::new(charm::charm::local::STATE_FILE))
            .collect()
    }

    /// (starts, restarts, stops).
    fn service_calls(&self) -> (usize, usize, usize) {
        (
            self.service.starts(),
            self.service.restarts(),
            self.service.stops(),
        )
    }

    fn log_lines(&self, level: &str) -> Vec<String> {
        self.juju
            .state()
            .logs
            .into_iter()
            .filter(|(l, _)| l == level)
            .map(|(_, m)| m)
            .collect()
    }
}

fn relation_event(kind: RelationKind, rel: &RelationId, remote_unit: Option<&str>) -> Event {
    let unit = remote_unit.map(|u| u.parse().unwrap());
    let remote_app: AppName = match remote_unit {
        Some(u) => u.split('/').next().unwrap().parse().unwrap(),
        None => "remote".parse().unwrap(),
    };
    Event::Relation {
        kind,
        relation: rel.clone(),
        remote_app,
        remote_unit: unit,
        departing_unit: None,
    }
}

fn joined(rel: &RelationId, unit: &str) -> Event {
    relation_event(RelationKind::Joined, rel, Some(unit))
}

fn changed(rel: &RelationId, unit: &str) -> Event {
    relation_event(RelationKind::Changed, rel, Some(unit))
}

fn bag(pairs: &[(&str, &str)]) -> Databag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn active(msg: &str) -> (String, String) {
    ("active".to_string(), msg.to_string())
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The http secret in the charm's Juju secret (committed), and the secret's URI.
fn shared_secret(u: &Unit) -> (String, String) {
    let (id, secret) = u
        .juju
        .secret("registry-shared")
        .expect("the Juju secret registry-shared exists");
    let value = secret.content()["http-secret"].clone();
    (value, format!("secret://{MODEL_UUID}/{id}"))
}

/// The tls-auto CA key in the charm's Juju secret (committed), if any.
fn shared_ca_key(u: &Unit) -> Option<String> {
    let (_, secret) = u.juju.secret("registry-shared")?;
    secret.content().get("tls-auto-ca-key").cloned()
}

/// A follower `name` of the leader's application: the model's secrets and the peer app
/// bag as the leader committed them (both are the model's, not the unit's).
fn follower_of(leader: &Unit, leader_peer: &RelationId, name: &str) -> (Unit, RelationId) {
    let f = Unit::new(name, false);
    let peer = f.juju.add_relation("peer", "docker-registry");
    f.juju
        .set_unit_bag(&peer, &leader.name, juju_keys("10.1.0.4"));
    sync_model(leader, leader_peer, &f, &peer);
    (f, peer)
}

/// Copies what is the model's (secrets, the peer app bag) from unit `a` to unit `b`.
fn sync_model(a: &Unit, a_peer: &RelationId, b: &Unit, b_peer: &RelationId) {
    let secrets = a.juju.state().secrets;
    let app = a.juju.our_app_bag(a_peer);
    b.juju.update(|s| s.secrets = secrets);
    b.juju.with_relation(b_peer, |r| r.our_app = app);
}

/// A client (containerd) related on docker-registry, with one unit.
/// Relates a runtime app, running the relation's first hook (`relation-created`) as Juju
/// does before any other hook of that relation.
fn add_client(u: &Unit, app: &str) -> RelationId {
    let rel = u.juju.add_relation("docker-registry", app);
    u.juju
        .set_unit_bag(&rel, &format!("{app}/0"), juju_keys("10.1.0.50"));
    u.ok(relation_event(RelationKind::Created, &rel, None));
    rel
}

// ---- certificates -----------------------------------------------------------------------

struct Ca {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn ca() -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "Test easyrsa CA");
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: rcgen::Issuer::new(p, key),
    }
}

/// A server certificate and key for `sans`, valid from yesterday for `days` days (negative:
/// already expired).
fn server_cert(ca: &Ca, sans: &[String], days: i64) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(sans.to_vec()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(30);
    p.not_after = now + time::Duration::days(days);
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// easyrsa 3.0/3.1 prints a text dump of the certificate before its PEM armour.
fn easyrsa_text(pem: &str) -> String {
    format!(
        "Certificate:\n    Data:\n        Version: 3 (0x2)\n        Serial Number:\n            1a:2b:3c\n        Signature Algorithm: ecdsa-with-SHA256\n        Subject: CN={ADDR}\n{pem}"
    )
}

/// Config blobs for a good TLS bundle covering the unit address.
fn tls_blobs(ca: &Ca) -> Vec<(&'static str, Value)> {
    let (cert, key) = server_cert(ca, &[ADDR.to_string()], 90);
    vec![
        ("tls-ca-blob", json!(b64(&ca.pem))),
        ("tls-cert-blob", json!(b64(&cert))),
        ("tls-key-blob", json!(b64(&key))),
    ]
}

/// Clears the three `tls-*-blob` options (an operator turning config TLS off).
fn clear_tls_blobs(u: &Unit) {
    u.config(&[
        ("tls-ca-blob", json!("")),
        ("tls-cert-blob", json!("")),
        ("tls-key-blob", json!("")),
    ]);
}

/// No WARNING reached juju-log.
fn assert_no_warnings(u: &Unit) {
    let warnings = u.log_lines("WARNING");
    assert!(warnings.is_empty(), "{warnings:?}");
}

// ---- fresh unit ---------------------------------------------------------------------------

/// A fresh unit writes its config with the right owner, starts the
/// registry once, opens registry-port and reports Ready; the leader shares http.secret.
#[test]
fn fresh_unit_install_config_changed_start_serves_once() {
    let (u, peer) = Unit::serving();
    let (_uid, gid) = service_user().unwrap();

    assert_eq!(
        u.meta(CONFIG_PATH),
        (0o640, 0, gid),
        "config.yml root:<registry gid> 0640"
    );
    assert!(!u.exists(HTPASSWD_PATH), "no htpasswd without a password");
    assert_eq!(u.service_calls(), (1, 0, 0), "started exactly once");
    let state = u.juju.state();
    assert_eq!(state.opened_ports.iter().collect::<Vec<_>>(), ["5000/tcp"]);
    assert_eq!(state.app_version.as_deref(), Some(VERSION));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));

    let (secret, uri) = shared_secret(&u);
    assert_eq!(secret.len(), 44, "base64 of 32 bytes: {secret}");
    assert!(
        u.text(CONFIG_PATH).contains(&secret),
        "config.yml renders the shared secret"
    );
    assert_eq!(
        u.juju.our_app_bag(&peer),
        bag(&[("shared-secret", &uri)]),
        "the peer relation holds the secret's URI, never its value"
    );
    assert!(
        state.leader_settings.is_empty(),
        "new deployments use a Juju secret"
    );
    // The spec the service was built from runs the binary we found, as the registry user.
    let spec = u.launches.lock().unwrap().last().cloned().unwrap();
    assert_eq!(spec.binary, PathBuf::from(BINARY));
    assert_eq!(spec.user.as_deref(), Some("docker-registry"));
    assert_eq!(u.probes.lock().unwrap().last().unwrap().1, Scheme::Http);
}

/// One http.secret for all units: a follower never invents its own secret;
/// it waits, and starts once the leader's secret arrives (read by the URI in the peer
/// app bag).
#[test]
fn follower_without_secret_waits_then_starts_with_the_leaders_secret() {
    let (leader, leader_peer) = Unit::serving();
    let u = Unit::new("docker-registry/1", false);
    let peer = u.juju.add_relation("peer", "docker-registry");
    u.juju
        .set_unit_bag(&peer, "docker-registry/0", juju_keys("10.1.0.4"));
    u.deploy();
    assert_eq!(u.status().0, "waiting", "{:?}", u.status());
    assert!(u.status().1.contains("HTTP secret"), "{:?}", u.status());
    assert_eq!(u.service_calls(), (0, 0, 0));
    assert!(!u.exists(CONFIG_PATH));
    assert!(u.juju.relation_sets().iter().all(|(_, app, _)| !app));
    assert!(u.juju.calls_of("secret-add").is_empty());

    sync_model(&leader, &leader_peer, &u, &peer);
    u.ok(changed(&peer, "docker-registry/0"));
    assert_eq!(u.service_calls(), (1, 0, 0));
    let (secret, uri) = shared_secret(&leader);
    assert!(u.text(CONFIG_PATH).contains(&secret));
    // Two units on filesystem storage: active, and says so (B30).
    assert_eq!(
        u.status(),
        active(
            "Ready at 10.1.0.5:5000 (http). Filesystem storage on 2 units: an image pushed \
             to one is not on the others; use s3 or swift storage to share them."
        )
    );
    let reads = u.juju.calls_of("secret-get");
    assert_eq!(
        reads.last().unwrap().args,
        ["--format=json", "--refresh", uri.as_str()],
        "a follower reads by URI and follows new revisions"
    );
    assert!(u.juju.calls_of("secret-set").is_empty());
}

// ---- idempotence --------------------------------------------------------------------------

/// Idempotence (and the benchmark): no-op events restart nothing, write nothing, set no
/// relation data and leave the status as it was.
#[test]
fn a_hundred_noop_events_change_nothing() {
    let (u, _peer) = Unit::serving();
    let client = add_client(&u, "containerd");
    let website = u.juju.add_relation("website", "haproxy");
    u.juju
        .set_unit_bag(&website, "haproxy/0", juju_keys("10.1.0.100"));
    u.ok(joined(&client, "containerd/0"));
    u.ok(joined(&website, "haproxy/0"));
    let before = u.status();
    let calls_before = u.service_calls();
    u.files.clear_ops();
    u.juju.clear_calls();
    let statuses_before = u.juju.state().statuses.len();

    for i in 0..100 {
        u.ok(if i % 2 == 0 {
            Event::UpdateStatus
        } else {
            Event::ConfigChanged
        });
    }
    assert_eq!(u.service_calls(), calls_before, "no start, restart or stop");
    assert_eq!(u.writes(), vec![], "no file written");
    assert_eq!(
        u.juju.calls_of("relation-set"),
        vec![],
        "no relation data set"
    );
    assert_eq!(
        u.juju.calls_of("open-port").len() + u.juju.calls_of("close-port").len(),
        0
    );
    let statuses = u.juju.state().statuses;
    assert!(
        statuses[statuses_before..].iter().all(|s| *s == before),
        "status changed: {:?}",
        &statuses[statuses_before..]
    );
}

// ---- config changes -----------------------------------------------------------------------

/// A change to what config.yml says restarts the registry exactly once (B18).
#[test]
fn config_yml_change_restarts_exactly_once() {
    let (u, _) = Unit::serving();
    u.config(&[("log-level", json!("debug"))]);
    assert_eq!(u.service_calls(), (1, 1, 0));
    assert!(u.text(CONFIG_PATH).contains("debug"));
    u.ok(Event::ConfigChanged);
    assert_eq!(
        u.service_calls(),
        (1, 1, 0),
        "the same config again: no restart"
    );
}

/// The registry re-reads htpasswd itself, so a new password rewrites the file
/// but never restarts.
#[test]
fn password_only_change_rewrites_htpasswd_without_restart() {
    let (u, _) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.config(&[("auth-basic-password", json!("first-pw"))]);
    // Turning auth on changes config.yml (the auth section): one restart.
    assert_eq!(u.service_calls(), (1, 1, 0));
    let (_uid, gid) = service_user().unwrap();
    assert_eq!(u.meta(HTPASSWD_PATH), (0o640, 0, gid));
    assert!(charm::htpasswd::verify_file(
        &u.text(HTPASSWD_PATH),
        "admin",
        "first-pw"
    ));

    u.files.clear_ops();
    u.config(&[("auth-basic-password", json!("second-pw"))]);
    assert_eq!(u.service_calls(), (1, 1, 0), "password change: no restart");
    let htpasswd = u.text(HTPASSWD_PATH);
    assert!(charm::htpasswd::verify_file(
        &htpasswd,
        "admin",
        "second-pw"
    ));
    assert!(!charm::htpasswd::verify_file(
        &htpasswd, "admin", "first-pw"
    ));
    let written: Vec<PathBuf> = u
        .writes()
        .iter()
        .map(|op| op.path().to_path_buf())
        .collect();
    assert!(
        written.contains(&PathBuf::from(HTPASSWD_PATH)),
        "{written:?}"
    );
    assert!(
        !written.contains(&PathBuf::from(CONFIG_PATH)),
        "{written:?}"
    );
    assert_eq!(u.juju.our_bag(&client)["basic_password"], "\"second-pw\"");
}

/// open-port/close-port follow registry-port (B17).
#[test]
fn registry_port_change_moves_the_open_port_and_restarts() {
    let (u, _) = Unit::serving();
    u.juju.clear_calls();
    u.config(&[("registry-port", json!(5443))]);
    let ports: Vec<Vec<String>> = u
        .juju
        .calls()
        .into_iter()
        .filter(|c| c.tool.ends_with("-port"))
        .map(|c| [vec![c.tool], c.args].concat())
        .collect();
    assert_eq!(
        ports,
        [
            vec!["close-port", "5000/tcp"],
            vec!["open-port", "5443/tcp"]
        ]
    );
    let state = u.juju.state();
    assert_eq!(state.opened_ports.iter().collect::<Vec<_>>(), ["5443/tcp"]);
    assert_eq!(u.service_calls(), (1, 1, 0));
    assert!(u.text(CONFIG_PATH).contains(":5443"));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5443 (http)."));
    assert_eq!(u.probes.lock().unwrap().last().unwrap().0.port(), 5443);
}

/// B19, B20: every invalid option blocks with the option named, and the
/// registry keeps serving its last good config: nothing written, restarted or stopped.
#[test]
fn each_invalid_option_blocks_and_keeps_serving() {
    let ca = ca();
    let (cert, _key) = server_cert(&ca, &[ADDR.to_string()], 90);
    let cases: Vec<(Vec<(&str, Value)>, &str)> = vec![
        (vec![("registry-port", json!(0))], "registry-port"),
        (vec![("registry-port", json!(70000))], "registry-port"),
        (vec![("storage-cache", json!("bogus"))], "storage-cache"),
        (vec![("tls-cert-blob", json!(b64(&cert)))], "tls-key-blob"),
        (
            vec![("tls-ca-blob", json!("not base64 at all!"))],
            "tls-ca-blob",
        ),
        (
            vec![("http-host", json!("registry.example.com"))],
            "http-host",
        ),
        (
            vec![("storage-s3-region", json!("us-east-1"))],
            "storage-s3-bucket",
        ),
    ];
    for (pairs, option) in cases {
        let (u, _) = Unit::serving();
        let config_before = u.text(CONFIG_PATH);
        u.files.clear_ops();
        u.config(&pairs);
        let (kind, msg) = u.status();
        assert_eq!(kind, "blocked", "{pairs:?}: {msg}");
        let prefix = format!("Invalid charm config: {option}: ");
        assert!(
            msg.starts_with(&prefix),
            "{pairs:?}: {msg:?} should start with {prefix:?}"
        );
        assert_eq!(u.writes(), vec![], "{pairs:?}: nothing written");
        assert_eq!(
            u.service_calls(),
            (1, 0, 0),
            "{pairs:?}: not restarted nor stopped"
        );
        assert_eq!(u.text(CONFIG_PATH), config_before);
        assert!(u.service.status().unwrap().is_running());
    }
}

/// A crashed registry is started again at the next update-status, once.
#[test]
fn crash_is_noticed_at_update_status_and_started_once() {
    let (u, _) = Unit::serving();
    u.service.crash();
    u.ok(Event::UpdateStatus);
    assert_eq!(u.service_calls(), (2, 0, 0));
    u.ok(Event::UpdateStatus);
    assert_eq!(u.service_calls(), (2, 0, 0));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// B25: Ready only when the registry answers; otherwise waiting with the reason.
#[test]
fn not_answering_registry_is_waiting_not_ready() {
    let (u, _) = Unit::leader();
    *u.probe_fails.lock().unwrap() = Some("connection refused".into());
    u.deploy();
    let (kind, msg) = u.status();
    assert_eq!(kind, "waiting");
    assert!(msg.contains("not answering"), "{msg}");
    *u.probe_fails.lock().unwrap() = None;
    u.ok(Event::UpdateStatus);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

// ---- relations ----------------------------------------------------------------------------

/// B1: clients get the five keys, JSON-encoded, with the port.
#[test]
fn client_relation_gets_five_json_keys_with_the_port() {
    let (u, _) = Unit::serving();
    u.config(&[("registry-port", json!(5443))]);
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    let ours = u.juju.our_bag(&client);
    let want = bag(&[
        ("registry_netloc", "\"10.1.0.5:5443\""),
        ("registry_url", "\"http://10.1.0.5:5443\""),
        ("basic_user", "null"),
        ("basic_password", "null"),
        ("tls_ca", "null"),
    ]);
    for (k, v) in &want {
        assert_eq!(ours.get(k), Some(v), "{k} in {ours:?}");
    }
    assert_eq!(
        u.juju.our_app_bag(&client),
        Databag::new(),
        "nothing in the app bag"
    );
}

/// B3: TLS from config blobs means https for clients, with the CA, and `(https)` status.
#[test]
fn config_tls_blobs_give_clients_https_and_the_ca() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    u.config(&tls_blobs(&ca));
    let ours = u.juju.our_bag(&client);
    assert_eq!(ours["registry_url"], "\"https://10.1.0.5:5000\"");
    let tls_ca: String = serde_json::from_str(&ours["tls_ca"]).unwrap();
    assert_eq!(tls_ca.trim(), ca.pem.trim());
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    let (uid, gid) = service_user().unwrap();
    assert_eq!(u.meta(DEFAULT_TLS_KEY_PATH), (0o600, uid, gid));
    assert_eq!(u.meta(DEFAULT_TLS_CERT_PATH).0, 0o644);
    assert_eq!(u.meta(DEFAULT_TLS_CA_PATH).0, 0o644);
    assert_eq!(u.service_calls(), (1, 1, 0));
    assert_eq!(u.probes.lock().unwrap().last().unwrap().1, Scheme::Https);
}

/// B5: a client related later gets the data at once, identical to the first one's.
#[test]
fn second_client_relation_gets_data_at_once() {
    let (u, _) = Unit::serving();
    u.config(&[("auth-basic-password", json!("pw"))]);
    let first = add_client(&u, "containerd");
    u.ok(joined(&first, "containerd/0"));
    let second = add_client(&u, "docker");
    u.ok(joined(&second, "docker/0"));
    let a = u.juju.our_bag(&first);
    let b = u.juju.our_bag(&second);
    for k in [
        "registry_netloc",
        "registry_url",
        "basic_user",
        "basic_password",
        "tls_ca",
    ] {
        assert_eq!(a.get(k), b.get(k), "{k}");
        assert!(b.contains_key(k), "{k} missing on the second relation");
    }
    assert_eq!(b["basic_user"], "\"admin\"");
}

/// Garbage from a remote unit is logged and ignored; the hook succeeds (never a failed
/// hook because of another charm's data).
#[test]
fn garbage_remote_data_is_logged_and_ignored() {
    let (u, _) = Unit::serving();
    let cp = u.juju.add_relation("cert-provider", "easyrsa");
    u.juju.set_unit_bag(
        &cp,
        "easyrsa/0",
        bag(&[
            ("ca", "garbage"),
            ("docker-registry_0.server.cert", "not a certificate"),
            ("private-address", "10.1.0.9"),
        ]),
    );
    u.ok(changed(&cp, "easyrsa/0"));
    let website = u.juju.add_relation("website", "haproxy");
    u.juju.set_unit_bag(
        &website,
        "haproxy/0",
        bag(&[("private-address", "not an address!")]),
    );
    u.ok(changed(&website, "haproxy/0"));

    let warnings = u.log_lines("WARNING");
    assert!(
        warnings.iter().any(|w| w.contains("easyrsa/0")),
        "cert-provider garbage not logged: {warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("haproxy/0")),
        "website garbage not logged: {warnings:?}"
    );
    assert_eq!(
        u.status(),
        active(&format!("Ready at 10.1.0.5:5000 (http). {UNUSABLE}"))
    );
    assert!(!u.exists(DEFAULT_TLS_CERT_PATH));
}

/// B4 and B1: every unit publishes itself as a server with its ingress address, a
/// `backup` while a lower-NUMBERED unit exists (filesystem storage; /2 is lower than
/// /10, not higher); clients and the status get haproxy's address WITH registry-port.
#[test]
fn every_unit_publishes_itself_and_the_proxied_netloc_keeps_the_port() {
    let u = Unit::new("docker-registry/5", true);
    let peer = u.juju.add_relation("peer", "docker-registry");
    u.juju
        .set_unit_bag(&peer, "docker-registry/10", juju_keys("10.1.0.10"));
    u.juju
        .set_unit_bag(&peer, "docker-registry/2", juju_keys("10.1.0.2"));
    u.deploy();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    let website = u.juju.add_relation("website", "haproxy");
    let mut haproxy = juju_keys("10.1.0.99");
    haproxy.insert("public-address".into(), "10.1.0.100".into());
    u.juju.set_unit_bag(&website, "haproxy/0", haproxy);
    u.ok(joined(&website, "haproxy/0"));

    let ours = u.juju.our_bag(&website);
    assert_eq!(ours["hostname"], ADDR);
    assert_eq!(ours["private-address"], ADDR);
    assert_eq!(ours["port"], "5000");
    let services = &ours["services"];
    assert!(
        services.contains(&format!(
            "[docker-registry-5, {ADDR}, 5000, check inter 500ms rise 2 fall 2 maxconn 4096 backup]"
        )),
        "{services}"
    );
    assert!(
        !services.contains("docker-registry-2") && !services.contains("docker-registry-10"),
        "a unit speaks only for itself: {services}"
    );

    // A runtime related to plain http is told what it misses (B6).
    assert_eq!(
        u.status(),
        active(
            "Ready at 10.1.0.100:5000 (http, proxied). Filesystem storage on 3 units: an \
             image pushed to one is not on the others; use s3 or swift storage to share them. \
             Container runtimes pull over HTTPS only: juju config docker-registry \
             tls-auto=true, or relate a CA."
        )
    );
    assert_eq!(
        u.juju.our_bag(&client)["registry_netloc"],
        "\"10.1.0.100:5000\""
    );
}

/// A follower publishes itself too (haproxy's backend must not depend on the leader), and
/// a stanza it wrote as a former leader, listing other units, is replaced.
#[test]
fn a_follower_publishes_itself_and_drops_what_it_wrote_as_leader() {
    let u = Unit::new("docker-registry/1", false);
    let peer = u.juju.add_relation("peer", "docker-registry");
    u.juju.with_relation(&peer, |r| {
        r.our_app = bag(&[("http-secret", "c2VjcmV0LXNoYXJlZC1ieS10aGUtbGVhZGVy")])
    });
    let website = u.juju.add_relation("website", "haproxy");
    u.juju
        .set_unit_bag(&website, "haproxy/0", juju_keys("10.1.0.100"));
    // What it published while it was the leader.
    u.juju.with_relation(&website, |r| {
        r.ours.extend(bag(&[
            ("hostname", ADDR),
            ("port", "5000"),
            (
                "services",
                "- service_name: docker-registry\n  servers:\n  - [docker-registry-0, 10.1.0.4, 5000, check]\n",
            ),
        ]))
    });
    u.deploy();
    let ours = u.juju.our_bag(&website);
    assert_eq!(ours["hostname"], ADDR);
    assert_eq!(ours["private-address"], ADDR);
    let services = &ours["services"];
    assert!(services.contains("[docker-registry-1, "), "{services}");
    assert!(!services.contains("docker-registry-0"), "{services}");
    assert!(!ours.contains_key("all_services"));
}

// ---- cert-provider ------------------------------------------------------------------------

/// Our request carries the legacy keys easyrsa reads and a v4 CSR; it is
/// stable across hooks (no relation churn).
#[test]
fn cert_provider_request_is_published_once_and_stable() {
    let (u, _) = Unit::serving();
    let cp = u.juju.add_relation("cert-provider", "easyrsa");
    u.juju.set_unit_bag(&cp, "easyrsa/0", juju_keys("10.1.0.9"));
    u.ok(joined(&cp, "easyrsa/0"));
    let ours = u.juju.our_bag(&cp);
    assert_eq!(ours["unit_name"], "docker-registry_0");
    assert_eq!(ours["common_name"], ADDR);
    let sans: Vec<String> = serde_json::from_str(&ours["sans"]).unwrap();
    assert!(sans.contains(&ADDR.to_string()), "{sans:?}");
    let csrs: Value = serde_json::from_str(&ours["certificate_signing_requests"]).unwrap();
    let csr = csrs[0]["certificate_signing_request"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(csr.contains("BEGIN CERTIFICATE REQUEST"), "{csr}");

    u.juju.clear_calls();
    u.files.clear_ops();
    u.ok(changed(&cp, "easyrsa/0"));
    u.ok(Event::UpdateStatus);
    assert_eq!(u.juju.relation_sets(), vec![], "no relation churn");
    assert_eq!(u.juju.our_bag(&cp), ours);
    assert_eq!(
        u.writes(),
        vec![],
        "the key and request are not regenerated"
    );
    assert_eq!(
        u.status(),
        active("Ready at 10.1.0.5:5000 (http). Waiting for a certificate from cert-provider.")
    );
}

/// Runs the cert-provider request and answers it like easyrsa; returns the relation.
fn easyrsa_answers(u: &Unit, ca: &Ca, days: i64) -> RelationId {
    let cp = u.juju.add_relation("cert-provider", "easyrsa");
    u.juju.set_unit_bag(&cp, "easyrsa/0", juju_keys("10.1.0.9"));
    u.ok(joined(&cp, "easyrsa/0"));
    let sans: Vec<String> = serde_json::from_str(&u.juju.our_bag(&cp)["sans"]).unwrap();
    let (cert, key) = server_cert(ca, &sans, days);
    let mut answer = juju_keys("10.1.0.9");
    answer.extend(bag(&[
        ("ca", &ca.pem),
        ("client.cert", &easyrsa_text(&cert)),
        ("client.key", &key),
        ("docker-registry_0.server.cert", &easyrsa_text(&cert)),
        ("docker-registry_0.server.key", &key),
    ]));
    u.juju.set_unit_bag(&cp, "easyrsa/0", answer);
    u.ok(changed(&cp, "easyrsa/0"));
    cp
}

/// A legacy easyrsa answer (text preamble included) turns TLS on: files with
/// safe modes, one restart, https for everyone.
#[test]
fn legacy_easyrsa_answer_turns_tls_on() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    easyrsa_answers(&u, &ca, 90);

    let (uid, gid) = service_user().unwrap();
    assert_eq!(u.meta(DEFAULT_TLS_KEY_PATH), (0o600, uid, gid));
    assert_eq!(u.meta(DEFAULT_TLS_CERT_PATH).0, 0o644);
    assert!(u
        .text(DEFAULT_TLS_CERT_PATH)
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(u.text(DEFAULT_TLS_CA_PATH).trim(), ca.pem.trim());
    assert_eq!(u.service_calls(), (1, 1, 0), "one restart");
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(
        u.juju.our_bag(&client)["registry_url"],
        "\"https://10.1.0.5:5000\""
    );
    u.ok(Event::UpdateStatus);
    assert_eq!(u.service_calls(), (1, 1, 0), "and only one");
}

/// An expired certificate from the provider is ignored with a warning; the unit stays http.
#[test]
fn expired_provider_certificate_is_ignored_with_a_warning() {
    let ca = ca();
    let (u, _) = Unit::serving();
    easyrsa_answers(&u, &ca, -1);
    let warnings = u.log_lines("WARNING");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("cert-provider") && w.contains("expired")),
        "{warnings:?}"
    );
    assert!(!u.exists(DEFAULT_TLS_CERT_PATH));
    assert!(!u.exists(DEFAULT_TLS_KEY_PATH));
    assert_eq!(u.service_calls(), (1, 0, 0));
    assert_eq!(
        u.status(),
        active(&format!("Ready at 10.1.0.5:5000 (http). {UNUSABLE}"))
    );
}

const UNUSABLE: &str = "The certificate from cert-provider is unusable (juju debug-log says why).";

/// Garbage from the CA charm after it issued a good certificate: the issued one keeps
/// serving, nothing restarts, and the status says the answer is unusable (not "renewal
/// pending", which would have the operator wait for nothing).
#[test]
fn garbage_after_a_good_certificate_keeps_https_and_says_the_answer_is_unusable() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let cp = easyrsa_answers(&u, &ca, 90);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    let calls = u.service_calls();

    let mut garbage = juju_keys("10.1.0.9");
    garbage.extend(bag(&[
        ("ca", "garbage"),
        (
            "docker-registry_0.server.cert",
            "-----BEGIN CERTIFICATE-----xx",
        ),
        ("docker-registry_0.server.key", "nope"),
    ]));
    u.juju.set_unit_bag(&cp, "easyrsa/0", garbage);
    u.ok(changed(&cp, "easyrsa/0"));

    assert_eq!(
        u.status(),
        active(&format!("Ready at 10.1.0.5:5000 (https). {UNUSABLE}"))
    );
    assert!(u.exists(DEFAULT_TLS_CERT_PATH));
    assert_eq!(u.service_calls(), calls, "nothing restarted");
    let warnings = u.log_lines("WARNING");
    assert!(
        warnings.iter().any(|w| w.contains("easyrsa/0")),
        "{warnings:?}"
    );
}

/// B22/B8: removing the cert provider removes the charm's TLS files and falls back to
/// http, without a failed hook.
#[test]
fn removing_the_cert_provider_falls_back_to_http() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let cp = easyrsa_answers(&u, &ca, 90);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    u.juju.remove_relation(&cp);
    u.ok(relation_event(RelationKind::Broken, &cp, None));
    for p in [
        DEFAULT_TLS_KEY_PATH,
        DEFAULT_TLS_CERT_PATH,
        DEFAULT_TLS_CA_PATH,
    ] {
        assert!(!u.exists(p), "{p} left behind");
    }
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert_eq!(u.service_calls(), (1, 2, 0), "one restart on, one off");
}

// ---- actions and teardown -----------------------------------------------------------------

/// The stop action keeps the registry down until the start action, across hooks.
#[test]
fn stop_action_holds_until_start_action() {
    let (u, _) = Unit::serving();
    let ports = |u: &Unit| u.juju.state().opened_ports.into_iter().collect::<Vec<_>>();
    assert_eq!(ports(&u), ["5000/tcp"]);
    u.action("stop");
    assert_eq!(u.service_calls(), (1, 0, 1));
    assert!(
        ports(&u).is_empty(),
        "stop closes the ports: {:?}",
        ports(&u)
    );
    let (kind, msg) = u.status();
    assert_eq!(kind, "blocked");
    assert!(msg.contains("`start`"), "{msg}");
    assert_eq!(
        u.juju.state().action_results,
        BTreeMap::from([("outcome".to_string(), "success".to_string())])
    );
    u.ok(Event::UpdateStatus);
    u.ok(Event::ConfigChanged);
    assert_eq!(u.service_calls(), (1, 0, 1), "stays stopped");
    assert_eq!(u.status().0, "blocked");
    assert!(
        ports(&u).is_empty(),
        "hooks keep them closed: {:?}",
        ports(&u)
    );
    u.action("start");
    assert_eq!(u.service_calls(), (2, 0, 1));
    assert_eq!(ports(&u), ["5000/tcp"]);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// B33: remove cleans up what the charm wrote and never touches image data.
#[test]
fn remove_cleans_the_charms_files_and_keeps_image_data() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let mut cfg = tls_blobs(&ca);
    cfg.push(("auth-basic-password", json!("pw")));
    u.config(&cfg);
    let cp = u.juju.add_relation("cert-provider", "easyrsa");
    u.ok(joined(&cp, "easyrsa/0"));
    let blob = "/srv/registry/docker/registry/v2/blobs/sha256/ab/abcd/data";
    u.files
        .seed_file(blob, b"layer", 0o644, service_user().unwrap());
    let operator = "/etc/docker/registry/notes.txt";
    u.files.seed_file(operator, b"mine", 0o644, (0, 0));
    let written: Vec<String> = [
        CONFIG_PATH,
        HTPASSWD_PATH,
        DEFAULT_TLS_CA_PATH,
        DEFAULT_TLS_CERT_PATH,
        DEFAULT_TLS_KEY_PATH,
        "/var/lib/docker-registry-charm/state.json",
        "/var/lib/docker-registry-charm/cert-provider.key",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for p in &written {
        assert!(u.exists(p), "{p} should exist before remove");
    }

    u.juju.remove_relation(&cp);
    u.ok(Event::Stop);
    assert_eq!(u.service_calls().2, 1, "stop stops the registry");
    u.ok(Event::Remove);
    for p in &written {
        assert!(!u.exists(p), "{p} left behind");
    }
    assert_eq!(u.files.contents(blob).as_deref(), Some(&b"layer"[..]));
    assert!(u.exists("/srv/registry"));
    assert_eq!(u.files.contents(operator).as_deref(), Some(&b"mine"[..]));
}

// ---- more rules ---------------------------------------------------------------------------

/// Nothing lost: fixing a bad value returns to Ready without a restart when
/// the good config is the one already served.
#[test]
fn fixing_an_invalid_option_returns_to_ready_without_restart() {
    let (u, _) = Unit::serving();
    u.config(&[("registry-port", json!(0))]);
    assert_eq!(u.status().0, "blocked");
    u.files.clear_ops();
    u.config(&[("registry-port", json!(5000))]);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert_eq!(u.service_calls(), (1, 0, 0));
    assert_eq!(u.writes(), vec![]);
}

/// With a bad config the last good one keeps serving, even across a crash (B19).
#[test]
fn crash_while_blocked_restarts_the_last_good_config() {
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    u.config(&[("storage-cache", json!("bogus"))]);
    u.service.crash();
    u.ok(Event::UpdateStatus);
    assert_eq!(u.service_calls(), (2, 0, 0));
    assert_eq!(u.text(CONFIG_PATH), good);
    assert!(u
        .status()
        .1
        .starts_with("Invalid charm config: storage-cache: "));
}

/// B22: certificate files an operator put at the tls-*-path locations are used as they
/// are (https, CA to clients) and never removed by the charm.
#[test]
fn operator_tls_files_are_used_and_never_removed() {
    let ca = ca();
    let (cert, key) = server_cert(&ca, &[ADDR.to_string()], 90);
    let (u, _) = Unit::leader();
    let gid = service_user().unwrap().1;
    u.files
        .seed_file(DEFAULT_TLS_CERT_PATH, cert.as_bytes(), 0o644, (0, 0));
    u.files
        .seed_file(DEFAULT_TLS_KEY_PATH, key.as_bytes(), 0o640, (0, gid));
    u.files
        .seed_file(DEFAULT_TLS_CA_PATH, ca.pem.as_bytes(), 0o644, (0, 0));
    u.deploy();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(
        u.juju.our_bag(&client)["registry_url"],
        "\"https://10.1.0.5:5000\""
    );
    u.ok(Event::Stop);
    u.ok(Event::Remove);
    assert_eq!(
        u.files.contents(DEFAULT_TLS_KEY_PATH).as_deref(),
        Some(key.as_bytes())
    );
    assert!(u.exists(DEFAULT_TLS_CERT_PATH) && u.exists(DEFAULT_TLS_CA_PATH));
    assert!(!u.exists(CONFIG_PATH));
}

/// Operator files the registry's user cannot read (a root-only key: 0600 root, what an
/// admin or the Python charm's root container was content with; seen on jujusim: "open
/// registry.key: permission denied") are served through copies the charm keeps for it,
/// so the registry never dies at start; once the operator makes them readable, the
/// originals serve and the copies go. Empty files block, keeping the last good config.
#[test]
fn operator_tls_files_the_registry_cannot_read_are_served_from_copies() {
    const COPY_CERT: &str = "/etc/docker/registry/operator-tls.crt";
    const COPY_KEY: &str = "/etc/docker/registry/operator-tls.key";
    let ca = ca();
    let (cert, key) = server_cert(&ca, &[ADDR.to_string()], 90);
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    u.files
        .seed_file(DEFAULT_TLS_CERT_PATH, cert.as_bytes(), 0o644, (0, 0));
    u.files
        .seed_file(DEFAULT_TLS_KEY_PATH, key.as_bytes(), 0o600, (0, 0));
    u.ok(Event::UpdateStatus);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(u.text(COPY_KEY), key);
    assert_eq!(u.meta(COPY_KEY), (0o600, OWNER.0, OWNER.1));
    assert_eq!(u.text(COPY_CERT), cert);
    assert_eq!(
        u.meta(DEFAULT_TLS_KEY_PATH),
        (0o600, 0, 0),
        "the original is untouched"
    );
    let config = u.text(CONFIG_PATH);
    assert!(config.contains(&format!("key: \"{COPY_KEY}\"")), "{config}");
    assert!(
        config.contains(&format!("certificate: \"{COPY_CERT}\"")),
        "{config}"
    );
    assert_eq!(u.service_calls(), (1, 1, 0), "one restart onto TLS");
    let info = u.log_lines("INFO").join("\n");
    assert!(
        info.contains(
            "/etc/docker/registry/registry.key cannot be read by the docker-registry user"
        ),
        "{info}"
    );
    u.ok(Event::UpdateStatus);
    assert_eq!(
        u.service_calls(),
        (1, 1, 0),
        "a no-op hook restarts nothing"
    );

    // Made readable by the registry's group: the originals serve, the copies go.
    u.files
        .seed_file(DEFAULT_TLS_KEY_PATH, key.as_bytes(), 0o640, (0, OWNER.1));
    u.ok(Event::UpdateStatus);
    assert!(!u.exists(COPY_KEY) && !u.exists(COPY_CERT));
    let config = u.text(CONFIG_PATH);
    assert!(
        config.contains("key: \"/etc/docker/registry/registry.key\""),
        "{config}"
    );
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));

    u.files.seed_file(DEFAULT_TLS_CERT_PATH, b"", 0o644, (0, 0));
    u.files.seed_file(DEFAULT_TLS_KEY_PATH, b"", 0o644, (0, 0));
    let serving = u.text(CONFIG_PATH);
    u.ok(Event::UpdateStatus);
    let (kind, msg) = u.status();
    assert_eq!(kind, "blocked");
    assert!(msg.contains("are empty"), "{msg}");
    assert_eq!(
        u.text(CONFIG_PATH),
        serving,
        "the last good config keeps serving"
    );
    assert_ne!(serving, good);
}

/// Team rule: secrets never in logs (password, http secret, private keys).
#[test]
fn secrets_never_reach_juju_log() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let mut cfg = tls_blobs(&ca);
    cfg.push(("auth-basic-password", json!("hunter2-password")));
    u.config(&cfg);
    easyrsa_answers(&u, &ca, 90);
    u.config(&[("registry-port", json!(0))]);
    let (secret, _) = shared_secret(&u);
    let logs = u.juju.state().logs;
    assert!(!logs.is_empty());
    for (level, line) in &logs {
        for needle in ["hunter2-password", secret.as_str(), "PRIVATE KEY"] {
            assert!(!line.contains(needle), "{level} {line:?} leaks {needle:?}");
        }
    }
}

/// Keeps serving the last good config: a registry restarted while the
/// config is invalid runs with the environment it was configured with (HTTP(S)_PROXY for
/// a pull-through cache), not an empty one.
#[test]
fn crash_while_blocked_keeps_the_proxy_environment() {
    let (u, _) = Unit::serving();
    u.config(&[
        ("registry-http-proxy", json!("http://squid.internal:3128")),
        ("cache-remoteurl", json!("https://registry-1.docker.io")),
    ]);
    let env = |spec: &ServiceSpec| spec.env.clone();
    let good = env(u.launches.lock().unwrap().last().unwrap());
    assert!(
        good.contains(&("HTTP_PROXY".into(), "http://squid.internal:3128".into())),
        "{good:?}"
    );
    u.config(&[("storage-cache", json!("bogus"))]);
    u.service.crash();
    u.ok(Event::UpdateStatus);
    assert_eq!(u.service_calls().0, 2, "started again");
    let relaunched = env(u.launches.lock().unwrap().last().unwrap());
    assert_eq!(relaunched, good, "restarted without its proxy environment");
}

/// A v4 provider signing the unit's first CSR on `cp` with `ca` and answering in its app
/// bag (then the relation-changed hook); the certificate.
fn sign_v4(u: &Unit, cp: &RelationId, ca: &Ca) -> String {
    let csrs: Value =
        serde_json::from_str(&u.juju.our_bag(cp)["certificate_signing_requests"]).unwrap();
    let csr = csrs[0]["certificate_signing_request"]
        .as_str()
        .unwrap()
        .to_string();
    let cert = rcgen::CertificateSigningRequestParams::from_pem(&csr)
        .unwrap()
        .signed_by(&ca.issuer)
        .unwrap()
        .pem();
    let answer = json!([{
        "certificate_signing_request": csr,
        "certificate": cert,
        "ca": ca.pem,
        "chain": [cert, ca.pem],
    }]);
    u.juju
        .set_remote_app_bag(cp, bag(&[("certificates", &answer.to_string())]));
    u.ok(relation_event(RelationKind::Changed, cp, None));
    cert
}

/// v4: a provider answering our CSR in its app bag turns TLS on with OUR key,
/// which never leaves the unit.
#[test]
fn v4_answer_to_our_csr_turns_tls_on_with_our_own_key() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let cp = u
        .juju
        .add_relation("cert-provider", "self-signed-certificates");
    u.juju
        .set_unit_bag(&cp, "self-signed-certificates/0", juju_keys("10.1.0.9"));
    u.ok(joined(&cp, "self-signed-certificates/0"));
    sign_v4(&u, &cp, &ca);

    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(u.service_calls(), (1, 1, 0));
    let our_key = u.text("/var/lib/docker-registry-charm/cert-provider.key");
    let served_key = u.text(DEFAULT_TLS_KEY_PATH);
    let der = |pem: &str| rcgen::KeyPair::from_pem(pem).unwrap().serialize_der();
    assert_eq!(
        der(&served_key),
        der(&our_key),
        "serves the key of its own CSR"
    );
    for rel in u.juju.state().relations {
        for (k, v) in rel.ours.iter().chain(rel.our_app.iter()) {
            assert!(
                !v.contains("PRIVATE KEY"),
                "{k} on {} leaks a key",
                rel.endpoint
            );
        }
    }
}

/// Juju retries a failed hook with its relation writes dropped: the retry converges, and
/// the config the registry serves holds the secret that was really shared.
#[test]
fn a_failed_hook_is_retried_and_converges() {
    let (u, peer) = Unit::leader();
    u.service.fail_next(1);
    assert!(
        u.run(Event::Install).is_err(),
        "the injected start failure fails the hook"
    );
    assert_eq!(u.juju.our_app_bag(&peer), Databag::new(), "rolled back");
    assert!(
        u.juju.state().secrets.is_empty(),
        "the secret is rolled back with it"
    );
    u.files.fail_next(1);
    assert!(u.run(Event::ConfigChanged).is_err());
    u.ok(Event::ConfigChanged);
    u.ok(Event::Start);
    let (secret, uri) = shared_secret(&u);
    assert_eq!(u.juju.our_app_bag(&peer), bag(&[("shared-secret", &uri)]));
    assert!(
        u.text(CONFIG_PATH)
            .contains(&format!("secret: \"{secret}\"")),
        "config.yml must render the committed secret"
    );
    assert!(u.service.status().unwrap().is_running());
    assert_eq!(u.service.restarts(), 0);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert_eq!(u.juju.state().opened_ports.len(), 1);
}

/// B32: a new unit address reaches clients and a new certificate request (SANs follow).
#[test]
fn address_change_updates_clients_and_the_certificate_request() {
    let (u, _) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    let cp = u.juju.add_relation("cert-provider", "easyrsa");
    u.juju.set_unit_bag(&cp, "easyrsa/0", juju_keys("10.1.0.9"));
    u.ok(joined(&cp, "easyrsa/0"));
    let before = u.juju.our_bag(&cp);

    u.juju.update(|s| {
        s.address = Some("10.1.0.6".into());
        s.public_address = Some("10.1.0.6".into());
    });
    u.ok(Event::ConfigChanged);
    assert_eq!(
        u.juju.our_bag(&client)["registry_netloc"],
        "\"10.1.0.6:5000\""
    );
    let after = u.juju.our_bag(&cp);
    assert_eq!(after["common_name"], "10.1.0.6");
    let sans: Vec<String> = serde_json::from_str(&after["sans"]).unwrap();
    assert!(sans.contains(&"10.1.0.6".to_string()), "{sans:?}");
    assert!(!sans.contains(&ADDR.to_string()), "{sans:?}");
    assert_ne!(
        after["certificate_signing_requests"],
        before["certificate_signing_requests"]
    );
    assert_eq!(
        u.status(),
        active(
            "Ready at 10.1.0.6:5000 (http). Container runtimes pull over HTTPS only: juju \
             config docker-registry tls-auto=true, or relate a CA. Waiting for a certificate \
             from cert-provider."
        )
    );
}

/// B2: the proxy's address is in the certificate SANs.
#[test]
fn proxy_address_is_in_the_certificate_sans() {
    let (u, _) = Unit::serving();
    let website = u.juju.add_relation("website", "haproxy");
    let mut haproxy = juju_keys("10.1.0.99");
    haproxy.insert("public-address".into(), "10.1.0.100".into());
    u.juju.set_unit_bag(&website, "haproxy/0", haproxy);
    u.ok(joined(&website, "haproxy/0"));
    let cp = u.juju.add_relation("cert-provider", "easyrsa");
    u.juju.set_unit_bag(&cp, "easyrsa/0", juju_keys("10.1.0.9"));
    u.ok(joined(&cp, "easyrsa/0"));
    let sans: Vec<String> = serde_json::from_str(&u.juju.our_bag(&cp)["sans"]).unwrap();
    assert!(sans.contains(&"10.1.0.100".to_string()), "{sans:?}");
    assert!(sans.contains(&ADDR.to_string()), "{sans:?}");
}

/// B34: with several haproxy units every one of them is in the certificate SANs, the
/// status asks for `http-host` (still `active`), and once it is set clients get it and
/// the advice goes.
#[test]
fn several_proxies_are_all_in_the_sans_and_the_status_asks_for_http_host() {
    let (u, _) = Unit::serving();
    let website = u.juju.add_relation("website", "haproxy");
    for (unit, addr) in [("haproxy/0", "10.1.0.100"), ("haproxy/1", "10.1.0.101")] {
        u.juju.set_unit_bag(&website, unit, juju_keys(addr));
        u.ok(joined(&website, unit));
    }
    let cp = u.juju.add_relation("cert-provider", "easyrsa");
    u.juju.set_unit_bag(&cp, "easyrsa/0", juju_keys("10.1.0.9"));
    u.ok(joined(&cp, "easyrsa/0"));
    let sans: Vec<String> = serde_json::from_str(&u.juju.our_bag(&cp)["sans"]).unwrap();
    for addr in ["10.1.0.100", "10.1.0.101", ADDR] {
        assert!(sans.contains(&addr.to_string()), "{addr} not in {sans:?}");
    }
    // cert-provider has not answered yet: that note comes after the advice.
    assert_eq!(
        u.status(),
        active(
            "Ready at 10.1.0.100:5000 (http, proxied). 2 haproxy units, clients get only \
             the first one's address: set http-host to a name for all of them. Waiting for \
             a certificate from cert-provider."
        )
    );

    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    u.config(&[("http-host", json!("https://registry.example.com:5000/"))]);
    assert_eq!(
        u.status(),
        active(
            "Ready at registry.example.com:5000 (https, proxied). Waiting for a certificate \
             from cert-provider."
        )
    );
    assert_eq!(
        u.juju.our_bag(&client)["registry_netloc"],
        "\"registry.example.com:5000\""
    );
    let sans: Vec<String> = serde_json::from_str(&u.juju.our_bag(&cp)["sans"]).unwrap();
    assert!(
        sans.contains(&"registry.example.com".to_string()),
        "{sans:?}"
    );
}

/// Issue 17: the unit's public address (a floating IP or a public name, when it differs
/// from the ingress address) is in the request, as it was with the Python charm; a unit
/// Juju knows no public address for requests without it.
#[test]
fn public_address_is_in_the_certificate_sans() {
    let (u, _) = Unit::serving();
    u.juju
        .update(|s| s.public_address = Some("registry.example.com".into()));
    let cp = u.juju.add_relation("cert-provider", "easyrsa");
    u.juju.set_unit_bag(&cp, "easyrsa/0", juju_keys("10.1.0.9"));
    u.ok(joined(&cp, "easyrsa/0"));
    let sans: Vec<String> = serde_json::from_str(&u.juju.our_bag(&cp)["sans"]).unwrap();
    assert!(
        sans.contains(&"registry.example.com".to_string()),
        "{sans:?}"
    );
    assert!(sans.contains(&ADDR.to_string()), "{sans:?}");
    // A new public address (config-changed follows an address change) reaches the request.
    u.juju
        .update(|s| s.public_address = Some("203.0.113.7".into()));
    u.ok(Event::ConfigChanged);
    let sans: Vec<String> = serde_json::from_str(&u.juju.our_bag(&cp)["sans"]).unwrap();
    assert!(sans.contains(&"203.0.113.7".to_string()), "{sans:?}");
    assert!(
        !sans.contains(&"registry.example.com".to_string()),
        "{sans:?}"
    );
    // None known: no failed hook, the request keeps the other addresses.
    u.juju.update(|s| s.public_address = None);
    u.ok(Event::ConfigChanged);
    let sans: Vec<String> = serde_json::from_str(&u.juju.our_bag(&cp)["sans"]).unwrap();
    assert!(sans.contains(&ADDR.to_string()), "{sans:?}");
    assert!(!sans.contains(&"203.0.113.7".to_string()), "{sans:?}");
    // Asked with the other addresses (config-changed), never by update-status.
    let calls = tools_called(&u, Event::ConfigChanged);
    assert!(calls.contains(&"unit-get".to_string()), "{calls:?}");
    let calls = tools_called(&u, Event::UpdateStatus);
    assert!(!calls.contains(&"unit-get".to_string()), "{calls:?}");
}

/// A unit upgraded from the Python charm keeps the leader-settings secret;
/// nothing new is generated; the leader copies it into the charm's Juju secret once (so
/// later hooks need no leader-get), and never uses leader-set: the leader setting stays
/// for a downgrade (docs/migration.md).
#[test]
fn upgrade_from_the_python_charm_keeps_the_leader_settings_secret() {
    let secret = "cHl0aG9uLWNoYXJtLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm";
    for leader in [true, false] {
        let u = Unit::new("docker-registry/0", leader);
        let peer = u.juju.add_relation("peer", "docker-registry");
        u.juju.update(|s| {
            s.leader_settings = bag(&[("http-secret", secret)]);
        });
        for ev in [Event::UpgradeCharm, Event::ConfigChanged, Event::Start] {
            u.ok(ev);
        }
        assert!(u.text(CONFIG_PATH).contains(secret), "leader={leader}");
        if leader {
            let (value, uri) = shared_secret(&u);
            assert_eq!(value, secret);
            assert_eq!(u.juju.our_app_bag(&peer), bag(&[("shared-secret", &uri)]));
            u.juju.clear_calls();
            u.ok(Event::UpdateStatus);
            assert!(
                u.juju.calls_of("leader-get").is_empty(),
                "moved: no leader-get"
            );
        } else {
            assert!(u.juju.state().secrets.is_empty());
            assert_eq!(u.juju.our_app_bag(&peer), Databag::new());
        }
        assert!(u.juju.calls_of("leader-set").is_empty());
        assert_eq!(u.juju.state().leader_settings["http-secret"], secret);
        assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    }
}

/// A switch from the Python charm with an invalid config blocks without starting our
/// registry on the Python charm's config.yml (root-only, written for its container): only a
/// config.yml this charm wrote is a "last good config".
#[test]
fn switch_with_an_invalid_config_does_not_start_on_the_python_charms_config() {
    let (u, _) = Unit::leader();
    u.files.seed_file(
        CONFIG_PATH,
        b"version: 0.1\n# the Python charm's\n",
        0o600,
        (0, 0),
    );
    u.juju.update(|s| {
        s.config.insert("storage-cache".into(), json!("bogus"));
    });
    for ev in [Event::UpgradeCharm, Event::ConfigChanged] {
        u.ok(ev);
    }
    assert_eq!(u.status().0, "blocked");
    assert_eq!(
        u.service_calls(),
        (0, 0, 0),
        "nothing started on a foreign config"
    );
    assert_eq!(u.text(CONFIG_PATH), "version: 0.1\n# the Python charm's\n");
}

/// Root-owned images from the Python charm are given to the registry user
/// and kept byte for byte.
#[test]
fn python_charm_image_data_is_reowned_and_kept() {
    let (u, _) = Unit::leader();
    let blob = "/srv/registry/docker/registry/v2/blobs/sha256/ab/abcd/data";
    u.files.seed_dir("/srv/registry", 0o755, (0, 0));
    u.files.seed_file(blob, b"layer bytes", 0o644, (0, 0));
    u.deploy();
    let owner = service_user().unwrap();
    assert_eq!(u.meta("/srv/registry"), (0o755, owner.0, owner.1));
    assert_eq!(u.meta(blob), (0o644, owner.0, owner.1));
    assert_eq!(u.files.contents(blob).as_deref(), Some(&b"layer bytes"[..]));
}

// ---- switching from the Python charm -------------------------------------------------------

/// The machine a Python-charm unit leaves behind: its registry container running, root-owned
/// images in /srv/registry and its own root-only config.yml.
fn python_charm_machine(u: &Unit, container: &str) -> &'static str {
    let blob = "/srv/registry/docker/registry/v2/blobs/sha256/ab/abcd/data";
    u.files.seed_dir("/srv/registry", 0o755, (0, 0));
    u.files.seed_file(blob, b"layer bytes", 0o644, (0, 0));
    u.files.seed_dir("/etc/docker/registry", 0o755, (0, 0));
    u.files
        .seed_file(CONFIG_PATH, b"version: 0.1\n", 0o600, (0, 0));
    u.legacy.set_container(container, ContainerState::Running);
    blob
}

/// `juju refresh` from the Python charm stops and
/// removes its container (once, without volumes) before our registry starts (the harness
/// panics if ours starts while it is there), then serves the same images, re-owned.
#[test]
fn refresh_from_the_python_charm_removes_its_container_before_serving() {
    let (u, _) = Unit::leader();
    let blob = python_charm_machine(&u, "registry");
    u.ok(Event::UpgradeCharm);
    assert_eq!(u.legacy.calls(), ["find registry", "remove registry"]);
    assert_eq!(u.legacy.container(), None);
    assert_eq!(u.service_calls(), (1, 0, 0), "ours started once, after");
    u.ok(Event::ConfigChanged);
    assert_eq!(
        u.legacy.calls().len(),
        2,
        "config-changed looks for nothing"
    );
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));

    let owner = service_user().unwrap();
    assert_eq!(u.meta("/srv/registry"), (0o755, owner.0, owner.1));
    assert_eq!(u.meta(blob), (0o644, owner.0, owner.1));
    assert_eq!(u.files.contents(blob).as_deref(), Some(&b"layer bytes"[..]));
    let info = u.log_lines("INFO").join("\n");
    assert!(
        info.contains(
            "stopped and removed the Python charm's registry container registry (it was running)"
        ),
        "{info}"
    );
}

/// The container is the one `registry-name` names, matched exactly.
#[test]
fn refresh_looks_for_the_container_registry_name_names() {
    let (u, _) = Unit::leader();
    u.juju.update(|s| {
        s.config
            .insert("registry-name".into(), json!("my-registry"));
    });
    python_charm_machine(&u, "my-registry");
    u.ok(Event::UpgradeCharm);
    assert_eq!(u.legacy.calls(), ["find my-registry", "remove my-registry"]);

    // A container merely containing the name is someone else's (B26).
    let (u, _) = Unit::leader();
    u.legacy
        .set_container("registry-mirror", ContainerState::Running);
    u.ok(Event::UpgradeCharm);
    assert_eq!(u.legacy.calls(), ["find registry"]);
    assert!(u.legacy.container().is_some());
}

/// Keep the no-op hook cheap: only install and upgrade-charm look for the container; with
/// none there, nothing is removed.
#[test]
fn only_install_and_upgrade_charm_look_for_the_container() {
    let (u, _) = Unit::serving();
    assert_eq!(u.legacy.calls(), ["find registry"], "install looked, once");
    u.legacy.clear_calls();
    for ev in [
        Event::UpdateStatus,
        Event::ConfigChanged,
        Event::Start,
        Event::LeaderElected,
        Event::UpdateStatus,
    ] {
        u.ok(ev);
    }
    assert_eq!(u.legacy.calls(), Vec::<String>::new());
    // Our own upgrade looks once and finds nothing.
    u.ok(Event::UpgradeCharm);
    assert_eq!(u.legacy.calls(), ["find registry"]);
    assert_eq!(u.service_calls(), (1, 0, 0));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// A container that cannot be removed blocks (not a failed hook) naming it and the fix; our
/// registry stays down; every hook looks again, and once an operator removed it the unit
/// serves without further help.
#[test]
fn a_container_that_cannot_be_removed_blocks_until_it_is_gone() {
    let (u, _) = Unit::leader();
    python_charm_machine(&u, "registry");
    u.legacy
        .fail_remove("Error response from daemon: cannot stop container: permission denied");
    u.ok(Event::UpgradeCharm);
    u.ok(Event::ConfigChanged);
    let (current, message) = u.status();
    assert_eq!(current, "blocked");
    assert!(message.contains("Docker container registry"), "{message}");
    assert!(message.contains("permission denied"), "{message}");
    assert!(
        message.ends_with("remove it on the machine with: docker rm -f registry"),
        "{message}"
    );
    assert_eq!(u.service_calls(), (0, 0, 0), "ours never started");
    assert!(
        u.probes.lock().unwrap().is_empty(),
        "no probe: it would hit the old container"
    );
    assert_eq!(
        u.legacy.calls(),
        [
            "find registry",
            "remove registry",
            "find registry",
            "remove registry"
        ]
    );
    assert_eq!(
        u.text(CONFIG_PATH),
        "version: 0.1\n",
        "nothing rewritten while blocked"
    );

    // The operator follows the message.
    u.legacy.operator_removes();
    u.ok(Event::UpdateStatus);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert_eq!(u.service_calls(), (1, 0, 0));
    u.legacy.clear_calls();
    u.ok(Event::UpdateStatus);
    assert_eq!(
        u.legacy.calls(),
        Vec::<String>::new(),
        "forgotten once gone"
    );
}

/// A docker daemon that fails even to inspect blocks the same way (we cannot know the port
/// is free), and a fixed daemon lets the next hook remove the container.
#[test]
fn a_failing_inspect_blocks_and_a_healed_daemon_proceeds() {
    let (u, _) = Unit::leader();
    python_charm_machine(&u, "registry");
    u.legacy
        .fail_find("Error response from daemon: i/o timeout");
    u.ok(Event::UpgradeCharm);
    assert_eq!(u.status().0, "blocked");
    assert!(
        u.status().1.contains("docker rm -f registry"),
        "{:?}",
        u.status()
    );
    u.legacy.heal();
    u.ok(Event::UpdateStatus);
    assert_eq!(u.legacy.container(), None);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// B27: debug-port is opened only with prometheus-metrics, and closed again.
#[test]
fn debug_port_follows_prometheus_metrics() {
    let (u, _) = Unit::serving();
    u.config(&[("prometheus-metrics", json!(true))]);
    let ports = |u: &Unit| u.juju.state().opened_ports.into_iter().collect::<Vec<_>>();
    assert_eq!(ports(&u), ["5000/tcp", "5001/tcp"]);
    // The debug server on loopback; /metrics alone on the ingress address, by the proxy.
    assert!(u.text(CONFIG_PATH).contains("addr: \"127.0.0.1:5001\""));
    assert_eq!(u.metrics.calls(), [ServiceCall::Start]);
    let started = u
        .metrics_launches
        .lock()
        .unwrap()
        .iter()
        .rfind(|s| !s.args.is_empty())
        .cloned()
        .unwrap();
    assert_eq!(
        started.args,
        [
            "metrics-proxy",
            "--listen",
            "10.1.0.5:5001",
            "--upstream",
            "127.0.0.1:5001",
            "--user",
            "docker-registry"
        ]
    );
    assert!(started.binary.ends_with("charm/dispatch"), "{started:?}");
    // No-op hooks leave it alone; a new debug-port restarts it; metrics off stops it.
    u.ok(Event::UpdateStatus);
    assert_eq!(u.metrics.calls(), [ServiceCall::Start]);
    u.config(&[("debug-port", json!(9101))]);
    assert_eq!(
        u.metrics.calls(),
        [ServiceCall::Start, ServiceCall::Restart]
    );
    u.config(&[("prometheus-metrics", json!(false))]);
    assert_eq!(ports(&u), ["5000/tcp"]);
    assert_eq!(
        u.metrics.calls(),
        [ServiceCall::Start, ServiceCall::Restart, ServiceCall::Stop]
    );
}

/// B27: the stop action and the unit's removal take the metrics proxy down with the
/// registry; `start` brings it back.
#[test]
fn the_metrics_proxy_goes_down_with_the_registry() {
    let (u, _) = Unit::serving();
    u.config(&[("prometheus-metrics", json!(true))]);
    u.action("stop");
    assert_eq!(u.metrics.calls(), [ServiceCall::Start, ServiceCall::Stop]);
    u.action("start");
    assert_eq!(
        u.metrics.calls(),
        [ServiceCall::Start, ServiceCall::Stop, ServiceCall::Start]
    );
    u.ok(Event::Stop);
    assert_eq!(u.metrics.calls().last(), Some(&ServiceCall::Stop));
    assert!(!u.metrics.status().unwrap().is_running());
}

/// A registry action that fails fails the action with the library's message, not the
/// hook, and changes nothing (rmi refuses before it connects: storage-delete is off).
#[test]
fn a_failing_registry_action_fails_the_action_only() {
    let (u, _) = Unit::serving();
    u.action_with("rmi", json!({"image": "demo/hello:v1"}));
    let state = u.juju.state();
    assert_eq!(
        state.action_failures,
        [
            "rmi: deleting is disabled (storage-delete=false), nothing was deleted; run \
          `juju config docker-registry storage-delete=true` first"
        ]
    );
    assert!(
        state.action_results.is_empty(),
        "{:?}",
        state.action_results
    );
    assert_eq!(u.service_calls(), (1, 0, 0));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// While the config is invalid nothing serves a registry action: it fails naming the
/// status, and the hook does not fail.
#[test]
fn a_registry_action_without_a_serving_registry_says_why() {
    let (u, _) = Unit::serving();
    u.config(&[("storage-cache", json!("disk"))]);
    u.action_with("images", json!({}));
    let failures = u.juju.state().action_failures;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with(
            "images: the registry is not serving (Invalid charm config: storage-cache"
        ),
        "{failures:?}"
    );
}

/// B22: clearing the TLS blobs removes the files the charm wrote and turns TLS off.
#[test]
fn clearing_tls_blobs_turns_tls_off() {
    let ca = ca();
    let (u, _) = Unit::serving();
    u.config(&tls_blobs(&ca));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    clear_tls_blobs(&u);
    for p in [
        DEFAULT_TLS_KEY_PATH,
        DEFAULT_TLS_CERT_PATH,
        DEFAULT_TLS_CA_PATH,
    ] {
        assert!(!u.exists(p), "{p} left behind");
    }
    assert!(!u.text(CONFIG_PATH).contains("registry.key"));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert_eq!(u.service_calls(), (1, 2, 0));
}

/// Moving tls-*-path moves the files: the charm writes the new paths and removes what it
/// wrote at the old ones (nothing of its own is left behind to confuse an operator).
#[test]
fn changing_tls_paths_moves_the_files_the_charm_wrote() {
    let ca = ca();
    let (u, _) = Unit::serving();
    u.config(&tls_blobs(&ca));
    u.config(&[
        ("tls-cert-path", json!("/etc/registry-tls/server.crt")),
        ("tls-key-path", json!("/etc/registry-tls/server.key")),
    ]);
    assert!(u.exists("/etc/registry-tls/server.crt"));
    assert!(u.exists("/etc/registry-tls/server.key"));
    // The new directory did not exist: the charm made it (a real write would fail without).
    assert_eq!(u.meta("/etc/registry-tls"), (0o755, 0, 0));
    assert!(!u.exists(DEFAULT_TLS_CERT_PATH), "old cert left behind");
    assert!(!u.exists(DEFAULT_TLS_KEY_PATH), "old key left behind");
    assert!(u.exists(DEFAULT_TLS_CA_PATH), "the CA path did not change");
    assert!(u.text(CONFIG_PATH).contains("/etc/registry-tls/server.key"));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
}

/// An operator mistake, not a fault: a tls-*-path naming a directory blocks naming the
/// option (it failed the hook with "Is a directory"), and the registry keeps serving.
#[test]
fn tls_path_naming_a_directory_blocks() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    let mut cfg = tls_blobs(&ca);
    cfg.push(("tls-key-path", json!("/etc/docker/registry")));
    u.config(&cfg);
    let (kind, msg) = u.status();
    assert_eq!(kind, "blocked");
    assert!(
        msg.starts_with("Invalid charm config: tls-key-path: /etc/docker/registry is a directory"),
        "{msg}"
    );
    assert_eq!(u.text(CONFIG_PATH), good);
    assert_eq!(u.service_calls(), (1, 0, 0));
    // Without blobs too: the charm reads the path to look for operator files.
    clear_tls_blobs(&u);
    assert_eq!(u.status().0, "blocked");
    u.config(&[("tls-key-path", json!(DEFAULT_TLS_KEY_PATH))]);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// B24: haproxy passes TLS through for TLS from any source, cert-provider included.
#[test]
fn website_stanza_passes_cert_provider_tls_through() {
    let ca = ca();
    let (u, _) = Unit::serving();
    easyrsa_answers(&u, &ca, 90);
    let website = u.juju.add_relation("website", "haproxy");
    u.juju
        .set_unit_bag(&website, "haproxy/0", juju_keys("10.1.0.100"));
    u.ok(joined(&website, "haproxy/0"));
    let services = u.juju.our_bag(&website)["services"].clone();
    assert!(services.contains("mode tcp"), "{services}");
    assert!(services.contains("check-ssl"), "{services}");
}

/// With filesystem storage, the next unit becomes the primary as soon as the lower one
/// departs (its server leaves haproxy with its bag).
#[test]
fn a_departed_lower_peer_makes_this_unit_the_primary() {
    let u = Unit::new("docker-registry/1", true);
    let peer = u.juju.add_relation("peer", "docker-registry");
    u.juju
        .set_unit_bag(&peer, "docker-registry/0", juju_keys("10.1.0.4"));
    // A higher peer too: a unit left alone stays a `backup` (haproxy serves it anyway).
    u.juju
        .set_unit_bag(&peer, "docker-registry/2", juju_keys("10.1.0.6"));
    u.deploy();
    let website = u.juju.add_relation("website", "haproxy");
    u.juju
        .set_unit_bag(&website, "haproxy/0", juju_keys("10.1.0.100"));
    u.ok(joined(&website, "haproxy/0"));
    let services = u.juju.our_bag(&website)["services"].clone();
    assert!(services.contains("maxconn 4096 backup]"), "{services}");
    u.juju
        .with_relation(&peer, |r| r.units.remove("docker-registry/0"));
    u.ok(Event::Relation {
        kind: RelationKind::Departed,
        relation: peer.clone(),
        remote_app: "docker-registry".parse().unwrap(),
        remote_unit: Some("docker-registry/0".parse().unwrap()),
        departing_unit: Some("docker-registry/0".parse().unwrap()),
    });
    let services = u.juju.our_bag(&website)["services"].clone();
    assert!(services.contains("[docker-registry-1, "), "{services}");
    assert!(!services.contains("backup"), "{services}");
}

/// The fake answers like Juju (typed errors through the charm's own classify) and refuses
/// argv the charm's tool layer never sends, so scenarios cannot pass by accident.
#[test]
fn fake_juju_speaks_jujus_argv_and_errors() {
    use charm::juju::{HookToolError, ToolRunner};
    let fake = FakeJuju::new(State::new("docker-registry/1", false, ADDR));
    let tools = HookTools::new(fake.clone());
    let rel = fake.add_relation("website", "haproxy");
    fake.remove_relation(&rel);
    assert!(matches!(
        tools.relation_get_unit(&rel, &"haproxy/0".parse().unwrap()),
        Err(HookToolError::RelationNotFound { .. })
    ));
    let peer = fake.add_relation("peer", "docker-registry");
    let data = bag(&[("http-secret", "x")]);
    assert!(matches!(
        tools.relation_set(&peer, true, &data),
        Err(HookToolError::NotLeader { .. })
    ));
    assert!(matches!(
        tools.leader_set(&data),
        Err(HookToolError::NotLeader { .. })
    ));
    let config = tools.config_get().unwrap();
    assert_eq!(
        config["registry-port"],
        json!(5000),
        "defaults from config.yaml"
    );
    assert!(
        !config.contains_key("registry-http-proxy"),
        "no default: absent"
    );
    let wrong = std::panic::catch_unwind(|| {
        let _ = fake.run("config-get", &["--format=yaml".to_string()], None);
    });
    assert!(wrong.is_err(), "unexpected argv must not be answered");
}

// ---- what each hook asks Juju (docs/juju.md#what-each-hook-announces) ------------------

/// The charm's endpoints (metadata.yaml): a full read asks `relation-ids` for each.
const ENDPOINTS: usize = 6;

/// Runtime applications a registry serves in these scenarios.
const RUNTIMES: [&str; 3] = ["containerd", "docker", "kubelet"];

/// Relates `apps` runtime applications of `units` units each, in the order Juju runs
/// their hooks: created, then joined and changed for each unit.
fn add_clients(u: &Unit, apps: usize, units: usize) -> Vec<RelationId> {
    let mut out = Vec::new();
    for app in &RUNTIMES[..apps] {
        let rel = u.juju.add_relation("docker-registry", app);
        u.ok(relation_event(RelationKind::Created, &rel, None));
        for n in 0..units {
            let unit = format!("{app}/{n}");
            u.juju
                .set_unit_bag(&rel, &unit, juju_keys(&format!("10.1.1.{n}")));
            u.ok(joined(&rel, &unit));
            u.ok(changed(&rel, &unit));
        }
        out.push(rel);
    }
    out
}

/// The hook tools one hook called, in order (each is a process and a round trip to the
/// unit agent on a controller).
fn tools_called(u: &Unit, event: Event) -> Vec<String> {
    u.juju.clear_calls();
    u.ok(event);
    u.juju.calls().into_iter().map(|c| c.tool).collect()
}

/// No hook ever reads a runtime unit's bag: the charm needs nothing from them.
fn assert_no_client_bag_read(u: &Unit) {
    let read: Vec<_> = u
        .juju
        .calls_of("relation-get")
        .into_iter()
        .filter(|c| {
            RUNTIMES
                .iter()
                .any(|app| c.args.iter().any(|a| a.starts_with(&format!("{app}/"))))
        })
        .collect();
    assert!(read.is_empty(), "{read:?}");
}

/// The goal of docs/juju.md#what-each-hook-announces: a no-op update-status asks only
/// `is-leader`, a no-op config-changed the config and the address too (the shared secret
/// as last read is trusted), and a runtime's relation hook nothing else, whether 0 or 30 runtime units are
/// related.
#[test]
fn hook_costs_do_not_grow_with_the_clients() {
    for (apps, units) in [(0, 0), (1, 1), (3, 10)] {
        let (u, _) = Unit::serving();
        u.juju.clear_calls();
        let clients = add_clients(&u, apps, units);
        assert_no_client_bag_read(&u);
        u.ok(Event::UpdateStatus);
        let case = format!("{apps} runtime apps of {units} units");
        for _ in 0..3 {
            assert_eq!(
                tools_called(&u, Event::UpdateStatus),
                ["is-leader"],
                "{case}"
            );
            assert_eq!(
                tools_called(&u, Event::ConfigChanged),
                ["config-get", "is-leader", "network-get"],
                "{case}"
            );
        }
        let Some(rel) = clients.first() else {
            continue;
        };
        let app = rel_app(&u, rel);
        assert_eq!(
            tools_called(&u, changed(rel, &format!("{app}/0"))),
            ["is-leader"],
            "{case}"
        );
        // A new runtime unit joins: nothing to read, nothing to write.
        let unit = format!("{app}/{units}");
        u.juju.set_unit_bag(rel, &unit, juju_keys("10.1.2.1"));
        assert_eq!(
            tools_called(&u, joined(rel, &unit)),
            ["is-leader"],
            "{case}"
        );
        assert_eq!(
            tools_called(&u, changed(rel, &unit)),
            ["is-leader"],
            "{case}"
        );
        // A hook after which anything may differ reads everything but runtimes' bags:
        // one call per runtime relation (our own bag), whatever its size.
        let start = tools_called(&u, Event::Start);
        let ours = start.iter().filter(|t| *t == "relation-get").count();
        assert_eq!(
            ours,
            1 + apps,
            "{case}: the peer app bag and our bag per runtime"
        );
        assert_no_client_bag_read(&u);
    }
}

fn rel_app(u: &Unit, rel: &RelationId) -> String {
    u.juju.with_relation(rel, |r| r.remote_app.clone())
}

/// A new runtime relation: its id is asked once, our (empty) bag read and written; the
/// next hook reads the write back once (it could have been dropped), then trusts it.
#[test]
fn a_new_client_relation_is_published_and_confirmed_once() {
    let (u, _) = Unit::serving();
    u.ok(Event::UpdateStatus);
    let rel = u.juju.add_relation("docker-registry", "containerd");
    assert_eq!(
        tools_called(&u, relation_event(RelationKind::Created, &rel, None)),
        [
            "is-leader",
            "relation-ids",
            "relation-get",
            "relation-set",
            // Runtimes are told to use HTTPS (see RUNTIMES_NEED_TLS).
            "status-set"
        ]
    );
    assert_eq!(u.juju.our_bag(&rel)["registry_netloc"], "\"10.1.0.5:5000\"");
    assert_eq!(
        tools_called(&u, Event::UpdateStatus),
        ["is-leader", "relation-get"]
    );
    assert_eq!(tools_called(&u, Event::UpdateStatus), ["is-leader"]);
}

/// Juju commits a hook's relation-set and ports only when it exits 0, but the unit's
/// record is on its own disk, saved before the hook's end. A hook that fails after its
/// writes leaves them unconfirmed, so the next hook, even an update-status after the
/// operator skipped the failed one, reads them back and writes again.
#[test]
fn a_write_lost_with_a_failed_hook_is_made_again_by_the_next_hook() {
    let (u, _) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    u.ok(Event::UpdateStatus);
    u.juju
        .update(|s| drop(s.config.insert("registry-port".into(), json!(5001))));
    // The hook's last call fails: after the writes and the save of the record.
    u.juju.fail_next("status-set");
    assert!(u.run(Event::ConfigChanged).is_err());
    assert_eq!(
        u.juju.our_bag(&client)["registry_netloc"],
        "\"10.1.0.5:5000\"",
        "rolled back"
    );
    let saved = LocalState::load(&*u.files).unwrap().model.unwrap();
    assert!(
        saved.unconfirmed.bags.contains(&(client.clone(), false)) && saved.unconfirmed.ports,
        "{:?}",
        saved.unconfirmed
    );

    // `juju resolved --no-retry`: the failed hook is skipped; update-status comes next.
    u.ok(Event::UpdateStatus);
    assert_eq!(
        u.juju.our_bag(&client)["registry_netloc"],
        "\"10.1.0.5:5001\""
    );
    assert_eq!(u.juju.state().opened_ports, ["5001/tcp".to_string()].into());
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.5:5001 (http). {RUNTIMES_NEED_TLS}"
        ))
    );
    assert_eq!(
        tools_called(&u, Event::UpdateStatus),
        ["is-leader", "relation-get", "opened-ports"],
        "this time the writes were committed: read back once, then trusted"
    );
    assert_eq!(tools_called(&u, Event::UpdateStatus), ["is-leader"]);
}

/// A record that cannot be read (another revision's shape, a damaged file) or is missing
/// makes the hook read the whole model, never guess; the rest of the state is kept.
#[test]
fn a_damaged_or_missing_record_means_a_full_read() {
    let (u, _) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.ok(Event::UpdateStatus);
    let state = charm::charm::local::STATE_FILE;
    let good: Value = serde_json::from_str(&u.text(state)).unwrap();
    let mut damaged = good.clone();
    damaged["model"]["relations"] = json!("not a map");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("model");
    for bad in [damaged, missing] {
        u.files
            .seed_file(state, bad.to_string().as_bytes(), 0o600, (0, 0));
        // Meanwhile our bag lost a key (as if a write the record claimed never landed).
        u.juju
            .with_relation(&client, |r| r.ours.remove("registry_url"));
        u.files.clear_ops();
        let calls = tools_called(&u, Event::UpdateStatus);
        assert_eq!(
            calls.iter().filter(|t| *t == "relation-ids").count(),
            ENDPOINTS,
            "{calls:?}"
        );
        assert!(u.juju.our_bag(&client).contains_key("registry_url"));
        assert_eq!(
            u.writes(),
            vec![],
            "the charm's own files are still its own"
        );
        assert_eq!(u.service.restarts(), 0);
        assert_eq!(
            u.status(),
            active(&format!(
                "Ready at 10.1.0.5:5000 (http). {RUNTIMES_NEED_TLS}"
            ))
        );
        assert_eq!(
            tools_called(&u, Event::UpdateStatus),
            ["is-leader", "relation-get"],
            "the repaired bag is read back once"
        );
        assert_eq!(tools_called(&u, Event::UpdateStatus), ["is-leader"]);
    }
}

/// A recorded relation that Juju no longer knows (its broken hook was skipped with
/// `juju resolved --no-retry`) is noticed at the first write to it: the write is moot and
/// dropped, the hook finishes, and the next hook reads the whole model.
#[test]
fn a_recorded_relation_that_is_gone_is_noticed_at_the_next_write() {
    let (u, _) = Unit::serving();
    let gone = add_client(&u, "containerd");
    let kept = add_client(&u, "docker");
    u.ok(Event::UpdateStatus);
    u.juju.remove_relation(&gone);
    assert_eq!(tools_called(&u, Event::UpdateStatus), ["is-leader"]);
    u.juju.clear_calls();
    u.config(&[
        ("auth-basic-user", json!("admin")),
        ("auth-basic-password", json!("pw")),
    ]);
    assert_eq!(u.juju.our_bag(&kept)["basic_user"], "\"admin\"");
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.5:5000 (http). {RUNTIMES_NEED_TLS}"
        ))
    );
    assert_eq!(u.service.restarts(), 1, "one restart for the new config");
    let calls = tools_called(&u, Event::UpdateStatus);
    assert_eq!(
        calls.iter().filter(|t| *t == "relation-ids").count(),
        ENDPOINTS,
        "{calls:?}"
    );
    assert_eq!(tools_called(&u, Event::UpdateStatus), ["is-leader"]);
    assert_eq!(u.service.restarts(), 1);
}

/// Losing leadership runs no hook on the old leader: `is-leader`, the one call of
/// update-status, is how it learns. Its haproxy stanza names only itself, so it stays as
/// it is: haproxy's backend does not depend on who leads.
#[test]
fn a_leader_that_lost_leadership_learns_it_at_update_status() {
    let (u, peer) = Unit::serving();
    u.juju
        .set_unit_bag(&peer, "docker-registry/1", juju_keys("10.1.0.6"));
    u.ok(joined(&peer, "docker-registry/1"));
    let website = u.juju.add_relation("website", "haproxy");
    u.juju
        .set_unit_bag(&website, "haproxy/0", juju_keys("10.1.0.100"));
    u.ok(relation_event(RelationKind::Created, &website, None));
    u.ok(joined(&website, "haproxy/0"));
    assert!(u.juju.our_bag(&website).contains_key("services"));
    u.ok(Event::UpdateStatus);

    let before = u.juju.our_bag(&website);

    u.juju.update(|s| s.leader = false);
    let calls = tools_called(&u, Event::UpdateStatus);
    assert_eq!(calls, ["is-leader", "secret-get"]);
    assert_eq!(u.juju.our_bag(&website), before);
    let services = &before["services"];
    assert!(
        services.contains("docker-registry-0") && !services.contains("docker-registry-1"),
        "{services}"
    );
}

/// A follower learns the leader's secret from the peer relation-changed that Juju runs
/// when the peer app bag changes, reading the peers only.
#[test]
fn a_follower_reads_the_peers_only_when_they_change() {
    let u = Unit::new("docker-registry/1", false);
    let peer = u.juju.add_relation("peer", "docker-registry");
    u.juju
        .set_unit_bag(&peer, "docker-registry/0", juju_keys("10.1.0.4"));
    u.deploy();
    add_clients(&u, 3, 10);
    assert_eq!(u.status().0, "waiting", "{:?}", u.status());
    let secret = "c2VjcmV0LXNoYXJlZC1ieS10aGUtbGVhZGVyLTEyMzQ1Ng==";
    u.juju
        .with_relation(&peer, |r| r.our_app = bag(&[("http-secret", secret)]));
    // No shared value yet: the Python charm's leader setting is asked too.
    assert_eq!(
        tools_called(&u, Event::UpdateStatus),
        ["is-leader", "leader-get"]
    );
    assert_eq!(u.status().0, "waiting", "update-status trusts the record");
    let app_changed = relation_event(RelationKind::Changed, &peer, None);
    let calls = tools_called(&u, app_changed);
    let reads: Vec<_> = calls
        .iter()
        .filter(|t| t.starts_with("relation-"))
        .collect();
    assert_eq!(
        reads[..3],
        ["relation-list", "relation-get", "relation-get"],
        "{calls:?}"
    );
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.5:5000 (http). {UNSHARED_2} {RUNTIMES_NEED_TLS}"
        ))
    );
    assert_no_client_bag_read(&u);
}

/// A new revision the leader makes of the shared secret reaches a follower through the
/// hooks Juju runs: units of the owning application get no `secret-changed` for it, so
/// the leader's write also changes the peer app bag, and the follower's peer
/// relation-changed reads the secret again. Until then its update-status asks only
/// `is-leader`; the leader reads its own new revision back once, then trusts it.
#[test]
fn a_new_revision_of_the_shared_secret_reaches_a_follower_through_the_peer_hook() {
    let (leader, leader_peer) = Unit::serving();
    let (f, peer) = follower_of(&leader, &leader_peer, "docker-registry/1");
    f.deploy();
    let (first, uri) = shared_secret(&leader);
    assert!(f.text(CONFIG_PATH).contains(&first));
    leader.ok(Event::UpdateStatus);
    assert_eq!(tools_called(&leader, Event::UpdateStatus), ["is-leader"]);
    assert_eq!(tools_called(&f, Event::UpdateStatus), ["is-leader"]);

    // A revision the charm cannot use (as a faulty earlier revision of it could leave):
    // the leader replaces it at its next hook that reads everything.
    let (id, _) = leader.juju.secret("registry-shared").unwrap();
    leader.juju.update(|s| {
        let secret = s.secrets.get_mut(&id).unwrap();
        let next = secret.latest() + 1;
        secret
            .revisions
            .insert(next, bag(&[("http-secret", "not usable")]));
    });
    leader.ok(Event::UpgradeCharm);
    let (second, uri_after) = shared_secret(&leader);
    assert_eq!(uri_after, uri);
    assert_ne!(second, first);
    assert_eq!(second.len(), 44, "a fresh value: {second}");
    assert_eq!(leader.juju.secret("registry-shared").unwrap().1.latest(), 3);
    assert!(leader.text(CONFIG_PATH).contains(&second));
    assert_eq!(
        leader.juju.our_app_bag(&leader_peer),
        bag(&[("shared-secret", &uri), ("shared-secret-generation", "1")])
    );
    assert_eq!(
        tools_called(&leader, Event::UpdateStatus),
        ["is-leader", "relation-get", "secret-get"],
        "the leader's new revision and the bag committed with its hook: read back once"
    );
    assert_eq!(tools_called(&leader, Event::UpdateStatus), ["is-leader"]);

    // Juju committed both; nothing has told the follower yet.
    sync_model(&leader, &leader_peer, &f, &peer);
    assert_eq!(tools_called(&f, Event::UpdateStatus), ["is-leader"]);
    assert!(f.text(CONFIG_PATH).contains(&first));
    // The peer app bag changed: Juju runs the follower's relation-changed for it.
    let calls = tools_called(&f, relation_event(RelationKind::Changed, &peer, None));
    let reads = f.juju.calls_of("secret-get");
    assert_eq!(
        reads.last().map(|c| c.args.clone()),
        Some(vec![
            "--format=json".to_string(),
            "--refresh".to_string(),
            uri.clone()
        ]),
        "{calls:?}"
    );
    assert!(f.text(CONFIG_PATH).contains(&second));
    assert!(!f.text(CONFIG_PATH).contains(&first));
    assert_eq!(f.service.restarts(), 1, "serving the new value");
    assert_eq!(tools_called(&f, Event::UpdateStatus), ["is-leader"]);
}

// ---- nrpe-external-master ---------------------------------------------------------------

const NRPE_CFG: &str = "/etc/nagios/nrpe.d/check_docker_registry.cfg";
const NRPE_EXPORT_DIR: &str = "/var/lib/nagios/export";
/// The command line NRPE runs for a plain registry on `port` (TLS appends ` -S`).
const CHECK_HTTP_5000: &str = "/usr/lib/nagios/plugins/check_http -I 127.0.0.1 -p 5000 -u /v2/ -e \"HTTP/1.0 200,HTTP/1.0 401,HTTP/1.1 200,HTTP/1.1 401\"";

/// The exported service file for Nagios host `host`.
fn nrpe_export(host: &str) -> String {
    format!("{NRPE_EXPORT_DIR}/service__{host}_check_docker_registry.cfg")
}

/// The NRPE command line in the check file.
fn nrpe_command(u: &Unit) -> String {
    let cfg = u.text(NRPE_CFG);
    cfg.lines()
        .find_map(|l| l.strip_prefix("command[check_docker_registry]="))
        .unwrap_or_else(|| panic!("no command line in {cfg}"))
        .to_string()
}

/// Relates the nrpe subordinate as Juju does: `relation-created` (no unit yet), then
/// nrpe/0 joins with `names` in its bag and `relation-changed` follows.
fn add_nrpe(u: &Unit, names: &[(&str, &str)]) -> RelationId {
    let rel = u.juju.add_relation("nrpe-external-master", "nrpe");
    u.ok(relation_event(RelationKind::Created, &rel, None));
    let mut data = juju_keys(ADDR);
    data.extend(bag(names));
    u.juju.set_unit_bag(&rel, "nrpe/0", data);
    u.ok(joined(&rel, "nrpe/0"));
    u.ok(changed(&rel, "nrpe/0"));
    rel
}

/// `relation-set` calls the charm made on `rel`.
fn sets_on(u: &Unit, rel: &RelationId) -> Vec<Databag> {
    u.juju
        .relation_sets()
        .into_iter()
        .filter(|(r, _, _)| *r == rel.to_string())
        .map(|(_, _, data)| data)
        .collect()
}

/// The nrpe unit departs (its last one) and the relation is removed: departed, broken.
fn remove_nrpe(u: &Unit, rel: &RelationId) {
    u.juju.with_relation(rel, |r| r.units.clear());
    u.ok(Event::Relation {
        kind: RelationKind::Departed,
        relation: rel.clone(),
        remote_app: "nrpe".parse().unwrap(),
        remote_unit: Some("nrpe/0".parse().unwrap()),
        departing_unit: Some("nrpe/0".parse().unwrap()),
    });
    u.juju.remove_relation(rel);
    u.ok(relation_event(RelationKind::Broken, rel, None));
}

/// B7 (docs/relations.md#nrpe-external-master): once an nrpe unit is related, the unit
/// writes the registry check (a registry-specific name, `GET /v2/` on registry-port) and
/// its Nagios service export
/// under the subordinate's host name, root 0644, and announces them once with a timestamp
/// and the files' digest. Nothing is written before a unit joins (no host name yet), the
/// subordinate's directories keep their mode, and the registry is not restarted.
#[test]
fn nrpe_relation_writes_the_registry_check_and_announces_it() {
    let (u, _) = Unit::serving();
    u.files.seed_dir(NRPE_EXPORT_DIR, 0o775, (112, 113));
    let rel = u.juju.add_relation("nrpe-external-master", "nrpe");
    u.ok(relation_event(RelationKind::Created, &rel, None));
    assert!(!u.exists(NRPE_CFG), "written before nrpe/0 joined");
    assert!(sets_on(&u, &rel).is_empty());

    u.juju.set_unit_bag(&rel, "nrpe/0", {
        let mut b = juju_keys(ADDR);
        b.extend(bag(&[
            ("nagios_hostname", "prod-docker-registry-0"),
            ("nagios_host_context", "prod"),
        ]));
        b
    });
    u.ok(joined(&rel, "nrpe/0"));
    u.ok(changed(&rel, "nrpe/0"));

    let cfg = u.text(NRPE_CFG);
    assert!(cfg.starts_with("# check docker_registry\n"), "{cfg}");
    assert!(cfg.contains("# servicegroups: prod\n"), "{cfg}");
    assert!(
        cfg.ends_with(&format!(
            "command[check_docker_registry]={CHECK_HTTP_5000}\n"
        )),
        "{cfg}"
    );
    let export_path = nrpe_export("prod-docker-registry-0");
    let export = u.text(&export_path);
    for line in [
        "    use                             active-service\n",
        "    host_name                       prod-docker-registry-0\n",
        "    check_command                   check_nrpe!check_docker_registry\n",
        "    servicegroups                   prod\n",
    ] {
        assert!(export.contains(line), "{line:?} not in {export}");
    }
    assert_eq!(u.meta(NRPE_CFG), (0o644, 0, 0));
    assert_eq!(u.meta(&export_path), (0o644, 0, 0));
    assert_eq!(
        u.meta(NRPE_EXPORT_DIR),
        (0o775, 112, 113),
        "the subordinate's directory is left as it is"
    );

    let ours = u.juju.our_bag(&rel);
    let ts = &ours["timestamp"];
    assert_eq!(ts.len(), "2026-01-02T03:04:05.000006".len(), "{ts}");
    assert_eq!(&ts[10..11], "T", "{ts}");
    assert_eq!(
        ours["checks-sha256"],
        charm::relations::nrpe::digest(&[&cfg, &export])
    );
    assert_eq!(
        sets_on(&u, &rel).len(),
        1,
        "joined announces, changed has nothing new"
    );
    assert_eq!(u.service_calls(), (1, 0, 0), "monitoring restarts nothing");
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// B7: the check talks TLS (`-S`) whenever the registry does and follows registry-port;
/// each change rewrites the check and moves `timestamp` (the subordinate reloads NRPE).
#[test]
fn nrpe_check_follows_tls_and_registry_port() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let rel = add_nrpe(&u, &[("nagios_hostname", "juju-docker-registry-0")]);
    let step = |what: &str, want_cmd: &str, before: &Databag| -> Databag {
        assert_eq!(nrpe_command(&u), want_cmd, "{what}");
        let now = u.juju.our_bag(&rel);
        assert_ne!(now["checks-sha256"], before["checks-sha256"], "{what}");
        assert_ne!(now["timestamp"], before["timestamp"], "{what}");
        now
    };
    assert_eq!(nrpe_command(&u), CHECK_HTTP_5000);
    let plain = u.juju.our_bag(&rel);

    u.config(&tls_blobs(&ca));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    let tls = step("TLS on", &format!("{CHECK_HTTP_5000} -S"), &plain);

    u.config(&[("registry-port", json!(5443))]);
    let moved = step(
        "port 5443",
        &format!("{} -S", CHECK_HTTP_5000.replace("-p 5000", "-p 5443")),
        &tls,
    );

    clear_tls_blobs(&u);
    step(
        "TLS off",
        &CHECK_HTTP_5000.replace("-p 5000", "-p 5443"),
        &moved,
    );
    // The export file names the check, not the port: still the one file.
    assert!(u.exists(&nrpe_export("juju-docker-registry-0")));
}

/// No churn (the Python charm rewrote `timestamp` every hook, B7): with the relation in place,
/// repeated no-op hooks write no file and set no relation data; update-status asks Juju
/// for no relation ids, and without an nrpe relation never mentions the endpoint at all.
#[test]
fn nrpe_noop_hooks_write_nothing_and_set_nothing() {
    let (u, _) = Unit::serving();
    u.juju.clear_calls();
    u.ok(Event::UpdateStatus);
    assert!(
        u.juju
            .calls()
            .iter()
            .all(|c| !c.args.iter().any(|a| a.contains("nrpe-external-master"))),
        "update-status without nrpe: {:?}",
        u.juju.calls()
    );

    let rel = add_nrpe(&u, &[("nagios_hostname", "juju-docker-registry-0")]);
    let announced = u.juju.our_bag(&rel);
    let status = u.status();
    u.files.clear_ops();
    u.juju.clear_calls();
    for _ in 0..5 {
        u.ok(Event::UpdateStatus);
        u.ok(Event::ConfigChanged);
        u.ok(changed(&rel, "nrpe/0"));
    }
    assert_eq!(u.writes(), vec![], "no file written");
    assert_eq!(
        u.juju.calls_of("relation-set"),
        vec![],
        "no relation data set"
    );
    assert_eq!(u.juju.our_bag(&rel), announced);
    assert_eq!(u.status(), status);
    assert_eq!(u.service_calls(), (1, 0, 0));

    // update-status alone reuses the relation ids (nrpe's included).
    u.juju.clear_calls();
    u.ok(Event::UpdateStatus);
    assert!(u.juju.calls_of("relation-ids").is_empty());
}

/// B7 (the Python charm never removed its check): when the nrpe unit departs and the relation
/// is removed, the check files go; the operator's other NRPE files and the registry's own
/// files stay. A new host name moves the export file instead of leaving the old one.
#[test]
fn nrpe_files_follow_the_host_name_and_go_with_the_relation() {
    let (u, _) = Unit::serving();
    let theirs = "/etc/nagios/nrpe.d/check_load.cfg";
    u.files
        .seed_file(theirs, b"command[check_load]=...\n", 0o644, (0, 0));
    let rel = add_nrpe(&u, &[("nagios_hostname", "old-name")]);
    assert!(u.exists(&nrpe_export("old-name")));
    let before = u.juju.our_bag(&rel);

    u.juju.with_relation(&rel, |r| {
        r.units
            .get_mut("nrpe/0")
            .unwrap()
            .insert("nagios_hostname".into(), "new-name".into());
    });
    u.ok(changed(&rel, "nrpe/0"));
    assert!(
        !u.exists(&nrpe_export("old-name")),
        "old export left behind"
    );
    assert!(u.exists(&nrpe_export("new-name")));
    assert_ne!(u.juju.our_bag(&rel)["timestamp"], before["timestamp"]);

    remove_nrpe(&u, &rel);
    assert!(!u.exists(NRPE_CFG), "check left behind");
    assert!(!u.exists(&nrpe_export("new-name")), "export left behind");
    assert!(u.exists(theirs), "another charm's check was removed");
    assert!(u.exists(CONFIG_PATH));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert_eq!(u.service_calls(), (1, 0, 0));
}

/// Removing the unit removes the check with the charm's other files.
#[test]
fn remove_takes_the_nrpe_check_with_it() {
    let (u, _) = Unit::serving();
    add_nrpe(&u, &[("nagios_host_context", "prod")]);
    let export = nrpe_export("prod-docker-registry-0");
    assert!(u.exists(NRPE_CFG) && u.exists(&export));
    u.ok(Event::Stop);
    u.ok(Event::Remove);
    assert!(!u.exists(NRPE_CFG) && !u.exists(&export));
}

/// Garbage from the nrpe unit is logged (naming the unit and the key) and ignored: the
/// bad key counts as unset, the good ones are used, and the hook succeeds.
#[test]
fn nrpe_garbage_is_logged_and_ignored() {
    let (u, _) = Unit::serving();
    add_nrpe(
        &u,
        &[
            ("nagios_hostname", "../../etc/cron.d/x"),
            ("nagios_host_context", "prod"),
        ],
    );
    let warnings = u.log_lines("WARNING");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("nrpe/0") && w.contains("nagios_hostname")),
        "nrpe garbage not logged: {warnings:?}"
    );
    assert!(u.exists(&nrpe_export("prod-docker-registry-0")));
    assert!(u.text(NRPE_CFG).contains("# servicegroups: prod\n"));
    assert!(
        u.files
            .changed_paths()
            .iter()
            .all(|p| !p.to_string_lossy().contains("cron.d")),
        "{:?}",
        u.files.changed_paths()
    );
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// nagios_context and nagios_servicegroups options: the context names the host when the
/// subordinate sends none; servicegroups wins over the context in both files.
#[test]
fn nagios_options_name_the_host_and_the_service_groups() {
    let (u, _) = Unit::serving();
    u.config(&[
        ("nagios_context", json!("staging")),
        ("nagios_servicegroups", json!("registries")),
    ]);
    let rel = add_nrpe(&u, &[]);
    let export_path = nrpe_export("staging-docker-registry-0");
    assert!(u
        .text(&export_path)
        .contains("    servicegroups                   registries\n"));
    assert!(u.text(NRPE_CFG).contains("# servicegroups: registries\n"));
    let before = u.juju.our_bag(&rel);
    u.config(&[("nagios_servicegroups", json!(""))]);
    assert!(u
        .text(&export_path)
        .contains("    servicegroups                   staging\n"));
    assert_ne!(
        u.juju.our_bag(&rel)["checks-sha256"],
        before["checks-sha256"]
    );
}

// ---- operator files at the paths the charm writes (B22) -----------------------------------

use charm::charm::local::{Displaced, LocalState, DISPLACED_DIR};

/// One operator file as it was placed: path, content, (mode, uid, gid).
#[derive(Debug, Clone, PartialEq)]
struct Placed {
    path: &'static str,
    contents: Vec<u8>,
    meta: (u32, u32, u32),
}

/// An operator's own CA, certificate and key at the default tls-*-paths, with the modes
/// and owners an admin uses (the key readable by the registry's group only).
fn place_operator_tls(u: &Unit, ca: &Ca) -> Vec<Placed> {
    let (cert, key) = server_cert(ca, &[ADDR.to_string()], 90);
    let gid = service_user().unwrap().1;
    let placed = vec![
        Placed {
            path: DEFAULT_TLS_CA_PATH,
            contents: ca.pem.clone().into_bytes(),
            meta: (0o644, 0, 0),
        },
        Placed {
            path: DEFAULT_TLS_CERT_PATH,
            contents: cert.into_bytes(),
            meta: (0o644, 0, 0),
        },
        Placed {
            path: DEFAULT_TLS_KEY_PATH,
            contents: key.into_bytes(),
            meta: (0o640, 0, gid),
        },
    ];
    for p in &placed {
        let (mode, uid, gid) = p.meta;
        u.files.seed_file(p.path, &p.contents, mode, (uid, gid));
    }
    placed
}

/// What the charm remembers having set aside.
fn displaced(u: &Unit) -> BTreeMap<PathBuf, Displaced> {
    LocalState::load(&*u.files).unwrap().displaced
}

/// Every placed file is set aside: a copy under the charm's private dir with the same
/// content, mode and owner, and a record of it; the path holds something else now.
fn assert_set_aside(u: &Unit, placed: &[Placed]) {
    let kept = displaced(u);
    assert_eq!(kept.len(), placed.len(), "{kept:?}");
    for p in placed {
        let d = &kept[Path::new(p.path)];
        assert!(d.backup.starts_with(DISPLACED_DIR), "{d:?}");
        assert_eq!(
            u.files.contents(&d.backup).as_deref(),
            Some(&p.contents[..]),
            "the copy of {} is not the original",
            p.path
        );
        assert_eq!(u.meta(d.backup.to_str().unwrap()), p.meta, "{}", p.path);
        assert_eq!((d.mode, d.uid, d.gid), p.meta);
        assert_ne!(
            u.files.contents(p.path).as_deref(),
            Some(&p.contents[..]),
            "{} was not replaced by the charm's file",
            p.path
        );
    }
    assert_eq!(u.meta(DISPLACED_DIR), (0o700, 0, 0));
}

/// Every placed file is back byte for byte with its mode and owner; no copy is left.
fn assert_put_back(u: &Unit, placed: &[Placed]) {
    for p in placed {
        assert_eq!(
            u.files.contents(p.path).as_deref(),
            Some(&p.contents[..]),
            "{} is not the operator's again",
            p.path
        );
        assert_eq!(u.meta(p.path), p.meta, "{} mode/owner", p.path);
    }
    assert_eq!(displaced(u), BTreeMap::new());
    let copies: Vec<FileOp> = u
        .files
        .ops()
        .into_iter()
        .filter(|op| op.path().starts_with(DISPLACED_DIR) && op.path() != Path::new(DISPLACED_DIR))
        .collect();
    for op in &copies {
        assert!(
            !u.exists(op.path().to_str().unwrap()),
            "copy {} left behind",
            op.path().display()
        );
    }
}

/// B22: a certificate from cert-provider is written over the operator's files only after
/// they are set aside; when the relation goes they come back as they were, and TLS is
/// served from them again (blobs > relation > operator files). No-op hooks touch nothing.
#[test]
fn operator_tls_files_are_set_aside_for_the_cert_provider_and_put_back_after_it() {
    let ca = ca();
    let (u, _) = Unit::leader();
    let placed = place_operator_tls(&u, &self::ca());
    u.deploy();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));

    let cp = easyrsa_answers(&u, &ca, 90);
    assert_set_aside(&u, &placed);
    assert_eq!(u.text(DEFAULT_TLS_CA_PATH).trim(), ca.pem.trim());
    let tls_ca: String = serde_json::from_str(&u.juju.our_bag(&client)["tls_ca"]).unwrap();
    assert_eq!(
        tls_ca.trim(),
        ca.pem.trim(),
        "clients get the provider's CA"
    );
    let infos = u.log_lines("INFO");
    let said: Vec<&String> = infos.iter().filter(|l| l.contains("set aside")).collect();
    assert_eq!(said.len(), 3, "{infos:?}");
    assert!(said.iter().any(|l| l.contains(DEFAULT_TLS_KEY_PATH)
        && l.contains(DISPLACED_DIR)
        && !l.contains("BEGIN")));

    u.files.clear_ops();
    let calls = u.service_calls();
    for _ in 0..3 {
        u.ok(Event::UpdateStatus);
        u.ok(changed(&cp, "easyrsa/0"));
    }
    assert_eq!(
        u.writes(),
        vec![],
        "no churn while the provider's files are in place"
    );
    assert_eq!(u.service_calls(), calls);

    u.juju.remove_relation(&cp);
    u.ok(relation_event(RelationKind::Broken, &cp, None));
    assert_put_back(&u, &placed);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert!(u.text(CONFIG_PATH).contains(DEFAULT_TLS_KEY_PATH));
    let tls_ca: String = serde_json::from_str(&u.juju.our_bag(&client)["tls_ca"]).unwrap();
    assert_eq!(
        tls_ca.as_bytes(),
        &placed[0].contents[..],
        "clients get the operator's CA again"
    );

    u.files.clear_ops();
    let calls = u.service_calls();
    u.ok(Event::UpdateStatus);
    u.ok(Event::ConfigChanged);
    assert_eq!(u.writes(), vec![], "no churn once given back");
    assert_eq!(u.service_calls(), calls);
}

/// B22: the same with tls-*-blob options: set aside when they are set, put back when they
/// are cleared (the Python charm left its blob files, and deleted the operator's).
#[test]
fn operator_tls_files_are_set_aside_for_blobs_and_put_back_when_cleared() {
    let ca = ca();
    let (u, _) = Unit::leader();
    let placed = place_operator_tls(&u, &self::ca());
    u.deploy();
    u.config(&tls_blobs(&ca));
    assert_set_aside(&u, &placed);
    assert_eq!(u.text(DEFAULT_TLS_CA_PATH).trim(), ca.pem.trim());
    let (uid, gid) = service_user().unwrap();
    assert_eq!(u.meta(DEFAULT_TLS_KEY_PATH), (0o600, uid, gid));

    u.files.clear_ops();
    u.ok(Event::UpdateStatus);
    u.ok(Event::ConfigChanged);
    assert_eq!(u.writes(), vec![]);

    clear_tls_blobs(&u);
    assert_put_back(&u, &placed);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(u.probes.lock().unwrap().last().unwrap().1, Scheme::Https);
}

/// B22/B33: the `remove` hook gives the operator's files back too, and removes the rest
/// of what the charm wrote.
#[test]
fn remove_puts_the_operators_tls_files_back() {
    let ca = ca();
    let (u, _) = Unit::leader();
    let placed = place_operator_tls(&u, &self::ca());
    u.deploy();
    easyrsa_answers(&u, &ca, 90);
    assert_set_aside(&u, &placed);
    u.ok(Event::Stop);
    u.ok(Event::Remove);
    for p in &placed {
        assert_eq!(
            u.files.contents(p.path).as_deref(),
            Some(&p.contents[..]),
            "{}",
            p.path
        );
        assert_eq!(u.meta(p.path), p.meta, "{}", p.path);
    }
    let copies = u
        .files
        .ops()
        .into_iter()
        .filter(|op| matches!(op, FileOp::Write { .. }) && op.path().starts_with(DISPLACED_DIR))
        .count();
    assert_eq!(copies, 3);
    for op in u.files.ops() {
        if op.path().starts_with(DISPLACED_DIR) && op.path() != Path::new(DISPLACED_DIR) {
            assert!(!u.exists(op.path().to_str().unwrap()), "{op:?} left behind");
        }
    }
    assert!(!u.exists(CONFIG_PATH));
    assert!(!u.exists(charm::charm::local::STATE_FILE));
}

/// "Never touch a file the operator changed": a certificate and key replaced by hand
/// while the charm managed the paths are left as they are when it stops (and used); the
/// originals stay set aside, with a warning saying where. The untouched CA comes back.
#[test]
fn files_changed_by_hand_are_left_alone_when_the_charm_lets_go() {
    let ca = ca();
    let (u, _) = Unit::leader();
    let operator_ca = self::ca();
    let placed = place_operator_tls(&u, &operator_ca);
    u.deploy();
    u.config(&tls_blobs(&ca));
    let kept = displaced(&u);

    // The operator re-issues from their own CA (the one that comes back).
    let (cert, key) = server_cert(&operator_ca, &[ADDR.to_string()], 60);
    let gid = service_user().unwrap().1;
    u.files
        .seed_file(DEFAULT_TLS_CERT_PATH, cert.as_bytes(), 0o644, (0, 0));
    u.files
        .seed_file(DEFAULT_TLS_KEY_PATH, key.as_bytes(), 0o640, (0, gid));
    clear_tls_blobs(&u);
    assert_eq!(u.text(DEFAULT_TLS_CERT_PATH), cert);
    assert_eq!(u.text(DEFAULT_TLS_KEY_PATH), key);
    assert_eq!(u.meta(DEFAULT_TLS_KEY_PATH), (0o640, 0, gid));
    assert_eq!(
        u.files.contents(DEFAULT_TLS_CA_PATH).as_deref(),
        Some(&placed[0].contents[..])
    );
    for p in [DEFAULT_TLS_CERT_PATH, DEFAULT_TLS_KEY_PATH] {
        let i = placed.iter().position(|x| x.path == p).unwrap();
        let backup = &kept[Path::new(p)].backup;
        assert_eq!(
            u.files.contents(backup).as_deref(),
            Some(&placed[i].contents[..]),
            "the original {p} is kept"
        );
        let warnings = u.log_lines("WARNING");
        assert!(
            warnings.iter().any(|w| w.contains(p)
                && w.contains("left as it is")
                && w.contains(backup.to_str().unwrap())),
            "{warnings:?}"
        );
    }
    assert_eq!(displaced(&u), BTreeMap::new(), "records forgotten");
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert!(u.text(CONFIG_PATH).contains(DEFAULT_TLS_KEY_PATH));
}

/// While the charm manages the paths its source wins: a hand edit is set aside too (never
/// lost) and the charm's file is written again; that edit is what comes back later.
#[test]
fn a_hand_edit_while_managed_is_set_aside_and_comes_back_later() {
    let ca = ca();
    let (u, _) = Unit::leader();
    let placed = place_operator_tls(&u, &self::ca());
    u.deploy();
    u.config(&tls_blobs(&ca));
    let ours = u.text(DEFAULT_TLS_CERT_PATH);
    let first = displaced(&u)[Path::new(DEFAULT_TLS_CERT_PATH)]
        .backup
        .clone();

    u.files
        .seed_file(DEFAULT_TLS_CERT_PATH, b"edited by hand\n", 0o600, (0, 0));
    u.ok(Event::UpdateStatus);
    assert_eq!(u.text(DEFAULT_TLS_CERT_PATH), ours, "the blob wins");
    let kept = displaced(&u);
    let second = &kept[Path::new(DEFAULT_TLS_CERT_PATH)];
    assert_ne!(second.backup, first);
    assert_eq!(
        u.files.contents(&second.backup).as_deref(),
        Some(&b"edited by hand\n"[..])
    );
    assert_eq!(u.meta(second.backup.to_str().unwrap()), (0o600, 0, 0));
    assert_eq!(
        u.files.contents(&first).as_deref(),
        Some(&placed[1].contents[..]),
        "the first copy is not overwritten"
    );

    clear_tls_blobs(&u);
    assert_eq!(u.text(DEFAULT_TLS_CERT_PATH), "edited by hand\n");
    assert_eq!(u.meta(DEFAULT_TLS_CERT_PATH), (0o600, 0, 0));
    assert_eq!(u.status().0, "blocked", "an unusable certificate blocks");
}

/// A tls-*-path moved away from an operator's file gives that file back at the old path.
#[test]
fn moving_a_tls_path_away_gives_the_operators_file_back() {
    let ca = ca();
    let (u, _) = Unit::leader();
    let placed = place_operator_tls(&u, &self::ca());
    u.deploy();
    u.config(&tls_blobs(&ca));
    u.config(&[
        ("tls-cert-path", json!("/etc/registry-tls/server.crt")),
        ("tls-key-path", json!("/etc/registry-tls/server.key")),
    ]);
    for p in &placed[1..] {
        assert_eq!(
            u.files.contents(p.path).as_deref(),
            Some(&p.contents[..]),
            "{}",
            p.path
        );
        assert_eq!(u.meta(p.path), p.meta);
    }
    let kept = displaced(&u);
    assert_eq!(
        kept.keys().collect::<Vec<_>>(),
        vec![Path::new(DEFAULT_TLS_CA_PATH)]
    );
    assert!(u.text(CONFIG_PATH).contains("/etc/registry-tls/server.key"));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
}

/// config.yml and htpasswd are the charm's own by contract (the Python charm wrote them
/// from the options): replaced as they are, never set aside.
#[test]
fn config_yml_and_htpasswd_left_by_the_python_charm_are_replaced() {
    let (u, _) = Unit::leader();
    u.files
        .seed_file(CONFIG_PATH, b"version: 0.1\n", 0o600, (0, 0));
    u.files
        .seed_file(HTPASSWD_PATH, b"admin:$2y$05$old\n", 0o644, (0, 0));
    u.juju.update(|s| {
        s.config
            .insert("auth-basic-password".into(), json!("pw-Secret1"));
    });
    u.deploy();
    assert_eq!(displaced(&u), BTreeMap::new());
    assert!(u.text(CONFIG_PATH).contains("htpasswd"));
    assert!(!u.text(HTPASSWD_PATH).contains("$old"));
    assert!(!u
        .files
        .ops()
        .iter()
        .any(|op| op.path().starts_with(DISPLACED_DIR)));
}

/// A hook that stopped after setting a file aside but before writing over it (the record
/// is saved first) loses nothing: the original is still in place and, once the charm no
/// longer manages the path, the now useless copy and its record go.
#[test]
fn a_hook_stopped_right_after_setting_aside_loses_nothing() {
    let ca = ca();
    let (u, _) = Unit::leader();
    let placed = place_operator_tls(&u, &self::ca());
    u.deploy();
    u.config(&tls_blobs(&ca));
    // The machine as that hook left it: the copy and its record, the original in place.
    let mut local = LocalState::load(&*u.files).unwrap();
    local.owned.remove(Path::new(DEFAULT_TLS_CERT_PATH));
    local.save(&*u.files).unwrap();
    let cert = &placed[1];
    u.files.seed_file(
        cert.path,
        &cert.contents,
        cert.meta.0,
        (cert.meta.1, cert.meta.2),
    );
    let backup = displaced(&u)[Path::new(cert.path)].backup.clone();

    // The retried hook finds the path moved away: nothing to write there any more.
    u.config(&[("tls-cert-path", json!("/etc/registry-tls/server.crt"))]);
    assert_eq!(
        u.files.contents(cert.path).as_deref(),
        Some(&cert.contents[..])
    );
    assert_eq!(u.meta(cert.path), cert.meta);
    assert!(!displaced(&u).contains_key(Path::new(cert.path)));
    assert!(!u.exists(backup.to_str().unwrap()), "copy left behind");
    assert_no_warnings(&u);
}

/// The same interrupted hook, retried with nothing changed: the write happens, the copy
/// taken before is the one kept (no second copy, no warning), and it comes back later.
#[test]
fn a_retried_hook_keeps_the_copy_it_took_before() {
    let ca = ca();
    let (u, _) = Unit::leader();
    let placed = place_operator_tls(&u, &self::ca());
    u.deploy();
    u.config(&tls_blobs(&ca));
    let ours = u.text(DEFAULT_TLS_CERT_PATH);
    let mut local = LocalState::load(&*u.files).unwrap();
    local.owned.remove(Path::new(DEFAULT_TLS_CERT_PATH));
    local.save(&*u.files).unwrap();
    let cert = &placed[1];
    u.files.seed_file(
        cert.path,
        &cert.contents,
        cert.meta.0,
        (cert.meta.1, cert.meta.2),
    );
    let before = displaced(&u);

    u.ok(Event::ConfigChanged);
    assert_eq!(u.text(DEFAULT_TLS_CERT_PATH), ours);
    assert_eq!(displaced(&u), before);
    assert_no_warnings(&u);
    clear_tls_blobs(&u);
    assert_put_back(&u, &placed);
}

/// A hook that stops right after writing over an operator's file still remembers that
/// the file there is the charm's: the retry neither sets the charm's own certificate aside
/// as a hand edit nor warns, and the operator's original is what comes back.
#[test]
fn a_hook_stopped_right_after_writing_over_the_original_remembers_it() {
    let ca = ca();
    let (u, _) = Unit::leader();
    let placed = place_operator_tls(&u, &self::ca());
    u.deploy();
    let blobs = tls_blobs(&ca);
    // Stop the hook at the next step after the certificate: setting the key aside.
    let key = &placed[2];
    let key_copy = charm::charm::local::displaced_path(
        Path::new(key.path),
        &charm::charm::local::sha256(&key.contents),
    );
    u.files.fail_write_to(&key_copy);
    u.juju.update(|s| {
        for (k, v) in &blobs {
            s.config.insert(k.to_string(), v.clone());
        }
    });
    assert!(u.run(Event::ConfigChanged).is_err());
    assert_ne!(
        u.files.contents(DEFAULT_TLS_CERT_PATH).as_deref(),
        Some(&placed[1].contents[..]),
        "the certificate was written before the hook stopped"
    );

    u.ok(Event::ConfigChanged);
    assert_no_warnings(&u);
    assert_set_aside(&u, &placed);
    clear_tls_blobs(&u);
    assert_put_back(&u, &placed);
}

// ---- config.yml reuse ---------------------------------------------------------------------

/// config.yml is reused only while it is what the charm wrote: a hand edit is replaced by
/// the next hook (and the registry restarted on the charm's config again).
#[test]
fn a_hand_edited_config_yml_is_rewritten_by_the_next_hook() {
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    let (_uid, gid) = service_user().unwrap();
    u.files.seed_file(
        CONFIG_PATH,
        b"version: 0.1\n# edited by hand\n",
        0o640,
        (0, gid),
    );
    u.ok(Event::UpdateStatus);
    assert_eq!(u.text(CONFIG_PATH), good);
}

/// A change that the typed config hides (secrets are redacted in it) still re-renders:
/// the reuse key is the raw config, secrets included.
#[test]
fn a_secret_only_change_still_rerenders_config_yml() {
    let (u, _) = Unit::serving();
    let s3 = [
        ("storage-s3-region", json!("r")),
        ("storage-s3-bucket", json!("b")),
        ("storage-s3-accesskey", json!("AK")),
        ("storage-s3-secretkey", json!("first-secret")),
    ];
    u.config(&s3);
    assert!(u.text(CONFIG_PATH).contains("first-secret"));
    u.config(&[("storage-s3-secretkey", json!("second-secret"))]);
    let text = u.text(CONFIG_PATH);
    assert!(text.contains("second-secret") && !text.contains("first-secret"));
}

/// Issue 17 item 8: the HTTP secret lives in a Juju secret only. It never travels in a
/// process's argv (secret-add gets it as key#file, `leader-set` is never used) nor in
/// relation data (the peer app bag holds the secret's URI). Before the peer relation
/// exists (install), the leader waits one hook.
#[test]
fn the_http_secret_travels_only_in_a_juju_secret() {
    let u = Unit::new("docker-registry/0", true);
    u.ok(Event::Install);
    assert_eq!(u.status().0, "waiting");
    assert_eq!(u.service_calls(), (0, 0, 0));
    let peer = u.juju.add_relation("peer", "docker-registry");
    u.ok(relation_event(RelationKind::Created, &peer, None));
    u.ok(Event::LeaderElected);
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    assert!(u.juju.calls_of("leader-set").is_empty());
    let (secret, uri) = shared_secret(&u);
    assert_eq!(secret.len(), 44, "32 random bytes, base64");
    assert!(u.text(CONFIG_PATH).contains(&secret));
    assert_eq!(u.juju.our_app_bag(&peer), bag(&[("shared-secret", &uri)]));
    for call in u.juju.calls() {
        let stdin = String::from_utf8_lossy(call.stdin.as_deref().unwrap_or_default()).into_owned();
        assert!(
            call.args.iter().all(|a| !a.contains(&secret)) && !stdin.contains(&secret),
            "{} {:?} carries the secret",
            call.tool,
            call.args
        );
    }
    let add = &u.juju.calls_of("secret-add")[0];
    assert!(add.args.last().unwrap().starts_with("http-secret#file=/"));
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.5:5000 (http). {RUNTIMES_NEED_TLS}"
        ))
    );
}

// ---- the shared secret (issue 17 item 8) ------------------------------------------------

/// A deployment of an earlier revision kept the http secret in the peer app bag. After
/// the refresh the leader moves the same value into the Juju secret and deletes it from
/// the bag in one commit: no unit restarts, config.yml stays byte for byte, and a
/// follower reads it from the secret from then on.
#[test]
fn upgrade_from_the_peer_bag_secret_moves_it_without_a_restart() {
    let old = "b2xkLXJldmlzaW9uLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm";
    // Two units serving what the earlier revision shared (run as followers: the only
    // role in which this charm still renders a value it found in the peer bag).
    let units: Vec<(Unit, RelationId)> = ["docker-registry/0", "docker-registry/1"]
        .into_iter()
        .map(|name| {
            let u = Unit::new(name, false);
            let peer = u.juju.add_relation("peer", "docker-registry");
            u.juju
                .with_relation(&peer, |r| r.our_app = bag(&[("http-secret", old)]));
            u.deploy();
            assert!(u.text(CONFIG_PATH).contains(old));
            (u, peer)
        })
        .collect();
    let configs: Vec<String> = units.iter().map(|(u, _)| u.text(CONFIG_PATH)).collect();
    let (leader, leader_peer) = &units[0];
    leader.juju.update(|s| s.leader = true);
    leader.files.clear_ops();
    for ev in [Event::UpgradeCharm, Event::ConfigChanged] {
        leader.ok(ev);
    }
    let (value, uri) = shared_secret(leader);
    assert_eq!(value, old, "the same value moved");
    assert_eq!(
        leader.juju.our_app_bag(leader_peer),
        bag(&[("shared-secret", &uri)]),
        "the bag no longer holds the value"
    );
    let moved = leader.log_lines("INFO");
    assert!(
        moved
            .iter()
            .any(|l| l.contains("moving the registry HTTP secret")),
        "{moved:?}"
    );
    // The follower sees the leader's commit in a relation-changed.
    let (follower, follower_peer) = &units[1];
    sync_model(leader, leader_peer, follower, follower_peer);
    follower.files.clear_ops();
    follower.ok(changed(follower_peer, "docker-registry/0"));
    for (i, (u, _)) in units.iter().enumerate() {
        assert_eq!(u.service_calls(), (1, 0, 0), "{}: no restart", u.name);
        assert_eq!(u.text(CONFIG_PATH), configs[i], "{}", u.name);
        assert_eq!(u.writes(), vec![], "{}: nothing rewritten", u.name);
        assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    }
    // Moved once: later hooks neither add nor set.
    leader.juju.clear_calls();
    leader.ok(Event::UpdateStatus);
    leader.ok(Event::ConfigChanged);
    for tool in ["secret-add", "secret-set", "relation-set", "leader-get"] {
        assert!(leader.juju.calls_of(tool).is_empty(), "{tool} called again");
    }
}

/// Issue 17 item 10 (the leader removed): the new leader finds the secret the old one
/// made (by the URI in the peer bag), makes no new one and changes nothing: same value,
/// no restart, no relation write.
#[test]
fn a_new_leader_keeps_the_secret_and_restarts_nothing() {
    let (old_leader, old_peer) = Unit::serving();
    let (u, peer) = follower_of(&old_leader, &old_peer, "docker-registry/1");
    u.deploy();
    let (value, _) = shared_secret(&old_leader);
    let config = u.text(CONFIG_PATH);
    assert!(config.contains(&value));
    // docker-registry/0 is removed; leadership moves to /1.
    u.juju.with_relation(&peer, |r| {
        r.units.remove("docker-registry/0");
    });
    u.juju.update(|s| s.leader = true);
    u.juju.clear_calls();
    u.files.clear_ops();
    u.ok(relation_event(
        RelationKind::Departed,
        &peer,
        Some("docker-registry/0"),
    ));
    u.ok(Event::LeaderElected);
    assert_eq!(shared_secret(&u).0, value, "same secret");
    assert_eq!(u.juju.state().secrets, old_leader.juju.state().secrets);
    for tool in ["secret-add", "secret-set", "relation-set"] {
        assert!(u.juju.calls_of(tool).is_empty(), "{tool} called");
    }
    assert_eq!(u.service_calls(), (1, 0, 0), "no restart");
    assert_eq!(u.text(CONFIG_PATH), config);
    assert_eq!(u.writes(), vec![]);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// A follower renders a new revision when it is told of one (`secret-changed`); the
/// leader repairs content it cannot use with a new revision, never a second secret.
#[test]
fn secret_changed_renders_the_new_revision_and_bad_content_is_repaired() {
    let (leader, leader_peer) = Unit::serving();
    let (follower, follower_peer) = follower_of(&leader, &leader_peer, "docker-registry/1");
    follower.deploy();
    let (before, uri) = shared_secret(&leader);
    // A faulty earlier revision of the charm wrote content it cannot render (a space in
    // the value); only the application's leader writes its secret, so the leader reads
    // it at the refresh back to this revision (upgrade-charm reads everything).
    leader.juju.update(|s| {
        let secret = s.secrets.values_mut().next().unwrap();
        secret
            .revisions
            .insert(2, bag(&[("http-secret", "not usable")]));
    });
    leader.ok(Event::UpgradeCharm);
    let warnings = leader.log_lines("WARNING");
    assert!(
        warnings.iter().any(|w| w.contains("cannot be used")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().all(|w| !w.contains("not usable")),
        "{warnings:?}"
    );
    let (after, uri_after) = shared_secret(&leader);
    assert_eq!(uri_after, uri, "the same secret, a new revision");
    assert_eq!(leader.juju.secret("registry-shared").unwrap().1.latest(), 3);
    assert_ne!(after, before);
    assert_eq!(leader.juju.state().secrets.len(), 1);
    assert!(leader.text(CONFIG_PATH).contains(&after));
    sync_model(&leader, &leader_peer, &follower, &follower_peer);
    follower.ok(Event::Secret {
        kind: charm::juju::SecretKind::Changed,
        id: uri.clone(),
        label: None,
        revision: None,
    });
    assert!(follower.text(CONFIG_PATH).contains(&after));
    assert_eq!(
        follower.service_calls(),
        (1, 1, 0),
        "one restart for a new secret"
    );
}

/// `secret-remove` for a revision nobody reads: the leader drops it.
#[test]
fn secret_remove_drops_the_unread_revision() {
    let (u, _) = Unit::serving();
    let (value, uri) = shared_secret(&u);
    u.juju.update(|s| {
        let secret = s.secrets.values_mut().next().unwrap();
        secret.revisions.insert(2, bag(&[("http-secret", &value)]));
    });
    u.ok(Event::Secret {
        kind: charm::juju::SecretKind::Remove,
        id: uri.clone(),
        label: Some("registry-shared".into()),
        revision: Some(1),
    });
    let secret = u.juju.secret("registry-shared").unwrap().1;
    assert_eq!(secret.revisions.keys().collect::<Vec<_>>(), [&2]);
    assert_eq!(u.service_calls(), (1, 0, 0));
}

/// A follower that cannot read the secret the peer bag names says so in the log and
/// waits; it never makes a secret of its own.
#[test]
fn a_follower_that_cannot_read_the_secret_waits() {
    let u = Unit::new("docker-registry/1", false);
    let peer = u.juju.add_relation("peer", "docker-registry");
    let uri = format!("secret://{MODEL_UUID}/00000000000000000042");
    u.juju
        .with_relation(&peer, |r| r.our_app = bag(&[("shared-secret", &uri)]));
    u.deploy();
    assert_eq!(u.status().0, "waiting");
    let warnings = u.log_lines("WARNING");
    assert!(
        warnings.iter().any(|w| w.contains("cannot be read")),
        "{warnings:?}"
    );
    assert_eq!(u.service_calls(), (0, 0, 0));
    assert!(u.juju.calls_of("secret-add").is_empty());
}

// ---- faults survived (issue 17 item 10) --------------------------------------------------

/// What a settled leader with one client shows: the invariants every fault test checks
/// after the retry. The secret in config.yml is the committed one; clients, the peer bag
/// and the ports agree with it.
fn assert_consistent(u: &Unit, peer: &RelationId, client: &RelationId) {
    let (secret, uri) = shared_secret(u);
    assert!(
        u.text(CONFIG_PATH)
            .contains(&format!("secret: \"{secret}\"")),
        "config.yml renders the committed secret"
    );
    assert_eq!(u.juju.our_app_bag(peer), bag(&[("shared-secret", &uri)]));
    assert_eq!(u.juju.state().secrets.len(), 1, "exactly one secret");
    assert_eq!(
        u.juju.our_bag(client)["registry_netloc"],
        "\"10.1.0.5:5000\""
    );
    assert!(u.service.status().unwrap().is_running());
    assert_eq!(
        u.juju.state().opened_ports.iter().collect::<Vec<_>>(),
        ["5000/tcp"]
    );
    // A runtime is related over plain http: the status says what it misses.
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.5:5000 (http). {RUNTIMES_NEED_TLS}"
        ))
    );
}

/// A hook tool failing mid-hook leaves nothing half-applied: whichever call fails (every
/// one of the first hook that creates the secret, and of a later config change), Juju
/// keeps none of the hook's writes, the failure names the tool, and the retry ends in
/// exactly the state a hook without the fault reaches.
#[test]
fn a_hook_tool_failing_at_any_call_leaves_nothing_half_applied() {
    let fresh = || {
        let (u, peer) = Unit::leader();
        let client = u.juju.add_relation("docker-registry", "containerd");
        u.juju
            .set_unit_bag(&client, "containerd/0", juju_keys("10.1.0.50"));
        (u, peer, client)
    };
    // How many calls each hook makes without a fault.
    let (clean, _, _) = fresh();
    clean.juju.clear_calls();
    clean.ok(Event::Install);
    let install_calls = clean.juju.calls().len();
    clean.juju.clear_calls();
    clean.config(&[("log-level", json!("debug"))]);
    let change_calls = clean.juju.calls().len();
    assert!(install_calls > 10 && change_calls > 5);

    for n in 1..=install_calls {
        let (u, peer, client) = fresh();
        let before = u.juju.state();
        u.juju.fail_call(n);
        let failed = u.run(Event::Install);
        let call = &u.juju.calls()[n - 1];
        if let Err(e) = &failed {
            assert!(e.to_string().contains(&call.tool), "call {n}: {e}");
            let after = u.juju.state();
            assert_eq!(after.secrets, before.secrets, "call {n} ({})", call.tool);
            assert_eq!(after.relations.len(), before.relations.len());
            assert_eq!(u.juju.our_app_bag(&peer), Databag::new());
            assert_eq!(after.opened_ports, before.opened_ports);
        }
        u.ok(Event::Install);
        assert_consistent(&u, &peer, &client);
    }
    for n in 1..=change_calls {
        let (u, peer, client) = fresh();
        u.ok(Event::Install);
        let settled = u.juju.state();
        u.juju.update(|s| {
            s.config.insert("log-level".into(), json!("debug"));
        });
        u.juju.fail_call(n);
        if let Err(e) = u.run(Event::ConfigChanged) {
            assert_eq!(u.juju.state().secrets, settled.secrets);
            assert!(e.to_string().contains("connection is shut down"), "{e}");
        }
        u.ok(Event::ConfigChanged);
        assert!(u.text(CONFIG_PATH).contains("level: \"debug\""));
        assert_consistent(&u, &peer, &client);
        let (_, restarts, _) = u.service_calls();
        assert!(
            restarts <= 1,
            "call {n}: {restarts} restarts for one change"
        );
    }
}

/// Disk full while writing config.yml (a plan-level stand-in; the end-to-end test fills
/// a real tmpfs): the old config.yml stays as it was and keeps serving, the hook fails
/// naming the file, and the retry writes the new one.
#[test]
fn a_failed_config_write_keeps_the_old_config_and_the_retry_succeeds() {
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    u.juju.update(|s| {
        s.config.insert("log-level".into(), json!("debug"));
    });
    u.files.fail_write_to(CONFIG_PATH);
    let e = u.run(Event::ConfigChanged).unwrap_err();
    assert!(e.to_string().contains(CONFIG_PATH), "{e}");
    assert_eq!(u.text(CONFIG_PATH), good, "old config intact");
    assert_eq!(
        u.service_calls(),
        (1, 0, 0),
        "the running registry untouched"
    );
    u.ok(Event::ConfigChanged);
    assert!(u.text(CONFIG_PATH).contains("level: \"debug\""));
    assert_eq!(u.service_calls(), (1, 1, 0));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// A package install that fails fails the hook with apt's own words (Juju retries it);
/// the retry installs and serves.
#[test]
fn a_failed_package_install_fails_the_hook_with_the_cause_and_the_retry_serves() {
    let (u, peer) = Unit::leader();
    let u = Unit {
        packages: RecordingPackages::new(),
        ..u
    };
    u.packages.fail_next(1);
    let e = u.run(Event::Install).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("apt-get install -y docker-registry") && text.contains("E: injected failure"),
        "{text}"
    );
    assert_eq!(u.status().0, "maintenance");
    assert_eq!(u.service_calls(), (0, 0, 0));
    assert!(u.juju.state().secrets.is_empty());
    u.ok(Event::Install);
    assert_eq!(u.packages.install_calls(), [["docker-registry"]]);
    let (_, uri) = shared_secret(&u);
    assert_eq!(u.juju.our_app_bag(&peer), bag(&[("shared-secret", &uri)]));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// After a rollback to a revision that knows only the peer bag, that revision's leader
/// put a value there and the units serve it. Refreshed again, the leader makes it the
/// secret's new revision (not the other way round) and deletes it from the bag.
#[test]
fn a_value_put_in_the_peer_bag_after_the_move_is_the_one_kept() {
    let (u, peer) = Unit::serving();
    let (before, uri) = shared_secret(&u);
    let after_rollback = "cm9sbGVkLWJhY2stYW5kLWZvcndhcmQtYWdhaW4tMDEyMzQ=";
    u.juju.with_relation(&peer, |r| {
        r.our_app
            .insert("http-secret".into(), after_rollback.into());
    });
    u.ok(Event::UpgradeCharm);
    let (value, uri_after) = shared_secret(&u);
    assert_ne!(value, before);
    assert_eq!((value.as_str(), &uri_after), (after_rollback, &uri));
    assert_eq!(u.juju.secret("registry-shared").unwrap().1.latest(), 2);
    assert_eq!(
        u.juju.our_app_bag(&peer),
        bag(&[("shared-secret", &uri), ("shared-secret-generation", "1")]),
        "the new revision is announced to the other units in the peer app bag"
    );
    assert!(u.text(CONFIG_PATH).contains(after_rollback));
}

// ---- a config the registry refuses (issue 17) ----------------------------------------

const SWIFT_PANIC: &str = "panic: swift authentication failed: Authorization Failed";

fn swift_config(password: &str) -> Vec<(&'static str, Value)> {
    vec![
        (
            "storage-swift-authurl",
            json!("http://10.1.0.9:8080/auth/v1.0"),
        ),
        ("storage-swift-username", json!("test:tester")),
        ("storage-swift-password", json!(password)),
    ]
}

/// The registry refuses any config.yml with swift storage, panicking as distribution does.
fn refuse_swift(u: &Unit) {
    *u.refuses.lock().unwrap() = Some((
        "swift:".into(),
        vec![
            r#"{"level":"info","msg":"redis not configured","time":"2099-01-01T00:00:00Z"}"#.into(),
            SWIFT_PANIC.into(),
            String::new(),
            "goroutine 1 [running]:".into(),
        ],
    ));
}

fn blocked(msg: &str) -> (String, String) {
    ("blocked".to_string(), msg.to_string())
}

/// A config the registry refuses to start with (a store that refuses it) is rolled back
/// to the last good config.yml and environment in the same hook: the registry keeps
/// serving, the unit blocks naming the options and quoting the registry's own line.
/// Later hooks with the same config neither restart nor wait; a change tries again.
#[test]
fn a_config_the_registry_refuses_is_rolled_back_and_named() {
    let (u, _) = Unit::serving();
    u.config(&[("registry-http-proxy", json!("http://squid.internal:3128"))]);
    let good = u.text(CONFIG_PATH);
    refuse_swift(&u);
    let before = u.service_calls();
    u.config(&swift_config("wrong"));
    let refused = blocked(
        "The registry refused its config (storage-swift-username, storage-swift-password): \
         swift authentication failed: Authorization Failed; the last good config keeps serving.",
    );
    assert_eq!(u.status(), refused);
    assert_eq!(u.text(CONFIG_PATH), good, "config.yml is the last good one");
    assert!(u.service.status().unwrap().is_running(), "serving");
    // One restart into the refused config, one back to the last good one, with its
    // environment.
    assert_eq!(u.service_calls(), (before.0, before.1 + 2, before.2));
    let last = u.launches.lock().unwrap().last().cloned().unwrap();
    assert!(last
        .env
        .contains(&("HTTP_PROXY".into(), "http://squid.internal:3128".into())));
    assert!(u
        .log_lines("WARNING")
        .iter()
        .any(|l| l.contains("swift authentication failed")));

    // The same config again: nothing restarts, nothing waits, still blocked.
    let probes = u.probes.lock().unwrap().len();
    u.ok(Event::UpdateStatus);
    u.ok(Event::ConfigChanged);
    assert_eq!(u.service_calls(), (before.0, before.1 + 2, before.2));
    assert_eq!(u.probes.lock().unwrap().len(), probes, "no wait for it");
    assert_eq!(u.status(), refused);
    assert_eq!(u.text(CONFIG_PATH), good);

    // The last good config dies while blocked: it is started again, not the refused one.
    u.service.crash();
    u.ok(Event::UpdateStatus);
    assert!(u.service.status().unwrap().is_running());
    assert_eq!(u.text(CONFIG_PATH), good);

    // Fixed: the right password is served, and becomes the last good config.
    *u.refuses.lock().unwrap() = None;
    u.config(&swift_config("testing"));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert!(u.text(CONFIG_PATH).contains("swift:"));
    assert!(u
        .text(charm::charm::local::LAST_GOOD_CONFIG)
        .contains("swift:"));
    assert_eq!(
        u.meta(charm::charm::local::LAST_GOOD_CONFIG).0,
        0o600,
        "it holds the http secret and storage keys"
    );
}

/// The `start` action tries a refused config again (after the operator fixed the store);
/// so does any change to what it is made of.
#[test]
fn start_action_or_a_change_tries_a_refused_config_again() {
    let (u, _) = Unit::serving();
    refuse_swift(&u);
    u.config(&swift_config("wrong"));
    assert_eq!(u.status().0, "blocked");
    // The store is fixed; the config did not change.
    *u.refuses.lock().unwrap() = None;
    u.ok(Event::UpdateStatus);
    assert_eq!(u.status().0, "blocked", "not retried on its own");
    u.action("start");
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert!(u.text(CONFIG_PATH).contains("swift:"));

    // Another change the registry refuses: tried at once, and rolled back again (to the
    // swift config that now works).
    *u.refuses.lock().unwrap() = Some((
        "level: \"debug\"".into(),
        vec!["panic: something about the debug level".into()],
    ));
    u.config(&[("log-level", json!("debug"))]);
    let (kind, message) = u.status();
    assert_eq!(kind, "blocked");
    assert!(
        message.contains("the last good config keeps serving"),
        "{message}"
    );
}

/// A first config refused: there is no last good config, so the registry is stopped (no
/// service manager restarting it in a loop) and no hook starts it again until it changes.
#[test]
fn a_first_config_refused_stops_the_registry_and_says_so() {
    let (u, _) = Unit::leader();
    refuse_swift(&u);
    u.juju.update(|s| {
        for (k, v) in swift_config("wrong") {
            s.config.insert(k.into(), v);
        }
    });
    u.deploy();
    assert_eq!(
        u.status(),
        blocked(
            "The registry refused its config (storage-swift-username, \
             storage-swift-password): swift authentication failed: Authorization Failed; \
             nothing to serve until it is fixed."
        )
    );
    assert!(!u.service.status().unwrap().is_running());
    let calls = u.service_calls();
    u.ok(Event::UpdateStatus);
    u.ok(Event::ConfigChanged);
    assert_eq!(u.service_calls(), calls, "never started again as it is");
    *u.refuses.lock().unwrap() = None;
    u.config(&swift_config("testing"));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// A store that refuses the registry once it runs (a missing s3 bucket: `/v2/` answers,
/// the catalog gets a 500) is rolled back like a registry that exits, quoting the
/// registry's log line for the storage check's own request, secrets redacted.
#[test]
fn a_store_failing_the_storage_check_is_rolled_back() {
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    *u.catalog_status.lock().unwrap() = 500;
    u.service.log(&[
        r#"{"err.detail":"s3aws: NoSuchBucket: The specified bucket does not exist (key AKIA-SECRET-ID)\n\tstatus code: 404","http.request.uri":"/v2/_catalog?n=1","level":"error","msg":"response completed with error","time":"2099-01-01T00:00:00Z"}"#,
    ]);
    u.config(&[
        ("storage-s3-region", json!("us-east-1")),
        ("storage-s3-bucket", json!("no-such-bucket")),
        ("storage-s3-accesskey", json!("AKIA-SECRET-ID")),
        ("storage-s3-secretkey", json!("s3cr3t")),
        ("storage-s3-regionendpoint", json!("http://10.1.0.9:8080")),
    ]);
    assert_eq!(
        u.status(),
        blocked(
            "The registry refused its config (storage-s3-bucket): s3aws: NoSuchBucket: The \
             specified bucket does not exist (key <redacted>); the last good config keeps \
             serving."
        )
    );
    assert_eq!(u.text(CONFIG_PATH), good);
    assert!(u
        .juju
        .state()
        .logs
        .iter()
        .all(|(_, m)| !m.contains("AKIA-SECRET-ID") && !m.contains("s3cr3t")));
}

/// What the last good config needs may be gone too (an upstream, a store): when it exits
/// as well, nothing serves; the registry is stopped instead of restarted in a loop and the
/// status says so, naming the new config's options.
#[test]
fn when_the_last_good_config_fails_too_the_registry_is_stopped() {
    let (u, _) = Unit::serving();
    *u.refuses.lock().unwrap() = Some((
        "storage:".into(),
        vec![r#"panic: Get "http://10.1.0.12:5000/v2/": dial tcp 10.1.0.12:5000: connect: no route to host"#.into()],
    ));
    u.config(&[("cache-remoteurl", json!("http://10.1.0.12:5000"))]);
    assert_eq!(
        u.status(),
        blocked(
            "The registry refused its config (cache-remoteurl): Get \
             \"http://10.1.0.12:5000/v2/\": dial tcp 10.1.0.12:5000: connect: no route to \
             host; nothing to serve until it is fixed."
        )
    );
    assert!(!u.service.status().unwrap().is_running());
    let calls = u.service_calls();
    u.ok(Event::UpdateStatus);
    u.ok(Event::UpdateStatus);
    assert_eq!(u.service_calls(), calls, "no restart loop");
    // The upstream is back and the operator asks again.
    *u.refuses.lock().unwrap() = None;
    u.action("start");
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// A new config the registry never answers with (a network call at start that hangs: an
/// upstream whose machine is gone) is rolled back once the wait is over, since the last
/// good config answered; the very config that served, started again after a crash,
/// only waits (nothing else to go back to), as a slow or broken world always did.
#[test]
fn a_new_config_that_never_answers_is_rolled_back_but_the_same_one_only_waits() {
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    *u.probe_fails.lock().unwrap() = Some("connection refused".into());
    u.config(&[("cache-remoteurl", json!("http://10.1.0.12:5000"))]);
    assert_eq!(
        u.status(),
        blocked(
            "The registry refused its config (cache-remoteurl): it did not answer GET /v2/ \
             within 10s of its start; the last good config keeps serving."
        )
    );
    assert_eq!(u.text(CONFIG_PATH), good);

    // Back to the served config; then the world breaks under it.
    *u.probe_fails.lock().unwrap() = None;
    u.config(&[("cache-remoteurl", json!(""))]);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    *u.probe_fails.lock().unwrap() = Some("connection refused".into());
    u.service.crash();
    let restarts = u.service_calls();
    u.ok(Event::UpdateStatus);
    assert_eq!(u.service_calls().0, restarts.0 + 1, "started again");
    let (kind, message) = u.status();
    assert_eq!(kind, "waiting", "{message}");
    assert!(
        message.starts_with("Registry not answering yet"),
        "{message}"
    );
    assert_eq!(u.text(CONFIG_PATH), good);
}

/// The registry exits because another process holds its port (the old registry still
/// exiting, or any program): that is no refusal of its config. Nothing is rolled back (the
/// last good config would meet the same port); the unit says what holds it up, and the
/// next hook starts the registry again with the same config.
#[test]
fn a_port_held_by_another_process_is_no_refusal_and_nothing_is_rolled_back() {
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    let bind = "listen tcp :5000: bind: address already in use";
    *u.refuses.lock().unwrap() = Some((
        "level: \"debug\"".into(),
        vec![format!(
            r#"{{"level":"fatal","msg":"{bind}","time":"2099-01-01T00:00:00Z"}}"#
        )],
    ));
    let before = u.service_calls();
    u.config(&[("log-level", json!("debug"))]);
    assert_eq!(
        u.status(),
        blocked(&format!(
            "The registry could not listen: {bind}; another process holds the port (find it \
             with: ss -ltnp); the registry is started again at the next hook."
        ))
    );
    let config = u.text(CONFIG_PATH);
    assert!(
        config.contains("level: \"debug\""),
        "the new config stays: {config}"
    );
    assert_eq!(
        u.service_calls(),
        (before.0, before.1 + 1, before.2),
        "one restart, and no second one into the last good config"
    );
    assert_ne!(
        u.text(charm::charm::local::LAST_GOOD_CONFIG),
        config,
        "not served yet, so not good yet"
    );
    assert_eq!(u.text(charm::charm::local::LAST_GOOD_CONFIG), good);

    // The port is free again: the next hook starts the same config, which serves.
    *u.refuses.lock().unwrap() = None;
    u.ok(Event::UpdateStatus);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert_eq!(
        u.service_calls().0,
        before.0 + 1,
        "started again by update-status"
    );
    assert_eq!(u.text(charm::charm::local::LAST_GOOD_CONFIG), config);
}

/// A last good config is restored only with the files it names: a refused change that
/// also turned TLS off removed the certificate and key the last good (https) config
/// reads, so it is not put back (it would not start, or would start otherwise than it
/// served); the registry is stopped and the unit says nothing serves.
#[test]
fn a_last_good_config_whose_files_are_gone_is_not_restored() {
    let ca = ca();
    let (u, _) = Unit::serving();
    u.config(&tls_blobs(&ca));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    let good = u.text(CONFIG_PATH);
    assert!(good.contains(DEFAULT_TLS_CERT_PATH));
    refuse_swift(&u);
    let mut change = vec![
        ("tls-ca-blob", json!("")),
        ("tls-cert-blob", json!("")),
        ("tls-key-blob", json!("")),
    ];
    change.extend(swift_config("wrong"));
    u.config(&change);
    assert!(!u.exists(DEFAULT_TLS_CERT_PATH));
    assert_eq!(
        u.status(),
        blocked(
            "The registry refused its config (storage-swift-username, \
             storage-swift-password): swift authentication failed: Authorization Failed; \
             nothing to serve until it is fixed."
        )
    );
    assert_ne!(
        u.text(CONFIG_PATH),
        good,
        "the last good config is not put back"
    );
    assert!(!u.service.status().unwrap().is_running());
    assert!(
        u.log_lines("WARNING").iter().any(|l| l
            .contains("the last good config is not restored: what it names is gone")
            && l.contains(DEFAULT_TLS_CERT_PATH)),
        "{:?}",
        u.log_lines("WARNING")
    );
    // No restart loop; a fixed config serves.
    let calls = u.service_calls();
    u.ok(Event::UpdateStatus);
    assert_eq!(u.service_calls(), calls);
    *u.refuses.lock().unwrap() = None;
    u.config(&swift_config("testing"));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

// ---- a refused cache's upstream (issue 16 item 4) ----------------------------------------

impl Unit {
    /// What the cache's upstream answers from now on.
    fn upstream_answers(&self, answer: Answer) {
        self.upstream.lock().unwrap().0 = answer;
    }

    /// How many times the upstream was asked.
    fn upstream_asked(&self) -> usize {
        self.upstream.lock().unwrap().1
    }
}

/// A cache config refused because its upstream gave no answer is tried again by itself,
/// once the charm has seen the upstream give none and then answer: no restart while it is
/// down (only a `GET /v2/` per hook), one start when it is back, and a steady unit asks
/// nothing. A registry that still refuses is rolled back once, and not tried again until
/// the upstream is seen down and back again (never a loop).
#[test]
fn a_cache_refused_for_its_upstream_is_tried_again_once_it_answers() {
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    let panic = r#"panic: Get "http://10.1.0.12:5000/v2/": dial tcp 10.1.0.12:5000: connect: connection refused"#;
    *u.refuses.lock().unwrap() = Some(("remoteurl:".into(), vec![panic.into()]));
    u.config(&[("cache-remoteurl", json!("http://10.1.0.12:5000"))]);
    let (kind, message) = u.status();
    assert_eq!(kind, "blocked");
    assert!(
        message.starts_with("The registry refused its config (cache-remoteurl): "),
        "{message}"
    );
    assert_eq!(u.text(CONFIG_PATH), good);
    let calls = u.service_calls();

    // Down: asked at each hook, nothing restarted, still blocked.
    u.upstream_answers(Answer::Unreachable("Connection refused".into()));
    let asked = u.upstream_asked();
    for _ in 0..3 {
        u.ok(Event::UpdateStatus);
    }
    assert_eq!(u.upstream_asked(), asked + 3);
    assert_eq!(
        u.service_calls(),
        calls,
        "no restart while the upstream is down"
    );
    assert_eq!(u.status(), blocked(&message));

    // Back (the registry would start now): tried again in the next hook, and served.
    *u.refuses.lock().unwrap() = None;
    u.upstream_answers(Answer::Answered);
    u.ok(Event::UpdateStatus);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert!(u
        .text(CONFIG_PATH)
        .contains("remoteurl: \"http://10.1.0.12:5000\""));
    assert_eq!(
        u.service_calls().1,
        calls.1 + 1,
        "one restart onto the cache"
    );
    let asked = u.upstream_asked();
    for _ in 0..3 {
        u.ok(Event::UpdateStatus);
    }
    assert_eq!(
        u.upstream_asked(),
        asked,
        "a serving cache costs its upstream nothing"
    );
}

/// The charm's question says the upstream answers, yet the registry still refuses (what
/// it sees differs): one retry, rolled back, then blocked with no further restart until
/// the upstream is seen down and back again.
#[test]
fn a_cache_the_registry_still_refuses_is_not_retried_in_a_loop() {
    let (u, _) = Unit::serving();
    let panic =
        r#"panic: Get "https://10.1.0.12/v2/": x509: certificate signed by unknown authority"#;
    *u.refuses.lock().unwrap() = Some(("remoteurl:".into(), vec![panic.into()]));
    u.config(&[("cache-remoteurl", json!("https://10.1.0.12"))]);
    assert_eq!(u.status().0, "blocked");
    u.upstream_answers(Answer::Unreachable("no answer within 5s".into()));
    u.ok(Event::UpdateStatus);
    let calls = u.service_calls();
    u.upstream_answers(Answer::Answered);
    u.ok(Event::UpdateStatus);
    let retried = u.service_calls();
    assert!(
        retried.1 >= calls.1 + 2,
        "tried, then rolled back: {calls:?} {retried:?}"
    );
    assert_eq!(u.status().0, "blocked");
    for _ in 0..3 {
        u.ok(Event::UpdateStatus);
    }
    assert_eq!(u.service_calls(), retried, "no loop");
    assert_eq!(u.status().0, "blocked");
}

// ---- tls-auto, renewals, the Python charm's TLS files, client certificates -------------

const AUTO_KEY: &str = "/var/lib/docker-registry-charm/tls-auto.key";
const CLIENT_CA: &str = "/etc/docker/registry/client-ca.crt";
const CHARM_CLIENT_CERT: &str = charm::render::CHARM_CLIENT_CERT_PATH;
const CHARM_CLIENT_KEY: &str = charm::charm::local::CLIENT_KEY;
const RUNTIMES_NEED_TLS: &str =
    "Container runtimes pull over HTTPS only: juju config docker-registry tls-auto=true, or relate a CA.";
const UNSHARED_2: &str = "Filesystem storage on 2 units: an image pushed to one is not on the others; use s3 or swift storage to share them.";
const RENEWAL_PENDING: &str = "Certificate renewal pending: cert-provider has not signed the request for the current addresses yet.";

/// The SANs of the certificate served at the default path, as text.
fn served_sans(u: &Unit) -> Vec<String> {
    charm::tls::cert_sans(&u.text(DEFAULT_TLS_CERT_PATH))
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The scheme of the last probe.
fn last_probe(u: &Unit) -> Scheme {
    u.probes.lock().unwrap().last().unwrap().1
}

/// Issue 16 item 3 (B6): tls-auto. The leader makes one CA and shares it in the peer app
/// bag; the unit signs itself a certificate for its addresses and host name; runtimes get
/// https and the CA (and the plain-http note goes); a no-op hook changes nothing; turning
/// it off returns to plain http and keeps the CA, so turning it on again changes nothing
/// clients trust.
#[test]
fn tls_auto_makes_one_ca_and_serves_every_address_over_https() {
    let (u, peer) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.5:5000 (http). {RUNTIMES_NEED_TLS}"
        ))
    );

    u.config(&[("tls-auto", json!(true))]);
    let app = u.juju.our_app_bag(&peer);
    let ca = app["tls-auto-ca"].clone();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{app:?}");
    assert!(
        !app.contains_key("tls-auto-ca-key"),
        "no key in relation data"
    );
    let key = shared_ca_key(&u).expect("the CA key is in the Juju secret");
    charm::tls::auto::AutoCa::parse(&ca, &key).expect("the key belongs to the shared CA");
    assert_eq!(u.text(DEFAULT_TLS_CA_PATH), ca);
    let sans = served_sans(&u);
    assert!(
        sans.contains(&ADDR.to_string()) && sans.contains(&HOSTNAME.to_string()),
        "{sans:?}"
    );
    assert_eq!(u.meta(DEFAULT_TLS_KEY_PATH), (0o600, OWNER.0, OWNER.1));
    assert_eq!(u.text(DEFAULT_TLS_KEY_PATH), u.text(AUTO_KEY));
    assert_eq!(u.meta(AUTO_KEY).0, 0o600);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(last_probe(&u), Scheme::Https);
    let data = u.juju.our_bag(&client);
    assert_eq!(data["registry_url"], "\"https://10.1.0.5:5000\"");
    assert_eq!(data["tls_ca"], serde_json::to_string(&ca).unwrap());
    assert_eq!(u.service_calls(), (1, 1, 0), "one restart onto TLS");

    u.files.clear_ops();
    for ev in [
        Event::UpdateStatus,
        Event::ConfigChanged,
        Event::UpdateStatus,
    ] {
        u.ok(ev);
    }
    assert_eq!(u.writes(), [], "a no-op hook signs and writes nothing");
    assert_eq!(u.service_calls(), (1, 1, 0));
    for (_, line) in u.juju.state().logs {
        assert!(
            !line.contains("PRIVATE KEY"),
            "a key reached the log: {line}"
        );
    }
    let info = u.log_lines("INFO").join("\n");
    assert!(info.contains("made the tls-auto CA"), "{info}");
    assert!(
        info.contains("signed this unit's tls-auto certificate for"),
        "{info}"
    );

    u.config(&[("tls-auto", json!(false))]);
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.5:5000 (http). {RUNTIMES_NEED_TLS}"
        ))
    );
    assert!(!u.exists(DEFAULT_TLS_CERT_PATH) && !u.exists(DEFAULT_TLS_KEY_PATH));
    assert_eq!(u.juju.our_bag(&client)["tls_ca"], "null");
    assert_eq!(u.juju.our_app_bag(&peer)["tls-auto-ca"], ca, "the CA stays");
    u.config(&[("tls-auto", json!(true))]);
    assert_eq!(u.text(DEFAULT_TLS_CA_PATH), ca, "the same CA again");
}

/// A non-leader waits for the leader's CA (serving plain http meanwhile), then signs its
/// own certificate with it: every unit serves a certificate clients trust with one CA.
/// The follower reads the CA key from the Juju secret (by the URI in the peer bag,
/// following new revisions), like the http secret; no call either unit makes carries a
/// private key in its arguments or input, and only the leader writes the app bag.
#[test]
fn tls_auto_units_wait_for_the_leaders_ca_then_sign_their_own() {
    let (leader, leader_peer) = Unit::serving();
    let (u, peer) = follower_of(&leader, &leader_peer, "docker-registry/1");
    u.juju.update(|s| {
        s.config.insert("tls-auto".into(), json!(true));
    });
    u.deploy();
    assert_eq!(
        u.status(),
        (
            "waiting".to_string(),
            "Waiting for the leader to share the tls-auto CA.".to_string()
        )
    );
    assert!(!u.exists(DEFAULT_TLS_CERT_PATH));
    assert!(
        !u.text(CONFIG_PATH).contains("tls:"),
        "plain http meanwhile"
    );

    leader.config(&[("tls-auto", json!(true))]);
    let ca = leader.juju.our_app_bag(&leader_peer)["tls-auto-ca"].clone();
    sync_model(&leader, &leader_peer, &u, &peer);
    u.ok(changed(&peer, "docker-registry/0"));
    let (kind, message) = u.status();
    assert!(
        kind == "active" && message.starts_with("Ready at 10.1.0.5:5000 (https)."),
        "{kind} {message}"
    );
    assert_eq!(u.text(DEFAULT_TLS_CA_PATH), ca);
    let bundle = charm::tls::TlsBundle::from_pems(
        Some(&ca),
        Some(&u.text(DEFAULT_TLS_CERT_PATH)),
        Some(&u.text(DEFAULT_TLS_KEY_PATH)),
        std::time::SystemTime::now(),
        charm::tls::TlsSource::Auto,
    );
    assert!(
        matches!(bundle, Ok(Some(_))),
        "signed by the leader's CA: {bundle:?}"
    );
    let (_, uri) = shared_secret(&leader);
    assert_eq!(
        u.juju.calls_of("secret-get").last().unwrap().args,
        ["--format=json", "--refresh", uri.as_str()],
        "the key read from the secret, following new revisions"
    );
    assert!(
        !u.juju.relation_sets().iter().any(|(_, app, _)| *app),
        "only the leader writes the app bag"
    );
    for unit in [&leader, &u] {
        for call in unit.juju.calls() {
            let stdin =
                String::from_utf8_lossy(call.stdin.as_deref().unwrap_or_default()).into_owned();
            assert!(
                call.args.iter().all(|a| !a.contains("PRIVATE KEY"))
                    && !stdin.contains("PRIVATE KEY"),
                "{}: {} carries a private key",
                unit.name,
                call.tool
            );
        }
    }
    let set = leader.juju.calls_of("secret-set");
    assert!(
        set.last()
            .unwrap()
            .args
            .iter()
            .any(|a| a.starts_with("tls-auto-ca-key#file=/")),
        "{set:?}"
    );
}

// ---- the tls-auto CA key leaves relation data (issue 17 item 8) --------------------------

/// A 20-character secret id, as Juju makes them.
const EARLIER_SECRET_ID: &str = "cjc0ljh7n7b0s5h4q6b0";

/// What an earlier revision of this charm left in the model: the http secret alone in the
/// Juju secret `registry-shared`, the tls-auto CA's certificate and key in the peer app
/// bag with the secret's URI.
fn earlier_revision_layout(ca: &charm::tls::auto::AutoCa, http: &str) -> (State, Databag) {
    let mut state = State::new("docker-registry/0", false, ADDR);
    state.secrets.insert(
        EARLIER_SECRET_ID.to_string(),
        support::fake_juju::FakeSecret {
            owner_app: "docker-registry".into(),
            label: Some("registry-shared".into()),
            description: Some("Shared by every docker-registry unit".into()),
            revisions: BTreeMap::from([(1, bag(&[("http-secret", http)]))]),
        },
    );
    let uri = format!("secret://{MODEL_UUID}/{EARLIER_SECRET_ID}");
    let app = bag(&[
        ("shared-secret", &uri),
        ("tls-auto-ca", ca.cert.as_str()),
        ("tls-auto-ca-key", ca.key.expose()),
    ]);
    (state, app)
}

/// The SHA-256 fingerprint of a PEM certificate (what `openssl x509 -fingerprint` shows).
fn fingerprint(pem: &str) -> String {
    let der = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .unwrap();
    charm::charm::local::sha256(&der)
}

/// Upgrade from an earlier revision that kept the tls-auto CA key in the peer app bag:
/// the leader moves that exact value into the Juju secret and deletes it from the bag in
/// one hook (a new revision, and the generation followers notice). The CA certificate
/// and its fingerprint stay, no unit signs a new certificate or restarts, clients are
/// told nothing new, and the follower then reads the key from the secret and signs its
/// own certificate with it when its address changes.
#[test]
fn upgrade_from_the_peer_bag_ca_key_moves_it_and_keeps_the_ca() {
    let http = "b2xkLXJldmlzaW9uLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm";
    let now = std::time::SystemTime::now();
    let ca = charm::tls::auto::make_ca("docker-registry tls-auto CA", now, [9; 16]).unwrap();
    let (layout, app) = earlier_revision_layout(&ca, http);
    // Both units serving what the earlier revision shared (run as followers first: the
    // only role in which this charm signs with a key from the bag without moving it).
    let units: Vec<(Unit, RelationId)> = ["docker-registry/0", "docker-registry/1"]
        .into_iter()
        .map(|name| {
            let u = Unit::new(name, false);
            let peer = u.juju.add_relation("peer", "docker-registry");
            u.juju.update(|s| {
                s.secrets = layout.secrets.clone();
                s.config.insert("tls-auto".into(), json!(true));
            });
            u.juju.with_relation(&peer, |r| r.our_app = app.clone());
            u.deploy();
            assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
            (u, peer)
        })
        .collect();
    let (leader, leader_peer) = &units[0];
    let client = add_client(leader, "containerd");
    leader.ok(joined(&client, "containerd/0"));
    let told = leader.juju.our_bag(&client);
    assert_eq!(
        told["tls_ca"],
        serde_json::to_string(ca.cert.as_str()).unwrap()
    );
    let served: Vec<(String, String)> = units
        .iter()
        .map(|(u, _)| (u.text(DEFAULT_TLS_CA_PATH), u.text(DEFAULT_TLS_CERT_PATH)))
        .collect();

    leader.juju.update(|s| s.leader = true);
    leader.files.clear_ops();
    leader.juju.clear_calls();
    leader.ok(Event::UpgradeCharm);
    assert_eq!(
        shared_ca_key(leader).as_deref(),
        Some(ca.key.expose()),
        "the exact value moved"
    );
    let (value, uri) = shared_secret(leader);
    assert_eq!(value, http, "the http secret unchanged");
    assert_eq!(leader.juju.secret("registry-shared").unwrap().1.latest(), 2);
    assert_eq!(
        leader.juju.our_app_bag(leader_peer),
        bag(&[
            ("shared-secret", &uri),
            ("shared-secret-generation", "1"),
            ("tls-auto-ca", ca.cert.as_str()),
        ]),
        "the key gone from the bag, the certificate as it was"
    );
    assert_eq!(
        leader.juju.our_bag(&client),
        told,
        "clients told nothing new"
    );
    let info = leader.log_lines("INFO");
    assert!(
        info.iter()
            .any(|l| l.contains("moving the tls-auto CA key from the peer relation")),
        "{info:?}"
    );

    let (follower, follower_peer) = &units[1];
    sync_model(leader, leader_peer, follower, follower_peer);
    follower.files.clear_ops();
    follower.juju.clear_calls();
    follower.ok(changed(follower_peer, "docker-registry/0"));
    assert_eq!(
        follower.juju.calls_of("secret-get").last().unwrap().args,
        ["--format=json", "--refresh", uri.as_str()]
    );
    for (i, (u, _)) in units.iter().enumerate() {
        assert_eq!(u.service_calls(), (1, 0, 0), "{}: no restart", u.name);
        assert_eq!(u.writes(), vec![], "{}: nothing rewritten", u.name);
        assert_eq!(u.text(DEFAULT_TLS_CA_PATH), served[i].0, "{}", u.name);
        assert_eq!(u.text(DEFAULT_TLS_CERT_PATH), served[i].1, "{}", u.name);
        assert_eq!(
            fingerprint(&u.text(DEFAULT_TLS_CA_PATH)),
            fingerprint(ca.cert.as_str())
        );
        assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    }

    // Moved once: later hooks neither set the secret nor write the bag.
    leader.juju.clear_calls();
    leader.ok(Event::UpdateStatus);
    leader.ok(Event::ConfigChanged);
    for tool in ["secret-add", "secret-set", "relation-set"] {
        assert!(leader.juju.calls_of(tool).is_empty(), "{tool} called again");
    }

    // The follower signs with the key it now reads from the secret.
    follower
        .juju
        .update(|s| s.address = Some("10.1.0.6".into()));
    follower.ok(Event::ConfigChanged);
    assert_ne!(follower.text(DEFAULT_TLS_CERT_PATH), served[1].1);
    let bundle = charm::tls::TlsBundle::from_pems(
        Some(ca.cert.as_str()),
        Some(&follower.text(DEFAULT_TLS_CERT_PATH)),
        Some(&follower.text(DEFAULT_TLS_KEY_PATH)),
        std::time::SystemTime::now(),
        charm::tls::TlsSource::Auto,
    );
    assert!(matches!(bundle, Ok(Some(_))), "{bundle:?}");
    assert_eq!(follower.status(), active("Ready at 10.1.0.6:5000 (https)."));
}

/// Never a new CA by accident: the Juju secret is gone (`juju remove-secret`), so the
/// CA's key is nowhere. The leader makes a new secret for the http secret but no new CA:
/// it keeps serving its certificate, clients are told the same CA, and it is blocked
/// naming where the key is missing. Handing the key back through the peer relation (as
/// docs/troubleshooting.md says) and running `start` moves it into the new secret.
#[test]
fn a_ca_whose_key_is_lost_is_never_replaced_and_comes_back_with_its_key() {
    let (u, peer) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    u.config(&[("tls-auto", json!(true))]);
    let ca = u.juju.our_app_bag(&peer)["tls-auto-ca"].clone();
    let key = shared_ca_key(&u).unwrap();
    let cert = u.text(DEFAULT_TLS_CERT_PATH);
    let told = u.juju.our_bag(&client)["tls_ca"].clone();

    u.juju.update(|s| s.secrets.clear());
    u.action("start");
    assert_eq!(u.juju.our_app_bag(&peer)["tls-auto-ca"], ca, "no new CA");
    assert_eq!(shared_ca_key(&u), None, "a new secret, without a CA key");
    assert_eq!(
        u.status(),
        (
            "blocked".to_string(),
            "The tls-auto CA's key is in neither the Juju secret registry-shared nor the \
             peer relation: no new CA is made, as clients trust this one."
                .to_string()
        )
    );
    let warnings = u.log_lines("WARNING");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("keeps serving the certificate it has")),
        "{warnings:?}"
    );
    assert_eq!(u.text(DEFAULT_TLS_CERT_PATH), cert, "the certificate kept");
    assert_eq!(u.text(DEFAULT_TLS_CA_PATH), ca);
    assert_eq!(u.juju.our_bag(&client)["tls_ca"], told);
    assert_eq!(last_probe(&u), Scheme::Https);
    assert!(u.text(CONFIG_PATH).contains("tls:"));
    // Stays so, without flapping.
    u.ok(Event::UpdateStatus);
    assert_eq!(u.status().0, "blocked");

    u.juju.with_relation(&peer, |r| {
        r.our_app.insert("tls-auto-ca-key".into(), key.clone())
    });
    u.action("start");
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(shared_ca_key(&u), Some(key));
    assert!(!u.juju.our_app_bag(&peer).contains_key("tls-auto-ca-key"));
    assert_eq!(u.juju.our_app_bag(&peer)["tls-auto-ca"], ca);
    assert_eq!(u.text(DEFAULT_TLS_CERT_PATH), cert);
}

/// The unit's certificate follows its addresses: a new address is signed at once (one
/// restart), the old name is gone from it, and clients keep https throughout.
#[test]
fn tls_auto_signs_a_new_certificate_when_the_address_changes() {
    let (u, _) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    u.config(&[("tls-auto", json!(true))]);
    let before = u.text(DEFAULT_TLS_CERT_PATH);
    assert_eq!(u.service_calls(), (1, 1, 0));

    u.juju.update(|s| s.address = Some("10.1.0.6".into()));
    u.ok(Event::ConfigChanged);
    let sans = served_sans(&u);
    assert!(sans.contains(&"10.1.0.6".to_string()), "{sans:?}");
    assert!(!sans.contains(&ADDR.to_string()), "{sans:?}");
    assert_ne!(u.text(DEFAULT_TLS_CERT_PATH), before);
    assert_eq!(
        u.service_calls(),
        (1, 2, 0),
        "one restart for the new certificate"
    );
    assert_eq!(u.status(), active("Ready at 10.1.0.6:5000 (https)."));
    assert_eq!(
        u.juju.our_bag(&client)["registry_url"],
        "\"https://10.1.0.6:5000\""
    );
}

/// Precedence: blobs > cert-provider > operator files > tls-auto > plain http. Blobs win
/// over tls-auto; clearing them goes straight to tls-auto (never through http); an
/// operator's files win over tls-auto too.
#[test]
fn tls_auto_comes_after_blobs_and_operator_files() {
    let ca = ca();
    let (u, _) = Unit::serving();
    u.config(&[("tls-auto", json!(true))]);
    let auto_ca = u.text(DEFAULT_TLS_CA_PATH);
    let mut blobs = tls_blobs(&ca);
    blobs.push(("tls-auto", json!(true)));
    u.config(&blobs);
    assert_eq!(
        u.text(DEFAULT_TLS_CA_PATH).trim(),
        ca.pem.trim(),
        "blobs win"
    );
    clear_tls_blobs(&u);
    assert_eq!(
        u.text(DEFAULT_TLS_CA_PATH),
        auto_ca,
        "back to tls-auto at once"
    );
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));

    // An operator's files at the paths (the charm's own tls-auto files were there: the
    // operator replaced them) are used as they are.
    let other = self::ca();
    let (cert, key) = server_cert(&other, &[ADDR.to_string()], 90);
    u.files
        .seed_file(DEFAULT_TLS_CERT_PATH, cert.as_bytes(), 0o644, (0, 0));
    u.files
        .seed_file(DEFAULT_TLS_KEY_PATH, key.as_bytes(), 0o640, (0, OWNER.1));
    u.files
        .seed_file(DEFAULT_TLS_CA_PATH, other.pem.as_bytes(), 0o644, (0, 0));
    u.ok(Event::UpdateStatus);
    assert_eq!(
        u.text(DEFAULT_TLS_CERT_PATH),
        cert,
        "the operator's, untouched"
    );
    assert_eq!(u.text(DEFAULT_TLS_CA_PATH), other.pem);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(displaced(&u), BTreeMap::new());
}

/// Issue 17 item 3, v4 protocol: an address change makes a new CSR; until the provider
/// signs it, the certificate it issued before keeps serving (no drop to http, no
/// restart), clients keep being told https and the status says a renewal is pending.
#[test]
fn v4_renewal_keeps_the_old_certificate_until_the_new_one_arrives() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    let cp = u
        .juju
        .add_relation("cert-provider", "self-signed-certificates");
    u.juju
        .set_unit_bag(&cp, "self-signed-certificates/0", juju_keys("10.1.0.9"));
    u.ok(joined(&cp, "self-signed-certificates/0"));
    let sign = |u: &Unit| sign_v4(u, &cp, &ca);
    let first = sign(&u);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(u.service_calls(), (1, 1, 0));

    u.juju.update(|s| s.address = Some("10.1.0.6".into()));
    u.files.clear_ops();
    u.ok(Event::ConfigChanged);
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.6:5000 (https). {RENEWAL_PENDING}"
        ))
    );
    assert_eq!(
        u.text(DEFAULT_TLS_CERT_PATH).trim(),
        first.trim(),
        "still served"
    );
    assert_eq!(u.service_calls(), (1, 1, 0), "no restart, no http");
    let written: Vec<PathBuf> = u
        .writes()
        .iter()
        .map(|op| op.path().to_path_buf())
        .collect();
    assert!(
        !written
            .iter()
            .any(|p| p.starts_with("/etc/docker/registry")),
        "{written:?}"
    );
    assert_eq!(
        u.juju.our_bag(&client)["registry_url"],
        "\"https://10.1.0.6:5000\""
    );
    u.ok(Event::UpdateStatus);
    assert!(u.status().1.ends_with(RENEWAL_PENDING));

    let second = sign(&u);
    assert_ne!(second, first);
    assert_eq!(u.text(DEFAULT_TLS_CERT_PATH).trim(), second.trim());
    assert_eq!(u.status(), active("Ready at 10.1.0.6:5000 (https)."));
    assert_eq!(
        u.service_calls(),
        (1, 2, 0),
        "one restart for the new certificate"
    );
}

/// Issue 17 item 3, legacy protocol: easyrsa's answer to the old request still serves
/// (found by unit name) while the status says the renewal is pending.
#[test]
fn legacy_renewal_serves_the_old_answer_and_says_so() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let cp = easyrsa_answers(&u, &ca, 90);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    let served = u.text(DEFAULT_TLS_CERT_PATH);
    u.juju.update(|s| s.address = Some("10.1.0.6".into()));
    u.ok(Event::ConfigChanged);
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.6:5000 (https). {RENEWAL_PENDING}"
        ))
    );
    assert_eq!(u.text(DEFAULT_TLS_CERT_PATH), served);
    let sans: Vec<String> = serde_json::from_str(&u.juju.our_bag(&cp)["sans"]).unwrap();
    assert!(sans.contains(&"10.1.0.6".to_string()), "{sans:?}");
}

/// The files the Python charm wrote from `tls-*-blob` (same content as the blobs; the key
/// world-readable, B37) are the charm's own after the switch: rewritten in place (key 0600
/// owned by the registry's user), never set aside; clearing the blobs then removes them
/// and TLS goes off (B22 does not come back). Its registry demanded client certificates
/// (the CA blob made it render clientcas, B23): still demanded, with the same CA, said
/// once in the log; the leader shares that CA for units added later.
#[test]
fn refresh_from_the_python_charm_with_blobs_takes_its_files_as_the_charms_own() {
    use base64::Engine;
    let ca = ca();
    let (u, peer) = Unit::leader();
    python_charm_machine(&u, "registry");
    let blobs = tls_blobs(&ca);
    let decoded = |i: usize| {
        base64::engine::general_purpose::STANDARD
            .decode(blobs[i].1.as_str().unwrap())
            .unwrap()
    };
    u.files
        .seed_file(DEFAULT_TLS_CA_PATH, &decoded(0), 0o644, (0, 0));
    u.files
        .seed_file(DEFAULT_TLS_CERT_PATH, &decoded(1), 0o644, (0, 0));
    u.files
        .seed_file(DEFAULT_TLS_KEY_PATH, &decoded(2), 0o644, (0, 0));
    u.files
        .seed_file(CONFIG_PATH, PYTHON_TLS_CONFIG.as_bytes(), 0o600, (0, 0));
    u.juju.update(|s| {
        for (k, v) in &blobs {
            s.config.insert(k.to_string(), v.clone());
        }
    });
    u.ok(Event::UpgradeCharm);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(displaced(&u), BTreeMap::new(), "nothing set aside");
    assert_eq!(u.meta(DEFAULT_TLS_KEY_PATH), (0o600, OWNER.0, OWNER.1));
    let info = u.log_lines("INFO").join("\n");
    assert!(info.contains("the Python charm wrote it"), "{info}");
    // The demand for client certificates is kept.
    assert!(u.text(CONFIG_PATH).contains("clientcas:"));
    assert_eq!(u.text(CLIENT_CA).trim(), ca.pem.trim());
    assert_eq!(last_probe(&u), Scheme::HttpsClientCerts);
    assert_eq!(
        u.juju.our_app_bag(&peer)["python-client-ca"].trim(),
        ca.pem.trim()
    );
    u.ok(Event::ConfigChanged);
    let kept = |u: &Unit| {
        u.log_lines("WARNING")
            .iter()
            .filter(|w| w.contains("keeps demanding"))
            .count()
    };
    assert_eq!(kept(&u), 1, "said once");

    clear_tls_blobs(&u);
    for path in [
        DEFAULT_TLS_CA_PATH,
        DEFAULT_TLS_CERT_PATH,
        DEFAULT_TLS_KEY_PATH,
    ] {
        assert!(!u.exists(path), "{path} came back or stayed");
    }
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
    assert!(!u.text(CONFIG_PATH).contains("clientcas:"), "went with TLS");
    assert_eq!(kept(&u), 1);
}

/// The Python charm's config.yml for blobs or easyrsa with a CA: PyYAML block style with
/// `clientcas` (B23).
const PYTHON_TLS_CONFIG: &str = "auth: {}\nhttp:\n  addr: 0.0.0.0:5000\n  headers:\n    X-Content-Type-Options:\n    - nosniff\n  relativeurls: true\n  tls:\n    certificate: /etc/docker/registry/registry.crt\n    clientcas:\n    - /etc/docker/registry/ca.crt\n    key: /etc/docker/registry/registry.key\nversion: '0.1'\n";

/// The files the Python charm wrote from easyrsa's answer (its text preamble kept, the key
/// 0600 root: unreadable by the registry's user) are the charm's own after the switch:
/// rewritten in place, served at once; removing the relation removes them, nothing is
/// put back. `tls-client-ca=none` stops the kept demand for client certificates.
#[test]
fn refresh_from_the_python_charm_with_easyrsa_takes_its_files_as_the_charms_own() {
    let ca = ca();
    let (u, _) = Unit::leader();
    python_charm_machine(&u, "registry");
    // What the Python charm asked for (CN and SANs: its address) and easyrsa answered.
    let (cert, key) = server_cert(&ca, &[ADDR.to_string()], 90);
    let cp = u.juju.add_relation("cert-provider", "easyrsa");
    let mut answer = juju_keys("10.1.0.9");
    answer.extend(bag(&[
        ("ca", &ca.pem),
        ("docker-registry_0.server.cert", &easyrsa_text(&cert)),
        ("docker-registry_0.server.key", &key),
    ]));
    u.juju.set_unit_bag(&cp, "easyrsa/0", answer);
    u.files
        .seed_file(DEFAULT_TLS_CA_PATH, ca.pem.as_bytes(), 0o644, (0, 0));
    u.files.seed_file(
        DEFAULT_TLS_CERT_PATH,
        easyrsa_text(&cert).as_bytes(),
        0o644,
        (0, 0),
    );
    u.files
        .seed_file(DEFAULT_TLS_KEY_PATH, key.as_bytes(), 0o600, (0, 0));
    u.files
        .seed_file(CONFIG_PATH, PYTHON_TLS_CONFIG.as_bytes(), 0o600, (0, 0));

    u.ok(Event::UpgradeCharm);
    // This charm's request names more (the host name), so easyrsa will reissue.
    assert_eq!(
        u.status(),
        active(&format!(
            "Ready at 10.1.0.5:5000 (https). {RENEWAL_PENDING}"
        ))
    );
    assert_eq!(displaced(&u), BTreeMap::new(), "nothing set aside");
    assert_eq!(u.meta(DEFAULT_TLS_KEY_PATH), (0o600, OWNER.0, OWNER.1));
    assert!(u
        .text(DEFAULT_TLS_CERT_PATH)
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(last_probe(&u), Scheme::HttpsClientCerts);

    u.config(&[("tls-client-ca", json!("none"))]);
    assert!(!u.text(CONFIG_PATH).contains("clientcas:"));
    assert!(!u.exists(CLIENT_CA));
    assert_eq!(last_probe(&u), Scheme::Https);

    u.juju.remove_relation(&cp);
    u.ok(relation_event(RelationKind::Broken, &cp, None));
    for path in [
        DEFAULT_TLS_CA_PATH,
        DEFAULT_TLS_CERT_PATH,
        DEFAULT_TLS_KEY_PATH,
    ] {
        assert!(!u.exists(path), "{path} came back or stayed");
    }
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (http)."));
}

/// Issue 17 item 2: `tls-client-ca` turns client certificates on (clientcas, the file, the
/// probe that presents the unit's own client certificate); without TLS it blocks naming
/// the option, the last good config serving. The unit's own certificate is listed in
/// clientcas after the CA, made once (a no-op hook writes and restarts nothing), its key
/// 0600 in the charm's directory and never logged; both go when mTLS is turned off.
#[test]
fn tls_client_ca_demands_client_certificates_only_over_tls() {
    let ca = ca();
    let clients = self::ca();
    let (u, _) = Unit::serving();
    let good = u.text(CONFIG_PATH);
    u.config(&[("tls-client-ca", json!(b64(&clients.pem)))]);
    assert_eq!(
        u.status(),
        (
            "blocked".to_string(),
            "Invalid charm config: tls-client-ca: client certificates need TLS (set \
             tls-auto=true or the tls-*-blob options, or relate a CA)"
                .to_string()
        )
    );
    assert_eq!(u.text(CONFIG_PATH), good);
    u.config(&tls_blobs(&ca));
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    assert_eq!(u.text(CLIENT_CA).trim(), clients.pem.trim());
    assert!(
        u.text(CONFIG_PATH).contains(&format!(
            "clientcas:\n      - \"{CLIENT_CA}\"\n      - \"{CHARM_CLIENT_CERT}\"\n"
        )),
        "{}",
        u.text(CONFIG_PATH)
    );
    assert_eq!(last_probe(&u), Scheme::HttpsClientCerts);
    let presented = u.probe_client.lock().unwrap().clone();
    let presented = presented.expect("the probe presents the unit's client certificate");
    assert_eq!(presented.cert.as_str(), u.text(CHARM_CLIENT_CERT));
    assert_eq!(presented.key.expose(), u.text(CHARM_CLIENT_KEY));
    assert_eq!(u.meta(CHARM_CLIENT_KEY), (0o600, 0, 0));
    assert_eq!(u.meta(CHARM_CLIENT_CERT).0, 0o644);
    assert!(!charm::tls::client::remake(
        Some(&u.text(CHARM_CLIENT_CERT)),
        &presented.key,
        std::time::SystemTime::now()
    ));
    let info = u.log_lines("INFO").join("\n");
    assert!(
        info.contains("made this unit's own client certificate \"docker-registry/0 charm client\""),
        "{info}"
    );

    let calls = u.service_calls();
    u.files.clear_ops();
    for ev in [Event::UpdateStatus, Event::ConfigChanged] {
        u.ok(ev);
    }
    assert_eq!(u.writes(), [], "a no-op hook makes and writes nothing");
    assert_eq!(u.service_calls(), calls, "and restarts nothing");
    for (_, line) in u.juju.state().logs {
        assert!(
            !line.contains("PRIVATE KEY"),
            "a key reached the log: {line}"
        );
    }

    u.config(&[("tls-client-ca", json!(""))]);
    assert!(!u.exists(CLIENT_CA));
    assert!(
        !u.exists(CHARM_CLIENT_CERT),
        "the unit's certificate goes too"
    );
    assert!(!u.exists(CHARM_CLIENT_KEY), "and its key");
    assert!(!u.text(CONFIG_PATH).contains("clientcas:"));
    assert_eq!(last_probe(&u), Scheme::Https);
    assert!(u.probe_client.lock().unwrap().is_none());
}

/// B9: token auth with a runtime related: the status says runtimes get no credentials.
#[test]
fn token_auth_with_runtimes_says_they_get_no_credentials() {
    let ca = ca();
    let (u, _) = Unit::serving();
    let mut cfg = tls_blobs(&ca);
    cfg.extend([
        ("auth-token-realm", json!("https://auth.example.com/token")),
        ("auth-token-service", json!("registry")),
        ("auth-token-issuer", json!("issuer")),
        ("auth-token-root-certs", json!(b64(&ca.pem))),
    ]);
    u.config(&cfg);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    let client = add_client(&u, "containerd");
    u.ok(joined(&client, "containerd/0"));
    assert_eq!(
        u.status(),
        active(
            "Ready at 10.1.0.5:5000 (https). Related runtimes get no credentials for token \
             auth: they pull anonymously."
        )
    );
}

/// A refused config rolled back to a last good config that demanded client certificates:
/// the registry started again is watched as one that demands them (the probe has none, so
/// a plain https probe would never see it answer).
#[test]
fn a_rollback_to_a_config_with_client_certificates_is_watched_as_one() {
    let ca = ca();
    let clients = self::ca();
    let (u, _) = Unit::serving();
    let mut cfg = tls_blobs(&ca);
    cfg.push(("tls-client-ca", json!(b64(&clients.pem))));
    u.config(&cfg);
    assert_eq!(u.status(), active("Ready at 10.1.0.5:5000 (https)."));
    let good = u.text(CONFIG_PATH);
    refuse_swift(&u);
    u.config(&swift_config("wrong"));
    assert_eq!(
        u.status(),
        blocked(
            "The registry refused its config (storage-swift-username, \
             storage-swift-password): swift authentication failed: Authorization Failed; \
             the last good config keeps serving."
        )
    );
    assert_eq!(u.text(CONFIG_PATH), good);
    assert_eq!(last_probe(&u), Scheme::HttpsClientCerts);
}
