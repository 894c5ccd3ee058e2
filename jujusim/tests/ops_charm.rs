//! The ops framework from PyPI, unchanged, on jujusim (scripts/setup installs it into
//! the tests' venv): an ops charm owning an application secret shared over a relation,
//! and an ops subordinate that consumes it, sees a new revision through secret-changed,
//! and keeps its StoredState across a refresh (docs/juju.md#secrets,
//! docs/juju.md#subordinates, docs/juju.md#refresh).
mod support;
use support::{testcharm, Model};

/// `jujusim run UNIT ACTION ...` results as JSON.
fn results(sim: &Model, unit: &str, args: &[&str]) -> serde_json::Value {
    let mut argv = vec!["run", unit];
    argv.extend_from_slice(args);
    argv.extend(["--format", "json"]);
    sim.json(&argv)[unit]["results"].clone()
}

/// Fails unless `unit`'s workload status is (`current`, `message`).
fn expect_status(sim: &Model, unit: &str, current: &str, message: &str) {
    let st = sim.unit_status(unit);
    let got = (
        &st["workload-status"]["current"],
        &st["workload-status"]["message"],
    );
    if got.0 != current || got.1 != message {
        sim.fail(
            &format!("{unit}: expected {current} {message:?}, got {got:?}"),
            &sim.run(&["status"]),
        );
    }
}

#[test]
fn an_ops_subordinate_follows_a_shared_secret_and_keeps_stored_state_across_refresh() {
    let sim = Model::host_machines().with_env("JUJUSIM_HOOK_TIMEOUT", "120");
    sim.deploy(std::path::Path::new(&testcharm("ops-owner")), &[]);
    sim.ok(&["deploy", &testcharm("ops-sub")]);
    sim.ok(&["integrate", "ops-owner", "ops-sub:host"]);
    sim.ok(&["integrate", "ops-owner:secrets", "ops-sub:secrets"]);
    expect_status(&sim, "ops-sub/0", "active", "token=one");
    let stored = results(&sim, "ops-sub/0", &["stored"]);
    assert_eq!(stored["principal"], "ops-owner/0", "{stored}");
    assert_eq!(stored["changes"], "0", "{stored}");

    // A new revision: the consumer hears of it and refreshes; the owner removes the
    // revision nobody tracks any more.
    results(&sim, "ops-owner/0", &["rotate", "token=two"]);
    expect_status(&sim, "ops-sub/0", "active", "token=two");
    let all = sim.json(&["secrets", "--format", "json"]);
    let (id, secret) = all
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("one secret");
    assert_eq!(secret["revision"], 2, "{all}");
    assert_eq!(secret["label"], "shared", "{all}");
    let shown = sim.json(&["show-secret", id, "--revisions", "--format", "json"]);
    let revs: Vec<&serde_json::Value> = shown[id]["revisions"]
        .as_array()
        .map(|r| r.iter().map(|x| &x["revision"]).collect())
        .unwrap_or_default();
    assert_eq!(revs, [2], "revision 1 was not removed: {shown}");

    // StoredState lives in the charm dir (.unit-state.db): a refresh keeps it.
    sim.ok(&["refresh", "ops-sub", "--path", &testcharm("ops-sub")]);
    let stored = results(&sim, "ops-sub/0", &["stored"]);
    assert_eq!(stored["changes"], "1", "{stored}");
    assert_eq!(stored["upgrades"], "1", "{stored}");
    expect_status(&sim, "ops-sub/0", "active", "token=two");
}
