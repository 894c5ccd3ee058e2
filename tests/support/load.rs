//! `examples/ha_load.rs` from the tests: a bounded load through a proxy (or on one unit),
//! run inside the model network while the test changes the model, and its figures.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use super::jujusim::{jujusim_bin, Model, Output, CHARM_BIN};

/// The `ha_load` example, built once per test process (in the profile the tests were
/// built in) when it is missing or older than its source.
pub fn ha_load_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let profile_dir = Path::new(CHARM_BIN)
            .parent()
            .expect("the charm binary has a directory");
        let bin = profile_dir.join("examples/ha_load");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ha_load.rs");
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if mtime(&bin).is_none() || mtime(&source) > mtime(&bin) {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let target_dir = profile_dir.parent().expect("a target dir");
            let mut cmd = Command::new(cargo);
            cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
                .args(["build", "--example", "ha_load"])
                .env("CARGO_TARGET_DIR", target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let out = cmd.output().expect("running cargo build --example ha_load");
            assert!(
                out.status.success(),
                "cargo build --example ha_load failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        bin
    })
    .clone()
}

/// Files of one load: the seeds, what the run pushed, the stop file.
pub struct Load {
    /// Seed images (`ha_load seed`'s output).
    pub seeds: PathBuf,
    /// What `run` pushed.
    pub pushed: PathBuf,
    /// Created to end a run early.
    pub stop: PathBuf,
}

impl Load {
    /// Paths under the model's scratch dir, named `name`.
    pub fn new(m: &Model, name: &str) -> Load {
        let dir = m.scratch();
        Load {
            seeds: dir.join(format!("{name}-seeds.json")),
            pushed: dir.join(format!("{name}-pushed.json")),
            stop: dir.join(format!("{name}-stop")),
        }
    }

    /// `ha_load seed` through `target` (required to succeed).
    pub fn seed(&self, m: &Model, target: &str, images: u32) {
        let bin = ha_load_bin().display().to_string();
        let out = m.run(&[
            "netexec",
            "--",
            &bin,
            "seed",
            &format!("target={target}"),
            &format!("out={}", self.seeds.display()),
            &format!("images={images}"),
        ]);
        if !out.success() {
            m.fail(&format!("seeding images through {target} failed"), &out);
        }
    }

    /// Starts `ha_load run` through `target` in the background: until the stop file
    /// exists, at most `max_seconds`.
    pub fn start(
        &self,
        m: &Model,
        target: &str,
        max_seconds: u32,
        pullers: u32,
        pushers: u32,
    ) -> Running {
        let _ = std::fs::remove_file(&self.stop);
        let child = Command::new(jujusim_bin())
            .arg("--model")
            .arg(m.dir())
            .args(["netexec", "--"])
            .arg(ha_load_bin())
            .args([
                "run".to_string(),
                format!("target={target}"),
                format!("seeds={}", self.seeds.display()),
                format!("out={}", self.pushed.display()),
                format!("seconds={max_seconds}"),
                format!("pullers={pullers}"),
                format!("pushers={pushers}"),
                format!("until={}", self.stop.display()),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting ha_load run");
        Running {
            child: Some(child),
            stop: self.stop.clone(),
        }
    }

    /// `ha_load verify` of every seed and pushed image at each registry in `at`.
    pub fn verify(&self, m: &Model, at: &[String]) -> Output {
        let bin = ha_load_bin().display().to_string();
        let mut argv = vec![
            "netexec".to_string(),
            "--".into(),
            bin,
            "verify".into(),
            format!("at={}", at.join(",")),
            format!("seeds={}", self.seeds.display()),
        ];
        if self.pushed.exists() {
            argv.push(format!("pushed={}", self.pushed.display()));
        }
        m.run(&argv.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

/// A load running in the background; stopped (and waited for) on drop.
pub struct Running {
    child: Option<Child>,
    stop: PathBuf,
}

impl Running {
    /// Ends the run and returns its figures (the JSON `run` prints) and its stderr.
    pub fn finish(mut self) -> (Value, String) {
        std::fs::write(&self.stop, b"").expect("writing the stop file");
        let child = self.child.take().expect("finished once");
        let out = child.wait_with_output().expect("waiting for ha_load run");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let figures = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "ha_load run printed no figures ({e}; {}):\n{stdout}\n{stderr}",
                out.status
            )
        });
        (figures, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::fs::write(&self.stop, b"");
            let _ = child.wait();
        }
    }
}
