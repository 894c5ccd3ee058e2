//! Table tests for `next_hook`: one row per situation, the model changed from a known
//! state, the hook expected (name, remote unit, departing unit).
use super::{next_hook, next_ops, normalize, Hook, HookKind, Op};
use crate::fixture::{add_unit, relate, run_ok, set_unit_bag, settle, two_apps};
use crate::model::{HookError, Life, Model, Seen, Task};

/// `name [remote=U] [departing=U]`, `action N`, or `-` for nothing to run.
fn describe_op(op: Option<Op>) -> String {
    match op {
        Some(Op::Action(id)) => format!("action {id}"),
        Some(Op::Hook(h)) => describe(Some(h)),
        None => "-".into(),
    }
}

/// `name [remote=U] [departing=U]`, or `-` for no hook.
fn describe(h: Option<Hook>) -> String {
    let Some(h) = h else { return "-".into() };
    let mut s = h.name();
    if let Some(u) = &h.remote_unit {
        s.push_str(&format!(" remote={u}"));
    }
    if let Some(u) = &h.departing {
        s.push_str(&format!(" departing={u}"));
    }
    s
}

/// What `unit` runs next (its first choice), after the agent's silent fixes (as the
/// engine asks).
fn next(m: &mut Model, unit: &str) -> String {
    normalize(m, unit);
    describe_op(next_ops(m, unit).into_iter().next())
}

fn seen<'a>(m: &'a mut Model, unit: &str) -> &'a mut Seen {
    &mut m.units.get_mut(unit).expect("unit exists").seen
}

/// Mark relations `ids` created for `unit` (nothing else seen).
fn created(m: &mut Model, unit: &str, ids: &[u32]) {
    let s = seen(m, unit);
    s.installed = true;
    for id in ids {
        s.relations.entry(*id).or_default().created = true;
    }
}

/// Everything up to `start` seen by `unit` (relations 0 and 1 created), nobody joined.
fn started(m: &mut Model, unit: &str) {
    created(m, unit, &[0, 1]);
    let hash = m.applications["tiny"].config_hash();
    let s = seen(m, unit);
    (s.leader, s.config_hash, s.started) = (true, Some(hash), true);
}

/// Put `unit` in error on a `kind` hook.
fn fail(m: &mut Model, unit: &str, kind: HookKind) {
    m.units.get_mut(unit).expect("unit").error = Some(HookError {
        hook: Hook::plain(kind),
        message: format!("hook failed: {:?}", Hook::plain(kind).name()),
        retry_at_ms: None,
    });
}

/// Queue action task 7 on `unit`.
fn queue_action(m: &mut Model, unit: &str) {
    m.tasks.insert(
        7,
        Task {
            id: 7,
            operation: 6,
            unit: unit.into(),
            action: "go".into(),
            params: serde_json::json!({}),
            status: "pending".into(),
            message: String::new(),
            results: serde_json::json!({}),
            log: vec![],
            timing: [0, 0, 0],
        },
    );
}

fn kill_unit(m: &mut Model, unit: &str) {
    m.units.get_mut(unit).expect("unit exists").life = Life::Dying;
    for r in m.relations.values_mut() {
        r.scope.remove(unit);
    }
}

struct Row {
    situation: &'static str,
    /// Start from the settled model (else: nothing has run yet).
    settled: bool,
    change: fn(&mut Model),
    unit: &'static str,
    want: &'static str,
}

const fn row(
    situation: &'static str,
    settled: bool,
    change: fn(&mut Model),
    unit: &'static str,
    want: &'static str,
) -> Row {
    Row {
        situation,
        settled,
        change,
        unit,
        want,
    }
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // A new unit: install, relation-created, leadership, config-changed, start, joins.
    row("fresh unit installs first", false, |_| {}, "tiny/0", "install"),
    row("fresh unit in scope of a relation still installs first (not joined)", false,
        |_| {}, "web/0", "install"),
    row("after install: relation-created, lowest relation id first", false,
        |m| seen(m, "tiny/0").installed = true, "tiny/0", "cluster-relation-created"),
    row("relations created: the leader runs leader-elected", false,
        |m| created(m, "tiny/0", &[0, 1]), "tiny/0", "leader-elected"),
    row("relations created: a non-leader runs leader-settings-changed", false,
        |m| created(m, "tiny/1", &[0, 1]), "tiny/1", "leader-settings-changed"),
    row("leadership seen: config-changed", false,
        |m| { created(m, "tiny/0", &[0, 1]); seen(m, "tiny/0").leader = true; },
        "tiny/0", "config-changed"),
    row("config seen: start", false,
        |m| {
            created(m, "tiny/0", &[0, 1]);
            seen(m, "tiny/0").leader = true;
            let hash = m.applications["tiny"].config_hash();
            seen(m, "tiny/0").config_hash = Some(hash);
        },
        "tiny/0", "start"),
    row("started: joined for each remote unit in scope", false,
        |m| {
            started(m, "tiny/0");
            m.enter_scope(0, "tiny/1");
        },
        "tiny/0", "cluster-relation-joined remote=tiny/1"),
    row("started, the peer not installed yet (not in scope): nothing to join", false,
        |m| started(m, "tiny/0"), "tiny/0", "-"),
    row("relation-created enters the scope: the others join the unit only then", false,
        |m| {
            started(m, "tiny/0");
            seen(m, "tiny/1").installed = true;
            let h = next_hook(m, "tiny/1").expect("tiny/1 has a hook");
            crate::fixture::run_ok(m, "tiny/1", &h);
        },
        "tiny/0", "cluster-relation-joined remote=tiny/1"),
    row("actions wait for install", false, |m| { queue_action(m, "tiny/0"); }, "tiny/0", "install"),
    row("an action runs after leadership, ahead of config-changed", false,
        |m| {
            created(m, "tiny/0", &[0, 1]);
            seen(m, "tiny/0").leader = true;
            queue_action(m, "tiny/0");
        },
        "tiny/0", "action 7"),
    row("but not between config-changed and the start it queued", false,
        |m| {
            created(m, "tiny/0", &[0, 1]);
            seen(m, "tiny/0").leader = true;
            let hash = m.applications["tiny"].config_hash();
            seen(m, "tiny/0").config_hash = Some(hash);
            queue_action(m, "tiny/0");
        },
        "tiny/0", "start"),
    row("an action runs while a hook is in error", true,
        |m| {
            fail(m, "tiny/0", HookKind::ConfigChanged);
            queue_action(m, "tiny/0");
        },
        "tiny/0", "action 7"),
    row("an action runs ahead of relation hooks", true,
        |m| { set_unit_bag(m, 1, "web/0", &[("k", "v")]); queue_action(m, "tiny/0"); },
        "tiny/0", "action 7"),
    row("joined is followed by changed for the same unit", true,
        |m| seen(m, "tiny/0").relations.get_mut(&0).expect("seen").pending_changed =
            Some("tiny/1".into()),
        "tiny/0", "cluster-relation-changed remote=tiny/1"),
    row("settled: idle", true, |_| {}, "tiny/0", "-"),
    row("settled: idle on the other side too", true, |_| {}, "web/0", "-"),
    // Changes from outside.
    row("config change: config-changed", true,
        |m| { m.applications.get_mut("tiny").expect("app").config.insert("x".into(), 1.into()); },
        "tiny/1", "config-changed"),
    row("refresh: upgrade-charm before anything else due", true,
        |m| {
            m.applications.get_mut("tiny").expect("app").revision = 2;
            relate(m, &[("tiny", "website"), ("web", "site")]);
        },
        "tiny/0", "upgrade-charm"),
    row("a new relation: relation-created before leadership and config", true,
        |m| {
            m.applications.get_mut("tiny").expect("app").config.insert("x".into(), 1.into());
            relate(m, &[("tiny", "website"), ("web", "site")]);
        },
        "tiny/0", "website-relation-created"),
    row("leader change: the new leader runs leader-elected", true,
        |m| m.applications.get_mut("tiny").expect("app").leader = Some("tiny/1".into()),
        "tiny/1", "leader-elected"),
    row("leader change: the old leader runs nothing", true,
        |m| m.applications.get_mut("tiny").expect("app").leader = Some("tiny/1".into()),
        "tiny/0", "-"),
    row("leader-set: non-leaders run leader-settings-changed", true,
        |m| { m.applications.get_mut("tiny").expect("app").leader_settings.apply(
            &[("k".to_string(), "v".to_string())].into()); },
        "tiny/1", "leader-settings-changed"),
    row("leader-set: the leader is not told of its own write", true,
        |m| { m.applications.get_mut("tiny").expect("app").leader_settings.apply(
            &[("k".to_string(), "v".to_string())].into()); },
        "tiny/0", "-"),
    row("a new peer unit not installed yet: nobody joins it", true,
        |m| { add_unit(m, "tiny"); }, "tiny/0", "-"),
    row("a new peer unit in scope (after its install): existing units join it", true,
        |m| { add_unit(m, "tiny"); m.enter_scope(0, "tiny/2"); },
        "tiny/0", "cluster-relation-joined remote=tiny/2"),
    row("a new peer unit: it installs first", true,
        |m| { add_unit(m, "tiny"); }, "tiny/2", "install"),
    row("remote unit bag written: changed for that unit", true,
        |m| set_unit_bag(m, 1, "web/0", &[("k", "v")]),
        "tiny/0", "website-relation-changed remote=web/0"),
    row("remote app bag written: changed with no remote unit", true,
        |m| { m.relations.get_mut(&1).expect("rel").app_bags.entry("web".into())
            .or_default().apply(&[("k".to_string(), "v".to_string())].into()); },
        "tiny/0", "website-relation-changed"),
    row("own app bag written: the remote side hears, not the writer's peers", true,
        |m| { m.relations.get_mut(&1).expect("rel").app_bags.entry("web".into())
            .or_default().apply(&[("k".to_string(), "v".to_string())].into()); },
        "web/0", "-"),
    row("a new remote unit joins before a member's change is announced", true,
        |m| {
            add_unit(m, "tiny");
            m.enter_scope(0, "tiny/2");
            set_unit_bag(m, 0, "tiny/1", &[("k", "v")]);
        },
        "tiny/0", "cluster-relation-joined remote=tiny/2"),
    row("the remote app's changed comes before joins", true,
        |m| {
            add_unit(m, "web");
            m.relations.get_mut(&1).expect("rel").app_bags.entry("web".into())
                .or_default().apply(&[("k".to_string(), "v".to_string())].into());
        },
        "tiny/0", "website-relation-changed"),
    // Leaving.
    row("remote unit removed: departed, naming it as the departing unit", true,
        |m| kill_unit(m, "web/0"), "tiny/0", "website-relation-departed remote=web/0 departing=web/0"),
    row("relation removed: departed for each member first", true,
        |m| { let r = m.relations.get_mut(&1).expect("rel"); r.life = Life::Dying; r.scope.clear(); },
        "web/0", "site-relation-departed remote=tiny/0 departing=tiny/0"),
    row("relation removed, members gone: broken", true,
        |m| {
            let r = m.relations.get_mut(&1).expect("rel");
            (r.life, r.scope) = (Life::Dying, Default::default());
            seen(m, "web/0").relations.get_mut(&1).expect("seen").members.clear();
        },
        "web/0", "site-relation-broken"),
    row("dying unit: departed from each member, itself departing", true,
        |m| kill_unit(m, "tiny/1"), "tiny/1", "cluster-relation-departed remote=tiny/0 departing=tiny/1"),
    row("dying unit, members gone: broken for regular relations (never for peers)", true,
        |m| {
            kill_unit(m, "tiny/1");
            for rs in seen(m, "tiny/1").relations.values_mut() { rs.members.clear(); }
        },
        "tiny/1", "website-relation-broken"),
    row("dying unit out of every relation: stop", true,
        |m| { kill_unit(m, "tiny/1"); seen(m, "tiny/1").relations.clear(); },
        "tiny/1", "stop"),
    row("dying unit, stopped: remove", true,
        |m| {
            kill_unit(m, "tiny/1");
            let s = seen(m, "tiny/1");
            s.relations.clear();
            s.stopped = true;
        },
        "tiny/1", "remove"),
    row("unit removed before it installed: no hook", false,
        |m| kill_unit(m, "tiny/1"), "tiny/1", "-"),
    // Errors.
    row("a unit in error runs nothing until resolved", true,
        |m| {
            m.applications.get_mut("tiny").expect("app").config.insert("x".into(), 1.into());
            fail(m, "tiny/0", HookKind::ConfigChanged);
        },
        "tiny/0", "-"),
    row("resolve --retry: the failed hook runs again first", true,
        |m| m.units.get_mut("tiny/0").expect("unit").retry = Some(Hook::plain(HookKind::Start)),
        "tiny/0", "start"),
];

#[test]
fn next_hook_by_situation() {
    let mut base = two_apps();
    let fresh = base.clone();
    settle(&mut base);
    let mut failures = Vec::new();
    for r in ROWS {
        let mut m = if r.settled {
            base.clone()
        } else {
            fresh.clone()
        };
        (r.change)(&mut m);
        let got = next(&mut m, r.unit);
        if got != r.want {
            failures.push(format!(
                "{}: {} runs {got:?}, want {:?}",
                r.situation, r.unit, r.want
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

#[test]
fn a_fresh_model_settles_in_juju_s_deploy_order() {
    let mut m = two_apps();
    let run_alone = |m: &mut Model, unit: &str| {
        let mut order = Vec::new();
        for _ in 0..20 {
            normalize(m, unit);
            let Some(h) = next_hook(m, unit) else {
                break;
            };
            order.push(describe(Some(h.clone())));
            run_ok(m, unit, &h);
        }
        order
    };
    // Alone, tiny/1 gets to start; nobody else has entered a relation to join.
    assert_eq!(
        run_alone(&mut m, "tiny/1"),
        [
            "install",
            "cluster-relation-created",
            "website-relation-created",
            "leader-settings-changed",
            "config-changed",
            "start",
        ]
    );
    // Once the others have run up to their relation-created, tiny/1 joins them.
    for u in ["tiny/0", "web/0"] {
        run_alone(&mut m, u);
    }
    assert_eq!(
        run_alone(&mut m, "tiny/1"),
        [
            "cluster-relation-joined remote=tiny/0",
            "cluster-relation-changed remote=tiny/0",
            "website-relation-joined remote=web/0",
            "website-relation-changed remote=web/0",
        ]
    );
}

#[test]
fn where_juju_leaves_the_order_open_every_choice_is_offered() {
    let mut m = two_apps();
    seen(&mut m, "tiny/0").installed = true;
    let names = |m: &Model, u: &str| -> Vec<String> {
        next_ops(m, u)
            .into_iter()
            .map(|op| describe_op(Some(op)))
            .collect()
    };
    assert_eq!(
        names(&m, "tiny/0"),
        ["cluster-relation-created", "website-relation-created"]
    );
    settle(&mut m);
    set_unit_bag(&mut m, 0, "tiny/1", &[("k", "v")]);
    set_unit_bag(&mut m, 1, "web/0", &[("k", "v")]);
    assert_eq!(
        names(&m, "tiny/0"),
        [
            "cluster-relation-changed remote=tiny/1",
            "website-relation-changed remote=web/0"
        ]
    );
    m.units.get_mut("tiny/1").expect("unit").life = Life::Dying;
    assert_eq!(
        names(&m, "tiny/1"),
        [
            "cluster-relation-departed remote=tiny/0 departing=tiny/1",
            "website-relation-departed remote=web/0 departing=tiny/1"
        ]
    );
}
