//! Storage (docs/juju.md#storage): filesystem storage declared in metadata.yaml is
//! attached before install, with JUJU_STORAGE_* set and its directory made on the
//! unit's machine; storage-get, storage-list, storage-add (buffered until commit);
//! detaching before a dying unit leaves its relations.
mod support;
use support::tiny::{fail, ok, tool, usage};
use support::{events_of, strs, Model};

const META: &str = "storage:\n  data:\n    type: filesystem\n    location: /srv/data\n  logs:\n    type: filesystem\n    multiple:\n      range: 0-2\npeers:\n  cluster:\n    interface: store-peers\n";

/// Records each storage hook's variables and whether the location exists.
const BODY: &str = r#"case "$H" in
  hooks/*-storage-*) echo "$JUJU_UNIT_NAME $H $JUJU_STORAGE_ID $JUJU_STORAGE_KIND $( [ -d "$JUJU_STORAGE_LOCATION" ] && echo dir) $(storage-get location)" >> "$CHARM_DIR/../../../seen" ;;
esac"#;

fn seen(sim: &Model) -> Vec<String> {
    let text = std::fs::read_to_string(sim.dir().join("seen")).unwrap_or_default();
    let _ = std::fs::remove_file(sim.dir().join("seen"));
    text.lines().map(String::from).collect()
}

#[test]
fn storage_is_attached_before_install_and_detached_before_the_unit_leaves() {
    let sim = Model::host_machines();
    let c = sim.event_charm("store", META, None, None, BODY);
    sim.deploy(&c, &[]);
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "store/0")[..2],
        strs(&["hooks/data-storage-attached", "hooks/install"])
    );
    let loc = sim.dir().join("machines/0/storage/data/0");
    let loc = loc.display().to_string();
    assert_eq!(
        seen(&sim),
        [format!(
            "store/0 hooks/data-storage-attached data/0 filesystem dir {loc}"
        )]
    );
    assert_eq!(tool(&sim, "store/0", &["storage-list"]), ok("data/0\n"));
    assert_eq!(
        tool(
            &sim,
            "store/0",
            &["storage-get", "-s", "data/0", "--format", "json"]
        ),
        ok(&format!(
            "{{\"kind\":\"filesystem\",\"location\":\"{loc}\"}}\n"
        ))
    );
    assert_eq!(
        tool(&sim, "store/0", &["storage-get", "location"]),
        usage("no storage instance specified")
    );
    assert_eq!(
        tool(&sim, "store/0", &["storage-get", "-s", "data/0", "size"]),
        fail("invalid storage attribute \"size\"")
    );
    assert_eq!(
        tool(&sim, "store/0", &["storage-add"]),
        usage("storage add requires a storage directive")
    );
    assert_eq!(
        tool(&sim, "store/0", &["storage-add", "logs=3"]),
        fail("adding 3 \"logs\" storage would exceed its maximum of 2")
    );

    // storage-add commits with the execution: two logs instances, each attached.
    sim.exec("store/0", "storage-add logs=2");
    let ev = sim.take_events();
    assert_eq!(
        events_of(&ev, "store/0"),
        strs(&["hooks/logs-storage-attached", "hooks/logs-storage-attached"])
    );
    assert_eq!(
        tool(&sim, "store/0", &["storage-list", "logs"]),
        ok("logs/1\nlogs/2\n")
    );
    // A failed execution adds nothing.
    let out = sim.exec_argv("store/0", &["sh", "-c", "storage-add logs=1; exit 1"]);
    assert_eq!(out.code, Some(1));
    assert!(sim.take_events().is_empty());

    // Leaving: storage detaches before the relations and stop.
    sim.ok(&["add-unit", "store"]);
    sim.take_events();
    seen(&sim);
    sim.ok(&["remove-unit", "store/1"]);
    let ev = events_of(&sim.take_events(), "store/1");
    assert_eq!(ev[0], "hooks/data-storage-detaching", "{ev:?}");
    assert!(
        ev[1].starts_with("hooks/cluster-relation-departed"),
        "{ev:?}"
    );
}

/// On Linux machines the location is the charm's `location`, made inside the unit's
/// machine (its /srv is private), not on the host.
#[test]
fn linux_storage_lives_in_the_machine() {
    let sim = Model::new().with_env("JUJUSIM_HOOK_TIMEOUT", "60");
    let c = sim.event_charm("store", META, None, None, BODY);
    sim.deploy(&c, &[]);
    assert_eq!(
        seen(&sim),
        ["store/0 hooks/data-storage-attached data/0 filesystem dir /srv/data"]
    );
    sim.exec("store/0", "test -d /srv/data && touch /srv/data/x");
    assert!(
        !std::path::Path::new("/srv/data/x").exists(),
        "written on the host"
    );
    let bad = sim.event_charm(
        "leaky",
        "storage:\n  data:\n    type: filesystem\n    location: /data\n",
        None,
        None,
        "",
    );
    let out = sim.fails(&["deploy", bad.to_str().unwrap()]);
    assert!(
        out.stderr
            .contains("outside the directories jujusim machines keep private"),
        "{}",
        out.stderr
    );
}
