//! The event loop: wait for one input, hand it to its handler, carry out
//! the actions it caused; until SIGTERM or SIGINT.
//!
//! | input | handler |
//! |---|---|
//! | SIGTERM, SIGINT | leave the loop (then `shutdown.rs`) |
//! | SIGHUP | [`Daemon::on_sighup`] (`reload.rs`) |
//! | the protocol timer | [`Daemon::on_timers`] (`deadlines.rs`) |
//! | a VRRP packet | [`Daemon::on_packet`] (`rx.rs`) |
//! | a netlink event | [`Daemon::on_net_event`] (`net_event.rs`) |
//! | a tracker change | [`Daemon::on_track`] (`tracking.rs`) |
//! | a control request, a metrics scrape | [`Daemon::on_control`], [`Daemon::status`] (`requests.rs`) |
//!
//! After each: [`Daemon::drain`] (`actions.rs`).

use tracing::{info, warn};

use super::rx::poll_sockets;
use super::startup::Inputs;
use super::{os, timer, Daemon, DaemonError};

impl Daemon {
    /// Run the loop until SIGTERM or SIGINT.
    pub(super) async fn event_loop(&mut self, inputs: &mut Inputs) -> Result<(), DaemonError> {
        let mut timer = timer::DeadlineTimer::new(self.clock)
            .map_err(os("creating the protocol timer (timerfd)"))?;
        loop {
            if let Err(e) = timer.arm(self.next_deadline()) {
                // Cannot happen with a valid timerfd; go on rather than stop.
                warn!(error = %e, "cannot arm the protocol timer");
            }
            if let Some(k) = &self.keeper {
                k.note_loop_cpu();
            }
            // The sockets are read here, in the same task as the timer: when a
            // packet and an expired deadline are ready in one wake-up, the
            // timer branch still sees the packet (`on_timers` reads queued
            // packets first). The timer comes before the packets so that a
            // flood cannot delay the master's adverts.
            tokio::select! {
                biased;
                _ = inputs.sigterm.recv() => { info!(signal = "SIGTERM", "stopping"); break; }
                _ = inputs.sigint.recv() => { info!(signal = "SIGINT", "stopping"); break; }
                _ = inputs.sighup.recv() => self.on_sighup(&inputs.sd).await,
                _ = timer.expired() => self.on_timers(),
                (key, result) = std::future::poll_fn(|cx| poll_sockets(cx, &self.sockets, &mut self.rx_next, &mut self.rx_buf)) => {
                    self.on_packet(key, result);
                }
                Some(ev) = inputs.net_events.recv() => self.on_net_event(ev).await,
                Some(ev) = inputs.track_rx.recv() => self.on_track(ev),
                Some((req, reply)) = inputs.ctl_rx.recv() => self.on_control(req, reply),
                Some(reply) = inputs.metrics_rx.recv() => { let _ = reply.send(self.status()); }
            }
            self.drain().await;
        }
        Ok(())
    }
}
