//! The deadline input: every instance's next protocol deadline in one
//! min-heap (`deadline_heap.rs`: lazy deletion, bounded, no allocation at
//! its working size), so that a packet or a timer costs O(log n), not
//! O(instances), and the handler that wakes the instances whose deadline
//! has come.

use crate::core::router::State;
use crate::core::time::Instant;

use super::rx::VridIndex;
use super::{Daemon, SocketKey};

impl Daemon {
    /// Rebuild the demultiplexer and the deadline set after the instance
    /// list changed; every instance is drained and rescheduled next.
    pub(super) fn reindex(&mut self) {
        let keys: Vec<SocketKey> = self.sockets.iter().map(|(k, _)| *k).collect();
        self.index = VridIndex::build(
            &keys,
            self.instances
                .iter()
                .map(|i| (i.ifindex, i.cfg.family, i.cfg.vrid.get())),
        );
        let n = self.instances.len();
        // The longest advert lead wakes masters together; the shortest is
        // the receive hold (event_loop.rs).
        let (lead, hold) = self
            .instances
            .iter()
            .map(|i| i.router.advert_lead())
            .fold(None, |acc: Option<(_, _)>, l| {
                Some(acc.map_or((l, l), |(hi, lo)| (l.max(hi), l.min(lo))))
            })
            .unwrap_or_default();
        self.lead = lead;
        self.rx_hold = hold;
        self.deadlines.reset(n);
        self.due = Vec::with_capacity(n);
        self.dirty.clear();
        self.dirty.reserve(n);
        self.all_dirty = true;
    }

    /// Put instance `n`'s current deadline in the set.
    pub(super) fn reschedule(&mut self, n: usize) {
        let next = self.instances[n].router.poll_timeout();
        self.deadlines.set(n, next);
    }

    /// The earliest protocol deadline or lease renewal: the protocol
    /// thread's wait times out at it (`event_loop.rs`).
    pub(super) fn next_deadline(&mut self) -> Option<Instant> {
        let protocol = self.deadlines.next();
        match (protocol, self.leases.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Only the instances whose deadline has come are woken, with those
    /// due within the advert lead
    /// ([`crate::core::router::advert_lead`]): a master among them
    /// sends its advert now, with the others (one wake-up for all); any
    /// other is woken for nothing (its router fires no timer early) and
    /// rescheduled as it was.
    ///
    /// A backup's deadline is its Master_Down_Timer. Before it is taken as
    /// expired, the packets already queued in the sockets are read: after a
    /// stall (the process or the VM not scheduled for a while) the master's
    /// adverts may be waiting there, and the master never went silent.
    pub(super) fn on_timers(&mut self) {
        let now = self.clock.now();
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        // Each taken off the schedule: rescheduled by the drain that follows.
        while let Some(n) = self.deadlines.pop_due(now + self.lead) {
            due.push(n);
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
