//! The simulated world: nodes that each run what one vrrpd daemon runs (the
//! real `VirtualRouter`s, sync groups through the real `core::sync::holds`,
//! the real advert keeper `Schedule`), joined by a simulated LAN, on one
//! simulated clock.
//!
//! What is modelled after the daemon (src/daemon/: event_loop.rs, deadlines.rs,
//! actions.rs, reload.rs, instance.rs, keeper.rs):
//! - one event loop per node that, when it wakes, takes its inputs in the
//!   order of the daemon's biased `select!`: stop, reload, timer, one packet,
//!   link event, tracker event, control request; on a timer with a due
//!   backup it first reads every packet already queued (`on_timers`);
//! - a new instance (at start, or restarted by a reload) gets its Startup
//!   event after the others, if it is an address owner, with its group's
//!   holds applied first (`start_new`);
//! - after each input, `drain`: sync groups first (`apply_sync`), then each
//!   instance's actions in order, as `Instance::drain` carries them out;
//! - the keeper thread: a separate wake-up on another CPU that runs the
//!   daemon's loop body over the pure `Schedule`;
//! - packets go through the real encoder and parser with a TTL, and every
//!   drop lands in the daemon's counter for it.
//!
//! What is abstracted: the time an input takes to process (zero), netlink
//! (VIPs are a flag), the CPU a thread runs on (the loop and the keeper
//! stall independently), GARP frames (counted, not sent).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::time::Duration;

use vrrpd::core::keeper::Schedule;
use vrrpd::core::router::{
    Action, GarpPolicy, Reason, RouterConfig, State, TrackEffect, VirtualRouter,
};
use vrrpd::core::time::Instant;
use vrrpd::core::types::{Centisecs, Priority, Version, Vrid};
use vrrpd::core::wire::vrrp::{Advertisement, Auth, ChecksumMode};
use vrrpd::core::wire::{VRRP_MCAST_V4, VRRP_MCAST_V6, VRRP_TTL};
use vrrpd::track::TrackState;

use crate::rng::{hash, hashed_upto, Rng};
use crate::scenario::{Fault, Junk, Scenario};

/// The keeper thread's sleep when it keeps nothing (src/daemon/keeper.rs `IDLE`).
const KEEPER_IDLE: Duration = Duration::from_secs(1);

/// A packet on the wire.
#[derive(Debug)]
pub struct Packet {
    /// IP source.
    pub src: IpAddr,
    /// IP destination (the group or a unicast peer).
    pub dst: IpAddr,
    /// IP TTL / hop limit.
    pub ttl: u8,
    /// The VRRP message.
    pub bytes: Vec<u8>,
    /// The counter it must land in, for junk (None: a router's own advert).
    pub expect: Option<&'static str>,
}

/// An input waiting for a node's event loop, other than a packet.
#[derive(Debug, Clone)]
pub enum Input {
    /// SIGTERM.
    Stop,
    /// SIGHUP with a changed instance.
    Reload(Fault),
    /// Netlink: the link is up or down.
    Link(bool),
    /// A tracker reports its state.
    Track(usize, bool),
    /// Control socket: maintenance on or off.
    Maintenance(usize, bool),
}

impl Input {
    /// The daemon's `select!` order (biased): lower first.
    fn rank(&self) -> u8 {
        match self {
            Input::Stop => 0,
            Input::Reload(_) => 1,
            Input::Link(_) => 4,
            Input::Track(..) => 5,
            Input::Maintenance(..) => 6,
        }
    }
}

/// The packets of a master's last advert, as the keeper repeats them.
pub type Kept = Vec<(IpAddr, Rc<Vec<u8>>)>;

/// One instance of a daemon.
#[derive(Clone)]
pub struct Inst {
    /// The real state machine.
    pub router: VirtualRouter,
    /// What the daemon's config says (priority, interval...).
    pub cfg: RouterConfig,
    /// The VIPs are on the interface.
    pub vips: bool,
    /// The keeper's entry for this instance: its schedule and packets.
    pub kept: Option<(Schedule, Kept)>,
    /// The instance shares its adverts with the keeper.
    pub shared: bool,
    /// The link state this instance last learnt (`Instance::link_up`).
    pub link_up: bool,
}

/// One node: a host running one vrrpd.
#[derive(Clone)]
pub struct Node {
    /// Primary address.
    pub ip: IpAddr,
    /// The daemon runs (false after a crash or a stop, before a restart).
    pub running: bool,
    /// The carrier is up (the real link).
    pub link: bool,
    /// Instances, one per VRID.
    pub insts: Vec<Inst>,
    /// Packets in the socket, not yet read.
    pub sock: Vec<Rc<Packet>>,
    /// Other inputs waiting.
    pub inputs: Vec<Input>,
    /// Tracker failed, per tracker (the real world, not what the daemon knows).
    pub failed: Vec<bool>,
    /// The state each tracker last reported to the daemon (`track_states`).
    pub reported: Vec<Option<bool>>,
    /// Maintenance asked for, per instance (the daemon's runtime state).
    pub maint: Vec<bool>,
    /// When the event loop's timer makes it wake.
    pub timer_wake: Option<Instant>,
    /// When an input makes it wake.
    pub input_wake: Option<Instant>,
    /// The event loop gets no CPU before this.
    pub stall: Instant,
    /// When the keeper thread wakes.
    pub kwake: Option<Instant>,
    /// The keeper gets no CPU before this.
    pub kstall: Instant,
    /// Daemon-level drops by reason (`drops.*`).
    pub drops: BTreeMap<&'static str, u64>,
    /// Wake-up counter, for the per-wake delay draw.
    pub wakes: u64,
    /// Times the daemon started.
    pub epoch: u64,
}

impl Node {
    /// When the event loop runs next.
    pub fn wake(&self) -> Option<Instant> {
        let w = match (self.timer_wake, self.input_wake) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        w.map(|w| w.max(self.stall))
    }

    /// When the keeper runs next.
    pub fn keeper_wake(&self) -> Option<Instant> {
        self.kwake.map(|w| w.max(self.kstall))
    }
}

/// A state transition, for the trace.
#[derive(Debug, Clone)]
pub struct Transition {
    /// When.
    pub at: Instant,
    /// Node.
    pub node: usize,
    /// Instance.
    pub inst: usize,
    /// From.
    pub from: State,
    /// To.
    pub to: State,
    /// Why.
    pub reason: Reason,
}

/// Something observable that happened at one step, for the checker.
#[derive(Debug, Clone)]
pub enum Note {
    /// An advert left node/inst (loop or keeper) with this priority.
    Sent(usize, usize, Priority),
    /// A transition.
    Changed(Transition),
    /// A fault was applied.
    Fault(Fault),
    /// A rule the world itself checks was broken.
    Broken(&'static str, String),
    /// Node i's loop finished one input (`Daemon::drain` ran): the actions
    /// noted before this went out before the next input was taken.
    Drained(usize),
}

/// The whole simulation.
#[derive(Clone)]
pub struct World {
    /// The scenario.
    pub sc: Scenario,
    /// Now.
    pub now: Instant,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// Copies in flight: (arrival, seq, receiver, packet).
    pub flight: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    /// Packets of the copies in flight, by seq.
    pub flight_pkts: BTreeMap<u64, Rc<Packet>>,
    /// Next copy number.
    pub seq: u64,
    /// Next fault to apply.
    pub next_fault: usize,
    /// link[from][to]: packets from `from` reach `to`.
    pub link: Vec<Vec<bool>>,
    /// Current loss, duplication (per mille) and extra delay bound (µs).
    pub loss: u64,
    /// See `loss`.
    pub dup: u64,
    /// See `loss`.
    pub delay: u64,
    /// fifo[from][to]: the last arrival on that path. A LAN does not reorder
    /// the packets of one sender to one receiver; only the delay fault does.
    pub fifo: Vec<Vec<Instant>>,
    /// The last arrival of a copy sent with extra delay (a late copy can
    /// still reorder the adverts until then).
    pub late_until: Instant,
    /// Copies sent, and each copy's fate.
    pub copies: u64,
    /// Copies delivered to an event loop's socket.
    pub delivered: u64,
    /// Copies handled by an event loop (counted in exactly one place).
    pub handled: u64,
    /// Network-level drops by reason.
    pub net_drops: BTreeMap<&'static str, u64>,
    /// Every transition so far.
    pub trace: Vec<Transition>,
    /// What the last step did.
    pub notes: Vec<Note>,
    /// Tie-breaking among simultaneous events.
    pub rng: Rng,
    /// Steps taken.
    pub steps: u64,
}

/// A thing that can happen next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// Apply the next fault.
    Fault,
    /// A copy arrives (heap top).
    Arrival,
    /// Node i's keeper runs.
    Keeper(usize),
    /// Node i's event loop runs.
    Loop(usize),
}

/// The primary address of node `i`.
pub fn node_ip(v6: bool, i: usize) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, i as u16 + 1))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1))
    }
}

fn vip(v6: bool, vrid: u8) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, vrid as u16))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 1, vrid))
    }
}

impl World {
    /// A world at time zero with every daemon not yet started.
    pub fn new(sc: Scenario) -> World {
        let n = sc.nodes.len();
        let nodes = (0..n)
            .map(|i| Node {
                ip: node_ip(sc.v6, i),
                running: false,
                link: true,
                insts: Vec::new(),
                sock: Vec::new(),
                inputs: Vec::new(),
                failed: vec![false; sc.nodes[i].trackers.len()],
                reported: vec![None; sc.nodes[i].trackers.len()],
                maint: vec![false; sc.vrids.len()],
                timer_wake: None,
                input_wake: None,
                stall: Instant::ZERO,
                kwake: None,
                kstall: Instant::ZERO,
                drops: BTreeMap::new(),
                wakes: 0,
                epoch: 0,
            })
            .collect();
        let rng = Rng::new(hash(&[sc.seed, 0x7135]));
        World {
            now: Instant::ZERO,
            nodes,
            flight: BinaryHeap::new(),
            flight_pkts: BTreeMap::new(),
            seq: 0,
            next_fault: 0,
            link: vec![vec![true; n]; n],
            loss: 0,
            dup: 0,
            delay: 0,
            late_until: Instant::ZERO,
            fifo: vec![vec![Instant::ZERO; n]; n],
            copies: 0,
            delivered: 0,
            handled: 0,
            net_drops: BTreeMap::new(),
            trace: Vec::new(),
            notes: Vec::new(),
            rng,
            steps: 0,
            sc,
        }
    }

    /// The configuration of instance `k` of node `i` as first configured.
    pub fn router_config(&self, i: usize, k: usize) -> RouterConfig {
        let sc = &self.sc;
        let nc = &sc.nodes[i];
        RouterConfig {
            name: format!("n{i}v{}", sc.vrids[k]),
            vrid: Vrid::new(sc.vrids[k]).expect("vrid"),
            version: sc.version,
            priority: Priority(nc.prio[k]),
            advert_interval: Centisecs(sc.interval_cs),
            preempt: nc.preempt,
            preempt_delay: nc.preempt_delay,
            vips: vec![vip(sc.v6, sc.vrids[k])],
            auth_pass: if sc.auth { Some(*b"secret\0\0") } else { None },
            primary_ip: node_ip(sc.v6, i),
            garp: GarpPolicy {
                repeat: 1,
                master_delay: Duration::from_millis(50),
                refresh: None,
            },
        }
    }

    /// The events that fall due at the earliest instant, and that instant.
    pub fn ready(&self) -> Option<(Instant, Vec<Ready>)> {
        let mut t: Option<Instant> = None;
        let mut out = Vec::new();
        let offer =
            |at: Option<Instant>, r: Ready, t: &mut Option<Instant>, out: &mut Vec<Ready>| {
                if let Some(at) = at {
                    match *t {
                        Some(cur) if at > cur => {}
                        Some(cur) if at == cur => out.push(r),
                        _ => {
                            *t = Some(at);
                            out.clear();
                            out.push(r);
                        }
                    }
                }
            };
        offer(
            self.sc.faults.get(self.next_fault).map(|f| f.0),
            Ready::Fault,
            &mut t,
            &mut out,
        );
        offer(
            self.flight.peek().map(|r| r.0 .0),
            Ready::Arrival,
            &mut t,
            &mut out,
        );
        for (i, n) in self.nodes.iter().enumerate() {
            offer(n.keeper_wake(), Ready::Keeper(i), &mut t, &mut out);
            offer(n.wake(), Ready::Loop(i), &mut t, &mut out);
        }
        t.map(|t| (t, out))
    }

    /// Take one step: the event chosen by `pick` among those ready first.
    /// Returns false when nothing is left before the end.
    pub fn step_with(&mut self, pick: impl FnOnce(&[Ready], &mut Rng) -> usize) -> bool {
        self.notes.clear();
        let Some((t, ready)) = self.ready() else {
            return false;
        };
        if t > self.sc.end {
            return false;
        }
        let choice = if ready.len() == 1 {
            0
        } else {
            pick(&ready, &mut self.rng)
        };
        self.now = t;
        self.steps += 1;
        match ready[choice] {
            Ready::Fault => {
                let f = self.sc.faults[self.next_fault].1.clone();
                self.next_fault += 1;
                self.apply_fault(f);
            }
            Ready::Arrival => self.arrive(),
            Ready::Keeper(i) => self.run_keeper(i),
            Ready::Loop(i) => self.run_loop(i),
        }
        true
    }

    /// A step with ties broken at random.
    pub fn step(&mut self) -> bool {
        self.step_with(|r, rng| rng.below(r.len() as u64) as usize)
    }

    // ----- the network -------------------------------------------------

    fn latency(&self, parts: &[u64]) -> Duration {
        let mut us = self.sc.lat_base_us + hashed_upto(parts, self.sc.lat_jitter_us);
        if self.delay > 0 {
            us += hashed_upto(&[parts[0], parts[1], 0xde1a], self.delay);
        }
        Duration::from_micros(us)
    }

    /// Node `i` sends a packet: one copy per receiver (every other node for
    /// the group, the one addressed for unicast), each with its own fate.
    fn send(&mut self, i: usize, pkt: Packet) {
        let pkt = Rc::new(pkt);
        let receivers: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| {
                if pkt.dst.is_multicast() {
                    j != i
                } else {
                    self.nodes[j].ip == pkt.dst
                }
            })
            .collect();
        for j in receivers {
            self.copies += 1;
            let id = self.seq;
            self.seq += 1;
            let parts = [self.sc.seed, id, 0x5e4d];
            let fate = if !self.nodes[i].link {
                Some("tx_link_down")
            } else if !self.link[i][j] {
                Some("partition")
            } else if self.loss > 0 && hashed_upto(&parts, 999) < self.loss {
                Some("loss")
            } else {
                None
            };
            match fate {
                Some(reason) => *self.net_drops.entry(reason).or_default() += 1,
                None => {
                    let mut at = self.now + self.latency(&parts);
                    if self.delay > 0 {
                        self.late_until = self.late_until.max(at);
                    } else {
                        at = at.max(self.fifo[i][j]);
                    }
                    self.fifo[i][j] = self.fifo[i][j].max(at);
                    self.flight.push(Reverse((at, id, j)));
                    self.flight_pkts.insert(id, pkt.clone());
                    if self.dup > 0 && hashed_upto(&[parts[0], id, 0xd0b], 999) < self.dup {
                        // The duplicate is a copy of its own.
                        self.copies += 1;
                        let id2 = self.seq;
                        self.seq += 1;
                        let mut at2 = self.now + self.latency(&[self.sc.seed, id2, 0x5e4d]);
                        if self.delay > 0 {
                            self.late_until = self.late_until.max(at2);
                        } else {
                            at2 = at2.max(self.fifo[i][j]);
                        }
                        self.fifo[i][j] = self.fifo[i][j].max(at2);
                        self.flight.push(Reverse((at2, id2, j)));
                        self.flight_pkts.insert(id2, pkt.clone());
                    }
                }
            }
        }
    }

    fn arrive(&mut self) {
        let Some(Reverse((_, id, j))) = self.flight.pop() else {
            return;
        };
        let Some(pkt) = self.flight_pkts.remove(&id) else {
            return;
        };
        let node = &mut self.nodes[j];
        let fate = if !node.running {
            Some("rx_down")
        } else if !node.link {
            Some("rx_link_down")
        } else {
            None
        };
        match fate {
            Some(reason) => *self.net_drops.entry(reason).or_default() += 1,
            None => {
                self.delivered += 1;
                node.sock.push(pkt);
                self.request_wake(j);
            }
        }
    }

    /// An input is ready for node j's event loop: it wakes after its
    /// scheduling delay.
    fn request_wake(&mut self, j: usize) {
        let d = self.wake_delay(j);
        let node = &mut self.nodes[j];
        let at = self.now + d;
        if node.input_wake.is_none_or(|w| w > at) {
            node.input_wake = Some(at);
        }
    }

    fn wake_delay(&mut self, j: usize) -> Duration {
        let node = &mut self.nodes[j];
        node.wakes += 1;
        Duration::from_micros(hashed_upto(
            &[self.sc.seed, j as u64, node.epoch, node.wakes, 0x3a4e],
            self.sc.wake_us,
        ))
    }

    fn keeper_delay(&mut self, j: usize) -> Duration {
        let node = &mut self.nodes[j];
        node.wakes += 1;
        Duration::from_micros(hashed_upto(
            &[self.sc.seed, j as u64, node.epoch, node.wakes, 0x4ee9],
            self.sc.kwake_us,
        ))
    }

    fn event_delay(&self, parts: &[u64]) -> Duration {
        Duration::from_micros(hashed_upto(parts, self.sc.event_us))
    }

    /// Deliver a non-packet input to node j after `delay`: it is queued now
    /// and the loop wakes after the delay plus its scheduling delay.
    fn input(&mut self, j: usize, input: Input, delay: Duration) {
        if !self.nodes[j].running {
            return;
        }
        self.nodes[j].inputs.push(input);
        let d = self.wake_delay(j) + delay;
        let at = self.now + d;
        let node = &mut self.nodes[j];
        if node.input_wake.is_none_or(|w| w > at) {
            node.input_wake = Some(at);
        }
    }

    // ----- faults ------------------------------------------------------

    fn apply_fault(&mut self, f: Fault) {
        self.notes.push(Note::Fault(f.clone()));
        let n = self.nodes.len();
        let salt = [self.sc.seed, self.next_fault as u64, 0xfa17];
        match f {
            Fault::Loss(p) => self.loss = p,
            Fault::Dup(p) => self.dup = p,
            Fault::Delay(us) => self.delay = us,
            Fault::Partition(mask) => {
                for a in 0..n {
                    for b in 0..n {
                        self.link[a][b] = (mask >> a) & 1 == (mask >> b) & 1;
                    }
                }
            }
            Fault::Cut(a, b) => self.link[a][b] = false,
            Fault::HealAll => self.link = vec![vec![true; n]; n],
            Fault::Crash(i) => self.crash(i),
            Fault::Stop(i) => self.input(i, Input::Stop, Duration::ZERO),
            Fault::Restart(i) => self.start(i),
            Fault::IfaceDown(i) | Fault::IfaceUp(i) => {
                let up = matches!(f, Fault::IfaceUp(_));
                if self.nodes[i].link != up {
                    self.nodes[i].link = up;
                    let d = self.event_delay(&salt);
                    self.input(i, Input::Link(up), d);
                }
            }
            Fault::TrackFail(i, t) | Fault::TrackRecover(i, t) => {
                let failed = matches!(f, Fault::TrackFail(..));
                if self.nodes[i].failed[t] != failed {
                    self.nodes[i].failed[t] = failed;
                    let d = self.event_delay(&salt);
                    self.input(i, Input::Track(t, failed), d);
                }
            }
            Fault::Reload { node, .. } | Fault::ReloadInterval { node, .. } => {
                self.input(node, Input::Reload(f), Duration::ZERO)
            }
            Fault::Maintenance(i, k, on) => {
                self.input(i, Input::Maintenance(k, on), Duration::ZERO)
            }
            Fault::Stall {
                node,
                main,
                keeper,
                us,
            } => {
                let until = self.now + Duration::from_micros(us);
                let nd = &mut self.nodes[node];
                if main {
                    nd.stall = nd.stall.max(until);
                }
                if keeper {
                    nd.kstall = nd.kstall.max(until);
                }
            }
            Fault::Junk(i, kind) => self.junk(i, kind),
        }
    }

    fn crash(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if !node.running {
            return;
        }
        node.running = false;
        *self.net_drops.entry("rx_down").or_default() += node.sock.len() as u64;
        for inst in &mut node.insts {
            // The host is gone, and its addresses with it.
            inst.vips = false;
            inst.kept = None;
        }
        node.sock.clear();
        node.inputs.clear();
        node.timer_wake = None;
        node.input_wake = None;
        node.kwake = None;
    }

    /// The daemon starts (first start or restart): fresh routers, the
    /// link state read at start, trackers report shortly after.
    pub fn start(&mut self, i: usize) {
        if self.nodes[i].running {
            return;
        }
        let cfgs: Vec<RouterConfig> = (0..self.sc.vrids.len())
            .map(|k| self.router_config(i, k))
            .collect();
        let keeper = self.sc.keeper;
        let node = &mut self.nodes[i];
        node.running = true;
        node.epoch += 1;
        *self.net_drops.entry("rx_down").or_default() += node.sock.len() as u64;
        node.sock.clear();
        node.inputs.clear();
        node.stall = Instant::ZERO;
        node.kstall = Instant::ZERO;
        node.maint = vec![false; cfgs.len()];
        node.reported = vec![None; node.failed.len()];
        let link = node.link;
        node.insts = cfgs
            .into_iter()
            .map(|cfg| new_inst(cfg, keeper, link))
            .collect();
        let all: Vec<usize> = (0..self.nodes[i].insts.len()).collect();
        self.start_new(i, &all);
        self.drain(i);
        self.after_loop(i);
        // Trackers report their first state a little after start.
        for t in 0..self.sc.nodes[i].trackers.len() {
            let failed = self.nodes[i].failed[t];
            let d =
                self.event_delay(&[self.sc.seed, i as u64, t as u64, self.nodes[i].epoch, 0x7ac]);
            self.input(i, Input::Track(t, failed), d);
        }
    }

    fn junk(&mut self, i: usize, kind: Junk) {
        let sc = &self.sc;
        let stranger = if sc.v6 {
            IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xc8))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 200))
        };
        let group: IpAddr = if sc.v6 {
            VRRP_MCAST_V6.into()
        } else {
            VRRP_MCAST_V4.into()
        };
        let mut adv = Advertisement {
            version: sc.version,
            vrid: sc.vrids[0],
            priority: Priority(254),
            max_adver_int: Centisecs(sc.interval_cs),
            addrs: vec![vip(sc.v6, sc.vrids[0])].into(),
            auth: if sc.auth {
                Auth::SimplePassword(*b"secret\0\0")
            } else {
                Auth::None
            },
        };
        let mut src = stranger;
        let mut ttl = VRRP_TTL;
        let expect = match kind {
            Junk::Ttl => {
                ttl = 64;
                "ttl"
            }
            Junk::Checksum => "checksum",
            Junk::UnknownVrid => {
                adv.vrid = 99;
                "vrid_unknown"
            }
            Junk::Truncated => "truncated",
            Junk::OtherVersion => {
                adv.version = match sc.version {
                    Version::V2 => Version::V3,
                    Version::V3 => Version::V2,
                };
                adv.max_adver_int = Centisecs(100);
                adv.auth = Auth::None;
                "router:version"
            }
            Junk::WrongAuth => {
                adv.auth = Auth::SimplePassword(*b"wrong\0\0\0");
                "router:auth"
            }
            Junk::WrongInterval => {
                adv.max_adver_int = Centisecs(sc.interval_cs + 100);
                "router:interval_mismatch"
            }
            Junk::OwnCopy => {
                src = self.nodes[i].ip;
                "router:own_address"
            }
            Junk::ZeroInterval => {
                adv.max_adver_int = Centisecs(0);
                "router:interval_zero"
            }
        };
        // A stranger's packet is not a router's: it reaches every running
        // node whose link is up (the own copy only the node itself).
        let targets: Vec<usize> = if kind == Junk::OwnCopy {
            vec![i]
        } else {
            (0..self.nodes.len()).collect()
        };
        let unicast = sc.unicast;
        for j in targets {
            let dst = if unicast { self.nodes[j].ip } else { group };
            let mut bytes = adv
                .to_bytes(src, dst, ChecksumMode::PseudoHeader)
                .expect("junk encodes");
            match kind {
                Junk::Checksum => bytes[6] ^= 0x5a,
                Junk::Truncated => bytes.truncate(4),
                _ => {}
            }
            let pkt = Rc::new(Packet {
                src,
                dst,
                ttl,
                bytes,
                expect: Some(expect),
            });
            self.copies += 1;
            let id = self.seq;
            self.seq += 1;
            let at = self.now + self.latency(&[self.sc.seed, id, 0x5e4d]);
            self.flight.push(Reverse((at, id, j)));
            self.flight_pkts.insert(id, pkt.clone());
        }
    }

    // ----- the daemon's event loop ---------------------------------------

    /// Node i's event loop wakes: every ready input, in the daemon's order.
    fn run_loop(&mut self, i: usize) {
        let now = self.now;
        self.nodes[i].input_wake = None;
        self.nodes[i].timer_wake = None;
        let mut spins = 0;
        loop {
            spins += 1;
            if spins > 10_000 {
                // A deadline that stays due after handle_timeout would make
                // the daemon's timer fire forever.
                self.notes.push(Note::Broken(
                    "event_loop_progress",
                    format!("node {i}: the event loop does not get idle"),
                ));
                break;
            }
            let node = &mut self.nodes[i];
            if !node.running {
                return;
            }
            // Biased select: stop, reload, timer, packets, link, tracker, control.
            let first = node
                .inputs
                .iter()
                .enumerate()
                .min_by_key(|(n, inp)| (inp.rank(), *n))
                .map(|(n, inp)| (n, inp.rank()));
            if let Some((n, rank)) = first.filter(|f| f.1 <= 1) {
                let _ = rank;
                let inp = node.inputs.remove(n);
                self.handle_input(i, inp);
                self.drain(i);
                continue;
            }
            let node = &self.nodes[i];
            // on_timers: woken by a deadline, the daemon takes every
            // instance due within the longest advert lead with it (a
            // master's advert leaves early; other timers never fire early).
            let lead = node
                .insts
                .iter()
                .map(|inst| inst.router.advert_lead())
                .max()
                .unwrap_or_default();
            let woken = (0..node.insts.len()).any(|k| {
                node.insts[k]
                    .router
                    .poll_timeout()
                    .is_some_and(|t| t <= now)
            });
            let due: Vec<usize> = (0..node.insts.len())
                .filter(|&k| {
                    woken
                        && node.insts[k]
                            .router
                            .poll_timeout()
                            .is_some_and(|t| t <= now + lead)
                })
                .collect();
            if !due.is_empty() {
                // on_timers: with a due backup, read the queued packets first.
                if due
                    .iter()
                    .any(|&k| self.nodes[i].insts[k].router.state() == State::Backup)
                {
                    let queued = std::mem::take(&mut self.nodes[i].sock);
                    for p in queued {
                        self.on_packet(i, &p);
                    }
                }
                for k in due {
                    self.nodes[i].insts[k].router.handle_timeout(now);
                }
                self.drain(i);
                continue;
            }
            if !self.nodes[i].sock.is_empty() {
                let p = self.nodes[i].sock.remove(0);
                self.on_packet(i, &p);
                self.drain(i);
                continue;
            }
            let node = &mut self.nodes[i];
            if let Some((n, _)) = first {
                let inp = node.inputs.remove(n);
                self.handle_input(i, inp);
                self.drain(i);
                continue;
            }
            break;
        }
        self.after_loop(i);
    }

    /// The loop goes back to sleep: arm the timer for the next deadline.
    fn after_loop(&mut self, i: usize) {
        if !self.nodes[i].running {
            self.nodes[i].timer_wake = None;
            return;
        }
        let next = self.nodes[i]
            .insts
            .iter()
            .filter_map(|x| x.router.poll_timeout())
            .min();
        let d = self.wake_delay(i);
        self.nodes[i].timer_wake = next.map(|t| t.max(self.now) + d);
    }

    /// The receive path (`Daemon::on_packet`, `rx::accept`): TTL, parse,
    /// VRID, then the instance. Every packet lands in exactly one counter.
    fn on_packet(&mut self, i: usize, p: &Packet) {
        let now = self.now;
        self.handled += 1;
        let reason: &'static str = (|| {
            if p.ttl != VRRP_TTL {
                return "ttl";
            }
            let adv = match Advertisement::parse(&p.bytes, p.src, p.dst) {
                Ok((a, _)) => a,
                Err(e) => return e.drop_reason_name(),
            };
            let node = &mut self.nodes[i];
            let Some(k) = node.insts.iter().position(|x| x.cfg.vrid.get() == adv.vrid) else {
                return "vrid_unknown";
            };
            let r = &mut node.insts[k].router;
            let before = (
                r.stats().adverts_received,
                r.stats().drops.values().sum::<u64>(),
            );
            let res = r.handle_advert(now, p.src, &adv);
            let after = (
                r.stats().adverts_received,
                r.stats().drops.values().sum::<u64>(),
            );
            let counted = (after.0 - before.0) + (after.1 - before.1);
            if counted != 1 {
                self.notes.push(Note::Broken(
                    "drops_counted_once",
                    format!("node {i}: an advert moved {counted} router counters"),
                ));
            }
            match res {
                Ok(()) => "",
                // The instance's counters.drops.*, by the router's own name.
                Err(reason) => router_reason(reason.name()),
            }
        })();
        if !reason.is_empty() && !reason.starts_with("router:") {
            *self.nodes[i].drops.entry(reason).or_default() += 1;
        }
        let expected = p.expect.unwrap_or("");
        if reason != expected {
            self.notes.push(Note::Broken(
                "drops_counted_once",
                format!(
                    "node {i}: a packet from {} expected in {:?} landed in {:?}",
                    p.src,
                    if expected.is_empty() {
                        "accepted"
                    } else {
                        expected
                    },
                    if reason.is_empty() {
                        "accepted"
                    } else {
                        reason
                    }
                ),
            ));
        }
    }

    fn handle_input(&mut self, i: usize, inp: Input) {
        let now = self.now;
        match inp {
            Input::Stop => {
                // Daemon::shutdown: every instance stops, drains, and the
                // VIPs go whatever the state; then the process exits.
                for k in 0..self.nodes[i].insts.len() {
                    self.nodes[i].insts[k].router.handle_shutdown(now);
                    self.drain_inst(i, k);
                    self.nodes[i].insts[k].vips = false;
                }
                let node = &mut self.nodes[i];
                node.running = false;
                *self.net_drops.entry("rx_down").or_default() += node.sock.len() as u64;
                node.sock.clear();
                node.inputs.clear();
                node.input_wake = None;
                node.timer_wake = None;
                for inst in &mut node.insts {
                    inst.kept = None;
                }
                node.kwake = None;
            }
            Input::Link(up) => {
                for inst in &mut self.nodes[i].insts {
                    if inst.link_up != up {
                        inst.link_up = up;
                        inst.router.handle_iface(now, up);
                    }
                }
            }
            Input::Track(t, failed) => {
                self.nodes[i].reported[t] = Some(failed);
                let tc = self.sc.nodes[i].trackers[t].clone();
                let state = if failed {
                    TrackState::Down
                } else {
                    TrackState::Up
                };
                let effect = vrrpd::daemon::track_effect(tc.weight, state);
                let name = format!("t{t}");
                for (k, inst) in self.nodes[i].insts.iter_mut().enumerate() {
                    if tc.applies[k] {
                        inst.router.handle_track(now, &name, effect);
                    }
                }
            }
            Input::Maintenance(k, on) => {
                self.nodes[i].maint[k] = on;
                self.nodes[i].insts[k].router.handle_maintenance(now, on);
            }
            Input::Reload(f) => self.reload(i, f),
        }
    }

    /// SIGHUP (`Daemon::reload`): a changed soft setting is applied in
    /// place; a hard one restarts the instance. In a sync group a priority
    /// change is made to every member (the members' priorities must order
    /// the nodes alike for the group to agree).
    fn reload(&mut self, i: usize, f: Fault) {
        let ks: Vec<usize> = match f {
            Fault::Reload { .. } if self.sc.sync => (0..self.nodes[i].insts.len()).collect(),
            Fault::Reload { inst, .. } | Fault::ReloadInterval { inst, .. } => vec![inst],
            _ => return,
        };
        let mut restarted = Vec::new();
        for k in ks {
            let mut cfg = self.nodes[i].insts[k].cfg.clone();
            match f {
                Fault::Reload {
                    prio,
                    preempt,
                    delay_ms,
                    ..
                } => {
                    cfg.priority = Priority(prio);
                    cfg.preempt = preempt;
                    cfg.preempt_delay = Duration::from_millis(delay_ms);
                }
                Fault::ReloadInterval { cs, .. } => cfg.advert_interval = Centisecs(cs),
                _ => return,
            }
            if self.reload_inst(i, k, cfg) {
                restarted.push(k);
            }
        }
        self.start_new(i, &restarted);
    }

    /// `Daemon::reload_instance`: `true` when the instance was restarted
    /// and waits for its Startup event (`start_new`, once every instance
    /// of the reload is in place).
    fn reload_inst(&mut self, i: usize, k: usize, cfg: RouterConfig) -> bool {
        let now = self.now;
        if cfg == self.nodes[i].insts[k].cfg {
            return false;
        }
        let keeper = self.sc.keeper;
        let inst = &mut self.nodes[i].insts[k];
        if inst.router.reconfigure(now, cfg.clone()) {
            inst.cfg = cfg;
            // Instance::share_adverts.
            let on = keeper && vrrpd::core::keeper::shares(inst.cfg.advert_interval.to_duration());
            if !on {
                inst.kept = None;
            }
            inst.router.set_shared_adverts(on);
            inst.shared = on;
            return false;
        }
        // Restart this instance: shutdown, drain, VIPs off, a new one started.
        inst.router.handle_shutdown(now);
        self.drain_inst(i, k);
        let link = self.nodes[i].link;
        let node = &mut self.nodes[i];
        node.insts[k].vips = false;
        node.insts[k].kept = None;
        node.insts[k] = new_inst(cfg, keeper, link);
        node.maint[k] = false;
        // Daemon::apply_known_tracks: the trackers' last reported states.
        for t in 0..self.sc.nodes[i].trackers.len() {
            let tc = &self.sc.nodes[i].trackers[t];
            if let Some(failed) = node.reported[t].filter(|_| tc.applies[k]) {
                let state = if failed {
                    TrackState::Down
                } else {
                    TrackState::Up
                };
                let effect = vrrpd::daemon::track_effect(tc.weight, state);
                node.insts[k]
                    .router
                    .handle_track(now, &format!("t{t}"), effect);
            }
        }
        true
    }

    /// `Daemon::start_new`: the Startup event of new instances `ks`, each
    /// knowing its group's hold. The others start first (one may start in
    /// Fault), then the group's holds, then the address owners that may
    /// become master at Startup.
    fn start_new(&mut self, i: usize, ks: &[usize]) {
        let now = self.now;
        let (owners, others): (Vec<usize>, Vec<usize>) = ks.iter().partition(|&&k| {
            let inst = &self.nodes[i].insts[k];
            inst.router.config().priority == Priority::OWNER
                && inst.link_up
                && inst
                    .router
                    .track_effects()
                    .all(|(_, e)| e != TrackEffect::Fault)
        });
        let start = |inst: &mut Inst| {
            if !inst.link_up {
                inst.router.handle_iface(now, false);
            }
            inst.router.handle_startup(now);
        };
        for &k in &others {
            start(&mut self.nodes[i].insts[k]);
        }
        if self.sc.sync && !owners.is_empty() {
            self.apply_sync(i);
        }
        for &k in &owners {
            start(&mut self.nodes[i].insts[k]);
        }
    }

    /// `Daemon::drain`: sync groups first, then every instance's actions.
    fn drain(&mut self, i: usize) {
        if self.sc.sync {
            self.apply_sync(i);
        }
        for k in 0..self.nodes[i].insts.len() {
            self.drain_inst(i, k);
        }
        self.notes.push(Note::Drained(i));
    }

    /// `Daemon::apply_sync`, for the node's one group.
    fn apply_sync(&mut self, i: usize) {
        let now = self.now;
        for _ in 0..4 {
            let node = &mut self.nodes[i];
            let before: Vec<State> = node.insts.iter().map(|x| x.router.state()).collect();
            let members: Vec<&VirtualRouter> = node.insts.iter().map(|x| &x.router).collect();
            let holds = vrrpd::core::sync::holds(&members);
            for (inst, held) in node.insts.iter_mut().zip(holds) {
                inst.router.handle_sync(now, "G", held);
            }
            let after: Vec<State> = node.insts.iter().map(|x| x.router.state()).collect();
            if before == after {
                return;
            }
        }
    }

    /// `Instance::drain`: carry out the actions in order.
    fn drain_inst(&mut self, i: usize, k: usize) {
        let now = self.now;
        // Replayed state while walking the actions: VIPs may be added only
        // after entering Master, removed only after leaving it.
        let mut replay = None;
        while let Some(a) = self.nodes[i].insts[k].router.poll_action() {
            match a {
                Action::StateChanged { from, to, reason } => {
                    if to != State::Master {
                        self.nodes[i].insts[k].kept = None;
                    }
                    replay = Some((from, to));
                    let t = Transition {
                        at: now,
                        node: i,
                        inst: k,
                        from,
                        to,
                        reason,
                    };
                    self.trace.push(t.clone());
                    self.notes.push(Note::Changed(t));
                }
                Action::SendAdvert(adv) => self.send_advert(i, k, &adv),
                Action::AddVips => {
                    if !matches!(replay, Some((_, State::Master))) {
                        self.notes.push(Note::Broken(
                            "vips_follow_master",
                            format!(
                                "node {i} inst {k}: AddVips without entering MASTER ({replay:?})"
                            ),
                        ));
                    }
                    self.nodes[i].insts[k].vips = true;
                }
                Action::RemoveVips => {
                    if !matches!(replay, Some((State::Master, _))) {
                        self.notes.push(Note::Broken(
                            "vips_follow_master",
                            format!(
                                "node {i} inst {k}: RemoveVips without leaving MASTER ({replay:?})"
                            ),
                        ));
                    }
                    self.nodes[i].insts[k].vips = false;
                }
                Action::Announce { .. } | Action::Anomaly(_) => {}
                Action::PriorityChanged { .. } => {}
            }
        }
    }

    /// `Instance::send_advert`: encode per destination, send, and hand a
    /// master's advert to the keeper.
    fn send_advert(&mut self, i: usize, k: usize, adv: &Advertisement) {
        let now = self.now;
        if adv.priority.get() == 0 {
            self.nodes[i].insts[k].kept = None;
        }
        let src = self.nodes[i].ip;
        let dsts: Vec<IpAddr> = if self.sc.unicast {
            (0..self.nodes.len())
                .filter(|&j| j != i)
                .map(|j| self.nodes[j].ip)
                .collect()
        } else if self.sc.v6 {
            vec![VRRP_MCAST_V6.into()]
        } else {
            vec![VRRP_MCAST_V4.into()]
        };
        let mode = ChecksumMode::PseudoHeader;
        let mut sent = Vec::with_capacity(dsts.len());
        for dst in dsts {
            let bytes = Rc::new(adv.to_bytes(src, dst, mode).expect("our adverts encode"));
            self.send(
                i,
                Packet {
                    src,
                    dst,
                    ttl: VRRP_TTL,
                    bytes: (*bytes).clone(),
                    expect: None,
                },
            );
            sent.push((dst, bytes));
        }
        self.notes.push(Note::Sent(i, k, adv.priority));
        let inst = &mut self.nodes[i].insts[k];
        if self.sc.keeper
            && adv.priority.get() != 0
            && inst.router.state() == State::Master
            && inst.router.shared_adverts()
        {
            // KeeperSlot::sent: replace the entry; a new one wakes the
            // keeper, and so does one due before the entry it replaces.
            let next = Schedule::new(adv.max_adver_int.to_duration(), now);
            let wake = inst
                .kept
                .as_ref()
                .is_none_or(|(old, _)| old.wakes_keeper(&next));
            inst.kept = Some((next, sent));
            if wake {
                let d = self.keeper_delay(i);
                let at = now + d;
                let node = &mut self.nodes[i];
                if node.kwake.is_none_or(|w| w > at) {
                    node.kwake = Some(at);
                }
            }
        }
    }

    /// The keeper thread's loop body (src/daemon/keeper.rs `run`).
    fn run_keeper(&mut self, i: usize) {
        let now = self.now;
        let mut next = now + KEEPER_IDLE;
        let mut shortest = KEEPER_IDLE;
        let mut any = false;
        let mut sends = Vec::new();
        for (k, inst) in self.nodes[i].insts.iter_mut().enumerate() {
            let Some((sc, pkts)) = inst.kept.as_mut() else {
                continue;
            };
            any = true;
            shortest = shortest.min(sc.interval());
            if sc.hung(now) {
                continue;
            }
            if sc.poll(now).is_some() {
                sends.push((k, pkts.clone()));
            }
            next = next.min(sc.due());
        }
        for (k, pkts) in sends {
            let src = self.nodes[i].ip;
            let prio = self.nodes[i].insts[k].router.effective_priority();
            for (dst, bytes) in pkts {
                self.send(
                    i,
                    Packet {
                        src,
                        dst,
                        ttl: VRRP_TTL,
                        bytes: (*bytes).clone(),
                        expect: None,
                    },
                );
            }
            self.notes.push(Note::Sent(i, k, prio));
        }
        next = next.max(now + shortest / 4);
        let d = self.keeper_delay(i);
        // With nothing kept the keeper only sleeps until an entry wakes it.
        self.nodes[i].kwake = if any { Some(next + d) } else { None };
    }

    // ----- what the checker reads --------------------------------------

    /// The effective priority the model expects for node i, instance k:
    /// the configured one plus the weights of its failed (or, for positive
    /// weights, healthy) trackers as the daemon last learnt them.
    pub fn model_priority(&self, i: usize, k: usize, failed: &[bool]) -> Priority {
        let inst = &self.nodes[i].insts[k];
        let mut penalty = 0i32;
        for (t, tc) in self.sc.nodes[i].trackers.iter().enumerate() {
            if !tc.applies[k] {
                continue;
            }
            let state = if failed[t] {
                TrackState::Down
            } else {
                TrackState::Up
            };
            if let TrackEffect::Priority(d) = vrrpd::daemon::track_effect(tc.weight, state) {
                penalty += d;
            }
        }
        if penalty == 0 {
            return inst.cfg.priority;
        }
        Priority((inst.cfg.priority.get() as i32 + penalty).clamp(1, 254) as u8)
    }

    /// The longest Max Adver Int among node `from`'s adverts for instance
    /// `k` still on their way (in flight or queued at a socket). After a
    /// reload that changed the interval, these carry the old one, not the
    /// router's new config.
    pub fn interval_on_the_way(&self, k: usize, from: usize) -> Option<Centisecs> {
        let vrid = self.sc.vrids[k];
        let ip = self.nodes[from].ip;
        let interval = |p: &Packet| {
            if p.expect.is_some() || p.src != ip {
                return None;
            }
            let (adv, _) = Advertisement::parse(&p.bytes, p.src, p.dst).ok()?;
            (adv.vrid == vrid && adv.priority.get() > 0).then_some(adv.max_adver_int)
        };
        self.flight_pkts
            .values()
            .filter_map(|p| interval(p))
            .chain(
                self.nodes
                    .iter()
                    .flat_map(|n| n.sock.iter().filter_map(|p| interval(p))),
            )
            .max()
    }

    /// Whether an advert of instance `k` with a non-zero priority from a
    /// router that is no longer master is in flight or in a socket (a
    /// stepping-down master's last advert, or one sent just before a crash).
    /// Node `except`'s own are left out: they reach each receiver before
    /// its later ones (FIFO per pair on a clean network).
    pub fn stale_advert_on_the_way(&self, k: usize, except: usize) -> bool {
        let vrid = self.sc.vrids[k];
        let stale = |p: &Packet| {
            if p.expect.is_some() || p.src == self.nodes[except].ip {
                return false;
            }
            let Ok((adv, _)) = Advertisement::parse(&p.bytes, p.src, p.dst) else {
                return false;
            };
            adv.vrid == vrid
                && adv.priority.get() > 0
                && !self.nodes.iter().any(|n| {
                    n.ip == p.src && n.running && n.insts[k].router.state() == State::Master
                })
        };
        self.flight_pkts.values().any(|p| stale(p))
            || self.nodes.iter().any(|n| n.sock.iter().any(|p| stale(p)))
    }

    /// Whether node i's instance k must be in Fault: link down, a failed
    /// weight-0 tracker, maintenance.
    pub fn model_fault(&self, i: usize, k: usize) -> bool {
        let node = &self.nodes[i];
        if !node.link || node.maint[k] {
            return true;
        }
        self.sc.nodes[i].trackers.iter().enumerate().any(|(t, tc)| {
            tc.applies[k]
                && matches!(
                    vrrpd::daemon::track_effect(
                        tc.weight,
                        if node.failed[t] {
                            TrackState::Down
                        } else {
                            TrackState::Up
                        }
                    ),
                    TrackEffect::Fault
                )
        })
    }
}

/// A router drop reason as the simulator names it (`router:` + the counter).
fn router_reason(name: &str) -> &'static str {
    match name {
        "version" => "router:version",
        "auth" => "router:auth",
        "interval_mismatch" => "router:interval_mismatch",
        "own_address" => "router:own_address",
        "address_family" => "router:address_family",
        "interval_zero" => "router:interval_zero",
        _ => "router:unknown",
    }
}

fn new_inst(cfg: RouterConfig, keeper: bool, link_up: bool) -> Inst {
    let mut router = VirtualRouter::new(cfg.clone());
    // As the daemon sets it (`Instance::new`).
    router.set_advert_lead(vrrpd::core::router::advert_lead(
        cfg.advert_interval.to_duration(),
    ));
    let shared = keeper && vrrpd::core::keeper::shares(cfg.advert_interval.to_duration());
    router.set_shared_adverts(shared);
    Inst {
        router,
        cfg,
        vips: false,
        kept: None,
        shared,
        link_up,
    }
}
