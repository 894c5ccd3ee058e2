//! Options the charm accepts and ignores: an operator who set one (a pinned image, a
//! mirror, dockerd flags) hears once, per change, that it does nothing here and what
//! replaces it, instead of losing it without a word.

use crate::config::CharmConfig;

use super::builder::Builder;

/// Warns about each ignored option whose value changed since the unit last warned, and
/// remembers what it has warned about (a value set back to the default is forgotten, so
/// setting it again warns again).
pub fn warn_once(p: &mut Builder, config: &CharmConfig) {
    for option in &config.ignored {
        if p.local.ignored.get(option.option) != Some(&option.value_sha256) {
            p.warn(option.warning());
        }
    }
    p.local.ignored = config
        .ignored
        .iter()
        .map(|o| (o.option.to_string(), o.value_sha256.clone()))
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::fixtures::config;
    use crate::charm::local::LocalState;
    use crate::charm::view::Observed;
    use serde_json::json;

    fn warnings(local: LocalState, c: &CharmConfig) -> (Vec<String>, LocalState) {
        let mut p = Builder::new(local, &Observed::new());
        warn_once(&mut p, c);
        let plan = p.finish();
        let lines = plan.logs().iter().map(|l| l.message.clone()).collect();
        (lines, plan.local.unwrap_or_default())
    }

    #[test]
    fn one_warning_per_change_naming_the_replacement() {
        let pinned = config(json!({"registry-image": "registry:2.7", "docker-opts": "-D"}));
        let (first, local) = warnings(LocalState::default(), &pinned);
        assert_eq!(first.len(), 2, "{first:?}");
        assert!(first[0].starts_with("registry-image is set but ignored"));
        assert!(
            first[0].contains("apt-mark hold docker-registry"),
            "{first:?}"
        );
        assert!(first[1].starts_with("docker-opts is set but ignored"));
        // The same values: nothing again.
        let (again, local) = warnings(local, &pinned);
        assert!(again.is_empty(), "{again:?}");
        // One value changes: that one only.
        let moved = config(json!({"registry-image": "registry:2.8", "docker-opts": "-D"}));
        let (changed, local) = warnings(local, &moved);
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert!(changed[0].starts_with("registry-image"));
        // Back to the defaults: nothing said, nothing remembered.
        let (reset, local) = warnings(local, &config(json!({})));
        assert!(reset.is_empty() && local.ignored.is_empty());
    }

    #[test]
    fn values_are_never_quoted() {
        let c = config(json!({"http_proxy": "http://user:hunter2@proxy:3128"}));
        let (lines, local) = warnings(LocalState::default(), &c);
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains("hunter2"), "{lines:?}");
        assert!(lines[0].contains("registry-http-proxy"), "{lines:?}");
        let remembered = serde_json::to_string(&local).unwrap();
        assert!(!remembered.contains("hunter2"), "{remembered}");
    }
}
