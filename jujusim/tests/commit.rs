//! Commit semantics, error state and resolve, actions, and the ping-pong bound.
mod support;
use support::{events_of, strs, Model};

const META: &str = "peers:\n  cluster:\n    interface: tiny-peers\n";

/// config-changed: writes relation data + status then fails, until the file `ok` is
/// next to the unit's charm dir.
fn flaky(sim: &Model) -> std::path::PathBuf {
    sim.event_charm(
        "tiny",
        META,
        None,
        None,
        r#"if [ "$H" = hooks/config-changed ] && [ ! -e "$CHARM_DIR/../ok" ]; then
  relation-set -r "$(relation-ids cluster)" k=v
  state-set s=1
  status-set blocked first
  exit 1
fi"#,
    )
}

#[test]
fn failed_hook_discards_buffered_changes_keeps_status_and_blocks_the_unit() {
    let sim = Model::host_machines().ordered();
    let c = flaky(&sim);
    // The error state as it stays with Juju's automatic retries off.
    sim.deploy(&c, &["--no-settle"]);
    sim.ok(&["model-config", "automatically-retry-hooks=false"]);
    sim.ok(&["settle"]);
    assert_eq!(
        events_of(&sim.take_events(), "tiny/0"),
        strs(&[
            "hooks/install",
            "hooks/cluster-relation-created",
            "hooks/leader-elected",
            "hooks/config-changed"
        ])
    );
    let v: serde_json::Value =
        serde_json::from_str(&sim.ok(&["status", "--format", "json"]).stdout).unwrap();
    let u = &v["applications"]["tiny"]["units"]["tiny/0"];
    assert_eq!(u["workload-status"]["current"], "error");
    assert_eq!(
        u["workload-status"]["message"],
        "hook failed: \"config-changed\""
    );
    assert_eq!(u["juju-status"]["current"], "idle");
    let su = sim.ok(&["show-unit", "tiny/0", "--format", "json"]).stdout;
    assert!(
        !su.contains("\"k\""),
        "relation-set of a failed hook must not commit: {su}"
    );
    // Nothing runs while in error, but actions and exec still work.
    sim.ok(&["update-status"]);
    assert!(sim.take_events().is_empty());
    assert_eq!(
        sim.exec_argv("tiny/0", &["state-get", "--format=json"])
            .stdout,
        "null\n"
    );
    // Retry: the same hook runs again, then the rest of the sequence.
    std::fs::write(sim.dir().join("units/unit-tiny-0/ok"), "").unwrap();
    sim.ok(&["resolve", "tiny/0"]);
    assert_eq!(
        events_of(&sim.take_events(), "tiny/0"),
        strs(&["hooks/config-changed", "hooks/start"])
    );
    let v: serde_json::Value =
        serde_json::from_str(&sim.ok(&["status", "--format", "json"]).stdout).unwrap();
    let u = &v["applications"]["tiny"]["units"]["tiny/0"];
    // status-set from the failing hook was immediate and stays (start did not override it).
    assert_eq!(u["workload-status"]["current"], "blocked");
    assert_eq!(u["workload-status"]["message"], "first");
    let r = sim.run(&["resolve", "tiny/0"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            Some(1),
            "jujusim resolve: unit \"tiny/0\" is not in an error state\n"
        )
    );
}

#[test]
fn resolve_no_retry_skips_the_failed_hook() {
    let sim = Model::host_machines().ordered();
    let c = flaky(&sim);
    sim.deploy(&c, &[]);
    sim.take_events();
    sim.ok(&["resolve", "--no-retry", "tiny/0"]);
    assert_eq!(
        events_of(&sim.take_events(), "tiny/0"),
        strs(&["hooks/start"])
    );
}

#[test]
fn non_executable_dispatch_fails_the_hook() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", META, None, None, "");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(c.join("dispatch"), std::fs::Permissions::from_mode(0o644)).unwrap();
    sim.deploy(&c, &[]);
    let st = sim.ok(&["status"]).stdout;
    assert!(
        st.contains("error     idle   0        127.0.0.1              hook failed: \"install\""),
        "{st}"
    );
}

const ACTIONS: &str = r#"
hello:
  description: greet
  params:
    who: {type: string, default: world}
    times: {type: integer}
  required: []
fail-me:
  description: fails politely
crash:
  description: exits 3
needs:
  description: needs a param
  params:
    x: {type: string}
  required: [x]
"#;

fn action_charm(sim: &Model) -> std::path::PathBuf {
    sim.event_charm(
        "tiny",
        META,
        None,
        Some(ACTIONS),
        r#"case "$H" in
  actions/hello) action-set greeting="hello $(action-get who)" nested.deep=1; action-log working; echo printed; echo warn >&2 ;;
  actions/fail-me) action-set partial=yes; action-fail "no luck" ;;
  actions/crash) relation-set -r "$(relation-ids cluster)" crashed=1; action-set before=crash; exit 3 ;;
esac"#,
    )
}

#[test]
fn run_action_prints_results_like_juju_run() {
    let sim = Model::host_machines().ordered();
    let c = action_charm(&sim);
    sim.deploy(&c, &[]);
    sim.take_events();
    let o = sim.ok(&["run", "tiny/0", "hello", "who=bob"]);
    // juju 3 plain output: results YAML (go-yaml quoting), a blank line, then the
    // action's stdout and stderr, all on stdout.
    assert_eq!(
        o.stdout,
        "greeting: hello bob\nnested:\n  deep: \"1\"\n\nprinted\nwarn\n"
    );
    assert!(
        o.stderr.contains(
            "Running operation 1 with 1 task\n  - task 2 on unit-tiny-0\n\nWaiting for task 2...\n"
        ),
        "{}",
        o.stderr
    );
    // action-log lines are streamed to stderr as `15:04:05 <message>`.
    assert!(
        o.stderr.lines().any(|l| l.len() == 16
            && l.ends_with(" working")
            && l.as_bytes()[2] == b':'
            && l.as_bytes()[5] == b':'),
        "{}",
        o.stderr
    );
    assert_eq!(sim.take_events(), strs(&["tiny/0 actions/hello"]));
    let y = sim
        .ok(&["run", "tiny/0", "hello", "--format", "yaml"])
        .stdout;
    let v: serde_yaml::Value = serde_yaml::from_str(&y).unwrap();
    assert_eq!(
        v["tiny/0"]["id"],
        serde_yaml::Value::from("4"),
        "ids share one counter with operations"
    );
    assert_eq!(v["tiny/0"]["status"], serde_yaml::Value::from("completed"));
    // Go's time.Time.String() for timing and log entries.
    let log = v["tiny/0"]["log"][0].as_str().unwrap_or_default();
    assert!(log.ends_with(" +0000 UTC working"), "{log}");
    let done = v["tiny/0"]["timing"]["completed"]
        .as_str()
        .unwrap_or_default();
    assert!(done.ends_with(" +0000 UTC"), "{done}");
    assert_eq!(
        v["tiny/0"]["results"]["greeting"],
        serde_yaml::Value::from("hello world"),
        "schema default inserted"
    );
    assert_eq!(
        v["tiny/0"]["results"]["return-code"],
        serde_yaml::Value::from(0)
    );
    assert_eq!(
        v["tiny/0"]["results"]["stdout"],
        serde_yaml::Value::from("printed\n")
    );
}

#[test]
fn action_failures_and_validation() {
    let sim = Model::host_machines().ordered();
    let c = action_charm(&sim);
    sim.deploy(&c, &[]);
    let o = sim.run(&["run", "tiny/0", "fail-me"]);
    assert_eq!(o.code, Some(1));
    assert_eq!(
        o.stdout,
        "Action id 2 failed: no luck\npartial: \"yes\"\n\n"
    );
    assert!(
        o.stderr.ends_with("jujusim run: task 2 failed: no luck\n"),
        "{}",
        o.stderr
    );
    let o = sim.run(&["run", "tiny/0", "crash"]);
    assert_eq!(o.code, Some(1));
    assert_eq!(
        o.stdout,
        "Action id 4 failed: exit status 3\nbefore: crash\n\n"
    );
    assert!(
        o.stderr
            .contains("the following task failed:\n - id \"4\" with return code 3\n"),
        "{}",
        o.stderr
    );
    let su = sim.ok(&["show-unit", "tiny/0"]).stdout;
    assert!(
        !su.contains("crashed"),
        "a failed action's relation-set is discarded: {su}"
    );
    let cases: [(&[&str], &str); 5] = [
        (&["run", "tiny/0", "hello", "nope=1"], "validation failed: (root) : additional property \"nope\" is not allowed, given {\"nope\":1}"),
        (&["run", "tiny/0", "hello", "who=5"], "validation failed: (root).who : must be of type string, given 5"),
        (&["run", "tiny/0", "hello", "times=x"], "validation failed: (root).times : must be of type integer, given \"x\""),
        (&["run", "tiny/0", "needs"], "validation failed: (root) : \"x\" property is missing and required, given {}"),
        (&["run", "tiny/0", "helo"], "action \"helo\" not defined on unit \"tiny/0\" (similar: hello)"),
    ];
    for (args, msg) in cases {
        let o = sim.run(args);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (Some(1), format!("jujusim run: {msg}\n").as_str()),
            "{args:?}"
        );
    }
    assert_eq!(sim.run(&["run", "tiny/0"]).code, Some(2));
}

#[test]
fn actions_run_while_the_unit_is_in_error() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm(
        "tiny",
        META,
        None,
        Some(ACTIONS),
        r#"case "$H" in hooks/start) exit 1;; actions/hello) action-set ok=1;; esac"#,
    );
    sim.deploy(&c, &[]);
    assert_eq!(
        sim.ok(&["run", "tiny/leader", "hello"]).stdout,
        "ok: \"1\"\n\n"
    );
}

#[test]
fn charms_that_ping_pong_hit_the_bound_with_a_clear_error() {
    let sim = Model::host_machines().ordered();
    let body = r#"case "$H" in
  hooks/*-relation-changed) if [ -n "$JUJU_REMOTE_UNIT" ]; then n=$(relation-get n "$JUJU_REMOTE_UNIT"); relation-set n=$(( ${n:-0} + 1 )); fi ;;
  hooks/*-relation-joined) relation-set n=1 ;;
esac"#;
    let ping = sim.event_charm(
        "ping",
        "provides:\n  ball:\n    interface: pong\n",
        None,
        None,
        body,
    );
    let pong = sim.event_charm(
        "pong",
        "requires:\n  ball:\n    interface: pong\n",
        None,
        None,
        body,
    );
    sim.deploy(&ping, &[]);
    sim.deploy(&pong, &[]);
    let o = sim.run_with(
        &[("JUJUSIM_MAX_HOOKS", "30")],
        &["integrate", "ping", "pong"],
    );
    let err = &o.errors();
    assert_eq!(o.code, Some(1));
    assert!(err.starts_with("jujusim integrate: charms ping-pong: 30 hooks ran without the model settling; still changing: "), "{err}");
    assert!(
        err.contains("ping/0 ball-relation-changed (relation 0)")
            && err.contains("pong/0 ball-relation-changed (relation 0)"),
        "{err}"
    );
}

#[test]
fn integrate_and_deploy_errors_are_clear() {
    let sim = Model::host_machines().ordered();
    let a = sim.event_charm(
        "a",
        "provides:\n  x:\n    interface: one\n  y:\n    interface: one\n",
        None,
        None,
        "",
    );
    let b = sim.event_charm(
        "b",
        "requires:\n  z:\n    interface: one\n  w:\n    interface: two\n",
        None,
        None,
        "",
    );
    sim.deploy(&a, &[]);
    sim.deploy(&b, &[]);
    let o = sim.run(&["integrate", "a", "b"]);
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stderr, "jujusim integrate: ambiguous relation: \"a b\" could refer to \"a:x b:z\"; \"a:y b:z\"; name the endpoints (APP:ENDPOINT)\n");
    let o = sim.run(&["integrate", "a:x", "b:w"]);
    assert!(
        o.stderr
            .starts_with("jujusim integrate: no relations found between a:x and b:w"),
        "{}",
        o.stderr
    );
    let o = sim.run(&["integrate", "a:q", "b"]);
    assert_eq!(
        o.stderr,
        "jujusim integrate: application \"a\" has no \"q\" relation\n"
    );
    sim.ok(&["integrate", "a:x", "b"]);
    let o = sim.run(&["integrate", "a:x", "b:z"]);
    assert_eq!(
        o.stderr,
        "jujusim integrate: relation a:x b:z already exists\n"
    );
    let o = sim.run(&["deploy", a.to_str().unwrap()]);
    assert!(
        o.stderr.contains("application \"a\" already exists"),
        "{}",
        o.stderr
    );
    let o = sim.run(&["bogus"]);
    assert_eq!(o.code, Some(2));
    let o = sim.run(&["add-unit", "a", "-n", "x"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(2), "jujusim add-unit: invalid value \"x\" for option -n: expected a positive number of units\n"));
}

#[test]
fn deploy_from_a_packed_charm_zip() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", META, None, None, "");
    let zip_path = sim.scratch().join("tiny.charm");
    let f = std::fs::File::create(&zip_path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    for (name, mode) in [
        ("metadata.yaml", 0o644),
        ("manifest.yaml", 0o644),
        ("dispatch", 0o755),
    ] {
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        z.start_file(name, opts).unwrap();
        std::io::Write::write_all(&mut z, &std::fs::read(c.join(name)).unwrap()).unwrap();
    }
    z.finish().unwrap();
    sim.ok(&[
        "deploy",
        zip_path.to_str().unwrap(),
        "zipped",
        "--machines",
        "host",
    ]);
    let ev = sim.take_events();
    assert_eq!(
        ev.first().map(String::as_str),
        Some("zipped/0 hooks/install")
    );
    assert_eq!(ev.len(), 5);
}

#[test]
fn destroy_removes_the_model_dir() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", META, None, None, "");
    sim.deploy(&c, &[]);
    sim.ok(&["destroy"]);
    assert!(!sim.dir().exists());
}

#[test]
fn committed_config_changed_refreshes_the_address_keys_in_relation_bags() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm(
        "tiny",
        META,
        Some("options:\n  x:\n    type: int\n    default: 0\n    description: x\n"),
        None,
        r#"case "$H" in
  hooks/cluster-relation-joined) relation-set ingress-address=203.0.113.9 private-address=203.0.113.9 ;;
  hooks/config-changed) [ "$(config-get x)" = 2 ] && relation-set -r "$(relation-ids cluster)" private-address=own || true ;;
esac"#,
    );
    sim.deploy(&c, &["-n", "2"]);
    let bag = |unit: &str| -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_str(&sim.ok(&["show-unit", "tiny/1", "--format", "json"]).stdout)
                .unwrap();
        let info = &v["tiny/1"]["relation-info"][0];
        if unit == "tiny/1" {
            info["local-unit"]["data"].clone()
        } else {
            info["related-units"][unit]["data"].clone()
        }
    };
    assert_eq!(bag("tiny/0")["ingress-address"], "203.0.113.9");
    sim.take_events();
    sim.ok(&["config", "tiny", "x=1"]);
    let d = bag("tiny/0");
    assert_eq!(
        (
            &d["ingress-address"],
            &d["private-address"],
            &d["egress-subnets"]
        ),
        (
            &serde_json::json!("127.0.0.1"),
            &serde_json::json!("127.0.0.1"),
            &serde_json::json!("127.0.0.1/32")
        ),
        "{d}"
    );
    let events = sim.take_events();
    assert!(
        events.contains(&"tiny/1 hooks/cluster-relation-changed tiny/0".to_string()),
        "the refresh is a committed change remote units hear about: {events:?}"
    );
    // A value the config-changed hook sets itself wins over the refresh.
    sim.ok(&["config", "tiny", "x=2"]);
    assert_eq!(bag("tiny/1")["private-address"], "own");
}

#[test]
fn yaml_output_quotes_ambiguous_strings_like_juju() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", META, None, None, "");
    sim.deploy(&c, &[]);
    let st = sim.ok(&["status", "--format", "yaml"]).stdout;
    assert!(st.contains("\n        machine: \"0\"\n"), "{st}");
    assert!(st.contains("\n  \"0\":\n"), "{st}");
    let su = sim.ok(&["show-unit", "tiny/0"]).stdout;
    assert!(su.contains("\n  machine: \"0\"\n"), "{su}");
    let cg = sim
        .exec_argv("tiny/0", &["network-get", "cluster", "--format", "yaml"])
        .stdout;
    assert!(!cg.contains('\''), "{cg}");
}

#[test]
fn show_unit_takes_several_units_and_juju_s_filters() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm(
        "tiny",
        META,
        None,
        None,
        r#"case "$H" in hooks/leader-elected) relation-set --app -r "$(relation-ids cluster)" shared=1 ;; esac"#,
    );
    sim.deploy(&c, &["-n", "3"]);
    let json = |args: &[&str]| -> serde_json::Value {
        let mut full = vec!["show-unit"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--format", "json"]);
        serde_json::from_str(&sim.ok(&full).stdout).unwrap()
    };
    let both = json(&["tiny/0", "tiny/2"]);
    assert_eq!(
        both.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["tiny/0".to_string(), "tiny/2".to_string()])
    );
    let info = &json(&["tiny/0", "--related-unit", "tiny/2"])["tiny/0"]["relation-info"][0];
    assert_eq!(
        info["related-units"]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["tiny/2".to_string()]),
        "{info}"
    );
    assert!(info["local-unit"].is_null(), "{info}");
    let info = &json(&["tiny/1", "--app"])["tiny/1"]["relation-info"][0];
    assert_eq!(info["application-data"]["shared"], "1", "{info}");
    assert!(info.get("related-units").is_none() && info.get("local-unit").is_none());
    let none = json(&["tiny/1", "--endpoint", "nope"]);
    assert!(none["tiny/1"].get("relation-info").is_none(), "{none}");
}

#[test]
fn a_hook_past_jujusim_hook_timeout_is_killed_and_fails() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm(
        "tiny",
        META,
        None,
        None,
        r#"[ "$H" = hooks/install ] && exec sleep 60; true"#,
    );
    let started = std::time::Instant::now();
    let out = sim.run_with(
        &[("JUJUSIM_HOOK_TIMEOUT", "1")],
        &["deploy", c.to_str().unwrap(), "--machines", "host"],
    );
    sim.check(out.success(), "deploy with a hook past the timeout", &out);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let st = sim.ok(&["status"]).stdout;
    assert!(st.contains("hook failed: \"install\""), "{st}");
    let log = std::fs::read_to_string(sim.dir().join("debug-log.txt")).unwrap();
    assert!(
        log.contains("jujusim: killed after 1s (set JUJUSIM_HOOK_TIMEOUT"),
        "{log}"
    );
}

#[test]
fn a_failed_hook_is_retried_with_backoff_and_a_charm_that_recovers_settles() {
    let sim = Model::host_machines().ordered();
    // Fails twice, then succeeds: the agent's own retries get it through.
    let c = sim.event_charm(
        "tiny",
        META,
        None,
        None,
        r#"if [ "$H" = hooks/config-changed ]; then
  n=$(cat "$CHARM_DIR/../tries" 2>/dev/null || echo 0); echo $((n + 1)) > "$CHARM_DIR/../tries"
  [ "$n" -ge 2 ] || exit 1
fi"#,
    );
    sim.deploy(&c, &[]);
    assert_eq!(
        events_of(&sim.take_events(), "tiny/0"),
        strs(&[
            "hooks/install",
            "hooks/cluster-relation-created",
            "hooks/leader-elected",
            "hooks/config-changed",
            "hooks/config-changed",
            "hooks/config-changed",
            "hooks/start",
        ])
    );
    let v = sim.status_json();
    assert_eq!(
        v["applications"]["tiny"]["units"]["tiny/0"]["workload-status"]["current"],
        "unknown"
    );
    // The retries are on record: in the status log and the debug-log.
    let log = sim.ok(&["show-status-log", "tiny/0", "--type", "juju-unit"]);
    let errors = log
        .stdout
        .lines()
        .filter(|l| l.contains("error") && l.contains("hook failed: \"config-changed\""))
        .count();
    assert_eq!(errors, 2, "{}", log.stdout);
    let debug = sim.debug_log();
    assert!(
        debug.contains("retrying \"config-changed\" hook after 1 failure(s)")
            && debug.contains("retrying \"config-changed\" hook after 2 failure(s)"),
        "{debug}"
    );
}

#[test]
fn a_hook_that_keeps_failing_is_retried_within_ten_minutes_then_left_in_error() {
    let sim = Model::host_machines().ordered();
    let c = flaky(&sim);
    sim.deploy(&c, &[]);
    let runs = events_of(&sim.take_events(), "tiny/0")
        .iter()
        .filter(|e| *e == "hooks/config-changed")
        .count();
    // Retried 5, 10, 20, 40, 80 and 160 s after each failure; the next would be 5 min
    // later, past the ten minutes of model time one command settles for.
    assert_eq!(runs, 7);
    let u = sim.unit_status("tiny/0");
    assert_eq!(u["workload-status"]["current"], "error");
    // The next command lets time run on: more retries, until the charm recovers.
    std::fs::write(sim.dir().join("units/unit-tiny-0/ok"), "").unwrap();
    sim.ok(&["settle"]);
    assert_eq!(
        events_of(&sim.take_events(), "tiny/0"),
        strs(&["hooks/config-changed", "hooks/start"])
    );
}
