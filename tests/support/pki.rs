//! Certificates from openssl for end-to-end tests: a CA, server certificates for an IP,
//! client certificates, and the base64 blobs the `tls-*-blob` options take. Made outside
//! the charm on purpose: the charm's own TLS code is what the tests check.
use std::path::PathBuf;

use base64::Engine;

use super::jujusim::Model;

/// A CA and certificates from openssl, under the model's scratch dir.
pub struct Pki {
    /// Where its files are (`ca.crt`, `ca.key`, `<name>.crt`, `<name>.key`, ...).
    pub dir: PathBuf,
}

impl Pki {
    /// A new CA named `name`. `certs()` holds its `ca.crt` (skopeo/curl trust dir).
    pub fn new(m: &Model, name: &str) -> Pki {
        let dir = m.scratch().join(format!("pki-{name}"));
        m.host(&format!(
            "set -e; mkdir -p {d}/certs; cd {d}
             openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=e2e {name} CA' \
               -keyout ca.key -out ca.crt \
               -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
             cp ca.crt certs/ca.crt",
            d = dir.display()
        ));
        Pki { dir }
    }

    /// Issues `<name>.crt`/`<name>.key` for the IP `ip` (CN and the only SAN).
    pub fn issue(&self, m: &Model, name: &str, ip: &str) {
        self.issue_with_names(m, name, ip, &[]);
    }

    /// Issues `<name>.crt`/`<name>.key` for the IP `ip` (the CN) and the DNS `names`.
    pub fn issue_with_names(&self, m: &Model, name: &str, ip: &str, names: &[&str]) {
        let mut sans = vec![format!("IP:{ip}")];
        sans.extend(names.iter().map(|n| format!("DNS:{n}")));
        m.host(&format!(
            "set -e; cd {d}
             openssl req -newkey rsa:2048 -nodes -subj '/CN={ip}' -keyout {name}.key -out {name}.csr
             printf 'subjectAltName={sans}\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' > {name}.ext
             openssl x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
               -extfile {name}.ext -out {name}.crt",
            d = self.dir.display(),
            sans = sans.join(","),
        ));
    }

    /// A directory for a client that presents a certificate: `ca.crt`, and `client.cert`
    /// / `client.key` (CN `name`, clientAuth) signed by this CA; skopeo's `--cert-dir`
    /// presents them.
    pub fn client_dir(&self, m: &Model, name: &str) -> PathBuf {
        let dir = self.dir.join(format!("client-{name}"));
        m.host(&format!(
            "set -e; cd {d}; mkdir -p {c}
             openssl req -newkey rsa:2048 -nodes -subj '/CN={name}' -keyout {name}.key -out {name}.csr
             printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > {name}.ext
             openssl x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
               -extfile {name}.ext -out {name}.crt
             cp ca.crt {c}/ca.crt; cp {name}.crt {c}/client.cert; cp {name}.key {c}/client.key",
            d = self.dir.display(),
            c = dir.display()
        ));
        dir
    }

    /// The directory with only `ca.crt` in it.
    pub fn certs(&self) -> PathBuf {
        self.dir.join("certs")
    }

    /// `base64 -w0` of a file in the PKI dir.
    pub fn blob(&self, file: &str) -> String {
        let bytes =
            std::fs::read(self.dir.join(file)).unwrap_or_else(|e| panic!("reading {file}: {e}"));
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The `tls-*-blob` options for the certificate `name` (and this CA).
    pub fn blob_options(&self, name: &str) -> [String; 3] {
        [
            format!("tls-ca-blob={}", self.blob("ca.crt")),
            format!("tls-cert-blob={}", self.blob(&format!("{name}.crt"))),
            format!("tls-key-blob={}", self.blob(&format!("{name}.key"))),
        ]
    }
}
