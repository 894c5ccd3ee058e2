//! Wire contract of the `docker-registry` endpoint: exact encodings, round trips, garbage.

use charm::relations::docker_registry::{
    merge, BasicAuth, RegistryInfo, Scheme, Tls, UnitBag, KEYS,
};
use charm::relations::{bag, changes, Databag, Netloc, WireError};

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

fn netloc(s: &str) -> Netloc {
    s.parse().unwrap()
}

fn admin() -> Option<BasicAuth> {
    Some(BasicAuth {
        user: "admin".into(),
        password: "password".into(),
    })
}

#[test]
fn plain_http_without_auth_is_exactly_the_anchor_encoding() {
    let info = RegistryInfo::advertise(netloc("10.5.0.12:5000"), Tls::Off, None);
    let expected: Databag = bag([
        ("registry_netloc", r#""10.5.0.12:5000""#),
        ("registry_url", r#""http://10.5.0.12:5000""#),
        ("basic_user", "null"),
        ("basic_password", "null"),
        ("tls_ca", "null"),
    ]);
    assert_eq!(info.to_databag(), expected);
}

#[test]
fn tls_with_auth_sends_https_and_the_ca_json_escaped() {
    let info = RegistryInfo::advertise(
        netloc("10.5.0.12:5000"),
        Tls::On {
            ca: Some(CA.into()),
        },
        admin(),
    );
    let b = info.to_databag();
    assert_eq!(b["registry_url"], r#""https://10.5.0.12:5000""#);
    assert_eq!(b["basic_user"], r#""admin""#);
    assert_eq!(b["basic_password"], r#""password""#);
    assert_eq!(
        b["tls_ca"],
        r#""-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n""#
    );
    assert!(b.keys().map(String::as_str).eq(sorted(KEYS)));
}

fn sorted(keys: [&str; 5]) -> Vec<&str> {
    let mut v = keys.to_vec();
    v.sort();
    v
}

#[test]
fn tls_without_a_ca_still_says_https_and_sends_null_ca() {
    let info = RegistryInfo::advertise(netloc("reg.example.com:443"), Tls::On { ca: None }, None);
    let b = info.to_databag();
    assert_eq!(b["registry_url"], r#""https://reg.example.com:443""#);
    assert_eq!(b["tls_ca"], "null");
}

#[test]
fn partial_credentials_are_not_sent() {
    let half = Some(BasicAuth {
        user: "admin".into(),
        password: String::new(),
    });
    let b = RegistryInfo::advertise(netloc("10.0.0.1:5000"), Tls::Off, half).to_databag();
    assert_eq!(b["basic_user"], "null");
    assert_eq!(b["basic_password"], "null");
}

#[test]
fn ipv6_netloc_is_bracketed() {
    let b = RegistryInfo::advertise(netloc("[fd00::12]:5000"), Tls::Off, None).to_databag();
    assert_eq!(b["registry_netloc"], r#""[fd00::12]:5000""#);
    assert_eq!(b["registry_url"], r#""http://[fd00::12]:5000""#);
}

#[test]
fn round_trip() {
    for info in [
        RegistryInfo::advertise(netloc("10.5.0.12:5000"), Tls::Off, None),
        RegistryInfo::advertise(
            netloc("registry.example.com:5000"),
            Tls::On {
                ca: Some(CA.into()),
            },
            admin(),
        ),
        RegistryInfo::default(),
    ] {
        assert_eq!(RegistryInfo::parse(&info.to_databag()), Ok(info));
    }
}

#[test]
fn reader_helpers_follow_the_requirer_api() {
    let info = RegistryInfo::parse(
        &RegistryInfo::advertise(
            netloc("10.5.0.12:5000"),
            Tls::On {
                ca: Some(CA.into()),
            },
            admin(),
        )
        .to_databag(),
    )
    .unwrap();
    assert!(info.ready() && info.has_tls() && info.has_custom_url());
    assert_eq!(info.basic_auth(), admin());
    assert_eq!(info.url.unwrap().scheme, Scheme::Https);

    let empty = RegistryInfo::parse(&Databag::new()).unwrap();
    assert!(!empty.ready() && !empty.has_tls() && !empty.has_custom_url());
    assert_eq!(empty.basic_auth(), None);
}

#[test]
fn reader_accepts_raw_unquoted_values_like_reactive_does() {
    // The Python charm's proxied netloc had no port (docs/python-charm-bugs.md#b1); a raw
    // string is decoded as itself.
    let info = RegistryInfo::parse(&bag([
        ("registry_netloc", "10.5.0.99"),
        ("registry_url", "http://10.5.0.99"),
        ("basic_user", "null"),
    ]))
    .unwrap();
    assert_eq!(info.netloc.unwrap().to_string(), "10.5.0.99");
    assert_eq!(info.basic_user, None);
}

#[test]
fn unknown_keys_are_ignored() {
    let mut b = RegistryInfo::advertise(netloc("10.0.0.1:5000"), Tls::Off, None).to_databag();
    b.insert("private-address".into(), "10.0.0.1".into());
    b.insert("egress-subnets".into(), "10.0.0.1/32".into());
    assert!(RegistryInfo::parse(&b).unwrap().ready());
}

#[test]
fn garbage_names_the_key() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "registry_netloc",
            r#""http://10.0.0.1:5000""#,
            "drop `http://`",
        ),
        ("registry_netloc", "42", "got a JSON number"),
        ("registry_url", r#""ftp://x:1""#, "not a registry URL"),
        ("basic_user", r#"["admin"]"#, "got a JSON list"),
        ("tls_ca", r#""not a pem""#, "PEM certificate"),
        ("basic_password", "{}", "got a JSON object"),
    ];
    for (key, raw, needle) in cases {
        let err = RegistryInfo::parse(&bag([(key, raw)])).unwrap_err();
        assert_eq!(err.key(), key, "{raw}");
        assert!(
            matches!(err, WireError::Invalid { .. }) && err.to_string().contains(needle),
            "{key}={raw}: {err}"
        );
    }
}

#[test]
fn password_never_appears_in_debug_or_errors() {
    let info = RegistryInfo::advertise(netloc("10.0.0.1:5000"), Tls::Off, admin());
    let dbg = format!("{info:?} {:?}", info.basic_auth());
    assert!(!dbg.contains("\"password\""), "{dbg}");
    let err = RegistryInfo::parse(&bag([("basic_password", "[\"s3cret\"]")])).unwrap_err();
    assert!(!err.to_string().contains("s3cret"));
}

#[test]
fn merge_lowest_relation_then_unit_number_wins_per_key() {
    let u0 = bag([("registry_netloc", r#""10.0.0.10:5000""#), ("tls_ca", "")]);
    let u2 = bag([
        ("registry_netloc", r#""10.0.0.12:5000""#),
        ("tls_ca", r#""x""#),
    ]);
    let other_rel = bag([("registry_netloc", r#""10.9.9.9:5000""#)]);
    let merged = merge([
        UnitBag {
            relation_id: 7,
            unit: "docker-registry/0",
            bag: &other_rel,
        },
        UnitBag {
            relation_id: 4,
            unit: "docker-registry/2",
            bag: &u2,
        },
        UnitBag {
            relation_id: 4,
            unit: "docker-registry/0",
            bag: &u0,
        },
    ]);
    assert_eq!(merged["registry_netloc"], r#""10.0.0.10:5000""#);
    // Empty means deleted: the next unit's value shows through.
    assert_eq!(merged["tls_ca"], r#""x""#);
}

#[test]
fn rewriting_the_same_data_changes_nothing() {
    let desired = RegistryInfo::advertise(netloc("10.0.0.1:5000"), Tls::Off, admin()).to_databag();
    assert!(changes(&desired, &desired).is_empty());
    assert_eq!(changes(&Databag::new(), &desired), desired);
}
