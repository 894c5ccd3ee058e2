//! End to end on jujusim machines, with the real registry: the shared http secret in a
//! Juju secret (issue 17 item 8), and faults survived with nothing lost (item 10): the
//! move from the peer bag without a restart, the leader removed, a full disk while
//! config.yml is written. (A registry crashed while blocked and a cert provider removed
//! and re-added are in `e2e_registry.rs`, next to the tests they extend.)
mod support;

use serde_json::Value;
use support::clients::{self, build_image, ingress, Tls};
use support::jujusim::Model;

const APP: &str = "docker-registry";
const UNIT0: &str = "docker-registry/0";
const UNIT1: &str = "docker-registry/1";
const CONFIG_YML: &str = "/etc/docker/registry/config.yml";
const PID_FILE: &str = "/run/docker-registry-charm/registry.pid";

/// Deploys `n` units and waits until each says `Ready at <its address>:5000 (http).`
/// (and, with several, that filesystem storage is not shared: B30); returns their
/// addresses.
fn deploy(m: &Model, n: usize) -> Vec<String> {
    let charm = m.registry_charm();
    m.ok(&[
        "deploy",
        &charm.display().to_string(),
        APP,
        "-n",
        &n.to_string(),
    ]);
    (0..n)
        .map(|i| {
            let unit = format!("{APP}/{i}");
            let addr = ingress(m, &unit);
            let note = if n > 1 {
                format!(
                    " Filesystem storage on {n} units: an image pushed to one is not on the \
                     others; use s3 or swift storage to share them."
                )
            } else {
                String::new()
            };
            m.expect_status(
                &unit,
                "active",
                &format!("Ready at {addr}:5000 (http).{note}"),
            );
            addr
        })
        .collect()
}

/// The index of the unit that leads (the scheduling seed says which claimed it).
fn leader(m: &Model) -> usize {
    [UNIT0, UNIT1]
        .iter()
        .position(|u| m.unit_status(u)["leader"] == true)
        .unwrap_or_else(|| m.fail("no unit leads", &m.run(&["status"])))
}

/// The registry process on `unit`: pid and start time from the charm's pid file.
fn registry_id(m: &Model, unit: &str) -> String {
    let out = m.exec(unit, &format!("grep -E '^(pid|start_time)=' {PID_FILE}"));
    m.check(
        out.stdout.lines().count() == 2,
        "no pid in the pid file",
        &out,
    );
    out.stdout
}

fn config_yml(m: &Model, unit: &str) -> String {
    m.exec(unit, &format!("cat {CONFIG_YML}")).stdout
}

/// The value config.yml renders as `http.secret`.
fn rendered_secret(m: &Model, unit: &str) -> String {
    let text = config_yml(m, unit);
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret: "))
        .map(|v| v.trim_matches('"').to_string());
    line.unwrap_or_else(|| m.fail(&format!("{unit}: no http secret"), &m.run(&["status"])))
}

/// `show-secret registry-shared --reveal`: (revision, the http secret).
fn juju_secret(m: &Model) -> (u64, String) {
    let (_, entry) = m.shared_secret();
    let revision = entry["revision"].as_u64().unwrap_or_default();
    let value = entry["content"]["http-secret"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (revision, value)
}

/// The peer relation's application bag as `unit` sees it, and the relation id.
fn peer_app_bag(m: &Model, unit: &str) -> (String, Value) {
    let u = m.show_unit(unit);
    let rel = u["relation-info"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["endpoint"] == "peer")
        .cloned()
        .unwrap_or_else(|| {
            m.fail(
                "no peer relation in show-unit",
                &m.run(&["show-unit", unit]),
            )
        });
    let id = rel["relation-id"].to_string();
    (format!("peer:{id}"), rel["application-data"].clone())
}

/// Issue 17 item 8: the http secret is in a Juju secret, never in `juju show-unit`'s
/// output. A deployment as an earlier revision left it (the value in the peer bag, no
/// Juju secret) is refreshed: the same value moves into the secret and out of the bag,
/// no registry restarts, config.yml stays byte for byte, pulls keep working.
#[test]
fn the_http_secret_moves_from_the_peer_bag_into_a_juju_secret_without_a_restart() {
    let m = Model::new();
    let addrs = deploy(&m, 2);
    let (revision, value) = juju_secret(&m);
    m.check(
        revision == 1 && value.len() == 44,
        &format!("expected revision 1 with 44 characters, got {revision} {value:?}"),
        &m.run(&["secrets"]),
    );
    for unit in [UNIT0, UNIT1] {
        m.check(
            rendered_secret(&m, unit) == value,
            &format!("{unit} renders another secret"),
            &m.run(&["status"]),
        );
        let shown = m.run(&["show-unit", unit, "--format", "json"]);
        m.check(
            !shown.stdout.contains(&value) && shown.stdout.contains("shared-secret"),
            &format!("show-unit {unit} shows the value, or no shared-secret"),
            &shown,
        );
    }
    // Filesystem storage is per unit: each gets its own copy.
    let img = build_image(&m, "moved");
    for addr in &addrs {
        clients::push_ok(&m, &format!("{addr}:5000"), &img, Tls::Off, None);
    }

    let before: Vec<(String, String)> = [UNIT0, UNIT1]
        .iter()
        .map(|u| (registry_id(&m, u), config_yml(&m, u)))
        .collect();

    // Put the model back as an earlier revision left it: the value in the peer app bag,
    // no Juju secret. (The leader may move it at once, in the relation-changed this
    // write causes; the refresh below runs the move otherwise.) Only the leader may.
    let owner = [UNIT0, UNIT1][leader(&m)];
    let (peer, _) = peer_app_bag(&m, owner);
    let info = m.exec(
        owner,
        "secret-info-get --label registry-shared --format json",
    );
    let id = serde_json::from_str::<Value>(&info.stdout)
        .ok()
        .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
        .unwrap_or_else(|| m.fail("secret-info-get printed no id", &info));
    m.exec(
        owner,
        &format!(
            "secret-remove {id} && relation-set -r {peer} --app http-secret={value} shared-secret="
        ),
    );
    m.ok(&[
        "refresh",
        APP,
        "--path",
        &m.registry_charm().display().to_string(),
    ]);
    let listed = m.run(&["secrets", "--format", "json"]);
    m.check(
        !listed.stdout.contains(&id),
        "the removed secret is back",
        &listed,
    );
    let (revision, moved) = juju_secret(&m);
    m.check(
        moved == value && revision == 1,
        "the leader did not move the same value into a new secret",
        &m.run(&["secrets"]),
    );
    for (unit, (id, config)) in [UNIT0, UNIT1].iter().zip(&before) {
        let (_, bag) = peer_app_bag(&m, unit);
        m.check(
            bag.get("http-secret").is_none() && bag["shared-secret"].is_string(),
            &format!("{unit} still sees the value in the peer bag: {bag}"),
            &m.run(&["show-unit", unit]),
        );
        m.check(
            registry_id(&m, unit) == *id,
            &format!("{unit}'s registry restarted"),
            &m.run(&["debug-log", "--replay"]),
        );
        m.check(
            config_yml(&m, unit) == *config,
            &format!("{unit}'s config.yml changed"),
            &m.run(&["status"]),
        );
    }
    for addr in &addrs {
        clients::pull_and_compare(&m, &format!("{addr}:5000"), &img, Tls::Off, None);
    }
}

/// Issue 17 item 10, the leader removed: the other unit becomes leader, finds the same
/// secret (same revision, same value), restarts nothing and keeps serving the images.
#[test]
fn removing_the_leader_changes_no_secret_and_costs_no_restart() {
    let m = Model::new();
    let addrs = deploy(&m, 2);
    // Whichever unit the seed made leader goes; the other survives.
    let (gone, kept) = if leader(&m) == 0 { (0, 1) } else { (1, 0) };
    let (leader_unit, other) = ([UNIT0, UNIT1][gone], [UNIT0, UNIT1][kept]);
    let img = build_image(&m, "leader");
    let survivor = format!("{}:5000", addrs[kept]);
    clients::push_ok(&m, &survivor, &img, Tls::Off, None);
    let secret = juju_secret(&m);
    let id = registry_id(&m, other);
    let config = config_yml(&m, other);

    m.ok(&["remove-unit", leader_unit]);
    let st = m.unit_status(other);
    m.check(
        st["leader"] == true,
        &format!("{other} is not the leader"),
        &m.run(&["status"]),
    );
    m.expect_status(
        other,
        "active",
        &format!("Ready at {}:5000 (http).", addrs[kept]),
    );
    m.check(
        juju_secret(&m) == secret,
        "the secret changed with the leader",
        &m.run(&["secrets"]),
    );
    m.check(
        registry_id(&m, other) == id && config_yml(&m, other) == config,
        "the survivor restarted or rewrote its config",
        &m.run(&["debug-log", "--replay"]),
    );
    clients::pull_and_compare(&m, &survivor, &img, Tls::Off, None);
}

/// Issue 17 item 10, disk full while config.yml is written: /etc/docker/registry is a
/// tmpfs with no room left. The hook fails with the cause, the old config.yml is intact
/// and keeps serving; with room again, the retry writes the new one.
#[test]
fn a_full_disk_keeps_the_old_config_and_the_retry_writes_the_new_one() {
    let m = Model::new();
    let addr = deploy(&m, 1).remove(0);
    let good = config_yml(&m, UNIT0);
    let id = registry_id(&m, UNIT0);
    // The same files on a 64 KiB tmpfs in the machine's mount namespace, then filled.
    m.exec(
        UNIT0,
        "set -e; d=/etc/docker/registry; mkdir -p /var/lib/e2e-full
         cp -a $d/. /var/lib/e2e-full/
         mount -t tmpfs -o size=64k,mode=0755 e2e-full $d
         cp -a /var/lib/e2e-full/. $d/
         dd if=/dev/zero of=$d/filler bs=1k count=128 2>/dev/null || true",
    );
    m.ok(&["config", APP, "log-level=debug"]);
    let st = m.unit_status(UNIT0);
    m.check(
        st["workload-status"]["current"] == "error" || st["juju-status"]["current"] == "error",
        "the hook did not fail",
        &m.run(&["status"]),
    );
    let log = m.debug_log();
    m.check(
        log.contains(&format!(
            "could not write the new {CONFIG_YML}: No space left on device"
        )),
        "the failure does not name the cause and the file",
        &m.run(&["debug-log", "--replay"]),
    );
    m.check(
        config_yml(&m, UNIT0) == good,
        "config.yml changed on a full disk",
        &m.exec(UNIT0, "ls -la /etc/docker/registry"),
    );
    m.check(
        registry_id(&m, UNIT0) == id,
        "the registry was restarted",
        &m.run(&["debug-log", "--replay"]),
    );
    let url = format!("http://{addr}:5000/v2/");
    m.check(
        clients::http_code(&m, &url, Tls::Off, None) == "200",
        "the registry stopped serving",
        &m.run(&["status"]),
    );

    // With room again the agent's own retry (Juju retries failed hooks by default, with
    // backoff) writes it; no `resolve` needed. The settle lets model time reach that retry.
    m.exec(UNIT0, "rm /etc/docker/registry/filler");
    m.ok(&["settle"]);
    m.expect_status(UNIT0, "active", &format!("Ready at {addr}:5000 (http)."));
    m.check(
        config_yml(&m, UNIT0).contains("level: \"debug\""),
        "the retry did not write the new config",
        &m.exec(UNIT0, &format!("cat {CONFIG_YML}")),
    );
    m.check(
        clients::http_code(&m, &url, Tls::Off, None) == "200",
        "the registry does not serve after the retry",
        &m.run(&["status"]),
    );
}
