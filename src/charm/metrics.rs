//! The metrics listener (B27, docs/python-charm-bugs.md#b27): with `prometheus-metrics`
//! the registry's debug server listens on loopback only (it serves pprof and expvar beside
//! `/metrics`), and the metrics proxy (`crate::metrics_proxy`, the charm's own program)
//! serves `/metrics` alone on the unit's ingress address at `debug-port`. Never 0.0.0.0.

use std::net::{IpAddr, SocketAddr};

use crate::config::CharmConfig;
use crate::metrics_proxy::Args;
use crate::workload::service::ServiceCall;
use crate::workload::users::SERVICE_USER;

use super::builder::Builder;
use super::steps::{MetricsStep, Step};
use super::view::View;

/// The proxy the config asks for: with metrics on and an ingress address other than
/// loopback (on loopback the debug server itself is the listener there is).
pub fn wanted(config: &CharmConfig, address: Option<IpAddr>) -> Option<Args> {
    let ip = address.filter(|_| config.prometheus_metrics)?;
    (!ip.is_loopback()).then(|| Args {
        listen: SocketAddr::new(ip, config.debug_port),
        upstream: crate::render::debug_addr(config),
        user: Some(SERVICE_USER.to_string()),
    })
}

/// Starts, restarts (new address or port) or stops the proxy to match the config.
pub fn plan(p: &mut Builder, view: &View, config: &CharmConfig) {
    let wanted = wanted(config, view.model.address).map(|a| a.to_argv());
    let running = view.machine.metrics.is_running();
    let call = match (&wanted, running) {
        (Some(w), true) if p.local.metrics.as_ref() == Some(w) => None,
        (Some(_), true) => Some(ServiceCall::Restart),
        (Some(_), false) => Some(ServiceCall::Start),
        (None, true) => Some(ServiceCall::Stop),
        (None, false) => None,
    };
    if let Some(call) = call {
        p.info(match call {
            ServiceCall::Stop => "stopping the metrics proxy".to_string(),
            _ => format!(
                "serving /metrics (and nothing else of the debug server) on {}:{}",
                view.model
                    .address
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                config.debug_port
            ),
        });
        p.step(Step::Metrics(MetricsStep {
            call,
            program: view.machine.program.clone(),
            args: wanted.clone().unwrap_or_default(),
        }));
    }
    p.local.metrics = wanted;
}

/// Stops the proxy when the unit remembers one (the registry is going down).
pub fn stop(p: &mut Builder, program: &std::path::Path) {
    if p.local.metrics.take().is_some() {
        p.step(Step::Metrics(MetricsStep {
            call: ServiceCall::Stop,
            program: program.to_path_buf(),
            args: Vec::new(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::fixtures::config;
    use serde_json::json;

    #[test]
    fn the_proxy_listens_on_the_ingress_address_and_asks_loopback() {
        let c = config(json!({"prometheus-metrics": true, "debug-port": 9101}));
        let a = wanted(&c, Some("10.1.0.5".parse().unwrap())).unwrap();
        assert_eq!(a.listen.to_string(), "10.1.0.5:9101");
        assert_eq!(a.upstream.to_string(), "127.0.0.1:9101");
        assert_eq!(a.user.as_deref(), Some(SERVICE_USER));
        let v6 = wanted(&c, Some("fd00::5".parse().unwrap())).unwrap();
        assert_eq!(v6.listen.to_string(), "[fd00::5]:9101");
        // Nothing to listen on, loopback already served, or metrics off: no proxy.
        assert_eq!(wanted(&c, None), None);
        assert_eq!(wanted(&c, Some("127.0.0.1".parse().unwrap())), None);
        let off = config(json!({"debug-port": 9101}));
        assert_eq!(wanted(&off, Some("10.1.0.5".parse().unwrap())), None);
    }
}
