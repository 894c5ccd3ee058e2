//! `Apt` and the registry binary on this machine. Nothing is installed: a spy runner runs
//! dpkg-query for real and refuses apt-get.

use std::path::Path;

use charm::workload::command::{
    CommandError, CommandLine, CommandOutput, CommandRunner, HostRunner,
};
use charm::workload::packages::{parse_registry_version, registry_binary, registry_version};
use charm::workload::{Apt, Packages};

/// Runs everything for real except apt-get, which it records and fails.
#[derive(Default)]
struct NoAptRunner {
    apt_calls: std::sync::Mutex<Vec<String>>,
}

impl CommandRunner for NoAptRunner {
    fn run(&self, cmd: &CommandLine) -> Result<CommandOutput, CommandError> {
        if cmd.program == "apt-get" {
            self.apt_calls.lock().unwrap().push(cmd.to_string());
            return Ok(CommandOutput::failed(
                100,
                "E: apt-get is not allowed in tests",
            ));
        }
        HostRunner.run(cmd)
    }
}

#[test]
fn installed_and_missing_packages() {
    let apt = Apt::new(NoAptRunner::default());
    assert!(apt.is_installed("docker-registry").unwrap());
    assert!(!apt.is_installed("no-such-package-for-charm-tests").unwrap());
}

#[test]
fn ensure_installed_on_present_packages_runs_no_apt() {
    let apt = Apt::new(NoAptRunner::default());
    apt.ensure_installed(&["docker-registry", "apache2-utils"])
        .unwrap();
    assert!(apt.runner().apt_calls.lock().unwrap().is_empty());
}

#[test]
fn ensure_installed_on_a_missing_package_tries_apt_and_reports_it() {
    let apt = Apt::new(NoAptRunner::default());
    let err = apt
        .ensure_installed(&["docker-registry", "no-such-package-for-charm-tests"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("apt-get update") && err.contains("not allowed in tests"),
        "{err}"
    );
    assert_eq!(
        *apt.runner().apt_calls.lock().unwrap(),
        ["DEBIAN_FRONTEND=noninteractive apt-get update"]
    );
}

#[test]
fn registry_binary_and_version_from_a_real_run() {
    let bin = registry_binary().unwrap();
    assert_eq!(bin, Path::new("/usr/bin/docker-registry"));
    let version = registry_version(&bin).unwrap();
    // The package version is the upstream version plus a Debian revision ("2.8.2+ds1-1").
    let out = HostRunner
        .run(&CommandLine::new(
            "dpkg-query",
            &["-W", "-f=${Version}", "docker-registry"],
        ))
        .unwrap();
    assert!(
        out.stdout.starts_with(&version),
        "registry says {version}, dpkg says {}",
        out.stdout
    );
    assert!(
        version.starts_with(|c: char| c.is_ascii_digit()),
        "{version}"
    );
}

#[test]
fn version_samples() {
    assert_eq!(
        parse_registry_version("docker-registry github.com/docker/distribution 2.8.2+ds1\n")
            .as_deref(),
        Some("2.8.2+ds1")
    );
    assert_eq!(
        parse_registry_version("registry github.com/distribution/distribution/v3 v3.0.0")
            .as_deref(),
        Some("3.0.0")
    );
    assert_eq!(
        parse_registry_version("registry github.com/docker/distribution"),
        None
    );
}

#[test]
fn a_missing_binary_is_a_clear_error() {
    let err = registry_version(Path::new("/nonexistent/docker-registry"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/nonexistent/docker-registry --version"),
        "{err}"
    );
}
