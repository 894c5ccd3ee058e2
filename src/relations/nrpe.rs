//! `nrpe-external-master` endpoint: the registry's Nagios check, rendered as the files
//! the nrpe subordinate and Nagios pick up, plus the relation keys that announce them.
//!
//! # Format
//!
//! The nrpe subordinate writes in its unit bag ([`NrpeRemote`]):
//!
//! ```text
//! nagios_hostname       juju-docker-registry-0
//! nagios_host_context   juju
//! ```
//!
//! We write in our unit bag ([`announce`]):
//!
//! ```text
//! timestamp       2026-01-02T03:04:05.000006     bumped ONLY when the check files change
//! checks-sha256   <hex sha256 of the rendered files>
//! ```
//!
//! (The Python charm rewrote `timestamp` on every hook, waking the subordinate for nothing.)
//!
//! Files (charm-helpers `nrpe` layout), see [`NrpeCheck`]:
//!
//! ```text
//! /etc/nagios/nrpe.d/check_docker_registry.cfg
//!     # check docker_registry
//!     # The following header was added automatically by juju
//!     # Modifying it will affect nagios monitoring and alerting
//!     # servicegroups: juju
//!     command[check_docker_registry]=/usr/lib/nagios/plugins/check_http -I 127.0.0.1 -p 5000 -u /v2/ -e "HTTP/1.0 200,HTTP/1.0 401,HTTP/1.1 200,HTTP/1.1 401"
//! /var/lib/nagios/export/service__<host_name>_check_docker_registry.cfg
//!     define service { ... check_command check_nrpe!check_docker_registry ... }
//! ```
//!
//! Fixes of B7 (docs/python-charm-bugs.md#b7): a registry-specific check name (the Python
//! charm's generic `check_http` collided with other charms); `-S` (and the client
//! certificate when mutual TLS is on) so the check works with TLS; the expected status
//! lines quoted (NRPE runs the command through `/bin/sh`); `/v2/` answering 200 (no auth)
//! or 401 (auth on) both mean healthy.
//!
//! Measured (check_http 2.3.3, distribution registry): check_http sends HTTP/1.0 and the
//! registry answers `HTTP/1.0 200 OK` / `HTTP/1.0 401 Unauthorized`, so an expect list of
//! only `HTTP/1.1 ...` fails; we accept both versions. Without `-S` a TLS registry answers
//! `HTTP/1.0 400 Bad Request` (CRITICAL), which is the Python charm's B7.

use sha2::{Digest, Sha256};

use super::{get, Databag, WireError};

/// Key (remote): the host name Nagios knows this machine by.
pub const NAGIOS_HOSTNAME: &str = "nagios_hostname";
/// Key (remote): the Nagios context of the subordinate.
pub const NAGIOS_HOST_CONTEXT: &str = "nagios_host_context";
/// Key (ours): when the check files last changed.
pub const TIMESTAMP: &str = "timestamp";
/// Key (ours): digest of the check files, to bump `timestamp` only on change.
pub const CHECKS_SHA256: &str = "checks-sha256";

/// Where NRPE reads command definitions.
pub const NRPE_DIR: &str = "/etc/nagios/nrpe.d";
/// Where the subordinate collects service definitions for Nagios.
pub const EXPORT_DIR: &str = "/var/lib/nagios/export";
/// The monitoring-plugins HTTP check.
pub const CHECK_HTTP: &str = "/usr/lib/nagios/plugins/check_http";

/// What the nrpe subordinate tells us.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NrpeRemote {
    /// `nagios_hostname`.
    pub nagios_hostname: Option<String>,
    /// `nagios_host_context`.
    pub nagios_host_context: Option<String>,
}

impl NrpeRemote {
    /// Read the subordinate's unit bag; names must be usable in a file name.
    pub fn parse(bag: &Databag) -> Result<Self, WireError> {
        let name = |key: &str| -> Result<Option<String>, WireError> {
            match get(bag, key) {
                None => Ok(None),
                Some(v) if v.chars().all(|c| c.is_ascii_graphic() && c != '/') => {
                    Ok(Some(v.to_string()))
                }
                Some(v) => Err(WireError::invalid(
                    key,
                    format!("`{v}` must be printable ASCII without spaces or `/`"),
                )),
            }
        };
        Ok(NrpeRemote {
            nagios_hostname: name(NAGIOS_HOSTNAME)?,
            nagios_host_context: name(NAGIOS_HOST_CONTEXT)?,
        })
    }

    /// The subordinate's keys (fake nrpe in tests).
    pub fn to_databag(&self) -> Databag {
        [
            (NAGIOS_HOSTNAME, &self.nagios_hostname),
            (NAGIOS_HOST_CONTEXT, &self.nagios_host_context),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone().unwrap_or_default()))
        .collect()
    }

    /// Context: the subordinate's, else our `nagios_context` option.
    pub fn context<'a>(&'a self, nagios_context: &'a str) -> &'a str {
        self.nagios_host_context
            .as_deref()
            .unwrap_or(nagios_context)
    }

    /// Nagios host name: `nagios_hostname`, else `<context>-<unit with / as ->`.
    pub fn host_name(&self, nagios_context: &str, unit: &str) -> String {
        match &self.nagios_hostname {
            Some(h) => h.clone(),
            None => format!(
                "{}-{}",
                self.context(nagios_context),
                unit.replace('/', "-")
            ),
        }
    }
}

/// Service groups: the `nagios_servicegroups` option, else the context.
pub fn servicegroups<'a>(nagios_servicegroups: &'a str, context: &'a str) -> &'a str {
    if nagios_servicegroups.trim().is_empty() {
        context
    } else {
        nagios_servicegroups
    }
}

/// How the check talks to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckTls {
    /// Plain HTTP.
    Off,
    /// HTTPS (`-S`); the certificate is not verified (we check liveness, not trust).
    On,
    /// HTTPS presenting a client certificate (`-J cert -K key`), for mutual TLS.
    Mutual {
        /// Client certificate path.
        cert: String,
        /// Client key path.
        key: String,
    },
}

/// One NRPE check, with its command and the two files that define it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NrpeCheck {
    /// Short name; the NRPE command is `check_<shortname>`.
    pub shortname: String,
    /// Human description shown in Nagios.
    pub description: String,
    /// The full command line NRPE runs (through `/bin/sh`).
    pub command: String,
}

impl NrpeCheck {
    /// The registry check: `GET /v2/` on the local port expecting 200 or 401.
    pub fn registry(port: u16, tls: &CheckTls) -> Self {
        let mut command =
            format!("{CHECK_HTTP} -I 127.0.0.1 -p {port} -u /v2/ -e \"HTTP/1.0 200,HTTP/1.0 401,HTTP/1.1 200,HTTP/1.1 401\"");
        match tls {
            CheckTls::Off => {}
            CheckTls::On => command.push_str(" -S"),
            CheckTls::Mutual { cert, key } => {
                command.push_str(&format!(" -S -J {} -K {}", sh_quote(cert), sh_quote(key)));
            }
        }
        NrpeCheck {
            shortname: "docker_registry".into(),
            description: "Verify docker-registry is responding".into(),
            command,
        }
    }

    /// `check_docker_registry`.
    pub fn command_name(&self) -> String {
        format!("check_{}", self.shortname)
    }

    /// `/etc/nagios/nrpe.d/check_docker_registry.cfg`.
    pub fn nrpe_cfg_path(&self) -> String {
        format!("{NRPE_DIR}/{}.cfg", self.command_name())
    }

    /// The NRPE command definition file.
    pub fn nrpe_cfg(&self, servicegroups: &str) -> String {
        format!(
            "# check {short}\n\
             # The following header was added automatically by juju\n\
             # Modifying it will affect nagios monitoring and alerting\n\
             # servicegroups: {servicegroups}\n\
             command[{cmd}]={command}\n",
            short = self.shortname,
            cmd = self.command_name(),
            command = self.command,
        )
    }

    /// `/var/lib/nagios/export/service__<host_name>_check_docker_registry.cfg`.
    pub fn export_path(&self, host_name: &str) -> String {
        format!(
            "{EXPORT_DIR}/service__{host_name}_{}.cfg",
            self.command_name()
        )
    }

    /// The Nagios service definition exported for the monitoring host.
    pub fn export_cfg(&self, host_name: &str, servicegroups: &str) -> String {
        format!(
            "#---------------------------------------------------\n\
             # This file is Juju managed\n\
             #---------------------------------------------------\n\
             define service {{\n\
             \x20   use                             active-service\n\
             \x20   host_name                       {host_name}\n\
             \x20   service_description             {host_name}[{short}] {description}\n\
             \x20   check_command                   check_nrpe!{cmd}\n\
             \x20   servicegroups                   {servicegroups}\n\
             }}\n",
            short = self.shortname,
            description = self.description,
            cmd = self.command_name(),
        )
    }
}

/// Quote a path for `/bin/sh` when it needs it.
fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Hex SHA-256 over the rendered check files, in order.
pub fn digest(files: &[&str]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Our unit bag: keep `timestamp` while the files' digest is unchanged, else stamp
/// `now` (an ISO time the caller supplies) and record the new digest.
pub fn announce(current: &Databag, files: &[&str], now: &str) -> Databag {
    let new_digest = digest(files);
    let unchanged = get(current, CHECKS_SHA256) == Some(new_digest.as_str());
    let timestamp = match get(current, TIMESTAMP) {
        Some(ts) if unchanged => ts.to_string(),
        _ => now.to_string(),
    };
    Databag::from([
        (TIMESTAMP.to_string(), timestamp),
        (CHECKS_SHA256.to_string(), new_digest),
    ])
}
