//! What every unit shares: the registry's `http.secret` (any unit behind a proxy may have
//! to resume an upload another one started, and the secret signs that state) and the
//! tls-auto CA key (every unit signs its own certificate with it), kept in one Juju secret
//! owned by the application (docs/juju.md#secrets).
//!
//! The leader makes the secret once, from fresh entropy or from the value found where
//! earlier charms kept it (the peer app bag, the Python charm's leader settings: the same
//! value, so clients see no change and no unit restarts), and records its URI in the
//! peer app bag, deleting the old copy there in the same commit. Every unit reads the
//! secret by that URI (the leader also by its label) and records what it read; it asks
//! again only when Juju could have told it of a change (`secret-changed`, a peer hook:
//! each revision the leader makes also changes the peer app bag, because the other units
//! of the owning application get no `secret-changed`; see `record::SharedRead`).

use std::fmt;

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};

use crate::juju::{Event, RelationId, SecretContent, SecretKind, SecretUri};
use crate::relations::peer::{HttpSecret, PeerApp};
use crate::secret::Secret;

use super::auto_tls;
use super::builder::{Builder, PlanError};
use super::model::ModelView;
use super::steps::Step;
use super::view::Fresh;
use super::Error;

/// The owner label of the charm's secret (`juju show-secret registry-shared`).
pub const LABEL: &str = "registry-shared";
/// Its description, shown by `juju secrets`.
pub const DESCRIPTION: &str = "Shared by every docker-registry unit: the registry's http.secret (signs upload state) and the tls-auto CA key.";
/// Key of the http secret in the secret's content.
pub const HTTP_SECRET: &str = "http-secret";
/// Key of the tls-auto CA key in the secret's content (once a CA is made).
pub const TLS_AUTO_CA_KEY: &str = "tls-auto-ca-key";

/// The content of the charm's secret.
///
/// To share another value between units, add a field here and its key in
/// [`Shared::parse`] and [`Shared::content`], and have [`share`] set a new revision
/// (`secret-set`, as it does for an unusable http secret) when the latest one lacks it:
/// the other units read it in the peer hook its new generation in the peer app bag runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// The registry's `http.secret`.
    pub http_secret: HttpSecret,
    /// The tls-auto CA's private key (PEM), once the leader made the CA or moved its key
    /// here from the peer app bag; the certificate stays in that bag (it is public).
    pub tls_auto_ca_key: Option<Secret>,
}

/// Content of the charm's secret that cannot be used: why (never quoting a value), and the
/// tls-auto CA key it holds, which a repair must keep (clients trust that CA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    /// Why, naming the key.
    pub why: String,
    /// The content's `tls-auto-ca-key`, if any.
    pub tls_auto_ca_key: Option<Secret>,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.why)
    }
}

impl Shared {
    /// Reads a revision's content; why it is unusable otherwise (never quoting a value).
    /// The CA key is taken as it is: whether it belongs to the CA is checked with the
    /// certificate (`auto_tls::shared_ca`).
    pub fn parse(content: &SecretContent) -> Result<Shared, Unusable> {
        let tls_auto_ca_key = content.get(TLS_AUTO_CA_KEY).cloned();
        let unusable = |why: String| Unusable {
            why,
            tls_auto_ca_key: tls_auto_ca_key.clone(),
        };
        let raw = content
            .get(HTTP_SECRET)
            .ok_or_else(|| unusable(format!("it has no {HTTP_SECRET:?} key")))?;
        let http_secret = HttpSecret::new(raw.expose())
            .map_err(|why| unusable(format!("its {HTTP_SECRET:?} is unusable: {why}")))?;
        Ok(Shared {
            http_secret,
            tls_auto_ca_key,
        })
    }

    /// The content to store.
    pub fn content(&self) -> SecretContent {
        let mut out = SecretContent::from([(
            HTTP_SECRET.to_string(),
            Secret::new(self.http_secret.expose()),
        )]);
        if let Some(key) = &self.tls_auto_ca_key {
            out.insert(TLS_AUTO_CA_KEY.to_string(), key.clone());
        }
        out
    }
}

/// Where a value from before the move was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    /// The peer app bag's `http-secret` (earlier revisions of this charm).
    PeerBag,
    /// The leader setting `http-secret` (the Python charm).
    LeaderSettings,
}

/// The shared values as this hook found them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SharedView {
    /// The charm's Juju secret: its URI and content (`Err`: why the content is unusable).
    pub juju: Option<(SecretUri, Result<Shared, Unusable>)>,
    /// A value from before the move: the peer app bag's whenever it has one (no call
    /// needed), the leader setting's only when nothing else gives a value.
    pub legacy: Option<(Legacy, HttpSecret)>,
}

impl SharedView {
    /// The usable content of the Juju secret.
    pub fn usable(&self) -> Option<&Shared> {
        self.juju.as_ref().and_then(|(_, c)| c.as_ref().ok())
    }

    /// The tls-auto CA key in the Juju secret, even when the rest of its content is
    /// unusable.
    pub fn ca_key(&self) -> Option<&Secret> {
        match &self.juju {
            Some((_, Ok(shared))) => shared.tls_auto_ca_key.as_ref(),
            Some((_, Err(unusable))) => unusable.tls_auto_ca_key.as_ref(),
            None => None,
        }
    }

    /// The leader will have to make a new http secret: no value is known, and it can
    /// share one (the peer relation exists, or the secret does).
    pub fn needs_fresh(&self, leader: bool, has_peer: bool) -> bool {
        leader
            && self.usable().is_none()
            && self.legacy.is_none()
            && (has_peer || self.juju.is_some())
    }
}

/// A change to the charm's Juju secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretStep {
    /// `secret-add`, then the URI Juju gives into the peer app bag (and the value from
    /// before the move out of it): both committed with the hook, or neither.
    Add {
        /// The content.
        content: Shared,
        /// The peer relation.
        peer: RelationId,
        /// The peer app bag as read (to write only what changes).
        bag: crate::juju::Databag,
    },
    /// `secret-set`: a new revision with this content.
    Set {
        /// The secret.
        uri: SecretUri,
        /// The content.
        content: Shared,
    },
    /// `secret-remove --revision`: a revision no unit reads any more.
    RemoveRevision {
        /// The secret.
        uri: SecretUri,
        /// The revision.
        revision: u32,
    },
}

/// `N` bytes from the system's random source (ring's, already linked for TLS).
pub fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Entropy)?;
    Ok(bytes)
}

/// A new secret: 32 random bytes, base64 (like the Python charm).
pub fn generate() -> Result<HttpSecret, Error> {
    let text = base64::engine::general_purpose::STANDARD.encode(random::<32>()?);
    HttpSecret::new(&text).map_err(Error::Secret)
}

/// The http secret this unit renders, if it has one yet, and the leader's steps that
/// keep the Juju secret and the peer app bag as they should be.
///
/// A value in the peer app bag is what the units serve (only a charm that knows nothing
/// of the Juju secret writes it there: an earlier revision, or this one before the move,
/// or after a rollback), so it wins: the leader puts it into the Juju secret and deletes
/// it from the bag in one commit, and nobody restarts. Otherwise the Juju secret's value;
/// otherwise the Python charm's leader setting; otherwise the leader makes a fresh one.
pub fn share(
    p: &mut Builder,
    event: &Event,
    model: &ModelView,
    fresh: &Fresh,
) -> Result<Option<HttpSecret>, PlanError> {
    let shared = &model.shared;
    if let Some((uri, Err(why))) = &shared.juju {
        let next = if model.leader {
            "setting it again"
        } else {
            "waiting for the leader"
        };
        p.warn(format!(
            "the shared secret {uri} ({LABEL}) cannot be used ({why}); {next}"
        ));
    }
    let known = match (&shared.legacy, shared.usable()) {
        (Some((Legacy::PeerBag, v)), _) => Some((Some(Legacy::PeerBag), v.clone())),
        (_, Some(values)) => Some((None, values.http_secret.clone())),
        (Some((from, v)), None) => Some((Some(*from), v.clone())),
        (None, None) => None,
    };
    if !model.leader {
        return Ok(known.map(|(_, v)| v));
    }
    let peer = model.peer.as_ref();
    let (from, value) = match known {
        Some(k) => k,
        // Only where it can be shared: the peer relation or the secret exists.
        None if peer.is_none() && shared.juju.is_none() => return Ok(None),
        None => {
            let v = fresh
                .http_secret
                .clone()
                .ok_or(PlanError::NoEntropy("http secret"))?;
            p.info(format!(
                "generated the registry HTTP secret; sharing it in the Juju secret {LABEL}"
            ));
            (None, v)
        }
    };
    // The tls-auto CA key goes with it (moved from the peer bag, or made now).
    let (tls_auto_ca_key, ca_writes) = auto_tls::leader_share(p, model, fresh);
    let content = Shared {
        http_secret: value.clone(),
        tls_auto_ca_key,
    };
    match (&shared.juju, from) {
        (_, Some(Legacy::PeerBag)) | (None, Some(Legacy::LeaderSettings)) => {
            p.info(format!(
                "moving the registry HTTP secret from {} into the Juju secret {LABEL} (the same value: nothing restarts)",
                match from {
                    Some(Legacy::LeaderSettings) => "the Python charm's leader settings",
                    _ => "the peer relation",
                }
            ));
        }
        _ => {}
    }
    match &shared.juju {
        None => {
            let Some(peer) = peer else {
                // The URI would have nowhere to go; the next hook has the relation.
                return Ok(Some(value));
            };
            // The URI is known only once secret-add answers: the next hook reads the bag
            // back rather than trusting the record.
            if let Some(model) = &mut p.local.model {
                model.wrote(&peer.id, true, &crate::juju::Databag::new());
            }
            p.step(Step::Secret(SecretStep::Add {
                content,
                peer: peer.id.clone(),
                bag: peer.app.clone(),
            }));
            p.relation(&peer.id, true, &peer.app, &ca_writes);
            return Ok(Some(value));
        }
        Some((uri, current)) => {
            let set = current.as_ref().ok() != Some(&content);
            if set {
                p.step(Step::Secret(SecretStep::Set {
                    uri: uri.clone(),
                    content,
                }));
                // The new revision commits with the hook, or not at all: the next hook
                // reads the secret again rather than trusting what this one read.
                if let Some(model) = &mut p.local.model {
                    model.shared = None;
                }
            } else {
                remove_unread_revision(p, event, uri);
            }
            if let Some(peer) = peer {
                // Followers get no secret-changed for their own application's secret: a
                // new revision changes the peer app bag, which runs their peer hook.
                let generation = set.then(|| {
                    let before = PeerApp::shared_generation(&peer.app).ok().flatten();
                    before.unwrap_or(0).saturating_add(1)
                });
                let app = PeerApp {
                    shared_secret: Some(uri.clone()),
                    shared_generation: generation,
                    ..PeerApp::default()
                };
                let mut writes = app.to_databag();
                writes.extend(ca_writes);
                p.relation(&peer.id, true, &peer.app, &writes);
            }
        }
    }
    Ok(Some(value))
}

/// `secret-remove` names a revision of our secret that no unit reads any more: drop it.
fn remove_unread_revision(p: &mut Builder, event: &Event, uri: &SecretUri) {
    if let Event::Secret {
        kind: SecretKind::Remove,
        id,
        revision: Some(revision),
        ..
    } = event
    {
        let ours = id.parse::<SecretUri>().is_ok_and(|e| e.id() == uri.id());
        if ours {
            p.step(Step::Secret(SecretStep::RemoveRevision {
                uri: uri.clone(),
                revision: *revision,
            }));
        }
    }
}
