//! The service user and the registry's data directory.
//!
//! `/srv/registry` is where the Python charm kept images (mounted into its container, where
//! the registry ran as root). A unit switched to this charm keeps that data: we only give it
//! to the service user, never move or delete it.

use std::path::{Path, PathBuf};

use nix::unistd::User;

use super::files::{Changed, Files, FilesError, Owner};

/// The account the registry runs as (created by the docker-registry package).
pub const SERVICE_USER: &str = "docker-registry";

/// The registry's filesystem storage root (the Python charm's host path).
pub const DATA_DIR: &str = "/srv/registry";

/// A user or data-directory problem.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The user database could not be read.
    #[error("could not look up user {user}: {source}")]
    Lookup {
        /// The user name.
        user: String,
        /// The error from getpwnam_r.
        #[source]
        source: nix::Error,
    },
    /// The user does not exist.
    #[error("user {user} does not exist; it is created by the docker-registry package (apt-get install docker-registry)")]
    NoSuchUser {
        /// The user name.
        user: String,
    },
    /// The data path is not a directory.
    #[error(
        "{path} is not a directory; the registry stores images there. Move it aside, then retry"
    )]
    NotADirectory {
        /// The data path.
        path: PathBuf,
    },
    /// A file operation failed.
    #[error(transparent)]
    Files(#[from] FilesError),
}

/// `(uid, gid)` of a user, by name.
pub fn user_ids(name: &str) -> Result<Owner, UsersError> {
    let user = User::from_name(name)
        .map_err(|source| UsersError::Lookup {
            user: name.into(),
            source,
        })?
        .ok_or_else(|| UsersError::NoSuchUser { user: name.into() })?;
    Ok((user.uid.as_raw(), user.gid.as_raw()))
}

/// `(uid, gid)` of the `docker-registry` user.
pub fn service_user() -> Result<Owner, UsersError> {
    user_ids(SERVICE_USER)
}

/// Whether the service user `(uid, gid)` may read a file with `meta` by its mode bits
/// (its supplementary groups count; ACLs and a symlink's target are not looked at, so a
/// doubt answers yes).
pub fn can_read(meta: &super::files::FileMeta, owner: Owner) -> bool {
    if meta.mode & 0o004 != 0 || owner.0 == 0 {
        return true;
    }
    if meta.uid == owner.0 {
        return meta.mode & 0o400 != 0;
    }
    if meta.mode & 0o040 == 0 {
        return false;
    }
    meta.gid == owner.1 || service_groups().contains(&meta.gid)
}

/// The service user's supplementary group ids (empty when they cannot be read).
fn service_groups() -> Vec<u32> {
    let Ok(name) = std::ffi::CString::new(SERVICE_USER) else {
        return Vec::new();
    };
    let Ok(Some(user)) = User::from_name(SERVICE_USER) else {
        return Vec::new();
    };
    nix::unistd::getgrouplist(&name, user.gid)
        .map(|gs| gs.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default()
}

/// Makes `path` a data directory owned by `owner`: created 0750 when missing; when it exists
/// with another owner (data from the Python charm), re-owns the whole tree. Never chmods,
/// moves or deletes existing data.
pub fn prepare_data_dir(
    files: &dyn Files,
    path: &Path,
    owner: Owner,
) -> Result<Changed, UsersError> {
    match files.stat(path)? {
        None => Ok(files.ensure_dir(path, 0o750, Some(owner))?),
        Some(meta) if !meta.is_dir => Err(UsersError::NotADirectory {
            path: path.to_path_buf(),
        }),
        Some(meta) if (meta.uid, meta.gid) != owner => {
            tracing::info!(path = %path.display(), from = ?(meta.uid, meta.gid), to = ?owner, "re-owning existing registry data");
            Ok(files.chown_tree(path, owner)?)
        }
        Some(_) => Ok(Changed::No),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::files::{FileOp, RecordingFiles};

    #[test]
    fn missing_data_dir_is_created_0750_for_the_user() {
        let f = RecordingFiles::new();
        let p = Path::new(DATA_DIR);
        assert_eq!(prepare_data_dir(&f, p, (102, 105)).unwrap(), Changed::Yes);
        let meta = f.stat(p).unwrap().unwrap();
        assert_eq!(
            (meta.mode, meta.uid, meta.gid, meta.is_dir),
            (0o750, 102, 105, true)
        );
        assert_eq!(prepare_data_dir(&f, p, (102, 105)).unwrap(), Changed::No);
    }

    #[test]
    fn root_owned_data_from_the_python_charm_is_reowned_not_touched_otherwise() {
        let f = RecordingFiles::new();
        f.seed_dir(DATA_DIR, 0o755, (0, 0));
        f.seed_file(
            "/srv/registry/docker/registry/v2/blobs/x",
            b"layer",
            0o644,
            (0, 0),
        );
        assert_eq!(
            prepare_data_dir(&f, Path::new(DATA_DIR), (102, 105)).unwrap(),
            Changed::Yes
        );
        assert!(matches!(f.ops().as_slice(), [FileOp::ChownTree { .. }]));
        let meta = f.stat(Path::new(DATA_DIR)).unwrap().unwrap();
        assert_eq!(meta.mode, 0o755, "an existing data dir keeps its mode");
        assert_eq!(
            f.contents("/srv/registry/docker/registry/v2/blobs/x")
                .as_deref(),
            Some(&b"layer"[..])
        );
    }

    #[test]
    fn readability_by_the_service_user_follows_the_mode_bits() {
        let meta = |mode, uid, gid| super::super::files::FileMeta {
            is_dir: false,
            is_symlink: false,
            mode,
            uid,
            gid,
        };
        let user = (102, 105);
        assert!(!can_read(&meta(0o600, 0, 0), user), "root-only key");
        assert!(!can_read(&meta(0o640, 0, 0), user));
        assert!(can_read(&meta(0o640, 0, 105), user));
        assert!(can_read(&meta(0o600, 102, 105), user));
        assert!(can_read(&meta(0o644, 0, 0), user));
        assert!(!can_read(&meta(0o000, 102, 105), user));
    }

    #[test]
    fn a_file_in_the_way_is_an_error() {
        let f = RecordingFiles::new();
        f.seed_file(DATA_DIR, b"", 0o644, (0, 0));
        let err = prepare_data_dir(&f, Path::new(DATA_DIR), (102, 105)).unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
    }

    #[test]
    fn service_user_exists_on_this_machine() {
        let (uid, _gid) = service_user().unwrap();
        assert_ne!(uid, 0);
        assert!(matches!(
            user_ids("no-such-user-xyz"),
            Err(UsersError::NoSuchUser { .. })
        ));
    }
}
