//! B21 (docs/python-charm-bugs.md#b21), pinned on jujusim with the real registry: whether
//! auth is on comes from the config alone. The Python charm rendered auth only while its
//! file existed, so a deleted `htpasswd` silently opened the registry at the next render.
//! Here a deleted `htpasswd` or `auth_token.pem` comes back at the next hook (any hook),
//! config.yml keeps its auth section, and the registry still refuses anonymous clients,
//! also after a restart.
mod support;

use base64::Engine;
use support::clients::{http_code, ingress, Tls};
use support::jujusim::Model;

const UNIT: &str = "docker-registry/0";
const HTPASSWD: &str = "/etc/docker/registry/htpasswd";
const TOKEN_PEM: &str = "/etc/docker/registry/auth_token.pem";

fn deploy(m: &Model, config: &[&str]) -> String {
    let charm = m.registry_charm().display().to_string();
    let mut args = vec!["deploy", &charm, "docker-registry"];
    for c in config {
        args.extend(["--config", c]);
    }
    m.ok(&args);
    let addr = ingress(m, UNIT);
    m.expect_status(UNIT, "active", &format!("Ready at {addr}:5000 (http)."));
    addr
}

/// Deletes `path` on the unit, runs update-status, and checks the file is back with
/// `mode` and config.yml still names it under `key`.
fn delete_and_expect_back(m: &Model, path: &str, mode: &str, key: &str) {
    m.exec(UNIT, &format!("rm -f {path}"));
    let gone = m.exec(UNIT, &format!("test -e {path} && echo there || echo gone"));
    m.check(
        gone.text() == "gone",
        "the file could not be deleted",
        &gone,
    );
    m.ok(&["update-status", UNIT]);
    let back = m.exec(UNIT, &format!("stat -c %a {path}"));
    m.check(
        back.success() && back.text() == mode,
        &format!("{path} did not come back with mode {mode}"),
        &back,
    );
    let config = m.exec(
        UNIT,
        &format!("grep -c '{key}: \"{path}\"' /etc/docker/registry/config.yml"),
    );
    m.check(
        config.text() == "1",
        "config.yml lost its auth section",
        &config,
    );
}

#[test]
fn a_deleted_htpasswd_comes_back_and_auth_stays_on() {
    let m = Model::new();
    let addr = deploy(
        &m,
        &["auth-basic-user=alice", "auth-basic-password=s3cret-Pass"],
    );
    let v2 = format!("http://{addr}:5000/v2/");
    delete_and_expect_back(&m, HTPASSWD, "640", "path");
    assert_eq!(http_code(&m, &v2, Tls::Off, None), "401");
    assert_eq!(
        http_code(&m, &v2, Tls::Off, Some("alice:s3cret-Pass")),
        "200"
    );
    // And after a restart (the registry reads its config again): still closed.
    m.ok(&["run", UNIT, "stop"]);
    m.exec(UNIT, &format!("rm -f {HTPASSWD}"));
    m.ok(&["run", UNIT, "start"]);
    m.expect_status(UNIT, "active", &format!("Ready at {addr}:5000 (http)."));
    assert_eq!(http_code(&m, &v2, Tls::Off, None), "401");
    assert_eq!(
        http_code(&m, &v2, Tls::Off, Some("alice:s3cret-Pass")),
        "200"
    );
}

#[test]
fn a_deleted_token_bundle_comes_back_and_token_auth_stays_on() {
    let m = Model::new();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["token-issuer".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = base64::engine::general_purpose::STANDARD.encode(cert.pem());
    let root_certs = format!("auth-token-root-certs={pem}");
    let addr = deploy(
        &m,
        &[
            "auth-token-issuer=token-issuer",
            "auth-token-realm=https://auth.example.com/token",
            "auth-token-service=registry",
            &root_certs,
        ],
    );
    let v2 = format!("http://{addr}:5000/v2/");
    assert_eq!(http_code(&m, &v2, Tls::Off, None), "401");
    delete_and_expect_back(&m, TOKEN_PEM, "644", "rootcertbundle");
    let same = m.exec(UNIT, &format!("cat {TOKEN_PEM}"));
    m.check(
        same.text() == cert.pem().trim(),
        "the token bundle came back with other contents",
        &same,
    );
    m.ok(&["run", UNIT, "stop"]);
    m.exec(UNIT, &format!("rm -f {TOKEN_PEM}"));
    m.ok(&["run", UNIT, "start"]);
    m.expect_status(UNIT, "active", &format!("Ready at {addr}:5000 (http)."));
    assert_eq!(http_code(&m, &v2, Tls::Off, None), "401");
}
