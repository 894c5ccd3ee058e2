//! `images [repository=REPO[:TAG]]`: what this registry holds (catalog, tags, digest
//! and total size per tag), as text in `output` and as `images.<n>.*` results.

use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use super::params::Params;
use super::progress::human;
use super::target::{connect_dest, parse_dest};
use super::{ActionError, Registry, Results};
use crate::registry_client::{Client, Error, Manifest};

const ACTION: &str = "images";

/// Validated images params.
pub(crate) struct ImagesParams {
    repo: Option<String>,
    tag: Option<String>,
}

impl ImagesParams {
    pub(crate) fn parse(
        map: &Map<String, Value>,
        registry: &Registry,
    ) -> Result<ImagesParams, ActionError> {
        let p = Params::new(ACTION, map);
        // `options` (the Python charm's `docker images` flags) is accepted and unused.
        let _ = p.string("options")?;
        let Some(input) = p.string("repository")? else {
            return Ok(ImagesParams {
                repo: None,
                tag: None,
            });
        };
        let has_tag = input
            .rsplit_once(':')
            .is_some_and(|(_, t)| !t.contains('/'));
        let dest = parse_dest(registry, &input, None).map_err(|e| p.error("repository", e))?;
        Ok(ImagesParams {
            tag: if has_tag { dest.tag() } else { None },
            repo: Some(dest.repo),
        })
    }
}

/// One tag of one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) repository: String,
    pub(crate) tag: String,
    pub(crate) digest: String,
    pub(crate) size: u64,
    pub(crate) platforms: Vec<String>,
}

async fn describe(dst: &Client, repo: &str, tag: &str) -> crate::registry_client::Result<Row> {
    let m = dst.get_manifest(repo, tag).await?;
    let mut size = m.bytes.len() as u64 + m.manifest.blob_bytes();
    let mut platforms = Vec::new();
    if let Manifest::Index { manifests } = &m.manifest {
        for child in manifests {
            let c = dst.get_manifest(repo, &child.digest.to_string()).await?;
            size += c.bytes.len() as u64 + c.manifest.blob_bytes();
            if let Some(p) = &child.platform {
                platforms.push(p.to_string());
            }
        }
    }
    Ok(Row {
        repository: repo.to_string(),
        tag: tag.to_string(),
        digest: m.digest.to_string(),
        size,
        platforms,
    })
}

pub(crate) async fn run(p: ImagesParams, registry: &Registry) -> Result<Results, ActionError> {
    let err = ActionError::registry(ACTION);
    let dst = connect_dest(registry, ACTION).await?;
    let repos = match &p.repo {
        Some(r) => vec![r.clone()],
        None => dst.catalog().await.map_err(&err)?,
    };
    let mut rows = Vec::new();
    for repo in &repos {
        let tags = match dst.tags(repo).await {
            Ok(t) => t,
            Err(Error::NotFound { .. }) if p.repo.is_none() => continue,
            Err(e) => return Err(err(e)),
        };
        let tags: Vec<String> = tags
            .into_iter()
            .filter(|t| p.tag.as_ref().is_none_or(|want| want == t))
            .collect();
        if let (Some(want), true) = (&p.tag, tags.is_empty()) {
            return Err(err(Error::NotFound {
                registry: registry.netloc.clone(),
                what: format!("tag {want} of {repo}"),
            }));
        }
        let mut found: Vec<Row> = futures_util::stream::iter(tags)
            .map(|t| {
                let dst = &dst;
                async move { describe(dst, repo, &t).await }
            })
            .buffered(8)
            .try_collect()
            .await
            .map_err(&err)?;
        rows.append(&mut found);
    }
    Ok(results(registry, &rows))
}

/// Text table plus structured results.
pub(crate) fn results(registry: &Registry, rows: &[Row]) -> Results {
    let mut r = Results::default();
    r.set("output", table(registry, rows));
    r.set("count", rows.len().to_string());
    for (i, row) in rows.iter().enumerate() {
        let k = |f: &str| format!("images.{}.{f}", i + 1);
        r.set(k("repository"), &row.repository);
        r.set(k("tag"), &row.tag);
        r.set(k("digest"), &row.digest);
        r.set(k("size"), row.size.to_string());
        if !row.platforms.is_empty() {
            r.set(k("platforms"), row.platforms.join(" "));
        }
    }
    r
}

fn table(registry: &Registry, rows: &[Row]) -> String {
    if rows.is_empty() {
        return format!("no images in {}", registry.netloc);
    }
    let head = ["REPOSITORY", "TAG", "DIGEST", "SIZE", "PLATFORMS"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|row| {
            [
                format!("{}/{}", registry.netloc, row.repository),
                row.tag.clone(),
                row.digest.chars().take(19).collect(),
                human(row.size),
                row.platforms.join(","),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for c in &cells {
        for (w, v) in width.iter_mut().zip(c) {
            *w = (*w).max(v.len());
        }
    }
    let line = |c: [&str; 5]| {
        c.iter()
            .zip(width)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(head)];
    out.extend(
        cells
            .iter()
            .map(|c| line([&c[0], &c[1], &c[2], &c[3], &c[4]])),
    );
    out.join("\n")
}
