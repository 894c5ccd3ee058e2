//! A pull-through cache whose upstream is gone (issue 17): distribution exits at start
//! when it cannot reach `cache-remoteurl`, which used to take the running registry down
//! (`waiting`, `GET /v2/` refused, a 10 s wait at every hook). Now the unit goes back to
//! its last good config in the same hook, keeps serving, and blocks naming the option and
//! quoting the registry's own line; once the upstream answers again the cache config is
//! tried again by itself. The upstream is a second registry on its own jujusim machine:
//! first its registry is stopped (the cache's start fails at once, with a line to quote)
//! and started again, then its machine is removed (the cache's start hangs on the network
//! until the charm's wait is over).
mod support;

use support::clients::{
    build_image, http_code, ingress, pull_and_compare, push, push_ok, Image, Tls,
};
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
    expect_cache_config(m, false, "the refused config.yml was left in place");
    message
}

/// Fails with `what` unless `cache/0`'s config.yml has a `remoteurl` exactly when `cache`.
fn expect_cache_config(m: &Model, cache: bool, what: &str) {
    let config = m.exec(
        "cache/0",
        "grep -c remoteurl /etc/docker/registry/config.yml || true",
    );
    let want = if cache { "1" } else { "0" };
    m.check(config.text() == want, what, &config);
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

    // The upstream serves again: the next hook sees it answer (it saw it give none) and
    // tries the cache config again, by itself, once.
    m.ok(&["run", "upstream/0", "start"]);
    m.ok(&["update-status", "cache/0"]);
    m.expect_status(
        "cache/0",
        "active",
        &format!("Ready at {addr}:5000 (http)."),
    );
    expect_cache_config(&m, true, "not serving the cache config");
    pull_and_compare(&m, &format!("{addr}:5000"), &img, Tls::Off, None);
    m.ok(&["config", "cache", "cache-remoteurl="]);
    m.expect_status(
        "cache/0",
        "active",
        &format!("Ready at {addr}:5000 (http)."),
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

/// Issue 16 item 4: the cache for real. An image pushed to the upstream (another jujusim
/// machine) is pulled through the cache, byte for byte; a push to the cache is refused as
/// the registry refuses it (nothing is stored); cache credentials are taken without ever
/// showing in status or relation data; and once the upstream is gone, what the cache
/// already holds is still served.
#[test]
fn the_cache_serves_upstream_images_and_refuses_pushes() {
    let m = Model::new();
    let upstream = deploy(&m, "upstream");
    let addr = deploy(&m, "cache");
    let from_upstream = build_image(&m, "from-upstream");
    push_ok(
        &m,
        &format!("{upstream}:5000"),
        &from_upstream,
        Tls::Off,
        None,
    );

    let password = "mirror-password-e2e-7f3a";
    m.ok(&[
        "config",
        "cache",
        &format!("cache-remoteurl=http://{upstream}:5000"),
        "cache-username=mirror",
        &format!("cache-password={password}"),
    ]);
    let ready = format!("Ready at {addr}:5000 (http).");
    m.expect_status("cache/0", "active", &ready);
    let shown = [
        m.run(&["status", "--format=json"]),
        m.run(&["show-unit", "cache/0"]),
    ];
    for out in &shown {
        m.check(
            !out.stdout.contains(password),
            "the cache password is shown",
            out,
        );
    }

    // Pulled through the cache: the cache never had it, the upstream's bytes come back.
    let cache = format!("{addr}:5000");
    pull_and_compare(&m, &cache, &from_upstream, Tls::Off, None);

    // A push to the cache is refused, and nothing of it is stored.
    let pushed = build_image(&m, "pushed-to-cache");
    let out = push(&m, &cache, &pushed, Tls::Off, None);
    m.check(!out.success(), "the cache took a push", &out);
    let lower = out.stderr.to_lowercase();
    m.check(
        lower.contains("405") || lower.contains("unsupported"),
        "the push failed for another reason than the cache refusing it",
        &out,
    );
    let manifest = format!(
        "http://{cache}/v2/e2e/{}/manifests/{}",
        pushed.name, pushed.tag
    );
    let code = http_code(&m, &manifest, Tls::Off, None);
    m.check(
        code == "404",
        &format!("GET of the refused push answered {code}"),
        &out,
    );

    // The upstream's registry stops: what the cache holds is still served.
    m.ok(&["run", "upstream/0", "stop"]);
    let v2 = format!("http://{upstream}:5000/v2/");
    let out = m.run(&["netexec", "--", "curl", "-sS", "--max-time", "5", &v2]);
    m.check(!out.success(), "the upstream still answers", &out);
    pull_and_compare(&m, &cache, &from_upstream, Tls::Off, None);
    m.expect_status("cache/0", "active", &ready);
}
