//! The jujusim end-to-end harness shared by jujusim's own tests and the charm's
//! (`tests/support/jujusim.rs` includes this file with `#[path]`). The including module
//! provides `jujusim_bin()`, the one thing that differs: which binary to run.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::jujusim_bin;

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
    envs: Vec<(String, String)>,
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
            envs: Vec::new(),
        }
    }

    /// Set an environment variable for every jujusim command (e.g.
    /// `JUJUSIM_HOOK_TIMEOUT=60` so a stuck hook fails the test quickly).
    pub fn with_env(mut self, key: &str, value: &str) -> Model {
        self.envs.push((key.to_string(), value.to_string()));
        self
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
        cmd.arg("--model")
            .arg(&self.dir)
            .args(args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)));
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

    /// Write a charm directory under the scratch dir: `metadata.yaml` (with `name:`),
    /// optional `config.yaml` / `actions.yaml`, and an executable `dispatch` (bash).
    pub fn write_charm(
        &self,
        name: &str,
        metadata: &str,
        config: Option<&str>,
        actions: Option<&str>,
        dispatch: &str,
    ) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.scratch().join("charms").join(name);
        std::fs::create_dir_all(&dir).expect("creating charm dir");
        let write = |file: &str, text: &str| {
            std::fs::write(dir.join(file), text).expect("writing charm file");
        };
        write("metadata.yaml", &format!("name: {name}\n{metadata}"));
        if let Some(c) = config {
            write("config.yaml", c);
        }
        if let Some(a) = actions {
            write("actions.yaml", a);
        }
        write("dispatch", dispatch);
        std::fs::set_permissions(dir.join("dispatch"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod dispatch");
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
