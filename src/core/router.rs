//! The virtual-router state machine (RFC 3768, RFC 5798 as updated by RFC 9568).
//!
//! A [`VirtualRouter`] is sans-IO, in the shape of quinn-proto's `Connection`:
//! - inputs are `handle_*` methods that take `now`;
//! - outputs are drained in order with [`VirtualRouter::poll_action`];
//! - [`VirtualRouter::poll_timeout`] gives the next deadline, and
//!   [`VirtualRouter::handle_timeout`] ignores timers that are not yet due, so a
//!   stale or early wake-up is harmless.
//!
//! The order of actions is part of the contract:
//! - [`Action::StateChanged`] comes first, so that a log reads in causal order;
//! - becoming master: send an advertisement, add the VIPs, then announce them
//!   (gratuitous ARP / unsolicited NA), so that no announcement points clients
//!   at an address that is not yet there;
//! - leaving master: the priority-0 advertisement (when there is one) goes out
//!   before the VIPs are removed, so backups start their Skew_Time at once.
//!
//! RFC 9568 renames Master to Active; this code keeps the RFC 5798 names that
//! operators (and keepalived's logs) use.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::core::time::Instant;
use crate::core::types::{Centisecs, Priority, Version, Vrid};
use crate::core::wire::vrrp::{AdvertFields, AdvertView, Advertisement, Auth};

/// What a virtual router is set up with. Everything here is already validated
/// by the config layer; the core trusts its ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// Instance name, used in logs (`(VI_1) Entering MASTER STATE`).
    pub name: String,
    /// Virtual Router Identifier.
    pub vrid: Vrid,
    /// Protocol version spoken and accepted.
    pub version: Version,
    /// Configured priority, 1..=255. 255 means address owner.
    pub priority: Priority,
    /// Advertisement_Interval. For v2 a whole number of seconds (multiple of 100 cs).
    pub advert_interval: Centisecs,
    /// Preempt_Mode: whether a higher-priority backup takes over from a lower master.
    pub preempt: bool,
    /// How long a backup waits, after first seeing a lower-priority master, before it preempts.
    pub preempt_delay: Duration,
    /// The virtual addresses carried in advertisements (prefix lengths are the IO shell's).
    pub vips: Vec<IpAddr>,
    /// v2 simple password (8 bytes, zero padded), checked on receive and sent.
    pub auth_pass: Option<[u8; 8]>,
    /// Our primary address on the interface, used to break priority ties
    /// (RFC 5798 Section 6.4.3) and to recognise our own packets.
    pub primary_ip: IpAddr,
    /// Gratuitous ARP / NA policy on becoming master.
    pub garp: GarpPolicy,
}

/// When to announce the VIPs with gratuitous ARP / unsolicited NA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpPolicy {
    /// Frames per VIP in each burst (keepalived's `garp_master_repeat`). 0 disables announcements.
    pub repeat: u8,
    /// Delay of the second burst after becoming master (`garp_master_delay`); zero means none.
    pub master_delay: Duration,
    /// Period of refresh bursts while master (`garp_master_refresh`); `None` means none.
    pub refresh: Option<Duration>,
}

impl Default for GarpPolicy {
    fn default() -> Self {
        GarpPolicy {
            repeat: 5,
            master_delay: Duration::from_secs(5),
            refresh: None,
        }
    }
}

/// The protocol states (RFC 5798 Section 6.4), plus Fault for a failed
/// interface or a failed weight-0 tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Waiting for a Startup event, or stopped.
    Initialize,
    /// Monitoring the master; ready to take over.
    Backup,
    /// Forwarding for the virtual addresses and advertising.
    Master,
    /// Cannot serve: the interface is down or a weight-0 tracker failed.
    Fault,
}

impl State {
    /// The upper-case name operators grep for.
    pub fn name(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a transition happened. Attached to every [`Action::StateChanged`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The Startup event found the configured priority below 255.
    Startup,
    /// The Startup event found priority 255: the address owner takes over at once.
    AddressOwner,
    /// Master_Down_Timer expired: no advertisement from a master for Master_Down_Interval.
    MasterDown,
    /// Master_Down_Timer expired Skew_Time after the master sent priority 0.
    MasterResigned,
    /// A higher-priority advertisement (or equal priority, higher address) was received.
    HigherPriority {
        /// Sender of the advertisement.
        src: IpAddr,
        /// Its priority.
        priority: Priority,
    },
    /// The preempt delay ran out with a lower-priority master still in place.
    PreemptDelayExpired,
    /// The interface went down.
    InterfaceDown,
    /// A tracker with weight 0 failed.
    TrackerFault(String),
    /// Every fault condition has cleared.
    FaultCleared,
    /// An operator put the instance into maintenance.
    Maintenance,
    /// Another member of the sync group lost its election or failed.
    SyncGroup(String),
    /// The daemon is stopping.
    Shutdown,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup => f.write_str("startup"),
            Reason::AddressOwner => f.write_str("address owner (priority 255)"),
            Reason::MasterDown => f.write_str("master down timer expired"),
            Reason::MasterResigned => f.write_str("master sent priority 0"),
            Reason::HigherPriority { src, priority } => {
                write!(f, "higher priority advert from {src} (priority {priority})")
            }
            Reason::PreemptDelayExpired => f.write_str("preempt delay expired"),
            Reason::InterfaceDown => f.write_str("interface down"),
            Reason::TrackerFault(name) => write!(f, "tracker {name} failed"),
            Reason::FaultCleared => f.write_str("fault cleared"),
            Reason::Maintenance => f.write_str("maintenance"),
            Reason::SyncGroup(g) => write!(f, "sync group {g}: another member left master"),
            Reason::Shutdown => f.write_str("shutdown"),
        }
    }
}

/// Something the peer did that is worth a (rate-limited) log line, but that
/// does not by itself make the packet invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// The advertised address list differs from ours (RFC 9568 Section 6.4.2/6.4.3:
    /// log, but do not drop; keepalived >= 2.3.3 does the same).
    VipMismatch {
        /// Sender.
        src: IpAddr,
    },
    /// A v3 master advertised an interval other than ours; we follow it.
    IntervalAdopted {
        /// Sender.
        src: IpAddr,
        /// The interval it advertised.
        interval: Centisecs,
    },
    /// Another master with lower priority was heard; we re-asserted ourselves.
    LowerPriorityMaster {
        /// Sender.
        src: IpAddr,
        /// Its priority.
        priority: Priority,
    },
}

/// An advertisement the router refused. Counted per router; the IO shell
/// rate-limits the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The version differs from the one configured.
    Version,
    /// v2: the auth type or password differs (RFC 3768 Section 7.1).
    Auth,
    /// v2: Adver Int differs from ours (RFC 3768 Section 7.1 says discard).
    IntervalMismatch,
    /// The packet claims our own primary address as its source.
    OwnAddress,
    /// The address family of the packet differs from our VIPs'.
    AddressFamily,
    /// v3: Max Advertise Interval 0 (RFC 9568 Section 7.1, erratum 8301).
    /// Adopted, it would make Master_Down_Interval 0: every backup would
    /// take over at once.
    ZeroInterval,
}

impl DropReason {
    /// Stable counter name.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Version => "version",
            DropReason::Auth => "auth",
            DropReason::IntervalMismatch => "interval_mismatch",
            DropReason::OwnAddress => "own_address",
            DropReason::AddressFamily => "address_family",
            DropReason::ZeroInterval => "interval_zero",
        }
    }
}

/// An output of the state machine, drained in order by the IO shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The state changed. Always the first action of a transition.
    StateChanged {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// Send this advertisement (to the multicast group or the unicast peers).
    SendAdvert(Advertisement),
    /// Configure the VIPs on the interface.
    AddVips,
    /// Remove the VIPs from the interface.
    RemoveVips,
    /// Announce the VIPs: `repeat` gratuitous ARPs / unsolicited NAs per VIP.
    Announce {
        /// Frames per VIP.
        repeat: u8,
    },
    /// The effective priority changed (tracker or maintenance).
    PriorityChanged {
        /// Before.
        from: Priority,
        /// After.
        to: Priority,
    },
    /// A peer did something worth logging.
    Anomaly(Anomaly),
}

/// Counters kept per virtual router, named after the VRRP MIB where one exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterStats {
    /// Advertisements accepted for processing.
    pub adverts_received: u64,
    /// Advertisements sent (including priority 0).
    pub adverts_sent: u64,
    /// Priority-0 advertisements received.
    pub priority_zero_received: u64,
    /// Priority-0 advertisements sent.
    pub priority_zero_sent: u64,
    /// Times this router became master.
    pub master_transitions: u64,
    /// All state transitions.
    pub transitions: u64,
    /// Advertisements whose address list differed from ours (accepted anyway).
    pub vip_mismatch: u64,
    /// Advertisements refused, by reason.
    pub drops: BTreeMap<DropReason, u64>,
}

/// The timer table: one optional deadline per timer (quinn-proto style).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Timers {
    /// Master_Down_Timer (Backup only).
    master_down: Option<Instant>,
    /// Adver_Timer (Master only).
    adver: Option<Instant>,
    /// End of the preempt delay (Backup only).
    preempt: Option<Instant>,
    /// Next gratuitous ARP / NA burst (Master only).
    announce: Option<Instant>,
}

impl Timers {
    fn next(&self) -> Option<Instant> {
        [self.master_down, self.adver, self.preempt, self.announce]
            .into_iter()
            .flatten()
            .min()
    }
}

/// What a tracker does to a router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackEffect {
    /// Nothing.
    None,
    /// Add this to the configured priority (negative lowers it).
    Priority(i32),
    /// Hold the router in Fault.
    Fault,
}

/// The master this backup currently follows, as learned from its adverts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterInfo {
    /// Its address.
    pub addr: IpAddr,
    /// Its advertised priority.
    pub priority: Priority,
}

/// The sender of an accepted advertisement, and when it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeardAdvert {
    /// Source address of the advertisement.
    pub addr: IpAddr,
    /// Its advertised priority (0 for a resignation).
    pub priority: Priority,
    /// When it was accepted.
    pub at: Instant,
}

/// The longest a master's advert is sent before it is due ([`advert_lead`]).
pub const MAX_ADVERT_LEAD: Duration = Duration::from_millis(10);

/// The advert lead the vrrpd daemon gives a router
/// ([`VirtualRouter::set_advert_lead`]): a twentieth of its interval, at
/// most [`MAX_ADVERT_LEAD`] (0.5 ms at 10 ms adverts, 5 ms at 100 ms, 10 ms
/// from 200 ms). Woken for one deadline, the daemon's protocol thread sends
/// every advert due within the lead with it: masters whose adverts are
/// spread over the interval (started or taken over at different times) wake
/// it at most once per lead, not once per advert. One instance alone is
/// unchanged: its thread wakes at its deadline, and nothing else is due.
pub fn advert_lead(interval: Duration) -> Duration {
    (interval / 20).min(MAX_ADVERT_LEAD)
}

/// One virtual router: the RFC state machine for one VRID on one interface.
#[derive(Debug, Clone)]
pub struct VirtualRouter {
    cfg: RouterConfig,
    /// `cfg.vips`, shared by every advert we send (no allocation per advert).
    /// Never stale: a reconfiguration that changes the VIPs is refused.
    advert_addrs: Arc<[IpAddr]>,
    state: State,
    /// Master_Adver_Interval: ours when master, learned from the master in v3 backup.
    master_adver_interval: Centisecs,
    timers: Timers,
    /// What each tracker currently does to us, by name (only those with an effect).
    track_effects: BTreeMap<String, TrackEffect>,
    /// The interface is up (carrier and admin).
    iface_up: bool,
    /// An operator asked for this router to stay out of mastership.
    maintenance: bool,
    /// Another member of our sync group lost its election or is in Fault:
    /// we must not become master (see [`VirtualRouter::handle_sync`]).
    sync_held: bool,
    /// [`VirtualRouter::handle_sync`] has been called: the router is in a
    /// sync group, and its caller applies the group's holds after every
    /// input, so takeovers are decided there.
    sync_member: bool,
    /// Calls of [`VirtualRouter::handle_sync`] so far, and their number at
    /// the last [`VirtualRouter::handle_timeout`]: a member that sees no
    /// call between two timeouts is in no group any more (a reload removed
    /// it), and acts on its own again.
    sync_calls: u64,
    /// See `sync_calls`.
    sync_calls_seen: u64,
    /// A sync-group member's Master_Down_Timer (or preempt delay) ran out:
    /// the takeover, with the reason it will carry, waits for
    /// [`VirtualRouter::handle_sync`] to find the group free.
    deferred_takeover: Option<Reason>,
    /// The Startup event has happened and Shutdown has not.
    running: bool,
    /// The master we follow, when backup.
    master: Option<MasterInfo>,
    /// The sender of the last advertisement accepted, in any state (Fault and
    /// maintenance included) and kept across transitions. Only reported
    /// (`vrrpd maintenance` tells who took over); never decides anything.
    last_heard: Option<HeardAdvert>,
    /// When we last answered a lower-priority master, to bound the replies
    /// a misbehaving peer can draw from us.
    last_lower_reply: Option<Instant>,
    /// Bursts still owed after the first on becoming master (the delayed one).
    announce_second_pending: bool,
    /// The IO shell sends a copy of each of our adverts one interval after
    /// it (see [`VirtualRouter::set_shared_adverts`]).
    shared_adverts: bool,
    /// How early a master's Adver_Timer may fire (see
    /// [`VirtualRouter::set_advert_lead`]); zero by default.
    advert_lead: Duration,
    /// When the current state was entered.
    since: Instant,
    actions: VecDeque<Action>,
    stats: RouterStats,
}

impl VirtualRouter {
    /// A router in Initialize, waiting for [`VirtualRouter::handle_startup`].
    pub fn new(cfg: RouterConfig) -> Self {
        let master_adver_interval = cfg.advert_interval;
        VirtualRouter {
            advert_addrs: cfg.vips.iter().copied().collect(),
            cfg,
            state: State::Initialize,
            master_adver_interval,
            timers: Timers::default(),
            track_effects: BTreeMap::new(),
            iface_up: true,
            maintenance: false,
            sync_held: false,
            sync_member: false,
            sync_calls: 0,
            sync_calls_seen: 0,
            deferred_takeover: None,
            running: false,
            master: None,
            last_heard: None,
            last_lower_reply: None,
            announce_second_pending: false,
            shared_adverts: false,
            advert_lead: Duration::ZERO,
            since: Instant::ZERO,
            actions: VecDeque::new(),
            stats: RouterStats::default(),
        }
    }

    // ----- accessors -------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &RouterConfig {
        &self.cfg
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// When the current state was entered.
    pub fn state_since(&self) -> Instant {
        self.since
    }

    /// Counters.
    pub fn stats(&self) -> &RouterStats {
        &self.stats
    }

    /// The master this router follows, when it is backup.
    pub fn master(&self) -> Option<MasterInfo> {
        self.master
    }

    /// The sender of the last advertisement this router accepted, whatever
    /// its state then (also in Fault and maintenance, where no master is
    /// followed). Kept across transitions; purely informational.
    pub fn last_heard(&self) -> Option<HeardAdvert> {
        self.last_heard
    }

    /// Master_Adver_Interval as currently in force.
    pub fn master_adver_interval(&self) -> Centisecs {
        self.master_adver_interval
    }

    /// The trackers that currently change our priority or hold us in Fault.
    pub fn track_effects(&self) -> impl Iterator<Item = (&str, TrackEffect)> {
        self.track_effects.iter().map(|(n, e)| (n.as_str(), *e))
    }

    /// Whether an operator holds this router in maintenance.
    pub fn maintenance(&self) -> bool {
        self.maintenance
    }

    /// The effective priority: configured priority plus the weights of failed
    /// trackers, clamped to 1..=254 when any tracker has failed. An owner
    /// (255) with nothing failed stays 255.
    pub fn effective_priority(&self) -> Priority {
        let penalty: i32 = self
            .track_effects
            .values()
            .map(|e| match e {
                TrackEffect::Priority(d) => *d,
                TrackEffect::None | TrackEffect::Fault => 0,
            })
            .sum();
        if penalty == 0 {
            return self.cfg.priority;
        }
        let p = (self.cfg.priority.get() as i32 + penalty).clamp(
            Priority::MIN_BACKUP.get() as i32,
            Priority::MAX_BACKUP.get() as i32,
        );
        Priority(p as u8)
    }

    /// Why the router must be in Fault, if it must.
    fn fault_reason(&self) -> Option<Reason> {
        if !self.iface_up {
            return Some(Reason::InterfaceDown);
        }
        if let Some((name, _)) = self
            .track_effects
            .iter()
            .find(|(_, e)| **e == TrackEffect::Fault)
        {
            return Some(Reason::TrackerFault(name.clone()));
        }
        if self.maintenance {
            return Some(Reason::Maintenance);
        }
        None
    }

    /// Skew_Time for our effective priority and the Master_Adver_Interval in
    /// force. Computed in microseconds, never truncated to whole centiseconds.
    ///
    /// - RFC 3768 Section 6.1: `(256 - Priority) / 256` seconds.
    /// - RFC 5798 Section 6.1 / RFC 9568: `((256 - Priority) * Master_Adver_Interval) / 256`.
    pub fn skew_time(&self) -> Duration {
        let p = 256 - self.effective_priority().get() as u64;
        match self.cfg.version {
            Version::V2 => Duration::from_micros(p * 1_000_000 / 256),
            Version::V3 => {
                let mai = self.master_adver_interval.to_duration().as_micros() as u64;
                Duration::from_micros(p * mai / 256)
            }
        }
    }

    /// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time`
    /// (RFC 3768 Section 6.1, RFC 5798 Section 6.1).
    pub fn master_down_interval(&self) -> Duration {
        3 * self.master_adver_interval.to_duration() + self.skew_time()
    }

    // ----- outputs ---------------------------------------------------------

    /// The next action to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The action [`VirtualRouter::poll_action`] returns next, left in the
    /// queue (the shell carries out what needs no waiting first).
    pub fn next_action(&self) -> Option<&Action> {
        self.actions.front()
    }

    /// The earliest deadline at which [`VirtualRouter::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----- inputs ----------------------------------------------------------

    /// Whether the IO shell sends every other advert itself: a copy of each
    /// advert this router emits, one Advertisement_Interval after it.
    ///
    /// On the wire nothing changes: one advert per interval, the same bytes.
    /// The Adver_Timer then runs two intervals, so that the event loop that
    /// drives this router wakes half as often; the vrrpd daemon uses this to
    /// split a master's adverts between two threads on two CPUs, so that one
    /// stalled CPU still leaves an advert every two intervals. Takes effect
    /// from the next advert.
    pub fn set_shared_adverts(&mut self, on: bool) {
        self.shared_adverts = on;
    }

    /// See [`VirtualRouter::set_shared_adverts`].
    pub fn shared_adverts(&self) -> bool {
        self.shared_adverts
    }

    /// Lets a master's Adver_Timer fire up to `lead` before it is due, so
    /// that an IO shell that drives many routers sends the adverts due
    /// within one short window together, after one wake-up: 1000 masters at
    /// 100 ms adverts then cost about one wake-up per window, not one per
    /// advert. Zero (the default) is the RFC's timer to the letter.
    ///
    /// An advert fired early leaves early, by at most `lead`, and the timer
    /// is reset from then, as the RFC resets it when it fires: no gap
    /// between two adverts is longer than the interval (counting from the
    /// deadline instead made the gap after an early advert the interval
    /// plus the lead; the simulator's advert-gap invariant caught it). An
    /// instance fired early moves its phase into the batch it joined, so
    /// batches stay together; at most one advert in twenty more is sent.
    /// Backups wait longer than three intervals for a silent master
    /// (Master_Down_Interval), so an early advert can only keep them
    /// quieter. Only the Adver_Timer fires early: a backup's
    /// Master_Down_Timer or preempt delay that fired early would take over
    /// from a live master.
    pub fn set_advert_lead(&mut self, lead: Duration) {
        self.advert_lead = lead;
    }

    /// See [`VirtualRouter::set_advert_lead`].
    pub fn advert_lead(&self) -> Duration {
        self.advert_lead
    }

    /// The Startup event (RFC 5798 Section 6.4.1).
    pub fn handle_startup(&mut self, now: Instant) {
        if self.running {
            return;
        }
        self.running = true;
        self.enter_from_initialize(now, None);
    }

    /// The Shutdown event: a master sends priority 0 and gives its VIPs up
    /// (RFC 5798 Section 6.4.3 "If a Shutdown event is received").
    pub fn handle_shutdown(&mut self, now: Instant) {
        if !self.running {
            return;
        }
        self.running = false;
        let was_master = self.state == State::Master;
        self.transition(now, State::Initialize, Reason::Shutdown);
        if was_master {
            self.send_advert(Priority::RESIGN);
            self.actions.push_back(Action::RemoveVips);
        }
    }

    /// The interface went up or down. Down is a fault; up clears it.
    pub fn handle_iface(&mut self, now: Instant, up: bool) {
        if self.iface_up == up {
            return;
        }
        self.iface_up = up;
        self.reevaluate(now, self.effective_priority());
    }

    /// A tracker's effect changed. The IO shell maps tracker states and
    /// weights to effects: a failed tracker with a negative weight is
    /// `Priority(weight)`, with weight 0 it is `Fault`; a healthy tracker with
    /// a positive weight is `Priority(weight)`; a `file` tracker's value times
    /// its weight is a `Priority`.
    pub fn handle_track(&mut self, now: Instant, name: &str, effect: TrackEffect) {
        let before = self.effective_priority();
        let changed = if effect == TrackEffect::None {
            self.track_effects.remove(name).is_some()
        } else {
            self.track_effects.insert(name.to_owned(), effect) != Some(effect)
        };
        if changed {
            self.reevaluate(now, before);
        }
    }

    /// An operator puts the router into maintenance (`true`) or takes it out.
    /// In maintenance the router holds Fault: as master it resigns with
    /// priority 0, so the best backup takes over after its Skew_Time.
    pub fn handle_maintenance(&mut self, now: Instant, on: bool) {
        if self.maintenance == on {
            return;
        }
        let before = self.effective_priority();
        self.maintenance = on;
        self.reevaluate(now, before);
    }

    /// Apply a changed configuration without a restart when only the "soft"
    /// settings differ (name, priority, preempt, preempt delay, auth, GARP
    /// policy): the state is kept, and a priority change acts at once as a
    /// tracker change would. Returns `false`, changing nothing, when a setting
    /// the peers see or the state depends on differs (VRID, version, interval,
    /// VIPs, primary address): the caller then replaces the router.
    pub fn reconfigure(&mut self, now: Instant, cfg: RouterConfig) -> bool {
        let hard = |c: &RouterConfig| {
            (
                c.vrid,
                c.version,
                c.advert_interval,
                c.vips.clone(),
                c.primary_ip,
            )
        };
        if hard(&self.cfg) != hard(&cfg) {
            return false;
        }
        let before = self.effective_priority();
        self.cfg = cfg;
        self.reevaluate(now, before);
        true
    }

    /// Sync groups (keepalived's `vrrp_sync_group`): the members of a group
    /// move together, all master on one node or none. The caller tells each
    /// member whether another member is out of mastership for a reason that
    /// should take the whole group along: it is in Fault, or it lost an
    /// election ([`VirtualRouter::lost_election`]).
    ///
    /// A held member is never master, as in keepalived, where a member
    /// goes to MASTER only when every member of its group wants to, and a
    /// member in FAULT takes the group to FAULT:
    /// - a held master steps down: priority 0 (so a peer takes over after
    ///   its Skew_Time), VIPs removed, Backup;
    /// - a held backup does not preempt;
    /// - when a held backup's Master_Down_Timer fires, it forgets its
    ///   silent master and stays Backup; it takes over at once when the
    ///   hold lifts, unless a master is heard first.
    ///
    /// Once this has been called, the router's takeovers happen here: when
    /// its Master_Down_Timer or preempt delay runs out,
    /// [`VirtualRouter::handle_timeout`] only records the takeover, and the
    /// next call carries it out if the group is free. The caller must
    /// therefore call this for every member after every input, the timers'
    /// included, as the daemon does (`apply_sync`); a router that sees no
    /// call between two of its timeouts takes itself out of the group (a
    /// reload may remove the group and keep its instances running; it then
    /// takes over at most a Master_Down_Interval late). The hold the router
    /// knew at the timer could be stale: the daemon reads the queued
    /// packets before its due timers, and one of them may just have made
    /// another member lose its election; taking over then would put the
    /// member in Master for an instant, with its gratuitous ARPs, and out
    /// again (found by the simulator).
    ///
    /// So a group whose member has failed on this node does not keep the
    /// other members' addresses here, and a group never stays split across
    /// nodes. Until 2026-12 a held backup took over when its master went
    /// silent and kept the mastership with no later trigger to give it back,
    /// which left groups split across nodes (simulator seed 0x197f5,
    /// docs/SIMULATION.md). The price: with a member failed on every node,
    /// the other members' addresses are nowhere, as in keepalived.
    pub fn handle_sync(&mut self, now: Instant, group: &str, held: bool) {
        self.sync_member = true;
        self.sync_calls += 1;
        self.sync_held = held;
        if held && self.state == State::Master {
            self.transition(now, State::Backup, Reason::SyncGroup(group.to_owned()));
            self.send_advert(Priority::RESIGN);
            self.actions.push_back(Action::RemoveVips);
            self.timers.master_down = Some(now + self.master_down_interval());
        } else if held {
            self.timers.preempt = None;
        } else if self.state == State::Backup {
            match self.deferred_takeover.take() {
                Some(Reason::PreemptDelayExpired) if !self.preempt_wanted() => {}
                Some(reason) => self.become_master(now, reason),
                None => {}
            }
        }
    }

    /// Whether a sync-group member's takeover waits for
    /// [`VirtualRouter::handle_sync`] (its group holds it).
    pub fn takeover_deferred(&self) -> bool {
        self.deferred_takeover.is_some()
    }

    /// Backup behind a master that legitimately outranks us (higher
    /// priority, or equal priority and a higher address: RFC 5798 Section
    /// 6.4.3's tie-break), as opposed to a backup that waits to preempt a
    /// lower one or follows an equal one that was there first.
    ///
    /// The tie-break matters to sync groups: with equal priorities, two
    /// members of a group that lost their masters at slightly different
    /// times could end up master on different nodes, each following an
    /// equal-priority master elsewhere, and neither held (found by the
    /// simulator, docs/SIMULATION.md).
    pub fn lost_election(&self) -> bool {
        let ours = self.effective_priority();
        self.state == State::Backup
            && self.master.is_some_and(|m| {
                m.priority > ours || (m.priority == ours && ip_greater(m.addr, self.cfg.primary_ip))
            })
    }

    /// A timer may have expired. Timers not yet due are left alone.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if self.sync_member {
            if self.sync_calls == self.sync_calls_seen {
                // Nothing applied the group's holds since our last timeout:
                // the group is gone (see `handle_sync`). On our own again,
                // with a takeover the group was holding back, if any.
                self.sync_member = false;
                self.sync_held = false;
                if self.state == State::Backup {
                    if let Some(reason) = self.deferred_takeover.take() {
                        self.become_master(now, reason);
                        return;
                    }
                }
            }
            self.sync_calls_seen = self.sync_calls;
        }
        match self.state {
            State::Master => {
                let lead = self.advert_lead;
                if self.timers.adver.is_some_and(|t| t <= now + lead) {
                    // RFC 5798 Section 6.4.3: "If the Adver_Timer fires, then:
                    // Send an ADVERTISEMENT; Reset the Adver_Timer". Fired
                    // early (within the lead), the next counts from now too:
                    // no gap is ever longer than the interval.
                    self.send_advert(self.effective_priority());
                    self.reset_adver_timer(now);
                }
                if due(self.timers.announce) {
                    self.timers.announce = None;
                    self.announce_burst(now);
                }
            }
            State::Backup => {
                if due(self.timers.master_down) {
                    // RFC 5798 Section 6.4.2: "If the Master_Down_Timer fires".
                    let reason = if self.master.is_some_and(|m| m.priority == Priority::RESIGN) {
                        Reason::MasterResigned
                    } else {
                        Reason::MasterDown
                    };
                    if self.sync_member {
                        // In a sync group: the master is gone, and
                        // `handle_sync`, next, takes over if the group is
                        // free, or waits for its hold to lift. Forgetting
                        // the master matters: a silent master must not
                        // count as an election this member lost, or two
                        // members that both lost their masters would hold
                        // each other for ever. The timer makes us look
                        // again a Master_Down_Interval later (keepalived
                        // re-arms its timer the same way): still held, we
                        // wait on; with no `handle_sync` since, the group
                        // is gone and we take over.
                        self.master = None;
                        self.deferred_takeover.get_or_insert(reason);
                        self.timers.master_down = Some(now + self.master_down_interval());
                    } else {
                        self.become_master(now, reason);
                    }
                } else if due(self.timers.preempt) {
                    self.timers.preempt = None;
                    if self.preempt_wanted() {
                        if self.sync_member {
                            // As above; `handle_sync` clears the timer if
                            // it holds us.
                            self.deferred_takeover = Some(Reason::PreemptDelayExpired);
                            self.timers.preempt = Some(now + self.master_down_interval());
                        } else {
                            self.become_master(now, Reason::PreemptDelayExpired);
                        }
                    }
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// An advertisement for our VRID arrived from `src`, already checked for
    /// TTL, length, checksum and version by the receive path. Returns the
    /// reason when this router refuses it.
    pub fn handle_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        adv: &Advertisement,
    ) -> Result<(), DropReason> {
        self.receive(now, src, &adv.fields(), |vips| {
            adv.addrs.len() == vips.len() && adv.addrs.iter().all(|a| vips.contains(a))
        })
    }

    /// [`VirtualRouter::handle_advert`] for an advert parsed in place
    /// ([`AdvertView`]): the daemon's receive path, which allocates nothing.
    pub fn handle_advert_view(
        &mut self,
        now: Instant,
        src: IpAddr,
        adv: &AdvertView<'_>,
    ) -> Result<(), DropReason> {
        self.receive(now, src, &adv.fields(), |vips| {
            adv.addr_count() == vips.len() && adv.addrs().all(|a| vips.contains(&a))
        })
    }

    /// The receive rules; `same_vips` tells whether the advert carries our
    /// address list.
    fn receive(
        &mut self,
        now: Instant,
        src: IpAddr,
        adv: &AdvertFields,
        same_vips: impl FnOnce(&[IpAddr]) -> bool,
    ) -> Result<(), DropReason> {
        if let Err(reason) = self.check_advert(src, adv) {
            *self.stats.drops.entry(reason).or_default() += 1;
            return Err(reason);
        }
        self.stats.adverts_received += 1;
        self.last_heard = Some(HeardAdvert {
            addr: src,
            priority: adv.priority,
            at: now,
        });
        if adv.priority == Priority::RESIGN {
            self.stats.priority_zero_received += 1;
        }
        if !same_vips(&self.cfg.vips) {
            // RFC 9568 Section 6.4.2/6.4.3 (and keepalived >= 2.3.3): a
            // differing address list is logged, not dropped.
            self.stats.vip_mismatch += 1;
            self.actions
                .push_back(Action::Anomaly(Anomaly::VipMismatch { src }));
        }
        match self.state {
            State::Backup => self.backup_rx(now, src, adv),
            State::Master => self.master_rx(now, src, adv),
            State::Initialize | State::Fault => {}
        }
        Ok(())
    }

    // ----- receive rules ---------------------------------------------------

    /// Per-router validity checks (RFC 3768 Section 7.1, RFC 5798 Section 7.1
    /// for the parts the receive path cannot know).
    fn check_advert(&self, src: IpAddr, adv: &AdvertFields) -> Result<(), DropReason> {
        if adv.version != self.cfg.version {
            return Err(DropReason::Version);
        }
        if src == self.cfg.primary_ip {
            return Err(DropReason::OwnAddress);
        }
        if src.is_ipv4() != self.cfg.primary_ip.is_ipv4() {
            return Err(DropReason::AddressFamily);
        }
        // RFC 9568 Section 7.1 (erratum 8301): "It MUST verify that the Max
        // Advertise Interval is non zero." (v2 intervals must equal ours.)
        if adv.version == Version::V3 && adv.max_adver_int == Centisecs(0) {
            return Err(DropReason::ZeroInterval);
        }
        if self.cfg.version == Version::V2 {
            // RFC 3768 Section 7.1: "MUST verify that the Auth Type matches
            // the locally configured authentication method" and, for simple
            // text passwords, the data.
            let ok = match (self.cfg.auth_pass, adv.auth) {
                (None, Auth::None) => true,
                (Some(ours), Auth::SimplePassword(theirs)) => ours == theirs,
                _ => false,
            };
            if !ok {
                return Err(DropReason::Auth);
            }
            // RFC 3768 Section 7.1: "MUST verify that the Adver Interval in
            // the packet is the same as the locally configured" one, else
            // discard (and log).
            if adv.max_adver_int != self.cfg.advert_interval {
                return Err(DropReason::IntervalMismatch);
            }
        }
        Ok(())
    }

    /// Backup state receive rules (RFC 5798 Section 6.4.2; RFC 3768 Section 6.4.2).
    fn backup_rx(&mut self, now: Instant, src: IpAddr, adv: &AdvertFields) {
        if adv.priority == Priority::RESIGN {
            // "If the Priority in the ADVERTISEMENT is zero, then: Set the
            // Master_Down_Timer to Skew_Time".
            self.master = Some(MasterInfo {
                addr: src,
                priority: adv.priority,
            });
            self.timers.master_down = Some(now + self.skew_time());
            self.deferred_takeover = None;
            return;
        }
        let ours = self.effective_priority();
        let lower = adv.priority < ours;
        // The second advert of a resignation pair (see `reevaluate`): the
        // master that just sent priority 0 now advertises below us. It asked
        // to be replaced, so we let the Skew_Time timer run, whatever our
        // preempt settings: nopreempt means "do not take mastership back",
        // not "stay behind a master that gave up".
        if lower
            && self
                .master
                .is_some_and(|m| m.addr == src && m.priority == Priority::RESIGN)
        {
            return;
        }
        if lower && self.cfg.preempt && self.lost_election() {
            // Preempt_Mode is True, and a lower advert comes from another
            // router while we follow a master that outranks us: typically a
            // master stepping down, whose last advert arrives after the new
            // master's. RFC 5798 §6.4.2: "Discard the ADVERTISEMENT". vrrpd's
            // two reasons to follow a lower master, a preempt delay and a
            // sync group's hold, are for a lower master we are behind, not
            // for putting one in place of a higher master: that started the
            // preempt delay, which could run out before the higher master's
            // next advert (a takeover from a master above us), and released
            // the group's hold for an interval.
            return;
        }
        if lower && self.cfg.preempt && !self.sync_held {
            // Preempt_Mode is True and the master is below us. Without a
            // preempt delay the RFC says "Discard the ADVERTISEMENT", so the
            // Master_Down_Timer runs out and we take over. With a delay, we
            // keep following this master until the delay has run since we
            // first saw it below us, then take over at once.
            if self.cfg.preempt_delay.is_zero() {
                return;
            }
            let deadline = *self
                .timers
                .preempt
                .get_or_insert(now + self.cfg.preempt_delay);
            if now >= deadline {
                return;
            }
        } else {
            // Following a master at or above us: no preemption is pending.
            self.timers.preempt = None;
        }
        // "Else: If Preempt_Mode is False, or if the Priority in the
        // ADVERTISEMENT is greater than or equal to the local Priority, then:
        // Set Master_Adver_Interval to Adver Interval contained in the
        // ADVERTISEMENT; Recompute the Master_Down_Interval; Reset the
        // Master_Down_Timer to Master_Down_Interval".
        if self.cfg.version == Version::V3 && adv.max_adver_int != self.master_adver_interval {
            self.master_adver_interval = adv.max_adver_int;
            if adv.max_adver_int != self.cfg.advert_interval {
                self.actions
                    .push_back(Action::Anomaly(Anomaly::IntervalAdopted {
                        src,
                        interval: adv.max_adver_int,
                    }));
            }
        }
        self.master = Some(MasterInfo {
            addr: src,
            priority: adv.priority,
        });
        self.timers.master_down = Some(now + self.master_down_interval());
        self.deferred_takeover = None;
    }

    /// Master state receive rules (RFC 5798 Section 6.4.3; RFC 9568 Section 6.4.3).
    fn master_rx(&mut self, now: Instant, src: IpAddr, adv: &AdvertFields) {
        if adv.priority == Priority::RESIGN {
            // "If the Priority in the ADVERTISEMENT is zero, then: Send an
            // ADVERTISEMENT; Reset the Adver_Timer to Advertisement_Interval".
            self.send_advert(self.effective_priority());
            self.reset_adver_timer(now);
            return;
        }
        let ours = self.effective_priority();
        let higher =
            adv.priority > ours || (adv.priority == ours && ip_greater(src, self.cfg.primary_ip));
        if higher {
            // "Cancel Adver_Timer; Set Master_Adver_Interval to Adver
            // Interval contained in the ADVERTISEMENT; Recompute the
            // Skew_Time and Master_Down_Interval; Set Master_Down_Timer to
            // Master_Down_Interval; Transition to the {Backup} state".
            self.transition(
                now,
                State::Backup,
                Reason::HigherPriority {
                    src,
                    priority: adv.priority,
                },
            );
            if self.cfg.version == Version::V3 {
                self.master_adver_interval = adv.max_adver_int;
            }
            // One last advert at our own priority (keepalived's
            // `higher_prio_send_advert`). After a partition heals, clients
            // on our side still point at our MAC; the new master may never
            // have heard us as a lower master, so it would not re-announce.
            // This advert makes it take its lower-master path: an advert
            // back and a gratuitous ARP/NA burst, and clients follow it.
            //
            // It carries the Master_Adver_Interval just adopted, the new
            // master's, not ours. A backup at or below our priority accepts
            // this advert (RFC 5798 §6.4.2: "Set Master_Adver_Interval to
            // Adver Interval contained in the ADVERTISEMENT"), and it often
            // arrives after the new master's. With our own, shorter
            // interval in it, such a backup's Master_Down_Timer ran out
            // before the slower new master's next advert, and it took over
            // for nothing, then stepped down with its own last advert, and
            // so on across the backups (simulator seed 0xd86c4,
            // docs/SIMULATION.md). With the new master's interval, every
            // backup (vrrpd, keepalived or FRR) times out no earlier than
            // behind the new master itself.
            self.send_advert_with(ours, self.master_adver_interval);
            self.actions.push_back(Action::RemoveVips);
            self.master = Some(MasterInfo {
                addr: src,
                priority: adv.priority,
            });
            self.timers.master_down = Some(now + self.master_down_interval());
            return;
        }
        // A lower-priority master: two masters exist (a healed partition, or
        // a peer that just started). RFC 9568 Section 6.4.3 has the master
        // send an ADVERTISEMENT at once so the other steps down within one
        // round trip; we also re-announce the VIPs so that clients that
        // followed the other master come back. Bounded to one reply per
        // Advertisement_Interval, so a misbehaving peer cannot make us flood.
        let interval = self.cfg.advert_interval.to_duration();
        if self
            .last_lower_reply
            .is_none_or(|t| now.saturating_duration_since(t) >= interval)
        {
            self.last_lower_reply = Some(now);
            self.actions
                .push_back(Action::Anomaly(Anomaly::LowerPriorityMaster {
                    src,
                    priority: adv.priority,
                }));
            self.send_advert(ours);
            self.reset_adver_timer(now);
            if self.cfg.garp.repeat > 0 {
                self.actions.push_back(Action::Announce {
                    repeat: self.cfg.garp.repeat,
                });
            }
        }
    }

    // ----- transitions -----------------------------------------------------

    /// Leave Initialize (or Fault) per the Startup event rules
    /// (RFC 5798 Section 6.4.1), or go to Fault if a fault condition holds.
    fn enter_from_initialize(&mut self, now: Instant, cleared: Option<Reason>) {
        if let Some(reason) = self.fault_reason() {
            if self.state != State::Fault {
                self.transition(now, State::Fault, reason);
            }
            return;
        }
        if self.cfg.priority == Priority::OWNER
            && self.effective_priority() == Priority::OWNER
            && !self.sync_held
        {
            // (An owner that its sync group holds starts as Backup instead:
            // it would only step down again; see `handle_sync`.)
            // "If the Priority = 255 (i.e., the router owns the IPvX
            // address(es) associated with the virtual router), then: Send an
            // ADVERTISEMENT; Broadcast a gratuitous ARP ...; Set the
            // Adver_Timer; Transition to the {Master} state".
            self.become_master(now, Reason::AddressOwner);
        } else {
            // "Set Master_Adver_Interval to Advertisement_Interval; Set the
            // Master_Down_Timer to Master_Down_Interval; Transition to the
            // {Backup} state".
            self.master_adver_interval = self.cfg.advert_interval;
            self.transition(now, State::Backup, cleared.unwrap_or(Reason::Startup));
            self.timers.master_down = Some(now + self.master_down_interval());
        }
    }

    /// After an input that may change the fault conditions or the effective
    /// priority, move to the state they call for.
    fn reevaluate(&mut self, now: Instant, before: Priority) {
        if !self.running {
            return;
        }
        let after = self.effective_priority();
        if after != before {
            self.actions.push_back(Action::PriorityChanged {
                from: before,
                to: after,
            });
        }
        match (self.fault_reason(), self.state) {
            (Some(reason), State::Master) => {
                // Giving up mastership for a fault: tell the backups with
                // priority 0 so they take over after Skew_Time, not
                // Master_Down_Interval (as RFC 5798 Section 6.4.3 does on
                // Shutdown). On a dead link the advert cannot leave; the
                // backups then take over after Master_Down_Interval.
                self.transition(now, State::Fault, reason);
                self.send_advert(Priority::RESIGN);
                self.actions.push_back(Action::RemoveVips);
            }
            (Some(reason), State::Backup | State::Initialize) => {
                self.transition(now, State::Fault, reason);
            }
            (Some(_), State::Fault) => {}
            (None, State::Fault) => self.enter_from_initialize(now, Some(Reason::FaultCleared)),
            (None, State::Master) if after < before => {
                // Fast handover. Our priority dropped while master (a failed
                // tracker with a negative weight). Waiting for the backups to
                // notice would take Master_Down_Interval: an RFC backup with
                // preempt discards a lower-priority advert and only takes
                // over when its timer runs out. Instead we send a pair:
                //   1. priority 0: every backup sets Master_Down_Timer to its
                //      own Skew_Time (RFC 5798 Section 6.4.2);
                //   2. at once, our new priority: a backup above it discards
                //      this (preempt) and takes over after its Skew_Time; a
                //      backup at or below it accepts it and resets its timer
                //      to Master_Down_Interval, so it does not take over.
                // We stay master until a higher advert arrives. With no
                // better backup nothing else happens: no flap, no gap.
                self.send_advert(Priority::RESIGN);
                self.send_advert(after);
                self.reset_adver_timer(now);
            }
            (None, State::Master) if after > before => {
                // Tell the backups our new priority at once.
                self.send_advert(after);
                self.reset_adver_timer(now);
            }
            (None, State::Backup) if after != before && !self.preempt_wanted() => {
                // A backup whose priority fell to or below its master's no
                // longer has a preemption pending.
                self.timers.preempt = None;
            }
            _ => {}
        }
    }

    /// A backup that follows a master below it, with preempt on.
    fn preempt_wanted(&self) -> bool {
        self.cfg.preempt
            && !self.sync_held
            && self.master.is_some_and(|m| {
                m.priority != Priority::RESIGN && m.priority < self.effective_priority()
            })
    }

    /// Transition to Master (RFC 5798 Section 6.4.2 "If the Master_Down_Timer
    /// fires"): send an ADVERTISEMENT, add and announce the VIPs, set the Adver_Timer.
    fn become_master(&mut self, now: Instant, reason: Reason) {
        self.transition(now, State::Master, reason);
        self.stats.master_transitions += 1;
        self.master_adver_interval = self.cfg.advert_interval;
        self.send_advert(self.effective_priority());
        self.actions.push_back(Action::AddVips);
        self.reset_adver_timer(now);
        self.announce_second_pending = !self.cfg.garp.master_delay.is_zero();
        self.announce_burst(now);
    }

    /// One burst of gratuitous ARP / NA, then schedule the next one: the
    /// delayed second burst first, the periodic refresh after it.
    fn announce_burst(&mut self, now: Instant) {
        let g = self.cfg.garp;
        if g.repeat == 0 {
            return;
        }
        self.actions
            .push_back(Action::Announce { repeat: g.repeat });
        self.timers.announce = if std::mem::take(&mut self.announce_second_pending) {
            Some(now + g.master_delay)
        } else {
            g.refresh.map(|r| now + r)
        };
    }

    /// Record a transition: clear the timers of the old state and emit
    /// [`Action::StateChanged`] first.
    fn transition(&mut self, now: Instant, to: State, reason: Reason) {
        let from = self.state;
        self.state = to;
        self.since = now;
        self.timers = Timers::default();
        self.master = None;
        self.deferred_takeover = None;
        self.announce_second_pending = false;
        self.stats.transitions += 1;
        self.actions
            .push_back(Action::StateChanged { from, to, reason });
    }

    fn reset_adver_timer(&mut self, now: Instant) {
        let interval = self.cfg.advert_interval.to_duration();
        // With shared adverts the shell sends the one in between.
        let turns = if self.shared_adverts { 2 } else { 1 };
        self.timers.adver = Some(now + interval * turns);
    }

    fn send_advert(&mut self, priority: Priority) {
        self.send_advert_with(priority, self.cfg.advert_interval);
    }

    /// An advert with this Max Adver Int (v3). Only a master stepping down
    /// sends another interval than its own (see `master_rx`); v2 intervals
    /// always match (RFC 3768 Section 7.1).
    fn send_advert_with(&mut self, priority: Priority, interval: Centisecs) {
        self.stats.adverts_sent += 1;
        if priority == Priority::RESIGN {
            self.stats.priority_zero_sent += 1;
        }
        let auth = match (self.cfg.version, self.cfg.auth_pass) {
            (Version::V2, Some(p)) => Auth::SimplePassword(p),
            _ => Auth::None,
        };
        self.actions.push_back(Action::SendAdvert(Advertisement {
            version: self.cfg.version,
            vrid: self.cfg.vrid.get(),
            priority,
            max_adver_int: match self.cfg.version {
                Version::V2 => self.cfg.advert_interval,
                Version::V3 => interval,
            },
            addrs: self.advert_addrs.clone(),
            auth,
        }));
    }
}

/// "the primary IPvX address of the sender is greater than the local primary
/// IPvX address" (RFC 5798 Section 6.4.3): compared as unsigned integers.
fn ip_greater(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) > u32::from(b),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) > u128::from(b),
        // Families never mix here: check_advert drops those packets.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn cfg(last_octet: u8, priority: u8) -> RouterConfig {
        RouterConfig {
            name: format!("R{last_octet}"),
            vrid: Vrid::new(12).unwrap(),
            version: Version::V3,
            priority: Priority(priority),
            advert_interval: Centisecs(100),
            preempt: true,
            preempt_delay: Duration::ZERO,
            vips: vec![IpAddr::V4(Ipv4Addr::new(172, 16, 1, 254))],
            auth_pass: None,
            primary_ip: IpAddr::V4(Ipv4Addr::new(172, 16, 1, last_octet)),
            garp: GarpPolicy::default(),
        }
    }

    fn advert(priority: u8) -> Advertisement {
        Advertisement {
            version: Version::V3,
            vrid: 12,
            priority: Priority(priority),
            max_adver_int: Centisecs(100),
            addrs: vec![IpAddr::V4(Ipv4Addr::new(172, 16, 1, 254))].into(),
            auth: Auth::None,
        }
    }

    fn drain(r: &mut VirtualRouter) -> Vec<Action> {
        std::iter::from_fn(|| r.poll_action()).collect()
    }

    fn t(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    /// In maintenance (Fault) the router records who advertises, and that is
    /// all: same state, same deadline, no action, as without the advert.
    #[test]
    fn last_heard_is_recorded_in_maintenance_without_changing_behaviour() {
        let peer = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 251));
        let mut r = VirtualRouter::new(cfg(250, 150));
        r.handle_startup(t(0));
        r.handle_timeout(t(4000));
        assert_eq!(r.state(), State::Master);
        assert_eq!(r.last_heard(), None);
        r.handle_maintenance(t(5000), true);
        assert_eq!(r.state(), State::Fault);
        drain(&mut r);

        let mut without = r.clone();
        assert_eq!(r.handle_advert(t(5600), peer, &advert(100)), Ok(()));
        assert_eq!(
            r.last_heard(),
            Some(HeardAdvert {
                addr: peer,
                priority: Priority(100),
                at: t(5600)
            })
        );
        assert_eq!(r.state(), State::Fault);
        assert!(drain(&mut r).is_empty());
        assert_eq!(r.poll_timeout(), without.poll_timeout());
        assert_eq!(r.master(), None);
        // Time passes the same way with and without the advert.
        for now in [t(9000), t(20000)] {
            r.handle_timeout(now);
            without.handle_timeout(now);
            assert_eq!(r.state(), without.state());
            assert_eq!(drain(&mut r), drain(&mut without));
        }
        // Out of maintenance, the router behaves as one that never heard it:
        // Backup, with the full Master_Down_Interval.
        r.handle_maintenance(t(21000), false);
        without.handle_maintenance(t(21000), false);
        assert_eq!(r.state(), State::Backup);
        assert_eq!(drain(&mut r), drain(&mut without));
        assert_eq!(r.poll_timeout(), without.poll_timeout());
        // Kept across the transition.
        assert_eq!(r.last_heard().map(|h| h.addr), Some(peer));
    }

    /// With shared adverts the router emits every other advert (the shell
    /// sends the ones between); everything else is as without.
    #[test]
    fn shared_adverts_halve_the_adver_timer_rate_only() {
        let mut r = VirtualRouter::new(cfg(250, 150));
        r.set_shared_adverts(true);
        r.handle_startup(t(0));
        r.handle_timeout(t(4000));
        assert_eq!(r.state(), State::Master);
        drain(&mut r);
        // Interval 1 s: the next advert is due in two.
        assert_eq!(r.poll_timeout(), Some(t(6000)));
        r.handle_timeout(t(5000));
        assert!(drain(&mut r).is_empty());
        r.handle_timeout(t(6000));
        let sent: Vec<_> = drain(&mut r)
            .into_iter()
            .filter(|a| matches!(a, Action::SendAdvert(_)))
            .collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(r.poll_timeout(), Some(t(8000)));
        // Back to one per interval from the next advert.
        r.set_shared_adverts(false);
        r.handle_timeout(t(8000));
        drain(&mut r);
        assert_eq!(r.poll_timeout(), Some(t(9000)));
        // A backup's timers do not change.
        let mut b = VirtualRouter::new(cfg(251, 100));
        let mut plain = b.clone();
        b.set_shared_adverts(true);
        for r in [&mut b, &mut plain] {
            r.handle_startup(t(0));
            r.handle_advert(
                t(100),
                IpAddr::V4(Ipv4Addr::new(172, 16, 1, 250)),
                &advert(150),
            )
            .unwrap();
        }
        assert_eq!(b.poll_timeout(), plain.poll_timeout());
    }

    /// With an advert lead a master's Adver_Timer fires up to the lead
    /// early, and the next counts from then (no gap longer than the
    /// interval); a backup's Master_Down_Timer never fires early.
    #[test]
    fn an_advert_lead_fires_the_adver_timer_early_and_keeps_the_cadence() {
        let sends = |r: &mut VirtualRouter| {
            drain(r)
                .into_iter()
                .filter(|a| matches!(a, Action::SendAdvert(_)))
                .count()
        };
        let mut r = VirtualRouter::new(cfg(250, 150));
        r.set_advert_lead(Duration::from_millis(50));
        r.handle_startup(t(0));
        r.handle_timeout(t(4000));
        assert_eq!(r.state(), State::Master);
        drain(&mut r);
        assert_eq!(r.poll_timeout(), Some(t(5000)));
        // Before the lead: nothing.
        r.handle_timeout(t(4949));
        assert_eq!(sends(&mut r), 0);
        assert_eq!(r.poll_timeout(), Some(t(5000)));
        // Within it: sent now, and the next one interval after now.
        r.handle_timeout(t(4960));
        assert_eq!(sends(&mut r), 1);
        assert_eq!(r.poll_timeout(), Some(t(5960)));
        // Late: the same (RFC 5798 Section 6.4.3).
        r.handle_timeout(t(6020));
        assert_eq!(sends(&mut r), 1);
        assert_eq!(r.poll_timeout(), Some(t(7020)));
        // Without a lead the same early call sends nothing.
        r.set_advert_lead(Duration::ZERO);
        r.handle_timeout(t(7000));
        assert_eq!(sends(&mut r), 0);

        // A backup with a lead: its Master_Down_Timer fires on time only.
        let mut b = VirtualRouter::new(cfg(251, 100));
        b.set_advert_lead(Duration::from_millis(500));
        b.handle_startup(t(0));
        b.handle_advert(
            t(100),
            IpAddr::V4(Ipv4Addr::new(172, 16, 1, 250)),
            &advert(150),
        )
        .unwrap();
        let down = b.poll_timeout().expect("Master_Down_Timer");
        b.handle_timeout(down - Duration::from_millis(1));
        assert_eq!(b.state(), State::Backup);
        b.handle_timeout(down);
        assert_eq!(b.state(), State::Master);
    }

    /// A v3 advert with Max Advertise Interval 0 is refused and counted: it
    /// neither becomes Master_Adver_Interval nor resets the timer (RFC 9568
    /// Section 7.1, erratum 8301). Adopted, it made the backup take over at
    /// once.
    #[test]
    fn zero_max_advert_interval_is_dropped() {
        let peer = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 251));
        let mut r = VirtualRouter::new(cfg(250, 100));
        r.handle_startup(t(0));
        r.handle_advert(t(1000), peer, &advert(150)).unwrap();
        let deadline = r.poll_timeout();
        let mut zero = advert(150);
        zero.max_adver_int = Centisecs(0);
        assert_eq!(
            r.handle_advert(t(1500), peer, &zero),
            Err(DropReason::ZeroInterval)
        );
        assert_eq!(r.stats().drops[&DropReason::ZeroInterval], 1);
        assert_eq!(r.master_adver_interval(), Centisecs(100));
        assert_eq!(r.poll_timeout(), deadline);
        r.handle_timeout(t(1500));
        assert_eq!(r.state(), State::Backup);
    }

    /// A backup behind an equal-priority master with a higher address lost
    /// the RFC 5798 §6.4.3 tie-break; behind one with a lower address (an
    /// incumbent it does not preempt) it did not. Sync groups rely on the
    /// difference (simulator seed 0x72f, docs/SIMULATION.md).
    #[test]
    fn lost_election_counts_the_address_tie_break() {
        let mut r = VirtualRouter::new(cfg(251, 100));
        r.handle_startup(t(0));
        let higher = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 252));
        let lower = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 250));
        r.handle_advert(t(10), lower, &advert(100)).unwrap();
        assert_eq!(r.state(), State::Backup);
        assert!(!r.lost_election());
        r.handle_advert(t(20), higher, &advert(100)).unwrap();
        assert!(r.lost_election());
        r.handle_advert(t(30), lower, &advert(150)).unwrap();
        assert!(r.lost_election());
        // Behind a lower master (no preempt): not beaten either.
        let mut np = VirtualRouter::new(RouterConfig {
            preempt: false,
            ..cfg(251, 100)
        });
        np.handle_startup(t(0));
        np.handle_advert(t(10), higher, &advert(99)).unwrap();
        assert_eq!(np.master().map(|m| m.addr), Some(higher));
        assert!(!np.lost_election());
    }

    /// A master that steps down for a higher master with a longer v3
    /// interval sends its last advert (at its own priority) with the new
    /// master's interval. A backup at that priority accepts it, often after
    /// the new master's advert (RFC 5798 §6.4.2), and so must not learn a
    /// shorter Master_Adver_Interval from it: it would time out before the
    /// new master's next advert and take over for nothing (simulator seeds
    /// 0xaac3e, 0xb962a, 0xd545f, 0xd86c4; docs/SIMULATION.md).
    #[test]
    fn last_advert_when_stepping_down_carries_the_new_masters_interval() {
        let fast = |octet, prio| RouterConfig {
            advert_interval: Centisecs(1),
            ..cfg(octet, prio)
        };
        let new_master = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 252));
        let stepping_down = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 251));
        let slow = advert(150); // 100 cs
        let mut old = VirtualRouter::new(fast(251, 100));
        old.handle_startup(t(0));
        old.handle_timeout(t(100));
        assert_eq!(old.state(), State::Master);
        drain(&mut old);
        old.handle_advert(t(200), new_master, &slow).unwrap();
        assert_eq!(old.state(), State::Backup);
        let sent: Vec<Advertisement> = drain(&mut old)
            .into_iter()
            .filter_map(|a| match a {
                Action::SendAdvert(adv) => Some(adv),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].priority, Priority(100));
        assert_eq!(sent[0].max_adver_int, Centisecs(100));
        assert_eq!(old.master_adver_interval(), Centisecs(100));
        // A backup at the same priority and the old 10 ms interval hears
        // the new master, then the last advert.
        let mut b = VirtualRouter::new(fast(250, 100));
        b.handle_startup(t(0));
        b.handle_advert(t(200), new_master, &slow).unwrap();
        b.handle_advert(t(201), stepping_down, &sent[0]).unwrap();
        assert_eq!(b.master_adver_interval(), Centisecs(100));
        // The new master's next advert is due at 1.2 s; until then (and
        // for a Master_Down_Interval of 1 s adverts) the backup waits.
        b.handle_timeout(t(1200));
        assert_eq!(b.state(), State::Backup);
        assert!(b.poll_timeout() >= Some(t(3201)));
        // Our own adverts, as master, keep our interval.
        let mut m = VirtualRouter::new(fast(251, 100));
        m.handle_startup(t(0));
        m.handle_timeout(t(100));
        let own: Vec<Centisecs> = drain(&mut m)
            .into_iter()
            .filter_map(|a| match a {
                Action::SendAdvert(adv) => Some(adv.max_adver_int),
                _ => None,
            })
            .collect();
        assert_eq!(own, vec![Centisecs(1)]);
    }

    /// A backup held by its sync group whose master goes silent stays
    /// Backup: it forgets the master (a silent master is no election lost,
    /// so two such members cannot hold each other for ever) and takes over
    /// the moment the hold lifts. A held member is never master, so a group
    /// never stays split across nodes (simulator seed 0x197f5).
    #[test]
    fn held_backup_defers_its_takeover_until_the_hold_lifts() {
        let master = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 251));
        let mut r = VirtualRouter::new(cfg(250, 100));
        r.handle_startup(t(0));
        r.handle_advert(t(1000), master, &advert(150)).unwrap();
        assert!(r.lost_election());
        r.handle_sync(t(1500), "VG1", true);
        drain(&mut r);
        let deadline = r.poll_timeout().unwrap();
        r.handle_timeout(deadline);
        assert_eq!(r.state(), State::Backup);
        assert!(r.takeover_deferred());
        assert_eq!(r.master(), None);
        assert!(!r.lost_election());
        assert!(drain(&mut r).is_empty());
        // Still held: it looks again a Master_Down_Interval later, and
        // waits on, however long.
        let mdi = r.master_down_interval();
        assert_eq!(r.poll_timeout(), Some(deadline + mdi));
        for n in 1..4 {
            r.handle_sync(deadline + mdi * n - Duration::from_millis(1), "VG1", true);
            r.handle_timeout(deadline + mdi * n);
            assert_eq!(r.state(), State::Backup);
            assert_eq!(r.poll_timeout(), Some(deadline + mdi * (n + 1)));
        }
        assert!(drain(&mut r).is_empty());
        r.handle_sync(t(20000), "VG1", true);
        // The hold lifts: Master at once, with the timer's reason.
        r.handle_sync(t(20500), "VG1", false);
        assert_eq!(r.state(), State::Master);
        let acts = drain(&mut r);
        assert!(matches!(
            acts[0],
            Action::StateChanged {
                to: State::Master,
                reason: Reason::MasterDown,
                ..
            }
        ));
        assert!(acts.contains(&Action::AddVips));
        assert!(!r.takeover_deferred());
    }

    /// A sync-group member takes over in `handle_sync`, with the group's
    /// holds as they are after the whole input, not in `handle_timeout`
    /// with the hold it knew before: the daemon reads the queued packets
    /// before its due timers, and one may have made another member lose
    /// its election meanwhile. Taking over then made the member master for
    /// an instant, gratuitous ARPs included (found by the simulator).
    #[test]
    fn a_group_member_takes_over_only_in_handle_sync() {
        let mut r = VirtualRouter::new(cfg(250, 100));
        r.handle_startup(t(0));
        r.handle_sync(t(0), "VG1", false);
        drain(&mut r);
        let d = r.poll_timeout().unwrap();
        r.handle_timeout(d);
        assert_eq!(r.state(), State::Backup);
        assert!(drain(&mut r).is_empty());
        // Held now: no takeover, nothing sent, nothing announced.
        r.handle_sync(d, "VG1", true);
        assert_eq!(r.state(), State::Backup);
        assert!(drain(&mut r).is_empty());
        // Outside any group a router takes over in handle_timeout, as before.
        let mut plain = VirtualRouter::new(cfg(250, 100));
        plain.handle_startup(t(0));
        plain.handle_timeout(d);
        assert_eq!(plain.state(), State::Master);
        // The preempt delay too: behind a lower master, it runs out, and
        // the takeover waits for the group.
        let lower = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 251));
        let mut p = VirtualRouter::new(RouterConfig {
            preempt_delay: Duration::from_millis(500),
            ..cfg(250, 100)
        });
        p.handle_startup(t(0));
        p.handle_sync(t(0), "VG1", false);
        p.handle_advert(t(100), lower, &advert(50)).unwrap();
        p.handle_timeout(t(600));
        assert_eq!(p.state(), State::Backup);
        assert!(p.takeover_deferred());
        p.handle_sync(t(600), "VG1", false);
        assert_eq!(p.state(), State::Master);
        assert!(matches!(
            drain(&mut p)
                .iter()
                .rfind(|a| matches!(a, Action::StateChanged { .. })),
            Some(Action::StateChanged {
                reason: Reason::PreemptDelayExpired,
                ..
            })
        ));
    }

    /// A reload can remove a sync group and keep its instances running: the
    /// daemon then no longer calls `handle_sync` for them. A member that sees
    /// no call between two of its timeouts acts on its own again: it does
    /// not wait for ever on a hold nobody lifts.
    #[test]
    fn a_member_whose_group_is_gone_acts_on_its_own() {
        // Held when the group went away, with a takeover waiting.
        let mut r = VirtualRouter::new(cfg(250, 100));
        r.handle_startup(t(0));
        r.handle_sync(t(0), "VG1", true);
        let d = r.poll_timeout().unwrap();
        r.handle_timeout(d);
        assert_eq!(r.state(), State::Backup);
        // No handle_sync any more: at its next look it takes over.
        let again = r.poll_timeout().unwrap();
        r.handle_timeout(again);
        assert_eq!(r.state(), State::Master);
        assert!(!r.takeover_deferred());
        // Not held: the takeover waits for the handle_sync that follows
        // every input; none comes, so at its next look it takes over.
        let mut f = VirtualRouter::new(cfg(250, 100));
        f.handle_startup(t(0));
        f.handle_sync(t(0), "VG1", false);
        let d = f.poll_timeout().unwrap();
        f.handle_timeout(d);
        assert_eq!(f.state(), State::Backup);
        let again = f.poll_timeout().unwrap();
        assert_eq!(again, d + f.master_down_interval());
        f.handle_timeout(again);
        assert_eq!(f.state(), State::Master);
        // From then on it is a router on its own: a timeout is a takeover.
        f.handle_advert(
            t(5000),
            IpAddr::V4(Ipv4Addr::new(172, 16, 1, 251)),
            &advert(150),
        )
        .unwrap();
        assert_eq!(f.state(), State::Backup);
        let d = f.poll_timeout().unwrap();
        f.handle_timeout(d);
        assert_eq!(f.state(), State::Master);
    }

    /// A master heard while the takeover waits cancels it: the backup
    /// follows the master again, and the lifted hold changes nothing.
    #[test]
    fn an_advert_cancels_a_deferred_takeover() {
        let master = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 251));
        let mut r = VirtualRouter::new(cfg(250, 100));
        r.handle_startup(t(0));
        r.handle_sync(t(0), "VG1", true);
        r.handle_timeout(t(4000));
        assert!(r.takeover_deferred());
        r.handle_advert(t(5000), master, &advert(150)).unwrap();
        assert!(!r.takeover_deferred());
        assert!(r.poll_timeout().is_some());
        r.handle_sync(t(5100), "VG1", false);
        assert_eq!(r.state(), State::Backup);
        // A priority-0 advert arms Skew_Time; held when it fires, the
        // takeover waits and then carries "master sent priority 0".
        r.handle_advert(t(6000), master, &advert(0)).unwrap();
        r.handle_sync(t(6000), "VG1", true);
        r.handle_timeout(t(7000));
        assert_eq!(r.state(), State::Backup);
        drain(&mut r);
        r.handle_sync(t(7100), "VG1", false);
        assert!(matches!(
            drain(&mut r)[0],
            Action::StateChanged {
                to: State::Master,
                reason: Reason::MasterResigned,
                ..
            }
        ));
    }

    /// A held address owner starts as Backup, takes over by its timer once
    /// released, and steps down with priority 0 when held again.
    #[test]
    fn held_member_is_never_master() {
        let mut owner = VirtualRouter::new(cfg(250, 255));
        owner.handle_sync(t(0), "VG1", true);
        owner.handle_startup(t(0));
        assert_eq!(owner.state(), State::Backup);
        owner.handle_sync(t(10), "VG1", false);
        let deadline = owner.poll_timeout().unwrap();
        owner.handle_timeout(deadline);
        // A group member takes over in handle_sync, called after every
        // input with the group's current holds.
        assert_eq!(owner.state(), State::Backup);
        assert!(owner.takeover_deferred());
        owner.handle_sync(deadline, "VG1", false);
        assert_eq!(owner.state(), State::Master);
        owner.handle_sync(t(5000), "VG1", true);
        assert_eq!(owner.state(), State::Backup);
        let acts = drain(&mut owner);
        assert!(acts.contains(&Action::RemoveVips));
        assert!(acts
            .iter()
            .any(|a| matches!(a, Action::SendAdvert(adv) if adv.priority == Priority::RESIGN)));
    }

    /// A backup with a preempt delay behind a higher master hears a lower
    /// advert from another router: typically a master stepping down, whose
    /// last advert arrives after the new master's. It discards it, as RFC
    /// 5798 §6.4.2 says with Preempt_Mode True; following it started the
    /// preempt delay, which then ran out before the higher master's next
    /// advert, and the backup took over from a master above it.
    #[test]
    fn preempt_delay_does_not_follow_a_lower_advert_in_place_of_a_higher_master() {
        let higher = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 252));
        let stepping_down = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 251));
        let mut b = VirtualRouter::new(RouterConfig {
            preempt_delay: Duration::from_millis(20),
            ..cfg(250, 100)
        });
        b.handle_startup(t(0));
        b.handle_advert(t(1000), higher, &advert(150)).unwrap();
        b.handle_advert(t(1001), stepping_down, &advert(50))
            .unwrap();
        assert_eq!(b.master().map(|m| m.addr), Some(higher));
        b.handle_timeout(t(1100));
        b.handle_timeout(t(1999));
        assert_eq!(b.state(), State::Backup);
        // Behind a lower master (no higher one), the delay works as before.
        let mut d = VirtualRouter::new(RouterConfig {
            preempt_delay: Duration::from_millis(20),
            ..cfg(250, 100)
        });
        d.handle_startup(t(0));
        d.handle_advert(t(1000), stepping_down, &advert(50))
            .unwrap();
        assert_eq!(d.master().map(|m| m.addr), Some(stepping_down));
        d.handle_timeout(t(1020));
        assert_eq!(d.state(), State::Master);
    }

    /// A refused advert (our own address) is not recorded; priority 0 is.
    #[test]
    fn last_heard_only_counts_accepted_adverts() {
        let mut r = VirtualRouter::new(cfg(250, 100));
        r.handle_startup(t(0));
        let own = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 250));
        assert!(r.handle_advert(t(10), own, &advert(100)).is_err());
        assert_eq!(r.last_heard(), None);
        let peer = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 252));
        assert!(r.handle_advert(t(20), peer, &advert(0)).is_ok());
        assert_eq!(r.last_heard().map(|h| h.priority), Some(Priority(0)));
    }
}
