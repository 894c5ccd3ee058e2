//! The registry as a systemd unit, on machines whose PID 1 is systemd.
//!
//! Our unit goes to `/etc/systemd/system/<name>.service`, which takes precedence over the
//! package's `/lib/systemd/system/docker-registry.service`. `daemon-reload` runs only when
//! the unit file really changed.

use std::path::{Path, PathBuf};

use super::{ServiceError, ServiceSpec, ServiceStatus};
use crate::workload::command::{CommandLine, CommandRunner, HostRunner};
use crate::workload::files::{FileSpec, Files, HostFiles};

/// Where unit files written by the charm live.
pub const UNIT_DIR: &str = "/etc/systemd/system";

const UNIT_TEMPLATE: &str = "\
# Written by the docker-registry charm; local edits are overwritten.
[Unit]
Description={description}
Wants=network-online.target
After=network-online.target
# At most 10 automatic restarts a minute; past that systemd leaves it failed and the
# charm's next hook starts it again.
StartLimitIntervalSec=60
StartLimitBurst=10

[Service]
Type=simple
{user}{environment}ExecStart={exec_start}
UMask=0027
# registry-port (or debug-port) below 1024 must work for the service user too.
AmbientCapabilities=CAP_NET_BIND_SERVICE
# Any exit the charm did not ask for (`systemctl stop` is never restarted): the registry
# exits 0 after draining on SIGTERM, which `on-failure` would count as clean.
Restart=always
RestartSec=1s
TimeoutStopSec={stop_timeout}

[Install]
WantedBy=multi-user.target
";

/// Quotes one word for a unit file: `%` is a specifier and `$` expands in ExecStart, so both
/// are doubled; quotes and backslashes are escaped inside double quotes.
fn quote(word: &str) -> String {
    let mut out = String::from("\"");
    for c in word.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The unit file for `spec`.
pub fn render_unit(spec: &ServiceSpec) -> String {
    let exec_start = std::iter::once(spec.binary.to_string_lossy().into_owned())
        .chain(spec.args.iter().cloned())
        .map(|w| quote(&w))
        .collect::<Vec<_>>()
        .join(" ");
    let user = spec
        .user
        .as_deref()
        .map(|u| format!("User={u}\n"))
        .unwrap_or_default();
    let environment: String = spec
        .env
        .iter()
        .map(|(k, v)| format!("Environment={}\n", quote(&format!("{k}={v}"))))
        .collect();
    UNIT_TEMPLATE
        .replace(
            "{description}",
            &format!("{} (managed by the docker-registry charm)", spec.name),
        )
        .replace("{user}", &user)
        .replace("{environment}", &environment)
        .replace("{exec_start}", &exec_start)
        .replace(
            "{stop_timeout}",
            &format!("{}s", spec.stop_timeout.as_secs().max(1)),
        )
}

/// `Service` through systemctl.
#[derive(Debug)]
pub struct SystemdService<F: Files = HostFiles, R: CommandRunner = HostRunner> {
    spec: ServiceSpec,
    files: F,
    runner: R,
    unit_dir: PathBuf,
}

impl SystemdService {
    /// systemd on this machine.
    pub fn host(spec: ServiceSpec) -> Self {
        SystemdService::new(spec, HostFiles, HostRunner, Path::new(UNIT_DIR))
    }
}

impl<F: Files, R: CommandRunner> SystemdService<F, R> {
    /// systemd through these effects (tests pass fakes).
    pub fn new(spec: ServiceSpec, files: F, runner: R, unit_dir: &Path) -> Self {
        SystemdService {
            spec,
            files,
            runner,
            unit_dir: unit_dir.to_path_buf(),
        }
    }

    /// The files effect (tests inspect the unit written).
    pub fn files(&self) -> &F {
        &self.files
    }

    /// The runner (tests inspect the systemctl calls).
    pub fn runner(&self) -> &R {
        &self.runner
    }

    fn unit(&self) -> String {
        format!("{}.service", self.spec.name)
    }

    /// The unit file's path.
    pub fn unit_path(&self) -> PathBuf {
        self.unit_dir.join(self.unit())
    }

    fn systemctl(&self, args: &[&str]) -> Result<String, ServiceError> {
        let cmd = CommandLine::new("systemctl", args);
        let out = self.runner.run(&cmd)?;
        if out.success() {
            Ok(out.stdout)
        } else {
            Err(ServiceError::Systemctl {
                command: cmd.to_string(),
                status: out
                    .code
                    .map_or("killed by a signal".into(), |c| format!("exit {c}")),
                stderr_tail: out.stderr_tail(),
            })
        }
    }

    /// Writes the unit (0640: proxy URLs in it may carry credentials) and reloads systemd if it changed.
    fn ensure_unit(&self) -> Result<(), ServiceError> {
        let changed = self.files.write(
            &self.unit_path(),
            render_unit(&self.spec).as_bytes(),
            FileSpec::mode(0o640),
        )?;
        if changed.is_yes() {
            self.systemctl(&["daemon-reload"])?;
        }
        Ok(())
    }
}

/// Maps `systemctl show -p ActiveState,SubState,MainPID,Result` output to a status.
pub(crate) fn parse_show(text: &str) -> ServiceStatus {
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .unwrap_or("")
            .trim()
    };
    let pid: u32 = get("MainPID").parse().unwrap_or(0);
    let (active, sub, result) = (get("ActiveState"), get("SubState"), get("Result"));
    let crashed = || ServiceStatus::Crashed {
        pid: None,
        reason: format!("systemd reports {active}/{sub} (result {result})"),
    };
    match active {
        "active" | "reloading" | "activating" if pid > 0 && sub != "auto-restart" => {
            ServiceStatus::Running { pid }
        }
        "inactive" | "deactivating" => ServiceStatus::Stopped,
        _ => crashed(),
    }
}

impl<F: Files, R: CommandRunner> super::Service for SystemdService<F, R> {
    fn start(&self) -> Result<(), ServiceError> {
        self.ensure_unit()?;
        // A unit that hit its start limit refuses `start` until its failed state is reset.
        self.systemctl(&["reset-failed", &self.unit()])?;
        // enable --now leaves a running service alone, so a second start changes nothing.
        self.systemctl(&["enable", "--now", &self.unit()])
            .map(|_| ())
    }

    fn stop(&self) -> Result<(), ServiceError> {
        // Disabled too, so a stopped registry stays stopped across a reboot (like the Python
        // charm's `unless-stopped` container).
        self.systemctl(&["disable", "--now", &self.unit()])
            .map(|_| ())
    }

    fn restart(&self) -> Result<(), ServiceError> {
        self.ensure_unit()?;
        self.systemctl(&["restart", &self.unit()])?;
        self.systemctl(&["enable", &self.unit()]).map(|_| ())
    }

    fn status(&self) -> Result<ServiceStatus, ServiceError> {
        let out = self.systemctl(&[
            "show",
            &self.unit(),
            "--property=ActiveState,SubState,MainPID,Result",
        ])?;
        Ok(parse_show(&out))
    }

    /// The unit's journal (the registry's stdout and stderr), messages only.
    fn log_tail(&self, lines: usize) -> Result<Vec<String>, ServiceError> {
        let n = lines.to_string();
        let unit = self.unit();
        let args = [
            "--unit",
            &unit,
            "--lines",
            &n,
            "--output",
            "cat",
            "--no-pager",
            "--quiet",
        ];
        let cmd = CommandLine::new("journalctl", &args);
        let out = self.runner.run(&cmd)?;
        if !out.success() {
            return Err(ServiceError::Systemctl {
                command: cmd.to_string(),
                status: out
                    .code
                    .map_or("killed by a signal".into(), |c| format!("exit {c}")),
                stderr_tail: out.stderr_tail(),
            });
        }
        Ok(super::last_lines(&out.stdout, lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::command::{CommandOutput, RecordingRunner};
    use crate::workload::files::RecordingFiles;
    use crate::workload::service::Service;

    fn spec() -> ServiceSpec {
        ServiceSpec::registry(
            Path::new("/usr/bin/docker-registry"),
            Path::new("/etc/docker/registry/config.yml"),
        )
        .with_env("HTTPS_PROXY", "http://u:p%w@proxy:3128")
        .with_env("NO_PROXY", "a b,\"c\"")
    }

    #[test]
    fn unit_file_renders_user_env_and_quoted_exec() {
        let unit = render_unit(&spec());
        assert!(unit.contains("User=docker-registry\n"), "{unit}");
        assert!(
            unit.contains("ExecStart=\"/usr/bin/docker-registry\" \"serve\" \"/etc/docker/registry/config.yml\"\n"),
            "{unit}"
        );
        assert!(
            unit.contains("Environment=\"HTTPS_PROXY=http://u:p%%w@proxy:3128\"\n"),
            "{unit}"
        );
        assert!(
            unit.contains("Environment=\"NO_PROXY=a b,\\\"c\\\"\"\n"),
            "{unit}"
        );
        assert!(unit.contains("TimeoutStopSec=30s\n"));
        assert!(unit.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE\n"));
        // Restarted within a second of any exit the charm did not ask for, at most 10
        // times a minute ([Unit] keys: systemd ignores them under [Service]).
        let (unit_section, service_section) = unit.split_once("[Service]").unwrap();
        assert!(
            service_section.contains("\nRestart=always\nRestartSec=1s\n"),
            "{unit}"
        );
        assert!(
            unit_section.contains("\nStartLimitIntervalSec=60\nStartLimitBurst=10\n"),
            "{unit}"
        );
        assert!(unit.contains("WantedBy=multi-user.target"));
    }

    #[test]
    fn start_writes_unit_reloads_once_and_enables() {
        let svc = SystemdService::new(
            spec(),
            RecordingFiles::new(),
            RecordingRunner::new(),
            Path::new(UNIT_DIR),
        );
        svc.start().unwrap();
        svc.start().unwrap();
        assert_eq!(
            svc.runner().argvs(),
            [
                "systemctl daemon-reload",
                "systemctl reset-failed docker-registry.service",
                "systemctl enable --now docker-registry.service",
                "systemctl reset-failed docker-registry.service",
                "systemctl enable --now docker-registry.service",
            ]
        );
        let unit = svc
            .files()
            .contents("/etc/systemd/system/docker-registry.service")
            .unwrap();
        assert_eq!(String::from_utf8(unit).unwrap(), render_unit(&spec()));
    }

    #[test]
    fn restart_and_stop_argv() {
        let svc = SystemdService::new(
            spec(),
            RecordingFiles::new(),
            RecordingRunner::new(),
            Path::new(UNIT_DIR),
        );
        svc.restart().unwrap();
        svc.stop().unwrap();
        assert_eq!(
            svc.runner().argvs(),
            [
                "systemctl daemon-reload",
                "systemctl restart docker-registry.service",
                "systemctl enable docker-registry.service",
                "systemctl disable --now docker-registry.service",
            ]
        );
    }

    #[test]
    fn log_tail_reads_the_units_journal() {
        let runner = RecordingRunner::answering(|_| {
            CommandOutput::ok("one\ntwo\npanic: swift authentication failed\n")
        });
        let svc = SystemdService::new(spec(), RecordingFiles::new(), runner, Path::new(UNIT_DIR));
        assert_eq!(
            svc.log_tail(2).unwrap(),
            ["two", "panic: swift authentication failed"]
        );
        assert_eq!(
            svc.runner().argvs(),
            ["journalctl --unit docker-registry.service --lines 2 --output cat --no-pager --quiet"]
        );
    }

    #[test]
    fn status_parses_show_output() {
        let runner = RecordingRunner::answering(|_| {
            CommandOutput::ok("ActiveState=active\nSubState=running\nMainPID=321\nResult=success\n")
        });
        let svc = SystemdService::new(spec(), RecordingFiles::new(), runner, Path::new(UNIT_DIR));
        assert_eq!(svc.status().unwrap(), ServiceStatus::Running { pid: 321 });
        assert_eq!(
            parse_show("ActiveState=inactive\nSubState=dead\nMainPID=0\nResult=success"),
            ServiceStatus::Stopped
        );
        assert!(matches!(
            parse_show("ActiveState=failed\nSubState=failed\nMainPID=0\nResult=exit-code"),
            ServiceStatus::Crashed { .. }
        ));
        assert!(matches!(
            parse_show(
                "ActiveState=activating\nSubState=auto-restart\nMainPID=0\nResult=exit-code"
            ),
            ServiceStatus::Crashed { .. }
        ));
    }

    #[test]
    fn systemctl_failure_carries_command_and_stderr() {
        let runner = RecordingRunner::answering(|_| {
            CommandOutput::failed(
                1,
                "System has not been booted with systemd as init system (PID 1). Can't operate.\n",
            )
        });
        let svc = SystemdService::new(spec(), RecordingFiles::new(), runner, Path::new(UNIT_DIR));
        let err = svc.start().unwrap_err().to_string();
        assert!(err.contains("systemctl daemon-reload"), "{err}");
        assert!(err.contains("Can't operate"), "{err}");
    }
}
