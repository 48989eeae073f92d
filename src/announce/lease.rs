//! When leased addresses are renewed: a schedule of fixed phases.
//!
//! Every held address (key) is renewed once per `period`, always at the same
//! phase of the period: the phase is one of `slots` evenly spaced offsets,
//! picked by a hash of the key. So
//! - the time between two renewals of one key is at most `period` (when the
//!   caller wakes on time; a late caller renews at once and then goes back to
//!   the key's phase, at most `period` later);
//! - all keys due at one wake-up go out together in one batch, and there are
//!   at most `slots` wake-ups (batches) per period however many keys there
//!   are: 1000 VIPs with 10 slots are 10 batches of about 100;
//! - the keys are spread over the period instead of renewed all at once,
//!   so that listeners (zebra, BIRD, `ip monitor`, vrrpd's own event
//!   subscription) see a steady trickle of `RTM_NEWADDR`, not a burst of
//!   thousands that could overflow their socket buffers.
//!
//! The schedule holds no clock: the caller passes `now` and sleeps until
//! [`RenewSchedule::next_deadline`].

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use crate::core::time::Instant;

/// The default number of phases per period.
pub const DEFAULT_SLOTS: u32 = 10;

/// Renewal times of the held keys.
#[derive(Debug, Clone)]
pub struct RenewSchedule<K: Ord + Copy + Hash> {
    /// Time between two renewals of one key (`vip_lease_renew`).
    period: Duration,
    /// How many phases the period is cut into.
    slots: u32,
    /// Each held key and its next renewal.
    next: BTreeMap<K, Instant>,
    /// The same, ordered by time, for [`RenewSchedule::due`].
    queue: BTreeSet<(Instant, K)>,
}

impl<K: Ord + Copy + Hash> RenewSchedule<K> {
    /// An empty schedule renewing every `period` in `slots` phases (at
    /// least 1 of each: a zero period is read as 1 µs, zero slots as 1).
    pub fn new(period: Duration, slots: u32) -> Self {
        RenewSchedule {
            period: period.max(Duration::from_micros(1)),
            slots: slots.max(1),
            next: BTreeMap::new(),
            queue: BTreeSet::new(),
        }
    }

    /// The renewal period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// `key` was just added (or renewed) with a fresh lease at `now`: renew
    /// it at its next phase, at most one period from now. Holding a key that
    /// is already held reschedules it.
    pub fn hold(&mut self, key: K, now: Instant) {
        self.release(&key);
        let at = self.next_phase(&key, now);
        self.next.insert(key, at);
        self.queue.insert((at, key));
    }

    /// Stops renewing `key` (it was removed). True if it was held.
    pub fn release(&mut self, key: &K) -> bool {
        match self.next.remove(key) {
            Some(at) => {
                self.queue.remove(&(at, *key));
                true
            }
            None => false,
        }
    }

    /// Stops renewing every key.
    pub fn clear(&mut self) {
        self.next.clear();
        self.queue.clear();
    }

    /// Whether `key` is held.
    pub fn is_held(&self, key: &K) -> bool {
        self.next.contains_key(key)
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.next.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }

    /// The held keys, in key order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.next.keys()
    }

    /// When the next renewal is due; `None` when nothing is held.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// The keys due at `now`, in key order, each rescheduled to its next
    /// phase after `now`. The caller renews them all in one batch.
    pub fn due(&mut self, now: Instant) -> Vec<K> {
        let mut out = Vec::new();
        while let Some(&(at, key)) = self.queue.first() {
            if at > now {
                break;
            }
            self.queue.pop_first();
            out.push(key);
        }
        out.sort_unstable();
        for key in &out {
            let at = self.next_phase(key, now);
            self.next.insert(*key, at);
            self.queue.insert((at, *key));
        }
        out
    }

    /// The first instant after `now` at `key`'s phase: `offset + k * period`
    /// for the least such k, so at most one period after `now`.
    fn next_phase(&self, key: &K, now: Instant) -> Instant {
        let p = self.period.as_micros().max(1);
        let offset = p * u128::from(self.slot(key)) / u128::from(self.slots);
        let now_us = u128::from(now.as_micros());
        let at = if now_us < offset {
            offset
        } else {
            offset + ((now_us - offset) / p + 1) * p
        };
        Instant::from_micros(u64::try_from(at).unwrap_or(u64::MAX))
    }

    /// The phase of `key`: a stable hash (the same in every run) modulo slots.
    fn slot(&self, key: &K) -> u32 {
        let mut h = Fnv1a::default();
        key.hash(&mut h);
        (h.finish() % u64::from(self.slots)) as u32
    }
}

/// FNV-1a, 64 bits: a small, stable hash (std's `DefaultHasher` does not
/// promise the same output across Rust releases).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const MS: u64 = 1000;

    fn at_ms(ms: u64) -> Instant {
        Instant::from_micros(ms * MS)
    }

    /// Runs the schedule like the daemon does: wake at each deadline, plus
    /// `late(i)` µs, renew what is due; returns each key's renewal times.
    fn drive(
        s: &mut RenewSchedule<u32>,
        until: Instant,
        mut late: impl FnMut(usize) -> u64,
    ) -> (HashMap<u32, Vec<Instant>>, usize) {
        let mut seen: HashMap<u32, Vec<Instant>> = HashMap::new();
        let mut wakes = 0;
        while let Some(d) = s.next_deadline() {
            let now = Instant::from_micros(d.as_micros() + late(wakes));
            if now > until {
                break;
            }
            wakes += 1;
            let due = s.due(now);
            assert!(!due.is_empty(), "woke at a deadline with nothing due");
            for k in due {
                seen.entry(k).or_default().push(now);
            }
        }
        (seen, wakes)
    }

    #[test]
    fn test_every_key_is_renewed_within_one_period() {
        let mut s = RenewSchedule::new(Duration::from_millis(500), DEFAULT_SLOTS);
        for k in 0..50u32 {
            s.hold(k, at_ms(u64::from(k) * 7));
        }
        let (seen, _) = drive(&mut s, at_ms(10_000), |_| 0);
        for k in 0..50u32 {
            let times = &seen[&k];
            let mut prev = at_ms(u64::from(k) * 7);
            for t in times {
                assert!(
                    *t - prev <= Duration::from_millis(500),
                    "key {k}: gap {:?}",
                    *t - prev
                );
                prev = *t;
            }
            assert!(at_ms(10_000) - prev <= Duration::from_millis(500));
        }
    }

    #[test]
    fn test_a_thousand_keys_make_at_most_slots_batches_per_period() {
        let mut s = RenewSchedule::new(Duration::from_millis(500), DEFAULT_SLOTS);
        // All taken at the same moment, as at start-up with 1000 masters.
        for k in 0..1000u32 {
            s.hold(k, at_ms(3));
        }
        let (seen, wakes) = drive(&mut s, at_ms(10_000), |_| 0);
        // 20 periods of 500 ms in 10 s, at most 10 phases each.
        assert!(wakes <= 20 * 10 + 10, "{wakes} wake-ups");
        assert!(
            wakes >= 20 * 10 - 10,
            "{wakes} wake-ups: the keys were not spread"
        );
        // Spread: no phase holds more than a fifth of the keys.
        let mut per_phase: HashMap<u64, usize> = HashMap::new();
        for times in seen.values() {
            *per_phase.entry(times[0].as_micros() % 500_000).or_default() += 1;
        }
        assert_eq!(per_phase.len(), 10, "{per_phase:?}");
        assert!(per_phase.values().all(|&n| n < 200), "{per_phase:?}");
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn test_a_late_wake_renews_at_once_then_returns_to_the_phase() {
        let mut s = RenewSchedule::new(Duration::from_millis(500), 1);
        s.hold(7u32, at_ms(0));
        // Slot 0 with one slot: phases at 0, 500, 1000... First due at 500.
        assert_eq!(s.next_deadline(), Some(at_ms(500)));
        // The loop stalls and wakes at 1730.
        assert_eq!(s.due(at_ms(1730)), vec![7]);
        assert_eq!(s.next_deadline(), Some(at_ms(2000)));
        assert!(s.due(at_ms(1999)).is_empty());
        assert_eq!(s.due(at_ms(2000)), vec![7]);
        assert_eq!(s.next_deadline(), Some(at_ms(2500)));
    }

    #[test]
    fn test_release_stops_renewals_and_hold_reschedules() {
        let mut s = RenewSchedule::new(Duration::from_millis(500), DEFAULT_SLOTS);
        s.hold(1u32, at_ms(0));
        s.hold(2u32, at_ms(0));
        assert_eq!(s.len(), 2);
        assert!(s.release(&1));
        assert!(!s.release(&1));
        assert!(!s.is_held(&1));
        let (seen, _) = drive(&mut s, at_ms(3000), |_| 0);
        assert!(!seen.contains_key(&1));
        assert!(seen[&2].len() >= 5);
        // Holding again replaces the entry (one deadline per key).
        s.hold(2u32, at_ms(3100));
        s.hold(2u32, at_ms(3200));
        assert_eq!(s.len(), 1);
        let d = s.next_deadline().expect("held");
        assert!(d > at_ms(3200) && d <= at_ms(3700));
        s.clear();
        assert!(s.is_empty() && s.next_deadline().is_none());
    }

    #[test]
    fn test_the_phase_of_a_key_is_stable() {
        let a = RenewSchedule::<u64>::new(Duration::from_secs(1), DEFAULT_SLOTS);
        let b = RenewSchedule::<u64>::new(Duration::from_secs(1), DEFAULT_SLOTS);
        for k in [0u64, 1, 42, u64::MAX] {
            assert_eq!(
                a.next_phase(&k, at_ms(12_345)),
                b.next_phase(&k, at_ms(12_345))
            );
        }
        // FNV-1a of the empty input is its offset basis.
        assert_eq!(Fnv1a::default().finish(), 0xcbf2_9ce4_8422_2325);
    }

    proptest::proptest! {
        /// Keys come and go at random times and the loop wakes late by up to
        /// `late_ms`; a held key is never left unrenewed for longer than one
        /// period plus that lateness.
        #[test]
        fn prop_gap_is_bounded_by_period_plus_lateness(
            ops in proptest::collection::vec((0u32..20, 0u64..5_000, proptest::bool::ANY), 1..60),
            late_ms in 0u64..300,
            seed in 0u64..1000,
        ) {
            let period = Duration::from_millis(500);
            let mut s = RenewSchedule::new(period, DEFAULT_SLOTS);
            let mut ops = ops;
            ops.sort_by_key(|o| o.1);
            let mut last: HashMap<u32, Instant> = HashMap::new();
            let mut now = at_ms(0);
            let mut i = 0;
            let mut rng = seed;
            let end = at_ms(6_000);
            loop {
                // Next event: an op, or the schedule's deadline (woken late).
                let op_at = ops.get(i).map(|o| at_ms(o.1));
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                let wake = s.next_deadline().map(|d| d + Duration::from_millis(rng % (late_ms + 1)));
                let next = match (op_at, wake) {
                    (Some(a), Some(b)) => a.min(b),
                    (Some(a), None) => a,
                    (None, Some(b)) => b,
                    (None, None) => break,
                };
                if next > end { break; }
                // A deadline that passed while an op was handled is served now.
                now = next.max(now);
                if op_at == Some(now) {
                    let (k, _, add) = ops[i];
                    i += 1;
                    if add { s.hold(k, now); last.insert(k, now); }
                    else { s.release(&k); last.remove(&k); }
                    continue;
                }
                for k in s.due(now) {
                    let prev = last.insert(k, now);
                    proptest::prop_assert!(prev.is_some(), "renewed a key that is not held");
                }
                for (k, t) in &last {
                    proptest::prop_assert!(
                        now - *t <= period + Duration::from_millis(late_ms),
                        "key {} unrenewed for {:?}", k, now - *t
                    );
                }
            }
        }
    }
}
