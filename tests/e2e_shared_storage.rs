//! Shared storage end to end: the charm's units on one OpenStack Swift all-in-one (the
//! `swift` test charm, on its own jujusim machine), through the registry's swift driver
//! (tempauth v1) and through its s3 driver (Swift's s3api, v4 signing). skopeo pushes
//! through one unit and pulls the same digest from every unit; the objects are read back
//! from Swift itself, so a registry that kept its data on local disk fails the test.
//!
//! Swift takes seconds to start, so one Swift machine serves both applications in one
//! model (one test) instead of one Swift per test.
mod support;

use support::clients::{build_image, ingress, pull_and_compare, push_ok, Image, Tls};
use support::jujusim::Model;
use support::swift::{deploy_swift, s3_config, swift_action, swift_config, PASSWORD, SWIFT, USER};

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
    for (n, addr) in addrs.iter().enumerate() {
        m.expect_status(
            &format!("{app}/{n}"),
            "active",
            &format!("Ready at {addr}:5000 (http)."),
        );
    }
    addrs
}

/// The object names in `container` (first 1000), as Swift lists them.
fn objects(m: &Model, container: &str) -> Vec<String> {
    let results = swift_action(m, "list-container", container);
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
    let swift = deploy_swift(&m);

    // The swift driver with tempauth v1; the driver creates its container.
    let units = deploy_two_units(&m, "reg-swift", &swift_config(&swift, "registry-swift"));
    two_units_share_the_store(&m, "reg-swift", &units, ("registry-swift", "files/"));

    // The s3 driver through s3api (plain http, v4 signing by default); its bucket must
    // exist first.
    let units = deploy_two_units(&m, "reg-s3", &s3_config(&m, &swift, "registry-s3"));
    two_units_share_the_store(&m, "reg-s3", &units, ("registry-s3", ""));
}

/// Issue 16 part B: a store that refuses the registry must block the unit naming the
/// option. Today a wrong swift password makes the registry panic at every start (`swift
/// authentication failed: Authorization Failed` in its log) while each hook restarts it
/// and waits 10 s, leaving `waiting` "Registry not answering yet: ... Connection refused";
/// a missing s3 bucket leaves the unit `active` "Ready" while every push gets a 500.
#[test]
#[ignore = "needs a storage check that blocks naming the option (issue 16 part B)"]
fn a_store_that_refuses_the_registry_blocks_naming_the_option() {
    let m = Model::new();
    let swift = deploy_swift(&m);
    let blocked_naming = |unit: &str, option: &str| {
        let (current, message) = m.workload_status(unit);
        m.check(
            current == "blocked" && message.contains(option),
            &format!("{unit}: expected blocked naming {option}, got {current} {message:?}"),
            &m.run(&["status"]),
        );
    };
    deploy_units(
        &m,
        "bad-swift",
        1,
        &[
            format!("storage-swift-authurl=http://{swift}:8080/auth/v1.0"),
            format!("storage-swift-username={USER}"),
            "storage-swift-password=wrong".into(),
        ],
    );
    blocked_naming("bad-swift/0", "storage-swift-password");
    deploy_units(
        &m,
        "bad-s3",
        1,
        &[
            "storage-s3-region=us-east-1".into(),
            "storage-s3-bucket=no-such-bucket".into(),
            format!("storage-s3-accesskey={USER}"),
            format!("storage-s3-secretkey={PASSWORD}"),
            format!("storage-s3-regionendpoint=http://{swift}:8080"),
            "storage-s3-secure=false".into(),
        ],
    );
    blocked_naming("bad-s3/0", "storage-s3-bucket");
}
