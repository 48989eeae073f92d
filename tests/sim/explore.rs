//! Exhaustive check of the small cases: 2 and 3 routers, a few interval
//! configurations, zero jitter (so timers, packets and faults fall due at
//! the same instants), and every order of the events due at one instant,
//! explored depth-first up to a bound, with the simulator's invariants
//! checked after every step. States already seen (same routers, packets,
//! timers and checker memory) are not explored twice.

use std::collections::HashSet;
use std::fmt::Write;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use vrrpd::core::time::Instant;
use vrrpd::core::types::Version;

use crate::invariants::{Checker, Violation};
use crate::scenario::{Fault, NodeCfg, Scenario};
use crate::world::World;

/// What an exploration found.
#[derive(Debug, Default)]
pub struct Explored {
    /// Distinct states reached.
    pub states: u64,
    /// Longest path, in steps.
    pub depth: u64,
    /// Steps at which more than one event was due (branch points).
    pub branch_points: u64,
    /// Paths cut by the depth bound.
    pub cut: u64,
    /// Paths that ran to the end of the scenario.
    pub complete: u64,
    /// The first violation, with the choices that led to it.
    pub violation: Option<(Violation, Vec<usize>)>,
}

/// A scenario with no randomness in timing: fixed latency, no wake-up delay.
pub fn small(
    prios: &[u8],
    interval_cs: u16,
    latency_us: u64,
    keeper: bool,
    faults: Vec<(Instant, Fault)>,
    end: Instant,
) -> Scenario {
    Scenario {
        seed: 0,
        version: Version::V3,
        v6: false,
        vrids: vec![1],
        sync: false,
        interval_cs,
        unicast: false,
        keeper,
        auth: false,
        nodes: prios
            .iter()
            .map(|&p| NodeCfg {
                prio: vec![p],
                preempt: true,
                preempt_delay: Duration::ZERO,
                trackers: vec![],
                start: Instant::ZERO,
            })
            .collect(),
        lat_base_us: latency_us,
        lat_jitter_us: 0,
        wake_us: 0,
        kwake_us: 0,
        event_us: 0,
        faults,
        end,
    }
}

/// As [`small`], with two VRIDs per node in one sync group (the same
/// priority for both members of a node).
pub fn small_sync(
    prios: &[u8],
    interval_cs: u16,
    latency_us: u64,
    keeper: bool,
    faults: Vec<(Instant, Fault)>,
    end: Instant,
) -> Scenario {
    let mut sc = small(prios, interval_cs, latency_us, keeper, faults, end);
    sc.vrids = vec![1, 2];
    sc.sync = true;
    for n in &mut sc.nodes {
        n.prio = vec![n.prio[0]; 2];
    }
    sc
}

/// A fingerprint of everything that decides the future: routers (without
/// their counters), sockets, inputs, wake-ups, packets in flight, faults
/// left, and the checker's memory.
fn fingerprint(w: &World, ck: &Checker) -> u64 {
    let mut s = String::with_capacity(4096);
    let _ = write!(s, "{}|{}|", w.now, w.next_fault);
    for n in &w.nodes {
        let _ = write!(
            s,
            "{}{}{:?}{:?}{:?}{:?}|",
            n.running, n.link, n.timer_wake, n.input_wake, n.kwake, n.inputs
        );
        for p in &n.sock {
            let _ = write!(s, "{:?}{:?}", p.src, p.bytes);
        }
        for x in &n.insts {
            let d = format!("{:?}", x.router);
            let cut = d.find(", stats: RouterStats").unwrap_or(d.len());
            s.push_str(&d[..cut]);
            let _ = write!(
                s,
                "{}{:?}",
                x.vips,
                x.kept.as_ref().map(|k| format!("{:?}", k.0))
            );
        }
    }
    let mut fl: Vec<String> = w
        .flight
        .iter()
        .map(|r| {
            let (at, id, j) = r.0;
            format!("{at}>{j}:{:?}", w.flight_pkts.get(&id).map(|p| &p.bytes))
        })
        .collect();
    fl.sort();
    s.push_str(&fl.join(","));
    let _ = write!(s, "|{}", ck.memory());
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Explore every order of simultaneous events, depth-first, up to
/// `max_depth` steps per path.
pub fn explore(sc: Scenario, max_depth: u64) -> Explored {
    let w = crate::prepared(sc);
    let ck = Checker::new(&w);
    let mut seen = HashSet::new();
    let mut out = Explored::default();
    let mut path = Vec::new();
    dfs(w, ck, 0, max_depth, &mut seen, &mut out, &mut path);
    out
}

fn dfs(
    w: World,
    ck: Checker,
    depth: u64,
    max_depth: u64,
    seen: &mut HashSet<u64>,
    out: &mut Explored,
    path: &mut Vec<usize>,
) {
    if out.violation.is_some() {
        return;
    }
    if !seen.insert(fingerprint(&w, &ck)) {
        return;
    }
    out.states += 1;
    out.depth = out.depth.max(depth);
    if depth >= max_depth {
        out.cut += 1;
        return;
    }
    let Some((t, ready)) = w.ready() else {
        out.complete += 1;
        return;
    };
    if t > w.sc.end {
        out.complete += 1;
        return;
    }
    if ready.len() > 1 {
        out.branch_points += 1;
    }
    for c in 0..ready.len() {
        let mut w2 = w.clone();
        let mut ck2 = ck.clone();
        w2.step_with(|_, _| c);
        path.push(c);
        if let Err(v) = ck2.check(&w2) {
            out.violation = Some((v, path.clone()));
            path.pop();
            return;
        }
        dfs(w2, ck2, depth + 1, max_depth, seen, out, path);
        path.pop();
    }
}
