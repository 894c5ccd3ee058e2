//! `config APP` without values: every option with its default, source, type and value,
//! as `juju config` prints them.
use super::{j2y, map, opt, s};
use crate::charm::CharmMeta;
use crate::model::Application;
use serde_yaml::{Mapping, Value as Y};

/// The config of `a`. Descriptions are not kept in model.json, so they come from
/// `described`, the charm's files as read from its directory (None: left out).
pub fn config_view(a: &Application, described: Option<&CharmMeta>) -> Y {
    let mut settings = Mapping::new();
    for (k, o) in &a.charm.options {
        let description = described
            .and_then(|d| d.options.get(k))
            .map(|d| d.description.as_str())
            .unwrap_or("");
        let set = a.config.get(k);
        let value = set.or(o.default.as_ref());
        let source = if set.is_some() {
            "user"
        } else if o.default.is_some() {
            "default"
        } else {
            "unset"
        };
        settings.insert(
            s(k.as_str()),
            map([
                ("default", o.default.as_ref().map(j2y).unwrap_or(Y::Null)),
                ("description", opt(description)),
                ("source", s(source)),
                ("type", s(o.kind.as_str())),
                ("value", value.map(j2y).unwrap_or(Y::Null)),
            ]),
        );
    }
    map([
        ("application", s(a.name.as_str())),
        (
            "application-config",
            map([(
                "trust",
                map([
                    ("default", Y::Bool(false)),
                    (
                        "description",
                        s("Does this application have access to trusted credentials"),
                    ),
                    ("source", s("default")),
                    ("type", s("bool")),
                    ("value", Y::Bool(false)),
                ]),
            )]),
        ),
        ("charm", s(a.charm.name.as_str())),
        ("settings", Y::Mapping(settings)),
    ])
}
