//! VIP leases at run time: which addresses are held with a lifetime, and
//! their renewal, which this loop does itself when the deadline set says so.
//!
//! Every VIP (on the link, and on the announce interface) is added with the
//! lifetime `global.vip_lease` and renewed every `vip_lease_renew`, so that a
//! daemon that dies or hangs loses its VIPs by the kernel's hand (docs/BGP.md).
//! The renewals come from the event loop on purpose: a loop that hangs must
//! stop renewing. Their timing is [`RenewSchedule`] (`src/announce/lease.rs`):
//! a few fixed phases per period, so that 1000 VIPs are a handful of batches.
//! The schedule's deadline joins the protocol deadlines as the protocol
//! thread's wait timeout (`deadlines.rs`); there is no second timer.
//!
//! An instance holds a [`Leases`] handle (given at setup, like the keeper's
//! slot): `Instance::add_vips` holds what it added, `remove_vips` releases
//! before it deletes, so a renewal (which would re-create a missing address)
//! never follows a removal. An address owner (priority 255) adds its
//! addresses without a lease: they are its own.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing::warn;

use crate::announce::lease::{RenewSchedule, DEFAULT_SLOTS};
use crate::config::VipLease;
use crate::core::time::Instant;
use crate::io::netlink::{LeaseRenewer, LeasedAddr, Lifetime};

use super::ratelimit::{RateLimit, Verdict};
use super::status::LeaseStatus;
use super::Clock;

/// The held addresses, their schedule and the renewal socket.
#[derive(Debug)]
struct Book {
    /// The lifetime addresses get; `None`: leases are off.
    lifetime: Option<Lifetime>,
    /// When each held address is renewed next.
    schedule: RenewSchedule<LeasedAddr>,
    /// The batch socket, opened with the first renewal.
    renewer: Option<LeaseRenewer>,
    clock: Clock,
    /// Renewal messages sent, batches, and renewals the kernel refused.
    renewals: u64,
    batches: u64,
    failures: u64,
    /// Bounds the warnings about failed renewals.
    logs: RateLimit,
}

/// A shared handle on the daemon's leases (the daemon and every instance
/// hold one; all of them run on the event loop's task).
#[derive(Debug, Clone)]
pub(super) struct Leases(Arc<Mutex<Book>>);

/// The whole-second lifetime of `vip_lease`, if on.
fn lifetime_of(cfg: &VipLease) -> Option<Lifetime> {
    cfg.lifetime
        .and_then(|d| Lifetime::from_secs(u32::try_from(d.as_secs()).unwrap_or(u32::MAX - 1)))
}

/// The schedule for `cfg`: renew every `vip_lease_renew`.
fn schedule_of(cfg: &VipLease) -> RenewSchedule<LeasedAddr> {
    RenewSchedule::new(
        cfg.renew_every().unwrap_or(Duration::from_secs(3600)),
        DEFAULT_SLOTS,
    )
}

impl Leases {
    /// Leases as `global.vip_lease` says, holding nothing yet.
    pub fn new(clock: Clock, cfg: &VipLease) -> Leases {
        Leases(Arc::new(Mutex::new(Book {
            lifetime: lifetime_of(cfg),
            schedule: schedule_of(cfg),
            renewer: None,
            clock,
            renewals: 0,
            batches: 0,
            failures: 0,
            logs: RateLimit::new(3, Duration::from_secs(10)),
        })))
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // Only this task locks it, never across an await: a poisoned lock
        // can only follow a panic, after which the data is still usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The lifetime to add VIPs with; `None` when leases are off.
    pub fn lifetime(&self) -> Option<Lifetime> {
        self.book().lifetime
    }

    /// A reload changed `vip_lease`: the schedule starts afresh, and every
    /// address held so far is forgotten (the caller re-adds the VIPs of the
    /// instances that hold them, with the new lifetime). Returns whether
    /// anything changed.
    pub fn reconfigure(&self, cfg: &VipLease) -> bool {
        let mut b = self.book();
        let lifetime = lifetime_of(cfg);
        if lifetime == b.lifetime && Some(b.schedule.period()) == cfg.renew_every() {
            return false;
        }
        b.lifetime = lifetime;
        b.schedule = schedule_of(cfg);
        true
    }

    /// `a` was just added with the lease: renew it from now on.
    pub fn hold(&self, a: LeasedAddr) {
        let mut b = self.book();
        let now = b.clock.now();
        if b.lifetime.is_some() {
            b.schedule.hold(a, now);
        }
    }

    /// `a` is about to be removed: never renew it again.
    pub fn release(&self, a: &LeasedAddr) {
        self.book().schedule.release(a);
    }

    /// When the next renewal is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.book().schedule.next_deadline()
    }

    /// Renew every address due at `now`, in one batch. A refusal is logged
    /// (at a bounded rate) and counted; the address stays held, so the next
    /// renewal tries again (and the kernel's address event, if it is gone,
    /// makes its instance restore it).
    pub fn renew_due(&self, now: Instant) {
        let mut b = self.book();
        let Some(lifetime) = b.lifetime else {
            return;
        };
        let due = b.schedule.due(now);
        if due.is_empty() {
            return;
        }
        if b.renewer.is_none() {
            match LeaseRenewer::new() {
                Ok(r) => b.renewer = Some(r),
                Err(e) => {
                    b.failures += due.len() as u64;
                    warn!(error = %e, "cannot open the lease renewal socket; VIPs will expire");
                    return;
                }
            }
        }
        let Some(renewer) = b.renewer.as_mut() else {
            return;
        };
        let result = renewer.renew(&due, lifetime);
        match result {
            Ok(report) => {
                b.renewals += report.messages as u64;
                b.batches += report.sends as u64;
                b.failures += report.failed.len() as u64;
                for (a, errno) in report.failed {
                    let verdict = b.logs.check("lease_renewal", std::time::Instant::now());
                    let suppressed = match verdict {
                        Verdict::Suppress => continue,
                        Verdict::Log => 0,
                        Verdict::LogAfterSuppressing(n) => n,
                    };
                    warn!(
                        vip = %a.addr,
                        prefix_len = a.prefix_len,
                        ifindex = a.ifindex,
                        error = %std::io::Error::from_raw_os_error(errno),
                        suppressed,
                        "cannot renew the lease of a VIP"
                    );
                }
            }
            Err(e) => {
                b.failures += due.len() as u64;
                // A broken socket: open a new one next time.
                b.renewer = None;
                warn!(error = %e, "lease renewal failed");
            }
        }
    }

    /// For `vrrpd status`.
    pub fn status(&self) -> LeaseStatus {
        let b = self.book();
        LeaseStatus {
            lifetime_s: b.lifetime.map_or(0, Lifetime::secs),
            renew_every_ms: if b.lifetime.is_some() {
                b.schedule.period().as_millis() as u64
            } else {
                0
            },
            held: b.schedule.len() as u64,
            renewals: b.renewals,
            renewal_batches: b.batches,
            renewal_failures: b.failures,
        }
    }
}
