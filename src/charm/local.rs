//! What this unit remembers between hooks, on its own disk (never in Juju): which files the
//! charm wrote (so it never deletes an operator's), the operator files it set aside to write
//! its own (so it can give them back), what the running registry was started with (so it
//! restarts only on a real change), the certificate request it sent, and the model as it
//! last read it and wrote to it (so most hooks ask Juju almost nothing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::Recorded;
use crate::workload::files::{Changed, FileSpec, Files, FilesError};

/// The charm's private directory on the unit (0700 root).
pub const STATE_DIR: &str = "/var/lib/docker-registry-charm";
/// The state file inside [`STATE_DIR`].
pub const STATE_FILE: &str = "/var/lib/docker-registry-charm/state.json";
/// The private key for cert-provider requests; generated here and never sent anywhere.
pub const CSR_KEY: &str = "/var/lib/docker-registry-charm/cert-provider.key";

/// This unit's tls-auto key (0600); generated here and never sent anywhere.
pub const AUTO_KEY: &str = "/var/lib/docker-registry-charm/tls-auto.key";
/// This unit's tls-auto certificate, signed with the application's CA.
pub const AUTO_CERT: &str = "/var/lib/docker-registry-charm/tls-auto.crt";

/// The key of this unit's own client certificate (0600), presented by the probe and the
/// actions when the registry demands client certificates; made here, never sent anywhere.
pub const CLIENT_KEY: &str = "/var/lib/docker-registry-charm/charm-client.key";

/// Where the certificate and key at the tls-*-paths came from when last served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsFrom {
    /// The `tls-*-blob` options.
    Blobs,
    /// The cert-provider relation.
    CertProvider,
    /// Files an operator put there.
    Operator,
    /// `tls-auto`.
    Auto,
}

/// A copy of the last config.yml the registry served with (0600: it holds the http
/// secret and storage keys), to go back to when the registry refuses a new one.
pub const LAST_GOOD_CONFIG: &str = "/var/lib/docker-registry-charm/last-good-config.yml";

/// Where operator files the charm had to write over are kept until it gives them back.
pub const DISPLACED_DIR: &str = "/var/lib/docker-registry-charm/displaced";

/// A file the charm did not write, found at a path it was about to write (an operator's
/// certificate at a tls-*-path, or one the Python charm left), kept under [`DISPLACED_DIR`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Displaced {
    /// The copy (same content, mode and owner as the original).
    pub backup: PathBuf,
    /// Hex sha256 of the content.
    pub sha256: String,
    /// Permission bits the original had.
    pub mode: u32,
    /// Owning uid the original had.
    pub uid: u32,
    /// Owning gid the original had.
    pub gid: u32,
}

/// The backup name for `contents` found at `path`: the path's hash (one namespace per
/// path) and the content's (a later copy from the same path never replaces an earlier one).
pub fn displaced_path(path: &Path, contents_sha256: &str) -> PathBuf {
    let key = sha256(path.as_os_str().as_encoded_bytes());
    let short = contents_sha256.get(..16).unwrap_or(contents_sha256);
    Path::new(DISPLACED_DIR).join(format!("{key}-{short}"))
}

/// The certificate request currently published on cert-provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsrRecord {
    /// Common name requested.
    pub common_name: String,
    /// SANs requested, as strings.
    pub sans: Vec<String>,
    /// The PEM CSR (signatures are random, so it is kept rather than regenerated).
    pub csr: String,
}

/// The last configuration the registry served with (its config.yml is kept at
/// [`LAST_GOOD_CONFIG`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastGood {
    /// sha256 of that config.yml.
    pub config_sha256: String,
    /// The environment it ran with.
    pub env: Vec<(String, String)>,
    /// The fingerprint of what it read at start (see `running`).
    pub running: String,
    /// sha256 of each option's value then, to name what changed since.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The files it names (certificate, key, htpasswd...): it is restored only with them.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// The port it listened on.
    #[serde(default)]
    pub port: u16,
    /// Whether it served TLS.
    #[serde(default)]
    pub tls: bool,
    /// Whether it demanded client certificates.
    #[serde(default)]
    pub client_certs: bool,
}

/// A configuration the registry refused (it exited, or its store failed): not tried
/// again until something it is made from changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The fingerprint of what it was to read at start.
    pub running: String,
    /// sha256 of the refused config.yml (never started again while it is on disk).
    pub config_sha256: String,
    /// The blocked status message (options and the registry's own error line).
    pub message: String,
    /// The options the message names.
    #[serde(default)]
    pub options: Vec<String>,
    /// Since the refusal, the charm saw the cache's upstream give no answer (see
    /// `upstream`).
    #[serde(default)]
    pub upstream_down: bool,
}

/// The unit's remembered facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    /// Fingerprint of what the running registry read at start.
    #[serde(default)]
    pub running: Option<String>,
    /// Environment the registry was last (re)started with: a restart while the config
    /// is invalid must keep it.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Files the charm wrote, with the sha256 of what it wrote.
    #[serde(default)]
    pub owned: BTreeMap<PathBuf, String>,
    /// Files the charm set aside before writing over them, by the path they came from.
    #[serde(default)]
    pub displaced: BTreeMap<PathBuf, Displaced>,
    /// The published certificate request.
    #[serde(default)]
    pub csr: Option<CsrRecord>,
    /// Set by the `stop` action: the operator wants the registry down until `start`.
    #[serde(default)]
    pub stopped: bool,
    /// The workload status this charm last set (see `report`).
    #[serde(default)]
    pub status: Option<crate::juju::Status>,
    /// What the current config.yml was rendered from (see `registry::config_yml`).
    #[serde(default)]
    pub rendered_from: Option<String>,
    /// The htpasswd file and the config its entry was last checked against (see
    /// `registry::auth_files`).
    #[serde(default)]
    pub htpasswd_checked: Option<String>,
    /// The model as last read, with this unit's writes since: what the next hooks take
    /// instead of asking Juju again (see [`Recorded`]). It holds the config and the bags
    /// this unit published, secrets included, so the file is root's alone (0600 in a 0700
    /// directory), like the key files.
    #[serde(default, deserialize_with = "recorded_or_none")]
    pub model: Option<Recorded>,
    /// The metrics proxy's arguments while it runs (`metrics`).
    #[serde(default)]
    pub metrics: Option<Vec<String>>,
    /// The last config the registry served with.
    #[serde(default)]
    pub last_good: Option<LastGood>,
    /// The config the registry last refused.
    #[serde(default)]
    pub refused: Option<Refused>,
    /// Accepted-and-ignored options last seen set, with the sha256 of their value: each
    /// is warned about once per change (see `ignored`).
    #[serde(default)]
    pub ignored: BTreeMap<String, String>,
    /// The Python charm's container that could not be removed: looked for again at every
    /// hook until it is gone (see `switch`).
    #[serde(default)]
    pub legacy_container: Option<String>,
    /// Where the served certificate came from (`None`: plain http).
    #[serde(default)]
    pub tls_from: Option<TlsFrom>,
    /// The Python charm ran here, and files it wrote may still be at the tls-*-paths and
    /// its config.yml in place: set when its container is found, cleared once this charm
    /// serves its own configuration (see `tls_source::adopt`).
    #[serde(default)]
    pub python_files: bool,
    /// The CA whose client certificates the Python charm's registry demanded (B23,
    /// docs/python-charm-bugs.md#b23): still demanded after the switch (see `mtls`).
    #[serde(default)]
    pub python_client_ca: Option<String>,
}

impl LocalState {
    /// Reads the state; a missing file is a fresh unit, a corrupt one is logged and reset.
    pub fn load(files: &dyn Files) -> Result<Self, FilesError> {
        match files.read(Path::new(STATE_FILE))? {
            None => Ok(LocalState::default()),
            Some(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                let why = unreadable(&e);
                tracing::warn!("{STATE_FILE} is unreadable ({why}); starting from a clean state");
                LocalState::default()
            })),
        }
    }

    /// Writes the state (a no-op when unchanged).
    pub fn save(&self, files: &dyn Files) -> Result<Changed, FilesError> {
        files.ensure_dir(Path::new(STATE_DIR), 0o700, None)?;
        let text = serde_json::to_vec_pretty(self).unwrap_or_default();
        files.write(Path::new(STATE_FILE), &text, FileSpec::mode(0o600))
    }

    /// True when the file at `path` holds exactly what the charm last wrote there.
    pub fn owns(&self, path: &Path, contents: &[u8]) -> bool {
        self.owned.get(path) == Some(&sha256(contents))
    }
}

/// The record, or none when it cannot be read (a revision that kept another shape, a
/// damaged file): the next hook then reads the whole model, never a guess, and the rest of
/// the state (the files the charm owns) is kept.
fn recorded_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Recorded>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value)
        .map_err(|e| {
            let why = unreadable(&e);
            tracing::info!("the recorded model is unreadable ({why}); reading it whole");
        })
        .ok())
}

/// Why a state could not be parsed, without serde's quote of the offending value: the
/// record holds secrets (config, published credentials).
fn unreadable(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match e.classify() {
        Category::Io => "read error",
        Category::Syntax => "not JSON",
        Category::Data => "unexpected content",
        Category::Eof => "cut short",
    };
    match e.line() {
        0 => kind.to_string(),
        line => format!("{kind} at line {line}, column {}", e.column()),
    }
}

/// Hex sha256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
