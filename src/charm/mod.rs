//! The reconciler: every hook loads the model, decides what the unit should look like,
//! makes it so, and reports. Event-specific work is small (install, stop, remove, actions).
//!
//! Effects go through the narrow traits in `workload` (chosen once in [`handle`]) and the
//! hook tools, so tests change the world around the charm, never flags inside it.

pub mod decide;
pub mod local;
pub mod switch;
pub mod view;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Auth, CharmConfig, Secret, Storage};
use crate::juju::{Context, Event, HookToolError, HookTools, Status, ToolRunner};
use crate::probe::{self, Scheme};
use crate::relations::cert_provider::{
    legacy_unit_name, CsrRequest, CsrRequests, LegacyProvider, LegacyRequest, ProvidedCerts,
};
use crate::relations::nrpe;
use crate::relations::peer::{HttpSecret, PeerApp, PeerUnit};
use crate::relations::{Databag, Host};
use crate::render::{self, RegistryConfigInputs, TlsFiles};
use crate::tls::{self, San, TlsBundle, TlsSource};
use crate::workload::files::{fingerprint, FileSpec, Files, FilesError, HostFiles, Owner};
use crate::workload::legacy::{DockerCli, LegacyContainer};
use crate::workload::packages::{self, Apt, Packages, PackagesError};
use crate::workload::service::{self, Service, ServiceError, ServiceSpec};
use crate::workload::users::{self, UsersError};

use decide::{Advertised, ServiceAction};
use local::{CsrRecord, LocalState};
use view::{ModelView, RelationView};

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
    #[error("a hook tool call failed")]
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
    /// The service user or data directory is unusable.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// config.yml could not be rendered (a charm bug).
    #[error(transparent)]
    Render(#[from] render::RenderError),
    /// The htpasswd entry could not be made.
    #[error(transparent)]
    Htpasswd(#[from] crate::htpasswd::HtpasswdError),
    /// A generated HTTP secret was refused (a charm bug).
    #[error("generated http secret: {0}")]
    Secret(String),
    /// A key or request could not be generated.
    #[error("certificate request: {0}")]
    Tls(#[from] tls::TlsError),
}

/// The machine-facing effects, chosen once per process.
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
    /// Asks the registry `GET /v2/` until it answers or the time is up ([`probe::wait_ready`]).
    pub probe: &'a dyn Fn(SocketAddr, Scheme, Duration) -> Result<u16, probe::ProbeError>,
    /// How long to wait for the registry to answer after a (re)start.
    pub ready_within: Duration,
    /// The Python charm's registry container (the `docker` CLI on a real unit).
    pub legacy: &'a dyn LegacyContainer,
}

/// Handles one event on a real unit.
pub fn handle<R: ToolRunner>(ctx: &Context, tools: &HookTools<R>) -> Result<(), Error> {
    let init = service::detect();
    let apt = Apt::host();
    let make_service = move |spec: ServiceSpec| service::for_host(init, spec);
    let docker = DockerCli::host();
    let effects = Effects {
        files: &HostFiles,
        packages: &apt,
        service: &make_service,
        binary: &packages::registry_binary,
        version: &packages::registry_version,
        probe: &probe::wait_ready,
        ready_within: Duration::from_secs(10),
        legacy: &docker,
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
            run_action(name, ctx, tools, fx)
        }
        // Ports are closed by Juju when the unit goes away.
        Event::Stop => stop(fx, "stopping: the unit is being removed"),
        Event::Remove => remove(fx),
        _ => reconcile(ctx, tools, fx),
    }
}

fn registry_service(
    fx: &Effects<'_>,
    binary: &Path,
    config: Option<&CharmConfig>,
) -> Box<dyn Service> {
    let env = config.map(registry_env).unwrap_or_default();
    service_with_env(fx, binary, &env)
}

/// The registry's environment from the config: HTTP_PROXY and HTTPS_PROXY when set.
fn registry_env(c: &CharmConfig) -> Vec<(String, String)> {
    [
        ("HTTP_PROXY", &c.registry_http_proxy),
        ("HTTPS_PROXY", &c.registry_https_proxy),
    ]
    .into_iter()
    .filter_map(|(key, value)| {
        let v = value.as_deref().filter(|v| !v.is_empty())?;
        Some((key.to_string(), v.to_string()))
    })
    .collect()
}

fn service_with_env(fx: &Effects<'_>, binary: &Path, env: &[(String, String)]) -> Box<dyn Service> {
    let mut spec = ServiceSpec::registry(binary, Path::new(render::CONFIG_PATH));
    for (key, value) in env {
        spec = spec.with_env(key, value);
    }
    (fx.service)(spec)
}

fn stop(fx: &Effects<'_>, why: &str) -> Result<(), Error> {
    if let Ok(binary) = (fx.binary)() {
        tracing::info!("{why}");
        registry_service(fx, &binary, None).stop()?;
    }
    let mut local = LocalState::load(fx.files)?;
    local.running = None;
    local.save(fx.files)?;
    Ok(())
}

/// `remove`: the unit is going away. Remove what the charm wrote (config, secrets, its
/// state), never the image data in /srv/registry (no data loss on a re-deploy).
/// Operator files the charm set aside are put back.
fn remove(fx: &Effects<'_>) -> Result<(), Error> {
    let mut local = LocalState::load(fx.files)?;
    let paths: std::collections::BTreeSet<PathBuf> = local
        .owned
        .keys()
        .chain(local.displaced.keys())
        .cloned()
        .collect();
    for path in paths {
        drop_owned(fx, &mut local, &path)?;
    }
    fx.files.remove(Path::new(local::CSR_KEY))?;
    fx.files.remove(Path::new(local::STATE_FILE))?;
    tracing::info!(
        "removed the charm's files; image data in {} is kept",
        users::DATA_DIR
    );
    Ok(())
}

/// Files the reconciler wants, with their contents (secrets included: never logged).
struct Wanted {
    path: PathBuf,
    contents: Vec<u8>,
    spec: FileSpec,
}

/// A tls-*-path that names a directory: the charm could neither read nor write a file there
/// (an operator mistake, so blocked rather than a failed hook).
fn tls_path_problem(fx: &Effects<'_>, named: &[(&str, &PathBuf)]) -> Result<Option<String>, Error> {
    for (option, path) in named {
        if fx.files.stat(path)?.is_some_and(|m| m.is_dir) {
            return Ok(Some(format!(
                "{option}: {} is a directory (set the path of a file in it)",
                path.display()
            )));
        }
    }
    Ok(None)
}

/// Writes `w`, recording it as ours. A missing parent directory (a tls-*-path in a new
/// directory) is created 0755; an existing one is left as it is.
fn put(fx: &Effects<'_>, local: &mut LocalState, w: &Wanted) -> Result<bool, Error> {
    if let Some(parent) = w.path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !fx.files.exists(parent)? {
            fx.files.ensure_dir(parent, 0o755, None)?;
        }
    }
    let changed = fx.files.write(&w.path, &w.contents, w.spec)?.is_yes();
    local
        .owned
        .insert(w.path.clone(), local::sha256(&w.contents));
    Ok(changed)
}

/// Before the charm's first write at an operator path (tls-*-path), a file there that the
/// charm did not write (the operator's, or the Python charm's) is copied aside with its
/// mode and owner, so that [`drop_owned`] can give it back (docs/python-charm-bugs.md#b22).
/// The record is saved
/// before the original is overwritten: an interrupted hook never loses it. True when
/// something was set aside.
///
/// A file the operator changed while the charm managed the path is set aside the same way
/// (the charm's source still wins); the copy set aside before it stays where it is.
fn set_aside(fx: &Effects<'_>, local: &mut LocalState, path: &Path) -> Result<bool, Error> {
    let Some(current) = fx.files.read(path)? else {
        return Ok(false);
    };
    if local.owns(path, &current) {
        return Ok(false);
    }
    let sha = local::sha256(&current);
    if local.displaced.get(path).is_some_and(|d| d.sha256 == sha) {
        // Already kept (a hook that stopped between setting aside and writing).
        return Ok(false);
    }
    let Some(meta) = fx.files.stat(path)? else {
        return Ok(false);
    };
    // A link's own mode says nothing about what it points to: keep the copy root-only.
    let (mode, uid, gid) = if meta.is_symlink {
        tracing::warn!(
            "{} is a symbolic link: the charm replaces the link (not the file it points to) \
             and keeps a root-only copy of its content",
            path.display()
        );
        (0o600, 0, 0)
    } else {
        (meta.mode, meta.uid, meta.gid)
    };
    let backup = local::displaced_path(path, &sha);
    fx.files
        .ensure_dir(Path::new(local::STATE_DIR), 0o700, None)?;
    fx.files
        .ensure_dir(Path::new(local::DISPLACED_DIR), 0o700, None)?;
    fx.files
        .write(&backup, &current, FileSpec::mode(mode).owned_by((uid, gid)))?;
    let record = local::Displaced {
        backup: backup.clone(),
        sha256: sha,
        mode,
        uid,
        gid,
    };
    if let Some(earlier) = local.displaced.insert(path.to_path_buf(), record) {
        tracing::warn!(
            "{} was changed while the charm managed it; the file set aside before that \
             stays at {} and is not put back",
            path.display(),
            earlier.backup.display()
        );
    }
    tracing::info!(
        "set aside {} (not written by this charm) as {}; it is put back when the charm \
         stops managing that path",
        path.display(),
        backup.display()
    );
    local.save(fx.files)?;
    Ok(true)
}

/// Writes `w` over a path operators may use, setting aside what is there first. After
/// such a first write the state is saved at once: a hook that stopped before its end
/// must not take the charm's file for an operator's edit next time.
fn put_over_operator(fx: &Effects<'_>, local: &mut LocalState, w: &Wanted) -> Result<bool, Error> {
    let took_over = set_aside(fx, local, &w.path)?;
    let changed = put(fx, local, w)?;
    if took_over {
        local.save(fx.files)?;
    }
    Ok(changed)
}

/// The charm stops managing `path`: a file it set aside from there comes back (content,
/// mode, owner), else its own file goes. A file that changed since the charm wrote it
/// (or that is gone) is the operator's doing and is never touched.
fn drop_owned(fx: &Effects<'_>, local: &mut LocalState, path: &Path) -> Result<bool, Error> {
    let current = fx.files.read(path)?;
    let ours = current.as_deref().is_some_and(|c| local.owns(path, c));
    let mut changed = false;
    match local.displaced.remove(path) {
        Some(kept) if ours => changed = give_back(fx, path, &kept)?,
        // Put back already (a hook that stopped before forgetting the record).
        Some(kept) if current.as_deref().map(local::sha256).as_ref() == Some(&kept.sha256) => {
            fx.files.remove(&kept.backup)?;
        }
        Some(kept) => tracing::warn!(
            "{} {} since the charm wrote it, so it is left as it is; the file the charm set \
             aside from there stays at {}",
            path.display(),
            if current.is_some() {
                "changed"
            } else {
                "was removed"
            },
            kept.backup.display()
        ),
        None if ours => changed = fx.files.remove(path)?.is_yes(),
        None => {}
    }
    local.owned.remove(path);
    Ok(changed)
}

/// Puts a set-aside file back where it came from and drops the copy.
fn give_back(fx: &Effects<'_>, path: &Path, kept: &local::Displaced) -> Result<bool, Error> {
    let Some(contents) = fx.files.read(&kept.backup)? else {
        tracing::warn!(
            "the copy of {} set aside at {} is gone; removing the charm's file only",
            path.display(),
            kept.backup.display()
        );
        return Ok(fx.files.remove(path)?.is_yes());
    };
    let spec = FileSpec::mode(kept.mode).owned_by((kept.uid, kept.gid));
    let changed = fx.files.write(path, &contents, spec)?.is_yes();
    fx.files.remove(&kept.backup)?;
    tracing::info!(
        "put back {} (set aside at {} when the charm started managing it)",
        path.display(),
        kept.backup.display()
    );
    Ok(changed)
}

/// Where TLS comes from, in precedence order.
enum TlsChoice {
    /// Plain HTTP.
    Off,
    /// Material the charm writes to the tls-*-path files (config blobs or cert-provider).
    Managed(TlsBundle, TlsSource),
    /// Files an operator put at the tls-*-path locations; used as they are.
    Operator { ca: Option<String> },
}

fn tls_paths(config: &CharmConfig) -> (PathBuf, PathBuf, PathBuf) {
    let or = |p: &Option<PathBuf>, d: &str| p.clone().unwrap_or_else(|| PathBuf::from(d));
    (
        or(&config.tls_paths.ca, crate::config::DEFAULT_TLS_CA_PATH),
        or(&config.tls_paths.cert, crate::config::DEFAULT_TLS_CERT_PATH),
        or(&config.tls_paths.key, crate::config::DEFAULT_TLS_KEY_PATH),
    )
}

fn reconcile<R: ToolRunner>(
    ctx: &Context,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<(), Error> {
    let mut local = LocalState::load(fx.files)?;
    let view = ModelView::load(ctx, tools, local.known.as_ref())?;
    local.known = Some(view.known());

    // Switched from the Python charm: its container holds registry-port until it is gone.
    if switch::due(&ctx.event, &local) {
        if let Some(problem) = switch::retire(fx.legacy, &view.registry_name, &mut local) {
            local.save(fx.files)?;
            report(tools, fx, &mut local, &Status::blocked(problem))?;
            return Ok(());
        }
        local.save(fx.files)?;
    }

    // Install (and repair): only touch apt when the binary is missing.
    let binary = match (fx.binary)() {
        Ok(b) => b,
        Err(_) => {
            report(
                tools,
                fx,
                &mut local,
                &Status::maintenance("Installing the registry (docker-registry package)."),
            )?;
            fx.packages.ensure_installed(&[PACKAGE])?;
            (fx.binary)()?
        }
    };
    if matches!(
        ctx.event,
        Event::Install | Event::UpgradeCharm | Event::Start
    ) {
        match (fx.version)(&binary) {
            Ok(v) => tools.application_version_set(&v)?,
            Err(e) => tracing::warn!("could not read the registry version: {e}"),
        }
    }

    // The shared http.secret: the leader makes it once; every unit renders it.
    let secret = match (&view.http_secret, view.leader) {
        (Some(s), _) => {
            adopt_leader_setting_secret(tools, &view, s)?;
            Some(s.clone())
        }
        // Only through the peer app bag (relation-set reads it from stdin): leader-set
        // would put the secret in a process's argv. The peer relation is there from the
        // hook after install (relation-created), so at worst install waits one hook.
        (None, true) => match &view.peer {
            Some(peer) => Some(publish_new_secret(tools, peer)?),
            None => None,
        },
        (None, false) => None,
    };

    let (config, blob_tls) = match &view.config {
        Ok((c, t)) => (c, t.clone()),
        Err(errors) => {
            tracing::warn!("{errors}");
            // Keep serving the last good config: nothing is rewritten or restarted.
            return block_keep_serving(
                tools,
                fx,
                &binary,
                None,
                &mut local,
                errors.status_message(),
            );
        }
    };
    let service = registry_service(fx, &binary, Some(config));

    if local.stopped {
        report(
            tools,
            fx,
            &mut local,
            &Status::blocked(
                "Registry stopped by the `stop` action; run the `start` action to serve again.",
            ),
        )?;
        return Ok(());
    }

    let Some(secret) = secret else {
        report(
            tools,
            fx,
            &mut local,
            &Status::waiting(if view.leader {
                "Waiting for the peer relation to share the registry's HTTP secret."
            } else {
                "Waiting for the leader to share the registry's HTTP secret."
            }),
        )?;
        return Ok(());
    };

    let owner = users::service_user()?;
    prepare_dirs(fx, config, owner)?;

    let proxy = decide::proxy_host(&view.website);
    let Some(advertised) = decide::advertised(config, proxy.clone(), view.address) else {
        report(
            tools,
            fx,
            &mut local,
            &Status::waiting("Waiting for an ingress address on the website binding."),
        )?;
        return Ok(());
    };

    // TLS: config blobs > cert-provider > operator files > plain HTTP.
    let (ca_path, cert_path, key_path) = tls_paths(config);
    let named = [
        ("tls-ca-path", &ca_path),
        ("tls-cert-path", &cert_path),
        ("tls-key-path", &key_path),
    ];
    if let Some(problem) = tls_path_problem(fx, &named)? {
        let message = format!("Invalid charm config: {problem}");
        return block_keep_serving(tools, fx, &binary, Some(config), &mut local, message);
    }
    let relation_tls = match &view.cert_provider {
        Some(rel) => {
            request_certificate(tools, fx, &view, rel, config, proxy.as_ref(), &mut local)?
        }
        None => {
            local.csr = None;
            None
        }
    };
    let choice = match (blob_tls, relation_tls) {
        (Some(b), _) => TlsChoice::Managed(b, TlsSource::Config),
        (None, Some(b)) => TlsChoice::Managed(b, TlsSource::CertProvider),
        (None, None) => {
            // The paths go back to the operator first: what was set aside is then an
            // operator file again, and used as one.
            for p in [&ca_path, &cert_path, &key_path] {
                drop_owned(fx, &mut local, p)?;
            }
            match operator_tls(fx, &local, &ca_path, &cert_path, &key_path, view.now, owner)? {
                Ok(choice) => choice,
                Err(problem) => {
                    let message = format!("Invalid charm config: {problem}");
                    return block_keep_serving(
                        tools,
                        fx,
                        &binary,
                        Some(config),
                        &mut local,
                        message,
                    );
                }
            }
        }
    };
    let mut read_at_start: Vec<Vec<u8>> = Vec::new();
    let tls_ca: Option<String> = match &choice {
        // The tls-*-paths were given back above.
        TlsChoice::Off => None,
        TlsChoice::Managed(bundle, source) => {
            tracing::debug!("TLS from {source:?}");
            let cert = Wanted {
                path: cert_path.clone(),
                contents: bundle.cert.as_str().as_bytes().to_vec(),
                spec: FileSpec::mode(0o644),
            };
            let key = Wanted {
                path: key_path.clone(),
                contents: bundle.key.expose().as_bytes().to_vec(),
                spec: FileSpec::mode(0o600).owned_by(owner),
            };
            put_over_operator(fx, &mut local, &cert)?;
            put_over_operator(fx, &mut local, &key)?;
            read_at_start.push(cert.contents);
            read_at_start.push(key.contents);
            match &bundle.ca {
                Some(ca) => {
                    put_over_operator(
                        fx,
                        &mut local,
                        &Wanted {
                            path: ca_path.clone(),
                            contents: ca.as_str().as_bytes().to_vec(),
                            spec: FileSpec::mode(0o644),
                        },
                    )?;
                    Some(ca.as_str().to_string())
                }
                None => {
                    drop_owned(fx, &mut local, &ca_path)?;
                    None
                }
            }
        }
        TlsChoice::Operator { ca } => {
            for p in [&cert_path, &key_path] {
                read_at_start.push(fx.files.read(p)?.unwrap_or_default());
            }
            ca.clone()
        }
    };
    let tls_on = !matches!(choice, TlsChoice::Off);

    // Auth files. htpasswd is re-read by the registry on change: no restart needed.
    let htpasswd = Path::new(render::HTPASSWD_PATH);
    let token_pem = Path::new(render::TOKEN_PEM_PATH);
    match &config.auth {
        Auth::Basic { user, password } => {
            let current = fx.files.read(htpasswd)?.unwrap_or_default();
            let current = String::from_utf8_lossy(&current);
            if !crate::htpasswd::verify_file(&current, user, password.expose()) {
                let entry = crate::htpasswd::file(user, password.expose())?;
                put(
                    fx,
                    &mut local,
                    &Wanted {
                        path: htpasswd.into(),
                        contents: entry.into_bytes(),
                        spec: FileSpec::mode(0o640).owned_by((0, owner.1)),
                    },
                )?;
                tracing::info!("basic auth credentials written for user {user}");
            }
            drop_owned(fx, &mut local, token_pem)?;
        }
        Auth::Token { root_certs_pem, .. } => {
            let w = Wanted {
                path: token_pem.into(),
                contents: root_certs_pem.as_bytes().to_vec(),
                spec: FileSpec::mode(0o644),
            };
            put(fx, &mut local, &w)?;
            read_at_start.push(w.contents);
            drop_owned(fx, &mut local, htpasswd)?;
        }
        Auth::None => {
            drop_owned(fx, &mut local, htpasswd)?;
            drop_owned(fx, &mut local, token_pem)?;
        }
    }

    let app_name = view.unit.app().as_str().to_string();
    let render_secret = Secret::new(secret.expose());
    // Compiling the template is most of a no-op hook's own CPU time (measured with
    // callgrind: ~70% of its instructions), so an unchanged input reuses config.yml as
    // written, provided the file still holds exactly what the charm wrote. The charm's
    // code (template, renderer) changes only with upgrade-charm, which always renders.
    let render_key = local::sha256(
        format!(
            "{}\n{app_name}\n{}\n{tls_on}",
            view.config_digest,
            local::sha256(secret.expose().as_bytes()),
        )
        .as_bytes(),
    );
    let config_path = Path::new(render::CONFIG_PATH);
    let reuse = !matches!(ctx.event, Event::Install | Event::UpgradeCharm)
        && local.rendered_from.as_deref() == Some(render_key.as_str());
    let on_disk = if reuse {
        fx.files.read(config_path)?
    } else {
        None
    };
    let rendered = match on_disk {
        Some(text) if local.owns(config_path, &text) => String::from_utf8_lossy(&text).into_owned(),
        _ => render::render_registry_config(&RegistryConfigInputs {
            config,
            app_name: &app_name,
            http_secret: Some(&render_secret),
            tls: tls_on.then_some(TlsFiles {
                cert: &cert_path,
                key: &key_path,
            }),
            htpasswd_path: matches!(config.auth, Auth::Basic { .. }).then_some(htpasswd),
            token_pem_path: matches!(config.auth, Auth::Token { .. }).then_some(token_pem),
            storage_root: Path::new(users::DATA_DIR),
            listen_port: config.registry_port,
        })?,
    };
    local.rendered_from = Some(render_key);
    put(
        fx,
        &mut local,
        &Wanted {
            path: render::CONFIG_PATH.into(),
            contents: rendered.clone().into_bytes(),
            spec: FileSpec::mode(0o640).owned_by((0, owner.1)),
        },
    )?;
    read_at_start.push(rendered.into_bytes());

    // The Nagios check for the nrpe subordinate, following TLS and registry-port.
    let nrpe_files = decide::nrpe_files(&view.nrpe, config, &view.unit, tls_on).unwrap_or_default();
    for (path, contents) in &nrpe_files {
        ensure_parent(fx, path)?;
        put(
            fx,
            &mut local,
            &Wanted {
                path: path.clone(),
                contents: contents.as_bytes().to_vec(),
                spec: FileSpec::mode(0o644),
            },
        )?;
    }

    // Files the charm wrote at paths it no longer manages (a tls-*-path changed, the nrpe
    // relation is gone: docs/python-charm-bugs.md#b7) go too.
    let mut managed = vec![
        PathBuf::from(render::CONFIG_PATH),
        htpasswd.to_path_buf(),
        token_pem.to_path_buf(),
        ca_path.clone(),
        cert_path.clone(),
        key_path.clone(),
    ];
    managed.extend(nrpe_files.iter().map(|(path, _)| path.clone()));
    let stale: std::collections::BTreeSet<PathBuf> = local
        .owned
        .keys()
        .chain(local.displaced.keys())
        .filter(|p| !managed.contains(p))
        .cloned()
        .collect();
    for path in stale {
        tracing::info!("the charm no longer manages {}", path.display());
        drop_owned(fx, &mut local, &path)?;
    }
    read_at_start.push(binary.as_os_str().as_encoded_bytes().to_vec());
    for (k, v) in [
        ("HTTP_PROXY", &config.registry_http_proxy),
        ("HTTPS_PROXY", &config.registry_https_proxy),
    ] {
        read_at_start.push(format!("{k}={}", v.as_deref().unwrap_or_default()).into_bytes());
    }
    let parts: Vec<&[u8]> = read_at_start.iter().map(Vec::as_slice).collect();
    let wanted_fp = fingerprint(&parts);

    let action = decide::service_action(&service.status()?, local.running.as_deref(), &wanted_fp);
    match action {
        ServiceAction::Keep => {}
        ServiceAction::Start => {
            tracing::info!("starting the registry");
            service.start()?;
        }
        ServiceAction::Restart => {
            tracing::info!(
                "restarting the registry: its config, certificates or environment changed"
            );
            service.restart()?;
        }
    }
    local.running = Some(wanted_fp);
    local.env = registry_env(config);
    local.save(fx.files)?;

    // Ports follow registry-port (and debug-port with metrics).
    let (open, close) = decide::port_changes(&view.opened_ports, &decide::desired_ports(config));
    for range in close {
        tools.close_port(&crate::juju::Port {
            number: range.from,
            protocol: range.protocol,
        })?;
    }
    for port in open {
        tools.open_port(&port)?;
    }

    publish(tools, &view, config, &advertised, tls_on, tls_ca.as_deref())?;
    announce_nrpe(tools, &view, &nrpe_files)?;

    // Report: Ready only when the registry really answers GET /v2/
    // (docs/python-charm-bugs.md#b25).
    let scheme = if tls_on { Scheme::Https } else { Scheme::Http };
    let addr = SocketAddr::from(([127, 0, 0, 1], config.registry_port));
    let within = match action {
        ServiceAction::Keep => Duration::from_secs(2),
        _ => fx.ready_within,
    };
    let status = match (fx.probe)(addr, scheme, within) {
        Ok(_) => Status::active(decide::ready_message(&advertised, tls_on)),
        Err(e) => {
            tracing::warn!("registry not answering: {e}");
            Status::waiting(format!("Registry not answering yet: {e}"))
        }
    };
    report(tools, fx, &mut local, &status)?;
    Ok(())
}

/// Sets the unit status unless it is already what this charm last set: `status-set` is
/// immediate (never rolled back), so the remembered value is always what Juju shows, and a
/// no-op hook saves the call.
fn report<R: ToolRunner>(
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

/// An operator mistake: block with `message` while the last good config keeps serving
/// (restarted if it died; nothing rewritten).
fn block_keep_serving<R: ToolRunner>(
    tools: &HookTools<R>,
    fx: &Effects<'_>,
    binary: &Path,
    config: Option<&CharmConfig>,
    local: &mut LocalState,
    message: String,
) -> Result<(), Error> {
    keep_running(fx, binary, config, local)?;
    local.save(fx.files)?;
    report(tools, fx, local, &Status::blocked(message))
}

/// With a bad config the last good one keeps serving: start it again if it died.
fn keep_running(
    fx: &Effects<'_>,
    binary: &Path,
    config: Option<&CharmConfig>,
    local: &mut LocalState,
) -> Result<(), Error> {
    // Only a config.yml this charm wrote is a "last good config": right after a switch from
    // the Python charm the file there is that charm's (for its container, root-only).
    let config_path = Path::new(render::CONFIG_PATH);
    let ours = match fx.files.read(config_path)? {
        Some(current) => local.owns(config_path, &current),
        None => false,
    };
    if local.stopped || !ours {
        return Ok(());
    }
    // Without a valid config, start with the environment the last good one had.
    let env = config
        .map(registry_env)
        .unwrap_or_else(|| local.env.clone());
    let service = service_with_env(fx, binary, &env);
    if !service.status()?.is_running() {
        tracing::info!("starting the registry with its last good config");
        service.start()?;
    }
    Ok(())
}

fn prepare_dirs(fx: &Effects<'_>, config: &CharmConfig, owner: Owner) -> Result<(), Error> {
    fx.files.ensure_dir(Path::new(CONFIG_DIR), 0o755, None)?;
    fx.files
        .ensure_dir(Path::new(LOG_DIR), 0o750, Some(owner))?;
    if matches!(config.storage, Storage::Filesystem) {
        users::prepare_data_dir(fx.files, Path::new(users::DATA_DIR), owner)?;
    }
    Ok(())
}

/// The leader's first hook: 32 random bytes, base64 (like the Python charm), shared only in
/// the peer app bag (never with leader-set, whose values are in argv).
fn publish_new_secret<R: ToolRunner>(
    tools: &HookTools<R>,
    peer: &RelationView,
) -> Result<HttpSecret, Error> {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let secret = HttpSecret::new(&text).map_err(Error::Secret)?;
    share_secret(tools, &peer.id, &secret)?;
    tracing::info!("generated the shared registry HTTP secret");
    Ok(secret)
}

/// Writes the secret into the peer relation's app bag (leader only).
fn share_secret<R: ToolRunner>(
    tools: &HookTools<R>,
    peer: &crate::juju::RelationId,
    secret: &HttpSecret,
) -> Result<(), Error> {
    let app = PeerApp {
        http_secret: Some(secret.clone()),
    };
    tools.relation_set(peer, true, &app.to_databag())?;
    Ok(())
}

/// A secret known only from leader settings (the Python charm kept it there) is copied into
/// the peer app bag by the leader, once: after that no hook needs `leader-get` (a tool call
/// every hook would pay for).
fn adopt_leader_setting_secret<R: ToolRunner>(
    tools: &HookTools<R>,
    view: &ModelView,
    secret: &HttpSecret,
) -> Result<(), Error> {
    match &view.peer {
        Some(peer) if view.leader && !peer.app.contains_key("http-secret") => {
            share_secret(tools, &peer.id, secret)?;
            tracing::info!("shared the registry HTTP secret in the peer relation");
        }
        _ => {}
    }
    Ok(())
}

/// Operator-placed certificate files at tls-*-path that the charm did not write.
fn operator_tls(
    fx: &Effects<'_>,
    local: &LocalState,
    ca: &Path,
    cert: &Path,
    key: &Path,
    now: std::time::SystemTime,
    owner: Owner,
) -> Result<Result<TlsChoice, String>, Error> {
    let read = |p: &Path| -> Result<Option<Vec<u8>>, Error> {
        Ok(fx.files.read(p)?.filter(|c| !local.owns(p, c)))
    };
    let (Some(cert_pem), Some(key_pem)) = (read(cert)?, read(key)?) else {
        return Ok(Ok(TlsChoice::Off));
    };
    let ca_pem = read(ca)?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let ca_text = ca_pem.as_deref().map(text);
    match TlsBundle::from_pems(
        ca_text.as_deref(),
        Some(&text(&cert_pem)),
        Some(&text(&key_pem)),
        now,
        TlsSource::Config,
    ) {
        Ok(Some(_)) => {}
        // Empty files: TLS on with them would only crash the registry.
        Ok(None) => {
            return Ok(Err(format!(
                "tls-cert-path: the certificate files at {} and {} are empty",
                cert.display(),
                key.display()
            )))
        }
        Err(e) => {
            return Ok(Err(format!(
                "tls-cert-path: the certificate files at {} and {} are unusable: {}",
                cert.display(),
                key.display(),
                e.problem
            )))
        }
    }
    // The registry runs as its own user: a root-only key (an admin's usual 0600, or what
    // the Python charm left) would make it exit at start, leaving the unit down.
    for (option, path) in [("tls-cert-path", cert), ("tls-key-path", key)] {
        if let Some(meta) = fx.files.stat(path)? {
            if !users::can_read(&meta, owner) {
                return Ok(Err(format!(
                    "{option}: {} is not readable by the {} user, which runs the registry \
                     (e.g. chgrp {} {} && chmod g+r {})",
                    path.display(),
                    users::SERVICE_USER,
                    users::SERVICE_USER,
                    path.display(),
                    path.display()
                )));
            }
        }
    }
    Ok(Ok(TlsChoice::Operator { ca: ca_text }))
}

/// Publishes our certificate request on cert-provider (the legacy keys easyrsa reads and a
/// v4 CSR from a key that never leaves this unit) and returns the issued certificate once
/// it is there and valid.
fn request_certificate<R: ToolRunner>(
    tools: &HookTools<R>,
    fx: &Effects<'_>,
    view: &ModelView,
    rel: &RelationView,
    config: &CharmConfig,
    proxy: Option<&Host>,
    local: &mut LocalState,
) -> Result<Option<TlsBundle>, Error> {
    let ingress: Vec<std::net::IpAddr> = view.address.into_iter().collect();
    let proxy_sans: Vec<San> = proxy
        .and_then(|h| h.to_string().parse::<San>().ok())
        .into_iter()
        .collect();
    let sans = tls::compute_sans(
        &ingress,
        &view.bind_addresses,
        config.http_host.as_ref().map(|u| u.hostname()),
        &proxy_sans,
        &view.hostname,
    );
    let sans_text: Vec<String> = sans.iter().map(ToString::to_string).collect();
    let common_name = view
        .address
        .map(|a| a.to_string())
        .unwrap_or_else(|| view.hostname.clone());

    // Our key: generated once, 0600, never published.
    let key_path = Path::new(local::CSR_KEY);
    let key = match fx.files.read(key_path)? {
        Some(k) => Secret::new(String::from_utf8_lossy(&k).into_owned()),
        None => {
            let k = tls::generate_key()?;
            fx.files
                .ensure_dir(Path::new(local::STATE_DIR), 0o700, None)?;
            fx.files
                .write(key_path, k.expose().as_bytes(), FileSpec::mode(0o600))?;
            local.csr = None;
            k
        }
    };
    let record = match &local.csr {
        Some(r) if r.sans == sans_text && r.common_name == common_name => r.clone(),
        _ => {
            let csr = tls::csr(&key, &common_name, &sans)?;
            CsrRecord {
                common_name: common_name.clone(),
                sans: sans_text.clone(),
                csr: csr.as_str().to_string(),
            }
        }
    };
    local.csr = Some(record.clone());

    let mut desired =
        LegacyRequest::new(view.unit.to_string().as_str(), &common_name, sans_text).to_databag();
    desired.extend(
        CsrRequests {
            requests: vec![CsrRequest {
                csr: record.csr.clone(),
                ca: false,
            }],
        }
        .to_databag(),
    );
    write_bag(tools, rel, &desired)?;

    // v4 answer (our key) first, then the legacy answer (the CA's key).
    let v4 = ProvidedCerts::parse(&rel.app)
        .map_err(|e| tracing::warn!("ignoring cert-provider app data: {e}"))
        .ok()
        .and_then(|p| p.find_for_csr(&record.csr).cloned())
        .map(|c| {
            let chain = std::iter::once(c.certificate.clone())
                .chain(
                    c.chain
                        .iter()
                        .filter(|p| **p != c.certificate && **p != c.ca)
                        .cloned(),
                )
                .collect::<Vec<_>>()
                .join("\n");
            (Some(c.ca), chain, key.expose().to_string())
        });
    let legacy_name = legacy_unit_name(&view.unit.to_string());
    let legacy = rel.units.iter().find_map(|(unit, bag)| {
        match LegacyProvider::parse(bag).and_then(|p| p.issued_for(&legacy_name)) {
            Ok(Some(c)) => Some((Some(c.ca), c.cert, c.key)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("ignoring {unit}'s certificate data: {e}");
                None
            }
        }
    });
    let Some((ca, cert, key)) = v4.or(legacy) else {
        tracing::info!("waiting for a certificate from cert-provider");
        return Ok(None);
    };
    match TlsBundle::from_pems(
        ca.as_deref(),
        Some(&cert),
        Some(&key),
        view.now,
        TlsSource::CertProvider,
    ) {
        Ok(bundle) => Ok(bundle),
        Err(e) => {
            tracing::warn!("the certificate from cert-provider is unusable: {e}");
            Ok(None)
        }
    }
}

/// Writes only the keys of `desired` that differ from our current bag.
fn write_bag<R: ToolRunner>(
    tools: &HookTools<R>,
    rel: &RelationView,
    desired: &Databag,
) -> Result<(), Error> {
    let writes = decide::bag_writes(&rel.ours, desired);
    if !writes.is_empty() {
        tools.relation_set(&rel.id, false, &writes)?;
    }
    Ok(())
}

/// Tells each nrpe unit about the check files; `timestamp` moves only when their content
/// changed, so a no-op hook wakes nothing on the subordinate's side
/// (docs/python-charm-bugs.md#b7).
fn announce_nrpe<R: ToolRunner>(
    tools: &HookTools<R>,
    view: &ModelView,
    files: &[(PathBuf, String)],
) -> Result<(), Error> {
    if files.is_empty() {
        return Ok(());
    }
    let contents: Vec<&str> = files.iter().map(|(_, c)| c.as_str()).collect();
    let now = decide::iso_time(view.now);
    for rel in view.nrpe.iter().filter(|r| !r.units.is_empty()) {
        write_bag(tools, rel, &nrpe::announce(&rel.ours, &contents, &now))?;
    }
    Ok(())
}

/// Creates `path`'s directory (0755) when it is missing; one that exists is left as its
/// owner (the nrpe subordinate's package) made it.
fn ensure_parent(fx: &Effects<'_>, path: &Path) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !fx.files.exists(dir)? {
            fx.files.ensure_dir(dir, 0o755, None)?;
        }
    }
    Ok(())
}

/// Relation data for runtimes (every unit, every relation: docs/python-charm-bugs.md#b5)
/// and haproxy (leader); the wire formats are in docs/relations.md.
fn publish<R: ToolRunner>(
    tools: &HookTools<R>,
    view: &ModelView,
    config: &CharmConfig,
    advertised: &Advertised,
    tls_on: bool,
    tls_ca: Option<&str>,
) -> Result<(), Error> {
    let info = decide::client_info(advertised, config, tls_on.then_some(tls_ca));
    let bag = info.to_databag();
    for rel in &view.clients {
        write_bag(tools, rel, &bag)?;
    }
    if view.website.is_empty() {
        return Ok(());
    }
    let desired = match (view.leader, view.address) {
        (true, Some(address)) => {
            let peers: Vec<(String, Host)> = view
                .peer
                .iter()
                .flat_map(|p| p.units.iter())
                .filter_map(|(unit, bag)| match PeerUnit::parse(bag) {
                    Ok(PeerUnit {
                        address: Some(a), ..
                    }) => Some((unit.to_string(), a)),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!("ignoring peer {unit}'s data: {e}");
                        None
                    }
                })
                .collect();
            let me = view.unit.to_string();
            match decide::website_leader_bag(
                view.unit.app().as_str(),
                (&me, Host::from(address)),
                &peers,
                config,
                tls_on,
            ) {
                Ok(bag) => bag,
                Err(e) => {
                    tracing::warn!("not publishing the haproxy stanza: {e}");
                    return Ok(());
                }
            }
        }
        (true, None) => return Ok(()),
        (false, _) => decide::website_follower_bag(),
    };
    for rel in &view.website {
        write_bag(tools, rel, &desired)?;
    }
    Ok(())
}

fn run_action<R: ToolRunner>(
    name: &str,
    ctx: &Context,
    tools: &HookTools<R>,
    fx: &Effects<'_>,
) -> Result<(), Error> {
    let mut results = std::collections::BTreeMap::new();
    match name {
        "stop" => {
            let mut local = LocalState::load(fx.files)?;
            local.stopped = true;
            local.save(fx.files)?;
            stop(fx, "stopping: the stop action was run")?;
            results.insert("outcome".to_string(), "success".to_string());
            tools.action_set(&results)?;
            // `stop` rewrote the state: report on the fresh copy.
            let mut local = LocalState::load(fx.files)?;
            report(
                tools,
                fx,
                &mut local,
                &Status::blocked(
                    "Registry stopped by the `stop` action; run the `start` action to serve again.",
                ),
            )?;
        }
        "start" => {
            let mut local = LocalState::load(fx.files)?;
            local.stopped = false;
            local.save(fx.files)?;
            reconcile(ctx, tools, fx)?;
            results.insert("outcome".to_string(), "success".to_string());
            tools.action_set(&results)?;
        }
        other => {
            tools.action_fail(&format!(
                "{other}: not implemented by this revision of the charm yet"
            ))?;
        }
    }
    Ok(())
}
