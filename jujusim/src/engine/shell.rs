//! `ssh` and `scp`: commands in a machine's namespaces (its network, its own /etc,
//! /var/lib, /run, /srv views) as an operator's login would run them, without any hook
//! context, and files copied in and out through them.
use super::process::exit_code;
use super::{Engine, EngineError};
use crate::machines::Machine;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One end of a copy: a path here, or a path on a unit's (or machine's) machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A path on the host.
    Local(PathBuf),
    /// `<unit or machine>:<path>`.
    Remote {
        /// A unit name (`app/0`, `app/leader`) or a machine number.
        target: String,
        /// The path on that machine.
        path: String,
    },
}

impl Location {
    /// `app/0:/path` or `0:/path` is remote; anything else is a local path.
    pub fn parse(text: &str) -> Location {
        match text.split_once(':') {
            Some((target, path)) if is_unit(target) || is_machine(target) => Location::Remote {
                target: target.to_string(),
                path: path.to_string(),
            },
            _ => Location::Local(PathBuf::from(text)),
        }
    }
}

/// `app/3` or `app/leader`.
fn is_unit(t: &str) -> bool {
    let Some((app, n)) = t.split_once('/') else {
        return false;
    };
    app.starts_with(|c: char| c.is_ascii_lowercase())
        && app
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && (n == "leader" || (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
}

/// A machine number.
fn is_machine(t: &str) -> bool {
    !t.is_empty() && t.chars().all(|c| c.is_ascii_digit())
}

impl Engine {
    /// A command that runs `program` on `machine` as a login there would: its
    /// namespaces, a plain environment (no hook context), `/root` as home.
    pub fn machine_command(
        &self,
        machine: &Machine,
        program: &str,
    ) -> Result<Command, EngineError> {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .current_dir("/");
        if let Some(term) = std::env::var_os("TERM") {
            cmd.env("TERM", term);
        }
        self.machines.enter(machine, &mut cmd)?;
        Ok(cmd)
    }

    /// `ssh`: `argv` (a shell when empty; one argument is a shell command line) on
    /// `machine`, with this terminal; returns its exit code.
    pub fn ssh(&self, machine: &Machine, argv: &[String]) -> Result<i32, EngineError> {
        let mut cmd = match argv {
            [] => self.machine_command(machine, "/bin/bash")?,
            [line] => {
                let mut c = self.machine_command(machine, "/bin/sh")?;
                c.arg("-c").arg(line);
                c
            }
            [program, args @ ..] => {
                let mut c = self.machine_command(machine, program)?;
                c.args(args);
                c
            }
        };
        let status = cmd.status().map_err(|source| EngineError::Spawn {
            command: argv.join(" "),
            unit: format!("machine {}", machine.id),
            source,
        })?;
        Ok(exit_code(&status))
    }

    /// `scp` from here to `path` on `machine` (into it when it is a directory there);
    /// `recursive` copies a directory tree.
    pub fn copy_to(
        &self,
        machine: &Machine,
        from: &Path,
        path: &str,
        recursive: bool,
    ) -> Result<(), EngineError> {
        let name = from
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // $1: destination, $2: the source's name (used when $1 is a directory).
        let script = if recursive {
            r#"d=$1; [ -d "$d" ] && d="$d/$2"; mkdir -p "$d" && exec tar -C "$d" -xf -"#
        } else {
            r#"d=$1; [ -d "$d" ] && d="$d/$2"; exec cat > "$d""#
        };
        let mut remote = self.machine_command(machine, "/bin/sh")?;
        remote.args(["-c", script, "sh", path, &name]);
        let input = if recursive {
            let mut tar = Command::new("tar");
            tar.arg("-C").arg(from).args(["-cf", "-", "."]);
            Input::Process(tar)
        } else {
            Input::File(from.to_path_buf())
        };
        self.pipe(input, remote, None, &format!("{}:{path}", machine.id))
    }

    /// `scp` of `path` on `machine` to here (into `to` when it is a directory).
    pub fn copy_from(
        &self,
        machine: &Machine,
        path: &str,
        to: &Path,
        recursive: bool,
    ) -> Result<(), EngineError> {
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        let target = if to.is_dir() {
            to.join(name)
        } else {
            to.to_path_buf()
        };
        let mut remote = self.machine_command(machine, "/bin/sh")?;
        if recursive {
            remote.args(["-c", r#"exec tar -C "$1" -cf - ."#, "sh", path]);
            std::fs::create_dir_all(&target).map_err(EngineError::io("creating", &target))?;
            let mut tar = Command::new("tar");
            tar.arg("-C").arg(&target).args(["-xf", "-"]);
            self.pipe(
                Input::Process(remote),
                tar,
                None,
                &format!("{}:{path}", machine.id),
            )
        } else {
            remote.args(["-c", r#"exec cat -- "$1""#, "sh", path]);
            self.pipe(
                Input::Process(remote),
                Command::new("cat"),
                Some(&target),
                &format!("{}:{path}", machine.id),
            )
        }
    }

    /// Feed `input` into `sink` (its stdout to `out` when given); both must exit 0.
    fn pipe(
        &self,
        input: Input,
        mut sink: Command,
        out: Option<&Path>,
        what: &str,
    ) -> Result<(), EngineError> {
        let spawn = |c: &mut Command| {
            c.spawn().map_err(|source| EngineError::Spawn {
                command: format!("{c:?}"),
                unit: what.to_string(),
                source,
            })
        };
        let (mut source, stdin) = match input {
            Input::File(p) => {
                let f = std::fs::File::open(&p).map_err(EngineError::io("cannot open", &p))?;
                (None, Stdio::from(f))
            }
            Input::Process(mut c) => {
                let mut child = spawn(c.stdout(Stdio::piped()))?;
                let out = child
                    .stdout
                    .take()
                    .map(Stdio::from)
                    .unwrap_or_else(Stdio::null);
                (Some(child), out)
            }
        };
        sink.stdin(stdin);
        if let Some(path) = out {
            let f = std::fs::File::create(path).map_err(EngineError::io("cannot create", path))?;
            sink.stdout(f);
        }
        let mut sink = spawn(&mut sink)?;
        let sunk = sink
            .wait()
            .map_err(EngineError::io("waiting for", Path::new(what)))?;
        let sourced = match source.as_mut() {
            Some(c) => Some(
                c.wait()
                    .map_err(EngineError::io("waiting for", Path::new(what)))?,
            ),
            None => None,
        };
        for status in sourced.iter().chain([&sunk]) {
            let code = exit_code(status);
            if code != 0 {
                return Err(EngineError::CopyFailed {
                    what: what.to_string(),
                    code,
                });
            }
        }
        Ok(())
    }
}

/// What a copy reads: a local file, or a process's stdout.
enum Input {
    File(PathBuf),
    Process(Command),
}

#[cfg(test)]
mod tests {
    use super::Location;
    use std::path::PathBuf;

    #[test]
    fn remote_ends_name_a_unit_or_a_machine() {
        let remote = |t: &str, p: &str| Location::Remote {
            target: t.into(),
            path: p.into(),
        };
        assert_eq!(Location::parse("app/0:/tmp/x"), remote("app/0", "/tmp/x"));
        assert_eq!(Location::parse("app/leader:x"), remote("app/leader", "x"));
        assert_eq!(Location::parse("3:/srv"), remote("3", "/srv"));
        assert_eq!(
            Location::parse("./a:b"),
            Location::Local(PathBuf::from("./a:b"))
        );
        assert_eq!(
            Location::parse("image.tar"),
            Location::Local(PathBuf::from("image.tar"))
        );
    }
}
