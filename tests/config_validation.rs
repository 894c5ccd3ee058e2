//! Config validation: every error names its option, all problems are reported at once,
//! secrets never leak; TLS bundles from rcgen and from the real `openssl` CLI.

#![recursion_limit = "256"]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use charm::config::{Auth, Cache, CharmConfig, ConfigErrors, LogLevel, Storage};
use charm::tls::{self, San, TlsBundle, TlsSource};
use serde_json::{json, Value};

fn parse(v: Value) -> Result<CharmConfig, ConfigErrors> {
    CharmConfig::from_json(v.as_object().expect("object"))
}

fn errors(v: Value) -> ConfigErrors {
    match parse(v) {
        Ok(c) => panic!("expected errors, got {c:?}"),
        Err(e) => e,
    }
}

/// The Display of the error(s) for `option`.
fn error_for(errs: &ConfigErrors, option: &str) -> String {
    errs.0
        .iter()
        .find(|e| e.option == option)
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("no error for {option} in: {errs}"))
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn defaults_match_the_anchor() {
    let c = parse(json!({})).unwrap();
    assert_eq!(c.auth, Auth::None);
    assert_eq!(c.storage, Storage::Filesystem);
    assert_eq!(c.storage_cache, Cache::InMemory);
    assert_eq!((c.registry_port, c.debug_port), (5000, 5001));
    assert_eq!(c.log_level, LogLevel::Info);
    assert!(c.storage_redirect_disable && !c.storage_delete && !c.storage_read_only);
    assert!(!c.prometheus_metrics && c.proxy.is_none() && c.http_host.is_none());
    assert_eq!(c.registry_image, "registry:2");
    assert_eq!(
        c.tls_paths.cert.as_deref(),
        Some(Path::new("/etc/docker/registry/registry.crt"))
    );
    assert!(c.tls_blobs.is_empty());
}

#[test]
fn config_get_output_with_all_defaults_is_valid() {
    // What `config-get --format=json` prints for a fresh deploy: defaults present, options
    // without a default absent, unknown (layer) options ignored.
    let c = parse(json!({
        "auth-basic-password": "", "auth-basic-user": "admin", "auth-token-issuer": "",
        "auth-token-realm": "", "auth-token-root-certs": "", "auth-token-service": "",
        "cache-password": "", "cache-remoteurl": "", "cache-username": "", "debug-port": 5001,
        "http-host": "", "log-level": "info", "prometheus-metrics": false,
        "registry-image": "registry:2", "registry-name": "registry", "registry-port": 5000,
        "storage-cache": "inmemory", "storage-delete": false, "storage-redirect-disable": true,
        "storage-read-only": false, "storage-swift-authurl": "",
        "storage-swift-container": "docker-registry", "storage-swift-password": "",
        "storage-swift-region": "", "storage-swift-tenant": "", "storage-swift-username": "",
        "storage-swift-domain": "", "storage-s3-forcepathstyle": false,
        "storage-s3-encrypt": false, "storage-s3-secure": true, "storage-s3-skip-verify": false,
        "storage-s3-skip-v4-auth": true, "storage-s3-chunksize": 10485760,
        "storage-s3-multipartcopychunksize": 33554432,
        "storage-s3-multipartcopymaxconcurrency": 100,
        "storage-s3-multipartcopythresholdsize": 33554432,
        "storage-s3-storageclass": "STANDARD", "storage-s3-usedualstack": false,
        "storage-s3-accelerate": false, "storage-s3-objectacl": "private",
        "storage-s3-loglevel": "off", "tls-ca-blob": "", "tls-cert-blob": "", "tls-key-blob": "",
        "tls-ca-path": "/etc/docker/registry/ca.crt",
        "tls-cert-path": "/etc/docker/registry/registry.crt",
        "tls-key-path": "/etc/docker/registry/registry.key",
        "nagios_context": "juju", "docker-opts": "", "some-future-option": 3,
    }))
    .unwrap();
    assert_eq!(c, parse(json!({})).unwrap());
}

#[test]
fn storage_cache_message_is_exact() {
    let e = errors(json!({"storage-cache": "disk"}));
    assert_eq!(e.0.len(), 1);
    assert_eq!(
        e.to_string(),
        "storage-cache: \"disk\" is not one of inmemory, disabled"
    );
    assert_eq!(
        e.status_message(),
        "Invalid charm config: storage-cache: \"disk\" is not one of inmemory, disabled"
    );
}

#[test]
fn all_problems_are_reported_joined_with_semicolons() {
    let e = errors(json!({
        "storage-cache": "disk",
        "log-level": "trace",
        "registry-port": 0,
        "http-host": "registry.example.com:5000",
    }));
    assert_eq!(
        e.options(),
        ["http-host", "log-level", "registry-port", "storage-cache"]
    );
    assert_eq!(e.to_string().matches("; ").count(), 3, "{e}");
    assert!(e.status_message().starts_with("Invalid charm config: "));
}

#[test]
fn types_are_checked() {
    let e = errors(
        json!({"registry-port": "5000", "storage-delete": "yes", "log-level": 3,
                          "storage-s3-chunksize": 1.5}),
    );
    assert_eq!(
        error_for(&e, "registry-port"),
        "registry-port: expected an integer, got a string"
    );
    assert!(error_for(&e, "storage-delete").contains("expected a boolean"));
    assert!(error_for(&e, "log-level").contains("expected a string"));
    assert!(error_for(&e, "storage-s3-chunksize").contains("not an integer"));
}

#[test]
fn ports() {
    for bad in [0, 65536, -1] {
        let e = errors(json!({ "registry-port": bad }));
        assert!(error_for(&e, "registry-port").contains("1..=65535"), "{e}");
    }
    let e = errors(json!({"prometheus-metrics": true, "registry-port": 6000, "debug-port": 6000}));
    assert!(error_for(&e, "debug-port").contains("also registry-port"));
    // Without metrics the debug port is not used, so it may collide.
    assert!(parse(json!({"registry-port": 6000, "debug-port": 6000})).is_ok());
}

#[test]
fn log_level() {
    assert_eq!(
        parse(json!({"log-level": "warn"})).unwrap().log_level,
        LogLevel::Warn
    );
    let e = errors(json!({"log-level": "verbose"}));
    assert_eq!(
        e.to_string(),
        "log-level: \"verbose\" is not one of error, warn, info, debug"
    );
}

#[test]
fn http_host_needs_a_scheme_b35() {
    let e = errors(json!({"http-host": "registry.example.com:5000"}));
    let msg = error_for(&e, "http-host");
    assert!(msg.contains("has no scheme"), "{msg}");
    assert!(msg.contains("https://host[:port]/"), "{msg}");

    let e = errors(json!({"http-host": "https://example.com/docker-registry"}));
    assert!(error_for(&e, "http-host").contains("https://example.com/docker-registry/"));

    let c = parse(json!({"http-host": "https://example.com:8443/docker-registry/"})).unwrap();
    let h = c.http_host.unwrap();
    assert_eq!(h.netloc(), "example.com:8443");
    assert_eq!(h.hostname(), "example.com");
}

/// A host the URL grammar accepts but clients cannot use blocks naming http-host (it used to
/// leave the unit waiting "for an ingress address" and reconcile nothing).
#[test]
fn http_host_with_an_unusable_host_blocks() {
    for bad in [
        "https://registry.example.com./",
        "https://1.2.3/",
        "https://-bad.example.com/",
    ] {
        let e = errors(json!({ "http-host": bad }));
        let msg = error_for(&e, "http-host");
        assert!(msg.contains("bad host"), "{bad}: {msg}");
    }
    assert!(parse(json!({"http-host": "https://[fd00::5]:5000/"})).is_ok());
    assert!(parse(json!({"http-host": "http://10.1.0.5:5000/"})).is_ok());
}

/// Issue 17: an `http-host` the registry accepts but no client can use (a loopback,
/// unspecified or multicast address, localhost) blocks naming it instead of `Ready at
/// [::1]:5000`.
#[test]
fn http_host_no_client_can_use_blocks() {
    for (bad, kind) in [
        ("http://[::1]:5000", "a loopback address"),
        ("http://127.0.0.1:5000/", "a loopback address"),
        ("https://127.8.9.10/", "a loopback address"),
        ("http://[::ffff:127.0.0.1]:5000", "a loopback address"),
        ("http://0.0.0.0:5000", "the unspecified address"),
        ("http://[::]:5000", "the unspecified address"),
        ("http://255.255.255.255/", "the broadcast address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://localhost:5000", "a name for the local machine"),
        ("https://LocalHost/", "a name for the local machine"),
        (
            "https://registry.localhost/",
            "a name for the local machine",
        ),
    ] {
        let e = errors(json!({ "http-host": bad }));
        assert_eq!(e.options(), ["http-host"], "{bad}");
        let msg = error_for(&e, "http-host");
        assert!(
            msg.contains(&format!("is {kind}, which no client can use")),
            "{bad}: {msg}"
        );
    }
    for good in [
        "http://10.1.0.5:5000/",
        "https://registry.example.com/",
        "https://[fd00::5]:5000/",
        "https://localhost-mirror.example.com/",
    ] {
        assert!(parse(json!({ "http-host": good })).is_ok(), "{good}");
    }
}

/// Issue 17: the registry's proxies are proxy URLs as Go reads them; anything else is
/// blocked by name (it was passed on silently and every upstream request failed).
#[test]
fn registry_proxies_must_be_proxy_urls() {
    for good in [
        "http://squid.internal:3128",
        "http://squid.internal:3128/",
        "squid.internal:3128",
        "https://10.0.0.1",
        "socks5://[fd00::1]:1080",
        "http://user:pa%40ss@proxy.example.com:8080",
    ] {
        for key in ["registry-http-proxy", "registry-https-proxy"] {
            let c = parse(json!({ key: good })).unwrap_or_else(|e| panic!("{good}: {e}"));
            let got = match key {
                "registry-http-proxy" => c.registry_http_proxy,
                _ => c.registry_https_proxy,
            };
            assert_eq!(got.as_deref(), Some(good));
        }
    }
    for (bad, why) in [
        ("not a url", "whitespace"),
        ("ftp://proxy:21", "scheme \"ftp\""),
        ("http://", "no host"),
        ("http://proxy:0", "port \"0\""),
        ("http://proxy:99999", "port \"99999\""),
        ("http://proxy/path", "no path"),
        ("http://-proxy-/", "bad host"),
        ("http://[::1:3128", "IPv6"),
    ] {
        let e = errors(json!({ "registry-http-proxy": bad }));
        assert_eq!(e.options(), ["registry-http-proxy"], "{bad}");
        let msg = error_for(&e, "registry-http-proxy");
        assert!(
            msg.contains("is not a proxy URL") && msg.contains(why),
            "{bad}: {msg}"
        );
        assert!(msg.contains("http://squid.internal:3128"), "{msg}");
    }
    // Credentials are never quoted back.
    let e = errors(json!({"registry-https-proxy": "http://u:s3cret pw@proxy:3128"}));
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

/// Issue 17: the nagios options go into file names and the nrpe subordinate's config: a
/// newline, a path separator or a shell character is blocked by name.
#[test]
fn nagios_names_are_validated() {
    let c =
        parse(json!({"nagios_context": "prod-eu_1.x", "nagios_servicegroups": "a, b,c"})).unwrap();
    assert_eq!(c.nagios_context, "prod-eu_1.x");
    assert_eq!(c.nagios_servicegroups, "a, b,c");
    assert!(parse(json!({"nagios_servicegroups": ""})).is_ok());
    assert!(parse(json!({"nagios_context": ""})).is_ok());
    for bad in [
        "juju\ncommand[x]=/bin/sh",
        "../../etc",
        "a/b",
        "a;reboot",
        "$(id)",
        "a b",
        "`id`",
    ] {
        let e = errors(json!({ "nagios_context": bad }));
        assert_eq!(e.options(), ["nagios_context"], "{bad:?}");
        assert!(error_for(&e, "nagios_context").contains("letters, digits"));
        let e = errors(json!({ "nagios_servicegroups": format!("ok,{bad}") }));
        assert_eq!(e.options(), ["nagios_servicegroups"], "{bad:?}");
    }
    let e = errors(json!({"nagios_servicegroups": "a,,b"}));
    assert_eq!(e.options(), ["nagios_servicegroups"]);
}

/// Issue 17: every option config.yaml calls accepted-and-ignored gives a warning when set
/// (registry-name excepted: it names the Python charm's container); the defaults give none.
#[test]
fn every_ignored_option_is_noticed_and_the_defaults_are_not() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.yaml")).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let options = yaml["options"].as_mapping().unwrap();
    let mut defaults = serde_json::Map::new();
    let mut ignored = Vec::new();
    for (name, opt) in options {
        let name = name.as_str().unwrap().to_string();
        let default = &opt["default"];
        let json_default = match default {
            serde_yaml::Value::Bool(b) => json!(b),
            serde_yaml::Value::Number(n) => json!(n.as_i64().unwrap()),
            serde_yaml::Value::String(s) => json!(s),
            _ => continue,
        };
        defaults.insert(name.clone(), json_default);
        let desc = opt["description"].as_str().unwrap_or_default();
        if desc.contains("Accepted for compatibility") && name != "registry-name" {
            ignored.push((name, default.clone()));
        }
    }
    let c = CharmConfig::from_json(&defaults).unwrap();
    assert!(c.ignored.is_empty(), "defaults noticed: {:?}", c.ignored);
    assert!(ignored.len() >= 20, "{ignored:?}");
    for (name, default) in ignored {
        let mut set = defaults.clone();
        let value = match default {
            serde_yaml::Value::Bool(b) => json!(!b),
            _ => json!("something-else"),
        };
        set.insert(name.clone(), value);
        let c = CharmConfig::from_json(&set).unwrap();
        let found: Vec<&str> = c.ignored.iter().map(|i| i.option).collect();
        assert_eq!(found, [name.as_str()], "setting {name}");
        let warning = c.ignored[0].warning();
        assert!(
            warning.starts_with(&format!("{name} is set but ignored")),
            "{warning}"
        );
        assert!(!warning.contains("something-else"), "{warning}");
    }
}

#[test]
fn swift_partial_settings_are_errors_b20() {
    let e = errors(json!({"storage-swift-authurl": "https://keystone:5000/v3"}));
    assert_eq!(
        e.options(),
        ["storage-swift-password", "storage-swift-username"]
    );

    let e = errors(json!({"storage-swift-username": "u", "storage-swift-password": "secretpw"}));
    let msg = error_for(&e, "storage-swift-authurl");
    assert!(
        msg.contains("storage-swift-username, storage-swift-password"),
        "{msg}"
    );
    assert!(!msg.contains("secretpw"));

    let e = errors(
        json!({"storage-swift-authurl": "keystone:5000", "storage-swift-username": "u",
                          "storage-swift-password": "p"}),
    );
    assert!(error_for(&e, "storage-swift-authurl").contains("has no scheme"));
}

#[test]
fn s3_partial_settings_are_errors_b20() {
    let e = errors(json!({"storage-s3-bucket": "b"}));
    assert_eq!(e.options(), ["storage-s3-region"]);
    assert_eq!(
        e.to_string(),
        "storage-s3-region: unset while storage-s3-bucket is set (s3 storage needs \
         storage-s3-region and storage-s3-bucket)"
    );

    let e = errors(json!({"storage-s3-accesskey": "AKIA"}));
    assert_eq!(
        e.options(),
        [
            "storage-s3-bucket",
            "storage-s3-region",
            "storage-s3-secretkey"
        ]
    );
    assert!(!e.to_string().contains("AKIA"));

    let e = errors(json!({"storage-s3-region": "r", "storage-s3-bucket": "b",
                          "storage-s3-secretkey": "topsecret"}));
    assert_eq!(e.options(), ["storage-s3-accesskey"]);
    assert!(!e.to_string().contains("topsecret"));
}

#[test]
fn s3_values() {
    let base = |extra: Value| {
        let mut m = json!({"storage-s3-region": "r", "storage-s3-bucket": "b"});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    let s3 = |c: CharmConfig| match c.storage {
        Storage::S3(s) => s,
        other => panic!("expected s3, got {other:?}"),
    };
    // docs/python-charm-bugs.md#b13: v4 unless storage-s3-v4auth=false asks for v2. The
    // Python charm signed v4 whatever skip-v4-auth said, so neither of its values turns
    // v4 off: an upgraded unit that had `false` keeps v4 (and hears once that it is
    // ignored).
    assert!(s3(parse(base(json!({}))).unwrap()).v4auth);
    let kept = parse(base(json!({"storage-s3-skip-v4-auth": false}))).unwrap();
    assert!(kept
        .ignored
        .iter()
        .any(|i| i.option == "storage-s3-skip-v4-auth"));
    assert!(s3(kept).v4auth);
    assert!(s3(parse(base(json!({"storage-s3-skip-v4-auth": true}))).unwrap()).v4auth);
    assert!(!s3(parse(base(json!({"storage-s3-v4auth": false}))).unwrap()).v4auth);
    let e = errors(base(json!({"storage-s3-v4auth": "no"})));
    assert!(error_for(&e, "storage-s3-v4auth").contains("expected a boolean"));
    // Chunk size: distribution's minimum is 5 MiB.
    assert_eq!(
        s3(parse(base(json!({"storage-s3-chunksize": 5242880}))).unwrap()).chunk_size,
        5242880
    );
    let e = errors(base(json!({"storage-s3-chunksize": 5242879})));
    assert!(error_for(&e, "storage-s3-chunksize").contains("5 MiB"));
    let e = errors(base(json!({"storage-s3-multipartcopymaxconcurrency": 0})));
    assert!(error_for(&e, "storage-s3-multipartcopymaxconcurrency").contains(">= 1"));
    let e = errors(base(json!({"storage-s3-objectacl": "everyone"})));
    assert!(error_for(&e, "storage-s3-objectacl").contains("bucket-owner-full-control"));
    let e = errors(base(json!({"storage-s3-storageclass": "GLACIER"})));
    assert!(error_for(&e, "storage-s3-storageclass").contains("REDUCED_REDUNDANCY"));
    let e = errors(base(json!({"storage-s3-loglevel": "loud"})));
    assert!(error_for(&e, "storage-s3-loglevel").contains("debugwithsigning"));
}

#[test]
fn swift_takes_precedence_over_s3() {
    let c = parse(json!({
        "storage-swift-authurl": "https://keystone:5000/v3", "storage-swift-username": "u",
        "storage-swift-password": "p", "storage-s3-region": "r", "storage-s3-bucket": "b",
    }))
    .unwrap();
    assert!(matches!(c.storage, Storage::Swift(_)));
}

#[test]
fn auth() {
    let c = parse(json!({"auth-basic-password": "pw"})).unwrap();
    assert!(matches!(c.auth, Auth::Basic { ref user, .. } if user == "admin"));
    let e = errors(json!({"auth-basic-user": "", "auth-basic-password": "pw"}));
    assert_eq!(e.options(), ["auth-basic-user"]);
    let long = "x".repeat(73);
    let e = errors(json!({"auth-basic-password": long}));
    assert!(error_for(&e, "auth-basic-password").contains("72 bytes"));
    assert!(!e.to_string().contains(&long));
    let e = errors(json!({"auth-basic-user": "a:b", "auth-basic-password": "pw"}));
    assert!(error_for(&e, "auth-basic-user").contains("':'"));
}

/// Issue 17: a user with no password was an open registry; it fails closed, naming the
/// missing password (the default user without a password is still "no auth").
#[test]
fn basic_auth_without_a_password_fails_closed() {
    let e = errors(json!({"auth-basic-user": "alice"}));
    assert_eq!(e.options(), ["auth-basic-password"]);
    assert_eq!(
        e.to_string(),
        "auth-basic-password: empty while auth-basic-user is \"alice\" (set the password, \
         or reset auth-basic-user to leave auth off)"
    );
    let e = errors(json!({"auth-basic-user": "alice", "auth-basic-password": ""}));
    assert_eq!(e.options(), ["auth-basic-password"]);
    assert_eq!(
        parse(json!({"auth-basic-user": "admin"})).unwrap().auth,
        Auth::None
    );
    assert_eq!(
        parse(json!({"auth-basic-user": ""})).unwrap().auth,
        Auth::None
    );
    // With token auth on, a leftover user name is not a half-set basic auth.
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let token = parse(json!({
        "auth-basic-user": "alice", "auth-token-issuer": "iss",
        "auth-token-realm": "https://auth/token", "auth-token-service": "svc",
        "auth-token-root-certs": b64(pem),
    }))
    .unwrap();
    assert!(matches!(token.auth, Auth::Token { .. }));
}

#[test]
fn token_auth() {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let full = json!({
        "auth-token-issuer": "iss", "auth-token-realm": "https://auth/token",
        "auth-token-service": "svc", "auth-token-root-certs": b64(pem),
    });
    let c = parse(full.clone()).unwrap();
    assert!(matches!(c.auth, Auth::Token { ref root_certs_pem, .. } if root_certs_pem == pem));

    let e = errors(json!({"auth-token-issuer": "iss", "auth-token-realm": "https://auth/token"}));
    assert_eq!(e.options(), ["auth-token-root-certs", "auth-token-service"]);

    let e = errors(json!({
        "auth-token-issuer": "iss", "auth-token-realm": "https://auth/token",
        "auth-token-service": "svc", "auth-token-root-certs": b64("not a pem"),
    }));
    assert_eq!(e.options(), ["auth-token-root-certs"]);

    let mut both = full;
    both["auth-basic-password"] = json!("pw");
    let e = errors(both);
    assert!(error_for(&e, "auth-basic-password").contains("only one auth method"));
}

#[test]
fn cache_proxy() {
    let c = parse(json!({"cache-remoteurl": "http://127.0.0.1:5001"})).unwrap();
    assert_eq!(c.proxy.unwrap().remote_url.netloc(), "127.0.0.1:5001");
    let e = errors(json!({"cache-remoteurl": "registry-1.docker.io"}));
    assert!(error_for(&e, "cache-remoteurl").contains("has no scheme"));
    // A scheme-less URL with credentials: the status names the problem, not the password.
    let e = errors(json!({"cache-remoteurl": "user:s3cret-pw@registry.example.com"}));
    let msg = error_for(&e, "cache-remoteurl");
    assert!(msg.contains("has no scheme"), "{msg}");
    assert!(!e.to_string().contains("s3cret-pw"), "{e}");
    let e = errors(json!({"cache-remoteurl": "https://r", "cache-password": "hidden-pw"}));
    assert_eq!(e.options(), ["cache-username"]);
    assert!(!e.to_string().contains("hidden-pw"));
    let e = errors(json!({"cache-username": "u"}));
    assert_eq!(e.options(), ["cache-remoteurl"]);
}

#[test]
fn tls_paths_b38() {
    let e = errors(json!({"tls-cert-path": "", "tls-cert-blob": b64("x")}));
    assert_eq!(
        error_for(&e, "tls-cert-path"),
        "tls-cert-path: empty while tls-cert-blob is set (set an absolute path, e.g. \
         /etc/docker/registry/registry.crt)"
    );
    // Empty without a blob just means "no such file".
    assert_eq!(
        parse(json!({"tls-ca-path": ""})).unwrap().tls_paths.ca,
        None
    );
    let e = errors(json!({"tls-key-path": "registry.key"}));
    assert!(error_for(&e, "tls-key-path").contains("not an absolute path"));
    let e = errors(json!({"tls-key-path": "/etc/docker/registry/registry.crt"}));
    assert!(error_for(&e, "tls-key-path").contains("same path as tls-cert-path"));
}

#[test]
fn blob_decode_errors_name_the_option_not_the_value() {
    let e = errors(json!({"tls-key-blob": "%%%SECRET-KEY-MATERIAL%%%"}));
    let msg = error_for(&e, "tls-key-blob");
    assert!(msg.contains("not valid base64"), "{msg}");
    assert!(!msg.contains("SECRET"), "{msg}");
}

#[test]
fn secrets_never_appear_in_errors_or_debug() {
    let secrets = [
        "pw-basic-123",
        "pw-cache-123",
        "pw-swift-123",
        "ak-s3-123",
        "sk-s3-123",
    ];
    let v = json!({
        "auth-basic-password": secrets[0], "cache-remoteurl": "https://r",
        "cache-password": secrets[1], "storage-swift-password": secrets[2],
        "storage-s3-accesskey": secrets[3], "storage-s3-secretkey": secrets[4],
    });
    let e = errors(v.clone());
    let shown = format!("{e} {e:?}");
    for s in secrets {
        assert!(!shown.contains(s), "{s} leaked: {shown}");
    }
    // A valid config with secrets: Debug redacts them.
    let ok = parse(json!({
        "auth-basic-password": secrets[0], "cache-remoteurl": "https://r",
        "cache-username": "u", "cache-password": secrets[1],
        "storage-s3-region": "r", "storage-s3-bucket": "b",
        "storage-s3-accesskey": secrets[3], "storage-s3-secretkey": secrets[4],
    }))
    .unwrap();
    let dbg = format!("{ok:?}");
    for s in secrets {
        assert!(!dbg.contains(s), "{s} leaked: {dbg}");
    }
}

// ---- TLS -----------------------------------------------------------------------------

struct Ca {
    cert: rcgen::Certificate,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    let cert = p.self_signed(&key).unwrap();
    Ca {
        cert,
        issuer: rcgen::Issuer::new(p, key),
    }
}

fn leaf(ca: &Ca, not_after_days: i64) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p =
        rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "registry.test".into()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(not_after_days);
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn bundle(ca: Option<&str>, cert: &str, key: &str) -> Result<Option<TlsBundle>, tls::TlsError> {
    tls::from_blobs(
        ca.map(b64).as_deref().unwrap_or(""),
        &b64(cert),
        &b64(key),
        now(),
    )
}

#[test]
fn tls_good_bundle_from_rcgen() {
    let ca = ca("Test CA");
    let (cert, key) = leaf(&ca, 30);
    let b = bundle(Some(&ca.cert.pem()), &cert, &key).unwrap().unwrap();
    assert!(b.cert.as_str().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(b.key.expose().starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!format!("{b:?}").contains("PRIVATE KEY"));
    assert_eq!(
        b.cert_sans(),
        vec![
            San::Ip("127.0.0.1".parse().unwrap()),
            San::Dns("registry.test".into())
        ]
    );
    // Without a CA the pair alone is fine.
    assert!(bundle(None, &cert, &key).unwrap().is_some());
}

#[test]
fn tls_all_empty_is_none() {
    assert_eq!(tls::from_blobs("", "", "", now()).unwrap(), None);
}

#[test]
fn tls_half_set_names_the_missing_option() {
    let ca = ca("Test CA");
    let (cert, key) = leaf(&ca, 30);
    let e = tls::from_blobs("", &b64(&cert), "", now()).unwrap_err();
    assert_eq!(e.option, "tls-key-blob");
    let e = tls::from_blobs("", "", &b64(&key), now()).unwrap_err();
    assert_eq!(e.option, "tls-cert-blob");
    let e = tls::from_blobs(&b64(&ca.cert.pem()), "", "", now()).unwrap_err();
    assert_eq!(e.option, "tls-cert-blob");
}

#[test]
fn tls_swapped_key() {
    let ca = ca("Test CA");
    let (cert, _) = leaf(&ca, 30);
    let (_, other_key) = leaf(&ca, 30);
    let e = bundle(Some(&ca.cert.pem()), &cert, &other_key).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tls-key-blob: private key does not match the certificate in tls-cert-blob \
         (provide the key the certificate was issued for)"
    );
    assert!(!e.to_string().contains("BEGIN"));
}

#[test]
fn tls_expired_and_not_yet_valid() {
    let ca = ca("Test CA");
    let (cert, key) = leaf(&ca, 30);
    let later = now() + Duration::from_secs(60 * 86400);
    let e = tls::from_blobs("", &b64(&cert), &b64(&key), later).unwrap_err();
    assert_eq!(e.option, "tls-cert-blob");
    assert!(e.problem.contains("expired"), "{e}");
    let earlier = now() - Duration::from_secs(3 * 86400);
    let e = tls::from_blobs("", &b64(&cert), &b64(&key), earlier).unwrap_err();
    assert!(e.problem.contains("not valid before"), "{e}");
}

#[test]
fn tls_wrong_ca() {
    let ca1 = ca("Test CA");
    let (cert, key) = leaf(&ca1, 30);
    let other = ca("Other CA");
    let e = bundle(Some(&other.cert.pem()), &cert, &key).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("tls-cert-blob: certificate is not signed by the CA in tls-ca-blob"));
    // Same name, different key: the signature check catches the impostor.
    let impostor = ca("Test CA");
    let e = bundle(Some(&impostor.cert.pem()), &cert, &key).unwrap_err();
    assert!(e.problem.contains("not signed by the CA"), "{e}");
}

#[test]
fn tls_intermediate_chain() {
    let root = ca("Root CA");
    let ikey = rcgen::KeyPair::generate().unwrap();
    let mut ip = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ip.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ip.distinguished_name
        .push(rcgen::DnType::CommonName, "Intermediate");
    let icert = ip.signed_by(&ikey, &root.issuer).unwrap();
    let inter = Ca {
        cert: icert,
        issuer: rcgen::Issuer::new(ip, ikey),
    };
    let (cert, key) = leaf(&inter, 30);
    let chain = format!("{cert}{}", inter.cert.pem());
    assert!(bundle(Some(&root.cert.pem()), &chain, &key)
        .unwrap()
        .is_some());
    // Without the intermediate the leaf does not chain to the root.
    assert!(bundle(Some(&root.cert.pem()), &cert, &key).is_err());
}

#[test]
fn tls_garbage() {
    let e = tls::from_blobs("", "!!!not base64!!!", &b64("k"), now()).unwrap_err();
    assert_eq!(e.option, "tls-cert-blob");
    assert!(e.problem.contains("base64"));
    let e = tls::from_blobs("", &b64("hello"), &b64("world"), now()).unwrap_err();
    assert_eq!(e.to_string().split(':').next(), Some("tls-cert-blob"));
    let ca = ca("Test CA");
    let (cert, _) = leaf(&ca, 30);
    let e = tls::from_blobs("", &b64(&cert), &b64("no key here"), now()).unwrap_err();
    assert_eq!(e.option, "tls-key-blob");
    let e = tls::from_blobs("not-b64!", &b64(&cert), &b64("x"), now()).unwrap_err();
    assert_eq!(e.option, "tls-ca-blob");
}

#[test]
fn tls_errors_reported_with_config_errors() {
    let ca = ca("Test CA");
    let (cert, _) = leaf(&ca, 30);
    let m = json!({"storage-cache": "disk", "tls-cert-blob": b64(&cert)});
    let e = CharmConfig::from_json_with_tls(m.as_object().unwrap(), now()).unwrap_err();
    assert_eq!(e.options(), ["storage-cache", "tls-key-blob"]);
    let (_, key) = leaf(&ca, 30);
    let (cert2, key2) = leaf(&ca, 30);
    drop(key);
    let m = json!({"tls-cert-blob": b64(&cert2), "tls-key-blob": b64(&key2),
                   "tls-ca-blob": b64(&ca.cert.pem())});
    let (_, b) = CharmConfig::from_json_with_tls(m.as_object().unwrap(), now()).unwrap();
    assert!(b.unwrap().ca.is_some());
}

#[test]
fn cert_provider_errors_use_relation_names() {
    let ca = ca("Test CA");
    let (cert, _) = leaf(&ca, 30);
    let e =
        TlsBundle::from_pems(None, Some(&cert), None, now(), TlsSource::CertProvider).unwrap_err();
    assert_eq!(e.option, "cert-provider key");
}

// ---- TLS material from the real openssl CLI --------------------------------------------

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

/// A CA and a server certificate made with the openssl CLI; `key_cmd` makes server.key.
fn openssl_pki(dir: &Path, key_args: &[&str]) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "365",
            "-subj",
            "/CN=Test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    openssl(dir, key_args);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "server.key",
            "-subj",
            "/CN=registry.test",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:registry.test\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
}

#[test]
fn openssl_rsa_pkcs8_bundle() {
    let d = tempfile::tempdir().unwrap();
    openssl_pki(
        d.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "server.key",
        ],
    );
    let (ca, cert, key) = (
        read(d.path(), "ca.crt"),
        read(d.path(), "server.crt"),
        read(d.path(), "server.key"),
    );
    assert!(key.contains("BEGIN PRIVATE KEY"));
    let b = bundle(Some(&ca), &cert, &key).unwrap().unwrap();
    assert_eq!(b.cert_sans().len(), 2);
    // The normalised cert is the same DER openssl wrote.
    let f = d.path().join("norm.crt");
    std::fs::write(&f, b.cert.as_str()).unwrap();
    assert_eq!(
        openssl(
            d.path(),
            &["x509", "-in", "norm.crt", "-noout", "-fingerprint"]
        ),
        openssl(
            d.path(),
            &["x509", "-in", "server.crt", "-noout", "-fingerprint"]
        )
    );
    // Swapped key from openssl is caught too.
    let e = bundle(Some(&ca), &cert, &read(d.path(), "ca.key")).unwrap_err();
    assert_eq!(e.option, "tls-key-blob");
    // openssl signed it for 30 days: 60 days on it is expired.
    let later = now() + Duration::from_secs(60 * 86400);
    let e = tls::from_blobs(&b64(&ca), &b64(&cert), &b64(&key), later).unwrap_err();
    assert!(e.problem.contains("expired"), "{e}");
    // Another CA with the very same name did not sign it.
    let o = tempfile::tempdir().unwrap();
    openssl(
        o.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "365",
            "-subj",
            "/CN=Test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    let e = bundle(Some(&read(o.path(), "ca.crt")), &cert, &key).unwrap_err();
    assert_eq!(
        e.to_string().split(" (").next(),
        Some("tls-cert-blob: certificate is not signed by the CA in tls-ca-blob")
    );
}

#[test]
fn real_easyrsa_bundle() {
    let d = tempfile::tempdir().unwrap();
    let pki = d.path().join("pki");
    let easyrsa = |args: &[&str]| {
        let out = Command::new("/usr/share/easy-rsa/easyrsa")
            .args(args)
            .current_dir(d.path())
            .env("EASYRSA_PKI", &pki)
            .env("EASYRSA_BATCH", "1")
            .output()
            .expect("easy-rsa must be installed");
        assert!(
            out.status.success(),
            "easyrsa {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    easyrsa(&["init-pki"]);
    easyrsa(&["--req-cn=Test CA", "build-ca", "nopass"]);
    easyrsa(&[
        "--subject-alt-name=IP:127.0.0.1,DNS:registry.test",
        "build-server-full",
        "registry.test",
        "nopass",
    ]);
    let cert = read(&pki, "issued/registry.test.crt");
    assert!(cert.starts_with("Certificate:"), "{}", &cert[..20]);
    let b = bundle(
        Some(&read(&pki, "ca.crt")),
        &cert,
        &read(&pki, "private/registry.test.key"),
    )
    .unwrap()
    .unwrap();
    assert!(b.cert.as_str().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(b.cert_sans().len(), 2);
}

#[test]
fn openssl_rsa_pkcs1_key() {
    let d = tempfile::tempdir().unwrap();
    openssl_pki(
        d.path(),
        &["genrsa", "-traditional", "-out", "server.key", "2048"],
    );
    let key = read(d.path(), "server.key");
    assert!(key.contains("BEGIN RSA PRIVATE KEY"), "{}", &key[..40]);
    let b = bundle(
        Some(&read(d.path(), "ca.crt")),
        &read(d.path(), "server.crt"),
        &key,
    )
    .unwrap()
    .unwrap();
    // Stored as PKCS#8, which openssl reads back as the same key.
    std::fs::write(d.path().join("k8.pem"), b.key.expose()).unwrap();
    assert_eq!(
        openssl(d.path(), &["pkey", "-in", "k8.pem", "-pubout"]),
        openssl(d.path(), &["pkey", "-in", "server.key", "-pubout"])
    );
}

#[test]
fn openssl_ec_sec1_key() {
    let d = tempfile::tempdir().unwrap();
    openssl_pki(
        d.path(),
        &[
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-noout",
            "-out",
            "server.key",
        ],
    );
    let key = read(d.path(), "server.key");
    assert!(key.contains("BEGIN EC PRIVATE KEY"));
    assert!(bundle(
        Some(&read(d.path(), "ca.crt")),
        &read(d.path(), "server.crt"),
        &key
    )
    .unwrap()
    .is_some());
}

#[test]
fn openssl_encrypted_key_is_refused_with_a_fix() {
    let d = tempfile::tempdir().unwrap();
    openssl_pki(
        d.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "server.key",
        ],
    );
    openssl(
        d.path(),
        &[
            "pkey",
            "-in",
            "server.key",
            "-aes256",
            "-passout",
            "pass:x",
            "-out",
            "enc.key",
        ],
    );
    let e = bundle(
        None,
        &read(d.path(), "server.crt"),
        &read(d.path(), "enc.key"),
    )
    .unwrap_err();
    assert_eq!(e.option, "tls-key-blob");
    assert!(e.to_string().contains("encrypted"), "{e}");
    assert!(e.to_string().contains("openssl pkey"), "{e}");
}

#[test]
fn easyrsa_style_text_preamble_is_skipped() {
    let d = tempfile::tempdir().unwrap();
    openssl_pki(
        d.path(),
        &["genpkey", "-algorithm", "RSA", "-out", "server.key"],
    );
    // `openssl x509 -text` prints the dump, then the PEM: like easyrsa's issued certs.
    let texty = openssl(d.path(), &["x509", "-in", "server.crt", "-text"]);
    assert!(texty.starts_with("Certificate:"), "{}", &texty[..20]);
    assert!(tls::strip_to_pem(&texty).starts_with("-----BEGIN CERTIFICATE-----"));
    let b = bundle(
        Some(&read(d.path(), "ca.crt")),
        &texty,
        &read(d.path(), "server.key"),
    )
    .unwrap()
    .unwrap();
    assert!(!b.cert.as_str().contains("Certificate:"));
    assert!(b.cert.as_str().starts_with("-----BEGIN CERTIFICATE-----"));
}

// ---- key, CSR, SANs --------------------------------------------------------------------

#[test]
fn generated_key_and_csr() {
    use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509CertificationRequest};
    let key = tls::generate_key().unwrap();
    assert!(key.expose().starts_with("-----BEGIN PRIVATE KEY-----"));
    let sans = vec![
        San::Ip("10.5.0.12".parse().unwrap()),
        San::Dns("juju-1a2b3c-0".into()),
    ];
    let csr = tls::csr(&key, "10.5.0.12", &sans).unwrap();
    assert!(csr
        .as_str()
        .starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            csr.as_str()
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let (_, req) = X509CertificationRequest::from_der(&der).unwrap();
    req.verify_signature().unwrap();
    let cn = req
        .certification_request_info
        .subject
        .iter_common_name()
        .next()
        .unwrap();
    assert_eq!(cn.as_str().unwrap(), "10.5.0.12");
    let mut found = Vec::new();
    for ext in req.requested_extensions().unwrap() {
        if let ParsedExtension::SubjectAlternativeName(s) = ext {
            for n in &s.general_names {
                match n {
                    GeneralName::DNSName(d) => found.push(d.to_string()),
                    GeneralName::IPAddress(b) => found.push(format!("{b:?}")),
                    _ => {}
                }
            }
        }
    }
    assert_eq!(found, ["[10, 5, 0, 12]", "juju-1a2b3c-0"]);
    // openssl agrees the CSR is well-formed and self-signed correctly.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("r.csr"), csr.as_str()).unwrap();
    openssl(d.path(), &["req", "-in", "r.csr", "-verify", "-noout"]);
}

#[test]
fn sans_are_sorted_and_deduplicated() {
    let ip = |s: &str| s.parse().unwrap();
    let (sans, skipped) = tls::compute_sans(
        &[ip("10.5.0.12")],
        &[ip("10.5.0.12"), ip("192.168.1.2")],
        Some("Registry.Example.com"),
        &[
            "10.5.0.99".parse().unwrap(),
            "registry.example.com".parse().unwrap(),
        ],
        "juju-1a2b3c-0",
    );
    assert!(skipped.is_empty(), "{skipped:?}");
    let shown: Vec<String> = sans.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "10.5.0.12",
            "10.5.0.99",
            "192.168.1.2",
            "juju-1a2b3c-0",
            "registry.example.com"
        ]
    );
    assert!("bad name!".parse::<San>().is_err());
    let (_, skipped) = tls::compute_sans(&[], &[], Some("bad name!"), &[], "host");
    assert_eq!(skipped.len(), 1, "a bad name is left out and said why");
    assert_eq!(skipped[0].0, "bad name!");
    assert!("*.example.com".parse::<San>().is_ok());
    assert_eq!("::1".parse::<San>().unwrap(), San::Ip(ip("::1")));
}
