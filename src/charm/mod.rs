//! The reconciler. Every hook goes one way: [`view::View`] (one read of the model and the
//! machine, by [`read`]) → [`plan::plan`] (pure: the [`steps::Plan`] of every effect, made
//! with a [`builder::Builder`]) → [`apply::apply`] (the steps, through the workload traits
//! and the hook tools) → [`report::report`] (the probe, and the status of highest priority).
//!
//! Where each concern lives: [`switch`] (the Python charm's container), [`secret`] (the
//! shared http secret), [`tls_source`] (which TLS wins), [`ownership`] (files the charm
//! writes, sets aside and gives back), [`registry`] (directories, auth files, config.yml,
//! service, ports, probe), [`metrics`] (`/metrics` only, on the ingress address),
//! [`refusal`] (a config the registry refuses is rolled back), [`upstream`] (a refused
//! cache's upstream, asked until it answers), [`advertise`] (where clients connect),
//! [`publish`] (relation data), [`nrpe`] (the Nagios check), [`cos`] (grafana-agent),
//! [`ignored`] (options accepted and ignored), [`actions`] and [`gc`], [`local`] (what the
//! unit remembers), [`record`] (the model as last read: what each hook asks Juju again).
//!
//! Effects go through the narrow traits in `workload` (chosen once in [`handle`]) and the
//! hook tools, so tests change the world around the charm, never flags inside it.

pub mod actions;
pub mod advertise;
pub mod apply;
pub mod auto_tls;
pub mod builder;
pub mod cos;
#[cfg(test)]
mod fixtures;
pub mod gc;
pub mod ignored;
pub mod local;
pub mod metrics;
pub mod model;
pub mod mtls;
pub mod notes;
pub mod nrpe;
pub mod ownership;
pub mod plan;
pub mod publish;
pub mod read;
pub mod record;
pub mod refusal;
pub mod registry;
pub mod report;
pub mod secret;
pub mod steps;
pub mod switch;
pub mod tls_source;
pub mod upstream;
pub mod view;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::juju::{Context, Event, HookToolError, HookTools, ToolRunner};
use crate::probe::{self, Scheme};
use crate::render;
use crate::tls::client::ClientIdentity;
use crate::workload::files::{Files, FilesError, HostFiles};
use crate::workload::legacy::{DockerCli, LegacyContainer};
use crate::workload::packages::{self, Apt, Packages, PackagesError};
use crate::workload::service::{self, Service, ServiceError, ServiceSpec};
use crate::workload::users::{self, Account, UsersError};

use apply::Applied;
use builder::PlanError;
use local::LocalState;
use steps::{Plan, Then};
use view::{Again, View};

/// The distro package that ships the registry.
pub const PACKAGE: &str = "docker-registry";
/// Where the registry's own log goes when no systemd journal exists.
pub const LOG_DIR: &str = "/var/log/docker-registry";
/// Registry config directory.
pub const CONFIG_DIR: &str = "/etc/docker/registry";

/// Why handling an event failed; the hook then exits 1 and Juju retries it. Operator
/// mistakes are never errors: they become a `blocked` status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A hook tool failed.
    #[error(transparent)]
    Tool(#[from] HookToolError),
    /// A file could not be read or written.
    #[error(transparent)]
    Files(#[from] FilesError),
    /// The registry service could not be managed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The registry package could not be installed or found.
    #[error(transparent)]
    Packages(#[from] PackagesError),
    /// The service user is unusable.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// No plan could be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A generated HTTP secret was refused (a charm bug).
    #[error("generated http secret: {0}")]
    Secret(String),
    /// A key or request could not be generated.
    #[error("certificate request: {0}")]
    Tls(crate::tls::TlsError),
    /// The system's random source failed.
    #[error("the system's random source failed")]
    Entropy,
}

impl From<crate::tls::TlsError> for Error {
    fn from(e: crate::tls::TlsError) -> Self {
        Error::Tls(e)
    }
}

/// `GET /v2/` (presenting the client certificate, if any) until it answers, `within`
/// passes, or `keep_waiting` says no.
pub type ProbeFn<'a> = dyn Fn(
        SocketAddr,
        Scheme,
        Option<&ClientIdentity>,
        Duration,
        &dyn Fn() -> bool,
    ) -> Result<u16, probe::ProbeError>
    + 'a;

/// `GET /v2/_catalog?n=1` (presenting the client certificate, if any), with optional
/// basic-auth credentials: the HTTP status.
pub type CatalogFn<'a> = dyn Fn(
        SocketAddr,
        Scheme,
        Option<&ClientIdentity>,
        Option<(&str, &str)>,
    ) -> Result<u16, probe::ProbeError>
    + 'a;

/// The machine-facing effects and reads, chosen once per process.
pub struct Effects<'a> {
    /// Files on the unit.
    pub files: &'a dyn Files,
    /// The package manager.
    pub packages: &'a dyn Packages,
    /// Builds the registry service for a spec (systemd or supervisor on a real unit).
    pub service: &'a dyn Fn(ServiceSpec) -> Box<dyn Service>,
    /// Finds the registry binary (PATH lookup on a real unit).
    pub binary: &'a dyn Fn() -> Result<PathBuf, PackagesError>,
    /// Reads the registry's version from its binary (runs `<binary> --version` on a real unit).
    pub version: &'a dyn Fn(&Path) -> Result<String, PackagesError>,
    /// The service user (the user database on a real unit).
    pub account: &'a dyn Fn() -> Result<Account, UsersError>,
    /// The machine's host name.
    pub hostname: &'a dyn Fn() -> String,
    /// Asks the registry `GET /v2/` until it answers, the time is up, or the last argument
    /// says to stop waiting (the process exited) ([`probe::wait_ready_while`]).
    pub probe: &'a ProbeFn<'a>,
    /// Asks the registry's store through it, with optional basic-auth credentials, and
    /// returns the HTTP status ([`probe::get_catalog`]).
    pub catalog: &'a CatalogFn<'a>,
    /// How long to wait for the registry to answer after a (re)start.
    pub ready_within: Duration,
    /// The Python charm's registry container (the `docker` CLI on a real unit).
    pub legacy: &'a dyn LegacyContainer,
    /// Asks a refused cache's upstream `GET /v2/` ([`upstream::ask`] on a real unit).
    pub upstream: &'a dyn Fn(&upstream::Target) -> upstream::Answer,
}

impl Effects<'_> {
    /// The registry service running `binary` with `env`.
    pub fn registry(&self, binary: &Path, env: &[(String, String)]) -> Box<dyn Service> {
        let mut spec = ServiceSpec::registry(binary, Path::new(render::CONFIG_PATH));
        for (key, value) in env {
            spec = spec.with_env(key, value);
        }
        (self.service)(spec)
    }
}

/// The machine's host name (empty when it cannot be read).
fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// Handles one event on a real unit.
pub fn handle<R: ToolRunner>(ctx: &Context, tools: &HookTools<R>) -> Result<(), Error> {
    let init = service::detect();
    let apt = Apt::host();
    // The supervisor's watcher is this binary (`dispatch supervise`); /proc/self/exe
    // resolves to it whenever current_exe cannot say.
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let make_service = move |spec: ServiceSpec| service::for_host(init, spec, HostFiles, &me);
    let docker = DockerCli::host();
    let effects = Effects {
        files: &HostFiles,
        packages: &apt,
        service: &make_service,
        binary: &packages::registry_binary,
        version: &packages::registry_version,
        account: &users::service_account,
        hostname: &hostname,
        probe: &probe::wait_ready_while,
        catalog: &|addr, scheme, client, basic| {
            probe::get_catalog(addr, scheme, client, basic, Duration::from_secs(10))
        },
        ready_within: Duration::from_secs(10),
        legacy: &docker,
        upstream: &upstream::ask,
    };
    handle_with(ctx, tools, &effects)
}

/// Handles one event with the given effects.
pub fn handle_with<R: ToolRunner>(
    ctx: &Context,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<(), Error> {
    match &ctx.event {
        Event::Unknown(hook) => {
            tracing::debug!("ignoring unknown hook {hook}");
            Ok(())
        }
        Event::Action { name, .. } => {
            tracing::info!("{} running action {name}", ctx.unit);
            actions::run(name, ctx, tools, fx)
        }
        // Ports are closed by Juju when the unit goes away.
        Event::Stop => {
            let binary = (fx.binary)().ok();
            let local = LocalState::load(fx.files)?;
            let plan = plan::stop(
                binary.as_deref(),
                &ctx.charm_dir.join("dispatch"),
                local,
                "stopping: the unit is being removed",
            );
            apply::apply(&plan, tools, fx).map(drop)
        }
        Event::Remove => {
            let local = LocalState::load(fx.files)?;
            let files = read::observe(fx.files, &plan::remove_paths(&local))?;
            let plan = plan::remove(local, &files)?;
            apply::apply(&plan, tools, fx).map(drop)
        }
        _ => reconcile(ctx, tools, fx, LocalState::load(fx.files)?).map(drop),
    }
}

/// View → plan → apply → report, starting from what the unit remembers. A plan that ends
/// in a new read (the Python charm's container removed, the package installed) is
/// followed by another, on a fresh read of the machine: at most three plans per hook.
pub(crate) fn reconcile<R: ToolRunner>(
    ctx: &Context,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
    local: LocalState,
) -> Result<Plan, Error> {
    let mut view = View::read(ctx, tools, fx, local, None)?;
    let mut pass = 1;
    loop {
        let plan = plan::plan(&view)?;
        // Not a decision: where the registry's log of this start begins (the same clock
        // stamps its lines).
        let since = SystemTime::now();
        let applied = apply::apply(&plan, tools, fx)?;
        // Neither step recurs on a read after it, so a third plan never reads again.
        if plan.then == Then::ReadAgain && applied == Applied::Done && pass < 3 {
            pass += 1;
            let again = Again {
                installed: plan.steps.contains(&steps::Step::Install),
                model: view.model,
            };
            view = View::read(ctx, tools, fx, plan.local.unwrap_or_default(), Some(again))?;
            continue;
        }
        let forgot = matches!(applied, Applied::Forgot(_));
        let refusal = match report::report(&plan, applied, tools, fx, since)? {
            report::Reported::Done => return Ok(plan),
            report::Reported::Refused(refusal) => refusal,
        };
        // The registry refused what it was just started with: back to the last good
        // config, planned from a fresh read of the machine.
        let again = Again {
            installed: false,
            model: view.model,
        };
        let mut local = plan.local.unwrap_or_default();
        if forgot {
            // A relation written to is gone: the next hook reads the model whole.
            local.model = None;
        }
        let view = View::read(ctx, tools, fx, local, Some(again))?;
        let rollback = refusal::rollback(&view, &refusal)?;
        let applied = apply::apply(&rollback, tools, fx)?;
        let again = match report::report(&rollback, applied, tools, fx, since)? {
            report::Reported::Done => return Ok(rollback),
            report::Reported::Refused(again) => again,
        };
        // The last good config fails as well (what it needs is gone too): nothing is left
        // to go back to, so the registry is stopped and the unit says so.
        let local = rollback.local.unwrap_or_default();
        let view = View::read(
            ctx,
            tools,
            fx,
            local,
            Some(Again {
                installed: false,
                model: view.model,
            }),
        )?;
        let stop = refusal::give_up(&view, &again)?;
        let applied = apply::apply(&stop, tools, fx)?;
        report::report(&stop, applied, tools, fx, since)?;
        return Ok(stop);
    }
}
