//! What this unit publishes: the registry's location, credentials and CA to every
//! runtime (docker-registry), the haproxy stanza (website, leader only), and its
//! certificate request (cert-provider). Every write is the minimal diff against our bag.

use crate::config::{Auth, CharmConfig, Storage};
use crate::juju::{Databag, UnitName};
use crate::relations::cert_provider::{CsrRequest, CsrRequests, LegacyRequest};
use crate::relations::docker_registry::{BasicAuth, RegistryInfo, Tls};
use crate::relations::peer::PeerUnit;
use crate::relations::website::{self, Balancing, ServicesStanza, WebsiteLeader};
use crate::relations::Host;

use super::advertise::Advertised;
use super::builder::Builder;
use super::local::CsrRecord;
use super::model::ModelView;

/// Relation data for runtimes, on every relation, from every unit (B5,
/// docs/python-charm-bugs.md#b5).
/// `tls`: `None` off, `Some(ca)` on with the CA clients get (if any).
pub fn clients(
    p: &mut Builder,
    model: &ModelView,
    config: &CharmConfig,
    advertised: &Advertised,
    tls: Option<Option<&str>>,
) {
    let bag = client_info(advertised, config, tls).to_databag();
    for rel in &model.clients {
        p.relation(&rel.id, false, &rel.ours, &bag);
    }
}

/// The haproxy stanza: the leader lists itself and every peer with an address; a
/// follower deletes what it may have published as a former leader.
pub fn website(p: &mut Builder, model: &ModelView, config: &CharmConfig, tls_on: bool) {
    if model.website.is_empty() {
        return;
    }
    let desired = match (model.leader, model.address) {
        (true, Some(address)) => {
            let mut peers = Vec::new();
            for (unit, bag) in model.peer.iter().flat_map(|p| p.units.iter()) {
                match PeerUnit::parse(bag) {
                    Ok(PeerUnit {
                        address: Some(a), ..
                    }) => peers.push((unit.to_string(), a)),
                    Ok(_) => {}
                    Err(e) => p.warn(format!("ignoring peer {unit}'s data: {e}")),
                }
            }
            let me = model.unit.to_string();
            let leader = (me.as_str(), Host::from(address));
            match website_leader_bag(model.unit.app().as_str(), leader, &peers, config, tls_on) {
                Ok(bag) => bag,
                Err(e) => {
                    p.warn(format!("not publishing the haproxy stanza: {e}"));
                    return;
                }
            }
        }
        (true, None) => return,
        (false, _) => website_follower_bag(),
    };
    for rel in &model.website {
        p.relation(&rel.id, false, &rel.ours, &desired);
    }
}

/// Our certificate request: the legacy keys easyrsa reads (common name and SANs), and
/// the v4 CSR of `record`, which asks for the same.
pub fn cert_request(unit: &UnitName, record: &CsrRecord) -> Databag {
    let unit = unit.to_string();
    let legacy = LegacyRequest::new(&unit, &record.common_name, record.sans.clone());
    let mut bag = legacy.to_databag();
    bag.extend(
        CsrRequests {
            requests: vec![CsrRequest {
                csr: record.csr.clone(),
                ca: false,
            }],
        }
        .to_databag(),
    );
    bag
}

/// What each registry unit publishes to runtimes: netloc (with port), URL scheme and CA
/// following TLS from any source (B3, docs/python-charm-bugs.md#b3), and the basic-auth
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

/// The leader's `website` bag: our address/port and the `services` stanza listing the
/// leader and every peer with an address, by unit number (B4, docs/python-charm-bugs.md#b4).
/// Active/active only when storage is shared by all units (s3, swift); per-unit
/// filesystem storage must stay active/passive or clients would see different content
/// per request.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::fixtures::config;
    use serde_json::json;

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
    fn http_host_scheme_is_what_clients_are_told() {
        let ip: std::net::IpAddr = "10.1.0.5".parse().unwrap();
        let c = config(json!({"http-host": "https://registry.example.com/"}));
        let a = super::super::advertise::advertised(&c, None, Some(ip)).unwrap();
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
}
