//! Where clients connect and what they are told: `http-host`, else the proxy in front
//! of the unit, else the unit's own address; and the `Ready at ...` status line.

use std::net::IpAddr;

use crate::config::CharmConfig;
use crate::relations::{Host, Netloc};

use super::model::RelationView;
use super::notes::{LogLine, Noted};

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
pub fn proxy_host(website: &[RelationView]) -> Noted<Option<Host>> {
    let Some((unit, bag)) = website
        .iter()
        .flat_map(|rel| rel.units.iter())
        .min_by_key(|(unit, _)| (unit.app().as_str().to_string(), unit.number()))
    else {
        return Noted::plain(None);
    };
    let Some(raw) = ["public-address", "ingress-address", "private-address"]
        .iter()
        .find_map(|k| bag.get(*k).filter(|v| !v.is_empty()))
    else {
        return Noted::plain(None);
    };
    match raw.parse::<Host>() {
        Ok(host) => Noted::plain(Some(host)),
        Err(e) => Noted {
            value: None,
            notes: vec![LogLine::warn(format!(
                "ignoring {unit}'s address {raw:?} on website: {e}"
            ))],
        },
    }
}

/// `http-host`'s `host[:port]` as written if set, else the proxy's address with registry-port
/// (the Python charm dropped the port: B1 in docs/python-charm-bugs.md#b1), else this unit's
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

/// What follows `Ready at ...`: things an operator should know or act on while the unit
/// serves (the status stays `active`: none is a fault of the unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Note {
    /// Plain http with runtimes related: containerd pulls over HTTPS only (B6).
    RuntimesNeedTls,
    /// Token auth with runtimes related: the relation carries no token credentials (B9).
    NoTokenCredentials,
    /// cert-provider has not signed the request for the current addresses; the last
    /// certificate it issued still serves.
    RenewalPending,
    /// cert-provider has answered nothing yet.
    CertificateAwaited,
    /// cert-provider's answer cannot be used (the log says why).
    CertificateUnusable,
}

impl Note {
    /// The sentence shown.
    pub fn text(self) -> &'static str {
        match self {
            Note::RuntimesNeedTls => {
                "Container runtimes pull over HTTPS only: juju config docker-registry \
                 tls-auto=true, or relate a CA."
            }
            Note::NoTokenCredentials => {
                "Related runtimes get no credentials for token auth: they pull anonymously."
            }
            Note::RenewalPending => {
                "Certificate renewal pending: cert-provider has not signed the request for \
                 the current addresses yet."
            }
            Note::CertificateAwaited => "Waiting for a certificate from cert-provider.",
            Note::CertificateUnusable => {
                "The certificate from cert-provider is unusable (juju debug-log says why)."
            }
        }
    }
}

/// Notes about the runtimes related on `docker-registry`: they need TLS (unless clients
/// are told https, e.g. by an `http-host` whose TLS ends in front of the unit) and get no
/// token credentials.
pub fn runtime_notes(
    config: &CharmConfig,
    advertised: &Advertised,
    tls_on: bool,
    clients: bool,
) -> Vec<Note> {
    let mut notes = Vec::new();
    if clients && !advertised.https(tls_on) {
        notes.push(Note::RuntimesNeedTls);
    }
    if clients && matches!(config.auth, crate::config::Auth::Token { .. }) {
        notes.push(Note::NoTokenCredentials);
    }
    notes
}

/// `Ready at <netloc> (http|https[, proxied]).`: where and how clients connect, followed
/// by the notes, each once.
pub fn ready_message(advertised: &Advertised, tls: bool, notes: &[Note]) -> String {
    let scheme = if advertised.https(tls) {
        "https"
    } else {
        "http"
    };
    let proxied = if advertised.proxied { ", proxied" } else { "" };
    let mut message = format!("Ready at {} ({scheme}{proxied}).", advertised.netloc);
    let mut notes = notes.to_vec();
    notes.sort();
    notes.dedup();
    for note in notes {
        message.push(' ');
        message.push_str(note.text());
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::fixtures::{config, relation};
    use serde_json::json;

    fn rel(units: &[(&str, &[(&str, &str)])]) -> RelationView {
        relation("website:3", units)
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
        assert_eq!(
            ready_message(&a, false, &[]),
            "Ready at 10.1.0.5:5000 (http)."
        );
        let p = Advertised { proxied: true, ..a };
        assert_eq!(
            ready_message(&p, true, &[]),
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
        assert_eq!(proxy_host(&[r]).value.unwrap().to_string(), "192.0.2.2");
        let garbage = rel(&[("haproxy/0", &[("private-address", "not an address!")])]);
        let skipped = proxy_host(&[garbage]);
        assert_eq!(skipped.value, None);
        assert!(
            skipped.notes[0].message.contains("haproxy/0"),
            "{skipped:?}"
        );
        assert_eq!(proxy_host(&[]), Noted::plain(None));
    }

    #[test]
    fn runtimes_are_told_what_they_miss_after_the_ready_line() {
        let a = Advertised {
            netloc: "10.1.0.5:5000".parse().unwrap(),
            proxied: false,
            scheme: None,
        };
        let plain = config(json!({}));
        assert_eq!(runtime_notes(&plain, &a, false, false), []);
        let notes = runtime_notes(&plain, &a, false, true);
        assert_eq!(notes, [Note::RuntimesNeedTls]);
        assert_eq!(
            ready_message(&a, false, &notes),
            "Ready at 10.1.0.5:5000 (http). Container runtimes pull over HTTPS only: \
             juju config docker-registry tls-auto=true, or relate a CA."
        );
        assert_eq!(runtime_notes(&plain, &a, true, true), []);
        let lb = config(json!({"http-host": "https://registry.example.com/"}));
        let behind = advertised(&lb, None, Some("10.1.0.5".parse().unwrap())).unwrap();
        assert_eq!(runtime_notes(&lb, &behind, false, true), []);
        let token = config(json!({
            "auth-token-realm": "https://auth.example.com/token",
            "auth-token-service": "registry",
            "auth-token-issuer": "issuer",
            "auth-token-root-certs": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENCK3dJSkFQCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K",
        }));
        assert_eq!(
            runtime_notes(&token, &a, true, true),
            [Note::NoTokenCredentials]
        );
        let both = [
            Note::RenewalPending,
            Note::RuntimesNeedTls,
            Note::RenewalPending,
        ];
        let text = ready_message(&a, false, &both);
        assert_eq!(text.matches("renewal pending").count(), 1, "{text}");
        assert!(
            text.starts_with("Ready at 10.1.0.5:5000 (http). Container"),
            "{text}"
        );
    }

    #[test]
    fn http_host_scheme_is_what_clients_and_status_are_told() {
        let ip: IpAddr = "10.1.0.5".parse().unwrap();
        let c = config(json!({"http-host": "https://registry.example.com/"}));
        let a = advertised(&c, None, Some(ip)).unwrap();
        // TLS ends at a load balancer in front of the unit: clients still use https.
        assert_eq!(
            ready_message(&a, false, &[]),
            "Ready at registry.example.com (https)."
        );
    }
}
