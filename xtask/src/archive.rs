//! Writes a `.charm` archive: a plain deflate zip whose unix modes Juju honours.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// One file of the charm, with the unix mode recorded for it in the zip.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path inside the charm root, e.g. `dispatch`.
    pub name: String,
    /// Permission bits (e.g. 0o755); the regular-file type bit is added by the writer.
    pub mode: u32,
    /// File contents.
    pub data: Vec<u8>,
}

impl Entry {
    /// A regular, non-executable file (0644).
    pub fn file(name: &str, data: impl Into<Vec<u8>>) -> Self {
        Entry {
            name: name.to_string(),
            mode: 0o644,
            data: data.into(),
        }
    }

    /// An executable file (0755); Juju does not repair the mode of `dispatch`.
    pub fn executable(name: &str, data: impl Into<Vec<u8>>) -> Self {
        Entry {
            name: name.to_string(),
            mode: 0o755,
            data: data.into(),
        }
    }
}

/// Why the archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Creating, writing or renaming the output file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The zip encoder failed.
    #[error("cannot write zip {path}: {source}")]
    Zip {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: zip::result::ZipError,
    },
    /// Two entries share a name; the zip would be ambiguous.
    #[error("duplicate archive entry `{0}`")]
    Duplicate(String),
}

/// Writes `entries` to `out` (via a temporary file renamed into place, so a failed
/// pack never leaves a half-written charm) and returns the archive size in bytes.
pub fn write_charm(out: &Path, entries: &[Entry]) -> Result<u64, ArchiveError> {
    for (i, e) in entries.iter().enumerate() {
        if entries[..i].iter().any(|o| o.name == e.name) {
            return Err(ArchiveError::Duplicate(e.name.clone()));
        }
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    let zip_err = |source| ArchiveError::Zip {
        path: out.to_path_buf(),
        source,
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let tmp = out.with_extension("charm.partial");
    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut zip = ZipWriter::new(file);
    for e in entries {
        // A fixed timestamp (zip's 1980 epoch default) keeps packs reproducible.
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(e.mode);
        zip.start_file(e.name.as_str(), options).map_err(zip_err)?;
        zip.write_all(&e.data).map_err(io_err(&tmp))?;
    }
    let file = zip.finish().map_err(zip_err)?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, out).map_err(io_err(out))?;
    let size = std::fs::metadata(out).map_err(io_err(out))?.len();
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use zip::ZipArchive;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::executable("dispatch", b"\x7fELF fake binary".to_vec()),
            Entry::file("metadata.yaml", "name: docker-registry\n"),
            Entry::file("manifest.yaml", "bases: []\n"),
            Entry::file("version", "1.2.3\n"),
        ]
    }

    #[test]
    fn dispatch_is_0755_and_every_file_is_present_with_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub/dir/x.charm");
        let size = write_charm(&out, &sample()).unwrap();
        assert_eq!(size, std::fs::metadata(&out).unwrap().len());
        assert!(!out.with_extension("charm.partial").exists());

        let mut zip = ZipArchive::new(File::open(&out).unwrap()).unwrap();
        let mut names: Vec<String> = zip.file_names().map(str::to_string).collect();
        names.sort();
        assert_eq!(
            names,
            ["dispatch", "manifest.yaml", "metadata.yaml", "version"]
        );
        for want in sample() {
            let mut f = zip.by_name(&want.name).unwrap();
            assert_eq!(
                f.compression(),
                CompressionMethod::Deflated,
                "{}",
                want.name
            );
            let mode = f.unix_mode().unwrap();
            assert_eq!(mode & 0o777, want.mode, "{} mode {mode:o}", want.name);
            assert_eq!(
                mode & 0o170000,
                0o100000,
                "{} is not a regular file",
                want.name
            );
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            assert_eq!(data, want.data, "{}", want.name);
        }
        let dispatch = zip.by_name("dispatch").unwrap().unix_mode().unwrap();
        assert_eq!(dispatch & 0o777, 0o755);
    }

    #[test]
    fn packing_twice_gives_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.charm"), dir.path().join("b.charm"));
        write_charm(&a, &sample()).unwrap();
        write_charm(&b, &sample()).unwrap();
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    }

    #[test]
    fn duplicate_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut entries = sample();
        entries.push(Entry::file("version", "again"));
        let err = write_charm(&dir.path().join("x.charm"), &entries).unwrap_err();
        assert!(err
            .to_string()
            .contains("duplicate archive entry `version`"));
    }
}
