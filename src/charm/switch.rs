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

use crate::juju::{Event, Status};
use crate::workload::legacy::{ContainerName, LegacyContainer};
use crate::workload::users::DATA_DIR;

use super::builder::Builder;
use super::local::LocalState;
use super::notes::LogLine;
use super::steps::Step;
pub use super::view::Legacy;

/// Whether this hook must look for the Python charm's container.
pub fn due(event: &Event, local: &LocalState) -> bool {
    matches!(event, Event::Install | Event::UpgradeCharm) || local.legacy_container.is_some()
}

/// Looks for the container (a `docker` call) when this hook must.
pub fn observe(
    event: &Event,
    legacy: &dyn LegacyContainer,
    registry_name: &str,
    local: &LocalState,
) -> Legacy {
    if !due(event, local) {
        return Legacy::NotDue;
    }
    // A remembered name is looked for even if registry-name changed since.
    let wanted = local
        .legacy_container
        .clone()
        .unwrap_or_else(|| registry_name.to_string());
    let Some(name) = ContainerName::parse(&wanted) else {
        return Legacy::Unnamable(wanted);
    };
    match legacy.find(&name) {
        Ok(None) => Legacy::Absent(name),
        Ok(Some(state)) => Legacy::Present(name, state),
        Err(e) => Legacy::Unknown(name, e.to_string()),
    }
}

/// Whether the rest of the plan may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Going {
    /// Nothing in the way.
    On,
    /// The plan ends here (blocked, or removal first and a new read after it).
    Stop,
}

/// The steps for what the view saw: remove a container that is there (then read again),
/// block while Docker cannot say, forget a container that is gone.
pub fn plan(p: &mut Builder, seen: &Legacy) -> Going {
    match seen {
        Legacy::NotDue => Going::On,
        Legacy::Unnamable(wanted) => {
            p.debug(format!(
                "registry-name {wanted:?} is no Docker container name: nothing to stop"
            ));
            p.local.legacy_container = None;
            Going::On
        }
        Legacy::Absent(_) => {
            p.local.legacy_container = None;
            Going::On
        }
        Legacy::Present(name, state) => {
            // If the removal fails, applying the step remembers the name (see Step).
            p.local.legacy_container = None;
            // Its config.yml and TLS files are still in place: what they say is looked at
            // before this charm replaces them (tls_source::adopt, mtls).
            p.local.python_files = true;
            p.step(Step::RetireLegacy(name.clone()));
            p.log(LogLine::info(format!(
                "stopped and removed the Python charm's registry container {name} (it was \
                 {state}); its image data in {DATA_DIR} is kept"
            )));
            p.read_again();
            Going::Stop
        }
        Legacy::Unknown(name, why) => {
            p.log(LogLine::error(format!(
                "the Python charm's container {name} is still there: {why}"
            )));
            p.local.legacy_container = Some(name.to_string());
            p.status(blocked(name, why));
            Going::Stop
        }
    }
}

/// `Docker container <name> ... (<why, one line>); remove it with: docker rm -f <name>`.
pub fn blocked(name: &ContainerName, why: &str) -> Status {
    let why: String = why.split_whitespace().collect::<Vec<_>>().join(" ");
    let why = match why.char_indices().nth(160) {
        Some((cut, _)) => format!("{}...", &why[..cut]),
        None => why,
    };
    Status::blocked(format!(
        "Docker container {name} from the previous charm holds the registry port and could \
         not be removed ({why}); remove it on the machine with: docker rm -f {name}"
    ))
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
    fn observing_asks_docker_once_and_only_when_due() {
        let legacy = RecordingLegacy::with_container("registry", ContainerState::Running);
        let local = LocalState::default();
        assert_eq!(
            observe(&Event::UpdateStatus, &legacy, "registry", &local),
            Legacy::NotDue
        );
        assert!(legacy.calls().is_empty());
        let seen = observe(&Event::Install, &legacy, "registry", &local);
        assert!(matches!(seen, Legacy::Present(_, ContainerState::Running)));
        assert_eq!(legacy.calls(), ["find registry"]);
        assert_eq!(
            observe(&Event::Install, &legacy, "--rm", &local),
            Legacy::Unnamable("--rm".into())
        );
        assert_eq!(legacy.calls().len(), 1, "no docker call for a refused name");
    }

    #[test]
    fn a_remembered_name_is_looked_for_even_after_registry_name_changed() {
        let legacy = RecordingLegacy::with_container("old-reg", ContainerState::Exited);
        let local = LocalState {
            legacy_container: Some("old-reg".into()),
            ..LocalState::default()
        };
        let seen = observe(&Event::UpdateStatus, &legacy, "other", &local);
        assert!(matches!(seen, Legacy::Present(n, _) if n.as_str() == "old-reg"));
    }

    #[test]
    fn the_blocked_message_is_one_short_line_with_the_fix() {
        let name = ContainerName::parse("old-reg").unwrap();
        let msg = blocked(&name, "Error response from daemon:\n  permission denied").message;
        assert!(msg.contains("Docker container old-reg"), "{msg}");
        assert!(msg.contains("(Error response from daemon: permission denied)"));
        assert!(msg.ends_with("docker rm -f old-reg"), "{msg}");
        let long = blocked(&name, &"x".repeat(1000)).message;
        assert!(long.len() < 400 && !long.contains('\n'), "{long}");
    }
}
