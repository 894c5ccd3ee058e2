//! Distro packages (apt) and the registry binary.
//!
//! `Apt::ensure_installed` asks dpkg first and runs apt only for what is missing, so an
//! install hook that runs again (or a machine that already has the package) costs one
//! `dpkg-query` per package and never an `apt-get update`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::command::{CommandError, CommandLine, CommandOutput, CommandRunner, HostRunner};

/// The registry's program name on PATH (from the `docker-registry` distro package).
pub const REGISTRY_PROGRAM: &str = "docker-registry";

/// A package operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PackagesError {
    /// A command ran and failed; carries the command and the end of its stderr.
    #[error("`{command}` failed ({status}):\n{stderr_tail}\nfix: check the machine's apt sources and proxy settings, then retry")]
    Failed {
        /// The command line.
        command: String,
        /// "exit 100" or "killed by a signal".
        status: String,
        /// Last lines of stderr.
        stderr_tail: String,
    },
    /// A command could not be started.
    #[error(transparent)]
    Run(#[from] CommandError),
    /// The registry binary is not on PATH.
    #[error("`{REGISTRY_PROGRAM}` was not found on PATH ({cause}); install the docker-registry package: apt-get install docker-registry")]
    BinaryMissing {
        /// Why `which` failed.
        cause: which::Error,
    },
    /// `docker-registry --version` printed something without a version.
    #[error("could not find a version number in the output of `{command}`: {output:?}")]
    VersionUnparsed {
        /// The command line.
        command: String,
        /// What it printed.
        output: String,
    },
}

fn failed(cmd: &CommandLine, out: &CommandOutput) -> PackagesError {
    PackagesError::Failed {
        command: cmd.to_string(),
        status: match out.code {
            Some(c) => format!("exit {c}"),
            None => "killed by a signal".into(),
        },
        stderr_tail: out.stderr_tail(),
    }
}

/// The charm's package effects.
pub trait Packages {
    /// Installs whichever of `names` are not installed yet; does nothing when all are.
    fn ensure_installed(&self, names: &[&str]) -> Result<(), PackagesError>;
    /// True when dpkg reports the package as installed.
    fn is_installed(&self, name: &str) -> Result<bool, PackagesError>;
}

/// `Packages` through dpkg-query and apt-get.
#[derive(Debug)]
pub struct Apt<R: CommandRunner = HostRunner> {
    runner: R,
    updated: AtomicBool,
}

impl Apt<HostRunner> {
    /// Apt on this machine.
    pub fn host() -> Self {
        Apt::new(HostRunner)
    }
}

impl<R: CommandRunner> Apt<R> {
    /// Apt running its commands through `runner`.
    pub fn new(runner: R) -> Self {
        Apt {
            runner,
            updated: AtomicBool::new(false),
        }
    }

    /// The runner (tests read its recorded calls).
    pub fn runner(&self) -> &R {
        &self.runner
    }

    fn run_ok(&self, cmd: &CommandLine) -> Result<CommandOutput, PackagesError> {
        let out = self.runner.run(cmd)?;
        if out.success() {
            Ok(out)
        } else {
            Err(failed(cmd, &out))
        }
    }
}

/// dpkg's `${Status}` is "want flag status"; only "installed" in the last word counts
/// ("deinstall ok config-files" is a removed package).
fn status_is_installed(status: &str) -> bool {
    status.split_whitespace().nth(2) == Some("installed")
}

impl<R: CommandRunner> Packages for Apt<R> {
    fn ensure_installed(&self, names: &[&str]) -> Result<(), PackagesError> {
        let mut missing = Vec::new();
        for name in names {
            if !self.is_installed(name)? {
                missing.push(*name);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        tracing::info!(packages = ?missing, "installing packages");
        if !self.updated.swap(true, Ordering::SeqCst) {
            let update =
                CommandLine::new("apt-get", &["update"]).env("DEBIAN_FRONTEND", "noninteractive");
            if let Err(e) = self.run_ok(&update) {
                // Let a retry run the update again.
                self.updated.store(false, Ordering::SeqCst);
                return Err(e);
            }
        }
        // Wait for the dpkg lock (another agent may be installing) instead of failing at once.
        let mut args = vec![
            "install",
            "-y",
            "--no-install-recommends",
            "-o",
            "DPkg::Lock::Timeout=120",
        ];
        args.extend(missing.iter().copied());
        let install = CommandLine::new("apt-get", &args).env("DEBIAN_FRONTEND", "noninteractive");
        self.run_ok(&install).map(|_| ())
    }

    fn is_installed(&self, name: &str) -> Result<bool, PackagesError> {
        let cmd = CommandLine::new("dpkg-query", &["-W", "-f=${Status}", name]);
        let out = self.runner.run(&cmd)?;
        match out.code {
            Some(0) => Ok(status_is_installed(&out.stdout)),
            // dpkg-query exits 1 for a package it has never heard of.
            Some(1) if out.stderr.contains("no packages found") => Ok(false),
            _ => Err(failed(&cmd, &out)),
        }
    }
}

/// Where `docker-registry` is on PATH.
pub fn registry_binary() -> Result<PathBuf, PackagesError> {
    which::which(REGISTRY_PROGRAM).map_err(|cause| PackagesError::BinaryMissing { cause })
}

/// The registry's version, from `<binary> --version` (e.g. `2.8.2+ds1`).
pub fn registry_version(binary: &Path) -> Result<String, PackagesError> {
    registry_version_with(&HostRunner, binary)
}

/// `registry_version` through a given runner.
pub fn registry_version_with(
    runner: &dyn CommandRunner,
    binary: &Path,
) -> Result<String, PackagesError> {
    let cmd = CommandLine::new(&binary.to_string_lossy(), &["--version"]);
    let out = runner.run(&cmd)?;
    if !out.success() {
        return Err(failed(&cmd, &out));
    }
    parse_registry_version(&out.stdout).ok_or_else(|| PackagesError::VersionUnparsed {
        command: cmd.to_string(),
        output: out.stdout.clone(),
    })
}

/// Finds the version token in `--version` output.
///
/// # Format
///
/// ```text
/// docker-registry github.com/docker/distribution 2.8.2+ds1      (Debian)
/// registry github.com/distribution/distribution/v3 v3.0.0       (upstream)
/// ```
///
/// The first whitespace-separated token that starts with digits and a dot (after an optional
/// `v`) is the version; the `v` is dropped, a distro suffix (`+ds1`) is kept.
pub fn parse_registry_version(output: &str) -> Option<String> {
    output.split_whitespace().find_map(|token| {
        let t = token.strip_prefix('v').unwrap_or(token);
        let (major, rest) = t.split_once('.')?;
        let ok = !major.is_empty()
            && major.bytes().all(|b| b.is_ascii_digit())
            && rest.starts_with(|c: char| c.is_ascii_digit());
        ok.then(|| t.to_string())
    })
}

#[derive(Debug, Default)]
struct FakePackages {
    installed: BTreeSet<String>,
    install_calls: Vec<Vec<String>>,
    fail_next: usize,
}

/// In-memory `Packages`: records which packages each `ensure_installed` had to install.
#[derive(Debug, Default)]
pub struct RecordingPackages {
    state: Mutex<FakePackages>,
}

impl RecordingPackages {
    /// Nothing installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts with these packages installed.
    pub fn with_installed(names: &[&str]) -> Self {
        let p = Self::new();
        p.lock()
            .installed
            .extend(names.iter().map(|n| n.to_string()));
        p
    }

    fn lock(&self) -> MutexGuard<'_, FakePackages> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the next `n` installs fail (like apt being unreachable).
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }

    /// The package lists each install actually installed (empty calls are not recorded).
    pub fn install_calls(&self) -> Vec<Vec<String>> {
        self.lock().install_calls.clone()
    }
}

impl Packages for RecordingPackages {
    fn ensure_installed(&self, names: &[&str]) -> Result<(), PackagesError> {
        let mut st = self.lock();
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !st.installed.contains(**n))
            .map(|n| n.to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if st.fail_next > 0 {
            st.fail_next -= 1;
            return Err(PackagesError::Failed {
                command: format!("apt-get install -y {}", missing.join(" ")),
                status: "exit 100".into(),
                stderr_tail: "E: injected failure".into(),
            });
        }
        st.installed.extend(missing.iter().cloned());
        st.install_calls.push(missing);
        Ok(())
    }

    fn is_installed(&self, name: &str) -> Result<bool, PackagesError> {
        Ok(self.lock().installed.contains(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::command::RecordingRunner;

    #[test]
    fn parses_debian_and_upstream_version_lines() {
        let cases = [
            (
                "docker-registry github.com/docker/distribution 2.8.2+ds1\n",
                Some("2.8.2+ds1"),
            ),
            (
                "registry github.com/distribution/distribution/v3 v3.0.0",
                Some("3.0.0"),
            ),
            (
                "registry github.com/docker/distribution v2.8.3",
                Some("2.8.3"),
            ),
            ("docker-registry version 2.7.1", Some("2.7.1")),
            ("docker-registry github.com/docker/distribution", None),
            ("", None),
            ("v.1 x.2 1. v", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_registry_version(input).as_deref(),
                want,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn dpkg_status_words() {
        assert!(status_is_installed("install ok installed"));
        assert!(!status_is_installed("deinstall ok config-files"));
        assert!(!status_is_installed("install ok half-configured"));
        assert!(!status_is_installed(""));
    }

    fn dpkg_fake(installed: &'static [&'static str]) -> RecordingRunner {
        RecordingRunner::answering(move |cmd| {
            if cmd.program == "dpkg-query" {
                let name = cmd.args.last().map(String::as_str).unwrap_or("");
                if installed.contains(&name) {
                    CommandOutput::ok("install ok installed")
                } else {
                    CommandOutput::failed(
                        1,
                        &format!("dpkg-query: no packages found matching {name}\n"),
                    )
                }
            } else {
                CommandOutput::ok("")
            }
        })
    }

    #[test]
    fn installs_only_missing_and_updates_once() {
        let apt = Apt::new(dpkg_fake(&["haproxy"]));
        apt.ensure_installed(&["haproxy", "docker-registry"])
            .unwrap();
        apt.ensure_installed(&["skopeo"]).unwrap();
        let argvs = apt.runner().argvs();
        let apt_calls: Vec<&String> = argvs.iter().filter(|a| a.starts_with("apt-get")).collect();
        assert_eq!(
            apt_calls,
            [
                "apt-get update",
                "apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=120 docker-registry",
                "apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=120 skopeo",
            ]
        );
        let install = &apt.runner().calls()[3];
        assert_eq!(
            install.env,
            [("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string())]
        );
    }

    #[test]
    fn nothing_missing_runs_no_apt() {
        let apt = Apt::new(dpkg_fake(&["haproxy"]));
        apt.ensure_installed(&["haproxy"]).unwrap();
        assert!(apt
            .runner()
            .argvs()
            .iter()
            .all(|a| a.starts_with("dpkg-query")));
    }

    #[test]
    fn failure_names_command_and_stderr_tail() {
        let runner = RecordingRunner::answering(|cmd| {
            if cmd.program == "dpkg-query" {
                CommandOutput::failed(1, "dpkg-query: no packages found matching x")
            } else if cmd.args.first().map(String::as_str) == Some("update") {
                CommandOutput::ok("")
            } else {
                CommandOutput::failed(
                    100,
                    "Reading package lists...\nE: Unable to locate package x\n",
                )
            }
        });
        let apt = Apt::new(runner);
        let err = apt.ensure_installed(&["x"]).unwrap_err().to_string();
        assert!(err.contains("apt-get install -y"), "{err}");
        assert!(err.contains("exit 100"), "{err}");
        assert!(err.contains("E: Unable to locate package x"), "{err}");
    }

    #[test]
    fn failed_update_is_retried_next_time() {
        let runner = RecordingRunner::answering(|cmd| match cmd.program.as_str() {
            "dpkg-query" => CommandOutput::failed(1, "no packages found matching x"),
            _ => CommandOutput::failed(100, "E: network down"),
        });
        let apt = Apt::new(runner);
        assert!(apt.ensure_installed(&["x"]).is_err());
        assert!(apt.ensure_installed(&["x"]).is_err());
        let updates = apt
            .runner()
            .argvs()
            .iter()
            .filter(|a| *a == "apt-get update")
            .count();
        assert_eq!(updates, 2);
    }

    #[test]
    fn unexpected_dpkg_failure_is_an_error() {
        let apt = Apt::new(RecordingRunner::answering(|_| {
            CommandOutput::failed(2, "dpkg: database locked")
        }));
        assert!(apt.is_installed("x").is_err());
    }

    #[test]
    fn fake_records_only_real_installs() {
        let p = RecordingPackages::with_installed(&["haproxy"]);
        p.fail_next(1);
        assert!(p.ensure_installed(&["haproxy", "skopeo"]).is_err());
        p.ensure_installed(&["haproxy", "skopeo"]).unwrap();
        p.ensure_installed(&["skopeo"]).unwrap();
        assert_eq!(p.install_calls(), vec![vec!["skopeo".to_string()]]);
    }
}
