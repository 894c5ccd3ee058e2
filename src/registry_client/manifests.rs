//! Manifest endpoints, always with the Accept header for every type we copy.
//!
//! # Format
//! ```text
//! GET    /v2/<repo>/manifests/<tag|digest>   Accept: <all four types>  200 body
//! HEAD   /v2/<repo>/manifests/<tag|digest>   200 Docker-Content-Digest | 404
//! PUT    /v2/<repo>/manifests/<tag|digest>   Content-Type: <its type>  201
//! DELETE /v2/<repo>/manifests/<digest>       202 (by tag is refused by the registry)
//! GET    /v2/<repo>/referrers/<digest>       200 OCI index | 404 (API not supported)
//! ```

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;

use super::auth::Scope;
use super::client::Client;
use super::digest::Digest;
use super::error::{Error, Result};
use super::manifest::{
    Descriptor, Manifest, ACCEPT as MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, OCI_INDEX,
};

/// A manifest as stored: exact bytes, media type, digest, and what it refers to.
#[derive(Debug, Clone)]
pub struct RawManifest {
    /// The media type (Content-Type, or the body's `mediaType`).
    pub media_type: String,
    /// The exact bytes (their sha256 is the digest).
    pub bytes: Bytes,
    /// sha256 of `bytes`.
    pub digest: Digest,
    /// The decoded references.
    pub manifest: Manifest,
}

impl RawManifest {
    /// Decodes `bytes` read for `what`; checks them against `expected` if given.
    pub fn new(
        what: &str,
        content_type: Option<&str>,
        bytes: Bytes,
        expected: Option<&Digest>,
    ) -> Result<RawManifest> {
        let digest = Digest::of(&bytes);
        if let Some(expected) = expected {
            if *expected != digest {
                return Err(Error::DigestMismatch {
                    what: format!("manifest {what}"),
                    expected: expected.clone(),
                    actual: digest,
                });
            }
        }
        let (manifest, media_type) = Manifest::parse(what, content_type, &bytes)?;
        Ok(RawManifest {
            media_type,
            bytes,
            digest,
            manifest,
        })
    }
}

impl Client {
    /// Fetches a manifest by tag or digest.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<RawManifest> {
        let url = self.url(&format!("{repo}/manifests/{reference}"))?;
        let what = format!("{}/{repo}{}", self.host(), sep(reference));
        let resp = self
            .send(&what, &[self.scope(repo)], || {
                self.http.get(url.clone()).header(ACCEPT, MANIFEST_ACCEPT)
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.failure(&what, resp).await);
        }
        if resp.content_length().unwrap_or(0) > MAX_MANIFEST_BYTES as u64 {
            return Err(Error::Manifest(super::manifest::ManifestError {
                what,
                problem: format!("it is larger than {MAX_MANIFEST_BYTES} bytes"),
            }));
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| super::error::transport(self.host(), &e))?;
        let expected = Digest::parse(reference).ok();
        RawManifest::new(&what, content_type.as_deref(), bytes, expected.as_ref())
    }

    /// The digest a tag or digest resolves to, or `None` when absent.
    pub async fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<Digest>> {
        let url = self.url(&format!("{repo}/manifests/{reference}"))?;
        let what = format!("{}/{repo}{}", self.host(), sep(reference));
        let resp = self
            .send(&what, &[self.scope(repo)], || {
                self.http.head(url.clone()).header(ACCEPT, MANIFEST_ACCEPT)
            })
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let digest = resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|h| h.to_str().ok())
                    .and_then(|d| Digest::parse(d).ok());
                match digest {
                    Some(d) => Ok(Some(d)),
                    // No digest header: fetch the body and hash it.
                    None => Ok(Some(self.get_manifest(repo, reference).await?.digest)),
                }
            }
            _ => Err(self.failure(&what, resp).await),
        }
    }

    /// Stores `manifest` under a tag or its digest.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        manifest: &RawManifest,
    ) -> Result<()> {
        let url = self.url(&format!("{repo}/manifests/{reference}"))?;
        let what = format!("writing manifest {}/{repo}{}", self.host(), sep(reference));
        let resp = self
            .send(&what, &[Scope::push(repo)], || {
                self.http
                    .put(url.clone())
                    .header(CONTENT_TYPE, manifest.media_type.as_str())
                    .body(manifest.bytes.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.failure(&what, resp).await);
        }
        Ok(())
    }

    /// Deletes a manifest by digest (every tag pointing to it goes with it).
    pub async fn delete_manifest(&self, repo: &str, digest: &Digest) -> Result<()> {
        let url = self.url(&format!("{repo}/manifests/{digest}"))?;
        let what = format!("deleting {}/{repo}@{digest}", self.host());
        let scopes = [Scope::push(repo), Scope::delete(repo)];
        let resp = self
            .send(&what, &scopes, || self.http.delete(url.clone()))
            .await?;
        match resp.status() {
            StatusCode::ACCEPTED | StatusCode::OK => Ok(()),
            _ => Err(self.failure(&what, resp).await),
        }
    }

    /// The OCI 1.1 referrers of `digest`, or `None` when the registry lacks the API.
    pub async fn referrers(&self, repo: &str, digest: &Digest) -> Result<Option<Vec<Descriptor>>> {
        let url = self.url(&format!("{repo}/referrers/{digest}"))?;
        let what = format!("referrers of {}/{repo}@{digest}", self.host());
        let resp = self
            .send(&what, &[self.scope(repo)], || {
                self.http.get(url.clone()).header(ACCEPT, OCI_INDEX)
            })
            .await?;
        if !resp.status().is_success() {
            return Ok(None);
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| super::error::transport(self.host(), &e))?;
        match Manifest::parse(&what, Some(OCI_INDEX), &bytes) {
            Ok((Manifest::Index { manifests }, _)) => Ok(Some(manifests)),
            _ => Ok(None),
        }
    }
}

fn sep(reference: &str) -> String {
    if reference.starts_with("sha256:") {
        format!("@{reference}")
    } else {
        format!(":{reference}")
    }
}
