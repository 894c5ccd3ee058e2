//! Errors of the registry client. Each names the registry or file, what was being done,
//! and the way out when there is one.

use super::digest::Digest;
use super::manifest::ManifestError;
use super::reference::ReferenceError;
use super::source::SourceError;

/// Everything that can go wrong talking to a registry or reading a source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// A manifest that cannot be decoded.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// An archive or layout on disk that cannot be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The HTTP client could not be built (bad CA PEM, bad proxy URL).
    #[error("{registry}: {problem}")]
    Setup {
        /// The registry the client was for.
        registry: String,
        /// What was wrong.
        problem: String,
    },
    /// No connection: DNS, refused, timeout, reset.
    #[error(
        "cannot reach registry {registry}: {detail} (check the address and port, that the \
         registry is running, and the registry-http-proxy/registry-https-proxy settings)"
    )]
    Unreachable {
        /// The registry.
        registry: String,
        /// The transport error.
        detail: String,
    },
    /// The TLS handshake failed.
    #[error("TLS connection to {registry} failed: {detail} ({hint})")]
    Tls {
        /// The registry.
        registry: String,
        /// The handshake error.
        detail: String,
        /// How to fix it.
        hint: String,
    },
    /// 401 after trying the credentials we have.
    #[error("{registry} answered 401 Unauthorized to {what}: {hint}")]
    Unauthorized {
        /// The registry.
        registry: String,
        /// The request.
        what: String,
        /// Which credentials to give.
        hint: String,
    },
    /// 404 for a manifest, tag or repository.
    #[error("{what} not found in {registry}")]
    NotFound {
        /// The registry.
        registry: String,
        /// What was asked for.
        what: String,
    },
    /// The destination ran out of space.
    #[error(
        "registry {registry} is out of storage space while {what} (no space left on device): \
         free disk space (delete images with rmi, then run gc) and retry"
    )]
    StorageFull {
        /// The registry.
        registry: String,
        /// What was being written.
        what: String,
    },
    /// Content did not hash to its digest.
    #[error(
        "digest mismatch for {what}: expected {expected}, got {actual} \
         (the source is corrupt or was changed while being read; nothing was committed)"
    )]
    DigestMismatch {
        /// The blob or manifest.
        what: String,
        /// The digest it should have.
        expected: Digest,
        /// The digest of what was read.
        actual: Digest,
    },
    /// Content had another size than its descriptor says.
    #[error("size mismatch for {what}: expected {expected} bytes, read {actual}")]
    SizeMismatch {
        /// The blob.
        what: String,
        /// The size it should have.
        expected: u64,
        /// What was read.
        actual: u64,
    },
    /// The token service failed.
    #[error("token service {realm} (for {registry}) failed: {problem}")]
    Token {
        /// The registry whose challenge named the realm.
        registry: String,
        /// The realm URL.
        realm: String,
        /// What went wrong.
        problem: String,
    },
    /// Any other unexpected answer.
    #[error("{registry}: {what} failed: HTTP {status}{detail}")]
    Status {
        /// The registry.
        registry: String,
        /// The request.
        what: String,
        /// HTTP status.
        status: u16,
        /// The registry's error codes and messages, or a hint.
        detail: String,
    },
}

/// Results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The registry's JSON error body, `{"errors":[{"code","message","detail"}]}`, as text.
pub(crate) fn error_body_text(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        detail: serde_json::Value,
    }
    let detail = |d: &serde_json::Value| match d {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => format!(" ({s})"),
        other => format!(" ({other})"),
    };
    match serde_json::from_slice::<Body>(body) {
        Ok(b) if !b.errors.is_empty() => b
            .errors
            .iter()
            .map(|e| {
                format!("{} {}{}", e.code, e.message, detail(&e.detail))
                    .trim()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(&body[..body.len().min(300)])
            .trim()
            .to_string(),
    }
}

/// Maps a reqwest transport error to `Unreachable` or `Tls`, with the cause chain.
pub(crate) fn transport(registry: &str, e: &reqwest::Error) -> Error {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    let lower = detail.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") {
        return Error::Tls {
            registry: registry.to_string(),
            detail,
            hint: "give the registry's CA certificate (src-ca for a source), or set \
                   src-tls-verify=false for a source you trust"
                .to_string(),
        };
    }
    if lower.contains("invalidcontenttype")
        || lower.contains("corrupt message")
        || lower.contains("handshake")
    {
        return Error::Tls {
            registry: registry.to_string(),
            detail,
            hint: "the registry may speak plain http: set src-tls-verify=false for a source"
                .to_string(),
        };
    }
    Error::Unreachable {
        registry: registry.to_string(),
        detail,
    }
}
