//! What happens on the model clock rather than in a hook: leadership claims when a lease
//! lapses, and the agent's automatic retry of a failed hook with Juju's backoff
//! (docs/juju.md#leadership, docs/juju.md#commit). Pure functions over the model.
use super::Picker;
use crate::model::{unit_number, Life, Model};

/// Simulated time one hook or action takes.
pub const STEP_MS: u64 = 1_000;

/// How far one settle lets the clock run on while only timers are due: ten minutes of
/// model time, so a hook that keeps failing is retried a handful of times (5, 10, 20,
/// 40, 80, 160 s apart) and the command then returns with the unit still in error.
pub const HORIZON_MS: u64 = 10 * 60 * 1_000;

/// A leader that stops renewing keeps its lease until it lapses: Juju grants 60 s and
/// the holder renews every 30 s, so 30 to 60 s after it went.
pub const LEASE_LAPSE_MS: (u64, u64) = (30_000, 60_000);

/// Juju's retry backoff: 5 s, doubled after each failure with up to 3% jitter either
/// way, at most 5 minutes.
const RETRY_MIN_MS: u64 = 5_000;
const RETRY_MAX_MS: u64 = 300_000;

/// Something a timer did, for the model log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// `unit` claimed the leadership of its application.
    Leader {
        /// The new leader.
        unit: String,
    },
    /// `unit`'s agent starts its failed hook again.
    Retry {
        /// The unit.
        unit: String,
        /// The hook's name.
        hook: String,
        /// How many times it has failed so far.
        failures: u32,
    },
}

/// The delay before the agent retries a hook that has failed `failures` times in a row.
pub fn retry_delay_ms(failures: u32, pick: &Picker) -> u64 {
    if failures <= 1 {
        return RETRY_MIN_MS;
    }
    let doubled = RETRY_MIN_MS.saturating_mul(1u64 << (failures - 1).min(16));
    let jitter = doubled * 3 / 100;
    pick.between(doubled - jitter, doubled + jitter)
        .min(RETRY_MAX_MS)
}

/// Each application whose leader is dying (or gone) loses it: the unit gives leadership
/// up as its agent notices, but the lease it held lapses only later, so until then the
/// application has no leader.
fn resign_dying_leaders(m: &mut Model, pick: &Picker) {
    let clock = m.clock_ms;
    let dying: Vec<String> = m
        .applications
        .values()
        .filter(|a| {
            a.leader
                .as_ref()
                .is_some_and(|l| m.units.get(l).is_none_or(|u| u.life != Life::Alive))
        })
        .map(|a| a.name.clone())
        .collect();
    for app in dying {
        if let Some(a) = m.applications.get_mut(&app) {
            a.leader = None;
            let (lo, hi) = LEASE_LAPSE_MS;
            a.lease_until_ms = Some(clock + pick.between(lo, hi));
        }
    }
}

/// Apply what is due at the model's clock: dying leaders resign, schedule the retry of
/// each new hook error, start the retries that are due, and let a live unit of each
/// leaderless application whose lease has lapsed claim the leadership (the seed says
/// which).
pub fn fire_due(m: &mut Model, pick: &Picker) -> Vec<Fired> {
    resign_dying_leaders(m, pick);
    let clock = m.clock_ms;
    let retry = m.config.automatically_retry_hooks;
    let mut fired = Vec::new();
    for u in m.units.values_mut() {
        let failures = u.failures;
        let Some(err) = u.error.as_mut() else {
            continue;
        };
        if !retry {
            err.retry_at_ms = None;
            continue;
        }
        let at = *err
            .retry_at_ms
            .get_or_insert_with(|| clock + retry_delay_ms(failures, pick));
        if at <= clock {
            fired.push(Fired::Retry {
                unit: u.name.clone(),
                hook: err.hook.name(),
                failures,
            });
            u.retry = Some(err.hook.clone());
            u.error = None;
        }
    }
    let apps: Vec<String> = m.applications.keys().cloned().collect();
    for app in apps {
        let Some(a) = m.applications.get(&app) else {
            continue;
        };
        if a.leader.is_some() || a.lease_until_ms.is_some_and(|t| t > clock) {
            continue;
        }
        let mut alive: Vec<String> = m
            .units
            .values()
            .filter(|u| u.app == app && u.life == Life::Alive)
            .map(|u| u.name.clone())
            .collect();
        alive.sort_by_key(|n| unit_number(n));
        let Some(unit) = alive.get(pick.index(alive.len())).cloned() else {
            continue;
        };
        if let Some(a) = m.applications.get_mut(&app) {
            a.leader = Some(unit.clone());
            a.lease_until_ms = None;
        }
        fired.push(Fired::Leader { unit });
    }
    fired
}

/// The next clock time at which a timer is due (a retry, or a lease lapse an alive
/// unit can claim after), if any.
pub fn next_due(m: &Model) -> Option<u64> {
    let retries = m
        .units
        .values()
        .filter(|_| m.config.automatically_retry_hooks)
        .filter_map(|u| u.error.as_ref().and_then(|e| e.retry_at_ms));
    let leases = m.applications.values().filter_map(|a| {
        let claimant = m
            .units
            .values()
            .any(|u| u.app == a.name && u.life == Life::Alive);
        match (&a.leader, a.lease_until_ms) {
            (None, until) if claimant => Some(until.unwrap_or(m.clock_ms)),
            _ => None,
        }
    });
    retries.chain(leases).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::two_apps;
    use crate::model::HookError;
    use crate::resolver::{Hook, HookKind};
    use crate::sched::Seed;

    #[test]
    fn retries_back_off_from_five_seconds_to_five_minutes_with_small_jitter() {
        let ordered = Picker::new(Seed::Ordered);
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay_ms(n, &ordered)).collect();
        assert_eq!(
            delays,
            [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]
        );
        let seeded = Picker::new(Seed::Fixed(3));
        for _ in 0..50 {
            let d = retry_delay_ms(3, &seeded);
            assert!((19_400..=20_600).contains(&d), "{d}");
        }
    }

    #[test]
    fn a_failed_hook_is_retried_when_its_time_comes_unless_retries_are_off() {
        let pick = Picker::new(Seed::Ordered);
        let mut m = two_apps();
        let fail = |m: &mut Model| {
            let u = m.units.get_mut("tiny/1").unwrap();
            u.failures = 2;
            u.error = Some(HookError {
                hook: Hook::plain(HookKind::Install),
                message: "hook failed: \"install\"".into(),
                retry_at_ms: None,
            });
        };
        fail(&mut m);
        fire_due(&mut m, &pick);
        assert_eq!(next_due(&m), Some(10_000), "second failure: 10 s later");
        m.clock_ms = 9_999;
        fire_due(&mut m, &pick);
        assert!(m.units["tiny/1"].error.is_some(), "not due yet");
        m.clock_ms = 10_000;
        let fired = fire_due(&mut m, &pick);
        assert_eq!(
            fired,
            [Fired::Retry {
                unit: "tiny/1".into(),
                hook: "install".into(),
                failures: 2
            }]
        );
        assert_eq!(
            m.units["tiny/1"].retry,
            Some(Hook::plain(HookKind::Install))
        );
        let mut off = two_apps();
        off.config.automatically_retry_hooks = false;
        fail(&mut off);
        off.clock_ms = 1_000_000;
        assert!(fire_due(&mut off, &pick).is_empty());
        assert_eq!(next_due(&off), None);
        assert!(off.units["tiny/1"].error.is_some());
    }

    #[test]
    fn a_dying_leader_leaves_the_app_leaderless_until_its_lease_lapses() {
        let pick = Picker::new(Seed::Ordered);
        let mut m = two_apps();
        m.clock_ms = 7_000;
        m.units.get_mut("tiny/0").unwrap().life = Life::Dying;
        assert!(
            fire_due(&mut m, &pick).is_empty(),
            "nobody claims a held lease"
        );
        assert_eq!(m.applications["tiny"].leader, None);
        assert_eq!(next_due(&m), Some(7_000 + 45_000));
        m.clock_ms = 51_999;
        assert!(fire_due(&mut m, &pick).is_empty(), "lease still held");
        m.clock_ms = 52_000;
        assert_eq!(
            fire_due(&mut m, &pick),
            [Fired::Leader {
                unit: "tiny/1".into()
            }]
        );
        assert_eq!(m.applications["tiny"].leader.as_deref(), Some("tiny/1"));
    }

    #[test]
    fn the_seed_says_which_unit_claims_a_free_leadership() {
        let winners: std::collections::BTreeSet<String> = (0..20)
            .map(|seed| {
                let mut m = two_apps();
                m.applications.get_mut("tiny").unwrap().leader = None;
                fire_due(&mut m, &Picker::new(Seed::Fixed(seed)));
                m.applications["tiny"].leader.clone().unwrap()
            })
            .collect();
        assert_eq!(
            winners.len(),
            2,
            "both units win under some seed: {winners:?}"
        );
    }
}
