//! Copying an image (manifest tree and blobs) from a source into a destination
//! repository.
//!
//! Order matters: blobs first (concurrently, at most `concurrency` at a time), child
//! manifests by digest, and the tagged manifest last, so a copy that fails or is killed
//! midway leaves no tag. Blobs the destination repository has are skipped (HEAD);
//! blobs we know another repository of the destination has are mounted.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{StreamExt, TryStreamExt};

use super::blobs::Mount;
use super::client::Client;
use super::digest::Digest;
use super::error::{Error, Result};
use super::manifest::{Descriptor, Manifest, Platform};
use super::manifests::RawManifest;
use super::source::Source;

/// Live counters of a copy, read by whoever reports progress.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes sent so far.
    pub bytes: Arc<AtomicU64>,
    /// Bytes of the blobs being uploaded (skipped and mounted ones excluded).
    pub total: AtomicU64,
    /// Blobs finished (copied, skipped or mounted).
    pub blobs_done: AtomicUsize,
    /// Blobs seen so far.
    pub blobs_total: AtomicUsize,
}

/// What a copy did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Digest of the manifest now under the destination tag.
    pub digest: Option<Digest>,
    /// Blob bytes uploaded.
    pub bytes_copied: u64,
    /// Blobs uploaded.
    pub blobs_copied: usize,
    /// Blobs the destination already had.
    pub blobs_skipped: usize,
    /// Blobs mounted from another repository of the destination.
    pub blobs_mounted: usize,
    /// Manifests written.
    pub manifests_written: usize,
    /// Platforms (index children) copied.
    pub platforms: usize,
    /// Signature / attestation / referrer manifests copied along.
    pub attached: Vec<String>,
}

/// Where to copy to and what to copy.
pub struct CopyRequest<'a> {
    /// The source.
    pub source: &'a Source,
    /// The source's manifest to copy (an index or an image).
    pub root: RawManifest,
    /// The destination repository.
    pub repo: String,
    /// The destination tag; `None` stores by digest only.
    pub tag: Option<String>,
    /// Copy only this platform of an index.
    pub platform: Option<Platform>,
    /// Also copy cosign `.sig`/`.att`/`.sbom` tags and OCI referrers.
    pub signatures: bool,
}

/// Copies images into one destination registry; remembers where blobs are so later
/// copies (mirror) can mount instead of upload.
pub struct Copier<'a> {
    dst: &'a Client,
    concurrency: usize,
    known: Mutex<HashMap<Digest, String>>,
    fallback: Mutex<Option<String>>,
    /// Blobs being uploaded right now: a second copy of the same blob (another image
    /// of a mirror) waits for the first, then mounts it.
    inflight: Mutex<HashMap<Digest, tokio::sync::watch::Receiver<()>>>,
}

enum BlobOutcome {
    Copied(u64),
    Skipped,
    Mounted,
}

type Boxed<'b, T> = Pin<Box<dyn Future<Output = Result<T>> + 'b>>;

impl<'a> Copier<'a> {
    /// A copier into `dst` with at most `concurrency` blob transfers at once.
    pub fn new(dst: &'a Client, concurrency: usize) -> Copier<'a> {
        Copier {
            dst,
            concurrency: concurrency.max(1),
            known: Mutex::new(HashMap::new()),
            fallback: Mutex::new(None),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that repository `repo` of the destination has blob `digest`.
    pub fn remember(&self, digest: &Digest, repo: &str) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest.clone(), repo.to_string());
    }

    /// Tries mounting any missing blob from `repo` of the destination (a retag within
    /// the registry: the source repository has every blob).
    pub fn mount_from(&self, repo: &str) {
        *self.fallback.lock().unwrap_or_else(|p| p.into_inner()) = Some(repo.to_string());
    }

    fn known_elsewhere(&self, digest: &Digest, repo: &str) -> Option<String> {
        let known = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
            .cloned();
        known
            .or_else(|| {
                self.fallback
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
            })
            .filter(|r| r != repo)
    }

    /// Copies one image; `progress` is updated as bytes flow.
    pub async fn copy(&self, req: CopyRequest<'_>, progress: &Progress) -> Result<CopyReport> {
        let mut report = CopyReport::default();
        let root = match (&req.platform, &req.root.manifest) {
            (Some(want), Manifest::Index { manifests }) => {
                let child = manifests
                    .iter()
                    .find(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
                    .ok_or_else(|| no_platform(&req.root, want, manifests))?;
                req.source
                    .manifest(&child.digest, Some(&child.media_type))
                    .await?
            }
            _ => req.root.clone(),
        };
        let put_ref = req.tag.clone().unwrap_or_else(|| root.digest.to_string());
        let mut copied = Vec::new();
        self.copy_manifest(
            req.source,
            &root,
            &req.repo,
            &put_ref,
            &mut report,
            progress,
            &mut copied,
        )
        .await?;
        report.digest = Some(root.digest.clone());
        if req.signatures {
            self.copy_attached(req.source, &req.repo, &copied, &mut report, progress)
                .await?;
        }
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_manifest<'b>(
        &'b self,
        source: &'b Source,
        raw: &'b RawManifest,
        repo: &'b str,
        put_ref: &'b str,
        report: &'b mut CopyReport,
        progress: &'b Progress,
        copied: &'b mut Vec<Digest>,
    ) -> Boxed<'b, ()> {
        Box::pin(async move {
            copied.push(raw.digest.clone());
            let digest = raw.digest.to_string();
            let at_ref = self.dst.head_manifest(repo, put_ref).await?;
            if at_ref.as_ref() == Some(&raw.digest) {
                return self
                    .count_present(source, raw, report, progress, copied)
                    .await;
            }
            if put_ref != digest
                && self.dst.head_manifest(repo, &digest).await?.as_ref() == Some(&raw.digest)
            {
                self.count_present(source, raw, report, progress, copied)
                    .await?;
                self.dst.put_manifest(repo, put_ref, raw).await?;
                report.manifests_written += 1;
                return Ok(());
            }
            match &raw.manifest {
                Manifest::Index { manifests } => {
                    for child in manifests {
                        let m = source
                            .manifest(&child.digest, Some(&child.media_type))
                            .await?;
                        let child_ref = m.digest.to_string();
                        self.copy_manifest(source, &m, repo, &child_ref, report, progress, copied)
                            .await?;
                        report.platforms += 1;
                    }
                }
                Manifest::Image { .. } => {
                    self.copy_blobs(source, raw.manifest.blobs(), repo, report, progress)
                        .await?;
                }
            }
            self.dst.put_manifest(repo, put_ref, raw).await?;
            report.manifests_written += 1;
            Ok(())
        })
    }

    /// Counts the blobs of a manifest the destination already holds whole.
    fn count_present<'b>(
        &'b self,
        source: &'b Source,
        raw: &'b RawManifest,
        report: &'b mut CopyReport,
        progress: &'b Progress,
        copied: &'b mut Vec<Digest>,
    ) -> Boxed<'b, ()> {
        Box::pin(async move {
            match &raw.manifest {
                Manifest::Image { .. } => {
                    let n = raw.manifest.blobs().len();
                    report.blobs_skipped += n;
                    progress.blobs_total.fetch_add(n, Ordering::Relaxed);
                    progress.blobs_done.fetch_add(n, Ordering::Relaxed);
                }
                Manifest::Index { manifests } => {
                    for child in manifests {
                        let m = source
                            .manifest(&child.digest, Some(&child.media_type))
                            .await?;
                        copied.push(m.digest.clone());
                        self.count_present(source, &m, report, progress, copied)
                            .await?;
                        report.platforms += 1;
                    }
                }
            }
            Ok(())
        })
    }

    async fn copy_blobs(
        &self,
        source: &Source,
        blobs: Vec<Descriptor>,
        repo: &str,
        report: &mut CopyReport,
        progress: &Progress,
    ) -> Result<()> {
        progress
            .blobs_total
            .fetch_add(blobs.len(), Ordering::Relaxed);
        let outcomes: Vec<BlobOutcome> = futures_util::stream::iter(blobs)
            .map(|desc| async move {
                let out = self.copy_blob(source, &desc, repo, progress).await;
                progress.blobs_done.fetch_add(1, Ordering::Relaxed);
                out
            })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        for o in outcomes {
            match o {
                BlobOutcome::Copied(n) => {
                    report.blobs_copied += 1;
                    report.bytes_copied += n;
                }
                BlobOutcome::Skipped => report.blobs_skipped += 1,
                BlobOutcome::Mounted => report.blobs_mounted += 1,
            }
        }
        Ok(())
    }

    async fn copy_blob(
        &self,
        source: &Source,
        desc: &Descriptor,
        repo: &str,
        progress: &Progress,
    ) -> Result<BlobOutcome> {
        if self.dst.blob_exists(repo, &desc.digest).await? {
            self.remember(&desc.digest, repo);
            return Ok(BlobOutcome::Skipped);
        }
        // Claim the upload, or wait for whoever has it (bounded: they finish or fail).
        let _claim = loop {
            let waiting = {
                let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
                match inflight.get(&desc.digest) {
                    Some(rx) => rx.clone(),
                    None => {
                        let (tx, rx) = tokio::sync::watch::channel(());
                        inflight.insert(desc.digest.clone(), rx);
                        break Claim {
                            copier: self,
                            digest: desc.digest.clone(),
                            _tx: tx,
                        };
                    }
                }
            };
            let mut waiting = waiting;
            // The sender is dropped when the other upload ends, whatever its outcome.
            let _ = waiting.changed().await;
        };
        let session = match self.known_elsewhere(&desc.digest, repo) {
            Some(from) => match self.dst.mount_blob(repo, &desc.digest, &from).await? {
                Mount::Mounted => {
                    self.remember(&desc.digest, repo);
                    return Ok(BlobOutcome::Mounted);
                }
                Mount::Upload(session) => session,
            },
            None => self.dst.start_upload(repo).await?,
        };
        progress.total.fetch_add(desc.size, Ordering::Relaxed);
        let body = source.blob(desc).await?;
        let n = self
            .dst
            .upload(repo, session, desc, body, progress.bytes.clone())
            .await?;
        self.remember(&desc.digest, repo);
        Ok(BlobOutcome::Copied(n))
    }

    /// Copies cosign's `sha256-<hex>.sig|.att|.sbom` tags, the OCI referrers tag
    /// `sha256-<hex>`, and OCI 1.1 referrers, of every copied digest.
    async fn copy_attached(
        &self,
        source: &Source,
        repo: &str,
        digests: &[Digest],
        report: &mut CopyReport,
        progress: &Progress,
    ) -> Result<()> {
        let Some(tags) = source.tags().await? else {
            return Ok(());
        };
        let tags: HashSet<String> = tags.into_iter().collect();
        let mut done = HashSet::new();
        for d in digests {
            for suffix in [".sig", ".att", ".sbom", ""] {
                let tag = format!("sha256-{}{suffix}", d.hex());
                if !tags.contains(&tag) || !done.insert(tag.clone()) {
                    continue;
                }
                let Some(m) = source.manifest_by_tag(&tag).await? else {
                    continue;
                };
                let mut seen = Vec::new();
                self.copy_manifest(source, &m, repo, &tag, report, progress, &mut seen)
                    .await?;
                report.attached.push(tag);
            }
            if let Some(referrers) = source.referrers(d).await? {
                for r in referrers {
                    if !done.insert(r.digest.to_string()) {
                        continue;
                    }
                    let m = source.manifest(&r.digest, Some(&r.media_type)).await?;
                    let mut seen = Vec::new();
                    let digest = m.digest.to_string();
                    self.copy_manifest(source, &m, repo, &digest, report, progress, &mut seen)
                        .await?;
                    report.attached.push(digest);
                }
            }
        }
        Ok(())
    }
}

/// An upload in progress; ends the wait of others when dropped.
struct Claim<'c, 'a> {
    copier: &'c Copier<'a>,
    digest: Digest,
    _tx: tokio::sync::watch::Sender<()>,
}

impl Drop for Claim<'_, '_> {
    fn drop(&mut self) {
        self.copier
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.digest);
    }
}

fn no_platform(root: &RawManifest, want: &Platform, manifests: &[Descriptor]) -> Error {
    let have: Vec<String> = manifests
        .iter()
        .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
        .collect();
    Error::NotFound {
        registry: "the source".into(),
        what: format!(
            "platform {want} (index {} has: {})",
            root.digest,
            if have.is_empty() {
                "no platforms".to_string()
            } else {
                have.join(", ")
            }
        ),
    }
}
