//! The registry's Nagios check for the nrpe subordinate: the two files it reads, and the
//! announcement whose `timestamp` moves only when they change (B7,
//! docs/python-charm-bugs.md#b7).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::CharmConfig;
use crate::juju::{Databag, UnitName};
use crate::relations::nrpe::{self, servicegroups, CheckTls, NrpeCheck, NrpeRemote};
use crate::workload::files::FileSpec;

use super::builder::{Builder, PlanError};
use super::model::{ModelView, RelationView};
use super::notes::{LogLine, Noted};
use super::ownership::{put, Wanted};
use super::view::View;

/// The check files' paths and directories, while an nrpe unit is related.
pub fn paths(model: &ModelView, config: &CharmConfig) -> BTreeSet<PathBuf> {
    let files = nrpe_files(&model.nrpe, config, &model.unit, false).value;
    let mut out = BTreeSet::new();
    for (path, _) in files.unwrap_or_default() {
        out.extend(path.parent().map(Path::to_path_buf));
        out.insert(path);
    }
    out
}

/// Writes the check files (their directories created 0755 when missing; an existing one
/// is left as the nrpe package made it) and returns them.
pub fn put_files(
    p: &mut Builder,
    view: &View,
    config: &CharmConfig,
    tls_on: bool,
) -> Result<Vec<(PathBuf, String)>, PlanError> {
    let files = nrpe_files(&view.model.nrpe, config, &view.model.unit, tls_on);
    p.logs(files.notes);
    let files = files.value.unwrap_or_default();
    for (path, contents) in &files {
        let w = Wanted {
            path: path.clone(),
            contents: contents.as_bytes().to_vec(),
            spec: FileSpec::mode(0o644),
        };
        put(p, &w)?;
    }
    Ok(files)
}

/// Tells each nrpe unit about the check files; `timestamp` moves only when their content
/// changed, so a no-op hook wakes nothing on the subordinate's side
/// (docs/python-charm-bugs.md#b7).
pub fn announce(p: &mut Builder, model: &ModelView, files: &[(PathBuf, String)]) {
    if files.is_empty() {
        return;
    }
    let contents: Vec<&str> = files.iter().map(|(_, c)| c.as_str()).collect();
    let now = iso_time(model.now);
    for rel in model.nrpe.iter().filter(|r| !r.units.is_empty()) {
        let desired = nrpe::announce(&rel.ours, &contents, &now);
        p.relation(&rel.id, false, &rel.ours, &desired);
    }
}

/// The registry's Nagios check as the files the nrpe subordinate reads, `(path, contents)`:
/// the NRPE command definition, then the service exported for Nagios. `None` while no
/// nrpe unit is in any nrpe relation (the host name comes from it, so nothing to write).
/// The check follows the TLS state and registry-port, so it passes whenever the registry
/// answers (B7, docs/python-charm-bugs.md#b7).
pub fn nrpe_files(
    nrpe: &[RelationView],
    config: &CharmConfig,
    unit: &UnitName,
    tls_on: bool,
) -> Noted<Option<Vec<(PathBuf, String)>>> {
    let Some((remote_unit, bag)) = nrpe.iter().flat_map(|r| r.units.iter()).next() else {
        return Noted::plain(None);
    };
    let Noted {
        value: remote,
        notes,
    } = nrpe_remote(remote_unit, bag);
    let tls = if tls_on { CheckTls::On } else { CheckTls::Off };
    let check = NrpeCheck::registry(config.registry_port, &tls);
    let groups = servicegroups(
        &config.nagios_servicegroups,
        remote.context(&config.nagios_context),
    );
    let host = remote.host_name(&config.nagios_context, &unit.to_string());
    let files = vec![
        (check.nrpe_cfg_path().into(), check.nrpe_cfg(groups)),
        (
            check.export_path(&host).into(),
            check.export_cfg(&host, groups),
        ),
    ];
    Noted {
        value: Some(files),
        notes,
    }
}

/// The nrpe unit's keys; an unusable value is logged and ignored (as if unset), the
/// other keys are kept.
fn nrpe_remote(unit: &UnitName, bag: &Databag) -> Noted<NrpeRemote> {
    let mut bag = bag.clone();
    let mut notes = Vec::new();
    loop {
        match NrpeRemote::parse(&bag) {
            Ok(value) => return Noted { value, notes },
            Err(e) => {
                notes.push(LogLine::warn(format!("ignoring {unit}'s nrpe data: {e}")));
                if bag.remove(e.key()).is_none() {
                    return Noted {
                        value: NrpeRemote::default(),
                        notes,
                    };
                }
            }
        }
    }
}

/// `now` in UTC as ISO 8601 with microseconds, e.g. `2026-01-02T03:04:05.000006` (the
/// Python charm's `datetime.now().isoformat()` form; nrpe only compares it for change).
pub fn iso_time(now: SystemTime) -> String {
    let t = time::OffsetDateTime::from(now);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::fixtures::{config, relation};
    use serde_json::json;

    fn rel(units: &[(&str, &[(&str, &str)])]) -> RelationView {
        relation("nrpe-external-master:3", units)
    }

    #[test]
    fn nrpe_files_follow_tls_port_and_the_remote_names() {
        let unit: UnitName = "docker-registry/3".parse().unwrap();
        let c = config(json!({"registry-port": 5443, "nagios_servicegroups": "infra"}));
        assert_eq!(nrpe_files(&[], &c, &unit, false).value, None);
        let mut waiting = rel(&[]);
        waiting.id = "nrpe-external-master:7".parse().unwrap();
        assert_eq!(
            nrpe_files(&[waiting], &c, &unit, false).value,
            None,
            "no nrpe unit yet"
        );
        let r = rel(&[(
            "nrpe/0",
            &[
                ("nagios_hostname", "prod-reg-3"),
                ("nagios_host_context", "prod"),
            ],
        )]);
        let plain = nrpe_files(std::slice::from_ref(&r), &c, &unit, false)
            .value
            .unwrap();
        assert_eq!(
            plain[0].0,
            PathBuf::from("/etc/nagios/nrpe.d/check_docker_registry.cfg")
        );
        assert!(plain[0].1.contains("-p 5443 -u /v2/"), "{}", plain[0].1);
        assert!(!plain[0].1.contains(" -S"), "{}", plain[0].1);
        assert!(plain[0].1.contains("# servicegroups: infra\n"));
        assert_eq!(
            plain[1].0,
            PathBuf::from("/var/lib/nagios/export/service__prod-reg-3_check_docker_registry.cfg")
        );
        let tls = nrpe_files(&[r], &c, &unit, true).value.unwrap();
        assert!(tls[0].1.trim_end().ends_with(" -S"), "{}", tls[0].1);
        assert_eq!(tls[1], plain[1], "the export does not depend on TLS");
    }

    #[test]
    fn nrpe_garbage_key_is_ignored_and_the_good_one_kept() {
        let unit: UnitName = "docker-registry/0".parse().unwrap();
        let c = config(json!({}));
        let r = rel(&[(
            "nrpe/0",
            &[
                ("nagios_hostname", "../../etc/passwd"),
                ("nagios_host_context", "stage"),
            ],
        )]);
        let noted = nrpe_files(&[r], &c, &unit, false);
        assert!(
            noted.notes[0].message.contains("nagios_hostname"),
            "{noted:?}"
        );
        let files = noted.value.unwrap();
        assert_eq!(
            files[1].0,
            PathBuf::from(
                "/var/lib/nagios/export/service__stage-docker-registry-0_check_docker_registry.cfg"
            )
        );
        assert!(files[0].1.contains("# servicegroups: stage\n"));
    }

    #[test]
    fn iso_time_is_utc_with_microseconds() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_767_322_445_000_006);
        assert_eq!(iso_time(t), "2026-01-02T02:54:05.000006");
    }
}
