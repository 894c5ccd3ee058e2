//! Event order for operator operations (docs/juju.md#events), on HostMachines.
mod support;
use support::tiny::{TINY_CONFIG, TINY_META};
use support::{events_of, strs, Model};

#[test]
fn deploy_runs_install_created_leader_config_start_then_peers() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", TINY_META, Some(TINY_CONFIG), None, "");
    sim.deploy(&c, &["-n", "2"]);
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "tiny/0"),
        strs(&[
            "hooks/install",
            "hooks/cluster-relation-created",
            "hooks/leader-elected",
            "hooks/config-changed",
            "hooks/start",
            "hooks/cluster-relation-joined tiny/1",
            "hooks/cluster-relation-changed tiny/1",
        ])
    );
    assert_eq!(
        events_of(&ev, "tiny/1"),
        strs(&[
            "hooks/install",
            "hooks/cluster-relation-created",
            "hooks/leader-settings-changed",
            "hooks/config-changed",
            "hooks/start",
            "hooks/cluster-relation-joined tiny/0",
            "hooks/cluster-relation-changed tiny/0",
        ])
    );
    let st = sim.ok(&["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    let u0 = &v["applications"]["tiny"]["units"]["tiny/0"];
    assert_eq!(u0["leader"], true);
    assert_eq!(
        u0["workload-status"]["current"], "unknown",
        "no status-set by end of start -> unknown"
    );
    assert_eq!(u0["juju-status"]["current"], "idle");
    assert_eq!(u0["machine"], "0");
    assert_eq!(u0["public-address"], "127.0.0.1");
}

#[test]
fn add_unit_runs_new_unit_sequence_and_peer_joins() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", TINY_META, None, None, "");
    sim.deploy(&c, &[]);
    sim.take_events();
    sim.ok(&["add-unit", "tiny"]);
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "tiny/0"),
        strs(&[
            "hooks/cluster-relation-joined tiny/1",
            "hooks/cluster-relation-changed tiny/1"
        ])
    );
    assert_eq!(
        events_of(&ev, "tiny/1"),
        strs(&[
            "hooks/install",
            "hooks/cluster-relation-created",
            "hooks/leader-settings-changed",
            "hooks/config-changed",
            "hooks/start",
            "hooks/cluster-relation-joined tiny/0",
            "hooks/cluster-relation-changed tiny/0",
        ])
    );
}

fn two_apps(sim: &Model) {
    let web = sim.event_charm(
        "web",
        "provides:\n  website:\n    interface: http\n",
        None,
        None,
        r#"case "$H" in
  hooks/website-relation-joined) relation-set hostname=web-$JUJU_UNIT_NAME port=80 ;;
  hooks/website-relation-created) if is-leader --format=json | grep -q true; then relation-set --app service=web; fi ;;
esac"#,
    );
    let proxy = sim.event_charm(
        "proxy",
        "requires:\n  reverseproxy:\n    interface: http\n",
        None,
        None,
        r#"case "$H" in
  hooks/reverseproxy-relation-changed)
    if [ -n "$JUJU_REMOTE_UNIT" ]; then relation-get - "$JUJU_REMOTE_UNIT" --format=json > "$CHARM_DIR/../seen-$(echo $JUJU_REMOTE_UNIT | tr / -).json"
    else relation-get --app - web --format=json > "$CHARM_DIR/../seen-app.json"; fi ;;
esac"#,
    );
    sim.deploy(&web, &[]);
    sim.deploy(&proxy, &[]);
    sim.take_events();
}

#[test]
fn integrate_runs_created_joined_changed_on_both_sides_and_data_flows() {
    let sim = Model::host_machines().ordered();
    two_apps(&sim);
    sim.ok(&["integrate", "web", "proxy"]);
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "web/0"),
        strs(&[
            "hooks/website-relation-created",
            "hooks/website-relation-joined proxy/0",
            "hooks/website-relation-changed proxy/0"
        ])
    );
    assert_eq!(
        events_of(&ev, "proxy/0"),
        strs(&[
            "hooks/reverseproxy-relation-created",
            // web/0 wrote its app bag in relation-created: app-level changed first (docs/juju.md#events).
            "hooks/reverseproxy-relation-changed",
            "hooks/reverseproxy-relation-joined web/0",
            "hooks/reverseproxy-relation-changed web/0",
        ])
    );
    let unit_seen =
        std::fs::read_to_string(sim.dir().join("units/unit-proxy-0/seen-web-0.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&unit_seen).unwrap();
    assert_eq!(v["hostname"], "web-web/0");
    assert_eq!(v["port"], "80");
    assert_eq!(v["private-address"], "127.0.0.1");
    let app_seen =
        std::fs::read_to_string(sim.dir().join("units/unit-proxy-0/seen-app.json")).unwrap();
    assert_eq!(app_seen.trim(), r#"{"service":"web"}"#);
    let su = sim.ok(&["show-unit", "proxy/0", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&su.stdout).unwrap();
    let info = &v["proxy/0"]["relation-info"][0];
    assert_eq!(info["endpoint"], "reverseproxy");
    assert_eq!(info["related-endpoint"], "website");
    assert_eq!(info["application-data"]["service"], "web");
    assert_eq!(
        info["related-units"]["web/0"]["data"]["hostname"],
        "web-web/0"
    );
}

#[test]
fn remove_relation_departs_then_breaks_both_sides() {
    let sim = Model::host_machines().ordered();
    two_apps(&sim);
    sim.ok(&["integrate", "web:website", "proxy:reverseproxy"]);
    sim.take_events();
    sim.ok(&["remove-relation", "web", "proxy"]);
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "web/0"),
        strs(&[
            "hooks/website-relation-departed proxy/0 departing=proxy/0",
            "hooks/website-relation-broken"
        ])
    );
    assert_eq!(
        events_of(&ev, "proxy/0"),
        strs(&[
            "hooks/reverseproxy-relation-departed web/0 departing=web/0",
            "hooks/reverseproxy-relation-broken"
        ])
    );
    let st = sim.ok(&["status", "--format", "yaml"]);
    assert!(
        !st.stdout.contains("reverseproxy"),
        "relation gone after broken:\n{}",
        st.stdout
    );
}

#[test]
fn remove_unit_tears_down_and_leadership_moves_once_the_lease_lapses() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm(
        "tiny",
        TINY_META,
        None,
        None,
        r#"case "$H" in *-departed) echo "$JUJU_UNIT_NAME $(is-leader)" >> "$CHARM_DIR/../../leader.log" ;; esac"#,
    );
    sim.deploy(&c, &["-n", "2"]);
    sim.take_events();
    sim.ok(&["remove-unit", "tiny/0"]);
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "tiny/0"),
        strs(&[
            "hooks/cluster-relation-departed tiny/1 departing=tiny/0",
            "hooks/stop",
            "hooks/remove"
        ])
    );
    // tiny/1 hears its peer go while the app has no leader, then claims leadership.
    assert_eq!(
        events_of(&ev, "tiny/1"),
        strs(&[
            "hooks/cluster-relation-departed tiny/0 departing=tiny/0",
            "hooks/leader-elected",
        ])
    );
    // The dying leader gave leadership up at once; the lease held it from tiny/1.
    let seen = std::fs::read_to_string(sim.dir().join("units/leader.log")).unwrap();
    assert_eq!(seen, "tiny/0 False\ntiny/1 False\n");
    assert!(
        sim.debug_log()
            .contains("tiny/1 promoted to leadership of tiny"),
        "{}",
        sim.debug_log()
    );
    let st = sim.ok(&["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    assert!(v["applications"]["tiny"]["units"]["tiny/0"].is_null());
    assert_eq!(v["applications"]["tiny"]["units"]["tiny/1"]["leader"], true);
}

#[test]
fn remove_unit_with_regular_relation_breaks_before_stop() {
    let sim = Model::host_machines().ordered();
    two_apps(&sim);
    sim.ok(&["integrate", "web", "proxy"]);
    sim.take_events();
    sim.ok(&["remove-unit", "web/0"]);
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "web/0"),
        strs(&[
            "hooks/website-relation-departed proxy/0 departing=web/0",
            "hooks/website-relation-broken",
            "hooks/stop",
            "hooks/remove"
        ])
    );
    assert_eq!(
        events_of(&ev, "proxy/0"),
        strs(&["hooks/reverseproxy-relation-departed web/0 departing=web/0"])
    );
}

#[test]
fn config_change_runs_config_changed_everywhere_and_checks_keys() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", TINY_META, Some(TINY_CONFIG), None, r#"if [ "$H" = hooks/config-changed ]; then config-get --format=json > "$CHARM_DIR/../config.json"; fi"#);
    sim.deploy(&c, &["-n", "2", "--config", "name=x"]);
    sim.take_events();
    sim.ok(&["config", "tiny", "port=8080", "debug=true"]);
    let ev = sim.take_events();
    assert_eq!(
        ev,
        strs(&["tiny/0 hooks/config-changed", "tiny/1 hooks/config-changed"])
    );
    let cfg = std::fs::read_to_string(sim.dir().join("units/unit-tiny-1/config.json")).unwrap();
    assert_eq!(cfg.trim(), r#"{"debug":true,"name":"x","port":8080}"#);
    // Same values again: the hash is unchanged, no hook.
    sim.ok(&["config", "tiny", "port=8080"]);
    assert!(sim.take_events().is_empty());
    let bad = sim.run(&["config", "tiny", "prot=1"]);
    assert_eq!(bad.code, Some(1));
    assert_eq!(
        bad.stderr.trim(),
        r#"jujusim config: unknown option "prot" for tiny (similar: port)"#
    );
    let bad = sim.run(&["config", "tiny", "port=abc"]);
    assert_eq!(bad.code, Some(1));
    assert!(
        bad.stderr
            .contains(r#"option "port" for tiny expects an int, got "abc""#),
        "{}",
        bad.stderr
    );
    assert_eq!(sim.ok(&["config", "tiny", "port"]).stdout, "8080\n");
    sim.ok(&["config", "tiny", "--reset", "port"]);
    assert_eq!(sim.take_events().len(), 2);
    let y = sim.ok(&["config", "tiny"]).stdout;
    assert!(y.contains("  port:\n    default: 80\n    description: port\n    source: default\n    type: int\n    value: 80\n"), "{y}");
}

#[test]
fn refresh_runs_upgrade_charm_then_config_changed() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", TINY_META, Some(TINY_CONFIG), None, "");
    sim.deploy(&c, &[]);
    sim.take_events();
    sim.ok(&["refresh", "tiny", "--path", c.to_str().unwrap()]);
    assert_eq!(
        sim.take_events(),
        strs(&["tiny/0 hooks/upgrade-charm", "tiny/0 hooks/config-changed"])
    );
}

#[test]
fn set_leader_runs_leader_elected_and_leader_set_notifies_followers() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm(
        "tiny",
        TINY_META,
        None,
        None,
        r#"if [ "$H" = hooks/leader-elected ]; then leader-set who=$JUJU_UNIT_NAME; fi"#,
    );
    sim.deploy(&c, &["-n", "2"]);
    sim.take_events();
    sim.ok(&["set-leader", "tiny/1"]);
    let ev = sim.take_events();
    assert_eq!(
        ev,
        strs(&[
            "tiny/1 hooks/leader-elected",
            "tiny/0 hooks/leader-settings-changed"
        ])
    );
    assert_eq!(
        sim.exec_argv("tiny/0", &["leader-get", "who"]).stdout,
        "tiny/1\n"
    );
}

#[test]
fn missing_dispatch_skips_hooks_as_success() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", TINY_META, None, None, "");
    std::fs::remove_file(c.join("dispatch")).unwrap();
    sim.deploy(&c, &[]);
    let log = sim.ok(&["debug-log", "--replay"]).stdout;
    assert!(log.contains(r#"skipped "install" hook (missing)"#), "{log}");
    let st = sim.ok(&["status", "--format", "json"]).stdout;
    assert!(st.contains(r#""current":"unknown""#), "{st}");
}

#[test]
fn update_status_runs_once_per_idle_unit() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm(
        "tiny",
        TINY_META,
        None,
        None,
        r#"if [ "$H" = hooks/update-status ]; then juju-log "checked $JUJU_UNIT_NAME"; fi"#,
    );
    sim.deploy(&c, &["-n", "2"]);
    sim.take_events();
    sim.ok(&["update-status"]);
    assert_eq!(
        sim.take_events(),
        strs(&["tiny/0 hooks/update-status", "tiny/1 hooks/update-status"])
    );
    sim.ok(&["update-status", "tiny/1"]);
    assert_eq!(sim.take_events(), strs(&["tiny/1 hooks/update-status"]));
    let log = sim.ok(&["debug-log", "-n", "3"]).stdout;
    assert!(
        log.contains("INFO unit.tiny/1.juju-log checked tiny/1"),
        "{log}"
    );
    assert_eq!(sim.run(&["update-status", "nope"]).code, Some(1));
}

#[test]
fn status_yaml_has_juju_layout() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", TINY_META, None, None, r#"if [ "$H" = hooks/start ]; then status-set active ready; open-port 443; open-port 80; application-version-set 1.2.3; fi"#);
    sim.deploy(&c, &[]);
    let y = sim.ok(&["status", "--format", "yaml"]).stdout;
    let v: serde_yaml::Value = serde_yaml::from_str(&y).unwrap();
    let app = &v["applications"]["tiny"];
    assert_eq!(app["charm"], serde_yaml::Value::from("tiny"));
    assert_eq!(app["version"], serde_yaml::Value::from("1.2.3"));
    let u = &app["units"]["tiny/0"];
    assert_eq!(
        u["workload-status"]["current"],
        serde_yaml::Value::from("active")
    );
    assert_eq!(
        u["workload-status"]["message"],
        serde_yaml::Value::from("ready")
    );
    assert_eq!(u["juju-status"]["current"], serde_yaml::Value::from("idle"));
    assert_eq!(u["leader"], serde_yaml::Value::from(true));
    assert_eq!(u["machine"], serde_yaml::Value::from("0"));
    assert_eq!(
        u["open-ports"],
        serde_yaml::from_str::<serde_yaml::Value>("[80/tcp, 443/tcp]").unwrap()
    );
    // Keys in juju's struct order, not sorted.
    let units = &y[y.find("    units:").unwrap()..];
    let pos = |k: &str| units.find(k).unwrap();
    assert!(
        pos("workload-status:") < pos("juju-status:")
            && pos("juju-status:") < pos("leader:")
            && pos("leader:") < pos("machine:"),
        "{y}"
    );
    let table = sim.ok(&["status"]).stdout;
    assert!(
        table.contains("tiny/0*  active    idle   0        127.0.0.1       80/tcp,443/tcp  ready"),
        "{table}"
    );
}
