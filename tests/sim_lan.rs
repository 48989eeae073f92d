//! Several virtual routers on a simulated LAN with a simulated clock: no
//! sockets, no sleeping. Each test checks an RFC timing to the microsecond.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vrrpd::core::router::{
    Action, DropReason, GarpPolicy, Reason, RouterConfig, State, TrackEffect, VirtualRouter,
};
use vrrpd::core::time::Instant;
use vrrpd::core::types::{Centisecs, Priority, Version, Vrid};
use vrrpd::core::wire::vrrp::{Advertisement, Auth};

const VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 1, 254);

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}
fn us(v: u64) -> Duration {
    Duration::from_micros(v)
}
fn at(d: Duration) -> Instant {
    Instant::ZERO + d
}

fn cfg(name: &str, last_octet: u8, priority: u8, interval_cs: u16) -> RouterConfig {
    RouterConfig {
        name: name.into(),
        vrid: Vrid::new(12).unwrap(),
        version: Version::V3,
        priority: Priority(priority),
        advert_interval: Centisecs(interval_cs),
        preempt: true,
        preempt_delay: Duration::ZERO,
        vips: vec![IpAddr::V4(VIP)],
        auth_pass: None,
        primary_ip: IpAddr::V4(Ipv4Addr::new(172, 16, 1, last_octet)),
        garp: GarpPolicy::default(),
    }
}

/// One node of the simulated LAN.
struct Node {
    router: VirtualRouter,
    /// The node is powered: a dead node neither sends nor receives.
    alive: bool,
    /// Whether the node holds the VIP (driven by AddVips/RemoveVips).
    has_vip: bool,
    /// Every transition: (time, to, reason).
    transitions: Vec<(Instant, State, Reason)>,
    /// Every advert sent: (time, priority).
    sent: Vec<(Instant, Priority)>,
    /// Every action, in order, with its time.
    actions: Vec<(Instant, Action)>,
}

/// A LAN of nodes with a fixed one-way latency and an optional partition.
struct Lan {
    now: Instant,
    nodes: Vec<Node>,
    latency: Duration,
    /// In flight: (delivery time, sender index, advert).
    in_flight: Vec<(Instant, usize, Advertisement)>,
    /// partition[i] is the side of node i; packets cross only within a side.
    partition: Vec<u8>,
    /// Sync groups: sets of node indices that move together.
    groups: Vec<Vec<usize>>,
}

impl Lan {
    fn new(cfgs: Vec<RouterConfig>, latency: Duration) -> Lan {
        let n = cfgs.len();
        Lan {
            now: Instant::ZERO,
            nodes: cfgs
                .into_iter()
                .map(|c| Node {
                    router: VirtualRouter::new(c),
                    alive: true,
                    has_vip: false,
                    transitions: vec![],
                    sent: vec![],
                    actions: vec![],
                })
                .collect(),
            latency,
            in_flight: vec![],
            partition: vec![0; n],
            groups: vec![],
        }
    }

    fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.nodes[i].router.handle_startup(self.now);
            self.drain(i);
        }
    }

    fn drain(&mut self, i: usize) {
        let now = self.now;
        while let Some(a) = self.nodes[i].router.poll_action() {
            let node = &mut self.nodes[i];
            node.actions.push((now, a.clone()));
            match a {
                Action::StateChanged { to, reason, .. } => node.transitions.push((now, to, reason)),
                Action::AddVips => node.has_vip = true,
                Action::RemoveVips => node.has_vip = false,
                Action::SendAdvert(adv) => {
                    node.sent.push((now, adv.priority));
                    if node.alive {
                        self.in_flight.push((now + self.latency, i, adv));
                    }
                }
                _ => {}
            }
        }
    }

    /// Run the LAN until `until`, processing deliveries and timers in time order.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next_delivery = self.in_flight.iter().map(|p| p.0).min();
            let next_timer = self
                .nodes
                .iter()
                .filter(|n| n.alive)
                .filter_map(|n| n.router.poll_timeout())
                .min();
            let next = match (next_delivery, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.now = next;
            // Deliveries first, in send order, then timers.
            if next_delivery == Some(next) {
                let mut due: Vec<_> = Vec::new();
                self.in_flight.retain(|p| {
                    if p.0 == next {
                        due.push(p.clone());
                        false
                    } else {
                        true
                    }
                });
                for (_, from, adv) in due {
                    let src = self.nodes[from].router.config().primary_ip;
                    for j in 0..self.nodes.len() {
                        if j == from
                            || !self.nodes[j].alive
                            || self.partition[j] != self.partition[from]
                            || self.nodes[j].router.config().vrid.get() != adv.vrid
                        {
                            continue;
                        }
                        let _ = self.nodes[j].router.handle_advert(self.now, src, &adv);
                        self.drain(j);
                    }
                }
                self.sync();
                continue;
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i].alive && self.nodes[i].router.poll_timeout() == Some(next) {
                    self.nodes[i].router.handle_timeout(self.now);
                    self.drain(i);
                }
            }
            self.sync();
        }
        self.now = until;
    }

    /// Apply the sync-group holds until nothing changes, as the daemon does.
    fn sync(&mut self) {
        for _ in 0..4 {
            let mut changed = false;
            for g in self.groups.clone() {
                let members: Vec<&VirtualRouter> =
                    g.iter().map(|&i| &self.nodes[i].router).collect();
                let holds = vrrpd::core::sync::holds(&members);
                for (&i, held) in g.iter().zip(holds) {
                    let before = self.nodes[i].actions.len();
                    self.nodes[i].router.handle_sync(self.now, "VG1", held);
                    self.drain(i);
                    changed |= self.nodes[i].actions.len() != before;
                }
            }
            if !changed {
                return;
            }
        }
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.nodes[i].router.state() == State::Master)
            .collect()
    }

    /// Time of the last transition of node i into `state`.
    fn last_entered(&self, i: usize, state: State) -> Option<Instant> {
        self.nodes[i]
            .transitions
            .iter()
            .rev()
            .find(|t| t.1 == state)
            .map(|t| t.0)
    }

    /// Time of the last advert node i sent.
    fn last_sent(&self, i: usize) -> Instant {
        self.nodes[i].sent.last().expect("node sent nothing").0
    }

    /// Kill node i without a word (power cut, SIGKILL).
    fn kill(&mut self, i: usize) {
        self.nodes[i].alive = false;
        self.in_flight.retain(|p| p.1 != i);
    }

    /// Replace node i with a fresh router started now.
    fn restart(&mut self, i: usize, cfg: RouterConfig) {
        let node = &mut self.nodes[i];
        node.router = VirtualRouter::new(cfg);
        node.alive = true;
        node.has_vip = false;
        node.router.handle_startup(self.now);
        self.drain(i);
    }
}

/// Skew_Time in microseconds, as RFC 5798 defines it, for a v3 interval.
fn skew_us(priority: u64, interval: Duration) -> u64 {
    (256 - priority) * interval.as_micros() as u64 / 256
}
fn mdi(priority: u64, interval: Duration) -> Duration {
    3 * interval + us(skew_us(priority, interval))
}

fn three_nodes(interval_cs: u16) -> Lan {
    Lan::new(
        vec![
            cfg("bal1", 250, 150, interval_cs),
            cfg("bal2", 251, 100, interval_cs),
            cfg("bal3", 252, 50, interval_cs),
        ],
        Duration::ZERO,
    )
}

#[test]
fn initial_election_highest_priority_wins_at_master_down_interval() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    // RFC 5798 Section 6.4.1: everyone starts as Backup with
    // Master_Down_Timer = 3 * 1 s + (256-150)/256 s = 3.4140625 s for bal1.
    assert_eq!(lan.masters(), vec![0]);
    assert_eq!(lan.last_entered(0, State::Master), Some(at(us(3_414_062))));
    assert_eq!(lan.last_entered(1, State::Master), None);
    assert_eq!(lan.last_entered(2, State::Master), None);
    assert!(lan.nodes[0].has_vip && !lan.nodes[1].has_vip && !lan.nodes[2].has_vip);
    // The master advertises every second after that.
    let times: Vec<_> = lan.nodes[0].sent.iter().map(|s| s.0).collect();
    assert_eq!(times[1] - times[0], ms(1000));
}

#[test]
fn master_death_backup_takes_over_at_exactly_master_down_interval() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let last = lan.last_sent(0);
    lan.kill(0);
    lan.run_until(at(ms(20_000)));
    assert_eq!(lan.masters(), vec![1]);
    // bal2's Master_Down_Interval: 3 s + 156/256 s = 3.609375 s after the last advert it heard.
    let took = lan.last_entered(1, State::Master).unwrap();
    assert_eq!(took - last, mdi(100, ms(1000)));
    assert_eq!(took - last, us(3_609_375));
    assert_eq!(
        lan.nodes[1].transitions.last().unwrap().2,
        Reason::MasterDown
    );
    assert_eq!(lan.last_entered(2, State::Master), None);
}

#[test]
fn graceful_stop_backup_takes_over_after_skew_time() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let stop = at(ms(10_500));
    lan.run_until(stop);
    lan.nodes[0].router.handle_shutdown(stop);
    lan.drain(0);
    // The stopping master sent priority 0 and gave the VIP up at once.
    assert_eq!(lan.nodes[0].sent.last().unwrap(), &(stop, Priority::RESIGN));
    assert!(!lan.nodes[0].has_vip);
    lan.nodes[0].alive = false;
    lan.run_until(at(ms(20_000)));
    assert_eq!(lan.masters(), vec![1]);
    // RFC 5798 Section 6.4.2: Master_Down_Timer = Skew_Time = 156/256 s.
    assert_eq!(
        lan.last_entered(1, State::Master).unwrap() - stop,
        us(609_375)
    );
    assert_eq!(
        lan.nodes[1].transitions.last().unwrap().2,
        Reason::MasterResigned
    );
}

#[test]
fn failback_with_preempt_at_master_down_interval_after_restart() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    lan.kill(0);
    lan.run_until(at(ms(20_000)));
    assert_eq!(lan.masters(), vec![1]);
    let restart = at(ms(20_250));
    lan.run_until(restart);
    lan.restart(0, cfg("bal1", 250, 150, 100));
    lan.run_until(at(ms(30_000)));
    assert_eq!(lan.masters(), vec![0]);
    // bal1 discards bal2's lower adverts, so its Master_Down_Timer from
    // startup runs out: 3.4140625 s after the restart.
    assert_eq!(
        lan.last_entered(0, State::Master).unwrap() - restart,
        us(3_414_062)
    );
    // bal2 steps down on bal1's first advert (zero latency: same instant).
    assert_eq!(
        lan.last_entered(1, State::Backup),
        lan.last_entered(0, State::Master)
    );
    assert!(lan.nodes[0].has_vip && !lan.nodes[1].has_vip);
}

#[test]
fn no_failback_with_nopreempt() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    lan.kill(0);
    lan.run_until(at(ms(20_000)));
    let mut c = cfg("bal1", 250, 150, 100);
    c.preempt = false;
    lan.restart(0, c);
    lan.run_until(at(ms(120_000)));
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.last_entered(0, State::Master), Some(at(us(3_414_062))));
    assert_eq!(lan.nodes[0].router.state(), State::Backup);
}

#[test]
fn preempt_delay_takes_over_exactly_when_the_delay_ends() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    lan.kill(0);
    lan.run_until(at(ms(20_000)));
    let restart = at(ms(20_100));
    lan.run_until(restart);
    let mut c = cfg("bal1", 250, 150, 100);
    c.preempt_delay = ms(5_000);
    lan.restart(0, c);
    lan.run_until(at(ms(40_000)));
    // The first advert bal1 hears from the lower master starts the delay.
    let bal2_adverts: Vec<_> = lan.nodes[1].sent.iter().map(|s| s.0).collect();
    let first_heard = *bal2_adverts.iter().find(|&&t| t >= restart).unwrap();
    assert_eq!(lan.masters(), vec![0]);
    let took = lan.last_entered(0, State::Master).unwrap();
    assert_eq!(took - first_heard, ms(5_000));
    assert_eq!(
        lan.nodes[0].transitions.last().unwrap().2,
        Reason::PreemptDelayExpired
    );
    // Without the delay it would have taken over 3.414 s after restart: it waited longer.
    assert!(took - restart > us(3_414_062));
}

#[test]
fn equal_priority_is_broken_by_the_higher_primary_address() {
    let mut lan = Lan::new(
        vec![cfg("a", 250, 100, 100), cfg("b", 251, 100, 100)],
        Duration::ZERO,
    );
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    // Both timers run out together at 3.609375 s; both become master; each
    // hears the other and the lower address (.250) steps down at once.
    assert_eq!(lan.masters(), vec![1]);
    let t = at(us(3_609_375));
    assert_eq!(lan.last_entered(0, State::Master), Some(t));
    assert_eq!(lan.last_entered(1, State::Master), Some(t));
    assert_eq!(lan.last_entered(0, State::Backup), Some(t));
    assert!(!lan.nodes[0].has_vip && lan.nodes[1].has_vip);
}

#[test]
fn address_owner_takes_over_at_once() {
    let mut lan = Lan::new(
        vec![cfg("owner", 250, 255, 100), cfg("bal2", 251, 100, 100)],
        us(200),
    );
    // bal2 alone first, so it is master when the owner starts.
    lan.nodes[0].alive = false;
    lan.nodes[1].router.handle_startup(lan.now);
    lan.drain(1);
    lan.run_until(at(ms(10_000)));
    assert_eq!(lan.masters(), vec![1]);
    let start = lan.now;
    lan.restart(0, cfg("owner", 250, 255, 100));
    // RFC 5798 Section 6.4.1: priority 255 goes straight to Master.
    assert_eq!(lan.last_entered(0, State::Master), Some(start));
    assert_eq!(lan.nodes[0].transitions[0].2, Reason::AddressOwner);
    lan.run_until(at(ms(20_000)));
    assert_eq!(lan.masters(), vec![0]);
    // bal2 steps down when the owner's first advert arrives, one latency later.
    assert_eq!(lan.last_entered(1, State::Backup), Some(start + us(200)));
}

/// Partition bal1 away, let bal2 become master too, heal at `heal_ms`, and
/// return when bal2 stepped down.
fn split_brain_heals(heal_ms: u64) -> Instant {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    // Cut bal1 off: the other side elects bal2.
    lan.partition = vec![1, 0, 0];
    lan.run_until(at(ms(20_000)));
    assert_eq!(lan.masters(), vec![0, 1]);
    let heal = at(ms(heal_ms));
    lan.run_until(heal);
    let sent_before = |i: usize| lan.nodes[i].sent.iter().filter(|s| s.0 < heal).count();
    let (b1, b2) = (sent_before(0), sent_before(1));
    lan.partition = vec![0, 0, 0];
    lan.run_until(heal + ms(1_000));
    assert_eq!(lan.masters(), vec![0]);
    let healed = lan.last_entered(1, State::Backup).unwrap();
    assert!(healed > heal && healed - heal <= ms(1_000));
    // Whichever master's regular advert crossed first decided it, at once
    // (zero latency).
    let next = |i: usize, skip: usize| lan.nodes[i].sent.get(skip).map(|s| s.0);
    let first = [next(0, b1), next(1, b2)]
        .into_iter()
        .flatten()
        .min()
        .unwrap();
    assert_eq!(healed, first);
    // Either way the true master re-announced the VIP at that instant, so
    // clients that followed bal2 during the partition come back: it heard
    // bal2 as a lower master, directly or through bal2's goodbye advert.
    assert!(
        lan.nodes[0]
            .actions
            .iter()
            .any(|(t, a)| *t == first && matches!(a, Action::Announce { .. })),
        "bal1 did not re-announce after the heal"
    );
    healed
}

#[test]
fn split_brain_heals_within_one_advert_interval() {
    // bal1 advertises at phase .414062 s, bal2 (master since 13.023437 s) at
    // .023437 s: healing at 20.3 s lets bal1's advert cross first (bal2 steps
    // down on it), at 20.5 s bal2's (bal1 answers, and bal2 steps down on
    // the answer).
    assert_eq!(split_brain_heals(20_300), at(us(20_414_062)));
    assert_eq!(split_brain_heals(20_500), at(us(21_023_437)));
}

#[test]
fn ten_millisecond_adverts_elect_and_fail_over() {
    let mut lan = three_nodes(1);
    lan.start_all();
    lan.run_until(at(ms(1_000)));
    // 3 * 10 ms + 106 * 10 ms / 256 = 34.140 ms (µs precision, not truncated to 0 cs).
    assert_eq!(lan.masters(), vec![0]);
    assert_eq!(lan.last_entered(0, State::Master), Some(at(us(34_140))));
    let last = lan.last_sent(0);
    lan.kill(0);
    lan.run_until(at(ms(2_000)));
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(
        lan.last_entered(1, State::Master).unwrap() - last,
        us(36_093)
    );
    // Graceful stop at 10 ms: Skew_Time of priority 50 = 206 * 10 ms / 256.
    let stop = lan.now;
    lan.nodes[1].router.handle_shutdown(stop);
    lan.drain(1);
    lan.nodes[1].alive = false;
    lan.run_until(at(ms(3_000)));
    assert_eq!(lan.masters(), vec![2]);
    assert_eq!(
        lan.last_entered(2, State::Master).unwrap() - stop,
        us(8_046)
    );
}

#[test]
fn tracker_failure_on_master_hands_over_after_the_backups_skew_time() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let fail = at(ms(10_200));
    lan.run_until(fail);
    lan.nodes[0]
        .router
        .handle_track(fail, "haproxy", TrackEffect::Priority(-100));
    lan.drain(0);
    assert_eq!(lan.nodes[0].router.effective_priority(), Priority(50));
    // The resignation pair: priority 0, then the new priority, at once.
    let n = lan.nodes[0].sent.len();
    assert_eq!(
        &lan.nodes[0].sent[n - 2..],
        &[(fail, Priority(0)), (fail, Priority(50))]
    );
    lan.run_until(at(ms(20_000)));
    assert_eq!(lan.masters(), vec![1]);
    // bal2 (100) took over after its Skew_Time, not its Master_Down_Interval.
    assert_eq!(
        lan.last_entered(1, State::Master).unwrap() - fail,
        us(609_375)
    );
    // bal3 (50, equal to bal1's new priority) accepted the second advert and never moved.
    assert_eq!(lan.last_entered(2, State::Master), None);
    assert_eq!(lan.nodes[0].router.state(), State::Backup);
    // The tracker recovers: bal1 (150 again) preempts at Master_Down_Interval.
    let back = at(ms(20_000));
    lan.nodes[0]
        .router
        .handle_track(back, "haproxy", TrackEffect::None);
    lan.drain(0);
    lan.run_until(at(ms(30_000)));
    assert_eq!(lan.masters(), vec![0]);
}

#[test]
fn tracker_failure_with_no_better_backup_never_flaps() {
    // bal1 150 and bal3 50: with weight -120 bal1 drops to 30, below bal3.
    // With weight -100 it drops to 50, equal to bal3, which has a higher address.
    // With weight -90 (to 60) bal3 must not move at all.
    let mut lan = Lan::new(
        vec![cfg("bal1", 250, 150, 100), cfg("bal3", 252, 50, 100)],
        Duration::ZERO,
    );
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let fail = lan.now;
    lan.nodes[0]
        .router
        .handle_track(fail, "haproxy", TrackEffect::Priority(-90));
    lan.drain(0);
    lan.run_until(at(ms(60_000)));
    assert_eq!(lan.masters(), vec![0]);
    assert_eq!(
        lan.nodes[1].transitions.len(),
        1,
        "bal3 only entered Backup once"
    );
    assert_eq!(
        lan.nodes[0].transitions.len(),
        2,
        "bal1: Backup, Master; no flap"
    );
    assert!(lan.nodes[0].has_vip);

    // Alone on the LAN: nothing at all happens to the master either.
    let mut alone = Lan::new(vec![cfg("bal1", 250, 150, 100)], Duration::ZERO);
    alone.start_all();
    alone.run_until(at(ms(10_000)));
    alone.nodes[0]
        .router
        .handle_track(alone.now, "haproxy", TrackEffect::Priority(-100));
    alone.drain(0);
    alone.run_until(at(ms(60_000)));
    assert_eq!(alone.masters(), vec![0]);
    assert_eq!(alone.nodes[0].transitions.len(), 2);
    assert!(alone.nodes[0].has_vip);
}

#[test]
fn weight_zero_tracker_means_fault_and_recovery_returns_to_backup() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let t = lan.now;
    lan.nodes[0]
        .router
        .handle_track(t, "haproxy", TrackEffect::Fault);
    lan.drain(0);
    assert_eq!(lan.nodes[0].router.state(), State::Fault);
    assert!(!lan.nodes[0].has_vip);
    assert_eq!(lan.nodes[0].sent.last().unwrap(), &(t, Priority::RESIGN));
    lan.run_until(at(ms(15_000)));
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.last_entered(1, State::Master).unwrap() - t, us(609_375));
    let t2 = lan.now;
    lan.nodes[0]
        .router
        .handle_track(t2, "haproxy", TrackEffect::None);
    lan.drain(0);
    assert_eq!(lan.nodes[0].router.state(), State::Backup);
    assert_eq!(
        lan.nodes[0].transitions.last().unwrap().2,
        Reason::FaultCleared
    );
    lan.run_until(at(ms(30_000)));
    assert_eq!(lan.masters(), vec![0]);
}

#[test]
fn interface_down_is_fault_and_up_recovers() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let t = lan.now;
    lan.nodes[0].router.handle_iface(t, false);
    lan.drain(0);
    assert_eq!(lan.nodes[0].router.state(), State::Fault);
    assert_eq!(
        lan.nodes[0].transitions.last().unwrap().2,
        Reason::InterfaceDown
    );
    assert!(!lan.nodes[0].has_vip);
    // Fault ignores adverts and keeps no timers.
    lan.run_until(at(ms(15_000)));
    assert_eq!(lan.nodes[0].router.poll_timeout(), None);
    lan.nodes[0].router.handle_iface(lan.now, true);
    lan.drain(0);
    assert_eq!(lan.nodes[0].router.state(), State::Backup);
}

#[test]
fn action_order_on_becoming_and_leaving_master() {
    let mut r = VirtualRouter::new(cfg("a", 250, 255, 100));
    r.handle_startup(Instant::ZERO);
    let acts: Vec<_> = std::iter::from_fn(|| r.poll_action()).collect();
    assert!(matches!(
        acts[0],
        Action::StateChanged {
            to: State::Master,
            ..
        }
    ));
    assert!(matches!(&acts[1], Action::SendAdvert(a) if a.priority == Priority(255)));
    assert_eq!(acts[2], Action::AddVips);
    assert_eq!(acts[3], Action::Announce { repeat: 5 });
    assert_eq!(acts.len(), 4);
    // The second burst comes garp_master_delay later.
    assert_eq!(r.poll_timeout(), Some(at(ms(1_000))));
    r.handle_timeout(at(ms(5_000)));
    let acts: Vec<_> = std::iter::from_fn(|| r.poll_action()).collect();
    assert!(acts.contains(&Action::Announce { repeat: 5 }));
    r.handle_shutdown(at(ms(6_000)));
    let acts: Vec<_> = std::iter::from_fn(|| r.poll_action()).collect();
    assert!(matches!(
        acts[0],
        Action::StateChanged {
            to: State::Initialize,
            reason: Reason::Shutdown,
            ..
        }
    ));
    assert!(matches!(&acts[1], Action::SendAdvert(a) if a.priority == Priority::RESIGN));
    assert_eq!(acts[2], Action::RemoveVips);
    assert_eq!(acts.len(), 3);
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn stale_wakeups_are_harmless() {
    let mut r = VirtualRouter::new(cfg("b", 251, 100, 100));
    r.handle_startup(Instant::ZERO);
    while r.poll_action().is_some() {}
    let deadline = r.poll_timeout().unwrap();
    assert_eq!(deadline, at(us(3_609_375)));
    r.handle_timeout(at(ms(1)));
    r.handle_timeout(deadline - us(1));
    assert_eq!(r.state(), State::Backup);
    assert!(r.poll_action().is_none());
    r.handle_timeout(deadline);
    assert_eq!(r.state(), State::Master);
}

fn advert(version: Version, priority: u8, interval_cs: u16, auth: Auth) -> Advertisement {
    Advertisement {
        version,
        vrid: 12,
        priority: Priority(priority),
        max_adver_int: Centisecs(interval_cs),
        addrs: vec![IpAddr::V4(VIP)].into(),
        auth,
    }
}

#[test]
fn v2_checks_auth_and_interval_and_counts_drops() {
    let mut c = cfg("v2", 251, 100, 100);
    c.version = Version::V2;
    c.auth_pass = Some(*b"secret12");
    let mut r = VirtualRouter::new(c);
    r.handle_startup(Instant::ZERO);
    let peer: IpAddr = "172.16.1.250".parse().unwrap();
    let now = at(ms(100));
    let good = advert(Version::V2, 150, 100, Auth::SimplePassword(*b"secret12"));
    assert_eq!(r.handle_advert(now, peer, &good), Ok(()));
    let wrong_pass = advert(Version::V2, 150, 100, Auth::SimplePassword(*b"secret13"));
    assert_eq!(
        r.handle_advert(now, peer, &wrong_pass),
        Err(DropReason::Auth)
    );
    let no_auth = advert(Version::V2, 150, 100, Auth::None);
    assert_eq!(r.handle_advert(now, peer, &no_auth), Err(DropReason::Auth));
    let other = advert(
        Version::V2,
        150,
        100,
        Auth::Other {
            auth_type: 2,
            data: [0; 8],
        },
    );
    assert_eq!(r.handle_advert(now, peer, &other), Err(DropReason::Auth));
    let slow = advert(Version::V2, 150, 200, Auth::SimplePassword(*b"secret12"));
    assert_eq!(
        r.handle_advert(now, peer, &slow),
        Err(DropReason::IntervalMismatch)
    );
    let v3 = advert(Version::V3, 150, 100, Auth::None);
    assert_eq!(r.handle_advert(now, peer, &v3), Err(DropReason::Version));
    let own: IpAddr = "172.16.1.251".parse().unwrap();
    assert_eq!(
        r.handle_advert(now, own, &good),
        Err(DropReason::OwnAddress)
    );
    let s = r.stats();
    assert_eq!(s.adverts_received, 1);
    assert_eq!(s.drops[&DropReason::Auth], 3);
    assert_eq!(s.drops[&DropReason::IntervalMismatch], 1);
    assert_eq!(s.drops[&DropReason::Version], 1);
    assert_eq!(s.drops[&DropReason::OwnAddress], 1);
    // The dropped adverts did not reset the timer: only the good one did.
    assert_eq!(r.poll_timeout(), Some(now + us(3_609_375)));
}

#[test]
fn v3_backup_adopts_the_masters_interval() {
    let mut r = VirtualRouter::new(cfg("b", 251, 100, 100));
    r.handle_startup(Instant::ZERO);
    while r.poll_action().is_some() {}
    let peer: IpAddr = "172.16.1.250".parse().unwrap();
    let now = at(ms(500));
    r.handle_advert(now, peer, &advert(Version::V3, 150, 50, Auth::None))
        .unwrap();
    assert_eq!(r.master_adver_interval(), Centisecs(50));
    // Master_Down_Interval from the learned 500 ms: 1.5 s + 156 * 500 ms / 256.
    assert_eq!(r.poll_timeout(), Some(now + ms(1500) + us(304_687)));
    assert!(std::iter::from_fn(|| r.poll_action()).any(|a| matches!(
        a,
        Action::Anomaly(vrrpd::core::router::Anomaly::IntervalAdopted { .. })
    )));
}

#[test]
fn vip_mismatch_is_counted_and_logged_but_not_dropped() {
    let mut r = VirtualRouter::new(cfg("b", 251, 100, 100));
    r.handle_startup(Instant::ZERO);
    while r.poll_action().is_some() {}
    let peer: IpAddr = "172.16.1.250".parse().unwrap();
    let mut a = advert(Version::V3, 150, 100, Auth::None);
    a.addrs = vec!["172.16.1.253".parse::<IpAddr>().unwrap()].into();
    let now = at(ms(100));
    assert_eq!(r.handle_advert(now, peer, &a), Ok(()));
    assert_eq!(r.stats().vip_mismatch, 1);
    assert_eq!(r.poll_timeout(), Some(now + us(3_609_375)));
    assert!(std::iter::from_fn(|| r.poll_action()).any(|a| matches!(
        a,
        Action::Anomaly(vrrpd::core::router::Anomaly::VipMismatch { .. })
    )));
}

#[test]
fn master_answers_a_lower_master_at_once_but_at_a_bounded_rate() {
    let mut r = VirtualRouter::new(cfg("a", 250, 255, 100));
    r.handle_startup(Instant::ZERO);
    while r.poll_action().is_some() {}
    let peer: IpAddr = "172.16.1.251".parse().unwrap();
    let lower = advert(Version::V3, 100, 100, Auth::None);
    let mut replies = 0;
    for i in 0..100u64 {
        r.handle_advert(at(ms(100) + us(i * 1000)), peer, &lower)
            .unwrap();
        replies += std::iter::from_fn(|| r.poll_action())
            .filter(|a| matches!(a, Action::SendAdvert(_)))
            .count();
    }
    // 100 lower adverts within 100 ms draw exactly one immediate reply.
    assert_eq!(replies, 1);
    assert_eq!(r.state(), State::Master);
}

#[test]
fn maintenance_hands_over_gracefully_and_holds_off() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let t = lan.now;
    lan.nodes[0].router.handle_maintenance(t, true);
    lan.drain(0);
    lan.run_until(at(ms(30_000)));
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.last_entered(1, State::Master).unwrap() - t, us(609_375));
    assert_eq!(lan.nodes[0].router.state(), State::Fault);
    lan.nodes[0].router.handle_maintenance(lan.now, false);
    lan.drain(0);
    lan.run_until(at(ms(40_000)));
    assert_eq!(lan.masters(), vec![0]);
}

#[test]
fn effective_priority_clamps() {
    let mut r = VirtualRouter::new(cfg("a", 250, 255, 100));
    assert_eq!(r.effective_priority(), Priority(255));
    r.handle_track(Instant::ZERO, "x", TrackEffect::Priority(-10));
    assert_eq!(r.effective_priority(), Priority(245));
    r.handle_track(Instant::ZERO, "y", TrackEffect::Priority(-300));
    assert_eq!(r.effective_priority(), Priority(1));
    r.handle_track(Instant::ZERO, "x", TrackEffect::None);
    r.handle_track(Instant::ZERO, "y", TrackEffect::None);
    r.handle_track(Instant::ZERO, "z", TrackEffect::Priority(5));
    assert_eq!(r.effective_priority(), Priority(254));
}

#[test]
fn reconfigure_keeps_state_and_applies_a_new_priority_at_once() {
    let mut lan = three_nodes(100);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let t = lan.now;
    // Same settings: nothing happens.
    assert!(lan.nodes[0]
        .router
        .reconfigure(t, cfg("bal1", 250, 150, 100)));
    lan.drain(0);
    assert_eq!(lan.nodes[0].transitions.len(), 2);
    // Lower priority on the master: the resignation pair goes out and bal2 takes over after its skew.
    assert!(lan.nodes[0]
        .router
        .reconfigure(t, cfg("bal1", 250, 90, 100)));
    lan.drain(0);
    lan.run_until(at(ms(20_000)));
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.last_entered(1, State::Master).unwrap() - t, us(609_375));
    // A different interval cannot be applied in place.
    assert!(!lan.nodes[0]
        .router
        .reconfigure(lan.now, cfg("bal1", 250, 90, 200)));
    assert_eq!(lan.nodes[0].router.config().advert_interval, Centisecs(100));
}

fn two_directors() -> Lan {
    let mut a2 = cfg("a-VI_2", 250, 150, 100);
    a2.vrid = Vrid::new(13).unwrap();
    let mut b2 = cfg("b-VI_2", 251, 100, 100);
    b2.vrid = Vrid::new(13).unwrap();
    let mut lan = Lan::new(
        vec![
            cfg("a-VI_1", 250, 150, 100),
            cfg("b-VI_1", 251, 100, 100),
            a2,
            b2,
        ],
        Duration::ZERO,
    );
    lan.groups = vec![vec![0, 2], vec![1, 3]];
    lan
}

#[test]
fn sync_group_members_leave_master_together_and_come_back_together() {
    let mut lan = two_directors();
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    assert_eq!(lan.masters(), vec![0, 2]);
    // Director A loses the link of VI_1: VI_1 goes to Fault, VI_2 follows it out.
    let t = lan.now;
    lan.nodes[0].router.handle_iface(t, false);
    lan.drain(0);
    lan.sync();
    assert_eq!(lan.nodes[2].router.state(), State::Backup);
    assert_eq!(
        lan.nodes[2].transitions.last().unwrap().2,
        Reason::SyncGroup("VG1".into())
    );
    assert!(!lan.nodes[2].has_vip);
    lan.run_until(at(ms(20_000)));
    assert_eq!(lan.masters(), vec![1, 3]);
    // Both priority-0 adverts went out at t: B takes both after its Skew_Time.
    assert_eq!(lan.last_entered(1, State::Master).unwrap() - t, us(609_375));
    assert_eq!(lan.last_entered(3, State::Master).unwrap() - t, us(609_375));
    // A's VI_2 stays backup behind the lower B while held: no preemption.
    lan.run_until(at(ms(30_000)));
    assert_eq!(lan.masters(), vec![1, 3]);
    // The link comes back: both members preempt, within one interval of each other.
    let up = lan.now;
    lan.nodes[0].router.handle_iface(up, true);
    lan.drain(0);
    lan.sync();
    lan.run_until(at(ms(40_000)));
    assert_eq!(lan.masters(), vec![0, 2]);
    let m0 = lan.last_entered(0, State::Master).unwrap();
    let m2 = lan.last_entered(2, State::Master).unwrap();
    // The first of them preempts at most Master_Down_Interval after the link
    // came back; B then steps its other member down with priority 0 (its
    // VI_2 lost, so its group follows), and A takes that one after its
    // Skew_Time (106/256 s).
    let (first, last) = (m0.min(m2), m0.max(m2));
    assert!(first - up <= us(3_414_062), "{:?}", first - up);
    assert_eq!(last - first, us(414_062));
}

#[test]
fn sync_group_moves_whole_when_its_tracker_fails_on_every_member() {
    let mut lan = two_directors();
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    // A's HAProxy tracker (on both members, as a group's trackers should
    // be) fails: 150 - 100 = 50 on both. Each member hands over through the
    // resignation pair, and B takes both after its Skew_Time.
    let t = lan.now;
    for i in [0, 2] {
        lan.nodes[i]
            .router
            .handle_track(t, "haproxy", TrackEffect::Priority(-100));
        lan.drain(i);
    }
    lan.sync();
    lan.run_until(at(ms(20_000)));
    assert_eq!(lan.masters(), vec![1, 3]);
    assert_eq!(lan.last_entered(1, State::Master).unwrap() - t, us(609_375));
    assert_eq!(lan.last_entered(3, State::Master).unwrap() - t, us(609_375));
    assert!(lan.nodes[0].router.lost_election());
    // No flapping afterwards.
    lan.run_until(at(ms(60_000)));
    assert_eq!(lan.masters(), vec![1, 3]);
    assert_eq!(lan.nodes[2].transitions.len(), 3);
}

/// A weight on one member only orders the nodes differently per member:
/// B would win VI_1 (100 > 50) and A still wins VI_2 (150 > 100). A held
/// member never becomes master (keepalived's rule, which ignores such
/// weights in sync groups for this reason), so B's VI_1, held by its lost
/// VI_2, does not take over, and the group stays whole on A: no split, no
/// flap. (Until 2026-12 B's VI_1 took over anyway when A's resignation
/// pair ran its timer out, the availability exception that also left
/// groups split across nodes: docs/SIMULATION.md, seed 0x197f5.)
#[test]
fn sync_group_stays_whole_when_a_weight_crosses_one_member() {
    let mut lan = two_directors();
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let t = lan.now;
    lan.nodes[0]
        .router
        .handle_track(t, "haproxy", TrackEffect::Priority(-100));
    lan.drain(0);
    lan.sync();
    lan.run_until(at(ms(60_000)));
    assert_eq!(lan.masters(), vec![0, 2]);
    for i in [1, 3] {
        assert_eq!(lan.nodes[i].transitions.len(), 1, "node {i}");
        assert!(!lan.nodes[i].has_vip);
    }
    assert!(lan.nodes[3].router.lost_election());
    assert_eq!(
        lan.nodes[1].router.master().map(|m| m.priority.get()),
        Some(50)
    );
}

#[test]
fn nopreempt_backup_still_takes_over_from_a_resigning_master() {
    let mut c2 = cfg("bal2", 251, 100, 100);
    c2.preempt = false;
    let mut lan = Lan::new(vec![cfg("bal1", 250, 150, 100), c2], Duration::ZERO);
    lan.start_all();
    lan.run_until(at(ms(10_000)));
    let t = lan.now;
    lan.nodes[0]
        .router
        .handle_track(t, "haproxy", TrackEffect::Priority(-100));
    lan.drain(0);
    lan.run_until(at(ms(20_000)));
    // nopreempt is about taking mastership back, not staying behind a master that gave up.
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.last_entered(1, State::Master).unwrap() - t, us(609_375));
    // And bal1, recovered, does not take it back from a nopreempt... it does:
    // bal1 itself has preempt on, and it is bal1's setting that counts.
    lan.nodes[0]
        .router
        .handle_track(lan.now, "haproxy", TrackEffect::None);
    lan.drain(0);
    lan.run_until(at(ms(30_000)));
    assert_eq!(lan.masters(), vec![0]);
}
