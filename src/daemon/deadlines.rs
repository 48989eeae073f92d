//! The deadline input: every instance's next protocol deadline in one
//! ordered set, so that a packet or a timer costs O(log n), not
//! O(instances), and the handler that wakes the instances whose deadline
//! has come.

use crate::core::router::State;
use crate::core::time::Instant;

use super::Daemon;

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
        self.deadlines.clear();
        self.scheduled = vec![None; self.instances.len()];
        self.dirty.clear();
        self.all_dirty = true;
    }

    /// Put instance `n`'s current deadline in the ordered set.
    pub(super) fn reschedule(&mut self, n: usize) {
        let next = self.instances[n].router.poll_timeout();
        if self.scheduled[n] == next {
            return;
        }
        if let Some(t) = self.scheduled[n] {
            self.deadlines.remove(&(t, n));
        }
        if let Some(t) = next {
            self.deadlines.insert((t, n));
        }
        self.scheduled[n] = next;
    }

    /// The earliest protocol deadline or lease renewal: the one timerfd
    /// covers both.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let protocol = self.deadlines.first().map(|(t, _)| *t);
        match (protocol, self.leases.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Only the instances whose deadline has come are woken.
    ///
    /// A backup's deadline is its Master_Down_Timer. Before it is taken as
    /// expired, the packets already queued in the sockets are read: after a
    /// stall (the process or the VM not scheduled for a while) the master's
    /// adverts may be waiting there, and the master never went silent.
    pub(super) fn on_timers(&mut self) {
        let now = self.clock.now();
        let due: Vec<usize> = self
            .deadlines
            .range(..=(now, usize::MAX))
            .map(|(_, n)| *n)
            .collect();
        if due
            .iter()
            .any(|&n| self.instances[n].router.state() == State::Backup)
        {
            self.read_queued();
        }
        // Reading may have moved deadlines (the set itself is updated on the
        // next drain); the router checks its own timers, so waking an
        // instance whose deadline went back is harmless.
        for n in due {
            self.instances[n].router.handle_timeout(now);
            self.dirty.push(n);
        }
        // The VIP leases due now, in one batch (leases.rs).
        self.leases.renew_due(now);
    }
}
