//! Every instance's next protocol deadline in one min-heap with lazy
//! deletion: the deadline set of `deadlines.rs`, on its own so that its
//! bounds are unit-tested.
//!
//! An entry `(t, n)` counts only while instance `n` is scheduled at `t`.
//! Moving a deadline pushes the new one and leaves the old to be dropped
//! when it reaches the top (a backup's Master_Down_Timer moves with every
//! advert: one push, and one pop later). Once the heap has grown to its
//! working size, neither allocates. Should stale entries pile up anyway
//! (deadlines that move many times before the earliest is reached), the heap
//! is rebuilt from the schedule, in place: one entry per scheduled instance,
//! so a deadline that returns to an instant it had leaves no duplicate.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::core::time::Instant;

/// Room per instance for its current deadline and the stale ones not yet
/// dropped; beyond it the heap is rebuilt from the schedule.
const ENTRIES_PER_INSTANCE: usize = 8;

/// Instances' deadlines, earliest first.
#[derive(Debug, Default)]
pub(super) struct DeadlineHeap {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Each instance's current deadline: what the heap's entries count against.
    scheduled: Vec<Option<Instant>>,
}

impl DeadlineHeap {
    /// Forget every deadline; `n` instances, none scheduled.
    pub(super) fn reset(&mut self, n: usize) {
        self.heap.clear();
        self.heap.reserve(Self::bound_for(n));
        self.scheduled = vec![None; n];
    }

    /// The most entries the heap holds with `n` instances.
    fn bound_for(n: usize) -> usize {
        n * ENTRIES_PER_INSTANCE + 16
    }

    /// Instance `n`'s deadline is now `next` (`None`: none). Out-of-range
    /// instances are ignored.
    pub(super) fn set(&mut self, n: usize, next: Option<Instant>) {
        let Some(slot) = self.scheduled.get_mut(n) else {
            return;
        };
        if *slot == next {
            return;
        }
        *slot = next;
        let Some(t) = next else {
            return;
        };
        if self.heap.len() >= Self::bound_for(self.scheduled.len()) {
            self.rebuild();
        }
        self.heap.push(Reverse((t, n)));
    }

    /// Rebuild from the schedule: one entry per scheduled instance, stale
    /// and duplicate entries gone; the heap's buffer is reused.
    fn rebuild(&mut self) {
        let mut v = std::mem::take(&mut self.heap).into_vec();
        v.clear();
        v.extend(
            self.scheduled
                .iter()
                .enumerate()
                .filter_map(|(n, t)| t.map(|t| Reverse((t, n)))),
        );
        self.heap = BinaryHeap::from(v);
    }

    /// The earliest deadline (stale entries on top are dropped here).
    pub(super) fn next(&mut self) -> Option<Instant> {
        while let Some(&Reverse((t, n))) = self.heap.peek() {
            if self.scheduled.get(n) == Some(&Some(t)) {
                return Some(t);
            }
            self.heap.pop();
        }
        None
    }

    /// The next instance whose deadline is at or before `now`, taken off
    /// the schedule (it has none until [`DeadlineHeap::set`] again).
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<usize> {
        if self.next()? > now {
            return None;
        }
        let Reverse((_, n)) = self.heap.pop()?;
        self.scheduled[n] = None;
        Some(n)
    }

    /// Entries in the heap, stale ones included.
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), for the churn.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn ms(v: u64) -> Instant {
        Instant::from_millis(v)
    }

    /// Everything due at `now`, in the order popped.
    fn drain(h: &mut DeadlineHeap, now: Instant) -> Vec<usize> {
        std::iter::from_fn(|| h.pop_due(now)).collect()
    }

    #[test]
    fn churn_keeps_the_heap_within_its_bound_and_misses_no_timer() {
        let n = 50;
        let mut h = DeadlineHeap::default();
        h.reset(n);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut want = vec![None; n];
        for round in 0..20_000u64 {
            let i = (rng.next() % n as u64) as usize;
            // Mostly later deadlines (a backup's timer pushed back by each
            // advert), sometimes none, sometimes one already seen.
            let t = match rng.next() % 10 {
                0 => None,
                1 => want[i],
                _ => Some(ms(1_000 + round + rng.next() % 3_000)),
            };
            h.set(i, t);
            want[i] = t;
            assert!(h.entries() <= DeadlineHeap::bound_for(n), "round {round}");
            // Now and then the earliest are taken, as the loop does.
            if round % 97 == 0 {
                let now = ms(1_000 + round);
                let due = drain(&mut h, now);
                let mut expected: Vec<usize> = (0..n)
                    .filter(|&k| want[k].is_some_and(|t| t <= now))
                    .collect();
                let mut got = due.clone();
                got.sort();
                expected.sort();
                assert_eq!(
                    got, expected,
                    "round {round}: each due instance once, none missed"
                );
                for k in due {
                    want[k] = None;
                }
                assert!(h.next().is_none_or(|t| t > now));
            }
        }
        let now = ms(u64::MAX / 1_000_000);
        let mut got = drain(&mut h, now);
        got.sort();
        let expected: Vec<usize> = (0..n).filter(|&k| want[k].is_some()).collect();
        assert_eq!(got, expected);
        assert_eq!(h.next(), None);
    }

    #[test]
    fn a_deadline_returning_to_the_same_instant_does_not_grow_the_heap() {
        let n = 4;
        let mut h = DeadlineHeap::default();
        h.reset(n);
        for k in 0..n {
            h.set(k, Some(ms(5_000)));
        }
        // Instance 0 flips between two instants, its earlier one never
        // reached: each flip back pushes the same (t, 0) again. A cleanup
        // (the heap shrank) leaves one entry per instance, copies of the
        // current deadline dropped too (kept, they would fill the heap
        // again and again, a cleanup at every push at last).
        let mut cleanups = 0;
        for i in 0..10_000 {
            let before = h.entries();
            h.set(0, Some(if i % 2 == 0 { ms(100) } else { ms(200) }));
            assert!(
                h.entries() <= DeadlineHeap::bound_for(n),
                "flip {i}: {}",
                h.entries()
            );
            if h.entries() <= before {
                cleanups += 1;
                assert!(
                    h.entries() <= n + 1,
                    "flip {i}: {} entries after a cleanup",
                    h.entries()
                );
            }
        }
        assert!(
            cleanups <= 10_000 / (DeadlineHeap::bound_for(n) - n - 1) + 1,
            "{cleanups} cleanups"
        );
        assert_eq!(h.next(), Some(ms(200)));
        // Popped once, however many copies were pushed.
        assert_eq!(drain(&mut h, ms(1_000)), [0]);
        assert_eq!(h.next(), Some(ms(5_000)));
        let mut rest = drain(&mut h, ms(5_000));
        rest.sort();
        assert_eq!(rest, [1, 2, 3]);
        assert_eq!(h.next(), None);
    }

    #[test]
    fn an_instance_rescheduled_after_it_was_taken_is_due_again_once() {
        let mut h = DeadlineHeap::default();
        h.reset(2);
        h.set(0, Some(ms(10)));
        h.set(0, Some(ms(20)));
        h.set(0, Some(ms(10)));
        assert_eq!(drain(&mut h, ms(10)), [0]);
        // The stale (20, 0) and the second (10, 0) count no more...
        assert_eq!(drain(&mut h, ms(30)), Vec::<usize>::new());
        // ...until it is scheduled again.
        h.set(0, Some(ms(10)));
        assert_eq!(drain(&mut h, ms(30)), [0]);
        // Unscheduled, it is never due; out of range is ignored.
        h.set(1, Some(ms(5)));
        h.set(1, None);
        h.set(7, Some(ms(1)));
        assert_eq!(h.next(), None);
    }
}
