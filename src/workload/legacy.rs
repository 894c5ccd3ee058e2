//! The Python charm's registry container, which must go before our registry can start.
//!
//! The Python charm ran the registry as a Docker container named by `registry-name`
//! (restart policy `unless-stopped`) publishing `registry-port`. After `juju refresh` to
//! this charm that container keeps running and keeps the port: our registry cannot bind,
//! and our readiness probe would get its answers. So on `install` and `upgrade-charm` the
//! charm stops and removes it — without `--volumes`: the images live in the host directory
//! `/srv/registry` (a bind mount), which our registry serves next.
//!
//! Everything goes through the `docker` CLI found on PATH; no `docker` means no container.

use std::fmt;
use std::path::PathBuf;

use super::command::{CommandError, CommandLine, CommandOutput, CommandRunner, HostRunner};

/// The Docker CLI's program name on PATH.
pub const DOCKER_PROGRAM: &str = "docker";

/// `docker container inspect` output: the container's name (with Docker's leading `/`),
/// a space, its state.
const INSPECT_FORMAT: &str = "{{.Name}} {{.State.Status}}";

/// A name Docker accepts for a container (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`), so it is never
/// read as a CLI option and names at most one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerName(String);

impl ContainerName {
    /// The name, or `None` when Docker would refuse it (then no such container exists).
    pub fn parse(name: &str) -> Option<Self> {
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = name.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        (first_ok && rest_ok).then(|| ContainerName(name.to_string()))
    }

    /// The name as Docker spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A container's `.State.Status` as Docker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Running (holds its published ports).
    Running,
    /// Paused (still holds its ports).
    Paused,
    /// Being restarted by its restart policy (will hold its ports again).
    Restarting,
    /// Created, never started.
    Created,
    /// Stopped.
    Exited,
    /// Failed to stop or be removed.
    Dead,
    /// Being removed.
    Removing,
    /// A state this charm does not know, as printed.
    Other(String),
}

impl ContainerState {
    /// Reads Docker's state word.
    pub fn parse(word: &str) -> Self {
        match word {
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "created" => Self::Created,
            "exited" => Self::Exited,
            "dead" => Self::Dead,
            "removing" => Self::Removing,
            other => Self::Other(other.to_string()),
        }
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Created => "created",
            Self::Exited => "exited",
            Self::Dead => "dead",
            Self::Removing => "removing",
            Self::Other(w) => w,
        };
        f.write_str(word)
    }
}

/// A Docker command failed.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// The command ran and failed; carries the end of its stderr.
    #[error("`{command}` failed ({status}): {stderr_tail}")]
    Failed {
        /// The command line.
        command: String,
        /// "exit 1" or "killed by a signal".
        status: String,
        /// Last lines of stderr.
        stderr_tail: String,
    },
    /// The command could not be started.
    #[error(transparent)]
    Run(#[from] CommandError),
    /// `docker container inspect` printed something this charm cannot read.
    #[error("could not read the output of `{command}`: {output:?}")]
    Unparsed {
        /// The command line.
        command: String,
        /// What it printed.
        output: String,
    },
}

/// The Python charm's container, as far as this charm needs it.
pub trait LegacyContainer {
    /// The state of the container named exactly `name`; `None` when there is none (or no
    /// Docker engine at all).
    fn find(&self, name: &ContainerName) -> Result<Option<ContainerState>, LegacyError>;
    /// Stops and removes the container, keeping its volumes and bind-mounted data.
    fn remove(&self, name: &ContainerName) -> Result<(), LegacyError>;
}

/// [`LegacyContainer`] through the `docker` CLI.
pub struct DockerCli<R: CommandRunner = HostRunner> {
    runner: R,
    /// Finds `docker` (PATH lookup on a unit); asked only when a container is looked for,
    /// so hooks that never look pay nothing.
    locate: fn() -> Option<PathBuf>,
}

impl fmt::Debug for DockerCli<HostRunner> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerCli").finish_non_exhaustive()
    }
}

impl DockerCli<HostRunner> {
    /// The `docker` on this machine's PATH.
    pub fn host() -> Self {
        DockerCli::new(HostRunner, docker_on_path)
    }
}

/// `docker` on PATH, if installed.
pub fn docker_on_path() -> Option<PathBuf> {
    which::which(DOCKER_PROGRAM).ok()
}

impl<R: CommandRunner> DockerCli<R> {
    /// The CLI `locate` finds, run through `runner`.
    pub fn new(runner: R, locate: fn() -> Option<PathBuf>) -> Self {
        DockerCli { runner, locate }
    }

    /// The runner (tests read its recorded calls).
    pub fn runner(&self) -> &R {
        &self.runner
    }

    fn command(&self, args: &[&str]) -> Option<CommandLine> {
        let program = (self.locate)()?;
        Some(CommandLine::new(&program.to_string_lossy(), args))
    }

    /// Runs `docker container <verb> <name>`; a container that is already gone is success.
    fn act(&self, verb: &str, name: &ContainerName) -> Result<(), LegacyError> {
        let Some(cmd) = self.command(&["container", verb, name.as_str()]) else {
            return Ok(());
        };
        let out = self.runner.run(&cmd)?;
        if out.success() || no_such_container(&out) {
            Ok(())
        } else {
            Err(failed(&cmd, &out))
        }
    }
}

/// Docker's answer for a name no container has.
fn no_such_container(out: &CommandOutput) -> bool {
    out.stderr.contains("No such container") || out.stderr.contains("No such object")
}

/// The CLI's answer when no daemon listens on its socket: no engine, so no container runs.
fn no_daemon(out: &CommandOutput) -> bool {
    out.stderr.contains("Cannot connect to the Docker daemon")
}

fn failed(cmd: &CommandLine, out: &CommandOutput) -> LegacyError {
    LegacyError::Failed {
        command: cmd.to_string(),
        status: match out.code {
            Some(c) => format!("exit {c}"),
            None => "killed by a signal".into(),
        },
        stderr_tail: out.stderr_tail(),
    }
}

impl<R: CommandRunner> LegacyContainer for DockerCli<R> {
    fn find(&self, name: &ContainerName) -> Result<Option<ContainerState>, LegacyError> {
        let Some(cmd) = self.command(&[
            "container",
            "inspect",
            "--format",
            INSPECT_FORMAT,
            name.as_str(),
        ]) else {
            tracing::debug!("no `{DOCKER_PROGRAM}` on PATH: no container to look for");
            return Ok(None);
        };
        let out = self.runner.run(&cmd)?;
        if !out.success() {
            if no_such_container(&out) {
                return Ok(None);
            }
            if no_daemon(&out) {
                tracing::info!(
                    "`{DOCKER_PROGRAM}` is installed but no Docker daemon answers: no container {name} runs"
                );
                return Ok(None);
            }
            return Err(failed(&cmd, &out));
        }
        let text = out.stdout.trim();
        let Some((found, state)) = text.split_once(' ') else {
            return Err(LegacyError::Unparsed {
                command: cmd.to_string(),
                output: out.stdout.clone(),
            });
        };
        // `inspect` also resolves an ID prefix: only a container with exactly this name
        // counts (the Python charm's substring match: docs/python-charm-bugs.md#b26).
        if found.trim_start_matches('/') != name.as_str() {
            tracing::debug!("`{name}` names container {found}, not one called {name}");
            return Ok(None);
        }
        Ok(Some(ContainerState::parse(state.trim())))
    }

    fn remove(&self, name: &ContainerName) -> Result<(), LegacyError> {
        self.act("stop", name)?;
        // No `--volumes`: the Python charm's data is in bind mounts and volumes we keep.
        self.act("rm", name)
    }
}

/// [`LegacyContainer`] for tests: one optional container, every call recorded.
#[derive(Debug, Default)]
pub struct RecordingLegacy {
    state: std::sync::Mutex<RecordingLegacyState>,
}

#[derive(Debug, Default)]
struct RecordingLegacyState {
    container: Option<(String, ContainerState)>,
    fail_remove: Option<String>,
    fail_find: Option<String>,
    calls: Vec<String>,
}

impl RecordingLegacy {
    /// No container at all.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecordingLegacyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A container called `name` in `state`.
    pub fn with_container(name: &str, state: ContainerState) -> Self {
        let r = Self::new();
        r.set_container(name, state);
        r
    }

    /// Puts a container called `name` in `state` on the machine (replacing any other).
    pub fn set_container(&self, name: &str, state: ContainerState) {
        self.lock().container = Some((name.to_string(), state));
    }

    /// Makes `remove` fail with `stderr` (the container stays) until [`Self::heal`].
    pub fn fail_remove(&self, stderr: &str) {
        self.lock().fail_remove = Some(stderr.to_string());
    }

    /// Makes `find` fail with `stderr` until [`Self::heal`].
    pub fn fail_find(&self, stderr: &str) {
        self.lock().fail_find = Some(stderr.to_string());
    }

    /// Ends injected failures.
    pub fn heal(&self) {
        let mut s = self.lock();
        s.fail_remove = None;
        s.fail_find = None;
    }

    /// Removes the container behind the charm's back (an operator's `docker rm -f`).
    pub fn operator_removes(&self) {
        self.lock().container = None;
    }

    /// The container still there, if any.
    pub fn container(&self) -> Option<(String, ContainerState)> {
        self.lock().container.clone()
    }

    /// Every call so far: `find NAME` / `remove NAME`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Forgets recorded calls.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }
}

fn injected(what: &str, name: &ContainerName, stderr: &str) -> LegacyError {
    LegacyError::Failed {
        command: format!("docker container {what} {name}"),
        status: "exit 1".into(),
        stderr_tail: stderr.to_string(),
    }
}

impl LegacyContainer for RecordingLegacy {
    fn find(&self, name: &ContainerName) -> Result<Option<ContainerState>, LegacyError> {
        let mut s = self.lock();
        s.calls.push(format!("find {name}"));
        if let Some(err) = &s.fail_find {
            return Err(injected("inspect", name, err));
        }
        Ok(s.container
            .as_ref()
            .filter(|(n, _)| n == name.as_str())
            .map(|(_, st)| st.clone()))
    }

    fn remove(&self, name: &ContainerName) -> Result<(), LegacyError> {
        let mut s = self.lock();
        s.calls.push(format!("remove {name}"));
        if let Some(err) = &s.fail_remove {
            return Err(injected("stop", name, err));
        }
        if s.container
            .as_ref()
            .is_some_and(|(n, _)| n == name.as_str())
        {
            s.container = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::command::RecordingRunner;

    const DOCKER: &str = "/usr/bin/docker";

    fn docker() -> Option<PathBuf> {
        Some(PathBuf::from(DOCKER))
    }

    fn name(n: &str) -> ContainerName {
        ContainerName::parse(n).unwrap()
    }

    /// A fake CLI knowing one container `registry` in `state`; `docker stop`/`rm` succeed.
    fn cli_with(state: &'static str) -> DockerCli<RecordingRunner> {
        let runner = RecordingRunner::answering(move |cmd| {
            let args: Vec<&str> = cmd.args.iter().map(String::as_str).collect();
            match args.as_slice() {
                ["container", "inspect", "--format", _, "registry"] => {
                    CommandOutput::ok(&format!("/registry {state}\n"))
                }
                ["container", "inspect", "--format", _, other] => CommandOutput::failed(
                    1,
                    &format!("Error response from daemon: No such container: {other}\n"),
                ),
                ["container", "stop" | "rm", "registry"] => CommandOutput::ok("registry\n"),
                _ => CommandOutput::failed(125, "unexpected"),
            }
        });
        DockerCli::new(runner, docker)
    }

    #[test]
    fn find_runs_inspect_with_the_exact_argv() {
        let cli = cli_with("running");
        assert_eq!(
            cli.find(&name("registry")).unwrap(),
            Some(ContainerState::Running)
        );
        assert_eq!(
            cli.runner().calls()[0].argv(),
            [
                DOCKER,
                "container",
                "inspect",
                "--format",
                "{{.Name}} {{.State.Status}}",
                "registry"
            ]
        );
    }

    #[test]
    fn remove_stops_then_removes_without_volumes() {
        let cli = cli_with("running");
        cli.remove(&name("registry")).unwrap();
        assert_eq!(
            cli.runner().argvs(),
            [
                format!("{DOCKER} container stop registry"),
                format!("{DOCKER} container rm registry")
            ]
        );
        assert!(cli
            .runner()
            .calls()
            .iter()
            .all(|c| !c.args.iter().any(|a| a == "--volumes" || a == "-v")));
    }

    #[test]
    fn a_missing_container_is_none_and_not_a_substring_match() {
        let cli = cli_with("running");
        assert_eq!(cli.find(&name("reg")).unwrap(), None);
        assert_eq!(cli.find(&name("registry2")).unwrap(), None);
    }

    #[test]
    fn a_name_resolved_as_an_id_prefix_is_not_our_container() {
        // `docker container inspect cafe` answers for a container whose ID starts with cafe.
        let runner = RecordingRunner::answering(|_| CommandOutput::ok("/something-else running\n"));
        let cli = DockerCli::new(runner, docker);
        assert_eq!(cli.find(&name("cafe")).unwrap(), None);
    }

    #[test]
    fn states_are_read_as_docker_prints_them() {
        for (word, state) in [
            ("exited", ContainerState::Exited),
            ("restarting", ContainerState::Restarting),
            ("paused", ContainerState::Paused),
            ("created", ContainerState::Created),
        ] {
            assert_eq!(cli_with(word).find(&name("registry")).unwrap(), Some(state));
        }
        assert_eq!(
            ContainerState::parse("weird"),
            ContainerState::Other("weird".into())
        );
        assert_eq!(ContainerState::Restarting.to_string(), "restarting");
    }

    #[test]
    fn no_docker_on_path_runs_nothing() {
        let cli = DockerCli::new(RecordingRunner::new(), || None);
        assert_eq!(cli.find(&name("registry")).unwrap(), None);
        cli.remove(&name("registry")).unwrap();
        assert!(cli.runner().calls().is_empty());
    }

    #[test]
    fn no_daemon_means_no_container() {
        let runner = RecordingRunner::answering(|_| {
            CommandOutput::failed(
                1,
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
            )
        });
        let cli = DockerCli::new(runner, docker);
        assert_eq!(cli.find(&name("registry")).unwrap(), None);
    }

    #[test]
    fn other_docker_failures_are_errors_naming_the_command() {
        let runner = RecordingRunner::answering(|_| {
            CommandOutput::failed(
                1,
                "Error response from daemon: cannot stop container: permission denied\n",
            )
        });
        let cli = DockerCli::new(runner, docker);
        let err = cli.find(&name("registry")).unwrap_err().to_string();
        assert!(err.contains("container inspect"), "{err}");
        let err = cli.remove(&name("registry")).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "`{DOCKER} container stop registry` failed (exit 1)"
            )),
            "{err}"
        );
        assert!(err.contains("permission denied"), "{err}");
        assert_eq!(cli.runner().calls().len(), 2, "no rm after a failed stop");
    }

    #[test]
    fn a_container_gone_meanwhile_is_removed() {
        let runner = RecordingRunner::answering(|_| {
            CommandOutput::failed(
                1,
                "Error response from daemon: No such container: registry\n",
            )
        });
        let cli = DockerCli::new(runner, docker);
        cli.remove(&name("registry")).unwrap();
    }

    #[test]
    fn unparsable_inspect_output_is_an_error() {
        let runner = RecordingRunner::answering(|_| CommandOutput::ok("\n"));
        let cli = DockerCli::new(runner, docker);
        assert!(matches!(
            cli.find(&name("registry")),
            Err(LegacyError::Unparsed { .. })
        ));
    }

    #[test]
    fn container_names_follow_dockers_rule() {
        for ok in ["registry", "my-registry_2.x", "r1"] {
            assert!(ContainerName::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", "r", "--help", "-v", "/registry", "a b", "reg;rm", "_x"] {
            assert!(ContainerName::parse(bad).is_none(), "{bad:?}");
        }
    }
}
