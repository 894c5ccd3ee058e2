//! Switching a unit from the Python charm (`juju refresh --path`): its registry container
//! (named by `registry-name`, restart policy unless-stopped) still holds registry-port, so
//! it must go before our registry starts — otherwise ours cannot bind, and our readiness
//! probe would get the old container's answers and report Ready.
//!
//! Looked for on `install` and `upgrade-charm` only (the only hooks after which the
//! Python charm can have left it), so the frequent hooks run no `docker` at all.
//!
//! A container that cannot be removed (daemon error, permission) blocks the unit naming
//! the container and the manual fix, rather than failing the hook: Juju would retry a
//! failed hook forever, and `juju resolve` is the wrong fix for a machine problem. The
//! name is remembered, so every later hook (update-status included) looks again and the
//! unit proceeds on its own once an operator has removed the container.

use crate::juju::Event;
use crate::workload::legacy::{ContainerName, LegacyContainer, LegacyError};
use crate::workload::users::DATA_DIR;

use super::local::LocalState;

/// Whether this hook must look for the Python charm's container.
pub fn due(event: &Event, local: &LocalState) -> bool {
    matches!(event, Event::Install | Event::UpgradeCharm) || local.legacy_container.is_some()
}

/// Stops and removes the Python charm's container if there is one. Returns the blocked
/// status message when it is still there.
pub fn retire(
    legacy: &dyn LegacyContainer,
    registry_name: &str,
    local: &mut LocalState,
) -> Option<String> {
    let wanted = local
        .legacy_container
        .clone()
        .unwrap_or_else(|| registry_name.to_string());
    let Some(name) = ContainerName::parse(&wanted) else {
        // Docker refuses such a name, so no container can have it.
        tracing::debug!("registry-name {wanted:?} is no Docker container name: nothing to stop");
        local.legacy_container = None;
        return None;
    };
    match find_and_remove(legacy, &name) {
        Ok(()) => {
            local.legacy_container = None;
            None
        }
        Err(e) => {
            tracing::error!("the Python charm's container {name} is still there: {e}");
            local.legacy_container = Some(name.to_string());
            Some(blocked_message(&name, &e))
        }
    }
}

fn find_and_remove(legacy: &dyn LegacyContainer, name: &ContainerName) -> Result<(), LegacyError> {
    let Some(state) = legacy.find(name)? else {
        return Ok(());
    };
    legacy.remove(name)?;
    tracing::info!(
        "stopped and removed the Python charm's registry container {name} (it was {state}); \
         its image data in {DATA_DIR} is kept"
    );
    Ok(())
}

/// `Container <name> ... (<why, one line>); remove it with: docker rm -f <name>`.
fn blocked_message(name: &ContainerName, e: &LegacyError) -> String {
    let why: String = e
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let why = match why.char_indices().nth(160) {
        Some((cut, _)) => format!("{}...", &why[..cut]),
        None => why,
    };
    format!(
        "Docker container {name} from the previous charm holds the registry port and could \
         not be removed ({why}); remove it on the machine with: docker rm -f {name}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::legacy::{ContainerState, RecordingLegacy};

    #[test]
    fn only_install_upgrade_or_a_remembered_container_look() {
        let mut local = LocalState::default();
        assert!(due(&Event::Install, &local));
        assert!(due(&Event::UpgradeCharm, &local));
        for e in [Event::UpdateStatus, Event::ConfigChanged, Event::Start] {
            assert!(!due(&e, &local), "{e:?}");
        }
        local.legacy_container = Some("registry".into());
        assert!(due(&Event::UpdateStatus, &local));
    }

    #[test]
    fn a_running_container_is_removed_and_forgotten() {
        let legacy = RecordingLegacy::with_container("registry", ContainerState::Running);
        let mut local = LocalState::default();
        assert_eq!(retire(&legacy, "registry", &mut local), None);
        assert_eq!(legacy.calls(), ["find registry", "remove registry"]);
        assert_eq!(local.legacy_container, None);
    }

    #[test]
    fn a_failed_removal_blocks_and_is_remembered() {
        let legacy = RecordingLegacy::with_container("old-reg", ContainerState::Running);
        legacy.fail_remove("Error response from daemon:\n  permission denied");
        let mut local = LocalState::default();
        let msg = retire(&legacy, "old-reg", &mut local).unwrap();
        assert!(msg.contains("Docker container old-reg"), "{msg}");
        assert!(msg.contains("docker rm -f old-reg"), "{msg}");
        assert!(msg.contains("permission denied"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert_eq!(local.legacy_container.as_deref(), Some("old-reg"));
        // The remembered name is looked for even if registry-name changed since.
        legacy.heal();
        assert_eq!(retire(&legacy, "other", &mut local), None);
        assert_eq!(legacy.calls().last().unwrap(), "remove old-reg");
        assert_eq!(local.legacy_container, None);
    }

    #[test]
    fn a_name_docker_refuses_needs_no_docker_call() {
        let legacy = RecordingLegacy::new();
        let mut local = LocalState::default();
        assert_eq!(retire(&legacy, "--rm", &mut local), None);
        assert!(legacy.calls().is_empty());
    }

    #[test]
    fn a_long_reason_is_cut() {
        let legacy = RecordingLegacy::with_container("registry", ContainerState::Running);
        legacy.fail_find(&"x".repeat(1000));
        let msg = retire(&legacy, "registry", &mut LocalState::default()).unwrap();
        assert!(msg.len() < 400, "{msg}");
        assert!(msg.ends_with("docker rm -f registry"), "{msg}");
    }
}
