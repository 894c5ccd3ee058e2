//! `website` endpoint (interface `http`), consumed by haproxy's `reverseproxy` endpoint.
//!
//! # Format
//!
//! All values are RAW strings (no JSON). Only the LEADER publishes, in its own unit bag,
//! on every website relation ([`WebsiteLeader`]):
//!
//! ```text
//! hostname          10.5.0.12        leader's ingress address on this relation
//! private-address   10.5.0.12        same (overwrites Juju's automatic value)
//! port              5000             registry-port
//! services          <YAML below>
//! all_services      ""               deleted (early Python charm revisions used it)
//! ```
//!
//! Followers delete `all_services`, `hostname`, `port` and `services` ([`follower_delta`])
//! and keep Juju's automatic `private-address`, so haproxy does not add them as plain
//! backends. (The Python charm left `services` in place; a former leader's stale stanza
//! would be unioned into the backend by haproxy.)
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
//!   - option httpchk GET /
//!   - option redispatch 1
//!   - retries 2
//!   servers:
//!   - [docker-registry-0, 10.5.0.12, 5000, check inter 2000 rise 2 fall 5 maxconn 4096]
//!   - [docker-registry-1, 10.5.0.13, 5000, check inter 2000 rise 2 fall 5 maxconn 4096 backup]
//! ```
//!
//! Scalars are plain when that is unambiguous for both YAML 1.1 (PyYAML in haproxy) and
//! 1.2, otherwise double-quoted (IPv6 addresses, for example).
//!
//! # Decisions ([`ServicesStanza`])
//!
//! - Servers are named `<app>-<n>` and ordered by unit NUMBER, so `/2` comes before `/10`
//!   (B4: the Python charm sorted names as strings; bug numbers are entries of
//!   docs/python-charm-bugs.md). Addresses are the units' ingress addresses.
//! - Active/passive by default: the lowest-numbered unit is the primary, all others are
//!   `backup`. Filesystem storage is per unit, so balancing across units would serve
//!   different content per request. [`Balancing::ActiveActive`] (no `backup`) is for
//!   shared storage (s3, swift), where all units see the same blobs.
//! - `option redispatch 1` and `retries 2`: measured with haproxy 2.6 in front of two
//!   registries, without them the first request after the primary dies is a 503 after
//!   3 s; with them it is a 200 after about 1 s.
//! - With TLS on from ANY source (cert-provider or config; B24) haproxy passes TLS
//!   through: `mode tcp`, and health checks speak TLS (`check-ssl verify none`: the check
//!   only needs the registry's `/` to answer; clients verify the certificate end to end,
//!   so the registry's certificate must carry the haproxy address in its SANs, B2).
//!   Measured with haproxy 2.6 and a TLS registry: the server stays UP under these checks
//!   and `curl --cacert <registry CA> https://<haproxy>/v2/` returns 200. The check fails
//!   if the registry demands client certificates (mTLS, B23).
//!
//! # haproxy side
//!
//! [`HaproxyView::parse`] reads a remote unit bag the way haproxy's legacy reverseproxy
//! code does: `services` YAML (`service_options` a list or a comma string, `servers`
//! entries `[name, ip, port, options]`), else a plain backend from `port` and
//! `private-address`. [`union`] merges stanzas of the same `service_name` from several
//! units; [`render_haproxy_cfg`] turns them into a config `haproxy -c` accepts (tests).

use std::net::Ipv4Addr;

use serde_yaml::Value;

use super::{get, Databag, Host, WireError};

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

/// Health-check and connection limits on every server line (the Python charm's values).
pub const CHECK_OPTIONS: &str = "check inter 2000 rise 2 fall 5 maxconn 4096";
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

/// What the leader publishes on a website relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsiteLeader {
    /// The leader's ingress address on this relation (`hostname` and `private-address`).
    pub address: Host,
    /// `registry-port`.
    pub port: u16,
    /// The `services` list.
    pub services: Vec<Service>,
}

impl WebsiteLeader {
    /// The leader's writes: the four keys, plus the deletion of `all_services`.
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

    /// Read a leader's bag back (our tests, and a former leader checking its own bag).
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        let address = get(bag, HOSTNAME)
            .or_else(|| get(bag, PRIVATE_ADDRESS))
            .ok_or_else(|| WireError::missing(HOSTNAME, "the leader publishes its address"))?;
        let address = address
            .parse::<Host>()
            .map_err(|e| WireError::invalid(HOSTNAME, e.to_string()))?;
        let port = get(bag, PORT)
            .ok_or_else(|| WireError::missing(PORT, "the leader publishes registry-port"))?;
        let port = parse_port_text(PORT, port)?;
        let services = match get(bag, SERVICES) {
            Some(text) => parse_services(text)?,
            None => Vec::new(),
        };
        Ok(WebsiteLeader {
            address,
            port,
            services,
        })
    }
}

/// What a non-leader writes: delete everything a leader may have published, except
/// Juju's own `private-address`.
pub fn follower_delta() -> Databag {
    [ALL_SERVICES, HOSTNAME, PORT, SERVICES]
        .into_iter()
        .map(|k| (k.to_string(), String::new()))
        .collect()
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
        }
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
                options: match (self.balancing, i) {
                    (Balancing::ActivePassive, 1..) => format!("{check} backup"),
                    _ => check.clone(),
                },
            })
            .collect();
        let mode = if self.tls_passthrough {
            "mode tcp"
        } else {
            "mode http"
        };
        Ok(Service {
            service_name: self.app.clone(),
            service_host: "0.0.0.0".to_string(),
            service_port: self.port,
            service_options: [
                mode,
                "balance leastconn",
                "option httpchk GET /",
                "option redispatch 1",
                "retries 2",
            ]
            .map(String::from)
            .to_vec(),
            servers,
        })
    }
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

/// Parse `services` YAML as haproxy does: a list of service mappings; `service_options`
/// a list or a comma-separated string; `servers` entries `[name, ip, port, options?]`.
pub fn parse_services(text: &str) -> Result<Vec<Service>, WireError> {
    let doc: Value = serde_yaml::from_str(text)
        .map_err(|e| WireError::invalid(SERVICES, format!("not YAML: {e}")))?;
    let items = match doc {
        Value::Sequence(items) => items,
        Value::Null => Vec::new(),
        other => {
            return Err(WireError::invalid(
                SERVICES,
                format!(
                    "expected a YAML list of services, got {}",
                    yaml_type(&other)
                ),
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_service(i, item))
        .collect()
}

fn parse_service(index: usize, item: &Value) -> Result<Service, WireError> {
    let bad = |problem: String| WireError::invalid(SERVICES, format!("service {index}: {problem}"));
    let Value::Mapping(map) = item else {
        return Err(bad(format!("expected a mapping, got {}", yaml_type(item))));
    };
    let field = |name: &str| map.get(name).filter(|v| !v.is_null());
    let service_name = match field("service_name") {
        Some(v) => yaml_string(v).ok_or_else(|| bad("`service_name` must be a string".into()))?,
        None => return Err(bad("`service_name` is missing".into())),
    };
    let bad = |problem: String| {
        WireError::invalid(
            SERVICES,
            format!("service {index} (`{service_name}`): {problem}"),
        )
    };
    let service_host = match field("service_host") {
        Some(v) => yaml_string(v).ok_or_else(|| bad("`service_host` must be a string".into()))?,
        None => "0.0.0.0".to_string(),
    };
    let service_port = match field("service_port") {
        Some(v) => yaml_port(v)
            .ok_or_else(|| bad("`service_port` must be a port number (1-65535)".into()))?,
        None => return Err(bad("`service_port` is missing".into())),
    };
    let service_options = match field("service_options") {
        None => Vec::new(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(String::from)
            .collect(),
        Some(Value::Sequence(opts)) => opts
            .iter()
            .map(|o| {
                yaml_string(o)
                    .ok_or_else(|| bad("`service_options` entries must be strings".into()))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad(
                "`service_options` must be a list or a comma-separated string".into(),
            ))
        }
    };
    let servers = match field("servers") {
        None => Vec::new(),
        Some(Value::Sequence(entries)) => entries
            .iter()
            .enumerate()
            .map(|(j, e)| parse_server(e).map_err(|p| bad(format!("server {j}: {p}"))))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad(
                "`servers` must be a list of [name, ip, port, options]".into()
            ))
        }
    };
    Ok(Service {
        service_name,
        service_host,
        service_port,
        service_options,
        servers,
    })
}

fn parse_server(entry: &Value) -> Result<Server, String> {
    let Value::Sequence(parts) = entry else {
        return Err("expected [name, ip, port, options]".into());
    };
    if !(3..=4).contains(&parts.len()) {
        return Err(format!(
            "expected [name, ip, port, options], got {} items",
            parts.len()
        ));
    }
    let name = yaml_string(&parts[0]).ok_or("the name must be a string")?;
    let address = yaml_string(&parts[1]).ok_or("the ip must be a string")?;
    let port = yaml_port(&parts[2]).ok_or("the port must be a port number (1-65535)")?;
    let options = match parts.get(3) {
        None | Some(Value::Null) => String::new(),
        Some(v) => yaml_string(v).ok_or("the options must be a string")?,
    };
    Ok(Server {
        name,
        address,
        port,
        options: options.trim().to_string(),
    })
}

/// A scalar as text; numbers and booleans too, as PyYAML-using code formats them with `%s`.
fn yaml_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn yaml_port(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.trim().parse::<u16>().ok(),
        _ => None,
    }
    .filter(|p| *p != 0)
}

fn yaml_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn parse_port_text(key: &str, text: &str) -> Result<u16, WireError> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| WireError::invalid(key, format!("`{text}` is not a port number (1-65535)")))
}

/// What haproxy makes of one remote unit's bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HaproxyView {
    /// The unit publishes `services`.
    Services(Vec<Service>),
    /// No `services`, but `port` and `private-address`: a plain backend.
    Plain {
        /// `private-address`.
        address: String,
        /// `port`.
        port: u16,
    },
    /// Nothing haproxy can use (a follower, or a unit not configured yet).
    Nothing,
}

impl HaproxyView {
    /// Read one remote unit bag as haproxy's legacy reverseproxy code does.
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        if let Some(text) = get(bag, SERVICES) {
            return Ok(HaproxyView::Services(parse_services(text)?));
        }
        match (get(bag, PORT), get(bag, PRIVATE_ADDRESS)) {
            (Some(port), Some(address)) => Ok(HaproxyView::Plain {
                address: address.to_string(),
                port: parse_port_text(PORT, port)?,
            }),
            _ => Ok(HaproxyView::Nothing),
        }
    }
}

/// Union stanzas from several units: same `service_name` → one service whose servers
/// are the union (first occurrence wins for the frontend settings and server order).
pub fn union(services: impl IntoIterator<Item = Service>) -> Vec<Service> {
    let mut out: Vec<Service> = Vec::new();
    for s in services {
        match out.iter_mut().find(|o| o.service_name == s.service_name) {
            Some(existing) => {
                for srv in s.servers {
                    if !existing.servers.contains(&srv) {
                        existing.servers.push(srv);
                    }
                }
            }
            None => out.push(s),
        }
    }
    out
}

/// A complete haproxy configuration for `services`, shaped like the legacy haproxy charm's
/// (frontend `haproxy-<port>` → backend `<service_name>`). For tests and test charms.
pub fn render_haproxy_cfg(services: &[Service]) -> String {
    let mut out = String::from(
        "global\n    log stdout format raw local0 info\ndefaults\n    log global\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n",
    );
    for s in services {
        let mode = s
            .service_options
            .iter()
            .find_map(|o| o.strip_prefix("mode "))
            .unwrap_or("http");
        let bind = match s.service_host.parse::<Host>() {
            Ok(h) => h.to_uri_host(),
            Err(_) => s.service_host.clone(),
        };
        out.push_str(&format!(
            "frontend haproxy-{port}\n    bind {bind}:{port}\n    mode {mode}\n    default_backend {name}\n",
            port = s.service_port,
            name = s.service_name
        ));
        out.push_str(&format!("backend {}\n", s.service_name));
        for opt in &s.service_options {
            out.push_str(&format!("    {opt}\n"));
        }
        for srv in &s.servers {
            let addr = match srv.address.parse::<Host>() {
                Ok(h) => h.to_uri_host(),
                Err(_) => srv.address.clone(),
            };
            out.push_str(&format!(
                "    server {} {addr}:{} {}\n",
                srv.name, srv.port, srv.options
            ));
        }
    }
    out
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
