//! Shutdown (SIGTERM/SIGINT): every master sends priority 0 and removes its
//! VIPs, the counters go to the log, the control socket file goes, and the
//! last notify commands get a moment to run. Also where one instance stops
//! for good ([`stop_instance`]), which a reload uses too.

use std::time::Duration;

use tracing::info;

use crate::core::time::Instant;
use crate::io::netlink::Netlink;
use crate::notify::Notifier;

use super::instance::Instance;
use super::sdnotify;
use super::startup::Inputs;
use super::Daemon;

impl Daemon {
    /// Stop every instance, then close what the start opened.
    pub(super) async fn shutdown(mut self, inputs: &Inputs) {
        inputs.sd.send(&sdnotify::Message::Stopping);
        self.stop_instances().await;
        let _ = std::fs::remove_file(&inputs.socket_path);
        // notify_stop commands and the last FIFO lines: wait a little, never long.
        let _ = tokio::time::timeout(Duration::from_millis(500), self.notifier.shutdown()).await;
    }

    /// Every master sends priority 0 and removes its VIPs; the counters go to the log.
    async fn stop_instances(&mut self) {
        let now = self.clock.now();
        for inst in &mut self.instances {
            stop_instance(inst, now, &self.netlink, &self.notifier).await;
            let s = inst.status(&self.track_states);
            info!(
                instance = %s.name,
                adverts_sent = s.counters.adverts_sent,
                adverts_received = s.counters.adverts_received,
                transitions = s.counters.transitions,
                drops = ?s.counters.drops,
                "final counters"
            );
        }
        info!(drops = ?self.drops, "vrrpd stopped");
    }
}

/// Stop one instance for good: the Shutdown event (a master sends priority
/// 0), its actions carried out, then its VIPs and macvlan removed whatever
/// its state. Used at shutdown and when a reload removes or replaces it.
pub(super) async fn stop_instance(
    inst: &mut Instance,
    now: Instant,
    nl: &Netlink,
    notifier: &Notifier,
) {
    inst.router.handle_shutdown(now);
    inst.drain(nl, notifier).await;
    // Belt and braces: whatever the state, leave no VIP behind.
    inst.remove_vips(nl).await;
    inst.teardown_vmac(nl).await;
}
