//! Where clients connect and what they are told: `http-host`, else the proxy in front
//! of the unit, else the unit's own address; and the `Ready at ...` status line.

use std::net::IpAddr;

use crate::config::{CharmConfig, Storage};
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

/// Every haproxy unit's address, lowest unit first (the first is the one clients are
/// given): its `public-address`, else its `ingress-address`, else `private-address`. A
/// unit with an unusable address is skipped, with a note.
pub fn proxy_hosts(website: &[RelationView]) -> Noted<Vec<Host>> {
    let mut units: Vec<_> = website.iter().flat_map(|rel| rel.units.iter()).collect();
    units.sort_by_key(|(unit, _)| (unit.app().as_str().to_string(), unit.number()));
    units.dedup_by_key(|(unit, _)| unit.clone());
    let mut out = Noted::plain(Vec::new());
    for (unit, bag) in units {
        let Some(raw) = ["public-address", "ingress-address", "private-address"]
            .iter()
            .find_map(|k| bag.get(*k).filter(|v| !v.is_empty()))
        else {
            continue;
        };
        match raw.parse::<Host>() {
            Ok(host) if !out.value.contains(&host) => out.value.push(host),
            Ok(_) => {}
            Err(e) => out.notes.push(LogLine::warn(format!(
                "ignoring {unit}'s address {raw:?} on website: {e}"
            ))),
        }
    }
    out
}

/// The notes on how the application is laid out: `peers` other units of the application,
/// `proxies` haproxy units in front. A pull-through cache refuses pushes and every unit
/// fetches what it lacks from upstream, so its per-unit disks need no note.
pub fn layout_notes(config: &CharmConfig, peers: usize, proxies: usize) -> Vec<Note> {
    let mut out = Vec::new();
    if matches!(config.storage, Storage::Filesystem) && config.proxy.is_none() && peers > 0 {
        out.push(Note::UnsharedStorage { units: peers + 1 });
    }
    if proxies > 1 && config.http_host.is_none() {
        out.push(Note::SeveralProxies { proxies });
    }
    out
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
///
/// The order of the variants is the order they are said in: how the application is laid
/// out first, then the runtimes, then the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Note {
    /// Several units on filesystem storage: each holds only what was pushed to it (B30,
    /// docs/python-charm-bugs.md#b30).
    UnsharedStorage {
        /// Units of the application.
        units: usize,
    },
    /// Several haproxy units and no `http-host`: clients are given one proxy's address
    /// (B34, docs/python-charm-bugs.md#b34).
    SeveralProxies {
        /// haproxy units with an address.
        proxies: usize,
    },
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
    pub fn text(self) -> String {
        match self {
            Note::UnsharedStorage { units } => format!(
                "Filesystem storage on {units} units: an image pushed to one is not on the others; use s3 or swift storage to share them."
            ),
            Note::SeveralProxies { proxies } => format!(
                "{proxies} haproxy units, clients get only the first one's address: set http-host to a name for all of them."
            ),
            Note::RuntimesNeedTls => {
                "Container runtimes pull over HTTPS only: juju config docker-registry \
                 tls-auto=true, or relate a CA."
                    .to_string()
            }
            Note::NoTokenCredentials => {
                "Related runtimes get no credentials for token auth: they pull anonymously."
                    .to_string()
            }
            Note::RenewalPending => {
                "Certificate renewal pending: cert-provider has not signed the request for \
                 the current addresses yet."
                    .to_string()
            }
            Note::CertificateAwaited => "Waiting for a certificate from cert-provider.".to_string(),
            Note::CertificateUnusable => {
                "The certificate from cert-provider is unusable (juju debug-log says why)."
                    .to_string()
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
        message.push_str(&note.text());
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
        let hosts = proxy_hosts(&[r]).value;
        let text: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            ["192.0.2.2", "10.0.0.10"],
            "by unit number, /2 before /10"
        );
        let garbage = rel(&[
            ("haproxy/0", &[("private-address", "not an address!")]),
            ("haproxy/1", &[("private-address", "10.0.0.11")]),
        ]);
        let skipped = proxy_hosts(&[garbage]);
        assert_eq!(skipped.value, vec!["10.0.0.11".parse::<Host>().unwrap()]);
        assert!(
            skipped.notes[0].message.contains("haproxy/0"),
            "{skipped:?}"
        );
        assert_eq!(proxy_hosts(&[]), Noted::plain(Vec::new()));
    }

    #[test]
    fn layout_notes_follow_the_ready_line_and_only_where_they_apply() {
        let fs = config(json!({}));
        assert!(
            layout_notes(&fs, 0, 1).is_empty(),
            "one unit, one proxy: nothing to say"
        );
        assert_eq!(
            layout_notes(&fs, 2, 0),
            [Note::UnsharedStorage { units: 3 }]
        );
        let cache = config(json!({"cache-remoteurl": "https://registry-1.docker.io"}));
        assert!(
            layout_notes(&cache, 2, 1).is_empty(),
            "a pull-through cache refuses pushes: every unit serves what upstream has"
        );
        let s3 = config(json!({"storage-s3-region": "r", "storage-s3-bucket": "b"}));
        assert!(
            layout_notes(&s3, 2, 1).is_empty(),
            "shared storage: every unit has every image"
        );
        assert_eq!(
            layout_notes(&s3, 2, 2),
            [Note::SeveralProxies { proxies: 2 }]
        );
        let named = config(json!({"storage-s3-region": "r", "storage-s3-bucket": "b",
            "http-host": "https://registry.example.com/"}));
        assert!(
            layout_notes(&named, 2, 3).is_empty(),
            "http-host names them all"
        );
        let a = Advertised {
            netloc: "10.1.0.9:5000".parse().unwrap(),
            proxied: true,
            scheme: None,
        };
        assert_eq!(
            ready_message(&a, false, &layout_notes(&fs, 1, 2)),
            "Ready at 10.1.0.9:5000 (http, proxied). Filesystem storage on 2 units: an image \
             pushed to one is not on the others; use s3 or swift storage to share them. 2 \
             haproxy units, clients get only the first one's address: set http-host to a \
             name for all of them."
        );
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
