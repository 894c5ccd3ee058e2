//! Wire contract of the `website` endpoint (interface `http`): stanza decisions, exact
//! text, round trips through serde_yaml, the haproxy-side reading, garbage, and
//! `haproxy -c` accepting what we render.

mod support;

use std::process::Command;

use charm::relations::website::{
    render_services, Balancing, Server, Service, ServicesStanza, WebsiteUnit,
};
use charm::relations::{bag, Databag, Host};
use support::haproxy::{parse_services, parse_unit, render_haproxy_cfg, union, HaproxyView};

fn host(s: &str) -> Host {
    s.parse().unwrap()
}

fn three_units() -> ServicesStanza {
    // Given out of order on purpose: /10 must come after /2 (docs/python-charm-bugs.md#b4).
    ServicesStanza::new("docker-registry", 5000)
        .member("docker-registry/10", host("10.5.0.20"))
        .member("docker-registry/2", host("10.5.0.14"))
        .member("docker-registry/0", host("10.5.0.12"))
}

const EXPECTED_HTTP: &str = "\
- service_name: docker-registry
  service_host: 0.0.0.0
  service_port: 5000
  service_options:
  - mode http
  - balance leastconn
  - option httpchk GET /v2/
  - \"http-check expect rstatus ^(200|401)$\"
  - option redispatch 1
  - retries 3
  - retry-on all-retryable-errors
  servers:
  - [docker-registry-0, 10.5.0.12, 5000, check inter 500ms rise 2 fall 2 maxconn 4096]
  - [docker-registry-2, 10.5.0.14, 5000, check inter 500ms rise 2 fall 2 maxconn 4096 backup]
  - [docker-registry-10, 10.5.0.20, 5000, check inter 500ms rise 2 fall 2 maxconn 4096 backup]
";

#[test]
fn active_passive_by_unit_number_exact_text() {
    let service = three_units().build().unwrap();
    assert_eq!(render_services(&[service]), EXPECTED_HTTP);
}

#[test]
fn tls_passthrough_uses_tcp_and_ssl_checks() {
    let service = three_units().tls_passthrough(true).build().unwrap();
    assert_eq!(service.service_options[0], "mode tcp");
    assert_eq!(
        service.servers[0].options,
        "check check-ssl verify none inter 500ms rise 2 fall 2 maxconn 4096"
    );
    assert_eq!(
        service.servers[1].options,
        "check check-ssl verify none inter 500ms rise 2 fall 2 maxconn 4096 backup"
    );
    // The check still asks the API (over TLS); haproxy cannot replay a request it only
    // passes through, so retry-on is HTTP mode only.
    assert!(service
        .service_options
        .contains(&"option httpchk GET /v2/".to_string()));
    assert!(!service
        .service_options
        .iter()
        .any(|o| o.starts_with("retry-on")));
}

#[test]
fn active_active_has_no_backup() {
    let service = three_units()
        .balancing(Balancing::ActiveActive)
        .build()
        .unwrap();
    assert!(service
        .servers
        .iter()
        .all(|s| !s.options.contains("backup")));
    assert!(service
        .service_options
        .contains(&"balance leastconn".to_string()));
}

#[test]
fn duplicate_units_count_once_and_bad_unit_names_fail() {
    let service = ServicesStanza::new("docker-registry", 5000)
        .member("docker-registry/1", host("10.0.0.2"))
        .member("docker-registry/1", host("10.0.0.2"))
        .build()
        .unwrap();
    assert_eq!(service.servers.len(), 1);
    assert_eq!(
        service.servers[0].options,
        "check inter 500ms rise 2 fall 2 maxconn 4096"
    );

    for bad in [
        "other-app/1",
        "docker-registry/x",
        "docker-registry",
        "docker-registry-1",
    ] {
        let err = ServicesStanza::new("docker-registry", 5000)
            .member(bad, host("10.0.0.2"))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn ipv6_servers_are_quoted_and_round_trip() {
    let service = ServicesStanza::new("reg", 5000)
        .member("reg/0", host("fd00::12"))
        .build()
        .unwrap();
    let text = render_services(std::slice::from_ref(&service));
    assert!(
        text.contains(r#"- [reg-0, "fd00::12", 5000, check"#),
        "{text}"
    );
    assert_eq!(parse_services(&text).unwrap(), vec![service]);
}

#[test]
fn rendered_yaml_round_trips_through_serde_yaml() {
    let services = vec![
        three_units().build().unwrap(),
        three_units().tls_passthrough(true).build().unwrap(),
        Service {
            service_name: "yes".into(),
            service_host: "::".into(),
            service_port: 1,
            service_options: vec![],
            servers: vec![Server {
                name: "a: b".into(),
                address: "host.example".into(),
                port: 65535,
                options: "".into(),
            }],
        },
    ];
    let text = render_services(&services);
    // Also valid YAML for a generic reader.
    let generic: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(generic.as_sequence().map(Vec::len), Some(3));
    assert_eq!(parse_services(&text).unwrap(), services);
    assert_eq!(parse_services(&render_services(&[])).unwrap(), vec![]);
}

#[test]
fn unit_bag_exact_and_round_trip() {
    let unit = WebsiteUnit {
        address: host("10.5.0.12"),
        port: 5000,
        services: vec![three_units().build().unwrap()],
    };
    let b = unit.to_databag();
    let expected: Databag = bag([
        ("hostname", "10.5.0.12"),
        ("private-address", "10.5.0.12"),
        ("port", "5000"),
        ("services", EXPECTED_HTTP),
        ("all_services", ""),
    ]);
    assert_eq!(b, expected);
    assert_eq!(parse_unit(&b), Ok(unit));
}

/// Each unit publishes itself; haproxy's union of their stanzas is the whole backend,
/// with the lowest unit as the primary on filesystem storage, and haproxy accepts it.
#[test]
fn per_unit_stanzas_union_into_one_backend() {
    let own = |unit: &str, addr: &str, standby: bool| {
        ServicesStanza::new("docker-registry", 5000)
            .standby(standby)
            .member(unit, host(addr))
            .build()
            .unwrap()
    };
    let merged = union([
        own("docker-registry/0", "10.5.0.12", false),
        own("docker-registry/2", "10.5.0.14", true),
        own("docker-registry/10", "10.5.0.20", true),
    ]);
    assert_eq!(merged, vec![three_units().build().unwrap()]);
    // Shared storage: nobody is a backup, whatever `standby` says.
    let active = ServicesStanza::new("docker-registry", 5000)
        .balancing(Balancing::ActiveActive)
        .standby(true)
        .member("docker-registry/3", host("10.5.0.15"))
        .build()
        .unwrap();
    assert!(!active.servers[0].options.contains("backup"));
}

/// The Python charm's text, verbatim: leading newline, odd indentation, trailing space.
const ANCHOR_TEXT: &str = "
- service_name: docker-registry
  service_host: 0.0.0.0
  service_port: 5000
  service_options:
   - mode http
   - balance leastconn
   - option httpchk GET / HTTP/1.0
  servers:
   - [docker-registry-0, 10.5.0.12, 5000, check inter 2000 rise 2 fall 5 maxconn 4096 ]
   - [docker-registry-1, 10.5.0.13, 5000, check inter 2000 rise 2 fall 5 maxconn 4096 backup ]
";

#[test]
fn haproxy_side_reads_the_anchor_stanza() {
    let view = HaproxyView::parse(&bag([("services", ANCHOR_TEXT), ("port", "5000")])).unwrap();
    let HaproxyView::Services(services) = view else {
        panic!("expected services, got {view:?}");
    };
    assert_eq!(
        services[0].service_options[2],
        "option httpchk GET / HTTP/1.0"
    );
    assert_eq!(
        services[0].servers[1],
        Server {
            name: "docker-registry-1".into(),
            address: "10.5.0.13".into(),
            port: 5000,
            options: "check inter 2000 rise 2 fall 5 maxconn 4096 backup".into(),
        }
    );
}

#[test]
fn haproxy_side_options_as_comma_string_and_short_server_entries() {
    let text = "- service_name: web\n  service_port: \"8080\"\n  service_options: mode http, balance roundrobin\n  servers:\n  - [web-0, 10.0.0.1, 80]\n";
    let s = &parse_services(text).unwrap()[0];
    assert_eq!(s.service_host, "0.0.0.0");
    assert_eq!(s.service_port, 8080);
    assert_eq!(s.service_options, vec!["mode http", "balance roundrobin"]);
    assert_eq!(s.servers[0].options, "");
}

#[test]
fn haproxy_side_plain_backend_and_nothing() {
    assert_eq!(
        HaproxyView::parse(&bag([("port", "5000"), ("private-address", "10.0.0.3")])).unwrap(),
        HaproxyView::Plain {
            address: "10.0.0.3".into(),
            port: 5000
        }
    );
    assert_eq!(
        HaproxyView::parse(&bag([
            ("private-address", "10.0.0.3"),
            ("egress-subnets", "x")
        ]))
        .unwrap(),
        HaproxyView::Nothing
    );
}

#[test]
fn union_merges_servers_of_the_same_service() {
    let a = ServicesStanza::new("reg", 5000)
        .member("reg/0", host("10.0.0.1"))
        .build()
        .unwrap();
    let b = ServicesStanza::new("reg", 5000)
        .member("reg/0", host("10.0.0.1"))
        .member("reg/1", host("10.0.0.2"))
        .build()
        .unwrap();
    let merged = union([a, b]);
    assert_eq!(merged.len(), 1);
    let names: Vec<_> = merged[0].servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["reg-0", "reg-1"]);
}

#[test]
fn garbage_names_the_services_key() {
    let cases = [
        ("services", "{not: [closed", "not YAML"),
        ("services", "service_name: x", "expected a YAML list"),
        ("services", "- 42", "expected a mapping"),
        ("services", "- service_port: 1", "`service_name` is missing"),
        ("services", "- service_name: x", "`service_port` is missing"),
        (
            "services",
            "- {service_name: x, service_port: 70000}",
            "port number",
        ),
        (
            "services",
            "- {service_name: x, service_port: 1, service_options: 3}",
            "list or a comma",
        ),
        (
            "services",
            "- {service_name: x, service_port: 1, servers: [[a, b]]}",
            "got 2 items",
        ),
        (
            "services",
            "- {service_name: x, service_port: 1, servers: [[a, b, zero, o]]}",
            "port number",
        ),
        (
            "services",
            "- {service_name: x, service_port: 1, servers: x}",
            "`servers` must be",
        ),
        ("port", "http", "not a port number"),
    ];
    for (key, raw, needle) in cases {
        let mut b = bag([(key, raw)]);
        if key == "port" {
            b.insert("private-address".into(), "10.0.0.1".into());
        }
        let err = HaproxyView::parse(&b).unwrap_err();
        assert_eq!(err.key(), key, "{raw}");
        assert!(err.to_string().contains(needle), "{raw}: {err}");
    }
    let err = parse_unit(&bag([("hostname", "bad host"), ("port", "1")])).unwrap_err();
    assert_eq!(err.key(), "hostname");
    let err = parse_unit(&bag([("hostname", "10.0.0.1")])).unwrap_err();
    assert_eq!(err.key(), "port");
}

/// haproxy itself must accept the options we send, in both modes.
#[test]
fn haproxy_accepts_the_rendered_config() {
    let dir = tempfile::tempdir().unwrap();
    for tls in [false, true] {
        let services = vec![three_units().tls_passthrough(tls).build().unwrap()];
        let cfg = render_haproxy_cfg(&services);
        let path = dir.path().join(format!("haproxy-{tls}.cfg"));
        std::fs::write(&path, &cfg).unwrap();
        let out = Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(&path)
            .output()
            .expect("haproxy is installed on dev machines and in CI");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "tls={tls}\n{cfg}\n{stdout}{stderr}");
        assert!(!stderr.contains("WARNING"), "tls={tls}\n{cfg}\n{stderr}");
    }
}
