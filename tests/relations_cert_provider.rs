//! Wire contract of the `cert-provider` endpoint (tls-certificates, legacy and v4).

use std::collections::BTreeMap;

use charm::relations::cert_provider::{
    legacy_unit_name, processed_requests_json, CertKey, CsrRequest, CsrRequests, LegacyProvider,
    LegacyRequest, ProvidedCert, ProvidedCerts,
};
use charm::relations::{bag, Databag, WireError};

const CA: &str = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
/// easyrsa 3.0/3.1 prints a text dump before the armour; it must survive untouched.
const EASYRSA_CERT: &str = "Certificate:\n    Data:\n        Version: 3 (0x2)\n        Subject: CN=10.5.0.12\n-----BEGIN CERTIFICATE-----\nU0VSVkVS\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n";
const RSA_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nS0VZ\n-----END RSA PRIVATE KEY-----\n";
const CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----\nQ1NS\n-----END CERTIFICATE REQUEST-----\n";

#[test]
fn legacy_request_exact_encoding() {
    let req = LegacyRequest::new(
        "docker-registry/0",
        "10.5.0.12",
        vec![
            "10.5.0.12".into(),
            "10.5.0.12".into(),
            "juju-1a2b3c-0".into(),
        ],
    );
    let expected: Databag = bag([
        ("unit_name", "docker-registry_0"),
        ("common_name", "10.5.0.12"),
        ("sans", r#"["10.5.0.12", "10.5.0.12", "juju-1a2b3c-0"]"#),
        ("certificate_name", "docker-registry_0"),
    ]);
    assert_eq!(req.to_databag(), expected);
    assert_eq!(LegacyRequest::parse(&expected), Ok(req));
    assert_eq!(legacy_unit_name("docker-registry/12"), "docker-registry_12");
}

#[test]
fn legacy_request_empty_sans_and_missing_certificate_name() {
    let req = LegacyRequest::new("r/1", "h", vec![]);
    assert_eq!(req.to_databag()["sans"], "[]");
    let parsed = LegacyRequest::parse(&bag([("unit_name", "r_1"), ("common_name", "h")])).unwrap();
    assert_eq!(parsed.certificate_name, "r_1");
    assert!(parsed.sans.is_empty());
}

#[test]
fn legacy_request_garbage() {
    let base = || bag([("unit_name", "r_0"), ("common_name", "10.0.0.1")]);
    for (raw, needle) in [
        ("10.0.0.1, host", "is not JSON"),
        (r#"{"a": 1}"#, "expected a JSON list"),
        (r#"["a", 3]"#, "must be strings"),
        (r#"["a", null]"#, "must be strings"),
    ] {
        let mut b = base();
        b.insert("sans".into(), raw.into());
        let err = LegacyRequest::parse(&b).unwrap_err();
        assert_eq!(err.key(), "sans");
        assert!(err.to_string().contains(needle), "{raw}: {err}");
    }
    let err = LegacyRequest::parse(&bag([("common_name", "x")])).unwrap_err();
    assert!(matches!(err, WireError::Missing { .. }) && err.key() == "unit_name");
}

fn easyrsa_bag() -> Databag {
    bag([
        ("ca", CA),
        ("client.cert", EASYRSA_CERT),
        ("client.key", KEY),
        ("docker-registry_0.server.cert", EASYRSA_CERT),
        ("docker-registry_0.server.key", KEY),
        // Another unit's half-written answer must not disturb ours.
        ("docker-registry_1.server.cert", EASYRSA_CERT),
        ("private-address", "10.5.0.2"),
    ])
}

#[test]
fn legacy_provider_finds_our_cert_by_unit_name_raw() {
    let p = LegacyProvider::parse(&easyrsa_bag()).unwrap();
    let issued = p.issued_for("docker-registry_0").unwrap().unwrap();
    assert_eq!(issued.ca, CA);
    assert_eq!(issued.cert, EASYRSA_CERT, "text preamble is kept raw");
    assert_eq!(issued.key, KEY);
    assert!(
        !format!("{issued:?}").contains("S0VZ"),
        "key hidden in Debug"
    );
    assert_eq!(p.issued_for("docker-registry_7").unwrap(), None);
}

#[test]
fn legacy_provider_round_trip() {
    let mut p = LegacyProvider {
        ca: Some(CA.into()),
        ..Default::default()
    };
    p.issue(
        "docker-registry_3",
        CertKey {
            cert: EASYRSA_CERT.into(),
            key: RSA_KEY.into(),
        },
    );
    let processed = BTreeMap::from([(
        "registry.example.com".to_string(),
        CertKey {
            cert: EASYRSA_CERT.into(),
            key: KEY.into(),
        },
    )]);
    p.processed.insert(
        "docker-registry_3".into(),
        processed_requests_json(&processed),
    );
    let b = p.to_databag();
    assert_eq!(b["docker-registry_3.server.key"], RSA_KEY);
    let back = LegacyProvider::parse(&b).unwrap();
    assert_eq!(back, p);
    assert_eq!(back.processed_for("docker-registry_3").unwrap(), processed);
    assert!(back.issued_for("docker-registry_3").unwrap().is_some());
}

#[test]
fn legacy_provider_garbage_names_the_key() {
    let p = LegacyProvider::parse(&easyrsa_bag()).unwrap();
    let err = p.issued_for("docker-registry_1").unwrap_err();
    assert_eq!(err.key(), "docker-registry_1.server.key");
    assert!(matches!(err, WireError::Missing { .. }));

    let mut b = easyrsa_bag();
    b.remove("ca");
    let err = LegacyProvider::parse(&b)
        .unwrap()
        .issued_for("docker-registry_0")
        .unwrap_err();
    assert_eq!(err.key(), "ca");

    let mut b = easyrsa_bag();
    b.insert("docker-registry_0.server.key".into(), "sekrit".into());
    let err = LegacyProvider::parse(&b)
        .unwrap()
        .issued_for("docker-registry_0")
        .unwrap_err();
    assert_eq!(err.key(), "docker-registry_0.server.key");
    assert!(!err.to_string().contains("sekrit"), "{err}");

    let mut b = easyrsa_bag();
    b.insert(
        "docker-registry_0.server.cert".into(),
        "Certificate: text only".into(),
    );
    let err = LegacyProvider::parse(&b)
        .unwrap()
        .issued_for("docker-registry_0")
        .unwrap_err();
    assert_eq!(err.key(), "docker-registry_0.server.cert");

    for raw in [
        "{",
        "[1]",
        r#"{"cn": {"cert": 1}}"#,
        r#"{"cn": {"cert": "x", "key": "y"}}"#,
    ] {
        let b = bag([("docker-registry_0.processed_requests", raw)]);
        let err = LegacyProvider::parse(&b)
            .unwrap()
            .processed_for("docker-registry_0")
            .unwrap_err();
        assert_eq!(err.key(), "docker-registry_0.processed_requests", "{raw}");
    }
}

#[test]
fn v4_requests_exact_encoding_and_round_trip() {
    let reqs = CsrRequests {
        requests: vec![CsrRequest {
            csr: CSR.into(),
            ca: false,
        }],
    };
    let b = reqs.to_databag();
    assert_eq!(
        b["certificate_signing_requests"],
        r#"[{"ca": false, "certificate_signing_request": "-----BEGIN CERTIFICATE REQUEST-----\nQ1NS\n-----END CERTIFICATE REQUEST-----\n"}]"#
    );
    assert_eq!(CsrRequests::parse(&b), Ok(reqs));
    assert_eq!(
        CsrRequests::parse(&Databag::new()),
        Ok(CsrRequests::default())
    );
}

fn provided(csr: &str, revoked: bool) -> ProvidedCert {
    ProvidedCert {
        csr: csr.into(),
        certificate: EASYRSA_CERT.into(),
        ca: CA.into(),
        chain: vec![CA.into()],
        revoked,
    }
}

#[test]
fn v4_certificates_round_trip_and_find() {
    let other_csr = CSR.replace("Q1NS", "T1RIRVI=");
    let certs = ProvidedCerts {
        certificates: vec![
            provided(&other_csr, false),
            provided(CSR, true),
            provided(CSR, false),
        ],
    };
    let b = certs.to_databag();
    assert_eq!(ProvidedCerts::parse(&b), Ok(certs.clone()));
    // Whitespace and CRLF differences do not matter; revoked answers are skipped.
    let found = certs
        .find_for_csr(&format!("\n{}", CSR.replace('\n', "\r\n")))
        .unwrap();
    assert!(!found.revoked);
    assert!(certs
        .find_for_csr("-----BEGIN CERTIFICATE REQUEST-----\nX\n")
        .is_none());
}

#[test]
fn v4_tolerates_missing_optional_fields_and_unknown_ones() {
    let raw = format!(
        r#"[{{"certificate_signing_request": {csr}, "certificate": {cert}, "ca": {ca}, "recommended_expiry_notification_time": 3}}]"#,
        csr = serde_json::to_string(CSR).unwrap(),
        cert = serde_json::to_string(EASYRSA_CERT).unwrap(),
        ca = serde_json::to_string(CA).unwrap(),
    );
    let certs = ProvidedCerts::parse(&bag([("certificates", raw.as_str())])).unwrap();
    assert_eq!(certs.certificates[0].chain, Vec::<String>::new());
    assert!(!certs.certificates[0].revoked);
}

#[test]
fn v4_garbage_names_the_key() {
    let csr = serde_json::to_string(CSR).unwrap();
    for raw in [
        "not json".to_string(),
        r#"{"a": 1}"#.to_string(),
        "[1]".to_string(),
        r#"[{"ca": false}]"#.to_string(),
        format!(r#"[{{"certificate_signing_request": {csr}, "ca": "no"}}]"#),
        r#"[{"certificate_signing_request": "not pem", "ca": false}]"#.to_string(),
    ] {
        let err =
            CsrRequests::parse(&bag([("certificate_signing_requests", raw.as_str())])).unwrap_err();
        assert_eq!(err.key(), "certificate_signing_requests", "{raw}");
    }
    let good = ProvidedCerts {
        certificates: vec![provided(CSR, false)],
    }
    .to_databag()["certificates"]
        .clone();
    for (from, to) in [
        (r#""revoked": false"#, r#""revoked": "no""#),
        (r#""chain": ["#, r#""chain": [1, "#),
        (r#""certificate": "#, r#""certificate": 7, "x": "#),
        (r#""ca": "-----BEGIN"#, r#""ca": "BEGIN"#),
    ] {
        let raw = good.replacen(from, to, 1);
        assert_ne!(raw, good, "{from}");
        let err = ProvidedCerts::parse(&bag([("certificates", raw.as_str())])).unwrap_err();
        assert_eq!(err.key(), "certificates", "{raw}");
    }
}
