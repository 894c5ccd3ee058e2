//! Checks the charm's Juju files (metadata.yaml, config.yaml, actions.yaml,
//! charmcraft.yaml) against the Python charm's compatibility surface and against
//! Juju's structural rules.
//!
//! The expected names below are the Python charm's (its config.yaml, metadata.yaml and
//! actions.yaml, plus the options its layers added), kept HERE on purpose: if someone
//! renames or retypes an option in the YAML, this test must fail instead of silently
//! following the change.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_yaml::Value;

// ---------------------------------------------------------------------------------
// Expected compatibility surface (the Python charm)
// ---------------------------------------------------------------------------------

/// A config default as the Python charm declares it.
#[derive(Debug, Clone, Copy)]
enum Def {
    /// No `default:` key: the option is unset until configured.
    None,
    Str(&'static str),
    Int(i64),
    Bool(bool),
    /// A JSON document whose parsed value must match (whitespace may differ).
    Json(&'static str),
}

use Def::{Bool, Int, Json, Str};

/// Every option of the Python charm: (name, type, default). Its own options, then those
/// its layers added.
#[rustfmt::skip]
const PYTHON_OPTIONS: &[(&str, &str, Def)] = &[
    ("auth-basic-password", "string", Str("")),
    ("auth-basic-user", "string", Str("admin")),
    ("auth-token-issuer", "string", Str("")),
    ("auth-token-realm", "string", Str("")),
    ("auth-token-root-certs", "string", Str("")),
    ("auth-token-service", "string", Str("")),
    ("cache-password", "string", Str("")),
    ("cache-remoteurl", "string", Str("")),
    ("cache-username", "string", Str("")),
    ("debug-port", "int", Int(5001)),
    ("http-host", "string", Str("")),
    ("log-level", "string", Str("info")),
    ("prometheus-metrics", "boolean", Bool(false)),
    ("registry-image", "string", Str("registry:2")),
    ("registry-name", "string", Str("registry")),
    ("registry-port", "int", Int(5000)),
    ("registry-http-proxy", "string", Def::None),
    ("registry-https-proxy", "string", Def::None),
    ("storage-cache", "string", Str("inmemory")),
    ("storage-delete", "boolean", Bool(false)),
    ("storage-redirect-disable", "boolean", Bool(true)),
    ("storage-read-only", "boolean", Bool(false)),
    ("storage-swift-authurl", "string", Str("")),
    ("storage-swift-container", "string", Str("docker-registry")),
    ("storage-swift-password", "string", Str("")),
    ("storage-swift-region", "string", Str("")),
    ("storage-swift-tenant", "string", Str("")),
    ("storage-swift-username", "string", Str("")),
    ("storage-swift-domain", "string", Str("")),
    ("storage-s3-accesskey", "string", Def::None),
    ("storage-s3-secretkey", "string", Def::None),
    ("storage-s3-region", "string", Def::None),
    ("storage-s3-regionendpoint", "string", Def::None),
    ("storage-s3-forcepathstyle", "boolean", Bool(false)),
    ("storage-s3-bucket", "string", Def::None),
    ("storage-s3-encrypt", "boolean", Bool(false)),
    ("storage-s3-keyid", "string", Def::None),
    ("storage-s3-secure", "boolean", Bool(true)),
    ("storage-s3-skip-verify", "boolean", Bool(false)),
    ("storage-s3-skip-v4-auth", "boolean", Bool(true)),
    ("storage-s3-chunksize", "int", Int(10485760)),
    ("storage-s3-multipartcopychunksize", "int", Int(33554432)),
    ("storage-s3-multipartcopymaxconcurrency", "int", Int(100)),
    ("storage-s3-multipartcopythresholdsize", "int", Int(33554432)),
    ("storage-s3-rootdirectory", "string", Def::None),
    ("storage-s3-storageclass", "string", Str("STANDARD")),
    ("storage-s3-useragent", "string", Def::None),
    ("storage-s3-usedualstack", "boolean", Bool(false)),
    ("storage-s3-accelerate", "boolean", Bool(false)),
    ("storage-s3-objectacl", "string", Str("private")),
    ("storage-s3-loglevel", "string", Str("off")),
    ("tls-ca-blob", "string", Str("")),
    ("tls-cert-blob", "string", Str("")),
    ("tls-key-blob", "string", Str("")),
    ("tls-ca-path", "string", Str("/etc/docker/registry/ca.crt")),
    ("tls-cert-path", "string", Str("/etc/docker/registry/registry.crt")),
    ("tls-key-path", "string", Str("/etc/docker/registry/registry.key")),
    // Added by layer-docker
    ("apt-key-server", "string", Str("hkp://keyserver.ubuntu.com:80")),
    ("docker-opts", "string", Str("")),
    (
        "daemon-opts",
        "string",
        Json(r#"{"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "100"}}"#),
    ),
    ("enable-cgroups", "boolean", Bool(false)),
    ("install_from_upstream", "boolean", Bool(false)),
    ("docker_runtime", "string", Str("auto")),
    ("docker_runtime_repo", "string", Str("")),
    ("docker_runtime_key_url", "string", Str("")),
    ("docker_runtime_package", "string", Str("")),
    ("cuda_repo", "string", Str("10.0.130-1")),
    ("nvidia-docker-package", "string", Str("nvidia-docker2=2.0.3+docker18.09.1-1")),
    (
        "nvidia-container-runtime-package",
        "string",
        Str("nvidia-container-runtime=2.0.0+docker18.09.1-1"),
    ),
    ("docker-ce-package", "string", Str("docker-ce=5:18.09.1~3-0~ubuntu-bionic")),
    ("http_proxy", "string", Str("")),
    ("https_proxy", "string", Str("")),
    ("no_proxy", "string", Str("")),
    // Added by layer-apt
    ("extra_packages", "string", Str("")),
    ("package_status", "string", Str("install")),
    ("install_sources", "string", Str("")),
    ("install_keys", "string", Str("")),
    // Added by layer-nagios
    ("nagios_context", "string", Str("juju")),
    ("nagios_servicegroups", "string", Str("")),
];

/// Options this charm accepts and ignores (most only served the Docker-container
/// workload): their description must say so plainly.
const IGNORED_OPTIONS: &[&str] = &[
    "registry-image",
    "registry-name",
    "apt-key-server",
    "docker-opts",
    "daemon-opts",
    "enable-cgroups",
    "install_from_upstream",
    "docker_runtime",
    "docker_runtime_repo",
    "docker_runtime_key_url",
    "docker_runtime_package",
    "cuda_repo",
    "nvidia-docker-package",
    "nvidia-container-runtime-package",
    "docker-ce-package",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "storage-s3-skip-v4-auth",
];

/// Every endpoint: (name, role, interface, scope).
const PYTHON_ENDPOINTS: &[(&str, &str, &str, &str)] = &[
    ("docker-registry", "provides", "docker-registry", "global"),
    ("website", "provides", "http", "global"),
    (
        "nrpe-external-master",
        "provides",
        "nrpe-external-master",
        "container",
    ),
    ("cert-provider", "requires", "tls-certificates", "global"),
    ("peer", "peers", "peer-discovery", "global"),
];

/// Endpoints this charm adds (issue 18): a new endpoint breaks no existing integration.
const NEW_ENDPOINTS: &[(&str, &str, &str, &str)] =
    &[("cos-agent", "provides", "cos_agent", "global")];

/// An expected action parameter: (name, JSON-schema type, default).
type Param = (&'static str, &'static str, Def);

/// Every action: (name, params, required).
const PYTHON_ACTIONS: &[(&str, &[Param], &[&str])] = &[
    (
        "images",
        &[
            ("options", "string", Str("")),
            ("repository", "string", Str("")),
        ],
        &[],
    ),
    (
        "push",
        &[
            ("image", "string", Str("")),
            ("pull", "boolean", Bool(true)),
            ("tag", "string", Str("")),
        ],
        &["image"],
    ),
    (
        "rmi",
        &[("options", "string", Str("")), ("image", "string", Str(""))],
        &["image"],
    ),
    ("start", &[("name", "string", Str(""))], &[]),
    (
        "stop",
        &[
            ("name", "string", Str("")),
            ("remove", "boolean", Bool(true)),
        ],
        &[],
    ),
];

// ---------------------------------------------------------------------------------
// File shapes
// ---------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    options: BTreeMap<String, ConfigOption>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigOption {
    #[serde(rename = "type")]
    kind: Option<String>,
    default: Option<Value>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
    summary: Option<String>,
    description: Option<String>,
    #[serde(default)]
    provides: BTreeMap<String, Endpoint>,
    #[serde(default)]
    requires: BTreeMap<String, Endpoint>,
    #[serde(default)]
    peers: BTreeMap<String, Endpoint>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    interface: String,
    scope: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Action {
    description: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, BTreeMap<String, Value>>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(rename = "additionalProperties")]
    additional_properties: Option<bool>,
}

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

fn repo_file(name: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (path, text)
}

fn parse<T: for<'de> Deserialize<'de>>(name: &str) -> (String, T) {
    let (path, text) = repo_file(name);
    let value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid for its format: {e}", path.display()));
    (text, value)
}

/// Fails with every collected problem at once, so one run shows all of them.
fn report(file: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{file}: {} problem(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

/// Whether a YAML value equals the expected default.
fn default_matches(expected: Def, actual: Option<&Value>) -> bool {
    match (expected, actual) {
        (Def::None, None) => true,
        (Def::Str(s), Some(Value::String(v))) => v == s,
        (Def::Int(i), Some(Value::Number(n))) => n.as_i64() == Some(i),
        (Def::Bool(b), Some(Value::Bool(v))) => *v == b,
        (Def::Json(j), Some(Value::String(v))) => {
            let want: Result<serde_json::Value, _> = serde_json::from_str(j);
            let got: Result<serde_json::Value, _> = serde_json::from_str(v);
            matches!((want, got), (Ok(w), Ok(g)) if w == g)
        }
        _ => false,
    }
}

/// Juju's rule for action names and (dotted-key segments of) parameter names:
/// `^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`.
fn is_juju_action_name(name: &str) -> bool {
    let b = name.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && ok(&b[0]) && ok(&b[b.len() - 1]) && b.iter().all(|c| ok(c) || *c == b'-')
}

/// Juju's rule for charm and endpoint names: lowercase letters, digits, hyphens;
/// starts with a letter; no `juju`/`juju-*`.
fn is_juju_entity_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name != "juju"
        && !name.starts_with("juju-")
}

// ---------------------------------------------------------------------------------
// config.yaml
// ---------------------------------------------------------------------------------

#[test]
fn config_has_every_python_option_with_same_type_and_default() {
    let (_, config): (_, ConfigFile) = parse("config.yaml");
    let mut problems = Vec::new();
    for (name, kind, default) in PYTHON_OPTIONS {
        let Some(opt) = config.options.get(*name) else {
            problems.push(format!("option `{name}` is missing (Python charm has it)"));
            continue;
        };
        let got_kind = opt.kind.as_deref().unwrap_or("string");
        if got_kind != *kind {
            problems.push(format!(
                "option `{name}` has type `{got_kind}`, the Python charm's is `{kind}`"
            ));
        }
        if !default_matches(*default, opt.default.as_ref()) {
            problems.push(format!(
                "option `{name}` has default {:?}, the Python charm's is {default:?}",
                opt.default
            ));
        }
    }
    report("config.yaml", problems);
}

#[test]
fn config_is_structurally_valid_for_juju() {
    let (_, config): (_, ConfigFile) = parse("config.yaml");
    let mut problems = Vec::new();
    if config.options.is_empty() {
        problems.push("no options (Juju: `invalid config: empty configuration`)".into());
    }
    for (name, opt) in &config.options {
        let Some(kind) = opt.kind.as_deref() else {
            problems.push(format!(
                "option `{name}` has no `type` (ops testing rejects it)"
            ));
            continue;
        };
        let default_ok = match (kind, opt.default.as_ref()) {
            (_, None) => true,
            ("string" | "secret", Some(v)) => v.is_string(),
            ("int", Some(v)) => v.as_i64().is_some(),
            ("float", Some(v)) => v.is_number(),
            ("boolean", Some(v)) => v.is_bool(),
            (other, _) => {
                problems.push(format!("option `{name}` has unknown type `{other}`"));
                true
            }
        };
        if !default_ok {
            problems.push(format!(
                "option `{name}`: default {:?} is not a {kind}",
                opt.default
            ));
        }
        if opt.description.as_deref().unwrap_or("").trim().is_empty() {
            problems.push(format!("option `{name}` has no description"));
        }
    }
    report("config.yaml", problems);
}

#[test]
fn config_string_defaults_survive_yaml_1_1() {
    // Juju parses YAML 1.1, where bare off/on/yes/no are booleans: a string option
    // written as `default: off` would be rejected as "not a string" at deploy time,
    // even though serde_yaml (YAML 1.2) reads it as a string.
    let (_, text) = repo_file("config.yaml");
    let yaml11_bools = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "Y", "N", "Yes", "No", "On", "Off",
        "YES", "NO", "ON", "OFF",
    ];
    let (_, config): (_, ConfigFile) = parse("config.yaml");
    let mut problems = Vec::new();
    let mut current: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 2 && trimmed.ends_with(':') && !trimmed.starts_with('#') {
            current = Some(trimmed.trim_end_matches(':'));
        }
        if let (Some(opt), Some(raw)) = (current, trimmed.strip_prefix("default:")) {
            let is_string = config
                .options
                .get(opt)
                .is_some_and(|o| o.kind.as_deref().unwrap_or("string") == "string");
            if is_string && yaml11_bools.contains(&raw.trim()) {
                problems.push(format!(
                    "option `{opt}`: bare `default: {}` is a boolean to Juju; quote it",
                    raw.trim()
                ));
            }
        }
    }
    report("config.yaml", problems);
}

#[test]
fn config_docker_only_options_say_they_are_ignored() {
    let (_, config): (_, ConfigFile) = parse("config.yaml");
    let mut problems = Vec::new();
    for name in IGNORED_OPTIONS {
        let desc = config
            .options
            .get(*name)
            .and_then(|o| o.description.as_deref())
            .unwrap_or("");
        if !(desc.contains("Accepted for compatibility") && desc.contains("ignored")) {
            problems.push(format!(
                "option `{name}` only served the Docker engine; its description must say \
                 \"Accepted for compatibility with the Python charm; ignored by this charm because ...\""
            ));
        }
    }
    // Known wrong descriptions of the Python charm must not come back.
    let desc = |n: &str| {
        config
            .options
            .get(n)
            .and_then(|o| o.description.clone())
            .unwrap_or_default()
    };
    if !desc("tls-ca-blob").contains("tls-ca-path") {
        problems.push("`tls-ca-blob` must say it is written to tls-ca-path".into());
    }
    // docs/python-charm-bugs.md#b13: neither value of skip-v4-auth ever asked for v2, so
    // it is ignored and v2 needs the explicit storage-s3-v4auth=false.
    let v4 = desc("storage-s3-skip-v4-auth");
    if !(v4.contains("Accepted for compatibility") && v4.contains("storage-s3-v4auth")) {
        problems.push(
            "`storage-s3-skip-v4-auth` must say it is ignored and that storage-s3-v4auth \
             chooses the signing"
                .into(),
        );
    }
    if !desc("storage-s3-v4auth").contains("Signature Version 4") {
        problems.push("`storage-s3-v4auth` must say it selects Signature Version 4".into());
    }
    report("config.yaml", problems);
}

// ---------------------------------------------------------------------------------
// metadata.yaml
// ---------------------------------------------------------------------------------

#[test]
fn metadata_has_python_identity_and_endpoints() {
    let (_, meta): (_, Metadata) = parse("metadata.yaml");
    let mut problems = Vec::new();
    if meta.name != "docker-registry" {
        problems.push(format!(
            "name is `{}`, must be `docker-registry`",
            meta.name
        ));
    }
    for key in ["summary", "description"] {
        let v = if key == "summary" {
            &meta.summary
        } else {
            &meta.description
        };
        if v.as_deref().unwrap_or("").trim().is_empty() {
            problems.push(format!(
                "`{key}` is missing (charmcraft's linter requires it)"
            ));
        }
    }
    if meta.rest.contains_key("series") {
        problems.push(
            "`series` must not be set: bases come from manifest.yaml (Juju 4 rejects both)".into(),
        );
    }
    if meta.rest.contains_key("subordinate") {
        problems.push("`subordinate` must not be set: this is a principal charm".into());
    }

    let mut declared: BTreeMap<&str, (&str, &Endpoint)> = BTreeMap::new();
    for (role, map) in [
        ("provides", &meta.provides),
        ("requires", &meta.requires),
        ("peers", &meta.peers),
    ] {
        for (name, ep) in map {
            if declared.insert(name, (role, ep)).is_some() {
                problems.push(format!("endpoint `{name}` is declared twice"));
            }
            if !is_juju_entity_name(name) {
                problems.push(format!("endpoint name `{name}` breaks Juju's naming rule"));
            }
            match ep.scope.as_deref() {
                None | Some("global") | Some("container") => {}
                Some(other) => problems.push(format!("endpoint `{name}`: unknown scope `{other}`")),
            }
        }
    }
    for (name, role, interface, scope) in PYTHON_ENDPOINTS.iter().chain(NEW_ENDPOINTS) {
        let Some((got_role, ep)) = declared.remove(name) else {
            problems.push(format!(
                "endpoint `{name}` ({role}, {interface}) is missing"
            ));
            continue;
        };
        let got_scope = ep.scope.as_deref().unwrap_or("global");
        if (got_role, ep.interface.as_str(), got_scope) != (*role, *interface, *scope) {
            problems.push(format!(
                "endpoint `{name}` is {got_role}/{}/{got_scope}, the Python charm's is \
                 {role}/{interface}/{scope}",
                ep.interface
            ));
        }
    }
    for name in declared.keys() {
        problems.push(format!("endpoint `{name}` is not in the Python charm"));
    }
    report("metadata.yaml", problems);
}

// ---------------------------------------------------------------------------------
// actions.yaml
// ---------------------------------------------------------------------------------

/// Optional params this charm adds to the Python charm's actions (issue 15): extra
/// optional params keep every old invocation valid. Any other addition is an error.
const NEW_OPTIONAL_PARAMS: &[(&str, &str)] = &[
    ("push", "src-username"),
    ("push", "src-password"),
    ("push", "src-ca"),
    ("push", "src-tls-verify"),
    ("push", "platform"),
    ("push", "signatures"),
];

#[test]
fn actions_match_python_charm() {
    let (_, actions): (_, BTreeMap<String, Action>) = parse("actions.yaml");
    let mut problems = Vec::new();
    for (name, params, required) in PYTHON_ACTIONS {
        let Some(action) = actions.get(*name) else {
            problems.push(format!("action `{name}` is missing"));
            continue;
        };
        for (pname, ptype, pdefault) in *params {
            let Some(schema) = action.params.get(*pname) else {
                problems.push(format!("action `{name}`: param `{pname}` is missing"));
                continue;
            };
            let got_type = schema
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("(none)");
            if got_type != *ptype {
                problems.push(format!(
                    "action `{name}`: param `{pname}` has type `{got_type}`, expected `{ptype}`"
                ));
            }
            if !default_matches(*pdefault, schema.get("default")) {
                problems.push(format!(
                    "action `{name}`: param `{pname}` has default {:?}, expected {pdefault:?}",
                    schema.get("default")
                ));
            }
        }
        for pname in action.params.keys() {
            let ours = NEW_OPTIONAL_PARAMS.contains(&(*name, pname.as_str()));
            if !ours && !params.iter().any(|(p, _, _)| p == pname) {
                problems.push(format!(
                    "action `{name}`: param `{pname}` is not in the Python charm"
                ));
            }
        }
        let mut want: Vec<&str> = required.to_vec();
        let mut got: Vec<&str> = action.required.iter().map(String::as_str).collect();
        want.sort_unstable();
        got.sort_unstable();
        if want != got {
            problems.push(format!(
                "action `{name}`: required is {got:?}, the Python charm's is {want:?}"
            ));
        }
        if action.additional_properties != Some(false) {
            problems.push(format!(
                "action `{name}`: needs `additionalProperties: false` like the Python charm"
            ));
        }
    }
    report("actions.yaml", problems);
}

#[test]
fn actions_are_structurally_valid_for_juju() {
    let (_, actions): (_, BTreeMap<String, Action>) = parse("actions.yaml");
    let known_types = [
        "string", "boolean", "integer", "number", "array", "object", "null",
    ];
    let mut problems = Vec::new();
    for (name, action) in &actions {
        if !is_juju_action_name(name) || name == "juju" || name.starts_with("juju-") {
            problems.push(format!("action name `{name}` breaks Juju's naming rule"));
        }
        if action
            .description
            .as_deref()
            .unwrap_or("")
            .trim()
            .is_empty()
        {
            problems.push(format!("action `{name}` has no description"));
        }
        for (pname, schema) in &action.params {
            if !is_juju_action_name(pname) {
                problems.push(format!(
                    "action `{name}`: param name `{pname}` breaks Juju's naming rule"
                ));
            }
            match schema.get("type").and_then(Value::as_str) {
                None => problems.push(format!(
                    "action `{name}`: param `{pname}` has no `type` (ops testing rejects it)"
                )),
                Some(t) if !known_types.contains(&t) => problems.push(format!(
                    "action `{name}`: param `{pname}` has unknown type `{t}`"
                )),
                Some(_) => {}
            }
            for forbidden in ["$ref", "$schema"] {
                if schema.contains_key(forbidden) {
                    problems.push(format!(
                        "action `{name}`: param `{pname}` uses `{forbidden}` (Juju rejects it)"
                    ));
                }
            }
        }
        for r in &action.required {
            if !action.params.contains_key(r) {
                problems.push(format!(
                    "action `{name}`: required `{r}` is not a declared param"
                ));
            }
        }
    }
    report("actions.yaml", problems);
}

// ---------------------------------------------------------------------------------
// charmcraft.yaml
// ---------------------------------------------------------------------------------

#[test]
fn charmcraft_yaml_builds_dispatch_and_leaves_metadata_to_the_yaml_files() {
    let (_, cc): (_, BTreeMap<String, Value>) = parse("charmcraft.yaml");
    let mut problems = Vec::new();
    if cc.get("type").and_then(Value::as_str) != Some("charm") {
        problems.push("`type: charm` is required".into());
    }
    // metadata.yaml/config.yaml/actions.yaml exist, so charmcraft refuses the same
    // sections here.
    for key in [
        "name",
        "summary",
        "description",
        "config",
        "actions",
        "provides",
    ] {
        if cc.contains_key(key) {
            problems.push(format!("`{key}` belongs in its own yaml file, not here"));
        }
    }
    let platforms = cc.get("platforms").and_then(Value::as_mapping);
    for want in ["ubuntu@22.04:amd64", "ubuntu@24.04:amd64"] {
        if !platforms.is_some_and(|p| p.contains_key(want)) {
            problems.push(format!("platform `{want}` is missing"));
        }
    }
    let part = cc
        .get("parts")
        .and_then(Value::as_mapping)
        .and_then(|p| p.values().next());
    let get = |k: &str| part.and_then(|p| p.get(k)).and_then(Value::as_str);
    if get("plugin") != Some("nil") {
        problems.push("the part must use `plugin: nil`".into());
    }
    let build = get("override-build").unwrap_or("");
    if !build.contains("cargo build --release") {
        problems.push("override-build must run `cargo build --release`".into());
    }
    if !(build.contains("-m 0755") && build.contains("$CRAFT_PART_INSTALL/dispatch")) {
        problems.push(
            "override-build must install the binary as $CRAFT_PART_INSTALL/dispatch, mode 0755"
                .into(),
        );
    }
    report("charmcraft.yaml", problems);
}

// ---------------------------------------------------------------------------------
// The checker itself must be able to fail.
// ---------------------------------------------------------------------------------

#[test]
fn checks_reject_wrong_values() {
    assert!(!default_matches(
        Def::None,
        Some(&Value::String(String::new()))
    ));
    assert!(!default_matches(Str(""), None));
    assert!(!default_matches(
        Int(5000),
        Some(&Value::String("5000".into()))
    ));
    assert!(!default_matches(Bool(true), Some(&Value::Bool(false))));
    assert!(!default_matches(
        Json(r#"{"a": 1}"#),
        Some(&Value::String(r#"{"a": 2}"#.into()))
    ));
    assert!(default_matches(
        Json(r#"{"a": 1}"#),
        Some(&Value::String("{\n  \"a\": 1\n}\n".into()))
    ));
    assert!(is_juju_action_name("push"));
    assert!(is_juju_action_name("clean-images2"));
    for bad in ["", "-push", "push-", "Push", "push_it", "a.b"] {
        assert!(!is_juju_action_name(bad), "{bad:?} accepted");
    }
    assert!(is_juju_entity_name("nrpe-external-master"));
    for bad in ["juju", "juju-info", "1peer", "peer-", "Peer"] {
        assert!(!is_juju_entity_name(bad), "{bad:?} accepted");
    }
}
