//! Pure decisions: from what the hook sees to what the unit should look like.
//!
//! Nothing here touches the machine or Juju, so every rule is unit-tested with literals.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::config::{Auth, CharmConfig, Storage};
use crate::juju::{Databag, Port, PortRange, UnitName};
use crate::relations::docker_registry::{BasicAuth, RegistryInfo, Tls};
use crate::relations::nrpe::{servicegroups, CheckTls, NrpeCheck, NrpeRemote};
use crate::relations::website::{self, Balancing, ServicesStanza, WebsiteLeader};
use crate::relations::{changes, Host, Netloc};
use crate::workload::service::ServiceStatus;

use super::view::RelationView;

/// What clients are told to dial, and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    /// host:port clients use.
    pub netloc: Netloc,
    /// True when a reverse proxy (haproxy on `website`) fronts the registry.
    pub proxied: bool,
    /// The scheme `http-host` names: clients use it even when TLS ends in front of the
    /// unit (a load balancer), so it wins over the unit's own TLS state.
    pub scheme: Option<crate::config::Scheme>,
}

impl Advertised {
    /// Whether clients are told `https`.
    pub fn https(&self, tls_on: bool) -> bool {
        match self.scheme {
            Some(crate::config::Scheme::Https) => true,
            Some(crate::config::Scheme::Http) => false,
            None => tls_on,
        }
    }
}

/// The address of the proxy in front of us: the lowest-numbered haproxy unit's
/// `public-address`, else its `ingress-address`, else `private-address`.
pub fn proxy_host(website: &[RelationView]) -> Option<Host> {
    website
        .iter()
        .flat_map(|rel| rel.units.iter())
        .min_by_key(|(unit, _)| (unit.app().as_str().to_string(), unit.number()))
        .and_then(|(unit, bag)| {
            let raw = ["public-address", "ingress-address", "private-address"]
                .iter()
                .find_map(|k| bag.get(*k).filter(|v| !v.is_empty()))?;
            match raw.parse::<Host>() {
                Ok(host) => Some(host),
                Err(e) => {
                    tracing::warn!("ignoring {unit}'s address {raw:?} on website: {e}");
                    None
                }
            }
        })
}

/// `http-host`'s host[:port] as written if set, else the proxy's address with registry-port
/// (the Python charm dropped the port: docs/python-charm-bugs.md#b1), else this unit's
/// ingress address:registry-port.
///
/// A default port is not added to `http-host`: docker and containerd key credentials,
/// `certs.d/` and mirrors by the image reference's host, so `registry.example.com` and
/// `registry.example.com:443` are different registries to them (the Python charm sent
/// `urlparse(http-host).netloc`).
pub fn advertised(
    config: &CharmConfig,
    proxy: Option<Host>,
    address: Option<IpAddr>,
) -> Option<Advertised> {
    let port = config.registry_port;
    if let Some(url) = &config.http_host {
        let netloc = Netloc {
            host: url.hostname().parse().ok()?,
            port: url.port(),
        };
        return Some(Advertised {
            netloc,
            proxied: proxy.is_some(),
            scheme: Some(url.scheme()),
        });
    }
    if let Some(host) = proxy {
        return Some(Advertised {
            netloc: Netloc::new(host, port),
            proxied: true,
            scheme: None,
        });
    }
    let host = address?;
    Some(Advertised {
        netloc: Netloc::new(Host::from(host), port),
        proxied: false,
        scheme: None,
    })
}

/// `Ready at <netloc> (http|https[, proxied]).`: where and how clients connect.
pub fn ready_message(advertised: &Advertised, tls: bool) -> String {
    let scheme = if advertised.https(tls) {
        "https"
    } else {
        "http"
    };
    let proxied = if advertised.proxied { ", proxied" } else { "" };
    format!("Ready at {} ({scheme}{proxied}).", advertised.netloc)
}

/// Ports the unit must have open: registry-port, and debug-port with prometheus-metrics.
pub fn desired_ports(config: &CharmConfig) -> Vec<Port> {
    let mut ports = vec![Port::tcp(config.registry_port)];
    if config.prometheus_metrics {
        ports.push(Port::tcp(config.debug_port));
    }
    ports
}

/// (to open, to close) to go from `opened` to exactly `desired`.
pub fn port_changes(opened: &[PortRange], desired: &[Port]) -> (Vec<Port>, Vec<PortRange>) {
    let open = desired
        .iter()
        .filter(|p| {
            !opened
                .iter()
                .any(|r| r.from == p.number && r.to == p.number && r.protocol == p.protocol)
        })
        .copied()
        .collect();
    let close = opened
        .iter()
        .filter(|r| {
            !desired
                .iter()
                .any(|p| r.from == p.number && r.to == p.number && r.protocol == p.protocol)
        })
        .copied()
        .collect();
    (open, close)
}

/// What to do with the registry process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    /// Already running what we want.
    Keep,
    /// Not running: start it.
    Start,
    /// Running with other config/certs than wanted: restart it.
    Restart,
}

/// Restart only when what the registry reads at start changed (its config, certificates,
/// environment); start when it is not running (never started, or crashed).
pub fn service_action(
    status: &ServiceStatus,
    running_with: Option<&str>,
    wanted: &str,
) -> ServiceAction {
    match status {
        ServiceStatus::Running { .. } if running_with == Some(wanted) => ServiceAction::Keep,
        ServiceStatus::Running { .. } => ServiceAction::Restart,
        ServiceStatus::Stopped | ServiceStatus::Crashed { .. } => ServiceAction::Start,
    }
}

/// What each registry unit publishes to runtimes: netloc (with port), URL scheme and CA
/// following TLS from any source (docs/python-charm-bugs.md#b3), and the basic-auth
/// credentials.
pub fn client_info(
    advertised: &Advertised,
    config: &CharmConfig,
    tls: Option<Option<&str>>,
) -> RegistryInfo {
    let auth = match &config.auth {
        Auth::Basic { user, password } => Some(BasicAuth {
            user: user.clone(),
            password: password.expose().to_string(),
        }),
        _ => None,
    };
    let tls = match tls {
        None => Tls::Off,
        Some(ca) => Tls::On {
            ca: ca.map(str::to_string),
        },
    };
    let tls_on = matches!(tls, Tls::On { .. });
    let mut info = RegistryInfo::advertise(advertised.netloc.clone(), tls, auth);
    if let Some(url) = info.url.as_mut() {
        url.scheme = if advertised.https(tls_on) {
            crate::relations::docker_registry::Scheme::Https
        } else {
            crate::relations::docker_registry::Scheme::Http
        };
    }
    info
}

/// The minimal writes that turn `current` into `desired` (empty when nothing changed).
pub fn bag_writes(current: &Databag, desired: &Databag) -> Databag {
    changes(current, desired)
}

/// The leader's `website` bag: our address/port and the `services` stanza listing the
/// leader and every peer with an address, by unit number (docs/python-charm-bugs.md#b4).
/// Active/active only when
/// storage is shared by all units (s3, swift); per-unit filesystem storage must stay
/// active/passive or clients would see different content per request.
pub fn website_leader_bag(
    app: &str,
    leader: (&str, Host),
    peers: &[(String, Host)],
    config: &CharmConfig,
    tls: bool,
) -> Result<Databag, crate::relations::WireError> {
    let balancing = match config.storage {
        Storage::Filesystem => Balancing::ActivePassive,
        Storage::S3(_) | Storage::Swift(_) => Balancing::ActiveActive,
    };
    let mut stanza = ServicesStanza::new(app, config.registry_port)
        .tls_passthrough(tls)
        .balancing(balancing)
        .member(leader.0, leader.1.clone());
    for (unit, host) in peers {
        stanza = stanza.member(unit, host.clone());
    }
    let service = stanza.build()?;
    Ok(WebsiteLeader {
        address: leader.1,
        port: config.registry_port,
        services: vec![service],
    }
    .to_databag())
}

/// What a non-leader must delete from its website bag (it is not a standalone backend).
pub fn website_follower_bag() -> Databag {
    website::follower_delta()
}

/// The registry's Nagios check as the files the nrpe subordinate reads, `(path, contents)`:
/// the NRPE command definition, then the service exported for Nagios. `None` while no
/// nrpe unit is in any nrpe relation (the host name comes from it, so nothing to write).
/// The check follows the TLS state and registry-port, so it passes whenever the registry
/// answers (docs/python-charm-bugs.md#b7).
pub fn nrpe_files(
    nrpe: &[RelationView],
    config: &CharmConfig,
    unit: &UnitName,
    tls_on: bool,
) -> Option<Vec<(PathBuf, String)>> {
    let (remote_unit, bag) = nrpe.iter().flat_map(|r| r.units.iter()).next()?;
    let remote = nrpe_remote(remote_unit, bag);
    let tls = if tls_on { CheckTls::On } else { CheckTls::Off };
    let check = NrpeCheck::registry(config.registry_port, &tls);
    let groups = servicegroups(
        &config.nagios_servicegroups,
        remote.context(&config.nagios_context),
    );
    let host = remote.host_name(&config.nagios_context, &unit.to_string());
    Some(vec![
        (check.nrpe_cfg_path().into(), check.nrpe_cfg(groups)),
        (
            check.export_path(&host).into(),
            check.export_cfg(&host, groups),
        ),
    ])
}

/// The nrpe unit's keys; an unusable value is logged and ignored (as if unset), the
/// other keys are kept.
fn nrpe_remote(unit: &UnitName, bag: &Databag) -> NrpeRemote {
    let mut bag = bag.clone();
    loop {
        match NrpeRemote::parse(&bag) {
            Ok(remote) => return remote,
            Err(e) => {
                tracing::warn!("ignoring {unit}'s nrpe data: {e}");
                if bag.remove(e.key()).is_none() {
                    return NrpeRemote::default();
                }
            }
        }
    }
}

/// `now` in UTC as ISO 8601 with microseconds, e.g. `2026-01-02T03:04:05.000006` (the
/// Python charm's `datetime.now().isoformat()` form; nrpe only compares it for change).
pub fn iso_time(now: SystemTime) -> String {
    let t = time::OffsetDateTime::from(now);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::juju::UnitName;
    use serde_json::json;

    fn config(extra: serde_json::Value) -> CharmConfig {
        let map = extra.as_object().cloned().unwrap_or_default();
        CharmConfig::from_json(&map).unwrap()
    }

    fn rel(units: &[(&str, &[(&str, &str)])]) -> RelationView {
        RelationView {
            id: "website:3".parse().unwrap(),
            ours: Databag::new(),
            units: units
                .iter()
                .map(|(u, kv)| {
                    (
                        u.parse::<UnitName>().unwrap(),
                        kv.iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    )
                })
                .collect(),
            app: Databag::new(),
        }
    }

    #[test]
    fn netloc_prefers_http_host_then_proxy_with_port_then_unit() {
        let ip: IpAddr = "10.1.0.5".parse().unwrap();
        let plain = config(json!({}));
        let a = advertised(&plain, None, Some(ip)).unwrap();
        assert_eq!(a.netloc.to_string(), "10.1.0.5:5000");
        assert!(!a.proxied);
        let p = advertised(&plain, Some("10.1.0.9".parse().unwrap()), Some(ip)).unwrap();
        assert_eq!(p.netloc.to_string(), "10.1.0.9:5000", "B1: keep the port");
        assert!(p.proxied);
        let hh = config(json!({"http-host": "https://registry.example.com/"}));
        assert_eq!(
            advertised(&hh, None, Some(ip)).unwrap().netloc.to_string(),
            "registry.example.com",
            "no default port: clients key creds and CAs by the reference's host"
        );
        let hp = config(json!({"http-host": "http://reg.example:8443/"}));
        assert_eq!(
            advertised(&hp, None, Some(ip)).unwrap().netloc.to_string(),
            "reg.example:8443"
        );
        assert!(advertised(&plain, None, None).is_none());
    }

    #[test]
    fn ready_message_matches_the_python_charm() {
        let a = Advertised {
            netloc: "10.1.0.5:5000".parse().unwrap(),
            proxied: false,
            scheme: None,
        };
        assert_eq!(ready_message(&a, false), "Ready at 10.1.0.5:5000 (http).");
        let p = Advertised { proxied: true, ..a };
        assert_eq!(
            ready_message(&p, true),
            "Ready at 10.1.0.5:5000 (https, proxied)."
        );
    }

    #[test]
    fn proxy_is_the_lowest_numbered_unit_and_prefers_public_address() {
        let r = rel(&[
            ("haproxy/10", &[("private-address", "10.0.0.10")]),
            (
                "haproxy/2",
                &[
                    ("private-address", "10.0.0.2"),
                    ("public-address", "192.0.2.2"),
                ],
            ),
        ]);
        assert_eq!(proxy_host(&[r]).unwrap().to_string(), "192.0.2.2");
        let garbage = rel(&[("haproxy/0", &[("private-address", "not an address!")])]);
        assert_eq!(proxy_host(&[garbage]), None);
        assert_eq!(proxy_host(&[]), None);
    }

    #[test]
    fn ports_follow_config_and_close_what_is_no_longer_wanted() {
        let c = config(json!({"registry-port": 5443, "prometheus-metrics": true}));
        let want = desired_ports(&c);
        assert_eq!(want, vec![Port::tcp(5443), Port::tcp(5001)]);
        let opened = vec![
            PortRange::from(Port::tcp(5000)),
            PortRange::from(Port::tcp(5001)),
        ];
        let (open, close) = port_changes(&opened, &want);
        assert_eq!(open, vec![Port::tcp(5443)]);
        assert_eq!(close, vec![PortRange::from(Port::tcp(5000))]);
        let (open, close) = port_changes(&[Port::tcp(5443).into(), Port::tcp(5001).into()], &want);
        assert!(open.is_empty() && close.is_empty());
    }

    #[test]
    fn restart_only_when_what_the_registry_reads_changed() {
        let running = ServiceStatus::Running { pid: 7 };
        assert_eq!(
            service_action(&running, Some("a"), "a"),
            ServiceAction::Keep
        );
        assert_eq!(
            service_action(&running, Some("a"), "b"),
            ServiceAction::Restart
        );
        assert_eq!(service_action(&running, None, "b"), ServiceAction::Restart);
        assert_eq!(
            service_action(&ServiceStatus::Stopped, Some("a"), "a"),
            ServiceAction::Start
        );
        let crashed = ServiceStatus::Crashed {
            pid: Some(7),
            reason: "gone".into(),
        };
        assert_eq!(
            service_action(&crashed, Some("a"), "a"),
            ServiceAction::Start
        );
    }

    #[test]
    fn clients_get_https_and_the_ca_for_any_tls_source() {
        let c = config(json!({"auth-basic-user": "admin", "auth-basic-password": "pw"}));
        let a = Advertised {
            netloc: "10.1.0.5:5000".parse().unwrap(),
            proxied: false,
            scheme: None,
        };
        let bag = client_info(&a, &c, Some(Some("-----BEGIN CERTIFICATE-----\nx\n"))).to_databag();
        assert_eq!(bag["registry_url"], "\"https://10.1.0.5:5000\"");
        assert_eq!(bag["registry_netloc"], "\"10.1.0.5:5000\"");
        assert_eq!(bag["basic_user"], "\"admin\"");
        assert!(bag["tls_ca"].starts_with("\"-----BEGIN CERTIFICATE-----"));
        let plain = client_info(&a, &config(json!({})), None).to_databag();
        assert_eq!(plain["registry_url"], "\"http://10.1.0.5:5000\"");
        assert_eq!(plain["basic_user"], "null");
        assert_eq!(plain["tls_ca"], "null");
    }

    #[test]
    fn http_host_scheme_is_what_clients_and_status_are_told() {
        let ip: IpAddr = "10.1.0.5".parse().unwrap();
        let c = config(json!({"http-host": "https://registry.example.com/"}));
        let a = advertised(&c, None, Some(ip)).unwrap();
        // TLS ends at a load balancer in front of the unit: clients still use https.
        assert_eq!(
            ready_message(&a, false),
            "Ready at registry.example.com (https)."
        );
        let bag = client_info(&a, &c, None).to_databag();
        assert_eq!(bag["registry_url"], "\"https://registry.example.com\"");
        assert_eq!(bag["registry_netloc"], "\"registry.example.com\"");
        assert_eq!(bag["tls_ca"], "null");
    }

    #[test]
    fn website_stanza_orders_units_numerically_and_balances_only_shared_storage() {
        let c = config(json!({}));
        let bag = website_leader_bag(
            "docker-registry",
            ("docker-registry/2", "10.0.0.2".parse().unwrap()),
            &[("docker-registry/10".into(), "10.0.0.10".parse().unwrap())],
            &c,
            false,
        )
        .unwrap();
        let services = bag["services"].clone();
        let first = services.find("docker-registry-2").unwrap();
        let second = services.find("docker-registry-10").unwrap();
        assert!(first < second, "{services}");
        assert!(services.contains("backup"), "{services}");
        assert_eq!(bag["port"], "5000");
        let s3 = config(json!({"storage-s3-region": "r", "storage-s3-bucket": "b"}));
        let shared = website_leader_bag(
            "docker-registry",
            ("docker-registry/0", "10.0.0.2".parse().unwrap()),
            &[("docker-registry/1".into(), "10.0.0.3".parse().unwrap())],
            &s3,
            false,
        )
        .unwrap();
        assert!(
            !shared["services"].contains("backup"),
            "{}",
            shared["services"]
        );
    }

    #[test]
    fn nrpe_files_follow_tls_port_and_the_remote_names() {
        let unit: UnitName = "docker-registry/3".parse().unwrap();
        let c = config(json!({"registry-port": 5443, "nagios_servicegroups": "infra"}));
        assert_eq!(nrpe_files(&[], &c, &unit, false), None);
        let mut waiting = rel(&[]);
        waiting.id = "nrpe-external-master:7".parse().unwrap();
        assert_eq!(
            nrpe_files(&[waiting], &c, &unit, false),
            None,
            "no nrpe unit yet"
        );
        let r = rel(&[(
            "nrpe/0",
            &[
                ("nagios_hostname", "prod-reg-3"),
                ("nagios_host_context", "prod"),
            ],
        )]);
        let plain = nrpe_files(std::slice::from_ref(&r), &c, &unit, false).unwrap();
        assert_eq!(
            plain[0].0,
            PathBuf::from("/etc/nagios/nrpe.d/check_docker_registry.cfg")
        );
        assert!(plain[0].1.contains("-p 5443 -u /v2/"), "{}", plain[0].1);
        assert!(!plain[0].1.contains(" -S"), "{}", plain[0].1);
        assert!(plain[0].1.contains("# servicegroups: infra\n"));
        assert_eq!(
            plain[1].0,
            PathBuf::from("/var/lib/nagios/export/service__prod-reg-3_check_docker_registry.cfg")
        );
        let tls = nrpe_files(&[r], &c, &unit, true).unwrap();
        assert!(tls[0].1.trim_end().ends_with(" -S"), "{}", tls[0].1);
        assert_eq!(tls[1], plain[1], "the export does not depend on TLS");
    }

    #[test]
    fn nrpe_garbage_key_is_ignored_and_the_good_one_kept() {
        let unit: UnitName = "docker-registry/0".parse().unwrap();
        let c = config(json!({}));
        let r = rel(&[(
            "nrpe/0",
            &[
                ("nagios_hostname", "../../etc/passwd"),
                ("nagios_host_context", "stage"),
            ],
        )]);
        let files = nrpe_files(&[r], &c, &unit, false).unwrap();
        assert_eq!(
            files[1].0,
            PathBuf::from(
                "/var/lib/nagios/export/service__stage-docker-registry-0_check_docker_registry.cfg"
            )
        );
        assert!(files[0].1.contains("# servicegroups: stage\n"));
    }

    #[test]
    fn iso_time_is_utc_with_microseconds() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_767_322_445_000_006);
        assert_eq!(iso_time(t), "2026-01-02T02:54:05.000006");
    }
}
