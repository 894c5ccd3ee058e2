//! `rmi image="REPO:TAG REPO@DIGEST ..."`: deletes through the API (tag -> digest ->
//! DELETE). Every reference is resolved first; nothing is deleted unless all exist.
//! Deleting a digest removes every tag pointing to it: those are listed.

use serde_json::{Map, Value};

use super::params::Params;
use super::target::{check_writable, connect_dest, parse_dest, Dest};
use super::{ActionError, ActionIo, Registry, Results};
use crate::registry_client::{Digest, Error, Reference};

const ACTION: &str = "rmi";

/// Validated rmi params.
pub(crate) struct RmiParams {
    targets: Vec<(String, Dest)>,
}

impl RmiParams {
    pub(crate) fn parse(
        map: &Map<String, Value>,
        registry: &Registry,
    ) -> Result<RmiParams, ActionError> {
        let p = Params::new(ACTION, map);
        let _ = p.string("options")?;
        let list = p.required("image", "space-separated REPO:TAG or REPO@sha256:DIGEST")?;
        let mut targets = Vec::new();
        for item in list.split_whitespace() {
            let dest = match item.rsplit_once('@') {
                // By digest: parse_dest refuses digests for destinations; check the path
                // with it, then keep the digest.
                Some((path, digest)) => {
                    let d = parse_dest(registry, path, None).map_err(|e| p.error("image", e))?;
                    let reference =
                        Reference::parse_in(&registry.netloc, &format!("{}@{digest}", d.repo))
                            .map_err(|e| p.error("image", e.to_string()))?;
                    Dest {
                        display: format!("{}@{digest}", d.repo),
                        repo: d.repo,
                        reference,
                    }
                }
                None => {
                    let mut d =
                        parse_dest(registry, item, None).map_err(|e| p.error("image", e))?;
                    d.display = format!("{}{}", d.repo, d.reference.suffix());
                    d
                }
            };
            targets.push((item.to_string(), dest));
        }
        Ok(RmiParams { targets })
    }
}

pub(crate) async fn run(
    p: RmiParams,
    registry: &Registry,
    io: &dyn ActionIo,
) -> Result<Results, ActionError> {
    if !registry.storage_delete {
        return Err(ActionError::Refused {
            action: ACTION.into(),
            message: format!(
                "deleting is disabled (storage-delete=false), nothing was deleted; run \
                 `juju config {} storage-delete=true` first",
                registry.application
            ),
        });
    }
    check_writable(registry, ACTION)?;
    let err = ActionError::registry(ACTION);
    let dst = connect_dest(registry, ACTION).await?;
    // Resolve everything before deleting anything.
    let mut resolved: Vec<(String, String, Digest)> = Vec::new();
    for (input, dest) in &p.targets {
        let digest = match dest.reference.digest() {
            Some(d) => dst
                .head_manifest(&dest.repo, &d.to_string())
                .await
                .map_err(&err)?
                .map(|_| d.clone()),
            None => dst
                .head_manifest(&dest.repo, &dest.reference.manifest_ref())
                .await
                .map_err(&err)?,
        };
        let digest = digest.ok_or_else(|| ActionError::Failed {
            action: ACTION.into(),
            message: format!(
                "{input} not found in {}; nothing was deleted",
                registry.netloc
            ),
        })?;
        if !resolved
            .iter()
            .any(|(_, r, d)| *r == dest.repo && *d == digest)
        {
            resolved.push((dest.display.clone(), dest.repo.clone(), digest));
        }
    }
    let mut lines = Vec::new();
    let mut r = Results::default();
    for (i, (shown, repo, digest)) in resolved.iter().enumerate() {
        let also = tags_of(&dst, repo, digest).await.map_err(&err)?;
        dst.delete_manifest(repo, digest).await.map_err(&err)?;
        let line = if also.is_empty() {
            format!("deleted {shown} ({digest})")
        } else {
            format!(
                "deleted {shown} ({digest}); tags removed with it: {}",
                also.join(", ")
            )
        };
        io.log(&format!("rmi: {line}"));
        lines.push(line);
        let k = |f: &str| format!("deleted.{}.{f}", i + 1);
        r.set(k("image"), shown);
        r.set(k("digest"), digest.to_string());
        if !also.is_empty() {
            r.set(k("tags"), also.join(" "));
        }
    }
    lines.push("disk space is freed by the gc action".into());
    let mut out = Results::default();
    out.set("output", lines.join("\n"));
    out.set("count", resolved.len().to_string());
    for (k, v) in r.iter() {
        out.set(k, v);
    }
    Ok(out)
}

/// Tags of `repo` that point at `digest` (they go with it).
async fn tags_of(
    dst: &crate::registry_client::Client,
    repo: &str,
    digest: &Digest,
) -> crate::registry_client::Result<Vec<String>> {
    let mut out = Vec::new();
    let tags = match dst.tags(repo).await {
        Ok(t) => t,
        Err(Error::NotFound { .. }) => return Ok(out),
        Err(e) => return Err(e),
    };
    for t in tags {
        if dst.head_manifest(repo, &t).await?.as_ref() == Some(digest) {
            out.push(t);
        }
    }
    Ok(out)
}
