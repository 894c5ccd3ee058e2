//! Event and Context parsing from JUJU_* variables, for every hook kind.

use std::collections::HashMap;
use std::path::PathBuf;

use charm::juju::{
    AppName, Context, ContextError, Event, RelationId, RelationKind, SecretKind, UnitName,
};

const BASE: &[(&str, &str)] = &[
    ("JUJU_UNIT_NAME", "docker-registry/0"),
    ("JUJU_MODEL_NAME", "reg"),
    ("JUJU_MODEL_UUID", "6f1c7c4e-0000-4000-8000-000000000001"),
    (
        "JUJU_CHARM_DIR",
        "/var/lib/juju/agents/unit-docker-registry-0/charm",
    ),
    ("JUJU_MACHINE_ID", "0/lxd/1"),
    ("JUJU_VERSION", "3.6.1"),
];

/// A context from the base variables plus `dispatch` and `extra` (an empty value in
/// `extra` sets the variable to ""; `None` removes it).
fn ctx_with(
    dispatch: Option<&str>,
    extra: &[(&str, Option<&str>)],
) -> Result<Context, ContextError> {
    let mut vars: HashMap<String, String> = BASE
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(d) = dispatch {
        vars.insert("JUJU_DISPATCH_PATH".into(), d.into());
    }
    for (k, v) in extra {
        match v {
            Some(v) => vars.insert(k.to_string(), v.to_string()),
            None => vars.remove(*k),
        };
    }
    Context::from_vars(|k| vars.get(k).cloned())
}

fn event(dispatch: &str, extra: &[(&str, &str)]) -> Result<Event, ContextError> {
    let extra: Vec<_> = extra.iter().map(|(k, v)| (*k, Some(*v))).collect();
    ctx_with(Some(dispatch), &extra).map(|c| c.event)
}

fn unit(s: &str) -> UnitName {
    s.parse().unwrap()
}

fn app(s: &str) -> AppName {
    s.parse().unwrap()
}

fn missing(var: &'static str) -> ContextError {
    ContextError::Missing { var }
}

fn invalid_var(e: ContextError) -> &'static str {
    match e {
        ContextError::Invalid { var, .. } => var,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn context_fields() {
    let c = ctx_with(Some("hooks/install"), &[]).unwrap();
    assert_eq!(c.unit, unit("docker-registry/0"));
    assert_eq!(c.model_name, "reg");
    assert_eq!(c.model_uuid, "6f1c7c4e-0000-4000-8000-000000000001");
    assert_eq!(
        c.charm_dir,
        PathBuf::from("/var/lib/juju/agents/unit-docker-registry-0/charm")
    );
    assert_eq!(c.machine_id.as_deref(), Some("0/lxd/1"));
    assert_eq!(c.juju_version, "3.6.1");
    assert_eq!(c.event, Event::Install);
}

#[test]
fn simple_hooks() {
    let cases = [
        ("install", Event::Install),
        ("start", Event::Start),
        ("stop", Event::Stop),
        ("remove", Event::Remove),
        ("config-changed", Event::ConfigChanged),
        ("upgrade-charm", Event::UpgradeCharm),
        ("update-status", Event::UpdateStatus),
        ("leader-elected", Event::LeaderElected),
        ("leader-settings-changed", Event::LeaderSettingsChanged),
        ("pre-series-upgrade", Event::PreSeriesUpgrade),
        ("post-series-upgrade", Event::PostSeriesUpgrade),
    ];
    for (hook, expected) in cases {
        let ev = event(&format!("hooks/{hook}"), &[]).unwrap();
        assert_eq!(ev, expected, "{hook}");
        assert_eq!(ev.name(), hook);
        assert_eq!(ev.to_string(), hook);
    }
}

#[test]
fn relation_hooks_of_every_kind_and_dashed_endpoints() {
    let kinds = [
        ("created", RelationKind::Created),
        ("joined", RelationKind::Joined),
        ("changed", RelationKind::Changed),
        ("departed", RelationKind::Departed),
        ("broken", RelationKind::Broken),
    ];
    for endpoint in [
        "db",
        "website",
        "cert-provider",
        "nrpe-external-master",
        "my-relation",
    ] {
        for (word, kind) in kinds {
            let hook = format!("{endpoint}-relation-{word}");
            let rid = format!("{endpoint}:7");
            let ev = event(
                &format!("hooks/{hook}"),
                &[
                    ("JUJU_RELATION", endpoint),
                    ("JUJU_RELATION_ID", &rid),
                    ("JUJU_REMOTE_APP", "easyrsa"),
                    ("JUJU_REMOTE_UNIT", "easyrsa/1"),
                    ("JUJU_DEPARTING_UNIT", "easyrsa/1"),
                ],
            )
            .unwrap();
            let departing = (kind == RelationKind::Departed).then(|| unit("easyrsa/1"));
            assert_eq!(
                ev,
                Event::Relation {
                    kind,
                    relation: RelationId::new(endpoint, 7),
                    remote_app: app("easyrsa"),
                    remote_unit: Some(unit("easyrsa/1")),
                    departing_unit: departing,
                },
                "{hook}"
            );
            assert_eq!(ev.name(), hook);
        }
    }
}

#[test]
fn relation_remote_unit_empty_means_app_level() {
    for hook in ["created", "changed", "broken"] {
        let ev = event(
            &format!("hooks/website-relation-{hook}"),
            &[
                ("JUJU_RELATION_ID", "website:3"),
                ("JUJU_REMOTE_APP", "haproxy"),
                ("JUJU_REMOTE_UNIT", ""),
            ],
        )
        .unwrap();
        match ev {
            Event::Relation {
                remote_unit,
                remote_app,
                ..
            } => {
                assert_eq!(remote_unit, None);
                assert_eq!(remote_app, app("haproxy"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn departed_carries_departing_unit_which_may_be_local() {
    let ev = event(
        "hooks/peer-relation-departed",
        &[
            ("JUJU_RELATION_ID", "peer:0"),
            ("JUJU_REMOTE_APP", "docker-registry"),
            ("JUJU_REMOTE_UNIT", "docker-registry/1"),
            ("JUJU_DEPARTING_UNIT", "docker-registry/0"),
        ],
    )
    .unwrap();
    match ev {
        Event::Relation {
            kind,
            remote_unit,
            departing_unit,
            ..
        } => {
            assert_eq!(kind, RelationKind::Departed);
            assert_eq!(remote_unit, Some(unit("docker-registry/1")));
            assert_eq!(departing_unit, Some(unit("docker-registry/0")));
        }
        other => panic!("{other:?}"),
    }
    let err = event(
        "hooks/peer-relation-departed",
        &[
            ("JUJU_RELATION_ID", "peer:0"),
            ("JUJU_REMOTE_APP", "docker-registry"),
        ],
    )
    .unwrap_err();
    assert_eq!(err, missing("JUJU_DEPARTING_UNIT"));
}

#[test]
fn peer_event_detection() {
    let mut c = ctx_with(
        Some("hooks/peer-relation-joined"),
        &[
            ("JUJU_RELATION_ID", Some("peer:0")),
            ("JUJU_REMOTE_APP", Some("docker-registry")),
            ("JUJU_REMOTE_UNIT", Some("docker-registry/1")),
        ],
    )
    .unwrap();
    assert!(c.is_peer_event());
    c.event = Event::Install;
    assert!(!c.is_peer_event());
}

#[test]
fn relation_variable_errors_name_the_variable() {
    let e = event("hooks/db-relation-joined", &[("JUJU_REMOTE_APP", "pg")]).unwrap_err();
    assert_eq!(e, missing("JUJU_RELATION_ID"));
    assert!(e.to_string().contains("JUJU_RELATION_ID"), "{e}");

    let e = event(
        "hooks/db-relation-joined",
        &[("JUJU_RELATION_ID", "7"), ("JUJU_REMOTE_APP", "pg")],
    )
    .unwrap_err();
    assert_eq!(invalid_var(e), "JUJU_RELATION_ID");

    // The id must belong to the hook's endpoint.
    let e = event(
        "hooks/db-relation-joined",
        &[("JUJU_RELATION_ID", "website:7"), ("JUJU_REMOTE_APP", "pg")],
    )
    .unwrap_err();
    assert!(e.to_string().contains("website"), "{e}");
    assert_eq!(invalid_var(e), "JUJU_RELATION_ID");

    let e = event(
        "hooks/db-relation-joined",
        &[
            ("JUJU_RELATION_ID", "db:7"),
            ("JUJU_REMOTE_APP", "pg"),
            ("JUJU_REMOTE_UNIT", "pg"),
        ],
    )
    .unwrap_err();
    assert_eq!(invalid_var(e), "JUJU_REMOTE_UNIT");

    let e = event(
        "hooks/db-relation-joined",
        &[("JUJU_RELATION_ID", "db:7"), ("JUJU_REMOTE_APP", "Bad_App")],
    )
    .unwrap_err();
    assert_eq!(invalid_var(e), "JUJU_REMOTE_APP");

    let e = event("hooks/db-relation-broken", &[("JUJU_RELATION_ID", "db:7")]).unwrap_err();
    assert_eq!(e, missing("JUJU_REMOTE_APP"));
}

#[test]
fn remote_app_falls_back_to_remote_unit() {
    let ev = event(
        "hooks/db-relation-changed",
        &[
            ("JUJU_RELATION_ID", "db:7"),
            ("JUJU_REMOTE_APP", ""),
            ("JUJU_REMOTE_UNIT", "pg/2"),
        ],
    )
    .unwrap();
    assert!(matches!(ev, Event::Relation { remote_app, .. } if remote_app == app("pg")));
}

#[test]
fn actions() {
    let ev = event(
        "actions/push",
        &[("JUJU_ACTION_NAME", "push"), ("JUJU_ACTION_UUID", "2")],
    )
    .unwrap();
    assert_eq!(
        ev,
        Event::Action {
            name: "push".into(),
            id: "2".into()
        }
    );
    assert_eq!(ev.name(), "push action");
    let ev = event(
        "actions/rmi-all",
        &[
            ("JUJU_ACTION_NAME", "rmi-all"),
            ("JUJU_ACTION_UUID", "17"),
            ("JUJU_HOOK_NAME", ""),
        ],
    )
    .unwrap();
    assert_eq!(
        ev,
        Event::Action {
            name: "rmi-all".into(),
            id: "17".into()
        }
    );

    assert_eq!(
        event("actions/push", &[("JUJU_ACTION_NAME", "push")]).unwrap_err(),
        missing("JUJU_ACTION_UUID")
    );
    assert_eq!(
        event("actions/push", &[("JUJU_ACTION_UUID", "2")]).unwrap_err(),
        missing("JUJU_ACTION_NAME")
    );
    let e = event(
        "actions/push",
        &[("JUJU_ACTION_NAME", "gc"), ("JUJU_ACTION_UUID", "2")],
    )
    .unwrap_err();
    assert_eq!(invalid_var(e), "JUJU_ACTION_NAME");
}

#[test]
fn storage_hooks() {
    let ev = event(
        "hooks/data-storage-attached",
        &[("JUJU_STORAGE_ID", "data/0")],
    )
    .unwrap();
    assert_eq!(
        ev,
        Event::StorageAttached {
            id: "data/0".into()
        }
    );
    assert_eq!(ev.name(), "data-storage-attached");
    let ev = event(
        "hooks/registry-data-storage-detaching",
        &[("JUJU_STORAGE_ID", "registry-data/3")],
    )
    .unwrap();
    assert_eq!(
        ev,
        Event::StorageDetaching {
            id: "registry-data/3".into()
        }
    );
    assert_eq!(ev.name(), "registry-data-storage-detaching");
    assert_eq!(
        event("hooks/data-storage-attached", &[]).unwrap_err(),
        missing("JUJU_STORAGE_ID")
    );
    let e = event(
        "hooks/data-storage-attached",
        &[("JUJU_STORAGE_ID", "logs/0")],
    )
    .unwrap_err();
    assert_eq!(invalid_var(e), "JUJU_STORAGE_ID");
}

#[test]
fn secret_hooks() {
    let kinds = [
        ("changed", SecretKind::Changed),
        ("rotate", SecretKind::Rotate),
        ("expired", SecretKind::Expired),
        ("remove", SecretKind::Remove),
    ];
    for (word, kind) in kinds {
        let hook = format!("secret-{word}");
        let ev = event(
            &format!("hooks/{hook}"),
            &[
                ("JUJU_SECRET_ID", "secret:cu8jjjl1bg1s73fdgv60"),
                ("JUJU_SECRET_LABEL", "tls"),
            ],
        )
        .unwrap();
        assert_eq!(
            ev,
            Event::Secret {
                kind,
                id: "secret:cu8jjjl1bg1s73fdgv60".into(),
                label: Some("tls".into()),
                revision: None,
            }
        );
        assert_eq!(ev.name(), hook);
    }
    let ev = event(
        "hooks/secret-changed",
        &[("JUJU_SECRET_ID", "secret:x"), ("JUJU_SECRET_LABEL", "")],
    )
    .unwrap();
    assert!(matches!(ev, Event::Secret { label: None, .. }));
    let ev = event(
        "hooks/secret-remove",
        &[
            ("JUJU_SECRET_ID", "secret:x"),
            ("JUJU_SECRET_REVISION", "3"),
        ],
    )
    .unwrap();
    assert!(matches!(
        ev,
        Event::Secret {
            revision: Some(3),
            ..
        }
    ));
    assert!(matches!(
        event(
            "hooks/secret-remove",
            &[
                ("JUJU_SECRET_ID", "secret:x"),
                ("JUJU_SECRET_REVISION", "three")
            ],
        ),
        Err(ContextError::Invalid {
            var: "JUJU_SECRET_REVISION",
            ..
        })
    ));
    assert_eq!(
        event("hooks/secret-changed", &[]).unwrap_err(),
        missing("JUJU_SECRET_ID")
    );
}

#[test]
fn unknown_hooks_are_not_errors() {
    for hook in [
        "collect-metrics",
        "meter-status-changed",
        "leader-deposed",
        "workload-pebble-ready",
        "db-relation-exploded",
        "-relation-joined",
        "-storage-attached",
        "brand-new-hook",
    ] {
        let ev = event(&format!("hooks/{hook}"), &[]).unwrap();
        assert_eq!(ev, Event::Unknown(hook.to_string()));
        assert_eq!(ev.name(), hook);
    }
}

#[test]
fn dispatch_path_errors() {
    assert_eq!(
        ctx_with(None, &[]).unwrap_err(),
        missing("JUJU_DISPATCH_PATH")
    );
    assert_eq!(
        ctx_with(Some(""), &[]).unwrap_err(),
        missing("JUJU_DISPATCH_PATH")
    );
    for bad in [
        "install",
        "hooks/",
        "actions/",
        "foo/install",
        "/hooks/install",
    ] {
        let e = ctx_with(Some(bad), &[]).unwrap_err();
        assert!(e.to_string().contains("JUJU_DISPATCH_PATH"), "{e}");
        assert_eq!(invalid_var(e), "JUJU_DISPATCH_PATH", "{bad}");
    }
}

#[test]
fn missing_context_variables_are_named() {
    for var in [
        "JUJU_UNIT_NAME",
        "JUJU_MODEL_NAME",
        "JUJU_MODEL_UUID",
        "JUJU_VERSION",
    ] {
        let e = ctx_with(Some("hooks/start"), &[(var, None)]).unwrap_err();
        assert!(
            matches!(e, ContextError::Missing { var: v } if v == var),
            "{var}: {e:?}"
        );
        assert!(e.to_string().contains(var));
        let e = ctx_with(Some("hooks/start"), &[(var, Some(""))]).unwrap_err();
        assert!(
            matches!(e, ContextError::Missing { var: v } if v == var),
            "{var}: {e:?}"
        );
    }
    let e = ctx_with(Some("hooks/start"), &[("JUJU_CHARM_DIR", None)]).unwrap_err();
    assert_eq!(e, missing("JUJU_CHARM_DIR"));
    // The legacy CHARM_DIR is accepted.
    let c = ctx_with(
        Some("hooks/start"),
        &[("JUJU_CHARM_DIR", None), ("CHARM_DIR", Some("/srv/charm"))],
    )
    .unwrap();
    assert_eq!(c.charm_dir, PathBuf::from("/srv/charm"));
    // The machine id is optional (empty on Kubernetes).
    let c = ctx_with(Some("hooks/start"), &[("JUJU_MACHINE_ID", Some(""))]).unwrap();
    assert_eq!(c.machine_id, None);
    let e = ctx_with(
        Some("hooks/start"),
        &[("JUJU_UNIT_NAME", Some("docker-registry"))],
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("JUJU_UNIT_NAME=\"docker-registry\""),
        "{e}"
    );
}
