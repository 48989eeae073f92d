//! The netlink input: link up/down, an address removed behind our back,
//! and resynchronisation after lost events.

use tracing::{info, warn};

use crate::io::netlink::NetEvent;

use super::Daemon;

impl Daemon {
    pub(super) async fn on_net_event(&mut self, ev: NetEvent) {
        // An added address concerns no instance (the kernel echoes every VIP
        // vrrpd adds or renews, one per VIP per second with leases): the
        // subscription drops them in the kernel (`startup.rs`), and one that
        // came anyway would change nothing. The other events may concern any.
        if !matches!(ev, NetEvent::AddrAdded { .. }) {
            self.all_dirty = true;
        }
        let now = self.clock.now();
        match ev {
            NetEvent::Link { index, name, up } => {
                for inst in self.instances.iter_mut().filter(|i| i.ifindex == index) {
                    if inst.link_up != up {
                        info!(instance = %inst.cfg.name, interface = %name, up, "link state changed");
                        inst.link_up = up;
                        inst.router.handle_iface(now, up);
                    }
                }
                // The announce interface is ours: down, it would withdraw
                // every announced VIP (no connected routes on a down link).
                if !up
                    && self
                        .announce_link
                        .as_ref()
                        .is_some_and(|(_, i)| *i == index)
                {
                    warn!(interface = %name, "the announce interface went down; bringing it up again");
                    if let Err(e) = self.netlink.set_link_up(index, true).await {
                        warn!(interface = %name, error = %e, "cannot bring the announce interface up");
                    }
                }
            }
            NetEvent::AddrRemoved {
                index,
                addr,
                prefix_len,
            } => {
                for inst in self.instances.iter_mut() {
                    if inst.vips_installed
                        && inst
                            .placements()
                            .iter()
                            .any(|p| p.ifindex == index && p.addr == addr)
                    {
                        // With leases, also what a stalled loop sees: the
                        // kernel let the lease run out before the renewal.
                        warn!(
                            instance = %inst.cfg.name,
                            vip = %addr,
                            prefix_len,
                            ifindex = index,
                            "VIP gone while held (removed by another program, or its lease ran out while this daemon was stalled); restoring it"
                        );
                        inst.add_vips(&self.netlink).await;
                        inst.announce(1);
                    }
                }
            }
            NetEvent::AddrAdded { .. } => {}
            NetEvent::Overrun => {
                // Resynchronise link states after lost events.
                for inst in &mut self.instances {
                    if let Ok(Some(link)) = self.netlink.link_by_index(inst.ifindex).await {
                        if link.up != inst.link_up {
                            inst.link_up = link.up;
                            inst.router.handle_iface(now, link.up);
                        }
                    }
                }
            }
        }
    }
}
