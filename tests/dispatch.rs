//! The built `dispatch` binary: exit codes, usage text, and logging through juju-log.

mod support;

use std::process::{Command, Output};

use support::{strings, FakeTools};

const BIN: &str = env!("CARGO_BIN_EXE_docker-registry-charm");

/// Runs the binary with exactly `vars` (nothing inherited), from a scratch cwd.
fn run(vars: &[(&str, String)]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    Command::new(BIN)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(cwd.path())
        .output()
        .unwrap()
}

/// A Juju-like environment for `dispatch` with the fake tools first on PATH.
fn juju_env(fake: &FakeTools, dispatch: &str) -> Vec<(&'static str, String)> {
    vec![
        ("JUJU_DISPATCH_PATH", dispatch.to_string()),
        (
            "JUJU_HOOK_NAME",
            dispatch.trim_start_matches("hooks/").to_string(),
        ),
        ("JUJU_UNIT_NAME", "docker-registry/0".into()),
        ("JUJU_MODEL_NAME", "reg".into()),
        (
            "JUJU_MODEL_UUID",
            "6f1c7c4e-0000-4000-8000-000000000001".into(),
        ),
        ("JUJU_CHARM_DIR", "/nonexistent/charm".into()),
        ("JUJU_MACHINE_ID", "0".into()),
        ("JUJU_VERSION", "3.6.1".into()),
        (
            "JUJU_ACTION_NAME",
            dispatch.trim_start_matches("actions/").to_string(),
        ),
        ("JUJU_ACTION_UUID", "2".into()),
        // The fake tools are shell scripts needing sh, cat, mkdir.
        (
            "PATH",
            format!("{}:/usr/bin:/bin", fake.bin_dir().display()),
        ),
    ]
}

/// Answers for the model an action reads (a follower with no relations), so the action
/// gets as far as its parameters.
fn model_answers(fake: &FakeTools) {
    for (tool, answer) in [
        ("config-get", "{}"),
        ("is-leader", "false"),
        ("network-get", r#"{"ingress-addresses":["10.0.0.6"]}"#),
        ("relation-ids", "[]"),
        ("leader-get", "{}"),
        ("opened-ports", "[]"),
        ("action-get", "{}"),
    ] {
        fake.respond(tool, answer);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn without_juju_env_prints_usage_and_exits_2() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("`dispatch` executable"), "{err}");
    for var in [
        "JUJU_DISPATCH_PATH",
        "JUJU_UNIT_NAME",
        "JUJU_MODEL_NAME",
        "JUJU_CHARM_DIR",
    ] {
        assert!(err.contains(var), "usage must name {var}: {err}");
    }
    assert!(out.stdout.is_empty());
}

// Hooks reconcile the machine, so they run only inside jujusim machines (tests/e2e_*.rs);
// an action that only reads (the model, and the machine's files) exercises the dispatch
// path here.
#[test]
fn action_logs_through_juju_log_and_exits_0() {
    let fake = FakeTools::new();
    model_answers(&fake);
    let out = run(&juju_env(&fake, "actions/images"));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    let logs: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.tool == "juju-log")
        .collect();
    assert!(!logs.is_empty(), "no juju-log call; stderr: {err}");
    let first = &logs[0].args;
    assert_eq!(first[..3], strings(&["--log-level", "INFO", "--"]));
    assert!(first[3].contains("images"), "{first:?}");
    // Juju records stderr at WARNING: what reached juju-log must not be repeated there.
    assert!(!err.contains("running action images"), "{err}");
    let failed: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.tool == "action-fail")
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", fake.calls());
    // A follower with no peer relation has no secret yet, so nothing serves: the action
    // fails saying so (the hook does not).
    assert!(
        failed[0].args[1].starts_with("images: the registry is not serving (Waiting for"),
        "{failed:?}"
    );
}

#[test]
fn unknown_hook_exits_0_and_logs_only_at_debug() {
    let fake = FakeTools::new();
    let out = run(&juju_env(&fake, "hooks/collect-metrics"));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    // Skipped quietly: nothing at INFO, and DEBUG is not logged under Juju.
    assert!(err.is_empty(), "{err}");
    assert!(
        fake.calls().iter().all(|c| c.tool != "juju-log"),
        "debug must not reach juju-log: {:?}",
        fake.calls()
    );
}

#[test]
fn missing_juju_log_still_succeeds() {
    let fake = FakeTools::new();
    model_answers(&fake);
    fake.remove("juju-log");
    let out = run(&juju_env(&fake, "actions/images"));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    assert_eq!(err.matches("juju-log cannot be run").count(), 1, "{err}");
}

#[test]
fn broken_juju_env_names_the_variable_and_exits_2() {
    let fake = FakeTools::new();
    let vars: Vec<_> = juju_env(&fake, "hooks/db-relation-changed")
        .into_iter()
        .chain([("JUJU_REMOTE_APP", "postgresql".to_string())])
        .collect();
    let out = run(&vars);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("JUJU_RELATION_ID is not set"), "{err}");
    assert_eq!(err.lines().count(), 1, "one error line: {err}");
    assert!(fake.calls().is_empty());
}
