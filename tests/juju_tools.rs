//! HookTools against fake tool executables: exact argv, stdin, parsing and error mapping.

mod support;

use std::collections::BTreeMap;

use charm::juju::tools::{BindAddress, InterfaceAddress};
use charm::juju::{
    AppName, HookToolError, HookTools, LogLevel, NetworkInfo, Port, PortRange, ProcessRunner,
    RelationId, SecretContent, SecretUri, Status, UnitName,
};
use charm::secret::Secret;
use support::{strings, FakeTools};

fn setup() -> (FakeTools, HookTools<ProcessRunner>) {
    let fake = FakeTools::new();
    let tools = HookTools::new(fake.runner());
    (fake, tools)
}

fn rel(s: &str) -> RelationId {
    s.parse().unwrap()
}

fn unit(s: &str) -> UnitName {
    s.parse().unwrap()
}

fn bag(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn config_get_parses_map_and_null() {
    let (fake, tools) = setup();
    fake.respond(
        "config-get",
        "{\"http-port\":5000,\"auth-basic-user\":\"\",\"debug\":true}\n",
    );
    let cfg = tools.config_get().unwrap();
    assert_eq!(
        fake.only_call().argv(),
        strings(&["config-get", "--format=json"])
    );
    assert_eq!(cfg["http-port"], 5000);
    assert_eq!(cfg["debug"], true);
    assert!(!cfg.contains_key("missing"));

    fake.respond("config-get", "null\n");
    assert!(tools.config_get().unwrap().is_empty());
}

#[test]
fn relation_ids_argv_and_parse() {
    let (fake, tools) = setup();
    fake.respond(
        "relation-ids",
        "[\"cert-provider:1\",\"cert-provider:4\"]\n",
    );
    let ids = tools.relation_ids("cert-provider").unwrap();
    assert_eq!(
        fake.only_call().argv(),
        strings(&["relation-ids", "--format=json", "cert-provider"])
    );
    assert_eq!(ids, vec![rel("cert-provider:1"), rel("cert-provider:4")]);

    fake.respond("relation-ids", "[]\n");
    assert!(tools.relation_ids("db").unwrap().is_empty());
}

#[test]
fn relation_ids_garbage_is_bad_output() {
    let (fake, tools) = setup();
    fake.respond("relation-ids", "[\"no-colon\"]\n");
    let e = tools.relation_ids("db").unwrap_err();
    assert!(
        matches!(e, HookToolError::BadOutput { ref tool, .. } if tool == "relation-ids"),
        "{e:?}"
    );
    fake.respond("relation-ids", "not json");
    assert!(matches!(
        tools.relation_ids("db"),
        Err(HookToolError::BadOutput { .. })
    ));
}

#[test]
fn relation_list_units_and_app() {
    let (fake, tools) = setup();
    fake.respond("relation-list", "[\"haproxy/0\",\"haproxy/2\"]\n");
    let units = tools.relation_list(&rel("website:3")).unwrap();
    assert_eq!(units, vec![unit("haproxy/0"), unit("haproxy/2")]);
    fake.respond("relation-list", "\"haproxy\"\n");
    let app = tools.relation_list_app(&rel("website:3")).unwrap();
    assert_eq!(app, Some("haproxy".parse::<AppName>().unwrap()));
    fake.respond("relation-list", "null\n");
    assert_eq!(tools.relation_list_app(&rel("website:3")).unwrap(), None);
    assert!(tools.relation_list(&rel("website:3")).unwrap().is_empty());

    let calls: Vec<_> = fake.calls().iter().map(|c| c.argv()).collect();
    assert_eq!(
        calls,
        vec![
            strings(&["relation-list", "--format=json", "-r", "website:3"]),
            strings(&["relation-list", "--format=json", "--app", "-r", "website:3"]),
            strings(&["relation-list", "--format=json", "--app", "-r", "website:3"]),
            strings(&["relation-list", "--format=json", "-r", "website:3"]),
        ]
    );
}

#[test]
fn relation_get_unit_and_app() {
    let (fake, tools) = setup();
    fake.respond(
        "relation-get",
        "{\"egress-subnets\":\"10.0.0.5/32\",\"ingress-address\":\"10.0.0.5\",\"private-address\":\"10.0.0.5\"}\n",
    );
    let b = tools
        .relation_get_unit(&rel("nrpe-external-master:9"), &unit("nrpe/0"))
        .unwrap();
    assert_eq!(
        b.get("ingress-address").map(String::as_str),
        Some("10.0.0.5")
    );
    assert_eq!(b.get("missing"), None);
    assert_eq!(
        fake.only_call().argv(),
        strings(&[
            "relation-get",
            "--format=json",
            "-r",
            "nrpe-external-master:9",
            "-",
            "nrpe/0"
        ])
    );

    // An app bag nobody wrote reads as null, an empty one as {}: both are empty.
    let app: AppName = "easyrsa".parse().unwrap();
    fake.respond("relation-get", "null\n");
    assert!(tools
        .relation_get_app(&rel("cert-provider:2"), &app)
        .unwrap()
        .is_empty());
    fake.respond("relation-get", "{}\n");
    assert!(tools
        .relation_get_app(&rel("cert-provider:2"), &app)
        .unwrap()
        .is_empty());
    fake.respond("relation-get", "");
    assert!(tools
        .relation_get_unit(&rel("cert-provider:2"), &unit("easyrsa/0"))
        .unwrap()
        .is_empty());
    assert_eq!(
        fake.calls()[1].argv(),
        strings(&[
            "relation-get",
            "--format=json",
            "-r",
            "cert-provider:2",
            "--app",
            "-",
            "easyrsa"
        ])
    );
}

#[test]
fn relation_get_non_string_value_is_bad_output() {
    let (fake, tools) = setup();
    fake.respond("relation-get", "{\"port\":5000}\n");
    let e = tools
        .relation_get_unit(&rel("db:1"), &unit("a/0"))
        .unwrap_err();
    assert!(matches!(e, HookToolError::BadOutput { .. }), "{e:?}");
}

#[test]
fn relation_set_sends_json_on_stdin() {
    let (fake, tools) = setup();
    let changes = bag(&[
        ("registry_netloc", "10.0.0.5:5000"),
        ("old", ""),
        ("quote", "a \"b\"\n"),
    ]);
    tools
        .relation_set(&rel("docker-registry:4"), false, &changes)
        .unwrap();
    tools
        .relation_set(&rel("docker-registry:4"), true, &bag(&[("k", "v")]))
        .unwrap();
    tools
        .relation_set(&rel("docker-registry:4"), true, &BTreeMap::new())
        .unwrap();
    let calls = fake.calls();
    assert_eq!(
        calls.len(),
        2,
        "empty changes must not call the tool: {calls:?}"
    );
    assert_eq!(
        calls[0].argv(),
        strings(&["relation-set", "-r", "docker-registry:4", "--file", "-"])
    );
    assert_eq!(
        calls[1].argv(),
        strings(&[
            "relation-set",
            "-r",
            "docker-registry:4",
            "--app",
            "--file",
            "-"
        ])
    );
    let sent: BTreeMap<String, String> = serde_json::from_slice(&calls[0].stdin).unwrap();
    assert_eq!(sent, changes);
    assert_eq!(calls[1].stdin, b"{\"k\":\"v\"}");
}

#[test]
fn status_set_syntax() {
    let (fake, tools) = setup();
    tools.status_set(&Status::active("Ready"), false).unwrap();
    tools
        .status_set(&Status::blocked("-x starts with a dash"), true)
        .unwrap();
    tools.status_set(&Status::waiting(""), false).unwrap();
    tools
        .status_set(&Status::maintenance("installing"), false)
        .unwrap();
    let calls: Vec<_> = fake.calls().iter().map(|c| c.argv()).collect();
    assert_eq!(
        calls,
        vec![
            strings(&["status-set", "active", "--", "Ready"]),
            strings(&[
                "status-set",
                "--application",
                "blocked",
                "--",
                "-x starts with a dash"
            ]),
            strings(&["status-set", "waiting"]),
            strings(&["status-set", "maintenance", "--", "installing"]),
        ]
    );
    assert!(calls.iter().flatten().all(|a| !a.starts_with("--format")));
}

#[test]
fn version_ports_and_opened_ports() {
    let (fake, tools) = setup();
    tools.application_version_set("2.8.2").unwrap();
    tools.open_port(&Port::tcp(5000)).unwrap();
    tools.close_port(&Port::udp(53)).unwrap();
    fake.respond("opened-ports", "[\"80/tcp\",\"8000-8100/udp\",\"icmp\"]\n");
    let open = tools.opened_ports().unwrap();
    assert_eq!(
        open,
        vec![
            "80/tcp".parse::<PortRange>().unwrap(),
            "8000-8100/udp".parse().unwrap()
        ]
    );
    let calls: Vec<_> = fake.calls().iter().map(|c| c.argv()).collect();
    assert_eq!(
        calls,
        vec![
            strings(&["application-version-set", "--", "2.8.2"]),
            strings(&["open-port", "5000/tcp"]),
            strings(&["close-port", "53/udp"]),
            strings(&["opened-ports", "--format=json"]),
        ]
    );
    fake.respond("opened-ports", "null\n");
    assert!(tools.opened_ports().unwrap().is_empty());
    fake.respond("opened-ports", "[\"80/sctp\"]\n");
    assert!(matches!(
        tools.opened_ports(),
        Err(HookToolError::BadOutput { .. })
    ));
}

#[test]
fn network_get_full_and_sparse() {
    let (fake, tools) = setup();
    fake.respond(
        "network-get",
        r#"{"bind-addresses":[{"mac-address":"00:16:3e:aa:bb:cc","interface-name":"eth0","addresses":[{"hostname":"","value":"10.0.0.5","cidr":"10.0.0.0/24"}]}],"egress-subnets":["10.0.0.5/32"],"ingress-addresses":["10.0.0.6"]}"#,
    );
    let info = tools
        .network_get("website", Some(&rel("website:2")))
        .unwrap();
    assert_eq!(
        info,
        NetworkInfo {
            bind_addresses: vec![BindAddress {
                mac_address: "00:16:3e:aa:bb:cc".into(),
                interface_name: "eth0".into(),
                addresses: vec![InterfaceAddress {
                    hostname: "".into(),
                    value: "10.0.0.5".into(),
                    cidr: "10.0.0.0/24".into(),
                }],
            }],
            ingress_addresses: vec!["10.0.0.6".into()],
            egress_subnets: vec!["10.0.0.5/32".into()],
        }
    );
    assert_eq!(info.ingress_address(), Some("10.0.0.6"));
    assert_eq!(info.bind_address(), Some("10.0.0.5"));
    assert_eq!(
        fake.only_call().argv(),
        strings(&["network-get", "--format=json", "-r", "website:2", "website"])
    );

    // Juju omits empty keys; ingress falls back to the first bind address.
    fake.respond(
        "network-get",
        r#"{"bind-addresses":[{"interface-name":"eth0","addresses":[{"value":"10.1.1.1"}]}]}"#,
    );
    assert_eq!(
        tools.ingress_address("juju-info").unwrap().as_deref(),
        Some("10.1.1.1")
    );
    assert_eq!(
        fake.calls()[1].argv(),
        strings(&["network-get", "--format=json", "juju-info"])
    );
    fake.respond("network-get", "{}");
    assert_eq!(tools.ingress_address("juju-info").unwrap(), None);
    fake.respond(
        "network-get",
        r#"{"bind-addresses":null,"ingress-addresses":null}"#,
    );
    assert_eq!(
        tools.network_get("x", None).unwrap(),
        NetworkInfo::default()
    );
}

#[test]
fn unit_get_and_is_leader() {
    let (fake, tools) = setup();
    fake.respond("unit-get", "\"10.0.0.5\"\n");
    assert_eq!(tools.unit_get_private_address().unwrap(), "10.0.0.5");
    fake.respond("is-leader", "true\n");
    assert!(tools.is_leader().unwrap());
    fake.respond("is-leader", "false\n");
    assert!(!tools.is_leader().unwrap());
    let calls: Vec<_> = fake.calls().iter().map(|c| c.argv()).collect();
    assert_eq!(
        calls[0],
        strings(&["unit-get", "--format=json", "private-address"])
    );
    assert_eq!(calls[1], strings(&["is-leader", "--format=json"]));
    fake.respond("unit-get", "null\n");
    assert!(matches!(
        tools.unit_get_private_address(),
        Err(HookToolError::BadOutput { .. })
    ));
    fake.respond("is-leader", "\"yes\"\n");
    assert!(matches!(
        tools.is_leader(),
        Err(HookToolError::BadOutput { .. })
    ));
}

/// The public address is optional to Juju: "not found" is `None`, any other failure an error.
#[test]
fn unit_get_public_address_may_be_missing() {
    let (fake, tools) = setup();
    fake.respond("unit-get", "\"203.0.113.7\"\n");
    assert_eq!(
        tools.unit_get_public_address().unwrap().as_deref(),
        Some("203.0.113.7")
    );
    assert_eq!(
        fake.only_call().argv(),
        strings(&["unit-get", "--format=json", "public-address"])
    );
    fake.fail("unit-get", 1, "ERROR public address not found\n");
    assert_eq!(tools.unit_get_public_address().unwrap(), None);
    fake.fail("unit-get", 1, "ERROR connection is shut down\n");
    assert!(matches!(
        tools.unit_get_public_address(),
        Err(HookToolError::Tool { .. })
    ));
}

#[test]
fn leader_get_and_set() {
    let (fake, tools) = setup();
    fake.respond("leader-get", "{\"http-password\":\"s3cret\"}\n");
    assert_eq!(
        tools.leader_get().unwrap(),
        bag(&[("http-password", "s3cret")])
    );
    fake.respond("leader-get", "null\n");
    assert!(tools.leader_get().unwrap().is_empty());
    tools
        .leader_set(&bag(&[("b", "2"), ("a", "x=y"), ("gone", "")]))
        .unwrap();
    tools.leader_set(&BTreeMap::new()).unwrap();
    let calls: Vec<_> = fake.calls().iter().map(|c| c.argv()).collect();
    assert_eq!(
        calls,
        vec![
            strings(&["leader-get", "--format=json"]),
            strings(&["leader-get", "--format=json"]),
            strings(&["leader-set", "a=x=y", "b=2", "gone="]),
        ]
    );
    let e = tools.leader_set(&bag(&[("a=b", "1")])).unwrap_err();
    assert!(matches!(e, HookToolError::InvalidKey { .. }), "{e:?}");
    assert_eq!(
        fake.calls().len(),
        3,
        "an invalid key must not reach the tool"
    );
}

#[test]
fn leader_set_failure_hides_values() {
    let (fake, tools) = setup();
    fake.fail(
        "leader-set",
        1,
        "ERROR cannot write leadership settings: cannot write settings: not the leader\n",
    );
    let e = tools
        .leader_set(&bag(&[("password", "hunter2")]))
        .unwrap_err();
    match &e {
        HookToolError::NotLeader { tool, stderr, .. } => {
            assert_eq!(tool, "leader-set");
            assert_eq!(
                stderr,
                "ERROR cannot write leadership settings: cannot write settings: not the leader\n"
            );
        }
        other => panic!("{other:?}"),
    }
    let shown = e.to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("password=***"), "{shown}");
}

#[test]
fn state_get_set_delete() {
    let (fake, tools) = setup();
    fake.respond("state-get", "null\n");
    assert!(tools.state_get().unwrap().is_empty());
    fake.respond("state-get", "{\"installed\":\"2.8.2\"}\n");
    assert_eq!(tools.state_get().unwrap(), bag(&[("installed", "2.8.2")]));
    tools.state_set(&bag(&[("config-hash", "abc")])).unwrap();
    tools.state_set(&BTreeMap::new()).unwrap();
    tools.state_delete("config-hash").unwrap();
    let calls = fake.calls();
    let argvs: Vec<_> = calls.iter().map(|c| c.argv()).collect();
    assert_eq!(
        argvs,
        vec![
            strings(&["state-get", "--format=json"]),
            strings(&["state-get", "--format=json"]),
            strings(&["state-set", "--file", "-"]),
            strings(&["state-delete", "config-hash"]),
        ]
    );
    assert_eq!(calls[2].stdin, b"{\"config-hash\":\"abc\"}");
    assert!(calls[3].stdin.is_empty());
}

#[test]
fn action_tools() {
    let (fake, tools) = setup();
    fake.respond("action-get", "{\"image\":\"busybox\",\"opts\":{\"n\":1}}\n");
    let params = tools.action_get().unwrap();
    assert_eq!(params["image"], "busybox");
    assert_eq!(params["opts"]["n"], 1);
    fake.respond("action-get", "null\n");
    assert_eq!(tools.action_get().unwrap(), serde_json::json!({}));
    tools
        .action_set(&bag(&[("outfile.size", "10G"), ("a", "1 2")]))
        .unwrap();
    tools.action_fail("-boom").unwrap();
    tools.action_log("pushing busybox").unwrap();
    let calls: Vec<_> = fake.calls().iter().map(|c| c.argv()).collect();
    assert_eq!(
        calls,
        vec![
            strings(&["action-get", "--format=json"]),
            strings(&["action-get", "--format=json"]),
            strings(&["action-set", "a=1 2", "outfile.size=10G"]),
            strings(&["action-fail", "--", "-boom"]),
            strings(&["action-log", "--", "pushing busybox"]),
        ]
    );
}

#[test]
fn action_set_rejects_bad_keys_before_calling() {
    let (fake, tools) = setup();
    for key in [
        "Upper",
        "stdout",
        "stderr-encoding",
        "a..b",
        "under_score",
        "-lead",
        "trail-",
    ] {
        let e = tools
            .action_set(&bag(&[("ok", "1"), (key, "v")]))
            .unwrap_err();
        match &e {
            HookToolError::InvalidKey { tool, key: k, .. } => {
                assert_eq!(tool, "action-set");
                assert_eq!(k, key);
            }
            other => panic!("{key}: {other:?}"),
        }
        assert!(!e.to_string().contains("=v"), "{e}");
    }
    assert!(fake.calls().is_empty());
}

#[test]
fn juju_log_syntax() {
    let (fake, tools) = setup();
    tools.juju_log(LogLevel::Warning, "--not-a-flag").unwrap();
    tools.juju_log(LogLevel::Debug, "multi\nline").unwrap();
    let calls: Vec<_> = fake.calls().iter().map(|c| c.argv()).collect();
    assert_eq!(
        calls,
        vec![
            strings(&["juju-log", "--log-level", "WARNING", "--", "--not-a-flag"]),
            strings(&["juju-log", "--log-level", "DEBUG", "--", "multi\nline"]),
        ]
    );
}

#[test]
fn relation_not_found_keeps_stderr() {
    let (fake, tools) = setup();
    let stderr = "ERROR invalid value \"db:9\" for option -r: relation not found\n";
    fake.fail("relation-get", 2, stderr);
    let e = tools
        .relation_get_unit(&rel("db:9"), &unit("pg/0"))
        .unwrap_err();
    match &e {
        HookToolError::RelationNotFound {
            tool,
            args,
            stderr: s,
        } => {
            assert_eq!(tool, "relation-get");
            assert_eq!(
                args,
                &strings(&["--format=json", "-r", "db:9", "-", "pg/0"])
            );
            assert_eq!(s, stderr);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .contains("relation-get --format=json -r db:9 - pg/0"),
        "{e}"
    );
}

#[test]
fn not_leader_and_permission_denied() {
    let (fake, tools) = setup();
    fake.fail("status-set", 1, "ERROR this unit is not the leader\n");
    let e = tools.status_set(&Status::active(""), true).unwrap_err();
    assert!(matches!(e, HookToolError::NotLeader { .. }), "{e:?}");

    fake.fail("relation-set", 1, "ERROR cannot write relation settings\n");
    let e = tools
        .relation_set(&rel("peer:0"), true, &bag(&[("secret", "hunter2")]))
        .unwrap_err();
    assert!(matches!(e, HookToolError::NotLeader { .. }), "{e:?}");
    assert!(!e.to_string().contains("hunter2"));

    fake.fail("relation-get", 1, "ERROR permission denied\n");
    let app: AppName = "docker-registry".parse().unwrap();
    let e = tools.relation_get_app(&rel("peer:0"), &app).unwrap_err();
    assert!(matches!(e, HookToolError::PermissionDenied { .. }), "{e:?}");
}

#[test]
fn other_failures_keep_code_and_stderr_verbatim() {
    let (fake, tools) = setup();
    let stderr = "ERROR cannot open 5000/tcp (unit \"a/0\"): port range conflicts with 5000/tcp (unit \"b/0\")\n";
    fake.fail("open-port", 1, stderr);
    match tools.open_port(&Port::tcp(5000)).unwrap_err() {
        HookToolError::Tool {
            tool,
            args,
            code,
            stderr: s,
        } => {
            assert_eq!(tool, "open-port");
            assert_eq!(args, strings(&["5000/tcp"]));
            assert_eq!(code, Some(1));
            assert_eq!(s, stderr);
        }
        other => panic!("{other:?}"),
    }
    fake.fail(
        "config-get",
        2,
        "ERROR option provided but not defined: --bogus\n",
    );
    let e = tools.config_get().unwrap_err();
    assert!(
        matches!(e, HookToolError::Tool { code: Some(2), .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("exit status 2"), "{e}");
}

#[test]
fn missing_tool_is_spawn_error() {
    let (fake, tools) = setup();
    fake.remove("is-leader");
    let e = tools.is_leader().unwrap_err();
    match &e {
        HookToolError::Spawn { tool, cause } => {
            assert_eq!(tool, "is-leader");
            assert_eq!(cause.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string().contains("only on PATH inside a Juju hook"),
        "{e}"
    );
}

#[test]
fn tool_that_ignores_large_stdin_is_not_an_error() {
    let (fake, tools) = setup();
    fake.ignore_stdin("state-set");
    // Far more than a pipe buffer, so the writer sees EPIPE rather than finishing first.
    let big = "x".repeat(4 << 20);
    tools.state_set(&bag(&[("blob", &big)])).unwrap();
    assert_eq!(
        fake.only_call().argv(),
        strings(&["state-set", "--file", "-"])
    );
}

#[test]
fn tool_killed_by_signal_has_no_exit_code() {
    let (fake, tools) = setup();
    fake.kill("config-get");
    let e = tools.config_get().unwrap_err();
    assert!(matches!(e, HookToolError::Tool { code: None, .. }), "{e:?}");
    assert!(e.to_string().contains("killed by a signal"), "{e}");
}

const URI: &str = "secret://6f1c7c4e-0000-4000-8000-000000000001/cjc0ljh7n7b0s5h4q6b0";

fn content(pairs: &[(&str, &str)]) -> SecretContent {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Secret::new(*v)))
        .collect()
}

/// secret-add and secret-set pass each value as `key#file=PATH`: never in argv, the file
/// 0600 in a 0700 directory while the tool runs, gone once it returned.
#[test]
fn secret_add_and_set_keep_values_out_of_argv() {
    let (fake, tools) = setup();
    fake.respond("secret-add", &format!("{URI}\n"));
    let value = "c2VjcmV0LXZhbHVlLW5ldmVyLWluLWFyZ3Y=";
    let uri = tools
        .secret_add(
            "registry-shared",
            "shared by all units",
            &content(&[
                ("http-secret", value),
                ("ca-key", "-----BEGIN KEY-----\nx\n"),
            ]),
        )
        .unwrap();
    assert_eq!(uri.to_string(), URI);
    let call = fake.only_call();
    assert_eq!(
        call.args[..4],
        strings(&[
            "--label",
            "registry-shared",
            "--description",
            "shared by all units"
        ])
    );
    assert!(call.args[4].starts_with("ca-key#file=/"), "{:?}", call.args);
    assert!(
        call.args[5].starts_with("http-secret#file=/"),
        "{:?}",
        call.args
    );
    assert!(call
        .argv()
        .iter()
        .all(|a| !a.contains(value) && !a.contains("BEGIN")));
    let modes: Vec<(&str, &str)> = call
        .files
        .iter()
        .map(|(m, d, _)| (m.as_str(), d.as_str()))
        .collect();
    assert_eq!(modes, [("600", "700"), ("600", "700")]);
    assert_eq!(call.files[0].2, "-----BEGIN KEY-----\nx\n");
    assert_eq!(call.files[1].2, value, "exact bytes, no newline added");
    for a in &call.args[4..] {
        let path = a.split_once("#file=").unwrap().1;
        assert!(!std::path::Path::new(path).exists(), "{path} left behind");
    }

    let uri: SecretUri = URI.parse().unwrap();
    tools
        .secret_set(&uri, &content(&[("http-secret", "new")]))
        .unwrap();
    let set = fake.calls().pop().unwrap();
    assert_eq!(set.args[0], URI);
    assert!(set.args[1].starts_with("http-secret#file=/"));
    assert_eq!(set.files[0].2, "new");
}

#[test]
fn secret_add_refuses_a_key_juju_would_refuse_before_calling() {
    let (fake, tools) = setup();
    let e = tools
        .secret_add("l", "d", &content(&[("http_secret", "v")]))
        .unwrap_err();
    assert!(matches!(e, HookToolError::InvalidKey { ref key, .. } if key == "http_secret"));
    assert!(fake.calls().is_empty());
}

#[test]
fn secret_get_and_info_get_argv_and_parse() {
    let (fake, tools) = setup();
    let uri: SecretUri = URI.parse().unwrap();
    fake.respond("secret-get", "{\"http-secret\":\"abc\"}\n");
    let got = tools.secret_get(&uri, true).unwrap();
    assert_eq!(got["http-secret"].expose(), "abc");
    assert_eq!(
        fake.calls().pop().unwrap().argv(),
        strings(&["secret-get", "--format=json", "--refresh", URI])
    );
    tools.secret_get(&uri, false).unwrap();
    assert_eq!(
        fake.calls().pop().unwrap().argv(),
        strings(&["secret-get", "--format=json", URI])
    );
    // A non-string value is bad output, and the message never quotes a value.
    fake.respond("secret-get", "{\"http-secret\":12345678}\n");
    let e = tools.secret_get(&uri, false).unwrap_err();
    assert!(matches!(e, HookToolError::BadOutput { .. }), "{e:?}");
    assert!(!e.to_string().contains("12345678"), "{e}");

    fake.respond(
        "secret-info-get",
        "{\"cjc0ljh7n7b0s5h4q6b0\":{\"revision\":3,\"label\":\"registry-shared\",\"owner\":\"application\",\"rotation\":\"never\"}}\n",
    );
    let info = tools.secret_info_get("registry-shared").unwrap();
    assert_eq!(info.uri.id(), "cjc0ljh7n7b0s5h4q6b0");
    assert_eq!(info.revision, 3);
    assert_eq!(info.label.as_deref(), Some("registry-shared"));
    assert_eq!(
        fake.calls().pop().unwrap().argv(),
        strings(&[
            "secret-info-get",
            "--format=json",
            "--label",
            "registry-shared"
        ])
    );

    tools.secret_remove_revision(&uri, 2).unwrap();
    assert_eq!(
        fake.calls().pop().unwrap().argv(),
        strings(&["secret-remove", "--revision", "2", URI])
    );
}

/// "not found" from a secret tool is its own error (ops' SecretNotFoundError); a
/// non-leader's write is NotLeader; a reader without access PermissionDenied.
#[test]
fn secret_errors_are_typed() {
    let (fake, tools) = setup();
    fake.fail(
        "secret-info-get",
        1,
        "ERROR secret \"registry-shared\" not found\n",
    );
    let e = tools.secret_info_get("registry-shared").unwrap_err();
    assert!(matches!(e, HookToolError::SecretNotFound { .. }), "{e:?}");
    let uri: SecretUri = URI.parse().unwrap();
    fake.fail("secret-get", 1, "ERROR permission denied\n");
    let e = tools.secret_get(&uri, true).unwrap_err();
    assert!(matches!(e, HookToolError::PermissionDenied { .. }), "{e:?}");
    fake.fail("secret-set", 1, "ERROR this unit is not the leader\n");
    let e = tools
        .secret_set(&uri, &content(&[("http-secret", "hunter2")]))
        .unwrap_err();
    assert!(matches!(e, HookToolError::NotLeader { .. }), "{e:?}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}
