//! The alert rules the charm publishes on `cos-agent`, as it publishes them (topology
//! filled in, labels added), through Prometheus' own checker: `promtool check rules`
//! (syntax, PromQL, templates) and `promtool test rules` with
//! rules/docker-registry.rules.test.yaml (each alert fires on the series it is about,
//! after its `for`, and not on another application's or on healthy ones).
use std::path::Path;
use std::process::Command;

use charm::relations::cos_agent::{alert_rules, Topology};

/// The topology the unit tests in rules/docker-registry.rules.test.yaml use.
fn topology() -> Topology {
    Topology {
        model: "lab".into(),
        model_uuid: "00000000-0000-4000-8000-000000000000".into(),
        application: "docker-registry".into(),
    }
}

/// `promtool ARGS` in `dir`; fails the test with promtool's output unless it succeeds.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running promtool (scripts/setup installs the prometheus package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn published_rules_pass_promtool_check_and_unit_tests() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rules = alert_rules(&topology());
    std::fs::write(dir.path().join("rules.json"), rules.to_string()).expect("writing rules");
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/docker-registry.rules.test.yaml");
    std::fs::copy(&tests, dir.path().join("rules.test.yaml")).expect("copying the tests");

    let checked = promtool(dir.path(), &["check", "rules", "rules.json"]);
    assert!(checked.contains("SUCCESS: 4 rules found"), "{checked}");
    let tested = promtool(dir.path(), &["test", "rules", "rules.test.yaml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// The checker can fail: a rule whose PromQL does not parse is refused.
#[test]
fn promtool_refuses_a_broken_rule() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut rules = alert_rules(&topology());
    rules["groups"][0]["rules"][0]["expr"] = "up{ < 1".into();
    std::fs::write(dir.path().join("rules.json"), rules.to_string()).expect("writing rules");
    let out = Command::new("promtool")
        .args(["check", "rules", "rules.json"])
        .current_dir(dir.path())
        .output()
        .expect("running promtool");
    assert!(!out.status.success(), "promtool accepted a broken expr");
}
