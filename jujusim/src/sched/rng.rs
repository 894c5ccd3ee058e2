//! The seed of a run and the picks it makes: splitmix64 (a few lines, reproducible on
//! every platform) seeded from the operator's `JUJUSIM_SEED`/`--seed`, or freshly from
//! the kernel, or `ordered` for the fixed order that needs no seed at all.
use std::cell::Cell;
use std::io::Read;

/// How a command schedules: a seed, or the fixed order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seed {
    /// Round-robin over the units in name order, the first choice everywhere else.
    Ordered,
    /// Every choice drawn from splitmix64 seeded with this number.
    Fixed(u64),
}

/// A seed that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?} for {source_name}: expected a number or \"ordered\"")]
pub struct SeedError {
    /// The value as given.
    pub value: String,
    /// Where it came from (`--seed`, `JUJUSIM_SEED`).
    pub source_name: &'static str,
}

impl Seed {
    /// `ordered` or a decimal number; `from` names where the text came from.
    pub fn parse(text: &str, from: &'static str) -> Result<Seed, SeedError> {
        match text.trim() {
            "ordered" => Ok(Seed::Ordered),
            t => t.parse().map(Seed::Fixed).map_err(|_| SeedError {
                value: text.to_string(),
                source_name: from,
            }),
        }
    }

    /// A new seed from the kernel's random pool (the clock and pid if that is
    /// unreadable), kept below 10^9 so it is easy to type back.
    pub fn fresh() -> Seed {
        let mut bytes = [0u8; 8];
        let from_kernel = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .is_ok();
        let raw = if from_kernel {
            u64::from_le_bytes(bytes)
        } else {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            splitmix(nanos ^ u64::from(std::process::id()))
        };
        Seed::Fixed(raw % 1_000_000_000)
    }

    /// How the seed reads after `JUJUSIM_SEED=`.
    pub fn text(&self) -> String {
        match self {
            Seed::Ordered => "ordered".into(),
            Seed::Fixed(n) => n.to_string(),
        }
    }

    /// The line a command prints once, on stderr, before its first hook.
    pub fn banner(&self) -> String {
        let t = self.text();
        format!("jujusim: seed {t} (JUJUSIM_SEED={t} to repeat)")
    }
}

/// One splitmix64 step on `x` (Steele, Lea and Flood's finaliser).
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Draws the choices of one command from its seed. Shared by reference through the
/// engine, so the state is a `Cell`.
#[derive(Debug)]
pub struct Picker {
    seed: Seed,
    state: Cell<u64>,
    /// Ordered mode: the unit that ran last (round-robin resumes after it).
    last: std::cell::RefCell<Option<String>>,
}

impl Picker {
    /// A picker at the start of `seed`'s sequence.
    pub fn new(seed: Seed) -> Picker {
        let state = match seed {
            Seed::Ordered => 0,
            Seed::Fixed(n) => n,
        };
        Picker {
            seed,
            state: Cell::new(state),
            last: std::cell::RefCell::new(None),
        }
    }

    /// The seed this picker draws from.
    pub fn seed(&self) -> Seed {
        self.seed
    }

    fn next(&self) -> u64 {
        let s = self.state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.state.set(s);
        splitmix(s.wrapping_sub(0x9e37_79b9_7f4a_7c15))
    }

    /// An index below `n` (0 when `n` is 0); ordered: always 0.
    pub fn index(&self, n: usize) -> usize {
        match self.seed {
            _ if n <= 1 => 0,
            Seed::Ordered => 0,
            Seed::Fixed(_) => (self.next() % n as u64) as usize,
        }
    }

    /// A value in `lo..=hi`; ordered: the midpoint (the expected value).
    pub fn between(&self, lo: u64, hi: u64) -> u64 {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        match self.seed {
            Seed::Ordered => lo + (hi - lo) / 2,
            Seed::Fixed(_) => lo + self.next() % (hi - lo + 1),
        }
    }

    /// Which of the `runnable` units (sorted names) runs next: drawn from the seed, or in
    /// ordered mode the first one after the unit that ran last (round-robin by name).
    pub fn unit<'a>(&self, runnable: &'a [String]) -> Option<&'a String> {
        let chosen = match self.seed {
            Seed::Fixed(_) => runnable.get(self.index(runnable.len())),
            Seed::Ordered => {
                let last = self.last.borrow();
                runnable
                    .iter()
                    .find(|u| last.as_ref().is_none_or(|l| *u > l))
                    .or_else(|| runnable.first())
            }
        }?;
        *self.last.borrow_mut() = Some(chosen.clone());
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn seeds_parse_and_print_the_way_to_repeat_them() {
        assert_eq!(Seed::parse("1234", "--seed").ok(), Some(Seed::Fixed(1234)));
        assert_eq!(Seed::parse("ordered", "--seed").ok(), Some(Seed::Ordered));
        let err = Seed::parse("12x", "JUJUSIM_SEED").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value \"12x\" for JUJUSIM_SEED: expected a number or \"ordered\""
        );
        assert_eq!(
            Seed::Fixed(1234).banner(),
            "jujusim: seed 1234 (JUJUSIM_SEED=1234 to repeat)"
        );
        assert!(matches!(Seed::fresh(), Seed::Fixed(n) if n < 1_000_000_000));
    }

    #[test]
    fn one_seed_draws_the_same_sequence_and_another_seed_a_different_one() {
        let draw = |seed| {
            let p = Picker::new(Seed::Fixed(seed));
            (0..32).map(|_| p.index(1000)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        // Every index is reachable: a picker that always answered 0 would fail here.
        let p = Picker::new(Seed::Fixed(1));
        let mut seen = [false; 3];
        for _ in 0..100 {
            seen[p.index(3)] = true;
        }
        assert_eq!(seen, [true; 3]);
        let b = p.between(30, 60);
        assert!((30..=60).contains(&b));
    }

    #[test]
    fn ordered_goes_round_robin_and_takes_first_choices_and_midpoints() {
        let p = Picker::new(Seed::Ordered);
        let all = names(&["a/0", "a/1", "b/0"]);
        let picks: Vec<String> = (0..4).filter_map(|_| p.unit(&all).cloned()).collect();
        assert_eq!(picks, names(&["a/0", "a/1", "b/0", "a/0"]));
        // a/1 is idle now: after a/0 comes b/0.
        assert_eq!(p.unit(&names(&["a/0", "b/0"])), Some(&"b/0".to_string()));
        assert_eq!(p.index(5), 0);
        assert_eq!(p.between(30, 60), 45);
    }
}
