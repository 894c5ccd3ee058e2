//! OCI image layouts, as a directory or as a tar archive read in place.
//!
//! # Format
//! ```text
//! oci-layout                 {"imageLayoutVersion":"1.0.0"}
//! index.json                 {"manifests":[{"mediaType":..,"digest":..,"size":..,
//!                              "annotations":{"org.opencontainers.image.ref.name":"v1"}}]}
//! blobs/sha256/<hex>         manifests, configs, layers
//! ```

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::super::blobs::BlobStream;
use super::super::digest::Digest;
use super::super::error::Result;
use super::super::manifest::{Descriptor, MAX_MANIFEST_BYTES};
use super::super::manifests::RawManifest;
use super::{SourceError, TarIndex};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Read buffer for streaming blobs from disk.
const CHUNK: usize = 256 * 1024;

/// Where a local source's files are.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    /// A directory.
    Dir(PathBuf),
    /// A tar archive, indexed.
    Tar(TarIndex),
}

impl Store {
    fn path(&self) -> &Path {
        match self {
            Store::Dir(d) => d,
            Store::Tar(t) => t.path(),
        }
    }

    fn io(&self, cause: std::io::Error) -> SourceError {
        SourceError::Io {
            path: self.path().to_path_buf(),
            cause,
        }
    }

    /// Whether `name` exists.
    pub(crate) fn has(&self, name: &str) -> bool {
        match self {
            Store::Dir(d) => d.join(name).is_file(),
            Store::Tar(t) => t.get(name).is_some(),
        }
    }

    /// Reads a small file whole (at most `limit` bytes).
    pub(crate) fn read(
        &self,
        name: &str,
        limit: usize,
    ) -> std::result::Result<Option<Vec<u8>>, SourceError> {
        let (file, size) = match self.open_sync(name)? {
            Some(x) => x,
            None => return Ok(None),
        };
        if size > limit as u64 {
            return Err(SourceError::NotAnImage {
                path: self.path().to_path_buf(),
                expected: "an image",
                problem: format!("{name} is {size} bytes, more than the {limit} expected"),
            });
        }
        let mut buf = Vec::with_capacity(size as usize);
        file.take(size)
            .read_to_end(&mut buf)
            .map_err(|e| self.io(e))?;
        if (buf.len() as u64) < size {
            return Err(self.io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)));
        }
        Ok(Some(buf))
    }

    fn open_sync(
        &self,
        name: &str,
    ) -> std::result::Result<Option<(std::fs::File, u64)>, SourceError> {
        match self {
            Store::Dir(d) => {
                let p = d.join(name);
                match std::fs::File::open(&p) {
                    Ok(f) => {
                        let len = f.metadata().map_err(|e| self.io(e))?.len();
                        Ok(Some((f, len)))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(SourceError::Io { path: p, cause: e }),
                }
            }
            Store::Tar(t) => {
                let Some((offset, size)) = t.get(name) else {
                    return Ok(None);
                };
                let mut f = std::fs::File::open(t.path()).map_err(|e| self.io(e))?;
                f.seek(SeekFrom::Start(offset)).map_err(|e| self.io(e))?;
                Ok(Some((f, size)))
            }
        }
    }

    /// Streams a file (or archive member) of `size` bytes from its offset.
    pub(crate) async fn stream(
        &self,
        name: &str,
    ) -> std::result::Result<Option<BlobStream>, SourceError> {
        let (path, offset, size) = match self {
            Store::Dir(d) => {
                let p = d.join(name);
                match tokio::fs::metadata(&p).await {
                    Ok(m) => (p, 0, m.len()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(SourceError::Io { path: p, cause: e }),
                }
            }
            Store::Tar(t) => match t.get(name) {
                Some((o, s)) => (t.path().to_path_buf(), o, s),
                None => return Ok(None),
            },
        };
        let mut file = tokio::fs::File::open(&path).await.map_err(|e| self.io(e))?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))
                .await
                .map_err(|e| self.io(e))?;
        }
        let reader = file.take(size);
        Ok(Some(Box::pin(tokio_util::io::ReaderStream::with_capacity(
            reader, CHUNK,
        ))))
    }
}

/// A local source: a store plus, for docker-archives, where each digest lives.
pub struct Local {
    pub(crate) store: Store,
    /// Digest -> member name, for blobs not at `blobs/sha256/<hex>`.
    pub(crate) names: HashMap<Digest, String>,
    /// Manifests synthesised in memory (docker-archive), by digest.
    pub(crate) synthetic: HashMap<Digest, RawManifest>,
}

#[derive(serde::Deserialize)]
struct IndexJson {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    #[serde(default)]
    media_type: String,
    digest: Digest,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

fn blob_name(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

impl Local {
    /// Opens an OCI layout directory.
    pub(crate) fn open_dir(
        dir: &Path,
        reference: Option<&str>,
    ) -> Result<(Local, RawManifest, Option<String>)> {
        if !dir.is_dir() {
            return Err(SourceError::Io {
                path: dir.to_path_buf(),
                cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
            }
            .into());
        }
        Local::open_layout(Store::Dir(dir.to_path_buf()), reference, "oci:DIR:REF")
    }

    /// Opens an OCI archive in place.
    pub(crate) fn open_archive(
        path: &Path,
        reference: Option<&str>,
    ) -> Result<(Local, RawManifest, Option<String>)> {
        let index = TarIndex::open(path)?;
        Local::open_layout(Store::Tar(index), reference, "oci-archive:PATH:REF")
    }

    fn open_layout(
        store: Store,
        reference: Option<&str>,
        form: &str,
    ) -> Result<(Local, RawManifest, Option<String>)> {
        let path = store.path().to_path_buf();
        let not_image = |problem: String| SourceError::NotAnImage {
            path: path.clone(),
            expected: "an OCI image layout",
            problem,
        };
        let Some(index) = store.read("index.json", MAX_MANIFEST_BYTES)? else {
            let hint = if store.has("manifest.json") {
                " (it has manifest.json: it looks like a docker-archive, use docker-archive:PATH)"
            } else {
                ""
            };
            return Err(not_image(format!("it has no index.json{hint}")).into());
        };
        let index: IndexJson = serde_json::from_slice(&index)
            .map_err(|e| not_image(format!("index.json is not valid: {e}")))?;
        let names: Vec<String> = index
            .manifests
            .iter()
            .filter_map(|m| m.annotations.get(REF_NAME).cloned())
            .collect();
        let available = if names.is_empty() {
            format!("{} unnamed image(s)", index.manifests.len())
        } else {
            names.join(", ")
        };
        let entry = match reference {
            Some(r) => index
                .manifests
                .iter()
                .find(|m| m.annotations.get(REF_NAME).map(String::as_str) == Some(r))
                .ok_or_else(|| SourceError::NoSuchRef {
                    path: path.clone(),
                    reference: r.to_string(),
                    available: available.clone(),
                })?,
            None => match index.manifests.as_slice() {
                [one] => one,
                [] => return Err(not_image("index.json lists no image".into()).into()),
                _ => {
                    return Err(SourceError::Ambiguous {
                        path,
                        available,
                        form: form.to_string(),
                    }
                    .into())
                }
            },
        };
        let name = entry.annotations.get(REF_NAME).cloned();
        let local = Local {
            store,
            names: HashMap::new(),
            synthetic: HashMap::new(),
        };
        let media_type = Some(entry.media_type.as_str()).filter(|m| !m.is_empty());
        let root = local.manifest(&entry.digest, media_type)?;
        Ok((local, root, name))
    }

    fn member(&self, d: &Digest) -> String {
        self.names.get(d).cloned().unwrap_or_else(|| blob_name(d))
    }

    /// A manifest stored as a blob, checked against its digest.
    pub(crate) fn manifest(
        &self,
        digest: &Digest,
        media_type: Option<&str>,
    ) -> Result<RawManifest> {
        if let Some(m) = self.synthetic.get(digest) {
            return Ok(m.clone());
        }
        let what = format!("{} in {}", digest, self.store.path().display());
        let bytes = self
            .store
            .read(&self.member(digest), MAX_MANIFEST_BYTES)?
            .ok_or_else(|| SourceError::MissingBlob {
                path: self.store.path().to_path_buf(),
                digest: digest.clone(),
            })?;
        RawManifest::new(&what, media_type, Bytes::from(bytes), Some(digest))
    }

    /// Streams a blob; its digest is checked by the upload before anything is committed.
    pub(crate) async fn blob(&self, desc: &Descriptor) -> Result<BlobStream> {
        Ok(self
            .store
            .stream(&self.member(&desc.digest))
            .await?
            .ok_or_else(|| SourceError::MissingBlob {
                path: self.store.path().to_path_buf(),
                digest: desc.digest.clone(),
            })?)
    }
}
