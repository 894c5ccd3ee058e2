//! Liveness probe: does the registry answer `GET /v2/` on its port? And, after a start,
//! does its storage answer (`GET /v2/_catalog?n=1` lists the store's first repository)?
//!
//! 200 (open registry) and 401 (auth on) both mean "serving". The liveness probe sends no
//! credentials and reads only the status line, so it carries no secret either way; the
//! storage check sends the basic-auth credentials, to loopback only.
//! Over TLS it does not verify the certificate: it asks "is the registry up", not
//! "is the certificate trusted" (that is validated when the certificate is chosen,
//! in `tls`), and the served certificate may name no address the unit can dial.
//! When the registry demands client certificates it presents the unit's own
//! (`tls::client`), so both checks get the registry's real answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

use crate::tls::client::ClientIdentity;

/// How to talk to the registry port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTPS (certificate not verified, see the module doc).
    Https,
    /// HTTPS to a registry that demands client certificates (`clientcas`): the probe
    /// presents the unit's own when given one; the registry refusing the handshake for
    /// want of an acceptable one is still its answer (a registry started before the
    /// unit's certificate was listed).
    HttpsClientCerts,
}

/// Why the registry did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing accepted the connection, or it broke.
    #[error("GET {url}: {cause}")]
    Io {
        /// The URL probed.
        url: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("GET {url}: TLS: {cause}")]
    Tls {
        /// The URL probed.
        url: String,
        /// The rustls error.
        cause: rustls::Error,
    },
    /// The reply was not HTTP.
    #[error("GET {url}: not an HTTP reply: {line:?}")]
    NotHttp {
        /// The URL probed.
        url: String,
        /// The first line received.
        line: String,
    },
    /// The registry answered with a status other than 200 or 401.
    #[error("GET {url}: HTTP {status}")]
    Status {
        /// The URL probed.
        url: String,
        /// The HTTP status.
        status: u16,
    },
}

/// What [`get_v2`] returns when the registry refused a client without a certificate
/// (nginx's code for "no client certificate"; never a real reply of the registry).
pub const CERTIFICATE_DEMANDED: u16 = 496;

/// TLS alerts a server sends a client that has no certificate (TLS 1.3, then 1.2).
fn wants_cert(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired
                | rustls::AlertDescription::BadCertificate
        )
    )
}

/// The URL a probe of `addr` reads.
pub fn url(addr: SocketAddr, scheme: Scheme) -> String {
    let s = match scheme {
        Scheme::Http => "http",
        Scheme::Https | Scheme::HttpsClientCerts => "https",
    };
    format!("{s}://{addr}/v2/")
}

/// One `GET /v2/`, presenting `client` over TLS when given; Ok(status) when the registry
/// serves (200 or 401, or [`CERTIFICATE_DEMANDED`] with [`Scheme::HttpsClientCerts`]).
pub fn get_v2(
    addr: SocketAddr,
    scheme: Scheme,
    client: Option<&ClientIdentity>,
    timeout: Duration,
) -> Result<u16, ProbeError> {
    let status = get(addr, scheme, client, "/v2/", None, timeout)?;
    match status {
        200 | 401 | CERTIFICATE_DEMANDED => Ok(status),
        status => Err(ProbeError::Status {
            url: url(addr, scheme),
            status,
        }),
    }
}

/// One `GET /v2/_catalog?n=1` with these basic-auth credentials: the registry walks its
/// store for the first repository, so a store that refuses it (a missing bucket, bad
/// keys) answers 5xx while `/v2/` still says 200. Returns the HTTP status, whatever it is.
pub fn get_catalog(
    addr: SocketAddr,
    scheme: Scheme,
    client: Option<&ClientIdentity>,
    basic: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<u16, ProbeError> {
    use base64::Engine as _;
    let authorization = basic.map(|(user, password)| {
        let pair = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    });
    get(
        addr,
        scheme,
        client,
        "/v2/_catalog?n=1",
        authorization.as_deref(),
        timeout,
    )
}

/// One GET of `path`; the HTTP status of the answer.
fn get(
    addr: SocketAddr,
    scheme: Scheme,
    client: Option<&ClientIdentity>,
    path: &str,
    authorization: Option<&str>,
    timeout: Duration,
) -> Result<u16, ProbeError> {
    let url = url(addr, scheme);
    let io = |cause| ProbeError::Io {
        url: url.clone(),
        cause,
    };
    let tcp = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    tcp.set_read_timeout(Some(timeout)).map_err(io)?;
    tcp.set_write_timeout(Some(timeout)).map_err(io)?;
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: docker-registry-charm-probe\r\n{auth}\r\n"
    );
    let reply = match scheme {
        Scheme::Http => exchange(tcp, &request).map_err(io)?,
        Scheme::Https | Scheme::HttpsClientCerts => {
            let name = ServerName::IpAddress(addr.ip().into());
            let tls_error = |cause| ProbeError::Tls {
                url: url.clone(),
                cause,
            };
            let conn = ClientConnection::new(tls_config(client).map_err(tls_error)?, name)
                .map_err(tls_error)?;
            match exchange(StreamOwned::new(conn, tcp), &request) {
                Ok(reply) => reply,
                Err(e) => {
                    return match e
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    {
                        // Up, serving TLS with its certificate, and asking for ours: serving.
                        Some(tls) if scheme == Scheme::HttpsClientCerts && wants_cert(tls) => {
                            Ok(CERTIFICATE_DEMANDED)
                        }
                        Some(tls) => Err(ProbeError::Tls {
                            url: url.clone(),
                            cause: tls.clone(),
                        }),
                        None => Err(io(e)),
                    };
                }
            }
        }
    };
    parse_status(&reply).ok_or_else(|| ProbeError::NotHttp {
        url: url.clone(),
        line: reply
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect(),
    })
}

/// Polls `get_v2` every 25 ms until it succeeds or `deadline` passes; the last error otherwise.
pub fn wait_ready(
    addr: SocketAddr,
    scheme: Scheme,
    client: Option<&ClientIdentity>,
    within: Duration,
) -> Result<u16, ProbeError> {
    wait_ready_while(addr, scheme, client, within, &|| true)
}

/// How often `wait_ready_while` asks whether waiting still makes sense (asking may run
/// `systemctl`).
const STILL_WAITING_EVERY: Duration = Duration::from_millis(200);

/// Like [`wait_ready`], but gives up early once `keep_waiting` says no (the process that
/// should answer has exited): a registry that refused its config is known in moments,
/// not after `within`.
pub fn wait_ready_while(
    addr: SocketAddr,
    scheme: Scheme,
    client: Option<&ClientIdentity>,
    within: Duration,
    keep_waiting: &dyn Fn() -> bool,
) -> Result<u16, ProbeError> {
    let deadline = Instant::now() + within;
    let mut asked = Instant::now();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match get_v2(
            addr,
            scheme,
            client,
            left.clamp(Duration::from_millis(50), Duration::from_secs(2)),
        ) {
            Ok(status) => return Ok(status),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(e) if asked.elapsed() >= STILL_WAITING_EVERY => {
                if !keep_waiting() {
                    return Err(e);
                }
                asked = Instant::now();
            }
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn exchange(mut stream: impl Read + Write, request: &str) -> std::io::Result<String> {
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    // The status line is all we need; 256 bytes always hold it.
    let mut buf = [0u8; 256];
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                if buf[..got].contains(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&buf[..got]).into_owned())
}

/// `HTTP/1.1 401 Unauthorized` → 401.
fn parse_status(reply: &str) -> Option<u16> {
    let line = reply.lines().next()?;
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Any server certificate accepted; `client` presented when given (one that cannot be
/// loaded is left out, with a warning: the registry's refusal still says it is up).
fn tls_config(client: Option<&ClientIdentity>) -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyCert(provider.clone()));
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let identity = client.map(|c| {
        c.ders().map_err(|e| e.to_string()).and_then(|(cert, key)| {
            let key = rustls::pki_types::PrivatePkcs8KeyDer::from(key).into();
            builder
                .clone()
                .with_client_auth_cert(vec![CertificateDer::from(cert)], key)
                .map_err(|e| e.to_string())
        })
    });
    Ok(Arc::new(match identity {
        Some(Ok(config)) => config,
        Some(Err(e)) => {
            tracing::warn!("the probe goes without the unit's client certificate: {e}");
            builder.with_no_client_auth()
        }
        None => builder.with_no_client_auth(),
    }))
}

/// Accepts any server certificate but still checks handshake signatures.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status("HTTP/1.1 401 Unauthorized\r\n"), Some(401));
        assert_eq!(parse_status("HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(parse_status("SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(""), None);
    }

    #[test]
    fn nothing_listening_is_an_io_error_naming_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = get_v2(addr, Scheme::Http, None, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, ProbeError::Io { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!("http://{addr}/v2/")),
            "{err}"
        );
    }
}
