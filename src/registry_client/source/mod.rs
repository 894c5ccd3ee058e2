//! Where an image is read from: a registry, or a layout on this machine.
//!
//! # Format
//! ```text
//! docker://REF | REF             a registry (REF as in `reference`)
//! oci:DIR[:REF]                  an OCI image layout directory
//! oci-archive:PATH[:REF]         a tar of an OCI image layout (read in place)
//! docker-archive:PATH[:REF]      a `docker save` tarball (read in place)
//! ```
//! `REF` in a layout is its `org.opencontainers.image.ref.name` annotation (in a
//! docker-archive, one of its RepoTags); it may be left out when there is one image.
//! Archives are indexed once and each blob is streamed from its offset: nothing is
//! unpacked to disk.

mod docker_archive;
mod layout;
mod tar_index;

use std::path::PathBuf;
use std::sync::Arc;

use super::blobs::BlobStream;
use super::client::Client;
use super::digest::Digest;
use super::error::{Error, Result};
use super::manifest::Descriptor;
use super::manifests::RawManifest;
use super::reference::Reference;

pub use tar_index::TarIndex;

/// A source as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// An image in a registry.
    Registry(Reference),
    /// `oci:DIR[:REF]`
    OciDir {
        /// The layout directory.
        dir: PathBuf,
        /// The ref.name to pick.
        reference: Option<String>,
    },
    /// `oci-archive:PATH[:REF]`
    OciArchive {
        /// The tar file.
        path: PathBuf,
        /// The ref.name to pick.
        reference: Option<String>,
    },
    /// `docker-archive:PATH[:REF]`
    DockerArchive {
        /// The tar file.
        path: PathBuf,
        /// One of its RepoTags.
        reference: Option<String>,
    },
}

/// Transports of skopeo we do not read (no container engine or store on the unit).
const UNSUPPORTED: &[&str] = &[
    "containers-storage",
    "docker-daemon",
    "dir",
    "ostree",
    "sif",
    "tarball",
];

/// A source or archive that cannot be used; names the path or input and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `ftp://...`, `dir:...`
    #[error(
        "unsupported transport {transport:?} in {input:?}: use a registry reference \
         (docker://HOST/PATH:TAG or HOST/PATH:TAG), oci:DIR[:REF], oci-archive:PATH[:REF] \
         or docker-archive:PATH"
    )]
    Transport {
        /// The whole source.
        input: String,
        /// The transport named.
        transport: String,
    },
    /// `oci:` without a path.
    #[error("{input:?} names no path: expected {form}")]
    NoPath {
        /// The whole source.
        input: String,
        /// The expected form.
        form: &'static str,
    },
    /// A file that cannot be read.
    #[error("cannot read {path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// Not a tar file at all.
    #[error("{path} is not a tar archive: {detail}")]
    NotTar {
        /// The file.
        path: PathBuf,
        /// What the tar reader said.
        detail: String,
    },
    /// The tar ends before an entry's data.
    #[error(
        "{path} is truncated: entry {entry:?} needs bytes up to offset {needed} but the file \
         has {len} bytes (copy the archive again)"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The entry cut short.
        entry: String,
        /// The offset its end needs.
        needed: u64,
        /// The file's length.
        len: u64,
    },
    /// A readable file that holds no image.
    #[error("{path} is not {expected}: {problem}")]
    NotAnImage {
        /// The file or directory.
        path: PathBuf,
        /// What was expected (an OCI image layout, a docker-archive).
        expected: &'static str,
        /// What is missing or wrong, and a hint.
        problem: String,
    },
    /// The REF asked for is not there.
    #[error("{path} has no image {reference:?}; it has: {available}")]
    NoSuchRef {
        /// The file or directory.
        path: PathBuf,
        /// The REF asked for.
        reference: String,
        /// What it has.
        available: String,
    },
    /// Several images and no REF.
    #[error("{path} holds several images ({available}): name one as {form}")]
    Ambiguous {
        /// The file or directory.
        path: PathBuf,
        /// What it has.
        available: String,
        /// How to name one.
        form: String,
    },
    /// A blob the manifest needs is not in the layout.
    #[error("{path} lacks blob {digest} that its manifest refers to (incomplete layout)")]
    MissingBlob {
        /// The file or directory.
        path: PathBuf,
        /// The missing blob.
        digest: Digest,
    },
}

impl SourceSpec {
    /// Parses a source as written (see the module doc).
    pub fn parse(input: &str) -> Result<SourceSpec> {
        if let Some(rest) = input.strip_prefix("docker://") {
            return Ok(SourceSpec::Registry(Reference::parse(rest)?));
        }
        if let Some((transport, _)) = input.split_once("://") {
            return Err(SourceError::Transport {
                input: input.to_string(),
                transport: transport.to_string(),
            }
            .into());
        }
        let local = |rest: &str, form: &'static str| -> Result<(PathBuf, Option<String>)> {
            let (path, reference) = match rest.split_once(':') {
                Some((p, r)) => (p, Some(r.to_string()).filter(|r| !r.is_empty())),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(SourceError::NoPath {
                    input: input.to_string(),
                    form,
                }
                .into());
            }
            Ok((PathBuf::from(path), reference))
        };
        if let Some((transport, rest)) = input.split_once(':') {
            match transport {
                "oci" => {
                    let (dir, reference) = local(rest, "oci:DIR[:REF]")?;
                    return Ok(SourceSpec::OciDir { dir, reference });
                }
                "oci-archive" => {
                    let (path, reference) = local(rest, "oci-archive:PATH[:REF]")?;
                    return Ok(SourceSpec::OciArchive { path, reference });
                }
                "docker-archive" => {
                    let (path, reference) = local(rest, "docker-archive:PATH[:REF]")?;
                    return Ok(SourceSpec::DockerArchive { path, reference });
                }
                t if UNSUPPORTED.contains(&t) => {
                    return Err(SourceError::Transport {
                        input: input.to_string(),
                        transport: t.to_string(),
                    }
                    .into())
                }
                _ => {}
            }
        }
        Ok(SourceSpec::Registry(Reference::parse(input)?))
    }

    /// Whether the source is a file or directory on this machine.
    pub fn is_local(&self) -> bool {
        !matches!(self, SourceSpec::Registry(_))
    }
}

/// An opened source.
pub enum Source {
    /// A repository of a registry.
    Registry {
        /// The connected registry.
        client: Arc<Client>,
        /// The repository.
        repo: String,
    },
    /// An OCI layout (directory or archive) or a docker-archive.
    Local(layout::Local),
}

/// An opened local source and its root manifest.
pub struct Opened {
    /// The source.
    pub source: Source,
    /// The manifest the spec selected.
    pub root: RawManifest,
    /// A `path:tag` the image names itself by (ref.name or RepoTags), when it does.
    pub name: Option<String>,
}

/// Opens a local spec (directory or archive); registry specs are opened by the caller,
/// which knows the credentials.
pub fn open_local(spec: &SourceSpec) -> Result<Opened> {
    let (local, root, name) = match spec {
        SourceSpec::Registry(r) => {
            return Err(Error::Setup {
                registry: r.registry().to_string(),
                problem: "a registry source is not opened as a local source".into(),
            })
        }
        SourceSpec::OciDir { dir, reference } => {
            layout::Local::open_dir(dir, reference.as_deref())?
        }
        SourceSpec::OciArchive { path, reference } => {
            layout::Local::open_archive(path, reference.as_deref())?
        }
        SourceSpec::DockerArchive { path, reference } => {
            docker_archive::open(path, reference.as_deref())?
        }
    };
    Ok(Opened {
        source: Source::Local(local),
        root,
        name,
    })
}

impl Source {
    /// A child manifest by digest.
    pub async fn manifest(&self, digest: &Digest, media_type: Option<&str>) -> Result<RawManifest> {
        match self {
            Source::Registry { client, repo } => {
                client.get_manifest(repo, &digest.to_string()).await
            }
            Source::Local(l) => l.manifest(digest, media_type),
        }
    }

    /// A manifest by tag (registries only; `None` for local sources or when absent).
    pub async fn manifest_by_tag(&self, tag: &str) -> Result<Option<RawManifest>> {
        match self {
            Source::Registry { client, repo } => match client.get_manifest(repo, tag).await {
                Ok(m) => Ok(Some(m)),
                Err(Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            },
            Source::Local(_) => Ok(None),
        }
    }

    /// A blob's bytes.
    pub async fn blob(&self, desc: &Descriptor) -> Result<BlobStream> {
        match self {
            Source::Registry { client, repo } => client.get_blob(repo, &desc.digest).await,
            Source::Local(l) => l.blob(desc).await,
        }
    }

    /// The repository's tags (registries only).
    pub async fn tags(&self) -> Result<Option<Vec<String>>> {
        match self {
            Source::Registry { client, repo } => match client.tags(repo).await {
                Ok(t) => Ok(Some(t)),
                Err(Error::NotFound { .. }) => Ok(Some(Vec::new())),
                Err(e) => Err(e),
            },
            Source::Local(_) => Ok(None),
        }
    }

    /// OCI 1.1 referrers of a digest (registries that support the API).
    pub async fn referrers(&self, digest: &Digest) -> Result<Option<Vec<Descriptor>>> {
        match self {
            Source::Registry { client, repo } => client.referrers(repo, digest).await,
            Source::Local(_) => Ok(None),
        }
    }

    /// The registry and repository, when the source is one (for cross-repo mounts).
    pub fn registry_repo(&self) -> Option<(&str, &str)> {
        match self {
            Source::Registry { client, repo } => Some((client.host(), repo)),
            Source::Local(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        assert!(matches!(
            SourceSpec::parse("python:3.9").unwrap(),
            SourceSpec::Registry(_)
        ));
        assert!(matches!(
            SourceSpec::parse("docker://localhost:5000/a:b").unwrap(),
            SourceSpec::Registry(_)
        ));
        assert_eq!(
            SourceSpec::parse("oci-archive:/tmp/x.tar:docker.io/library/x:1").unwrap(),
            SourceSpec::OciArchive {
                path: "/tmp/x.tar".into(),
                reference: Some("docker.io/library/x:1".into())
            }
        );
        assert_eq!(
            SourceSpec::parse("oci:/l").unwrap(),
            SourceSpec::OciDir {
                dir: "/l".into(),
                reference: None
            }
        );
        for bad in ["ftp://x/y", "dir:/tmp/x", "docker-daemon:x:1", "oci:"] {
            let e = SourceSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
