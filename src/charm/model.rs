//! The model as this hook sees it: the Juju half of the view, read through the hook tools.
//!
//! This is the only place the reconciler reads from Juju. Reads are few and fixed (about a
//! dozen hook-tool calls for a unit with no relations) because every hook pays for them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

use crate::config::{CharmConfig, ConfigErrors};
use crate::juju::{
    Context, Databag, Event, HookToolError, HookTools, PortRange, RelationId, ToolRunner, UnitName,
};
use crate::relations::peer::PeerApp;
use crate::tls::TlsBundle;

use super::local::Known;
use super::secret::{self, Legacy, Shared, SharedView};

/// Endpoint names from metadata.yaml.
pub mod endpoints {
    /// Runtimes (containerd, docker) get the registry's location, creds and CA.
    pub const DOCKER_REGISTRY: &str = "docker-registry";
    /// haproxy's `reverseproxy` (interface http).
    pub const WEBSITE: &str = "website";
    /// A CA (tls-certificates).
    pub const CERT_PROVIDER: &str = "cert-provider";
    /// Our own units.
    pub const PEER: &str = "peer";
    /// nrpe subordinate.
    pub const NRPE: &str = "nrpe-external-master";
    /// grafana-agent subordinate (interface `cos_agent`).
    pub const COS_AGENT: &str = "cos-agent";
}

/// One relation as seen from this unit: our own bag and every remote unit's bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationView {
    /// `endpoint:id`.
    pub id: RelationId,
    /// Our unit bag, as committed so far (used to write only what changed; left empty
    /// for the peer relation, where this charm writes no unit data).
    pub ours: Databag,
    /// Remote units in the relation (peers: the other units of our app), by unit number.
    pub units: Vec<(UnitName, Databag)>,
    /// The remote application's bag (for peers: our own app bag).
    pub app: Databag,
}

/// Everything the reconciler decides from on Juju's side.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelView {
    /// This unit.
    pub unit: UnitName,
    /// Leadership for this hook.
    pub leader: bool,
    /// The typed config with any TLS blobs validated, or every problem found.
    pub config: Result<(CharmConfig, Option<TlsBundle>), ConfigErrors>,
    /// The unit's ingress address on the `website` binding (what clients dial).
    pub address: Option<IpAddr>,
    /// Addresses the unit's binding is bound to (certificate SANs).
    pub bind_addresses: Vec<IpAddr>,
    /// The unit's public address (an IP or a host name), read only while cert-provider is
    /// related: it goes into the certificate SANs, as it did with the Python charm.
    pub public_address: Option<String>,
    /// What the units share (the `http.secret`): the charm's Juju secret, or the value
    /// from before the move.
    pub shared: SharedView,
    /// The peer relation (exists from deployment).
    pub peer: Option<RelationView>,
    /// haproxy relations.
    pub website: Vec<RelationView>,
    /// Container runtime relations.
    pub clients: Vec<RelationView>,
    /// The CA relation (the first one, like the Python charm).
    pub cert_provider: Option<RelationView>,
    /// nrpe subordinate relations (normally one).
    pub nrpe: Vec<RelationView>,
    /// grafana-agent subordinate relations (at most one).
    pub cos_agent: Vec<RelationView>,
    /// The model's name (`juju_model` on every series the agent scrapes).
    pub model_name: String,
    /// The model's UUID (`juju_model_uuid`).
    pub model_uuid: String,
    /// Ports Juju has opened for this unit.
    pub opened_ports: Vec<PortRange>,
    /// When the view was read (certificate validity is checked against it).
    pub now: SystemTime,
    /// sha256 of the raw `config-get` answer: equal digests mean equal config, secrets
    /// included (the typed config redacts them, so it cannot serve as a cache key).
    pub config_digest: String,
    /// `registry-name` as configured (the Python charm's container), even when another
    /// option is invalid.
    pub registry_name: String,
    /// sha256 of each option's value as config-get gave it: which options changed since
    /// the last good config, without keeping any value.
    pub options: BTreeMap<String, String>,
}

impl ModelView {
    /// Reads the view through the hook tools, reusing `known` where the event allows it.
    pub fn load<R: ToolRunner>(
        ctx: &Context,
        tools: &HookTools<R>,
        known: Option<&Known>,
    ) -> Result<Self, HookToolError> {
        match Self::load_with(ctx, tools, known) {
            Err(HookToolError::RelationNotFound { .. }) if known.is_some() => {
                tracing::info!("a remembered relation is gone; reading all relations again");
                Self::load_with(ctx, tools, None)
            }
            other => other,
        }
    }

    /// What the next hooks may reuse (see [`Known`]).
    pub fn known(&self) -> Known {
        let mut relations = BTreeMap::new();
        let ids = |views: &[RelationView]| views.iter().map(|v| v.id.clone()).collect();
        relations.insert(endpoints::PEER.to_string(), ids(self.peer.as_slice()));
        relations.insert(endpoints::WEBSITE.to_string(), ids(&self.website));
        relations.insert(endpoints::DOCKER_REGISTRY.to_string(), ids(&self.clients));
        relations.insert(
            endpoints::CERT_PROVIDER.to_string(),
            ids(self.cert_provider.as_slice()),
        );
        relations.insert(endpoints::NRPE.to_string(), ids(&self.nrpe));
        relations.insert(endpoints::COS_AGENT.to_string(), ids(&self.cos_agent));
        Known {
            relations,
            address: self.address,
            bind_addresses: self.bind_addresses.clone(),
            public_address: self.public_address.clone(),
        }
    }

    fn load_with<R: ToolRunner>(
        ctx: &Context,
        tools: &HookTools<R>,
        known: Option<&Known>,
    ) -> Result<Self, HookToolError> {
        let now = SystemTime::now();
        let relations = known
            .filter(|_| matches!(ctx.event, Event::UpdateStatus | Event::ConfigChanged))
            .map(|k| &k.relations);
        let read = |endpoint: &str, want: Bags| -> Result<Vec<RelationView>, HookToolError> {
            let ids = match relations.and_then(|r| r.get(endpoint)) {
                Some(ids) => ids.clone(),
                None => tools.relation_ids(endpoint)?,
            };
            read_relations(tools, ids, &ctx.unit, endpoint, want)
        };
        let raw = tools.config_get()?;
        let leader = tools.is_leader()?;
        let (address, bind_addresses) = read_addresses(ctx, tools, known)?;
        let peer = read(endpoints::PEER, Bags::APP).map(|v| v.into_iter().next())?;
        let shared = read_shared(tools, leader, peer.as_ref())?;
        let cert_provider = read(endpoints::CERT_PROVIDER, Bags::BOTH)?
            .into_iter()
            .next();
        let public_address = match cert_provider {
            Some(_) => read_public_address(ctx, tools, known)?,
            None => None,
        };
        Ok(ModelView {
            unit: ctx.unit.clone(),
            leader,
            config: CharmConfig::from_json_with_tls(&raw, now),
            address,
            bind_addresses,
            public_address,
            shared,
            peer,
            website: read(endpoints::WEBSITE, Bags::OURS)?,
            clients: read(endpoints::DOCKER_REGISTRY, Bags::OURS)?,
            cert_provider,
            nrpe: read(endpoints::NRPE, Bags::OURS)?,
            cos_agent: read(endpoints::COS_AGENT, Bags::OURS)?,
            model_name: ctx.model_name.clone(),
            model_uuid: ctx.model_uuid.clone(),
            opened_ports: tools.opened_ports()?,
            now,
            // serde_json's Map is ordered by key, so the text is canonical.
            config_digest: super::local::sha256(
                serde_json::Value::Object(raw.clone())
                    .to_string()
                    .as_bytes(),
            ),
            options: raw
                .iter()
                .map(|(k, v)| (k.clone(), super::local::sha256(v.to_string().as_bytes())))
                .collect(),
            registry_name: raw
                .get("registry-name")
                .and_then(|v| v.as_str())
                .unwrap_or("registry")
                .to_string(),
        })
    }
}

/// The ingress and bind addresses on the website binding; update-status reuses the
/// remembered ones (Juju runs config-changed when they change).
fn read_addresses<R: ToolRunner>(
    ctx: &Context,
    tools: &HookTools<R>,
    known: Option<&Known>,
) -> Result<(Option<IpAddr>, Vec<IpAddr>), HookToolError> {
    if let Some(k) = known.filter(|k| k.address.is_some()) {
        if matches!(ctx.event, Event::UpdateStatus) {
            return Ok((k.address, k.bind_addresses.clone()));
        }
    }
    let net = tools.network_get(endpoints::WEBSITE, None)?;
    let address = net.ingress_address().and_then(|a| a.parse().ok());
    let bind = net
        .bind_addresses
        .iter()
        .flat_map(|b| b.addresses.iter())
        .filter_map(|a| a.value.parse().ok())
        .collect();
    Ok((address, bind))
}

/// The unit's public address; update-status reuses the remembered one (it changes with
/// the machine's addresses, and Juju runs config-changed then).
fn read_public_address<R: ToolRunner>(
    ctx: &Context,
    tools: &HookTools<R>,
    known: Option<&Known>,
) -> Result<Option<String>, HookToolError> {
    if let Some(k) = known.filter(|k| k.public_address.is_some()) {
        if matches!(ctx.event, Event::UpdateStatus) {
            return Ok(k.public_address.clone());
        }
    }
    tools.unit_get_public_address()
}

/// The shared values: the Juju secret whose URI is in the peer app bag (the leader also
/// finds it by label), a value from before the move in the peer app bag, and only when
/// neither gives one the Python charm's leader setting. Unusable data is logged and
/// ignored.
fn read_shared<R: ToolRunner>(
    tools: &HookTools<R>,
    leader: bool,
    peer: Option<&RelationView>,
) -> Result<SharedView, HookToolError> {
    let empty = Databag::new();
    let app = peer.map(|p| &p.app).unwrap_or(&empty);
    let uri = PeerApp::shared_secret(app).unwrap_or_else(|e| {
        tracing::warn!("ignoring the peer relation's data: {e}");
        None
    });
    let mut juju = None;
    if let Some(uri) = uri {
        // A follower is a reader: --refresh keeps it on the latest revision.
        match tools.secret_get(&uri, !leader) {
            Ok(content) => juju = Some((uri, Shared::parse(&content))),
            Err(
                e @ (HookToolError::SecretNotFound { .. } | HookToolError::PermissionDenied { .. }),
            ) => {
                tracing::warn!("the shared secret named in the peer relation cannot be read: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    if juju.is_none() && leader {
        match tools.secret_info_get(secret::LABEL) {
            Ok(info) => {
                let content = tools.secret_get(&info.uri, false)?;
                juju = Some((info.uri, Shared::parse(&content)));
            }
            Err(HookToolError::SecretNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let unusable = |e: crate::relations::WireError| {
        tracing::warn!("ignoring an unusable http-secret: {e}");
        None
    };
    let mut view = SharedView {
        juju,
        legacy: PeerApp::legacy_http_secret(app)
            .unwrap_or_else(unusable)
            .map(|s| (Legacy::PeerBag, s)),
    };
    if view.usable().is_none() && view.legacy.is_none() {
        view.legacy = PeerApp::legacy_http_secret(&tools.leader_get()?)
            .unwrap_or_else(unusable)
            .map(|s| (Legacy::LeaderSettings, s));
    }
    Ok(view)
}

/// Which bags [`read_relations`] reads besides the remote units' (each is a tool call, and
/// every hook pays for them).
#[derive(Clone, Copy)]
struct Bags {
    /// Our own unit bag (needed where we write, to write only what changed).
    ours: bool,
    /// The application bag: the remote app's, or for peers our own app's.
    app: bool,
}

impl Bags {
    /// Our unit bag (where we write).
    const OURS: Bags = Bags {
        ours: true,
        app: false,
    };
    /// The app bag only (peers: our own app's).
    const APP: Bags = Bags {
        ours: false,
        app: true,
    };
    /// Both.
    const BOTH: Bags = Bags {
        ours: true,
        app: true,
    };
}

/// Reads every relation of `endpoint`: remote units' bags plus the bags `want` asks for.
/// Remote units are ordered by unit number (not by name: /10 > /2).
fn read_relations<R: ToolRunner>(
    tools: &HookTools<R>,
    ids: Vec<RelationId>,
    unit: &UnitName,
    endpoint: &str,
    want: Bags,
) -> Result<Vec<RelationView>, HookToolError> {
    let mut out = Vec::new();
    for id in ids {
        let mut members = tools.relation_list(&id)?;
        members.sort_by_key(|u| (u.app().as_str().to_string(), u.number()));
        let mut units = Vec::with_capacity(members.len());
        for member in members {
            units.push((member.clone(), tools.relation_get_unit(&id, &member)?));
        }
        let app = if want.app {
            let app_name = if endpoint == endpoints::PEER {
                // A peer relation's other side is our own application.
                Some(unit.app().clone())
            } else {
                match units.first() {
                    Some((u, _)) => Some(u.app().clone()),
                    None => tools.relation_list_app(&id)?,
                }
            };
            match app_name {
                Some(app) => tools.relation_get_app(&id, &app)?,
                None => Databag::new(),
            }
        } else {
            Databag::new()
        };
        let ours = if want.ours {
            tools.relation_get_unit(&id, unit)?
        } else {
            Databag::new()
        };
        out.push(RelationView {
            id,
            ours,
            units,
            app,
        });
    }
    Ok(out)
}
