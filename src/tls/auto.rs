//! `tls-auto`: a CA of the application's own (made once by the leader) and the server
//! certificates every unit signs with it for its own addresses. Also the comparison that
//! tells a file holding the same certificate or key as a source, whatever its PEM form.
//!
//! Pure like the rest of `tls`: "now" and the random serial are parameters; the ECDSA
//! signatures themselves are random, so callers make certificates where entropy is drawn
//! (the view), never in the plan.

use std::time::SystemTime;

use x509_parser::prelude::X509Certificate;

use crate::secret::Secret;

use super::{
    cert_sans, chains_to, encode_pem, parse_cert_blocks, parse_der, parse_key, pem_blocks,
    subject_params, unix_seconds, Pem, San, TlsError,
};

/// How long the tls-auto CA is valid: long-lived, since every client trusts it.
pub const CA_DAYS: i64 = 3650;
/// How long a unit's tls-auto certificate is valid.
pub const CERT_DAYS: i64 = 90;
/// A unit's certificate is renewed once it has fewer days than this left.
pub const RENEW_DAYS: i64 = 30;
/// Certificates start an hour back, so a unit whose clock is a little behind accepts them.
const BACKDATE_SECONDS: i64 = 3600;
const DAY: i64 = 86_400;

/// The tls-auto CA: its certificate and key. `Debug` never shows the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoCa {
    /// The CA certificate (what clients are given as `tls_ca`).
    pub cert: Pem,
    /// Its private key (PKCS#8 PEM), shared only with the application's own units.
    pub key: Secret,
}

impl AutoCa {
    /// A CA from its PEM texts: the certificate must parse and the key must be its own.
    pub fn parse(cert: &str, key: &str) -> Result<AutoCa, TlsError> {
        let ders = parse_cert_blocks("tls-auto CA", cert)?;
        let key_der = parse_key("tls-auto CA key", key)?;
        let kp = rcgen::KeyPair::try_from(key_der.as_slice())
            .map_err(|e| TlsError::new("tls-auto CA key", format!("cannot be loaded ({e})")))?;
        let ca = parse_der(&ders[0]).map_err(|e| {
            TlsError::new("tls-auto CA", format!("certificate does not parse ({e})"))
        })?;
        if kp.public_key_raw() != ca.public_key().subject_public_key.data.as_ref() {
            return Err(TlsError::new(
                "tls-auto CA key",
                "does not belong to the tls-auto CA certificate",
            ));
        }
        Ok(AutoCa {
            cert: Pem(encode_pem("CERTIFICATE", &ders[0])),
            key: Secret::new(encode_pem("PRIVATE KEY", &key_der)),
        })
    }

    /// Unix time after which the CA is no longer valid (`None`: it does not parse).
    pub fn not_after(&self) -> Option<i64> {
        not_after(self.cert.as_str())
    }
}

pub(super) fn offset_time(seconds: i64) -> Result<time::OffsetDateTime, TlsError> {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|e| TlsError::new("certificate validity", format!("{e}")))
}

/// A serial number from 16 random bytes, positive (top bit clear) as X.509 wants.
fn serial(random: [u8; 16]) -> rcgen::SerialNumber {
    let mut bytes = random;
    bytes[0] &= 0x7f;
    rcgen::SerialNumber::from_slice(&bytes)
}

/// Makes a new CA named `common_name`, valid [`CA_DAYS`] from `now`; it may sign server
/// certificates only (path length 0).
pub fn make_ca(common_name: &str, now: SystemTime, random: [u8; 16]) -> Result<AutoCa, TlsError> {
    let err = |p: String| TlsError::new("tls-auto CA", p);
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| err(format!("key generation failed ({e})")))?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| err(format!("{e}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let now = unix_seconds(now);
    params.not_before = offset_time(now - BACKDATE_SECONDS)?;
    params.not_after = offset_time(now + CA_DAYS * DAY)?;
    params.serial_number = Some(serial(random));
    let cert = params
        .self_signed(&kp)
        .map_err(|e| err(format!("signing failed ({e})")))?;
    Ok(AutoCa {
        cert: Pem(cert.pem()),
        key: Secret::new(kp.serialize_pem()),
    })
}

/// Signs a server certificate for `key` with `ca`: `common_name`, exactly `sans`, valid
/// [`CERT_DAYS`] from `now` (never past the CA's own end).
pub fn issue(
    ca: &AutoCa,
    key: &Secret,
    common_name: &str,
    sans: &[San],
    now: SystemTime,
    random: [u8; 16],
) -> Result<Pem, TlsError> {
    let err = |p: String| TlsError::new("tls-auto certificate", p);
    let ca_der = parse_key("tls-auto CA key", ca.key.expose())?;
    let ca_kp = rcgen::KeyPair::try_from(ca_der.as_slice())
        .map_err(|e| err(format!("the CA key cannot be loaded ({e})")))?;
    let issuer = rcgen::Issuer::from_ca_cert_pem(ca.cert.as_str(), ca_kp)
        .map_err(|e| err(format!("the CA certificate cannot be used ({e})")))?;
    let unit_der = parse_key("tls-auto key", key.expose())?;
    let unit_kp = rcgen::KeyPair::try_from(unit_der.as_slice())
        .map_err(|e| err(format!("the unit key cannot be loaded ({e})")))?;
    let mut params = subject_params(common_name, sans, &err)?;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = unix_seconds(now);
    let end = (now + CERT_DAYS * DAY).min(ca.not_after().unwrap_or(i64::MAX));
    params.not_before = offset_time(now - BACKDATE_SECONDS)?;
    params.not_after = offset_time(end)?;
    params.serial_number = Some(serial(random));
    let cert = params
        .signed_by(&unit_kp, &issuer)
        .map_err(|e| err(format!("signing failed ({e})")))?;
    Ok(Pem(cert.pem()))
}

/// Why a unit must sign itself a new certificate, in words for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reissue {
    /// It has none yet.
    Missing,
    /// The one it has does not parse.
    Unreadable,
    /// Another CA signed it (the CA was replaced).
    OtherCa,
    /// It is for another key.
    OtherKey,
    /// The unit's addresses changed.
    Names,
    /// It expires within [`RENEW_DAYS`] (or already has), or is not valid yet.
    Expiring,
}

impl std::fmt::Display for Reissue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reissue::Missing => "there was none",
            Reissue::Unreadable => "the one on disk does not parse",
            Reissue::OtherCa => "the one on disk is signed by another CA",
            Reissue::OtherKey => "the one on disk is for another key",
            Reissue::Names => "the unit's addresses changed",
            Reissue::Expiring => "the one on disk expires soon",
        })
    }
}

/// Whether `cert` (the unit's current tls-auto certificate) must be replaced: `None`
/// while it is signed by `ca`, for `key`, names exactly `sans` and has more than
/// [`RENEW_DAYS`] left at `now`.
pub fn reissue(
    cert: Option<&str>,
    ca: &AutoCa,
    key: &Secret,
    sans: &[San],
    now: SystemTime,
) -> Option<Reissue> {
    let Some(cert) = cert else {
        return Some(Reissue::Missing);
    };
    let Ok(leaf_der) = parse_cert_blocks("cert", cert).map(|mut v| v.swap_remove(0)) else {
        return Some(Reissue::Unreadable);
    };
    let Ok(leaf) = parse_der(&leaf_der) else {
        return Some(Reissue::Unreadable);
    };
    let ca_ders = parse_cert_blocks("ca", ca.cert.as_str()).ok()?;
    let cas: Vec<X509Certificate<'_>> = ca_ders.iter().filter_map(|d| parse_der(d).ok()).collect();
    if !chains_to(&leaf, &[], &cas) {
        return Some(Reissue::OtherCa);
    }
    let matches_key = parse_key("key", key.expose())
        .ok()
        .and_then(|der| rcgen::KeyPair::try_from(der.as_slice()).ok())
        .is_some_and(|kp| {
            kp.public_key_raw() == leaf.public_key().subject_public_key.data.as_ref()
        });
    if !matches_key {
        return Some(Reissue::OtherKey);
    }
    let mut wanted = sans.to_vec();
    wanted.sort();
    wanted.dedup();
    if cert_sans(cert) != wanted {
        return Some(Reissue::Names);
    }
    let now = unix_seconds(now);
    let validity = leaf.validity();
    if now < validity.not_before.timestamp()
        || validity.not_after.timestamp() - now < RENEW_DAYS * DAY
    {
        return Some(Reissue::Expiring);
    }
    None
}

/// Unix time of the end of validity of the first certificate in `pem`.
pub fn not_after(pem: &str) -> Option<i64> {
    let ders = parse_cert_blocks("cert", pem).ok()?;
    let cert = parse_der(&ders[0]).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// `YYYY-MM-DD` of a unix time, for log lines.
pub fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| unix.to_string())
}

/// The certificates and keys in a PEM text, normalised: certificate DER as is, keys as
/// PKCS#8 DER; text around the blocks ignored. `None` when nothing parses.
fn material(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let blocks = pem_blocks(text).ok()?;
    let mut out = Vec::new();
    for block in blocks {
        if block.label == "CERTIFICATE" {
            out.push(block.der);
        } else if block.label.ends_with("PRIVATE KEY") {
            out.push(parse_key("key", &encode_pem(&block.label, &block.der)).ok()?);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// True when `a` and `b` hold the same certificates and keys, in the same order, however
/// they are written: easyrsa's text dump before a certificate, line endings, a PKCS#1 or
/// SEC1 key against its PKCS#8 form. Files the Python charm wrote from a source are
/// recognised this way.
pub fn same_material(a: &[u8], b: &[u8]) -> bool {
    match (material(a), material(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{generate_key, TlsBundle, TlsSource};
    use std::time::Duration;

    const RANDOM: [u8; 16] = [0xff; 16];

    fn sans() -> Vec<San> {
        vec!["10.1.0.5".parse().unwrap(), "reg-host".parse().unwrap()]
    }

    #[test]
    fn an_issued_certificate_chains_to_the_ca_and_matches_its_key() {
        let now = SystemTime::now();
        let ca = make_ca("docker-registry tls-auto CA", now, RANDOM).unwrap();
        let key = generate_key().unwrap();
        let cert = issue(&ca, &key, "10.1.0.5", &sans(), now, RANDOM).unwrap();
        let bundle = TlsBundle::from_pems(
            Some(ca.cert.as_str()),
            Some(cert.as_str()),
            Some(key.expose()),
            now,
            TlsSource::Config,
        )
        .unwrap()
        .unwrap();
        let mut want = sans();
        want.sort();
        assert_eq!(bundle.cert_sans(), want);
        assert_eq!(reissue(Some(cert.as_str()), &ca, &key, &sans(), now), None);
        let days = (not_after(cert.as_str()).unwrap() - unix_seconds(now)) / DAY;
        assert_eq!(days, CERT_DAYS);
        let ca_days = (ca.not_after().unwrap() - unix_seconds(now)) / DAY;
        assert_eq!(ca_days, CA_DAYS);
        assert_eq!(
            AutoCa::parse(ca.cert.as_str(), ca.key.expose()).unwrap(),
            ca
        );
    }

    #[test]
    fn reissue_reasons() {
        let now = SystemTime::now();
        let ca = make_ca("a CA", now, RANDOM).unwrap();
        let other = make_ca("a CA", now, RANDOM).unwrap();
        let key = generate_key().unwrap();
        let cert = issue(&ca, &key, "10.1.0.5", &sans(), now, RANDOM).unwrap();
        let c = Some(cert.as_str());
        assert_eq!(
            reissue(None, &ca, &key, &sans(), now),
            Some(Reissue::Missing)
        );
        assert_eq!(
            reissue(Some("junk"), &ca, &key, &sans(), now),
            Some(Reissue::Unreadable)
        );
        assert_eq!(
            reissue(c, &other, &key, &sans(), now),
            Some(Reissue::OtherCa)
        );
        let key2 = generate_key().unwrap();
        assert_eq!(
            reissue(c, &ca, &key2, &sans(), now),
            Some(Reissue::OtherKey)
        );
        let more = [sans(), vec!["10.9.9.9".parse().unwrap()]].concat();
        assert_eq!(reissue(c, &ca, &key, &more, now), Some(Reissue::Names));
        let later = now + Duration::from_secs(((CERT_DAYS - RENEW_DAYS) * DAY + 60) as u64);
        assert_eq!(
            reissue(c, &ca, &key, &sans(), later),
            Some(Reissue::Expiring)
        );
        let before = now + Duration::from_secs(((CERT_DAYS - RENEW_DAYS) * DAY - 60) as u64);
        assert_eq!(reissue(c, &ca, &key, &sans(), before), None);
    }

    #[test]
    fn a_ca_key_of_another_ca_is_refused() {
        let now = SystemTime::now();
        let a = make_ca("a", now, RANDOM).unwrap();
        let b = make_ca("b", now, RANDOM).unwrap();
        assert!(AutoCa::parse(a.cert.as_str(), b.key.expose()).is_err());
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }

    #[test]
    fn same_material_ignores_text_and_key_encoding() {
        let now = SystemTime::now();
        let ca = make_ca("a", now, RANDOM).unwrap();
        let key = generate_key().unwrap();
        let cert = issue(&ca, &key, "10.1.0.5", &sans(), now, RANDOM).unwrap();
        let dumped = format!(
            "Certificate:\n    Data: text: with colons\n{}",
            cert.as_str()
        );
        assert!(same_material(dumped.as_bytes(), cert.as_str().as_bytes()));
        let crlf = cert.as_str().replace('\n', "\r\n");
        assert!(same_material(crlf.as_bytes(), cert.as_str().as_bytes()));
        assert!(!same_material(
            cert.as_str().as_bytes(),
            ca.cert.as_str().as_bytes()
        ));
        assert!(same_material(
            key.expose().as_bytes(),
            key.expose().as_bytes()
        ));
        assert!(!same_material(b"", b""));
        assert!(!same_material(b"not pem", b"not pem"));
    }
}
