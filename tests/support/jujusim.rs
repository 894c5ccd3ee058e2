//! End-to-end harness over the `jujusim` CLI, for the charm's `tests/e2e_*.rs`.
//!
//! The harness is jujusim's own (`jujusim/tests/support/harness.rs`, included here): a
//! [`Model`] owns a temp model directory, runs `jujusim --model DIR ...`, and on every
//! failure panics with the command line, its exit status, stdout, stderr and the model's
//! debug-log. Dropping a `Model` runs `jujusim destroy`, also when the test panicked.
//!
//! The jujusim binary is `$JUJUSIM_BIN`, else `jujusim` next to the charm binary cargo
//! built for these tests; it is (re)built once per test process when it is missing or
//! older than its sources, so a stale simulator never runs the tests.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The bases `cargo xtask pack` writes into the charm's manifest.yaml.
pub const REGISTRY_MANIFEST: &str =
    "bases:\n- name: ubuntu\n  channel: '22.04'\n- name: ubuntu\n  channel: '24.04'\n";

/// The charm binary cargo built for this package (the packed charm's `dispatch`).
pub const CHARM_BIN: &str = env!("CARGO_BIN_EXE_docker-registry-charm");

/// The jujusim binary: `$JUJUSIM_BIN`, else `jujusim` next to [`CHARM_BIN`] (built on
/// first use when missing or stale).
pub fn jujusim_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("JUJUSIM_BIN") {
            return PathBuf::from(p);
        }
        let charm = Path::new(CHARM_BIN);
        let profile_dir = charm.parent().expect("the charm binary has a directory");
        let bin = profile_dir.join("jujusim");
        let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("jujusim");
        if !bin.exists() || newest_mtime(&sources) > mtime(&bin) {
            build_jujusim(profile_dir);
        }
        assert!(
            bin.exists(),
            "building jujusim did not produce {}",
            bin.display()
        );
        bin
    })
    .clone()
}

/// `$CARGO build -p jujusim --bin jujusim` into the target dir the tests were built in.
fn build_jujusim(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = profile_dir
        .parent()
        .expect("the profile dir is inside a target dir");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", "jujusim", "--bin", "jujusim"])
        .env("CARGO_TARGET_DIR", target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("running cargo build -p jujusim");
    assert!(
        out.status.success(),
        "cargo build -p jujusim failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// The newest mtime of the jujusim crate's sources (Cargo.toml and src/).
fn newest_mtime(crate_dir: &Path) -> std::time::SystemTime {
    fn walk(p: &Path, newest: &mut std::time::SystemTime) {
        let t = mtime(p);
        if t > *newest {
            *newest = t;
        }
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                walk(&e.path(), newest);
            }
        }
    }
    let mut newest = std::time::UNIX_EPOCH;
    walk(&crate_dir.join("Cargo.toml"), &mut newest);
    walk(&crate_dir.join("src"), &mut newest);
    newest
}

#[path = "../../jujusim/tests/support/harness.rs"]
mod harness;
pub use harness::*;

impl Model {
    /// (current, message) of `unit`'s workload status.
    pub fn workload_status(&self, unit: &str) -> (String, String) {
        let st = self.unit_status(unit);
        let field = |k: &str| st["workload-status"][k].as_str().unwrap_or("").to_string();
        (field("current"), field("message"))
    }

    /// Fails unless `unit`'s workload status is exactly (`current`, `message`).
    pub fn expect_status(&self, unit: &str, current: &str, message: &str) {
        let (cur, msg) = self.workload_status(unit);
        if cur != current || msg != message {
            self.fail(
                &format!("{unit}: expected {current} {message:?}, got {cur} {msg:?}"),
                &self.run(&["status"]),
            );
        }
    }

    /// `show-secret registry-shared --reveal`: the charm's Juju secret, as its id and its
    /// entry (`revision`, `content`, ...).
    pub fn shared_secret(&self) -> (String, serde_json::Value) {
        let v = self.json(&[
            "show-secret",
            "registry-shared",
            "--reveal",
            "--format",
            "json",
        ]);
        let entry = v.as_object().and_then(|o| o.iter().next());
        let (id, entry) = entry
            .unwrap_or_else(|| self.fail("show-secret printed no secret", &self.run(&["secrets"])));
        (id.clone(), entry.clone())
    }

    /// The charm as `jujusim deploy` takes it, built under the scratch dir: `dispatch` is a
    /// copy of [`CHARM_BIN`] (mode 0755) next to metadata.yaml, config.yaml and
    /// actions.yaml from the repository root, and a manifest.yaml with its bases.
    pub fn registry_charm(&self) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.scratch().join("charm-docker-registry");
        std::fs::create_dir_all(&dir).expect("creating the charm dir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in ["metadata.yaml", "config.yaml", "actions.yaml"] {
            std::fs::copy(root.join(file), dir.join(file))
                .unwrap_or_else(|e| panic!("copying {file} into the charm dir: {e}"));
        }
        std::fs::write(dir.join("manifest.yaml"), REGISTRY_MANIFEST)
            .expect("writing manifest.yaml");
        let dispatch = dir.join("dispatch");
        std::fs::copy(CHARM_BIN, &dispatch).expect("copying the charm binary to dispatch");
        std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 dispatch");
        dir
    }
}

/// Where jujusim's test charms are (`jujusim/testcharms`); `testcharm(name)` is one.
pub fn testcharms_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("jujusim/testcharms")
}
