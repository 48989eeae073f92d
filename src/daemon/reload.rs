//! Reload (SIGHUP): the file is loaded again and applied without flaps.
//! Unchanged instances keep their state, a changed priority takes effect in
//! place, other changes restart only that instance, removed instances stop
//! cleanly, and a file that fails validation changes nothing.

use tracing::{error, info, warn};

use crate::config::{self, Config};
use crate::core::time::Instant;
use crate::track::TrackerSet;

use super::instance::Instance;
use super::sdnotify::{self, SdNotify};
use super::shutdown::stop_instance;
use super::tracking::track_effect;
use super::{caps, Daemon};

impl Daemon {
    /// SIGHUP: systemd hears of the reload, the file is applied, and the
    /// settings that need a restart are named.
    pub(super) async fn on_sighup(&mut self, sd: &SdNotify) {
        sd.send(&sdnotify::Message::Reloading {
            monotonic_usec: sdnotify::monotonic_usec(),
        });
        let before = self.config.global.clone();
        self.reload().await;
        self.warn_not_reloadable(&before);
        sd.send(&sdnotify::Message::Ready);
    }

    /// SIGHUP: load the file again. Unchanged instances keep their state;
    /// changed ones are reconfigured in place when possible, else replaced;
    /// removed ones stop cleanly; new ones start. A file that fails
    /// validation changes nothing.
    async fn reload(&mut self) {
        info!(config = %self.opts.config_path.display(), "reloading configuration");
        let new = match config::load(&self.opts.config_path) {
            Ok(c) => {
                for w in &c.warnings {
                    warn!(config = %self.opts.config_path.display(), "{w}");
                }
                c
            }
            Err(e) => {
                error!(error = %e, "reload failed; keeping the running configuration");
                return;
            }
        };
        let now = self.clock.now();
        if new.tracks != self.config.tracks {
            self.restart_trackers(now, &new);
        }
        self.stop_removed(now, &new).await;
        self.config = new.clone();
        let mut result = Vec::new();
        let mut started = Vec::new();
        for ic in &new.instances {
            if let Some((inst, start)) = self.reload_instance(now, ic, &new).await {
                if start {
                    started.push(result.len());
                }
                result.push(inst);
            }
        }
        self.instances = result;
        self.reindex();
        self.start_new(now, &started);
        // A new vip_lease: every VIP held gets the new lifetime now (or
        // none), and renewals follow the new period.
        if self.leases.reconfigure(&new.global.vip_lease) {
            info!(vip_lease = ?new.global.vip_lease.lifetime, "vip_lease changed; applying it to the VIPs held");
            for inst in self.instances.iter_mut().filter(|i| i.vips_installed) {
                inst.add_vips(&self.netlink).await;
            }
        }
        info!(instances = self.instances.len(), "reload done");
    }

    /// The trackers changed: restart them all.
    fn restart_trackers(&mut self, now: Instant, new: &Config) {
        info!("trackers changed; restarting them");
        self.trackers = TrackerSet::spawn(&new.tracks, self.track_tx.clone());
        self.track_states.clear();
        // Effects of trackers that no longer exist are dropped; the
        // others are reported afresh by the new tracker tasks.
        for inst in &mut self.instances {
            let gone: Vec<String> = inst
                .router
                .track_effects()
                .map(|(n, _)| n.to_owned())
                .filter(|n| new.track(n).is_none())
                .collect();
            for n in gone {
                inst.router
                    .handle_track(now, &n, crate::core::router::TrackEffect::None);
            }
        }
    }

    /// Removed instances: stop cleanly.
    async fn stop_removed(&mut self, now: Instant, new: &Config) {
        let mut kept = Vec::new();
        for mut inst in std::mem::take(&mut self.instances) {
            if new.instance(&inst.cfg.name).is_some() {
                kept.push(inst);
            } else {
                info!(instance = %inst.cfg.name, "instance removed by reload; stopping it");
                stop_instance(&mut inst, now, &self.netlink, &self.notifier).await;
            }
        }
        self.instances = kept;
    }

    /// One instance of the new file: the running one kept as it is,
    /// reconfigured in place, or restarted; or a new one. With `true` when
    /// it is new and waits for its Startup event, which `reload` gives once
    /// every instance is in place ([`Daemon::start_new`]: its sync group's
    /// hold first). `None` when it cannot be (re)started (logged).
    async fn reload_instance(
        &mut self,
        now: Instant,
        ic: &config::Instance,
        new: &Config,
    ) -> Option<(Instance, bool)> {
        let pos = self.instances.iter().position(|i| i.cfg.name == ic.name);
        match pos {
            Some(p) => {
                let mut inst = self.instances.remove(p);
                let announce_same = inst.announce_link_is(&new.global.announce_interface);
                if inst.cfg == *ic && inst.tracks_unchanged(new) && announce_same {
                    return Some((inst, false));
                }
                if announce_same
                    && inst.cfg.interface == ic.interface
                    && inst.reconfigure(now, ic.clone(), new)
                {
                    info!(instance = %ic.name, "instance reconfigured in place");
                    return Some((inst, false));
                }
                info!(instance = %ic.name, "instance changed; restarting it");
                stop_instance(&mut inst, now, &self.netlink, &self.notifier).await;
                match self.setup_instance(ic).await {
                    Ok(mut n) => {
                        self.apply_known_tracks(&mut n, now);
                        Some((n, true))
                    }
                    Err(e) => {
                        error!(instance = %ic.name, error = %e, "cannot restart instance");
                        None
                    }
                }
            }
            None => match self.setup_instance(ic).await {
                Ok(mut n) => {
                    info!(instance = %ic.name, "instance added by reload");
                    self.apply_known_tracks(&mut n, now);
                    Some((n, true))
                }
                Err(e) => {
                    error!(instance = %ic.name, error = %e, "cannot start instance");
                    None
                }
            },
        }
    }

    /// A new instance (restarted or added by a reload) starts with the
    /// trackers' last known states: a running tracker only reports changes,
    /// so without this a failed tracker would not count until it changes
    /// again (found by the simulator, docs/SIMULATION.md).
    fn apply_known_tracks(&self, inst: &mut Instance, now: Instant) {
        for name in &inst.cfg.track {
            if let Some((state, _)) = self.track_states.get(name) {
                let weight = self.config.track(name).map_or(0, |t| t.weight);
                inst.router
                    .handle_track(now, name, track_effect(weight, *state));
            }
        }
    }

    /// After a reload: say which new settings need a restart (the metrics
    /// listener, capabilities dropped at start).
    fn warn_not_reloadable(&self, before: &config::Global) {
        if self.config.global.metrics_listen != before.metrics_listen {
            warn!(
                old = ?before.metrics_listen,
                new = ?self.config.global.metrics_listen,
                "metrics_listen changed; restart vrrpd to apply it"
            );
        }
        if let Some(kept) = &self.opts.capabilities {
            for n in caps::missing_after_reload(kept, &self.config) {
                warn!(capability = %n.cap, why = %n.why, "the new configuration needs a capability dropped at start; restart vrrpd");
            }
        }
    }
}
