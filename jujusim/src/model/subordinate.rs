//! Subordinates (docs/juju.md#subordinates): a subordinate application has no machines
//! of its own; a container-scoped relation with a principal application gives each
//! principal unit one subordinate unit on the principal's machine, and the subordinate
//! unit goes when its principal does or when its last such relation does.
use super::{app_of, unit_number, Life, Model, Unit};

impl Model {
    /// The container `unit` lives in: its principal's name, or its own for a principal.
    pub fn container_of(&self, unit: &str) -> String {
        self.units
            .get(unit)
            .and_then(|u| u.principal.clone())
            .unwrap_or_else(|| unit.to_string())
    }

    /// Whether `app` is a subordinate application.
    pub fn is_subordinate(&self, app: &str) -> bool {
        self.applications
            .get(app)
            .is_some_and(|a| a.charm.subordinate)
    }

    /// (subordinate app, principal unit) pairs a live container-scoped relation asks
    /// for and that have no live subordinate unit yet, in relation then unit order.
    pub fn missing_subordinates(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for r in self.relations.values() {
            let Some((sub, principal)) = self.container_pair(r.id) else {
                continue;
            };
            for p in self.units_of(&principal) {
                let alive = self.units.get(&p).is_some_and(|u| u.life == Life::Alive);
                let pair = (sub.clone(), p.clone());
                if alive && self.subordinate_of(&sub, &p).is_none() && !out.contains(&pair) {
                    out.push(pair);
                }
            }
        }
        out
    }

    /// The live unit of `sub` whose principal is `principal`.
    pub fn subordinate_of(&self, sub: &str, principal: &str) -> Option<&Unit> {
        self.units.values().find(|u| {
            u.app == sub && u.principal.as_deref() == Some(principal) && u.life == Life::Alive
        })
    }

    /// Live subordinate units of `principal`, in name order.
    pub fn subordinates_of(&self, principal: &str) -> Vec<String> {
        let mut subs: Vec<String> = self
            .units
            .values()
            .filter(|u| u.principal.as_deref() == Some(principal))
            .map(|u| u.name.clone())
            .collect();
        subs.sort_by_key(|n| (app_of(n).to_string(), unit_number(n)));
        subs
    }

    /// For a live container-scoped relation between a subordinate and a principal
    /// application: (subordinate app, principal app).
    pub fn container_pair(&self, id: u32) -> Option<(String, String)> {
        let r = self.relations.get(&id)?;
        if !r.container || r.life != Life::Alive || r.is_peer() {
            return None;
        }
        let (a, b) = (&r.endpoints[0].app, &r.endpoints[1].app);
        match (self.is_subordinate(a), self.is_subordinate(b)) {
            (true, false) => Some((a.clone(), b.clone())),
            (false, true) => Some((b.clone(), a.clone())),
            _ => None,
        }
    }

    /// A new unit of subordinate `app` in `principal`'s container and on its machine.
    /// Like any new unit it enters its relations after its install (its container-scoped
    /// ones only with the principal's application: `relation_joins`) and does not lead
    /// until it claims leadership. None when there is no such app or principal.
    pub fn add_subordinate(&mut self, app: &str, principal: &str) -> Option<String> {
        let machine = self.units.get(principal)?.machine;
        let a = self.applications.get_mut(app)?;
        let name = format!("{app}/{}", a.next_unit);
        a.next_unit += 1;
        let mut unit = Unit::new(&name, app, machine, a.revision);
        unit.principal = Some(principal.to_string());
        self.units.insert(name.clone(), unit);
        Some(name)
    }

    /// Whether `unit` takes part in relation `id`: not a container-scoped relation of
    /// its subordinate application with another principal application than its own.
    pub fn relation_joins(&self, id: u32, unit: &str) -> bool {
        let Some(r) = self.relations.get(&id) else {
            return false;
        };
        let principal_app = self
            .units
            .get(unit)
            .and_then(|u| u.principal.as_deref())
            .map(app_of);
        match principal_app {
            Some(papp) if r.container => r.endpoints.iter().any(|e| e.app == papp),
            _ => true,
        }
    }

    /// Live subordinate units whose principal is going or gone, or that no live
    /// container-scoped relation ties to their principal's application any more.
    pub fn orphaned_subordinates(&self) -> Vec<String> {
        self.units
            .values()
            .filter(|u| u.life == Life::Alive)
            .filter_map(|u| Some((u, u.principal.as_deref()?)))
            .filter(|(u, p)| {
                let principal_alive = self.units.get(*p).is_some_and(|x| x.life == Life::Alive);
                let tied = self.relations.keys().any(|id| {
                    self.container_pair(*id)
                        .is_some_and(|(sub, papp)| sub == u.app && papp == app_of(p))
                });
                !principal_alive || !tied
            })
            .map(|(u, _)| u.name.clone())
            .collect()
    }
}
