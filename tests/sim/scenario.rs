//! A scenario: the random configuration of the routers and the timed list of
//! faults, both drawn from one seed. The fault list is what the shrinker
//! shortens.

use std::fmt;
use std::time::Duration;

use vrrpd::core::time::Instant;
use vrrpd::core::types::Version;

use crate::rng::{hashed_upto, Rng};

/// What one node (one vrrpd daemon) runs.
#[derive(Debug, Clone)]
pub struct NodeCfg {
    /// Configured priority of each instance (one per VRID), 1..=255.
    pub prio: Vec<u8>,
    /// Preempt_Mode.
    pub preempt: bool,
    /// preempt_delay.
    pub preempt_delay: Duration,
    /// The node's trackers.
    pub trackers: Vec<TrackerCfg>,
    /// When the daemon first starts.
    pub start: Instant,
}

/// A tracker (e.g. HAProxy's process) and the instances it applies to.
#[derive(Debug, Clone)]
pub struct TrackerCfg {
    /// Its weight: 0 = Fault while failed, negative = lowered while failed,
    /// positive = raised while healthy (keepalived's semantics).
    pub weight: i16,
    /// Which instances (by VRID index) use it.
    pub applies: Vec<bool>,
}

/// A junk packet class, each with the one counter it must land in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Junk {
    /// IP TTL 64 instead of 255: `drops.ttl`.
    Ttl,
    /// Checksum wrong: `drops.checksum`.
    Checksum,
    /// A VRID nobody runs: `drops.vrid_unknown`.
    UnknownVrid,
    /// Shorter than the VRRP header: `drops.truncated`.
    Truncated,
    /// The other version (IPv4 only): `counters.drops.version`.
    OtherVersion,
    /// v2 only, a wrong password: `counters.drops.auth`.
    WrongAuth,
    /// v2 only, another Adver Int: `counters.drops.interval_mismatch`.
    WrongInterval,
    /// A looped-back copy of the node's own advert: `counters.drops.own_address`.
    OwnCopy,
    /// v3 only, Max Advertise Interval 0 (RFC 9568 §7.1, erratum 8301):
    /// `counters.drops.interval_zero`.
    ZeroInterval,
}

/// One fault or operator action, applied at its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Every packet copy is lost with this probability (per mille); 0 ends it.
    Loss(u64),
    /// Every delivered copy is duplicated with this probability (per mille).
    Dup(u64),
    /// Extra delay per copy, uniform up to this bound (µs): reorders; 0 ends it.
    Delay(u64),
    /// Two sides (bit i set: node i on side 1); packets cross only within a side.
    Partition(u32),
    /// Packets from `from` no longer reach `to` (one direction).
    Cut(usize, usize),
    /// Every link carries again, both ways.
    HealAll,
    /// The node dies without a word (power cut): its VIPs go with it.
    Crash(usize),
    /// SIGTERM: every master sends priority 0 and removes its VIPs, then the daemon exits.
    Stop(usize),
    /// The daemon starts again (after a crash or stop) with fresh routers.
    Restart(usize),
    /// The node's link goes down (carrier lost).
    IfaceDown(usize),
    /// The node's link comes back.
    IfaceUp(usize),
    /// Tracker `t` of the node fails.
    TrackFail(usize, usize),
    /// Tracker `t` of the node recovers.
    TrackRecover(usize, usize),
    /// SIGHUP with instance `inst` changed: new priority, preempt and delay (soft: in place).
    Reload {
        /// Node.
        node: usize,
        /// Instance (VRID index).
        inst: usize,
        /// New priority.
        prio: u8,
        /// New Preempt_Mode.
        preempt: bool,
        /// New preempt_delay, ms.
        delay_ms: u64,
    },
    /// SIGHUP with instance `inst`'s interval changed (v3; hard: the instance restarts).
    ReloadInterval {
        /// Node.
        node: usize,
        /// Instance.
        inst: usize,
        /// New interval, centiseconds.
        cs: u16,
    },
    /// `vrrpd maintenance NAME on|off`.
    Maintenance(usize, usize, bool),
    /// The node's event loop, its keeper, or both get no CPU for `us` (a starved process, vCPU steal).
    Stall {
        /// Node.
        node: usize,
        /// The event loop stalls.
        main: bool,
        /// The keeper thread stalls.
        keeper: bool,
        /// For how long, µs.
        us: u64,
    },
    /// A stranger on the link sends a bad packet to every node (or, for
    /// `OwnCopy`, the node hears its own advert).
    Junk(usize, Junk),
}

impl Fault {
    /// Whether the fault leaves the network in a state where packets are
    /// lost, late or cut (the quiet window cannot start while it lasts).
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Fault::Loss(_)
                | Fault::Dup(_)
                | Fault::Delay(_)
                | Fault::Partition(_)
                | Fault::Cut(..)
                | Fault::HealAll
        )
    }
}

/// A whole run: configuration, timing model and faults.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The seed it was drawn from.
    pub seed: u64,
    /// Protocol version of every instance.
    pub version: Version,
    /// IPv6 (v3 only).
    pub v6: bool,
    /// VRIDs each node runs (1 or 2).
    pub vrids: Vec<u8>,
    /// The instances of each node form one sync group.
    pub sync: bool,
    /// Advertisement_Interval, centiseconds.
    pub interval_cs: u16,
    /// Unicast to the peers instead of multicast.
    pub unicast: bool,
    /// The daemons share a master's adverts with the advert keeper (two CPUs).
    pub keeper: bool,
    /// v2 password.
    pub auth: bool,
    /// The nodes.
    pub nodes: Vec<NodeCfg>,
    /// One-way latency: base plus uniform jitter, µs.
    pub lat_base_us: u64,
    /// See `lat_base_us`.
    pub lat_jitter_us: u64,
    /// Event-loop wake-up delay bound (scheduling latency), µs.
    pub wake_us: u64,
    /// Keeper thread wake-up delay bound, µs.
    pub kwake_us: u64,
    /// Netlink and tracker event delay bound, µs.
    pub event_us: u64,
    /// The faults, in time order.
    pub faults: Vec<(Instant, Fault)>,
    /// End of the run.
    pub end: Instant,
}

/// Bounds of the fault model (documented in docs/SIMULATION.md).
pub const MAX_STALL_US: u64 = 1_500_000;
/// Largest extra delay of the delay fault, µs.
pub const MAX_DELAY_US: u64 = 100_000;

impl Scenario {
    /// The scenario of a seed.
    pub fn generate(seed: u64) -> Scenario {
        let mut r = Rng::new(seed);
        let n = match r.below(10) {
            0..=3 => 2,
            4..=6 => 3,
            7 | 8 => r.range(4, 5) as usize,
            _ => r.range(6, 8) as usize,
        };
        let version = if r.chance(250) {
            Version::V2
        } else {
            Version::V3
        };
        let v6 = version == Version::V3 && r.chance(200);
        let interval_cs: u16 = match version {
            Version::V2 => r.pick(&[100, 100, 200]),
            Version::V3 => r.pick(&[1, 1, 2, 3, 5, 10, 25, 30, 100]),
        };
        let two = r.chance(250);
        let vrids = if two { vec![1, 2] } else { vec![1] };
        let sync = two && r.chance(800);
        let unicast = r.chance(300);
        let keeper = r.chance(700);
        let auth = version == Version::V2 && r.chance(500);
        let interval_us = interval_cs as u64 * 10_000;
        // Priorities: often equal (ties broken by address), sometimes an owner.
        let equal = r.chance(300);
        let owner = if r.chance(150) {
            Some(r.below(n as u64) as usize)
        } else {
            None
        };
        let mut nodes = Vec::with_capacity(n);
        let mdi_us = 4 * interval_us;
        for i in 0..n {
            let base: u8 = if owner == Some(i) {
                255
            } else if equal {
                r.pick(&[100, 100, 150])
            } else {
                r.range(1, 254) as u8
            };
            let prio = vrids.iter().map(|_| base).collect();
            let preempt = !r.chance(250);
            let preempt_delay = if r.chance(200) {
                Duration::from_micros(r.range(1, 3 * mdi_us))
            } else {
                Duration::ZERO
            };
            let ntrack = r.pick(&[0, 0, 1, 1, 2]);
            let trackers = (0..ntrack)
                .map(|_| TrackerCfg {
                    weight: match r.below(10) {
                        0..=2 => 0,
                        3..=7 => -(r.range(1, 120) as i16),
                        _ => r.range(1, 60) as i16,
                    },
                    // In a sync group a tracker (the balancer's health)
                    // applies to every member: members whose priorities
                    // order the nodes differently cannot agree.
                    applies: vrids
                        .iter()
                        .map(|_| !two || sync || r.chance(700))
                        .collect(),
                })
                .collect();
            let start = if r.chance(500) {
                Instant::ZERO
            } else {
                Instant::from_micros(r.below(2 * mdi_us))
            };
            nodes.push(NodeCfg {
                prio,
                preempt,
                preempt_delay,
                trackers,
                start,
            });
        }
        let lat_base_us = r.range(20, 400);
        let lat_jitter_us = r.pick(&[0, 50, 200, 1000]);
        let wake_us = r.pick(&[0, 20, 100, 500, 2000]).min(interval_us / 8);
        let kwake_us = r.pick(&[0, 20, 100, 500]).min(interval_us / 8);
        let event_us = r.range(0, 2000);
        // Faults in [start, fault_end]; a quiet tail after.
        let fault_end = 3 * mdi_us + r.below(8 * mdi_us);
        let nfaults = if r.chance(100) { 0 } else { r.range(1, 8) };
        let mut faults = Vec::new();
        for _ in 0..nfaults {
            let at = r.below(fault_end);
            let dur = r.range(interval_us / 2, 3 * mdi_us);
            let end = Instant::from_micros(at + dur);
            let at = Instant::from_micros(at);
            let node = r.below(n as u64) as usize;
            let inst = r.below(vrids.len() as u64) as usize;
            match r.below(16) {
                0 => {
                    faults.push((at, Fault::Loss(r.pick(&[100, 300, 700, 1000]))));
                    faults.push((end, Fault::Loss(0)));
                }
                1 => {
                    faults.push((at, Fault::Dup(r.pick(&[100, 500, 1000]))));
                    faults.push((end, Fault::Dup(0)));
                }
                2 => {
                    let bound = (2 * interval_us).min(MAX_DELAY_US);
                    faults.push((at, Fault::Delay(r.range(1, bound))));
                    faults.push((end, Fault::Delay(0)));
                }
                3 => {
                    let mask = r.range(1, (1u64 << n) - 2) as u32;
                    faults.push((at, Fault::Partition(mask)));
                    faults.push((end, Fault::HealAll));
                }
                4 => {
                    let to = (node + 1 + r.below(n as u64 - 1) as usize) % n;
                    faults.push((at, Fault::Cut(node, to)));
                    faults.push((end, Fault::HealAll));
                }
                5 => {
                    faults.push((at, Fault::Crash(node)));
                    if r.chance(800) {
                        faults.push((end, Fault::Restart(node)));
                    }
                }
                6 => {
                    faults.push((at, Fault::Stop(node)));
                    if r.chance(800) {
                        faults.push((end, Fault::Restart(node)));
                    }
                }
                7 => {
                    faults.push((at, Fault::IfaceDown(node)));
                    faults.push((end, Fault::IfaceUp(node)));
                }
                8 if !nodes[node].trackers.is_empty() => {
                    let t = r.below(nodes[node].trackers.len() as u64) as usize;
                    faults.push((at, Fault::TrackFail(node, t)));
                    if r.chance(800) {
                        faults.push((end, Fault::TrackRecover(node, t)));
                    }
                }
                9 => {
                    let prio = if r.chance(100) {
                        255
                    } else {
                        r.range(1, 254) as u8
                    };
                    faults.push((
                        at,
                        Fault::Reload {
                            node,
                            inst,
                            prio,
                            preempt: !r.chance(250),
                            delay_ms: if r.chance(200) {
                                r.range(1, 3 * mdi_us / 1000 + 1)
                            } else {
                                0
                            },
                        },
                    ));
                }
                10 if version == Version::V3 => {
                    let cs = r.pick(&[1, 2, 5, 10, 30, 100]);
                    faults.push((at, Fault::ReloadInterval { node, inst, cs }));
                    if r.chance(500) {
                        faults.push((
                            end,
                            Fault::ReloadInterval {
                                node,
                                inst,
                                cs: interval_cs,
                            },
                        ));
                    }
                }
                11 => {
                    faults.push((at, Fault::Maintenance(node, inst, true)));
                    if r.chance(800) {
                        faults.push((end, Fault::Maintenance(node, inst, false)));
                    }
                }
                12 | 13 => {
                    let (main, keeper) = match r.below(3) {
                        0 => (true, false),
                        1 => (false, true),
                        _ => (true, true),
                    };
                    let us = r.range(1, (2 * mdi_us).min(MAX_STALL_US));
                    faults.push((
                        at,
                        Fault::Stall {
                            node,
                            main,
                            keeper,
                            us,
                        },
                    ));
                }
                _ => {
                    let kinds: &[Junk] = match (version, v6) {
                        (Version::V2, _) => &[
                            Junk::Ttl,
                            Junk::Checksum,
                            Junk::UnknownVrid,
                            Junk::Truncated,
                            Junk::OtherVersion,
                            Junk::WrongAuth,
                            Junk::WrongInterval,
                            Junk::OwnCopy,
                        ],
                        (Version::V3, false) => &[
                            Junk::Ttl,
                            Junk::Checksum,
                            Junk::UnknownVrid,
                            Junk::Truncated,
                            Junk::OtherVersion,
                            Junk::OwnCopy,
                        ],
                        (Version::V3, true) => &[
                            Junk::Ttl,
                            Junk::Checksum,
                            Junk::UnknownVrid,
                            Junk::Truncated,
                            Junk::OwnCopy,
                        ],
                    };
                    let mut kind = r.pick(kinds);
                    // The v3 zero-interval class came later. It is drawn from
                    // a hash of the seed and the fault's time, not from the
                    // scenario's stream, and it only replaces a class that,
                    // like it, goes to every node and is dropped without a
                    // trace but its counter. Every scenario drawn before it
                    // existed therefore runs the same events as before (same
                    // copies, same latencies, same transitions), and the
                    // regression seeds found before it still replay.
                    if version == Version::V3
                        && kind != Junk::OwnCopy
                        && hashed_upto(&[seed, at.as_micros(), 0x2e20], 5) == 0
                    {
                        kind = Junk::ZeroInterval;
                    }
                    faults.push((at, Fault::Junk(node, kind)));
                }
            }
        }
        faults.sort_by_key(|f| f.0);
        let mut s = Scenario {
            seed,
            version,
            v6,
            vrids,
            sync,
            interval_cs,
            unicast,
            keeper,
            auth,
            nodes,
            lat_base_us,
            lat_jitter_us,
            wake_us,
            kwake_us,
            event_us,
            faults,
            end: Instant::ZERO,
        };
        s.end = s.default_end();
        s
    }

    /// The end of the run: the last fault, then long enough to converge
    /// and to stay converged for a while.
    pub fn default_end(&self) -> Instant {
        let last = self
            .faults
            .iter()
            .map(|f| f.0)
            .chain(self.nodes.iter().map(|n| n.start))
            .max()
            .unwrap_or(Instant::ZERO);
        let stall = self
            .faults
            .iter()
            .map(|f| match f.1 {
                Fault::Stall { us, .. } => f.0 + Duration::from_micros(us),
                _ => f.0,
            })
            .max()
            .unwrap_or(Instant::ZERO);
        last.max(stall) + self.settle() + 2 * self.max_mdi()
    }

    /// Largest Advertisement_Interval any instance may run with.
    pub fn max_interval(&self) -> Duration {
        let reloaded = self.faults.iter().filter_map(|f| match f.1 {
            Fault::ReloadInterval { cs, .. } => Some(cs),
            _ => None,
        });
        let cs = reloaded.chain([self.interval_cs]).max().unwrap_or(100);
        Duration::from_millis(cs as u64 * 10)
    }

    /// Largest Master_Down_Interval: 3 × the largest interval + the largest Skew_Time (< 1 interval).
    pub fn max_mdi(&self) -> Duration {
        4 * self.max_interval()
    }

    /// Largest one-way latency of a copy in a clean network.
    pub fn max_latency(&self) -> Duration {
        Duration::from_micros(self.lat_base_us + self.lat_jitter_us)
    }

    /// Largest preempt_delay configured or reloaded.
    pub fn max_preempt_delay(&self) -> Duration {
        let reloaded = self.faults.iter().filter_map(|f| match f.1 {
            Fault::Reload { delay_ms, .. } => Some(Duration::from_millis(delay_ms)),
            _ => None,
        });
        self.nodes
            .iter()
            .map(|n| n.preempt_delay)
            .chain(reloaded)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// How long after the last change the routers must have converged
    /// (derivation in docs/SIMULATION.md, "Convergence").
    pub fn settle(&self) -> Duration {
        let lw = self.max_latency() + Duration::from_micros(self.wake_us + self.event_us);
        let gap = self.max_gap();
        let one = self.max_mdi() + self.max_preempt_delay() + gap + 2 * lw;
        // A sync group can hand over once per member after the first election.
        let steps = if self.sync {
            self.vrids.len() as u32 + 1
        } else {
            1
        };
        one * steps
    }

    /// Bound on the gap between a steady master's adverts (derivation in
    /// docs/SIMULATION.md, "advert_gap"): the Adver_Timer's interval plus
    /// the loop's wake-up delay; with the keeper, the keeper's turn may be
    /// up to an eighth of an interval early (the next loop advert then
    /// comes up to that plus the loop's delay later), or late by the
    /// keeper's own wake-up delay.
    pub fn max_gap(&self) -> Duration {
        let i = self.max_interval();
        let w = Duration::from_micros(self.wake_us);
        let wk = Duration::from_micros(self.kwake_us);
        if self.keeper && vrrpd::core::keeper::shares(i) {
            i + i / 8 + w.max(wk)
        } else {
            i + w
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {:#x}: {} nodes, {} {}, vrids {:?}{}, interval {} cs, {}, keeper {}, latency {}+{} µs, wake ≤ {} µs, keeper wake ≤ {} µs, events ≤ {} µs",
            self.seed,
            self.nodes.len(),
            self.version,
            if self.v6 { "IPv6" } else { "IPv4" },
            self.vrids,
            if self.sync { " (sync group)" } else { "" },
            self.interval_cs,
            if self.unicast { "unicast" } else { "multicast" },
            if self.keeper { "on" } else { "off" },
            self.lat_base_us,
            self.lat_jitter_us,
            self.wake_us,
            self.kwake_us,
            self.event_us,
        )?;
        for (i, n) in self.nodes.iter().enumerate() {
            writeln!(
                f,
                "  node {i}: prio {:?} preempt {} delay {:?} start {} trackers {:?}",
                n.prio,
                n.preempt,
                n.preempt_delay,
                n.start,
                n.trackers
                    .iter()
                    .map(|t| (t.weight, t.applies.clone()))
                    .collect::<Vec<_>>()
            )?;
        }
        writeln!(f, "  faults ({}):", self.faults.len())?;
        for (at, fault) in &self.faults {
            writeln!(f, "    {at}  {fault:?}")?;
        }
        write!(f, "  end {}", self.end)
    }
}
