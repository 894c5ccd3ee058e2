//! Juju secrets (docs/juju.md#secrets): an application secret shared over a relation,
//! a consumer tracking its revision until it refreshes, `secret-changed` for the
//! consumer, `secret-remove` for the owner once nobody tracks the old revision, the
//! tools' errors and exit codes, commit on exit 0 only, and the `secrets` and
//! `show-secret` commands.
mod support;
use support::tiny::{fail, ok, tool, usage};
use support::Model;

const OWNER_META: &str = "provides:\n  creds:\n    interface: creds\n";
const CONSUMER_META: &str = "requires:\n  creds:\n    interface: creds\n";

/// The owner's leader shares a secret with each related application: its value goes
/// through a file (`#file`), never argv.
const OWNER_BODY: &str = r#"if [ "$H" = hooks/creds-relation-created ] && [ "$(is-leader)" = True ]; then
  f=$(mktemp); printf 's3cret one' > "$f"
  id=$(secret-add --label creds "password#file=$f"); rm -f "$f"
  secret-grant "$id" -r "$JUJU_RELATION_ID"
  relation-set --app "secret-id=$id"
fi
if [ "$H" = hooks/secret-remove ]; then
  echo "remove $JUJU_SECRET_ID $JUJU_SECRET_LABEL $JUJU_SECRET_REVISION" >> "$CHARM_DIR/../../../seen"
  secret-remove "$JUJU_SECRET_ID" --revision "$JUJU_SECRET_REVISION"
fi"#;

/// The consumer reads the secret under its own label; on secret-changed it records the
/// tracked value, the peeked one, then refreshes.
const CONSUMER_BODY: &str = r#"S="$CHARM_DIR/../../../seen"
if [ "$H" = hooks/creds-relation-changed ] && [ -z "$JUJU_REMOTE_UNIT" ]; then
  id=$(relation-get --app secret-id "$JUJU_REMOTE_APP")
  echo "read $(secret-get "$id" password --label mine)" >> "$S"
fi
if [ "$H" = hooks/secret-changed ]; then
  echo "changed $JUJU_SECRET_LABEL rev=${JUJU_SECRET_REVISION:-none}" >> "$S"
  echo "tracked $(secret-get --label mine)" >> "$S"
  echo "peek $(secret-get "$JUJU_SECRET_ID" password --peek)" >> "$S"
  echo "still $(secret-get "$JUJU_SECRET_ID" password)" >> "$S"
  echo "refresh $(secret-get "$JUJU_SECRET_ID" password --refresh)" >> "$S"
  echo "now $(secret-get "$JUJU_SECRET_ID" password)" >> "$S"
fi"#;

fn seen(sim: &Model) -> Vec<String> {
    let text = std::fs::read_to_string(sim.dir().join("seen")).unwrap_or_default();
    let _ = std::fs::remove_file(sim.dir().join("seen"));
    text.lines().map(String::from).collect()
}

/// vault (2 units, vault/0 leads) shares a secret with client/0.
fn shared() -> (Model, String) {
    let sim = Model::host_machines().ordered();
    let o = sim.event_charm("vault", OWNER_META, None, None, OWNER_BODY);
    sim.deploy(&o, &["-n", "2"]);
    let c = sim.event_charm("client", CONSUMER_META, None, None, CONSUMER_BODY);
    sim.deploy(&c, &[]);
    sim.ok(&["integrate", "vault", "client"]);
    sim.take_events();
    let uri = sim
        .exec("vault/0", "relation-get -r creds:0 --app secret-id vault")
        .text()
        .to_string();
    (sim, uri)
}

#[test]
fn a_consumer_tracks_its_revision_until_it_refreshes() {
    let (sim, uri) = shared();
    assert!(uri.starts_with("secret://"), "{uri}");
    assert_eq!(seen(&sim), ["read s3cret one"]);

    // A new revision: the consumer hears of it, reads its tracked revision until it
    // refreshes; the owner then removes the revision nobody tracks.
    sim.exec("vault/0", &format!("secret-set {uri} 'password=two two'"));
    let ev = sim.take_events();
    assert!(
        ev.contains(&"client/0 hooks/secret-changed".to_string()),
        "{ev:?}"
    );
    assert_eq!(
        seen(&sim),
        [
            "changed mine rev=none",
            "tracked password: s3cret one",
            "peek two two",
            "still s3cret one",
            "refresh two two",
            "now two two",
            &format!("remove {uri} creds 1"),
        ]
    );
    let info = sim.exec("vault/0", &format!("secret-info-get {uri} --format json"));
    let v: serde_json::Value = serde_json::from_str(info.text()).unwrap();
    let id = uri.rsplit('/').next().unwrap();
    assert_eq!(v[id]["revision"], 2, "{v}");
    assert_eq!(v[id]["label"], "creds");
    assert_eq!(v[id]["owner"], "application");
    assert_eq!(v[id]["access"][0]["target"], "application-client", "{v}");
    // Revision 1 is gone: only 2 is left.
    let shown = sim.json(&["show-secret", id, "--revisions", "--format", "json"]);
    assert_eq!(
        shown[id]["revisions"].as_array().map(|r| r.len()),
        Some(1),
        "{shown}"
    );
    assert!(
        shown[id].get("content").is_none(),
        "content without --reveal: {shown}"
    );
    let revealed = sim.json(&["show-secret", "creds", "--reveal", "--format", "json"]);
    assert_eq!(revealed[id]["content"]["password"], "two two");
    let table = sim.ok(&["secrets"]).stdout;
    assert!(table.starts_with("ID  "), "{table}");
    assert!(table.contains(&format!("{id}  -     vault")), "{table}");

    // Same content again: no new revision, no hook.
    sim.exec("vault/0", &format!("secret-set {uri} 'password=two two'"));
    assert!(sim.take_events().is_empty());
}

#[test]
fn secret_tools_answer_as_juju_does() {
    let (sim, uri) = shared();
    let id = uri.rsplit('/').next().unwrap().to_string();
    // Only the leader manages an application's secret.
    assert_eq!(
        tool(&sim, "vault/1", &["secret-add", "abc=1"]),
        fail("this unit is not the leader")
    );
    assert_eq!(
        tool(&sim, "vault/1", &["secret-set", &uri, "password=x"]),
        fail("this unit is not the leader")
    );
    // ...but every unit of the owner reads it (the latest revision).
    assert_eq!(
        tool(&sim, "vault/1", &["secret-get", &uri, "password"]),
        ok("s3cret one\n")
    );
    // Not the owner: no writes, no metadata.
    assert_eq!(
        tool(&sim, "client/0", &["secret-set", &uri, "password=x"]),
        fail("permission denied")
    );
    assert_eq!(
        tool(&sim, "client/0", &["secret-info-get", &uri]),
        fail(&format!("secret {id:?} not found"))
    );
    assert_eq!(tool(&sim, "client/0", &["secret-ids"]), ok(""));
    assert_eq!(
        tool(&sim, "vault/0", &["secret-ids"]),
        ok(&format!("{id}\n"))
    );
    assert_eq!(
        tool(
            &sim,
            "vault/0",
            &["secret-get", &format!("secret:{id}"), "--format", "json"]
        ),
        ok("{\"password\":\"s3cret one\"}\n")
    );
    assert_eq!(
        tool(&sim, "client/0", &["secret-get", &uri, "nope"]),
        fail("secret key \"nope\" not found")
    );
    // Usage errors: exit 2.
    assert_eq!(
        tool(&sim, "vault/0", &["secret-get"]),
        usage("require either a secret URI or label")
    );
    assert_eq!(
        tool(
            &sim,
            "vault/0",
            &["secret-get", &uri, "--peek", "--refresh"]
        ),
        usage("specify one of --peek or --refresh but not both")
    );
    assert_eq!(
        tool(&sim, "vault/0", &["secret-add"]),
        usage("missing secret value or filename")
    );
    assert_eq!(
        tool(&sim, "vault/0", &["secret-add", "Bad=1"]),
        usage("key \"Bad\" not valid")
    );
    assert_eq!(
        tool(
            &sim,
            "vault/0",
            &["secret-add", "--rotate", "often", "abc=1"]
        ),
        usage("rotate policy \"often\" not valid")
    );
    assert_eq!(
        tool(
            &sim,
            "vault/0",
            &["secret-add", "--expire", "soon", "abc=1"]
        ),
        usage("expire time or duration \"soon\" not valid")
    );
    assert_eq!(
        tool(&sim, "vault/0", &["secret-get", "secret:nope"]),
        usage("secret URI \"secret:nope\" not valid")
    );
    assert_eq!(
        tool(
            &sim,
            "vault/0",
            &["secret-add", "--label", "creds", "abc=1"]
        ),
        fail("secret with label \"creds\" already exists")
    );
    // A unit secret: only its unit reads it.
    let mine = sim
        .exec("vault/1", "secret-add --owner unit token=t0k")
        .text()
        .to_string();
    assert_eq!(
        tool(&sim, "vault/1", &["secret-get", &mine, "token"]),
        ok("t0k\n")
    );
    assert_eq!(
        tool(&sim, "vault/0", &["secret-get", &mine, "token"]),
        fail("permission denied")
    );
}

#[test]
fn secret_writes_commit_only_when_the_hook_succeeds() {
    let sim = Model::host_machines().ordered();
    let o = sim.event_charm("vault", OWNER_META, None, None, "");
    sim.deploy(&o, &[]);
    // In the same execution the new secret is readable; exit 1 discards it.
    let out = sim.exec_argv(
        "vault/0",
        &[
            "sh",
            "-c",
            "id=$(secret-add abc=one) && secret-get \"$id\" abc && exit 1",
        ],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(1), "one\n"),
        "{out:?}"
    );
    assert_eq!(
        sim.json(&["secrets", "--format", "json"]),
        serde_json::json!({})
    );
    sim.exec("vault/0", "secret-add abc=1 >/dev/null");
    let all = sim.json(&["secrets", "--format", "json"]);
    assert_eq!(all.as_object().map(|m| m.len()), Some(1), "{all}");
}
