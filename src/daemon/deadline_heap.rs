//! Every instance's next protocol deadline in one min-heap with lazy
//! deletion: the deadline set of `deadlines.rs`, on its own so that its
//! bounds are unit-tested.
//!
//! An entry `(t, n)` counts only while instance `n` is scheduled at `t`.
//! A deadline that moves later pushes nothing: the entry already queued for
//! the instance, earlier, stands for it, and when that entry reaches the top
//! it is moved, in place, to the instance's deadline of that moment (a
//! backup's Master_Down_Timer moves later with every advert: at most one
//! move of the top, a sift down, per advert instead of a push and a pop,
//! and the heap stays at one entry per instance). The
//! top is always a true deadline when [`DeadlineHeap::next`] returns it, so
//! the thread never wakes for a moved one. A deadline that moves earlier
//! pushes the new one and leaves the old to be dropped when it reaches the
//! top. Once the heap has grown to its working size, neither allocates.
//! Should stale entries pile up anyway (deadlines that move earlier many
//! times before the earliest is reached), the heap is rebuilt from the
//! schedule, in place: one entry per scheduled instance, so a deadline that
//! returns to an instant it had leaves no duplicate.

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
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
    /// Each instance's earliest entry in the heap, which stands for its
    /// deadline while that is the same or later (`None`: none that counts).
    queued: Vec<Option<Instant>>,
}

impl DeadlineHeap {
    /// Forget every deadline; `n` instances, none scheduled.
    pub(super) fn reset(&mut self, n: usize) {
        self.heap.clear();
        self.heap.reserve(Self::bound_for(n));
        self.scheduled = vec![None; n];
        self.queued = vec![None; n];
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
        // Moved later: the entry queued earlier stands for it (see `next`).
        if self.queued[n].is_some_and(|q| q <= t) {
            return;
        }
        if self.heap.len() >= Self::bound_for(self.scheduled.len()) {
            // Rebuilt from the schedule, `t` included.
            self.rebuild();
            return;
        }
        self.heap.push(Reverse((t, n)));
        self.queued[n] = Some(t);
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
        self.queued.clone_from(&self.scheduled);
    }

    /// The earliest deadline. Entries on top that no longer count are
    /// dropped here, and an instance's entry that stands for a later
    /// deadline is moved to it (in place: one sift down).
    pub(super) fn next(&mut self) -> Option<Instant> {
        while let Some(mut top) = self.heap.peek_mut() {
            let Reverse((t, n)) = *top;
            let scheduled = self.scheduled.get(n).copied().flatten();
            if scheduled == Some(t) {
                return Some(t);
            }
            let stands_for = self.queued.get(n) == Some(&Some(t));
            match scheduled {
                Some(later) if stands_for && later > t => {
                    *top = Reverse((later, n));
                    self.queued[n] = Some(later);
                }
                _ => {
                    PeekMut::pop(top);
                    if stands_for {
                        self.queued[n] = None;
                    }
                }
            }
        }
        None
    }

    /// The next instance whose deadline is at or before `now`, taken off
    /// the schedule (it has none until [`DeadlineHeap::set`] again).
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<usize> {
        if self.next()? > now {
            return None;
        }
        let Reverse((t, n)) = self.heap.pop()?;
        self.scheduled[n] = None;
        if self.queued[n] == Some(t) {
            self.queued[n] = None;
        }
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
        // reached: the entry at the earlier one stands for both, so the
        // heap holds the old (5000, 0), that entry and the others'.
        for i in 0..10_000 {
            h.set(0, Some(if i % 2 == 0 { ms(100) } else { ms(200) }));
            assert!(h.entries() <= n + 1, "flip {i}: {}", h.entries());
        }
        assert_eq!(h.next(), Some(ms(200)));
        // Popped once.
        assert_eq!(drain(&mut h, ms(1_000)), [0]);
        assert_eq!(h.next(), Some(ms(5_000)));
        let mut rest = drain(&mut h, ms(5_000));
        rest.sort();
        assert_eq!(rest, [1, 2, 3]);
        assert_eq!(h.next(), None);
    }

    #[test]
    fn deadlines_that_only_move_later_push_nothing_and_are_found_where_they_went() {
        // A backup's Master_Down_Timer, reset by every advert: 1000
        // instances, each moved later 50 times.
        let n = 1_000;
        let mut h = DeadlineHeap::default();
        h.reset(n);
        for k in 0..n {
            h.set(k, Some(ms(1_000 + k as u64)));
        }
        for round in 1..=50u64 {
            for k in 0..n {
                h.set(k, Some(ms(1_000 + round * 100 + k as u64)));
                assert_eq!(h.entries(), n, "round {round}: a push per move");
            }
        }
        // The earliest is the moved deadline, not the entry queued for it;
        // nothing is due before.
        assert_eq!(h.next(), Some(ms(6_000)));
        assert_eq!(drain(&mut h, ms(5_999)), Vec::<usize>::new());
        assert_eq!(drain(&mut h, ms(6_000)), [0]);
        assert_eq!(drain(&mut h, ms(6_009)), (1..10).collect::<Vec<_>>());
        // Moved earlier again: found there, and only once.
        h.set(500, Some(ms(10)));
        assert_eq!(drain(&mut h, ms(6_009)), [500]);
        assert_eq!(h.next(), Some(ms(6_010)));
        assert!(h.entries() <= n + 1);
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
