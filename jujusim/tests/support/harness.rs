//! The jujusim end-to-end harness shared by jujusim's own tests and the charm's
//! (`tests/support/jujusim.rs` includes this file with `#[path]`). The including module
//! provides what differs between the crates: `jujusim_bin()`, the binary to run, and
//! `testcharms_dir()`, where jujusim's test charms are.
//!
//! A [`Model`] owns a temp model directory, runs `jujusim --model DIR ...`, and on every
//! failure panics with the command line, its exit status, stdout, stderr, the model's
//! debug-log and the command that repeats the test with the same scheduling seed.
//! Dropping a `Model` runs `jujusim destroy`, also when the test panicked.
//!
//! Seeds: every command of one `Model` runs with one `JUJUSIM_SEED`, the one the test
//! process was given, else a fresh one per model; so `JUJUSIM_SEED=N cargo test ...`
//! repeats a failure exactly, and runs without it try new interleavings.
//! [`Model::host_machines`] makes models without namespaces (no root needed, one address); its
//! [`Model::event_charm`]s log each hook they run, for tests of event order.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{jujusim_bin, testcharms_dir};

/// The `manifest.yaml` of charms the tests write: Juju 3 deploys no charm without bases.
pub const MANIFEST: &str =
    "bases:\n- name: ubuntu\n  channel: \"24.04\"\n  architectures: [amd64]\n";

/// How often [`poll`] tries again.
const POLL: Duration = Duration::from_millis(50);

/// Call `f` until it returns Ok, at most until `limit` has passed (then its last Err);
/// the one polling loop of the tests, always bounded.
pub fn poll<T, E>(limit: Duration, mut f: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let deadline = Instant::now() + limit;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// [`poll`], panicking with `what` and the last error when `limit` passes.
pub fn eventually<T, E: std::fmt::Debug>(
    what: &str,
    limit: Duration,
    f: impl FnMut() -> Result<T, E>,
) -> T {
    poll(limit, f).unwrap_or_else(|e| panic!("timed out after {limit:?} waiting for {what}: {e:?}"))
}

/// A test charm shipped with jujusim (`jujusim/testcharms/<name>`), as `deploy` takes it.
pub fn testcharm(name: &str) -> String {
    testcharms_dir().join(name).display().to_string()
}

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

    /// Stderr without jujusim's `jujusim: seed N (...)` line (printed before the first
    /// hook a command runs): what the command itself said.
    pub fn errors(&self) -> String {
        self.stderr
            .lines()
            .filter(|l| !l.starts_with("jujusim: seed "))
            .map(|l| format!("{l}\n"))
            .collect()
    }
}

/// A jujusim model in a temp dir, destroyed on drop.
pub struct Model {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    bin: PathBuf,
    /// `JUJUSIM_SEED` of every command (see the module doc).
    seed: String,
    /// Whether a failure report (which names the seed) was made already.
    reported: std::cell::Cell<bool>,
    envs: Vec<(String, String)>,
    /// `--machines` for the first deploy (None: jujusim's default, linux).
    machines: Option<&'static str>,
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
            seed: std::env::var("JUJUSIM_SEED")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(fresh_seed),
            reported: std::cell::Cell::new(false),
            envs: Vec::new(),
            machines: None,
        }
    }

    /// The scheduling seed of this model's commands.
    pub fn seed(&self) -> &str {
        &self.seed
    }

    /// The shell command that runs this test again with this model's seed.
    pub fn reproduce(&self) -> String {
        let exe = std::env::args().next().unwrap_or_default();
        let stem = Path::new(&exe)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        // target/debug/deps/<test target>-<16 hex digits>
        let target = match stem.rsplit_once('-') {
            Some((t, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => t,
            _ => stem,
        };
        let test = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map(|n| format!(" -- --exact {n}"))
            .unwrap_or_default();
        format!(
            "JUJUSIM_SEED={} cargo test -p {} --test {target}{test}",
            self.seed,
            env!("CARGO_PKG_NAME")
        )
    }

    /// A model whose machines are the host itself (`--machines host`): no namespaces,
    /// no root, every unit at 127.0.0.1. For tests of the engine and the hook tools.
    pub fn host_machines() -> Model {
        let mut m = Model::new();
        m.machines = Some("host");
        m
    }

    /// Set an environment variable for every jujusim command (e.g.
    /// `JUJUSIM_HOOK_TIMEOUT=60` so a stuck hook fails the test quickly).
    pub fn with_env(mut self, key: &str, value: &str) -> Model {
        if key == "JUJUSIM_SEED" {
            self.seed = value.to_string();
        } else {
            self.envs.push((key.to_string(), value.to_string()));
        }
        self
    }

    /// This model with jujusim's fixed order (`JUJUSIM_SEED=ordered`), for tests of an
    /// exact order across units.
    pub fn ordered(self) -> Model {
        self.with_env("JUJUSIM_SEED", "ordered")
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
        self.run_with(&[], args)
    }

    /// [`Model::run`] with extra environment variables for this command only.
    pub fn run_with(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--model")
            .arg(&self.dir)
            .args(args)
            .env("JUJUSIM_SEED", &self.seed)
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().copied());
        let line = format!(
            "JUJUSIM_SEED={} {} --model {} {}",
            self.seed,
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

    /// `jujusim exec UNIT -- ARGV` whatever its exit code (hook tools' errors are
    /// what tests look at).
    pub fn exec_argv(&self, unit: &str, argv: &[&str]) -> Output {
        let mut args = vec!["exec", unit, "--"];
        args.extend_from_slice(argv);
        self.run(&args)
    }

    /// `jujusim deploy CHARM EXTRA...` (with `--machines` as the model was made);
    /// exit 0.
    pub fn deploy(&self, charm: &Path, extra: &[&str]) -> Output {
        let charm = charm.to_str().expect("charm path is UTF-8");
        let mut args = vec!["deploy", charm];
        if let Some(kind) = self.machines {
            args.extend(["--machines", kind]);
        }
        args.extend_from_slice(extra);
        self.ok(&args)
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

    /// The status JSON entry of one unit (`applications.<app>.units.<unit>`, or for a
    /// subordinate unit `...units.<principal>.subordinates.<unit>`).
    pub fn unit_status(&self, unit: &str) -> Value {
        let app = unit.split('/').next().unwrap_or(unit);
        let mut st = self.status_json();
        let direct = st["applications"][app]["units"][unit].take();
        if !direct.is_null() {
            return direct;
        }
        let apps = st["applications"].as_object_mut().into_iter().flatten();
        apps.flat_map(|(_, a)| a["units"].as_object_mut().into_iter().flatten())
            .map(|(_, u)| u["subordinates"][unit].take())
            .find(|s| !s.is_null())
            .unwrap_or(Value::Null)
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

    /// Panic with `what`, the command's output, the debug-log and how to repeat the test
    /// with the same seed.
    pub fn fail(&self, what: &str, out: &Output) -> ! {
        self.reported.set(true);
        panic!(
            "\n\n==========\n{what}\n\ncommand: {}\n\nstatus: {}\n\nstdout:\n{}\n\nstderr:\n{}\n\n\
             ---------- debug-log ----------\n{}----------\nreproduce (same scheduling seed): {}\n==========\n",
            out.cmd,
            out.code
                .map(|c| format!("exit {c}"))
                .unwrap_or_else(|| "killed by a signal".into()),
            out.stdout,
            out.stderr,
            self.debug_log(),
            self.reproduce()
        )
    }

    /// Assert `cond`, else fail with `what` and `out`.
    pub fn check(&self, cond: bool, what: &str, out: &Output) {
        if !cond {
            self.fail(what, out);
        }
    }

    /// Poll `f` until it returns Ok or `limit` passes (then fail with the last output
    /// `f` saw, and the debug-log). `f` returns the value or the output to report.
    pub fn eventually<T>(
        &self,
        what: &str,
        limit: Duration,
        f: impl FnMut() -> Result<T, Output>,
    ) -> T {
        poll(limit, f).unwrap_or_else(|out| {
            self.fail(
                &format!("timed out after {limit:?} waiting for {what}"),
                &out,
            )
        })
    }

    /// Run `args` until it exits 0, at most for `limit` (then fail with its last output).
    pub fn ok_within(&self, what: &str, limit: Duration, args: &[&str]) -> Output {
        self.eventually(what, limit, || {
            let out = self.run(args);
            if out.success() {
                Ok(out)
            } else {
                Err(out)
            }
        })
    }

    /// Write a charm directory under the scratch dir: `metadata.yaml` (with `name:`),
    /// [`MANIFEST`] as `manifest.yaml`, optional `config.yaml` / `actions.yaml`, and an
    /// executable `dispatch` (bash).
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
        write("manifest.yaml", MANIFEST);
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

    /// A charm like [`Model::write_charm`] whose bash `dispatch` first appends
    /// `<unit> <dispatch path> <remote unit>[ departing=<unit>]` to the model's event
    /// log, then runs `body` (`$H` is the dispatch path). [`Model::take_events`] reads it.
    pub fn event_charm(
        &self,
        name: &str,
        metadata: &str,
        config: Option<&str>,
        actions: Option<&str>,
        body: &str,
    ) -> PathBuf {
        let dispatch = format!(
            "#!/bin/bash\nH=\"$JUJU_DISPATCH_PATH\"\n\
             echo \"$JUJU_UNIT_NAME $JUJU_DISPATCH_PATH $JUJU_REMOTE_UNIT${{JUJU_DEPARTING_UNIT:+ departing=$JUJU_DEPARTING_UNIT}}\" >> {}\n{body}\n",
            self.events_file().display()
        );
        self.write_charm(name, metadata, config, actions, &dispatch)
    }

    fn events_file(&self) -> PathBuf {
        self.scratch().join("events.log")
    }

    /// The events the model's [`Model::event_charm`]s logged since the last call.
    pub fn take_events(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.events_file()).unwrap_or_default();
        let _ = std::fs::remove_file(self.events_file());
        text.lines().map(|l| l.trim_end().to_string()).collect()
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
        if std::thread::panicking() && !self.reported.get() {
            // Also after a plain assert in the test: say how to get this run again.
            eprintln!("reproduce (same scheduling seed): {}", self.reproduce());
        }
        if self.dir.join("model.json").exists() {
            let out = self.run(&["destroy"]);
            if !out.success() && !std::thread::panicking() {
                self.fail("destroy on drop failed", &out);
            }
        }
    }
}

/// A new seed for a model whose test process got none (below 10^9, like jujusim's).
fn fresh_seed() -> String {
    use std::io::Read;
    let mut b = [0u8; 8];
    let random = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map(|()| u64::from_le_bytes(b));
    let n = random.unwrap_or_else(|_| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ u64::from(std::process::id())
    });
    (n % 1_000_000_000).to_string()
}

/// The events of one unit, without its name: `hooks/install`, `hooks/x-relation-joined y/0`.
pub fn events_of(events: &[String], unit: &str) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e.strip_prefix(&format!("{unit} ")))
        .map(String::from)
        .collect()
}

/// Owned strings, for comparing with event lists.
pub fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
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
