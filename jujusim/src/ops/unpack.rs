//! Charm files onto disk: a charm directory copied or a `.charm` zip unpacked.
use super::OpError;
use std::path::Path;

/// Copy a charm directory or unpack a `.charm` zip into `dest`.
pub fn unpack_charm(src: &Path, dest: &Path) -> Result<(), OpError> {
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(OpError::io("removing", dest))?;
    }
    std::fs::create_dir_all(dest).map_err(OpError::io("creating", dest))?;
    if src.is_dir() {
        return copy_dir(src, dest);
    }
    let f = std::fs::File::open(src).map_err(OpError::io("cannot open charm", src))?;
    let mut z = zip::ZipArchive::new(f).map_err(|source| OpError::NotACharm {
        path: src.to_path_buf(),
        source,
    })?;
    z.extract(dest).map_err(|source| OpError::Unzip {
        path: src.to_path_buf(),
        source,
    })
}

/// Replace the charm's own files in a unit's charm directory: every file the `old`
/// charm revision shipped is removed, then the `new` revision is copied in. Files the
/// charm made itself (ops keeps `.unit-state.db` there) stay, as Juju's charm deployer
/// keeps them across `juju refresh` (docs/juju.md#refresh).
pub fn replace_charm(old: &Path, new: &Path, unit_charm: &Path) -> Result<(), OpError> {
    remove_listed(old, unit_charm)?;
    copy_dir(new, unit_charm)
}

/// Remove from `dest` every file (or symlink) that exists at the same path under `src`.
fn remove_listed(src: &Path, dest: &Path) -> Result<(), OpError> {
    let entries = match std::fs::read_dir(src) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OpError::io("reading", src)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(OpError::io("reading", src))?;
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        let ft = entry.file_type().map_err(OpError::io("stat", &from))?;
        if ft.is_dir() && !ft.is_symlink() {
            if to.is_dir() {
                remove_listed(&from, &to)?;
            }
        } else if to.symlink_metadata().is_ok() {
            std::fs::remove_file(&to).map_err(OpError::io("removing", &to))?;
        }
    }
    Ok(())
}

/// Recursive copy keeping modes and symlinks.
pub fn copy_dir(src: &Path, dest: &Path) -> Result<(), OpError> {
    std::fs::create_dir_all(dest).map_err(OpError::io("creating", dest))?;
    let entries = std::fs::read_dir(src).map_err(OpError::io("reading", src))?;
    for entry in entries {
        let entry = entry.map_err(OpError::io("reading", src))?;
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        let ft = entry.file_type().map_err(OpError::io("stat", &from))?;
        if ft.is_symlink() {
            let target = std::fs::read_link(&from).map_err(OpError::io("readlink", &from))?;
            if to.symlink_metadata().is_ok() {
                std::fs::remove_file(&to).map_err(OpError::io("removing", &to))?;
            }
            std::os::unix::fs::symlink(target, &to).map_err(OpError::io("symlink", &to))?;
        } else if ft.is_dir() {
            copy_dir(&from, &to)?;
        } else {
            std::fs::copy(&from, &to).map_err(|source| OpError::Copy {
                from: from.clone(),
                to: to.clone(),
                source,
            })?;
        }
    }
    Ok(())
}
