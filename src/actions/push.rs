//! `push image=SRC [tag=DEST] [pull=true] [src-*] [platform=] [signatures=true]`:
//! copies an image from a registry, an OCI layout or an archive into this registry.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::params::{Params, SourceAccess};
use super::progress::{human, with_progress};
use super::target::{
    check_writable, connect_dest, connect_source, default_dest, named_reference, parse_dest, Dest,
};
use super::{ActionError, ActionIo, Registry, Results};
use crate::registry_client::source::open_local;
use crate::registry_client::{
    Copier, CopyReport, CopyRequest, Platform, Progress, RawManifest, Source, SourceSpec,
};

/// Blob transfers at once within one image (skopeo also runs 6): images rarely have
/// more layers than that, so all of them flow together.
pub(crate) const BLOB_CONCURRENCY: usize = 6;
const ACTION: &str = "push";
const IMAGE_FORM: &str = "a registry reference (python:3.9-slim, HOST[:PORT]/PATH:TAG), \
                          oci:DIR[:REF], oci-archive:PATH[:REF] or docker-archive:PATH";

/// Validated push params.
pub(crate) struct PushParams {
    image: String,
    spec: SourceSpec,
    /// `pull=false`: the image as a path in this registry.
    local_src: Option<Dest>,
    dest: Option<Dest>,
    dest_input: Option<String>,
    access: SourceAccess,
    platform: Option<Platform>,
    signatures: bool,
}

impl PushParams {
    pub(crate) fn parse(
        map: &Map<String, Value>,
        registry: &Registry,
    ) -> Result<PushParams, ActionError> {
        let p = Params::new(ACTION, map);
        let image = p.required("image", IMAGE_FORM)?;
        let spec = SourceSpec::parse(&image).map_err(|e| p.error("image", e.to_string()))?;
        let pull = p.bool("pull", true)?;
        let src_tag = match &spec {
            SourceSpec::Registry(r) => r.tag().map(str::to_string),
            _ => None,
        };
        let dest_input = p.string("tag")?;
        let dest = dest_input
            .as_deref()
            .map(|t| parse_dest(registry, t, src_tag.as_deref()).map_err(|e| p.error("tag", e)))
            .transpose()?;
        let local_src = if pull {
            None
        } else {
            if spec.is_local() {
                return Err(p.error(
                    "pull",
                    "pull=false tags an image already in this registry; a local source needs pull=true",
                ));
            }
            let src = parse_dest(registry, &image, None).map_err(|e| {
                p.error(
                    "image",
                    format!("with pull=false the image must be in this registry: {e}"),
                )
            })?;
            Some(src)
        };
        Ok(PushParams {
            image,
            spec,
            local_src,
            dest,
            dest_input,
            access: p.source_access()?,
            platform: p.platform()?,
            signatures: p.bool("signatures", true)?,
        })
    }
}

/// A source opened, with the manifest to copy and the name it gives itself.
struct Opened {
    source: Source,
    root: RawManifest,
    default_dest: Option<Result<Dest, String>>,
}

/// Opens a file or directory source (no network): done before connecting anywhere, so
/// a missing or broken archive is what the action reports.
fn open_file(p: &PushParams, registry: &Registry) -> Result<Option<Opened>, ActionError> {
    if p.local_src.is_some() || !p.spec.is_local() {
        return Ok(None);
    }
    let opened = open_local(&p.spec).map_err(ActionError::registry(ACTION))?;
    let default_dest =
        named_reference(opened.name.as_deref()).map(|r| default_dest(registry, None, &r));
    Ok(Some(Opened {
        source: opened.source,
        root: opened.root,
        default_dest,
    }))
}

async fn open(
    p: &PushParams,
    registry: &Registry,
    dst: &Arc<crate::registry_client::Client>,
) -> Result<Opened, ActionError> {
    let err = ActionError::registry(ACTION);
    if let Some(src) = &p.local_src {
        let root = dst
            .get_manifest(&src.repo, &src.reference.manifest_ref())
            .await
            .map_err(&err)?;
        return Ok(Opened {
            source: Source::Registry {
                client: dst.clone(),
                repo: src.repo.clone(),
            },
            root,
            default_dest: None,
        });
    }
    match &p.spec {
        SourceSpec::Registry(r) => {
            let client = connect_source(registry, r.api_host(), &p.access, ACTION).await?;
            let root = client
                .get_manifest(r.repository(), &r.manifest_ref())
                .await
                .map_err(&err)?;
            Ok(Opened {
                source: Source::Registry {
                    client,
                    repo: r.repository().to_string(),
                },
                root,
                default_dest: Some(default_dest(registry, None, r)),
            })
        }
        _ => open_file(p, registry)?.ok_or_else(|| ActionError::Failed {
            action: ACTION.into(),
            message: "a local source could not be opened".into(),
        }),
    }
}

pub(crate) async fn run(
    p: PushParams,
    registry: &Registry,
    io: &dyn ActionIo,
) -> Result<Results, ActionError> {
    check_writable(registry, ACTION)?;
    let file = open_file(&p, registry)?;
    let dst = Arc::new(connect_dest(registry, ACTION).await?);
    let opened = match file {
        Some(o) => o,
        None => open(&p, registry, &dst).await?,
    };
    let dest = match (&p.dest, opened.default_dest) {
        (Some(d), _) => d.clone(),
        (None, Some(Ok(d))) => d,
        (None, Some(Err(e))) => {
            return Err(ActionError::Param {
                action: ACTION.into(),
                param: "tag".into(),
                problem: format!(
                    "the default destination is not valid ({e}); give tag=<path>:<tag>"
                ),
            })
        }
        (None, None) if p.local_src.is_some() => {
            return Err(ActionError::Param {
                action: ACTION.into(),
                param: "tag".into(),
                problem:
                    "pull=false retags an image of this registry: give the new tag=<path>:<tag>"
                        .into(),
            })
        }
        (None, None) => {
            return Err(ActionError::Param {
                action: ACTION.into(),
                param: "tag".into(),
                problem: format!(
                    "{} does not name its image (no repository in its ref.name or RepoTags): \
                     give tag=<path>:<tag>",
                    p.image
                ),
            })
        }
    };
    let copier = Copier::new(&dst, BLOB_CONCURRENCY);
    if let Some(src) = &p.local_src {
        copier.mount_from(&src.repo);
    }
    let progress = Progress::default();
    io.log(&format!("push: copying {} to {}", p.image, dest.display));
    let report = with_progress(
        io,
        &format!("push {}", dest.display),
        &progress,
        copier.copy(
            CopyRequest {
                source: &opened.source,
                root: opened.root,
                repo: dest.repo.clone(),
                tag: dest.tag(),
                platform: p.platform.clone(),
                signatures: p.signatures,
            },
            &progress,
        ),
    )
    .await
    .map_err(ActionError::registry(ACTION))?;
    let shown = p.dest_input.clone().unwrap_or_else(|| dest.display.clone());
    Ok(push_results(&shown, &report))
}

/// The results of a push (the Python charm's `raw` and `outcome`, then ours).
pub(crate) fn push_results(dest: &str, report: &CopyReport) -> Results {
    let mut r = Results::default();
    r.set("raw", format!("pushed {dest}"));
    r.set("outcome", "success");
    if let Some(d) = &report.digest {
        r.set("digest", d.to_string());
    }
    r.set("bytes-copied", report.bytes_copied.to_string());
    r.set("blobs-copied", report.blobs_copied.to_string());
    r.set("blobs-skipped", report.blobs_skipped.to_string());
    r.set("blobs-mounted", report.blobs_mounted.to_string());
    if report.platforms > 0 {
        r.set("platforms", report.platforms.to_string());
    }
    if !report.attached.is_empty() {
        r.set("attached", report.attached.join(" "));
    }
    r.set(
        "summary",
        format!(
            "{dest}: {} in {} blobs copied, {} skipped, {} mounted",
            human(report.bytes_copied),
            report.blobs_copied,
            report.blobs_skipped,
            report.blobs_mounted
        ),
    );
    r
}
