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
    #[error("could not look up user {user}: {cause}")]
    Lookup {
        /// The user name.
        user: String,
        /// The error from getpwnam_r.
        cause: nix::Error,
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
        .map_err(|cause| UsersError::Lookup {
            user: name.into(),
            cause,
        })?
        .ok_or_else(|| UsersError::NoSuchUser { user: name.into() })?;
    Ok((user.uid.as_raw(), user.gid.as_raw()))
}

/// `(uid, gid)` of the `docker-registry` user.
pub fn service_user() -> Result<Owner, UsersError> {
    user_ids(SERVICE_USER)
}

/// The service user as file permissions see it: uid, primary and supplementary groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its supplementary group ids.
    pub groups: Vec<u32>,
}

impl Account {
    /// `(uid, gid)`, for file ownership.
    pub fn owner(&self) -> Owner {
        (self.uid, self.gid)
    }

    /// Whether this user may read a file with `meta`, by its mode bits (ACLs and a
    /// symlink's target are not looked at, so a doubt answers yes).
    pub fn can_read(&self, meta: &super::files::FileMeta) -> bool {
        if meta.mode & 0o004 != 0 || self.uid == 0 {
            return true;
        }
        if meta.uid == self.uid {
            return meta.mode & 0o400 != 0;
        }
        if meta.mode & 0o040 == 0 {
            return false;
        }
        meta.gid == self.gid || self.groups.contains(&meta.gid)
    }
}

/// The `docker-registry` user with its groups, from the user database.
pub fn service_account() -> Result<Account, UsersError> {
    let (uid, gid) = service_user()?;
    let lookup = |cause| UsersError::Lookup {
        user: SERVICE_USER.into(),
        cause,
    };
    let name = std::ffi::CString::new(SERVICE_USER).map_err(|_| UsersError::NoSuchUser {
        user: SERVICE_USER.into(),
    })?;
    let groups = nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid))
        .map_err(lookup)?
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    Ok(Account { uid, gid, groups })
}

/// What the data directory needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDir {
    /// It is there with the right owner.
    Ready,
    /// It is missing: create it 0750 for the owner.
    Create,
    /// It belongs to someone else (data from the Python charm): re-own the whole tree.
    Reown {
        /// The owner it has.
        from: Owner,
    },
}

/// What `path` (with `meta`, `None` when missing) needs to be the data directory of
/// `owner`; an error when something other than a directory is in the way.
pub fn data_dir_needs(
    path: &Path,
    meta: Option<&super::files::FileMeta>,
    owner: Owner,
) -> Result<DataDir, UsersError> {
    match meta {
        None => Ok(DataDir::Create),
        Some(meta) if !meta.is_dir => Err(UsersError::NotADirectory {
            path: path.to_path_buf(),
        }),
        Some(meta) if (meta.uid, meta.gid) != owner => Ok(DataDir::Reown {
            from: (meta.uid, meta.gid),
        }),
        Some(_) => Ok(DataDir::Ready),
    }
}

/// Makes `path` a data directory owned by `owner`: created 0750 when missing; when it exists
/// with another owner (data from the Python charm), re-owns the whole tree. Never chmods,
/// moves or deletes existing data.
pub fn prepare_data_dir(
    files: &dyn Files,
    path: &Path,
    owner: Owner,
) -> Result<Changed, UsersError> {
    match data_dir_needs(path, files.stat(path)?.as_ref(), owner)? {
        DataDir::Create => Ok(files.ensure_dir(path, 0o750, Some(owner))?),
        DataDir::Reown { from } => {
            tracing::info!(path = %path.display(), ?from, to = ?owner, "re-owning existing registry data");
            Ok(files.chown_tree(path, owner)?)
        }
        DataDir::Ready => Ok(Changed::No),
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
        let user = Account {
            uid: 102,
            gid: 105,
            groups: vec![105, 44],
        };
        assert!(!user.can_read(&meta(0o600, 0, 0)), "root-only key");
        assert!(!user.can_read(&meta(0o640, 0, 0)));
        assert!(user.can_read(&meta(0o640, 0, 105)));
        assert!(user.can_read(&meta(0o640, 0, 44)), "a supplementary group");
        assert!(user.can_read(&meta(0o600, 102, 105)));
        assert!(user.can_read(&meta(0o644, 0, 0)));
        assert!(!user.can_read(&meta(0o000, 102, 105)));
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
