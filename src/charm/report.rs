//! The report: the status of highest priority among the plan's contributions and the
//! probe's answer, set with `status-set` only when it differs from the unit's. After a
//! (re)start the probe also tells a registry that refused its config (it exited, or its
//! store failed the storage check) from one that is slow: a refusal goes back to the
//! reconciler, which rolls back (`refusal`). A config the registry answered with becomes
//! the last good one.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::juju::{HookTools, Status, ToolRunner};
use crate::workload::files::FileSpec;
use crate::workload::service::Service;

use super::apply::Applied;
use super::local::{self, LastGood, LocalState, LAST_GOOD_CONFIG};
use super::refusal::{self, Refusal, Why};
use super::steps::{choose, Candidate, Plan, Probe, Refuse, Wait};
use super::{Effects, Error};

/// How reporting ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reported {
    /// The status is set.
    Done,
    /// The registry refused the config the plan started: roll back.
    Refused(Refusal),
}

/// What the registry's log is read for.
const LOG_LINES: usize = 80;
/// The storage check's request, as the registry logs it.
const CATALOG_URI: &str = "/v2/_catalog";
/// How long to wait for the registry to log the storage check's error (it logs a request
/// after answering it).
const LOG_WAIT: Duration = Duration::from_secs(2);

/// Sets the unit status the plan and its outcome call for. `since`: when the plan's steps
/// began (the registry's log lines before it are from earlier runs).
pub fn report<R: ToolRunner>(
    plan: &Plan,
    applied: Applied,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
    since: SystemTime,
) -> Result<Reported, Error> {
    let (mut local, contributions) = match applied {
        Applied::Halted(status, local) => {
            let mut all = vec![status];
            all.extend(plan.statuses.iter().cloned());
            (*local, all)
        }
        done => {
            let local = match done {
                Applied::Forgot(local) => Some(*local),
                _ => plan.local.clone(),
            };
            let Some(mut local) = local else {
                return Ok(Reported::Done);
            };
            let mut all = plan.statuses.clone();
            if let Some(p) = &plan.probe {
                match watch(fx, plan, p, since)? {
                    Answer::Ready => {
                        all.push(p.ready.clone());
                        if let Some(candidate) = &plan.candidate {
                            promote(fx, &mut local, candidate)?;
                        }
                    }
                    Answer::Silent(status) => all.push(status),
                    Answer::Refused(r) => return Ok(Reported::Refused(r)),
                }
            }
            (local, all)
        }
    };
    if let Some(status) = choose(&contributions) {
        set_status(tools, fx, &mut local, status)?;
    }
    Ok(Reported::Done)
}

/// What the probe found.
enum Answer {
    /// The registry answers (and its store, after a start).
    Ready,
    /// It does not answer (yet): this status.
    Silent(Status),
    /// It refused the config it was just started with.
    Refused(Refusal),
}

/// The registry service `plan` (re)starts, if it starts one.
pub(super) fn started(fx: &Effects<'_>, plan: &Plan) -> Option<Box<dyn Service>> {
    plan.candidate
        .as_ref()
        .map(|c| fx.registry(&c.binary, &c.env))
}

/// Whether `service` still runs (true when there is none to watch): a probe stops
/// waiting for a registry that exited.
pub(super) fn still_up(service: Option<&dyn Service>) -> bool {
    service.is_none_or(|s| s.status().map_or(true, |st| st.is_running()))
}

/// Asks the registry, giving up early when it exits; after a (re)start, asks its store.
fn watch(fx: &Effects<'_>, plan: &Plan, p: &Probe, since: SystemTime) -> Result<Answer, Error> {
    let within = match p.wait {
        Wait::Running => Duration::from_secs(2),
        Wait::Started => fx.ready_within,
    };
    let service = started(fx, plan);
    let client = p.client.as_ref();
    match (fx.probe)(p.addr, p.scheme, client, within, &|| {
        still_up(service.as_deref())
    }) {
        Ok(_) => {
            let (Some(check), Some(service)) = (&p.storage, &service) else {
                return Ok(Answer::Ready);
            };
            let basic = check
                .basic
                .as_ref()
                .map(|(user, password)| (user.as_str(), password.expose()));
            match (fx.catalog)(p.addr, p.scheme, client, basic) {
                Ok(status) if status >= 500 => {
                    let line = storage_error(service.as_ref(), since);
                    Ok(Answer::Refused(Refusal {
                        why: Why::Storage(status),
                        line,
                    }))
                }
                Ok(_) => Ok(Answer::Ready),
                Err(e) => {
                    // No verdict on the store; the registry itself answered.
                    tracing::warn!("storage check: {e}");
                    Ok(Answer::Ready)
                }
            }
        }
        Err(e) => {
            let exited = p.refuse != Refuse::Never
                && service
                    .as_ref()
                    .is_some_and(|s| s.status().is_ok_and(|st| !st.is_running()));
            if exited {
                let lines = service
                    .as_ref()
                    .map(|s| s.log_tail(LOG_LINES))
                    .transpose()?
                    .unwrap_or_default();
                let line = refusal::error_line(&lines, since, None);
                // Another process holds its port: nothing to roll back; the config
                // stays, and the next hook starts the registry again.
                if let Some(line) = line.as_deref().filter(|l| refusal::port_in_use(l)) {
                    tracing::warn!("the registry could not listen: {line}");
                    return Ok(Answer::Silent(refusal::port_in_use_status(line)));
                }
                return Ok(Answer::Refused(Refusal {
                    why: Why::Exited,
                    line,
                }));
            }
            tracing::warn!("registry not answering: {e}");
            if p.refuse == Refuse::ExitOrSilence {
                // Still starting (a network call that hangs), while the last good config
                // answered: go back to it.
                let lines = match &service {
                    Some(s) => s.log_tail(LOG_LINES)?,
                    None => Vec::new(),
                };
                return Ok(Answer::Refused(Refusal {
                    why: Why::Silent(within.as_secs()),
                    line: refusal::error_line(&lines, since, None),
                }));
            }
            Ok(Answer::Silent(Status::waiting(format!(
                "Registry not answering yet: {e}"
            ))))
        }
    }
}

/// The registry's log line about the failed storage check; it writes it just after
/// answering, so the log is read again for a moment until it is there.
fn storage_error(service: &dyn Service, since: SystemTime) -> Option<String> {
    let deadline = Instant::now() + LOG_WAIT;
    loop {
        let lines = service.log_tail(LOG_LINES).unwrap_or_default();
        let found = refusal::error_line(&lines, since, Some(CATALOG_URI));
        if found.is_some() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The registry answered with `candidate`: it is now the last good config.
fn promote(fx: &Effects<'_>, local: &mut LocalState, candidate: &Candidate) -> Result<(), Error> {
    let good = LastGood {
        config_sha256: local::sha256(&candidate.config.0),
        env: candidate.env.clone(),
        running: candidate.running.clone(),
        options: candidate.options.clone(),
        files: candidate.files.clone(),
        port: candidate.port,
        tls: candidate.tls,
        client_certs: candidate.client_certs,
    };
    if local.last_good.as_ref() == Some(&good) {
        return Ok(());
    }
    fx.files.write(
        Path::new(LAST_GOOD_CONFIG),
        &candidate.config.0,
        FileSpec::mode(0o600),
    )?;
    local.last_good = Some(good);
    local.save(fx.files)?;
    Ok(())
}

/// Sets the unit status unless it is already what this charm last set: `status-set` is
/// immediate (never rolled back), so the remembered value is always what Juju shows, and
/// a no-op hook saves the call.
pub fn set_status<R: ToolRunner>(
    tools: &HookTools<R>,
    fx: &Effects<'_>,
    local: &mut LocalState,
    status: &Status,
) -> Result<(), Error> {
    if local.status.as_ref() != Some(status) {
        tools.status_set(status, false)?;
        local.status = Some(status.clone());
        local.save(fx.files)?;
    }
    Ok(())
}
