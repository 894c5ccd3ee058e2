//! The registry's shared `http.secret`: one for all units (any unit behind a proxy may
//! have to resume an upload another one started, and the secret signs that state). The
//! leader makes it once from fresh entropy and shares it in the peer relation's app bag
//! (relation-set reads stdin; `leader-set` would put it in a process's argv).

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};

use crate::relations::peer::{HttpSecret, PeerApp};

use super::builder::{Builder, PlanError};
use super::model::ModelView;
use super::view::Fresh;
use super::Error;

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

/// The secret this unit renders, if it has one yet. The leader shares a new one (from
/// the view's fresh entropy) once the peer relation exists (from the hook after install),
/// and copies one known only from the Python charm's leader settings into the peer app
/// bag, once: after that no hook needs `leader-get`.
pub fn share(
    p: &mut Builder,
    model: &ModelView,
    fresh: &Fresh,
) -> Result<Option<HttpSecret>, PlanError> {
    let peer = model.peer.as_ref();
    let secret = match (&model.http_secret, model.leader, peer) {
        (Some(s), true, Some(peer)) if !peer.app.contains_key("http-secret") => {
            p.info("shared the registry HTTP secret in the peer relation");
            s.clone()
        }
        (Some(s), _, _) => return Ok(Some(s.clone())),
        (None, true, Some(_)) => {
            p.info("generated the shared registry HTTP secret");
            fresh
                .http_secret
                .clone()
                .ok_or(PlanError::NoEntropy("http secret"))?
        }
        (None, _, _) => return Ok(None),
    };
    if let Some(peer) = peer {
        let app = PeerApp {
            http_secret: Some(secret.clone()),
            ..PeerApp::default()
        };
        p.relation(&peer.id, true, &peer.app, &app.to_databag());
    }
    Ok(Some(secret))
}
