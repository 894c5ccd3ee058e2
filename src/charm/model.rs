//! The model as this hook sees it: the Juju half of the view, read through the hook tools.
//!
//! This is the only place the reconciler reads from Juju. Each hook asks only what its
//! event announces may have changed, plus `is-leader`, and takes the rest from what the
//! unit recorded ([`Recorded`], see [`record::reads`]): a no-op `update-status` makes one
//! call, whatever the number of clients, and no hook reads a client's bags.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

use crate::config::{CharmConfig, ConfigErrors};
use crate::juju::{
    Context, Databag, HookToolError, HookTools, PortRange, RelationId, ToolRunner, UnitName,
};
use crate::relations::peer::PeerApp;
use crate::tls::TlsBundle;

use super::record::{self, Announced, Reads, Recorded, SharedRead};
use super::secret::{self, Legacy, Shared, SharedView};

pub use super::record::{endpoints, RelationView};

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
    /// Container runtime relations (our bag only: the charm never needs theirs).
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
    /// Reads what the event calls for and takes the rest from `recorded`; returns the view
    /// and the record the next hooks start from. A recorded relation Juju no longer knows
    /// (its broken hook was skipped) makes the hook read everything again.
    pub fn load<R: ToolRunner>(
        ctx: &Context,
        tools: &HookTools<R>,
        recorded: Option<&Recorded>,
    ) -> Result<(Self, Recorded), HookToolError> {
        let reads = record::reads(&ctx.event, recorded.is_some());
        let ask_shared = reads.shared();
        let read = match (recorded, reads) {
            (Some(rec), Reads::Announced(a)) => match refresh(ctx, tools, rec.clone(), &a) {
                Err(HookToolError::RelationNotFound { .. }) => {
                    tracing::info!("a recorded relation is gone; reading the model again");
                    read_all(ctx, tools)
                }
                other => other,
            },
            _ => read_all(ctx, tools),
        };
        let (leader, mut rec) = read?;
        // The secret as last read, unless Juju could have told of a change since.
        let known = rec
            .shared
            .take()
            .filter(|k| !ask_shared && k.leader == leader);
        let peer = rec.relations.get(endpoints::PEER).and_then(|p| p.first());
        let (shared, read) = read_shared(tools, leader, peer, known)?;
        rec.shared = read;
        let mut view = ModelView::from_record(&ctx.unit, leader, shared, &rec, SystemTime::now());
        view.model_name = ctx.model_name.clone();
        view.model_uuid = ctx.model_uuid.clone();
        Ok((view, rec))
    }

    /// The view of a record, with leadership as `is-leader` answered, the shared values
    /// as read, and `now` for certificate validity. Pure.
    pub fn from_record(
        unit: &UnitName,
        leader: bool,
        shared: SharedView,
        rec: &Recorded,
        now: SystemTime,
    ) -> Self {
        let relations = |endpoint: &str| rec.relations.get(endpoint).cloned().unwrap_or_default();
        let peer = relations(endpoints::PEER).into_iter().next();
        ModelView {
            unit: unit.clone(),
            leader,
            config: CharmConfig::from_json_with_tls(&rec.config, now),
            address: rec.address,
            bind_addresses: rec.bind_addresses.clone(),
            public_address: rec.public_address.clone(),
            shared,
            peer,
            website: relations(endpoints::WEBSITE),
            clients: relations(endpoints::DOCKER_REGISTRY),
            cert_provider: relations(endpoints::CERT_PROVIDER).into_iter().next(),
            nrpe: relations(endpoints::NRPE),
            cos_agent: relations(endpoints::COS_AGENT),
            model_name: String::new(),
            model_uuid: String::new(),
            opened_ports: rec.opened_ports.clone(),
            now,
            // serde_json's Map is ordered by key, so the text is canonical.
            config_digest: super::local::sha256(
                serde_json::Value::Object(rec.config.clone())
                    .to_string()
                    .as_bytes(),
            ),
            options: rec
                .config
                .iter()
                .map(|(k, v)| (k.clone(), super::local::sha256(v.to_string().as_bytes())))
                .collect(),
            registry_name: rec
                .config
                .get("registry-name")
                .and_then(|v| v.as_str())
                .unwrap_or("registry")
                .to_string(),
        }
    }
}

/// Every read a hook can make: a unit with no record, or an event after which anything
/// may differ. Runtimes' relations cost one call each (our bag), whatever their size.
fn read_all<R: ToolRunner>(
    ctx: &Context,
    tools: &HookTools<R>,
) -> Result<(bool, Recorded), HookToolError> {
    let config = tools.config_get()?;
    let leader = tools.is_leader()?;
    let (address, bind_addresses) = read_addresses(tools)?;
    let mut relations = BTreeMap::new();
    for endpoint in endpoints::ALL {
        let mut views = Vec::new();
        for id in tools.relation_ids(endpoint)? {
            views.push(read_relation(tools, &ctx.unit, id, Bags::of(endpoint))?);
        }
        relations.insert(endpoint.to_string(), views);
    }
    let mut rec = Recorded {
        config,
        address,
        bind_addresses,
        relations,
        ..Recorded::default()
    };
    rec.public_address = read_public_address(tools, &rec)?;
    rec.opened_ports = tools.opened_ports()?;
    Ok((leader, rec))
}

/// The record brought up to date with what `announced` says may have changed, and with
/// the writes of earlier hooks read back where Juju may have dropped them.
fn refresh<R: ToolRunner>(
    ctx: &Context,
    tools: &HookTools<R>,
    mut rec: Recorded,
    announced: &Announced,
) -> Result<(bool, Recorded), HookToolError> {
    if announced.config {
        rec.config = tools.config_get()?;
    }
    let leader = tools.is_leader()?;
    if announced.config {
        (rec.address, rec.bind_addresses) = read_addresses(tools)?;
    }
    let mut read_whole = Vec::new();
    if let Some(endpoint) = &announced.ids {
        let ids = tools.relation_ids(endpoint)?;
        let before = rec.relations.remove(endpoint).unwrap_or_default();
        let mut views = Vec::new();
        for id in ids {
            if announced.broken.as_ref() == Some(&id) {
                continue;
            }
            match before.iter().find(|v| v.id == id) {
                Some(v) => views.push(v.clone()),
                None => {
                    read_whole.push(id.clone());
                    views.push(read_relation(tools, &ctx.unit, id, Bags::of(endpoint))?);
                }
            }
        }
        rec.relations.insert(endpoint.clone(), views);
    }
    if let Some(gone) = &announced.broken {
        rec.forget(gone);
    }
    if let Some(id) = announced
        .relation
        .as_ref()
        .filter(|id| !read_whole.contains(id))
    {
        let bags = Bags::of(&id.endpoint);
        match rec.relation(id) {
            // No longer listed (a dying relation whose last member departed).
            None if announced.ids.is_some() => {}
            // A relation whose created hook was skipped: read it whole.
            None => rec.insert(read_relation(tools, &ctx.unit, id.clone(), bags)?),
            Some(_) if bags.units || bags.app => {
                let remote = Bags {
                    ours: false,
                    ..bags
                };
                let fresh = read_relation(tools, &ctx.unit, id.clone(), remote)?;
                if let Some(view) = rec.relation_mut(id) {
                    view.units = fresh.units;
                    view.app = fresh.app;
                }
            }
            Some(_) => {}
        }
    }
    // The public address changes with the machine's addresses (config-changed); a
    // cert-provider hook may be the first to need it, or the last.
    let cert_provider = announced.ids.as_deref() == Some(endpoints::CERT_PROVIDER)
        || (announced.relation.as_ref()).is_some_and(|r| r.endpoint == endpoints::CERT_PROVIDER);
    if announced.config || (cert_provider && rec.public_address.is_none()) {
        rec.public_address = read_public_address(tools, &rec)?;
    } else if cert_provider && !rec.related(endpoints::CERT_PROVIDER) {
        rec.public_address = None;
    }
    confirm(tools, &ctx.unit, &mut rec)?;
    Ok((leader, rec))
}

/// Reads back what earlier hooks wrote and Juju may not have committed (a failed hook's
/// writes are dropped), so no hook skips a write because of one that was lost.
fn confirm<R: ToolRunner>(
    tools: &HookTools<R>,
    unit: &UnitName,
    rec: &mut Recorded,
) -> Result<(), HookToolError> {
    let unconfirmed = std::mem::take(&mut rec.unconfirmed);
    for (id, app) in unconfirmed.bags {
        if rec.relation(&id).is_none() {
            continue;
        }
        let bag = match app {
            true => tools.relation_get_app(&id, unit.app())?,
            false => tools.relation_get_unit(&id, unit)?,
        };
        if let Some(view) = rec.relation_mut(&id) {
            *(if app { &mut view.app } else { &mut view.ours }) = bag;
        }
    }
    if unconfirmed.ports {
        rec.opened_ports = tools.opened_ports()?;
    }
    Ok(())
}

/// The ingress and bind addresses on the website binding.
fn read_addresses<R: ToolRunner>(
    tools: &HookTools<R>,
) -> Result<(Option<IpAddr>, Vec<IpAddr>), HookToolError> {
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

/// The unit's public address, asked only while cert-provider is related: it goes into
/// the certificate SANs.
fn read_public_address<R: ToolRunner>(
    tools: &HookTools<R>,
    rec: &Recorded,
) -> Result<Option<String>, HookToolError> {
    match rec.related(endpoints::CERT_PROVIDER) {
        true => tools.unit_get_public_address(),
        false => Ok(None),
    }
}

/// The shared values: the Juju secret whose URI is in the peer app bag (the leader also
/// finds it by label), a value from before the move in the peer app bag, and only when
/// neither gives one the Python charm's leader setting. `known` is the secret as last
/// read, taken instead of `secret-get` while the bag names the same secret. Returns the
/// view and the read to record (only a usable one). Unusable data is logged and ignored.
fn read_shared<R: ToolRunner>(
    tools: &HookTools<R>,
    leader: bool,
    peer: Option<&RelationView>,
    known: Option<SharedRead>,
) -> Result<(SharedView, Option<SharedRead>), HookToolError> {
    let empty = Databag::new();
    let app = peer.map(|p| &p.app).unwrap_or(&empty);
    let uri = PeerApp::shared_secret(app).unwrap_or_else(|e| {
        tracing::warn!("ignoring the peer relation's data: {e}");
        None
    });
    let mut read = known.filter(|k| uri.as_ref() == Some(&k.uri));
    if let (None, Some(uri)) = (&read, uri) {
        // A follower is a reader: --refresh keeps it on the latest revision.
        match tools.secret_get(&uri, !leader) {
            Ok(content) => {
                read = Some(SharedRead {
                    uri,
                    leader,
                    content,
                })
            }
            Err(
                e @ (HookToolError::SecretNotFound { .. } | HookToolError::PermissionDenied { .. }),
            ) => {
                tracing::warn!("the shared secret named in the peer relation cannot be read: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    if read.is_none() && leader {
        match tools.secret_info_get(secret::LABEL) {
            Ok(info) => {
                let content = tools.secret_get(&info.uri, false)?;
                read = Some(SharedRead {
                    uri: info.uri,
                    leader,
                    content,
                });
            }
            Err(HookToolError::SecretNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let juju = read
        .as_ref()
        .map(|r| (r.uri.clone(), Shared::parse(&r.content)));
    // An unusable content is asked again in every hook until the leader replaces it.
    let read = read.filter(|_| juju.as_ref().is_some_and(|(_, c)| c.is_ok()));
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
    Ok((view, read))
}

/// Which bags [`read_relation`] reads (each is a tool call).
#[derive(Clone, Copy)]
struct Bags {
    /// Our own unit bag (where we write, to write only what changed).
    ours: bool,
    /// The remote units' bags (where the charm decides from them).
    units: bool,
    /// The application bag: the remote app's, or for peers our own app's.
    app: bool,
}

impl Bags {
    /// What the charm needs of each endpoint: runtimes' bags never, only our own.
    fn of(endpoint: &str) -> Bags {
        let (ours, units, app) = match endpoint {
            endpoints::PEER => (false, true, true),
            // The charm writes to these and decides nothing from their side.
            endpoints::DOCKER_REGISTRY | endpoints::COS_AGENT => (true, false, false),
            endpoints::CERT_PROVIDER => (true, true, true),
            _ => (true, true, false),
        };
        Bags { ours, units, app }
    }
}

/// Reads one relation: the bags `want` asks for. Remote units are ordered by unit number
/// (not by name: /10 > /2).
fn read_relation<R: ToolRunner>(
    tools: &HookTools<R>,
    unit: &UnitName,
    id: RelationId,
    want: Bags,
) -> Result<RelationView, HookToolError> {
    let mut units = Vec::new();
    if want.units {
        let mut members = tools.relation_list(&id)?;
        members.sort_by_key(|u| (u.app().as_str().to_string(), u.number()));
        for member in members {
            let bag = tools.relation_get_unit(&id, &member)?;
            units.push((member, bag));
        }
    }
    let app = if want.app {
        let app_name = if id.endpoint == endpoints::PEER {
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
    let ours = match want.ours {
        true => tools.relation_get_unit(&id, unit)?,
        false => Databag::new(),
    };
    Ok(RelationView {
        id,
        ours,
        units,
        app,
    })
}
