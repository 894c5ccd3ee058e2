//! B27 (docs/python-charm-bugs.md#b27), measured: with `prometheus-metrics` on, what of the
//! registry's debug server another jujusim machine can reach. distribution serves pprof
//! and expvar on the same listener as `/metrics`; the charm binds that listener to
//! loopback and serves `/metrics` alone on the unit's ingress address (the metrics proxy),
//! so from elsewhere only `/metrics` answers, and nothing listens on 0.0.0.0. And the
//! same listener scraped through `cos-agent` by the grafana-agent stand-in.
mod support;

use serde_json::Value;
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

/// Deploys the charm with `prometheus-metrics` on; returns the unit's address once ready.
fn deploy_with_metrics(m: &Model) -> String {
    let charm = m.registry_charm().display().to_string();
    m.ok(&[
        "deploy",
        &charm,
        "docker-registry",
        "--config",
        "prometheus-metrics=true",
    ]);
    let addr = ingress(m, UNIT);
    m.expect_status(UNIT, "active", &format!("Ready at {addr}:5000 (http)."));
    addr
}

#[test]
fn only_metrics_is_reachable_from_another_machine() {
    let m = Model::new();
    let addr = deploy_with_metrics(&m);
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

// ---- cos-agent ----------------------------------------------------------------------------
// Observability end to end: the charm with `prometheus-metrics` on, related to the
// grafana-agent stand-in (a subordinate on the unit's machine that reads `cos-agent` as
// the real agent does). The agent finds the scrape job and the alert rules in the
// relation; it scrapes the registry's real `/metrics` through the job, and what it got
// passes `promtool check metrics`; the rules it received pass `promtool check rules`.
// Metrics off: the job is withdrawn, the rules stay. Each change is one line in the
// debug-log.

const AGENT: &str = "grafana-agent/0";
const DIR: &str = "/var/lib/grafana-agent-sim";

/// What the agent received (`config.json`), parsed.
fn received(m: &Model) -> Value {
    let out = m.exec(AGENT, &format!("cat {DIR}/config.json"));
    m.check(out.success(), "the agent kept no config.json", &out);
    serde_json::from_str(out.text()).unwrap_or_else(|e| m.fail(&format!("config.json: {e}"), &out))
}

#[test]
fn grafana_agent_scrapes_the_published_job_and_gets_checked_rules() {
    let m = Model::new();
    let addr = deploy_with_metrics(&m);
    m.ok(&["deploy", &testcharm("grafana-agent")]);
    m.ok(&[
        "integrate",
        "docker-registry:cos-agent",
        "grafana-agent:cos-agent",
    ]);
    m.expect_status(
        AGENT,
        "active",
        "1 scrape job(s), 4 alert rule(s) from docker-registry/0",
    );

    let data = received(&m);
    let job = &data["metrics_scrape_jobs"][0];
    assert_eq!(job["metrics_path"], "/metrics", "{data}");
    assert_eq!(
        job["static_configs"][0]["targets"][0],
        format!("{addr}:5001"),
        "the job scrapes the metrics listener on the ingress address"
    );

    // The agent scrapes as it would, on the principal's machine; a few requests first so
    // the registry's own counters are in the exposition.
    let v2 = m.exec(
        UNIT,
        &format!("curl -s -o /dev/null http://{addr}:5000/v2/"),
    );
    m.check(v2.success(), "GET /v2/", &v2);
    let scraped = m.json(&["run", AGENT, "scrape", "--format", "json"]);
    let target = &scraped[AGENT]["results"]["targets"]["t0"];
    assert_eq!(target["code"], "200", "{scraped}");
    let file = target["file"].as_str().unwrap_or_default();
    let body = m.exec(AGENT, &format!("cat {file}"));
    m.check(
        body.text().contains("registry_http_requests_total"),
        "the scrape has no registry_http_requests_total",
        &body,
    );
    let lint = m.exec(AGENT, &format!("promtool check metrics < {file}"));
    m.check(
        lint.success(),
        "promtool check metrics refused the scrape",
        &lint,
    );

    // The rules as the agent forwards them to Prometheus.
    let rules = m.exec(AGENT, &format!("promtool check rules {DIR}/rules.json"));
    m.check(
        rules.success() && rules.text().contains("SUCCESS: 4 rules found"),
        "promtool check rules refused the received rules",
        &rules,
    );
    let uuid = data["metrics_alert_rules"]["groups"][0]["rules"][0]["labels"]["juju_model_uuid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    m.check(
        !uuid.is_empty(),
        "the rules carry no juju_model_uuid",
        &rules,
    );

    // Metrics off: no job any more, the rules stay; one log line says so.
    m.ok(&["config", "docker-registry", "prometheus-metrics=false"]);
    m.expect_status(
        AGENT,
        "active",
        "0 scrape job(s), 4 alert rule(s) from docker-registry/0",
    );
    let log = m.debug_log();
    let published = log.matches("publishing the scrape job of").count();
    let withdrawn = log
        .matches("publishing no scrape job (prometheus-metrics is off)")
        .count();
    assert!(
        published == 1 && withdrawn == 1,
        "expected one line per change, got {published} and {withdrawn}:\n{log}"
    );
}
