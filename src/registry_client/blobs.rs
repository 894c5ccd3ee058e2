//! Blob endpoints.
//!
//! # Format
//! ```text
//! HEAD  /v2/<repo>/blobs/<digest>                        200 (present) | 404
//! GET   /v2/<repo>/blobs/<digest>                        200 body (redirects followed)
//! POST  /v2/<repo>/blobs/uploads/?mount=<d>&from=<repo>  201 mounted | 202 Location: upload
//! POST  /v2/<repo>/blobs/uploads/                        202 Location: upload
//! PATCH <upload>            (the whole blob, streamed)   202 Location: upload
//! PUT   <upload>?digest=<d> (empty body)                 201 committed
//! DELETE <upload>                                        cancels an upload
//! ```
//! The blob is streamed with PATCH while we hash it, and committed with PUT only once
//! our digest matches: a corrupt source never becomes a blob in the destination.

use std::io;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::TryStreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};

use super::auth::Scope;
use super::client::Client;
use super::digest::{Digest, Hashing};
use super::error::{Error, Result};
use super::manifest::Descriptor;

/// A blob's bytes as they arrive.
pub type BlobStream = BoxStream<'static, io::Result<Bytes>>;

/// What a mount attempt did.
#[derive(Debug)]
pub enum Mount {
    /// The registry linked the blob from the other repository.
    Mounted,
    /// It could not; it opened an upload session instead.
    Upload(Url),
}

impl Client {
    /// Whether `repo` has the blob.
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let url = self.url(&format!("{repo}/blobs/{digest}"))?;
        let what = format!("HEAD blob {repo}@{}", digest.short());
        let resp = self
            .send(&what, &[self.scope(repo)], || self.http.head(url.clone()))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.failure(&what, resp).await),
        }
    }

    /// Streams a blob from `repo`.
    pub async fn get_blob(&self, repo: &str, digest: &Digest) -> Result<BlobStream> {
        let url = self.url(&format!("{repo}/blobs/{digest}"))?;
        let what = format!("blob {repo}@{digest}");
        let resp = self
            .send(&what, &[self.scope(repo)], || self.http.get(url.clone()))
            .await?;
        if !resp.status().is_success() {
            return Err(self.failure(&what, resp).await);
        }
        Ok(Box::pin(resp.bytes_stream().map_err(io::Error::other)))
    }

    /// Asks `repo` to mount `digest` from repository `from` of the same registry.
    pub async fn mount_blob(&self, repo: &str, digest: &Digest, from: &str) -> Result<Mount> {
        let mut url = self.url(&format!("{repo}/blobs/uploads/"))?;
        url.query_pairs_mut()
            .append_pair("mount", &digest.to_string())
            .append_pair("from", from);
        let what = format!("mount of {} from {from} into {repo}", digest.short());
        let scopes = [Scope::push(repo), Scope::pull(from)];
        let resp = self
            .send(&what, &scopes, || {
                self.http.post(url.clone()).header(CONTENT_LENGTH, 0)
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(self.location(&what, &resp)?)),
            _ => Err(self.failure(&what, resp).await),
        }
    }

    /// Opens an upload session in `repo`.
    pub async fn start_upload(&self, repo: &str) -> Result<Url> {
        let url = self.url(&format!("{repo}/blobs/uploads/"))?;
        let what = format!("starting a blob upload to {repo}");
        let resp = self
            .send(&what, &[Scope::push(repo)], || {
                self.http.post(url.clone()).header(CONTENT_LENGTH, 0)
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.failure(&what, resp).await);
        }
        self.location(&what, &resp)
    }

    fn location(&self, what: &str, resp: &reqwest::Response) -> Result<Url> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| Error::Status {
                registry: self.host().to_string(),
                what: what.to_string(),
                status: resp.status().as_u16(),
                detail: ": no Location header".into(),
            })?;
        self.resolve(loc)
    }

    /// Streams `body` into the upload session, hashing it; commits it under
    /// `desc.digest` only when the digest and size match, else cancels the session.
    /// Returns the number of bytes sent.
    pub async fn upload(
        &self,
        repo: &str,
        session: Url,
        desc: &Descriptor,
        body: BlobStream,
        progress: Arc<AtomicU64>,
    ) -> Result<u64> {
        let what = format!("upload of {} to {repo}", desc.digest.short());
        let scopes = [Scope::push(repo)];
        let (hashing, seen) = Hashing::new(body, Some(desc.size), progress);
        let req = self
            .http
            .patch(session.clone())
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, desc.size)
            .body(reqwest::Body::wrap_stream(hashing));
        let resp = match self.send_once(&what, &scopes, req).await {
            Ok(r) => r,
            Err(e) => {
                // A source read error ends the body early: report it rather than the
                // connection error it caused.
                self.cancel(&session).await;
                return Err(e);
            }
        };
        if resp.status() != StatusCode::ACCEPTED && resp.status() != StatusCode::NO_CONTENT {
            self.cancel(&session).await;
            return Err(self.failure(&what, resp).await);
        }
        let next = self.location(&what, &resp).unwrap_or(session);
        let Ok((actual, count)) = seen.await else {
            self.cancel(&next).await;
            return Err(Error::Status {
                registry: self.host().to_string(),
                what,
                status: 0,
                detail: ": the source stream ended before the blob was complete".into(),
            });
        };
        if actual != desc.digest {
            self.cancel(&next).await;
            return Err(Error::DigestMismatch {
                what: format!("blob {} for {repo}", desc.digest),
                expected: desc.digest.clone(),
                actual,
            });
        }
        if count != desc.size {
            self.cancel(&next).await;
            return Err(Error::SizeMismatch {
                what: format!("blob {} for {repo}", desc.digest),
                expected: desc.size,
                actual: count,
            });
        }
        let mut commit = next;
        commit
            .query_pairs_mut()
            .append_pair("digest", &desc.digest.to_string());
        let resp = self
            .send(&what, &scopes, || {
                self.http.put(commit.clone()).header(CONTENT_LENGTH, 0)
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.failure(&what, resp).await);
        }
        Ok(count)
    }

    /// Cancels an upload session; best effort (the registry expires them anyway).
    async fn cancel(&self, session: &Url) {
        let _ = self.http.delete(session.clone()).send().await;
    }
}
