//! The charm's own client certificate, for a registry that demands client certificates
//! (`tls-client-ca`): the charm holds only the operator's CA certificate, not its key, so
//! it cannot get a certificate signed by it. Each unit instead makes one self-signed
//! certificate (not a CA, client authentication only) and the registry's `clientcas` lists
//! that very certificate next to the operator's CA: the registry accepts exactly the
//! holder of its key (root on this unit), and no CA key exists that could sign others.
//!
//! Pure like the rest of `tls`: "now" and the random serial are parameters; the signature
//! is random, so callers make the certificate where entropy is drawn (the view).

use std::time::SystemTime;

use crate::secret::Secret;

use super::auto::offset_time;
use super::{encode_pem, parse_cert_blocks, parse_der, parse_key, unix_seconds, Pem, TlsError};

/// How long the charm's client certificate is valid: it is never given to anyone, and a
/// new one costs a registry restart.
pub const CLIENT_DAYS: i64 = 3650;
/// It is made again once it has fewer days than this left.
pub const CLIENT_RENEW_DAYS: i64 = 30;
const BACKDATE_SECONDS: i64 = 3600;
const DAY: i64 = 86_400;

/// A client certificate with its key. `Debug` never shows the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate (PEM).
    pub cert: Pem,
    /// Its private key (PKCS#8 PEM).
    pub key: Secret,
}

impl ClientIdentity {
    /// The key and certificate as one PEM text (what HTTP clients load as an identity).
    pub fn pem(&self) -> Secret {
        Secret::new(format!("{}{}", self.key.expose(), self.cert.as_str()))
    }

    /// The certificate's DER and the key's PKCS#8 DER (what a rustls client presents).
    pub fn ders(&self) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
        let mut certs = parse_cert_blocks("charm client certificate", self.cert.as_str())?;
        let key = parse_key("charm client key", self.key.expose())?;
        Ok((certs.swap_remove(0), key))
    }
}

/// Makes the self-signed client certificate of `key`, named `common_name`, valid
/// [`CLIENT_DAYS`] from `now`.
pub fn make(
    common_name: &str,
    key: &Secret,
    now: SystemTime,
    random: [u8; 16],
) -> Result<Pem, TlsError> {
    let err = |p: String| TlsError::new("charm client certificate", p);
    let der = parse_key("charm client key", key.expose())?;
    let kp = rcgen::KeyPair::try_from(der.as_slice())
        .map_err(|e| err(format!("the key cannot be loaded ({e})")))?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| err(format!("{e}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    // Not a CA: listed in `clientcas`, it vouches for itself and can sign nothing.
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let now = unix_seconds(now);
    params.not_before = offset_time(now - BACKDATE_SECONDS)?;
    params.not_after = offset_time(now + CLIENT_DAYS * DAY)?;
    let mut serial = random;
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params
        .self_signed(&kp)
        .map_err(|e| err(format!("signing failed ({e})")))?;
    Ok(Pem(encode_pem("CERTIFICATE", cert.der())))
}

/// Whether `cert` must be made again for `key` at `now`: missing, unreadable, for another
/// key, not valid yet, or with fewer than [`CLIENT_RENEW_DAYS`] left.
pub fn remake(cert: Option<&str>, key: &Secret, now: SystemTime) -> bool {
    let Some(der) = cert.and_then(|c| parse_cert_blocks("cert", c).ok()) else {
        return true;
    };
    let Ok(cert) = parse_der(&der[0]) else {
        return true;
    };
    let ours = parse_key("key", key.expose())
        .ok()
        .and_then(|der| rcgen::KeyPair::try_from(der.as_slice()).ok())
        .is_some_and(|kp| {
            kp.public_key_raw() == cert.public_key().subject_public_key.data.as_ref()
        });
    let now = unix_seconds(now);
    let validity = cert.validity();
    !ours
        || now < validity.not_before.timestamp()
        || validity.not_after.timestamp() - now < CLIENT_RENEW_DAYS * DAY
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::generate_key;
    use std::time::Duration;
    use x509_parser::extensions::ParsedExtension;

    #[test]
    fn the_certificate_is_a_client_only_non_ca_of_its_key_and_renewed_before_its_end() {
        let now = SystemTime::now();
        let key = generate_key().unwrap();
        let cert = make("docker-registry/0 charm client", &key, now, [0xff; 16]).unwrap();
        assert!(!remake(Some(cert.as_str()), &key, now));
        let der = parse_cert_blocks("c", cert.as_str()).unwrap();
        let parsed = parse_der(&der[0]).unwrap();
        let mut saw = (false, false);
        for ext in parsed.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) => {
                    assert!(!bc.ca);
                    saw.0 = true;
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    assert!(eku.client_auth && !eku.server_auth);
                    saw.1 = true;
                }
                _ => {}
            }
        }
        assert_eq!(saw, (true, true), "basic constraints and EKU present");
        let other = generate_key().unwrap();
        assert!(remake(Some(cert.as_str()), &other, now), "another key");
        assert!(remake(None, &key, now));
        assert!(remake(Some("junk"), &key, now));
        let day = |d: i64| Duration::from_secs((d * DAY) as u64);
        assert!(!remake(
            Some(cert.as_str()),
            &key,
            now + day(CLIENT_DAYS - CLIENT_RENEW_DAYS - 1)
        ));
        assert!(remake(
            Some(cert.as_str()),
            &key,
            now + day(CLIENT_DAYS - CLIENT_RENEW_DAYS + 1)
        ));
        let id = ClientIdentity {
            cert: cert.clone(),
            key: key.clone(),
        };
        assert!(!format!("{id:?}").contains("PRIVATE"));
        let (cert_der, key_der) = id.ders().unwrap();
        assert_eq!(cert_der, der[0]);
        assert!(!key_der.is_empty());
        assert!(id.pem().expose().contains("BEGIN CERTIFICATE"));
    }
}
