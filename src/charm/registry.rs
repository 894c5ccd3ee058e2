//! The registry process and what it reads: its directories, auth files and config.yml,
//! the fingerprint that decides a restart, the service step, the probe and the ports.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::{Auth, CharmConfig, Secret, Storage};
use crate::juju::{Port, PortRange, Status};
use crate::probe::Scheme;
use crate::relations::peer::HttpSecret;
use crate::render::{self, RegistryConfigInputs, TlsFiles};
use crate::workload::files::{fingerprint, FileSpec};
use crate::workload::service::{ServiceCall, ServiceStatus};
use crate::workload::users::{self, Account, DataDir};

use super::advertise::{self, Advertised, Note};
use super::builder::{Builder, PlanError};
use super::local;
use super::ownership::{drop_owned, put, Wanted};
use super::steps::{Probe, Refuse, ServiceStep, Step, StorageCheck, Wait};
use super::view::View;
use super::{CONFIG_DIR, LOG_DIR};

/// The paths decided from here: always config.yml (a "last good config" must be the
/// charm's); with a valid config the directories and auth files too.
pub fn paths(config: Option<&CharmConfig>) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::from([PathBuf::from(render::CONFIG_PATH)]);
    if let Some(config) = config {
        out.extend(
            [
                CONFIG_DIR,
                LOG_DIR,
                render::HTPASSWD_PATH,
                render::TOKEN_PEM_PATH,
            ]
            .map(PathBuf::from),
        );
        if matches!(config.storage, Storage::Filesystem) {
            out.insert(users::DATA_DIR.into());
        }
    }
    out
}

/// config.yml and the auth files: always the charm's to manage.
pub fn managed_paths() -> Vec<PathBuf> {
    [
        render::CONFIG_PATH,
        render::HTPASSWD_PATH,
        render::TOKEN_PEM_PATH,
    ]
    .map(PathBuf::from)
    .to_vec()
}

/// The config directory, the log directory (the service user's) and, with filesystem
/// storage, the data directory: created when missing, data left by the Python charm
/// re-owned (never moved or deleted).
pub fn prepare_dirs(
    p: &mut Builder,
    config: &CharmConfig,
    account: &Account,
) -> Result<(), PlanError> {
    let owner = account.owner();
    p.ensure_dir(Path::new(CONFIG_DIR), 0o755, None);
    p.ensure_dir(Path::new(LOG_DIR), 0o750, Some(owner));
    if matches!(config.storage, Storage::Filesystem) {
        let data = Path::new(users::DATA_DIR);
        match users::data_dir_needs(data, p.disk.stat(data)?.as_ref(), owner)? {
            DataDir::Ready => {}
            DataDir::Create => {
                p.ensure_dir(data, 0o750, Some(owner));
            }
            DataDir::Reown { from } => {
                p.info(format!(
                    "re-owning existing registry data in {} from {from:?} to {owner:?}",
                    data.display()
                ));
                p.chown_tree(data, owner);
            }
        }
    }
    Ok(())
}

/// htpasswd or the token root certificates, whichever auth is on; the other goes. The
/// registry re-reads htpasswd on change (no restart); the token bundle it reads at start,
/// so it is returned to count in the fingerprint.
pub fn auth_files(
    p: &mut Builder,
    view: &View,
    config: &CharmConfig,
    account: &Account,
) -> Result<Vec<Vec<u8>>, PlanError> {
    let htpasswd = Path::new(render::HTPASSWD_PATH);
    let token_pem = Path::new(render::TOKEN_PEM_PATH);
    match &config.auth {
        Auth::Basic { user, password } => {
            let mut current = p.disk.read(htpasswd)?.unwrap_or_default().to_vec();
            // Checking the entry is a bcrypt hash (a few ms of CPU in every hook): it is
            // skipped while the file and the config are exactly those of the last check.
            let checked = |contents: &[u8]| {
                let file = local::sha256(contents);
                local::sha256(format!("{}\n{file}", view.model.config_digest).as_bytes())
            };
            let known_good = p.local.htpasswd_checked.as_deref() == Some(&checked(&current));
            let text = String::from_utf8_lossy(&current);
            if !known_good && !crate::htpasswd::verify_file(&text, user, password.expose()) {
                let salt = view
                    .fresh
                    .htpasswd_salt
                    .ok_or(PlanError::NoEntropy("bcrypt salt"))?;
                let entry = crate::htpasswd::file_with_salt(user, password.expose(), salt)?;
                let w = Wanted {
                    path: htpasswd.into(),
                    contents: entry.into_bytes(),
                    spec: FileSpec::mode(0o640).owned_by((0, account.gid)),
                };
                put(p, &w)?;
                p.info(format!("basic auth credentials written for user {user}"));
                current = w.contents;
            }
            p.local.htpasswd_checked = Some(checked(&current));
            drop_owned(p, token_pem)?;
            Ok(Vec::new())
        }
        Auth::Token { root_certs_pem, .. } => {
            p.local.htpasswd_checked = None;
            let w = Wanted {
                path: token_pem.into(),
                contents: root_certs_pem.as_bytes().to_vec(),
                spec: FileSpec::mode(0o644),
            };
            put(p, &w)?;
            drop_owned(p, htpasswd)?;
            Ok(vec![w.contents])
        }
        Auth::None => {
            p.local.htpasswd_checked = None;
            drop_owned(p, htpasswd)?;
            drop_owned(p, token_pem)?;
            Ok(Vec::new())
        }
    }
}

/// config.yml, rendered or reused; returns its contents.
///
/// Compiling the template is most of a no-op hook's own CPU time (measured with
/// callgrind: ~70% of its instructions), so an unchanged input reuses config.yml as
/// written, provided the file still holds exactly what the charm wrote. The charm's code
/// (template, renderer) changes only with upgrade-charm, which always renders.
pub fn config_yml(
    p: &mut Builder,
    view: &View,
    config: &CharmConfig,
    secret: &HttpSecret,
    tls: Option<TlsFiles<'_>>,
) -> Result<Vec<u8>, PlanError> {
    let app_name = view.model.unit.app().as_str().to_string();
    // The files config.yml names are not all options (copies of an operator's files, the
    // client CA), so they are part of the key.
    let render_key = local::sha256(
        format!(
            "{}\n{app_name}\n{}\n{tls:?}",
            view.model.config_digest,
            local::sha256(secret.expose().as_bytes()),
        )
        .as_bytes(),
    );
    let config_path = Path::new(render::CONFIG_PATH);
    let reuse = !matches!(
        view.event,
        crate::juju::Event::Install | crate::juju::Event::UpgradeCharm
    ) && p.local.rendered_from.as_deref() == Some(render_key.as_str());
    let on_disk = match reuse {
        true => p.disk.read(config_path)?.map(<[u8]>::to_vec),
        false => None,
    };
    let rendered = match on_disk {
        Some(text) if p.local.owns(config_path, &text) => text,
        _ => {
            let htpasswd = Path::new(render::HTPASSWD_PATH);
            let token_pem = Path::new(render::TOKEN_PEM_PATH);
            render::render_registry_config(&RegistryConfigInputs {
                config,
                app_name: &app_name,
                http_secret: Some(&Secret::new(secret.expose())),
                tls,
                htpasswd_path: matches!(config.auth, Auth::Basic { .. }).then_some(htpasswd),
                token_pem_path: matches!(config.auth, Auth::Token { .. }).then_some(token_pem),
                storage_root: Path::new(users::DATA_DIR),
                listen_port: config.registry_port,
            })?
            .into_bytes()
        }
    };
    p.local.rendered_from = Some(render_key);
    let owner_gid = view.machine.account.as_ref().map_or(0, |a| a.gid);
    put(
        p,
        &Wanted {
            path: config_path.into(),
            contents: rendered.clone(),
            spec: FileSpec::mode(0o640).owned_by((0, owner_gid)),
        },
    )?;
    Ok(rendered)
}

/// The files a config.yml rendered from `config` and `tls` names for the registry to
/// read: a last good config is only good with them.
pub fn files_read(config: &CharmConfig, tls: Option<TlsFiles<'_>>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(tls) = tls {
        out.extend([tls.cert.to_path_buf(), tls.key.to_path_buf()]);
        out.extend(tls.client_cas.iter().cloned());
    }
    match config.auth {
        Auth::Basic { .. } => out.push(render::HTPASSWD_PATH.into()),
        Auth::Token { .. } => out.push(render::TOKEN_PEM_PATH.into()),
        Auth::None => {}
    }
    out
}

/// The registry's environment from the config: HTTP_PROXY and HTTPS_PROXY when set.
pub fn env(c: &CharmConfig) -> Vec<(String, String)> {
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

/// Starts or restarts the registry when what it reads at start (`read_at_start`: its
/// certificates, token bundle and config.yml; plus the binary and the proxy environment)
/// differs from what it runs with, or it is not running. Returns how long the probe
/// may wait.
pub fn service(
    p: &mut Builder,
    view: &View,
    binary: &Path,
    config: &CharmConfig,
    mut read_at_start: Vec<Vec<u8>>,
) -> Wait {
    read_at_start.push(binary.as_os_str().as_encoded_bytes().to_vec());
    for (k, v) in [
        ("HTTP_PROXY", &config.registry_http_proxy),
        ("HTTPS_PROXY", &config.registry_https_proxy),
    ] {
        read_at_start.push(format!("{k}={}", v.as_deref().unwrap_or_default()).into_bytes());
    }
    let parts: Vec<&[u8]> = read_at_start.iter().map(Vec::as_slice).collect();
    let wanted = fingerprint(&parts);
    let action = service_action(&view.machine.service, p.local.running.as_deref(), &wanted);
    let call = match action {
        ServiceAction::Keep => None,
        ServiceAction::Start => {
            p.info(format!(
                "starting the registry{}",
                why_down(&view.machine.service)
            ));
            Some(ServiceCall::Start)
        }
        ServiceAction::Restart => {
            p.info("restarting the registry: its config, certificates or environment changed");
            Some(ServiceCall::Restart)
        }
    };
    if let Some(call) = call {
        p.step(Step::Service(ServiceStep {
            call,
            binary: binary.to_path_buf(),
            env: env(config),
        }));
    }
    p.local.running = Some(wanted);
    p.local.env = env(config);
    match action {
        ServiceAction::Keep => Wait::Running,
        _ => Wait::Started,
    }
}

/// `: <why>` for a registry found dead (the operator's only clue when it died between
/// hooks), nothing for one never started or stopped.
fn why_down(service: &ServiceStatus) -> String {
    match service {
        ServiceStatus::Crashed { reason, .. } => format!(": {reason}"),
        _ => String::new(),
    }
}

/// With a bad config the last good one keeps serving: start it again if it died. Only a
/// config.yml this charm wrote is a "last good config": right after a switch from the
/// Python charm the file there is that charm's (for its container, root-only).
pub fn keep_serving(
    p: &mut Builder,
    view: &View,
    binary: &Path,
    config: Option<&CharmConfig>,
) -> Result<(), PlanError> {
    let config_path = Path::new(render::CONFIG_PATH);
    let (ours, refused) = match p.disk.read(config_path)? {
        Some(current) => (
            p.local.owns(config_path, current),
            // A config the registry refused is no last good config (it would only exit
            // again).
            p.local
                .refused
                .as_ref()
                .is_some_and(|r| r.config_sha256 == local::sha256(current)),
        ),
        None => (false, false),
    };
    if p.local.stopped || !ours || refused || view.machine.service.is_running() {
        return Ok(());
    }
    // The last good config runs with its own environment; without one, the environment
    // of the config being kept (the valid one, else the last started).
    let env = match (&p.local.last_good, p.disk.read(config_path)?) {
        (Some(good), Some(current)) if good.config_sha256 == local::sha256(current) => {
            good.env.clone()
        }
        _ => config.map(env).unwrap_or_else(|| p.local.env.clone()),
    };
    p.info(format!(
        "starting the registry with its last good config{}",
        why_down(&view.machine.service)
    ));
    p.step(Step::Service(ServiceStep {
        call: ServiceCall::Start,
        binary: binary.to_path_buf(),
        env,
    }));
    Ok(())
}

/// Ports follow registry-port (and debug-port with metrics); the rest are closed.
pub fn ports(p: &mut Builder, view: &View, config: &CharmConfig) {
    let desired = desired_ports(config);
    let (open, close) = port_changes(&view.model.opened_ports, &desired);
    p.ports(
        close,
        open,
        desired.into_iter().map(PortRange::from).collect(),
    );
}

/// `GET /v2/` on loopback: Ready only when the registry really answers (B25,
/// docs/python-charm-bugs.md#b25), followed by the `notes`. After a start with a config
/// other than the last good one, a registry that exits (or, with a last good config to go
/// back to, stays silent) has refused it, and the store is asked too unless token auth is
/// on (the charm holds no token to ask with).
pub fn probe(
    p: &Builder,
    config: &CharmConfig,
    scheme: Scheme,
    wait: Wait,
    advertised: &Advertised,
    notes: &[Note],
) -> Probe {
    let tls_on = scheme != Scheme::Http;
    let refuse = match (wait, &p.local.last_good) {
        (Wait::Running, _) => Refuse::Never,
        (Wait::Started, None) => Refuse::Exit,
        (Wait::Started, Some(good)) if Some(&good.running) == p.local.running.as_ref() => {
            Refuse::Never
        }
        (Wait::Started, Some(_)) => Refuse::ExitOrSilence,
    };
    let storage = match (&config.auth, refuse) {
        (_, Refuse::Never) | (Auth::Token { .. }, _) => None,
        (Auth::Basic { user, password }, _) => Some(StorageCheck {
            basic: Some((user.clone(), password.clone())),
        }),
        (Auth::None, _) => Some(StorageCheck { basic: None }),
    };
    Probe {
        addr: SocketAddr::from(([127, 0, 0, 1], config.registry_port)),
        scheme,
        wait,
        ready: Status::active(advertise::ready_message(advertised, tls_on, notes)),
        storage,
        refuse,
        client: None,
    }
}

/// Ports the unit must have open: registry-port, and debug-port with prometheus-metrics.
pub fn desired_ports(config: &CharmConfig) -> Vec<Port> {
    let mut ports = vec![Port::tcp(config.registry_port)];
    if config.prometheus_metrics {
        ports.push(Port::tcp(config.debug_port));
    }
    ports
}

/// (to open, to close) to go from `opened` to exactly `desired`.
pub fn port_changes(opened: &[PortRange], desired: &[Port]) -> (Vec<Port>, Vec<PortRange>) {
    let same = |r: &PortRange, p: &Port| {
        r.from == p.number && r.to == p.number && r.protocol == p.protocol
    };
    let open = desired
        .iter()
        .filter(|p| !opened.iter().any(|r| same(r, p)))
        .copied()
        .collect();
    let close = opened
        .iter()
        .filter(|r| !desired.iter().any(|p| same(r, p)))
        .copied()
        .collect();
    (open, close)
}

/// What to do with the registry process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    /// Already running what we want.
    Keep,
    /// Not running: start it.
    Start,
    /// Running with other config/certs than wanted: restart it.
    Restart,
}

/// Restart only when what the registry reads at start changed (its config, certificates,
/// environment); start when it is not running (never started, or crashed).
pub fn service_action(
    status: &ServiceStatus,
    running_with: Option<&str>,
    wanted: &str,
) -> ServiceAction {
    match status {
        ServiceStatus::Running { .. } if running_with == Some(wanted) => ServiceAction::Keep,
        ServiceStatus::Running { .. } => ServiceAction::Restart,
        ServiceStatus::Stopped | ServiceStatus::Crashed { .. } => ServiceAction::Start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::fixtures::config;
    use serde_json::json;

    #[test]
    fn ports_follow_config_and_close_what_is_no_longer_wanted() {
        let c = config(json!({"registry-port": 5443, "prometheus-metrics": true}));
        let want = desired_ports(&c);
        assert_eq!(want, vec![Port::tcp(5443), Port::tcp(5001)]);
        let opened = vec![
            PortRange::from(Port::tcp(5000)),
            PortRange::from(Port::tcp(5001)),
        ];
        let (open, close) = port_changes(&opened, &want);
        assert_eq!(open, vec![Port::tcp(5443)]);
        assert_eq!(close, vec![PortRange::from(Port::tcp(5000))]);
        let (open, close) = port_changes(&[Port::tcp(5443).into(), Port::tcp(5001).into()], &want);
        assert!(open.is_empty() && close.is_empty());
    }

    #[test]
    fn restart_only_when_what_the_registry_reads_changed() {
        let running = ServiceStatus::Running { pid: 7 };
        assert_eq!(
            service_action(&running, Some("a"), "a"),
            ServiceAction::Keep
        );
        assert_eq!(
            service_action(&running, Some("a"), "b"),
            ServiceAction::Restart
        );
        assert_eq!(service_action(&running, None, "b"), ServiceAction::Restart);
        assert_eq!(
            service_action(&ServiceStatus::Stopped, Some("a"), "a"),
            ServiceAction::Start
        );
        let crashed = ServiceStatus::Crashed {
            pid: Some(7),
            reason: "gone".into(),
        };
        assert_eq!(
            service_action(&crashed, Some("a"), "a"),
            ServiceAction::Start
        );
    }

    #[test]
    fn the_files_the_registry_reads_are_named_for_the_last_good_config() {
        let basic = config(json!({"auth-basic-user": "u", "auth-basic-password": "p"}));
        let cas = [PathBuf::from("/ca.crt")];
        let tls = TlsFiles {
            cert: Path::new("/c.crt"),
            key: Path::new("/c.key"),
            client_cas: &cas,
        };
        assert_eq!(
            files_read(&basic, Some(tls)),
            [
                PathBuf::from("/c.crt"),
                "/c.key".into(),
                "/ca.crt".into(),
                render::HTPASSWD_PATH.into()
            ]
        );
        assert!(files_read(&config(json!({})), None).is_empty());
    }

    #[test]
    fn only_set_proxies_reach_the_environment() {
        let c =
            config(json!({"registry-https-proxy": "http://proxy:3128", "registry-http-proxy": ""}));
        assert_eq!(
            env(&c),
            vec![("HTTPS_PROXY".to_string(), "http://proxy:3128".to_string())]
        );
    }
}
