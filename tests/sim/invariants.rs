//! The invariants, checked after every step of the world. Each has a name
//! (used in failure reports and docs/SIMULATION.md) and a bound derived from
//! the RFC timers and the scenario's latency and scheduling bounds, never
//! from what a run happened to show.

use std::time::Duration;

use vrrpd::core::router::{Reason, State};
use vrrpd::core::time::Instant;
use vrrpd::core::types::{Centisecs, Priority, Version};

use crate::scenario::Fault;
use crate::world::{Note, World};

/// A broken invariant.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The invariant's name.
    pub name: &'static str,
    /// When.
    pub at: Instant,
    /// What was seen.
    pub detail: String,
}

/// Largest values seen, for the campaign's figures.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Longest dual-master overlap on a clean link, and its bound then.
    pub dual: Duration,
    /// Its bound, for the ratio.
    pub dual_bound: Duration,
    /// Largest ratio of an advert gap to its bound (per mille).
    pub gap_permille: u64,
    /// Longest gap between a steady master's adverts, and its interval.
    pub gap: Duration,
    /// Longest time from a graceful stop to the new master.
    pub handover: Duration,
    /// Graceful handovers checked.
    pub handovers: u64,
    /// Steps in the quiet window that were checked for convergence.
    pub converged_checks: u64,
    /// Dual-master episodes on a clean link.
    pub duals: u64,
    /// Takeovers by timer checked against a live master (clean network).
    pub takeovers_checked: u64,
}

/// The checker's memory between steps.
#[derive(Clone)]
pub struct Checker {
    /// Start of the quiet window: the last change of anything.
    pub quiet_since: Instant,
    /// Per node and instance: last advert while master in this stint.
    last_sent: Vec<Vec<Option<Instant>>>,
    /// Per node: stalls (start, end) of the loop or the keeper.
    stalls: Vec<Vec<(Instant, Instant)>>,
    /// Per instance index, per pair (a, b), since when both are master on a clean link.
    dual_since: Vec<Vec<Vec<Option<Instant>>>>,
    /// Per instance index: a graceful handover must produce a master by then.
    handover: Vec<Option<(Instant, Instant, usize)>>,
    /// Per node and instance: the effective priority at the last check
    /// (None: not running) and since when. A change restarts a dual-master
    /// episode (see `dual_bound`).
    prio: Vec<Vec<(Option<Priority>, Instant)>>,
    /// Figures.
    pub seen: Seen,
}

impl Checker {
    /// A checker for a world about to start.
    pub fn new(w: &World) -> Checker {
        let n = w.nodes.len();
        let k = w.sc.vrids.len();
        let first_start =
            w.sc.nodes
                .iter()
                .map(|n| n.start)
                .max()
                .unwrap_or(Instant::ZERO);
        Checker {
            quiet_since: first_start,
            last_sent: vec![vec![None; k]; n],
            stalls: vec![Vec::new(); n],
            dual_since: vec![vec![vec![None; n]; n]; k],
            handover: vec![None; k],
            prio: vec![vec![(None, Instant::ZERO); k]; n],
            seen: Seen::default(),
        }
    }

    /// What the checker remembers that decides its future verdicts (for
    /// the exhaustive search's state fingerprint).
    pub fn memory(&self) -> String {
        format!(
            "{}{:?}{:?}{:?}{:?}{:?}",
            self.quiet_since,
            self.last_sent,
            self.stalls,
            self.dual_since,
            self.handover,
            self.prio
        )
    }

    /// Whether the network carries every copy on time now: no loss,
    /// duplication, extra delay or cut link.
    pub fn clean(w: &World) -> bool {
        w.loss == 0
            && w.dup == 0
            && w.delay == 0
            && w.now >= w.late_until
            && w.link.iter().all(|r| r.iter().all(|&b| b))
    }

    fn stalled(&self, w: &World, i: usize) -> bool {
        w.nodes[i].stall > w.now || w.nodes[i].kstall > w.now
    }

    fn stalled_between(&self, i: usize, from: Instant, to: Instant) -> bool {
        self.stalls[i].iter().any(|&(s, e)| s <= to && e >= from)
    }

    /// Check everything after one step.
    pub fn check(&mut self, w: &World) -> Result<(), Violation> {
        let now = w.now;
        let sc = &w.sc;
        let fail = |name: &'static str, detail: String| Violation {
            name,
            at: now,
            detail,
        };
        let lat = sc.max_latency();
        let wake = Duration::from_micros(sc.wake_us);
        let settle = sc.settle();
        // ---- what the step did -------------------------------------------
        // `held_never_master`: a sync-group member the group holds never
        // becomes master, not even for the instant between an input and
        // the group's holds (`VirtualRouter::handle_sync`): no member enters
        // Master and leaves it for its group within one input. An address
        // owner (re)started while its group is held included: the daemon
        // tells a new instance its hold before its Startup event.
        for (a, note) in w.notes.iter().enumerate() {
            if let Note::Changed(t) = note {
                if t.from == State::Master && matches!(t.reason, Reason::SyncGroup(_)) {
                    // Within the same input (since that node's last drain).
                    let entered = w.notes[..a]
                        .iter()
                        .rev()
                        .take_while(|n| !matches!(n, Note::Drained(j) if *j == t.node))
                        .find_map(|n| match n {
                            Note::Changed(x)
                                if x.node == t.node
                                    && x.inst == t.inst
                                    && x.to == State::Master =>
                            {
                                Some(x)
                            }
                            _ => None,
                        });
                    if let Some(x) = entered {
                        return Err(fail(
                            "held_never_master",
                            format!(
                                "node {} inst {}: {} -> MASTER ({}) and out again (held by its group) in one step",
                                t.node, t.inst, x.from, x.reason
                            ),
                        ));
                    }
                }
            }
        }
        for note in &w.notes {
            match note {
                Note::Broken(name, detail) => return Err(fail(name, detail.clone())),
                Note::Fault(f) => {
                    if !matches!(f, Fault::Junk(..)) {
                        self.quiet_since = self.quiet_since.max(now);
                        // A fault may take the backups a handover counts on.
                        for h in &mut self.handover {
                            *h = None;
                        }
                    }
                    match *f {
                        Fault::Stall { node, us, .. } => {
                            let end = now + Duration::from_micros(us);
                            self.stalls[node].push((now, end));
                            self.quiet_since = self.quiet_since.max(end);
                        }
                        Fault::Delay(0) => {
                            // Copies sent before may still be late.
                            let late = Duration::from_micros(crate::scenario::MAX_DELAY_US);
                            self.quiet_since = self.quiet_since.max(now + late);
                        }
                        Fault::Crash(i) | Fault::Stop(i) | Fault::Restart(i) => {
                            for s in &mut self.last_sent[i] {
                                *s = None;
                            }
                        }
                        _ => {}
                    }
                    if !Self::clean(w) {
                        // A graceful handover is only promised on a clean link.
                        for h in &mut self.handover {
                            *h = None;
                        }
                    }
                }
                Note::Changed(t) => {
                    self.last_sent[t.node][t.inst] = None;
                    if t.to == State::Master
                        && matches!(t.reason, Reason::MasterDown | Reason::PreemptDelayExpired)
                    {
                        self.check_takeover(w, t.node, t.inst)
                            .map_err(|d| fail("no_takeover_from_a_live_master", d))?;
                    }
                    if now > self.quiet_since + settle && Self::clean(w) {
                        return Err(fail(
                            "no_flap_when_static",
                            format!(
                                "node {} inst {}: {} -> {} ({}) {:?} after the quiet window began at {} (settle {:?})",
                                t.node, t.inst, t.from, t.to, t.reason, t.reason, self.quiet_since, settle
                            ),
                        ));
                    }
                    // A master that resigns with priority 0 on a link that
                    // carries it: a backup takes over within its Skew_Time.
                    let resigns = t.from == State::Master
                        && matches!(
                            t.reason,
                            Reason::Shutdown
                                | Reason::Maintenance
                                | Reason::TrackerFault(_)
                                | Reason::SyncGroup(_)
                        );
                    // A fault whose input has not reached its daemon yet
                    // (a reload, a link or tracker event) may still take
                    // the backups away.
                    let pending = w.nodes.iter().any(|n| !n.inputs.is_empty());
                    // An advert on its way from a router that is no longer
                    // master (a stepping-down master's last advert) may
                    // rightly reset a backup's timer to Master_Down_Interval:
                    // one with preempt off or a preempt delay, or at or
                    // below its priority (RFC 5798 §6.4.2).
                    let stale = w.stale_advert_on_the_way(t.inst, t.node);
                    // With a sync group, a reload that restarts one member
                    // is no handover of the group: the restarted member
                    // takes its VRID back once its Master_Down_Timer runs
                    // out, and the others' members stay held meanwhile.
                    let restart = w.sc.sync
                        && matches!(t.reason, Reason::Shutdown)
                        && w.nodes[t.node].running;
                    if resigns
                        && !pending
                        && !stale
                        && !restart
                        && Self::clean(w)
                        && w.nodes[t.node].link
                        && !self.stalled(w, t.node)
                        // A loop whose stall ends now reads its backlog: a
                        // stale advert in it may be what made it resign.
                        && !self.stalled_between(t.node, now, now)
                    {
                        let stepped_down = w.notes.iter().any(|n| {
                            matches!(n, Note::Changed(x)
                                if x.node == t.node
                                    && matches!(x.reason, Reason::HigherPriority { .. }))
                        });
                        // A member stepped down by its group because
                        // another lost an election follows that election's
                        // winner, not the best Skew_Time.
                        let follows = matches!(t.reason, Reason::SyncGroup(_))
                            && !w.nodes[t.node]
                                .insts
                                .iter()
                                .any(|x| x.router.state() == State::Fault);
                        self.arm_handover(w, t.node, t.inst, stepped_down || follows);
                    }
                }
                Note::Drained(_) => {}
                Note::Sent(i, k, prio) => {
                    let (i, k) = (*i, *k);
                    let inst = &w.nodes[i].insts[k];
                    if prio.get() == 0 || inst.router.state() != State::Master {
                        self.last_sent[i][k] = None;
                        continue;
                    }
                    if let Some(prev) = self.last_sent[i][k] {
                        let gap = now - prev;
                        let bound = sc.max_gap();
                        let permille = (gap.as_micros() * 1000 / bound.as_micros().max(1)) as u64;
                        if !self.stalled_between(i, prev, now) {
                            if permille > self.seen.gap_permille {
                                self.seen.gap_permille = permille;
                                self.seen.gap = gap;
                            }
                            if gap > bound {
                                return Err(fail(
                                    "advert_gap",
                                    format!(
                                        "node {i} inst {k}: master adverts {gap:?} apart (from {prev}), bound {bound:?}"
                                    ),
                                ));
                            }
                        }
                    }
                    self.last_sent[i][k] = Some(now);
                }
            }
        }
        // ---- state invariants ---------------------------------------------
        let n = w.nodes.len();
        for (i, node) in w.nodes.iter().enumerate() {
            for (k, inst) in node.insts.iter().enumerate() {
                let master = node.running && inst.router.state() == State::Master;
                if inst.vips != master {
                    return Err(fail(
                        "vips_follow_master",
                        format!(
                            "node {i} inst {k}: VIPs {} in {} (running {})",
                            if inst.vips { "held" } else { "absent" },
                            inst.router.state(),
                            node.running
                        ),
                    ));
                }
            }
        }
        // Conservation: every copy sent is in flight, queued, handled, or
        // dropped under one network reason.
        let queued: u64 = w.nodes.iter().map(|n| n.sock.len() as u64).sum();
        let dropped: u64 = w.net_drops.values().sum();
        if w.copies != w.flight.len() as u64 + queued + w.handled + dropped {
            return Err(fail(
                "drops_counted_once",
                format!(
                    "copies {} != in flight {} + queued {queued} + handled {} + dropped {dropped}",
                    w.copies,
                    w.flight.len(),
                    w.handled
                ),
            ));
        }
        let clean = Self::clean(w);
        for (i, node) in w.nodes.iter().enumerate() {
            for (k, inst) in node.insts.iter().enumerate() {
                let p = node.running.then(|| inst.router.effective_priority());
                if p != self.prio[i][k].0 {
                    self.prio[i][k] = (p, now);
                }
            }
        }
        for k in 0..sc.vrids.len() {
            let masters: Vec<usize> = (0..n)
                .filter(|&i| {
                    w.nodes[i].running && w.nodes[i].insts[k].router.state() == State::Master
                })
                .collect();
            // Dual masters on a clean link: bounded.
            let dual_bound = self.dual_bound(w);
            for a in 0..n {
                for b in (a + 1)..n {
                    let both = masters.contains(&a) && masters.contains(&b);
                    let ok_link = clean
                        && w.nodes[a].link
                        && w.nodes[b].link
                        && !self.stalled(w, a)
                        && !self.stalled(w, b);
                    // A priority change of either (a reload, a tracker)
                    // can turn which of them must step down: the bound
                    // counts from it (seed 0x56226b: the lower master,
                    // reloaded above the other 10.3 ms into the episode,
                    // ignored its advert and announced its own).
                    let changed = self.prio[a][k].1.max(self.prio[b][k].1);
                    let slot = &mut self.dual_since[k][a][b];
                    if both && ok_link {
                        let since = *slot.get_or_insert_with(|| {
                            self.seen.duals += 1;
                            now
                        });
                        let since = if since < changed {
                            *slot = Some(changed);
                            changed
                        } else {
                            since
                        };
                        let lasted = now - since;
                        if lasted > self.seen.dual {
                            self.seen.dual = lasted;
                            self.seen.dual_bound = dual_bound;
                        }
                        if lasted > dual_bound {
                            return Err(fail(
                                "dual_master_bounded",
                                format!(
                                    "inst {k}: nodes {a} and {b} both master for {lasted:?} on a clean link (since {since}), bound {dual_bound:?}"
                                ),
                            ));
                        }
                    } else {
                        *slot = None;
                    }
                }
            }
            // Graceful handover deadline.
            if let Some((at, deadline, from)) = self.handover[k] {
                // Any master will do: the one that resigned may be back
                // (an instance restarted by a reload, an address owner).
                if !masters.is_empty() {
                    let took = now - at;
                    self.seen.handovers += 1;
                    self.seen.handover = self.seen.handover.max(took);
                    self.handover[k] = None;
                } else if now > deadline {
                    return Err(fail(
                        "graceful_handover",
                        format!(
                            "inst {k}: node {from} resigned at {at}; no new master by {deadline} ({:?} later)",
                            deadline - at
                        ),
                    ));
                }
            }
            let _ = (lat, wake);
            // Convergence.
            if clean && now >= self.quiet_since + settle {
                self.seen.converged_checks += 1;
                self.check_converged(w, k, &masters)
                    .map_err(|d| fail(d.0, d.1))?;
            }
        }
        Ok(())
    }

    /// `no_takeover_from_a_live_master`: a backup that takes over by its
    /// Master_Down_Timer or its preempt delay has no master alive that it
    /// accepts adverts from.
    ///
    /// RFC 5798 §6.4.2: a Backup that accepts an ADVERTISEMENT (its
    /// priority at or above the local one, or Preempt_Mode False) "Reset
    /// the Master_Down_Timer to Master_Down_Interval", at least three times
    /// the interval in it; and vrrpd drops a pending preempt delay behind a
    /// master at or above it. A master M that has been master since `tm`
    /// sends its first advert at `tm` and the next ones at most `G` apart;
    /// each reaches the backup within `L`, and the backup reads it within
    /// `W` (before any due timer: the daemon reads queued packets first).
    /// So from `tm + G + L + W` on, on a network that has been clean since
    /// `tm`, neither timer can run out behind M. A takeover after a
    /// priority 0 (Skew_Time) is not checked: any router's priority 0 sets
    /// it (RFC 5798 §6.4.2).
    fn check_takeover(&mut self, w: &World, r: usize, k: usize) -> Result<(), String> {
        let sc = &w.sc;
        let now = w.now;
        let rr = &w.nodes[r].insts[k];
        let rp = rr.router.effective_priority();
        let slack = sc.max_gap() + sc.max_latency() + Duration::from_micros(sc.wake_us);
        if !Self::clean(w) || !w.nodes[r].link {
            return Ok(());
        }
        self.seen.takeovers_checked += 1;
        for (m, node) in w.nodes.iter().enumerate() {
            if m == r || !node.running || !node.link {
                continue;
            }
            let mr = &node.insts[k].router;
            if mr.state() != State::Master {
                continue;
            }
            let tm = mr.state_since();
            let accepted = mr.effective_priority() >= rp || !rr.cfg.preempt;
            if accepted
                && self.quiet_since <= tm
                && now > tm + slack
                && !self.stalled_between(m, tm, now)
                && !self.stalled_between(r, tm, now)
            {
                return Err(format!(
                    "node {r} inst {k} (priority {rp}) took over, but node {m} (priority {}) has been master since {tm} on a clean network",
                    mr.effective_priority()
                ));
            }
        }
        Ok(())
    }

    /// Two masters that hear each other last at most one advert gap of the
    /// higher one, plus the latency of its advert and the lower one's wake-up.
    /// Counted from the later of the episode's start and the last change of
    /// either one's effective priority: a change can turn which one must
    /// step down, and it is advertised at once.
    pub fn dual_bound(&self, w: &World) -> Duration {
        let sc = &w.sc;
        sc.max_gap() + sc.max_latency() + Duration::from_micros(sc.wake_us)
    }

    /// A master resigned: arm the deadline for a new one, if a backup that
    /// hears it can take over (Skew_Time of the best such backup, plus
    /// latency and two wake-ups: the advert's and the timer's).
    ///
    /// In a sync group this is checked when the whole group resigns on a
    /// node with priority 0 (a stop, a weight-0 tracker on every member,
    /// maintenance on one member and the group following it), so not when
    /// a member of it is still master, stepped down to a higher master in
    /// this step, is a backup behind a higher master, or was stepped down
    /// by its group for such a member rather than for one in Fault
    /// (`follows`: the group then follows that master's node). A backup takes over only when its group
    /// lets it (`VirtualRouter::handle_sync`): no other member of it in
    /// Fault, and none behind a master that outranks it other than the
    /// resigning node's. Which node gets the group depends on which of
    /// their timers fires first across the members, so the bound is the
    /// largest Skew_Time among these backups, not the smallest: when the
    /// first of them takes a VRID, its node's other members are free and
    /// take theirs by their own Skew_Time. A member held behind the
    /// resigning node is released when that node's priority 0 reaches it,
    /// within `L` + `W`; its deferred takeover then happens at once.
    fn arm_handover(&mut self, w: &World, from: usize, k: usize, follows: bool) {
        let sc = &w.sc;
        let from_ip = w.nodes[from].ip;
        if sc.sync
            && (follows
                || w.nodes[from].insts.iter().any(|x| {
                    x.router.state() == State::Master
                        || (x.router.state() == State::Backup && x.router.lost_election())
                }))
        {
            return;
        }
        // The resigning router's adverts still on their way reach the
        // backups before its priority 0 (FIFO per pair) and set their
        // Master_Adver_Interval to its interval (RFC 5798 §6.4.2), which
        // the priority 0's Skew_Time is then computed from.
        // After a reload that changed its interval, those adverts carry the
        // old one (seed 0x58fa44: reloaded from 1 s back to 50 ms as it
        // resigned; a backup's Skew_Time came from the 1 s), so the longest
        // of the config's and theirs.
        let from_interval = w.nodes[from].insts[k]
            .router
            .config()
            .advert_interval
            .max(w.interval_on_the_way(k, from).unwrap_or(Centisecs(0)));
        let mut best: Option<Duration> = None;
        for (j, node) in w.nodes.iter().enumerate() {
            if j == from || !node.running || !node.link || self.stalled(w, j) {
                continue;
            }
            let r = &node.insts[k].router;
            if r.state() != State::Backup {
                continue;
            }
            let group_lets_it = !sc.sync
                || node.insts.iter().enumerate().all(|(b, x)| {
                    b == k
                        || (x.router.state() != State::Fault
                            && (!x.router.lost_election()
                                || x.router.master().is_some_and(|m| m.addr == from_ip)))
                });
            if !group_lets_it {
                continue;
            }
            // RFC 5798 §6.1 / RFC 3768 §6.1 Skew_Time, from the backup's
            // priority and Master_Adver_Interval.
            let p = 256 - r.effective_priority().get() as u64;
            let skew = match sc.version {
                Version::V2 => Duration::from_micros(p * 1_000_000 / 256),
                Version::V3 => {
                    let mai = r.master_adver_interval().max(from_interval);
                    Duration::from_micros(p * mai.to_duration().as_micros() as u64 / 256)
                }
            };
            best = Some(best.map_or(skew, |b| if sc.sync { b.max(skew) } else { b.min(skew) }));
        }
        if let Some(skew) = best {
            let bound = skew + sc.max_latency() + 2 * Duration::from_micros(sc.wake_us);
            self.handover[k] = Some((w.now, w.now + bound, from));
        }
    }

    /// After the quiet window: exactly one master, one the RFC allows, every
    /// instance in the state its conditions call for, sync groups agreeing.
    fn check_converged(
        &self,
        w: &World,
        k: usize,
        masters: &[usize],
    ) -> Result<(), (&'static str, String)> {
        let n = w.nodes.len();
        // States match the fault conditions; effective priority matches the model.
        for i in 0..n {
            let node = &w.nodes[i];
            if !node.running {
                continue;
            }
            let r = &node.insts[k].router;
            let fault = w.model_fault(i, k);
            let st = r.state();
            if fault != (st == State::Fault) || st == State::Initialize {
                return Err((
                    "converged_states",
                    format!("node {i} inst {k}: {st} but fault conditions {fault}"),
                ));
            }
            let p = w.model_priority(i, k, &node.failed);
            if !fault && r.effective_priority() != p {
                return Err((
                    "converged_states",
                    format!(
                        "node {i} inst {k}: effective priority {} but the model says {} (trackers {:?})",
                        r.effective_priority(),
                        p,
                        node.failed
                    ),
                ));
            }
        }
        // With a sync group, a node whose member is in Fault holds the
        // others out of mastership (`VirtualRouter::handle_sync`): the
        // group can only be master where all of it can.
        let eligible: Vec<usize> = (0..n)
            .filter(|&i| {
                w.nodes[i].running
                    && if w.sc.sync {
                        (0..w.sc.vrids.len()).all(|j| !w.model_fault(i, j))
                    } else {
                        !w.model_fault(i, k)
                    }
            })
            .collect();
        if eligible.is_empty() {
            return if masters.is_empty() {
                Ok(())
            } else {
                Err((
                    "one_master",
                    format!("inst {k}: masters {masters:?} with no eligible router"),
                ))
            };
        }
        if masters.len() != 1 {
            return Err((
                "one_master",
                format!(
                    "inst {k}: {} masters {masters:?} among eligible {eligible:?}",
                    masters.len()
                ),
            ));
        }
        let m = masters[0];
        if !eligible.contains(&m) {
            return Err((
                "one_master",
                format!(
                    "inst {k}: node {m} is master, but another member of its sync group is in Fault"
                ),
            ));
        }
        let mp = w.nodes[m].insts[k].router.effective_priority();
        // RFC 5798 §6.4.2: a backup with Preempt_Mode True and a higher
        // priority discards the master's adverts and takes over; one that
        // is held by its sync group does not preempt.
        for &b in &eligible {
            if b == m {
                continue;
            }
            let node = &w.nodes[b];
            let r = &node.insts[k].router;
            let held = w.sc.sync
                && node.insts.iter().enumerate().any(|(j, x)| {
                    j != k && (x.router.state() == State::Fault || x.router.lost_election())
                });
            if node.insts[k].cfg.preempt && !held && r.effective_priority() > mp {
                return Err((
                    "one_master",
                    format!(
                        "inst {k}: node {m} (priority {mp}) is master, but node {b} (priority {}, preempt) should have taken over",
                        r.effective_priority()
                    ),
                ));
            }
        }
        // Sync groups agree: on each node, all members master or none,
        // without exception (a held member is never master).
        if w.sc.sync && k == 0 {
            for (i, node) in w.nodes.iter().enumerate() {
                if !node.running {
                    continue;
                }
                let ms: Vec<bool> = node
                    .insts
                    .iter()
                    .map(|x| x.router.state() == State::Master)
                    .collect();
                if ms.iter().any(|&x| x) && !ms.iter().all(|&x| x) {
                    return Err((
                        "sync_group_agrees",
                        format!(
                            "node {i}: members master {ms:?}, states {:?}",
                            node.insts
                                .iter()
                                .map(|x| x.router.state())
                                .collect::<Vec<_>>()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
