//! What this unit publishes: the registry's location, credentials and CA to every
//! runtime (docker-registry), its own haproxy server (website), and its certificate
//! request (cert-provider). Every write is the minimal diff against our bag.

use crate::config::{Auth, CharmConfig, Storage};
use crate::juju::{Databag, UnitName};
use crate::relations::cert_provider::{CsrRequest, CsrRequests, LegacyRequest};
use crate::relations::docker_registry::{BasicAuth, RegistryInfo, Tls};
use crate::relations::website::{Balancing, ServicesStanza, WebsiteUnit};
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

/// The haproxy stanza: every unit with an address publishes itself, and only itself, so
/// that haproxy's backend is the units that are there whoever leads (see
/// `relations::website`). With filesystem storage a unit that is not the lowest-numbered
/// of its application is a `backup`.
pub fn website(p: &mut Builder, model: &ModelView, config: &CharmConfig, tls_on: bool) {
    if model.website.is_empty() {
        return;
    }
    let Some(address) = model.address else {
        return;
    };
    let standby = website_standby(
        model.unit.number(),
        model
            .peer
            .iter()
            .flat_map(|rel| rel.units.iter())
            .map(|(unit, _)| unit.number()),
    );
    let me = model.unit.to_string();
    let bag = match website_unit_bag(
        model.unit.app().as_str(),
        (&me, Host::from(address)),
        standby,
        config,
        tls_on,
    ) {
        Ok(bag) => bag,
        Err(e) => {
            p.warn(format!("not publishing the haproxy stanza: {e}"));
            return;
        }
    };
    for rel in &model.website {
        p.relation(&rel.id, false, &rel.ours, &bag);
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

/// Whether a unit with per-unit (filesystem) storage publishes itself as a haproxy
/// `backup`: yes unless it can see it is the primary, i.e. it sees a higher-numbered peer
/// and no lower-numbered one. A new unit sees no peers before its peer-joined hooks, so it
/// must not claim primary then or haproxy balances onto its empty registry (B30); a lone
/// unit is a `backup` too, which haproxy still serves when every server is a backup.
pub fn website_standby(own: u32, peers: impl IntoIterator<Item = u32>) -> bool {
    let (mut lower, mut higher) = (false, false);
    for n in peers {
        lower |= n < own;
        higher |= n > own;
    }
    lower || !higher
}

/// A unit's `website` bag: its address/port and a `services` stanza with itself as the
/// one server (B4, docs/python-charm-bugs.md#b4: haproxy unions the units' servers).
/// Active/active only when storage is shared by all units (s3, swift); per-unit
/// filesystem storage stays active/passive, or clients would see different content per
/// request: the unit is a `backup` per [`website_standby`] (`standby`).
pub fn website_unit_bag(
    app: &str,
    unit: (&str, Host),
    standby: bool,
    config: &CharmConfig,
    tls: bool,
) -> Result<Databag, crate::relations::WireError> {
    let balancing = match config.storage {
        Storage::Filesystem => Balancing::ActivePassive,
        Storage::S3(_) | Storage::Swift(_) => Balancing::ActiveActive,
    };
    let service = ServicesStanza::new(app, config.registry_port)
        .tls_passthrough(tls)
        .balancing(balancing)
        .standby(standby)
        .member(unit.0, unit.1.clone())
        .build()?;
    Ok(WebsiteUnit {
        address: unit.1,
        port: config.registry_port,
        services: vec![service],
    }
    .to_databag())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::fixtures::config;
    use serde_json::json;

    #[test]
    fn a_unit_is_primary_only_when_it_sees_it_is_lowest_with_a_higher_peer() {
        // (own number, visible peers, standby)
        let table: &[(u32, &[u32], bool)] = &[
            (0, &[], true),   // lone unit, or a new unit before peer-joined
            (3, &[], true),   // new unit 3 that has seen nobody yet
            (0, &[1], false), // lowest, sees a higher peer: primary
            (0, &[1, 2], false),
            (1, &[0], true), // a lower peer exists
            (1, &[0, 2], true),
            (1, &[2], false), // unit 0 removed: 1 is lowest with a higher peer
            (2, &[0, 1], true),
            (2, &[1], true),
        ];
        for (own, peers, standby) in table {
            assert_eq!(
                website_standby(*own, peers.iter().copied()),
                *standby,
                "unit {own} seeing {peers:?}"
            );
        }
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
    fn each_unit_publishes_itself_and_balances_only_shared_storage() {
        let c = config(json!({}));
        let primary = website_unit_bag(
            "docker-registry",
            ("docker-registry/2", "10.0.0.2".parse().unwrap()),
            false,
            &c,
            false,
        )
        .unwrap();
        let services = &primary["services"];
        assert!(
            services.contains("[docker-registry-2, 10.0.0.2, 5000, check inter"),
            "{services}"
        );
        assert_eq!(
            services.matches("docker-registry-").count(),
            1,
            "{services}"
        );
        assert!(!services.contains("backup"), "{services}");
        assert_eq!(primary["port"], "5000");
        assert_eq!(primary["hostname"], "10.0.0.2");
        let standby = website_unit_bag(
            "docker-registry",
            ("docker-registry/10", "10.0.0.10".parse().unwrap()),
            true,
            &c,
            false,
        )
        .unwrap();
        assert!(
            standby["services"].contains("maxconn 4096 backup]"),
            "{standby:?}"
        );
        let s3 = config(json!({"storage-s3-region": "r", "storage-s3-bucket": "b"}));
        let shared = website_unit_bag(
            "docker-registry",
            ("docker-registry/1", "10.0.0.3".parse().unwrap()),
            true,
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
