//! `website` endpoint (interface `http`), consumed by haproxy's `reverseproxy` endpoint.
//!
//! # Format
//!
//! All values are RAW strings (no JSON). EVERY unit publishes, in its own unit bag, on
//! every website relation, a stanza that lists itself, and only itself, as a server
//! ([`WebsiteUnit`]):
//!
//! ```text
//! hostname          10.5.0.12        the unit's ingress address on this relation
//! private-address   10.5.0.12        same (overwrites Juju's automatic value)
//! port              5000             registry-port
//! services          <YAML below>
//! all_services      ""               deleted (early Python charm revisions used it)
//! ```
//!
//! haproxy unions the `servers` of same-named services across the units of a relation
//! (the legacy reverseproxy code keeps the first unit's options and every unit's
//! servers), so its backend is exactly the units that are there: a unit that goes takes
//! its bag and its server with it; a unit that comes adds itself. No unit speaks for
//! another. (The Python charm, and this charm before, had only the leader publish every
//! unit: removing the leader left haproxy with no server at all until a new leader
//! published again. Measured on jujusim under load: every request failed for 12 s.)
//!
//! `services` is a one-element YAML list; [`render_services`] emits exactly this shape
//! (no leading newline, unlike the Python charm's; haproxy only parses it):
//!
//! ```text
//! - service_name: docker-registry
//!   service_host: 0.0.0.0
//!   service_port: 5000
//!   service_options:
//!   - mode http
//!   - balance leastconn
//!   - option httpchk GET /v2/
//!   - "http-check expect rstatus ^(200|401)$"
//!   - option redispatch 1
//!   - retries 3
//!   - retry-on all-retryable-errors
//!   servers:
//!   - [docker-registry-0, 10.5.0.12, 5000, check inter 500ms rise 2 fall 2 maxconn 4096]
//! ```
//!
//! and, from docker-registry/1 with filesystem storage, the same service with
//! `- [docker-registry-1, 10.5.0.13, 5000, check inter 500ms rise 2 fall 2 maxconn 4096 backup]`.
//!
//! Scalars are plain when that is unambiguous for both YAML 1.1 (PyYAML in haproxy) and
//! 1.2, otherwise double-quoted (IPv6 addresses, for example).
//!
//! # Decisions ([`ServicesStanza`])
//!
//! - Servers are named `<app>-<n>`; a stanza of several members orders them by unit
//!   NUMBER, so `/2` comes before `/10` (B4: the Python charm sorted names as strings; bug
//!   numbers are entries of docs/python-charm-bugs.md). Addresses are the units' ingress
//!   addresses.
//! - Active/passive by default: the lowest-numbered unit is the primary, all others are
//!   `backup` (a unit publishes itself as [`ServicesStanza::standby`] unless it sees it is
//!   the lowest with a higher peer: `charm::publish::website_standby`). Filesystem storage is per unit, so balancing across
//!   units would serve different content per request. [`Balancing::ActiveActive`] (no
//!   `backup`) is for shared storage (s3, swift), where all units see the same blobs.
//! - A request is never lost to a unit that dies ([`backend_options`]): checks of
//!   `GET /v2/` every 500 ms mark a dead server down in about a second, and a request
//!   that failed on one server is sent to another (`retries`, `option redispatch`,
//!   `retry-on all-retryable-errors`). Measured with haproxy 2.6 in front of two
//!   registries: without redispatch the first request after the primary dies is a 503
//!   after 3 s; without `retry-on` a registry killed mid-request costs that request.
//! - With TLS on from ANY source (cert-provider or config; B24) haproxy passes TLS
//!   through: `mode tcp`, and health checks speak TLS (`check-ssl verify none`: the check
//!   only needs the registry's `/v2/` to answer; clients verify the certificate end to end,
//!   so the registry's certificate must carry the haproxy address in its SANs, B2).
//!   Measured with haproxy 2.6 and a TLS registry: the server stays UP under these checks
//!   and `curl --cacert <registry CA> https://<haproxy>/v2/` returns 200. The check fails
//!   if the registry demands client certificates (mTLS, B23). haproxy cannot replay a
//!   request it only passes through, so no `retry-on` here: a request in flight on a
//!   registry that dies fails, and the client's retry reaches another server.
//!
//! # haproxy side
//!
//! How haproxy reads these bags (the `services` YAML, or a plain backend from `port` and
//! `private-address`) lives with the tests, in tests/support/haproxy.rs: the charm only
//! writes them.

use std::net::Ipv4Addr;

use super::{Databag, Host, WireError};

/// Key: the leader's address.
pub const HOSTNAME: &str = "hostname";
/// Key: Juju's automatic address, overwritten by the leader.
pub const PRIVATE_ADDRESS: &str = "private-address";
/// Key: registry port.
pub const PORT: &str = "port";
/// Key: the YAML services list.
pub const SERVICES: &str = "services";
/// Key: obsolete, always deleted.
pub const ALL_SERVICES: &str = "all_services";

/// Health-check and connection limits on every server line: a check every 500 ms, two
/// failures mark a server down (about a second after it dies), two successes up again.
/// (The Python charm's `inter 2000 rise 2 fall 5` took 10 s to see a dead server.)
pub const CHECK_OPTIONS: &str = "check inter 500ms rise 2 fall 2 maxconn 4096";
/// Extra check options when haproxy passes TLS through.
pub const TLS_CHECK_OPTIONS: &str = "check-ssl verify none";

/// One element of the `services` list: a haproxy frontend + backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Backend name (the application name).
    pub service_name: String,
    /// Frontend bind address.
    pub service_host: String,
    /// Frontend port.
    pub service_port: u16,
    /// Backend option lines, e.g. `mode http`.
    pub service_options: Vec<String>,
    /// Backend servers.
    pub servers: Vec<Server>,
}

/// One `[name, ip, port, options]` server entry: `server <name> <ip>:<port> <options>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Server name, `<app>-<n>`.
    pub name: String,
    /// Address (IP or host name, IPv6 without brackets).
    pub address: String,
    /// Port.
    pub port: u16,
    /// Server options, e.g. `check inter 2000 ... backup`.
    pub options: String,
}

/// What a unit publishes on a website relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsiteUnit {
    /// The unit's ingress address on this relation (`hostname` and `private-address`).
    pub address: Host,
    /// `registry-port`.
    pub port: u16,
    /// The `services` list.
    pub services: Vec<Service>,
}

impl WebsiteUnit {
    /// The unit's writes: the four keys, plus the deletion of `all_services`.
    pub fn to_databag(&self) -> Databag {
        let address = self.address.to_string();
        [
            (HOSTNAME, address.clone()),
            (PRIVATE_ADDRESS, address),
            (PORT, self.port.to_string()),
            (SERVICES, render_services(&self.services)),
            (ALL_SERVICES, String::new()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// How servers share the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balancing {
    /// One primary (lowest unit number), all others `backup`. Safe for per-unit storage.
    #[default]
    ActivePassive,
    /// All servers active (`balance leastconn`); only for storage shared by all units.
    ActiveActive,
}

/// Builds the registry's `services` stanza from the application and its units.
#[derive(Debug, Clone)]
pub struct ServicesStanza {
    app: String,
    port: u16,
    members: Vec<(String, Host)>,
    tls_passthrough: bool,
    balancing: Balancing,
    standby: bool,
}

impl ServicesStanza {
    /// A stanza for application `app` listening on `port` (registry-port).
    pub fn new(app: &str, port: u16) -> Self {
        ServicesStanza {
            app: app.to_string(),
            port,
            members: Vec::new(),
            tls_passthrough: false,
            balancing: Balancing::default(),
            standby: false,
        }
    }

    /// Active/passive only: the primary is in another unit's stanza, so every member here
    /// is a `backup`.
    pub fn standby(mut self, yes: bool) -> Self {
        self.standby = yes;
        self
    }

    /// Add a unit (`docker-registry/3`) reachable at its ingress `address`.
    pub fn member(mut self, unit: &str, address: Host) -> Self {
        self.members.push((unit.to_string(), address));
        self
    }

    /// TLS is on (from any source): pass it through in `mode tcp`.
    pub fn tls_passthrough(mut self, on: bool) -> Self {
        self.tls_passthrough = on;
        self
    }

    /// Choose active/passive (default) or active/active.
    pub fn balancing(mut self, balancing: Balancing) -> Self {
        self.balancing = balancing;
        self
    }

    /// The service: servers by unit number, first primary. A unit listed twice counts once.
    /// Fails when a unit name is not `<app>/<number>`.
    pub fn build(&self) -> Result<Service, WireError> {
        let mut numbered = Vec::with_capacity(self.members.len());
        for (unit, address) in &self.members {
            let n = unit
                .strip_prefix(&self.app)
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(|n| n.parse::<u32>().ok())
                .ok_or_else(|| {
                    WireError::invalid(
                        "unit",
                        format!(
                            "`{unit}` is not a unit of `{}` (expected {}/<number>)",
                            self.app, self.app
                        ),
                    )
                })?;
            numbered.push((n, address));
        }
        numbered.sort_by_key(|(n, _)| *n);
        numbered.dedup_by_key(|(n, _)| *n);

        let mut check = CHECK_OPTIONS.to_string();
        if self.tls_passthrough {
            check = format!(
                "check {TLS_CHECK_OPTIONS} {}",
                &CHECK_OPTIONS["check ".len()..]
            );
        }
        let servers = numbered
            .into_iter()
            .enumerate()
            .map(|(i, (n, address))| Server {
                name: format!("{}-{n}", self.app),
                address: address.to_string(),
                port: self.port,
                options: match (self.balancing, i, self.standby) {
                    (Balancing::ActivePassive, 1.., _) | (Balancing::ActivePassive, _, true) => {
                        format!("{check} backup")
                    }
                    _ => check.clone(),
                },
            })
            .collect();
        Ok(Service {
            service_name: self.app.clone(),
            service_host: "0.0.0.0".to_string(),
            service_port: self.port,
            service_options: backend_options(self.tls_passthrough),
            servers,
        })
    }
}

/// The backend's option lines (haproxy 2.0 or later: `retry-on`).
///
/// - `option httpchk GET /v2/` answered 200 (open) or 401 (basic or token auth): the
///   registry's API answers, not just its port.
/// - `retries 3` with `option redispatch 1`: a request whose server refuses or drops the
///   connection is tried again on another server.
/// - `retry-on all-retryable-errors` (HTTP mode only; haproxy cannot read requests it
///   passes through as TLS): also a request whose server died with it in flight (empty
///   or junk response, 502-504, timeouts) is sent again, to another server. Measured on
///   haproxy 2.6: a registry killed mid-request cost one failed pull without it, none
///   with it.
pub fn backend_options(tls_passthrough: bool) -> Vec<String> {
    let mut options = vec![
        if tls_passthrough {
            "mode tcp"
        } else {
            "mode http"
        },
        "balance leastconn",
        "option httpchk GET /v2/",
        "http-check expect rstatus ^(200|401)$",
        "option redispatch 1",
        "retries 3",
    ];
    if !tls_passthrough {
        options.push("retry-on all-retryable-errors");
    }
    options.into_iter().map(String::from).collect()
}

/// The `services` YAML text (see the module docs for the exact shape).
pub fn render_services(services: &[Service]) -> String {
    let mut out = String::new();
    for s in services {
        out.push_str(&format!("- service_name: {}\n", scalar(&s.service_name)));
        out.push_str(&format!("  service_host: {}\n", scalar(&s.service_host)));
        out.push_str(&format!("  service_port: {}\n", s.service_port));
        out.push_str("  service_options:");
        if s.service_options.is_empty() {
            out.push_str(" []");
        }
        out.push('\n');
        for opt in &s.service_options {
            out.push_str(&format!("  - {}\n", scalar(opt)));
        }
        out.push_str("  servers:");
        if s.servers.is_empty() {
            out.push_str(" []");
        }
        out.push('\n');
        for srv in &s.servers {
            out.push_str(&format!(
                "  - [{}, {}, {}, {}]\n",
                scalar(&srv.name),
                scalar(&srv.address),
                srv.port,
                scalar(&srv.options)
            ));
        }
    }
    if out.is_empty() {
        out.push_str("[]\n");
    }
    out
}

/// A YAML scalar for `s`: plain when it cannot be read as anything but this string (by
/// YAML 1.1 or 1.2, in block or flow context), else a double-quoted string.
fn scalar(s: &str) -> String {
    const YAML11_WORDS: [&str; 12] = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "nan", "inf",
    ];
    let plain = match s.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '/' | '-'))
                && !s.ends_with(' ')
                && !YAML11_WORDS.contains(&s.to_ascii_lowercase().as_str())
        }
        // Digits first: only dotted IPv4 addresses, which no YAML version reads as numbers.
        Some(c) if c.is_ascii_digit() => s.parse::<Ipv4Addr>().is_ok(),
        _ => false,
    };
    if plain {
        s.to_string()
    } else {
        // JSON string syntax is a subset of YAML's double-quoted style.
        serde_json::Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::scalar;

    #[test]
    fn scalars_are_quoted_when_ambiguous() {
        assert_eq!(scalar("docker-registry-0"), "docker-registry-0");
        assert_eq!(scalar("10.5.0.12"), "10.5.0.12");
        assert_eq!(scalar("0.0.0.0"), "0.0.0.0");
        assert_eq!(scalar("check inter 2000"), "check inter 2000");
        assert_eq!(scalar("fd00::1"), "\"fd00::1\"");
        assert_eq!(scalar("on"), "\"on\"");
        assert_eq!(scalar("10.5"), "\"10.5\"");
        assert_eq!(scalar("a, b"), "\"a, b\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("x #y"), "\"x #y\"");
    }
}
