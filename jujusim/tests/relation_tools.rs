//! relation-ids, relation-list, relation-get, relation-set: syntax, permissions, and
//! what commits, through `exec`.
mod support;
use support::tiny::{fail, ok, tool, two_tiny_units, usage};
use support::Model;

#[test]
fn relation_ids_list_get() {
    let sim = two_tiny_units();
    let bag = "{\"egress-subnets\":\"127.0.0.1/32\",\"ingress-address\":\"127.0.0.1\",\"private-address\":\"127.0.0.1\"}\n";
    #[rustfmt::skip]
    let cases: Vec<(&str, &[&str], _)> = vec![
        ("tiny/0", &["relation-ids", "cluster", "--format=json"], ok("[\"cluster:0\"]\n")),
        ("tiny/0", &["relation-ids", "website", "--format=json"], ok("[]\n")),
        ("tiny/0", &["relation-ids"], usage("no endpoint name specified")),
        ("tiny/0", &["relation-list", "-r", "0", "--format=json"], ok("[\"tiny/1\"]\n")),
        ("tiny/0", &["relation-list", "-r", "cluster:0"], ok("tiny/1\n")),
        ("tiny/0", &["relation-list", "-rcluster:0", "--app"], ok("tiny\n")),
        ("tiny/0", &["relation-list"], usage("no relation id specified")),
        ("tiny/0", &["relation-list", "-r", "db:99"],
            usage("invalid value \"db:99\" for option -r: relation not found")),
        ("tiny/0", &["relation-list", "-r", "x"],
            usage("invalid value \"x\" for option -r: invalid relation id")),
        ("tiny/0", &["relation-list", "-r"], usage("option needs an argument: -r")),
        ("tiny/0", &["relation-get", "-r", "0", "-", "tiny/1", "--format=json"], ok(bag)),
        ("tiny/0", &["relation-get", "-r", "0", "private-address", "tiny/1"], ok("127.0.0.1\n")),
        ("tiny/0", &["relation-get", "-r", "0", "nope", "tiny/1", "--format", "json"], ok("null\n")),
        ("tiny/0", &["relation-get", "-r", "0", "-", "tiny"],
            usage("expected unit name, got application name \"tiny\"")),
        ("tiny/0", &["relation-get", "-r", "0", "-", "x//0"], usage("invalid unit name \"x//0\"")),
        ("tiny/0", &["relation-get", "-r", "0"], usage("no unit or application specified")),
        ("tiny/0", &["relation-get", "-r", "0", "-", "other/0"], fail("permission denied")),
        // Peer app bag: readable by non-leaders.
        ("tiny/1", &["relation-get", "-r", "0", "--app", "-", "tiny", "--format=json"], ok("{}\n")),
    ];
    for (unit, argv, want) in cases {
        assert_eq!(tool(&sim, unit, argv), want, "{unit}: {argv:?}");
    }
}

#[test]
fn relation_set_rules_and_commit_through_exec() {
    let sim = two_tiny_units();
    assert_eq!(
        tool(&sim, "tiny/1", &["relation-set", "-r", "0", "--app", "a=b"]),
        fail("cannot write relation settings")
    );
    assert_eq!(
        tool(&sim, "tiny/1", &["relation-set", "-r", "0", "foo"]),
        usage("expected \"key=value\", got \"foo\"")
    );
    assert_eq!(
        tool(&sim, "tiny/1", &["relation-set", "-r", "0", "=v"]),
        usage("expected \"key=value\", got \"=v\"")
    );
    assert_eq!(
        tool(&sim, "tiny/1", &["relation-set", "-r", "0", "a=1", "a=2"]),
        usage("key \"a\" specified more than once")
    );
    assert_eq!(
        tool(
            &sim,
            "tiny/1",
            &["relation-set", "-r", "0", "--format=json", "a=1"]
        ),
        (
            Some(0),
            String::new(),
            "--format flag deprecated for command \"relation-set\"\n".into()
        )
    );
    sim.take_events();
    // Within one exec: own pending changes are visible; after exit 0 they are committed.
    let o = sim.exec_argv("tiny/1", &["relation-set -r 0 ' k = v ' && relation-get -r 0 k tiny/1 && echo '{\"j\": \"1\"}' | relation-set -r 0 --file -"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (Some(0), "v\n"),
        "{}",
        o.stderr
    );
    assert_eq!(
        sim.take_events(),
        vec!["tiny/0 hooks/cluster-relation-changed tiny/1".to_string()]
    );
    let bag = tool(
        &sim,
        "tiny/0",
        &["relation-get", "-r", "0", "-", "tiny/1", "--format=json"],
    )
    .1;
    assert!(bag.contains("\"j\":\"1\",\"k\":\"v\""), "{bag}");
    // Leader writes the peer app bag; the follower reads it; a failing exec discards.
    assert_eq!(
        tool(&sim, "tiny/0", &["relation-set", "-r", "0", "--app", "x=1"]).0,
        Some(0)
    );
    let o = sim.exec_argv("tiny/0", &["relation-set -r 0 --app x=2; exit 3"]);
    assert_eq!(o.code, Some(3));
    assert_eq!(
        tool(
            &sim,
            "tiny/1",
            &["relation-get", "-r", "0", "--app", "x", "tiny"]
        ),
        ok("1\n")
    );
}

#[test]
fn non_leader_cannot_read_own_app_bag_outside_peers() {
    let sim = Model::host_machines().ordered();
    let web = sim.event_charm(
        "web",
        "provides:\n  website:\n    interface: http\n",
        None,
        None,
        "",
    );
    let proxy = sim.event_charm(
        "proxy",
        "requires:\n  rp:\n    interface: http\n",
        None,
        None,
        "",
    );
    sim.deploy(&web, &["-n", "2"]);
    sim.deploy(&proxy, &[]);
    sim.ok(&["integrate", "web", "proxy"]);
    assert_eq!(
        tool(
            &sim,
            "web/1",
            &["relation-get", "-r", "0", "--app", "-", "web"]
        ),
        fail("permission denied")
    );
    assert_eq!(
        tool(
            &sim,
            "web/0",
            &[
                "relation-get",
                "-r",
                "0",
                "--app",
                "-",
                "web",
                "--format=json"
            ]
        ),
        ok("{}\n")
    );
    assert_eq!(
        tool(
            &sim,
            "web/1",
            &[
                "relation-get",
                "-r",
                "0",
                "--app",
                "-",
                "proxy",
                "--format=json"
            ]
        ),
        ok("{}\n")
    );
}
