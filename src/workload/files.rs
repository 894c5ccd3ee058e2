//! Files with owner and mode, written atomically and rewritten only on a real change.
//!
//! `write` is the charm's one way to put a file on the machine. It compares content, mode
//! and owner first and does nothing when all three match (no rewrite, no new mtime), so a
//! hook that runs twice changes nothing the second time. When something differs it writes a
//! temporary file next to the target, created with the final mode from the start (a key is
//! never briefly world-readable), fsyncs it and renames it over the target.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use sha2::{Digest, Sha256};

/// A numeric owner: `(uid, gid)`.
pub type Owner = (u32, u32);

/// Whether an operation changed the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// Something on the machine was created, rewritten, re-owned or removed.
    Yes,
    /// The machine already matched; nothing was touched.
    No,
}

impl Changed {
    /// True when something on the machine changed.
    pub fn is_yes(self) -> bool {
        self == Changed::Yes
    }

    /// `Yes` when either side is `Yes` (to fold several operations into one answer).
    pub fn or(self, other: Changed) -> Changed {
        if self.is_yes() || other.is_yes() {
            Changed::Yes
        } else {
            Changed::No
        }
    }
}

impl From<bool> for Changed {
    fn from(changed: bool) -> Self {
        if changed {
            Changed::Yes
        } else {
            Changed::No
        }
    }
}

/// The permission bits and (optionally) the owner a written file must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    /// Permission bits, e.g. `0o600` (only the low 12 bits are used).
    pub mode: u32,
    /// Numeric owner; `None` leaves an existing owner alone and creates files as the caller.
    pub owner: Option<Owner>,
}

impl FileSpec {
    /// A spec with this mode and no owner requirement.
    pub const fn mode(mode: u32) -> Self {
        FileSpec { mode, owner: None }
    }

    /// The same spec, also requiring this `(uid, gid)`.
    pub const fn owned_by(self, owner: Owner) -> Self {
        FileSpec {
            mode: self.mode,
            owner: Some(owner),
        }
    }
}

/// What is known about a path (a final symlink is not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// True for a directory.
    pub is_dir: bool,
    /// True for a symbolic link (mode and owner are then the link's own, not its target's).
    pub is_symlink: bool,
    /// Permission bits (low 12 bits).
    pub mode: u32,
    /// Owning uid.
    pub uid: u32,
    /// Owning gid.
    pub gid: u32,
}

/// A file operation failed; the error names the operation and the path.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The operating system refused.
    #[error("could not {op} {path}: {cause}")]
    Io {
        /// What was being done ("write", "rename to", ...).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        cause: io::Error,
    },
    /// The path holds something that cannot be used as asked.
    #[error("could not {op} {path}: {problem}")]
    Invalid {
        /// What was being done.
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// Why it cannot be done, and what to do instead.
        problem: String,
    },
    /// A failure injected into `RecordingFiles` by a test.
    #[error("could not {op} {path}: injected failure")]
    Injected {
        /// What was being done.
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FilesError + 'a {
    move |cause| FilesError::Io {
        op,
        path: path.to_path_buf(),
        cause,
    }
}

/// The charm's file effects.
pub trait Files {
    /// Makes `path` hold exactly `contents` with `spec`'s mode and owner; `No` when it already did.
    fn write(&self, path: &Path, contents: &[u8], spec: FileSpec) -> Result<Changed, FilesError>;
    /// Removes a file; a missing file is `No`, not an error.
    fn remove(&self, path: &Path) -> Result<Changed, FilesError>;
    /// Reads a whole file; `None` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, FilesError>;
    /// Creates a directory (and missing parents, 0755) or fixes its mode and owner.
    fn ensure_dir(
        &self,
        path: &Path,
        mode: u32,
        owner: Option<Owner>,
    ) -> Result<Changed, FilesError>;
    /// True when the path exists (a symlink counts when its target exists).
    fn exists(&self, path: &Path) -> Result<bool, FilesError>;
    /// Mode and owner of a path; `None` when it does not exist.
    fn stat(&self, path: &Path) -> Result<Option<FileMeta>, FilesError>;
    /// Gives every entry under `path` (and `path` itself, last) this owner; symlinks are not followed.
    fn chown_tree(&self, path: &Path, owner: Owner) -> Result<Changed, FilesError>;
}

/// Hex SHA-256 over several byte strings, for "did the rendered config or a secret change?".
///
/// Each part is length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `Files` on the real machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostFiles;

/// Makes temp names unique within one process; the pid makes them unique across processes.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes a temp file unless the write succeeded.
struct TempGuard<'a> {
    path: &'a Path,
    armed: bool,
}

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(self.path);
        }
    }
}

impl HostFiles {
    fn replace(path: &Path, contents: &[u8], spec: FileSpec) -> Result<(), FilesError> {
        let name = path.file_name().ok_or_else(|| FilesError::Invalid {
            op: "write",
            path: path.to_path_buf(),
            problem: "the path has no file name".into(),
        })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let (tmp, file) = loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(
                ".{}.tmp-{}-{n}",
                name.to_string_lossy(),
                std::process::id()
            ));
            // The final mode from creation on (umask can only remove bits); fixed exactly below.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(spec.mode & 0o7777)
                .open(&tmp)
            {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(FilesError::Invalid {
                        op: "write",
                        path: path.to_path_buf(),
                        problem: format!(
                            "its directory {} does not exist; create it first",
                            dir.display()
                        ),
                    })
                }
                Err(e) => return Err(io_err("create a temporary file for", path)(e)),
            }
        };
        let mut guard = TempGuard {
            path: &tmp,
            armed: true,
        };
        Self::fill(&file, path, contents, spec)?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_err("rename a temporary file onto", path))?;
        guard.armed = false;
        // The rename is durable only once the directory entry is on disk.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync the directory of", path))?;
        Ok(())
    }

    /// Fills the temporary file that will replace `path`; errors name `path` (the file
    /// the operator knows, left as it was), not the temporary name.
    fn fill(
        mut file: &File,
        path: &Path,
        contents: &[u8],
        spec: FileSpec,
    ) -> Result<(), FilesError> {
        file.set_permissions(fs::Permissions::from_mode(spec.mode & 0o7777))
            .map_err(io_err("set the mode of the new", path))?;
        if let Some((uid, gid)) = spec.owner {
            std::os::unix::fs::fchown(file, Some(uid), Some(gid))
                .map_err(io_err("set the owner of the new", path))?;
        }
        file.write_all(contents)
            .map_err(io_err("write the new", path))?;
        file.sync_all().map_err(io_err("sync the new", path))
    }
}

fn meta_of(m: &fs::Metadata) -> FileMeta {
    FileMeta {
        is_dir: m.is_dir(),
        is_symlink: m.file_type().is_symlink(),
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    }
}

fn owner_differs(meta: &FileMeta, owner: Option<Owner>) -> bool {
    owner.is_some_and(|(uid, gid)| meta.uid != uid || meta.gid != gid)
}

impl Files for HostFiles {
    fn write(&self, path: &Path, contents: &[u8], spec: FileSpec) -> Result<Changed, FilesError> {
        let mode = spec.mode & 0o7777;
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                return Err(FilesError::Invalid {
                    op: "write",
                    path: path.to_path_buf(),
                    problem: "it is a directory; remove it or choose another path".into(),
                })
            }
            Ok(m) if m.is_file() && m.len() == contents.len() as u64 => {
                let current = fs::read(path).map_err(io_err("read", path))?;
                if current == contents {
                    let meta = meta_of(&m);
                    if meta.mode == mode && !owner_differs(&meta, spec.owner) {
                        return Ok(Changed::No);
                    }
                    // Same content: fix metadata in place rather than rewrite.
                    if let Some((uid, gid)) = spec.owner {
                        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
                            .map_err(io_err("set the owner of", path))?;
                    }
                    fs::set_permissions(path, fs::Permissions::from_mode(mode))
                        .map_err(io_err("set the mode of", path))?;
                    return Ok(Changed::Yes);
                }
            }
            // A symlink, a special file or a different size: replace it.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("inspect", path)(e)),
        }
        Self::replace(path, contents, spec)?;
        Ok(Changed::Yes)
    }

    fn remove(&self, path: &Path) -> Result<Changed, FilesError> {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => Err(FilesError::Invalid {
                op: "remove",
                path: path.to_path_buf(),
                problem: "it is a directory; the charm only removes files it wrote".into(),
            }),
            Ok(_) => match fs::remove_file(path) {
                Ok(()) => Ok(Changed::Yes),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Changed::No),
                Err(e) => Err(io_err("remove", path)(e)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Changed::No),
            Err(e) => Err(io_err("inspect", path)(e)),
        }
    }

    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, FilesError> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", path)(e)),
        }
    }

    fn ensure_dir(
        &self,
        path: &Path,
        mode: u32,
        owner: Option<Owner>,
    ) -> Result<Changed, FilesError> {
        let mode = mode & 0o7777;
        let meta = match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => meta_of(&m),
            Ok(_) => {
                return Err(FilesError::Invalid {
                    op: "create directory",
                    path: path.to_path_buf(),
                    problem: "something that is not a directory is in the way; move it aside"
                        .into(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
                }
                let mut builder = fs::DirBuilder::new();
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
                match builder.create(path) {
                    Ok(()) => {}
                    // Another process made it meanwhile: fix it up below like any existing dir.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err("create directory", path)(e)),
                }
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
                        .map_err(io_err("set the owner of", path))?;
                }
                // The umask may have removed bits.
                fs::set_permissions(path, fs::Permissions::from_mode(mode))
                    .map_err(io_err("set the mode of", path))?;
                return Ok(Changed::Yes);
            }
            Err(e) => return Err(io_err("inspect", path)(e)),
        };
        let mut changed = Changed::No;
        if owner_differs(&meta, owner) {
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::lchown(path, Some(uid), Some(gid))
                    .map_err(io_err("set the owner of", path))?;
                changed = Changed::Yes;
            }
        }
        if meta.mode != mode {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .map_err(io_err("set the mode of", path))?;
            changed = Changed::Yes;
        }
        Ok(changed)
    }

    fn exists(&self, path: &Path) -> Result<bool, FilesError> {
        path.try_exists().map_err(io_err("inspect", path))
    }

    fn stat(&self, path: &Path) -> Result<Option<FileMeta>, FilesError> {
        match fs::symlink_metadata(path) {
            Ok(m) => Ok(Some(meta_of(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("inspect", path)(e)),
        }
    }

    fn chown_tree(&self, path: &Path, owner: Owner) -> Result<Changed, FilesError> {
        chown_tree_host(path, owner)
    }
}

/// Children first, the root last: an interrupted run leaves the root wrong, so the next
/// run (which looks only at the root) does the whole walk again.
fn chown_tree_host(path: &Path, owner: Owner) -> Result<Changed, FilesError> {
    let meta = fs::symlink_metadata(path).map_err(io_err("inspect", path))?;
    let mut changed = Changed::No;
    if meta.is_dir() {
        for entry in fs::read_dir(path).map_err(io_err("list", path))? {
            let entry = entry.map_err(io_err("list", path))?;
            changed = changed.or(chown_tree_host(&entry.path(), owner)?);
        }
    }
    if meta.uid() != owner.0 || meta.gid() != owner.1 {
        std::os::unix::fs::lchown(path, Some(owner.0), Some(owner.1))
            .map_err(io_err("set the owner of", path))?;
        changed = Changed::Yes;
    }
    Ok(changed)
}

/// One operation `RecordingFiles` saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOp {
    /// `write(path, ..)` and whether it changed anything.
    Write {
        /// Target path.
        path: PathBuf,
        /// Outcome.
        changed: Changed,
    },
    /// `remove(path)`.
    Remove {
        /// Target path.
        path: PathBuf,
        /// Outcome.
        changed: Changed,
    },
    /// `ensure_dir(path, ..)`.
    EnsureDir {
        /// Target path.
        path: PathBuf,
        /// Outcome.
        changed: Changed,
    },
    /// `chown_tree(path, owner)`.
    ChownTree {
        /// Root of the tree.
        path: PathBuf,
        /// New owner.
        owner: Owner,
        /// Outcome.
        changed: Changed,
    },
}

impl FileOp {
    /// The path the operation was about.
    pub fn path(&self) -> &Path {
        match self {
            FileOp::Write { path, .. }
            | FileOp::Remove { path, .. }
            | FileOp::EnsureDir { path, .. }
            | FileOp::ChownTree { path, .. } => path,
        }
    }

    /// Whether the operation changed anything.
    pub fn changed(&self) -> Changed {
        match self {
            FileOp::Write { changed, .. }
            | FileOp::Remove { changed, .. }
            | FileOp::EnsureDir { changed, .. }
            | FileOp::ChownTree { changed, .. } => *changed,
        }
    }
}

#[derive(Debug, Clone)]
struct FakeEntry {
    contents: Option<Vec<u8>>, // None for a directory
    mode: u32,
    owner: Owner,
}

#[derive(Debug, Default)]
struct FakeState {
    entries: BTreeMap<PathBuf, FakeEntry>,
    ops: Vec<FileOp>,
    fail_next: usize,
    fail_writes_to: Option<PathBuf>,
}

/// In-memory `Files` that records every mutating operation and can fail the next N of them.
///
/// New entries without an owner get `(0, 0)`, as root would create them.
#[derive(Debug, Default)]
pub struct RecordingFiles {
    state: Mutex<FakeState>,
}

impl RecordingFiles {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        // A panicking test thread must not hide the state from the assertions that follow.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seeds a file without recording an operation.
    pub fn seed_file(&self, path: impl AsRef<Path>, contents: &[u8], mode: u32, owner: Owner) {
        self.lock().entries.insert(
            path.as_ref().to_path_buf(),
            FakeEntry {
                contents: Some(contents.to_vec()),
                mode,
                owner,
            },
        );
    }

    /// Seeds a directory without recording an operation.
    pub fn seed_dir(&self, path: impl AsRef<Path>, mode: u32, owner: Owner) {
        self.lock().entries.insert(
            path.as_ref().to_path_buf(),
            FakeEntry {
                contents: None,
                mode,
                owner,
            },
        );
    }

    /// Makes the next `n` mutating operations (write, remove, ensure_dir, chown_tree) fail.
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }

    /// Makes the next write to `path` fail (once), e.g. to stop a hook at that point.
    pub fn fail_write_to(&self, path: impl AsRef<Path>) {
        self.lock().fail_writes_to = Some(path.as_ref().to_path_buf());
    }

    /// Every mutating operation so far, in order.
    pub fn ops(&self) -> Vec<FileOp> {
        self.lock().ops.clone()
    }

    /// Forgets recorded operations (keeps the files), e.g. between two hook runs.
    pub fn clear_ops(&self) {
        self.lock().ops.clear();
    }

    /// Paths of operations that changed something, in order.
    pub fn changed_paths(&self) -> Vec<PathBuf> {
        self.lock()
            .ops
            .iter()
            .filter(|op| op.changed().is_yes())
            .map(|op| op.path().to_path_buf())
            .collect()
    }

    /// Current contents of a file.
    pub fn contents(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        self.lock()
            .entries
            .get(path.as_ref())
            .and_then(|e| e.contents.clone())
    }

    fn injected(state: &mut FakeState, op: &'static str, path: &Path) -> Result<(), FilesError> {
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(FilesError::Injected {
                op,
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }
}

impl Files for RecordingFiles {
    fn write(&self, path: &Path, contents: &[u8], spec: FileSpec) -> Result<Changed, FilesError> {
        let mut st = self.lock();
        Self::injected(&mut st, "write", path)?;
        if st.fail_writes_to.as_deref() == Some(path) {
            st.fail_writes_to = None;
            return Err(FilesError::Injected {
                op: "write",
                path: path.to_path_buf(),
            });
        }
        let mode = spec.mode & 0o7777;
        let changed = match st.entries.get(path) {
            Some(FakeEntry { contents: None, .. }) => {
                return Err(FilesError::Invalid {
                    op: "write",
                    path: path.to_path_buf(),
                    problem: "it is a directory; remove it or choose another path".into(),
                })
            }
            Some(e) => {
                e.contents.as_deref() != Some(contents)
                    || e.mode != mode
                    || spec.owner.is_some_and(|o| o != e.owner)
            }
            None => true,
        };
        if changed {
            let owner = spec
                .owner
                .or_else(|| st.entries.get(path).map(|e| e.owner))
                .unwrap_or((0, 0));
            st.entries.insert(
                path.to_path_buf(),
                FakeEntry {
                    contents: Some(contents.to_vec()),
                    mode,
                    owner,
                },
            );
        }
        let changed = Changed::from(changed);
        st.ops.push(FileOp::Write {
            path: path.to_path_buf(),
            changed,
        });
        Ok(changed)
    }

    fn remove(&self, path: &Path) -> Result<Changed, FilesError> {
        let mut st = self.lock();
        Self::injected(&mut st, "remove", path)?;
        if matches!(st.entries.get(path), Some(FakeEntry { contents: None, .. })) {
            return Err(FilesError::Invalid {
                op: "remove",
                path: path.to_path_buf(),
                problem: "it is a directory; the charm only removes files it wrote".into(),
            });
        }
        let changed = Changed::from(st.entries.remove(path).is_some());
        st.ops.push(FileOp::Remove {
            path: path.to_path_buf(),
            changed,
        });
        Ok(changed)
    }

    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, FilesError> {
        Ok(self.contents(path))
    }

    fn ensure_dir(
        &self,
        path: &Path,
        mode: u32,
        owner: Option<Owner>,
    ) -> Result<Changed, FilesError> {
        let mut st = self.lock();
        Self::injected(&mut st, "create directory", path)?;
        let mode = mode & 0o7777;
        let changed = match st.entries.get_mut(path) {
            Some(FakeEntry {
                contents: Some(_), ..
            }) => {
                return Err(FilesError::Invalid {
                    op: "create directory",
                    path: path.to_path_buf(),
                    problem: "something that is not a directory is in the way; move it aside"
                        .into(),
                })
            }
            Some(e) => {
                let new_owner = owner.unwrap_or(e.owner);
                let changed = e.mode != mode || e.owner != new_owner;
                e.mode = mode;
                e.owner = new_owner;
                changed
            }
            None => {
                st.entries.insert(
                    path.to_path_buf(),
                    FakeEntry {
                        contents: None,
                        mode,
                        owner: owner.unwrap_or((0, 0)),
                    },
                );
                true
            }
        };
        let changed = Changed::from(changed);
        st.ops.push(FileOp::EnsureDir {
            path: path.to_path_buf(),
            changed,
        });
        Ok(changed)
    }

    fn exists(&self, path: &Path) -> Result<bool, FilesError> {
        Ok(self.lock().entries.contains_key(path))
    }

    fn stat(&self, path: &Path) -> Result<Option<FileMeta>, FilesError> {
        Ok(self.lock().entries.get(path).map(|e| FileMeta {
            is_dir: e.contents.is_none(),
            is_symlink: false,
            mode: e.mode,
            uid: e.owner.0,
            gid: e.owner.1,
        }))
    }

    fn chown_tree(&self, path: &Path, owner: Owner) -> Result<Changed, FilesError> {
        let mut st = self.lock();
        Self::injected(&mut st, "change the owner of", path)?;
        let mut changed = false;
        for (p, e) in st.entries.iter_mut() {
            if p.starts_with(path) && e.owner != owner {
                e.owner = owner;
                changed = true;
            }
        }
        let changed = Changed::from(changed);
        st.ops.push(FileOp::ChownTree {
            path: path.to_path_buf(),
            owner,
            changed,
        });
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_length_prefixed_and_stable() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"x"]), fingerprint(&[b"x"]));
        assert_eq!(fingerprint(&[]).len(), 64);
    }

    #[test]
    fn fake_write_is_idempotent_and_records() {
        let f = RecordingFiles::new();
        let p = Path::new("/etc/x");
        assert_eq!(
            f.write(p, b"a", FileSpec::mode(0o600)).ok(),
            Some(Changed::Yes)
        );
        assert_eq!(
            f.write(p, b"a", FileSpec::mode(0o600)).ok(),
            Some(Changed::No)
        );
        assert_eq!(
            f.write(p, b"a", FileSpec::mode(0o640)).ok(),
            Some(Changed::Yes)
        );
        assert_eq!(f.changed_paths().len(), 2);
        assert_eq!(f.contents(p).as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn fake_fails_n_times_then_works() {
        let f = RecordingFiles::new();
        f.fail_next(2);
        let p = Path::new("/etc/x");
        assert!(matches!(
            f.write(p, b"a", FileSpec::mode(0o600)),
            Err(FilesError::Injected { .. })
        ));
        assert!(f.remove(p).is_err());
        assert_eq!(
            f.write(p, b"a", FileSpec::mode(0o600)).ok(),
            Some(Changed::Yes)
        );
        assert_eq!(f.ops().len(), 1);
    }

    #[test]
    fn fake_chown_tree_only_reports_real_changes() {
        let f = RecordingFiles::new();
        f.seed_dir("/srv/registry", 0o750, (0, 0));
        f.seed_file("/srv/registry/a", b"x", 0o644, (0, 0));
        f.seed_file("/srv/other", b"x", 0o644, (0, 0));
        assert_eq!(
            f.chown_tree(Path::new("/srv/registry"), (102, 105)).ok(),
            Some(Changed::Yes)
        );
        assert_eq!(
            f.chown_tree(Path::new("/srv/registry"), (102, 105)).ok(),
            Some(Changed::No)
        );
        assert_eq!(
            f.stat(Path::new("/srv/other"))
                .ok()
                .flatten()
                .map(|m| m.uid),
            Some(0)
        );
    }
}
