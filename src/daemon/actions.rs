//! Carrying out the routers' actions after each input: sync-group holds
//! first, then the queue of every instance the input touched, in order
//! ([`Instance::drain`](super::instance::Instance::drain) does the IO of each
//! action: adverts, VIPs, ARP/NA, notify), an active-active instance's
//! health decided again (`active.rs`), then its next deadline. And the
//! Startup event of new instances, with their groups' holds known first.

use crate::core::router::TrackEffect;
use crate::core::time::Instant;
use crate::core::types::Priority;

use super::instance::{flush_adverts, Instance};
use super::Daemon;

impl Daemon {
    /// Give the Startup event to the new instances `new` (indices into
    /// `self.instances`, at start or after a reload), each knowing its sync
    /// group's hold. An address owner becomes master at Startup (RFC 5798
    /// §6.4.1): one whose group is held (another member in Fault or out
    /// of its election) must start as Backup, not send an advert at 255
    /// with gratuitous ARPs and then priority 0 in the `drain` after. So
    /// the others start first (one may start in Fault), then the groups'
    /// holds are applied, then the owners start.
    pub(super) fn start_new(&mut self, now: Instant, new: &[usize]) {
        let (owners, others): (Vec<usize>, Vec<usize>) = new
            .iter()
            .partition(|&&n| may_start_as_master(&self.instances[n]));
        for &n in &others {
            self.instances[n].start(now);
        }
        if !owners.is_empty() {
            self.apply_sync();
        }
        for &n in &owners {
            self.instances[n].start(now);
        }
    }

    /// Sync groups: hold members out of mastership while another member
    /// is in Fault or lost its election, until nothing changes.
    fn apply_sync(&mut self) {
        if self.config.sync_groups.is_empty() {
            return;
        }
        let now = self.clock.now();
        for _ in 0..4 {
            let before: Vec<_> = self.instances.iter().map(|i| i.router.state()).collect();
            for group in &self.config.sync_groups {
                let idx: Vec<usize> = group
                    .instances
                    .iter()
                    .filter_map(|n| self.instances.iter().position(|i| &i.cfg.name == n))
                    .collect();
                let members: Vec<&crate::core::router::VirtualRouter> =
                    idx.iter().map(|&i| &self.instances[i].router).collect();
                let holds = crate::core::sync::holds(&members);
                for (&i, held) in idx.iter().zip(holds) {
                    self.instances[i].router.handle_sync(now, &group.name, held);
                }
            }
            let after: Vec<_> = self.instances.iter().map(|i| i.router.state()).collect();
            if before == after {
                return;
            }
        }
    }

    /// Carry out the pending actions of every router an input touched, in
    /// order, and reschedule them. With sync groups, all of them: a member's
    /// change can hold or release the others.
    ///
    /// First what needs no waiting, instance by instance (a master's advert
    /// is all there is on the hot path: no allocation, nothing async); then
    /// what waits for netlink, concurrently when several instances wait
    /// (1000 instances becoming master at once send their first adverts
    /// before any VIP is added, and the VIPs go in one round of requests,
    /// not one round trip after another).
    pub(super) async fn drain(&mut self) {
        let all = self.all_dirty || !self.config.sync_groups.is_empty();
        self.apply_sync();
        if !all {
            // In place, so that the list keeps its room (no allocation).
            self.dirty.sort_unstable();
            self.dirty.dedup();
        }
        let touched = if all {
            self.instances.len()
        } else {
            self.dirty.len()
        };
        let which = |d: &Daemon, i: usize| if all { i } else { d.dirty[i] };
        let mut waiting = 0;
        for i in 0..touched {
            let n = which(self, i);
            // The index is the tag of its queued adverts (`u32` fits: the
            // VRID index holds no more instances either).
            let tag = u32::try_from(n).unwrap_or(u32::MAX);
            if self.instances[n].drain_ready(&self.notifier, &mut self.tx, tag) {
                waiting += 1;
            }
        }
        // The adverts of every instance, together (one `sendmmsg` per
        // socket), before anything waits.
        let instances = &self.instances;
        flush_adverts(&mut self.tx, |tag| {
            instances.get(tag as usize).map(|i| i.cfg.name.as_str())
        });
        if waiting > 0 {
            let (nl, notifier) = (&self.netlink, &self.notifier);
            let pending = self
                .instances
                .iter_mut()
                .filter(|i| i.router.next_action().is_some());
            if waiting == 1 {
                for inst in pending {
                    inst.drain(nl, notifier).await;
                }
            } else {
                futures::future::join_all(pending.map(|i| i.drain(nl, notifier))).await;
            }
        }
        // Active-active instances decide again once their actions are done
        // (`active.rs`; nothing for the others).
        for i in 0..touched {
            let n = which(self, i);
            self.update_active(n).await;
            self.reschedule(n);
        }
        self.dirty.clear();
        self.all_dirty = false;
    }
}

/// Whether the Startup event may make `inst` master at once: an address
/// owner (RFC 5798 §6.4.1) that does not start in Fault (its link down, or
/// a weight-0 tracker failed, known at a reload).
fn may_start_as_master(inst: &Instance) -> bool {
    inst.router.config().priority == Priority::OWNER
        && inst.link_up
        && inst
            .router
            .track_effects()
            .all(|(_, e)| e != TrackEffect::Fault)
}
