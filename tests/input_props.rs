//! Property tests on every parser of outside input (issue 17): the charm config (random
//! JSON values for each option of config.yaml), base64/PEM blobs, each relation's remote
//! data, and action parameters. Whatever comes in: no panic; a bad config value is an
//! error naming a declared option (and never quoting a secret); bad relation data is a
//! `WireError` naming its key, and the charm's notes name the remote unit; a bad action
//! parameter is an action error naming a declared parameter.
//!
//! The plan-level property (a bad config keeps the last good one serving, garbage relation
//! data never fails a hook) is in `tests/charm_plan.rs`, on its `View` literals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use base64::Engine as _;
use charm::actions::{self, ActionError, ActionIo, Registry, StorageKind};
use charm::charm::advertise::proxy_hosts;
use charm::charm::model::RelationView;
use charm::charm::nrpe::nrpe_files;
use charm::config::CharmConfig;
use charm::juju::{Databag, UnitName};
use charm::registry_client::Scheme;
use charm::relations::cert_provider::{CsrRequests, LegacyProvider, LegacyRequest, ProvidedCerts};
use charm::relations::docker_registry::RegistryInfo;
use charm::relations::nrpe::NrpeRemote;
use charm::relations::peer::{PeerApp, PeerUnit};
use charm::relations::WireError;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

// ---- config ----------------------------------------------------------------------------

/// config.yaml's options: name -> type.
fn options() -> &'static BTreeMap<String, String> {
    static OPTIONS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        yaml["options"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let kind = v["type"].as_str().unwrap_or("string").to_string();
                (k.as_str().unwrap().to_string(), kind)
            })
            .collect()
    })
}

/// Options whose values are secrets: never quoted back.
const SECRET_OPTIONS: &[&str] = &[
    "auth-basic-password",
    "cache-password",
    "storage-s3-accesskey",
    "storage-s3-secretkey",
    "storage-swift-password",
    "tls-key-blob",
];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// PEM-ish text: armour lines around base64-ish or random text, sometimes broken.
fn pem_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "CERTIFICATE",
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "CERTIFICATE REQUEST",
            "X",
        ]),
        "[A-Za-z0-9+/=\n]{0,120}",
        any::<bool>(),
        "\\PC{0,20}",
    )
        .prop_map(|(label, body, end, junk)| {
            let mut s = format!("{junk}-----BEGIN {label}-----\n{body}\n");
            if end {
                s.push_str(&format!("-----END {label}-----\n"));
            }
            s
        })
}

/// A string worth trying in any string option.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "\\PC{0,40}",
        "(https?|ftp|socks5)://[a-zA-Z0-9.:@\\[\\]_-]{0,24}(/[a-z./]{0,8})?(\\?x)?",
        "[a-z0-9.:-]{0,24}",
        "/?[a-z0-9/._ -]{0,24}",
        "[ -~]{0,12}\n[ -~]{0,12}",
        pem_text().prop_map(|p| b64(p.as_bytes())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| b64(&b)),
        "[A-Za-z0-9+/]{0,30}={0,3}",
    ]
}

/// A JSON value for an option of `kind`: mostly of its type, sometimes anything.
fn value_for(kind: &str) -> BoxedStrategy<Value> {
    let typed = match kind {
        "int" => prop_oneof![
            any::<i64>().prop_map(Value::from),
            (-10i64..70_000).prop_map(Value::from),
            (0u64..6_000_000_000).prop_map(Value::from),
        ]
        .boxed(),
        "boolean" => any::<bool>().prop_map(Value::from).boxed(),
        _ => any_text().prop_map(Value::from).boxed(),
    };
    let other = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,10}".prop_map(Value::from),
        Just(json!([1, "a"])),
        Just(json!({"k": "v"})),
    ];
    prop_oneof![9 => typed, 1 => other].boxed()
}

/// A config-get map: some of config.yaml's options with random values, sometimes an
/// unknown option too.
fn config_map() -> impl Strategy<Value = Map<String, Value>> {
    let names: Vec<(String, String)> = options()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    prop::sample::subsequence(names, 1..12)
        .prop_flat_map(|chosen| {
            let values: Vec<BoxedStrategy<(String, Value)>> = chosen
                .into_iter()
                .map(|(name, kind)| {
                    value_for(&kind)
                        .prop_map(move |v| (name.clone(), v))
                        .boxed()
                })
                .collect();
            (
                values,
                proptest::option::of(("[a-z_-]{1,12}", value_for("string"))),
            )
        })
        .prop_map(|(pairs, extra)| {
            let mut map: Map<String, Value> = pairs.into_iter().collect();
            if let Some((k, v)) = extra {
                if !options().contains_key(&k) {
                    map.insert(k, v);
                }
            }
            map
        })
}

/// The config's Debug when valid, else its status message.
fn config_text(map: &Map<String, Value>) -> String {
    match CharmConfig::from_json_with_tls(map, SystemTime::now()) {
        Ok((config, _)) => format!("{config:?}"),
        Err(errors) => errors.status_message(),
    }
}

/// Whether `text` (what `map` renders to) quotes the value of the secret option `key`:
/// it contains the value (8 bytes or more), and stops containing it when only that value
/// changes. A value that is also fixed text (a password `https://` in an example URL of
/// the http-host error) is not a quote.
fn quotes_secret(map: &Map<String, Value>, key: &str, text: &str) -> bool {
    let Some(Value::String(secret)) = map.get(key) else {
        return false;
    };
    if secret.len() < 8 || !text.contains(secret.as_str()) {
        return false;
    }
    let other: String = secret
        .chars()
        .map(|c| if c == 'x' { 'y' } else { 'x' })
        .collect();
    let mut changed = map.clone();
    changed.insert(key.to_string(), Value::String(other));
    !config_text(&changed).contains(secret.as_str())
}

/// The leak check tells a quoted secret from a secret that is also fixed text (a case
/// proptest found: the http-host error's example URL contains `https://`).
#[test]
fn a_secret_that_is_fixed_text_is_not_taken_for_a_quote() {
    let map: Map<String, Value> = serde_json::from_value(json!({
        "storage-swift-password": "https://",
        "http-host": "\u{2010}",
    }))
    .unwrap();
    let status = config_text(&map);
    assert!(status.contains("https://"), "{status}");
    assert!(!quotes_secret(&map, "storage-swift-password", &status));
    let map: Map<String, Value> =
        serde_json::from_value(json!({"storage-swift-password": "hunter2-hunter2"})).unwrap();
    assert!(quotes_secret(
        &map,
        "storage-swift-password",
        "swift password hunter2-hunter2"
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any config: valid, or every problem names a declared option, the status says
    /// `Invalid charm config: ` and names them all, and no secret value is quoted.
    #[test]
    fn any_config_is_valid_or_names_its_options(map in config_map()) {
        match CharmConfig::from_json_with_tls(&map, SystemTime::now()) {
            Ok((config, _)) => {
                let shown = format!("{config:?}");
                for key in SECRET_OPTIONS {
                    prop_assert!(!quotes_secret(&map, key, &shown), "{key} in Debug");
                }
            }
            Err(errors) => {
                prop_assert!(!errors.0.is_empty());
                let status = errors.status_message();
                prop_assert!(status.starts_with("Invalid charm config: "), "{status}");
                for e in &errors.0 {
                    prop_assert!(options().contains_key(&e.option), "undeclared option {:?}: {status}", e.option);
                    prop_assert!(status.contains(&format!("{}: ", e.option)), "{status}");
                }
                for key in SECRET_OPTIONS {
                    prop_assert!(!quotes_secret(&map, key, &status), "{key} quoted: {status}");
                }
            }
        }
    }

    /// The TLS blobs on their own: random base64 of PEM-ish text in any combination is a
    /// bundle or errors about the tls-* options only.
    #[test]
    fn tls_blobs_are_a_bundle_or_name_their_options(
        ca in proptest::option::of(pem_text()),
        cert in proptest::option::of(pem_text()),
        key in proptest::option::of(pem_text()),
        raw in proptest::option::of("\\PC{0,30}"),
    ) {
        let mut map = Map::new();
        for (name, v) in [("tls-ca-blob", ca), ("tls-cert-blob", cert), ("tls-key-blob", key)] {
            if let Some(v) = v {
                map.insert(name.into(), json!(b64(v.as_bytes())));
            }
        }
        if let Some(raw) = raw {
            map.insert("tls-ca-blob".into(), json!(raw));
        }
        if let Err(errors) = CharmConfig::from_json_with_tls(&map, SystemTime::now()) {
            for e in &errors.0 {
                prop_assert!(e.option.starts_with("tls-"), "{e}");
            }
        }
        for text in map.values().filter_map(Value::as_str) {
            let _ = charm::tls::decode_base64_text(text);
        }
    }
}

// ---- relations -------------------------------------------------------------------------

/// Keys of every contract, plus the legacy cert-provider keys for our unit, plus noise.
fn relation_keys() -> Vec<String> {
    use charm::relations::{cert_provider as cp, docker_registry as dr, nrpe, peer, website};
    [
        cp::UNIT_NAME,
        cp::COMMON_NAME,
        cp::SANS,
        cp::CERTIFICATE_NAME,
        cp::CA,
        cp::CERTIFICATE_SIGNING_REQUESTS,
        cp::CERTIFICATES,
        "docker-registry_0.server.cert",
        "docker-registry_0.server.key",
        dr::REGISTRY_NETLOC,
        dr::REGISTRY_URL,
        dr::BASIC_USER,
        dr::BASIC_PASSWORD,
        dr::TLS_CA,
        nrpe::NAGIOS_HOSTNAME,
        nrpe::NAGIOS_HOST_CONTEXT,
        peer::INGRESS_ADDRESS,
        peer::PRIVATE_ADDRESS,
        peer::HTTP_SECRET,
        website::HOSTNAME,
        website::PORT,
        "public-address",
        "egress-subnets",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect()
}

/// A relation value: JSON-shaped, address-shaped, PEM-ish or anything.
fn wire_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        Just(String::new()),
        Just("null".to_string()),
        "\"[ -~]{0,30}\"",
        "[0-9.:\\[\\]a-f]{0,20}",
        "\\[(\"[ -~]{0,10}\",?){0,3}\\]",
        Just(
            r#"[{"certificate_signing_request": "x", "certificate": "y", "ca": "z"}]"#.to_string()
        ),
        Just(r#"[{"certificate_signing_request": 1}]"#.to_string()),
        Just(r#"{"not": "a list"}"#.to_string()),
        pem_text(),
    ]
}

fn databag() -> impl Strategy<Value = Databag> {
    prop::collection::btree_map(
        prop_oneof![4 => prop::sample::select(relation_keys()), 1 => "[a-z_.-]{1,12}"],
        wire_value(),
        0..8,
    )
}

/// A parser's error names its key; an `Invalid` key is one the bag has.
fn names_its_key(e: &WireError, bag: &Databag) -> Result<(), TestCaseError> {
    prop_assert!(e.to_string().contains(&format!("`{}`", e.key())), "{e}");
    if let WireError::Invalid { key, .. } = e {
        prop_assert!(
            bag.contains_key(key),
            "{e} for a key the bag lacks: {bag:?}"
        );
    }
    Ok(())
}

fn relation(id: &str, unit: &str, bag: Databag) -> RelationView {
    RelationView {
        id: id.parse().unwrap(),
        ours: Databag::new(),
        units: vec![(unit.parse::<UnitName>().unwrap(), bag)],
        app: Databag::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every relation's reader: a value or a `WireError` naming its key.
    #[test]
    fn every_relation_reader_names_the_key(bag in databag()) {
        if let Err(e) = RegistryInfo::parse(&bag) { names_its_key(&e, &bag)?; }
        if let Err(e) = LegacyProvider::parse(&bag) { names_its_key(&e, &bag)?; }
        if let Err(e) = LegacyRequest::parse(&bag) { names_its_key(&e, &bag)?; }
        if let Err(e) = ProvidedCerts::parse(&bag) { names_its_key(&e, &bag)?; }
        if let Err(e) = CsrRequests::parse(&bag) { names_its_key(&e, &bag)?; }
        if let Err(e) = NrpeRemote::parse(&bag) { names_its_key(&e, &bag)?; }
        if let Err(e) = PeerUnit::parse(&bag) { names_its_key(&e, &bag)?; }
        if let Err(e) = PeerApp::parse(&bag) { names_its_key(&e, &bag)?; }
    }

    /// Where the charm reads a remote unit's data, garbage is a note naming the unit (and
    /// the key), and the rest goes on: the nrpe check is still written, the proxy skipped.
    #[test]
    fn garbage_is_noted_with_the_remote_unit(bag in databag()) {
        let config = CharmConfig::from_json(&Map::new()).unwrap();
        let unit: UnitName = "docker-registry/0".parse().unwrap();
        let nrpe = [relation("nrpe-external-master:5", "nrpe/7", bag.clone())];
        let files = nrpe_files(&nrpe, &config, &unit, false);
        prop_assert!(files.value.is_some(), "the check is written whatever the subordinate says");
        for note in &files.notes {
            prop_assert!(note.message.contains("nrpe/7"), "{}", note.message);
        }
        let website = [relation("website:4", "haproxy/3", bag)];
        let proxy = proxy_hosts(&website);
        for note in &proxy.notes {
            prop_assert!(note.message.contains("haproxy/3"), "{}", note.message);
        }
    }
}

// ---- action parameters -----------------------------------------------------------------

/// actions.yaml: action -> its declared parameters.
fn action_params() -> &'static BTreeMap<String, BTreeSet<String>> {
    static PARAMS: OnceLock<BTreeMap<String, BTreeSet<String>>> = OnceLock::new();
    PARAMS.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("actions.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        yaml.as_mapping()
            .unwrap()
            .iter()
            .map(|(name, a)| {
                let params = a["params"]
                    .as_mapping()
                    .map(|m| {
                        m.keys()
                            .filter_map(|k| k.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                (name.as_str().unwrap().to_string(), params)
            })
            .collect()
    })
}

/// A registry no request reaches: its address and every proxy refuse connections, so a
/// valid request fails fast without touching the network.
fn unreachable_registry() -> Registry {
    Registry {
        application: "docker-registry".into(),
        netloc: "127.0.0.1:1".into(),
        unit_netloc: "127.0.0.1:1".into(),
        port: 1,
        scheme: Scheme::Http,
        client_scheme: Scheme::Http,
        ca_pem: None,
        credentials: None,
        token_realm: None,
        storage_read_only: false,
        storage_delete: true,
        storage: StorageKind::Filesystem {
            root: PathBuf::from("/nonexistent/registry"),
        },
        units: 1,
        http_proxy: Some("http://127.0.0.1:1".into()),
        https_proxy: Some("http://127.0.0.1:1".into()),
        binary: PathBuf::from("/nonexistent/docker-registry"),
        config_path: PathBuf::from("/nonexistent/config.yml"),
        client: None,
    }
}

struct Quiet;

impl ActionIo for Quiet {
    fn log(&self, _line: &str) {}
}

/// A parameter value: mostly strings shaped like what the actions take. No source
/// names a local archive (`oci:`, `*-archive:`): those read files.
fn param_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z0-9./:@_-]{0,30}"
            .prop_filter("no local sources", |s| !s.contains("oci")
                && !s.contains("archive"))
            .prop_map(Value::from),
        "\\PC{0,20}"
            .prop_filter("no local sources", |s| !s.contains("oci")
                && !s.contains("archive"))
            .prop_map(Value::from),
        Just(Value::from("127.0.0.1:1/e2e/x:1")),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!(["a"])),
    ]
}

fn action_case() -> impl Strategy<Value = (String, Map<String, Value>)> {
    let names: Vec<String> = ["push", "images", "rmi", "mirror"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    prop::sample::select(names).prop_flat_map(|name| {
        let declared: Vec<String> = action_params()[&name].iter().cloned().collect();
        let keys = prop_oneof![
            5 => prop::sample::select(declared),
            1 => "[a-z-]{1,10}",
        ];
        prop::collection::btree_map(keys, param_value(), 0..5)
            .prop_map(move |m| (name.clone(), m.into_iter().collect::<Map<String, Value>>()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any parameters: the action runs (and fails on the unreachable registry) or fails
    /// naming a parameter the action declares; never a panic.
    #[test]
    fn action_params_fail_naming_a_declared_param((name, params) in action_case()) {
        match actions::run(&name, &params, &unreachable_registry(), &Quiet) {
            Err(ActionError::Param { action, param, problem }) => {
                prop_assert_eq!(&action, &name);
                let declared = &action_params()[&name];
                prop_assert!(
                    declared.contains(&param) || params.contains_key(&param),
                    "{name}: parameter {param:?} is neither declared nor given: {problem}"
                );
                let shown = ActionError::Param { action, param: param.clone(), problem }.to_string();
                prop_assert!(shown.starts_with(&format!("{name}: parameter {param}: ")), "{shown}");
            }
            Err(_) => {}
            Ok(results) => prop_assert!(false, "{name} succeeded against nothing: {results:?}"),
        }
    }
}
