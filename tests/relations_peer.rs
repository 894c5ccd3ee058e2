//! Wire contract of the `peer` endpoint: addresses, the started marker, the shared secret.

use charm::relations::peer::{PeerApp, PeerUnit};
use charm::relations::{bag, changes, Databag, Host};

#[test]
fn unit_bag_prefers_ingress_then_private_address() {
    let juju_bag = bag([
        ("egress-subnets", "10.1.0.1/32"),
        ("ingress-address", "10.1.0.1"),
        ("private-address", "10.0.0.1"),
        ("started", "true"),
    ]);
    let p = PeerUnit::parse(&juju_bag).unwrap();
    assert_eq!(p.address, Some("10.1.0.1".parse::<Host>().unwrap()));
    assert!(p.started);

    let old_juju = PeerUnit::parse(&bag([("private-address", "fd00::3")])).unwrap();
    assert_eq!(old_juju.address.unwrap().to_string(), "fd00::3");
    assert!(!old_juju.started);

    assert_eq!(PeerUnit::parse(&Databag::new()), Ok(PeerUnit::default()));
}

#[test]
fn started_marker_round_trip_and_delete() {
    let on = PeerUnit {
        address: None,
        started: true,
    };
    assert_eq!(on.to_databag(), bag([("started", "true")]));
    assert_eq!(PeerUnit::parse(&on.to_databag()), Ok(on.clone()));
    let off = PeerUnit::default().to_databag();
    assert_eq!(off, bag([("started", "")]));
    assert_eq!(
        changes(&on.to_databag(), &off),
        off,
        "stopping deletes the marker"
    );
    assert!(changes(&Databag::new(), &off).is_empty());
}

#[test]
fn unit_bag_garbage_names_the_key() {
    let err = PeerUnit::parse(&bag([("ingress-address", "not an address!")])).unwrap_err();
    assert_eq!(err.key(), "ingress-address");
    let err = PeerUnit::parse(&bag([("private-address", "10.0.0.999")])).unwrap_err();
    assert_eq!(err.key(), "private-address");
    let err = PeerUnit::parse(&bag([("started", "yes")])).unwrap_err();
    assert_eq!(err.key(), "started");
    assert!(err.to_string().contains("`yes`"));
}

const SECRET: &str = "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c=";
const URI: &str = "secret://6f1c7c4e-0000-4000-8000-000000000001/cjc0ljh7n7b0s5h4q6b0";

#[test]
fn app_bag_holds_the_secret_uri_and_deletes_the_value_from_before() {
    let app = PeerApp {
        shared_secret: Some(URI.parse().unwrap()),
        ..PeerApp::default()
    };
    let b = app.to_databag();
    assert_eq!(b, bag([("shared-secret", URI), ("http-secret", "")]));
    assert_eq!(PeerApp::parse(&b), Ok(app));
    // Moving: the value goes in the same write that records the URI.
    let before = bag([("http-secret", SECRET)]);
    assert_eq!(
        changes(&before, &b),
        bag([("shared-secret", URI), ("http-secret", "")])
    );
    let after = bag([("shared-secret", URI)]);
    assert!(changes(&after, &b).is_empty(), "nothing to write again");
    assert_eq!(PeerApp::parse(&Databag::new()), Ok(PeerApp::default()));
}

/// The leader's count of the secret's revisions round-trips; a garbled one is an error
/// naming its key, and leaves the URI readable on its own.
#[test]
fn app_bag_carries_the_shared_secret_generation() {
    let app = PeerApp {
        shared_secret: Some(URI.parse().unwrap()),
        shared_generation: Some(2),
        ..PeerApp::default()
    };
    let b = app.to_databag();
    assert_eq!(b["shared-secret-generation"], "2");
    assert_eq!(PeerApp::parse(&b), Ok(app));
    let mut garbled = b.clone();
    garbled.insert("shared-secret-generation".into(), "two".into());
    assert_eq!(
        PeerApp::parse(&garbled).unwrap_err().key(),
        "shared-secret-generation"
    );
    assert!(PeerApp::shared_secret(&garbled).unwrap().is_some());
}

#[test]
fn the_value_from_before_the_move_is_read_from_either_place() {
    let got = PeerApp::legacy_http_secret(&bag([("http-secret", SECRET)])).unwrap();
    assert_eq!(got.unwrap().expose(), SECRET);
    assert_eq!(PeerApp::legacy_http_secret(&Databag::new()), Ok(None));
}

#[test]
fn bad_values_are_rejected_without_echoing_a_secret() {
    let err = PeerApp::legacy_http_secret(&bag([("http-secret", "has space s3cret")])).unwrap_err();
    assert_eq!(err.key(), "http-secret");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let err = PeerApp::parse(&bag([("shared-secret", "secret:nope")])).unwrap_err();
    assert_eq!(err.key(), "shared-secret");
}

/// The tls-auto CA certificate and the Python charm's client CA round-trip through the
/// app bag; the leader's writes never delete a key and never carry a private key (the CA
/// key lives in the Juju secret); a broken certificate is an error naming its key (and
/// leaves the shared secret's URI readable on its own); a key from before the move is
/// read exactly as written.
#[test]
fn app_bag_carries_the_tls_auto_ca_and_the_python_client_ca() {
    let ca = charm::tls::auto::make_ca("app tls-auto CA", std::time::SystemTime::now(), [2; 16])
        .unwrap();
    let app = PeerApp {
        tls_auto_ca: Some(ca.cert.clone()),
        python_client_ca: Some(ca.cert.clone()),
        ..PeerApp::default()
    };
    let b = app.to_databag();
    assert_eq!(
        b.keys().collect::<Vec<_>>(),
        ["python-client-ca", "tls-auto-ca"],
        "no shared-secret or http-secret key: nothing is deleted; no CA key"
    );
    assert!(b.values().all(|v| !v.contains("PRIVATE KEY")), "{b:?}");
    assert_eq!(PeerApp::parse(&b), Ok(app));

    let mut broken = b.clone();
    broken.insert("tls-auto-ca".into(), "not a certificate".into());
    broken.insert("shared-secret".into(), URI.into());
    let err = PeerApp::auto_ca(&broken).unwrap_err();
    assert_eq!(err.key(), "tls-auto-ca", "{err}");
    assert_eq!(
        PeerApp::shared_secret(&broken)
            .unwrap()
            .map(|u| u.to_string()),
        Some(URI.to_string())
    );

    let mut before_the_move = b.clone();
    before_the_move.insert("tls-auto-ca-key".into(), ca.key.expose().into());
    assert_eq!(
        PeerApp::legacy_ca_key(&before_the_move).map(|k| k.expose().to_string()),
        Some(ca.key.expose().to_string()),
        "exactly as written"
    );
    assert_eq!(PeerApp::legacy_ca_key(&b), None);
}
