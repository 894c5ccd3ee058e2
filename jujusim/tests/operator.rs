//! Operator commands beyond the event sequences: deploy's bases, remove-application,
//! show-status-log, model-config, and ssh/scp into a machine's own namespaces.
mod support;
use support::tiny::{tiny_and_web, TINY_META};
use support::{events_of, strs, testcharm, Model};

#[test]
fn deploy_refuses_a_charm_without_bases_and_leaves_no_model_behind() {
    let sim = Model::host_machines();
    let c = sim.event_charm("tiny", TINY_META, None, None, "");
    std::fs::remove_file(c.join("manifest.yaml")).unwrap();
    let out = sim.run(&["deploy", c.to_str().unwrap(), "--machines", "host"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(1),
            "jujusim deploy: charm does not define any bases, not valid\n"
        )
    );
    assert!(
        !sim.dir().exists(),
        "a refused first deploy left a model dir"
    );
    let gone = sim.run(&["deploy", "/nonexistent", "--machines", "host"]);
    assert_eq!(gone.code, Some(1));
    assert!(
        gone.stderr
            .starts_with("jujusim deploy: cannot open charm /nonexistent"),
        "{}",
        gone.stderr
    );
    assert!(!sim.dir().exists(), "deploy /nonexistent left a model dir");
    // A legacy charm's metadata series still names its bases, as in Juju 3.
    std::fs::write(
        c.join("metadata.yaml"),
        format!("name: tiny\nseries: [jammy]\n{TINY_META}"),
    )
    .unwrap();
    sim.deploy(&c, &[]);
    let st = sim.status_json();
    assert_eq!(st["applications"]["tiny"]["base"]["channel"], "22.04");
}

#[test]
fn the_machine_base_is_the_charm_s_default_or_the_one_asked_for() {
    let sim = Model::host_machines();
    let c = sim.event_charm("tiny", TINY_META, None, None, "");
    std::fs::write(
        c.join("manifest.yaml"),
        "bases:\n- name: ubuntu\n  channel: '22.04'\n- name: ubuntu\n  channel: '24.04'\n",
    )
    .unwrap();
    sim.deploy(&c, &[]);
    sim.deploy(&c, &["old", "--base", "ubuntu@22.04"]);
    let refused = sim.run(&["deploy", c.to_str().unwrap(), "x", "--base", "ubuntu@20.04"]);
    assert_eq!(
        refused.stderr,
        "jujusim deploy: base \"ubuntu@20.04\" is not supported, supported bases are: ubuntu@22.04, ubuntu@24.04\n"
    );
    let st = sim.status_json();
    assert_eq!(st["applications"]["tiny"]["base"]["channel"], "24.04");
    assert_eq!(st["applications"]["old"]["base"]["channel"], "22.04");
    assert_eq!(st["machines"]["1"]["base"]["channel"], "22.04");
    let table = sim.ok(&["status"]).stdout;
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("1 ") && l.contains("ubuntu@22.04")),
        "{table}"
    );
    // A refresh must keep the machines' base.
    std::fs::write(
        c.join("manifest.yaml"),
        "bases:\n- name: ubuntu\n  channel: '24.04'\n",
    )
    .unwrap();
    let r = sim.run(&["refresh", "old", "--path", c.to_str().unwrap()]);
    assert_eq!(
        r.stderr,
        "jujusim refresh: cannot upgrade application \"old\": base \"ubuntu@22.04\" not supported by charm, the charm supported bases are: ubuntu@24.04\n"
    );
}

#[test]
fn remove_application_departs_and_breaks_the_other_side_and_goes() {
    let sim = Model::host_machines().ordered();
    tiny_and_web(&sim, "2");
    sim.take_events();
    sim.ok(&["remove-application", "tiny"]);
    let ev = sim.take_events();
    let mut web0 = events_of(&ev, "web/0");
    web0[..2].sort();
    assert_eq!(
        web0,
        strs(&[
            "hooks/site-relation-departed tiny/0 departing=tiny/0",
            "hooks/site-relation-departed tiny/1 departing=tiny/1",
            "hooks/site-relation-broken",
        ])
    );
    for unit in ["tiny/0", "tiny/1"] {
        let own = events_of(&ev, unit);
        assert_eq!(
            own[own.len() - 2..],
            strs(&["hooks/stop", "hooks/remove"]),
            "{own:?}"
        );
    }
    let st = sim.status_json();
    assert!(st["applications"]["tiny"].is_null(), "{st}");
    assert!(st["applications"]["web"]["relations"].is_null(), "{st}");
    let again = sim.run(&["remove-application", "tiny"]);
    assert_eq!(
        again.stderr,
        "jujusim remove-application: application \"tiny\" not found\n"
    );
}

#[test]
fn show_status_log_lists_workload_and_agent_statuses_in_juju_s_layout() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm(
        "tiny",
        TINY_META,
        None,
        None,
        r#"[ "$H" = hooks/start ] && status-set active ready; true"#,
    );
    sim.deploy(&c, &[]);
    let out = sim.ok(&["show-status-log", "tiny/0", "-n", "100"]);
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| {
            l.split("  ")
                .filter(|c| !c.is_empty())
                .map(str::trim)
                .collect()
        })
        .collect();
    assert_eq!(rows[0], ["Time", "Type", "Status", "Message"]);
    let kinds: Vec<(&str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[1], r[2], r.get(3).copied().unwrap_or("")))
        .collect();
    assert_eq!(kinds[0], ("workload", "waiting", "waiting for machine"));
    assert_eq!(kinds[1], ("juju-unit", "allocating", ""));
    assert!(kinds.contains(&("workload", "maintenance", "installing charm software")));
    assert!(kinds.contains(&("juju-unit", "executing", "running install hook")));
    assert_eq!(
        kinds[kinds.len() - 2..],
        [("workload", "active", "ready"), ("juju-unit", "idle", "")]
    );
    let json = sim.json(&["show-status-log", "tiny/0", "-n", "1", "--format", "json"]);
    assert_eq!(json[0]["type"], "juju-unit");
    assert_eq!(json[0]["status"], "idle");
    let bad = sim.run(&["show-status-log", "tiny/9"]);
    assert_eq!(
        bad.stderr,
        "jujusim show-status-log: unit \"tiny/9\" not found\n"
    );
}

#[test]
fn model_config_turns_the_agent_s_retries_off_and_on() {
    let sim = Model::host_machines();
    let c = sim.event_charm("tiny", TINY_META, None, None, "");
    sim.deploy(&c, &[]);
    assert_eq!(
        sim.ok(&["model-config"]).stdout,
        "automatically-retry-hooks: true\n"
    );
    sim.ok(&["model-config", "automatically-retry-hooks=false"]);
    assert_eq!(
        sim.ok(&["model-config", "automatically-retry-hooks"])
            .stdout,
        "false\n"
    );
    let bad = sim.run(&["model-config", "retry=false"]);
    assert_eq!(
        bad.stderr,
        "jujusim model-config: unknown model-config key \"retry\": jujusim knows automatically-retry-hooks\n"
    );
}

/// ssh and scp go through the machine's mount namespace: a file copied to a unit's /etc
/// is there for its commands and nowhere on the host. Linux machines (root).
#[test]
fn scp_and_ssh_reach_the_unit_s_own_machine() {
    let m = Model::new().with_env("JUJUSIM_HOOK_TIMEOUT", "60");
    m.ok(&["deploy", &testcharm("trivial"), "-n", "2"]);
    let src = m.scratch().join("image.tar");
    std::fs::write(&src, "not really an image\n").unwrap();
    let dest = format!("/etc/jujusim-scp-{}", std::process::id());
    m.ok(&["scp", src.to_str().unwrap(), &format!("trivial/0:{dest}")]);
    assert!(
        !std::path::Path::new(&dest).exists(),
        "scp wrote to the host's {dest}"
    );
    let cat = m.ok(&["ssh", "trivial/0", "--", "cat", &dest]);
    assert_eq!(cat.stdout, "not really an image\n");
    // The other machine has its own /etc; ssh has no hook context.
    let other = m.run(&["ssh", "trivial/1", "--", "cat", &dest]);
    assert_eq!(other.code, Some(1), "{other:?}");
    let env = m.ok(&[
        "ssh",
        "0",
        "--",
        "sh",
        "-c",
        "echo ${JUJU_UNIT_NAME:-none} $(hostname)",
    ]);
    assert_eq!(env.stdout, "none machine-0\n");
    // And back, into a local directory, and a tree with -r.
    let back = m.scratch().join("back");
    std::fs::create_dir_all(&back).unwrap();
    m.ok(&["scp", &format!("trivial/0:{dest}"), back.to_str().unwrap()]);
    let name = dest.rsplit('/').next().unwrap();
    assert_eq!(
        std::fs::read_to_string(back.join(name)).unwrap(),
        "not really an image\n"
    );
    let tree = m.scratch().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/f"), "x").unwrap();
    m.ok(&["scp", "-r", tree.to_str().unwrap(), "trivial/1:/srv/"]);
    assert_eq!(
        m.ok(&["ssh", "trivial/1", "--", "cat", "/srv/tree/sub/f"])
            .stdout,
        "x"
    );
    let missing = m.run(&["scp", "trivial/0:/nope", back.to_str().unwrap()]);
    assert_eq!(missing.code, Some(1));
    assert!(
        missing.stderr.contains("No such file"),
        "{}",
        missing.stderr
    );
    assert!(
        missing
            .stderr
            .ends_with("jujusim scp: copying 0:/nope failed (exit status 1)\n"),
        "{}",
        missing.stderr
    );
}
