//! One configured instance at run time: its router, its interface, and the
//! code that carries out the router's actions.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

use crate::announce::{self, ActiveActive, VipLink};
use crate::config::{self, ChecksumForm, Config, Family};
use crate::core::auth::Verified;
use crate::core::peers::{Admitted, Gate, GateDrop};
use crate::core::router::{
    advert_lead, Action, Anomaly, DropReason, GarpPolicy, Reason, RouterConfig, State, TrackEffect,
    VirtualRouter,
};
use crate::core::time::Instant;
use crate::core::types::Version;
use crate::core::wire::auth::{append_trailer, Presigned};
use crate::core::wire::vrrp::{Advertisement, ChecksumMode};
use crate::core::wire::{self, virtual_mac, VRRP_MCAST_V4, VRRP_MCAST_V6};
use crate::io::netlink::{LeasedAddr, Lifetime, LinkInfo, Netlink};
use crate::io::packet_socket::{FrameSender, FrameSocket};
use crate::io::vrrp_socket::{TxBatch, VrrpSocket};
use crate::io::IoError;
use crate::notify::{Notifier, TransitionEvent};
use crate::track::TrackState;

use super::auth::{self, SharedSeq, Signer};
use super::keeper::{self, KeeperSlot};
use super::leases::Leases;
use super::ratelimit::{RateLimit, Verdict};
use super::startup::Links;
use super::status::{AuthHmacStatus, Counters, InstanceStatus, TrackerStatus, Transition};

/// The macvlan of a `use_vmac` instance.
struct Vmac {
    /// Interface name, `vrrp.VRID` (IPv4) or `vrrp6.VRID` (IPv6).
    name: String,
    /// Interface index.
    index: u32,
    /// The virtual MAC, 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6).
    mac: [u8; 6],
    /// Frames (ARP/NA) go out of the macvlan, from the virtual MAC.
    frames: FrameSender,
    /// Adverts go out of the macvlan too, from the virtual MAC (RFC 5798
    /// Section 7.3), while it is up; before (the very first advert of a
    /// new master) they go out of the parent.
    adverts: Arc<VrrpSocket>,
    /// Whether we brought the macvlan up.
    up: bool,
}

/// An instance and its IO resources.
pub(super) struct Instance {
    /// Its configuration.
    pub cfg: config::Instance,
    /// The protocol state machine.
    pub router: VirtualRouter,
    /// Interface index.
    pub ifindex: u32,
    /// Interface MAC, the source of ARP/NA frames.
    mac: [u8; 6],
    /// Our primary address: advert source and tie-breaker.
    primary: IpAddr,
    /// Last known link state.
    pub link_up: bool,
    /// Whether we have put the VIPs on the interface (and not removed them).
    pub vips_installed: bool,
    socket: Arc<VrrpSocket>,
    frames: FrameSender,
    /// With `use_vmac`: the macvlan carrying the RFC virtual MAC, where the
    /// VIPs live while master.
    vmac: Option<Vmac>,
    /// The trackers this instance uses, as configured (name, weight).
    tracks: Vec<(String, i32)>,
    last_transition: Option<Transition>,
    /// Bounds the log lines a misbehaving peer can cause.
    logs: RateLimit,
    /// How many accepted packets used each v3 IPv4 checksum form.
    checksum_pseudo: u64,
    checksum_message_only: u64,
    /// Where this master's adverts are recorded for the advert keeper.
    keeper: Option<KeeperSlot>,
    /// Who is heard (allow-list, TTL) and `auth_hmac` on receive.
    gate: Gate,
    /// `auth_hmac` on send (none without it, or in receive-only mode).
    signer: Option<Signer>,
    /// The last sequence signed, by the event loop or the keeper; kept
    /// across reloads.
    seq: Arc<SharedSeq>,
    /// The daemon's VIP leases (`None` in tests without a daemon).
    leases: Option<Leases>,
    /// With `announce = "bgp"` / `"both"`: the announce interface (name,
    /// index) the VIPs go on as host addresses.
    pub announce_link: Option<(String, u32)>,
    /// With `active_active`: whether the VIPs are held (no election).
    pub active: Option<ActiveActive>,
    /// The last advert sent, encoded for each destination.
    encoded: Encoded,
}

/// An advert encoded for each of its destinations (the group, or each
/// unicast peer), kept while the router keeps asking for the same one. The
/// buffers are reused when it changes: a new priority is re-encoded in
/// place.
///
/// An authentication trailer that changes with every packet (a sequence
/// number) is not part of this: it goes on after these bytes, per send.
struct Encoded {
    /// What `packets` hold; `None` before the first advert or after an error.
    advert: Option<Advertisement>,
    /// The bytes for each destination.
    packets: Vec<(Vec<u8>, IpAddr)>,
    /// With `auth_hmac`: `packets` with the trailer of the advert sent last
    /// (a fresh sequence per send), in buffers reused from one send to the
    /// next.
    signed: Vec<(Vec<u8>, IpAddr)>,
}

impl Encoded {
    /// Room for the adverts of an instance with this configuration.
    fn new(cfg: &config::Instance) -> Encoded {
        let dsts: Vec<IpAddr> = if cfg.unicast_peers.is_empty() {
            vec![match cfg.family {
                Family::Ipv4 => VRRP_MCAST_V4.into(),
                Family::Ipv6 => VRRP_MCAST_V6.into(),
            }]
        } else {
            cfg.unicast_peers.clone()
        };
        Encoded {
            advert: None,
            packets: dsts.iter().map(|d| (Vec::new(), *d)).collect(),
            signed: dsts.into_iter().map(|d| (Vec::new(), d)).collect(),
        }
    }

    /// Encode `adv` from `src` for every destination, into the buffers.
    fn encode(
        &mut self,
        adv: Advertisement,
        src: IpAddr,
        mode: ChecksumMode,
    ) -> Result<(), wire::WireError> {
        self.advert = None;
        let len = adv.buffer_len();
        for (buf, dst) in &mut self.packets {
            buf.resize(len, 0);
            adv.emit(buf, src, *dst, mode)?;
        }
        self.advert = Some(adv);
        Ok(())
    }

    /// Sign the encoded packets with `signer` at its next sequence, into
    /// `signed`: one trailer for every copy (the tag does not cover the
    /// destination), signed once, over the first destination's message as
    /// before. Returns the presigned state the keeper re-signs from. No
    /// allocation once the buffers have grown to the advert's size.
    fn sign(&mut self, signer: &Signer, src: IpAddr) -> Result<Presigned, wire::WireError> {
        let first = self.packets.first().ok_or(wire::WireError::Truncated)?;
        let (pre, trailer) = signer.sign(&src, &first.0);
        for ((bytes, dst), (out, _)) in self.packets.iter().zip(self.signed.iter_mut()) {
            out.clear();
            out.extend_from_slice(bytes);
            append_trailer(out, src, *dst, &trailer)?;
        }
        Ok(pre)
    }
}

impl Instance {
    /// Set up an instance on a resolved interface.
    pub fn new(
        cfg: config::Instance,
        config: &Config,
        link: LinkInfo,
        primary: IpAddr,
        socket: Arc<VrrpSocket>,
        frames: &Arc<FrameSocket>,
    ) -> Result<Self, IoError> {
        let frames = FrameSender::new(frames.clone(), link.index);
        let mut router = VirtualRouter::new(router_config(&cfg, primary));
        router.set_advert_lead(advert_lead(cfg.advert_interval));
        let gate = auth::gate_for(&cfg).map_err(|e| IoError::InvalidArgument(e.to_string()))?;
        let seq = Arc::new(SharedSeq::default());
        let signer = Signer::new(gate.auth(), &seq);
        let active = cfg.announce.active_active.then(ActiveActive::new);
        let encoded = Encoded::new(&cfg);
        Ok(Instance {
            tracks: tracks_of(&cfg, config),
            cfg,
            router,
            ifindex: link.index,
            mac: link.mac.unwrap_or([0; 6]),
            primary,
            link_up: link.up,
            vips_installed: false,
            socket,
            frames,
            vmac: None,
            last_transition: None,
            logs: RateLimit::new(5, Duration::from_secs(10)),
            checksum_pseudo: 0,
            checksum_message_only: 0,
            keeper: None,
            gate,
            signer,
            seq,
            leases: None,
            announce_link: None,
            active,
            encoded,
        })
    }

    /// The Startup event, after telling the router whether its link is up.
    /// An active-active instance has no election: its router never starts
    /// (it sends nothing), and `active.rs` decides when it holds its VIPs.
    pub fn start(&mut self, now: Instant) {
        if !self.link_up {
            warn!(instance = %self.cfg.name, interface = %self.cfg.interface, "interface is down at start");
            self.router.handle_iface(now, false);
        }
        if self.active.is_some() {
            info!(instance = %self.cfg.name, "active-active: no election; holding the VIPs while healthy");
            return;
        }
        self.router.handle_startup(now);
    }

    /// Give the instance the daemon's VIP leases, and the announce
    /// interface when its VIPs go there.
    pub fn set_vip_sinks(&mut self, leases: Leases, announce_link: Option<(String, u32)>) {
        self.leases = Some(leases);
        self.announce_link = announce_link;
    }

    /// Every address this instance adds while it holds its VIPs: on its
    /// link (or macvlan) and/or on the announce interface, as
    /// `announce` says ([`announce::placements`]).
    pub fn placements(&self) -> Vec<LeasedAddr> {
        announce::placements(self.cfg.announce.mode, &self.cfg.virtual_ips)
            .into_iter()
            .filter_map(|p| {
                let ifindex = match p.link {
                    VipLink::Vrrp => self.vip_ifindex(),
                    VipLink::Announce => self.announce_link.as_ref()?.1,
                };
                Some(LeasedAddr {
                    ifindex,
                    addr: p.addr,
                    prefix_len: p.prefix_len,
                })
            })
            .collect()
    }

    /// The lifetime this instance's VIPs get: the lease, or none for an
    /// address owner (priority 255), whose addresses are its own.
    fn vip_lifetime(&self) -> Option<Lifetime> {
        if self.cfg.priority.get() == 255 {
            return None;
        }
        self.leases.as_ref().and_then(Leases::lifetime)
    }

    /// Apply a changed configuration in place, if the router allows it.
    pub fn reconfigure(&mut self, now: Instant, cfg: config::Instance, config: &Config) -> bool {
        if cfg.virtual_ips != self.cfg.virtual_ips
            || cfg.family != self.cfg.family
            || cfg.use_vmac != self.cfg.use_vmac
            || cfg.announce != self.cfg.announce
        {
            return false;
        }
        let Ok(settings) = auth::settings_for(&cfg) else {
            return false;
        };
        if !self
            .router
            .reconfigure(now, router_config(&cfg, self.primary))
        {
            return false;
        }
        if cfg.auth_hmac != self.cfg.auth_hmac {
            // Keys rotated or mode changed: the keeper's copies were signed
            // the old way; it waits for the event loop's next advert.
            self.withdraw_from_keeper();
            info!(instance = %cfg.name, mode = ?settings.as_ref().map(|s| s.mode.name()), active_key = ?settings.as_ref().map(|s| s.active_key), "auth_hmac reconfigured");
        }
        self.gate.reconfigure(auth::rules_for(&cfg), settings);
        self.signer = Signer::new(self.gate.auth(), &self.seq);
        self.tracks = tracks_of(&cfg, config);
        // The unicast peers may have changed.
        self.encoded = Encoded::new(&cfg);
        self.cfg = cfg;
        self.share_adverts();
        true
    }

    /// Whether the trackers this instance uses are configured as before.
    pub fn tracks_unchanged(&self, config: &Config) -> bool {
        self.tracks == tracks_of(&self.cfg, config)
    }

    /// With `use_vmac`: create the macvlan (down) for this instance, replacing
    /// one a crashed run left behind. The parent gets `arp_ignore = 1`, so
    /// that only the macvlan, with the virtual MAC, answers ARP for the VIPs.
    pub async fn setup_vmac(&mut self, nl: &Netlink) -> Result<(), IoError> {
        if !self.cfg.use_vmac {
            return Ok(());
        }
        let (name, family) = match self.cfg.family {
            Family::Ipv4 => (
                format!("vrrp.{}", self.cfg.vrid),
                crate::core::wire::Family::Ipv4,
            ),
            Family::Ipv6 => (
                format!("vrrp6.{}", self.cfg.vrid),
                crate::core::wire::Family::Ipv6,
            ),
        };
        let mac = virtual_mac(family, self.cfg.vrid);
        nl.delete_link(&name).await?;
        nl.create_macvlan(self.ifindex, &name, mac).await?;
        let link = nl.link_by_name(&name).await?.ok_or_else(|| {
            IoError::InvalidArgument(format!("macvlan {name} vanished after creation"))
        })?;
        if self.cfg.family == Family::Ipv4 {
            // arp_ignore: the parent does not answer for addresses it does
            // not carry (the VIPs live on the macvlan). arp_announce: the
            // parent's own ARP requests name its own address, never a VIP,
            // so clients never learn the VIP at the parent's MAC.
            for (ifname, key, value) in [
                (self.cfg.interface.as_str(), "arp_ignore", "1"),
                (self.cfg.interface.as_str(), "arp_announce", "2"),
                (name.as_str(), "arp_ignore", "1"),
                (name.as_str(), "arp_announce", "2"),
            ] {
                let path = format!("/proc/sys/net/ipv4/conf/{ifname}/{key}");
                if let Err(e) = std::fs::write(&path, value) {
                    warn!(instance = %self.cfg.name, path, error = %e, "cannot set sysctl");
                }
            }
        }
        info!(instance = %self.cfg.name, vmac = %name, "virtual MAC interface created");
        let adverts = Arc::new(match self.primary {
            IpAddr::V4(a) => VrrpSocket::open_v4_sender(&name, link.index, Some(a))?,
            IpAddr::V6(a) => VrrpSocket::open_v6_sender(&name, link.index, Some(a))?,
        });
        self.vmac = Some(Vmac {
            frames: FrameSender::new(self.frames.socket().clone(), link.index),
            adverts,
            name,
            index: link.index,
            mac,
            up: false,
        });
        Ok(())
    }

    /// Delete the macvlan, if any (clean shutdown leaves nothing behind).
    pub async fn teardown_vmac(&mut self, nl: &Netlink) {
        if let Some(v) = self.vmac.take() {
            if let Err(e) = nl.delete_link(&v.name).await {
                warn!(instance = %self.cfg.name, vmac = %v.name, error = %e, "cannot delete macvlan");
            }
        }
    }

    /// The interface the VIPs live on: the macvlan with `use_vmac`, else the parent.
    pub fn vip_ifindex(&self) -> u32 {
        self.vmac.as_ref().map_or(self.ifindex, |v| v.index)
    }

    /// Count which checksum form an accepted packet used.
    pub fn checksum_seen(&mut self, mode: ChecksumMode) {
        match mode {
            ChecksumMode::PseudoHeader => self.checksum_pseudo += 1,
            ChecksumMode::MessageOnly => self.checksum_message_only += 1,
        }
    }

    /// The gate: allow-list, TTL and `auth_hmac` for an advert of this
    /// instance, before the router sees it. A refusal is counted (status
    /// `counters.drops`) and logged at a bounded rate.
    pub fn admit(
        &mut self,
        src: IpAddr,
        ttl: u8,
        message: &[u8],
        trailer: Option<&[u8]>,
    ) -> Result<(), GateDrop> {
        let wall = if self.gate.auth().is_some() {
            auth::wall_now()
        } else {
            Default::default()
        };
        match self.gate.admit(&src, ttl, message, trailer, wall) {
            Ok(Admitted::Auth(Verified::Signed {
                skew_warning: true,
                skew_secs,
                ..
            })) => {
                if let Some(suppressed) = self.may_log("auth_clock_skew") {
                    warn!(instance = %self.cfg.name, src = %src, skew_secs, suppressed, "authentication clock skew approaching the time window (check NTP)");
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(d) => {
                if let Some(suppressed) = self.may_log(d.name()) {
                    warn!(instance = %self.cfg.name, src = %src, ttl, reason = d.name(), detail = %d, suppressed, "dropped advertisement");
                }
                Err(d)
            }
        }
    }

    /// Start fetching into the cache what receiving an advert reads (the
    /// router, the gate, the checksum counters, the VIPs): a hint, with no
    /// effect but on timing (`rx.rs` issues it for a whole batch first).
    pub fn prefetch(&self) {
        prefetch_lines(&self.router);
        prefetch_lines(&self.gate);
        prefetch_lines(&self.checksum_pseudo);
        prefetch_lines(self.router.config().vips.as_slice());
    }

    /// The lowest TTL / hop limit this instance hears adverts with.
    pub fn min_ttl(&self) -> u8 {
        self.gate.rules().min_ttl()
    }

    /// Whether a line of kind `kind` may be logged now; `Some(n)`: yes, after
    /// `n` suppressed.
    fn may_log(&mut self, kind: &str) -> Option<u64> {
        match self.logs.check(kind, std::time::Instant::now()) {
            Verdict::Suppress => None,
            Verdict::Log => Some(0),
            Verdict::LogAfterSuppressing(n) => Some(n),
        }
    }

    /// At start, as backup: take away VIPs that a crashed earlier run left
    /// on the interface (and on the announce interface). An address owner
    /// (priority 255) owns them, so keeps them. (A leased VIP would go by
    /// itself within a lease; this is at once.) `links`: each interface's
    /// addresses, listed once for all the instances set up together.
    pub async fn remove_stale_vips(&self, nl: &Netlink, links: &mut Links) {
        if self.cfg.priority.get() == 255 {
            return;
        }
        for p in self.placements() {
            let present = match links.addresses(nl, p.ifindex).await {
                Ok(a) => a,
                Err(e) => {
                    warn!(instance = %self.cfg.name, error = %e, "cannot list addresses");
                    continue;
                }
            };
            if present.iter().any(|(a, _)| *a == p.addr) {
                match nl.del_address(p.ifindex, p.addr, p.prefix_len).await {
                    Ok(()) => {
                        warn!(instance = %self.cfg.name, vip = %p.addr, prefix_len = p.prefix_len, ifindex = p.ifindex, "removed a stale VIP left by an earlier run")
                    }
                    Err(e) => {
                        warn!(instance = %self.cfg.name, vip = %p.addr, error = %e, "cannot remove stale VIP")
                    }
                }
            }
        }
    }

    /// Carry out the router's pending actions, in order.
    pub async fn drain(&mut self, nl: &Netlink, notifier: &Notifier) {
        while let Some(action) = self.router.poll_action() {
            if self.waits(&action) {
                self.act_waiting(action, nl, notifier).await;
            } else {
                self.act(action, notifier, None);
            }
        }
    }

    /// Carry out the pending actions that need no waiting (adverts,
    /// announcements, log lines and notifications), in order, up to the
    /// first that waits for the kernel (netlink). Returns whether any are
    /// left for [`Instance::drain`]. A master's advert is all this.
    ///
    /// Adverts are queued in `tx` (tagged `tag`, the instance's index), not
    /// sent: the caller flushes the turn's adverts together
    /// ([`flush_adverts`]) before anything that waits. Anything else this
    /// puts on the wire (an announcement) flushes `tx` first, so that the
    /// order on the wire is the order of the actions.
    pub fn drain_ready(&mut self, notifier: &Notifier, tx: &mut TxBatch, tag: u32) -> bool {
        while let Some(next) = self.router.next_action() {
            if self.waits(next) {
                return true;
            }
            if let Some(action) = self.router.poll_action() {
                self.act(action, notifier, Some((&mut *tx, tag)));
            }
        }
        false
    }

    /// Whether carrying out `action` waits for netlink.
    fn waits(&self, action: &Action) -> bool {
        match action {
            Action::AddVips | Action::RemoveVips => true,
            // The macvlan comes up before the first advert, so that it too
            // leaves from the virtual MAC.
            Action::StateChanged {
                to: State::Master, ..
            } => self.vmac.as_ref().is_some_and(|v| !v.up),
            _ => false,
        }
    }

    /// An action that waits for netlink (see [`Instance::waits`]).
    async fn act_waiting(&mut self, action: Action, nl: &Netlink, notifier: &Notifier) {
        match action {
            Action::AddVips => self.add_vips(nl).await,
            Action::RemoveVips => self.remove_vips(nl).await,
            Action::StateChanged { from, to, reason } => {
                if to == State::Master {
                    self.vmac_up(nl).await;
                }
                self.state_changed(from, to, reason, notifier);
            }
            other => self.act(other, notifier, None),
        }
    }

    /// An action that needs no waiting. `tx`: where adverts are queued
    /// (with the instance's tag), or `None` to send them at once.
    fn act(&mut self, action: Action, notifier: &Notifier, tx: Option<(&mut TxBatch, u32)>) {
        match action {
            Action::StateChanged { from, to, reason } => {
                self.state_changed(from, to, reason, notifier)
            }
            Action::SendAdvert(adv) => self.send_advert(adv, tx),
            Action::Announce { repeat } => {
                // The adverts queued before it leave before it.
                if let Some((tx, _)) = tx {
                    flush_adverts(tx, |_| None);
                }
                self.announce(repeat)
            }
            Action::PriorityChanged { from, to } => {
                info!(instance = %self.cfg.name, from = from.get(), to = to.get(), "effective priority changed");
            }
            Action::Anomaly(a) => self.log_anomaly(&a),
            // Not reached: these wait (`waits`), and go to `act_waiting`.
            Action::AddVips | Action::RemoveVips => {}
        }
    }

    /// The state changed: the keeper, the log line, notify, the status.
    fn state_changed(&mut self, from: State, to: State, reason: Reason, notifier: &Notifier) {
        if to != State::Master {
            // Before anything of the new state is done: the
            // keeper must not repeat a master's advert from now on.
            self.withdraw_from_keeper();
        }
        info!(
            instance = %self.cfg.name,
            from = %from,
            to = %to,
            reason = %reason,
            priority = self.router.effective_priority().get(),
            "({}) Entering {} STATE",
            self.cfg.name,
            to
        );
        let argv = match (to, &reason) {
            (State::Master, _) => self.cfg.notify_master.clone(),
            (State::Backup, _) => self.cfg.notify_backup.clone(),
            (State::Fault, _) => self.cfg.notify_fault.clone(),
            (State::Initialize, Reason::Shutdown) => self.cfg.notify_stop.clone(),
            (State::Initialize, _) => None,
        };
        self.record_transition(notifier, from.name(), to.name(), reason.to_string(), argv);
    }

    /// A transition `from` -> `to` for `reason`, stamped now: queued for
    /// the notifier (its FIFO line, and `argv` if any) and kept as the
    /// status's last transition.
    fn record_transition(
        &mut self,
        notifier: &Notifier,
        from: &str,
        to: &str,
        reason: String,
        argv: Option<Vec<String>>,
    ) {
        let at_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64;
        notifier.transition(
            TransitionEvent {
                instance: self.cfg.name.clone(),
                from: from.into(),
                to: to.into(),
                reason: reason.clone(),
                priority: self.router.effective_priority().get(),
                at_unix_ms,
            },
            argv,
        );
        self.last_transition = Some(Transition {
            at_unix_ms,
            from: from.into(),
            to: to.into(),
            reason,
        });
    }

    /// The router refused an advert (it counts it): logged at a bounded
    /// rate, per reason.
    pub fn log_refused(&mut self, src: IpAddr, reason: DropReason) {
        match self.logs.check(reason.name(), std::time::Instant::now()) {
            Verdict::Suppress => {}
            v => warn!(
                instance = %self.cfg.name,
                src = %src,
                reason = reason.name(),
                suppressed = match v {
                    Verdict::LogAfterSuppressing(n) => n,
                    _ => 0,
                },
                "dropped advertisement"
            ),
        }
    }

    /// A misbehaving peer is logged at a bounded rate (a few lines per kind
    /// per 10 s, then one line saying how many were suppressed); the
    /// counters keep the full count.
    fn log_anomaly(&mut self, a: &Anomaly) {
        let kind = match a {
            Anomaly::VipMismatch { .. } => "vip_mismatch",
            Anomaly::IntervalAdopted { .. } => "interval_adopted",
            Anomaly::LowerPriorityMaster { .. } => "lower_priority_master",
        };
        let suppressed = match self.logs.check(kind, std::time::Instant::now()) {
            Verdict::Suppress => return,
            Verdict::Log => 0,
            Verdict::LogAfterSuppressing(n) => n,
        };
        match a {
            Anomaly::VipMismatch { src } => {
                warn!(instance = %self.cfg.name, src = %src, suppressed, "advertised VIP list differs from ours (accepted)")
            }
            Anomaly::IntervalAdopted { src, interval } => {
                info!(instance = %self.cfg.name, src = %src, interval = %interval, suppressed, "adopting the master's advertisement interval")
            }
            Anomaly::LowerPriorityMaster { src, priority } => {
                warn!(instance = %self.cfg.name, src = %src, priority = priority.get(), suppressed, "another master with lower priority; asserting ourselves")
            }
        }
    }

    /// Attach this instance to the advert keeper (or detach it: `None`).
    pub fn set_keeper(&mut self, slot: Option<KeeperSlot>) {
        self.keeper = slot;
        self.share_adverts();
    }

    /// The router emits every other advert and the keeper the others, when
    /// there is a keeper and the interval allows (see [`keeper::shares`]).
    fn share_adverts(&mut self) {
        let on = self.keeper.is_some() && keeper::shares(self.cfg.advert_interval);
        if !on {
            self.withdraw_from_keeper();
        }
        self.router.set_shared_adverts(on);
    }

    fn withdraw_from_keeper(&self) {
        if let Some(k) = &self.keeper {
            k.withdraw();
        }
    }

    /// Send the router's advert to the group or to each unicast peer, and
    /// hand it to the advert keeper. The bytes are made once and kept
    /// ([`Encoded`]): while the router asks for the same advert (a master's
    /// every advert, until its priority changes) they are sent as they are,
    /// with no encoding and no allocation. With `tx`, the packets are
    /// queued there (tagged) for the caller's flush, not sent.
    fn send_advert(&mut self, adv: Advertisement, tx: Option<(&mut TxBatch, u32)>) {
        if adv.priority.get() == 0 {
            // Leaving: never repeated.
            self.withdraw_from_keeper();
        }
        if self.encoded.advert.as_ref() != Some(&adv) {
            if let Err(e) = self.encoded.encode(adv, self.primary, self.checksum_mode()) {
                warn!(instance = %self.cfg.name, error = %e, "cannot encode advertisement");
                return;
            }
        }
        let socket = match &self.vmac {
            Some(v) if v.up => &v.adverts,
            _ => &self.socket,
        };
        // auth_hmac: the kept bytes with a trailer at a fresh sequence.
        let mut presigned = None;
        if let Some(signer) = &self.signer {
            match self.encoded.sign(signer, self.primary) {
                Ok(pre) => presigned = Some(pre),
                Err(e) => {
                    warn!(instance = %self.cfg.name, error = %e, "cannot sign advertisement");
                    return;
                }
            }
        }
        let packets = if presigned.is_some() {
            &self.encoded.signed
        } else {
            &self.encoded.packets
        };
        match tx {
            Some((tx, tag)) => {
                for (bytes, dst) in packets {
                    tx.push(socket, bytes, *dst, tag);
                }
            }
            None => {
                for (bytes, dst) in packets {
                    if let Err(e) = socket.send(bytes, *dst) {
                        not_sent(Some(&self.cfg.name), *dst, &e);
                    }
                }
            }
        }
        if let (Some(k), Some(adv)) = (&self.keeper, &self.encoded.advert) {
            if adv.priority.get() != 0
                && self.router.state() == State::Master
                && self.router.shared_adverts()
            {
                let sign = self
                    .signer
                    .as_ref()
                    .zip(presigned)
                    .map(|(s, pre)| s.for_keeper(self.primary, pre));
                k.sent(
                    &self.cfg.name,
                    socket,
                    packets,
                    sign,
                    adv.max_adver_int.to_duration(),
                );
            }
        }
    }

    /// The checksum form of our adverts.
    fn checksum_mode(&self) -> ChecksumMode {
        match (self.cfg.version, self.cfg.checksum) {
            (Version::V3, ChecksumForm::MessageOnly) => ChecksumMode::MessageOnly,
            (Version::V3, ChecksumForm::PseudoHeader) => ChecksumMode::PseudoHeader,
            // v2 has no pseudo-header (RFC 3768 Section 5.3.8).
            (Version::V2, _) => ChecksumMode::MessageOnly,
        }
    }

    /// Put every VIP where `announce` says (the link, the announce
    /// interface, or both), each with the lease unless leases are off or
    /// this router owns the addresses; leased ones are renewed from now on.
    pub async fn add_vips(&mut self, nl: &Netlink) {
        self.vmac_up(nl).await;
        let lifetime = self.vip_lifetime();
        let owner = self.cfg.priority.get() == 255;
        for p in self.placements() {
            let result = match (lifetime, owner) {
                (Some(l), _) => {
                    nl.add_address_leased(p.ifindex, p.addr, p.prefix_len, l)
                        .await
                }
                // Leases off: replace any lifetime an earlier setting left.
                (None, false) => {
                    nl.add_address_leased(p.ifindex, p.addr, p.prefix_len, Lifetime::FOREVER)
                        .await
                }
                (None, true) => nl.add_address(p.ifindex, p.addr, p.prefix_len).await,
            };
            match result {
                Ok(()) => {
                    if let (Some(_), Some(leases)) = (lifetime, &self.leases) {
                        leases.hold(p);
                    }
                }
                Err(e) => {
                    warn!(instance = %self.cfg.name, vip = %p.addr, prefix_len = p.prefix_len, ifindex = p.ifindex, error = %e, "cannot add VIP")
                }
            }
        }
        self.vips_installed = true;
    }

    /// An active-active instance starts or stops holding its VIPs: the log
    /// line operators grep for (as `MASTER` / `FAULT`, the states its
    /// status shows), the notify program and FIFO line, and the VIPs.
    pub async fn set_active_hold(
        &mut self,
        nl: &Netlink,
        notifier: &Notifier,
        hold: bool,
        reason: &str,
    ) {
        let (from, to) = match (hold, self.last_transition.is_some()) {
            (true, false) => ("INIT", "MASTER"),
            (true, true) => ("FAULT", "MASTER"),
            (false, false) => ("INIT", "FAULT"),
            (false, true) => ("MASTER", "FAULT"),
        };
        info!(
            instance = %self.cfg.name,
            from,
            to,
            reason,
            active_active = true,
            "({}) Entering {} STATE",
            self.cfg.name,
            to
        );
        let argv = if hold {
            self.cfg.notify_master.clone()
        } else {
            self.cfg.notify_fault.clone()
        };
        self.record_transition(notifier, from, to, reason.into(), argv);
        if hold {
            self.add_vips(nl).await;
        } else {
            self.remove_vips(nl).await;
        }
    }

    /// Whether the instance's announce interface is still the one
    /// `global.announce_interface` names (a reload that changes it restarts
    /// the instances that announce).
    pub fn announce_link_is(&self, name: &str) -> bool {
        !self.cfg.announce.mode.routed()
            || self.announce_link.as_ref().is_some_and(|(n, _)| n == name)
    }

    /// Bring the macvlan up, if there is one and it is down.
    async fn vmac_up(&mut self, nl: &Netlink) {
        if let Some(v) = self.vmac.as_mut().filter(|v| !v.up) {
            match nl.set_link_up(v.index, true).await {
                Ok(()) => v.up = true,
                Err(e) => {
                    warn!(instance = %self.cfg.name, vmac = %v.name, error = %e, "cannot bring the macvlan up")
                }
            }
        }
    }

    /// Take every VIP off (the link, the announce interface): first out of
    /// the lease schedule, so that no renewal brings one back.
    pub async fn remove_vips(&mut self, nl: &Netlink) {
        self.vips_installed = false;
        for p in self.placements() {
            if let Some(leases) = &self.leases {
                leases.release(&p);
            }
            if let Err(e) = nl.del_address(p.ifindex, p.addr, p.prefix_len).await {
                warn!(instance = %self.cfg.name, vip = %p.addr, prefix_len = p.prefix_len, error = %e, "cannot remove VIP");
            }
        }
        // A backup must not receive frames for the virtual MAC, nor answer on it.
        if let Some(v) = &mut self.vmac {
            v.up = false;
            if let Err(e) = nl.set_link_up(v.index, false).await {
                warn!(instance = %self.cfg.name, vmac = %v.name, error = %e, "cannot take the macvlan down");
            }
        }
    }

    /// `repeat` gratuitous ARPs (IPv4) or unsolicited NAs (IPv6) per VIP;
    /// none with `announce = "bgp"`, where no VIP is on the link.
    pub fn announce(&self, repeat: u8) {
        if !self.cfg.announce.mode.on_link() {
            return;
        }
        let (mac, frames) = match &self.vmac {
            Some(v) => (v.mac, &v.frames),
            None => (self.mac, &self.frames),
        };
        let na_src = match self.primary {
            IpAddr::V6(p) => p,
            IpAddr::V4(_) => Ipv6Addr::UNSPECIFIED,
        };
        // One buffer for the whole burst: no allocation per frame.
        let mut buf = [0u8; wire::ANNOUNCEMENT_MAX_LEN];
        for vip in &self.cfg.virtual_ips {
            let frame = match wire::announcement_into(&mut buf, mac, vip.addr, na_src) {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::debug!(instance = %self.cfg.name, error = %e, "announcement not built");
                    continue;
                }
            };
            for _ in 0..repeat {
                if let Err(e) = frames.send(frame) {
                    tracing::debug!(instance = %self.cfg.name, error = %e, "announcement not sent");
                }
            }
        }
    }

    /// The status entry for this instance.
    pub fn status(
        &self,
        track_states: &std::collections::HashMap<String, (TrackState, String)>,
    ) -> InstanceStatus {
        let r = &self.router;
        let s = r.stats();
        let keeper_turns = self.keeper.as_ref().map_or(0, KeeperSlot::turns);
        let keeper_adverts = self.keeper.as_ref().map_or(0, KeeperSlot::repeated);
        let master = match (&self.active, r.state()) {
            (Some(a), _) => a.holding().then(|| self.primary.to_string()),
            (None, State::Master) => Some(self.primary.to_string()),
            (None, State::Backup) => r.master().map(|m| m.addr.to_string()),
            (None, _) => None,
        };
        let effects: Vec<(&str, TrackEffect)> = r.track_effects().collect();
        let mut drops: std::collections::BTreeMap<String, u64> = s
            .drops
            .iter()
            .map(|(k, v)| (k.name().to_owned(), *v))
            .collect();
        for (name, n) in self.gate.stats().drops() {
            *drops.entry(name.to_owned()).or_default() += n;
        }
        drops.retain(|_, v| *v > 0);
        let state = match &self.active {
            // No election: MASTER while it holds the VIPs, FAULT while
            // withdrawn, INIT before the first decision.
            Some(a) if a.holding() => "MASTER".into(),
            Some(_) if self.last_transition.is_some() => "FAULT".into(),
            _ => r.state().name().into(),
        };
        InstanceStatus {
            name: self.cfg.name.clone(),
            interface: self.cfg.interface.clone(),
            vrid: self.cfg.vrid.get(),
            version: self.cfg.version.number(),
            state,
            priority: self.cfg.priority.get(),
            effective_priority: r.effective_priority().get(),
            master,
            primary_ip: self.primary.to_string(),
            vips: self.cfg.virtual_ips.iter().map(|v| v.to_string()).collect(),
            advert_interval_ms: self.cfg.advert_interval.as_millis() as u64,
            master_adver_interval_ms: r.master_adver_interval().to_duration().as_millis() as u64,
            maintenance: r.maintenance(),
            last_transition: self.last_transition.clone(),
            auth_hmac: self.gate.auth().map(|a| AuthHmacStatus {
                mode: a.mode.name().to_owned(),
                active_key: a.active_key,
                key_ids: a.keys.ids().collect(),
                anti_replay: a.anti_replay.name().to_owned(),
                time_window_secs: match a.anti_replay {
                    crate::core::auth::AntiReplay::Time { window_secs } => Some(window_secs),
                    crate::core::auth::AntiReplay::Monotonic => None,
                },
                last_seq_sent: self.seq.last().map(|s| s.to_string()),
            }),
            allowed_sources: self
                .gate
                .rules()
                .allowed()
                .iter()
                .map(|a| a.to_string())
                .collect(),
            // Filled in by the daemon, which knows the wall clock.
            last_master_seen: None,
            trackers: self
                .tracks
                .iter()
                .map(|(name, weight)| {
                    let (state, detail) = track_states
                        .get(name)
                        .map(|(s, d)| (s.to_string(), d.clone()))
                        .unwrap_or_else(|| ("UNKNOWN".into(), String::new()));
                    let effect = effects.iter().find(|(n, _)| n == name).map(|(_, e)| *e);
                    TrackerStatus {
                        name: name.clone(),
                        failed: state == "DOWN" || matches!(effect, Some(TrackEffect::Fault)),
                        state,
                        detail,
                        weight: *weight,
                        priority_effect: match effect {
                            Some(TrackEffect::Priority(d)) => d,
                            _ => 0,
                        },
                    }
                })
                .collect(),
            counters: Counters {
                adverts_sent: s.adverts_sent + keeper_turns + keeper_adverts,
                adverts_received: s.adverts_received,
                priority_zero_sent: s.priority_zero_sent,
                priority_zero_received: s.priority_zero_received,
                transitions: s.transitions,
                master_transitions: s.master_transitions,
                vip_mismatch: s.vip_mismatch,
                checksum_pseudo_header: self.checksum_pseudo,
                checksum_message_only: self.checksum_message_only,
                keeper_adverts,
                keeper_turns,
                auth_signed_received: self.gate.stats().signed,
                auth_unsigned_received: self.gate.stats().unsigned,
                drops,
            },
            announce: self.cfg.announce.mode.as_str().into(),
            active_active: self.active.is_some(),
        }
    }
}

/// The core's view of an instance.
fn router_config(cfg: &config::Instance, primary: IpAddr) -> RouterConfig {
    RouterConfig {
        name: cfg.name.clone(),
        vrid: cfg.vrid,
        version: cfg.version,
        priority: cfg.priority,
        advert_interval: cfg.advert_centisecs(),
        preempt: cfg.preempt,
        preempt_delay: cfg.preempt_delay,
        vips: cfg.virtual_ips.iter().map(|v| v.addr).collect(),
        auth_pass: cfg.auth_pass.as_ref().map(|p| {
            // keepalived pads the simple password with zeros to 8 bytes.
            let mut b = [0u8; 8];
            for (d, s) in b.iter_mut().zip(p.as_bytes()) {
                *d = *s;
            }
            b
        }),
        primary_ip: primary,
        garp: GarpPolicy {
            repeat: cfg.garp_repeat,
            master_delay: cfg.garp_master_delay,
            refresh: cfg.garp_refresh,
        },
    }
}

/// The (name, weight) of each tracker an instance uses.
fn tracks_of(cfg: &config::Instance, config: &Config) -> Vec<(String, i32)> {
    cfg.track
        .iter()
        .filter_map(|n| config.track(n))
        .map(|t| (t.name.clone(), t.weight as i32))
        .collect()
}

/// Send the adverts queued in `tx` ([`Instance::drain_ready`]), one
/// `sendmmsg` per socket and [`crate::io::vrrp_socket::TX_CHUNK`] packets.
/// `name_of`: the instance name for a tag, for the log line of a packet
/// not sent.
pub(super) fn flush_adverts<'a>(tx: &mut TxBatch, name_of: impl Fn(u32) -> Option<&'a str>) {
    if tx.is_empty() {
        return;
    }
    tx.flush(|tag, dst, e| not_sent(name_of(tag), dst, &e));
}

/// An advert the kernel did not take. A dead link cannot send; the router
/// goes to Fault through the link event, so this is worth a line but not more.
fn not_sent(instance: Option<&str>, dst: IpAddr, e: &IoError) {
    tracing::debug!(instance = instance.unwrap_or("?"), dst = %dst, error = %e, "advertisement not sent");
}

/// Ask the CPU to fetch every cache line of `v` (a hint; nothing on other
/// architectures).
fn prefetch_lines<T: ?Sized>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = (v as *const T).cast::<i8>();
        let len = std::mem::size_of_val(v);
        // Each line the value touches, the last one too when it does not
        // start on a line.
        let offsets = (0..len).step_by(64).chain(len.checked_sub(1));
        for off in offsets {
            // SAFETY: a prefetch only hints the cache: it reads nothing into
            // the program and cannot fault, whatever the address (here one
            // within the value); SSE is in every x86_64 CPU.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}
