//! The report: the status of highest priority among the plan's contributions and the
//! probe's answer, set with `status-set` only when it differs from the unit's.

use std::time::Duration;

use crate::juju::{HookTools, Status, ToolRunner};

use super::apply::Applied;
use super::local::LocalState;
use super::steps::{choose, Plan, Probe, Wait};
use super::{Effects, Error};

/// Sets the unit status the plan and its outcome call for.
pub fn report<R: ToolRunner>(
    plan: &Plan,
    applied: Applied,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<(), Error> {
    let (local, halted) = match applied {
        Applied::Halted(status, local) => (Some(*local), Some(status)),
        Applied::Forgot(local) => (Some(*local), None),
        Applied::Done => (plan.local.clone(), None),
    };
    let Some(mut local) = local else {
        return Ok(());
    };
    let contributions = match halted {
        // The probe is not asked: the steps that make the registry serve were skipped.
        Some(status) => std::iter::once(status)
            .chain(plan.statuses.iter().cloned())
            .collect(),
        None => {
            let mut all = plan.statuses.clone();
            all.extend(plan.probe.as_ref().map(|p| probe(fx, p)));
            all
        }
    };
    match choose(&contributions) {
        Some(status) => set_status(tools, fx, &mut local, status),
        None => Ok(()),
    }
}

/// Asks the registry; its answer is the probe's contribution.
fn probe(fx: &Effects<'_>, p: &Probe) -> Status {
    let within = match p.wait {
        Wait::Running => Duration::from_secs(2),
        Wait::Started => fx.ready_within,
    };
    match (fx.probe)(p.addr, p.scheme, within) {
        Ok(_) => p.ready.clone(),
        Err(e) => {
            tracing::warn!("registry not answering: {e}");
            Status::waiting(format!("Registry not answering yet: {e}"))
        }
    }
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
