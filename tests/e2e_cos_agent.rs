//! Observability end to end: the charm with `prometheus-metrics` on, related to the
//! grafana-agent stand-in (a subordinate on the unit's machine that reads `cos-agent` as
//! the real agent does). The agent finds the scrape job and the alert rules in the
//! relation; it scrapes the registry's real `/metrics` through the job, and what it got
//! passes `promtool check metrics`; the rules it received pass `promtool check rules`.
//! Metrics off: the job is withdrawn, the rules stay. Each change is one line in the
//! debug-log.
mod support;

use serde_json::Value;
use support::clients::ingress;
use support::jujusim::{testcharm, Model};

const UNIT: &str = "docker-registry/0";
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
