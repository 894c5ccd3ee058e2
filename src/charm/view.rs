//! One read of everything a hook decides from: the model (through the hook tools), the
//! machine (files, service, package, user), what the unit remembers and, only where the
//! view sees it may be needed, fresh entropy. The plan then needs nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::Secret;
use crate::juju::{Context, Event, HookTools, ToolRunner};
use crate::relations::peer::HttpSecret;
use crate::workload::files::{FileMeta, Files, FilesError};
use crate::workload::service::ServiceStatus;
use crate::workload::users::Account;

use super::local::{CsrRecord, LocalState};
use super::model::ModelView;
use super::switch::{self, Legacy};
use super::{secret, tls_source, Effects, Error};

/// What a path held when the view read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Kind, mode and owner (a final symlink is not followed).
    pub meta: FileMeta,
    /// The contents; `None` for a directory, or a link to nothing readable.
    pub contents: Option<Vec<u8>>,
}

impl Entry {
    /// A regular file.
    pub fn file(contents: &[u8], mode: u32, owner: (u32, u32)) -> Self {
        Entry {
            meta: FileMeta {
                is_dir: false,
                is_symlink: false,
                mode,
                uid: owner.0,
                gid: owner.1,
            },
            contents: Some(contents.to_vec()),
        }
    }

    /// A directory.
    pub fn dir(mode: u32, owner: (u32, u32)) -> Self {
        Entry {
            meta: FileMeta {
                is_dir: true,
                is_symlink: false,
                mode,
                uid: owner.0,
                gid: owner.1,
            },
            contents: None,
        }
    }
}

/// The paths the plan decides from, each with what it held (`None`: nothing there).
pub type Observed = BTreeMap<PathBuf, Option<Entry>>;

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

/// The machine as this hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineView {
    /// The registry binary, when the package is installed.
    pub binary: Option<PathBuf>,
    /// `<binary> --version` (read on install, upgrade-charm and start only), or why not.
    pub version: Option<Result<String, String>>,
    /// The service user (it exists once the package is installed).
    pub account: Option<Account>,
    /// The machine's host name (certificate SANs).
    pub hostname: String,
    /// The registry service, checked live.
    pub service: ServiceStatus,
    /// The files and directories the plan decides from.
    pub files: Observed,
    /// The Python charm's container.
    pub legacy: Legacy,
}

impl MachineView {
    /// Only the files and the binary, for the hooks that just stop or clean up.
    pub fn read_files(fx: &Effects<'_>, paths: &BTreeSet<PathBuf>) -> Result<Self, Error> {
        Ok(MachineView {
            binary: (fx.binary)().ok(),
            version: None,
            account: None,
            hostname: String::new(),
            service: ServiceStatus::Stopped,
            files: observe(fx.files, paths)?,
            legacy: Legacy::NotDue,
        })
    }
}

/// Entropy drawn for this hook; each only where the view saw it may be needed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fresh {
    /// A new shared HTTP secret: the leader has none to share yet.
    pub http_secret: Option<HttpSecret>,
    /// A new private key for certificate requests: there is none on disk.
    pub csr_key: Option<Secret>,
    /// A new certificate request: the published one does not match what is needed (or
    /// the key is new). Signatures are random, so it cannot be made in the plan.
    pub csr: Option<CsrRecord>,
    /// A bcrypt salt: basic auth is configured (the htpasswd entry may need rewriting).
    pub htpasswd_salt: Option<[u8; 16]>,
}

/// Everything one hook decides from.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The hook.
    pub event: Event,
    /// Juju's side.
    pub model: ModelView,
    /// The machine's side.
    pub machine: MachineView,
    /// What the unit remembered at the start of the hook.
    pub local: LocalState,
    /// Entropy.
    pub fresh: Fresh,
}

/// A second read in the same hook, after a plan that ended in `Then::ReadAgain`.
pub struct Again {
    /// The model as read the first time (the steps did not change it).
    pub model: ModelView,
    /// The package was installed by the steps: a missing binary is now an error.
    pub installed: bool,
}

impl View {
    /// Reads the view: the model (unless `again` brings it), the machine, fresh entropy.
    pub fn read<R: ToolRunner>(
        ctx: &Context,
        tools: &HookTools<R>,
        fx: &Effects<'_>,
        local: LocalState,
        again: Option<Again>,
    ) -> Result<View, Error> {
        let (model, again_at) = match again {
            Some(a) => (a.model, Some(a.installed)),
            None => (ModelView::load(ctx, tools, local.known.as_ref())?, None),
        };
        let machine = read_machine(&ctx.event, fx, &model, &local, again_at)?;
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
) -> Result<MachineView, Error> {
    let binary = match (fx.binary)() {
        Ok(b) => Some(b),
        Err(e) if again == Some(true) => return Err(e.into()),
        Err(_) => None,
    };
    let version = match &binary {
        Some(b) if matches!(event, Event::Install | Event::UpgradeCharm | Event::Start) => {
            Some((fx.version)(b).map_err(|e| e.to_string()))
        }
        _ => None,
    };
    let service = match &binary {
        Some(b) => fx.registry(b, &local.env).status()?,
        None => ServiceStatus::Stopped,
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
    Ok(MachineView {
        binary,
        version,
        account,
        hostname: (fx.hostname)(),
        service,
        files: observe(fx.files, &paths)?,
        legacy,
    })
}

/// Fresh entropy, where the model and machine say it may be needed.
fn draw(model: &ModelView, machine: &MachineView, local: &LocalState) -> Result<Fresh, Error> {
    let mut fresh = Fresh::default();
    if model.leader && model.http_secret.is_none() && model.peer.is_some() {
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
        let on_disk = machine
            .files
            .get(Path::new(super::local::CSR_KEY))
            .and_then(|e| e.as_ref())
            .and_then(|e| e.contents.as_deref());
        let key = match on_disk {
            Some(k) => Secret::new(String::from_utf8_lossy(k).into_owned()),
            None => {
                let k = crate::tls::generate_key()?;
                fresh.csr_key = Some(k.clone());
                k
            }
        };
        let current = local.csr.as_ref().filter(|r| subject.matches(r));
        if current.is_none() || fresh.csr_key.is_some() {
            fresh.csr = Some(subject.request(&key)?);
        }
    }
    Ok(fresh)
}
