//! The model as this hook sees it: one read of everything the reconciler needs.
//!
//! This is the only place the reconciler reads from Juju. Reads are few and fixed (about a
//! dozen hook-tool calls for a unit with no relations) because every hook pays for them.

use std::net::IpAddr;
use std::time::SystemTime;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{CharmConfig, ConfigErrors};
use crate::juju::{
    Context, Databag, Event, HookToolError, HookTools, PortRange, RelationId, ToolRunner, UnitName,
};
use crate::relations::peer::{HttpSecret, PeerApp};
use crate::tls::TlsBundle;

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

/// Everything the reconciler decides from.
#[derive(Debug)]
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
    /// The machine's host name (certificate SANs).
    pub hostname: String,
    /// The shared `http.secret`: peer app bag first, else the Python charm's leader setting.
    pub http_secret: Option<HttpSecret>,
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
}

/// Facts about the model that change only with a hook announcing the change, so the
/// frequent hooks can reuse them instead of asking Juju again (each question is a process,
/// and update-status runs every few minutes for the life of the unit).
///
/// - Relation ids change only with `relation-created`/`-broken` (and the first hooks of a
///   unit), so `update-status` and `config-changed` reuse them; every other hook reads
///   them afresh, and a reused id that Juju no longer knows triggers a full read.
/// - The unit's addresses change only with `config-changed` (Juju runs it when the
///   machine's addresses change), so only `update-status` reuses them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// Relation ids per endpoint, as `relation-ids` last answered.
    pub relations: BTreeMap<String, Vec<RelationId>>,
    /// The ingress address on the website binding.
    pub address: Option<IpAddr>,
    /// The binding's bind addresses.
    pub bind_addresses: Vec<IpAddr>,
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
        Known {
            relations,
            address: self.address,
            bind_addresses: self.bind_addresses.clone(),
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
        let ids = |endpoint: &str| -> Result<Vec<RelationId>, HookToolError> {
            match relations.and_then(|r| r.get(endpoint)) {
                Some(ids) => Ok(ids.clone()),
                None => tools.relation_ids(endpoint),
            }
        };
        let raw_config = tools.config_get()?;
        let registry_name = raw_config
            .get("registry-name")
            .and_then(|v| v.as_str())
            .unwrap_or("registry")
            .to_string();
        let config = CharmConfig::from_json_with_tls(&raw_config, now);
        // serde_json's Map is ordered by key, so the text is canonical.
        let config_digest = super::local::sha256(
            serde_json::Value::Object(raw_config.clone())
                .to_string()
                .as_bytes(),
        );
        let leader = tools.is_leader()?;
        let (address, bind_addresses) = match known {
            Some(k) if matches!(ctx.event, Event::UpdateStatus) && k.address.is_some() => {
                (k.address, k.bind_addresses.clone())
            }
            _ => {
                let net = tools.network_get(endpoints::WEBSITE, None)?;
                let address = net.ingress_address().and_then(|a| a.parse().ok());
                let bind = net
                    .bind_addresses
                    .iter()
                    .flat_map(|b| b.addresses.iter())
                    .filter_map(|a| a.value.parse().ok())
                    .collect();
                (address, bind)
            }
        };
        let peer = read_relations(
            tools,
            ids(endpoints::PEER)?,
            &ctx.unit,
            endpoints::PEER,
            Bags {
                ours: false,
                app: true,
            },
        )?
        .into_iter()
        .next();
        let leader_settings = match &peer {
            // Only units upgraded from the Python charm keep the secret in leader settings.
            Some(p) if p.app.contains_key("http-secret") => Databag::new(),
            _ => tools.leader_get()?,
        };
        let empty = Databag::new();
        let http_secret = PeerApp::http_secret_or_leader(
            peer.as_ref().map(|p| &p.app).unwrap_or(&empty),
            &leader_settings,
        )
        .unwrap_or_else(|e| {
            tracing::warn!("ignoring an unusable http-secret: {e}");
            None
        });
        Ok(ModelView {
            unit: ctx.unit.clone(),
            leader,
            config,
            address,
            bind_addresses,
            hostname: hostname(),
            http_secret,
            peer,
            website: read_relations(
                tools,
                ids(endpoints::WEBSITE)?,
                &ctx.unit,
                endpoints::WEBSITE,
                Bags {
                    ours: true,
                    app: false,
                },
            )?,
            clients: read_relations(
                tools,
                ids(endpoints::DOCKER_REGISTRY)?,
                &ctx.unit,
                endpoints::DOCKER_REGISTRY,
                Bags {
                    ours: true,
                    app: false,
                },
            )?,
            cert_provider: read_relations(
                tools,
                ids(endpoints::CERT_PROVIDER)?,
                &ctx.unit,
                endpoints::CERT_PROVIDER,
                Bags {
                    ours: true,
                    app: true,
                },
            )?
            .into_iter()
            .next(),
            nrpe: read_relations(
                tools,
                ids(endpoints::NRPE)?,
                &ctx.unit,
                endpoints::NRPE,
                Bags {
                    ours: true,
                    app: false,
                },
            )?,
            opened_ports: tools.opened_ports()?,
            now,
            config_digest,
            registry_name,
        })
    }
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

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}
