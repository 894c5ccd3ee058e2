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

/// What an operator should know about a working unit: said after `Ready at ...`, while the
/// status stays `active` (advice, not faults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
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
}

impl Advice {
    /// The sentence the status carries.
    pub fn text(&self) -> String {
        match self {
            Advice::UnsharedStorage { units } => format!(
                "Filesystem storage on {units} units: an image pushed to one is not on the others; use s3 or swift storage to share them."
            ),
            Advice::SeveralProxies { proxies } => format!(
                "{proxies} haproxy units, clients get only the first one's address: set http-host to a name for all of them."
            ),
        }
    }
}

/// The advice for this unit: `peers` other units of the application, `proxies` haproxy
/// units in front.
pub fn advice(config: &CharmConfig, peers: usize, proxies: usize) -> Vec<Advice> {
    let mut out = Vec::new();
    if matches!(config.storage, Storage::Filesystem) && peers > 0 {
        out.push(Advice::UnsharedStorage { units: peers + 1 });
    }
    if proxies > 1 && config.http_host.is_none() {
        out.push(Advice::SeveralProxies { proxies });
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

/// `Ready at <netloc> (http|https[, proxied]).`: where and how clients connect, then any
/// advice.
pub fn ready_message(advertised: &Advertised, tls: bool, advice: &[Advice]) -> String {
    let scheme = if advertised.https(tls) {
        "https"
    } else {
        "http"
    };
    let proxied = if advertised.proxied { ", proxied" } else { "" };
    let mut message = format!("Ready at {} ({scheme}{proxied}).", advertised.netloc);
    for a in advice {
        message.push(' ');
        message.push_str(&a.text());
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
    fn advice_follows_the_ready_line_and_only_where_it_applies() {
        let fs = config(json!({}));
        assert!(
            advice(&fs, 0, 1).is_empty(),
            "one unit, one proxy: nothing to say"
        );
        assert_eq!(advice(&fs, 2, 0), [Advice::UnsharedStorage { units: 3 }]);
        let s3 = config(json!({"storage-s3-region": "r", "storage-s3-bucket": "b"}));
        assert!(
            advice(&s3, 2, 1).is_empty(),
            "shared storage: every unit has every image"
        );
        assert_eq!(advice(&s3, 2, 2), [Advice::SeveralProxies { proxies: 2 }]);
        let named = config(json!({"storage-s3-region": "r", "storage-s3-bucket": "b",
            "http-host": "https://registry.example.com/"}));
        assert!(advice(&named, 2, 3).is_empty(), "http-host names them all");
        let a = Advertised {
            netloc: "10.1.0.9:5000".parse().unwrap(),
            proxied: true,
            scheme: None,
        };
        assert_eq!(
            ready_message(&a, false, &advice(&fs, 1, 2)),
            "Ready at 10.1.0.9:5000 (http, proxied). Filesystem storage on 2 units: an image \
             pushed to one is not on the others; use s3 or swift storage to share them. 2 \
             haproxy units, clients get only the first one's address: set http-host to a \
             name for all of them."
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
