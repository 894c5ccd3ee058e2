//! This registry as a destination: which names mean it, default destinations, and the
//! clients the actions connect with.

use std::sync::Arc;

use super::params::SourceAccess;
use super::{ActionError, Registry};
use crate::registry_client::client::is_loopback;
use crate::registry_client::reference::{normalise_host, split_host};
use crate::registry_client::{Client, ClientOptions, Reference};

/// Whether `host` names this registry: the netloc clients use, the unit's
/// address:port, or localhost/127.0.0.1/[::1] on the registry port.
pub(crate) fn is_this_registry(registry: &Registry, host: &str) -> bool {
    let Ok(host) = normalise_host(host) else {
        return false;
    };
    // Host names are case-insensitive.
    let host = host.to_ascii_lowercase();
    let ours = |n: &str| normalise_host(n).is_ok_and(|n| n.eq_ignore_ascii_case(&host));
    if ours(&registry.netloc) || ours(&registry.unit_netloc) {
        return true;
    }
    let port = registry.port.to_string();
    host.rsplit_once(':')
        .is_some_and(|(name, p)| p == port && is_loopback(name))
}

/// A destination inside this registry: repository and tag (or digest), and how to
/// name it in results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dest {
    pub(crate) repo: String,
    pub(crate) reference: Reference,
    /// As shown to the user: `<netloc as written or ours>/<repo>:<tag>`.
    pub(crate) display: String,
}

impl Dest {
    /// The tag, if the destination has one.
    pub(crate) fn tag(&self) -> Option<String> {
        self.reference.tag().map(str::to_string)
    }
}

/// Parses a destination written by the user: `[this-registry/]path[:tag]`.
pub(crate) fn parse_dest(
    registry: &Registry,
    input: &str,
    default_tag: Option<&str>,
) -> Result<Dest, String> {
    let (host, path) = split_host(input);
    if let Some(host) = host {
        if !is_this_registry(registry, host) {
            return Err(format!(
                "{input:?} names registry {host}, not this one: use {}/<path>[:tag], or a bare \
                 <path>[:tag] meaning this registry",
                registry.netloc
            ));
        }
    }
    let mut reference = Reference::parse_in(&registry.netloc, path).map_err(|e| e.to_string())?;
    if reference.digest().is_some() {
        return Err(format!(
            "{input:?} has a digest: a destination is <path>[:tag] (the digest is kept as is)"
        ));
    }
    if reference.tag().is_none() {
        let tag = default_tag.unwrap_or("latest");
        reference = Reference::parse_in(&registry.netloc, &format!("{path}:{tag}"))
            .map_err(|e| e.to_string())?;
    }
    let shown_host = host.unwrap_or(&registry.netloc);
    Ok(Dest {
        repo: reference.repository().to_string(),
        display: format!(
            "{shown_host}/{}{}",
            reference.repository(),
            reference.suffix()
        ),
        reference,
    })
}

/// The default destination of a source reference: this registry + its path as written
/// (no registry host) + its tag.
pub(crate) fn default_dest(
    registry: &Registry,
    prefix: Option<&str>,
    src: &Reference,
) -> Result<Dest, String> {
    let path = match prefix {
        Some(p) => format!("{}/{}", p.trim_end_matches('/'), src.written_path()),
        None => src.written_path().to_string(),
    };
    let tag = src.tag().map(str::to_string);
    match tag {
        Some(t) => parse_dest(registry, &format!("{path}:{t}"), None),
        // By digest only: the destination is stored by digest (no tag).
        None if src.digest().is_some() => {
            let reference = Reference::parse_in(&registry.netloc, &path)
                .map_err(|e| e.to_string())?
                .with_location(&registry.netloc, &path);
            let digest = src.digest().map(|d| d.to_string()).unwrap_or_default();
            Ok(Dest {
                repo: reference.repository().to_string(),
                display: format!("{}/{}@{digest}", registry.netloc, reference.repository()),
                reference: Reference::parse_in(&registry.netloc, &format!("{path}@{digest}"))
                    .map_err(|e| e.to_string())?,
            })
        }
        None => parse_dest(registry, &path, None),
    }
}

/// The image a local source names itself by (an OCI ref.name or a docker-archive
/// RepoTag), when that is a full reference: a bare ref.name like `v1` is only a tag.
pub(crate) fn named_reference(name: Option<&str>) -> Option<Reference> {
    name.filter(|n| n.contains('/') || n.contains(':'))
        .and_then(|n| Reference::parse(n).ok())
}

/// Connects to this registry (at the unit's address) for writing.
pub(crate) async fn connect_dest(registry: &Registry, action: &str) -> Result<Client, ActionError> {
    let opts = ClientOptions {
        scheme: Some(registry.scheme),
        ca_pem: registry.ca_pem.clone(),
        credentials: registry.credentials.clone(),
        push: true,
        credentials_hint: "set auth-basic-user and auth-basic-password on the charm".into(),
        client_identity: registry.client.as_ref().map(|c| c.pem()),
        ..ClientOptions::new()
    };
    Client::connect(&registry.unit_netloc, opts)
        .await
        .map_err(ActionError::registry(action))
}

/// Connects to a remote source registry (through the unit's proxy settings).
pub(crate) async fn connect_source(
    registry: &Registry,
    host: &str,
    access: &SourceAccess,
    action: &str,
) -> Result<Arc<Client>, ActionError> {
    let opts = ClientOptions {
        scheme: None,
        allow_plain_http: !access.tls_verify || is_loopback(host),
        ca_pem: access.ca_pem.clone(),
        tls_verify: access.tls_verify,
        credentials: access.credentials.clone(),
        http_proxy: registry.http_proxy.clone(),
        https_proxy: registry.https_proxy.clone(),
        push: false,
        credentials_hint: "give src-username and src-password".into(),
        // This unit's certificate is for this registry only.
        client_identity: None,
    };
    Client::connect(host, opts)
        .await
        .map(Arc::new)
        .map_err(ActionError::registry(action))
}

/// Refuses writes when the registry is read-only.
pub(crate) fn check_writable(registry: &Registry, action: &str) -> Result<(), ActionError> {
    if registry.storage_read_only {
        return Err(ActionError::Refused {
            action: action.to_string(),
            message: format!(
                "the registry is read-only (storage-read-only=true), nothing was written; run \
                 `juju config {} storage-read-only=false` first",
                registry.application
            ),
        });
    }
    Ok(())
}
