//! Relations: integrate and remove-relation.
use super::subordinate::settle_subordinates;
use super::OpError;
use crate::charm::Role;
use crate::model::{Life, Model, ModelDir, RelEndpoint, Relation};
use crate::resolver::roles_match;
use crate::suggest::Similar;

/// `APP[:ENDPOINT]`.
fn split_ep(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((a, e)) => (a, Some(e)),
        None => (s, None),
    }
}

/// `integrate A[:ep] B[:ep]`: returns the new relation id.
pub fn integrate(dir: &ModelDir, a: &str, b: &str) -> Result<u32, OpError> {
    dir.update(|m| -> Result<u32, OpError> {
        let (x, y) = pick_pair(m, a, b)?;
        let exists = m.relations.values().any(|r| {
            r.life == Life::Alive
                && r.endpoints.len() == 2
                && r.endpoints.contains(&x)
                && r.endpoints.contains(&y)
        });
        if exists {
            return Err(OpError::RelationExists(format!(
                "{}:{} {}:{}",
                x.app, x.name, y.app, y.name
            )));
        }
        let container = container_scoped(m, &x) || container_scoped(m, &y);
        if container && !m.is_subordinate(&x.app) && !m.is_subordinate(&y.app) {
            return Err(OpError::ContainerWithoutSubordinate {
                a: format!("{}:{}", x.app, x.name),
                b: format!("{}:{}", y.app, y.name),
            });
        }
        let id = m.add_relation_scoped(vec![x, y], container);
        settle_subordinates(m, dir)?;
        Ok(id)
    })
}

/// Whether `e`'s endpoint is declared `scope: container`.
fn container_scoped(m: &Model, e: &RelEndpoint) -> bool {
    m.applications
        .get(&e.app)
        .and_then(|a| a.charm.endpoint(&e.name))
        .is_some_and(|meta| meta.container_scope)
}

/// The one provides/requires pair of endpoints `a` and `b` (`APP[:ENDPOINT]`) name that
/// share an interface; an error listing what each side offers, or the candidates.
fn pick_pair(m: &Model, a: &str, b: &str) -> Result<(RelEndpoint, RelEndpoint), OpError> {
    let (la, lb) = (endpoints(m, a)?, endpoints(m, b)?);
    let mut pairs = Vec::new();
    for x in &la {
        for y in &lb {
            if x.interface == y.interface && roles_match(x.role, y.role) {
                pairs.push((x.clone(), y.clone()));
            }
        }
    }
    // Juju considers the implicit juju-info endpoint only when nothing else fits.
    if pairs.len() > 1 {
        let explicit: Vec<_> = pairs
            .iter()
            .filter(|(x, y)| !implicit(m, x) && !implicit(m, y))
            .cloned()
            .collect();
        if !explicit.is_empty() {
            pairs = explicit;
        }
    }
    match pairs.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(OpError::NoMatch {
            a: a.into(),
            b: b.into(),
            a_offers: offers(&la),
            b_offers: offers(&lb),
        }),
        many => {
            let opts: Vec<String> = many
                .iter()
                .map(|(x, y)| format!("\"{}:{} {}:{}\"", x.app, x.name, y.app, y.name))
                .collect();
            Err(OpError::Ambiguous {
                a: a.into(),
                b: b.into(),
                candidates: opts.join("; "),
            })
        }
    }
}

/// Whether `e` is the implicit `juju-info` endpoint of its charm.
fn implicit(m: &Model, e: &RelEndpoint) -> bool {
    m.applications
        .get(&e.app)
        .and_then(|a| a.charm.endpoint(&e.name))
        .is_some_and(|meta| meta.implicit)
}

/// The non-peer endpoints `spec` (`APP[:ENDPOINT]`) names.
fn endpoints(m: &Model, spec: &str) -> Result<Vec<RelEndpoint>, OpError> {
    let (app, ep) = split_ep(spec);
    let ap = m
        .applications
        .get(app)
        .ok_or_else(|| OpError::AppNotFound(app.into()))?;
    let relatable = || ap.charm.endpoints.iter().filter(|e| e.role != Role::Peer);
    let eps: Vec<RelEndpoint> = relatable()
        .filter(|e| ep.is_none_or(|n| n == e.name))
        .map(|e| RelEndpoint {
            app: app.to_string(),
            name: e.name.clone(),
            interface: e.interface.clone(),
            role: e.role,
        })
        .collect();
    match ep {
        Some(n) if eps.is_empty() => Err(OpError::NoEndpoint {
            app: app.into(),
            endpoint: n.into(),
            similar: Similar::to(n, relatable().map(|e| e.name.as_str())),
        }),
        _ => Ok(eps),
    }
}

/// `app:ep (provides iface), ...`.
fn offers(l: &[RelEndpoint]) -> String {
    l.iter()
        .map(|e| {
            format!(
                "{}:{} ({} {})",
                e.app,
                e.name,
                role_word(e.role),
                e.interface
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn role_word(r: Role) -> &'static str {
    match r {
        Role::Provider => "provides",
        Role::Requirer => "requires",
        Role::Peer => "peers",
    }
}

/// `remove-relation A[:ep] B[:ep]` or `remove-relation ID`.
pub fn remove_relation(dir: &ModelDir, a: &str, b: Option<&str>) -> Result<u32, OpError> {
    dir.update(|m| -> Result<u32, OpError> {
        let matches = |r: &Relation, spec: &str| {
            let (app, ep) = split_ep(spec);
            r.endpoints
                .iter()
                .any(|e| e.app == app && ep.is_none_or(|n| n == e.name))
        };
        let found: Vec<u32> = m
            .relations
            .values()
            .filter(|r| r.life == Life::Alive && !r.is_peer())
            .filter(|r| match b {
                None => a.parse::<u32>().ok() == Some(r.id),
                Some(b) => matches(r, a) && matches(r, b),
            })
            .map(|r| r.id)
            .collect();
        let id = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(OpError::RelationNotFound(format!(
                    "{a}{}",
                    b.map(|b| format!(" {b}")).unwrap_or_default()
                )))
            }
            _ => {
                return Err(OpError::AmbiguousRemoval(format!(
                    "{a} {}",
                    b.unwrap_or("")
                )))
            }
        };
        if let Some(r) = m.relations.get_mut(&id) {
            r.life = Life::Dying;
            r.scope.clear();
        }
        settle_subordinates(m, dir)?;
        Ok(id)
    })
}
