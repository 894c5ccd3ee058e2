//! `cos-agent` (provides, interface `cos_agent`): what the grafana-agent subordinate on
//! the unit's machine reads to scrape the registry and forward its alert rules
//! (docs/relations.md#cos-agent).
//!
//! Everything sits in our unit bag under one key, `config`, as one JSON object (subordinate
//! relations carry unit data only): `metrics_scrape_jobs` (Prometheus scrape configs),
//! `metrics_alert_rules` (a Prometheus rule file as JSON), `log_alert_rules`, `dashboards`
//! and `log_slots` (none: the registry is no snap). The agent requires every one of those
//! keys, so they are always written, empty when there is nothing to say.

use std::net::SocketAddr;

use serde_json::{json, Map, Value};

use super::Databag;

/// The unit-bag key that holds the whole JSON object.
pub const KEY: &str = "config";

/// One alerting rule; `%%juju_topology%%` in `expr` stands for the unit's matchers.
struct Rule {
    alert: &'static str,
    expr: &'static str,
    for_: &'static str,
    severity: &'static str,
    summary: &'static str,
    description: &'static str,
}

/// The group name the rules are published under (prefixed with model and application).
const GROUP: &str = "docker-registry";

/// The alert rules the charm ships (docs/relations.md#cos-agent); their promtool unit
/// tests are rules/docker-registry.rules.test.yaml.
const RULES: &[Rule] = &[
    Rule {
        alert: "RegistryDown",
        expr: r#"up{job=~".*registry-metrics",%%juju_topology%%} < 1"#,
        for_: "5m",
        severity: "critical",
        summary: "Registry on {{ $labels.instance }} is down",
        description: "Its metrics listener has not answered a scrape for 5 minutes: the \
            registry, or the metrics proxy in front of its debug server, is not running.",
    },
    Rule {
        alert: "RegistryHigh5xxRate",
        expr: r#"sum by (juju_model, juju_model_uuid, juju_application, juju_unit, instance) (
  rate(registry_http_requests_total{code=~"5..",%%juju_topology%%}[5m]))
/
sum by (juju_model, juju_model_uuid, juju_application, juju_unit, instance) (
  rate(registry_http_requests_total{%%juju_topology%%}[5m]))
> 0.05"#,
        for_: "10m",
        severity: "warning",
        summary: "Registry on {{ $labels.instance }} answers 5xx",
        description: "{{ $value | humanizePercentage }} of its requests failed with a \
            server error over the last 10 minutes.",
    },
    // The registry has no storage-error counter: a 5xx from a handler that reads or
    // writes the store (blobs, uploads, manifests) is a storage driver error.
    Rule {
        alert: "RegistryStorageErrors",
        expr: r#"sum by (juju_model, juju_model_uuid, juju_application, juju_unit, instance) (
  rate(registry_http_requests_total{code=~"5..",handler=~"blob|blob_upload|blob_upload_chunk|manifest",%%juju_topology%%}[5m]))
> 0"#,
        for_: "5m",
        severity: "critical",
        summary: "Registry on {{ $labels.instance }} fails to read or write its storage",
        description: "Blob and manifest requests have answered 5xx for 5 minutes: check \
            the storage backend (disk, s3 or swift credentials and reachability) in the \
            registry's log.",
    },
    // node_exporter's filesystem series, which grafana-agent collects on the machine;
    // the filesystem driver keeps the images on local disk.
    Rule {
        alert: "RegistryDiskNearlyFull",
        expr: r#"node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|squashfs|overlay",%%juju_topology%%}
/
node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|squashfs|overlay",%%juju_topology%%}
< 0.10"#,
        for_: "15m",
        severity: "warning",
        summary: "Disk {{ $labels.mountpoint }} on {{ $labels.instance }} is nearly full",
        description: "{{ $value | humanizePercentage }} left. Free space (the `gc` action \
            removes unreferenced blobs) or grow the disk before pushes fail.",
    },
];

/// Where the rules are in the Juju model: every series the agent scrapes carries these
/// labels, so the rules match this application only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// `juju_model`.
    pub model: String,
    /// `juju_model_uuid`.
    pub model_uuid: String,
    /// `juju_application`.
    pub application: String,
}

impl Topology {
    /// `(label, value)` pairs in a fixed order.
    fn labels(&self) -> [(&'static str, &str); 3] {
        [
            ("juju_model", &self.model),
            ("juju_model_uuid", &self.model_uuid),
            ("juju_application", &self.application),
        ]
    }

    /// The PromQL matchers (`juju_model="m",...`) that replace `%%juju_topology%%`.
    pub fn matchers(&self) -> String {
        self.labels()
            .iter()
            .map(|(k, v)| format!("{k}={}", Value::from(*v)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The shipped alert rules for `topology`, as the JSON rule file the agent forwards
/// (`{"groups": [...]}`): the placeholder filled in, the topology labels on every rule.
pub fn alert_rules(topology: &Topology) -> Value {
    let matchers = topology.matchers();
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            let mut labels = Map::new();
            labels.insert("severity".into(), r.severity.into());
            for (k, v) in topology.labels() {
                labels.insert(k.into(), v.into());
            }
            json!({
                "alert": r.alert,
                "expr": r.expr.replace("%%juju_topology%%", &matchers),
                "for": r.for_,
                "labels": labels,
                "annotations": {"summary": r.summary, "description": r.description},
            })
        })
        .collect();
    json!({"groups": [{
        // Group names must be unique where the rules end up (one Prometheus for many).
        "name": format!("{}_{}_{GROUP}", topology.model, topology.application),
        "rules": rules,
    }]})
}

/// One Prometheus scrape job: `path` on `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeJob {
    /// The job's name (unique per application).
    pub name: String,
    /// Where the metrics listener is.
    pub target: SocketAddr,
    /// The HTTP path of the metrics.
    pub path: String,
}

/// What this unit tells the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderData {
    /// Scrape jobs (none while `prometheus-metrics` is off).
    pub scrape_jobs: Vec<ScrapeJob>,
    /// The Prometheus rule file as JSON (`{"groups": [...]}`).
    pub alert_rules: Value,
}

impl ProviderData {
    /// Our unit bag: the whole object under [`KEY`].
    pub fn to_databag(&self) -> Databag {
        let jobs: Vec<Value> = self
            .scrape_jobs
            .iter()
            .map(|j| {
                json!({
                    "job_name": j.name,
                    "metrics_path": j.path,
                    "static_configs": [{"targets": [j.target.to_string()]}],
                })
            })
            .collect();
        let data = json!({
            "metrics_alert_rules": self.alert_rules,
            "log_alert_rules": {},
            "dashboards": [],
            "metrics_scrape_jobs": jobs,
            "log_slots": [],
        });
        super::bag([(KEY, data.to_string())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        Topology {
            model: "lab".into(),
            model_uuid: "00000000-0000-4000-8000-000000000000".into(),
            application: "docker-registry".into(),
        }
    }

    #[test]
    fn every_rule_is_scoped_to_the_application_and_labelled_with_it() {
        let rules = alert_rules(&topology());
        let text = rules.to_string();
        assert!(!text.contains("%%juju_topology%%"), "{text}");
        let group = &rules["groups"][0];
        assert_eq!(group["name"], "lab_docker-registry_docker-registry");
        let list = group["rules"].as_array().unwrap();
        let names: Vec<&str> = list.iter().map(|r| r["alert"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "RegistryDown",
                "RegistryHigh5xxRate",
                "RegistryStorageErrors",
                "RegistryDiskNearlyFull"
            ]
        );
        for rule in list {
            assert_eq!(rule["labels"]["juju_application"], "docker-registry");
            assert_eq!(rule["labels"]["juju_model"], "lab");
            assert!(rule["labels"]["severity"].is_string(), "{rule}");
            assert!(
                rule["expr"]
                    .as_str()
                    .unwrap()
                    .contains(r#"juju_application="docker-registry""#),
                "{rule}"
            );
        }
    }

    #[test]
    fn matchers_quote_values() {
        let mut t = topology();
        t.model = r#"a"b"#.into();
        assert!(
            t.matchers().starts_with(r#"juju_model="a\"b","#),
            "{}",
            t.matchers()
        );
    }

    #[test]
    fn the_bag_has_every_key_the_agent_requires() {
        let data = ProviderData {
            scrape_jobs: vec![ScrapeJob {
                name: "docker-registry_0_registry-metrics".into(),
                target: "10.1.0.5:5001".parse().unwrap(),
                path: "/metrics".into(),
            }],
            alert_rules: json!({"groups": []}),
        };
        let bag = data.to_databag();
        assert_eq!(bag.len(), 1);
        let v: Value = serde_json::from_str(&bag[KEY]).unwrap();
        for key in [
            "metrics_alert_rules",
            "log_alert_rules",
            "dashboards",
            "metrics_scrape_jobs",
            "log_slots",
        ] {
            assert!(v.get(key).is_some(), "{key} missing from {v}");
        }
        assert_eq!(
            v["metrics_scrape_jobs"][0],
            json!({
                "job_name": "docker-registry_0_registry-metrics",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": ["10.1.0.5:5001"]}],
            })
        );
    }
}
