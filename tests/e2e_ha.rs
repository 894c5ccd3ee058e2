//! HA end to end (issue 16): three units on one object store, a Swift all-in-one through
//! the registry's swift driver and again through its s3 driver, behind the haproxy test
//! charm (the real haproxy). skopeo pushes through the proxy and pulls the same digest
//! from every unit; then, under a load of 20 pulling and 2 pushing clients through the
//! proxy (`examples/ha_load.rs`), a config change restarts every registry, the leader
//! (whichever unit the scheduling seed made it) is removed, another unit's registry is
//! SIGKILLed and a unit is added. No pull may fail, and every image pushed is on every unit after.
//!
//! One Swift machine serves both applications (it takes seconds to start).
mod support;

use std::time::Duration;

use serde_json::Value;
use support::clients::{build_image, ingress, pull_and_compare, push_ok, Tls};
use support::jujusim::{testcharm, Model};
use support::load::Load;
use support::swift;

/// One application of the charm behind its own haproxy.
struct Ha<'a> {
    m: &'a Model,
    app: String,
    /// The haproxy unit's address.
    proxy: String,
}

impl<'a> Ha<'a> {
    /// Deploys `app` with `units` units on `config`, and `<app>-proxy` (the haproxy test
    /// charm) in front; every unit must say it is ready behind the proxy.
    fn deploy(m: &'a Model, app: &str, units: u32, config: &[String]) -> Ha<'a> {
        let charm = m.registry_charm().display().to_string();
        let n = units.to_string();
        let mut args = vec!["deploy", &charm, app, "-n", &n];
        for c in config {
            args.extend(["--config", c]);
        }
        m.ok(&args);
        let proxy_app = format!("{app}-proxy");
        m.ok(&["deploy", &testcharm("haproxy"), &proxy_app]);
        m.ok(&[
            "integrate",
            &format!("{app}:website"),
            &format!("{proxy_app}:reverseproxy"),
        ]);
        let proxy = m
            .exec(
                &format!("{proxy_app}/0"),
                "network-get reverseproxy --ingress-address",
            )
            .text()
            .to_string();
        let ha = Ha {
            m,
            app: app.to_string(),
            proxy,
        };
        for n in 0..units {
            ha.expect_ready(n);
        }
        ha
    }

    fn unit(&self, n: u32) -> String {
        format!("{}/{n}", self.app)
    }

    fn proxy_netloc(&self) -> String {
        format!("{}:5000", self.proxy)
    }

    /// `<unit address>:5000` of `app/n`.
    fn unit_netloc(&self, n: u32) -> String {
        format!("{}:5000", ingress(self.m, &self.unit(n)))
    }

    fn expect_ready(&self, n: u32) {
        self.m.expect_status(
            &self.unit(n),
            "active",
            &format!("Ready at {}:5000 (http, proxied).", self.proxy),
        );
    }

    /// The unit number of the leader.
    fn leader(&self) -> u32 {
        (0..3)
            .find(|n| self.m.unit_status(&self.unit(*n))["leader"] == true)
            .unwrap_or_else(|| self.m.fail("no unit leads", &self.m.run(&["status"])))
    }

    /// SIGKILLs `app/n`'s registry; returns its pid.
    fn kill_registry(&self, n: u32) -> String {
        let out = self.m.exec(
            &self.unit(n),
            "p=$(sed -n 's/^pid=//p' /run/docker-registry-charm/registry.pid); kill -KILL $p; echo $p",
        );
        out.text().to_string()
    }

    /// The pid in `app/n`'s registry pid file.
    fn registry_pid(&self, n: u32) -> String {
        let out = self.m.exec(
            &self.unit(n),
            "sed -n 's/^pid=//p' /run/docker-registry-charm/registry.pid",
        );
        out.text().to_string()
    }
}

/// The figures of a load run, printed for the record; fails on any failed pull.
fn expect_no_failed_pull(m: &Model, what: &str, figures: &Value, stderr: &str) {
    eprintln!("HA LOAD {what}: {figures}");
    let failed = figures["pulls_failed"].as_u64();
    let ok = figures["pulls_ok"].as_u64().unwrap_or(0);
    m.check(
        failed == Some(0) && ok > 0,
        &format!("{what}: {failed:?} failed pulls ({ok} ok): {figures}\n{stderr}"),
        &m.run(&["status"]),
    );
}

/// The whole HA sequence on one application.
fn ha_sequence(m: &Model, app: &str, config: &[String]) {
    let ha = Ha::deploy(m, app, 3, config);

    // A real client: pushed through the proxy, the same digest from every unit.
    let img = build_image(m, &format!("{app}-skopeo"));
    push_ok(m, &ha.proxy_netloc(), &img, Tls::Off, None);
    for n in 0..3 {
        pull_and_compare(m, &ha.unit_netloc(n), &img, Tls::Off, None);
    }

    let load = Load::new(m, app);
    load.seed(m, &ha.proxy_netloc(), 4);
    let units: Vec<String> = (0..3).map(|n| ha.unit_netloc(n)).collect();
    let seeded = load.verify(m, &units);
    m.check(
        seeded.success(),
        "a seed image is missing on a unit",
        &seeded,
    );

    let running = load.start(m, &ha.proxy_netloc(), 600, 20, 2);
    // Every registry restarts, one unit after the other.
    m.ok(&["config", app, "log-level=debug"]);
    // The leader goes (the seed decides which unit leads).
    let gone = ha.leader();
    m.ok(&["remove-unit", &ha.unit(gone)]);
    let left: Vec<u32> = (0..3).filter(|n| *n != gone).collect();
    // Another unit's registry dies; its supervisor starts it again.
    let victim = left[0];
    let killed = ha.kill_registry(victim);
    m.eventually(
        "the killed registry to be replaced",
        Duration::from_secs(10),
        || {
            let now = ha.registry_pid(victim);
            if !now.is_empty() && now != killed {
                Ok(())
            } else {
                Err(m.exec(
                    &ha.unit(victim),
                    "cat /var/log/docker-registry/registry.log | tail -5",
                ))
            }
        },
    );
    m.ok(&["add-unit", app]);
    let serving: Vec<u32> = left.iter().copied().chain([3]).collect();
    for n in &serving {
        ha.expect_ready(*n);
    }
    let (figures, stderr) = running.finish();
    // What haproxy answered other than 2xx/3xx/404, for the record.
    let answers = m.exec(
        &format!("{app}-proxy/0"),
        r"grep -aE '/[0-9+-]+ [45][0-9][0-9] |WARNING|ALERT' /var/log/haproxy-sim.log | grep -v ' 404 ' | tail -30 || true",
    );
    eprintln!("HA PROXY {app}:\n{}", answers.stdout);
    expect_no_failed_pull(m, app, &figures, &stderr);

    // Nothing lost: every seed and every image the load pushed, from every unit left and
    // from the proxy.
    let mut at: Vec<String> = serving.iter().map(|n| ha.unit_netloc(*n)).collect();
    at.push(ha.proxy_netloc());
    let verified = load.verify(m, &at);
    eprintln!("HA VERIFY {app}: {}", verified.text());
    m.check(verified.success(), "images were lost", &verified);
    pull_and_compare(m, &ha.unit_netloc(3), &img, Tls::Off, None);
}

#[test]
fn three_units_on_swift_and_on_s3_lose_no_pull_while_units_go_come_and_die() {
    let m = Model::new();
    let swift = swift::deploy(&m);
    ha_sequence(&m, "ha-swift", &swift::swift_config(&swift, "ha-swift"));
    swift::create_bucket(&m, "ha-s3");
    ha_sequence(&m, "ha-s3", &swift::s3_config(&swift, "ha-s3"));
}

/// Filesystem storage behind haproxy (B30): a unit added later is a `backup` from its first
/// hook, before it has seen its peers, so no pull of an image already pushed reaches its
/// empty registry (before, it claimed primary until its peer hooks ran: 32 pulls answered
/// 404 in 4.6 s). A lone unit is a `backup` too, and haproxy serves it.
#[test]
fn a_unit_added_to_filesystem_storage_never_serves_its_empty_registry() {
    let m = Model::new();
    let app = "ha-fs";
    let ha = Ha::deploy(&m, app, 1, &[]);
    let load = Load::new(&m, app);
    load.seed(&m, &ha.proxy_netloc(), 4);
    let running = load.start(&m, &ha.proxy_netloc(), 300, 10, 0);
    m.ok(&["add-unit", app]);
    let (current, message) = m.workload_status(&ha.unit(1));
    m.check(
        current == "active" && message.contains("an image pushed to one is not on the others"),
        &format!("{app}/1: {current} {message:?}"),
        &m.run(&["status"]),
    );
    let (figures, stderr) = running.finish();
    expect_no_failed_pull(&m, "filesystem, a unit added", &figures, &stderr);

    // haproxy's own view: the first unit is the primary, the new one a backup.
    let cfg = m.exec(&format!("{app}-proxy/0"), "cat /etc/haproxy/haproxy.cfg");
    let server = |n: u32| {
        cfg.stdout
            .lines()
            .find(|l| l.contains(&format!("server {app}-{n} ")))
            .unwrap_or_else(|| m.fail(&format!("no server {app}-{n}"), &cfg))
            .to_string()
    };
    assert!(!server(0).contains("backup"), "{}", cfg.stdout);
    assert!(server(1).contains("backup"), "{}", cfg.stdout);
}
