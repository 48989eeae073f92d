//! The advert keeper's schedule: when the keeper sends a copy of a master's
//! last advert, given when the event loop sent it.
//!
//! Pure (time is passed in), so that it is unit-tested without threads or
//! sockets, and so that the simulator (`tests/sim`) runs the same schedule
//! as the daemon. The keeper thread itself, and why it exists, are in
//! `src/daemon/keeper.rs`.

use std::time::Duration;

use crate::core::time::Instant;

/// How long after the event loop's own last advert the keeper goes on
/// repeating it.
pub const COVER: Duration = Duration::from_millis(500);

/// When the keeper sends for one instance. Pure (time is passed in), so
/// that it is tested without threads or sockets.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// The instance's Advertisement_Interval.
    interval: Duration,
    /// When an advert last left, from the event loop or the keeper.
    last_sent: Instant,
    /// When the event loop last sent one.
    loop_sent: Instant,
    /// Adverts the keeper sent since then: 0 before its turn, 1 after it,
    /// more while it covers for a late event loop.
    kept: u32,
}

/// Why the keeper sends an advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Its turn: one interval after the event loop's advert.
    Turn,
    /// The event loop is late.
    Late {
        /// The first advert the event loop owed (the keeper logs it).
        first: bool,
    },
}

impl Schedule {
    /// The event loop sent an advert at `now`.
    pub fn new(interval: Duration, now: Instant) -> Self {
        Schedule {
            interval,
            last_sent: now,
            loop_sent: now,
            kept: 0,
        }
    }

    /// The instance's Advertisement_Interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When the event loop last sent an advert.
    pub fn loop_sent(&self) -> Instant {
        self.loop_sent
    }

    /// When the keeper sends next:
    /// - its turn, one interval after the event loop's advert;
    /// - after its turn, the event loop's next advert is due two intervals
    ///   after its last, and the keeper's next turn one after that: it
    ///   sleeps until then, and if the event loop has not sent by then (one
    ///   interval late), it sends anyway;
    /// - while the event loop is late, every interval.
    ///
    /// Both the turn and the wake-up after it count from the event loop's
    /// advert, not from the keeper's own: when the loop sends out of turn
    /// (a priority change), the keeper falls back in step with it at its
    /// next wake-up instead of keeping the old phase.
    pub fn due(&self) -> Instant {
        match self.kept {
            0 => self.loop_sent + self.interval,
            1 => self.loop_sent + self.interval * 3,
            _ => self.last_sent + self.interval,
        }
    }

    /// Whether the keeper must be woken when the event loop's advert makes
    /// `next` replace this schedule: the keeper may be asleep until this
    /// schedule's [`Schedule::due`], and an advert out of turn (a priority
    /// change, an answer to priority 0 or to a lower master) can make the
    /// next one due earlier than that. Without the wake-up the keeper sends
    /// its turn late, up to two intervals after the out-of-turn advert (found
    /// by the simulator, docs/SIMULATION.md). In turn, the new schedule is
    /// due after the old one and the keeper sleeps on.
    ///
    /// After a hang ([`Schedule::hung`]) the keeper sleeps until an entry
    /// wakes it (with nothing due, it waits without a timeout): the loop's
    /// first advert after it must.
    pub fn wakes_keeper(&self, next: &Schedule) -> bool {
        next.due() < self.due() || self.hung(next.loop_sent)
    }

    /// The event loop has not sent for longer than [`COVER`]: it is hung,
    /// not late, and the peer must see it.
    pub fn hung(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.loop_sent) > COVER
    }

    /// What the keeper sends at `now`, if anything (recorded as sent).
    pub fn poll(&mut self, now: Instant) -> Option<Sent> {
        // A little early is as good: the event loop's own adverts drift by
        // its wake-up latency, and the keeper must not wake twice for one
        // turn.
        if self.hung(now) || now + self.interval / 8 < self.due() {
            return None;
        }
        let sent = match self.kept {
            0 => Sent::Turn,
            k => Sent::Late { first: k == 1 },
        };
        self.last_sent = now;
        self.kept += 1;
        Some(sent)
    }
}

/// Whether an instance advertising every `interval` shares its adverts with
/// the keeper: its turn must fall within [`COVER`].
pub fn shares(interval: Duration) -> bool {
    interval <= COVER / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: Duration = Duration::from_millis(10);

    /// Drives one instance's schedule with the event loop sending at
    /// `loop_at` (ms from start) and the keeper waking when the schedule
    /// says (or `keeper_delay` later), until `until` ms. Returns every advert
    /// on the wire (ms, who) and how many times the keeper woke.
    fn simulate(
        loop_at: &[f64],
        keeper_delay: impl Fn(f64) -> f64,
        until: f64,
    ) -> (Vec<(f64, &'static str)>, usize) {
        let base = Instant::ZERO;
        let at = |ms: f64| base + Duration::from_secs_f64(ms / 1000.0);
        let ms = |t: Instant| t.saturating_duration_since(base).as_secs_f64() * 1000.0;
        let mut sched = Schedule::new(I, at(loop_at[0]));
        let mut wire = vec![(loop_at[0], "loop")];
        let mut loop_next = 1;
        let mut wake = ms(sched.due()) + keeper_delay(ms(sched.due()));
        let mut wakes = 0;
        loop {
            let next_loop = loop_at.get(loop_next).copied().unwrap_or(f64::INFINITY);
            let now = next_loop.min(wake);
            if now > until {
                break;
            }
            if next_loop <= wake {
                sched = Schedule::new(I, at(next_loop));
                wire.push((next_loop, "loop"));
                loop_next += 1;
            } else {
                wakes += 1;
                if let Some(why) = sched.poll(at(now)) {
                    wire.push((now, if why == Sent::Turn { "turn" } else { "late" }));
                }
                // As the keeper thread: at most four wake-ups per interval.
                let due = if sched.hung(at(now)) {
                    f64::INFINITY
                } else {
                    ms(sched.due())
                };
                let next = due.max(now + 2.5);
                wake = next + keeper_delay(next);
            }
        }
        (wire, wakes)
    }

    fn gaps(wire: &[(f64, &str)]) -> Vec<f64> {
        wire.windows(2).map(|w| w[1].0 - w[0].0).collect()
    }

    /// The event loop's own adverts every two intervals (its Adver_Timer
    /// with shared adverts), each a little late as a real timer is.
    fn loop_every_two(from: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|k| from + 20.0 * k as f64 + 0.05 * k as f64)
            .collect()
    }

    #[test]
    fn on_time_the_keeper_sends_every_other_advert_and_wakes_once_for_each() {
        let (wire, wakes) = simulate(&loop_every_two(0.0, 50), |_| 0.0, 995.0);
        let turns = wire.iter().filter(|w| w.1 == "turn").count();
        assert_eq!(wire.iter().filter(|w| w.1 == "late").count(), 0);
        assert_eq!(turns, 50);
        assert_eq!(wakes, turns, "one wake-up per turn");
        for g in gaps(&wire) {
            assert!((9.0..=11.0).contains(&g), "gap {g} ms: {wire:?}");
        }
    }

    /// A priority change makes the event loop send out of turn (and its
    /// Adver_Timer restart from there): the keeper follows the new phase
    /// after one wake-up, instead of keeping its own.
    #[test]
    fn the_keeper_falls_in_step_with_an_advert_out_of_turn() {
        let mut loop_at = vec![0.0, 20.0, 40.0, 52.0];
        loop_at.extend(loop_every_two(72.0, 30));
        let (wire, _) = simulate(&loop_at, |_| 0.0, 650.0);
        assert!(gaps(&wire).iter().all(|&g| g <= 20.0), "{wire:?}");
        // From the second cycle after the change, one advert per interval.
        let settled: Vec<_> = wire.iter().filter(|w| w.0 > 90.0).copied().collect();
        for g in gaps(&settled) {
            assert!((9.0..=11.0).contains(&g), "gap {g} ms: {wire:?}");
        }
    }

    /// The event loop stops (its vCPU is stolen): after the keeper's turn,
    /// the first advert the loop owes comes from the keeper one interval
    /// late, then one every interval, until the cover ends.
    #[test]
    fn a_late_event_loop_is_covered_for_at_most_the_cover() {
        let (wire, _) = simulate(&[0.0], |_| 0.0, 2000.0);
        assert_eq!(wire[1], (10.0, "turn"));
        assert_eq!(wire[2], (30.0, "late"));
        assert!(gaps(&wire[1..]).iter().all(|&g| g <= 20.0), "{wire:?}");
        let last = wire.last().unwrap().0;
        assert!(
            (490.0..=500.0).contains(&last),
            "the last advert at {last} ms: the cover is {COVER:?}"
        );
        // Back in step when the loop sends again.
        let mut loop_at = vec![0.0];
        loop_at.extend(loop_every_two(200.0, 10));
        let (wire, _) = simulate(&loop_at, |_| 0.0, 390.0);
        let after: Vec<_> = wire.iter().filter(|w| w.0 > 200.0).copied().collect();
        assert!(after.iter().all(|w| w.1 != "late"), "{wire:?}");
        assert_eq!(after.iter().filter(|w| w.1 == "turn").count(), 9);
    }

    /// An advert in turn does not wake the keeper (it sleeps on to the new
    /// turn); one out of turn, before the keeper's next wake-up, does.
    #[test]
    fn only_an_advert_out_of_turn_wakes_the_keeper() {
        let at = |ms: u64| Instant::from_millis(ms);
        let mut s = Schedule::new(I, at(0));
        // Before its turn: the loop's next advert in turn (20 ms, or late).
        assert!(!s.wakes_keeper(&Schedule::new(I, at(20))));
        assert!(!s.wakes_keeper(&Schedule::new(I, at(27))));
        // After its turn the keeper sleeps until 30 ms (its wake-up if the
        // loop is late); the loop's advert at 20 ms is due at 30 ms: no wake-up.
        assert_eq!(s.poll(at(10)), Some(Sent::Turn));
        assert_eq!(s.due(), at(30));
        assert!(!s.wakes_keeper(&Schedule::new(I, at(20))));
        // Out of turn at 12 ms: the next is due at 22 ms, before 30 ms.
        assert!(s.wakes_keeper(&Schedule::new(I, at(12))));
        // The loop's first advert after a hang wakes it.
        let late = at(0) + COVER + I;
        assert!(s.hung(late));
        assert!(s.wakes_keeper(&Schedule::new(I, late)));
    }

    /// The keeper's own vCPU stolen now and then (each wake-up 7 ms late):
    /// the event loop's adverts still leave every two intervals, and no
    /// gap is longer.
    #[test]
    fn a_late_keeper_leaves_gaps_of_at_most_two_intervals() {
        let (wire, _) = simulate(&loop_every_two(0.0, 50), |_| 7.0, 995.0);
        assert!(gaps(&wire).iter().all(|&g| g <= 20.5), "{wire:?}");
        assert!(wire.iter().any(|w| w.1 == "turn"));
    }
}
