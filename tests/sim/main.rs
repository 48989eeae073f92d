//! A deterministic simulator that hunts for protocol bugs: the real
//! `VirtualRouter`s of 2 to 8 vrrpd daemons (with sync groups and the advert
//! keeper's schedule) on a simulated LAN and clock, driven by one seed, under
//! random faults, with named invariants checked after every step; and an
//! exhaustive check of the small cases. See docs/SIMULATION.md.
//!
//! - `cargo test --test sim` runs a fixed budget of seeds, the regression
//!   seeds and the exhaustive check;
//! - `scripts/simulate.sh --seeds N` runs a campaign, `--seed S` replays one.

mod explore;
mod invariants;
mod rng;
mod scenario;
mod world;

use std::time::Duration;

use invariants::{Checker, Seen, Violation};
use scenario::Scenario;
use world::World;

/// The outcome of one run.
pub struct Outcome {
    /// The first broken invariant, if any.
    pub violation: Option<Violation>,
    /// Figures.
    pub seen: Seen,
    /// Steps taken.
    pub steps: u64,
    /// The world at the end (for traces).
    pub world: World,
}

/// A world for a scenario, with the daemons' first starts in the fault list.
pub fn prepared(sc: Scenario) -> World {
    let mut w = World::new(sc);
    // Daemons start at their configured times (a start is a restart of a
    // node that never ran).
    let mut starts: Vec<(vrrpd::core::time::Instant, scenario::Fault)> =
        w.sc.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.start, scenario::Fault::Restart(i)))
            .collect();
    starts.append(&mut w.sc.faults);
    starts.sort_by_key(|f| f.0);
    w.sc.faults = starts;
    w
}

/// Run a scenario to its end or its first violation.
pub fn run(sc: Scenario) -> Outcome {
    let mut w = prepared(sc);
    let mut ck = Checker::new(&w);
    let mut violation = None;
    let debug = std::env::var_os("SIM_DEBUG").is_some();
    while w.step() {
        if debug {
            for n in w
                .notes
                .iter()
                .filter(|n| !matches!(n, world::Note::Drained(_)))
            {
                eprintln!("{} {n:?}", w.now);
            }
        }
        if let Err(v) = ck.check(&w) {
            violation = Some(v);
            break;
        }
    }
    Outcome {
        violation,
        seen: ck.seen,
        steps: w.steps,
        world: w,
    }
}

/// Whether a scenario fails with the invariant `name`.
fn fails_with(sc: &Scenario, name: &str) -> Option<Violation> {
    run(sc.clone()).violation.filter(|v| v.name == name)
}

/// The shortest fault list (removing one fault at a time, then cutting the
/// end) that still breaks the same invariant.
pub fn shrink(sc: &Scenario, v: &Violation) -> (Scenario, Violation) {
    let mut best = sc.clone();
    let mut bv = v.clone();
    // Nothing after the violation matters.
    best.faults.retain(|f| f.0 <= bv.at);
    best.end = bv.at;
    let mut progress = true;
    while progress {
        progress = false;
        let mut i = 0;
        while i < best.faults.len() {
            let mut cand = best.clone();
            cand.faults.remove(i);
            cand.end = cand.default_end().min(best.end);
            if let Some(v2) = fails_with(&cand, bv.name) {
                cand.end = v2.at;
                best = cand;
                bv = v2;
                progress = true;
            } else {
                i += 1;
            }
        }
    }
    (best, bv)
}

/// The report printed for a failing seed: the seed, the shrunk event list
/// and the transitions that led to the violation.
pub fn report(seed: u64) -> Option<String> {
    let sc = Scenario::generate(seed);
    let out = run(sc.clone());
    let v = out.violation?;
    let (small, sv) = shrink(&sc, &v);
    let again = run(small.clone());
    let mut s = String::new();
    s += &format!(
        "SIMULATION FAILURE seed {seed:#x}: {} at {}: {}\n",
        v.name, v.at, v.detail
    );
    s += &format!("replay: scripts/simulate.sh --seed {seed:#x}\n");
    s += &format!(
        "shrunk to {} of {} faults; fails with {} at {}: {}\n{}\n",
        small.faults.len(),
        sc.faults.len(),
        sv.name,
        sv.at,
        sv.detail,
        small
    );
    s += "transitions (shrunk run):\n";
    for t in &again.world.trace {
        s += &format!(
            "  {}  node {} inst {}: {} -> {} ({})\n",
            t.at, t.node, t.inst, t.from, t.to, t.reason
        );
    }
    Some(s)
}

/// Seeds that once failed, each with the bug it found (docs/SIMULATION.md):
/// - 0xeb: the keeper slept through its turn after an advert out of turn
///   (a priority raised by reload): a gap of 1.4 intervals;
/// - 0x72d: after a loop stall longer than the keeper's cover, the keeper
///   slept for a second: gaps of two intervals;
/// - 0x7ae: an instance restarted by a reload lost its trackers' effects;
/// - 0x72f: a sync group with equal priorities stayed split across nodes
///   (`lost_election` ignored the address tie-break). Found under an
///   earlier network model (jitter reordered one sender's packets); it no
///   longer reaches that interleaving, and the regression test is
///   `router::tests::lost_election_counts_the_address_tie_break`;
/// - 0xaac3e, 0xb962a, 0xd545f, 0xd86c4: spurious takeovers with mixed v3
///   intervals. A master stepping down sent its last advert with its own,
///   shorter interval; backups that heard it after the new master's adopted
///   that interval and timed out before the new master's next advert;
/// - 0xaf2, 0x197f5: a held sync-group member took over when its master
///   went silent and kept the mastership, so the group stayed split across
///   nodes (0xaf2: VRID 1 on node 0, VRID 2 on node 2), or it went master
///   and out again in one input (0x197f5); a held member is now never
///   master. 0x72f fails the same way on that code;
/// - 0x7c1: a group member took over with the hold it knew at its timer,
///   stale after the packets read just before it: master for an instant.
/// - 0x1847: an address owner restarted by a reload (its interval changed)
///   while another member of its group had lost its election went master
///   at its Startup event and out again in the `drain` after: the daemon
///   now tells a new instance its group's hold before its Startup event
///   (`Daemon::start_new`).
///
/// Two seeds found the checker's own mistakes (vrrpd was right), kept so
/// that the checker stays right on them:
/// - 0x56226b: a reload raised the lower of two masters above the other
///   10.3 ms into their dual-master episode; the bound now counts from a
///   priority change;
/// - 0x58fa44: a master reloaded to a shorter interval resigned while its
///   adverts with the longer one were on their way; the handover bound now
///   uses the longer.
///
/// The v3 zero-interval junk class came after most of these; it was added
/// without changing any earlier scenario (`Scenario::generate`), so they
/// replay as they were found.
const REGRESSION_SEEDS: &[u64] = &[
    0xeb, 0x72d, 0x7ae, 0x72f, 0xaac3e, 0xb962a, 0xd545f, 0xd86c4, 0xaf2, 0x197f5, 0x7c1, 0x56226b,
    0x58fa44, 0x1847,
];

/// The fixed budget `cargo test` runs (kept well under a minute in a debug build).
const CI_SEEDS: u64 = 1_500;

fn run_seeds(seeds: impl Iterator<Item = u64>) -> (u64, Vec<String>, Seen, u64) {
    let mut n = 0;
    let mut failures = Vec::new();
    let mut worst = Seen::default();
    let mut steps = 0;
    for seed in seeds {
        n += 1;
        let out = run(Scenario::generate(seed));
        steps += out.steps;
        merge(&mut worst, &out.seen);
        if out.violation.is_some() {
            failures.push(report(seed).unwrap_or_default());
        }
    }
    (n, failures, worst, steps)
}

fn merge(a: &mut Seen, b: &Seen) {
    if b.dual > a.dual {
        a.dual = b.dual;
        a.dual_bound = b.dual_bound;
    }
    if b.gap_permille > a.gap_permille {
        a.gap_permille = b.gap_permille;
        a.gap = b.gap;
    }
    a.handover = a.handover.max(b.handover);
    a.handovers += b.handovers;
    a.converged_checks += b.converged_checks;
    a.duals += b.duals;
    a.takeovers_checked += b.takeovers_checked;
}

#[test]
fn fixed_budget_of_seeds() {
    let (n, failures, seen, steps) = run_seeds(0..CI_SEEDS);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "{n} seeds, {steps} steps; longest dual master {:?} (bound then {:?}), worst advert gap {} ‰ of its bound, {} handovers (longest {:?}), {} converged checks",
        seen.dual, seen.dual_bound, seen.gap_permille, seen.handovers, seen.handover, seen.converged_checks
    );
    // The budget must exercise what it claims to.
    assert!(seen.converged_checks > 0 && seen.handovers > 0 && seen.duals > 0);
}

#[test]
fn regression_seeds() {
    let (_, failures, _, _) = run_seeds(REGRESSION_SEEDS.iter().copied());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each junk class reaches every node and lands in its own counter, and
/// changes nothing else (the run's invariants hold). A class the receive
/// path or the router accepted, or counted elsewhere, would fail
/// `drops_counted_once` here; v3's zero interval is `interval_zero`
/// (RFC 9568 §7.1, erratum 8301).
#[test]
fn every_junk_class_lands_in_its_own_counter() {
    use scenario::{Fault, Junk};
    use vrrpd::core::time::Instant;
    use vrrpd::core::types::Version;
    let ms = Instant::from_millis;
    let cases: &[(Version, Junk, &str)] = &[
        (Version::V3, Junk::Ttl, "ttl"),
        (Version::V3, Junk::Checksum, "checksum"),
        (Version::V3, Junk::UnknownVrid, "vrid_unknown"),
        (Version::V3, Junk::Truncated, "truncated"),
        (Version::V3, Junk::OtherVersion, "router:version"),
        (Version::V3, Junk::OwnCopy, "router:own_address"),
        (Version::V3, Junk::ZeroInterval, "router:interval_zero"),
        (Version::V2, Junk::OtherVersion, "router:version"),
        (Version::V2, Junk::WrongAuth, "router:auth"),
        (Version::V2, Junk::WrongInterval, "router:interval_mismatch"),
    ];
    for &(version, kind, counter) in cases {
        let mut sc = explore::small(
            &[150, 100],
            10,
            100,
            false,
            vec![(ms(2_000), Fault::Junk(0, kind))],
            ms(4_000),
        );
        if version == Version::V2 {
            sc.version = Version::V2;
            sc.interval_cs = 100;
            sc.auth = true;
            sc.end = ms(12_000);
        }
        let out = run(sc);
        if let Some(v) = &out.violation {
            panic!("{version} {kind:?}: {} at {}: {}", v.name, v.at, v.detail);
        }
        let landed: u64 = out
            .world
            .nodes
            .iter()
            .map(|n| match counter.strip_prefix("router:") {
                Some(name) => n
                    .insts
                    .iter()
                    .flat_map(|x| x.router.stats().drops.iter())
                    .filter(|(r, _)| r.name() == name)
                    .map(|(_, c)| *c)
                    .sum::<u64>(),
                None => n.drops.get(counter).copied().unwrap_or(0),
            })
            .sum();
        let reach = if kind == Junk::OwnCopy { 1 } else { 2 };
        assert_eq!(landed, reach, "{version} {kind:?} in {counter}");
    }
}

/// Same seed, same run: the transitions and step counts are identical.
#[test]
fn a_seed_replays_exactly() {
    for seed in [3, 77, 1234] {
        let a = run(Scenario::generate(seed));
        let b = run(Scenario::generate(seed));
        assert_eq!(a.steps, b.steps);
        let ta: Vec<String> = a.world.trace.iter().map(|t| format!("{t:?}")).collect();
        let tb: Vec<String> = b.world.trace.iter().map(|t| format!("{t:?}")).collect();
        assert_eq!(ta, tb);
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `scripts/simulate.sh --seed S`: replay one seed and print what it did.
#[test]
#[ignore = "run by scripts/simulate.sh --seed"]
fn replay() {
    let Some(seed) = env_u64("SIM_SEED") else {
        return;
    };
    let sc = Scenario::generate(seed);
    println!("{sc}");
    match report(seed) {
        Some(r) => panic!("{r}"),
        None => {
            let out = run(sc);
            for t in &out.world.trace {
                println!(
                    "  {}  node {} inst {}: {} -> {} ({})",
                    t.at, t.node, t.inst, t.from, t.to, t.reason
                );
            }
            println!("seed {seed:#x}: ok, {} steps", out.steps);
        }
    }
}

/// `scripts/simulate.sh --seeds N`: a campaign over `SIM_SEEDS` seeds from
/// `SIM_FIRST`, on `SIM_THREADS` threads, with a progress line.
#[test]
#[ignore = "run by scripts/simulate.sh --seeds"]
fn campaign() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    let Some(count) = env_u64("SIM_SEEDS") else {
        return;
    };
    let first = env_u64("SIM_FIRST").unwrap_or(0);
    let threads = env_u64("SIM_THREADS").unwrap_or(2).max(1);
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let steps = AtomicU64::new(0);
    let failures = Mutex::new(Vec::<(u64, String)>::new());
    let worst = Mutex::new(Seen::default());
    let t0 = std::time::Instant::now();
    let cpu0 = cpu_time();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut local = Seen::default();
                loop {
                    let k = next.fetch_add(256, Ordering::Relaxed);
                    if k >= count {
                        break;
                    }
                    for seed in (first + k)..(first + (k + 256).min(count)) {
                        let out = run(Scenario::generate(seed));
                        steps.fetch_add(out.steps, Ordering::Relaxed);
                        merge(&mut local, &out.seen);
                        if out.violation.is_some() {
                            let r = report(seed).unwrap_or_default();
                            eprintln!("\n{r}");
                            failures.lock().unwrap().push((seed, r));
                        }
                    }
                    done.fetch_add((k + 256).min(count) - k, Ordering::Relaxed);
                }
                merge(&mut worst.lock().unwrap(), &local);
            });
        }
        let mut last = std::time::Instant::now();
        loop {
            let d = done.load(Ordering::Relaxed);
            if d >= count {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            if last.elapsed() >= Duration::from_secs(5) {
                last = std::time::Instant::now();
                let el = t0.elapsed().as_secs_f64();
                eprintln!(
                    "[sim] {d}/{count} seeds ({:.1} %), {:.0} seeds/s, {} failures, {:.0} s",
                    100.0 * d as f64 / count as f64,
                    d as f64 / el,
                    failures.lock().unwrap().len(),
                    el
                );
            }
        }
    });
    let el = t0.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    let w = worst.lock().unwrap().clone();
    let f = failures.lock().unwrap();
    println!(
        "campaign: seeds {first}..{} ({count}), {} failures, {} steps, wall {:.1} s, CPU {:.1} s ({:.3} ms CPU per seed)",
        first + count,
        f.len(),
        steps.load(Ordering::Relaxed),
        el.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1000.0 / count as f64
    );
    println!(
        "figures: longest dual master on a clean link {:?} (its bound {:?}), {} dual-master episodes; worst advert gap {:?} = {} ‰ of its bound; {} graceful handovers, longest {:?}; {} converged-state checks; {} takeovers by timer checked against live masters",
        w.dual, w.dual_bound, w.duals, w.gap, w.gap_permille, w.handovers, w.handover, w.converged_checks, w.takeovers_checked
    );
    for (seed, _) in f.iter() {
        println!("failed seed {seed:#x}");
    }
    assert!(f.is_empty(), "{} seeds failed", f.len());
}

/// This process's CPU time (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Fields 14 and 15 (utime, stime), 1-based, counted after the comm field.
    let t = ticks(11) + ticks(12);
    Duration::from_millis(t * 10)
}

/// One exhaustive case: its name, the scenario, the depth bound.
fn exhaustive_cases() -> Vec<(&'static str, Scenario, u64)> {
    use scenario::Fault;
    use vrrpd::core::time::Instant;
    let ms = Instant::from_millis;
    vec![
        // Two routers of equal priority start together: their timers
        // expire at the same instant, both become master, the tie-break
        // decides; zero latency puts every packet on the same instant as
        // the timers it races.
        (
            "2 routers, equal priority, 10 ms, latency 0",
            explore::small(&[100, 100], 1, 0, true, vec![], ms(300)),
            2_000,
        ),
        (
            "2 routers, equal priority, 1 s, latency 0",
            explore::small(&[100, 100], 100, 0, false, vec![], ms(10_000)),
            2_000,
        ),
        (
            "3 routers, equal priority, 10 ms, latency 0",
            explore::small(&[100, 100, 100], 1, 0, true, vec![], ms(300)),
            2_000,
        ),
        (
            "3 routers, equal priority, 1 s, latency 100 µs",
            explore::small(&[100, 100, 100], 100, 100, false, vec![], ms(10_000)),
            2_000,
        ),
        // Three routers, two of them equal: the master stops gracefully
        // (priority 0) at the instant its advert is due, and the two
        // equal backups' Skew_Times expire together.
        (
            "3 routers, master stops, equal backups, 10 ms",
            explore::small(
                &[200, 100, 100],
                1,
                0,
                true,
                vec![(ms(100), Fault::Stop(0))],
                ms(400),
            ),
            2_000,
        ),
        // The master crashes; the equal backups time out together.
        (
            "3 routers, master crashes, equal backups, 100 ms, latency 100 µs",
            explore::small(
                &[200, 100, 100],
                10,
                100,
                false,
                vec![(ms(1_000), Fault::Crash(0))],
                ms(4_000),
            ),
            2_000,
        ),
        // The master's tracker lowers it below a backup at the instant an
        // advert is due (fast handover: priority 0, then the new priority).
        (
            "2 routers, master's priority drops at an advert, 10 ms",
            {
                let mut sc = explore::small(&[200, 100], 1, 0, true, vec![], ms(400));
                sc.nodes[0].trackers = vec![scenario::TrackerCfg {
                    weight: -150,
                    applies: vec![true],
                }];
                sc.faults = vec![(ms(100), Fault::TrackFail(0, 0))];
                sc
            },
            2_000,
        ),
        // A higher router restarts and preempts; zero latency.
        (
            "2 routers, higher one restarts and preempts, 10 ms",
            explore::small(
                &[200, 100],
                1,
                0,
                true,
                vec![(ms(60), Fault::Crash(0)), (ms(120), Fault::Restart(0))],
                ms(400),
            ),
            2_000,
        ),
        // Sync groups of two VRIDs. Two nodes of equal priority start
        // together: four timers at one instant, and the group must end
        // whole on one node.
        (
            "2 nodes, sync group of 2, equal priority, 10 ms, latency 0",
            explore::small_sync(&[100, 100], 1, 0, false, vec![], ms(300)),
            2_000,
        ),
        // The group's master node stops (priority 0 for both members) at
        // an advert instant; the two other nodes are equal.
        (
            "3 nodes, sync group of 2, master stops, equal backups, 10 ms",
            explore::small_sync(
                &[200, 100, 100],
                1,
                0,
                false,
                vec![(ms(100), Fault::Stop(0))],
                ms(400),
            ),
            2_000,
        ),
        // Maintenance on one member of the master's group: it resigns,
        // the other member follows it out (held), and the backup node
        // takes the whole group.
        (
            "2 nodes, sync group of 2, maintenance on one member of the master, 10 ms",
            explore::small_sync(
                &[200, 100],
                1,
                0,
                false,
                vec![(ms(100), Fault::Maintenance(0, 1, true))],
                ms(400),
            ),
            2_000,
        ),
    ]
}

/// Every order of the events due at one instant, for the small cases.
#[test]
fn exhaustive_small_cases() {
    let mut total = 0;
    for (name, sc, depth) in exhaustive_cases() {
        let t0 = std::time::Instant::now();
        let out = explore::explore(sc, depth);
        if let Some((v, path)) = &out.violation {
            panic!(
                "exhaustive case {name:?}: {} at {}: {} (choices {path:?})",
                v.name, v.at, v.detail
            );
        }
        eprintln!(
            "exhaustive: {name}: {} states, depth {} (bound {depth}), {} branch points, {} complete paths, {} cut, {:.2} s",
            out.states,
            out.depth,
            out.branch_points,
            out.complete,
            out.cut,
            t0.elapsed().as_secs_f64()
        );
        assert!(out.branch_points > 0, "{name}: no simultaneous events");
        assert_eq!(
            out.cut, 0,
            "{name}: the depth bound cut paths short of the end"
        );
        total += out.states;
    }
    assert!(total > 0);
}
