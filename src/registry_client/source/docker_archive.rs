//! `docker save` tarballs: a Docker v2 manifest is built from `manifest.json` and the
//! image config, pointing at the archive's layer files as they are.
//!
//! # Format
//! ```text
//! manifest.json   [{"Config":"<hex>.json","RepoTags":["test/hello:v1"],
//!                   "Layers":["<hex>.tar" | "<id>/layer.tar" | "blobs/sha256/<hex>"]}]
//! ```
//! An uncompressed layer's digest is its diff_id in the config; a compressed one under
//! an arbitrary name is hashed once while indexing. Either way the upload re-checks it.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use super::super::digest::Digest;
use super::super::error::Result;
use super::super::manifest::{DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, DOCKER_MANIFEST};
use super::super::manifests::RawManifest;
use super::layout::{Local, Store};
use super::{SourceError, TarIndex};

/// Largest image config read into memory.
const MAX_CONFIG: usize = 16 * 1024 * 1024;

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(serde::Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct OutManifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: OutDescriptor<'a>,
    layers: Vec<OutDescriptor<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct OutDescriptor<'a> {
    media_type: &'a str,
    size: u64,
    digest: Digest,
}

/// Opens a docker-archive in place.
pub(crate) fn open(
    path: &Path,
    reference: Option<&str>,
) -> Result<(Local, RawManifest, Option<String>)> {
    let index = TarIndex::open(path)?;
    let store = Store::Tar(index.clone());
    let not_image = |problem: String| SourceError::NotAnImage {
        path: path.to_path_buf(),
        expected: "a docker-archive",
        problem,
    };
    let Some(raw) = store.read("manifest.json", MAX_CONFIG)? else {
        let hint = if store.has("index.json") {
            " (it has index.json: it looks like an OCI archive, use oci-archive:PATH)"
        } else {
            ""
        };
        return Err(not_image(format!("it has no manifest.json{hint}")).into());
    };
    let entries: Vec<Entry> = serde_json::from_slice(&raw)
        .map_err(|e| not_image(format!("manifest.json is not valid: {e}")))?;
    let tags = |e: &Entry| e.repo_tags.clone().unwrap_or_default();
    let available = entries.iter().flat_map(tags).collect::<Vec<_>>().join(", ");
    let entry = match reference {
        Some(r) => entries
            .iter()
            .find(|e| tags(e).iter().any(|t| t == r))
            .ok_or_else(|| SourceError::NoSuchRef {
                path: path.to_path_buf(),
                reference: r.to_string(),
                available: available.clone(),
            })?,
        None => match entries.as_slice() {
            [one] => one,
            [] => return Err(not_image("manifest.json lists no image".into()).into()),
            _ => {
                return Err(SourceError::Ambiguous {
                    path: path.to_path_buf(),
                    available,
                    form: "docker-archive:PATH:REPO:TAG".into(),
                }
                .into())
            }
        },
    };
    let missing = |name: &str| {
        not_image(format!(
            "manifest.json names {name:?}, which is not in the archive"
        ))
    };
    let config_bytes = store
        .read(&entry.config, MAX_CONFIG)?
        .ok_or_else(|| missing(&entry.config))?;
    let config: Config = serde_json::from_slice(&config_bytes).map_err(|e| {
        not_image(format!(
            "the image config {} is not valid: {e}",
            entry.config
        ))
    })?;
    let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    let config_digest = Digest::of(&config_bytes);
    let mut names = HashMap::new();
    names.insert(config_digest.clone(), entry.config.clone());
    let mut layers = Vec::new();
    for (i, name) in entry.layers.iter().enumerate() {
        let (offset, size) = index.get(name).ok_or_else(|| missing(name))?;
        let gzip = starts_with_gzip(path, offset, size)?;
        let digest = match name.strip_prefix("blobs/sha256/") {
            Some(hex) => Digest::parse(&format!("sha256:{hex}")).ok(),
            None => None,
        };
        let digest = match (digest, gzip, diff_ids.get(i)) {
            (Some(d), _, _) => d,
            (None, false, Some(diff_id)) => diff_id.clone(),
            _ => hash_member(path, offset, size)?,
        };
        names.insert(digest.clone(), name.clone());
        layers.push(OutDescriptor {
            media_type: if gzip {
                DOCKER_LAYER_GZIP
            } else {
                DOCKER_LAYER_TAR
            },
            size,
            digest,
        });
    }
    let manifest = OutManifest {
        schema_version: 2,
        media_type: DOCKER_MANIFEST,
        config: OutDescriptor {
            media_type: DOCKER_CONFIG,
            size: config_bytes.len() as u64,
            digest: config_digest,
        },
        layers,
    };
    let bytes = serde_json::to_vec(&manifest)
        .map_err(|e| not_image(format!("cannot encode its manifest: {e}")))?;
    let what = format!("docker-archive {}", path.display());
    let root = RawManifest::new(&what, Some(DOCKER_MANIFEST), Bytes::from(bytes), None)?;
    let mut synthetic = HashMap::new();
    synthetic.insert(root.digest.clone(), root.clone());
    let name = entry.repo_tags.as_ref().and_then(|t| t.first().cloned());
    Ok((
        Local {
            store,
            names,
            synthetic,
        },
        root,
        name,
    ))
}

fn member(path: &Path, offset: u64) -> std::result::Result<std::fs::File, SourceError> {
    use std::io::{Seek, SeekFrom};
    let io = |cause| SourceError::Io {
        path: path.to_path_buf(),
        cause,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    Ok(f)
}

fn starts_with_gzip(path: &Path, offset: u64, size: u64) -> std::result::Result<bool, SourceError> {
    if size < 2 {
        return Ok(false);
    }
    let mut magic = [0u8; 2];
    member(path, offset)?
        .read_exact(&mut magic)
        .map_err(|cause| SourceError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
    Ok(magic == [0x1f, 0x8b])
}

fn hash_member(path: &Path, offset: u64, size: u64) -> std::result::Result<Digest, SourceError> {
    let mut reader = member(path, offset)?.take(size);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|cause| SourceError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Digest::parse(&format!("sha256:{hex}")).map_err(|e| SourceError::NotAnImage {
        path: path.to_path_buf(),
        expected: "a docker-archive",
        problem: e.to_string(),
    })
}
