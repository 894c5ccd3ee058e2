//! Manifests and indexes: the Docker v2 schema 2 and OCI media types, and decoding the
//! parts a copy needs (child manifests, config, layers, platforms, subject). The raw
//! bytes are always kept: a manifest is copied byte for byte so its digest is unchanged.

use std::fmt;

use serde::Deserialize;

use super::digest::Digest;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker uncompressed layer (what `docker save` archives hold).
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker gzip layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The Accept header for manifest requests: every type we can copy. Without it the
/// registry 404s OCI manifests and converts Docker ones to schema 1 (another digest).
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Largest manifest we read into memory (registries cap them at 4 MiB too).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// A content descriptor: what a manifest says about a blob or a child manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the content.
    #[serde(default)]
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// For index entries: the platform it runs on.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// External URLs (foreign / non-distributable layers).
    #[serde(default)]
    pub urls: Vec<String>,
}

impl Descriptor {
    /// Foreign (non-distributable) layers are not pushed to registries: the manifest
    /// keeps pointing at their URLs, as docker and skopeo do.
    pub fn is_foreign(&self) -> bool {
        self.media_type.contains("foreign") || self.media_type.contains("nondistributable")
    }
}

/// `os/arch[/variant]`, as in an index's `platform` field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    /// e.g. `linux`
    pub os: String,
    /// e.g. `amd64`
    pub architecture: String,
    /// e.g. `v8`
    #[serde(default)]
    pub variant: Option<String>,
}

/// A `platform` parameter that is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8")]
pub struct PlatformError(pub String);

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(input: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = input.split('/').collect();
        let ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(PlatformError(input.to_string())),
        }
    }

    /// Whether an index entry's platform matches this wanted one (a wanted platform
    /// without variant matches any variant).
    pub fn matches(&self, entry: &Platform) -> bool {
        self.os == entry.os
            && self.architecture == entry.architecture
            && (self.variant.is_none() || self.variant == entry.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// What a manifest refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// An image: config and layers.
    Image {
        /// The config blob.
        config: Descriptor,
        /// Layer blobs, in order.
        layers: Vec<Descriptor>,
    },
    /// An index / manifest list: child manifests.
    Index {
        /// The children (one per platform, or attestations).
        manifests: Vec<Descriptor>,
    },
}

/// Bytes that are not a manifest we can copy; says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("manifest of {what} cannot be read: {problem}")]
pub struct ManifestError {
    /// What was being read (a reference or digest).
    pub what: String,
    /// What is wrong.
    pub problem: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// Whether a media type is an index / manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// Whether a media type is an image manifest we copy.
pub fn is_image(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

impl Manifest {
    /// Decodes `bytes`; `content_type` is the registry's Content-Type (or the
    /// descriptor's media type), used when the body has no `mediaType`.
    /// Returns the manifest and its effective media type.
    pub fn parse(
        what: &str,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> Result<(Manifest, String), ManifestError> {
        let err = |problem: String| ManifestError {
            what: what.to_string(),
            problem,
        };
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(err(format!("it is larger than {MAX_MANIFEST_BYTES} bytes")));
        }
        let wire: Wire =
            serde_json::from_slice(bytes).map_err(|e| err(format!("not manifest JSON: {e}")))?;
        if wire.schema_version != Some(2) {
            return Err(err(format!(
                "schemaVersion is {:?}, only 2 is supported (schema 1 manifests are obsolete)",
                wire.schema_version
            )));
        }
        let header = content_type
            .map(|c| c.split(';').next().unwrap_or(c).trim())
            .filter(|c| is_index(c) || is_image(c));
        let media_type = match (wire.media_type.as_deref(), header) {
            (Some(m), _) => m.to_string(),
            (None, Some(h)) => h.to_string(),
            // OCI allows omitting mediaType: infer from the fields.
            (None, None) if wire.manifests.is_some() => OCI_INDEX.to_string(),
            (None, None) => OCI_MANIFEST.to_string(),
        };
        if is_index(&media_type) {
            let manifests = wire
                .manifests
                .ok_or_else(|| err(format!("{media_type} without \"manifests\"")))?;
            Ok((Manifest::Index { manifests }, media_type))
        } else if is_image(&media_type) {
            let config = wire
                .config
                .ok_or_else(|| err(format!("{media_type} without \"config\"")))?;
            let layers = wire.layers.unwrap_or_default();
            Ok((Manifest::Image { config, layers }, media_type))
        } else {
            Err(err(format!("unsupported media type {media_type:?}")))
        }
    }

    /// The blobs an image manifest needs copied: config then layers, foreign skipped,
    /// each digest once.
    pub fn blobs(&self) -> Vec<Descriptor> {
        match self {
            Manifest::Index { .. } => Vec::new(),
            Manifest::Image { config, layers } => {
                let mut seen = std::collections::HashSet::new();
                std::iter::once(config)
                    .chain(layers)
                    .filter(|d| !d.is_foreign() && seen.insert(d.digest.clone()))
                    .cloned()
                    .collect()
            }
        }
    }

    /// Total size: manifest bytes aside, config and layers (image) or nothing (index).
    pub fn blob_bytes(&self) -> u64 {
        self.blobs().iter().map(|d| d.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn decodes_an_oci_manifest_without_media_type() {
        let body = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{D}","size":3}},
               "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{D}","size":3}}]}}"#
        );
        let (m, t) = Manifest::parse("x", None, body.as_bytes()).unwrap();
        assert_eq!(t, OCI_MANIFEST);
        assert_eq!(m.blobs().len(), 1, "the same digest is copied once");
    }

    #[test]
    fn decodes_an_index_with_platforms() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[
               {{"mediaType":"{DOCKER_MANIFEST}","digest":"{D}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#
        );
        let (m, t) = Manifest::parse("x", None, body.as_bytes()).unwrap();
        assert_eq!(t, DOCKER_LIST);
        let Manifest::Index { manifests } = m else {
            panic!()
        };
        let p = manifests[0].platform.as_ref().unwrap();
        assert!(Platform::parse("linux/arm64").unwrap().matches(p));
        assert!(!Platform::parse("linux/arm64/v7").unwrap().matches(p));
    }

    #[test]
    fn errors_name_the_manifest() {
        for body in [
            "",
            "{}",
            r#"{"schemaVersion":1}"#,
            r#"{"schemaVersion":2,"mediaType":"text/plain"}"#,
        ] {
            let e = Manifest::parse("reg/x:1", None, body.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("reg/x:1"), "{e}");
        }
        assert!(Platform::parse("linux").is_err());
        assert_eq!(
            Platform::parse("linux/arm/v7").unwrap().to_string(),
            "linux/arm/v7"
        );
    }
}
