//! One pass over a tar's headers (seeking past the data) to find where each file's
//! bytes are; then any file is streamed from its offset without unpacking.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::SourceError;

/// Where each regular file of a tar archive lies.
#[derive(Debug, Clone)]
pub struct TarIndex {
    path: PathBuf,
    entries: HashMap<String, (u64, u64)>,
}

impl TarIndex {
    /// Indexes `path`; fails on a non-tar file or a truncated one.
    pub fn open(path: &Path) -> Result<TarIndex, SourceError> {
        let io = |cause| SourceError::Io {
            path: path.to_path_buf(),
            cause,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let not_tar = |detail: String| SourceError::NotTar {
            path: path.to_path_buf(),
            detail,
        };
        if len == 0 {
            return Err(not_tar("the file is empty".into()));
        }
        let mut archive = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let iter = archive
            .entries_with_seek()
            .map_err(|e| not_tar(e.to_string()))?;
        for entry in iter {
            let entry = entry.map_err(|e| {
                if entries.is_empty() {
                    not_tar(e.to_string())
                } else {
                    SourceError::Truncated {
                        path: path.to_path_buf(),
                        entry: format!("after {} entries ({e})", entries.len()),
                        needed: len + 1,
                        len,
                    }
                }
            })?;
            let name = entry
                .path()
                .map_err(|e| not_tar(e.to_string()))?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            let start = entry.raw_file_position();
            let size = entry.size();
            if start + size > len {
                return Err(SourceError::Truncated {
                    path: path.to_path_buf(),
                    entry: name,
                    needed: start + size,
                    len,
                });
            }
            if entry.header().entry_type().is_file() {
                entries.insert(name, (start, size));
            }
        }
        if entries.is_empty() {
            return Err(not_tar("no file entries".into()));
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `(offset, size)` of a file in the archive.
    pub fn get(&self, name: &str) -> Option<(u64, u64)> {
        self.entries.get(name.trim_start_matches("./")).copied()
    }
}
