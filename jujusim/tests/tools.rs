//! Hook tool syntax, output and errors (exact stderr + exit code), through `exec`;
//! the relation tools are in `relation_tools.rs`.
mod support;
use support::tiny::{fail, ok, tool, two_tiny_units, usage, TINY_META};
use support::Model;

#[test]
fn config_get() {
    let sim = two_tiny_units();
    assert_eq!(tool(&sim, "tiny/0", &["config-get", "port"]), ok("80\n"));
    assert_eq!(
        tool(&sim, "tiny/0", &["config-get", "debug"]),
        ok("False\n")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["config-get", "--format=json"]),
        ok("{\"debug\":false,\"port\":80}\n")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["config-get", "--all", "--format", "json"]),
        ok("{\"debug\":false,\"name\":null,\"port\":80}\n")
    );
    assert_eq!(tool(&sim, "tiny/0", &["config-get", "name"]), ok(""));
    assert_eq!(
        tool(&sim, "tiny/0", &["config-get", "name", "--format=json"]),
        ok("null\n")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["config-get", "-a", "port"]),
        usage("cannot use argument --all together with key \"port\"")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["config-get", "a", "b", "c"]),
        usage("unrecognized args: [\"b\" \"c\"]")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["config-get", "--foo"]),
        usage("option provided but not defined: --foo")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["config-get", "--format=xml"]),
        usage("invalid value \"xml\" for option --format: unknown format \"xml\"")
    );
    let f = sim.scratch().join("cfg.out");
    assert_eq!(
        tool(
            &sim,
            "tiny/0",
            &["config-get", "port", "-o", f.to_str().unwrap()]
        ),
        ok("")
    );
    assert_eq!(std::fs::read_to_string(f).unwrap(), "80\n");
}

#[test]
fn status_set_and_get() {
    let sim = two_tiny_units();
    assert_eq!(
        tool(&sim, "tiny/0", &["status-set", "bogus"]),
        usage("invalid status \"bogus\", expected one of [maintenance blocked waiting active]")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["status-set"]),
        usage("invalid args, require <status> [message]")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["status-set", "active", "a", "b"]),
        usage("unrecognized args: [\"b\"]")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["status-set", "--format=json", "active"]),
        usage("option provided but not defined: --format")
    );
    assert_eq!(
        tool(&sim, "tiny/1", &["status-set", "--application", "active"]),
        fail("this unit is not the leader")
    );
    assert_eq!(
        tool(
            &sim,
            "tiny/0",
            &["status-set", "--application=True", "blocked", "app msg"]
        ),
        ok("")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["status-set", "active", "all good"]),
        ok("")
    );
    assert_eq!(tool(&sim, "tiny/0", &["status-get"]), ok("active\n"));
    assert_eq!(
        tool(
            &sim,
            "tiny/0",
            &["status-get", "--include-data", "--format=json"]
        ),
        ok("{\"message\":\"all good\",\"status\":\"active\",\"status-data\":{}}\n")
    );
    assert_eq!(
        tool(&sim, "tiny/1", &["status-get", "--application"]),
        fail("finding application status: this unit is not the leader")
    );
    let app = tool(
        &sim,
        "tiny/0",
        &["status-get", "--application", "--format=json"],
    )
    .1;
    assert!(
        app.starts_with("{\"application-status\":{\"message\":\"app msg\",\"status\":\"blocked\""),
        "{app}"
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["application-version-set"]),
        usage("no version specified")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["application-version-set", "--", "2.8.3"]),
        ok("")
    );
    let st = sim.ok(&["status"]).stdout;
    assert!(st.contains("tiny  2.8.3    blocked  2"), "{st}");
    assert!(
        st.contains("tiny/0*  active    idle   0        127.0.0.1              all good"),
        "{st}"
    );
}

#[test]
fn leadership_tools() {
    let sim = two_tiny_units();
    assert_eq!(tool(&sim, "tiny/0", &["is-leader"]), ok("True\n"));
    assert_eq!(
        tool(&sim, "tiny/0", &["is-leader", "--format=json"]),
        ok("true\n")
    );
    assert_eq!(tool(&sim, "tiny/1", &["is-leader"]), ok("False\n"));
    assert_eq!(
        tool(&sim, "tiny/1", &["leader-set", "a=b"]),
        fail("cannot write leadership settings: cannot write settings: not the leader")
    );
    assert_eq!(tool(&sim, "tiny/0", &["leader-set", "a=b", "c=d"]), ok(""));
    assert_eq!(
        tool(&sim, "tiny/1", &["leader-get", "--format=json"]),
        ok("{\"a\":\"b\",\"c\":\"d\"}\n")
    );
    assert_eq!(
        tool(&sim, "tiny/1", &["leader-get", "a=b"]),
        usage("invalid key \"a=b\"")
    );
    assert_eq!(
        sim.take_events(),
        vec!["tiny/1 hooks/leader-settings-changed".to_string()]
    );
}

#[test]
fn ports() {
    let sim = two_tiny_units();
    assert_eq!(
        tool(&sim, "tiny/0", &["open-port"]),
        usage("no port or range specified")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["open-port", "80/sctp"]),
        usage("invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\"")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["open-port", "90-80/tcp"]),
        usage("invalid port range 90-80/tcp")
    );
    assert_eq!(tool(&sim, "tiny/0", &["open-port", "8080"]), ok(""));
    assert_eq!(
        tool(&sim, "tiny/0", &["open-port", "9000-9010/udp"]),
        ok("")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["opened-ports"]),
        ok("8080/tcp\n9000-9010/udp\n")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["opened-ports", "--endpoints"]),
        ok("8080/tcp (*)\n9000-9010/udp (*)\n")
    );
    let o = sim.exec_argv("tiny/0", &["open-port 70-90 && open-port 80"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(1), "ERROR cannot open 80/tcp (unit \"tiny/0\"): port range conflicts with 70-90/tcp requested earlier\n"));
    assert_eq!(tool(&sim, "tiny/0", &["close-port", "8080/tcp"]), ok(""));
    assert_eq!(
        tool(&sim, "tiny/0", &["opened-ports", "--format=json"]),
        ok("[\"9000-9010/udp\"]\n")
    );
}

#[test]
fn network_and_unit_get() {
    let sim = two_tiny_units();
    assert_eq!(
        tool(
            &sim,
            "tiny/0",
            &["network-get", "website", "--ingress-address"]
        ),
        ok("127.0.0.1\n")
    );
    assert_eq!(
        tool(
            &sim,
            "tiny/0",
            &["network-get", "--bind-address", "juju-info"]
        ),
        ok("127.0.0.1\n")
    );
    assert_eq!(
        tool(
            &sim,
            "tiny/0",
            &[
                "network-get",
                "website",
                "--egress-subnets",
                "--format=json"
            ]
        ),
        ok("[\"127.0.0.1/32\"]\n")
    );
    assert_eq!(
        tool(
            &sim,
            "tiny/0",
            &[
                "network-get",
                "website",
                "--ingress-address",
                "--egress-subnets",
                "--format=json"
            ]
        ),
        ok("{\"egress-subnets\":[\"127.0.0.1/32\"],\"ingress-address\":\"127.0.0.1\"}\n")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["network-get", "cluster", "--format=json"]),
        ok("{\"bind-addresses\":[{\"addresses\":[{\"cidr\":\"127.0.0.0/8\",\"hostname\":\"\",\"value\":\"127.0.0.1\"}],\"interface-name\":\"lo\",\"mac-address\":\"00:00:00:00:00:00\"}],\"egress-subnets\":[\"127.0.0.1/32\"],\"ingress-addresses\":[\"127.0.0.1\"]}\n")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["network-get", "nope"]),
        fail("no network config found for binding \"nope\"")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["network-get"]),
        usage("no arguments specified")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["unit-get", "private-address"]),
        ok("127.0.0.1\n")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["unit-get", "x"]),
        usage("unknown setting \"x\"")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["unit-get"]),
        usage("no setting specified")
    );
    let uuid = tool(
        &sim,
        "tiny/0",
        &["relation-model-get", "-r", "0", "--format=json"],
    )
    .1;
    assert!(uuid.starts_with("{\"uuid\":\""), "{uuid}");
}

#[test]
fn state_tools() {
    let sim = two_tiny_units();
    assert_eq!(
        tool(&sim, "tiny/0", &["state-get", "--format=json"]),
        ok("null\n")
    );
    assert_eq!(tool(&sim, "tiny/0", &["state-set", "a=1", "b=2"]), ok(""));
    assert_eq!(tool(&sim, "tiny/0", &["state-get", "a"]), ok("1\n"));
    assert_eq!(
        tool(&sim, "tiny/0", &["state-get", "nope", "--format=json"]),
        ok("\"\"\n")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["state-get", "--strict", "nope"]),
        fail("\"nope\" not found")
    );
    assert_eq!(tool(&sim, "tiny/0", &["state-delete", "a"]), ok(""));
    assert_eq!(
        tool(&sim, "tiny/0", &["state-get", "--format=json"]),
        ok("{\"b\":\"2\"}\n")
    );
    assert_eq!(
        tool(&sim, "tiny/1", &["state-get", "--format=json"]),
        ok("null\n"),
        "state is per unit"
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["state-set", "--format=json", "a=1"]),
        usage("option provided but not defined: --format")
    );
}

#[test]
fn action_tools_outside_actions() {
    let sim = two_tiny_units();
    assert_eq!(
        tool(&sim, "tiny/0", &["action-get"]),
        fail("not running an action")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["action-set", "a=1"]),
        fail("not running an action")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["action-fail"]),
        fail("not running an action")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["action-log", "hi"]),
        fail("not running an action")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["action-log"]),
        usage("no message specified")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["action-set", "Foo=1"]),
        usage("key \"Foo\" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["action-set", "stdout=1"]),
        usage("cannot set reserved action key \"stdout\"")
    );
    assert_eq!(
        tool(&sim, "tiny/0", &["action-set", "x"]),
        usage("argument \"x\" must be of the form key...=value")
    );
}

#[test]
fn juju_log_goal_state_and_help() {
    let sim = two_tiny_units();
    assert_eq!(
        tool(&sim, "tiny/0", &["juju-log"]),
        usage("no message specified")
    );
    assert_eq!(
        tool(
            &sim,
            "tiny/0",
            &["juju-log", "--log-level", "warn", "--", "-disk", "full"]
        ),
        ok("")
    );
    let log = sim
        .ok(&["debug-log", "--replay", "--include", "tiny/0"])
        .stdout;
    assert!(
        log.lines().any(|l| l.starts_with("unit-tiny-0: ")
            && l.ends_with(" WARNING unit.tiny/0.juju-log -disk full")),
        "{log}"
    );
    let g = tool(&sim, "tiny/0", &["goal-state", "--format=json"]).1;
    let v: serde_json::Value = serde_json::from_str(&g).unwrap();
    assert_eq!(v["units"]["tiny/1"]["status"], "waiting");
    assert_eq!(v["relations"]["cluster"]["tiny/1"]["status"], "waiting");
    assert_eq!(
        tool(&sim, "tiny/0", &["goal-state", "--format=smart"]).0,
        Some(2)
    );
    assert_eq!(tool(&sim, "tiny/0", &["is-leader", "--help"]).0, Some(0));
}

#[test]
fn tool_without_context_or_with_unknown_name() {
    let sim = two_tiny_units();
    let tool = sim.dir().join("tools/is-leader");
    let o = std::process::Command::new(&tool)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string()
        ),
        (Some(1), "ERROR JUJU_CONTEXT_ID not set\n".to_string())
    );
    let sock = sim.dir().join("units/unit-tiny-0/agent.socket");
    let o = std::process::Command::new(&tool)
        .env_clear()
        .env("JUJU_CONTEXT_ID", "nope")
        .env("JUJU_AGENT_SOCKET_ADDRESS", &sock)
        .output()
        .unwrap();
    assert_eq!(
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string()
        ),
        (
            Some(1),
            "ERROR bad request: wrong context ID; got \"nope\"\n".to_string()
        )
    );
    let bogus = sim.scratch().join("bogus-tool");
    std::os::unix::fs::symlink(support::jujusim_bin(), &bogus).unwrap();
    let o = sim.exec_argv("tiny/0", &[bogus.to_str().unwrap()]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (Some(1), "ERROR bad request: unknown command: bogus-tool\n")
    );
}

#[test]
fn hook_environment_is_juju_s() {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", TINY_META, None, None, r#"if [ "$H" = hooks/cluster-relation-joined ]; then env | sort > "$CHARM_DIR/../env.txt"; pwd > "$CHARM_DIR/../pwd.txt"; fi"#);
    sim.deploy(&c, &["-n", "2"]);
    let env = std::fs::read_to_string(sim.dir().join("units/unit-tiny-1/env.txt")).unwrap();
    let keys: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|x| x.0))
        .filter(|k| !["PWD", "SHLVL", "_", "OLDPWD"].contains(k))
        .collect();
    assert_eq!(
        keys,
        vec![
            "APT_LISTCHANGES_FRONTEND",
            "CHARM_DIR",
            "CLOUD_API_VERSION",
            "DEBIAN_FRONTEND",
            "JUJU_AGENT_SOCKET_ADDRESS",
            "JUJU_AGENT_SOCKET_NETWORK",
            "JUJU_API_ADDRESSES",
            "JUJU_AVAILABILITY_ZONE",
            "JUJU_CHARM_DIR",
            "JUJU_CHARM_FTP_PROXY",
            "JUJU_CHARM_HTTPS_PROXY",
            "JUJU_CHARM_HTTP_PROXY",
            "JUJU_CHARM_NO_PROXY",
            "JUJU_CONTEXT_ID",
            "JUJU_DISPATCH_PATH",
            "JUJU_HOOK_NAME",
            "JUJU_MACHINE_ID",
            "JUJU_MODEL_NAME",
            "JUJU_MODEL_UUID",
            "JUJU_PRINCIPAL_UNIT",
            "JUJU_RELATION",
            "JUJU_RELATION_ID",
            "JUJU_REMOTE_APP",
            "JUJU_REMOTE_UNIT",
            "JUJU_SLA",
            "JUJU_UNIT_NAME",
            "JUJU_VERSION",
            "LANG",
            "PATH",
            "TERM",
        ]
    );
    for want in [
        "JUJU_HOOK_NAME=cluster-relation-joined",
        "JUJU_DISPATCH_PATH=hooks/cluster-relation-joined",
        "JUJU_RELATION=cluster",
        "JUJU_RELATION_ID=cluster:0",
        "JUJU_REMOTE_APP=tiny",
        "JUJU_REMOTE_UNIT=tiny/0",
        "JUJU_UNIT_NAME=tiny/1",
        "JUJU_MACHINE_ID=1",
        "JUJU_VERSION=3.6.1",
        "JUJU_AGENT_SOCKET_NETWORK=unix",
        "LANG=C.UTF-8",
    ] {
        assert!(env.lines().any(|l| l == want), "missing {want} in\n{env}");
    }
    assert!(env.contains(&format!(
        "CHARM_DIR={}\n",
        sim.dir().join("units/unit-tiny-1/charm").display()
    )));
    assert!(env.contains(&format!("PATH={}:", sim.dir().join("tools").display())));
    let pwd = std::fs::read_to_string(sim.dir().join("units/unit-tiny-1/pwd.txt")).unwrap();
    assert_eq!(
        pwd.trim(),
        sim.dir()
            .join("units/unit-tiny-1/charm")
            .display()
            .to_string()
    );
}
