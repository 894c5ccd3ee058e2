//! Subordinates (docs/juju.md#subordinates): a `subordinate: true` charm gets no machine
//! of its own; a container-scoped relation (here the implicit `juju-info` endpoint every
//! charm provides) gives each principal unit one subordinate unit on its machine, which
//! sees only its own principal, has `JUJU_PRINCIPAL_UNIT` set, shows under its principal
//! in `status`, and goes with its principal or with the relation.
mod support;
use support::tiny::{TINY_CONFIG, TINY_META};
use support::{events_of, strs, Model};

const SUB_META: &str =
    "subordinate: true\nrequires:\n  host:\n    interface: juju-info\n    scope: container\n";

/// What the subordinate's install and relation hooks saw.
const SUB_BODY: &str = r#"case "$H" in
  hooks/install) echo "$JUJU_UNIT_NAME principal=$JUJU_PRINCIPAL_UNIT machine=$JUJU_MACHINE_ID" >> "$CHARM_DIR/../../../seen" ;;
  hooks/host-relation-changed) echo "$JUJU_UNIT_NAME sees $(relation-list | tr '\n' ' ')" >> "$CHARM_DIR/../../../seen" ;;
esac"#;

fn model_with_sub() -> Model {
    let sim = Model::host_machines().ordered();
    let p = sim.event_charm("tiny", TINY_META, Some(TINY_CONFIG), None, "");
    sim.deploy(&p, &["-n", "2"]);
    let s = sim.event_charm("sub", SUB_META, None, None, SUB_BODY);
    sim.deploy(&s, &[]);
    sim.take_events();
    sim
}

fn seen(sim: &Model) -> Vec<String> {
    let text = std::fs::read_to_string(sim.dir().join("seen")).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    lines
}

#[test]
fn a_subordinate_runs_on_each_principal_machine_and_sees_only_its_principal() {
    let sim = model_with_sub();
    // Deployed alone, a subordinate has no units and no machine.
    let st = sim.status_json();
    assert_eq!(st["machines"].as_object().map(|m| m.len()), Some(2), "{st}");
    assert!(st["applications"]["sub"]["units"].is_null(), "{st}");

    sim.ok(&["integrate", "tiny:juju-info", "sub:host"]);
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "sub/0"),
        strs(&[
            "hooks/install",
            "hooks/host-relation-created",
            "hooks/leader-elected",
            "hooks/config-changed",
            "hooks/start",
            "hooks/host-relation-joined tiny/0",
            "hooks/host-relation-changed tiny/0",
        ])
    );
    assert_eq!(
        events_of(&ev, "tiny/1"),
        strs(&[
            "hooks/juju-info-relation-created",
            "hooks/juju-info-relation-joined sub/1",
            "hooks/juju-info-relation-changed sub/1",
        ]),
        "a principal sees only the subordinate in its own container"
    );
    assert_eq!(
        seen(&sim),
        strs(&[
            "sub/0 principal=tiny/0 machine=0",
            "sub/0 sees tiny/0 ",
            "sub/1 principal=tiny/1 machine=1",
            "sub/1 sees tiny/1 ",
        ])
    );

    // status: no new machines; each subordinate unit under its principal.
    let st = sim.status_json();
    assert_eq!(st["machines"].as_object().map(|m| m.len()), Some(2), "{st}");
    let sub = &st["applications"]["sub"];
    assert!(sub["units"].is_null(), "{st}");
    assert_eq!(sub["subordinate-to"], serde_json::json!(["tiny"]));
    assert_eq!(sub["relations"]["host"][0]["scope"], "container");
    let t0 = &st["applications"]["tiny"]["units"]["tiny/0"];
    let s0 = &t0["subordinates"]["sub/0"];
    assert_eq!(s0["workload-status"]["current"], "unknown", "{t0}");
    assert_eq!(s0["leader"], true);
    assert!(
        s0["machine"].is_null(),
        "a subordinate entry has no machine: {s0}"
    );
    assert_eq!(s0["public-address"], t0["public-address"]);
    assert!(st["applications"]["tiny"]["units"]["tiny/1"]["subordinates"]["sub/1"].is_object());

    let table = sim.ok(&["status", "--relations"]).stdout;
    let lines: Vec<&str> = table.lines().collect();
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{table}"))
    };
    assert_eq!(at("  sub/0*"), at("tiny/0*") + 1, "{table}");
    assert_eq!(at("  sub/1"), at("tiny/1") + 1, "{table}");
    let sub_row: Vec<&str> = lines[at("  sub/0*")].split_whitespace().collect();
    assert_eq!(
        sub_row[..4],
        ["sub/0*", "unknown", "idle", "127.0.0.1"],
        "{table}"
    );
    assert!(table.contains("subordinate"), "integration type: {table}");

    // A new principal unit brings its own subordinate.
    sim.ok(&["add-unit", "tiny"]);
    let st = sim.status_json();
    assert!(st["applications"]["tiny"]["units"]["tiny/2"]["subordinates"]["sub/2"].is_object());

    // Refused: units of a subordinate by count or one by one.
    let add = sim.fails(&["add-unit", "sub"]);
    assert!(
        add.stderr
            .contains("cannot add units to subordinate application \"sub\""),
        "{}",
        add.stderr
    );
    let rm = sim.fails(&["remove-unit", "sub/0"]);
    assert!(
        rm.stderr.contains("unit \"sub/0\" is a subordinate"),
        "{}",
        rm.stderr
    );
}

#[test]
fn subordinates_go_with_their_principal_and_with_the_relation() {
    let sim = model_with_sub();
    sim.ok(&["integrate", "tiny", "sub"]);
    sim.take_events();
    // The principal goes: its subordinate leaves first, the machine goes last.
    sim.ok(&["remove-unit", "tiny/1"]);
    let ev = sim.take_events();
    let sub1 = events_of(&ev, "sub/1");
    assert_eq!(
        sub1.last().map(String::as_str),
        Some("hooks/remove"),
        "{ev:?}"
    );
    let st = sim.status_json();
    assert!(
        st["applications"]["tiny"]["units"]["tiny/1"].is_null(),
        "{st}"
    );
    assert_eq!(st["machines"].as_object().map(|m| m.len()), Some(1), "{st}");

    // The relation goes: the remaining subordinate unit goes too.
    sim.ok(&["remove-relation", "tiny", "sub"]);
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "sub/0"),
        strs(&[
            "hooks/host-relation-departed tiny/0 departing=sub/0",
            "hooks/host-relation-broken",
            "hooks/stop",
            "hooks/remove",
        ])
    );
    let st = sim.status_json();
    assert!(
        st["applications"]["tiny"]["units"]["tiny/0"]["subordinates"].is_null(),
        "{st}"
    );
    assert_eq!(st["machines"].as_object().map(|m| m.len()), Some(1), "{st}");
}

#[test]
fn a_container_scoped_relation_needs_a_subordinate() {
    let sim = Model::host_machines().ordered();
    let p = sim.event_charm("tiny", TINY_META, None, None, "");
    sim.deploy(&p, &[]);
    let c = sim.event_charm(
        "other",
        "requires:\n  host:\n    interface: juju-info\n    scope: container\n",
        None,
        None,
        "",
    );
    sim.deploy(&c, &[]);
    let out = sim.fails(&["integrate", "tiny", "other"]);
    assert!(
        out.stderr
            .contains("a container-scoped relation needs a subordinate application on one side"),
        "{}",
        out.stderr
    );
}
