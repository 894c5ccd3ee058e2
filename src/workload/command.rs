//! Running a program to completion and capturing its output, behind a trait so the code that
//! decides which commands to run (apt, systemctl) is tested without running them.

use std::fmt;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

/// What a finished command printed and how it exited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl CommandOutput {
    /// A successful run printing `stdout`.
    pub fn ok(stdout: &str) -> Self {
        CommandOutput {
            code: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// A failed run with this exit code and stderr.
    pub fn failed(code: i32, stderr: &str) -> Self {
        CommandOutput {
            code: Some(code),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last few lines of stderr (what an error message should quote).
    pub fn stderr_tail(&self) -> String {
        tail(&self.stderr, 10)
    }
}

/// The last `lines` lines of `text`, trimmed.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A command line: program, arguments and extra environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// Program name or path.
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Extra environment variables (added to the inherited environment).
    pub env: Vec<(String, String)>,
}

impl CommandLine {
    /// `program args...` with no extra environment.
    pub fn new(program: &str, args: &[&str]) -> Self {
        CommandLine {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
        }
    }

    /// Adds one environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `program arg arg` (what a test asserts on and an error message shows).
    pub fn argv(&self) -> Vec<&str> {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect()
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={v} ")?;
        }
        write!(f, "{}", self.argv().join(" "))
    }
}

/// A command could not be run at all (a non-zero exit is an `Ok` output, judged by the caller).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program could not be started (missing, not executable).
    #[error("could not run `{command}`: {cause}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        cause: std::io::Error,
    },
    /// A failure injected into `RecordingRunner` by a test.
    #[error("could not run `{command}`: injected failure")]
    Injected {
        /// The command line.
        command: String,
    },
}

/// Runs commands to completion.
pub trait CommandRunner {
    /// Runs `cmd` with stdin from /dev/null and returns its exit code and output.
    fn run(&self, cmd: &CommandLine) -> Result<CommandOutput, CommandError>;
}

/// `CommandRunner` that really runs the program.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostRunner;

impl CommandRunner for HostRunner {
    fn run(&self, cmd: &CommandLine) -> Result<CommandOutput, CommandError> {
        let out = Command::new(&cmd.program)
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .map_err(|cause| CommandError::Spawn {
                command: cmd.to_string(),
                cause,
            })?;
        Ok(CommandOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

type Responder = Box<dyn Fn(&CommandLine) -> CommandOutput + Send>;

/// `CommandRunner` that records every command and answers from a closure.
pub struct RecordingRunner {
    responder: Mutex<Responder>,
    calls: Mutex<Vec<CommandLine>>,
    fail_next: Mutex<usize>,
}

impl fmt::Debug for RecordingRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingRunner")
            .field("calls", &self.calls())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RecordingRunner {
    /// A runner where every command succeeds with empty output.
    pub fn new() -> Self {
        Self::answering(|_| CommandOutput::ok(""))
    }

    /// A runner that answers each command with `responder(cmd)`.
    pub fn answering(responder: impl Fn(&CommandLine) -> CommandOutput + Send + 'static) -> Self {
        RecordingRunner {
            responder: Mutex::new(Box::new(responder)),
            calls: Mutex::new(Vec::new()),
            fail_next: Mutex::new(0),
        }
    }

    /// Makes the next `n` commands fail to start.
    pub fn fail_next(&self, n: usize) {
        *lock(&self.fail_next) = n;
    }

    /// Every command run so far, in order.
    pub fn calls(&self) -> Vec<CommandLine> {
        lock(&self.calls).clone()
    }

    /// Every command run so far as `program arg ...` strings.
    pub fn argvs(&self) -> Vec<String> {
        self.calls().iter().map(|c| c.argv().join(" ")).collect()
    }
}

impl Default for RecordingRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandRunner for RecordingRunner {
    fn run(&self, cmd: &CommandLine) -> Result<CommandOutput, CommandError> {
        {
            let mut fail = lock(&self.fail_next);
            if *fail > 0 {
                *fail -= 1;
                return Err(CommandError::Injected {
                    command: cmd.to_string(),
                });
            }
        }
        lock(&self.calls).push(cmd.clone());
        Ok((lock(&self.responder))(cmd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_runner_captures_exit_code_and_streams() {
        let out = HostRunner
            .run(&CommandLine::new(
                "sh",
                &["-c", "echo out; echo err >&2; exit 3"],
            ))
            .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr_tail(), "err");
    }

    #[test]
    fn host_runner_names_a_missing_program() {
        let err = HostRunner
            .run(&CommandLine::new("/nonexistent/prog", &["x"]))
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/prog x"), "{err}");
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 2), "");
    }
}
