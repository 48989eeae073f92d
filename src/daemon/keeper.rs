//! The advert keeper: a second thread, on another CPU than the event loop,
//! that sends every other advert of a master, and goes on sending them when
//! the event loop is late.
//!
//! Why: a virtual machine's vCPU can be taken away by the hypervisor for
//! 100 ms and more (steal time). If the event loop's CPU is the one taken,
//! its timer does not fire and the master goes silent for longer than the
//! backup's Master_Down_Interval (36 ms at 10 ms adverts): the backup takes
//! over although nothing failed, and both hold the VIP until the master runs
//! again. The stability benchmark caught exactly this (docs/BENCHMARKS.md).
//! The keeper sleeps on a timer of its own CPU, so it still runs.
//!
//! How the adverts are shared: the router's Adver_Timer runs two intervals
//! ([`crate::core::router::VirtualRouter::set_shared_adverts`]), and the
//! keeper sends a copy of each advert the event loop sent, one interval after
//! it: one advert per interval on the wire, the same bytes, and each thread
//! wakes once every two intervals. Either thread alone still sends one every
//! two intervals, under a backup's 3 intervals + skew, so one stalled CPU
//! does not cause a takeover. When the event loop has not sent its next
//! advert by the time of the keeper's next turn (one interval late), the
//! keeper sends one every interval, for at most [`COVER`] after the event
//! loop's own last send: a loop that stays stuck longer is a fault the peer
//! must see, and it does.
//!
//! What it sends: only the advert the event loop itself sent last, byte for
//! byte (with `auth_hmac`, but for its trailer, signed again at a fresh
//! sequence: see `auth.rs`), to the same destinations, and only while the instance is master
//! (the event loop withdraws it before any state change away from master and
//! before a priority-0 advert). Instances whose interval is longer than half
//! of [`COVER`] are not shared (see [`shares`]): their CPU cost is small, and
//! the keeper's turn would fall outside the cover.
//!
//! What it does not do: anything else. A tracker event or a packet that
//! arrives during a stall is acted on when the loop runs again (at most
//! [`COVER`] later), as it would have been without the keeper.
//!
//! Cost: with one master instance, one wake-up every two intervals, as the
//! event loop's; with many, at most four per shortest interval. Each
//! instance's advert sits under a lock of its own ([`Slot`]): the event
//! loop takes it on each send, and the keeper while it sends that
//! instance's copy, so the two meet only on the same instance at the same
//! moment (one lock for all made the event loop wait for the keeper's whole
//! pass: 1000 sends at 1000 instances). Off with `VRRPD_KEEPER=off`, and
//! absent on a single CPU.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{info, warn};

pub use crate::core::keeper::{shares, COVER};
use crate::core::keeper::{Schedule, Sent};
use crate::core::time::Instant as CoreInstant;
use crate::io::vrrp_socket::{TxBatch, VrrpSocket, TX_CHUNK};

use super::auth::KeeperSign;
use super::ratelimit::{RateLimit, Verdict};
use super::realtime;

/// Environment variable: `off` (or `0`, `no`) disables the keeper.
pub const ENV: &str = "VRRPD_KEEPER";

/// The longest wait between two of its turns while the keeper keeps an
/// advert; with nothing to send (no master, or every master's event loop
/// hung) it sleeps until [`KeeperSlot::sent`] wakes it: a backup's keeper
/// costs no wake-up (it cost one a second; #21).
const IDLE: Duration = Duration::from_secs(1);

/// One master instance's last advert.
struct Entry {
    name: String,
    socket: Arc<VrrpSocket>,
    /// Encoded adverts and their destinations (the group, or each unicast peer).
    packets: Vec<(Vec<u8>, IpAddr)>,
    /// With `auth_hmac`: how each copy is signed again, at a fresh sequence
    /// (a receiver drops a repeated one as a replay).
    sign: Option<KeeperSign>,
    schedule: Schedule,
}

/// One instance's place in the keeper: its last advert while it is a
/// master, under its own lock, and its counts of adverts the keeper sent in
/// its turn and while the event loop was late.
struct Slot {
    entry: Mutex<Option<Entry>>,
    turns: AtomicU64,
    repeated: AtomicU64,
}

struct Shared {
    /// Every instance's slot. The keeper holds this lock for its pass and
    /// releases it only in its wait; the event loop takes it when a slot is
    /// made or dropped, and to wake the keeper (so that the wake-up cannot
    /// fall between the keeper's pass and its wait).
    slots: Mutex<Vec<Arc<Slot>>>,
    wake: Condvar,
    stop: AtomicBool,
    /// The CPU the event loop last ran on (-1: unknown); the keeper stays
    /// off it, so that its timer lives on another CPU.
    loop_cpu: AtomicI32,
    /// The epoch of the schedules' instants ([`Shared::now`]).
    epoch: Instant,
    /// When the sleeping keeper wakes next, in microseconds of
    /// [`Shared::now`] (written under `slots` before each wait); 0 while it
    /// is awake.
    planned: AtomicU64,
}

impl Shared {
    /// Now, as the pure [`Schedule`] counts time: since the keeper started.
    fn now(&self) -> CoreInstant {
        CoreInstant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    /// Wake the keeper if it may be asleep past `due`. It is not when it
    /// sleeps until `due` or earlier: it looks at every schedule again when
    /// it wakes. At 1000 instances most adverts of a pass are in that case
    /// (taking the lock for each made the event loop wait for the keeper).
    fn wake_for(&self, due: CoreInstant) {
        let planned = self.planned.load(Ordering::SeqCst);
        if planned != 0 && due.as_micros() >= planned {
            return;
        }
        // Under the lock: the keeper is either before its pass (it will
        // see the new schedule) or in its wait (it gets the notification).
        drop(lock(&self.slots));
        self.wake.notify_one();
    }
}

/// The keeper thread and the event loop's side of it.
pub struct Keeper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// An instance's handle: records its adverts and withdraws them. Dropping it
/// withdraws too.
pub struct KeeperSlot {
    shared: Arc<Shared>,
    slot: Arc<Slot>,
}

impl Keeper {
    /// Starts the keeper unless [`ENV`] turns it off or the process may run
    /// on one CPU only; `None` then.
    pub fn start_from_env() -> Option<Keeper> {
        let off = std::env::var(ENV).is_ok_and(|v| realtime::says_off(&v));
        if off {
            info!("advert keeper off ({ENV})");
            return None;
        }
        let cpus = allowed_cpus();
        if cpus.len() < 2 {
            info!("advert keeper off: one CPU");
            return None;
        }
        let shared = Arc::new(Shared {
            slots: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            loop_cpu: AtomicI32::new(current_cpu()),
            epoch: Instant::now(),
            planned: AtomicU64::new(0),
        });
        let s = shared.clone();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("vrrpd-keeper".into())
            .spawn(move || {
                // The starting thread's SCHED_RR (daemon::realtime) is inherited.
                // SAFETY: gettid has no arguments and cannot fail.
                let _ = tid_tx.send(unsafe { libc::gettid() });
                run(&s, &cpus);
            });
        match thread {
            Ok(t) => {
                info!(cover_ms = COVER.as_millis() as u64, "advert keeper on");
                if let Ok(tid) = tid_rx.recv() {
                    keep_realtime_for(tid);
                }
                Some(Keeper {
                    shared,
                    thread: Some(t),
                })
            }
            Err(e) => {
                warn!(error = %e, "advert keeper off: cannot start its thread");
                None
            }
        }
    }

    /// A handle for one instance.
    pub fn slot(&self) -> KeeperSlot {
        let slot = Arc::new(Slot {
            entry: Mutex::new(None),
            turns: AtomicU64::new(0),
            repeated: AtomicU64::new(0),
        });
        lock(&self.shared.slots).push(slot.clone());
        KeeperSlot {
            shared: self.shared.clone(),
            slot,
        }
    }

    /// The event loop calls this when it arms its timer: the keeper keeps
    /// off that CPU.
    pub fn note_loop_cpu(&self) {
        self.shared.loop_cpu.store(current_cpu(), Ordering::Relaxed);
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for slot in lock(&self.shared.slots).iter() {
            lock(&slot.entry).take();
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl KeeperSlot {
    /// The event loop sent `packets` as this master's advert just now; the
    /// keeper sends the next one (and covers if the loop is late). Only for
    /// an instance whose router shares its adverts. `sign`: with
    /// `auth_hmac`, how the keeper signs its copies. The bytes are copied
    /// into the entry's own buffers: no allocation but for a new master.
    pub fn sent(
        &self,
        name: &str,
        socket: &Arc<VrrpSocket>,
        packets: &[(Vec<u8>, IpAddr)],
        sign: Option<KeeperSign>,
        interval: Duration,
    ) {
        let now = self.shared.now();
        let next = Schedule::new(interval, now);
        let mut entry = lock(&self.slot.entry);
        let wake = match entry.as_mut() {
            Some(e) => {
                // The common case, every advert: no allocation.
                if !Arc::ptr_eq(&e.socket, socket) {
                    e.socket = socket.clone();
                }
                copy_packets(&mut e.packets, packets);
                e.sign = sign;
                // Out of turn, the keeper may sleep past the new turn.
                let wake = e.schedule.wakes_keeper(&next);
                e.schedule = next;
                wake
            }
            None => {
                *entry = Some(Entry {
                    name: name.to_owned(),
                    socket: socket.clone(),
                    packets: packets.to_vec(),
                    sign,
                    schedule: next,
                });
                // A new master: the keeper may be sleeping for IDLE.
                true
            }
        };
        drop(entry);
        if wake {
            self.shared.wake_for(next.due());
        }
    }

    /// Adverts the keeper sent for this instance in its turn.
    pub fn turns(&self) -> u64 {
        self.slot.turns.load(Ordering::Relaxed)
    }

    /// Adverts the keeper sent for this instance while the event loop was late.
    pub fn repeated(&self) -> u64 {
        self.slot.repeated.load(Ordering::Relaxed)
    }

    /// This instance is no longer a master, or is leaving: nothing of it is
    /// sent any more. Returns once the keeper cannot send for it (the keeper
    /// sends under the same lock).
    pub fn withdraw(&self) {
        lock(&self.slot.entry).take();
    }
}

impl Drop for KeeperSlot {
    fn drop(&mut self) {
        self.withdraw();
        lock(&self.shared.slots).retain(|s| !Arc::ptr_eq(s, &self.slot));
    }
}

/// `to` becomes a copy of `from`, in `to`'s buffers where they are big enough.
fn copy_packets(to: &mut Vec<(Vec<u8>, IpAddr)>, from: &[(Vec<u8>, IpAddr)]) {
    to.truncate(from.len());
    for (i, (bytes, dst)) in from.iter().enumerate() {
        match to.get_mut(i) {
            Some((b, d)) => {
                b.clear();
                b.extend_from_slice(bytes);
                *d = *dst;
            }
            None => to.push((bytes.clone(), *dst)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; go on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// With the default [`realtime::Scope::Keeper`], only the keeper (`tid`)
/// keeps the real-time policy: every other thread goes back to
/// `SCHED_OTHER` (see `realtime.rs` for why).
fn keep_realtime_for(tid: libc::pid_t) {
    let s = realtime::Settings::from_env();
    let rt_here = realtime::Policy::current().is_ok_and(|p| p.is_realtime());
    if s.scope != realtime::Scope::Keeper || s.rt_priority.is_none() || !rt_here {
        return;
    }
    match realtime::keep_only(tid) {
        Ok(n) => info!(
            threads = n,
            "realtime: the advert keeper alone keeps SCHED_RR"
        ),
        Err(e) => warn!(error = %e, "realtime: cannot set the other threads back to SCHED_OTHER"),
    }
}

/// The keeper thread.
fn run(shared: &Shared, cpus: &[usize]) {
    let mut logs = RateLimit::new(5, Duration::from_secs(10));
    let mut avoiding = None;
    let mut tx = TxBatch::new();
    let mut slots = lock(&shared.slots);
    while !shared.stop.load(Ordering::Relaxed) {
        let now_std = Instant::now();
        let now = shared.now();
        let mut next = now + IDLE;
        // Whether any advert is due (else the wait has no timeout).
        let mut scheduled = false;
        let mut shortest = IDLE;
        let mut stalls = vec![];
        // The pass's copies leave together, one `sendmmsg` per socket
        // and chunk ([`TxBatch`]), each under its instance's own lock
        // (held until it has left: once the event loop has withdrawn
        // it, nothing more of it leaves; the loop waits at most for
        // one chunk).
        let mut held: [Option<MutexGuard<'_, Option<Entry>>>; TX_CHUNK] =
            std::array::from_fn(|_| None);
        let mut n_held = 0;
        for slot in slots.iter() {
            let mut entry = lock(&slot.entry);
            let Some(e) = entry.as_mut() else { continue };
            let sc = &mut e.schedule;
            shortest = shortest.min(sc.interval());
            if sc.hung(now) {
                // Not counted in `next`: nothing more to send for it until
                // the event loop sends again (the wake-up floor below still
                // applies).
                continue;
            }
            let queued = if let Some(why) = sc.poll(now) {
                if let Some(sign) = &e.sign {
                    sign.resign(&mut e.packets);
                }
                for (bytes, dst) in &e.packets {
                    tx.push(&e.socket, bytes, *dst, 0);
                }
                match why {
                    Sent::Turn => slot.turns.fetch_add(1, Ordering::Relaxed),
                    Sent::Late { first } => {
                        if first {
                            let owed = sc.loop_sent() + sc.interval() * 2;
                            stalls.push((e.name.clone(), now.saturating_duration_since(owed)));
                        }
                        slot.repeated.fetch_add(1, Ordering::Relaxed)
                    }
                };
                true
            } else {
                false
            };
            next = next.min(sc.due());
            scheduled = true;
            if queued {
                held[n_held] = Some(entry);
                n_held += 1;
                if n_held == held.len() {
                    send_held(&mut tx, &mut held[..n_held]);
                    n_held = 0;
                }
            }
        }
        send_held(&mut tx, &mut held[..n_held]);
        // Every lock the pass took is released (the stall log below and the
        // wait release `slots`).
        drop(held);
        if !stalls.is_empty() {
            // One line per stall (the first advert the loop owed), at a bounded rate, and
            // without the lock: a slow log sink must not hold up the event
            // loop's next send.
            drop(slots);
            for (name, late) in stalls {
                match logs.check(&name, now_std) {
                    Verdict::Suppress => {}
                    v => warn!(
                        instance = %name,
                        late_ms = late.as_millis() as u64,
                        suppressed = match v { Verdict::LogAfterSuppressing(n) => n, _ => 0 },
                        "event loop late: the advert keeper sends the last advert every interval until it runs again"
                    ),
                }
            }
            slots = lock(&shared.slots);
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        // Many instances' adverts are spread over the interval: wake at most
        // every quarter of the shortest one, not once per instance (1000
        // instances at 100 ms: 40 wake-ups a second, not 5000). An advert is
        // then at most a quarter interval later than its due time.
        next = next.max(now + shortest / 4);
        // Sleep on a CPU the event loop is not on: the timer of this wait is
        // queued on the CPU that starts it.
        let cpu = shared.loop_cpu.load(Ordering::Relaxed);
        if avoiding != Some(cpu) {
            avoid_cpu(cpus, cpu);
            avoiding = Some(cpu);
        }
        if scheduled {
            let wait = next
                .saturating_duration_since(now)
                .saturating_sub(now_std.elapsed());
            shared
                .planned
                .store(next.as_micros().max(1), Ordering::SeqCst);
            slots = match shared.wake.wait_timeout(slots, wait) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        } else {
            // Nothing due: any advert sent wakes the keeper (`wake_for`
            // sees no planned wake-up before it), as Drop does.
            shared.planned.store(u64::MAX, Ordering::SeqCst);
            slots = match shared.wake.wait(slots) {
                Ok(g) => g,
                Err(e) => e.into_inner(),
            };
        }
        shared.planned.store(0, Ordering::SeqCst);
    }
}

/// Send the copies queued in `tx`, then release the locks of their
/// instances (`held`). Errors are the event loop's to see (a dead link
/// sends nothing either way).
fn send_held<T>(tx: &mut TxBatch, held: &mut [Option<MutexGuard<'_, T>>]) {
    tx.flush(|_, _, _| {});
    for h in held {
        h.take();
    }
}

/// The CPUs this thread may run on.
fn allowed_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect(),
        Err(_) => vec![],
    }
}

/// Restricts the calling thread to `cpus` minus `cpu` (when that leaves any).
fn avoid_cpu(cpus: &[usize], cpu: i32) {
    let mut set = nix::sched::CpuSet::new();
    let mut any = false;
    for &c in cpus {
        if c as i32 != cpu && set.set(c).is_ok() {
            any = true;
        }
    }
    if any {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

fn current_cpu() -> i32 {
    // SAFETY: sched_getcpu has no arguments and no side effects.
    unsafe { libc::sched_getcpu() }
}
