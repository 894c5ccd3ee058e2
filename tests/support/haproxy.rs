//! The haproxy side of the `website` wire contract, for tests: how haproxy's legacy
//! reverseproxy code reads a remote unit's bag (`services` YAML, `service_options` a list
//! or a comma string, `servers` entries `[name, ip, port, options]`, else a plain backend
//! from `port` and `private-address`), merging stanzas of one service from several units,
//! and a haproxy config `haproxy -c` accepts. The charm only writes these bags.

use charm::relations::website::{
    Server, Service, WebsiteUnit, HOSTNAME, PORT, PRIVATE_ADDRESS, SERVICES,
};
use charm::relations::{get, Databag, Host, WireError};
use serde_yaml::Value;

/// Reads a unit's bag back, as haproxy finds it.
pub fn parse_unit(bag: &Databag) -> Result<WebsiteUnit, WireError> {
    let address = get(bag, HOSTNAME)
        .or_else(|| get(bag, PRIVATE_ADDRESS))
        .ok_or_else(|| WireError::missing(HOSTNAME, "every unit publishes its address"))?;
    let address = address
        .parse::<Host>()
        .map_err(|e| WireError::invalid(HOSTNAME, e.to_string()))?;
    let port = get(bag, PORT)
        .ok_or_else(|| WireError::missing(PORT, "every unit publishes registry-port"))?;
    let port = parse_port_text(PORT, port)?;
    let services = match get(bag, SERVICES) {
        Some(text) => parse_services(text)?,
        None => Vec::new(),
    };
    Ok(WebsiteUnit {
        address,
        port,
        services,
    })
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
    /// Nothing haproxy can use (a unit not configured yet).
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
