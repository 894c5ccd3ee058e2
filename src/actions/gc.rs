//! `gc`: the registry's offline garbage collection, and what it freed.
//!
//! The caller (the charm) puts the registry in read-only mode around [`run`] when it
//! can; here are the decisions that need no Juju: refusing shared storage with several
//! units unless already read-only, running `<binary> garbage-collect <config.yml>`, and
//! parsing what it deleted.
//!
//! # Format of garbage-collect's output
//! ```text
//! test/hello: marking manifest sha256:928d...
//! test/hello: marking blob sha256:2614...
//! 3 blobs marked, 2 blobs and 0 manifests eligible for deletion
//! blob eligible for deletion: sha256:3606...
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use super::progress::human;
use super::{ActionError, ActionIo, Registry, Results, StorageKind};
use crate::registry_client::Digest;

const ACTION: &str = "gc";

/// What one garbage-collect run reported.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcSummary {
    /// Blobs still referenced.
    pub blobs_marked: u64,
    /// Blobs it deleted (or would, with --dry-run).
    pub blobs_eligible: u64,
    /// Manifests it deleted.
    pub manifests_eligible: u64,
    /// The digests of the blobs deleted.
    pub blobs: Vec<Digest>,
}

/// Parses garbage-collect's output (stdout and stderr together).
pub fn parse_gc_output(text: &str) -> Result<GcSummary, String> {
    let mut out = GcSummary::default();
    let mut saw_summary = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(d) = line.strip_prefix("blob eligible for deletion: ") {
            if let Ok(d) = Digest::parse(d.trim()) {
                out.blobs.push(d);
            }
            continue;
        }
        // "3 blobs marked, 2 blobs and 0 manifests eligible for deletion"
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [n, "blobs", "marked,", e, "blobs", "and", m, "manifests", "eligible", "for", "deletion"] =
            words.as_slice()
        {
            let num = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| format!("bad count in {line:?}"))
            };
            out.blobs_marked = num(n)?;
            out.blobs_eligible = num(e)?;
            out.manifests_eligible = num(m)?;
            saw_summary = true;
        }
    }
    if !saw_summary {
        return Err("no \"N blobs marked, ...\" summary line in its output".into());
    }
    Ok(out)
}

/// Why gc must not run now, if it must not.
pub fn refusal(registry: &Registry) -> Option<String> {
    match &registry.storage {
        StorageKind::Shared { driver } if registry.units > 1 && !registry.storage_read_only => {
            let app = &registry.application;
            Some(format!(
                "with shared {driver} storage and {} units, every unit must stop writing while \
                 gc runs: run `juju config {app} storage-read-only=true`, then this action \
                 again, then `juju config {app} storage-read-only=false`",
                registry.units
            ))
        }
        _ => None,
    }
}

fn blob_file(root: &Path, d: &Digest) -> PathBuf {
    root.join("docker/registry/v2/blobs/sha256")
        .join(&d.hex()[..2])
        .join(d.hex())
        .join("data")
}

fn garbage_collect(registry: &Registry, dry_run: bool) -> Result<GcSummary, ActionError> {
    let mut cmd = Command::new(&registry.binary);
    cmd.arg("garbage-collect");
    if dry_run {
        cmd.arg("--dry-run");
    }
    cmd.arg(&registry.config_path);
    let failed = |message: String| ActionError::Failed {
        action: ACTION.into(),
        message,
    };
    let out = cmd.output().map_err(|e| {
        failed(format!(
            "cannot run {} garbage-collect: {e}",
            registry.binary.display()
        ))
    })?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(5)..].join("\n");
        return Err(failed(format!(
            "{} garbage-collect failed ({}):\n{tail}",
            registry.binary.display(),
            out.status
        )));
    }
    parse_gc_output(&text).map_err(|e| failed(format!("garbage-collect: {e}")))
}

/// Runs garbage collection and reports what it freed.
pub(crate) fn run(registry: &Registry, io: &dyn ActionIo) -> Result<Results, ActionError> {
    if let Some(message) = refusal(registry) {
        return Err(ActionError::Refused {
            action: ACTION.into(),
            message,
        });
    }
    // Sizes are taken from a dry run first: the real run deletes the files.
    let sizes: Vec<(Digest, u64)> = match &registry.storage {
        StorageKind::Filesystem { root } => {
            let plan = garbage_collect(registry, true)?;
            plan.blobs
                .iter()
                .filter_map(|d| {
                    Some((d.clone(), std::fs::metadata(blob_file(root, d)).ok()?.len()))
                })
                .collect()
        }
        StorageKind::Shared { .. } => Vec::new(),
    };
    io.log("gc: running garbage-collect");
    let done = garbage_collect(registry, false)?;
    let mut r = Results::default();
    r.set("blobs-marked", done.blobs_marked.to_string());
    r.set("blobs-deleted", done.blobs_eligible.to_string());
    r.set("manifests-deleted", done.manifests_eligible.to_string());
    let freed = match &registry.storage {
        StorageKind::Filesystem { root } => {
            let freed: u64 = sizes
                .iter()
                .filter(|(d, _)| done.blobs.contains(d) && !blob_file(root, d).exists())
                .map(|(_, n)| n)
                .sum();
            r.set("bytes-freed", freed.to_string());
            human(freed)
        }
        StorageKind::Shared { driver } => format!("unknown bytes ({driver} storage)"),
    };
    r.set(
        "output",
        format!(
            "deleted {} blobs and {} manifests, freed {freed}; {} blobs still in use",
            done.blobs_eligible, done.manifests_eligible, done.blobs_marked
        ),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_garbage_collect_output() {
        let text = "test/hello: marking manifest sha256:928d\n\
            3 blobs marked, 2 blobs and 1 manifests eligible for deletion\n\
            blob eligible for deletion: sha256:36062a8153aa9190f91d59bccdd6242364daa6f398c465b0c791c7009ee007a5\n\
            time=\"x\" level=info msg=\"Deleting blob: /docker/...\"\n";
        let s = parse_gc_output(text).unwrap();
        assert_eq!(
            (s.blobs_marked, s.blobs_eligible, s.manifests_eligible),
            (3, 2, 1)
        );
        assert_eq!(s.blobs.len(), 1);
        assert!(parse_gc_output("panic: something").is_err());
    }
}
