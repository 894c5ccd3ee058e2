//! The `cos-agent` relation: the scrape job of the metrics listener (while
//! `prometheus-metrics` is on) and the shipped alert rules, for the grafana-agent
//! subordinate (docs/relations.md#cos-agent).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::config::CharmConfig;
use crate::relations::changes;
use crate::relations::cos_agent::{self, ProviderData, ScrapeJob, Topology};

use super::builder::Builder;
use super::model::ModelView;

/// The scrape job for `app`: the metrics listener at the ingress address (loopback when
/// there is none), or none while metrics are off.
pub fn scrape_job(config: &CharmConfig, app: &str, address: Option<IpAddr>) -> Option<ScrapeJob> {
    config.prometheus_metrics.then(|| ScrapeJob {
        name: format!("{app}_0_registry-metrics"),
        target: SocketAddr::new(
            address.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            config.debug_port,
        ),
        path: "/metrics".into(),
    })
}

/// Writes what the agent reads into every cos-agent relation, with one log line when it
/// changes.
pub fn publish(p: &mut Builder, model: &ModelView, config: &CharmConfig) {
    if model.cos_agent.is_empty() {
        return;
    }
    let topology = Topology {
        model: model.model_name.clone(),
        model_uuid: model.model_uuid.clone(),
        application: model.unit.app().to_string(),
    };
    let alert_rules = cos_agent::alert_rules(&topology);
    let job = scrape_job(config, &topology.application, model.address);
    let what = match &job {
        Some(j) => format!("the scrape job of http://{}{}", j.target, j.path),
        None => "no scrape job (prometheus-metrics is off)".to_string(),
    };
    let desired = ProviderData {
        scrape_jobs: job.into_iter().collect(),
        alert_rules,
    }
    .to_databag();
    for rel in &model.cos_agent {
        if !changes(&rel.ours, &desired).is_empty() {
            p.info(format!("cos-agent: publishing {what} and the alert rules"));
        }
        p.relation(&rel.id, false, &rel.ours, &desired);
    }
}
