//! The secret tools (`secret-add`, `secret-set`, `secret-get`, `secret-info-get`,
//! `secret-remove`), typed like the others in [`super::tools`].
//!
//! Values never travel in argv, where `ps` and process accounting would show them:
//! Juju has no stdin form for secrets, so each value is written to a 0600 file in a
//! fresh 0700 directory and passed as `key#file=/abs/path`; the directory goes when the
//! tool returns (docs/juju.md#secrets). Juju's agent reads the file during the call.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde::Deserialize;

use super::tools::{args, HookToolError, HookTools, ToolRunner};
use super::types::SecretUri;
use crate::secret::Secret;

/// A secret's content: keys (Juju's rule, see [`check_secret_key`]) to values.
pub type SecretContent = BTreeMap<String, Secret>;

/// What `secret-info-get` says about a secret this unit manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// The secret (as a bare id: `secret:<id>`).
    pub uri: SecretUri,
    /// Its latest revision.
    pub revision: u32,
    /// The owner's label, if any.
    pub label: Option<String>,
}

#[derive(Deserialize)]
struct InfoEntry {
    revision: u32,
    #[serde(default)]
    label: Option<String>,
}

/// Juju's rule for secret keys, checked before the call so the error names the key: a
/// lowercase letter, then at least two lowercase letters or digits, single dashes between.
pub fn check_secret_key(tool: &str, key: &str) -> Result<(), HookToolError> {
    let mut chars = key.chars();
    let mut ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let (mut rest, mut dash) = (0, false);
    for c in chars {
        match c {
            '-' if !dash => dash = true,
            c if c.is_ascii_lowercase() || c.is_ascii_digit() => {
                rest += 1;
                dash = false;
            }
            _ => ok = false,
        }
    }
    if ok && rest >= 2 && !dash {
        return Ok(());
    }
    Err(HookToolError::InvalidKey {
        tool: tool.to_string(),
        key: key.to_string(),
        reason: "a secret key is a lowercase letter, then at least two lowercase letters or \
                 digits, with single dashes between (e.g. \"http-secret\")"
            .into(),
    })
}

/// A private directory holding one file per value; removed on drop.
struct ValueFiles {
    dir: PathBuf,
}

/// Makes the directory names of one process distinct.
static VALUE_DIRS: AtomicU32 = AtomicU32::new(0);

impl ValueFiles {
    /// Writes each value of `content` to its own 0600 file; the arguments that name them.
    fn write(
        tool: &str,
        content: &SecretContent,
    ) -> Result<(ValueFiles, Vec<String>), HookToolError> {
        let err = |cause| HookToolError::ValueFile {
            tool: tool.to_string(),
            cause,
        };
        for key in content.keys() {
            check_secret_key(tool, key)?;
        }
        let files = ValueFiles::create(&std::env::temp_dir()).map_err(err)?;
        let mut out = Vec::with_capacity(content.len());
        for (i, (key, value)) in content.iter().enumerate() {
            // Numbered, not named after the key: the key is checked, but a path needs nothing
            // of it.
            let path = files.dir.join(i.to_string());
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(err)?;
            f.write_all(value.expose().as_bytes()).map_err(err)?;
            out.push(format!("{key}#file={}", path.display()));
        }
        Ok((files, out))
    }

    /// A new 0700 directory under `parent`; never one that already exists (another user
    /// may have made it in a shared /tmp).
    fn create(parent: &Path) -> io::Result<ValueFiles> {
        let mut builder = std::fs::DirBuilder::new();
        builder.mode(0o700);
        for _ in 0..100 {
            let n = VALUE_DIRS.fetch_add(1, Ordering::Relaxed);
            let dir = parent.join(format!("juju-secret-values-{}-{n}", std::process::id()));
            match builder.create(&dir) {
                Ok(()) => return Ok(ValueFiles { dir }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free directory name under {}", parent.display()),
        ))
    }
}

impl Drop for ValueFiles {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!("could not remove {}: {e}", self.dir.display());
        }
    }
}

impl<R: ToolRunner> HookTools<R> {
    /// `secret-add --label L --description D key#file=PATH...`: a new secret owned by the
    /// application (leader only; committed with the hook). Returns the URI Juju printed.
    pub fn secret_add(
        &self,
        label: &str,
        description: &str,
        content: &SecretContent,
    ) -> Result<SecretUri, HookToolError> {
        let (_files, values) = ValueFiles::write("secret-add", content)?;
        let mut a = args(&["--label", label, "--description", description]);
        a.extend(values);
        let out = self.run("secret-add", a.clone(), None)?;
        out.trim()
            .parse()
            .map_err(|e: super::types::ParseError| Self::bad_output("secret-add", a, e.to_string()))
    }

    /// `secret-set <uri> key#file=PATH...`: a new revision with exactly this content
    /// (Juju makes none when it equals the latest).
    pub fn secret_set(
        &self,
        uri: &SecretUri,
        content: &SecretContent,
    ) -> Result<(), HookToolError> {
        let (_files, values) = ValueFiles::write("secret-set", content)?;
        let mut a = vec![uri.to_string()];
        a.extend(values);
        self.run("secret-set", a, None).map(drop)
    }

    /// `secret-get --format=json [--refresh] <uri>`: the content. `refresh` moves a
    /// consumer to the latest revision (an owner always reads the latest).
    pub fn secret_get(
        &self,
        uri: &SecretUri,
        refresh: bool,
    ) -> Result<SecretContent, HookToolError> {
        let mut a = args(&["--format=json"]);
        if refresh {
            a.push("--refresh".into());
        }
        a.push(uri.to_string());
        // Read as JSON values first: serde's message for a wrong type quotes the value.
        let v: Option<BTreeMap<String, serde_json::Value>> = self.json("secret-get", a.clone())?;
        let mut out = SecretContent::new();
        for (k, v) in v.unwrap_or_default() {
            match v {
                serde_json::Value::String(s) => {
                    out.insert(k, Secret::new(s));
                }
                _ => {
                    return Err(Self::bad_output(
                        "secret-get",
                        a,
                        format!("the value of key {k:?} is not a string"),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// `secret-info-get --format=json --label <label>`: a secret this unit manages (its
    /// application's when leader). [`HookToolError::SecretNotFound`] when there is none.
    pub fn secret_info_get(&self, label: &str) -> Result<SecretInfo, HookToolError> {
        let a = args(&["--format=json", "--label", label]);
        let v: Option<BTreeMap<String, InfoEntry>> = self.json("secret-info-get", a.clone())?;
        let mut entries = v.unwrap_or_default().into_iter();
        match (entries.next(), entries.next()) {
            (Some((id, e)), None) => Ok(SecretInfo {
                uri: id.parse().map_err(|e: super::types::ParseError| {
                    Self::bad_output("secret-info-get", a.clone(), e.to_string())
                })?,
                revision: e.revision,
                label: e.label.filter(|l| !l.is_empty()),
            }),
            _ => Err(Self::bad_output(
                "secret-info-get",
                a,
                "expected exactly one secret".into(),
            )),
        }
    }

    /// `secret-remove --revision <n> <uri>`: drops one revision nobody tracks any more.
    pub fn secret_remove_revision(
        &self,
        uri: &SecretUri,
        revision: u32,
    ) -> Result<(), HookToolError> {
        let a = vec![
            "--revision".to_string(),
            revision.to_string(),
            uri.to_string(),
        ];
        self.run("secret-remove", a, None).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_follow_jujus_rule() {
        for good in ["http-secret", "ca-key", "abc", "a1b2"] {
            assert!(check_secret_key("secret-add", good).is_ok(), "{good}");
        }
        for bad in ["", "ab", "Key", "1ab", "a--b", "abc-", "a_bc", "-abc"] {
            assert!(check_secret_key("secret-add", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn value_files_are_private_and_go_with_the_guard() {
        use std::os::unix::fs::PermissionsExt;
        let content = SecretContent::from([("http-secret".to_string(), Secret::new("v4lue"))]);
        let (files, a) = ValueFiles::write("secret-add", &content).unwrap();
        let path = a[0].strip_prefix("http-secret#file=").unwrap().to_string();
        assert!(Path::new(&path).is_absolute(), "{path}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "v4lue");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(Path::new(&path)), 0o600);
        assert_eq!(mode(&files.dir), 0o700);
        let dir = files.dir.clone();
        drop(files);
        assert!(!dir.exists(), "removed with the guard");
    }
}
