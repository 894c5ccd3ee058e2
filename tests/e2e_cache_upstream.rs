//! A pull-through cache whose upstream is gone (issue 17): distribution exits at start
//! when it cannot reach `cache-remoteurl`, which used to take the running registry down
//! (`waiting`, `GET /v2/` refused, a 10 s wait at every hook). Now the unit goes back to
//! its last good config in the same hook, keeps serving, and blocks naming the option and
//! quoting the registry's own line. The upstream is a second registry on its own jujusim
//! machine: first its registry is stopped (the cache's start fails at once, with a line
//! to quote), then its machine is removed (the cache's start hangs on the network until
//! the charm's wait is over).
mod support;

use support::clients::{build_image, http_code, ingress, pull_and_compare, push_ok, Image, Tls};
use support::jujusim::Model;

fn deploy(m: &Model, app: &str) -> String {
    let charm = m.registry_charm().display().to_string();
    m.ok(&["deploy", &charm, app]);
    let unit = format!("{app}/0");
    let addr = ingress(m, &unit);
    m.expect_status(&unit, "active", &format!("Ready at {addr}:5000 (http)."));
    addr
}

fn pid(m: &Model, unit: &str) -> String {
    m.exec(unit, "cat /run/docker-registry-charm/registry.pid")
        .text()
        .to_string()
}

/// Fails unless `cache/0` is blocked naming cache-remoteurl, with the last good config
/// serving `img` (and config.yml without the refused proxy section); returns the message.
fn expect_refused_and_serving(m: &Model, addr: &str, img: &Image) -> String {
    let (current, message) = m.workload_status("cache/0");
    m.check(
        current == "blocked"
            && message.starts_with("The registry refused its config (cache-remoteurl): ")
            && message.ends_with("; the last good config keeps serving."),
        &format!("cache/0: {current} {message:?}"),
        &m.run(&["status"]),
    );
    let code = http_code(m, &format!("http://{addr}:5000/v2/"), Tls::Off, None);
    m.check(
        code == "200",
        &format!("GET /v2/ answered {code}"),
        &m.run(&["status"]),
    );
    pull_and_compare(m, &format!("{addr}:5000"), img, Tls::Off, None);
    let config = m.exec(
        "cache/0",
        "grep -c remoteurl /etc/docker/registry/config.yml || true",
    );
    m.check(
        config.text() == "0",
        "the refused config.yml was left in place",
        &config,
    );
    message
}

#[test]
fn an_unreachable_upstream_does_not_cost_the_running_registry() {
    let m = Model::new();
    let upstream = deploy(&m, "upstream");
    let addr = deploy(&m, "cache");
    let img = build_image(&m, "cached");
    push_ok(&m, &format!("{addr}:5000"), &img, Tls::Off, None);

    // While the upstream serves, the cache config is taken (and served).
    let remote = format!("cache-remoteurl=http://{upstream}:5000");
    m.ok(&["config", "cache", &remote]);
    m.expect_status(
        "cache/0",
        "active",
        &format!("Ready at {addr}:5000 (http)."),
    );
    m.ok(&["config", "cache", "cache-remoteurl="]);
    m.expect_status(
        "cache/0",
        "active",
        &format!("Ready at {addr}:5000 (http)."),
    );

    // The upstream's registry is stopped (its machine answers with a reset): the cache
    // exits at start, and the unit quotes its panic.
    m.ok(&["run", "upstream/0", "stop"]);
    let before = pid(&m, "cache/0");
    m.ok(&["config", "cache", &remote]);
    let message = expect_refused_and_serving(&m, &addr, &img);
    m.check(
        message.contains(&format!(
            "Get \"http://{upstream}:5000/v2/\": dial tcp {upstream}:5000: connect: connection refused"
        )),
        &format!("not the registry's own line: {message:?}"),
        &m.run(&["status"]),
    );
    // No retry, no restart at later hooks.
    let after = pid(&m, "cache/0");
    m.check(after != before, "never rolled back", &m.run(&["status"]));
    m.ok(&["update-status", "cache/0"]);
    m.ok(&["update-status", "cache/0"]);
    m.check(
        pid(&m, "cache/0") == after,
        "a hook restarted the registry while blocked",
        &m.run(&["status"]),
    );

    // The upstream's machine is gone: the start hangs on the network until the wait is
    // over; the last good config answered, so the unit goes back to it all the same.
    m.ok(&["remove-unit", "upstream/0"]);
    m.ok(&[
        "config",
        "cache",
        &format!("cache-remoteurl=http://{upstream}:5000/"),
    ]);
    expect_refused_and_serving(&m, &addr, &img);

    // The operator gives up on the cache: back to Ready.
    m.ok(&["config", "cache", "cache-remoteurl="]);
    m.expect_status(
        "cache/0",
        "active",
        &format!("Ready at {addr}:5000 (http)."),
    );
}
