//! Applying a plan: each step, in order, through the workload traits and the hook tools.
//! Nothing is decided here; a failing step fails the hook (Juju retries it), except the
//! removal of the Python charm's container, which blocks instead (see `Step`).

use crate::juju::{HookToolError, HookTools, Status, ToolRunner};
use crate::workload::files::Files;

use crate::relations::changes;
use crate::relations::peer::PeerApp;

use super::local::LocalState;
use super::notes::{Level, LogLine};
use super::secret::{SecretStep, DESCRIPTION, LABEL};
use super::steps::{FileStep, MetricsStep, Plan, ServiceStep, Step};
use super::{switch, Effects, Error, PACKAGE};

/// How applying ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Every step ran.
    Done,
    /// A step that may fail did: the rest was skipped, the unit gets this status and
    /// remembers this.
    Halted(Status, Box<LocalState>),
    /// Every step ran, but a relation written to is gone (its broken hook was skipped
    /// with `juju resolved --no-retry`): the write was moot, and the unit remembers this,
    /// without its record of the model, so the next hook reads the model whole.
    Forgot(Box<LocalState>),
}

/// Runs the plan's steps, then saves what the unit remembers.
pub fn apply<R: ToolRunner>(
    plan: &Plan,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<Applied, Error> {
    let mut gone = false;
    for step in &plan.steps {
        match step {
            Step::RetireLegacy(name) => {
                if let Err(e) = fx.legacy.remove(name) {
                    tracing::error!("the Python charm's container {name} is still there: {e}");
                    let mut local = plan.local.clone().unwrap_or_default();
                    local.legacy_container = Some(name.to_string());
                    local.save(fx.files)?;
                    let status = switch::blocked(name, &e.to_string());
                    return Ok(Applied::Halted(status, Box::new(local)));
                }
            }
            Step::Status(status) => tools.status_set(status, false)?,
            Step::Install => fx.packages.ensure_installed(&[PACKAGE])?,
            Step::AppVersion(version) => tools.application_version_set(version)?,
            Step::File(f) => file(fx.files, f)?,
            Step::SaveState(local) => {
                local.save(fx.files)?;
            }
            Step::Service(s) => service(fx, s)?,
            Step::Metrics(m) => metrics(fx, m)?,
            Step::ClosePort(port) => tools.close_port(port)?,
            Step::OpenPort(port) => tools.open_port(port)?,
            Step::Relation(w) => match tools.relation_set(&w.relation, w.app, &w.data) {
                Err(HookToolError::RelationNotFound { .. }) => {
                    tracing::info!(
                        "relation {} is gone; the next hook reads the whole model",
                        w.relation
                    );
                    gone = true;
                }
                other => other?,
            },
            Step::Secret(s) => secret(tools, s)?,
            Step::Log(line) => log(line),
        }
    }
    if gone {
        let mut local = plan.local.clone().unwrap_or_default();
        local.model = None;
        local.save(fx.files)?;
        return Ok(Applied::Forgot(Box::new(local)));
    }
    if let Some(local) = &plan.local {
        local.save(fx.files)?;
    }
    Ok(Applied::Done)
}

fn file(files: &dyn Files, step: &FileStep) -> Result<(), Error> {
    match step {
        FileStep::EnsureDir { path, mode, owner } => {
            files.ensure_dir(path, *mode, *owner)?;
        }
        FileStep::ChownTree { path, owner } => {
            files.chown_tree(path, *owner)?;
        }
        FileStep::Write {
            path,
            contents,
            spec,
        } => {
            files.write(path, &contents.0, *spec)?;
        }
        FileStep::Remove { path } => {
            files.remove(path)?;
        }
    }
    Ok(())
}

/// The charm's Juju secret. Juju names a new secret only when `secret-add` returns, so
/// its URI goes into the peer app bag here; both are committed with the hook, or neither.
fn secret<R: ToolRunner>(tools: &HookTools<R>, step: &SecretStep) -> Result<(), Error> {
    match step {
        SecretStep::Add { content, peer, bag } => {
            let uri = tools.secret_add(LABEL, DESCRIPTION, &content.content())?;
            let app = PeerApp {
                shared_secret: Some(uri),
                ..PeerApp::default()
            };
            tools.relation_set(peer, true, &changes(bag, &app.to_databag()))?;
        }
        SecretStep::Set { uri, content } => tools.secret_set(uri, &content.content())?,
        SecretStep::RemoveRevision { uri, revision } => {
            tools.secret_remove_revision(uri, *revision)?
        }
    }
    Ok(())
}

fn service(fx: &Effects<'_>, step: &ServiceStep) -> Result<(), Error> {
    use crate::workload::service::ServiceCall;
    let service = fx.registry(&step.binary, &step.env);
    match step.call {
        ServiceCall::Start => service.start()?,
        ServiceCall::Restart => service.restart()?,
        ServiceCall::Stop => service.stop()?,
    }
    Ok(())
}

fn metrics(fx: &Effects<'_>, step: &MetricsStep) -> Result<(), Error> {
    use crate::workload::service::{ServiceCall, ServiceSpec};
    let service = (fx.service)(ServiceSpec::metrics_proxy(&step.program, step.args.clone()));
    match step.call {
        ServiceCall::Start => service.start()?,
        ServiceCall::Restart => service.restart()?,
        ServiceCall::Stop => service.stop()?,
    }
    Ok(())
}

/// Emits a plan's log line through tracing (to juju-log and stderr).
pub fn log(line: &LogLine) {
    let m = &line.message;
    match line.level {
        Level::Debug => tracing::debug!("{m}"),
        Level::Info => tracing::info!("{m}"),
        Level::Warn => tracing::warn!("{m}"),
        Level::Error => tracing::error!("{m}"),
    }
}
