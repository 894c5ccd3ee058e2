//! Shared storage end to end: the charm's units on one OpenStack Swift all-in-one (the
//! `swift` test charm, on its own jujusim machine), through the registry's swift driver
//! (tempauth v1) and through its s3 driver (Swift's s3api, v4 signing). skopeo pushes
//! through one unit and pulls the same digest from every unit; the objects are read back
//! from Swift itself, so a registry that kept its data on local disk fails the test.
//!
//! Swift takes seconds to start, so one Swift machine serves both applications in one
//! model (one test) instead of one Swift per test.
mod support;

use support::clients::{build_image, http_code, ingress, pull_and_compare, push_ok, Image, Tls};
use support::jujusim::Model;
use support::swift::{self, PASSWORD, SWIFT, USER};

/// Deploys the charm as `app` with `n` units and `config`; returns the units' addresses
/// (without looking at their status).
fn deploy_units(m: &Model, app: &str, n: usize, config: &[String]) -> Vec<String> {
    let charm = m.registry_charm().display().to_string();
    let count = n.to_string();
    let mut args = vec!["deploy", &charm, app, "-n", &count];
    for c in config {
        args.extend(["--config", c]);
    }
    m.ok(&args);
    (0..n).map(|i| ingress(m, &format!("{app}/{i}"))).collect()
}

/// Deploys the charm as `app` with two units and `config`; returns the units' addresses
/// after checking each is `Ready` at its own address.
fn deploy_two_units(m: &Model, app: &str, config: &[String]) -> Vec<String> {
    let addrs = deploy_units(m, app, 2, config);
    // Two units on their own disks: the status says so (B30).
    let advice = if config.iter().any(|c| c.starts_with("storage-")) {
        ""
    } else {
        " Filesystem storage on 2 units: an image pushed to one is not on the others; use \
         s3 or swift storage to share them."
    };
    for (n, addr) in addrs.iter().enumerate() {
        m.expect_status(
            &format!("{app}/{n}"),
            "active",
            &format!("Ready at {addr}:5000 (http).{advice}"),
        );
    }
    addrs
}

/// The object names in `container` (first 1000), as Swift lists them.
fn objects(m: &Model, container: &str) -> Vec<String> {
    let results = swift::action(m, "list-container", container);
    results["objects"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Fails unless Swift holds `img`'s manifest blob in `container` under the driver's
/// `prefix` (the swift driver keeps its tree under `files/`, the s3 driver at the root).
fn expect_in_swift(m: &Model, container: &str, prefix: &str, img: &Image) {
    let hex = img.digest.trim_start_matches("sha256:");
    let want = format!(
        "{prefix}docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    );
    let names = objects(m, container);
    if !names.contains(&want) {
        m.fail(
            &format!("Swift container {container} lacks {want}; it holds {names:?}"),
            &m.run(&["status"]),
        );
    }
}

/// Two units of `app` share one store: pushes through either unit are served by both,
/// the data is in Swift and not on the units' disks, and with redirects on a blob GET is
/// sent to Swift itself and clients that follow it still get the pushed digest.
fn two_units_share_the_store(m: &Model, app: &str, units: &[String], store: (&str, &str)) {
    let (container, prefix) = store;
    let at = |n: usize| format!("{}:5000", units[n]);
    let first = build_image(m, &format!("{app}-first"));
    push_ok(m, &at(0), &first, Tls::Off, None);
    pull_and_compare(m, &at(0), &first, Tls::Off, None);
    pull_and_compare(m, &at(1), &first, Tls::Off, None);
    let second = build_image(m, &format!("{app}-second"));
    push_ok(m, &at(1), &second, Tls::Off, None);
    pull_and_compare(m, &at(0), &second, Tls::Off, None);

    expect_in_swift(m, container, prefix, &first);
    expect_in_swift(m, container, prefix, &second);
    for n in 0..units.len() {
        let unit = format!("{app}/{n}");
        let local = m.exec(&unit, "ls -A /srv/registry 2>/dev/null || true");
        m.check(
            local.text().is_empty(),
            &format!("{unit} keeps registry data on its own disk"),
            &local,
        );
    }

    // Redirects on: the registry answers blob GETs with a 307 to the object store.
    m.ok(&["config", app, "storage-redirect-disable=false"]);
    for (n, addr) in units.iter().enumerate() {
        m.expect_status(
            &format!("{app}/{n}"),
            "active",
            &format!("Ready at {addr}:5000 (http)."),
        );
    }
    let blob = format!(
        "http://{}/v2/e2e/{}/blobs/{}",
        at(1),
        first.name,
        first.config_digest(m)
    );
    let answer = m.netexec(&[
        "curl",
        "-sS",
        "--max-time",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        &blob,
    ]);
    let swift = m.exec(SWIFT, "unit-get private-address").text().to_string();
    m.check(
        answer
            .text()
            .starts_with(&format!("307 http://{swift}:8080/")),
        &format!("GET {blob} was not redirected to Swift"),
        &answer,
    );
    pull_and_compare(m, &at(1), &first, Tls::Off, None);
    pull_and_compare(m, &at(0), &second, Tls::Off, None);
}

#[test]
fn two_units_on_swift_and_two_on_s3_serve_each_others_pushes_from_one_store() {
    let m = Model::new();
    let swift = swift::deploy(&m);

    // The swift driver with tempauth v1; the driver creates its container.
    let units = deploy_two_units(
        &m,
        "reg-swift",
        &swift::swift_config(&swift, "registry-swift"),
    );
    two_units_share_the_store(&m, "reg-swift", &units, ("registry-swift", "files/"));

    // The s3 driver through s3api (plain http, v4 signing by default); its bucket must
    // exist first.
    swift::create_bucket(&m, "registry-s3");
    let units = deploy_two_units(&m, "reg-s3", &swift::s3_config(&swift, "registry-s3"));
    two_units_share_the_store(&m, "reg-s3", &units, ("registry-s3", ""));
}

/// Fails unless `unit` is blocked with a message containing every one of `parts`.
fn expect_blocked_with(m: &Model, unit: &str, parts: &[&str]) {
    let (current, message) = m.workload_status(unit);
    let missing: Vec<&&str> = parts.iter().filter(|p| !message.contains(**p)).collect();
    m.check(
        current == "blocked" && missing.is_empty(),
        &format!("{unit}: expected blocked with {parts:?}, got {current} {message:?}"),
        &m.run(&["status"]),
    );
}

/// Fails unless the registry at `addr` answers `GET /v2/` with 200 (the model network).
fn expect_serving(m: &Model, addr: &str) {
    let code = http_code(m, &format!("http://{addr}:5000/v2/"), Tls::Off, None);
    m.check(
        code == "200",
        &format!("GET http://{addr}:5000/v2/ answered {code}, not 200: not serving"),
        &m.run(&["status"]),
    );
}

/// Fails unless `unit`'s config.yml has no `key` line (it is still the last good one).
fn expect_config_without(m: &Model, unit: &str, key: &str) {
    let out = m.exec(
        unit,
        &format!("grep -c '{key}' /etc/docker/registry/config.yml || true"),
    );
    m.check(
        out.text() == "0",
        &format!("{unit}: config.yml has {key}: the refused config was left in place"),
        &out,
    );
}

/// Issue 17 (and 16 part B): a store that refuses the registry costs nothing. A wrong
/// swift password makes the registry panic at start; a missing s3 bucket lets it start
/// while every upload fails (the charm's storage check, `GET /v2/_catalog`, gets a 500).
/// Either way the running unit goes back to its last good config in the same hook, keeps
/// serving, and blocks naming the option and quoting the registry's own line; a fresh
/// unit has nothing to go back to and says so. Once the store is fixed, the `start`
/// action tries again.
#[test]
fn a_store_that_refuses_the_registry_blocks_naming_the_option() {
    let m = Model::new();
    let swift = swift::deploy(&m);
    let auth_url = format!("storage-swift-authurl=http://{swift}:8080/auth/v1.0");
    let user = format!("storage-swift-username={USER}");

    // Serving on its own disk, then told a wrong swift password.
    let addr = deploy_two_units(&m, "bad-swift", &[]).remove(0);
    m.ok(&[
        "config",
        "bad-swift",
        &auth_url,
        &user,
        "storage-swift-password=wrong",
    ]);
    for unit in ["bad-swift/0", "bad-swift/1"] {
        expect_blocked_with(
            &m,
            unit,
            &[
                "The registry refused its config (",
                "storage-swift-password",
                "): swift authentication failed: Authorization Failed; the last good config \
                 keeps serving.",
            ],
        );
        expect_config_without(&m, unit, "swift:");
    }
    expect_serving(&m, &addr);
    // Later hooks neither restart nor retry the refused config.
    let pid = m.exec("bad-swift/0", "cat /run/docker-registry-charm/registry.pid");
    m.ok(&["update-status", "bad-swift/0"]);
    let again = m.exec("bad-swift/0", "cat /run/docker-registry-charm/registry.pid");
    m.check(
        pid.text() == again.text(),
        "update-status restarted the registry while blocked",
        &again,
    );
    // The right password: served from Swift.
    m.ok(&[
        "config",
        "bad-swift",
        &format!("storage-swift-password={PASSWORD}"),
    ]);
    m.expect_status(
        "bad-swift/0",
        "active",
        &format!("Ready at {addr}:5000 (http)."),
    );

    // A fresh unit with the wrong password has no last good config: stopped, and says so.
    deploy_units(
        &m,
        "new-swift",
        1,
        &[
            auth_url.clone(),
            user.clone(),
            "storage-swift-password=wrong".into(),
        ],
    );
    expect_blocked_with(
        &m,
        "new-swift/0",
        &[
            "storage-swift-password",
            "swift authentication failed",
            "nothing to serve until it is fixed.",
        ],
    );

    // Serving, then told a bucket that does not exist.
    let addr = deploy_units(&m, "bad-s3", 1, &[]).remove(0);
    m.expect_status(
        "bad-s3/0",
        "active",
        &format!("Ready at {addr}:5000 (http)."),
    );
    m.ok(&[
        "config",
        "bad-s3",
        "storage-s3-region=us-east-1",
        "storage-s3-bucket=no-such-bucket",
        &format!("storage-s3-accesskey={USER}"),
        &format!("storage-s3-secretkey={PASSWORD}"),
        &format!("storage-s3-regionendpoint=http://{swift}:8080"),
        "storage-s3-secure=false",
    ]);
    expect_blocked_with(
        &m,
        "bad-s3/0",
        &[
            "The registry refused its config (storage-s3-bucket): s3aws: NoSuchBucket",
            "the last good config keeps serving.",
        ],
    );
    let (_, message) = m.workload_status("bad-s3/0");
    m.check(
        !message.contains(PASSWORD),
        &format!("a secret in the status: {message}"),
        &m.run(&["status"]),
    );
    expect_config_without(&m, "bad-s3/0", "s3:");
    expect_serving(&m, &addr);
    // The bucket is made; the operator asks for another try.
    swift::action(&m, "create-container", "no-such-bucket");
    m.ok(&["run", "bad-s3/0", "start"]);
    m.expect_status(
        "bad-s3/0",
        "active",
        &format!("Ready at {addr}:5000 (http)."),
    );
    let img = build_image(&m, "after-the-bucket");
    push_ok(&m, &format!("{addr}:5000"), &img, Tls::Off, None);
    expect_in_swift(&m, "no-such-bucket", "", &img);
}
