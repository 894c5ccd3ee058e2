//! Settling: run what each unit agent has due until none has anything. At every step
//! the engine's [`Picker`](crate::sched::Picker) chooses which runnable agent goes next
//! and, where Juju leaves the order open, which of its choices; each step runs against
//! the model as the previous one committed it and advances the model clock. With nothing
//! runnable the clock jumps to the next timer (a lapsed leadership lease, an automatic
//! hook retry) no further than [`HORIZON_MS`] past the start. A [`Budget`] bounds the
//! steps, so charms that keep answering each other fail with what they were doing.
use super::{cleanup, Engine, EngineError};
use crate::model::Model;
use crate::resolver::{next_ops, normalize, Op};
use crate::sched::{fire_due, next_due, Fired, HORIZON_MS};
use std::collections::{BTreeMap, VecDeque};

/// How many recent hooks a ping-pong report summarises.
const REMEMBERED: usize = 200;

/// The uniter's logger, as debug-log shows it.
const UNITER: &str = "juju.worker.uniter";
/// The leadership tracker's logger.
const LEADERSHIP: &str = "juju.worker.leadership";

impl Engine {
    /// Run what the unit agents have due, one operation per step, until none has
    /// anything (bounded); returns how many steps ran.
    pub fn settle(&self) -> Result<usize, EngineError> {
        let mut budget = Budget::new(self.hook_bound);
        let mut horizon = None;
        // The model after the last step's tick, when that step did it in its own commit.
        let mut ticked: Option<(Model, Vec<Fired>)> = None;
        loop {
            let (model, fired) = match ticked.take() {
                Some(t) => t,
                None => self
                    .dir
                    .update(|m| -> Result<(Model, Vec<Fired>), EngineError> {
                        let until = *horizon.get_or_insert(m.clock_ms + HORIZON_MS);
                        let fired = self.tick(m, until);
                        Ok((m.clone(), fired))
                    })?,
            };
            self.log_fired(&fired);
            let until = horizon.unwrap_or(model.clock_ms + HORIZON_MS);
            let runnable: Vec<(String, Vec<Op>)> = model
                .units
                .keys()
                .map(|u| (u.clone(), next_ops(&model, u)))
                .filter(|(_, ops)| !ops.is_empty())
                .collect();
            let names: Vec<String> = runnable.iter().map(|(u, _)| u.clone()).collect();
            let Some(unit) = self.picker.unit(&names).cloned() else {
                return Ok(budget.count);
            };
            let ops = runnable
                .into_iter()
                .find_map(|(u, ops)| (u == unit).then_some(ops))
                .unwrap_or_default();
            let Some(op) = ops.get(self.picker.index(ops.len())).cloned() else {
                return Ok(budget.count);
            };
            self.announce_seed();
            match op {
                Op::Hook(hook) => {
                    budget.spend(&unit, &hook.name(), hook.relation)?;
                    ticked = Some(self.run_hook_then(&unit, hook, |m| self.tick(m, until))?);
                }
                Op::Action(id) => {
                    budget.spend(&unit, &format!("action {id}"), None)?;
                    self.run_task(id)?;
                }
            }
        }
    }

    /// Between steps: clean up, fire the timers due, and when no agent has anything to
    /// run, move the clock to the next timer (within `until`) and fire again.
    fn tick(&self, m: &mut Model, until: u64) -> Vec<Fired> {
        let mut fired = Vec::new();
        loop {
            cleanup(m);
            fired.extend(fire_due(m, &self.picker));
            let names: Vec<String> = m.units.keys().cloned().collect();
            for u in &names {
                normalize(m, u);
            }
            if names.iter().any(|u| !next_ops(m, u).is_empty()) {
                return fired;
            }
            match next_due(m) {
                Some(t) if t > m.clock_ms && t <= until => m.clock_ms = t,
                _ => return fired,
            }
        }
    }

    /// Timers in the model log, in the words of the Juju workers that act on them.
    fn log_fired(&self, fired: &[Fired]) {
        for f in fired {
            match f {
                Fired::Leader { unit } => {
                    let app = crate::model::app_of(unit);
                    let line = format!("{unit} promoted to leadership of {app}");
                    self.dir.log(Some(unit), "INFO", LEADERSHIP, &line);
                }
                Fired::Retry {
                    unit,
                    hook,
                    failures,
                } => {
                    let line = format!(
                        "retrying {hook:?} hook after {failures} failure(s) (automatically-retry-hooks)"
                    );
                    self.dir.log(Some(unit), "INFO", UNITER, &line);
                }
            }
        }
    }
}

/// The settle bound: counts steps, remembers the last few, and refuses one more than
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

    /// Account for `unit` running `what` (a hook name, `action N`), or fail when that
    /// would pass the bound.
    fn spend(&mut self, unit: &str, what: &str, relation: Option<u32>) -> Result<(), EngineError> {
        self.count += 1;
        let rel = relation
            .map(|r| format!(" (relation {r})"))
            .unwrap_or_default();
        self.recent.push_back(format!("{unit} {what}{rel}"));
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

    #[test]
    fn the_hook_past_the_bound_fails_naming_what_kept_running() {
        let mut b = Budget::new(3);
        for _ in 0..3 {
            assert!(b.spend("ping/0", "ball-relation-changed", Some(4)).is_ok());
        }
        let err = b
            .spend("pong/0", "config-changed", None)
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
