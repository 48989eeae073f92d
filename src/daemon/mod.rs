//! The daemon: the event loop joining the protocol core to the IO shell.
//!
//! One task owns every [`VirtualRouter`] (no locks). It waits on:
//! - packets on one raw socket per (interface, family), read by this task
//!   itself, so that a packet and a timer ready in the same wake-up are
//!   both seen before either is acted on;
//! - netlink link and address events;
//! - the next protocol deadline;
//! - signals (TERM/INT: graceful stop; HUP: reload) and control-socket requests.
//!
//! After each input it drains the routers' actions in order and carries them
//! out: adverts on the raw socket, VIPs through netlink, ARP/NA frames on an
//! AF_PACKET socket.

pub mod caps;
mod control;
mod instance;
mod keeper;
pub mod metrics;
mod ratelimit;
pub mod realtime;
pub mod rx;
pub mod sdnotify;
pub mod status;
mod timer;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::config::{self, Config, Family};
use crate::core::router::State;
use crate::core::time::Instant;
use crate::io::netlink::{NetEvent, Netlink};
use crate::io::vrrp_socket::{RxPacket, VrrpSocket};
use crate::io::IoError;
use crate::notify::Notifier;
use crate::track::{TrackEvent, TrackState, TrackerSet};

pub use control::{request, ControlRequest};
use instance::Instance;
use ratelimit::{RateLimit, Verdict};
pub use timer::Clock;

/// Errors that stop the daemon from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    /// A configured interface does not exist.
    #[error("instance {instance}: interface {interface} does not exist")]
    NoInterface {
        /// Instance name.
        instance: String,
        /// Interface name.
        interface: String,
    },
    /// An interface has no address to send advertisements from.
    #[error("instance {instance}: interface {interface} has no {family} address to send from (set source_ip or add one)")]
    NoSourceAddress {
        /// Instance name.
        instance: String,
        /// Interface name.
        interface: String,
        /// Address family.
        family: Family,
    },
    /// A socket, netlink or signal operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: IoError,
    },
    /// Setting up signal handling or the control socket failed.
    #[error("{context}: {source}")]
    Os {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

/// One raw socket per interface and family, shared by the instances on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SocketKey {
    ifindex: u32,
    family: Family,
}

/// Command-line options for the daemon.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The configuration file.
    pub config_path: PathBuf,
    /// Overrides `global.control_socket`.
    pub control_socket: Option<PathBuf>,
    /// systemd's `$NOTIFY_SOCKET`, read (and removed from the environment,
    /// so that children do not inherit it) by `main` before any thread starts.
    pub notify_socket: Option<String>,
    /// The capabilities kept at start, when `main` dropped the others; a
    /// reload that needs more is warned about.
    pub capabilities: Option<::caps::CapsHashSet>,
}

/// The running daemon.
struct Daemon {
    opts: RunOptions,
    config: Config,
    clock: Clock,
    netlink: Netlink,
    instances: Vec<Instance>,
    /// The VRRP sockets, read by the event loop itself (see [`poll_sockets`]).
    sockets: Vec<(SocketKey, Arc<VrrpSocket>)>,
    /// Where the next poll of the sockets starts, so that a busy socket
    /// cannot starve the others.
    rx_next: usize,
    /// Scratch space for one received packet.
    rx_buf: Vec<u8>,
    /// Drops before demultiplexing, by reason.
    drops: BTreeMap<String, u64>,
    logs: RateLimit,
    /// The running trackers; replaced when a reload changes them.
    trackers: TrackerSet,
    track_tx: mpsc::Sender<TrackEvent>,
    /// The last state and detail each tracker reported.
    track_states: HashMap<String, (TrackState, String)>,
    /// Runs notify commands and writes the event FIFO, off the event loop.
    notifier: Notifier,
    /// Instance by (ifindex, family, VRID): the receive path's demultiplexer.
    index: HashMap<(u32, Family, u8), usize>,
    /// Every instance's next deadline, ordered, and what is scheduled for
    /// each, so that a packet or a timer costs O(log n), not O(instances).
    deadlines: BTreeSet<(Instant, usize)>,
    scheduled: Vec<Option<Instant>>,
    /// Instances an input touched since the last drain; `all_dirty` for
    /// inputs that may touch any (link events, trackers, control, reload).
    dirty: Vec<usize>,
    all_dirty: bool,
    /// Sends every other advert of a master from another CPU, and covers
    /// for this loop when it is late (`None`: off, or one CPU).
    keeper: Option<keeper::Keeper>,
}

/// Run the daemon until SIGTERM or SIGINT. Returns after every master has
/// sent priority 0 and removed its VIPs.
pub async fn run(opts: RunOptions) -> Result<(), DaemonError> {
    let config = config::load(&opts.config_path)?;
    for w in &config.warnings {
        warn!(config = %opts.config_path.display(), "{w}");
    }
    let netlink = Netlink::new().map_err(|source| DaemonError::Io {
        context: "opening netlink".into(),
        source,
    })?;
    let mut net_events = netlink.subscribe().map_err(|source| DaemonError::Io {
        context: "subscribing to netlink events".into(),
        source,
    })?;
    let os = |context: &str| {
        let context = context.to_owned();
        move |source| DaemonError::Os { context, source }
    };
    let mut sigterm = signal(SignalKind::terminate()).map_err(os("installing SIGTERM handler"))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(os("installing SIGINT handler"))?;
    let mut sighup = signal(SignalKind::hangup()).map_err(os("installing SIGHUP handler"))?;

    let socket_path = opts
        .control_socket
        .clone()
        .unwrap_or_else(|| config.global.control_socket.clone());
    let (ctl_tx, mut ctl_rx) = mpsc::channel(16);
    let _control = control::serve(&socket_path, ctl_tx)
        .map_err(os(&format!("control socket {}", socket_path.display())))?;

    let (metrics_tx, mut metrics_rx) = mpsc::channel::<metrics::SnapshotRequest>(8);
    let _metrics = match config.global.metrics_listen {
        Some(addr) => Some(
            metrics::serve(addr, metrics_tx)
                .await
                .map_err(os(&format!("metrics_listen {addr}")))?
                .0,
        ),
        None => None,
    };
    let sd = match &opts.notify_socket {
        Some(v) => sdnotify::SdNotify::to_address(v).unwrap_or_else(|e| {
            warn!(error = %e, "ignoring NOTIFY_SOCKET");
            sdnotify::SdNotify::disabled()
        }),
        None => sdnotify::SdNotify::disabled(),
    };

    let (track_tx, mut track_rx) = mpsc::channel(256);
    let trackers = TrackerSet::spawn(&config.tracks, track_tx.clone());
    let notifier = Notifier::new(config.global.notify_fifo.clone());
    let mut d = Daemon {
        opts,
        config: config.clone(),
        clock: Clock::new(),
        netlink,
        instances: Vec::new(),
        sockets: Vec::new(),
        rx_next: 0,
        rx_buf: vec![0u8; RX_BUF_LEN],
        drops: BTreeMap::new(),
        logs: RateLimit::new(5, Duration::from_secs(10)),
        trackers,
        track_tx,
        track_states: HashMap::new(),
        notifier,
        index: HashMap::new(),
        deadlines: BTreeSet::new(),
        scheduled: Vec::new(),
        dirty: Vec::new(),
        all_dirty: true,
        keeper: keeper::Keeper::start_from_env(),
    };
    for ic in &config.instances {
        let inst = d.setup_instance(ic).await?;
        d.instances.push(inst);
    }
    d.reindex();
    let now = d.clock.now();
    for inst in &mut d.instances {
        inst.start(now);
    }
    d.drain().await;
    info!(
        instances = d.instances.len(),
        control_socket = %socket_path.display(),
        metrics = ?config.global.metrics_listen,
        "vrrpd started"
    );
    sd.send(&sdnotify::Message::Status(format!(
        "{} instances",
        d.instances.len()
    )));
    sd.send(&sdnotify::Message::Ready);

    let mut timer =
        timer::DeadlineTimer::new(d.clock).map_err(os("creating the protocol timer (timerfd)"))?;
    loop {
        if let Err(e) = timer.arm(d.next_deadline()) {
            // Cannot happen with a valid timerfd; go on rather than stop.
            warn!(error = %e, "cannot arm the protocol timer");
        }
        if let Some(k) = &d.keeper {
            k.note_loop_cpu();
        }
        // The sockets are read here, in the same task as the timer: when a
        // packet and an expired deadline are ready in one wake-up, the
        // timer branch still sees the packet (`on_timers` reads queued
        // packets first). The timer comes before the packets so that a
        // flood cannot delay the master's adverts.
        tokio::select! {
            biased;
            _ = sigterm.recv() => { info!(signal = "SIGTERM", "stopping"); break; }
            _ = sigint.recv() => { info!(signal = "SIGINT", "stopping"); break; }
            _ = sighup.recv() => {
                sd.send(&sdnotify::Message::Reloading { monotonic_usec: sdnotify::monotonic_usec() });
                let before = d.config.global.clone();
                d.reload().await;
                d.warn_not_reloadable(&before);
                sd.send(&sdnotify::Message::Ready);
            }
            _ = timer.expired() => d.on_timers(),
            (key, result) = std::future::poll_fn(|cx| poll_sockets(cx, &d.sockets, &mut d.rx_next, &mut d.rx_buf)) => {
                d.on_packet(key, result);
            }
            Some(ev) = net_events.recv() => d.on_net_event(ev).await,
            Some(ev) = track_rx.recv() => d.on_track(ev),
            Some((req, reply)) = ctl_rx.recv() => d.on_control(req, reply),
            Some(reply) = metrics_rx.recv() => { let _ = reply.send(d.status()); }
        }
        d.drain().await;
    }
    sd.send(&sdnotify::Message::Stopping);
    d.shutdown().await;
    let _ = std::fs::remove_file(&socket_path);
    // notify_stop commands and the last FIFO lines: wait a little, never long.
    let _ = tokio::time::timeout(Duration::from_millis(500), d.notifier.shutdown()).await;
    Ok(())
}

impl Daemon {
    /// Resolve an instance's interface and addresses, open (or share) its
    /// socket, and remove VIPs a crashed earlier run left behind.
    async fn setup_instance(&mut self, ic: &config::Instance) -> Result<Instance, DaemonError> {
        let io = |context: String| move |source| DaemonError::Io { context, source };
        let link = self
            .netlink
            .link_by_name(&ic.interface)
            .await
            .map_err(io(format!("looking up interface {}", ic.interface)))?
            .ok_or_else(|| DaemonError::NoInterface {
                instance: ic.name.clone(),
                interface: ic.interface.clone(),
            })?;
        let primary: Option<IpAddr> = match (ic.source_ip, ic.family) {
            (Some(ip), _) => Some(ip),
            (None, Family::Ipv4) => self
                .netlink
                .primary_ipv4(link.index)
                .await
                .map_err(io(format!("reading addresses of {}", ic.interface)))?
                .map(IpAddr::V4),
            (None, Family::Ipv6) => self
                .netlink
                .link_local_v6(link.index)
                .await
                .map_err(io(format!("reading addresses of {}", ic.interface)))?
                .map(IpAddr::V6),
        };
        let primary = primary.ok_or_else(|| DaemonError::NoSourceAddress {
            instance: ic.name.clone(),
            interface: ic.interface.clone(),
            family: ic.family,
        })?;
        let key = SocketKey {
            ifindex: link.index,
            family: ic.family,
        };
        let socket = match self.sockets.iter().find(|(k, _)| *k == key) {
            Some((_, s)) => s.clone(),
            None => {
                let s = match primary {
                    IpAddr::V4(a) => VrrpSocket::open_v4(&ic.interface, link.index, Some(a)),
                    IpAddr::V6(a) => VrrpSocket::open_v6(&ic.interface, link.index, Some(a)),
                }
                .map_err(io(format!("opening VRRP socket on {}", ic.interface)))?;
                let s = Arc::new(s);
                self.sockets.push((key, s.clone()));
                s
            }
        };
        let mut inst = Instance::new(ic.clone(), &self.config, link, primary, socket)
            .map_err(io(format!("opening packet socket on {}", ic.interface)))?;
        inst.set_keeper(self.keeper.as_ref().map(keeper::Keeper::slot));
        inst.setup_vmac(&self.netlink).await.map_err(io(format!(
            "creating the virtual MAC interface on {}",
            ic.interface
        )))?;
        inst.remove_stale_vips(&self.netlink).await;
        Ok(inst)
    }

    /// Rebuild the demultiplexer and the deadline set after the instance
    /// list changed; every instance is drained and rescheduled next.
    fn reindex(&mut self) {
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
    fn reschedule(&mut self, n: usize) {
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

    fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Only the instances whose deadline has come are woken.
    ///
    /// A backup's deadline is its Master_Down_Timer. Before it is taken as
    /// expired, the packets already queued in the sockets are read: after a
    /// stall (the process or the VM not scheduled for a while) the master's
    /// adverts may be waiting there, and the master never went silent.
    fn on_timers(&mut self) {
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
    }

    /// Hand every packet already queued in the sockets to [`Self::on_packet`]
    /// (at most [`RX_BATCH`] per socket), without waiting.
    fn read_queued(&mut self) {
        let mut buf = std::mem::take(&mut self.rx_buf);
        for i in 0..self.sockets.len() {
            let (key, socket) = self.sockets[i].clone();
            for _ in 0..RX_BATCH {
                match socket.try_recv(&mut buf) {
                    Err(IoError::WouldBlock) => break,
                    result => self.on_packet(key, result),
                }
            }
        }
        self.rx_buf = buf;
    }

    /// The receive path: TTL, parse (length, version, type, checksum), VRID
    /// demultiplexing, then the instance's own checks.
    fn on_packet(&mut self, key: SocketKey, result: Result<RxPacket, IoError>) {
        let pkt = match result {
            Ok(p) => p,
            Err(e) if e.is_packet_error() => {
                self.count_drop("malformed_ip", &format!("{e}"), None);
                return;
            }
            Err(e) => {
                self.count_drop(
                    "socket_error",
                    &format!("VRRP socket receive failed: {e}"),
                    None,
                );
                return;
            }
        };
        let adv = match rx::accept(&pkt) {
            Ok(a) => a,
            Err(reason) => {
                self.count_drop(reason, "dropped packet", Some(pkt.src));
                return;
            }
        };
        let now = self.clock.now();
        let key = (key.ifindex, key.family, adv.0.vrid);
        let Some(&n) = self.index.get(&key) else {
            self.count_drop(
                "vrid_unknown",
                "advert for a VRID we do not run",
                Some(pkt.src),
            );
            return;
        };
        self.dirty.push(n);
        let inst = &mut self.instances[n];
        match inst.router.handle_advert(now, pkt.src, &adv.0) {
            Ok(()) => inst.checksum_seen(adv.1),
            Err(reason) => {
                let key = format!("{}:{}", inst.cfg.name, reason.name());
                match self.logs.check(&key, std::time::Instant::now()) {
                    Verdict::Suppress => {}
                    v => warn!(
                        instance = %inst.cfg.name,
                        src = %pkt.src,
                        reason = reason.name(),
                        suppressed = suppressed(&v),
                        "dropped advertisement"
                    ),
                }
            }
        }
    }

    fn count_drop(&mut self, reason: &str, msg: &str, src: Option<IpAddr>) {
        *self.drops.entry(reason.to_owned()).or_default() += 1;
        match self.logs.check(reason, std::time::Instant::now()) {
            Verdict::Suppress => {}
            v => warn!(
                reason,
                src = src.map(|s| s.to_string()).unwrap_or_default(),
                suppressed = suppressed(&v),
                "{msg}"
            ),
        }
    }

    async fn on_net_event(&mut self, ev: NetEvent) {
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

    /// A tracker changed: apply its effect to every instance that uses it.
    fn on_track(&mut self, ev: TrackEvent) {
        self.all_dirty = true;
        let now = self.clock.now();
        let weight = self.config.track(&ev.name).map_or(0, |t| t.weight);
        let effect = track_effect(weight, ev.state);
        info!(tracker = %ev.name, state = %ev.state, detail = %ev.detail, "tracker changed");
        for inst in self
            .instances
            .iter_mut()
            .filter(|i| i.cfg.track.contains(&ev.name))
        {
            inst.router.handle_track(now, &ev.name, effect);
        }
        self.track_states.insert(ev.name, (ev.state, ev.detail));
    }

    fn on_control(&mut self, req: ControlRequest, reply: oneshot::Sender<String>) {
        self.all_dirty = true;
        let now = self.clock.now();
        let answer = match req {
            ControlRequest::Status => serde_json::to_string(&self.status())
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
            ControlRequest::Maintenance { instance, on } => {
                match self.instances.iter_mut().find(|i| i.cfg.name == instance) {
                    Some(inst) => {
                        inst.router.handle_maintenance(now, on);
                        info!(instance = %instance, on, "maintenance set by operator");
                        serde_json::json!({"ok": true, "instance": instance, "maintenance": on})
                            .to_string()
                    }
                    None => {
                        serde_json::json!({"ok": false, "error": format!("no instance {instance}")})
                            .to_string()
                    }
                }
            }
        };
        let _ = reply.send(answer);
    }

    fn status(&self) -> status::Status {
        let now = self.clock.now();
        let now_unix_ms = unix_ms_now();
        status::Status {
            version: env!("CARGO_PKG_VERSION").into(),
            pid: std::process::id(),
            config: self.opts.config_path.display().to_string(),
            instances: self
                .instances
                .iter()
                .map(|i| {
                    let mut s = i.status(&self.track_states);
                    s.last_master_seen = i.router.last_heard().map(|h| status::MasterSeen {
                        address: h.addr.to_string(),
                        priority: h.priority.get(),
                        at_unix_ms: now_unix_ms
                            .saturating_sub(now.saturating_duration_since(h.at).as_millis() as u64),
                    });
                    s
                })
                .collect(),
            drops: self.drops.clone(),
        }
    }

    /// Sync groups: hold members out of mastership while another member
    /// is in Fault or lost its election, until nothing changes.
    fn apply_sync(&mut self) {
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
    async fn drain(&mut self) {
        let all = self.all_dirty || !self.config.sync_groups.is_empty();
        self.apply_sync();
        let touched: Vec<usize> = if all {
            (0..self.instances.len()).collect()
        } else {
            let mut d = std::mem::take(&mut self.dirty);
            d.sort_unstable();
            d.dedup();
            d
        };
        for n in touched {
            self.instances[n].drain(&self.netlink, &self.notifier).await;
            self.reschedule(n);
        }
        self.dirty.clear();
        self.all_dirty = false;
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
        // Removed instances: stop cleanly.
        let mut kept = Vec::new();
        for mut inst in std::mem::take(&mut self.instances) {
            if new.instance(&inst.cfg.name).is_some() {
                kept.push(inst);
            } else {
                info!(instance = %inst.cfg.name, "instance removed by reload; stopping it");
                inst.router.handle_shutdown(now);
                inst.drain(&self.netlink, &self.notifier).await;
                inst.remove_vips(&self.netlink).await;
                inst.teardown_vmac(&self.netlink).await;
            }
        }
        self.instances = kept;
        self.config = new.clone();
        let mut result = Vec::new();
        for ic in &new.instances {
            let pos = self.instances.iter().position(|i| i.cfg.name == ic.name);
            match pos {
                Some(p) => {
                    let mut inst = self.instances.remove(p);
                    if inst.cfg == *ic && inst.tracks_unchanged(&new) {
                        result.push(inst);
                        continue;
                    }
                    if inst.cfg.interface == ic.interface && inst.reconfigure(now, ic.clone(), &new)
                    {
                        info!(instance = %ic.name, "instance reconfigured in place");
                        result.push(inst);
                        continue;
                    }
                    info!(instance = %ic.name, "instance changed; restarting it");
                    inst.router.handle_shutdown(now);
                    inst.drain(&self.netlink, &self.notifier).await;
                    inst.remove_vips(&self.netlink).await;
                    inst.teardown_vmac(&self.netlink).await;
                    match self.setup_instance(ic).await {
                        Ok(mut n) => {
                            self.apply_known_tracks(&mut n, now);
                            n.start(now);
                            result.push(n);
                        }
                        Err(e) => {
                            error!(instance = %ic.name, error = %e, "cannot restart instance")
                        }
                    }
                }
                None => match self.setup_instance(ic).await {
                    Ok(mut n) => {
                        info!(instance = %ic.name, "instance added by reload");
                        self.apply_known_tracks(&mut n, now);
                        n.start(now);
                        result.push(n);
                    }
                    Err(e) => error!(instance = %ic.name, error = %e, "cannot start instance"),
                },
            }
        }
        self.instances = result;
        self.reindex();
        info!(instances = self.instances.len(), "reload done");
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

    /// Every master sends priority 0 and removes its VIPs; the counters go to the log.
    async fn shutdown(&mut self) {
        let now = self.clock.now();
        for inst in &mut self.instances {
            inst.router.handle_shutdown(now);
            inst.drain(&self.netlink, &self.notifier).await;
            // Belt and braces: whatever the state, leave no VIP behind.
            inst.remove_vips(&self.netlink).await;
            inst.teardown_vmac(&self.netlink).await;
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

/// What a tracker's state does to the instances that use it, given its weight
/// (keepalived's semantics):
/// - weight 0: Fault while down (for `file`: while the value is not 0);
/// - negative: added to the priority while down;
/// - positive: added to the priority while up;
/// - `file`: value × weight is added; at or below -254 it is Fault.
pub fn track_effect(weight: i16, state: TrackState) -> crate::core::router::TrackEffect {
    use crate::core::router::TrackEffect;
    let w = weight as i32;
    match state {
        TrackState::Up if w > 0 => TrackEffect::Priority(w),
        TrackState::Up => TrackEffect::None,
        TrackState::Down if w == 0 => TrackEffect::Fault,
        TrackState::Down if w < 0 => TrackEffect::Priority(w),
        TrackState::Down => TrackEffect::None,
        TrackState::Value(0) => TrackEffect::None,
        TrackState::Value(_) if w == 0 => TrackEffect::Fault,
        TrackState::Value(v) => {
            let d = v.saturating_mul(w as i64);
            if d <= -254 {
                TrackEffect::Fault
            } else {
                TrackEffect::Priority(d.min(254) as i32)
            }
        }
    }
}

/// Wall-clock time in milliseconds since the Unix epoch.
fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

fn suppressed(v: &Verdict) -> u64 {
    match v {
        Verdict::LogAfterSuppressing(n) => *n,
        _ => 0,
    }
}

/// Scratch space for one received packet: the largest IP datagram.
const RX_BUF_LEN: usize = 65536;

/// How many queued packets one socket may hand over per timer wake-up.
const RX_BATCH: usize = 256;

/// Poll the sockets for one packet, starting after the socket that gave
/// the last one.
fn poll_sockets(
    cx: &mut std::task::Context<'_>,
    sockets: &[(SocketKey, Arc<VrrpSocket>)],
    next: &mut usize,
    buf: &mut [u8],
) -> std::task::Poll<(SocketKey, Result<RxPacket, IoError>)> {
    let len = sockets.len();
    for i in 0..len {
        let n = (*next + i) % len;
        let (key, socket) = &sockets[n];
        if let std::task::Poll::Ready(result) = socket.poll_recv(cx, buf) {
            *next = (n + 1) % len;
            return std::task::Poll::Ready((*key, result));
        }
    }
    std::task::Poll::Pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::router::TrackEffect;

    #[test]
    fn tracker_effects_follow_keepalived() {
        assert_eq!(
            track_effect(-100, TrackState::Down),
            TrackEffect::Priority(-100)
        );
        assert_eq!(track_effect(-100, TrackState::Up), TrackEffect::None);
        assert_eq!(track_effect(0, TrackState::Down), TrackEffect::Fault);
        assert_eq!(track_effect(0, TrackState::Up), TrackEffect::None);
        assert_eq!(track_effect(20, TrackState::Up), TrackEffect::Priority(20));
        assert_eq!(track_effect(20, TrackState::Down), TrackEffect::None);
        assert_eq!(
            track_effect(-10, TrackState::Value(3)),
            TrackEffect::Priority(-30)
        );
        assert_eq!(track_effect(-10, TrackState::Value(0)), TrackEffect::None);
        assert_eq!(track_effect(-100, TrackState::Value(3)), TrackEffect::Fault);
        assert_eq!(track_effect(0, TrackState::Value(1)), TrackEffect::Fault);
        assert_eq!(
            track_effect(10, TrackState::Value(100)),
            TrackEffect::Priority(254)
        );
    }
}
