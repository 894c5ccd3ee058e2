//! The peer test charms (easyrsa, haproxy, containerd, docker) under the real engine and
//! real Linux machines (needs root, as on CI), each against a small counterpart charm
//! that speaks the registry charm's side of the wire contract (docs/relations.md).
mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::{related_data, testcharm, Model, Output};

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Poll `args` (a command run on the model's network) until it succeeds.
fn net_ok(m: &Model, what: &str, limit: Duration, args: &[&str]) -> Output {
    let mut full = vec!["netexec", "--"];
    full.extend_from_slice(args);
    m.ok_within(what, limit, &full)
}

/// A tls-certificates requirer in the legacy unit-bag form the registry charm uses
/// (docs/relations.md#cert-provider): it asks for a server cert for its address, stores what
/// easyrsa answers under /var/lib/tlsreq and serves it with `openssl s_server` on :8443.
const TLSREQ: &str = r#"#!/bin/bash
set -euo pipefail
HOOK="${JUJU_DISPATCH_PATH##*/}"
NAME="${JUJU_UNIT_NAME/\//_}"
DIR=/var/lib/tlsreq
case "$HOOK" in
  certificates-relation-joined)
    addr="$(network-get certificates --ingress-address)"
    relation-set "unit_name=$NAME" "common_name=$addr" "certificate_name=$NAME" \
      "sans=[\"$addr\", \"$(hostname)\"]"
    ;;
  certificates-relation-changed)
    cert="$(relation-get "$NAME.server.cert" "$JUJU_REMOTE_UNIT")"
    [[ -n "$cert" ]] || { status-set waiting "no certificate yet"; exit 0; }
    mkdir -p "$DIR"
    relation-get ca "$JUJU_REMOTE_UNIT" > "$DIR/ca.crt"
    printf '%s\n' "$cert" > "$DIR/server.crt"
    (umask 077; relation-get "$NAME.server.key" "$JUJU_REMOTE_UNIT" > "$DIR/server.key")
    pkill -f "s_server -accept 8443" || true
    setsid openssl s_server -quiet -accept 8443 -cert "$DIR/server.crt" -key "$DIR/server.key" \
      -www </dev/null >/var/log/tlsreq.log 2>&1 &
    status-set active "certificate for $(relation-get common_name "$JUJU_UNIT_NAME")"
    ;;
esac
"#;

#[test]
fn easyrsa_issues_a_server_cert_that_verifies_over_tls() {
    let m = Model::new().with_env("JUJUSIM_HOOK_TIMEOUT", "60");
    let req = m.write_charm(
        "tlsreq",
        "requires:\n  certificates:\n    interface: tls-certificates\n",
        None,
        None,
        TLSREQ,
    );
    m.ok(&["deploy", &testcharm("easyrsa")]);
    m.ok(&["deploy", path(&req)]);
    m.ok(&["integrate", "easyrsa", "tlsreq"]);

    let st = m.unit_status("tlsreq/0");
    let addr = st["public-address"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    m.check(
        st["workload-status"]["message"] == format!("certificate for {addr}").as_str(),
        &format!("tlsreq/0 got no certificate: {st}"),
        &m.run(&["show-unit", "tlsreq/0"]),
    );
    // easyrsa's issued certs carry a text dump before the PEM block.
    let data = related_data(&m.show_unit("tlsreq/0"), "certificates", "easyrsa/0");
    let cert = data["tlsreq_0.server.cert"].as_str().unwrap_or_default();
    m.check(
        cert.starts_with("Certificate:") && cert.contains("-----BEGIN CERTIFICATE-----"),
        "the server cert is not in easyrsa's format",
        &m.run(&["show-unit", "tlsreq/0"]),
    );
    let sans = m.exec(
        "tlsreq/0",
        "openssl x509 -in /var/lib/tlsreq/server.crt -noout -ext subjectAltName",
    );
    m.check(
        sans.stdout.contains(&format!("IP Address:{addr}"))
            && sans.stdout.contains("DNS:machine-1"),
        "the cert lacks the requested SANs",
        &sans,
    );
    // A TLS client that trusts only easyrsa's CA accepts the requirer's server.
    let ca = m.scratch().join("ca.crt");
    std::fs::write(&ca, m.exec("tlsreq/0", "cat /var/lib/tlsreq/ca.crt").stdout).expect("ca");
    let url = format!("https://{addr}:8443/");
    let out = net_ok(
        &m,
        "openssl s_server on tlsreq/0",
        Duration::from_secs(10),
        &[
            "curl",
            "-sS",
            "--max-time",
            "2",
            "--cacert",
            path(&ca),
            &url,
        ],
    );
    m.check(out.stdout.contains("s_server"), "unexpected page", &out);
}

#[test]
fn haproxy_balances_two_trivial_units_published_on_website() {
    let m = Model::new().with_env("JUJUSIM_HOOK_TIMEOUT", "60");
    m.ok(&["deploy", &testcharm("trivial"), "-n", "2"]);
    m.ok(&["deploy", &testcharm("haproxy")]);
    m.ok(&["integrate", "trivial:website", "haproxy:reverseproxy"]);

    // Only the leader (whichever unit claimed it) publishes, listing both units
    // (docs/relations.md#website).
    let status = m.status_json();
    let units = &status["applications"]["trivial"]["units"];
    let (lead, follow) = if units["trivial/0"]["leader"] == true {
        ("trivial/0", "trivial/1")
    } else {
        ("trivial/1", "trivial/0")
    };
    let show = m.run(&["show-unit", "haproxy/0", "--format", "json"]);
    let haproxy0 = m.show_unit("haproxy/0");
    let leader = related_data(&haproxy0, "reverseproxy", lead);
    let other = related_data(&haproxy0, "reverseproxy", follow);
    let services = leader["services"].as_str().unwrap_or_default();
    m.check(
        services.contains("service_name: trivial")
            && services.contains("[trivial-0, ")
            && services.contains("[trivial-1, ")
            && other.get("services").is_none()
            && other.get("port").is_none(),
        "website data is not what the leader/follower should publish",
        &show,
    );
    let st = m.unit_status("haproxy/0");
    m.check(
        st["workload-status"]["message"] == "serving 2 backends"
            && st["open-ports"] == serde_json::json!(["5000/tcp"]),
        &format!("haproxy is not serving: {st}"),
        &m.run(&["debug-log", "--replay", "--include", "haproxy/0"]),
    );
    let url = format!(
        "http://{}:5000/",
        st["public-address"].as_str().unwrap_or_default()
    );
    let mut seen = std::collections::BTreeSet::new();
    m.eventually(
        "haproxy to answer from both units",
        Duration::from_secs(15),
        || {
            let out = m.run(&["netexec", "--", "curl", "-sS", "--max-time", "2", &url]);
            if out.success() {
                seen.insert(out.text().to_string());
            }
            if seen.len() == 2 {
                Ok(())
            } else {
                Err(out)
            }
        },
    );
    m.check(
        seen.iter().eq(["trivial/0", "trivial/1"].iter()),
        &format!("unexpected backends {seen:?}"),
        &m.run(&["status"]),
    );

    // Removing the follower takes it out of the services list and haproxy's config.
    m.ok(&["remove-unit", follow]);
    let cfg = m.exec("haproxy/0", "cat /etc/haproxy/haproxy.cfg");
    let server = |u: &str| format!("server {} ", u.replace('/', "-"));
    m.check(
        cfg.stdout.contains(&server(lead)) && !cfg.stdout.contains(&server(follow)),
        "haproxy.cfg still lists the removed unit",
        &cfg,
    );
}

/// A docker-registry provider in the registry charm's wire format (docs/relations.md):
/// every unit writes JSON-encoded keys in its own bag (`null` when unset) and runs a real
/// distribution registry on :5000.
const REGPROV: &str = r#"#!/bin/bash
set -euo pipefail
HOOK="${JUJU_DISPATCH_PATH##*/}"
json() { if [[ -n "$1" ]]; then jq -cn --arg v "$1" '$v'; else echo null; fi; }
publish() {
  local rid addr user pass
  user="$(config-get user)"; pass="$(config-get password)"
  [[ -n "$user" && -n "$pass" ]] || { user=; pass=; }
  for rid in $(relation-ids docker-registry); do
    addr="$(network-get docker-registry --ingress-address -r "$rid")"
    relation-set -r "$rid" "registry_netloc=$(json "$addr:5000")" \
      "registry_url=$(json "http://$addr:5000")" "basic_user=$(json "$user")" \
      "basic_password=$(json "$pass")" "tls_ca=null"
  done
}
case "$HOOK" in
  install)
    mkdir -p /var/lib/regprov
    printf 'version: 0.1\nstorage: {filesystem: {rootdirectory: /var/lib/regprov}}\nhttp: {addr: "0.0.0.0:5000"}\n' > /var/lib/regprov/config.yml
    setsid docker-registry serve /var/lib/regprov/config.yml </dev/null >/var/log/regprov.log 2>&1 &
    open-port 5000/tcp
    ;;
  config-changed|docker-registry-relation-joined) publish ;;
esac
status-set active ready
"#;

#[test]
fn containerd_and_docker_consume_a_registry_relation_and_pull() {
    let m = Model::new().with_env("JUJUSIM_HOOK_TIMEOUT", "60");
    let prov = m.write_charm(
        "regprov",
        "provides:\n  docker-registry:\n    interface: docker-registry\n",
        Some(
            "options:\n  user: {type: string, default: \"\", description: basic user}\n  \
             password: {type: string, default: \"\", description: basic password}\n",
        ),
        None,
        REGPROV,
    );
    m.ok(&[
        "deploy",
        path(&prov),
        "--config",
        "user=admin",
        "--config",
        "password=s3cret",
    ]);
    m.ok(&["deploy", &testcharm("containerd")]);
    m.ok(&["deploy", &testcharm("docker")]);
    m.ok(&["integrate", "regprov", "containerd"]);
    m.ok(&["integrate", "regprov", "docker"]);
    let netloc = format!(
        "{}:5000",
        m.unit_status("regprov/0")["public-address"]
            .as_str()
            .unwrap_or_default()
    );

    runtimes_are_configured_for(&m, &netloc);
    push_then_pull_with_containerd(&m, &netloc);

    // Removing the relation makes docker forget the registry.
    m.ok(&["remove-relation", "regprov", "docker"]);
    let docker = m.exec("docker/0", "jq -c . /etc/docker/daemon.json");
    m.check(
        docker.stdout == "{\"insecure-registries\":[]}\n",
        "docker still trusts the removed registry",
        &docker,
    );
    let st = m.unit_status("docker/0");
    m.check(
        st["workload-status"]["message"] == "no registry related",
        &format!("docker/0 status after remove-relation: {st}"),
        &docker,
    );
}

/// containerd's hosts.toml and credentials, docker's daemon.json and config.json, and
/// both units' statuses name the registry at `netloc`.
fn runtimes_are_configured_for(m: &Model, netloc: &str) {
    for unit in ["containerd/0", "docker/0"] {
        let st = m.unit_status(unit);
        m.check(
            st["workload-status"]["message"] == format!("registry {netloc} configured").as_str(),
            &format!("{unit} did not configure the registry: {st}"),
            &m.run(&["show-unit", unit]),
        );
    }
    let hosts = m.exec(
        "containerd/0",
        &format!(
            "cat /etc/containerd/certs.d/{netloc}/hosts.toml /var/lib/containerd-sim/auth/{netloc}"
        ),
    );
    m.check(
        hosts
            .stdout
            .starts_with(&format!("server = \"http://{netloc}\"\n"))
            && hosts.stdout.ends_with("admin:s3cret"),
        "containerd's hosts.toml / credentials are wrong",
        &hosts,
    );
    let docker = m.exec(
        "docker/0",
        "jq -c . /etc/docker/daemon.json /etc/docker/config.json",
    );
    m.check(
        docker.stdout
            == format!(
                "{{\"insecure-registries\":[\"{netloc}\"]}}\n{{\"auths\":{{\"{netloc}\":{{\"auth\":\"YWRtaW46czNjcmV0\"}}}}}}\n"
            ),
        "docker's daemon.json / config.json are wrong",
        &docker,
    );
}

/// Push an image to the provider's registry, then pull it with the containerd charm.
fn push_then_pull_with_containerd(m: &Model, netloc: &str) {
    let work = m.scratch().join("image");
    std::fs::create_dir_all(&work).expect("image dir");
    let umoci = std::process::Command::new("bash")
        .args([
            "-c",
            "umoci init --layout layout && umoci new --image layout:hello \
             && umoci unpack --image layout:hello bundle && mkdir -p bundle/rootfs/app \
             && echo hi > bundle/rootfs/app/hello.txt && umoci repack --image layout:hello bundle",
        ])
        .current_dir(&work)
        .output()
        .expect("umoci");
    assert!(
        umoci.status.success(),
        "{}",
        String::from_utf8_lossy(&umoci.stderr)
    );
    let layout = format!("oci:{}/layout:hello", work.display());
    let image = format!("{netloc}/test/hello:v1");
    net_ok(
        m,
        "the provider's registry to accept a push",
        Duration::from_secs(15),
        &[
            "skopeo",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            &layout,
            &format!("docker://{image}"),
        ],
    );
    let pulled = m.json(&[
        "run",
        "containerd/0",
        "pull",
        &format!("image={image}"),
        "--format",
        "json",
    ]);
    let result = &pulled["containerd/0"]["results"]["result"];
    m.check(
        *result == Value::String(format!("pulled {image}")),
        &format!("pull failed: {pulled}"),
        &m.run(&["debug-log", "--replay", "--include", "containerd/0"]),
    );
}
