//! Secret hooks (docs/juju.md#secrets): `secret-changed` for a consumer when a revision
//! newer than the one it was last told about exists; for the managing unit (the owning
//! unit, or the owning application's leader) `secret-remove` for each obsolete revision
//! no consumer tracks, `secret-rotate` when rotation is due and `secret-expired` when a
//! revision's expiry passed.
use super::{Hook, HookKind, SecretRef};
use crate::model::{Model, Secret, Seen, Unit, SECRET_RETRY_SECS};

/// The first secret hook due for `unit`, if any.
pub fn secret_hook(model: &Model, unit: &Unit) -> Option<Hook> {
    let now = model.now();
    let name = unit.name.as_str();
    let hook = |kind, s: &Secret, label: Option<&String>, revision| {
        Some(Hook {
            secret: Some(Box::new(SecretRef {
                id: s.id.clone(),
                uri: s.uri(&model.uuid),
                label: label.cloned().unwrap_or_default(),
                revision,
            })),
            ..Hook::plain(kind)
        })
    };
    for s in model.secrets.values() {
        if let Some(c) = s.consumers.get(name) {
            let told = unit.seen.secret_revisions.get(&s.id).copied();
            let known = told.unwrap_or(c.revision).max(c.revision);
            if !s.owned_by(name) && model.granted(s, name) && s.latest > known {
                return hook(HookKind::SecretChanged, s, c.label.as_ref(), s.latest);
            }
        }
        if model.secret_manager(s).as_deref() != Some(name) {
            continue;
        }
        if let Some(r) = s
            .obsolete()
            .into_iter()
            .find(|r| !unit.seen.secret_removes.contains(&format!("{}/{r}", s.id)))
        {
            return hook(HookKind::SecretRemove, s, s.label.as_ref(), r);
        }
        if s.next_rotate.is_some_and(|t| t <= now) {
            return hook(HookKind::SecretRotate, s, s.label.as_ref(), s.latest);
        }
        if let Some((r, _)) = s.expiry_due.iter().find(|(_, t)| **t <= now) {
            return hook(HookKind::SecretExpired, s, s.label.as_ref(), *r);
        }
    }
    None
}

/// What the agent remembers after a secret-changed or secret-remove hook.
pub(super) fn mark_secret_seen(seen: &mut Seen, kind: HookKind, s: &SecretRef) {
    match kind {
        HookKind::SecretChanged => {
            seen.secret_revisions.insert(s.id.clone(), s.revision);
        }
        HookKind::SecretRemove => {
            seen.secret_removes
                .insert(format!("{}/{}", s.id, s.revision));
        }
        _ => {}
    }
}

/// After a committed secret-rotate or secret-expired hook, when the controller asks
/// again: a rotation that made a new revision schedules the next one by the policy,
/// one that did not (and an expiry still there) is retried a little later, as Juju does.
/// `latest_before` is the secret's latest revision before the hook's changes applied.
pub fn secret_hook_committed(model: &mut Model, hook: &Hook, latest_before: Option<u32>) {
    let Some(r) = &hook.secret else {
        return;
    };
    let now = model.now();
    let Some(s) = model.secrets.get_mut(&r.id) else {
        return;
    };
    match hook.kind {
        HookKind::SecretRotate => {
            let rotated = latest_before.is_some_and(|b| s.latest > b);
            let interval = s.rotate.and_then(|p| p.interval());
            s.next_rotate = match (rotated, interval) {
                (_, None) => None,
                (true, Some(i)) => Some(now + i),
                (false, Some(_)) => Some(now + SECRET_RETRY_SECS),
            };
        }
        HookKind::SecretExpired
            if s.revisions.contains_key(&r.revision) && s.expiry_due.contains_key(&r.revision) =>
        {
            s.expiry_due.insert(r.revision, now + SECRET_RETRY_SECS);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{secret_hook_committed, HookKind};
    use crate::fixture::{settle, two_apps};
    use crate::model::{
        apply_secret_changes, Model, RotatePolicy, SecretChange, SecretFields, SecretOwner,
        SECRET_RETRY_SECS,
    };
    use crate::resolver::next_hook;
    use std::collections::BTreeMap;

    /// tiny's application secret, rotating hourly, created `age` seconds ago and
    /// expiring `expires_in` seconds from now.
    fn with_secret(age: u64, expires_in: i64) -> Model {
        let mut m = two_apps();
        settle(&mut m);
        let now = m.now();
        let add = SecretChange::Add {
            id: "cjc0ljh7n7b0s5h4q6b0".into(),
            owner: SecretOwner::Application("tiny".into()),
            fields: SecretFields {
                label: Some("key".into()),
                rotate: Some(RotatePolicy::Hourly),
                expire: Some(now.saturating_add_signed(expires_in)),
                ..SecretFields::default()
            },
            content: BTreeMap::from([("abc".into(), "MQ==".into())]),
        };
        apply_secret_changes(&mut m.secrets, &[add], now - age);
        m
    }

    fn due(m: &Model, unit: &str) -> Option<(HookKind, String, u32)> {
        let h = next_hook(m, unit)?;
        let s = h.secret?;
        Some((h.kind, s.label, s.revision))
    }

    #[test]
    fn rotation_is_due_to_the_leader_once_its_interval_passed() {
        let leader = two_apps_leader();
        let m = with_secret(60, 7200);
        assert_eq!(due(&m, &leader), None, "not due an hour before");
        let mut m = with_secret(3601, 7200);
        assert_eq!(
            due(&m, &leader),
            Some((HookKind::SecretRotate, "key".into(), 1))
        );
        assert_eq!(due(&m, "tiny/1"), None, "only the leader runs owner hooks");
        // Not rotated (no new revision): asked again a little later, not at once.
        let hook = next_hook(&m, &leader).expect("a hook");
        secret_hook_committed(&mut m, &hook, Some(1));
        let next = m.secrets["cjc0ljh7n7b0s5h4q6b0"].next_rotate;
        assert_eq!(next, Some(m.now() + SECRET_RETRY_SECS));
        assert_eq!(due(&m, &leader), None);
    }

    #[test]
    fn an_expired_revision_is_told_to_the_leader() {
        let leader = two_apps_leader();
        let mut m = with_secret(60, -1);
        assert_eq!(
            due(&m, &leader),
            Some((HookKind::SecretExpired, "key".into(), 1))
        );
        let hook = next_hook(&m, &leader).expect("a hook");
        secret_hook_committed(&mut m, &hook, Some(1));
        assert_eq!(due(&m, &leader), None, "retried later, not at once");
    }

    fn two_apps_leader() -> String {
        let mut m = two_apps();
        settle(&mut m);
        m.applications["tiny"]
            .leader
            .clone()
            .expect("tiny has a leader")
    }
}
