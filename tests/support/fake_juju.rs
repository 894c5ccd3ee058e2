//! An in-memory Juju for scenario tests (ops-scenario's `State` + `_MockModelBackend`).
//!
//! [`FakeJuju`] implements [`ToolRunner`]: it answers every hook tool the charm calls from a
//! [`State`] and records what the charm did. It accepts exactly the argv
//! `src/juju/tools.rs` sends and panics on anything else, so a change in how the charm
//! calls a tool fails the scenarios loudly instead of being answered by accident.
//!
//! Juju's timing is kept: `status-set`, `leader-set` and `application-version-set` apply
//! at once; `relation-set`, `open-port` and `close-port` are queued and applied by
//! [`FakeJuju::commit`] when the hook succeeds (dropped by [`FakeJuju::rollback`] when it
//! fails), while the unit's own reads see its queued writes, as under Juju.
//! Failures use Juju's own stderr, so they go through the charm's `classify`.
//!
//! Secrets are Juju 3.6's (docs/juju.md#secrets): owned by the application (managed by
//! its leader, read by every unit of it), buffered until commit like relation data. The
//! fake takes values only as `key#file=PATH` (the file must be 0600): a value in argv is
//! an unexpected call. [`FakeJuju::fail_call`] makes the Nth call from now fail as a
//! lost controller connection does.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use charm::juju::{classify, Databag, HookToolError, RelationId, ToolRunner};
use serde_json::{json, Map, Value};

/// One relation as this unit sees it.
#[derive(Debug, Clone, Default)]
pub struct Relation {
    /// Local endpoint name.
    pub endpoint: String,
    /// Model-wide relation number.
    pub id: u32,
    /// The other application (our own for the peer relation).
    pub remote_app: String,
    /// Our unit bag (Juju seeds the address keys).
    pub ours: Databag,
    /// Our application bag (the peer app bag for the peer relation).
    pub our_app: Databag,
    /// Remote units (peers: our other units) and their bags.
    pub units: BTreeMap<String, Databag>,
    /// The remote application's bag (unused for peers).
    pub remote_app_bag: Databag,
}

impl Relation {
    /// `endpoint:id`.
    pub fn rel_id(&self) -> RelationId {
        RelationId::new(self.endpoint.clone(), self.id)
    }

    fn is_peer(&self, our_app: &str) -> bool {
        self.remote_app == our_app
    }
}

/// Everything Juju owns for one unit: the scenario's input and output.
#[derive(Debug, Clone)]
pub struct State {
    /// This unit, e.g. `docker-registry/0`.
    pub unit: String,
    /// `is-leader`.
    pub leader: bool,
    /// Options the operator set (`juju config`); defaults come from config.yaml.
    pub config: Map<String, Value>,
    /// The unit's address on its bindings (`None`: no address yet).
    pub address: Option<String>,
    /// `unit-get public-address` (`None`: Juju has none, `public address not found`).
    pub public_address: Option<String>,
    /// Relations, in creation order.
    pub relations: Vec<Relation>,
    /// Leader settings (leader-get/leader-set).
    pub leader_settings: Databag,
    /// Opened ports as `opened-ports` prints them (`5000/tcp`).
    pub opened_ports: BTreeSet<String>,
    /// `application-version-set`.
    pub app_version: Option<String>,
    /// Every `status-set` (kind, message), in order; the last one is the unit status.
    pub statuses: Vec<(String, String)>,
    /// Action parameters (`Some` while an action runs).
    pub action_params: Option<Value>,
    /// `action-set` results, merged.
    pub action_results: BTreeMap<String, String>,
    /// `action-fail` messages.
    pub action_failures: Vec<String>,
    /// `juju-log` lines (level, message).
    pub logs: Vec<(String, String)>,
    /// Server-side unit state (state-get/state-set).
    pub unit_state: Databag,
    /// The model's secrets by id (shared by the units of a scenario when copied).
    pub secrets: BTreeMap<String, FakeSecret>,
    /// Next relation number.
    next_id: u32,
}

/// The model's uuid (the one scenario contexts use).
pub const MODEL_UUID: &str = "6f1c7c4e-0000-4000-8000-000000000001";

/// A Juju secret as the controller keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSecret {
    /// The owning application.
    pub owner_app: String,
    /// The owner's label.
    pub label: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// Content of each revision (plain text values; Juju stores base64).
    pub revisions: BTreeMap<u32, Databag>,
}

impl FakeSecret {
    /// The latest revision's number.
    pub fn latest(&self) -> u32 {
        self.revisions.keys().next_back().copied().unwrap_or(0)
    }

    /// The latest revision's content.
    pub fn content(&self) -> Databag {
        self.revisions
            .values()
            .next_back()
            .cloned()
            .unwrap_or_default()
    }
}

impl State {
    /// A fresh unit with no relations, config at defaults.
    pub fn new(unit: &str, leader: bool, address: &str) -> Self {
        State {
            unit: unit.to_string(),
            leader,
            config: Map::new(),
            address: Some(address.to_string()),
            public_address: Some(address.to_string()),
            relations: Vec::new(),
            leader_settings: Databag::new(),
            opened_ports: BTreeSet::new(),
            app_version: None,
            statuses: Vec::new(),
            action_params: None,
            action_results: BTreeMap::new(),
            action_failures: Vec::new(),
            logs: Vec::new(),
            unit_state: Databag::new(),
            secrets: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// The application part of [`Self::unit`].
    pub fn app(&self) -> String {
        self.unit.split('/').next().unwrap_or_default().to_string()
    }
}

/// A write queued until the hook commits.
#[derive(Debug, Clone)]
enum Pending {
    RelationSet {
        relation: u32,
        app: bool,
        data: Databag,
    },
    OpenPort(String),
    ClosePort(String),
    SecretAdd(String, FakeSecret),
    SecretSet(String, Databag),
    SecretRemove(String, u32),
}

/// One tool call as the charm made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Tool name.
    pub tool: String,
    /// Arguments.
    pub args: Vec<String>,
    /// stdin, if any.
    pub stdin: Option<Vec<u8>>,
}

#[derive(Debug)]
struct Inner {
    state: State,
    pending: Vec<Pending>,
    calls: Vec<Call>,
    defaults: Map<String, Value>,
    /// Tools whose next call fails (once each).
    fail_next: BTreeSet<String>,
    /// Calls left before the injected failure (`Some(1)`: the next call fails).
    fail_in: Option<usize>,
}

/// The fake; clones share one state (the charm's tools and its log layer both hold one).
#[derive(Debug, Clone)]
pub struct FakeJuju {
    inner: Arc<Mutex<Inner>>,
}

/// Defaults of every option that has one, from the charm's config.yaml (what Juju's
/// `config-get` prints for options the operator never set).
pub fn config_defaults() -> Map<String, Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut out = Map::new();
    let options = doc["options"].as_mapping().unwrap();
    for (name, opt) in options {
        if let Some(d) = opt.get("default") {
            let v: Value = serde_json::to_value(d).unwrap();
            out.insert(name.as_str().unwrap().to_string(), v);
        }
    }
    out
}

fn err(tool: &str, args: &[String], code: i32, stderr: &str) -> HookToolError {
    classify(tool, args, Some(code), stderr)
}

fn out(v: Value) -> Result<String, HookToolError> {
    Ok(format!("{v}\n"))
}

fn strings(m: &Databag) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn apply(bag: &mut Databag, data: &Databag) {
    for (k, v) in data {
        if v.is_empty() {
            bag.remove(k);
        } else {
            bag.insert(k.clone(), v.clone());
        }
    }
}

/// Juju's automatic keys in a unit's bag on every relation.
pub fn juju_keys(address: &str) -> Databag {
    [
        ("private-address", address.to_string()),
        ("ingress-address", address.to_string()),
        ("egress-subnets", format!("{address}/32")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl FakeJuju {
    /// A fake answering from `state`.
    pub fn new(state: State) -> Self {
        FakeJuju {
            inner: Arc::new(Mutex::new(Inner {
                state,
                pending: Vec::new(),
                calls: Vec::new(),
                defaults: config_defaults(),
                fail_next: BTreeSet::new(),
                fail_in: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in one tool call must not hide the state from later assertions.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the current (committed) state.
    pub fn state(&self) -> State {
        self.lock().state.clone()
    }

    /// Changes the state between hooks (the operator or the other side acting).
    pub fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock().state);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Forgets recorded calls (keeps the state), e.g. between phases of a scenario.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Makes the next call of `tool` fail as a tool fails under Juju (exit 1, `ERROR ...`
    /// on stderr), e.g. to fail a hook after its relation writes.
    pub fn fail_next(&self, tool: &str) {
        self.lock().fail_next.insert(tool.to_string());
    }

    /// Calls of one tool.
    pub fn calls_of(&self, tool: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.tool == tool)
            .collect()
    }

    /// The data of every `relation-set` so far: (relation, app bag?, changes).
    pub fn relation_sets(&self) -> Vec<(String, bool, Databag)> {
        self.calls_of("relation-set")
            .into_iter()
            .map(|c| {
                let rel = c.args[1].clone();
                let app = c.args.iter().any(|a| a == "--app");
                let data: Databag = serde_json::from_slice(&c.stdin.unwrap_or_default()).unwrap();
                (rel, app, data)
            })
            .collect()
    }

    /// The unit status: the last `status-set`.
    pub fn status(&self) -> (String, String) {
        self.lock()
            .state
            .statuses
            .last()
            .cloned()
            .unwrap_or_else(|| ("unknown".into(), String::new()))
    }

    /// Adds a relation on `endpoint` with `remote_app`; Juju seeds our bag with our address.
    pub fn add_relation(&self, endpoint: &str, remote_app: &str) -> RelationId {
        let mut inner = self.lock();
        let st = &mut inner.state;
        let id = st.next_id;
        st.next_id += 1;
        let ours = st.address.as_deref().map(juju_keys).unwrap_or_default();
        st.relations.push(Relation {
            endpoint: endpoint.to_string(),
            id,
            remote_app: remote_app.to_string(),
            ours,
            ..Default::default()
        });
        RelationId::new(endpoint, id)
    }

    /// Sets (replaces) a remote unit's bag; the unit joins if it was not there.
    pub fn set_unit_bag(&self, rel: &RelationId, unit: &str, bag: Databag) {
        self.with_relation(rel, |r| {
            r.units.insert(unit.to_string(), bag);
        });
    }

    /// Sets (replaces) the remote application's bag.
    pub fn set_remote_app_bag(&self, rel: &RelationId, bag: Databag) {
        self.with_relation(rel, |r| r.remote_app_bag = bag);
    }

    /// Removes a relation (after its broken hook, Juju no longer lists it).
    pub fn remove_relation(&self, rel: &RelationId) {
        self.lock()
            .state
            .relations
            .retain(|r| !(r.endpoint == rel.endpoint && r.id == rel.id));
    }

    /// Runs `f` on one relation of the committed state.
    pub fn with_relation<T>(&self, rel: &RelationId, f: impl FnOnce(&mut Relation) -> T) -> T {
        let mut inner = self.lock();
        let r = inner
            .state
            .relations
            .iter_mut()
            .find(|r| r.endpoint == rel.endpoint && r.id == rel.id)
            .unwrap_or_else(|| panic!("no relation {rel}"));
        f(r)
    }

    /// Our unit bag on `rel` (committed).
    pub fn our_bag(&self, rel: &RelationId) -> Databag {
        self.with_relation(rel, |r| r.ours.clone())
    }

    /// Our app bag on `rel` (committed).
    pub fn our_app_bag(&self, rel: &RelationId) -> Databag {
        self.with_relation(rel, |r| r.our_app.clone())
    }

    /// Makes the `n`th tool call from now (1: the next one) fail with exit 1, as a call
    /// does when the unit agent loses its controller connection.
    pub fn fail_call(&self, n: usize) {
        self.lock().fail_in = Some(n);
    }

    /// The secret with owner label `label`, committed.
    pub fn secret(&self, label: &str) -> Option<(String, FakeSecret)> {
        self.lock()
            .state
            .secrets
            .iter()
            .find(|(_, s)| s.label.as_deref() == Some(label))
            .map(|(id, s)| (id.clone(), s.clone()))
    }

    /// Applies the hook's queued writes (the hook succeeded).
    pub fn commit(&self) {
        let mut inner = self.lock();
        let pending = std::mem::take(&mut inner.pending);
        let st = &mut inner.state;
        for p in pending {
            match p {
                Pending::RelationSet {
                    relation,
                    app,
                    data,
                } => {
                    // A relation removed while the hook ran takes its writes with it.
                    if let Some(r) = st.relations.iter_mut().find(|r| r.id == relation) {
                        apply(if app { &mut r.our_app } else { &mut r.ours }, &data);
                    }
                }
                Pending::OpenPort(p) => {
                    st.opened_ports.insert(p);
                }
                Pending::ClosePort(p) => {
                    st.opened_ports.remove(&p);
                }
                p @ (Pending::SecretAdd(..)
                | Pending::SecretSet(..)
                | Pending::SecretRemove(..)) => apply_secret(&mut st.secrets, &p),
            }
        }
    }

    /// Drops the hook's queued writes (the hook failed; Juju will retry it).
    pub fn rollback(&self) {
        self.lock().pending.clear();
    }
}

/// Applies one buffered secret write.
fn apply_secret(secrets: &mut BTreeMap<String, FakeSecret>, p: &Pending) {
    match p {
        Pending::SecretAdd(id, secret) => {
            secrets.insert(id.clone(), secret.clone());
        }
        Pending::SecretSet(id, content) => {
            if let Some(s) = secrets.get_mut(id) {
                // Juju makes no revision for the same content.
                if s.content() != *content {
                    let next = s.latest() + 1;
                    s.revisions.insert(next, content.clone());
                }
            }
        }
        Pending::SecretRemove(id, revision) => {
            if let Some(s) = secrets.get_mut(id) {
                s.revisions.remove(revision);
                if s.revisions.is_empty() {
                    secrets.remove(id);
                }
            }
        }
        _ => {}
    }
}

/// The id in a secret URI (any of the three forms), or None.
fn secret_id(uri: &str) -> Option<String> {
    let id = uri
        .strip_prefix(&format!("secret://{MODEL_UUID}/"))
        .or_else(|| uri.strip_prefix("secret:"))
        .unwrap_or(uri);
    let ok = id.len() == 20
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b));
    ok.then(|| id.to_string())
}

/// `key#file=PATH` arguments: the content, read from files that must be private. A value
/// in argv (`key=value`) is a call the charm must never make.
fn secret_values(tool: &str, args: &[&str]) -> Databag {
    use std::os::unix::fs::PermissionsExt;
    args.iter()
        .map(|a| {
            let (key, path) = a
                .split_once("#file=")
                .unwrap_or_else(|| panic!("{tool}: {a:?} is not key#file=PATH: a value in argv"));
            let meta = std::fs::metadata(path)
                .unwrap_or_else(|e| panic!("{tool}: {key}'s file {path}: {e}"));
            assert_eq!(
                meta.permissions().mode() & 0o777,
                0o600,
                "{tool}: {path} not 0600"
            );
            let value = std::fs::read_to_string(path).unwrap();
            (key.to_string(), value)
        })
        .collect()
}

/// Parses `-r <endpoint>:<id>` and finds the relation, answering like Juju when it is gone.
fn find_rel<'a>(
    st: &'a State,
    tool: &str,
    args: &[String],
    raw: &str,
) -> Result<&'a Relation, HookToolError> {
    let id: RelationId = raw
        .parse()
        .unwrap_or_else(|e| panic!("{tool}: bad -r value {raw:?}: {e}"));
    st.relations
        .iter()
        .find(|r| r.endpoint == id.endpoint && r.id == id.id)
        .ok_or_else(|| {
            err(
                tool,
                args,
                2,
                &format!("ERROR invalid value \"{raw}\" for option -r: relation not found\n"),
            )
        })
}

/// `k=v` arguments (leader-set, action-set), with Juju's whitespace trimming.
fn key_values(args: &[String]) -> Databag {
    args.iter()
        .map(|a| {
            let (k, v) = a
                .split_once('=')
                .unwrap_or_else(|| panic!("expected key=value, got {a:?}"));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

impl Inner {
    /// The model's secrets with this hook's queued writes applied (a hook reads its own).
    fn secrets_view(&self) -> BTreeMap<String, FakeSecret> {
        let mut secrets = self.state.secrets.clone();
        for p in &self.pending {
            apply_secret(&mut secrets, p);
        }
        secrets
    }

    /// A secret the unit's application manages, for a write by its leader.
    fn managed_secret(
        &self,
        tool: &str,
        args: &[String],
        uri: &str,
    ) -> Result<String, HookToolError> {
        let id = secret_id(uri).unwrap_or_else(|| panic!("{tool}: bad secret URI {uri:?}"));
        let not_found = || err(tool, args, 1, &format!("ERROR secret {id:?} not found\n"));
        let secret = self
            .secrets_view()
            .get(&id)
            .cloned()
            .ok_or_else(not_found)?;
        if secret.owner_app != self.state.app() {
            return Err(err(tool, args, 1, "ERROR permission denied\n"));
        }
        if !self.state.leader {
            return Err(err(tool, args, 1, "ERROR this unit is not the leader\n"));
        }
        Ok(id)
    }

    fn answer_secret(&mut self, tool: &str, args: &[String]) -> Result<String, HookToolError> {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let unexpected = || -> ! { panic!("FakeJuju: unexpected call `{tool} {args:?}`") };
        let app = self.state.app();
        match (tool, a.as_slice()) {
            ("secret-add", ["--label", label, "--description", description, values @ ..])
                if !values.is_empty() =>
            {
                let content = secret_values(tool, values);
                if !self.state.leader {
                    return Err(err(tool, args, 1, "ERROR this unit is not the leader\n"));
                }
                let secrets = self.secrets_view();
                if secrets
                    .values()
                    .any(|s| s.owner_app == app && s.label.as_deref() == Some(*label))
                {
                    return Err(err(
                        tool,
                        args,
                        1,
                        &format!("ERROR secret with label {label:?} already exists\n"),
                    ));
                }
                // Ids only need to be distinct and valid (20 of 0-9a-v).
                let id = format!("{:020}", secrets.len() + 1 + self.pending.len());
                self.pending.push(Pending::SecretAdd(
                    id.clone(),
                    FakeSecret {
                        owner_app: app,
                        label: Some(label.to_string()),
                        description: Some(description.to_string()),
                        revisions: BTreeMap::from([(1, content)]),
                    },
                ));
                Ok(format!("secret://{MODEL_UUID}/{id}\n"))
            }
            ("secret-set", [uri, values @ ..]) if !values.is_empty() => {
                let content = secret_values(tool, values);
                let id = self.managed_secret(tool, args, uri)?;
                self.pending.push(Pending::SecretSet(id, content));
                Ok(String::new())
            }
            ("secret-remove", ["--revision", n, uri]) => {
                let id = self.managed_secret(tool, args, uri)?;
                let n: u32 = n.parse().unwrap_or_else(|_| unexpected());
                if !self.secrets_view()[&id].revisions.contains_key(&n) {
                    let msg = format!("ERROR secret revision {id}/{n} not found\n");
                    return Err(err(tool, args, 1, &msg));
                }
                self.pending.push(Pending::SecretRemove(id, n));
                Ok(String::new())
            }
            ("secret-get", ["--format=json", rest @ ..]) => {
                let uri = match rest {
                    ["--refresh", uri] | [uri] => uri,
                    _ => unexpected(),
                };
                let id = secret_id(uri).unwrap_or_else(|| panic!("bad secret URI {uri:?}"));
                let Some(secret) = self.secrets_view().get(&id).cloned() else {
                    return Err(err(
                        tool,
                        args,
                        1,
                        &format!("ERROR secret {id:?} not found\n"),
                    ));
                };
                // No grants are modelled: only the owning application's units read.
                if secret.owner_app != app {
                    return Err(err(tool, args, 1, "ERROR permission denied\n"));
                }
                out(strings(&secret.content()))
            }
            ("secret-info-get", ["--format=json", "--label", label]) => {
                let found = self.secrets_view().into_iter().find(|(_, s)| {
                    s.owner_app == app && self.state.leader && s.label.as_deref() == Some(*label)
                });
                match found {
                    Some((id, s)) => out(json!({ id: {
                        "revision": s.latest(),
                        "label": label,
                        "owner": "application",
                        "rotation": "never",
                    }})),
                    None => Err(err(
                        tool,
                        args,
                        1,
                        &format!("ERROR secret {label:?} not found\n"),
                    )),
                }
            }
            _ => unexpected(),
        }
    }

    /// Our unit or app bag with this hook's queued writes applied.
    fn own_bag(&self, rel: &Relation, app: bool) -> Databag {
        let mut bag = if app {
            rel.our_app.clone()
        } else {
            rel.ours.clone()
        };
        for p in &self.pending {
            if let Pending::RelationSet {
                relation,
                app: a,
                data,
            } = p
            {
                if *relation == rel.id && *a == app {
                    apply(&mut bag, data);
                }
            }
        }
        bag
    }

    fn answer(
        &mut self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<String, HookToolError> {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let unexpected = || -> ! { panic!("FakeJuju: unexpected call `{tool} {args:?}`") };
        let st = &self.state;
        match (tool, a.as_slice()) {
            ("config-get", ["--format=json"]) => {
                let mut cfg = self.defaults.clone();
                for (k, v) in &st.config {
                    cfg.insert(k.clone(), v.clone());
                }
                out(Value::Object(cfg))
            }
            ("is-leader", ["--format=json"]) => out(Value::Bool(st.leader)),
            ("leader-get", ["--format=json"]) => out(strings(&st.leader_settings)),
            ("leader-set", kv) if !kv.is_empty() => {
                if !st.leader {
                    return Err(err(
                        tool,
                        args,
                        1,
                        "ERROR cannot write leadership settings: cannot write settings: not the leader\n",
                    ));
                }
                let data = key_values(args);
                apply(&mut self.state.leader_settings, &data);
                Ok(String::new())
            }
            ("network-get", ["--format=json", binding]) => {
                assert!(
                    [
                        "website",
                        "docker-registry",
                        "cert-provider",
                        "peer",
                        "nrpe-external-master"
                    ]
                    .contains(binding),
                    "network-get for unknown binding {binding}"
                );
                let v = match &st.address {
                    None => {
                        json!({"bind-addresses": null, "egress-subnets": null, "ingress-addresses": null})
                    }
                    Some(a) => json!({
                        "bind-addresses": [{"mac-address": "", "interface-name": "eth0",
                            "addresses": [{"hostname": "", "value": a, "cidr": format!("{a}/24")}]}],
                        "egress-subnets": [format!("{a}/32")],
                        "ingress-addresses": [a],
                    }),
                };
                out(v)
            }
            ("unit-get", ["--format=json", "private-address"]) => {
                out(json!(st.address.clone().unwrap_or_default()))
            }
            ("unit-get", ["--format=json", "public-address"]) => match &st.public_address {
                Some(a) => out(json!(a)),
                None => Err(err(tool, args, 1, "ERROR public address not found\n")),
            },
            ("relation-ids", ["--format=json", endpoint]) => out(Value::Array(
                st.relations
                    .iter()
                    .filter(|r| r.endpoint == *endpoint)
                    .map(|r| json!(format!("{}:{}", r.endpoint, r.id)))
                    .collect(),
            )),
            ("relation-list", ["--format=json", "-r", r]) => {
                let rel = find_rel(st, tool, args, r)?;
                out(json!(rel.units.keys().collect::<Vec<_>>()))
            }
            ("relation-list", ["--format=json", "--app", "-r", r]) => {
                let rel = find_rel(st, tool, args, r)?;
                out(json!(rel.remote_app))
            }
            ("relation-get", ["--format=json", "-r", r, "-", unit]) => {
                let rel = find_rel(st, tool, args, r)?;
                if *unit == st.unit {
                    return out(strings(&self.own_bag(rel, false)));
                }
                match rel.units.get(*unit) {
                    Some(bag) => out(strings(bag)),
                    None => Err(err(tool, args, 1, "ERROR permission denied\n")),
                }
            }
            ("relation-get", ["--format=json", "-r", r, "--app", "-", app]) => {
                let rel = find_rel(st, tool, args, r)?;
                if *app == st.app() {
                    // Our own app bag: the leader always, others only on the peer relation.
                    if st.leader || rel.is_peer(&st.app()) {
                        return out(strings(&self.own_bag(rel, true)));
                    }
                    return Err(err(tool, args, 1, "ERROR permission denied\n"));
                }
                if *app == rel.remote_app {
                    return out(strings(&rel.remote_app_bag));
                }
                Err(err(tool, args, 1, "ERROR permission denied\n"))
            }
            ("relation-set", ["-r", r, rest @ ..]) => {
                let app = match rest {
                    ["--app", "--file", "-"] => true,
                    ["--file", "-"] => false,
                    _ => unexpected(),
                };
                let id = find_rel(st, tool, args, r)?.id;
                if app && !st.leader {
                    return Err(err(tool, args, 1, "ERROR cannot write relation settings\n"));
                }
                let body = stdin.unwrap_or_else(|| panic!("relation-set without stdin"));
                let data: Databag = serde_json::from_slice(body)
                    .unwrap_or_else(|e| panic!("relation-set stdin is not a JSON map: {e}"));
                self.pending.push(Pending::RelationSet {
                    relation: id,
                    app,
                    data,
                });
                Ok(String::new())
            }
            ("status-set", rest) => {
                let (kind, message) = match rest {
                    [kind] => (*kind, ""),
                    [kind, "--", msg] => (*kind, *msg),
                    ["--application", ..] => unexpected(),
                    _ => unexpected(),
                };
                assert!(
                    ["maintenance", "blocked", "waiting", "active"].contains(&kind),
                    "invalid status {kind}"
                );
                self.state
                    .statuses
                    .push((kind.to_string(), message.to_string()));
                Ok(String::new())
            }
            ("application-version-set", ["--", v]) => {
                self.state.app_version = Some(v.to_string());
                Ok(String::new())
            }
            ("open-port", [p]) => {
                self.pending.push(Pending::OpenPort(p.to_string()));
                Ok(String::new())
            }
            ("close-port", [p]) => {
                self.pending.push(Pending::ClosePort(p.to_string()));
                Ok(String::new())
            }
            ("opened-ports", ["--format=json"]) => {
                out(json!(st.opened_ports.iter().collect::<Vec<_>>()))
            }
            ("state-get", ["--format=json"]) => out(strings(&st.unit_state)),
            ("action-get", ["--format=json"]) => match &st.action_params {
                Some(p) => out(p.clone()),
                None => Err(err(tool, args, 1, "ERROR not running an action\n")),
            },
            ("action-set", kv) if !kv.is_empty() => {
                if st.action_params.is_none() {
                    return Err(err(tool, args, 1, "ERROR not running an action\n"));
                }
                let data = key_values(args);
                self.state.action_results.extend(data);
                Ok(String::new())
            }
            ("action-fail", ["--", msg]) => {
                if st.action_params.is_none() {
                    return Err(err(tool, args, 1, "ERROR not running an action\n"));
                }
                self.state.action_failures.push(msg.to_string());
                Ok(String::new())
            }
            ("action-log", ["--", _msg]) => Ok(String::new()),
            ("juju-log", ["--log-level", level, "--", msg]) => {
                self.state.logs.push((level.to_string(), msg.to_string()));
                Ok(String::new())
            }
            (t, _) if t.starts_with("secret-") => self.answer_secret(tool, args),
            _ => unexpected(),
        }
    }
}

impl ToolRunner for FakeJuju {
    fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<String, HookToolError> {
        let mut inner = self.lock();
        inner.calls.push(Call {
            tool: tool.to_string(),
            args: args.to_vec(),
            stdin: stdin.map(<[u8]>::to_vec),
        });
        if inner.fail_next.remove(tool) {
            return Err(err(tool, args, 1, "ERROR connection is shut down\n"));
        }
        if let Some(n) = inner.fail_in {
            inner.fail_in = n.checked_sub(1).filter(|left| *left > 0);
            if n == 1 {
                return Err(err(tool, args, 1, "ERROR connection is shut down\n"));
            }
        }
        inner.answer(tool, args, stdin)
    }
}
