//! Reading the view: the model through the hook tools, the machine through the workload
//! traits, and fresh entropy where the model and machine say it may be needed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::juju::{Context, Event, HookTools, ToolRunner};
use crate::workload::files::{Files, FilesError};
use crate::workload::service::{ServiceSpec, ServiceStatus};

use super::local::LocalState;
use super::model::ModelView;
use super::switch;
use super::view::{Again, Entry, Fresh, Legacy, MachineView, Observed, Version, View};
use super::{auto_tls, secret, tls_source, Effects, Error};

/// Reads `paths`: stat, and the contents of whatever is not a directory.
pub fn observe(files: &dyn Files, paths: &BTreeSet<PathBuf>) -> Result<Observed, FilesError> {
    let mut out = Observed::new();
    for path in paths {
        let entry = match files.stat(path)? {
            None => None,
            Some(meta) if meta.is_dir => Some(Entry {
                meta,
                contents: None,
            }),
            Some(meta) => Some(Entry {
                meta,
                contents: files.read(path)?,
            }),
        };
        out.insert(path.clone(), entry);
    }
    Ok(out)
}

impl View {
    /// Reads the view: the model (unless `again` brings it; its record goes into `local`),
    /// the machine, fresh entropy.
    pub fn read<R: ToolRunner>(
        ctx: &Context,
        tools: &HookTools<R>,
        fx: &Effects<'_>,
        mut local: LocalState,
        again: Option<Again>,
    ) -> Result<View, Error> {
        let (model, again_at) = match again {
            Some(a) => (a.model, Some(a.installed)),
            None => {
                let (model, recorded) = ModelView::load(ctx, tools, local.model.as_ref())?;
                local.model = Some(recorded);
                (model, None)
            }
        };
        let program = ctx.charm_dir.join("dispatch");
        let machine = read_machine(&ctx.event, fx, &model, &local, again_at, program)?;
        let fresh = draw(&model, &machine, &local)?;
        Ok(View {
            event: ctx.event.clone(),
            model,
            machine,
            local,
            fresh,
        })
    }
}

/// `again`: `None` on the first read, `Some(installed)` on a read after a step.
fn read_machine(
    event: &Event,
    fx: &Effects<'_>,
    model: &ModelView,
    local: &LocalState,
    again: Option<bool>,
    program: PathBuf,
) -> Result<MachineView, Error> {
    let binary = match (fx.binary)() {
        Ok(b) => Some(b),
        Err(e) if again == Some(true) => return Err(e.into()),
        Err(_) => None,
    };
    let version = match &binary {
        Some(b) if matches!(event, Event::Install | Event::UpgradeCharm | Event::Start) => {
            Some(match (fx.version)(b) {
                Ok(v) => Version::Known(v),
                Err(e) => Version::Unknown(e.to_string()),
            })
        }
        _ => None,
    };
    let service = match &binary {
        Some(b) => fx.registry(b, &local.env).status()?,
        None => ServiceStatus::Stopped,
    };
    let metrics_on = matches!(&model.config, Ok((c, _)) if c.prometheus_metrics);
    let metrics = match metrics_on || local.metrics.is_some() {
        true => (fx.service)(ServiceSpec::metrics_proxy(&program, Vec::new())).status()?,
        false => ServiceStatus::Stopped,
    };
    let account = match binary {
        Some(_) => Some((fx.account)()?),
        None => None,
    };
    // The first plan of the hook dealt with the container already.
    let legacy = match again {
        Some(_) => Legacy::NotDue,
        None => switch::observe(event, fx.legacy, &model.registry_name, local),
    };
    let paths = super::plan::paths_to_read(model, local);
    let upstream = match again {
        // The first read asked already, when it had to.
        Some(_) => None,
        None => {
            let config = model.config.as_ref().ok().map(|(c, _)| c);
            super::upstream::due(local.refused.as_ref(), config).map(|t| (fx.upstream)(&t))
        }
    };
    Ok(MachineView {
        binary,
        version,
        account,
        hostname: (fx.hostname)(),
        service,
        metrics,
        program,
        files: observe(fx.files, &paths)?,
        legacy,
        upstream,
    })
}

/// Fresh entropy, where the model and machine say it may be needed.
fn draw(model: &ModelView, machine: &MachineView, local: &LocalState) -> Result<Fresh, Error> {
    let mut fresh = Fresh::default();
    if model.shared.needs_fresh(model.leader, model.peer.is_some()) {
        fresh.http_secret = Some(secret::generate()?);
    }
    let Ok((config, _)) = &model.config else {
        return Ok(fresh);
    };
    if matches!(config.auth, crate::config::Auth::Basic { .. }) {
        fresh.htpasswd_salt = Some(secret::random()?);
    }
    if model.cert_provider.is_some() {
        let subject = tls_source::subject(model, config, &machine.hostname).value;
        let key = machine.key_or_new(super::local::CSR_KEY, &mut fresh.csr_key)?;
        let current = local.csr.as_ref().filter(|r| subject.matches(r));
        if current.is_none() || fresh.csr_key.is_some() {
            fresh.csr = Some(subject.request(&key)?);
        }
    }
    auto_tls::draw(model, machine, &mut fresh)?;
    super::mtls::draw(model, machine, local, &mut fresh)?;
    Ok(fresh)
}
