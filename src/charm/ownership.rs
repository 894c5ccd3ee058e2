//! Files the charm owns: it writes only what changed, records what it wrote, sets aside
//! a file it did not write before writing over it, and gives it back when it lets go
//! (B22, docs/python-charm-bugs.md#b22). Decided on the builder's `Disk` (the files as the
//! view read them plus the plan's own steps so far), so every decision here is pure.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::workload::files::FileSpec;

use super::builder::{Builder, PlanError};
use super::local::{self, Displaced, LocalState};

/// The paths the protocol decides from: what the charm wrote or set aside, and the copies.
pub fn paths(local: &LocalState) -> BTreeSet<PathBuf> {
    let mut out: BTreeSet<PathBuf> = [local::STATE_DIR, local::DISPLACED_DIR]
        .into_iter()
        .map(PathBuf::from)
        .collect();
    out.extend(local.owned.keys().cloned());
    for (path, kept) in &local.displaced {
        out.insert(path.clone());
        out.insert(kept.backup.clone());
    }
    out
}

/// A file the charm wants on the machine (contents may be secret: never logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Where.
    pub path: PathBuf,
    /// What.
    pub contents: Vec<u8>,
    /// Mode and owner.
    pub spec: FileSpec,
}

/// Writes `w` (when it differs), recording it as the charm's. A missing parent directory
/// (a tls-*-path in a new directory) is created 0755; an existing one is left as it is.
pub fn put(p: &mut Builder, w: &Wanted) -> Result<bool, PlanError> {
    if let Some(parent) = w.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !p.disk.exists(parent)? {
            p.ensure_dir(parent, 0o755, None);
        }
    }
    let changed = p.write(&w.path, &w.contents, w.spec);
    p.local
        .owned
        .insert(w.path.clone(), local::sha256(&w.contents));
    Ok(changed)
}

/// Writes `w` over a path operators may use, setting aside what is there first. After
/// such a first write the state is saved at once: a hook that stopped before its end
/// must not take the charm's file for an operator's edit next time.
pub fn put_over_operator(p: &mut Builder, w: &Wanted) -> Result<bool, PlanError> {
    let took_over = set_aside(p, &w.path)?;
    let changed = put(p, w)?;
    if took_over {
        p.checkpoint();
    }
    Ok(changed)
}

/// Before the charm's first write at an operator path (tls-*-path), a file there that the
/// charm did not write (the operator's, or the Python charm's) is copied aside with its
/// mode and owner, so that [`drop_owned`] can give it back. The record is saved before
/// the original is overwritten: an interrupted hook never loses it. True when something
/// was set aside.
///
/// A file the operator changed while the charm managed the path is set aside the same way
/// (the charm's source still wins); the copy set aside before it stays where it is.
fn set_aside(p: &mut Builder, path: &Path) -> Result<bool, PlanError> {
    let Some(current) = p.disk.read(path)?.map(<[u8]>::to_vec) else {
        return Ok(false);
    };
    if p.local.owns(path, &current) {
        return Ok(false);
    }
    let sha = local::sha256(&current);
    if p.local.displaced.get(path).is_some_and(|d| d.sha256 == sha) {
        // Already kept (a hook that stopped between setting aside and writing).
        return Ok(false);
    }
    let Some(meta) = p.disk.stat(path)? else {
        return Ok(false);
    };
    // A link's own mode says nothing about what it points to: keep the copy root-only.
    let (mode, uid, gid) = if meta.is_symlink {
        p.warn(format!(
            "{} is a symbolic link: the charm replaces the link (not the file it points to) \
             and keeps a root-only copy of its content",
            path.display()
        ));
        (0o600, 0, 0)
    } else {
        (meta.mode, meta.uid, meta.gid)
    };
    let backup = local::displaced_path(path, &sha);
    p.ensure_dir(Path::new(local::STATE_DIR), 0o700, None);
    p.ensure_dir(Path::new(local::DISPLACED_DIR), 0o700, None);
    p.write(&backup, &current, FileSpec::mode(mode).owned_by((uid, gid)));
    let record = Displaced {
        backup: backup.clone(),
        sha256: sha,
        mode,
        uid,
        gid,
    };
    if let Some(earlier) = p.local.displaced.insert(path.to_path_buf(), record) {
        p.warn(format!(
            "{} was changed while the charm managed it; the file set aside before that \
             stays at {} and is not put back",
            path.display(),
            earlier.backup.display()
        ));
    }
    p.info(format!(
        "set aside {} (not written by this charm) as {}; it is put back when the charm \
         stops managing that path",
        path.display(),
        backup.display()
    ));
    p.checkpoint();
    Ok(true)
}

/// The charm stops managing `path`: a file it set aside from there comes back (content,
/// mode, owner), else its own file goes. A file that changed since the charm wrote it
/// (or that is gone) is the operator's doing and is never touched.
pub fn drop_owned(p: &mut Builder, path: &Path) -> Result<(), PlanError> {
    let current = p.disk.read(path)?.map(<[u8]>::to_vec);
    let ours = current.as_deref().is_some_and(|c| p.local.owns(path, c));
    match p.local.displaced.remove(path) {
        Some(kept) if ours => give_back(p, path, &kept)?,
        // Put back already (a hook that stopped before forgetting the record).
        Some(kept) if current.as_deref().map(local::sha256).as_ref() == Some(&kept.sha256) => {
            p.remove(&kept.backup);
        }
        Some(kept) => p.warn(format!(
            "{} {} since the charm wrote it, so it is left as it is; the file the charm set \
             aside from there stays at {}",
            path.display(),
            if current.is_some() {
                "changed"
            } else {
                "was removed"
            },
            kept.backup.display()
        )),
        None if ours => {
            p.remove(path);
        }
        None => {}
    }
    p.local.owned.remove(path);
    Ok(())
}

/// Puts a set-aside file back where it came from and drops the copy.
fn give_back(p: &mut Builder, path: &Path, kept: &Displaced) -> Result<(), PlanError> {
    let Some(contents) = p.disk.read(&kept.backup)?.map(<[u8]>::to_vec) else {
        p.warn(format!(
            "the copy of {} set aside at {} is gone; removing the charm's file only",
            path.display(),
            kept.backup.display()
        ));
        p.remove(path);
        return Ok(());
    };
    let spec = FileSpec::mode(kept.mode).owned_by((kept.uid, kept.gid));
    p.write(path, &contents, spec);
    p.remove(&kept.backup);
    p.info(format!(
        "put back {} (set aside at {} when the charm started managing it)",
        path.display(),
        kept.backup.display()
    ));
    Ok(())
}

/// Lets go of every path the charm wrote or set aside that is not in `managed` (a
/// tls-*-path changed, the nrpe relation is gone: B7 in docs/python-charm-bugs.md#b7).
pub fn drop_unmanaged(p: &mut Builder, managed: &[PathBuf]) -> Result<(), PlanError> {
    let stale: BTreeSet<PathBuf> = p
        .local
        .owned
        .keys()
        .chain(p.local.displaced.keys())
        .filter(|path| !managed.contains(path))
        .cloned()
        .collect();
    for path in stale {
        p.info(format!("the charm no longer manages {}", path.display()));
        drop_owned(p, &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::steps::{FileStep, Step};
    use crate::charm::view::{Entry, Observed};

    const CERT: &str = "/etc/docker/registry/registry.crt";

    fn disk(entries: &[(&str, Option<Entry>)]) -> Observed {
        let mut o: Observed = entries
            .iter()
            .map(|(p, e)| (PathBuf::from(p), e.clone()))
            .collect();
        o.insert(local::STATE_DIR.into(), Some(Entry::dir(0o700, (0, 0))));
        o.insert(local::DISPLACED_DIR.into(), None);
        o.insert(
            "/etc/docker/registry".into(),
            Some(Entry::dir(0o755, (0, 0))),
        );
        o
    }

    fn wanted(contents: &str) -> Wanted {
        Wanted {
            path: CERT.into(),
            contents: contents.as_bytes().to_vec(),
            spec: FileSpec::mode(0o644),
        }
    }

    #[test]
    fn an_operator_file_is_copied_and_recorded_before_it_is_overwritten() {
        let observed = disk(&[(CERT, Some(Entry::file(b"operator", 0o640, (0, 7))))]);
        let mut p = Builder::new(LocalState::default(), &observed);
        assert!(put_over_operator(&mut p, &wanted("ours")).unwrap());
        let plan = p.finish();
        let kinds: Vec<String> = plan
            .steps
            .iter()
            .map(|s| match s {
                Step::File(FileStep::Write { path, .. }) => format!("write {}", path.display()),
                Step::File(FileStep::EnsureDir { path, .. }) => format!("dir {}", path.display()),
                Step::SaveState(_) => "save".into(),
                Step::Log(_) => "log".into(),
                other => format!("{other:?}"),
            })
            .collect();
        let backup = local::displaced_path(Path::new(CERT), &local::sha256(b"operator"));
        assert_eq!(
            kinds,
            [
                format!("dir {}", local::DISPLACED_DIR),
                format!("write {}", backup.display()),
                "log".into(),
                "save".into(),
                format!("write {CERT}"),
                "save".into(),
            ],
            "the copy and its record are saved before the original is overwritten"
        );
        let local = plan.local.unwrap();
        assert_eq!(local.displaced[Path::new(CERT)].mode, 0o640);
        assert!(local.owns(Path::new(CERT), b"ours"));
    }

    #[test]
    fn letting_go_gives_the_original_back_and_drops_the_copy() {
        let backup = local::displaced_path(Path::new(CERT), &local::sha256(b"operator"));
        let mut before = LocalState::default();
        before.owned.insert(CERT.into(), local::sha256(b"ours"));
        before.displaced.insert(
            CERT.into(),
            Displaced {
                backup: backup.clone(),
                sha256: local::sha256(b"operator"),
                mode: 0o640,
                uid: 0,
                gid: 7,
            },
        );
        let observed = disk(&[
            (CERT, Some(Entry::file(b"ours", 0o644, (0, 0)))),
            (
                backup.to_str().unwrap(),
                Some(Entry::file(b"operator", 0o640, (0, 7))),
            ),
        ]);
        let mut p = Builder::new(before, &observed);
        drop_owned(&mut p, Path::new(CERT)).unwrap();
        assert_eq!(
            p.disk.read(Path::new(CERT)).unwrap(),
            Some(&b"operator"[..])
        );
        assert_eq!(p.disk.stat(Path::new(CERT)).unwrap().unwrap().gid, 7);
        assert!(!p.disk.exists(&backup).unwrap());
        let local = p.finish().local.unwrap();
        assert!(local.owned.is_empty() && local.displaced.is_empty());
    }

    #[test]
    fn a_hand_edited_file_is_left_alone_with_a_warning() {
        let mut before = LocalState::default();
        before.owned.insert(CERT.into(), local::sha256(b"ours"));
        let observed = disk(&[(CERT, Some(Entry::file(b"edited", 0o644, (0, 0))))]);
        let mut p = Builder::new(before, &observed);
        drop_owned(&mut p, Path::new(CERT)).unwrap();
        let plan = p.finish();
        assert!(plan.files().is_empty(), "{:?}", plan.steps);
        assert!(plan.local.unwrap().owned.is_empty());
    }

    #[test]
    fn deciding_from_a_path_the_view_did_not_read_is_an_error() {
        let mut p = Builder::new(LocalState::default(), &Observed::new());
        assert!(matches!(
            drop_owned(&mut p, Path::new("/etc/other")),
            Err(PlanError::Unobserved(_))
        ));
    }
}
