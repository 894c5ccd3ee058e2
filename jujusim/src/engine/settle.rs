//! Settling: run the hook each unit has due until none has one. The order is fixed:
//! rounds over the units in name order, each unit running at most one hook per round
//! against the model as the previous hook committed it. A [`Budget`] bounds the hooks,
//! so charms that keep answering each other fail with what they were doing.
use super::{cleanup, Engine, EngineError};
use crate::model::Model;
use crate::resolver::{next_hook, normalize, Hook};
use std::collections::{BTreeMap, VecDeque};

/// How many recent hooks a ping-pong report summarises.
const REMEMBERED: usize = 200;

impl Engine {
    /// Run hooks round-robin across units until none is due (bounded); returns how many
    /// ran.
    pub fn settle(&self) -> Result<usize, EngineError> {
        let mut budget = Budget::new(self.hook_bound);
        loop {
            // One model read per round plus the one each hook's commit returns: parsing
            // model.json again for every idle unit dominated a debug build's settle.
            let mut model = self.dir.update(|m| -> Result<Model, EngineError> {
                cleanup(m);
                let names: Vec<String> = m.units.keys().cloned().collect();
                for u in &names {
                    normalize(m, u);
                }
                Ok(m.clone())
            })?;
            let units: Vec<String> = model.units.keys().cloned().collect();
            let mut progressed = false;
            for u in units {
                let Some(hook) = next_hook(&model, &u) else {
                    continue;
                };
                progressed = true;
                budget.spend(&u, &hook)?;
                model = self.run_hook(&u, hook)?;
            }
            if !progressed {
                return Ok(budget.count);
            }
        }
    }
}

/// The settle bound: counts hooks, remembers the last few, and refuses one more than
/// the bound with a summary of what kept running.
struct Budget {
    bound: usize,
    count: usize,
    recent: VecDeque<String>,
}

impl Budget {
    fn new(bound: usize) -> Budget {
        Budget {
            bound,
            count: 0,
            recent: VecDeque::new(),
        }
    }

    /// Account for `unit` running `hook`, or fail when that would pass the bound.
    fn spend(&mut self, unit: &str, hook: &Hook) -> Result<(), EngineError> {
        self.count += 1;
        let rel = hook
            .relation
            .map(|r| format!(" (relation {r})"))
            .unwrap_or_default();
        self.recent
            .push_back(format!("{unit} {}{rel}", hook.name()));
        if self.recent.len() > REMEMBERED {
            self.recent.pop_front();
        }
        if self.count > self.bound {
            return Err(EngineError::PingPong {
                count: self.count - 1,
                detail: self.summary(),
            });
        }
        Ok(())
    }

    /// The most frequent recent hooks, with the fix.
    fn summary(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.recent {
            *counts.entry(r.as_str()).or_default() += 1;
        }
        let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
        v.sort_by_key(|x| std::cmp::Reverse(x.1));
        let parts: Vec<String> = v.iter().take(6).map(|(k, n)| format!("{k} x{n}")).collect();
        format!(
            "{} (in the last {} hooks); the charms keep changing relation data in response to each other: make each write idempotent",
            parts.join(", "),
            self.recent.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Budget;
    use crate::error::chain;
    use crate::resolver::{Hook, HookKind};

    #[test]
    fn the_hook_past_the_bound_fails_naming_what_kept_running() {
        let mut b = Budget::new(3);
        let changed = Hook {
            relation: Some(4),
            endpoint: Some("ball".into()),
            ..Hook::plain(HookKind::RelationChanged)
        };
        for _ in 0..3 {
            assert!(b.spend("ping/0", &changed).is_ok());
        }
        let err = b
            .spend("pong/0", &Hook::plain(HookKind::ConfigChanged))
            .expect_err("the fourth hook is past the bound");
        assert_eq!(
            chain(&err),
            "charms ping-pong: 3 hooks ran without the model settling; still changing: \
             ping/0 ball-relation-changed (relation 4) x3, pong/0 config-changed x1 \
             (in the last 4 hooks); the charms keep changing relation data in response to \
             each other: make each write idempotent"
        );
    }
}
