//! B27 (docs/python-charm-bugs.md#b27), measured: with `prometheus-metrics` on, what of the
//! registry's debug server another jujusim machine can reach. distribution serves pprof
//! and expvar on the same listener as `/metrics`; the charm binds that listener to
//! loopback and serves `/metrics` alone on the unit's ingress address (the metrics proxy),
//! so from elsewhere only `/metrics` answers, and nothing listens on 0.0.0.0.
mod support;

use support::clients::ingress;
use support::jujusim::{testcharm, Model};

const UNIT: &str = "docker-registry/0";

/// `curl` from `from` (a unit on another machine): the HTTP code, or `fail:<exit>`.
fn code_from(m: &Model, from: &str, url: &str) -> String {
    let out = m.exec(
        from,
        &format!(
            "curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 '{url}' || echo \"fail:$?\""
        ),
    );
    out.text().to_string()
}

#[test]
fn only_metrics_is_reachable_from_another_machine() {
    let m = Model::new();
    let charm = m.registry_charm().display().to_string();
    m.ok(&[
        "deploy",
        &charm,
        "docker-registry",
        "--config",
        "prometheus-metrics=true",
    ]);
    let addr = ingress(&m, UNIT);
    m.expect_status(UNIT, "active", &format!("Ready at {addr}:5000 (http)."));
    m.ok(&["deploy", &testcharm("trivial"), "elsewhere"]);
    let elsewhere = "elsewhere/0";

    let base = format!("http://{addr}:5001");
    let metrics = m.exec(elsewhere, &format!("curl -sS --max-time 5 {base}/metrics"));
    m.check(
        metrics.success() && metrics.text().contains("go_goroutines"),
        "GET /metrics from another machine did not return Prometheus metrics",
        &metrics,
    );
    let mut seen = Vec::new();
    for path in [
        "/debug/pprof/",
        "/debug/pprof/heap",
        "/debug/vars",
        "/debug/health",
        "/",
    ] {
        let code = code_from(&m, elsewhere, &format!("{base}{path}"));
        seen.push(format!("{path} {code}"));
        m.check(
            code == "404",
            &format!("{base}{path} answered {code} from another machine, not 404"),
            &m.run(&["status"]),
        );
    }
    eprintln!(
        "MEASURED from {elsewhere}: /metrics 200; {}",
        seen.join("; ")
    );
    // The registry itself is reachable as always.
    let v2 = code_from(&m, elsewhere, &format!("http://{addr}:5000/v2/"));
    m.check(
        v2 == "200",
        &format!("/v2/ answered {v2}"),
        &m.run(&["status"]),
    );
    // On the unit, the debug server is there on loopback (for an operator on the unit).
    let local = code_from(&m, UNIT, "http://127.0.0.1:5001/debug/pprof/");
    m.check(
        local == "200",
        &format!("loopback pprof answered {local}"),
        &m.run(&["status"]),
    );
    // Nothing listens on every address.
    let listening = m.exec(UNIT, "ss -Hltn");
    m.check(
        !listening.text().contains("0.0.0.0:5001")
            && !listening.text().contains("*:5001")
            && !listening.text().contains("[::]:5001"),
        "something listens on all addresses at 5001",
        &listening,
    );
    m.check(
        listening.text().contains(&format!("{addr}:5001"))
            && listening.text().contains("127.0.0.1:5001"),
        "expected the proxy on the ingress address and the debug server on loopback",
        &listening,
    );

    // Metrics off: nothing at 5001 any more, from anywhere.
    m.ok(&["config", "docker-registry", "prometheus-metrics=false"]);
    m.expect_status(UNIT, "active", &format!("Ready at {addr}:5000 (http)."));
    let gone = code_from(&m, elsewhere, &format!("{base}/metrics"));
    m.check(
        gone.ends_with("fail:7"),
        &format!("/metrics answered {gone} with metrics off (curl exit 7: nothing listens)"),
        &m.run(&["status"]),
    );
    let listening = m.exec(UNIT, "ss -Hltn");
    m.check(
        !listening.text().contains(":5001 "),
        "something still listens at 5001",
        &listening,
    );
}
