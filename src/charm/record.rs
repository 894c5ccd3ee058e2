//! The model as the unit last read it and wrote to it, kept between hooks in its
//! [`LocalState`](super::local::LocalState): each hook asks Juju only what its event
//! announces may have changed ([`reads`]) and takes the rest from this record, so a hook's
//! cost does not grow with the number of clients (each question is a process and a round
//! trip to the unit agent). The rules are in docs/juju.md#what-each-hook-announces.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::juju::{
    Databag, Event, PortRange, RelationId, RelationKind, SecretContent, SecretUri, UnitName,
};

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
    /// grafana-agent subordinate (interface `cos_agent`).
    pub const COS_AGENT: &str = "cos-agent";
    /// Every endpoint, in the order the model is read.
    pub const ALL: [&str; 6] = [
        PEER,
        WEBSITE,
        DOCKER_REGISTRY,
        CERT_PROVIDER,
        NRPE,
        COS_AGENT,
    ];
}

/// One relation as seen from this unit: our own bag and the remote side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationView {
    /// `endpoint:id`.
    pub id: RelationId,
    /// Our unit bag: as read, with this charm's writes since (used to write only what
    /// changed; left empty for the peer relation, where this charm writes no unit data).
    #[serde(default)]
    pub ours: Databag,
    /// Remote units in the relation (peers: the other units of our app), by unit number;
    /// left empty for runtimes, whose bags the charm never needs.
    #[serde(default)]
    pub units: Vec<(UnitName, Databag)>,
    /// The remote application's bag (for peers: our own app bag).
    #[serde(default)]
    pub app: Databag,
}

/// Writes this unit made that Juju may not have committed: it commits a hook's
/// `relation-set`, `open-port` and `close-port` only when the hook exits 0
/// (docs/juju.md#commit), after every save of the record. The next hook reads these back
/// before deciding from them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unconfirmed {
    /// Bags written: `(relation, app)`, `app` for our application bag (peer relation only).
    #[serde(default)]
    pub bags: BTreeSet<(RelationId, bool)>,
    /// Ports opened or closed.
    #[serde(default)]
    pub ports: bool,
}

impl Unconfirmed {
    /// True when every write is known to be committed.
    pub fn is_empty(&self) -> bool {
        self.bags.is_empty() && !self.ports
    }
}

/// The model as last read, with this unit's writes since.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The `config-get` answer.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The unit's ingress address on the `website` binding.
    pub address: Option<IpAddr>,
    /// The binding's bind addresses.
    pub bind_addresses: Vec<IpAddr>,
    /// `unit-get public-address`, asked only while cert-provider is related (certificate
    /// SANs).
    #[serde(default)]
    pub public_address: Option<String>,
    /// Relations by endpoint, each as [`RelationView`] keeps it.
    pub relations: BTreeMap<String, Vec<RelationView>>,
    /// Ports open for this unit.
    pub opened_ports: Vec<PortRange>,
    /// Writes not known to be committed yet.
    #[serde(default)]
    pub unconfirmed: Unconfirmed,
    /// The charm's Juju secret as last read, while its content is usable.
    #[serde(default)]
    pub shared: Option<SharedRead>,
}

/// The charm's Juju secret as this unit last read it (`secret-get`), taken instead of
/// asking again until Juju could have told the unit of a change: a hook that reads
/// everything (`secret-changed`, leadership, `upgrade-charm`, `install`, `start`), a peer
/// relation hook (the leader announces each revision it makes in the peer app bag), a
/// change of leadership or of the URI in that bag. Only committed content is kept: it is
/// read at the start of a hook, and dropped by a leader that writes a new revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedRead {
    /// The secret read.
    pub uri: SecretUri,
    /// Read as the leader (an owner reads the latest revision; a follower `--refresh`es).
    pub leader: bool,
    /// Its content (the values are redacted in `Debug`).
    pub content: SecretContent,
}

impl Recorded {
    /// The relation with this id, if recorded.
    pub fn relation(&self, id: &RelationId) -> Option<&RelationView> {
        self.relations
            .get(&id.endpoint)?
            .iter()
            .find(|r| r.id == *id)
    }

    /// True when a relation of `endpoint` is recorded.
    pub fn related(&self, endpoint: &str) -> bool {
        self.relations.get(endpoint).is_some_and(|v| !v.is_empty())
    }

    /// The relation with this id, to change it.
    pub fn relation_mut(&mut self, id: &RelationId) -> Option<&mut RelationView> {
        self.relations
            .get_mut(&id.endpoint)?
            .iter_mut()
            .find(|r| r.id == *id)
    }

    /// Records a relation read afresh (replacing what was recorded of it).
    pub fn insert(&mut self, view: RelationView) {
        let list = self.relations.entry(view.id.endpoint.clone()).or_default();
        match list.iter_mut().find(|r| r.id == view.id) {
            Some(r) => *r = view,
            None => list.push(view),
        }
    }

    /// Forgets a relation that is going away, and its unconfirmed writes.
    pub fn forget(&mut self, id: &RelationId) {
        if let Some(list) = self.relations.get_mut(&id.endpoint) {
            list.retain(|r| r.id != *id);
        }
        self.unconfirmed.bags.retain(|(r, _)| r != id);
    }

    /// Records a `relation-set` (`""` deletes a key), unconfirmed until the next hook
    /// reads it back. Our application bag is kept only for the peer relation, where it is
    /// also the bag every unit reads; elsewhere the record has no place for it.
    pub fn wrote(&mut self, id: &RelationId, app: bool, data: &Databag) {
        let peer = id.endpoint == endpoints::PEER;
        if app && !peer {
            return;
        }
        if let Some(view) = self.relation_mut(id) {
            apply(if app { &mut view.app } else { &mut view.ours }, data);
        }
        self.unconfirmed.bags.insert((id.clone(), app));
    }

    /// Records the ports after `open-port`/`close-port`, unconfirmed until the next hook
    /// reads them back.
    pub fn ports_set(&mut self, opened: Vec<PortRange>) {
        self.opened_ports = opened;
        self.unconfirmed.ports = true;
    }
}

/// A relation-set's effect on a bag.
fn apply(bag: &mut Databag, data: &Databag) {
    for (k, v) in data {
        if v.is_empty() {
            bag.remove(k);
        } else {
            bag.insert(k.clone(), v.clone());
        }
    }
}

/// What one hook asks Juju afresh; everything else comes from the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    /// Everything: there is no usable record, or after this event anything may differ.
    All,
    /// Only what the event announces may have changed (plus `is-leader`, every hook).
    Announced(Announced),
}

impl Reads {
    /// True when the shared secret is asked afresh.
    pub fn shared(&self) -> bool {
        match self {
            Reads::All => true,
            Reads::Announced(a) => a.shared,
        }
    }
}

/// The parts of the model an event announces may have changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announced {
    /// `config-get` and the addresses: `config-changed` runs when either changes.
    pub config: bool,
    /// `relation-ids` of this endpoint: a relation was created, lost a member (a dying
    /// one is no longer listed once the last has departed) or is going away.
    pub ids: Option<String>,
    /// The hook's relation: its remote side is read again (where the charm uses it).
    pub relation: Option<RelationId>,
    /// The relation going away (`relation-broken`): forgotten even while still listed.
    pub broken: Option<RelationId>,
    /// The shared secret (`secret-get`): a peer relation hook, which is how followers
    /// learn of a revision the leader made (they get no `secret-changed` for their own
    /// application's secret).
    pub shared: bool,
}

/// What a hook of `event` reads afresh, given whether a record exists. Leadership is not
/// here: `is-leader` is asked in every hook, because losing it runs no hook.
pub fn reads(event: &Event, recorded: bool) -> Reads {
    if !recorded {
        return Reads::All;
    }
    match event {
        Event::UpdateStatus => Reads::Announced(Announced::default()),
        Event::ConfigChanged => Reads::Announced(Announced {
            config: true,
            ..Announced::default()
        }),
        // An endpoint the charm has no use for (e.g. the implicit juju-info).
        Event::Relation { relation, .. }
            if !endpoints::ALL.contains(&relation.endpoint.as_str()) =>
        {
            Reads::Announced(Announced::default())
        }
        Event::Relation { kind, relation, .. } => {
            let broken = *kind == RelationKind::Broken;
            // A dying relation leaves `relation-ids` when its last member has departed.
            let ids = matches!(
                kind,
                RelationKind::Created | RelationKind::Departed | RelationKind::Broken
            );
            Reads::Announced(Announced {
                config: false,
                ids: ids.then(|| relation.endpoint.clone()),
                relation: (!broken).then(|| relation.clone()),
                broken: broken.then(|| relation.clone()),
                shared: relation.endpoint == endpoints::PEER,
            })
        }
        // install, start (a reboot), upgrade-charm, leadership gained, leader settings,
        // actions, storage, secrets, series upgrades: rare, and after some of them
        // (upgrade-charm) the record may come from another revision.
        _ => Reads::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::juju::AppName;

    fn rel(kind: RelationKind, id: &str) -> Event {
        Event::Relation {
            kind,
            relation: id.parse().unwrap(),
            remote_app: "containerd".parse::<AppName>().unwrap(),
            remote_unit: None,
            departing_unit: None,
        }
    }

    fn announced(config: bool, ids: Option<&str>, relation: Option<&str>) -> Reads {
        Reads::Announced(Announced {
            config,
            ids: ids.map(str::to_string),
            relation: relation.map(|r| r.parse().unwrap()),
            broken: None,
            shared: relation.is_some_and(|r| r.starts_with("peer:")),
        })
    }

    #[test]
    fn each_event_reads_what_it_announces() {
        use RelationKind::*;
        let table = [
            (Event::UpdateStatus, announced(false, None, None)),
            (Event::ConfigChanged, announced(true, None, None)),
            (
                rel(Created, "docker-registry:3"),
                announced(false, Some("docker-registry"), Some("docker-registry:3")),
            ),
            (
                rel(Joined, "website:1"),
                announced(false, None, Some("website:1")),
            ),
            (
                rel(Changed, "docker-registry:3"),
                announced(false, None, Some("docker-registry:3")),
            ),
            (
                rel(Changed, "peer:0"),
                announced(false, None, Some("peer:0")),
            ),
            (
                rel(Departed, "peer:0"),
                announced(false, Some("peer"), Some("peer:0")),
            ),
            (
                rel(Broken, "cert-provider:4"),
                Reads::Announced(Announced {
                    config: false,
                    ids: Some("cert-provider".into()),
                    relation: None,
                    broken: Some("cert-provider:4".parse().unwrap()),
                    shared: false,
                }),
            ),
            (rel(Changed, "juju-info:7"), announced(false, None, None)),
            (rel(Created, "juju-info:7"), announced(false, None, None)),
            (Event::Install, Reads::All),
            (Event::Start, Reads::All),
            (Event::UpgradeCharm, Reads::All),
            (Event::LeaderElected, Reads::All),
            (Event::LeaderSettingsChanged, Reads::All),
            (
                Event::Action {
                    name: "start".into(),
                    id: "1".into(),
                },
                Reads::All,
            ),
        ];
        for (event, want) in table {
            let peer =
                matches!(&event, Event::Relation { relation, .. } if relation.endpoint == "peer");
            assert_eq!(
                reads(&event, true).shared(),
                peer || want == Reads::All,
                "{event}: the shared secret is asked in peer hooks and full reads"
            );
            assert_eq!(reads(&event, true), want, "{event}");
            assert_eq!(reads(&event, false), Reads::All, "{event} without a record");
        }
    }

    fn recorded() -> Recorded {
        let mut r = Recorded::default();
        for id in ["peer:0", "docker-registry:3"] {
            r.insert(RelationView {
                id: id.parse().unwrap(),
                ours: Databag::new(),
                units: Vec::new(),
                app: Databag::new(),
            });
        }
        r
    }

    #[test]
    fn writes_are_recorded_unconfirmed() {
        let mut r = recorded();
        let client: RelationId = "docker-registry:3".parse().unwrap();
        let peer: RelationId = "peer:0".parse().unwrap();
        let data = Databag::from([("a".to_string(), "1".to_string())]);
        r.wrote(&client, false, &data);
        r.wrote(&peer, true, &data);
        assert_eq!(r.relation(&client).unwrap().ours, data);
        assert_eq!(r.relation(&peer).unwrap().app, data);
        assert!(r.relation(&peer).unwrap().ours.is_empty());
        assert_eq!(
            r.unconfirmed.bags,
            BTreeSet::from([(client.clone(), false), (peer, true)])
        );
        let delete = Databag::from([("a".to_string(), String::new())]);
        r.wrote(&client, false, &delete);
        assert!(r.relation(&client).unwrap().ours.is_empty());
        r.forget(&client);
        assert!(r.relation(&client).is_none());
        assert_eq!(
            r.unconfirmed.bags.len(),
            1,
            "its unconfirmed write goes too"
        );
    }

    #[test]
    fn an_app_write_off_the_peer_relation_leaves_the_remote_app_bag_alone() {
        let mut r = recorded();
        let client: RelationId = "docker-registry:3".parse().unwrap();
        let data = Databag::from([("a".to_string(), "1".to_string())]);
        r.wrote(&client, true, &data);
        assert!(r.relation(&client).unwrap().app.is_empty());
        assert!(r.unconfirmed.is_empty());
    }

    #[test]
    fn a_record_survives_its_own_json() {
        let mut r = recorded();
        r.config
            .insert("registry-port".into(), serde_json::json!(5000));
        r.address = Some("10.1.0.5".parse().unwrap());
        r.ports_set(vec!["5000/tcp".parse().unwrap()]);
        r.wrote(
            &"peer:0".parse().unwrap(),
            true,
            &Databag::from([("http-secret".to_string(), "s".to_string())]),
        );
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Recorded>(&text).unwrap(), r);
    }
}
