//! The netlink input: link up/down, an address removed behind our back,
//! and resynchronisation after lost events.

use tracing::{info, warn};

use crate::io::netlink::NetEvent;

use super::Daemon;

impl Daemon {
    pub(super) async fn on_net_event(&mut self, ev: NetEvent) {
        self.all_dirty = true;
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
            }
            NetEvent::AddrRemoved {
                index,
                addr,
                prefix_len,
            } => {
                for inst in self
                    .instances
                    .iter_mut()
                    .filter(|i| i.vip_ifindex() == index)
                {
                    if inst.vips_installed && inst.cfg.virtual_ips.iter().any(|v| v.addr == addr) {
                        warn!(
                            instance = %inst.cfg.name,
                            vip = %addr,
                            prefix_len,
                            "VIP removed by another program while master; restoring it"
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
