//! End-to-end harness over the `jujusim` CLI, for the charm's `tests/e2e_*.rs`.
//!
//! Adapted from jujusim's own `tests/support/mod.rs` (branch `simdone`). A [`Model`] owns a
//! temp model directory, runs `jujusim --model DIR ...`, and on every failure panics with
//! the command line, its exit status, stdout, stderr and the model's debug-log, so a red
//! run explains itself. Dropping a `Model` runs `jujusim destroy` (processes, namespaces,
//! files), also when the test panicked.
//!
//! The jujusim binary is `$JUJUSIM_BIN`, else `jujusim` next to the charm binary cargo
//! built for these tests; it is (re)built once per test process when it is missing or
//! older than its sources, so a stale simulator never runs the tests.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

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

/// How often `eventually` polls.
const POLL: Duration = Duration::from_millis(50);

/// One finished jujusim invocation.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, shell-like, for messages.
    pub cmd: String,
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

impl Output {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Stdout without the trailing newline.
    pub fn text(&self) -> &str {
        self.stdout.trim_end_matches('\n')
    }
}

/// A jujusim model in a temp dir, destroyed on drop.
pub struct Model {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    bin: PathBuf,
}

impl Default for Model {
    fn default() -> Self {
        Model::new()
    }
}

impl Model {
    /// A fresh (not yet created) model under a new temp dir. The model is created by the
    /// first `deploy` (with Linux machines unless `--machines host` is passed).
    pub fn new() -> Model {
        // /tmp: machines overlay /etc, /var/lib, /var/log, /run and /srv, so the model dir
        // must live elsewhere (jujusim refuses otherwise).
        let tmp = tempfile::Builder::new()
            .prefix("jujusim-test-")
            .tempdir_in("/tmp")
            .expect("creating a temp dir under /tmp");
        let dir = tmp.path().join("model");
        Model {
            tmp,
            dir,
            bin: jujusim_bin(),
        }
    }

    /// The model directory (`--model`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A scratch directory next to the model (for charms, fixtures).
    pub fn scratch(&self) -> &Path {
        self.tmp.path()
    }

    /// Run `jujusim --model DIR <args>`; never panics on a non-zero exit.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--model").arg(&self.dir).args(args);
        let line = format!(
            "{} --model {} {}",
            self.bin.display(),
            self.dir.display(),
            shell_words(args)
        );
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {line}: {e}"));
        Output {
            cmd: line,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run and require exit 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        if !out.success() {
            self.fail("command failed", &out);
        }
        out
    }

    /// Run and require a non-zero exit.
    pub fn fails(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        if out.success() {
            self.fail("command succeeded but was expected to fail", &out);
        }
        out
    }

    /// `jujusim exec UNIT -- sh -c SCRIPT` (hook context on the unit's machine); exit 0.
    pub fn exec(&self, unit: &str, script: &str) -> Output {
        self.ok(&["exec", unit, "--", "sh", "-c", script])
    }

    /// `jujusim netexec -- ARGV` (the model's bridge network, where every unit is
    /// reachable); exit 0.
    pub fn netexec(&self, argv: &[&str]) -> Output {
        let mut args = vec!["netexec", "--"];
        args.extend_from_slice(argv);
        self.ok(&args)
    }

    /// `jujusim status --format json`, parsed.
    pub fn status_json(&self) -> Value {
        self.json(&["status", "--format", "json"])
    }

    /// `jujusim show-unit UNIT --format json`, parsed: the unit's own entry.
    pub fn show_unit(&self, unit: &str) -> Value {
        let mut v = self.json(&["show-unit", unit, "--format", "json"]);
        match v.get_mut(unit) {
            Some(entry) => entry.take(),
            None => self.fail(
                &format!("show-unit has no entry for {unit}"),
                &self.run(&["show-unit", unit, "--format", "json"]),
            ),
        }
    }

    /// The status JSON entry of one unit (`applications.<app>.units.<unit>`).
    pub fn unit_status(&self, unit: &str) -> Value {
        let app = unit.split('/').next().unwrap_or(unit);
        self.status_json()["applications"][app]["units"][unit].take()
    }

    /// Run a command that prints JSON and parse it.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| self.fail(&format!("stdout is not JSON: {e}"), &out))
    }

    /// The whole model log (`debug-log.txt`).
    pub fn debug_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("debug-log.txt"))
            .unwrap_or_else(|e| format!("(no debug-log: {e})"))
    }

    /// Panic with `what`, the command's output and the debug-log.
    pub fn fail(&self, what: &str, out: &Output) -> ! {
        panic!(
            "\n\n==========\n{what}\n\ncommand: {}\n\nstatus: {}\n\nstdout:\n{}\n\nstderr:\n{}\n\n\
             ---------- debug-log ----------\n{}==========\n",
            out.cmd,
            out.code
                .map(|c| format!("exit {c}"))
                .unwrap_or_else(|| "killed by a signal".into()),
            out.stdout,
            out.stderr,
            self.debug_log()
        )
    }

    /// Assert `cond`, else fail with `what` and `out`.
    pub fn check(&self, cond: bool, what: &str, out: &Output) {
        if !cond {
            self.fail(what, out);
        }
    }

    /// Poll `f` until it returns Some or `limit` passes (then fail with the last output
    /// `f` saw). `f` returns the value or the output to report.
    pub fn eventually<T>(
        &self,
        what: &str,
        limit: Duration,
        mut f: impl FnMut() -> Result<T, Output>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            match f() {
                Ok(v) => return v,
                Err(out) if Instant::now() >= deadline => self.fail(
                    &format!("timed out after {limit:?} waiting for {what}"),
                    &out,
                ),
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }

    /// The charm as `jujusim deploy` takes it, built under the scratch dir: `dispatch` is a
    /// copy of [`CHARM_BIN`] (mode 0755) next to metadata.yaml, config.yaml and
    /// actions.yaml from the repository root.
    pub fn registry_charm(&self) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.scratch().join("charm-docker-registry");
        std::fs::create_dir_all(&dir).expect("creating the charm dir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in ["metadata.yaml", "config.yaml", "actions.yaml"] {
            std::fs::copy(root.join(file), dir.join(file))
                .unwrap_or_else(|e| panic!("copying {file} into the charm dir: {e}"));
        }
        let dispatch = dir.join("dispatch");
        std::fs::copy(CHARM_BIN, &dispatch).expect("copying the charm binary to dispatch");
        std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 dispatch");
        dir
    }

    /// Run `sh -c SCRIPT` on the host (not in the model); exit 0 required.
    pub fn host(&self, script: &str) -> Output {
        let out = Command::new("sh")
            .args(["-c", script])
            .current_dir(self.scratch())
            .output()
            .unwrap_or_else(|e| panic!("cannot run sh -c {script:?}: {e}"));
        let out = Output {
            cmd: format!("(host) sh -c {}", shell_words(&[script])),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if !out.success() {
            self.fail("host command failed", &out);
        }
        out
    }

    /// `jujusim destroy`; exit 0 required. Drop will not destroy again.
    pub fn destroy(&self) -> Output {
        self.ok(&["destroy"])
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        if self.dir.join("model.json").exists() {
            let out = self.run(&["destroy"]);
            if !out.success() && !std::thread::panicking() {
                self.fail("destroy on drop failed", &out);
            }
        }
    }
}

/// A test charm shipped with jujusim (`jujusim/testcharms/<name>`).
pub fn testcharm(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("jujusim/testcharms")
        .join(name)
        .display()
        .to_string()
}

/// The `relation-info` entry of a show-unit value for `endpoint`.
pub fn relation_info<'a>(unit: &'a Value, endpoint: &str) -> Option<&'a Value> {
    unit["relation-info"]
        .as_array()?
        .iter()
        .find(|r| r["endpoint"] == endpoint)
}

/// The data bag `related` shows in `unit`'s show-unit view on `endpoint` (`{}` if none).
pub fn related_data(unit: &Value, endpoint: &str, related: &str) -> Value {
    relation_info(unit, endpoint)
        .map(|r| r["related-units"][related]["data"].clone())
        .filter(|d| d.is_object())
        .unwrap_or_else(|| Value::Object(Default::default()))
}

/// Quote args for display when they contain spaces or shell metacharacters.
fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
            {
                a.to_string()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
