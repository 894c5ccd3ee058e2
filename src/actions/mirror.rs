//! `mirror images="a b c" | list=PATH [release=] [dest-prefix=] [platform=] [src-*]`:
//! pushes many images, a few at a time, past failures; one result line per image and a
//! summary. Each lands at `<this registry>[/<dest-prefix path>]/<path as written>`.
//!
//! # Format of `list`
//! ```text
//! # one reference per line
//! rocks.canonical.com/cdk/pause:3.9
//! ```
//! or Charmed Kubernetes' `container-images.txt`, one release per line:
//! ```text
//! v1.28.1: rocks.canonical.com/cdk/pause:3.9 rocks.canonical.com/cdk/coredns/coredns:1.10.1
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::params::{Params, SourceAccess};
use super::progress::{human, with_progress};
use super::push::BLOB_CONCURRENCY;
use super::target::{
    check_writable, connect_dest, connect_source, default_dest, is_this_registry, named_reference,
};
use super::{ActionError, ActionIo, Registry, Results};
use crate::registry_client::reference::split_host;
use crate::registry_client::source::open_local;
use crate::registry_client::{
    Client, Copier, CopyReport, CopyRequest, Platform, Progress, Reference, Source, SourceSpec,
};

const ACTION: &str = "mirror";
/// Images copied at once.
const IMAGE_CONCURRENCY: usize = 4;

/// Validated mirror params.
pub(crate) struct MirrorParams {
    images: Vec<(String, SourceSpec)>,
    prefix: Option<String>,
    access: SourceAccess,
    platform: Option<Platform>,
    signatures: bool,
}

/// The references in a list file; `release` picks a line of the
/// `<release>: ref ref ...` format.
pub fn parse_image_list(text: &str, release: Option<&str>) -> Result<Vec<String>, String> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let releases: Vec<(usize, &str, &str)> = lines
        .iter()
        .filter_map(|(n, l)| {
            let (head, rest) = l.split_once(char::is_whitespace)?;
            Some((*n, head.strip_suffix(':')?, rest.trim()))
        })
        .collect();
    if releases.is_empty() {
        if let Some(r) = release {
            return Err(format!(
                "release={r} given but the list has no `<release>: ref ref ...` lines"
            ));
        }
        if let Some((n, l)) = lines.iter().find(|(_, l)| l.contains(char::is_whitespace)) {
            return Err(format!(
                "line {n}: {l:?} holds spaces; expected one reference per line"
            ));
        }
        return Ok(lines.iter().map(|(_, l)| l.to_string()).collect());
    }
    if let Some((n, l)) = lines
        .iter()
        .find(|(n, _)| !releases.iter().any(|(m, _, _)| m == n))
    {
        return Err(format!(
            "line {n}: {l:?} is not `<release>: ref ref ...` like the other lines"
        ));
    }
    let names = || {
        releases
            .iter()
            .map(|(_, r, _)| *r)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let line = match release {
        Some(want) => releases
            .iter()
            .find(|(_, r, _)| *r == want)
            .ok_or_else(|| format!("no release {want:?} in the list (it has {})", names()))?,
        None if releases.len() == 1 => &releases[0],
        None => {
            return Err(format!(
                "the list has releases {}: give release=<one of them>",
                names()
            ))
        }
    };
    Ok(line.2.split_whitespace().map(str::to_string).collect())
}

impl MirrorParams {
    pub(crate) fn parse(
        map: &Map<String, Value>,
        registry: &Registry,
    ) -> Result<MirrorParams, ActionError> {
        let p = Params::new(ACTION, map);
        let release = p.string("release")?;
        let refs = match (p.string("images")?, p.string("list")?) {
            (Some(images), None) => {
                if release.is_some() {
                    return Err(p.error("release", "only applies with list=PATH"));
                }
                images.split_whitespace().map(str::to_string).collect()
            }
            (None, Some(list)) => {
                let text = std::fs::read_to_string(&list)
                    .map_err(|e| p.error("list", format!("cannot read {list}: {e}")))?;
                parse_image_list(&text, release.as_deref())
                    .map_err(|e| p.error("list", format!("{list}: {e}")))?
            }
            (Some(_), Some(_)) => return Err(p.error("images", "give images or list, not both")),
            (None, None) => {
                return Err(p.error(
                    "images",
                    "missing: give images=\"REF REF ...\" or list=PATH (one reference per line)",
                ))
            }
        };
        if refs.is_empty() {
            return Err(p.error("images", "no image to mirror"));
        }
        let mut images = Vec::new();
        for r in refs {
            let spec = SourceSpec::parse(&r).map_err(|e| p.error("images", e.to_string()))?;
            images.push((r, spec));
        }
        let prefix = p
            .string("dest-prefix")?
            .map(|input| parse_prefix(registry, &input).map_err(|e| p.error("dest-prefix", e)))
            .transpose()?
            .filter(|s| !s.is_empty());
        Ok(MirrorParams {
            images,
            prefix,
            access: p.source_access()?,
            platform: p.platform()?,
            signatures: p.bool("signatures", true)?,
        })
    }
}

/// `[this-registry/]path/prefix` -> `path/prefix` (may be empty).
fn parse_prefix(registry: &Registry, input: &str) -> Result<String, String> {
    let (host, path) = match split_host(input) {
        (Some(h), p) => (Some(h), p),
        // A bare host with no path (`10.0.0.1:5000`).
        (None, p) if p.contains(['.', ':']) && !p.contains('/') => (Some(p), ""),
        (None, p) => (None, p),
    };
    if let Some(h) = host {
        if !is_this_registry(registry, h) {
            return Err(format!(
                "{input:?} names registry {h}, not this one: use {}/<prefix> or a bare <prefix>",
                registry.netloc
            ));
        }
    }
    let path = path.trim_matches('/');
    if !path.is_empty() {
        Reference::parse_in(&registry.netloc, path).map_err(|e| e.to_string())?;
    }
    Ok(path.to_string())
}

enum Outcome {
    Copied { dest: String, report: CopyReport },
    Failed(String),
}

struct Ctx<'a> {
    registry: &'a Registry,
    params: &'a MirrorParams,
    dst: Arc<Client>,
    copier: Copier<'a>,
    sources: tokio::sync::Mutex<HashMap<String, Arc<Client>>>,
    io: &'a dyn ActionIo,
}

impl Ctx<'_> {
    async fn source(&self, host: &str) -> Result<Arc<Client>, ActionError> {
        let mut cache = self.sources.lock().await;
        if let Some(c) = cache.get(host) {
            return Ok(c.clone());
        }
        let c = connect_source(self.registry, host, &self.params.access, ACTION).await?;
        cache.insert(host.to_string(), c.clone());
        Ok(c)
    }

    async fn one(&self, input: &str, spec: &SourceSpec) -> Outcome {
        match self.try_one(input, spec).await {
            Ok((dest, report)) => Outcome::Copied { dest, report },
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    async fn try_one(
        &self,
        input: &str,
        spec: &SourceSpec,
    ) -> Result<(String, CopyReport), ActionError> {
        let err = ActionError::registry(ACTION);
        let prefix = self.params.prefix.as_deref();
        let (source, root, dest) = match spec {
            SourceSpec::Registry(r) => {
                let client = self.source(r.api_host()).await?;
                let root = client
                    .get_manifest(r.repository(), &r.manifest_ref())
                    .await
                    .map_err(&err)?;
                let dest =
                    default_dest(self.registry, prefix, r).map_err(|e| ActionError::Failed {
                        action: ACTION.into(),
                        message: e,
                    })?;
                let source = Source::Registry {
                    client,
                    repo: r.repository().to_string(),
                };
                (source, root, dest)
            }
            local => {
                let opened = open_local(local).map_err(&err)?;
                let named =
                    named_reference(opened.name.as_deref()).ok_or_else(|| ActionError::Failed {
                        action: ACTION.into(),
                        message: format!("{input} does not name its image; push it with tag="),
                    })?;
                let dest = default_dest(self.registry, prefix, &named).map_err(|e| {
                    ActionError::Failed {
                        action: ACTION.into(),
                        message: e,
                    }
                })?;
                (opened.source, opened.root, dest)
            }
        };
        let progress = Progress::default();
        let report = with_progress(
            self.io,
            &format!("mirror {}", dest.display),
            &progress,
            self.copier.copy(
                CopyRequest {
                    source: &source,
                    root,
                    repo: dest.repo.clone(),
                    tag: dest.tag(),
                    platform: self.params.platform.clone(),
                    signatures: self.params.signatures,
                },
                &progress,
            ),
        )
        .await
        .map_err(&err)?;
        Ok((dest.display, report))
    }
}

pub(crate) async fn run(
    p: MirrorParams,
    registry: &Registry,
    io: &dyn ActionIo,
) -> Result<Results, ActionError> {
    check_writable(registry, ACTION)?;
    let start = Instant::now();
    let dst = Arc::new(connect_dest(registry, ACTION).await?);
    let ctx = Ctx {
        registry,
        params: &p,
        copier: Copier::new(&dst, BLOB_CONCURRENCY),
        dst: dst.clone(),
        sources: tokio::sync::Mutex::new(HashMap::new()),
        io,
    };
    let outcomes: Vec<(usize, Outcome)> = futures_util::stream::iter(p.images.iter().enumerate())
        .map(|(i, (input, spec))| {
            let ctx = &ctx;
            async move {
                let out = ctx.one(input, spec).await;
                match &out {
                    Outcome::Copied { dest, report } => io.log(&format!(
                        "mirror: {input} -> {dest}: {} copied",
                        human(report.bytes_copied)
                    )),
                    Outcome::Failed(e) => io.log(&format!("mirror: {input} failed: {e}")),
                }
                (i, out)
            }
        })
        .buffer_unordered(IMAGE_CONCURRENCY)
        .collect()
        .await;
    let _ = &ctx.dst;
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|(i, _)| *i);
    let mut r = Results::default();
    let mut lines = Vec::new();
    let (mut copied, mut failed, mut bytes) = (0, 0, 0u64);
    for (i, out) in &outcomes {
        let input = &p.images[*i].0;
        let k = |f: &str| format!("images.{}.{f}", i + 1);
        r.set(k("source"), input);
        match out {
            Outcome::Copied { dest, report } => {
                copied += 1;
                bytes += report.bytes_copied;
                let digest = report
                    .digest
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                lines.push(format!(
                    "ok      {input} -> {dest} {digest} ({} copied, {} blobs skipped)",
                    human(report.bytes_copied),
                    report.blobs_skipped + report.blobs_mounted
                ));
                r.set(k("result"), "copied");
                r.set(k("destination"), dest);
                r.set(k("digest"), digest);
                r.set(k("bytes-copied"), report.bytes_copied.to_string());
            }
            Outcome::Failed(e) => {
                failed += 1;
                lines.push(format!("failed  {input}: {e}"));
                r.set(k("result"), "failed");
                r.set(k("error"), e);
            }
        }
    }
    let summary = format!(
        "{copied} of {} images mirrored, {failed} failed; {} copied in {:.1} s",
        outcomes.len(),
        human(bytes),
        start.elapsed().as_secs_f64()
    );
    lines.push(summary.clone());
    let mut out = Results::default();
    out.set("output", lines.join("\n"));
    out.set("summary", &summary);
    out.set("copied", copied.to_string());
    out.set("failed", failed.to_string());
    out.set("bytes-copied", bytes.to_string());
    for (k, v) in r.iter() {
        out.set(k, v);
    }
    if failed > 0 {
        return Err(ActionError::Incomplete {
            action: ACTION.into(),
            message: summary,
            results: out,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_image_list;

    #[test]
    fn plain_lists() {
        let l = parse_image_list("# c\n\na/b:1\n  c:2 \n", None).unwrap();
        assert_eq!(l, ["a/b:1", "c:2"]);
        assert!(parse_image_list("a b\n", None)
            .unwrap_err()
            .contains("line 1"));
        assert!(parse_image_list("a\n", Some("v1")).is_err());
    }

    #[test]
    fn charmed_kubernetes_lists() {
        let text = "v1.28.1: r/a:1 r/b:2\nv1.29.0: r/a:3\n";
        assert_eq!(parse_image_list(text, Some("v1.29.0")).unwrap(), ["r/a:3"]);
        let e = parse_image_list(text, None).unwrap_err();
        assert!(e.contains("v1.28.1, v1.29.0"), "{e}");
        assert!(parse_image_list(text, Some("v9"))
            .unwrap_err()
            .contains("v9"));
        assert_eq!(parse_image_list("v1: x y\n", None).unwrap(), ["x", "y"]);
    }
}
