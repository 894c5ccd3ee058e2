//! A tiny Bearer token service for the registry's `auth.token` config: it answers
//! `GET /token?service=..&scope=..` with an ES256 JWT granting the scopes asked for,
//! signed by a key whose self-signed certificate is the registry's root bundle. With
//! credentials set it demands them (Basic), like a real token service.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::json;

/// `auth.token.service` of the test registry.
pub const SERVICE: &str = "test-registry";
/// `auth.token.issuer` of the test registry.
pub const ISSUER: &str = "test-issuer";

/// A running token service; stops on drop.
pub struct TokenServer {
    /// The realm URL to configure.
    pub realm: String,
    /// The signing certificate (the registry's rootcertbundle).
    pub cert_pem: String,
    /// Query strings of the token requests served, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TokenServer {
    /// Starts the service; `creds` are demanded when given.
    pub fn start(creds: Option<(String, String)>) -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        super::run(Command::new("openssl").current_dir(dir.path()).args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=token-signer",
            "-keyout",
            "tok.key",
            "-out",
            "tok.crt",
        ]));
        let key_pem = std::fs::read_to_string(dir.path().join("tok.key")).unwrap();
        let cert_pem = std::fs::read_to_string(dir.path().join("tok.crt")).unwrap();
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pem_der(&key_pem),
            &rng,
        )
        .expect("a PKCS#8 P-256 key");
        let x5c = base64::engine::general_purpose::STANDARD.encode(pem_der(&cert_pem));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let realm = format!("http://{}/token", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (req_log, stop_flag) = (requests.clone(), stop.clone());
        let expected = creds.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        std::thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                let (mut conn, _) = match listener.accept() {
                    Ok(c) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let query = target
                    .split_once('?')
                    .map(|(_, q)| q)
                    .unwrap_or("")
                    .to_string();
                req_log.lock().unwrap().push(percent_decode(&query));
                let auth = head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_string())
                });
                let reply = if expected.is_some() && auth != expected {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                } else {
                    let access: Vec<_> = query
                        .split('&')
                        .filter_map(|kv| kv.strip_prefix("scope="))
                        .map(percent_decode)
                        .filter_map(|s| {
                            let mut parts = s.splitn(3, ':');
                            let (t, n, a) = (parts.next()?, parts.next()?, parts.next()?);
                            Some(json!({"type": t, "name": n, "actions": a.split(',').collect::<Vec<_>>()}))
                        })
                        .collect();
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
                    let claims = json!({
                        "iss": ISSUER, "sub": "tester", "aud": SERVICE,
                        "exp": now + 600, "nbf": now - 60, "iat": now - 60,
                        "jti": format!("{now}-{}", access.len()), "access": access,
                    });
                    let input = format!(
                        "{}.{}",
                        b64url(header.to_string().as_bytes()),
                        b64url(claims.to_string().as_bytes())
                    );
                    let sig = key.sign(&rng, input.as_bytes()).unwrap();
                    let jwt = format!("{input}.{}", b64url(sig.as_ref()));
                    let body = json!({"token": jwt, "expires_in": 600}).to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        TokenServer {
            realm,
            cert_pem,
            requests,
            stop,
            _dir: dir,
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
