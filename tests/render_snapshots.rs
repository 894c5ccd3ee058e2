//! Snapshot tests of the rendered registry `config.yml`, one per option family, plus
//! YAML round-trip checks and real `docker-registry serve` start-up checks. Bug numbers
//! (B13, B23, ...) are entries of docs/python-charm-bugs.md.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use charm::config::{CharmConfig, Secret};
use charm::render::{render_registry_config, RegistryConfigInputs, TlsFiles};
use serde_json::{json, Value};
use support::net::PrivateLoopback;
use support::wait::eventually;

fn config(v: Value) -> CharmConfig {
    match CharmConfig::from_json(v.as_object().expect("object")) {
        Ok(c) => c,
        Err(e) => panic!("config should be valid: {e}"),
    }
}

/// Inputs as the charm passes them on a leader that has set the http secret.
fn inputs<'a>(cfg: &'a CharmConfig, secret: &'a Secret) -> RegistryConfigInputs<'a> {
    RegistryConfigInputs {
        config: cfg,
        app_name: "docker-registry",
        http_secret: Some(secret),
        tls: None,
        htpasswd_path: Some(Path::new("/etc/docker/registry/htpasswd")),
        token_pem_path: Some(Path::new("/etc/docker/registry/auth_token.pem")),
        storage_root: Path::new("/srv/registry"),
        listen_port: cfg.registry_port,
    }
}

/// Renders and checks the result is valid YAML; returns the text and the parsed value.
fn render(i: &RegistryConfigInputs<'_>) -> (String, serde_yaml::Value) {
    let text = render_registry_config(i).expect("render");
    let parsed: serde_yaml::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("rendered config is not YAML: {e}\n{text}"));
    (text, parsed)
}

fn snap(name: &str, v: Value) -> serde_yaml::Value {
    let cfg = config(v);
    let secret = Secret::new("leader-http-secret");
    let (text, parsed) = render(&inputs(&cfg, &secret));
    insta::assert_snapshot!(name, text);
    parsed
}

#[test]
fn defaults() {
    let y = snap("defaults", json!({}));
    assert_eq!(y["version"].as_str(), Some("0.1"));
    assert_eq!(y["http"]["addr"].as_str(), Some(":5000"));
    assert_eq!(
        y["storage"]["filesystem"]["rootdirectory"].as_str(),
        Some("/srv/registry")
    );
    assert!(y.get("auth").is_none());
    assert!(y["http"].get("tls").is_none());
    assert!(y["http"].get("debug").is_none());
}

#[test]
fn basic_auth() {
    let y = snap(
        "basic_auth",
        json!({"auth-basic-user": "admin", "auth-basic-password": "pa\"ss:#word"}),
    );
    assert_eq!(
        y["auth"]["htpasswd"]["realm"].as_str(),
        Some("docker-registry")
    );
    // The password lives only in the htpasswd file, never in config.yml.
    assert!(!serde_yaml::to_string(&y).unwrap().contains("pa\\\"ss"));
}

#[test]
fn token_auth() {
    use base64::Engine as _;
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let y = snap(
        "token_auth",
        json!({
            "auth-token-issuer": "auth-issuer",
            "auth-token-realm": "https://auth.example.com/token",
            "auth-token-service": "registry.example.com",
            "auth-token-root-certs": base64::engine::general_purpose::STANDARD.encode(pem),
        }),
    );
    assert_eq!(
        y["auth"]["token"]["rootcertbundle"].as_str(),
        Some("/etc/docker/registry/auth_token.pem")
    );
}

#[test]
fn tls() {
    let cfg = config(json!({"tls-cert-path": "/etc/docker/registry/custom.crt"}));
    let secret = Secret::new("leader-http-secret");
    let mut i = inputs(&cfg, &secret);
    i.tls = Some(TlsFiles {
        cert: Path::new("/etc/docker/registry/custom.crt"),
        key: Path::new("/etc/docker/registry/registry.key"),
        client_cas: &[],
    });
    let (text, y) = render(&i);
    insta::assert_snapshot!("tls", text);
    assert_eq!(
        y["http"]["tls"]["certificate"].as_str(),
        Some("/etc/docker/registry/custom.crt")
    );
    // B23: a CA never turns on client certificate verification.
    assert!(y["http"]["tls"].get("clientcas").is_none());
}

/// tls-client-ca (or the Python charm's demand kept, B23): the registry demands client
/// certificates chaining to the CA file, or being the unit's own client certificate.
#[test]
fn tls_client_ca() {
    let cfg = config(json!({}));
    let secret = Secret::new("leader-http-secret");
    let mut i = inputs(&cfg, &secret);
    let client_cas = [
        PathBuf::from("/etc/docker/registry/client-ca.crt"),
        PathBuf::from("/etc/docker/registry/charm-client.crt"),
    ];
    i.tls = Some(TlsFiles {
        cert: Path::new("/etc/docker/registry/registry.crt"),
        key: Path::new("/etc/docker/registry/registry.key"),
        client_cas: &client_cas,
    });
    let (text, y) = render(&i);
    insta::assert_snapshot!("tls_client_ca", text);
    assert_eq!(
        y["http"]["tls"]["clientcas"][0].as_str(),
        Some("/etc/docker/registry/client-ca.crt")
    );
}

#[test]
fn http_host() {
    let y = snap(
        "http_host",
        json!({"http-host": "https://registry.example.com:8443/docker-registry/"}),
    );
    assert_eq!(
        y["http"]["host"].as_str(),
        Some("https://registry.example.com:8443/docker-registry/")
    );
}

#[test]
fn s3_full() {
    let y = snap(
        "s3_full",
        json!({
            "storage-s3-region": "us-east-1",
            "storage-s3-bucket": "images",
            "storage-s3-accesskey": "AKIAEXAMPLE",
            "storage-s3-secretkey": "se\"cret:#key",
            "storage-s3-regionendpoint": "http://127.0.0.1:9000",
            "storage-s3-forcepathstyle": true,
            "storage-s3-encrypt": true,
            "storage-s3-keyid": "kms-key-1",
            "storage-s3-secure": false,
            "storage-s3-skip-verify": true,
            "storage-s3-v4auth": false,
            "storage-s3-chunksize": 20971520,
            "storage-s3-multipartcopychunksize": 33554432,
            "storage-s3-multipartcopymaxconcurrency": 50,
            "storage-s3-multipartcopythresholdsize": 67108864,
            "storage-s3-rootdirectory": "/registry",
            "storage-s3-storageclass": "REDUCED_REDUNDANCY",
            "storage-s3-useragent": "charm/1.0",
            "storage-s3-usedualstack": true,
            "storage-s3-accelerate": true,
            "storage-s3-objectacl": "bucket-owner-full-control",
            "storage-s3-loglevel": "debug",
        }),
    );
    let s3 = &y["storage"]["s3"];
    assert_eq!(s3["secretkey"].as_str(), Some("se\"cret:#key"));
    // B13: storage-s3-v4auth=false, the explicit request, turns v4 signing off;
    // B14: objectacl is rendered.
    assert_eq!(s3["v4auth"].as_bool(), Some(false));
    assert_eq!(s3["objectacl"].as_str(), Some("bucket-owner-full-control"));
    assert_eq!(s3["chunksize"].as_u64(), Some(20971520));
    assert!(y["storage"].get("filesystem").is_none());
}

#[test]
fn s3_skip_v4_auth_default_keeps_v4auth() {
    let cfg = config(json!({"storage-s3-region": "r", "storage-s3-bucket": "b"}));
    let secret = Secret::new("s");
    let (_, y) = render(&inputs(&cfg, &secret));
    assert_eq!(y["storage"]["s3"]["v4auth"].as_bool(), Some(true));
    // An operator who set skip-v4-auth=false under the Python charm (which signed v4
    // anyway) keeps v4 after the upgrade (docs/python-charm-bugs.md#b13).
    let upgraded = config(json!({"storage-s3-region": "r", "storage-s3-bucket": "b",
                                 "storage-s3-skip-v4-auth": false}));
    let (_, y) = render(&inputs(&upgraded, &secret));
    assert_eq!(y["storage"]["s3"]["v4auth"].as_bool(), Some(true));
    assert_eq!(y["storage"]["s3"]["objectacl"].as_str(), Some("private"));
    assert!(y["storage"]["s3"].get("accesskey").is_none());
}

#[test]
fn swift() {
    let y = snap(
        "swift",
        json!({
            "storage-swift-authurl": "https://keystone.example.com:5000/v3",
            "storage-swift-username": "registry",
            "storage-swift-password": "sw\"ift\npass",
            "storage-swift-region": "RegionOne",
            "storage-swift-tenant": "services",
            "storage-swift-domain": "Default",
            // Swift wins over a complete s3 configuration (as in the Python charm).
            "storage-s3-region": "us-east-1",
            "storage-s3-bucket": "images",
        }),
    );
    assert_eq!(
        y["storage"]["swift"]["password"].as_str(),
        Some("sw\"ift\npass")
    );
    assert_eq!(
        y["storage"]["swift"]["container"].as_str(),
        Some("docker-registry")
    );
    assert!(y["storage"].get("s3").is_none());
    // The temp-URL key follows the shared secret: the same on every unit, never the
    // secret itself.
    let key = |secret: &str| {
        let cfg = config(json!({
            "storage-swift-authurl": "http://swift.example:8080/auth/v1.0",
            "storage-swift-username": "test:tester",
            "storage-swift-password": "testing",
        }));
        let secret = Secret::new(secret);
        let (_, y) = render(&inputs(&cfg, &secret));
        y["storage"]["swift"]["secretkey"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(key("shared"), key("shared"));
    assert_ne!(key("shared"), key("another"));
    assert!(!key("shared").contains("shared"));
}

#[test]
fn cache_proxy() {
    let y = snap(
        "cache_proxy",
        json!({
            "cache-remoteurl": "https://registry-1.docker.io",
            "cache-username": "mirror",
            "cache-password": "p#a:s\"s",
            "storage-cache": "disabled",
        }),
    );
    assert_eq!(y["proxy"]["password"].as_str(), Some("p#a:s\"s"));
    assert!(y["storage"].get("cache").is_none());
}

#[test]
fn read_only_and_delete() {
    let y = snap(
        "read_only_delete",
        json!({"storage-read-only": true, "storage-delete": true, "storage-redirect-disable": false}),
    );
    assert_eq!(
        y["storage"]["maintenance"]["readonly"]["enabled"].as_bool(),
        Some(true)
    );
    assert_eq!(y["storage"]["delete"]["enabled"].as_bool(), Some(true));
    assert_eq!(y["storage"]["redirect"]["disable"].as_bool(), Some(false));
}

#[test]
fn prometheus() {
    let y = snap(
        "prometheus",
        json!({"prometheus-metrics": true, "debug-port": 5011, "registry-port": 5010}),
    );
    assert_eq!(y["http"]["addr"].as_str(), Some(":5010"));
    // B27: the debug server (pprof, expvar beside /metrics) on loopback only; the charm's
    // metrics proxy serves /metrics alone on the ingress address.
    assert_eq!(y["http"]["debug"]["addr"].as_str(), Some("127.0.0.1:5011"));
    assert_eq!(
        y["http"]["debug"]["prometheus"]["path"].as_str(),
        Some("/metrics")
    );
}

#[test]
fn log_level() {
    let y = snap("log_level", json!({"log-level": "debug"}));
    assert_eq!(y["log"]["level"].as_str(), Some("debug"));
}

#[test]
fn no_http_secret_before_leader_sets_it() {
    let cfg = config(json!({}));
    let secret = Secret::new("unused");
    let mut i = inputs(&cfg, &secret);
    i.http_secret = None;
    let (_, y) = render(&i);
    assert!(y["http"].get("secret").is_none());
}

#[test]
fn tricky_strings_round_trip() {
    let tricky = "a\"b:c #d\ne\\f\t'g' - {h} \u{2028} ü";
    let cfg = config(json!({
        "cache-remoteurl": "http://127.0.0.1:5001",
        "cache-username": tricky,
        "cache-password": tricky,
    }));
    let secret = Secret::new(tricky);
    let (_, y) = render(&inputs(&cfg, &secret));
    assert_eq!(y["proxy"]["username"].as_str(), Some(tricky));
    assert_eq!(y["proxy"]["password"].as_str(), Some(tricky));
    assert_eq!(y["http"]["secret"].as_str(), Some(tricky));
}

#[test]
fn missing_auth_file_input_is_an_error() {
    let cfg = config(json!({"auth-basic-password": "x"}));
    let secret = Secret::new("s");
    let mut i = inputs(&cfg, &secret);
    i.htpasswd_path = None;
    let err = render_registry_config(&i).unwrap_err().to_string();
    assert!(err.contains("htpasswd path"), "{err}");
}

// ---- the real registry ------------------------------------------------------------

/// A `docker-registry serve` process, killed on drop (its log printed when the test
/// failed).
struct Registry {
    child: Child,
    log: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("registry log ({}):\n{log}", self.log.display());
        }
    }
}

/// Starts the registry on `config`, binding only 127.0.0.1 (REGISTRY_HTTP_ADDR overrides
/// the rendered `:<port>`, which would listen on every interface).
fn start_registry(dir: &Path, config_text: &str, port: u16) -> Registry {
    let cfg = dir.join("config.yml");
    std::fs::write(&cfg, config_text).expect("write config");
    let log = dir.join("registry.log");
    let out = std::fs::File::create(&log).expect("log");
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&cfg)
        .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out)
        .spawn()
        .expect("docker-registry must be installed (apt-get install docker-registry)");
    Registry { child, log }
}

/// GET /v2/ with curl; returns the HTTP status (0 when the connection failed).
fn status(url: &str, extra: &[&str]) -> u16 {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "2",
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl must be installed");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Waits until the registry answers one of `want`; fails at once if it exited.
fn wait_for(reg: &mut Registry, url: &str, extra: &[&str], want: &[u16]) -> u16 {
    let what = format!("{url} to answer one of {want:?}");
    eventually(&what, Duration::from_secs(20), || {
        let code = status(url, extra);
        if want.contains(&code) {
            return Some(code);
        }
        if let Some(exit) = reg.child.try_wait().expect("try_wait") {
            panic!("the registry exited ({exit}) before {what} (last status {code})");
        }
        None
    })
}

#[test]
fn real_registry_starts_with_default_config() {
    let net = PrivateLoopback::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = net.port();
    let cfg = config(json!({"registry-port": port}));
    let secret = Secret::new("leader-http-secret");
    let data = dir.path().join("data");
    let mut i = inputs(&cfg, &secret);
    i.storage_root = &data;
    let (text, _) = render(&i);
    assert!(text.contains(&format!("addr: \":{port}\"")));
    let mut reg = start_registry(dir.path(), &text, port);
    let url = format!("http://127.0.0.1:{port}/v2/");
    assert_eq!(wait_for(&mut reg, &url, &[], &[200]), 200);
}

#[test]
fn real_registry_starts_with_basic_auth_and_tls() {
    let net = PrivateLoopback::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = net.port();
    let password = "pa\"ss:#w rd";

    // A CA and a server certificate for 127.0.0.1, validated through TlsBundle.
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let srv_key = rcgen::KeyPair::generate().expect("key");
    let srv_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let srv_cert = srv_params.signed_by(&srv_key, &issuer).expect("cert");
    let bundle = charm::tls::TlsBundle::from_pems(
        Some(&ca_cert.pem()),
        Some(&srv_cert.pem()),
        Some(&srv_key.serialize_pem()),
        std::time::SystemTime::now(),
        charm::tls::TlsSource::Config,
    )
    .expect("valid bundle")
    .expect("some bundle");
    let (ca_path, cert_path, key_path, htpasswd) = (
        dir.path().join("ca.crt"),
        dir.path().join("registry.crt"),
        dir.path().join("registry.key"),
        dir.path().join("htpasswd"),
    );
    std::fs::write(&ca_path, bundle.ca.as_ref().expect("ca").as_str()).expect("write");
    std::fs::write(&cert_path, bundle.cert.as_str()).expect("write");
    std::fs::write(&key_path, bundle.key.expose()).expect("write");
    let mut f = std::fs::File::create(&htpasswd).expect("htpasswd");
    f.write_all(
        charm::htpasswd::file("admin", password)
            .expect("entry")
            .as_bytes(),
    )
    .expect("write");

    let cfg = config(json!({
        "registry-port": port,
        "auth-basic-user": "admin",
        "auth-basic-password": password,
    }));
    let secret = Secret::new("leader-http-secret");
    let data = dir.path().join("data");
    let mut i = inputs(&cfg, &secret);
    i.storage_root = &data;
    i.htpasswd_path = Some(&htpasswd);
    i.tls = Some(TlsFiles {
        cert: &cert_path,
        key: &key_path,
        client_cas: &[],
    });
    let (text, _) = render(&i);
    let mut reg = start_registry(dir.path(), &text, port);
    let url = format!("https://127.0.0.1:{port}/v2/");
    let ca = ca_path.to_str().expect("utf8");
    assert_eq!(wait_for(&mut reg, &url, &["--cacert", ca], &[401]), 401);
    let creds = format!("admin:{password}");
    assert_eq!(status(&url, &["--cacert", ca, "-u", &creds]), 200);
    assert_eq!(status(&url, &["--cacert", ca, "-u", "admin:wrong"]), 401);
    // No mTLS (B23): a client without a certificate got through above.
}

/// A certificate for `cn` signed by `issuer`, for TLS clients (clientAuth), as PEM
/// (certificate, key).
fn client_certificate(issuer: &rcgen::Issuer<'_, rcgen::KeyPair>, cn: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, issuer).expect("cert");
    (cert.pem(), key.serialize_pem())
}

/// A CA that may sign client certificates.
fn client_ca(name: &str) -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("ca");
    (cert.pem(), rcgen::Issuer::new(params, key))
}

/// `clientcas` (tls-client-ca): the real registry refuses a client without a certificate
/// signed by that CA and serves one with it; it also serves the holder of the unit's own
/// client certificate listed next to the CA (`charm::tls::client`), and nobody else with a
/// look-alike. The charm's probe and action client present that certificate and get the
/// registry's real answer; without it, the probe counts the refusal as an answer only when
/// told the registry demands one. The server certificate is a tls-auto one.
#[test]
fn real_registry_demands_client_certificates_with_clientcas() {
    use charm::probe::{get_catalog, get_v2, Scheme, CERTIFICATE_DEMANDED};
    use charm::registry_client::{Client, ClientOptions};
    use charm::tls::client::{self, ClientIdentity};
    let net = PrivateLoopback::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = net.port();
    let now = std::time::SystemTime::now();
    let server_ca = charm::tls::auto::make_ca("e2e tls-auto CA", now, [7; 16]).expect("ca");
    let server_key = charm::tls::generate_key().expect("key");
    let sans = ["127.0.0.1".parse().expect("san")];
    let server_cert =
        charm::tls::auto::issue(&server_ca, &server_key, "127.0.0.1", &sans, now, [8; 16])
            .expect("cert");
    let (clients_ca, clients) = client_ca("e2e client CA");
    let (other_ca_pem, other) = client_ca("another client CA");
    let (good_cert, good_key) = client_certificate(&clients, "kubelet");
    let (bad_cert, bad_key) = client_certificate(&other, "stranger");
    assert_ne!(clients_ca, other_ca_pem);
    let own_key = charm::tls::generate_key().expect("key");
    let own = ClientIdentity {
        cert: client::make("docker-registry/0 charm client", &own_key, now, [9; 16])
            .expect("own cert"),
        key: own_key,
    };
    // Same name, another key: what someone copying the certificate (not the key) could make.
    let look_alike_key = charm::tls::generate_key().expect("key");
    let look_alike = client::make(
        "docker-registry/0 charm client",
        &look_alike_key,
        now,
        [9; 16],
    )
    .expect("look-alike");
    let path = |name: &str| dir.path().join(name);
    for (name, text) in [
        ("server-ca.crt", server_ca.cert.as_str()),
        ("registry.crt", server_cert.as_str()),
        ("registry.key", server_key.expose()),
        ("client-ca.crt", clients_ca.as_str()),
        ("charm-client.crt", own.cert.as_str()),
        ("charm-client.key", own.key.expose()),
        ("look-alike.crt", look_alike.as_str()),
        ("look-alike.key", look_alike_key.expose()),
        ("good.crt", good_cert.as_str()),
        ("good.key", good_key.as_str()),
        ("bad.crt", bad_cert.as_str()),
        ("bad.key", bad_key.as_str()),
    ] {
        std::fs::write(path(name), text).expect("write");
    }
    let cfg = config(json!({ "registry-port": port }));
    let secret = Secret::new("leader-http-secret");
    let data = path("data");
    let (cert_path, key_path) = (path("registry.crt"), path("registry.key"));
    let client_cas = [path("client-ca.crt"), path("charm-client.crt")];
    let mut i = inputs(&cfg, &secret);
    i.storage_root = &data;
    i.tls = Some(TlsFiles {
        cert: &cert_path,
        key: &key_path,
        client_cas: &client_cas,
    });
    let (text, _) = render(&i);
    let mut reg = start_registry(dir.path(), &text, port);
    let url = format!("https://127.0.0.1:{port}/v2/");
    let server_ca_path = path("server-ca.crt");
    let trust = server_ca_path.to_str().expect("utf8");
    let with = |c: &str, k: &str| -> Vec<String> {
        [
            "--cacert",
            trust,
            "--cert",
            &path(c).display().to_string(),
            "--key",
            &path(k).display().to_string(),
        ]
        .map(String::from)
        .to_vec()
    };
    let good = with("good.crt", "good.key");
    let good: Vec<&str> = good.iter().map(String::as_str).collect();
    assert_eq!(wait_for(&mut reg, &url, &good, &[200]), 200);
    assert_eq!(
        status(&url, &["--cacert", trust]),
        0,
        "no client certificate: refused"
    );
    for (cert, key, what) in [
        ("bad.crt", "bad.key", "a certificate from another CA"),
        (
            "look-alike.crt",
            "look-alike.key",
            "a look-alike of the unit's own certificate",
        ),
    ] {
        let args = with(cert, key);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(status(&url, &args), 0, "{what}: refused");
    }
    let own_args = with("charm-client.crt", "charm-client.key");
    let own_args: Vec<&str> = own_args.iter().map(String::as_str).collect();
    assert_eq!(
        status(&url, &own_args),
        200,
        "the unit's own certificate: served"
    );

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = Duration::from_secs(2);
    assert_eq!(
        get_v2(addr, Scheme::HttpsClientCerts, Some(&own), timeout).expect("probe"),
        200,
        "with the unit's certificate the probe gets the registry's real answer"
    );
    assert_eq!(
        get_catalog(addr, Scheme::HttpsClientCerts, Some(&own), None, timeout)
            .expect("storage check"),
        200,
        "and so does the storage check"
    );
    assert_eq!(
        get_v2(addr, Scheme::HttpsClientCerts, None, timeout).expect("probe"),
        CERTIFICATE_DEMANDED
    );
    let plain = get_v2(addr, Scheme::Https, None, timeout).expect_err("a plain https probe fails");
    assert!(plain.to_string().contains("TLS"), "{plain}");

    // The actions' client: in with the unit's certificate, out without.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let host = format!("127.0.0.1:{port}");
    let opts = |identity: Option<&ClientIdentity>| ClientOptions {
        scheme: Some(charm::config::Scheme::Https),
        ca_pem: Some(server_ca.cert.as_str().to_string()),
        client_identity: identity.map(ClientIdentity::pem),
        ..ClientOptions::new()
    };
    rt.block_on(async {
        let client = Client::connect(&host, opts(Some(&own)))
            .await
            .expect("the action client with the unit's certificate");
        client.login().await.expect("login");
        let refused = Client::connect(&host, opts(None))
            .await
            .err()
            .expect("the action client without a certificate is refused");
        assert!(
            refused.to_string().contains("certificate"),
            "the refusal says why: {refused}"
        );
    });
}

#[test]
fn real_registry_understands_token_auth_metrics_read_only_and_delete() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let net = PrivateLoopback::new();
    let (port, debug_port) = (net.port(), net.port());
    // The registry loads the token root bundle at start, so it must be a real certificate.
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["auth.test".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let pem_path = dir.path().join("auth_token.pem");
    std::fs::write(&pem_path, cert.pem()).expect("write");
    let cfg = config(json!({
        "registry-port": port,
        "debug-port": debug_port,
        "prometheus-metrics": true,
        "storage-read-only": true,
        "storage-delete": true,
        "log-level": "debug",
        "auth-token-issuer": "auth-issuer",
        "auth-token-realm": "https://auth.test/token",
        "auth-token-service": "registry.test",
        "auth-token-root-certs": base64::engine::general_purpose::STANDARD.encode(cert.pem()),
    }));
    let secret = Secret::new("leader-http-secret");
    let data = dir.path().join("data");
    let mut i = inputs(&cfg, &secret);
    i.storage_root = &data;
    i.token_pem_path = Some(&pem_path);
    let (text, _) = render(&i);
    let cfg_path = dir.path().join("config.yml");
    std::fs::write(&cfg_path, &text).expect("write config");
    let log = dir.path().join("registry.log");
    let out = std::fs::File::create(&log).expect("log");
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&cfg_path)
        .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "REGISTRY_HTTP_DEBUG_ADDR",
            format!("127.0.0.1:{debug_port}"),
        )
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out)
        .spawn()
        .expect("docker-registry must be installed");
    let mut reg = Registry { child, log };
    let url = format!("http://127.0.0.1:{port}/v2/");
    assert_eq!(wait_for(&mut reg, &url, &[], &[401]), 401);
    // Bearer challenge names our realm and service.
    let head = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", &url])
        .output()
        .expect("curl");
    let head = String::from_utf8_lossy(&head.stdout).to_string();
    assert!(
        head.contains("Bearer realm=\"https://auth.test/token\",service=\"registry.test\""),
        "{head}"
    );
    let metrics = format!("http://127.0.0.1:{debug_port}/metrics");
    assert_eq!(wait_for(&mut reg, &metrics, &[], &[200]), 200);
    let log = std::fs::read_to_string(&reg.log).unwrap_or_default();
    assert!(
        log.contains("\"level\":\"debug\""),
        "log level not applied:\n{log}"
    );
}
