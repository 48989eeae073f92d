//! The deadline input: every instance's next protocol deadline in one
//! min-heap, so that a packet or a timer costs O(log n), not O(instances),
//! and the handler that wakes the instances whose deadline has come.
//!
//! The heap deletes lazily: an entry `(t, n)` counts only while
//! `scheduled[n]` is `Some(t)`. Moving a deadline pushes the new one and
//! leaves the old to be dropped when it reaches the top (a backup's
//! Master_Down_Timer moves with every advert: one push, and one pop later).
//! Once the heap has grown to its working size (a few entries per instance),
//! neither allocates; the ordered set before it allocated and freed tree
//! nodes as deadlines moved.

use std::cmp::Reverse;

use crate::core::router::State;
use crate::core::time::Instant;

use super::Daemon;

/// Room reserved per instance for its current deadline and the stale ones
/// not yet dropped; beyond it the heap is rebuilt from `scheduled`.
const ENTRIES_PER_INSTANCE: usize = 8;

impl Daemon {
    /// Rebuild the demultiplexer and the deadline set after the instance
    /// list changed; every instance is drained and rescheduled next.
    pub(super) fn reindex(&mut self) {
        self.index = self
            .instances
            .iter()
            .enumerate()
            .map(|(n, i)| ((i.ifindex, i.cfg.family, i.cfg.vrid.get()), n))
            .collect();
        let n = self.instances.len();
        self.deadlines.clear();
        self.deadlines.reserve(n * ENTRIES_PER_INSTANCE + 16);
        self.scheduled = vec![None; n];
        self.due = Vec::with_capacity(n);
        self.dirty.clear();
        self.dirty.reserve(n);
        self.all_dirty = true;
    }

    /// Put instance `n`'s current deadline in the set.
    pub(super) fn reschedule(&mut self, n: usize) {
        let next = self.instances[n].router.poll_timeout();
        if self.scheduled[n] == next {
            return;
        }
        self.scheduled[n] = next;
        if let Some(t) = next {
            if self.deadlines.len() >= self.instances.len() * ENTRIES_PER_INSTANCE + 16 {
                // Too many stale entries (cannot happen with the working
                // sizes above, but bounded anyway): keep the current ones.
                let scheduled = &self.scheduled;
                self.deadlines
                    .retain(|Reverse((t, n))| scheduled.get(*n) == Some(&Some(*t)));
            }
            self.deadlines.push(Reverse((t, n)));
        }
    }

    /// The earliest protocol deadline or lease renewal: the protocol
    /// thread's wait times out at it (`event_loop.rs`).
    pub(super) fn next_deadline(&mut self) -> Option<Instant> {
        let protocol = self.next_protocol_deadline();
        match (protocol, self.leases.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest protocol deadline (stale entries on top are dropped here).
    fn next_protocol_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((t, n))) = self.deadlines.peek() {
            if self.scheduled.get(n) == Some(&Some(t)) {
                return Some(t);
            }
            self.deadlines.pop();
        }
        None
    }

    /// Only the instances whose deadline has come are woken.
    ///
    /// A backup's deadline is its Master_Down_Timer. Before it is taken as
    /// expired, the packets already queued in the sockets are read: after a
    /// stall (the process or the VM not scheduled for a while) the master's
    /// adverts may be waiting there, and the master never went silent.
    pub(super) fn on_timers(&mut self) {
        let now = self.clock.now();
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        while let Some(t) = self.next_protocol_deadline() {
            if t > now {
                break;
            }
            if let Some(Reverse((_, n))) = self.deadlines.pop() {
                // Taken: rescheduled by the drain that follows.
                self.scheduled[n] = None;
                due.push(n);
            }
        }
        if due
            .iter()
            .any(|&n| self.instances[n].router.state() == State::Backup)
        {
            self.read_queued();
        }
        // Reading may have moved deadlines; the router checks its own
        // timers, so waking an instance whose deadline went back is harmless.
        for &n in &due {
            self.instances[n].router.handle_timeout(now);
            self.dirty.push(n);
        }
        self.due = due;
        // The VIP leases due now, in one batch (leases.rs).
        self.leases.renew_due(now);
    }
}
