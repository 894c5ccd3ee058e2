//! Container runtimes that really pull: the `containerd-cri` test charm takes the
//! docker-registry relation exactly as the containerd charm does (scheme-less endpoint,
//! auth and tls tables keyed by host:port, the relation's CA as a system CA) and pulls
//! with CRI PullImage, as the kubelet does, from a real containerd. Over plain http at a
//! non-localhost address the pull fails with containerd's own "server gave HTTP response
//! to HTTPS client" (the default flow `deploy` + `integrate containerd` cannot pull:
//! docs/python-charm-bugs.md#b6);
//! with TLS from the easyrsa test charm it pulls, and with basic auth too; with tls-auto
//! (the charm's own CA) and with the `tls-*-blob` options it pulls as well.
mod support;

use serde_json::Value;
use support::clients::{build_image, http_code, ingress, push_ok, Image, Tls};
use support::jujusim::{testcharm, Model, Output};
use support::pki::Pki;

const APP: &str = "docker-registry";
const UNIT0: &str = "docker-registry/0";
const CRI: &str = "containerd-cri/0";
/// Where the containerd charm installs the registry's CA (on the CRI machine only).
const SYSTEM_CA: &str = "/usr/local/share/ca-certificates/juju-docker-registry.crt";

/// The `pull` action of containerd-cri/0 for `img` at `netloc` (never panics).
fn cri_pull(m: &Model, netloc: &str, img: &Image) -> Output {
    let image = format!("image={}", img.runtime_ref(netloc));
    m.run(&["run", CRI, "pull", &image, "--format", "json"])
}

/// Fails unless the CRI pull of `img` succeeds with the image id of what was pushed.
fn expect_cri_pull(m: &Model, netloc: &str, img: &Image) {
    let out = cri_pull(m, netloc, img);
    if !out.success() {
        m.fail(&format!("CRI pull of {} failed", img.name), &out);
    }
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| m.fail(&format!("run output is not JSON: {e}"), &out));
    let got = v[CRI]["results"]["image-ref"].as_str().unwrap_or_default();
    let want = img.config_digest(m);
    m.check(
        got == want,
        &format!("CRI pulled image {got:?}, not the pushed {want}"),
        &out,
    );
}

/// The status of a plain-http unit with runtimes related (B6).
fn plain_with_runtimes(netloc: &str) -> String {
    format!(
        "Ready at {netloc} (http). Container runtimes pull over HTTPS only: juju config \
         docker-registry tls-auto=true, or relate a CA."
    )
}

/// The CA the runtime installed from the relation, copied into a scratch trust dir
/// (`ca.crt`) for skopeo and curl; fails unless it is `want` (when given).
fn installed_ca(m: &Model, name: &str, want: Option<&str>) -> std::path::PathBuf {
    let installed = m.exec(CRI, &format!("cat {SYSTEM_CA}"));
    if let Some(want) = want {
        m.check(
            installed.text() == want.trim_end_matches('\n'),
            &format!("the runtime's system CA is not the {name} CA"),
            &installed,
        );
    }
    let dir = m.scratch().join(format!("installed-{name}"));
    std::fs::create_dir_all(&dir).expect("creating the CA dir");
    std::fs::write(dir.join("ca.crt"), &installed.stdout).expect("writing the CA");
    dir
}

#[test]
fn cri_pulls_with_tls_auto_and_with_tls_blobs() {
    let m = Model::new();
    let charm = m.registry_charm().display().to_string();
    m.ok(&["deploy", &charm, APP]);
    m.ok(&["deploy", &testcharm("containerd-cri")]);
    m.ok(&["integrate", APP, "containerd-cri:docker-registry"]);
    let addr = ingress(&m, UNIT0);
    let netloc = format!("{addr}:5000");
    m.expect_status(UNIT0, "active", &plain_with_runtimes(&netloc));

    // The line the status gives: the charm's own CA, shared on the relation.
    m.ok(&["config", APP, "tls-auto=true"]);
    m.expect_status(UNIT0, "active", &format!("Ready at {netloc} (https)."));
    m.expect_status(
        CRI,
        "active",
        &format!("registry {netloc} configured (https)"),
    );
    // The CA the runtime got verifies what the registry serves (skopeo checks the name).
    let auto_ca = installed_ca(&m, "auto", None);
    let auto = build_image(&m, "cri-auto");
    push_ok(&m, &netloc, &auto, Tls::Ca(&auto_ca), None);
    expect_cri_pull(&m, &netloc, &auto);

    // Blobs outrank tls-auto: the runtime is handed their CA instead and still pulls.
    let pki = Pki::new(&m, "cri-blobs");
    pki.issue(&m, "server", &addr);
    m.ok(&[
        "config",
        APP,
        &format!("tls-ca-blob={}", pki.blob("ca.crt")),
        &format!("tls-cert-blob={}", pki.blob("server.crt")),
        &format!("tls-key-blob={}", pki.blob("server.key")),
    ]);
    m.expect_status(UNIT0, "active", &format!("Ready at {netloc} (https)."));
    let ca = std::fs::read_to_string(pki.dir.join("ca.crt")).expect("reading the blob CA");
    installed_ca(&m, "blobs", Some(&ca));
    let blobs = build_image(&m, "cri-blobs");
    push_ok(&m, &netloc, &blobs, Tls::Ca(&pki.certs()), None);
    expect_cri_pull(&m, &netloc, &blobs);
}

#[test]
fn cri_pulls_fail_over_plain_http_and_work_with_easyrsa_tls_and_basic_auth() {
    let m = Model::new();
    let charm = m.registry_charm().display().to_string();
    m.ok(&["deploy", &charm, APP]);
    let addr = ingress(&m, UNIT0);
    let netloc = format!("{addr}:5000");
    m.expect_status(UNIT0, "active", &format!("Ready at {netloc} (http)."));
    let plain = build_image(&m, "cri-plain");
    push_ok(&m, &netloc, &plain, Tls::Off, None);

    // The default flow: plain http, related to a runtime. containerd defaults a
    // scheme-less endpoint to https for anything but localhost, and fails.
    m.ok(&["deploy", &testcharm("containerd-cri")]);
    m.ok(&["integrate", APP, "containerd-cri:docker-registry"]);
    m.expect_status(
        CRI,
        "active",
        &format!("registry {netloc} configured (http)"),
    );
    let refused = cri_pull(&m, &netloc, &plain);
    let b6 = format!(
        "failed to do request: Head \"https://{netloc}/v2/e2e/cri-plain/manifests/v1\": \
         http: server gave HTTP response to HTTPS client"
    );
    m.check(
        !refused.success() && format!("{}{}", refused.stdout, refused.stderr).contains(&b6),
        "a CRI pull from the plain-http registry did not fail as containerd fails",
        &refused,
    );
    // The registry stays active and says why and what to do.
    m.expect_status(UNIT0, "active", &plain_with_runtimes(&netloc));

    // TLS from easyrsa: the runtime installs the CA as a system CA on its own machine.
    m.ok(&["deploy", &testcharm("easyrsa")]);
    m.ok(&["integrate", APP, "easyrsa:client"]);
    m.expect_status(UNIT0, "active", &format!("Ready at {netloc} (https)."));
    m.expect_status(
        CRI,
        "active",
        &format!("registry {netloc} configured (https)"),
    );
    let easyrsa_ca = m.exec("easyrsa/0", "cat /var/lib/easyrsa-sim/ca.crt");
    let installed = m.exec(CRI, &format!("cat {SYSTEM_CA}"));
    m.check(
        installed.text() == easyrsa_ca.text(),
        "the runtime did not install easyrsa's CA as its system CA",
        &installed,
    );
    m.check(
        !std::path::Path::new(SYSTEM_CA).exists(),
        &format!("{SYSTEM_CA} appeared on the host: the machine's CA leaked out"),
        &installed,
    );
    expect_cri_pull(&m, &netloc, &plain);

    // Basic auth on top: containerd's auth table carries the credentials the kubelet
    // never sends.
    let certs = m.scratch().join("easyrsa-certs");
    std::fs::create_dir_all(&certs).expect("creating the CA dir");
    std::fs::write(certs.join("ca.crt"), &easyrsa_ca.stdout).expect("writing the CA");
    let creds = "admin:Cri-Secret1";
    m.ok(&[
        "config",
        APP,
        "auth-basic-user=admin",
        "auth-basic-password=Cri-Secret1",
    ]);
    m.expect_status(
        CRI,
        "active",
        &format!("registry {netloc} configured (https, basic auth)"),
    );
    let v2 = format!("https://{netloc}/v2/");
    let code = http_code(&m, &v2, Tls::Ca(&certs), None);
    m.check(
        code == "401",
        &format!("an anonymous GET /v2/ got {code}, not 401"),
        &m.run(&["status"]),
    );
    let guarded = build_image(&m, "cri-auth");
    push_ok(&m, &netloc, &guarded, Tls::Ca(&certs), Some(creds));
    expect_cri_pull(&m, &netloc, &guarded);
}
